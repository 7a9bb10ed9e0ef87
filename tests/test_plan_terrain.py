"""The flood plan over terrain: walking legs, no dead ends, the walking limit, households that add up, optimality
against a linear program (HiGHS), and properties on generated small counties (hypothesis)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gis.flood.exposure import EvacuationRule
from gis.flood.hazard import Hazard
from gis.flood.plan import PlanOptions, evacuation_plan
from layers.raster import Raster

CRS = pyproj.CRS.from_epsg(4549)
X0, Y0 = 500_000.0, 3_100_000.0
CELL = 30.0
AREA = PlanOptions(rule=EvacuationRule(basis="area"))


def _xy(r: float, c: float) -> tuple[float, float]:
    return X0 + c * CELL, Y0 - r * CELL


def _dem(z: np.ndarray) -> Raster:
    return Raster(np.asarray(z, "float32"), Affine(CELL, 0, X0, 0, -CELL, Y0), CRS, None, name="dem")


def _grid(gid: str, r: float, c: float, people: int, *, size: float = 3) -> dict:
    return {"grid_id": gid, "level": "household", "township": "T", "village": "V", "population": people,
            "households": (people + 2) // 3, "vulnerable": people // 10,
            "geometry": box(*_xy(r + size, c - size), *_xy(r - size, c + size))}


def _layers(grids: list[dict], shelters: list[tuple], roads: list[list[tuple]]):
    g = gpd.GeoDataFrame(grids, crs=CRS)
    s = gpd.GeoDataFrame({"shelter_id": [x[0] for x in shelters], "name": [x[0] for x in shelters],
                          "capacity": [x[3] for x in shelters]},
                         geometry=[Point(_xy(x[1], x[2])) for x in shelters], crs=CRS)
    r = gpd.GeoDataFrame({"road_class": ["village"] * len(roads)},
                         geometry=[LineString([_xy(*p) for p in line]) for line in roads], crs=CRS)
    return g, s, r


def _wet_everywhere_at(rows: int, cols: int, cells: list[tuple[int, int]]) -> Hazard:
    d = np.full((rows, cols), np.nan, "float32")
    for r, c in cells:
        d[r, c] = 1.0
    return Hazard.from_depth_raster(Raster(d, Affine(CELL, 0, X0, 0, -CELL, Y0), CRS, None), name="t")


# ---- a dead end, the walking limit, households --------------------------------------------------------

def test_a_dead_end_road_does_not_stop_the_grid():
    """The grid's own road reaches only a 10-place shelter; another road 300 m away on foot leads to 500 places."""
    rows, cols = 200, 40
    dem = _dem(np.zeros((rows, cols)))
    grids, shelters, roads = _layers(
        [_grid("G", 10, 10, 100)],
        [("small", 10, 22, 10), ("big", 195, 10, 500)],
        [[(10, 13), (10, 21)], [(20, 10), (195, 10)]])
    hz = _wet_everywhere_at(rows, cols, [(10, 10)])
    plan = evacuation_plan(grids, shelters, hz, roads=roads, dem=dem, options=AREA)
    s = plan.summary
    assert s["people_placed"] == 100 and s["people_unplaced"] == 0
    load = plan.shelters.set_index("shelter_id")["load"]
    assert load["small"] == 10 and load["big"] == 90
    big = plan.assignments.set_index("shelter_id").loc["big"]
    assert big["method"] == "road" and 0.25 < big["walk_km"] < 0.45       # walks ~300 m to the other road
    assert s["people_by_route_mode"] == {"road": 90, "walk": 10, "straight": 0}   # the small one is 360 m on foot


