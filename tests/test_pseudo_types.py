"""Pseudo-type objects in a query are checked wherever they become a datum, as RethinkDB's
``datum_t::maybe_sanitize_ptype`` (datum.cc) and ``decode_base64_ptype`` (pseudo_binary.cc):
a literal, an object whose values are terms (MAKE_OBJ, evaluated), nested inside arrays and
objects, and ``r.json`` text all get the same errors; keys are checked in key order.

Found by bench/fuzz.py (seed 20261209, round 436): a BINARY object with GEOMETRY's fields
inside an array reached ``distinct`` unchecked and failed there with an internal KeyError.
"""

from __future__ import annotations

import json

import pytest

BAD_BINARY = {"$reql_type$": "BINARY", "type": "Point", "coordinates": [1, 2]}


def _error(rqe, query):
    r, conn, errors = rqe
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        query.run(conn)
    return info.value.message


@pytest.mark.parametrize(
    "build",
    [
        lambda r: r.expr(BAD_BINARY),
        lambda r: r.expr([[BAD_BINARY, 7]]).distinct(),
        lambda r: r.expr({"a": [BAD_BINARY]}),
        lambda r: r.json(json.dumps(BAD_BINARY)),
    ],
)
def test_binary_with_foreign_keys_names_the_first_in_key_order(rqe, build):
    r = rqe[0]
    assert _error(rqe, build(r)) == "Invalid binary pseudotype: illegal `coordinates` key."


def test_binary_lacking_data_and_binary_built_from_terms(rqe):
    r, conn, _ = rqe
    missing = {"$reql_type$": "BINARY", "other": [1]}
    assert _error(rqe, r.expr(missing)) == "Invalid binary pseudotype: illegal `other` key."
    assert _error(rqe, r.expr({"$reql_type$": r.expr("BINARY")})) == (
        "Invalid binary pseudotype: lacking `data` key."
    )
    built = r.expr({"$reql_type$": "BINARY", "data": r.expr("YWJj")})
    assert built.run(conn) == b"abc"
    assert r.expr([built]).distinct().count().run(conn) == 1


@pytest.mark.parametrize(
    "value",
    [
        {"$reql_type$": "FOO"},
        {"$reql_type$": "FOO", "a": [1]},
        {"a": {"$reql_type$": "FOO"}},
        [{"$reql_type$": "FOO"}],
    ],
)
def test_unknown_pseudo_type_is_refused(rqe, value):
    r = rqe[0]
    assert _error(rqe, r.expr(value)) == "Unknown $reql_type$ `PTYPE<FOO>`."
    assert _error(rqe, r.json(json.dumps(value))) == "Unknown $reql_type$ `PTYPE<FOO>`."


def test_reql_type_must_be_a_string(rqe):
    r = rqe[0]
    message = _error(rqe, r.expr({"$reql_type$": 1, "x": [1]}))
    assert message.startswith(
        "Error: Field `$reql_type$` must be a string (got `1` of type NUMBER):"
    )


def test_literal_outside_merge_is_stray_but_valid_in_json(rqe):
    r, conn, _ = rqe
    assert _error(rqe, r.expr({"$reql_type$": "LITERAL", "value": [1]})).startswith(
        "Stray literal keyword found"
    )
    # r.json allows a LITERAL (RethinkDB's pseudo-types for JSON); the drivers cannot read one
    # back, so ask for its type.
    assert r.json('{"$reql_type$": "LITERAL", "value": 1}').type_of().run(conn) == "PTYPE<LITERAL>"
    assert _error(rqe, r.json('{"$reql_type$": "LITERAL", "x": 1}')) == (
        "Invalid literal term with illegal key `x`."
    )
