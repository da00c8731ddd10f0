"""Longitude / latitude boxes around geometries and around ``get_nearest``'s search disk.

The geo index prefilter (``storage.geo_cells``) files each geometry under the grid cells
its box meets, and a query reads only the cells its own box meets. That is exact only if a
box holds every point the predicates can count as part of the shape, so a box is the union
of: the planar shape the predicates test with (``terms.geo_predicates.planar``: the
unwrapped longitudes of its vertices bound it), the exact latitude range of each great-circle edge (an edge bulges
towards a pole beyond its vertices), and a small margin for rounding. A box that reaches a
pole, or an edge through one, covers every longitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import Ellipsoid
from .sphere import LonLat, Shape, Vec, s2_point, unwrapped

MARGIN = 1e-6  # degrees: S2 rounding and the planar chords' tolerance are far below this
POLAR = 90.0 - MARGIN  # a box reaching this latitude covers every longitude
_RAD = 180.0 / math.pi


@dataclass(frozen=True)
class Box:
    """Latitudes ``[lat_lo, lat_hi]`` and longitudes ``[lon_lo, lon_hi]`` (unwrapped: the
    interval may pass the antimeridian, e.g. 170..190); ``lon_lo=-180, lon_hi=180`` is the
    whole circle."""

    lon_lo: float
    lon_hi: float
    lat_lo: float
    lat_hi: float

    def lon_intervals(self) -> list[tuple[float, float]]:
        """The longitude range as at most two intervals within [-180, 180]."""
        lo, hi = self.lon_lo, self.lon_hi
        if hi - lo >= 360.0:
            return [(-180.0, 180.0)]
        shift = 360.0 * math.floor((lo + 180.0) / 360.0)
        lo, hi = lo - shift, hi - shift  # now -180 <= lo < 180
        if hi <= 180.0:
            return [(lo, hi)]
        return [(lo, 180.0), (-180.0, hi - 360.0)]


WORLD = Box(-180.0, 180.0, -90.0, 90.0)


def _box(lon_lo: float, lon_hi: float, lat_lo: float, lat_hi: float, pad: float) -> Box:
    lat_lo, lat_hi = max(lat_lo - pad, -90.0), min(lat_hi + pad, 90.0)
    if lat_lo <= -POLAR or lat_hi >= POLAR or lon_hi - lon_lo + 2 * pad >= 360.0:
        return Box(-180.0, 180.0, lat_lo, lat_hi)
    return Box(lon_lo - pad, lon_hi + pad, lat_lo, lat_hi)


def _edge_lat_range(a: Vec, b: Vec) -> tuple[float, float]:
    """Latitude range (degrees) of the great-circle arc from ``a`` to ``b``."""
    lo = min(a[2], b[2])
    hi = max(a[2], b[2])
    n = (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
    nn = n[0] * n[0] + n[1] * n[1] + n[2] * n[2]
    if nn > 0.0:
        # The highest point of the whole circle: the pole direction minus its part along n.
        k = n[2] / nn
        m = (-k * n[0], -k * n[1], 1.0 - k * n[2])
        for s in (1.0, -1.0):  # the highest and the lowest point
            p = (s * m[0], s * m[1], s * m[2])
            if _between(a, p, b, n):
                z = s * math.sqrt(max(0.0, 1.0 - n[2] * n[2] / nn))
                lo, hi = min(lo, z), max(hi, z)
    return _RAD * math.asin(max(-1.0, lo)), _RAD * math.asin(min(1.0, hi))


def _between(a: Vec, p: Vec, b: Vec, n: Vec) -> bool:
    """Whether ``p`` (on the circle with normal ``n``) lies on the minor arc ``a``..``b``."""

    def side(u: Vec, v: Vec) -> float:
        c = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
        return c[0] * n[0] + c[1] * n[1] + c[2] * n[2]

    return side(a, p) >= 0.0 and side(p, b) >= 0.0


def shape_box(shape: Shape) -> Box:
    """A box holding every point where ``shape`` can meet another geometry."""
    if shape.kind == "Point":
        lon, lat = shape.points[0]
        return _box(lon, lon, lat, lat, MARGIN)
    if shape.kind == "Polygon" and not shape.rings:
        return WORLD  # the empty polygon: distance 0 from everything (geometry.distance)
    # The planar shape's longitudes lie within its unwrapped vertices' (a great-circle arc's
    # longitude is monotonic unless it passes a pole, and then the box is all longitudes),
    # so the vertices bound it without densifying the edges as the predicates must.
    if shape.kind == "LineString":
        paths = [unwrapped(shape.points, False)]
    else:
        paths = [unwrapped(ring, True) for ring in shape.rings]
    lons = [p[0] for path in paths for p in path]
    lats = [p[1] for path in paths for p in path]
    lon_lo, lon_hi, lat_lo, lat_hi = min(lons), max(lons), min(lats), max(lats)
    for a, b in shape.edges():
        lo, hi = _edge_lat_range(a, b)
        lat_lo, lat_hi = min(lat_lo, lo), max(lat_hi, hi)
    return _box(lon_lo, lon_hi, lat_lo, lat_hi, MARGIN)


def disk_box(center: LonLat, radius: float, e: Ellipsoid) -> Box:
    """A box holding every point within geodesic distance ``radius`` of ``center``.

    Along any path, latitude changes at most by distance / (smallest meridional radius of
    curvature, b^2/a at the equator), and longitude by distance / (the radius of the
    smallest parallel the path can reach).
    """
    x = s2_point(center)
    lon = _RAD * math.atan2(x[1], x[0])
    lat = _RAD * math.atan2(x[2], math.sqrt(x[0] * x[0] + x[1] * x[1]))
    d = radius * (1.0 + 1e-6)  # geodesic distances are computed to about 1e-9 relative
    b = e.b
    dlat = _RAD * d * e.a / (b * b) if b > 0.0 else 360.0
    lat_lo, lat_hi = lat - dlat, lat + dlat
    if lat_lo <= -POLAR or lat_hi >= POLAR:
        return _box(lon, lon, lat_lo, lat_hi, MARGIN)  # the disk may hold a pole
    phi = max(abs(lat_lo), abs(lat_hi)) / _RAD
    e2 = e.f * (2.0 - e.f)
    parallel = e.a * math.cos(phi) / math.sqrt(1.0 - e2 * math.sin(phi) ** 2)
    dlon = _RAD * d / parallel
    if dlon >= 180.0:
        return _box(-180.0, 180.0, lat_lo, lat_hi, MARGIN)
    return _box(lon - dlon, lon + dlon, lat_lo, lat_hi, MARGIN)
