/**
 * The PostgresDatabase controller running in-process against the real API server and
 * PostgreSQL of the test run, for the tests beside it (no tests in here). Until the
 * instance controllers run too, a test publishes the instances it uses into the
 * directory itself and creates the instance objects with kubectl.
 */
import { expect } from "chai";
import type { CoreV1Event, V1Secret } from "@kubernetes/client-node";
import { Writable } from "node:stream";
import pg from "pg";
import winston from "winston";
import type { Condition, PostgresDatabase } from "../../api/v1alpha1/index.js";
import { PostgresDatabaseKind } from "../../api/v1alpha1/index.js";
import { isNotFound } from "../../runtime/errors.js";
import { ExponentialBackoffLimiter } from "../../runtime/rate-limiter.js";
import { eventKind, secretKind } from "../../runtime/resource-kind.js";
import { CountingClient } from "../../runtime/testing/counting-client.js";
import { testLogger, uniqueName } from "../../runtime/testing/fixtures.js";
import { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import type { InstanceKey } from "../../services/postgres/instance-key.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { eventually } from "../support/eventually.js";
import { ReconcileTally } from "../support/reconcile-tally.js";
import { InstanceDirectory } from "../../controllers/instances/instance-directory.js";
import { PostgresDatabaseController } from "../../controllers/postgres-database/database-controller.js";
import type { ReconcileResult } from "../../runtime/errors.js";
import type { ReconcileContext } from "../../runtime/operator.js";

/** Which admin an instance logs in as. */
export type AdminKind = "superuser" | "limitedAdmin";

/** The two admins every lifecycle test runs with. */
export const ADMIN_KINDS: readonly AdminKind[] = ["superuser", "limitedAdmin"];

/** The decoded data of a Secret. */
export type SecretData = Record<string, string>;

/** A running controller, its clients, and helpers to drive and observe it. */
export class DatabaseTestEnv {
  private constructor(
    readonly cp: ControlPlane,
    readonly srv: PostgresServer,
    /** Counts the requests the controller sends. */
    readonly client: CountingClient,
    readonly registry: ConnectionRegistry,
    readonly directory: InstanceDirectory,
    readonly controller: TalliedDatabaseController,
    /** Every line the controller logged (debug and up), as JSON text. */
    readonly logLines: readonly string[],
  ) {}

  /**
   * Starts the controller (cluster-wide) with short waits; `resyncPeriodMs` 0 turns the resync
   * off; `controller: false` gives only the helpers, for tests that run the controllers otherwise.
   */
  static async start(
    options: {
      readonly resyncPeriodMs?: number;
      readonly controller?: boolean;
      /** The controller's clock (password rotation schedule); the system clock by default. */
      readonly clock?: () => Date;
    } = {},
  ): Promise<DatabaseTestEnv> {
    const cp = await controlPlane();
    const srv = await postgres();
    const client = new CountingClient(cp.kubeConfig);
    const registry = new ConnectionRegistry({ logger: testLogger() });
    const directory = new InstanceDirectory();
    const logLines: string[] = [];
    const controller = new TalliedDatabaseController(
      {
        client,
        logger: capturingLogger(logLines),
        resyncPeriodMs: options.resyncPeriodMs ?? 0,
        maxConcurrentReconciles: 2,
        rateLimiter: new ExponentialBackoffLimiter(50, 2000),
        watchBackoffMaxMs: 1000,
      },
      {
        registry,
        directory,
        clusterInstanceDefault: "all",
        waitRequeueMs: 500,
        ...(options.clock ? { clock: options.clock } : {}),
      },
    );
    if (options.controller !== false) await controller.start();
    return new DatabaseTestEnv(cp, srv, client, registry, directory, controller, logLines);
  }

  /** Deletes every PostgresDatabase of the namespaces (the controller drops them on the server) and waits until they are gone. */
  async deleteDatabases(...namespaces: string[]): Promise<void> {
    for (const namespace of namespaces) await this.kubectl("delete", "pgdb", "--all", "-n", namespace, "--wait=false");
    await eventually(async () => {
      for (const namespace of namespaces) {
        const { items } = await this.client.list<PostgresDatabase>(PostgresDatabaseKind, { namespace });
        expect(items.map((db) => db.metadata.name)).to.deep.equal([]);
      }
    }, 60_000);
  }

  /** Finished reconciles per PostgresDatabase, to wait for the controller instead of sleeping. */
  get reconciles(): ReconcileTally {
    return this.controller.tally;
  }

  /** Stops the controller and closes its pools. */
  async stop(): Promise<void> {
    await this.controller.stop(10_000);
    await this.registry.closeAll();
  }

  /** A fresh namespace. */
  async namespace(prefix: string): Promise<string> {
    const namespace = uniqueName(prefix);
    await this.cp.createNamespace(namespace);
    return namespace;
  }

  /** Applies YAML with kubectl; fails the test when kubectl fails. */
  async apply(yaml: string): Promise<void> {
    const result = await this.cp.kubectl(["apply", "-f", "-"], { input: yaml });
    expect(result.code, result.stderr).to.equal(0);
  }

  /** Runs kubectl; fails the test when it fails. */
  async kubectl(...args: string[]): Promise<string> {
    const result = await this.cp.kubectl(args);
    expect(result.code, result.stderr).to.equal(0);
    return result.stdout;
  }

  /** Creates a PostgresInstance object for `kind` and publishes it as usable, like the instance controller would. */
  async instance(
    namespace: string,
    name: string,
    kind: AdminKind,
    annotations: Record<string, string> = {},
  ): Promise<InstanceKey> {
    await this.apply(instanceYaml("PostgresInstance", { namespace, name }, this.srv, kind, annotations));
    const key: InstanceKey = { kind: "PostgresInstance", namespace, name };
    this.publish(key, kind);
    return key;
  }

  /** Creates a PostgresClusterInstance object for `kind` and publishes it as usable. */
  async clusterInstance(name: string, kind: AdminKind, annotations: Record<string, string> = {}): Promise<InstanceKey> {
    await this.apply(instanceYaml("PostgresClusterInstance", { name }, this.srv, kind, annotations));
    const key: InstanceKey = { kind: "PostgresClusterInstance", name };
    this.publish(key, kind);
    return key;
  }

  /** Publishes the instance into the directory with the test server's details and `kind`'s credentials. */
  publish(key: InstanceKey, kind: AdminKind): void {
    const { user, password } = this.srv[kind];
    this.directory.publish({
      key,
      spec: {
        hostname: this.srv.tlsServerName,
        port: this.srv.port,
        username: user,
        password,
        ssl: { enabled: true, verify: "verify_peer", ca: this.srv.caPem },
      },
      superuser: kind === "superuser",
      serverMajorVersion: this.srv.majorVersion,
    });
  }

  /** Creates a PostgresDatabase referencing a PostgresInstance (same namespace unless `instanceNamespace`). */
  async database(
    namespace: string,
    name: string,
    ref: { readonly instance?: string; readonly instanceNamespace?: string; readonly clusterInstance?: string },
    extra: { readonly spec?: string; readonly annotations?: Record<string, string> } = {},
  ): Promise<void> {
    const refYaml = ref.clusterInstance
      ? `  clusterInstanceRef:\n    name: ${ref.clusterInstance}\n`
      : `  instanceRef:\n    name: ${ref.instance ?? ""}\n${ref.instanceNamespace ? `    namespace: ${ref.instanceNamespace}\n` : ""}`;
    await this.apply(
      [
        "apiVersion: kompost.chuge.li/v1alpha1",
        "kind: PostgresDatabase",
        "metadata:",
        `  name: ${name}`,
        `  namespace: ${namespace}`,
        `  annotations: ${JSON.stringify(extra.annotations ?? {})}`,
        "spec:",
        refYaml + (extra.spec ?? ""),
      ].join("\n"),
    );
  }

  /** Reads the PostgresDatabase; undefined once it is gone. */
  async get(namespace: string, name: string): Promise<PostgresDatabase | undefined> {
    try {
      return await this.client.get<PostgresDatabase>(PostgresDatabaseKind, { namespace, name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Waits until the condition `type` has `status` (and, when given, a reason and message containing `message`). */
  async condition(
    namespace: string,
    name: string,
    type: string,
    status: Condition["status"],
    expected: { readonly reason?: string; readonly message?: string } = {},
    timeoutMs = 30_000,
  ): Promise<PostgresDatabase> {
    return eventually(async () => {
      const db = await this.get(namespace, name);
      const condition = db?.status?.conditions?.find((c) => c.type === type);
      expect(condition, `${type} of ${namespace}/${name}: ${JSON.stringify(db?.status)}`).to.not.equal(undefined);
      expect(condition!.status, JSON.stringify(condition)).to.equal(status);
      if (expected.reason) expect(condition!.reason).to.equal(expected.reason);
      if (expected.message) expect(condition!.message).to.include(expected.message);
      return db!;
    }, timeoutMs);
  }

  /** Waits until the PostgresDatabase is Ready. */
  ready(namespace: string, name: string, timeoutMs = 30_000): Promise<PostgresDatabase> {
    return this.condition(namespace, name, "Ready", "True", {}, timeoutMs);
  }

  /** Waits until the PostgresDatabase no longer exists. */
  async gone(namespace: string, name: string, timeoutMs = 30_000): Promise<void> {
    await eventually(async () => expect(await this.get(namespace, name)).to.equal(undefined), timeoutMs);
  }

  /** Reads a Secret; undefined when missing. */
  async secret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.client.get<V1Secret>(secretKind, { namespace, name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The decoded data of a Secret that must exist. */
  async secretData(namespace: string, name: string): Promise<SecretData> {
    const secret = await eventually(async () => {
      const found = await this.secret(namespace, name);
      expect(found, `Secret ${namespace}/${name}`).to.not.equal(undefined);
      return found!;
    });
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]),
    );
  }

  /** The Events recorded about an object, oldest first. */
  async events(namespace: string, name: string): Promise<CoreV1Event[]> {
    const { items } = await this.client.list<CoreV1Event>(eventKind, {
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return items;
  }

  /** Waits for an Event with `reason` about the object (Events follow the status write) and returns it. */
  async event(namespace: string, name: string, reason: string): Promise<CoreV1Event> {
    return eventually(async () => {
      const found = (await this.events(namespace, name)).find((e) => e.reason === reason);
      expect(found, `Event ${reason} about ${namespace}/${name}`).to.not.equal(undefined);
      return found!;
    });
  }

  /** Connects as the role a Secret describes, with the Secret's own values, over TLS verified against the test CA. */
  async connectWith(data: SecretData, database = data.DB_NAME): Promise<pg.Client> {
    const client = new pg.Client({
      host: data.DB_HOST,
      port: Number(data.DB_PORT),
      user: data.DB_USER,
      password: data.DB_PASS,
      database,
      ssl: { ca: this.srv.caPem, rejectUnauthorized: true },
    });
    await client.connect();
    return client;
  }

  /** Connects with DATABASE_URL as an application would, naming the test CA as sslrootcert (libpq style). */
  async connectWithUrl(data: SecretData): Promise<pg.Client> {
    const url = `${data.DATABASE_URL!}&sslrootcert=${encodeURIComponent(this.srv.caPath)}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }

  /** Runs `fn` with a superuser client of `database` (default the maintenance one), ended afterwards. */
  async asSuperuser<T>(fn: (db: pg.Client) => Promise<T>, database?: string): Promise<T> {
    const db = await this.srv.connect(database ? { database } : {});
    try {
      return await fn(db);
    } finally {
      await db.end();
    }
  }
}

/** The controller, counting every finished reconcile (whatever its outcome) in `tally`. */
class TalliedDatabaseController extends PostgresDatabaseController {
  readonly tally = new ReconcileTally();

  protected override async reconcile(obj: PostgresDatabase, ctx: ReconcileContext): Promise<ReconcileResult> {
    try {
      return await super.reconcile(obj, ctx);
    } finally {
      this.tally.record(ctx.key);
    }
  }
}

/** Runs `fn` with `client`, ending it afterwards. */
export async function using<T>(connecting: Promise<pg.Client>, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connecting;
  client.on("error", () => undefined);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The SQLSTATE a promise rejects with; undefined when it resolves. */
export async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err ?? "rejected",
  );
  if (outcome === undefined) return undefined;
  return (outcome as { code?: string }).code ?? "no code";
}

function instanceYaml(
  kind: "PostgresInstance" | "PostgresClusterInstance",
  key: { readonly namespace?: string; readonly name: string },
  srv: PostgresServer,
  admin: AdminKind,
  annotations: Record<string, string>,
): string {
  return [
    "apiVersion: kompost.chuge.li/v1alpha1",
    `kind: ${kind}`,
    "metadata:",
    `  name: ${key.name}`,
    ...(key.namespace ? [`  namespace: ${key.namespace}`] : []),
    `  annotations: ${JSON.stringify(annotations)}`,
    "spec:",
    `  hostname: ${srv.tlsServerName}`,
    `  port: ${srv.port}`,
    `  username: ${srv[admin].user}`,
    `  plainPassword: ${JSON.stringify(srv[admin].password)}`,
    "  ssl:",
    "    enabled: true",
    "    verify: verify_peer",
  ].join("\n");
}

/** A debug-level JSON logger that keeps its lines in `lines` (and prints them too when TEST_LOG_LEVEL is set). */
function capturingLogger(lines: string[]): winston.Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = winston.createLogger({
    level: "debug",
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  if (process.env.TEST_LOG_LEVEL) logger.add(new winston.transports.Console({ level: process.env.TEST_LOG_LEVEL }));
  return logger;
}
