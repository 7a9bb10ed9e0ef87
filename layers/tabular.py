"""Layers from tables: CSV and XLSX sheets with longitude/latitude (or X/Y) columns, or a WKT column.

The coordinate columns are found by their headers (经度/纬度, 东经/北纬, lon/lat, lng, longitude/
latitude, 横坐标/纵坐标, X/Y, X坐标/Y坐标, or one 经纬度 column holding ``"119.5,28.3"``), looked for in
the first rows so a title row above the header is fine. Values are read with
:func:`layers.coords.parse_coordinate` (decimal, full-width, degree-minute-second spellings).

Degrees give points in EPSG:4490; lon/lat columns that are the wrong way round (every "lon" in
China's latitude range and every "lat" in its longitude range) are swapped back with a warning.
Large numbers are Gauss-Kruger metres: the point is (easting, northing) and the CRS is left None
for :func:`layers.crs.resolve_crs` (in Chinese survey tables X is the northing and Y the easting).
Every row with a missing or unreadable coordinate is reported, with its line number.

Lines and polygons come from a WKT column (``WKT``, ``geometry``, 几何, 图形, 空间信息...), continued
in ``WKT_2``, ``WKT_3``... when longer than an Excel cell (as :mod:`layers.export` writes them); it
takes precedence over lon/lat columns (then only a representative point, kept as attributes to be
dropped). WKT in degrees gives EPSG:4490, in metres no CRS, as for coordinate columns.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import limits
from layers.coords import parse_coordinate
from layers.errors import LayerError, Problem, problem
from layers.schema import normalize_name
from layers.text import Text

__all__ = ["read_table", "list_sheets", "LON_NAMES", "LAT_NAMES"]

#: normalised headers of the east-west coordinate (degrees, or Gauss-Kruger easting for 横坐标)
LON_NAMES = ("经度", "东经", "lon", "lng", "long", "longitude", "经度坐标", "gps经度", "经度值", "经度e", "经度度",
             "东经度", "横坐标", "东坐标", "easting")
#: normalised headers of the north-south coordinate
LAT_NAMES = ("纬度", "北纬", "lat", "latitude", "纬度坐标", "gps纬度", "纬度值", "纬度n", "纬度度", "北纬度",
             "纵坐标", "北坐标", "northing")
#: X/Y headers: lon/lat when degrees; in metres X is the northing and Y the easting (Chinese survey use)
_X_NAMES = ("x", "x坐标", "坐标x", "xzb", "pointx", "x值", "xcoord", "xcoordinate")
_Y_NAMES = ("y", "y坐标", "坐标y", "yzb", "pointy", "y值", "ycoord", "ycoordinate")
#: one column holding "lon,lat" (or "lat,lon" for the second tuple)
_LONLAT_NAMES = ("经纬度", "经纬度坐标", "坐标", "gps坐标", "经纬坐标", "坐标经纬度", "lonlat", "lnglat", "位置坐标")
_LATLON_NAMES = ("纬经度", "latlon", "latlng")
#: one column holding the whole geometry as WKT (lines, polygons); continued in ``WKT_2``, ``WKT_3``...
#: when longer than an Excel cell (see :mod:`layers.export`)
WKT_NAMES = ("wkt", "geometrywkt", "geomwkt", "wkt几何", "geometry", "几何", "几何图形", "图形", "空间信息")
_WKT_START = re.compile(r"\s*(point|linestring|polygon|multipoint|multilinestring|multipolygon|geometrycollection)\b",
                        re.IGNORECASE)

_DATA_ROW_SCAN = 20          # header searched in the first rows
_CN_LAT = (3.0, 54.0)        # China's latitudes
_CN_LON = (73.0, 136.0)      # China's longitudes
_METRES = 1000.0             # |value| above this: metres, not degrees
_MAX_COLLECTIONS = 16        # GEOMETRYCOLLECTIONs in one WKT cell (GEOS recursion; deep nesting crashes it)

_Note = Text


@dataclass
class _Coords:
    """Where the coordinates are: two columns, or one combined column."""

    kind: str                  # "lonlat" (named lon/lat or 横/纵), "xy" (X/Y), "combined"
    first: int                 # column index (x-ish, or the combined column)
    second: int | None         # column index (y-ish), None when combined
    lat_first: bool = False    # combined column holding "lat,lon"
    wkt: tuple[int, ...] = ()  # WKT column and its continuations, in order; kind "wkt" when alone


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str) -> LayerError:
    return LayerError(problem(zh, en, fix_zh, fix_en, file=source))


# ---- reading cells ---------------------------------------------------------------------------

def _decode_csv(data: bytes, source: str) -> str:
    """CSV text: UTF-8 (with or without BOM), UTF-16 with BOM, else GBK/GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _fail("CSV 文件以 UTF-16 标记开头，但内容不是完整的 UTF-16 文本（文件可能被截断或损坏）",
                        "the CSV starts with a UTF-16 mark but is not valid UTF-16 text (truncated or damaged?)",
                        "在 Excel 或 WPS 中另存为“CSV UTF-8”或 .xlsx", "save it as 'CSV UTF-8' or .xlsx in Excel/WPS",
                        source) from None
    if _utf8(data):
        return data.decode("utf-8")
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise _fail("CSV 文件编码无法识别（不是 UTF-8，也不是 GBK）",
                    "the CSV encoding is not recognised (neither UTF-8 nor GBK)",
                    "在 Excel 或 WPS 中另存为“CSV UTF-8”或 .xlsx", "save it as 'CSV UTF-8' or .xlsx in Excel/WPS",
                    source) from None


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_csv(path: Path, source: str) -> list[tuple[int, list]]:
    """Non-empty CSV records as ``(line number, cells)``; empty cells become None."""
    data = path.read_bytes()
    if data.count(b"\n") > limits.MAX_TABLE_ROWS + _DATA_ROW_SCAN:  # refuse before decoding and parsing
        raise _too_many_rows(source)
    text = _decode_csv(data, source)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|", "，")}
    delim = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows: list[tuple[int, list]] = []
    last = 0
    try:
        for rec in reader:
            start = last + 1
            last = reader.line_num
            cells = [c.strip() or None for c in rec]
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                rows.append((start, cells))
                if len(rows) > limits.MAX_TABLE_ROWS + _DATA_ROW_SCAN:
                    raise _too_many_rows(source)
    except csv.Error as exc:
        raise _fail(f"CSV 第 {reader.line_num} 行格式错误（{exc}）",
                    f"CSV line {reader.line_num} is malformed ({exc})",
                    "检查该行的引号是否成对，或另存为 .xlsx", "check the quotes on that line, or save as .xlsx",
                    source) from None
    return rows


