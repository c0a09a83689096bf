/**
 * A finalizer on an instance's password Secret while the instance exists: deleting the
 * namespace (or the Secret) would otherwise take the password away before the instance's
 * PostgresDatabases have dropped what they created with it, and their deletion could never
 * finish. Released once no instance of the kind references the Secret any more.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ReadonlyStore } from "../../runtime/cache.js";
import { isNotFound } from "../../runtime/errors.js";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../../runtime/finalizers.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import { keyOf, keyString, secretKind, type ObjectKey } from "../../runtime/resource-kind.js";
import { FINALIZER } from "../constants.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";

/** The finalizer one kind of instance puts on the password Secrets it uses, e.g. "kompost.chuge.li/postgresinstance-password". */
export function passwordHoldFinalizer<T extends AnyInstance>(adapter: InstanceKindAdapter<T>): string {
  return `kompost.chuge.li/${adapter.controllerName}-password`;
}

/** Puts the hold on the instance's password Secret (one write, the first time); nothing for a plain password. */
export async function holdPasswordSecret<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  instance: T,
  secrets: ReadonlyStore<KubernetesObject>,
): Promise<void> {
  const name = instance.spec.passwordSecretRef?.name;
  if (!name) return;
  const key = { namespace: adapter.secretNamespace(instance), name };
  const finalizer = passwordHoldFinalizer(adapter);
  const secret = secrets.get(key) ?? (await readMetadata(client, key));
  // No new finalizer may be added to an object being deleted; the instance will report the missing Secret.
  if (!secret || secret.metadata?.deletionTimestamp || hasFinalizer(secret, finalizer)) return;
  await addFinalizer(client, secretKind, secret, finalizer);
}

/**
 * Releases the held Secrets of the namespace that no instance (other than a released one)
 * references (other than `leaving`, the instance being released now): after a reference
 * changed, or once the last instance using the Secret is gone.
 */
export async function releasePasswordSecrets<T extends AnyInstance>(
  client: KubeClient,
  adapter: InstanceKindAdapter<T>,
  namespace: string,
  stores: { readonly secrets: ReadonlyStore<KubernetesObject>; readonly instances: ReadonlyStore<T> },
  leaving?: ObjectKey,
): Promise<void> {
  const finalizer = passwordHoldFinalizer(adapter);
  const inUse = new Set(
    stores.instances
      .list()
      .filter((instance) => !leaving || keyString(keyOf(instance)) !== keyString(leaving))
      // One created a moment ago may not show its finalizer in the cache yet; only a released one does not count.
      .filter((instance) => !instance.metadata.deletionTimestamp || hasFinalizer(instance, FINALIZER))
      .filter((instance) => adapter.secretNamespace(instance) === namespace)
      .flatMap((instance) => (instance.spec.passwordSecretRef ? [instance.spec.passwordSecretRef.name] : [])),
  );
  const held = stores.secrets.list(namespace).filter((secret) => hasFinalizer(secret, finalizer));
  for (const secret of held) {
    if (!inUse.has(secret.metadata?.name ?? "")) await removeFinalizer(client, secretKind, secret, finalizer);
  }
}

async function readMetadata(client: KubeClient, key: ObjectKey): Promise<KubernetesObject | undefined> {
  try {
    return await client.get<KubernetesObject>(secretKind, key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
