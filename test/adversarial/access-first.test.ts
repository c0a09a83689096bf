import { expect } from "chai";
import { DatabaseReason, FINALIZER, InstanceReason } from "../../controllers/constants.js";
import { ALLOWED_NAMESPACES_ANNOTATION } from "../../services/access/allowed-namespaces.js";
import { operatorWorld, sqlPrefix } from "./access-fixture.js";

/**
 * Access first: a PostgresDatabase whose namespace may not use an instance gets no finalizer and
 * does not count as a dependent, so it cannot pin the instance; one that was allowed, created
 * its objects and then lost access still counts, and drops them when it is deleted.
 */
describe("access first (operator process)", function () {
  this.timeout(240_000);
  const world = operatorWorld();

  /** An intruder's PostgresDatabase, with Kompost's finalizer written by the intruder itself when `selfFinalized`. */
  const intruderDatabase = (namespace: string, name: string, ref: object, selfFinalized: boolean): string =>
    JSON.stringify({
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      metadata: { name, namespace, ...(selfFinalized ? { finalizers: [FINALIZER] } : {}) },
      spec: ref,
    });

  for (const kind of ["PostgresInstance", "PostgresClusterInstance"] as const) {
    it(`a database that may not use a ${kind} gets no finalizer, says why, and does not hold back the instance's deletion`, async () => {
      const owner = await world().namespace("acc-owner");
      const intruder = await world().namespace("acc-intruder");
      const namespaced = kind === "PostgresInstance";
      const name = namespaced ? "private" : `${owner}-private`;
      const resource = namespaced ? "pginst" : "pgcinst";
      const instanceNamespace = namespaced ? owner : undefined;
      // The cluster instance admits only the owner's namespace; the namespaced one has no annotation.
      const annotations: Record<string, string> = namespaced ? {} : { [ALLOWED_NAMESPACES_ANNOTATION]: owner };
      await world().apply(world().instance({ name, admin: "limitedAdmin", annotations, namespace: instanceNamespace }));
      await world().condition(resource, name, instanceNamespace, { type: "Ready", status: "True" });
      const ref = namespaced ? { instanceRef: { name, namespace: owner } } : { clusterInstanceRef: { name } };

      await world().apply(intruderDatabase(intruder, "pin", ref, false));
      await world().apply(intruderDatabase(intruder, "self-pinned", ref, true));
      for (const db of ["pin", "self-pinned"]) {
        const condition = await world().condition("pgdb", db, intruder, {
          type: "Connection",
          status: "False",
          reason: DatabaseReason.InstanceNotAllowed,
        });
        expect(condition.message).to.include(`may not be used from namespace "${intruder}"`);
      }
      expect((await world().get("pgdb", "pin", intruder))?.metadata.finalizers ?? []).to.deep.equal([]);

      await world().kubectl(["delete", resource, name, ...(namespaced ? ["-n", owner] : []), "--wait=false"]);
      await world().gone(resource, name, instanceNamespace, 60_000);
      expect(await world().serverObjects(sqlPrefix(intruder))).to.deep.equal([]);
      // The self-written finalizer goes too: nothing on the server carries this resource's marker.
      await world().kubectl(["delete", "pgdb", "--all", "-n", intruder, "--wait=false"]);
      await world().gone("pgdb", "pin", intruder);
      await world().gone("pgdb", "self-pinned", intruder);
    });
  }

  it("a database that lost access keeps its finalizer, holds back the instance's deletion, and drops what it created when deleted", async () => {
    const owner = await world().namespace("acc-owner");
    const tenant = await world().namespace("acc-tenant");
    const allow = (pattern: string) => ({ [ALLOWED_NAMESPACES_ANNOTATION]: pattern });
    await world().apply(
      world().instance({ name: "shared", namespace: owner, admin: "superuser", annotations: allow(tenant) }),
    );
    await world().condition("pginst", "shared", owner, { type: "Ready", status: "True" });
    await world().apply(world().database(tenant, "app", { instanceRef: { name: "shared", namespace: owner } }));
    await world().ready(tenant, "app");
    expect(await world().serverObjects(sqlPrefix(tenant))).to.have.length(3);

    await world().kubectl([
      "annotate",
      "--overwrite",
      "pginst",
      "shared",
      "-n",
      owner,
      `${ALLOWED_NAMESPACES_ANNOTATION}=nobody`,
    ]);
    await world().condition("pgdb", "app", tenant, {
      type: "Connection",
      status: "False",
      reason: DatabaseReason.InstanceNotAllowed,
    });
    expect((await world().get("pgdb", "app", tenant))?.metadata.finalizers).to.include(FINALIZER);
    expect(
      await world().serverObjects(sqlPrefix(tenant)),
      "nothing is dropped while the resource exists",
    ).to.have.length(3);

    // Its objects are on the server: the instance waits for its finalizer rather than leave them behind.
    await world().kubectl(["delete", "pginst", "shared", "-n", owner, "--wait=false"]);
    const blocked = await world().condition("pginst", "shared", owner, {
      type: "Ready",
      status: "False",
      reason: InstanceReason.DeletionBlocked,
    });
    expect(blocked.message).to.include(`${tenant}/app`);
    await world().kubectl(["delete", "pgdb", "app", "-n", tenant, "--wait=false"]);
    await world().gone("pgdb", "app", tenant);
    await world().gone("pginst", "shared", owner);
    expect(await world().serverObjects(sqlPrefix(tenant))).to.deep.equal([]);
  });
});
