"""Road graph, flooded roads, network costs and routes on a hand-made road layer (EPSG:4549, metres)."""

from __future__ import annotations

import math

import affine
import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, box

from gis.flood.hazard import wet_mask_sampler
from gis.flood.roads import (
    build_graph,
    cut_flooded,
    nearest_nodes,
    network_costs,
    route_line,
    route_lines,
    straight_line_costs,
)
from layers.raster import Raster

X0, Y0 = 500_000.0, 3_100_000.0
CRS = "EPSG:4549"


def P(x, y):
    return (X0 + x, Y0 + y)


@pytest.fixture()
def roads() -> gpd.GeoDataFrame:
    """A--B direct (1000 m); A-(0,600)-(500,600)-(1000,600)-B detour (2200 m); a spur ending 3 m short of
    (500,600) up to (500,1000); a far road (5000..6000, 5000) not connected to the rest."""
    lines = [LineString([P(0, 0), P(1000, 0)]),
             LineString([P(0, 0), P(0, 600), P(500, 600), P(1000, 600), P(1000, 0)]),
             LineString([P(500, 603), P(500, 1000)]),
             LineString([P(5000, 5000), P(6000, 5000)])]
    return gpd.GeoDataFrame({"road_class": ["county", "village", "track", None], "speed": [None, 36.0, None, None]},
                            geometry=lines, crs=CRS)


def test_graph_nodes_edges_components(roads):
    g = build_graph(roads, crs=CRS)
    assert g.n_nodes == 8  # A, B, 3 detour vertices (the spur end joins the middle one), spur top, 2 far
    assert g.n_edges == 7
    assert g.n_components == 2
    assert any("disconnected" in en for _, en in g.notes)
    # travel time: county default 40 km/h on A-B; the detour has speed 36 km/h = 10 m/s
    e = np.flatnonzero(np.isclose(g.length, 1000.0) & (g.road == 0))
    assert math.isclose(g.time[e[0]], 1000.0 / (40 / 3.6))
    assert math.isclose(g.time[g.road == 1].sum(), 2200.0 / 10.0)
    # track default 10 km/h on the spur
    assert math.isclose(g.time[g.road == 2].sum(), 397.0 / (10 / 3.6))


def test_shortest_distances_known(roads):
    g = build_graph(roads, crs=CRS)
    oxy = np.array([P(0, -10)])
    dxy = np.array([P(1000, 0), P(500, 1000), P(6000, 5000)])
    c = network_costs(g, oxy, dxy, k=3, origin_ids=["g1"], dest_ids=["B", "top", "far"])
    t = c.table.set_index("dest_id")
    assert math.isclose(t.loc["B", "cost"], 1010.0)
    assert math.isclose(t.loc["top", "cost"], 10.0 + 600 + 500 + 397)
    assert "far" not in t.index  # another component
    assert list(c.table["rank"]) == [1, 2]
    assert c.origins.loc[0, "reachable"] == 2 and not c.origins.loc[0, "unreachable"]
    assert c.dests.set_index("dest_id").loc["far", "component"] != c.origins.loc[0, "component"]


def test_time_weight(roads):
    g = build_graph(roads, crs=CRS)
    c = network_costs(g, np.array([P(0, 0)]), np.array([P(1000, 0)]), k=1, weight="time")
    assert math.isclose(c.table["cost"].iloc[0], 1000.0 / (40 / 3.6))


def test_route_avoids_flooded_road(roads):
    g = build_graph(roads, crs=CRS)
    flood = box(*P(450, -50), *P(550, 50))
    cut = cut_flooded(g, wet_mask_sampler(flood, crs=CRS))
    assert int(cut.cut.sum()) == 1 and cut.n_edges == g.n_edges - 1
    a, _ = nearest_nodes(cut, np.array([P(0, 0)]))
    b, _ = nearest_nodes(cut, np.array([P(1000, 0)]))
    line = route_line(cut, a[0], b[0])
    assert math.isclose(line.length, 2200.0)
    assert math.isclose(route_line(g, a[0], b[0]).length, 1000.0)
    c = network_costs(cut, np.array([P(0, 0)]), np.array([P(1000, 0)]), k=1)
    assert math.isclose(c.table["cost"].iloc[0], 2200.0)
    r = route_lines(cut, a, b)
    assert math.isclose(r["length_m"].iloc[0], 2200.0) and math.isclose(r["time_s"].iloc[0], 220.0)


