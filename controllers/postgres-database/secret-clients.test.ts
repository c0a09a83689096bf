import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { setFaultHook } from "../../runtime/fault-points.js";
import { secretKind } from "../../runtime/resource-kind.js";
import { dataHash } from "../../services/secrets/connection-secret.js";
import { findPgBinaries } from "../../test/harness/postgres/binaries.js";
import { eventually } from "../../test/support/eventually.js";
import {
  DATA_HASH_ANNOTATION,
  DATA_HASH_KEY_ANNOTATION,
  EXTRA_KEYS_ANNOTATION,
  ROTATE_PASSWORD_ANNOTATION,
} from "../constants.js";
import { ADMIN_KINDS, DatabaseTestEnv, sqlState, using, type SecretData } from "../../test/env/database-env.js";

const run = promisify(execFile);

/** Debian's pgJDBC (package libpostgresql-jdbc-java); the JDBC test is skipped without it or a JVM. */
const PGJDBC_JAR = "/usr/share/java/postgresql.jar";
const JDBC_PROGRAM = path.resolve("test/support/JdbcConnect.java");

/** A password a user may set in DB_PASS that breaks every naive URL, DSN or shell quoting. */
const HOSTILE_PASSWORD = `p@ss:w/rd?#&%25=+ 'q"\\$\`x;--`;

const DAY_MS = 86_400_000;

