"""Readers: every supported vector format, built tiny inside each test, and every refusal."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.crs import resolve_crs
from layers.errors import LayerError
from layers.readers import SUPPORTED, list_sublayers, read_vector

DMS = 119 + 30 / 60 + 15.5 / 3600


def _vals(series) -> list:
    """Values with every missing marker (None, NaN, pd.NA) as None."""
    return [None if pd.isna(v) else v for v in series]


def _water() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["东山水库", "坝塘一号"], "类型": ["水库", "坝塘"], "蓄水量": [12000.0, 800.0]},
        geometry=[shapely.Point(119.6, 28.3), shapely.Point(119.7, 28.4)], crs="EPSG:4490")


def _shapefile(folder: Path, stem: str, encoding: str | None = None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    kwargs = {"encoding": encoding} if encoding else {}
    pyogrio.write_dataframe(_water(), folder / f"{stem}.shp", **kwargs)
    return {p.suffix: p for p in folder.iterdir() if p.stem == stem}


def _zip(path: Path, members: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            if isinstance(content, Path):
                content = content.read_bytes()
            zf.writestr(zipfile.ZipInfo(name), content)
    return path


# ---- shapefile -------------------------------------------------------------------------------

def test_gbk_shapefile_zipped_without_cpg(tmp_path):
    parts = _shapefile(tmp_path / "shp", "水源点", encoding="GBK")
    assert "东山水库".encode("gbk") in parts[".dbf"].read_bytes()
    z = _zip(tmp_path / "upload_123.zip", {f"水源点{ext}": p for ext, p in parts.items() if ext != ".cpg"})
    gdf = read_vector(z, display_name="水源点.zip")
    assert list(gdf.columns) == ["名称", "类型", "蓄水量", "geometry", "_row"]
    assert gdf["名称"].tolist() == ["东山水库", "坝塘一号"]
    assert gdf["类型"].tolist() == ["水库", "坝塘"]
    assert gdf["_row"].tolist() == [1, 2]
    assert gdf.crs.to_epsg() == 4490
    assert gdf.attrs["source"] == "水源点.zip" and gdf.attrs["warnings"] == []


def test_utf8_shapefile_with_cpg_in_subfolder(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    assert parts[".cpg"].read_text().strip().upper() == "UTF-8"
    z = _zip(tmp_path / "w.zip", {f"导出/数据/water{ext}": p for ext, p in parts.items()})
    gdf = read_vector(z)
    assert gdf["名称"].tolist() == ["东山水库", "坝塘一号"]
    assert gdf.geometry.x.tolist() == [119.6, 119.7]
    assert gdf.attrs["source"] == "w.zip"


def test_utf8_shapefile_without_cpg_detected(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    z = _zip(tmp_path / "w.zip", {f"water{ext}": p for ext, p in parts.items() if ext != ".cpg"})
    assert read_vector(z)["名称"].tolist() == ["东山水库", "坝塘一号"]


def test_bare_shp_path(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water", encoding="GBK")
    parts[".cpg"].unlink()
    gdf = read_vector(parts[".shp"])
    assert gdf["名称"].tolist() == ["东山水库", "坝塘一号"] and gdf.attrs["source"] == "water.shp"


def test_shapefile_without_prj_has_no_crs(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    z = _zip(tmp_path / "w.zip", {f"water{ext}": p for ext, p in parts.items() if ext != ".prj"})
    gdf = read_vector(z)
    assert gdf.crs is None
    assert resolve_crs(gdf, source="w.zip").crs.to_epsg() == 4490


def test_shapefile_zip_missing_shx(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    z = _zip(tmp_path / "w.zip", {f"water{ext}": p for ext, p in parts.items() if ext != ".shx"})
    with pytest.raises(LayerError, match=r"缺少 \.shx") as err:
        read_vector(z, display_name="水源.zip")
    assert "missing its .shx" in str(err.value) and len(err.value.problems) == 1


def test_shapefile_zip_missing_shx_and_dbf_both_listed(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    z = _zip(tmp_path / "w.zip", {"water.shp": parts[".shp"]})
    with pytest.raises(LayerError, match=r"\.dbf") as err:
        read_vector(z)
    assert len(err.value.problems) == 2


def test_bare_shp_missing_dbf(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    parts[".dbf"].unlink()
    with pytest.raises(LayerError, match=r"缺少 \.dbf"):
        read_vector(parts[".shp"])


def test_zip_with_path_escape_rejected(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water")
    members = {f"water{ext}": p for ext, p in parts.items()}
    members["../evil.shp"] = parts[".shp"]
    z = _zip(tmp_path / "w.zip", members)
    with pytest.raises(LayerError, match="路径不安全") as err:
        read_vector(z)
    assert "../evil.shp" in str(err.value)
    assert not (tmp_path / "evil.shp").exists()


def test_zip_with_absolute_path_rejected(tmp_path):
    z = _zip(tmp_path / "w.zip", {"/etc/evil.shp": b"x"})
    with pytest.raises(LayerError, match="unsafe path"):
        read_vector(z)


def test_zip_with_several_shapefiles(tmp_path):
    a = _shapefile(tmp_path / "a", "water")
    b = _shapefile(tmp_path / "b", "roads")
    z = _zip(tmp_path / "w.zip", {**{f"water{e}": p for e, p in a.items()}, **{f"roads{e}": p for e, p in b.items()}})
    with pytest.raises(LayerError, match="请选择一个") as err:
        read_vector(z)
    assert "water.shp" in str(err.value) or "water" in str(err.value)
    assert sorted(list_sublayers(z)) == ["roads", "water"]
    assert len(read_vector(z, sublayer="roads")) == 2


def test_zip_without_shapefile(tmp_path):
    z = _zip(tmp_path / "w.zip", {"readme.txt": b"hello"})
    with pytest.raises(LayerError, match="没有 Shapefile"):
        read_vector(z)


def test_zip_holding_a_geojson(tmp_path):
    src = tmp_path / "w.geojson"
    pyogrio.write_dataframe(_water(), src, driver="GeoJSON")
    gdf = read_vector(_zip(tmp_path / "w.zip", {"w.geojson": src}))
    assert gdf["名称"].tolist() == ["东山水库", "坝塘一号"]


def test_damaged_zip(tmp_path):
    z = tmp_path / "w.zip"
    z.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(LayerError, match="压缩包无法打开"):
        read_vector(z)


# ---- GeoPackage, GeoJSON ---------------------------------------------------------------------

def test_geopackage_with_two_layers(tmp_path):
    gpkg = tmp_path / "data.gpkg"
    pyogrio.write_dataframe(_water(), gpkg, layer="水源点")
    roads = gpd.GeoDataFrame({"名称": ["县道"]}, geometry=[shapely.LineString([(119.6, 28.3), (119.7, 28.4)])],
                             crs=4490)
    pyogrio.write_dataframe(roads, gpkg, layer="道路")
    assert list_sublayers(gpkg) == ["水源点", "道路"]
    with pytest.raises(LayerError, match="请选择一个：水源点、道路") as err:
        read_vector(gpkg, display_name="一张图.gpkg")
    assert "choose one: 水源点, 道路" in str(err.value)
    gdf = read_vector(gpkg, sublayer="道路")
    assert gdf["名称"].tolist() == ["县道"] and gdf.geom_type.tolist() == ["LineString"]
    assert gdf["_row"].tolist() == [1] and gdf.crs.to_epsg() == 4490
    with pytest.raises(LayerError, match="没有图层“河流”"):
        read_vector(gpkg, sublayer="河流")


def test_geopackage_single_layer_default(tmp_path):
    gpkg = tmp_path / "data.gpkg"
    pyogrio.write_dataframe(_water(), gpkg, layer="水源点")
    assert read_vector(gpkg)["名称"].tolist() == ["东山水库", "坝塘一号"]


def test_geojson(tmp_path):
    path = tmp_path / "w.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"名称":"东山水库","容量":1200},'
        '"geometry":{"type":"Point","coordinates":[119.6,28.3,150.0]}},'
        '{"type":"Feature","properties":{"名称":"坝塘","容量":null},'
        '"geometry":{"type":"Polygon","coordinates":[[[119.6,28.3],[119.7,28.3],[119.7,28.4],[119.6,28.3]]]}}]}',
        encoding="utf-8")
    gdf = read_vector(path)
    assert gdf["名称"].tolist() == ["东山水库", "坝塘"]
    assert gdf["_row"].tolist() == [1, 2]
    assert gdf.crs.to_epsg() == 4326
    assert not gdf.geometry.has_z.any() and gdf.geometry.iloc[0].coords[0] == (119.6, 28.3)


def test_geojson_in_gbk_read_with_warning(tmp_path):
    path = tmp_path / "w.geojson"
    path.write_bytes('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"名称":"水库"},'
                     '"geometry":{"type":"Point","coordinates":[119.6,28.3]}}]}'.encode("gbk"))
    gdf = read_vector(path)
    assert gdf["名称"].tolist() == ["水库"]
    assert "GB18030" in gdf.attrs["warnings"][0][1]


def test_shapefile_cpg_contradicted_by_data(tmp_path):
    parts = _shapefile(tmp_path / "shp", "water", encoding="GBK")
    parts[".cpg"].write_text("UTF-8")
    gdf = read_vector(parts[".shp"])
    assert gdf["名称"].tolist() == ["东山水库", "坝塘一号"] and len(gdf.attrs["warnings"]) == 1


def test_geojson_in_gk_metres_without_crs_member(tmp_path):
    path = tmp_path / "w.geojson"
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1},'
                    '"geometry":{"type":"Point","coordinates":[39510000.0,3490000.0]}}]}', encoding="utf-8")
    gdf = read_vector(path)
    assert gdf.crs is None
    assert resolve_crs(gdf, source="w.geojson").crs.to_epsg() == 4527


def test_damaged_geojson(tmp_path):
    path = tmp_path / "w.geojson"
    path.write_text('{"type":"FeatureCollection","features":[', encoding="utf-8")
    with pytest.raises(LayerError, match="文件无法读取") as err:
        read_vector(path, display_name="水源.geojson")
    assert str(tmp_path) not in str(err.value)


def test_empty_layer_rejected(tmp_path):
    path = tmp_path / "w.geojson"
    path.write_text('{"type":"FeatureCollection","features":[]}', encoding="utf-8")
    with pytest.raises(LayerError, match="没有任何要素"):
        read_vector(path)


# ---- KML / KMZ -------------------------------------------------------------------------------

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Document><name>奥维导出.kmz</name>
  <Folder><name>水源点</name>
    <Placemark><name>东山水库</name><description>常年有水</description>
      <ExtendedData><Data name="容量"><value>12000</value></Data></ExtendedData>
      <Point><coordinates>119.6,28.3,152.5</coordinates></Point></Placemark>
    <Folder><name>水库</name>
      <Placemark><name>西山水库</name>
        <ExtendedData><SchemaData schemaUrl="#s"><SimpleData name="容量">800</SimpleData></SchemaData></ExtendedData>
        <Point><coordinates> 119.7, 28.4, 10 </coordinates></Point></Placemark>
    </Folder>
  </Folder>
  <Folder><name>道路</name>
    <Placemark><name>林道</name>
      <LineString><coordinates>119.6,28.3,100 119.65,28.35,120
        119.7,28.4,130</coordinates></LineString></Placemark>
    <Placemark><name>林区</name>
      <MultiGeometry>
        <Polygon><outerBoundaryIs><LinearRing><coordinates>119.6,28.3,0 119.7,28.3,0 119.7,28.4,0 119.6,28.3,0
        </coordinates></LinearRing></outerBoundaryIs></Polygon>
        <Polygon><outerBoundaryIs><LinearRing><coordinates>119.8,28.3 119.9,28.3 119.9,28.4 119.8,28.3
        </coordinates></LinearRing></outerBoundaryIs>
        <innerBoundaryIs><LinearRing><coordinates>119.85,28.32 119.88,28.32 119.88,28.35 119.85,28.32
        </coordinates></LinearRing></innerBoundaryIs></Polygon>
      </MultiGeometry></Placemark>
  </Folder>
</Document></kml>"""


