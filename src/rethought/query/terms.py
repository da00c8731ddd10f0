"""Every ReQL term as an ``RqlQuery`` subclass, declared by term type and printing style.

Most terms differ only in their term type, their name in printed queries (the lower-case
term type name unless given) and their printing style, so one line declares each. Terms with
their own construction or printing are written out below.
"""

from __future__ import annotations

from typing import Any

from ..errors import ReqlDriverCompileError
from ..proto.ql2 import TermType as TT
from .ast import (
    Datum,
    RqlBiCompareOperQuery,
    RqlBiOperQuery,
    RqlBoolOperQuery,
    RqlBracketQuery,
    RqlMethodQuery,
    RqlQuery,
    RqlTopLevelQuery,
    _kw,
    func_wrap,
    receiver,
)


def _term(base: type[RqlQuery], tt: TT, statement: str | None = None, name: str | None = None):
    name = name or "".join(part.capitalize() for part in tt.name.split("_"))
    attrs = {
        "__slots__": (),
        "__module__": __name__,
        "__qualname__": name,
        "term_type": int(tt),
        "statement": statement or tt.name.lower(),
    }
    return type(name, (base,), attrs)


def _method(tt: TT, statement: str | None = None, name: str | None = None):
    """A term printed as a method call on its first argument."""
    return _term(RqlMethodQuery, tt, statement, name)


def _top(tt: TT, statement: str | None = None, name: str | None = None):
    """A term printed as ``r.name(...)``."""
    return _term(RqlTopLevelQuery, tt, statement, name)


# ---- arithmetic, comparison, logic ------------------------------------------------------

Eq = _term(RqlBiCompareOperQuery, TT.EQ, "==")
Ne = _term(RqlBiCompareOperQuery, TT.NE, "!=")
Lt = _term(RqlBiCompareOperQuery, TT.LT, "<")
Le = _term(RqlBiCompareOperQuery, TT.LE, "<=")
Gt = _term(RqlBiCompareOperQuery, TT.GT, ">")
Ge = _term(RqlBiCompareOperQuery, TT.GE, ">=")
Add = _term(RqlBiOperQuery, TT.ADD, "+")
Sub = _term(RqlBiOperQuery, TT.SUB, "-")
Mul = _term(RqlBiOperQuery, TT.MUL, "*")
Div = _term(RqlBiOperQuery, TT.DIV, "/")
Mod = _term(RqlBiOperQuery, TT.MOD, "%")
BitAnd = _term(RqlBoolOperQuery, TT.BIT_AND)
BitOr = _term(RqlBoolOperQuery, TT.BIT_OR)
BitXor = _term(RqlBoolOperQuery, TT.BIT_XOR)
BitXor.st_infix = "^"
BitNot = _method(TT.BIT_NOT)
BitSal = _term(RqlBoolOperQuery, TT.BIT_SAL)
BitSar = _term(RqlBoolOperQuery, TT.BIT_SAR)
And = _term(RqlBoolOperQuery, TT.AND, "and_")
And.st_infix = "&"
Or = _term(RqlBoolOperQuery, TT.OR, "or_")
Or.st_infix = "|"
Floor = _method(TT.FLOOR)
Ceil = _method(TT.CEIL)
Round = _method(TT.ROUND)
Branch = _top(TT.BRANCH)
Random = _top(TT.RANDOM)


class Not(RqlQuery):
    __slots__ = ()
    term_type = int(TT.NOT)

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        if len(args) != 1:  # malformed, but it must still print inside an error message
            return f"r.not_({', '.join(args)})"
        arg = f"r.expr({args[0]})" if isinstance(self._args[0], Datum) else args[0]
        return f"(~{arg})"


# ---- documents, arrays, strings ----------------------------------------------------------

