"""Geospatial terms through the engine: constructors, GeoJSON, distance, predicates, and
get_intersecting / get_nearest on geo indexes of a real LMDB ``Storage``.

Expected values are RethinkDB's own (its geo/*.yaml tests), down to the last bit of
distances and circle vertices.
"""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import error, evaluate
from rethought.errors import (
    ReqlCompileError,
    ReqlError,
    ReqlNonExistenceError,
    ReqlOpFailedError,
    ReqlQueryLogicError,
)

r = rethinkdb.r


def run(query, storage=None):
    return evaluate(r.expr(query), storage)


def fails(query, cls, message):
    assert error(run, query, cls).message == message


def geometry(kind, coordinates):
    return {"$reql_type$": "GEOMETRY", "type": kind, "coordinates": coordinates}


TRIANGLE = [
    [0, -9.04369477050382e-06],
    [-7.779638566553426e-06, 4.5218473852518965e-06],
    [7.779638566553426e-06, 4.5218473852518965e-06],
    [0, -9.04369477050382e-06],
]


def test_constructors():
    assert run(r.point(-180, 0)) == geometry("Point", [-180, 0])
    assert run(r.line([0, 0], [0, 1], [0, 0])) == geometry("LineString", [[0, 0], [0, 1], [0, 0]])
    assert run(r.line(r.point(0, 0), r.point(0, 1))) == geometry("LineString", [[0, 0], [0, 1]])
    square = [[[0, 0], [0, 1], [1, 0], [0, 0]]]
    assert run(r.polygon([0, 0], [0, 1], [1, 0])) == geometry("Polygon", square)
    assert run(r.polygon([0, 0], [0, 1], [1, 0], [0, 0])) == geometry("Polygon", square)


@pytest.mark.parametrize(
    ("query", "cls", "message"),
    [
        (r.point(0, 91), ReqlQueryLogicError, "Latitude must be between -90 and 90.  Got 91."),
        (
            r.point(-181, 0),
            ReqlQueryLogicError,
            "Longitude must be between -180 and 180.  Got -181.",
        ),
        (r.line([0, 0]), ReqlCompileError, "Expected 2 or more arguments but found 1."),
        (
            r.line([0, 0], [0, 0]),
            ReqlQueryLogicError,
            "Invalid LineString.  Are there antipodal or duplicate vertices?",
        ),
        (
            r.line([0, 0], [1, 0, 0]),
            ReqlQueryLogicError,
            "Expected point coordinate pair.  Got 3 element array instead of a 2 element one.",
        ),
        (
            r.line(r.point(0, 0), r.line([0, 0], [1, 0])),
            ReqlQueryLogicError,
            "Expected geometry of type `Point` but found `LineString`.",
        ),
        (
            r.polygon([0, 0], [0, 1], [1, 0], [-1, 0.5]),
            ReqlQueryLogicError,
            "Invalid LinearRing.  Are there antipodal or duplicate vertices? "
            "Is it self-intersecting?",
        ),
    ],
)
def test_constructor_errors(query, cls, message):
    fails(query, cls, message)


