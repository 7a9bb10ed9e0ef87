"""Rasters as map images: warp to Web Mercator, decimate, colourise, encode as PNG.

Leaflet stretches an image overlay linearly in Web Mercator between two lat/lon corners, so the
image is warped to EPSG:3857 first; then it sits exactly where the data is, whatever the source CRS.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds
from scipy.ndimage import binary_dilation

from layers.palette import rgb
from layers.raster import Raster

WEB_MERCATOR = CRS.from_epsg(3857)


@dataclass(frozen=True)
class Overlay:
    """A PNG ready for ``folium.raster_layers.ImageOverlay``.

    Attributes
    ----------
    png : bytes
        PNG (palette with transparency, or RGBA): decodes to the RGBA image it was made from.
    bounds : list
        ``[[south, west], [north, east]]`` in degrees.
    """

    png: bytes
    bounds: list[list[float]]
    mime: str = "image/png"

    def data_url(self) -> str:
        """The image as a ``data:`` URL (embedded in the page: works offline)."""
        import base64

        return f"data:{self.mime};base64," + base64.b64encode(self.png).decode("ascii")


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
           resampling: Resampling = Resampling.bilinear, lossy: bool = False) -> Overlay:
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
    lossy : bool
        Encode as lossy WebP (for continuous images such as hillshade) instead of PNG.
    """
    warped, bounds = to_web_mercator(array, r, max_size=max_size, resampling=resampling)
    return _encode(colorize(warped), bounds, lossy=lossy)


