import type { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "./control-plane/start.js";

/** A real kube-apiserver and etcd on loopback, shared by every test of a run. */
export interface ControlPlane {
  /** "https://127.0.0.1:<port>" */
  readonly server: string;
  /** Admin kubeconfig file: client certificate with O=system:masters. */
  readonly kubeconfigPath: string;
  /** The admin kubeconfig, loaded (a fresh KubeConfig per read). */
  readonly kubeConfig: KubeConfig;
  /** Directory holding kube-apiserver, etcd and kubectl. */
  readonly binDir: string;
  /** "http://127.0.0.1:<port>" */
  readonly etcdUrl: string;
  /** True when kube-controller-manager runs its garbage collector and namespace controller (not with envtest's assets). */
  readonly garbageCollection: boolean;
  /** Runs kubectl against this API server (admin unless opts.kubeconfig is given); never throws on non-zero exit. */
  kubectl(
    args: readonly string[],
    opts?: { input?: string; kubeconfig?: string },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
  /** Creates the namespace and ServiceAccount if missing and returns a kubeconfig that authenticates as that ServiceAccount (user system:serviceaccount:<ns>:<name>, groups system:serviceaccounts, system:serviceaccounts:<ns>, system:authenticated). */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<{ path: string; kubeConfig: KubeConfig }>;
  /** Creates a namespace (idempotent). */
  createNamespace(name: string): Promise<void>;
  /** Stops only kube-apiserver (etcd keeps the data); startApiServer brings it back on the same port with the same certs. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again after stopApiServer and waits until it is ready. */
  startApiServer(): Promise<void>;
  /** Compacts etcd at its current revision, so watches from older resourceVersions get 410 Gone. */
  compactEtcd(): Promise<void>;
  /** Installs (server-side apply) every CRD in config/crd/bases and waits until each is Established. */
  installCRDs(): Promise<void>;
}

let shared: Promise<ControlPlane> | undefined;

/** How the run's control plane is started; only the first call's options count. */
export interface ControlPlaneOptions {
  /** Write kube-apiserver's audit log (every request at level Metadata, JSON lines) to this file, e.g. for `make bench`. */
  readonly auditLogPath?: string;
}

/** Starts the one control plane of this test run on first call (later calls return the same one) and registers its teardown with onStop. */
export async function controlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  // A failed start is kept too, so every test fails fast with the same error.
  shared ??= startControlPlane({ installCRDs: true, ...options });
  return shared;
}
