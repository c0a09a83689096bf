import { randomBytes } from "node:crypto";
import pg from "pg";

/** A role name and its password. */
export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** What the bootstrap leaves behind: the two admin roles and the server's major version. */
export interface Bootstrap {
  readonly superuser: Credentials;
  readonly limitedAdmin: Credentials;
  readonly majorVersion: number;
}

const SUPERUSER = "kompost_super";
const LIMITED_ADMIN = "kompost_admin";

/** Creates the superuser and the limited admin (CREATEDB CREATEROLE) over the unix socket as `postgres`. */
export async function createAdmins(socketDir: string, port: number): Promise<Bootstrap> {
  const client = new pg.Client({ host: socketDir, port, user: "postgres", database: "postgres" });
  await client.connect().catch((err: unknown) => {
    throw bootstrapError(err);
  });
  try {
    // Keeps the harness's own passwords out of the log the tests search for leaked tenant passwords.
    await client.query("SET log_statement = 'none'");
    const superuser = { user: SUPERUSER, password: newPassword() };
    const limitedAdmin = { user: LIMITED_ADMIN, password: newPassword() };
    await client.query(
      `CREATE ROLE ${SUPERUSER} WITH LOGIN SUPERUSER PASSWORD ${client.escapeLiteral(superuser.password)}`,
    );
    await client.query(
      `CREATE ROLE ${LIMITED_ADMIN} WITH LOGIN NOSUPERUSER CREATEDB CREATEROLE PASSWORD ${client.escapeLiteral(limitedAdmin.password)}`,
    );
    const { rows } = await client.query<{ num: number }>(
      "SELECT pg_catalog.current_setting('server_version_num')::int AS num",
    );
    return { superuser, limitedAdmin, majorVersion: Math.floor(rows[0]!.num / 10000) };
  } catch (err) {
    throw bootstrapError(err);
  } finally {
    await client.end();
  }
}

function bootstrapError(err: unknown): Error {
  return new Error(`while creating the admin roles of the test PostgreSQL server: ${String(err)}`, { cause: err });
}

function newPassword(): string {
  return randomBytes(24).toString("base64url");
}
