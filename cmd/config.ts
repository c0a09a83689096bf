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
} from "class-validator";
import type { ClusterInstanceDefault } from "../services/access/allowed-namespaces.js";
import { flag, flagsHelp, IsBindAddress, parseFlags } from "../runtime/flags.js";
import type { FlagProgram, FlagSources } from "../runtime/flags.js";

/** Where a pod finds its own namespace when POD_NAMESPACE is not set. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** Log levels the operator accepts (winston's npm levels). */
export const LOG_LEVELS = ["error", "warn", "info", "http", "verbose", "debug", "silly"] as const;

/** Who may use a PostgresClusterInstance that has no allowed-namespaces annotation. */
const CLUSTER_INSTANCE_ACCESS: readonly ClusterInstanceDefault[] = ["all", "none"];

/** What Kompost's flag defaults read from the outside world, so tests need not touch the process. */
export interface ConfigSources extends FlagSources {
  /** Path of the service-account namespace file; a missing file means "not in a cluster". */
  readonly serviceAccountNamespaceFile: string;
}

const KOMPOST: FlagProgram = {
  name: "kompost",
  description: "Kompost provisions PostgreSQL databases for PostgresDatabase resources.",
  envPrefix: "KOMPOST_",
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

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

  @flag<ConfigSources>({
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

  @flag<ConfigSources>({
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
  readonly clusterInstanceDefaultAccess!: ClusterInstanceDefault;

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
    name: "database-verify-period",
    kind: "duration",
    default: 60 * 60_000,
    accepts: "a duration such as 30m or 1h; 0 checks on every resync",
    help: "How often a Ready database's grants, default privileges and extensions are checked inside the database when nothing changed; each check opens a connection to it. The database, its roles and (with a superuser admin) their passwords are checked on every resync, in one statement.",
  })
  @IsInt()
  @Min(0)
  readonly databaseVerifyPeriodMs!: number;

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
    help: "How many resources of one kind are reconciled at the same time; as many retries of failed reconciles may run beside them, in lanes of their own.",
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

/** Kompost's configuration from argv, `KOMPOST_<FLAG>` variables and defaults; throws ConfigError. */
export function parseConfig(
  argv: readonly string[],
  sources: ConfigSources = { env: process.env, serviceAccountNamespaceFile: SERVICE_ACCOUNT_NAMESPACE_FILE },
): Readonly<OperatorConfig> {
  return parseFlags(OperatorConfig, KOMPOST, argv, sources);
}

/** Kompost's --help text: every flag, its environment variable and its default. */
export function helpText(): string {
  return flagsHelp(OperatorConfig, KOMPOST);
}
