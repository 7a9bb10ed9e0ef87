"""Raster kinds through the one entry point (:func:`layers.load.load_layer`), and the kind/format checks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from layers.errors import LayerError
from layers.load import load_layer

T = Affine(0.001, 0, 118.5, 0, -0.001, 28.5)     # 0.001° cells near 118.5°E 28.5°N


def _tif(path, array, dtype, nodata):
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=dtype, crs="EPSG:4490", transform=T, nodata=nodata) as ds:
        ds.write(array.astype(dtype), 1)
    return path


def test_forest_land_cover_raster(tmp_path):
    cover = np.zeros((20, 30), np.uint8)
    cover[5:15, 10:25] = 3                      # non-zero is forest
    layer = load_layer(_tif(tmp_path / "林地.tif", cover, "uint8", 255), "forest")
    assert layer.raster is not None and layer.gdf is None
    assert int((layer.raster.array[layer.raster.valid_mask()] > 0).sum()) == 150


def test_flood_depth_raster(tmp_path):
    depth = np.full((10, 10), -9999.0)
    depth[2:5, 2:5] = 1.5
    layer = load_layer(_tif(tmp_path / "水深.tif", depth, "float32", -9999.0), "flood_hazard")
    assert layer.count == 9
    assert float(np.nanmax(layer.raster.array[layer.raster.valid_mask()])) == pytest.approx(1.5)


def test_dem_raster_with_absurd_heights_refused(tmp_path):
    dem = np.full((10, 10), 12_000.0)
    with pytest.raises(LayerError, match="elevations outside -500..9000 m"):
        load_layer(_tif(tmp_path / "dem.tif", dem, "float32", -9999.0), "dem")


def test_vector_kind_refuses_a_raster(tmp_path):
    path = _tif(tmp_path / "x.tif", np.ones((5, 5)), "float32", -9999.0)
    with pytest.raises(LayerError, match="does not take a raster"):
        load_layer(path, "villages")


def test_raster_kind_refuses_a_vector(tmp_path):
    path = tmp_path / "dem.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(118.5, 28.4)], crs="EPSG:4490").to_file(path)
    with pytest.raises(LayerError, match="must be a GeoTIFF raster"):
        load_layer(path, "dem")


def test_flood_hazard_polygons_with_depth_units(tmp_path):
    path = tmp_path / "危险区.geojson"
    gpd.GeoDataFrame({"水深": ["1.5米", "0.8"]},
                     geometry=[shapely.box(118.5, 28.4, 118.51, 28.41), shapely.box(118.52, 28.4, 118.53, 28.41)],
                     crs="EPSG:4490").to_file(path)
    layer = load_layer(path, "flood_hazard")
    assert layer.gdf["depth"].tolist() == [1.5, 0.8]
