"""What a ReQL term can evaluate to on the server, beyond plain datums.

Datums (see ``rethought.datum``) are plain Python values. Everything else a term may
produce is one of the classes here:

- ``Database``: the result of ``r.db``.
- ``Sequence`` and its kinds, all lazy: ``Stream`` (STREAM), ``Selection``
  (SELECTION<STREAM>: rows that remember their table, so update / delete work on them),
  ``TableValue`` (TABLE, itself a selection of every row).
- ``SingleSelection`` (SELECTION<OBJECT>): one row of a table, from ``get``.
- ``Func`` (FUNCTION), built by ``server.query.compile``.
- ``Grouped`` (GROUPED_DATA): the result of ``group``; terms applied to it apply per group.

Arrays are plain lists: a term that accepts a sequence accepts a list too (use
``iterate``). ``type_name`` gives the name ``type_of`` reports and errors quote.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ... import datum
from ...datum.jsonfmt import pretty
from ...errors import ReqlNonExistenceError, ReqlQueryLogicError


class Database:
    __slots__ = ("name", "id")

    def __init__(self, name: str, id: str | None = None) -> None:
        self.name = name
        self.id = id


class Sequence(ABC):
    """A lazy sequence. Subclasses say where the rows come from."""

    type_name = "STREAM"
    # The table rows come from, when each row is an unmodified row of it (update/delete need it).
    table: Any = None

    @abstractmethod
    def __iter__(self) -> Iterator[Any]: ...


class Stream(Sequence):
    """Rows computed from something else (map, concat_map, r.range, ...)."""

    __slots__ = ("_source", "infinite")

    def __init__(self, source: Iterable[Any], infinite: bool = False) -> None:
        self._source = source
        self.infinite = infinite

    def __iter__(self) -> Iterator[Any]:
        return iter(self._source)


class Selection(Stream):
    """Rows of ``table``, still addressable for writes (filter, between, get_all, order_by)."""

    type_name = "SELECTION<STREAM>"
    __slots__ = ("table",)

    def __init__(self, table: Any, source: Iterable[Any]) -> None:
        super().__init__(source)
        self.table = table


class ArraySelection(Selection):
    """A selection known to be finite and materialised (order_by on a selection)."""

    type_name = "SELECTION<ARRAY>"


class TableValue(Sequence):
    """``r.table(...)``: a selection of every row, plus the table's identity for admin terms.

    ``store`` is the storage handle (``server.storage.TableStore``).
    """

    type_name = "TABLE"
    __slots__ = ("db", "name", "store", "read_mode")

    def __init__(self, db: Database, name: str, store: Any, read_mode: str = "single") -> None:
        self.db = db
        self.name = name
        self.store = store
        self.read_mode = read_mode

    @property
    def table(self) -> TableValue:  # type: ignore[override]
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(self.store.scan())


class SingleSelection:
    """``table.get(key)``: one row (or None) that update / replace / delete can address."""

    type_name = "SELECTION<OBJECT>"
    __slots__ = ("table", "key", "row")

    def __init__(self, table: TableValue, key: Any, row: Any) -> None:
        self.table = table
        self.key = key
        self.row = row


class Func:
    """A compiled ReQL function closed over its defining scope."""

    type_name = "FUNCTION"
    __slots__ = ("params", "body", "scope", "determinism")

    def __init__(self, params: tuple[int, ...], body: Any, scope: Any, determinism: int) -> None:
        self.params = params
        self.body = body
        self.scope = scope
        self.determinism = determinism  # its body's bits (server.determinism)

    @property
    def arity(self) -> int:
        return len(self.params)

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.params) and self.params:
            raise ReqlQueryLogicError(
                f"Expected function with {len(args)} argument{'s' if len(args) != 1 else ''} "
                f"but found function with {len(self.params)} "
                f"argument{'s' if len(self.params) != 1 else ''}."
            )
        return self.body.run(self.scope.bind(self.params, args))


class PyFunc(Func):
    """A Python callable standing in for a ReQL function (constant values, field lookups)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any], arity: int = 1) -> None:
        self.fn = fn
        self.params = tuple(range(arity))
        self.determinism = 0  # always deterministic

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class Grouped:
    """GROUPED_DATA: an ordered mapping of group key -> group value (a list, or a reduction)."""

    type_name = "GROUPED_DATA"
    __slots__ = ("groups",)

    def __init__(self, groups: list[tuple[Any, Any]]) -> None:
        self.groups = groups

    def to_datum(self) -> dict:
        return {datum.REQL_TYPE: "GROUPED_DATA", "data": [[k, to_datum(v)] for k, v in self.groups]}


