import { expect } from "chai";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { ApiError, isConflict, isGone, isNotFound } from "./errors.js";
import { KubeClient, type WatchEvent } from "./kube-client.js";
import { metricsRegistry } from "./metrics.js";
import { configMapKind } from "./resource-kind.js";
import { uniqueName } from "./testing/fixtures.js";
import { TcpProxy } from "./testing/tcp-proxy.js";

describe("KubeClient (against a real API server)", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let namespace: string;

  const failure = (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      () => expect.fail("expected the request to fail"),
      (err: unknown) => err,
    );

  before(async () => {
    cp = await controlPlane();
    client = new KubeClient(cp.kubeConfig);
    namespace = uniqueName("client");
    await cp.createNamespace(namespace);
  });

  it("turns a missing object into an ApiError 404 that names the request", async () => {
    const err = await failure(client.get(configMapKind, { namespace, name: "absent" }));
    expect(isNotFound(err)).to.equal(true);
    expect(err).to.be.instanceOf(ApiError).and.to.include({ reason: "NotFound" });
    expect((err as Error).message).to.contain(`GET /api/v1/namespaces/${namespace}/configmaps/absent: 404 NotFound`);
  });

  it("reports a stale resourceVersion in a merge patch as 409 Conflict", async () => {
    const cm = await client.create<V1ConfigMap>(configMapKind, { metadata: { name: "locked", namespace } });
    await client.patch(configMapKind, { namespace, name: "locked" }, { data: { a: "1" } });
    const err = await failure(
      client.patch(
        configMapKind,
        { namespace, name: "locked" },
        { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data: { a: "2" } },
      ),
    );
    expect(isConflict(err)).to.equal(true);
  });

  it("applies JSON patches and server-side apply patches", async () => {
    await client.create<V1ConfigMap>(configMapKind, { metadata: { name: "patched", namespace }, data: { a: "1" } });
    await client.patch(configMapKind, { namespace, name: "patched" }, [{ op: "add", path: "/data/b", value: "2" }], {
      type: "json",
    });
    const applied = await client.patch<V1ConfigMap>(
      configMapKind,
      { namespace, name: "patched" },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "patched", namespace }, data: { c: "3" } },
      { type: "apply", fieldManager: "kompost-test", force: true },
    );
    expect(applied.data).to.deep.equal({ a: "1", b: "2", c: "3" });
  });

  it("pages through a list with limit and continue", async () => {
    const ns = uniqueName("paging");
    await cp.createNamespace(ns);
    await Promise.all(
      [1, 2, 3].map((i) => client.create(configMapKind, { metadata: { name: `p${i}`, namespace: ns } })),
    );
    const first = await client.list<V1ConfigMap>(configMapKind, { namespace: ns, limit: 2 });
    expect(first.items).to.have.length(2);
    const second = await client.list<V1ConfigMap>(configMapKind, { namespace: ns, limit: 2, continue: first.continue });
    expect(second.items).to.have.length(1);
    expect(second.continue).to.equal(undefined);
  });

  it("streams watch events and ends the watch when aborted", async () => {
    const { resourceVersion } = await client.list(configMapKind, { namespace });
    const abort = new AbortController();
    const events: WatchEvent[] = [];
    const watching = client.watch(
      configMapKind,
      { namespace, resourceVersion, timeoutSeconds: 60, signal: abort.signal },
      (e) => {
        events.push(e);
        if (events.length === 1) abort.abort();
      },
    );
    await client.create(configMapKind, { metadata: { name: "watched", namespace } });
    await watching;
    expect(events[0]).to.deep.include({ type: "ADDED" });
    expect(events[0]!.object.metadata!.name).to.equal("watched");
  });

  it("fails a watch from a compacted resourceVersion with 410 Gone", async () => {
    const { resourceVersion } = await client.list(configMapKind, { namespace });
    // Compaction at revision R keeps R itself: two writes put the list's next revision below it.
    await client.create(configMapKind, { metadata: { name: "after-list-1", namespace } });
    await client.create(configMapKind, { metadata: { name: "after-list-2", namespace } });
    await cp.compactEtcd();
    const signal = new AbortController().signal;
    let gone = false;
    await client
      .watch(configMapKind, { namespace, resourceVersion, timeoutSeconds: 5, signal }, (event) => {
        if (event.type === "ERROR") gone = event.object.code === 410;
      })
      .catch((err: unknown) => (gone = isGone(err)));
    expect(gone).to.equal(true);
  });

  it("sends many requests over one kept-alive TLS connection and opens a new one only when the CA changes", async () => {
    const server = new URL(cp.kubeConfig.getCurrentCluster()!.server);
    const proxy = await TcpProxy.start(server.hostname, Number(server.port));
    const kubeConfig = proxy.kubeConfigVia(cp.kubeConfig);
    const viaProxy = new KubeClient(kubeConfig);
    const gets = await requestCount("GET", "404");
    try {
      for (let i = 0; i < 30; i++) await failure(viaProxy.get(configMapKind, { namespace, name: `absent-${i}` }));
      expect(proxy.accepted, "connections for 30 requests one after another").to.equal(1);
      expect((await requestCount("GET", "404")) - gets).to.equal(30);

      await Promise.all(
        Array.from({ length: 5 }, (_, i) => failure(viaProxy.get(configMapKind, { namespace, name: `p-${i}` }))),
      );
      const afterBurst = proxy.accepted;
      expect(afterBurst, "connections for 5 requests at once").to.be.at.most(5);
      for (let i = 0; i < 10; i++) await failure(viaProxy.get(configMapKind, { namespace, name: `again-${i}` }));
      expect(proxy.accepted, "connections reused after the burst").to.equal(afterBurst);

      // A rotated CA file: the same CA in other bytes is still new material, so a new connection.
      const cluster = kubeConfig.getCurrentCluster()!;
      const caPem = Buffer.from(cluster.caData!, "base64").toString("utf8");
      kubeConfig.loadFromOptions({
        clusters: kubeConfig.clusters.map((c) =>
          c.name === cluster.name ? { ...c, caData: Buffer.from(`${caPem}\n`).toString("base64") } : c,
        ),
        users: kubeConfig.users,
        contexts: kubeConfig.contexts,
        currentContext: kubeConfig.currentContext,
      });
      for (let i = 0; i < 5; i++) await failure(viaProxy.get(configMapKind, { namespace, name: `rotated-${i}` }));
      expect(proxy.accepted, "connections after the CA rotated").to.equal(afterBurst + 1);
    } finally {
      viaProxy.close();
      await proxy.close();
    }
  });
});

/** The value of rest_client_requests_total for a method and code. */
async function requestCount(method: string, code: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("rest_client_requests_total")!.get();
  return metric.values.find((v) => v.labels.method === method && v.labels.code === code)?.value ?? 0;
}
