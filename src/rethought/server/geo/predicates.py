"""``intersects`` / ``includes`` between Shapes, as RethinkDB's S2 code defines them.

Point tests repeat S2's own arithmetic (a point is on a line when S2's projection of it is
the point itself, bit for bit), so they agree with RethinkDB even where rounding makes
them surprising. Tests between lines and polygons use shapely in longitude / latitude
degrees. RethinkDB's edges are great-circle arcs, so each edge is subdivided at great-circle
midpoints until the planar chord is within ``TOL`` degrees of the arc; meridians and the
equator need no subdivision, so points on them stay exactly on the boundary.

Where boundaries touch, the planar model cannot decide as S2 does, so a point or a polygon
within ``NEAR`` degrees of a polygon's boundary is decided by S2's own exact rules
(``geo_s2``): a vertex "on" an edge is on the side its rounded coordinates put it, so two
polygons touching along a stretch of an edge intersect when a vertex of one falls inside
the other that way (upstream's ``[1,1]..[2,2]`` and ``[2,1.1]..[3,1.9]``), polygons sharing
only a vertex, or a whole edge, do not, and a point on an edge is still "in" the polygon
when S2's projection of it is the point itself (polygons are closed for points).
Lines keep the planar rules: a line meets a polygon only along a stretch of positive
length and lies in it when the closed polygon covers it. Known differences: a polygon
containing a pole, or a geometry spanning more than 360 degrees of longitude, is not
modelled; a line exactly along a polygon's edge follows the planar rule, not S2's clipping.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import LineString, Point, Polygon

from . import s2 as geo_s2
from .sphere import LonLat, Shape, project, s2_point, to_vec, unwrapped

_DEG, _RAD = math.pi / 180, 180 / math.pi  # as geometry.to_vec / to_lonlat compute them
TOL = 1e-7  # degrees (about a centimetre) between a chord and its great-circle arc
_MAX_DEPTH = 12
NEAR = 1e-6  # degrees: boundaries closer than this are decided by S2's exact rules


def _arc(a: LonLat, b: LonLat) -> list[LonLat]:
    """Points strictly between ``a`` and ``b`` tracing their great-circle arc: the arc's
    midpoint, then recursively each half's, until a chord's middle is within TOL of the arc's
    (or _MAX_DEPTH halvings).

    A long edge yields thousands of points (polygon validation densifies every edge), so this
    is the recursion made iterative, with ``to_vec`` of each point computed once and carried
    along and ``midpoint`` / ``to_lonlat`` inlined: the same float operations in the same
    order as those functions, so the same points to the last bit.
    """
    out: list[LonLat] = []
    # Segments to trace, last first: (p, p's vector, q, q's vector, depth); q None: emit p.
    todo: list[tuple] = [(a, to_vec(*a), b, to_vec(*b), 0)]
    sqrt, atan2, deg, rad = math.sqrt, math.atan2, _DEG, _RAD
    cos, sin = math.cos, math.sin
    while todo:
        p, pv, q, qv, depth = todo.pop()
        if q is None:
            out.append(p)
            continue
        if depth >= _MAX_DEPTH:
            continue
        x, y, z = pv[0] + qv[0], pv[1] + qv[1], pv[2] + qv[2]  # midpoint(): normalize(a + b)
        n = sqrt(x * x + y * y + z * z)
        if n != 0.0:
            n = 1.0 / n
        x, y, z = n * x, n * y, n * z
        lat = rad * atan2(z, sqrt(x * x + y * y))  # to_lonlat()
        lon = rad * atan2(y, x)
        mid_lon = (p[0] + q[0]) / 2
        lon += 360.0 * round((mid_lon - lon) / 360.0)  # keep longitudes continuous
        if abs(lon - mid_lon) <= TOL and abs(lat - (p[1] + q[1]) / 2) <= TOL:
            continue
        m = (lon, lat)
        phi, theta = lat * deg, lon * deg  # to_vec(*m)
        cosphi = cos(phi)
        mv = (cos(theta) * cosphi, sin(theta) * cosphi, sin(phi))
        todo += ((m, mv, q, qv, depth + 1), (m, None, None, None, 0), (p, pv, m, mv, depth + 1))
    return out


def _path(points: list[LonLat], close: bool) -> list[LonLat]:
    """Unwrapped (continuous longitude), densified vertices of a line or ring."""
    seq = unwrapped(points, close)
    out: list[LonLat] = []
    for i in range(1, len(seq)):
        out.append(seq[i - 1])
        out.extend(_arc(seq[i - 1], seq[i]))
    out.append(seq[0] if close else seq[-1])  # a ring ends on its first vertex as given
    return out


def planar(shape: Shape) -> Any:
    """The shapely geometry approximating ``shape`` (cached on it)."""
    geom = shape._cache.get("planar")
    if geom is None:
        if shape.kind == "Point":
            geom = Point(shape.points[0])
        elif shape.kind == "LineString":
            geom = LineString(_path(shape.points, False))
        elif shape.rings:
            shell, *holes = (_path(r, True) for r in shape.rings)
            geom = Polygon(shell, holes)
        else:
            geom = Polygon()
        shape._cache["planar"] = geom
    return geom


def ring_is_simple(ring: list[LonLat]) -> bool:
    """No self-intersection (S2Loop::IsValid's edge-crossing test)."""
    return bool(shapely.is_simple(shapely.linearrings(_path(ring, True))))


def rings_are_valid(rings: list[list[LonLat]]) -> bool:
    shell, *holes = (_path(r, True) for r in rings)
    return bool(Polygon(shell, holes).is_valid)


def _shifted(a: Any, b: Any) -> list[Any]:
    """``b``, plus copies moved by 360 degrees when either side crosses the antimeridian."""
    if not (a.is_empty or b.is_empty):
        lo = min(a.bounds[0], b.bounds[0])
        hi = max(a.bounds[2], b.bounds[2])
        if lo < -180.0 or hi > 180.0:
            return [b, shapely.affinity.translate(b, 360.0), shapely.affinity.translate(b, -360.0)]
    return [b]


def _any(pred: Any, a: Any, b: Any) -> bool:
    return any(pred(a, c) for c in _shifted(a, b))


def _boundary(shape: Shape) -> Any:
    """The planar polygon's boundary rings (cached on the shape)."""
    geom = shape._cache.get("boundary")
    if geom is None:
        geom = shape._cache["boundary"] = planar(shape).boundary
    return geom


def _vertices(shape: Shape) -> Any:
    """The polygon's vertices, at the planar model's longitudes (cached on the shape)."""
    geom = shape._cache.get("vertices")
    if geom is None:
        pts = [p for ring in shape.rings for p in unwrapped(ring, False)]
        geom = shape._cache["vertices"] = shapely.multipoints(pts)
    return geom


def _near(a: Shape, b: Shape) -> bool:
    """Whether a vertex of polygon ``a`` or ``b`` lies within NEAR degrees of the other's
    boundary: only then can S2's exact answer differ from the planar one (edges that cross
    away from every vertex cross for both)."""

    def close(g: Any, c: Any) -> bool:
        return g.distance(c) <= NEAR

    return _any(close, _vertices(a), _boundary(b)) or _any(close, _vertices(b), _boundary(a))


def polygon_contains_point(poly: Shape, p: LonLat) -> bool:
    """Closed containment of a point (S2Polygon::Project(p) == p)."""
    if not poly.rings:
        return False
    pt = Point(p)
    if not _any(lambda g, c: g.distance(c) <= NEAR, _boundary(poly), pt):
        return _any(lambda g, c: g.covers(c), planar(poly), pt)
    x = s2_point(p)
    if geo_s2.polygon(poly).contains_point(x):
        return True
    return project(x, poly.edges()) == x


def _point_on_line(p: LonLat, line: Shape) -> bool:
    x = s2_point(p)
    return project(x, line.edges()) == x


def intersects(a: Shape, b: Shape) -> bool:
    """RethinkDB's ``intersects``; symmetric."""
    order = ("Point", "LineString", "Polygon")
    if order.index(a.kind) > order.index(b.kind):
        a, b = b, a
    if a.kind == "Point":
        if b.kind == "Point":
            return s2_point(a.points[0]) == s2_point(b.points[0])
        if b.kind == "LineString":
            return _point_on_line(a.points[0], b)
        return polygon_contains_point(b, a.points[0])
    if b.kind == "Polygon" and not b.rings:
        return False
    pa, pb = planar(a), planar(b)
    if a.kind == "LineString" and b.kind == "LineString":
        return _any(lambda g, c: g.intersects(c), pa, pb)
    if a.kind == "LineString":
        return _any(lambda g, c: g.intersection(c).length > 0, pa, pb)
    if not a.rings:
        return False
    if _near(a, b):
        return geo_s2.polygon(a).intersects(geo_s2.polygon(b))
    return _any(lambda g, c: g.relate_pattern(c, "2********"), pa, pb)


def includes(poly: Shape, g: Shape) -> bool:
    """RethinkDB's ``includes``: ``g`` lies in the (closed) polygon ``poly``."""
    if g.kind == "Point":
        return polygon_contains_point(poly, g.points[0])
    if not poly.rings:
        return False
    pa = planar(poly)
    if g.kind == "LineString":
        return _any(lambda a, c: a.covers(c), pa, planar(g))
    if not g.rings:
        return True
    if _near(poly, g):
        return geo_s2.polygon(poly).contains(geo_s2.polygon(g))
    return _any(lambda a, c: a.covers(c), pa, planar(g))
