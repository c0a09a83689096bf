import fs from "node:fs";
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  Validate,
  ValidateIf,
  ValidatorConstraint,
  validateSync,
} from "class-validator";
import type { ValidatorConstraintInterface } from "class-validator";
import { parseBindAddress } from "./probes.js";

/** Where a pod finds its own namespace when POD_NAMESPACE is not set. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** Log levels the operator accepts (winston's npm levels). */
export const LOG_LEVELS = ["error", "warn", "info", "http", "verbose", "debug", "silly"] as const;

/** Who may use a PostgresClusterInstance that has no allowed-namespaces annotation. */
export const CLUSTER_INSTANCE_ACCESS = ["all", "none"] as const;

/** A flag or environment value that could not be accepted; the entrypoint prints `message` and exits with 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** What the parser needs from the outside world, so tests need not touch the process. */
export interface ConfigSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Path of the service-account namespace file; a missing file means "not in a cluster". */
  readonly serviceAccountNamespaceFile: string;
}

type FlagKind = "bool" | "string" | "int" | "duration";
type FlagValue = boolean | string | number | undefined;

interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly help: string;
  /** What a valid value looks like, for error messages. */
  readonly accepts: string;
  readonly default: FlagValue | ((sources: ConfigSources) => FlagValue);
  /** How the default is shown in --help, when it is not a constant. */
  readonly defaultText?: string;
  /** When a flag without a default must be given, for the error message. */
  readonly requiredWhen?: string;
}

interface RegisteredFlag extends FlagSpec {
  readonly property: string;
  readonly envVar: string;
}

const flags: RegisteredFlag[] = [];

/** Declares that a property of OperatorConfig is set by `--<name>` or `KOMPOST_<NAME>`. */
function flag(spec: FlagSpec): PropertyDecorator {
  return (_target, property) => {
    flags.push({
      ...spec,
      property: String(property),
      envVar: `KOMPOST_${spec.name.toUpperCase().replace(/-/g, "_")}`,
    });
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

@ValidatorConstraint({ name: "bindAddress" })
class IsBindAddress implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === "string" && parseBindAddress(value) !== undefined;
  }
}

/** The operator's configuration from flags and environment; frozen once parsed. */
export class OperatorConfig {
  @flag({
    name: "leader-elect",
    kind: "bool",
    default: false,
    accepts: "true or false",
    help: "Elect a leader through a Lease so that only one replica reconciles.",
  })
  @IsBoolean()
  readonly leaderElect!: boolean;

  @flag({
    name: "leader-election-id",
    kind: "string",
    default: "kompost.chuge.li",
    accepts: "a DNS subdomain name (lowercase letters, digits, '-' and '.')",
    help: "Name of the Lease used for leader election.",
  })
  @Matches(DNS_SUBDOMAIN)
  @MaxLength(253)
  readonly leaderElectionId!: string;

  @flag({
    name: "leader-election-namespace",
    kind: "string",
    default: podNamespace,
    defaultText: "the pod's namespace, from POD_NAMESPACE or the service-account namespace file",
    requiredWhen: "with --leader-elect outside a cluster (no POD_NAMESPACE and no service-account namespace file)",
    accepts: "a namespace name (lowercase letters, digits and '-')",
    help: "Namespace of the leader election Lease; required with --leader-elect outside a cluster.",
  })
  @ValidateIf((config: OperatorConfig) => config.leaderElect || config.leaderElectionNamespace !== undefined)
  @IsDefined()
  @Matches(DNS_LABEL)
  @MaxLength(63)
  readonly leaderElectionNamespace!: string | undefined;

  @flag({
    name: "health-probe-bind-address",
    kind: "string",
    default: ":8081",
    accepts: "[host]:port, or 0 to disable",
    help: "Address the /healthz and /readyz endpoints listen on.",
  })
  @Validate(IsBindAddress)
  readonly healthProbeBindAddress!: string;

  @flag({
    name: "metrics-bind-address",
    kind: "string",
    default: ":8080",
    accepts: "[host]:port, or 0 to disable",
    help: "Address the /metrics endpoint listens on; 0 disables it.",
  })
  @Validate(IsBindAddress)
  readonly metricsBindAddress!: string;

