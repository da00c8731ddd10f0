"""A cached plan's single insert of its document param, evaluated in one step.

``r.table('t').insert({...})``, cached by its shape (shapes.py: the document is the plan's
``DocParam``), is the commonest write. ``Insert.eval`` runs it through the general
machinery: the TABLE term (a ``TableValue`` and its permission guard), the argument's run,
the optarg checks, ``run_write`` and a per-document loop built for batches. ``run_wire``
(what ``Engine.execute`` calls for a cached plan whose root is an INSERT) does the same
write for the one case it covers, in one function:

- the INSERT has no optargs of its own, and the query's global optargs are none or a
  cached plan's constants that leave an insert its defaults (``_plain_globals``: at most a
  literal ``durability``);
- its table is a ``Table`` whose remembered lookup still holds (``Table.remembered``) and
  the user is admin (whose guard is the table itself);
- its document is the plan's ``DocParam``, an object with a plain primary key (an integer,
  a float, a short string without NUL: what ``Insert.insert_new`` writes in one step) and
  no ``$reql_type$``.

Anything else, decided before anything is evaluated, is ``node.run(scope)`` as before. The
write is what ``run_write`` and ``insert_new`` do for that one document: the same
``Writer``, the table's write hook read in the write's transaction (a hooked table takes
``Insert.insert_one``, as the general loop does), the same result document, duplicate
error, durability and group-commit wait; its errors get the INSERT's frames, as
``Term.run`` gives them.
"""

from __future__ import annotations

from typing import Any

from ....datum import REQL_TYPE
from ....errors import ReqlError
from ...storage.writer import Writer
from ...system.access import ADMIN
from ..compile import Scope
from ..context import ConstantOptargs
from ..shapes import DocParam
from .hooks import _write_hook, with_hook
from .tables import Table
from .writes import NO, Insert, WriteStats, _plain_globals, answer_when_durable, duplicate_key

_NO_KEY = object()
_UNSEEN, _NOT_PLAIN = object(), object()
#: The result of one document inserted (``WriteStats.result``'s counts, in its order).
_INSERTED = {"deleted": 0, "errors": 0, "inserted": 1, "replaced": 0, "skipped": 0, "unchanged": 0}


def run_wire(node: Insert, scope: Scope) -> Any:
    """``node.run(scope)``: in one step for the case the module doc names, else as ever."""
    ctx = scope.ctx
    args = node.args
    table_node, doc_node = args
    if (
        node.optargs
        or node.group_probe
        or type(doc_node) is not DocParam
        or type(table_node) is not Table
    ):
        return node.run(scope)
    given = ctx.optargs
    durability = None
    if given:
        if type(given) is not ConstantOptargs:
            return node.run(scope)
        # A plan's constants never change: their check is made once (``in`` on the dict
        # subclass goes through a slot call, five of them per check).
        durability = given.__dict__.get("insert_durability", _UNSEEN)
        if durability is _UNSEEN:
            durability = given.get("durability") if _plain_globals(given) else _NOT_PLAIN
            given.insert_durability = durability
        if durability is _NOT_PLAIN:
            return node.run(scope)
    session = ctx.session
    if session is None or session.user != ADMIN:
        return node.run(scope)
    store = table_node.remembered(ctx)
    if store is None:
        return node.run(scope)
    pk = store.primary_key
    params_doc = ctx.params[doc_node.index]
    key = params_doc.get(pk, _NO_KEY)
    t = type(key)
    if REQL_TYPE in params_doc or not (
        t is int or t is float or (t is str and len(key) < 32 and "\x00" not in key)
    ):
        return node.run(scope)
    doc = doc_node.eval(scope)  # its copy, as the argument's run gives it
    try:
        stats = None
        with Writer(store) as writer:
            # The hook as ``with_hook`` reads it (a user table's: never the system db's),
            # which only a hooked table then goes through.
            hook = _write_hook(ctx.engine.storage, store.id, writer._txn)
            hooked = writer if hook is None else with_hook(scope, store, writer)
            if hooked is writer:
                old = writer.insert(doc, True)  # a shape's document: canonical already
                if old is not None:
                    stats = WriteStats(NO, ctx.array_limit)
                    stats.valid_docs = 1
                    stats.error(duplicate_key(pk, old, doc), old)
            else:  # the general loop's way through the table's write hook
                stats = WriteStats(NO, ctx.array_limit)
                Insert.insert_one(hooked, pk, doc, "error", stats)
                stats.end_insert()
        answer_when_durable(ctx, store, durability, writer.committed, bool(writer.changes))
        return dict(_INSERTED) if stats is None else stats.result()
    except ReqlError as e:
        if e.frames is None:
            e.frames = list(node.frames)
        raise
