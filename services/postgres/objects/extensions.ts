/**
 * The extensions of a tenant database as an ensure unit, run on an admin client connected
 * to the TENANT database. An extension's script runs as the admin (or, for a trusted
 * extension and a non-superuser admin, as the bootstrap superuser) with a search_path of
 * its target schema and the schemas of the extensions it requires, whatever the session's
 * pinned search_path says: anything a tenant may create there (a type, a domain whose
 * CHECK calls its function, an operator) can be picked up by the script and run with
 * those rights. So Kompost only installs into, and only updates in, schemas that belong
 * to the admin (or a superuser) and where nobody else may create anything: by default
 * the schema `extensions`, which it creates itself and opens to app and inspector for
 * USAGE only. It never changes or drops an extension it did not create (its owner is not
 * the admin), e.g. one the tenant created itself.
 */
import { sqlStateOf } from "../errors.js";
import type { SqlNames } from "../naming.js";
import { inTransaction, type Queryable } from "../queryable.js";
import { quoteIdent, quoteLiteral } from "../sql.js";
import { type Admin, currentAdmin } from "./membership.js";

/** The schema extensions go into when spec names none: created by Kompost, nobody else may create in it. */
export const DEFAULT_EXTENSION_SCHEMA = "extensions";

/** Why an extension is not as requested; each is a condition reason. */
export type ExtensionReason = "InvalidExtension" | "ExtensionNotAllowed" | "ExtensionUnavailable" | "ExtensionFailed";

/** One entry of spec.extensions, validated. */
export interface ExtensionRequest {
  readonly name: string;
  readonly version?: string;
  readonly schema?: string;
  readonly ensure: "present" | "absent";
}

/** An extension that is not as requested, and why. */
export interface ExtensionProblem {
  readonly name: string;
  readonly reason: ExtensionReason;
  readonly message: string;
}

/** An installed extension as status.extensions shows it. */
export interface InstalledExtension {
  readonly name: string;
  readonly version: string;
  readonly schema: string;
}

/** What Kompost changed, as an Event reason and message. */
export interface ExtensionChange {
  readonly reason: "ExtensionCreated" | "ExtensionUpdated" | "ExtensionDropped";
  readonly message: string;
}

/** What `ensureExtensions` found and did. */
export interface ExtensionsOutcome {
  /** The requested (present) extensions that are installed, in spec order. */
  readonly installed: readonly InstalledExtension[];
  readonly problems: readonly ExtensionProblem[];
  readonly changes: readonly ExtensionChange[];
}

const NAME = /^[A-Za-z0-9_-]{1,63}$/;
const VERSION = /^[A-Za-z0-9._-]{1,63}$/;
/** Plain lower-case names only: no quoting games in scripts that paste @extschema@, no pg_ (reserved). */
const SCHEMA = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;
const KEYS = new Set(["name", "version", "schema", "ensure"]);

/**
 * Validates spec.extensions: each entry a name (the original Kompost's form) or
 * {name, version?, schema?, ensure?}. Entries that do not fit become InvalidExtension problems.
 */
export function parseExtensionRequests(items: readonly unknown[] | undefined): {
  readonly requests: readonly ExtensionRequest[];
  readonly problems: readonly ExtensionProblem[];
} {
  const requests: ExtensionRequest[] = [];
  const problems: ExtensionProblem[] = [];
  for (const [index, item] of (items ?? []).entries()) {
    const parsed = parseOne(item);
    if (typeof parsed === "string") {
      const name = nameOf(item) ?? `spec.extensions[${index}]`;
      problems.push({ name, reason: "InvalidExtension", message: `spec.extensions[${index}]: ${parsed}` });
    } else if (requests.some((request) => request.name === parsed.name)) {
      const message = `spec.extensions[${index}]: "${parsed.name}" is listed twice; list each extension once`;
      problems.push({ name: parsed.name, reason: "InvalidExtension", message });
    } else {
      requests.push(parsed);
    }
  }
  return { requests, problems };
}

function parseOne(item: unknown): ExtensionRequest | string {
  if (typeof item === "string") return NAME.test(item) ? { name: item, ensure: "present" } : badName(item);
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    return "must be an extension name or an object {name, version, schema, ensure}";
  }
  const fields = item as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !KEYS.has(key));
  if (unknown.length > 0) return `unknown field ${unknown.join(", ")}; only name, version, schema and ensure exist`;
  const { name, version, schema, ensure } = fields;
  if (typeof name !== "string" || !NAME.test(name)) return badName(name);
  if (version !== undefined && (typeof version !== "string" || !VERSION.test(version))) {
    return `version of "${name}" must be 1-63 letters, digits, dots, dashes or underscores`;
  }
  if (schema !== undefined && (typeof schema !== "string" || !SCHEMA.test(schema))) {
    return `schema of "${name}" must be a plain lower-case name (a-z, 0-9, _; not starting with pg_)`;
  }
  if (ensure !== undefined && ensure !== "present" && ensure !== "absent") {
    return `ensure of "${name}" must be present or absent`;
  }
  return {
    name,
    ensure: ensure ?? "present",
    ...(version !== undefined ? { version: version } : {}),
    ...(schema !== undefined ? { schema: schema } : {}),
  };
}

