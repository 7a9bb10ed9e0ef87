"""Limits on what an uploaded file may make the readers do, and the checks that enforce them.

Every reader works on files from outside the office's control, so each has a ceiling that is
checked *before* the expensive work: the upload's size, the unpacked size, member count and
compression ratio of an archive (zip, KMZ, XLSX), the cell count of a raster, the row count of a
table, and the number of problems itemised. Archives are checked twice: from the central
directory (declared sizes and ratios) before anything is unpacked, and while unpacking, against a
byte budget (declared sizes can lie). Members with absolute paths, ``..`` or symbolic links refuse
the whole archive; members are only ever written under fixed names chosen by the reader.

The limits are module constants so a deployment (or a test) can change them; the checks read
them at call time.

Limits
------
MAX_UPLOAD_MB : int
    Largest input file, from :data:`layers.settings.MAX_UPLOAD_MB` (``GIS_MAX_UPLOAD_MB``).
MAX_UNZIPPED_BYTES : int
    Largest total an archive may unpack to (2 GiB).
MAX_ZIP_MEMBERS : int
    Most members an archive may list (10 000).
MAX_ZIP_RATIO : float
    Highest compression ratio of a member larger than :data:`RATIO_FLOOR_BYTES` (600). Deflate tops
    out near 1 030 on runs of one byte, which is what bombs are made of; real data stays under 300
    (a Shapefile .dbf of mostly empty 254-character text fields, as desktop GIS writes them,
    reaches about 270).
RATIO_FLOOR_BYTES : int
    Members smaller than this (8 MiB) are not ratio-checked.
MAX_RASTER_CELLS : int
    Most ``rows * cols`` of a raster (400 million, about a 20 000 x 20 000 DEM).
MAX_RASTER_BYTES : int
    Most bytes one band may take in memory (2 GiB): a small, highly compressed GeoTIFF of 64-bit
    cells is refused before it is unpacked.
MAX_TABLE_ROWS : int
    Most data rows in a CSV/XLSX table (200 000; a prefecture's largest point table, its villages,
    is a few ten thousand rows; bigger data belongs in a GeoPackage).
MAX_TABLE_COLUMNS : int
    Most columns (1 000; a stray cell far to the right of a sheet otherwise widens every row).
MAX_TABLE_CELLS : int
    Most rows x columns (20 million).
MAX_PROBLEMS : int
    Problems itemised per reader before it stops looking (200); the total is still counted.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path
from typing import BinaryIO

from layers import settings
from layers.errors import LayerError, problem
from layers.text import Text

__all__ = ["MAX_UPLOAD_MB", "MAX_UNZIPPED_BYTES", "MAX_ZIP_MEMBERS", "MAX_ZIP_RATIO", "RATIO_FLOOR_BYTES",
           "MAX_RASTER_CELLS", "MAX_RASTER_BYTES", "MAX_TABLE_ROWS", "MAX_TABLE_COLUMNS", "MAX_TABLE_CELLS",
           "MAX_PROBLEMS", "check_upload_size", "check_zip", "copy_member", "zip_member_unsafe"]

MAX_UPLOAD_MB: int = settings.MAX_UPLOAD_MB
MAX_UNZIPPED_BYTES: int = 2 * 1024 ** 3
MAX_ZIP_MEMBERS: int = 10_000
MAX_ZIP_RATIO: float = 600.0
RATIO_FLOOR_BYTES: int = 8 * 1024 ** 2
MAX_RASTER_CELLS: int = 400_000_000
MAX_RASTER_BYTES: int = 2 * 1024 ** 3
MAX_TABLE_ROWS: int = 200_000
MAX_TABLE_COLUMNS: int = 1_000
MAX_TABLE_CELLS: int = 20_000_000
MAX_PROBLEMS: int = 200

_CHUNK = 1024 * 1024


def _mb(n: float) -> str:
    return f"{n / 1024 ** 2:,.1f} MB" if n >= 1024 ** 2 else f"{n / 1024:,.1f} KB"


def check_upload_size(path: Path, source: str, *, max_mb: float | None = None) -> None:
    """Refuse a file larger than the upload limit.

    Parameters
    ----------
    path : pathlib.Path
        The file as stored on the server.
    source : str
        What messages call it.
    max_mb : float, optional
        Limit in MB; default :data:`MAX_UPLOAD_MB`.

    Raises
    ------
    LayerError
        When the file is larger than the limit.
    """
    limit = MAX_UPLOAD_MB if max_mb is None else max_mb
    size = Path(path).stat().st_size
    if size > limit * 1024 ** 2:
        raise LayerError(problem(
            f"文件过大（{_mb(size)}），超过上传上限 {limit:g} MB",
            f"the file is too large ({_mb(size)}); the upload limit is {limit:g} MB",
            "裁剪到辖区范围、删除不需要的字段，或拆分后分别导入",
            "clip it to the jurisdiction, drop unneeded fields, or split it and import the parts", file=source))


def zip_member_unsafe(info: zipfile.ZipInfo, name: str | None = None) -> str | None:
    """Why a zip member must not be unpacked (absolute path, ``..``, symbolic link), or None.

    Parameters
    ----------
    info : zipfile.ZipInfo
        The member.
    name : str, optional
        Its decoded name (default ``info.filename``).

    Returns
    -------
    str or None
        ``"path"`` or ``"symlink"`` when unsafe.
    """
    name = info.filename if name is None else name
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts or "\x00" in name:
        return "path"
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_ISLNK(mode):
        return "symlink"
    return None


def check_zip(zf: zipfile.ZipFile, source: str, *, what_zh: str = "压缩包", what_en: str = "archive") -> None:
    """Refuse an archive whose central directory promises a zip bomb.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive (zip, KMZ or XLSX).
    source : str
        What messages call the file.
    what_zh, what_en : str
        What the archive is, for messages ("KMZ", "Excel 文件").

    Raises
    ------
    LayerError
        Too many members, a declared unpacked total above :data:`MAX_UNZIPPED_BYTES`, or a large
        member compressed more than :data:`MAX_ZIP_RATIO` times.
    """
    infos = zf.infolist()
    fix_zh, fix_en = Text("检查压缩包来源，只压缩需要的数据文件后重新上传",
                          "check where the archive came from, zip only the data files needed and upload again",
                          "fix_zip")
    if len(infos) > MAX_ZIP_MEMBERS:
        raise LayerError(problem(f"{what_zh}中有 {len(infos):,} 个文件，超过上限 {MAX_ZIP_MEMBERS:,}",
                                 f"the {what_en} lists {len(infos):,} members, more than the limit "
                                 f"{MAX_ZIP_MEMBERS:,}", fix_zh, fix_en, file=source))
    total = sum(max(0, i.file_size) for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise LayerError(problem(f"{what_zh}解压后共 {_mb(total)}，超过上限 {_mb(MAX_UNZIPPED_BYTES)}"
                                 "（疑似“压缩炸弹”）",
                                 f"the {what_en} would unpack to {_mb(total)}, more than the limit "
                                 f"{_mb(MAX_UNZIPPED_BYTES)} (possible zip bomb)", fix_zh, fix_en, file=source))
    for i in infos:
        if i.file_size > RATIO_FLOOR_BYTES and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1):
            ratio = i.file_size / max(i.compress_size, 1)
            raise LayerError(problem(
                f"{what_zh}中的“{i.filename}”压缩比异常（{ratio:,.0f} 倍，{_mb(i.compress_size)} 解压为 "
                f"{_mb(i.file_size)}），疑似“压缩炸弹”，不予解压",
                f"the member '{i.filename}' of the {what_en} is compressed {ratio:,.0f} times "
                f"({_mb(i.compress_size)} unpacking to {_mb(i.file_size)}): a likely zip bomb, not unpacked",
                fix_zh, fix_en, file=source))


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: BinaryIO, source: str, *,
                budget: int | None = None) -> int:
    """Stream one member into ``dst``, stopping when it exceeds its declared size or the budget.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The archive.
    info : zipfile.ZipInfo
        The member.
    dst : binary file
        Where the bytes go.
    source : str
        What messages call the archive.
    budget : int, optional
        Most bytes to write; default :data:`MAX_UNZIPPED_BYTES`.

    Returns
    -------
    int
        Bytes written.

    Raises
    ------
    LayerError
        When the member unpacks to more than its declared size or the budget (a lying header).
        Archive errors (damaged, encrypted) propagate as :mod:`zipfile` raises them.
    """
    limit = min(MAX_UNZIPPED_BYTES if budget is None else budget, max(info.file_size, 0))
    written = 0
    with zf.open(info) as src:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise LayerError(problem(
                    f"压缩包中的“{info.filename}”解压后超过声明的大小或上限（{_mb(limit)}），疑似“压缩炸弹”，已停止",
                    f"the member '{info.filename}' unpacks to more than its declared size or the limit "
                    f"({_mb(limit)}): a likely zip bomb; unpacking stopped",
                    "检查压缩包来源，重新压缩后上传", "check where the archive came from, zip it again and upload",
                    file=source))
            dst.write(chunk)
    return written
