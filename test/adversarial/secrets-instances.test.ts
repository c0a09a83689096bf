/**
 * The instance controllers watch Secrets wherever password Secrets can be (cluster-wide for
 * PostgresInstance). Metadata alone is no small thing: `kubectl apply` stores a whole Secret in
 * its last-applied-configuration annotation. Secrets nobody references must not stay in memory.
 */
import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import type { PostgresInstance } from "../../api/v1alpha1/index.js";
import { PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { InstanceController } from "../../controllers/postgres-instance/instance-controller.js";
import { InstanceDirectory } from "../../controllers/instances/instance-directory.js";
import { namespacedInstance } from "../../controllers/postgres-instance/instance-kinds.js";
import { KubeClient } from "../../runtime/kube-client.js";
import { ExponentialBackoffLimiter } from "../../runtime/rate-limiter.js";
import { secretKind } from "../../runtime/resource-kind.js";
import { testLogger, uniqueName } from "../../runtime/testing/fixtures.js";
import { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import { controlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { eventually } from "../support/eventually.js";

describe("Secrets nobody references, next to PostgresInstances (real API server and PostgreSQL)", function () {
  this.timeout(180_000);
  let client: KubeClient;
  let srv: PostgresServer;
  let namespace: string;
  let registry: ConnectionRegistry;
  let controller: InstanceController<PostgresInstance>;

  before(async () => {
    const cp = await controlPlane();
    srv = await postgres();
    client = new KubeClient(cp.kubeConfig);
    namespace = uniqueName("adv-pwsecrets");
    await cp.createNamespace(namespace);
    registry = new ConnectionRegistry({ logger: testLogger() });
    controller = new InstanceController<PostgresInstance>(
      {
        client,
        logger: testLogger(),
        namespace,
        registry,
        directory: new InstanceDirectory(),
        resyncPeriodMs: 0,
        retryAfterMs: 1000,
        maxConcurrentReconciles: 2,
        rateLimiter: new ExponentialBackoffLimiter(50, 2000),
        watchBackoffMaxMs: 1000,
      },
      namespacedInstance,
    );
    await controller.start();
  });

  after(async () => {
    await controller.stop(10_000);
    await registry.closeAll();
  });

  const instance = (name: string, secret: string): PostgresInstance => ({
    apiVersion: "kompost.chuge.li/v1alpha1",
    kind: "PostgresInstance",
    metadata: { name, namespace },
    spec: {
      hostname: srv.tlsServerName,
      port: srv.port,
      username: srv.superuser.user,
      passwordSecretRef: { name: secret, key: "password" },
      ssl: { enabled: true, verify: "verify_peer", ca: srv.caPem },
    },
  });

  const cached = (): string[] =>
    controller
      .cachedKeys(secretKind)
      .filter((key) => key.startsWith(`${namespace}/`))
      .sort();

  it("keeps only the password Secrets instances reference, however many large Secrets others apply", async () => {
    await client.create<V1Secret>(secretKind, {
      metadata: { name: "pw", namespace },
      stringData: { password: srv.superuser.password },
    });
    await client.create(PostgresInstanceKind, instance("first", "pw"));
    await client.create(PostgresInstanceKind, instance("second", "pw-later"));
    await eventually(() => expect(cached()).to.deep.equal([`${namespace}/pw`]), 30_000);

    // As `kubectl apply` leaves them: the whole Secret again in an annotation, and labels.
    const payload = "x".repeat(200 * 1024);
    for (let i = 0; i < 60; i++) {
      await client.create<V1Secret>(secretKind, {
        metadata: {
          name: `applied-${i}`,
          namespace,
          labels: { app: "someone-else" },
          annotations: { "kubectl.kubernetes.io/last-applied-configuration": payload },
        },
        stringData: { token: payload },
      });
    }
    // The watch delivers events in order: once the Secret created last is cached, every other was seen.
    await client.create<V1Secret>(secretKind, {
      metadata: { name: "pw-later", namespace },
      stringData: { password: srv.superuser.password },
    });
    await eventually(() => expect(cached()).to.deep.equal([`${namespace}/pw`, `${namespace}/pw-later`]), 30_000);
  });
});
