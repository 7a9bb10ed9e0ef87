"""Read any supported vector file into a GeoDataFrame: dispatch by file type, plus the GIS formats.

GeoPackage, GeoJSON and Shapefile (zipped, or a bare ``.shp`` beside its parts) are read here with
pyogrio; KML/KMZ in :mod:`layers.kml`, CSV/XLSX in :mod:`layers.tabular`; GeoTIFFs are rasters
(:mod:`layers.raster`). Every reader returns the file's own columns, ``geometry`` (2-D), ``_row``
(the row label a user recognises) and ``attrs["source"]``; any problem is a
:class:`~layers.errors.LayerError` naming the file.

Shapefile attribute encoding: the ``.cpg`` when present, otherwise detected from the ``.dbf`` bytes
(strict UTF-8, else GBK/GB18030, which is what Chinese desktop GIS writes). Zip archives are
checked for path escapes (absolute paths, ``..``, symbolic links) and zip bombs (declared sizes,
member count and compression ratio, then a byte budget while unpacking: :mod:`layers.limits`), and
only the needed members are extracted, under fixed names, into a temporary folder that is removed
afterwards. A file's first bytes must match its type before GDAL sees it, so a renamed VRT (which
could point GDAL at other files or the network) is refused; nothing uploaded is executed or fetched.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio
import pyogrio.errors
import shapely

from layers import kml, limits, tabular
from layers.errors import LayerError, Problem, problem
from layers.text import Text

__all__ = ["SUPPORTED", "RASTER_SUFFIXES", "list_sublayers", "read_vector"]

#: file suffixes accepted by the readers (vector and raster)
SUPPORTED = frozenset({".gpkg", ".geojson", ".json", ".zip", ".shp", ".kml", ".kmz", ".csv", ".xlsx", ".tif",
                       ".tiff"})
#: suffixes of raster files (read with :func:`layers.raster.read_raster`)
RASTER_SUFFIXES = frozenset({".tif", ".tiff"})

_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_ZIP_VECTOR = (".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv", ".xlsx")
_DBF_SCAN_BYTES = 8 * 1024 * 1024
_HINTS = {
    ".xls": ("旧版 Excel（.xls）格式不受支持", "the old Excel format (.xls) is not supported",
             "在 Excel 或 WPS 中另存为 .xlsx", "save it as .xlsx in Excel or WPS"),
    ".et": ("WPS 表格（.et）格式不受支持", "the WPS spreadsheet format (.et) is not supported",
            "在 WPS 中另存为 .xlsx", "save it as .xlsx in WPS"),
    ".dbf": ("只有 .dbf 属性表，缺少 Shapefile 的其他部分", "only the .dbf attribute table of a Shapefile was given",
             "把同名的 .shp、.shx、.dbf、.prj、.cpg 一起压缩成 .zip 上传",
             "zip the .shp, .shx, .dbf, .prj and .cpg files of the same name together and upload the .zip"),
    ".shx": ("只有 .shx 索引文件，缺少 Shapefile 的其他部分", "only the .shx index of a Shapefile was given",
             "把同名的 .shp、.shx、.dbf、.prj、.cpg 一起压缩成 .zip 上传",
             "zip the .shp, .shx, .dbf, .prj and .cpg files of the same name together and upload the .zip"),
    ".prj": ("只有 .prj 坐标系文件，缺少 Shapefile 的其他部分", "only the .prj file of a Shapefile was given",
             "把同名的 .shp、.shx、.dbf、.prj、.cpg 一起压缩成 .zip 上传",
             "zip the .shp, .shx, .dbf, .prj and .cpg files of the same name together and upload the .zip"),
    ".rar": ("RAR 压缩包不受支持", "RAR archives are not supported", "解压后重新压缩为 .zip",
             "unpack it and zip it again as .zip"),
    ".7z": ("7z 压缩包不受支持", "7z archives are not supported", "解压后重新压缩为 .zip",
            "unpack it and zip it again as .zip"),
}
_SHP_FIX_ZH = "把同名的 .shp、.shx、.dbf（以及 .prj、.cpg）放在一起压缩成 .zip 后上传"
_SHP_FIX_EN = "zip the .shp, .shx and .dbf files of the same name (and the .prj and .cpg) together and upload the .zip"


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str) -> LayerError:
    return LayerError(problem(zh, en, fix_zh, fix_en, file=source))


def _suffix(path: Path, display_name: str | None) -> str:
    """File type from the path, or from the display name when the upload's temp name has none."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED and display_name:
        alt = Path(display_name).suffix.lower()
        if alt in SUPPORTED or alt in _HINTS:
            return alt
    return suffix


