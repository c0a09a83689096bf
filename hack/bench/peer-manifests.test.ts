import { expect } from "chai";
import * as manifests from "./peer-manifests.js";

describe("benchmark Go peer manifests", () => {
  it("gives each database a Postgres dropped on delete and a WRITE and a READ user whose Secrets name them", () => {
    const [database, write, read] = manifests.peerDatabase(7, "bench-peer") as {
      kind: string;
      metadata: { name: string; namespace: string };
      spec: Record<string, unknown>;
    }[];
    expect(database!.kind).to.equal("Postgres");
    expect(database!.metadata).to.deep.equal({ name: "db-7", namespace: "bench-peer" });
    expect(database!.spec).to.deep.include({ database: "peer_db_7", dropOnDelete: true, schemas: ["public"] });
    expect([write, read].map((user) => user!.kind)).to.deep.equal(["PostgresUser", "PostgresUser"]);
    expect([write, read].map((user) => user!.spec.privileges)).to.deep.equal(["WRITE", "READ"]);
    expect([write, read].map((user) => user!.spec.database)).to.deep.equal(["db-7", "db-7"]);
    expect([write, read].map((user) => user!.metadata.name)).to.deep.equal(manifests.peerUserNames(7));
    expect(manifests.peerSecretName("db-7-write")).to.equal("peer-db-7-write");
  });

  it("keeps the objects and databases of two runs apart by their stem", () => {
    const [database] = manifests.peerDatabase(7, "bench-peer", "dbf") as { metadata: { name: string }; spec: object }[];
    expect(database!.metadata.name).to.equal("dbf-7");
    expect(database!.spec).to.deep.include({ database: "peer_dbf_7" });
    expect(manifests.peerUserNames(7, "dbf")).to.deep.equal(["dbf-7-write", "dbf-7-read"]);
  });

  it("points the peer at the server over verified TLS and limits it to one namespace", () => {
    const env = manifests.peerEnvironment({
      host: "localhost",
      port: 5433,
      user: "admin",
      password: "secret",
      caPath: "/tmp/ca.pem",
      watchNamespace: "bench-peer",
    });
    expect(env).to.deep.include({
      POSTGRES_HOST: "localhost:5433",
      POSTGRES_URI_ARGS: "sslmode=verify-full&sslrootcert=/tmp/ca.pem",
      WATCH_NAMESPACE: "bench-peer",
    });
  });

  it("reads success from status.succeeded only", () => {
    expect(manifests.peerSucceeded({ status: { succeeded: true } })).to.equal(true);
    expect(manifests.peerSucceeded({ status: { succeeded: false } })).to.equal(false);
    expect(manifests.peerSucceeded({})).to.equal(false);
  });

  it("places namespaced RBAC objects and ServiceAccount subjects in the namespace, cluster-scoped ones not", () => {
    const placed = manifests.inNamespace(
      [
        { kind: "ServiceAccount", metadata: { name: "ext-postgres-operator" } },
        { kind: "ClusterRole", metadata: { name: "ext-postgres-operator" } },
        {
          kind: "ClusterRoleBinding",
          metadata: { name: "ext-postgres-operator" },
          subjects: [
            { kind: "ServiceAccount", name: "ext-postgres-operator" },
            { kind: "User", name: "someone" },
          ],
        } as never,
      ],
      "peer-system",
    ) as { metadata: { namespace?: string }; subjects?: { namespace?: string }[] }[];
    expect(placed.map((object) => object.metadata.namespace)).to.deep.equal(["peer-system", undefined, undefined]);
    expect(placed[2]!.subjects!.map((subject) => subject.namespace)).to.deep.equal(["peer-system", undefined]);
    expect(manifests.serviceAccountOf(placed)).to.equal("ext-postgres-operator");
  });
});
