/**
 * `make bench`: Kompost side by side with the floor, the least any operator must do, on this
 * machine. For each N, a fresh API server (audit log on) and a fresh PostgreSQL (every statement
 * and connection logged) run the compiled operator, as its own process under its ServiceAccount,
 * through four phases — create until all Ready, restart until all re-verified, one idle resync,
 * delete until all gone — and then the floor script (hack/bench/floor.ts) replays the statements
 * Kompost sent for one database, N times with Kompost's concurrency, and creates the same Secrets.
 * Then, on servers of its own, the Go peer (hack/bench/peer.ts: movetokube/postgres-operator built
 * by hack/build-go-peer.sh) does the same work; without a peer source its column says so.
 * Figures, not assertions: the test suite never times anything.
 *
 *   BENCH_SIZES=100,300,1000      sizes N, one fresh run each ("20" for a quick look)
 *   BENCH_RESYNC_SECONDS=60       --resync-period after the restart: the idle phase lasts one period
 *   BENCH_CONCURRENCY=4           --max-concurrent-reconciles, and the floor's sessions (default: the Deployment's, 4)
 *   BENCH_PROFILE=1               node --cpu-prof for the operator (.kompost/bench/n<N>/profile)
 *   BENCH_REF=HEAD                build a commit (git archive) instead of the working tree
 *   BENCH_TMPDIR=/dev/shm         where the servers keep their files (default /dev/shm when it exists;
 *                                 N=1000 needs about 16 GB there)
 *   BENCH_PEER_SRC=dir            the Go peer's source, a checkout or a bare git dir (BENCH_PEER_REF: its tag or commit)
 *   BENCH_PEER=0                  leave the peer out
 *
 * Writes bench/results/<timestamp>.md and .json.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { format, resolveConfig } from "prettier";
import { type BenchResult, type Machine, markdown, type PeerFigures, type SizeResult } from "./bench/result.js";

const run = promisify(execFile);
const WORK = path.resolve(".kompost", "bench");
const RESULTS = path.resolve("bench", "results");

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? "100,300,1000").split(",").map((size) => Number(size.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(
      `BENCH_SIZES must list whole numbers of databases, such as "100,300,1000"; got "${process.env.BENCH_SIZES}"`,
    );
  // The servers' files (etcd's, PostgreSQL's, the logs) on a RAM disk when there is one: a run of
  // N=1000 writes some 15 GB (each CREATE DATABASE copies its template), and on a disk one phase
  // would wait on the writeback of another, by as much as 2× at N=1000 on this project's machine.
  process.env.TMPDIR = process.env.BENCH_TMPDIR ?? (existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir());
  const machine = { ...(await describeMachine()), serversDir: process.env.TMPDIR };
  const main = await build();
  const peer = await buildPeer();
  const results: SizeResult[] = [];
  try {
    for (const n of sizes) results.push({ ...(await runSize(n, main)), ...(await runPeer(n, peer)) });
  } finally {
    if (results.length > 0)
      await report({
        machine: { ...machine, postgres: results[0]!.postgresVersion, peer: peer.label },
        sizes: results,
      });
  }
}

async function describeMachine(): Promise<Machine> {
  const commit = (await run("git", ["rev-parse", "--short", process.env.BENCH_REF ?? "HEAD"])).stdout.trim();
  const status = (await run("git", ["status", "--porcelain", "--untracked-files=no"])).stdout.trim();
  return {
    startedAt: new Date().toISOString(),
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    postgres: "",
    loadAverageAtStart: os.loadavg().map((load) => Number(load.toFixed(2))),
    commit,
    treeClean: Boolean(process.env.BENCH_REF) || status === "",
  };
}

/** Compiles the operator as the image does; returns its entrypoint. */
async function build(): Promise<string> {
  const ref = process.env.BENCH_REF;
  if (!ref) {
    await run("make", ["build"]);
    return path.join("dist", "cmd", "main.js");
  }
  // A commit of its own, so that the working tree's edits in progress are not measured.
  const source = path.join(WORK, "src");
  await rm(source, { recursive: true, force: true });
  await mkdir(source, { recursive: true });
  await run("sh", ["-c", `git archive "$1" | tar -x -C "$2"`, "sh", ref, source]);
  await symlink(path.resolve("node_modules"), path.join(source, "node_modules"));
  await run("npx", ["--no-install", "tsc", "-p", "tsconfig.build.json"], { cwd: source });
  return path.join(source, "dist", "cmd", "main.js");
}