def test_beyond_the_walking_limit_no_shelter_is_reachable():
    rows, cols = 20, 200                                            # 6 km wide
    dem = _dem(np.zeros((rows, cols)))
    grids, shelters, _ = _layers([_grid("G", 10, 10, 60)], [("far", 10, 150, 500)], [])
    plan = evacuation_plan(grids, shelters, _wet_everywhere_at(rows, cols, [(10, 10)]), dem=dem,
                           options=PlanOptions(rule=EvacuationRule(basis="area"), walk_limit_m=3000))
    assert plan.summary["people_placed"] == 0
    assert plan.summary["people_no_reachable_shelter"] == 60
    assert plan.unplaced_grids.set_index("grid_id").loc["G", "reason"] == "no_shelter_reachable"
    near = evacuation_plan(grids, shelters, _wet_everywhere_at(rows, cols, [(10, 10)]), dem=dem,
                           options=PlanOptions(rule=EvacuationRule(basis="area"), walk_limit_m=5000))
    a = near.assignments.iloc[0]
    assert near.summary["people_placed"] == 60 and a["method"] == "walk"
    assert a["distance_km"] == pytest.approx(4.2, abs=0.1) and a["walk_km"] == a["distance_km"]
    assert len(near.assignments.geometry.iloc[0].coords) >= 2


