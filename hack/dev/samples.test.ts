import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { SAMPLES_DIR } from "./paths.js";
import { type DevPostgres, type Manifest, loadSamples, renderDevSamples, toYamlStream } from "./samples.js";

const server: DevPostgres = {
  host: "localhost",
  port: 54321,
  user: "admin",
  password: "s3cret 'with' quotes",
  caPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
};

const base64 = (text: string) => Buffer.from(text).toString("base64");

function find(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  expect(found, `${kind} ${name}`).to.exist;
  return found!;
}

describe("dev samples", () => {
  it("points every instance of config/samples at the local server over verified TLS", async () => {
    const { manifests } = renderDevSamples(await loadSamples(SAMPLES_DIR), server, "kompost-system");
    const instances = manifests.filter((m) => m.kind === "PostgresInstance" || m.kind === "PostgresClusterInstance");
    expect(instances.map((m) => m.kind)).to.have.members(["PostgresInstance", "PostgresClusterInstance"]);
    for (const instance of instances) {
      expect(instance.spec).to.include({ hostname: "localhost", port: 54321, username: "admin" });
      expect(instance.spec).to.have.property("passwordSecretRef");
      expect(instance.spec).not.to.have.property("plainPassword");
      expect((instance.spec as { ssl: unknown }).ssl).to.deep.equal({
        enabled: true,
        verify: "verify_peer",
        ca: server.caPem,
      });
    }
  });

  it("keeps the samples' names, namespaces, annotations and databases as they are", async () => {
    const samples = await loadSamples(SAMPLES_DIR);
    const { manifests } = renderDevSamples(samples, server, "kompost-system");
    for (const sample of samples.filter((m) => m.kind !== "Secret")) {
      const rendered = find(manifests, sample.kind, sample.metadata.name);
      expect(rendered.metadata).to.deep.equal(sample.metadata);
      if (sample.kind === "PostgresDatabase") expect(rendered).to.deep.equal(sample);
    }
  });

  it("puts the password into the Secret of the samples and creates the cluster instance's in the operator namespace", async () => {
    const { manifests } = renderDevSamples(await loadSamples(SAMPLES_DIR), server, "kompost-system");
    const namespaced = find(manifests, "Secret", "app-database-password");
    expect(namespaced.metadata.namespace).to.equal("awesome-application");
    expect(namespaced.data).to.deep.equal({ DB_PASS: base64(server.password) });
    const cluster = find(manifests, "Secret", "shared-postgres-password");
    expect(cluster.metadata.namespace).to.equal("kompost-system");
    expect(cluster.data).to.deep.equal({ password: base64(server.password) });
  });

  it("creates every namespace first, the operator's included, and lists the resources to wait for", async () => {
    const samples = renderDevSamples(await loadSamples(SAMPLES_DIR), server, "kompost-system");
    const firstOther = samples.manifests.findIndex((m) => m.kind !== "Namespace");
    const namespaces = samples.manifests.slice(0, firstOther).map((m) => m.metadata.name);
    expect(namespaces).to.have.members(["kompost-system", "awesome-application", "team-orders"]);
    expect(samples.manifests.slice(firstOther).some((m) => m.kind === "Namespace")).to.equal(false);
    expect(samples.instances).to.deep.equal([
      { kind: "PostgresInstance", resource: "pginst", name: "app-database", namespace: "awesome-application" },
      { kind: "PostgresClusterInstance", resource: "pgcinst", name: "shared-postgres" },
    ]);
    expect(samples.databases.map((ref) => `${ref.resource} ${ref.namespace}/${ref.name}`)).to.deep.equal([
      "pgdb awesome-application/staging",
      "pgdb team-orders/orders",
    ]);
  });

  it("replaces a clear-text password with the server's and moves a stringData key into data", () => {
    const samples: Manifest[] = [
      {
        apiVersion: "kompost.chuge.li/v1alpha1",
        kind: "PostgresInstance",
        metadata: { name: "plain", namespace: "a" },
        spec: { hostname: "db", username: "u", plainPassword: "old" },
      },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "pw", namespace: "a" },
        stringData: { key: "old", other: "kept" },
      },
      {
        apiVersion: "kompost.chuge.li/v1alpha1",
        kind: "PostgresInstance",
        metadata: { name: "ref", namespace: "a" },
        spec: { hostname: "db", username: "u", passwordSecretRef: { name: "pw", key: "key" } },
      },
    ];
    const { manifests } = renderDevSamples(samples, server, "ops");
    expect(find(manifests, "PostgresInstance", "plain").spec).to.include({ plainPassword: server.password });
    const secret = find(manifests, "Secret", "pw");
    expect(secret.stringData).to.deep.equal({ other: "kept" });
    expect(secret.data).to.deep.equal({ key: base64(server.password) });
  });

  it("renders a YAML stream that parses back into the same objects", async () => {
    const { manifests } = renderDevSamples(await loadSamples(SAMPLES_DIR), server, "kompost-system");
    const parsed = parseAllDocuments(toYamlStream(manifests)).map((doc) => doc.toJS() as unknown);
    expect(parsed).to.deep.equal(manifests);
  });
});
