"""Exposure (gis.flood.exposure) of transfer grids and population rasters, worked by hand, and the ``exposure`` command.

The depth raster: 100 m cells in EPSG:4549, 4 rows x 5 columns, top-left at (500 000, 3 000 000)::

    0.2  1.0  2.0  4.0  0.7
    -    -    0.3  0.3  -
    -    -    -    -    -
    -    -    -    -    -

Leaf grids (level ``group``, parent ``P`` of level ``village`` covering them all, which is not counted):

- ``A``: cells rows 0-1, columns 0-1 -> 0.2, 1.0, dry, dry; 100 people, 40 households, 8 vulnerable
- ``B``: rows 0-1, columns 2-3 -> 2.0, 4.0, 0.3, 0.3; 200 people
- ``C``: rows 2-3, columns 0-3 -> dry; 50 people
- ``D``: a 10 m square in the corner of cell (0, 4) (no cell centre inside: sampled) -> 0.7; 10 people
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine
from shapely.geometry import box

from gis.flood.exposure import EvacuationRule, aggregate, exposure_summary, grid_exposure, raster_exposure, zonal_depth
from gis.flood.hazard import Hazard
from layers.errors import LayerError
from layers.raster import Raster, write_raster

ROOT = Path(__file__).resolve().parents[1]
X0, Y0, CELL = 500_000.0, 3_000_000.0, 100.0
NAN = np.nan
DEPTH = np.array([[0.2, 1.0, 2.0, 4.0, 0.7],
                  [NAN, NAN, 0.3, 0.3, NAN],
                  [NAN] * 5,
                  [NAN] * 5], dtype="float32")


def _cells(r0, c0, r1, c1):
    """Box over cells rows r0..r1-1, columns c0..c1-1."""
    return box(X0 + c0 * CELL, Y0 - r1 * CELL, X0 + c1 * CELL, Y0 - r0 * CELL)


def _depth(arr=DEPTH, cell=CELL) -> Raster:
    return Raster(np.asarray(arr, dtype="float32"), Affine(cell, 0, X0, 0, -cell, Y0), pyproj.CRS.from_epsg(4549),
                  None, name="depth.tif")


def _grids(crs: int = 4549) -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame({
        "grid_id": ["P", "A", "B", "C", "D"],
        "name": ["村网格", "甲", "乙", "丙", "丁"],
        "level": ["village", "group", "group", "group", "group"],
        "parent_id": [None, "P", "P", "P", "P"],
        "township": ["一镇", "一镇", "一镇", "二镇", "二镇"],
        "village": ["某村"] * 5,
        "households": [120, 40, 60, 15, 5],
        "population": [360, 100, 200, 50, 10],
        "vulnerable": [30, 8, 12, 6, 4],
    }, geometry=[_cells(0, 0, 4, 5), _cells(0, 0, 2, 2), _cells(0, 2, 2, 4), _cells(2, 0, 4, 4),
                 box(X0 + 400, Y0 - 10, X0 + 410, Y0)], crs=4549)
    return g if crs == 4549 else g.to_crs(crs)


def _by_id(t):
    return t.set_index("grid_id")


@pytest.mark.parametrize("crs", [4549, 4490])
def test_grid_exposure_on_a_depth_raster(crs):
    ex = grid_exposure(_grids(crs), Hazard.from_depth_raster(_depth()))
    t = _by_id(ex.table)
    assert list(t.index) == ["A", "B", "C", "D"]  # leaf grids only
    a, b, c, d = (t.loc[k] for k in "ABCD")
    assert a.flooded_share == pytest.approx(0.5) and a.max_depth == pytest.approx(1.0)
    assert a.mean_depth == pytest.approx(0.6) and a.depth_class == 2
    assert (a.population_c1, a.population_c2, a.population_c3, a.population_wet) == pytest.approx((25, 25, 0, 50))
    assert (a.households_c1, a.vulnerable_wet) == pytest.approx((10, 4))
    assert b.flooded_share == 1 and b.max_depth == pytest.approx(4.0) and b.mean_depth == pytest.approx(1.65)
    assert (b.population_c1, b.population_c2, b.population_c3, b.population_c4) == pytest.approx((100, 0, 50, 50))
    assert c.flooded_share == 0 and np.isnan(c.max_depth) and c.depth_class == 0 and c.population_wet == 0
    assert d.flooded_share == 1 and d.max_depth == pytest.approx(0.7) and d.population_c2 == pytest.approx(10)
    assert t["evacuate"].to_dict() == {"A": True, "B": True, "C": False, "D": True}
    assert t["evacuate_people"].sum() == pytest.approx(310)
    assert any("smaller than a cell" in en for _, en in ex.notes)   # notes travel in the typed result


def test_zonal_depth_counts_nested_levels_separately():
    z = zonal_depth(_grids(), _depth()).set_index(_grids()["grid_id"])
    assert z.loc["P", "cells"] == 20 and z.loc["P", "wet_cells"] == 7  # the parent sees every cell
    assert z.loc["A", "cells"] == 4 and z.loc["C", "cells"] == 8
    assert z.loc["D", "sampled"] and not z.loc["A", "sampled"]
    assert z.loc["P", "max_depth"] == pytest.approx(4.0)


def test_evacuation_rule_min_share_and_min_depth():
    hz = Hazard.from_depth_raster(_depth())
    t = _by_id(grid_exposure(_grids(), hz, rule=EvacuationRule(min_share=0.6)).table)
    assert t["evacuate"].to_dict() == {"A": False, "B": True, "C": False, "D": True}
    t = _by_id(grid_exposure(_grids(), hz, rule=EvacuationRule(min_depth=3.0)).table)
    assert t["evacuate"].to_dict() == {"A": False, "B": True, "C": False, "D": False}


def test_summary_on_grids_and_township_aggregation():
    s = exposure_summary(Hazard.from_depth_raster(_depth()), _grids(4490))
    assert s["overlap"] and s["exposure_kind"] == "grids"
    assert s["grids_total"] == 5 and s["leaf_grids"] == 4
    assert s["total_population"] == 360 and s["affected_population"] == 260
    assert s["by_threshold"] == {"0.5": 135, "1.5": 100, "3.0": 50}
    assert s["by_class"] == {"< 0.5 m": 125, "0.5-1.5 m": 35, "1.5-3 m": 50, ">= 3 m": 50}
    assert (s["flooded_grids"], s["evacuate_grids"], s["people_to_evacuate"]) == (3, 3, 310)
    assert s["households_to_evacuate"] == 105 and s["vulnerable_to_evacuate"] == 24
    towns = {r["township"]: r for r in s["by_township"]}
    assert towns["一镇"]["people_to_evacuate"] == 300 and towns["二镇"]["flooded_grids"] == 1
    agg = aggregate(grid_exposure(_grids(), Hazard.from_depth_raster(_depth())).table, "village")
    assert agg.loc[("一镇", "某村"), "population_wet"] == pytest.approx(250)
    json.dumps(s, ensure_ascii=False)


def test_polygon_hazard_exact_overlay_with_and_without_depth():
    zone = gpd.GeoDataFrame({"depth": [2.0]}, geometry=[_cells(0, 0, 2, 1)], crs=4549)  # left half of A
    t = _by_id(grid_exposure(_grids(4490), Hazard.from_polygons(zone)).table)
    assert t.loc["A", "flooded_share"] == pytest.approx(0.5, abs=1e-6)
    assert t.loc["A", "max_depth"] == pytest.approx(2.0) and t.loc["A", "population_c3"] == pytest.approx(50, 1e-5)
    assert t.loc["B", "flooded_share"] == pytest.approx(0, abs=1e-6) and not t.loc["B", "evacuate"]
    s = exposure_summary(Hazard.from_polygons(zone.drop(columns="depth")), _grids())
    assert s["affected_population"] == pytest.approx(50) and s["unknown_depth_population"] == pytest.approx(50)
    assert s["by_threshold"] == {"0.5": 0, "1.5": 0, "3.0": 0}
    assert s["evacuate_grids"] == 1 and s["people_to_evacuate"] == 100  # unknown depth: evacuate
    assert any("unknown depth" in n for n in s["notes_en"])


def test_population_raster_same_grid_and_resampled():
    hz = Hazard.from_depth_raster(_depth())
    r = raster_exposure(_depth(np.full((4, 5), 10.0)), hz)
    assert r["total_population"] == 200 and r["affected_population"] == 70
    assert r["by_threshold"] == {"0.5": 40, "1.5": 20, "3.0": 10}
    coarse = _depth(np.array([[40.0, 80.0], [0.0, 0.0]]), cell=200.0)  # 200 m cells: 10 and 20 per 100 m cell
    r = raster_exposure(coarse, hz)
    assert r["total_population"] == 120
    assert r["affected_population"] == pytest.approx(100) and r["by_threshold"]["0.5"] == pytest.approx(50)
    assert r["by_threshold"]["1.5"] == pytest.approx(40) and r["by_threshold"]["3.0"] == pytest.approx(20)
    assert any("resampled" in en for _, en in r["notes"])
    zone = gpd.GeoDataFrame({"depth": [1.0]}, geometry=[_cells(0, 0, 1, 2)], crs=4549).to_crs(4490)
    r = raster_exposure(_depth(np.full((4, 5), 10.0)), Hazard.from_polygons(zone))
    assert r["affected_population"] == pytest.approx(20) and r["by_threshold"]["0.5"] == pytest.approx(20)
    assert r["by_threshold"]["1.5"] == 0


def test_population_raster_inside_grids():
    t = _by_id(grid_exposure(_grids(), Hazard.from_depth_raster(_depth()),
                             population=_depth(np.full((4, 5), 10.0))).table)
    assert (t.loc["A", "population_c1"], t.loc["A", "population_c2"]) == pytest.approx((10, 10))
    assert t.loc["B", "population_wet"] == pytest.approx(40)


def test_no_overlap_is_flagged_not_silent():
    far = _grids()
    far = far.set_geometry(far.geometry.translate(100_000, 0))
    s = exposure_summary(Hazard.from_depth_raster(_depth()), far)
    assert s["overlap"] is False and s["affected_population"] == 0 and s["total_population"] == 360
    assert any("do not overlap" in n for n in s["notes_en"])
    far_pop = Raster(np.full((2, 2), 5.0, "float32"), Affine(100, 0, 800_000, 0, -100, 3_500_000),
                     pyproj.CRS.from_epsg(4549), None)
    r = raster_exposure(far_pop, Hazard.from_depth_raster(_depth()))
    assert r["overlap"] is False and r["affected_population"] == 0


def test_grids_without_population_are_noted():
    g = _grids()
    g["population"] = g["population"].astype("float64")
    g.loc[g["grid_id"] == "B", "population"] = np.nan
    s = exposure_summary(Hazard.from_depth_raster(_depth()), g)
    assert s["grids_without_population"] == 1 and s["total_population"] == 160
    assert s["affected_population"] == 60  # A 50 + D 10; B unknown, not 0
    assert any("no population" in n for n in s["notes_en"])
    with pytest.raises(LayerError, match="no population field"):
        exposure_summary(Hazard.from_depth_raster(_depth()), g.drop(columns="population"))


def test_village_points():
    from shapely.geometry import Point

    v = gpd.GeoDataFrame({"name": ["甲村", "乙村"], "population": [30, 40]},
                         geometry=[Point(X0 + 150, Y0 - 50), Point(X0 + 50, Y0 - 350)], crs=4549).to_crs(4490)
    s = exposure_summary(Hazard.from_depth_raster(_depth()), v)
    assert s["exposure_kind"] == "features" and s["affected_population"] == 30
    assert s["by_threshold"] == {"0.5": 30, "1.5": 0, "3.0": 0}


# ---- the command line ------------------------------------------------------------------------------------------
def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "gis", "exposure", *map(str, args), "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    return proc


@pytest.fixture
def files(tmp_path):
    write_raster(_depth(DEPTH * 100), tmp_path / "depth_cm.tif")  # centimetres: converted
    _grids(4490).to_file(tmp_path / "grids.gpkg", layer="grids")
    write_raster(_depth(np.full((4, 5), 10.0)), tmp_path / "pop.tif")
    gpd.GeoDataFrame({"水深": [2.0]}, geometry=[_cells(0, 0, 2, 1)], crs=4549).to_crs(4490).to_file(
        tmp_path / "zones.geojson")
    return tmp_path


def test_cli_exposure_json(files):
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", files / "grids.gpkg", "--lang", "en")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["total_population"] == 360 and s["affected_population"] == 260
    assert s["by_threshold"] == {"0.5": 135, "1.5": 100, "3.0": 50} and s["leaf_grids"] == 4
    assert any("centimetres" in n for n in s["notes"])
    p = _cli("--hazard", files / "zones.geojson", "--exposure", files / "pop.tif", "--thresholds", "1,3")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["exposure_kind"] == "population_raster" and s["total_population"] == 200
    assert s["affected_population"] == pytest.approx(20) and s["by_threshold"] == {"1.0": 20, "3.0": 0}
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", files / "grids.gpkg", "--population-field", "人口数量")
    assert p.returncode == 2 and "人口数量" in p.stderr and "Traceback" not in p.stderr


def test_cli_exposure_from_dem_and_stage(tmp_path):
    # the 7x7 V-valley of test_hand.py with 100 m cells: channel column 3, streams where >= 7 cells drain
    r, c = np.mgrid[0:7, 0:7]
    write_raster(_depth(np.abs(c - 3) * 1.0 + (6 - r) * 0.1), tmp_path / "dem.tif")
    _grids(4490).to_file(tmp_path / "grids.gpkg", layer="grids")
    # streams where >= 0.0695 km² drain (7 cells of 100 m), on the DEM's own 100 m grid
    p = _cli("--dem", tmp_path / "dem.tif", "--stage", 1.5, "--min-upstream-km2", 0.0695, "--terrain-cell-m", 100,
             "--exposure", tmp_path / "grids.gpkg", "--lang", "en")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["method"] == "hand_stage" and s["screening"] and "CSI" in s["notes"][0]
    # B: depths 0.3, 1.3, 0.4, 1.4 (all wet); C: 4 of 8 cells wet (0.4, 1.5, 0.4, 1.5); D: 0.3; A dry
    assert s["affected_population"] == pytest.approx(235)
    assert s["by_threshold"] == {"0.5": pytest.approx(112.5), "1.5": pytest.approx(12.5), "3.0": 0}


# ---- --boundaries: the per-township table follows the township outlines ----------------------------------------
def _boundaries(path: Path) -> Path:
    """A county and two townships that cut across the grids' own township field: 东镇 west of x = 500 150 (A's
    centre), 西镇 east of it (B, C's centre at x = 500 200, D), as a boundaries file with Chinese column names."""
    towns = [_cells(0, 0, 4, 5), box(X0, Y0 - 400, X0 + 150, Y0), box(X0 + 150, Y0 - 400, X0 + 500, Y0)]
    gpd.GeoDataFrame({"名称": ["某县", "东镇", "西镇"], "层级": ["县", "乡镇", "乡镇"], "区划代码": ["1", "11", "12"]},
                     geometry=towns, crs=4549).to_crs(4490).to_file(path)
    return path


def _towns(s: dict) -> dict[str, tuple]:
    return {r["township"]: (r["grids"], r["flooded_grids"], r["evacuate_grids"], r["affected_population"],
                            r["people_to_evacuate"]) for r in s["by_township"]}


def test_cli_exposure_by_township_with_and_without_boundaries(files):
    # without: each leaf grid under its own township field, and the note says which outline that is
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", files / "grids.gpkg", "--lang", "en")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["townships_from"] == "grids:village"
    assert _towns(s) == {"一镇": (2, 2, 2, 250, 300), "二镇": (2, 1, 1, 10, 10)}
    assert any("no township boundaries" in n and "village-level grids" in n for n in s["notes"])
    assert any("没有乡镇级行政区界" in n for n in s["notes_zh"])
    # with: each grid in the township outline holding it; the totals do not move
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", files / "grids.gpkg", "--lang", "en",
             "--boundaries", _boundaries(files / "towns.geojson"))
    assert p.returncode == 0, p.stderr
    b = json.loads(p.stdout)
    assert b["townships_from"] == "boundaries"
    assert _towns(b) == {"东镇": (1, 1, 1, 50, 100), "西镇": (3, 2, 2, 210, 210)}
    assert (b["affected_population"], b["people_to_evacuate"]) == (s["affected_population"], s["people_to_evacuate"])
    assert any("boundaries layer (2 townships)" in n for n in b["notes"])
    assert any("township field differs" in n for n in b["notes"])
    assert any("乡镇界取自行政区界图层" in n for n in b["notes_zh"])