def test_kmz_with_folders_nested_folder_and_3d(tmp_path):
    kmz = _zip(tmp_path / "upload.kmz", {"doc.kml": KML.encode("utf-8"), "files/icon.png": b"\x89PNG"})
    gdf = read_vector(kmz, display_name="奥维.kmz")
    assert gdf["name"].tolist() == ["东山水库", "西山水库", "林道", "林区"]
    assert gdf["folder"].tolist() == ["水源点", "水源点/水库", "道路", "道路"]
    assert _vals(gdf["description"]) == ["常年有水", None, None, None]
    assert _vals(gdf["容量"]) == ["12000", "800", None, None]
    assert gdf["_row"].tolist() == [1, 2, 3, 4]
    assert gdf.geom_type.tolist() == ["Point", "Point", "LineString", "MultiPolygon"]
    assert not gdf.geometry.has_z.any()
    assert gdf.geometry.iloc[1].coords[0] == (119.7, 28.4)
    assert list(gdf.geometry.iloc[2].coords) == [(119.6, 28.3), (119.65, 28.35), (119.7, 28.4)]
    assert len(gdf.geometry.iloc[3].geoms[1].interiors) == 1
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["source"] == "奥维.kmz" and gdf.attrs["warnings"] == []
    assert list_sublayers(kmz) == ["水源点", "水源点/水库", "道路"]


