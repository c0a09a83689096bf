import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ControlPlane } from "../control-plane.js";
import { loadKubeconfig, writeKubeconfig } from "../kubeconfig.js";
import { onStop } from "../lifecycle.js";
import { freePort } from "../ports.js";
import { ApiServer, SERVICE_ACCOUNT_ISSUER } from "./apiserver.js";
import { controlPlaneBinDir, REPO_ROOT } from "./binaries.js";
import { createCerts, type ControlPlaneCerts } from "./certs.js";
import { ControllerManager } from "./controller-manager.js";
import { installCRDsFrom } from "./crds.js";
import { Etcd } from "./etcd.js";
import { runKubectl, type KubectlResult } from "./kubectl.js";
import { retryOnPortClash } from "./process.js";

/** A day: longer than any test run, so ServiceAccount tokens never expire mid-run. */
const TOKEN_SECONDS = 86_400;

/** Where the CRDs rendered by `make manifests` live. */
export const CRD_DIR = path.join(REPO_ROOT, "config", "crd", "bases");

/** How to start a control plane. */
export interface StartOptions {
  /** Directory of CRD manifests for installCRDs; config/crd/bases unless given. */
  readonly crdDir?: string;
  /** Whether to install the CRDs before returning. */
  readonly installCRDs: boolean;
  /** When set, kube-apiserver writes an audit log (level Metadata, JSON lines) to this file. */
  readonly auditLogPath?: string;
}

