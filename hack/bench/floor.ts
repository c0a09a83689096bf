/**
 * The floor: the least any operator must do for N databases. Replays, for each database, exactly
 * the statements Kompost sent for one database of the same bench run (see floor-template.ts), with
 * Kompost's concurrency, then creates the same two Secrets through the API — and nothing else: no
 * watch, no status, no Events.
 *
 * With `bookkeeping`, it also makes the writes the product contract asks of any operator around
 * that work, as Kompost made them for the same database: the user's PostgresDatabase created,
 * the finalizer added before the first statement, the Secrets owned by it, its status written
 * and its Event recorded; still no watch and no reads.
 *
 *   node --import tsx hack/bench/floor.ts <config.json>      (written by hack/bench/run.ts)
 *
 * Prints one JSON line: { seconds, cpuSeconds, machineCpu, databases, statements, secrets, apiRequests }.
 */
import { randomBytes } from "node:crypto";
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
  readonly bookkeeping?: Bookkeeping;
}

/** The probe's PostgresDatabase as the user created it and as Kompost finished it. */
export interface Bookkeeping {
  /** The collection's path in the floor's namespace, e.g. /apis/kompost.chuge.li/v1alpha1/namespaces/bench-floor/postgresdatabases. */
  readonly collection: string;
  /** apiVersion, kind, metadata.name and spec, as the user created it. */
  readonly database: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { readonly name: string };
    readonly spec: unknown;
  };
  readonly finalizer: string;
  /** The status Kompost wrote. */
  readonly status: unknown;
  /** The Events Kompost recorded for it: type, reason, message. */
  readonly events: readonly { readonly type: string; readonly reason: string; readonly message: string }[];
}

/** A PostgresDatabase the floor created: what its Secrets and Events refer to. */
interface Owner {
  readonly name: string;
  readonly uid: string;
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
  const kube = new Kube(config, agent);
  const books = config.bookkeeping;
  // Recorded in the background, as Kompost records its Events; the clock stops once all are written.
  const events: Promise<unknown>[] = [];
  const worker = async () => {
    const maintenance = new Map<string, pg.Client>();
    try {
      for (let index = next++; index < config.databases; index = next++) {
        const rename = <T>(object: T): T => renamed(object, names, index, config.stem);
        const owner = books ? await createWithFinalizer(kube, books, rename) : undefined;
        statements += await replaySql(config, names, index, maintenance);
        for (const secret of config.secrets)
          await kube.post(secretsPath(config), ownedBy(rename(secret), owner, books));
        if (books && owner) {
          await kube.send("PATCH", `${books.collection}/${owner.name}/status`, { status: rename(books.status) });
          events.push(
            ...books.events.map((event) =>
              kube.post(eventsPath(config), eventOf(rename(event), owner, books, config.namespace)),
            ),
          );
        }
      }
    } finally {
      await Promise.all([...maintenance.values()].map((client) => client.end()));
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  await Promise.all(events);
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
    apiRequests: kube.requests,
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
  const copy = JSON.parse(renameFor(JSON.stringify(object), names, index, stem)) as T & {
    data?: Record<string, string>;
  };
  const { data } = object as { data?: Record<string, string> };
  // A Secret's values: base64 of text that names the probe.
  if (data)
    copy.data = Object.fromEntries(
      Object.entries(data).map(([key, value]) => [
        key,
        Buffer.from(renameFor(Buffer.from(value, "base64").toString(), names, index, stem)).toString("base64"),
      ]),
    );
  return copy;
}

/** The user's create, then Kompost's finalizer, before any statement: as Kompost orders them. */
async function createWithFinalizer(kube: Kube, books: Bookkeeping, rename: <T>(object: T) => T): Promise<Owner> {
  const { apiVersion, kind, metadata, spec } = books.database;
  const created = (await kube.post(books.collection, { apiVersion, kind, metadata: rename(metadata), spec })) as {
    metadata: Owner;
  };
  const { name, uid } = created.metadata;
  await kube.send("PATCH", `${books.collection}/${name}`, { metadata: { finalizers: [books.finalizer] } });
  return { name, uid };
}

/** A Secret with Kompost's owner reference to its PostgresDatabase (with bookkeeping), else as it is. */
function ownedBy<T extends { metadata: Record<string, unknown> }>(secret: T, owner?: Owner, books?: Bookkeeping): T {
  if (!owner || !books) return secret;
  const { apiVersion, kind } = books.database;
  const ref = { apiVersion, kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
  return { ...secret, metadata: { ...secret.metadata, ownerReferences: [ref] } };
}

function eventOf(event: Bookkeeping["events"][number], owner: Owner, books: Bookkeeping, namespace: string): unknown {
  const now = new Date().toISOString();
  const { apiVersion, kind } = books.database;
  return {
    metadata: { name: `${owner.name}.${randomBytes(8).toString("hex")}` },
    involvedObject: { apiVersion, kind, namespace, name: owner.name, uid: owner.uid },
    ...event,
    source: { component: "kompost-floor" },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

const secretsPath = (config: FloorConfig) => `/api/v1/namespaces/${config.namespace}/secrets`;
const eventsPath = (config: FloorConfig) => `/api/v1/namespaces/${config.namespace}/events`;

/** Requests to the API server on the floor's keep-alive connections, counted. */
class Kube {
  requests = 0;

  constructor(
    private readonly config: FloorConfig,
    private readonly agent: https.Agent,
  ) {}

  /** Creates the object at `collection`; resolves with what the API server stored. */
  post(collection: string, body: unknown): Promise<unknown> {
    return this.send("POST", collection, body);
  }

  /** POST (JSON) or PATCH (a JSON merge patch); any status but 200 or 201 rejects. */
  send(method: "POST" | "PATCH", path: string, body: unknown): Promise<unknown> {
    this.requests++;
    const text = JSON.stringify(body);
    const contentType = method === "PATCH" ? "application/merge-patch+json" : "application/json";
    return new Promise((resolve, reject) => {
      const request = https.request(
        new URL(path, this.config.kube.server),
        {
          method,
          agent: this.agent,
          headers: { "content-type": contentType, "content-length": Buffer.byteLength(text) },
        },
        (response) => {
          let reply = "";
          response.on("data", (chunk: Buffer) => (reply += chunk.toString()));
          response.on("end", () =>
            response.statusCode === 200 || response.statusCode === 201
              ? resolve(JSON.parse(reply) as unknown)
              : reject(new Error(`${method} ${path}: ${response.statusCode} ${reply}`)),
          );
        },
      );
      request.on("error", reject);
      request.end(text);
    });
  }
}

await main(process.argv[2] ?? "").catch((err: unknown) => {
  console.error("floor failed:", err);
  process.exitCode = 1;
});
