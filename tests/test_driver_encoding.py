"""Our driver encodes a query exactly as the official Python driver does (its ReQLEncoder:
``json.JSONEncoder(ensure_ascii=False, allow_nan=False)`` then UTF-8): the same bytes'
meaning on the wire, the same exception before anything is sent, and the same answers from
the server (RethinkDB reads every number as a double; datum/number.yaml line 95,
regression/767.yaml)."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import uuid

import pytest
from rethinkdb import net as official_net
from rethinkdb import r as official
from tests.test_client_core import handshake_core

from rethought import r
from rethought.errors import ReqlClientError, ReqlDriverCompileError

BIG = 1234567890123456789012345678901234567890


class Colour(enum.IntEnum):
    RED = 3


class Plain(enum.Enum):
    A = "x"


class Half(float):
    pass


class Name(str):
    pass


@dataclasses.dataclass
class Point:
    x: int = 1


def official_wire(rr, value) -> list:
    """What the official driver sends for ``r.expr(value)``, parsed back."""
    query = official_net.Query(1, 1, rr.expr(value), None)
    return json.loads(query.serialize()[12:])


def our_sent(term) -> list:
    """What our connection core queues for ``term``, parsed back the same way."""
    core = handshake_core()
    core.start(term.build())
    return json.loads(core.data_to_send()[12:])


def our_wire(value) -> list:
    return our_sent(r.expr(value))


def chain(rr, n: int):
    q = rr.expr(1)
    for _ in range(n):
        q = q.add(1)
    return q


SAME_WIRE = {
    "int beyond 64 bits": BIG,
    "negative beyond 64 bits": -(2**64),
    "2**63": 2**63,
    "2**53 + 1": 2**53 + 1,
    "inside a document": {"a": 2**70, "b": [1, -(2**80)]},
    "bool": True,
    "tuple": (1, 2),
    "set": {1},
    "frozenset": frozenset([2]),
    "bytes": b"ab",
    "bytearray": bytearray(b"ab"),
    "memoryview": memoryview(b"ab"),
    "IntEnum": Colour.RED,
    "float subclass": Half(1.5),
    "str subclass": Name("s"),
    "OrderedDict": collections.OrderedDict(a=1),
    "deque": collections.deque([1]),
    "range": range(3),
    "aware datetime": datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    "unicode": "héllo ☃",
    "None and floats": [None, 1.5, -0.0, 1e300],
}


@pytest.mark.parametrize("value", SAME_WIRE.values(), ids=SAME_WIRE.keys())
def test_wire_matches_the_official_driver(value):
    assert our_wire(value) == official_wire(official, value)


def test_deep_query_is_sent_as_the_official_driver_sends_it():
    # 300 nested terms are 600 JSON levels, beyond orjson's limit: the standard encoder writes it.
    message = our_sent(chain(r, 300))
    expected = json.loads(official_net.Query(1, 1, chain(official, 300), None).serialize()[12:])
    assert message == expected


REFUSED = {
    "nan": (float("nan"), ValueError, "Out of range float values are not JSON compliant"),
    "inf": (float("inf"), ValueError, "Out of range float values are not JSON compliant"),
    "-inf": (float("-inf"), ValueError, "Out of range float values are not JSON compliant"),
    "nan in an array": ([1, float("nan")], ValueError, "Out of range float values"),
    "inf in a document": ({"a": {"b": float("inf")}}, ValueError, "Out of range float values"),
    "nan float subclass": (Half("nan"), ValueError, "Out of range float values"),
    "Decimal": (
        decimal.Decimal("1.5"),
        TypeError,
        "Object of type Decimal is not JSON serializable",
    ),
    "UUID": (uuid.UUID(int=5), TypeError, "Object of type UUID is not JSON serializable"),
    "Enum": (Plain.A, TypeError, "Object of type Plain is not JSON serializable"),
    "time of day": (datetime.time(1, 2), TypeError, "Object of type time is not JSON serializable"),
    "dataclass": (Point(), TypeError, "Object of type Point is not JSON serializable"),
    "complex": (1j, TypeError, "Object of type complex is not JSON serializable"),
    "object": (object(), TypeError, "Object of type object is not JSON serializable"),
    "lone surrogate": ("\ud800", UnicodeEncodeError, "surrogates not allowed"),
}


@pytest.mark.parametrize("value,exc,text", REFUSED.values(), ids=REFUSED.keys())
def test_refused_before_sending_as_the_official_driver(value, exc, text, conn, official_conn):
    for rr, c in ((r, conn), (official, official_conn)):
        with pytest.raises(exc) as info:
            rr.expr(value).run(c)
        assert type(info.value) is exc
        assert str(info.value).startswith(text) or text in str(info.value)
        assert rr.expr(7).run(c) == 7  # nothing half-sent: the connection goes on


def test_nan_in_an_insert_is_refused_not_stored_as_null(
    conn, official_conn, test_table, table_name
):
    for rr, c in ((r, conn), (official, official_conn)):
        with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
            rr.table(table_name).insert([{"id": 1, "v": float("nan")}]).run(c)
    assert test_table.count().run(conn) == 0


def test_nan_in_a_global_optarg_is_refused(conn, official_conn):
    for rr, c in ((r, conn), (official, official_conn)):
        with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
            rr.expr(1).run(c, array_limit=float("nan"))


def test_a_query_holding_nan_prints_as_the_official_driver_prints_it():
    assert str(r.expr([1, float("nan")])) == str(official.expr([1, float("nan")]))
    assert str(r.expr(decimal.Decimal("2"))) == str(official.expr(decimal.Decimal("2")))


@pytest.mark.parametrize(
    "value",
    [datetime.datetime(2020, 1, 1), datetime.date(2020, 1, 1), {1: 2}],
    ids=["naive datetime", "date", "int key"],
)
def test_refused_while_building_as_the_official_driver(value):
    with pytest.raises(Exception) as theirs:
        official.expr(value)
    with pytest.raises(ReqlDriverCompileError) as ours:
        r.expr(value)
    assert type(theirs.value).__name__ == "ReqlDriverCompileError"
    assert str(ours.value) == str(theirs.value)


def test_server_reads_big_integers_as_doubles(conn, official_conn):
    # datum/number.yaml line 95: the nearest double, for both drivers.
    for rr, c in ((r, conn), (official, official_conn)):
        assert rr.expr(BIG).run(c) == 1.2345678901234568e39
        assert rr.expr(-(2**64)).run(c) == -1.8446744073709552e19
        assert rr.expr({"a": 2**70}).run(c) == {"a": 1.1805916207174113e21}
        assert chain(rr, 300).run(c) == 301


def test_server_refuses_a_number_beyond_a_double(conn, official_conn):
    # RethinkDB's JSON parser fails NumberTooBig: "Client is buggy" (a CLIENT_ERROR).
    message = "Client is buggy (failed to deserialize query)"
    with pytest.raises(ReqlClientError, match=r"Client is buggy \(failed to deserialize query\)"):
        r.expr(10**400).run(conn)
    with pytest.raises(Exception) as theirs:
        official.expr(10**400).run(official_conn)
    assert type(theirs.value).__name__ == "ReqlDriverError"  # its name for a CLIENT_ERROR
    assert str(theirs.value).startswith(message)
    assert r.expr(1).run(conn) == 1