def test_households_add_up_on_a_partly_placed_grid(tmp_path):
    """Placed and unplaced rows of a grid carry its people, households and vulnerable people exactly once."""
    import openpyxl

    from gis.report.plan_files import write_plan_files
    from gis.report.plan_workbook import plan_rows

    rows, cols = 40, 40
    dem = _dem(np.zeros((rows, cols)))
    grids, shelters, roads = _layers([_grid("G", 20, 10, 100), _grid("H", 20, 30, 50)],
                                     [("a", 10, 10, 37), ("b", 10, 30, 26)], [[(5, 5), (5, 35)]])
    plan = evacuation_plan(grids, shelters, _wet_everywhere_at(rows, cols, [(20, 10), (20, 30)]), roads=roads,
                           dem=dem, options=AREA)
    assert plan.summary["people_placed"] == 63 and plan.summary["people_unplaced"] == 87
    total = grids.set_index("grid_id")
    for lang in ("zh", "en"):
        pr = plan_rows(plan, lang=lang)
        per = pr.groupby("grid_id")[["people", "households", "vulnerable"]].sum()
        for gid in ("G", "H"):
            assert per.loc[gid, "people"] == total.loc[gid, "population"]
            assert per.loc[gid, "households"] == total.loc[gid, "households"]
            assert per.loc[gid, "vulnerable"] == total.loc[gid, "vulnerable"]
    s = plan.summary
    assert s["households_placed"] + s["households_unplaced"] == s["households_to_evacuate"] == 34 + 17
    files = {p.suffix: p for p in write_plan_files(plan, tmp_path)}
    ws = openpyxl.load_workbook(files[".xlsx"])["转移计划"]
    head = [c.value for c in ws[1]]
    body = [dict(zip(head, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sum(r["户数（户）"] for r in body if r["网格编号"] == "G") == 34
    routes = gpd.read_file(files[".gpkg"], layer="routes")
    assert int(routes["households"].sum()) == s["households_placed"]


# ---- optimality ----------------------------------------------------------------------------------------

def _lp_optimum(table: pd.DataFrame, people: pd.Series, capacity: pd.Series) -> tuple[float, float]:
    """Most people placed, then least person-cost, over the arcs of ``table``: HiGHS on the same problem."""
    from scipy import sparse
    from scipy.optimize import linprog

    g = pd.Index(people.index)
    s = pd.Index(capacity.index)
    gi, si = g.get_indexer(table["origin_id"]), s.get_indexer(table["dest_id"])
    cost = np.rint(table["cost"].to_numpy())
    m, ng, ns = len(table), len(g), len(s)
    a_g = sparse.csr_matrix((np.ones(m), (gi, np.arange(m))), shape=(ng, m))
    a_s = sparse.csr_matrix((np.ones(m), (si, np.arange(m))), shape=(ns, m))
    a_ub = sparse.vstack([a_g, a_s])
    b_ub = np.concatenate([people.to_numpy(float), capacity.to_numpy(float)])
    most = linprog(-np.ones(m), A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    placed = -most.fun
    best = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, m)), b_eq=[placed], bounds=(0, None),
                   method="highs")
    return placed, best.fun


def test_the_plan_is_optimal_against_highs_on_the_complete_option_table():
    rng = np.random.default_rng(5)
    rows, cols = 80, 80
    z = np.cumsum(rng.normal(0, 0.6, (rows, cols)), axis=1)
    dem = _dem(z)
    grids, shelters, roads = _layers(
        [_grid(f"G{i}", r, c, int(p)) for i, (r, c, p) in enumerate(
            [(10, 10, 120), (15, 40, 80), (40, 20, 200), (60, 60, 90), (70, 15, 150), (30, 70, 60)])],
        [("A", 5, 30, 120), ("B", 45, 45, 150), ("C", 75, 40, 100), ("D", 20, 75, 90)],
        [[(5, 2), (5, 78)], [(2, 45), (78, 45)], [(75, 2), (75, 78)]])
    cells = [(r, c) for r, c in [(10, 10), (15, 40), (40, 20), (60, 60), (70, 15), (30, 70)]]
    plan = evacuation_plan(grids, shelters, _wet_everywhere_at(rows, cols, cells), roads=roads, dem=dem,
                           options=PlanOptions(rule=EvacuationRule(basis="area"), walk_limit_m=1500))
    assert plan.summary["optimal"]                       # certified by the flow's duals
    assert plan.summary["grids_listed_by_pricing"][-1] == 0   # at the optimum no grid's arcs need listing
    cands = plan.candidates
    table = cands.for_grids(None, cands.grid_ids)       # every shelter each grid's options lead to
    people = plan.grids.set_index(plan.grids["grid_id"].astype(str))["evacuate_people"]
    cap = plan.shelters.set_index("shelter_id")["capacity"]
    placed, cost = _lp_optimum(table, people, cap)
    assert plan.summary["people_placed"] == pytest.approx(placed)
    ours = float((plan.result.assignments["people"] * np.rint(plan.result.assignments["cost"])).sum())
    assert ours == pytest.approx(cost, rel=1e-9)


# ---- properties on generated counties ------------------------------------------------------------------

def _county(seed: int):
    rng = np.random.default_rng(seed)
    rows, cols = 60, 60
    hills = sum(rng.uniform(20, 80) * np.exp(-(((np.mgrid[0:rows, 0:cols][0] - rng.uniform(0, rows)) ** 2
                                                 + (np.mgrid[0:rows, 0:cols][1] - rng.uniform(0, cols)) ** 2)
                                                / rng.uniform(30, 200))) for _ in range(4))
    valley = 0.5 * np.abs(np.mgrid[0:rows, 0:cols][1] - 30)
    z = hills + valley
    depth = np.where(np.abs(np.mgrid[0:rows, 0:cols][1] - 30) <= rng.integers(1, 6), 1.5, np.nan)
    grids = [_grid(f"G{i}", float(rng.uniform(5, 55)), float(rng.uniform(5, 55)), int(rng.integers(10, 150)),
                   size=2) for i in range(int(rng.integers(3, 8)))]
    shelters = [(f"S{i}", float(rng.uniform(3, 57)), float(rng.uniform(3, 57)), int(rng.integers(10, 200)))
                for i in range(int(rng.integers(2, 6)))]
    roads = []
    for _ in range(int(rng.integers(1, 5))):
        if rng.random() < 0.5:
            r = float(rng.uniform(2, 58))
            roads.append([(r, float(rng.uniform(0, 20))), (r, float(rng.uniform(40, 60)))])
        else:
            c = float(rng.uniform(2, 58))
            roads.append([(float(rng.uniform(0, 20)), c), (float(rng.uniform(40, 60)), c)])
    g, s, r = _layers(grids, shelters, roads)
    rivers = gpd.GeoDataFrame(geometry=[LineString([_xy(0, 30), _xy(60, 30)])], crs=CRS)
    hz = Hazard.from_depth_raster(Raster(depth.astype("float32"), Affine(CELL, 0, X0, 0, -CELL, Y0), CRS, None),
                                  name="gen")
    return _dem(z), g, s, r, rivers, hz, rng


OPTS = PlanOptions(rule=EvacuationRule(basis="area", min_depth=0.1), walk_limit_m=1200)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_closing_shelters_or_cutting_roads_never_places_more(seed):
    dem, g, s, r, rivers, hz, rng = _county(seed)
    base = evacuation_plan(g, s, hz, roads=r, dem=dem, rivers=rivers, options=OPTS)
    _check_plan(base)
    closed = s.assign(status=np.where(rng.random(len(s)) < 0.4, "unavailable", "available"))
    fewer_shelters = evacuation_plan(g, closed, hz, roads=r, dem=dem, rivers=rivers, options=OPTS)
    _check_plan(fewer_shelters)
    assert fewer_shelters.summary["people_placed"] <= base.summary["people_placed"]
    if len(r) > 1:
        fewer_roads = evacuation_plan(g, s, hz, roads=r.iloc[1:], dem=dem, rivers=rivers, options=OPTS)
        _check_plan(fewer_roads)
        assert fewer_roads.summary["people_placed"] <= base.summary["people_placed"]


def _check_plan(plan) -> None:
    sh = plan.shelters.set_index("shelter_id")
    a = plan.assignments
    assert (sh["load"] <= sh["capacity"]).all()                                   # capacity never exceeded
    assert set(a["shelter_id"]) <= set(sh.index[sh["usable"]])                    # never to a flooded/closed one
    s = plan.summary
    assert s["people_placed"] + s["people_unplaced"] == s["people_to_evacuate"]
    assert sum(s["people_by_route_mode"].values()) == s["people_placed"]
    assert s["people_by_route_mode"]["straight"] == 0                             # there is a DEM
    assert (a["walk_km"] <= OPTS.walk_limit_m / 1000 + 1e-6).all()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_the_optimum_equals_the_linear_program(seed):
    dem, g, s, r, rivers, hz, _ = _county(seed)
    plan = evacuation_plan(g, s, hz, roads=r, dem=dem, rivers=rivers, options=OPTS)
    cands = plan.candidates
    table = cands.for_grids(None, cands.grid_ids)
    if not len(table):
        assert plan.summary["people_placed"] == 0
        return
    people = plan.grids.set_index(plan.grids["grid_id"].astype(str))["evacuate_people"]
    cap = plan.shelters[plan.shelters["usable"]].set_index("shelter_id")["capacity"]
    placed, cost = _lp_optimum(table, people, cap)
    assert plan.summary["people_placed"] == pytest.approx(placed)
    ours = float((plan.result.assignments["people"] * np.rint(plan.result.assignments["cost"])).sum())
    assert ours == pytest.approx(cost, rel=1e-9, abs=1e-6)


def test_zones_burnt_on_the_terrain_grid_equal_the_point_sampler():
    """Danger zones are rasterised onto the walking grid (fast at prefecture scale); the depths equal those the
    point-by-point sampler gives at the cell centres, the deepest zone winning where zones overlap."""
    import geopandas as gpd
    from affine import Affine
    from shapely.geometry import Point

    from gis.flood.hazard import wet_mask_sampler
    from gis.flood.plan import _depth_on
    from layers.raster import Raster

    rng = np.random.default_rng(7)
    crs = "EPSG:32650"
    dem = Raster(np.zeros((60, 80), "float32"), Affine(30.0, 0, 500_000.0, 0, -30.0, 3_000_000.0), crs, None)
    zones = gpd.GeoDataFrame(
        {"depth": [1.0, 2.5, np.nan, 0.4]},
        geometry=[Point(500_000 + rng.uniform(300, 2100), 3_000_000 - rng.uniform(300, 1500)).buffer(r)
                  for r in (400.0, 250.0, 300.0, 600.0)], crs=crs)
    from gis.flood.hazard import Hazard

    hz = Hazard.from_polygons(zones.to_crs(4490), name="zones")
    burnt = _depth_on(dem, wet_mask_sampler(hz, crs=dem.crs), hz).array
    sampled = _depth_on(dem, wet_mask_sampler(hz, crs=dem.crs)).array
    wet_b, wet_s = np.isfinite(burnt), np.isfinite(sampled)
    assert wet_s.sum() > 500
    assert (wet_b != wet_s).sum() <= 0.01 * wet_s.sum()          # cells on a zone's edge only
    both = wet_b & wet_s
    assert np.allclose(burnt[both], sampled[both])
    assert burnt[both].max() == 99.0                               # the zone of unknown depth is not walked into


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_pricing_flags_every_grid_with_an_arc_that_prices_out(seed):
    """``Candidates.price`` finds, without listing arcs, the grids that have an arc whose rounded reduced cost is
    -1 or less against whole-unit duals (the arcs the flow's certificate must add); the grids it flags have an
    arc at -0.5 or less. Checked against the complete option table under random duals."""
    dem, g, s, r, rivers, hz, rng = _county(seed)
    plan = evacuation_plan(g, s, hz, roads=r, dem=dem, rivers=rivers, options=OPTS)
    cands = plan.candidates
    table = cands.for_grids(None, cands.grid_ids)
    if not len(table):
        return
    for _ in range(5):
        gd = pd.Series(rng.integers(-3000, 1, len(cands.grid_ids)).astype(float), index=cands.grid_ids)
        sd = pd.Series(rng.integers(0, 3000, len(cands.shelter_ids)).astype(float), index=cands.shelter_ids)
        c = table["cost"].to_numpy()
        g_d = gd.reindex(table["origin_id"]).to_numpy()
        s_d = sd.reindex(table["dest_id"]).to_numpy()
        must = set(table["origin_id"][np.rint(c) + g_d - s_d <= -1])
        may = set(table["origin_id"][c + g_d - s_d <= -0.5 + 1e-6])
        flagged = set(cands.price(gd, sd).tolist())
        assert must <= flagged <= may
        # the arcs listed for pricing: each grid's 3 most negative reduced costs, at their true costs
        listed = cands.for_grids(3, cands.grid_ids, bias=sd.max() - sd)
        ref = table.assign(key=c - s_d).sort_values(["origin_id", "key"]).groupby("origin_id").head(3)
        got = listed.assign(key=listed["cost"] - sd.reindex(listed["dest_id"]).to_numpy())
        for gid, want in ref.groupby("origin_id"):
            mine = got[got["origin_id"] == gid]
            assert np.allclose(np.sort(mine["key"].to_numpy()), np.sort(want["key"].to_numpy()))
            true = table.set_index(["origin_id", "dest_id"])["cost"]
            assert np.allclose(mine["cost"].to_numpy(), true.loc[list(zip(mine["origin_id"], mine["dest_id"]))])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), limit=st.sampled_from([300, 900, 1500]))
