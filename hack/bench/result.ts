/** The figures of a bench run, as written to bench/results/<timestamp>.json, and their Markdown table. */
import type { ActivityFigures } from "./logs.js";
import type { MachineCpu } from "./proc.js";
import type { ProfileSummary, Share } from "./profile.js";

/** What the floor script reported, and what PostgreSQL logged of it. */
export interface FloorFigures {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** The whole machine's CPU while the floor ran (absent in results from before it was measured). */
  readonly machineCpu?: MachineCpu;
  readonly databases: number;
  readonly statements: number;
  readonly secrets: number;
  /** Its API requests (absent in results from before it counted them: then one per Secret). */
  readonly apiRequests?: number;
  readonly sqlStatements: number;
  readonly connections: number;
}

/** A create phase: N objects created at once, until all were ready. */
export type CreateFigures<Reconciles> = ActivityFigures & {
  seconds: number;
  /** Seconds from the first create until a database was ready, over the N databases (the throughput curve): 10th, 50th, 90th percentile. */
  readySeconds: { p10: number; p50: number; p90: number };
  cpuSeconds: number;
  /** The whole machine's CPU from the first create until all were ready (absent in older results). */
  machineCpu?: MachineCpu;
  reconciles: Reconciles;
};

/**
 * The Go peer (movetokube/postgres-operator) doing the same work for N databases on servers of its
 * own (hack/bench/peer.ts): done when all 2N PostgresUsers say status.succeeded, which the peer sets
 * after it created the login role, granted its group and created its Secret.
 */
export interface PeerFigures extends PeerRun {
  /** The peer's source commit (hack/build-go-peer.sh). */
  readonly commit: string;
  /** The 1-minute load average when the peer began creating. */
  readonly loadAverage: number;
  /** The peer's RSS once ready, before any database. */
  readonly baselineRssMiB: number;
  /** Its VmHWM at the end. */
  readonly peakRssMiB: number;
  /** The second run: every Postgres created first, the users once all had succeeded (no retries). */
  readonly databasesFirst: PeerRun;
}

/** One run of the peer (its create and deletion figures); PeerFigures' own are the run with everything created at once. */
export interface PeerRun {
  /**
   * readySeconds: until both users of a database had succeeded; reconciles: controller_runtime_reconcile_total
   * of its two controllers, and their errors (a user reconciled before its database has succeeded fails).
   */
  readonly create: CreateFigures<{ postgres: number; postgresuser: number; errors: number }> & {
    /** Users whose Secret's ROLE and PASSWORD logged in to DATABASE_NAME after the phase (not timed). */
    loginsChecked: number;
  };
  readonly deletion: ActivityFigures & {
    seconds: number;
    cpuSeconds: number;
    /** Databases and roles of the peer still on the server once every object was gone. */
    databasesLeft: number;
    rolesLeft: number;
  };
}

/** One size N. */
export interface SizeResult {
  readonly n: number;
  readonly postgresVersion: string;
  readonly resyncSeconds: number;
  /** Kompost's --max-concurrent-reconciles, and the floor's sessions (absent in runs before it was recorded: 4). */
  readonly concurrency?: number;
  /** The machine's 1-minute load average when Kompost began creating and when the floor began. */
  readonly loadAverage: { readonly create: number; readonly floor: number };
  /** The operator's RSS with the instance Ready and no database yet. */
  readonly baselineRssMiB: number;
  /** The highest VmHWM of both operator processes. */
  readonly peakRssMiB: number;
  readonly create: CreateFigures<number>;
  readonly restart: ActivityFigures & {
    reverifiedSeconds: number;
    cpuSeconds: number;
    ddl: number;
    statusWrites: number;
    events: number;
    readyFlaps: number;
    reconciles: number;
  };
  readonly idle: ActivityFigures & {
    seconds: number;
    cpuSeconds: number;
    reconciles: number;
    /** API writes other than the leader election Lease's renewals. */
    apiWritesBesidesLease: number;
    statementsPerReconcile: number;
    connectionsPerReconcile: number;
  };
  readonly deletion: ActivityFigures & { seconds: number; cpuSeconds: number };
  readonly floor: FloorFigures;
  readonly floorWritesOnly: FloorFigures;
  /**
   * The floor with the writes the product contract asks around the same work (the user's create, the
   * finalizer, owned Secrets, the status, the Event), as Kompost made them; absent in older results.
   */
  readonly floorWithBookkeeping?: FloorFigures;
  /** The Go peer for the same N; absent without a peer source (or when its run failed: see peerMissing). */
  readonly peer?: PeerFigures;
  /** Why there is no peer column: "no peer source", or what failed. */
  readonly peerMissing?: string;
  /** Statements of the template the floor replays per database. */
  readonly templateStatements: number;
  readonly profileDir?: string;
  /** Where both operator processes spent their CPU (BENCH_PROFILE=1), start-up included. */
  readonly profile?: ProfileSummary;
}

