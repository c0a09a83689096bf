import { expect } from "chai";
import type { AccessDecision, AccessQuestion } from "./allowed-namespaces.js";
import { ALLOWED_NAMESPACES_ANNOTATION, mayUseInstance, parseAllowedNamespaces } from "./allowed-namespaces.js";

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
      expect(message).to.include("Unterminated group");
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
