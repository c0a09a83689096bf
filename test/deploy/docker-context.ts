import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { repoPath } from "./manifests.js";

/**
 * Turns one .dockerignore pattern into a regular expression over context-relative
 * paths, as Docker reads it: `*` and `?` stay within one path segment, `**` spans
 * any number of them, and a leading `/` means the context root.
 */
function patternToRegExp(pattern: string): RegExp {
  const text = pattern.replace(/^\/+/, "").replace(/\/+$/, "");
  let source = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (text.startsWith("**/", i)) {
      source += "(?:.*/)?";
      i += 2;
    } else if (text.startsWith("**", i)) {
      source += ".*";
      i += 1;
    } else if (char === "*") {
      source += "[^/]*";
    } else if (char === "?") {
      source += "[^/]";
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

/** The patterns of the repository's .dockerignore; exceptions (`!`) are refused, since this reader does not implement them. */
async function dockerignorePatterns(): Promise<RegExp[]> {
  const lines = (await readFile(repoPath(".dockerignore"), "utf8")).split("\n").map((line) => line.trim());
  const patterns = lines.filter((line) => line !== "" && !line.startsWith("#"));
  const exception = patterns.find((pattern) => pattern.startsWith("!"));
  if (exception) throw new Error(`while reading .dockerignore: exceptions like "${exception}" are not supported here`);
  return patterns.map(patternToRegExp);
}

/**
 * Copies what `docker build` would send of the repository (every file .dockerignore
 * lets through) into `target`, and returns their context-relative paths.
 */
export async function copyDockerContext(target: string): Promise<string[]> {
  const ignored = await dockerignorePatterns();
  const isIgnored = (relative: string) => ignored.some((pattern) => pattern.test(relative));
  const copied: string[] = [];
  const walk = async (relativeDir: string): Promise<void> => {
    for (const entry of await readdir(repoPath(relativeDir), { withFileTypes: true })) {
      const relative = relativeDir === "" ? entry.name : `${relativeDir}/${entry.name}`;
      if (isIgnored(relative)) continue;
      if (entry.isDirectory()) {
        await walk(relative);
      } else if (entry.isFile()) {
        await mkdir(path.join(target, relativeDir), { recursive: true });
        await copyFile(repoPath(relative), path.join(target, relative));
        copied.push(relative);
      }
    }
  };
  await walk("");
  return copied;
}
