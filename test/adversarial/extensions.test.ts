import { expect } from "chai";
import type pg from "pg";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, sqlState, using } from "../env/database-env.js";
import { roleStanding } from "./admin-session-fixture.js";

/** What the platform allows in these tests; `kompost_no_such_ext` exists on no server. */
const ALLOWED = ["pg_trgm", "citext", "hstore", "cube", "earthdistance", "kompost_no_such_ext"];

/** The extensions of a database as the catalog has them: name → "version schema owner". */
async function catalogExtensions(superuser: pg.Client): Promise<Record<string, string>> {
  await superuser.query("SET search_path = pg_catalog, pg_temp");
  const { rows } = await superuser.query<{ name: string; line: string }>(
    "SELECT e.extname AS name, e.extversion || ' ' || n.nspname || ' ' || pg_get_userbyid(e.extowner) AS line FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'",
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.line]));
}

/**
 * Plants, as app, what earthdistance's script picks up when it runs with `public` on its
 * search_path before the schema of cube (here a schema app made, holding app's own cube):
 * a composite type `public.cube` whose field is a domain with a CHECK that calls app's
 * function, and the cube functions the script's domain constraints name. Parsing the
 * script's literal '(0)'::cube then runs the CHECK as whoever runs the script.
 */
async function plantCubeTrap(asApp: pg.Client, app: string): Promise<void> {
  await asApp.query("CREATE SCHEMA mine");
  await asApp.query("CREATE EXTENSION cube SCHEMA mine");
  await asApp.query("CREATE TABLE public.trap_log (who text)");
  await asApp.query(`CREATE FUNCTION public.trap(text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO public.trap_log VALUES (current_user);
  BEGIN EXECUTE 'ALTER ROLE "${app}" SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
  RETURN true;
END $f$`);
  await asApp.query("GRANT ALL ON public.trap_log TO PUBLIC");
  await asApp.query("CREATE DOMAIN public.trapped AS text CHECK (public.trap(VALUE))");
  await asApp.query("CREATE TYPE public.cube AS (x public.trapped)");
  await asApp.query("CREATE FUNCTION public.cube_is_point(public.cube) RETURNS boolean LANGUAGE sql AS 'SELECT true'");
  await asApp.query("CREATE FUNCTION public.cube_dim(public.cube) RETURNS int LANGUAGE sql AS 'SELECT 1'");
  await asApp.query(
    "CREATE FUNCTION public.cube_distance(public.cube, public.cube) RETURNS float8 LANGUAGE sql AS 'SELECT 1::float8'",
  );
}

