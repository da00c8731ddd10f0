"""Geospatial terms: POINT, LINE, POLYGON, CIRCLE, GEOJSON, TO_GEOJSON, DISTANCE, INTERSECTS,
INCLUDES, FILL, POLYGON_SUB. The indexed reads (GET_INTERSECTING, GET_NEAREST) live in
``geo_index``; the geometry itself in ``server.geometry`` and ``geo_predicates``.

As in RethinkDB, every geo term except ``point`` and ``to_geojson`` counts as
non-deterministic (its result rests on floating-point geometry), so index functions and
atomic updates reject them.
"""

from __future__ import annotations

from typing import Any

from ....datum import REQL_TYPE, num
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...geo import geometry as geo
from ...geo import predicates as pred
from ...runtime import values
from ..compile import Scope, Term, blame, term
from ..determinism import SINGLE_SERVER
from ..seq import truthy
from .objects import NO_RECURSE, no_recurse_of


class GeoTerm(Term):
    nondeterminism = SINGLE_SERVER


def optarg_frames(t: Term, name: str) -> list:
    """The backtrace of optarg ``name`` (RethinkDB's ``rcheck_target`` on it); a global
    optarg has none."""
    node = t.optargs.get(name)
    return list(node.frames) if node is not None else []


def target_error(t: Term, name: str, message: str) -> ReqlQueryLogicError:
    """An error blaming optarg ``name`` of ``t``."""
    return ReqlQueryLogicError(message, frames=optarg_frames(t, name))


def geo_system(t: Term, scope: Scope) -> geo.Ellipsoid:
    """``pick_reference_ellipsoid``: the ``geo_system`` optarg. Its type, the ``a`` / ``f``
    range checks and an unknown name blame the optarg; a missing ``a`` / ``f`` the term."""
    v = t.optarg(scope, "geo_system", conv=lambda d: d)
    if v is None:
        return geo.WGS84
    if type(v) is not dict:
        v = blame(values.as_string, None, v, tuple(optarg_frames(t, "geo_system")))
    try:
        return geo.ellipsoid(v)
    except ReqlQueryLogicError as e:
        if e.message.startswith(("The equator", "The flattening", "Unrecognized geo")):
            e.frames = optarg_frames(t, "geo_system")
        raise


def unit(t: Term, scope: Scope) -> float:
    """``pick_dist_unit``: metres per ``unit`` (an unknown unit blames the term)."""
    return geo.unit_factor(t.optarg(scope, "unit", conv=values.as_string))


@term(T.POINT, arity=(2, 2))
class PointTerm(Term):
    def eval(self, scope: Scope) -> dict:
        lon = self.datum_arg(scope, 0, values.as_number)
        lat = self.datum_arg(scope, 1, values.as_number)
        result = geo.make_point(lon, lat)
        geo.parse(result)
        return result


def _points(t: Term, scope: Scope) -> list[geo.LonLat]:
    return [geo.point_arg(a.run(scope)) for a in t.args]


@term(T.LINE, arity=(2, None))
class LineTerm(GeoTerm):
    def eval(self, scope: Scope) -> dict:
        result = geo.make_line(_points(self, scope))
        geo.parse(result)
        return result


@term(T.POLYGON, arity=(3, None))
class PolygonTerm(GeoTerm):
    def eval(self, scope: Scope) -> dict:
        result = geo.make_polygon(_points(self, scope))
        geo.parse(result)
        return result


@term(T.CIRCLE, arity=(2, 2), optargs=("geo_system", "unit", "fill", "num_vertices"))
class CircleTerm(GeoTerm):
    def eval(self, scope: Scope) -> dict:
        center_arg = self.args[0].run(scope)
        radius_arg = self.datum_arg(scope, 1)
        fill = self.optarg(scope, "fill", conv=values.as_bool)
        fill = True if fill is None else fill
        n = self.optarg(scope, "num_vertices", conv=values.as_int)
        if n is None:
            n = 32
        else:
            # as_int<unsigned int>(): what does not survive the cast is "too large".
            if not 0 <= n < 2**32:
                raise target_error(self, "num_vertices", f"Integer too large: {n}")
            if n == 0:
                raise target_error(self, "num_vertices", "num_vertices must be positive.")
        e = geo_system(self, scope)
        factor = unit(self, scope)
        center = geo.point_arg(center_arg)
        radius = float(values.as_number(radius_arg)) * factor
        ring = geo.circle_points(center, radius, n, e)
        result = geo.make_polygon(ring) if fill else geo.make_line(ring)
        geo.parse(result)
        return result


@term(T.GEOJSON, arity=(1, 1))
class GeojsonTerm(GeoTerm):
    def eval(self, scope: Scope) -> dict:
        obj = self.datum_arg(scope, 0, values.as_object)
        if REQL_TYPE in obj:
            raise ReqlQueryLogicError("GeoJSON object already had a $reql_type$ field.")
        # RethinkDB drops a `bbox` (it has no use for it) and keeps everything else inline.
        result = {k: v for k, v in obj.items() if k != "bbox"}
        geo.parse(result)
        result[REQL_TYPE] = "GEOMETRY"
        return result