function badName(name: unknown): string {
  return `${JSON.stringify(name) ?? "no name"} is not an extension name (1-63 letters, digits, dashes or underscores)`;
}

function nameOf(item: unknown): string | undefined {
  if (typeof item === "string") return item;
  const name = (item as { name?: unknown } | null)?.name;
  return typeof name === "string" ? name : undefined;
}

/**
 * Brings the tenant database's extensions to `requests`: creates, updates (ALTER EXTENSION
 * ... UPDATE TO) or drops (ensure absent) those `allowed` names only, each in its own
 * transaction; a failure of one is a problem of that one, and the others go on. Reads only
 * the catalog when everything is in place. A lost connection propagates.
 */
export async function ensureExtensions(
  tenant: Queryable,
  names: SqlNames,
  requests: readonly ExtensionRequest[],
  allowed: readonly string[],
): Promise<ExtensionsOutcome> {
  const admin = await currentAdmin(tenant);
  const installed: InstalledExtension[] = [];
  const problems: ExtensionProblem[] = [];
  const changes: ExtensionChange[] = [];
  for (const request of requests) {
    const { name } = request;
    if (request.ensure === "present" && !allowed.includes(name)) {
      const message = `extension "${name}" is not in the instance's spec.allowedExtensions; ask the platform team to allow it`;
      problems.push({ name, reason: "ExtensionNotAllowed", message });
      continue;
    }
    try {
      const step = { tenant, names, admin, request, changes };
      const found = request.ensure === "absent" ? await removeOne(step) : await ensureOne(step);
      if (found) installed.push({ name, version: found.version, schema: found.schema });
    } catch (err) {
      if (err instanceof ExtensionRefusal) problems.push({ name, reason: err.reason, message: err.message });
      else if (sqlStateOf(err) !== undefined)
        problems.push({ name, reason: "ExtensionFailed", message: failed(name, err) });
      else throw err;
    }
  }
  return { installed, problems, changes };
}

/** One request's context. */
interface Step {
  readonly tenant: Queryable;
  readonly names: SqlNames;
  readonly admin: Admin;
  readonly request: ExtensionRequest;
  readonly changes: ExtensionChange[];
}

interface Installed {
  readonly version: string;
  readonly schema: string;
  readonly owner: string;
  readonly ours: boolean;
}

interface Available {
  readonly version: string;
  readonly superuser: boolean;
  readonly trusted: boolean;
  readonly fixedSchema: string | null;
  readonly requires: readonly string[];
}

/** A refusal the user can act on, with its reason. */
class ExtensionRefusal extends Error {
  constructor(
    readonly reason: ExtensionReason,
    message: string,
  ) {
    super(message);
  }
}

async function ensureOne(step: Step): Promise<Installed | undefined> {
  const { tenant, request } = step;
  const found = await installedExtension(tenant, request.name);
  if (!found) return createOne(step);
  if (!found.ours) return requireUnchangedForeign(request, found);
  if (request.schema !== undefined && request.schema !== found.schema) {
    throw new ExtensionRefusal(
      "ExtensionFailed",
      `extension "${request.name}" is installed in schema "${found.schema}", not "${request.schema}"; Kompost does not move extensions: list it with ensure: absent, then again with the schema`,
    );
  }
  if (request.version === undefined || request.version === found.version) return found;
  return updateOne(step, found);
}

async function createOne(step: Step): Promise<Installed> {
  const { tenant, names, admin, request, changes } = step;
  const available = await availableExtension(tenant, request.name, request.version);
  requireAdminMayCreate(request.name, available, admin);
  const schema = targetSchema(request, available);
  const requiredSchemas = await schemasOfRequired(tenant, request.name, available);
  await inTransaction(tenant, async () => {
    const existing = await schemaCreators(tenant, schema);
    if (existing) requireSafeSchema(request.name, schema, existing, "install into");
    else if (available.fixedSchema === null) await tenant.query(createSchemaSql(schema));
    for (const required of requiredSchemas) await requireSafe(tenant, request.name, required, "use");
    if (available.fixedSchema === null) await tenant.query(grantSchemaUsageSql(schema, [names.app, names.inspector]));
    await tenant.query(createExtensionSql(request.name, available.version, available.fixedSchema ?? schema));
  });
  changes.push({
    reason: "ExtensionCreated",
    message: `Created extension "${request.name}" ${available.version} in schema "${schema}" of database "${names.database}"`,
  });
  return { version: available.version, schema, owner: admin.name, ours: true };
}

