import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ConfigError, formatDuration, parseDuration, wantsHelp } from "../runtime/flags.js";
import { helpText, parseConfig } from "./config.js";
import type { ConfigSources } from "./config.js";

const outsideCluster: ConfigSources = { env: {}, serviceAccountNamespaceFile: "/nonexistent/namespace" };

function parse(argv: readonly string[], env: Record<string, string> = {}): ReturnType<typeof parseConfig> {
  return parseConfig(argv, { ...outsideCluster, env });
}

function parseError(argv: readonly string[], env: Record<string, string> = {}): string {
  try {
    parse(argv, env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(" ")} to be rejected`);
}

describe("config", () => {
  it("uses Kubebuilder's defaults when nothing is given", () => {
    const config = parse([]);
    expect(config).to.include({
      leaderElect: false,
      leaderElectionId: "kompost.chuge.li",
      leaderElectionNamespace: undefined,
      healthProbeBindAddress: ":8081",
      metricsBindAddress: ":8080",
      operatorNamespace: "default",
      clusterInstanceDefaultAccess: "all",
      resyncPeriodMs: 300_000,
      databaseVerifyPeriodMs: 3_600_000,
      statusHeartbeatIntervalMs: 300_000,
      maxConcurrentReconciles: 4,
      shutdownTimeoutMs: 30_000,
      logLevel: "info",
      kubeconfig: undefined,
    });
  });

  it("reads flags in --name=value, --name value and single-dash forms", () => {
    const config = parse([
      "--leader-elect",
      "--leader-election-namespace=kompost-system",
      "-resync-period",
      "90s",
      "--max-concurrent-reconciles=8",
      "--cluster-instance-default-access",
      "none",
      "--metrics-bind-address=0",
      "--health-probe-bind-address=[::1]:9440",
      "--kubeconfig=/tmp/kc",
      "--log-level=debug",
      "--shutdown-timeout=1m30s",
      "--status-heartbeat-interval=10m",
    ]);
    expect(config).to.include({
      leaderElect: true,
      leaderElectionNamespace: "kompost-system",
      resyncPeriodMs: 90_000,
      maxConcurrentReconciles: 8,
      clusterInstanceDefaultAccess: "none",
      metricsBindAddress: "0",
      healthProbeBindAddress: "[::1]:9440",
      kubeconfig: "/tmp/kc",
      logLevel: "debug",
      shutdownTimeoutMs: 90_000,
      statusHeartbeatIntervalMs: 600_000,
    });
  });

  it("accepts an explicit false for a boolean flag", () => {
    expect(parse(["--leader-elect=false"], { KOMPOST_LEADER_ELECT: "true" }).leaderElect).to.equal(false);
  });

  it("falls back to KOMPOST_ environment variables, and a flag wins over its variable", () => {
    const env = { KOMPOST_RESYNC_PERIOD: "2m", KOMPOST_LEADER_ELECT: "1", KOMPOST_LEADER_ELECTION_NAMESPACE: "ops" };
    expect(parse([], env)).to.include({ resyncPeriodMs: 120_000, leaderElect: true, leaderElectionNamespace: "ops" });
    expect(parse(["--resync-period=30s"], env).resyncPeriodMs).to.equal(30_000);
    expect(parse(["--database-verify-period=0"], env).databaseVerifyPeriodMs).to.equal(0);
  });

  it("takes the pod namespace from POD_NAMESPACE for the Lease and the operator namespace", () => {
    const config = parse(["--leader-elect"], { POD_NAMESPACE: "kompost-system" });
    expect(config).to.include({ leaderElectionNamespace: "kompost-system", operatorNamespace: "kompost-system" });
  });

  it("takes the pod namespace from the service-account file when POD_NAMESPACE is not set", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kompost-config-"));
    try {
      const file = path.join(dir, "namespace");
      fs.writeFileSync(file, "from-file\n");
      const config = parseConfig(["--leader-elect"], { env: {}, serviceAccountNamespaceFile: file });
      expect(config).to.include({ leaderElectionNamespace: "from-file", operatorNamespace: "from-file" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("requires a Lease namespace when leader election is on outside a cluster", () => {
    expect(parseError(["--leader-elect"])).to.match(/^--leader-election-namespace is required with --leader-elect/);
  });

  it("names the flag and what it accepts when a duration is malformed", () => {
    expect(parseError(["--resync-period=banana"])).to.equal(
      'invalid value "banana" for --resync-period: expected a duration of at least 1s, such as 30s, 5m or 1h',
    );
  });

  it("names the environment variable when the bad value came from there", () => {
    expect(parseError([], { KOMPOST_MAX_CONCURRENT_RECONCILES: "lots" })).to.equal(
      'invalid value "lots" for --max-concurrent-reconciles (from KOMPOST_MAX_CONCURRENT_RECONCILES): expected an integer from 1 to 1000',
    );
  });

  it("rejects values outside what each flag accepts", () => {
    expect(parseError(["--max-concurrent-reconciles=0"])).to.match(/--max-concurrent-reconciles: expected an integer/);
    expect(parseError(["--cluster-instance-default-access=some"])).to.match(/: expected all or none$/);
    expect(parseError(["--resync-period=10ms"])).to.match(/--resync-period: expected a duration of at least 1s/);
    expect(parseError(["--leader-elect=maybe"])).to.match(/--leader-elect: expected true or false$/);
    expect(parseError(["--metrics-bind-address=8080"])).to.match(/--metrics-bind-address: expected \[host\]:port/);
    expect(parseError(["--health-probe-bind-address=:99999"])).to.match(/--health-probe-bind-address/);
    expect(parseError(["--leader-election-id=Not_A_Name"])).to.match(/--leader-election-id: expected a DNS subdomain/);
    expect(parseError(["--operator-namespace=Ops"])).to.match(/--operator-namespace: expected a namespace name/);
    expect(parseError(["--log-level=loud"])).to.match(/--log-level: expected error, warn, info/);
  });

  it("rejects unknown flags, stray arguments and a missing value", () => {
    expect(parseError(["--leader-elekt"])).to.equal(
      "unknown flag --leader-elekt (see --help for the flags kompost accepts)",
    );
    expect(parseError(["run"])).to.match(/^unexpected argument "run"/);
    expect(parseError(["--resync-period"])).to.match(/^flag --resync-period needs a value/);
  });

  it("returns a frozen configuration", () => {
    const config = parse([]);
    expect(Object.isFrozen(config)).to.equal(true);
    expect(() => {
      (config as { maxConcurrentReconciles: number }).maxConcurrentReconciles = 99;
    }).to.throw(TypeError);
  });

  it("lists every flag with its environment variable in the help text", () => {
    expect(wantsHelp(["--help"])).to.equal(true);
    expect(wantsHelp(["-h"])).to.equal(true);
    expect(wantsHelp(["--leader-elect"])).to.equal(false);
    const text = helpText();
    for (const name of [
      "leader-elect",
      "leader-election-id",
      "leader-election-namespace",
      "health-probe-bind-address",
      "metrics-bind-address",
      "operator-namespace",
      "cluster-instance-default-access",
      "resync-period",
      "database-verify-period",
      "status-heartbeat-interval",
      "max-concurrent-reconciles",
      "shutdown-timeout",
      "log-level",
      "kubeconfig",
    ]) {
      expect(text).to.contain(`--${name}`);
      expect(text).to.contain(`KOMPOST_${name.toUpperCase().replace(/-/g, "_")}`);
    }
  });
});

describe("durations", () => {
  it("parses Go durations into milliseconds", () => {
    expect(parseDuration("0")).to.equal(0);
    expect(parseDuration("300ms")).to.equal(300);
    expect(parseDuration("1.5h")).to.equal(5_400_000);
    expect(parseDuration("2h45m")).to.equal(9_900_000);
    expect(parseDuration("1m30s")).to.equal(90_000);
  });

  it("rejects text that is not a duration", () => {
    for (const text of ["", "5", "m", "-5m", "5 m", "5mins", "banana", "1.m"]) {
      expect(parseDuration(text), text).to.equal(undefined);
    }
  });

  it("formats milliseconds back into the short form", () => {
    expect(formatDuration(300_000)).to.equal("5m");
    expect(formatDuration(90_000)).to.equal("1m30s");
    expect(formatDuration(250)).to.equal("250ms");
  });
});
