"""Coordinate systems shared by the flood and fire analyses: reading a CRS off any object, reprojecting a
layer, the lon/lat extent of a layer, a raster or a box, and the one metric frame an analysis runs in
(:class:`AnalysisFrame`, chosen from the data's extent by :func:`layers.crs.metric_crs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj

from layers.crs import bounds4
from layers.errors import AnalysisRefused, LayerError, problem
from layers.raster import Raster
from layers.text import Text, say

__all__ = ["crs_of", "reproject_to", "lonlat_extent", "to_lonlat_bounds", "AnalysisFrame", "TERRAIN_CELL_M"]

#: cell size, metres, of the terrain grid of a flood analysis (HAND, walking): a coarser DEM (SRTM's 90 m,
#: in degrees or not) is interpolated onto it, so the same terrain gives the same grid whatever form it came in
TERRAIN_CELL_M = 30.0


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
        raise LayerError(problem(*say("no_crs"), *say("give_crs"), file=gdf.attrs.get("source") or None))
    if pyproj.CRS.from_user_input(gdf.crs).equals(target):
        return gdf
    attrs = dict(gdf.attrs)
    out = gdf.to_crs(target)
    out.attrs = attrs
    return out


def to_lonlat_bounds(bounds: tuple[float, float, float, float] | None,
                     crs: object) -> tuple[float, float, float, float] | None:
    """``bounds`` in ``crs`` as a lon/lat box (None when it does not transform to finite numbers)."""
    c = crs_of(crs)
    if bounds is None or c is None or not all(np.isfinite(v) for v in bounds):
        return None
    if c.is_geographic:
        out = bounds4(bounds)
    else:
        tr = pyproj.Transformer.from_crs(c, pyproj.CRS.from_epsg(4490), always_xy=True)
        try:
            out = bounds4(tr.transform_bounds(*bounds, densify_pts=21))
        except pyproj.exceptions.ProjError:
            return None
    return out if all(np.isfinite(v) for v in out) else None


def lonlat_extent(area: gpd.GeoDataFrame | Raster | Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """Lon/lat extent of a GeoDataFrame, a Raster, or a ``(min lon, min lat, max lon, max lat)`` tuple.

    Returns
    -------
    tuple of float or None
        ``(min lon, min lat, max lon, max lat)`` (CGCS2000); None when empty, without CRS or not
        transformable to finite numbers.
    """
    if isinstance(area, gpd.GeoDataFrame):
        g = area[area.geometry.notna() & ~area.geometry.is_empty] if len(area) else area
        return to_lonlat_bounds(bounds4(g.total_bounds), g.crs) if len(g) else None
    if isinstance(area, Raster):
        return to_lonlat_bounds(area.bounds, area.crs)
    return bounds4(area) if area is not None else None


# ---- the one metric frame of an analysis --------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisFrame:
    """The one metric CRS an analysis runs in, whatever the inputs' CRSs.

    Every distance, area, buffer and raster operation of a plan or a review runs in :attr:`crs`: the
    CGCS2000 3-degree Gauss-Kruger zone of the area's centre in China, the WGS84 UTM zone elsewhere
    (:func:`layers.crs.metric_crs`). Rasters are brought onto it by :meth:`raster`; layers by
    :meth:`layer`. Outputs state it (:meth:`describe`).

    Attributes
    ----------
    crs : pyproj.CRS
        The metric CRS.
    """

    crs: pyproj.CRS

    @classmethod
    def around(cls, *items: object) -> AnalysisFrame:
        """The frame of the lon/lat extent covering ``items`` (GeoDataFrames, Rasters or lon/lat boxes).

        Raises
        ------
        AnalysisRefused
            When none of them can be placed in lon/lat.
        """
        from layers.crs import metric_crs

        boxes = [b for b in (lonlat_extent(x) for x in items if x is not None) if b is not None]
        if not boxes:
            raise AnalysisRefused(problem("无法确定分析范围：图层没有可用的坐标",
                                          "the analysis area cannot be told: the layers have no usable coordinates",
                                          "检查图层的坐标系",
                                          "check the layers' coordinate systems"))
        b = np.array(boxes, dtype="float64")
        return cls(metric_crs((float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                               float(b[:, 3].max()))))

    @property
    def epsg(self) -> int | None:
        """The EPSG code of :attr:`crs`."""
        return self.crs.to_epsg()

    def describe(self) -> str:
        """``EPSG:32631 (WGS 84 / UTM zone 31N)``: how outputs name the frame."""
        return f"EPSG:{self.epsg} ({self.crs.name})" if self.epsg else self.crs.name

    def layer(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``gdf`` in the frame's CRS."""
        return reproject_to(gdf, self.crs)

    def raster(self, r: Raster, *, resampling: str = "bilinear",
               cell_m: float | None = None) -> tuple[Raster, list[Text]]:
        """``r`` on a grid of the frame's CRS, and a note when it had to be warped.

        A raster already in the frame's CRS at a fitting cell size is returned as it is. Otherwise it
        is warped with ``resampling`` (``bilinear`` for elevations, ``nearest`` for depths and
        classes) onto square cells of its finest native spacing in metres, or of ``cell_m`` when its
        cells are coarser than 1.5 times that (so the same terrain gives the same analysis grid
        whether it comes in degrees or in metres, at 90 m or at 30 m); cells outside the source's
        footprint are NaN.
        """
        import rasterio.warp
        from rasterio.enums import Resampling

        src = crs_of(r)
        if src is None:
            raise LayerError(problem("栅格没有坐标系", "the raster has no CRS", "为栅格指定坐标系后重新导入",
                                     "give the raster a CRS and import it again", file=r.name or None))
        left, bottom, right, top = r.bounds
        if src.is_geographic:
            lat = math.radians((bottom + top) / 2)
            px = min(r.res[0] * 111_320.0 * math.cos(lat), r.res[1] * 110_574.0)
        else:
            px = min(r.res)
        finer = cell_m is not None and px > 1.5 * cell_m
        if finer and cell_m is not None:
            px = float(cell_m)
        if src.equals(self.crs) and not finer:
            return r, []
        t, w, h = rasterio.warp.calculate_default_transform(src.to_wkt(), self.crs.to_wkt(), r.shape[1], r.shape[0],
                                                            left, bottom, right, top, resolution=px)
        arr = np.where(r.valid_mask(), np.asarray(r.array, dtype="float32"), np.nan)
        out = np.full((h, w), np.nan, dtype="float32")
        rasterio.warp.reproject(arr, out, src_transform=r.transform, src_crs=src.to_wkt(), dst_transform=t,
                                dst_crs=self.crs.to_wkt(), resampling=getattr(Resampling, resampling),
                                src_nodata=np.nan, dst_nodata=np.nan)
        note = Text(f"{r.name or '栅格'} 已从 {_crs_label(src)} 重投影到分析坐标系 {self.describe()}（{px:.1f} 米像元，"
                    f"{'双线性插值' if resampling == 'bilinear' else '最邻近'}）",
                    f"{r.name or 'the raster'} was reprojected from {_crs_label(src)} to the analysis CRS "
                    f"{self.describe()} ({px:.1f} m cells, {resampling})", "raster_to_frame")
        return Raster(out, t, self.crs, None, name=r.name, warnings=list(r.warnings)), [note]


def _crs_label(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name