def test_a_grid_that_could_not_widen_gains_nothing_by_widening(seed, limit):
    """``Candidates.could_widen`` is a sound filter: a grid it rules out gets no new shelter among those asked
    about when its walking reach is widened anyway (at 300 m most grids are ruled out; at 900-1500 m widening
    finds new shelters on these counties)."""
    dem, g, s, r, rivers, hz, rng = _county(seed)
    plan = evacuation_plan(g, s, hz, roads=r, dem=dem, rivers=rivers,
                           options=PlanOptions(rule=EvacuationRule(basis="area", min_depth=0.1), walk_limit_m=limit))
    cands = plan.candidates
    grids = [x for x in cands.grid_ids if x not in cands.extended]
    if not grids or not len(cands.shelter_ids):
        return
    ask = cands.shelter_ids[rng.random(len(cands.shelter_ids)) < 0.6]
    before = set(map(tuple, cands.for_grids(None, grids, ask)[["origin_id", "dest_id"]].to_numpy().tolist()))
    could = dict(zip(grids, cands.could_widen(grids, ask), strict=True))
    cands.extend(grids)
    after = set(map(tuple, cands.for_grids(None, grids, ask)[["origin_id", "dest_id"]].to_numpy().tolist()))
    assert all(could[o] for o, _ in after - before)


