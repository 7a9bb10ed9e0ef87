"""The DEM of an imported area: one or more elevation files, joined and cut to the area.

Each file is read with :func:`layers.raster.read_raster` (so the same formats, size limits and CRS
checks as any DEM import, and the same coordinate options: the 坐标系 / CRS box under the upload,
``--crs`` / ``--towgs84`` / ``--crs-override`` on ``python -m gis osm``), the tiles are joined with
:func:`rasterio.merge.merge` in the first tile's CRS and cut to the area plus two cells. The area
must lie inside the tiles' union: a DEM that does not cover it is refused, never padded with nodata.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import shapely
from rasterio.io import MemoryFile
from rasterio.merge import merge
from rasterio.warp import transform_bounds

from layers.crs import bounds4
from layers.errors import LayerError, Problem
from layers.load import CoordOptions
from layers.raster import Raster, _as_pyproj_input, read_raster

__all__ = ["read_dems", "lonlat_bounds", "area_dem"]


def _crs(r: Raster) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(_as_pyproj_input(r.crs))


def _dataset(r: Raster, mem: MemoryFile):
    crs = rasterio.crs.CRS.from_wkt(_crs(r).to_wkt())
    arr = np.asarray(r.array, dtype="float32")
    ds = mem.open(driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype="float32", crs=crs,
                  transform=r.transform, nodata=np.nan)
    ds.write(arr, 1)
    return ds


def read_dems(paths: Sequence[Path | str | Raster], names: Sequence[str] | None = None, *,
              coords: CoordOptions | None = None, local: bool = False) -> list[Raster]:
    """Read DEM tiles (all in one CRS).

    Parameters
    ----------
    paths : sequence of Path or Raster
        The tiles: files, or rasters already read (the command line reads them with its options).
    names : sequence of str, optional
        How messages name them (default the file names).
    coords : CoordOptions, optional
        The coordinate options of the upload (CRS for tiles that carry none, a surveying bureau's
        parameters, what to do when the chosen CRS contradicts the file's), as for any raster.
    local : bool
        The user's own files on this machine (see :func:`layers.raster.read_raster`).

    Raises
    ------
    LayerError
        A file that cannot be read as a DEM, or tiles in different CRSs.
    CRSError
        A tile's CRS missing and not recognisable, or contradicting the chosen one.
    """
    names = list(names) if names is not None else [p.name if isinstance(p, Raster) else Path(p).name for p in paths]
    c = coords if coords is not None else CoordOptions()
    rasters = [p if isinstance(p, Raster) else
               read_raster(Path(p), display_name=n, crs=c.crs, towgs84=c.towgs84, on_conflict=c.on_conflict,
                           local=local) for p, n in zip(paths, names)]
    crs = _crs(rasters[0])
    odd = [n for r, n in zip(rasters, names) if not _crs(r).equals(crs)]
    if odd:
        raise LayerError(Problem(f"DEM 分幅的坐标系不一致：{'、'.join(odd)} 与 {names[0]} 不同",
                                 f"the DEM tiles are in different CRSs: {', '.join(odd)} differ from {names[0]}",
                                 "先把各分幅转换到同一坐标系", "put every tile in the same CRS first", file=odd[0]))
    return rasters


def lonlat_bounds(rasters: Sequence[Raster]) -> tuple[float, float, float, float]:
    """Lon/lat extent of the tiles' union."""
    crs = rasterio.crs.CRS.from_wkt(_crs(rasters[0]).to_wkt())
    cover = shapely.union_all([shapely.box(*r.bounds) for r in rasters])
    return bounds4(transform_bounds(crs, "EPSG:4326", *cover.bounds, densify_pts=21))


def area_dem(rasters: Sequence[Raster], bbox: tuple[float, float, float, float]) -> Raster:
    """The elevations over ``bbox`` from DEM tiles (:func:`read_dems`).

    Parameters
    ----------
    rasters : sequence of Raster
        DEM tiles of one area, in one CRS.
    bbox : tuple of float
        ``(west, south, east, north)`` in degrees.

    Returns
    -------
    Raster
        Float32, NaN where there is no data, in the tiles' CRS, the area plus two cells.

    Raises
    ------
    LayerError
        The tiles do not cover the area.
    """
    crs = _crs(rasters[0])
    rcrs = rasterio.crs.CRS.from_wkt(crs.to_wkt())
    x0, y0, x1, y1 = transform_bounds("EPSG:4326", rcrs, *bbox, densify_pts=21)
    want = shapely.box(x0, y0, x1, y1)
    cover = shapely.union_all([shapely.box(*r.bounds) for r in rasters])
    res = max(abs(rasters[0].transform.a), abs(rasters[0].transform.e))
    if not cover.buffer(res).contains(want):
        b = lonlat_bounds(rasters)
        raise LayerError(Problem(
            f"DEM 未覆盖所选范围：范围 {tuple(round(v, 4) for v in bbox)}，DEM 范围约 西 {b[0]:.4f} 南 {b[1]:.4f} "
            f"东 {b[2]:.4f} 北 {b[3]:.4f}",
            f"the DEM does not cover the area: area {tuple(round(v, 4) for v in bbox)}, the DEM covers about west "
            f"{b[0]:.4f}, south {b[1]:.4f}, east {b[2]:.4f}, north {b[3]:.4f}",
            "缩小 --bbox 到 DEM 范围内，或补充相邻的 DEM 分幅", "make --bbox fit inside the DEM, or add the "
            "neighbouring DEM tiles", file=rasters[0].name or None, field="bbox"))
    mems = [MemoryFile() for _ in rasters]
    try:
        datasets = [_dataset(r, m) for r, m in zip(rasters, mems)]
        try:
            arr, transform = merge(datasets, bounds=(x0 - 2 * res, y0 - 2 * res, x1 + 2 * res, y1 + 2 * res),
                                   nodata=np.nan, dtype="float32")
        finally:
            for d in datasets:
                d.close()
    finally:
        for m in mems:
            m.close()
    warnings = [w for r in rasters for w in (r.warnings or [])]
    nodata = rasters[0].nodata if rasters[0].nodata is not None and np.isfinite(rasters[0].nodata) else -9999.0
    return Raster(arr[0], transform, crs, nodata, name="dem.tif", warnings=warnings)
