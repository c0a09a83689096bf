/**
 * A hostile holder of the inspector Secret: it may read, and must not be able to
 * write or create anything in its database, large objects included; app keeps
 * every right it had.
 */
import { expect } from "chai";
import type pg from "pg";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, sqlState, using } from "../env/database-env.js";

/** What inspector tries; each must fail. */
const WRITES = [
  "SELECT pg_catalog.lo_create(0)",
  "SELECT pg_catalog.lo_creat(-1)",
  "SELECT pg_catalog.lo_from_bytea(0, '\\x00'::bytea)",
  "SELECT pg_catalog.lo_import('/etc/hostname')",
  "SELECT pg_catalog.lo_put($lo, 0, '\\x00'::bytea)",
  "SELECT pg_catalog.lo_open($lo, 131072)",
  "SELECT pg_catalog.lo_unlink($lo)",
  "CREATE TEMPORARY TABLE scratch (id integer)",
  "CREATE TABLE public.planted (id integer)",
  "CREATE VIEW public.planted_view AS SELECT 1 AS one",
  "CREATE FUNCTION public.planted() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
  "CREATE TYPE public.planted_type AS (a integer)",
  "CREATE SCHEMA planted",
  "CREATE TABLE extra.planted (id integer)",
  "CREATE PUBLICATION planted FOR TABLE public.items",
  "INSERT INTO public.items VALUES (2)",
  "UPDATE public.items SET id = 3",
  "DELETE FROM public.items",
  "TRUNCATE public.items",
  "INSERT INTO extra.things VALUES (2)",
  "SELECT * FROM public.items FOR UPDATE",
  "LOCK TABLE public.items IN EXCLUSIVE MODE",
  "ALTER TABLE public.items ADD COLUMN planted integer",
  "SELECT pg_catalog.nextval('public.counter')",
  "SELECT pg_catalog.setval('public.counter', 100)",
  "COPY public.items FROM '/dev/null'",
  "COPY (SELECT 1) TO '/tmp/kompost-inspector-copy'",
  "REFRESH MATERIALIZED VIEW public.summary",
];

/** Every relation, schema, routine, type and large object of the database, with its ACL. */
async function contents(db: pg.Client): Promise<string[]> {
  const { rows } = await db.query<{ line: string }>(
    `SELECT 'rel ' || c.oid::regclass::text || ' ' || COALESCE(c.relacl::text, '-') || ' ' || c.reltuples AS line
       FROM pg_class c WHERE c.oid > 16383 AND c.relpersistence <> 't'
     UNION ALL SELECT 'schema ' || n.nspname || ' ' || COALESCE(n.nspacl::text, '-') FROM pg_namespace n
      WHERE n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
     UNION ALL SELECT 'routine ' || p.oid::regprocedure::text || ' ' || COALESCE(p.proacl::text, '-')
       FROM pg_proc p WHERE p.oid > 16383
     UNION ALL SELECT 'type ' || t.oid::regtype::text FROM pg_type t WHERE t.oid > 16383 AND t.typnamespace <> 99
     UNION ALL SELECT 'lo ' || l.oid || ' ' || l.lomowner::regrole FROM pg_largeobject_metadata l
     UNION ALL SELECT 'rows ' || count(*) FROM public.items
     UNION ALL SELECT 'counter ' || last_value FROM public.counter
     ORDER BY 1`,
  );
  return rows.map((row) => row.line);
}

for (const kind of ADMIN_KINDS) {
  describe(`an inspector that cannot write, with the ${kind} admin`, function () {
    this.timeout(120_000);
    let env: DatabaseTestEnv;
    let namespace: string;
    let app: SecretData;
    let inspector: SecretData;
    let largeObject: number;

    before(async () => {
      env = await DatabaseTestEnv.start();
      namespace = await env.namespace("reader");
      await env.instance(namespace, "pg", kind);
      await env.database(namespace, "reader", { instance: "pg" });
      await env.ready(namespace, "reader");
      app = await env.secretData(namespace, "psql-reader-app");
      inspector = await env.secretData(namespace, "psql-reader-inspector");
      largeObject = await using(env.connectWith(app), async (db) => {
        for (const statement of [
          "CREATE TABLE public.items (id integer)",
          "INSERT INTO public.items VALUES (1)",
          "CREATE SEQUENCE public.counter",
          "CREATE MATERIALIZED VIEW public.summary AS SELECT count(*) AS n FROM public.items",
          "CREATE SCHEMA extra",
          "CREATE TABLE extra.things (id integer)",
        ]) {
          await db.query(statement);
        }
        const { rows } = await db.query<{ lo: number }>("SELECT pg_catalog.lo_from_bytea(0, '\\x01'::bytea) AS lo");
        return Number(rows[0]!.lo);
      });
    });

    after(async () => {
      await env.deleteDatabases(namespace);
      await env.stop();
    });

    const writes = (): string[] => WRITES.map((statement) => statement.replaceAll("$lo", String(largeObject)));

    if (kind === "superuser") {
      it("refuses every write and create inspector tries, large objects included, and nothing changes", async () => {
        await env.condition(namespace, "reader", "InspectorReadOnly", "True", { reason: "ReadOnly" });
        const before = await env.asSuperuser(contents, app.DB_NAME);
        await using(env.connectWith(inspector), async (db) => {
          expect((await db.query("SELECT count(*)::int AS n FROM public.items")).rows).to.deep.equal([{ n: 1 }]);
          for (const statement of writes()) {
            expect(await sqlState(db.query(statement)), statement).to.not.equal(undefined);
          }
        });
        expect(await env.asSuperuser(contents, app.DB_NAME)).to.deep.equal(before);
      });
    } else {
      it("refuses every write but large-object creation, and says so in InspectorReadOnly while Ready stays True", async () => {
        const condition = await env.condition(namespace, "reader", "InspectorReadOnly", "False", {
          reason: "InspectorNotReadOnly",
          message: "lo_create",
        });
        expect(condition.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
        await using(env.connectWith(inspector), async (db) => {
          for (const statement of writes().filter((s) => !/lo_creat|lo_from_bytea/.test(s))) {
            expect(await sqlState(db.query(statement)), statement).to.not.equal(undefined);
          }
        });
      });
    }

    it("leaves app every right it had: large objects, temporary tables, sequences, DDL", async () => {
      await using(env.connectWith(app), async (db) => {
        for (const statement of [
          "SELECT pg_catalog.lo_create(0)",
          "SELECT pg_catalog.lo_creat(-1)",
          "SELECT pg_catalog.lo_from_bytea(0, '\\x02'::bytea)",
          `SELECT pg_catalog.lo_put(${largeObject}, 1, '\\x03'::bytea)`,
          "CREATE TEMPORARY TABLE scratch (id integer)",
          "SELECT pg_catalog.nextval('public.counter')",
          "INSERT INTO public.items VALUES (5)",
          "CREATE TABLE extra.more (id integer)",
          "DROP TABLE extra.more",
          "REFRESH MATERIALIZED VIEW public.summary",
        ]) {
          expect(await sqlState(db.query(statement)), statement).to.equal(undefined);
        }
      });
    });
  });
}
