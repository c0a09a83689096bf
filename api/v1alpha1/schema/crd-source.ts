/** A JSON Schema node as the CRD's openAPIV3Schema accepts it (with Kubernetes' x- extensions). */
export type SchemaNode = { readonly [key: string]: unknown };

/** One printer column of `kubectl get`. */
export interface PrinterColumn {
  readonly name: string;
  readonly type: "string" | "integer" | "number" | "boolean" | "date";
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

/** Everything that defines one kind: the single source both its CRD and its TypeScript types are rendered from. */
export interface CrdSource {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly scope: "Namespaced" | "Cluster";
  readonly description: string;
  readonly printerColumns: readonly PrinterColumn[];
  readonly spec: SchemaNode;
  readonly status: SchemaNode;
}

/** The API group of every Kompost kind. */
export const GROUP = "kompost.chuge.li";
/** The one served and stored version. */
export const VERSION = "v1alpha1";
