import { isDeepStrictEqual } from "node:util";

/** A JSON value as the API server sends and accepts it. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Returns `value` as plain JSON: `undefined` fields dropped, Dates as strings (what the server would store). */
export function toJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * The RFC 7386 JSON merge patch that turns `from` into `to`, or `undefined` when they are
 * equal. Removed fields become `null`; arrays are replaced whole, as merge patch requires.
 */
export function mergePatchBetween(from: unknown, to: unknown): unknown {
  const a = toJson(from);
  const b = toJson(to);
  if (isDeepStrictEqual(a, b)) return undefined;
  if (!isObject(a) || !isObject(b)) return b === undefined ? null : b;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(a)) {
    if (!(key in b)) patch[key] = null;
  }
  for (const [key, value] of Object.entries(b)) {
    const sub = key in a ? mergePatchBetween(a[key], value) : value;
    if (sub !== undefined) patch[key] = sub;
  }
  return patch;
}