def _check_size(data: list[tuple[int, list]], ncol: int, source: str) -> None:
    """Refuse a table too wide, or too big as rows x columns, before any frame is built."""
    if ncol > limits.MAX_TABLE_COLUMNS:
        line = next(line for line, cells in data if len(cells) == ncol) if any(
            len(c) == ncol for _, c in data) else None
        raise LayerError(problem(
            f"表格有 {ncol:,} 列，超过上限 {limits.MAX_TABLE_COLUMNS:,} 列",
            f"the table has {ncol:,} columns, more than the limit {limits.MAX_TABLE_COLUMNS:,}",
            "删除多余的列（特别是远处右侧误填的单元格）后重新导入",
            "delete the extra columns (especially stray cells far to the right) and import again",
            file=source, row=line))
    if len(data) * ncol > limits.MAX_TABLE_CELLS:
        raise _fail(f"表格过大：{len(data):,} 行 × {ncol:,} 列，超过上限 {limits.MAX_TABLE_CELLS:,} 个单元格",
                    f"the table is too large: {len(data):,} rows x {ncol:,} columns, more than the limit "
                    f"{limits.MAX_TABLE_CELLS:,} cells", "删除不需要的列，或拆分后分别导入",
                    "delete unneeded columns, or split it and import the parts", source)


def _too_many_rows(source: str) -> LayerError:
    return _fail(f"表格超过 {limits.MAX_TABLE_ROWS:,} 行，超出上限", f"the table has more than "
                 f"{limits.MAX_TABLE_ROWS:,} rows, the limit", "按乡镇等拆分后分别导入，或改用 GeoPackage",
                 "split it (by township, say) and import the parts, or use a GeoPackage", source)


def _open_workbook(path: Path, source: str, *, data_only: bool = True):
    import zipfile

    import openpyxl

    try:
        with zipfile.ZipFile(path) as zf:  # refuse a zip bomb before openpyxl unpacks anything
            limits.check_zip(zf, source, what_zh="Excel 文件", what_en="Excel file")
    except LayerError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError):
        pass  # not a zip (or not one Python reads): openpyxl's own message below
    try:  # from bytes: openpyxl refuses paths without an .xlsx suffix (uploads arrive under temp names)
        return openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds on damaged or encrypted files
        raise _fail("无法打开 Excel 文件（文件损坏、加密，或不是 .xlsx 格式）",
                    f"cannot open the Excel file (damaged, password-protected, or not .xlsx: {type(exc).__name__})",
                    "在 Excel 或 WPS 中打开，取消密码后另存为 .xlsx", "open it in Excel/WPS, remove any password and "
                    "save as .xlsx", source) from None


def list_sheets(path: Path, *, display_name: str | None = None, data_first: bool = False) -> list[str]:
    """Worksheet names of an XLSX workbook, in order.

    Parameters
    ----------
    path : pathlib.Path
        An ``.xlsx`` file.
    display_name : str, optional
        What messages call the file.
    data_first : bool
        Put the sheets whose first rows name coordinate columns first (so that a choice list opens
        on the data, not on a cover sheet such as 填表说明).

    Returns
    -------
    list of str

    Raises
    ------
    LayerError
        When the workbook cannot be opened.
    """
    path = Path(path)
    wb = _open_workbook(path, display_name or path.name)
    try:
        names = [ws.title for ws in wb.worksheets]
        if not data_first:
            return names
        has = {ws.title: any(_find_coords([(v.strip() or None) if isinstance(v, str) else v for v in row])
                             for row in ws.iter_rows(max_row=_DATA_ROW_SCAN, values_only=True))
               for ws in wb.worksheets}
        return [n for n in names if has[n]] + [n for n in names if not has[n]]
    finally:
        wb.close()


def _sheet(wb, sheet: str | None, source: str):
    names = [ws.title for ws in wb.worksheets]
    if not names:
        raise _fail("工作簿中没有工作表", "the workbook has no worksheets", "检查文件", "check the file", source)
    if sheet is None:
        return wb.worksheets[0]
    if sheet not in names:
        raise _fail(f"工作簿中没有工作表“{sheet}”；现有工作表：{'、'.join(names)}",
                    f"there is no sheet '{sheet}'; sheets: {', '.join(names)}",
                    "从列表中选择工作表", "choose one of the listed sheets", source)
    return wb[sheet]


