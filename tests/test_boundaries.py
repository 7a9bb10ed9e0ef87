"""The boundaries layer kind: DataV GeoJSON and other boundary files read right; township outlines used for
the tables, the review, the maps and the township choice; OpenStreetMap road classes accepted as they come."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import Point, box

from gis.townships import county_outlines, locate, stamp_townships, township_outlines
from layers.boundaries import level_from_code
from layers.errors import LayerError
from layers.load import load_layer
from layers.raster import Raster

X0, Y0 = 500_000.0, 3_001_000.0   # EPSG:4549 metres


def _write_geojson(path: Path, features: list[tuple[dict, dict]]) -> Path:
    fc = {"type": "FeatureCollection",
          "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features]}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def _square(x0, y0, d=0.1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]]}


# ---- reading --------------------------------------------------------------------------------------
def test_datav_geojson_read_as_it_comes(tmp_path):
    """A DataV file: adcode -> code, district -> county, the parent object -> its code, arrays kept as text."""
    f = _write_geojson(tmp_path / "330600_full.json", [
        ({"adcode": 330602, "name": "越城区", "center": [120.585315, 29.996993], "centroid": [120.6, 30.0],
          "childrenNum": 0, "level": "district", "parent": {"adcode": 330600}, "subFeatureIndex": 0,
          "acroutes": [100000, 330000, 330600]}, _square(120.5, 29.9)),
        ({"adcode": 330603, "name": "柯桥区", "center": [120.47, 30.07], "centroid": [120.4, 30.0],
          "childrenNum": 0, "level": "district", "parent": {"adcode": 330600}, "subFeatureIndex": 1,
          "acroutes": [100000, 330000, 330600]}, _square(120.3, 29.9)),
    ])
    layer = load_layer(f, "boundaries")
    g = layer.gdf
    assert g["name"].tolist() == ["越城区", "柯桥区"]
    assert g["code"].tolist() == ["330602", "330603"]
    assert g["level"].tolist() == ["county", "county"]
    assert g["parent"].tolist() == ["330600", "330600"]
    assert g["center"].tolist()[0] == "120.585315,29.996993"
    assert g["acroutes"].tolist()[0] == "100000,330000,330600"
    assert any("DataV" in m for m in layer.messages("en"))
    assert [n.code for n in layer.notes if hasattr(n, "code")][:1] == ["datav_boundaries"]


def test_level_columns_and_codes(tmp_path):
    """Without a name column, the finest level's column is the name and the next one up the parent."""
    f = _write_geojson(tmp_path / "villages.geojson", [
        ({"乡镇名称": "城关镇", "村名": "上坪村"}, _square(119.0, 28.0)),
        ({"乡镇名称": "城关镇", "村名": "下坪村"}, _square(119.1, 28.0)),
    ])
    g = load_layer(f, "boundaries").gdf
    assert g["name"].tolist() == ["上坪村", "下坪村"]
    assert g["parent"].tolist() == ["城关镇", "城关镇"]
    assert set(g["level"]) == {"village"}
    # levels told from Chinese division codes; rows without either are taken as townships, with a note
    f2 = _write_geojson(tmp_path / "codes.geojson", [
        ({"XZQMC": "甲县", "XZQDM": "339901"}, _square(119.0, 28.0, 0.5)),
        ({"XZQMC": "乙镇", "XZQDM": "339901101"}, _square(119.0, 28.0)),
        ({"XZQMC": "丙村", "XZQDM": "339901101201"}, _square(119.0, 28.0, 0.05)),
        ({"XZQMC": "丁乡", "XZQDM": "X1"}, _square(119.2, 28.0)),
    ])
    layer = load_layer(f2, "boundaries")
    assert layer.gdf["level"].tolist() == ["county", "township", "village", "township"]
    codes = [n.code for n in layer.notes if hasattr(n, "code")]
    assert "level_from_code" in codes and "level_assumed" in codes


