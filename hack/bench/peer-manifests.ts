/**
 * What `make bench` gives its Go peer, movetokube/postgres-operator ("ext-postgres-operator"): its
 * environment, its RBAC placed in a namespace, and for each database one `Postgres` and two
 * `PostgresUser`s (WRITE and READ), the same work as one Kompost PostgresDatabase.
 */
import type { KubernetesObject } from "@kubernetes/client-node";

/** The peer's API group and version. */
export const PEER_API = { group: "db.movetokube.com", version: "v1alpha1" } as const;

/** The peer's plurals (`Postgres` is its own plural). */
export const PEER_PLURALS = { database: "postgres", user: "postgresusers" } as const;

/** The privileges of the two users of each database: read-write like Kompost's app role, read-only like its inspector. */
export const PEER_USERS = [
  { suffix: "write", privileges: "WRITE" },
  { suffix: "read", privileges: "READ" },
] as const;

/** The Secrets' name prefix: the peer names each `<secretName>-<PostgresUser name>`. */
export const PEER_SECRET_PREFIX = "peer";

/** Where the peer reaches PostgreSQL, and the namespace it watches. */
export interface PeerTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A file holding the CA certificate that signed the server's. */
  readonly caPath: string;
  readonly watchNamespace: string;
}

/**
 * The peer's environment (pkg/config/config.go): one connection URL built as
 * postgresql://USER:PASS@HOST/DEFAULT_DATABASE?URI_ARGS, verified TLS as Kompost uses, no cloud
 * provider, and a cache limited to the bench's namespace.
 */
export function peerEnvironment(target: PeerTarget): Record<string, string> {
  return {
    POSTGRES_HOST: `${target.host}:${target.port}`,
    POSTGRES_USER: target.user,
    POSTGRES_PASS: target.password,
    POSTGRES_URI_ARGS: `sslmode=verify-full&sslrootcert=${target.caPath}`,
    POSTGRES_DEFAULT_DATABASE: "postgres",
    POSTGRES_CLOUD_PROVIDER: "",
    WATCH_NAMESPACE: target.watchNamespace,
  };
}

/**
 * The objects of database `index`: a `Postgres` (dropped on delete, with rights on schema public)
 * and its two users. `stem` tells the objects of one run from another's (the database is peer_<stem>_<index>).
 */
export function peerDatabase(index: number, namespace: string, stem = "db"): KubernetesObject[] {
  const name = peerDatabaseName(index, stem);
  const database = {
    apiVersion: `${PEER_API.group}/${PEER_API.version}`,
    kind: "Postgres",
    metadata: { name, namespace },
    // schemas: the peer grants its reader and writer group roles rights only in the schemas listed;
    // without one, the read-write user could not create a table (PUBLIC lost CREATE on public in 15).
    spec: { database: `peer_${stem}_${index}`, dropOnDelete: true, schemas: ["public"] },
  };
  const users = PEER_USERS.map(({ suffix, privileges }) => ({
    apiVersion: `${PEER_API.group}/${PEER_API.version}`,
    kind: "PostgresUser",
    metadata: { name: `${name}-${suffix}`, namespace },
    spec: { role: `peer_${stem}_${index}_${suffix}`, database: name, secretName: PEER_SECRET_PREFIX, privileges },
  }));
  return [database, ...users];
}

/** The `Postgres` object's name of database `index`. */
export function peerDatabaseName(index: number, stem = "db"): string {
  return `${stem}-${index}`;
}

/** The names of the PostgresUsers of database `index`, in PEER_USERS order. */
export function peerUserNames(index: number, stem = "db"): string[] {
  return PEER_USERS.map(({ suffix }) => `${peerDatabaseName(index, stem)}-${suffix}`);
}

/** The name the peer gives the Secret of a PostgresUser (`<secretName>-<name>`, KEEP_SECRET_NAME unset). */
export function peerSecretName(userName: string): string {
  return `${PEER_SECRET_PREFIX}-${userName}`;
}

/** True once the peer says it is done with a Postgres or PostgresUser (`status.succeeded`). */
export function peerSucceeded(object: KubernetesObject & { status?: unknown }): boolean {
  return (object.status as { succeeded?: unknown } | undefined)?.succeeded === true;
}

/**
 * The peer's config/rbac objects as its kustomization would place them in `namespace`: namespaced
 * objects get the namespace, and so do the ServiceAccount subjects of (Cluster)RoleBindings.
 */
export function inNamespace(objects: readonly KubernetesObject[], namespace: string): KubernetesObject[] {
  return objects.map((object) => {
    const placed: KubernetesObject & { subjects?: { kind: string; namespace?: string }[] } = {
      ...object,
      metadata: {
        ...object.metadata,
        ...(CLUSTER_SCOPED.has(object.kind ?? "") ? {} : { namespace }),
      },
    };
    const subjects = (object as { subjects?: { kind: string; namespace?: string }[] }).subjects;
    if (subjects)
      placed.subjects = subjects.map((subject) =>
        subject.kind === "ServiceAccount" ? { ...subject, namespace } : subject,
      );
    return placed;
  });
}

const CLUSTER_SCOPED = new Set(["ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition"]);

/** The name of the one ServiceAccount among `objects`. */
export function serviceAccountOf(objects: readonly KubernetesObject[]): string {
  const accounts = objects.filter((object) => object.kind === "ServiceAccount");
  if (accounts.length !== 1)
    throw new Error(`the peer's config/rbac should hold one ServiceAccount, it holds ${accounts.length}`);
  return accounts[0]!.metadata!.name!;
}
