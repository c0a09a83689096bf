import type { V1Deployment } from "@kubernetes/client-node";
import { expect } from "chai";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  access,
  chmod,
  chown,
  copyFile,
  cp as copyTree,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { imageEntrypoint, imageNodeFlags } from "../harness/image-entrypoint.js";
import { onStop } from "../harness/lifecycle.js";
import { freePort } from "../harness/ports.js";
import { eventually } from "../support/eventually.js";
import { copyDockerContext } from "./docker-context.js";
import { findManifest, kustomize, parseManifests, repoPath } from "./manifests.js";

const run = promisify(execFile);
const NAMESPACE = "kompost";
const SERVICE_ACCOUNT = "kompost-controller-manager";
const LEASE = "kompost.chuge.li";
/** The image's USER; the test runs the operator as it when it can (as root). */
const IMAGE_UID = 65532;

/**
 * The image without Docker: the Dockerfile's build stage (compile what the build
 * context holds) and its runtime stage (package.json, `npm ci --omit=dev`, the
 * compiled dist/), each in a temp dir; the result is started with the
 * Deployment's arguments, as its ServiceAccount.
 */
describe("the production layout of the image (Dockerfile's runtime stage)", function () {
  let cp: ControlPlane;
  let app: string;
  let contextFiles: string[];
  let deployment: V1Deployment;
  let containerArgs: string[];
  const children = new Set<ChildProcess>();

  before(async function () {
    this.timeout(600_000);
    cp = await controlPlane();
    const context = await mkdtemp(path.join(os.tmpdir(), "kompost-docker-context-"));
    app = await mkdtemp(path.join(os.tmpdir(), "kompost-production-layout-"));
    onStop(async () => {
      await rm(context, { recursive: true, force: true });
      await rm(app, { recursive: true, force: true });
    });

    // Build stage: `COPY . .` after `npm ci`, then `npm run build`.
    contextFiles = await copyDockerContext(context);
    await symlink(repoPath("node_modules"), path.join(context, "node_modules"));
    await run(repoPath("node_modules", ".bin", "tsc"), ["-p", path.join(context, "tsconfig.build.json")]).catch(
      (err: { stdout?: string; message: string }) => {
        throw new Error(`while compiling the Docker build context: ${err.stdout || err.message}`);
      },
    );

    // Runtime stage.
    for (const file of ["package.json", "package-lock.json"]) await copyFile(repoPath(file), path.join(app, file));
    // Offline first: the packages are in npm's cache since the repository's own install.
    await run("npm", ["ci", "--omit=dev", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], {
      cwd: app,
    });
    await copyTree(path.join(context, "dist"), path.join(app, "dist"), { recursive: true });
    const objects = parseManifests(await kustomize("config/default"));
    deployment = findManifest(objects, "Deployment", "kompost-controller-manager");
    containerArgs = deployment.spec!.template.spec!.containers[0]!.args!;
    const install = await cp.kubectl(["apply", "--server-side", "-f", repoPath("dist", "install.yaml")]);
    if (install.code !== 0) throw new Error(`while installing dist/install.yaml: ${install.stderr}`);
  });

  afterEach(() => {
    for (const child of children) child.kill("SIGKILL");
    children.clear();
  });

  it("sends the sources to the Docker build, but no test files, local builds, dependencies or git history", () => {
    expect(contextFiles).to.include.members([
      "package.json",
      "package-lock.json",
      "tsconfig.build.json",
      "cmd/main.ts",
    ]);
    const unwanted = contextFiles.filter((file) =>
      /^(\.git|node_modules|dist|config|\.kompost)\/|\.test\.ts$/.test(file),
    );
    expect(unwanted).to.deep.equal([]);
  });

  it("builds the image on Node's LTS slim image, running this entrypoint as the UID the Deployment requires", async () => {
    const dockerfile = await readFile(repoPath("Dockerfile"), "utf8");
    const instructions = dockerfile
      .replace(/\\\n/g, " ")
      .split("\n")
      .filter((line) => /^[A-Z]+ /.test(line));
    const last = (name: string) => instructions.filter((line) => line.startsWith(`${name} `)).pop();
    const bases = instructions.filter((line) => line.startsWith("FROM ")).map((line) => line.split(/\s+/)[1]);
    expect(bases).to.have.length.greaterThan(1);
    for (const base of bases) expect(base).to.equal("node:24-slim");
    expect(dockerfile).to.include("npm ci --omit=dev");
    const pod = deployment.spec!.template.spec!;
    expect(last("USER")).to.equal(`USER ${pod.securityContext!.runAsUser}:${pod.securityContext!.runAsGroup}`);
    const entrypoint = imageEntrypoint(repoPath("Dockerfile"));
    expect([entrypoint[0], entrypoint.at(-1)]).to.deep.equal(["node", "dist/cmd/main.js"]);
    // Between them only node's own flags (the V8 heap settings), which the next tests run with.
    expect(entrypoint.slice(1, -1)).to.deep.equal(imageNodeFlags(repoPath("Dockerfile")));
  });

  it("holds production dependencies only", async () => {
    const installed = await readdir(path.join(app, "node_modules"));
    expect(installed).to.include.members(["@kubernetes", "pg", "winston", "prom-client", "yaml", "class-validator"]);
    for (const devOnly of ["typescript", "tsx", "mocha", "chai", "eslint", "prettier"]) {
      expect(installed, devOnly).not.to.include(devOnly);
    }
    await access(path.join(app, "dist", "cmd", "main.js"));
  });

  it("starts the built entrypoint and knows every flag the Deployment passes", async () => {
    const { stdout } = await run(process.execPath, ["dist/cmd/main.js", "--help"], { cwd: app });
    for (const arg of containerArgs) expect(stdout).to.include(arg.replace(/=.*/, ""));
  });

  it("runs with the Deployment's arguments as its ServiceAccount (and as UID 65532 when tests run as root), becomes ready, and exits 0 on SIGTERM", async function () {
    this.timeout(120_000);
    // Like the image: files owned by root and readable by all, a process that owns only its kubeconfig.
    const asImageUser = process.getuid?.() === 0;
    const kubeconfig = path.join(app, "kubeconfig");
    await copyFile((await cp.serviceAccountKubeconfig(NAMESPACE, SERVICE_ACCOUNT)).path, kubeconfig);
    await chmod(app, 0o755);
    if (asImageUser) await chown(kubeconfig, IMAGE_UID, IMAGE_UID);
    const probes = `127.0.0.1:${await freePort()}`;
    const metrics = `127.0.0.1:${await freePort()}`;
    // Loopback ports instead of the pod's :8081 and :8080, which may be taken on this machine.
    const args = containerArgs.map((arg) =>
      arg.startsWith("--health-probe-bind-address=")
        ? `--health-probe-bind-address=${probes}`
        : arg.startsWith("--metrics-bind-address=")
          ? `--metrics-bind-address=${metrics}`
          : arg,
    );
    // The image's node is readable by every user; the test runner's may sit in root's home (npx node@24).
    const node = asImageUser ? await publicCopyOfNode(app) : process.execPath;
    const nodeFlags = imageNodeFlags(repoPath("Dockerfile"));
    const child = spawn(node, [...nodeFlags, "dist/cmd/main.js", ...args, `--kubeconfig=${kubeconfig}`], {
      cwd: app,
      env: { PATH: process.env.PATH, NODE_ENV: "production", POD_NAMESPACE: NAMESPACE },
      ...(asImageUser ? { uid: IMAGE_UID, gid: IMAGE_UID } : {}),
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.add(child);
    let logs = "";
    child.stderr.on("data", (chunk: Buffer) => (logs += chunk.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("exit", (code) => resolve(code));
      child.once("error", reject);
    });

    await eventually(async () => {
      expect(child.exitCode, logs).to.equal(null);
      const response = await fetch(`http://${probes}/readyz`);
      expect(response.status, logs).to.equal(200);
    }, 60_000);
    const holder = await cp.kubectl(["get", "lease", "-n", NAMESPACE, LEASE, "-o", "jsonpath={.spec.holderIdentity}"]);
    expect(holder.stdout, holder.stderr + logs).not.to.equal("");
    expect((await fetch(`http://${metrics}/metrics`)).status).to.equal(200);

    child.kill("SIGTERM");
    expect(await exited, logs).to.equal(0);
    const released = await cp.kubectl([
      "get",
      "lease",
      "-n",
      NAMESPACE,
      LEASE,
      "-o",
      "jsonpath={.spec.holderIdentity}",
    ]);
    expect(released.stdout, logs).to.equal("");
  });
});

/** A copy of the running node binary in `dir`/bin, owned by root and executable by all, like node in the image. */
async function publicCopyOfNode(dir: string): Promise<string> {
  const target = path.join(dir, "bin", "node");
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await copyFile(process.execPath, target);
  await chmod(target, 0o755);
  return target;
}
