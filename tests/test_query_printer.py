"""``print_query`` against the official driver's ``QueryPrinter``, for every sub-term of every
query in the builder tests' corpus.

Two upstream quirks are not reproduced, deliberately: the official printer shifts carets left
by one for each two-character infix operator (``==``, ``!=``, ``<=``, ``>=``) before or inside
the target, and copies a literal ``^`` from a string elsewhere in the query into the caret
line. For those cases the test checks that our carets sit exactly under the target instead.
"""

from __future__ import annotations

import pytest
from rethinkdb.errors import QueryPrinter

from rethought import r
from rethought.errors import (
    ReqlDriverCompileError,
    ReqlNonExistenceError,
    ReqlQueryLogicError,
)
from rethought.query.ast import Func, Var
from rethought.query.methods import DB_METHODS, QUERY_METHODS, TABLE_METHODS
from rethought.query.namespace import _FUNCTIONS
from rethought.query.printer import print_query, render
from test_query_builder import QUERIES, official, ours


def frame_paths(term, prefix=()):
    """Every path from the root to a sub-term, as the server's backtrace frames spell it."""
    yield list(prefix)
    if isinstance(term, Var):  # its id is not a term of its own; no backtrace leads there
        return
    for i, arg in enumerate(term._args):
        if i == 0 and isinstance(term, Func):  # nor does one lead to a lambda's parameter ids
            continue
        yield from frame_paths(arg, (*prefix, i))
    for key, arg in term.optargs.items():
        yield from frame_paths(arg, (*prefix, key))


def subterm(term, frames):
    for frame in frames:
        term = term._args[frame] if isinstance(frame, int) else term.optargs[frame]
    return term


def official_print(query, frames) -> str:
    printer = QueryPrinter(query, frames)
    return f"{printer.print_query()}\n{printer.print_carrots()}"


def assert_carets_under(printed: str, target_text: str) -> None:
    text, carets = printed.split("\n")
    assert len(carets) == len(text)
    start = carets.find("^")
    if not target_text:
        return
    assert start >= 0
    assert carets.strip() == "^" * len(target_text)
    assert text[start : start + len(target_text)] == target_text


@pytest.mark.parametrize("src", QUERIES)
def test_carets_match_official_for_every_subterm(src):
    mine, theirs = ours(src), official(src)
    for frames in frame_paths(mine):
        printed = print_query(mine, frames)
        expected = official_print(theirs, frames)
        if printed == expected:
            continue
        # Only the upstream quirks described above may differ.
        expected_text, expected_carets = expected.split("\n")
        quirk = len(expected_carets) != len(expected_text) or "^" in expected_text
        assert quirk, (frames, printed, expected)
        assert printed.split("\n")[0] == expected_text
        if "^" in printed.split("\n")[1]:
            assert_carets_under(printed, render(subterm(mine, frames)))
        else:  # the target is not printed: upstream's only carets are copied literals
            copied = [i for i, c in enumerate(expected_carets) if c == "^"]
            assert all(expected_text[i] == "^" for i in copied)


def test_seed_example():
    assert print_query(r.table("non_existent"), []) == (
        "r.table('non_existent')\n" + "^" * len("r.table('non_existent')")
    )


def test_caret_line_keeps_trailing_blanks():
    assert print_query(r.table("t").get(1), [0]) == ("r.table('t').get(1)\n^^^^^^^^^^^^       ")


def test_optarg_frame():
    q = r.table("t").insert({"a": 1}, conflict=r.error("x"))
    assert print_query(q, ["conflict"]) == (
        "r.table('t').insert(r.expr({'a': 1}), conflict=r.error('x'))\n"
        "                                               ^^^^^^^^^^^^ "
    )


def test_frames_into_a_lambda_body():
    q = ours("r.table('t').filter(lambda d: d['a'] == 1)")
    printed = print_query(q, [1, 1, 0])
    assert printed.split("\n")[0] == (
        "r.table('t').filter(lambda var_1: (var_1['a'] == r.expr(1)))"
    )
    assert_carets_under(printed, "var_1['a']")


def test_carets_are_aligned_after_two_character_operators():
    q = (r.expr(1) == 1) & r.table("t").get(2)
    assert_carets_under(print_query(q, [1]), "r.table('t').get(2)")
    assert_carets_under(print_query(q, [1, 0]), "r.table('t')")


def test_frames_leading_nowhere_give_a_blank_caret_line():
    q = r.table("t").get(1)
    assert print_query(q, [5]) == "r.table('t').get(1)\n" + " " * len("r.table('t').get(1)")
    assert print_query(q, ["nope", 0]).endswith(" " * 19)


def test_error_message_shows_query_and_carets():
    q = r.table("t").get(1)["missing"]
    err = ReqlNonExistenceError("No attribute `missing` in object", q, [])
    assert str(err) == (
        "No attribute `missing` in object in:\n"
        "r.table('t').get(1)['missing']\n"
        "^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
    )
    err = ReqlQueryLogicError("Expected type NUMBER", r.expr(1) + "a", [1])
    assert str(err).endswith("(r.expr(1) + r.expr('a'))\n                    ^^^  ")


def test_datum_strings_print_as_python_literals():
    assert str(r.expr("it's")) == '"it\'s"'
    assert str(r.expr([1.5, None, True])) == "[1.5, None, True]"
    assert str(r.expr({"a": "b"})) == "r.expr({'a': 'b'})"
    assert str(r.binary(b"\x00")) == "r.binary(bytes(<data>))"


@pytest.mark.parametrize("name", sorted(_FUNCTIONS))
def test_every_function_prints_without_arguments(name):
    """Malformed queries still print: their server error message shows them."""
    try:
        query = getattr(r, name)()
    except ReqlDriverCompileError:  # r.do() is refused while building
        return
    assert str(query)


@pytest.mark.parametrize(
    "receiver, methods",
    [(r.expr(1), QUERY_METHODS), (r.table("t"), TABLE_METHODS), (r.db("d"), DB_METHODS)],
)
def test_every_method_prints_without_arguments(receiver, methods):
    for name in methods:
        assert str(getattr(receiver, name)())
