/**
 * The PostgresDatabase controller (flow only): guard clauses in a fixed order —
 * abandon, deletion, finalizer, instance, then database, roles, Secrets and grants.
 */
import type { V1Secret } from "@kubernetes/client-node";
import {
  PostgresClusterInstanceKind,
  PostgresDatabaseKind,
  PostgresInstanceKind,
  type PostgresDatabase,
} from "../../api/v1alpha1/index.js";
import { errorMessage, type ReconcileResult } from "../../runtime/errors.js";
import { faultPoint } from "../../runtime/fault-points.js";
import { handleFinalizer, type CleanUpResult, type FinalizerPolicy } from "../../runtime/finalizers.js";
import {
  Operator,
  type MappedWatch,
  type OperatorDeps,
  type ReconcileContext,
  type WatchSource,
} from "../../runtime/operator.js";
import { READY } from "../../runtime/conditions.js";
import { specOrMetadataChanged } from "../../runtime/predicates.js";
import { keyOf, keyString, secretKind, type ObjectKey } from "../../runtime/resource-kind.js";
import type { ClusterInstanceDefault } from "../../services/access/allowed-namespaces.js";
import { ConnectionError } from "../../services/postgres/connection-failures.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import { instanceKeyString, type InstanceKey } from "../../services/postgres/instance-key.js";
import { isLockTimeout } from "../../services/postgres/errors.js";
import type { SecretReader } from "../../services/secrets/connection-secret.js";
import {
  DATABASE_READY_CONDITIONS,
  DatabaseCondition,
  DatabaseReason,
  FINALIZER,
  WAIT_REQUEUE_MS,
} from "../constants.js";
import type { InstanceDirectory } from "../instances/instance-directory.js";
import {
  ownedSecretRetainer,
  rotationPeriodOf,
  SECRET_PAGE_SIZE,
  SECRET_SELECTOR,
  secretNeedsRepair,
} from "./credentials.js";
import { cleanUp } from "./deletion.js";
import {
  DATABASE_INDEXES,
  databasesReferencing,
  instanceKeyFor,
  instanceKeyOf,
  instanceObject,
  resolveInstance,
  type InstanceSources,
  type Resolution,
} from "../instances/resolution.js";
import { isAbandoned, markerOf, namesOf } from "./naming.js";
import { provision } from "./provisioning.js";
import { CACHED_KIND_PAGE_SIZE, retainDatabase, retainInstance } from "../shared/cached-objects.js";
import { ConditionChanges } from "../shared/condition-events.js";
import { publishReport, recordEvents, Report, type StatusWriter } from "./report.js";
import { extensionsAllowedBy, TenantServer, templatesAllowedBy } from "./server.js";
import { VerifyCadence, verifiedAt } from "./verify-cadence.js";

/** What the controller needs besides the usual Operator dependencies. */
export interface DatabaseControllerOptions {
  /** The connection pools shared with the instance controllers. */
  readonly registry: ConnectionRegistry;
  /** The instances that are usable now, published by the instance controllers. */
  readonly directory: InstanceDirectory;
  /** Who may use a PostgresClusterInstance without an allowed-namespaces annotation. */
  readonly clusterInstanceDefault: ClusterInstanceDefault;
  /** How often an unchanged condition's heartbeat is refreshed. */
  readonly heartbeatIntervalMs?: number;
  /** How soon to look again while waiting for an instance or a server; default WAIT_REQUEUE_MS. */
  readonly waitRequeueMs?: number;
  /** How long after the start a Ready database waits for its instance's first check; default INSTANCE_CHECK_GRACE_MS. */
  readonly instanceCheckGraceMs?: number;
  /** The clock of the password rotation schedule; the system clock by default (tests move it). */
  readonly clock?: () => Date;
  /**
   * How often a Ready database's checks inside its own database (grants, default privileges,
   * extensions, a limited admin's login probe) run when nothing changed (--database-verify-period);
   * absent or 0: on every reconcile.
   */
  readonly databaseVerifyPeriodMs?: number;
}

