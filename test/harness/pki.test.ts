import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { TestCA } from "./pki.js";

describe("test PKI", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), "kompost-pki-"))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it("issues a server certificate for names and addresses, signed by its CA", async () => {
    const ca = await TestCA.create(dir, "kompost-test-ca");
    const server = await ca.issue({
      name: "srv",
      commonName: "localhost",
      altNames: ["localhost", "127.0.0.1"],
      usage: "server",
    });
    const cert = new X509Certificate(server.certPem);
    expect(cert.verify(new X509Certificate(ca.ca.certPem).publicKey)).to.equal(true);
    expect(cert.subjectAltName).to.include("DNS:localhost").and.to.include("IP Address:127.0.0.1");
  });

  it("puts organizations in the subject of a client certificate", async () => {
    const ca = await TestCA.create(dir, "client-ca", "client-ca");
    const client = await ca.issue({
      name: "admin",
      commonName: "admin",
      organizations: ["system:masters"],
      usage: "client",
    });
    expect(new X509Certificate(client.certPem).subject).to.include("O=system:masters").and.to.include("CN=admin");
  });
});