def _clean_message(exc: BaseException, paths: list[Path], source: str) -> str:
    """Exception text with server paths replaced by the display name."""
    text = str(exc)
    for p in sorted({str(x) for q in paths for x in (q, q.resolve(), q.parent)}, key=len, reverse=True):
        if p and p not in (".", "/"):
            text = text.replace(p, source)
    return text.strip()


# ---- pyogrio ---------------------------------------------------------------------------------

def _ogr_read(path: Path, source: str, **kwargs) -> gpd.GeoDataFrame:
    """pyogrio.read_dataframe with GDAL errors turned into a LayerError.

    Text that does not decode with the given encoding (default UTF-8) is read again as GBK/GB18030
    (or UTF-8 when GB18030 was given), with a warning in ``attrs["warnings"]``.
    """
    first = kwargs.pop("encoding", None)
    second = "utf-8" if first and codecs.lookup(first).name != "utf-8" else "gb18030"
    for encoding in (first, second):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", UserWarning)
                # a geometry GEOS cannot build (a one-point line) becomes a missing geometry, reported
                # by validation with its feature number
                gdf = pyogrio.read_dataframe(path, encoding=encoding, on_invalid="ignore", **kwargs)
        except UnicodeDecodeError:
            continue
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
                pyogrio.errors.GeometryError, pyogrio.errors.FeatureError, shapely.errors.GEOSException,
                RuntimeError, ValueError, OSError) as exc:
            raise _fail("文件无法读取，可能已损坏或格式不对",
                        f"the file cannot be read; it may be damaged or not what its name says "
                        f"({_clean_message(exc, [path], source)})",
                        "在 GIS 软件中打开检查后重新导出", "open it in a GIS, check it and export it again",
                        source) from None
        if encoding is second:
            said = f"（{first.upper()}）" if first else "（UTF-8）"
            gdf.attrs["warnings"] = [Text(
                f"{source}：文字不是声明的编码{said}，已按 {second.upper()} 读取，请核对中文是否正确",
                f"{source}: the text is not in the declared encoding {said.strip('（）')}; read as "
                f"{second.upper()}, check that the Chinese text looks right", "encoding_guessed")]
        return gdf
    raise _fail("属性表的文字编码无法识别（不是 UTF-8，也不是 GBK）",
                "the text encoding of the attributes is not recognised (neither UTF-8 nor GBK)",
                "在 GIS 软件中另存为 UTF-8 编码", "save it in a GIS with UTF-8 encoding", source)


def _gpkg_layers(path: Path, source: str) -> tuple[list[str], list[str]]:
    """(spatial layer names, all table names) of a GeoPackage."""
    try:
        with warnings.catch_warnings():  # GDAL's note on the temporary name's missing .gpkg extension
            warnings.simplefilter("ignore", RuntimeWarning)
            info = pyogrio.list_layers(path)
    except (pyogrio.errors.DataSourceError, RuntimeError, OSError) as exc:
        raise _fail("GeoPackage 无法打开，可能已损坏", f"the GeoPackage cannot be opened; it may be damaged "
                    f"({_clean_message(exc, [path], source)})", "在 GIS 软件中打开检查后重新导出",
                    "open it in a GIS, check it and export it again", source) from None
    every = [str(n) for n, _ in info]
    spatial = [str(n) for n, g in info if g is not None]
    return spatial, every


