import { expect } from "chai";
import {
  connectionSecretData,
  connectionSecretName,
  databaseUrl,
  type ConnectionDetails,
} from "./connection-details.js";

const details: ConnectionDetails = {
  host: "postgres.svc",
  port: 5432,
  database: "default_staging",
  user: "default_staging_app",
  password: "pa:ss/w@rd?#%",
  ssl: { enabled: true, verify: "verify_peer" },
};

describe("connection Secret data", () => {
  it("holds every key the original Kompost wrote, plus DB_SSL_CA and DATABASE_URL", () => {
    expect(connectionSecretData(details)).to.deep.equal({
      DB_HOST: "postgres.svc",
      DB_PORT: "5432",
      DB_NAME: "default_staging",
      DB_USER: "default_staging_app",
      DB_PASS: "pa:ss/w@rd?#%",
      DB_SSL: "true",
      DB_SSL_VERIFY: "true",
      DB_SSL_CA: "",
      DATABASE_URL: databaseUrl(details),
    });
  });

  it("percent-encodes user and password in DATABASE_URL so it parses back to the same values", () => {
    const url = new URL(databaseUrl(details));
    expect(url.protocol).to.equal("postgresql:");
    expect(decodeURIComponent(url.username)).to.equal(details.user);
    expect(decodeURIComponent(url.password)).to.equal(details.password);
    expect(url.hostname).to.equal("postgres.svc");
    expect(url.port).to.equal("5432");
    expect(url.pathname).to.equal("/default_staging");
  });

  it("maps ssl settings to libpq's sslmode and DB_SSL_VERIFY", () => {
    const mode = (ssl: ConnectionDetails["ssl"]) =>
      new URL(databaseUrl({ ...details, ssl })).searchParams.get("sslmode");
    expect(mode({ enabled: false, verify: "verify_peer" })).to.equal("disable");
    expect(mode({ enabled: true, verify: "verify_none" })).to.equal("require");
    expect(mode({ enabled: true, verify: "verify_ca" })).to.equal("verify-ca");
    expect(mode({ enabled: true, verify: "verify_peer" })).to.equal("verify-full");
    expect(connectionSecretData({ ...details, ssl: { enabled: true, verify: "verify_none" } }).DB_SSL_VERIFY).to.equal(
      "false",
    );
    expect(connectionSecretData({ ...details, ssl: { enabled: false, verify: "verify_peer" } })).to.include({
      DB_SSL: "false",
      DB_SSL_VERIFY: "false",
    });
  });

  it("carries the instance's CA in DB_SSL_CA while TLS is on", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    expect(connectionSecretData({ ...details, ssl: { enabled: true, verify: "verify_ca", ca } }).DB_SSL_CA).to.equal(
      ca,
    );
    expect(connectionSecretData({ ...details, ssl: { enabled: false, verify: "verify_ca", ca } }).DB_SSL_CA).to.equal(
      "",
    );
  });

  it("brackets an IPv6 host", () => {
    expect(databaseUrl({ ...details, host: "::1" })).to.include("@[::1]:5432/");
  });

  it("names the Secrets psql-<resource>-<role>", () => {
    expect(connectionSecretName("staging", "app")).to.equal("psql-staging-app");
    expect(connectionSecretName("staging", "inspector")).to.equal("psql-staging-inspector");
  });
});
