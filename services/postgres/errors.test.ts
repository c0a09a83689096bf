import { expect } from "chai";
import pg from "pg";
import { PostgresOperationError, UserFixableError, classify, redact, sqlStateOf, whileDoing } from "./errors.js";
import { scramSha256Verifier } from "./scram.js";

function databaseError(code: string, message: string): pg.DatabaseError {
  const err = new pg.DatabaseError(message, message.length, "error");
  err.code = code;
  return err;
}

describe("errors", () => {
  it("turns SQLSTATEs a user can fix into a typed error with a reason and context", () => {
    const err = classify(databaseError("42P04", 'database "x" already exists'), 'while creating database "x"');
    expect(err).to.be.instanceOf(UserFixableError);
    expect((err as UserFixableError).reason).to.equal("DuplicateObject");
    expect(err.message).to.equal('while creating database "x": database "x" already exists');
  });

  it("wraps other errors as operation errors that keep the cause", () => {
    const cause = new Error("connect ECONNREFUSED 127.0.0.1:5432");
    const err = classify(cause, "while dropping role r");
    expect(err).to.be.instanceOf(PostgresOperationError);
    expect(err.message).to.equal("while dropping role r: connect ECONNREFUSED 127.0.0.1:5432");
    expect(err.cause).to.equal(cause);
  });

  it("passes its own errors on unchanged", async () => {
    const inner = new UserFixableError("InvalidParameter", "while checking params", "bad");
    const caught = await whileDoing("while ensuring database d", () => Promise.reject(inner)).catch((e: unknown) => e);
    expect(caught).to.equal(inner);
  });

  it("finds the SQLSTATE of a PostgreSQL error through wrappers", () => {
    const wrapped = new Error("while connecting", { cause: databaseError("28P01", "password authentication failed") });
    expect(sqlStateOf(wrapped)).to.equal("28P01");
    expect(sqlStateOf(classify(databaseError("55006", "in use"), "while dropping"))).to.equal("55006");
    expect(sqlStateOf(new Error("plain"))).to.equal(undefined);
  });

  it("never lets a verifier or a given secret into a message", async () => {
    const verifier = await scramSha256Verifier("hunter2-secret");
    const err = classify(
      databaseError("42601", `syntax error at or near "'${verifier}'" near hunter2-secret`),
      "while creating role r",
      ["hunter2-secret"],
    );
    expect(err.message).to.not.include(verifier).and.not.include("hunter2-secret");
    expect(err.message).to.include("SCRAM-SHA-256$<redacted>");
    expect(redact("plain text")).to.equal("plain text");
  });
});
