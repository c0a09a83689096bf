import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ApiError } from "./errors.js";
import type { ClusterAccess } from "./kube-config.js";
import { restClientRequestsTotal } from "./metrics.js";
import { collectionPath, keyOf, objectPath, type ObjectKey, type ResourceKind } from "./resource-kind.js";

/** Filters of a LIST or WATCH. */
export interface Selectors {
  /** Only this namespace; absent: every namespace (for namespaced kinds). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

/** What a LIST or WATCH returns of each object. */
export interface Projection {
  /**
   * Only each object's metadata (the API server's PartialObjectMetadata): enough to map a
   * change to reconcile requests, and far less to transfer and cache for kinds such as Secrets.
   */
  readonly metadataOnly?: boolean;
}

/** Options of `KubeClient.list`. */
export interface ListOptions extends Selectors, Projection {
  /** Page size; with `continue`, pages through a large collection. */
  readonly limit?: number;
  readonly continue?: string;
  /** Abandons the request when aborted (it then rejects). */
  readonly signal?: AbortSignal;
}

/** One page of a LIST. */
export interface ListResult<T> {
  readonly items: T[];
  /** The collection's resourceVersion: WATCH from here to miss nothing. */
  readonly resourceVersion: string;
  /** Token of the next page, when there is one. */
  readonly continue?: string;
}

/** One event of a WATCH stream. */
export interface WatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: KubernetesObject & { readonly code?: number; readonly reason?: string; readonly message?: string };
}

/** Options of `KubeClient.watch`. */
export interface WatchOptions extends Selectors, Projection {
  readonly resourceVersion: string;
  /** Server-side timeout: the server ends the stream after this many seconds. */
  readonly timeoutSeconds: number;
  /** Ends the watch (the promise resolves) when aborted. */
  readonly signal: AbortSignal;
  /** Fails the watch when no byte arrived for this long (a dead connection); default timeoutSeconds + 30 s. */
  readonly idleTimeoutMs?: number;
}

/** Patch content types, named like kubectl's `--type`. */
export type PatchType = "merge" | "json" | "strategic" | "apply";

/** Options of `KubeClient.patch`. */
export interface PatchOptions {
  /** Default "merge" (RFC 7386). */
  readonly type?: PatchType;
  /** e.g. "status" to patch the status subresource. */
  readonly subresource?: string;
  readonly fieldManager?: string;
  /** Only for "apply": take over fields owned by other managers. */
  readonly force?: boolean;
}

/** Options of a raw request. */
export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Sent as Accept; default "application/json". */
  readonly accept?: string;
  /** Abandons the request when aborted (it then rejects). */
  readonly signal?: AbortSignal;
}

/** Options of a client. */
export interface KubeClientOptions {
  /** A request that stays silent this long fails; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Sent as User-Agent; default "kompost". */
  readonly userAgent?: string;
  /** A kept-alive connection unused this long is closed; default 30 s (below the usual 60–90 s of servers and balancers). */
  readonly idleSocketTimeoutMs?: number;
}

/** Accept headers asking for PartialObjectMetadata, falling back to whole objects (as client-go's metadata client does). */
const METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const METADATA_WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

const patchContentTypes: Readonly<Record<PatchType, string>> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

/**
 * A small JSON REST client for any kind, using a ClusterAccess (runtime/kube-config.ts, or a
 * KubeConfig of @kubernetes/client-node) for the server, TLS and credentials. It exists
 * because the runtime needs what the generated clients make awkward: subresources and patch types for any kind, watches that can be
 * aborted at any moment and fail when silent, and one error type with the HTTP status.
 */
export class KubeClient {
  private readonly requestTimeoutMs: number;
  private readonly userAgent: string;
  private readonly idleSocketTimeoutMs: number;
  /** The keep-alive agent of the current TLS material (CA, client certificate, server name), and its fingerprint. */
  private transport: { readonly fingerprint: string; readonly agent: http.Agent } | undefined;

  constructor(
    /** The configuration whose current context is used. */
    readonly kubeConfig: ClusterAccess,
    options: KubeClientOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? "kompost";
    this.idleSocketTimeoutMs = options.idleSocketTimeoutMs ?? 30_000;
  }

  /** Reads one object; throws an ApiError (404 when it does not exist). */
  get<T extends KubernetesObject>(kind: ResourceKind, key: ObjectKey): Promise<T> {
    return this.request<T>("GET", objectPath(kind, key));
  }