/** The Go peer's binary from hack/build-go-peer.sh, or why there is none. */
interface Peer {
  readonly binary?: string;
  /** "movetokube/postgres-operator <commit>", or why there is no binary ("no peer source"). */
  readonly label: string;
}

async function buildPeer(): Promise<Peer> {
  if (process.env.BENCH_PEER === "0") return { label: "left out (BENCH_PEER=0)" };
  try {
    const binary = (await run("hack/build-go-peer.sh", [], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
    const commit = (await readFile(path.join(path.dirname(binary), "..", "commit"), "utf8")).trim();
    return { binary, label: `movetokube/postgres-operator ${commit.slice(0, 12)}` };
  } catch (err) {
    const { code, stderr } = err as { code?: number; stderr?: string };
    if (code === 3) return { label: "no peer source" };
    console.error(`bench: the Go peer did not build, its column stays empty:\n${stderr ?? String(err)}`);
    return { label: "peer build failed" };
  }
}

/** The peer for one size in a child process of its own, on servers of its own; a failure leaves its column empty. */
async function runPeer(n: number, peer: Peer): Promise<Pick<SizeResult, "peer" | "peerMissing">> {
  if (!peer.binary) return { peerMissing: peer.label };
  const resultPath = path.join(WORK, `peer-n${n}.json`);
  await rm(resultPath, { force: true });
  console.log(`bench: Go peer, N=${n} (load average ${os.loadavg()[0]!.toFixed(2)})`);
  const code = await child("hack/bench/peer.ts", [String(n), resultPath], { BENCH_PEER_BIN: peer.binary });
  if (code !== 0) {
    console.error(`bench: the Go peer's run for N=${n} failed (exit ${code}); see its output above`);
    return { peerMissing: "peer run failed" };
  }
  return { peer: JSON.parse(await readFile(resultPath, "utf8")) as PeerFigures };
}

/** Runs a bench script with tsx, its output shown; resolves with its exit code. */
async function child(script: string, args: readonly string[], env: Record<string, string>): Promise<number | null> {
  const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  return new Promise<number | null>((resolve) => proc.once("exit", resolve));
}

/** One size in a child process of its own, so that its control plane and PostgreSQL are fresh. */
async function runSize(n: number, main: string): Promise<SizeResult> {
  const resultPath = path.join(WORK, `n${n}.json`);
  await mkdir(WORK, { recursive: true });
  await rm(resultPath, { force: true });
  console.log(`bench: N=${n} (load average ${os.loadavg()[0]!.toFixed(2)})`);
  const code = await child("hack/bench/run.ts", [String(n), resultPath], { BENCH_MAIN: main });
  if (code !== 0) throw new Error(`the bench for N=${n} failed (exit ${code}); see its output above`);
  return JSON.parse(await readFile(resultPath, "utf8")) as SizeResult;
}

/** Writes both files formatted as `make lint` wants them, and prints the Markdown. */
async function report(result: BenchResult): Promise<void> {
  const stamp = result.machine.startedAt.replace(/[:.]/g, "-");
  const base = path.join(RESULTS, stamp);
  const options = (await resolveConfig(`${base}.md`)) ?? {};
  const text = await format(markdown(result), { ...options, parser: "markdown" });
  await mkdir(RESULTS, { recursive: true });
  await writeFile(`${base}.md`, text);
  await writeFile(`${base}.json`, await format(JSON.stringify(result), { ...options, parser: "json" }));
  process.stdout.write(`\n${text}\nWritten to bench/results/${stamp}.md and .json\n`);
}

try {
  await main();
} catch (err) {
  console.error("bench failed:", err);
  process.exitCode = 1;
}
