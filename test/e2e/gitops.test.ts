import { expect } from "chai";
import { kustomize, type Manifest, parseManifests, repoPath } from "../deploy/manifests.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { loadSamples, renderDevSamples, toYamlStream } from "../../hack/dev/samples.js";
import { kubectl, waitFor } from "./kubectl.js";
import {
  dumpCluster,
  dumpOnFailure,
  installOperator,
  type OperatorDeployment,
  OperatorProcess,
} from "./operator-process.js";

/** Appended to every name and namespace of the variants, so they live beside the repository's samples. */
const SUFFIX = "-gitops";
const KOMPOST_KINDS = new Set(["PostgresInstance", "PostgresClusterInstance", "PostgresDatabase"]);
/** Spec fields that name another object. */
const REFERENCE_FIELDS = ["instanceRef", "clusterInstanceRef", "passwordSecretRef"];

type Json = Record<string, unknown>;

/**
 * The samples pointed at the test run's PostgreSQL (hack/dev's rendering), every name, namespace
 * and reference suffixed so that they do not collide with the repository's samples or with other
 * tests' databases; the operator's namespace stays where it is.
 */
function variantsOf(samples: readonly Manifest[], srv: PostgresServer, operatorNamespace: string): Manifest[] {
  const rendered = renderDevSamples(
    samples,
    {
      host: srv.tlsServerName,
      port: srv.port,
      user: srv.limitedAdmin.user,
      password: srv.limitedAdmin.password,
      caPem: srv.caPem,
    },
    operatorNamespace,
  );
  const moved = (namespace: string) => (namespace === operatorNamespace ? namespace : namespace + SUFFIX);
  return rendered.manifests
    .filter((object) => !(object.kind === "Namespace" && object.metadata.name === operatorNamespace))
    .map((object) => {
      const { name, namespace } = object.metadata;
      const spec = object.spec as Json | undefined;
      return {
        ...object,
        metadata: {
          ...object.metadata,
          name: object.kind === "Namespace" ? moved(name) : name + SUFFIX,
          ...(namespace === undefined ? {} : { namespace: moved(namespace) }),
        },
        ...(spec === undefined ? {} : { spec: withMovedReferences(spec, moved) }),
      };
    });
}

/** The spec with the names (and namespaces) of the objects it references suffixed like theirs. */
function withMovedReferences(spec: Json, moved: (namespace: string) => string): Json {
  const references = REFERENCE_FIELDS.filter((field) => spec[field] !== undefined).map((field): [string, Json] => {
    const { name, namespace, ...rest } = spec[field] as Json & { name: string; namespace?: string };
    return [
      field,
      { ...rest, name: name + SUFFIX, ...(namespace === undefined ? {} : { namespace: moved(namespace) }) },
    ];
  });
  return { ...spec, ...Object.fromEntries(references) };
}

/** The objects as stored, without what the operator and the server may change by themselves. */
async function storedSpecs(cp: ControlPlane, manifests: string): Promise<unknown[]> {
  const list = JSON.parse(await kubectl(cp, ["get", "-f", "-", "-o", "json"], { input: manifests })) as {
    items: Array<Json & { metadata: Json }>;
  };
  return list.items.map(({ status: _status, metadata, ...object }) => {
    const { resourceVersion: _version, managedFields: _fields, ...stable } = metadata;
    return { ...object, metadata: stable };
  });
}

/**
 * What Argo CD and `kubectl apply` users rely on: once the operator has reconciled the samples,
 * the manifests still match the cluster (the operator writes status and finalizers, never spec),
 * and applying them again changes nothing.
 */