/** After a start, how long a database that was Ready waits for its instance's first check at most. */
const INSTANCE_CHECK_GRACE_MS = 60_000;

/** The longest a reconcile waits for a password rotation to fall due before it looks again. */
const ROTATION_RECHECK_MAX_MS = 86_400_000;

/** Reconciles PostgresDatabase resources into a database, two roles and two Secrets each. */
export class PostgresDatabaseController extends Operator<PostgresDatabase> {
  readonly name = "postgresdatabase";
  protected readonly forKind = PostgresDatabaseKind;
  /** Not for Kompost's own finalizer and status writes: only a spec, label, annotation or deletion change. */
  protected override readonly forFilter = specOrMetadataChanged;
  /** Which databases use an instance: an index on the cache the instance controllers share. */
  protected override readonly forIndexes = DATABASE_INDEXES;
  /** A slim copy of each database, the same for every controller that caches them (see cached-objects.ts). */
  protected override readonly forRetain = retainDatabase;
  protected override readonly forPageSize = CACHED_KIND_PAGE_SIZE;
  /**
   * Owned Secrets: labelled ones only, and of those only what the retainer keeps (the Secrets of
   * the databases this controller's cache holds); listed in small pages, since anyone may label
   * large Secrets alike and a relist holds a page at once. One retainer per controller: its
   * readers (readSecret, the owned watch) share one informer.
   */
  private readonly secrets: WatchSource = {
    kind: secretKind,
    labelSelector: SECRET_SELECTOR,
    retain: ownedSecretRetainer(() => this.cache),
    pageSize: SECRET_PAGE_SIZE,
    filter: secretNeedsRepair,
  };
  protected override readonly owns: readonly WatchSource[] = [this.secrets];
  protected override readonly watches: readonly MappedWatch[] = [
    // Not for an instance's status writes: whether it is usable comes through the directory.
    {
      kind: PostgresInstanceKind,
      retain: retainInstance,
      map: (obj) => this.usersOf(instanceKeyFor("PostgresInstance", keyOf(obj))),
      filter: specOrMetadataChanged,
    },
    {
      kind: PostgresClusterInstanceKind,
      retain: retainInstance,
      map: (obj) => this.usersOf(instanceKeyFor("PostgresClusterInstance", keyOf(obj))),
      filter: specOrMetadataChanged,
    },
  ];
  private readonly unsubscribe: () => void;
  /** What this process last saw of each database's conditions, for the Events. */
  private readonly changes = new ConditionChanges();
  private readonly createdAt = Date.now();
  /** When each database's in-database checks are due. */
  private readonly cadence: VerifyCadence;

  constructor(
    deps: OperatorDeps,
    private readonly options: DatabaseControllerOptions,
  ) {
    super(deps);
    this.cadence = new VerifyCadence({ periodMs: options.databaseVerifyPeriodMs ?? 0 });
    // An instance that becomes usable (or stops being usable) concerns every database on it; so does
    // a server answering again after a connect cool-down: its databases need not wait for their retry.
    const enqueueUsers = (key: InstanceKey): void => this.usersOf(key).forEach((k) => this.enqueue(k));
    const unsubscribes = [options.directory.onChange(enqueueUsers), options.registry.onReachedAgain(enqueueUsers)];
    this.unsubscribe = () => unsubscribes.forEach((unsubscribe) => unsubscribe());
  }

  override async stop(timeoutMs: number): Promise<void> {
    this.unsubscribe();
    await super.stop(timeoutMs);
  }

  /** Forgets what this process saw of a database that is gone. */
  protected override onGone(key: ObjectKey): void {
    this.changes.forget(keyString(key));
    this.cadence.forget(keyString(key));
  }

  /** The databases of one instance share the workers fairly with those of other instances: a stuck server holds up only its own. */
  protected override schedulingGroup(db: PostgresDatabase): string {
    const key = instanceKeyOf(db);
    return key ? instanceKeyString(key) : "";
  }

