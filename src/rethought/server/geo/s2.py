"""S2's exact loop and polygon predicates, for geometries whose boundaries touch.

RethinkDB decides ``intersects`` / ``includes`` between polygons with S2 (``S2Polygon::
Intersects`` / ``Contains``, ``S2Loop``'s edge-crossing tests). S2's orientation test is
exact: the sign of the determinant of three unit vectors, computed without rounding, and
when it is exactly zero a *symbolic perturbation* ("simulation of simplicity") decides. So
a vertex lying "on" another polygon's edge is, to S2, strictly on one side of it, as its
rounded coordinates put it; two polygons touching along an edge intersect exactly when one
polygon's vertex falls inside the other that way, and polygons sharing a vertex or an edge
are resolved by the order of the edges around the shared vertex (the wedge tests).

This module implements those rules on :class:`geometry.Shape` rings (the planar model in
``terms.geo_predicates`` answers whenever the boundaries are apart; see there):

- ``ccw``: S2::RobustCCW (float triage, then exact rationals, then the perturbation);
- edge crossings (RobustCrossing / VertexCrossing / EdgeOrVertexCrossing) and wedges;
- latitude / longitude bounds as S2EdgeUtil::RectBounder builds them (S2 rejects on them
  before testing edges, and a vertex one ulp outside a bound counts as outside);
- ``Loop``: point containment by counting crossings from S2::Origin(), Contains /
  Intersects / ContainsOrCrosses of loops; ``Polygon``: shells and holes as S2Polygon.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .sphere import LonLat, Shape, Vec, normalize, s2_point, unwrapped

MAX_DET_ERROR = 0.8e-15  # S2::kMaxDetError
PI = math.pi
HALF_PI = math.pi / 2


def _cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def ortho(a: Vec) -> Vec:
    """S2::Ortho."""
    k = max(range(3), key=lambda i: abs(a[i])) - 1  # first largest |component|, as S2
    if k < 0:
        k = 2
    tmp = [0.012, 0.0053, 0.00457]
    tmp[k] = 1.0
    return normalize(_cross(a, (tmp[0], tmp[1], tmp[2])))


ORIGIN = normalize((0.00457, 1.0, 0.0321))  # S2::Origin()


def _sgn(x: Fraction | float) -> int:
    return (x > 0) - (x < 0)


def _perturbed(a: tuple, b: tuple, c: tuple, bc: tuple) -> int:
    """SymbolicallyPerturbedCCW: the points sorted, their exact determinant zero."""
    for v in (bc[2], bc[1], bc[0]):
        if v:
            return _sgn(v)
    for v in (c[0] * a[1] - c[1] * a[0], c[0], -c[1], c[2] * a[0] - c[0] * a[2], c[2]):
        if v:
            return _sgn(v)
    for v in (a[0] * b[1] - a[1] * b[0], -b[0], b[1], a[0]):
        if v:
            return _sgn(v)
    return 1


def _expensive_ccw(a: Vec, b: Vec, c: Vec) -> int:
    if a == b or b == c or c == a:
        return 0
    perm = 1
    pa, pb, pc = a, b, c
    if pa > pb:
        pa, pb, perm = pb, pa, -perm
    if pb > pc:
        pb, pc, perm = pc, pb, -perm
    if pa > pb:
        pa, pb, perm = pb, pa, -perm
    xa = tuple(Fraction(v) for v in pa)
    xb = tuple(Fraction(v) for v in pb)
    xc = tuple(Fraction(v) for v in pc)
    bc = (
        xb[1] * xc[2] - xb[2] * xc[1],
        xb[2] * xc[0] - xb[0] * xc[2],
        xb[0] * xc[1] - xb[1] * xc[0],
    )
    det = xa[0] * bc[0] + xa[1] * bc[1] + xa[2] * bc[2]
    sign = _sgn(det) or _perturbed(xa, xb, xc, bc)
    return perm * sign


def ccw(a: Vec, b: Vec, c: Vec) -> int:
    """S2::RobustCCW: +1 / -1, 0 only when two of the points are equal."""
    det = _dot(_cross(a, b), c)
    if det > MAX_DET_ERROR:
        return 1
    if det < -MAX_DET_ERROR:
        return -1
    return _expensive_ccw(a, b, c)


def ordered_ccw(a: Vec, b: Vec, c: Vec, o: Vec) -> bool:
    """S2::OrderedCCW: a, b, c in counter-clockwise order around o."""
    n = 0
    if ccw(b, o, a) >= 0:
        n += 1
    if ccw(c, o, b) >= 0:
        n += 1
    if ccw(a, o, c) > 0:
        n += 1
    return n >= 2


def robust_crossing(a: Vec, b: Vec, c: Vec, d: Vec) -> int:
    """S2EdgeUtil::RobustCrossing: 1 proper crossing, 0 shared vertex, -1 none."""
    acb = -ccw(a, b, c)
    bda = ccw(a, b, d)
    if bda == -acb and bda != 0:
        return -1
    if (bda & acb) == 0:
        return 0
    cbd = -ccw(c, d, b)
    if cbd != acb:
        return -1
    dac = ccw(c, d, a)
    return 1 if dac == acb else -1


def vertex_crossing(a: Vec, b: Vec, c: Vec, d: Vec) -> bool:
    if a == b or c == d:
        return False
    if a == d:
        return ordered_ccw(ortho(a), c, b, a)
    if b == c:
        return ordered_ccw(ortho(b), d, a, b)
    if a == c:
        return ordered_ccw(ortho(a), d, b, a)
    if b == d:
        return ordered_ccw(ortho(b), c, a, b)
    return False


def edge_or_vertex_crossing(a: Vec, b: Vec, c: Vec, d: Vec) -> bool:
    crossing = robust_crossing(a, b, c, d)
    if crossing < 0:
        return False
    if crossing > 0:
        return True
    return vertex_crossing(a, b, c, d)


def wedge_contains(a0: Vec, ab1: Vec, a2: Vec, b0: Vec, b2: Vec) -> bool:
    return ordered_ccw(a2, b2, b0, ab1) and ordered_ccw(b0, a0, a2, ab1)


def wedge_intersects(a0: Vec, ab1: Vec, a2: Vec, b0: Vec, b2: Vec) -> bool:
    return not (ordered_ccw(a0, b2, b0, ab1) and ordered_ccw(b0, a2, a0, ab1))


EQUALS, PROPERLY_CONTAINS, IS_PROPERLY_CONTAINED, PROPERLY_OVERLAPS, IS_DISJOINT = range(5)


def wedge_relation(a0: Vec, ab1: Vec, a2: Vec, b0: Vec, b2: Vec) -> int:
    if a0 == b0 and a2 == b2:
        return EQUALS
    if ordered_ccw(a0, a2, b2, ab1):
        if ordered_ccw(b2, b0, a0, ab1):
            return PROPERLY_CONTAINS
        return IS_PROPERLY_CONTAINED if a2 == b2 else PROPERLY_OVERLAPS
    if ordered_ccw(a0, b0, b2, ab1):
        return IS_PROPERLY_CONTAINED
    return IS_DISJOINT if ordered_ccw(a0, b0, a2, ab1) else PROPERLY_OVERLAPS


# -- bounds: S1Interval (longitude, may wrap), R1 latitude, S2LatLngRect ----------------------


def _pos_dist(a: float, b: float) -> float:
    d = b - a
    if d >= 0:
        return d
    return (b + PI) - (a - PI)


class S1:
    __slots__ = ("lo", "hi")

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    @staticmethod
    def empty() -> S1:
        return S1(PI, -PI)

    @staticmethod
    def full() -> S1:
        return S1(-PI, PI)

    @staticmethod
    def pair(p1: float, p2: float) -> S1:
        if p1 == -PI:
            p1 = PI
        if p2 == -PI:
            p2 = PI
        return S1(p1, p2) if _pos_dist(p1, p2) <= PI else S1(p2, p1)

    def inverted(self) -> bool:
        return self.lo > self.hi

    def is_empty(self) -> bool:
        return self.lo - self.hi == 2 * PI

    def is_full(self) -> bool:
        return self.hi - self.lo == 2 * PI

    def length(self) -> float:
        n = self.hi - self.lo
        if n >= 0:
            return n
        n += 2 * PI
        return n if n > 0 else -1.0

    def fast_contains(self, p: float) -> bool:
        if self.inverted():
            return (p >= self.lo or p <= self.hi) and not self.is_empty()
        return self.lo <= p <= self.hi

    def contains(self, p: float) -> bool:
        if p == -PI:
            p = PI
        return self.fast_contains(p)

    def contains_interval(self, y: S1) -> bool:
        if self.inverted():
            if y.inverted():
                return y.lo >= self.lo and y.hi <= self.hi
            return (y.lo >= self.lo or y.hi <= self.hi) and not self.is_empty()
        if y.inverted():
            return self.is_full() or y.is_empty()
        return y.lo >= self.lo and y.hi <= self.hi

    def intersects(self, y: S1) -> bool:
        if self.is_empty() or y.is_empty():
            return False
        if self.inverted():
            return y.inverted() or y.lo <= self.hi or y.hi >= self.lo
        if y.inverted():
            return y.lo <= self.hi or y.hi >= self.lo
        return y.lo <= self.hi and y.hi >= self.lo

    def union(self, y: S1) -> S1:
        if y.is_empty():
            return self
        if self.fast_contains(y.lo):
            if self.fast_contains(y.hi):
                return self if self.contains_interval(y) else S1.full()
            return S1(self.lo, y.hi)
        if self.fast_contains(y.hi):
            return S1(y.lo, self.hi)
        if self.is_empty() or y.fast_contains(self.lo):
            return y
        if _pos_dist(y.hi, self.lo) < _pos_dist(self.hi, y.lo):
            return S1(y.lo, self.hi)
        return S1(self.lo, y.hi)


class Rect:
    """S2LatLngRect: latitudes [lat_lo, lat_hi] (radians) and a longitude S1 interval."""

    __slots__ = ("lat_lo", "lat_hi", "lng")

    def __init__(self, lat_lo: float, lat_hi: float, lng: S1) -> None:
        self.lat_lo, self.lat_hi, self.lng = lat_lo, lat_hi, lng

    @staticmethod
    def empty() -> Rect:
        return Rect(1.0, 0.0, S1.empty())

    @staticmethod
    def full() -> Rect:
        return Rect(-HALF_PI, HALF_PI, S1.full())

    def lat_empty(self) -> bool:
        return self.lat_lo > self.lat_hi

    def contains_point(self, p: Vec) -> bool:
        lat, lng = latlng(p)
        return self.lat_lo <= lat <= self.lat_hi and self.lng.contains(lng)

    def contains(self, o: Rect) -> bool:
        lat_ok = o.lat_empty() or (o.lat_lo >= self.lat_lo and o.lat_hi <= self.lat_hi)
        return lat_ok and self.lng.contains_interval(o.lng)

    def intersects(self, o: Rect) -> bool:
        if self.lat_lo <= o.lat_lo:
            lat = o.lat_lo <= self.lat_hi and o.lat_lo <= o.lat_hi
        else:
            lat = self.lat_lo <= o.lat_hi and self.lat_lo <= self.lat_hi
        return lat and self.lng.intersects(o.lng)

    def union(self, o: Rect) -> Rect:
        if self.lat_empty():
            lo, hi = o.lat_lo, o.lat_hi
        elif o.lat_empty():
            lo, hi = self.lat_lo, self.lat_hi
        else:
            lo, hi = min(self.lat_lo, o.lat_lo), max(self.lat_hi, o.lat_hi)
        return Rect(lo, hi, self.lng.union(o.lng))


def latlng(p: Vec) -> tuple[float, float]:
    """S2LatLng(p), radians."""
    return math.atan2(p[2], math.sqrt(p[0] * p[0] + p[1] * p[1])), math.atan2(p[1], p[0])


def _robust_cross(a: Vec, b: Vec) -> Vec:
    s = (b[0] + a[0], b[1] + a[1], b[2] + a[2])
    d = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
    x = _cross(s, d)
    return x if x != (0.0, 0.0, 0.0) else ortho(a)


def rect_bound(vertices: list[Vec]) -> Rect:
    """S2EdgeUtil::RectBounder over the closed chain of ``vertices``."""
    bound = Rect.empty()
    prev: Vec | None = None
    prev_ll = (0.0, 0.0)
    for b in [*vertices, vertices[0]]:
        ll = latlng(b)
        if prev is None:
            lng = ll[1] if ll[1] != -PI else PI
            bound = Rect(ll[0], ll[0], S1(lng, lng))
        else:
            pair = Rect(min(prev_ll[0], ll[0]), max(prev_ll[0], ll[0]), S1.pair(prev_ll[1], ll[1]))
            bound = bound.union(pair)
            n = _robust_cross(prev, b)
            direction = _cross(n, (0.0, 0.0, 1.0))
            da, db = _dot(direction, prev), _dot(direction, b)
            if da * db < 0:
                abs_lat = math.acos(abs(n[2] / math.sqrt(_dot(n, n))))
                if da < 0:
                    bound.lat_hi = max(abs_lat, bound.lat_hi)
                else:
                    bound.lat_lo = min(-abs_lat, bound.lat_lo)
                if abs_lat >= HALF_PI - 1e-15:
                    bound.lng = S1.full()
        prev, prev_ll = b, ll
    return bound


# -- loops and polygons --------------------------------------------------------------------------


def _signed_area(ring: list[LonLat]) -> float:
    pts = unwrapped(ring, True)
    return sum(pts[i][0] * pts[i + 1][1] - pts[i + 1][0] * pts[i][1] for i in range(len(pts) - 1))


class Loop:
    """An S2Loop, normalized (counter-clockwise: its interior is the smaller side)."""

    def __init__(self, ring: list[LonLat]) -> None:
        vs = [s2_point(p) for p in ring]
        if _signed_area(ring) < 0:
            vs.reverse()
        self.v = vs
        self.n = len(vs)
        self.vertex_set = set(vs)
        self.origin_inside = False
        self.bound = Rect.full()
        v1_inside = ordered_ccw(ortho(vs[1]), vs[0], vs[2 % self.n], vs[1])
        if v1_inside != self.contains_point(vs[1]):
            self.origin_inside = True
        b = rect_bound(vs)
        if self.contains_point((0.0, 0.0, 1.0)):
            b = Rect(b.lat_lo, HALF_PI, S1.full())
        if b.lng.is_full() and self.contains_point((0.0, 0.0, -1.0)):
            b.lat_lo = -HALF_PI
        self.bound = b

    def vertex(self, i: int) -> Vec:
        return self.v[i % self.n]

    def has_vertex(self, p: Vec) -> bool:
        return p in self.vertex_set

    def contains_point(self, p: Vec) -> bool:
        if not self.bound.contains_point(p):
            return False
        inside = self.origin_inside
        v = self.v
        c = v[0]
        for i in range(1, self.n + 1):
            d = v[i % self.n]
            if edge_or_vertex_crossing(ORIGIN, p, c, d):
                inside = not inside
            c = d
        return inside

    def boundaries_cross(self, b: Loop, wedge) -> bool:
        """S2Loop::AreBoundariesCrossing; ``wedge(a0, ab1, a2, b0, b2)`` returning True
        stops the scan (with False)."""
        for j in range(b.n):
            b0, b1 = b.vertex(j), b.vertex(j + 1)
            for i in range(self.n):
                a0, a1 = self.v[i], self.vertex(i + 1)
                crossing = robust_crossing(b0, b1, a0, a1)
                if crossing < 0:
                    continue
                if crossing > 0:
                    return True
                if a1 == b1 and wedge(a0, a1, self.vertex(i + 2), b0, b.vertex(j + 2)):
                    return False
        return False

    def contains(self, b: Loop) -> bool:
        if not self.bound.contains(b.bound):
            return False
        if not self.contains_point(b.v[0]) and not self.has_vertex(b.v[0]):
            return False
        state = [False]

        def wedge(a0, ab1, a2, b0, b2) -> bool:
            state[0] = not wedge_contains(a0, ab1, a2, b0, b2)
            return state[0]

        if self.boundaries_cross(b, wedge) or state[0]:
            return False
        if self.bound.union(b.bound).lng.is_full():  # and the latitudes, as is_full()
            u = self.bound.union(b.bound)
            if u.lat_lo == -HALF_PI and u.lat_hi == HALF_PI:
                if b.contains_point(self.v[0]) and not b.has_vertex(self.v[0]):
                    return False
        return True

    def intersects(self, b: Loop) -> bool:
        if b.n > self.n:
            return b.intersects(self)
        if not self.bound.intersects(b.bound):
            return False
        if self.contains_point(b.v[0]) and not self.has_vertex(b.v[0]):
            return True
        state = [False]

        def wedge(a0, ab1, a2, b0, b2) -> bool:
            state[0] = wedge_intersects(a0, ab1, a2, b0, b2)
            return state[0]

        if self.boundaries_cross(b, wedge) or state[0]:
            return True
        if b.bound.contains(self.bound):
            if b.contains_point(self.v[0]) and not b.has_vertex(self.v[0]):
                return True
        return False

    def contains_or_crosses(self, b: Loop) -> int:
        if not self.bound.intersects(b.bound):
            return 0
        st = {"cross": False, "a_super": False, "b_super": False, "disjoint": False}

        def wedge(a0, ab1, a2, b0, b2) -> bool:
            rel = wedge_relation(a0, ab1, a2, b0, b2)
            if rel == PROPERLY_OVERLAPS:
                st["cross"] = True
                return True
            st["a_super"] |= rel == PROPERLY_CONTAINS
            st["b_super"] |= rel == IS_PROPERLY_CONTAINED
            if st["a_super"] and st["b_super"]:
                st["cross"] = True
                return True
            st["disjoint"] |= rel == IS_DISJOINT
            return False

        if self.boundaries_cross(b, wedge):
            return -1
        if st["cross"]:
            return -1
        if st["disjoint"] or st["b_super"]:
            return 0
        if not self.bound.contains(b.bound):
            return 0
        if not self.contains_point(b.v[0]) and not self.has_vertex(b.v[0]):
            return 0
        return 1


class Polygon:
    """An S2Polygon of one shell and its holes (depth 0 and 1, in that order)."""

    def __init__(self, shape: Shape) -> None:
        self.loops = [Loop(r) for r in shape.rings]
        self.signs = [1] + [-1] * (len(self.loops) - 1)
        self.has_holes = len(self.loops) > 1
        self.bound = self.loops[0].bound if self.loops else Rect.empty()

    def contains_point(self, p: Vec) -> bool:
        if len(self.loops) == 1:
            return self.loops[0].contains_point(p)
        if not self.bound.contains_point(p):
            return False
        inside = False
        for lp in self.loops:
            inside ^= lp.contains_point(p)
        return inside

    def _contains_or_crosses(self, b: Loop) -> int:
        inside = False
        for lp in self.loops:
            r = lp.contains_or_crosses(b)
            if r < 0:
                return -1
            if r > 0:
                inside = not inside
        return int(inside)

    def _intersects_shell(self, b: Loop) -> bool:
        inside = False
        for lp in self.loops:
            if lp.contains(b):
                inside = not inside
            elif not b.contains(lp) and lp.intersects(b):
                return True
        return inside

    def _intersects_any_shell(self, b: Polygon) -> bool:
        return any(
            s > 0 and self._intersects_shell(lp) for lp, s in zip(b.loops, b.signs, strict=True)
        )

    def intersects(self, b: Polygon) -> bool:
        if not self.loops or not b.loops:
            return False
        if len(self.loops) == 1 and len(b.loops) == 1:
            return self.loops[0].intersects(b.loops[0])
        if not self.bound.intersects(b.bound):
            return False
        return self._intersects_any_shell(b) or b._intersects_any_shell(self)

    def contains(self, b: Polygon) -> bool:
        if len(self.loops) == 1 and len(b.loops) == 1:
            return self.loops[0].contains(b.loops[0])
        if not self.bound.contains(b.bound):
            if not self.bound.lng.union(b.bound.lng).is_full():
                return False
        if not self.has_holes and not b.has_holes:
            return all(any(a.contains(lp) for a in self.loops) for lp in b.loops)
        for lp, s in zip(b.loops, b.signs, strict=True):
            if s > 0 and self._contains_or_crosses(lp) <= 0:
                return False
        for lp, s in zip(self.loops, self.signs, strict=True):
            if s < 0 and b._contains_or_crosses(lp) != 0:
                return False
        return True


def polygon(shape: Shape) -> Polygon:
    """The S2 polygon of a (non-empty) Polygon shape, cached on it."""
    poly = shape._cache.get("s2")
    if poly is None:
        poly = shape._cache["s2"] = Polygon(shape)
    return poly
