import { expect } from "chai";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { ObjectStore } from "../../runtime/cache.js";
import type { InstanceKey } from "../../services/postgres/instance-key.js";
import { ALLOWED_NAMESPACES_ANNOTATION } from "../constants.js";
import { InstanceDirectory } from "./instance-directory.js";
import {
  BY_INSTANCE,
  databasesReferencing,
  instanceKeyOf,
  referencedInstance,
  resolveInstance,
  type InstanceSources,
} from "./resolution.js";

function database(namespace: string, name: string, spec: PostgresDatabase["spec"]): PostgresDatabase {
  return { apiVersion: "kompost.chuge.li/v1alpha1", kind: "PostgresDatabase", metadata: { namespace, name }, spec };
}

function instance(name: string, namespace?: string, annotations?: Record<string, string>): KubernetesObject {
  return { metadata: { name, ...(namespace ? { namespace } : {}), ...(annotations ? { annotations } : {}) } };
}

describe("resolving the instance of a PostgresDatabase", () => {
  let sources: InstanceSources;
  let instances: ObjectStore<KubernetesObject>;
  let clusterInstances: ObjectStore<KubernetesObject>;
  let directory: InstanceDirectory;

  const usable = (key: Parameters<InstanceDirectory["get"]>[0]): void =>
    directory.publish({
      key,
      spec: { hostname: "db", port: 5432, username: "admin", password: "secret" },
      superuser: true,
      serverMajorVersion: 16,
    });

  beforeEach(() => {
    instances = new ObjectStore();
    clusterInstances = new ObjectStore();
    directory = new InstanceDirectory();
    sources = { instances, clusterInstances, directory, clusterInstanceDefault: "all" };
  });

  it("defaults instanceRef's namespace to the database's own", () => {
    expect(instanceKeyOf(database("team", "db", { instanceRef: { name: "pg" } }))).to.deep.equal({
      kind: "PostgresInstance",
      namespace: "team",
      name: "pg",
    });
  });

  it("gives distinct Connection reasons for not found, not allowed and not Ready", () => {
    const db = database("team", "db", { instanceRef: { name: "pg", namespace: "infra" } });
    const reasons: string[] = [];
    const reasonOf = (): string => {
      const result = resolveInstance(db, sources);
      expect(result.usable).to.equal(false);
      const reason = result.conditions.find((c) => c.type === "Connection")!.reason;
      return `${reason} allowed=${result.allowed}`;
    };
    reasons.push(reasonOf());
    instances.set(instance("pg", "infra"));
    reasons.push(reasonOf());
    instances.set(instance("pg", "infra", { [ALLOWED_NAMESPACES_ANNOTATION]: "team" }));
    reasons.push(reasonOf());
    // Only an instance that exists and admits the namespace lets the database take its finalizer.
    expect(reasons).to.deep.equal([
      "InstanceNotFound allowed=false",
      "InstanceNotAllowed allowed=false",
      "InstanceNotReady allowed=true",
    ]);
  });

  it("is usable, with the original's message, once the directory has the instance", () => {
    instances.set(instance("pg", "team"));
    usable({ kind: "PostgresInstance", namespace: "team", name: "pg" });
    const result = resolveInstance(database("team", "db", { instanceRef: { name: "pg" } }), sources);
    expect(result.usable).to.equal(true);
    expect(result.conditions).to.deep.equal([
      {
        type: "Connection",
        status: "True",
        reason: "Connected",
        message: "Connected to the referenced PostgreSQL instance.",
      },
    ]);
  });

  it("reports a cluster instance's access in ClusterInstanceAccess, following the operator's default", () => {
    clusterInstances.set(instance("shared"));
    const db = database("team", "db", { clusterInstanceRef: { name: "shared" } });
    const access = (): string | undefined =>
      resolveInstance(db, sources).conditions.find((c) => c.type === "ClusterInstanceAccess")?.status;
    expect(access()).to.equal("True");
    sources = { ...sources, clusterInstanceDefault: "none" };
    expect(access()).to.equal("False");
  });

  it("maps an instance to the databases that reference it, and only those", () => {
    const store = new ObjectStore<PostgresDatabase>();
    store.addIndex(BY_INSTANCE, referencedInstance);
    store.set(database("team", "a", { instanceRef: { name: "pg" } }));
    store.set(database("other", "b", { instanceRef: { name: "pg", namespace: "team" } }));
    store.set(database("other", "c", { instanceRef: { name: "pg" } }));
    store.set(database("team", "d", { clusterInstanceRef: { name: "pg" } }));
    const names = (key: InstanceKey): string[] =>
      databasesReferencing(store, key).map((db) => `${db.metadata.namespace}/${db.metadata.name}`);
    expect(names({ kind: "PostgresInstance", namespace: "team", name: "pg" })).to.deep.equal(["team/a", "other/b"]);
    expect(names({ kind: "PostgresClusterInstance", name: "pg" })).to.deep.equal(["team/d"]);
    store.set(database("team", "e", {}));
    expect(instanceKeyOf(store.get({ namespace: "team", name: "e" })!)).to.equal(undefined);
  });
});
