import { isDeepStrictEqual } from "node:util";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { PostgresDatabaseKind } from "../../api/v1alpha1/index.js";
import type { ConditionInput } from "../../runtime/conditions.js";
import type { ReconcileResult } from "../../runtime/errors.js";
import { handleFinalizer, type CleanUpResult } from "../../runtime/finalizers.js";
import { Operator, type MappedWatch, type OperatorDeps, type ReconcileContext } from "../../runtime/operator.js";
import { keyOf, secretKind, type ObjectKey, type ResourceKind } from "../../runtime/resource-kind.js";
import { updateStatus, type StatusMutator, type StatusOf } from "../../runtime/status.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import { instanceKeyString, type InstanceKey } from "../../services/postgres/instance-key.js";
import { readSecret } from "../../services/secrets/connection-secret.js";
import {
  FINALIZER,
  INSTANCE_READY_CONDITIONS,
  INSTANCE_RETRY_MS,
  InstanceCondition,
  InstanceReason,
  WAIT_REQUEUE_MS,
} from "../constants.js";
import { conditionsMutator } from "../shared/status-conditions.js";
import { allowedNamespacesCondition } from "./access-condition.js";
import { CACHED_KIND_PAGE_SIZE, retainDatabase, retainInstance } from "../shared/cached-objects.js";
import { ConditionAnnouncer } from "../shared/condition-events.js";
import { checkConnection, connectionSpecOf, notChecked } from "./connection-check.js";
import { resolveCredentials } from "./credentials.js";
import type { InstanceDirectory, UsableInstance } from "../instances/instance-directory.js";
import { DATABASE_INDEXES, instanceKeyOf, objectKeyOf } from "../instances/resolution.js";
import { dependentDatabases, deletionBlockedCondition, releaseInstance } from "./deletion.js";
import {
  heldPasswordSecretsMutator,
  holdPasswordSecret,
  releasePasswordSecrets,
  type HeldPasswordSecrets,
} from "./password-hold.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";
import { forgetInstanceState, recordInstanceState } from "./instance-metrics.js";
import { passwordSecretsOnly } from "./password-secret-watch.js";
import { checkAdminPrivileges } from "./privilege-check.js";

/** What an instance controller needs besides the runtime's dependencies. */
export interface InstanceControllerDeps extends OperatorDeps {
  /** The connection pools shared with the database controller. */
  readonly registry: ConnectionRegistry;
  /** Where usable instances are published for the database controller. */
  readonly directory: InstanceDirectory;
  /** How often an unchanged condition gets a new heartbeat; default 5 min. */
  readonly statusHeartbeatIntervalMs?: number;
  /** How soon an instance that is not Ready is checked again; default INSTANCE_RETRY_MS. */
  readonly retryAfterMs?: number;
  /** How soon a deletion that waits for PostgresDatabases looks again, besides their watch; default WAIT_REQUEUE_MS. */
  readonly waitRequeueMs?: number;
}

/** What the checks of one reconcile found. */
interface Findings {
  readonly conditions: readonly ConditionInput[];
  /** Set when the instance may be used right now. */
  readonly usable?: UsableInstance;
  /** The password came from spec.plainPassword. */
  readonly plainPassword: boolean;
}

/** The Warning for TLS without spec.ssl.verify, once per generation: the original's default checks nothing. */
const UNVERIFIED_TLS_WARNING =
  "spec.ssl.verify is not set, so the server certificate is not checked (verify_none, the original Kompost's default): set verify_peer (or verify_ca) and spec.ssl.ca";

/** The Warning that recommends a Secret, once per generation of an instance with a plain password. */
const PLAIN_PASSWORD_WARNING =
  "spec.plainPassword is readable by anyone who may read this resource: store the password in a Secret and reference it with spec.passwordSecretRef";

