import { createHash } from "node:crypto";
import pg from "pg";
import type { Logger } from "../../runtime/logger.js";
import { silentLogger } from "../../runtime/logger.js";
import { allowsInsecurePasswordAuth, InsecurePasswordAuthError, PasswordGuardedClient } from "./password-guard.js";
import type { GuardedClientConfig } from "./password-guard.js";
import { Slots, SlotTimeoutError } from "./slots.js";
import { pgSslOptions, TlsConfigError } from "./tls.js";
import { instanceKeyString, type InstanceKey } from "./instance-key.js";
import type { SslSpec } from "./tls.js";

/** How to reach and log in to a PostgreSQL server: an instance's spec with the password resolved. */
export interface InstanceConnectionSpec {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly ssl?: SslSpec;
  /** spec.allowInsecurePasswordAuth: answer cleartext and MD5 password requests even without verified TLS. */
  readonly allowInsecurePasswordAuth?: boolean;
}

/** Limits and timeouts of every connection Kompost opens. */
export interface ConnectionSettings {
  /** Connections per instance pool, and at most as many more into tenant databases at a time. */
  readonly maxConnections: number;
  /** Time to reach the server, finish TLS and log in (also the wait for a free pooled connection). */
  readonly connectionTimeoutMillis: number;
  /** Server-side `statement_timeout`; the client gives up a little later if the server says nothing. */
  readonly statementTimeoutMillis: number;
  /** How long an unused pooled connection stays open. */
  readonly idleTimeoutMillis: number;
  /**
   * Server-side `lock_timeout`: a statement that waits longer for a lock (one a tenant holds in
   * its own database) fails fast instead of holding a connection for the whole statement timeout.
   */
  readonly lockTimeoutMillis: number;
  /**
   * After a connect to an instance found no server (Unreachable) or no answer (Timeout), further
   * connects to it fail at once with that error for this long, then one tries again: reconciles
   * of a dead server's databases do not each hold a worker for the connect timeout. 0 turns it off.
   */
  readonly unreachableCooldownMillis: number;
}

/** Small pools and short timeouts: one slow server must not hold up the others. */
export const DEFAULT_CONNECTION_SETTINGS: ConnectionSettings = {
  maxConnections: 4,
  connectionTimeoutMillis: 5_000,
  statementTimeoutMillis: 30_000,
  idleTimeoutMillis: 30_000,
  lockTimeoutMillis: 3_000,
  unreachableCooldownMillis: 5_000,
};

/**
 * The `search_path` of every admin session: only pg_catalog, then the session's own temp
 * schema (named, so that it comes last for tables too). Nothing a tenant creates in `public` or
 * in a schema of its own can then shadow a function, operator, type or table an admin statement
 * names, even where pg_catalog has no exact match for the argument types.
 */
export const ADMIN_SEARCH_PATH = "pg_catalog,pg_temp";

/** The database pools connect to: the one every server has. */
export const MAINTENANCE_DATABASE = "postgres";

/** What went wrong while connecting, as a condition reason. */
export type ConnectionFailureReason =
  | "InvalidTLSConfig"
  | "Unreachable"
  | "Timeout"
  | "TLSFailed"
  | "AuthenticationFailed"
  | "InsecurePasswordAuth"
  | "ConnectionFailed";

