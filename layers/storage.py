"""Storage faults in the workspace's own words: read-only media, permissions, a full disk, a damaged file,
a lost database connection.

Every write path of the workspace (imports, edits, undo/redo, scenarios, raster imports, exports, new
workspaces, snapshots, the PostGIS store) runs its storage work inside :func:`guard`, which turns what
the operating system, SQLite, GDAL or psycopg raise into one :class:`~layers.errors.StorageError`
saying what could not be done and why, in Chinese and English, with what to do about it:

=================  =====================================================================================
cause              raised as
=================  =====================================================================================
``read_only``      ``EROFS``; SQLite ``attempt to write a readonly database`` on a medium mounted read-only
``no_permission``  ``EACCES``/``EPERM``; SQLite ``readonly`` on a writable medium
``disk_full``      ``ENOSPC``, ``EDQUOT``, ``EFBIG`` (a file size limit); SQLite ``database or disk is full``;
                   an I/O error on a disk with no space left or at the process's file size limit
``damaged``        SQLite ``database disk image is malformed`` / ``file is not a database``
``locked``         SQLite ``database is locked`` after its busy timeout
``lost_connection``  psycopg ``OperationalError`` (the server stopped, the network went down)
``missing``        ``ENOENT`` (a removed USB stick, a deleted folder)
``io``             anything else the medium reports (``EIO``, ``disk I/O error``)
=================  =====================================================================================

When the error itself does not say (SQLite reports most write failures as a bare I/O error), the
medium is asked: :func:`os.statvfs` tells a read-only mount and a full disk, ``RLIMIT_FSIZE`` a file
size limit. Files are written beside their target under a temporary name and renamed into place
(:func:`write_atomic`, :func:`copy_atomic`), so a failure never leaves a partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from layers.errors import GisError, Problem, StorageError
from layers.text import Text

__all__ = ["WRITE", "READ", "EXPORT", "CREATE", "SNAPSHOT", "RESTORE", "EXPORT_HEADING", "classify",
           "storage_error", "guard", "write_atomic", "copy_atomic", "unlink_quietly", "medium_read_only"]

#: what was being done, as the first half of the message
WRITE = Text("工作空间无法写入", "the workspace could not be written", "ws_write")
READ = Text("工作空间无法读取", "the workspace could not be read", "ws_read")
EXPORT = Text("导出文件无法写入", "the export file could not be written", "export_write")
CREATE = Text("无法新建工作空间", "the new workspace could not be created", "ws_create")
SNAPSHOT = Text("快照无法保存", "the snapshot could not be saved", "snapshot_write")
RESTORE = Text("快照无法恢复", "the snapshot could not be restored", "snapshot_restore")

#: the heading of an export's error: the workspace itself was not touched
EXPORT_HEADING = ("导出失败，工作空间未改动：", "导出失败（{n} 处问题），工作空间未改动：",
                  "The export failed; the workspace is unchanged:",
                  "The export failed ({n} problems); the workspace is unchanged:")

#: cause -> (what happened, what to do)
CAUSES: dict[str, tuple[Text, Text]] = {
    "read_only": (Text("存储介质为只读（如写保护的 U 盘或只读挂载的共享文件夹）",
                       "the medium is read-only (a write-protected USB stick or a share mounted read-only)",
                       "read_only"),
                  Text("把工作空间复制到可写的磁盘后再打开，或取消介质的写保护",
                       "copy the workspace to a writable disk and open it there, or remove the write protection")),
    "no_permission": (Text("没有写入权限", "no permission to write", "no_permission"),
                      Text("请管理员开放该文件夹的写权限，或把工作空间复制到自己的文件夹",
                           "ask the administrator for write permission on the folder, or copy the workspace to a "
                           "folder of your own")),
    "disk_full": (Text("磁盘空间已满（或达到文件大小上限）", "the disk is full (or a file size limit was reached)",
                       "disk_full"),
                  Text("清理磁盘空间（如旧的导出文件或快照）后重试",
                       "free disk space (old exports or snapshots, for example) and try again")),
    "damaged": (Text("工作空间文件已损坏", "the workspace file is damaged", "damaged"),
                Text("在“工作空间与编辑”页恢复最近的完好快照，或运行 python -m gis restore --workspace 工作空间.gpkg",
                     "restore the last good snapshot on the Workspace page, or run python -m gis restore "
                     "--workspace WS.gpkg")),
    "locked": (Text("工作空间正被其他程序锁定", "the workspace is locked by another program", "locked"),
               Text("关闭正在写入它的其他程序（如 QGIS）后重试", "close the other program writing to it (QGIS, for "
                    "example) and try again")),
    "lost_connection": (Text("与数据库的连接中断（服务器已停止或网络断开），本次操作未生效",
                             "the connection to the database was lost (the server stopped or the network is down); "
                             "the operation did not take effect", "lost_connection"),
                        Text("检查数据库服务与网络后重试",
                             "check the database server and the network, then try again")),
    "missing": (Text("文件或文件夹已不存在（如 U 盘已拔出）", "the file or folder is gone (a USB stick removed, for "
                     "example)", "missing"),
                Text("重新插入介质或检查路径后重试", "reconnect the medium or check the path, then try again")),
    "io": (Text("磁盘读写出错（介质故障或已被拔出）", "a disk read/write error (a failing or removed medium)", "io"),
           Text("检查存储介质后重试；如反复出现，请把工作空间复制到其他磁盘",
                "check the medium and try again; if it persists, copy the workspace to another disk")),
}

#: free space below which a failed write is put down to a full disk, bytes
_NEARLY_FULL = 1 << 20


def _existing(path: Path | None) -> Path | None:
    """``path`` or its nearest existing ancestor."""
    p = Path(path) if path is not None else None
    while p is not None and not p.exists():
        if p.parent == p:
            return None
        p = p.parent
    return p


def medium_read_only(path: Path | str | None) -> bool:
    """True when ``path`` (or the folder it would be made in) is on a medium mounted read-only (None: False)."""
    p = _existing(Path(path) if path is not None else None)
    if p is None:
        return False
    try:
        return bool(os.statvfs(p).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _probe(path: Path | None) -> str | None:
    """Ask the medium why a write failed: read-only mount, no space, a file size limit, no permission."""
    p = _existing(path)
    if p is None:
        return "missing" if path is not None else None
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return "read_only"
    if st.f_bavail * st.f_frsize < _NEARLY_FULL:
        return "disk_full"
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return "disk_full"       # a file size limit is set, and the write failed: the likeliest reason
    if not os.access(p, os.W_OK):
        return "no_permission"
    return None


def classify(exc: BaseException, path: Path | str | None = None) -> str:
    """The cause of a storage failure (a key of :data:`CAUSES`).

    Parameters
    ----------
    exc : BaseException
        What the operating system, SQLite, GDAL or psycopg raised.
    path : Path, optional
        The file or folder being read or written, asked when the error does not say.
    """
    path = Path(path) if path is not None else None
    if isinstance(exc, OSError) and exc.errno is not None:
        code = exc.errno
        if code == errno.EROFS:
            return "read_only"
        if code in (errno.EACCES, errno.EPERM):
            return "read_only" if medium_read_only(path) else "no_permission"
        if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return "disk_full"
        if code in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        return _probe(path) or "io"
    text = str(exc).lower()
    module = type(exc).__module__ or ""
    if module.startswith("psycopg"):
        name = type(exc).__name__
        if name == "DiskFull":
            return "disk_full"
        if name in ("ReadOnlySqlTransaction", "InsufficientPrivilege"):
            return "no_permission"
        return "lost_connection"
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        if "readonly" in name.lower() or "readonly" in text:
            return "read_only" if medium_read_only(path) else (_probe(path) or "no_permission")
        if name.startswith("SQLITE_FULL") or "disk is full" in text:
            return "disk_full"
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
            return "damaged"
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
            return "locked"
        return _probe(path) or ("no_permission" if name.startswith("SQLITE_CANTOPEN") else "io")
    # GDAL (pyogrio) and anything else: what its message says, else the medium
    if "read-only" in text or "readonly" in text or "read only" in text:
        return "read_only" if medium_read_only(path) else "no_permission"
    if "no space" in text or "disk is full" in text or "file too large" in text:
        return "disk_full"
    if "malformed" in text or "not a database" in text:
        return "damaged"
    if "permission denied" in text:
        return _probe(path) or "no_permission"
    return _probe(path) or "io"


def _detail(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def storage_error(exc: BaseException, *, doing: Text = WRITE, path: Path | str | None = None,
                  heading: tuple[str, str, str, str] | None = None, cause: str | None = None) -> StorageError:
    """A bilingual :class:`StorageError` for ``exc``: what could not be done (``doing``), why, and what to do.

    Parameters
    ----------
    exc : BaseException
        The low-level error.
    doing : Text
        :data:`WRITE`, :data:`READ`, :data:`EXPORT`, :data:`CREATE`, :data:`SNAPSHOT` or :data:`RESTORE`.
    path : Path, optional
        The file or folder concerned (its name is shown, never the full server path).
    heading : tuple, optional
        Heading of the message (:data:`EXPORT_HEADING` for exports).
    cause : str, optional
        The cause when already known; default :func:`classify`.
    """
    cause = cause or classify(exc, path)
    what, fix = CAUSES[cause]
    name = Path(path).name if path is not None else None
    return StorageError(Problem(f"{doing.zh}：{what.zh}", f"{doing.en}: {what.en} (detail: {_detail(exc)})",
                                fix.zh, fix.en, file=name or None), heading=heading, cause=cause)


def _storage_exceptions() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [sqlite3.Error, OSError]
    try:
        import pyogrio.errors

        kinds += [pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.GeometryError,
                  pyogrio.errors.FieldError]
    except ImportError:  # pragma: no cover - pyogrio is a requirement
        pass
    try:
        import psycopg

        kinds.append(psycopg.Error)
    except ImportError:  # pragma: no cover - optional
        pass
    return tuple(kinds)


@contextlib.contextmanager
def guard(path: Path | str | None, doing: Text = WRITE, *, heading: tuple[str, str, str, str] | None = None,
          on_error: Callable[[str], None] | None = None) -> Iterator[None]:
    """Run storage work; what the medium, SQLite, GDAL or psycopg raise becomes a :class:`StorageError`.

    A :class:`~layers.errors.GisError` raised inside passes through unchanged. ``on_error(cause)`` is
    called before raising (e.g. to note that the workspace is suspect after a damaged read).
    """
    try:
        yield
    except GisError:
        raise
    except _storage_exceptions() as e:
        err = storage_error(e, doing=doing, path=path, heading=heading)
        if on_error is not None:
            on_error(err.cause)
        raise err from e


def unlink_quietly(path: Path) -> None:
    """Remove ``path`` if it exists; errors ignored (used to clean up after a failure)."""
    with contextlib.suppress(OSError):
        Path(path).unlink()


def write_atomic(path: Path | str, data: bytes, *, doing: Text = EXPORT,
                 heading: tuple[str, str, str, str] | None = EXPORT_HEADING, suffix: str = ".writing") -> None:
    """Write ``data`` to ``path`` whole or not at all: to ``path + suffix``, flushed to disk, then renamed.

    Raises
    ------
    StorageError
        The medium refused (read-only, no permission, full); the partial file is removed and ``path``
        is as it was.
    """
    path = Path(path)
    tmp = path.with_name(path.name + suffix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        unlink_quietly(tmp)
        raise storage_error(e, doing=doing, path=path, heading=heading) from e
    except BaseException:
        unlink_quietly(tmp)
        raise


def copy_atomic(src: Path | str, dst: Path | str, *, doing: Text = WRITE,
                heading: tuple[str, str, str, str] | None = None, suffix: str = ".importing") -> None:
    """Copy ``src`` to ``dst`` whole or not at all (through ``dst + suffix``, then renamed).

    Raises
    ------
    StorageError
        The medium refused; the partial copy is removed and ``dst`` is as it was.
    """
    dst = Path(dst)
    tmp = dst.with_name(dst.name + suffix)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fi, open(tmp, "wb") as fo:
            shutil.copyfileobj(fi, fo, 1 << 20)
            fo.flush()
            os.fsync(fo.fileno())
        os.replace(tmp, dst)
    except OSError as e:
        unlink_quietly(tmp)
        raise storage_error(e, doing=doing, path=dst, heading=heading) from e
    except BaseException:
        unlink_quietly(tmp)
        raise
