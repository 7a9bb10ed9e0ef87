"""Is the workspace file sound? SQLite's own checks, run when it is opened, on demand and after a failed read.

- **On open** (:func:`health`): ``PRAGMA quick_check`` — every page of every b-tree is read and its
  structure checked (O(file size); about 60 ms for the demo county's 4 MB, see the README for the
  prefecture). The answer is kept per file version (device, inode, size, modification time), so a
  page that asks again on every rerun pays one ``stat``; a write through this process carries the
  answer over to the new version (:func:`after_write`).
- **Full** (``full=True``): ``PRAGMA integrity_check``, which also checks every index against its
  table; on demand (the Workspace page, ``python -m gis check --full``) and before any write that
  follows a failed read (:func:`mark_suspect`).
- When a check fails, each table is checked on its own (``PRAGMA quick_check(TABLE)``) to name what is
  damaged: a layer, its spatial index, the change history, the saved scenarios, or the GeoPackage's own
  tables (then every layer is suspect). A file SQLite cannot open as a database at all (truncated, its
  header overwritten) is damaged as a whole.

SQLite checks structure, not content: bytes changed inside a record that leave every page well formed
are not seen (no checksums in the file format). Snapshots (:mod:`layers.snapshots`) are the remedy.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from layers.catalogue import CATALOGUE
from layers.errors import Problem, StorageError
from layers.storage import CAUSES, READ, WRITE
from layers.text import Text

__all__ = ["Health", "check", "health", "mark_suspect", "is_suspect", "after_write", "forget", "WHOLE"]

#: the table name standing for "the whole file" (it cannot be opened, or its schema is damaged)
WHOLE = "*"
_META_PREFIXES = ("gpkg_", "sqlite_")
_lock = threading.Lock()
_cache: dict[str, tuple[tuple | None, Health]] = {}   # path -> (stamp, or None: no file; health)
_suspect: set[str] = set()


def _part(table: str) -> Text:
    """What a damaged table is, in people's words."""
    if table == WHOLE:
        return Text("整个工作空间文件（已被截断，或无法作为数据库打开）", "the whole workspace file (truncated, or it "
                    "cannot be opened as a database)", "whole")
    if table in CATALOGUE:
        s = CATALOGUE[table]
        return Text(f"图层“{s.zh}”", f"layer '{s.en}'", table)
    if table.startswith("rtree_"):
        kind = next((k for k in CATALOGUE if table.startswith(f"rtree_{k}_")), None)
        if kind:
            s = CATALOGUE[kind]
            return Text(f"图层“{s.zh}”的空间索引", f"the spatial index of layer '{s.en}'", table)
    if table.startswith("gis_history"):
        return Text("修改历史", "the change history", table)
    if table == "gis_versions":
        return Text("版本记录", "the version records", table)
    if table == "gis_scenarios":
        return Text("已保存的情景", "the saved scenarios", table)
    if table.startswith(_META_PREFIXES):
        return Text("GeoPackage 的目录表（所有图层都可能受影响）", "the GeoPackage's own tables (every layer may be "
                    "affected)", table)
    return Text(f"表“{table}”", f"table '{table}'", table)


@dataclass(frozen=True)
class Health:
    """The result of a check of one workspace file.

    Attributes
    ----------
    ok : bool
        No damage found.
    full : bool
        ``integrity_check`` (True) or ``quick_check`` (False).
    tables : tuple of str
        Damaged tables (:data:`WHOLE` when the file cannot be opened or its schema is damaged).
    detail : str
        The first lines of SQLite's report.
    seconds : float
        How long the check took.
    """

    ok: bool
    full: bool = False
    tables: tuple[str, ...] = ()
    detail: str = ""
    seconds: float = 0.0
    file: str = field(default="", compare=False)

    @property
    def whole(self) -> bool:
        """The whole file is damaged, or the GeoPackage's own tables are: no layer can be trusted."""
        return any(t == WHOLE or t.startswith(_META_PREFIXES) for t in self.tables)

    def parts(self) -> list[Text]:
        """What is damaged, in people's words (one :class:`Text` per table group, repeats dropped)."""
        out: list[Text] = []
        for t in self.tables:
            p = _part(t)
            if p not in out:
                out.append(p)
        return out

    def damaged_kinds(self) -> set[str]:
        """Layer kinds whose features cannot be trusted (all of them when :attr:`whole`)."""
        if self.ok:
            return set()
        if self.whole:
            return set(CATALOGUE)
        return {t for t in self.tables if t in CATALOGUE}

    def what(self) -> Text:
        """The damaged parts joined: ``图层“河流”、修改历史``."""
        parts = self.parts() or [_part(WHOLE)]
        return Text("、".join(p.zh for p in parts), ", ".join(p.en for p in parts), "damaged_parts")

    def banner(self) -> Text:
        """The bilingual banner of a damaged workspace: what is damaged, read-only, what to do."""
        w = self.what()
        fix = CAUSES["damaged"][1]
        name = f"（{self.file}）" if self.file else ""
        return Text(f"工作空间文件无法读取（已损坏）{name}：{w.zh}。已以只读方式打开，修改不会被保存。处理：{fix.zh}。",
                    f"The workspace file cannot be read (it is damaged){' (' + self.file + ')' if self.file else ''}: "
                    f"{w.en}. It is open read-only; changes cannot be saved. Fix: {fix.en}.", "workspace_damaged")

    def error(self, doing: Text = WRITE) -> StorageError:
        """The :class:`StorageError` a refused read or write raises (``doing``: :data:`~layers.storage.READ` ...)."""
        w = self.what()
        fix = CAUSES["damaged"][1]
        writing = doing == WRITE
        refused = ("，在恢复前拒绝写入" if writing else "",
                   "; writes are refused until it is restored" if writing else "")
        return StorageError(Problem(f"{doing.zh}：工作空间文件已损坏（{w.zh}）{refused[0]}",
                                    f"{doing.en}: the workspace file is damaged ({w.en}){refused[1]}",
                                    fix.zh, fix.en, file=self.file or None), cause="damaged")


