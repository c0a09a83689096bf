/**
 * The SQL steps of a PostgresDatabase on its server: each runs one unit of
 * services/postgres/objects and reports what it changed, so the flow can say so.
 * On a resync of a Ready database (VerifyPlan.facts), one combined read on the pooled
 * maintenance connection (tenant-facts.ts) stands in for the units' own reads; only what it
 * shows drifted goes through the unit, and the checks inside the tenant database (a client of
 * its own) run only when they are due (VerifyPlan.deep) or something drifted.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import pg from "pg";
import { faultPoint } from "../../runtime/fault-points.js";
import { withSingleClient } from "../../services/postgres/client-lifecycle.js";
import { ConnectionError } from "../../services/postgres/connection-failures.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import {
  DEFAULT_CONNECTION_SETTINGS,
  pgClientConfig,
  type InstanceConnectionSpec,
} from "../../services/postgres/connection-spec.js";
import type { SqlNames } from "../../services/postgres/naming.js";
import {
  databaseFromFact,
  dropDatabase,
  dropPendingDatabase,
  ensureDatabase,
  type DropDatabaseResult,
} from "../../services/postgres/objects/database.js";
import type { EnsureDatabaseResult } from "../../services/postgres/objects/database.js";
import {
  ensureExtensions,
  type ExtensionRequest,
  type ExtensionsOutcome,
} from "../../services/postgres/objects/extensions.js";
import {
  applyGrants,
  checkGrants,
  databaseGrantDrift,
  grantLimitations,
} from "../../services/postgres/objects/grants.js";
import { missingHoldsFromFact } from "../../services/postgres/objects/membership.js";
import {
  dropRole,
  createRole,
  ensureRole,
  inspectRole,
  passwordAcceptedBy,
  passwordMatchesFact,
  roleFromFact,
  rolePasswordInSync,
  setRolePassword,
  type RoleFact,
  type DropRoleResult,
  type EnsureRoleResult,
  type LoginProbe,
} from "../../services/postgres/objects/role.js";
import type { DatabaseOpener } from "../../services/postgres/objects/role-release.js";
import { readTenantFacts, type TenantFacts } from "../../services/postgres/objects/tenant-facts.js";
import { ForeignObjectError, type Marker, requireOurs } from "../../services/postgres/ownership.js";
import type { UsableInstance } from "../instances/instance-directory.js";

/** What `ensureRoleWithPassword` did: the role unit's result, and whether the password had to be reset. */
export interface RoleOutcome {
  readonly role: EnsureRoleResult;
  readonly passwordReset: boolean;
}

/**
 * What `ensureGrants` found: what was missing (now granted), and what the admin cannot put in
 * place; `checked` false when the in-database checks were not due and the combined read showed
 * nothing missing (then nothing is known of the limitations: the status keeps what it says).
 */
export interface GrantsOutcome {
  readonly checked: boolean;
  /** The set was applied in this reconcile: something was missing, or the database is new. */
  readonly applied: boolean;
  readonly missing: readonly string[];
  readonly limitations: readonly string[];
}

/** How much one reconcile verifies (see docs/operating.md, --database-verify-period). */
export interface VerifyPlan {
  /** Read the combined facts first and skip the units' own reads for what they show in place (a database that was Ready). */
  readonly facts: boolean;
  /** Run the in-database checks (grant set, extensions) and a limited admin's login probe even when nothing drifted. */
  readonly deep: boolean;
  /** Whether this process has not seen `password` in sync for the role (then a limited admin checks it at once). */
  readonly passwordUnconfirmed?: (role: string, password: string) => boolean;
}

/** Every check through the units, as on a first reconcile. */
export const FULL_VERIFY: VerifyPlan = { facts: false, deep: true };

/** What `dropEverything` did to one object; "foreign" ones carry no marker of ours and were left alone. */
export type DropResult = DropDatabaseResult | DropRoleResult | "foreign";

/** What `dropEverything` did, by object name. */
export type DropOutcome = ReadonlyMap<string, DropResult>;

/** SQLSTATEs a login can only reach after the password was accepted (no CONNECT, no such database, too many connections). */
const AFTER_AUTHENTICATION = new Set(["42501", "3D000", "53300"]);

/** One PostgresDatabase's objects on one usable instance. */
export class TenantServer {
  private factsRead: Promise<TenantFacts> | undefined;
  /** A fact showed something out of place: the units do the rest, and the in-database checks run. */
  private drifted = false;
  private inDatabaseChecked = false;
  /** This reconcile created the database: it holds none of the grant set yet. */
  private databaseCreated = false;
  /** Roles this reconcile found missing a moment ago: created without a second look. */
  private readonly missingRoles = new Set<string>();
  private readonly confirmed = new Map<string, string>();

  constructor(
    private readonly registry: ConnectionRegistry,
    readonly instance: UsableInstance,
    readonly names: SqlNames,
    readonly marker: Marker,
    /** The instance's spec.allowedTemplates: what params.template may name besides template0 and template1. */
    readonly allowedTemplates: readonly string[] = [],
    readonly verify: VerifyPlan = FULL_VERIFY,
  ) {}