  @flag({
    name: "operator-namespace",
    kind: "string",
    default: (sources) => podNamespace(sources) ?? "default",
    defaultText: 'the pod\'s namespace as for --leader-election-namespace, or "default" outside a cluster',
    accepts: "a namespace name (lowercase letters, digits and '-')",
    help: "Namespace that holds the password Secrets of PostgresClusterInstances.",
  })
  @Matches(DNS_LABEL)
  @MaxLength(63)
  readonly operatorNamespace!: string;

  @flag({
    name: "cluster-instance-default-access",
    kind: "string",
    default: "all",
    accepts: "all or none",
    help: "Which namespaces may use a PostgresClusterInstance without an allowed-namespaces annotation.",
  })
  @IsIn(CLUSTER_INSTANCE_ACCESS)
  readonly clusterInstanceDefaultAccess!: (typeof CLUSTER_INSTANCE_ACCESS)[number];

  @flag({
    name: "resync-period",
    kind: "duration",
    default: 5 * 60_000,
    accepts: "a duration of at least 1s, such as 30s, 5m or 1h",
    help: "How often every resource is reconciled again without a change, to repair drift.",
  })
  @IsInt()
  @Min(1000)
  readonly resyncPeriodMs!: number;

  @flag({
    name: "status-heartbeat-interval",
    kind: "duration",
    default: 5 * 60_000,
    accepts: "a duration of at least 1s, such as 30s, 5m or 1h",
    help: "How often an unchanged status condition gets a new lastHeartbeatTime.",
  })
  @IsInt()
  @Min(1000)
  readonly statusHeartbeatIntervalMs!: number;

  @flag({
    name: "max-concurrent-reconciles",
    kind: "int",
    default: 4,
    accepts: "an integer from 1 to 1000",
    help: "How many resources of one kind are reconciled at the same time.",
  })
  @IsInt()
  @Min(1)
  @Max(1000)
  readonly maxConcurrentReconciles!: number;

  @flag({
    name: "shutdown-timeout",
    kind: "duration",
    default: 30_000,
    accepts: "a duration such as 10s or 1m",
    help: "How long reconciles in flight may take to finish on shutdown.",
  })
  @IsInt()
  @Min(0)
  readonly shutdownTimeoutMs!: number;

  @flag({
    name: "log-level",
    kind: "string",
    default: "info",
    accepts: LOG_LEVELS.join(", "),
    help: "Lowest level of log lines written.",
  })
  @IsIn(LOG_LEVELS)
  readonly logLevel!: (typeof LOG_LEVELS)[number];

  @flag({
    name: "kubeconfig",
    kind: "string",
    default: undefined,
    defaultText: "KUBECONFIG, the in-cluster config, or ~/.kube/config",
    accepts: "a file path",
    help: "Kubeconfig file to connect to the API server with.",
  })
  @IsOptional()
  @IsString()
  readonly kubeconfig!: string | undefined;
}

