/**
 * One place that remembers every process the test run started, so that the
 * global teardown (and a Ctrl-C) stops all of them and leaves nothing behind.
 */
type Stopper = () => Promise<void>;

const stoppers: Stopper[] = [];

/** Registers a clean-up to run at the end of the test run, newest first. */
export function onStop(stop: Stopper): void {
  stoppers.push(stop);
}

/** Runs every registered clean-up; failures are reported, not thrown. */
export async function stopAll(): Promise<void> {
  while (stoppers.length > 0) {
    const stop = stoppers.pop()!;
    try {
      await stop();
    } catch (err) {
      console.error("test harness: clean-up failed:", err);
    }
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}
