import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { PostgresClusterInstance, PostgresInstance } from "../../api/v1alpha1/index.js";
import { PostgresClusterInstanceKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { TestCA } from "../../test/harness/pki.js";
import { freePort } from "../../test/harness/ports.js";
import { eventually } from "../../test/support/eventually.js";
import { CONNECTED_MESSAGE, FINALIZER, InstanceReason, PRIVILEGED_MESSAGE } from "../constants.js";
import { instanceConnected } from "./instance-metrics.js";
import { InstanceTestEnv } from "../../test/env/instance-env.js";

describe("PostgresInstance and PostgresClusterInstance controllers (real API server and PostgreSQL)", function () {
  this.timeout(120_000);
  let env: InstanceTestEnv;

  before(async () => {
    env = await InstanceTestEnv.start("pginst");
  });

  after(async () => {
    await env?.stop();
  });

  const waitReady = (name: string) =>
    env.waitForCondition(PostgresInstanceKind, env.key(name), "Ready", { status: "True" });
  const waitConnected = (name: string, expected: Parameters<InstanceTestEnv["waitForCondition"]>[3]) =>
    env.waitForCondition(PostgresInstanceKind, env.key(name), "Connected", expected);
  const published = (name: string) => env.directory.get({ kind: "PostgresInstance", namespace: env.namespace, name });
  const connectedMetric = async (name: string): Promise<number | undefined> =>
    (await instanceConnected.get()).values.find(
      (sample) => sample.labels.namespace === env.namespace && sample.labels.name === name,
    )?.value;

  describe("happy path", () => {
    it("makes a PostgresInstance with a plain password Ready, warns once about the password, and publishes it", async () => {
      await env.createInstance("plain", env.goodSpec());
      await waitReady("plain");
      const conditions = await env.conditions(PostgresInstanceKind, env.key("plain"));
      const byType = Object.fromEntries(conditions.map((c) => [c.type, c]));
      expect(byType.Credentials).to.include({ status: "True", reason: InstanceReason.PlainPassword });
      expect(byType.Connected).to.include({ status: "True", message: CONNECTED_MESSAGE });
      expect(byType.Privileged).to.include({ status: "True", message: PRIVILEGED_MESSAGE });
      expect(byType.AllowedNamespaces).to.include({ status: "True" });
      await env.waitForEvent("plain", "Warning", InstanceReason.PlainPassword);
      await env.waitForEvent("plain", "Normal", InstanceReason.Connected);
      const usable = await eventually(() => {
        expect(published("plain")).to.not.equal(undefined);
        return published("plain")!;
      });
      expect(usable).to.deep.include({ superuser: true, serverMajorVersion: env.srv.majorVersion });
      expect(usable.spec).to.include({ hostname: env.srv.tlsServerName, password: env.srv.superuser.password });
      const stored = await env.admin.get<PostgresInstance>(PostgresInstanceKind, env.key("plain"));
      expect(stored.metadata.finalizers).to.include(FINALIZER);
      expect(stored.spec).to.deep.equal(env.goodSpec());
    });

    it("connects over TLS without checking the certificate when ssl.verify is not set, as the original did, and warns about it", async () => {
      await env.createInstance("unverified", env.goodSpec({ ssl: { enabled: true } }));
      await waitReady("unverified");
      await env.waitForEvent("unverified", "Warning", InstanceReason.UnverifiedTLS);
    });

    it("makes a PostgresInstance with a password Secret Ready, and kubectl describe shows its conditions and events", async () => {
      await env.putSecret("admin-password", { password: env.srv.superuser.password });
      await env.createInstance("secret", env.secretSpec("admin-password", "password"));
      await waitReady("secret");
      await env.waitForCondition(PostgresInstanceKind, env.key("secret"), "Credentials", {
        status: "True",
        reason: InstanceReason.SecretResolved,
        message: `Secret "${env.namespace}/admin-password"`,
      });
      await env.waitForEvent("secret", "Normal", InstanceReason.Connected);
      const warnings = (await env.events("secret")).filter(
        (e) => e.reason === InstanceReason.PlainPassword || e.reason === InstanceReason.UnverifiedTLS,
      );
      expect(warnings).to.have.length(0);
      const described = await env.cp.kubectl(["describe", "pginst", "secret", "-n", env.namespace]);
      expect(described.code, described.stderr).to.equal(0);
      for (const text of ["Credentials", "Connected", "Privileged", "Ready", CONNECTED_MESSAGE, PRIVILEGED_MESSAGE]) {
        expect(described.stdout).to.include(text);
      }
      expect(described.stdout).to.match(/Normal\s+Connected/);
    });

    it("makes a PostgresClusterInstance Ready with a limited admin whose Secret is in the operator's namespace", async () => {
      await env.putSecret("cluster-admin", { pw: env.srv.limitedAdmin.password });
      const spec = env.secretSpec("cluster-admin", "pw", { username: env.srv.limitedAdmin.user });
      await env.createClusterInstance("shared", spec);
      const name = env.clusterName("shared");
      await env.waitForCondition(PostgresClusterInstanceKind, { name }, "Ready", { status: "True" });
      const usable = await eventually(() => {
        const entry = env.directory.get({ kind: "PostgresClusterInstance", name });
        expect(entry).to.not.equal(undefined);
        return entry!;
      });
      expect(usable.superuser).to.equal(false);
      expect(usable.spec.username).to.equal(env.srv.limitedAdmin.user);
      const described = await env.cp.kubectl(["describe", "pgcinst", name]);
      expect(described.code, described.stderr).to.equal(0);
      expect(described.stdout).to.include(CONNECTED_MESSAGE);
      expect(described.stdout).to.include("every namespace");
      expect(described.stdout).to.match(/Normal\s+Connected/);
      const stored = await env.admin.get<PostgresClusterInstance>(PostgresClusterInstanceKind, { name });
      expect(stored.metadata.finalizers).to.include(FINALIZER);
    });

    it("writes no status on resync while nothing changes", async () => {
      await env.createInstance("steady", env.goodSpec());
      await waitReady("steady");
      await env.waitForEvent("steady", "Normal", InstanceReason.Connected);
      // Settled: a resync begun after the Event has finished.
      await env.reconciles.more(env.key("steady"), 2);
      const before = await env.admin.get<PostgresInstance>(PostgresInstanceKind, env.key("steady"));
      // Two resyncs begun after that read: each connects again, and finds nothing new to write.
      await env.reconciles.more(env.key("steady"), 3);
      await env.flushEvents();
      const after = await env.admin.get<PostgresInstance>(PostgresInstanceKind, env.key("steady"));
      expect(after.metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
      const events = await env.events("steady");
      for (const reason of [InstanceReason.Connected, InstanceReason.PlainPassword]) {
        const matching = events.filter((e) => e.reason === reason);
        expect(matching, reason).to.have.length(1);
        expect(matching[0]!.count ?? 1, reason).to.equal(1);
      }
    });
  });

  describe("failures", () => {
    it("reports a wrong password in Connected with PostgreSQL's words and a Warning event, never the password", async () => {
      const password = "definitely-wrong-password";
      await env.createInstance("wrong-password", env.goodSpec({ plainPassword: password }));
      const connected = await waitConnected("wrong-password", {
        status: "False",
        reason: "AuthenticationFailed",
        message: "password authentication failed",
      });
      expect(connected.message).to.not.include(password);
      await env.waitForCondition(PostgresInstanceKind, env.key("wrong-password"), "Privileged", {
        status: "Unknown",
        message: "Not checked: not connected",
      });
      await env.waitForCondition(PostgresInstanceKind, env.key("wrong-password"), "Ready", {
        status: "False",
        reason: "AuthenticationFailed",
      });
      const event = await env.waitForEvent("wrong-password", "Warning", "AuthenticationFailed");
      expect(event.message).to.include("password authentication failed").and.not.include(password);
      expect(published("wrong-password")).to.equal(undefined);
    });

    it("says the Secret is missing, and connects once the Secret appears", async () => {
      await env.createInstance("no-secret", env.secretSpec("not-there-yet", "password"));
      await env.waitForCondition(PostgresInstanceKind, env.key("no-secret"), "Credentials", {
        status: "False",
        reason: InstanceReason.SecretNotFound,
        message: `Secret "${env.namespace}/not-there-yet" named in spec.passwordSecretRef was not found`,
      });
      await waitConnected("no-secret", { status: "Unknown", message: "Not checked: no credentials" });
      await env.waitForCondition(PostgresInstanceKind, env.key("no-secret"), "Privileged", {
        status: "Unknown",
        message: "Not checked: no credentials",
      });
      await env.waitForEvent("no-secret", "Warning", InstanceReason.SecretNotFound);
      await env.putSecret("not-there-yet", { password: env.srv.superuser.password });
      await waitReady("no-secret");
    });

    it("says which key the Secret lacks, then that its value is empty", async () => {
      await env.putSecret("keyless", { other: "x" });
      await env.createInstance("missing-key", env.secretSpec("keyless", "password"));
      await env.waitForCondition(PostgresInstanceKind, env.key("missing-key"), "Credentials", {
        status: "False",
        reason: InstanceReason.SecretKeyNotFound,
        message: `has no key "password" (it has "other")`,
      });
      await env.putSecret("keyless", { password: "" });
      await env.waitForCondition(PostgresInstanceKind, env.key("missing-key"), "Credentials", {
        status: "False",
        reason: InstanceReason.SecretValueEmpty,
        message: `Key "password" of Secret "${env.namespace}/keyless" is empty`,
      });
      await env.waitForEvent("missing-key", "Warning", InstanceReason.SecretKeyNotFound);
      await env.waitForEvent("missing-key", "Warning", InstanceReason.SecretValueEmpty);
    });

    it("reports a closed port as unreachable", async () => {
      const port = await freePort();
      await env.createInstance("closed-port", env.goodSpec({ hostname: "127.0.0.1", port }));
      await waitConnected("closed-port", { status: "False", reason: "Unreachable", message: `127.0.0.1:${port}` });
      await env.waitForEvent("closed-port", "Warning", "Unreachable");
    });

    it("records a failure as one Event, not one per retry", async () => {
      const port = await freePort();
      await env.createInstance("failing", env.goodSpec({ hostname: "127.0.0.1", port }));
      await env.waitForEvent("failing", "Warning", "Unreachable");
      // Four more failed attempts (retries come every second), then every Event they recorded is written.
      await env.reconciles.more(env.key("failing"), 4);
      await env.flushEvents();
      const warnings = (await env.events("failing")).filter(
        (e) => e.type === "Warning" && e.reason !== "PlainPassword",
      );
      expect(warnings.map((e) => e.reason)).to.deep.equal(["Unreachable"]);
      expect(warnings[0]!.count ?? 1).to.equal(1);
    });

    it("gives up on a listener that never answers once the connect timeout has passed", async () => {
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => undefined);
      });
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        await env.createInstance("black-hole", env.goodSpec({ hostname: "127.0.0.1", port }));
        await waitConnected("black-hole", { status: "False", reason: "Timeout", message: "no answer within" });
        await env.waitForEvent("black-hole", "Warning", "Timeout");
        // A silent server must not hold up the others: a new instance still becomes Ready.
        await env.createInstance("beside-black-hole", env.goodSpec());
        await waitReady("beside-black-hole");
      } finally {
        await env.admin.delete(PostgresInstanceKind, env.key("black-hole"));
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it("reports a user without CREATEDB and CREATEROLE as not Privileged, naming both rights", async () => {
      const client = await env.srv.connect();
      const user = `plain_${env.namespace.replace(/-/g, "_")}`;
      try {
        await client.query(`CREATE ROLE "${user}" LOGIN PASSWORD 'plain-user-password'`);
      } finally {
        await client.end();
      }
      await env.createInstance("unprivileged", env.goodSpec({ username: user, plainPassword: "plain-user-password" }));
      await waitConnected("unprivileged", { status: "True" });
      await env.waitForCondition(PostgresInstanceKind, env.key("unprivileged"), "Privileged", {
        status: "False",
        reason: InstanceReason.InsufficientPrivileges,
        message: `User "${user}" lacks CREATEDB and CREATEROLE`,
      });
      await env.waitForCondition(PostgresInstanceKind, env.key("unprivileged"), "Ready", {
        status: "False",
        reason: InstanceReason.InsufficientPrivileges,
      });
      await env.waitForEvent("unprivileged", "Warning", InstanceReason.InsufficientPrivileges);
      expect(published("unprivileged")).to.equal(undefined);
    });

    it("reports TLS turned off in the spec against a server that requires it", async () => {
      await env.createInstance("no-tls", env.goodSpec({ ssl: { enabled: false } }));
      await waitConnected("no-tls", { status: "False", message: /no encryption.*set spec\.ssl\.enabled/ });
    });

    it("rejects the server certificate when the spec trusts another CA", async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "kompost-other-ca-"));
      try {
        const other = await TestCA.create(dir, "Some Other CA");
        const ssl = { enabled: true, verify: "verify_ca" as const, ca: other.ca.certPem };
        await env.createInstance("wrong-ca", env.goodSpec({ ssl }));
        await waitConnected("wrong-ca", { status: "False", reason: "TLSFailed" });
        await env.waitForEvent("wrong-ca", "Warning", "TLSFailed");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("rejects a host name the certificate does not name under verify_peer, but accepts it under verify_ca", async () => {
      const ca = env.srv.caPem;
      await env.createInstance(
        "ip-peer",
        env.goodSpec({ hostname: "127.0.0.1", ssl: { enabled: true, verify: "verify_peer", ca } }),
      );
      await env.createInstance(
        "ip-ca",
        env.goodSpec({ hostname: "127.0.0.1", ssl: { enabled: true, verify: "verify_ca", ca } }),
      );
      await waitConnected("ip-peer", { status: "False", reason: "TLSFailed", message: "127.0.0.1" });
      await waitReady("ip-ca");
    });

    it("reports a CA that is not PEM as a clear condition message", async () => {
      const ssl = { enabled: true, verify: "verify_ca" as const, ca: "this is not a certificate" };
      await env.createInstance("bad-ca", env.goodSpec({ ssl }));
      await waitConnected("bad-ca", {
        status: "False",
        reason: "InvalidTLSConfig",
        message: "ssl.ca is not a PEM certificate",
      });
      await env.waitForEvent("bad-ca", "Warning", "InvalidTLSConfig");
    });
  });

  describe("re-checks", () => {
    it("flips Connected to False while the server is stopped and back to True by itself", async () => {
      await env.createInstance("restart", env.goodSpec());
      await waitReady("restart");
      await env.srv.stop();
      try {
        await waitConnected("restart", { status: "False" });
        await eventually(() => expect(published("restart")).to.equal(undefined));
        expect(await connectedMetric("restart")).to.equal(0);
      } finally {
        await env.srv.start();
      }
      await waitConnected("restart", { status: "True", message: CONNECTED_MESSAGE });
      await waitReady("restart");
      await eventually(() => expect(published("restart")).to.not.equal(undefined));
      expect(await connectedMetric("restart")).to.equal(1);
    });

    it("reconnects with a password rotated in the role and in the Secret, without a restart", async () => {
      const user = `rotating_${env.namespace.replace(/-/g, "_")}`;
      const run = async (sql: string): Promise<void> => {
        const client = await env.srv.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      };
      await run(`CREATE ROLE "${user}" LOGIN CREATEDB CREATEROLE PASSWORD 'first-password'`);
      await env.putSecret("rotating", { password: "first-password" });
      await env.createInstance("rotation", env.secretSpec("rotating", "password", { username: user }));
      await waitReady("rotation");
      await run(`ALTER ROLE "${user}" PASSWORD 'second-password'`);
      await waitConnected("rotation", { status: "False", reason: "AuthenticationFailed" });
      await env.putSecret("rotating", { password: "second-password" });
      await waitReady("rotation");
      await eventually(() => expect(published("rotation")?.spec.password).to.equal("second-password"));
    });
  });
});
