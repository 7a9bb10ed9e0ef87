"""Water-source reach: disc and rise limits on hand-made DEMs, usability filters, sole coverage, tables, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, box

from gis.fire.water_reach import (
    DEFAULT_RULES,
    UNKNOWN_TYPE_RULE,
    ReachRule,
    parse_rules,
    reach_by_township,
    site_reach,
    uncovered_patches,
    water_reach,
)
from layers.errors import AnalysisRefused, LayerError
from layers.raster import Raster, read_raster, write_raster

ROOT = Path(__file__).resolve().parents[1]
X0, Y0, RES = 500_000.0, 3_300_000.0, 30.0  # EPSG:4549 (CM 120E, about 29.8N)


def _grid(dem: np.ndarray) -> Raster:
    return Raster(np.asarray(dem, dtype=np.float64), Affine(RES, 0, X0, 0, -RES, Y0), pyproj.CRS.from_epsg(4549),
                  None, name="dem.tif")


def _xy(r: float, c: float) -> tuple[float, float]:
    """Centre of cell (r, c)."""
    return X0 + (c + 0.5) * RES, Y0 - (r + 0.5) * RES


def _sources(cells, **cols) -> gpd.GeoDataFrame:
    n = len(cells)
    data = {"name": [f"s{i}" for i in range(n)], "type": ["pond"] * n, "volume": [1000.0] * n,
            "seasonal": [False] * n, "helicopter": [False] * n, "depth": [1.0] * n, "status": ["available"] * n}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=[Point(*_xy(r, c)) for r, c in cells], crs="EPSG:4549")


def _disc(shape, r0, c0, radius_cells) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - r0) ** 2 + (xx - c0) ** 2 <= radius_cells ** 2


# ---- the definition on hand-made DEMs ---------------------------------------------------------
def test_flat_plane_disc_radius_bites():
    """300 m on a flat 30 m grid: the 317 lattice points of a radius-10 disc (Gauss circle N(10))."""
    g = _grid(np.zeros((41, 41)))
    res = water_reach(g, _sources([(20, 20)]), np.ones((41, 41), bool), rules={"pond": ReachRule(300.0, 250.0)})
    n = int((res.count > 0).sum())
    assert n == 317
    assert abs(n - np.pi * 10 ** 2) < 2 * np.pi * 10  # within one ring of pi r^2
    assert np.array_equal(res.count > 0, _disc((41, 41), 20, 20, 10))
    assert res.count[20, 30] == 1 and res.count[20, 31] == 0 and res.count[27, 27] == 1 and res.count[28, 28] == 0
    assert res.count.dtype == np.uint16 and res.sole.dtype == np.int32
    assert res.summary["forest_cells"] == 41 * 41 and res.summary["reach_cells"] == 317
    assert res.sources.loc[0, "forest_ha"] == pytest.approx(317 * 0.09)


def test_ramp_rise_limit_bites():
    """Ground rising 10 m per cell eastward; 600 m reach, 100 m rise: only 10 cells east of the source.

    Radius-20 disc: 1,257 cells; the columns 11..20 east of the source hold
    33+33+31+29+27+25+21+17+13+1 = 230 of them, so 1,027 are in reach (downhill is always fine).
    """
    dem = np.tile(np.arange(61, dtype=float) * 10.0, (41, 1))
    g = _grid(dem)
    res = water_reach(g, _sources([(20, 30)]), np.ones(dem.shape, bool), rules={"pond": ReachRule(600.0, 100.0)})
    assert int((res.count > 0).sum()) == 1027
    assert res.count[20, 40] == 1 and res.count[20, 41] == 0 and res.count[20, 10] == 1 and res.count[20, 9] == 0
    # no rise limit: the whole disc
    res = water_reach(g, _sources([(20, 30)]), np.ones(dem.shape, bool), rules={"pond": ReachRule(600.0, None)})
    assert int((res.count > 0).sum()) == 1257


def test_voids_never_in_reach_and_source_on_void_skipped():
    dem = np.zeros((21, 21))
    dem[10, 12] = np.nan
    dem[2, 2] = np.nan
    res = water_reach(_grid(dem), _sources([(10, 10), (2, 2)]), np.ones(dem.shape, bool),
                      rules={"pond": ReachRule(90.0, None)})
    assert res.count[10, 12] == 0 and res.count[10, 11] == 1
    assert int((res.count > 0).sum()) == 29 - 1  # N(3) = 29 lattice points, one void
    assert res.sources["reason"].tolist() == ["", "void"]
    assert any("void" in en and "s1" in en for _, en in res.notes)


def test_sole_coverage_golden():
    """Two 30 m discs (5 cells each) side by side share 2 cells; forest only in columns <= 5."""
    g = _grid(np.zeros((11, 11)))
    forest = np.zeros((11, 11), bool)
    forest[:, :6] = True
    res = water_reach(g, _sources([(5, 5), (5, 6)]), forest, rules={"pond": ReachRule(30.0, 10.0)})
    assert res.count[5, 5] == 2 and res.count[5, 6] == 2 and res.count[5, 4] == 1 and res.count[5, 7] == 1
    assert res.sole[5, 4] == 0 and res.sole[4, 5] == 0 and res.sole[5, 7] == 1 and res.sole[4, 6] == 1
    assert res.sole[5, 5] == -1 and res.sole[0, 0] == -1
    s = res.sources
    # A reaches forest (4,5) (6,5) (5,4) (5,5); B only (5,5); only A: the first three
    assert s["forest_ha"].tolist() == pytest.approx([0.36, 0.09])
    assert s["sole_forest_ha"].tolist() == pytest.approx([0.27, 0.0])
    assert res.summary["reach_cells"] == 4 and res.summary["forest_cells"] == 66
    assert res.summary["reach2_share"] == pytest.approx(1 / 66, abs=1e-6)


def test_site_reach_matches_definition_and_water_reach():
    dem = np.tile(np.arange(41, dtype=float) * 5.0, (41, 1))
    g = _grid(dem)
    xs, ys = zip(_xy(20, 20), _xy(3, 3), (X0 - 1000.0, Y0))
    cells = site_reach(g, xs, ys, distance_m=300.0, rise_m=20.0)
    assert len(cells) == 3 and cells[2].size == 0
    yy, xx = np.mgrid[:41, :41]
    want = _disc((41, 41), 20, 20, 10) & (xx - 20 <= 4)
    assert np.array_equal(np.sort(cells[0]), np.flatnonzero(want.ravel()))
    assert cells[0].dtype == np.int64 and np.all(np.diff(cells[0]) > 0)
    want3 = _disc((41, 41), 3, 3, 10) & (xx - 3 <= 4)  # clipped at the DEM's edge
    assert np.array_equal(cells[1], np.flatnonzero(want3.ravel()))
    res = water_reach(g, _sources([(20, 20)]), np.ones((41, 41), bool), rules={"pond": ReachRule(300.0, 20.0)})
    assert np.array_equal(np.flatnonzero(res.count.ravel() > 0), cells[0])
    # no rise limit, per-site distances
    c2 = site_reach(g, xs[:2], ys[:2], distance_m=[30.0, 0.0], rise_m=None)
    assert [len(c) for c in c2] == [5, 1]


# ---- which sources count --------------------------------------------------------------------------
def test_dry_season_drops_seasonal_and_status_drops_broken():
    g = _grid(np.zeros((30, 30)))
    src = _sources([(5, 5), (15, 15), (25, 25), (5, 25)], seasonal=[False, True, None, False],
                   status=["available", "available", "available", "damaged"],
                   type=["pond", "cistern", "pond", "tank"])
    f = np.ones((30, 30), bool)
    small = {"pond": ReachRule(60.0, None), "cistern": ReachRule(60.0, None)}
    dry = water_reach(g, src, f, season="dry", rules=small)
    wet = water_reach(g, src, f, season="wet", rules=small)
    assert dry.sources["usable"].tolist() == [True, False, True, False]
    assert dry.sources["reason"].tolist() == ["", "season", "", "status"]
    assert wet.sources["usable"].tolist() == [True, True, True, False]
    assert dry.by_type.loc["cistern", "dropped_season"] == 1 and dry.by_type.loc["cistern", "usable"] == 0
    assert dry.by_type.loc["tank", "dropped_status"] == 1 and wet.by_type.loc["cistern", "usable"] == 1
    assert dry.by_type.loc["pond", "usable"] == 2
    en = " ".join(e for _, e in dry.notes)
    assert "dry season" in en and "s1" in en and "out of service" in en and "s3" in en
    assert "taken as permanent" in en and "s2" in en  # unknown seasonality noted
    assert dry.count[15, 15] == 0 and wet.count[15, 15] == 1
    with pytest.raises(LayerError):
        water_reach(g, src, f, season="spring")


def test_road_filter_and_dip_sites_exempt():
    g = _grid(np.zeros((40, 40)))
    x, y = _xy(5, 0)
    road = gpd.GeoDataFrame(geometry=[LineString([(x, y), (x + 40 * RES, y)])], crs="EPSG:4549")
    # s0 on the road, s1 300 m south of it, s2 (dip site) 900 m south
    src = _sources([(5, 10), (15, 10), (35, 30)], helicopter=[False, False, True], depth=[1.0, 1.0, 3.0])
    res = water_reach(g, src, np.ones((40, 40), bool), roads=road, max_road_distance_m=200.0,
                      rules={"helicopter": ReachRule(600.0, None), "pond": ReachRule(60.0, 10.0)})
    assert res.sources["reason"].tolist() == ["", "road", ""]
    assert res.sources["road_distance_m"].tolist() == pytest.approx([0.0, 300.0, 900.0])
    assert res.sources["dip_site"].tolist() == [False, False, True]
    assert res.sources.loc[2, "air_distance_m"] == 600.0 and np.isnan(res.sources.loc[2, "air_rise_m"])
    assert res.sources.loc[2, "distance_m"] == 60.0 and res.sources.loc[2, "rise_m"] == 10.0
    assert any("helicopter" in en and "kept" in en for _, en in res.notes)
    assert res.by_type.loc["pond", "dropped_road"] == 1
    res2 = water_reach(g, src, np.ones((40, 40), bool), roads=road, max_road_distance_m=400.0)
    assert res2.sources["usable"].all()


def test_helicopter_needs_depth_and_unknown_type_gets_default_rule():
    g = _grid(np.zeros((30, 30)))
    src = _sources([(5, 5), (15, 15), (25, 25)], helicopter=[True, True, False], depth=[3.0, 2.0, 1.0],
                   type=["reservoir", "pond", None], volume=[5e5, np.nan, 10.0])
    res = water_reach(g, src, np.ones((30, 30), bool))
    s = res.sources
    assert s["dip_site"].tolist() == [True, False, False]
    assert s["distance_m"].tolist() == [1300.0, 1300.0, UNKNOWN_TYPE_RULE.distance_m]
    assert s["rise_m"].tolist() == [250.0, 250.0, UNKNOWN_TYPE_RULE.rise_m]
    assert s.loc[0, "air_distance_m"] == DEFAULT_RULES["helicopter"].distance_m
    assert s[["air_distance_m", "air_rise_m"]].iloc[1:].isna().all().all()
    en = " ".join(e for _, e in res.notes)
    assert "no or an unknown type" in en and "s2" in en
    assert "no volume" in en and "s1" in en
    assert "under 2.5 m" in en and "s1" in en
    assert res.summary["dip_sites"] == 1
    assert s.loc[2, "type"] == "" and res.by_type.loc["unknown", "usable"] == 1


def test_dip_site_reaches_the_union_of_its_air_and_ground_rules():
    """Ramp 10 m per cell eastward; dip site at column 30 with an air rule of 150 m (N(5) = 81 cells), no rise limit.

    Ground rule 600 m / 100 m rise: 1,027 cells (see the ramp test), which hold the whole air disc (it
    ends 5 columns east, the ground rule at 10): union 1,027, all ground reach. Ground rule 30 m / 5 m:
    its 5-cell disc loses the cell east (10 m up), so 4 ground cells; the union is the 81-cell air disc.
    """
    dem = np.tile(np.arange(61, dtype=float) * 10.0, (41, 1))
    g = _grid(dem)
    src = _sources([(20, 30)], helicopter=[True], depth=[3.0])
    f = np.ones(dem.shape, bool)
    res = water_reach(g, src, f, rules={"pond": ReachRule(600.0, 100.0), "helicopter": ReachRule(150.0, None)})
    assert int((res.count > 0).sum()) == 1027 and int(res.ground.sum()) == 1027
    assert res.summary["ground_reach_share"] == res.summary["reach_share"]
    res = water_reach(g, src, f, rules={"pond": ReachRule(30.0, 5.0), "helicopter": ReachRule(150.0, None)})
    assert int((res.count > 0).sum()) == 81 and int(res.ground.sum()) == 4
    assert res.count[20, 35] == 1 and not res.ground[20, 31] and res.ground[20, 29]
    assert res.summary["ground_reach_cells"] == 4 and res.summary["reach_cells"] == 81
    assert len(uncovered_patches(res, ground_only=True)) == 1
    assert uncovered_patches(res, ground_only=True).loc[0, "cells"] == 41 * 61 - 4


def test_source_outside_dem_noted_and_skipped():
    g = _grid(np.zeros((10, 10)))
    src = _sources([(5, 5), (50, 50)])
    res = water_reach(g, src, np.ones((10, 10), bool), rules={"pond": ReachRule(30.0, 10.0)})
    assert res.sources["reason"].tolist() == ["", "outside"]
    assert any("outside the DEM" in en and "s1" in en for _, en in res.notes)
    assert int(res.count.sum()) == 5


def test_forest_not_overlapping_dem_is_a_clear_error():
    g = _grid(np.zeros((10, 10)))
    far = gpd.GeoDataFrame({"township": ["甲"]}, geometry=[box(X0 + 1e5, Y0 - 1e5, X0 + 2e5, Y0)], crs="EPSG:4549")
    far.attrs["source"] = "forest.gpkg"
    with pytest.raises(AnalysisRefused) as e:     # valid inputs the analysis refuses (was LayerError)
        water_reach(g, _sources([(5, 5)]), far)
    assert "does not overlap" in str(e.value) and "forest.gpkg" in str(e.value) and "林地" in str(e.value)
    with pytest.raises(LayerError):
        water_reach(g, _sources([(5, 5)]), np.ones((3, 3), bool))


def test_parse_rules():
    r = parse_rules("pond=1500:300, tank=600:,helicopter=0,default=100:5")
    assert r["pond"] == ReachRule(1500.0, 300.0) and r["tank"] == ReachRule(600.0, None)
    assert r["helicopter"].distance_m == 0 and r["default"] == ReachRule(100.0, 5.0)
    assert r["reservoir"] == DEFAULT_RULES["reservoir"]
    for bad in ("lake=100:1", "pond=abc", "pond", "pond=-5:1"):
        with pytest.raises(LayerError) as e:
            parse_rules(bad)
        assert "type=metres:rise_metres" in str(e.value)
    # helicopter=0: dip sites off
    g = _grid(np.zeros((10, 10)))
    res = water_reach(g, _sources([(5, 5)], helicopter=[True], depth=[5.0]), np.ones((10, 10), bool),
                      rules=parse_rules("helicopter=0,pond=30:1"))
    assert not res.sources.loc[0, "dip_site"] and int(res.count.sum()) == 5


# ---- townships, high risk, patches --------------------------------------------------------------
def test_townships_high_risk_and_gaps_golden():
    """Forest: township 甲 columns 0-9, 乙 columns 10-19 (10 rows each); one source reaches 甲's cells only.

    Reach 60 m from cell (5, 4): N(2) = 13 cells, all in 甲. High risk (level 4+) in columns 3-4 and 15:
    甲 20 high-risk cells of which (3..7, 4) + (4..6, 3) = 5 + 3 = 8 in reach; 乙 10, none.
    """
    g = _grid(np.zeros((10, 20)))
    forest = gpd.GeoDataFrame({"township": ["甲", "乙"]},
                              geometry=[box(X0, Y0 - 300, X0 + 300, Y0), box(X0 + 300, Y0 - 300, X0 + 600, Y0)],
                              crs="EPSG:4549").to_crs(4490)
    levels = np.ones((10, 20), np.uint8)
    levels[:, 3:5] = 4
    levels[:, 15] = 5
    res = water_reach(g, _sources([(5, 4)]), forest, rules={"pond": ReachRule(60.0, None)}, high_risk=levels)
    t = res.townships
    assert list(t.index) == ["乙", "甲", "合计/Total"]
    assert t.loc["甲", "forest_ha"] == pytest.approx(9.0) and t.loc["甲", "reach_ha"] == pytest.approx(1.17)
    assert t.loc["甲", "reach_share"] == pytest.approx(0.13) and t.loc["乙", "reach_share"] == 0
    assert t.loc["甲", "high_risk_reach_share"] == pytest.approx(0.4) and t.loc["乙", "high_risk_reach_share"] == 0
    assert t.loc["合计/Total", "reach_share"] == pytest.approx(0.065)
    assert t.loc["合计/Total", "high_risk_reach_share"] == pytest.approx(8 / 30, abs=1e-4)
    assert res.summary["high_risk_cells"] == 30 and res.summary["high_risk_reach_cells"] == 8
    # the same table from the polygons directly
    t2 = reach_by_township(res.count_grid, res.grid, forest, high_risk=res.high_risk, ground=res.ground)
    assert t2.equals(t)
    assert t["ground_share"].tolist() == t["reach_share"].tolist()  # no dip site: all reach is ground reach
    # gaps: all forest minus the disc is one patch; high-risk gaps: 甲's two columns minus 8 cells (rows 0-2 and
    # (3, 3): 7 cells above, rows 8-9 and (7, 3): 5 below), 乙's column (10)
    gaps = uncovered_patches(res)
    assert len(gaps) == 1 and gaps.loc[0, "cells"] == 200 - 13 and gaps.crs.to_epsg() == 4490
    hgaps = uncovered_patches(res, high_risk_only=True)
    assert sorted(hgaps["cells"].tolist()) == [5, 7, 10]  # 甲's columns are cut in two by the disc
    assert hgaps["area_ha"].sum() == pytest.approx(22 * 0.09)
    # a levels Raster on the same grid gives the same
    res2 = water_reach(g, _sources([(5, 4)]), forest, rules={"pond": ReachRule(60.0, None)},
                       high_risk=Raster(levels, g.transform, g.crs, 0))
    assert res2.summary["high_risk_reach_cells"] == 8


def test_dem_in_degrees_is_reprojected():
    dem = np.zeros((40, 40))
    r = Raster(dem, Affine(0.0005, 0, 120.0, 0, -0.0005, 30.0), pyproj.CRS.from_epsg(4490), None, name="d.tif")
    src = gpd.GeoDataFrame({"type": ["pond"], "status": ["available"]}, geometry=[Point(120.01, 29.99)],
                           crs="EPSG:4490")
    res = water_reach(r, src, np.ones((40, 40), bool), rules={"pond": ReachRule(500.0, None)})
    assert res.count.shape == (40, 40) and res.sole.shape == (40, 40)
    assert any("degrees" in en for _, en in res.notes)
    assert res.count[20, 20] == 1 and res.count[0, 0] == 0 and res.sole[20, 20] == 0
    # ~48 m x 55 m cells: a 500 m disc covers about pi 500^2 / (48.3 * 55.5) = 293 cells
    assert 250 < int((res.count > 0).sum()) < 340


# ---- CLI ----------------------------------------------------------------------------------------
def test_cli_json_and_bad_rules(tmp_path):
    dem = np.tile(np.arange(60, dtype=float) * 2.0, (60, 1)) + 300.0
    write_raster(_grid(dem), tmp_path / "dem.tif", dtype="float32")
    src = _sources([(30, 30), (10, 10), (50, 50)], seasonal=[False, True, False],
                   type=["pond", "tank", "hydrant"], volume=[np.nan, 20.0, np.nan], source_id=["A1", "A2", "A3"])
    src.to_crs(4490).to_file(tmp_path / "ws.gpkg", layer="water_sources")
    forest = gpd.GeoDataFrame({"forest_type": ["mixed"], "township": ["甲"]},
                              geometry=[box(X0, Y0 - 1800, X0 + 1800, Y0)], crs="EPSG:4549").to_crs(4490)
    forest.to_file(tmp_path / "ws.gpkg", layer="forest")
    levels = np.full((60, 60), 4, np.uint8)
    write_raster(Raster(levels, _grid(dem).transform, _grid(dem).crs, 0), tmp_path / "risk.tif", dtype="uint8")
    out = tmp_path / "reach.tif"
    cmd = [sys.executable, "-m", "gis", "water-reach", "--dem", str(tmp_path / "dem.tif"), "--sources",
           str(tmp_path / "ws.gpkg"), "--forest", str(tmp_path / "ws.gpkg"), "--out", str(out), "--json",
           "--lang", "en", "--rules", "pond=300:,hydrant=90:1", "--high-risk", str(tmp_path / "risk.tif"),
           "--gaps-out", str(tmp_path / "gaps.gpkg")]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    # pond: 317 cells (radius 10, no rise limit); hydrant at (50,50): 90 m, 1 m rise on a 2 m/cell ramp:
    # N(3) = 29 minus the cells east of it (columns +1..+3 hold 5+5+1 = 11) -> 18
    assert js["forest_cells"] == 3600 and js["forest_cells_in_reach"] == 317 + 18
    assert js["reach_share"] == pytest.approx(335 / 3600, abs=1e-6)
    assert js["high_risk_reach_share"] == pytest.approx(335 / 3600, abs=1e-6)
    assert js["sources_usable"] == 2 and js["by_type"]["tank"]["dropped_season"] == 1
    assert js["townships"]["甲"]["reach_share"] == pytest.approx(0.0931, abs=1e-4)
    assert js["gap_patches"] == 1 and js["gap_ha"] == pytest.approx((3600 - 335) * 0.09)
    assert any("no volume" in n for n in js["notes"])
    r = read_raster(out)
    assert r.array.dtype == np.uint16 and r.shape == (60, 60) and int((r.array > 0).sum()) == 335
    assert len(gpd.read_file(tmp_path / "gaps.gpkg")) == 1
    # bad rules: exit 2, bilingual message, no traceback
    p = subprocess.run(cmd[:-6] + ["--rules", "lake=5:5"], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "lake=5:5" in p.stderr and "无法识别" in p.stderr


def test_cli_keeps_sources_without_type_with_a_note(tmp_path):
    write_raster(_grid(np.zeros((40, 40)) + 100.0), tmp_path / "dem.tif", dtype="float32")
    to_ll = pyproj.Transformer.from_crs(4549, 4490, always_xy=True)
    pts = [to_ll.transform(*_xy(10, 10)), to_ll.transform(*_xy(30, 30)), to_ll.transform(*_xy(10, 30))]
    (tmp_path / "ws.csv").write_text(
        "名称,经度,纬度,水源类型,蓄水量,季节性\n"
        f"甲塘,{pts[0][0]:.7f},{pts[0][1]:.7f},坝塘,3000,否\n"
        f"乙点,{pts[1][0]:.7f},{pts[1][1]:.7f},,,否\n"
        f"丙窖,{pts[2][0]:.7f},{pts[2][1]:.7f},水窖,,是\n", encoding="utf-8")
    gpd.GeoDataFrame({"township": ["甲"]}, geometry=[box(X0, Y0 - 1200, X0 + 1200, Y0)],
                     crs="EPSG:4549").to_crs(4490).to_file(tmp_path / "forest.geojson")
    p = subprocess.run([sys.executable, "-m", "gis", "water-reach", "--dem", str(tmp_path / "dem.tif"), "--sources",
                        str(tmp_path / "ws.csv"), "--forest", str(tmp_path / "forest.geojson"), "--out",
                        str(tmp_path / "r.tif"), "--json", "--lang", "en", "--rules", "pond=90:,default=30:5"],
                       capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    assert js["sources_usable"] == 2 and js["by_type"]["cistern"]["dropped_season"] == 1
    assert js["by_type"]["unknown"]["usable"] == 1
    assert js["forest_cells_in_reach"] == 29 + 5  # N(3) for the pond, N(1) for the untyped point
    notes = " ".join(js["notes"])
    assert "row(s) 3 have no source type" in notes and "乙点" in notes and "30 m, rise 5 m" in notes
