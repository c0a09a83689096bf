/**
 * The connect cool-down of each instance: after a connect found no server (Unreachable) or no
 * answer (Timeout), further connects to it fail at once with that failure for a while, then one
 * tries again, so that the reconciles of a dead server's databases do not each hold a worker
 * for the connect timeout.
 */
import { ConnectionError, connectionError, isPoolBusy, meansNoServer } from "./connection-failures.js";
import type { ConnectionSettings, InstanceConnectionSpec } from "./connection-spec.js";
import { specFingerprint } from "./connection-spec.js";
import { instanceKeyString, type InstanceKey } from "./instance-key.js";

/** An instance's last connect found no server or no answer: connects fail at once until `until`. */
interface OpenCooldown {
  readonly fingerprint: string;
  failure: unknown;
  until: number;
  /** A connect is trying the server again; the others keep failing at once until it is done. */
  trying: boolean;
}

/** Per instance: whether its server was lately found gone, and who wants to hear that it is back. */
export class UnreachableCooldown {
  private readonly open = new Map<string, OpenCooldown>();
  /** Per instance: the tick of the last sign that the server is there (a connect or probe that reached it). */
  private readonly reachedAt = new Map<string, number>();
  /** Orders connect starts and the signs that a server is there, without a clock. */
  private ticks = 0;
  private readonly reachedAgainListeners = new Set<(key: InstanceKey) => void>();

  constructor(private readonly settings: ConnectionSettings) {}

  /**
   * Runs `connect` unless the instance's last connect found no server within the cool-down (then
   * throws that failure again at once); one connect at a time tries again after it. A failure
   * that says no server opens the cool-down, counted from when that connect began (one that hung
   * for the connect timeout has waited already: a black-holed server is tried again at once, so
   * that it is found back within a connect timeout), unless the server was reached after this
   * connect began (a connect that hung from before the server came back is old news), and is
   * thrown as a ConnectionError with `retryAfterMs`; any answer of the server ends the cool-down.
   */
  async through<C>(key: InstanceKey, spec: InstanceConnectionSpec, connect: () => Promise<C>): Promise<C> {
    const open = this.failIfCooling(key, spec);
    if (open) open.trying = true;
    const started = { tick: ++this.ticks, ms: Date.now() };
    try {
      const connected = await connect();
      this.reached(key);
      return connected;
    } catch (err) {
      const until = this.noteFailure(key, spec, err, started);
      if (until === undefined) throw err;
      const cause = connectionError(err, spec, this.settings);
      const retryAfterMs = Math.max(1, until - Date.now());
      throw new ConnectionError(cause.reason, cause.message, cause.sqlState, { cause, retryAfterMs });
    } finally {
      if (open) open.trying = false;
    }
  }

  /** Throws the instance's recent no-server failure (a ConnectionError) while its cool-down holds. */
  check(key: InstanceKey, spec: InstanceConnectionSpec): void {
    this.failIfCooling(key, spec);
  }

  /** The cool-down check, returning the ended cool-down a connect may try the server again after, if any. */
  private failIfCooling(key: InstanceKey, spec: InstanceConnectionSpec): OpenCooldown | undefined {
    const open = this.open.get(instanceKeyString(key));
    if (!open || open.fingerprint !== specFingerprint(spec)) return undefined;
    if (!open.trying && Date.now() >= open.until) return open;
    const cooldown = `${this.settings.unreachableCooldownMillis} ms`;
    const cause = connectionError(open.failure, spec, this.settings);
    const message = `${cause.message}; a connect begun within the last ${cooldown} failed like this, so Kompost waits that long before trying again`;
    // While one connect tries the server again, when it is done is not known yet.
    const retryAfterMs = open.trying ? undefined : Math.max(1, open.until - Date.now());
    throw new ConnectionError(cause.reason, message, undefined, retryAfterMs === undefined ? {} : { retryAfterMs });
  }

  /** The server is there: connects go ahead, and those that began before now cannot start the cool-down again. */
  reached(key: InstanceKey): void {
    const id = instanceKeyString(key);
    const wasOpen = this.open.delete(id);
    this.reachedAt.set(id, ++this.ticks);
    if (wasOpen) for (const listener of this.reachedAgainListeners) listener(key);
  }

  /** Calls `listener` with an instance whose cool-down ended because its server was reached again; returns the unsubscribe. */
  onReachedAgain(listener: (key: InstanceKey) => void): () => void {
    this.reachedAgainListeners.add(listener);
    return () => this.reachedAgainListeners.delete(listener);
  }

  /** Forgets all about the instance (it was deleted). */
  forget(key: InstanceKey): void {
    const id = instanceKeyString(key);
    this.open.delete(id);
    this.reachedAt.delete(id);
  }

  /**
   * Starts the cool-down for a failure that says no server, from when the connect began, and
   * returns its end; or ends it for an answer of the server (undefined then, as for old news).
   */
  private noteFailure(
    key: InstanceKey,
    spec: InstanceConnectionSpec,
    err: unknown,
    started: { readonly tick: number; readonly ms: number },
  ): number | undefined {
    const id = instanceKeyString(key);
    const cooldown = this.settings.unreachableCooldownMillis;
    if (cooldown > 0 && meansNoServer(err, spec, this.settings)) {
      if ((this.reachedAt.get(id) ?? 0) > started.tick) return undefined;
      const fingerprint = specFingerprint(spec);
      const open = this.open.get(id);
      if (open?.fingerprint !== fingerprint) {
        const until = started.ms + cooldown;
        this.open.set(id, { fingerprint, failure: err, until, trying: false });
        return until;
      }
      // Connects that hung together fail together: they extend the one cool-down, and keep its
      // connect that is trying the server again the only one.
      open.failure = err;
      open.until = Math.max(open.until, started.ms + cooldown);
      return open.until;
    }
    // The server answered, if only to refuse (a busy pool says nothing about it).
    if (!isPoolBusy(err)) this.reached(key);
    return undefined;
  }
}