def test_geojson():
    assert run(r.geojson({"coordinates": [0, 0], "type": "Point", "crs": None})) == {
        "$reql_type$": "GEOMETRY",
        "coordinates": [0, 0],
        "type": "Point",
        "crs": None,
    }
    line = {"coordinates": [[0, 0], [0, 1]], "type": "LineString"}
    assert run(r.geojson(line).to_geojson()) == line
    fails(
        r.geojson({"coordinates": True, "type": "Point"}),
        ReqlQueryLogicError,
        "Expected type ARRAY but found BOOL.",
    )
    fails(
        r.geojson({"type": "Point"}),
        ReqlNonExistenceError,
        'No attribute `coordinates` in object:\n{\n\t"type":\t"Point"\n}',
    )
    fails(
        r.geojson({"coordinates": [0, 0], "type": "foo"}),
        ReqlQueryLogicError,
        "Unrecognized GeoJSON type `foo`.",
    )
    fails(
        r.geojson({"coordinates": [0, 0], "type": "Point", "foo": 1}),
        ReqlQueryLogicError,
        "Unrecognized field `foo` found in geometry object.",
    )
    fails(
        r.geojson({"coordinates": [0, 0], "type": "MultiPoint"}),
        ReqlQueryLogicError,
        "GeoJSON type `MultiPoint` is not supported.",
    )
    fails(
        r.geojson({"coordinates": [0, 0], "type": "Point", "crs": {"type": "name"}}),
        ReqlQueryLogicError,
        "Non-default coordinate reference systems are not supported in GeoJSON objects.  "
        "Make sure the `crs` field of the geometry is null or non-existent.",
    )
    fails(r.point(0, 0).intersects(5), ReqlQueryLogicError, "Not a GEOMETRY pseudotype: `5`.")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.distance(r.point(-122, 37), r.point(-123, 37)), "89011.26253835332"),
        (r.distance(r.point(-122, 37), r.point(-122, 36)), "110968.30443995494"),
        (
            r.distance(r.point(-122, 37), r.point(-123, 37), geo_system="unit_sphere"),
            "0.01393875509649327",
        ),
        (r.distance(r.point(0, 0), r.line([5, -1], [4, 2])), "492471.4990055255"),
        (r.distance(r.point(0, 0), r.polygon([5, -1], [4, 2], [10, 10])), "492471.4990055255"),
        (r.distance(r.point(0.5, 0.5), r.polygon([0, -1], [0, 1], [10, 10])), "0"),
        (r.distance(r.line([0, 0], [0, 1]), r.point(0, 0)), "0"),
    ],
)
def test_distance(query, expected):
    assert run(query.coerce_to("STRING")) == expected


def test_distance_units():
    base = run(r.distance(r.point(-122, 37), r.point(-123, 37)))
    for unit, metres in (("km", 1000.0), ("mi", 1609.344), ("nm", 1852.0), ("ft", 0.3048)):
        got = run(r.distance(r.point(-122, 37), r.point(-123, 37), unit=unit))
        assert got == base * (1.0 / metres)
    small = {"a": 637813.7, "f": 1.0 / 298.257223563}
    assert run(r.distance(r.point(-122, 37), r.point(-123, 37), geo_system=small)) == base / 10
    fails(
        r.distance(r.point(0, 0), r.point(1, 1), unit="parsec"),
        ReqlQueryLogicError,
        "Unrecognized distance unit `parsec`.",
    )


def test_circle():
    assert run(r.circle([0, 0], 1, num_vertices=3)) == geometry("Polygon", [TRIANGLE])
    assert run(r.circle(r.point(0, 0), 1.0 / 1609.344, num_vertices=3, unit="mi")) == geometry(
        "Polygon", [TRIANGLE]
    )
    assert run(r.circle([0, 0], 1, num_vertices=3, fill=False)) == geometry("LineString", TRIANGLE)
    assert run(r.circle([0, 0], 1, fill=False).fill().eq(r.circle([0, 0], 1))) is True
    fails(
        r.circle([0, 0], 14000000, num_vertices=3),
        ReqlQueryLogicError,
        "Radius must be smaller than a quarter of the circumference along the minor axis of "
        "the reference ellipsoid.  Got 14000000m, but must be smaller than "
        "9985163.1855612862855m.",
    )


