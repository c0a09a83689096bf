/**
 * The product's controllers (createControllers, as cmd/main.ts builds them) on one shared
 * InformerCache, against the API server and PostgreSQL of a DatabaseTestEnv, for the tests that
 * look at what the whole process caches (no tests in here).
 */
import { parseConfig } from "../../cmd/config.js";
import { createControllers } from "../../controllers/index.js";
import { InformerCache } from "../../runtime/informer-cache.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import type { ManagedController } from "../../runtime/managed-controller.js";
import { testLogger } from "../../runtime/testing/fixtures.js";
import type { DatabaseTestEnv } from "./database-env.js";

/** Running controllers, the cache they share, and how to stop them. */
export interface ProductControllers {
  readonly cache: InformerCache;
  /** Stops the controllers, then the cache, then runs their shutdown tasks. */
  stop(): Promise<void>;
}

/** Starts every controller of the product with a 60 s resync, its operator namespace `operatorNamespace`. */
export async function startProductControllers(
  helpers: DatabaseTestEnv,
  client: KubeClient,
  operatorNamespace: string,
): Promise<ProductControllers> {
  const config = parseConfig(["--resync-period=60s", `--operator-namespace=${operatorNamespace}`], {
    env: {},
    serviceAccountNamespaceFile: "/nonexistent",
  });
  const cache = new InformerCache(client, { logger: testLogger() });
  const shutdownTasks: (() => Promise<void>)[] = [];
  const controllers: readonly ManagedController[] = createControllers({
    kubeConfig: helpers.cp.kubeConfig,
    client,
    config,
    logger: testLogger(),
    onShutdown: (_name, run) => {
      shutdownTasks.push(run);
    },
    cache,
  });
  for (const controller of controllers) await controller.start();
  return {
    cache,
    stop: async () => {
      for (const controller of controllers) await controller.stop(10_000);
      await cache.stop();
      for (const run of shutdownTasks) await run();
    },
  };
}
