import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { conninfoValue, databaseSecret, psqlLine, shellQuote } from "./psql-line.js";

const run = promisify(execFile);

/** What a shell passes to psql for `line`: PGPASSWORD, then each argument, one per line. */
async function argumentsOf(line: string): Promise<string[]> {
  const fakePsql = `psql() { printf '%s\\n' "$PGPASSWORD" "$@"; }`;
  const { stdout } = await run("bash", ["-c", `${fakePsql}\n${line}`]);
  return stdout.split("\n").slice(0, -1);
}

describe("psqlLine", () => {
  const secret = {
    DB_HOST: "localhost",
    DB_PORT: "5432",
    DB_NAME: "team_a_staging",
    DB_USER: "team_a_staging_app",
    DB_PASS: "pa'ss\"$(rm -rf /)`x` \\ word",
  };

  it("connects with full TLS verification against the CA file", () => {
    expect(psqlLine({ ...secret, DB_PASS: "plain" }, "/repo/.kompost/dev/ca.pem")).to.equal(
      "PGPASSWORD=plain psql 'host=localhost port=5432 dbname=team_a_staging user=team_a_staging_app " +
        "sslmode=verify-full sslrootcert=/repo/.kompost/dev/ca.pem'",
    );
  });

  it("hands a shell the password and the connection string exactly, whatever they contain", async () => {
    const args = await argumentsOf(psqlLine(secret, "/dir with space/it's/ca.pem"));
    expect(args).to.deep.equal([
      secret.DB_PASS,
      "host=localhost port=5432 dbname=team_a_staging user=team_a_staging_app sslmode=verify-full " +
        "sslrootcert='/dir with space/it\\'s/ca.pem'",
    ]);
  });

  it("quotes libpq values only when they need it", () => {
    expect(conninfoValue("plain")).to.equal("plain");
    expect(conninfoValue("")).to.equal("''");
    expect(conninfoValue("a b")).to.equal("'a b'");
    expect(conninfoValue("it's\\")).to.equal("'it\\'s\\\\'");
  });

  it("quotes shell words only when they need it", () => {
    expect(shellQuote("abc-1.2/x=y")).to.equal("abc-1.2/x=y");
    expect(shellQuote("a b")).to.equal("'a b'");
    expect(shellQuote("it's")).to.equal("'it'\\''s'");
    expect(shellQuote("")).to.equal("''");
  });
});

describe("databaseSecret", () => {
  it("decodes the keys a psql line needs from a Secret's data", () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const data = { DB_HOST: b64("h"), DB_PORT: b64("1"), DB_NAME: b64("d"), DB_USER: b64("u"), DB_PASS: b64("p") };
    expect(databaseSecret("s", { ...data, DB_SSL: b64("true") })).to.deep.equal({
      DB_HOST: "h",
      DB_PORT: "1",
      DB_NAME: "d",
      DB_USER: "u",
      DB_PASS: "p",
    });
  });

  it("names the keys a Secret lacks", () => {
    expect(() => databaseSecret("psql-x-app", { DB_HOST: "aA==" })).to.throw(
      "while reading the Secret psql-x-app: it has no DB_PORT, DB_NAME, DB_USER, DB_PASS",
    );
  });
});
