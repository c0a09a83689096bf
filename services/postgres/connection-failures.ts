/**
 * Why a connect to an instance failed, as a condition reason and in short, user-facing words
 * that name the server and never the password.
 */
import pg from "pg";
import type { ConnectionSettings, InstanceConnectionSpec } from "./connection-spec.js";
import { DEFAULT_CONNECTION_SETTINGS } from "./connection-spec.js";
import { InsecurePasswordAuthError } from "./password-guard.js";
import { TlsConfigError } from "./tls.js";

/** What went wrong while connecting, as a condition reason. */
export type ConnectionFailureReason =
  | "InvalidTLSConfig"
  | "Unreachable"
  | "Timeout"
  | "TLSFailed"
  | "AuthenticationFailed"
  | "InsecurePasswordAuth"
  | "ConnectionFailed";

/** Connecting to an instance failed; the message names the instance and carries the server's or network's words. */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
  /** When a connect to the instance is tried again: the end of its connect cool-down, when one holds. */
  readonly retryAfterMs?: number;

  constructor(
    readonly reason: ConnectionFailureReason,
    message: string,
    /** The SQLSTATE when the server refused us (28P01, 28000, ...). */
    readonly sqlState?: string,
    options?: ErrorOptions & { readonly retryAfterMs?: number },
  ) {
    super(message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** Turns a failure to connect into a classed ConnectionError in short, user-facing words without the password. */
export function connectionError(
  err: unknown,
  spec: InstanceConnectionSpec,
  settings: ConnectionSettings = DEFAULT_CONNECTION_SETTINGS,
): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const where = `${spec.hostname}:${spec.port}`;
  const [reason, text, sqlState] = describeFailure(err, where, settings);
  const message = redact(text, spec.password);
  return new ConnectionError(reason, message, sqlState, message === text ? { cause: err } : undefined);
}

/** True for a connect failure that says the server is not there or not answering (not a busy pool, not a refusal). */
export function meansNoServer(err: unknown, spec: InstanceConnectionSpec, settings: ConnectionSettings): boolean {
  if (isPoolBusy(err)) return false;
  const reason = connectionError(err, spec, settings).reason;
  return reason === "Unreachable" || reason === "Timeout";
}

/** True when the wait for a free pooled connection ran out: that says nothing about the server. */
export function isPoolBusy(err: unknown): boolean {
  return err instanceof Error && err.message === POOL_BUSY_MESSAGE;
}

type Description = [reason: ConnectionFailureReason, text: string, sqlState?: string];

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);
const TIMEOUT_MESSAGES = new Set(["timeout expired", "Connection terminated due to connection timeout"]);
const POOL_BUSY_MESSAGE = "timeout exceeded when trying to connect";

function describeFailure(err: unknown, where: string, settings: ConnectionSettings): Description {
  if (err instanceof TlsConfigError) return ["InvalidTLSConfig", err.message];
  if (err instanceof InsecurePasswordAuthError) return ["InsecurePasswordAuth", `${where}: ${err.message}`];
  if (!(err instanceof Error)) return ["ConnectionFailed", `connecting to ${where} failed: ${String(err)}`];
  if (err instanceof pg.DatabaseError) {
    const reason = err.code?.startsWith("28") ? "AuthenticationFailed" : "ConnectionFailed";
    const hint = /no encryption$/.test(err.message) ? "; the server wants TLS: set spec.ssl.enabled" : "";
    return [reason, `${where}: ${err.message} (SQLSTATE ${err.code ?? "unknown"})${hint}`, err.code];
  }
  const code = (err as NodeJS.ErrnoException).code ?? "";
  if (NETWORK_CODES.has(code))
    return ["Unreachable", err.message.includes(where) ? err.message : `${where}: ${err.message}`];
  if (isPoolBusy(err)) {
    const wait = `${settings.connectionTimeoutMillis} ms`;
    return [
      "Timeout",
      `${where}: all ${settings.maxConnections} connections were busy and none came free within ${wait}`,
    ];
  }
  if (code === "ETIMEDOUT" || TIMEOUT_MESSAGES.has(err.message)) {
    return ["Timeout", `${where}: no answer within ${settings.connectionTimeoutMillis} ms (${err.message})`];
  }
  // node ends its host-name complaint with an empty list separator: "... is not in the cert's list: ".
  if (isTlsError(err, code)) return ["TLSFailed", `${where}: TLS: ${err.message.replace(/[:\s]+$/, "")}`];
  if (err.message === "Connection terminated unexpectedly") {
    return ["ConnectionFailed", `${where}: the server closed the connection unexpectedly`];
  }
  return ["ConnectionFailed", `${where}: ${err.message}`];
}

function isTlsError(err: Error, code: string): boolean {
  return (
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL") ||
    /CERT|SELF_SIGNED|UNABLE_TO|VERIFY/.test(code) ||
    /SSL/.test(err.message) // pg: "The server does not support SSL connections"
  );
}

function redact(text: string, password: string): string {
  // Very short passwords would blank out ordinary words; no message we build contains one anyway.
  return password.length >= 4 ? text.replaceAll(password, "<redacted>") : text;
}