def type_name(v: Any) -> str:
    """The name ``type_of`` reports for any value a term can produce."""
    tn = getattr(type(v), "type_name", None)
    if tn is not None:
        return tn
    return datum.type_name(v)


def is_sequence(v: Any) -> bool:
    return type(v) is list or isinstance(v, Sequence)


def iterate(v: Any) -> Iterator[Any]:
    """Iterate a sequence or array, or raise RethinkDB's type error."""
    if type(v) is list:
        return iter(v)
    if isinstance(v, Sequence):
        return iter(v)
    if isinstance(v, (Func, Database)):
        # val_t::as_seq: a value that is not a datum fails rcheck_literal_type; a datum
        # that is not an array is datum_t::as_datum_stream's "Cannot convert".
        raise expected_val(v, "SEQUENCE")
    raise ReqlQueryLogicError(f"Cannot convert {type_name(v)} to SEQUENCE")


#: The ``infinite`` attribute of a stream fed by a changefeed (``r.range()`` uses True).
FEED = "changefeed"
# An ordered union (``interleave`` false, a field, a function) of an infinite stream: its
# own check comes first when it is read eagerly (ordered_union_datum_stream_t).
ORDERED_UNION = "ordered union"


def infinite_error(v: Any) -> ReqlQueryLogicError:
    """RethinkDB's error for consuming an infinite stream eagerly (its text differs for feeds)."""
    kind = getattr(v, "infinite", False)
    if kind == ORDERED_UNION:
        return ReqlQueryLogicError("Cannot use an infinite stream with an ordered `union`.")
    if kind == FEED:
        return ReqlQueryLogicError(
            "Cannot call a terminal (`reduce`, `count`, etc.) on an infinite stream "
            "(such as a changefeed)."
        )
    return ReqlQueryLogicError(
        "Cannot use an infinite stream with an aggregation function (`reduce`, `count`, "
        "etc.) or coerce it to an array."
    )


#: The Python types of datums (arrays are lists, objects dicts): a value of one is a datum.
DATUM_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})


def to_datum(v: Any) -> Any:
    """Force a value into a datum as RethinkDB's ``val_t::as_datum``: a get() becomes its
    row; a table, selection or stream is not a datum (``Expected type DATUM but found
    SELECTION``). Terms that read a sequence use ``iterate`` / ``materialize`` instead.
    """
    if type(v) in DATUM_TYPES:  # most calls: skip the isinstance checks (Sequence is an ABC)
        return v
    if isinstance(v, (Sequence, Func, Database)):
        # val_t::as_datum: only a DATUM or a SINGLE_SELECTION is one. A stream, selection,
        # table slice or table is not forced into an array (arrays stay lists here).
        raise expected_val(v, "DATUM")
    if isinstance(v, SingleSelection):
        return v.row
    if isinstance(v, Grouped):
        return v.to_datum()
    return v


def materialize(v: Any) -> list:
    """A finite sequence's rows as an array; unlike ``to_datum`` this takes a whole table
    (``coerce_to('array')``, arguments that accept any sequence)."""
    if isinstance(v, Sequence):
        if getattr(v, "infinite", False):
            raise infinite_error(v)
        return list(v)
    return to_datum(v)


def expected(v: Any, want: str) -> ReqlQueryLogicError:
    """RethinkDB's type error: ``Expected type NUMBER but found STRING.``

    A NULL where something else was expected is a non-existence error, so ``default``
    catches it (``r.expr(null).add(1).default(0)``).
    """
    cls = ReqlNonExistenceError if v is None else ReqlQueryLogicError
    return cls(f"Expected type {want} but found {type_name(v)}.")


# -- argument checks with RethinkDB's messages ------------------------------------------------


def as_number(v: Any) -> int | float:
    t = type(v)
    if t is int or t is float:
        return v
    raise expected(v, "NUMBER")