for (const kind of ADMIN_KINDS) {
  describe(`Extensions with the ${kind} admin (adversarial, real API server and PostgreSQL)`, function () {
    this.timeout(180_000);
    let env: DatabaseTestEnv;
    let namespace: string;

    before(async () => {
      env = await DatabaseTestEnv.start({ resyncPeriodMs: 1_000 });
      namespace = await env.namespace("extensions");
      await env.instance(namespace, "pg", kind);
      await env.kubectl(
        "patch",
        "pginst",
        "pg",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { allowedExtensions: ALLOWED } }),
      );
    });

    after(async () => {
      await env.deleteDatabases(namespace);
      await env.stop();
    });

    const provisioned = async (name: string, spec: string): Promise<SecretData> => {
      await env.database(namespace, name, { instance: "pg" }, { spec });
      await env.ready(namespace, name, 60_000);
      return env.secretData(namespace, `psql-${name}-app`);
    };

    const setExtensions = (name: string, extensions: unknown[]): Promise<string> =>
      env.kubectl(
        "patch",
        "pgdb",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { extensions } }),
      );

    it("installs allowed extensions into a schema only the admin may create in, updates them, leaves a removed one and drops one marked absent, while refusals keep the database Ready", async () => {
      const app = await provisioned(
        "lifecycle",
        "  extensions:\n    - {name: pg_trgm, version: '1.5'}\n    - citext\n    - kompost_no_such_ext\n    - uuid-ossp\n",
      );
      const refused = await env.condition(namespace, "lifecycle", "ExtensionsReady", "False", {
        reason: "ExtensionUnavailable",
      });
      expect(refused.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
      const message = refused.status?.conditions?.find((c) => c.type === "ExtensionsReady")?.message ?? "";
      expect(message).to.include('"kompost_no_such_ext"').and.to.include('"uuid-ossp" is not in');
      expect((await env.event(namespace, "lifecycle", "ExtensionNotAllowed")).type).to.equal("Warning");
      const citext = (await env.asSuperuser(catalogExtensions, app.DB_NAME)).citext!.split(" ")[0]!;
      expect(refused.status?.extensions).to.deep.equal([
        { name: "pg_trgm", version: "1.5", schema: "extensions" },
        { name: "citext", version: citext, schema: "extensions" },
      ]);
      await using(env.connectWith(app), async (asApp) => {
        const { rows } = await asApp.query<{ similar: boolean }>(
          "SELECT extensions.similarity('kompost', 'compost') > 0 AS similar",
        );
        expect(rows[0]?.similar).to.equal(true);
        expect(await sqlState(asApp.query("CREATE TABLE extensions.planted (x int)"))).to.equal("42501");
      });

      await setExtensions("lifecycle", [{ name: "pg_trgm", version: "1.6" }]);
      const updated = await env.condition(namespace, "lifecycle", "ExtensionsReady", "True", {
        reason: "ExtensionsInstalled",
      });
      expect(updated.status?.extensions).to.deep.equal([{ name: "pg_trgm", version: "1.6", schema: "extensions" }]);
      expect(await env.asSuperuser(catalogExtensions, app.DB_NAME)).to.have.property("citext"); // removed from the list, kept

      await setExtensions("lifecycle", [
        { name: "pg_trgm", version: "1.6" },
        { name: "citext", ensure: "absent" },
      ]);
      await env.event(namespace, "lifecycle", "ExtensionDropped");
      expect(await env.asSuperuser(catalogExtensions, app.DB_NAME)).to.not.have.property("citext");
      await env.ready(namespace, "lifecycle");
    });

    it("never runs a tenant's trap in a writable schema as the admin, nor changes or drops an extension the tenant created", async () => {
      const victim = await provisioned("trapped", "");
      const standing = await env.asSuperuser((db) => roleStanding(db, victim.DB_USER!));
      await using(env.connectWith(victim), async (asApp) => {
        await plantCubeTrap(asApp, victim.DB_USER!);
        await asApp.query("CREATE EXTENSION hstore VERSION '1.7' SCHEMA public");
      });

      // public is app's to create in; cube sits in app's own schema; hstore is app's extension.
      await setExtensions("trapped", [
        { name: "earthdistance", schema: "public" },
        { name: "pg_trgm", schema: "public" },
        { name: "hstore", version: "1.8" },
      ]);
      const refused = await env.condition(namespace, "trapped", "ExtensionsReady", "False", {
        reason: "ExtensionFailed",
      });
      const message = refused.status?.conditions?.find((c) => c.type === "ExtensionsReady")?.message ?? "";
      if (kind === "superuser") expect(message).to.include('schema "public" for extension "earthdistance"');
      else expect(message).to.include('"earthdistance" is not trusted');
      expect(message).to.include('schema "public" for extension "pg_trgm"');
      expect(message).to.include(`"hstore" 1.7 was created by role "${victim.DB_USER!}"`);

      // Default schema: earthdistance's script would still search app's schema "mine", where its cube is.
      await setExtensions("trapped", ["earthdistance", { name: "hstore", ensure: "absent" }]);
      await env.condition(namespace, "trapped", "ExtensionsReady", "False", {
        message: kind === "superuser" ? 'schema "mine" for extension "earthdistance"' : "is not trusted",
      });
      await env.condition(namespace, "trapped", "ExtensionsReady", "False", { message: "does not drop it" });

      const ran = await env.asSuperuser(async (db) => {
        await db.query("SET search_path = pg_catalog, pg_temp");
        return (await db.query<{ who: string }>("SELECT who FROM public.trap_log")).rows;
      }, victim.DB_NAME);
      expect(ran, "the trap's record of running").to.deep.equal([]);
      expect(await env.asSuperuser((db) => roleStanding(db, victim.DB_USER!))).to.deep.equal(standing);
      const extensions = await env.asSuperuser(catalogExtensions, victim.DB_NAME);
      expect(extensions.hstore).to.equal(`1.7 public ${victim.DB_USER!}`);
      expect(extensions).to.not.have.property("earthdistance");
      expect(extensions).to.not.have.property("pg_trgm");
      await env.ready(namespace, "trapped");

      // An emptied list clears the refusals; what is installed stays.
      await setExtensions("trapped", []);
      const cleared = await env.condition(namespace, "trapped", "ExtensionsReady", "True", {
        message: "No extensions are requested",
      });
      expect(cleared.status?.extensions).to.equal(undefined);
      expect((await env.asSuperuser(catalogExtensions, victim.DB_NAME)).hstore).to.equal(
        `1.7 public ${victim.DB_USER!}`,
      );
    });
  });
}
