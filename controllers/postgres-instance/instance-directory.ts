import type { InstanceConnectionSpec, InstanceKey } from "../../services/postgres/connections.js";
import { instanceKeyString } from "../../services/postgres/connections.js";

/** An instance the database controller may use: reachable with these credentials, and privileged enough. */
export interface UsableInstance {
  readonly key: InstanceKey;
  /** Host, port, admin user, resolved password and TLS settings. */
  readonly spec: InstanceConnectionSpec;
  /** The admin is a superuser (may read pg_authid); otherwise it has CREATEDB and CREATEROLE. */
  readonly superuser: boolean;
  /** The server's major version, e.g. 15. */
  readonly serverMajorVersion: number;
}

/**
 * What the instance controllers learned, for the database controller: the instances that are
 * Ready right now, with their resolved credentials. The instance controllers publish an
 * instance when all its conditions are True and withdraw it otherwise; the database
 * controller only reads. Both run in the same process, as the leader.
 */
export class InstanceDirectory {
  private readonly usable = new Map<string, UsableInstance>();
  private readonly listeners = new Set<(key: InstanceKey) => void>();

  /** Marks the instance usable with these details (replacing older ones). */
  publish(instance: UsableInstance): void {
    this.usable.set(instanceKeyString(instance.key), instance);
    this.notify(instance.key);
  }

  /** Marks the instance not usable (not Ready, being deleted, or gone). */
  withdraw(key: InstanceKey): void {
    if (this.usable.delete(instanceKeyString(key))) this.notify(key);
  }

  /** The instance's details while it is usable. */
  get(key: InstanceKey): UsableInstance | undefined {
    return this.usable.get(instanceKeyString(key));
  }

  /** Calls `listener` whenever an instance is published or withdrawn; returns the unsubscribe function. */
  onChange(listener: (key: InstanceKey) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(key: InstanceKey): void {
    for (const listener of this.listeners) listener(key);
  }
}
