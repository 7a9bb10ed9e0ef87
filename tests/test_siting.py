"""Siting: greedy maximal coverage against the exact ILP, candidates, camera and water siting, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString, Point

from gis.fire.siting import (
    exact_max_coverage,
    greedy_max_coverage,
    ridge_candidates,
    site_cameras,
    site_water,
    stream_candidates,
)
from layers.errors import AnalysisRefused
from layers.raster import Raster

ROOT = Path(__file__).resolve().parents[1]
X0, Y0, RES = 500_000.0, 3_320_000.0, 30.0   # EPSG:4549


def _raster(z: np.ndarray) -> Raster:
    return Raster(z.astype(np.float32), Affine(RES, 0, X0, 0, -RES, Y0), "EPSG:4549", None)


def _xy(r: int, c: int) -> tuple[float, float]:
    return X0 + (c + 0.5) * RES, Y0 - (r + 0.5) * RES


def _points(cells, names=None) -> gpd.GeoDataFrame:
    pts = [Point(*_xy(r, c)) for r, c in cells]
    return gpd.GeoDataFrame({"name": names or [f"P{i + 1}" for i in range(len(cells))]}, geometry=pts,
                            crs="EPSG:4549")


def _disc(radius_cells: float) -> int:
    k = int(radius_cells)
    return sum(1 for i in range(-k, k + 1) for j in range(-k, k + 1) if i * i + j * j <= radius_cells ** 2)


def _eager(sets, w, n):
    """Plain greedy, recomputing every gain every round (ties to the lower index)."""
    covered = np.zeros(len(w), bool)
    out = []
    for _ in range(n):
        gains = [w[np.unique(s)[~covered[np.unique(s)]]].sum() for s in sets]
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        out.append((best, float(gains[best])))
        covered[np.asarray(sets[best])] = True
    return out


# ---- greedy vs exact -----------------------------------------------------------------------------
def test_greedy_provably_suboptimal_case_is_reported_correctly():
    # S0 = {0,1,2,3,8} (5) is the best single set; S1 = {0,1,4,5} and S2 = {2,3,6,7} together cover 8.
    sets = [np.array([0, 1, 2, 3, 8]), np.array([0, 1, 4, 5]), np.array([2, 3, 6, 7])]
    g = greedy_max_coverage(sets, None, 2)
    assert g == [(0, 5.0), (1, 2.0)]          # the second gain is the *marginal* 2, not |S1| = 4
    chosen, opt = exact_max_coverage(sets, None, 2)
    assert chosen == [1, 2] and opt == pytest.approx(8.0)
    assert sum(x for _, x in g) == 7.0 < opt
    assert (1 - 1 / math.e) * opt <= 7.0


def test_greedy_equals_optimum_on_disjoint_sets():
    sets = [np.arange(0, 5), np.arange(5, 8), np.arange(8, 14), np.arange(14, 15)]
    g = greedy_max_coverage(sets, None, 2)
    assert g == [(2, 6.0), (0, 5.0)]
    chosen, opt = exact_max_coverage(sets, None, 2)
    assert chosen == [0, 2] and opt == 11.0


def test_weights_and_early_stop():
    sets = [np.array([0, 1]), np.array([2]), np.array([0])]
    w = np.array([1.0, 1.0, 5.0])
    assert greedy_max_coverage(sets, w, 5) == [(1, 5.0), (0, 2.0)]   # set 2 adds nothing: stops
    assert exact_max_coverage(sets, w, 2) == ([0, 1], 7.0)


@pytest.mark.parametrize("seed", range(12))
def test_lazy_greedy_matches_eager_and_bound(seed):
    rng = np.random.default_rng(seed)
    ne, m, n = 40, 12, 3
    w = rng.integers(1, 5, ne).astype(float)
    sets = [rng.choice(ne, size=rng.integers(1, 12), replace=False) for _ in range(m)]
    g = greedy_max_coverage(sets, w, n)
    assert g == _eager(sets, w, n)
    gains = [x for _, x in g]
    assert gains == sorted(gains, reverse=True)            # submodular: gains never grow
    covered = np.unique(np.concatenate([sets[i] for i, _ in g]))
    assert sum(gains) == pytest.approx(w[covered].sum())
    _, opt = exact_max_coverage(sets, w, n)
    assert opt >= sum(gains) - 1e-9
    assert sum(gains) >= (1 - 1 / math.e) * opt - 1e-9


# ---- candidates ----------------------------------------------------------------------------------
def _two_hills(n=80) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return (200 + 120 * np.exp(-((yy - 20) ** 2 + (xx - 20) ** 2) / 60.0)
            + 80 * np.exp(-((yy - 60) ** 2 + (xx - 55) ** 2) / 60.0))


def test_ridge_candidates_are_the_peaks():
    dem = _raster(_two_hills())
    target = np.ones(dem.shape, bool)
    rows, cols = ridge_candidates(dem, target, reach_m=600, min_prominence_m=20)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(20, 20), (60, 55)]
    # a road far from the lower hill only keeps the higher one
    road = gpd.GeoDataFrame(geometry=[LineString([_xy(0, 20), _xy(30, 20)])], crs="EPSG:4549")
    rows, cols = ridge_candidates(dem, target, reach_m=600, roads=road, max_road_m=300)
    assert list(zip(rows.tolist(), cols.tolist())) == [(20, 20)]
    # nothing stands out on a plane
    rows, _ = ridge_candidates(_raster(np.full((40, 40), 100.0)), np.ones((40, 40), bool), reach_m=300)
    assert len(rows) == 0


def test_stream_candidates_near_road_and_spaced():
    dem = _raster(np.full((60, 60), 100.0))
    river = gpd.GeoDataFrame(geometry=[LineString([_xy(30, 0), _xy(30, 59)])], crs="EPSG:4549")
    road = gpd.GeoDataFrame(geometry=[LineString([_xy(0, 10), _xy(59, 10)])], crs="EPSG:4549")
    target = np.zeros(dem.shape, bool)
    target[:, :12] = True
    rows, cols, notes = stream_candidates(dem, target, reach_m=300, rivers=river, roads=road, max_road_m=150,
                                          spacing_m=90)
    assert set(rows.tolist()) == {30}
    assert all(abs(c - 10) <= 5 for c in cols)             # within 150 m (5 cells) of the road's column
    assert all(abs(a - b) >= 3 for a in cols for b in cols if a != b)   # 90 m apart
    assert "rivers" in notes[0][1]


# ---- camera siting ---------------------------------------------------------------------------------
def test_site_cameras_gains_by_hand():
    dem = _raster(np.full((60, 60), 100.0))
    target = np.ones(dem.shape, bool)
    cand = _points([(15, 15), (45, 45), (15, 16)], ["A", "B", "A2"])
    res = site_cameras(dem, target, None, 2, candidates=cand, height=30, range_m=300)
    disc_ha = _disc(10) * RES * RES / 1e4             # 317 cells within 300 m on a plane
    s = res.sites
    assert s["name"].tolist() == ["A", "B"]           # A and A2 tie with B; A2 then adds only a sliver
    assert s["gain_ha"].tolist() == pytest.approx([disc_ha, disc_ha])
    assert s["cumulative_ha"].tolist() == pytest.approx([disc_ha, 2 * disc_ha])
    total = 60 * 60 * 0.09
    assert res.target_ha == pytest.approx(total) and res.covered_before_ha == 0
    assert s["cumulative_share"].tolist() == pytest.approx([disc_ha / total, 2 * disc_ha / total], abs=1e-6)
    assert s["elevation"].tolist() == [100.0, 100.0]
    assert str(s.crs).upper().endswith("4490")
    xy = s.to_crs("EPSG:4549").geometry.iloc[0]
    assert (xy.x, xy.y) == pytest.approx(_xy(15, 15))
    # existing coverage around A: B comes first, and A2 then adds the column A's disc misses
    covered = np.zeros(dem.shape, bool)
    yy, xx = np.mgrid[:60, :60]
    covered[np.hypot(yy - 15, xx - 15) <= 10] = True
    res2 = site_cameras(dem, target, covered, 3, candidates=cand, height=30, range_m=300)
    assert res2.sites["name"].tolist()[0] == "B"
    assert res2.covered_before_ha == pytest.approx(disc_ha)
    gains = res2.sites["gain_ha"].tolist()
    extra = int(((np.hypot(yy - 15, xx - 16) <= 10) & ~covered).sum()) * 0.09
    assert gains[:2] == pytest.approx([disc_ha, extra])
    assert len(gains) == 2 and any("no coverage" in en for _, en in res2.notes)


def test_site_cameras_greedy_vs_exact_on_terrain():
    from gis.fire.viewshed import viewshed

    z = _two_hills(60)
    dem = _raster(z)
    target = np.zeros(dem.shape, bool)
    target[::2, ::3] = True
    cells = [(20, 20), (45, 45), (5, 50), (50, 5), (30, 30), (10, 10)]
    cand = _points(cells)
    res = site_cameras(dem, target, None, 2, candidates=cand, height=10, range_m=700)
    sets = [np.flatnonzero((viewshed(z.astype(float), RES, r, c, 10, max_range_m=700) & target).ravel())
            for r, c in cells]
    g = greedy_max_coverage(sets, None, 2)
    assert res.sites["name"].tolist() == [f"P{i + 1}" for i, _ in g]
    assert res.sites["gain_ha"].tolist() == pytest.approx([x * 0.09 for _, x in g])
    _, opt = exact_max_coverage(sets, None, 2)
    assert sum(x for _, x in g) >= (1 - 1 / math.e) * opt


def test_no_candidates_and_n_above_candidates():
    flat = _raster(np.full((40, 40), 100.0))
    with pytest.raises(AnalysisRefused) as e:     # valid inputs the analysis refuses (was LayerError)
        site_cameras(flat, np.ones((40, 40), bool), None, 3)
    assert "ridge" in str(e.value) and "山脊" in str(e.value)
    far = _points([(0, 0)]).assign(geometry=[Point(0, 0)])
    with pytest.raises(AnalysisRefused):
        site_cameras(flat, np.ones((40, 40), bool), None, 3, candidates=far)
    res = site_cameras(flat, np.ones((40, 40), bool), None, 5, candidates=_points([(10, 10), (30, 30)]),
                       range_m=200)
    assert len(res.sites) == 2 and any("fewer than the 5" in en for _, en in res.notes)


# ---- water siting ----------------------------------------------------------------------------------
def test_site_water_reach_with_rise_limit():
    # a ramp rising 10 m per column eastwards; a new pond at column 20 reaches 300 m (10 cells)
    # but only 50 m uphill: columns up to 25
    z = np.tile(np.arange(60) * 10.0, (60, 1))
    dem = _raster(z)
    target = np.ones(dem.shape, bool)
    res = site_water(dem, target, None, 1, candidates=_points([(30, 20)]), distance_m=300, rise_m=50)
    yy, xx = np.mgrid[:60, :60]
    expect = ((np.hypot(yy - 30, xx - 20) <= 10) & (xx <= 25)).sum() * 0.09
    assert res.sites["gain_ha"].iloc[0] == pytest.approx(expect)
    assert res.sites["elevation"].iloc[0] == 200.0
    free = site_water(dem, target, None, 1, candidates=_points([(30, 20)]), distance_m=300, rise_m=None)
    assert free.sites["gain_ha"].iloc[0] == pytest.approx(_disc(10) * 0.09)


def test_site_water_from_streams():
    dem = _raster(np.full((60, 60), 100.0))
    river = gpd.GeoDataFrame(geometry=[LineString([_xy(30, 0), _xy(30, 59)])], crs="EPSG:4549")
    road = gpd.GeoDataFrame({"name": ["林道"]}, geometry=[LineString([_xy(0, 40), _xy(59, 40)])], crs="EPSG:4549")
    target = np.zeros(dem.shape, bool)
    target[20:40, 35:45] = True
    res = site_water(dem, target, None, 1, rivers=river, roads=road, distance_m=300, rise_m=None, max_road_m=150,
                     spacing_m=30)
    s = res.sites.iloc[0]
    assert s["origin"] == "stream" and s["row"] == 30 and 35 <= s["col"] <= 45   # within 150 m of the road
    assert s["road_dist_m"] <= 150
    yy, xx = np.mgrid[:60, :60]
    best = max(int((target & (np.hypot(yy - 30, xx - c) <= 10)).sum()) for c in range(35, 46))
    assert s["gain_ha"] == pytest.approx(best * 0.09)
    assert res.candidates in (10, 11)     # columns 35..45 of the river row (the two 150 m edges are borderline)


# ---- CLI -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["camera", "water"])
def test_cli_siting_on_demo(demo_workspace, tmp_path, kind):
    ws = demo_workspace / "workspace.gpkg"
    out = tmp_path / "sites.gpkg"
    extra = (["--cameras", str(ws), "--max-candidates", "25", "--range", "5000"] if kind == "camera"
             else ["--sources", str(ws), "--rivers", str(ws), "--max-candidates", "60"])
    p = subprocess.run([sys.executable, "-m", "gis", "siting", "--kind", kind, "--n", "3", "--dem",
                        str(demo_workspace / "dem.tif"), "--forest", str(ws), "--roads", str(ws), "--out", str(out),
                        "--json", "--lang", "en", *extra],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    sites = js["sites"]
    assert js["chosen"] == len(sites) == 3
    assert [s["order"] for s in sites] == [1, 2, 3]
    gains = [s["gain_ha"] for s in sites]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert sites[-1]["cumulative_ha"] == pytest.approx(sum(gains), abs=0.01)
    assert js["covered_after_share"] == pytest.approx(
        (js["covered_before_ha"] + sum(gains)) / js["target_ha"], abs=1e-5)
    g = gpd.read_file(out)
    assert len(g) == 3 and g["gain_ha"].tolist() == pytest.approx(gains)


def test_cli_siting_bad_n(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gis", "siting", "--kind", "camera", "--n", "0", "--dem", "x.tif",
                        "--forest", "f.gpkg", "--out", str(tmp_path / "s.gpkg")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "--n" in p.stderr and "Traceback" not in p.stderr


def test_candidate_viewsheds_match_single_viewsheds():
    from scipy.ndimage import gaussian_filter

    from gis.fire.siting import candidate_viewsheds
    from gis.fire.viewshed import viewshed

    z = gaussian_filter(np.random.default_rng(3).normal(size=(90, 70)), 3) * 400 + 500
    z[40:44, 10:14] = np.nan
    rows, cols = np.array([0, 45, 89, 20, 60, 42]), np.array([0, 35, 69, 60, 5, 12])
    open_mask = np.random.default_rng(4).random(z.shape) < 0.7
    got = candidate_viewsheds(z, 30.0, rows, cols, open_mask, height=15, range_m=900)
    assert len(got) == len(rows)
    for (r, c), g in zip(zip(rows, cols), got):
        v = viewshed(z, 30.0, int(r), int(c), 15, max_range_m=900)
        np.testing.assert_array_equal(np.sort(g), np.flatnonzero((v & open_mask).ravel()))


def test_cli_uploaded_candidates_csv(tmp_path):
    import pyproj

    from layers.raster import write_raster

    write_raster(_raster(np.full((60, 60), 100.0)), tmp_path / "dem.tif", dtype="float32")
    forest = gpd.GeoDataFrame({"township": ["甲乡"], "forest_type": ["conifer"]},
                              geometry=[Point(*_xy(30, 30)).buffer(600)], crs="EPSG:4549").to_crs(4490)
    forest.to_file(tmp_path / "forest.gpkg")
    to_ll = pyproj.Transformer.from_crs(4549, 4490, always_xy=True)
    (lon1, lat1), (lon2, lat2) = to_ll.transform(*_xy(30, 30)), to_ll.transform(*_xy(30, 10))
    (tmp_path / "cand.csv").write_text(f"名称,经度,纬度\n中心池,{lon1},{lat1}\n西池,{lon2},{lat2}\n远处,100.0,20.0\n",
                                       encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "gis", "siting", "--kind", "water", "--n", "4", "--dem",
                        str(tmp_path / "dem.tif"), "--forest", str(tmp_path / "forest.gpkg"), "--candidates",
                        str(tmp_path / "cand.csv"), "--reach-distance", "300", "--out", str(tmp_path / "s.geojson"),
                        "--json", "--lang", "en"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    assert js["candidates"] == 2
    assert [s["name"] for s in js["sites"]] == ["中心池", "西池"]
    assert js["sites"][0]["gain_ha"] == pytest.approx(_disc(10) * 0.09)
    assert any("skipped" in n and "远处" in n for n in js["notes"])
    assert any("fewer than the 4" in n for n in js["notes"])
    assert any("all forest is the target" in n for n in js["notes"])


def test_thin_spacing_and_spread_over_blocks():
    from gis.fire.siting import _thin

    # a dense cluster of strong candidates in one corner, two weak ones far away, one covering nothing
    rows = np.array([0, 0, 1, 5, 90, 50, 70])
    cols = np.array([0, 2, 1, 5, 90, 50, 10])
    score = np.array([10.0, 9.0, 8.0, 7.0, 2.0, 1.0, 0.0])
    # 60 m spacing at 30 m cells: (1,1) is closer than 2 cells to (0,0) -> dropped; (0,2) is exactly 60 m
    # away -> kept; (70,10) covers nothing -> dropped
    kept = _thin(rows, cols, score, 30.0, 60.0, cap=10, block_m=600.0)
    assert kept.tolist() == [0, 1, 3, 4, 5]
    # cap 3 over 20-cell blocks: (0,2) and (5,5) share the corner block with (0,0): the far ones come first
    kept = _thin(rows, cols, score, 30.0, 60.0, cap=3, block_m=600.0)
    assert kept.tolist() == [0, 4, 5]


def test_metric_grid_and_on_grid_for_a_dem_in_degrees():
    from gis.fire.siting import metric_grid, on_grid

    geo = Raster(np.full((40, 50), 300.0, np.float32), Affine(0.0003, 0, 119.9, 0, -0.0003, 28.5), "EPSG:4490", None)
    m, notes = metric_grid(geo)
    assert not m.is_geographic and m.res[0] == pytest.approx(m.res[1])
    assert 25 < m.res[0] < 35 and "EPSG:4549" in notes[0][1]
    assert np.nanmax(m.array) == pytest.approx(300.0)
    same, none = metric_grid(m)
    assert same is m and none == []
    # levels on the geographic grid, brought onto the metric one by nearest neighbour
    lv = Raster(np.full((40, 50), 5, np.uint8), geo.transform, geo.crs, 0)
    got = on_grid(lv, m, fill=0)
    assert got.shape == m.shape and set(np.unique(got)) <= {0, 5} and (got == 5).mean() > 0.8
