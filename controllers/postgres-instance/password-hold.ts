/**
 * A finalizer on an instance's password Secret while the instance exists: deleting the
 * namespace (or the Secret) would otherwise take the password away before the instance's
 * PostgresDatabases have dropped what they created with it, and their deletion could never
 * finish. Which Secrets an instance holds is recorded in its status.heldPasswordSecrets, never
 * read from the Secrets: a tenant can put Kompost's finalizer on any Secret of its own.
 *
 * The steps of a reconcile, so that a kill between any two leaves every held Secret recorded:
 * record the referenced Secret (with those recorded already), hold it, release the recorded ones
 * no longer referenced, and let the status write of the reconcile record what is still held.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ReadonlyStore } from "../../runtime/cache.js";
import { errorMessage, isConflict, isNotFound } from "../../runtime/errors.js";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../../runtime/finalizers.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import { keyOf, keyString, secretKind, type ObjectKey } from "../../runtime/resource-kind.js";
import type { StatusMutator, StatusOf } from "../../runtime/status.js";
import { FINALIZER } from "../constants.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";

/**
 * Page size of the one-time search for Secrets an older Kompost held for an instance: small, since
 * each listed Secret's metadata (up to about 1.5 MB of a tenant's finalizers) is in memory at once.
 */
const LEGACY_PAGE_SIZE = 20;

/** The finalizer one kind of instance puts on the password Secrets it uses, e.g. "kompost.chuge.li/postgresinstance-password". */
export function passwordHoldFinalizer<T extends AnyInstance>(adapter: InstanceKindAdapter<T>): string {
  return `kompost.chuge.li/${adapter.controllerName}-password`;
}

/**
 * Records the instance's password Secret in status.heldPasswordSecrets (when it is not yet), then
 * puts the hold on it (one write, the first time); nothing for a plain password. Returns the
 * instance as stored after the record.
 */
export async function holdPasswordSecret<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  instance: T,
  secrets: ReadonlyStore<KubernetesObject>,
): Promise<T> {
  const name = instance.spec.passwordSecretRef?.name;
  if (!name) return instance;
  const recorded = await recordHeld(client, adapter, instance, name);
  const key = { namespace: adapter.secretNamespace(instance), name };
  const finalizer = passwordHoldFinalizer(adapter);
  const secret = secrets.get(key) ?? (await readSecretMetadata(client, key));
  // No new finalizer may be added to an object being deleted; the instance will report the missing Secret.
  if (!secret || secret.metadata?.deletionTimestamp || hasFinalizer(secret, finalizer)) return recorded;
  // The cache keeps a referenced Secret's whole finalizer list, so the conditional patch keeps the others'.
  await addFinalizer(client, secretKind, secret, finalizer);
  return recorded;
}

/**
 * Releases the Secrets the instance holds and no longer needs: those recorded (or, for an
 * instance an older Kompost held, carrying the hold in the Secret's namespace) other than the
 * referenced one, or all of them when `deleting`, except those another live instance of the kind
 * references. Each is read by name and loses only the hold. Returns what the instance still holds
 * and what it released, for its status (see `heldPasswordSecretsMutator`).
 */
export async function releasePasswordSecrets<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  instance: T,
  instances: ReadonlyStore<T>,
  deleting: boolean,
): Promise<HeldPasswordSecrets> {
  const namespace = adapter.secretNamespace(instance);
  const finalizer = passwordHoldFinalizer(adapter);
  const referenced = deleting ? undefined : instance.spec.passwordSecretRef?.name;
  const inUse = referencedByOthers(adapter, instance, instances);
  const held = await heldSecrets(client, adapter, instance);
  const kept = referenced ? [referenced] : [];
  const released: string[] = [];
  for (const name of new Set(held)) {
    if (name === referenced) continue;
    if (inUse.has(name)) kept.push(name);
    else {
      await releaseSecret(client, { namespace, name }, finalizer);
      released.push(name);
    }
  }
  return { held: kept, released };
}

/** What an instance holds after `releasePasswordSecrets`, and what that released. */
export interface HeldPasswordSecrets {
  readonly held: readonly string[];
  readonly released: readonly string[];
}

/**
 * The status change that records what `releasePasswordSecrets` left held: drops the names it
 * released and adds those it holds. A name recorded since it read the instance stays, to be
 * released by the next reconcile.
 */
