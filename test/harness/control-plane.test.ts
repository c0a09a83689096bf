import { CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { access, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually } from "../support/eventually.js";
import { controlPlane, type ControlPlane } from "./control-plane.js";
import { CRD_DIR, startControlPlane, type RunningControlPlane } from "./control-plane/start.js";

const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.harness.kompost.test
spec:
  group: harness.kompost.test
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget, shortNames: [wdg] }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: { type: integer }
`;

/** Fails the test with kubectl's output when it did not exit 0. */
async function kubectlOk(cp: ControlPlane, args: readonly string[], input?: string): Promise<string> {
  const result = await cp.kubectl(args, input === undefined ? undefined : { input });
  expect(result.code, `kubectl ${args.join(" ")}: ${result.stderr}`).to.equal(0);
  return result.stdout;
}

describe("test control plane", () => {
  describe("the shared control plane", () => {
    let cp: ControlPlane;
    before(async function () {
      this.timeout(180_000);
      cp = await controlPlane();
    });

    it("is started once per run: every call returns the same instance", async () => {
      expect(await controlPlane()).to.equal(cp);
    });

    it("answers kubectl as the admin user in system:masters", async () => {
      expect(await kubectlOk(cp, ["get", "namespace", "default", "-o", "jsonpath={.metadata.name}"])).to.equal(
        "default",
      );
      const review = JSON.parse(await kubectlOk(cp, ["auth", "whoami", "-o", "json"])) as SelfSubjectReview;
      expect(review.status.userInfo.username).to.equal("admin");
      expect(review.status.userInfo.groups).to.include("system:masters");
    });

    it("gives a loaded admin KubeConfig that the JavaScript client can use", async () => {
      const namespace = await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespace({ name: "default" });
      expect(namespace.metadata?.name).to.equal("default");
      expect(cp.kubeConfig.getCurrentCluster()?.server).to.equal(cp.server);
    });

    it("has installed every CRD of config/crd/bases, each Established", async () => {
      const files = (await readdir(CRD_DIR)).filter((file) => file.endsWith(".yaml"));
      expect(files).to.not.be.empty;
      const output = JSON.parse(await kubectlOk(cp, ["get", "-f", CRD_DIR, "-o", "json"])) as CrdList | Crd;
      const crds = "items" in output ? output.items : [output];
      expect(crds).to.not.be.empty;
      for (const crd of crds) {
        const established = crd.status.conditions.find((c) => c.type === "Established");
        expect(established?.status, crd.metadata.name).to.equal("True");
      }
      await kubectlOk(cp, ["get", "pginst,pgcinst,pgdb", "--all-namespaces"]);
    });

    it("collects garbage: an object owned by a deleted object goes away, as in a real cluster", async function () {
      if (!cp.garbageCollection) this.skip(); // envtest's assets have no kube-controller-manager
      await cp.createNamespace("harness-gc");
      await kubectlOk(cp, ["create", "configmap", "owner", "-n", "harness-gc"]);
      const ownerUid = await kubectlOk(cp, [
        "get",
        "configmap",
        "owner",
        "-n",
        "harness-gc",
        "-o",
        "jsonpath={.metadata.uid}",
      ]);
      const owned = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "owned",
          namespace: "harness-gc",
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: ownerUid }],
        },
      };
      await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(owned) });
      await kubectlOk(cp, ["delete", "configmap", "owner", "-n", "harness-gc"]);
      await eventually(
        async () => {
          const result = await cp.kubectl(["get", "configmap", "owned", "-n", "harness-gc"]);
          expect(result.stderr).to.include("NotFound");
        },
        60_000,
        250,
      );
    });
  });

  describe("a control plane of its own", () => {
    let cp: RunningControlPlane;
    before(async function () {
      this.timeout(180_000);
      cp = await startControlPlane({ installCRDs: false });
    });
    after(async () => cp.stop());

    it("mints a kubeconfig that authenticates as the ServiceAccount, with its groups", async () => {
      const sa = await cp.serviceAccountKubeconfig("whoami", "kompost");
      const result = await cp.kubectl(["auth", "whoami", "-o", "json"], { kubeconfig: sa.path });
      expect(result.code, result.stderr).to.equal(0);
      const { userInfo } = (JSON.parse(result.stdout) as SelfSubjectReview).status;
      expect(userInfo.username).to.equal("system:serviceaccount:whoami:kompost");
      expect(userInfo.groups).to.include.members([
        "system:serviceaccounts",
        "system:serviceaccounts:whoami",
        "system:authenticated",
      ]);
      expect(sa.kubeConfig.getCurrentUser()?.token).to.be.a("string").and.not.be.empty;
    });

    it("denies a ServiceAccount what RBAC does not grant, and allows it after a RoleBinding", async () => {
      const sa = await cp.serviceAccountKubeconfig("rbac", "reader");
      const list = ["get", "configmaps", "-n", "rbac"];
      const denied = await cp.kubectl(list, { kubeconfig: sa.path });
      expect(denied.code).to.not.equal(0);
      expect(denied.stderr).to.include("Forbidden");

      await kubectlOk(cp, ["create", "role", "reader", "-n", "rbac", "--verb=get,list", "--resource=configmaps"]);
      await kubectlOk(cp, [
        "create",
        "rolebinding",
        "reader",
        "-n",
        "rbac",
        "--role=reader",
        "--serviceaccount=rbac:reader",
      ]);
      // The authorizer learns of new bindings through an informer, a moment later.
      for (let i = 0; i < 100; i++) {
        const canI = await cp.kubectl(["auth", "can-i", "list", "configmaps", "-n", "rbac"], { kubeconfig: sa.path });
        if (canI.stdout.trim() === "yes") break;
        await sleep(100);
      }
      const allowed = await cp.kubectl(list, { kubeconfig: sa.path });
      expect(allowed.code, allowed.stderr).to.equal(0);
      const stillDenied = await cp.kubectl(["get", "secrets", "-n", "rbac"], { kubeconfig: sa.path });
      expect(stillDenied.stderr).to.include("Forbidden");
    });

    it("creates a namespace idempotently", async () => {
      await cp.createNamespace("twice");
      await cp.createNamespace("twice");
      expect(await kubectlOk(cp, ["get", "namespace", "twice", "-o", "jsonpath={.status.phase}"])).to.equal("Active");
    });

    it("serves the same data on the same address after the API server is stopped and started", async () => {
      await cp.createNamespace("restart");
      const marker = `value-${Date.now()}`;
      await kubectlOk(cp, ["create", "configmap", "kept", "-n", "restart", `--from-literal=marker=${marker}`]);
      const server = cp.server;
      const runningBefore = cp.pids.length;

      await cp.stopApiServer();
      expect(cp.pids).to.have.length(runningBefore - 1);
      const whileDown = await cp.kubectl(["get", "namespace", "restart"]);
      expect(whileDown.code).to.not.equal(0);

      await cp.startApiServer();
      expect(cp.server).to.equal(server);
      expect(
        await kubectlOk(cp, ["get", "configmap", "kept", "-n", "restart", "-o", "jsonpath={.data.marker}"]),
      ).to.equal(marker);
    });

    it("makes a watch from a resourceVersion older than an etcd compaction end with 410 Gone", async () => {
      await cp.createNamespace("compact");
      const oldVersion = await kubectlOk(cp, [
        "create",
        "configmap",
        "first",
        "-n",
        "compact",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
      ]);
      for (const name of ["second", "third"]) await kubectlOk(cp, ["create", "configmap", name, "-n", "compact"]);
      const watch = async () => {
        const url = `/api/v1/namespaces/compact/configmaps?watch=1&resourceVersion=${oldVersion}&timeoutSeconds=2`;
        const output = await kubectlOk(cp, ["get", "--raw", url]);
        return output
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as WatchEvent);
      };

      const beforeCompaction = await watch();
      expect(beforeCompaction.map((e) => e.type)).to.deep.equal(["ADDED", "ADDED"]);

      await cp.compactEtcd();
      const afterCompaction = await watch();
      expect(afterCompaction).to.have.length(1);
      expect(afterCompaction[0]!.type).to.equal("ERROR");
      expect(afterCompaction[0]!.object.code).to.equal(410);
      expect(afterCompaction[0]!.object.reason).to.equal("Expired");
    });

    it("installs a CRD from a directory, Established and served to kubectl", async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "kompost-crd-"));
      try {
        await writeFile(path.join(dir, "widgets.yaml"), WIDGET_CRD);
        await cp.installCRDsFrom(dir);
        const established = await kubectlOk(cp, [
          "get",
          "crd",
          "widgets.harness.kompost.test",
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ]);
        expect(established).to.equal("True");
        await cp.createNamespace("widgets");
        await kubectlOk(
          cp,
          ["apply", "-n", "widgets", "-f", "-"],
          "apiVersion: harness.kompost.test/v1\nkind: Widget\nmetadata: { name: w }\nspec: { size: 3 }\n",
        );
        expect(await kubectlOk(cp, ["get", "wdg", "w", "-n", "widgets", "-o", "jsonpath={.spec.size}"])).to.equal("3");

        // Installing again is how a test picks up regenerated CRDs: it must not fail.
        await cp.installCRDsFrom(dir);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("refuses to install from a directory without CRDs and says to run make manifests", async () => {
      const empty = await mkdtemp(path.join(os.tmpdir(), "kompost-crd-"));
      try {
        let error: unknown;
        await cp.installCRDsFrom(empty).catch((err: unknown) => (error = err));
        expect(String(error)).to.include(`no CRDs in ${empty}: run \`make manifests\``);

        error = undefined;
        await cp.installCRDsFrom(path.join(empty, "missing")).catch((err: unknown) => (error = err));
        expect(String(error)).to.include("run `make manifests`");
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });

    it("leaves no process and no temp dir behind once stopped", async () => {
      const pids = cp.pids;
      expect(pids).to.have.length(cp.garbageCollection ? 3 : 2); // etcd, kube-apiserver (, kube-controller-manager)
      for (const pid of pids) expect(() => process.kill(pid, 0)).to.not.throw();

      await cp.stop();
      for (const pid of pids) expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
      let dirError: unknown;
      await access(cp.dir).catch((err: unknown) => (dirError = err));
      expect(String(dirError)).to.include("ENOENT");
    });
  });
});

interface SelfSubjectReview {
  readonly status: { readonly userInfo: { readonly username: string; readonly groups: readonly string[] } };
}

interface WatchEvent {
  readonly type: string;
  readonly object: { readonly code?: number; readonly reason?: string };
}

interface Crd {
  readonly metadata: { readonly name: string };
  readonly status: { readonly conditions: readonly { readonly type: string; readonly status: string }[] };
}

interface CrdList {
  readonly items: readonly Crd[];
}
