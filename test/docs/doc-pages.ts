/** Reading the user documentation in docs/: its pages, their YAML blocks, links and headings. */
import { readdirSync, readFileSync } from "node:fs";

/** The docs/ folder of the repository. */
export const DOCS_DIR = new URL("../../docs/", import.meta.url);

/** One Markdown page of docs/. */
export interface DocPage {
  /** File name, e.g. "operating.md". */
  readonly file: string;
  readonly text: string;
}

/** A fenced YAML block of a page, with the line it starts on (for messages). */
export interface YamlBlock {
  readonly page: string;
  readonly line: number;
  readonly text: string;
  /** The message the API server must reject the block with, from a first line `# rejected: <message>`. */
  readonly rejectedWith?: string;
}

/** A relative Markdown link of a page: the target file (empty for the page itself) and the anchor, if any. */
export interface DocLink {
  readonly page: string;
  readonly target: string;
  readonly file: string;
  readonly anchor?: string;
}

/** Every Markdown page of docs/, sorted by name. */
export function readDocPages(): DocPage[] {
  return readdirSync(DOCS_DIR)
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => ({ file, text: readFileSync(new URL(file, DOCS_DIR), "utf8") }));
}

/** The page of a kind: PostgresClusterInstance → postgres-cluster-instance.md. */
export function pageOfKind(kind: string): string {
  return `${kind.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase()}.md`;
}

/** The ```yaml blocks of a page. */
export function yamlBlocks(page: DocPage): YamlBlock[] {
  const blocks: YamlBlock[] = [];
  for (const match of page.text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)) {
    const text = match[1]!;
    const line = page.text.slice(0, match.index).split("\n").length;
    const rejected = /^# rejected: (.+)$/m.exec(text.split("\n")[0] ?? "");
    blocks.push({ page: page.file, line, text, ...(rejected ? { rejectedWith: rejected[1]!.trim() } : {}) });
  }
  return blocks;
}

/** The relative links of a page (web links and mailto: left out). */
export function relativeLinks(page: DocPage): DocLink[] {
  const withoutCode = page.text.replace(/^```[\s\S]*?^```$/gm, "");
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z]+:/.test(target))
    .map((target) => {
      const [file = "", anchor] = target.split("#");
      return { page: page.file, target, file, ...(anchor !== undefined ? { anchor } : {}) };
    });
}

/** The anchors GitHub makes of a page's headings: lowercased, punctuation but `-` and `_` dropped, spaces to `-`. */
export function headingAnchors(page: DocPage): Set<string> {
  const withoutCode = page.text.replace(/^```[\s\S]*?^```$/gm, "");
  const anchors = new Set<string>();
  for (const match of withoutCode.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = match[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    anchors.add(slug);
  }
  return anchors;
}

/** True when the text has `name` as inline code: the whole span, or the span's first word before ":", "=" or a space. */
export function mentionsCode(text: string, name: string): boolean {
  for (const [, span = ""] of text.matchAll(/`([^`\n]+)`/g)) {
    if (span === name || [":", "=", " "].some((separator) => span.startsWith(`${name}${separator}`))) return true;
  }
  return false;
}