def _check_sheet_rows(path: Path, member: str | None, source: str) -> bool:
    """Refuse a worksheet with more rows than the limit by counting its ``</row>`` tags, unparsed.

    Returns whether the sheet holds any formula (``<f>`` element); True when it cannot tell.
    """
    import zipfile

    if not member:
        return True
    rows, tail, formula = 0, b"", False
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member.lstrip("/")) as fh:
            while chunk := fh.read(1 << 20):
                block = tail + chunk
                rows += block.count(b"</row>")
                formula = formula or b"<f>" in block or b"<f " in block
                tail = block[-5:] if not block.endswith(b"</row>") else b""
                if rows > limits.MAX_TABLE_ROWS + _DATA_ROW_SCAN:
                    raise _too_many_rows(source)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error):
        return True  # openpyxl opened it; let it report whatever is wrong
    return formula


def _read_xlsx(path: Path, sheet: str | None, source: str) -> tuple[list[tuple[int, list]], Callable]:
    """Non-empty rows as ``(spreadsheet row, values)`` (cached formula values) and a formula lookup."""
    wb = _open_workbook(path, source)
    try:
        ws = _sheet(wb, sheet, source)
        title = ws.title
        has_formula = _check_sheet_rows(path, getattr(ws, "_worksheet_path", None), source)
        ws.reset_dimensions()
        rows = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [(v.strip() or None) if isinstance(v, str) else v for v in values]
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                rows.append((number, cells))
                if len(rows) > limits.MAX_TABLE_ROWS + _DATA_ROW_SCAN:
                    raise _too_many_rows(source)
    except LayerError:
        raise
    except Exception as exc:  # damaged sheet XML
        raise _fail("读取 Excel 工作表失败，文件可能损坏", f"reading the Excel sheet failed; the file may be damaged "
                    f"({type(exc).__name__})", "在 Excel 或 WPS 中打开后重新保存为 .xlsx",
                    "open it in Excel/WPS and save it again as .xlsx", source) from None
    finally:
        wb.close()

    cache: dict[int, dict[tuple[int, int], str]] = {}

    def formulas(columns: tuple[int, ...] = ()) -> dict[tuple[int, int], str]:
        """(row, col index) -> formula text of every formula cell (read on first use; {} when none)."""
        if not has_formula:
            return {}
        if not cache:
            found: dict[tuple[int, int], str] = {}
            fwb = _open_workbook(path, source, data_only=False)
            try:
                fws = fwb[title]
                fws.reset_dimensions()
                for number, values in enumerate(fws.iter_rows(values_only=True), start=1):
                    for c, v in enumerate(values):
                        text = getattr(v, "text", v)
                        if isinstance(text, str) and text.startswith("="):
                            found[(number, c)] = text
            except Exception as exc:  # damaged sheet XML (the cached-value pass read it, so rare)
                raise _fail("读取 Excel 公式失败，文件可能损坏", f"reading the Excel formulas failed; the file may be "
                            f"damaged ({type(exc).__name__})", "在 Excel 或 WPS 中打开后重新保存为 .xlsx",
                            "open it in Excel/WPS and save it again as .xlsx", source) from None
            finally:
                fwb.close()
            cache[0] = found
        return cache[0]

    return rows, formulas


# ---- finding the coordinate columns ----------------------------------------------------------

def _find_coords(header: list) -> _Coords | None:
    names = [normalize_name(h) if h is not None else "" for h in header]

    def first(cands: tuple[str, ...]) -> int | None:
        for i, n in enumerate(names):
            if n in cands:
                return i
        return None

    wkt: tuple[int, ...] = ()
    base = first(WKT_NAMES)
    if base is not None:  # WKT, then WKT_2, WKT_3... (any order in the sheet), up to the first missing one
        parts = [base]
        while (more := first((f"{names[base]}{len(parts) + 1}",))) is not None:
            parts.append(more)
        wkt = tuple(parts)
    lon, lat = first(LON_NAMES), first(LAT_NAMES)
    if lon is not None and lat is not None:
        return _Coords("lonlat", lon, lat, wkt=wkt)
    x, y = first(_X_NAMES), first(_Y_NAMES)
    if x is not None and y is not None:
        return _Coords("xy", x, y, wkt=wkt)
    both = first(_LONLAT_NAMES)
    if both is not None:
        return _Coords("combined", both, None, wkt=wkt)
    both = first(_LATLON_NAMES)
    if both is not None:
        return _Coords("combined", both, None, lat_first=True, wkt=wkt)
    if wkt:
        return _Coords("wkt", wkt[0], None, wkt=wkt)
    return None


def _headers(cells: list) -> list[str]:
    """Header texts as written; blank ones named by column, duplicates numbered."""
    from openpyxl.utils import get_column_letter

    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(cells):
        name = str(h).strip() if h is not None and str(h).strip() else f"列{get_column_letter(i + 1)}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


# ---- building the layer ----------------------------------------------------------------------

#: what to do about a coordinate that cannot be read
_FIX_COORDINATES = Text("填写十进制度数（如 119.5）或度分秒（如 119°30'15\"），或填写投影坐标（米）",
                        "write decimal degrees (e.g. 119.5) or degrees-minutes-seconds (e.g. 119°30'15\"), or "
                        "projected metres", "fix_coordinates")
#: a row without a coordinate, and what to do about it
_MISSING = Text("缺少坐标", "coordinate missing", "coordinate_missing")
_FIX_MISSING = Text("填写该行的坐标，或删除该行", "fill in the coordinate or delete the row", "fix_coordinate_missing")