def _palette_image(rgba: np.ndarray) -> Image.Image | None:
    """``rgba`` as an exact palette image (colour and alpha per entry), or None beyond 256 distinct colours."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if Image.fromarray(rgba, "RGBA").getcolors(256) is None:   # counted in C; gives up past 256
        return None
    h, w = rgba.shape[:2]
    flat = rgba.view(np.uint32).reshape(-1)
    colours = np.unique(flat)
    entries = colours.view(np.uint8).reshape(-1, 4)
    img = Image.fromarray(np.searchsorted(colours, flat).astype(np.uint8).reshape(h, w), "P")
    img.putpalette(entries[:, :3].tobytes(), rawmode="RGB")
    img.info["transparency"] = entries[:, 3].tobytes()
    return img


def _encode(rgba: np.ndarray, bounds: list[list[float]], *, lossy: bool = False) -> Overlay:
    """Encode an ``(h, w, 4)`` RGBA image.

    Class maps (depth classes, risk levels, coverage) have a few colours: they go as an exact palette PNG
    (every pixel's colour and alpha kept; smaller and about ten times faster to write than an RGBA PNG
    with ``optimize``, which took seconds for a 1600-pixel overlay). Other images go as an RGBA PNG at
    zlib's default level.
    """
    buf = io.BytesIO()
    if lossy:  # shaded relief: lossy WebP with alpha is ~10x smaller than PNG and looks the same
        Image.fromarray(rgba, "RGBA").save(buf, format="WEBP", quality=70, method=4)
        return Overlay(buf.getvalue(), bounds, "image/webp")
    img = _palette_image(rgba)
    if img is not None:
        img.save(buf, format="PNG", transparency=img.info["transparency"])
    else:
        Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return Overlay(buf.getvalue(), bounds)


def rasterize(gdf, color: str, *, opacity: float = 0.45, max_size: int = 1600) -> Overlay:
    """Polygons drawn as a transparent image overlay (for layers too big to send as vectors).

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons, any CRS.
    color : str
        ``#rrggbb`` fill colour.
    opacity : float
        Fill opacity, 0-1.
    max_size : int
        Longest side of the image in pixels.
    """
    from rasterio.features import rasterize as burn

    merc = gdf.to_crs(WEB_MERCATOR.to_string())
    left, bottom, right, top = merc.total_bounds
    scale = max(right - left, top - bottom) / max_size
    width, height = max(1, int(np.ceil((right - left) / scale))), max(1, int(np.ceil((top - bottom) / scale)))
    mask = burn(((g, 1) for g in merc.geometry if g is not None and not g.is_empty), out_shape=(height, width),
                transform=from_bounds(left, bottom, right, top, width, height), fill=0, dtype="uint8")
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[mask == 1] = [*rgb, int(255 * opacity)]
    w_, s_, e_, n_ = transform_bounds(WEB_MERCATOR, "EPSG:4326", left, bottom, right, top)
    return _encode(rgba, [[s_, w_], [n_, e_]])


def rasterize_points(gdf, color: str, *, fill: str | None = None, opacity: float = 0.9, dot_px: int = 3,
                     max_size: int = 2048) -> Overlay:
    """Points drawn as small square dots on a transparent image (a layer of too many points to send as vectors).

    Parameters
    ----------
    gdf : GeoDataFrame
        Points, any CRS (other geometries are taken at a representative point).
    color : str
        ``#rrggbb`` edge colour of a dot (the whole dot when it is smaller than 3 pixels).
    fill : str, optional
        ``#rrggbb`` colour of a dot's centre pixel (default ``color``).
    opacity : float
        Opacity of the dots, 0-1.
    dot_px : int
        Side of a dot in image pixels (odd: centred on its point).
    max_size : int
        Longest side of the image in pixels.

    Returns
    -------
    Overlay
        A palette PNG: transparent, edge and centre colours.
    """
    geoms = gdf.geometry
    geoms = geoms[geoms.notna() & ~geoms.is_empty]
    if not (geoms.geom_type == "Point").all():
        geoms = geoms.representative_point()
    merc = geoms.to_crs(WEB_MERCATOR.to_string())
    x, y = merc.x.to_numpy(), merc.y.to_numpy()
    left, bottom, right, top = merc.total_bounds
    scale = max(right - left, top - bottom, 1.0) / max_size
    half = dot_px // 2
    pad = (half + 1) * scale                                     # a dot on the edge is drawn whole
    left, bottom, right, top = left - pad, bottom - pad, right + pad, top + pad
    width, height = int(np.ceil((right - left) / scale)), int(np.ceil((top - bottom) / scale))
    col = np.clip(((x - left) / scale).astype(np.int64), 0, width - 1)
    row = np.clip(((top - y) / scale).astype(np.int64), 0, height - 1)
    centre = np.zeros((height, width), bool)
    centre[row, col] = True
    # each point grown into a dot_px square
    dots = binary_dilation(centre, structure=np.ones((2 * half + 1, 2 * half + 1), bool)) if half else centre
    alpha = int(round(255 * opacity))
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[dots] = [*rgb(color), alpha]
    if half:
        rgba[centre] = [*rgb(fill or color), alpha]
    w_, s_, e_, n_ = transform_bounds(WEB_MERCATOR, "EPSG:4326", left, bottom, right, top)
    return _encode(rgba, [[s_, w_], [n_, e_]])


def grey_ramp(alpha: int = 255) -> Callable[[np.ndarray], np.ndarray]:
    """Colouriser for a 1-255 grey image (hillshade): grey, transparent where NaN or 0."""
    def f(a: np.ndarray) -> np.ndarray:
        valid = np.isfinite(a) & (a > 0)
        g = np.where(valid, np.clip(a, 0, 255), 0).astype(np.uint8)
        return np.dstack([g, g, g, np.where(valid, alpha, 0).astype(np.uint8)])
    return f


def hillshade_overlay(dem: Raster, *, max_size: int = 1600) -> Overlay:
    """The DEM's shaded relief as a WebP overlay: the basemap that never needs the network."""
    from gis.terrain import hillshade

    return render(hillshade(dem).astype("float32"), dem, grey_ramp(), max_size=max_size, lossy=True)


def colormap_ramp(vmin: float, vmax: float, cmap: str = "viridis", alpha: int = 200
                  ) -> Callable[[np.ndarray], np.ndarray]:
    """Colouriser mapping ``vmin..vmax`` through a matplotlib colormap; NaN transparent."""
    from matplotlib import colormaps

    cm = colormaps[cmap]

    def f(a: np.ndarray) -> np.ndarray:
        valid = np.isfinite(a)
        scaled = np.clip((np.where(valid, a, vmin) - vmin) / max(vmax - vmin, 1e-12), 0, 1)
        rgba = (cm(scaled) * 255).astype(np.uint8)
        rgba[..., 3] = np.where(valid, alpha, 0)
        return rgba
    return f


def value_overlay(r: Raster, *, cmap: str = "viridis", max_size: int = 1600) -> Overlay:
    """Any raster's values as a colour overlay, stretched between its 2nd and 98th percentiles."""
    a = np.asarray(r.array, dtype=np.float32)
    a = np.where(r.valid_mask(), a, np.nan)
    lo, hi = np.nanpercentile(a, [2, 98]) if np.isfinite(a).any() else (0.0, 1.0)
    return render(a, r, colormap_ramp(float(lo), float(hi), cmap), max_size=max_size,
                  resampling=Resampling.nearest)