  /** Whether the in-database checks (grant set, extensions) run in this reconcile: due, or something drifted. */
  get inDatabaseChecks(): boolean {
    return this.verify.deep || !this.verify.facts || this.drifted;
  }

  /** The roles whose password this reconcile saw in sync (or set), with that password. */
  get passwordsInSync(): ReadonlyMap<string, string> {
    return this.confirmed;
  }

  /** True once the in-database checks of the grant set ran in this reconcile. */
  get deepChecked(): boolean {
    return this.inDatabaseChecked;
  }

  /** Creates the database (validated params, marker, PUBLIC revoked) unless it is already there and ours. */
  async ensureDatabase(params: Readonly<Record<string, unknown>> | undefined): Promise<EnsureDatabaseResult> {
    const facts = await this.facts();
    if (facts !== undefined) {
      if (databaseFromFact(facts.database, this.marker).state === "ours") return "present";
      this.drifted = true;
    }
    const result = await this.maintenance((db) =>
      ensureDatabase(db, this.names.database, params, this.marker, this.allowedTemplates),
    );
    this.databaseCreated = result === "created";
    return result;
  }

  /** Throws a ForeignObjectError when a role of that name exists without our marker (a catalog read). */
  async requireRoleNotForeign(role: string): Promise<void> {
    const doing = `while looking up role "${role}"`;
    const facts = await this.facts();
    if (facts !== undefined)
      return requireOurs(roleFromFact(this.roleFact(facts, role), this.marker), "role", role, doing);
    return this.maintenance(async (db) => {
      const found = await inspectRole(db, role, this.marker);
      requireOurs(found, "role", role, doing);
      if (found.state === "missing") this.missingRoles.add(role);
    });
  }

  /**
   * Creates the role with `password`, or puts drifted attributes back and resets a password that
   * is not `password`. `fresh`: the password may be new to the server (the Secret was just written,
   * or holds a rotation the status does not show finished), so even a limited admin checks it now.
   */
  async ensureRoleWithPassword(role: string, password: string, fresh = true): Promise<RoleOutcome> {
    const facts = await this.facts();
    if (facts !== undefined) {
      const fact = this.roleFact(facts, role);
      const found = roleFromFact(fact, this.marker);
      const inPlace = found.state === "ours" && found.drift.length === 0;
      if (inPlace && (await this.passwordInSync(role, fact, password, fresh))) {
        this.confirmed.set(role, password);
        return { role: "present", passwordReset: false };
      }
      this.drifted = true;
    }
    const outcome = await this.roleThroughUnit(role, password);
    this.confirmed.set(role, password);
    return outcome;
  }

  /**
   * Checks the grant set in the tenant database and applies it when something is missing; returns
   * what was missing. When the in-database checks are not due, the combined read's part of the
   * set (the admin's hold on the roles, the privileges on the database) stands in for them.
   */
  async ensureGrants(): Promise<GrantsOutcome> {
    if (!this.inDatabaseChecks) {
      const facts = await this.facts();
      if (facts !== undefined && this.sharedGrantsInPlace(facts))
        return { checked: false, applied: false, missing: [], limitations: [] };
      this.drifted = true;
    }
    const outcome = await this.registry.withTenantClient(
      this.instance.key,
      this.instance.spec,
      this.names.database,
      async (db) => {
        // A new database gets the whole set without a look first: applying it is idempotent, so
        // whatever its template holds, the outcome is the same, with 15 statements fewer.
        const missing = this.databaseCreated ? [] : await checkGrants(db, this.names);
        const applied = this.databaseCreated || missing.length > 0;
        if (applied) await applyGrants(db, this.names, this.marker);
        return { checked: true, applied, missing, limitations: await grantLimitations(db, this.names) };
      },
    );
    this.inDatabaseChecked = true;
    return outcome;
  }

  /** Brings the tenant database's extensions to `requests` (only names in `allowed`); see objects/extensions.ts. */
  ensureExtensions(requests: readonly ExtensionRequest[], allowed: readonly string[]): Promise<ExtensionsOutcome> {
    return this.registry.withTenantClient(this.instance.key, this.instance.spec, this.names.database, (db) =>
      ensureExtensions(db, this.names, requests, allowed),
    );
  }

  /** Drops the database (ending its sessions) and then both roles; objects without our marker are left alone. */
  dropEverything(): Promise<DropOutcome> {
    return this.maintenance(async (db) => {
      const outcome = new Map<string, DropResult>();
      const { database, app, inspector } = this.names;
      outcome.set(database, await unlessForeign(() => dropDatabase(db, database, this.marker)));
      if (outcome.get(database) === "dropped") await faultPoint("database-dropped");
      // A creation that died before its database got its final name left it under the pending name.
      if ((await dropPendingDatabase(db, this.marker)) === "dropped") outcome.set("unfinished database", "dropped");
      for (const role of [app, inspector]) {
        const release = { ownDatabase: database, open: this.openDatabase() };
        outcome.set(role, await unlessForeign(() => dropRole(db, role, this.marker, release)));
        if (outcome.get(role) === "dropped") await faultPoint("role-dropped");
      }
      return outcome;
    });
  }

