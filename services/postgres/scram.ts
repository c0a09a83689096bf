/**
 * SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677) in PostgreSQL's stored format, so
 * a password reaches the server only as a verifier the operator computed.
 *
 * The salted password takes 4096 rounds of PBKDF2, about 1 ms of CPU: it runs on libuv's
 * thread pool, never on the event loop, and a pair this process has proved (by making the
 * verifier or by matching it) is remembered, so each verification of an unchanged role is free.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { Counter } from "prom-client";
import { metricsRegistry } from "../../runtime/metrics.js";

const pbkdf2Async = promisify(pbkdf2);

/** PBKDF2 derivations run, for the CPU they cost (each verifier made or checked that was not remembered). */
export const scramDerivationsTotal = new Counter({
  name: "kompost_scram_derivations_total",
  help: "SCRAM-SHA-256 salted-password derivations (4096 rounds of PBKDF2 each) computed to make or check a verifier",
  registers: [metricsRegistry],
});

/** Iterations PostgreSQL uses by default (`scram_iterations`). */
export const SCRAM_ITERATIONS = 4096;

/** Salt length PostgreSQL uses, in bytes. */
export const SCRAM_SALT_BYTES = 16;

/** Options for `scramSha256Verifier`; both default to PostgreSQL's own choices. */
export interface VerifierOptions {
  readonly salt?: Buffer;
  readonly iterations?: number;
}

/** The verifier `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` for a password. */
export async function scramSha256Verifier(password: string, options: VerifierOptions = {}): Promise<string> {
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new Error(`while computing a SCRAM verifier: ${iterations} is not a valid iteration count`);
  }
  const { storedKey, serverKey } = await scramKeys(password, salt, iterations);
  const verifier = formatVerifier({ iterations, salt, storedKey, serverKey });
  provenPairs.remember(verifier, password);
  return verifier;
}

/** True if `verifier` is a SCRAM-SHA-256 verifier of `password` (recomputed with the verifier's salt and iterations, unless proved before). */
export async function verifierMatches(verifier: string, password: string): Promise<boolean> {
  if (provenPairs.has(verifier, password)) return true;
  const parsed = parseVerifier(verifier);
  if (parsed === undefined) return false;
  const { storedKey, serverKey } = await scramKeys(password, parsed.salt, parsed.iterations);
  const matches =
    storedKey.length === parsed.storedKey.length &&
    serverKey.length === parsed.serverKey.length &&
    timingSafeEqual(storedKey, parsed.storedKey) &&
    timingSafeEqual(serverKey, parsed.serverKey);
  if (matches) provenPairs.remember(verifier, password);
  return matches;
}

/**
 * The (verifier, password) pairs this process has proved to match, as keyed digests: no password
 * is kept. A pure cache of a deterministic function: a changed verifier or password is a new pair.
 * Bounded; the oldest pairs go first.
 */
class ProvenPairs {
  private readonly key = randomBytes(32);
  private readonly digests = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(verifier: string, password: string): boolean {
    return this.digests.has(this.digest(verifier, password));
  }

  remember(verifier: string, password: string): void {
    const digest = this.digest(verifier, password);
    this.digests.delete(digest);
    this.digests.add(digest);
    for (const oldest of this.digests) {
      if (this.digests.size <= this.capacity) break;
      this.digests.delete(oldest);
    }
  }

  private digest(verifier: string, password: string): string {
    return createHmac("sha256", this.key).update(verifier).update("\0").update(password).digest("base64");
  }
}

/** Two roles per database: room for 10,000 databases' current passwords. */
const provenPairs = new ProvenPairs(20_000);

/** The parts of a stored SCRAM-SHA-256 verifier. */
export interface ParsedVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** The stored form of a verifier's parts (the inverse of parseVerifier). */
export function formatVerifier({ iterations, salt, storedKey, serverKey }: ParsedVerifier): string {
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Splits a stored verifier into its parts; undefined if it is not one (e.g. an md5 hash or null). */
export function parseVerifier(verifier: string): ParsedVerifier | undefined {
  const match = /^SCRAM-SHA-256\$([0-9]{1,9}):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (match === null) return undefined;
  const [, iterations, salt, storedKey, serverKey] = match as unknown as [string, string, string, string, string];
  return {
    iterations: Number(iterations),
    salt: Buffer.from(salt, "base64"),
    storedKey: Buffer.from(storedKey, "base64"),
    serverKey: Buffer.from(serverKey, "base64"),
  };
}

/** StoredKey and ServerKey per RFC 5802 §3; also ClientKey, which a client-side check needs. */
export async function scramKeys(
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<{ readonly clientKey: Buffer; readonly storedKey: Buffer; readonly serverKey: Buffer }> {
  if (!/^\p{ASCII}*$/u.test(password)) {
    // PostgreSQL runs SASLprep on non-ASCII passwords; we do not, so we would compute a different verifier.
    throw new Error("while computing a SCRAM verifier: the password is not ASCII; use ASCII characters only");
  }
  scramDerivationsTotal.inc();
  const saltedPassword = await pbkdf2Async(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", saltedPassword).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", saltedPassword).update("Server Key").digest();
  return { clientKey, storedKey, serverKey };
}
