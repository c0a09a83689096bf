import { expect } from "chai";
import type { ConnectionDetails } from "./connection-details.js";
import { checkSecretMetadata, InvalidSecretSpecError, renderExtraKeys, type SecretSpec } from "./secret-spec.js";

const details: ConnectionDetails = {
  host: "postgres.svc",
  port: 5432,
  database: "team_a_web",
  user: "team_a_web_app",
  password: "s3cr3t:@/?#&%=\"'",
  ssl: { enabled: true, verify: "verify_ca", ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
};

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidSecretSpecError);
    return (err as Error).message;
  }
  throw new Error("expected an InvalidSecretSpecError");
}

describe("spec.secret: extra keys, labels and annotations", () => {
  it("substitutes every placeholder, with or without spaces, and keeps everything else as written", () => {
    const rendered = renderExtraKeys(
      {
        extraKeys: {
          "spring.datasource.url": "jdbc:postgresql://{{host}}:{{ port }}/{{database}}?sslmode={{sslmode}}",
          DSN: "host={{host}} user={{user}} password={{password}} dbname={{database}}",
          "ca.pem": "{{ca}}",
          LITERAL: "no placeholders, $(HOME) ${X} {single} {{{host}}}",
        },
      },
      details,
    );
    expect(rendered).to.deep.equal({
      "spring.datasource.url": "jdbc:postgresql://postgres.svc:5432/team_a_web?sslmode=verify-ca",
      DSN: `host=postgres.svc user=team_a_web_app password=${details.password} dbname=team_a_web`,
      "ca.pem": details.ssl.ca,
      LITERAL: "no placeholders, $(HOME) ${X} {single} {postgres.svc}",
    });
  });

  it("does not substitute a second time: a password that looks like a placeholder stays as it is", () => {
    const rendered = renderExtraKeys(
      { extraKeys: { X: "{{password}}-{{user}}" } },
      { ...details, password: "{{user}}" },
    );
    expect(rendered.X).to.equal("{{user}}-team_a_web_app");
  });

  it("gives an empty {{ca}} when TLS is off", () => {
    expect(
      renderExtraKeys({ extraKeys: { CA: "{{ca}}" } }, { ...details, ssl: { ...details.ssl, enabled: false } }),
    ).to.deep.equal({
      CA: "",
    });
  });

  it("refuses any other placeholder, naming the key and the placeholders allowed", () => {
    for (const template of [
      "{{env}}",
      "{{ .password }}",
      "{{password | urlencode}}",
      "{{}}",
      "{{PASSWORD}}",
      "{{constructor}}",
    ]) {
      const message = refusal(() => renderExtraKeys({ extraKeys: { URL: template } }, details));
      expect(message).to.include("spec.secret.extraKeys.URL uses the unknown placeholder");
      expect(message).to.include("{{host}}, {{port}}, {{database}}, {{user}}, {{password}}, {{sslmode}}, {{ca}}");
    }
  });

  it("refuses keys that are not valid Secret keys or are Kompost's own", () => {
    for (const key of ["has space", "slash/key", "..dots", ".", "x".repeat(254), "ümlaut"]) {
      expect(refusal(() => renderExtraKeys({ extraKeys: { [key]: "v" } }, details))).to.include(
        "is not a valid Secret key",
      );
    }
    for (const key of ["DB_PASS", "DATABASE_URL", "PGPASSWORD", "JDBC_URL"]) {
      expect(refusal(() => renderExtraKeys({ extraKeys: { [key]: "v" } }, details))).to.include(
        "one of Kompost's own keys",
      );
    }
    expect(renderExtraKeys({ extraKeys: { "a-b_c.D9": "v" } }, details)).to.deep.equal({ "a-b_c.D9": "v" });
  });

  it("accepts valid extra labels and annotations", () => {
    const spec: SecretSpec = {
      labels: { team: "a", "example.com/tier": "backend", empty: "" },
      annotations: { "reloader.stakater.com/match": "true", note: "any text: { } / ?" },
    };
    expect(() => checkSecretMetadata(spec)).to.not.throw();
  });

  it("refuses Kompost's own labels and annotations, and invalid keys or label values", () => {
    const own = (spec: SecretSpec) => refusal(() => checkSecretMetadata(spec));
    expect(own({ labels: { "app.kubernetes.io/managed-by": "me" } })).to.include("one of Kompost's own labels");
    expect(own({ labels: { "kompost.chuge.li/postgres-database": "other" } })).to.include(
      "one of Kompost's own labels",
    );
    expect(own({ annotations: { "kompost.chuge.li/data-hash": "x" } })).to.include("one of Kompost's own annotations");
    expect(own({ annotations: { "kompost.chuge.li/rotate-password": "x" } })).to.include(
      "one of Kompost's own annotations",
    );
    expect(own({ labels: { "bad key": "v" } })).to.include("is not a valid key");
    expect(own({ annotations: { "Upper.Case/x": "v" } })).to.include("is not a valid key");
    expect(own({ labels: { ok: "not valid!" } })).to.include("has an invalid value");
    expect(own({ labels: { ok: "-leading" } })).to.include("has an invalid value");
  });
});
