/**
 * Connection Secrets as a read/write unit: what a Secret should hold, whether the
 * stored one differs, and one write that puts it right. Knows nothing of any kind
 * of owner; the caller passes the ownerReference and labels.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import { errorMessage, isConflict, isNotFound } from "../../runtime/errors.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import { secretKind } from "../../runtime/resource-kind.js";

/** The longest name Kubernetes accepts for a Secret. */
export const MAX_SECRET_NAME_LENGTH = 253;

/** The longest label value Kubernetes accepts. */
const MAX_LABEL_VALUE_LENGTH = 63;

/** The Secret a controller wants: its place, its controller, its labels, annotations and the data it manages. */
export interface DesiredSecret {
  readonly namespace: string;
  readonly name: string;
  /** The controller ownerReference (controller=true). */
  readonly owner: V1OwnerReference;
  readonly labels: Readonly<Record<string, string>>;
  /** Annotations this Secret must carry; others are left alone. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Plain-text values of the keys this Secret is written for; other keys are left alone. */
  readonly data: Readonly<Record<string, string>>;
  /** Keys that must not be there (keys written earlier that are no longer wanted). */
  readonly removeKeys?: readonly string[];
}

/** The Secret wanted, decided from the stored one (undefined when there is none). */
export type DesiredSecretFor = (existing: V1Secret | undefined) => DesiredSecret;

/** What `writeSecret` did. */
export type SecretWrite = "created" | "updated" | "unchanged";

/** The Secret cannot be written as asked (its name is taken, or too long); nothing was written. */
export class SecretConflictError extends Error {
  override readonly name: string = "SecretConflictError";
}

/** A Secret of that name exists and the owner does not own it (no ownerReference with the owner's uid); it was left untouched. */
export class ForeignSecretError extends SecretConflictError {
  override readonly name = "ForeignSecretError";
}

/** The plain-text value of `key`, or undefined when the Secret or the key is missing. */
export function secretValue(secret: V1Secret | undefined, key: string): string | undefined {
  const encoded = secret?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}

