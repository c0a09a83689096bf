/**
 * What the instance controllers' Secret watch keeps: it sees every Secret where password
 * Secrets can be (cluster-wide for PostgresInstance), so it keeps only those an instance
 * references, and of those only the few metadata fields the controller reads. What a Secret
 * holds never decides: Secrets others create, with labels, annotations (kubectl's
 * last-applied-configuration holds a whole Secret), Kompost's finalizers or not, are dropped
 * before they are stored. Releasing a Secret no instance references reads it by name (see
 * password-hold.ts), so it need not be cached.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ReadonlyStore } from "../../runtime/cache.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";

/**
 * A `retain` for the Secret watch of one instance kind: keeps a Secret that an instance in
 * `instances()` references by passwordSecretRef as its name, namespace, uid, resourceVersion,
 * whole finalizer list (a conditional patch adding the hold writes it back) and
 * deletionTimestamp; drops every other.
 */
export function passwordSecretsOnly<T extends AnyInstance>(
  adapter: InstanceKindAdapter<T>,
  instances: () => ReadonlyStore<T>,
): (secret: KubernetesObject) => KubernetesObject | undefined {
  return (secret) => {
    const { name, namespace, uid, resourceVersion, finalizers, deletionTimestamp } = secret.metadata ?? {};
    const referenced = instances()
      .list()
      .some(
        (instance) => instance.spec.passwordSecretRef?.name === name && adapter.secretNamespace(instance) === namespace,
      );
    if (!referenced) return undefined;
    return {
      apiVersion: secret.apiVersion,
      kind: secret.kind,
      metadata: { name, namespace, uid, resourceVersion, finalizers, deletionTimestamp },
    };
  };
}
