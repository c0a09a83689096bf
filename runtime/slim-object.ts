/**
 * Slim copies of the objects a controller reconciles, for its cache: a tenant may put up to
 * 256 kB of annotations, any number of labels, and the server adds managedFields, on every
 * object; a cache of whole objects holds all of it for as long as the object exists. A slim
 * copy keeps what a reconcile reads and, in place of the labels and annotations it drops, a
 * digest of them, so that a change of any of them is still seen (see metadataDigestOf).
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { createHash } from "node:crypto";

/**
 * The annotation of a slim copy that holds the digest of the labels and annotations the object
 * has on the API server. Not a valid annotation key ("~"), so no object on the server carries it,
 * and a copy never goes back to the server whole (finalizer and status writes are patches of
 * their own fields).
 */
export const METADATA_DIGEST_KEY = "kompost.chuge.li/~metadata-digest";

/**
 * Set on a slim copy whose finalizer list was cut to the finalizers its controllers read: a
 * finalizer write must then read the object's whole list first (see finalizersCut).
 */
export const FINALIZERS_CUT_KEY = "kompost.chuge.li/~finalizers-cut";

/** A finalizer list longer than this many characters (as JSON) is cut on a slim copy. */
const MAX_FINALIZERS_LENGTH = 2048;

/** What of an annotation's value a slim copy keeps: the value, a prefix of it, or a stand-in. */
export type AnnotationBound = (value: string) => string;

/** What a slim copy keeps besides the object's identity, finalizers, spec and status. */
export interface SlimOptions {
  /** The annotations a reconcile reads, each with what of its value is kept; every other is dropped. */
  readonly annotations: Readonly<Record<string, AnnotationBound>>;
  /** The finalizers a reconcile reads; of a list too long to keep, only these are kept. */
  readonly finalizers: (finalizer: string) => boolean;
  /** What of the spec is kept; default all of it (the CRD schema bounds it). */
  readonly spec?: (spec: unknown) => unknown;
}

/** A retain function (see InformerOptions.retain) that always keeps the object, slimmed. */
export type SlimRetainer = (obj: KubernetesObject) => KubernetesObject;

/**
 * A retain for a reconciled kind: keeps apiVersion, kind, the metadata a reconcile reads (name,
 * namespace, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp, finalizers:
 * of a long list only those `options` names, see FINALIZERS_CUT_KEY), the annotations `options`
 * names (bounded), the digest of all labels and annotations, spec and status; drops
 * managedFields, labels, ownerReferences and every other annotation. Applied to a
 * slim copy, it gives the copy back unchanged. Make one per kind and share it: the function
 * object is the informer's identity (see InformerCache.informer).
 */
export function slimRetainer(options: SlimOptions): SlimRetainer {
  return (obj) => {
    const { metadata = {} } = obj;
    const annotations: Record<string, string> = {};
    for (const [key, bound] of Object.entries(options.annotations)) {
      const value = metadata.annotations?.[key];
      if (value !== undefined) annotations[key] = bound(value);
    }
    annotations[METADATA_DIGEST_KEY] = metadataDigestOf(obj);
    let finalizers = metadata.finalizers;
    if (finalizersCut(obj) || JSON.stringify(finalizers ?? []).length > MAX_FINALIZERS_LENGTH) {
      finalizers = finalizers?.filter(options.finalizers);
      annotations[FINALIZERS_CUT_KEY] = "true";
    }
    const { spec, status } = obj as KubernetesObject & { spec?: unknown; status?: unknown };
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: definedEntries({
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resourceVersion: metadata.resourceVersion,
        generation: metadata.generation,
        creationTimestamp: metadata.creationTimestamp,
        deletionTimestamp: metadata.deletionTimestamp,
        finalizers,
        annotations,
      }),
      ...definedEntries({ spec: spec !== undefined && options.spec ? options.spec(spec) : spec, status }),
    };
  };
}

/**
 * A digest of the object's labels and annotations as the API server holds them, the same for
 * the object and its slim copy: what to compare to see that any of them changed.
 */
export function metadataDigestOf(obj: KubernetesObject): string {
  const { labels, annotations } = obj.metadata ?? {};
  const kept = annotations?.[METADATA_DIGEST_KEY];
  if (kept !== undefined) return kept;
  return createHash("sha256")
    .update(JSON.stringify([sortedEntries(labels), sortedEntries(annotations)]))
    .digest("base64url");
}

/** True for a slim copy whose finalizer list was cut: only the finalizers its controllers read are on it. */
export function finalizersCut(obj: KubernetesObject): boolean {
  return obj.metadata?.annotations?.[FINALIZERS_CUT_KEY] !== undefined;
}

/** Keeps a value of at most `length` characters; of a longer one, its first `length` + 1 (still too long for any check). */
export function prefixOf(length: number): AnnotationBound {
  return (value) => (value.length <= length ? value : value.slice(0, length + 1));
}

/** Keeps a value of at most `length` characters; a longer one by its SHA-256 digest, so that a change of it still shows. */
export function digestWhenLonger(length: number): AnnotationBound {
  return (value) =>
    value.length <= length ? value : `sha256:${createHash("sha256").update(value).digest("base64url")}`;
}

function sortedEntries(map: Readonly<Record<string, string>> | undefined): [string, string][] {
  return Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function definedEntries<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