  protected async reconcile(obj: PostgresDatabase, ctx: ReconcileContext): Promise<ReconcileResult> {
    const resolution = resolveInstance(obj, this.sources());
    const step = await handleFinalizer(this.client, PostgresDatabaseKind, obj, FINALIZER, {
      policy: finalizerPolicy(obj, resolution.allowed),
      added: () => faultPoint("finalizer-added"),
      cleanUp: (db) => this.finalize(db, ctx),
    });
    if (!step.proceed) {
      if (step.released) ctx.logger.info("Released PostgresDatabase", { database: namesOf(obj).database });
      return step.result;
    }
    // A finalizer write returns the whole object: read it as the cache keeps it (a long rotation
    // token by its digest), so that this reconcile and the next see the same annotations.
    const db = retainDatabase(step.object) as PostgresDatabase;
    if (!resolution.usable) return this.waitForInstance(db, resolution, ctx);
    return this.apply(db, resolution, ctx);
  }

  /** Drops everything on the server, so that the finalizer can go; or waits, saying why. */
  private async finalize(db: PostgresDatabase, ctx: ReconcileContext): Promise<CleanUpResult> {
    const report = new Report();
    const result = await cleanUp(db, this.sources(), this.options.registry, report).catch(async (err: unknown) => {
      // Never silent: the status says why the deletion is stuck while it is retried.
      report.fail(DatabaseCondition.Database, DatabaseReason.ReconcileFailed, errorMessage(err));
      await publishReport(this.statusWriter(ctx), db, report);
      throw err;
    });
    if (result === "waiting") {
      await publishReport(this.statusWriter(ctx), db, report);
      return { requeueAfterMs: this.waitMs };
    }
    await faultPoint("cleaned-up");
    recordEvents(this.statusWriter(ctx), db, report.events);
    return "done";
  }

  private async waitForInstance(
    db: PostgresDatabase,
    resolution: Resolution & { usable: false },
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    if (resolution.allowed && this.readyBeforeInstanceChecked(db)) {
      // Right after a start: the instance is not known to be unusable, only not checked yet.
      ctx.logger.debug("Waiting for the instance to be checked before reconciling PostgresDatabase");
      return { requeueAfterMs: this.waitMs };
    }
    const report = new Report();
    report.add(resolution.conditions);
    report.warning(resolution.conditions.at(-1)?.reason ?? DatabaseReason.InstanceNotReady, resolution.message);
    await publishReport(this.statusWriter(ctx), db, report);
    return { requeueAfterMs: this.waitMs };
  }

  /**
   * Ready as stored, and its instance not yet checked since this process started (for at most
   * INSTANCE_CHECK_GRACE_MS, should a check never finish): no reason yet to say otherwise.
   */
  private readyBeforeInstanceChecked(db: PostgresDatabase): boolean {
    if (Date.now() - this.createdAt > (this.options.instanceCheckGraceMs ?? INSTANCE_CHECK_GRACE_MS)) return false;
    const ready = db.status?.conditions?.some((c) => c.type === READY && c.status === "True") ?? false;
    const key = instanceKeyOf(db);
    return ready && key !== undefined && !this.options.directory.hasChecked(key);
  }

