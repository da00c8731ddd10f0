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

# Which arguments of a method may be functions.
PLAIN = "plain"  # none
ALL = "all"  # every positional argument
LAST = "last"  # the last positional argument (map, fold)
KWARGS = "kwargs"  # every keyword argument (union)
LAST_AND_KWARGS = "last+kwargs"  # fold
AFTER_FIRST = "after-first"  # index_create: the name stays, the index function is wrapped
ORDERINGS = "orderings"  # order_by: r.asc / r.desc stay as they are


def _wrap_args(policy: str, args: tuple, kwargs: dict) -> tuple[list, dict]:
    if policy == ALL:
        return [func_wrap(a) for a in args], kwargs
    if policy == LAST or policy == LAST_AND_KWARGS:
        if not args:  # upstream drops everything when there is no function to wrap
            return [], {}
        if policy == LAST_AND_KWARGS:
            kwargs = {k: func_wrap(v) for k, v in kwargs.items()}
        return [*args[:-1], func_wrap(args[-1])], kwargs
    if policy == KWARGS:
        return list(args), {k: func_wrap(v) for k, v in kwargs.items()}
    if policy == AFTER_FIRST:
        if len(args) > 1:
            return [args[0], *(func_wrap(a) for a in args[1:])], kwargs
        return list(args), kwargs
    if policy == ORDERINGS:
        return [a if isinstance(a, (t.Asc, t.Desc)) else func_wrap(a) for a in args], kwargs
    raise ValueError(policy)


def make_method(cls: type[RqlQuery], name: str, policy: str = PLAIN) -> Callable[..., RqlQuery]:
    """A method building ``cls(self, *args, **kwargs)`` with the given arguments wrapped."""
    if policy == PLAIN:

        def method(self: RqlQuery, *args: Any, **kwargs: Any) -> RqlQuery:
            return cls(self, *args, **kwargs)

    elif policy == ALL:  # the most common wrapping gets its own fast path

        def method(self: RqlQuery, *args: Any, **kwargs: Any) -> RqlQuery:
            return cls(self, *[func_wrap(a) for a in args], **kwargs)

    else:

        def method(self: RqlQuery, *args: Any, **kwargs: Any) -> RqlQuery:
            wargs, wkwargs = _wrap_args(policy, args, kwargs)
            return cls(self, *wargs, **wkwargs)

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
    "contains": (t.Contains, ALL),
    "has_fields": (t.HasFields,),
    "with_fields": (t.WithFields,),
    "keys": (t.Keys,),
    "values": (t.Values,),
    "pluck": (t.Pluck,),
    "without": (t.Without,),
    "merge": (t.Merge, ALL),
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
    "offsets_of": (t.OffsetsOf, ALL),
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
    "map": (t.Map, LAST),
    "fold": (t.Fold, LAST_AND_KWARGS),
    "filter": (t.Filter, ALL),
    "concat_map": (t.ConcatMap, ALL),
    "order_by": (t.OrderBy, ORDERINGS),
    "between": (t.Between,),
    "distinct": (t.Distinct,),
    "union": (t.Union, KWARGS),
    "inner_join": (t.InnerJoin,),
    "outer_join": (t.OuterJoin,),
    "eq_join": (t.EqJoin, ALL),
    "zip": (t.Zip,),
    "for_each": (t.ForEach, ALL),
    "changes": (t.Changes,),
    # aggregation
    "reduce": (t.Reduce, ALL),
    "count": (t.Count, ALL),
    "sum": (t.Sum, ALL),
    "avg": (t.Avg, ALL),
    "min": (t.Min, ALL),
    "max": (t.Max, ALL),
    "group": (t.Group, ALL),
    "ungroup": (t.Ungroup,),
    # writes
    "update": (t.Update, ALL),
    "replace": (t.Replace, ALL),
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
    "index_create": (t.IndexCreate, AFTER_FIRST),
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
