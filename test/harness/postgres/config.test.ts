import { expect } from "chai";
import { renderHba, renderSettings } from "./config.js";

describe("test PostgreSQL configuration", () => {
  const config = {
    listenAddresses: ["127.0.0.1", "::1"],
    port: 54321,
    socketDir: "/tmp/it's here",
    certPath: "/tmp/pki/server.crt",
    keyPath: "/tmp/pki/server.key",
  };

  it("allows TCP only over TLS with SCRAM, and rejects plain TCP, on every listen address", () => {
    const rules = renderHba(config)
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.split(/\s+/).join(" "));
    expect(rules).to.deep.equal([
      "local all postgres trust",
      "hostssl all all 127.0.0.1/32 scram-sha-256",
      "hostnossl all all 127.0.0.1/32 reject",
      "hostssl all all ::1/128 scram-sha-256",
      "hostnossl all all ::1/128 reject",
    ]);
  });

  it("listens on the loopback addresses only and logs every statement", () => {
    const settings = renderSettings(config);
    expect(settings).to.include("listen_addresses = '127.0.0.1,::1'\n");
    expect(settings).to.include("log_statement = 'all'\n");
    expect(settings).to.include("ssl = on\n");
    expect(settings).to.include("password_encryption = 'scram-sha-256'\n");
  });

  it("doubles quotes in setting values so that a path cannot end the string early", () => {
    expect(renderSettings(config)).to.include("unix_socket_directories = '/tmp/it''s here'\n");
  });
});