/** A control plane this process started, with what teardown and its tests need. */
export interface RunningControlPlane extends ControlPlane {
  /** The temp dir holding data, certificates, kubeconfigs and logs. */
  readonly dir: string;
  /** Ids of the server processes running right now. */
  readonly pids: readonly number[];
  /** Installs the CRDs of another directory (the same steps as installCRDs). */
  installCRDsFrom(dir: string): Promise<void>;
  /** Stops both servers and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts etcd and kube-apiserver in a new temp dir and registers their teardown with onStop. */
export async function startControlPlane(options: StartOptions): Promise<RunningControlPlane> {
  const binDir = await controlPlaneBinDir();
  const dir = await mkdtemp(path.join(os.tmpdir(), "kompost-control-plane-"));
  let etcd: Etcd | undefined;
  let apiServer: ApiServer | undefined;
  let controllerManager: ControllerManager | undefined;
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    stopped ??= (async () => {
      await controllerManager?.stop();
      await apiServer?.stop();
      await etcd?.stop();
      await rm(dir, { recursive: true, force: true });
    })();
    await stopped;
  };
  onStop(stop);
  try {
    const certs = await createCerts(dir);
    etcd = await Etcd.start(binDir, dir);
    apiServer = await startApiServer(binDir, dir, etcd, certs, options.auditLogPath);
    const crdDir = options.crdDir ?? CRD_DIR;
    const controlPlane = await LocalControlPlane.create({
      binDir,
      dir,
      crdDir,
      certs,
      etcd,
      apiServer,
      stop,
    });
    controllerManager = await ControllerManager.startIfPresent(binDir, dir, controlPlane.kubeconfigPath);
    controlPlane.controllerManager = controllerManager;
    if (options.installCRDs) await controlPlane.installCRDs();
    return controlPlane;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startApiServer(
  binDir: string,
  dir: string,
  etcd: Etcd,
  certs: ControlPlaneCerts,
  auditLogPath?: string,
): Promise<ApiServer> {
  return retryOnPortClash(async () => {
    const port = await freePort();
    const apiServer = new ApiServer({
      binDir,
      dir,
      port,
      etcdUrl: etcd.url,
      certs,
      ...(auditLogPath ? { auditLogPath } : {}),
    });
    await withEtcdLog(etcd, () => apiServer.start());
    return apiServer;
  });
}

interface Parts {
  readonly binDir: string;
  readonly dir: string;
  readonly crdDir: string;
  readonly certs: ControlPlaneCerts;
  readonly etcd: Etcd;
  readonly apiServer: ApiServer;
  readonly stop: () => Promise<void>;
}

class LocalControlPlane implements RunningControlPlane {
  controllerManager: ControllerManager | undefined;

  private constructor(
    private readonly parts: Parts,
    readonly kubeconfigPath: string,
    private readonly kubeconfigText: string,
  ) {}

  static async create(parts: Parts): Promise<LocalControlPlane> {
    const kubeconfigPath = path.join(parts.dir, "admin.kubeconfig");
    await writeKubeconfig(kubeconfigPath, {
      server: parts.apiServer.server,
      caPem: parts.certs.servingCA.certPem,
      userName: "admin",
      credentials: { clientCertificatePem: parts.certs.admin.certPem, clientKeyPem: parts.certs.admin.keyPem },
    });
    await mkdir(path.join(parts.dir, "kubectl-cache"));
    return new LocalControlPlane(parts, kubeconfigPath, await readFile(kubeconfigPath, "utf8"));
  }

  get server(): string {
    return this.parts.apiServer.server;
  }

  get binDir(): string {
    return this.parts.binDir;
  }

  get etcdUrl(): string {
    return this.parts.etcd.url;
  }

  get dir(): string {
    return this.parts.dir;
  }

  /** A fresh KubeConfig per read, so one test's changes to it cannot leak into another. */
  get kubeConfig(): KubeConfig {
    return loadKubeconfig(this.kubeconfigText);
  }

  get garbageCollection(): boolean {
    return this.controllerManager !== undefined;
  }

  get pids(): readonly number[] {
    const pids = [
      this.parts.apiServer.pid,
      this.parts.etcd.running ? this.parts.etcd.pid : undefined,
      this.controllerManager?.pid,
    ];
    return pids.filter((pid) => pid !== undefined);
  }

  async kubectl(args: readonly string[], opts?: { input?: string; kubeconfig?: string }): Promise<KubectlResult> {
    const target = {
      binary: path.join(this.binDir, "kubectl"),
      kubeconfig: opts?.kubeconfig ?? this.kubeconfigPath,
      cacheDir: path.join(this.dir, "kubectl-cache"),
    };
    return runKubectl(target, args, opts?.input);
  }

  async createNamespace(name: string): Promise<void> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await ignoreConflict(`while creating namespace "${name}"`, () =>
      core.createNamespace({ body: { metadata: { name } } }),
    );
  }

  async serviceAccountKubeconfig(namespace: string, name: string): Promise<{ path: string; kubeConfig: KubeConfig }> {
    await this.createNamespace(namespace);
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await ignoreConflict(`while creating ServiceAccount "${namespace}/${name}"`, () =>
      core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }),
    );
    const tokenRequest = await core
      .createNamespacedServiceAccountToken({
        name,
        namespace,
        body: { spec: { audiences: [SERVICE_ACCOUNT_ISSUER], expirationSeconds: TOKEN_SECONDS } },
      })
      .catch((err: unknown) => {
        throw new Error(`while requesting a token for ServiceAccount "${namespace}/${name}": ${String(err)}`, {
          cause: err,
        });
      });
    const kubeconfigPath = path.join(this.dir, `sa-${namespace}-${name}.kubeconfig`);
    const kubeConfig = await writeKubeconfig(kubeconfigPath, {
      server: this.server,
      caPem: this.parts.certs.servingCA.certPem,
      userName: `system:serviceaccount:${namespace}:${name}`,
      credentials: { token: tokenRequest.status!.token },
    });
    return { path: kubeconfigPath, kubeConfig };
  }

  async stopApiServer(): Promise<void> {
    await this.parts.apiServer.stop();
  }

  async startApiServer(): Promise<void> {
    await withEtcdLog(this.parts.etcd, () => this.parts.apiServer.start());
  }

  async compactEtcd(): Promise<void> {
    await this.parts.etcd.compact();
  }

  async installCRDs(): Promise<void> {
    await this.installCRDsFrom(this.parts.crdDir);
  }

  async installCRDsFrom(dir: string): Promise<void> {
    await installCRDsFrom({ kubectl: (args) => this.kubectl(args), get: (p) => this.parts.apiServer.get(p) }, dir);
  }

  async stop(): Promise<void> {
    await this.parts.stop();
  }
}

/** The API server's failures are often etcd's: add its log tail to theirs. */
async function withEtcdLog(etcd: Etcd, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n${await etcd.logTail()}`, { cause: err });
  }
}

async function ignoreConflict(what: string, create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if ((err as { code?: number }).code === 409) return;
    throw new Error(`${what}: ${String(err)}`, { cause: err });
  }
}
