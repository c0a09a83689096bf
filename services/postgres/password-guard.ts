/**
 * Keeps a password from leaving in clear. node-postgres answers a server's
 * AuthenticationCleartextPassword request with the password itself and an MD5
 * request with a hash anyone on the path can replay or crack; only SCRAM proves
 * the password without revealing it. A PasswordGuardedClient refuses the first two
 * (failing the connect and hanging up before anything is sent) unless the channel
 * is TLS with a verified server certificate or the instance opted in.
 */
import pg from "pg";

/** A password request that would reveal the password (or an MD5 hash of it) to the server or the path. */
export type InsecurePasswordMethod = "cleartext" | "md5";

/** What a connection needs to know to decide whether a cleartext or MD5 request may be answered. */
export interface PasswordPolicySpec {
  readonly ssl?: { readonly enabled: boolean; readonly verify?: string };
  readonly allowInsecurePasswordAuth?: boolean;
}

/** The server asked for the password in a form Kompost does not send; the message says how to fix it. */
export class InsecurePasswordAuthError extends Error {
  override readonly name = "InsecurePasswordAuthError";

  constructor(readonly method: InsecurePasswordMethod) {
    const asked = method === "cleartext" ? "the password in clear text" : "an MD5 password hash";
    super(
      `the server asked for ${asked} and Kompost did not send it: let the server authenticate this role by scram-sha-256 (pg_hba.conf, and a SCRAM password_encryption for its password), or connect over TLS with spec.ssl.verify verify_ca or verify_peer, or set spec.allowInsecurePasswordAuth: true to accept the risk`,
    );
  }
}

/** Whether a cleartext or MD5 password request may be answered: over verified TLS, or when the instance opted in. */
export function allowsInsecurePasswordAuth(spec: PasswordPolicySpec): boolean {
  if (spec.allowInsecurePasswordAuth === true) return true;
  const verify = spec.ssl?.verify;
  return spec.ssl?.enabled === true && (verify === "verify_ca" || verify === "verify_peer");
}

/** A `pg` client config plus the password policy of its connection. */
export type GuardedClientConfig = pg.ClientConfig & {
  /** When false (the default), a cleartext or MD5 password request fails the connect. */
  readonly allowInsecurePasswordAuth?: boolean;
};

/**
 * A pg.Client that gives its password only to a SCRAM exchange unless allowed otherwise.
 * pg asks for the password through a function after the authentication request came in;
 * listeners on the connection, attached here before pg's own, note which request it was.
 * Usable as pg.Pool's `Client`: the pool passes its options (the policy included) on.
 */
export class PasswordGuardedClient extends pg.Client {
  private insecureRequest: InsecurePasswordMethod | undefined;

  constructor(config: GuardedClientConfig = {}) {
    const { allowInsecurePasswordAuth = false, password, ...rest } = config;
    const holder: { client?: PasswordGuardedClient } = {};
    super({ ...rest, password: () => holder.client!.releasePassword(password, allowInsecurePasswordAuth) });
    holder.client = this;
    this.connection.on("authenticationCleartextPassword", () => (this.insecureRequest = "cleartext"));
    this.connection.on("authenticationMD5Password", () => (this.insecureRequest = "md5"));
  }

  private async releasePassword(password: GuardedClientConfig["password"], allowInsecure: boolean): Promise<string> {
    if (this.insecureRequest !== undefined && !allowInsecure) {
      const refused = new InsecurePasswordAuthError(this.insecureRequest);
      // Fail the connect with our error first, then hang up: pg never gets a password to send.
      this.connection.emit("error", refused);
      this.connection.stream.destroy();
      throw refused;
    }
    const value = typeof password === "function" ? await password() : password;
    return value ?? "";
  }
}
