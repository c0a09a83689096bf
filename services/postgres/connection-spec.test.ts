import { expect } from "chai";
import type { InstanceConnectionSpec } from "./connection-spec.js";
import { specFingerprint } from "./connection-spec.js";

describe("a connection spec", () => {
  const caPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const base: InstanceConnectionSpec = {
    hostname: "db.example.com",
    port: 5432,
    username: "kompost",
    password: "s3cret-admin-password",
    ssl: { enabled: true, verify: "verify_peer", ca: caPem },
  };

  it("fingerprints every part of the spec, the password included", () => {
    const variants: InstanceConnectionSpec[] = [
      { ...base, hostname: "other" },
      { ...base, port: base.port + 1 },
      { ...base, username: "other" },
      { ...base, password: "other" },
      { ...base, ssl: { enabled: false } },
      { ...base, ssl: { enabled: true, verify: "verify_ca", ca: caPem } },
      { ...base, ssl: { enabled: true, verify: "verify_peer" } },
      { ...base, allowInsecurePasswordAuth: true },
    ];
    const prints = new Set([base, ...variants].map(specFingerprint));
    expect(prints.size).to.equal(variants.length + 1);
    expect(specFingerprint({ ...base })).to.equal(specFingerprint(base));
    expect(specFingerprint(base)).not.to.include(base.password);
  });
});