describe("Connection Secrets for every client, and passwords that rotate (real API server and PostgreSQL)", function () {
  this.timeout(180_000);
  let env: DatabaseTestEnv;
  let namespace: string;
  let scratch: string;
  let clockOffsetMs = 0;

  before(async () => {
    env = await DatabaseTestEnv.start({ clock: () => new Date(Date.now() + clockOffsetMs) });
    namespace = await env.namespace("secret-clients");
    for (const kind of ADMIN_KINDS) await env.instance(namespace, kind.toLowerCase(), kind);
    scratch = await mkdtemp(path.join(os.tmpdir(), "kompost-secret-clients-"));
  });

  after(async () => {
    setFaultHook(undefined);
    if (!env) return;
    await env.deleteDatabases(namespace);
    await env.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  /** Runs psql with only `environment` (and PATH); prints "<user> <database> <ssl>". */
  async function psql(args: string[], environment: Record<string, string>): Promise<string> {
    const { psql: binary } = await findPgBinaries();
    const { stdout } = await run(
      binary,
      [
        ...args,
        "-XAtc",
        "SELECT current_user || ' ' || current_database() || ' ' || (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
      ],
      { env: { PATH: process.env.PATH ?? "", PGCONNECT_TIMEOUT: "10", ...environment } },
    );
    return stdout.trim();
  }

  async function writeSecretData(name: string, data: Record<string, string>): Promise<void> {
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    await env.client.patch<V1Secret>(secretKind, { namespace, name }, { data: encoded });
  }

  async function loginFails(data: SecretData, password: string): Promise<boolean> {
    return (
      (await sqlState(using(env.connectWith({ ...data, DB_PASS: password }), (c) => c.query("SELECT 1")))) === "28P01"
    );
  }

  describe("with an escape-hostile password set in DB_PASS", () => {
    let data: SecretData;
    let secret: V1Secret;
    let caFile: string;
    let expected: string;

    before(async () => {
      await env.database(
        namespace,
        "clients",
        { instance: "superuser" },
        {
          spec: [
            "  secret:",
            "    extraKeys:",
            '      LIBPQ_DSN: "host={{host}} port={{ port }} dbname={{database}} user={{user}} sslmode={{sslmode}}"',
            '      ca.crt: "{{ca}}"',
            "    labels: {team: a}",
            '    annotations: {"example.com/owner": team-a}',
            "",
          ].join("\n"),
        },
      );
      await env.ready(namespace, "clients", 60_000);
      const before = (await env.secret(namespace, "psql-clients-app"))!;
      await writeSecretData("psql-clients-app", { DB_PASS: HOSTILE_PASSWORD });
      // The Secret is rewritten with the password everywhere it appears, then the role is set to it.
      await env.event(namespace, "clients", "PasswordReset");
      secret = await eventually(async () => {
        const now = (await env.secret(namespace, "psql-clients-app"))!;
        expect(now.metadata?.annotations?.[DATA_HASH_ANNOTATION]).to.not.equal(
          before.metadata?.annotations?.[DATA_HASH_ANNOTATION],
        );
        return now;
      });
      data = await env.secretData(namespace, "psql-clients-app");
      expect(data.PGPASSWORD).to.equal(HOSTILE_PASSWORD);
      caFile = path.join(scratch, "ca.crt");
      await writeFile(caFile, data["ca.crt"]!);
      expected = `${data.DB_USER} ${data.DB_NAME} true`;
    });

    it("carries the extra keys, labels and annotations of spec.secret next to Kompost's own", () => {
      expect(data.LIBPQ_DSN).to.equal(
        `host=${env.srv.tlsServerName} port=${env.srv.port} dbname=${data.DB_NAME} user=${data.DB_USER} sslmode=verify-full`,
      );
      expect(data["ca.crt"]).to.equal(env.srv.caPem);
      expect(secret.metadata?.labels).to.include({ team: "a", "app.kubernetes.io/managed-by": "kompost" });
      expect(secret.metadata?.annotations).to.include({
        "example.com/owner": "team-a",
        [EXTRA_KEYS_ANNOTATION]: "LIBPQ_DSN,ca.crt",
      });
      expect(secret.metadata?.annotations?.[DATA_HASH_ANNOTATION]).to.match(/^[0-9a-f]{64}$/);
    });

    it("keys the data hash with a random key kept in the Secret, so a copied hash cannot test password guesses", () => {
      const annotations = secret.metadata?.annotations ?? {};
      const key = annotations[DATA_HASH_KEY_ANNOTATION]!;
      expect(key).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(annotations[DATA_HASH_ANNOTATION]).to.equal(dataHash(data, key));
      const entries = Object.keys(data)
        .sort()
        .map((name) => [name, data[name]]);
      const unkeyed = createHash("sha256").update(JSON.stringify(entries)).digest("hex");
      expect(annotations[DATA_HASH_ANNOTATION]).to.not.equal(unkeyed);
    });

    it("lets psql log in with the PG* keys as its only environment", async () => {
      const pgEnv = Object.fromEntries(Object.entries(data).filter(([key]) => /^PG[A-Z]+$/.test(key)));
      expect(Object.keys(pgEnv).sort()).to.deep.equal([
        "PGDATABASE",
        "PGHOST",
        "PGPASSWORD",
        "PGPORT",
        "PGSSLMODE",
        "PGUSER",
      ]);
      expect(await psql([], { ...pgEnv, PGSSLROOTCERT: caFile })).to.equal(expected);
    });

    it("lets psql log in with DATABASE_URL, and with an extra key built from placeholders", async () => {
      expect(await psql([data.DATABASE_URL!], { PGSSLROOTCERT: caFile })).to.equal(expected);
      expect(await psql([data.LIBPQ_DSN!], { PGPASSWORD: data.DB_PASS!, PGSSLROOTCERT: caFile })).to.equal(expected);
    });

    it("lets node-postgres log in with DATABASE_URL as its connectionString", async () => {
      const url = `${data.DATABASE_URL!}&sslrootcert=${encodeURIComponent(caFile)}`;
      const row = await using(
        (async () => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          return client;
        })(),
        (c) => c.query<{ user: string; db: string }>("SELECT current_user AS user, current_database() AS db"),
      );
      expect(row.rows[0]).to.deep.equal({ user: data.DB_USER, db: data.DB_NAME });
    });

    it("lets pgJDBC log in with JDBC_URL", async function () {
      const java = await run("java", ["-version"]).then(
        () => true,
        () => false,
      );
      if (!java || !existsSync(PGJDBC_JAR)) {
        this.skip(); // no JVM or no pgJDBC here: hack/setup-test-env.sh installs libpostgresql-jdbc-java where a JVM is present
      }
      const url = `${data.JDBC_URL!}&sslrootcert=${encodeURIComponent(caFile)}`;
      const { stdout } = await run("java", ["-cp", PGJDBC_JAR, JDBC_PROGRAM, url], { timeout: 120_000 });
      expect(stdout.trim()).to.equal(`${data.DB_USER} ${data.DB_NAME} true`);
    });
  });

  it("refuses an unknown placeholder with InvalidSecretSpec, and removes an extra key once spec.secret drops it", async () => {
    const withKeys = (keys: string) => ({ spec: `  secret:\n    extraKeys: ${keys}\n` });
    await env.database(
      namespace,
      "placeholders",
      { instance: "superuser" },
      withKeys('{HOST: "{{host}}", X: "{{env}}"}'),
    );
    await env.condition(namespace, "placeholders", "AppUser", "False", {
      reason: "InvalidSecretSpec",
      message: 'spec.secret.extraKeys.X uses the unknown placeholder "{{env}}"',
    });
    await env.event(namespace, "placeholders", "InvalidSecretSpec");
    expect(await env.secret(namespace, "psql-placeholders-app")).to.equal(undefined);
    await env.database(namespace, "placeholders", { instance: "superuser" }, withKeys('{HOST: "{{host}}"}'));
    await env.ready(namespace, "placeholders", 60_000);
    expect((await env.secretData(namespace, "psql-placeholders-app")).HOST).to.equal(env.srv.tlsServerName);
    await env.database(namespace, "placeholders", { instance: "superuser" }, withKeys("{}"));
    await eventually(async () => {
      const data = await env.secretData(namespace, "psql-placeholders-inspector");
      expect(data).to.not.have.property("HOST");
      expect(data).to.have.property("DB_PASS");
    });
  });

  it("keeps the password of a Secret whose labels were removed (it leaves the watch), and puts the labels back", async () => {
    await env.database(namespace, "unlabelled", { instance: "superuser" });
    await env.ready(namespace, "unlabelled", 60_000);
    const old = await env.secretData(namespace, "psql-unlabelled-app");
    await env.kubectl("label", "secret", "psql-unlabelled-app", "-n", namespace, "app.kubernetes.io/managed-by-");
    const secret = await eventually(async () => {
      const found = (await env.secret(namespace, "psql-unlabelled-app"))!;
      expect(found.metadata?.labels?.["app.kubernetes.io/managed-by"]).to.equal("kompost");
      return found;
    }, 60_000);
    expect(Buffer.from(secret.data!.DB_PASS!, "base64").toString()).to.equal(old.DB_PASS);
    await using(env.connectWith(old), (c) => c.query("SELECT 1"));
  });

  for (const kind of ADMIN_KINDS) {
    it(`rotates both passwords when kompost.chuge.li/rotate-password changes, and says so in status (${kind})`, async () => {
      const name = `rotate-${kind.toLowerCase()}`;
      await env.database(namespace, name, { instance: kind.toLowerCase() });
      const before = await env.ready(namespace, name, 60_000);
      const old = {
        app: await env.secretData(namespace, `psql-${name}-app`),
        inspector: await env.secretData(namespace, `psql-${name}-inspector`),
      };
      await env.kubectl("annotate", "pgdb", name, "-n", namespace, `${ROTATE_PASSWORD_ANNOTATION}=2026-11-29`);
      const after = await eventually(async () => {
        const db = (await env.get(namespace, name))!;
        expect(db.status?.users?.map((u) => u.rotationToken)).to.deep.equal(["2026-11-29", "2026-11-29"]);
        return db;
      }, 60_000);
      for (const role of ["app", "inspector"] as const) {
        const now = await env.secretData(namespace, `psql-${name}-${role}`);
        expect(now.DB_PASS)
          .to.match(/^[A-Za-z0-9]{40}$/)
          .and.not.equal(old[role].DB_PASS);
        expect(now.DATABASE_URL).to.include(now.DB_PASS).and.not.include(old[role].DB_PASS);
        expect(now.PGPASSWORD).to.equal(now.DB_PASS);
        const secret = (await env.secret(namespace, `psql-${name}-${role}`))!;
        expect(secret.metadata?.annotations?.[ROTATE_PASSWORD_ANNOTATION]).to.equal("2026-11-29");
        await using(env.connectWith(now), (c) => c.query("SELECT 1"));
        expect(await loginFails(now, old[role].DB_PASS!), `old ${role} password still works`).to.equal(true);
      }
      const setAt = (db: typeof before) => db.status?.users?.map((u) => Date.parse(u.passwordSetAt ?? ""));
      setAt(after)!.forEach((at, i) => expect(at).to.be.at.least(setAt(before)![i]!));
      expect((await env.event(namespace, name, "PasswordRotated")).message).to.include(ROTATE_PASSWORD_ANNOTATION);
    });
  }

  it("rotates on its own once spec.passwordRotation.every has passed (clock moved forward)", async () => {
    await env.database(
      namespace,
      "scheduled",
      { instance: "superuser" },
      { spec: "  passwordRotation: {every: 30d}\n" },
    );
    await env.ready(namespace, "scheduled", 60_000);
    const old = await env.secretData(namespace, "psql-scheduled-app");
    clockOffsetMs = 31 * DAY_MS;
    try {
      // Any change of the resource makes the controller look again; the requeue at the due time does it in production.
      await env.kubectl("annotate", "pgdb", "scheduled", "-n", namespace, "example.com/touch=1");
      const now = await eventually(async () => {
        const data = await env.secretData(namespace, "psql-scheduled-app");
        expect(data.DB_PASS).to.not.equal(old.DB_PASS);
        return data;
      }, 60_000);
      const db = await eventually(async () => {
        const found = (await env.get(namespace, "scheduled"))!;
        expect(Date.parse(found.status!.users![0]!.passwordSetAt!)).to.be.above(Date.now() + 30 * DAY_MS);
        return found;
      });
      expect(db.status?.users?.[0]?.rotationToken).to.equal(undefined);
      await using(env.connectWith(now), (c) => c.query("SELECT 1"));
      expect((await env.event(namespace, "scheduled", "PasswordRotated")).message).to.include("passwordRotation.every");
    } finally {
      clockOffsetMs = 0;
    }
  });

  it("never strands a password: a crash between the Secret write and ALTER ROLE leaves the Secret's new password, which the next pass sets", async () => {
    await env.database(namespace, "crash", { instance: "limitedadmin" });
    await env.ready(namespace, "crash", 60_000);
    const old = await env.secretData(namespace, "psql-crash-app");
    let written: string | undefined;
    setFaultHook(async (point) => {
      if (point !== "secret-written" || written !== undefined) return;
      written = (await env.secretData(namespace, "psql-crash-app")).DB_PASS;
      throw new Error("simulated crash between the Secret write and ALTER ROLE");
    });
    try {
      await env.kubectl("annotate", "pgdb", "crash", "-n", namespace, `${ROTATE_PASSWORD_ANNOTATION}=now`);
      await eventually(async () => {
        const db = (await env.get(namespace, "crash"))!;
        expect(db.status?.users?.map((u) => u.rotationToken)).to.deep.equal(["now", "now"]);
        expect(db.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
      }, 60_000);
    } finally {
      setFaultHook(undefined);
    }
    const now = await env.secretData(namespace, "psql-crash-app");
    expect(written).to.be.a("string").and.not.equal(old.DB_PASS);
    // The retry kept the password the Secret already had (no second rotation) and set it on the role.
    expect(now.DB_PASS).to.equal(written);
    await using(env.connectWith(now), (c) => c.query("SELECT 1"));
    expect(await loginFails(now, old.DB_PASS!)).to.equal(true);
  });
});