def test_kml_folder_as_sublayer(tmp_path):
    path = tmp_path / "a.kml"
    path.write_text(KML, encoding="utf-8")
    assert read_vector(path, sublayer="水源点")["name"].tolist() == ["东山水库", "西山水库"]
    assert read_vector(path, sublayer="水源点/水库")["_row"].tolist() == [2]
    with pytest.raises(LayerError, match="没有文件夹“河流”"):
        read_vector(path, sublayer="河流")


NETWORK_LINK = """<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<NetworkLink><name>实时</name><Link><href>http://example.com/live.kml</href></Link></NetworkLink>
{extra}</Document></kml>"""


def test_kml_with_only_network_link_reported(tmp_path):
    path = tmp_path / "a.kml"
    path.write_text(NETWORK_LINK.format(extra=""), encoding="utf-8")
    with pytest.raises(LayerError, match="网络链接") as err:
        read_vector(path)
    assert "network links are not followed" in str(err.value)


def test_kml_network_link_beside_placemarks_is_a_warning(tmp_path):
    path = tmp_path / "a.kml"
    pm = "<Placemark><name>点</name><Point><coordinates>119.6,28.3</coordinates></Point></Placemark>"
    path.write_text(NETWORK_LINK.format(extra=pm), encoding="utf-8")
    gdf = read_vector(path)
    assert gdf["name"].tolist() == ["点"] and gdf["folder"].tolist() == [""]
    (zh, en), = gdf.attrs["warnings"]
    assert "http://example.com/live.kml" in zh and "not followed" in en


