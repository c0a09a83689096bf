/**
 * Runs npm test's files (package.json "test": its globs and --ignore) in a random file
 * order, so that a test depending on what ran before it shows up:
 *   tsx hack/shuffle-test-files.ts [path prefix ...] [-- mocha args]
 * The order comes from a seed: TEST_SEED=n replays one; unset, a random seed is drawn and
 * printed first. Path prefixes (e.g. `test/ controllers/`) keep only the files under them.
 * Files are expanded with mocha's own lookup, so the set is the one `npm test` runs; the
 * tests inside each file keep their order.
 */
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

/** The files and ignore patterns of a `mocha` command line. */
export interface TestSelection {
  readonly specs: readonly string[];
  readonly ignore: readonly string[];
}

/** Reads the spec globs and --ignore patterns of package.json's "test" script (a plain `mocha '<glob>' ...` line). */
export function testSelection(script: string): TestSelection {
  const words = [...script.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  if (words[0] !== "mocha") throw new Error(`package.json's test script does not start with mocha: ${script}`);
  const specs: string[] = [];
  const ignore: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === "--ignore") ignore.push(words[++i] ?? "");
    else if (word.startsWith("-")) {
      throw new Error(`package.json's test script has option ${word}; teach hack/shuffle-test-files.ts what it means`);
    } else specs.push(word);
  }
  return { specs, ignore };
}

/** The files mocha runs for `selection` from `cwd`, relative to it, in mocha's own (unsorted) order. */
export function testFiles(selection: TestSelection, cwd: string = repoRoot): string[] {
  const collectFiles = require("mocha/lib/cli/collect-files.cjs") as (options: {
    spec: readonly string[];
    ignore: readonly string[];
    extension: readonly string[];
    file: readonly string[];
    recursive: boolean;
    sort: boolean;
  }) => { files: string[]; unmatchedFiles: unknown[] };
  // mocha expands the globs from the working directory, as `npm test` does from the repository's.
  const previous = process.cwd();
  if (cwd !== previous) process.chdir(cwd);
  try {
    const { files } = collectFiles({
      spec: selection.specs,
      ignore: selection.ignore,
      extension: ["js"],
      file: [],
      recursive: false,
      sort: false,
    });
    return [...new Set(files.map((file) => path.relative(cwd, file)))];
  } finally {
    if (cwd !== previous) process.chdir(previous);
  }
}

/** `files` sorted, then shuffled by a PRNG (mulberry32) seeded with `seed`: the same seed, the same order. */
export function shuffled(files: readonly string[], seed: number): string[] {
  const order = [...files].sort();
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The seed in TEST_SEED (0 to 2^32-1), or a random one when it is unset. */
export function seedFrom(value: string | undefined): number {
  if (value === undefined || value === "") return randomInt(0, 2 ** 32);
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`TEST_SEED must be an integer from 0 to 4294967295, not ${JSON.stringify(value)}`);
  }
  return seed;
}

async function main(args: readonly string[]): Promise<number> {
  const dashes = args.indexOf("--");
  const prefixes = dashes < 0 ? args : args.slice(0, dashes);
  const mochaArgs = dashes < 0 ? [] : args.slice(dashes + 1);
  const pkg = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as {
    scripts: { test: string };
  };
  const seed = seedFrom(process.env.TEST_SEED);
  const all = testFiles(testSelection(pkg.scripts.test));
  const files = shuffled(
    all.filter((file) => prefixes.length === 0 || prefixes.some((prefix) => file.startsWith(prefix))),
    seed,
  );
  console.log(`Test files in a random order: TEST_SEED=${seed} (set it to replay this order), ${files.length} files:`);
  for (const [index, file] of files.entries()) console.log(`  ${index + 1}. ${file}`);
  const mocha = path.join(repoRoot, "node_modules/mocha/bin/mocha.js");
  const child = spawn(process.execPath, [mocha, ...mochaArgs, ...files], { cwd: repoRoot, stdio: "inherit" });
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      console.log(`Test files ran in the order of TEST_SEED=${seed}`);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