def _read_gpkg(path: Path, sublayer: str | None, source: str) -> gpd.GeoDataFrame:
    spatial, every = _gpkg_layers(path, source)
    if sublayer is None:
        if not spatial:
            raise _fail("GeoPackage 中没有矢量图层", "the GeoPackage holds no vector layer",
                        "检查导出的图层是否包含几何", "check that the exported layer has geometry", source)
        if len(spatial) > 1:
            raise _fail(f"GeoPackage 中有 {len(spatial)} 个图层，请选择一个：{'、'.join(spatial)}",
                        f"the GeoPackage holds {len(spatial)} layers; choose one: {', '.join(spatial)}",
                        "在导入时选择图层", "choose the layer when importing", source)
        sublayer = spatial[0]
    elif sublayer not in every:
        raise _fail(f"GeoPackage 中没有图层“{sublayer}”；现有图层：{'、'.join(spatial) or '（无）'}",
                    f"the GeoPackage has no layer '{sublayer}'; layers: {', '.join(spatial) or '(none)'}",
                    "从列表中选择图层", "choose one of the listed layers", source)
    elif sublayer not in spatial:
        raise _fail(f"GeoPackage 中的“{sublayer}”是属性表，没有几何", f"'{sublayer}' in the GeoPackage is a table "
                    "without geometry", "选择带几何的图层", "choose a layer with geometry", source)
    return _ogr_read(path, source, layer=sublayer)


def _read_geojson(path: Path, source: str) -> gpd.GeoDataFrame:
    gdf = _ogr_read(path, source)
    if gdf.crs is not None and gdf.crs.to_epsg() == 4326:
        with open(path, "rb") as fh:
            head = fh.read(1024 * 1024)
        if b'"crs"' not in head:
            # GDAL assumes WGS84 for GeoJSON without a "crs" member (RFC 7946): implied, not declared
            gdf.attrs["crs_implied"] = True
            if len(gdf) and not gdf.geometry.isna().all():
                minx, miny, maxx, maxy = gdf.total_bounds
                if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
                    gdf = gdf.set_crs(None, allow_override=True)   # these numbers are not degrees
                    gdf.attrs.pop("crs_implied", None)
    return gdf


# ---- shapefile -------------------------------------------------------------------------------

def _cpg_encoding(text: str) -> str | None:
    """Python codec named by a .cpg file, or None when it says nothing usable ("System", "ANSI")."""
    t = re.sub(r"[\s_\-]", "", text).lower()
    if t in ("utf8", "65001", "utf8bom", "unicode"):
        return "utf-8"
    if t in ("gbk", "936", "cp936", "gb2312", "gb18030", "ansi936", "ms936", "windows936", "euccn", "54936",
             "88591936"):
        return "gb18030"
    if t in ("big5", "950", "cp950"):
        return "big5"
    if t.isdigit():
        t = f"cp{t}"
    try:
        return codecs.lookup(t).name
    except (LookupError, ValueError):   # ValueError: a NUL byte in the .cpg
        return None


def _utf8_value(value: bytes) -> bool:
    """Strict UTF-8, allowing a last character cut by the field width."""
    for cut in range(4):
        try:
            (value[: len(value) - cut] if cut else value).decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def _dbf_samples(dbf: Path) -> list[bytes]:
    """Non-ASCII field names and values from the first records of a .dbf (empty if unreadable)."""
    out: list[bytes] = []
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return out
        n_rec = int.from_bytes(head[4:8], "little")
        hlen = int.from_bytes(head[8:10], "little")
        rlen = int.from_bytes(head[10:12], "little")
        desc = fh.read(max(0, hlen - 32))
        widths = []
        for i in range(0, len(desc) - 31, 32):
            d = desc[i: i + 32]
            if d[0] == 0x0D:
                break
            name = d[:11].split(b"\x00", 1)[0]
            if any(b > 127 for b in name):
                out.append(name)
            widths.append(d[16])
        if rlen <= 0 or not widths:
            return out
        fh.seek(hlen)
        body = fh.read(min(n_rec * rlen, _DBF_SCAN_BYTES))
    for start in range(0, len(body) - rlen + 1, rlen):
        rec = body[start: start + rlen]
        pos = 1
        for w in widths:
            v = rec[pos: pos + w].rstrip(b" \x00")
            pos += w
            if any(b > 127 for b in v):
                out.append(v.lstrip(b" "))
    return out


