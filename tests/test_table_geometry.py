"""Tables with a WKT column: exported line/polygon layers (XLSX, CSV) load back, long WKT split over columns."""

from __future__ import annotations

import io
import warnings

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from layers.errors import LayerError
from layers.export import WKT_CELL, export_layer
from layers.load import load_layer
from layers.readers import read_vector
from layers.tabular import read_table

CRS = "EPSG:4490"


def _roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["城关路", "上坪线", "林道"], "road_class": ["county", "village", "track"],
         "speed": [40.0, None, 15.5]},
        geometry=[LineString([(119.512345678, 28.301234567), (119.6, 28.35)]),
                  LineString([(119.51, 28.31), (119.52, 28.32), (119.53, 28.3)]),
                  LineString([(119.7, 28.4), (119.71, 28.41)])], crs=CRS)


def _grids() -> gpd.GeoDataFrame:
    shell = [(119.5, 28.3), (119.6, 28.3), (119.6, 28.4), (119.5, 28.4), (119.5, 28.3)]
    hole = [(119.52, 28.32), (119.54, 28.32), (119.54, 28.34), (119.52, 28.34), (119.52, 28.32)]
    return gpd.GeoDataFrame(
        {"grid_id": ["G001", "G002"], "name": ["城关一网格", "上坪网格"], "level": ["village", "group"],
         "population": [1200, 85]},
        geometry=[Polygon(shell, [hole]), Polygon([(119.61, 28.3), (119.7, 28.3), (119.65, 28.38), (119.61, 28.3)])],
        crs=CRS)


def _long_river(n: int = 4000) -> LineString:
    """A meandering river whose WKT (7 decimals) is longer than 70,000 characters."""
    t = np.linspace(0.0, 1.0, n)
    return LineString(np.column_stack([119.3 + 0.4 * t + 0.0123456789 * np.sin(40 * t),
                                       28.1 + 0.3 * t + 0.0098765432 * np.cos(37 * t)]))


def _rivers() -> gpd.GeoDataFrame:
    river = _long_river()
    assert len(shapely.to_wkt(river, rounding_precision=7)) > 70_000
    return gpd.GeoDataFrame({"name": ["大溪", "小溪"], "river_class": ["干流", None]},
                            geometry=[river, LineString([(119.4, 28.2), (119.45, 28.25)])], crs=CRS)


LAYERS = {"roads": _roads, "grids": _grids, "rivers": _rivers}


def _same_attributes(out: gpd.GeoDataFrame, gdf: gpd.GeoDataFrame) -> None:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    assert sorted(c for c in out.columns if c != out.geometry.name) == sorted(cols)
    for c in cols:
        got = [None if pd.isna(v) else v for v in out[c]]
        want = [None if pd.isna(v) else v for v in gdf[c]]
        assert got == want, c


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_line_and_polygon_layers_round_trip(tmp_path, kind, fmt):
    gdf = LAYERS[kind]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openpyxl warns (and truncates) on text longer than a cell
        data = export_layer(gdf, kind, fmt)
    path = tmp_path / f"{kind}.{fmt}"
    path.write_bytes(data)
    out = load_layer(path, kind).gdf
    assert len(out) == len(gdf)
    assert shapely.equals_exact(out.geometry.values, gdf.geometry.values, tolerance=1e-6).all()
    _same_attributes(out, gdf)


