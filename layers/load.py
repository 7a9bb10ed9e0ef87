"""Loading a user's file as a layer kind: read, resolve CRS, validate, convert to the storage CRS.

:func:`load_layer` is the one entry point the app and the command line use for any file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from layers import limits
from layers.catalogue import spec as get_spec
from layers.coords import convert_offset
from layers.crs import OnConflict, resolve_crs, to_storage
from layers.datums import describe, is_old_datum, shift_notes, towgs84_of
from layers.errors import LayerError, OutsideError, Problem
from layers.footprints import can_estimate_capacity, estimate_capacity, points_from_polygons
from layers.raster import Raster, read_raster
from layers.raster_files import RASTER_SUFFIXES, formats_text, is_raster_file
from layers.readers import read_vector
from layers.schema import LayerSpec
from layers.settings import STORAGE_CRS
from layers.text import Text, pick
from layers.validate import validate
from layers.webmap import Suspicion, offset_name, suspect

__all__ = ["Layer", "CoordOptions", "load_layer", "load_points", "RASTER_SUFFIXES", "is_raster_file"]


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
    notes : list of Text
        Warnings about what was assumed or repaired on the way in.
    source_crs : pyproj.CRS, optional
        The CRS the file was read in (before conversion to the storage CRS).
    crs_chosen_used : bool
        The CRS the user chose decided (or agreed with) the file's CRS.
    crs_conflict : Text, optional
        The file declares another CRS than the one chosen, and its own was kept
        (``on_conflict="keep"``).
    suspicion : Suspicion, optional
        Signs of a web-map offset (:func:`layers.webmap.suspect`), when none was removed.
    offset : str, optional
        The web-map offset removed (``"gcj02"``, ``"bd09"``).
    """

    kind: str
    source: str
    gdf: gpd.GeoDataFrame | None = None
    raster: Raster | None = None
    notes: list[Text] = field(default_factory=list)
    source_crs: object = None
    crs_chosen_used: bool = False
    crs_conflict: Text | None = None
    suspicion: Suspicion | None = None
    offset: str | None = None

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
        return [pick(n, lang) for n in self.notes]

    def crs_name(self, lang: str = "zh") -> str:
        """The CRS the file was read in, as offices name it ("北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）")."""
        c = self.source_crs if self.source_crs is not None else self.crs
        return describe(c)(lang) if c is not None else ""


@dataclass(frozen=True)
class CoordOptions:
    """What the user said about a file's coordinates: an upload's 坐标系 / CRS box in the app, as
    ``--crs``, ``--towgs84``, ``--crs-override`` and ``--gcj02`` / ``--bd09`` say it on the command line.

    Attributes
    ----------
    crs : str, optional
        The CRS chosen (``"EPSG:4548"``, ``"beijing1954"``...; see ``crs`` of :func:`load_layer`);
        None: told from the file.
    towgs84 : tuple of float, optional
        A surveying bureau's 3 or 7 transformation parameters (:func:`layers.datums.parse_towgs84`).
    on_conflict : {'refuse', 'override', 'keep'}
        When ``crs`` differs from the CRS the file declares (see :func:`load_layer`).
    offset : {'gcj02', 'bd09'}, optional
        The web-map offset to remove (vector data in lon/lat only).
    """

    crs: str | None = None
    towgs84: tuple[float, ...] | None = None
    on_conflict: OnConflict = "refuse"
    offset: str | None = None


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


def _check_raster(r: Raster, kind: str, source: str) -> list[Text]:
    notes = list(getattr(r, "warnings", []) or [])
    valid = r.valid_mask()
    if not valid.any():
        raise LayerError(Problem("栅格中没有有效值（全部为无数据）", "the raster has no valid cells (all nodata)",
                                 "检查文件或其无数据值设置", "check the file and its nodata value", file=source))
    if kind == "dem":
        voids = int((~valid).sum())
        if voids:
            share = voids / valid.size
            notes.append(Text(f"高程中有 {voids} 个空洞像元（{share:.1%}），分析时按周边插补或忽略",
                              f"the DEM has {voids} void cells ({share:.1%}); analyses fill or skip them",
                              "dem_void_cells"))
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
    what = (Text("辖区边界", "the county boundary", "county_boundary") if area is not None
            else Text("工作空间范围", "the workspace's extent", "workspace_extent"))
    raise OutsideError([
        Problem(f"位于{what[0]}之外约 {d:,.0f} 公里（经度 {p.x:.5f}，纬度 {p.y:.5f}）",
                f"lies about {d:,.0f} km outside {what[1]} (longitude {p.x:.5f}, latitude {p.y:.5f})",
                "核对坐标（经纬度是否填反、小数点位置、坐标系）；确属辖区之外的要素，确认后再导入",
                "check the coordinates (lon/lat swapped, the decimal point, the CRS); if it really lies outside, "
                "confirm it to import", file=source, row=int(rows[i]))
        for i, d, p in list(zip(idx, km, pts))[: limits.MAX_PROBLEMS]])