def _detect_encoding(dbf: Path) -> str:
    """'utf-8' when every non-ASCII value decodes as strict UTF-8, else 'gb18030' (GBK superset)."""
    try:
        samples = _dbf_samples(dbf)
    except OSError:
        return "utf-8"
    if all(_utf8_value(v) for v in samples):
        return "utf-8"
    return "gb18030"


def _sidecar(shp: Path, ext: str) -> Path | None:
    """The file beside ``shp`` with extension ``ext`` (any case)."""
    for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if cand.exists():
            return cand
    stem = shp.stem.lower()
    for cand in shp.parent.iterdir():
        if cand.stem.lower() == stem and cand.suffix.lower() == ext:
            return cand
    return None


def _read_shapefile(shp: Path, source: str) -> gpd.GeoDataFrame:
    missing = [ext for ext in (".shx", ".dbf") if _sidecar(shp, ext) is None]
    if missing:
        raise LayerError([problem(
            f"Shapefile 缺少 {ext} 文件" + ("（属性表）" if ext == ".dbf" else "（索引）"),
            f"the Shapefile is missing its {ext} file" + (" (attribute table)" if ext == ".dbf" else " (index)"),
            _SHP_FIX_ZH, _SHP_FIX_EN, file=source) for ext in missing])
    cpg = _sidecar(shp, ".cpg")
    encoding = _cpg_encoding(cpg.read_bytes().decode("ascii", errors="ignore")) if cpg is not None else None
    if encoding is None:
        encoding = _detect_encoding(_sidecar(shp, ".dbf"))  # type: ignore[arg-type]
    return _ogr_read(shp, source, encoding=encoding)


