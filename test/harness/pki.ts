import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its private key, as PEM files on disk. */
export interface KeyPair {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a leaf certificate is for and whom it names. */
export interface CertRequest {
  /** File name stem inside the CA's directory: `<name>.crt`, `<name>.key`. */
  readonly name: string;
  readonly commonName: string;
  /** Becomes the subject's O= entries (Kubernetes reads them as groups). */
  readonly organizations?: readonly string[];
  /** DNS names and IP addresses; given, the certificate is for a server. */
  readonly altNames?: readonly string[];
  readonly usage: "server" | "client";
}

/** A throw-away certificate authority that lives in one directory. */
export class TestCA {
  private constructor(
    readonly dir: string,
    readonly ca: KeyPair,
  ) {}

  /** Creates a self-signed CA (EC P-256, valid one day) in `dir`. */
  static async create(dir: string, commonName: string, name = "ca"): Promise<TestCA> {
    const keyPath = path.join(dir, `${name}.key`);
    const certPath = path.join(dir, `${name}.crt`);
    await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyPath]);
    await openssl([
      "req",
      "-x509",
      "-new",
      "-key",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return new TestCA(dir, await readPair(certPath, keyPath));
  }

  /** Issues a leaf certificate signed by this CA. */
  async issue(request: CertRequest): Promise<KeyPair> {
    const keyPath = path.join(this.dir, `${request.name}.key`);
    const csrPath = path.join(this.dir, `${request.name}.csr`);
    const certPath = path.join(this.dir, `${request.name}.crt`);
    const extPath = path.join(this.dir, `${request.name}.ext`);
    const subject = ["", ...(request.organizations ?? []).map((o) => `O=${o}`), `CN=${request.commonName}`].join("/");
    const ext = [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${request.usage === "server" ? "serverAuth" : "clientAuth"}`,
    ];
    if (request.altNames?.length) {
      ext.push(
        `subjectAltName=${request.altNames.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",")}`,
      );
    }
    await writeFile(extPath, ext.join("\n") + "\n");
    await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyPath]);
    await openssl(["req", "-new", "-key", keyPath, "-out", csrPath, "-subj", subject]);
    await openssl([
      "x509",
      "-req",
      "-in",
      csrPath,
      "-CA",
      this.ca.certPath,
      "-CAkey",
      this.ca.keyPath,
      "-CAcreateserial",
      "-out",
      certPath,
      "-days",
      "1",
      "-extfile",
      extPath,
    ]);
    return readPair(certPath, keyPath);
  }
}

/** Creates an RSA key pair (for service-account token signing). */
export async function rsaKeyPair(dir: string, name: string): Promise<{ privatePath: string; publicPath: string }> {
  const privatePath = path.join(dir, `${name}.key`);
  const publicPath = path.join(dir, `${name}.pub`);
  await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privatePath]);
  await openssl(["pkey", "-in", privatePath, "-pubout", "-out", publicPath]);
  return { privatePath, publicPath };
}

async function readPair(certPath: string, keyPath: string): Promise<KeyPair> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
  return { certPath, keyPath, certPem, keyPem };
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}
