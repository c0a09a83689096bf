/** The flags of `make dev` (ARGS="...") and `tsx hack/dev.ts`. */

/** What a dev session can be told on its command line. */
export interface DevArgs {
  /** How long each sample resource may take to become Ready. */
  readonly readyTimeoutMs: number;
  readonly help: boolean;
}

/** The usage text for --help. */
export const DEV_USAGE = `Usage: make dev [ARGS="flags"]   (or: node --import tsx hack/dev.ts [flags])

Runs Kompost on this machine: a local control plane and PostgreSQL, the operator, and
config/samples pointed at that PostgreSQL. Ctrl-C stops everything.

Flags:
  --ready-timeout <seconds>   How long each sample may take to become Ready (default: 180).
  --help                      Show this text.
`;

const DEFAULT_READY_TIMEOUT_S = 180;

/** Parses `--ready-timeout <seconds>` (or `=<seconds>`) and `--help`; throws with the usage on anything else. */
export function parseDevArgs(argv: readonly string[]): DevArgs {
  let readyTimeoutS = DEFAULT_READY_TIMEOUT_S;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = splitFlag(argv[i]!);
    if (flag === "--help" || flag === "-h") {
      help = true;
    } else if (flag === "--ready-timeout") {
      const value = inline ?? argv[++i];
      readyTimeoutS = Number(value);
      if (value === undefined || !Number.isFinite(readyTimeoutS) || readyTimeoutS <= 0) {
        throw new Error(
          `--ready-timeout wants a positive number of seconds, not ${JSON.stringify(value ?? "")}\n\n${DEV_USAGE}`,
        );
      }
    } else {
      throw new Error(`unknown flag ${JSON.stringify(argv[i])}\n\n${DEV_USAGE}`);
    }
  }
  return { readyTimeoutMs: readyTimeoutS * 1000, help };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf("=");
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
