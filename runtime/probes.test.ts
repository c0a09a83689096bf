import net from "node:net";
import { expect } from "chai";
import { Counter, Registry } from "prom-client";
import { silentLogger } from "./logger.js";
import { ProbeServers, parseBindAddress } from "./probes.js";
import type { CheckResult, ProbeServerOptions } from "./probes.js";

function options(overrides: Partial<ProbeServerOptions> = {}): ProbeServerOptions {
  const registry = new Registry();
  new Counter({ name: "probe_test_total", help: "A counter for the probe tests", registers: [registry] }).inc(3);
  return {
    healthProbeBindAddress: "127.0.0.1:0",
    metricsBindAddress: "127.0.0.1:0",
    healthz: () => ({ ok: true, detail: "ok" }),
    readyz: () => ({ ok: true, detail: "ok" }),
    registry,
    logger: silentLogger(),
    ...overrides,
  };
}

async function get(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
}

describe("bind addresses", () => {
  it("reads controller-runtime's forms and 0 for disabled", () => {
    expect(parseBindAddress(":8080")).to.deep.equal({ host: undefined, port: 8080 });
    expect(parseBindAddress("127.0.0.1:0")).to.deep.equal({ host: "127.0.0.1", port: 0 });
    expect(parseBindAddress("localhost:9440")).to.deep.equal({ host: "localhost", port: 9440 });
    expect(parseBindAddress("[::1]:8081")).to.deep.equal({ host: "::1", port: 8081 });
    expect(parseBindAddress("0")).to.equal("disabled");
  });

  it("rejects anything else", () => {
    for (const text of ["", "8080", ":", ":http", "host:70000", "::1:8080", "a b:80", "[::1]"]) {
      expect(parseBindAddress(text), text).to.equal(undefined);
    }
  });
});

describe("probe servers", () => {
  let servers: ProbeServers | undefined;
  afterEach(async () => {
    await servers?.close();
    servers = undefined;
  });

  it("serves /healthz and /readyz on the probe address and /metrics on the metrics address", async () => {
    servers = await ProbeServers.start(options());
    expect(servers.healthProbeUrl).to.not.equal(servers.metricsUrl);
    expect(await get(`${servers.healthProbeUrl}/healthz`)).to.include({ status: 200, body: "ok\n" });
    expect(await get(`${servers.healthProbeUrl}/readyz`)).to.include({ status: 200, body: "ok\n" });
    const metrics = await get(`${servers.metricsUrl}/metrics`);
    expect(metrics.status).to.equal(200);
    expect(metrics.type).to.match(/^text\/plain/);
    expect(metrics.body).to.contain("probe_test_total 3");
    expect((await get(`${servers.healthProbeUrl}/metrics`)).status).to.equal(404);
    expect((await get(`${servers.metricsUrl}/healthz`)).status).to.equal(404);
  });

  it("answers a failing check with an error status and the reason", async () => {
    let ready: CheckResult = { ok: false, detail: "caches not synced: x" };
    servers = await ProbeServers.start(
      options({ readyz: () => ready, healthz: () => ({ ok: false, detail: "broken" }) }),
    );
    expect(await get(`${servers.healthProbeUrl}/readyz`)).to.include({ status: 503, body: "caches not synced: x\n" });
    expect(await get(`${servers.healthProbeUrl}/healthz`)).to.include({ status: 500, body: "broken\n" });
    ready = { ok: true, detail: "ok" };
    expect((await get(`${servers.healthProbeUrl}/readyz`)).status).to.equal(200);
  });

  it("serves all three paths on one server when both addresses are the same", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const address = `127.0.0.1:${port}`;
    servers = await ProbeServers.start(options({ healthProbeBindAddress: address, metricsBindAddress: address }));
    expect(servers.healthProbeUrl).to.equal(`http://${address}`);
    expect(servers.metricsUrl).to.equal(`http://${address}`);
    expect((await get(`${servers.healthProbeUrl}/healthz`)).status).to.equal(200);
    expect((await get(`${servers.metricsUrl}/metrics`)).status).to.equal(200);
  });

  it("starts no metrics server when the metrics address is 0", async () => {
    servers = await ProbeServers.start(options({ metricsBindAddress: "0" }));
    expect(servers.metricsUrl).to.equal(undefined);
    expect((await get(`${servers.healthProbeUrl}/healthz`)).status).to.equal(200);
  });

  it("fails with the address in the message when the port is taken", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const err = await ProbeServers.start(options({ metricsBindAddress: `127.0.0.1:${port}` })).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.equal(
        `while starting the metrics server on 127.0.0.1:${port}: EADDRINUSE: free the port or pass another address`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
