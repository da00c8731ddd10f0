"""Geometry edge cases as RethinkDB (S2) decides them, against a real server through our
driver and the official ``rethinkdb`` driver.

Expected values come from RethinkDB's rules (src/rdb_protocol/geo/*.cc and S2), not from
our output:

- a polygon is closed for points: a point on an edge or a corner intersects it and is
  included (S2Polygon::Project(p) == p); a hole's boundary belongs to the polygon;
- polygons are S2 loops: touching along part of an edge (a vertex of one on the other's
  edge) intersects, since S2 puts that vertex strictly inside by its rounded coordinates;
  sharing only a corner, or a whole edge with interiors on opposite sides, does not (the
  wedge tests at the shared vertices); ``includes`` allows shared edges and corners;
- geo index reads emit a row once per matching (primary key, multi-index tag);
- distances are geodesics on the ellipsoid (``unit_sphere``: radians);
- errors: RethinkDB's wording, the optarg blamed where it uses ``rcheck_target``.
"""

from __future__ import annotations

import math

import pytest

from rethought import errors as our_errors

A = [[1, 1], [2, 1], [2, 2], [1, 2]]
HOLE = [[1.1, 1.1], [1.9, 1.1], [1.9, 1.9], [1.1, 1.9]]
WGS84_A = 6378137.0


@pytest.fixture(params=["ours", "official"])
def rc(request, conn, official_conn, official_r):
    """(r, connection) for each driver."""
    if request.param == "ours":
        from rethought import r

        return r, conn
    return official_r, official_conn


def run(rc, build):
    r, c = rc
    return build(r).run(c)


def fails(rc, build, message):
    with pytest.raises(Exception) as info:
        run(rc, build)
    err = info.value
    assert type(err).__name__ == "ReqlQueryLogicError", err
    assert err.message == message
    return err


@pytest.mark.parametrize(
    ("other", "intersects", "included"),
    [
        # touching along part of the edge x=2: the vertices (2, 1.1) / (2, 1.9) are inside
        ([[2, 1.1], [3, 1.1], [3, 1.9], [2, 1.9]], True, False),
        # only the corner (2, 2) in common
        ([[2, 2], [3, 2], [3, 3], [2, 3]], False, False),
        # the whole edge (2,1)-(2,2) in common, interiors on either side
        ([[2, 1], [3, 1], [3, 2], [2, 2]], False, False),
        # inside, sharing the corner (2, 2) and two edges' halves
        ([[1.5, 1.5], [2, 1.5], [2, 2], [1.5, 2]], True, True),
        # the same polygon, and the same vertices in the other direction
        (A, True, True),
        (list(reversed(A)), True, True),
        # crossing, and apart
        ([[1.5, 1.5], [2.5, 1.5], [2.5, 2.5], [1.5, 2.5]], True, False),
        ([[3, 3], [4, 3], [4, 4], [3, 4]], False, False),
    ],
)
def test_polygon_boundaries(rc, other, intersects, included):
    assert run(rc, lambda r: r.polygon(*A).intersects(r.polygon(*other))) is intersects
    assert run(rc, lambda r: r.polygon(*other).intersects(r.polygon(*A))) is intersects
    assert run(rc, lambda r: r.polygon(*A).includes(r.polygon(*other))) is included


@pytest.mark.parametrize(
    ("point", "expected"),
    [((2, 1.5), True), ((2, 2), True), ((1, 1), True), ((1.5, 1.5), True), ((2.5, 1.5), False)],
)
def test_points_on_polygon_boundary(rc, point, expected):
    assert run(rc, lambda r: r.polygon(*A).intersects(r.point(*point))) is expected
    assert run(rc, lambda r: r.polygon(*A).includes(r.point(*point))) is expected
    assert run(rc, lambda r: r.point(*point).intersects(r.polygon(*A))) is expected


def test_lines_and_boundaries(rc):
    # a line along an edge lies in the closed polygon; one leaving from a corner or an edge
    # meets it only in a point, which does not count for lines against polygons
    assert run(rc, lambda r: r.polygon(*A).includes(r.line([2, 1], [2, 2]))) is True
    assert run(rc, lambda r: r.polygon(*A).includes(r.line([2, 1.5], [2, 2]))) is True
    assert run(rc, lambda r: r.polygon(*A).intersects(r.line([2, 2], [3, 3]))) is False
    assert run(rc, lambda r: r.polygon(*A).intersects(r.line([2, 1.5], [3, 3]))) is False
    assert run(rc, lambda r: r.polygon(*A).intersects(r.line([1.5, 1.5], [3, 3]))) is True
    # lines meeting at an end point intersect (S2Polyline::Intersects)
    assert run(rc, lambda r: r.line([1, 1], [2, 1]).intersects(r.line([2, 1], [3, 1]))) is True


