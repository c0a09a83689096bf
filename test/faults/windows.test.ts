import { expect } from "chai";
import { GROUP, VERSION } from "../../api/v1alpha1/index.js";
import { FAULT_POINT_ENV, FAULT_POINTS, type FaultPoint } from "../../runtime/fault-points.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { type PgCredentials, postgres, type PostgresServer } from "../harness/postgres.js";
import { kubectl, waitFor } from "../e2e/kubectl.js";
import { dumpOnFailure, installOperator, type OperatorDeployment, OperatorProcess } from "../e2e/operator-process.js";
import { eventually } from "../support/eventually.js";
import { assertInvariant, snapshotServer } from "./invariant.js";

const NAMESPACE = "faults-windows";

/** The points where a PostgresDatabase is being created, and those where it is being deleted. */
const DELETION_POINTS: readonly FaultPoint[] = ["database-dropped", "role-released", "role-dropped", "cleaned-up"];
const CREATION_POINTS: readonly FaultPoint[] = FAULT_POINTS.filter((point) => !DELETION_POINTS.includes(point));

/** One window: the fault point, and the admin kind of the instance the database is on. */
interface Window {
  readonly point: FaultPoint;
  readonly admin: "superuser" | "limitedAdmin";
}

/** Each point once, alternating admin kinds; the window of issue 10 (CREATE DATABASE before its marker) on both. */
function windows(points: readonly FaultPoint[]): Window[] {
  const all: Window[] = points.map((point, i) => ({ point, admin: i % 2 === 0 ? "limitedAdmin" : "superuser" }));
  const created = all.find((window) => window.point === "database-created");
  if (created) all.push({ ...created, admin: created.admin === "superuser" ? "limitedAdmin" : "superuser" });
  return all;
}

/**
 * SIGKILL of the operator inside every window between two statements that create or drop
 * something (KOMPOST_FAULT_POINT), then a restart without the hook: the shared invariant holds.
 */
