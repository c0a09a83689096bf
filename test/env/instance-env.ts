import { expect } from "chai";
import type { CoreV1Event, V1Secret } from "@kubernetes/client-node";
import type {
  Condition,
  PostgresClusterInstance,
  PostgresInstance,
  PostgresInstanceSpec,
} from "../../api/v1alpha1/index.js";
import { API_VERSION, PostgresClusterInstanceKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import type { ReconcileResult } from "../../runtime/errors.js";
import { EventRecorder } from "../../runtime/events.js";
import { KubeClient } from "../../runtime/kube-client.js";
import type { ReconcileContext } from "../../runtime/operator.js";
import { ExponentialBackoffLimiter } from "../../runtime/rate-limiter.js";
import { eventKind, secretKind, type ObjectKey, type ResourceKind } from "../../runtime/resource-kind.js";
import { testLogger, uniqueName } from "../../runtime/testing/fixtures.js";
import { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { eventually } from "../support/eventually.js";
import { ReconcileTally } from "../support/reconcile-tally.js";
import { InstanceController } from "../../controllers/postgres-instance/instance-controller.js";
import { InstanceDirectory } from "../../controllers/instances/instance-directory.js";
import { clusterInstance, namespacedInstance } from "../../controllers/postgres-instance/instance-kinds.js";

/** What a condition is expected to say; `message` is a substring or a pattern. */
export interface ExpectedCondition {
  readonly status: Condition["status"];
  readonly reason?: string;
  readonly message?: string | RegExp;
}

/**
 * Both instance controllers running in-process against the real API server and PostgreSQL
 * of the test run, watching one fresh namespace (also the operator's namespace).
 */
export class InstanceTestEnv {
  private constructor(
    readonly cp: ControlPlane,
    readonly srv: PostgresServer,
    readonly admin: KubeClient,
    readonly namespace: string,
    readonly registry: ConnectionRegistry,
    readonly directory: InstanceDirectory,
    private readonly controllers: readonly InstanceController<PostgresInstance | PostgresClusterInstance>[],
    /** Finished reconciles per instance (cluster instances by name alone), to wait for instead of sleeping. */
    readonly reconciles: ReconcileTally,
    private readonly recorder: EventRecorder,
  ) {}

  /** Starts the controllers with a short resync and retry (default 2 s and 1 s), so re-checks happen within a test. */
  static async start(
    prefix: string,
    options: { readonly resyncPeriodMs?: number; readonly retryAfterMs?: number; readonly waitRequeueMs?: number } = {},
  ): Promise<InstanceTestEnv> {
    const cp = await controlPlane();
    const srv = await postgres();
    const admin = new KubeClient(cp.kubeConfig);
    const namespace = uniqueName(prefix);
    await cp.createNamespace(namespace);
    const registry = new ConnectionRegistry({ logger: testLogger() });
    const directory = new InstanceDirectory();
    const reconciles = new ReconcileTally();
    const recorder = new EventRecorder(admin, { logger: testLogger() });
    const deps = {
      client: admin,
      logger: testLogger(),
      recorder,
      namespace,
      registry,
      directory,
      resyncPeriodMs: options.resyncPeriodMs ?? 2000,
      retryAfterMs: options.retryAfterMs ?? 1000,
      ...(options.waitRequeueMs !== undefined ? { waitRequeueMs: options.waitRequeueMs } : {}),
      maxConcurrentReconciles: 4,
      rateLimiter: new ExponentialBackoffLimiter(50, 2000),
      watchBackoffMaxMs: 1000,
    };
    const controllers = [
      new TalliedInstanceController(deps, namespacedInstance, reconciles),
      new TalliedInstanceController(deps, clusterInstance(namespace, "all"), reconciles),
    ] as InstanceController<PostgresInstance | PostgresClusterInstance>[];
    for (const controller of controllers) await controller.start();
    return new InstanceTestEnv(cp, srv, admin, namespace, registry, directory, controllers, reconciles, recorder);
  }

  /** Stops the controllers and closes every pool. */
  async stop(): Promise<void> {
    await Promise.all(this.controllers.map((controller) => controller.stop(10_000)));
    await this.registry.closeAll();
  }

  /** Waits until every Event the controllers recorded so far is written. */
  flushEvents(): Promise<void> {
    return this.recorder.flush();
  }

  /** A spec that works: the superuser, over TLS verified against the test CA and host name. */
  goodSpec(overrides: Partial<PostgresInstanceSpec> = {}): PostgresInstanceSpec {
    return {
      hostname: this.srv.tlsServerName,
      port: this.srv.port,
      username: this.srv.superuser.user,
      plainPassword: this.srv.superuser.password,
      ssl: { enabled: true, verify: "verify_peer", ca: this.srv.caPem },
      ...overrides,
    };
  }

  /** The same spec with the password taken from a Secret instead. */
  secretSpec(secretName: string, key: string, overrides: Partial<PostgresInstanceSpec> = {}): PostgresInstanceSpec {
    const { plainPassword: _plain, ...rest } = this.goodSpec(overrides);
    return { ...rest, passwordSecretRef: { name: secretName, key } };
  }

  /** Creates a PostgresInstance in the test namespace. */
  createInstance(
    name: string,
    spec: PostgresInstanceSpec,
    annotations?: Record<string, string>,
  ): Promise<PostgresInstance> {
    return this.admin.create<PostgresInstance>(PostgresInstanceKind, {
      apiVersion: API_VERSION,
      kind: "PostgresInstance",
      metadata: { name, namespace: this.namespace, ...(annotations ? { annotations } : {}) },
      spec,
    });
  }

  /** A cluster-wide name unique to this run's namespace. */
  clusterName(name: string): string {
    return `${this.namespace}-${name}`;
  }

  /** Creates a PostgresClusterInstance named `clusterName(name)`. */
  createClusterInstance(
    name: string,
    spec: PostgresInstanceSpec,
    annotations?: Record<string, string>,
  ): Promise<PostgresClusterInstance> {
    return this.admin.create<PostgresClusterInstance>(PostgresClusterInstanceKind, {
      apiVersion: API_VERSION,
      kind: "PostgresClusterInstance",
      metadata: { name: this.clusterName(name), ...(annotations ? { annotations } : {}) },
      spec,
    });
  }

  /** Creates or replaces a Secret in the test namespace with these string values. */
  async putSecret(name: string, values: Record<string, string>): Promise<void> {
    const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    try {
      await this.admin.get<V1Secret>(secretKind, { namespace: this.namespace, name });
    } catch {
      await this.admin.create<V1Secret>(secretKind, { metadata: { name, namespace: this.namespace }, data });
      return;
    }
    // A merge patch cannot remove keys by omission: null them first by replacing the whole data map.
    await this.admin.patch(secretKind, { namespace: this.namespace, name }, { data: null });
    await this.admin.patch(secretKind, { namespace: this.namespace, name }, { data });
  }

  /** The key of a PostgresInstance of the test namespace. */
  key(name: string): ObjectKey {
    return { namespace: this.namespace, name };
  }

  /** The conditions of an instance as stored now. */
  async conditions(kind: ResourceKind, key: ObjectKey): Promise<Condition[]> {
    const obj = await this.admin.get<PostgresInstance>(kind, key);
    return obj.status?.conditions ?? [];
  }

  /** Waits until the condition says what is expected, and returns it. */
  waitForCondition(
    kind: ResourceKind,
    key: ObjectKey,
    type: string,
    expected: ExpectedCondition,
    timeoutMs = 30_000,
  ): Promise<Condition> {
    return eventually(async () => {
      const condition = (await this.conditions(kind, key)).find((c) => c.type === type);
      expect(condition, `condition ${type}`).to.not.equal(undefined);
      expect(condition!.status, `${type}: ${condition!.message}`).to.equal(expected.status);
      if (expected.reason) expect(condition!.reason, `${type}: ${condition!.message}`).to.equal(expected.reason);
      if (typeof expected.message === "string") expect(condition!.message).to.include(expected.message);
      if (expected.message instanceof RegExp) expect(condition!.message).to.match(expected.message);
      return condition!;
    }, timeoutMs);
  }

  /** The Events about an object; cluster-scoped objects' Events live in "default". */
  async events(name: string, namespace = this.namespace): Promise<CoreV1Event[]> {
    const list = await this.admin.list<CoreV1Event>(eventKind, {
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items;
  }

  /** Waits for an Event of this type and reason about the object, and returns it. */
  waitForEvent(name: string, type: string, reason: string, namespace = this.namespace): Promise<CoreV1Event> {
    return eventually(async () => {
      const event = (await this.events(name, namespace)).find((e) => e.type === type && e.reason === reason);
      expect(event, `${type} event ${reason} about ${name}`).to.not.equal(undefined);
      return event!;
    });
  }
}

/** An instance controller that counts every finished reconcile (whatever its outcome) in `tally`. */
class TalliedInstanceController<T extends PostgresInstance | PostgresClusterInstance> extends InstanceController<T> {
  constructor(
    deps: ConstructorParameters<typeof InstanceController<T>>[0],
    adapter: ConstructorParameters<typeof InstanceController<T>>[1],
    private readonly tally: ReconcileTally,
  ) {
    super(deps, adapter);
  }

  protected override async reconcile(instance: T, ctx: ReconcileContext): Promise<ReconcileResult> {
    try {
      return await super.reconcile(instance, ctx);
    } finally {
      this.tally.record(ctx.key);
    }
  }
}
