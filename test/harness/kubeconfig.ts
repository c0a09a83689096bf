import { KubeConfig } from "@kubernetes/client-node";
import { writeFile } from "node:fs/promises";
import { stringify } from "yaml";

/** How a kubeconfig's user authenticates: a client certificate or a bearer token. */
export type KubeconfigCredentials =
  { readonly clientCertificatePem: string; readonly clientKeyPem: string } | { readonly token: string };

/** Everything a single-context kubeconfig holds. */
export interface KubeconfigOptions {
  /** "https://127.0.0.1:<port>" */
  readonly server: string;
  /** PEM of the CA that signed the server's certificate. */
  readonly caPem: string;
  /** Name of the user entry, for humans reading the file. */
  readonly userName: string;
  readonly credentials: KubeconfigCredentials;
}

/** Renders a self-contained kubeconfig (certificates embedded) with one cluster, user and context. */
export function kubeconfigYaml({ server, caPem, userName, credentials }: KubeconfigOptions): string {
  const base64 = (pem: string) => Buffer.from(pem).toString("base64");
  const user =
    "token" in credentials
      ? { token: credentials.token }
      : {
          "client-certificate-data": base64(credentials.clientCertificatePem),
          "client-key-data": base64(credentials.clientKeyPem),
        };
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kompost-test", cluster: { server, "certificate-authority-data": base64(caPem) } }],
    users: [{ name: userName, user }],
    contexts: [{ name: userName, context: { cluster: "kompost-test", user: userName } }],
    "current-context": userName,
    preferences: {},
  });
}

/** Writes a kubeconfig file (mode 0600) and returns it loaded. */
export async function writeKubeconfig(path: string, options: KubeconfigOptions): Promise<KubeConfig> {
  const text = kubeconfigYaml(options);
  await writeFile(path, text, { mode: 0o600 });
  return loadKubeconfig(text);
}

/** Loads kubeconfig text into a fresh KubeConfig. */
export function loadKubeconfig(text: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(text);
  return kubeConfig;
}
