"""A batch insert's literal array, fast paths against the general ones.

- compile.py ``_array_items``: a MAKE_ARRAY's elements compiled in one loop (plain-data
  objects and scalars made ``Datum`` nodes without a ``compile_term`` call) give the tree,
  and the errors, that compiling each element with ``compile_term`` gave.
"""

from __future__ import annotations

import sys

import orjson
import pytest

from rethought.errors import ReqlError
from rethought.proto.ql2 import TermType as T
from rethought.server.query import compile as compile_mod
from rethought.server.query import terms  # noqa: F401 - fills the term registry
from rethought.server.query.compile import MAX_NESTING, Datum, compile_term


def _raw(v):
    """``v`` as the wire gives it (term types plain ints), a fresh copy each call."""
    return orjson.loads(orjson.dumps(v))


def _tree(node):
    """A compiled node as comparable data."""
    return (
        type(node).__name__,
        node.value if isinstance(node, Datum) else None,
        type(node.value) if isinstance(node, Datum) else None,
        repr(node.value) if isinstance(node, Datum) else None,  # -0.0 against 0
        node.frames,
        node.determinism,
        node.may_group,
        node.group_probe,
        [_tree(a) for a in node.args],
        {k: _tree(v) for k, v in node.optargs.items()},
        getattr(node, "literal_ok", None),
    )


def _general(items: list, literal_ok=False):
    """The MAKE_ARRAY compiled as every term is: each element through ``compile_term``."""
    args = [
        compile_term(a, (i,), 1, (), compile_mod._literal_ok_child(T.MAKE_ARRAY, i, literal_ok))
        for i, a in enumerate(items)
    ]
    spliced = any(type(a) is list and a[:1] == [T.ARGS] for a in items)
    cls = compile_mod.Spliced if spliced else None
    return args, cls


def _deep(n: int, leaf):
    v = leaf
    for _ in range(n):
        v = {"a": v}
    return v


ITEMS = [
    {"id": 1, "v": 2.0, "name": "u1"},
    {"id": 2, "o": {"g": 4.0, "h": -0.0, "big": 2**60}},
    {"id": 3, "l": [T.MAKE_ARRAY, [1, 2, {"x": 1.0}]]},  # an array inside: a MAKE_OBJ
    {"id": 4, "t": [T.ADD, [1, 2]]},  # a term inside
    {"$reql_type$": "TIME", "epoch_time": 1.5, "timezone": "+00:00"},
    {"$reql_type$": "LITERAL", "value": 1},
    {"o": {"$reql_type$": "BINARY", "data": "AA=="}},
    {},
    1,
    2.0,
    -0.0,
    2**60,
    1.5,
    True,
    False,
    None,
    "s",
    [T.MAKE_ARRAY, [1, {"a": 1.0}]],
    [T.ADD, [1, 2]],
    _deep(50, 1.0),
]


def test_array_items_compile_as_each_element_did():
    fast = compile_term(_raw([T.MAKE_ARRAY, ITEMS]))
    args, _ = _general(_raw(ITEMS))
    assert [_tree(a) for a in fast.args] == [_tree(a) for a in args]
    assert type(fast).__name__ == "MakeArray" and fast.frames == ()
    # canonical numbers in the stored values, as datum.canonical makes them
    assert type(fast.args[0].value["v"]) is int and type(fast.args[1].value["o"]["big"]) is float


ADD, ARGS, LITERAL, MAKE_ARRAY = int(T.ADD), int(T.ARGS), int(T.LITERAL), int(T.MAKE_ARRAY)


@pytest.mark.parametrize(
    "make",
    [
        lambda: [{"a": 1}, [ARGS, [[MAKE_ARRAY, [1, 2]]]]],  # r.args spliced into the array
        lambda: [[LITERAL, [1]], {"a": [LITERAL, [1]]}],  # stray literals, compiled as before
        lambda: [{"a": 1}, [999, []]],  # a compile error after a plain document
        lambda: [{"a": 1}, [ADD, [1]], [998, []]],  # the first error wins
        lambda: [_deep(MAX_NESTING + 5, 1)],  # too deep inside a document
        lambda: [_deep(MAX_NESTING - 3, [ADD, [1, 2]])],
        lambda: [_deep(MAX_NESTING - 2, 1)],
    ],
)
def test_array_items_errors_and_splices_as_before(make, monkeypatch):
    monkeypatch.setattr(sys, "getrecursionlimit", sys.getrecursionlimit)  # restored after
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 15000))  # as the server (app.py)
    try:
        fast = compile_term([MAKE_ARRAY, make()])
    except ReqlError as e:
        fast_err = (type(e), e.message, e.frames)
    else:
        fast_err = None
    try:
        args, cls = _general(make())
    except ReqlError as e:
        general_err = (type(e), e.message, e.frames)
    else:
        general_err = None
    assert fast_err == general_err
    if fast_err is None:
        assert [_tree(a) for a in fast.args] == [_tree(a) for a in args]
        assert (type(fast) is compile_mod.Spliced) == (cls is compile_mod.Spliced)


def test_array_items_at_the_depth_limit():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 15000))  # as the server (app.py)
    """An array nested to the limit: its elements raise the depth error as before."""
    raw: object = 1
    for _ in range(MAX_NESTING):
        raw = [MAKE_ARRAY, [raw, {"a": 1}]]
    with pytest.raises(ReqlError, match="Maximum expression depth exceeded"):
        compile_term(raw)