def test_flood_raster_and_passable_depth(roads):
    g = build_graph(roads, crs=CRS)
    arr = np.full((20, 20), np.nan)
    arr[9:11, 9:11] = 0.5  # 100 m cells: x 900..1100 -> road A-B at x=900..1000? no: cells cover x 900-1100
    tr = affine.Affine(100.0, 0, X0 - 500, 0, -100.0, Y0 + 1000)  # covers x -500..1500, y -1000..1000
    arr[:] = np.nan
    arr[10, 10] = 0.5  # x 500..600, y -100..0 -> the A-B road at y=0 sits on the cell's top edge
    arr[9, 10] = 0.5   # x 500..600, y 0..100
    r = Raster(arr, tr, CRS, None)
    assert int(cut_flooded(g, wet_mask_sampler(r, crs=CRS)).cut.sum()) == 1
    r2 = Raster(np.where(np.isnan(arr), np.nan, 0.2), tr, CRS, None)
    assert int(cut_flooded(g, wet_mask_sampler(r2, crs=CRS)).cut.sum()) == 0  # 0.2 m is passable


def test_hazard_like_and_geodataframe(roads):
    g = build_graph(roads, crs=CRS)
    polys = gpd.GeoDataFrame({"depth": [0.1, 1.0]}, geometry=[box(*P(450, -50), *P(550, 50)),
                                                                box(*P(-50, 250), *P(50, 350))], crs=CRS)

    class H:
        depth = None
        polygons = polys.to_crs(4490)

    cut = cut_flooded(g, wet_mask_sampler(H(), crs=CRS))
    assert int(cut.cut.sum()) == 1  # only the 1.0 m polygon, on the detour's first leg
    a, _ = nearest_nodes(cut, np.array([P(0, 0)]))
    b, _ = nearest_nodes(cut, np.array([P(1000, 0)]))
    assert math.isclose(route_line(cut, a[0], b[0]).length, 1000.0)


def test_disconnected_and_far_flagged(roads):
    g = build_graph(roads, crs=CRS)
    oxy = np.array([P(5500, 5010), P(0, -3000)])
    c = network_costs(g, oxy, np.array([P(1000, 0)]), k=5, origin_ids=["far_grid", "off_road"], max_snap_m=1000)
    o = c.origins.set_index("origin_id")
    assert o.loc["far_grid", "unreachable"] and o.loc["far_grid", "n_candidates"] == 0
    assert o.loc["off_road", "far_from_road"] and not o.loc["off_road", "unreachable"]
    assert "far_grid" not in set(c.table["origin_id"])
    assert any("no road route" in en for _, en in c.notes)
    assert any("from the nearest road" in en for _, en in c.notes)


def test_cut_off_road_walks_to_one_that_leads_on():
    """The nearest road is a stub with no shelter; a road 300 m away leads to one: walk there."""
    lines = [LineString([P(0, 0), P(2000, 0)]),            # main road, shelter at its east end
             LineString([P(-50, 310), P(50, 310)])]          # a stub 10 m from the grid, going nowhere
    g = build_graph(gpd.GeoDataFrame(geometry=lines, crs=CRS), crs=CRS)
    grid, shelter = np.array([P(0, 300)]), np.array([P(2000, 0)])
    c = network_costs(g, grid, shelter, k=1)
    o = c.origins.iloc[0]
    assert o["walked"] and not o["unreachable"] and o["snap_m"] == pytest.approx(300.0)
    assert c.table["cost"].iloc[0] == pytest.approx(300.0 + 2000.0)
    assert any("walk to another road" in en for _, en in c.notes)
    stay = network_costs(g, grid, shelter, k=1, walk_m=200)    # too far to walk: flagged, not dropped
    assert stay.origins["unreachable"].iloc[0] and not stay.origins["walked"].iloc[0] and stay.table.empty


