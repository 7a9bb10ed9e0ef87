"""Any raster GDAL reads, wherever a raster is accepted: ArcInfo ASCII, ERDAS Imagine, VRT, SRTM .hgt and
.hgt.zip, netCDF, a raster zipped with its .prj; the same limits and refusals as GeoTIFF; the real SRTM tile."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from layers import limits
from layers.errors import CRSError, LayerError
from layers.load import load_layer
from layers.raster import read_raster

#: real data: ../shared/realdata beside the repo (GIS_REALDATA names another place, e.g. from a git worktree)
REALDATA = Path(os.environ.get("GIS_REALDATA") or Path(__file__).resolve().parents[1].parent / "shared" / "realdata")
REAL_SRTM = REALDATA / "andorra" / "raw" / "N42E001.hgt.zip"

DATA = np.arange(12, dtype="float32").reshape(3, 4) + 100.0


def _write(path: Path, driver: str, *, crs: str | None = "EPSG:4549", transform=None, data=DATA,
           nodata=None) -> Path:
    transform = transform or from_origin(500_000, 3_300_000, 100, 100)
    if driver in ("netCDF",):   # written by copy, as GDAL does for this format
        tmp = path.with_suffix(".src.tif")
        _write(tmp, "GTiff", crs=crs, transform=transform, data=data, nodata=nodata)
        rasterio.shutil.copy(tmp, path, driver=driver)
        tmp.unlink()
        return path
    with rasterio.open(path, "w", driver=driver, width=data.shape[1], height=data.shape[0], count=1,
                       dtype=str(data.dtype), crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def _hgt(path: Path) -> Path:
    """A synthetic SRTM3 tile: 1201 x 1201 big-endian int16, a hill in the middle."""
    yy, xx = np.mgrid[0:1201, 0:1201]
    hill = (1500 - 0.002 * ((xx - 600) ** 2 + (yy - 600) ** 2)).clip(200).astype(">i2")
    hill.tofile(path)
    return path


# ---- each format -------------------------------------------------------------------------------

def test_arcinfo_ascii_with_its_prj(tmp_path):
    p = _write(tmp_path / "pop.asc", "AAIGrid", nodata=-9999)
    assert (tmp_path / "pop.prj").exists()
    r = read_raster(p)
    np.testing.assert_array_equal(r.array, DATA)
    assert r.crs.to_epsg() == 4549 and r.res == (100.0, 100.0)


def test_arcinfo_ascii_uploaded_without_prj_needs_its_crs(tmp_path):
    p = _write(tmp_path / "pop.asc", "AAIGrid")
    (tmp_path / "pop.prj").unlink()
    upload = tmp_path / "upload.asc"
    upload.write_bytes(p.read_bytes())
    with pytest.raises(CRSError) as err:
        load_layer(upload, "dem", display_name="人口.asc")
    assert "--crs" in str(err.value) and "人口.asc" in str(err.value)
    layer = load_layer(upload, "dem", display_name="人口.asc", crs="EPSG:4549")
    assert layer.raster.crs.to_epsg() == 4549 and layer.crs_name("en").startswith("CGCS2000, 3° Gauss-Kruger CM 120E")


def test_arcinfo_ascii_zipped_with_its_prj(tmp_path):
    p = _write(tmp_path / "pop.asc", "AAIGrid")
    z = tmp_path / "pop.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(p, "pop.asc")
        zf.write(tmp_path / "pop.prj", "pop.prj")
    upload = tmp_path / "upload.zip"
    upload.write_bytes(z.read_bytes())
    layer = load_layer(upload, "dem", display_name="人口.zip")
    assert layer.raster.crs.to_epsg() == 4549
    np.testing.assert_array_equal(layer.raster.array, DATA)
    from gis.cli import build_parser
    from gis.flood.scenario import FloodScenario

    args = build_parser().parse_args(["plan", "--workspace", str(tmp_path / "ws.gpkg"), "--hazard", str(z),
                                      "--out", str(tmp_path / "out")])
    assert FloodScenario.from_args(args).source == "raster"   # a zipped depth grid is a raster scenario
    from ui.page_flood import _population

    pop = _population(z.read_bytes(), "人口.zip")  # the Flood page's population upload, zipped with its .prj
    assert pop.crs.to_epsg() == 4549 and float(np.nansum(pop.array)) == pytest.approx(float(DATA.sum()))


def test_erdas_imagine(tmp_path):
    r = read_raster(_write(tmp_path / "dem.img", "HFA", crs="EPSG:2415",
                           transform=from_origin(39_500_000, 3_300_000, 30, 30)))
    assert r.crs.to_epsg() == 2415
    np.testing.assert_array_equal(r.array, DATA)
    assert any("Beijing 1954" in w[1] for w in r.warnings)


def test_netcdf_with_a_crs(tmp_path):
    p = _write(tmp_path / "depth.nc", "netCDF", crs="EPSG:4490", transform=from_origin(119.6, 28.4, 0.001, 0.001))
    r = read_raster(p)
    assert r.crs.to_epsg() == 4490
    np.testing.assert_array_equal(r.array, DATA)


def test_netcdf_with_several_variables_asks_which(tmp_path):
    two = tmp_path / "two.tif"
    with rasterio.open(two, "w", driver="GTiff", width=4, height=3, count=2, dtype="float32", crs="EPSG:4490",
                       transform=from_origin(119.6, 28.4, 0.001, 0.001)) as dst:
        dst.write(np.stack([np.full((3, 4), 1.0, "float32"), np.full((3, 4), 2.0, "float32")]))
    p = tmp_path / "two.nc"
    rasterio.shutil.copy(two, p, driver="netCDF")          # GDAL writes each band as a variable Band1, Band2
    with pytest.raises(LayerError) as err:
        read_raster(p)
    assert "Band1" in str(err.value) and "Band2" in str(err.value) and "--sublayer" in str(err.value)
    r = read_raster(p, sublayer="Band2")
    assert float(np.nanmax(r.array)) == 2.0 and r.crs.to_epsg() == 4490


def test_srtm_tile_named_as_such(tmp_path):
    r = read_raster(_hgt(tmp_path / "N29E117.hgt"))
    assert r.shape == (1201, 1201) and r.crs.to_epsg() == 4326
    assert r.bounds[0] == pytest.approx(117 - 1 / 2400) and r.bounds[3] == pytest.approx(30 + 1 / 2400)
    assert float(np.nanmax(r.array)) == 1500.0


def test_srtm_tile_uploaded_under_a_temporary_name(tmp_path):
    tile = _hgt(tmp_path / "N29E117.hgt")
    upload = tmp_path / "upload.hgt"
    upload.write_bytes(tile.read_bytes())
    layer = load_layer(upload, "dem", display_name="N29E117.hgt")
    assert layer.raster.crs.to_epsg() == 4326
    with pytest.raises(LayerError) as err:
        load_layer(upload, "dem", display_name="高程.hgt")
    assert "N42E001.hgt" in str(err.value) and "named like" in str(err.value)


def test_zipped_srtm_tile(tmp_path):
    tile = _hgt(tmp_path / "N29E117.hgt")
    z = tmp_path / "N29E117.hgt.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tile, "N29E117.hgt")
    r = read_raster(z)
    assert r.shape == (1201, 1201) and r.crs.to_epsg() == 4326
    upload = tmp_path / "upload.zip"
    upload.write_bytes(z.read_bytes())
    assert load_layer(upload, "dem", display_name="N29E117.hgt.zip").raster.shape == (1201, 1201)


def _vrt(path: Path, sources: list[tuple[str, bool]], width: int = 8, height: int = 3) -> Path:
    """A hand-written mosaic VRT of 4 x 3 tiles side by side."""
    parts = []
    for i, (name, relative) in enumerate(sources):
        parts.append(f'<SimpleSource><SourceFilename relativeToVRT="{int(relative)}">{name}</SourceFilename>'
                     f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="4" ySize="3"/>'
                     f'<DstRect xOff="{4 * i}" yOff="0" xSize="4" ySize="3"/></SimpleSource>')
    path.write_text(f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>EPSG:4549</SRS>'
                    '<GeoTransform>500000, 100, 0, 3300000, 0, -100</GeoTransform>'
                    f'<VRTRasterBand dataType="Float32" band="1">{"".join(parts)}</VRTRasterBand></VRTDataset>',
                    encoding="utf-8")
    return path


def test_vrt_mosaic_read_from_the_command_line(tmp_path):
    _write(tmp_path / "a.tif", "GTiff")
    _write(tmp_path / "b.tif", "GTiff", transform=from_origin(500_400, 3_300_000, 100, 100), data=DATA + 50)
    r = read_raster(_vrt(tmp_path / "mosaic.vrt", [("a.tif", True), ("b.tif", True)]))
    assert r.shape == (3, 8) and r.crs.to_epsg() == 4549
    np.testing.assert_array_equal(r.array[:, :4], DATA)
    np.testing.assert_array_equal(r.array[:, 4:], DATA + 50)


def test_vrt_zipped_with_its_tiles_is_accepted_as_an_upload(tmp_path):
    _write(tmp_path / "a.tif", "GTiff")
    _write(tmp_path / "b.tif", "GTiff", data=DATA + 50)
    vrt = _vrt(tmp_path / "mosaic.vrt", [("a.tif", True), ("b.tif", True)])
    z = tmp_path / "upload.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in (vrt, tmp_path / "a.tif", tmp_path / "b.tif"):
            zf.write(p, p.name)
    layer = load_layer(z, "dem", display_name="拼接.zip")
    assert layer.raster.shape == (3, 8)


@pytest.mark.parametrize("source, relative, why", [
    ("/vsicurl/http://example.invalid/x.tif", False, "local"),
    ("http://example.invalid/x.tif", False, "local"),
    ("/etc/passwd", False, "beside"),
    ("../a.tif", True, "beside")])
def test_uploaded_vrt_reaching_outside_is_refused(tmp_path, source, relative, why):
    folder = tmp_path / "up"
    folder.mkdir()
    _write(tmp_path / "a.tif", "GTiff")
    vrt = _vrt(folder / "upload.vrt", [(source, relative)], width=4)
    with pytest.raises(LayerError) as err:
        read_raster(vrt, display_name="x.vrt", local=False)
    assert why in str(err.value) and "VRT" in str(err.value)


def test_vrt_with_pixel_function_code_is_refused(tmp_path):
    vrt = tmp_path / "py.vrt"
    vrt.write_text('<VRTDataset rasterXSize="2" rasterYSize="2"><VRTRasterBand dataType="Float32" band="1" '
                   'subClass="VRTDerivedRasterBand"><PixelFunctionType>f</PixelFunctionType>'
                   '<PixelFunctionLanguage>Python</PixelFunctionLanguage>'
                   '<PixelFunctionCode>import os</PixelFunctionCode>'
                   '</VRTRasterBand></VRTDataset>', encoding="utf-8")
    with pytest.raises(LayerError, match="pixel-function"):
        read_raster(vrt)


# ---- the same limits and checks ----------------------------------------------------------------

@pytest.mark.parametrize("name, content", [("x.asc", b"\x00\x01binary"), ("x.img", b"not imagine"),
                                           ("x.nc", b"<html>"), ("N29E117.hgt", b"\x00" * 100),
                                           ("x.vrt", b"ncols 4\n")])
def test_content_not_matching_the_name_is_refused(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LayerError) as err:
        load_layer(p, "dem")
    assert "内容不是" in str(err.value) and "content is not" in str(err.value)


def test_cell_limit_applies_to_every_format(tmp_path, monkeypatch):
    p = _write(tmp_path / "big.asc", "AAIGrid")
    monkeypatch.setattr(limits, "MAX_RASTER_CELLS", 5)
    with pytest.raises(LayerError, match="栅格过大"):
        load_layer(p, "dem")


def test_zip_bomb_rule_applies_to_zipped_rasters(tmp_path, monkeypatch):
    p = _write(tmp_path / "pop.asc", "AAIGrid")
    z = tmp_path / "pop.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(p, "pop.asc")
    monkeypatch.setattr(limits, "MAX_UNZIPPED_BYTES", 10)
    with pytest.raises(LayerError, match="zip bomb|压缩炸弹"):
        load_layer(z, "dem")


def test_vector_kind_refuses_any_raster(tmp_path):
    p = _write(tmp_path / "pop.asc", "AAIGrid")
    with pytest.raises(LayerError) as err:
        load_layer(p, "villages")
    assert "does not take a raster" in str(err.value) and ".asc" in str(err.value)


# ---- on the command line -----------------------------------------------------------------------

def test_exposure_takes_an_arcinfo_ascii_population_raster(tmp_path, capsys):
    """Issue 10's case: ``exposure`` refused an ArcInfo ASCII population raster."""
    from gis.cli import main

    pop = _write(tmp_path / "pop.asc", "AAIGrid", data=np.full((3, 4), 10.0, "float32"))
    depth = _write(tmp_path / "depth.tif", "GTiff", data=np.array([[0, 0.6, 0.6, 2.0]] * 3, "float32"))
    assert main(["exposure", "--hazard", str(depth), "--exposure", str(pop), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_population"] == pytest.approx(120) and out["affected_population"] == pytest.approx(90)


def test_import_writes_any_raster_as_geotiff(tmp_path, capsys):
    from gis.cli import main

    tile = _hgt(tmp_path / "N29E117.hgt")
    z = tmp_path / "N29E117.hgt.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tile, "N29E117.hgt")
    ws = tmp_path / "ws" / "workspace.gpkg"
    assert main(["import", "--workspace", str(ws), "--layer", "dem", str(z), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["committed"] and "4326" in out["source_crs"]
    with rasterio.open(ws.parent / "dem.tif") as src:
        assert src.driver == "GTiff" and src.crs.to_epsg() == 4326 and src.shape == (1201, 1201)


# ---- the real SRTM tile ------------------------------------------------------------------------

@pytest.mark.skipif(not REAL_SRTM.exists(), reason="real data absent: ../shared/realdata/andorra/raw/N42E001.hgt.zip "
                                                   "(end-to-end test of a real SRTM tile)")
def test_real_srtm_tile_of_andorra(tmp_path, capsys):
    from gis.cli import main

    layer = load_layer(REAL_SRTM, "dem", local=True)
    r = layer.raster
    assert r.shape == (1201, 1201) and r.crs.to_epsg() == 4326
    assert r.bounds == pytest.approx((1 - 1 / 2400, 42 - 1 / 2400, 2 + 1 / 2400, 43 + 1 / 2400))
    vals = r.array[r.valid_mask()]
    assert r.nodata == -32768 and 2800 < float(vals.max()) < 3200   # Coma Pedrosa country
    assert float(vals.min()) > 100
    voids = int((~r.valid_mask()).sum())
    assert voids == 0 or any("void" in m for m in layer.messages("en"))
    ws = tmp_path / "ws" / "workspace.gpkg"
    assert main(["import", "--workspace", str(ws), "--layer", "dem", str(REAL_SRTM), "--json"]) == 0
    back = read_raster(ws.parent / "dem.tif")
    np.testing.assert_array_equal(back.array, r.array)
    capsys.readouterr()
    out_tif = tmp_path / "hand.tif"
    assert main(["hand", "--dem", str(REAL_SRTM), "--out", str(out_tif), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["defined_cells"] > 1_000_000 and 0 <= out["hand_median"] < 1000