@pytest.mark.parametrize("offset", [(0, 0), (3, -2), (-5, 7)])
def test_a_depth_raster_on_the_terrain_grid_is_read_as_the_sampler_would(offset):
    """A depth raster on the terrain's own cell grid (HAND on the terrain frame) is read by array offset; the
    values equal the point-by-point sampler's at the cell centres, NaN outside the raster and for its nodata."""
    from gis.flood.hazard import wet_mask_sampler
    from gis.flood.plan import _depth_on

    rng = np.random.default_rng(3)
    dem = _dem(rng.normal(0, 1, (40, 50)))
    dr, dc = offset
    d = rng.uniform(0, 3, (30, 45)).astype("float32")
    d[d < 0.7] = np.nan
    d[5, 5] = -9999.0
    depth = Raster(d, Affine(CELL, 0, X0 + dc * CELL, 0, -CELL, Y0 - dr * CELL), CRS, -9999.0, name="d")
    hz = Hazard.from_depth_raster(depth, name="t")
    fast = _depth_on(dem, wet_mask_sampler(hz, crs=CRS), hz).array
    slow = _depth_on(dem, wet_mask_sampler(hz, crs=CRS)).array   # no hazard given: sampled at the cell centres
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    assert np.allclose(fast[~np.isnan(fast)], slow[~np.isnan(slow)])
    assert np.isfinite(fast).sum() > 100


