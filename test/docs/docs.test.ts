import { expect } from "chai";
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { crdSources } from "../../api/v1alpha1/schema/index.js";
import {
  ALLOWED_NAMESPACES_ANNOTATION,
  APP_USER_MESSAGE,
  CONNECTED_MESSAGE,
  DATABASE_CONNECTED_MESSAGE,
  databaseCreatedMessage,
  DATABASE_LABEL,
  DatabaseCondition,
  DatabaseReason,
  DELETION_POLICY_ABANDON,
  DELETION_POLICY_ANNOTATION,
  FINALIZER,
  INSPECTOR_USER_MESSAGE,
  InstanceCondition,
  InstanceReason,
  MANAGED_BY_LABEL,
  PRIVILEGED_MESSAGE,
  READY,
} from "../../controllers/constants.js";
import "../../controllers/postgres-instance/instance-metrics.js";
import { readyCondition } from "../../runtime/conditions.js";
import { metricsRegistry } from "../../runtime/metrics.js";
import { CONNECTION_SECRET_KEYS } from "../../services/secrets/connection-details.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { celMessages, helpFlags, specFieldPaths, stringLiteralsOfType } from "./code-facts.js";
import {
  headingAnchors,
  mentionsCode,
  pageOfKind,
  readDocPages,
  relativeLinks,
  yamlBlocks,
  type DocPage,
} from "./doc-pages.js";

const pages = readDocPages();
const allText = pages.map((page) => page.text).join("\n");

function page(file: string): DocPage {
  const found = pages.find((candidate) => candidate.file === file);
  if (!found) throw new Error(`docs/${file} is missing`);
  return found;
}

/** The names in `names` that `text` does not mention as inline code. */
function unmentioned(text: string, names: Iterable<string>): string[] {
  return [...new Set(names)].filter((name) => !mentionsCode(text, name));
}

