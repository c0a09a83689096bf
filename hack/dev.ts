/**
 * `make dev`: runs Kompost for real on this machine — a local control plane (kube-apiserver,
 * etcd, kube-controller-manager) with the CRDs, a local PostgreSQL, the operator in the
 * foreground, and config/samples pointed at that PostgreSQL — and prints, once the samples are
 * Ready, `kubectl describe pgdb`, the kubeconfig and a psql line. Ctrl-C stops everything.
 *
 *   node --import tsx hack/dev.ts [--ready-timeout <seconds>]
 */
import { superviseSession } from "./dev/supervisor.js";

process.exitCode = await superviseSession(process.argv.slice(2));
