import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PgCredentials, PostgresServer } from "../harness/postgres.js";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

/** Values for a fixture's `${name}` placeholders. */
export type FixtureValues = Readonly<Record<string, string | number>>;

/**
 * Reads test/e2e/fixtures/<file> and fills in its `${name}` placeholders, each as a JSON scalar
 * (which YAML reads back unchanged, multi-line PEM included); a placeholder without a value throws.
 */
export async function renderFixture(file: string, values: FixtureValues): Promise<string> {
  const template = await readFile(path.join(FIXTURES, file), "utf8");
  return template.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`while rendering fixture ${file}: no value for the placeholder "${name}"`);
    return JSON.stringify(value);
  });
}

/**
 * The placeholders that point an instance fixture at the test run's PostgreSQL as `admin`:
 * host name "localhost", since the server certificate names no IP address.
 */
export function serverValues(srv: PostgresServer, admin: PgCredentials): FixtureValues {
  return {
    hostname: srv.tlsServerName,
    port: srv.port,
    username: admin.user,
    passwordBase64: Buffer.from(admin.password).toString("base64"),
    ca: srv.caPem,
  };
}
