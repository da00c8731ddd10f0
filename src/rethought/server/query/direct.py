"""Which cached plans may run on the loop's own stack, without a query greenlet.

A query greenlet (runtime/suspend.py) lets a term wait for I/O (``r.http``, ``r.js``,
``index_wait``) and lets a long evaluation yield at its checkpoints. Switching into one and
back costs about a fifth of a trivial query's server instructions (``r.expr(1)``, a point
get, a single insert). A plan made only of terms that never wait and do bounded work (a
literal, a table, a point get, one insert of literal documents, a field) gains nothing from
it, so the session runs it directly (``inline_safe``). Anything else keeps the greenlet.

The tree is also kept shallow, so running on the loop's stack never gets nearer to the
recursion limit than a greenlet's run does.
"""

from __future__ import annotations

from ...proto.ql2 import TermType as T
from .compile import Datum, Term
from .shapes import Param

# Terms whose evaluation never waits and never loops over more than their own arguments
# (TABLE, and GET_FIELD / BRACKET over a table, are lazy: rows are read by the batcher,
# which has its own greenlet).
_SAFE = frozenset(
    {T.DB, T.TABLE, T.GET, T.GET_FIELD, T.BRACKET, T.MAKE_ARRAY, T.MAKE_OBJ, T.INSERT}
)
# INSERT optargs that evaluate nothing but a literal.
_INSERT_OPTARGS = frozenset({"durability", "return_changes", "conflict"})
_MAX_DEPTH = 16


def inline_safe(root: Term) -> bool:
    """Whether ``root`` can be evaluated without a query greenlet (see the module doc)."""
    todo = [(root, 0)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (Datum, Param)):
            continue
        if not isinstance(node, Term):  # an engine's own root (tests' stand-in engines)
            return False
        tt = type(node).tt
        if depth > _MAX_DEPTH or tt not in _SAFE:
            return False
        if tt == T.INSERT:
            if not node.optargs.keys() <= _INSERT_OPTARGS:
                return False
        for a in node.args:
            # leaves (a batch's 1000 documents: Datum, tested first) are not walked
            if type(a) is not Datum and not isinstance(a, (Datum, Param)):
                todo.append((a, depth + 1))
        for o in node.optargs.values():
            if not isinstance(o, Datum):  # a conflict function, say
                return False
    return True


def optargs_safe(optargs: dict) -> bool:
    """Whether a START's global optargs are literals (or ``db`` as ``r.db(name)``), which
    a term evaluates on first read without waiting for anything."""
    for v in optargs.values():
        t = type(v)
        if t is list:
            if not (len(v) == 2 and v[0] == T.DB and type(v[1]) is list and len(v[1]) == 1):
                return False
            if type(v[1][0]) is not str:
                return False
        elif t is dict:
            return False
    return True