/** Reads the pod's namespace from POD_NAMESPACE or the service-account file; undefined outside a cluster. */
function podNamespace(sources: ConfigSources): string | undefined {
  const fromEnv = sources.env.POD_NAMESPACE?.trim();
  if (fromEnv) return fromEnv;
  try {
    return fs.readFileSync(sources.serviceAccountNamespaceFile, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when the arguments ask for the usage text (-h, --help). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === "-h" || arg === "-help" || arg === "--help");
}

/** The usage text listing every flag, its environment variable and its default. */
export function helpText(): string {
  const lines = [
    "Usage: kompost [flags]",
    "",
    "Kompost provisions PostgreSQL databases for PostgresDatabase resources.",
    "Every flag can also be set through the environment variable shown; a flag wins over the variable.",
    "",
    "Flags:",
  ];
  for (const f of flags) {
    const value = f.kind === "bool" ? "" : ` <${f.kind}>`;
    const def = f.defaultText ?? (typeof f.default === "function" ? "" : formatDefault(f));
    lines.push(`  --${f.name}${value}`);
    lines.push(`        ${f.help} (default: ${def}; env ${f.envVar})`);
  }
  return lines.join("\n") + "\n";
}

function formatDefault(f: RegisteredFlag): string {
  if (f.default === undefined) return "none";
  if (f.kind === "duration" && typeof f.default === "number") return formatDuration(f.default);
  return String(f.default);
}

/**
 * Parses command-line flags (Go style: `--name=value`, `--name value`, `-name`, bare `--bool`),
 * falls back to `KOMPOST_<NAME>` environment variables and defaults, validates, and freezes.
 * Throws ConfigError with one line naming the flag and what it accepts.
 */
export function parseConfig(
  argv: readonly string[],
  sources: ConfigSources = { env: process.env, serviceAccountNamespaceFile: SERVICE_ACCOUNT_NAMESPACE_FILE },
): Readonly<OperatorConfig> {
  const given = readFlags(argv);
  const config = new OperatorConfig();
  const origins = new Map<string, { readonly raw: string | undefined; readonly from: string }>();
  for (const f of flags) {
    const fromFlag = given.get(f.name);
    const fromEnv = sources.env[f.envVar];
    let value: FlagValue;
    if (fromFlag !== undefined) {
      value = convert(f, fromFlag, `--${f.name}`);
      origins.set(f.property, { raw: fromFlag, from: `--${f.name}` });
    } else if (fromEnv !== undefined && fromEnv !== "") {
      value = convert(f, fromEnv, `--${f.name} (from ${f.envVar})`);
      origins.set(f.property, { raw: fromEnv, from: `--${f.name} (from ${f.envVar})` });
    } else {
      value = typeof f.default === "function" ? f.default(sources) : f.default;
      origins.set(f.property, { raw: value === undefined ? undefined : String(value), from: `--${f.name}` });
    }
    Object.defineProperty(config, f.property, { value, enumerable: true, writable: false, configurable: false });
  }
  const errors = validateSync(config);
  const first = errors[0];
  if (first) {
    const f = flags.find((candidate) => candidate.property === first.property)!;
    const origin = origins.get(first.property)!;
    if (origin.raw === undefined) {
      const when = f.requiredWhen ? ` ${f.requiredWhen}` : "";
      throw new ConfigError(`${origin.from} is required${when}: expected ${f.accepts}`);
    }
    throw invalidValue(origin.from, origin.raw, f.accepts);
  }
  return Object.freeze(config);
}

/** Splits argv into flag name → raw value; unknown flags and stray arguments are errors. */
function readFlags(argv: readonly string[]): Map<string, string> {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      if (i + 1 < argv.length)
        throw new ConfigError(`unexpected argument "${argv[i + 1]}": kompost takes only flags (see --help)`);
      break;
    }
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === "-")
      throw new ConfigError(`unexpected argument "${arg}": kompost takes only flags (see --help)`);
    const name = match[1]!;
    const f = flags.find((candidate) => candidate.name === name);
    if (!f) throw new ConfigError(`unknown flag --${name} (see --help for the flags kompost accepts)`);
    let value = match[2];
    if (value === undefined) {
      if (f.kind === "bool") {
        value = "true";
      } else {
        const next = argv[i + 1];
        if (next === undefined) throw new ConfigError(`flag --${name} needs a value: expected ${f.accepts}`);
        value = next;
        i++;
      }
    }
    given.set(name, value);
  }
  return given;
}

function convert(f: RegisteredFlag, raw: string, from: string): FlagValue {
  switch (f.kind) {
    case "string":
      return raw;
    case "bool": {
      const parsed = parseBool(raw);
      if (parsed === undefined) throw invalidValue(from, raw, f.accepts);
      return parsed;
    }
    case "int": {
      if (!/^[+-]?\d+$/.test(raw.trim())) throw invalidValue(from, raw, f.accepts);
      return Number(raw);
    }
    case "duration": {
      const ms = parseDuration(raw);
      if (ms === undefined) throw invalidValue(from, raw, f.accepts);
      return ms;
    }
  }
}

function invalidValue(from: string, raw: string, accepts: string): ConfigError {
  return new ConfigError(`invalid value ${JSON.stringify(raw)} for ${from}: expected ${accepts}`);
}

/** Parses a boolean the way Go's strconv.ParseBool does; undefined when it is not one. */
function parseBool(raw: string): boolean | undefined {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(raw)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(raw)) return false;
  return undefined;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration ("300ms", "1.5h", "2h45m", "0") into whole milliseconds; undefined when malformed. */
export function parseDuration(raw: string): number | undefined {
  const text = raw.trim();
  if (text === "0") return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * DURATION_UNITS_MS[part[2]!]!;
  }
  return Math.round(total);
}

/** Formats milliseconds as a short Go-style duration ("5m", "1m30s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.join("");
}
