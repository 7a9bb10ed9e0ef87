"""Terrain derivatives of a DEM: hillshade (the offline basemap) and slope.

All functions take a :class:`layers.raster.Raster` in a metric CRS, or in degrees (cell sizes are
then converted to metres at the raster's mean latitude).
"""

from __future__ import annotations

import numpy as np

from layers.raster import Raster
from layers.text import Text


def cell_size_m(r: Raster) -> tuple[float, float]:
    """Cell width and height in metres (converted at the mean latitude for geographic rasters)."""
    dx, dy = abs(r.transform.a), abs(r.transform.e)
    if r.is_geographic:
        lat = np.deg2rad((r.bounds[1] + r.bounds[3]) / 2)
        return dx * 111_320.0 * np.cos(lat), dy * 110_574.0
    return dx, dy


def _gradients(r: Raster) -> tuple[np.ndarray, np.ndarray]:
    """dz/dx (east) and dz/dy (north) with Horn's 3x3 kernel; NaN cells take their neighbours' mean."""
    z = np.asarray(r.array, dtype=np.float64)
    if np.isnan(z).any():
        z = np.where(np.isnan(z), np.nanmean(z), z)
    p = np.pad(z, 1, mode="edge")
    dx, dy = cell_size_m(r)
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dzdy = ((a + 2 * b + c) - (g + 2 * h + i)) / (8 * dy)  # rows run south, so top minus bottom is north
    return dzdx, dzdy


def slope_degrees(r: Raster) -> np.ndarray:
    """Slope in degrees (NaN where the DEM is nodata)."""
    dzdx, dzdy = _gradients(r)
    s = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    return np.where(r.valid_mask(), s, np.nan)


def hillshade(r: Raster, *, azimuth: float = 315.0, altitude: float = 45.0, z_factor: float = 1.0) -> np.ndarray:
    """Shaded relief as uint8 (1-255; 0 where the DEM is nodata), lit from ``azimuth``/``altitude`` degrees.

    Same formula as ``gdaldem hillshade`` (Horn gradients).

    Parameters
    ----------
    r : Raster
        The DEM.
    azimuth : float
        Direction the light comes from, degrees clockwise from north.
    altitude : float
        Sun elevation in degrees.
    z_factor : float
        Vertical exaggeration.
    """
    dzdx, dzdy = _gradients(r)
    dzdx, dzdy = dzdx * z_factor, dzdy * z_factor
    zen = np.deg2rad(90.0 - altitude)
    az = np.deg2rad(azimuth)
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(-dzdx, -dzdy)  # direction the slope faces, clockwise from north
    shade = np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect)
    out = np.clip(1 + 254 * shade, 1, 255).astype(np.uint8)
    out[~r.valid_mask()] = 0
    return out


def metric_grid(dem: Raster) -> tuple[Raster, list[Text]]:
    """The DEM itself when metric, else reprojected (bilinear, square cells) to :func:`layers.crs.metric_crs`.

    Returns
    -------
    tuple
        ``(raster, notes)``: float32 elevations (NaN voids) on the metric grid, and a bilingual
        :class:`layers.text.Text` note when it was reprojected.
    """
    if dem.crs is None or not dem.is_geographic:
        return dem, []
    import pyproj
    import rasterio.warp
    from rasterio.enums import Resampling

    from layers.crs import metric_crs
    from layers.raster import _as_pyproj_input

    src = pyproj.CRS.from_user_input(_as_pyproj_input(dem.crs))
    crs = metric_crs(dem.bounds)
    left, bottom, right, top = dem.bounds
    t, w, h = rasterio.warp.calculate_default_transform(src.to_wkt(), crs.to_wkt(), dem.shape[1], dem.shape[0],
                                                        left, bottom, right, top)
    px = max(abs(t.a), abs(t.e))
    t, w, h = rasterio.warp.calculate_default_transform(src.to_wkt(), crs.to_wkt(), dem.shape[1], dem.shape[0],
                                                        left, bottom, right, top, resolution=px)
    arr = np.where(dem.valid_mask(), np.asarray(dem.array, dtype=np.float32), np.nan)
    out = np.full((h, w), np.nan, dtype=np.float32)
    rasterio.warp.reproject(arr, out, src_transform=dem.transform, src_crs=src.to_wkt(), dst_transform=t,
                            dst_crs=crs.to_wkt(), resampling=Resampling.bilinear, src_nodata=np.nan,
                            dst_nodata=np.nan)
    return Raster(out, t, crs, None, name=dem.name), [
        Text(f"DEM 为经纬度坐标，已重投影到 EPSG:{crs.to_epsg()}（{px:.1f} 米像元）后分析",
             f"the DEM is in degrees; reprojected to EPSG:{crs.to_epsg()} ({px:.1f} m cells) for the analysis",
             "dem_reprojected")]
