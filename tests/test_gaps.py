"""Coverage gaps: classes, ranking, township majority, nearest road/source by hand, bad input, the CLI."""

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
from shapely.geometry import LineString, Point, box

from gis.fire.gaps import GAP_COLUMNS, coverage_gaps, gap_summary
from layers.errors import LayerError
from layers.raster import Raster

ROOT = Path(__file__).resolve().parents[1]
X0, Y0 = 500_000.0, 3_001_000.0   # EPSG:4549, 100 m cells: cell (r, c) spans x X0+100c.., y Y0-100r..


def _grid(n=10) -> Raster:
    return Raster(np.zeros((n, n), np.float32), Affine(100, 0, X0, 0, -100, Y0), "EPSG:4549", None)


def _scene():
    hr = np.zeros((10, 10), bool)
    hr[0:4, 0:4] = True            # NW block: cols 0-1 seen, cols 2-3 unseen; nothing reaches it
    hr[6:10, 6:10] = True          # SE block: unseen, reached
    seen = np.zeros((10, 10), np.uint16)
    seen[0:4, 0:2] = 1
    reach = np.zeros((10, 10), np.uint16)
    reach[6:10, 6:10] = 2
    forest = gpd.GeoDataFrame({"township": ["甲乡", "乙镇"]},
                              geometry=[box(X0, Y0 - 400, X0 + 500, Y0), box(X0 + 500, Y0 - 1000, X0 + 1000, Y0 - 400)],
                              crs="EPSG:4549")
    roads = gpd.GeoDataFrame({"name": ["县道X1"]}, geometry=[LineString([(X0, Y0 - 2000), (X0 + 1000, Y0 - 2000)])],
                             crs="EPSG:4549")
    sources = gpd.GeoDataFrame({"name": [None, "山塘2"]},
                               geometry=[Point(X0 + 1500, Y0 - 500), Point(X0 - 1000, Y0)], crs="EPSG:4549")
    return hr, seen, reach, forest, roads, sources


def test_classes_rank_and_hand_worked_distances():
    hr, seen, reach, forest, roads, sources = _scene()
    g = coverage_gaps(_grid(), hr, seen, reach, forest=forest, roads=roads, sources=sources)
    assert list(g.columns) == GAP_COLUMNS + ["geometry"]
    assert str(g.crs).upper().endswith("4490")
    # "both" comes first although it is half the size of the "unseen" patch
    assert g["gap"].tolist() == ["both", "unseen", "out_of_reach"]
    assert g["rank"].tolist() == [1, 2, 3]
    assert g["cells"].tolist() == [8, 16, 8]
    assert g["area_ha"].tolist() == pytest.approx([8.0, 16.0, 8.0])   # 1 ha cells
    assert g["gap_zh"].tolist() == ["两者皆无", "未被监控覆盖", "水源不可达"]
    assert g["township"].tolist() == ["甲乡", "乙镇", "甲乡"]
    # both: x 500200-500400, y 3000600-3001000; road at y 2999000 -> 1600 m;
    # unnamed source (501500, 3000500): dx 1100, dy 100 -> hypot = 1104.5 m, named "#1"
    assert g["road_dist_m"].tolist() == pytest.approx([1600.0, 1000.0, 1600.0])
    assert g["source_dist_m"].tolist() == pytest.approx([round(math.hypot(1100, 100), 1),
                                                         round(math.hypot(500, 100), 1), 1000.0])
    assert g["road_name"].tolist() == ["县道X1"] * 3
    assert g["source_name"].tolist() == ["#1", "#1", "山塘2"]
    s = gap_summary(g, target_ha=float(hr.sum()))
    assert s["both"] == {"patches": 1, "area_ha": 8.0, "share": 0.25}
    assert s["unseen"]["share"] == 0.5 and s["out_of_reach"]["patches"] == 1


