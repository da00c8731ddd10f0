"""Write terms: INSERT, UPDATE, REPLACE, DELETE and SYNC.

Every write query runs in one storage write transaction (``store.write()``). Rows are
written one at a time like RethinkDB's ``batched_replace``: a row that fails (a duplicate
key, a bad replacement, an error inside the user's function) is counted in ``errors`` and
the others are still written. After the commit, a hard-durability write asks the server
to fsync before replying (``ctx.pending_sync``); the changes reach the feed hub from the
commit itself (storage/outbox.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .... import datum
from ....datum.jsonfmt import pretty
from ....errors import (
    ReqlOpFailedError,
    ReqlQueryLogicError,
    ReqlResourceLimitError,
    ReqlRuntimeError,
)
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.values import expected_val
from ...storage.writer import Writer
from ...system import SystemTable
from ...system.access import require
from .. import determinism
from ..compile import Datum, Scope, Term, blame, term
from ..literals import deep_copy
from ..pseudo import STRAY_LITERAL
from ..seq import truthy  # as val_t::as_bool reads a boolean optarg (return_changes=1)
from ..shapes import DocParam
from ..table_slices import check_primary_key
from .catalog import as_table
from .control import MakeArray
from .hooks import ignore_hook, with_hook
from .objects import LITERAL, merge, merge_patch
from .tables import Get

NO, YES, ALWAYS = 0, 1, 2  # return_changes
_NO_KEY = object()


class WriteStats:
    """The result document of a write, built row by row."""

    __slots__ = (
        "counts", "first_error", "first_check_error", "return_changes", "changes",
        "generated_keys", "keys_skipped", "changes_truncated", "array_limit", "valid_docs",
        "trivial_changes",
    )  # fmt: skip

    def __init__(self, return_changes: int, array_limit: int) -> None:
        self.counts = dict.fromkeys(
            ("deleted", "errors", "inserted", "replaced", "skipped", "unchanged"), 0
        )
        self.first_error: str | None = None
        # RethinkDB's insert checks documents before the storage batch and merges that
        # result first, so a check failure wins ``first_error`` over any storage error.
        self.first_check_error: str | None = None
        self.return_changes = return_changes
        self.changes: list[dict] = []
        self.generated_keys: list[str] = []
        self.keys_skipped = 0
        self.changes_truncated = False
        self.array_limit = array_limit
        self.valid_docs = 0  # insert: documents that passed the checks before the write
        self.trivial_changes = 0  # insert: changes recorded for documents that did not

    def row(self, old: Any, new: Any) -> None:
        if old is None:
            op = "skipped" if new is None else "inserted"
        elif new is None:
            op = "deleted"
        else:
            op = "replaced" if not datum.equal(old, new) else "unchanged"
        self.counts[op] += 1
        changed = op not in ("skipped", "unchanged")
        if self.return_changes == ALWAYS or (self.return_changes == YES and changed):
            self._change({"new_val": new, "old_val": old})

    def error(self, message: str, old: Any) -> None:
        self.counts["errors"] += 1
        if self.first_error is None:
            self.first_error = message
        if self.return_changes == ALWAYS:
            self._change({"error": message, "new_val": old, "old_val": old})

    def trivial_error(self, message: str) -> None:
        """An insert's document refused before the write (not an object, a bad primary key).

        RethinkDB's ``table_t::batched_insert`` gives each one a ``{old_val: null, new_val:
        null, error}`` change whenever changes are returned, ``true`` as well as ``'always'``
        (the write's own errors only show with ``'always'``)."""
        self.counts["errors"] += 1
        if self.first_check_error is None:
            self.first_check_error = message
        if self.first_error is None:
            self.first_error = message
        if self.return_changes != NO:
            self.trivial_changes += 1
            self._change({"error": message, "new_val": None, "old_val": None})

    def end_insert(self) -> None:
        # When no document of the batch reached the write, RethinkDB reports only the first
        # refused one in ``changes``.
        if self.valid_docs == 0 and self.trivial_changes > 1:
            del self.changes[1:]

    def _change(self, change: dict) -> None:
        # Like RethinkDB's stats merge: the changes array stops at the array limit.
        if len(self.changes) < self.array_limit:
            self.changes.append(change)
        else:
            self.changes_truncated = True

    def generated(self, key: str) -> None:
        if len(self.generated_keys) < self.array_limit:
            self.generated_keys.append(key)
        else:
            self.keys_skipped += 1

    def result(self) -> dict:
        out: dict[str, Any] = dict(self.counts)
        if self.return_changes != NO:
            out["changes"] = self.changes
        if self.first_error is not None:
            out["first_error"] = self.first_check_error or self.first_error
        if self.generated_keys:
            out["generated_keys"] = self.generated_keys
        if not (self.changes_truncated or self.keys_skipped):
            return out
        # insert_term_t: the merge's conditions first, then the generated keys' warning;
        # datum_object_builder_t::add_warning fails a warning past the array limit.
        warnings = []
        if self.changes_truncated:
            warnings.append(f"Too many changes, array truncated to {self.array_limit}.")
        if self.keys_skipped:
            total = self.keys_skipped + len(self.generated_keys)
            warnings.append(
                f"Too many generated keys ({total}), array truncated to {len(self.generated_keys)}."
            )
        if len(warnings) > self.array_limit:
            raise ReqlResourceLimitError(
                f"Warnings would exceed array size limit {self.array_limit}; "
                "increase it to see warnings"
            )
        if warnings:
            out["warnings"] = warnings
        return out


# -- optargs ------------------------------------------------------------------------------------


def _durability(v: Any) -> str:
    if values.as_string(v) in ("hard", "soft"):
        return v
    raise ReqlQueryLogicError(
        f'Durability option `{v}` unrecognized (options are "hard" and "soft").'
    )


def parse_durability(t: Term, scope: Scope) -> str | None:
    """``t``'s ``durability`` optarg (its own or the query's), or None. Like RethinkDB's
    ``parse_durability_optarg``, both errors blame the optarg (no frames for a global one)."""
    return t.optarg(scope, "durability", None, _durability)


def parse_return_changes(t: Term, scope: Scope) -> int:
    if "return_vals" in t.optargs:
        raise ReqlQueryLogicError(
            "Error: encountered obsolete optarg `return_vals`.  Use `return_changes` instead."
        )
    v = t.optarg(scope, "return_changes")
    if v is None:
        return NO
    v = values.to_datum(v)
    if type(v) is str:
        if v != "always":
            raise ReqlQueryLogicError(
                f"Invalid return_changes value `{v}` (options are `true`, `false`, and `'always'`.)"
            )
        return ALWAYS
    return YES if truthy(v) else NO


# Global optargs an insert reads (``run(c, return_changes=True)`` reaches every term).
_INSERT_GLOBALS = ("return_changes", "return_vals", "conflict", "ignore_write_hook")


def _plain_globals(given: Any) -> bool:
    """Whether a query's global optargs leave an insert its defaults, but for a valid
    literal ``durability`` (anything else is parsed, with its errors)."""
    for name in _INSERT_GLOBALS:
        if name in given:
            return False
    if "durability" in given:
        d = dict.get(given, "durability")  # the raw value: a literal string is itself
        return type(d) is str and (d == "soft" or d == "hard")
    return True


def _all_datums(args: list) -> bool:
    for a in args:
        if type(a) is not Datum:
            return False
    return True


def _copy_plain(v: Any) -> Any:
    """A literal's value as ``Datum.eval`` gives it: containers copied, so that nothing
    holding the inserted rows can change the cached plan's literal (one call per
    container, none per scalar)."""
    t = type(v)
    if t is dict:
        return {
            k: _copy_plain(x) if type(x) is dict or type(x) is list else x for k, x in v.items()
        }
    if t is list:
        return deep_copy(v)
    return v


# -- row validation and merging -----------------------------------------------------------------


def _is_object(v: Any) -> bool:
    return type(v) is dict and datum.REQL_TYPE not in v


def check_replacement(pk: str, key: Any, old: Any, new: Any) -> None:
    """RethinkDB's checks on a row's replacement value (``rcheck_row_replacement``)."""
    if new is None:
        return
    if type(new) is not dict:  # a pseudotype is an R_OBJECT too: it fails the key checks
        raise ReqlQueryLogicError(
            f"Inserted value must be an OBJECT (got {datum.type_name(new)}):\n{pretty(new)}"
        )
    if pk not in new:
        raise ReqlQueryLogicError(f"Inserted object must have primary key `{pk}`:\n{pretty(new)}")
    if old is not None:
        if not datum.equal(old[pk], new[pk]):
            raise ReqlQueryLogicError(
                f"Primary key `{pk}` cannot be changed (`{pretty(old)}` -> `{pretty(new)}`)."
            )
    else:
        check_primary_key(new[pk])
        if not datum.equal(key, new[pk]):
            raise ReqlQueryLogicError(
                f"Primary key `{pk}` cannot be changed (null -> {pretty(new)})"
            )
    found = _unstorable(new)
    if found & _TOO_BIG:  # RethinkDB's serializer reports this one first
        raise ReqlQueryLogicError("Array too large for disk writes (limit 100,000 elements).")
    if found & _EXTREMA:
        raise ReqlQueryLogicError("`r.minval` and `r.maxval` cannot be written to disk.")
    if found & _LITERAL:  # only r.json can build one outside merge / update
        raise ReqlQueryLogicError(STRAY_LITERAL)


# RethinkDB's on-disk format refuses arrays longer than this, whatever the array_limit.
DISK_ARRAY_LIMIT = 100_000


_TOO_BIG, _EXTREMA, _LITERAL = 1, 2, 4
_ALL = _TOO_BIG | _EXTREMA | _LITERAL


def _unstorable(v: Any) -> int:
    """Which of an array over the disk limit, r.minval / r.maxval and an ``r.literal`` are
    anywhere inside ``v`` (a bit mask), in one walk."""
    t = type(v)
    if t is dict:
        found = _LITERAL if v.get(datum.REQL_TYPE) == LITERAL else 0
        items: Any = v.values()
    elif t is list:
        found = _TOO_BIG if len(v) > DISK_ARRAY_LIMIT else 0
        items = v
    else:
        return _EXTREMA if v is datum.MINVAL or v is datum.MAXVAL else 0
    for x in items:
        if type(x) is dict or type(x) is list or x is datum.MINVAL or x is datum.MAXVAL:
            found |= _unstorable(x)
            if found == _ALL:
                break
    return found


# -- the write transaction ----------------------------------------------------------------------


def duplicate_key(pk: str, old: Any, doc: Any) -> str:
    """RethinkDB's error for an insert of ``doc`` whose key ``old`` holds already."""
    return f"Duplicate primary key `{pk}`:\n{pretty(old)}\n{pretty(doc)}"


def answer_when_durable(
    ctx: Any, store: Any, durability: str | None, committed: Any, changed: bool
) -> None:
    """What a write's answer waits for: the group commit it joined (``committed``), and,
    when it changed something with hard durability, an fsync."""
    if committed is not None:  # committed with others at the end of this loop turn
        ctx.pending_commit = committed
    if not changed:
        return
    if durability is None:
        durability = ctx.optargs.get("durability") or getattr(store, "durability", "hard")
    if durability == "hard":
        ctx.pending_sync = True


def run_write(
    scope: Scope,
    store: Any,
    durability: str | None,
    body: Callable[[Any], None],
    ignore_hook: bool = False,
) -> None:
    """Run ``body(writer)`` in one write transaction, then sync / publish as needed.

    The writer applies the table's write hook unless ``ignore_hook`` (terms/hooks.py)."""
    ctx = scope.ctx
    if ignore_hook and hasattr(store, "db"):
        # RethinkDB asks for config on the table before the write (writes.cc).
        require(ctx, "config", store.db.id, store.id)
    with store.write() as writer:
        body(with_hook(scope, store, writer, ignore_hook))
    if type(writer) is Writer:  # a table's: publishes on commit, its list is its own
        changes = writer.changes
        committed = writer.committed
    else:
        changes = list(getattr(writer, "changes", ()))
        committed = getattr(writer, "committed", None)
    answer_when_durable(ctx, store, durability, committed, bool(changes))
    if not changes:
        return
    hub = ctx.engine.hub
    if hub is not None and not getattr(writer, "publishes_on_commit", False):
        # A system table's writer. A table's writer publishes through the storage, once the
        # outermost transaction commits (storage/outbox.py): never before, never an abort.
        hub.publish(store, changes)


def replace_one(
    writer: Any, pk: str, key: Any, compute: Callable[[Any], Any], stats: WriteStats
) -> None:
    """Replace the row at ``key`` by ``compute(old_row)``; count the outcome in ``stats``."""
    old = writer.get(key)
    try:
        new = compute(old)
        hook = getattr(writer, "hook", None)  # the table's write hook (terms/hooks.py)
        if hook is not None:
            new = hook(old, new)
        check_replacement(pk, key, old, new)
        prepare = getattr(writer, "prepare", None)  # system tables validate and apply here
        if prepare is not None:
            new = prepare(key, old, new)
    except ReqlRuntimeError as e:
        stats.error(e.message, old)
        return
    stats.row(old, new)
    if old is None and new is None:
        return
    if new is None:
        writer.delete(key)
    elif old is None or not datum.equal(old, new):
        writer.put(new)


def _row_fn(t: Term, scope: Scope, i: int) -> Callable[[Any], Any]:
    """The per-row function argument ``i``: a FUNC, or an expression evaluated per row
    (so that ``update({'x': r.error('a')})`` fails row by row, as in RethinkDB)."""
    node = t.args[i]
    if node.tt == T.FUNC:
        fn = values.as_func(node.run(scope))
        return lambda row: values.to_datum(fn(row))
    return lambda row: values.to_datum(node.run(scope))


def _check_atomic(t: Term, scope: Scope) -> None:
    non_atomic = t.optarg(scope, "non_atomic")
    if non_atomic is not None and values.as_bool(values.to_datum(non_atomic)):
        return
    if not determinism.atomic_ok(t.args[1].determinism):
        raise ReqlQueryLogicError(
            "Could not prove argument deterministic.  Maybe you want to use the non_atomic flag?"
        )


def selection_target(v: Any) -> tuple[Any, Iterable[Any] | None, Any]:
    """(table, rows or None, key) for a write target; RethinkDB's error for anything else."""
    if isinstance(v, values.SingleSelection):
        return v.table, None, v.key
    if isinstance(v, values.Sequence) and v.table is not None:
        return v.table, v, None
    raise expected_val(v, "SELECTION")


class _RowWrite(Term):
    """UPDATE / REPLACE / DELETE: apply a per-row function to every row of a selection."""

    def eval(self, scope: Scope) -> dict:
        durability = parse_durability(self, scope)
        return_changes = parse_return_changes(self, scope)
        self.check(scope)
        arg = self.args[0]
        # A point write reads its row inside the write (so it needs write, not read, first).
        target = arg.unread(scope) if isinstance(arg, Get) else arg.run(scope)
        # as_selection on the argument's val_t: a non-selection blames the argument
        table, rows, key = blame(selection_target, None, target, arg.frames)
        store = table.store
        pk = store.primary_key
        compute = self.row_function(scope)
        stats = WriteStats(return_changes, scope.ctx.array_limit)

        def body(writer: Any) -> None:
            if rows is None:
                replace_one(writer, pk, key, compute, stats)
                return
            for row in rows:
                replace_one(writer, pk, row[pk], compute, stats)

        run_write(scope, store, durability, body, ignore_hook(self, scope))
        return stats.result()

    def check(self, scope: Scope) -> None:
        _check_atomic(self, scope)

    def row_function(self, scope: Scope) -> Callable[[Any], Any]:
        raise NotImplementedError


_ROW_OPTARGS = ("non_atomic", "durability", "return_vals", "return_changes", "ignore_write_hook")


@term(T.UPDATE, arity=(2, 2), optargs=_ROW_OPTARGS)
class Update(_RowWrite):
    def row_function(self, scope: Scope) -> Callable[[Any], Any]:
        fn = _row_fn(self, scope, 1)

        def update(old: Any) -> Any:
            if old is None:
                return None
            patch = fn(old)
            return old if patch is None else merge_patch(old, patch)

        return update


@term(T.REPLACE, arity=(2, 2), optargs=_ROW_OPTARGS)
class Replace(_RowWrite):
    def row_function(self, scope: Scope) -> Callable[[Any], Any]:
        # Unlike update (a rewrite that runs its argument inside the per-row function),
        # RethinkDB's replace evaluates a non-function argument once, before any row: its
        # errors (a stray r.literal, r.error) fail the query. No literal is resolved here;
        # one smuggled in through r.json is refused by check_replacement.
        if self.args[1].tt == T.FUNC:
            return _row_fn(self, scope, 1)
        doc = self.datum_arg(scope, 1)
        return lambda old: doc


@term(
    T.DELETE,
    arity=(1, 1),
    optargs=("durability", "return_vals", "return_changes", "ignore_write_hook"),
)
class Delete(_RowWrite):
    def check(self, scope: Scope) -> None:
        """Deleting is always deterministic."""

    def row_function(self, scope: Scope) -> Callable[[Any], Any]:
        return lambda old: None


@term(
    T.INSERT,
    arity=(2, 2),
    optargs=("conflict", "durability", "return_vals", "return_changes", "ignore_write_hook"),
)
class Insert(Term):
    def eval(self, scope: Scope) -> dict:
        table = self.arg(scope, 0, as_table)
        given = getattr(scope.ctx, "optargs", None)
        parsed = bool(self.optargs) or bool(given and not _plain_globals(given))
        if parsed:
            return_changes = parse_return_changes(self, scope)
            conflict = self.conflict(scope)
            durability = parse_durability(self, scope)
        else:  # no optarg of its own nor a global one but durability: nothing to parse
            return_changes, conflict = NO, "error"
            durability = given.get("durability") if given else None
        arg = self.args[1]
        literal = type(arg) is MakeArray and _all_datums(arg.args)
        if literal and len(arg.args) <= scope.ctx.array_limit:
            # What the MAKE_ARRAY of literals evaluates to, without a term run per element:
            # copies (rows must not share the plan's literals), but for a plan run this
            # once and dropped: its literals are then this run's own, read only here.
            if scope.ctx.sole_root is self:
                docs = [a.value for a in arg.args]
            else:
                docs = [_copy_plain(a.value) for a in arg.args]
        else:
            docs = arg.run(scope)
            if isinstance(docs, values.SingleSelection):
                docs = docs.row
            docs = [docs] if _is_object(docs) else values.iterate(docs)
        store = table.store
        pk = store.primary_key
        stats = WriteStats(return_changes, scope.ctx.array_limit)

        def body(writer: Any) -> None:
            if conflict == "error" and type(writer) is Writer:
                self.insert_new(writer, pk, docs, stats, literal)
                return
            for doc in docs:
                doc = values.to_datum(doc)
                if _is_object(doc) and pk not in doc:
                    key = str(uuid.uuid4())
                    doc = {**doc, pk: key}
                    stats.generated(key)
                    note = getattr(writer, "generated", None)  # a system table's writer
                    if note is not None:
                        note(key)
                self.insert_one(writer, pk, doc, conflict, stats)
            stats.end_insert()

        run_write(scope, store, durability, body, parsed and ignore_hook(self, scope))
        return stats.result()

    def conflict(self, scope: Scope) -> Any:
        v = self.optarg(scope, "conflict")
        if v is None:
            return "error"
        if isinstance(v, values.Func):
            if not determinism.atomic_ok(self.optargs["conflict"].determinism):
                raise ReqlQueryLogicError(
                    "The conflict function passed to `insert` must be deterministic."
                )
            if v.arity not in (0, 3):
                raise ReqlQueryLogicError(
                    "The conflict function passed to `insert` should expect 3 arguments."
                )
            return v
        if values.as_string(values.to_datum(v)) in ("error", "replace", "update"):
            return v
        raise ReqlQueryLogicError(
            f'Conflict option `{v}` unrecognized (options are "error", "replace" and "update").'
        )

    def insert_new(
        self, writer: Writer, pk: str, docs: Iterable[Any], stats: WriteStats, literal: bool
    ) -> None:
        """``conflict='error'`` into a table without a write hook: a document with a plain
        key is written in one step (``Writer.insert``), with what ``insert_one`` would
        check; anything unusual takes ``insert_one``. Same results, less per document.
        ``literal``: the documents are a MAKE_ARRAY of literals."""
        # Documents straight from the query's literals are canonical already (compile.py).
        arg = self.args[1]
        known = literal or type(arg) is Datum or type(arg) is DocParam
        # Nor can they hold anything _unstorable finds: a literal object with an array or
        # a pseudo-type in it is a MAKE_OBJ term (literals.py ``plain_canonical``), not a Datum.
        to_datum, counts, uuid4 = values.to_datum, stats.counts, uuid.uuid4
        insert, changes, reql_type = writer.insert, stats.return_changes, datum.REQL_TYPE
        # Counted here and added once at the end (an error raised on the way fails the
        # whole query, its counts unread); insert_one counts into stats itself.
        valid = inserted = 0
        for doc in docs:
            if type(doc) is not dict:
                doc = to_datum(doc)
                if type(doc) is not dict:
                    self.insert_one(writer, pk, doc, "error", stats)
                    continue
            if reql_type in doc:
                self.insert_one(writer, pk, doc, "error", stats)
                continue
            key = doc.get(pk, _NO_KEY)
            if key is _NO_KEY:
                key = str(uuid4())
                doc = {**doc, pk: key}
                stats.generated(key)
            t = type(key)
            if not (
                t is int or t is float or (t is str and len(key) < 32 and "\x00" not in key)
            ) or (not known and _unstorable(doc)):
                self.insert_one(writer, pk, doc, "error", stats)  # its checks, its errors
                continue
            valid += 1
            old = insert(doc, known)
            if old is None:
                inserted += 1
                if changes:
                    stats._change({"new_val": doc, "old_val": None})
            else:
                stats.error(duplicate_key(pk, old, doc), old)
        stats.valid_docs += valid
        counts["inserted"] += inserted
        stats.end_insert()

    @staticmethod
    def insert_one(writer: Any, pk: str, doc: Any, conflict: Any, stats: WriteStats) -> None:
        if type(doc) is not dict:
            # RethinkDB reads the primary key with ``datum_t::get_field``, whose type check
            # fails first (regression/831.yaml).
            stats.trivial_error(f"Expected type OBJECT but found {datum.type_name(doc)}.")
            return
        if not _is_object(doc):
            stats.trivial_error(
                f"Inserted value must be an OBJECT (got {datum.type_name(doc)}):\n{pretty(doc)}"
            )
            return
        try:
            key = check_primary_key(doc[pk])
        except ReqlRuntimeError as e:
            stats.trivial_error(e.message)
            return
        stats.valid_docs += 1

        def resolve(old: Any) -> Any:
            if old is None or conflict == "replace":
                return doc
            if conflict == "update":
                return merge(old, doc)
            if isinstance(conflict, values.Func):
                return values.to_datum(conflict(pk, old, doc))
            raise ReqlOpFailedError(duplicate_key(pk, old, doc))

        replace_one(writer, pk, key, resolve, stats)


@term(T.SYNC, arity=(1, 1))
class Sync(Term):
    nondeterminism = determinism.NO

    def eval(self, scope: Scope) -> dict:
        table = self.arg(scope, 0, as_table)
        if isinstance(table.store, SystemTable):  # artificial_table_t::sync
            raise ReqlOpFailedError("Artificial tables don't support `sync()`.")
        scope.ctx.pending_sync = True  # the server fsyncs before it replies
        return {"synced": 1}
