import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { ControlPlaneCerts } from "./certs.js";
import { httpsGet, type ClientTls } from "./https-get.js";
import { ServerProcess, waitFor } from "./process.js";

/** The issuer in ServiceAccount tokens, as in a kubeadm cluster. */
export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

/** How long a (re)start may take before it fails with the logs. */
const READY_TIMEOUT_MS = 120_000;

/** Objects that exist only once the API server's bootstrap has run; RBAC tests need them. */
const BOOTSTRAP_OBJECTS = [
  "/api/v1/namespaces/default",
  "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin",
  "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:basic-user",
];

/** Where and how to run kube-apiserver. */
export interface ApiServerOptions {
  readonly binDir: string;
  readonly dir: string;
  readonly port: number;
  readonly etcdUrl: string;
  readonly certs: ControlPlaneCerts;
  /** When set, every request is logged at level Metadata (JSON lines) to this file. */
  readonly auditLogPath?: string;
}

/** An audit policy that records who did what to which resource, without bodies; RequestReceived is left out. */
const AUDIT_POLICY =
  "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n";

/** A kube-apiserver on loopback that can be stopped and started again with the same command line. */
export class ApiServer {
  private process: ServerProcess | undefined;
  private readonly args: readonly string[];
  private readonly adminTls: ClientTls;

  /** "https://127.0.0.1:<port>" */
  readonly server: string;

  constructor(private readonly options: ApiServerOptions) {
    this.server = `https://127.0.0.1:${options.port}`;
    this.args = apiServerArgs(options);
    const { servingCA, admin } = options.certs;
    this.adminTls = { ca: servingCA.certPem, cert: admin.certPem, key: admin.keyPem };
  }

  /** The running process's id, or undefined while stopped. */
  get pid(): number | undefined {
    return this.process?.running ? this.process.pid : undefined;
  }

  /** Starts the server and waits for /readyz and the bootstrap objects. */
  async start(): Promise<void> {
    if (this.process?.running) return;
    if (this.options.auditLogPath) await writeFile(auditPolicyPath(this.options.dir), AUDIT_POLICY);
    const binary = path.join(this.options.binDir, "kube-apiserver");
    const process = await ServerProcess.start("kube-apiserver", binary, this.args, this.logPath);
    this.process = process;
    try {
      await waitFor("kube-apiserver /readyz", READY_TIMEOUT_MS, [process], async () => {
        const { status } = await this.get("/readyz");
        return status === 200 ? true : undefined;
      });
      for (const object of BOOTSTRAP_OBJECTS) {
        await waitFor(`the bootstrap object ${object}`, READY_TIMEOUT_MS, [process], async () => {
          const { status } = await this.get(object);
          return status === 200 ? true : undefined;
        });
      }
    } catch (err) {
      await process.stop();
      throw err;
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after a grace period) and waits for it to exit. */
  async stop(): Promise<void> {
    await this.process?.stop();
  }

  /** The file both of the server's output streams are appended to. */
  get logPath(): string {
    return path.join(this.options.dir, "kube-apiserver.log");
  }

  /** Sends a GET as the admin user. */
  async get(apiPath: string): Promise<{ status: number; body: string }> {
    return httpsGet(`${this.server}${apiPath}`, this.adminTls);
  }
}

function auditPolicyPath(dir: string): string {
  return path.join(dir, "audit-policy.yaml");
}

function apiServerArgs({ dir, port, etcdUrl, certs, auditLogPath }: ApiServerOptions): string[] {
  const audit = auditLogPath ? [`--audit-policy-file=${auditPolicyPath(dir)}`, `--audit-log-path=${auditLogPath}`] : [];
  return [
    ...audit,
    `--etcd-servers=${etcdUrl}`,
    `--secure-port=${port}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--cert-dir=${path.join(dir, "apiserver-certs")}`,
    `--tls-cert-file=${certs.serving.certPath}`,
    `--tls-private-key-file=${certs.serving.keyPath}`,
    `--client-ca-file=${certs.clientCA.ca.certPath}`,
    `--service-account-key-file=${certs.serviceAccountKey.publicPath}`,
    `--service-account-signing-key-file=${certs.serviceAccountKey.privatePath}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
    "--authorization-mode=RBAC",
    // No controller-manager runs here, so nothing would create the token the plugin asks for.
    "--disable-admission-plugins=ServiceAccount",
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    // The watch cache keeps recent events in memory and answers a watch from
    // an old resourceVersion even after etcd compacted it (tried: the events
    // are replayed, no 410). Without it watches go to etcd, so compactEtcd()
    // reliably produces 410 Gone and tests can exercise a client's relist path.
    "--watch-cache=false",
  ];
}
