"""Rasters as map images: warp to Web Mercator, decimate, colourise, encode as PNG.

Leaflet stretches an image overlay linearly in Web Mercator between two lat/lon corners, so the
image is warped to EPSG:3857 first; then it sits exactly where the data is, whatever the source CRS.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from layers.raster import Raster

WEB_MERCATOR = CRS.from_epsg(3857)


@dataclass(frozen=True)
class Overlay:
    """A PNG ready for ``folium.raster_layers.ImageOverlay``.

    Attributes
    ----------
    png : bytes
        RGBA PNG.
    bounds : list
        ``[[south, west], [north, east]]`` in degrees.
    """

    png: bytes
    bounds: list[list[float]]

    def data_url(self) -> str:
        """The PNG as a ``data:`` URL (embedded in the page: works offline)."""
        import base64

        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def to_web_mercator(array: np.ndarray, r: Raster, *, max_size: int = 1600,
                    resampling: Resampling = Resampling.bilinear, nodata: float = np.nan
                    ) -> tuple[np.ndarray, list[list[float]]]:
    """Warp ``array`` (on ``r``'s grid) to EPSG:3857 with at most ``max_size`` pixels a side.

    Returns
    -------
    warped : ndarray (float32, ``nodata`` outside the data)
    bounds : ``[[south, west], [north, east]]`` in degrees
    """
    src = np.asarray(array, dtype=np.float32)
    h, w = src.shape
    transform, width, height = calculate_default_transform(r.crs, WEB_MERCATOR, w, h, *r.bounds)
    scale = max(width, height) / max_size
    if scale > 1:
        width, height = int(np.ceil(width / scale)), int(np.ceil(height / scale))
    left, bottom, right, top = transform_bounds(r.crs, WEB_MERCATOR, *r.bounds)
    transform = from_bounds(left, bottom, right, top, width, height)
    dst = np.full((height, width), nodata, dtype=np.float32)
    reproject(src, dst, src_transform=r.transform, src_crs=r.crs, dst_transform=transform, dst_crs=WEB_MERCATOR,
              src_nodata=np.nan, dst_nodata=nodata, resampling=resampling)
    w_, s_, e_, n_ = transform_bounds(WEB_MERCATOR, "EPSG:4326", left, bottom, right, top)
    return dst, [[s_, w_], [n_, e_]]


def render(array: np.ndarray, r: Raster, colorize: Callable[[np.ndarray], np.ndarray], *, max_size: int = 1600,
           resampling: Resampling = Resampling.bilinear) -> Overlay:
    """Warp and colourise a raster as an RGBA PNG overlay.

    Parameters
    ----------
    array : ndarray
        Values on ``r``'s grid (NaN = transparent).
    r : Raster
        Grid (transform, CRS) of ``array``.
    colorize : callable
        Maps the warped float array (NaN outside data) to an ``(h, w, 4)`` uint8 RGBA array.
    max_size : int
        Longest side of the image in pixels (decimation keeps the page small).
    """
    warped, bounds = to_web_mercator(array, r, max_size=max_size, resampling=resampling)
    rgba = colorize(warped)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=True)
    return Overlay(buf.getvalue(), bounds)


def grey_ramp(alpha: int = 255) -> Callable[[np.ndarray], np.ndarray]:
    """Colouriser for a 1-255 grey image (hillshade): grey, transparent where NaN or 0."""
    def f(a: np.ndarray) -> np.ndarray:
        valid = np.isfinite(a) & (a > 0)
        g = np.where(valid, np.clip(a, 0, 255), 0).astype(np.uint8)
        return np.dstack([g, g, g, np.where(valid, alpha, 0).astype(np.uint8)])
    return f
