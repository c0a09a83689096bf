/**
 * A test hook for crash safety: named points between two statements that create or drop
 * something. FOR TESTS ONLY. With `KOMPOST_FAULT_POINT=<name>` in its environment the
 * process kills itself with SIGKILL (no clean-up, no flushing, as an OOM kill or a lost
 * node would) the first time it reaches that point; tests in the same process can pause
 * there with `setFaultHook`. Unset, a point costs one comparison.
 */

/** Every fault point, in the order a PostgresDatabase meets them. */
export const FAULT_POINTS = [
  /** The finalizer was just added; nothing exists on the server yet. */
  "finalizer-added",
  /** CREATE DATABASE has run; the database is not yet marked, locked down or open. */
  "database-created",
  /** The database is complete (marked, PUBLIC revoked, open, final name); no role yet. */
  "database-finished",
  /** A connection Secret was just written; its role is not yet created or updated. */
  "secret-written",
  /** A role was just created (with its marker); the next step has not run. */
  "role-created",
  /** The grant set was just applied; the status does not say so yet. */
  "grants-applied",
  /** A database (final or pending) was just dropped; its roles are still there. */
  "database-dropped",
  /** A role's login was taken away and its sessions and grants elsewhere cleared; the role itself is still there. */
  "role-released",
  /** A role was just dropped; the other role may still be there. */
  "role-dropped",
  /** Everything on the server is dropped; the finalizer is still on the resource. */
  "cleaned-up",
] as const;

/** The name of a fault point. */
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** The environment variable that arms a fault point in a process. */
export const FAULT_POINT_ENV = "KOMPOST_FAULT_POINT";

/** Runs at a fault point, in tests of the same process: resolves to let the operator go on. */
export type FaultHook = (point: FaultPoint) => Promise<void>;

const armed = process.env[FAULT_POINT_ENV];
let hook: FaultHook | undefined;

/** Installs (or, with undefined, removes) the in-process hook; for tests only. */
export function setFaultHook(next: FaultHook | undefined): void {
  hook = next;
}

/** Marks a fault point: kills the process there when armed, awaits the test hook when set, else returns at once. */
export async function faultPoint(point: FaultPoint): Promise<void> {
  if (armed === point) {
    // A synchronous write (pipes and files are synchronous for stderr), so the test sees where the process died.
    process.stderr.write(`${FAULT_POINT_ENV}: killing the process at fault point "${point}"\n`);
    process.kill(process.pid, "SIGKILL");
    // The signal may take a moment to land: nothing after this point may run meanwhile.
    await new Promise<never>(() => undefined);
  }
  if (hook !== undefined) await hook(point);
}
