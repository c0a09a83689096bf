/**
 * `spec.params` of a PostgresDatabase, checked against what PostgreSQL accepts
 * before any of it reaches CREATE DATABASE; every refusal names the param and
 * says what to do, instead of echoing an SQL error.
 */
import pg from "pg";
import { UserFixableError } from "./errors.js";
import type { Queryable } from "./queryable.js";
import { PENDING_DATABASE_PREFIX, parseMarker } from "./ownership.js";
import { CATALOG, type CreateDatabaseOptions, MAX_IDENTIFIER_BYTES } from "./sql.js";

/** Validated, typed params for CREATE DATABASE. */
export type DatabaseParams = CreateDatabaseOptions;

/** The keys `spec.params` may have (snake_case, as in the original Kompost). */
export const PARAM_KEYS = [
  "template",
  "encoding",
  "locale",
  "lc_collate",
  "lc_ctype",
  "connection_limit",
  "is_template",
] as const;

const LOCALE_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
const ENCODING_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const MAX_CONNECTION_LIMIT = 2147483647;
const DOING = "while checking params";

/** Checks `params` (as written in the spec) on the server `db` and returns them typed; throws a user-fixable error naming the bad one. */
export async function validateParams(
  db: Queryable,
  params: Readonly<Record<string, unknown>> = {},
  allowedTemplates: readonly string[] = [],
): Promise<DatabaseParams> {
  const unknownKeys = Object.keys(params).filter((key) => !(PARAM_KEYS as readonly string[]).includes(key));
  if (unknownKeys.length > 0) {
    throw invalid(`${show(unknownKeys[0])} is not a known key of params; use one of ${PARAM_KEYS.join(", ")}`);
  }
  const result = {
    template: await checkTemplate(db, params.template, allowedTemplates),
    encoding: await checkEncoding(db, params.encoding),
    locale: checkLocale("locale", params.locale),
    lcCollate: checkLocale("lc_collate", params.lc_collate),
    lcCtype: checkLocale("lc_ctype", params.lc_ctype),
    connectionLimit: checkConnectionLimit(params.connection_limit),
    isTemplate: checkBoolean("is_template", params.is_template),
  };
  // locale together with lc_collate/lc_ctype is the server's to judge, as in the original: PostgreSQL 15+ takes
  // all three (lc_collate and lc_ctype win over locale), older servers refuse it (see explainParamsRefusal).
  return result;
}

/**
 * SQLSTATEs of CREATE DATABASE refusing its options: invalid_parameter_value, wrong_object_type
 * (a bad locale name), and syntax_error ("conflicting or redundant options", from servers before
 * PostgreSQL 15 given locale with lc_collate or lc_ctype).
 */
const PARAMS_REFUSED = new Set(["22023", "42809", "42601"]);

/**
 * Turns the server's refusal of CREATE DATABASE options (unknown locale, encoding
 * that does not fit the locale or the template) into a message naming the params
 * involved; other errors are returned unchanged.
 */
export function explainParamsRefusal(err: unknown, params: DatabaseParams): unknown {
  if (!(err instanceof pg.DatabaseError) || !PARAMS_REFUSED.has(err.code ?? "")) return err;
  const named = describeParams(params);
  if (/conflicting or redundant options/i.test(err.message)) {
    return invalid(
      `this server does not take params.locale together with params.lc_collate or params.lc_ctype (${err.detail ?? err.message}); set either locale or both of those`,
    );
  }
  if (err.code === "42601") return err;
  if (/locale name/i.test(err.message)) {
    const bad = localeParams(params).find(([, value]) => err.message.includes(`"${value}"`));
    const which = bad === undefined ? "a locale param" : `params.${bad[0]} "${bad[1]}"`;
    return invalid(`${which} is not a locale this server knows; use one listed by \`locale -a\` on the server`);
  }
  if (/template/i.test(err.message) || /template/i.test(err.hint ?? "")) {
    return invalid(
      `the encoding or locale in params (${named}) differs from the template database's; set params.template to template0`,
    );
  }
  if (/encoding/i.test(err.message)) {
    return invalid(`params.encoding does not fit the locale on this server (${named}); choose a matching pair`);
  }
  return invalid(`the server refused these params (${named}); check them against CREATE DATABASE's documentation`);
}

/** The templates every instance allows: the ones every server has. */
export const BUILT_IN_TEMPLATES: readonly string[] = ["template0", "template1"];

