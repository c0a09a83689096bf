/**
 * The floor: the least any operator must do for N databases. Replays, for each database, exactly
 * the statements Kompost sent for one database of the same bench run (see floor-template.ts), with
 * Kompost's concurrency, then creates the same two Secrets through the API — and nothing else: no
 * watch, no status, no Events.
 *
 *   node --import tsx hack/bench/floor.ts <config.json>      (written by hack/bench/run.ts)
 *
 * Prints one JSON line: { seconds, cpuSeconds, machineCpu, databases, statements, secrets }.
 */
import { readFile } from "node:fs/promises";
import https from "node:https";
import pg from "pg";
import { renameFor, type TemplateStep } from "./floor-template.js";
import { machineCpuBetween, readMachine } from "./proc.js";

/** What the floor needs to know. */
export interface FloorConfig {
  readonly databases: number;
  readonly concurrency: number;
  /** The probe pattern's source (see probePattern) and the name stem of the floor's databases. */
  readonly probe: string;
  readonly stem: string;
  readonly steps: readonly TemplateStep[];
  readonly aliases: readonly string[];
  readonly postgres: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly caPem: string;
    readonly servername: string;
  };
  readonly kube: { readonly server: string; readonly caPem: string; readonly certPem: string; readonly keyPem: string };
  readonly namespace: string;
  /** The probe's Secrets as Kompost wrote them (metadata reduced to name, namespace, labels, annotations). */
  readonly secrets: readonly { readonly metadata: Record<string, unknown>; readonly [field: string]: unknown }[];
}

async function main(configPath: string): Promise<void> {
  const config = JSON.parse(await readFile(configPath, "utf8")) as FloorConfig;
  const names = { probe: new RegExp(config.probe, "g"), aliases: config.aliases };
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: config.concurrency,
    ca: config.kube.caPem,
    cert: config.kube.certPem,
    key: config.kube.keyPem,
  });
  const cpuBefore = process.cpuUsage();
  const floorProcess = new Map([[process.pid, "floor"]]);
  const machineBefore = await readMachine(floorProcess);
  const started = performance.now();
  let next = 0;
  let statements = 0;
  const worker = async () => {
    const maintenance = new Map<string, pg.Client>();
    try {
      for (let index = next++; index < config.databases; index = next++) {
        statements += await replaySql(config, names, index, maintenance);
        for (const secret of config.secrets)
          await createSecret(config, agent, renamed(secret, names, index, config.stem));
      }
    } finally {
      await Promise.all([...maintenance.values()].map((client) => client.end()));
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const machineCpu = machineCpuBetween(machineBefore, await readMachine(floorProcess));
  agent.destroy();
  const result = {
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    machineCpu,
    databases: config.databases,
    statements,
    secrets: config.databases * config.secrets.length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Runs the template for database `index`: maintenance statements on the worker's open sessions, the rest on a new session into the new database. */
async function replaySql(
  config: FloorConfig,
  names: Names,
  index: number,
  maintenance: Map<string, pg.Client>,
): Promise<number> {
  let tenant: pg.Client | undefined;
  const rename = (text: string) => renameFor(text, names, index, config.stem);
  try {
    for (const step of config.steps) {
      let client: pg.Client;
      if (step.tenant) {
        tenant ??= await connect(config, rename(step.database));
        client = tenant;
      } else {
        let session = maintenance.get(step.database);
        if (!session) maintenance.set(step.database, (session = await connect(config, step.database)));
        client = session;
      }
      await client.query(
        rename(step.sql),
        step.params.map((param) => (param === null ? null : rename(param))),
      );
    }
  } finally {
    await tenant?.end();
  }
  return config.steps.length;
}

async function connect(config: FloorConfig, database: string): Promise<pg.Client> {
  const { host, port, user, password, caPem, servername } = config.postgres;
  const client = new pg.Client({
    host,
    port,
    user,
    password,
    database,
    ssl: { ca: caPem, servername, rejectUnauthorized: true },
  });
  await client.connect();
  return client;
}

type Names = Parameters<typeof renameFor>[1];

function renamed<T>(object: T, names: Names, index: number, stem: string): T {
  const secret = object as { data?: Record<string, string> };
  const data = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(renameFor(Buffer.from(value, "base64").toString(), names, index, stem)).toString("base64"),
    ]),
  );
  const copy = JSON.parse(renameFor(JSON.stringify({ ...secret, data: {} }), names, index, stem)) as T & {
    data: Record<string, string>;
  };
  copy.data = data;
  return copy;
}

async function createSecret(config: FloorConfig, agent: https.Agent, secret: unknown): Promise<void> {
  const url = new URL(`/api/v1/namespaces/${config.namespace}/secrets`, config.kube.server);
  const body = JSON.stringify(secret);
  await new Promise<void>((resolve, reject) => {
    const request = https.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString()));
        response.on("end", () =>
          response.statusCode === 201
            ? resolve()
            : reject(new Error(`creating a Secret: ${response.statusCode} ${text}`)),
        );
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

await main(process.argv[2] ?? "").catch((err: unknown) => {
  console.error("floor failed:", err);
  process.exitCode = 1;
});
