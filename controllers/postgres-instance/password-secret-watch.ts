/**
 * What the instance controllers' Secret watch keeps: it sees every Secret where password
 * Secrets can be (cluster-wide for PostgresInstance), so it keeps only those an instance
 * references or Kompost holds with a finalizer, and of those only the few metadata fields the
 * controller reads. Secrets others create, with labels, annotations (kubectl's
 * last-applied-configuration holds a whole Secret) or not, are dropped before they are stored.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ReadonlyStore } from "../../runtime/cache.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";

/** The prefix of every finalizer Kompost puts on an object. */
const KOMPOST_FINALIZER_PREFIX = "kompost.chuge.li/";

/**
 * A `retain` for the Secret watch of one instance kind: keeps a Secret that an instance in
 * `instances()` references by passwordSecretRef, or that carries a Kompost finalizer, as its
 * name, namespace, uid, resourceVersion, finalizers and deletionTimestamp; drops every other.
 */
export function passwordSecretsOnly<T extends AnyInstance>(
  adapter: InstanceKindAdapter<T>,
  instances: () => ReadonlyStore<T>,
): (secret: KubernetesObject) => KubernetesObject | undefined {
  return (secret) => {
    const { name, namespace, uid, resourceVersion, finalizers, deletionTimestamp } = secret.metadata ?? {};
    const held = finalizers?.some((finalizer) => finalizer.startsWith(KOMPOST_FINALIZER_PREFIX)) ?? false;
    const referenced = instances()
      .list()
      .some(
        (instance) => instance.spec.passwordSecretRef?.name === name && adapter.secretNamespace(instance) === namespace,
      );
    if (!held && !referenced) return undefined;
    return {
      apiVersion: secret.apiVersion,
      kind: secret.kind,
      metadata: { name, namespace, uid, resourceVersion, finalizers, deletionTimestamp },
    };
  };
}
