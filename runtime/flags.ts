import { ValidatorConstraint, validateSync } from "class-validator";
import type { ValidatorConstraintInterface } from "class-validator";
import { parseBindAddress } from "./probes.js";

/** A flag or environment value that could not be accepted; the entrypoint prints `message` and exits with 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** What the parser reads besides argv, so tests need not touch the process; defaults may read more from it. */
export interface FlagSources {
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** How a program names itself: in errors and help, and as the prefix of its environment variables. */
export interface FlagProgram {
  /** Command name, e.g. "kompost". */
  readonly name: string;
  /** One line under the usage line of --help. */
  readonly description: string;
  /** Prefix of the variable that can set each flag, e.g. "KOMPOST_" for KOMPOST_<FLAG_NAME>. */
  readonly envPrefix: string;
}

type FlagKind = "bool" | "string" | "int" | "duration";
type FlagValue = boolean | string | number | undefined;

/** One flag: its name, how its value is read, its default and how --help describes it. */
export interface FlagSpec<S extends FlagSources = FlagSources> {
  readonly name: string;
  readonly kind: FlagKind;
  readonly help: string;
  /** What a valid value looks like, for error messages. */
  readonly accepts: string;
  readonly default: FlagValue | ((sources: S) => FlagValue);
  /** How the default is shown in --help, when it is not a constant. */
  readonly defaultText?: string;
  /** When a flag without a default must be given, for the error message. */
  readonly requiredWhen?: string;
}

interface RegisteredFlag extends FlagSpec<never> {
  readonly property: string;
}

/** The flags declared on each configuration class, in declaration order. */
const registry = new WeakMap<object, RegisteredFlag[]>();

function flagsOf(target: object): RegisteredFlag[] {
  let flags = registry.get(target);
  if (!flags) registry.set(target, (flags = []));
  return flags;
}

/**
 * Declares that a property of a configuration class is set by `--<name>`, or by the environment variable
 * `<envPrefix><NAME>`; validate the value with class-validator decorators beside it.
 */
export function flag<S extends FlagSources = FlagSources>(spec: FlagSpec<S>): PropertyDecorator {
  return (target, property) => {
    flagsOf(target.constructor).push({ ...(spec as FlagSpec<never>), property: String(property) });
  };
}

function envVarOf(program: FlagProgram, f: RegisteredFlag): string {
  return `${program.envPrefix}${f.name.toUpperCase().replace(/-/g, "_")}`;
}

/** class-validator constraint: a `[host]:port` listen address, or 0 to disable the listener. */
@ValidatorConstraint({ name: "bindAddress" })
export class IsBindAddress implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === "string" && parseBindAddress(value) !== undefined;
  }
}

/** True when the arguments ask for the usage text (-h, --help). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === "-h" || arg === "-help" || arg === "--help");
}

/** The usage text listing every flag of `target`, its environment variable and its default. */
export function flagsHelp(target: new () => object, program: FlagProgram): string {
  const lines = [
    `Usage: ${program.name} [flags]`,
    "",
    program.description,
    "Every flag can also be set through the environment variable shown; a flag wins over the variable.",
    "",
    "Flags:",
  ];
  for (const f of flagsOf(target)) {
    const value = f.kind === "bool" ? "" : ` <${f.kind}>`;
    const def = f.defaultText ?? (typeof f.default === "function" ? "" : formatDefault(f));
    lines.push(`  --${f.name}${value}`);
    lines.push(`        ${f.help} (default: ${def}; env ${envVarOf(program, f)})`);
  }
  return lines.join("\n") + "\n";
}

function formatDefault(f: RegisteredFlag): string {
  if (f.default === undefined) return "none";
  if (f.kind === "duration" && typeof f.default === "number") return formatDuration(f.default);
  return String(f.default);
}

/**
 * Builds a `target` from command-line flags (Go style: `--name=value`, `--name value`, `-name`, bare
 * `--bool`), falling back to the program's environment variables and the defaults; validates and freezes it.
 * Throws ConfigError with one line naming the flag and what it accepts.
 */
export function parseFlags<T extends object, S extends FlagSources>(
  target: new () => T,
  program: FlagProgram,
  argv: readonly string[],
  sources: S,
): Readonly<T> {
  const flags = flagsOf(target);
  const given = readFlags(program, flags, argv);
  const config = new target();
  const origins = new Map<string, { readonly raw: string | undefined; readonly from: string }>();
  for (const f of flags) {
    const envVar = envVarOf(program, f);
    const fromFlag = given.get(f.name);
    const fromEnv = sources.env[envVar];
    let value: FlagValue;
    if (fromFlag !== undefined) {
      value = convert(f, fromFlag, `--${f.name}`);
      origins.set(f.property, { raw: fromFlag, from: `--${f.name}` });
    } else if (fromEnv !== undefined && fromEnv !== "") {
      value = convert(f, fromEnv, `--${f.name} (from ${envVar})`);
      origins.set(f.property, { raw: fromEnv, from: `--${f.name} (from ${envVar})` });
    } else {
      value = typeof f.default === "function" ? (f.default as (sources: S) => FlagValue)(sources) : f.default;
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
function readFlags(
  program: FlagProgram,
  flags: readonly RegisteredFlag[],
  argv: readonly string[],
): Map<string, string> {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      if (i + 1 < argv.length)
        throw new ConfigError(`unexpected argument "${argv[i + 1]}": ${program.name} takes only flags (see --help)`);
      break;
    }
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === "-")
      throw new ConfigError(`unexpected argument "${arg}": ${program.name} takes only flags (see --help)`);
    const name = match[1]!;
    const f = flags.find((candidate) => candidate.name === name);
    if (!f) throw new ConfigError(`unknown flag --${name} (see --help for the flags ${program.name} accepts)`);
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
