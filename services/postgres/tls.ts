import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import type { ConnectionOptions } from "node:tls";

/** How the server's certificate is checked: the CRD's `ssl.verify` values. */
export type SslVerify = "verify_none" | "verify_ca" | "verify_peer";

/** The `ssl` block of an instance spec. */
export interface SslSpec {
  readonly enabled: boolean;
  /** Absent means `verify_none`, as in the original Kompost. */
  readonly verify?: SslVerify;
  /** PEM certificates to trust; absent or blank means the system trust store. */
  readonly ca?: string;
}

/** The instance's TLS settings cannot be used as given; the message is fit for a status condition. */
export class TlsConfigError extends Error {
  override readonly name = "TlsConfigError";
}

/** Where Linux distributions keep the system trust store as one PEM bundle. */
export const SYSTEM_CA_BUNDLES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL, CentOS
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/ssl/cert.pem", // Alpine (LibreSSL), macOS
];

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Maps `spec.ssl` to the `ssl` option of `pg` (node's TLS options); throws
 * TlsConfigError when the CA is not PEM or `verify` is unknown.
 */
export function pgSslOptions(ssl: SslSpec | undefined, hostname: string): false | ConnectionOptions {
  if (!ssl?.enabled) return false;
  const verify: string = ssl.verify ?? "verify_none";
  switch (verify) {
    case "verify_none":
      return { rejectUnauthorized: false };
    case "verify_ca":
      return { rejectUnauthorized: true, ...trustedCas(ssl.ca), checkServerIdentity: () => undefined };
    case "verify_peer":
      // SNI must not carry an IP address (RFC 6066); node then checks the identity against `host`.
      return {
        rejectUnauthorized: true,
        ...trustedCas(ssl.ca),
        ...(net.isIP(hostname) ? {} : { servername: hostname }),
      };
    default:
      throw new TlsConfigError(`ssl.verify "${verify}" is not one of verify_none, verify_ca, verify_peer`);
  }
}

/** Splits a PEM bundle into its certificates, checking each; throws TlsConfigError when any part is not one. */
export function parseCaBundle(pem: string): string[] {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const certificates = blocks.filter((b) => b[1] === "CERTIFICATE").map((b) => b[0]);
  if (certificates.length === 0) {
    const found = blocks.map((b) => b[1]).join(", ");
    throw new TlsConfigError(
      `ssl.ca is not a PEM certificate: ${found ? `found ${found} but no CERTIFICATE block` : "no -----BEGIN CERTIFICATE----- block found"}`,
    );
  }
  const begins = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (begins !== certificates.length) {
    throw new TlsConfigError(`ssl.ca is not a PEM certificate: a -----BEGIN CERTIFICATE----- has no matching END line`);
  }
  certificates.forEach((certificate, index) => {
    try {
      new X509Certificate(certificate);
    } catch (err) {
      const which = certificates.length > 1 ? `certificate ${index + 1} of ${certificates.length}: ` : "";
      throw new TlsConfigError(`ssl.ca is not a PEM certificate: ${which}${(err as Error).message}`, { cause: err });
    }
  });
  return certificates;
}

let systemStore: readonly string[] | undefined;

/** The system trust store's certificates, read once per process; empty when none was found. */
export function systemCaCertificates(): readonly string[] {
  systemStore ??= loadSystemCaCertificates();
  return systemStore;
}

/**
 * Reads the system trust store: `SSL_CERT_FILE` if set, else node's own view of
 * the system store when it has one, else the first distribution bundle found.
 */
export function loadSystemCaCertificates(
  env: NodeJS.ProcessEnv = process.env,
  bundles: readonly string[] = SYSTEM_CA_BUNDLES,
): readonly string[] {
  if (env.SSL_CERT_FILE) return readBundle(env.SSL_CERT_FILE);
  // Node 22.15+ reads the store itself; the types of Node 20 do not know the function yet.
  const fromNode = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (fromNode) return fromNode("system");
  for (const bundle of bundles) {
    const certificates = readBundle(bundle);
    if (certificates.length > 0) return certificates;
  }
  return [];
}

/** The trusted certificates, and the TLS context built from them that every connection with them shares. */
interface TrustedCas {
  readonly ca?: string[];
  readonly secureContext: tls.SecureContext;
}

/** How many CA bundles keep their built context; an edited ssl.ca adds one, the oldest goes. */
const TRUSTED_CACHE_LIMIT = 32;
const trustedByBundle = new Map<string, TrustedCas>();

/**
 * The certificates `ca` names (blank: the system store), with their TLS context. Built once per
 * bundle, not per connection: a context of the system store's 140-odd roots costs about 20 ms of
 * CPU, one of a single CA about 1 ms, and every tenant database needs a new connection.
 */
function trustedCas(ca: string | undefined): TrustedCas {
  const key = ca !== undefined && ca.trim() !== "" ? ca : "";
  const known = trustedByBundle.get(key);
  if (known) return known;
  const certificates = key !== "" ? parseCaBundle(key) : [...systemCaCertificates()];
  // With no system store found, node's bundled roots (its default) are the best left.
  const trusted = certificates.length > 0 ? { ca: certificates } : {};
  const built: TrustedCas = { ...trusted, secureContext: tls.createSecureContext(trusted) };
  if (trustedByBundle.size >= TRUSTED_CACHE_LIMIT) trustedByBundle.delete(trustedByBundle.keys().next().value!);
  trustedByBundle.set(key, built);
  return built;
}

function readBundle(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return [...text.matchAll(PEM_BLOCK)].filter((b) => b[1] === "CERTIFICATE").map((b) => b[0]);
}