def test_level_from_code():
    assert [level_from_code(c) for c in (330000, "330600", 330602, "330602001", "330602001000", "330602001201",
                                         "abc", None, 1234)] == \
        ["province", "prefecture", "county", "township", "township", "village", None, None, None]


def test_boundaries_refuse_points_and_missing_names(tmp_path):
    f = _write_geojson(tmp_path / "pts.geojson", [({"name": "甲镇"}, {"type": "Point", "coordinates": [119, 28]}),
                                                  ({"name": "乙镇"}, {"type": "Point", "coordinates": [119.1, 28]})])
    with pytest.raises(LayerError) as e:
        load_layer(f, "boundaries")
    assert "Polygon" in str(e.value)
    f2 = _write_geojson(tmp_path / "noname.geojson", [({"foo": 1}, _square(119, 28))])
    with pytest.raises(LayerError) as e:
        load_layer(f2, "boundaries")
    assert "Name" in str(e.value) and "名称" in str(e.value)


def test_osm_road_classes_accepted_raw_kept(tmp_path):
    """OpenStreetMap highway values are mapped (links as their road), the value kept; unknown ones become other."""
    values = ["service", "footway", "motorway_link", "living_street", "steps", "bridleway", "cycleway", "pedestrian",
              "path", "primary_link", "tertiary", "县道", "raceway"]
    f = _write_geojson(tmp_path / "roads.geojson", [
        ({"highway": v}, {"type": "LineString", "coordinates": [[119 + i * 0.01, 28], [119 + i * 0.01, 28.01]]})
        for i, v in enumerate(values)])
    layer = load_layer(f, "roads")
    g = layer.gdf
    assert g["road_class"].tolist() == ["village", "track", "highway", "village", "track", "track", "track", "track",
                                        "track", "provincial", "township", "county", "other"]
    assert g["class_raw"].tolist() == values
    assert any("raceway" in m for m in layer.messages("en"))


def test_road_classes_as_codes_or_labels_gain_no_raw_column(tmp_path):
    """A file written by this program (codes, Chinese or English labels) keeps its columns: no class_raw."""
    values = ["county", "县道", "village", "乡道", "track"]
    f = _write_geojson(tmp_path / "roads.geojson", [
        ({"road_class": v}, {"type": "LineString", "coordinates": [[119 + i * 0.01, 28], [119 + i * 0.01, 28.01]]})
        for i, v in enumerate(values)])
    g = load_layer(f, "roads").gdf
    assert g["road_class"].tolist() == ["county", "county", "village", "township", "track"]
    assert "class_raw" not in g.columns


# ---- outlines and townships ---------------------------------------------------------------------------
def _boundaries() -> gpd.GeoDataFrame:
    """Two townships side by side (1 km x 1 km each) in one county, in EPSG:4549."""
    return gpd.GeoDataFrame(
        {"name": ["某县", "甲乡", "乙镇", "甲乡"], "code": ["339901", "339901101", "339901102", None],
         "level": ["county", "township", "township", "township"], "parent": [None, "339901", "339901", "339901"]},
        geometry=[box(X0, Y0 - 1000, X0 + 2000, Y0), box(X0, Y0 - 1000, X0 + 1000, Y0),
                  box(X0 + 1000, Y0 - 1000, X0 + 2000, Y0), box(X0 - 600, Y0 - 300, X0 - 300, Y0)],  # an exclave
        crs="EPSG:4549")


