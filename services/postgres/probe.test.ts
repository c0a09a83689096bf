import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { TestCA } from "../../test/harness/pki.js";
import { freePort } from "../../test/harness/ports.js";
import { instanceSpecOf } from "../../test/harness/instance-spec.js";
import type { PostgresServer } from "../../test/harness/postgres.js";
import { postgres } from "../../test/harness/postgres.js";
import type { ConnectionSettings, InstanceConnectionSpec } from "./connection-spec.js";
import { DEFAULT_CONNECTION_SETTINGS } from "./connection-spec.js";
import type { ProbeResult } from "./probe.js";
import { probeInstance } from "./probe.js";

/** A TCP listener that accepts connections and never says a word: a hung server. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function failure(result: ProbeResult): { reason: string; message: string } {
  if (result.connected) throw new Error(`expected the probe to fail, but it connected to ${result.serverVersion}`);
  return result;
}

describe("probing a PostgreSQL instance", () => {
  // Short, so that the tests of unreachable servers prove the bound without waiting long.
  const settings: ConnectionSettings = { ...DEFAULT_CONNECTION_SETTINGS, connectionTimeoutMillis: 1_500 };
  let srv: PostgresServer;
  let dir: string;
  let otherCaPem: string;

  before(async () => {
    srv = await postgres();
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-probe-"));
    otherCaPem = (await TestCA.create(dir, "some-other-ca", "other")).ca.certPem;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const spec = (overrides: Partial<InstanceConnectionSpec> = {}): InstanceConnectionSpec =>
    instanceSpecOf(srv, overrides);

  async function expectConnected(s: InstanceConnectionSpec): Promise<void> {
    const result = await probeInstance(s, settings);
    expect(result, JSON.stringify(result)).to.include({ connected: true });
    expect((result as { serverVersion: string }).serverVersion).to.match(new RegExp(`^${srv.majorVersion}\\.`));
  }

  describe("connects and reports the server version", () => {
    it("under verify_none", async () => {
      await expectConnected(spec({ hostname: srv.host, ssl: { enabled: true, verify: "verify_none" } }));
    });

    it("under verify_none even with a CA that did not sign the server certificate", async () => {
      await expectConnected(spec({ ssl: { enabled: true, verify: "verify_none", ca: otherCaPem } }));
    });

    it("under verify_ca, to an address the certificate does not name", async () => {
      await expectConnected(spec({ hostname: srv.host, ssl: { enabled: true, verify: "verify_ca", ca: srv.caPem } }));
    });

    it("under verify_peer, to the host name in the certificate", async () => {
      await expectConnected(spec());
    });

    it("as a user that is not a superuser", async () => {
      await expectConnected(spec({ username: srv.limitedAdmin.user, password: srv.limitedAdmin.password }));
    });
  });

  describe("fails in the server's or the network's own words", () => {
    it("on a wrong password", async () => {
      const result = failure(await probeInstance(spec({ password: "not-the-password" }), settings));
      expect(result.reason).to.equal("AuthenticationFailed");
      expect(result.message).to.include(`password authentication failed for user "${srv.superuser.user}"`);
      expect(result.message).to.include("28P01");
      expect(result.message).not.to.include("not-the-password");
    });

    it("when TLS is off in the spec but the server requires it", async () => {
      const result = failure(await probeInstance(spec({ hostname: srv.host, ssl: { enabled: false } }), settings));
      expect(result.reason).to.equal("AuthenticationFailed");
      expect(result.message)
        .to.match(/pg_hba\.conf rejects connection .* no encryption/)
        .and.to.include("spec.ssl.enabled");
    });

    it("when the certificate was signed by another CA", async () => {
      const result = failure(
        await probeInstance(spec({ ssl: { enabled: true, verify: "verify_ca", ca: otherCaPem } }), settings),
      );
      expect(result.reason).to.equal("TLSFailed");
      expect(result.message).to.match(/certificate/i);
    });

    it("when the server's CA is not in the system trust store and no CA is given", async () => {
      const result = failure(await probeInstance(spec({ ssl: { enabled: true, verify: "verify_peer" } }), settings));
      expect(result.reason).to.equal("TLSFailed");
      expect(result.message).to.match(/certificate/i);
    });

    it("when the host name does not match the certificate under verify_peer", async () => {
      const s = spec({ hostname: srv.host, ssl: { enabled: true, verify: "verify_peer", ca: srv.caPem } });
      const result = failure(await probeInstance(s, settings));
      expect(result.reason).to.equal("TLSFailed");
      expect(result.message).to.include("does not match certificate's altnames").and.to.include(srv.host);
    });

    it("when the CA is not PEM, without trying to connect", async () => {
      const s = spec({ ssl: { enabled: true, verify: "verify_ca", ca: "MIIB-not-a-pem" } });
      const result = failure(await probeInstance(s, settings));
      expect(result.reason).to.equal("InvalidTLSConfig");
      expect(result.message).to.match(/^ssl\.ca is not a PEM certificate: /);
    });

    it("when nothing listens on the port, naming host and port", async () => {
      const port = await freePort();
      const result = failure(await probeInstance(spec({ hostname: "127.0.0.1", port }), settings));
      expect(result.reason).to.equal("Unreachable");
      expect(result.message).to.include(`ECONNREFUSED 127.0.0.1:${port}`);
    });
  });

  describe("gives up after the connect timeout", () => {
    let hole: { port: number; close(): Promise<void> };
    before(async () => (hole = await blackHole()));
    after(async () => hole.close());

    it("on a server that accepts the connection and never answers the TLS request", async function () {
      // The bound: several times the connect timeout, far below a hung connection's minutes.
      this.timeout(settings.connectionTimeoutMillis * 4);
      const result = failure(await probeInstance(spec({ hostname: "127.0.0.1", port: hole.port }), settings));
      expect(result.reason).to.equal("Timeout");
      expect(result.message).to.include(`127.0.0.1:${hole.port}`).and.to.include("1500 ms");
    });

    it("on a server that accepts the connection and never answers the startup message", async function () {
      this.timeout(settings.connectionTimeoutMillis * 4);
      const s = spec({ hostname: "127.0.0.1", port: hole.port, ssl: { enabled: false } });
      const result = failure(await probeInstance(s, settings));
      expect(result.reason).to.equal("Timeout");
    });

    it("on a closed port as well", async function () {
      this.timeout(settings.connectionTimeoutMillis * 4);
      const result = failure(await probeInstance(spec({ hostname: "127.0.0.1", port: await freePort() }), settings));
      expect(result.reason).to.equal("Unreachable");
    });
  });
});
