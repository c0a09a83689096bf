import { rsaKeyPair, TestCA, type KeyPair } from "../pki.js";

/** Every certificate and key the control plane and its admin client need. */
export interface ControlPlaneCerts {
  /** Signs the API server's serving certificate; clients trust it. */
  readonly servingCA: KeyPair;
  readonly serving: KeyPair;
  /** The API server trusts client certificates signed by this CA. */
  readonly clientCA: TestCA;
  /** CN=admin, O=system:masters. */
  readonly admin: KeyPair;
  /** Signs and verifies ServiceAccount tokens. */
  readonly serviceAccountKey: { readonly privatePath: string; readonly publicPath: string };
}

/** Creates two throw-away CAs (serving, client), the leaf certificates and the token signing key in `dir`. */
export async function createCerts(dir: string): Promise<ControlPlaneCerts> {
  const servingCA = await TestCA.create(dir, "kompost-test-serving-ca", "serving-ca");
  const serving = await servingCA.issue({
    name: "apiserver",
    commonName: "kube-apiserver",
    altNames: ["127.0.0.1", "localhost"],
    usage: "server",
  });
  const clientCA = await TestCA.create(dir, "kompost-test-client-ca", "client-ca");
  const admin = await clientCA.issue({
    name: "admin",
    commonName: "admin",
    organizations: ["system:masters"],
    usage: "client",
  });
  const serviceAccountKey = await rsaKeyPair(dir, "service-account");
  return { servingCA: servingCA.ca, serving, clientCA, admin, serviceAccountKey };
}