/**
 * Reconciles PostgresInstances or PostgresClusterInstances (one controller per kind, told
 * apart by the adapter): resolves the password, connects, checks the admin's privileges and
 * the allowed-namespaces annotation, reports all of it as conditions and Events, and
 * publishes the instance to the directory while it is usable. A finalizer holds a deleted
 * instance while PostgresDatabases still use it.
 */
export class InstanceController<T extends AnyInstance> extends Operator<T> {
  readonly name: string;
  protected readonly forKind: ResourceKind;
  /** A slim copy of each instance, the same as the database controller's watch keeps (see cached-objects.ts). */
  protected override readonly forRetain = retainInstance;
  protected override readonly forPageSize = CACHED_KIND_PAGE_SIZE;
  protected override readonly watches: readonly MappedWatch[];
  private readonly secretSource: MappedWatch;
  private readonly databaseSource: MappedWatch;
  private readonly registry: ConnectionRegistry;
  private readonly directory: InstanceDirectory;
  private readonly announcer: ConditionAnnouncer;
  /** Per instance id: the generation it was last warned about, per reason of a once-per-generation Warning. */
  private readonly warnedGeneration = new Map<string, Map<string, number>>();

  constructor(
    private readonly instanceDeps: InstanceControllerDeps,
    private readonly adapter: InstanceKindAdapter<T>,
  ) {
    super(instanceDeps);
    this.name = adapter.controllerName;
    this.forKind = adapter.kind;
    this.registry = instanceDeps.registry;
    this.directory = instanceDeps.directory;
    this.announcer = new ConditionAnnouncer(this.recorder, [InstanceCondition.Connected]);
    this.secretSource = {
      kind: secretKind,
      // Metadata says which instances a change concerns; the password is read when reconciling.
      metadataOnly: true,
      // Only Secrets an instance references stay in memory, never others' Secrets.
      retain: passwordSecretsOnly(adapter, () => this.cache),
      ...(adapter.secretFieldSelector ? { fieldSelector: adapter.secretFieldSelector } : {}),
      map: (secret) => this.instancesReadingSecret(secret),
    };
    this.databaseSource = {
      kind: PostgresDatabaseKind,
      retain: retainDatabase,
      // The same index as the database controller's, on the one PostgresDatabase cache they share.
      indexes: DATABASE_INDEXES,
      map: (database) => this.deletingInstanceOf(database),
    };
    this.watches = [this.secretSource, this.databaseSource];
  }

  protected async reconcile(instance: T, ctx: ReconcileContext): Promise<ReconcileResult> {
    const step = await handleFinalizer(this.client, this.forKind, instance, FINALIZER, {
      cleanUp: (deleting) => this.finalize(deleting, ctx),
    });
    if (!step.proceed) {
      if (step.released) ctx.logger.info(`Released ${this.forKind.kind}`);
      return step.result;
    }
    const { instance: current, held } = await this.holdPassword(step.object);
    const findings = await this.check(current);
    await this.report(current, findings, held, ctx);
    const key = this.adapter.instanceKey(ctx.key);
    this.publish(key, findings.usable, ctx);
    recordInstanceState(key, isTrue(findings, InstanceCondition.Connected), findings.usable !== undefined);
    return findings.usable ? undefined : { requeueAfterMs: this.instanceDeps.retryAfterMs ?? INSTANCE_RETRY_MS };
  }

  protected override async onGone(key: ObjectKey): Promise<void> {
    await releaseInstance(this.directory, this.registry, this.adapter, key);
    this.forget(key);
  }

  /** Deleting: serves the PostgresDatabases that still need the instance, then releases it so that the finalizer can go. */
  private async finalize(instance: T, ctx: ReconcileContext): Promise<CleanUpResult> {
    const users = dependentDatabases(this.cacheOf<PostgresDatabase>(this.databaseSource), this.adapter, instance);
    if (users.length > 0) return this.serveDependents(instance, users, ctx);
    await releaseInstance(this.directory, this.registry, this.adapter, ctx.key);
    await releasePasswordSecrets(this.client, this.adapter, instance, this.cache, true);
    // Forget first: once the finalizer is gone the object may vanish before this reconcile returns.
    this.forget(ctx.key);
    return "done";
  }

