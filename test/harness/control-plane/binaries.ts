import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const BINARIES = ["kube-apiserver", "etcd", "kubectl"] as const;

/**
 * The directory holding kube-apiserver, etcd and kubectl: $KUBEBUILDER_ASSETS
 * if set, else what hack/build-control-plane.sh prints (it builds once, then
 * answers from its cache).
 */
export async function controlPlaneBinDir(): Promise<string> {
  const dir = process.env.KUBEBUILDER_ASSETS || (await runBuildScript());
  for (const binary of BINARIES) {
    await access(path.join(dir, binary), constants.X_OK).catch(() => {
      throw new Error(
        `while looking for the test control plane: ${dir} has no executable ${binary}; ` +
          "unset KUBEBUILDER_ASSETS or run `make control-plane`",
      );
    });
  }
  return dir;
}

async function runBuildScript(): Promise<string> {
  const script = path.join(REPO_ROOT, "hack", "build-control-plane.sh");
  // stderr goes to the terminal: a cold build takes minutes and says so.
  const child = spawn(script, [], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  const dir = Buffer.concat(chunks).toString().trim().split("\n").pop() ?? "";
  if (code !== 0 || !dir) {
    throw new Error(`while building the test control plane: ${script} exited with ${code}; see its output above`);
  }
  return dir;
}
