/** Names one instance; a PostgresInstance and a PostgresClusterInstance of the same name are different keys. */
export type InstanceKey =
  | { readonly kind: "PostgresInstance"; readonly namespace: string; readonly name: string }
  | { readonly kind: "PostgresClusterInstance"; readonly name: string };

/** A stable text form of a key, for maps, logs and metric labels. */
export function instanceKeyString(key: InstanceKey): string {
  return key.kind === "PostgresInstance"
    ? `PostgresInstance/${key.namespace}/${key.name}`
    : `PostgresClusterInstance/${key.name}`;
}
