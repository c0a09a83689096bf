/** The kompost.chuge.li/v1alpha1 API: generated types and what identifies each kind on the API server. */
import { crdSources, GROUP, VERSION } from "./schema/index.js";

export type { Condition, PasswordSecretRef, SslSpec } from "./generated/common.js";
export type { PostgresInstance, PostgresInstanceSpec, PostgresInstanceStatus } from "./generated/postgres-instance.js";
export type {
  PostgresClusterInstance,
  PostgresClusterInstanceSpec,
  PostgresClusterInstanceStatus,
} from "./generated/postgres-cluster-instance.js";
export type {
  ClusterInstanceRef,
  DatabaseParams,
  DatabaseUser,
  InstanceRef,
  PostgresDatabase,
  PostgresDatabaseSpec,
  PostgresDatabaseStatus,
} from "./generated/postgres-database.js";
export { GROUP, VERSION };

/** What a client needs to address one kind: group, version, kind, plural and scope. */
export interface KindDescriptor {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

function descriptor(kind: string): KindDescriptor {
  const source = crdSources.find((s) => s.kind === kind);
  if (!source) throw new Error(`no schema source for kind ${kind}`);
  return {
    group: source.group,
    version: source.version,
    kind,
    plural: source.plural,
    namespaced: source.scope === "Namespaced",
  };
}

/** The PostgresInstance kind. */
export const PostgresInstanceKind = descriptor("PostgresInstance");
/** The PostgresClusterInstance kind. */
export const PostgresClusterInstanceKind = descriptor("PostgresClusterInstance");
/** The PostgresDatabase kind. */
export const PostgresDatabaseKind = descriptor("PostgresDatabase");

/** The apiVersion string of every Kompost object. */
export const API_VERSION = `${GROUP}/${VERSION}`;
