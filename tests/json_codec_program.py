"""One scenario of r.connect(json_encoder=..., json_decoder=...) on a given loop type, run
in its own interpreter (a Twisted reactor cannot restart): ``python json_codec_program.py
LOOP HOST PORT [official]`` prints one JSON line of results (tests/test_json_codec.py).
``official``: the encoder and decoder subclass the official driver's rethinkdb.ast classes;
``driver``: the whole scenario runs on the official driver (the reference, sync only).
"""

from __future__ import annotations

import asyncio
import decimal
import json
import sys

from rethought import ReQLDecoder, ReQLEncoder, r

MODE = sys.argv[4] if len(sys.argv) > 4 else ""
if MODE in ("official", "driver"):
    from rethinkdb.ast import ReQLDecoder, ReQLEncoder  # noqa: F811
if MODE == "driver":
    from rethinkdb import RethinkDB

    r = RethinkDB()  # noqa: F811


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


class DecimalEncoder(ReQLEncoder):
    def default(self, obj):
        if isinstance(obj, decimal.Decimal):
            return float(obj)
        return super().default(obj)


class PointDecoder(ReQLDecoder):
    def convert_pseudotype(self, obj):
        if set(obj) == {"x", "y"}:
            return Point(obj["x"], obj["y"])
        if obj.get("$reql_type$") == "TIME":
            return f"T{obj['epoch_time']}"
        return super().convert_pseudotype(obj)


QUERIES = {
    "decimal": lambda: r.expr(decimal.Decimal("1.25")).add(1),
    "point": lambda: r.expr({"x": 1, "y": 2}),
    "time": lambda: r.epoch_time(10),
    "rows": lambda: r.range(2).map(lambda i: {"x": i, "y": i}).coerce_to("array"),
    "binary": lambda: r.binary(b"ab"),
}
OVERRIDE = ("point", {"json_decoder": ReQLDecoder})


def show(value):
    if isinstance(value, bytes):  # the official driver's RqlBinary prints otherwise
        return repr(bytes(value))
    return repr(value)


def connect_kwargs(host, port):
    return {
        "host": host,
        "port": int(port),
        "json_encoder": DecimalEncoder,
        "json_decoder": PointDecoder,
    }


def blocking(connect, host, port):
    out = {}
    conn = connect(**connect_kwargs(host, port))
    for name, make in QUERIES.items():
        out[name] = show(make().run(conn))
    out["override"] = show(QUERIES[OVERRIDE[0]]().run(conn, **OVERRIDE[1]))
    if MODE != "driver":  # ours take no query too
        out["hooks"] = [
            type(conn._get_json_encoder(None)).__name__,
            type(conn._get_json_decoder(None)).__name__,
        ]
    conn.close()
    return out


async def awaiting(connect, host, port):
    out = {}
    conn = await connect(**connect_kwargs(host, port))
    for name, make in QUERIES.items():
        out[name] = show(await make().run(conn))
    out["override"] = show(await QUERIES[OVERRIDE[0]]().run(conn, **OVERRIDE[1]))
    out["hooks"] = [
        type(conn._get_json_encoder(None)).__name__,
        type(conn._get_json_decoder(None)).__name__,
    ]
    await conn.close()
    return out


def main(loop, host, port):
    if loop == "sync":
        return blocking(r.connect, host, port)
    if loop == "gevent":
        r.set_loop_type("gevent")
        return blocking(r.connect, host, port)
    if loop == "pool":
        pool = r.pool(size=2, **connect_kwargs(host, port))
        with pool.connection() as conn:
            out = {name: show(make().run(conn)) for name, make in QUERIES.items()}
        pool.close()
        return out
    if loop == "asyncio":
        r.set_loop_type("asyncio")
        return asyncio.run(awaiting(r.connect, host, port))
    if loop == "trio":
        import trio

        r.set_loop_type("trio")
        return trio.run(awaiting, r.connect, host, port)
    if loop == "tornado":
        r.set_loop_type("tornado")
        return asyncio.run(awaiting(r.connect, host, port))
    raise SystemExit(f"unknown loop {loop}")


if __name__ == "__main__":
    if sys.argv[1] == "twisted":
        from twisted.internet import defer, task

        r.set_loop_type("twisted")

        def body(reactor):
            d = defer.ensureDeferred(awaiting(r.connect, sys.argv[2], sys.argv[3]))
            d.addCallback(lambda out: print(json.dumps(out), flush=True))
            return d

        task.react(body, [])
    print(json.dumps(main(*sys.argv[1:4])), flush=True)
