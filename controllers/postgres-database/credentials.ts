/**
 * The connection Secret of each role, which holds the password of record: the
 * password comes from the Secret when it has a usable one, else a new one is
 * generated, and the Secret is written back only when it differs from what it
 * should say. The role on the server is then made to match (see server.ts).
 */
import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { PostgresDatabaseKind, type PostgresDatabase } from "../../api/v1alpha1/index.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import { controllerOf, controllerReference } from "../../runtime/owner-references.js";
import { apiVersionOf } from "../../runtime/resource-kind.js";
import type { RoleKind } from "../../services/postgres/naming.js";
import { generatePassword, validateUserPassword } from "../../services/postgres/passwords.js";
import { UserFixableError } from "../../services/postgres/errors.js";
import {
  CONNECTION_SECRET_KEYS,
  connectionSecretData,
  connectionSecretName,
} from "../../services/secrets/connection-details.js";
import {
  labelValueFor,
  secretValue,
  writeSecret,
  type SecretReader,
  type SecretWrite,
} from "../../services/secrets/connection-secret.js";
import { DATABASE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from "../constants.js";
import type { UsableInstance } from "../postgres-instance/instance-directory.js";

/** The label selector of the Secrets this controller writes (its owned watch). */
export const SECRET_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${DATABASE_LABEL}`;

/** LIST page size of the owned Secret watch: a Secret may hold up to 1 MiB, and a page is held in memory at once. */
export const SECRET_PAGE_SIZE = 50;

/**
 * What the Secret watch keeps of a Secret: only a connection Secret that a PostgresDatabase
 * controls (its controller ownerReference names a PostgresDatabase, and its name is that
 * resource's psql-<name>-app or -inspector), and of that only what a reconcile reads: name,
 * namespace, uid, resourceVersion, labels, ownerReferences and the connection keys. Every
 * other Secret is dropped before it is stored, so Secrets others create cost no memory,
 * whatever their labels say.
 */
export function retainOwnedSecret(obj: KubernetesObject): V1Secret | undefined {
  const owner = controllerOf(obj);
  const name = obj.metadata?.name;
  if (owner?.kind !== PostgresDatabaseKind.kind || owner.apiVersion !== apiVersionOf(PostgresDatabaseKind)) return;
  if (name !== connectionSecretName(owner.name, "app") && name !== connectionSecretName(owner.name, "inspector"))
    return;
  const { namespace, uid, resourceVersion, labels, ownerReferences } = obj.metadata ?? {};
  const data = (obj as V1Secret).data ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name, namespace, uid, resourceVersion, labels, ownerReferences },
    data: Object.fromEntries(CONNECTION_SECRET_KEYS.filter((key) => key in data).map((key) => [key, data[key]!])),
  };
}

/** What the credentials step decided for one role. */
export interface Credentials {
  readonly secretName: string;
  /** The password of record, now in the Secret. Never log it. */
  readonly password: string;
  readonly write: SecretWrite;
  /** Why the Secret's DB_PASS could not be used and a new password was generated; undefined when it could. */
  readonly regenerated?: string;
}

/** Everything the step needs about one role. */
export interface RoleTarget {
  readonly role: RoleKind;
  readonly username: string;
  readonly database: string;
}

/** Decides the role's password from its Secret and writes the Secret when it is missing or differs. */
export async function reconcileCredentials(
  client: KubeClient,
  read: SecretReader,
  db: PostgresDatabase,
  instance: UsableInstance,
  target: RoleTarget,
): Promise<Credentials> {
  const namespace = db.metadata.namespace ?? "";
  const secretName = connectionSecretName(db.metadata.name ?? "", target.role);
  const existing = await read(namespace, secretName);
  const { password, regenerated } = passwordOfRecord(existing);
  const { hostname, port, ssl } = instance.spec;
  const data = connectionSecretData({
    host: hostname,
    port,
    database: target.database,
    user: target.username,
    password,
    ssl: { enabled: ssl?.enabled ?? false, verify: ssl?.verify ?? "verify_none", ca: ssl?.ca },
  });
  const write = await writeSecret(client, existing, {
    namespace,
    name: secretName,
    owner: controllerReference(db),
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [DATABASE_LABEL]: labelValueFor(db.metadata.name ?? "") },
    data,
  });
  return { secretName, password, write, ...(regenerated !== undefined ? { regenerated } : {}) };
}

/** The Secret's DB_PASS when usable; else a generated password and why (never quoting the old value). */
function passwordOfRecord(existing: V1Secret | undefined): { password: string; regenerated?: string } {
  const current = secretValue(existing, "DB_PASS");
  if (existing === undefined) return { password: generatePassword() };
  if (current === undefined) return { password: generatePassword(), regenerated: "DB_PASS was missing" };
  try {
    validateUserPassword(current);
    return { password: current };
  } catch (err) {
    if (!(err instanceof UserFixableError)) throw err;
    return { password: generatePassword(), regenerated: err.message };
  }
}
