import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { InstanceReason } from "../../controllers/constants.js";
import { InstanceTestEnv } from "../env/instance-env.js";
import { ConnectionError } from "../../services/postgres/connection-failures.js";
import { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import type { InstanceConnectionSpec } from "../../services/postgres/connection-spec.js";
import { generatePassword } from "../../services/postgres/passwords.js";
import { probeInstance } from "../../services/postgres/probe.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";

/** The server asks these roles for their password in clear text or as MD5 (pg_hba.conf `password` and `md5`). */
const METHODS = ["cleartext", "md5"] as const;

/** How the server reports a wrong password it received, for `role`. */
const failedLogin = (role: string): string => `password authentication failed for user "${role}"`;

const countIn = (log: string, text: string): number => log.split(text).length - 1;

describe("Admin password requests in clear text or MD5 (adversarial, real PostgreSQL)", function () {
  this.timeout(120_000);
  const suffix = randomBytes(4).toString("hex");
  const roles = { cleartext: `kompost_cleartext_${suffix}`, md5: `kompost_md5_${suffix}` } as const;
  const password = generatePassword();
  let srv: PostgresServer;

  before(async () => {
    srv = await postgres();
    const admin = await srv.connect();
    try {
      await admin.query(`CREATE ROLE ${roles.cleartext} LOGIN PASSWORD '${password}'`);
      // An MD5 request needs an MD5 verifier; a SCRAM one makes the server use SCRAM even for `md5` lines.
      await admin.query("SET password_encryption = 'md5'");
      await admin.query(`CREATE ROLE ${roles.md5} LOGIN PASSWORD '${password}'`);
    } finally {
      await admin.end();
    }
    await srv.prependHbaRules(
      ["127.0.0.1/32", "::1/128"].flatMap((address) => [
        `host all ${roles.cleartext} ${address} password`,
        `host all ${roles.md5} ${address} md5`,
      ]),
    );
  });

  function spec(method: (typeof METHODS)[number], overrides: Partial<InstanceConnectionSpec>): InstanceConnectionSpec {
    return {
      hostname: srv.tlsServerName,
      port: srv.port,
      username: roles[method],
      password,
      ssl: { enabled: true, verify: "verify_none" },
      ...overrides,
    };
  }

  for (const method of METHODS) {
    it(`refuses a ${method} password request without sending anything, over plain TCP and unverified TLS`, async () => {
      const role = roles[method];
      for (const ssl of [{ enabled: false }, { enabled: true, verify: "verify_none" as const }]) {
        const wrong = `wrong-${randomBytes(8).toString("hex")}`;
        const probe = await probeInstance(spec(method, { ssl, password: wrong }));
        expect(probe).to.include({ connected: false, reason: "InsecurePasswordAuth" });
        const message = probe.connected ? "" : probe.message;
        expect(message).to.include("scram-sha-256").and.include("verify_peer").and.include("allowInsecurePasswordAuth");
        expect(message).to.not.include(wrong);
      }
      // The same wrong password with the opt-in does reach the server, which logs the failure: the log can tell.
      const optedIn = await probeInstance(spec(method, { password: "wrong", allowInsecurePasswordAuth: true }));
      expect(optedIn).to.include({ connected: false, reason: "AuthenticationFailed" });
      expect(countIn(await srv.readLog(), failedLogin(role)), "failed logins the server saw").to.equal(1);
    });

    it(`answers a ${method} password request when the instance opts in or the server's certificate is verified`, async () => {
      const plain = await probeInstance(spec(method, { ssl: { enabled: false }, allowInsecurePasswordAuth: true }));
      expect(plain).to.include({ connected: true });
      const verified = await probeInstance(
        spec(method, { ssl: { enabled: true, verify: "verify_peer", ca: srv.caPem } }),
      );
      expect(verified).to.include({ connected: true });
      const caOnly = await probeInstance(spec(method, { ssl: { enabled: true, verify: "verify_ca", ca: srv.caPem } }));
      expect(caOnly).to.include({ connected: true });
    });
  }

  it("refuses the request on pooled and tenant-database connections too", async () => {
    const registry = new ConnectionRegistry({ settings: { connectionTimeoutMillis: 5_000 } });
    const key = { kind: "PostgresClusterInstance", name: `guarded-${suffix}` } as const;
    try {
      for (const connect of [
        () => registry.withClient(key, spec("cleartext", {}), () => Promise.resolve()),
        () => registry.withTenantClient(key, spec("md5", {}), "postgres", () => Promise.resolve()),
      ]) {
        const err = await connect().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(ConnectionError);
        expect((err as ConnectionError).reason).to.equal("InsecurePasswordAuth");
      }
    } finally {
      await registry.closeAll();
    }
  });

  it("still logs in by SCRAM without a verified certificate", async () => {
    const scram = await probeInstance({
      hostname: srv.tlsServerName,
      port: srv.port,
      username: srv.limitedAdmin.user,
      password: srv.limitedAdmin.password,
      ssl: { enabled: true, verify: "verify_none" },
    });
    expect(scram).to.include({ connected: true });
  });

  describe("on a PostgresInstance (real API server)", () => {
    let env: InstanceTestEnv;

    before(async () => (env = await InstanceTestEnv.start("password-auth")));
    after(async () => env.stop());

    it("sets Connected False with InsecurePasswordAuth and a Warning Event, and connects once the instance opts in", async () => {
      const name = "cleartext";
      const unverified = { enabled: true, verify: "verify_none" as const };
      await env.createInstance(
        name,
        env.goodSpec({ username: roles.cleartext, plainPassword: password, ssl: unverified }),
      );
      const condition = await env.waitForCondition(PostgresInstanceKind, env.key(name), "Connected", {
        status: "False",
        reason: InstanceReason.InsecurePasswordAuth,
        message: "allowInsecurePasswordAuth",
      });
      expect(condition.message).to.not.include(password);
      const event = await env.waitForEvent(name, "Warning", InstanceReason.InsecurePasswordAuth);
      expect(event.message).to.include("scram-sha-256");
      await env.admin.patch(PostgresInstanceKind, env.key(name), { spec: { allowInsecurePasswordAuth: true } });
      await env.waitForCondition(PostgresInstanceKind, env.key(name), "Connected", { status: "True" });
    });
  });
});
