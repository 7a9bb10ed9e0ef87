"""The CRS a user chooses on import: load_layer(crs=...), ``--crs`` on the command line, the Data page's box."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from layers.crs import CRSConflict, parse_user_crs, resolve_bounds_crs
from layers.errors import CRSError, LayerError
from layers.load import load_layer, load_points

LONLAT = [(117.0, 29.8), (117.01, 29.81)]


def _water_gk(code: int = 4548) -> gpd.GeoDataFrame:
    """Two water sources at about 117E 29.8N, in the metres of EPSG:``code``."""
    g = gpd.GeoDataFrame({"名称": ["东山水库", "坝塘一号"], "类型": ["水库", "坝塘"]},
                         geometry=[shapely.Point(x, y) for x, y in LONLAT], crs="EPSG:4490")
    return g.to_crs(code)


def _shp_zip(tmp_path: Path, gdf: gpd.GeoDataFrame, *, prj: int | None) -> Path:
    """Zipped Shapefile of ``gdf``'s numbers, with a .prj of EPSG:``prj`` or none."""
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    out = gdf.set_crs(prj, allow_override=True) if prj else gdf
    pyogrio.write_dataframe(out, folder / "water.shp", encoding="UTF-8")
    if prj is None:
        (folder / "water.prj").unlink()
    z = tmp_path / "water.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    return z


def _text(e: LayerError) -> str:
    return str(e)


# ---- Shapefile in Gauss-Kruger metres without .prj -------------------------------------------

def test_gk_shapefile_without_prj_needs_the_crs_option(tmp_path):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    with pytest.raises(CRSError) as err:
        load_layer(z, "water_sources")
    msg = _text(err.value)
    assert "坐标系 / CRS" in msg and "--crs EPSG:" in msg   # both languages name where to choose
    assert "CRS box" in msg


def test_gk_shapefile_without_prj_loads_with_crs(tmp_path):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    for crs in (4548, "4548", "EPSG:4548", "epsg:4548"):
        layer = load_layer(z, "water_sources", crs=crs)
        assert layer.gdf.crs.to_epsg() == 4490
        xy = shapely.get_coordinates(layer.gdf.geometry.values)
        np.testing.assert_allclose(xy, np.array(LONLAT), atol=1e-7)


def test_wrong_prj_is_overridden_with_a_note(tmp_path):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=4549)       # numbers are CM 117E, the .prj says CM 120E
    as_declared = load_layer(z, "water_sources")
    assert shapely.get_coordinates(as_declared.gdf.geometry.values)[0, 0] == pytest.approx(120.0, abs=0.01)
    # issue 10: a chosen CRS that contradicts the .prj is refused unless the user says the .prj is wrong
    with pytest.raises(CRSConflict) as err:
        load_layer(z, "water_sources", crs="EPSG:4548")
    assert "EPSG:4549" in str(err.value) and "--crs-override" in str(err.value)
    layer = load_layer(z, "water_sources", crs="EPSG:4548", on_conflict="override")
    np.testing.assert_allclose(shapely.get_coordinates(layer.gdf.geometry.values), np.array(LONLAT), atol=1e-7)
    notes = " ".join(layer.messages("zh") + layer.messages("en"))
    assert "EPSG:4549" in notes and "EPSG:4548" in notes and "declares" in notes


def test_same_crs_as_declared_adds_no_note(tmp_path):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=4548)
    layer = load_layer(z, "water_sources", crs=4548)
    assert not any("EPSG:4548" in n for n in layer.messages("en"))


def test_lonlat_chosen_for_metres_is_refused(tmp_path):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    with pytest.raises(CRSError) as err:
        load_layer(z, "water_sources", crs=4490)
    msg = _text(err.value)
    assert "所选坐标系为经纬度" in msg and "chosen CRS is lon/lat" in msg
    assert "EPSG:4548" in msg                               # the family of the probable CRS, with an example


def test_lonlat_chosen_for_zone_prefixed_metres_names_the_zone():
    bounds = (39_500_000.0, 3_300_000.0, 39_501_000.0, 3_301_000.0)
    with pytest.raises(CRSError) as err:
        resolve_bounds_crs(bounds, None, source="a.shp", assume="EPSG:4326")
    assert "EPSG:4527" in str(err.value)
    c, notes = resolve_bounds_crs(bounds, None, source="a.shp", assume=4527)
    assert c.to_epsg() == 4527 and notes == []


def test_gk_choice_putting_data_outside_china_is_refused():
    bounds = (160_000.0, 3_300_000.0, 161_000.0, 3_301_000.0)   # 340 km west of CM 75E: about 71.4E
    with pytest.raises(CRSError) as err:
        resolve_bounds_crs(bounds, None, source="a.shp", assume="EPSG:4534")
    assert "中国境外" in str(err.value) and "outside China" in str(err.value)
    c, _ = resolve_bounds_crs(bounds, None, source="a.shp", assume="EPSG:4548")
    assert c.to_epsg() == 4548


def test_projected_chosen_for_degrees_is_refused():
    with pytest.raises(CRSError) as err:
        resolve_bounds_crs((117.0, 29.8, 117.1, 29.9), None, source="a.csv", assume=4548)
    assert "所选坐标系为投影坐标" in str(err.value)


