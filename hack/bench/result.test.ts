import { expect } from "chai";
import type { ActivityFigures } from "./logs.js";
import { type Machine, markdown, type PeerFigures, peerCell, type PeerRun, type SizeResult } from "./result.js";

const activity: ActivityFigures = {
  apiRequests: 0,
  apiWrites: 0,
  apiByVerb: {},
  sqlStatements: 0,
  sqlWrites: 0,
  connections: 0,
  peakStatementsPerSecond: 0,
};
const floor = {
  seconds: 10,
  cpuSeconds: 1,
  databases: 100,
  statements: 1,
  secrets: 200,
  sqlStatements: 1,
  connections: 1,
};
const percentiles = { p10: 1, p50: 2, p90: 3 };
const size: SizeResult = {
  n: 100,
  postgresVersion: "15",
  resyncSeconds: 60,
  loadAverage: { create: 1, floor: 1 },
  baselineRssMiB: 80,
  peakRssMiB: 100,
  create: { ...activity, seconds: 15, readySeconds: percentiles, cpuSeconds: 5, reconciles: 100 },
  restart: {
    ...activity,
    reverifiedSeconds: 2,
    cpuSeconds: 1,
    ddl: 0,
    statusWrites: 0,
    events: 0,
    readyFlaps: 0,
    reconciles: 100,
  },
  idle: {
    ...activity,
    seconds: 60,
    cpuSeconds: 0,
    reconciles: 0,
    apiWritesBesidesLease: 0,
    statementsPerReconcile: 0,
    connectionsPerReconcile: 0,
  },
  deletion: { ...activity, seconds: 5, cpuSeconds: 1 },
  floor,
  floorWritesOnly: floor,
  templateStatements: 10,
};
const together: PeerRun = {
  create: {
    ...activity,
    apiByVerb: { "create secrets": 200 },
    seconds: 12.5,
    readySeconds: percentiles,
    cpuSeconds: 2,
    reconciles: { postgres: 200, postgresuser: 900, errors: 500 },
    loginsChecked: 200,
  },
  deletion: { ...activity, seconds: 20, cpuSeconds: 1, databasesLeft: 0, rolesLeft: 0 },
};
const peer: PeerFigures = {
  ...together,
  commit: "d11ec0760c24",
  loadAverage: 1,
  baselineRssMiB: 44,
  peakRssMiB: 55,
  databasesFirst: { ...together, create: { ...together.create, seconds: 8 } },
};
const machine: Machine = {
  startedAt: "2026-11-30T05:00:00.000Z",
  cores: 2,
  cpuModel: "cpu",
  node: "v20",
  postgres: "15",
  loadAverageAtStart: [1, 1, 1],
  commit: "abc",
  treeClean: true,
  peer: "movetokube/postgres-operator d11ec0760c24",
};

describe("benchmark result table", () => {
  it("shows the Go peer's times of both runs with their ratios to the floor, its phases and its request mix", () => {
    expect(peerCell({ ...size, peer }, machine)).to.equal("12.5 s (1.25×); databases first 8.0 s (0.80×)");
    const text = markdown({ machine, sizes: [{ ...size, peer }] });
    expect(text).to.include("| 100 | 15.0 s | 12.5 s (1.25×); databases first 8.0 s (0.80×) | 10.0 s | 1.50× |");
    expect(text).to.include("| 100 | Go peer: delete → all gone | 20.0 s |");
    expect(text).to.include(
      "| 100 | Go peer, databases first: create → all succeeded (10/50/90 % after 1.0 / 2.0 / 3.0 s) | 8.0 s |",
    );
    expect(text).to.include("- N=100, Go peer create: create secrets 200");
    expect(text).to.include("- N=100, Go peer, databases first delete: none");
    expect(text).to.include("200 Postgres and 900 PostgresUser reconciles (500 errors)");
  });

  it('says why the peer has no column: "no peer source", or a failed run', () => {
    const noSource = markdown({ machine: { ...machine, peer: "no peer source" }, sizes: [size] });
    expect(noSource).to.include("| 100 | 15.0 s | no peer source | 10.0 s |");
    expect(noSource).not.to.include("Go peer:");
    expect(peerCell({ ...size, peerMissing: "peer run failed" }, machine)).to.equal("peer run failed");
    expect(peerCell(size, { ...machine, peer: undefined })).to.equal("no peer source");
  });

  it("shows how many cores the machine kept busy where it was measured, and nothing where it was not", () => {
    const measured = {
      ...size,
      create: { ...size.create, machineCpu: { seconds: 27, byProcess: { "kube-apiserver": 9, operator: 5 } } },
      floor: { ...floor, machineCpu: { seconds: 18, byProcess: { postgres: 8 } } },
    };
    const text = markdown({ machine, sizes: [measured] });
    expect(text).to.match(/\| 100 \| create → all Ready [^|]* \| 15\.0 s \| 5\.0 s \| 27\.0 s \(1\.80\) \|/);
    expect(text).to.include("| 100 | floor (same SQL) | 10.0 s | 1.0 s | 18.0 s (1.80) |");
    expect(text).to.include("| 100 | restart → all re-verified | 2.0 s | 1.0 s |  |");
    expect(text).to.include("- N=100, create: 27.0 in all; kube-apiserver 9.00, operator 5.00");
    expect(text).to.include("- N=100, floor (same SQL): 18.0 in all; postgres 8.00");
    expect(text).not.to.include("- N=100, floor without reads:");
  });

  it("gives the floor with bookkeeping its own column, with Kompost's ratio to it, and its requests in the phases", () => {
    const books = { ...floor, seconds: 12, apiRequests: 600 };
    const text = markdown({
      machine: { ...machine, peer: "no peer source" },
      sizes: [{ ...size, floorWithBookkeeping: books }],
    });
    expect(text).to.include("| 100 | 15.0 s | no peer source | 10.0 s | 1.50× | 10.0 s | 12.0 s (1.25×) |");
    expect(text).to.include("| 100 | floor with bookkeeping | 12.0 s | 1.0 s |  | 600 (600) |");
    expect(markdown({ machine, sizes: [size] })).not.to.include("floor with bookkeeping |");
  });

  it("says how many reconcile workers ran, the Deployment's 4 when a run did not record it", () => {
    expect(markdown({ machine, sizes: [{ ...size, concurrency: 8 }] })).to.include(
      "- N=100: 8 reconcile workers (and floor sessions); 1-minute load average",
    );
    expect(markdown({ machine, sizes: [size] })).to.include("- N=100: 4 reconcile workers (and floor sessions);");
  });
});