  /** Lists one page of a collection. */
  async list<T extends KubernetesObject>(kind: ResourceKind, options: ListOptions = {}): Promise<ListResult<T>> {
    const list = await this.request<{ items?: T[]; metadata?: { resourceVersion?: string; continue?: string } }>(
      "GET",
      collectionPath(kind, options.namespace),
      {
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          limit: options.limit,
          continue: options.continue,
        },
        ...(options.metadataOnly ? { accept: METADATA_LIST_ACCEPT } : {}),
        signal: options.signal,
      },
    );
    const next = list.metadata?.continue;
    return {
      items: list.items ?? [],
      resourceVersion: list.metadata?.resourceVersion ?? "",
      ...(next ? { continue: next } : {}),
    };
  }

  /** Creates an object in the namespace of its metadata. */
  create<T extends KubernetesObject>(kind: ResourceKind, obj: T, options: { fieldManager?: string } = {}): Promise<T> {
    return this.request<T>("POST", collectionPath(kind, obj.metadata?.namespace), {
      body: obj,
      query: { fieldManager: options.fieldManager },
    });
  }

  /** Replaces an object (PUT); its metadata.resourceVersion, when set, makes the write conditional. */
  replace<T extends KubernetesObject>(kind: ResourceKind, obj: T, subresource?: string): Promise<T> {
    return this.request<T>("PUT", objectPath(kind, keyOf(obj), subresource), { body: obj });
  }

  /** Patches an object or one of its subresources; a `metadata.resourceVersion` in a merge patch makes it conditional. */
  patch<T extends KubernetesObject>(
    kind: ResourceKind,
    key: ObjectKey,
    patch: unknown,
    options: PatchOptions = {},
  ): Promise<T> {
    const type = options.type ?? "merge";
    return this.request<T>("PATCH", objectPath(kind, key, options.subresource), {
      body: patch,
      contentType: patchContentTypes[type],
      query: { fieldManager: options.fieldManager, force: options.force },
    });
  }

  /** Deletes an object; throws an ApiError (404 when it does not exist). */
  async delete(kind: ResourceKind, key: ObjectKey, options: { propagationPolicy?: string } = {}): Promise<void> {
    await this.request("DELETE", objectPath(kind, key), { query: { propagationPolicy: options.propagationPolicy } });
  }

  /** Sends one request and returns its JSON body; a non-2xx answer throws an ApiError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    try {
      return await this.send<T>(method, path, options);
    } catch (err) {
      // A kept-alive connection the server closed just as it was reused: the request never
      // reached the server, so sending it once more on a new connection is safe (Node's advice).
      if (!(err instanceof StaleConnectionError)) throw err;
      return this.send<T>(method, path, options);
    }
  }

  /** Closes the kept-alive connections; requests after this open new ones. */
  close(): void {
    this.transport?.agent.destroy();
    this.transport = undefined;
  }

  private async send<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const request = await this.open(
      method,
      path,
      options.query,
      {
        ...(body !== undefined ? { "Content-Type": options.contentType ?? "application/json" } : {}),
        ...(options.accept ? { Accept: options.accept } : {}),
      },
      options.signal,
    );
    return new Promise<T>((resolve, reject) => {
      let answered = false;
      request.setTimeout(this.requestTimeoutMs, () =>
        request.destroy(new Error(`no answer within ${this.requestTimeoutMs} ms`)),
      );
      request.on("error", (err: NodeJS.ErrnoException) => {
        if (!answered) restClientRequestsTotal.inc({ method, code: "<error>" });
        if (!answered && request.reusedSocket && err.code === "ECONNRESET") reject(new StaleConnectionError(err));
        else reject(networkError(method, path, err));
      });
      request.on("response", (response) => {
        answered = true;
        const status = response.statusCode ?? 0;
        restClientRequestsTotal.inc({ method, code: String(status) });
        readBody(response)
          .then((text) => {
            if (status < 200 || status >= 300) return reject(apiError(method, path, status, text));
            resolve((text === "" ? undefined : JSON.parse(text)) as T);
          })
          .catch((err: unknown) => reject(networkError(method, path, err)));
      });
      request.end(body);
    });
  }

  /**
   * Watches a collection from `resourceVersion` with bookmarks, calling `onEvent` for each
   * event. Resolves when the server ends the stream or `signal` aborts; rejects on an HTTP
   * error, a broken or silent connection, or when `onEvent` throws (which ends the watch).
   */
  async watch(kind: ResourceKind, options: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
    const path = collectionPath(kind, options.namespace);
    if (options.signal.aborted) return;
    const request = await this.open(
      "GET",
      path,
      {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: options.resourceVersion,
        timeoutSeconds: options.timeoutSeconds,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      options.metadataOnly ? { Accept: METADATA_WATCH_ACCEPT } : {},
    );
    const idleMs = options.idleTimeoutMs ?? (options.timeoutSeconds + 30) * 1000;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        options.signal.removeEventListener("abort", abort);
        request.destroy();
        if (err === undefined || options.signal.aborted) resolve();
        else reject(err);
      };
      const abort = (): void => finish();
      options.signal.addEventListener("abort", abort, { once: true });
      request.setTimeout(idleMs, () => finish(new Error(`watch of ${path} was silent for ${idleMs} ms`)));
      request.on("error", (err) => finish(networkError("WATCH", path, err)));
      request.on("response", (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          readBody(response).then(
            (text) => finish(apiError("WATCH", path, status, text)),
            (err: unknown) => finish(networkError("WATCH", path, err)),
          );
          return;
        }
        let buffer = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          buffer += chunk;
          let newline: number;
          while (!settled && (newline = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (line === "") continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (err) {
              return finish(err instanceof Error ? err : new Error(String(err)));
            }
          }
        });
        response.on("end", () => finish());
        response.on("error", (err) => finish(networkError("WATCH", path, err)));
        response.on("close", () => {
          if (!response.complete) finish(new Error(`watch of ${path} was cut off by the server or the network`));
        });
      });
      request.end();
    });
  }

  private async open(
    method: string,
    path: string,
    query: RequestOptions["query"],
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<http.ClientRequest> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster: set a current context");
    const url = new URL(cluster.server.replace(/\/+$/, "") + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const options: https.RequestOptions = {};
    // Credentials are applied per request (a rotated token file or an exec plugin's new token
    // takes effect at once); the connection is not: see agentFor.
    await this.kubeConfig.applyToHTTPSOptions(options);
    options.agent = this.agentFor(url, options, cluster.proxyUrl);
    options.method = method;
    if (signal) options.signal = signal;
    options.headers = { ...options.headers, Accept: "application/json", "User-Agent": this.userAgent, ...headers };
    return url.protocol === "http:" ? http.request(url, options) : https.request(url, options);
  }

  /**
   * One keep-alive agent for as long as the TLS material stays the same, so requests reuse
   * connections and TLS sessions instead of a handshake (and a new SecureContext) each. New
   * material (a rotated CA or client certificate, another server) gets a new agent; the old
   * one's idle connections are closed, and those in use close once idle.
   */
  private agentFor(url: URL, options: https.RequestOptions, proxyUrl: string | undefined): http.Agent {
    const fingerprint = tlsFingerprint(url, options, proxyUrl);
    if (this.transport?.fingerprint === fingerprint) return this.transport.agent;
    const previous = this.transport?.agent;
    const agent = proxyUrl
      ? (options.agent as http.Agent) // the KubeConfig's proxy agent, kept for this material
      : url.protocol === "http:"
        ? new http.Agent({ keepAlive: true, timeout: this.idleSocketTimeoutMs })
        : new https.Agent({ ...tlsOptionsOf(options), keepAlive: true, timeout: this.idleSocketTimeoutMs });
    this.transport = { fingerprint, agent };
    if (previous) closeIdle(previous);
    return agent;
  }
}

