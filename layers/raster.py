"""Rasters that travel with their transform, CRS and nodata: the :class:`Raster` type and raster I/O.

:func:`read_raster` reads one band of any accepted raster (GeoTIFF, .asc, .img, .vrt, SRTM .hgt and
.hgt.zip, .nc; :mod:`layers.raster_files` opens them safely) -- a DEM, flood depth, land cover or
population grid -- refusing absurd sizes and files that are not what their name says with a
:class:`~layers.errors.LayerError`, and resolving a missing CRS the same way vector layers do
(:func:`layers.crs.decide_crs`). :func:`write_raster` writes a tiled, compressed GeoTIFF.

rasterio (GDAL) is imported by :func:`read_raster` and :func:`write_raster`, not with the module: the
:class:`Raster` type costs a command on vector layers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import affine
import numpy as np
import pyproj

from layers import limits
from layers.crs import OnConflict, bounds4, decide_crs
from layers.datums import base_crs, describe, gk_code, gk_of, shift_notes
from layers.errors import LayerError, problem
from layers.text import Text

if TYPE_CHECKING:   # rasterio (GDAL) is imported by the readers and writers: the Raster type alone does not need it
    import rasterio.crs

__all__ = ["Raster", "read_raster", "write_raster"]


@dataclass
class Raster:
    """A 2-D grid with its georeferencing.

    Parameters
    ----------
    array : numpy.ndarray
        2-D values, row 0 at the top. Float rasters hold ``np.nan`` where there is no data;
        integer rasters hold ``nodata`` there.
    transform : affine.Affine
        Pixel (col, row) to CRS (x, y) transform of the pixel corners.
    crs : pyproj.CRS or rasterio.crs.CRS
        Coordinate reference system.
    nodata : float or None
        Nodata value used when writing (and the marker in integer arrays).
    name : str
        Name shown to users (the file name).
    warnings : list of tuple
        :class:`~layers.text.Text` messages recorded while reading (e.g. a guessed CRS).
    source_crs : pyproj.CRS, optional
        The CRS the file was read in (before a datum shift moved it onto CGCS2000), for naming.
    chosen_used : bool
        The CRS the user chose decided (or agreed with) this raster's CRS.
    conflict : Text, optional
        The note when the raster's own CRS was kept against the user's choice (see
        :func:`layers.crs.decide_crs`).
    """

    array: np.ndarray
    transform: affine.Affine
    crs: pyproj.CRS | rasterio.crs.CRS | None
    nodata: float | None
    name: str = ""
    warnings: list[Text] = field(default_factory=list)
    source_crs: object = None
    chosen_used: bool = False
    conflict: Text | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return tuple(self.array.shape)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        rows, cols = self.shape
        xs, ys = zip(*(self.transform * (c, r) for c, r in ((0, 0), (cols, 0), (0, rows), (cols, rows))))
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size ``(x, y)``, positive, in CRS units."""
        t = self.transform
        return (float(np.hypot(t.a, t.d)), float(np.hypot(t.b, t.e)))

    @property
    def is_geographic(self) -> bool:
        """True when the CRS is in degrees."""
        return self.crs is not None and pyproj.CRS.from_user_input(_as_pyproj_input(self.crs)).is_geographic

    def valid_mask(self) -> np.ndarray:
        """Boolean array, True where the cell holds data."""
        a = self.array
        if np.issubdtype(a.dtype, np.floating):
            ok = ~np.isnan(a)
            if self.nodata is not None and not np.isnan(self.nodata):
                ok &= a != self.nodata
            return ok
        if self.nodata is None:
            return np.ones(a.shape, dtype=bool)
        return a != self.nodata


def _as_pyproj_input(crs: object) -> object:
    """A value pyproj accepts for a pyproj or rasterio CRS."""
    if type(crs).__module__.startswith("rasterio"):      # a rasterio CRS (rasterio is loaded when there is one)
        return crs.to_wkt()  # type: ignore[attr-defined]
    return crs


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str) -> LayerError:
    return LayerError(problem(zh, en, fix_zh, fix_en, file=source))