describe("the operator SIGKILLed inside each window that creates or drops something", function () {
  this.timeout(300_000);
  let cp: ControlPlane;
  let srv: PostgresServer;
  let deployment: OperatorDeployment;
  const operators: OperatorProcess[] = [];

  /** A single replica without leader election, so that a restart does not wait for the dead one's Lease. */
  const startOperator = async (point?: FaultPoint): Promise<OperatorProcess> => {
    const operator = await OperatorProcess.start(deployment, {
      name: point ? `armed at ${point}` : `replica-${operators.length + 1}`,
      extraArgs: ["--leader-elect=false"],
      ...(point ? { env: { [FAULT_POINT_ENV]: point } } : {}),
    });
    operators.push(operator);
    await operator.waitReady(120_000);
    return operator;
  };

  /** Waits until the armed operator has killed itself at its point. */
  const diedAt = async (operator: OperatorProcess, point: FaultPoint): Promise<void> => {
    await eventually(
      () => {
        if (operator.running) throw new Error(`${operator.name} is still running`);
      },
      120_000,
      100,
    );
    expect(operator.logs).to.include(`killing the process at fault point "${point}"`);
  };

  const instanceName = (admin: Window["admin"]): string => `windows-${admin.toLowerCase()}`;

  const apply = async (objects: readonly object[]): Promise<void> => {
    await kubectl(cp, ["apply", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
    });
  };

  const databaseManifest = (name: string, window: Window): object => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "PostgresDatabase",
    metadata: { name, namespace: NAMESPACE },
    spec: { instanceRef: { name: instanceName(window.admin) } },
  });

  const instanceManifests = (admin: Window["admin"], credentials: PgCredentials): object[] => [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${instanceName(admin)}-password`, namespace: NAMESPACE },
      stringData: { password: credentials.password },
    },
    {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "PostgresInstance",
      metadata: { name: instanceName(admin), namespace: NAMESPACE },
      spec: {
        hostname: srv.tlsServerName,
        port: srv.port,
        username: credentials.user,
        passwordSecretRef: { name: `${instanceName(admin)}-password`, key: "password" },
        ssl: { enabled: true, verify: "verify_peer", ca: srv.caPem },
      },
    },
  ];

  before(async function () {
    this.timeout(600_000);
    [cp, srv] = await Promise.all([controlPlane(), postgres()]);
    deployment = await installOperator(cp);
    await cp.createNamespace(NAMESPACE);
    await apply([
      ...instanceManifests("superuser", srv.superuser),
      ...instanceManifests("limitedAdmin", srv.limitedAdmin),
    ]);
  });

  afterEach(async function () {
    await dumpOnFailure(this.currentTest, cp, operators);
    for (const operator of operators.splice(0)) await operator.kill();
  });

  for (const window of windows(CREATION_POINTS)) {
    it(`finishes a database whose operator died at "${window.point}" while creating it (${window.admin})`, async () => {
      const before = await snapshotServer(srv);
      const name = `create-${window.point}-${window.admin.toLowerCase()}`;
      const armed = await startOperator(window.point);
      await apply([databaseManifest(name, window)]);
      await diedAt(armed, window.point);

      const operator = await startOperator();
      await assertInvariant({ cp, srv, namespaces: [NAMESPACE], before });
      expect(operator.running).to.equal(true);
    });
  }

  it("drops the unfinished database of a resource deleted while its operator was dead after CREATE DATABASE", async () => {
    const before = await snapshotServer(srv);
    const window: Window = { point: "database-created", admin: "limitedAdmin" };
    const name = "create-then-delete";
    const armed = await startOperator(window.point);
    await apply([databaseManifest(name, window)]);
    await diedAt(armed, window.point);
    await kubectl(cp, ["delete", "pgdb", name, "-n", NAMESPACE, "--wait=false"]);

    await startOperator();
    await assertInvariant({ cp, srv, namespaces: [NAMESPACE], before });
    const left = await kubectl(cp, ["get", "pgdb", "-n", NAMESPACE, "--ignore-not-found", "-o", "name"]);
    expect(left).to.not.include(`/${name}\n`);
  });

  it('finishes a password rotation whose operator died at "secret-written", between the Secret and ALTER ROLE (limitedAdmin)', async () => {
    const before = await snapshotServer(srv);
    const window: Window = { point: "secret-written", admin: "limitedAdmin" };
    const name = "rotate-secret-written";
    const first = await startOperator();
    await apply([databaseManifest(name, window)]);
    await waitFor(cp, `pgdb/${name}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });
    const secretPassword = async (): Promise<string> =>
      Buffer.from(
        await kubectl(cp, ["get", "secret", `psql-${name}-app`, "-n", NAMESPACE, "-o", "jsonpath={.data.DB_PASS}"]),
        "base64",
      ).toString();
    const old = await secretPassword();
    expect(await first.stop()).to.equal(0);

    const armed = await startOperator(window.point);
    await kubectl(cp, ["annotate", "pgdb", name, "-n", NAMESPACE, `${GROUP}/rotate-password=after-crash`]);
    await diedAt(armed, window.point);
    // Dead between the two: the Secret already holds the new password, the role still the old one.
    const written = await secretPassword();
    expect(written).to.not.equal(old);

    await startOperator();
    // Every Secret works with psql again: the role was set to the password the Secret holds.
    await assertInvariant({ cp, srv, namespaces: [NAMESPACE], before });
    expect(await secretPassword()).to.equal(written);
    await eventually(async () => {
      const tokens = await kubectl(cp, [
        "get",
        "pgdb",
        name,
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.status.users[*].rotationToken}",
      ]);
      expect(tokens.trim()).to.equal("after-crash after-crash");
    }, 60_000);
  });

  it('sets the role to a regenerated password whose operator died at "secret-written", between the Secret and ALTER ROLE (limitedAdmin)', async () => {
    const before = await snapshotServer(srv);
    const window: Window = { point: "secret-written", admin: "limitedAdmin" };
    const name = "regenerate-secret-written";
    const secret = `psql-${name}-app`;
    const first = await startOperator();
    await apply([databaseManifest(name, window)]);
    await waitFor(cp, `pgdb/${name}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });
    expect(await first.stop()).to.equal(0);

    const armed = await startOperator(window.point);
    // An empty DB_PASS cannot be used: Kompost writes a generated one, and dies before ALTER ROLE.
    await kubectl(cp, ["patch", "secret", secret, "-n", NAMESPACE, "-p", '{"data":{"DB_PASS":""}}']);
    await diedAt(armed, window.point);
    const written = await kubectl(cp, ["get", "secret", secret, "-n", NAMESPACE, "-o", "jsonpath={.data.DB_PASS}"]);
    expect(written).to.not.equal("");

    // The new process has never seen this password in sync: it checks it, though no verify check is due.
    await startOperator();
    await eventually(async () => {
      const selector = `reason=PasswordReset,involvedObject.name=${name}`;
      const reset = await kubectl(cp, ["get", "events", "-n", NAMESPACE, "--field-selector", selector, "-o", "name"]);
      expect(reset.trim(), "a PasswordReset Event").to.not.equal("");
    }, 60_000);
    await assertInvariant({ cp, srv, namespaces: [NAMESPACE], before });
  });

  for (const window of windows(DELETION_POINTS)) {
    it(`finishes deleting a database whose operator died at "${window.point}" (${window.admin})`, async () => {
      const before = await snapshotServer(srv);
      const name = `delete-${window.point}-${window.admin.toLowerCase()}`;
      const first = await startOperator();
      await apply([databaseManifest(name, window)]);
      await waitFor(cp, `pgdb/${name}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });
      expect(await first.stop()).to.equal(0);

      const armed = await startOperator(window.point);
      await kubectl(cp, ["delete", "pgdb", name, "-n", NAMESPACE, "--wait=false"]);
      await diedAt(armed, window.point);

      await startOperator();
      await assertInvariant({ cp, srv, namespaces: [NAMESPACE], before });
      const left = await kubectl(cp, ["get", "pgdb", "-n", NAMESPACE, "--ignore-not-found", "-o", "name"]);
      expect(left).to.not.include(`/${name}\n`);
    });
  }
});
