"""The geo index prefilter (``storage.geo_cells``, ``geo_bounds``) changes nothing but speed.

Random points, lines and polygons (many near the antimeridian and the poles, some spanning
tens of degrees) go into geo indexes; every get_intersecting / get_nearest must return
exactly what a scan of the whole index returns (same rows, same order, same distances), and
agree with ``filter`` over ``intersects`` / ``distance``, which uses no index.
"""

from __future__ import annotations

import random

import orjson
import pytest
import rethinkdb

from engine_harness import open_storage
from rethought.errors import ReqlError
from rethought.server.geo import geometry
from rethought.server.geo.bounds import WORLD, disk_box, shape_box
from rethought.server.query.engine import Engine
from rethought.server.storage.catalog import TABLE_PREFIX
from rethought.server.storage.table import TableStore

r = rethinkdb.r
tbl = r.table("geo")


def _lon(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.3:  # near the antimeridian
        return rng.choice([rng.uniform(-180, -177), rng.uniform(177, 180)])
    if pick < 0.35:
        return rng.choice([-180.0, 180.0, 0.0])
    return rng.uniform(-180, 180)


def _lat(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice([rng.uniform(-90, -86), rng.uniform(86, 90)])
    if pick < 0.33:
        return rng.choice([-90.0, 90.0])
    return rng.uniform(-80, 80)


def _geometry(rng: random.Random) -> dict | None:
    """A random valid GEOMETRY datum (None when the draw is not a valid one)."""
    kind = rng.random()
    lon, lat = _lon(rng), _lat(rng)
    if kind < 0.5:
        return geometry.make_point(lon, lat)
    # Mostly small shapes; a few big ones (whose exact tests are slow to compute).
    size = rng.choice([0.01, 0.5, 2.0, 5.0]) if rng.random() < 0.95 else 30.0
    if kind < 0.75:
        pts = [(lon, lat)]
        for _ in range(rng.randint(1, 4)):
            p = pts[-1]
            nxt = (p[0] + rng.uniform(-size, size), p[1] + rng.uniform(-size, size))
            pts.append((((nxt[0] + 180) % 360) - 180, max(-90.0, min(90.0, nxt[1]))))
        g = geometry.make_line(pts)
    else:
        n = rng.randint(3, 7)
        radius = size * 111000.0
        g = geometry.make_polygon(
            geometry.circle_points((lon, lat), radius, n, geometry.WGS84)[:-1]
        )
    try:
        geometry.parse(g)
    except ReqlError:
        return None
    return g


def _geometries(rng: random.Random, n: int) -> list[dict]:
    out: list[dict] = []
    while len(out) < n:
        g = _geometry(rng)
        if g is not None:
            out.append(g)
    return out


@pytest.fixture(autouse=True)
def cached_parse(monkeypatch):
    """Parse each distinct geometry once: validating big polygons is slow, and the full scans
    this test compares with parse every entry again (parsing is a pure function)."""
    parse = geometry.parse
    cache: dict[bytes, object] = {}

    def cached(g: dict) -> object:
        key = orjson.dumps(g, option=orjson.OPT_SORT_KEYS)
        shape = cache.get(key)
        if shape is None:
            try:
                shape = cache[key] = parse(g)
            except ReqlError as err:
                shape = cache[key] = err
        if isinstance(shape, ReqlError):
            raise shape
        return shape

    monkeypatch.setattr(geometry, "parse", cached)


@pytest.fixture
def run(engine_run):
    return engine_run


@pytest.fixture
def full_scan(monkeypatch):
    """Call ``full_scan(fn)`` to run ``fn`` with geo queries reading the whole index."""

    def call(fn):
        with monkeypatch.context() as m:
            m.setattr(TableStore, "geo_scan", lambda self, name, box: self.index_scan(name))
            return fn()

    return call


def _fill(run, rng: random.Random, n: int) -> list[dict]:
    shapes = _geometries(rng, n)
    rows = []
    for i, g in enumerate(shapes):
        extra = _geometries(rng, rng.randint(0, 3))
        rows.append({"id": i, "g": g, "m": [g, *extra, g], "bad": i if i % 7 else g})
    run(r.table_create("geo"))
    run(tbl.index_create("g", geo=True))  # filled by the writer
    run(tbl.insert(rows[: n // 2]))
    run(tbl.index_create("m", geo=True, multi=True))  # built over existing rows, then written
    run(tbl.index_create("bad", geo=True))  # mostly non-geometry values
    run(tbl.insert(rows[n // 2 :]))
    for name in ("g", "m", "bad"):
        run(tbl.index_wait(name))
    return rows


def _queries(rng: random.Random, rows: list[dict], n: int) -> list[dict]:
    out = _geometries(rng, n)
    for row in rng.sample(rows, n // 2):  # exact hits: stored points and line vertices
        coords = row["g"]["coordinates"]
        if row["g"]["type"] == "Point":
            lon, lat = coords
        elif row["g"]["type"] == "LineString":
            lon, lat = rng.choice(coords)
        else:
            lon, lat = rng.choice(coords[0])
        if abs(lon) == 180.0 and rng.random() < 0.5:
            lon = -lon  # the same S2 point
        out.append(geometry.make_point(lon, lat))
    return out


def _ids(result: list) -> list:
    return [row["id"] for row in result]


def test_get_intersecting_matches_full_scan(run, full_scan):
    rng = random.Random(1)
    rows = _fill(run, rng, 80)
    for query in _queries(rng, rows, 24):
        for index in ("g", "m", "bad"):
            q = tbl.get_intersecting(query, index=index)
            got = _ids(run(q))
            assert got == _ids(full_scan(lambda q=q: run(q))), (index, query)
            if index == "g":
                plain = run(tbl.filter(r.row["g"].intersects(query))["id"])
                assert sorted(got) == sorted(plain), query


@pytest.mark.parametrize("geo_system", ["WGS84", "unit_sphere"])
def test_get_nearest_matches_full_scan(run, full_scan, geo_system):
    rng = random.Random(2)
    rows = _fill(run, rng, 80)
    unit = "km" if geo_system == "WGS84" else "m"
    scale = 1.0 if geo_system == "WGS84" else 1.0 / 6371.0
    for query in _queries(rng, rows, 6):
        point = query if query["type"] == "Point" else geometry.make_point(_lon(rng), _lat(rng))
        for max_dist in (10.0, 300.0, 2500.0):
            for index, max_results in (("g", 1000), ("g", 3), ("m", 1000)):
                opts = {"index": index, "max_dist": max_dist * scale, "unit": unit}
                q = tbl.get_nearest(point, max_results=max_results, geo_system=geo_system, **opts)
                got = run(q)
                assert got == full_scan(lambda q=q: run(q)), (point, opts)
                if index == "g" and max_results == 1000:
                    far = r.distance(r.row["g"], point, geo_system=geo_system, unit=unit)
                    plain = run(tbl.filter(far <= max_dist * scale)["id"])
                    assert sorted(_ids(d["doc"] for d in got)) == sorted(plain)


def test_cells_follow_writes(run, full_scan):
    rng = random.Random(3)
    rows = _fill(run, rng, 80)
    for row in rng.sample(rows, 25):
        run(tbl.get(row["id"]).update({"g": _geometries(rng, 1)[0]}))
    for row in rng.sample(rows, 15):
        run(tbl.get(row["id"]).delete())
    run(tbl.get(rows[0]["id"]).replace({"id": rows[0]["id"], "g": r.point(179.5, 89.9)}))
    for query in _queries(rng, rows, 20):
        q = tbl.get_intersecting(query, index="g")
        assert _ids(run(q)) == _ids(full_scan(lambda q=q: run(q)))
    # Index and table drops take the cells with them.
    storage = run.engine.storage
    run(tbl.index_drop("m"))
    run(r.table_drop("geo"))
    with storage.env.begin(db=storage.geo_db) as txn:
        assert txn.stat(storage.geo_db)["entries"] == 0


def test_data_written_before_cells(tmp_path, full_scan):
    """A data directory of the previous layout (no cells, no ``cells`` flag in the catalog)
    gets its cells filed when opened."""
    path = str(tmp_path / "data")
    storage = open_storage(path)
    run = _runner(storage)
    rng = random.Random(4)
    rows = _fill(run, rng, 60)
    with storage.transaction() as txn:  # back to what the previous code wrote
        txn.drop(storage.geo_db, delete=False)
        cur = txn.cursor(db=storage.catalog_db)
        cur.set_range(TABLE_PREFIX)
        for key, raw in cur.iternext():
            if key.startswith(TABLE_PREFIX):
                record = orjson.loads(raw)
                for idx in record["indexes"].values():
                    idx.pop("cells")
                txn.put(key, orjson.dumps(record), db=storage.catalog_db)
    storage.close()

    storage = open_storage(path)
    run = _runner(storage)
    table = storage.table_get("test", "geo")
    assert all(table._indexes[n].cells for n in ("g", "m", "bad"))
    for query in _queries(rng, rows, 16):
        q = tbl.get_intersecting(query, index="m")
        assert _ids(run(q)) == _ids(full_scan(lambda q=q: run(q)))
    storage.close()


def _runner(storage):
    from engine_harness import EngineRunner

    return EngineRunner(Engine(storage))


def test_boxes():
    # A circle holding a pole spans every longitude; one past the antimeridian wraps.
    assert disk_box((10.0, 89.0), 200000.0, geometry.WGS84).lon_intervals() == [(-180.0, 180.0)]
    wrap = disk_box((179.9, 0.0), 20000.0, geometry.WGS84).lon_intervals()
    assert len(wrap) == 2 and wrap[0][1] == 180.0 and wrap[1][0] == -180.0
    assert disk_box((0.0, 0.0), 2.0e7, geometry.WGS84) == WORLD
    # An edge bulges towards the pole beyond its vertices.
    line = geometry.parse(geometry.make_line([(-60.0, 60.0), (60.0, 60.0)]))
    assert shape_box(line).lat_hi > 70.0
    over_pole = geometry.parse(geometry.make_line([(0.0, 80.0), (180.0, 80.0)]))
    assert shape_box(over_pole).lon_intervals() == [(-180.0, 180.0)]