def test_kml_with_bad_coordinates_names_placemarks(tmp_path):
    path = tmp_path / "a.kml"
    path.write_text('<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                    "<Placemark><name>好</name><Point><coordinates>119.6,28.3</coordinates></Point></Placemark>"
                    "<Placemark><name>坏</name><Point><coordinates>abc,28.3</coordinates></Point></Placemark>"
                    "<Placemark><name>远</name><Point><coordinates>519.6,28.3</coordinates></Point></Placemark>"
                    "</Document></kml>", encoding="utf-8")
    with pytest.raises(LayerError, match="abc") as err:
        read_vector(path)
    assert [(p.row, p.field) for p in err.value.problems] == [(2, "coordinates"), (3, "coordinates")]


def test_kml_with_doctype_refused(tmp_path):
    path = tmp_path / "a.kml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    "<kml><Document><Placemark><name>&x;</name></Placemark></Document></kml>", encoding="utf-8")
    with pytest.raises(LayerError, match="DTD"):
        read_vector(path)


def test_kml_not_xml(tmp_path):
    path = tmp_path / "a.kml"
    path.write_text("<kml><Document>", encoding="utf-8")
    with pytest.raises(LayerError, match="KML 格式错误"):
        read_vector(path)


def test_kml_gbk_declared(tmp_path):
    path = tmp_path / "a.kml"
    path.write_bytes(('<?xml version="1.0" encoding="GB2312"?><kml><Document><Folder><name>水源</name>'
                      "<Placemark><name>水窖</name><Point><coordinates>119.6,28.3</coordinates></Point></Placemark>"
                      "</Folder></Document></kml>").encode("gbk"))
    gdf = read_vector(path)
    assert gdf["name"].tolist() == ["水窖"] and gdf["folder"].tolist() == ["水源"]