async function updateOne(step: Step, found: Installed): Promise<Installed> {
  const { tenant, names, request, changes } = step;
  const available = await availableExtension(tenant, request.name, request.version);
  const requiredSchemas = await schemasOfRequired(tenant, request.name, available);
  await inTransaction(tenant, async () => {
    // The update script resolves names through the extension's schema and its requirements' too.
    await requireSafe(tenant, request.name, found.schema, "update in");
    for (const required of requiredSchemas) await requireSafe(tenant, request.name, required, "use");
    await tenant.query(updateExtensionSql(request.name, available.version));
  });
  changes.push({
    reason: "ExtensionUpdated",
    message: `Updated extension "${request.name}" from ${found.version} to ${available.version} in database "${names.database}"`,
  });
  return { ...found, version: available.version };
}

async function removeOne(step: Step): Promise<undefined> {
  const { tenant, names, request, changes } = step;
  const found = await installedExtension(tenant, request.name);
  if (!found) return undefined;
  if (!found.ours) throw foreign(request.name, found, "drop");
  await tenant.query(dropExtensionSql(request.name));
  changes.push({
    reason: "ExtensionDropped",
    message: `Dropped extension "${request.name}" from database "${names.database}"`,
  });
  return undefined;
}

/** A tenant's (or anyone else's) extension is left as it is: fine as long as nothing is to change. */
function requireUnchangedForeign(request: ExtensionRequest, found: Installed): Installed {
  if (request.version !== undefined && request.version !== found.version) throw foreign(request.name, found, "update");
  return found;
}

function foreign(name: string, found: Installed, verb: string): ExtensionRefusal {
  return new ExtensionRefusal(
    "ExtensionFailed",
    `extension "${name}" ${found.version} was created by role "${found.owner}", not by Kompost; Kompost never changes or drops an extension it did not create, so it does not ${verb} it: do that as "${found.owner}"`,
  );
}

function requireAdminMayCreate(name: string, available: Available, admin: Admin): void {
  if (admin.superuser || !available.superuser || available.trusted) return;
  throw new ExtensionRefusal(
    "ExtensionFailed",
    `extension "${name}" is not trusted and only a superuser may create it; the instance's admin "${admin.name}" is not one: use a superuser admin, or have a superuser create it`,
  );
}

function targetSchema(request: ExtensionRequest, available: Available): string {
  if (available.fixedSchema === null) return request.schema ?? DEFAULT_EXTENSION_SCHEMA;
  if (request.schema !== undefined && request.schema !== available.fixedSchema) {
    throw new ExtensionRefusal(
      "ExtensionFailed",
      `extension "${request.name}" always lives in schema "${available.fixedSchema}"; leave its schema out`,
    );
  }
  return available.fixedSchema;
}

/** The schemas of the extensions `available` requires (their scripts' search_path includes them). */
async function schemasOfRequired(tenant: Queryable, name: string, available: Available): Promise<string[]> {
  const schemas: string[] = [];
  for (const required of available.requires) {
    const found = await installedExtension(tenant, required);
    if (!found) {
      throw new ExtensionRefusal(
        "ExtensionFailed",
        `extension "${name}" requires "${required}", which is not installed; list "${required}" before "${name}" in spec.extensions`,
      );
    }
    schemas.push(found.schema);
  }
  return schemas;
}

interface SchemaCreators {
  readonly owner: string;
  readonly trustedOwner: boolean;
  readonly creators: readonly string[];
}

async function requireSafe(tenant: Queryable, name: string, schema: string, verb: string): Promise<void> {
  const found = await schemaCreators(tenant, schema);
  if (found) requireSafeSchema(name, schema, found, verb);
}

/** A schema is safe for an extension script when the admin (or a superuser) owns it and nobody else may create in it. */
function requireSafeSchema(name: string, schema: string, found: SchemaCreators, verb: string): void {
  const why = !found.trustedOwner
    ? `it belongs to "${found.owner}", not to the admin`
    : found.creators.length > 0
      ? `${found.creators.map((role) => `"${role}"`).join(", ")} may create objects in it`
      : undefined;
  if (why === undefined) return;
  throw new ExtensionRefusal(
    "ExtensionFailed",
    `Kompost does not ${verb} schema "${schema}" for extension "${name}": ${why}, and an extension's script resolves names there while it runs as the admin; ` +
      `use a schema only the admin may create in (leave schema out for "${DEFAULT_EXTENSION_SCHEMA}")`,
  );
}

