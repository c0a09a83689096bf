/**
 * The one invariant every fault scenario ends with (issue 10): every PostgresDatabase is
 * Ready, or gone if it was being deleted; the server holds exactly the databases and
 * roles the remaining resources own (no orphan, no half-made pending database, nothing
 * missing, nothing foreign touched); every connection Secret logs in.
 */
import type { V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { PENDING_DATABASE_PREFIX, parseMarker } from "../../services/postgres/ownership.js";
import type { ControlPlane } from "../harness/control-plane.js";
import type { PostgresServer } from "../harness/postgres.js";
import { getJson } from "../e2e/kubectl.js";
import { eventually } from "../support/eventually.js";

/** What the invariant compares of one database or role: everything a foreign owner would notice. */
export type ObjectState = Readonly<Record<string, unknown>>;

/** The server's databases and roles (pg_* roles aside), by name. */
export interface ServerSnapshot {
  readonly databases: ReadonlyMap<string, ObjectState>;
  readonly roles: ReadonlyMap<string, ObjectState>;
}

/** What `assertInvariant` checks. */
export interface InvariantScope {
  readonly cp: ControlPlane;
  readonly srv: PostgresServer;
  /** The namespaces of the scenario: each of their PostgresDatabases is checked, and only they may own objects that changed. */
  readonly namespaces: readonly string[];
  /** `snapshotServer` taken before the scenario began: every object in it that no resource of `namespaces` owns must be unchanged. */
  readonly before: ServerSnapshot;
  /** How long the resources may take to settle (Ready, or gone); default 120 s. */
  readonly timeoutMs?: number;
}

const DATABASES = `SELECT d.datname AS name, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
  pg_catalog.pg_get_userbyid(d.datdba) AS owner, d.datacl::text AS acl, d.datallowconn AS allowconn,
  d.datistemplate AS istemplate, d.datconnlimit AS connlimit FROM pg_catalog.pg_database d`;

const ROLES = `SELECT r.rolname AS name, pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment,
  r.rolsuper AS super, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole, r.rolcanlogin AS login,
  r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolinherit AS inherit,
  ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles b ON b.oid = m.roleid
        WHERE m.member = r.oid ORDER BY 1)::text[] AS memberof
  FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_'`;

/** Reads every database and role of the server (as its superuser), to compare with later. */
export async function snapshotServer(srv: PostgresServer): Promise<ServerSnapshot> {
  const client = await srv.connect();
  try {
    const byName = (rows: Record<string, unknown>[]): Map<string, ObjectState> =>
      new Map(rows.map(({ name, ...rest }) => [String(name), rest]));
    return {
      databases: byName((await client.query<Record<string, unknown>>(DATABASES)).rows),
      roles: byName((await client.query<Record<string, unknown>>(ROLES)).rows),
    };
  } finally {
    await client.end();
  }
}

/**
 * Waits until every PostgresDatabase of `scope.namespaces` is Ready (observedGeneration
 * current) or, if it was being deleted, gone; then asserts the server holds exactly what
 * the remaining resources own and that each of their Secrets logs in. Throws (chai) with
 * what is wrong; call it once at the end of a scenario, with the operator running.
 */
export async function assertInvariant(scope: InvariantScope): Promise<void> {
  const timeoutMs = scope.timeoutMs ?? 120_000;
  const resources = await eventually(() => settledResources(scope), timeoutMs, 500);
  const owned = expectedObjects(resources);
  const now = await snapshotServer(scope.srv);
  assertNothingForeignTouched(scope, now);
  assertExactlyOwned(scope, now, owned);
  for (const db of resources) await assertSecretsLogIn(scope, db);
}

/** The resources once each is Ready or gone; throws (to be retried) while one is not. */
async function settledResources(scope: InvariantScope): Promise<PostgresDatabase[]> {
  const all: PostgresDatabase[] = [];
  for (const namespace of scope.namespaces) {
    const list = await getJson<{ items: PostgresDatabase[] }>(scope.cp, ["pgdb", "-n", namespace]);
    all.push(...list.items);
  }
  const unsettled = all.filter((db) => !isSettled(db)).map(describe);
  if (unsettled.length > 0) throw new Error(`PostgresDatabases not yet Ready (or gone): ${unsettled.join("; ")}`);
  return all;
}

function isSettled(db: PostgresDatabase): boolean {
  if (db.metadata.deletionTimestamp) return false;
  const ready = db.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "True" && db.status?.observedGeneration === db.metadata.generation;
}

function describe(db: PostgresDatabase): string {
  const deleting = db.metadata.deletionTimestamp ? " (being deleted)" : "";
  const conditions = (db.status?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`);
  return `${db.metadata.namespace}/${db.metadata.name}${deleting} [${conditions.join(", ")}]`;
}

/** Object name → "namespace/name" of the resource that must own it. */
function expectedObjects(resources: readonly PostgresDatabase[]): {
  databases: Map<string, string>;
  roles: Map<string, string>;
} {
  const databases = new Map<string, string>();
  const roles = new Map<string, string>();
  for (const db of resources) {
    const owner = `${db.metadata.namespace}/${db.metadata.name}`;
    if (db.status?.sql_db_name) databases.set(db.status.sql_db_name, owner);
    for (const user of db.status?.users ?? []) roles.set(user.username, owner);
  }
  return { databases, roles };
}

/** True when the object's marker names a resource of the scenario's namespaces. */
function ownedByScope(scope: InvariantScope, state: ObjectState | undefined): boolean {
  const owner = parseMarker(state?.comment as string | null | undefined);
  return owner !== undefined && scope.namespaces.includes(owner.namespace);
}

function assertNothingForeignTouched(scope: InvariantScope, now: ServerSnapshot): void {
  for (const kind of ["databases", "roles"] as const) {
    for (const [name, before] of scope.before[kind]) {
      // Kompost's half-made databases are not foreign: the orphan check below reports any that are left.
      if (ownedByScope(scope, before) || name.startsWith(PENDING_DATABASE_PREFIX)) continue;
      const after = now[kind].get(name);
      expect(after, `${kind} "${name}" existed before the scenario and belongs to nobody in it`).to.not.equal(
        undefined,
      );
      expect(comparable(after!, scope, now), `${kind} "${name}" was changed`).to.deep.equal(
        comparable(before, scope, now),
      );
    }
  }
}

/** The state without memberships in roles that came or went with the scenario (an admin joins tenant roles). */
function comparable(state: ObjectState, scope: InvariantScope, now: ServerSnapshot): ObjectState {
  const memberof = state.memberof as string[] | undefined;
  if (memberof === undefined) return state;
  const stable = memberof.filter((role) => scope.before.roles.has(role) && now.roles.has(role));
  return { ...state, memberof: stable.filter((role) => !ownedByScope(scope, scope.before.roles.get(role))) };
}

function assertExactlyOwned(
  scope: InvariantScope,
  now: ServerSnapshot,
  owned: { databases: Map<string, string>; roles: Map<string, string> },
): void {
  for (const kind of ["databases", "roles"] as const) {
    const wanted = owned[kind];
    for (const [name, owner] of wanted) {
      const state = now[kind].get(name);
      expect(state, `${kind} "${name}" of ${owner} is missing on the server`).to.not.equal(undefined);
      const marker = parseMarker(state!.comment as string | null);
      expect(
        marker && `${marker.namespace}/${marker.name}`,
        `${kind} "${name}" does not carry ${owner}'s marker`,
      ).to.equal(owner);
    }
    const orphans = [...now[kind]].filter(([name, state]) => {
      if (wanted.has(name)) return false;
      if (name.startsWith(PENDING_DATABASE_PREFIX)) return true;
      if (!scope.before[kind].has(name)) return true;
      return ownedByScope(scope, state);
    });
    expect(
      orphans.map(([name, state]) => `${name} (${String(state.comment)})`),
      `${kind} on the server that no remaining resource owns`,
    ).to.deep.equal([]);
  }
  for (const name of owned.databases.keys()) {
    const acl = now.databases.get(name)!.acl;
    expect(acl, `database "${name}" keeps the default ACL (PUBLIC may connect)`).to.be.a("string");
    // PUBLIC's entries start with "=": the connect window must be closed for good.
    expect(acl, `database "${name}" still grants PUBLIC something`).to.not.match(/[{,]=[a-zA-Z]/);
    expect(now.databases.get(name)!.allowconn, `database "${name}" does not accept connections`).to.equal(true);
  }
}

async function assertSecretsLogIn(scope: InvariantScope, db: PostgresDatabase): Promise<void> {
  for (const user of db.status?.users ?? []) {
    const secret = await getJson<V1Secret>(scope.cp, ["secret", user.secret, "-n", db.metadata.namespace ?? ""]);
    const data = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]),
    );
    const client = await scope.srv
      .connect({ user: data.DB_USER ?? "", password: data.DB_PASS ?? "", database: data.DB_NAME ?? "" })
      .catch((err: unknown) => {
        throw new Error(`Secret ${db.metadata.namespace}/${user.secret} does not log in: ${String(err)}`);
      });
    try {
      const { rows } = await client.query<{ user: string; db: string }>(
        "SELECT current_user AS user, current_database() AS db",
      );
      expect(rows[0]).to.deep.equal({ user: user.username, db: db.status?.sql_db_name });
    } finally {
      await client.end();
    }
  }
}
