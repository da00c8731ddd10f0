"""GEOMETRY values: GeoJSON validation, construction, and the S2-style point arithmetic.

A GEOMETRY datum stays in its wire form (``{"$reql_type$": "GEOMETRY", "type": "Point",
"coordinates": [lon, lat]}``); :func:`parse` validates one with RethinkDB's messages and
returns a :class:`Shape` that the predicates (``terms.geo_predicates``) work on.

RethinkDB computes with Google's S2 library: vertices are unit vectors on the sphere and
edges are great-circle arcs. Where a result must match RethinkDB to the last bit (the
closest point of a line to a point, hence ``distance``), this module repeats S2's
floating-point steps in the same order. Geodesic lengths on the ellipsoid come from
``geographiclib`` (Karney's algorithms, the ones RethinkDB ships).
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Any

import geographiclib.geodesic
import geographiclib.geodesicline
import geographiclib.geomath
import orjson
from geographiclib.geodesic import Geodesic

from ...datum import REQL_TYPE, num
from ...datum.jsonfmt import pretty
from ...errors import ReqlNonExistenceError, ReqlQueryLogicError
from ..runtime import values
from .predicates import polygon_contains_point, ring_is_simple, rings_are_valid
from .sphere import LonLat, Shape, project, s2_point, to_lonlat

_UNSUPPORTED = (
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "GeometryCollection",
    "Feature",
    "FeatureCollection",
)
_FIELDS = frozenset({"coordinates", "type", "crs", REQL_TYPE})

UNITS = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "nm": 1852.0, "ft": 0.3048}


def fmt(x: float) -> str:
    """C's ``%.20g``, how RethinkDB prints doubles in geo messages."""
    return f"{x:.20g}"


# -- Karney's geodesics, rounded as RethinkDB's copy rounds them ------------------------------


def _c_log1p(x: float) -> float:
    y = 1 + x
    z = y - 1
    return x if z == 0 else x * math.log(y) / z


def _c_atanh(x: float) -> float:
    y = _c_log1p(2 * abs(x) / (1 - abs(x))) / 2
    return -y if x < 0 else y


def _use_c_rounding() -> None:
    """Make geographiclib's port round like the C code RethinkDB compiled in.

    RethinkDB ships Karney's 2013 C geodesic routines; geographiclib 1.40 (the version the
    project pins) is the Python port of the same algorithm. The C code computes ``hypot``
    as ``sqrt(x*x + y*y)`` (and has its own log1p / atanh), while Python's ``math.hypot``
    is correctly rounded; the last bit of a distance or circle vertex then differs, and
    RethinkDB's tests compare those bits. The port's modules get a ``math`` namespace with
    the C formulas; everything else is the library's own.
    """
    compat = types.SimpleNamespace(**{k: getattr(math, k) for k in dir(math) if k[0] != "_"})
    compat.hypot = lambda x, y: math.sqrt(x * x + y * y)
    compat.log1p = _c_log1p
    compat.atanh = _c_atanh
    for mod in (geographiclib.geodesic, geographiclib.geodesicline, geographiclib.geomath):
        if getattr(mod, "math", None) is math:
            mod.math = compat


_use_c_rounding()


# -- ellipsoids and units ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ellipsoid:
    a: float  # equator radius
    f: float  # flattening

    @property
    def b(self) -> float:
        return self.a * (1.0 - self.f)

    def geodesic(self) -> Geodesic:
        return _geodesic(self.a, self.f)


_GEODESICS: dict[tuple[float, float], Geodesic] = {}


def _geodesic(a: float, f: float) -> Geodesic:
    g = _GEODESICS.get((a, f))
    if g is None:
        g = _GEODESICS[(a, f)] = Geodesic(a, f)
    return g


WGS84 = Ellipsoid(6378137.0, 1.0 / 298.257223563)
UNIT_SPHERE = Ellipsoid(1.0, 0.0)


def ellipsoid(spec: Any) -> Ellipsoid:
    """The ``geo_system`` optarg: "WGS84", "unit_sphere" or ``{a, f}``."""
    if spec is None:
        return WGS84
    if type(spec) is dict and REQL_TYPE not in spec:
        a = values.as_number(get_field(spec, "a"))
        f = values.as_number(get_field(spec, "f"))
        if not a > 0.0:
            raise ReqlQueryLogicError("The equator radius `a` must be positive.")
        if not 0.0 <= f < 1.0:
            raise ReqlQueryLogicError("The flattening `f` must be in the range [0, 1).")
        return Ellipsoid(float(a), float(f))
    name = values.as_string(spec)
    if name == "WGS84":
        return WGS84
    if name == "unit_sphere":
        return UNIT_SPHERE
    raise ReqlQueryLogicError(
        f'Unrecognized geo system "{name}" (valid options: "WGS84", "unit_sphere").'
    )


def unit_factor(spec: Any) -> float:
    """Metres per ``unit`` (m, km, mi, nm, ft)."""
    if spec is None:
        return 1.0
    name = values.as_string(spec)
    try:
        return UNITS[name]
    except KeyError:
        raise ReqlQueryLogicError(f"Unrecognized distance unit `{name}`.") from None


