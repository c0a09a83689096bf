/**
 * The ownership marker (docs/security.md, Ownership markers): every database and role Kompost creates has
 * a comment naming its PostgresDatabase, and nothing without our marker is ever
 * changed or dropped.
 */
import { createHash } from "node:crypto";
import { UserFixableError } from "./errors.js";

/** The PostgresDatabase an object belongs to. */
export interface Marker {
  readonly namespace: string;
  readonly name: string;
}

/** What a lookup by name found, judged against the marker we expect. */
export type Inspection =
  | { readonly state: "missing" }
  | { readonly state: "ours" }
  | { readonly state: "foreign"; readonly owner: Marker | undefined };

/** The kind of server object a marker sits on. */
export type ObjectKind = "database" | "role";

const PREFIX = "managed by kompost.chuge.li for PostgresDatabase ";
const MARKER_PATTERN =
  /^managed by kompost\.chuge\.li for PostgresDatabase ([a-z0-9][a-z0-9.-]*)\/([a-z0-9][a-z0-9.-]*)$/;

/** The comment text that marks an object as created for `namespace/name`. */
export function markerFor(namespace: string, name: string): string {
  const text = `${PREFIX}${namespace}/${name}`;
  if (parseMarker(text) === undefined) {
    throw new Error(`while building the ownership marker: "${namespace}/${name}" is not a Kubernetes namespace/name`);
  }
  return text;
}

/** Reads a comment back into a marker; undefined if it is not one of ours. */
export function parseMarker(comment: string | null | undefined): Marker | undefined {
  if (comment === null || comment === undefined) return undefined;
  const match = MARKER_PATTERN.exec(comment);
  if (match === null) return undefined;
  return { namespace: match[1]!, name: match[2]! };
}

/** Judges a lookup (`found`, and the object's comment or null) against the marker we expect. */
export function judge(comment: string | null | undefined, found: boolean, expected: Marker): Inspection {
  if (!found) return { state: "missing" };
  const owner = parseMarker(comment);
  if (owner !== undefined && owner.namespace === expected.namespace && owner.name === expected.name) {
    return { state: "ours" };
  }
  return { state: "foreign", owner };
}

/** An object with the target name exists but was not created by Kompost for this resource; nothing was changed. */
export class ForeignObjectError extends UserFixableError {
  override readonly name: string = "ForeignObjectError";

  constructor(
    readonly kind: ObjectKind,
    readonly objectName: string,
    readonly owner: Marker | undefined,
    doing: string,
  ) {
    super("ForeignObject", doing, foreignMessage(kind, objectName, owner));
  }
}

/** Throws a `ForeignObjectError` if the inspection found an object that is not ours; missing or ours pass. */
export function requireOurs(
  inspection: Inspection,
  kind: ObjectKind,
  objectName: string,
  doing: string,
): asserts inspection is { readonly state: "ours" } | { readonly state: "missing" } {
  if (inspection.state === "foreign") throw new ForeignObjectError(kind, objectName, inspection.owner, doing);
}

function foreignMessage(kind: ObjectKind, objectName: string, owner: Marker | undefined): string {
  const label = `${kind} "${objectName}" already exists`;
  if (owner !== undefined) {
    return `${label} and belongs to PostgresDatabase ${owner.namespace}/${owner.name}; Kompost leaves it alone. Choose another name or naming strategy`;
  }
  return (
    `${label} and was not created by Kompost (it has no Kompost marker); Kompost leaves it alone. ` +
    `Choose another name, or remove or rename the existing ${kind}`
  );
}

/**
 * Where a database is born before it gets its final name: `kompost_pending_` and a
 * hash of the resource's namespace/name (48 bytes in all). CREATE DATABASE cannot share
 * a transaction with its marker, so Kompost creates the database under this name,
 * closed to every connection, and marks, locks down, opens and renames it in one
 * transaction. A database of this name is the half-made database of that resource:
 * finished on the next reconcile, or dropped with the resource.
 */
export const PENDING_DATABASE_PREFIX = "kompost_pending_";

/** The pending name of the database of the resource `owner` (see PENDING_DATABASE_PREFIX). */
export function pendingDatabaseName(owner: Marker): string {
  const marker = markerFor(owner.namespace, owner.name);
  return `${PENDING_DATABASE_PREFIX}${createHash("sha256").update(marker).digest("hex").slice(0, 32)}`;
}
