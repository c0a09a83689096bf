import { expect } from "chai";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../../test/harness/postgres.js";
import { UserFixableError } from "../errors.js";
import type { SqlNames } from "../naming.js";
import { validateUserPassword } from "../passwords.js";
import { MAX_IDENTIFIER_BYTES } from "../sql.js";
import { dropDatabase, ensureDatabase } from "./database.js";
import { applyGrants, checkGrants } from "./grants.js";
import { dropRole, ensureRole, setRolePassword } from "./role.js";
import { ADMIN_KINDS, catalogSnapshot, connectAdmin, newTenant, removeTenant, withClient } from "./fixture.test.js";

/** Names that break SQL built by string pasting: quotes, statement ends, comments, escapes, unicode, 63 bytes. */
const HOSTILE_NAMES = [
  `x"; DROP DATABASE postgres; --`,
  `it's'; DROP ROLE kompost_admin; --`,
  `/* open comment`,
  `back\\slash\\' E'\\x41'`,
  `$$ dollar $$ $tag$`,
  `ünïcödé 😀 名前`,
  `UPPER lower\ttab`,
  `${"ü".repeat(31)}x`,
];

const HOSTILE_PARAMS: Record<string, unknown>[] = [
  { template: `template1"; DROP DATABASE postgres; --` },
  { template: "a".repeat(1000) },
  { encoding: `UTF8'; DROP ROLE kompost_admin; --` },
  { encoding: "UTF8\\" },
  { locale: `C'; SELECT pg_sleep(10); --` },
  { lc_collate: `C\\' OR 1=1` },
  { lc_ctype: "/* */C" },
  { locale: "ü" },
  { connection_limit: "5; DROP TABLE x" },
  { connection_limit: "1e3" },
  { is_template: "true; --" },
  { "encoding'; --": "UTF8" },
];

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** `name` plus `suffix`, cutting `name` (by characters) until the whole fits in 63 bytes. */
function variant(name: string, suffix: string): string {
  let head = name;
  while (byteLength(head + suffix) > MAX_IDENTIFIER_BYTES) head = head.slice(0, -1);
  return head + suffix;
}

for (const kind of ADMIN_KINDS) {
  describe(`hostile input with the ${kind} admin`, () => {
    let srv: PostgresServer;
    let admin: pg.Client;
    let superuser: pg.Client;
    const tenant = newTenant("hostile");

    before(async () => {
      srv = await postgres();
      admin = await connectAdmin(srv, kind);
      superuser = await srv.connect();
    });
    after(async () => {
      await admin.end();
      await superuser.end();
    });

    // A failed test must not leave hostile objects behind for the next one to trip over.
    let leftovers: SqlNames | undefined;
    afterEach(async () => {
      if (leftovers !== undefined) await removeTenant(srv, leftovers);
      leftovers = undefined;
    });

    for (const hostile of HOSTILE_NAMES) {
      it(`creates, uses and drops exactly the objects named ${JSON.stringify(hostile)} and nothing else`, async () => {
        const names: SqlNames = { database: hostile, app: hostile, inspector: variant(hostile, `'"`) };
        leftovers = names;
        const before = await catalogSnapshot(superuser);

        await ensureDatabase(admin, names.database, {}, tenant.marker);
        await ensureRole(admin, names.app, tenant.appPassword, tenant.marker);
        await ensureRole(admin, names.inspector, tenant.inspectorPassword, tenant.marker);
        await withClient(connectAdmin(srv, kind, names.database), async (db) => {
          await applyGrants(db, names, tenant.marker);
          expect(await checkGrants(db, names)).to.deep.equal([]);
        });
        await withClient(
          srv.connect({ user: names.app, password: tenant.appPassword, database: names.database }),
          async (app) => {
            const { rows } = await app.query<{ db: string; me: string }>(
              "SELECT pg_catalog.current_database() AS db, current_user AS me",
            );
            expect(rows).to.deep.equal([{ db: hostile, me: hostile }]);
          },
        );

        const during = await catalogSnapshot(superuser);
        expect(before.filter((line) => !during.includes(line))).to.deep.equal([]);
        const added = during.filter((line) => !before.includes(line));
        // One database, two roles, and for the limited admin its membership in both roles; PostgreSQL 16+
        // also records the ADMIN OPTION it gives the creator of a role, so the admin has two grants of each.
        const memberships = kind === "limitedAdmin" ? (srv.majorVersion >= 16 ? 4 : 2) : 0;
        expect(added).to.have.lengthOf(3 + memberships);
        expect(added.filter((line) => line.startsWith(`database ${hostile} managed by kompost`))).to.have.lengthOf(1);
        expect(added.filter((line) => line.startsWith("role "))).to.have.lengthOf(2);
        const adminMember = `member ${srv.limitedAdmin.user} in `;
        expect(
          added.filter((line) => line.startsWith(adminMember)),
          "only the admin joins a tenant role",
        ).to.have.lengthOf(memberships);

        expect(await dropDatabase(admin, names.database, tenant.marker)).to.equal("dropped");
        expect(await dropRole(admin, names.app, tenant.marker)).to.equal("dropped");
        expect(await dropRole(admin, names.inspector, tenant.marker)).to.equal("dropped");
        expect(await catalogSnapshot(superuser)).to.deep.equal(before);
      });
    }

    it("refuses every hostile param before it reaches the server, and changes nothing", async () => {
      const before = await catalogSnapshot(superuser);
      for (const params of HOSTILE_PARAMS) {
        const err = await ensureDatabase(admin, tenant.names.database, params, tenant.marker).then(
          () => expect.fail(`accepted ${JSON.stringify(params)}`),
          (e: unknown) => e,
        );
        expect(err, JSON.stringify(params))
          .to.be.instanceOf(UserFixableError)
          .with.property("reason", "InvalidParameter");
        expect((err as Error).message).to.match(/^while checking params: /);
      }
      expect(await catalogSnapshot(superuser)).to.deep.equal(before);
    });

    it("refuses a name over 63 bytes instead of letting the server cut it, and changes nothing", async () => {
      const before = await catalogSnapshot(superuser);
      const long = `${"a".repeat(63)}b`;
      const err = await ensureDatabase(admin, long, {}, tenant.marker).catch((e: unknown) => e);
      expect((err as Error).message).to.include("64 bytes long; PostgreSQL keeps at most 63");
      const roleErr = await ensureRole(admin, long, "password", tenant.marker).catch((e: unknown) => e);
      expect((roleErr as Error).message).to.include("64 bytes long");
      expect(await catalogSnapshot(superuser)).to.deep.equal(before);
    });

    it("sets a password full of quotes and comment markers as a verifier that logs in", async () => {
      const role = variant(`pw ${tenant.names.app}`, "");
      const password = `'; DROP ROLE ${srv[kind].user}; -- /* \\' $$ "`;
      validateUserPassword(password);
      await ensureRole(admin, role, "initial", tenant.marker);
      try {
        await setRolePassword(admin, role, password, tenant.marker);
        await withClient(srv.connect({ user: role, password }), () => Promise.resolve());
        expect(await srv.readLog()).to.not.include(password);
      } finally {
        await dropRole(admin, role, tenant.marker);
      }
    });
  });
}