def get_field(obj: dict, name: str) -> Any:
    try:
        return obj[name]
    except KeyError:
        raise ReqlNonExistenceError(f"No attribute `{name}` in object:\n{pretty(obj)}") from None


def as_geometry(v: Any) -> dict:
    """A GEOMETRY datum argument, or RethinkDB's pseudotype error."""
    v = values.to_datum(v)
    if type(v) is dict and v.get(REQL_TYPE) == "GEOMETRY":
        return v
    raise ReqlQueryLogicError(f"Not a GEOMETRY pseudotype: `{pretty(v)}`.")


def _position(pos: Any) -> LonLat:
    arr = values.as_array(pos)
    n = len(arr)
    if n < 2:
        raise ReqlQueryLogicError("Too few coordinates.  Need at least longitude and latitude.")
    if n > 3:
        raise ReqlQueryLogicError(
            "Too many coordinates.  GeoJSON position should have no more than three "
            f"coordinates, but got {n}."
        )
    if n == 3:
        raise ReqlQueryLogicError(
            "A third altitude coordinate in GeoJSON positions was found, but is not supported."
        )
    lon = float(values.as_number(arr[0]))
    lat = float(values.as_number(arr[1]))
    if not -180.0 <= lon <= 180.0:
        raise ReqlQueryLogicError(f"Longitude must be between -180 and 180.  Got {fmt(lon)}.")
    if not -90.0 <= lat <= 90.0:
        raise ReqlQueryLogicError(f"Latitude must be between -90 and 90.  Got {fmt(lat)}.")
    return (lon, lat)


def _line(coords: Any) -> list[LonLat]:
    arr = values.as_array(coords)
    if len(arr) < 2:
        raise ReqlQueryLogicError("GeoJSON LineString must have at least two positions.")
    pts = [_position(c) for c in arr]
    vs = [s2_point(p) for p in pts]
    for i in range(1, len(vs)):
        a, b = vs[i - 1], vs[i]
        if a == b or a == (-b[0], -b[1], -b[2]):
            raise ReqlQueryLogicError(
                "Invalid LineString.  Are there antipodal or duplicate vertices?"
            )
    return pts


def _ring(coords: Any) -> list[LonLat]:
    arr = values.as_array(coords)
    if len(arr) < 4:
        raise ReqlQueryLogicError("GeoJSON LinearRing must have at least four positions.")
    pts = [_position(c) for c in arr]
    if s2_point(pts[0]) != s2_point(pts[-1]):
        raise ReqlQueryLogicError("First and last vertex of GeoJSON LinearRing must be identical.")
    pts.pop()
    keys = [s2_point(p) for p in pts]
    if len(set(keys)) != len(keys) or not ring_is_simple(pts):
        raise ReqlQueryLogicError(
            "Invalid LinearRing.  Are there antipodal or duplicate vertices? "
            "Is it self-intersecting?"
        )
    return pts


def _same_ring(a: list[LonLat], b: list[LonLat]) -> bool:
    """Whether two open rings are the same cycle of vertices, in either direction."""
    if len(a) != len(b) or not a:
        return False
    ka, kb = [s2_point(p) for p in a], [s2_point(p) for p in b]
    if ka[0] not in kb:
        return False
    i = kb.index(ka[0])
    fwd = kb[i:] + kb[:i]
    rev = list(reversed(kb))
    j = rev.index(ka[0])
    return ka == fwd or ka == rev[j:] + rev[:j]


def _polygon(coords: Any) -> list[list[LonLat]]:
    rings = [_ring(c) for c in values.as_array(coords)]
    # S2PolygonBuilder in DIRECTED_XOR mode cancels a hole identical to the shell.
    if len(rings) >= 2:
        for i in range(1, len(rings)):
            if _same_ring(rings[0], rings[i]):
                rings = rings[1:i] + rings[i + 1 :]
                break
    if rings and not rings_are_valid(rings):
        raise ReqlQueryLogicError(
            "Some edges in GeoJSON polygon could not be used.  Are they intersecting?"
        )
    return rings


# Lines and polygons are costly to validate (their edges are densified to test for
# self-intersection), and a write parses each one more than once (the index function, the geo
# index's cells): the last few hundred parsed are kept. Shapes are never mutated (their
# ``_cache`` only memoises pure derivations), so sharing one is safe.
_PARSED: dict[bytes, Shape] = {}
_PARSED_MAX = 256


