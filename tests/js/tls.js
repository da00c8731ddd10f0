// The official JavaScript driver over the server's own TLS (tests/test_server_tls.py).
const r = require('rethinkdb');
const fs = require('fs');
const [port, ca] = [parseInt(process.argv[2]), process.argv[3]];
(async () => {
  const c = await r.connect({host: '127.0.0.1', port, ssl: {ca: fs.readFileSync(ca)}});
  const v = await r.expr([1, 2]).run(c);
  await c.close();
  let plain = null;
  try { await r.connect({host: '127.0.0.1', port, timeout: 5}); } catch (e) { plain = e.name; }
  console.log(JSON.stringify({v, plain}));
  process.exit(0);
})().catch((e) => { console.error('FAIL', e); process.exit(1); });
