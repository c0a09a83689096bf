import { expect } from "chai";
import fs from "node:fs";
import type https from "node:https";
import os from "node:os";
import path from "node:path";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { KubeClient } from "./kube-client.js";
import { type ClusterAccess, loadClusterAccess } from "./kube-config.js";
import { namespaceKind } from "./resource-kind.js";
import { uniqueName } from "./testing/fixtures.js";

/** What applyToHTTPSOptions put on fresh request options. */
async function applied(access: ClusterAccess): Promise<https.RequestOptions> {
  const options: https.RequestOptions = {};
  await access.applyToHTTPSOptions(options);
  return options;
}

/** True for client-node's KubeConfig, the fallback that loads the whole package. */
const isClientNode = (access: ClusterAccess): boolean => "makeApiClient" in access;

describe("loadClusterAccess", () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kompost-kubeconfig-"));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };

  it("in a pod, uses the ServiceAccount's token and CA and KUBERNETES_SERVICE_HOST/PORT (IPv6 in brackets)", async () => {
    write("token", "sa-token\n");
    write("ca.crt", "the CA");
    const access = await loadClusterAccess({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443", HOME: dir },
      serviceAccountDir: dir,
    });
    expect(isClientNode(access)).to.equal(false);
    expect(access.getCurrentCluster()?.server).to.equal("https://[fd00::1]:443");
    const options = await applied(access);
    expect(options.headers).to.deep.equal({ Authorization: "Bearer sa-token" });
    expect(options.ca?.toString()).to.equal("the CA");
  });

  it("reads a kubeconfig's files relative to its directory, and its inline data", async () => {
    write("ca.pem", "file CA");
    const file = write(
      "config",
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: c",
        "contexts: [{name: c, context: {cluster: k, user: u}}]",
        "clusters: [{name: k, cluster: {server: 'https://api.example:6443/', certificate-authority: ca.pem, tls-server-name: api}}]",
        `users: [{name: u, user: {client-certificate-data: ${Buffer.from("cert").toString("base64")}, client-key-data: ${Buffer.from("key").toString("base64")}, token: t0}}]`,
      ].join("\n"),
    );
    const access = await loadClusterAccess({ kubeconfig: file });
    expect(isClientNode(access)).to.equal(false);
    expect(access.getCurrentCluster()?.server).to.equal("https://api.example:6443");
    const options = await applied(access);
    expect([options.ca, options.cert, options.key]).to.deep.equal(
      ["file CA", "cert", "key"].map((text) => Buffer.from(text)),
    );
    expect(options.servername).to.equal("api");
    expect(options.headers).to.deep.equal({ Authorization: "Bearer t0" });
  });

  it("leaves an exec plugin, a proxy or several KUBECONFIG files to client-node's KubeConfig", async () => {
    const kubeconfig = (cluster: string, user: string, name = "a") =>
      [
        "apiVersion: v1",
        `current-context: ${name}`,
        `contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}}}]`,
        `clusters: [{name: ${name}, cluster: {${cluster}}}]`,
        `users: [{name: ${name}, user: {${user}}}]`,
      ].join("\n");
    const exec = write(
      "exec",
      kubeconfig("server: 'https://a:1'", "exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/false}"),
    );
    const proxied = write("proxied", kubeconfig("server: 'https://a:1', proxy-url: 'http://proxy:3128'", "token: t"));
    const plain = write("plain", kubeconfig("server: 'https://b:2'", "token: t", "b"));
    for (const file of [exec, proxied])
      expect(isClientNode(await loadClusterAccess({ kubeconfig: file }))).to.equal(true);
    const merged = await loadClusterAccess({ env: { KUBECONFIG: [plain, exec].join(path.delimiter) } });
    expect(isClientNode(merged)).to.equal(true);
    expect(isClientNode(await loadClusterAccess({ env: { KUBECONFIG: plain } }))).to.equal(false);
  });
});

describe("loadClusterAccess (against a real API server)", function () {
  this.timeout(120_000);
  let cp: ControlPlane;

  before(async () => {
    cp = await controlPlane();
  });

  it("talks to the API server with a client certificate and as a ServiceAccount with a token", async () => {
    const admin = new KubeClient(await loadClusterAccess({ kubeconfig: cp.kubeconfigPath }));
    expect(isClientNode(admin.kubeConfig)).to.equal(false);
    const { items } = await admin.list(namespaceKind);
    expect(items.map((ns) => ns.metadata?.name)).to.include("default");

    const namespace = uniqueName("kubeconfig");
    const sa = await cp.serviceAccountKubeconfig(namespace, "reader");
    const client = new KubeClient(await loadClusterAccess({ kubeconfig: sa.path }));
    const review = await client.request<{ status: { userInfo: { username: string } } }>(
      "POST",
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
    );
    expect(review.status.userInfo.username).to.equal(`system:serviceaccount:${namespace}:reader`);
    admin.close();
    client.close();
  });
});
