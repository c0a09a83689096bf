/**
 * Renders dev variants of config/samples: the same kinds and shapes, with every
 * instance pointing at the local PostgreSQL (host name, port, admin, password
 * Secret and CA) instead of the example server postgres.database.svc.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseAllDocuments, parse, stringify } from "yaml";

/** One Kubernetes object as written in a manifest file. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** Where the dev instances connect to, and as whom. */
export interface DevPostgres {
  /** Must be a name in the server certificate, since the instances use verify_peer. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly caPem: string;
}

/** A Kompost resource of the samples, as kubectl names it. */
export interface ResourceRef {
  readonly kind: string;
  /** kubectl's short name: pginst, pgcinst or pgdb. */
  readonly resource: string;
  readonly name: string;
  readonly namespace?: string;
}

/** The manifests to apply, in order, and the Kompost resources among them. */
export interface DevSamples {
  readonly manifests: readonly Manifest[];
  readonly instances: readonly ResourceRef[];
  readonly databases: readonly ResourceRef[];
}

const SHORT_NAMES: Readonly<Record<string, string>> = {
  PostgresInstance: "pginst",
  PostgresClusterInstance: "pgcinst",
  PostgresDatabase: "pgdb",
};

const INSTANCE_KINDS = new Set(["PostgresInstance", "PostgresClusterInstance"]);

/** Reads every object of the kustomization in `dir` (its `resources` files, in order). */
export async function loadSamples(dir: string): Promise<Manifest[]> {
  const kustomization = parse(await readFile(path.join(dir, "kustomization.yaml"), "utf8")) as {
    resources?: string[];
  };
  const manifests: Manifest[] = [];
  for (const file of kustomization.resources ?? []) {
    const text = await readFile(path.join(dir, file), "utf8");
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`while reading the sample ${file}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as Manifest | null;
      if (object) manifests.push(object);
    }
  }
  return manifests;
}

/**
 * Points every instance of `samples` at `server` over verified TLS, puts the password into the
 * Secret each one references (creating the Secret when the samples do not have it; a
 * PostgresClusterInstance's lives in `operatorNamespace`), and adds the namespaces they need.
 */
export function renderDevSamples(
  samples: readonly Manifest[],
  server: DevPostgres,
  operatorNamespace: string,
): DevSamples {
  const instances = samples.filter((m) => INSTANCE_KINDS.has(m.kind)).map((m) => devInstance(m, server));
  const secrets = passwordSecrets(samples, instances, server.password, operatorNamespace);
  const databases = samples.filter((m) => m.kind === "PostgresDatabase");
  const others = samples.filter(
    (m) => m.kind !== "Secret" && !INSTANCE_KINDS.has(m.kind) && m.kind !== "PostgresDatabase",
  );
  const objects = [...secrets, ...instances, ...databases, ...others];
  return {
    manifests: [...namespaces(objects, operatorNamespace), ...objects],
    instances: instances.map(resourceRef),
    databases: databases.map(resourceRef),
  };
}

/** Renders manifests as one multi-document YAML stream, for `kubectl apply -f -`. */
export function toYamlStream(manifests: readonly Manifest[]): string {
  return manifests.map((m) => stringify(m)).join("---\n");
}

/** "Kind namespace/name", or "Kind name" for a cluster-scoped resource. */
export function describeRef(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

function devInstance(instance: Manifest, server: DevPostgres): Manifest {
  const { plainPassword: _plain, ...spec } = (instance.spec ?? {}) as Record<string, unknown>;
  return {
    ...instance,
    spec: {
      ...spec,
      hostname: server.host,
      port: server.port,
      username: server.user,
      ...(spec.passwordSecretRef ? {} : { plainPassword: server.password }),
      ssl: { enabled: true, verify: "verify_peer", ca: server.caPem },
    },
  };
}

/** The samples' Secrets, with the password under every key an instance reads, plus the Secrets they lack. */
function passwordSecrets(
  samples: readonly Manifest[],
  instances: readonly Manifest[],
  password: string,
  operatorNamespace: string,
): Manifest[] {
  const secrets = samples.filter((m) => m.kind === "Secret");
  for (const instance of instances) {
    const ref = (instance.spec as { passwordSecretRef?: { name: string; key: string } }).passwordSecretRef;
    if (!ref) continue;
    const namespace =
      instance.kind === "PostgresInstance" ? (instance.metadata.namespace ?? "default") : operatorNamespace;
    const index = secrets.findIndex(
      (s) => s.metadata.name === ref.name && (s.metadata.namespace ?? "default") === namespace,
    );
    const secret = index >= 0 ? secrets[index]! : emptySecret(ref.name, namespace);
    const withPassword = withSecretValue(secret, ref.key, password);
    if (index >= 0) secrets[index] = withPassword;
    else secrets.push(withPassword);
  }
  return secrets;
}

function emptySecret(name: string, namespace: string): Manifest {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, type: "Opaque", data: {} };
}

function withSecretValue(secret: Manifest, key: string, value: string): Manifest {
  const { [key]: _clear, ...stringData } = (secret.stringData ?? {}) as Record<string, string>;
  const data = { ...((secret.data ?? {}) as Record<string, string>), [key]: Buffer.from(value).toString("base64") };
  const { stringData: _all, ...rest } = secret;
  return { ...rest, ...(Object.keys(stringData).length > 0 ? { stringData } : {}), data };
}

function namespaces(objects: readonly Manifest[], operatorNamespace: string): Manifest[] {
  const names = new Set([operatorNamespace]);
  for (const m of objects) if (m.metadata.namespace) names.add(m.metadata.namespace);
  return [...names].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
}

function resourceRef(m: Manifest): ResourceRef {
  return {
    kind: m.kind,
    resource: SHORT_NAMES[m.kind]!,
    name: m.metadata.name,
    ...(m.metadata.namespace ? { namespace: m.metadata.namespace } : {}),
  };
}
