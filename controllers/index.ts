import type { KubeConfig } from "@kubernetes/client-node";
import type { OperatorConfig } from "../runtime/config.js";
import type { KubeClient } from "../runtime/kube-client.js";
import type { Logger } from "../runtime/logger.js";
import type { ManagedController } from "../runtime/managed-controller.js";

/** What every controller of the product is built from. */
export interface ControllerDependencies {
  readonly kubeConfig: KubeConfig;
  /** REST client on that kubeConfig, shared by every controller (OperatorDeps.client). */
  readonly client: KubeClient;
  readonly config: Readonly<OperatorConfig>;
  readonly logger: Logger;
}

/** Builds the product's controllers, one per kind; the Manager starts them once this replica leads. */
export function createControllers(_deps: ControllerDependencies): ManagedController[] {
  return [];
}
