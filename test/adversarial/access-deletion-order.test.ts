import { expect } from "chai";
import { DatabaseReason } from "../../controllers/constants.js";
import { type AdminKind, operatorWorld, sqlPrefix } from "./access-fixture.js";

const INSTANCE = "inst";
const SECRET = "inst-password";
const DATABASES = ["orders", "reports"];

/**
 * An instance deleted together with its databases, in either order, while the operator is
 * stopped; with the instance not Ready when deletion began; and a whole namespace deleted.
 * Every time, once the operator runs and the server is reachable, the databases are dropped on
 * the server and every resource goes.
 */
describe("deleting an instance together with its databases (operator process)", function () {
  this.timeout(300_000);
  const world = operatorWorld();

  /** A namespace with an instance (password in a Secret) and Ready databases on it. */
  const provision = async (prefix: string, admin: AdminKind): Promise<string> => {
    const namespace = await world().namespace(prefix);
    await world().apply(world().instance({ name: INSTANCE, namespace, admin, secretName: SECRET }));
    await world().condition("pginst", INSTANCE, namespace, { type: "Ready", status: "True" });
    for (const name of DATABASES)
      await world().apply(world().database(namespace, name, { instanceRef: { name: INSTANCE } }));
    for (const name of DATABASES) await world().ready(namespace, name);
    expect(await world().serverObjects(sqlPrefix(namespace))).to.have.length(3 * DATABASES.length);
    return namespace;
  };

  /** Every resource of the namespace gone and nothing of it left on the server. */
  const allGone = async (namespace: string): Promise<void> => {
    for (const name of DATABASES) await world().gone("pgdb", name, namespace);
    await world().gone("pginst", INSTANCE, namespace);
    expect(await world().serverObjects(sqlPrefix(namespace))).to.deep.equal([]);
  };

  const orders = [
    { order: "the databases first, then the instance", admin: "superuser", instanceFirst: false },
    { order: "the instance first, then the databases", admin: "limitedAdmin", instanceFirst: true },
  ] as const;
  for (const { order, admin, instanceFirst } of orders) {
    it(`drops everything when ${order} were deleted while the operator was stopped (${admin})`, async () => {
      const namespace = await provision("del-order", admin);
      await world().stopOperator();
      const deleteDatabases = ["delete", "pgdb", "--all", "-n", namespace, "--wait=false"];
      const deleteInstance = ["delete", "pginst", INSTANCE, "-n", namespace, "--wait=false"];
      for (const args of instanceFirst ? [deleteInstance, deleteDatabases] : [deleteDatabases, deleteInstance]) {
        await world().kubectl(args);
      }
      await world().startOperator();
      await allGone(namespace);
    });
  }

  it("drops everything once the server is reachable when the instance was not Ready as deletion began", async () => {
    const namespace = await provision("del-notready", "superuser");
    await world().stopOperator();
    await world().kubectl(["patch", "secret", SECRET, "-n", namespace, "-p", '{"stringData":{"password":"wrong"}}']);
    await world().startOperator();
    await world().condition("pginst", INSTANCE, namespace, { type: "Ready", status: "False" });
    await world().stopOperator();
    await world().kubectl(["delete", "pgdb", "--all", "-n", namespace, "--wait=false"]);
    await world().kubectl(["delete", "pginst", INSTANCE, "-n", namespace, "--wait=false"]);
    await world().startOperator();
    for (const name of DATABASES) {
      await world().condition("pgdb", name, namespace, {
        type: "Connection",
        status: "False",
        reason: DatabaseReason.DeletionWaiting,
      });
    }
    const password = world().srv.superuser.password;
    await world().kubectl([
      "patch",
      "secret",
      SECRET,
      "-n",
      namespace,
      "-p",
      JSON.stringify({ stringData: { password } }),
    ]);
    await allGone(namespace);
  });

  it("finishes deleting a namespace that holds an instance and its databases, deleted while the operator was stopped", async function () {
    if (!world().cp.garbageCollection) this.skip();
    const namespace = await provision("del-namespace", "limitedAdmin");
    await world().stopOperator();
    await world().kubectl(["delete", "namespace", namespace, "--wait=false"]);
    await world().startOperator();
    await world().gone("namespace", namespace, undefined, 180_000);
    expect(await world().serverObjects(sqlPrefix(namespace))).to.deep.equal([]);
  });
});
