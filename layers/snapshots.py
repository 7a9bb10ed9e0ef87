"""Snapshots: the last few good states of a workspace, kept beside it, to go back to when it is damaged.

Layout::

    FOLDER/.snapshots/workspace/20261207T010203.456Z/workspace.gpkg   a consistent copy (SQLite online backup)
                                                    /dem.tif          the rasters as they were
                                                    /snapshot.json    when, why, the revision, the last entry
    FOLDER/.snapshots/workspace/damaged-20261207T020000Z.gpkg     the damaged file a restore replaced (newest only)

A snapshot is made with :meth:`sqlite3.Connection.backup` from a read-only connection (a consistent
copy even while another session writes), checked (``quick_check``; a damaged copy is thrown away, so
every snapshot kept is a good state), and renamed into place whole. A raster unchanged since the
previous snapshot (same size, modification time and inode) is hard-linked to that snapshot's copy, so
it takes no space twice; the workspace never writes a raster in place (imports rename a new file over
it), so a copy never changes under a snapshot.

When (:func:`due`, settings in :mod:`layers.settings`): after the first write recorded in the history; after
``SNAPSHOT_EVERY_WRITES`` writes since the last one; after any write once the last one is
``SNAPSHOT_EVERY_MINUTES`` old (checked after every write, and by the app once a minute, in the background,
for writes other programs made); by hand (the Workspace page, ``python -m gis snapshot``); and before a
restore, of the state it replaces. At most ``SNAPSHOT_KEEP`` are kept and at most
``SNAPSHOT_MAX_MB`` of space (the oldest go first; the newest is always kept).

This module knows files only; :meth:`layers.workspace.Workspace.restore` puts a snapshot back and
records the restore in the history.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from layers import integrity, settings
from layers.errors import Problem, StorageError
from layers.storage import RESTORE, SNAPSHOT, copy_atomic, guard, unlink_quietly, write_atomic
from layers.text import Text

__all__ = ["Snapshot", "Space", "snapshot_root", "list_snapshots", "take", "due", "after_write", "prune", "space",
           "pick", "put_back", "keep_damaged", "revision", "last_error"]

log = logging.getLogger(__name__)
DIR_NAME = ".snapshots"
MANIFEST = "snapshot.json"
_ERROR_FILE = "last_error.json"
_STALE_S = 3600.0

REASONS: dict[str, Text] = {
    "first": Text("首次写入后", "after the first write", "first"),
    "writes": Text("达到写入次数", "after a number of writes", "writes"),
    "schedule": Text("定时", "on schedule", "schedule"),
    "manual": Text("手动", "taken by hand", "manual"),
    "before_restore": Text("恢复前的状态", "the state before a restore", "before_restore"),
}


@dataclass(frozen=True)
class Snapshot:
    """One snapshot of a workspace.

    Attributes
    ----------
    id : str
        Its name, sortable by time (``20261207T010203.456Z``, UTC).
    time : str
        When it was taken (ISO-8601 UTC).
    reason : str
        A key of :data:`REASONS`.
    revision : int
        The workspace's write counter then (the sum of its layer versions).
    last_entry : int
        The newest history entry it holds (0 for none).
    bytes : int
        Size of its files.
    rasters : tuple of str
        Raster kinds it holds.
    path : Path
        Its folder.
    """

    id: str
    time: str
    reason: str
    revision: int
    last_entry: int
    bytes: int
    rasters: tuple[str, ...]
    path: Path

    def reason_text(self) -> Text:
        """Why it was taken, in both languages."""
        return REASONS.get(self.reason, Text(self.reason, self.reason))


@dataclass(frozen=True)
class Space:
    """Space the snapshots of a workspace take, and its bounds."""

    count: int
    bytes: int
    limit_bytes: int
    keep: int


def snapshot_root(gpkg: Path | str) -> Path:
    """The folder holding the snapshots of the workspace GeoPackage ``gpkg``."""
    gpkg = Path(gpkg)
    return gpkg.parent / DIR_NAME / gpkg.stem


def _now() -> datetime:
    return datetime.now(UTC)


def revision(gpkg: Path | str) -> tuple[int, int]:
    """(write counter, newest history entry) of a workspace file: (0, 0) before its first recorded write."""
    con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True, timeout=60)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rev = con.execute("SELECT coalesce(sum(version), 0) FROM gis_versions").fetchone()[0] \
            if "gis_versions" in names else 0
        last = con.execute("SELECT coalesce(max(entry_id), 0) FROM gis_history").fetchone()[0] \
            if "gis_history" in names else 0
        return int(rev), int(last)
    finally:
        con.close()


def _read(folder: Path) -> Snapshot | None:
    try:
        m = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return Snapshot(m["id"], m["time"], m.get("reason", ""), int(m.get("revision", 0)),
                        int(m.get("last_entry", 0)), int(m.get("bytes", 0)), tuple(m.get("rasters", {})), folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_snapshots(gpkg: Path | str) -> list[Snapshot]:
    """The snapshots of workspace ``gpkg``, newest first (half-written ones are not listed)."""
    root = snapshot_root(gpkg)
    if not root.is_dir():
        return []
    out = [s for p in root.iterdir() if p.is_dir() and not p.name.endswith(".writing") and (s := _read(p))]
    return sorted(out, key=lambda s: s.id, reverse=True)


@contextlib.contextmanager
def _locked(root: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock on the snapshot folder (one snapshot or restore at a time, across processes)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _new_id(root: Path) -> str:
    """A new snapshot id: the UTC time to the millisecond (fixed width, so ids sort as times do)."""
    while True:
        now = _now()
        sid = now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond // 1000:03d}Z"
        if not (root / sid).exists() and not (root / (sid + ".writing")).exists():
            return sid
        time.sleep(0.001)


def _identity(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def _put_raster(live: Path, target: Path, previous: Snapshot | None, kind: str) -> dict:
    """Copy a raster into a snapshot, or hard-link the previous snapshot's copy when it is unchanged."""
    ident = _identity(live)
    if previous is not None:
        try:
            before = json.loads((previous.path / MANIFEST).read_text(encoding="utf-8"))["rasters"].get(kind)
        except (OSError, ValueError, KeyError):
            before = None
        same = previous.path / target.name
        if before == ident and same.exists():
            try:
                os.link(same, target)
                return ident
            except OSError:
                pass
    with open(live, "rb") as fi, open(target, "wb") as fo:
        shutil.copyfileobj(fi, fo, 1 << 20)
        fo.flush()
        os.fsync(fo.fileno())
    return ident


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def take(gpkg: Path | str, rasters: dict[str, Path], *, reason: str = "manual", wait: bool = True,
         protect: frozenset[str] | set[str] = frozenset()) -> Snapshot | None:
    """Take a snapshot of the workspace file ``gpkg`` and its ``rasters`` (kind -> path) now.

    Parameters
    ----------
    reason : str
        A key of :data:`REASONS`.
    wait : bool
        Wait for another process taking one (False: return None instead).
    protect : set of str
        Snapshots the pruning that follows must keep (the one a restore is about to put back).

    Returns
    -------
    Snapshot or None
        None when ``wait`` is False and another snapshot is being taken.

    Raises
    ------
    StorageError
        The workspace is damaged (no snapshot is made of a damaged state), or the snapshot could not be
        written (the medium is read-only or full); nothing is left half-written.
    """
    gpkg = Path(gpkg)
    root = snapshot_root(gpkg)
    with guard(root, SNAPSHOT), _locked(root, wait=wait) as got:
        if not got:
            return None
        previous = next(iter(list_snapshots(gpkg)), None)
        sid = _new_id(root)
        stage = root / (sid + ".writing")
        stage.mkdir()
        try:
            copy = stage / gpkg.name
            src = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True, timeout=60)
            try:
                dst = sqlite3.connect(str(copy))
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
            h = integrity.check(copy)
            if not h.ok:
                raise StorageError(Problem(f"{SNAPSHOT.zh}：工作空间文件已损坏（{h.what().zh}），"
                                           "不为损坏的状态保存快照",
                                           f"{SNAPSHOT.en}: the workspace file is damaged ({h.what().en}); no "
                                           "snapshot is made of a damaged state",
                                           "恢复最近的完好快照", "restore the last good snapshot",
                                           file=gpkg.name), cause="damaged")
            rev, last = revision(copy)
            idents = {}
            for kind, live in rasters.items():
                if Path(live).exists():
                    idents[kind] = _put_raster(Path(live), stage / f"{kind}.tif", previous, kind)
            manifest = {"id": sid, "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": reason,
                        "revision": rev, "last_entry": last, "rasters": idents, "source": gpkg.name}
            manifest["bytes"] = _size(stage)
            (stage / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(stage, root / sid)
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)
        _clear_error(root)
        prune(gpkg, keep={sid, *protect})
        return _read(root / sid)


