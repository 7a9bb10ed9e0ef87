"""Coordinate systems shared by the flood and fire analyses: reading a CRS off any object, reprojecting a
layer, and the lon/lat extent of a layer, a raster or a box.

The metric CRS an analysis runs in is chosen from the data's extent by :func:`layers.crs.metric_crs`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj

from layers.errors import LayerError, problem
from layers.raster import Raster

__all__ = ["crs_of", "reproject_to", "lonlat_extent", "to_lonlat_bounds"]


def crs_of(obj: object) -> pyproj.CRS | None:
    """A pyproj CRS from a pyproj/rasterio CRS, a GeoDataFrame or a Raster (None when missing)."""
    crs = getattr(obj, "crs", obj)
    if crs is None:
        return None
    if isinstance(crs, pyproj.CRS):
        return crs
    return pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)


def reproject_to(gdf: gpd.GeoDataFrame, crs: object) -> gpd.GeoDataFrame:
    """``gdf`` in ``crs`` (unchanged when it is already there; attrs kept).

    Raises
    ------
    LayerError
        When either side has no CRS.
    """
    target = crs_of(crs)
    if gdf.crs is None or target is None:
        raise LayerError(problem("图层或栅格没有坐标系，无法叠加", "a layer or raster has no CRS; they cannot be overlaid",
                                 "为数据指定坐标系后重新导入", "give the data a CRS and import it again",
                                 file=gdf.attrs.get("source") or None))
    if pyproj.CRS.from_user_input(gdf.crs).equals(target):
        return gdf
    attrs = dict(gdf.attrs)
    out = gdf.to_crs(target)
    out.attrs = attrs
    return out


def to_lonlat_bounds(bounds: tuple[float, float, float, float] | None, crs: object) -> tuple[float, float, float, float] | None:
    """``bounds`` in ``crs`` as a lon/lat box (None when it does not transform to finite numbers)."""
    c = crs_of(crs)
    if bounds is None or c is None or not all(np.isfinite(v) for v in bounds):
        return None
    if c.is_geographic:
        out = tuple(float(v) for v in bounds)
    else:
        tr = pyproj.Transformer.from_crs(c, pyproj.CRS.from_epsg(4490), always_xy=True)
        try:
            out = tuple(float(v) for v in tr.transform_bounds(*bounds, densify_pts=21))
        except pyproj.exceptions.ProjError:
            return None
    return out if all(np.isfinite(v) for v in out) else None  # type: ignore[return-value]


def lonlat_extent(area: object) -> tuple[float, float, float, float] | None:
    """Lon/lat extent of a GeoDataFrame, a Raster, or a ``(min lon, min lat, max lon, max lat)`` tuple.

    Returns
    -------
    tuple of float or None
        ``(min lon, min lat, max lon, max lat)`` (CGCS2000); None when empty, without CRS or not
        transformable to finite numbers.
    """
    if isinstance(area, gpd.GeoDataFrame):
        g = area[area.geometry.notna() & ~area.geometry.is_empty] if len(area) else area
        return to_lonlat_bounds(tuple(float(v) for v in g.total_bounds), g.crs) if len(g) else None  # type: ignore[arg-type]
    if isinstance(area, Raster):
        return to_lonlat_bounds(area.bounds, area.crs)
    return tuple(float(v) for v in area) if area is not None else None  # type: ignore[return-value]
