import { GROUP, VERSION, type CrdSource } from "./crd-source.js";
import { instancePrinterColumns, instanceSpecSchema, instanceStatusSchema } from "./common.js";

/** A PostgreSQL server that databases in its own namespace (and namespaces it allows) can be created on. */
export const postgresInstance: CrdSource = {
  group: GROUP,
  version: VERSION,
  kind: "PostgresInstance",
  plural: "postgresinstances",
  singular: "postgresinstance",
  shortNames: ["pginst"],
  categories: ["kompost"],
  scope: "Namespaced",
  description:
    "A PostgreSQL server, registered by a platform operator, on which PostgresDatabase resources of this namespace (and of namespaces its kompost.chuge.li/allowed-namespaces annotation admits) are created.",
  printerColumns: instancePrinterColumns,
  spec: instanceSpecSchema("The Secret is read from the instance's own namespace."),
  status: instanceStatusSchema,
};
