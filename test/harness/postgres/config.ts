/** What the harness's postgresql.conf and pg_hba.conf are rendered from. */
export interface ClusterConfig {
  /** Loopback addresses to listen on: 127.0.0.1, plus ::1 when `localhost` may resolve to it. */
  readonly listenAddresses: readonly string[];
  readonly port: number;
  readonly socketDir: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** Renders the settings appended to postgresql.conf. */
export function renderSettings(config: ClusterConfig): string {
  const settings: Record<string, string | number> = {
    listen_addresses: quote(config.listenAddresses.join(",")),
    port: config.port,
    unix_socket_directories: quote(config.socketDir),
    max_connections: 200,
    password_encryption: quote("scram-sha-256"),
    ssl: "on",
    ssl_cert_file: quote(config.certPath),
    ssl_key_file: quote(config.keyPath),
    log_destination: quote("stderr"),
    logging_collector: "off",
    log_statement: quote("all"),
    log_line_prefix: quote("%m [%p] %q%u@%d "),
    // The cluster is thrown away after the run, so durability only costs time.
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
  };
  const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
  return ["", "# Kompost test harness", ...lines, ""].join("\n");
}

/** Renders pg_hba.conf: trust for the harness on the socket, SCRAM over TLS on TCP, and nothing without TLS. */
export function renderHba(config: Pick<ClusterConfig, "listenAddresses">): string {
  const lines = [
    "# TYPE     DATABASE USER     ADDRESS          METHOD",
    "local      all      postgres                  trust",
  ];
  for (const address of config.listenAddresses) {
    const cidr = `${address}/${address.includes(":") ? 128 : 32}`;
    lines.push(`hostssl    all      all      ${cidr.padEnd(16)} scram-sha-256`);
    lines.push(`hostnossl  all      all      ${cidr.padEnd(16)} reject`);
  }
  return lines.join("\n") + "\n";
}

function quote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
