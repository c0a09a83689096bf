import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "./logger.js";

/** Where a server listens: a host (undefined = every interface) and a port (0 = any free one). */
export interface BindAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/**
 * Parses a controller-runtime style bind address: ":8080", "127.0.0.1:8080", "[::1]:8080",
 * or "0" for disabled. Returns undefined when the text is none of these.
 */
export function parseBindAddress(text: string): BindAddress | "disabled" | undefined {
  if (text === "0") return "disabled";
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? match[2];
  return { host: host === "" ? undefined : host, port };
}

/** The outcome of a health or readiness check; `detail` is the response body. */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** What the probe and metrics servers serve. */
export interface ProbeServerOptions {
  /** Address for /healthz and /readyz, or "0" to disable. */
  readonly healthProbeBindAddress: string;
  /** Address for /metrics, or "0" to disable; the same fixed address as the probes serves all three on one server. */
  readonly metricsBindAddress: string;
  readonly healthz: () => CheckResult;
  readonly readyz: () => CheckResult;
  readonly registry: Registry;
  readonly logger: Logger;
}

type Route = (res: http.ServerResponse) => Promise<void> | void;

/** The HTTP servers for /healthz, /readyz (health probe address) and /metrics (metrics address). */
export class ProbeServers {
  private constructor(
    private readonly servers: readonly http.Server[],
    /** Base URL of the health probe server, when enabled. */
    readonly healthProbeUrl: string | undefined,
    /** Base URL of the metrics server, when enabled. */
    readonly metricsUrl: string | undefined,
  ) {}

  /** Starts listening; rejects with the address in the message when a port cannot be bound. */
  static async start(options: ProbeServerOptions): Promise<ProbeServers> {
    const probeRoutes: Record<string, Route> = {
      "/healthz": (res) => sendCheck(res, options.healthz(), 500),
      "/readyz": (res) => sendCheck(res, options.readyz(), 503),
    };
    const metricsRoutes: Record<string, Route> = {
      "/metrics": async (res) => {
        const body = await options.registry.metrics();
        res.writeHead(200, { "content-type": options.registry.contentType }).end(body);
      },
    };
    const probeAddress = bindAddressOrThrow(options.healthProbeBindAddress, "health probe");
    const metricsAddress = bindAddressOrThrow(options.metricsBindAddress, "metrics");
    const servers: http.Server[] = [];
    try {
      // Port 0 means "any free port" for each server, so only a fixed, identical address is shared.
      if (
        probeAddress !== "disabled" &&
        probeAddress.port !== 0 &&
        options.healthProbeBindAddress === options.metricsBindAddress
      ) {
        const server = await listen(
          { ...probeRoutes, ...metricsRoutes },
          probeAddress,
          "health probes and metrics",
          options.logger,
        );
        servers.push(server);
        const url = baseUrl(server);
        return new ProbeServers(servers, url, url);
      }
      let healthProbeUrl: string | undefined;
      let metricsUrl: string | undefined;
      if (probeAddress !== "disabled") {
        const server = await listen(probeRoutes, probeAddress, "health probes", options.logger);
        servers.push(server);
        healthProbeUrl = baseUrl(server);
      }
      if (metricsAddress !== "disabled") {
        const server = await listen(metricsRoutes, metricsAddress, "metrics", options.logger);
        servers.push(server);
        metricsUrl = baseUrl(server);
      }
      return new ProbeServers(servers, healthProbeUrl, metricsUrl);
    } catch (err) {
      await Promise.all(servers.map(closeServer));
      throw err;
    }
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map(closeServer));
  }
}

function bindAddressOrThrow(text: string, what: string): BindAddress | "disabled" {
  const address = parseBindAddress(text);
  if (address === undefined) {
    throw new Error(
      `while starting the ${what} server: invalid bind address "${text}": use [host]:port, or 0 to disable`,
    );
  }
  return address;
}

async function listen(
  routes: Record<string, Route>,
  address: BindAddress,
  what: string,
  logger: Logger,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route = routes[path];
    if (!route || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    Promise.resolve(route(res)).catch((err: unknown) => {
      logger.error("Failed to serve endpoint", { path, error: String(err) });
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end("internal error\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const shown = `${address.host ?? ""}:${address.port}`;
      reject(
        new Error(
          `while starting the ${what} server on ${shown}: ${err.code ?? err.message}: free the port or pass another address`,
        ),
      );
    };
    server.once("error", onError);
    server.listen(address.port, address.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  logger.info("Started server", { server: what, address: baseUrl(server) });
  return server;
}

function sendCheck(res: http.ServerResponse, result: CheckResult, failureStatus: number): void {
  res
    .writeHead(result.ok ? 200 : failureStatus, { "content-type": "text/plain; charset=utf-8" })
    .end(`${result.detail}\n`);
}

function baseUrl(server: http.Server): string {
  const { address, port, family } = server.address() as AddressInfo;
  const unspecified = address === "::" || address === "0.0.0.0";
  const host = unspecified ? "127.0.0.1" : family === "IPv6" ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

async function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
