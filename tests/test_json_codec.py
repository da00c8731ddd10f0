"""r.connect(json_encoder=..., json_decoder=...) and run(json_encoder/json_decoder=...), as
the official driver takes them (net.py): an encoder subclass that writes Decimal, a decoder
subclass that builds its own class, on every loop type and the pool (json_codec_program.py,
one interpreter each); the reference is the official driver running the same program."""

from __future__ import annotations

import decimal
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rethought import ReQLDecoder, ReQLEncoder, r
from rethought.errors import ReqlDriverError

PROGRAM = str(Path(__file__).with_name("json_codec_program.py"))
LOOPS = ["sync", "gevent", "pool", "asyncio", "trio", "tornado", "twisted"]
OPTIONAL = {"gevent": "gevent", "trio": "trio", "tornado": "tornado", "twisted": "twisted"}


def program(server, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, PROGRAM, args[0], server.host, str(server.port), *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def reference(server):
    return program(server, "sync", "driver")


def test_the_reference_is_what_the_classes_say(reference):
    assert reference == {
        "decimal": "2.25",
        "point": "Point(1, 2)",
        "time": "'T10'",
        "rows": "[Point(0, 0), Point(1, 1)]",
        "binary": "b'ab'",
        "override": "{'x': 1, 'y': 2}",
    }


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_encodes_and_decodes_with_the_given_classes(server, reference, loop):
    if loop in OPTIONAL:
        pytest.importorskip(OPTIONAL[loop])
    out = program(server, loop)
    hooks = out.pop("hooks", None)
    expected = {k: v for k, v in reference.items() if loop != "pool" or k != "override"}
    assert out == expected
    if loop != "pool":
        assert hooks == ["DecimalEncoder", "PointDecoder"]


def test_the_official_drivers_classes_work_as_bases(server, reference):
    out = program(server, "sync", "official")
    out.pop("hooks")
    assert out == reference


class _Money:
    def __init__(self, amount):
        self.amount = amount


class _MoneyEncoder(ReQLEncoder):
    def default(self, obj):
        if isinstance(obj, decimal.Decimal):
            return {"amount": str(obj)}
        return super().default(obj)


class _MoneyDecoder(ReQLDecoder):
    def convert_pseudotype(self, obj):
        if set(obj) == {"amount"}:
            return _Money(decimal.Decimal(obj["amount"]))
        return super().convert_pseudotype(obj)


def test_stored_rows_round_trip_through_a_cursor(server, table_name):
    conn = r.connect(
        host=server.host, port=server.port, json_encoder=_MoneyEncoder, json_decoder=_MoneyDecoder
    )
    try:
        r.table_create(table_name).run(conn)
        rows = [{"id": i, "price": decimal.Decimal(f"{i}.10")} for i in range(300)]
        assert r.table(table_name).insert(rows).run(conn)["inserted"] == 300
        cursor = r.table(table_name).order_by(index="id").run(conn, max_batch_rows=7)
        got = [row["price"] for row in cursor]
        assert all(isinstance(m, _Money) for m in got)
        assert [m.amount for m in got] == [decimal.Decimal(f"{i}.10") for i in range(300)]
        # a query's own decoder wins over the connection's
        plain = r.table(table_name).get(1).run(conn, json_decoder=ReQLDecoder)
        assert plain["price"] == {"amount": "1.10"}
    finally:
        r.table_drop(table_name).run(conn)
        conn.close()


def test_a_query_may_bring_its_own_encoder(conn):
    with pytest.raises(TypeError, match="Decimal is not JSON serializable"):
        r.expr(decimal.Decimal("2")).run(conn)
    value = r.expr([decimal.Decimal("2")]).run(conn, json_encoder=_MoneyEncoder)
    assert value == [{"amount": "2"}]
    assert r.expr(1).run(conn) == 1  # the connection's (fast) path is untouched


def test_decoder_errors_fail_the_query_not_the_connection(server):
    class Refusing(ReQLDecoder):
        def convert_pseudotype(self, obj):
            if obj.get("$reql_type$") == "TIME":
                raise ReqlDriverError("no times here")
            return obj

    conn = r.connect(host=server.host, port=server.port, json_decoder=Refusing)
    try:
        with pytest.raises(ReqlDriverError, match="no times here"):
            r.now().run(conn)
        assert r.expr(5).run(conn) == 5
        with pytest.raises(ReqlDriverError, match='Unknown time_format run option "x"'):
            r.expr(1).run(conn, time_format="x")
    finally:
        conn.close()


@pytest.mark.parametrize(
    "broken",
    [{"$reql_type$": "TIME", "x": 1}, {"$reql_type$": "BINARY"}, {"$reql_type$": "GROUPED_DATA"}],
)
def test_malformed_pseudo_types_read_as_the_official_driver_says(broken):
    # Both of our decoding paths (the fast one without user classes, and ReQLDecoder)
    # against the official driver's ReQLDecoder as the reference.
    from rethinkdb.net import ReQLDecoder as OfficialDecoder

    from rethought.client.convert import NATIVE, convert

    with pytest.raises(Exception) as official:
        OfficialDecoder().convert_pseudotype(dict(broken))
    for decode in (lambda o: convert(o, NATIVE), ReQLDecoder().convert_pseudotype):
        with pytest.raises(ReqlDriverError) as ours:
            decode(dict(broken))
        assert str(ours.value) == str(official.value)
