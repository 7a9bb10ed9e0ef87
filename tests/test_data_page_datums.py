"""The Data page: old datums in the CRS box, named in the summary; the bureau's parameters; the "file's CRS is
wrong" tick; the web-map correction preset from the workspace; rasters other than GeoTIFF."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from layers.workspace import Workspace

PRJ_BJ54_ZONE39 = ('PROJCS["Beijing_1954_3_Degree_GK_Zone_39",GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",'
                   'SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",'
                   '0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",39500000.0],'
                   'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],'
                   'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')


@pytest.fixture
def small_workspace(tmp_path, monkeypatch) -> Workspace:
    """A workspace of one road near 117E 29.8N, made the app's workspace for one test."""
    ws = Workspace(tmp_path / "ws")
    ws.folder.mkdir()
    ws.replace("roads", gpd.GeoDataFrame({"name": ["县道"]}, geometry=[shapely.LineString([(116.99, 29.79),
                                                                                          (117.03, 29.82)])],
                                         crs=4490), note="t", user="t")
    monkeypatch.setenv("GIS_WORKSPACE", str(ws.folder))
    return ws


def _bj54_zip(tmp_path: Path, *, prj: bool) -> Path:
    g = gpd.GeoDataFrame({"名称": ["东山水库", "坝塘一号"], "类型": ["水库", "坝塘"]},
                         geometry=[shapely.Point(117.0, 29.8), shapely.Point(117.01, 29.81)], crs=4214).to_crs(2415)
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(g.set_crs(None, allow_override=True), folder / "water.shp", encoding="UTF-8")
    for p in folder.glob("*.prj"):
        p.unlink()
    if prj:
        (folder / "water.prj").write_text(PRJ_BJ54_ZONE39, encoding="ascii")
    z = tmp_path / "water.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    return z


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def test_old_datum_chosen_named_and_parameters_applied(small_workspace, tmp_path, upload_app):
    at = upload_app("ui.page_data", _bj54_zip(tmp_path, prj=False))
    at.session_state["upload_kind"] = "water_sources"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    box = at.selectbox(key="upload_crs")
    assert "北京1954 3° 高斯-克吕格 第 39 带，横坐标带带号，中央经线 117°（EPSG:2415）" in box.options
    assert "西安1980 3° 高斯-克吕格 中央经线 117°（EPSG:2384）" in box.options
    assert any(o.startswith("北京1954（") for o in box.options)          # the datum alone, zone from the numbers
    box.select("beijing1954").run()
    assert not at.exception and not at.error, _texts(at.error)
    assert "北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）" in _texts(at.success)
    assert "数十米" in _texts(at.warning)
    at.text_input(key="upload_towgs84").input("1,2").run()
    assert "3 个或 7 个" in _texts(at.error) and "3 or 7" in _texts(at.error)
    at.text_input(key="upload_towgs84").input("11.911,-154.833,-80.079").run()
    assert not at.error, _texts(at.error)
    assert "转换参数" in _texts(at.success) and "数十米" not in _texts(at.warning)


def test_chosen_crs_against_the_prj_needs_the_tick(small_workspace, tmp_path, upload_app):
    at = upload_app("ui.page_data", _bj54_zip(tmp_path, prj=True))
    at.session_state["upload_kind"] = "water_sources"
    at.run()
    assert "北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）" in _texts(at.success)   # read from the .prj, named
    at.selectbox(key="upload_crs").select("EPSG:4527").run()
    assert "不一致" in _texts(at.error) and "改用所选坐标系" in _texts(at.error)
    at.checkbox(key="upload_crs_override").check().run()
    assert not at.error and "EPSG:4527" in _texts(at.success)


def test_web_map_correction_preset_from_the_workspace(small_workspace, tmp_path, upload_app):
    p = tmp_path / "高德水源.csv"
    p.write_text("名称,类型,经度,纬度\n东山,水窖,117.005,29.805\n", encoding="utf-8")
    key = f"upload_offset_water_sources_{hashlib.sha1(p.name.encode()).hexdigest()[:8]}"
    at = upload_app("ui.page_data", p)
    at.session_state["upload_kind"] = "water_sources"
    at.run()
    assert at.selectbox(key=key).value == "none"
    assert "--gcj02" in _texts(at.warning) and "GCJ-02" in _texts(at.warning)        # suspected from the name
    small_workspace.remember_layer_option("water_sources", p.name, offset="gcj02")
    at = upload_app("ui.page_data", p)
    at.session_state["upload_kind"] = "water_sources"
    at.run()
    assert at.selectbox(key=key).value == "gcj02"
    assert any("上次导入此文件时选择" in c.value for c in at.caption)
    assert "GCJ-02" in _texts(at.warning) and "转换为 CGCS2000" in _texts(at.warning)


def test_ascii_raster_zipped_with_its_prj(small_workspace, tmp_path, upload_app):
    asc = tmp_path / "dem.asc"
    with rasterio.open(asc, "w", driver="AAIGrid", width=4, height=3, count=1, dtype="float32", crs="EPSG:4548",
                       transform=from_origin(500_000, 3_300_000, 30, 30)) as dst:
        dst.write(np.full((3, 4), 300.0, "float32"), 1)
    z = tmp_path / "dem.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(asc, "dem.asc")
        zf.write(tmp_path / "dem.prj", "dem.prj")
    at = upload_app("ui.page_data", z)
    at.session_state["upload_kind"] = "dem"
    at.run()
    assert not at.exception and not at.error, _texts(at.error)
    assert "3 × 4" in _texts(at.success) and "EPSG:4548" in _texts(at.success)
