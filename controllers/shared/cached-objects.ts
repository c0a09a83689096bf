/**
 * What the operator's caches keep of the kinds it reconciles: one retain per kind, shared by every
 * controller that watches that kind (the function object is the informer's identity), so that
 * each kind is still listed and watched once. A tenant's labels, annotations, managedFields and
 * long finalizer lists do not stay in memory; Kompost's own annotations and finalizer stay
 * (bounded), and a digest stands for the labels and annotations.
 */
import { ALLOWED_NAMESPACES_ANNOTATION, MAX_ANNOTATION_LENGTH } from "../../services/access/allowed-namespaces.js";
import { digestWhenLonger, prefixOf, slimRetainer, type AnnotationBound } from "../../runtime/slim-object.js";
import { DELETION_POLICY_ANNOTATION, FINALIZER, ROTATE_PASSWORD_ANNOTATION } from "../constants.js";

/**
 * LIST page size of the kinds Kompost reconciles: an object may hold up to 1.5 MB before it is
 * slimmed, and a relist holds a page at once (1,000 objects are still listed in 10 requests).
 */
export const CACHED_KIND_PAGE_SIZE = 100;

/** The longest spec.extensions item kept as written: a valid one (name, version, schema, ensure) is far shorter. */
const MAX_EXTENSION_ITEM_LENGTH = 1024;

/** The only finalizer the controllers read on their kinds; of a long list, the others are not kept. */
const ownFinalizer = (finalizer: string): boolean => finalizer === FINALIZER;

/** The deletion policy, trimmed as naming.ts reads it; one too long to be any policy counts by its digest. */
const deletionPolicy: AnnotationBound = (value) => digestWhenLonger(64)(value.trim());

/**
 * spec.extensions holds items of any shape (a name or an object), which the CRD schema cannot
 * bound: an item longer than any valid one is kept as a short stand-in, which the controller
 * refuses as it would the item (InvalidExtension).
 */
function boundExtensions(spec: unknown): unknown {
  const extensions = (spec as { extensions?: unknown } | null)?.extensions;
  if (!Array.isArray(extensions)) return spec;
  const bounded = extensions.map((item: unknown) => {
    const length = JSON.stringify(item).length;
    return length <= MAX_EXTENSION_ITEM_LENGTH ? item : `(an item of ${length} characters)`;
  });
  return { ...(spec as object), extensions: bounded };
}

/** What every cache keeps of a PostgresDatabase: the deletion policy, the rotation request, spec and status. */
export const retainDatabase = slimRetainer({
  annotations: {
    [DELETION_POLICY_ANNOTATION]: deletionPolicy,
    // Compared with the token the Secret records; a long one by its digest, which changes with it.
    [ROTATE_PASSWORD_ANNOTATION]: digestWhenLonger(1024),
  },
  finalizers: ownFinalizer,
  spec: boundExtensions,
});

/** What every cache keeps of a PostgresInstance or PostgresClusterInstance: the allowed namespaces, spec and status. */
export const retainInstance = slimRetainer({
  // One character past the longest value read: a longer one is still refused as too long.
  annotations: { [ALLOWED_NAMESPACES_ANNOTATION]: prefixOf(MAX_ANNOTATION_LENGTH) },
  finalizers: ownFinalizer,
});
