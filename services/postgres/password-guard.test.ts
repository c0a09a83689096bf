import { expect } from "chai";
import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { generatePassword } from "./passwords.js";
import { InsecurePasswordAuthError, PasswordGuardedClient, allowsInsecurePasswordAuth } from "./password-guard.js";

/** The server's authentication request, as the protocol's 'R' message: cleartext (3) or MD5 (5, with a salt). */
const REQUESTS = {
  cleartext: Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]),
  md5: Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]),
} as const;

/**
 * A fake server on loopback that answers the startup message with one password request and
 * records what the client sends after it: the first answer (then it hangs up), or nothing
 * when the client hangs up first.
 */
async function capture(method: keyof typeof REQUESTS, connect: (port: number) => Promise<unknown>): Promise<Buffer> {
  const server = net.createServer();
  const sent = new Promise<Buffer>((resolve) => {
    server.once("connection", (socket: net.Socket) => {
      let startup = true;
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(Buffer.alloc(0)));
      socket.on("data", (chunk: Buffer) => {
        if (!startup) {
          resolve(chunk);
          socket.destroy();
          return;
        }
        startup = false;
        socket.write(REQUESTS[method]);
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    await connect((server.address() as AddressInfo).port);
    return await sent;
  } finally {
    server.close();
  }
}

describe("the password guard", () => {
  const password = generatePassword();

  function client(port: number, allowInsecurePasswordAuth: boolean): PasswordGuardedClient {
    const c = new PasswordGuardedClient({
      host: "127.0.0.1",
      port,
      user: "kompost",
      password,
      allowInsecurePasswordAuth,
    });
    c.on("error", () => undefined);
    return c;
  }

  for (const method of ["cleartext", "md5"] as const) {
    it(`fails the connect on a ${method} request and hangs up without sending a byte`, async () => {
      let failure: unknown;
      const sent = await capture(method, async (port) => {
        const c = client(port, false);
        failure = await c.connect().then(
          () => undefined,
          (err: unknown) => err,
        );
        await c.end().catch(() => undefined);
      });
      expect(failure).to.be.instanceOf(InsecurePasswordAuthError);
      expect((failure as InsecurePasswordAuthError).method).to.equal(method);
      expect(sent.length, `bytes after the request: ${sent.toString("hex")}`).to.equal(0);
    });

    it(`answers a ${method} request when allowed (so the capture above would see a password)`, async () => {
      const sent = await capture(method, async (port) => {
        // The fake server hangs up after the answer, so the connect fails either way.
        await client(port, true)
          .connect()
          .catch(() => undefined);
      });
      expect(sent[0], "a PasswordMessage ('p')").to.equal(0x70);
      if (method === "cleartext") expect(sent.toString("utf8")).to.include(password);
      else {
        expect(sent.toString("utf8")).to.include("md5");
        expect(sent.toString("utf8")).to.not.include(password);
      }
    });
  }

  it("allows cleartext and MD5 only over verified TLS or with the opt-in", () => {
    expect(allowsInsecurePasswordAuth({})).to.equal(false);
    expect(allowsInsecurePasswordAuth({ ssl: { enabled: true } })).to.equal(false);
    expect(allowsInsecurePasswordAuth({ ssl: { enabled: true, verify: "verify_none" } })).to.equal(false);
    expect(allowsInsecurePasswordAuth({ ssl: { enabled: false, verify: "verify_peer" } })).to.equal(false);
    expect(allowsInsecurePasswordAuth({ ssl: { enabled: true, verify: "verify_ca" } })).to.equal(true);
    expect(allowsInsecurePasswordAuth({ ssl: { enabled: true, verify: "verify_peer" } })).to.equal(true);
    expect(allowsInsecurePasswordAuth({ allowInsecurePasswordAuth: true })).to.equal(true);
  });
});
