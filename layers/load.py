"""Loading a user's file as a layer kind: read, resolve CRS, validate, convert to the storage CRS.

:func:`load_layer` is the one entry point the app and the command line use for any file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import shapely

from layers import limits
from layers.catalogue import spec as get_spec
from layers.crs import resolve_crs, to_storage
from layers.errors import LayerError, OutsideError, Problem
from layers.settings import STORAGE_CRS
from layers.raster import Raster, read_raster
from layers.readers import SUPPORTED, read_vector
from layers.validate import validate

RASTER_SUFFIXES = {".tif", ".tiff"}


@dataclass
class Layer:
    """A validated layer: vector (``gdf`` in the storage CRS) or raster (``raster``).

    Attributes
    ----------
    kind : str
        Layer kind from the catalogue.
    source : str
        File name it came from (for messages and provenance).
    gdf : GeoDataFrame or None
        Canonical columns, EPSG:4490.
    raster : Raster or None
        For raster kinds (DEM, depth, land cover).
    notes : list of (zh, en)
        Warnings about what was assumed or repaired on the way in.
    """

    kind: str
    source: str
    gdf: gpd.GeoDataFrame | None = None
    raster: Raster | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of features (vector) or valid cells (raster)."""
        if self.gdf is not None:
            return len(self.gdf)
        return int(self.raster.valid_mask().sum()) if self.raster is not None else 0

    @property
    def crs(self):
        """CRS of the data."""
        return self.gdf.crs if self.gdf is not None else self.raster.crs

    def messages(self, lang: str = "zh") -> list[str]:
        """The notes in one language."""
        return [zh if lang == "zh" else en for zh, en in self.notes]


def _library_errors() -> tuple[type[BaseException], ...]:
    """Exceptions the file libraries raise on malformed input (never ones our own bugs raise)."""
    import xml.etree.ElementTree as ET
    import zipfile
    import zlib

    import pyogrio.errors
    import rasterio.errors
    import shapely.errors

    return (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.FeatureError, rasterio.errors.RasterioError,
            shapely.errors.GEOSException, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ET.ParseError,
            UnicodeError, EOFError)


@contextlib.contextmanager
def _unreadable(source: str, path: Path) -> Iterator[None]:
    """Turn a file library's complaint that escaped a reader into a LayerError naming the file.

    The readers handle what they know; this is the net under them, for what a malformed file can
    still make GDAL, GEOS, zlib or expat raise. Programming errors (TypeError, KeyError,
    AttributeError...) are not caught: tests must see them.
    """
    try:
        yield
    except _library_errors() as exc:
        text = str(exc)
        for server in sorted({str(path.resolve()), str(path), str(path.parent.resolve()), str(path.parent)},
                             key=len, reverse=True):
            text = text.replace(server, source) if len(server) > 1 else text
        text = text[:200]
        raise LayerError(Problem(f"无法读取：{type(exc).__name__}（{text}）",
                                 f"could not read: {type(exc).__name__} ({text})",
                                 "文件可能已损坏或格式不对；用 GIS 软件打开检查后重新导出",
                                 "the file may be damaged or not what its name says; open it in a GIS, check it "
                                 "and export it again", file=source)) from None


def _check_stored(gdf: gpd.GeoDataFrame, rows: np.ndarray | None, source: str) -> None:
    """Every coordinate, once in the storage CRS, is a finite lon/lat (a CRS can map numbers to infinity)."""
    coords, owner = shapely.get_coordinates(gdf.geometry.values, return_index=True)
    bad = ~(np.isfinite(coords).all(axis=1) & (np.abs(coords[:, 0]) <= 180) & (np.abs(coords[:, 1]) <= 90))
    if not bad.any():
        return
    rows = rows if rows is not None and len(rows) == len(gdf) else np.arange(1, len(gdf) + 1)
    problems = [Problem("换算为经纬度后坐标无效（无穷大或超出经纬度范围），坐标与坐标系不符",
                        "the coordinates are not valid lon/lat once converted (infinite or out of range): they do "
                        "not fit the CRS", "核对该要素的坐标和文件的坐标系", "check this feature's coordinates and the "
                        "file's CRS", file=source, row=int(rows[i]), field="geometry")
                for i in np.unique(owner[bad])[: limits.MAX_PROBLEMS]]
    raise LayerError(problems)


