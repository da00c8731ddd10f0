"""Indexed geospatial reads: GET_INTERSECTING and GET_NEAREST on geo indexes.

A geo index keeps its entries like any secondary index (``index_create(name, geo=True)``,
``multi=True`` too): the GEOMETRY each row yields. These terms read those stored values
(no re-evaluation of the index function) and test each against the query geometry. As in
RethinkDB, which keeps the set of ``(primary key, multi-index tag)`` pairs already emitted,
a row is returned once per matching *entry*: a ``multi`` index row with two matching
geometries comes twice from ``get_intersecting``, and twice (with each one's distance)
from ``get_nearest``. Only entries filed in grid cells that meet
the query's box are read (``storage.geo_cells``): the box of the query geometry, or for
``get_nearest`` the box of the ``max_dist`` disk. Boxes are conservative, so the results
(and their order: index order) are those of a scan of the whole index.

``get_nearest`` replays RethinkDB's batched search: it widens a search radius from 10 m,
adapting it to the density of results so far, and stops at ``max_dist`` or once
``max_results`` rows were found. The replay matters for RethinkDB's behaviour at the
edges (which rows within ``max_dist`` are returned, and the error when the radius gets
too large for a search polygon).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from .... import datum
from ....errors import ReqlError, ReqlQueryLogicError, ReqlResourceLimitError
from ....proto.ql2 import TermType as T
from ...geo import bounds as geo_bounds
from ...geo import geometry as geo
from ...geo import predicates as pred
from ...runtime import values
from ..compile import Scope, Term, term
from ..determinism import NO
from ..table_slices import TableSlice, require_index
from . import geo as geo_terms
from .catalog import as_table

GEO_TRAVERSAL_LIMIT = "Array size limit exceeded during geospatial index traversal."
INITIAL_RADIUS_FRACTION = 10.0 / 6378137.0  # the first batch searches 10 m on earth
MAX_GROWTH_FACTOR = 2.0
GOAL_BATCH_SIZE = 100.0
NUM_VERTICES = 8  # vertices of the polygon RethinkDB searches each batch with


def _geo_table(t: Term, scope: Scope, name: str) -> values.TableValue:
    src = t.args[0].run(scope)
    if isinstance(src, TableSlice):
        raise ReqlQueryLogicError(f"Cannot chain {name} with other indexed operations.")
    return as_table(src)


def _geo_index(t: Term, scope: Scope, table: values.TableValue, name: str) -> str:
    index = _index_name(t, scope, table, name)
    _require_geo_index(table, index, name)
    return index


def _index_name(t: Term, scope: Scope, table: values.TableValue, name: str) -> str:
    """The ``index`` optarg, checked as the term checks it (the index itself is looked up
    later, by the read)."""
    node = t.optargs.get("index")
    if node is None:
        raise ReqlQueryLogicError(f"{name} requires an index argument.")
    index = values.as_string(values.to_datum(node.run(scope)))
    if index == table.store.primary_key:
        raise ReqlQueryLogicError(f"{name} cannot use the primary index.")
    return index


def _require_geo_index(table: values.TableValue, index: str, name: str) -> None:
    store = table.store
    require_index(table, index, geo_ok=True)
    if not store.index_info(index).geo:
        raise ReqlQueryLogicError(
            f"Index `{index}` is not a geospatial index.  "
            f"{name} can only be used with a geospatial index."
        )


def _indexed_shapes(
    store: Any, index: str, box: geo_bounds.Box
) -> Iterator[tuple[Any, geo.Shape, dict]]:
    """``(primary key, shape, row)`` for the GEOMETRY entries of a geo index that can meet
    ``box`` (and maybe a few more), in index order."""
    pk = store.primary_key
    for value, row in store.geo_scan(index, box):
        if datum.pseudo_type(value) != "GEOMETRY":
            continue  # not a geometry: RethinkDB leaves such rows out of geo indexes
        try:
            shape = geo.parse(value)
        except ReqlError:
            continue
        yield datum.sort_key(row[pk]), shape, row


@term(T.GET_INTERSECTING, arity=(2, 2), optargs=("index",))
class GetIntersecting(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> values.Selection:
        table = _geo_table(self, scope, "get_intersecting")
        query = geo.shape_of(self.args[1].run(scope))
        index = _geo_index(self, scope, table, "get_intersecting")

        limit = scope.ctx.array_limit

        def rows() -> Iterator[dict]:
            box = geo_bounds.shape_box(query)
            emitted = 0
            for _, shape, row in _indexed_shapes(table.store, index, box):
                if pred.intersects(shape, query):  # each entry (pk, tag) is read once
                    # intersecting_reader_t keeps the (pk, tag) pairs it emitted, as a set
                    # bounded by the array limit (datum_stream.cc, rcheck_toplevel)
                    if emitted >= limit:
                        raise ReqlResourceLimitError(GEO_TRAVERSAL_LIMIT, frames=[])
                    emitted += 1
                    yield row

        return values.Selection(table, rows())


@term(
    T.GET_NEAREST,
    arity=(2, 2),
    optargs=("index", "max_results", "max_dist", "geo_system", "unit"),
)
class GetNearest(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> list:
        table = _geo_table(self, scope, "get_nearest")
        center_arg = self.args[1].run(scope)
        # RethinkDB's order: the index optarg, the center, geo_system, unit, max_dist,
        # max_results; whether the index exists and is geospatial only once the read runs.
        index = _index_name(self, scope, table, "get_nearest")
        center = geo.point_arg(center_arg)
        e = geo_terms.geo_system(self, scope)
        factor = geo_terms.unit(self, scope)
        max_dist = 100000.0  # 100 km
        given = self.optarg(scope, "max_dist", conv=values.as_number)
        if given is not None:
            max_dist = float(given) * factor
            if not max_dist > 0.0:
                raise geo_terms.target_error(self, "max_dist", "max_dist must be positive.")
        max_results = 100
        given = self.optarg(scope, "max_results", conv=values.as_int)
        if given is not None:
            max_results = given
            if max_results <= 0:
                raise geo_terms.target_error(self, "max_results", "max_results must be positive.")
        _require_geo_index(table, index, "get_nearest")
        found = nearest(table.store, index, center, e, max_dist, max_results)
        return [{"dist": datum.num(d * (1.0 / factor)), "doc": row} for d, row in found]


def nearest(
    store: Any, index: str, center: geo.LonLat, e: geo.Ellipsoid, max_dist: float, limit: int
) -> list[tuple[float, dict]]:
    """Rows of a geo index by distance from ``center``, as RethinkDB's batches find them."""
    origin = geo.Shape("Point", points=[center])
    # Rows beyond max_dist never count, not even for the batch sizes below, so only the
    # entries that can be within max_dist are read.
    box = geo_bounds.disk_box(center, max_dist, e)
    # Per entry (a multi index row has one per geometry, each emitted on its own): its
    # distance, then its index position (equal distances keep index order; positions of
    # entries the box skipped would not change it).
    entries: list[tuple[float, int, dict]] = []
    for seq, (_, shape, row) in enumerate(_indexed_shapes(store, index, box)):
        entries.append((geo.distance(origin, shape, e), seq, row))
    ordered = [(d, row) for d, _, row in sorted(entries, key=lambda t: t[:2])]
    found: list[tuple[float, dict]] = []
    processed = 0.0
    current = min(max_dist, INITIAL_RADIUS_FRACTION * e.a)
    i = 0
    while True:
        _check_search_radius(current, e)
        start = len(found)
        while i < len(ordered) and ordered[i][0] <= current:
            found.append(ordered[i])
            i += 1
        # Size the next ring so that it should hold GOAL_BATCH_SIZE results.
        density = (len(found) - start) / (math.pi * (current * current - processed * processed))
        processed = current
        if density != 0.0:
            current = math.sqrt(GOAL_BATCH_SIZE / math.pi / density + processed * processed)
        else:
            current = processed * MAX_GROWTH_FACTOR
        current = min(current, min(current * MAX_GROWTH_FACTOR, max_dist))
        if processed >= max_dist or len(found) >= limit:
            return found[:limit]


def _check_search_radius(radius: float, e: geo.Ellipsoid) -> None:
    """The search polygon for ``radius`` must be constructible, as in RethinkDB."""
    distortion = max(e.a, e.b) / min(e.a, e.b)
    ex_radius = radius * 1.01 / math.cos(math.pi / NUM_VERTICES) * distortion
    try:
        geo.circle_points((0.0, 0.0), ex_radius, 0, e)
    except ReqlQueryLogicError as err:
        raise ReqlQueryLogicError(
            "The distance has become too large for continuing the indexed nearest traversal.  "
            f"Consider specifying a smaller `max_dist` parameter.  ({err.message})"
        ) from None