def rect(x0, y0, x1, y1):
    return r.polygon([x0, y0], [x1, y0], [x1, y1], [x0, y1])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (rect(1, 1, 2, 2).intersects(r.point(1.5, 1.5)), True),
        (rect(1, 1, 2, 2).intersects(r.point(2, 2)), True),
        (rect(1, 1, 2, 2).intersects(r.point(2, 1.5)), True),
        (rect(1, 1, 2, 2).intersects(r.point(2.5, 2.5)), False),
        (
            rect(1, 1, 2, 2).polygon_sub(rect(1.1, 1.1, 1.9, 1.9)).intersects(r.point(1.5, 1.5)),
            False,
        ),
        (
            rect(1, 1, 2, 2).polygon_sub(rect(1.1, 1.1, 1.9, 1.9)).intersects(r.point(1.05, 1.05)),
            True,
        ),
        (rect(1, 1, 2, 2).intersects(r.line([1.5, 1.5], [2, 2])), True),
        (rect(1, 1, 2, 2).intersects(r.line([2, 2], [3, 3])), False),
        (rect(1, 1, 2, 2).intersects(rect(1.5, 1.5, 2.5, 2.5)), True),
        (rect(1, 1, 2, 2).intersects(rect(2, 2, 3, 3)), False),
        (r.point(1, 1).intersects(r.point(1, 1)), True),
        (r.line([1, 1], [1, 2]).intersects(r.point(1, 1.8)), True),
        (r.line([1, 1], [1, 2]).intersects(r.point(1.5, 1.5)), False),
        (r.line([1, 1], [1, 2]).intersects(r.line([1, 2], [1, 3])), True),
        (rect(1, 1, 2, 2).includes(r.line([1, 2], [2, 2])), True),
        (rect(1, 1, 2, 2).includes(rect(1, 1, 2, 2)), True),
        (rect(1, 1, 2, 2).includes(rect(1.5, 1.5, 2, 2)), True),
        (rect(1, 1, 2, 2).includes(rect(1.5, 1.5, 2.5, 2.5)), False),
        # across the antimeridian
        (r.polygon([170, 0], [-170, 0], [-170, 10], [170, 10]).intersects(r.point(-175, 5)), True),
        (r.polygon([170, 0], [-170, 0], [-170, 10], [170, 10]).intersects(r.point(0, 5)), False),
        (r.expr([r.point(0, 0), r.point(5, 5)]).intersects(rect(-1, -1, 1, 1)).count(), 1),
        (rect(0, 0, 10, 10).polygon_sub(rect(0, 0, 10, 10)).intersects(r.point(0, 0)), False),
    ],
)
def test_predicates(query, expected):
    assert run(query) == expected


