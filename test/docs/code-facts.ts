/** What the docs must agree with, read from the code itself: flags, spec fields, reasons, metric names. */
import { readFileSync } from "node:fs";
import ts from "typescript";
import type { SchemaNode } from "../../api/v1alpha1/schema/crd-source.js";
import { helpText } from "../../cmd/config.js";

/** One flag of `kompost --help`. */
export interface HelpFlag {
  readonly name: string;
  readonly envVar: string;
  /** The default as --help shows it. */
  readonly defaultText: string;
}

/** The flags `helpText()` lists, with their environment variables and defaults. */
export function helpFlags(): HelpFlag[] {
  const lines = helpText().split("\n");
  const flags: HelpFlag[] = [];
  lines.forEach((line, index) => {
    const flag = /^ {2}--([a-z-]+)/.exec(line);
    if (!flag) return;
    const details = /\(default: (.*); env (KOMPOST_[A-Z_]+)\)$/.exec(lines[index + 1] ?? "");
    if (!details) throw new Error(`while reading --help: no "(default: ...; env ...)" under --${flag[1]}`);
    flags.push({ name: flag[1]!, defaultText: details[1]!, envVar: details[2]! });
  });
  return flags;
}

/** Every field path under a spec schema, e.g. "spec.ssl.verify", walking objects and arrays of objects. */
export function specFieldPaths(spec: SchemaNode, prefix = "spec"): string[] {
  const properties = (spec.properties ?? {}) as Record<string, SchemaNode>;
  return Object.entries(properties).flatMap(([name, node]) => {
    const path = `${prefix}.${name}`;
    const items = node.items as SchemaNode | undefined;
    const nested = node.properties ? node : items?.properties ? items : undefined;
    return [path, ...(nested ? specFieldPaths(nested, path) : [])];
  });
}

/** The messages of every CEL rule (x-kubernetes-validations) in a schema, at any depth. */
export function celMessages(node: SchemaNode): string[] {
  const own = ((node["x-kubernetes-validations"] ?? []) as { readonly message?: string }[]).flatMap((rule) =>
    rule.message ? [rule.message] : [],
  );
  const properties = Object.values((node.properties ?? {}) as Record<string, SchemaNode>);
  const items = node.items ? [node.items as SchemaNode] : [];
  return [...own, ...[...properties, ...items].flatMap(celMessages)];
}

/** The string literals of a union type alias in a source file (e.g. `type Reason = "A" | "B"`), read with the TypeScript parser. */
export function stringLiteralsOfType(file: URL, typeName: string): string[] {
  const source = ts.createSourceFile(file.pathname, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const literals: string[] = [];
  let found = false;
  const collect = (node: ts.Node): void => {
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) literals.push(node.literal.text);
    ts.forEachChild(node, collect);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isTypeAliasDeclaration(node) && node.name.text === typeName) {
      found = true;
      collect(node.type);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!found || literals.length === 0) {
    throw new Error(`while reading ${file.pathname}: no union of string literals named ${typeName}`);
  }
  return literals;
}
