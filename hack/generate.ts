/**
 * Renders what the schema sources in api/v1alpha1/schema define:
 *   tsx hack/generate.ts crds    config/crd/bases/*.yaml and config/crd/kustomization.yaml
 *   tsx hack/generate.ts types   api/v1alpha1/generated/*.ts
 *   tsx hack/generate.ts check   exit 1 when any generated file is missing or stale
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { crdFiles, typeFiles, type GeneratedFile } from "./generate/outputs.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function write(files: readonly GeneratedFile[]): Promise<void> {
  for (const file of files) {
    const target = path.join(repoRoot, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.content);
    console.log(`wrote ${file.path}`);
  }
}

/** Returns the paths under `root` whose content differs from what the generator renders. */
export async function staleFiles(root: string = repoRoot): Promise<string[]> {
  const expected = [...crdFiles(), ...(await typeFiles())];
  const stale: string[] = [];
  for (const file of expected) {
    const actual = await readFile(path.join(root, file.path), "utf8").catch(() => undefined);
    if (actual !== file.content) stale.push(file.path);
  }
  return stale;
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case "crds":
      await write(crdFiles());
      return 0;
    case "types":
      await write(await typeFiles());
      return 0;
    case "check": {
      const stale = await staleFiles();
      if (stale.length === 0) return 0;
      console.error(`stale generated files (run \`make manifests generate\`):\n  ${stale.join("\n  ")}`);
      return 1;
    }
    default:
      console.error("usage: tsx hack/generate.ts crds|types|check");
      return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await main(process.argv[2]);
}