def test_township_majority_and_ranking_by_area_within_classes():
    hr = np.zeros((10, 10), bool)
    hr[0, 0:5] = True               # 5 cells: 3 in 甲 (cols 0-2), 2 in 乙
    hr[5, 0:2] = True               # 2 cells
    hr[9, 0:7] = True               # 7 cells, reached
    reach = np.zeros((10, 10), np.uint16)
    reach[9, :] = 1
    forest = gpd.GeoDataFrame({"township": ["甲", "乙"]},
                              geometry=[box(X0, Y0 - 1000, X0 + 300, Y0), box(X0 + 300, Y0 - 1000, X0 + 1000, Y0)],
                              crs="EPSG:4549")
    g = coverage_gaps(_grid(), hr, None, reach, forest=forest)
    # both: 5 then 2 cells; then unseen (7 cells)
    assert list(zip(g["gap"], g["cells"])) == [("both", 5), ("both", 2), ("unseen", 7)]
    assert g["township"].tolist() == ["甲", "甲", "乙"]
    # no roads / sources: missing values, not errors
    assert g["road_dist_m"].isna().all() and g["source_name"].isna().all()
    # minimum area: 3 ha drops the 2-cell patch
    g3 = coverage_gaps(_grid(), hr, None, reach, forest=forest, min_area_m2=30_000)
    assert g3["cells"].tolist() == [5, 7] and g3["rank"].tolist() == [1, 2]


def test_no_gap_and_invalid_cells():
    hr = np.zeros((10, 10), bool)
    hr[2:4, 2:4] = True
    seen = np.ones((10, 10), np.uint16)
    reach = np.ones((10, 10), np.uint16)
    g = coverage_gaps(_grid(), hr, seen, reach)
    assert len(g) == 0 and list(g.columns) == GAP_COLUMNS + ["geometry"]
    assert gap_summary(g, 4.0)["both"] == {"patches": 0, "area_ha": 0.0, "share": 0.0}
    # DEM voids are never a gap
    grid = _grid()
    grid.array[2:4, 2:4] = np.nan
    assert len(coverage_gaps(grid, hr, None, None)) == 0


def test_shape_mismatch_is_a_layer_error():
    with pytest.raises(LayerError) as e:
        coverage_gaps(_grid(), np.ones((5, 5), bool), None, None)
    assert "DEM" in str(e.value)


def test_cli_gaps_on_demo(demo_workspace, tmp_path):
    ws = demo_workspace / "workspace.gpkg"
    out = tmp_path / "gaps.gpkg"
    p = subprocess.run([sys.executable, "-m", "gis", "gaps", "--dem", str(demo_workspace / "dem.tif"),
                        "--forest", str(ws), "--cameras", str(ws), "--sources", str(ws), "--roads", str(ws),
                        "--out", str(out), "--min-area-ha", "5", "--table", str(tmp_path / "gaps.csv"), "--json",
                        "--lang", "en"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    g = gpd.read_file(out)
    assert js["patches"] == len(g) > 0
    assert js["gap_ha"] == pytest.approx(g["area_ha"].sum(), abs=0.05)
    assert (g["area_ha"] >= 5).all()
    assert g["rank"].tolist() == list(range(1, len(g) + 1))
    assert any("all forest is the target" in n for n in js["notes"])
    assert 0 < js["gap_ha"] <= js["target_ha"] == js["forest_ha"]
    import pandas as pd

    table = pd.read_csv(tmp_path / "gaps.csv", encoding="utf-8-sig")
    # headers in --lang (Chinese before the one text model, whatever --lang said)
    assert table["Rank"].tolist() == g["rank"].tolist() and "Nearest usable source name" in table.columns
    assert table["Area (ha)"].tolist() == pytest.approx(g["area_ha"].tolist())
    both = g[g["gap"] == "both"]
    assert (g["gap"].iloc[: len(both)] == "both").all()          # "both" ranked first
    assert both["area_ha"].is_monotonic_decreasing


def test_cli_bad_input_is_a_message(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gis", "gaps", "--dem", str(tmp_path / "missing.tif"), "--forest",
                        str(tmp_path / "f.gpkg"), "--cameras", "c.csv", "--sources", "s.csv",
                        "--out", str(tmp_path / "g.gpkg")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
