import { expect } from "chai";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { eventually } from "../support/eventually.js";
import {
  dumpOnFailure,
  forbiddenLines,
  installOperator,
  leaseHolder,
  type OperatorDeployment,
  OperatorProcess,
} from "./operator-process.js";

/**
 * The operator as users run it: its own process with the Deployment's flags, authenticated as the
 * ServiceAccount of config/rbac (so a missing RBAC rule fails here), driven through kubectl only.
 */
describe("the operator running as its ServiceAccount (end to end)", function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let deployment: OperatorDeployment;
  const operators: OperatorProcess[] = [];

  const startOperator = async (name: string): Promise<OperatorProcess> => {
    const operator = await OperatorProcess.start(deployment, { name });
    operators.push(operator);
    return operator;
  };

  before(async function () {
    this.timeout(600_000);
    cp = await controlPlane();
    deployment = await installOperator(cp);
  });

  afterEach(async function () {
    await dumpOnFailure(this.currentTest, cp, operators);
    for (const operator of operators.splice(0)) await operator.kill();
  });

  it("starts with the Deployment's flags, takes the Lease, serves /readyz and /metrics, and exits 0 on SIGTERM releasing the Lease", async () => {
    const operator = await startOperator("replica-1");
    await operator.waitReady();
    const identity = await operator.identity();
    await eventually(async () => expect(await leaseHolder(cp, deployment)).to.equal(identity), 60_000);

    const metrics = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
    expect(metrics).to.match(/^leader_election_master_status\{.*\} 1$/m);
    expect(metrics).to.include("controller_runtime_reconcile_total");

    expect(await operator.stop()).to.equal(0);
    expect(await leaseHolder(cp, deployment)).to.equal("");
    expect(forbiddenLines(operator)).to.deep.equal([]);
  });
});
