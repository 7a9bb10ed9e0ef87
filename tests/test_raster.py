"""GeoTIFF reading and writing: the Raster type, CRS guesses, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from layers.errors import CRSError, LayerError
from layers.raster import Raster, read_raster, write_raster

DEM = np.array([[10.0, 11.0, 12.0], [13.0, -9999.0, 15.0]], dtype="float32")
T_LONLAT = Affine(0.001, 0, 119.6, 0, -0.001, 28.3)


def _tif(path, array=DEM, transform=T_LONLAT, crs=None, nodata=-9999.0, driver="GTiff"):
    with rasterio.open(path, "w", driver=driver, width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype.name, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(array, 1)
    return path


def test_read_float_with_crs(tmp_path):
    r = read_raster(_tif(tmp_path / "dem.tif", crs="EPSG:4490"), display_name="高程.tif")
    assert r.name == "高程.tif" and r.warnings == []
    assert r.crs.to_epsg() == 4490 and r.is_geographic
    assert r.shape == (2, 3) and r.nodata == -9999.0
    assert np.isnan(r.array[1, 1])
    assert r.array[0].tolist() == [10.0, 11.0, 12.0]
    assert r.valid_mask().tolist() == [[True, True, True], [True, False, True]]
    assert r.transform == T_LONLAT
    assert r.res == pytest.approx((0.001, 0.001))
    assert r.bounds == pytest.approx((119.6, 28.298, 119.603, 28.3))


def test_no_crs_in_china_box_is_4490_with_warning(tmp_path):
    r = read_raster(_tif(tmp_path / "dem.tif"))
    assert r.crs.to_epsg() == 4490
    assert len(r.warnings) == 1 and "EPSG:4490" in r.warnings[0][0]


def test_no_crs_gk_zone_prefix(tmp_path):
    t = Affine(30, 0, 39_500_000, 0, -30, 3_500_000)
    r = read_raster(_tif(tmp_path / "dem.tif", transform=t))
    assert r.crs.to_epsg() == 4527 and not r.is_geographic and "4527" in r.warnings[0][1]


def test_no_crs_junk_rejected(tmp_path):
    t = Affine(30, 0, 500_000_000, 0, -30, 10)
    with pytest.raises(CRSError, match="没有坐标系信息"):
        read_raster(_tif(tmp_path / "dem.tif", transform=t), display_name="dem.tif")


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_no_georeferencing_rejected(tmp_path):
    with pytest.raises(LayerError, match="没有地理参考"):
        read_raster(_tif(tmp_path / "dem.tif", transform=Affine.identity()))


def test_absurd_dimensions_rejected(tmp_path):
    path = _tif(tmp_path / "dem.tif", crs="EPSG:4490")
    with pytest.raises(LayerError, match="栅格过大") as err:
        read_raster(path, display_name="big.tif", max_cells=5)
    assert "6 cells" in str(err.value) and err.value.problems[0].file == "big.tif"


def test_not_a_geotiff_rejected(tmp_path):
    junk = tmp_path / "x.tif"
    junk.write_bytes(b"this is not a tiff")
    with pytest.raises(LayerError, match="无法读取栅格文件") as err:
        read_raster(junk, display_name="x.tif")
    assert str(tmp_path) not in str(err.value)


def test_other_raster_format_rejected(tmp_path):
    path = _tif(tmp_path / "x.png", array=np.zeros((2, 2), dtype="uint8"), crs=None, nodata=None, driver="PNG")
    with pytest.raises(LayerError, match="不是 GeoTIFF"):
        read_raster(path)


def test_missing_band_rejected(tmp_path):
    with pytest.raises(LayerError, match="没有第 2 波段"):
        read_raster(_tif(tmp_path / "dem.tif", crs="EPSG:4490"), band=2)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(LayerError, match="文件不存在"):
        read_raster(tmp_path / "nope.tif")


def test_integer_raster_keeps_nodata(tmp_path):
    arr = np.array([[1, 0], [2, 255]], dtype="uint8")
    r = read_raster(_tif(tmp_path / "forest.tif", array=arr, crs="EPSG:4490", nodata=255))
    assert r.array.dtype == np.uint8 and r.array.tolist() == [[1, 0], [2, 255]]
    assert r.valid_mask().tolist() == [[True, True], [True, False]]


def test_write_read_round_trip(tmp_path):
    arr = np.array([[1.5, np.nan], [3.0, 4.25]], dtype="float32")
    r = Raster(arr, Affine(30, 0, 500_000, 0, -30, 3_100_000), rasterio.crs.CRS.from_epsg(4549), -9999.0, "d")
    write_raster(r, tmp_path / "out.tif")
    with rasterio.open(tmp_path / "out.tif") as src:
        assert src.profile["tiled"] and src.profile["compress"] == "deflate" and src.nodata == -9999.0
        assert src.read(1)[0, 1] == -9999.0
    back = read_raster(tmp_path / "out.tif")
    assert back.crs.to_epsg() == 4549 and back.transform == r.transform
    assert np.array_equal(back.array, arr, equal_nan=True)


def test_write_nan_nodata_and_int_dtype(tmp_path):
    import pyproj

    arr = np.array([[1.0, np.nan]], dtype="float64")
    r = Raster(arr, T_LONLAT, pyproj.CRS.from_epsg(4490), None)
    write_raster(r, tmp_path / "f.tif")
    back = read_raster(tmp_path / "f.tif")
    assert np.isnan(back.array[0, 1]) and back.array[0, 0] == 1.0
    with pytest.raises(ValueError, match="integer raster without a nodata value"):
        write_raster(r, tmp_path / "i.tif", dtype="int16")
    r.nodata = -1
    write_raster(r, tmp_path / "i.tif", dtype="int16")
    back = read_raster(tmp_path / "i.tif")
    assert back.array.tolist() == [[1, -1]] and back.array.dtype == np.int16


def test_max_side_reads_a_picture_of_a_big_raster(tmp_path):
    """``max_side``: a raster longer than that is read averaged down (nodata left out of the means), over the same
    ground; a smaller one is read as it is."""
    a = np.arange(60 * 100, dtype="float32").reshape(60, 100)
    a[:2, :5] = -9999.0
    t = Affine(30.0, 0, 440_000.0, 0, -30.0, 3_150_000.0)
    path = _tif(tmp_path / "big.tif", array=a, transform=t, crs="EPSG:4549")
    full = read_raster(path)
    small = read_raster(path, max_side=20)
    assert small.shape == (12, 20) and full.shape == (60, 100)
    assert small.bounds == pytest.approx(full.bounds)
    assert small.transform.a == pytest.approx(150.0) and small.transform.e == pytest.approx(-150.0)
    assert small.array[5, 7] == pytest.approx(np.nanmean(full.array[25:30, 35:40]))
    assert np.isfinite(small.array[0, 0]) and small.array[0, 0] == pytest.approx(np.nanmean(full.array[:5, :5]))
    assert read_raster(path, max_side=500).shape == (60, 100)