describe("the user documentation in docs/", function () {
  it("documents every flag of --help in operating.md, with its environment variable and default", () => {
    const operating = page("operating.md").text;
    const flags = helpFlags();
    expect(flags.length).to.be.greaterThan(5);
    for (const flag of flags) {
      const row = operating.split("\n").find((line) => new RegExp(`^\\| +\`--${flag.name}\` +\\|`).test(line));
      expect(row, `no table row for --${flag.name} in docs/operating.md`).to.be.a("string");
      expect(mentionsCode(row!, flag.envVar), `--${flag.name}: ${flag.envVar}`).to.equal(true);
      // Defaults that are values (not descriptions such as "the pod's namespace") must match.
      if (!flag.defaultText.includes(" ")) {
        expect(mentionsCode(row!, flag.defaultText), `--${flag.name}: default ${flag.defaultText}`).to.equal(true);
      }
    }
  });

  it("names every condition type on the page of its kind", () => {
    const instanceTypes = [...Object.values(InstanceCondition), READY];
    expect(unmentioned(page("postgres-instance.md").text, instanceTypes)).to.deep.equal([]);
    expect(unmentioned(page("postgres-cluster-instance.md").text, instanceTypes)).to.deep.equal([]);
    const databaseTypes = [...Object.values(DatabaseCondition), READY];
    expect(unmentioned(page("postgres-database.md").text, databaseTypes)).to.deep.equal([]);
  });

  it("quotes the conditions' messages as the controllers write them", () => {
    const instanceMessages = [CONNECTED_MESSAGE, PRIVILEGED_MESSAGE];
    expect(unmentioned(page("postgres-instance.md").text, instanceMessages)).to.deep.equal([]);
    const databaseMessages = [
      DATABASE_CONNECTED_MESSAGE,
      databaseCreatedMessage("<name>"),
      APP_USER_MESSAGE,
      INSPECTOR_USER_MESSAGE,
    ];
    expect(unmentioned(page("postgres-database.md").text, databaseMessages)).to.deep.equal([]);
  });

  it("quotes the message of every CEL rule of each kind on the kind's page", () => {
    const messages = crdSources.flatMap((source) => celMessages(source.spec));
    expect(messages).to.include("exactly one of instanceRef or clusterInstanceRef must be set");
    for (const source of crdSources) {
      expect(unmentioned(page(pageOfKind(source.kind)).text, celMessages(source.spec)), source.kind).to.deep.equal([]);
    }
  });

  it("mentions the annotations, their abandon value, the finalizer and the Secret labels", () => {
    const names = [
      ALLOWED_NAMESPACES_ANNOTATION,
      DELETION_POLICY_ANNOTATION,
      DELETION_POLICY_ABANDON,
      FINALIZER,
      DATABASE_LABEL,
      MANAGED_BY_LABEL,
    ];
    expect(unmentioned(allText, names)).to.deep.equal([]);
    expect(unmentioned(page("postgres-database.md").text, [DELETION_POLICY_ANNOTATION, FINALIZER])).to.deep.equal([]);
  });

  it("lists every key of the connection Secrets on the PostgresDatabase page", () => {
    expect(CONNECTION_SECRET_KEYS.length).to.be.greaterThan(5);
    expect(unmentioned(page("postgres-database.md").text, CONNECTION_SECRET_KEYS)).to.deep.equal([]);
  });

  it("documents every spec field of each kind, by its full path, on the kind's page", () => {
    const walked = crdSources.flatMap((source) => specFieldPaths(source.spec));
    expect(walked).to.include.members(["spec.ssl.verify", "spec.passwordSecretRef.key", "spec.params.lc_collate"]);
    for (const source of crdSources) {
      const paths = specFieldPaths(source.spec);
      expect(unmentioned(page(pageOfKind(source.kind)).text, paths), source.kind).to.deep.equal([]);
    }
  });

  it("lists every metric the operator registers in operating.md", () => {
    const operating = page("operating.md").text;
    const names = metricsRegistry.getMetricsAsArray().map((metric) => metric.name);
    expect(names).to.include("controller_runtime_reconcile_total");
    expect(names).to.include("kompost_postgres_instance_connected");
    // prom-client's process and Node.js metrics are documented as groups.
    const grouped = (name: string): string | undefined => ["process_", "nodejs_"].find((p) => name.startsWith(p));
    const missing = names.filter((name) => {
      const prefix = grouped(name);
      return prefix ? !mentionsCode(operating, `${prefix}*`) : !mentionsCode(operating, name);
    });
    expect(missing).to.deep.equal([]);
  });

  it("explains every condition and Event reason the controllers can set in troubleshooting.md", () => {
    const reasons = [
      ...Object.values(InstanceReason),
      ...Object.values(DatabaseReason),
      // User-fixable SQL errors and connection failures carry these as reasons.
      ...stringLiteralsOfType(new URL("../../services/postgres/errors.ts", import.meta.url), "Reason"),
      ...stringLiteralsOfType(
        new URL("../../services/postgres/connection-failures.ts", import.meta.url),
        "ConnectionFailureReason",
      ),
      // Ready's own reasons: all met, and a condition not known yet.
      readyCondition([], []).reason,
      readyCondition(undefined, [InstanceCondition.Credentials]).reason,
    ];
    expect(reasons).to.include.members(["SecretNotFound", "ForeignObject", "Unreachable", "Reconciling"]);
    expect(unmentioned(page("troubleshooting.md").text, reasons)).to.deep.equal([]);
  });

  it("has YAML blocks that all parse", () => {
    const blocks = pages.flatMap(yamlBlocks);
    expect(blocks.length).to.be.greaterThan(10);
    for (const block of blocks) {
      const errors = YAML.parseAllDocuments(block.text).flatMap((doc) => doc.errors);
      expect(errors.map(String), `docs/${block.page}:${block.line}`).to.deep.equal([]);
    }
  });

  it("has relative links that lead to existing pages and headings", () => {
    for (const source of pages) {
      for (const link of relativeLinks(source)) {
        const target = link.file === "" ? source : pages.find((candidate) => candidate.file === link.file);
        expect(target, `docs/${source.file}: link ${link.target}`).to.not.equal(undefined);
        if (link.anchor !== undefined) {
          expect([...headingAnchors(target!)], `docs/${source.file}: link ${link.target}`).to.include(link.anchor);
        }
      }
    }
  });

  it("is listed page by page in the README's Documentation section", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Documentation"));
    expect(readme).to.include("## Documentation");
    for (const { file } of pages) expect(section, file).to.include(`(docs/${file})`);
  });

  describe("on a real API server", function () {
    let cp: ControlPlane;

    before(async function () {
      this.timeout(180_000);
      cp = await controlPlane();
    });

    it("accepts every manifest of the docs and rejects those marked rejected, in a server-side dry run", async function () {
      this.timeout(120_000);
      const blocks = pages.flatMap(yamlBlocks).map((block) => ({ ...block, manifests: servable(block.text) }));
      const kompost = blocks.filter((block) => block.manifests.some((m) => m.apiVersion?.startsWith(KOMPOST_GROUP)));
      expect(kompost.length, "Kompost manifests in docs/").to.be.greaterThan(8);
      expect(blocks.filter((block) => block.rejectedWith).length).to.be.greaterThan(2);
      const namespaces = new Set(blocks.flatMap((block) => block.manifests.map((m) => m.metadata?.namespace)));
      for (const namespace of namespaces) if (namespace) await cp.createNamespace(namespace);
      for (const block of blocks.filter((candidate) => candidate.manifests.length > 0)) {
        const input = block.manifests.map((manifest) => YAML.stringify(manifest)).join("---\n");
        const result = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { input });
        const where = `docs/${block.page}:${block.line}\n${result.stderr}\n${input}`;
        if (block.rejectedWith) {
          expect(result.code, where).to.not.equal(0);
          expect(result.stderr, where).to.include(block.rejectedWith);
        } else {
          expect(result.code, where).to.equal(0);
        }
      }
    });
  });
});

const KOMPOST_GROUP = "kompost.chuge.li/";

/** The API versions the test API server serves without extra CRDs. */
const SERVED_API_VERSIONS = new Set(["v1", "apps/v1", `${KOMPOST_GROUP}v1alpha1`]);

/** Kinds without a namespace, renamed instead so they cannot meet objects of other tests. */
const CLUSTER_SCOPED_KINDS = new Set(["Namespace", "PostgresClusterInstance"]);

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  [key: string]: unknown;
}

/**
 * The manifests of a YAML block that the test API server can take, moved out of the way of
 * other tests sharing it: namespaced ones into `docs-<namespace>`, cluster-scoped ones to
 * `docs-<name>`. Argo CD Applications and other kinds it does not serve are left out.
 */
function servable(text: string): Manifest[] {
  return YAML.parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null && SERVED_API_VERSIONS.has(manifest.apiVersion ?? ""))
    .map((manifest) => {
      const metadata = { ...manifest.metadata };
      if (CLUSTER_SCOPED_KINDS.has(manifest.kind ?? "")) metadata.name = `docs-${metadata.name ?? ""}`;
      else metadata.namespace = `docs-${metadata.namespace ?? "default"}`;
      return { ...manifest, metadata };
    });
}
