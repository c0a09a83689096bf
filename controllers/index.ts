import { EventRecorder } from "../runtime/events.js";
import { InformerCache } from "../runtime/informer-cache.js";
import type { KubeClient } from "../runtime/kube-client.js";
import type { ClusterAccess } from "../runtime/kube-config.js";
import type { Logger } from "../runtime/logger.js";
import type { ManagedController } from "../runtime/managed-controller.js";
import type { OperatorDeps } from "../runtime/operator.js";
import type { ClusterInstanceDefault } from "../services/access/allowed-namespaces.js";
import { ConnectionRegistry } from "../services/postgres/connection-registry.js";
import { PostgresDatabaseController } from "./postgres-database/database-controller.js";
import { InstanceController } from "./postgres-instance/instance-controller.js";
import { InstanceDirectory } from "./instances/instance-directory.js";
import { clusterInstance, namespacedInstance } from "./postgres-instance/instance-kinds.js";

/** The settings of Kompost's controllers (from cmd/config.ts's flags). */
export interface ControllerOptions {
  /** How often every resource is reconciled again without a change. */
  readonly resyncPeriodMs: number;
  /** How many resources of one kind are reconciled at the same time. */
  readonly maxConcurrentReconciles: number;
  /** How often an unchanged status condition gets a new lastHeartbeatTime. */
  readonly statusHeartbeatIntervalMs: number;
  /** Namespace that holds the password Secrets of PostgresClusterInstances. */
  readonly operatorNamespace: string;
  /** Who may use a PostgresClusterInstance without an allowed-namespaces annotation. */
  readonly clusterInstanceDefaultAccess: ClusterInstanceDefault;
  /** How often a Ready database's in-database checks run when nothing changed; absent or 0: every resync. */
  readonly databaseVerifyPeriodMs?: number;
}

/** What every controller of the product is built from. */
export interface ControllerDependencies {
  readonly kubeConfig: ClusterAccess;
  /** REST client on that kubeConfig, shared by every controller (OperatorDeps.client). */
  readonly client: KubeClient;
  readonly config: ControllerOptions;
  readonly logger: Logger;
  /** Registers clean-up for after every controller stopped (Manager.onShutdown). */
  readonly onShutdown: (name: string, run: () => Promise<void>) => void;
  /** The informers the controllers share (Manager.cache); absent: one is made here and stopped on shutdown. */
  readonly cache?: InformerCache;
}

/** Builds the product's controllers, one per kind; the Manager starts them once this replica leads. */
export function createControllers(deps: ControllerDependencies): ManagedController[] {
  const { config, client, logger } = deps;
  const recorder = new EventRecorder(client, { logger });
  deps.onShutdown("write queued Events", () => recorder.flush(5000));
  const operatorDeps: OperatorDeps = {
    client,
    logger,
    recorder,
    // One list and watch per kind for all three: each of them reads PostgresDatabases and instances.
    cache: deps.cache ?? sharedCache(deps),
    resyncPeriodMs: config.resyncPeriodMs,
    maxConcurrentReconciles: config.maxConcurrentReconciles,
  };
  // One pool per instance and one view of the usable instances, shared by the instance and database controllers.
  const registry = new ConnectionRegistry({ logger });
  deps.onShutdown("close PostgreSQL connection pools", () => registry.closeAll());
  const directory = new InstanceDirectory();
  const instanceDeps = {
    ...operatorDeps,
    registry,
    directory,
    statusHeartbeatIntervalMs: config.statusHeartbeatIntervalMs,
  };
  return [
    new InstanceController(instanceDeps, namespacedInstance),
    new InstanceController(
      instanceDeps,
      clusterInstance(config.operatorNamespace, config.clusterInstanceDefaultAccess),
    ),
    new PostgresDatabaseController(operatorDeps, {
      registry,
      directory,
      clusterInstanceDefault: config.clusterInstanceDefaultAccess,
      heartbeatIntervalMs: config.statusHeartbeatIntervalMs,
      ...(config.databaseVerifyPeriodMs !== undefined ? { databaseVerifyPeriodMs: config.databaseVerifyPeriodMs } : {}),
    }),
  ];
}

/** An informer cache for the controllers when no Manager gives one, stopped once they have stopped. */
function sharedCache(deps: ControllerDependencies): InformerCache {
  const cache = new InformerCache(deps.client, { logger: deps.logger });
  deps.onShutdown("stop the shared informers", () => cache.stop());
  return cache;
}