def load_layer(path: Path | str, kind: str, *, sublayer: str | None = None, gcj02: bool = False,
               display_name: str | None = None, near: tuple[float, float, float, float] | None = None,
               max_mb: float | None = None, crs: object | None = None, towgs84: tuple[float, ...] | None = None,
               on_conflict: OnConflict = "refuse", offset: str | None = None,
               reference: gpd.GeoSeries | None = None, local: bool = False, lenient: bool = False,
               suspect_offset: bool = True, area=None, allow_outside: bool = False) -> Layer:
    """Read any supported file as layer ``kind``.

    Parameters
    ----------
    path : Path
        GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, CSV/XLSX with lon/lat, or a raster (GeoTIFF,
        .asc, .img, .vrt, SRTM .hgt / .hgt.zip, .nc, or one zipped with its side files).
    kind : str
        Layer kind (see :mod:`layers.catalogue`).
    sublayer : str, optional
        Layer inside a GeoPackage, sheet in a workbook, netCDF variable, or raster in a zip.
    gcj02 : bool
        The coordinates are GCJ-02 (picked from Gaode/AMap or WeChat): convert them to WGS84 (the
        same as ``offset="gcj02"``).
    display_name : str, optional
        How messages name the file (uploads arrive under temporary names).
    near : tuple of float, optional
        ``(min lon, min lat, max lon, max lat)`` of the layers already in the workspace: a vector
        layer whose CRS puts it far from them is refused when another Gauss-Kruger zone would put
        it among them (see :func:`layers.crs.decide_crs`).
    max_mb : float, optional
        Largest file accepted, in MB; default :data:`layers.limits.MAX_UPLOAD_MB`.
    crs : str, int or Datum, optional
        The CRS the user chose (the Data page's 坐标系 / CRS box, ``--crs`` on the command line):
        an EPSG code (``4548``, ``"EPSG:4548"``), anything pyproj takes, or a datum
        (``"beijing1954"``, ``"xian1980"``: lon/lat or the zone the numbers carry). Used instead of
        guessing when the file has no CRS; a declared one that differs is a conflict (see
        ``on_conflict``); still checked against the coordinates (see :func:`layers.crs.decide_crs`).
    towgs84 : tuple of float, optional
        A surveying bureau's 3 or 7 transformation parameters
        (:func:`layers.datums.parse_towgs84`) for Beijing 1954 / Xi'an 1980 data.
    on_conflict : {'refuse', 'override', 'keep'}
        When ``crs`` differs from the CRS the file declares: refuse (default), use ``crs`` (the
        user says the file's own is wrong), or keep the file's own (see
        :attr:`Layer.crs_conflict`).
    offset : {'gcj02', 'bd09'}, optional
        The coordinates carry a web-map offset: remove it (:func:`layers.coords.convert_offset`).
        Only for lon/lat vector data on WGS84/CGCS2000.
    reference : geopandas.GeoSeries, optional
        The workspace's roads and villages (EPSG:4490) for the offset-pattern test of
        :func:`layers.webmap.suspect`.
    local : bool
        The file is the user's own on this machine (command line): a raster VRT may use any local
        file (uploads: only files beside it).
    lenient : bool
        The file is one input of a command whose options may be meant for another input:
        ``towgs84`` is applied only to an old datum, and ``offset`` only to lon/lat vector data on
        WGS84/CGCS2000 (elsewhere a note says it was not applied) instead of refusing.
    suspect_offset : bool
        Look for signs of a web-map offset when none is removed (False: the user already said the
        file carries none).
    area : shapely geometry, optional
        The county boundary (lon/lat): features more than :data:`BOUNDARY_KM` outside it are refused
        row by row (:class:`~layers.errors.OutsideError`); without it, features far beyond ``near``
        (see :func:`outside_rows`).
    allow_outside : bool
        The user confirmed the features outside: import them.

    Returns
    -------
    Layer
        With :attr:`Layer.source_crs` (the CRS the file was read in), whether the chosen CRS was
        used, a conflict kept (``on_conflict="keep"``) and a web-map suspicion, if any; notes say
        what was assumed, estimated or converted (old datums: the size of the shift).

    Raises
    ------
    LayerError
        Every problem in the file, in Chinese and English; nothing is loaded. Also a web-map
        offset asked of projected data, of an old datum, or of a raster.
    """
    path = Path(path)
    source = display_name or path.name
    spec = get_spec(kind)
    if gcj02 and offset not in (None, "gcj02"):
        raise ValueError(f"gcj02=True and offset={offset!r} contradict each other")
    offset = "gcj02" if gcj02 else offset
    if not path.is_file():
        raise LayerError(Problem("文件不存在", "the file does not exist", "重新选择文件", "choose the file again",
                                 file=source))
    limits.check_upload_size(path, source, max_mb=max_mb)
    if is_raster_file(path, display_name):
        fmt_zh, fmt_en = formats_text()
        if not spec.is_raster:
            raise LayerError(Problem(f"“{spec.zh}”图层不接受栅格（{fmt_zh}）",
                                     f"layer '{spec.en}' does not take a raster ({fmt_en})",
                                     "上传矢量文件（GeoPackage、Shapefile、KML、Excel 等）",
                                     "upload a vector file (GeoPackage, Shapefile, KML, Excel...)", file=source))
        if offset is not None and not lenient:
            raise LayerError(_offset_refused(source, Text("栅格", "a raster")))
        with _unreadable(source, path):
            r = read_raster(path, display_name=source, crs=crs, towgs84=towgs84, on_conflict=on_conflict,
                            sublayer=sublayer, local=local, towgs84_old_only=lenient)
        return Layer(kind, source, raster=r, notes=_check_raster(r, kind, source), source_crs=r.source_crs,
                     crs_chosen_used=r.chosen_used, crs_conflict=r.conflict)
    if not spec.is_vector:
        fmt_zh, fmt_en = formats_text()
        raise LayerError(Problem(f"“{spec.zh}”应为 GeoTIFF 等栅格文件（{fmt_zh}）",
                                 f"layer '{spec.en}' must be a GeoTIFF raster or another raster ({fmt_en})",
                                 "上传 .tif 等栅格文件", "upload a .tif or another raster file", file=source))
    with _unreadable(source, path):
        raw = read_vector(path, sublayer=sublayer, display_name=source, defer_rows=True)
    columns = [str(c) for c in raw.columns if c not in ("_row", raw.geometry.name)]
    # Problems of every step are gathered so that one message lists them all: rows whose coordinates
    # could not be read, a CRS that cannot be told, then every attribute problem.
    found: list[Problem] = list(raw.attrs.pop("row_problems", []))
    if len(found) > limits.MAX_PROBLEMS:  # the reader stopped checking: a whole column is wrong
        raise LayerError(found)
    error_type = LayerError
    try:
        raw = resolve_crs(raw, source=source, near=near, assume=crs, towgs84=towgs84, on_conflict=on_conflict,
                          towgs84_old_only=lenient)
    except LayerError as exc:
        found += exc.problems
        error_type = type(exc)   # CRSError: the CRS is part of the story
    read_notes: list = []
    if kind == "boundaries":   # DataV GeoJSON, tables named by level, codes without levels
        from layers.boundaries import prepare

        raw, read_notes = prepare(raw)
    raw, shaped = points_from_polygons(raw, spec, source=source)
    estimate = can_estimate_capacity(raw, spec)
    had_capacity = estimate and "capacity" in spec.match_columns(columns).values()
    try:
        gdf, notes = validate(raw, _capacity_optional(spec) if estimate else spec, source=source)
    except LayerError as exc:
        raise error_type(found + _not_repeated(exc.problems, found)) from None
    if estimate:
        rows = raw["_row"].reset_index(drop=True) if "_row" in raw else pd.Series(np.arange(1, len(gdf) + 1))
        gdf, more, problems = estimate_capacity(gdf, spec, source=source, rows=rows, had_column=had_capacity)
        found += problems
        notes += more
    notes = [*read_notes, *notes]
    if found:
        raise error_type(found)
    notes = [*shaped, *notes]
    source_crs = gdf.crs
    drop = [c for c in raw.attrs.get("coordinate_columns", ()) if c in gdf.columns]
    gdf = gdf.drop(columns=drop)  # a table's lon/lat columns are now the geometry
    if offset is not None:
        refused = _check_offset(offset, source_crs, source)
        if refused is not None:
            if not lenient:
                raise LayerError(refused)
            notes.append(Text(f"{source}：{refused.zh}，未做网络地图纠偏", f"{source}: {refused.en}; no web-map "
                              "correction applied", "offset_skipped"))
            offset = None
    gdf = to_storage(gdf)
    _check_stored(gdf, raw["_row"].to_numpy() if "_row" in raw else None, source)
    notes += shift_notes(source_crs, source)
    suspicion = None
    if offset is not None:
        gdf = convert_offset(gdf, offset)
        name = offset_name(offset)
        notes.append(Text(f"坐标已从 {name.zh} 转换为 CGCS2000/WGS84", f"coordinates converted from {name.en} to "
                          "CGCS2000/WGS84", f"offset_converted_{offset}"))
    elif suspect_offset and source_crs is not None and source_crs.is_geographic and not is_old_datum(source_crs):
        suspicion = suspect(gdf, source=source, columns=columns, reference=reference)
        if suspicion is not None:
            notes.append(suspicion.note)
    if not allow_outside:
        _check_outside(gdf, raw["_row"].to_numpy() if "_row" in raw else None, source, near, area)
    gdf.attrs["source"] = source
    return Layer(kind, source, gdf=gdf, notes=notes, source_crs=source_crs,
                 crs_chosen_used=bool(raw.attrs.get("crs_chosen_used")), crs_conflict=raw.attrs.get("crs_conflict"),
                 suspicion=suspicion, offset=offset)


