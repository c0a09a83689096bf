import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The one Prometheus registry of the process, served on /metrics. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

// Names and labels follow controller-runtime and client-go's workqueue, so
// dashboards and alerts written for Go operators work unchanged.

/** Reconciles per controller and result (success, error, requeue, requeue_after). */
export const reconcileTotal = new Counter({
  name: "controller_runtime_reconcile_total",
  help: "Total number of reconciliations per controller",
  labelNames: ["controller", "result"] as const,
  registers: [metricsRegistry],
});

/** Reconciles that ended in an error, per controller. */
export const reconcileErrorsTotal = new Counter({
  name: "controller_runtime_reconcile_errors_total",
  help: "Total number of reconciliation errors per controller",
  labelNames: ["controller"] as const,
  registers: [metricsRegistry],
});

/** Reconciles that ended in a terminal (not retried) error, per controller. */
export const terminalReconcileErrorsTotal = new Counter({
  name: "controller_runtime_terminal_reconcile_errors_total",
  help: "Total number of terminal reconciliation errors per controller",
  labelNames: ["controller"] as const,
  registers: [metricsRegistry],
});

/** How long each reconcile took, per controller. */
export const reconcileTimeSeconds = new Histogram({
  name: "controller_runtime_reconcile_time_seconds",
  help: "Length of time per reconciliation per controller",
  labelNames: ["controller"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [metricsRegistry],
});

/** Workers busy right now, per controller. */
export const activeWorkers = new Gauge({
  name: "controller_runtime_active_workers",
  help: "Number of currently used workers per controller",
  labelNames: ["controller"] as const,
  registers: [metricsRegistry],
});

/** Configured concurrency, per controller. */
export const maxConcurrentReconciles = new Gauge({
  name: "controller_runtime_max_concurrent_reconciles",
  help: "Maximum number of concurrent reconciles per controller",
  labelNames: ["controller"] as const,
  registers: [metricsRegistry],
});

/** Keys waiting in the work queue, per queue (named after its controller). */
export const workqueueDepth = new Gauge({
  name: "workqueue_depth",
  help: "Current depth of workqueue",
  labelNames: ["name", "controller"] as const,
  registers: [metricsRegistry],
});

/** Keys added to the work queue, per queue. */
export const workqueueAddsTotal = new Counter({
  name: "workqueue_adds_total",
  help: "Total number of adds handled by workqueue",
  labelNames: ["name", "controller"] as const,
  registers: [metricsRegistry],
});

/** Rate-limited re-adds (retries) to the work queue, per queue. */
export const workqueueRetriesTotal = new Counter({
  name: "workqueue_retries_total",
  help: "Total number of retries handled by workqueue",
  labelNames: ["name", "controller"] as const,
  registers: [metricsRegistry],
});

/** Retries after a failure running now in the queue's retry lanes, per queue (Kompost's own, beside client-go's). */
export const workqueueRetriesRunning = new Gauge({
  name: "kompost_workqueue_retries_running",
  help: "Number of retries after a failure being processed now, in the retry lanes beside the workers",
  labelNames: ["name", "controller"] as const,
  registers: [metricsRegistry],
});

/** How long a key waited in the queue before a worker took it. */
export const workqueueQueueDurationSeconds = new Histogram({
  name: "workqueue_queue_duration_seconds",
  help: "How long in seconds an item stays in workqueue before being requested",
  labelNames: ["name", "controller"] as const,
  buckets: [0.001, 0.01, 0.1, 1, 10, 100, 1000],
  registers: [metricsRegistry],
});

/** How long processing a key took. */
export const workqueueWorkDurationSeconds = new Histogram({
  name: "workqueue_work_duration_seconds",
  help: "How long in seconds processing an item from workqueue takes",
  labelNames: ["name", "controller"] as const,
  buckets: [0.001, 0.01, 0.1, 1, 10, 100, 1000],
  registers: [metricsRegistry],
});

/** 1 while this process holds the leader Lease, else 0. */
export const leaderElectionStatus = new Gauge({
  name: "leader_election_master_status",
  help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master",
  labelNames: ["name"] as const,
  registers: [metricsRegistry],
});

/** Requests to the API server per method and HTTP status code ("<error>" when no answer came), like client-go's. */
export const restClientRequestsTotal = new Counter({
  name: "rest_client_requests_total",
  help: "Number of HTTP requests, partitioned by status code and method",
  labelNames: ["code", "method"] as const,
  registers: [metricsRegistry],
});
