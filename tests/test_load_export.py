"""End to end: file -> load_layer (read, CRS, validate, storage CRS) -> export -> load again; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon

from layers.errors import LayerError
from layers.export import export_layer
from layers.load import load_layer

ROOT = Path(__file__).resolve().parent.parent


def _shelter_sheet(path: Path) -> Path:
    pd.DataFrame({"场所名称": ["城关小学", "上坪村文化礼堂"], "场所类型": ["学校", "文化礼堂"],
                  "可容纳人数（人）": [500, 120], "东经": ["119°36'00\"E", "119.65"], "北纬": ["28°24'00\"N", "28.45"],
                  "管理员": ["王五", "赵六"]}).to_excel(path, index=False)
    return path


def test_xlsx_shelters_load(tmp_path):
    layer = load_layer(_shelter_sheet(tmp_path / "安置点.xlsx"), "shelters")
    g = layer.gdf
    assert layer.count == 2 and g.crs.to_epsg() == 4490
    assert list(g["capacity"]) == [500, 120] and list(g["type"]) == ["school", "village_hall"]
    assert g.geometry.iloc[0].x == pytest.approx(119.6) and g.geometry.iloc[0].y == pytest.approx(28.4)
    assert list(g["管理员"]) == ["王五", "赵六"]  # a column the catalogue does not know is kept


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "kml", "xlsx"])
def test_export_round_trip(tmp_path, fmt):
    layer = load_layer(_shelter_sheet(tmp_path / "s.xlsx"), "shelters")
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(export_layer(layer.gdf, "shelters", fmt))
    back = load_layer(out, "shelters").gdf
    assert list(back["name"]) == ["城关小学", "上坪村文化礼堂"]
    assert np.allclose(back.geometry.x, layer.gdf.geometry.x, atol=1e-6)
    if fmt != "kml":  # KML keeps names and geometry; attributes travel as ExtendedData strings
        assert list(back["capacity"]) == [500, 120]
        assert list(back["type"]) == ["school", "village_hall"]


def test_gauss_kruger_polygons_are_stored_in_lonlat(tmp_path):
    # CGCS2000 3-degree GK zone 40 (CM 120E) with the zone number in the easting
    x0, y0 = 40_460_000.0, 3_142_000.0
    g = gpd.GeoDataFrame({"网格编号": ["G1"], "层级": ["村级"]},
                         geometry=[Polygon([(x0, y0), (x0 + 1000, y0), (x0 + 1000, y0 + 1000)])])
    path = tmp_path / "grids.geojson"
    g.to_file(path, driver="GeoJSON")
    layer = load_layer(path, "grids")
    lon, lat = layer.gdf.geometry.iloc[0].exterior.coords[0]
    assert layer.gdf.crs.to_epsg() == 4490 and 119.5 < lon < 119.7 and 28.3 < lat < 28.5


def test_gcj02_option_moves_points_a_few_hundred_metres(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("类型,经度,纬度\n水窖,119.6,28.4\n", encoding="utf-8")
    plain = load_layer(path, "water_sources").gdf.geometry.iloc[0]
    moved = load_layer(path, "water_sources", gcj02=True).gdf.geometry.iloc[0]
    dist_m = np.hypot((plain.x - moved.x) * 97_900, (plain.y - moved.y) * 110_900)
    assert 100 < dist_m < 900


def test_raster_kind_rules(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("名称,经度,纬度,容纳人数\na,119.6,28.4,1\n", encoding="utf-8")
    with pytest.raises(LayerError, match="应为 GeoTIFF"):
        load_layer(path, "dem")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gis", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_help_lists_subcommands():
    r = _cli("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("demo", "validate", "layers"))


def test_cli_validate_ok_and_bad(tmp_path):
    ok = _cli("validate", "--layer", "shelters", str(_shelter_sheet(tmp_path / "s.xlsx")), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["features"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,经度,纬度,容纳人数\na,119.6,28.4,很多\n", encoding="utf-8")
    r = _cli("validate", "--layer", "shelters", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "不是数字" in r.stderr and "is not a number" in r.stderr and "bad.csv" in r.stderr
