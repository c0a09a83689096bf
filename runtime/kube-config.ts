/**
 * Where the API server is and how to authenticate to it, without @kubernetes/client-node:
 * loading that package (for its KubeConfig, which pulls in every generated API class and
 * model) costs the process about 65 MiB of its ~130 MiB at start (see docs/operating.md,
 * "Memory"). The kubeconfigs an operator meets are read here: the in-cluster ServiceAccount
 * and kubeconfig files with a token, a token file or a client certificate. Anything else (an
 * exec plugin, an auth provider, basic auth, impersonation, a proxy, several files in
 * KUBECONFIG) falls back to client-node's KubeConfig, imported only then.
 */
import fs from "node:fs";
import type https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";

/** What KubeClient needs of a kubeconfig; client-node's KubeConfig has the same shape. */
export interface ClusterAccess {
  /** The current context's cluster: its server URL and, when set, the proxy to reach it through. */
  getCurrentCluster(): { readonly server: string; readonly proxyUrl?: string } | null;
  /** Puts the TLS material and credentials of the current context on request options. */
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/** Where a pod's ServiceAccount credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A token file is read again after this long (client-go's interval), so a rotated token takes effect. */
const TOKEN_FILE_REFRESH_MS = 60_000;

/** The user fields read here; a user with any other (exec, auth-provider, username, as, ...) goes to client-node. */
const SIMPLE_USER_FIELDS = new Set([
  "token",
  "token-file",
  "client-certificate",
  "client-certificate-data",
  "client-key",
  "client-key-data",
]);

/** Where to look for the kubeconfig. */
export interface KubeConfigSources {
  /** The --kubeconfig flag; absent: KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount. */
  readonly kubeconfig?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Default SERVICE_ACCOUNT_DIR (tests point it elsewhere). */
  readonly serviceAccountDir?: string;
}

/**
 * Loads the cluster access the way client-go and client-node's `loadFromDefault` pick it: the
 * given file, else KUBECONFIG, else ~/.kube/config, else the in-cluster ServiceAccount. Throws
 * when the file cannot be read or parsed, or names no usable current context.
 */
export async function loadClusterAccess(sources: KubeConfigSources = {}): Promise<ClusterAccess> {
  const env = sources.env ?? process.env;
  const files = sources.kubeconfig ? [sources.kubeconfig] : defaultKubeconfigFiles(env);
  // Several files in KUBECONFIG are merged, the first one's current context winning: client-node's rules.
  if (files.length > 1) return clientNodeAccess((kc, another) => mergeFiles(kc, files, another));
  const [file] = files;
  if (file !== undefined) {
    const parsed = await parseKubeconfig(fs.readFileSync(file, "utf8"));
    return simpleAccess(parsed, path.dirname(file)) ?? clientNodeAccess((kc) => kc.loadFromFile(file));
  }
  const saDir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (fs.existsSync(path.join(saDir, "token"))) return inClusterAccess(env, saDir);
  return clientNodeAccess((kc) => kc.loadFromDefault());
}

/** The files KUBECONFIG lists, else ~/.kube/config when it exists, else none. */
function defaultKubeconfigFiles(env: NodeJS.ProcessEnv): string[] {
  const listed = (env.KUBECONFIG ?? "").split(path.delimiter).filter((file) => file !== "");
  if (listed.length > 0) return listed;
  const home = env.HOME ?? os.homedir();
  const file = path.join(home, ".kube", "config");
  return home && fs.existsSync(file) ? [file] : [];
}

/** The in-cluster ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, its CA and its (rotated) token. */
function inClusterAccess(env: NodeJS.ProcessEnv, saDir: string): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error("running in a pod but KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set");
  // client-node's rule: these ports are plain HTTP (a kubectl proxy sidecar).
  const scheme = ["80", "8080", "8001"].includes(port) ? "http" : "https";
  const server = `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new FileClusterAccess(
    { server, caFile: path.join(saDir, "ca.crt") },
    { tokenFile: path.join(saDir, "token") },
  );
}

interface Cluster {
  readonly server: string;
  readonly caFile?: string;
  readonly caData?: string;
  readonly skipTLSVerify?: boolean;
  readonly tlsServerName?: string;
}

interface User {
  readonly token?: string;
  readonly tokenFile?: string;
  readonly certFile?: string;
  readonly certData?: string;
  readonly keyFile?: string;
  readonly keyData?: string;
}

/** Token, token file or client certificate, with the cluster's CA: read from files as client-node does (per request). */
class FileClusterAccess implements ClusterAccess {
  private token: { readonly value: string; readonly readAt: number } | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly user: User,
  ) {}

  getCurrentCluster(): { readonly server: string } {
    return { server: this.cluster.server };
  }

  applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    const { cluster, user } = this;
    if (cluster.skipTLSVerify) options.rejectUnauthorized = false;
    if (cluster.tlsServerName) options.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster.caFile, cluster.caData);
    if (ca) options.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) options.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) options.key = key;
    const token = user.token ?? this.tokenFromFile();
    if (token) options.headers = { ...options.headers, Authorization: `Bearer ${token.trim()}` };
    return Promise.resolve();
  }

  private tokenFromFile(): string | undefined {
    const file = this.user.tokenFile;
    if (!file) return undefined;
    if (!this.token || Date.now() - this.token.readAt > TOKEN_FILE_REFRESH_MS)
      this.token = { value: fs.readFileSync(file, "utf8"), readAt: Date.now() };
    return this.token.value;
  }
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return fs.readFileSync(file);
  if (data) return Buffer.from(data, "base64");
  return undefined;
}

interface KubeconfigFile {
  readonly "current-context"?: string;
  readonly contexts?: readonly { name?: string; context?: { cluster?: string; user?: string } }[];
  readonly clusters?: readonly { name?: string; cluster?: Record<string, unknown> }[];
  readonly users?: readonly { name?: string; user?: Record<string, unknown> }[];
}

async function parseKubeconfig(text: string): Promise<KubeconfigFile> {
  // Imported here: the in-cluster path needs no YAML parser.
  const { parse } = await import("yaml");
  const parsed: unknown = parse(text);
  if (parsed === null || typeof parsed !== "object") throw new Error("the kubeconfig is not a YAML mapping");
  return parsed;
}

/** The file's current context when its cluster and user use only what FileClusterAccess reads; else undefined. */
function simpleAccess(config: KubeconfigFile, dir: string): ClusterAccess | undefined {
  const contextName = config["current-context"];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context?.user)?.user ?? {};
  // Let client-node report a missing context or server in its words, and handle what is not read here.
  if (!context || typeof cluster?.server !== "string" || cluster["proxy-url"] !== undefined) return undefined;
  if (Object.keys(user).some((field) => !SIMPLE_USER_FIELDS.has(field))) return undefined;
  const absolute = (file: unknown): string | undefined =>
    typeof file === "string" && file !== "" ? path.resolve(dir, file) : undefined;
  const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
  return new FileClusterAccess(
    {
      server: cluster.server.replace(/\/$/, ""),
      caFile: absolute(cluster["certificate-authority"]),
      caData: text(cluster["certificate-authority-data"]),
      skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
      tlsServerName: text(cluster["tls-server-name"]),
    },
    {
      token: text(user.token),
      // client-node reads a kubeconfig's token-file once; read it like the ServiceAccount's, so a rotation takes effect.
      tokenFile: absolute(user["token-file"]),
      certFile: absolute(user["client-certificate"]),
      certData: text(user["client-certificate-data"]),
      keyFile: absolute(user["client-key"]),
      keyData: text(user["client-key-data"]),
    },
  );
}

/** client-node's KubeConfig, loaded by `load` (given a factory of more): for what FileClusterAccess does not read. */
async function clientNodeAccess(load: (kc: KubeConfig, another: () => KubeConfig) => void): Promise<ClusterAccess> {
  const clientNode = await import("@kubernetes/client-node");
  const another = (): KubeConfig => new clientNode.KubeConfig();
  const kubeConfig = another();
  load(kubeConfig, another);
  return kubeConfig;
}

/** What client-node's loadFromDefault does with several KUBECONFIG files. */
function mergeFiles(kubeConfig: KubeConfig, files: readonly string[], another: () => KubeConfig): void {
  kubeConfig.loadFromFile(files[0]!);
  for (const file of files.slice(1)) {
    const next = another();
    next.loadFromFile(file);
    kubeConfig.mergeConfig(next);
  }
}