def parse(g: dict) -> Shape:
    """Validate a GeoJSON / GEOMETRY object as RethinkDB does and return its Shape."""
    if g.get("type") == "Point":
        return _parse(g)
    try:
        key = orjson.dumps(g, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON (a malformed argument): no caching, _parse reports it
        return _parse(g)
    shape = _PARSED.get(key)
    if shape is None:
        shape = _parse(g)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = shape
    return shape


def _parse(g: dict) -> Shape:
    crs = g.get("crs")
    if crs is not None:
        raise ReqlQueryLogicError(
            "Non-default coordinate reference systems are not supported in GeoJSON objects.  "
            "Make sure the `crs` field of the geometry is null or non-existent."
        )
    kind = values.as_string(get_field(g, "type"))
    coords = get_field(g, "coordinates")
    if kind == "Point":
        shape = Shape(kind, points=[_position(coords)])
    elif kind == "LineString":
        shape = Shape(kind, points=_line(coords))
    elif kind == "Polygon":
        shape = Shape(kind, rings=_polygon(coords))
    elif kind in _UNSUPPORTED:
        raise ReqlQueryLogicError(f"GeoJSON type `{kind}` is not supported.")
    elif kind == "$reql_LatLngRect$":
        raise ReqlQueryLogicError(
            "LatLngRect cannot be generated by a user query.  "
            "The `$reql_LatLngRect$` type is reserved for internal use."
        )
    else:
        raise ReqlQueryLogicError(f"Unrecognized GeoJSON type `{kind}`.")
    for name, value in g.items():
        if name not in _FIELDS:
            raise ReqlQueryLogicError(f"Unrecognized field `{name}` found in geometry object.")
        if name == "coordinates" and type(value) is not list:
            raise values.expected(value, "ARRAY")
    return shape


def shape_of(g: Any) -> Shape:
    """Parse a GEOMETRY argument (checking its pseudotype first)."""
    return parse(as_geometry(g))


# -- construction ------------------------------------------------------------------------------


def _coord(p: LonLat) -> list:
    return [num(p[0]), num(p[1])]


def make_point(lon: float, lat: float) -> dict:
    return {REQL_TYPE: "GEOMETRY", "type": "Point", "coordinates": _coord((lon, lat))}


def make_line(points: list[LonLat]) -> dict:
    return {REQL_TYPE: "GEOMETRY", "type": "LineString", "coordinates": [_coord(p) for p in points]}


def closed(ring: list[LonLat]) -> list[list]:
    coords = [_coord(p) for p in ring]
    if ring and ring[0] != ring[-1]:
        coords.append(coords[0])
    return coords


def make_polygon(shell: list[LonLat]) -> dict:
    return {REQL_TYPE: "GEOMETRY", "type": "Polygon", "coordinates": [closed(shell)]}


def circle_points(center: LonLat, radius: float, n: int, e: Ellipsoid) -> list[LonLat]:
    """``n`` vertices at geodesic distance ``radius`` around ``center``, closed."""
    if radius <= 0.0:
        raise ReqlQueryLogicError("Radius must be positive.")
    max_radius = 0.5 * math.pi * min(e.a, e.b)
    if radius >= max_radius:
        raise ReqlQueryLogicError(
            "Radius must be smaller than a quarter of the circumference along the minor axis "
            f"of the reference ellipsoid.  Got {fmt(radius)}m, but must be smaller than "
            f"{fmt(max_radius)}m."
        )
    g = e.geodesic()
    out: list[LonLat] = []
    for i in range(n):
        azimuth = -180.0 + (360.0 / n * i)
        r = g.Direct(center[1], center[0], azimuth, radius, Geodesic.LATITUDE | Geodesic.LONGITUDE)
        out.append((r["lon2"] + 0.0, r["lat2"] + 0.0))
    if n > 0:
        out.append(out[0])
    return out


def point_arg(v: Any) -> LonLat:
    """A Point geometry or a ``[lon, lat]`` pair (r.line / r.polygon / r.circle arguments)."""
    v = values.to_datum(v)
    if type(v) is dict and v.get(REQL_TYPE) == "GEOMETRY":
        kind = values.as_string(get_field(v, "type"))
        if kind != "Point":
            raise ReqlQueryLogicError(f"Expected geometry of type `Point` but found `{kind}`.")
        return _position(get_field(v, "coordinates"))
    arr = values.as_array(v)
    if len(arr) != 2:
        raise ReqlQueryLogicError(
            "Expected point coordinate pair.  "
            f"Got {len(arr)} element array instead of a 2 element one."
        )
    return (float(values.as_number(arr[0])), float(values.as_number(arr[1])))


# -- distance ----------------------------------------------------------------------------------


def geodesic_distance(p: LonLat, q: LonLat, e: Ellipsoid) -> float:
    return e.geodesic().Inverse(p[1], p[0], q[1], q[0], Geodesic.DISTANCE)["s12"]


def distance(point: Shape, other: Shape, e: Ellipsoid) -> float:
    """Metres from a Point to any shape, as RethinkDB estimates it.

    Lines and polygons: S2 projects the point on the sphere, then the ellipsoidal distance
    to that projection is measured (slightly over-estimating large distances, as upstream).
    """
    x = s2_point(point.points[0])
    ref = to_lonlat(x)
    if other.kind == "Point":
        return geodesic_distance(ref, to_lonlat(s2_point(other.points[0])), e)
    if other.kind == "Polygon":
        if not other.rings or polygon_contains_point(other, point.points[0]):
            return 0.0
    prj = project(x, other.edges())
    if prj == x:
        return 0.0
    return geodesic_distance(ref, to_lonlat(prj), e)
