/**
 * What a user may add to a connection Secret (spec.secret): extra keys built from a fixed set
 * of placeholders by plain substitution, and extra labels and annotations. Everything is checked
 * before anything is written; what does not pass is an InvalidSecretSpecError naming the field.
 */
import { CONNECTION_SECRET_KEYS, sslMode, type ConnectionDetails } from "./connection-details.js";

/** A map of strings as the generated API types give it. */
export type StringMap = Readonly<{ [key: string]: string | undefined }>;

/** The user's additions to a connection Secret, as in spec.secret. */
export interface SecretSpec {
  /** Secret key → template; `{{ name }}` is replaced by the placeholder's value, everything else kept as written. */
  readonly extraKeys?: StringMap;
  readonly labels?: StringMap;
  readonly annotations?: StringMap;
}

/** The placeholders an extra key may use, and where each value comes from. */
export const PLACEHOLDERS = {
  host: (d: ConnectionDetails) => d.host,
  port: (d: ConnectionDetails) => String(d.port),
  database: (d: ConnectionDetails) => d.database,
  user: (d: ConnectionDetails) => d.user,
  password: (d: ConnectionDetails) => d.password,
  sslmode: (d: ConnectionDetails) => sslMode(d),
  ca: (d: ConnectionDetails) => (d.ssl.enabled ? (d.ssl.ca ?? "") : ""),
} as const;

/** The prefix of Kompost's own labels and annotations: spec.secret cannot set any of them. */
export const RESERVED_PREFIX = "kompost.chuge.li/";

/** spec.secret cannot be applied as written; the message names the field and says what to write instead. */
export class InvalidSecretSpecError extends Error {
  override readonly name = "InvalidSecretSpecError";
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const NAME_PART = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The extra keys' values for these details. Throws InvalidSecretSpecError for a key that is not a
 * valid Secret key or is one of Kompost's own, and for a placeholder outside PLACEHOLDERS.
 */
export function renderExtraKeys(spec: SecretSpec | undefined, details: ConnectionDetails): Record<string, string> {
  const rendered: Record<string, string> = {};
  for (const [key, template] of entries(spec?.extraKeys)) {
    checkExtraKey(key);
    rendered[key] = template.replace(PLACEHOLDER, (_match, name: string) => {
      if (!Object.hasOwn(PLACEHOLDERS, name)) {
        throw new InvalidSecretSpecError(
          `spec.secret.extraKeys.${key} uses the unknown placeholder "{{${name}}}"; use only ${placeholderList()}`,
        );
      }
      return PLACEHOLDERS[name as keyof typeof PLACEHOLDERS](details);
    });
  }
  return rendered;
}

/** Throws InvalidSecretSpecError unless every extra label and annotation is valid and none is Kompost's own. */
export function checkSecretMetadata(spec: SecretSpec | undefined): void {
  for (const [key, value] of entries(spec?.labels)) {
    checkMetadataKey("labels", key);
    if (value.length > 63 || (value !== "" && !NAME_PART.test(value))) {
      throw new InvalidSecretSpecError(
        `spec.secret.labels.${key} has an invalid value: at most 63 characters, letters, digits, "-", "_" and ".", starting and ending with a letter or digit`,
      );
    }
  }
  for (const [key] of entries(spec?.annotations)) checkMetadataKey("annotations", key);
}

/** The entries of a string map that have a value, as a plain record. */
export function definedEntries(map: StringMap | undefined): Record<string, string> {
  return Object.fromEntries(entries(map));
}

function entries(map: StringMap | undefined): [string, string][] {
  return Object.entries(map ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
}

function checkExtraKey(key: string): void {
  const field = `spec.secret.extraKeys.${key}`;
  if (key.length > 253 || !SECRET_KEY.test(key) || key === "." || key.startsWith("..")) {
    throw new InvalidSecretSpecError(
      `${field} is not a valid Secret key: use at most 253 letters, digits, "-", "_" and ".", not starting with ".."`,
    );
  }
  if ((CONNECTION_SECRET_KEYS as readonly string[]).includes(key)) {
    throw new InvalidSecretSpecError(`${field} is one of Kompost's own keys; choose another name`);
  }
}

function checkMetadataKey(field: "labels" | "annotations", key: string): void {
  const where = `spec.secret.${field}.${key}`;
  if (key.startsWith(RESERVED_PREFIX) || key === "app.kubernetes.io/managed-by") {
    throw new InvalidSecretSpecError(`${where} is one of Kompost's own ${field}, which cannot be set or overridden`);
  }
  const slash = key.lastIndexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  const validPrefix = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!validPrefix || name.length > 63 || !NAME_PART.test(name)) {
    throw new InvalidSecretSpecError(
      `${where} is not a valid key: an optional DNS subdomain prefix and "/", then a name of at most 63 letters, digits, "-", "_" and "."`,
    );
  }
}

function placeholderList(): string {
  return Object.keys(PLACEHOLDERS)
    .map((name) => `{{${name}}}`)
    .join(", ");
}
