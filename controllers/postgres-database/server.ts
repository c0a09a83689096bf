/**
 * The SQL steps of a PostgresDatabase on its server: each runs one unit of
 * services/postgres/objects and reports what it changed, so the flow can say so.
 * On a resync where nothing drifted, every step only reads the catalog.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import pg from "pg";
import { faultPoint } from "../../runtime/fault-points.js";
import { withSingleClient } from "../../services/postgres/client-lifecycle.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import {
  DEFAULT_CONNECTION_SETTINGS,
  pgClientConfig,
  type InstanceConnectionSpec,
} from "../../services/postgres/connection-spec.js";
import type { SqlNames } from "../../services/postgres/naming.js";
import {
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
import { applyGrants, checkGrants, grantLimitations } from "../../services/postgres/objects/grants.js";
import {
  dropRole,
  ensureRole,
  inspectRole,
  rolePasswordInSync,
  setRolePassword,
  type DropRoleResult,
  type EnsureRoleResult,
  type LoginProbe,
} from "../../services/postgres/objects/role.js";
import type { DatabaseOpener } from "../../services/postgres/objects/role-release.js";
import { ForeignObjectError, type Marker, requireOurs } from "../../services/postgres/ownership.js";
import type { UsableInstance } from "../instances/instance-directory.js";

/** What `ensureRoleWithPassword` did: the role unit's result, and whether the password had to be reset. */
export interface RoleOutcome {
  readonly role: EnsureRoleResult;
  readonly passwordReset: boolean;
}

/** What `ensureGrants` found: what was missing (now granted), and what the admin cannot put in place. */
export interface GrantsOutcome {
  readonly missing: readonly string[];
  readonly limitations: readonly string[];
}

/** What `dropEverything` did to one object; "foreign" ones carry no marker of ours and were left alone. */
export type DropResult = DropDatabaseResult | DropRoleResult | "foreign";

/** What `dropEverything` did, by object name. */
export type DropOutcome = ReadonlyMap<string, DropResult>;

/** SQLSTATEs a login can only reach after the password was accepted (no CONNECT, no such database, too many connections). */
const AFTER_AUTHENTICATION = new Set(["42501", "3D000", "53300"]);

/** One PostgresDatabase's objects on one usable instance. */
export class TenantServer {
  constructor(
    private readonly registry: ConnectionRegistry,
    readonly instance: UsableInstance,
    readonly names: SqlNames,
    readonly marker: Marker,
    /** The instance's spec.allowedTemplates: what params.template may name besides template0 and template1. */
    readonly allowedTemplates: readonly string[] = [],
  ) {}

  /** Creates the database (validated params, marker, PUBLIC revoked) unless it is already there and ours. */
  ensureDatabase(params: Readonly<Record<string, unknown>> | undefined): Promise<EnsureDatabaseResult> {
    return this.maintenance((db) =>
      ensureDatabase(db, this.names.database, params, this.marker, this.allowedTemplates),
    );
  }

  /** Throws a ForeignObjectError when a role of that name exists without our marker (a catalog read). */
  requireRoleNotForeign(role: string): Promise<void> {
    return this.maintenance(async (db) => {
      requireOurs(await inspectRole(db, role, this.marker), "role", role, `while looking up role "${role}"`);
    });
  }

  /** Creates the role with `password`, or puts drifted attributes back and resets a password that is not `password`. */
  ensureRoleWithPassword(role: string, password: string): Promise<RoleOutcome> {
    return this.maintenance(async (db) => {
      const result = await ensureRole(db, role, password, this.marker);
      const inSync = result === "created" || (await rolePasswordInSync(db, role, password, this.loginProbe()));
      if (inSync) return { role: result, passwordReset: false };
      await setRolePassword(db, role, password, this.marker);
      return { role: result, passwordReset: true };
    });
  }

  /** Checks the grant set in the tenant database and applies it when something is missing; returns what was missing. */
  ensureGrants(): Promise<GrantsOutcome> {
    return this.registry.withTenantClient(this.instance.key, this.instance.spec, this.names.database, async (db) => {
      const missing = await checkGrants(db, this.names);
      if (missing.length > 0) await applyGrants(db, this.names, this.marker);
      return { missing, limitations: await grantLimitations(db, this.names) };
    });
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
