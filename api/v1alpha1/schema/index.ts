import type { CrdSource } from "./crd-source.js";
import { postgresClusterInstance } from "./postgres-cluster-instance.js";
import { postgresDatabase } from "./postgres-database.js";
import { postgresInstance } from "./postgres-instance.js";

/** Every kind of the API, in the order their files are rendered. */
export const crdSources: readonly CrdSource[] = [postgresInstance, postgresClusterInstance, postgresDatabase];

export { GROUP, VERSION } from "./crd-source.js";
export type { CrdSource } from "./crd-source.js";