  /**
   * Deleting while PostgresDatabases still need the instance: keeps checking and publishing it
   * as when not deleting, since their finalizers need it to drop what they created (also after
   * a restart, or when it was not usable as deletion began). Details published earlier stay
   * published when a check fails, e.g. once the password Secret went with its namespace.
   */
  private async serveDependents(
    instance: T,
    users: readonly string[],
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    const { instance: current, held } = await this.holdPassword(instance);
    const findings = await this.check(current);
    const blocked = deletionBlockedCondition(users);
    const conditions = [...findings.conditions, blocked];
    const mutators = [this.conditionsMutator(conditions, false), heldPasswordSecretsMutator<T>(held)];
    await updateStatus(this.client, this.forKind, current, mutators);
    const changed = this.announcer.announce(instance, this.id(ctx.key), instance.status?.conditions, conditions);
    if (changed.includes(blocked)) ctx.logger.info("Deletion waits for PostgresDatabases", { databases: users });
    const key = this.adapter.instanceKey(ctx.key);
    if (findings.usable) this.publish(key, findings.usable, ctx);
    recordInstanceState(key, isTrue(findings, InstanceCondition.Connected), this.directory.get(key) !== undefined);
    const retryMs = findings.usable ? this.instanceDeps.waitRequeueMs : this.instanceDeps.retryAfterMs;
    return { requeueAfterMs: retryMs ?? (findings.usable ? WAIT_REQUEUE_MS : INSTANCE_RETRY_MS) };
  }

  /**
   * Holds the password Secret while the instance exists, and releases Secrets a changed reference
   * left held; the reconcile's status write records `held`. Returns the instance as stored now.
   */
  private async holdPassword(instance: T): Promise<{ readonly instance: T; readonly held: HeldPasswordSecrets }> {
    const current = await holdPasswordSecret(this.client, this.adapter, instance, this.cacheOf(this.secretSource));
    const held = await releasePasswordSecrets(this.client, this.adapter, current, this.cache, false);
    return { instance: current, held };
  }

  /** Steps 3–6: credentials, connection, privileges, annotation; each later step needs the earlier ones. */
  private async check(instance: T): Promise<Findings> {
    const access = allowedNamespacesCondition(instance, this.adapter);
    const read = (namespace: string, name: string) => readSecret(this.client, namespace, name);
    const credentials = await resolveCredentials(instance.spec, this.adapter.secretNamespace(instance), read);
    if (!credentials.ok) {
      const connected = notChecked(InstanceCondition.Connected, "no credentials");
      const privileged = notChecked(InstanceCondition.Privileged, "no credentials");
      return { conditions: [credentials.condition, connected, privileged, access], plainPassword: false };
    }
    const spec = connectionSpecOf(instance.spec, credentials.password);
    const connected = await checkConnection(spec);
    if (connected.status !== "True") {
      const privileged = notChecked(InstanceCondition.Privileged, "not connected");
      return { conditions: [credentials.condition, connected, privileged, access], plainPassword: credentials.plain };
    }
    const key = this.adapter.instanceKey(keyOf(instance));
    this.registry.reachable(key); // a database's recent failed connect must not fail the privilege check
    const privileges = await checkAdminPrivileges(this.registry, key, spec);
    const conditions = [credentials.condition, connected, privileges.condition, access];
    const usable =
      privileges.condition.status === "True" && privileges.facts ? { key, spec, ...privileges.facts } : undefined;
    return { conditions, plainPassword: credentials.plain, ...(usable ? { usable } : {}) };
  }

