"""Which raster files are accepted and how each is opened safely: GeoTIFF, ArcInfo ASCII, ERDAS
Imagine, VRT, SRTM ``.hgt`` (zipped too), netCDF, and any of them in a zip.

Every format is opened with its own GDAL driver only, after its first bytes were checked against it
(GDAL opens whatever it recognises, whatever the name: a VRT renamed ``.tif`` could point it at other
files on the server or the network). A ``.vrt`` is read as XML first: its sources must be plain local
files -- no ``/vsi...`` path, no URL, no inline VRT, no pixel-function code -- and, for an uploaded
file (``local=False``), relative paths inside the VRT's own folder (a zip that holds the VRT and its
tiles). An SRTM tile's position is its name (``N42E001.hgt``), so an upload stored under a temporary
name is read under its own (checked) name; its CRS is EPSG:4326 by definition. A zip is checked for
bombs and unsafe paths (:mod:`layers.limits`) before anything in it is unpacked, and a ``.hgt.zip``
is read in place through ``/vsizip/``.

:func:`raster_suffix` and :func:`is_raster_file` tell a raster from a vector file by name (and, for
a zip, by what it holds); :func:`open_raster` yields the open dataset.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import rasterio
import rasterio.errors

from layers import limits
from layers.errors import LayerError, problem
from layers.text import Text

__all__ = ["RASTER_SUFFIXES", "RASTER_FORMATS", "UPLOAD_RASTER_TYPES", "raster_suffix", "is_raster_file",
           "open_raster", "formats_text"]

#: suffix -> (GDAL driver, what people call it)
RASTER_FORMATS: dict[str, tuple[str, str]] = {
    ".tif": ("GTiff", "GeoTIFF"), ".tiff": ("GTiff", "GeoTIFF"),
    ".asc": ("AAIGrid", "ArcInfo ASCII (.asc)"),
    ".img": ("HFA", "ERDAS Imagine (.img)"),
    ".vrt": ("VRT", "GDAL VRT (.vrt)"),
    ".hgt": ("SRTMHGT", "SRTM (.hgt)"),
    ".nc": ("netCDF", "netCDF (.nc)"),
}
#: suffixes of raster files (``.hgt.zip`` and zips holding a raster are told by :func:`raster_suffix`)
RASTER_SUFFIXES = frozenset(RASTER_FORMATS)
#: what a file uploader takes for a raster: every suffix the readers open, and ``zip`` (``.hgt.zip``, an ``.asc``
#: with its ``.prj``, a VRT with its tiles) -- every raster upload of the app takes this list
UPLOAD_RASTER_TYPES = [*(s.lstrip(".") for s in RASTER_FORMATS), "zip"]

_DRIVERS_OPENED = {"GTiff": ("GTiff", "COG"), "AAIGrid": ("AAIGrid",), "HFA": ("HFA",), "VRT": ("VRT",),
                   "SRTMHGT": ("SRTMHGT",), "netCDF": ("netCDF",)}
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_NC_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")
_ASC_KEYS = ("ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter", "cellsize", "nodata_value")
_HGT_NAME = re.compile(r"^[NS]\d{2}[EW]\d{3}\.hgt$", re.IGNORECASE)
_HGT_SIZES = {1201 * 1201 * 2, 3601 * 3601 * 2, 1801 * 3601 * 2}
_VRT_DEPTH = 4
_GDAL_ENV = {"GDAL_VRT_ENABLE_PYTHON": "NO", "GDAL_HTTP_TIMEOUT": "1", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".none"}


def formats_text() -> Text:
    """The accepted raster formats, for messages and upload labels (unpacks as Chinese, English)."""
    names = "GeoTIFF（.tif）、.asc、.img、.vrt、SRTM .hgt / .hgt.zip、.nc"
    return Text(names, names.replace("（", " (").replace("）", ")").replace("、", ", "), "raster_formats")


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str) -> LayerError:
    return LayerError(problem(zh, en, fix_zh, fix_en, file=source))


def raster_suffix(path: Path | str, display_name: str | None = None) -> str | None:
    """The raster type of a file by its name: a key of :data:`RASTER_FORMATS`, ``".hgt.zip"``, or None.

    The display name decides when the stored name (an upload's temporary name) says nothing.
    """
    for name in (str(display_name or ""), Path(path).name):
        low = name.lower()
        if low.endswith(".hgt.zip"):
            return ".hgt.zip"
        suffix = PurePosixPath(low).suffix
        if suffix in RASTER_FORMATS:
            return suffix
    return None


def _zip_rasters(names: list[str]) -> list[str]:
    return [n for n in names if PurePosixPath(n.lower()).suffix in RASTER_FORMATS
            and not PurePosixPath(n).name.startswith("._") and not n.startswith("__MACOSX/")]


def is_raster_file(path: Path | str, display_name: str | None = None) -> bool:
    """Whether a file holds a raster: by its name, or a zip that holds a raster and no Shapefile."""
    if raster_suffix(path, display_name) is not None:
        return True
    name = str(display_name or Path(path).name).lower()
    if not (name.endswith(".zip") or Path(path).suffix.lower() == ".zip"):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return False
    vector = any(PurePosixPath(n.lower()).suffix in (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv",
                                                     ".xlsx") for n in names)
    return bool(_zip_rasters(names)) and not vector


def _check_magic(path: Path, suffix: str, source: str) -> None:
    """Refuse a file whose first bytes are not the format its name promises."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    fix_zh, fix_en = Text("用 GIS 软件另存为 GeoTIFF（.tif）后重新上传",
                          "save it as GeoTIFF (.tif) in a GIS and upload again", "fix_save_geotiff")
    if suffix in (".tif", ".tiff"):
        if head[:4] not in _TIFF_MAGIC:
            raise _fail("无法读取栅格文件：不是 GeoTIFF（文件开头没有 TIFF 标记，可能改过扩展名）",
                        "cannot read the raster: not a GeoTIFF (the file does not start with a TIFF signature; "
                        "renamed from another format?)", fix_zh, fix_en, source)
        return
    what = RASTER_FORMATS[suffix][1]
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    ok = {".asc": text.startswith(tuple(k.encode() for k in _ASC_KEYS)),
          ".img": head.startswith(b"EHFA_HEADER_TAG"),
          ".vrt": text.startswith(b"<vrtdataset"),
          ".nc": head.startswith(_NC_MAGIC),
          ".hgt": path.stat().st_size in _HGT_SIZES}[suffix]
    if not ok:
        extra_zh = "（SRTM 瓦片应为 1201×1201 或 3601×3601 个 16 位整数）" if suffix == ".hgt" else ""
        extra_en = " (an SRTM tile is 1201 x 1201 or 3601 x 3601 16-bit integers)" if suffix == ".hgt" else ""
        raise _fail(f"无法读取栅格文件：内容不是 {what} 格式{extra_zh}（可能改过扩展名或已损坏）",
                    f"cannot read the raster: the content is not {what}{extra_en} (renamed from another format, "
                    "or damaged)", fix_zh, fix_en, source)


