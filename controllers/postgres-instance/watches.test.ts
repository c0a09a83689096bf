import { expect } from "chai";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { API_VERSION, PostgresDatabaseKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { eventually } from "../../test/support/eventually.js";
import { InstanceReason } from "../constants.js";
import { InstanceTestEnv } from "../../test/env/instance-env.js";

describe("What instances watch besides themselves: password Secrets and PostgresDatabases (real API server and PostgreSQL)", function () {
  this.timeout(60_000);
  let env: InstanceTestEnv;

  before(async () => {
    // Neither a resync nor a retry comes within a test: only the watches can trigger a reconcile.
    const hour = 3_600_000;
    env = await InstanceTestEnv.start("pgwatch", { resyncPeriodMs: hour, retryAfterMs: hour, waitRequeueMs: hour });
  });

  after(async () => {
    await env?.stop();
  });

  const run = async (sql: string): Promise<void> => {
    const client = await env.srv.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };

  it("connects as soon as the missing Secret is created", async () => {
    await env.createInstance("waiting", env.secretSpec("late-secret", "password"));
    await env.waitForCondition(PostgresInstanceKind, env.key("waiting"), "Credentials", {
      status: "False",
      reason: InstanceReason.SecretNotFound,
    });
    await env.putSecret("late-secret", { password: env.srv.superuser.password });
    await env.waitForCondition(PostgresInstanceKind, env.key("waiting"), "Ready", { status: "True" });
  });

  it("uses a password changed in the Secret at once, with a new pool", async () => {
    const user = `watched_${env.namespace.replace(/-/g, "_")}`;
    await run(`CREATE ROLE "${user}" LOGIN CREATEDB CREATEROLE PASSWORD 'old-password'`);
    await env.putSecret("watched", { password: "old-password" });
    await env.createInstance("watched", env.secretSpec("watched", "password", { username: user }));
    await env.waitForCondition(PostgresInstanceKind, env.key("watched"), "Ready", { status: "True" });
    const key = { kind: "PostgresInstance" as const, namespace: env.namespace, name: "watched" };
    await eventually(() => expect(env.directory.get(key)?.spec.password).to.equal("old-password"));
    await run(`ALTER ROLE "${user}" PASSWORD 'new-password'`);
    await env.putSecret("watched", { password: "new-password" });
    await eventually(() => expect(env.directory.get(key)?.spec.password).to.equal("new-password"));
    await env.waitForCondition(PostgresInstanceKind, env.key("watched"), "Ready", { status: "True" });
    const pooled = await env.registry.withClient(key, env.directory.get(key)!.spec, async (client) => {
      const { rows } = await client.query<{ user: string }>("SELECT current_user AS user");
      return rows[0]!.user;
    });
    expect(pooled).to.equal(user);
  });

  it("lets a deleted instance go as soon as the last PostgresDatabase using it is deleted", async () => {
    await env.createInstance("in-use", env.goodSpec());
    await env.waitForCondition(PostgresInstanceKind, env.key("in-use"), "Ready", { status: "True" });
    await env.admin.create<PostgresDatabase>(PostgresDatabaseKind, {
      apiVersion: API_VERSION,
      kind: "PostgresDatabase",
      metadata: { name: "user", namespace: env.namespace },
      spec: { instanceRef: { name: "in-use" } },
    });
    await env.admin.delete(PostgresInstanceKind, env.key("in-use"));
    await env.waitForCondition(PostgresInstanceKind, env.key("in-use"), "Ready", {
      status: "False",
      reason: InstanceReason.DeletionBlocked,
    });
    await env.admin.delete(PostgresDatabaseKind, env.key("user"));
    await eventually(async () => {
      const left = await env.admin.list(PostgresInstanceKind, { namespace: env.namespace });
      expect(left.items.map((item) => item.metadata?.name)).to.not.include("in-use");
    });
  });
});
