/** The annotation that opens an instance to other namespaces. */
export const ALLOWED_NAMESPACES_ANNOTATION = "kompost.chuge.li/allowed-namespaces";

/** The two kinds of instance a database can use. */
export type InstanceKind = "PostgresInstance" | "PostgresClusterInstance";

/** What "no annotation" means for a PostgresClusterInstance: every namespace, or none (operator flag). */
export type ClusterInstanceDefault = "all" | "none";

/** The annotation's expressions, each anchored at both ends, or why it allows nothing. */
export type AllowedNamespaces =
  { readonly ok: true; readonly patterns: readonly RegExp[] } | { readonly ok: false; readonly message: string };

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
 * annotation invalid, so that it grants nothing.
 */
export function parseAllowedNamespaces(annotation: string): AllowedNamespaces {
  const expressions = annotation.split(/[\s,]+/).filter((e) => e !== "");
  const patterns: RegExp[] = [];
  const problems: string[] = [];
  for (const expression of expressions) {
    try {
      // Compiled bare first: an unbalanced ")" would otherwise escape the anchors below.
      new RegExp(expression);
      patterns.push(new RegExp(`^(?:${expression})$`));
    } catch (err) {
      problems.push(`"${expression}" is not a valid regular expression (${complaint(err)})`);
    }
  }
  if (problems.length > 0) {
    return { ok: false, message: `annotation ${ALLOWED_NAMESPACES_ANNOTATION} is invalid: ${problems.join("; ")}` };
  }
  return { ok: true, patterns };
}

/** Answers "may a database in this namespace use this instance?" per SPEC §2. */
export function mayUseInstance(question: AccessQuestion): AccessDecision {
  const { instanceKind, instanceNamespace, annotation, namespace } = question;
  if (instanceKind === "PostgresInstance" && namespace === instanceNamespace) return { allowed: true };
  if (annotation === undefined) return withoutAnnotation(question);
  const parsed = parseAllowedNamespaces(annotation);
  if (!parsed.ok) return { allowed: false, message: parsed.message };
  if (parsed.patterns.some((pattern) => pattern.test(namespace))) return { allowed: true };
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
  // V8 says "Invalid regular expression: /(a/: Unterminated group"; the expression is already named.
  return message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
}
