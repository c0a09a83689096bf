/**
 * The connections of the running operator: one bounded pool per instance into its maintenance
 * database, a bounded number of one-off clients into tenant databases, and the cool-down after
 * a connect found no server.
 */
import type pg from "pg";
import type { Logger } from "../../runtime/logger.js";
import { silentLogger } from "../../runtime/logger.js";
import { ClientPool, withSingleClient } from "./client-lifecycle.js";
import { ConnectionError, connectionError } from "./connection-failures.js";
import type { ConnectionSettings, InstanceConnectionSpec } from "./connection-spec.js";
import {
  DEFAULT_CONNECTION_SETTINGS,
  MAINTENANCE_DATABASE,
  pgClientConfig,
  specFingerprint,
} from "./connection-spec.js";
import { instanceKeyString, type InstanceKey } from "./instance-key.js";
import type { GuardedClientConfig } from "./password-guard.js";
import { Slots, SlotTimeoutError } from "./slots.js";
import { UnreachableCooldown } from "./unreachable-cooldown.js";

interface PoolEntry {
  readonly pool: ClientPool;
  readonly fingerprint: string;
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
  private readonly cooldown: UnreachableCooldown;

  constructor(options: { readonly settings?: Partial<ConnectionSettings>; readonly logger?: Logger } = {}) {
    this.settings = { ...DEFAULT_CONNECTION_SETTINGS, ...options.settings };
    this.logger = options.logger ?? silentLogger();
    this.cooldown = new UnreachableCooldown(this.settings);
  }

  /** Runs `fn` with a pooled client of the instance's maintenance database; a client `fn` failed with is discarded. */
  async withClient<T>(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    fn: (client: pg.ClientBase) => Promise<T>,
  ): Promise<T> {
    const pool = this.poolFor(key, spec);
    const client = await this.throughCooldown(key, spec, MAINTENANCE_DATABASE, () => pool.connect());
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
    this.failIfCooling(key, spec, database);
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
    let config: GuardedClientConfig;
    try {
      config = pgClientConfig(spec, database, this.settings);
    } catch (err) {
      throw this.failedToConnect(key, database, err, spec);
    }
    return withSingleClient(config, fn, {
      closeTimeoutMillis: this.settings.connectionTimeoutMillis,
      onLost: (err) =>
        this.logger.warn("Lost PostgreSQL connection", { ...this.fields(key), database, error: err.message }),
      connect: (connect) => this.throughCooldown(key, spec, database, connect),
    });
  }

  /** Forgets the instance's recent connect failure: a fresh connection (the instance's probe) just reached it. */
  reachable(key: InstanceKey): void {
    this.cooldown.reached(key);
  }

  /**
   * Calls `listener` with an instance whose cool-down ended because its server was reached again
   * (e.g. to retry its databases now rather than at their next retry); returns the unsubscribe.
   */
  onReachedAgain(listener: (key: InstanceKey) => void): () => void {
    return this.cooldown.onReachedAgain(listener);
  }

  /** Connects through the instance's cool-down (see UnreachableCooldown.through), naming the database in a failure. */
  private async throughCooldown<C>(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    database: string,
    connect: () => Promise<C>,
  ): Promise<C> {
    try {
      return await this.cooldown.through(key, spec, connect);
    } catch (err) {
      throw this.failedToConnect(key, database, err, spec);
    }
  }

  /** Throws the instance's recent no-server failure, naming the database, while its cool-down holds. */
  private failIfCooling(key: InstanceKey, spec: InstanceConnectionSpec, database: string): void {
    try {
      this.cooldown.check(key, spec);
    } catch (err) {
      throw this.failedToConnect(key, database, err, spec);
    }
  }

  /** True while a pool for this instance is open. */
  has(key: InstanceKey): boolean {
    return this.entries.has(instanceKeyString(key));
  }

  /**
   * Closes the instance's pool (e.g. when the instance is deleted): waits up to the connect
   * timeout for clients in use to come back and for the server's goodbye, then cuts what is left.
   */
  async close(key: InstanceKey): Promise<void> {
    const id = instanceKeyString(key);
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.tenantSlots.delete(id);
    this.cooldown.forget(key);
    await entry.pool.close(this.settings.connectionTimeoutMillis);
    this.logger.info("Closed PostgreSQL connection pool", this.fields(key));
  }

  /** Closes every pool like `close`, including those still draining after a rebuild. */
  async closeAll(): Promise<void> {
    const pools = [...this.entries.values()].map((entry) => entry.pool.close(this.settings.connectionTimeoutMillis));
    this.entries.clear();
    await Promise.all([...pools, ...this.retiring]);
    if (pools.length > 0) this.logger.info("Closed PostgreSQL connection pools", { pools: pools.length });
  }

  private poolFor(key: InstanceKey, spec: InstanceConnectionSpec): ClientPool {
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
    const pool = new ClientPool(
      { ...config, max: this.settings.maxConnections, idleTimeoutMillis: this.settings.idleTimeoutMillis },
      // pg drops the broken client by itself; without a listener the 'error' event would kill the process.
      (err) => this.logger.warn("Lost idle PostgreSQL connection", { ...this.fields(key), error: err.message }),
    );
    this.entries.set(id, { pool, fingerprint });
    if (current) {
      this.logger.info("Rebuilt PostgreSQL connection pool after a connection change", this.fields(key));
      this.retire(current.pool);
    }
    return pool;
  }

  /** Closes a replaced pool in the background, giving a statement in flight on it the time it may run. */
  private retire(pool: ClientPool): void {
    const { statementTimeoutMillis, connectionTimeoutMillis } = this.settings;
    const ended: Promise<void> = pool
      .close(statementTimeoutMillis + 2 * connectionTimeoutMillis)
      .finally(() => this.retiring.delete(ended));
    this.retiring.add(ended);
  }

  private failedToConnect(
    key: InstanceKey,
    database: string,
    err: unknown,
    spec: InstanceConnectionSpec,
  ): ConnectionError {
    const cause = connectionError(err, spec, this.settings);
    const { retryAfterMs } = cause;
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