def test_cli_exposure_boundaries_of_villages_and_without_township_level(files, tmp_path):
    from shapely.geometry import Point

    v = gpd.GeoDataFrame({"name": ["甲村", "乙村"], "township": ["一镇", "一镇"], "population": [30, 40]},
                         geometry=[Point(X0 + 180, Y0 - 50), Point(X0 + 50, Y0 - 350)], crs=4549).to_crs(4490)
    v.to_file(tmp_path / "villages.gpkg", layer="villages")
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", tmp_path / "villages.gpkg", "--lang", "en")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["townships_from"] == "field" and any("own township field (1 townships)" in n for n in s["notes"])
    assert [(r["township"], r["features"], r["affected_population"]) for r in s["by_township"]] == [("一镇", 2, 30)]
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", tmp_path / "villages.gpkg", "--lang", "en",
             "--boundaries", _boundaries(tmp_path / "towns.geojson"))
    b = json.loads(p.stdout)
    # 甲村 (1 m deep) lies east of x = 500 150: 西镇
    assert [(r["township"], r["flooded_features"]) for r in b["by_township"]] == [("西镇", 1)]
    # a boundaries file of the county only: said, and the grids' own field is used
    county = gpd.read_file(tmp_path / "towns.geojson").iloc[:1]
    county.to_file(tmp_path / "county.geojson")
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", files / "grids.gpkg", "--lang", "en",
             "--boundaries", tmp_path / "county.geojson")
    c = json.loads(p.stdout)
    assert c["townships_from"] == "grids:village" and any("no township-level polygons" in n for n in c["notes"])
    # a boundaries file that is not one: exit 2, both languages, no traceback
    (tmp_path / "bad.geojson").write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                                          '"properties": {"层级": "乡镇"}, "geometry": {"type": "Point", '
                                          '"coordinates": [117, 29]}}]}', encoding="utf-8")
    p = _cli("--hazard", files / "depth_cm.tif", "--exposure", files / "grids.gpkg", "--boundaries",
             tmp_path / "bad.geojson")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "bad.geojson" in p.stderr and re.search(r"[\u4e00-\u9fff]", p.stderr) and re.search(r"[a-z]{4}", p.stderr)
