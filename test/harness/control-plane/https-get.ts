import https from "node:https";

/** PEM material for a mutually authenticated TLS request. */
export interface ClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The status and body of an HTTP response. */
export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

/** Sends a GET with a client certificate and resolves with status and body (any status). */
export async function httpsGet(url: string, tls: ClientTls, timeoutMs = 5_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ...tls, agent: false, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}
