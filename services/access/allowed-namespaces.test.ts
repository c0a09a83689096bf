import { expect } from "chai";
import type { AccessDecision, AccessQuestion } from "./allowed-namespaces.js";
import {
  ALLOWED_NAMESPACES_ANNOTATION,
  MAX_ANNOTATION_LENGTH,
  MAX_PATTERN_LENGTH,
  mayUseInstance,
  parseAllowedNamespaces,
} from "./allowed-namespaces.js";

function patternsOf(annotation: string): string[] {
  const parsed = parseAllowedNamespaces(annotation);
  if (!parsed.ok) throw new Error(`expected a valid annotation, got: ${parsed.message}`);
  return parsed.patterns.map((p) => p.source);
}

function messageOf(decision: AccessDecision): string {
  if (decision.allowed) throw new Error("expected a refusal, got allowed");
  return decision.message;
}

describe("allowed-namespaces annotation", () => {
  describe("parsing", () => {
    it("splits on commas, whitespace or both and anchors each expression at both ends", () => {
      expect(patternsOf("team-a, team-b\tstaging-.*\n  prod-[0-9]+,qa")).to.deep.equal([
        "^(?:team-a)$",
        "^(?:team-b)$",
        "^(?:staging-.*)$",
        "^(?:prod-[0-9]+)$",
        "^(?:qa)$",
      ]);
    });

    it("ignores empty entries", () => {
      expect(patternsOf(" ,, team-a ,\n, ")).to.deep.equal(["^(?:team-a)$"]);
    });

    it("gives no patterns for an empty annotation", () => {
      expect(patternsOf("")).to.deep.equal([]);
    });

    it("names an invalid expression and the parser's complaint", () => {
      const parsed = parseAllowedNamespaces("team-a, team-(b");
      expect(parsed.ok).to.equal(false);
      const { message } = parsed as { message: string };
      expect(message).to.include(ALLOWED_NAMESPACES_ANNOTATION);
      expect(message).to.include('"team-(b" is not a valid regular expression');
      expect(message).to.include("missing closing )");
      expect(message).not.to.include('"team-a"');
    });

    it("names every invalid expression", () => {
      const parsed = parseAllowedNamespaces("[a, b), ok");
      expect(parsed.ok).to.equal(false);
      const { message } = parsed as { message: string };
      expect(message).to.include('"[a"').and.to.include('"b)"');
    });

    it("rejects an expression that would break out of the anchors", () => {
      // Wrapped blindly, "x)|(.*" would become ^(?:x)|(.*)$ and match every namespace.
      expect(parseAllowedNamespaces("x)|(.*").ok).to.equal(false);
    });

    it("refuses backreferences and lookaround, which RE2 cannot run in linear time, and says why", () => {
      for (const expression of ["(a)\\1", "(?=team)team-a", "(?!prod).*", "(?<=a)b"]) {
        const parsed = parseAllowedNamespaces(`ok, ${expression}`);
        expect(parsed.ok, expression).to.equal(false);
        const { message } = parsed as { message: string };
        expect(message).to.include(`"${expression}" is not a valid regular expression`);
        expect(message).to.include("RE2 syntax");
      }
    });

    it("refuses an expression longer than the limit, and an annotation longer than its limit", () => {
      const long = "a".repeat(MAX_PATTERN_LENGTH + 1);
      expect(parseAllowedNamespaces("a".repeat(MAX_PATTERN_LENGTH)).ok).to.equal(true);
      const parsed = parseAllowedNamespaces(`ok ${long}`);
      expect((parsed as { message: string }).message).to.include(`longer than ${MAX_PATTERN_LENGTH} characters`);
      const huge = Array.from({ length: MAX_ANNOTATION_LENGTH / 2 + 1 }, () => "a").join(",");
      const tooLong = parseAllowedNamespaces(huge);
      expect(tooLong.ok).to.equal(false);
      expect((tooLong as { message: string }).message).to.include(`longer than ${MAX_ANNOTATION_LENGTH} characters`);
    });

    it("refuses an expression whose compiled program would be too large", () => {
      expect(parseAllowedNamespaces("(a{0,1000}){0,1000}").ok).to.equal(false);
    });
  });

  describe("matching in linear time", () => {
    it("answers a catastrophic-backtracking pattern against a 63-character namespace at once", () => {
      const namespace = "a".repeat(63);
      const started = performance.now();
      for (const annotation of ["(.|.)*!", "(a+)+$x", "(a|aa)*b", "((a*)*)*!"]) {
        const decision = mayUseInstance({
          instanceKind: "PostgresClusterInstance",
          annotation,
          namespace,
          clusterInstanceDefault: "all",
        });
        expect(decision.allowed, annotation).to.equal(false);
      }
      // Backtracking takes 2^63 steps here; RE2 semantics take a few thousand.
      expect(performance.now() - started).to.be.below(1000);
    });

    it("keeps JavaScript's meaning for the usual namespace patterns", () => {
      const ask = (namespace: string, annotation: string): boolean =>
        mayUseInstance({
          instanceKind: "PostgresClusterInstance",
          annotation,
          namespace,
          clusterInstanceDefault: "all",
        }).allowed;
      expect(ask("team-42", "team-\\d+")).to.equal(true);
      expect(ask("team-x", "team-\\d+")).to.equal(false);
      expect(ask("TEAM-A", "(?i)team-a")).to.equal(true);
      expect(ask("staging-eu", "(prod|staging)-(eu|us)")).to.equal(true);
      // A comma separates expressions, so a counted repetition takes one number.
      expect(ask("dev-123", "[a-z]+-[0-9]{3}")).to.equal(true);
      expect(ask("dev-1234", "[a-z]+-[0-9]{3}")).to.equal(false);
    });
  });

  describe("a PostgresInstance", () => {
    const base = {
      instanceKind: "PostgresInstance",
      instanceNamespace: "team-a",
      clusterInstanceDefault: "all",
    } as const;
    const ask = (namespace: string, annotation?: string): AccessDecision =>
      mayUseInstance({ ...base, namespace, ...(annotation === undefined ? {} : { annotation }) });

    it("is usable from its own namespace without an annotation", () => {
      expect(ask("team-a")).to.deep.equal({ allowed: true });
    });

    it("is not usable from another namespace without an annotation", () => {
      expect(messageOf(ask("team-b"))).to.include('only its own namespace "team-a"');
    });

    it("stays usable from its own namespace when the annotation does not list it", () => {
      expect(ask("team-a", "other")).to.deep.equal({ allowed: true });
    });

    it("is usable from a namespace a pattern matches", () => {
      expect(ask("staging-42", "prod, staging-[0-9]+")).to.deep.equal({ allowed: true });
      expect(ask("prod", "prod, staging-[0-9]+")).to.deep.equal({ allowed: true });
    });

    it("is not usable from a namespace no pattern matches, and says so", () => {
      expect(messageOf(ask("dev", "prod, staging-[0-9]+"))).to.equal(
        `namespace "dev" does not match annotation ${ALLOWED_NAMESPACES_ANNOTATION} "prod, staging-[0-9]+"`,
      );
    });

    it("does not count a partial match", () => {
      expect(ask("team-bb", "team-b").allowed).to.equal(false);
      expect(ask("xteam-b", "team-b").allowed).to.equal(false);
      expect(ask("prod-eu", "prod|staging").allowed).to.equal(false);
      expect(ask("eu-staging", "prod|staging").allowed).to.equal(false);
    });

    it("allows nothing beyond its own namespace when an expression is invalid", () => {
      expect(messageOf(ask("team-b", "team-b, (broken"))).to.include('"(broken" is not a valid regular expression');
      expect(ask("team-a", "team-b, (broken")).to.deep.equal({ allowed: true });
    });

    it("is not opened by an empty annotation", () => {
      expect(ask("team-b", "").allowed).to.equal(false);
    });
  });

  describe("a PostgresClusterInstance", () => {
    const ask = (
      namespace: string,
      annotation: string | undefined,
      clusterInstanceDefault: AccessQuestion["clusterInstanceDefault"] = "all",
    ): AccessDecision =>
      mayUseInstance({
        instanceKind: "PostgresClusterInstance",
        namespace,
        clusterInstanceDefault,
        ...(annotation === undefined ? {} : { annotation }),
      });

    it("is usable from every namespace without an annotation by default", () => {
      expect(ask("anything", undefined)).to.deep.equal({ allowed: true });
      expect(ask("kube-system", undefined)).to.deep.equal({ allowed: true });
    });

    it("is usable from no namespace without an annotation when the operator says none", () => {
      expect(messageOf(ask("anything", undefined, "none"))).to.include("opens cluster instances to no namespace");
    });

    it("is usable only from matching namespaces with an annotation", () => {
      expect(ask("team-a", "team-.*")).to.deep.equal({ allowed: true });
      expect(ask("other", "team-.*").allowed).to.equal(false);
    });

    it("follows the annotation even when the operator's default is none", () => {
      expect(ask("team-a", "team-a", "none")).to.deep.equal({ allowed: true });
    });

    it("does not count a partial match", () => {
      expect(ask("my-team-a", "team-a").allowed).to.equal(false);
    });

    it("allows nothing when an expression is invalid", () => {
      expect(messageOf(ask("team-a", "team-a *oops"))).to.include('"*oops" is not a valid regular expression');
    });

    it("allows nothing when the annotation is empty", () => {
      expect(ask("team-a", " , ").allowed).to.equal(false);
    });
  });
});