  /** Opens admin clients on other databases of the instance (hardened like every tenant-database client). */
  private openDatabase(): DatabaseOpener {
    return (database, fn) => this.registry.withTenantClient(this.instance.key, this.instance.spec, database, fn);
  }

  /** The role unit's own path: reads, creates or repairs, and checks the password (a login for a limited admin). */
  private roleThroughUnit(role: string, password: string): Promise<RoleOutcome> {
    return this.maintenance(async (db) => {
      // Should the role have appeared since, CREATE ROLE fails and the next reconcile looks again.
      const result = this.missingRoles.delete(role)
        ? await createRole(db, role, password, this.marker).then(() => "created" as const)
        : await ensureRole(db, role, password, this.marker);
      const inSync = result === "created" || (await rolePasswordInSync(db, role, password, this.loginProbe()));
      if (inSync) return { role: result, passwordReset: false };
      await setRolePassword(db, role, password, this.marker);
      return { role: result, passwordReset: true };
    });
  }

  /** The combined read, once per reconcile, while the plan uses it and nothing drifted. */
  private facts(): Promise<TenantFacts | undefined> {
    if (!this.verify.facts || this.drifted) return Promise.resolve(undefined);
    // A read that fails (say, the admin lost the right to read pg_authid) leaves it all to the units;
    // a server that did not answer fails the reconcile at once, not again in each unit's connect.
    this.factsRead ??= this.maintenance((db) => readTenantFacts(db, this.names, this.instance.superuser));
    return this.factsRead.catch((err: unknown) => {
      if (err instanceof ConnectionError) throw err;
      this.drifted = true;
      return undefined;
    });
  }

  private roleFact(facts: TenantFacts, role: string): RoleFact | null {
    return role === this.names.app ? facts.app : role === this.names.inspector ? facts.inspector : null;
  }

  /**
   * Whether the role's password is `password`, as far as this reconcile checks it: a superuser
   * admin compares the verifier the combined read carries; any other admin needs a login (a new
   * connection): when this process has not seen the password in sync yet, else on the in-database
   * checks' cadence.
   */
  private async passwordInSync(
    role: string,
    fact: RoleFact | null,
    password: string,
    fresh: boolean,
  ): Promise<boolean> {
    if (this.instance.superuser) return (await passwordMatchesFact(fact, password)) === true;
    const mayDiffer = fresh || this.verify.passwordUnconfirmed?.(role, password) === true;
    if (!this.verify.deep && !mayDiffer) return true;
    return passwordAcceptedBy(this.loginProbe(), role, password);
  }

  /** The admin holds both roles and the privileges on the database are as declared (from the combined read). */
  private sharedGrantsInPlace(facts: TenantFacts): boolean {
    const holds = this.instance.superuser ? [] : missingHoldsFromFact(facts.adminHolds, this.names);
    return holds.length === 0 && databaseGrantDrift(facts.databasePrivileges, this.names).length === 0;
  }

  private maintenance<T>(fn: (db: pg.ClientBase) => Promise<T>): Promise<T> {
    return this.registry.withClient(this.instance.key, this.instance.spec, fn);
  }

  /**
   * Logs in as the role (for an admin that cannot read pg_authid). Any refusal that comes
   * after authentication means the password was right; a wrong one rejects with 28P01.
   */
  private loginProbe(): LoginProbe {
    return async (user, password) => {
      const spec: InstanceConnectionSpec = { ...this.instance.spec, username: user, password };
      const config = pgClientConfig(spec, this.names.database);
      const closeTimeoutMillis = DEFAULT_CONNECTION_SETTINGS.connectionTimeoutMillis;
      try {
        await withSingleClient(config, () => Promise.resolve(), { closeTimeoutMillis });
      } catch (err) {
        if (err instanceof pg.DatabaseError && AFTER_AUTHENTICATION.has(err.code ?? "")) return;
        throw err;
      }
    };
  }
}

async function unlessForeign<T>(drop: () => Promise<T>): Promise<T | "foreign"> {
  try {
    return await drop();
  } catch (err) {
    if (err instanceof ForeignObjectError) return "foreign";
    throw err;
  }
}

/** An instance object's spec.allowedTemplates (none when it has no such list). */
export function templatesAllowedBy(instance: KubernetesObject | undefined): readonly string[] {
  return namesListedBy(instance, "allowedTemplates");
}

/** An instance object's spec.allowedExtensions (none when it has no such list). */
export function extensionsAllowedBy(instance: KubernetesObject | undefined): readonly string[] {
  return namesListedBy(instance, "allowedExtensions");
}

function namesListedBy(instance: KubernetesObject | undefined, field: string): readonly string[] {
  const listed = (instance as { spec?: Record<string, unknown> } | undefined)?.spec?.[field];
  return Array.isArray(listed) ? listed.filter((name): name is string => typeof name === "string") : [];
}
