"""The chainable methods of queries (``q.filter(...)``, ``r.table(t).insert(...)``).

Each method builds one term with the receiver as first argument. They differ only in which
arguments may be functions: those go through ``func_wrap`` so that ``r.row`` inside them
becomes a lambda's argument, as the official driver does. The tables below say, per method,
the term it builds and which arguments are wrapped; ``install`` turns them into methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import terms as t
from .ast import RqlQuery, func_wrap

# Which arguments may be functions: each ``wrap_*`` maps ``(args, kwargs)`` to the same with
# those arguments passed through ``func_wrap``; without one, nothing is wrapped.
Wrap = Callable[[tuple, dict], tuple[list, dict]]


def wrap_all(args: tuple, kwargs: dict) -> tuple[list, dict]:
    """Every positional argument."""
    return [func_wrap(a) for a in args], kwargs


def wrap_last(args: tuple, kwargs: dict) -> tuple[list, dict]:
    """The last positional argument (map); with none, upstream drops everything."""
    if not args:
        return [], {}
    return [*args[:-1], func_wrap(args[-1])], kwargs


def wrap_last_and_kwargs(args: tuple, kwargs: dict) -> tuple[list, dict]:
    """Every keyword argument and the last positional one (fold), in upstream's order, which
    numbers the lambdas' variables."""
    if not args:
        return [], {}
    kwargs = {k: func_wrap(v) for k, v in kwargs.items()}
    return [*args[:-1], func_wrap(args[-1])], kwargs


def wrap_kwargs(args: tuple, kwargs: dict) -> tuple[list, dict]:
    """Every keyword argument (union's interleave)."""
    return list(args), {k: func_wrap(v) for k, v in kwargs.items()}


def wrap_after_first(args: tuple, kwargs: dict) -> tuple[list, dict]:
    """All but the first (index_create: the name stays, the index function is wrapped)."""
    return [*args[:1], *(func_wrap(a) for a in args[1:])], kwargs


def wrap_orderings(args: tuple, kwargs: dict) -> tuple[list, dict]:
    """Every positional argument but ``r.asc`` / ``r.desc`` (order_by)."""
    return [a if isinstance(a, (t.Asc, t.Desc)) else func_wrap(a) for a in args], kwargs


