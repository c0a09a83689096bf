import { execFile } from "node:child_process";
import { chown } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The account PostgreSQL runs as: the `postgres` system user when we are root, else ourselves. */
export interface ServerUser {
  /** Set only when we must switch users (we are root); PostgreSQL refuses to run as root. */
  readonly ids?: { readonly uid: number; readonly gid: number };
}

/** Decides which account runs initdb, pg_ctl and postgres. */
export async function serverUser(): Promise<ServerUser> {
  if (process.getuid?.() !== 0) return {};
  try {
    const [uid, gid] = await Promise.all([idOf("-u"), idOf("-g")]);
    return { ids: { uid, gid } };
  } catch (err) {
    throw new Error(
      "while looking up the postgres system user (PostgreSQL refuses to run as root): " +
        "install Debian's postgresql package (apt-get install postgresql), which creates it",
      { cause: err },
    );
  }
}

/** Hands a path we created to the server user, so the server may read or write it. */
export async function giveToServer(user: ServerUser, file: string): Promise<void> {
  if (user.ids) await chown(file, user.ids.uid, user.ids.gid);
}

/** Runs a PostgreSQL program as the server user; the error carries `what` and the program's stderr. */
export async function runAsServer(
  user: ServerUser,
  what: string,
  file: string,
  args: readonly string[],
  cwd: string,
): Promise<void> {
  try {
    await run(file, args, {
      cwd,
      // A clean environment: stray PG* variables or a locale the server lacks must not change the cluster.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" },
      ...(user.ids ?? {}),
    });
  } catch (err) {
    const output = err as { stderr?: string; stdout?: string };
    const detail = (output.stderr || output.stdout || String(err)).trim();
    throw new Error(`while ${what}: ${detail}`, { cause: err });
  }
}

async function idOf(flag: "-u" | "-g"): Promise<number> {
  const { stdout } = await run("id", [flag, "postgres"]);
  return Number(stdout.trim());
}