def test_holes(rc):
    def holed(r):
        return r.polygon(*A).polygon_sub(r.polygon(*HOLE))

    assert run(rc, lambda r: holed(r).intersects(r.point(1.5, 1.5))) is False  # in the hole
    assert run(rc, lambda r: holed(r).intersects(r.point(1.05, 1.05))) is True
    assert run(rc, lambda r: holed(r).includes(r.point(1.5, 1.1))) is True  # hole's edge
    assert run(rc, lambda r: holed(r).includes(r.point(1.1, 1.1))) is True  # hole's corner
    # the hole itself and a polygon inside it meet nothing of the holed polygon
    assert run(rc, lambda r: holed(r).intersects(r.polygon(*HOLE))) is False
    inner = [[1.2, 1.2], [1.8, 1.2], [1.8, 1.8], [1.2, 1.8]]
    assert run(rc, lambda r: holed(r).intersects(r.polygon(*inner))) is False
    # a polygon covering the hole is not included; a strip between hole and shell is
    assert run(rc, lambda r: holed(r).includes(r.polygon(*HOLE))) is False
    ring = [[1.02, 1.02], [1.98, 1.02], [1.98, 1.05], [1.02, 1.05]]
    assert run(rc, lambda r: holed(r).includes(r.polygon(*ring))) is True
    # subtracting the shell from itself leaves the empty polygon, which meets nothing
    empty = lambda r: r.polygon(*A).polygon_sub(r.polygon(*A))  # noqa: E731
    assert run(rc, lambda r: empty(r).intersects(r.point(1.5, 1.5))) is False


def test_polygon_sub_and_fill_errors(rc):
    fails(
        rc,
        lambda r: r.polygon(*A).polygon_sub(r.polygon([1.5, 1.5], [2.5, 1.5], [2.5, 2.5])),
        "The second argument to `polygon_sub` is not contained in the first one.",
    )
    fails(
        rc,
        lambda r: r.polygon(*A).polygon_sub(r.polygon(*A).polygon_sub(r.polygon(*HOLE))),
        "Expected a Polygon with only an outer shell.  This one has holes.",
    )
    fails(
        rc,
        lambda r: r.line([0, 0], [1, 1]).polygon_sub(r.polygon(*HOLE)),
        "Expected a Polygon but found a LineString.",
    )
    fails(
        rc,
        lambda r: r.point(0, 0).fill(),
        "Expected geometry of type `LineString` but found `Point`.",
    )
    fails(
        rc,
        lambda r: r.line([0, 0], [1, 0], [0, 0]).fill(),
        "GeoJSON LinearRing must have at least four positions.",
    )
    fails(
        rc,
        lambda r: r.line([0, 0], [1, 1], [1, 0], [0, 1]).fill(),
        "Invalid LinearRing.  Are there antipodal or duplicate vertices? Is it self-intersecting?",
    )
    filled = run(rc, lambda r: r.line([0, 0], [1, 0], [1, 1]).fill())
    assert filled["coordinates"] == [[[0, 0], [1, 0], [1, 1], [0, 0]]]


def test_distances_ellipsoid_and_sphere(rc):
    # along the equator a geodesic is the arc of radius a; along a meridian it is shorter
    degree = WGS84_A * math.pi / 180
    assert run(rc, lambda r: r.distance(r.point(0, 0), r.point(1, 0))) == pytest.approx(
        degree, rel=1e-12
    )
    meridian = run(rc, lambda r: r.distance(r.point(0, 0), r.point(0, 1)))
    assert meridian == pytest.approx(110574.38855779878, rel=1e-9)
    sphere = run(rc, lambda r: r.distance(r.point(0, 0), r.point(0, 1), geo_system="unit_sphere"))
    assert sphere == pytest.approx(math.pi / 180, rel=1e-12)
    km = run(rc, lambda r: r.distance(r.point(0, 0), r.point(1, 0), unit="km"))
    assert km == pytest.approx(degree / 1000, rel=1e-12)
    custom = run(
        rc, lambda r: r.distance(r.point(0, 0), r.point(1, 0), geo_system={"a": 2.0, "f": 0.0})
    )
    assert custom == pytest.approx(2 * math.pi / 180, rel=1e-12)


def test_geo_system_and_unit_errors(rc):
    err = fails(
        rc,
        lambda r: r.distance(r.point(0, 0), r.point(1, 1), geo_system="mars"),
        'Unrecognized geo system "mars" (valid options: "WGS84", "unit_sphere").',
    )
    assert "^^^^^^" in str(err).splitlines()[-1] and len(str(err).splitlines()[-1].strip()) < 10
    fails(
        rc,
        lambda r: r.distance(r.point(0, 0), r.point(1, 1), geo_system={"a": 0, "f": 0}),
        "The equator radius `a` must be positive.",
    )
    fails(
        rc,
        lambda r: r.distance(r.point(0, 0), r.point(1, 1), geo_system={"a": 1, "f": 1}),
        "The flattening `f` must be in the range [0, 1).",
    )
    fails(
        rc,
        lambda r: r.distance(r.point(0, 0), r.point(1, 1), unit="parsec"),
        "Unrecognized distance unit `parsec`.",
    )
    fails(rc, lambda r: r.circle([0, 0], 1, num_vertices=0), "num_vertices must be positive.")
    fails(rc, lambda r: r.circle([0, 0], 1, num_vertices=-1), "Integer too large: -1")


