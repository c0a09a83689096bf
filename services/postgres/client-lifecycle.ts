/**
 * The one lifecycle of every connection Kompost opens: a PasswordGuardedClient (alone or in a
 * pool) whose late 'error' events cannot crash the process, and whose close is bounded. A
 * server that stops answering without hanging up keeps `end()` waiting for a goodbye that never
 * comes (until TCP keepalive gives up, minutes later); after the bound the socket is destroyed.
 */
import pg from "pg";
import { PasswordGuardedClient } from "./password-guard.js";
import type { GuardedClientConfig } from "./password-guard.js";

/** How a single client is connected and closed. */
export interface SingleClientOptions {
  /** How long `end()` may wait for the server's goodbye before the socket is destroyed. */
  readonly closeTimeoutMillis: number;
  /** Told of an 'error' the client emits outside a connect or query (a dying socket); ignored by default. */
  readonly onLost?: (err: Error) => void;
  /** Wraps the connect, e.g. to fail it at once while the server is known to be gone; defaults to just connecting. */
  readonly connect?: (connect: () => Promise<void>) => Promise<void>;
}

/** Connects a new PasswordGuardedClient, runs `fn` with it and closes it within the bound, whatever happens. */
export async function withSingleClient<T>(
  config: GuardedClientConfig,
  fn: (client: pg.Client) => Promise<T>,
  options: SingleClientOptions,
): Promise<T> {
  const client = new PasswordGuardedClient(config);
  // pg also emits a socket error as 'error': without a listener it would kill the process.
  client.on("error", options.onLost ?? ignore);
  try {
    const connect = async (): Promise<void> => {
      await client.connect();
    };
    await (options.connect ? options.connect(connect) : connect());
    return await fn(client);
  } finally {
    await closeClient(client, options.closeTimeoutMillis);
  }
}

/** Ends a client; destroys its socket when the goodbye does not finish within `timeoutMillis`. */
export async function closeClient(client: pg.Client, timeoutMillis: number): Promise<void> {
  const ended = client.end().catch(ignore);
  if (!(await settlesWithin(ended, timeoutMillis))) client.connection.stream.destroy();
}

/** The options of a pool of PasswordGuardedClients: those of each client plus the pool's own. */
export type ClientPoolConfig = GuardedClientConfig & Pick<pg.PoolConfig, "max" | "idleTimeoutMillis">;

/** A pg.Pool of PasswordGuardedClients that knows its open clients, so that its close can be bounded. */
export class ClientPool {
  private readonly pool: pg.Pool;
  private readonly clients = new Set<pg.Client>();

  /** `onLost` is told of an idle client's dying socket (pg drops that client by itself). */
  constructor(config: ClientPoolConfig, onLost: (err: Error) => void) {
    this.pool = new pg.Pool({ ...config, Client: PasswordGuardedClient });
    this.pool.on("error", onLost);
    this.pool.on("connect", (client) => {
      this.clients.add(client);
      client.once("end", () => this.clients.delete(client));
    });
  }

  /** Checks out a client; give it back with `release(discard)`. */
  connect(): Promise<pg.PoolClient> {
    return this.pool.connect();
  }

  /**
   * Ends the pool: waits up to `timeoutMillis` for clients in use to come back and for every
   * client's goodbye (pg's own end() waits for neither of an idle client), then destroys the
   * sockets still open (a client in use then fails, and comes back).
   */
  async close(timeoutMillis: number): Promise<void> {
    const goodbyes = [...this.clients].map((client) => new Promise((resolve) => client.once("end", resolve)));
    const ended = Promise.all([this.pool.end().catch(ignore), ...goodbyes]);
    if (await settlesWithin(ended, timeoutMillis)) return;
    for (const client of this.clients) client.connection.stream.destroy();
  }
}

/** True when `promise` settled within `timeoutMillis`, false when the time ran out first. */
async function settlesWithin(promise: Promise<unknown>, timeoutMillis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMillis);
  });
  try {
    return await Promise.race([promise.then(() => true), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

function ignore(): void {}