def _check_vrt(path: Path, source: str, *, local: bool, root: Path, depth: int = 0) -> None:
    """Refuse a VRT that reaches beyond plain local files (or, for an upload, beyond its own folder)."""
    fix_zh = ("用 GIS 软件把 VRT 另存为 GeoTIFF（.tif）后导入，"
              "或把 VRT 与它引用的影像文件一起压缩为 .zip（使用相对路径）")
    fix_en = ("save the VRT as a GeoTIFF (.tif) in a GIS and import that, or zip the VRT with the files it uses "
              "(relative paths)")
    if depth > _VRT_DEPTH:
        raise _fail("VRT 嵌套层数过多", "the VRT nests too many VRTs", fix_zh, fix_en, source)
    text = path.read_bytes()[: 16 * 1024 * 1024]
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
        raise _fail("VRT 文件含有 DTD 声明，不予读取", "the VRT declares a DTD; it is not read", fix_zh, fix_en, source)
    try:
        root_el = ET.fromstring(text)
    except ET.ParseError:
        raise _fail("VRT 文件不是有效的 XML", "the VRT is not valid XML", fix_zh, fix_en, source) from None
    for el in root_el.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("PixelFunctionCode",) or el.get("PixelFunctionLanguage") or tag == "PixelFunctionLanguage":
            raise _fail("VRT 中含有像元函数代码，不予读取", "the VRT holds pixel-function code; it is not read",
                        fix_zh, fix_en, source)
        if tag != "SourceFilename":
            continue
        name = (el.text or "").strip()
        low = name.lower()
        if not name or low.startswith(("/vsi", "<")) or "://" in low or low.startswith(("http", "ftp")) \
                or ":" in PurePosixPath(name).name:
            raise _fail(f"VRT 引用了“{name[:80]}”：只接受本地文件",
                        f"the VRT refers to '{name[:80]}': only local files are accepted", fix_zh, fix_en, source)
        relative = el.get("relativeToVRT", "0") == "1"
        target = (path.parent / name) if relative else Path(name)
        if not local:
            if not relative or ".." in PurePosixPath(name.replace("\\", "/")).parts:
                raise _fail(f"上传的 VRT 引用了“{name[:80]}”：只接受与 VRT 放在一起的相对路径文件",
                            f"the uploaded VRT refers to '{name[:80]}': only files beside it (relative paths) are "
                            "accepted", fix_zh, fix_en, source)
            try:
                target.resolve().relative_to(root.resolve())
            except ValueError:
                raise _fail(f"上传的 VRT 引用了文件夹之外的“{name[:80]}”", f"the uploaded VRT refers to '{name[:80]}' "
                            "outside its folder", fix_zh, fix_en, source) from None
        if not target.is_file():
            raise _fail(f"VRT 引用的文件“{PurePosixPath(name).name}”不存在",
                        f"the file '{PurePosixPath(name).name}' the VRT refers to does not exist",
                        fix_zh, fix_en, source)
        sub = raster_suffix(target)
        if sub == ".vrt":
            _check_vrt(target, source, local=local, root=root, depth=depth + 1)
        elif sub in RASTER_FORMATS:
            _check_magic(target, sub, f"{source}/{target.name}")
        elif not local:
            raise _fail(f"上传的 VRT 引用了不受支持的文件“{target.name}”", f"the uploaded VRT refers to an "
                        f"unsupported file '{target.name}'", fix_zh, fix_en, source)


