import { stopAll } from "./lifecycle.js";

/** Stops every server the run started, once, after the last test file. */
export async function mochaGlobalTeardown(): Promise<void> {
  await stopAll();
}
