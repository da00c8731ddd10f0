"""Checks RethinkDB makes before evaluating anything, with its words and its blame.

- The term walker (term_walker.cc) over the whole raw tree first: each term's shape, then
  r.asc / r.desc placement and writes nested in stream operations; depth first, arguments in
  order, so its errors come before any term's own compile error and before any write.
- Terms that check their own shape (func.cc, terms/var.cc, terms/datum_terms.cc).
- op_term_t's arity ("Expected 3 arguments but found 2.", at compile time, or at run time
  when r.args is among the arguments) and optarg names (op.cc).
- r.row (terms/var.cc): only directly inside a one-argument function.

Raw terms go over the wire; everything a driver can say goes through our driver and the
official one.
"""

from __future__ import annotations

import pytest
from rethinkdb import errors as official_errors
from rethinkdb import r as official
from tests.test_protocol import START, Wire

from rethought import errors, r

NESTED_ROW = "Cannot use r.row in nested queries.  Use functions instead."
NO_ROW = "r.row is not defined in this context."


@pytest.fixture
def wire(server):
    w = Wire(server)
    yield w
    w.close()


SHAPES = [
    ([1, 2, 3, 4], "Expected between 1 and 3 elements in a raw term, but found 4.", []),
    ([], "Expected between 1 and 3 elements in a raw term, but found 0.", []),
    (["a", []], "Expected a TermType as a NUMBER but found STRING.", []),
    ([None], "Expected a TermType as a NUMBER but found NULL.", []),
    ([99999, []], "Unrecognized TermType: 99999.", []),
    ([24, 5], "Second element in a Term is neither arguments nor optional arguments.", []),
    ([24, {}, {}], "Second and third element in a term are both optional arguments.", []),
    ([24, [], 5], "Third element in a Term is not optional arguments.", []),
    ([24, [1, [2, [["x", 1]]]]], "Expected a TermType as a NUMBER but found STRING.", [1, 0]),
    ({"a": [24, 5]}, "Second element in a Term is neither arguments nor optional arguments.", ["a"]),
    ([24, [1, 2], {"o": [1, 2, 3, 4]}], "Expected between 1 and 3 elements in a raw term, but found 4.", ["o"]),
]  # fmt: skip


@pytest.mark.parametrize("term, message, frames", SHAPES)
def test_term_walker_shapes(wire, term, message, frames):
    assert wire.ask(1, [START, term]) == {"t": 17, "r": [message], "b": frames}


def test_walker_errors_come_before_compile_errors_of_earlier_terms(wire):
    # arg 0 has too few arguments (a compile error), arg 1 a bad shape (the walker's).
    resp = wire.ask(1, [START, [24, [[24, []], [1, 2, 3, 4]]]])
    assert resp == {
        "t": 17,
        "r": ["Expected between 1 and 3 elements in a raw term, but found 4."],
        "b": [1],
    }
    # Depth first and in order: the first bad term in argument order is blamed.
    resp = wire.ask(2, [START, [24, [[24, [[1, 2, 3, 4]]], ["x"]]]])
    assert resp["b"] == [0, 0]


def test_walker_error_stops_a_write_before_it_runs(wire, conn, test_table, table_name):
    insert = [56, [[15, [[14, ["test"]], table_name]], {"id": 1}]]
    resp = wire.ask(1, [START, [2, [insert, [24, 5]]]])
    assert resp["t"] == 17 and resp["b"] == [1]
    assert test_table.count().run(conn) == 0


def test_optargs_may_stand_second(wire):
    # [type, {optargs}] is a term without arguments: its arity is checked as usual.
    assert wire.ask(1, [START, [24, {"a": 1}]]) == {
        "t": 17,
        "r": ["Expected 1 or more arguments but found 0."],
        "b": [],
    }
    assert wire.ask(2, [START, [59, {}]])["t"] == 1  # r.db_list() with an empty optargs object


