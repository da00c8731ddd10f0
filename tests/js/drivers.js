const r = require('rethinkdb');
// Seed 000's synchronous flow, an error, a changefeed, through both JavaScript drivers.
const port = parseInt(process.argv[2]);
(async () => {
  const c = await r.connect({host: '127.0.0.1', port});
  await r.tableCreate('js').run(c);
  const res = await r.table('js').insert([{id: 0}, {id: 1}, {id: 2}]).run(c);
  const row = await r.table('js').get(0).run(c);
  const cur = await r.table('js').orderBy({index: 'id'}).run(c);
  const all = await cur.toArray();
  let err = null;
  try { await r.table('non_existent').run(c); } catch (e) { err = e.name + ': ' + e.msg; }
  const feed = await r.table('js').changes().run(c);
  const got = new Promise((resolve) => feed.each((e, ch) => { resolve(ch); return false; }));
  await r.table('js').insert({id: 3}).run(c);
  const change = await got;
  const rdash = require('rethinkdbdash')({host: '127.0.0.1', port, silent: true, pool: false, cursor: false});
  const dc = await rdash.connect({host: '127.0.0.1', port});
  const dashCount = await rdash.table('js').count().run(dc);
  console.log(JSON.stringify({inserted: res.inserted, row, all, err, change, dashCount}));
  await c.close(); await dc.close();
  process.exit(0);
})().catch((e) => { console.error('FAIL', e); process.exit(1); });