def test_k_nearest_matches_full_dijkstra():
    """Random grid network: the K candidates equal a full all-pairs computation."""
    rng = np.random.default_rng(3)
    n = 12
    lines = []
    for i in range(n):
        for j in range(n):
            if i + 1 < n and rng.random() < 0.8:
                lines.append(LineString([P(i * 200, j * 200), P((i + 1) * 200, j * 200 + rng.normal(0, 20))]))
            if j + 1 < n and rng.random() < 0.8:
                lines.append(LineString([P(i * 200, j * 200), P(i * 200, (j + 1) * 200)]))
    roads = gpd.GeoDataFrame({"road_class": rng.choice(["county", "village", "track"], len(lines))},
                             geometry=lines, crs=CRS)
    g = build_graph(roads, crs=CRS, snap_m=0.5)
    oxy = np.array([P(x, y) for x, y in rng.uniform(0, 2200, (40, 2))])
    dxy = np.array([P(x, y) for x, y in rng.uniform(0, 2200, (9, 2))])
    from scipy.sparse import csgraph
    for weight in ("length", "time"):
        c = network_costs(g, oxy, dxy, k=3, weight=weight, chunk=2, limit=50.0, walk_m=0)
        full = csgraph.dijkstra(g.adjacency(weight), directed=False)
        on, osn = nearest_nodes(g, oxy)
        dn, dsn = nearest_nodes(g, dxy)
        acc = 1.0 if weight == "length" else 3.6 / 5.0
        want = full[np.ix_(on, dn)] + (osn[:, None] + dsn[None, :]) * acc
        for o in range(len(oxy)):
            got = c.table[c.table["origin_id"] == o]["cost"].to_numpy()
            exp = np.sort(want[o][np.isfinite(want[o])])[:3]
            np.testing.assert_allclose(got, exp)
        one = network_costs(g, oxy, dxy, k=1, weight=weight, walk_m=0)  # one Dijkstra from a virtual source
        has = np.isfinite(want).any(axis=1)
        t1 = one.table.sort_values("origin_id")
        assert t1["origin_id"].tolist() == np.flatnonzero(has).tolist()
        np.testing.assert_allclose(t1["cost"].to_numpy(), np.min(want[has], axis=1))
        picked = want[one.table["origin_id"].to_numpy(), one.table["dest_id"].to_numpy()]
        np.testing.assert_allclose(picked, one.table["cost"].to_numpy())


def test_straight_line():
    c = straight_line_costs(np.array([[0.0, 0.0]]), np.array([[300.0, 400.0], [0.0, 100.0]]), k=2,
                            dest_ids=["a", "b"])
    assert list(c.table["dest_id"]) == ["b", "a"]
    np.testing.assert_allclose(c.table["cost"], [140.0, 700.0])
    assert set(c.table["method"]) == {"straight_line"} and "1.4" in c.notes[0][1]
    t = straight_line_costs(np.array([[0.0, 0.0]]), np.array([[0.0, 1000.0]]), k=1, weight="time", speed_kmh=36)
    assert math.isclose(t.table["cost"].iloc[0], 140.0)


def test_shelter_access(roads):
    from gis.flood.roads import shelter_access

    g = build_graph(roads, crs=CRS)
    flood = box(*P(-50, -50), *P(50, 650))  # covers A and the first leg of the detour, and the A-B start
    depth = wet_mask_sampler(flood, crs=CRS)
    cut = cut_flooded(g, depth)
    acc = shelter_access(g, cut, np.array([P(0, 10), P(1000, 10), P(0, -100)]), depth)
    assert acc["flooded"].tolist() == [True, False, False]
    # A lost both its roads: the dry shelter 100 m south of it is cut off
    assert acc["road_cut"].tolist() == [True, False, True]
    assert acc["usable"].tolist() == [False, True, False]
