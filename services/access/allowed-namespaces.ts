import { RE2JS } from "re2js";

/** The annotation that opens an instance to other namespaces. */
export const ALLOWED_NAMESPACES_ANNOTATION = "kompost.chuge.li/allowed-namespaces";

/** The two kinds of instance a database can use. */
export type InstanceKind = "PostgresInstance" | "PostgresClusterInstance";

/** What "no annotation" means for a PostgresClusterInstance: every namespace, or none (operator flag). */
export type ClusterInstanceDefault = "all" | "none";

/** The longest annotation value that is read: anything longer grants nothing. */
export const MAX_ANNOTATION_LENGTH = 4096;

/** The longest single expression of the annotation. */
export const MAX_PATTERN_LENGTH = 256;

/** One expression of the annotation, anchored at both ends, matched with RE2 semantics (linear time). */
export interface NamespacePattern {
  /** The anchored expression, as compiled. */
  readonly source: string;
  /** True when the whole namespace name matches. */
  matches(namespace: string): boolean;
}

/** The annotation's expressions, each anchored at both ends, or why it allows nothing. */
export type AllowedNamespaces =
  | { readonly ok: true; readonly patterns: readonly NamespacePattern[] }
  | { readonly ok: false; readonly message: string };

/** Everything needed to decide whether a namespace may use an instance. */
export interface AccessQuestion {
  readonly instanceKind: InstanceKind;
  /** The PostgresInstance's own namespace; absent for a PostgresClusterInstance. */
  readonly instanceNamespace?: string;
  /** The value of the allowed-namespaces annotation, if the instance has one. */
  readonly annotation?: string;
  /** The namespace of the PostgresDatabase that wants the instance. */
  readonly namespace: string;
  readonly clusterInstanceDefault: ClusterInstanceDefault;
}

/** The answer, with a message fit for a condition when it is no. */
export type AccessDecision = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

/**
 * Parses the annotation: regular expressions separated by commas and/or
 * whitespace, empty entries ignored; any invalid one makes the whole
 * annotation invalid, so that it grants nothing. Expressions use RE2 syntax
 * (re2js), whose matching time is linear in the name: a tenant-written pattern
 * cannot freeze the process, and backreferences and lookaround are refused.
 */
export function parseAllowedNamespaces(annotation: string): AllowedNamespaces {
  const known = parsed.get(annotation);
  if (known) return known;
  const result = parse(annotation);
  if (parsed.size >= PARSED_CACHE_SIZE) parsed.delete(parsed.keys().next().value!);
  parsed.set(annotation, result);
  return result;
}

/** How many distinct annotation values keep their compiled patterns (each database reconcile asks again). */
const PARSED_CACHE_SIZE = 256;
const parsed = new Map<string, AllowedNamespaces>();

function parse(annotation: string): AllowedNamespaces {
  if (annotation.length > MAX_ANNOTATION_LENGTH) {
    return invalid(`it is longer than ${MAX_ANNOTATION_LENGTH} characters`);
  }
  const expressions = annotation.split(/[\s,]+/).filter((e) => e !== "");
  const patterns: NamespacePattern[] = [];
  const problems: string[] = [];
  for (const expression of expressions) {
    const compiled = compile(expression);
    if (typeof compiled === "string") problems.push(`"${expression}" ${compiled}`);
    else patterns.push(compiled);
  }
  if (problems.length > 0) {
    return invalid(`${problems.join("; ")} (expressions use RE2 syntax: no backreferences or lookaround)`);
  }
  return { ok: true, patterns };
}

/** The anchored pattern, or why the expression is refused. */
function compile(expression: string): NamespacePattern | string {
  if (expression.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  try {
    // Compiled bare first: an unbalanced ")" would otherwise escape the anchors below.
    RE2JS.compile(expression);
    const source = `^(?:${expression})$`;
    const re = RE2JS.compile(source);
    return { source, matches: (namespace) => re.matches(namespace) };
  } catch (err) {
    return `is not a valid regular expression (${complaint(err)})`;
  }
}

function invalid(why: string): AllowedNamespaces {
  return { ok: false, message: `annotation ${ALLOWED_NAMESPACES_ANNOTATION} is invalid: ${why}` };
}

/** Answers "may a database in this namespace use this instance?" per docs/postgres-instance.md, Who may use the instance. */
export function mayUseInstance(question: AccessQuestion): AccessDecision {
  const { instanceKind, instanceNamespace, annotation, namespace } = question;
  if (instanceKind === "PostgresInstance" && namespace === instanceNamespace) return { allowed: true };
  if (annotation === undefined) return withoutAnnotation(question);
  const allowed = parseAllowedNamespaces(annotation);
  if (!allowed.ok) return { allowed: false, message: allowed.message };
  if (allowed.patterns.some((pattern) => pattern.matches(namespace))) return { allowed: true };
  return {
    allowed: false,
    message: `namespace "${namespace}" does not match annotation ${ALLOWED_NAMESPACES_ANNOTATION} "${annotation}"`,
  };
}

function withoutAnnotation({
  instanceKind,
  instanceNamespace,
  clusterInstanceDefault,
}: AccessQuestion): AccessDecision {
  if (instanceKind === "PostgresClusterInstance") {
    if (clusterInstanceDefault === "all") return { allowed: true };
    return {
      allowed: false,
      message: `the instance has no annotation ${ALLOWED_NAMESPACES_ANNOTATION} and the operator opens cluster instances to no namespace by default`,
    };
  }
  return {
    allowed: false,
    message: `the instance serves only its own namespace "${instanceNamespace ?? ""}": it has no annotation ${ALLOWED_NAMESPACES_ANNOTATION}`,
  };
}

function complaint(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // re2js says "error parsing regexp: missing closing ): `(a`"; the expression is already named.
  return message.replace(/^error parsing regexp: /, "");
}