def _check_raster(r: Raster, kind: str, source: str) -> list[tuple[str, str]]:
    notes = list(getattr(r, "warnings", []) or [])
    valid = r.valid_mask()
    if not valid.any():
        raise LayerError(Problem("栅格中没有有效值（全部为无数据）", "the raster has no valid cells (all nodata)",
                                 "检查文件或其无数据值设置", "check the file and its nodata value", file=source))
    if kind == "dem":
        voids = int((~valid).sum())
        if voids:
            share = voids / valid.size
            notes.append((f"高程中有 {voids} 个空洞像元（{share:.1%}），分析时按周边插补或忽略",
                          f"the DEM has {voids} void cells ({share:.1%}); analyses fill or skip them"))
        vals = r.array[valid]
        if float(np.nanmin(vals)) < -500 or float(np.nanmax(vals)) > 9000:
            raise LayerError(Problem("高程值超出合理范围（-500 至 9000 米）", "elevations outside -500..9000 m",
                                     "确认文件是以米为单位的高程", "check that the file holds elevations in metres",
                                     file=source))
    return notes


def _not_repeated(problems: list[Problem], found: list[Problem]) -> list[Problem]:
    """``problems`` without "geometry missing" for rows whose coordinates are already in ``found``."""
    rows = {p.row for p in found if p.row is not None}
    return [p for p in problems if not (p.field == "geometry" and p.row in rows)]


#: km beyond the workspace's extent from which a feature counts as outside it (at least; a quarter of
#: the extent's diagonal for a large workspace)
FAR_KM = 20.0
#: km beyond a county boundary from which a feature counts as outside it
BOUNDARY_KM = 2.0


