import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { seedFrom, shuffled, testFiles, testSelection } from "./shuffle-test-files.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("the shuffled test run (hack/shuffle-test-files.ts)", () => {
  it("runs the files npm test runs: every *.test.ts under its folders but test/faults, each once", async () => {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as {
      scripts: { test: string };
    };
    const selection = testSelection(pkg.scripts.test);
    expect(selection.ignore).to.deep.equal(["test/faults/**"]);
    const files = testFiles(selection);
    const folders = ["api", "runtime", "services", "controllers", "cmd", "hack", "test"];
    const expected: string[] = [];
    for (const folder of folders) {
      for (const entry of await readdir(path.join(repoRoot, folder), { recursive: true })) {
        const file = path.join(folder, entry);
        if (file.endsWith(".test.ts") && !file.startsWith("test/faults/")) expected.push(file);
      }
    }
    expect([...files].sort()).to.deep.equal(expected.sort());
    expect(files).to.include("hack/shuffle-test-files.test.ts");
  });

  it("orders files by the seed alone: the same seed gives the same order, another seed another one", () => {
    const files = Array.from({ length: 40 }, (_, i) => `dir/file-${i}.test.ts`);
    const once = shuffled(files, 42);
    expect(shuffled([...files].reverse(), 42)).to.deep.equal(once);
    expect([...once].sort()).to.deep.equal([...files].sort());
    expect(once).to.not.deep.equal([...files].sort());
    expect(shuffled(files, 43)).to.not.deep.equal(once);
  });

  it("takes the seed from TEST_SEED, draws one when it is unset, and refuses one that is not an integer", () => {
    expect(seedFrom("12345")).to.equal(12345);
    expect(seedFrom(undefined)).to.be.within(0, 2 ** 32 - 1);
    expect(() => seedFrom("12x")).to.throw(/TEST_SEED must be an integer/);
    expect(() => seedFrom(String(2 ** 32))).to.throw(/TEST_SEED must be an integer/);
  });

  it("refuses a test script with an option it does not know, instead of running other files", () => {
    expect(testSelection("mocha 'a/**/*.test.ts' --ignore 'a/b/**'")).to.deep.equal({
      specs: ["a/**/*.test.ts"],
      ignore: ["a/b/**"],
    });
    expect(() => testSelection("mocha --grep x 'a/**/*.test.ts'")).to.throw(/option --grep/);
  });
});
