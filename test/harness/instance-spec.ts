import type { InstanceConnectionSpec } from "../../services/postgres/connection-spec.js";
import type { PostgresServer } from "./postgres.js";

/** How Kompost reaches the test server: as its superuser, over TLS verified against its CA and name. */
export function instanceSpecOf(
  srv: PostgresServer,
  overrides: Partial<InstanceConnectionSpec> = {},
): InstanceConnectionSpec {
  return {
    hostname: srv.tlsServerName,
    port: srv.port,
    username: srv.superuser.user,
    password: srv.superuser.password,
    ssl: { enabled: true, verify: "verify_peer", ca: srv.caPem },
    ...overrides,
  };
}

/** The test server as reached through a proxy on `port` of a loopback address: the CA is verified, not the name. */
export function proxiedSpecOf(srv: PostgresServer, port: number): InstanceConnectionSpec {
  return instanceSpecOf(srv, {
    hostname: "127.0.0.1",
    port,
    ssl: { enabled: true, verify: "verify_ca", ca: srv.caPem },
  });
}
