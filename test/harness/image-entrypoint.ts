/** The container image's ENTRYPOINT, read from a Dockerfile: how users' pods start node. */
import { existsSync, readFileSync } from "node:fs";

/** The last ENTRYPOINT of `dockerfile` (exec form) as its words; [] when the file is missing or has none. */
export function imageEntrypoint(dockerfile: string): string[] {
  if (!existsSync(dockerfile)) return [];
  const lines = readFileSync(dockerfile, "utf8").split("\n");
  const entrypoint = lines.filter((line) => line.startsWith("ENTRYPOINT ")).pop();
  return entrypoint ? (JSON.parse(entrypoint.slice("ENTRYPOINT ".length)) as string[]) : [];
}

/** node's flags in the image's ENTRYPOINT (between `node` and the script), e.g. its V8 heap settings. */
export function imageNodeFlags(dockerfile: string): string[] {
  return imageEntrypoint(dockerfile)
    .slice(1, -1)
    .filter((word) => word.startsWith("--"));
}
