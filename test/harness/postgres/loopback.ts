import { lookup } from "node:dns/promises";
import net from "node:net";

/**
 * The loopback addresses the server should listen on. Always 127.0.0.1; also ::1 when
 * `localhost` resolves to it and it can be bound, so that a client dialling "localhost"
 * reaches the server whichever address family the resolver puts first.
 */
export async function loopbackAddresses(): Promise<readonly string[]> {
  const resolved = await lookup("localhost", { all: true }).catch(() => []);
  const wantsV6 = resolved.some((entry) => entry.address === "::1");
  return wantsV6 && (await canBind("::1")) ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
}

async function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(0, address, () => server.close(() => resolve(true)));
  });
}