describe("GitOps: the samples after the operator reconciled them (end to end)", function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let deployment: OperatorDeployment;
  let operator: OperatorProcess | undefined;
  /** Pointed at the test PostgreSQL: they become Ready. Applied client-side, as Argo CD does by default. */
  let variants: string;
  let variantObjects: Manifest[];
  /** The repository's samples as they are: their server does not exist. Applied server-side. */
  let samples: string;

  before(async function () {
    this.timeout(600_000);
    let srv: PostgresServer;
    [cp, srv] = await Promise.all([controlPlane(), postgres()]);
    deployment = await installOperator(cp);
    samples = await kustomize("config/samples");
    variantObjects = variantsOf(await loadSamples(repoPath("config", "samples")), srv, deployment.namespace);
    variants = toYamlStream(variantObjects);
    for (const object of parseManifests(samples)) {
      if (object.metadata.namespace) await cp.createNamespace(object.metadata.namespace);
    }
    operator = await OperatorProcess.start(deployment, { name: "gitops" });
    await applyAndWaitUntilReconciled().catch(async (err: unknown) => {
      await dumpCluster("the samples were applied", cp, [operator!]);
      throw err;
    });
  });

  /** Waits until every Kompost object among `objects` meets the `kubectl wait` condition. */
  const waitForEach = async (objects: readonly Manifest[], condition: string): Promise<void> => {
    for (const { kind, metadata } of objects.filter((object) => KOMPOST_KINDS.has(object.kind))) {
      const resource = `${kind.toLowerCase()}/${metadata.name}`;
      await waitFor(cp, resource, condition, { namespace: metadata.namespace, timeoutSeconds: 90 });
    }
  };

  /** Deletes the objects and waits until they are gone. */
  const deleteAll = async (objects: readonly Manifest[]): Promise<void> => {
    if (objects.length === 0) return;
    const input = toYamlStream(objects);
    await kubectl(cp, ["delete", "--ignore-not-found", "--timeout=120s", "-f", "-"], { input });
  };

  /** Applies both sets and waits until the operator has reconciled every Kompost object in them. */
  const applyAndWaitUntilReconciled = async (): Promise<void> => {
    await operator!.waitReady();

    await kubectl(cp, ["apply", "-f", "-"], { input: variants });
    await kubectl(cp, ["apply", "--server-side", "-f", "-"], { input: samples });
    await waitForEach(variantObjects, "condition=Ready");
    // The repository's samples cannot become Ready; wait until the operator has written their status.
    await waitForEach(parseManifests(samples), "jsonpath={.status.observedGeneration}=1");
  };

  afterEach(async function () {
    await dumpOnFailure(this.currentTest, cp, operator ? [operator] : []);
  });

  after(async function () {
    this.timeout(240_000);
    if (!operator) return;
    // The samples' server does not exist, so their databases can only go if nothing is dropped.
    for (const object of parseManifests(samples).filter((o) => o.kind === "PostgresDatabase")) {
      await cp.kubectl([
        "annotate",
        "--overwrite",
        "pgdb",
        object.metadata.name,
        "-n",
        object.metadata.namespace!,
        "kompost.chuge.li/deletion-policy=abandon",
      ]);
    }
    // Databases first, while their instances can still drop them; then the instances; then the rest.
    const all = [...parseManifests(samples), ...variantObjects];
    for (const stage of [["PostgresDatabase"], ["PostgresInstance", "PostgresClusterInstance"]]) {
      await deleteAll(all.filter((object) => stage.includes(object.kind)));
    }
    await deleteAll(variantObjects.filter((object) => !KOMPOST_KINDS.has(object.kind)));
    await operator.stop();
  });

  it("finds no difference between the applied manifests and the cluster (kubectl diff, client-side)", async () => {
    const diff = await cp.kubectl(["diff", "-f", "-"], { input: variants });
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
    expect(diff.stdout).to.equal("");
  });

  it("finds no difference with a server-side diff of the repository's samples, which cannot become Ready", async () => {
    const diff = await cp.kubectl(["diff", "--server-side", "-f", "-"], { input: samples });
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
    expect(diff.stdout).to.equal("");
  });

  it("changes nothing when the manifests are applied a second time", async () => {
    const before = await storedSpecs(cp, variants);
    const output = await kubectl(cp, ["apply", "-f", "-"], { input: variants });
    const lines = output.trim().split("\n");
    expect(lines).to.have.length(variantObjects.length);
    for (const line of lines) expect(line).to.match(/ unchanged$/);
    expect(await storedSpecs(cp, variants)).to.deep.equal(before);
  });

  it("changes nothing when the repository's samples are applied server-side a second time", async () => {
    const before = await storedSpecs(cp, samples);
    await kubectl(cp, ["apply", "--server-side", "-f", "-"], { input: samples });
    expect(await storedSpecs(cp, samples)).to.deep.equal(before);
  });

  it("never wrote a resource's spec: generation is still 1 on every Kompost object", async () => {
    for (const manifests of [variants, samples]) {
      const generations = await kubectl(
        cp,
        [
          "get",
          "-f",
          "-",
          "-o",
          'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.generation}{"\\n"}{end}',
        ],
        {
          input: manifests,
        },
      );
      for (const line of generations
        .trim()
        .split("\n")
        .filter((l) => /^Postgres/.test(l))) {
        expect(line).to.match(/=1$/);
      }
    }
  });
});
