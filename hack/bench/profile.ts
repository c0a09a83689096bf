/** Where a CPU profile (node --cpu-prof) spent its time: self time by function and by file or package. */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/** One line of a summary: a name and its share of the profile's samples, in percent. */
export interface Share {
  readonly name: string;
  readonly percent: number;
}

/** The largest shares of self time, by function and by where the code lives. */
export interface ProfileSummary {
  readonly functions: readonly Share[];
  readonly places: readonly Share[];
}

interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Sums the self time of every profile in `dir` and keeps the `top` largest shares of each kind. */
export async function summarizeProfiles(dir: string, top = 10): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((file) => file.endsWith(".cpuprofile"));
  const profiles = await Promise.all(
    files.map(async (file) => JSON.parse(await readFile(path.join(dir, file), "utf8")) as CpuProfile),
  );
  return summarize(profiles, top);
}

/** The CPU time (waiting left out) of `profiles` by function ("name file:line") and by place (a package, a node: module or a file). */
export function summarize(profiles: readonly CpuProfile[], top = 10): ProfileSummary {
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    profile.samples.forEach((id, i) => {
      const frame = frames.get(id);
      const micros = profile.timeDeltas[i] ?? 0;
      // "(idle)" is time the process waited, not CPU it used.
      if (!frame || frame.functionName === "(idle)") return;
      total += micros;
      const where = place(frame.url);
      const name = frame.url
        ? `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`
        : frame.functionName;
      add(functions, name, micros);
      add(places, where || frame.functionName, micros);
    });
  }
  const largest = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ name, percent: total ? (100 * micros) / total : 0 }));
  return { functions: largest(functions), places: largest(places) };
}

/** "node_modules/pg/lib/client.js" → "pg"; "node:internal/tls/…" stays; a file of Kompost → its path from dist/. */
function place(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) return url;
  const own = /\/dist\/(.*)$/.exec(url);
  return own ? own[1]! : url.replace(/^file:\/\//, "");
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}
