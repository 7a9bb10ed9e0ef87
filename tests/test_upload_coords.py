"""The 坐标系 / CRS box under every upload of the app (ui/crs_box.py), and every raster format on every raster upload.

The Fire page's candidate sites and the Flood page's population raster and scenario file are read as the Data page
reads a file, with the same choice: a file in Beijing 1954 Gauss-Kruger coordinates, with the bureau's parameters,
lands where the same data in CGCS2000 lands (within a metre). A depth raster may be an SRTM-style ``.hgt`` or a zip.
Bad input -- a zip with no raster inside, a chosen CRS the file contradicts, parameters of the wrong length -- is a
message in both languages; nothing is read, no traceback.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from layers.workspace import Workspace

#: a published 7-parameter set (EPSG:1918, "Beijing 1954 to WGS 84 (2)"; position vector, PROJ's +towgs84)
PARAMS = "15.53,-113.82,-41.38,0,0,0.814,-0.38"
#: Beijing 1954 3-degree Gauss-Kruger zone 39 (central meridian 117E, zone number in the eastings), with PARAMS
BJ54_ZONE39 = (f"+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=krass +towgs84={PARAMS} "
               "+units=m +no_defs")
#: the same zone on CGCS2000
CGCS_ZONE39 = 4527
LON, LAT = 117.0, 29.8
GEOD = pyproj.Geod(ellps="GRS80")


def _to_bj54(lon, lat):
    """CGCS2000 lon/lat to Beijing 1954 zone 39 through PARAMS (CGCS2000 taken as WGS84, the parameters' hub, as the
    tool takes it)."""
    return pyproj.Transformer.from_crs(4326, BJ54_ZONE39, always_xy=True).transform(lon, lat)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def _texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def _dem(folder: Path, name: str) -> None:
    """A 40 x 40 DEM of 30 m cells with a hill, at about 117.0E 29.8N (CGCS2000, CM 117E)."""
    x0, y0 = pyproj.Transformer.from_crs(4490, 4548, always_xy=True).transform(LON, LAT)
    yy, xx = np.mgrid[0:40, 0:40]
    z = (300 + 200 * np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / 80)).astype("float32")
    with rasterio.open(folder / name, "w", driver="GTiff", width=40, height=40, count=1, dtype="float32",
                       crs="EPSG:4548", transform=from_origin(x0, y0, 30, 30)) as dst:
        dst.write(z, 1)


@pytest.fixture
def fire_workspace(tmp_path, monkeypatch) -> Workspace:
    """Forest over a small DEM: the Fire page runs its review on it."""
    ws = Workspace(tmp_path / "ws")
    ws.folder.mkdir()
    forest = gpd.GeoDataFrame({"fuel_type": ["conifer"], "township": ["东镇"]}, crs=4490,
                              geometry=[shapely.box(LON + 0.001, LAT - 0.01, LON + 0.011, LAT - 0.001)])
    ws.replace("forest", forest, note="t", user="t")
    _dem(ws.folder, ws.raster_path("dem").name)
    monkeypatch.setenv("GIS_WORKSPACE", str(ws.folder))
    return ws


# ---- the Fire page's candidate sites -----------------------------------------------------------------------------
CANDIDATES = [(LON + 0.004, LAT - 0.004), (LON + 0.008, LAT - 0.007)]


def _bj54_csv(tmp_path: Path) -> Path:
    """The candidates in Beijing 1954 zone 39 survey columns (X northing, Y easting with the zone), no CRS in the file,
    made from their CGCS2000 positions through PARAMS."""
    lon, lat = zip(*CANDIDATES)
    east, north = _to_bj54(lon, lat)
    p = tmp_path / "候选点.csv"
    rows = "\n".join(f"塔{i},{n:.3f},{e:.3f}" for i, (e, n) in enumerate(zip(east, north)))
    p.write_text("名称,X,Y\n" + rows + "\n", encoding="utf-8")
    return p


def _positions(at) -> list[tuple[float, float]]:
    """The longitude and latitude of each candidate in the preview under the upload."""
    table = next(d.value for d in at.dataframe if "经度" in d.value.columns and "纬度" in d.value.columns)
    return list(zip(table["经度"].astype(float), table["纬度"].astype(float)))


def test_fire_candidates_in_beijing_1954_land_where_cgcs2000_lands(fire_workspace, tmp_path, upload_app):
    at = upload_app("ui.page_fire", {"fire_site_candidates": _bj54_csv(tmp_path)})
    at.run()
    at.run()   # the page reads the candidates before it draws their uploader: the upload counts from the next run
    assert not at.exception, [e.message for e in at.exception]
    box = at.selectbox(key="fire_site_candidates_crs")
    assert "北京1954 3° 高斯-克吕格 第 39 带，横坐标带带号，中央经线 117°（EPSG:2415）" in box.options
    box.select("beijing1954").run()                       # the datum alone: the zone from the 8-digit eastings
    assert not at.exception and not at.error, _texts(at.error)
    assert "北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）" in _texts(at.success)
    assert "数十米" in _texts(at.warning)                  # no parameters yet: said to be off by tens of metres
    ballpark = _positions(at)
    assert all(_metres(p, q) > 20 for p, q in zip(ballpark, CANDIDATES))
    at.text_input(key="fire_site_candidates_towgs84").input(PARAMS).run()
    assert not at.exception and not at.error, _texts(at.error)
    assert "转换参数" in _texts(at.success) and "数十米" not in _texts(at.warning)
    got = _positions(at)
    assert len(got) == 2 and all(_metres(p, q) < 1.0 for p, q in zip(got, CANDIDATES))
    # the same points given in CGCS2000 lon/lat land in the same places (the preview rounds to 1e-6 degrees)
    cgcs = tmp_path / "cgcs.csv"
    cgcs.write_text("名称,经度,纬度\n" + "\n".join(f"塔{i},{x!r},{y!r}" for i, (x, y) in enumerate(CANDIDATES)) + "\n",
                    encoding="utf-8")
    at2 = upload_app("ui.page_fire", {"fire_site_candidates": cgcs})
    at2.run()
    at2.run()
    assert not at2.error, _texts(at2.error)
    assert all(_metres(p, q) < 1.0 for p, q in zip(_positions(at2), got))


def test_fire_candidates_crs_contradicting_the_prj_is_refused_in_both_languages(fire_workspace, tmp_path,
                                                                                 upload_app):
    lon, lat = zip(*CANDIDATES)
    pts = gpd.GeoDataFrame({"name": ["甲", "乙"]}, geometry=gpd.points_from_xy(lon, lat), crs=4490).to_crs(4527)
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(pts, folder / "cands.shp", encoding="UTF-8")
    z = tmp_path / "cands.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    at = upload_app("ui.page_fire", {"fire_site_water_candidates": z})
    at.run()
    at.run()
    assert not at.error and "EPSG:4527" in _texts(at.success)     # read in the CRS its .prj declares
    at.selectbox(key="fire_site_water_candidates_crs").select("EPSG:2415").run()
    assert not at.exception, [e.message for e in at.exception]
    errors = _texts(at.error)
    assert "不一致" in errors and "改用所选坐标系" in errors
    assert "not the chosen CRS" in _texts(at.markdown)            # the other language, folded under it
    assert not any("经度" in d.value.columns for d in at.dataframe)  # nothing read
    at.checkbox(key="fire_site_water_candidates_crs_override").check().run()
    assert not at.error and "EPSG:2415" in _texts(at.success)
    at.text_input(key="fire_site_water_candidates_towgs84").input("1,2").run()
    assert "3 个或 7 个" in _texts(at.error) and "3 or 7" in _texts(at.error)
    assert not at.exception


# ---- the Flood page's population raster -------------------------------------------------------------------------
def _population(path: Path, *, crs: str | None, bj54: bool) -> Path:
    """5 x 4 cells of 100 m, 10 people each, with the top-left corner at the CGCS2000 zone 39 position of
    (117.002E, 29.798N); ``bj54``: the same corner in Beijing 1954 zone 39 coordinates through PARAMS."""
    x, y = pyproj.Transformer.from_crs(4490, CGCS_ZONE39, always_xy=True).transform(117.002, 29.798)
    if bj54:
        lon, lat = pyproj.Transformer.from_crs(CGCS_ZONE39, 4490, always_xy=True).transform(x, y)
        x, y = _to_bj54(lon, lat)
    with rasterio.open(path, "w", driver="GTiff", width=5, height=4, count=1, dtype="float32", crs=crs,
                       transform=from_origin(x, y, 100, 100)) as dst:
        dst.write(np.full((4, 5), 10.0, "float32"), 1)
    return path


def _centre(at) -> tuple[float, float]:
    m = re.search(r"中心位于经度 ([0-9.]+)，纬度 ([0-9.]+)", _texts(at.success))
    assert m, _texts(at.success)
    return float(m.group(1)), float(m.group(2))


def _pop_page(upload_app, path: Path):
    at = upload_app("ui.page_flood", {"flood_pop_raster": path})
    return at.run()


def test_population_raster_in_beijing_1954_lands_where_cgcs2000_lands(flood_workspace, tmp_path, upload_app):
    at = _pop_page(upload_app, _population(tmp_path / "pop_cgcs.tif", crs=f"EPSG:{CGCS_ZONE39}", bj54=False))
    assert not at.exception and not at.error, _texts(at.error)
    assert "4 × 5" in _texts(at.success) and f"EPSG:{CGCS_ZONE39}" in _texts(at.success)
    want = _centre(at)
    at = _pop_page(upload_app, _population(tmp_path / "pop_bj54.tif", crs=None, bj54=True))
    assert not at.exception, [e.message for e in at.exception]
    # no CRS in the file: the zone number tells Gauss-Kruger zone 39, assumed CGCS2000 -- choose Beijing 1954
    at.selectbox(key="flood_pop_raster_crs").select("EPSG:2415").run()
    assert not at.error, _texts(at.error)
    assert "北京1954" in _texts(at.success) and "数十米" in _texts(at.warning)
    assert _metres(_centre(at), want) > 20                   # without the parameters: tens of metres off
    at.text_input(key="flood_pop_raster_towgs84").input(PARAMS).run()
    assert not at.exception and not at.error, _texts(at.error)
    assert any("转换参数" in w for w in (_texts(at.success), _texts(at.warning)))
    assert _metres(_centre(at), want) < 1.0


def _zip_without_raster(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("说明.txt", "没有栅格 / no raster here")
    return path


def _said_no_raster(at) -> None:
    """The page refused a zip with no raster in it, in both languages, without a traceback."""
    assert not at.exception, [e.message for e in at.exception]
    errors = _texts(at.error)
    assert "压缩包中应有一个栅格文件" in errors and "the archive should hold one raster" in errors
    assert "Traceback" not in errors


def test_population_raster_bad_input_is_said_in_both_languages(flood_workspace, tmp_path, upload_app):
    at = _pop_page(upload_app, _zip_without_raster(tmp_path / "pop.zip"))
    _said_no_raster(at)
    assert not at.success                                                      # nothing read
    at = _pop_page(upload_app, _population(tmp_path / "pop_cgcs.tif", crs=f"EPSG:{CGCS_ZONE39}", bj54=False))
    at.selectbox(key="flood_pop_raster_crs").select("EPSG:2415").run()              # the GeoTIFF says otherwise
    errors = _texts(at.error)
    assert "不一致" in errors and "not the chosen CRS" in errors and not at.success
    assert not at.exception


# ---- the Flood page's depth raster: every raster format ---------------------------------------------------------
def _hgt(path: Path) -> Path:
    """An SRTM-style tile N29E117 (1201 x 1201 big-endian 16-bit): 2 (m) over grids G1 and G2, 0 elsewhere."""
    a = np.zeros((1201, 1201), dtype=">i2")
    a[int((30 - 29.506) * 1200):int((30 - 29.499) * 1200), int((117.499 - 117) * 1200):int((117.511 - 117) * 1200)] = 2
    path.write_bytes(a.tobytes())
    return path


def _plan_page(upload_app, path: Path):
    at = upload_app("ui.page_flood", {"flood_upload_raster": path})
    at.run()
    at.radio(key="flood_source").set_value("raster").run()
    return at


def _recording_uploaders(module: str) -> None:
    """Run page ``module`` with uploaders that record the file types they take (in the session) and hand nothing."""
    import importlib

    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    def uploader(*args, key=None, type=None, **kwargs):
        st.session_state.setdefault("_types", {})[key] = list(type or [])
        return [] if kwargs.get("accept_multiple_files") else None

    st.session_state.setdefault("lang", "zh")
    st.file_uploader = uploader
    DeltaGenerator.file_uploader = lambda self, *args, **kwargs: uploader(*args, **kwargs)
    importlib.import_module(module).page()


def test_every_raster_upload_takes_the_readers_own_types(flood_workspace, upload_app):
    from streamlit.testing.v1 import AppTest

    from layers.raster_files import RASTER_FORMATS, UPLOAD_RASTER_TYPES

    assert {s.lstrip(".") for s in RASTER_FORMATS} | {"zip"} == set(UPLOAD_RASTER_TYPES)
    assert {"hgt", "zip", "asc", "img", "vrt", "nc"} <= set(UPLOAD_RASTER_TYPES)
    types = {}
    for module in ("ui.page_flood", "ui.page_data", "ui.page_workspace"):    # upload_app restores the uploaders
        at = AppTest.from_function(_recording_uploaders, args=(module,), default_timeout=180).run()
        if module == "ui.page_flood":
            at.radio(key="flood_source").set_value("raster").run()
        assert not at.exception, [e.message for e in at.exception]
        types.update(at.session_state["_types"])
    for key in ("flood_upload_raster", "flood_pop_raster", "osm_dem", "upload_file"):   # depth, people, DEM, any
        assert set(UPLOAD_RASTER_TYPES) <= set(types[key]), key


@pytest.mark.parametrize("zipped", [False, True])
def test_depth_raster_as_hgt_or_zip_on_the_flood_page(flood_workspace, tmp_path, upload_app, zipped):
    tile = _hgt(tmp_path / "N29E117.hgt")
    if zipped:
        z = tmp_path / "N29E117.hgt.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(tile, tile.name)
        tile.unlink()
        tile = z
    at = _plan_page(upload_app, tile)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, _texts(at.error)
    metrics = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert metrics["需转移人数"] == 90 and metrics["已安置"] == 90      # G1 and G2 (30 + 60 people) are in 2 m


def test_depth_raster_asc_zipped_with_its_prj_and_a_zip_without_raster(flood_workspace, tmp_path, upload_app):
    x0, y0 = pyproj.Transformer.from_crs(4490, 4548, always_xy=True).transform(117.499, 29.506)
    asc = tmp_path / "depth.asc"
    with rasterio.open(asc, "w", driver="AAIGrid", width=16, height=10, count=1, dtype="float32", crs="EPSG:4548",
                       transform=from_origin(x0, y0, 100, 100)) as dst:
        dst.write(np.full((10, 16), 1.5, "float32"), 1)
    z = tmp_path / "depth.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(asc, "depth.asc")
        zf.write(tmp_path / "depth.prj", "depth.prj")
    at = _plan_page(upload_app, z)
    assert not at.exception and not at.error, _texts(at.error)
    assert {m.label: m.value for m in at.metric}["需转移人数"] == "180"      # every grid under 1.5 m
    at = _plan_page(upload_app, _zip_without_raster(tmp_path / "empty.zip"))
    _said_no_raster(at)
    assert "需转移人数" not in {m.label for m in at.metric}                  # no plan from it


def test_depth_raster_without_crs_takes_the_box_under_its_upload(flood_workspace, tmp_path, upload_app):
    x0, y0 = pyproj.Transformer.from_crs(4490, 4548, always_xy=True).transform(117.499, 29.506)
    asc = tmp_path / "depth.asc"
    with rasterio.open(asc, "w", driver="AAIGrid", width=16, height=10, count=1, dtype="float32",
                       transform=from_origin(x0, y0, 100, 100)) as dst:          # metres, no zone, no .prj
        dst.write(np.full((10, 16), 1.5, "float32"), 1)
    (tmp_path / "depth.prj").unlink(missing_ok=True)
    at = _plan_page(upload_app, asc)
    assert not at.exception, [e.message for e in at.exception]
    errors = _texts(at.error)
    assert "坐标系 / CRS" in errors and "CRS box" in errors                     # where to choose it, both languages
    assert "需转移人数" not in {m.label for m in at.metric}
    at.selectbox(key="flood_upload_raster_crs").select("EPSG:4548").run()
    assert not at.exception and not at.error, _texts(at.error)
    assert {m.label: m.value for m in at.metric}["需转移人数"] == "180"