def _open(target: str, driver: str, source: str, fmt: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(target, driver=driver)
    except (rasterio.errors.RasterioIOError, rasterio.errors.RasterioError, OSError) as exc:
        text = str(exc).replace(target, source)[:200]
        raise _fail(f"无法读取栅格文件：不是可识别的 {fmt} 或文件已损坏",
                    f"cannot read the raster: not a recognisable {fmt}, or the file is damaged ({text})",
                    "用 GIS 软件另存为 GeoTIFF（.tif）后重新上传",
                    "save it as GeoTIFF (.tif) in a GIS and upload again", source) from None
    if src.driver not in _DRIVERS_OPENED[driver]:
        src.close()
        raise _fail(f"不是 {fmt} 文件（格式为 {src.driver}）", f"not a {fmt} (format {src.driver})",
                    "用 GIS 软件另存为 GeoTIFF（.tif）", "save it as GeoTIFF (.tif) in a GIS", source)
    return src


def _netcdf_variable(src, target: str, sublayer: str | None, source: str):
    """A netCDF with several variables opens as a list of subdatasets: open the chosen (or only) one."""
    subs = list(src.subdatasets)
    names = [s.rsplit(":", 1)[-1] for s in subs]
    src.close()
    if sublayer is not None:
        hits = [s for s, n in zip(subs, names) if n == sublayer]
        if not hits:
            raise _fail(f"netCDF 中没有变量“{sublayer}”；现有：{'、'.join(names)}",
                        f"the netCDF has no variable '{sublayer}'; it holds: {', '.join(names)}",
                        "选择其中一个变量", "choose one of the variables", source)
        pick = hits[0]
    elif len(subs) == 1:
        pick = subs[0]
    else:
        raise _fail(f"netCDF 中有 {len(subs)} 个变量，请选择一个：{'、'.join(names)}",
                    f"the netCDF holds {len(subs)} variables; choose one: {', '.join(names)}",
                    "导入时选择变量（命令行 --sublayer 变量名），或把所需变量另存为 GeoTIFF",
                    "choose the variable when importing (command line: --sublayer NAME), or save it as a GeoTIFF",
                    source)
    return _open(pick, "netCDF", source, "netCDF (.nc)")


@contextlib.contextmanager
def open_raster(path: Path | str, *, source: str, display_name: str | None = None, sublayer: str | None = None,
                local: bool = False) -> Iterator[rasterio.io.DatasetReader]:
    """Open a raster file of any accepted format with its own driver only.

    Parameters
    ----------
    path : Path or str
        The file as stored (an upload's temporary name is fine: ``display_name`` tells the type).
    source : str
        What messages call the file.
    display_name : str, optional
        The user's file name (decides the type when ``path`` has none, and names an SRTM tile).
    sublayer : str, optional
        A netCDF variable, or the raster to read in a zip holding several.
    local : bool
        The file is the user's own on this machine (command line): a VRT may use any local file. An
        upload (``False``, the default) may only use files beside it.

    Yields
    ------
    rasterio.io.DatasetReader
        Closed (and any unpacked files removed) on exit.

    Raises
    ------
    LayerError
        Not an accepted format, content not matching its name, an unsafe VRT or zip, an SRTM tile
        not named like one, several rasters or variables and none chosen, or GDAL cannot read it.
    """
    path = Path(path)
    suffix = raster_suffix(path, display_name)
    name = Path(display_name).name if display_name else path.name
    with rasterio.Env(**_GDAL_ENV), contextlib.ExitStack() as stack:
        if suffix is None and (name.lower().endswith(".zip") or path.suffix.lower() == ".zip"):
            yield stack.enter_context(_open_zip_raster(path, source, sublayer, local=local))
            return
        if suffix is None:
            formats = formats_text()
            raise _fail(f"不是 GeoTIFF 或其他支持的栅格格式（文件类型“{Path(name).suffix or '无扩展名'}”）；"
                        f"支持：{formats[0]}",
                        f"not a GeoTIFF or another supported raster format (file type "
                        f"'{Path(name).suffix or 'no extension'}'); supported: {formats[1]}",
                        "另存为 GeoTIFF（.tif）", "save it as GeoTIFF (.tif)", source)
        if suffix == ".hgt.zip":
            yield stack.enter_context(_open_hgt_zip(path, source))
            return
        driver, fmt = RASTER_FORMATS[suffix]
        _check_magic(path, suffix, source)
        target = path
        if suffix == ".hgt" and not _HGT_NAME.match(path.name):
            if not _HGT_NAME.match(name):
                raise _fail(f"SRTM 瓦片的文件名应形如 N42E001.hgt（文件名即瓦片位置），现为“{name}”",
                            f"an SRTM tile must be named like N42E001.hgt (the name is its position); got '{name}'",
                            "恢复原始文件名后重新上传", "restore the tile's original name and upload again", source)
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="raster_hgt_")))
            target = tmp / name
            try:
                target.symlink_to(path.resolve())
            except OSError:
                target.write_bytes(path.read_bytes())
        if suffix == ".vrt":
            _check_vrt(path, source, local=local, root=path.parent)
        src = stack.enter_context(_open(str(target), driver, source, fmt))
        if driver == "netCDF" and src.count == 0 and src.subdatasets:
            src = stack.enter_context(_netcdf_variable(src, str(target), sublayer, source))
        yield src


