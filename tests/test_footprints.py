"""Points from polygons (water bodies as water sources) and shelter capacity from floor area."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.errors import LayerError
from layers.footprints import SHELTER_M2_PER_PERSON
from layers.load import load_layer, load_points


def _square(x0: float, y0: float, side: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + side, y0 + side)


def _gk(tmp_path, name: str, gdf: gpd.GeoDataFrame) -> str:
    """Write ``gdf`` (CGCS2000 GK CM 120E metres) as a GeoPackage."""
    p = tmp_path / f"{name}.gpkg"
    gdf.to_file(p, layer=name)
    return p


def test_water_bodies_become_points_with_their_area(tmp_path):
    u_shape = shapely.Polygon([(0, 0), (300, 0), (300, 300), (200, 300), (200, 100), (100, 100), (100, 300),
                               (0, 300)])
    polys = [shapely.affinity.translate(_square(0, 0, 100), 500_000, 3_140_000),
             shapely.affinity.translate(u_shape, 501_000, 3_140_000)]
    gdf = gpd.GeoDataFrame({"名称": ["东坝塘", "U 形水库"], "类型": ["坝塘", "水库"]}, geometry=polys, crs="EPSG:4549")
    layer = load_layer(_gk(tmp_path, "water", gdf), "water_sources")
    out = layer.gdf
    assert list(out.geom_type) == ["Point", "Point"]
    # the point lies inside its polygon (a U-shaped reservoir's centroid would not)
    back = out.to_crs(4549)
    assert all(p.within(poly) for p, poly in zip(back.geometry, polys))
    assert not polys[1].centroid.within(polys[1])
    assert out["area"].tolist() == pytest.approx([10_000.0, 70_000.0], rel=2e-3)
    zh, en = " ".join(layer.messages("zh")), " ".join(layer.messages("en"))
    assert "2 个面要素" in zh and "代表点" in zh and "2 polygon(s)" in en and "representative point" in en


def test_file_area_column_is_kept(tmp_path):
    gdf = gpd.GeoDataFrame({"类型": ["坝塘"], "面积": [12345.0]},
                           geometry=[shapely.affinity.translate(_square(0, 0, 100), 500_000, 3_140_000)], crs=4549)
    out = load_layer(_gk(tmp_path, "w", gdf), "water_sources").gdf
    assert out["area"].tolist() == [12345.0]


def test_lines_are_still_refused_as_water_sources(tmp_path):
    gdf = gpd.GeoDataFrame({"类型": ["河流"]},
                           geometry=[shapely.LineString([(500_000, 3_140_000), (500_500, 3_140_000)])], crs=4549)
    with pytest.raises(LayerError, match="几何类型|geometry"):
        load_layer(_gk(tmp_path, "w", gdf), "water_sources")


def test_camera_tower_outline_becomes_a_point_and_keeps_its_area(tmp_path):
    gdf = gpd.GeoDataFrame({"名称": ["瞭望台"]}, geometry=[shapely.affinity.translate(_square(0, 0, 10), 500_000,
                                                                                       3_140_000)], crs=4549)
    out = load_layer(_gk(tmp_path, "c", gdf), "cameras").gdf
    assert out.geom_type.tolist() == ["Point"] and out["area"].tolist() == pytest.approx([100.0], rel=2e-3)


def test_candidate_polygons_become_points(tmp_path):
    gdf = gpd.GeoDataFrame({"名称": ["a"]}, geometry=[shapely.affinity.translate(_square(0, 0, 50), 500_000,
                                                                                3_140_000)], crs=4549)
    pts = load_points(_gk(tmp_path, "cand", gdf))
    assert pts.geom_type.tolist() == ["Point"] and pts["name"].tolist() == ["a"]
    assert any("representative point" in w[1] for w in pts.attrs["warnings"])


# ---- shelter capacity from floor area ---------------------------------------------------------

def test_shelter_buildings_without_capacity_get_an_estimate(tmp_path):
    polys = [shapely.affinity.translate(_square(0, 0, 30), 500_000, 3_140_000),      # 900 m²
             shapely.affinity.translate(_square(0, 0, 20), 500_500, 3_140_000)]      # 400 m²
    gdf = gpd.GeoDataFrame({"名称": ["中心小学", "村委会"], "容纳人数": [None, 120]}, geometry=polys, crs=4549)
    layer = load_layer(_gk(tmp_path, "s", gdf), "shelters")
    out = layer.gdf
    assert out.geom_type.tolist() == ["Polygon", "Polygon"]                    # shelters may be outlines
    assert out["capacity"].tolist() == [int(np.floor(900 / SHELTER_M2_PER_PERSON)), 120]
    assert out["capacity_estimated"].tolist() == [True, False]
    assert out["area"].tolist() == pytest.approx([900.0, 400.0], rel=2e-3)
    zh, en = " ".join(layer.messages("zh")), " ".join(layer.messages("en"))
    assert "1 个场所没有容纳人数" in zh and "估算" in zh and "450" in zh
    assert "estimated from floor area at 2 m² per person" in en and "450 people" in en


def test_shelter_points_with_floor_area_get_an_estimate(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("名称,经度,纬度,建筑面积\n礼堂,119.6,28.4,600平方米\n", encoding="utf-8")
    out = load_layer(p, "shelters").gdf
    assert out["capacity"].tolist() == [300] and out["capacity_estimated"].tolist() == [True]


def test_shelter_points_without_capacity_or_area_are_refused_as_before(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("名称,经度,纬度\n礼堂,119.6,28.4\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        load_layer(p, "shelters")
    assert "缺少必填字段“容纳人数”" in str(err.value) and "required field 'Capacity' is missing" in str(err.value)


def test_shelter_rows_with_neither_are_named(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("名称,经度,纬度,容纳人数,建筑面积\n礼堂,119.6,28.4,,\n学校,119.61,28.41,,500\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        load_layer(p, "shelters")
    msg = str(err.value)
    assert "第 2 行" in msg and "第 3 行" not in msg and "is empty" in msg and "estimate" in msg