def make_method(
    cls: type[RqlQuery], name: str, wrap: Wrap | None = None
) -> Callable[..., RqlQuery]:
    """A method building ``cls(self, *args, **kwargs)`` with arguments wrapped by ``wrap``."""

    def method(self: RqlQuery, *args: Any, **kwargs: Any) -> RqlQuery:
        if wrap is not None:
            args, kwargs = wrap(args, kwargs)
        return cls(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"ReQL ``{name}``: https://rethinkdb.com/api/python/{name}/"
    return method


def install(target: type, table: dict[str, tuple]) -> None:
    for name, spec in table.items():
        setattr(target, name, make_method(spec[0], name, *spec[1:]))


# Methods of every query.
QUERY_METHODS: dict[str, tuple] = {
    # math and logic
    "eq": (t.Eq,),
    "ne": (t.Ne,),
    "lt": (t.Lt,),
    "le": (t.Le,),
    "gt": (t.Gt,),
    "ge": (t.Ge,),
    "add": (t.Add,),
    "sub": (t.Sub,),
    "mul": (t.Mul,),
    "div": (t.Div,),
    "mod": (t.Mod,),
    "bit_and": (t.BitAnd,),
    "bit_or": (t.BitOr,),
    "bit_xor": (t.BitXor,),
    "bit_not": (t.BitNot,),
    "bit_sal": (t.BitSal,),
    "bit_sar": (t.BitSar,),
    "floor": (t.Floor,),
    "ceil": (t.Ceil,),
    "round": (t.Round,),
    "and_": (t.And,),
    "or_": (t.Or,),
    "not_": (t.Not,),
    "branch": (t.Branch,),
    "default": (t.Default,),
    "do": (t.FunCall,),
    "coerce_to": (t.CoerceTo,),
    "type_of": (t.TypeOf,),
    "info": (t.Info,),
    "to_json": (t.ToJsonString,),
    "to_json_string": (t.ToJsonString,),
    # documents
    "contains": (t.Contains, wrap_all),
    "has_fields": (t.HasFields,),
    "with_fields": (t.WithFields,),
    "keys": (t.Keys,),
    "values": (t.Values,),
    "pluck": (t.Pluck,),
    "without": (t.Without,),
    "merge": (t.Merge, wrap_all),
    "get_field": (t.GetField,),
    "nth": (t.Nth,),
    # arrays
    "append": (t.Append,),
    "prepend": (t.Prepend,),
    "difference": (t.Difference,),
    "set_insert": (t.SetInsert,),
    "set_union": (t.SetUnion,),
    "set_intersection": (t.SetIntersection,),
    "set_difference": (t.SetDifference,),
    "insert_at": (t.InsertAt,),
    "splice_at": (t.SpliceAt,),
    "delete_at": (t.DeleteAt,),
    "change_at": (t.ChangeAt,),
    "offsets_of": (t.OffsetsOf, wrap_all),
    "is_empty": (t.IsEmpty,),
    "sample": (t.Sample,),
    # strings
    "match": (t.Match,),
    "split": (t.Split,),
    "upcase": (t.Upcase,),
    "downcase": (t.Downcase,),
    # sequences
    "slice": (t.Slice,),
    "skip": (t.Skip,),
    "limit": (t.Limit,),
    "map": (t.Map, wrap_last),
    "fold": (t.Fold, wrap_last_and_kwargs),
    "filter": (t.Filter, wrap_all),
    "concat_map": (t.ConcatMap, wrap_all),
    "order_by": (t.OrderBy, wrap_orderings),
    "between": (t.Between,),
    "distinct": (t.Distinct,),
    "union": (t.Union, wrap_kwargs),
    "inner_join": (t.InnerJoin,),
    "outer_join": (t.OuterJoin,),
    "eq_join": (t.EqJoin, wrap_all),
    "zip": (t.Zip,),
    "for_each": (t.ForEach, wrap_all),
    "changes": (t.Changes,),
    # aggregation
    "reduce": (t.Reduce, wrap_all),
    "count": (t.Count, wrap_all),
    "sum": (t.Sum, wrap_all),
    "avg": (t.Avg, wrap_all),
    "min": (t.Min, wrap_all),
    "max": (t.Max, wrap_all),
    "group": (t.Group, wrap_all),
    "ungroup": (t.Ungroup,),
    # writes
    "update": (t.Update, wrap_all),
    "replace": (t.Replace, wrap_all),
    "delete": (t.Delete,),
    # time
    "to_iso8601": (t.ToISO8601,),
    "to_epoch_time": (t.ToEpochTime,),
    "in_timezone": (t.InTimezone,),
    "during": (t.During,),
    "date": (t.Date,),
    "time_of_day": (t.TimeOfDay,),
    "timezone": (t.Timezone,),
    "year": (t.Year,),
    "month": (t.Month,),
    "day": (t.Day,),
    "day_of_week": (t.DayOfWeek,),
    "day_of_year": (t.DayOfYear,),
    "hours": (t.Hours,),
    "minutes": (t.Minutes,),
    "seconds": (t.Seconds,),
    # geometry
    "to_geojson": (t.ToGeoJson,),
    "distance": (t.Distance,),
    "intersects": (t.Intersects,),
    "includes": (t.Includes,),
    "fill": (t.Fill,),
    "polygon_sub": (t.PolygonSub,),
}

# Administration methods shared by tables and databases.
_ADMIN_METHODS: dict[str, tuple] = {
    "config": (t.Config,),
    "wait": (t.Wait,),
    "reconfigure": (t.Reconfigure,),
    "rebalance": (t.Rebalance,),
    "grant": (t.Grant,),
}

TABLE_METHODS: dict[str, tuple] = {
    **_ADMIN_METHODS,
    "insert": (t.Insert,),
    "get": (t.Get,),
    "get_all": (t.GetAll,),
    "get_intersecting": (t.GetIntersecting,),
    "get_nearest": (t.GetNearest,),
    "set_write_hook": (t.SetWriteHook,),
    "get_write_hook": (t.GetWriteHook,),
    "index_create": (t.IndexCreate, wrap_after_first),
    "index_drop": (t.IndexDrop,),
    "index_rename": (t.IndexRename,),
    "index_list": (t.IndexList,),
    "index_status": (t.IndexStatus,),
    "index_wait": (t.IndexWait,),
    "status": (t.Status,),
    "sync": (t.Sync,),
    "uuid": (t.UUID,),
}

DB_METHODS: dict[str, tuple] = {
    **_ADMIN_METHODS,
    "table": (t.Table,),
    "table_create": (t.TableCreate,),
    "table_drop": (t.TableDrop,),
    "table_list": (t.TableList,),
}

install(RqlQuery, QUERY_METHODS)
install(t.Table, TABLE_METHODS)
install(t.DB, DB_METHODS)
