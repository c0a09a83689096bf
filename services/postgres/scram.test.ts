import { expect } from "chai";
import { createHash, createHmac, randomBytes } from "node:crypto";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../test/harness/postgres.js";
import {
  formatVerifier,
  parseVerifier,
  scramDerivationsTotal,
  scramKeys,
  scramSha256Verifier,
  verifierMatches,
} from "./scram.js";
import { quoteIdent, quoteLiteral } from "./sql.js";

describe("scramSha256Verifier", () => {
  it("yields keys that complete RFC 7677's example exchange (user, pencil)", async () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const parsed = parseVerifier(await scramSha256Verifier("pencil", { salt, iterations: 4096 }))!;
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const authMessage =
      "n=user,r=rOprNGfwEbeRWgbNEkqO," + `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,` + `c=biws,r=${nonce}`;
    const serverSignature = createHmac("sha256", parsed.serverKey).update(authMessage).digest("base64");
    expect(serverSignature).to.equal("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    // ClientKey = ClientProof XOR ClientSignature, and StoredKey must be its hash.
    const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
    const clientSignature = createHmac("sha256", parsed.storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
    expect(createHash("sha256").update(clientKey).digest().equals(parsed.storedKey)).to.equal(true);
  });

  it("uses 4096 iterations and a fresh 16-byte salt by default", async () => {
    const a = parseVerifier(await scramSha256Verifier("same"))!;
    const b = parseVerifier(await scramSha256Verifier("same"))!;
    expect(a.iterations).to.equal(4096);
    expect(a.salt).to.have.lengthOf(16);
    expect(a.salt.equals(b.salt)).to.equal(false);
  });

  it("matches its own password and no other", async () => {
    const verifier = await scramSha256Verifier("right-password");
    expect(await verifierMatches(verifier, "right-password")).to.equal(true);
    expect(await verifierMatches(verifier, "wrong-password")).to.equal(false);
    expect(await verifierMatches("md5abcdef", "right-password")).to.equal(false);
  });

  it("checks a pair it has proved once without deriving again, and any changed pair afresh", async () => {
    const made = await scramSha256Verifier("remembered");
    const foreign = await verifierNotMadeHere("remembered");
    const before = await derivations();
    expect(await verifierMatches(made, "remembered")).to.equal(true);
    expect(await derivations(), "a verifier it made").to.equal(before);
    expect(await verifierMatches(foreign, "remembered")).to.equal(true);
    expect(await verifierMatches(foreign, "remembered")).to.equal(true);
    expect(await derivations(), "a verifier made elsewhere: derived once").to.equal(before + 1);
    expect(await verifierMatches(made, "changed")).to.equal(false);
    expect(await verifierMatches(made, "changed")).to.equal(false);
    expect(await derivations(), "a wrong password: derived every time").to.equal(before + 3);
  });

  it("derives off the event loop, so other work goes on meanwhile", async () => {
    let ticked = false;
    setTimeout(() => (ticked = true), 0);
    const verifier = scramSha256Verifier("slow", { iterations: 400_000 });
    expect(ticked).to.equal(false);
    await verifier;
    expect(ticked, "a timer ran while the verifier was derived").to.equal(true);
  });

  it("refuses a non-ASCII password rather than compute a verifier the server would not", async () => {
    const refused = await scramKeys("pässword", Buffer.alloc(16), 4096).catch((err: unknown) => err);
    expect(refused)
      .to.be.instanceOf(Error)
      .with.property("message")
      .that.matches(/not ASCII/);
  });
});

async function derivations(): Promise<number> {
  return (await scramDerivationsTotal.get()).values[0]?.value ?? 0;
}

/** A verifier of `password` computed from the keys directly, as another client would: not one this process made. */
async function verifierNotMadeHere(password: string): Promise<string> {
  const salt = randomBytes(16);
  return formatVerifier({ iterations: 4096, salt, ...(await scramKeys(password, salt, 4096)) });
}

describe("scramSha256Verifier against PostgreSQL", () => {
  let srv: PostgresServer;
  let admin: pg.Client;
  const role = `d_scram_${process.pid}`;

  before(async () => {
    srv = await postgres();
    admin = await srv.connect();
  });
  after(async () => {
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
    await admin.end();
  });

  it("computes exactly the verifier the server stores for a clear-text password", async () => {
    const password = "server-side-hashed password with 'quotes'";
    await admin.query("SET password_encryption = 'scram-sha-256'");
    await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)}`);
    const { rows } = await admin.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1",
      [role],
    );
    const stored = rows[0]!.rolpassword;
    const { salt, iterations } = parseVerifier(stored)!;
    expect(await verifierMatches(stored, password)).to.equal(true);
    expect(await scramSha256Verifier(password, { salt, iterations })).to.equal(stored);
  });

  it("sets a verifier the server accepts for the password and for no other", async () => {
    await admin.query(
      `ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(await scramSha256Verifier("via-verifier"))}`,
    );
    const client = await srv.connect({ user: role, password: "via-verifier" });
    await client.end();
    const refused = await srv.connect({ user: role, password: "not-it" }).catch((err: unknown) => err);
    expect(refused).to.have.property("code", "28P01");
  });
});
