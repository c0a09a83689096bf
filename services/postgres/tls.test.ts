import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { TestCA } from "../../test/harness/pki.js";
import type { SslSpec } from "./tls.js";
import { loadSystemCaCertificates, parseCaBundle, pgSslOptions, systemCaCertificates, TlsConfigError } from "./tls.js";

describe("TLS options for PostgreSQL connections", () => {
  let dir: string;
  let caPem: string;
  let otherCaPem: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-tls-"));
    caPem = (await TestCA.create(dir, "tls-test-ca", "one")).ca.certPem;
    otherCaPem = (await TestCA.create(dir, "tls-other-ca", "two")).ca.certPem;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  function optionsFor(ssl: SslSpec | undefined, hostname = "db.example.org"): tls.ConnectionOptions {
    const options = pgSslOptions(ssl, hostname);
    if (options === false) throw new Error("expected TLS options, got false");
    return options;
  }

  describe("mapping spec.ssl", () => {
    it("turns TLS off when ssl is absent or disabled", () => {
      expect(pgSslOptions(undefined, "db")).to.equal(false);
      expect(pgSslOptions({ enabled: false, verify: "verify_peer", ca: caPem }, "db")).to.equal(false);
    });

    it("encrypts without checking anything under verify_none", () => {
      const options = optionsFor({ enabled: true, verify: "verify_none", ca: caPem });
      expect(options).to.deep.equal({ rejectUnauthorized: false });
    });

    it("treats an enabled ssl without verify as verify_none, as the original did", () => {
      expect(optionsFor({ enabled: true })).to.deep.equal({ rejectUnauthorized: false });
    });

    it("checks the chain against the given CA but not the host name under verify_ca", () => {
      const options = optionsFor({ enabled: true, verify: "verify_ca", ca: caPem });
      expect(options.rejectUnauthorized).to.equal(true);
      expect(options.ca).to.deep.equal([caPem.trim()]);
      expect(options.checkServerIdentity).to.be.a("function");
      expect(options.checkServerIdentity!("db.example.org", {} as tls.PeerCertificate)).to.equal(undefined);
    });

    it("builds the TLS context of a CA bundle once and shares it between connections, one per bundle", () => {
      const one = optionsFor({ enabled: true, verify: "verify_ca", ca: caPem });
      const again = optionsFor({ enabled: true, verify: "verify_peer", ca: caPem }, "db.example.org");
      const other = optionsFor({ enabled: true, verify: "verify_ca", ca: otherCaPem });
      const system = optionsFor({ enabled: true, verify: "verify_peer" }, "db.example.org");
      expect(one.secureContext).to.be.an("object").and.to.equal(again.secureContext);
      expect(other.secureContext).to.be.an("object").and.not.to.equal(one.secureContext);
      expect(system.secureContext).to.be.an("object").and.not.to.equal(one.secureContext);
      expect(optionsFor({ enabled: true, verify: "verify_ca", ca: "  \n" }).secureContext).to.equal(
        system.secureContext,
      );
    });

    it("checks the chain and the host name under verify_peer, naming the host for SNI", () => {
      const options = optionsFor({ enabled: true, verify: "verify_peer", ca: caPem }, "db.example.org");
      expect(options.rejectUnauthorized).to.equal(true);
      expect(options.ca).to.deep.equal([caPem.trim()]);
      expect(options.checkServerIdentity).to.equal(undefined);
      expect(options.servername).to.equal("db.example.org");
    });

    it("sends no SNI for an IP address under verify_peer", () => {
      const options = optionsFor({ enabled: true, verify: "verify_peer", ca: caPem }, "127.0.0.1");
      expect(options).not.to.have.property("servername");
      expect(options.rejectUnauthorized).to.equal(true);
    });

    it("trusts the system store when no CA is given", () => {
      const options = optionsFor({ enabled: true, verify: "verify_peer" });
      const system = systemCaCertificates();
      expect(system.length, "system trust store on this machine").to.be.greaterThan(0);
      expect(options.ca).to.deep.equal([...system]);
    });

    it("treats a blank CA as no CA", () => {
      const options = optionsFor({ enabled: true, verify: "verify_ca", ca: "  \n" });
      expect(options.ca).to.deep.equal([...systemCaCertificates()]);
    });

    it("rejects an unknown verify value with a typed error", () => {
      const ssl = { enabled: true, verify: "verify_maybe" } as unknown as SslSpec;
      expect(() => pgSslOptions(ssl, "db")).to.throw(TlsConfigError, 'ssl.verify "verify_maybe" is not one of');
    });

    it("reports an unparsable CA as a typed error when the mode needs it", () => {
      const ssl: SslSpec = { enabled: true, verify: "verify_peer", ca: "not a certificate" };
      expect(() => pgSslOptions(ssl, "db")).to.throw(TlsConfigError, "ssl.ca is not a PEM certificate");
    });
  });

  describe("parsing a CA bundle", () => {
    it("splits a bundle into its certificates", () => {
      const bundle = `# our CAs\n${caPem}\nsome comment\n${otherCaPem}`;
      expect(parseCaBundle(bundle)).to.deep.equal([caPem.trim(), otherCaPem.trim()]);
    });

    it("says that no certificate block was found in plain text", () => {
      expect(() => parseCaBundle("hello")).to.throw(
        TlsConfigError,
        "ssl.ca is not a PEM certificate: no -----BEGIN CERTIFICATE----- block found",
      );
    });

    it("names the kind of block it found instead of a certificate", () => {
      const key = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
      expect(() => parseCaBundle(key)).to.throw(TlsConfigError, "found PRIVATE KEY but no CERTIFICATE block");
    });

    it("reports a certificate whose body is not valid DER, with the parser's words", () => {
      const broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
      let error: unknown;
      try {
        parseCaBundle(broken);
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(TlsConfigError);
      expect((error as Error).message).to.match(/^ssl\.ca is not a PEM certificate: \S/);
    });

    it("names which certificate of a bundle is broken", () => {
      const broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
      expect(() => parseCaBundle(caPem + broken)).to.throw(TlsConfigError, "certificate 2 of 2");
    });

    it("reports a certificate that lacks its END line", () => {
      const cut = caPem + "-----BEGIN CERTIFICATE-----\nMIIB\n";
      expect(() => parseCaBundle(cut)).to.throw(TlsConfigError, "has no matching END line");
    });
  });

  describe("the system trust store", () => {
    it("honours SSL_CERT_FILE", async () => {
      const file = path.join(dir, "custom-bundle.pem");
      await writeFile(file, caPem + otherCaPem);
      expect(loadSystemCaCertificates({ SSL_CERT_FILE: file })).to.deep.equal([caPem.trim(), otherCaPem.trim()]);
    });

    it("reads the first distribution bundle that exists", async function () {
      if ((tls as { getCACertificates?: unknown }).getCACertificates) this.skip(); // node reads the store itself
      const file = path.join(dir, "distro-bundle.crt");
      await writeFile(file, otherCaPem);
      const found = loadSystemCaCertificates({}, [path.join(dir, "missing.crt"), file]);
      expect(found).to.deep.equal([otherCaPem.trim()]);
    });
  });
});
