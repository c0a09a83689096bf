import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { kustomize, repoPath } from "./manifests.js";

const INSTALL_YAML = repoPath("dist", "install.yaml");

/** What kubectl prints for one object: "<kind>/<name> <what happened>". */
const changedLines = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => !/ unchanged$/.test(line));

describe("installing Kompost into a real API server (dist/install.yaml)", function () {
  let cp: ControlPlane;

  /**
   * Every object of the bundle as stored, keyed by kind/namespace/name, without what
   * controllers write on their own (status, and the resourceVersion and managedFields
   * that change with it), so that only changes made by applying show.
   */
  async function storedObjects(): Promise<Map<string, string>> {
    const result = await cp.kubectl(["get", "-f", INSTALL_YAML, "-o", "json"]);
    expect(result.code, result.stderr).to.equal(0);
    const list = JSON.parse(result.stdout) as {
      items: {
        kind: string;
        metadata: { name: string; namespace?: string; resourceVersion?: string; managedFields?: unknown };
        status?: unknown;
      }[];
    };
    return new Map(
      list.items.map(({ status: _status, ...item }) => {
        const { resourceVersion: _version, managedFields: _fields, ...metadata } = item.metadata;
        const key = `${item.kind}/${item.metadata.namespace ?? ""}/${item.metadata.name}`;
        return [key, JSON.stringify({ ...item, metadata })];
      }),
    );
  }

  before(async function () {
    this.timeout(600_000);
    cp = await controlPlane();
  });

  it("is accepted by the API server in a server-side dry run", async () => {
    // A dry run creates nothing, so the namespaced objects need their namespace to exist already.
    await cp.createNamespace("kompost");
    const rendered = await kustomize("config/default");
    const result = await cp.kubectl(["apply", "--dry-run=server", "--server-side", "-f", "-"], { input: rendered });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.include("deployment.apps/kompost-controller-manager serverside-applied (server dry run)");
    expect(result.stderr).not.to.include("PodSecurity");
  });

  it("installs with kubectl apply -f, within the restricted Pod Security Standard", async () => {
    const result = await cp.kubectl(["apply", "-f", INSTALL_YAML]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).not.to.include("PodSecurity");
    // The namespace's label makes the API server check pods against the restricted standard; a plain pod fails it.
    const plainPod = await cp.kubectl(["run", "plain", "-n", "kompost", "--image=busybox", "--dry-run=server"]);
    expect(plainPod.stderr).to.include('violates PodSecurity "restricted');
    const deployment = await cp.kubectl(["get", "deployment", "-n", "kompost", "kompost-controller-manager"]);
    expect(deployment.code, deployment.stderr).to.equal(0);
  });

  it("changes nothing when kubectl apply -f runs a second time", async () => {
    const first = await cp.kubectl(["apply", "-f", INSTALL_YAML]);
    expect(first.code, first.stderr).to.equal(0);
    const before = await storedObjects();
    const result = await cp.kubectl(["apply", "-f", INSTALL_YAML]);
    expect(result.code, result.stderr).to.equal(0);
    expect(changedLines(result.stdout)).to.deep.equal([]);
    expect(await storedObjects()).to.deep.equal(before);
    const diff = await cp.kubectl(["diff", "-f", INSTALL_YAML]);
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
  });

  it("changes nothing when applied server-side twice, as make deploy does", async () => {
    const first = await cp.kubectl(["apply", "--server-side", "-f", INSTALL_YAML]);
    expect(first.code, first.stderr).to.equal(0);
    const before = await storedObjects();
    const second = await cp.kubectl(["apply", "--server-side", "-f", INSTALL_YAML]);
    expect(second.code, second.stderr).to.equal(0);
    expect(await storedObjects()).to.deep.equal(before);
    const diff = await cp.kubectl(["diff", "--server-side", "-f", INSTALL_YAML]);
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
  });

  it("gives the manager's ServiceAccount what the controllers need and refuses it the rest, as the API server decides", async () => {
    const install = await cp.kubectl(["apply", "--server-side", "-f", INSTALL_YAML]);
    expect(install.code, install.stderr).to.equal(0);
    const sa = "system:serviceaccount:kompost:kompost-controller-manager";
    const can = async (...args: string[]) => (await cp.kubectl(["auth", "can-i", ...args, `--as=${sa}`])).stdout.trim();
    expect(await can("patch", "postgresdatabases.kompost.chuge.li/status", "-n", "team-orders")).to.equal("yes");
    expect(await can("delete", "secrets", "-n", "team-orders")).to.equal("no");
    expect(await can("list", "namespaces")).to.equal("no");
    expect(await can("create", "secrets", "-n", "team-orders")).to.equal("yes");
    expect(await can("create", "leases.coordination.k8s.io", "-n", "kompost")).to.equal("yes");
    expect(await can("create", "leases.coordination.k8s.io", "-n", "team-orders")).to.equal("no");
    expect(await can("delete", "postgresdatabases.kompost.chuge.li", "-n", "team-orders")).to.equal("no");
    expect(await can("create", "pods", "-n", "kompost")).to.equal("no");
    expect(await can("get", "configmaps", "-n", "kompost")).to.equal("no");
    expect(await can("create", "clusterroles.rbac.authorization.k8s.io")).to.equal("no");
  });

  it("deploys with make deploy, running the image given in IMG", async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "kompost-make-deploy-"));
    const kubectl = `${path.join(cp.binDir, "kubectl")} --kubeconfig=${cp.kubeconfigPath} --cache-dir=${cacheDir}`;
    const image = () =>
      cp.kubectl([
        "get",
        "deployment",
        "-n",
        "kompost",
        "kompost-controller-manager",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
      ]);
    const make = (...args: string[]) =>
      promisify(execFile)("make", ["--no-print-directory", "deploy", `KUBECTL=${kubectl}`, ...args], {
        cwd: repoPath(),
      });
    try {
      await make("IMG=registry.local:5000/kompost:dev");
      expect((await image()).stdout).to.equal("registry.local:5000/kompost:dev");
      await make();
      expect((await image()).stdout).to.match(/^ghcr\.io\/kompost\/kompost:\d+\.\d+\.\d+/);
      const diff = await cp.kubectl(["diff", "--server-side", "-f", INSTALL_YAML]);
      expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
