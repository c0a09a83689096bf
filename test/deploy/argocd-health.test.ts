import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { ARGOCD_CM_HEADER, kustomize, type Manifest, parseManifests, repoPath } from "./manifests.js";

const LUA = process.env.LUA ?? "lua5.1";
const HARNESS = repoPath("test", "deploy", "argocd-health.lua");
const KINDS = ["PostgresInstance", "PostgresClusterInstance", "PostgresDatabase"] as const;

/** The argocd-cm key under which Argo CD looks for the health check of a kind. */
const healthKey = (kind: string) => `resource.customizations.health.kompost.chuge.li_${kind}`;

/** A JSON-like value as a Lua 5.1 expression; null members are left out, as Argo CD leaves them nil. */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return luaString(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(", ")}}`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, member]) => member !== null);
  return `{${entries.map(([key, member]) => `[${luaString(key)}] = ${toLua(member)}`).join(", ")}}`;
}

/** A Lua string literal; every byte outside printable ASCII, quotes and backslashes as a three-digit decimal escape (a shorter one would swallow a digit after it). */
function luaString(text: string): string {
  const bytes = [...Buffer.from(text, "utf8")];
  const body = bytes
    .map((byte) =>
      byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\${String(byte).padStart(3, "0")}`,
    )
    .join("");
  return `"${body}"`;
}

/** What a health check returned. */
interface Health {
  readonly status: string;
  readonly message: string;
}

/** Runs `script` with Lua 5.1 on `object` the way Argo CD does. */
async function runHealthCheck(script: string, object: unknown): Promise<Health> {
  const child = spawn(LUA, [HARNESS, script], { stdio: ["pipe", "pipe", "pipe"] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdin.end(`return ${toLua(object)}\n`);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", (err) => reject(new Error(`while running ${LUA}: ${err.message}`)));
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`the health check exited with ${code}: ${Buffer.concat(stderr).toString()}`);
  const [status = "", message = ""] = Buffer.concat(stdout).toString().split("\n");
  return { status, message };
}

/** A fixture of test/deploy/fixtures. */
async function fixture(name: string): Promise<Manifest> {
  return parse(await readFile(repoPath("test", "deploy", "fixtures", name), "utf8")) as Manifest;
}

describe("the Argo CD health checks (config/argocd)", function () {
  let dir: string;
  let argocdCm: Manifest;
  /** The health check of each kind, as written to a file from config/argocd/argocd-cm.yaml. */
  const scripts = new Map<string, string>();

  before(async function () {
    this.timeout(600_000);
    await promisify(execFile)(LUA, ["-v"]).catch((err: Error) => {
      throw new Error(
        `while looking for ${LUA}: ${err.message}; install Debian's lua5.1 (hack/setup-test-env.sh does)`,
      );
    });
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-argocd-health-"));
    const manifests = parseManifests(await readFile(repoPath("config", "argocd", "argocd-cm.yaml"), "utf8"));
    expect(manifests).to.have.length(1);
    argocdCm = manifests[0]!;
    const data = argocdCm.data as Record<string, string>;
    for (const kind of KINDS) {
      const file = path.join(dir, `${kind}.lua`);
      await writeFile(file, data[healthKey(kind)] ?? `error("no health check for ${kind}")`);
      scripts.set(kind, file);
    }
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const check = async (name: string): Promise<Health> => {
    const object = await fixture(name);
    return runHealthCheck(scripts.get(object.kind)!, object);
  };

  it("keeps config/argocd/argocd-cm.yaml equal to its rendering from health.lua (run `make build-installer`)", async () => {
    const shipped = await readFile(repoPath("config", "argocd", "argocd-cm.yaml"), "utf8");
    expect(
      shipped === ARGOCD_CM_HEADER + (await kustomize("config/argocd/health")),
      "argocd-cm.yaml is stale",
    ).to.equal(true);
  });

  it("installs the same health check for each of the three kinds in argocd-cm", async () => {
    expect(argocdCm.kind).to.equal("ConfigMap");
    expect(argocdCm.metadata).to.deep.include({ name: "argocd-cm", namespace: "argocd" });
    const source = await readFile(repoPath("config", "argocd", "health", "health.lua"), "utf8");
    const data = argocdCm.data as Record<string, string>;
    expect(Object.keys(data)).to.have.members(KINDS.map(healthKey));
    for (const kind of KINDS) expect(data[healthKey(kind)], kind).to.equal(source);
  });

  it("reports Healthy when Ready is True for the current generation", async () => {
    expect(await check("database-ready.yaml")).to.deep.equal({
      status: "Healthy",
      message: "Ready: All conditions are met",
    });
    expect((await check("cluster-instance-ready.yaml")).status).to.equal("Healthy");
  });

  it("reports Progressing while the operator has not written a status yet", async () => {
    expect(await check("database-new.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Waiting for the operator to reconcile generation 1",
    });
  });

  it("reports Progressing when the spec changed since Ready was reported", async () => {
    expect(await check("database-changed.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Waiting for the operator to reconcile generation 3",
    });
  });

  it("reports Progressing while conditions are still being worked out", async () => {
    expect(await check("database-reconciling.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Reconciling: AppUser is not known yet",
    });
  });

  it("reports Degraded with the reason and message of a failure", async () => {
    expect(await check("instance-failing.yaml")).to.deep.equal({
      status: "Degraded",
      message: 'ConnectionFailed: while connecting to postgres.database.svc:5432: connect ECONNREFUSED "10.0.0.7:5432"',
    });
    expect(await check("database-failing.yaml")).to.deep.equal({
      status: "Degraded",
      message:
        'NameTaken: Database "orders" exists and was not created by Kompost for team-orders/orders; nothing was changed',
    });
  });

  it("reports Progressing while the resource is being deleted, with what holds it back", async () => {
    expect(await check("instance-deleting.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Being deleted: Still used by 2 PostgresDatabases (awesome-application/staging, team-orders/orders)",
    });
  });

  it("reports Progressing, not an error, for an object without metadata.generation or conditions", async () => {
    const bare = {
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      metadata: { name: "x" },
      status: {},
    };
    expect((await runHealthCheck(scripts.get("PostgresDatabase")!, bare)).status).to.equal("Progressing");
    const noConditions = { ...bare, metadata: { name: "x", generation: 1 }, status: { observedGeneration: 1 } };
    expect((await runHealthCheck(scripts.get("PostgresDatabase")!, noConditions)).status).to.equal("Progressing");
  });
});