def read_raster(path: Path, *, display_name: str | None = None, band: int = 1,
                max_cells: int | None = None, crs: object | None = None, towgs84: tuple[float, ...] | None = None,
                on_conflict: OnConflict = "refuse", sublayer: str | None = None, local: bool = False,
                towgs84_old_only: bool = False, max_side: int | None = None) -> Raster:
    """Read one band of a raster: GeoTIFF, ArcInfo ASCII (.asc), ERDAS Imagine (.img), VRT, SRTM
    (.hgt, .hgt.zip), netCDF (.nc), or one of them zipped with its side files.

    Parameters
    ----------
    path : pathlib.Path
        The file (uploads arrive under temporary names: ``display_name`` then gives the type).
    display_name : str, optional
        What messages call the file; default ``path.name``.
    band : int
        1-based band number.
    max_cells : int, optional
        Largest ``rows * cols`` accepted (default :data:`layers.limits.MAX_RASTER_CELLS`); bigger
        files are refused from their header, before any value is read.
    crs : str, int or Datum, optional
        The CRS the user chose on import (``4548``, ``"EPSG:4548"``, anything pyproj takes, or a
        datum such as ``"beijing1954"``): used when the raster has none; a different declared one
        is a conflict (``on_conflict``); still checked against the bounds (see
        :func:`layers.crs.decide_crs`).
    towgs84 : tuple of float, optional
        A bureau's transformation parameters for a Beijing 1954 / Xi'an 1980 raster: the grid is
        moved to the CGCS2000 CRS of the same zone (or lon/lat) without resampling (the datum shift
        over a county is a translation to well under a hundredth of a cell).
    on_conflict : {'refuse', 'override', 'keep'}
        See :func:`layers.crs.decide_crs`.
    sublayer : str, optional
        The netCDF variable, or the raster inside a zip holding several.
    local : bool
        The user's own file on this machine (the command line): a VRT may use any local file. By
        default (an upload) it may use only files beside it (see :mod:`layers.raster_files`).
    towgs84_old_only : bool
        See :func:`layers.crs.decide_crs`.
    max_side : int, optional
        Read at most this many cells along the longer side: a bigger raster is read averaged down (GDAL's
        ``average`` resampling, nodata left out; the file's overviews used when it has them) and its
        transform scaled to match, for a picture of it (a map's hillshade) rather than an analysis.

    Returns
    -------
    Raster
        Float bands have ``np.nan`` where there is no data (nodata value or mask); the CRS is the
        declared one (recognised as its EPSG code where possible) or, when missing, EPSG:4490 for
        bounds inside China's lon/lat box or the Gauss-Kruger zone of zone-prefixed eastings, with
        a warning in :attr:`Raster.warnings`; the chosen ``crs`` when given. A Beijing 1954 or
        Xi'an 1980 raster without parameters keeps its CRS, with a warning that converting it is
        off by tens of metres.

    Raises
    ------
    LayerError
        Not a readable raster of an accepted format, no georeferencing, too many cells, or no such
        band.
    CRSError
        CRS missing and not recognisable from the bounds, or not fitting them; ``crs`` not a CRS;
        ``crs`` differs from the declared CRS (:class:`~layers.crs.CRSConflict`).
    """
    import rasterio.enums
    import rasterio.errors

    from layers.raster_files import open_raster

    path = Path(path)
    source = display_name or path.name
    if not path.exists():
        raise _fail("文件不存在", "the file does not exist", "重新选择文件", "choose the file again", source)
    max_cells = limits.MAX_RASTER_CELLS if max_cells is None else max_cells
    with open_raster(path, source=source, display_name=display_name, sublayer=sublayer, local=local) as src:
        cells = int(src.width) * int(src.height)
        if cells > max_cells:
            raise _fail(f"栅格过大：{src.height} 行 × {src.width} 列 = {cells:,} 个像元，超过上限 {max_cells:,}",
                        f"raster too large: {src.height} rows x {src.width} columns = {cells:,} cells, more than "
                        f"the limit {max_cells:,}",
                        "裁剪到辖区范围或降低分辨率（重采样）后再导入",
                        "clip it to the jurisdiction or resample to a coarser resolution, then import", source)
        dtype0 = str(src.dtypes[0]) if src.count else ""
        if "complex" in dtype0:  # rasterio names GDAL's CInt16 "complex_int16", which numpy does not know
            raise _fail(f"栅格为复数类型（{src.dtypes[0]}），不是高程、水深或分类值",
                        f"the raster holds complex numbers ({src.dtypes[0]}), not elevations, depths or classes",
                        "另存为整数或浮点（Float32）GeoTIFF", "save it as an integer or Float32 GeoTIFF", source)
        nbytes = cells * np.dtype(dtype0).itemsize if dtype0 else 0
        if nbytes > limits.MAX_RASTER_BYTES:
            raise _fail(f"栅格解压后需要 {nbytes / 1024 ** 3:,.1f} GB 内存（{src.height} 行 × {src.width} 列，"
                        f"{src.dtypes[0]}），超过上限 {limits.MAX_RASTER_BYTES / 1024 ** 3:,.1f} GB",
                        f"the raster needs {nbytes / 1024 ** 3:,.1f} GB once unpacked ({src.height} rows x "
                        f"{src.width} columns of {src.dtypes[0]}), more than the limit "
                        f"{limits.MAX_RASTER_BYTES / 1024 ** 3:,.1f} GB",
                        "裁剪到辖区范围、降低分辨率，或另存为 32 位浮点（Float32）后再导入",
                        "clip it to the jurisdiction, resample it, or save it as Float32, then import", source)
        if not 1 <= band <= src.count:
            raise _fail(f"没有第 {band} 波段（文件有 {src.count} 个波段）",
                        f"there is no band {band} (the file has {src.count})",
                        "选择存在的波段", "choose an existing band", source)
        transform = src.transform
        if transform.is_identity:
            raise _fail("栅格没有地理参考（没有坐标和像元大小）",
                        "the raster has no georeferencing (no coordinates or pixel size)",
                        "在 GIS 软件中配准并导出带坐标的 GeoTIFF",
                        "georeference it in a GIS and export a GeoTIFF with coordinates", source)
        bounds = bounds4(src.bounds)
        decision = decide_crs(bounds, src.crs.to_wkt() if src.crs else None, source=source, assume=crs,
                              towgs84=towgs84, on_conflict=on_conflict, towgs84_old_only=towgs84_old_only)
        notes: list = list(decision.notes)
        if src.count > 1 and src.driver == "netCDF":
            notes.append(Text(f"{source}：文件有 {src.count} 个波段（如多个时次），读取第 {band} 个",
                              f"{source}: the file has {src.count} bands (times, for instance); band {band} was read"))
        nodata = src.nodata
        out_shape = None
        if max_side is not None and max(src.height, src.width) > max_side:
            f = max(src.height, src.width) / max_side
            out_shape = (max(1, round(src.height / f)), max(1, round(src.width / f)))
            transform = transform * affine.Affine.scale(src.width / out_shape[1], src.height / out_shape[0])
        try:
            data = src.read(band, masked=True, out_shape=out_shape,
                            resampling=rasterio.enums.Resampling.average if out_shape else
                            rasterio.enums.Resampling.nearest)
        except (rasterio.errors.RasterioIOError, rasterio.errors.RasterioError, MemoryError) as exc:
            raise _fail("读取栅格数据失败，文件可能损坏", f"reading the raster values failed; the file may be "
                        f"damaged ({_clean(exc, path, source)})", "重新导出 GeoTIFF 后再导入",
                        "export the GeoTIFF again and import it", source) from None
    mask = np.ma.getmaskarray(data)
    values = np.ma.getdata(data)
    if np.issubdtype(values.dtype, np.floating):
        array = values.copy() if not values.flags.writeable else values
        array[mask] = np.nan
    elif mask.any() and nodata is None:
        array = values.astype("float32" if values.dtype.itemsize <= 2 else "float64")
        array[mask] = np.nan
    else:
        array = values
    out_crs = decision.crs
    if out_crs.is_bound:
        transform, out_crs, moved = _shift_grid(array.shape, transform, out_crs, source)
        notes.append(moved)
    notes += shift_notes(decision.crs, source)
    return Raster(array=array, transform=transform, crs=out_crs, nodata=None if nodata is None else float(nodata),
                  name=source, warnings=notes, source_crs=decision.crs, chosen_used=decision.chosen_used,
                  conflict=decision.conflict)


