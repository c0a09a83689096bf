import { access, readdir } from "node:fs/promises";
import path from "node:path";

const DEBIAN_ROOT = "/usr/lib/postgresql";
const INSTALL_HINT = "install Debian's postgresql package (apt-get install postgresql)";

/** Where the PostgreSQL server binaries live and which major version they are. */
export interface PgBinaries {
  readonly binDir: string;
  readonly initdb: string;
  readonly pgCtl: string;
  /** psql from `binDir`, or the one on PATH (Debian's postgresql-client) when `binDir` has none. */
  readonly psql: string;
}

/**
 * Finds the server binaries: `PG_BIN` if set (e.g. from hack/install-postgres.sh), else the
 * highest version under /usr/lib/postgresql.
 */
export async function findPgBinaries(env: NodeJS.ProcessEnv = process.env): Promise<PgBinaries> {
  const binDir = env.PG_BIN ? env.PG_BIN : await highestDebianBinDir();
  if (!binDir) {
    throw new Error(`while looking for PostgreSQL server binaries under ${DEBIAN_ROOT}: none found; ${INSTALL_HINT}`);
  }
  const psql = path.join(binDir, "psql");
  const binaries = {
    binDir,
    initdb: path.join(binDir, "initdb"),
    pgCtl: path.join(binDir, "pg_ctl"),
    psql: (await exists(psql)) ? psql : "psql",
  };
  for (const file of [binaries.initdb, binaries.pgCtl]) {
    if (!(await exists(file))) {
      throw new Error(
        `while looking for PostgreSQL server binaries: ${file} is missing; set PG_BIN or ${INSTALL_HINT}`,
      );
    }
  }
  return binaries;
}

async function highestDebianBinDir(): Promise<string | undefined> {
  const versions = await readdir(DEBIAN_ROOT).catch(() => [] as string[]);
  const numbered = versions.filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const version of numbered) {
    const binDir = path.join(DEBIAN_ROOT, version, "bin");
    if (await exists(path.join(binDir, "initdb"))) return binDir;
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