def test_long_wkt_is_split_over_as_few_columns_as_needed(tmp_path):
    gdf = _rivers()
    wb = openpyxl.load_workbook(io.BytesIO(export_layer(gdf, "rivers", "xlsx")))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    header = list(rows[0])
    full = shapely.to_wkt(gdf.geometry.iloc[0], rounding_precision=7)
    needed = -(-len(full) // WKT_CELL)
    assert needed >= 3
    names = [h for h in header if str(h).startswith("WKT")]
    assert names == ["WKT"] + [f"WKT_{i}" for i in range(2, len(names) + 1)]
    parts = [rows[1][header.index(h)] for h in names]
    assert all(p is None or len(p) <= WKT_CELL for p in parts)
    joined = "".join(p for p in parts if p)
    assert shapely.equals_exact(shapely.from_wkt(joined), gdf.geometry.iloc[0], tolerance=1e-6)
    short = [rows[2][header.index(h)] for h in header if str(h).startswith("WKT")]
    assert short[0].startswith("LINESTRING") and all(p is None for p in short[1:])  # short river: one cell
    # as few columns as the longest geometry needs (cutting after a comma can cost at most one more)
    assert len(parts) in (needed, needed + 1) and all(p is not None for p in parts)


def test_csv_with_only_a_wkt_column_loads(tmp_path):
    path = tmp_path / "道路.csv"
    path.write_text('名称,WKT\n城关路,"LINESTRING (119.5 28.3, 119.6 28.4)"\n'
                    '上坪线,"LINESTRING (119.7 28.5, 119.8 28.6)"\n',
                    encoding="utf-8")
    raw = read_table(path)
    assert raw.crs == CRS and raw.attrs["crs_assumed"] is True
    assert raw.attrs["coordinate_columns"] == ["WKT"]
    out = load_layer(path, "roads").gdf
    assert list(out["name"]) == ["城关路", "上坪线"]
    assert out.geometry.iloc[1].equals(LineString([(119.7, 28.5), (119.8, 28.6)]))
    assert "WKT" not in out.columns


def test_wkt_in_metres_leaves_the_crs_to_resolve(tmp_path):
    path = tmp_path / "roads.csv"
    path.write_text('name,geometry_wkt\nA,"LINESTRING (40500000 3130000, 40501000 3131000)"\n', encoding="utf-8")
    raw = read_table(path)
    assert raw.crs is None and "crs_assumed" not in raw.attrs
    assert raw.geometry.iloc[0].equals(LineString([(40500000, 3130000), (40501000, 3131000)]))
    out = load_layer(path, "roads").gdf
    x, y = out.geometry.iloc[0].coords[0]
    assert 116 < x < 121 and 27 < y < 30  # zone 40 Gauss-Kruger, stored as lon/lat


def test_continuation_columns_are_joined_in_order(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('WKT_2,name,WKT,WKT_3\n" 119.6 28.4)",A,"LINESTRING (119.5 28.3,",\n,B,"LINESTRING (1 2, 3 4)",\n',
                    encoding="utf-8")
    raw = read_table(path)
    assert raw.geometry.iloc[0].equals(LineString([(119.5, 28.3), (119.6, 28.4)]))
    assert raw.attrs["coordinate_columns"] == ["WKT", "WKT_2", "WKT_3"]


def _bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('name,经度,纬度,WKT\nA,119.5,28.3,"LINESTRING (119.5 28.3, 119.6 28.4)"\n'
                    'B,119.6,28.4,"LINESTRING (119.6 28.4, 119.7"\n', encoding="utf-8")
    return path


def test_bad_wkt_cell_is_reported_with_row_and_column(tmp_path):
    with pytest.raises(LayerError) as err:
        load_layer(_bad_csv(tmp_path), "roads")
    [p] = err.value.problems
    assert (p.file, p.row, p.field) == ("bad.csv", 3, "WKT")
    assert "WKT" in p.zh and "WKT" in p.en
    with pytest.raises(LayerError) as err:
        read_table(_bad_csv(tmp_path))
    assert [(p.row, p.field) for p in err.value.problems] == [(3, "WKT")]


def test_bad_wkt_row_is_deferred(tmp_path):
    raw = read_vector(_bad_csv(tmp_path), defer_rows=True)
    geoms = raw.geometry
    assert geoms.iloc[0].equals(LineString([(119.5, 28.3), (119.6, 28.4)]))
    assert geoms.iloc[1] is None or geoms.iloc[1].is_empty
    [p] = raw.attrs["row_problems"]
    assert (p.row, p.field) == (3, "WKT")
    assert set(raw.attrs["coordinate_columns"]) == {"经度", "纬度", "WKT"}


def test_missing_wkt_cell_is_a_problem(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('name,WKT\nA,"LINESTRING (119.5 28.3, 119.6 28.4)"\nB,\n', encoding="utf-8")
    raw = read_table(path, defer_rows=True)
    [p] = raw.attrs["row_problems"]
    assert (p.row, p.field) == (3, "WKT") and "缺少" in p.zh


def test_non_wkt_shape_column_beside_lonlat_stays_an_attribute(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("名称,经度,纬度,图形\nA,119.5,28.3,圆形\nB,119.6,28.4,\n", encoding="utf-8")
    raw = read_table(path)
    assert list(raw.geometry) == [Point(119.5, 28.3), Point(119.6, 28.4)]
    assert raw.attrs["coordinate_columns"] == ["经度", "纬度"]
    assert raw["图形"].iloc[0] == "圆形" and pd.isna(raw["图形"].iloc[1])


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_point_layer_round_trip_still_works(tmp_path, fmt):
    gdf = gpd.GeoDataFrame({"shelter_id": ["S1", "S2"], "name": ["城关小学", "文化礼堂"], "capacity": [500, 120]},
                           geometry=[Point(119.6, 28.4), Point(119.65, 28.45)], crs=CRS)
    data = export_layer(gdf, "shelters", fmt)
    path = tmp_path / f"s.{fmt}"
    path.write_bytes(data)
    table = pd.read_csv(path) if fmt == "csv" else pd.read_excel(path)
    assert not any(str(c).startswith("WKT") for c in table.columns)
    out = load_layer(path, "shelters").gdf
    assert shapely.equals_exact(out.geometry.values, gdf.geometry.values, tolerance=1e-6).all()
    _same_attributes(out, gdf)


def test_deeply_nested_collection_is_refused_not_parsed(tmp_path):
    """GEOS parses nested GEOMETRYCOLLECTIONs recursively: some 50,000 levels crash the process."""
    n = 60_000
    text = f"{'GEOMETRYCOLLECTION(' * n}POINT (119.5 28.3){')' * n}"
    parts = [text[i:i + 30_000] for i in range(0, len(text), 30_000)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["name", "WKT", *(f"WKT_{i}" for i in range(2, len(parts) + 1))])
    ws.append(["A", "LINESTRING (119.5 28.3, 119.6 28.4)"])
    ws.append(["B", *parts])
    path = tmp_path / "deep.xlsx"
    wb.save(path)
    with pytest.raises(LayerError) as err:
        read_table(path)
    [p] = err.value.problems
    assert (p.row, p.field) == (3, "WKT") and "嵌套" in p.zh and "nests" in p.en
