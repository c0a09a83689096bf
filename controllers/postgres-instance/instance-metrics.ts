import { Gauge } from "prom-client";
import { metricsRegistry } from "../../runtime/metrics.js";
import type { InstanceKey } from "../../services/postgres/instance-key.js";

const LABELS = ["kind", "namespace", "name"] as const;

/** 1 while the last check of an instance connected to its server, else 0 (docs/operating.md, Metrics). */
export const instanceConnected = new Gauge({
  name: "kompost_postgres_instance_connected",
  help: "Whether the last check of a PostgresInstance or PostgresClusterInstance connected to its server (1) or not (0)",
  labelNames: LABELS,
  registers: [metricsRegistry],
});

/** 1 while an instance is Ready (credentials, connection and privileges all fine), else 0. */
export const instanceReady = new Gauge({
  name: "kompost_postgres_instance_ready",
  help: "Whether a PostgresInstance or PostgresClusterInstance is Ready (1) or not (0)",
  labelNames: LABELS,
  registers: [metricsRegistry],
});

/** Records the state an instance's reconcile found. */
export function recordInstanceState(key: InstanceKey, connected: boolean, ready: boolean): void {
  const labels = labelsOf(key);
  instanceConnected.set(labels, connected ? 1 : 0);
  instanceReady.set(labels, ready ? 1 : 0);
}

/** Drops the series of an instance that is gone. */
export function forgetInstanceState(key: InstanceKey): void {
  const labels = labelsOf(key);
  instanceConnected.remove(labels);
  instanceReady.remove(labels);
}

function labelsOf(key: InstanceKey): Record<(typeof LABELS)[number], string> {
  return { kind: key.kind, namespace: key.kind === "PostgresInstance" ? key.namespace : "", name: key.name };
}
