import { expect } from "chai";
import type { PostgresClusterInstance, PostgresDatabase, PostgresInstance } from "../../api/v1alpha1/index.js";
import { ALLOWED_NAMESPACES_ANNOTATION } from "../../services/access/allowed-namespaces.js";
import { ObjectStore } from "../../runtime/cache.js";
import { FINALIZER } from "../constants.js";
import { DATABASE_INDEXES } from "../instances/resolution.js";
import { dependentDatabases, deletionBlockedCondition } from "./deletion.js";
import { clusterInstance, namespacedInstance } from "./instance-kinds.js";

const database = (
  namespace: string,
  name: string,
  spec: PostgresDatabase["spec"],
  metadata: Partial<PostgresDatabase["metadata"]> = {},
): PostgresDatabase => ({
  apiVersion: "kompost.chuge.li/v1alpha1",
  kind: "PostgresDatabase",
  metadata: { namespace, name, ...metadata },
  spec,
});

/** A PostgresDatabase cache as the controllers have it: indexed by the instance each references. */
function databaseStore(): ObjectStore<PostgresDatabase> {
  const store = new ObjectStore<PostgresDatabase>();
  for (const [name, indexFunc] of Object.entries(DATABASE_INDEXES)) store.addIndex(name, indexFunc);
  return store;
}

describe("which PostgresDatabases use an instance", () => {
  const store = databaseStore();
  store.set(database("a", "own", { instanceRef: { name: "pg" } }));
  store.set(database("b", "cross", { instanceRef: { name: "pg", namespace: "a" } }));
  store.set(database("b", "same-name-elsewhere", { instanceRef: { name: "pg" } }));
  store.set(database("c", "cluster", { clusterInstanceRef: { name: "pg" } }));
  store.set(database("a", "leaving", { instanceRef: { name: "pg" } }, { deletionTimestamp: new Date() }));
  store.set(
    database(
      "a",
      "draining",
      { instanceRef: { name: "pg" } },
      { deletionTimestamp: new Date(), finalizers: [FINALIZER] },
    ),
  );

  const instance = (namespace: string | undefined, annotations: Record<string, string> = {}): PostgresInstance => ({
    apiVersion: "kompost.chuge.li/v1alpha1",
    kind: "PostgresInstance",
    metadata: { name: "pg", ...(namespace ? { namespace } : {}), annotations },
    spec: { hostname: "db", username: "u", plainPassword: "p" },
  });
  const clusterWide = (annotations: Record<string, string> = {}): PostgresClusterInstance => ({
    ...instance(undefined, annotations),
    kind: "PostgresClusterInstance",
  });
  const admitting = (pattern: string) => ({ [ALLOWED_NAMESPACES_ANNOTATION]: pattern });

  it("finds a PostgresInstance's users by instanceRef, defaulting to the database's namespace", () => {
    expect(dependentDatabases(store, namespacedInstance, instance("a", admitting("b")))).to.deep.equal([
      "a/draining",
      "a/own",
      "b/cross",
    ]);
  });

  it("does not count a database from a namespace the instance does not admit (access first)", () => {
    expect(dependentDatabases(store, namespacedInstance, instance("a"))).to.deep.equal(["a/draining", "a/own"]);
    expect(dependentDatabases(store, namespacedInstance, instance("a", admitting("(b")))).to.deep.equal([
      "a/draining",
      "a/own",
    ]);
    const closed = clusterInstance("ops", "none");
    expect(dependentDatabases(store, closed, clusterWide())).to.deep.equal([]);
    const open = clusterWide(admitting("c"));
    expect(dependentDatabases(store, closed, open)).to.deep.equal(["c/cluster"]);
  });

  it("still counts a database it no longer admits that Kompost provisioned while it did", () => {
    const lost = databaseStore();
    const provisioned = { ...database("b", "was-allowed", { instanceRef: { name: "pg", namespace: "a" } }) };
    lost.set({
      ...provisioned,
      metadata: { ...provisioned.metadata, finalizers: [FINALIZER] },
      status: { sql_db_name: "b_x" },
    });
    lost.set({
      ...database("b", "self-finalized", { instanceRef: { name: "pg", namespace: "a" } }),
      metadata: { namespace: "b", name: "self-finalized", finalizers: [FINALIZER] },
    });
    expect(dependentDatabases(lost, namespacedInstance, instance("a"))).to.deep.equal(["b/was-allowed"]);
  });

  it("finds a PostgresClusterInstance's users by clusterInstanceRef only", () => {
    const pg = clusterWide();
    expect(dependentDatabases(store, clusterInstance("ops", "all"), pg)).to.deep.equal(["c/cluster"]);
  });

  it("names the databases in the blocked condition, and says how many more there are past ten", () => {
    const names = Array.from({ length: 12 }, (_, i) => `ns/db${String(i).padStart(2, "0")}`);
    const condition = deletionBlockedCondition(names);
    expect(condition.message).to.match(/^Deletion is waiting for 12 PostgresDatabases to be deleted: ns\/db00, /);
    expect(condition.message).to.match(/ns\/db09 and 2 more$/);
    expect(deletionBlockedCondition(["x/y"]).message).to.equal(
      "Deletion is waiting for 1 PostgresDatabase to be deleted: x/y",
    );
  });
});
