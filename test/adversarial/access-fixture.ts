/**
 * The operator as its own process (as users run it, as its ServiceAccount) against the test
 * run's API server, kube-controller-manager and PostgreSQL, for the access, pattern, reference
 * and deletion-order attacks. Its own process, because a frozen event loop must not freeze the
 * test that watches /healthz, and because it can be stopped while resources are deleted.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type { Condition } from "../../api/v1alpha1/index.js";
import { uniqueName } from "../../runtime/testing/fixtures.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { dumpCluster, installOperator, type OperatorDeployment, OperatorProcess } from "../e2e/operator-process.js";
import { eventually } from "../support/eventually.js";

/** Which admin an instance logs in as. */
export type AdminKind = "superuser" | "limitedAdmin";

/** What an instance manifest needs besides the server. */
export interface InstanceOptions {
  readonly name: string;
  /** Absent for a PostgresClusterInstance. */
  readonly namespace?: string;
  readonly admin: AdminKind;
  readonly annotations?: Record<string, string>;
  /** Put the password into this Secret (in the instance's namespace) instead of spec.plainPassword. */
  readonly secretName?: string;
}

/** A Kompost object as `kubectl get -o json` shows it. */
export interface KompostObject {
  readonly metadata: {
    readonly name: string;
    readonly deletionTimestamp?: string;
    readonly finalizers?: string[];
    readonly annotations?: Record<string, string>;
  };
  readonly status?: { readonly conditions?: Condition[] };
}

/** The control plane, PostgreSQL and (while started) one operator process. */
export class OperatorWorld {
  private current: OperatorProcess | undefined;
  private readonly all: OperatorProcess[] = [];

  private constructor(
    readonly cp: ControlPlane,
    readonly srv: PostgresServer,
    private readonly deployment: OperatorDeployment,
  ) {}

  /** Starts (or joins) the control plane and PostgreSQL and installs the operator's RBAC; no operator runs yet. */
  static async start(): Promise<OperatorWorld> {
    const [cp, srv] = await Promise.all([controlPlane(), postgres()]);
    return new OperatorWorld(cp, srv, await installOperator(cp));
  }

  /** Starts one operator process with a short resync and waits until /readyz answers. */
  async startOperator(): Promise<OperatorProcess> {
    const operator = await OperatorProcess.start(this.deployment, {
      name: `operator-${this.all.length + 1}`,
      extraArgs: ["--resync-period=5s", "--shutdown-timeout=10s"],
    });
    this.all.push(operator);
    this.current = operator;
    await operator.waitReady();
    return operator;
  }

  /** Stops the running operator with SIGTERM (it releases the Lease, so the next one leads at once). */
  async stopOperator(): Promise<void> {
    await this.current?.stop();
    this.current = undefined;
  }

  /** True while an operator process this world started runs. */
  get running(): boolean {
    return this.current?.running ?? false;
  }

  /** The running operator. */
  get operator(): OperatorProcess {
    if (!this.current) throw new Error("no operator is running: call startOperator first");
    return this.current;
  }

  /** Stops the running operator (releasing the Lease for the next test file) and kills any other this world started. */
  async killAll(): Promise<void> {
    await this.stopOperator();
    for (const operator of this.all) await operator.kill();
  }

  /** Prints the operators' logs, the Events and the Kompost resources; for failed tests. */
  async dump(what: string): Promise<void> {
    await dumpCluster(what, this.cp, this.all);
  }

  /** A fresh namespace; `length` pads the name with random letters to exactly that many characters. */
  async namespace(prefix: string, length?: number): Promise<string> {
    const name = length ? `${prefix}-${randomLetters(length - prefix.length - 1)}` : uniqueName(prefix);
    await this.cp.createNamespace(name);
    return name;
  }