def _capacity_optional(spec: LayerSpec) -> LayerSpec:
    """The spec with ``capacity`` not required (it may be estimated from floor area)."""
    return replace(spec, fields=tuple(replace(f, required=False) if f.name == "capacity" else f for f in spec.fields))


def _offset_refused(source: str, what: Text) -> Problem:
    return Problem(f"网络地图纠偏（GCJ-02 / BD-09）只适用于经纬度坐标的矢量数据，本文件为{what.zh}",
                   f"the web-map correction (GCJ-02 / BD-09) applies to vector data in lon/lat; this file is "
                   f"{what.en}", "去掉纠偏选项（--gcj02 / --bd09）；网络地图的偏移只存在于经纬度中",
                   "drop the correction (--gcj02 / --bd09): web-map offsets exist only in lon/lat", file=source)


def _check_offset(offset: str, crs: pyproj.CRS | None, source: str) -> Problem | None:
    """Why a web-map offset cannot be removed from data in ``crs`` (only WGS84/CGCS2000 lon/lat), or None."""
    if crs is None:
        return None
    if not crs.is_geographic:
        return _offset_refused(source, Text(f"投影坐标（{describe(crs).zh}）", f"projected ({describe(crs).en})"))
    if is_old_datum(crs):
        return _offset_refused(source, Text(f"旧坐标系（{describe(crs).zh}）", f"on an old datum ({describe(crs).en})"))
    return None


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
                crs: object | None = None, towgs84: tuple[float, ...] | None = None,
                on_conflict: OnConflict = "refuse", offset: str | None = None, lenient: bool = False):
    """Points of any attributes (e.g. candidate sites): read, CRS resolved, EPSG:4490; ``name`` from its aliases.

    Parameters
    ----------
    path : Path
        Any vector file :func:`layers.readers.read_vector` reads.
    sublayer : str, optional
        Layer inside a GeoPackage, or sheet in a workbook.
    display_name : str, optional
        How messages name the file.
    crs, towgs84, on_conflict, offset, lenient
        The CRS the user chose, the bureau's parameters, what a conflicting declared CRS does, the
        web-map offset to remove, and whether these may be meant for another input (see
        :func:`load_layer`).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4490; polygons replaced by a point inside each (their area in ``area``, a note in
        ``attrs["warnings"]``); ``attrs["crs_chosen_used"]`` / ``attrs["crs_conflict"]`` as
        :func:`layers.crs.resolve_crs` sets them; ``attrs["source_crs"]`` the CRS the file was read in.

    Raises
    ------
    LayerError
        Unreadable file, unknown CRS, or features that are neither points nor polygons.
    """
    from layers.catalogue import NAME

    p = Path(path)
    shown = display_name or p.name
    raw = resolve_crs(read_vector(p, sublayer=sublayer), source=shown, assume=crs, towgs84=towgs84,
                      on_conflict=on_conflict, towgs84_old_only=lenient)
    raw, shaped = points_from_polygons(raw, None, source=shown)
    source_crs = raw.crs
    refused = _check_offset(offset, source_crs, shown) if offset is not None else None
    if refused is not None and not lenient:
        raise LayerError(refused)
    gdf = to_storage(raw)
    gdf.attrs["warnings"] = [*gdf.attrs.get("warnings", []), *shaped, *shift_notes(source_crs, shown)]
    gdf.attrs["towgs84_used"] = source_crs is not None and towgs84_of(source_crs) is not None
    gdf.attrs["source_crs"] = source_crs
    if offset is not None and refused is None:
        attrs = dict(gdf.attrs)
        gdf = convert_offset(gdf, offset)
        gdf.attrs = attrs
        gdf.attrs["offset"] = offset
        gdf.attrs["warnings"].append(Text(f"坐标已从 {offset_name(offset).zh} 转换为 CGCS2000/WGS84",
                                          f"coordinates converted from {offset_name(offset).en} to CGCS2000/WGS84",
                                          f"offset_converted_{offset}"))
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