# ---- CSV / XLSX ------------------------------------------------------------------------------

def test_xlsx_chinese_headers_dms_and_full_width(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "水源点"
    ws.append(["某某县森林防火水源点统计表"])
    ws.append(["序号", "名称", "经度（°）", "纬度（°）", "蓄水量"])
    ws.append([1, "东山水库", "119°30'15.5\"", "N28°24'", 12000])
    ws.append([2, "坝塘", "１１９．５", "２８．２５", None])
    ws.append([])
    ws.append([3, "水窖", 119.25, "28度15分", 30])
    wb.create_sheet("说明").append(["无"])
    path = tmp_path / "w.xlsx"
    wb.save(path)
    assert list_sublayers(path) == ["水源点", "说明"]
    gdf = read_vector(path, display_name="水源.xlsx")
    assert list(gdf.columns) == ["序号", "名称", "经度（°）", "纬度（°）", "蓄水量", "_row", "geometry"]
    assert gdf["_row"].tolist() == [3, 4, 6]
    assert gdf["名称"].tolist() == ["东山水库", "坝塘", "水窖"]
    assert gdf["经度（°）"].tolist() == ["119°30'15.5\"", "１１９．５", 119.25]
    assert gdf.geometry.x.tolist() == pytest.approx([DMS, 119.5, 119.25], abs=1e-12)
    assert gdf.geometry.y.tolist() == pytest.approx([28.4, 28.25, 28.25], abs=1e-12)
    assert gdf.crs.to_epsg() == 4490 and gdf.attrs["warnings"] == []


def test_xlsx_sheet_choice(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["说明"])
    ws = wb.create_sheet("点位")
    ws.append(["lon", "lat"])
    ws.append([119.6, 28.3])
    path = tmp_path / "w.xlsx"
    wb.save(path)
    assert read_vector(path, sublayer="点位")["_row"].tolist() == [2]
    found = read_vector(path)                    # the one sheet with coordinates, noted
    assert found["_row"].tolist() == [2]
    assert any("点位" in zh for zh, _ in found.attrs["warnings"])
    with pytest.raises(LayerError, match="找不到坐标列"):
        read_vector(path, sublayer="Sheet")
    with pytest.raises(LayerError, match="没有工作表“缺”"):
        read_vector(path, sublayer="缺")


def test_xlsx_formula_coordinate_without_cached_value(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度"])
    ws.append(["甲", 119.6, 28.3])
    ws.append(["乙", "=B2+0.1", 28.4])
    path = tmp_path / "w.xlsx"
    wb.save(path)
    with pytest.raises(LayerError, match="公式") as err:
        read_vector(path, display_name="点.xlsx")
    (p,) = err.value.problems
    assert (p.file, p.row, p.field) == ("点.xlsx", 3, "经度") and "=B2+0.1" in p.zh


def test_xlsx_damaged(tmp_path):
    path = tmp_path / "w.xlsx"
    path.write_bytes(b"not a workbook")
    with pytest.raises(LayerError, match="无法打开 Excel 文件"):
        read_vector(path)


def test_csv_gbk(tmp_path):
    path = tmp_path / "upload.csv"
    path.write_bytes("名称,经度,纬度,乡镇\n东山水库,119.6,28.3,城关镇\n坝塘,119.7,28.4,\n".encode("gbk"))
    gdf = read_vector(path, display_name="水源.csv")
    assert gdf["名称"].tolist() == ["东山水库", "坝塘"]
    assert _vals(gdf["乡镇"]) == ["城关镇", None]
    assert gdf["经度"].tolist() == ["119.6", "119.7"]
    assert gdf["_row"].tolist() == [2, 3]
    assert gdf.geometry.x.tolist() == [119.6, 119.7] and gdf.crs.to_epsg() == 4490


def test_csv_utf8_bom_semicolon_and_blank_lines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffname;lng;lat\n\nA;119.6;28.3\n".encode("utf-8"))
    gdf = read_vector(path)
    assert gdf["name"].tolist() == ["A"] and gdf["_row"].tolist() == [3]


def test_csv_swapped_lon_lat_detected(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("名称,经度,纬度\n甲,28.3,119.6\n乙,28.4,119.7\n", encoding="utf-8")
    gdf = read_vector(path)
    assert gdf.geometry.x.tolist() == [119.6, 119.7] and gdf.geometry.y.tolist() == [28.3, 28.4]
    assert gdf["经度"].tolist() == ["28.3", "28.4"]
    (zh, en), = gdf.attrs["warnings"]
    assert "对调" in zh and "swapped" in en


def test_csv_one_bad_coordinate(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("名称,经度,纬度\n甲,119.6,28.3\n乙,119.7,二十八\n丙,119.8,\n", encoding="utf-8")
    with pytest.raises(LayerError, match="无法识别的坐标值“二十八”") as err:
        read_vector(path, display_name="点.csv")
    assert [(p.file, p.row, p.field) for p in err.value.problems] == [("点.csv", 3, "纬度"), ("点.csv", 4, "纬度")]
    assert "第 3 行" in str(err.value) and "row 3, field '纬度'" in str(err.value)


def test_csv_out_of_range_latitude(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("lon,lat\n119.6,28.3\n119.7,98.3\n", encoding="utf-8")
    with pytest.raises(LayerError, match="超出 -90~90") as err:
        read_vector(path)
    assert err.value.problems[0].row == 3


def test_csv_gauss_kruger_xy_with_zone(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("名称,X,Y\n甲,3490000.5,39510000.25\n乙,3491000,39512000\n", encoding="utf-8")
    gdf = read_vector(path)
    assert gdf.crs is None
    assert gdf.geometry.x.tolist() == [39510000.25, 39512000.0]
    assert gdf.geometry.y.tolist() == [3490000.5, 3491000.0]
    assert "northing" in gdf.attrs["warnings"][0][1]
    assert resolve_crs(gdf, source="a.csv").crs.to_epsg() == 4527


def test_csv_mixed_degrees_and_metres(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("lon,lat\n119.6,28.3\n39510000,3490000\n", encoding="utf-8")
    with pytest.raises(LayerError, match="像投影坐标") as err:
        read_vector(path)
    assert err.value.problems[0].row == 3


def test_csv_combined_column(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('名称,经纬度\n甲,"119.6,28.3"\n乙,119.7，28.4\n', encoding="utf-8")
    gdf = read_vector(path)
    assert gdf.geometry.x.tolist() == [119.6, 119.7] and gdf.geometry.y.tolist() == [28.3, 28.4]


def test_csv_no_coordinate_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("名称,人口\n甲,10\n", encoding="utf-8")
    with pytest.raises(LayerError, match="找不到坐标列") as err:
        read_vector(path)
    assert "名称、人口" in str(err.value)


def test_csv_header_only(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("名称,经度,纬度\n", encoding="utf-8")
    with pytest.raises(LayerError, match="没有数据行"):
        read_vector(path)


# ---- dispatch --------------------------------------------------------------------------------

def test_supported_suffixes():
    assert {".gpkg", ".geojson", ".json", ".zip", ".shp", ".kml", ".kmz", ".csv", ".xlsx", ".tif"} <= SUPPORTED


def test_tif_is_a_raster(tmp_path):
    path = tmp_path / "dem.tif"
    path.write_bytes(b"II*\x00")
    with pytest.raises(LayerError, match="栅格") as err:
        read_vector(path)
    assert "raster" in str(err.value)


@pytest.mark.parametrize(("name", "pattern"), [("a.xls", r"\.xlsx"), ("a.txt", "不支持的文件类型"),
                                               ("a.dbf", "压缩成 .zip")])
def test_unsupported_types(tmp_path, name, pattern):
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(LayerError, match=pattern):
        read_vector(path)


def test_suffix_taken_from_display_name(tmp_path):
    path = tmp_path / "tmp123"
    path.write_text("lon,lat\n119.6,28.3\n", encoding="utf-8")
    gdf = read_vector(path, display_name="点.csv")
    assert gdf.attrs["source"] == "点.csv" and len(gdf) == 1


def test_missing_file(tmp_path):
    with pytest.raises(LayerError, match="文件不存在"):
        read_vector(tmp_path / "a.gpkg")
