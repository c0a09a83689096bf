import type { V1ConfigMap } from "@kubernetes/client-node";
import type { ReconcileResult } from "../../runtime/errors.js";
import { Operator } from "../../runtime/operator.js";
import type { OperatorDeps, ReconcileContext } from "../../runtime/operator.js";
import { configMapKind } from "../../runtime/resource-kind.js";
import { runOperator } from "../main.js";

/** Set on a ConfigMap once its slow reconcile has finished (cmd/main.test.ts checks it). */
const RECONCILED_ANNOTATION = "kompost.test/reconciled";

/**
 * The entrypoint with one test controller instead of the product's: it reconciles the
 * ConfigMaps of TEST_NAMESPACE slowly (SLOW_RECONCILE_MS), then marks each with an annotation,
 * so a test can send signals while a reconcile is in flight.
 */
class SlowConfigMapOperator extends Operator<V1ConfigMap> {
  readonly name = "slow-configmap";
  protected readonly forKind = configMapKind;

  constructor(
    deps: OperatorDeps,
    private readonly delayMs: number,
  ) {
    super(deps);
  }

  protected async reconcile(cm: V1ConfigMap, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (cm.metadata?.annotations?.[RECONCILED_ANNOTATION]) return;
    ctx.logger.info("Slow reconcile started");
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await this.client.patch(configMapKind, ctx.key, { metadata: { annotations: { [RECONCILED_ANNOTATION]: "true" } } });
    ctx.logger.info("Slow reconcile finished");
  }
}

runOperator(process.argv.slice(2), ({ client, logger }) => [
  new SlowConfigMapOperator(
    { client, logger, ...(process.env.TEST_NAMESPACE ? { namespace: process.env.TEST_NAMESPACE } : {}) },
    Number(process.env.SLOW_RECONCILE_MS ?? "3000"),
  ),
]);
