import type { KubernetesObject } from "@kubernetes/client-node";
import { keyOf, keyString, type ObjectKey } from "./resource-kind.js";

/**
 * The index values of an object, like client-go's IndexFunc: e.g. the instance a database
 * references. An object may have none (it is then in no bucket of that index) or several.
 */
export type IndexFunc = (obj: KubernetesObject) => readonly string[];

/** Read access to an informer's cache. Objects are shared: never mutate them (clone first). */
export interface ReadonlyStore<T extends KubernetesObject> {
  /** The cached object for a key ("namespace/name" or an ObjectKey). */
  get(key: ObjectKey | string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[];
  /** Every cached key, as "namespace/name". */
  keys(): string[];
  /** The cached objects whose index `name` holds `value`, in no particular order; throws for an index never added. */
  byIndex(name: string, value: string): T[];
  readonly size: number;
}

/** A store that holds nothing, for a cache asked before its informer exists; every index answers empty. */
export function emptyStore<T extends KubernetesObject>(): ReadonlyStore<T> {
  return { get: () => undefined, list: () => [], keys: () => [], byIndex: () => [], size: 0 };
}

/** An informer's local copy of a collection, by "namespace/name", with the indexes added to it. */
export class ObjectStore<T extends KubernetesObject> implements ReadonlyStore<T> {
  private readonly items = new Map<string, T>();
  private readonly indexes = new Map<string, Index>();

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

  byIndex(name: string, value: string): T[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`the cache has no index "${name}": declare it on the watch that reads it`);
    const keys = index.buckets.get(value) ?? [];
    return [...keys].map((key) => this.items.get(key)!);
  }

  /**
   * Adds an index and fills it from what the store holds; adding the same function under the
   * same name again does nothing, another function under a taken name throws.
   */
  addIndex(name: string, indexFunc: IndexFunc): void {
    const existing = this.indexes.get(name);
    if (existing?.indexFunc === indexFunc) return;
    if (existing) throw new Error(`the cache already has an index "${name}" with another function`);
    const index: Index = { indexFunc, buckets: new Map(), valuesOf: new Map() };
    this.indexes.set(name, index);
    for (const [key, obj] of this.items) indexObject(index, key, obj);
  }

  /** Stores `obj` and returns the object it replaced, if any. */
  set(obj: T): T | undefined {
    const key = keyString(keyOf(obj));
    const previous = this.items.get(key);
    this.items.set(key, obj);
    for (const index of this.indexes.values()) {
      unindexObject(index, key);
      indexObject(index, key, obj);
    }
    return previous;
  }

  /** Removes a key and returns the object that was cached for it, if any. */
  delete(key: string): T | undefined {
    const previous = this.items.get(key);
    this.items.delete(key);
    for (const index of this.indexes.values()) unindexObject(index, key);
    return previous;
  }
}

/** One index: the keys per value, and the values each key was filed under (to take it out again). */
interface Index {
  readonly indexFunc: IndexFunc;
  readonly buckets: Map<string, Set<string>>;
  readonly valuesOf: Map<string, readonly string[]>;
}

function indexObject(index: Index, key: string, obj: KubernetesObject): void {
  const values = [...new Set(indexValues(index.indexFunc, obj))];
  if (values.length === 0) return;
  index.valuesOf.set(key, values);
  for (const value of values) {
    let bucket = index.buckets.get(value);
    if (!bucket) index.buckets.set(value, (bucket = new Set()));
    bucket.add(key);
  }
}

/** A function that throws files the object under no value: a bad object must not stop the informer. */
function indexValues(indexFunc: IndexFunc, obj: KubernetesObject): readonly string[] {
  try {
    return indexFunc(obj);
  } catch {
    return [];
  }
}

function unindexObject(index: Index, key: string): void {
  for (const value of index.valuesOf.get(key) ?? []) {
    const bucket = index.buckets.get(value);
    bucket?.delete(key);
    if (bucket?.size === 0) index.buckets.delete(value);
  }
  index.valuesOf.delete(key);
}