def read_table(path: Path, *, sublayer: str | None = None, display_name: str | None = None,
               file_type: str | None = None, defer_rows: bool = False) -> gpd.GeoDataFrame:
    """Read a CSV or XLSX table with coordinate columns as a point layer, or with a WKT column as any layer.

    Parameters
    ----------
    path : pathlib.Path
        ``.csv`` or ``.xlsx``.
    sublayer : str, optional
        Worksheet name (XLSX); default the first sheet.
    display_name : str, optional
        What messages call the file; default ``path.name``.
    file_type : {'csv', 'xlsx'}, optional
        Format, when the path's suffix does not tell it (uploads under temp names).
    defer_rows : bool
        Do not raise for rows with missing, unreadable or out-of-range coordinates: give them an
        empty geometry and list their problems in ``attrs["row_problems"]``, so that the caller can
        report them together with the attribute problems of the same file (see
        :func:`layers.load.load_layer`). The caller must then refuse the layer.

    Returns
    -------
    geopandas.GeoDataFrame
        The table's own columns (headers as written, values as read; empty cells None), ``_row``
        (spreadsheet or CSV line number; the header row is line 1 when it is the first line) and
        ``geometry`` (points, or the WKT column's geometry: when a WKT column holds WKT it wins over
        lon/lat columns, and long WKT continues in ``WKT_2``, ``WKT_3``... columns, joined in
        order); ``attrs["coordinate_columns"]`` names the columns the geometry came from (WKT and
        lon/lat, for the caller to drop). CRS EPSG:4490 for degrees, None for Gauss-Kruger metres (see
        :func:`layers.crs.resolve_crs`). ``attrs["warnings"]`` lists notes (:class:`~layers.text.Text`) such as
        swapped lon/lat columns.

    Raises
    ------
    LayerError
        No coordinate or WKT columns, no data rows, or rows with missing, unreadable or
        out-of-range coordinates or WKT (one problem per cell, naming line, column and value); an
        XLSX coordinate that is a formula without a saved value.
    """
    path = Path(path)
    source = display_name or path.name
    formulas: Callable | None = None
    if (file_type or path.suffix).lower().lstrip(".") == "csv":
        rows = _read_csv(path, source)
    else:
        rows, formulas = _read_xlsx(path, sublayer, source)
    warnings: list[_Note] = []
    try:
        if not rows:
            raise _fail("表格是空的", "the table is empty", "填写表头（经度、纬度等）和数据后再导入",
                        "fill in the header (经度/纬度 or lon/lat...) and the data, then import", source)
        header_at, coords = _locate_header(rows, source)
    except LayerError as exc:
        if formulas is None or sublayer is not None:
            raise
        rows, formulas, header_at, coords = _other_sheet(path, source, exc, warnings)
    data = rows[header_at + 1:]
    if not data:
        raise _fail("表格只有表头，没有数据行", "the table has a header but no data rows",
                    "填写数据后再导入", "fill in the data and import again", source)
    raw_header = _two_row_header(rows, header_at, source, warnings)
    ncol = max(len(raw_header), max(len(c) for _, c in data))
    _check_size(data, ncol, source)
    headers = _headers([*raw_header, *([None] * (ncol - len(raw_header)))])
    lines = [line for line, _ in data]
    if coords.wkt and coords.kind != "wkt" and not _holds_wkt(data, coords.wkt[0]):
        coords = replace(coords, wkt=())  # an empty or non-WKT 图形/几何 column beside lon/lat: an attribute
    if coords.wkt:
        shapes, crs, found = _wkt_geometry(data, coords, headers, lines, source, warnings)
    else:
        shapes, crs, found = _point_geometry(data, coords, headers, formulas, lines, source, warnings)
    if found and not defer_rows:
        raise LayerError(found)

    if formulas is not None:
        _unsaved_formulas(data, formulas, headers, coords, source, warnings)
    headers = [f"{h}_file" if h in ("geometry", "_row") else h for h in headers]
    frame = pd.DataFrame([list(c) + [None] * (ncol - len(c)) for _, c in data], columns=headers)
    frame = _drop_blank_unnamed(frame, headers, raw_header)
    frame["_row"] = lines
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, crs=crs).values, crs=crs)
    gdf.attrs["warnings"] = warnings
    used = dict.fromkeys(c for c in (coords.first, coords.second, *coords.wkt) if c is not None)
    gdf.attrs["coordinate_columns"] = [headers[c] for c in used]
    if found:
        gdf.attrs["row_problems"] = found
    if crs is not None:
        gdf.attrs["crs_assumed"] = True     # degrees in a table: lon/lat by convention, not declared
    return gdf


def _point_geometry(data: list[tuple[int, list]], coords: _Coords, headers: list[str], formulas: Callable | None,
                    lines: list[int], source: str, warnings: list[_Note]
                    ) -> tuple[np.ndarray, str | None, list[Problem]]:
    """Points from the coordinate columns (None where unreadable), the CRS, and the bad rows' problems."""
    a, b, found = _parse_rows(data, coords, headers, formulas, source)
    names = (headers[coords.first], headers[coords.first if coords.second is None else coords.second])
    ok = np.isfinite(a) & np.isfinite(b)
    metres = (np.abs(a) > _METRES) | (np.abs(b) > _METRES)
    found += _check_one_kind(a, b, metres, ok, lines, names[0], source)
    if (metres | ~ok).all() and ok.any():
        x, y, crs = _metres(*_only(a, b, ok), coords, names, source, warnings)
        x, y = _spread(x, ok), _spread(y, ok)
    else:
        found += _degrees(a, b, ok, names, lines, source, warnings)
        x, y, crs = a, b, "EPSG:4490"
    good = ok & np.isfinite(x) & np.isfinite(y)
    points = np.full(len(data), None, dtype=object)
    points[good] = shapely.points(x[good], y[good])
    return points, crs, found


def _holds_wkt(data: list[tuple[int, list]], col: int) -> bool:
    """Whether any cell of column ``col`` starts like WKT (``LINESTRING (``...)."""
    return any(col < len(cells) and isinstance(cells[col], str) and _WKT_START.match(cells[col])
               for _, cells in data)