  /** Step 7: writes the conditions, Ready and the held password Secrets (only when something changed) and records Events for changes. */
  private async report(
    instance: T,
    findings: Findings,
    held: HeldPasswordSecrets,
    ctx: ReconcileContext,
  ): Promise<void> {
    const mutators = [this.conditionsMutator(findings.conditions, true), heldPasswordSecretsMutator<T>(held)];
    await updateStatus(this.client, this.forKind, instance, mutators);
    const id = this.id(keyOf(instance));
    const changed = this.announcer.announce(instance, id, instance.status?.conditions, findings.conditions);
    for (const { type, status, reason, message } of changed) {
      const fields = { condition: type, status, reason, detail: message };
      if (status === "True") ctx.logger.info(`Checked ${this.forKind.kind}`, fields);
      else if (reason !== InstanceReason.NotChecked) ctx.logger.warn(`Checked ${this.forKind.kind}`, fields);
    }
    if (findings.plainPassword) {
      this.warnOncePerGeneration(instance, InstanceReason.PlainPassword, PLAIN_PASSWORD_WARNING);
    }
    if (instance.spec.ssl?.enabled && instance.spec.ssl.verify === undefined) {
      this.warnOncePerGeneration(instance, InstanceReason.UnverifiedTLS, UNVERIFIED_TLS_WARNING);
    }
  }

  /** Records a Warning the first time this generation of the instance shows what it warns about. */
  private warnOncePerGeneration(instance: T, reason: string, message: string): void {
    const id = this.id(keyOf(instance));
    const warned = this.warnedGeneration.get(id) ?? new Map<string, number>();
    const generation = instance.metadata.generation ?? 0;
    if (warned.get(reason) === generation) return;
    this.warnedGeneration.set(id, warned.set(reason, generation));
    this.recorder.event(instance, "Warning", reason, message);
  }

  /** Publishes a usable instance (only when its details changed, so listeners are not woken per resync); else withdraws it. */
  private publish(key: InstanceKey, usable: UsableInstance | undefined, ctx: ReconcileContext): void {
    const published = this.directory.get(key);
    if (!usable) {
      if (published) ctx.logger.info(`${this.forKind.kind} is no longer usable`);
      this.directory.withdraw(key);
      return;
    }
    if (isDeepStrictEqual(published, usable)) return;
    this.directory.publish(usable);
    ctx.logger.info(`${this.forKind.kind} is usable`, {
      superuser: usable.superuser,
      major: usable.serverMajorVersion,
    });
  }

  private conditionsMutator(conditions: readonly ConditionInput[], withReady: boolean): StatusMutator<StatusOf<T>, T> {
    const readyFrom = withReady ? INSTANCE_READY_CONDITIONS : undefined;
    return conditionsMutator<T>(conditions, readyFrom, this.instanceDeps.statusHeartbeatIntervalMs);
  }

  /** The instances whose password lives in this Secret. */
  private instancesReadingSecret(secret: KubernetesObject): ObjectKey[] {
    const { namespace, name } = secret.metadata ?? {};
    return this.cache
      .list()
      .filter((instance) => instance.spec.passwordSecretRef?.name === name)
      .filter((instance) => this.adapter.secretNamespace(instance) === namespace)
      .map((instance) => keyOf(instance));
  }

  /** The instance a PostgresDatabase references, when that instance is being deleted and may be waiting for it. */
  private deletingInstanceOf(database: KubernetesObject): ObjectKey[] {
    const ref = instanceKeyOf(database as PostgresDatabase);
    if (ref?.kind !== this.forKind.kind) return [];
    const key = objectKeyOf(ref);
    return this.cache.get(key)?.metadata.deletionTimestamp ? [key] : [];
  }

  private id(key: ObjectKey): string {
    return instanceKeyString(this.adapter.instanceKey(key));
  }

  private forget(key: ObjectKey): void {
    forgetInstanceState(this.adapter.instanceKey(key));
    this.announcer.forget(this.id(key));
    this.warnedGeneration.delete(this.id(key));
  }
}

function isTrue(findings: Findings, type: string): boolean {
  return findings.conditions.some((condition) => condition.type === type && condition.status === "True");
}
