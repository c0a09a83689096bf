import { expect } from "chai";
import pg from "pg";
import {
  connectionSecretData,
  connectionSecretName,
  databaseUrl,
  jdbcUrl,
  type ConnectionDetails,
} from "./connection-details.js";

/** Passwords a user may write into DB_PASS (printable ASCII) that break naive URL building. */
const HOSTILE_PASSWORDS = [
  "p@ss:w/rd?#frag",
  "a&b=c;d%25e+f g",
  `quote'double"back\\slash\``,
  "%41%zz%",
  "[::1]:5432/x?y=z&user=postgres",
  " leading and trailing ",
  "~!$^*()_{}|<>,.",
];

/** What pgJDBC's Driver.parseURL reads from a URL: it splits at "?", "&" and "=" and decodes with URLDecoder ("+" is a space). */
function parseLikePgJdbc(url: string): Record<string, string> {
  const urlDecode = (text: string) => decodeURIComponent(text.replace(/\+/g, " "));
  const [server, args = ""] = [url.slice(0, url.indexOf("?")), url.slice(url.indexOf("?") + 1)];
  expect(server.startsWith("jdbc:postgresql://")).to.equal(true);
  const rest = server.slice("jdbc:postgresql://".length);
  const slash = rest.indexOf("/");
  const address = rest.slice(0, slash);
  const portAt = address.lastIndexOf(":");
  const props: Record<string, string> = {
    host: address.slice(0, portAt),
    port: address.slice(portAt + 1),
    database: urlDecode(rest.slice(slash + 1)),
  };
  for (const token of args.split("&")) {
    const eq = token.indexOf("=");
    props[token.slice(0, eq)] = urlDecode(token.slice(eq + 1));
  }
  return props;
}

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
      PGHOST: "postgres.svc",
      PGPORT: "5432",
      PGDATABASE: "default_staging",
      PGUSER: "default_staging_app",
      PGPASSWORD: "pa:ss/w@rd?#%",
      PGSSLMODE: "verify-full",
      JDBC_URL: jdbcUrl(details),
    });
  });

  it("gives node-postgres, from DATABASE_URL, exactly the user, password and database of every escape-hostile password", () => {
    for (const password of HOSTILE_PASSWORDS) {
      const url = databaseUrl({ ...details, password });
      const params = (new pg.Client({ connectionString: url }) as unknown as { connectionParameters: pg.ClientConfig })
        .connectionParameters;
      expect(params, url).to.include({
        user: details.user,
        password,
        database: details.database,
        host: "postgres.svc",
        port: 5432,
      });
    }
  });

  it("gives pgJDBC's URL rules, from JDBC_URL, exactly the user, password, database and sslmode of every escape-hostile password", () => {
    for (const password of HOSTILE_PASSWORDS) {
      const url = jdbcUrl({ ...details, password });
      expect(url).to.match(
        /^jdbc:postgresql:\/\/postgres\.svc:5432\/default_staging\?user=[^?#]*&password=[^?#&]*&sslmode=verify-full$/,
      );
      expect(parseLikePgJdbc(url), url).to.deep.equal({
        host: "postgres.svc",
        port: "5432",
        database: "default_staging",
        user: details.user,
        password,
        sslmode: "verify-full",
      });
    }
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
    expect(jdbcUrl({ ...details, host: "::1" })).to.include("//[::1]:5432/");
  });

  it("names the Secrets psql-<resource>-<role>", () => {
    expect(connectionSecretName("staging", "app")).to.equal("psql-staging-app");
    expect(connectionSecretName("staging", "inspector")).to.equal("psql-staging-inspector");
  });
});