OWN_CHECKS = [
    ([69, [[2, [1]], 1], {"a": 1}], "FUNC takes no optional arguments."),
    ([69, [[2, [1]], 1, 2]], "FUNC takes exactly two arguments (got 3)"),
    ([69, [1, 1]], "CLIENT ERROR: FUNC variables must be a literal *array* of numbers."),
    ([69, [[2, ["a"]], 1]], "CLIENT ERROR: FUNC variables must be a literal array of *numbers*."),
    ([10, [5, 6]], "A variable term has the wrong number of arguments."),
    ([10, [[2, [1]]]], "A variable term has a non-datum argument."),
    ([10, ["a"]], "A variable term has a non-numeric name datum."),
    ([10, [5]], "Variable name not found."),
    ([3, [1]], "MAKE_OBJ term must not have any args."),
    ([13, [1]], "Expected no arguments or optional arguments on implicit variable term."),
    ([13, []], NO_ROW),
    # a two-argument function does not bind r.row
    ([64, [[69, [[2, [1, 2]], [13, []]]], 1, 2]], NO_ROW),
    # a function whose parameter id is negative does not bind r.row (sym.cc)
    ([64, [[69, [[2, [-1]], [13, []]]], 1]], NO_ROW),
]  # fmt: skip


@pytest.mark.parametrize("term, message", OWN_CHECKS)
def test_terms_checking_their_own_shape(wire, term, message):
    resp = wire.ask(1, [START, term])
    assert resp["t"] == 17 and resp["r"] == [message]


def both(conn, official_conn):
    """Each driver with its connection and its errors module."""
    return ((r, conn, errors), (official, official_conn, official_errors))


ROW_ERRORS = {
    # selection.yaml: r.row inside a function nested in another function
    "lambda then r.row": (
        lambda rr: rr.expr([[1, 2], [3, 4]]).filter(lambda x: x.filter(rr.row >= 4).count() > 0),
        NESTED_ROW,
    ),
    "r.row in r.row": (
        lambda rr: rr.expr([[1, 2], [3, 4]]).filter(rr.row.filter(rr.row >= 4).count() > 0),
        NESTED_ROW,
    ),
    "r.row at the top": (lambda rr: rr.expr(rr.row), NO_ROW),
    # r.do does not wrap its data arguments, so r.row in r.args there is unbound
    "r.args([r.row]) given to r.do": (lambda rr: rr.do(rr.args([rr.row]), lambda x: x), NO_ROW),
    # the driver wraps the lambda (it mentions r.row) in a second function
    "r.args([r.row]) inside a lambda": (
        lambda rr: rr.expr([1, 2]).map(lambda x: rr.args([rr.row])),
        NESTED_ROW,
    ),
    "r.row in eq_join's nested function": (
        lambda rr: rr.expr([{"k": [1]}]).eq_join(lambda x: x["k"].map(rr.row)[0], rr.table("t")),
        NESTED_ROW,
    ),
}


@pytest.mark.parametrize("make, message", ROW_ERRORS.values(), ids=ROW_ERRORS.keys())
def test_implicit_variable_rules(conn, official_conn, make, message):
    for rr, c, errs in both(conn, official_conn):
        with pytest.raises(errs.ReqlServerCompileError) as info:
            make(rr).run(c)
        assert info.value.message == message


def test_implicit_variable_inside_r_args_of_one_function(conn, official_conn):
    # An ARGS term as a function's body is an array; FUNC does not splice it (func.cc).
    for rr, c, _errs in both(conn, official_conn):
        assert rr.expr([1, 2]).map(rr.args([rr.row])).run(c) == [[1], [2]]
        assert rr.expr([1, 2]).map(rr.add(rr.args([rr.row, 1]))).run(c) == [2, 3]


@pytest.fixture
def ej_table(conn, test_table):
    test_table.insert([{"id": 1, "n": "a"}, {"id": 2, "n": "b"}]).run(conn)
    return test_table


def test_eq_join_with_a_function_as_left_key(conn, official_conn, ej_table, table_name):
    # eq_join's second argument is as_func(GET_FIELD_SHORTCUT): a field name or a function.
    left = [{"k": 1}, {"k": 2}, {"k": 3}]
    expected = [
        {"left": {"k": 1}, "right": {"id": 1, "n": "a"}},
        {"left": {"k": 2}, "right": {"id": 2, "n": "b"}},
    ]
    for rr, c, errs in both(conn, official_conn):
        tbl = rr.table(table_name)
        by = lambda x: x["left"]["k"]  # noqa: E731
        assert rr.expr(left).eq_join(lambda x: x["k"], tbl).order_by(by).run(c) == expected
        assert rr.expr(left).eq_join(rr.row["k"], tbl).order_by(by).run(c) == expected
        assert rr.expr(left).eq_join("k", tbl).order_by(by).run(c) == expected
        got = rr.expr(left).eq_join(lambda x: x["k"] + 1, tbl, index="id").order_by(by).run(c)
        assert [(d["left"]["k"], d["right"]["id"]) for d in got] == [(1, 2)]
        with pytest.raises(errs.ReqlQueryLogicError) as info:
            rr.expr(left).eq_join(lambda x, y: x, tbl).run(c)
        assert info.value.message == (
            "Expected function with 1 argument but found function with 2 arguments."
        )


