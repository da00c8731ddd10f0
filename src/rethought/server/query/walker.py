"""RethinkDB's term walker (term_walker.cc): checks of the whole raw term tree made before
anything is compiled, so that nothing has run (or been written) when their error comes back,
and so that they come before any compile error of a term's own (arity, optarg names).

The walk is depth first, each term's arguments in order, then its optargs, as RethinkDB's;
each error blames the term it is about. Per term:

- its shape: an array of 1 to 3 elements whose first is a known term type (a number); the
  second is the arguments (an array) or the optargs (an object), the third the optargs.
  Objects are MAKE_OBJ and anything else is a DATUM;
- ``r.asc`` / ``r.desc`` may only be an argument (or optarg) of ``order_by`` / ``union``, or
  an element of an array argument of ``union``;
- a write or meta op may not sit inside any argument but the first of a stream operation,
  nor in one of its optargs (it would run once per element).
"""

from __future__ import annotations

from typing import Any

from ...errors import ReqlCompileError
from ...proto.ql2 import TermType as T

__all__ = ["walk_term"]

_VALID_TYPES = frozenset(int(t) for t in T)
_WRITE_OR_META = frozenset(
    {
        T.UPDATE, T.DELETE, T.INSERT, T.REPLACE, T.DB_CREATE, T.DB_DROP, T.TABLE_CREATE,
        T.TABLE_DROP, T.WAIT, T.RECONFIGURE, T.REBALANCE, T.SYNC, T.INDEX_CREATE,
        T.INDEX_DROP, T.INDEX_WAIT, T.INDEX_RENAME,
    }
)  # fmt: skip
_FORBIDS_WRITES = frozenset(
    {
        T.REDUCE, T.MAP, T.FOLD, T.FILTER, T.CONCAT_MAP, T.GROUP, T.INNER_JOIN, T.OUTER_JOIN,
        T.EQ_JOIN, T.UPDATE, T.DELETE, T.REPLACE, T.INSERT, T.COUNT, T.SUM, T.AVG, T.MIN,
        T.MAX,
    }
)  # fmt: skip
_ORDER_TERMS = (T.ORDER_BY, T.UNION)


def _json_type(v: Any) -> str:
    """rapidjson_typestr: the raw JSON type, pseudo-types not looked at."""
    if v is None:
        return "NULL"
    if type(v) is bool:
        return "BOOL"
    if type(v) is int or type(v) is float:
        return "NUMBER"
    return {str: "STRING", list: "ARRAY", dict: "OBJECT"}.get(type(v), "NUMBER")


def _path_frames(path: tuple | None) -> list:
    frames: list = []
    while path is not None:
        path, key = path
        frames.append(key)
    return frames[::-1]


def _shape(node: list, path: tuple | None, with_frames: bool) -> tuple[int, Any, Any]:
    """The term type, arguments and optargs of a raw array term, or RethinkDB's error."""

    def fail(message: str) -> ReqlCompileError:
        return ReqlCompileError(message, frames=_path_frames(path) if with_frames else [])

    size = len(node)
    if not 1 <= size <= 3:
        raise fail(f"Expected between 1 and 3 elements in a raw term, but found {size}.")
    first = node[0]
    if type(first) is not int and type(first) is not float:
        raise fail(f"Expected a TermType as a NUMBER but found {_json_type(first)}.")
    tt = int(first)
    if tt != first or tt not in _VALID_TYPES:
        raise fail(f"Unrecognized TermType: {tt}.")
    args = opts = None
    if size >= 2:
        second = node[1]
        if type(second) is list:
            args = second
        elif type(second) is dict and tt != T.DATUM:
            opts = second
        elif tt != T.DATUM:
            raise fail("Second element in a Term is neither arguments nor optional arguments.")
    if size == 3:
        if opts is not None:
            raise fail("Second and third element in a term are both optional arguments.")
        if type(node[2]) is not dict:
            raise fail("Third element in a Term is not optional arguments.")
        opts = node[2]
    return tt, args, opts


def walk_term(raw: Any, with_frames: bool = True) -> None:
    """Check ``raw`` (a query's term, or a global optarg's when ``with_frames`` is False:
    RethinkDB walks those without backtraces) as RethinkDB's term walker does."""
    # Each entry: (node, whether writes are legal there, its path as nested (parent, key)
    # pairs: the backtrace frames are built only for an error, the parent's and the
    # grandparent's term types). Children are pushed in reverse, so they pop in order.
    stack: list[tuple[Any, bool, tuple | None, int, int]] = [(raw, True, None, 0, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        node, legal, path, parent, grand = pop()
        if type(node) is dict:  # an object literal (MAKE_OBJ): its values are terms
            for k, v in reversed(node.items()):
                if type(v) is list or type(v) is dict:
                    push((v, legal, (path, k), T.MAKE_OBJ, parent))
            continue
        if type(node) is not list:
            continue  # a JSON scalar: a DATUM
        tt, args, opts = _shape(node, path, with_frames)
        if (tt == T.ASC or tt == T.DESC) and not (
            parent in _ORDER_TERMS or (parent == T.MAKE_ARRAY and grand == T.UNION)
        ):
            raise ReqlCompileError(
                f"{'ASC' if tt == T.ASC else 'DESC'} may only be used as an argument to "
                "ORDER_BY or UNION.",
                frames=_path_frames(path) if with_frames else [],
            )
        if not legal and tt in _WRITE_OR_META:
            raise ReqlCompileError(
                "Cannot nest writes or meta ops in stream operations.  Use FOR_EACH instead.",
                frames=_path_frames(path) if with_frames else [],
            )
        forbids = tt in _FORBIDS_WRITES
        if opts:
            for k, v in reversed(opts.items()):
                if type(v) is list or type(v) is dict:
                    push((v, legal and not forbids, (path, k), tt, parent))
        if args:
            for i in range(len(args) - 1, -1, -1):
                a = args[i]
                if type(a) is dict:  # an object literal: walked only if a value is a term
                    for v in a.values():
                        if type(v) is list or type(v) is dict:
                            push((a, legal and (i == 0 or not forbids), (path, i), tt, parent))
                            break
                elif type(a) is list:
                    push((a, legal and (i == 0 or not forbids), (path, i), tt, parent))