/** The machine and software a run was measured on. */
export interface Machine {
  readonly startedAt: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly postgres: string;
  readonly loadAverageAtStart: readonly number[];
  readonly commit: string;
  readonly treeClean: boolean;
  /** The Go peer's source ("movetokube/postgres-operator <commit>"), or why it has no column ("no peer source"). */
  readonly peer?: string;
  /** Where the servers kept their files (BENCH_TMPDIR), e.g. "/dev/shm". */
  readonly serversDir?: string;
}

/** The whole run. */
export interface BenchResult {
  readonly machine: Machine;
  readonly sizes: readonly SizeResult[];
}

const s = (seconds: number) => `${seconds.toFixed(1)} s`;
/** The machine's busy CPU seconds in a phase and the cores that makes on average; blank where not measured. */
function machineCell(f: object, wall: number): string {
  const cpu = machineCpuOf(f);
  return cpu ? `${cpu.seconds.toFixed(1)} s (${(cpu.seconds / wall).toFixed(2)})` : "";
}
/** A phase's machine CPU, where it was measured (only some phases' figures have it). */
const machineCpuOf = (f: object) => ("machineCpu" in f ? (f.machineCpu as MachineCpu | undefined) : undefined);
const perDb = (value: number, n: number) => (value / n).toFixed(1);

/**
 * The Go peer's cell of the main table: its time to all succeeded with its ratio to the floor, with
 * everything created at once and with the databases first; or why it has none.
 */
export function peerCell(r: SizeResult, machine: Machine): string {
  if (!r.peer) return r.peerMissing ?? machine.peer ?? "no peer source";
  const time = (run: PeerRun) => `${s(run.create.seconds)} (${(run.create.seconds / r.floor.seconds).toFixed(2)}×)`;
  return `${time(r.peer)}; databases first ${time(r.peer.databasesFirst)}`;
}

/** The floor's runs under their names in the tables. */
function floors(r: SizeResult): [string, FloorFigures][] {
  return [
    ["floor (same SQL)", r.floor],
    ["floor without reads", r.floorWritesOnly],
    ...(r.floorWithBookkeeping ? [["floor with bookkeeping", r.floorWithBookkeeping] as [string, FloorFigures]] : []),
  ];
}

/** The peer's runs under their names in the tables. */
function peerRuns(r: SizeResult): [string, PeerRun][] {
  return r.peer
    ? [
        ["Go peer", r.peer],
        ["Go peer, databases first", r.peer.databasesFirst],
      ]
    : [];
}

