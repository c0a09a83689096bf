import { access, constants } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ServerProcess } from "./process.js";

/** The controllers a test cluster needs beyond the API server: owner-based garbage collection and namespace deletion. */
const CONTROLLERS = ["garbagecollector", "namespace"];

/**
 * kube-controller-manager running only the garbage collector and the namespace
 * controller, so that objects with ownerReferences are deleted with their owner
 * and deleted namespaces go away, as in a real cluster.
 */
export class ControllerManager {
  private constructor(private readonly process: ServerProcess) {}

  /** Starts it with the admin kubeconfig when `binDir` has the binary; undefined when it does not (e.g. envtest assets). */
  static async startIfPresent(
    binDir: string,
    dir: string,
    kubeconfigPath: string,
  ): Promise<ControllerManager | undefined> {
    const binary = path.join(binDir, "kube-controller-manager");
    const present = await access(binary, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!present) return undefined;
    const args = [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      `--controllers=${CONTROLLERS.join(",")}`,
      "--leader-elect=false",
      "--secure-port=0",
    ];
    const process = await ServerProcess.start(
      "kube-controller-manager",
      binary,
      args,
      path.join(dir, "kube-controller-manager.log"),
    );
    // It serves nothing to poll when secure-port is 0; a bad flag makes it exit at once.
    await sleep(300);
    if (!process.running) {
      throw new Error(`kube-controller-manager ${process.exitDescription}\n${await process.logTail()}`);
    }
    return new ControllerManager(process);
  }

  /** The operating system's process id, while running. */
  get pid(): number | undefined {
    return this.process.running ? this.process.pid : undefined;
  }

  /** Sends SIGTERM (SIGKILL after a grace period) and waits for the exit. */
  async stop(): Promise<void> {
    await this.process.stop();
  }
}
