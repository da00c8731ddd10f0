"""Points on the sphere as S2 computes them: positions, unit vectors, the great-circle
arithmetic on them, and ``Shape`` (a validated geometry). The rest of ``server.geo`` builds on
this module: S2's exact predicates (``s2``), the planar predicates, GeoJSON parsing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Vec = tuple[float, float, float]
LonLat = tuple[float, float]


# -- S2 point arithmetic (same operations, same order as S2) -----------------------------------

_DEG = math.pi / 180
_RAD = 180 / math.pi


def to_vec(lon: float, lat: float) -> Vec:
    """S2LatLng::FromDegrees(lat, lon).ToPoint()."""
    phi = lat * _DEG
    theta = lon * _DEG
    cosphi = math.cos(phi)
    return (math.cos(theta) * cosphi, math.sin(theta) * cosphi, math.sin(phi))


def to_lonlat(p: Vec) -> LonLat:
    """S2LatLng::Longitude / Latitude of a point, in degrees."""
    lat = math.atan2(p[2], math.sqrt(p[0] * p[0] + p[1] * p[1]))
    lon = math.atan2(p[1], p[0])
    return (_RAD * lon, _RAD * lat)


def _cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _add(a: Vec, b: Vec) -> Vec:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _scale(s: float, a: Vec) -> Vec:
    return (s * a[0], s * a[1], s * a[2])


def normalize(a: Vec) -> Vec:
    n = math.sqrt(_dot(a, a))
    if n != 0.0:
        n = 1.0 / n
    return _scale(n, a)


def _ortho(a: Vec) -> Vec:
    # S2::Ortho: a vector orthogonal to a, chosen from its largest component.
    k = max(range(3), key=lambda i: abs(a[i])) - 1
    k %= 3
    tmp = [0.012, 0.0053, 0.00457]
    tmp[k] = 1.0
    return normalize(_cross(a, (tmp[0], tmp[1], tmp[2])))


def _robust_cross(a: Vec, b: Vec) -> Vec:
    x = _cross(_add(b, a), _sub(b, a))
    if x != (0.0, 0.0, 0.0):
        return x
    return _ortho(a)


def _simple_ccw(a: Vec, b: Vec, c: Vec) -> bool:
    return _dot(_cross(c, a), b) > 0


def _edge_distance(x: Vec, a: Vec, b: Vec) -> float:
    """S2EdgeUtil::GetDistance, in radians."""
    n = _robust_cross(a, b)
    if _simple_ccw(n, a, x) and _simple_ccw(x, b, n):
        sin_dist = abs(_dot(x, n)) / math.sqrt(_dot(n, n))
        return math.asin(min(1.0, sin_dist))
    d2 = min(_dot(_sub(x, a), _sub(x, a)), _dot(_sub(x, b), _sub(x, b)))
    return 2 * math.asin(min(1.0, 0.5 * math.sqrt(d2)))


def _closest_point(x: Vec, a: Vec, b: Vec) -> Vec:
    """S2EdgeUtil::GetClosestPoint."""
    n = _robust_cross(a, b)
    p = _sub(x, _scale(_dot(x, n) / _dot(n, n), n))
    if _simple_ccw(n, a, p) and _simple_ccw(p, b, n):
        return normalize(p)
    xa, xb = _sub(x, a), _sub(x, b)
    return a if _dot(xa, xa) <= _dot(xb, xb) else b


def project(x: Vec, edges: list[tuple[Vec, Vec]]) -> Vec:
    """The point of ``edges`` closest to ``x`` (S2Polyline / S2Polygon ``Project``)."""
    best, best_d = edges[0], 10.0
    for e in edges:
        d = _edge_distance(x, e[0], e[1])
        if d < best_d:
            best, best_d = e, d
    return _closest_point(x, best[0], best[1])


def midpoint(a: Vec, b: Vec) -> Vec:
    """The middle of the great-circle arc from ``a`` to ``b``."""
    return normalize(_add(a, b))


# -- shapes ------------------------------------------------------------------------------------


@dataclass
class Shape:
    """A validated geometry: ``points`` for Point / LineString, ``rings`` for a Polygon.

    Rings are open (no repeated closing vertex), shell first; ``rings == []`` is the empty
    polygon RethinkDB builds when a hole cancels its shell (``polygon_sub`` of itself).
    """

    kind: str
    points: list[LonLat] = field(default_factory=list)
    rings: list[list[LonLat]] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    def edges(self) -> list[tuple[Vec, Vec]]:
        """Great-circle edges as unit-vector pairs (closing edges included for rings)."""
        out = []
        if self.kind == "Polygon":
            for ring in self.rings:
                vs = [s2_point(p) for p in ring]
                out.extend((vs[i], vs[(i + 1) % len(vs)]) for i in range(len(vs)))
        else:
            vs = [s2_point(p) for p in self.points]
            out.extend((vs[i - 1], vs[i]) for i in range(1, len(vs)))
        return out


def s2_point(p: LonLat) -> Vec:
    """The S2 unit vector of a position (S2 maps longitude 180 to -180 first)."""
    return to_vec(-180.0 if p[0] == 180.0 else p[0], p[1])


def unwrapped(points: list[LonLat], close: bool) -> list[LonLat]:
    """The vertices of a line or ring with continuous longitudes (a ring's first vertex
    repeated at the end, continuing from the last)."""
    pts = [points[0]]
    for p in points[1:]:
        prev = pts[-1][0]
        pts.append((p[0] + 360.0 * round((prev - p[0]) / 360.0), p[1]))
    if close:
        first, last = pts[0], pts[-1]
        pts.append((first[0] + 360.0 * round((last[0] - first[0]) / 360.0), first[1]))
    return pts
