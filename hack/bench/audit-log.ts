/** Reads kube-apiserver's audit log (JSON lines, level Metadata): one request per audit ID. */

/** One request to the API server. */
export interface ApiRequest {
  readonly user: string;
  /** get, list, watch, create, update, patch, delete, deletecollection, or an HTTP verb for a non-resource URL. */
  readonly verb: string;
  /** "secrets", "postgresdatabases/status", "events", or the path of a non-resource URL such as "/healthz". */
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  /** The HTTP status, 0 while a watch is still open. */
  readonly code: number;
  /** requestReceivedTimestamp, milliseconds since the epoch. */
  readonly at: number;
}

/** The verbs that change something. */
export const WRITE_VERBS: ReadonlySet<string> = new Set(["create", "update", "patch", "delete", "deletecollection"]);

interface AuditEvent {
  readonly auditID?: string;
  readonly stage?: string;
  readonly verb?: string;
  readonly requestURI?: string;
  readonly user?: { readonly username?: string };
  readonly objectRef?: {
    readonly resource?: string;
    readonly subresource?: string;
    readonly namespace?: string;
    readonly name?: string;
  };
  readonly responseStatus?: { readonly code?: number };
  readonly requestReceivedTimestamp?: string;
}

/**
 * The requests in an audit log text, in the order they were received. A watch logs ResponseStarted
 * when it opens and ResponseComplete when it ends: it counts once. Lines that are not JSON (a line
 * cut at the end of the file) are skipped.
 */
export function parseAuditLog(text: string): ApiRequest[] {
  const byId = new Map<string, ApiRequest>();
  for (const line of text.split("\n")) {
    const event = parseLine(line);
    if (!event?.auditID || event.stage === "RequestReceived") continue;
    byId.set(event.auditID, toRequest(event));
  }
  return [...byId.values()].sort((a, b) => a.at - b.at);
}

function parseLine(line: string): AuditEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as AuditEvent;
  } catch {
    return undefined;
  }
}

function toRequest(event: AuditEvent): ApiRequest {
  const ref = event.objectRef;
  const resource = ref?.resource
    ? ref.subresource
      ? `${ref.resource}/${ref.subresource}`
      : ref.resource
    : (event.requestURI ?? "").split("?")[0]!;
  return {
    user: event.user?.username ?? "",
    verb: event.verb ?? "",
    resource,
    namespace: ref?.namespace ?? "",
    name: ref?.name ?? "",
    code: event.stage === "ResponseComplete" ? (event.responseStatus?.code ?? 0) : 0,
    at: Date.parse(event.requestReceivedTimestamp ?? "") || 0,
  };
}

/** Request counts keyed "verb resource" (e.g. "patch postgresdatabases/status"), most frequent first. */
export function countByVerbAndResource(requests: readonly ApiRequest[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const request of requests) {
    const key = `${request.verb} ${request.resource}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