  /** Database, roles with their Secrets, grants; then the status and Events. */
  private async apply(
    db: PostgresDatabase,
    resolution: Resolution & { usable: true },
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    const report = new Report();
    report.add(resolution.conditions);
    report.names = namesOf(db);
    const instance = instanceObject(this.sources(), resolution.instance.key);
    const templates = templatesAllowedBy(instance);
    const now = this.options.clock?.() ?? new Date();
    const key = keyString(ctx.key);
    // A database that was Ready starts from the combined read; the in-database checks run when due.
    const verify = {
      facts: verifiedAt(db),
      deep: this.cadence.due(key, db, now.getTime()),
      passwordUnconfirmed: (role: string, password: string) => this.cadence.passwordUnconfirmed(key, role, password),
    };
    const server = new TenantServer(
      this.options.registry,
      resolution.instance,
      report.names,
      markerOf(db),
      templates,
      verify,
    );
    const rotateEvery = rotationPeriodOf(db, instance);
    try {
      const readSecret: SecretReader = (ns, name) => this.readSecret(ns, name);
      const allowedExtensions = extensionsAllowedBy(instance);
      await provision({ client: this.client, readSecret, db, server, report, now, rotateEvery, allowedExtensions });
    } catch (err) {
      this.cadence.failed(key);
      if (err instanceof ConnectionError) {
        report.fail(DatabaseCondition.Connection, err.reason, err.message);
        await publishReport(this.statusWriter(ctx), db, report);
        // Back when the connect cool-down ends: that connect tries the server again, in a retry
        // lane, so that a server that never answers holds no worker the other instances need.
        return { requeueAfterMs: Math.min(err.retryAfterMs ?? this.waitMs, this.waitMs), retry: true };
      }
      const reason = isLockTimeout(err) ? DatabaseReason.LockTimeout : DatabaseReason.ReconcileFailed;
      report.warning(reason, errorMessage(err));
      await publishReport(this.statusWriter(ctx), db, report);
      throw err;
    }
    for (const [role, password] of server.passwordsInSync) this.cadence.passwordInSync(key, role, password);
    if (failedReadiness(report)) this.cadence.failed(key);
    else if (server.deepChecked) this.cadence.passed(key, db, now.getTime());
    await publishReport(this.statusWriter(ctx), db, report);
    ctx.logger.debug("Reconciled PostgresDatabase", { database: report.names.database });
    // Come back when a password rotation falls due (the resync may be later); at most a day
    // ahead, since a timer cannot wait longer than 24.8 days.
    const due = report.nextRotationMs;
    if (due !== undefined)
      return { requeueAfterMs: Math.min(ROTATION_RECHECK_MAX_MS, Math.max(1000, due - now.getTime())) };
  }

  /**
   * The Secret from the watch cache, without a request: a Secret the cache does not hold (not
   * yet, not labelled, or not Kompost's) is read from the API server only when creating it finds
   * its name taken (see writeSecret), so a new database costs no GET per Secret.
   */
  private readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return Promise.resolve(this.cacheOf<V1Secret>(this.secrets).get({ namespace, name }));
  }

  /** The databases that reference the instance. */
  private usersOf(key: InstanceKey): ObjectKey[] {
    return databasesReferencing(this.cache, key).map((db) => keyOf(db));
  }

  private sources(): InstanceSources {
    return {
      instances: this.cacheOf({ kind: PostgresInstanceKind, retain: retainInstance }),
      clusterInstances: this.cacheOf({ kind: PostgresClusterInstanceKind, retain: retainInstance }),
      directory: this.options.directory,
      clusterInstanceDefault: this.options.clusterInstanceDefault,
    };
  }

  private statusWriter(ctx: ReconcileContext): StatusWriter {
    const { heartbeatIntervalMs } = this.options;
    return {
      client: this.client,
      recorder: this.recorder,
      changes: this.changes,
      logger: ctx.logger,
      ...(heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs } : {}),
    };
  }

  private get waitMs(): number {
    return this.options.waitRequeueMs ?? WAIT_REQUEUE_MS;
  }
}

/** A condition Ready depends on came out False (the next reconcile then runs every check). */
function failedReadiness(report: Report): boolean {
  const readiness: readonly string[] = DATABASE_READY_CONDITIONS;
  return report.conditions.some((condition) => condition.status === "False" && readiness.includes(condition.type));
}

/**
 * The finalizer's policy: removed when the deletion policy is abandon (also when set after
 * creation); else added unless the database may not use its instance (access first: such a
 * database creates nothing, so it must not hold anything back; one that lost access keeps its
 * finalizer to drop what it created).
 */
function finalizerPolicy(db: PostgresDatabase, allowed: boolean): FinalizerPolicy {
  if (isAbandoned(db)) return "release";
  return allowed ? "ensure" : "keep";
}