  /** Runs kubectl as the cluster admin; fails the test when kubectl fails. */
  async kubectl(args: readonly string[], input?: string): Promise<string> {
    const result = await this.cp.kubectl(args, input === undefined ? {} : { input });
    expect(result.code, `kubectl ${args.join(" ")}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  }

  /** Runs kubectl and returns its exit code and stderr, for requests the API server should refuse. */
  async tryKubectl(args: readonly string[], input?: string): Promise<{ code: number; stderr: string }> {
    return this.cp.kubectl(args, input === undefined ? {} : { input });
  }

  /** Applies manifests (YAML or JSON) as the cluster admin. */
  async apply(manifest: string): Promise<void> {
    await this.kubectl(["apply", "-f", "-"], manifest);
  }

  /** The manifests of an instance (and its password Secret) on the test server. */
  instance(opts: InstanceOptions): string {
    const kind = opts.namespace ? "PostgresInstance" : "PostgresClusterInstance";
    const { user, password } = this.srv[opts.admin];
    const secretNamespace = opts.namespace ?? this.deployment.namespace;
    const passwordField = opts.secretName
      ? { passwordSecretRef: { name: opts.secretName, key: "password" } }
      : { plainPassword: password };
    const instance = {
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind,
      metadata: {
        name: opts.name,
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        annotations: opts.annotations ?? {},
      },
      spec: {
        hostname: this.srv.tlsServerName,
        port: this.srv.port,
        username: user,
        ...passwordField,
        ssl: { enabled: true, verify: "verify_peer", ca: this.srv.caPem },
      },
    };
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: opts.secretName, namespace: secretNamespace },
      stringData: { password },
    };
    return JSON.stringify({ apiVersion: "v1", kind: "List", items: opts.secretName ? [secret, instance] : [instance] });
  }

  /** The manifest of a PostgresDatabase; `ref` is its spec's reference. */
  database(
    namespace: string,
    name: string,
    ref:
      | { readonly instanceRef: { name: string; namespace?: string } }
      | { readonly clusterInstanceRef: { name: string } },
  ): string {
    return JSON.stringify({
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      metadata: { name, namespace },
      spec: ref,
    });
  }

  /** The object as stored now; undefined when it does not exist. */
  async get(resource: string, name: string, namespace?: string): Promise<KompostObject | undefined> {
    const args = ["get", resource, name, "-o", "json", ...(namespace ? ["-n", namespace] : [])];
    const result = await this.cp.kubectl(args);
    if (result.code !== 0 && /NotFound|not found/.test(result.stderr)) return undefined;
    expect(result.code, result.stderr).to.equal(0);
    return JSON.parse(result.stdout) as KompostObject;
  }

  /** Waits until the object's condition `type` has `status` (and `reason`, when given); returns the condition. */
  async condition(
    resource: string,
    name: string,
    namespace: string | undefined,
    expected: { readonly type: string; readonly status: Condition["status"]; readonly reason?: string },
    timeoutMs = 60_000,
  ): Promise<Condition> {
    return eventually(
      async () => {
        const object = await this.get(resource, name, namespace);
        const condition = object?.status?.conditions?.find((c) => c.type === expected.type);
        const shown = `${resource} ${namespace ?? ""}/${name} ${expected.type}: ${JSON.stringify(object?.status)}`;
        expect(condition?.status, shown).to.equal(expected.status);
        if (expected.reason) expect(condition?.reason, shown).to.equal(expected.reason);
        return condition!;
      },
      timeoutMs,
      250,
    );
  }

  /** Waits until the PostgresDatabase is Ready. */
  async ready(namespace: string, name: string, timeoutMs = 60_000): Promise<void> {
    await this.condition("pgdb", name, namespace, { type: "Ready", status: "True" }, timeoutMs);
  }

  /** Waits until the object no longer exists. */
  async gone(resource: string, name: string, namespace?: string, timeoutMs = 90_000): Promise<void> {
    await eventually(
      async () =>
        expect(await this.get(resource, name, namespace), `${resource} ${name} still exists`).to.equal(undefined),
      timeoutMs,
      250,
    );
  }

  /** The names of the databases and roles on the server that start with `prefix`. */
  async serverObjects(prefix: string): Promise<string[]> {
    const db = await this.srv.connect();
    try {
      const { rows } = await db.query<{ name: string }>(
        `SELECT datname AS name FROM pg_catalog.pg_database WHERE starts_with(datname, $1)
         UNION ALL SELECT rolname FROM pg_catalog.pg_roles WHERE starts_with(rolname, $1) ORDER BY 1`,
        [prefix],
      );
      return rows.map((row) => row.name);
    } finally {
      await db.end();
    }
  }

  /** Answers /healthz of the running operator within `timeoutMs`, or throws saying it did not. */
  async healthz(timeoutMs = 3_000): Promise<number> {
    const response = await fetch(`${this.operator.probesUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.status;
  }
}

/** The SQL name prefix of a namespace's databases (prefix_namespace naming). */
export function sqlPrefix(namespace: string): string {
  return `${namespace.replace(/[^a-z0-9_]/g, "_")}_`;
}

function randomLetters(count: number): string {
  const bytes = randomBytes(count);
  return Array.from(bytes, (byte) => String.fromCharCode(97 + (byte % 26))).join("");
}

/**
 * Registers the hooks of a describe block that runs one operator process: the world and a
 * running operator before the tests, a dump after a failed one (and a fresh operator if the test
 * left none running), every process killed at the end. Returns the world, for use in tests.
 */
export function operatorWorld(): () => OperatorWorld {
  let world: OperatorWorld | undefined;
  before(async function () {
    this.timeout(600_000);
    world = await OperatorWorld.start();
    await world.startOperator();
  });
  afterEach(async function () {
    if (!world) return;
    if (this.currentTest?.state === "failed") await world.dump(`"${this.currentTest.fullTitle()}" failed`);
    if (!world.running) await world.startOperator();
  });
  after(async () => {
    await world?.killAll();
  });
  return () => {
    if (!world) throw new Error("the operator world has not started");
    return world;
  };
}
