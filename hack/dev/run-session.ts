/**
 * The dev session process, started by hack/dev.ts in a process group of its own so that a
 * terminal's Ctrl-C reaches only hack/dev.ts, which passes it on here: the test harness's
 * SIGINT handler then runs stopAll(), which stops the operator first, then the servers.
 */
import { onStop, stopAll } from "../../test/harness/lifecycle.js";
import { DEV_USAGE, parseDevArgs } from "./args.js";
import { describeExit } from "../../test/harness/operator-process.js";
import { startDevSession } from "./session.js";

/** The namespace the dev operator treats as its own. */
const OPERATOR_NAMESPACE = "kompost-system";

/**
 * Aborted on SIGINT/SIGTERM, when the test harness's handler (lifecycle.ts) runs stopAll() and
 * exits: the steps still under way must then neither go on nor report their failure.
 */
const stopped = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stopped.abort());

const write = (text: string): void => void process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  // The channel to hack/dev.ts is only there to notice when it goes; it must not keep this process alive.
  process.channel?.unref();
  const args = parseDevArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(DEV_USAGE);
    return;
  }
  // Registered first, so it runs last: every other teardown is done by then.
  onStop(() => Promise.resolve(write("[dev] Stopped everything; nothing is left running.")));
  // hack/dev.ts is gone (killed, or its terminal closed): nobody can press Ctrl-C any more.
  process.once("disconnect", () => {
    stopped.abort();
    void stopAll().finally(() => process.exit(130));
  });

  const session = await startDevSession({
    readyTimeoutMs: args.readyTimeoutMs,
    operatorNamespace: OPERATOR_NAMESPACE,
    write,
    signal: stopped.signal,
  });
  const exit = await session.operator.exited;
  if (session.operator.stopRequested) return; // stopAll() is under way and exits the process.
  write(`[dev] The operator exited by itself (${describeExit(exit)}); stopping everything`);
  await stopAll();
  process.exit(1);
}

main().catch(async (err: unknown) => {
  if (stopped.signal.aborted) return; // stopAll() is under way and exits the process.
  process.stderr.write(`[dev] ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