ARITY = {
    "eq_join": (lambda rr: rr.expr([1]).eq_join("a"), "Expected 3 arguments but found 2."),
    "between": (lambda rr: rr.table("t").between(1), "Expected 3 arguments but found 2."),
    "db_create": (lambda rr: rr.db_create(), "Expected 1 argument but found 0."),
    "range": (lambda rr: rr.range(1, 2, 3), "Expected between 0 and 2 arguments but found 3."),
    "add": (lambda rr: rr.add(), "Expected 1 or more arguments but found 0."),
}


@pytest.mark.parametrize("make, message", ARITY.values(), ids=ARITY.keys())
def test_argument_counts_at_compile_time(conn, official_conn, make, message):
    for rr, c, errs in both(conn, official_conn):
        with pytest.raises(errs.ReqlServerCompileError) as info:
            make(rr).run(c)
        assert info.value.message == message


def test_argument_counts_through_r_args_at_run_time(conn, official_conn):
    # With r.args among the arguments the count is known only when they are evaluated.
    for rr, c, errs in both(conn, official_conn):
        with pytest.raises(errs.ReqlQueryLogicError) as info:
            rr.range(rr.args([1, 2, 3])).run(c)
        assert info.value.message == "Expected between 0 and 2 arguments but found 3."
        assert list(rr.range(rr.args([1, 3])).run(c)) == [1, 2]


def test_query_walked_before_global_optargs_each_walked_then_named(wire):
    # query_cache_t::create: preprocess the query, then each global optarg in order (walk,
    # then add_optarg's name check); global optargs carry no backtrace.
    bad_shape = "Expected between 1 and 3 elements in a raw term, but found 4."
    unknown = "Unrecognized global optional argument `foo`."
    resp = wire.ask(1, [START, [24, [1, [1, 2, 3, 4]]], {"foo": 1}])
    assert resp == {"t": 17, "r": [bad_shape], "b": [1]}
    resp = wire.ask(2, [START, 1, {"foo": 1, "array_limit": [1, 2, 3, 4]}])
    assert resp == {"t": 17, "r": [unknown], "b": []}
    resp = wire.ask(3, [START, 1, {"array_limit": [1, 2, 3, 4], "foo": 1}])
    assert resp == {"t": 17, "r": [bad_shape], "b": []}


# -- RethinkDB's internal optargs (obj_or_seq.cc, control.cc) -----------------------------------

SEQ_OF_SEQ = [2, [[2, [1, 2]]]]  # [[1, 2]]
LOGIC, INTERNAL = 3000000, 1000000  # ql2.proto ErrorType QUERY_LOGIC, INTERNAL


@pytest.mark.parametrize(
    "term, name",
    [
        ([170, [SEQ_OF_SEQ, "a"], {"_NO_RECURSE_": True}], "bracket"),
        ([31, [SEQ_OF_SEQ, "a"], {"_NO_RECURSE_": True}], "get_field"),
        ([33, [SEQ_OF_SEQ, "a"], {"_NO_RECURSE_": True}], "pluck"),
        ([34, [SEQ_OF_SEQ, "a"], {"_NO_RECURSE_": True}], "without"),
        ([35, [SEQ_OF_SEQ, {}], {"_NO_RECURSE_": True}], "merge"),
        ([32, [SEQ_OF_SEQ, "a"], {"_NO_RECURSE_": True}], "has_fields"),
    ],
)
def test_no_recurse_true_refuses_a_sequence(wire, term, name):
    resp = wire.ask(1, [START, term])
    assert (resp["t"], resp["e"], resp["r"]) == (
        18,
        LOGIC,
        [f"Cannot perform {name} on a sequence of sequences."],
    )