def _stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    journal = os.path.exists(str(path) + "-journal")
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, journal


def _rows(con: sqlite3.Connection, sql: str) -> list[str]:
    return [str(r[0]) for r in con.execute(sql).fetchall()]


def _truncated(path: Path) -> str:
    """Why the file is not a whole SQLite database by its header alone ('' when it looks whole).

    The header says how many pages the database has (valid when its change counter matches the
    version-valid-for number); a shorter file was cut. A file without the SQLite header is none at all
    (an empty file included: the workspace never makes one).
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as e:
        return str(e)
    if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
        return f"not an SQLite database ({size} bytes)"
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    if pages and head[24:28] == head[92:96] and size < pages * page:
        return f"truncated: {size} bytes, the header says {pages} pages of {page} bytes"
    return ""


def check(path: Path | str, *, full: bool = False) -> Health:
    """Check the SQLite file at ``path`` now (``quick_check``, or ``integrity_check`` when ``full``).

    A missing file is sound (nothing to check). Opened read-only (``mode=ro``): the check writes nothing.
    """
    path = Path(path)
    t0 = time.perf_counter()
    if not path.exists():
        return Health(True, full, file=path.name)
    pragma = "integrity_check" if full else "quick_check"
    cut = _truncated(path)
    if cut:
        return Health(False, full, (WHOLE,), cut, time.perf_counter() - t0, path.name)
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as e:
        return Health(False, full, (WHOLE,), str(e), time.perf_counter() - t0, path.name)
    try:
        try:
            report = _rows(con, f"PRAGMA {pragma}")
            if report == ["ok"]:
                return Health(True, full, seconds=time.perf_counter() - t0, file=path.name)
            detail = "\n".join(report)[:2000]
        except sqlite3.DatabaseError as e:
            detail = str(e)
        try:
            tables = _rows(con, "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0 "
                                "ORDER BY rootpage")
        except sqlite3.DatabaseError as e:
            return Health(False, full, (WHOLE,), f"{detail}\n{e}"[:2000], time.perf_counter() - t0, path.name)
        bad = []
        for t in tables:
            try:
                if _rows(con, f"PRAGMA {pragma}(\"{t.replace(chr(34), chr(34) * 2)}\")") != ["ok"]:
                    bad.append(t)
            except sqlite3.DatabaseError:
                bad.append(t)
        return Health(False, full, tuple(bad) or (WHOLE,), detail, time.perf_counter() - t0, path.name)
    finally:
        con.close()


def _key(path: Path | str) -> str:
    return str(Path(path).resolve())


def health(path: Path | str, *, full: bool = False, fresh: bool = False) -> Health:
    """The health of the file at ``path``, checked once per file version (see the module docstring).

    Parameters
    ----------
    full : bool
        Ask for the full check (a cached quick answer does not do).
    fresh : bool
        Check again even if this version was checked.
    """
    key, stamp = _key(path), _stamp(Path(path))
    with _lock:
        hit = _cache.get(key)
    if not fresh and hit is not None and hit[0] == stamp and (hit[1].full or not full):
        return hit[1]
    h = check(path, full=full)
    with _lock:
        _cache[key] = (_stamp(Path(path)) if h.ok else stamp, h)
        if full and h.ok:
            _suspect.discard(key)
    return h


def mark_suspect(path: Path | str) -> None:
    """A read of ``path`` failed or came back short: the next write runs the full check first."""
    with _lock:
        _suspect.add(_key(path))
        _cache.pop(_key(path), None)


def is_suspect(path: Path | str) -> bool:
    """True after a failed read of ``path`` until a full check passes."""
    with _lock:
        return _key(path) in _suspect


def after_write(path: Path | str) -> None:
    """This process committed a write to a file found sound: carry the answer over to the new version."""
    key = _key(path)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[1].ok:
            _cache[key] = (_stamp(Path(path)), hit[1])


def forget(path: Path | str) -> None:
    """Drop what is known of ``path`` (after it was replaced, e.g. restored from a snapshot)."""
    with _lock:
        _cache.pop(_key(path), None)
        _suspect.discard(_key(path))


def read_error(path: Path | str, exc: BaseException | None = None) -> StorageError:
    """The error of a read that failed on a damaged file: names what the check finds damaged."""
    mark_suspect(path)
    h = health(path, full=True, fresh=True)
    if h.ok:
        h = Health(False, False, (WHOLE,), str(exc or ""), file=Path(path).name)
    return h.error(READ)