/** A request failed because the kept-alive connection it reused had just been closed by the server. */
class StaleConnectionError extends Error {
  constructor(cause: Error) {
    super(`a kept-alive connection was closed by the server: ${cause.message}`, { cause });
  }
}

/** The TLS settings the KubeConfig put on `options`: what an agent's connections are made with. */
function tlsOptionsOf(options: https.RequestOptions): https.AgentOptions {
  const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = options;
  return Object.fromEntries(
    Object.entries({ ca, cert, key, pfx, passphrase, rejectUnauthorized, servername }).filter(
      ([, v]) => v !== undefined,
    ),
  );
}

/** A digest of where and how connections are made: equal digests may share connections. */
function tlsFingerprint(url: URL, options: https.RequestOptions, proxyUrl: string | undefined): string {
  const hash = createHash("sha256").update(JSON.stringify([url.origin, proxyUrl ?? ""]));
  for (const [name, value] of Object.entries(tlsOptionsOf(options))) {
    hash.update(`\0${name}=`);
    hash.update(typeof value === "string" || Buffer.isBuffer(value) ? value : JSON.stringify(value));
  }
  return hash.digest("hex");
}

/** Closes an agent's idle connections; connections in use close when they become idle (the agent's timeout). */
function closeIdle(agent: http.Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}

function readBody(response: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", reject);
  });
}

function apiError(method: string, path: string, statusCode: number, body: string): ApiError {
  let reason = "";
  let message = body.trim();
  try {
    const status = JSON.parse(body) as { reason?: string; message?: string };
    reason = status.reason ?? "";
    message = status.message ?? message;
  } catch {
    // Not a Status object (e.g. a proxy's HTML page): keep the raw text.
  }
  return new ApiError(`${method} ${path}: ${statusCode} ${reason || "error"}: ${message}`, statusCode, reason);
}

function networkError(method: string, path: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${method} ${path}: ${message}`, { cause: err });
}
