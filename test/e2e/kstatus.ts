import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { repoPath } from "../deploy/manifests.js";

/** What kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) says about one object, as hack/kstatus prints it. */
export interface KstatusVerdict {
  readonly kind: string;
  readonly name: string;
  /** InProgress, Failed, Current, Terminating, NotFound or Unknown. */
  readonly status: string;
  readonly message: string;
}

let binary: Promise<string> | undefined;

/** The hack/kstatus binary, built once and cached by hack/build-kstatus.sh (KSTATUS names one to use instead). */
export function kstatusBinary(): Promise<string> {
  binary ??= promisify(execFile)(repoPath("hack", "build-kstatus.sh"), { maxBuffer: 1 << 20 }).then(
    ({ stdout }) => stdout.trim(),
    (err: Error) => {
      throw new Error(`while building hack/kstatus with hack/build-kstatus.sh (needs Go): ${err.message}`);
    },
  );
  return binary;
}

/** Runs the real kstatus library on each object (as read from the API server) and returns its verdicts in order. */
export async function kstatus(objects: readonly object[]): Promise<KstatusVerdict[]> {
  const child = spawn(await kstatusBinary(), [], { stdio: ["pipe", "pipe", "pipe"] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  child.stdin.end(objects.map((object) => JSON.stringify(object)).join("\n"));
  const code = await exited;
  if (code !== 0) throw new Error(`hack/kstatus exited ${code}: ${Buffer.concat(stderr).toString().trim()}`);
  return Buffer.concat(stdout)
    .toString()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as KstatusVerdict);
}