/** The Markdown report: the main table, the phases in detail, and the request mix. */
export function markdown(result: BenchResult): string {
  const { machine, sizes } = result;
  const lines = [
    `# Kompost benchmark, ${machine.startedAt}`,
    "",
    `${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, PostgreSQL ${machine.postgres}, ` +
      `commit ${machine.commit}${machine.treeClean ? "" : " with uncommitted changes"}, ` +
      `load average at start ${machine.loadAverageAtStart.join(" / ")}` +
      `${machine.serversDir ? `; the servers' files in ${machine.serversDir}` : ""}.`,
    "",
    "Figures from one run on a machine that may be shared: wall times and CPU are noisy (compare runs " +
      "made at a similar load average); counts of requests and statements are not.",
    "",
    "| N | Kompost | Go peer² | floor | ratio | floor w/o reads | floor with bookkeeping⁴ (ratio) | CPU s | API requests | SQL statements | peak RSS (with no database) | idle: SQL / conn per reconcile, API writes¹ | restart: DDL, status writes, Events, flaps, re-verified |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...sizes
      .map((r) =>
        [
          r.n,
          s(r.create.seconds),
          peerCell(r, machine),
          s(r.floor.seconds),
          `${(r.create.seconds / r.floor.seconds).toFixed(2)}×`,
          s(r.floorWritesOnly.seconds),
          r.floorWithBookkeeping
            ? `${s(r.floorWithBookkeeping.seconds)} (${(r.create.seconds / r.floorWithBookkeeping.seconds).toFixed(2)}×)`
            : "",
          `${r.create.cpuSeconds.toFixed(1)} (${(r.create.cpuSeconds / r.n).toFixed(3)}/db)`,
          `${r.create.apiRequests} (${perDb(r.create.apiRequests, r.n)}/db)`,
          `${r.create.sqlStatements} (${perDb(r.create.sqlStatements, r.n)}/db)`,
          `${r.peakRssMiB.toFixed(0)} MiB (${r.baselineRssMiB.toFixed(0)})`,
          `${r.idle.statementsPerReconcile.toFixed(1)} / ${r.idle.connectionsPerReconcile.toFixed(2)}, ${r.idle.apiWritesBesidesLease}`,
          `${r.restart.ddl}, ${r.restart.statusWrites}, ${r.restart.events}, ${r.restart.readyFlaps}, ${s(r.restart.reverifiedSeconds)}`,
        ].join(" | "),
      )
      .map((row) => `| ${row} |`),
    "",
    "Kompost: create until all Ready. floor: hack/bench/floor.ts replaying the statements Kompost sent for db-0 " +
      "(with the same concurrency) and creating the same Secrets; w/o reads: its writes only. CPU s: the " +
      "operator's utime+stime while creating. API requests and SQL statements: the operator's, while creating " +
      "(until its queues were empty). ¹ besides Lease renewals. restart: the operator replaced by a new process; " +
      "re-verified: until the database controller had reconciled N times. " +
      `² ${machine.peer ?? "no peer source"}, the closest Go peer (a controller-runtime operator): for each ` +
      "database a Postgres (dropOnDelete, schemas [public]) and a WRITE and a READ PostgresUser, on a fresh API " +
      "server and PostgreSQL of its own, run under its ServiceAccount without leader election, each of its two " +
      "controllers with controller-runtime's default of 1 worker; until every PostgresUser's status.succeeded " +
      "(set once its login role, group grant and Secret exist; every Secret's login is then checked); " +
      "its ratio is to the floor. First everything created at once, as Kompost's PostgresDatabases are (a user " +
      "reconciled before its Postgres has succeeded fails and waits for controller-runtime's backoff), then, " +
      "after deleting all, every Postgres first and the users once all had succeeded. " +
      "⁴ the floor, and around the same work the writes the product contract asks of any operator, as Kompost " +
      "made them for db-0: the user's create of the PostgresDatabase, the finalizer before the first statement, " +
      "the Secrets owned by it, its status and its Event; the ratio is Kompost's to it.",
    "",
    ...sizes.map(
      (r) =>
        `- N=${r.n}: ${r.concurrency ?? 4} reconcile workers (and floor sessions); ` +
        `1-minute load average ${r.loadAverage.create.toFixed(1)} when Kompost began creating, ` +
        `${r.loadAverage.floor.toFixed(1)} when the floor began` +
        (r.peer
          ? `, ${r.peer.loadAverage.toFixed(1)} when the Go peer began; the peer: peak RSS ` +
            `${r.peer.peakRssMiB.toFixed(0)} MiB (${r.peer.baselineRssMiB.toFixed(0)} with no database), ` +
            peerRuns(r)
              .map(
                ([name, run]) =>
                  `${name}: ${run.create.reconciles.postgres} Postgres and ${run.create.reconciles.postgresuser} ` +
                  `PostgresUser reconciles (${run.create.reconciles.errors} errors), ${run.create.loginsChecked} ` +
                  `Secrets' logins checked, ${run.deletion.databasesLeft} databases and ${run.deletion.rolesLeft} ` +
                  "roles left after delete",
              )
              .join("; ") +
            "."
          : "."),
    ),
    "",
    "## Phases",
    "",
    "| N | phase | wall | operator CPU | machine CPU (cores busy)³ | API requests (writes) | SQL statements (writes) | connections | peak statements/s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of sizes) {
    const phases = [
      [
        `create → all Ready (10/50/90 % Ready after ${[r.create.readySeconds.p10, r.create.readySeconds.p50, r.create.readySeconds.p90].map((v) => v.toFixed(1)).join(" / ")} s)`,
        r.create.seconds,
        r.create,
      ],
      ["restart → all re-verified", r.restart.reverifiedSeconds, r.restart],
      [`idle (one resync, ${r.idle.reconciles} reconciles)`, r.idle.seconds, r.idle],
      ["delete → all gone", r.deletion.seconds, r.deletion],
    ] as const;
    for (const [name, wall, f] of phases)
      lines.push(
        `| ${r.n} | ${name} | ${s(wall)} | ${f.cpuSeconds.toFixed(1)} s | ${machineCell(f, wall)} | ${f.apiRequests} (${f.apiWrites}) | ` +
          `${f.sqlStatements} (${f.sqlWrites}) | ${f.connections} | ${f.peakStatementsPerSecond} |`,
      );
    for (const [name, f] of floors(r))
      lines.push(
        `| ${r.n} | ${name} | ${s(f.seconds)} | ${f.cpuSeconds.toFixed(1)} s | ${machineCell(f, f.seconds)} | ${f.apiRequests ?? f.secrets} (${f.apiRequests ?? f.secrets}) | ` +
          `${f.sqlStatements} | ${f.connections} | |`,
      );
    for (const [peer, run] of peerRuns(r)) {
      const ready = run.create.readySeconds;
      for (const [name, f] of [
        [
          `${peer}: create → all succeeded (10/50/90 % after ${[ready.p10, ready.p50, ready.p90].map((v) => v.toFixed(1)).join(" / ")} s)`,
          run.create,
        ],
        [`${peer}: delete → all gone`, run.deletion],
      ] as const)
        lines.push(
          `| ${r.n} | ${name} | ${s(f.seconds)} | ${f.cpuSeconds.toFixed(1)} s | ${machineCell(f, f.seconds)} | ${f.apiRequests} (${f.apiWrites}) | ` +
            `${f.sqlStatements} (${f.sqlWrites}) | ${f.connections} | ${f.peakStatementsPerSecond} |`,
        );
    }
  }
  lines.push(
    "",
    `³ every process on the machine (/proc/stat), and in brackets that over the wall time: how many of the ${machine.cores} ` +
      "cores were busy on average; near their number, the phase was bound by CPU. Measured for the create phases and the floor.",
    "",
  );
  lines.push("## Where the machine's CPU went, by process (seconds)", "");
  for (const r of sizes) {
    const phases: [string, object][] = [
      ["create", r.create],
      ...floors(r),
      ...peerRuns(r).map(([name, run]): [string, object] => [`${name} create`, run.create]),
    ];
    for (const [phase, f] of phases) {
      const cpu = machineCpuOf(f);
      if (!cpu) continue;
      const shares = Object.entries(cpu.byProcess).map(([name, seconds]) => `${name} ${seconds.toFixed(2)}`);
      lines.push(`- N=${r.n}, ${phase}: ${cpu.seconds.toFixed(1)} in all; ${shares.join(", ")}`);
    }
  }
  lines.push("", "## Operator API requests by verb and resource", "");
  for (const r of sizes) {
    const phases: [string, ActivityFigures][] = [
      ["create", r.create],
      ["restart", r.restart],
      ["idle", r.idle],
      ["delete", r.deletion],
      ...peerRuns(r).flatMap(([name, run]): [string, ActivityFigures][] => [
        [`${name} create`, run.create],
        [`${name} delete`, run.deletion],
      ]),
    ];
    for (const [phase, f] of phases) {
      const mix = Object.entries(f.apiByVerb).map(([key, count]) => `${key} ${count}`);
      lines.push(`- N=${r.n}, ${phase}: ${mix.join(", ") || "none"}`);
    }
  }
  for (const r of sizes.filter((size) => size.profile)) {
    lines.push("", `## Where the operator's CPU went, N=${r.n} (${r.profileDir}/*.cpuprofile)`, "");
    const shares = (list: readonly Share[]) => list.map((share) => `${share.name} ${share.percent.toFixed(1)} %`);
    lines.push(`- by place: ${shares(r.profile!.places).join(", ")}`);
    lines.push(`- by function: ${shares(r.profile!.functions).join(", ")}`);
  }
  return lines.join("\n") + "\n";
}