def _km_outside_box(x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    dx = np.maximum.reduce([box[0] - x, np.zeros_like(x), x - box[2]])
    dy = np.maximum.reduce([box[1] - y, np.zeros_like(y), y - box[3]])
    return np.hypot(dx * 111.32 * np.cos(np.deg2rad(y)), dy * 110.57)


def outside_rows(gdf: gpd.GeoDataFrame, near: tuple[float, float, float, float] | None,
                 area=None) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the features of ``gdf`` (lon/lat) far outside the workspace, and how far (km).

    With ``area`` (a county boundary, lon/lat polygon) a feature more than :data:`BOUNDARY_KM` outside
    it counts; otherwise one more than :data:`FAR_KM` (or a quarter of the extent's diagonal)
    beyond the extent ``near``.
    """
    if not len(gdf) or (near is None and area is None):
        return np.array([], dtype=int), np.array([])
    geoms = gdf.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pts = np.asarray(shapely.point_on_surface(np.where(ok, geoms, shapely.Point(0, 0))))  # type: ignore[call-overload]  # numpy stubs: a geometry is a valid object scalar
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    if area is not None:
        from layers.crs import metric_crs

        b = shapely.bounds(area)
        mcrs = metric_crs(tuple(b))
        proj = gpd.GeoSeries([area], crs=STORAGE_CRS).to_crs(mcrs).iloc[0]
        mp = gpd.GeoSeries(pts, crs=STORAGE_CRS).to_crs(mcrs).to_numpy()
        km = shapely.distance(mp, proj) / 1000.0
        far = ok & (km > BOUNDARY_KM)
    else:
        assert near is not None  # the early return above leaves a near extent when there is no area
        diag = float(_km_outside_box(np.array([near[2]]), np.array([near[3]]), (near[0], near[1], near[0], near[1]))[0])
        km = _km_outside_box(x, y, near)
        far = ok & (km > max(FAR_KM, 0.25 * diag))
    idx = np.flatnonzero(far)
    return idx, km[idx]


def _check_outside(gdf: gpd.GeoDataFrame, rows: np.ndarray | None, source: str, near, area) -> None:
    idx, km = outside_rows(gdf, near, area)
    if not len(idx):
        return
    rows = rows if rows is not None and len(rows) == len(gdf) else np.arange(1, len(gdf) + 1)
    pts = shapely.point_on_surface(gdf.geometry.to_numpy()[idx])
    what = ("辖区边界", "the county boundary") if area is not None else ("工作空间范围", "the workspace's extent")
    raise OutsideError([
        Problem(f"位于{what[0]}之外约 {d:,.0f} 公里（经度 {p.x:.5f}，纬度 {p.y:.5f}）",
                f"lies about {d:,.0f} km outside {what[1]} (longitude {p.x:.5f}, latitude {p.y:.5f})",
                "核对坐标（经纬度是否填反、小数点位置、坐标系）；确属辖区之外的要素，确认后再导入",
                "check the coordinates (lon/lat swapped, the decimal point, the CRS); if it really lies outside, "
                "confirm it to import", file=source, row=int(rows[i]))
        for i, d, p in list(zip(idx, km, pts))[: limits.MAX_PROBLEMS]])


def load_layer(path: Path | str, kind: str, *, sublayer: str | None = None, gcj02: bool = False,
               display_name: str | None = None, near: tuple[float, float, float, float] | None = None,
               max_mb: float | None = None, crs: str | int | None = None, area=None,
               allow_outside: bool = False) -> Layer:
    """Read any supported file as layer ``kind``.

    Parameters
    ----------
    path : Path
        GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, CSV/XLSX with lon/lat, or GeoTIFF.
    kind : str
        Layer kind (see :mod:`layers.catalogue`).
    sublayer : str, optional
        Layer inside a GeoPackage, or sheet in a workbook.
    gcj02 : bool
        The coordinates are GCJ-02 (picked from Gaode/AMap or WeChat): convert them to WGS84.
    display_name : str, optional
        How messages name the file (uploads arrive under temporary names).
    near : tuple of float, optional
        ``(min lon, min lat, max lon, max lat)`` of the layers already in the workspace: a vector
        layer whose CRS puts it far from them is refused when another Gauss-Kruger zone would put
        it among them (see :func:`layers.crs.resolve_bounds_crs`).
    max_mb : float, optional
        Largest file accepted, in MB; default :data:`layers.limits.MAX_UPLOAD_MB`.
    crs : str or int, optional
        The CRS the user chose (the Data page's 坐标系 / CRS box, ``--crs`` on the command line):
        an EPSG code (``4548``, ``"EPSG:4548"``) or anything pyproj takes. Used instead of guessing
        when the file has no CRS, and over a declared one that differs (with a note naming both);
        still checked against the coordinates (see :func:`layers.crs.resolve_bounds_crs`). A value
        pyproj does not know raises :class:`~layers.errors.CRSError`.
    area : shapely geometry, optional
        The county boundary (lon/lat): features more than :data:`BOUNDARY_KM` outside it are refused
        row by row (:class:`~layers.errors.OutsideError`); without it, features far beyond ``near``
        (see :func:`outside_rows`).
    allow_outside : bool
        The user confirmed the features outside: import them.

    Returns
    -------
    Layer

    Raises
    ------
    LayerError
        Every problem in the file, in Chinese and English; nothing is loaded.
    """
    path = Path(path)
    source = display_name or path.name
    spec = get_spec(kind)
    if not path.is_file():
        raise LayerError(Problem("文件不存在", "the file does not exist", "重新选择文件", "choose the file again",
                                 file=source))
    limits.check_upload_size(path, source, max_mb=max_mb)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED and display_name:  # uploads arrive under temporary names
        suffix = Path(display_name).suffix.lower() or suffix
    if suffix in RASTER_SUFFIXES:
        if not spec.is_raster:
            raise LayerError(Problem(f"“{spec.zh}”图层不接受栅格（GeoTIFF）", f"layer '{spec.en}' does not take a raster",
                                     "上传矢量文件（GeoPackage、Shapefile、KML、Excel 等）",
                                     "upload a vector file (GeoPackage, Shapefile, KML, Excel...)", file=source))
        with _unreadable(source, path):
            r = read_raster(path, display_name=source, crs=crs)
        return Layer(kind, source, raster=r, notes=_check_raster(r, kind, source))
    if not spec.is_vector:
        raise LayerError(Problem(f"“{spec.zh}”应为 GeoTIFF 栅格文件", f"layer '{spec.en}' must be a GeoTIFF raster",
                                 "上传 .tif 文件", "upload a .tif file", file=source))
    with _unreadable(source, path):
        raw = read_vector(path, sublayer=sublayer, display_name=source, defer_rows=True)
    # Problems of every step are gathered so that one message lists them all: rows whose coordinates
    # could not be read, a CRS that cannot be told, then every attribute problem.
    found: list[Problem] = list(raw.attrs.pop("row_problems", []))
    if len(found) > limits.MAX_PROBLEMS:  # the reader stopped checking: a whole column is wrong
        raise LayerError(found)
    error_type = LayerError
    try:
        raw = resolve_crs(raw, source=source, near=near, assume=crs)
    except LayerError as exc:
        found += exc.problems
        error_type = type(exc)   # CRSError: the CRS is part of the story
    try:
        gdf, notes = validate(raw, spec, source=source)
    except LayerError as exc:
        raise error_type(found + _not_repeated(exc.problems, found)) from None
    if found:
        raise error_type(found)
    drop = [c for c in raw.attrs.get("coordinate_columns", ()) if c in gdf.columns]
    gdf = gdf.drop(columns=drop)  # a table's lon/lat columns are now the geometry
    gdf = to_storage(gdf)
    _check_stored(gdf, raw["_row"].to_numpy() if "_row" in raw else None, source)
    if gcj02:
        from layers.coords import convert_gcj02

        gdf = convert_gcj02(gdf)
        notes.append(("坐标已从 GCJ-02（高德/微信）转换为 WGS84", "coordinates converted from GCJ-02 to WGS84"))
    if not allow_outside:
        _check_outside(gdf, raw["_row"].to_numpy() if "_row" in raw else None, source, near, area)
    gdf.attrs["source"] = source
    return Layer(kind, source, gdf=gdf, notes=notes)


def county_boundary(grids: gpd.GeoDataFrame | None):
    """The county boundary from the workspace's grids (the county-level grid, else the township-level
    ones dissolved), in lon/lat; None without grids of those levels."""
    if grids is None or not len(grids) or "level" not in grids:
        return None
    for level in ("county", "township"):
        g = grids[grids["level"] == level]
        if len(g):
            return shapely.union_all(shapely.make_valid(g.to_crs(STORAGE_CRS).geometry.to_numpy()))
    return None


def load_points(path: Path | str, *, sublayer: str | None = None, display_name: str | None = None,
                crs: str | int | None = None):
    """Points of any attributes (e.g. candidate sites): read, CRS resolved, EPSG:4490; ``name`` from its aliases.

    Parameters
    ----------
    path : Path
        Any vector file :func:`layers.readers.read_vector` reads.
    sublayer : str, optional
        Layer inside a GeoPackage, or sheet in a workbook.
    display_name : str, optional
        How messages name the file.
    crs : str or int, optional
        The CRS the user chose (see :func:`load_layer`).

    Raises
    ------
    LayerError
        Unreadable file, unknown CRS, or features that are not points.
    """
    from layers.catalogue import NAME
    from layers.crs import resolve_crs, to_storage
    from layers.readers import read_vector

    p = Path(path)
    shown = display_name or p.name
    gdf = to_storage(resolve_crs(read_vector(p, sublayer=sublayer), source=shown, assume=crs))
    if "name" not in gdf:
        for alias in ("名称", "点位名称", "候选点", *NAME.aliases):
            hit = [c for c in gdf.columns if str(c).strip().lower() == alias.lower()]
            if hit:
                gdf = gdf.rename(columns={hit[0]: "name"})
                break
    pts = gdf.geometry.notna() & ~gdf.geometry.is_empty
    if not pts.any() or not (gdf.geometry[pts].geom_type == "Point").all():
        raise LayerError(Problem("候选点图层应为点要素", "the candidate layer must hold points",
                                 "上传点图层（GeoPackage、Shapefile、KML，或带经纬度列的 Excel/CSV）",
                                 "upload points (GeoPackage, Shapefile, KML, or Excel/CSV with lon/lat columns)",
                                 file=shown))
    return gdf
