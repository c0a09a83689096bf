import type { InstanceConnectionSpec } from "../../services/postgres/connection-spec.js";
import { instanceKeyString, type InstanceKey } from "../../services/postgres/instance-key.js";

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
  /** Instances checked since this process started, usable or not. */
  private readonly checked = new Set<string>();
  private readonly listeners = new Set<(key: InstanceKey) => void>();

  /** Marks the instance usable with these details (replacing older ones). */
  publish(instance: UsableInstance): void {
    const id = instanceKeyString(instance.key);
    this.checked.add(id);
    this.usable.set(id, instance);
    this.notify(instance.key);
  }

  /** Marks the instance not usable (not Ready, being deleted, or gone); its first check since the start is news too. */
  withdraw(key: InstanceKey): void {
    const id = instanceKeyString(key);
    const firstCheck = !this.checked.has(id);
    this.checked.add(id);
    if (this.usable.delete(id) || firstCheck) this.notify(key);
  }

  /**
   * True once the instance controllers checked the instance since this process started (it was
   * published or withdrawn). Until then "not usable" only means "not known yet": after a restart,
   * a database that was Ready waits for the check instead of reporting its instance not Ready.
   */
  hasChecked(key: InstanceKey): boolean {
    return this.checked.has(instanceKeyString(key));
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