@contextlib.contextmanager
def _open_hgt_zip(path: Path, source: str) -> Iterator[rasterio.io.DatasetReader]:
    """A zipped SRTM tile, read in place through ``/vsizip/``."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise _fail("压缩包无法打开（已损坏或不是 .zip）", "the archive cannot be opened (damaged or not a .zip)",
                    "重新压缩为 .zip 后上传", "zip the files again and upload", source) from None
    with zf:
        limits.check_zip(zf, source)
        tiles = [i for i in zf.infolist() if _HGT_NAME.match(PurePosixPath(i.filename).name)
                 and limits.zip_member_unsafe(i) is None]
        if len(tiles) != 1:
            raise _fail(f"压缩包中应有一个 SRTM 瓦片（如 N42E001.hgt），找到 {len(tiles)} 个",
                        f"the archive should hold one SRTM tile (e.g. N42E001.hgt); found {len(tiles)}",
                        "每个 .hgt.zip 只放一个瓦片", "put one tile in each .hgt.zip", source)
        info = tiles[0]
        if info.file_size not in _HGT_SIZES:
            raise _fail("压缩包中的 SRTM 瓦片大小不对（应为 1201×1201 或 3601×3601 个 16 位整数）",
                        "the SRTM tile in the archive has the wrong size (1201 x 1201 or 3601 x 3601 16-bit integers)",
                        "重新下载该瓦片", "download the tile again", source)
    target = f"/vsizip/{path.resolve()}/{info.filename}"
    with _open(target, "SRTMHGT", source, "SRTM (.hgt)") as src:
        yield src


@contextlib.contextmanager
def _open_zip_raster(path: Path, source: str, sublayer: str | None, *, local: bool
                     ) -> Iterator[rasterio.io.DatasetReader]:
    """A raster zipped with its side files (``.asc`` + ``.prj``, a VRT and its tiles): unpacked safely, then read."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise _fail("压缩包无法打开（已损坏或不是 .zip）", "the archive cannot be opened (damaged or not a .zip)",
                    "重新压缩为 .zip 后上传", "zip the files again and upload", source) from None
    with zf, tempfile.TemporaryDirectory(prefix="raster_zip_") as tmp:
        limits.check_zip(zf, source)
        members = []
        for info in zf.infolist():
            if (info.is_dir() or info.filename.startswith("__MACOSX/")
                    or PurePosixPath(info.filename).name.startswith("._")):
                continue
            if limits.zip_member_unsafe(info) is not None:
                raise _fail(f"压缩包中的“{info.filename}”路径不安全（绝对路径、含 .. 或符号链接），整个压缩包不予解压",
                            f"the member '{info.filename}' has an unsafe path (absolute, containing .. or a link); "
                            "the archive is refused", "只压缩数据文件本身后重新上传",
                            "zip only the data files and upload again", source)
            members.append(info)
        rasters = _zip_rasters([i.filename for i in members])
        if sublayer is not None:
            rasters = [n for n in rasters if n == sublayer or PurePosixPath(n).name == sublayer]
        vrts = [n for n in rasters if n.lower().endswith(".vrt")]
        if len(vrts) == 1:
            rasters = vrts
        if len(rasters) != 1:
            shown = "、".join(PurePosixPath(n).name for n in rasters) or "（无）"
            raise _fail(f"压缩包中应有一个栅格文件，找到：{shown}",
                        "the archive should hold one raster; found: "
                        f"{shown.replace('、', ', ').replace('（无）', '(none)')}",
                        "每个压缩包只放一个栅格（及其 .prj 等附属文件），或导入时选择其中一个",
                        "put one raster (with its .prj and other side files) in each archive, or choose one when "
                        "importing", source)
        budget = limits.MAX_UNZIPPED_BYTES
        root = Path(tmp)
        for info in members:
            target = root / PurePosixPath(info.filename.replace("\\", "/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(target, "wb") as dst:
                    budget -= limits.copy_member(zf, info, dst, source, budget=budget)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, ValueError) as exc:
                raise _fail(f"无法解压“{info.filename}”（压缩包损坏或加密）",
                            f"cannot unpack '{info.filename}' (damaged or encrypted archive: {type(exc).__name__})",
                            "去掉密码后重新压缩为 .zip", "zip the files again without a password", source) from None
        inner = root / PurePosixPath(rasters[0])
        shown = f"{source}/{inner.name}"
        with open_raster(inner, source=shown, sublayer=None, local=False) as src:
            yield src