@pytest.mark.parametrize("seed", [20, 33])   # counties where several grids reach shelters by road
def test_the_label_search_gives_each_grid_the_k_cheapest_as_one_dijkstra_per_source_does(seed, monkeypatch):
    """``for_grids(k)`` by the multi-label road search equals the per-source Dijkstra path (``k_best``): the same
    k cheapest costs per grid, plain and ranked by a bias (pricing)."""
    import gis.flood.candidates as cand

    dem, g, s, r, rivers, hz, rng = _county(seed)
    cands = evacuation_plan(g, s, hz, roads=r, dem=dem, rivers=rivers, options=OPTS).candidates
    bias = pd.Series(rng.uniform(0, 500, len(cands.shelter_ids)), index=cands.shelter_ids)
    roads_seen = False
    for k, b in ((1, None), (3, None), (3, bias)):
        def per_grid(t: pd.DataFrame, b: pd.Series | None = b) -> dict:
            key = t["cost"] + (0.0 if b is None else b.reindex(t["dest_id"]).to_numpy())
            return {gid: sorted(np.round(v, 6)) for gid, v in key.groupby(t["origin_id"].to_numpy())}
        table = cands.for_grids(k, cands.grid_ids, bias=b)
        roads_seen = roads_seen or bool((table["mode"] == "road").any())
        labels = per_grid(table)
        monkeypatch.setattr(cand, "LABEL_K_MAX", 0)
        dijkstra = per_grid(cands.for_grids(k, cands.grid_ids, bias=b))
        monkeypatch.setattr(cand, "LABEL_K_MAX", 32)
        assert labels == dijkstra
    assert roads_seen   # the road search was exercised


def test_layers_without_the_fields_the_plan_keys_on_are_refused_by_name():
    """A workspace edited outside the tool can lose a field: the plan says which layer and field, in both
    languages (the page shows it as an error box), instead of a KeyError."""
    from layers.errors import AnalysisRefused

    dem, g, s, r, rivers, hz, _ = _county(20)
    with pytest.raises(AnalysisRefused) as err:
        evacuation_plan(g, s.drop(columns=["shelter_id"]), hz, roads=r, dem=dem, rivers=rivers, options=OPTS)
    (p,) = err.value.problems
    assert p.field == "shelter_id" and p.file == "shelters" and "shelter_id" in p.zh and "shelter_id" in p.en