def test_no_recurse_false_or_on_an_object_is_the_plain_term(wire):
    rows = [2, [{"a": 1}, {"a": 2}]]
    assert wire.ask(1, [START, [170, [rows, "a"], {"_NO_RECURSE_": False}]])["r"] == [[1, 2]]
    # On an object the optarg is never evaluated (only the sequence branch reads it).
    bad = [12, ["never read"]]  # r.error
    assert wire.ask(2, [START, [170, [{"a": 5}, "a"], {"_NO_RECURSE_": bad}]])["r"] == [5]


def test_funcall_shortcuts(wire):
    obj = {"a": 1, "b": 2}
    # CONSTANT (the default), GET_FIELD ("a" is row["a"]), PLUCK ({"a": true} plucks).
    assert wire.ask(1, [START, [64, [7, obj], {"_SHORTCUT_": 1}]])["r"] == [7]
    assert wire.ask(2, [START, [64, ["a", obj], {"_SHORTCUT_": 2}]])["r"] == [1]
    assert wire.ask(3, [START, [64, [{"a": True}, obj], {"_SHORTCUT_": 3}]])["r"] == [{"a": 1}]
    assert wire.ask(4, [START, [64, [7, obj], {"_EVAL_FLAGS_": 1}]])["r"] == [7]
    resp = wire.ask(5, [START, [64, [7, obj], {"_SHORTCUT_": 0}]])
    assert (resp["t"], resp["r"]) == (18, ["Expected type FUNCTION but found DATUM:\n7"])
    resp = wire.ask(6, [START, [64, [7, obj], {"_SHORTCUT_": 9}]])
    assert (resp["t"], resp["e"], resp["r"]) == (
        18,
        INTERNAL,
        ["Unrecognized value `9` for _SHORTCUT_ argument."],
    )


def test_internal_optargs_are_not_accepted_elsewhere(wire):
    resp = wire.ask(1, [START, [15, ["t"], {"_NO_RECURSE_": True}]])  # TABLE
    assert (resp["t"], resp["r"]) == (17, ["Unrecognized optional argument `_NO_RECURSE_`."])


# -- duplicate keys in the query's JSON (rapidjson keeps them; op.cc, datum_terms.cc,
# datum.cc to_datum, optargs.cc refuse them) -----------------------------------------------


def _ask_raw(wire, token: int, text: str) -> dict:
    wire.send(token, text.encode())
    got, resp = wire.read()
    assert got == token
    return resp


@pytest.mark.parametrize(
    "text, message, frames",
    [
        ('[1,{"a":1,"a":2}]', "Duplicate object key: a.", []),
        ('[1,[3,[],{"a":1,"a":2}]]', "Duplicate object key: a.", []),
        ('[1,[2,[1,{"b":{"a":1,"a":2}}]]]', "Duplicate object key: a.", [1, "b"]),
        ('[1,[1,[{"a":1,"a":2}]]]', 'Duplicate key "a" in JSON.', []),
        ('[1,[1,[{"x":{"c":1,"c":1},"x":0}]]]', 'Duplicate key "c" in JSON.', []),
        ('[1,[173,[1,5],{"right_bound":"open","right_bound":"closed"}]]',
         "Duplicate optional argument: right_bound", ["right_bound"]),
        ('[1,1,{"db":[14,["test"]],"db":[14,["x"]]}]',
         "Duplicate global optional argument: `db`.", []),
    ],
)  # fmt: skip
def test_duplicate_keys_are_compile_errors(wire, text, message, frames):
    assert _ask_raw(wire, 1, text) == {"t": 17, "r": [message], "b": frames}


def test_duplicate_keys_after_walker_errors_and_unspaced_queries_still_work(wire):
    # The term walker's error comes first; a query whose bytes are not orjson's own (spaces)
    # but without duplicates runs as usual.
    resp = _ask_raw(wire, 1, '[1,[2,[[1,2,3,4],{"a":1,"a":2}]]]')
    assert resp["r"] == ["Expected between 1 and 3 elements in a raw term, but found 4."]
    assert _ask_raw(wire, 2, '[1, {"a": 1, "b": [2, [1, 2]]}]')["r"] == [{"a": 1, "b": [1, 2]}]
