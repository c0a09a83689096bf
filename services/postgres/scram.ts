/**
 * SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677) in PostgreSQL's stored format, so
 * a password reaches the server only as a verifier the operator computed.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

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
export function scramSha256Verifier(password: string, options: VerifierOptions = {}): string {
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new Error(`while computing a SCRAM verifier: ${iterations} is not a valid iteration count`);
  }
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** True if `verifier` is a SCRAM-SHA-256 verifier of `password` (recomputed with the verifier's salt and iterations). */
export function verifierMatches(verifier: string, password: string): boolean {
  const parsed = parseVerifier(verifier);
  if (parsed === undefined) return false;
  const { storedKey, serverKey } = scramKeys(password, parsed.salt, parsed.iterations);
  return (
    storedKey.length === parsed.storedKey.length &&
    serverKey.length === parsed.serverKey.length &&
    timingSafeEqual(storedKey, parsed.storedKey) &&
    timingSafeEqual(serverKey, parsed.serverKey)
  );
}

/** The parts of a stored SCRAM-SHA-256 verifier. */
export interface ParsedVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
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
export function scramKeys(
  password: string,
  salt: Buffer,
  iterations: number,
): { readonly clientKey: Buffer; readonly storedKey: Buffer; readonly serverKey: Buffer } {
  if (!/^\p{ASCII}*$/u.test(password)) {
    // PostgreSQL runs SASLprep on non-ASCII passwords; we do not, so we would compute a different verifier.
    throw new Error("while computing a SCRAM verifier: the password is not ASCII; use ASCII characters only");
  }
  const saltedPassword = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", saltedPassword).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", saltedPassword).update("Server Key").digest();
  return { clientKey, storedKey, serverKey };
}
