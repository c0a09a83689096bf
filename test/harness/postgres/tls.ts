import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import { TestCA } from "../pki.js";
import { type ServerUser, giveToServer } from "./server-user.js";

/** The DNS name in the server certificate; the certificate has no IP address on purpose. */
export const TLS_SERVER_NAME = "localhost";

/** The server's certificate and key on disk, and the CA that signed them. */
export interface ServerTls {
  readonly caPem: string;
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** Creates a fresh CA in `<root>/pki` and issues the server a certificate for `localhost` only. */
export async function issueServerTls(root: string, user: ServerUser): Promise<ServerTls> {
  const dir = path.join(root, "pki");
  await mkdir(dir, { mode: 0o755 });
  const ca = await TestCA.create(dir, "kompost-test-postgres-ca");
  const server = await ca.issue({
    name: "server",
    commonName: TLS_SERVER_NAME,
    altNames: [TLS_SERVER_NAME],
    usage: "server",
  });
  // PostgreSQL refuses a key that others can read or that another user owns.
  await chmod(server.keyPath, 0o600);
  await giveToServer(user, server.keyPath);
  await giveToServer(user, server.certPath);
  return { caPem: ca.ca.certPem, caPath: ca.ca.certPath, certPath: server.certPath, keyPath: server.keyPath };
}