def _shift_grid(shape: tuple[int, int], transform: affine.Affine, crs: pyproj.CRS, source: str
                ) -> tuple[affine.Affine, pyproj.CRS, Text]:
    """A grid on an old datum with transformation parameters, moved onto CGCS2000 by its new corner positions.

    The target is the CGCS2000 CRS of the same Gauss-Kruger zone (or CGCS2000 lon/lat); the new
    transform is the affine fit of nine points of the grid carried through the parameters. The cells
    are not resampled.
    """
    base = base_crs(crs)
    g = gk_of(base.to_epsg())
    if g is not None:
        target = pyproj.CRS.from_epsg(gk_code(g.cm, zone_prefix=g.prefix, six_degree=g.six))
    elif base.is_geographic:
        target = pyproj.CRS.from_epsg(4490)
    else:
        raise _fail(f"带转换参数的栅格只支持经纬度或高斯-克吕格投影（文件为 {base.name}）",
                    f"a raster with transformation parameters must be lon/lat or Gauss-Kruger (this one is "
                    f"{base.name})", "先在 GIS 软件中把栅格转到高斯-克吕格投影带，或转换为 CGCS2000 后导入",
                    "reproject it to a Gauss-Kruger zone in a GIS first, or convert it to CGCS2000, then import",
                    source)
    rows, cols = shape
    grid_c, grid_r = np.meshgrid([0.0, cols / 2.0, float(cols)], [0.0, rows / 2.0, float(rows)])
    cc, rr = grid_c.ravel(), grid_r.ravel()
    xs, ys = transform * (cc, rr)  # type: ignore[operator]  # affine's stub types only scalar pairs; arrays work
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    tx, ty = pyproj.Transformer.from_crs("EPSG:4490", target, always_xy=True).transform(lon, lat)
    design = np.column_stack([cc, rr, np.ones_like(cc)])
    (a, b, c), *_ = np.linalg.lstsq(design, np.asarray(tx), rcond=None)
    (d, e, f), *_ = np.linalg.lstsq(design, np.asarray(ty), rcond=None)
    new = affine.Affine(a, b, c, d, e, f)
    px, py = new * (cc, rr)  # type: ignore[operator]  # as above: arrays of columns, rows
    worst = float(np.max(np.hypot(px - tx, py - ty)))
    cell = float(np.hypot(transform.a, transform.d)) if not base.is_geographic else 1.0
    if not base.is_geographic and worst > 0.05 * cell:
        raise _fail(f"按转换参数移动后栅格变形过大（{worst:.2f} 米），无法不重采样地转换",
                    f"the transformation parameters distort the grid by {worst:.2f} m; it cannot be moved without "
                    "resampling", "在 GIS 软件中按这些参数重投影栅格后导入", "reproject it with these parameters in a "
                    "GIS, then import", source)
    old_x, old_y = transform * (cols / 2.0, rows / 2.0)
    dx, dy = new * (cols / 2.0, rows / 2.0)
    unit_zh, unit_en = Text("米", "m", "metres") if not base.is_geographic else Text("度", "degrees", "degrees")
    note = Text(f"{source}：已按转换参数把栅格移到 {describe(target).zh}"
                f"（中心移动 {dx - old_x:+.2f}, {dy - old_y:+.2f} {unit_zh}，像元未重采样）",
                f"{source}: the grid was moved onto {describe(target).en} with the transformation parameters (its "
                f"centre moved {dx - old_x:+.2f}, {dy - old_y:+.2f} {unit_en}; cells not resampled)", "raster_shifted")
    return new, target, note


