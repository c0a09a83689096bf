import { expect } from "chai";
import { controlPlane } from "../../test/harness/control-plane.js";
import { type Kubectl, isReady, notReadyMessage, waitUntilReady } from "./ready.js";
import type { ResourceRef } from "./samples.js";

const NAMESPACE = "dev-ready";

const database = (name: string): ResourceRef => ({
  kind: "PostgresDatabase",
  resource: "pgdb",
  name,
  namespace: NAMESPACE,
});

async function kubectl(): Promise<Kubectl> {
  const cp = await controlPlane();
  return (args, opts) => cp.kubectl(args, opts);
}

/** Creates a PostgresDatabase no controller watches, optionally with a status written as a controller would. */
async function createDatabase(name: string, conditions?: readonly object[], observedGeneration = 1): Promise<void> {
  const run = await kubectl();
  const manifest = {
    apiVersion: "kompost.chuge.li/v1alpha1",
    kind: "PostgresDatabase",
    metadata: { name, namespace: NAMESPACE },
    spec: { instanceRef: { name: "nowhere" } },
  };
  await run(["create", "namespace", NAMESPACE]);
  const created = await run(["create", "-f", "-"], { input: JSON.stringify(manifest) });
  expect(created.code, created.stderr).to.equal(0);
  if (!conditions) return;
  const status = JSON.stringify({ status: { observedGeneration, conditions } });
  const patched = await run([
    "patch",
    "pgdb",
    name,
    "-n",
    NAMESPACE,
    "--subresource=status",
    "--type=merge",
    "-p",
    status,
  ]);
  expect(patched.code, patched.stderr).to.equal(0);
}

const condition = (type: string, status: string, reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: "2026-01-01T00:00:00Z",
});

describe("waiting for Ready", () => {
  it("returns once the Ready condition is True for the current generation", async () => {
    await createDatabase("ready", [condition("Ready", "True", "Ready", "All good")]);
    await waitUntilReady(await kubectl(), database("ready"), 10_000, undefined, 100);
  });

  it("times out naming the conditions of a resource that is not Ready", async () => {
    await createDatabase("failing", [
      condition("Connection", "True", "Connected", "Connected to the instance"),
      condition("Database", "False", "CreateFailed", "permission denied to create database"),
      condition("Ready", "False", "NotReady", "Database is not ready"),
    ]);
    const failure = await waitUntilReady(await kubectl(), database("failing"), 500, undefined, 100).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(failure)).to.equal(
      "Error: PostgresDatabase dev-ready/failing did not become Ready within 1 s; its conditions:\n" +
        "  Connection=True (Connected: Connected to the instance)\n" +
        "  Database=False (CreateFailed: permission denied to create database)\n" +
        "  Ready=False (NotReady: Database is not ready)",
    );
  });

  it("times out saying no controller reconciled a resource without conditions", async () => {
    await createDatabase("untouched");
    const failure = await waitUntilReady(await kubectl(), database("untouched"), 300, undefined, 100).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(failure)).to.match(/dev-ready\/untouched did not become Ready .* no controller has reconciled it/);
    expect(String(failure)).to.include("createControllers (controllers/index.ts)");
  });

  it("stops waiting when its signal aborts", async () => {
    await createDatabase("aborted");
    const stop = new AbortController();
    const waiting = waitUntilReady(await kubectl(), database("aborted"), 60_000, stop.signal, 100);
    stop.abort();
    const failure = await waiting.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((failure as Error).name).to.equal("AbortError");
  });
});

describe("isReady and notReadyMessage", () => {
  const ready = { type: "Ready", status: "True" };

  it("does not count a Ready condition computed for an older generation", () => {
    expect(isReady({ metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready] } })).to.equal(
      true,
    );
    expect(isReady({ metadata: { generation: 3 }, status: { observedGeneration: 2, conditions: [ready] } })).to.equal(
      false,
    );
    expect(isReady({ metadata: { generation: 1 }, status: { conditions: [{ ...ready, status: "False" }] } })).to.equal(
      false,
    );
  });

  it("says when the conditions are stale or the resource is missing", () => {
    const stale = { metadata: { generation: 3 }, status: { observedGeneration: 2, conditions: [ready] } };
    expect(notReadyMessage(database("x"), stale, 5000)).to.equal(
      "PostgresDatabase dev-ready/x did not become Ready within 5 s; its conditions " +
        "(observedGeneration 2 is behind generation 3):\n  Ready=True",
    );
    expect(notReadyMessage(database("x"), undefined, 5000)).to.equal(
      "PostgresDatabase dev-ready/x did not become Ready within 5 s: it does not exist (was it applied?).",
    );
  });
});