Append = _method(TT.APPEND)
Prepend = _method(TT.PREPEND)
Difference = _method(TT.DIFFERENCE)
SetInsert = _method(TT.SET_INSERT)
SetUnion = _method(TT.SET_UNION)
SetIntersection = _method(TT.SET_INTERSECTION)
SetDifference = _method(TT.SET_DIFFERENCE)
InsertAt = _method(TT.INSERT_AT)
SpliceAt = _method(TT.SPLICE_AT)
DeleteAt = _method(TT.DELETE_AT)
ChangeAt = _method(TT.CHANGE_AT)
Skip = _method(TT.SKIP)
Limit = _method(TT.LIMIT)
GetField = _term(RqlBracketQuery, TT.GET_FIELD)
Bracket = _term(RqlBracketQuery, TT.BRACKET)
Nth = _term(RqlBracketQuery, TT.NTH)
Contains = _method(TT.CONTAINS)
HasFields = _method(TT.HAS_FIELDS)
WithFields = _method(TT.WITH_FIELDS)
Keys = _method(TT.KEYS)
Values = _method(TT.VALUES)
Object = _method(TT.OBJECT)
Pluck = _method(TT.PLUCK)
Without = _method(TT.WITHOUT)
Merge = _method(TT.MERGE)
Literal = _top(TT.LITERAL)
Default = _method(TT.DEFAULT)
Match = _method(TT.MATCH)
ToJsonString = _method(TT.TO_JSON_STRING)
Split = _method(TT.SPLIT)
Upcase = _method(TT.UPCASE)
Downcase = _method(TT.DOWNCASE)
OffsetsOf = _method(TT.OFFSETS_OF)
IsEmpty = _method(TT.IS_EMPTY)
CoerceTo = _method(TT.COERCE_TO)
TypeOf = _method(TT.TYPE_OF)
Info = _method(TT.INFO)
Json = _top(TT.JSON)
Args = _top(TT.ARGS)
UUID = _method(TT.UUID, name="UUID")


class Slice(RqlBracketQuery):
    """``slice``; written with brackets it prints ``q[start:end]``."""

    __slots__ = ()
    term_type = int(TT.SLICE)
    statement = "slice"

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        if not self.bracket_operator:
            return super().compose(args, optargs)
        return f"{receiver(self, args)}[{args[1]}:{args[2]}]"


# ---- sequences and aggregation -----------------------------------------------------------

Between = _method(TT.BETWEEN)
Reduce = _method(TT.REDUCE)
Fold = _method(TT.FOLD)
Map = _method(TT.MAP)
Filter = _method(TT.FILTER)
ConcatMap = _method(TT.CONCAT_MAP)
OrderBy = _method(TT.ORDER_BY)
Distinct = _method(TT.DISTINCT)
Count = _method(TT.COUNT)
Union = _method(TT.UNION)
Sum = _method(TT.SUM)
Avg = _method(TT.AVG)
Min = _method(TT.MIN)
Max = _method(TT.MAX)
Group = _method(TT.GROUP)
Ungroup = _method(TT.UNGROUP)
InnerJoin = _method(TT.INNER_JOIN)
OuterJoin = _method(TT.OUTER_JOIN)
EqJoin = _method(TT.EQ_JOIN)
Zip = _method(TT.ZIP)
ForEach = _method(TT.FOR_EACH)
Sample = _method(TT.SAMPLE)
Range = _top(TT.RANGE)
Changes = _method(TT.CHANGES)
Asc = _top(TT.ASC)
Desc = _top(TT.DESC)


class FunCall(RqlQuery):
    """``do``: takes its arguments first and the function last, but sends the function first."""

    __slots__ = ()
    term_type = int(TT.FUNCALL)

    def __init__(self, *args: Any) -> None:
        if not args:
            raise ReqlDriverCompileError("Expected 1 or more arguments but found 0.")
        super().__init__(func_wrap(args[-1]), *args[:-1])

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        if len(args) != 2:
            return f"r.do({', '.join(args[1:])}, {args[0]})"
        receiver = f"r.expr({args[1]})" if isinstance(self._args[1], Datum) else args[1]
        return f"{receiver}.do({args[0]})"


# ---- writes --------------------------------------------------------------------------------

Insert = _method(TT.INSERT)
Update = _method(TT.UPDATE)
Replace = _method(TT.REPLACE)
Delete = _method(TT.DELETE)
Sync = _method(TT.SYNC)

# ---- databases, tables, indexes, administration ----------------------------------------------