def test_polygon_sub():
    square = rect(0, 0, 1, 1)
    assert run(
        square.polygon_sub(r.polygon([0, 0], [0.1, 0.9], [0.9, 0.9], [0.9, 0.1]))
    ) == geometry(
        "Polygon",
        [
            [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
            [[0, 0], [0.1, 0.9], [0.9, 0.9], [0.9, 0.1], [0, 0]],
        ],
    )
    not_inside = "The second argument to `polygon_sub` is not contained in the first one."
    fails(
        square.polygon_sub(r.polygon([0.1, 0.9], [0.9, 0.0], [0.9, 0.9], [0.1, 0.9])),
        ReqlQueryLogicError,
        not_inside,
    )
    fails(square.polygon_sub(rect(0, -1, 1, 0)), ReqlQueryLogicError, not_inside)
    fails(
        square.polygon_sub(r.line([0, 0], [0.9, 0.1])),
        ReqlQueryLogicError,
        "Expected a Polygon but found a LineString.",
    )


@pytest.fixture
def table(engine_run):
    def q(query):
        return run(query, engine_run.engine.storage)

    tbl = r.table("geo")
    q(r.table_create("geo"))
    q(
        tbl.insert(
            [
                {"id": 0, "g": r.point(10, 10), "m": [r.point(0, 0), r.point(1, 0), r.point(2, 0)]},
                {"id": 1, "g": r.polygon([0, 0], [0, 1], [1, 1], [1, 0])},
                {"id": 2, "g": r.line([0.000002, -1], [-0.000001, 1])},
            ]
        )
    )
    q(tbl.index_create("g", geo=True))
    q(tbl.index_create("m", geo=True, multi=True))
    q(tbl.index_create("other"))
    return q, tbl


def test_get_intersecting(table):
    q, tbl = table
    count = lambda g, index="g": q(tbl.get_intersecting(g, index=index).count())  # noqa: E731
    assert count(r.point(0, 0)) == 1
    assert count(r.point(0.5, 0.5)) == 1
    assert count(r.point(20, 20)) == 0
    assert count(rect(0, 0, 1, 1)) == 2
    assert count(r.line([0, 0], [10, 10])) == 3
    assert count(r.point(1, 0), "m") == 1
    assert count(r.point(3, 0), "m") == 0
    # One row per matching entry: the polygon meets two of row 0's points (upstream: 2).
    assert count(r.polygon([0, 0], [0, 1], [1, 1], [1, 0]), "m") == 2
    assert q(tbl.get_intersecting(r.point(0, 0), index="g").type_of()) == "SELECTION<STREAM>"
    with pytest.raises(ReqlQueryLogicError, match="is not a geospatial index"):
        q(tbl.get_intersecting(r.point(0, 0), index="other"))
    with pytest.raises(ReqlOpFailedError, match="Index `missing` was not found"):
        q(tbl.get_intersecting(r.point(0, 0), index="missing"))
    with pytest.raises(ReqlError, match="get_intersecting requires an index argument."):
        q(tbl.get_intersecting(r.point(0, 0)))
    with pytest.raises(ReqlError, match="get_intersecting cannot use the primary index."):
        q(tbl.get_intersecting(r.point(0, 0), index="id"))
    with pytest.raises(ReqlError, match="Cannot chain get_intersecting"):
        # (the Python driver only offers get_intersecting on tables; build the term directly)
        q(rethinkdb.ast.GetIntersecting(tbl.between(0, 1), r.point(0, 0), index="g"))


def test_get_nearest(table):
    q, tbl = table

    def near(*args, **opts):
        return q(tbl.get_nearest(*args, index="g", **opts).pluck("dist", {"doc": "id"}))

    assert near(r.point(0, 0)) == [
        {"dist": 0, "doc": {"id": 1}},
        {"dist": 0.055659745396754216, "doc": {"id": 2}},
    ]
    assert near(r.point(-0.000001, 1)) == [
        {"dist": 0, "doc": {"id": 2}},
        {"dist": 0.11130264976984369, "doc": {"id": 1}},
    ]
    assert [d["doc"]["id"] for d in near(r.point(0, 0), max_dist=1565110)] == [1, 2, 0]
    assert near(r.point(0, 0), max_dist=1565110)[2]["dist"] == 1565109.0992178896
    assert len(near(r.point(0, 0), max_dist=1565110, max_results=2)) == 2
    assert near(r.point(0, 0), max_dist=1566, unit="km")[2]["dist"] == 1565.1090992178897
    assert near(r.point(0, 0), max_dist=1, geo_system="unit_sphere") == [
        {"dist": 0, "doc": {"id": 1}},
        {"dist": 8.726646259990191e-09, "doc": {"id": 2}},
        {"dist": 0.24619691677893205, "doc": {"id": 0}},
    ]
    with pytest.raises(ReqlQueryLogicError) as info:
        near(r.point(0, 0), max_dist=10000000)
    assert info.value.message == (
        "The distance has become too large for continuing the indexed nearest traversal.  "
        "Consider specifying a smaller `max_dist` parameter.  (Radius must be smaller than a "
        "quarter of the circumference along the minor axis of the reference ellipsoid.  "
        "Got 10968937.995244588703m, but must be smaller than 9985163.1855612862855m.)"
    )
    assert q(tbl.get_nearest(r.point(0, 0), index="g").type_of()) == "ARRAY"


def _arc_by_definition(a, b, depth=0):
    """The densification's definition, recursively: the great-circle midpoint (as
    sphere.midpoint / to_lonlat give it), longitudes kept continuous, until the chord's
    middle is within TOL of it or after _MAX_DEPTH halvings."""
    from rethought.server.geo import predicates as p
    from rethought.server.geo import sphere as g

    if depth >= p._MAX_DEPTH:
        return []
    lon, lat = g.to_lonlat(g.midpoint(g.to_vec(*a), g.to_vec(*b)))
    mid_lon = (a[0] + b[0]) / 2
    lon += 360.0 * round((mid_lon - lon) / 360.0)
    if abs(lon - mid_lon) <= p.TOL and abs(lat - (a[1] + b[1]) / 2) <= p.TOL:
        return []
    m = (lon, lat)
    return _arc_by_definition(a, m, depth + 1) + [m] + _arc_by_definition(m, b, depth + 1)


def test_edge_densification_matches_its_definition_bit_for_bit():
    import random

    from rethought.server.geo.predicates import _arc

    rng = random.Random(7)
    for _ in range(150):
        a = (rng.uniform(-180, 180), rng.uniform(-89, 89))
        span = rng.choice([0.001, 0.5, 5.0, 40.0])
        b = (
            a[0] + rng.uniform(-span, span),
            max(-89.9, min(89.9, a[1] + rng.uniform(-span, span))),
        )
        assert _arc(a, b) == _arc_by_definition(a, b), (a, b)