def _member_name(info: zipfile.ZipInfo) -> str:
    """Member name, repairing GBK names stored without the UTF-8 flag (Chinese Windows zips)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("gb18030")
    return name


def _zip_members(zf: zipfile.ZipFile, source: str) -> dict[str, zipfile.ZipInfo]:
    """Safe member names -> info; any absolute or escaping path rejects the archive."""
    limits.check_zip(zf, source)
    bad: list[Problem] = []
    members: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = _member_name(info)
        why = limits.zip_member_unsafe(info, name)
        if why == "symlink":
            bad.append(problem(f"压缩包中的“{name}”是符号链接，整个压缩包不予解压",
                               f"the member '{name}' is a symbolic link; the archive is refused",
                               "只压缩数据文件本身（不要包含链接）后重新上传",
                               "zip only the data files themselves (no links) and upload again", file=source))
            continue
        if why is not None:
            bad.append(problem(f"压缩包中的“{name}”路径不安全（绝对路径或含 ..），整个压缩包不予解压",
                               f"the member '{name}' has an unsafe path (absolute or containing ..); the archive "
                               "is refused", "只压缩数据文件本身（不要包含上级目录）后重新上传",
                               "zip only the data files (no parent folders) and upload again", file=source))
            continue
        if info.is_dir() or name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._"):
            continue
        members[name.replace("\\", "/")] = info
    if bad:
        raise LayerError(bad)
    return members


def _open_zip(path: Path, source: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise _fail("压缩包无法打开（已损坏或不是 .zip）",
                    f"the archive cannot be opened (damaged or not a .zip: {type(exc).__name__})",
                    "重新压缩为 .zip 后上传", "zip the files again and upload", source) from None


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, source: str,
             budget: int | None = None) -> int:
    """Unpack one member to ``target`` (a fixed name) within a byte budget; bytes written."""
    try:
        with open(target, "wb") as dst:
            return limits.copy_member(zf, info, dst, source, budget=budget)
    except LayerError:
        raise
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError,
            zlib.error) as exc:
        raise _fail(f"无法解压“{_member_name(info)}”（压缩包损坏或加密）",
                    f"cannot unpack '{_member_name(info)}' (damaged or encrypted archive: {type(exc).__name__})",
                    "去掉密码后重新压缩为 .zip", "zip the files again without a password", source) from None


def _shapefiles_in(members: dict[str, zipfile.ZipInfo]) -> dict[str, str]:
    """Shapefile stem (member path without .shp) -> .shp member name."""
    return {name[:-4]: name for name in members if name.lower().endswith(".shp")}


def _read_zip(path: Path, sublayer: str | None, source: str) -> gpd.GeoDataFrame:
    with _open_zip(path, source) as zf:
        members = _zip_members(zf, source)
        shps = _shapefiles_in(members)
        if not shps:
            others = [n for n in members if PurePosixPath(n).suffix.lower() in _ZIP_VECTOR]
            if len(others) == 1:
                return _read_inner(zf, members[others[0]], others[0], sublayer, source)
            if others:
                raise _fail(f"压缩包中有多个数据文件：{'、'.join(others)}；请分别上传",
                            f"the archive holds several data files: {', '.join(others)}; upload them one by one",
                            "每个压缩包只放一个图层", "put one layer in each archive", source)
            listed = "、".join(members) or "（空）"
            raise _fail(f"压缩包中没有 Shapefile（.shp）；内容：{listed}",
                        f"the archive holds no Shapefile (.shp); contents: {', '.join(members) or '(empty)'}",
                        _SHP_FIX_ZH, _SHP_FIX_EN, source)
        if sublayer is None:
            if len(shps) > 1:
                names = [PurePosixPath(s).name for s in shps]
                raise _fail(f"压缩包中有 {len(shps)} 个 Shapefile，请选择一个：{'、'.join(names)}",
                            f"the archive holds {len(shps)} Shapefiles; choose one: {', '.join(names)}",
                            "在导入时选择图层，或每个压缩包只放一个 Shapefile",
                            "choose the layer when importing, or put one Shapefile in each archive", source)
            stem = next(iter(shps))
        else:
            hits = [s for s in shps if s == sublayer or PurePosixPath(s).name == sublayer]
            if not hits:
                names = [PurePosixPath(s).name for s in shps]
                raise _fail(f"压缩包中没有 Shapefile“{sublayer}”；现有：{'、'.join(names)}",
                            f"the archive has no Shapefile '{sublayer}'; it holds: {', '.join(names)}",
                            "从列表中选择图层", "choose one of the listed layers", source)
            stem = hits[0]
        parts = {}
        lower = {n.lower(): n for n in members}
        for ext in _SHP_PARTS:
            name = lower.get(stem.lower() + ext)
            if name is not None:
                parts[ext] = members[name]
        missing = [ext for ext in (".shx", ".dbf") if ext not in parts]
        shown = f"{source}/{PurePosixPath(stem).name}.shp"
        if missing:
            raise LayerError([problem(
                f"压缩包中的 Shapefile 缺少 {ext} 文件" + ("（属性表）" if ext == ".dbf" else "（索引）"),
                f"the Shapefile in the archive is missing its {ext} file"
                + (" (attribute table)" if ext == ".dbf" else " (index)"),
                _SHP_FIX_ZH, _SHP_FIX_EN, file=shown) for ext in missing])
        with tempfile.TemporaryDirectory(prefix="layer_zip_") as tmp:
            budget = limits.MAX_UNZIPPED_BYTES
            for ext, info in parts.items():
                budget -= _extract(zf, info, Path(tmp) / f"layer{ext}", source, budget)
            return _numbered(_read_shapefile(Path(tmp) / "layer.shp", source))


def _read_inner(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, sublayer: str | None,
                source: str) -> gpd.GeoDataFrame:
    """A single GeoPackage/GeoJSON/KML/table inside a zip."""
    suffix = PurePosixPath(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="layer_zip_") as tmp:
        target = Path(tmp) / f"layer{suffix}"
        _extract(zf, info, target, source)
        return _dispatch(target, suffix, sublayer, f"{source}/{PurePosixPath(name).name}")


# ---- public ----------------------------------------------------------------------------------

def list_sublayers(path: Path, *, display_name: str | None = None) -> list[str]:
    """Names a file offers as ``sublayer`` of :func:`read_vector`.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    display_name : str, optional
        What messages call the file.

    Returns
    -------
    list of str
        Spatial layers of a GeoPackage, folder paths of a KML/KMZ (``"水源点/水库"``), worksheets
        of an XLSX, Shapefiles of a zip holding more than one; ``[]`` otherwise.

    Raises
    ------
    LayerError
        When the file cannot be opened.
    """
    path = Path(path)
    source = display_name or path.name
    suffix = _suffix(path, display_name)
    if not path.exists():
        raise _fail("文件不存在", "the file does not exist", "重新选择文件", "choose the file again", source)
    if suffix == ".gpkg":
        return _gpkg_layers(path, source)[0]
    if suffix in (".kml", ".kmz"):
        return kml.list_folders(path, display_name=source)
    if suffix == ".xlsx":
        return tabular.list_sheets(path, display_name=source, data_first=True)
    if suffix == ".zip":
        with _open_zip(path, source) as zf:
            shps = _shapefiles_in(_zip_members(zf, source))
        return [PurePosixPath(s).name for s in shps] if len(shps) > 1 else []
    return []


def _numbered(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``_row`` = 1-based feature number (a ``_row`` column of the file becomes ``_row_file``)."""
    if "_row" in gdf.columns:
        gdf = gdf.rename(columns={"_row": "_row_file"})
    gdf["_row"] = range(1, len(gdf) + 1)
    return gdf


