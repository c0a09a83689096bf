/** An error that retrying cannot fix (e.g. an invalid spec): the work queue logs it and does not retry the key. */
export class TerminalError extends Error {
  override readonly name = "TerminalError";

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
  }
}

/**
 * What `reconcile` may return: nothing (done) or a request to run again after a delay; with
 * `retry`, the reconcile could not finish (e.g. its server did not answer) and runs again as a
 * retry after a failure, in a retry lane, not on a worker new work needs (see GroupQueue).
 */
export type ReconcileResult = void | undefined | { readonly requeueAfterMs: number; readonly retry?: boolean };

/** A non-2xx answer of the Kubernetes API server, with the HTTP status and the `reason` of its Status body. */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    message: string,
    /** HTTP status code, e.g. 404, 409, 410. */
    readonly statusCode: number,
    /** The Status `reason`, e.g. "NotFound", "Conflict", "Expired"; empty when the body had none. */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** True when `err` is an API error with the given HTTP status code. */
export function hasStatusCode(err: unknown, statusCode: number): boolean {
  return err instanceof ApiError && err.statusCode === statusCode;
}

/** True for 404 Not Found. */
export function isNotFound(err: unknown): boolean {
  return hasStatusCode(err, 404);
}

/** True for 409 Conflict (a stale resourceVersion, or AlreadyExists on create). */
export function isConflict(err: unknown): boolean {
  return hasStatusCode(err, 409);
}

/** True for 410 Gone (the resourceVersion of a list or watch is too old: relist). */
export function isGone(err: unknown): boolean {
  return hasStatusCode(err, 410);
}

/** The message of any thrown value, for logs and status messages. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Log fields for an error: its message and, when there is one, its stack. */
export function errorFields(err: unknown): { readonly error: string; readonly stack?: string } {
  if (isClientNodeApiException(err)) return { error: `HTTP ${err.code}: ${bodyMessage(err.body)}` };
  if (err instanceof Error) return { error: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { error: String(err) };
}

/**
 * An ApiException of @kubernetes/client-node's generated clients (which tests and tools use),
 * known by its shape: importing the class would load that whole package into the operator.
 */
function isClientNodeApiException(err: unknown): err is Error & { readonly code: number; readonly body: unknown } {
  return (
    err instanceof Error &&
    err.constructor.name === "ApiException" &&
    typeof (err as { code?: unknown }).code === "number"
  );
}

function bodyMessage(body: unknown): string {
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === "string") return parsed.message;
    } catch {
      return body;
    }
  }
  return JSON.stringify(body);
}
