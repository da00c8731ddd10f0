"""``r``: the starting points of queries (``r.table``, ``r.expr``, ``r.row``, ``r.now`` ...).

``ReqlNamespace`` holds the query constructors of the official driver's ``r``; the package's
``RethinkDB`` class adds connections and error classes on top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast
from . import terms as t
from .ast import DEFAULT_NESTING_DEPTH, ImplicitVar, RqlQuery, func_wrap
from .declared import NamespaceFunctions
from .methods import QUERY_METHODS, Wrap, wrap_all
from .tz import RqlTzinfo


def _function(cls: type[RqlQuery], name: str, wrap: Wrap | None = None) -> Callable[..., RqlQuery]:
    """``r.<name>(*args)`` building ``cls`` with arguments wrapped by ``wrap`` (see methods)."""

    def function(self: ReqlNamespace, *args: Any, **kwargs: Any) -> RqlQuery:
        if wrap is not None:
            args, kwargs = wrap(args, kwargs)
        return cls(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"ReQL ``r.{name}``: https://rethinkdb.com/api/python/{name}/"
    return function


_FUNCTIONS: dict[str, tuple] = {
    # databases and tables
    "db": (t.DB,),
    "db_create": (t.DbCreate,),
    "db_drop": (t.DbDrop,),
    "db_list": (t.DbList,),
    "table": (t.Table,),
    "table_create": (t.TableCreateTL,),
    "table_drop": (t.TableDropTL,),
    "table_list": (t.TableListTL,),
    "grant": (t.GrantTL,),
    # control
    "js": (t.JavaScript,),
    "json": (t.Json,),
    "args": (t.Args,),
    "error": (t.UserError,),
    "random": (t.Random,),
    "range": (t.Range,),
    "literal": (t.Literal,),
    "object": (t.Object,),
    "uuid": (t.UUID,),
    # sequences (the others are below, shared with the methods)
    "union": (t.Union,),
    "distinct": (t.Distinct, wrap_all),
    "asc": (t.Asc, wrap_all),
    "desc": (t.Desc, wrap_all),
    # time
    "time": (t.Time,),
    "iso8601": (t.ISO8601,),
    "epoch_time": (t.EpochTime,),
    "now": (t.Now,),
    # geometry
    "geojson": (t.GeoJson,),
    "point": (t.Point,),
    "line": (t.Line,),
    "polygon": (t.Polygon,),
    "circle": (t.Circle,),
    # the same term and wrapping as the method of every query: ``r.count(seq, f)`` is
    # ``seq.count(f)``
    **{
        name: QUERY_METHODS[name]
        for name in (
            "eq ne lt le gt ge add sub mul div mod and_ or_ not_ "
            "bit_and bit_or bit_xor bit_not bit_sal bit_sar floor ceil round "
            "branch do type_of info map group reduce count sum avg min max contains "
            "distance intersects"
        ).split()
    },
}

_CONSTANTS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december "
    "minval maxval"
).split()


class ReqlNamespace(NamespaceFunctions):
    """The query half of ``r``: every ReQL term constructor of the official driver."""

    # The official ``r`` exposes these modules and classes too.
    ast = ast
    query = t
    RqlQuery = RqlQuery
    RqlTzinfo = RqlTzinfo

    row = ImplicitVar()

    def expr(self, val: Any, nesting_depth: int = DEFAULT_NESTING_DEPTH) -> RqlQuery:
        """Convert a Python value (dicts, lists, scalars, callables, datetimes, bytes) to ReQL."""
        return ast.expr(val, nesting_depth)

    # Static, like the official driver's module functions, so a wrong call's TypeError reads
    # "takes 1 positional argument but 2 were given" as the ReQL tests expect.
    @staticmethod
    def binary(data: Any) -> RqlQuery:
        """Binary data: ``bytes``, or a query that yields binary."""
        return ast.Binary(data)

    @staticmethod
    def http(url: Any, **kwargs: Any) -> RqlQuery:
        """Fetch ``url`` on the server (``r.http``)."""
        return t.Http(func_wrap(url), **kwargs)

    def make_timezone(self, offset: str) -> RqlTzinfo:
        """A ``tzinfo`` for the offset ``"[+-]HH:MM"``, to build aware datetimes."""
        return RqlTzinfo(offset)


for _fname, _spec in _FUNCTIONS.items():
    setattr(ReqlNamespace, _fname, _function(_spec[0], _fname, *_spec[1:]))
for _fname in _CONSTANTS:
    setattr(ReqlNamespace, _fname, t.constant(t.TT[_fname.upper()]))
del _fname, _spec