/**
 * params.template may name only a built-in template or one the platform listed in the
 * instance's spec.allowedTemplates, and never a database Kompost made for a
 * PostgresDatabase (listed or not): cloning it would hand one tenant another's data.
 */
async function checkTemplate(
  db: Queryable,
  value: unknown,
  allowedTemplates: readonly string[],
): Promise<string | undefined> {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.includes("\0")) {
    throw invalid("params.template must be a database name");
  }
  if (Buffer.byteLength(value, "utf8") > MAX_IDENTIFIER_BYTES) {
    throw invalid(`params.template is longer than ${MAX_IDENTIFIER_BYTES} bytes, so no database has that name`);
  }
  // Decided before any lookup, with one answer for all: params cannot probe for other tenants' databases.
  if (!BUILT_IN_TEMPLATES.includes(value) && !allowedTemplates.includes(value)) {
    throw invalid(
      `params.template ${show(value)} is not a template database this instance allows; use template0 or template1, ` +
        `or ask the platform team to add it to the instance's spec.allowedTemplates`,
    );
  }
  const { rows } = await db.query<{ istemplate: boolean; comment: string | null }>(CATALOG.templateCandidate, [value]);
  const row = rows[0];
  if (row === undefined) {
    throw invalid(
      `params.template ${show(value)} is listed in the instance's spec.allowedTemplates but does not exist`,
    );
  }
  if (parseMarker(row.comment) !== undefined || value.startsWith(PENDING_DATABASE_PREFIX)) {
    throw invalid(
      `params.template ${show(value)} was created by Kompost for a PostgresDatabase; such a database is never ` +
        `a template for another, listed in spec.allowedTemplates or not`,
    );
  }
  return value;
}

async function checkEncoding(db: Queryable, value: unknown): Promise<string | undefined> {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return encodingByNumber(db, value);
  if (typeof value !== "string" || !ENCODING_PATTERN.test(value)) {
    throw invalid(`params.encoding ${show(value)} is not an encoding name (letters, digits, "_" and "-")`);
  }
  const { rows } = await db.query<{ known: boolean }>(CATALOG.encodingKnown, [value]);
  if (rows[0]?.known !== true) {
    throw invalid(`params.encoding ${show(value)} is not an encoding this server knows, e.g. UTF8`);
  }
  return value;
}

/** The original Kompost took an encoding number too (the CRD's int-or-string): it becomes the encoding's name. */
async function encodingByNumber(db: Queryable, value: number): Promise<string> {
  const MAX_ENCODING_NUMBER = 1000;
  if (Number.isInteger(value) && value >= 0 && value < MAX_ENCODING_NUMBER) {
    const { rows } = await db.query<{ name: string }>(CATALOG.encodingName, [value]);
    if (rows[0]?.name) return rows[0].name;
  }
  throw invalid(
    `params.encoding ${show(value)} is not an encoding number this server knows; prefer a name such as UTF8`,
  );
}

function checkLocale(key: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !LOCALE_PATTERN.test(value)) {
    throw invalid(
      `params.${key} ${show(value)} is not a locale name (up to 64 letters, digits, "_", ".", "@" and "-", e.g. en_US.UTF-8)`,
    );
  }
  return value;
}

function checkConnectionLimit(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number = typeof value === "string" && /^-?[0-9]{1,10}$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < -1 || number > MAX_CONNECTION_LIMIT) {
    throw invalid(
      `params.connection_limit ${show(value)} must be an integer from -1 (no limit) to ${MAX_CONNECTION_LIMIT}`,
    );
  }
  return number;
}

function checkBoolean(key: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "false") return value === "true";
  throw invalid(`params.${key} ${show(value)} must be true or false`);
}

function localeParams(params: DatabaseParams): [string, string][] {
  const entries: [string, string | undefined][] = [
    ["locale", params.locale],
    ["lc_collate", params.lcCollate],
    ["lc_ctype", params.lcCtype],
  ];
  return entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
}

function describeParams(params: DatabaseParams): string {
  const parts = [
    params.template === undefined ? undefined : `template ${JSON.stringify(params.template)}`,
    params.encoding === undefined ? undefined : `encoding ${JSON.stringify(params.encoding)}`,
    ...localeParams(params).map(([key, value]) => `${key} ${show(value)}`),
  ];
  const named = parts.filter((part) => part !== undefined);
  return named.length > 0 ? named.join(", ") : "server defaults";
}

/** A user's value for a message: JSON-quoted and cut, so hostile input cannot flood a condition. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function invalid(detail: string): UserFixableError {
  return new UserFixableError("InvalidParameter", DOING, detail);
}
