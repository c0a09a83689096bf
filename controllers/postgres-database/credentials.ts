/**
 * The connection Secret of each role, which holds the password of record: the
 * password comes from the Secret when it has a usable one, else a new one is
 * generated (also when a rotation is due), and the Secret is written back only
 * when it differs from what it should say. The role on the server is then made
 * to match (see server.ts): the Secret is always written first, so a crash in
 * between leaves a password that the Secret knows and the next pass sets.
 */
import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { PostgresDatabaseKind, type PostgresDatabase } from "../../api/v1alpha1/index.js";
import type { ReadonlyStore } from "../../runtime/cache.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import { controllerOf, controllerReference } from "../../runtime/owner-references.js";
import type { EventFilter } from "../../runtime/predicates.js";
import { apiVersionOf } from "../../runtime/resource-kind.js";
import type { RoleKind } from "../../services/postgres/naming.js";
import { generatePassword, validateUserPassword } from "../../services/postgres/passwords.js";
import { UserFixableError } from "../../services/postgres/errors.js";
import {
  CONNECTION_SECRET_KEYS,
  connectionSecretData,
  connectionSecretName,
  type ConnectionDetails,
} from "../../services/secrets/connection-details.js";
import {
  dataHash,
  newDataHashKey,
  labelValueFor,
  secretValue,
  writeSecret,
  type DesiredSecret,
  type SecretReader,
  type SecretWrite,
} from "../../services/secrets/connection-secret.js";
import { decideRotation, rotationPeriodMs, type RotationCause } from "../../services/secrets/rotation.js";
import {
  checkSecretMetadata,
  definedEntries,
  renderExtraKeys,
  RESERVED_PREFIX,
} from "../../services/secrets/secret-spec.js";
import {
  DATA_HASH_ANNOTATION,
  DATA_HASH_KEY_ANNOTATION,
  DATABASE_LABEL,
  EXTRA_KEYS_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  ROTATE_PASSWORD_ANNOTATION,
} from "../constants.js";
import type { UsableInstance } from "../instances/instance-directory.js";

