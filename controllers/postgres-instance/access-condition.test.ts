import { expect } from "chai";
import type { PostgresClusterInstance, PostgresInstance } from "../../api/v1alpha1/index.js";
import { PostgresClusterInstanceKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { ALLOWED_NAMESPACES_ANNOTATION, mayUseInstance } from "../../services/access/allowed-namespaces.js";
import type { ClusterInstanceDefault } from "../../services/access/allowed-namespaces.js";
import { InstanceReason } from "../constants.js";
import { InstanceTestEnv } from "../../test/env/instance-env.js";

describe("The allowed-namespaces annotation of instances (real API server and PostgreSQL)", function () {
  this.timeout(60_000);
  let env: InstanceTestEnv;

  before(async () => {
    env = await InstanceTestEnv.start("pgaccess");
  });

  after(async () => {
    await env?.stop();
  });

  /** Asks mayUseInstance about the instance as the API server stores it, as the database controller will. */
  const mayUse = async (name: string, namespace: string): Promise<boolean> => {
    const stored = await env.admin.get<PostgresInstance>(PostgresInstanceKind, env.key(name));
    return mayUseInstance({
      instanceKind: "PostgresInstance",
      instanceNamespace: stored.metadata.namespace!,
      annotation: stored.metadata.annotations?.[ALLOWED_NAMESPACES_ANNOTATION],
      namespace,
      clusterInstanceDefault: "all",
    }).allowed;
  };

  const mayUseCluster = async (
    name: string,
    namespace: string,
    byDefault: ClusterInstanceDefault,
  ): Promise<boolean> => {
    const stored = await env.admin.get<PostgresClusterInstance>(PostgresClusterInstanceKind, { name });
    return mayUseInstance({
      instanceKind: "PostgresClusterInstance",
      annotation: stored.metadata.annotations?.[ALLOWED_NAMESPACES_ANNOTATION],
      namespace,
      clusterInstanceDefault: byDefault,
    }).allowed;
  };

  it("opens a PostgresInstance to the namespaces its expressions match, anchored at both ends", async () => {
    await env.createInstance("open", env.goodSpec(), { [ALLOWED_NAMESPACES_ANNOTATION]: "team-.*, staging" });
    await env.waitForCondition(PostgresInstanceKind, env.key("open"), "AllowedNamespaces", {
      status: "True",
      reason: InstanceReason.AnnotationValid,
      message: `Usable from namespace "${env.namespace}" and namespaces matching "team-.*", "staging"`,
    });
    await env.waitForCondition(PostgresInstanceKind, env.key("open"), "Ready", { status: "True" });
    expect(await mayUse("open", "team-a")).to.equal(true);
    expect(await mayUse("open", "staging")).to.equal(true);
    expect(await mayUse("open", env.namespace)).to.equal(true);
    expect(await mayUse("open", "my-team-a")).to.equal(false);
    expect(await mayUse("open", "staging-2")).to.equal(false);
  });

  it("keeps a PostgresInstance without the annotation to its own namespace", async () => {
    await env.createInstance("closed", env.goodSpec());
    await env.waitForCondition(PostgresInstanceKind, env.key("closed"), "AllowedNamespaces", {
      status: "True",
      message: `usable from only namespace "${env.namespace}"`,
    });
    expect(await mayUse("closed", env.namespace)).to.equal(true);
    expect(await mayUse("closed", "team-a")).to.equal(false);
  });

  it("reports an invalid expression with a Warning event, grants nothing to other namespaces, and stays Ready", async () => {
    await env.createInstance("invalid", env.goodSpec(), { [ALLOWED_NAMESPACES_ANNOTATION]: "team-(, staging" });
    await env.waitForCondition(PostgresInstanceKind, env.key("invalid"), "AllowedNamespaces", {
      status: "False",
      reason: InstanceReason.InvalidAnnotation,
      message: /"team-\(" is not a valid regular expression.*no other namespace may use the instance/,
    });
    await env.waitForCondition(PostgresInstanceKind, env.key("invalid"), "Ready", { status: "True" });
    await env.waitForEvent("invalid", "Warning", InstanceReason.InvalidAnnotation);
    expect(await mayUse("invalid", "staging")).to.equal(false);
    expect(await mayUse("invalid", env.namespace)).to.equal(true);
  });

  it("opens a PostgresClusterInstance without the annotation to every namespace, or to none when the operator says so", async () => {
    await env.createClusterInstance("default-access", env.goodSpec());
    const name = env.clusterName("default-access");
    await env.waitForCondition(PostgresClusterInstanceKind, { name }, "AllowedNamespaces", {
      status: "True",
      message: "usable from every namespace",
    });
    expect(await mayUseCluster(name, "anything", "all")).to.equal(true);
    expect(await mayUseCluster(name, "anything", "none")).to.equal(false);
  });

  it("limits a PostgresClusterInstance with the annotation to the namespaces it matches", async () => {
    await env.createClusterInstance("limited", env.goodSpec(), { [ALLOWED_NAMESPACES_ANNOTATION]: "prod-[0-9]+" });
    const name = env.clusterName("limited");
    await env.waitForCondition(PostgresClusterInstanceKind, { name }, "AllowedNamespaces", {
      status: "True",
      message: `Usable from namespaces matching "prod-[0-9]+"`,
    });
    expect(await mayUseCluster(name, "prod-12", "all")).to.equal(true);
    expect(await mayUseCluster(name, "prod-x", "all")).to.equal(false);
    expect(await mayUseCluster(name, "prod-12", "none")).to.equal(true);
  });
});