def _clean(exc: BaseException, path: Path, source: str) -> str:
    """Exception text with the server path replaced by the file's display name."""
    text = str(exc)
    for p in (str(path.resolve()), str(path), str(path.parent)):
        text = text.replace(p, source)
    return text


def write_raster(raster: Raster, path: Path, *, dtype: str | np.dtype | None = None,
                 compress: str | None = "deflate") -> None:
    """Write a raster as a tiled GeoTIFF.

    Parameters
    ----------
    raster : Raster
        What to write. NaN cells become ``raster.nodata`` (or NaN is declared as nodata for float
        output when ``nodata`` is None).
    path : pathlib.Path
        Output file.
    dtype : str or numpy.dtype, optional
        Output data type; default the array's.
    compress : str or None
        GDAL compression (``"deflate"``, ``"lzw"``, None).

    Raises
    ------
    ValueError
        When NaN cells must be written to an integer type and ``raster.nodata`` is None.
    """
    import rasterio
    import rasterio.crs

    array = np.asarray(raster.array)
    if array.ndim != 2:
        raise ValueError(f"raster array must be 2-D, got shape {array.shape}")
    out_dtype = np.dtype(dtype) if dtype is not None else array.dtype
    if out_dtype == np.dtype(bool):
        out_dtype = np.dtype("uint8")
    nodata = raster.nodata
    data = array
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        if np.issubdtype(out_dtype, np.floating):
            if nodata is None:
                nodata = float("nan")
            elif not np.isnan(nodata):
                data = np.where(np.isnan(array), nodata, array)
        else:
            if nodata is None:
                raise ValueError("NaN cells cannot be written to an integer raster without a nodata value")
            data = np.where(np.isnan(array), nodata, array)
    data = data.astype(out_dtype, copy=False)
    rows, cols = data.shape
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": out_dtype.name,
        "crs": _as_pyproj_input(raster.crs) if raster.crs is not None else None,
        "transform": raster.transform, "nodata": nodata, "tiled": True, "blockxsize": 256, "blockysize": 256,
        "BIGTIFF": "IF_SAFER",
    }
    if isinstance(profile["crs"], pyproj.CRS):
        profile["crs"] = rasterio.crs.CRS.from_wkt(profile["crs"].to_wkt())
    if compress:
        profile["compress"] = compress
        if compress.lower() in ("deflate", "lzw", "zstd"):
            profile["predictor"] = 3 if np.issubdtype(out_dtype, np.floating) else 2
    with rasterio.open(Path(path), "w", **profile) as dst:
        dst.write(data, 1)