async function installedExtension(tenant: Queryable, name: string): Promise<Installed | undefined> {
  const { rows } = await tenant.query<Installed & Record<string, unknown>>(READS.installedExtension, [name]);
  return rows[0];
}

async function availableExtension(tenant: Queryable, name: string, version: string | undefined): Promise<Available> {
  const { rows } = await tenant.query<Available & Record<string, unknown>>(READS.availableExtension, [
    name,
    version ?? null,
  ]);
  const row = rows[0];
  if (row) return row;
  const what = version === undefined ? `extension "${name}"` : `version ${version} of extension "${name}"`;
  throw new ExtensionRefusal(
    "ExtensionUnavailable",
    `the server has no ${what}; ask the platform team to install it on the server, or pick a version it has`,
  );
}

async function schemaCreators(tenant: Queryable, schema: string): Promise<SchemaCreators | undefined> {
  const { rows } = await tenant.query<SchemaCreators & Record<string, unknown>>(READS.schemaCreators, [schema]);
  return rows[0];
}

function failed(name: string, err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return `while ensuring extension "${name}": ${text} (SQLSTATE ${sqlStateOf(err) ?? "?"})`;
}

// ---------------------------------------------------------------------------
// SQL of the extensions unit: every value quoted by the helpers of sql.ts.
// ---------------------------------------------------------------------------

/** Catalog reads of this unit; each takes only `$n` parameters (see the note on CATALOG in sql.ts). */
const READS = {
  /** $1 = extension name: its version, schema, owner and whether the connected admin owns it (a row only if installed). */
  installedExtension:
    "SELECT e.extversion AS version, n.nspname AS schema, pg_catalog.pg_get_userbyid(e.extowner) AS owner, e.extowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.current_user()) AS ours FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace WHERE e.extname OPERATOR(pg_catalog.=) $1::pg_catalog.name",

  /**
   * $1 = extension name, $2 = version or null for the default: what its control file says of that
   * version (a row only if the server has it); `fixedSchema` is set for an extension that must live in one schema.
   */
  availableExtension:
    "SELECT v.version::pg_catalog.text AS version, v.superuser, v.trusted, v.schema::pg_catalog.text AS \"fixedSchema\", COALESCE(v.requires, '{}'::pg_catalog.name[])::pg_catalog.text[] AS requires FROM pg_catalog.pg_available_extension_versions v WHERE v.name OPERATOR(pg_catalog.=) $1::pg_catalog.name AND v.version::pg_catalog.text OPERATOR(pg_catalog.=) COALESCE($2::pg_catalog.text, (SELECT a.default_version FROM pg_catalog.pg_available_extensions a WHERE a.name OPERATOR(pg_catalog.=) $1::pg_catalog.name))",

  /**
   * $1 = schema name: its owner, whether that is the connected admin or a superuser, and the
   * roles other than the owner that may create in it (a row only if it exists).
   */
  schemaCreators:
    "SELECT pg_catalog.pg_get_userbyid(n.nspowner) AS owner, (n.nspowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.current_user()) OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) n.nspowner)) AS \"trustedOwner\", ARRAY(SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'::pg_catalog.text ELSE pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text END FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n'::pg_catalog.\"char\", n.nspowner))) a WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'::pg_catalog.text AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner) AS creators FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name",
} as const;

/** Creates a schema owned by the connected admin. */
function createSchemaSql(name: string): string {
  return `CREATE SCHEMA ${quoteIdent(name)}`;
}

/** Lets the given roles look up objects in a schema (USAGE only, never CREATE). */
function grantSchemaUsageSql(schema: string, roles: readonly string[]): string {
  return `GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${roles.map(quoteIdent).join(", ")}`;
}

/** CREATE EXTENSION of one version; `schema` undefined for an extension whose control file fixes it. */
function createExtensionSql(name: string, version: string, schema: string | undefined): string {
  const inSchema = schema === undefined ? "" : ` SCHEMA ${quoteIdent(schema)}`;
  return `CREATE EXTENSION ${quoteIdent(name)} WITH${inSchema} VERSION ${quoteLiteral(version)}`;
}

/** Updates an installed extension to another version. */
function updateExtensionSql(name: string, version: string): string {
  return `ALTER EXTENSION ${quoteIdent(name)} UPDATE TO ${quoteLiteral(version)}`;
}

/** Drops an extension, refusing when anything else depends on it (RESTRICT). */
function dropExtensionSql(name: string): string {
  return `DROP EXTENSION ${quoteIdent(name)} RESTRICT`;
}