@pytest.mark.parametrize("bad", ["nonsense", "EPSG:999999", "EPSG:5773"])   # 5773: a height, not a position
def test_unknown_or_non_horizontal_choice_is_a_crs_error(bad, tmp_path):
    with pytest.raises(CRSError) as err:
        parse_user_crs(bad)
    assert bad.split(":")[-1] in str(err.value) or "EGM96" in str(err.value)
    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    with pytest.raises(CRSError):
        load_layer(z, "water_sources", crs=bad)


def test_load_points_takes_crs(tmp_path):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    with pytest.raises(CRSError):
        load_points(z)
    gdf = load_points(z, crs=4548)
    np.testing.assert_allclose(shapely.get_coordinates(gdf.geometry.values), np.array(LONLAT), atol=1e-7)


# ---- lon/lat tables --------------------------------------------------------------------------

def _csv(tmp_path: Path, lon: float, lat: float) -> Path:
    p = tmp_path / "water.csv"
    p.write_text(f"名称,类型,经度,纬度\n东山水库,水库,{lon},{lat}\n坝塘一号,坝塘,{lon + 0.01},{lat + 0.01}\n",
                 encoding="utf-8")
    return p


def test_lonlat_table_outside_china_is_refused_unless_crs_chosen(tmp_path):
    p = _csv(tmp_path, 10.5, 50.1)
    with pytest.raises(LayerError) as err:
        load_layer(p, "water_sources")
    msg = str(err.value)
    assert "中国境外" in msg and "EPSG:4326" in msg and "outside China" in msg
    layer = load_layer(p, "water_sources", crs=4326)
    xy = shapely.get_coordinates(layer.gdf.geometry.values)
    np.testing.assert_allclose(xy[0], [10.5, 50.1], atol=1e-9)
    assert not any("declares" in n for n in layer.messages("en"))   # the table's 4490 was assumed, not declared


def test_lonlat_table_in_china_still_loads_without_crs(tmp_path):
    layer = load_layer(_csv(tmp_path, 117.0, 29.8), "water_sources")
    np.testing.assert_allclose(shapely.get_coordinates(layer.gdf.geometry.values)[0], [117.0, 29.8], atol=1e-9)


# ---- GeoTIFF in metres without a CRS ---------------------------------------------------------

def test_geotiff_in_metres_without_crs_loads_with_crs(tmp_path):
    path = tmp_path / "dem.tif"
    data = np.arange(100, dtype="float32").reshape(10, 10) + 100.0
    with rasterio.open(path, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32",
                       transform=from_origin(500_000, 3_301_000, 30, 30)) as dst:
        dst.write(data, 1)
    with pytest.raises(CRSError) as err:
        load_layer(path, "dem")
    assert "--crs" in str(err.value)
    layer = load_layer(path, "dem", crs="EPSG:4548")
    assert layer.raster.crs.to_epsg() == 4548
    np.testing.assert_array_equal(layer.raster.array, data)


# ---- command line ----------------------------------------------------------------------------

def test_cli_validate_with_crs(tmp_path, capsys):
    from gis.cli import main

    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    assert main(["validate", "--layer", "water_sources", str(z)]) == 2
    assert "--crs" in capsys.readouterr().err
    assert main(["validate", "--layer", "water_sources", str(z), "--crs", "EPSG:4548", "--json"]) == 0
    assert '"features": 2' in capsys.readouterr().out
    assert main(["validate", "--layer", "water_sources", str(z), "--crs", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "nonsense" in err and "无法识别" in err and "not a known" in err and "Traceback" not in err


def test_cli_import_with_crs(tmp_path, capsys):
    from gis.cli import main

    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    ws = tmp_path / "ws.gpkg"
    assert main(["import", "--workspace", str(ws), "--layer", "water_sources", str(z), "--crs", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err and not ws.exists()
    assert main(["import", "--workspace", str(ws), "--layer", "water_sources", str(z), "--crs", "4548"]) == 0
    got = gpd.read_file(ws, layer="water_sources")
    assert shapely.get_coordinates(got.geometry.values)[:, 0] == pytest.approx([117.0, 117.01], abs=1e-7)


# ---- the Data page ---------------------------------------------------------------------------

def test_data_page_crs_box(use_workspace, tmp_path, upload_app):
    z = _shp_zip(tmp_path, _water_gk(4548), prj=None)
    at = upload_app("ui.page_data", z)
    at.session_state["upload_kind"] = "water_sources"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    box = at.selectbox(key="upload_crs")
    assert box.value == "auto"
    assert "CGCS2000 3° 高斯-克吕格 中央经线 117°（EPSG:4548）" in box.options
    assert any("--crs" in e.value for e in at.error)           # no CRS: the error names the box
    box.select("EPSG:4548").run()
    # the points land at 117°E, some 250 km from the demo county: refused row by row until confirmed (issue 15)
    assert not at.exception
    assert any("公里" in e.value for e in at.error)
    next(c for c in at.checkbox if c.key.startswith("allow_outside_")).check().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("EPSG:4490" in s.value or "4490" in s.value for s in at.success)
    at.selectbox(key="upload_crs").select("other").run()
    at.text_input(key="upload_crs_other").input("nonsense").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "无法识别" in errors and "not a known" in errors       # bilingual, no traceback