DbCreate = _top(TT.DB_CREATE)
DbDrop = _top(TT.DB_DROP)
DbList = _top(TT.DB_LIST)
TableCreate = _method(TT.TABLE_CREATE)
TableCreateTL = _top(TT.TABLE_CREATE, name="TableCreateTL")
TableDrop = _method(TT.TABLE_DROP)
TableDropTL = _top(TT.TABLE_DROP, name="TableDropTL")
TableList = _method(TT.TABLE_LIST)
TableListTL = _top(TT.TABLE_LIST, name="TableListTL")
IndexCreate = _method(TT.INDEX_CREATE)
IndexDrop = _method(TT.INDEX_DROP)
IndexRename = _method(TT.INDEX_RENAME)
IndexList = _method(TT.INDEX_LIST)
IndexStatus = _method(TT.INDEX_STATUS)
IndexWait = _method(TT.INDEX_WAIT)
SetWriteHook = _method(TT.SET_WRITE_HOOK)
GetWriteHook = _method(TT.GET_WRITE_HOOK)
Config = _method(TT.CONFIG)
Status = _method(TT.STATUS)
Wait = _method(TT.WAIT)
Reconfigure = _method(TT.RECONFIGURE)
Rebalance = _method(TT.REBALANCE)
Grant = _method(TT.GRANT)
GrantTL = _top(TT.GRANT, name="GrantTL")
Get = _method(TT.GET)
GetAll = _method(TT.GET_ALL)
GetIntersecting = _method(TT.GET_INTERSECTING)
GetNearest = _method(TT.GET_NEAREST)
JavaScript = _top(TT.JAVASCRIPT, "js", name="JavaScript")
Http = _top(TT.HTTP)
UserError = _top(TT.ERROR, name="UserError")

DB = _top(TT.DB, name="DB")


class Table(RqlQuery):
    """``r.table(name)`` or ``r.db(db).table(name)``."""

    __slots__ = ()
    term_type = int(TT.TABLE)
    statement = "table"

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        rest = args + _kw(optargs)
        if self._args and isinstance(self._args[0], DB):
            return f"{rest[0]}.table({', '.join(rest[1:])})"
        return f"r.table({', '.join(rest)})"


# ---- time --------------------------------------------------------------------------------

ISO8601 = _top(TT.ISO8601, name="ISO8601")
ToISO8601 = _method(TT.TO_ISO8601, name="ToISO8601")
EpochTime = _top(TT.EPOCH_TIME)
ToEpochTime = _method(TT.TO_EPOCH_TIME)
Now = _top(TT.NOW)
Time = _top(TT.TIME)
InTimezone = _method(TT.IN_TIMEZONE)
During = _method(TT.DURING)
Date = _method(TT.DATE)
TimeOfDay = _method(TT.TIME_OF_DAY)
Timezone = _method(TT.TIMEZONE)
Year = _method(TT.YEAR)
Month = _method(TT.MONTH)
Day = _method(TT.DAY)
DayOfWeek = _method(TT.DAY_OF_WEEK)
DayOfYear = _method(TT.DAY_OF_YEAR)
Hours = _method(TT.HOURS)
Minutes = _method(TT.MINUTES)
Seconds = _method(TT.SECONDS)

# ---- geometry ------------------------------------------------------------------------------

GeoJson = _top(TT.GEOJSON, name="GeoJson")
ToGeoJson = _method(TT.TO_GEOJSON, name="ToGeoJson")
Point = _top(TT.POINT)
Line = _top(TT.LINE)
Polygon = _top(TT.POLYGON)
Circle = _top(TT.CIRCLE)
Distance = _method(TT.DISTANCE)
Intersects = _method(TT.INTERSECTS)
Includes = _method(TT.INCLUDES)
Fill = _method(TT.FILL)
PolygonSub = _method(TT.POLYGON_SUB)


class RqlConstant(RqlQuery):
    """A term without arguments that prints as ``r.name`` (``r.monday``, ``r.minval``)."""

    __slots__ = ()

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return f"r.{self.statement}"


def constant(tt: TT) -> RqlConstant:
    """The single instance of a constant term."""
    return _term(RqlConstant, tt)()