def test_outlines_from_boundaries_first_and_fallbacks_said():
    grids = gpd.GeoDataFrame({"grid_id": ["G1"], "level": ["village"], "township": ["丙乡"]},
                             geometry=[box(X0, Y0 - 100, X0 + 100, Y0)], crs="EPSG:4549")
    o = township_outlines({"boundaries": _boundaries(), "grids": grids})
    assert o.source == "boundaries" and o.names == ["乙镇", "甲乡"]
    assert o.outline("甲乡").area > 0 and o.note.code == "outlines_boundaries"
    assert "2 townships" in o.note("en")
    # the exclave joins its township
    assert o.gdf.set_index("township").loc["甲乡"].geometry.geom_type == "MultiPolygon"
    fb = township_outlines({"grids": grids})
    assert fb.source == "grids:village" and fb.names == ["丙乡"] and "village-level grids" in fb.note("en")
    assert township_outlines({}).source == "none"
    two = gpd.GeoDataFrame({"name": ["城关镇", "城关镇"], "level": ["township"] * 2, "parent": ["甲县", "乙县"]},
                           geometry=[box(X0, Y0 - 10, X0 + 10, Y0), box(X0 + 20, Y0 - 10, X0 + 30, Y0)], crs=4549)
    assert township_outlines({"boundaries": two}).names == ["城关镇（乙县）", "城关镇（甲县）"]
    assert county_outlines({"boundaries": _boundaries()}).names == ["某县"]
    assert "1 count" in county_outlines({"boundaries": _boundaries()}).note("en")


def test_stamp_and_locate():
    grids = gpd.GeoDataFrame({"grid_id": ["G1", "G2", "G3"], "township": ["甲乡", "甲乡", "外乡"]},
                             geometry=[box(X0 + 100, Y0 - 200, X0 + 200, Y0 - 100),      # in 甲乡, field agrees
                                       box(X0 + 1100, Y0 - 200, X0 + 1200, Y0 - 100),    # in 乙镇, field says 甲乡
                                       box(X0 + 5000, Y0 - 200, X0 + 5100, Y0 - 100)],   # outside all
                             crs="EPSG:4549")
    assert locate(grids, township_outlines({"boundaries": _boundaries()}).gdf).tolist() == ["甲乡", "乙镇", None]
    out, notes = stamp_townships({"grids": grids, "boundaries": _boundaries()})
    assert out["grids"]["township"].tolist() == ["甲乡", "乙镇", "外乡"]
    assert grids["township"].tolist() == ["甲乡", "甲乡", "外乡"]          # the input is not changed
    assert [n.code for n in notes] == ["outlines_boundaries", "township_field_differs", "township_outside"]
    assert "Transfer grids 1" in notes[1]("en")
    # without boundaries nothing is stamped
    same, none = stamp_townships({"grids": grids})
    assert same["grids"] is grids and none == []


def test_tallies_by_outlines_golden():
    from gis.tallies import forest_by_township, township_people

    grids = gpd.GeoDataFrame({"grid_id": ["G1", "G2"], "township": [None, "甲乡"], "households": [10, 20],
                              "population": [30, 50], "vulnerable": [3, 5]},
                             geometry=[box(X0 + 100, Y0 - 200, X0 + 200, Y0 - 100),
                                       box(X0 + 1100, Y0 - 200, X0 + 1200, Y0 - 100)], crs="EPSG:4549")
    outlines = township_outlines({"boundaries": _boundaries()}).gdf
    t = township_people(grids, outlines=outlines)
    assert t.loc["甲乡", "population"] == 30 and t.loc["乙镇", "population"] == 50
    assert township_people(grids).loc["甲乡", "population"] == 50          # by the field: what was there before
    # a 600 m x 400 m forest straddling the line: 0.12 km² each side, plus 0.04 km² outside every outline
    forest = gpd.GeoDataFrame({"township": ["甲乡"]},
                              geometry=[box(X0 + 700, Y0 - 500, X0 + 1300, Y0 - 100).union(
                                  box(X0 + 3000, Y0 - 200, X0 + 3200, Y0))], crs="EPSG:4549")
    cams = gpd.GeoDataFrame({"name": ["C1"]}, geometry=[Point(X0 + 1500, Y0 - 500)], crs="EPSG:4549")
    f = forest_by_township(forest.to_crs(4490), None, cams.to_crs(4490), outlines=outlines)
    assert f.loc["甲乡", "forest_km2"] == pytest.approx(0.12, abs=0.002)
    assert f.loc["乙镇", "forest_km2"] == pytest.approx(0.12, abs=0.002)
    assert f.loc["—", "forest_km2"] == pytest.approx(0.04, abs=0.002)
    assert f.loc["乙镇", "cameras"] == 1


