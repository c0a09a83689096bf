import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where `make dev` keeps the files a user pastes into other terminals; overwritten by every run (gitignored). */
export const DEV_DIR = path.join(REPO_ROOT, ".kompost", "dev");

/** The admin kubeconfig of the running dev control plane. */
export const DEV_KUBECONFIG = path.join(DEV_DIR, "kubeconfig");

/** The CA that signed the dev PostgreSQL server's certificate, for psql's sslrootcert. */
export const DEV_CA = path.join(DEV_DIR, "ca.pem");

/** The repository's sample manifests, rendered into dev variants. */
export const SAMPLES_DIR = path.join(REPO_ROOT, "config", "samples");