def _wkt_texts(data: list[tuple[int, list]], cols: tuple[int, ...]) -> np.ndarray:
    """Each row's WKT: the cells of ``cols`` joined in order (continuations of long text), None when all empty."""
    out = np.full(len(data), None, dtype=object)
    for k, (_, cells) in enumerate(data):
        parts = [str(cells[c]) for c in cols if c < len(cells) and cells[c] is not None]
        if parts:
            out[k] = "".join(parts)
    return out


def _wkt_geometry(data: list[tuple[int, list]], coords: _Coords, headers: list[str], lines: list[int],
                  source: str, warnings: list[_Note]) -> tuple[np.ndarray, str | None, list[Problem]]:
    """Geometries from the WKT column(s) (None where missing or unreadable), the CRS, and the bad rows' problems.

    Degrees give EPSG:4490, metres None (for :func:`layers.crs.resolve_crs`), as for coordinate columns.
    """
    field = headers[coords.wkt[0]]
    texts = _wkt_texts(data, coords.wkt)
    # GEOS parses nested collections recursively and crashes the process on very deep nesting
    nested = np.array([t is not None and t.lower().count("geometrycollection") > _MAX_COLLECTIONS for t in texts],
                      dtype=bool)
    shapes = shapely.from_wkt(np.where(nested, None, texts), on_invalid="ignore")  # type: ignore[call-overload]  # numpy stubs: where() refuses None, a valid object scalar
    given = np.array([t is not None for t in texts], dtype=bool)
    ok = given & ~nested & ~shapely.is_missing(shapes)
    ok[ok] = ~shapely.is_empty(shapes[ok])
    found: list[Problem] = []
    bad = np.flatnonzero(~ok)
    for i, k in enumerate(bad):
        if len(found) >= limits.MAX_PROBLEMS:
            found.insert(0, _stopped(len(found), lines[k], len(bad) - i, source))
            break
        found.append(_wkt_problem(texts[k], shapes[k], lines[k], field, source, nested=bool(nested[k])))
    bounds = np.full((len(data), 4), np.nan)
    bounds[ok] = shapely.bounds(shapes[ok])
    minx, miny, maxx, maxy = bounds.T
    metres = ok & (np.abs(np.nan_to_num(bounds)).max(axis=1) > _METRES)
    found += _check_one_kind(minx, miny, metres, ok, lines, field, source)
    if (metres | ~ok).all() and ok.any():
        crs = None
    else:
        crs = "EPSG:4490"
        if (ok.any() and np.all((minx[ok] >= _CN_LAT[0]) & (maxx[ok] <= _CN_LAT[1]))
                and np.all((miny[ok] >= _CN_LON[0]) & (maxy[ok] <= _CN_LON[1]))):
            warnings.append(Text(f"{source}：“{field}”列的坐标都是“纬度 经度”顺序，已对调为“经度 纬度”读取",
                                 f"{source}: every coordinate in '{field}' is in 'lat lon' order; read as 'lon lat'",
                                 "lat_lon_order_swapped"))
            shapes[ok] = shapely.transform(shapes[ok], lambda c: c[:, ::-1])
            minx, miny, maxx, maxy = miny, minx, maxy, maxx
        outside = np.flatnonzero(ok & ~((minx >= -180) & (maxx <= 180) & (miny >= -90) & (maxy <= 90)))
        for i, k in enumerate(outside):
            if i >= limits.MAX_PROBLEMS:
                found.insert(0, _more(len(outside) - i, source))
                break
            found.append(problem(
                f"几何超出经纬度范围（经度 {minx[k]:g}~{maxx[k]:g}，纬度 {miny[k]:g}~{maxy[k]:g}）",
                f"the geometry is outside the lon/lat range (lon {minx[k]:g}..{maxx[k]:g}, lat "
                f"{miny[k]:g}..{maxy[k]:g})", "核对该行的 WKT 坐标（应为“经度 纬度”）",
                "check this row's WKT coordinates (they should be 'lon lat')", file=source, row=lines[k],
                field=field))
        ok[outside] = False
    shapes[~ok] = None
    return shapes, crs, found


def _wkt_problem(text: str | None, shape: object, line: int, field: str, source: str, *,
                 nested: bool = False) -> Problem:
    """The problem of one row whose WKT is missing, unreadable, too deeply nested or empty."""
    if text is None:
        return problem("缺少几何（WKT 为空）", "geometry missing (the WKT cell is empty)",
                       "填写该行的 WKT，如 LINESTRING (119.5 28.3, 119.6 28.4)，或删除该行",
                       "fill in the row's WKT, e.g. LINESTRING (119.5 28.3, 119.6 28.4), or delete the row",
                       file=source, row=line, field=field)
    shown = text if len(text) <= 40 else f"{text[:40]}…"
    if nested:
        return problem(f"WKT 几何集合嵌套超过 {_MAX_COLLECTIONS} 层（“{shown}”），未读取",
                       f"the WKT nests more than {_MAX_COLLECTIONS} geometry collections ('{shown}'); not read",
                       "改为普通的线、面或多部件几何（MULTILINESTRING、MULTIPOLYGON）",
                       "use plain lines, polygons or multi-part geometry (MULTILINESTRING, MULTIPOLYGON)",
                       file=source, row=line, field=field)
    if shape is not None:
        return problem(f"几何为空（“{shown}”）", f"the geometry is empty ('{shown}')", "填写坐标，或删除该行",
                       "fill in the coordinates or delete the row", file=source, row=line, field=field)
    try:
        shapely.from_wkt(text, on_invalid="raise")
        reason = ""
    except shapely.errors.ShapelyError as exc:
        reason = str(exc).split(":", 1)[-1].strip()
    return problem(f"无法识别的 WKT 几何“{shown}”（{reason}）", f"unreadable WKT geometry '{shown}' ({reason})",
                   "检查该行的 WKT 是否完整（括号成对、每个点两个数）；长几何分在 WKT、WKT_2……列时应按顺序排列",
                   "check that the row's WKT is complete (brackets paired, two numbers per point); long geometry "
                   "split over WKT, WKT_2... columns must keep that order", file=source, row=line, field=field)


