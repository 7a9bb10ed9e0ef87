"""Rasters that travel with their transform, CRS and nodata: the :class:`Raster` type and GeoTIFF I/O.

:func:`read_raster` reads one band of a GeoTIFF (DEM, flood depth, land cover), refusing absurd
sizes and non-GeoTIFF files with a :class:`~layers.errors.LayerError`, and resolving a missing CRS
the same way vector layers do (:func:`layers.crs.resolve_bounds_crs`). :func:`write_raster` writes
a tiled, compressed GeoTIFF.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import affine
import numpy as np
import pyproj
import rasterio
import rasterio.crs
import rasterio.errors

from layers import limits
from layers.crs import resolve_bounds_crs
from layers.errors import LayerError, problem

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
        ``(zh, en)`` messages recorded while reading (e.g. a guessed CRS).
    """

    array: np.ndarray
    transform: affine.Affine
    crs: pyproj.CRS | rasterio.crs.CRS | None
    nodata: float | None
    name: str = ""
    warnings: list[tuple[str, str]] = field(default_factory=list)

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
    if isinstance(crs, rasterio.crs.CRS):
        return crs.to_wkt()
    return crs


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str) -> LayerError:
    return LayerError(problem(zh, en, fix_zh, fix_en, file=source))


def read_raster(path: Path, *, display_name: str | None = None, band: int = 1,
                max_cells: int | None = None, crs: str | int | None = None) -> Raster:
    """Read one band of a GeoTIFF.

    Parameters
    ----------
    path : pathlib.Path
        The file (uploads arrive under temporary names).
    display_name : str, optional
        What messages call the file; default ``path.name``.
    band : int
        1-based band number.
    max_cells : int, optional
        Largest ``rows * cols`` accepted (default :data:`layers.limits.MAX_RASTER_CELLS`); bigger
        files are refused from their header, before any value is read.
    crs : str or int, optional
        The CRS the user chose on import (``4548``, ``"EPSG:4548"``, anything pyproj takes): used
        when the GeoTIFF has none, and over the one it declares (with a warning naming both); still
        checked against the bounds (see :func:`layers.crs.resolve_bounds_crs`).

    Returns
    -------
    Raster
        Float bands have ``np.nan`` where there is no data (nodata value or mask); the CRS is the
        declared one (recognised as its EPSG code where possible) or, when missing, EPSG:4490 for
        bounds inside China's lon/lat box or the Gauss-Kruger zone of zone-prefixed eastings, with
        a warning in :attr:`Raster.warnings`; the chosen ``crs`` when given.

    Raises
    ------
    LayerError
        Not a readable GeoTIFF, no georeferencing, too many cells, or no such band.
    CRSError
        CRS missing and not recognisable from the bounds, or not fitting them; ``crs`` not a CRS.
    """
    path = Path(path)
    source = display_name or path.name
    if not path.exists():
        raise _fail("文件不存在", "the file does not exist", "重新选择文件", "choose the file again", source)
    max_cells = limits.MAX_RASTER_CELLS if max_cells is None else max_cells
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic not in _TIFF_MAGIC:
        raise _fail("无法读取栅格文件：不是 GeoTIFF（文件开头没有 TIFF 标记，可能改过扩展名）",
                    "cannot read the raster: not a GeoTIFF (the file does not start with a TIFF signature; renamed "
                    "from another format?)",
                    "用 GIS 软件另存为 GeoTIFF（.tif）后重新上传", "save it as GeoTIFF (.tif) in a GIS and upload again",
                    source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path, driver="GTiff")  # never VRT & co: they can point at other files
    except (rasterio.errors.RasterioIOError, rasterio.errors.RasterioError, OSError) as exc:
        raise _fail("无法读取栅格文件：不是可识别的 GeoTIFF 或文件已损坏",
                    "cannot read the raster: not a recognisable GeoTIFF, or the file is damaged "
                    f"({_clean(exc, path, source)})",
                    "用 GIS 软件另存为 GeoTIFF（.tif）后重新上传", "save it as GeoTIFF (.tif) in a GIS and upload again",
                    source) from None
    with src:
        if src.driver not in ("GTiff", "COG"):
            raise _fail(f"不是 GeoTIFF 文件（格式为 {src.driver}）", f"not a GeoTIFF (format {src.driver})",
                        "用 GIS 软件另存为 GeoTIFF（.tif）", "save it as GeoTIFF (.tif) in a GIS", source)
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
            raise _fail("GeoTIFF 没有地理参考（没有坐标和像元大小）",
                        "the GeoTIFF has no georeferencing (no coordinates or pixel size)",
                        "在 GIS 软件中配准并导出带坐标的 GeoTIFF",
                        "georeference it in a GIS and export a GeoTIFF with coordinates", source)
        left, bottom, right, top = (float(v) for v in src.bounds)
        resolved, notes = resolve_bounds_crs((left, bottom, right, top), src.crs.to_wkt() if src.crs else None,
                                             source=source, assume=crs)
        nodata = src.nodata
        try:
            data = src.read(band, masked=True)
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
    return Raster(array=array, transform=transform, crs=resolved, nodata=None if nodata is None else float(nodata),
                  name=source, warnings=notes)


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


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
