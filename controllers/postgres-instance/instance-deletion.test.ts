import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import type { PostgresDatabase, PostgresInstance } from "../../api/v1alpha1/index.js";
import {
  API_VERSION,
  PostgresClusterInstanceKind,
  PostgresDatabaseKind,
  PostgresInstanceKind,
} from "../../api/v1alpha1/index.js";
import { isNotFound } from "../../runtime/errors.js";
import { secretKind, type ObjectKey, type ResourceKind } from "../../runtime/resource-kind.js";
import { eventually } from "../../test/support/eventually.js";
import { FINALIZER, InstanceReason } from "../constants.js";
import { instanceConnected } from "./instance-metrics.js";
import { InstanceTestEnv } from "../../test/env/instance-env.js";

describe("Deleting an instance (real API server and PostgreSQL)", function () {
  this.timeout(60_000);
  let env: InstanceTestEnv;

  before(async () => {
    env = await InstanceTestEnv.start("pgdelete");
  });

  after(async () => {
    await env?.stop();
  });

  /** A bare PostgresDatabase: no database controller runs here, so it gets no finalizer. */
  const createDatabase = (name: string, spec: PostgresDatabase["spec"]): Promise<PostgresDatabase> =>
    env.admin.create<PostgresDatabase>(PostgresDatabaseKind, {
      apiVersion: API_VERSION,
      kind: "PostgresDatabase",
      metadata: { name, namespace: env.namespace },
      spec,
    });

  const exists = async (kind: ResourceKind, key: ObjectKey): Promise<boolean> => {
    try {
      await env.admin.get(kind, key);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };

  const waitGone = async (kind: ResourceKind, key: ObjectKey): Promise<void> => {
    await eventually(async () => {
      expect(await exists(kind, key), `${kind.kind} ${key.name} still exists`).to.equal(false);
    });
  };

  it("holds a PostgresInstance while PostgresDatabases reference it, names them, and lets go once they are deleted", async () => {
    await env.createInstance("busy", env.goodSpec());
    await env.waitForCondition(PostgresInstanceKind, env.key("busy"), "Ready", { status: "True" });
    await createDatabase("app-b", { instanceRef: { name: "busy" } });
    await createDatabase("app-a", { instanceRef: { name: "busy", namespace: env.namespace } });
    await createDatabase("unrelated", { instanceRef: { name: "other" } });
    const key = { kind: "PostgresInstance" as const, namespace: env.namespace, name: "busy" };
    await eventually(() => expect(env.registry.has(key)).to.equal(true));

    await env.admin.delete(PostgresInstanceKind, env.key("busy"));
    const expected = `waiting for 2 PostgresDatabases to be deleted: ${env.namespace}/app-a, ${env.namespace}/app-b`;
    await env.waitForCondition(PostgresInstanceKind, env.key("busy"), "Ready", {
      status: "False",
      reason: InstanceReason.DeletionBlocked,
      message: expected,
    });
    const event = await env.waitForEvent("busy", "Warning", InstanceReason.DeletionBlocked);
    expect(event.message).to.include(expected);
    const held = await env.admin.get<PostgresInstance>(PostgresInstanceKind, env.key("busy"));
    expect(held.metadata.finalizers).to.include(FINALIZER);
    expect(env.directory.get(key), "still usable by the databases' own clean-up").to.not.equal(undefined);

    await env.admin.delete(PostgresDatabaseKind, env.key("app-a"));
    await env.waitForCondition(PostgresInstanceKind, env.key("busy"), "Ready", {
      status: "False",
      message: `waiting for 1 PostgresDatabase to be deleted: ${env.namespace}/app-b`,
    });
    await env.admin.delete(PostgresDatabaseKind, env.key("app-b"));
    await waitGone(PostgresInstanceKind, env.key("busy"));
    expect(env.directory.get(key)).to.equal(undefined);
    expect(env.registry.has(key)).to.equal(false);
    const series = (await instanceConnected.get()).values.filter((sample) => sample.labels.name === "busy");
    expect(series.filter((sample) => sample.labels.namespace === env.namespace)).to.have.length(0);
  });

  it("holds its password Secret with a finalizer while it uses it, and lets go after a reference change and on deletion", async () => {
    const hold = "kompost.chuge.li/postgresinstance-password";
    const held = async (name: string): Promise<boolean> => {
      const secret = await env.admin.get<V1Secret>(secretKind, env.key(name));
      return secret.metadata?.finalizers?.includes(hold) ?? false;
    };
    const password = env.srv.superuser.password;
    await env.putSecret("held-a", { password });
    await env.putSecret("held-b", { password });
    await env.createInstance("holder", env.secretSpec("held-a", "password"));
    await env.waitForCondition(PostgresInstanceKind, env.key("holder"), "Ready", { status: "True" });
    await eventually(async () => expect(await held("held-a")).to.equal(true));

    await env.admin.patch(PostgresInstanceKind, env.key("holder"), {
      spec: { passwordSecretRef: { name: "held-b", key: "password" } },
    });
    await eventually(async () => expect([await held("held-a"), await held("held-b")]).to.deep.equal([false, true]));

    await env.admin.delete(PostgresInstanceKind, env.key("holder"));
    await waitGone(PostgresInstanceKind, env.key("holder"));
    await eventually(async () => expect(await held("held-b")).to.equal(false));
  });

  it("releases what a kill between hold and release or an older Kompost left held, but not a Secret another instance references", async () => {
    const hold = "kompost.chuge.li/postgresinstance-password";
    const held = async (name: string): Promise<boolean> => {
      const secret = await env.admin.get<V1Secret>(secretKind, env.key(name));
      return secret.metadata?.finalizers?.includes(hold) ?? false;
    };
    const recorded = async (name: string) =>
      (await env.admin.get<PostgresInstance>(PostgresInstanceKind, env.key(name))).status?.heldPasswordSecrets;
    const setRecorded = (name: string, secrets: string[] | null) =>
      env.admin.patch(
        PostgresInstanceKind,
        env.key(name),
        { status: { heldPasswordSecrets: secrets } },
        {
          subresource: "status",
        },
      );
    const holdByHand = (name: string) =>
      env.admin.patch(secretKind, env.key(name), { metadata: { finalizers: ["tenant.example/keep", hold] } });
    const password = env.srv.superuser.password;
    for (const name of ["kept-a", "kept-b", "left-c", "left-d"]) await env.putSecret(name, { password });
    await env.createInstance("keeper", env.secretSpec("kept-a", "password"));
    await env.createInstance("sharer", env.secretSpec("kept-a", "password"));
    await eventually(async () =>
      expect([await recorded("keeper"), await recorded("sharer")]).to.deep.equal([["kept-a"], ["kept-a"]]),
    );

    // Moving away from a Secret another instance uses keeps it held, and recorded until it is released.
    await env.admin.patch(PostgresInstanceKind, env.key("keeper"), {
      spec: { passwordSecretRef: { name: "kept-b", key: "password" } },
    });
    await eventually(async () => expect(await recorded("keeper")).to.deep.equal(["kept-b", "kept-a"]));
    expect([await held("kept-a"), await held("kept-b")]).to.deep.equal([true, true]);

    // A kill after holding a new Secret and before releasing the old one left both held and recorded.
    await holdByHand("left-c");
    await setRecorded("keeper", ["kept-b", "kept-a", "left-c"]);
    await eventually(async () => {
      expect(await held("left-c")).to.equal(false);
      expect(await recorded("keeper")).to.have.members(["kept-b", "kept-a"]);
    });

    // An older Kompost recorded nothing and left a Secret held: the first reconcile finds it once.
    await holdByHand("left-d");
    await setRecorded("keeper", null);
    await eventually(async () => {
      expect(await held("left-d")).to.equal(false);
      expect(await recorded("keeper")).to.have.members(["kept-b", "kept-a"]);
    });
    const other = await env.admin.get<V1Secret>(secretKind, env.key("left-d"));
    expect(other.metadata?.finalizers, "only Kompost's finalizer goes").to.deep.equal(["tenant.example/keep"]);
    await env.admin.patch(secretKind, env.key("left-c"), { metadata: { finalizers: null } });
    await env.admin.patch(secretKind, env.key("left-d"), { metadata: { finalizers: null } });

    await env.admin.delete(PostgresInstanceKind, env.key("sharer"));
    await waitGone(PostgresInstanceKind, env.key("sharer"));
    await eventually(async () => expect([await held("kept-a"), await held("kept-b")]).to.deep.equal([false, true]));
    await env.admin.delete(PostgresInstanceKind, env.key("keeper"));
    await waitGone(PostgresInstanceKind, env.key("keeper"));
    await eventually(async () => expect(await held("kept-b")).to.equal(false));
  });

  it("deletes an unused PostgresClusterInstance at once and closes its pool", async () => {
    await env.createClusterInstance("idle", env.goodSpec());
    const name = env.clusterName("idle");
    await env.waitForCondition(PostgresClusterInstanceKind, { name }, "Ready", { status: "True" });
    const key = { kind: "PostgresClusterInstance" as const, name };
    await createDatabase("elsewhere", { instanceRef: { name } });
    await env.admin.delete(PostgresClusterInstanceKind, { name });
    await waitGone(PostgresClusterInstanceKind, { name });
    expect(env.directory.get(key)).to.equal(undefined);
    expect(env.registry.has(key)).to.equal(false);
  });

  it("holds a PostgresClusterInstance while a PostgresDatabase references it through clusterInstanceRef", async () => {
    await env.createClusterInstance("shared", env.goodSpec());
    const name = env.clusterName("shared");
    await env.waitForCondition(PostgresClusterInstanceKind, { name }, "Ready", { status: "True" });
    await createDatabase("tenant", { clusterInstanceRef: { name } });
    await env.admin.delete(PostgresClusterInstanceKind, { name });
    await env.waitForCondition(PostgresClusterInstanceKind, { name }, "Ready", {
      status: "False",
      reason: InstanceReason.DeletionBlocked,
      message: `${env.namespace}/tenant`,
    });
    await env.waitForEvent(name, "Warning", InstanceReason.DeletionBlocked, "default");
    await env.admin.delete(PostgresDatabaseKind, env.key("tenant"));
    await waitGone(PostgresClusterInstanceKind, { name });
  });

  it("keeps holding the instance while a database being deleted still carries Kompost's finalizer", async () => {
    await env.createInstance("draining", env.goodSpec());
    await env.waitForCondition(PostgresInstanceKind, env.key("draining"), "Ready", { status: "True" });
    await env.admin.create<PostgresDatabase>(PostgresDatabaseKind, {
      apiVersion: API_VERSION,
      kind: "PostgresDatabase",
      metadata: { name: "dropping", namespace: env.namespace, finalizers: [FINALIZER] },
      spec: { instanceRef: { name: "draining" } },
    });
    // The database's own finalizer needs the instance to drop what it created on the server.
    await env.admin.delete(PostgresDatabaseKind, env.key("dropping"));
    await env.admin.delete(PostgresInstanceKind, env.key("draining"));
    await env.waitForCondition(PostgresInstanceKind, env.key("draining"), "Ready", {
      status: "False",
      reason: InstanceReason.DeletionBlocked,
      message: `${env.namespace}/dropping`,
    });
    expect(env.directory.get({ kind: "PostgresInstance", namespace: env.namespace, name: "draining" })).to.not.equal(
      undefined,
    );
    await env.admin.patch(PostgresDatabaseKind, env.key("dropping"), { metadata: { finalizers: null } });
    await waitGone(PostgresInstanceKind, env.key("draining"));
  });
});
