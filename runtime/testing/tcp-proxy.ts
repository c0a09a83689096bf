import net from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

/**
 * A TCP forwarder to a real server that a test can cut (drop every connection and refuse new
 * ones) and restore: network trouble between a client and the real API server, on demand.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ readonly client: net.Socket; readonly upstream: net.Socket }>();
  private readonly stalled = new Set<net.Socket>();
  private mode: "open" | "cut" | "blackhole" = "open";
  /** Connections accepted so far (each one a TCP and, for the API server, a TLS handshake). */
  accepted = 0;

  private constructor(
    private readonly server: net.Server,
    /** The port the proxy listens on, on 127.0.0.1. */
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
  ) {
    server.on("connection", (client) => this.forward(client));
  }

  /** Starts a proxy on a free loopback port forwarding to host:port. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new TcpProxy(server, (server.address() as net.AddressInfo).port, { host, port });
  }

  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void {
    this.mode = "cut";
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /**
   * Makes every open connection go silent without closing it, like a peer that vanished
   * without a FIN: the client keeps waiting. New connections work normally.
   */
  stall(): void {
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.removeAllListeners("close");
      client.removeAllListeners("close");
      upstream.destroy();
      this.stalled.add(client);
    }
    this.pairs.clear();
  }

  /** Accepts connections again. */
  restore(): void {
    this.mode = "open";
  }

  /** Accepts new connections but never answers on them, like a server that hangs. */
  blackhole(): void {
    this.mode = "blackhole";
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    for (const socket of this.stalled) socket.destroy();
    this.stalled.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A copy of `kubeConfig` whose current cluster is reached through this proxy. */
  kubeConfigVia(kubeConfig: KubeConfig): KubeConfig {
    const current = kubeConfig.getCurrentCluster();
    if (!current) throw new Error("the kubeconfig has no current cluster");
    const url = new URL(current.server);
    url.port = String(this.port);
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: kubeConfig.clusters.map((cluster) =>
        cluster.name === current.name ? { ...cluster, server: url.origin } : cluster,
      ),
      users: kubeConfig.users,
      contexts: kubeConfig.contexts,
      currentContext: kubeConfig.currentContext,
    });
    return proxied;
  }

  private forward(client: net.Socket): void {
    this.accepted++;
    if (this.mode === "cut") {
      client.destroy();
      return;
    }
    if (this.mode === "blackhole") {
      client.on("error", () => undefined);
      this.stalled.add(client);
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    const pair = { client, upstream };
    this.pairs.add(pair);
    for (const socket of [client, upstream]) {
      socket.on("error", () => undefined);
      socket.on("close", () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