/** Connecting to an instance failed; the message names the instance and carries the server's or network's words. */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
  /** When a connect to the instance is tried again: the end of its connect cool-down, when one holds. */
  readonly retryAfterMs?: number;

  constructor(
    readonly reason: ConnectionFailureReason,
    message: string,
    /** The SQLSTATE when the server refused us (28P01, 28000, ...). */
    readonly sqlState?: string,
    options?: ErrorOptions & { readonly retryAfterMs?: number },
  ) {
    super(message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The options of a PasswordGuardedClient for one database of an instance, its password policy
 * included; throws TlsConfigError for a bad `ssl`.
 */
export function pgClientConfig(
  spec: InstanceConnectionSpec,
  database: string,
  settings: ConnectionSettings = DEFAULT_CONNECTION_SETTINGS,
): GuardedClientConfig {
  return {
    allowInsecurePasswordAuth: allowsInsecurePasswordAuth(spec),
    host: spec.hostname,
    port: spec.port,
    user: spec.username,
    password: spec.password,
    database,
    ssl: pgSslOptions(spec.ssl, spec.hostname),
    application_name: "kompost",
    // Startup options outrank ALTER DATABASE / ALTER ROLE ... SET, and a pooled session keeps them.
    options: adminSessionOptions(settings),
    connectionTimeoutMillis: settings.connectionTimeoutMillis,
    statement_timeout: settings.statementTimeoutMillis,
    // Later than the server's own timeout so that its clearer message usually wins; this one catches a hung server.
    query_timeout: settings.statementTimeoutMillis + settings.connectionTimeoutMillis,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/** The `-c` startup options of an admin session: the pinned search_path and the lock timeout. */
export function adminSessionOptions(settings: Pick<ConnectionSettings, "lockTimeoutMillis">): string {
  // 0 turns the timeout off, as in PostgreSQL.
  const lockTimeout = Math.max(0, Math.floor(settings.lockTimeoutMillis));
  return `-c search_path=${ADMIN_SEARCH_PATH} -c lock_timeout=${lockTimeout}`;
}

/** A digest of everything that makes up a connection, password included, so a change is seen without keeping it. */
export function specFingerprint(spec: InstanceConnectionSpec): string {
  const canonical = JSON.stringify([
    spec.hostname,
    spec.port,
    spec.username,
    spec.password,
    spec.ssl?.enabled ?? false,
    spec.ssl?.verify ?? null,
    spec.ssl?.ca ?? null,
    spec.allowInsecurePasswordAuth ?? false,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

/** Turns a failure to connect into a classed ConnectionError in short, user-facing words without the password. */
export function connectionError(
  err: unknown,
  spec: InstanceConnectionSpec,
  settings: ConnectionSettings = DEFAULT_CONNECTION_SETTINGS,
): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const where = `${spec.hostname}:${spec.port}`;
  const [reason, text, sqlState] = describeFailure(err, where, settings);
  const message = redact(text, spec.password);
  return new ConnectionError(reason, message, sqlState, message === text ? { cause: err } : undefined);
}

type Description = [reason: ConnectionFailureReason, text: string, sqlState?: string];

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);
const TIMEOUT_MESSAGES = new Set(["timeout expired", "Connection terminated due to connection timeout"]);
const POOL_BUSY_MESSAGE = "timeout exceeded when trying to connect";

function describeFailure(err: unknown, where: string, settings: ConnectionSettings): Description {
  if (err instanceof TlsConfigError) return ["InvalidTLSConfig", err.message];
  if (err instanceof InsecurePasswordAuthError) return ["InsecurePasswordAuth", `${where}: ${err.message}`];
  if (!(err instanceof Error)) return ["ConnectionFailed", `connecting to ${where} failed: ${String(err)}`];
  if (err instanceof pg.DatabaseError) {
    const reason = err.code?.startsWith("28") ? "AuthenticationFailed" : "ConnectionFailed";
    const hint = /no encryption$/.test(err.message) ? "; the server wants TLS: set spec.ssl.enabled" : "";
    return [reason, `${where}: ${err.message} (SQLSTATE ${err.code ?? "unknown"})${hint}`, err.code];
  }
  const code = (err as NodeJS.ErrnoException).code ?? "";
  if (NETWORK_CODES.has(code))
    return ["Unreachable", err.message.includes(where) ? err.message : `${where}: ${err.message}`];
  if (err.message === POOL_BUSY_MESSAGE) {
    const wait = `${settings.connectionTimeoutMillis} ms`;
    return [
      "Timeout",
      `${where}: all ${settings.maxConnections} connections were busy and none came free within ${wait}`,
    ];
  }
  if (code === "ETIMEDOUT" || TIMEOUT_MESSAGES.has(err.message)) {
    return ["Timeout", `${where}: no answer within ${settings.connectionTimeoutMillis} ms (${err.message})`];
  }
  // node ends its host-name complaint with an empty list separator: "... is not in the cert's list: ".
  if (isTlsError(err, code)) return ["TLSFailed", `${where}: TLS: ${err.message.replace(/[:\s]+$/, "")}`];
  if (err.message === "Connection terminated unexpectedly") {
    return ["ConnectionFailed", `${where}: the server closed the connection unexpectedly`];
  }
  return ["ConnectionFailed", `${where}: ${err.message}`];
}

function isTlsError(err: Error, code: string): boolean {
  return (
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL") ||
    /CERT|SELF_SIGNED|UNABLE_TO|VERIFY/.test(code) ||
    /SSL/.test(err.message) // pg: "The server does not support SSL connections"
  );
}

function redact(text: string, password: string): string {
  // Very short passwords would blank out ordinary words; no message we build contains one anyway.
  return password.length >= 4 ? text.replaceAll(password, "<redacted>") : text;
}

interface PoolEntry {
  readonly pool: pg.Pool;
  readonly fingerprint: string;
}

/** An instance's last connect found no server or no answer: connects fail at once until `until`. */
interface OpenBreaker {
  readonly fingerprint: string;
  readonly failure: unknown;
  readonly until: number;
  /** A connect is trying the server again; the others keep failing at once until it is done. */
  trying: boolean;
}

/** True for a connect failure that says the server is not there or not answering (not a busy pool, not a refusal). */
function meansNoServer(err: unknown, spec: InstanceConnectionSpec, settings: ConnectionSettings): boolean {
  if (err instanceof Error && err.message === POOL_BUSY_MESSAGE) return false;
  const reason = connectionError(err, spec, settings).reason;
  return reason === "Unreachable" || reason === "Timeout";
}

/**
 * One bounded `pg.Pool` per instance, into the maintenance database, rebuilt
 * when the instance's connection spec (password included) changes; plus
 * short-lived clients into tenant databases.
 */
export class ConnectionRegistry {
  private readonly settings: ConnectionSettings;
  private readonly logger: Logger;
  private readonly entries = new Map<string, PoolEntry>();
  /** Per instance: the tenant-database clients open at a time, bounded like the pool, whatever the number of workers. */
  private readonly tenantSlots = new Map<string, Slots>();
  private readonly retiring = new Set<Promise<void>>();
  /** Per instance: its last connect found no server, so connects fail at once for a cool-down. */
  private readonly breakers = new Map<string, OpenBreaker>();
  /** Per instance: the tick of the last sign that the server is there (a connect or probe that reached it). */
  private readonly reachedAt = new Map<string, number>();
  /** Orders connect starts and the signs that a server is there, without a clock. */
  private ticks = 0;
  private readonly reachedAgainListeners = new Set<(key: InstanceKey) => void>();

  constructor(options: { readonly settings?: Partial<ConnectionSettings>; readonly logger?: Logger } = {}) {
    this.settings = { ...DEFAULT_CONNECTION_SETTINGS, ...options.settings };
    this.logger = options.logger ?? silentLogger();
  }

  /** Runs `fn` with a pooled client of the instance's maintenance database; a client `fn` failed with is discarded. */
  async withClient<T>(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    fn: (client: pg.ClientBase) => Promise<T>,
  ): Promise<T> {
    const pool = this.poolFor(key, spec);
    const client = await this.throughBreaker(key, spec, MAINTENANCE_DATABASE, () => pool.connect());
    // A checked-out client has no listener of the pool's: without ours, a dying socket would crash the process.
    let lost: Error | undefined;
    const onError = (err: Error): void => {
      lost = err;
    };
    client.on("error", onError);
    let failed = false;
    try {
      return await fn(client);
    } catch (err) {
      failed = true; // it may be inside an aborted transaction: not fit for the next caller
      throw err;
    } finally {
      client.off("error", onError);
      client.release(lost ?? failed);
    }
  }

  /** Runs `fn` with a new client connected to `database` of the instance, ended afterwards whatever happens. */
  async withTenantClient<T>(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    database: string,
    fn: (client: pg.ClientBase) => Promise<T>,
  ): Promise<T> {
    this.failIfOpen(key, spec, database);
    const release = await this.tenantSlot(key, database, spec);
    try {
      return await this.openTenantClient(key, spec, database, fn);
    } finally {
      release();
    }
  }

  private async tenantSlot(key: InstanceKey, database: string, spec: InstanceConnectionSpec): Promise<() => void> {
    const id = instanceKeyString(key);
    const slots = this.tenantSlots.get(id) ?? new Slots(this.settings.maxConnections);
    this.tenantSlots.set(id, slots);
    try {
      return await slots.acquire(this.settings.connectionTimeoutMillis);
    } catch (err) {
      if (!(err instanceof SlotTimeoutError)) throw err;
      const message = `all ${slots.max} connections into tenant databases were busy and none came free within ${this.settings.connectionTimeoutMillis} ms`;
      throw this.failedToConnect(key, database, new ConnectionError("Timeout", message), spec);
    }
  }

  private async openTenantClient<T>(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    database: string,
    fn: (client: pg.ClientBase) => Promise<T>,
  ): Promise<T> {
    let client: pg.Client;
    try {
      client = new PasswordGuardedClient(pgClientConfig(spec, database, this.settings));
    } catch (err) {
      throw this.failedToConnect(key, database, err, spec);
    }
    client.on("error", (err) =>
      this.logger.warn("Lost PostgreSQL connection", { ...this.fields(key), database, error: err.message }),
    );
    await this.throughBreaker(key, spec, database, () => client.connect());
    try {
      return await fn(client);
    } finally {
      await endClient(client, this.settings.connectionTimeoutMillis);
    }
  }

  /** Forgets the instance's recent connect failure: a fresh connection (the instance's probe) just reached it. */
  reachable(key: InstanceKey): void {
    this.closeBreaker(key);
  }

  /**
   * Calls `listener` with an instance whose cool-down ended because its server was reached again
   * (e.g. to retry its databases now rather than at their next retry); returns the unsubscribe.
   */
  onReachedAgain(listener: (key: InstanceKey) => void): () => void {
    this.reachedAgainListeners.add(listener);
    return () => this.reachedAgainListeners.delete(listener);
  }

  /**
   * Runs `connect` unless the instance's last connect found no server within the cool-down (then
   * throws that failure again at once); one connect at a time tries again after it. A failure
   * that says no server opens the cool-down, unless the server was reached after this connect
   * began (a connect that hung from before the server came back is old news); any answer of
   * the server ends it.
   */
  private async throughBreaker<C>(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    database: string,
    connect: () => Promise<C>,
  ): Promise<C> {
    const open = this.failIfOpen(key, spec, database);
    if (open) open.trying = true;
    const startedAt = ++this.ticks;
    try {
      const connected = await connect();
      this.closeBreaker(key);
      return connected;
    } catch (err) {
      const coolingDown = this.noteFailure(key, spec, err, startedAt);
      const retryAfterMs = coolingDown ? this.settings.unreachableCooldownMillis : undefined;
      throw this.failedToConnect(key, database, err, spec, retryAfterMs);
    } finally {
      if (open) open.trying = false;
    }
  }

  /** Throws the instance's recent no-server failure while it holds; else the breaker a connect may try, if any. */
  private failIfOpen(key: InstanceKey, spec: InstanceConnectionSpec, database: string): OpenBreaker | undefined {
    const open = this.breakers.get(instanceKeyString(key));
    if (!open || open.fingerprint !== specFingerprint(spec)) return undefined;
    if (open.trying || Date.now() < open.until) {
      const cooldown = `${this.settings.unreachableCooldownMillis} ms`;
      const cause = connectionError(open.failure, spec, this.settings);
      const message = `${cause.message}; a connect within the last ${cooldown} failed like this, so Kompost waits that long before trying again`;
      // While one connect tries the server again, when it is done is not known yet.
      const retryAfterMs = open.trying ? undefined : Math.max(1, open.until - Date.now());
      throw this.failedToConnect(key, database, new ConnectionError(cause.reason, message), spec, retryAfterMs);
    }
    return open;
  }

  /** Opens the cool-down for a failure that says no server (true then), or ends it for an answer of the server. */
  private noteFailure(key: InstanceKey, spec: InstanceConnectionSpec, err: unknown, startedAt: number): boolean {
    const id = instanceKeyString(key);
    const cooldown = this.settings.unreachableCooldownMillis;
    if (cooldown > 0 && meansNoServer(err, spec, this.settings)) {
      if ((this.reachedAt.get(id) ?? 0) > startedAt) return false;
      const until = Date.now() + cooldown;
      this.breakers.set(id, { fingerprint: specFingerprint(spec), failure: err, until, trying: false });
      return true;
    }
    // The server answered, if only to refuse (a busy pool says nothing about it).
    if (!(err instanceof Error && err.message === POOL_BUSY_MESSAGE)) this.closeBreaker(key);
    return false;
  }

  /** The server is there: connects go ahead, and those that began before now cannot open the breaker again. */
  private closeBreaker(key: InstanceKey): void {
    const id = instanceKeyString(key);
    const wasOpen = this.breakers.delete(id);
    this.reachedAt.set(id, ++this.ticks);
    if (wasOpen) for (const listener of this.reachedAgainListeners) listener(key);
  }

  /** True while a pool for this instance is open. */
  has(key: InstanceKey): boolean {
    return this.entries.has(instanceKeyString(key));
  }

  /** Closes the instance's pool (e.g. when the instance is deleted); waits for clients in use to come back. */
  async close(key: InstanceKey): Promise<void> {
    const id = instanceKeyString(key);
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.tenantSlots.delete(id);
    this.breakers.delete(id);
    this.reachedAt.delete(id);
    await entry.pool.end();
    this.logger.info("Closed PostgreSQL connection pool", this.fields(key));
  }

  /** Closes every pool, including those still draining after a rebuild. */
  async closeAll(): Promise<void> {
    const pools = [...this.entries.values()].map((entry) => entry.pool.end());
    this.entries.clear();
    await Promise.all([...pools, ...this.retiring]);
    if (pools.length > 0) this.logger.info("Closed PostgreSQL connection pools", { pools: pools.length });
  }

  private poolFor(key: InstanceKey, spec: InstanceConnectionSpec): pg.Pool {
    const id = instanceKeyString(key);
    const fingerprint = specFingerprint(spec);
    const current = this.entries.get(id);
    if (current?.fingerprint === fingerprint) return current.pool;
    let config: GuardedClientConfig;
    try {
      config = pgClientConfig(spec, MAINTENANCE_DATABASE, this.settings);
    } catch (err) {
      throw this.failedToConnect(key, MAINTENANCE_DATABASE, err, spec);
    }
    const pool = new pg.Pool({
      ...config,
      Client: PasswordGuardedClient,
      max: this.settings.maxConnections,
      idleTimeoutMillis: this.settings.idleTimeoutMillis,
    });
    // pg drops the broken client by itself; without a listener the 'error' event would kill the process.
    pool.on("error", (err) => {
      this.logger.warn("Lost idle PostgreSQL connection", { ...this.fields(key), error: err.message });
    });
    this.entries.set(id, { pool, fingerprint });
    if (current) {
      this.logger.info("Rebuilt PostgreSQL connection pool after a connection change", this.fields(key));
      this.retire(current.pool, key);
    }
    return pool;
  }

  private retire(pool: pg.Pool, key: InstanceKey): void {
    const ended: Promise<void> = pool
      .end()
      .catch((err: unknown) => {
        this.logger.warn("Failed to close a replaced PostgreSQL pool", { ...this.fields(key), error: String(err) });
      })
      .finally(() => this.retiring.delete(ended));
    this.retiring.add(ended);
  }

  private failedToConnect(
    key: InstanceKey,
    database: string,
    err: unknown,
    spec: InstanceConnectionSpec,
    retryAfterMs?: number,
  ): ConnectionError {
    const cause = connectionError(err, spec, this.settings);
    return new ConnectionError(
      cause.reason,
      `while connecting to database "${database}" of ${instanceKeyString(key)} as "${spec.username}": ${cause.message}`,
      cause.sqlState,
      { cause, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
    );
  }

  private fields(key: InstanceKey): Record<string, string> {
    return key.kind === "PostgresInstance"
      ? { kind: key.kind, namespace: key.namespace, name: key.name }
      : { kind: key.kind, name: key.name };
  }
}

/** Ends a client, but destroys its socket if a dead peer keeps the goodbye from finishing. */
async function endClient(client: pg.Client, timeoutMillis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMillis);
  });
  try {
    const outcome = await Promise.race([client.end().catch(() => undefined), gaveUp]);
    if (outcome === "timeout") client.connection.stream.destroy();
  } finally {
    clearTimeout(timer);
  }
}
