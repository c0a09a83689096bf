import { execFile, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { type Manifest, parseManifests, repoPath } from "./manifests.js";

/** The Lua 5.1 interpreter (Debian's lua5.1 unless LUA says otherwise), like the gopher-lua inside Argo CD. */
export const LUA = process.env.LUA ?? "lua5.1";
const HARNESS = repoPath("test", "deploy", "argocd-health.lua");

/** The kinds that ship a health check. */
export const KINDS = ["PostgresInstance", "PostgresClusterInstance", "PostgresDatabase"] as const;

/** The argocd-cm key under which Argo CD looks for the health check of a kind. */
export const healthKey = (kind: string) => `resource.customizations.health.kompost.chuge.li_${kind}`;

/** What a health check returned. */
export interface Health {
  readonly status: string;
  readonly message: string;
}

/** The health check script file of each kind. */
export type HealthChecks = ReadonlyMap<string, string>;

/** Fails with an actionable message when the Lua interpreter is missing. */
export async function requireLua(): Promise<void> {
  await promisify(execFile)(LUA, ["-v"]).catch((err: Error) => {
    throw new Error(`while looking for ${LUA}: ${err.message}; install Debian's lua5.1 (hack/setup-test-env.sh does)`);
  });
}

/** The shipped config/argocd/argocd-cm.yaml, which must hold exactly one ConfigMap. */
export async function readArgocdCm(): Promise<Manifest> {
  const manifests = parseManifests(await readFile(repoPath("config", "argocd", "argocd-cm.yaml"), "utf8"));
  if (manifests.length !== 1) throw new Error(`argocd-cm.yaml holds ${manifests.length} objects, expected 1`);
  return manifests[0]!;
}

/** Writes the health check of each kind from config/argocd/argocd-cm.yaml into a file in `dir`. */
export async function writeHealthChecks(dir: string): Promise<HealthChecks> {
  await requireLua();
  const data = (await readArgocdCm()).data as Record<string, string>;
  const scripts = new Map<string, string>();
  for (const kind of KINDS) {
    const file = path.join(dir, `${kind}.lua`);
    await writeFile(file, data[healthKey(kind)] ?? `error("no health check for ${kind}")`);
    scripts.set(kind, file);
  }
  return scripts;
}

/** A JSON-like value as a Lua 5.1 expression; null members are left out, as Argo CD leaves them nil. */
export function toLua(value: unknown): string {
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

/** Runs `script` with Lua 5.1 on `object` the way Argo CD does. */
export async function runHealthCheck(script: string, object: unknown): Promise<Health> {
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