@term(T.TO_GEOJSON, arity=(1, 1))
class ToGeojsonTerm(Term):
    def eval(self, scope: Scope) -> dict:
        g = self.arg(scope, 0, geo.as_geometry)
        return {k: v for k, v in g.items() if k != REQL_TYPE}


@term(T.DISTANCE, arity=(2, 2), optargs=("geo_system", "unit"))
class DistanceTerm(GeoTerm):
    def eval(self, scope: Scope) -> int | float:
        g1 = self.arg(scope, 0, geo.as_geometry)
        g2 = self.arg(scope, 1, geo.as_geometry)
        e = geo_system(self, scope)
        factor = unit(self, scope)
        # At least one side must be a point; RethinkDB measures from it.
        if values.as_string(geo.get_field(g1, "type")) != "Point":
            g1, g2 = g2, g1
        point = geo.parse(g1)
        if point.kind != "Point":
            raise ReqlQueryLogicError(
                f"Expected geometry of type `Point` but found `{point.kind}`."
            )
        return num(geo.distance(point, geo.parse(g2), e) * (1.0 / factor))


class _GeoFilter(GeoTerm):
    """INTERSECTS / INCLUDES: on a geometry a boolean, on a sequence a filter by it."""

    def test(self, first: geo.Shape, other: geo.Shape) -> bool:  # pragma: no cover
        raise NotImplementedError

    def first_shape(self, g: Any) -> geo.Shape:
        return geo.shape_of(g)

    def eval(self, scope: Scope) -> Any:
        src = self.args[0].run(scope)
        # as_ptype(geometry) on the argument's val_t: a non-geometry blames the argument
        other = geo.parse(self.arg(scope, 1, geo.as_geometry))
        if isinstance(src, values.Sequence) or type(src) is list:
            no_recurse = no_recurse_of(self, scope)  # geo_obj_or_seq_op_term_t's optarg
            if no_recurse is not None and truthy(no_recurse()):
                raise ReqlQueryLogicError(f"Cannot perform {self.name} on a sequence of sequences.")
            rows = (row for row in values.iterate(src) if self.test(self.first_shape(row), other))
            if type(src) is list:
                return list(rows)
            if src.table is not None and isinstance(src, values.Selection | values.TableValue):
                return values.Selection(src.table, rows)
            return values.Stream(rows)
        return self.test(self.first_shape(src), other)


@term(T.INTERSECTS, arity=(2, 2), optargs=NO_RECURSE)
class IntersectsTerm(_GeoFilter):
    name = "intersects"

    def test(self, first: geo.Shape, other: geo.Shape) -> bool:
        return pred.intersects(first, other)


@term(T.INCLUDES, arity=(2, 2), optargs=NO_RECURSE)
class IncludesTerm(_GeoFilter):
    name = "includes"

    def first_shape(self, g: Any) -> geo.Shape:
        shape = geo.shape_of(g)
        if shape.kind != "Polygon":
            raise ReqlQueryLogicError(
                f"Expected geometry of type `Polygon` but found `{shape.kind}`."
            )
        return shape

    def test(self, first: geo.Shape, other: geo.Shape) -> bool:
        return pred.includes(first, other)


@term(T.FILL, arity=(1, 1))
class FillTerm(GeoTerm):
    def eval(self, scope: Scope) -> dict:
        g = self.arg(scope, 0, geo.as_geometry)
        kind = values.as_string(geo.get_field(g, "type"))
        if kind != "LineString":
            raise ReqlQueryLogicError(f"Expected geometry of type `LineString` but found `{kind}`.")
        shell = [geo.point_arg(c) for c in values.as_array(geo.get_field(g, "coordinates"))]
        result = geo.make_polygon(shell)
        geo.parse(result)
        return result


@term(T.POLYGON_SUB, arity=(2, 2))
class PolygonSubTerm(GeoTerm):
    def eval(self, scope: Scope) -> dict:
        outer = self._polygon(self.args[0], scope)
        inner = self._polygon(self.args[1], scope)
        if not pred.includes(geo.parse(outer), geo.parse(inner)):
            raise ReqlQueryLogicError(
                "The second argument to `polygon_sub` is not contained in the first one."
            )
        coords = list(outer["coordinates"]) + [inner["coordinates"][0]]
        result = {REQL_TYPE: "GEOMETRY", "type": "Polygon", "coordinates": coords}
        geo.parse(result)
        return result

    @staticmethod
    def _polygon(node: Term, scope: Scope) -> dict:
        g = node.run(scope)
        try:
            g = geo.as_geometry(g)
            kind = values.as_string(geo.get_field(g, "type"))
            if kind != "Polygon":
                raise ReqlQueryLogicError(f"Expected a Polygon but found a {kind}.")
            if len(values.as_array(geo.get_field(g, "coordinates"))) > 1:
                raise ReqlQueryLogicError(
                    "Expected a Polygon with only an outer shell.  This one has holes."
                )
        except ReqlQueryLogicError as err:
            err.frames = list(node.frames)  # RethinkDB blames the offending argument
            raise
        return g