def as_int(v: Any) -> int:
    """An integral number (indexes, counts): ``Number not an integer: 1.5``.

    Like RethinkDB's ``datum_t::as_int`` (every integer argument goes through it), a number
    outside +-2**53 is refused even when integral: doubles lose exactness there. Datums hold
    such a number as a float (``datum.num``), so a Python int is in range or an internal
    default (an unlimited batch size, say) and passes."""
    t = type(v)
    if t is int:
        return v
    if t is not float:
        raise expected(v, "NUMBER")
    if v.is_integer() and -datum.MAX_EXACT <= v <= datum.MAX_EXACT:
        return int(v)
    side = " (<-2^53)" if v < -datum.MAX_EXACT else " (>2^53)" if v > datum.MAX_EXACT else ""
    # RethinkDB prints the number with "%.20g" (PR_RECONSTRUCTABLE_DOUBLE).
    raise ReqlQueryLogicError(f"Number not an integer{side}: {v:.20g}")


def as_string(v: Any) -> str:
    if type(v) is str:
        return v
    raise expected(v, "STRING")


def as_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise expected(v, "BOOL")


def as_array(v: Any) -> list:
    """A datum array; a finite sequence is materialised."""
    if type(v) is list:
        return v
    if isinstance(v, Sequence):
        return materialize(v)
    raise expected(v, "ARRAY")


def as_object(v: Any) -> dict:
    if isinstance(v, SingleSelection):
        v = v.row
    if type(v) is dict and datum.REQL_TYPE not in v:
        return v
    raise expected(v, "OBJECT")


def as_func(v: Any, arity: int = 1) -> Func:
    """A function argument; a plain value becomes a constant function (RethinkDB allows it)."""
    if isinstance(v, Func):
        return v
    return PyFunc(lambda *_: v, arity)


# -- how RethinkDB names and prints any evaluated value (not only datums) in type errors --------
# ``val_kind`` / ``val_print`` follow RethinkDB's ``val_t``: ``Expected type SELECTION but
# found DATUM:\n[...]``, ``... found TABLE_SLICE:\nSELECTION ON table(t)``. Datums are printed
# by ``datum.jsonfmt.pretty``.


def val_kind(v: Any) -> str:
    """The name RethinkDB's ``val_t`` gives a value (DATUM for every datum)."""
    if isinstance(v, Database):
        return "DATABASE"
    if isinstance(v, TableValue):
        return "TABLE"
    if isinstance(v, Sequence):
        name = type(v).type_name
        if name == "TABLE_SLICE":
            return "TABLE_SLICE"
        return "SELECTION" if v.table is not None else "SEQUENCE"
    if isinstance(v, SingleSelection):
        return "SINGLE_SELECTION"
    if isinstance(v, Func):
        return "FUNCTION"
    if isinstance(v, Grouped):
        return "GROUPED_DATA"
    return "DATUM"


def val_print(v: Any) -> str:
    """How RethinkDB prints a value after ``Expected type X but found Y:``."""
    if isinstance(v, Database):
        return f'db("{v.name}")'
    if isinstance(v, TableValue):
        return f'table("{v.name}")'
    if isinstance(v, SingleSelection):
        return pretty(v.row)
    if isinstance(v, Sequence):
        if v.table is not None:
            return f"SELECTION ON table({v.table.name})"
        return "VALUE SEQUENCE"
    if isinstance(v, Func):
        return "VALUE FUNCTION"
    if isinstance(v, Grouped):
        return "VALUE GROUPED_DATA"
    return pretty(v)


def expected_val(v: Any, want: str) -> ReqlQueryLogicError:
    """``Expected type TABLE but found DATUM:\\n[1, 2]`` with RethinkDB's printing."""
    return ReqlQueryLogicError(f"Expected type {want} but found {val_kind(v)}:\n{val_print(v)}")


# -- datum helpers shared by the sequence and object code above the runtime -------------------


def is_datum(v: Any) -> bool:
    return not isinstance(v, (Sequence, Func, Grouped, Database, SingleSelection))


def get_field(row: Any, name: Any) -> Any:
    """``row[name]`` with RethinkDB's errors (a missing field is a non-existence error)."""
    if type(name) is not str:
        raise expected(name, "STRING")
    if isinstance(row, SingleSelection):
        row = row.row
    if type(row) is not dict or datum.REQL_TYPE in row:
        raise expected(row, "OBJECT")
    try:
        return row[name]
    except KeyError:
        raise ReqlNonExistenceError(f"No attribute `{name}` in object:\n{pretty(row)}") from None


def truthy(v: Any) -> bool:
    """ReQL truthiness: everything but ``false`` and ``null``."""
    return not (v is None or v is False)