def _only(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates of the rows that have both."""
    return a[ok], b[ok]


def _spread(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Values of the rows in ``ok`` back at their places, NaN elsewhere."""
    out = np.full(len(ok), np.nan)
    out[ok] = values
    return out


def _other_sheet(path: Path, source: str, first: LayerError, warnings: list[_Note]
                 ) -> tuple[list[tuple[int, list]], Callable, int, _Coords]:
    """The one other worksheet with coordinate columns, when the first has none (noted); else ``first`` raised.

    Workbooks often open with a cover or notes sheet (填表说明) before the data.
    """
    names = list_sheets(path, display_name=source)
    found = []
    for name in names[1:]:
        rows, formulas = _read_xlsx(path, name, source)
        try:
            header_at, coords = _locate_header(rows, source) if rows else (0, None)
            if coords is None:
                continue
        except LayerError:
            continue
        found.append((name, rows, formulas, header_at, coords))
    if len(found) == 1:
        name, rows, formulas, header_at, coords = found[0]
        warnings.append(Text(f"{source}：第一个工作表“{names[0]}”没有坐标列，已读取含坐标的工作表“{name}”",
                             f"{source}: the first sheet '{names[0]}' has no coordinate columns; read the sheet "
                             f"'{name}', which has", "sheet_with_coordinates"))
        return rows, formulas, header_at, coords
    if not found and len(names) == 1:
        raise first
    listed = "、".join(f[0] for f in found) if found else "、".join(names)
    more = problem(
        f"工作簿有 {len(names)} 个工作表（{'、'.join(names)}），第一个没有坐标列；"
        + (f"含坐标列的有：{listed}" if found else "其他工作表也没有"),
        f"the workbook has {len(names)} sheets ({', '.join(names)}) and the first has no coordinate columns; "
        + (f"sheets with coordinates: {listed.replace('、', ', ')}" if found else "nor do the others"),
        "在数据页的“图层/工作表”中选择工作表（命令行用 --sublayer 工作表名）" if found else "添加经度、纬度两列",
        "choose the sheet on the Data page (command line: --sublayer SHEET)" if found else
        "add lon and lat columns", file=source)
    raise LayerError([*first.problems, more]) from None


def _unsaved_formulas(data: list[tuple[int, list]], formulas: Callable, headers: list[str], coords: _Coords,
                      source: str, warnings: list[_Note]) -> None:
    """Warn, per column, about formula cells that have no saved result and so read as empty."""
    found = formulas()
    if not found:
        return
    skip = {coords.first, coords.second, *coords.wkt}
    by_line = dict(data)
    empty: dict[int, list[int]] = {}
    for line, c in sorted(found):
        cells = by_line.get(line)
        if cells is not None and c not in skip and c < len(headers) and (c >= len(cells) or cells[c] is None):
            empty.setdefault(c, []).append(line)
    for c, lines in sorted(empty.items()):
        shown = "、".join(str(x) for x in lines[:5]) + ("……" if len(lines) > 5 else "")
        warnings.append(Text(
            f"{source}：“{headers[c]}”列有 {len(lines)} 个公式没有保存计算结果（第 {shown} 行），已按空值读取；"
            "请在 Excel/WPS 中打开并保存一次后重新导入",
            f"{source}: {len(lines)} formula cell(s) in '{headers[c]}' have no saved result (line "
            f"{shown.replace('、', ', ').replace('……', '...')}) and were read as empty; open and save the file in "
            "Excel/WPS, then import again", "formulas_without_values"))


def _two_row_header(rows: list[tuple[int, list]], at: int, source: str, warnings: list[_Note]) -> list:
    """The header row, its blank cells filled from the row above when that is a group-header row.

    Merged header cells (名称 merged over two rows, 坐标 over 经度 | 纬度) leave blanks in the lower
    header row; a row directly above with at least two labels fills them.
    """
    line, header = rows[at]
    if at == 0:
        return header
    above_line, above = rows[at - 1]
    if above_line != line - 1 or sum(c is not None for c in above) < 2:
        return header
    header = [*header, *([None] * (len(above) - len(header)))]
    filled = [h if h is not None or j >= len(above) else above[j] for j, h in enumerate(header)]
    taken = [str(above[j]) for j, h in enumerate(header) if h is None and j < len(above) and above[j] is not None]
    if taken:
        warnings.append(Text(f"{source}：表头占两行（合并单元格），"
                             f"第 {line} 行的空白表头取自上一行：{'、'.join(taken)}",
                             f"{source}: a two-row header (merged cells); blank headers on line {line} were taken from "
                             f"the line above: {', '.join(taken)}", "two_row_header"))
    return filled


def _locate_header(rows: list[tuple[int, list]], source: str) -> tuple[int, _Coords]:
    """Index of the header row (the first of the first rows naming coordinate columns) and the columns."""
    for i, (_, cells) in enumerate(rows[:_DATA_ROW_SCAN]):
        coords = _find_coords(cells)
        if coords is not None:
            if coords.kind == "combined" and i + 1 < len(rows):
                # a merged group cell ("坐标" over 经度 | 纬度): the row below holds the real headers
                below = _find_coords(rows[i + 1][1])
                if below is not None and below.kind != "combined":
                    return i + 1, below
            return i, coords
    found = "、".join(str(c) for c in rows[0][1] if c is not None)
    raise _fail(f"找不到坐标列；表头为：{found}。可识别的列名：经度/纬度、东经/北纬、lon/lat、lng、"
                "longitude/latitude、X/Y、横坐标/纵坐标、X坐标/Y坐标、经纬度，或存放线、面几何的 WKT 列",
                f"no coordinate columns found; the header is: {found}. Accepted names: 经度/纬度, 东经/北纬, "
                "lon/lat, lng, longitude/latitude, X/Y, 横坐标/纵坐标, X坐标/Y坐标, 经纬度, or a WKT column holding "
                "line or polygon geometry",
                "把坐标列的表头改为“经度”“纬度”（或 X、Y），线、面图层用“WKT”列",
                "name the coordinate columns 经度/纬度 (or lon/lat, X/Y); for lines and polygons use a 'WKT' column",
                source)


def _parse_rows(data: list[tuple[int, list]], coords: _Coords, headers: list[str], formulas: Callable | None,
                source: str) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    """Parsed first/second coordinates of every data row (NaN where missing or unreadable), and every bad cell."""
    problems: list[Problem] = []
    fix_zh, fix_en = _FIX_COORDINATES
    cols = (coords.first,) if coords.second is None else (coords.first, coords.second)
    a = np.full(len(data), np.nan)
    b = np.full(len(data), np.nan)
    for k, (line, cells) in enumerate(data):
        if len(problems) >= limits.MAX_PROBLEMS:
            problems.insert(0, _stopped(len(problems), line, len(data) - k, source))
            break
        raw = [cells[c] if c < len(cells) else None for c in cols]
        if coords.second is None:
            values = _combined_cell(raw[0], coords.lat_first, line, headers[coords.first], source, problems)
            if values is not None:
                a[k], b[k] = values
            continue
        for j, (c, v) in enumerate(zip(cols, raw)):
            field = headers[c]
            if v is None:
                formula = formulas(cols).get((line, c)) if formulas is not None else None
                if formula is not None:
                    problems.append(problem(
                        f"坐标是公式（{formula}），但文件中没有保存计算结果",
                        f"the coordinate is a formula ({formula}) with no saved result",
                        "在 Excel/WPS 中打开并保存一次（让公式算出结果），或把该列“粘贴为数值”",
                        "open and save the file in Excel/WPS so the formula is calculated, or paste the column "
                        "as values", file=source, row=line, field=field))
                else:
                    problems.append(problem(*_MISSING, *_FIX_MISSING, file=source, row=line, field=field))
                continue
            try:
                (a if j == 0 else b)[k] = _coordinate(v)
            except ValueError:
                problems.append(problem(f"无法识别的坐标值“{v}”", f"unreadable coordinate '{v}'", fix_zh, fix_en,
                                        file=source, row=line, field=field))
    return a, b, problems


def _coordinate(value: object) -> float:
    """:func:`parse_coordinate`, with a fast path for plain finite decimals (most cells)."""
    if type(value) is float or type(value) is int:
        if math.isfinite(value):
            return float(value)
    elif type(value) is str and "_" not in value:
        try:
            out = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(out):
                return out
    return parse_coordinate(value)


def _stopped(found: int, line: int, left: int, source: str) -> Problem:
    """The note closing a capped problem list: where checking stopped and how much was left."""
    return problem(f"已发现 {found} 处问题，检查在第 {line} 行停止，其后 {left:,} 行未检查",
                   f"{found} problems found; checking stopped at line {line}, {left:,} more rows not checked",
                   "先改正下面列出的问题（可能整列格式有误），再重新导入",
                   "fix the problems listed below first (a whole column may be in the wrong format), then import "
                   "again", file=source)


def _combined_cell(text: object, lat_first: bool, line: int, field: str, source: str,
                   problems: list[Problem]) -> tuple[float, float] | None:
    """(lon, lat) from one "lon,lat" cell, or None with a problem recorded."""
    parts = _split_pair(text)
    if parts is None:
        if text is None:
            problems.append(problem(*_MISSING, *_FIX_MISSING, file=source, row=line, field=field))
        else:
            problems.append(problem(f"坐标“{text}”无法拆分为经度和纬度", f"coordinate '{text}' cannot be split into "
                                    "lon and lat", "写成“经度,纬度”（如 119.5,28.3），或分成经度、纬度两列",
                                    "write 'lon,lat' (e.g. 119.5,28.3), or use separate lon and lat columns",
                                    file=source, row=line, field=field))
        return None
    fix_zh, fix_en = _FIX_COORDINATES
    values = []
    for v in (parts[::-1] if lat_first else parts):
        try:
            values.append(parse_coordinate(v))
        except ValueError:
            problems.append(problem(f"无法识别的坐标值“{v}”", f"unreadable coordinate '{v}'", fix_zh, fix_en,
                                    file=source, row=line, field=field))
            return None
    return values[0], values[1]


def _check_one_kind(a: np.ndarray, b: np.ndarray, metres: np.ndarray, ok: np.ndarray, lines: list[int],
                    field: str, source: str) -> list[Problem]:
    """Problems for the rows of the minority kind in tables mixing degrees and metres (dropped from ``ok``)."""
    m = metres[ok]
    if m.all() or not m.any():
        return []
    odd = ok & (~metres if m.sum() * 2 > len(m) else metres)
    minority_metres = bool((metres & odd).any())
    kind_zh, other_zh = ("投影坐标（米）", "经纬度（度）") if minority_metres else ("经纬度（度）", "投影坐标（米）")
    kind_en, other_en = ("projected metres", "lon/lat degrees") if minority_metres else \
        ("lon/lat degrees", "projected metres")
    rows = np.flatnonzero(odd)
    found = [problem(
        f"这一行的坐标（{a[k]:g}, {b[k]:g}）像{kind_zh}，而其他行是{other_zh}",
        f"this row's coordinates ({a[k]:g}, {b[k]:g}) look like {kind_en} while the other rows are {other_en}",
        "统一使用经纬度或统一使用投影坐标", "use lon/lat or metres throughout", file=source, row=lines[k], field=field)
        for k in rows[:limits.MAX_PROBLEMS]]
    if len(rows) > limits.MAX_PROBLEMS:
        found.insert(0, _more(len(rows) - limits.MAX_PROBLEMS, source))
    ok &= ~odd
    return found


def _more(n: int, source: str) -> Problem:
    return problem(f"另有 {n:,} 行同样的问题未逐一列出（下面列出前 {limits.MAX_PROBLEMS} 行）",
                   f"{n:,} more rows with the same problem are not listed (the first {limits.MAX_PROBLEMS} follow)",
                   "先改正下面列出的问题，再重新导入", "fix the problems listed below, then import again", file=source)


def _split_pair(text: object) -> list[str] | None:
    """``"119.5,28.3"``/``"119.5，28.3"``/``"119.5 28.3"`` -> two parts, else None."""
    if text is None:
        return None
    s = str(text).strip()
    parts = [p for p in re.split(r"\s*[,，;；/]\s*", s) if p]
    if len(parts) != 2:
        parts = s.split()
    return parts if len(parts) == 2 else None


def _drop_blank_unnamed(frame: pd.DataFrame, headers: list[str], raw_header: list) -> pd.DataFrame:
    """Drop columns without a header and without any value (Excel's trailing empty columns)."""
    drop = [h for i, h in enumerate(headers)
            if (i >= len(raw_header) or raw_header[i] is None) and frame[h].isna().all()]
    return frame.drop(columns=drop)


def _degrees(a: np.ndarray, b: np.ndarray, ok: np.ndarray, names: tuple[str, str], lines: list[int],
             source: str, warnings: list[_Note]) -> list[Problem]:
    """Make ``a``/``b`` lon/lat in place (swapped back when clearly reversed); problems for rows out of range.

    Only the rows in ``ok`` are looked at; rows out of range are dropped from ``ok``.
    """
    ra, rb = a[ok], b[ok]
    if (len(ra) and np.all((ra >= _CN_LAT[0]) & (ra <= _CN_LAT[1]))
            and np.all((rb >= _CN_LON[0]) & (rb <= _CN_LON[1]))):
        warnings.append(Text(
            f"{source}：“{names[0]}”列的数值都像纬度、“{names[1]}”列的数值都像经度，已将两列对调读取",
            f"{source}: every value in '{names[0]}' looks like a latitude and every value in '{names[1]}' like a "
            "longitude; the two columns were swapped", "lat_lon_columns_swapped"))
        a[:], b[:] = b.copy(), a.copy()
        names = (names[1], names[0])
    problems: list[Problem] = []
    outside = np.flatnonzero(ok & ~((a >= -180) & (a <= 180) & (b >= -90) & (b <= 90)))
    for i, k in enumerate(outside):
        if len(problems) >= limits.MAX_PROBLEMS:
            problems.insert(0, _more(len(outside) - i, source))
            break
        if not -180 <= a[k] <= 180:
            problems.append(problem(f"经度 {a[k]:g} 超出 -180~180", f"longitude {a[k]:g} is outside -180..180",
                                    "核对该行坐标", "check this row's coordinates", file=source, row=lines[k],
                                    field=names[0]))
        if not -90 <= b[k] <= 90:
            problems.append(problem(f"纬度 {b[k]:g} 超出 -90~90", f"latitude {b[k]:g} is outside -90..90",
                                    "核对该行坐标（经纬度是否填反）", "check this row's coordinates (lon and lat "
                                    "swapped?)", file=source, row=lines[k], field=names[1]))
    ok[outside] = False
    return problems


def _metres(a: np.ndarray, b: np.ndarray, coords: _Coords, names: tuple[str, str], source: str,
            warnings: list[_Note]) -> tuple[np.ndarray, np.ndarray, None]:
    """(easting, northing, None): which column is the easting, decided from the numbers."""
    zone_a, zone_b = np.all(np.abs(a) >= 1e7), np.all(np.abs(b) >= 1e7)
    plain_a = np.all((a >= 1.5e5) & (a <= 8.5e5))
    plain_b = np.all((b >= 1.5e5) & (b <= 8.5e5))
    if zone_b and not zone_a:
        east_is_b = True
    elif zone_a and not zone_b:
        east_is_b = False
    elif plain_b and not plain_a and np.max(a) > 1e6:
        east_is_b = True
    elif plain_a and not plain_b and np.max(b) > 1e6:
        east_is_b = False
    else:
        east_is_b = coords.kind == "xy"      # Chinese survey convention: X northing, Y easting
    if east_is_b:
        if coords.kind == "xy":
            warnings.append(Text(
                f"{source}：坐标为投影坐标（米），按测量惯例“{names[0]}”为北坐标、“{names[1]}”为东坐标读取",
                f"{source}: projected coordinates (metres); following survey convention '{names[0]}' was read as "
                f"the northing and '{names[1]}' as the easting", "northing_first"))
        else:
            warnings.append(Text(
                f"{source}：“{names[1]}”列像东坐标、“{names[0]}”列像北坐标，已按此读取",
                f"{source}: '{names[1]}' looks like the easting and '{names[0]}' like the northing; read that way",
                "easting_northing_guessed"))
        return b, a, None
    return a, b, None