/** The label selector of the Secrets this controller writes (its owned watch). */
export const SECRET_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${DATABASE_LABEL}`;

/** LIST page size of the owned Secret watch: a Secret may hold up to 1 MiB, and a page is held in memory at once. */
export const SECRET_PAGE_SIZE = 50;

/**
 * Which owned-Secret events reconcile the owner: a deletion; a change of its labels or owners;
 * a change of its data or annotations after which the data is no longer as Kompost wrote it (its
 * data-hash annotation does not match), i.e. someone else's edit. Not a creation or a write of
 * Kompost's own, nor annotations that others add.
 */
export const secretNeedsRepair: EventFilter = {
  add: () => false,
  update: (oldObj, newObj) => {
    const [before, after] = [oldObj as V1Secret, newObj as V1Secret];
    const owning = (s: V1Secret): unknown[] => [s.metadata?.labels, s.metadata?.ownerReferences];
    if (!isDeepStrictEqual(owning(before), owning(after))) return true;
    const content = (s: V1Secret): unknown[] => [s.data, s.metadata?.annotations];
    return !isDeepStrictEqual(content(before), content(after)) && !asKompostWroteIt(after);
  },
};

/** The kept data (see ownedSecretRetainer) hashes to the Secret's data-hash annotation, which Kompost writes with it. */
function asKompostWroteIt(secret: V1Secret): boolean {
  const data = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]),
  );
  const annotations = secret.metadata?.annotations ?? {};
  const key = annotations[DATA_HASH_KEY_ANNOTATION];
  return key !== undefined && annotations[DATA_HASH_ANNOTATION] === dataHash(data, key);
}

/** What the Secret watch keeps of a Secret (see ownedSecretRetainer); undefined drops it before it is stored. */
export type SecretRetainer = (obj: KubernetesObject) => V1Secret | undefined;

/**
 * What the Secret watch keeps of a Secret: only a connection Secret of a PostgresDatabase that
 * `databases` (the operator's PostgresDatabase cache) holds: its controller ownerReference names
 * that resource, with its uid, and its name is that resource's psql-<name>-app or -inspector.
 * Of that only what a reconcile reads: name, namespace, uid, resourceVersion, creationTimestamp,
 * labels, ownerReferences, Kompost's own annotations and those the resource's spec.secret asks
 * for, the connection keys and the extra keys its annotation lists. Every other Secret is dropped
 * before it is stored, so Secrets others create, or forge with Kompost's labels, an ownerReference
 * and an extra-keys annotation, cost no memory: at most two per real PostgresDatabase, its own.
 * The cache is read when a Secret event arrives, so the Secret watch must list after the
 * PostgresDatabase cache has synced (Operator.start does). Make one per cache and share it:
 * the function object is the Secret informer's identity (see InformerCache.informer).
 */
export function ownedSecretRetainer(databases: () => Pick<ReadonlyStore<PostgresDatabase>, "get">): SecretRetainer {
  return (obj) => {
    const owner = controllerOf(obj);
    const { name, namespace } = obj.metadata ?? {};
    if (owner?.kind !== PostgresDatabaseKind.kind || owner.apiVersion !== apiVersionOf(PostgresDatabaseKind)) return;
    if (name !== connectionSecretName(owner.name, "app") && name !== connectionSecretName(owner.name, "inspector"))
      return;
    const db = databases().get({ namespace: namespace ?? "", name: owner.name });
    if (db === undefined || db.metadata.uid !== owner.uid) return;
    const { uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences } = obj.metadata ?? {};
    const data = (obj as V1Secret).data ?? {};
    const kept = [...CONNECTION_SECRET_KEYS, ...extraKeysOf(obj)];
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: {
        name,
        namespace,
        uid,
        resourceVersion,
        creationTimestamp,
        labels,
        annotations: annotationsRead(annotations, db),
        ownerReferences,
      },
      data: Object.fromEntries(kept.filter((key) => key in data).map((key) => [key, data[key]!])),
    };
  };
}

/** The annotations a reconcile reads of its Secret: Kompost's own and those spec.secret.annotations sets. */
function annotationsRead(
  annotations: Record<string, string> | undefined,
  db: PostgresDatabase,
): Record<string, string> | undefined {
  if (annotations === undefined) return undefined;
  const asked = db.spec.secret?.annotations ?? {};
  return Object.fromEntries(
    Object.entries(annotations).filter(([key]) => key.startsWith(RESERVED_PREFIX) || Object.hasOwn(asked, key)),
  );
}

/** The rotation period of a database's passwords: its spec.passwordRotation.every, else its instance's; undefined for none. */
export function rotationPeriodOf(db: PostgresDatabase, instance: KubernetesObject | undefined): string | undefined {
  const fallback = (instance as { spec?: { passwordRotation?: { every?: unknown } } } | undefined)?.spec
    ?.passwordRotation?.every;
  return db.spec.passwordRotation?.every ?? (typeof fallback === "string" ? fallback : undefined);
}

/** What the credentials step decided for one role. */
export interface Credentials {
  readonly secretName: string;
  /** The password of record, now in the Secret. Never log it. */
  readonly password: string;
  readonly write: SecretWrite;
  /** Why the Secret's DB_PASS could not be used and a new password was generated; undefined when it could. */
  readonly regenerated?: string;
  /** Why a new password replaced a usable one; undefined when none did. */
  readonly rotated?: RotationCause;
  /** The rotate-password token the password was made for, as the Secret now says; undefined when none. */
  readonly rotationToken?: string;
  /** When the rotation schedule falls due next (ms since the epoch); undefined without a schedule. */
  readonly nextRotationMs?: number;
}

/** Everything the step needs about one role. */
export interface RoleTarget {
  readonly role: RoleKind;
  readonly username: string;
  readonly database: string;
  /** The rotation period (e.g. "90d"): the resource's, else its instance's; undefined for none. */
  readonly rotateEvery?: string;
  /** When the role's password was last set, as the status says (RFC 3339); undefined when unknown. */
  readonly passwordSetAt?: string;
  /** The clock. */
  readonly now: Date;
}

/**
 * Decides the role's password from its Secret (a new one when a rotation is due), and writes the
 * Secret when it is missing or differs: the connection keys, spec.secret's extra keys, labels and
 * annotations, and Kompost's own annotations (the data's hash, the extra keys written, the rotate
 * token applied). spec.secret that cannot be applied throws InvalidSecretSpecError before anything is written.
 */
export async function reconcileCredentials(
  client: KubeClient,
  read: SecretReader,
  db: PostgresDatabase,
  instance: UsableInstance,
  target: RoleTarget,
): Promise<Credentials> {
  checkSecretMetadata(db.spec.secret);
  const secretName = connectionSecretName(db.metadata.name ?? "", target.role);
  const existing = await read(db.metadata.namespace ?? "", secretName);
  // A Secret the cache did not hold may turn out to exist when it is created: writeSecret then
  // decides again from it, so its DB_PASS stays the password of record. The last plan is what was written.
  let plan = planSecret(db, instance, target, secretName, existing);
  const write = await writeSecret(client, existing, (stored) => {
    if (stored !== existing) plan = planSecret(db, instance, target, secretName, stored);
    return plan.desired;
  });
  const { password, regenerated, rotation } = plan;
  return {
    secretName,
    password,
    write,
    ...(regenerated !== undefined ? { regenerated } : {}),
    ...(rotation.cause !== undefined ? { rotated: rotation.cause } : {}),
    ...(rotation.token !== undefined ? { rotationToken: rotation.token } : {}),
    ...(rotation.nextDueMs !== undefined ? { nextRotationMs: rotation.nextDueMs } : {}),
  };
}

/** What one role's Secret should hold given the stored one: the password of record (or a rotated one) and everything built from it. */
interface SecretPlan {
  readonly desired: DesiredSecret;
  readonly password: string;
  readonly regenerated?: string;
  readonly rotation: { cause?: RotationCause; token?: string; nextDueMs?: number };
}

function planSecret(
  db: PostgresDatabase,
  instance: UsableInstance,
  target: RoleTarget,
  secretName: string,
  existing: V1Secret | undefined,
): SecretPlan {
  const spec = db.spec.secret;
  const rotation = rotationFor(db, existing, target);
  const { password, regenerated } = rotation.cause ? { password: generatePassword() } : passwordOfRecord(existing);
  const details = detailsFor(instance, target, password);
  const extra = renderExtraKeys(spec, details);
  const data = { ...connectionSecretData(details), ...extra };
  const hashKey = existing?.metadata?.annotations?.[DATA_HASH_KEY_ANNOTATION] ?? newDataHashKey();
  const desired: DesiredSecret = {
    namespace: db.metadata.namespace ?? "",
    name: secretName,
    owner: controllerReference(db),
    labels: {
      ...definedEntries(spec?.labels),
      [MANAGED_BY_LABEL]: MANAGED_BY,
      [DATABASE_LABEL]: labelValueFor(db.metadata.name ?? ""),
    },
    annotations: {
      ...definedEntries(spec?.annotations),
      [DATA_HASH_ANNOTATION]: dataHash(data, hashKey),
      [DATA_HASH_KEY_ANNOTATION]: hashKey,
      [EXTRA_KEYS_ANNOTATION]: Object.keys(extra).sort().join(","),
      ...(rotation.token !== undefined ? { [ROTATE_PASSWORD_ANNOTATION]: rotation.token } : {}),
    },
    data,
    removeKeys: extraKeysOf(existing).filter((key) => !(key in data)),
  };
  return { desired, password, rotation, ...(regenerated !== undefined ? { regenerated } : {}) };
}

/**
 * Whether this role's password is due for rotation, and the token its password is (then) made
 * for. A Secret about to be created gets a new password anyway: no rotation, but it records the
 * token already requested. Without a known set time the schedule counts from the Secret's creation.
 */
function rotationFor(
  db: PostgresDatabase,
  existing: V1Secret | undefined,
  target: RoleTarget,
): { cause?: RotationCause; token?: string; nextDueMs?: number } {
  const requestedToken = db.metadata.annotations?.[ROTATE_PASSWORD_ANNOTATION];
  const nowMs = target.now.getTime();
  const periodMs = target.rotateEvery !== undefined ? rotationPeriodMs(target.rotateEvery) : undefined;
  if (existing === undefined) {
    return { token: requestedToken, ...(periodMs !== undefined ? { nextDueMs: nowMs + periodMs } : {}) };
  }
  const appliedToken = existing.metadata?.annotations?.[ROTATE_PASSWORD_ANNOTATION];
  const setAt = target.passwordSetAt ?? existing.metadata?.creationTimestamp;
  const setAtMs = setAt === undefined ? undefined : new Date(setAt).getTime();
  const decision = decideRotation({ requestedToken, appliedToken, periodMs, setAtMs, nowMs });
  const token = decision.cause === "token" ? requestedToken : appliedToken;
  return { ...decision, ...(token !== undefined ? { token } : {}) };
}

function detailsFor(instance: UsableInstance, target: RoleTarget, password: string): ConnectionDetails {
  const { hostname, port, ssl } = instance.spec;
  return {
    host: hostname,
    port,
    database: target.database,
    user: target.username,
    password,
    ssl: { enabled: ssl?.enabled ?? false, verify: ssl?.verify ?? "verify_none", ca: ssl?.ca },
  };
}

/** The extra keys Kompost wrote into a Secret earlier, as its annotation lists them. */
function extraKeysOf(secret: KubernetesObject | undefined): string[] {
  const listed = secret?.metadata?.annotations?.[EXTRA_KEYS_ANNOTATION] ?? "";
  return listed.split(",").filter((key) => key !== "" && !(CONNECTION_SECRET_KEYS as readonly string[]).includes(key));
}

/** The Secret's DB_PASS when usable; else a generated password and why (never quoting the old value). */
function passwordOfRecord(existing: V1Secret | undefined): { password: string; regenerated?: string } {
  const current = secretValue(existing, "DB_PASS");
  if (existing === undefined) return { password: generatePassword() };
  if (current === undefined) return { password: generatePassword(), regenerated: "DB_PASS was missing" };
  try {
    validateUserPassword(current);
    return { password: current };
  } catch (err) {
    if (!(err instanceof UserFixableError)) throw err;
    return { password: generatePassword(), regenerated: err.message };
  }
}