/** A label value for any object name: the name when it fits, else its head, "-" and a hash of all of it. */
export function labelValueFor(name: string): string {
  if (name.length <= MAX_LABEL_VALUE_LENGTH) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, MAX_LABEL_VALUE_LENGTH - 9).replace(/[^a-z0-9]+$/, "")}-${hash}`;
}

/**
 * A hash of `data` (keys sorted) that changes whenever a value does: 64 hex digits of HMAC-SHA-256 under `key`.
 * For an annotation that tools such as Reloader or a pod-template checksum follow; the key (see newDataHashKey)
 * stays in the Secret, so a copy of the hash elsewhere cannot be used to guess the password offline.
 */
export function dataHash(data: Readonly<Record<string, string>>, key: string): string {
  const entries = Object.keys(data)
    .sort()
    .map((name) => [name, data[name]]);
  return createHmac("sha256", key).update(JSON.stringify(entries)).digest("hex");
}

/** A new random key for dataHash: 32 bytes, base64url. */
export function newDataHashKey(): string {
  return randomBytes(32).toString("base64url");
}

/** True when the stored Secret already holds everything `desired` asks for (extra keys, labels and annotations are fine). */
export function secretMatches(existing: V1Secret, desired: DesiredSecret): boolean {
  const labels = existing.metadata?.labels ?? {};
  const annotations = existing.metadata?.annotations ?? {};
  const controller = existing.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  return (
    controller?.uid === desired.owner.uid &&
    Object.entries(desired.labels).every(([key, value]) => labels[key] === value) &&
    Object.entries(desired.annotations ?? {}).every(([key, value]) => annotations[key] === value) &&
    Object.entries(desired.data).every(([key, value]) => secretValue(existing, key) === value) &&
    (desired.removeKeys ?? []).every((key) => existing.data?.[key] === undefined)
  );
}

/**
 * Creates the Secret when `existing` is undefined, else patches it (conditionally, on its
 * resourceVersion) when it differs from `desired`; writes nothing when it matches. Only a
 * Secret the owner already owns (an ownerReference with its uid) is ever changed: any other
 * is refused and left as it is, whatever its name, labels or data say. Given a function,
 * `desired` is decided from the stored Secret, again when a create finds the name taken.
 */
export async function writeSecret(
  client: KubeClient,
  existing: V1Secret | undefined,
  desiredFor: DesiredSecret | DesiredSecretFor,
): Promise<SecretWrite> {
  const decide = typeof desiredFor === "function" ? desiredFor : () => desiredFor;
  let desired = decide(existing);
  const doing = `while writing Secret "${desired.namespace}/${desired.name}"`;
  if (desired.name.length > MAX_SECRET_NAME_LENGTH) {
    throw new SecretConflictError(
      `${doing}: the name is longer than ${MAX_SECRET_NAME_LENGTH} characters; use a shorter resource name`,
    );
  }
  if (existing === undefined) {
    // `existing` may come from a cache that does not hold every Secret (others' Secrets, one
    // written a moment ago): a name that is taken after all is read and handled as existing.
    const taken = await createUnlessTaken(client, desired, doing);
    if (!taken) return "created";
    existing = taken;
    // Decided without it: decide again from what the Secret holds (its password, for one).
    desired = decide(existing);
  }
  requireOwnedBy(existing, desired, doing);
  if (secretMatches(existing, desired)) return "unchanged";
  await wrapApi(doing, () =>
    client.patch<V1Secret>(
      secretKind,
      { namespace: desired.namespace, name: desired.name },
      patchFor(existing, desired),
    ),
  );
  return "updated";
}

/** Reads one Secret (from a cache or the API server); undefined when it does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<V1Secret | undefined>;

/** Reads a Secret from the API server; undefined when it does not exist. */
export async function readSecret(client: KubeClient, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await client.get<V1Secret>(secretKind, { namespace, name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new Error(`while reading Secret "${namespace}/${name}": ${errorMessage(err)}`, { cause: err });
  }
}

/** Creates the Secret; when its name is taken (409 AlreadyExists), returns the Secret that holds it instead. */
async function createUnlessTaken(
  client: KubeClient,
  desired: DesiredSecret,
  doing: string,
): Promise<V1Secret | undefined> {
  try {
    await client.create<V1Secret>(secretKind, newSecret(desired));
    return undefined;
  } catch (err) {
    if (!isConflict(err)) throw new Error(`${doing}: ${errorMessage(err)}`, { cause: err });
  }
  const taken = await readSecret(client, desired.namespace, desired.name);
  if (!taken) throw new Error(`${doing}: the name was taken, then freed again (retrying)`);
  return taken;
}

function newSecret(desired: DesiredSecret): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      namespace: desired.namespace,
      name: desired.name,
      labels: { ...desired.labels },
      ...(desired.annotations !== undefined ? { annotations: { ...desired.annotations } } : {}),
      ownerReferences: [desired.owner],
    },
    data: encode(desired.data),
  };
}

function patchFor(existing: V1Secret, desired: DesiredSecret): object {
  const others = (existing.metadata?.ownerReferences ?? []).filter(
    (ref) => ref.controller !== true && ref.uid !== desired.owner.uid,
  );
  return {
    metadata: {
      resourceVersion: existing.metadata?.resourceVersion,
      labels: { ...desired.labels },
      ...(desired.annotations !== undefined ? { annotations: { ...desired.annotations } } : {}),
      ownerReferences: [...others, desired.owner],
    },
    // A merge patch: a null value removes the key.
    data: { ...Object.fromEntries((desired.removeKeys ?? []).map((key) => [key, null])), ...encode(desired.data) },
  };
}

function requireOwnedBy(existing: V1Secret, desired: DesiredSecret, doing: string): void {
  const refs = existing.metadata?.ownerReferences ?? [];
  const controller = refs.find((ref) => ref.controller === true);
  const controlledBy = controller === undefined ? "" : ` and is controlled by ${controller.kind} "${controller.name}"`;
  if (!refs.some((ref) => ref.uid === desired.owner.uid)) {
    throw new ForeignSecretError(
      `${doing}: it exists, was not created for this ${desired.owner.kind} (no ownerReference with its uid)${controlledBy}, and is left untouched; delete or rename that Secret, or rename the ${desired.owner.kind}`,
    );
  }
  if (controller !== undefined && controller.uid !== desired.owner.uid) {
    throw new SecretConflictError(
      `${doing}: it is controlled by ${controller.kind} "${controller.name}"; delete or rename that Secret`,
    );
  }
}

function encode(data: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString("base64")]));
}

async function wrapApi<T>(doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const hint = isConflict(err) ? " (it changed meanwhile; retrying)" : "";
    throw new Error(`${doing}: ${errorMessage(err)}${hint}`, { cause: err });
  }
}