_MAGIC = {
    ".gpkg": ((b"SQLite format 3\x00",), "GeoPackage"),
    ".shp": ((b"\x00\x00\x27\x0a",), "Shapefile (.shp)"),
    ".zip": ((b"PK\x03\x04", b"PK\x05\x06"), "zip"),
}


def _sniff(path: Path, suffix: str, source: str) -> None:
    """Refuse a file whose first bytes are not what its type promises.

    GDAL opens whatever it recognises, whatever the name: a "GeoPackage" that is really a VRT could
    make it read other files on the server or the network. Only the expected format gets through.
    """
    with open(path, "rb") as fh:
        head = fh.read(64)
    if suffix in _MAGIC:
        magics, what = _MAGIC[suffix]
        ok = head.startswith(magics)
    elif suffix in (".geojson", ".json"):
        what = "GeoJSON"
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        ok = text.startswith(b"{")
    else:
        return
    if not ok:
        raise _fail(f"文件内容不是 {what} 格式（可能改过扩展名或已损坏）",
                    f"the content is not {what} (renamed from another format, or damaged)",
                    "用 GIS 软件重新导出为正确的格式", "export it again from a GIS in the right format", source)


def _dispatch(path: Path, suffix: str, sublayer: str | None, source: str,
              defer_rows: bool = False) -> gpd.GeoDataFrame:
    _sniff(path, suffix, source)
    if suffix == ".gpkg":
        return _numbered(_read_gpkg(path, sublayer, source))
    if suffix in (".geojson", ".json"):
        return _numbered(_read_geojson(path, source))
    if suffix == ".zip":
        return _read_zip(path, sublayer, source)
    if suffix == ".shp":
        return _numbered(_read_shapefile(path, source))
    if suffix in (".kml", ".kmz"):
        return kml.read_kml(path, folder=sublayer, display_name=source)
    if suffix in (".csv", ".xlsx"):
        return tabular.read_table(path, sublayer=sublayer, display_name=source, file_type=suffix,
                                  defer_rows=defer_rows)
    raise AssertionError(suffix)  # pragma: no cover - guarded by read_vector


