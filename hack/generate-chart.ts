/**
 * Renders charts/kompost from config/default, the sources of dist/install.yaml:
 *   tsx hack/generate-chart.ts          write the chart (make chart)
 *   tsx hack/generate-chart.ts check    exit 1 when a chart file is missing, stale or left over
 *   tsx hack/generate-chart.ts table    print the values table of docs/operating.md
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHART_DIR, chartFiles, valuesTable } from "./generate-chart/chart-files.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Paths under `root` that differ from what the generator renders, or that it no longer renders. */
export async function staleChartFiles(root: string = repoRoot): Promise<string[]> {
  const expected = await chartFiles(root);
  const stale: string[] = [];
  for (const file of expected) {
    const actual = await readFile(path.join(root, file.path), "utf8").catch(() => undefined);
    if (actual !== file.content) stale.push(file.path);
  }
  const wanted = new Set(expected.map((file) => file.path));
  for (const existing of await listFiles(root, CHART_DIR)) if (!wanted.has(existing)) stale.push(existing);
  return stale;
}

async function writeChart(): Promise<void> {
  const files = await chartFiles(repoRoot);
  // Templates of objects that config/default no longer has must go with them.
  await rm(path.join(repoRoot, CHART_DIR), { recursive: true, force: true });
  for (const file of files) {
    const target = path.join(repoRoot, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
  console.log(`wrote ${files.length} files to ${CHART_DIR}`);
}

async function listFiles(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(path.join(root, dir), { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? listFiles(root, path.join(dir, entry.name)) : Promise.resolve([path.join(dir, entry.name)]),
    ),
  );
  return nested.flat();
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case undefined:
      await writeChart();
      return 0;
    case "check": {
      const stale = await staleChartFiles();
      if (stale.length === 0) return 0;
      console.error(`stale chart files (run \`make chart\`):\n  ${stale.join("\n  ")}`);
      return 1;
    }
    case "table":
      process.stdout.write(await valuesTable(repoRoot));
      return 0;
    default:
      console.error("usage: tsx hack/generate-chart.ts [check|table]");
      return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await main(process.argv[2]);
}
