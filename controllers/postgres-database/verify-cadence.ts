/**
 * When a Ready PostgresDatabase's checks inside its own database (grant set, default privileges,
 * extensions, and a limited admin's login probe) are due: each needs a client of its own in the
 * tenant database, a new TLS and SCRAM handshake. They run when the spec changed (generation),
 * or its labels or annotations (so `kubectl annotate` asks for a check), after a failure, when the combined read found drift (the server decides that), and otherwise
 * at most once per --database-verify-period. Kept in memory per key, never in status; after a
 * start, each key's first check falls at a random point of the period, so a restart with many
 * databases opens no burst of connections.
 */
import { createHash } from "node:crypto";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { isConditionTrue, READY } from "../../runtime/conditions.js";
import { metadataDigestOf } from "../../runtime/slim-object.js";

/** A password's digest: the cadence remembers which password it saw in sync, never the password. */
function digest(password: string): string {
  return createHash("sha256").update(password).digest("base64");
}

interface Checked {
  /** The generation, labels and annotations the last passing check saw (see versionOf). */
  readonly version: string | undefined;
  /** When the next check is due (ms since the epoch). */
  readonly dueAtMs: number;
}

/** Options of the cadence. */
export interface VerifyCadenceOptions {
  /** How long a passing check holds; 0 makes every reconcile check. */
  readonly periodMs: number;
  /** A random number in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/** The in-database checks' cadence of the databases one controller reconciles (see the module comment). */
export class VerifyCadence {
  private readonly checked = new Map<string, Checked>();
  /** Per key and role: the digest of the password last seen in sync on the server. */
  private readonly passwords = new Map<string, Map<string, string>>();
  private readonly random: () => number;

  constructor(private readonly options: VerifyCadenceOptions) {
    this.random = options.random ?? Math.random;
  }

  /**
   * Whether the reconcile of `db` (at `nowMs`) must run the in-database checks. A database this
   * process has not checked yet is due unless its status shows it Ready at its generation; then
   * its first check is scheduled at a random point of the coming period.
   */
  due(key: string, db: PostgresDatabase, nowMs: number): boolean {
    if (this.options.periodMs <= 0) return true;
    const version = versionOf(db);
    const known = this.checked.get(key);
    if (known === undefined) {
      if (!verifiedAt(db)) return true;
      this.checked.set(key, { version, dueAtMs: nowMs + this.random() * this.options.periodMs });
      return false;
    }
    return known.version !== version || nowMs >= known.dueAtMs;
  }

  /** The checks ran and passed for `db` at `nowMs`: the next are due one period later (sooner on a change). */
  passed(key: string, db: PostgresDatabase, nowMs: number): void {
    this.checked.set(key, { version: versionOf(db), dueAtMs: nowMs + this.options.periodMs });
  }

  /** A reconcile of the key failed: its next one runs every check. */
  failed(key: string): void {
    this.checked.set(key, { version: undefined, dueAtMs: 0 });
  }

  /** The role's password was seen in sync with `password` (set, or checked) in a reconcile of the key. */
  passwordInSync(key: string, role: string, password: string): void {
    const roles = this.passwords.get(key) ?? new Map<string, string>();
    this.passwords.set(key, roles.set(role, digest(password)));
  }

  /**
   * Whether this process has not seen `password` in sync for the role: an edited DB_PASS, or one
   * written by a process that died before ALTER ROLE (after a start, every password is unconfirmed).
   * Then it is checked at once, even with a limited admin, whose check is a login.
   */
  passwordUnconfirmed(key: string, role: string, password: string): boolean {
    return this.passwords.get(key)?.get(role) !== digest(password);
  }

  /** Forgets a database that is gone. */
  forget(key: string): void {
    this.checked.delete(key);
    this.passwords.delete(key);
  }

  /** When the key's next check is due (ms since the epoch), for tests; undefined when not known. */
  dueAt(key: string): number | undefined {
    return this.checked.get(key)?.dueAtMs;
  }
}

/**
 * What a change of which checks at once: the spec (generation), the labels and the annotations,
 * by their digest, the same for the cache's slim copy and the object a write returned.
 */
function versionOf(db: PostgresDatabase): string {
  return digest(JSON.stringify([db.metadata.generation ?? 0, metadataDigestOf(db)]));
}

/** The status shows the database Ready for its current spec: provisioned and checked before this process. */
export function verifiedAt(db: PostgresDatabase): boolean {
  const generation = db.metadata.generation;
  return isConditionTrue(db.status?.conditions, READY) && db.status?.observedGeneration === generation;
}