def read_vector(path: Path, *, sublayer: str | None = None, display_name: str | None = None,
                defer_rows: bool = False) -> gpd.GeoDataFrame:
    """Read a vector layer from any supported file.

    Parameters
    ----------
    path : pathlib.Path
        GeoPackage, GeoJSON, zipped Shapefile (or bare ``.shp`` beside its parts), KML/KMZ, CSV or
        XLSX with coordinate columns.
    sublayer : str, optional
        GeoPackage layer, KML folder path, XLSX sheet, or Shapefile name in a zip (see
        :func:`list_sublayers`). Required for a GeoPackage with several layers.
    display_name : str, optional
        What messages call the file (uploads arrive under temp names); default ``path.name``.
    defer_rows : bool
        CSV/XLSX: rows with bad coordinates get an empty geometry and their problems go to
        ``attrs["row_problems"]`` instead of raising (see :func:`layers.tabular.read_table`).

    Returns
    -------
    geopandas.GeoDataFrame
        The file's own columns as written, ``geometry`` (2-D), ``_row`` (spreadsheet/CSV line
        number, or 1-based feature/placemark number), ``attrs["source"]`` and
        ``attrs["warnings"]`` (list of :class:`~layers.text.Text`). The CRS is the file's, or None when the file
        carries none (then call :func:`layers.crs.resolve_crs`).

    Raises
    ------
    LayerError
        Unsupported or unreadable file, a raster, missing Shapefile parts, unsafe zip, several
        layers and none chosen, bad coordinates (every problem listed with file, row and field).
    """
    path = Path(path)
    source = display_name or path.name
    suffix = _suffix(path, display_name)
    if suffix in RASTER_SUFFIXES:
        raise _fail("这是栅格文件（GeoTIFF），不是矢量图层", "this is a raster (GeoTIFF), not a vector layer",
                    "在高程、水深或森林等栅格图层处导入", "import it as a raster layer (DEM, flood depth, forest)",
                    source)
    if suffix in _HINTS:
        zh, en, fix_zh, fix_en = _HINTS[suffix]
        raise _fail(zh, en, fix_zh, fix_en, source)
    if suffix not in SUPPORTED:
        kinds = sorted(SUPPORTED - RASTER_SUFFIXES)
        raise _fail(f"不支持的文件类型“{suffix or '（无扩展名）'}”；支持：{'、'.join(kinds)}",
                    f"unsupported file type '{suffix or '(no extension)'}'; supported: {', '.join(kinds)}",
                    "另存为支持的格式（如 .xlsx、.zip 压缩的 Shapefile、.kmz、.gpkg）",
                    "save it in a supported format (e.g. .xlsx, zipped Shapefile, .kmz, .gpkg)", source)
    if not path.exists():
        raise _fail("文件不存在", "the file does not exist", "重新选择文件", "choose the file again", source)
    gdf = _dispatch(path, suffix, sublayer, source, defer_rows)
    return _finish(gdf, source)


def _finish(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Common post-processing: non-empty, 2-D geometry, ``_row`` and attrs."""
    if len(gdf) == 0:
        raise _fail("图层中没有任何要素", "the layer holds no features", "检查导出的是否为正确的图层",
                    "check that the right layer was exported", source)
    warnings_ = list(gdf.attrs.get("warnings", []))
    kept = {k: gdf.attrs[k] for k in ("row_problems", "crs_assumed", "crs_implied", "coordinate_columns")
            if k in gdf.attrs}
    if gdf.geometry.has_z.any():
        gdf = gdf.set_geometry(gpd.GeoSeries(shapely.force_2d(gdf.geometry.values), index=gdf.index,
                                             crs=gdf.crs), crs=gdf.crs)
    gdf = gdf.reset_index(drop=True)
    gdf.attrs["source"] = source
    gdf.attrs["warnings"] = warnings_
    gdf.attrs.update(kept)
    return gdf