def test_review_township_table_by_boundaries():
    """The fire review counts townships by the boundaries, not by the forest compartments' field."""
    from gis.fire.review import township_source, township_table

    grid = Raster(np.zeros((10, 20), np.float32), Affine(100, 0, X0, 0, -100, Y0), "EPSG:4549", None)
    forest = np.zeros((10, 20), bool)
    forest[:, 5:15] = True                     # 100 cells each side of the township line at column 10
    high = np.zeros_like(forest)
    high[:, 5:10] = True                       # high-risk only in 甲乡
    seen = np.zeros((10, 20), np.uint16)
    seen[:, 0:10] = 1                          # cameras see 甲乡's forest
    compartments = gpd.GeoDataFrame({"township": ["甲乡"]}, geometry=[box(X0, Y0 - 1000, X0 + 2000, Y0)],
                                    crs="EPSG:4549")   # the whole forest says 甲乡
    by, note = township_source({"boundaries": _boundaries(), "forest": compartments})
    assert note.code == "fire_towns_boundaries"
    t = township_table(grid, compartments, forest, high, seen, None, townships=by)
    assert t.loc["甲乡", "forest_ha"] == 50.0 and t.loc["乙镇", "forest_ha"] == 50.0
    assert t.loc["甲乡", "seen_share"] == 1.0 and t.loc["乙镇", "seen_share"] == 0.0
    assert t.loc["甲乡", "high_seen_share"] == 1.0 and np.isnan(t.loc["乙镇", "high_seen_share"])
    old = township_table(grid, compartments, forest, high, seen, None)
    assert old.loc["甲乡", "forest_ha"] == 100.0 and "乙镇" not in old.index
    assert township_source({"forest": compartments})[1].code == "fire_towns_forest"


def test_fire_map_and_village_map_draw_boundaries(tmp_path):
    from gis.report.fire_map import coverage_figure, township_boundaries
    from gis.report.village_map import village_figure

    b = _boundaries()
    tb = township_boundaries({"boundaries": b, "townships": gpd.GeoDataFrame({"township": ["别的"]},
                                                                             geometry=[box(0, 0, 1, 1)], crs=4490)})
    assert sorted(tb["township"]) == ["乙镇", "甲乡"]
    dem = Raster(np.linspace(100, 300, 400, dtype=np.float32).reshape(20, 20), Affine(100, 0, X0 - 0, 0, -100, Y0),
                 "EPSG:4549", None)
    fig = coverage_figure(dem=dem, layers={"boundaries": b}, township="乙镇", lang="en")
    texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()] if fig.axes[0].get_legend() \
        else []
    assert "Township boundary" in texts and "County boundary" in texts
    assert any("boundaries layer" in t.get_text() for t in fig.texts)
    grids = gpd.GeoDataFrame({"grid_id": ["G1"], "village": ["上坪村"], "township": ["甲乡"], "population": [10]},
                             geometry=[box(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)], crs="EPSG:4549").to_crs(4490)
    vb = pd.concat([b, gpd.GeoDataFrame({"name": ["上坪村"], "level": ["village"]},
                                        geometry=[box(X0 + 50, Y0 - 350, X0 + 350, Y0 - 50)], crs="EPSG:4549")])
    vfig = village_figure("上坪村", {"grids": grids}, boundaries=vb.to_crs(4490), lang="en")
    labels = [t.get_text() for ax in vfig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert "Village boundary" in labels and "Township boundary" in labels


def test_web_map_draws_boundary_levels_and_focus():
    from ui.map_view import build_map

    b = _boundaries().to_crs(4490)
    o = township_outlines({"boundaries": b})
    m = build_map({"boundaries": b}, lang="en", focus_outline=("甲乡", o.outline("甲乡")))
    html = m.get_root().render()
    assert "Boundaries (county)" in html and "Boundaries (township)" in html
    assert "#d50000" in html and "甲乡" in html
