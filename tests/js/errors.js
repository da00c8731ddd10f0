// Error messages (with the driver's carets) and a default database, through the official
// JavaScript driver, rethinkdbdash and rethinkdb-ts: `node errors.js PORT` prints JSON.
"use strict";

const port = Number(process.argv[2]);
const official = require("rethinkdb");
const dash = require("rethinkdbdash");
const { r: ts } = require("rethinkdb-ts");

// Each query is built by a function of the driver's `r`, so all three drivers run the same.
const QUERIES = {
  skip: (r) => r.expr([1, 2, 3]).skip("foo"),
  dbCreate: (r) => r.dbCreate(1),
  add: (r) => r.expr(1).add("a"),
  mapBody: (r) => r.expr([1, 2]).map((x) => x.add("a")),
  nth: (r) => r.expr([1, 2, 3]).nth("x"),
  tableName: (r) => r.db("test").table("bad name"),
  desc: (r) => r.expr([1]).map((x) => r.desc(x)),
  arity: (r) => r.expr("a").split(1, 2, 3),
};

async function messages(run) {
  const out = {};
  for (const [name, build] of Object.entries(QUERIES)) {
    try {
      await run(build);
      out[name] = null;
    } catch (err) {
      out[name] = { name: err.name, message: err.message };
    }
  }
  return out;
}

async function main() {
  const out = {};
  const db = "jsapp_" + process.pid;

  const conn = await official.connect({ host: "127.0.0.1", port });
  out.official = await messages((b) => b(official).run(conn));
  await conn.close();

  const rd = dash({ servers: [{ host: "127.0.0.1", port }], silent: true, pool: false });
  const dconn = await rd.connect({ host: "127.0.0.1", port });
  out.dash = await messages((b) => b(rd).run(dconn));
  await dconn.close();

  // rethinkdb-ts: a default database that does not exist yet, then used implicitly.
  const tconn = await ts.connect({ host: "127.0.0.1", port, db, silent: true });
  out.ts = await messages((b) => b(ts).run(tconn));
  out.tsDbListBefore = (await ts.dbList().run(tconn)).includes(db);
  out.tsCreated = (await ts.dbCreate(db).run(tconn)).dbs_created;
  out.tsTable = (await ts.tableCreate("items").run(tconn)).tables_created;
  out.tsInserted = (await ts.table("items").insert({ id: 1, v: "x" }).run(tconn)).inserted;
  out.tsGet = await ts.table("items").get(1).run(tconn);
  out.tsList = await ts.tableList().run(tconn);
  try {
    await ts.table("missing").run(tconn);
  } catch (err) {
    out.tsMissing = err.message;
  }
  await ts.dbDrop(db).run(tconn);
  await tconn.close();
  process.stdout.write(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err));
    process.exit(1);
  },
);