@pytest.fixture
def geo_table(conn, table_name):
    from rethought import r

    if "test" not in r.db_list().run(conn):
        r.db_create("test").run(conn)
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    tbl.insert(
        [
            {"id": 0, "m": [r.point(0, 0), r.point(1, 0), r.point(2, 0)], "g": r.point(0, 0)},
            {"id": 1, "m": [r.point(0.5, 0.5)], "g": r.polygon([0, 0], [0, 1], [1, 1], [1, 0])},
            {"id": 2, "m": [], "g": r.point(1, 0), "x": 1},
        ]
    ).run(conn)
    tbl.index_create("g", geo=True).run(conn)
    tbl.index_create("m", geo=True, multi=True).run(conn)
    tbl.index_create("x").run(conn)
    tbl.index_wait().run(conn)
    yield table_name
    r.db("test").table_drop(table_name).run(conn)


def test_multi_index_emits_each_matching_entry(rc, geo_table):
    def tbl(r):
        return r.db("test").table(geo_table)

    square = lambda r: r.polygon([0, 0], [0, 1], [1, 1], [1, 0])  # noqa: E731
    ids = run(rc, lambda r: tbl(r).get_intersecting(square(r), index="m")["id"])
    assert sorted(ids) == [0, 0, 1]  # (0,0) and (1,0) of row 0 are corners of the square
    ids = run(rc, lambda r: tbl(r).get_intersecting(square(r), index="g")["id"])
    assert sorted(ids) == [0, 1, 2]
    near = run(rc, lambda r: tbl(r).get_nearest(r.point(0, 0), index="m", max_dist=300, unit="km"))
    got = [(n["doc"]["id"], n["dist"]) for n in near]
    assert [i for i, _ in got] == [0, 1, 0, 0]
    degree = WGS84_A * math.pi / 180 / 1000
    assert got[0][1] == 0
    assert got[2][1] == pytest.approx(degree, rel=1e-12)
    assert got[3][1] == pytest.approx(2 * degree, rel=1e-12)
    limited = run(rc, lambda r: tbl(r).get_nearest(r.point(0, 0), index="m", max_results=2))
    assert [n["doc"]["id"] for n in limited] == [0, 1]


def test_get_nearest_errors(rc, geo_table):
    def tbl(r):
        return r.db("test").table(geo_table)

    fails(
        rc,
        lambda r: tbl(r).get_nearest(r.point(0, 0), index="x"),
        "Index `x` is not a geospatial index.  get_nearest can only be used with a geospatial "
        "index.",
    )
    fails(
        rc,
        lambda r: tbl(r).get_intersecting(r.point(0, 0), index="x"),
        "Index `x` is not a geospatial index.  get_intersecting can only be used with a "
        "geospatial index.",
    )
    # the optargs are checked before the index is looked up
    for index in ("g", "x"):
        err = fails(
            rc,
            lambda r, i=index: tbl(r).get_nearest(r.point(0, 0), index=i, max_dist=-1),
            "max_dist must be positive.",
        )
        assert str(err).splitlines()[-1].strip() == "^^"  # the optarg is blamed
        fails(
            rc,
            lambda r, i=index: tbl(r).get_nearest(r.point(0, 0), index=i, max_results=0),
            "max_results must be positive.",
        )
        fails(
            rc,
            lambda r, i=index: tbl(r).get_nearest(r.point(0, 0), index=i, geo_system="x"),
            'Unrecognized geo system "x" (valid options: "WGS84", "unit_sphere").',
        )
    fails(
        rc,
        lambda r: tbl(r).get_nearest(r.point(0, 0), index="g", max_dist=1, unit="furlong"),
        "Unrecognized distance unit `furlong`.",
    )
    fails(
        rc,
        lambda r: tbl(r).get_nearest(r.point(0, 0)),
        "get_nearest requires an index argument.",
    )
    fails(
        rc,
        lambda r: tbl(r).get_nearest(r.point(0, 0), index="id"),
        "get_nearest cannot use the primary index.",
    )
    # a search radius too large for RethinkDB's search polygon
    with pytest.raises(Exception) as info:
        run(rc, lambda r: tbl(r).get_nearest(r.point(0, 0), index="g", max_dist=2e7))
    assert info.value.message.startswith(
        "The distance has become too large for continuing the indexed nearest traversal."
    )
    assert our_errors  # both drivers' errors carry .message
