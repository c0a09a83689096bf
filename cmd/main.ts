import fs from "node:fs";
import { pathToFileURL } from "node:url";
import { createControllers } from "../controllers/index.js";
import type { ControllerDependencies } from "../controllers/index.js";
import { ConfigError, wantsHelp } from "../runtime/flags.js";
import { helpText, parseConfig } from "./config.js";
import type { OperatorConfig } from "./config.js";
import { errorFields } from "../runtime/errors.js";
import { KubeClient } from "../runtime/kube-client.js";
import { loadClusterAccess } from "../runtime/kube-config.js";
import type { ClusterAccess } from "../runtime/kube-config.js";
import { createLogger } from "../runtime/logger.js";
import type { Logger } from "../runtime/logger.js";
import type { ManagedController } from "../runtime/managed-controller.js";
import { Manager } from "../runtime/manager.js";

/** Exit code for a bad flag or value, like Go's flag package. */
const EXIT_USAGE = 2;

/** Builds the controllers the manager runs. */
export type ControllerFactory = (deps: ControllerDependencies) => readonly ManagedController[];

/**
 * Runs the operator: parses flags (exit 2 when bad), starts the manager with the controllers
 * from `buildControllers`, and exits 0 after a graceful stop on SIGTERM/SIGINT or 1 after a
 * fatal error. Tests pass their own controllers; the process entrypoint passes the product's.
 */
export function runOperator(argv: readonly string[], buildControllers: ControllerFactory = createControllers): void {
  if (wantsHelp(argv)) {
    process.stdout.write(helpText());
    process.exit(0);
  }
  const config = parseOrExit(argv);
  const logger = createLogger(config.logLevel);
  logProcessFailures(logger);
  loadKubeConfig(config)
    .then((kubeConfig) => startManager(kubeConfig, config, logger, buildControllers))
    .catch((err: unknown) => {
      logger.error("Exiting after a fatal error", errorFields(err));
      process.exit(1);
    });
}

function startManager(
  kubeConfig: ClusterAccess,
  config: Readonly<OperatorConfig>,
  logger: Logger,
  buildControllers: ControllerFactory,
): void {
  const client = new KubeClient(kubeConfig);
  const manager = new Manager({
    kubeConfig,
    client,
    logger,
    healthProbeBindAddress: config.healthProbeBindAddress,
    metricsBindAddress: config.metricsBindAddress,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    ...(config.leaderElect
      ? { leaderElection: { namespace: config.leaderElectionNamespace!, id: config.leaderElectionId } }
      : {}),
  });
  const onShutdown = (name: string, run: () => Promise<void>): void => manager.onShutdown(name, run);
  const cache = manager.cache;
  for (const controller of buildControllers({ kubeConfig, client, config, logger, onShutdown, cache }))
    manager.add(controller);
  stopOnSignals(manager, logger);

  logger.info("Starting kompost", { config: { ...config } });
  // A failed start stops the manager, which wait() below reports; the error is logged there.
  manager.start().catch(() => undefined);
  manager.wait().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error("Exiting after a fatal error", errorFields(err));
      process.exit(1);
    },
  );
}

function parseOrExit(argv: readonly string[]): Readonly<OperatorConfig> {
  try {
    return parseConfig(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`kompost: ${err.message}\n`);
    process.exit(EXIT_USAGE);
  }
}

/** The kubeconfig of --kubeconfig, else the default one (see loadClusterAccess); exits 2 when it cannot be loaded. */
async function loadKubeConfig(config: Readonly<OperatorConfig>): Promise<ClusterAccess> {
  try {
    return await loadClusterAccess(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {});
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`kompost: while loading the kubeconfig ${config.kubeconfig ?? "(default)"}: ${message}\n`);
    process.exit(EXIT_USAGE);
  }
}

/** SIGTERM or SIGINT stops the manager gracefully; a second one exits at once. */
function stopOnSignals(manager: Manager, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn("Received a second signal; exiting without a graceful shutdown", { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info("Received signal; shutting down", { signal });
    manager.stop().catch((err: unknown) => logger.error("Failed to stop the manager", errorFields(err)));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * An unhandled rejection is a bug (a missing await or catch) but its effects are local to one
 * reconcile or request: log it with its stack and keep serving. An uncaught exception may leave
 * state half-updated anywhere, so it is logged and the process exits for the Deployment to restart.
 */
function logProcessFailures(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    logger.error("Unhandled promise rejection (a bug: please report it)", errorFields(reason));
  });
  process.on("uncaughtException", (err) => {
    logger.error("Uncaught exception; exiting", errorFields(err));
    process.exit(1);
  });
}

/** True when this module is the script node was started with (not imported by a test fixture). */
function isEntrypoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(fs.realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntrypoint()) runOperator(process.argv.slice(2));
