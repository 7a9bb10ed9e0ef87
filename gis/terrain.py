"""Terrain derivatives of a DEM: hillshade (the offline basemap) and slope.

All functions take a :class:`layers.raster.Raster` in a metric CRS, or in degrees (cell sizes are
then converted to metres at the raster's mean latitude).
"""

from __future__ import annotations

import numpy as np

from layers.raster import Raster


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