export function heldPasswordSecretsMutator<T extends AnyInstance>({
  held,
  released,
}: HeldPasswordSecrets): StatusMutator<StatusOf<T>, T> {
  return (status) => {
    const others = (status.heldPasswordSecrets ?? []).filter(
      (name) => !released.includes(name) && !held.includes(name),
    );
    status.heldPasswordSecrets = [...held, ...others];
  };
}

/** Adds `name` to status.heldPasswordSecrets with a conditional merge patch (409 → read again); returns the stored instance. */
async function recordHeld<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  instance: T,
  name: string,
): Promise<T> {
  let current = instance;
  for (let attempt = 1; ; attempt++) {
    const recorded = await heldSecrets(client, adapter, current);
    if (current.status?.heldPasswordSecrets && recorded.includes(name)) return current;
    // Only this list: observedGeneration is for the report to set, with the conditions it describes.
    const patch = {
      metadata: { resourceVersion: current.metadata.resourceVersion },
      status: { heldPasswordSecrets: recorded.includes(name) ? recorded : [...recorded, name] },
    };
    try {
      return await client.patch<T>(adapter.kind, keyOf(current), patch, { subresource: "status" });
    } catch (err) {
      if (!isConflict(err) || attempt >= 5) {
        const what = `${adapter.kind.kind} "${keyString(keyOf(instance))}"`;
        throw new Error(`while recording password Secret "${name}" as held by ${what}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      current = await client.get<T>(adapter.kind, keyOf(current));
    }
  }
}

/**
 * The Secrets the instance holds: those recorded in its status or, for an instance a Kompost
 * that did not record them reconciled, those of its Secret namespace that carry the hold.
 */
async function heldSecrets<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  instance: T,
): Promise<string[]> {
  return instance.status?.heldPasswordSecrets ?? (await legacyHeld(client, adapter, instance));
}

/** The password Secret names that live instances of the kind other than `instance` reference in its Secret namespace. */
function referencedByOthers<T extends AnyInstance>(
  adapter: InstanceKindAdapter<T>,
  instance: T,
  instances: ReadonlyStore<T>,
): Set<string> {
  const self = keyString(keyOf(instance));
  const namespace = adapter.secretNamespace(instance);
  return new Set(
    instances
      .list()
      .filter((other) => keyString(keyOf(other)) !== self)
      // One created a moment ago may not show its finalizer in the cache yet; only a released one does not count.
      .filter((other) => !other.metadata.deletionTimestamp || hasFinalizer(other, FINALIZER))
      .filter((other) => adapter.secretNamespace(other) === namespace)
      .flatMap((other) => (other.spec.passwordSecretRef ? [other.spec.passwordSecretRef.name] : [])),
  );
}

/**
 * The Secrets an instance reconciled by a Kompost that did not record its holds may hold: those
 * of its Secret namespace carrying the hold, found once (the next status write records them).
 * Nothing for an instance no Kompost reconciled yet (no conditions), which holds nothing.
 */
async function legacyHeld<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  instance: T,
): Promise<string[]> {
  if (!instance.status?.conditions) return [];
  const finalizer = passwordHoldFinalizer(adapter);
  const names: string[] = [];
  let page: string | undefined;
  do {
    const namespace = adapter.secretNamespace(instance);
    const options = { namespace, metadataOnly: true, limit: LEGACY_PAGE_SIZE, ...(page ? { continue: page } : {}) };
    const result = await client.list<KubernetesObject>(secretKind, options);
    for (const secret of result.items) {
      if (hasFinalizer(secret, finalizer)) names.push(secret.metadata?.name ?? "");
    }
    page = result.continue;
  } while (page);
  return names;
}

/** Removes the hold from the Secret as stored now (read by name: the cache may not hold it), keeping every other finalizer. */
async function releaseSecret(client: KubeClient, key: ObjectKey, finalizer: string): Promise<void> {
  const secret = await readSecretMetadata(client, key);
  if (secret && hasFinalizer(secret, finalizer)) await removeFinalizer(client, secretKind, secret, finalizer);
}

async function readSecretMetadata(client: KubeClient, key: ObjectKey): Promise<KubernetesObject | undefined> {
  try {
    return await client.get<KubernetesObject>(secretKind, key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