def due(gpkg: Path | str) -> str | None:
    """Why a snapshot should be taken now (a key of :data:`REASONS`), or None."""
    if settings.SNAPSHOT_KEEP <= 0 or not Path(gpkg).exists():
        return None
    rev, last = revision(gpkg)
    if rev <= 0:
        return None
    newest = next(iter(list_snapshots(gpkg)), None)
    if newest is None:                      # the first change a user made (generated data is not one)
        return "first" if last > 0 else None
    since = rev - newest.revision
    if since == 0:
        return None
    if since < 0 or since >= settings.SNAPSHOT_EVERY_WRITES:   # < 0: restored to an older state meanwhile
        return "writes"
    age_min = (_now() - datetime.strptime(newest.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
               ).total_seconds() / 60
    return "schedule" if age_min >= settings.SNAPSHOT_EVERY_MINUTES else None


def after_write(gpkg: Path | str, rasters: dict[str, Path]) -> Snapshot | None:
    """Take a snapshot if one is :func:`due` (called after every committed write); never raises.

    A snapshot that cannot be taken (disk full, another process taking one) does not undo the write
    that was committed; the failure is kept and shown by :func:`last_error`.
    """
    try:
        reason = due(gpkg)
        return take(gpkg, rasters, reason=reason, wait=False) if reason else None
    except Exception as e:  # noqa: BLE001 - a snapshot must never fail the write before it
        log.warning("snapshot of %s failed: %s", gpkg, e)
        with contextlib.suppress(Exception):
            root = snapshot_root(gpkg)
            lines = {lg: e.lines(lg) if isinstance(e, StorageError) else [str(e)[:300]] for lg in ("zh", "en")}
            write_atomic(root / _ERROR_FILE, json.dumps({"time": _now().isoformat(), "lines": lines},
                                                        ensure_ascii=False).encode("utf-8"))
        return None


def last_error(gpkg: Path | str, lang: str = "zh") -> list[str]:
    """The message (in ``lang``) of the last automatic snapshot that failed; cleared by the next one that works."""
    try:
        return list(json.loads((snapshot_root(gpkg) / _ERROR_FILE).read_text(encoding="utf-8"))["lines"][lang])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _clear_error(root: Path) -> None:
    unlink_quietly(root / _ERROR_FILE)


def _inodes(root: Path) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for p in root.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                st = p.stat()
                out[(st.st_dev, st.st_ino)] = st.st_size
    return out


def space(gpkg: Path | str) -> Space:
    """How many snapshots there are and the space they take (a file linked into several counted once)."""
    root = snapshot_root(gpkg)
    used = sum(_inodes(root).values()) if root.is_dir() else 0
    return Space(len(list_snapshots(gpkg)), used, int(settings.SNAPSHOT_MAX_MB * 1e6), settings.SNAPSHOT_KEEP)


def prune(gpkg: Path | str, *, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Remove the snapshots beyond :data:`settings.SNAPSHOT_KEEP` and :data:`settings.SNAPSHOT_MAX_MB`.

    The newest snapshot and those named in ``keep`` stay. Leftovers of an interrupted snapshot (older
    than an hour) and all but the newest damaged file are removed too. Returns the ids removed.
    """
    root = snapshot_root(gpkg)
    if not root.is_dir():
        return []
    now = time.time()
    for p in root.iterdir():
        if p.name.endswith(".writing") and now - p.stat().st_mtime > _STALE_S:
            shutil.rmtree(p, ignore_errors=True)
    for old in sorted(root.glob("damaged-*.gpkg"), reverse=True)[1:]:
        unlink_quietly(old)
    snaps = list_snapshots(gpkg)
    removed: list[str] = []
    limit = settings.SNAPSHOT_MAX_MB * 1e6
    for i, s in enumerate(snaps):
        if i == 0 or s.id in keep:
            continue
        over_count = i >= max(1, settings.SNAPSHOT_KEEP)
        over_space = sum(_inodes(root).values()) > limit
        if over_count or over_space:
            shutil.rmtree(s.path, ignore_errors=True)
            removed.append(s.id)
    return removed


def pick(gpkg: Path | str, snapshot_id: str | None = None) -> Snapshot:
    """The snapshot to restore: ``snapshot_id``, or the newest one that passes a check now.

    Raises
    ------
    StorageError
        No such snapshot, none at all, or the one named is damaged itself.
    """
    gpkg = Path(gpkg)
    snaps = list_snapshots(gpkg)
    if snapshot_id is not None:
        chosen = [s for s in snaps if s.id == snapshot_id]
        if not chosen:
            raise StorageError(Problem(f"{RESTORE.zh}：没有编号为 {snapshot_id} 的快照",
                                       f"{RESTORE.en}: there is no snapshot {snapshot_id}",
                                       "用 python -m gis restore --list 查看已有的快照",
                                       "list them with python -m gis restore --list", file=gpkg.name),
                               cause="missing")
        snaps = chosen
    for s in snaps:
        if integrity.check(s.path / gpkg.name).ok:
            return s
    raise StorageError(Problem(f"{RESTORE.zh}：" + (f"快照 {snapshot_id} 本身已损坏" if snapshot_id else
                                                    "没有完好的快照"),
                               f"{RESTORE.en}: " + (f"snapshot {snapshot_id} is damaged itself" if snapshot_id else
                                                    "there is no good snapshot"),
                               "从其他备份（如导出的工作空间 zip）重新导入", "import it again from another backup "
                               "(an exported workspace zip, for example)", file=gpkg.name), cause="damaged")


def keep_damaged(gpkg: Path | str) -> Path | None:
    """Copy a damaged workspace file aside before a restore replaces it (for an expert to salvage edits).

    Returns the copy, or None when it could not be made (no space); the restore goes on either way.
    """
    gpkg = Path(gpkg)
    if not gpkg.exists():
        return None
    target = snapshot_root(gpkg) / f"damaged-{_now().strftime('%Y%m%dT%H%M%SZ')}.gpkg"
    try:
        copy_atomic(gpkg, target, doing=SNAPSHOT, suffix=".writing")
    except StorageError as e:
        log.warning("could not keep the damaged %s: %s", gpkg, e)
        return None
    prune(gpkg)
    return target


def put_back(snap: Snapshot, gpkg: Path | str, rasters: dict[str, Path]) -> None:
    """Put snapshot ``snap`` back as the workspace: its GeoPackage and the rasters it holds.

    Everything is first copied beside its target (``*.restoring``), then renamed over it, the
    GeoPackage last; a stale journal of the old file is removed so SQLite never applies it to the
    restored one. Rasters the snapshot does not hold are left as they are.

    Raises
    ------
    StorageError
        The copies could not be written (read-only or full medium); the workspace is as it was and no
        ``*.restoring`` file is left.
    """
    gpkg = Path(gpkg)
    staged: list[tuple[Path, Path]] = []
    with guard(gpkg, RESTORE):
        try:
            for kind, live in rasters.items():
                if kind in snap.rasters:
                    tmp = Path(live).with_name(Path(live).name + ".restoring")
                    staged.append((tmp, Path(live)))
                    copy_atomic(snap.path / f"{kind}.tif", tmp, doing=RESTORE, suffix=".part")
            tmp = gpkg.with_name(gpkg.name + ".restoring")
            staged.append((tmp, gpkg))
            copy_atomic(snap.path / gpkg.name, tmp, doing=RESTORE, suffix=".part")
            hold = _hold(gpkg)
            try:
                for suffix in ("-journal", "-wal", "-shm"):
                    unlink_quietly(Path(str(gpkg) + suffix))
                for tmp, live in staged:
                    os.replace(tmp, live)
            finally:
                if hold is not None:
                    with contextlib.suppress(sqlite3.Error):
                        hold.close()
        finally:
            for tmp, _ in staged:
                unlink_quietly(tmp)
    integrity.forget(gpkg)


def _hold(gpkg: Path) -> sqlite3.Connection | None:
    """An exclusive lock on the live file while it is swapped (waits for a writer to finish); None if
    the file cannot be locked (it is damaged beyond that: nobody else can use it either)."""
    if not gpkg.exists():
        return None
    try:
        con = sqlite3.connect(str(gpkg), timeout=30, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        return con
    except sqlite3.Error:
        return None
