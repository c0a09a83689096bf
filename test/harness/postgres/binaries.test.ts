import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
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

  it("takes psql from PATH when PG_BIN has server binaries only, as hack/install-postgres.sh installs them", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "kompost-pgbin-"));
    try {
      for (const name of ["initdb", "pg_ctl"]) await writeFile(path.join(dir, name), "");
      expect(await findPgBinaries({ PG_BIN: dir })).to.deep.equal({
        binDir: dir,
        initdb: path.join(dir, "initdb"),
        pgCtl: path.join(dir, "pg_ctl"),
        psql: "psql",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
