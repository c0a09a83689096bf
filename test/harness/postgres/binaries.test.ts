import { expect } from "chai";
import { findPgBinaries } from "./binaries.js";

describe("finding the PostgreSQL binaries", () => {
  it("fails with the install hint when PG_BIN holds no server binaries", async () => {
    const err = await findPgBinaries({ PG_BIN: "/nonexistent/postgresql/bin" }).then(
      () => new Error("expected findPgBinaries to fail"),
      (e: unknown) => e as Error,
    );
    expect(err.message).to.include("/nonexistent/postgresql/bin/initdb").and.to.include("apt-get install postgresql");
  });

  it("uses the directory PG_BIN names", async () => {
    const found = await findPgBinaries();
    const again = await findPgBinaries({ PG_BIN: found.binDir });
    expect(again).to.deep.equal(found);
  });
});
