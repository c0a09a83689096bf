import type { KubernetesObject } from "@kubernetes/client-node";
import { keyOf, keyString, type ObjectKey } from "./resource-kind.js";

/** Read access to an informer's cache. Objects are shared: never mutate them (clone first). */
export interface ReadonlyStore<T extends KubernetesObject> {
  /** The cached object for a key ("namespace/name" or an ObjectKey). */
  get(key: ObjectKey | string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[];
  /** Every cached key, as "namespace/name". */
  keys(): string[];
  readonly size: number;
}

/** An informer's local copy of a collection, by "namespace/name". */
export class ObjectStore<T extends KubernetesObject> implements ReadonlyStore<T> {
  private readonly items = new Map<string, T>();

  get size(): number {
    return this.items.size;
  }

  get(key: ObjectKey | string): T | undefined {
    return this.items.get(typeof key === "string" ? key : keyString(key));
  }

  list(namespace?: string): T[] {
    const all = [...this.items.values()];
    return namespace === undefined ? all : all.filter((obj) => obj.metadata?.namespace === namespace);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  /** Stores `obj` and returns the object it replaced, if any. */
  set(obj: T): T | undefined {
    const key = keyString(keyOf(obj));
    const previous = this.items.get(key);
    this.items.set(key, obj);
    return previous;
  }

  /** Removes a key and returns the object that was cached for it, if any. */
  delete(key: string): T | undefined {
    const previous = this.items.get(key);
    this.items.delete(key);
    return previous;
  }
}
