import { GROUP, VERSION, type CrdSource } from "./crd-source.js";
import { instancePrinterColumns, instanceSpecSchema, instanceStatusSchema } from "./common.js";

/** A PostgreSQL server that databases in every namespace (or those its annotation allows) can be created on. */
export const postgresClusterInstance: CrdSource = {
  group: GROUP,
  version: VERSION,
  kind: "PostgresClusterInstance",
  plural: "postgresclusterinstances",
  singular: "postgresclusterinstance",
  shortNames: ["pgcinst"],
  categories: ["kompost"],
  scope: "Cluster",
  description:
    "A cluster-wide PostgreSQL server, registered by a platform operator, on which PostgresDatabase resources of any namespace (or of those its kompost.chuge.li/allowed-namespaces annotation admits) are created.",
  printerColumns: instancePrinterColumns,
  spec: instanceSpecSchema("The Secret is read from the operator's namespace."),
  status: instanceStatusSchema,
};
