"""The workspace: an office's layers kept in one folder, edited safely and with a history.

Layout::

    FOLDER/workspace.gpkg     one GeoPackage layer per vector kind (EPSG:4490, canonical fields)
    FOLDER/dem.tif            rasters beside it, one GeoTIFF per raster kind (``KIND.tif``)

The demo county written by ``python -m gis demo`` is a workspace.

A :class:`Workspace` is a :class:`layers.edits.LayerStore`: every edit, import (replace or append),
undo and redo is validated first and then written in **one SQLite transaction** together with its
history entry, so a crash or a killed process leaves the previous state. Rows are written with
Python's :mod:`sqlite3` (not by rewriting the layer through GDAL, which takes seconds for 41,410
grids): geometries as GeoPackage binary, and the R-tree triggers GDAL installed get the
``ST_*`` functions they call registered on the connection, so the spatial index stays right.

Book-keeping, added lazily on the first write (a plain GeoPackage from elsewhere opens as is):

- a ``_rev`` column per layer: the feature's revision, bumped on every change, for conflict
  detection between sessions (:class:`layers.edits.ConflictError`);
- ``gis_history`` (one row per committed change), ``gis_history_rows`` (the rows before and after,
  as JSON, so an undo restores them even in another process) and ``gis_versions`` (per layer).

Faults (see :mod:`layers.storage`, :mod:`layers.integrity`, :mod:`layers.snapshots`): every write runs
inside :meth:`Workspace.writing`, which refuses to write into a damaged file (a full check first when
a read failed before), turns a read-only medium, missing permission, a full disk or a damaged file
into a bilingual :class:`~layers.errors.StorageError` (the transaction rolled back: the workspace is
unchanged) and, after a commit, takes a snapshot when one is due. Every read checks the file once per
version (``quick_check``) and refuses a damaged layer instead of returning it short or garbled; a
layer read through GDAL is counted against its table, so a read that stops early is caught too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from layers import integrity, snapshots
from layers.catalogue import CATALOGUE
from layers.catalogue import spec as get_spec
from layers.edits import ChangeSet, Conflict, ConflictError, HistoryEntry, ImportDiff
from layers.errors import GisError, LayerError, Problem, StorageError
from layers.gpkg import (
    SRS_ID,
    blob_geometry,
    blob_wkb,
    connect,
    create_gpkg,
    gpkg_blob,
    read_layer_option,
    transaction,
    write_layer_option,
)
from layers.raster import Raster, read_raster
from layers.snapshots import Snapshot
from layers.storage import READ, RESTORE, WRITE, copy_atomic, guard

GPKG_NAME = "workspace.gpkg"
REV = "_rev"
#: actions that change data themselves (undo/redo entries only re-apply them; ``raster`` and ``restore``
#: entries are recorded but not undone: a restore is undone by restoring the snapshot taken before it)
_NEW_ACTIONS = ("edit", "replace", "append")
#: the pseudo layer whose version a restore sets, so every cache keyed by versions sees a new state
RESTORE_TOKEN = "_restore"
_SQL_TYPE = {"str": "TEXT", "choice": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN"}




def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_value(v: object) -> object:
    """A Python/numpy/pandas value as an SQLite value."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return int(bool(v))
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, (str, bytes)):
        return v
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    return str(v)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def _to_json(row: dict | None) -> str | None:
    if row is None:
        return None
    return json.dumps({k: ({"$b": base64.b64encode(v).decode()} if isinstance(v, bytes) else v)
                       for k, v in row.items()}, ensure_ascii=False)


def _from_json(text: str | None) -> dict | None:
    if text is None:
        return None
    return {k: (base64.b64decode(v["$b"]) if isinstance(v, dict) else v) for k, v in json.loads(text).items()}


def _entry(row: tuple) -> HistoryEntry:
    eid, time, user, note, kind, action, added, changed, removed, undone = row[:10]
    return HistoryEntry(int(eid), time, user, note, kind, action, int(added), int(changed), int(removed),
                        bool(undone))


_HISTORY_COLS = "entry_id, time, user, note, kind, action, added, changed, removed, undone"


class _Table:
    """Column layout of one feature table."""

    def __init__(self, con: sqlite3.Connection, kind: str):
        row = con.execute("SELECT column_name, geometry_type_name FROM gpkg_geometry_columns WHERE "
                          "lower(table_name) = lower(?)", (kind,)).fetchone()
        self.kind = kind
        self.geom = row[0] if row else None
        self.geom_type = row[1] if row else None
        info = con.execute(f"PRAGMA table_info({_q(kind)})").fetchall()
        self.fid = next((r[1] for r in info if r[5]), "fid")
        self.types = {r[1]: (r[2] or "").upper() for r in info}
        self.fields = [r[1] for r in info if r[1] not in (self.fid, self.geom, REV)]

    @property
    def columns(self) -> list[str]:
        """Every column but the fid, in order (geometry first)."""
        return ([self.geom] if self.geom else []) + self.fields + ([REV] if REV in self.types else [])


class Workspace:
    """A folder of layers, and a :class:`~layers.edits.LayerStore`.

    Parameters
    ----------
    folder : Path
        The workspace folder (must exist to read), or the path of its GeoPackage (any name; the
        rasters are then beside it).
    """

    def __init__(self, folder: Path | str):
        path = Path(folder)
        if path.suffix.lower() == ".gpkg":
            self.folder, self._gpkg = path.parent, path
        else:
            self.folder, self._gpkg = path, path / GPKG_NAME

    # ---- the folder ----------------------------------------------------------------------------
    @property
    def gpkg(self) -> Path:
        """Path of the GeoPackage holding the vector layers."""
        return self._gpkg

    def raster_path(self, kind: str) -> Path:
        """Path of the GeoTIFF of a raster kind."""
        return self.folder / f"{kind}.tif"

    def _recover(self) -> None:
        """Roll back a transaction a killed writer left (a hot journal), so GDAL can read the file."""
        journal = Path(str(self.gpkg) + "-journal")
        if journal.exists():
            with guard(self.gpkg, READ, on_error=self._on_read_error):
                con = sqlite3.connect(str(self.gpkg), timeout=60)
                try:
                    con.execute("PRAGMA schema_version").fetchone()
                finally:
                    con.close()

    def _settle(self) -> None:
        """After a failed write: roll back at once what a failed commit left behind (SQLite keeps a hot
        journal after an I/O error and rolls it back on the next open), so the file is byte for byte as
        it was and no ``-journal`` stays beside it."""
        if Path(str(self.gpkg) + "-journal").exists():
            with contextlib.suppress(GisError, sqlite3.Error, OSError):
                self._recover()

    def _on_read_error(self, cause: str) -> None:
        if cause in ("damaged", "io"):
            integrity.mark_suspect(self.gpkg)

    def _unreadable(self, exc: BaseException | None = None) -> StorageError:
        """The error of a read that failed: what the check finds damaged (the next write checks in full)."""
        err = integrity.read_error(self.gpkg, exc)
        if not self.gpkg.exists() or _not_sqlite(self.gpkg):
            return StorageError(Problem("工作空间文件无法读取：它不是有效的 GeoPackage（已损坏或不是工作空间文件）",
                                        "the workspace could not be read: the file is not a readable GeoPackage "
                                        "(damaged, or not a workspace file)",
                                        "恢复最近的完好快照（python -m gis restore），或新建工作空间后重新导入图层",
                                        "restore the last good snapshot (python -m gis restore), or make a new "
                                        "workspace and import the layers again", file=self.gpkg.name),
                                cause="damaged")
        return err

    # ---- health ------------------------------------------------------------------------------------
    def health(self, *, full: bool = False, fresh: bool = False) -> integrity.Health:
        """Is the workspace file sound? ``quick_check`` once per file version; ``full=True``: ``integrity_check``.

        See :mod:`layers.integrity`.
        """
        return integrity.health(self.gpkg, full=full, fresh=fresh)

    def _readable(self, kind: str | None = None) -> None:
        """Refuse to read a damaged layer (or anything, when the whole file is damaged)."""
        h = self.health()
        if not h.ok and (h.whole or (kind is not None and kind in h.damaged_kinds())):
            raise h.error(READ)

    def _writable(self) -> None:
        """Refuse to write into a damaged file; after a failed read, the full check decides."""
        if not self.gpkg.exists():
            return
        h = self.health(full=True, fresh=True) if integrity.is_suspect(self.gpkg) else self.health()
        if not h.ok:
            raise h.error(WRITE)

    @contextlib.contextmanager
    def writing(self, *, snapshot: bool = True) -> Iterator[None]:
        """Context of one write: the file checked first (refused when damaged), storage faults raised as
        :class:`StorageError` (the caller's transaction rolled back), a snapshot after it when one is due.

        Every write path of the workspace runs in it (also :mod:`layers.scenarios`).
        """
        self._writable()
        try:
            with guard(self.gpkg, WRITE, on_error=self._on_read_error):
                yield
        except BaseException:
            self._settle()
            raise
        integrity.after_write(self.gpkg)
        if snapshot:
            snapshots.after_write(self.gpkg, self.raster_paths())

    def raster_paths(self) -> dict[str, Path]:
        """Where each raster kind of the workspace is (or would be) kept: ``KIND.tif`` in the folder."""
        return {k: self.raster_path(k) for k, s in CATALOGUE.items() if s.is_raster}

    def vector_kinds(self) -> list[str]:
        """Vector kinds present, in catalogue order."""
        if not self.gpkg.exists():
            return []
        self._recover()
        self._readable()
        try:
            con = sqlite3.connect(f"file:{self.gpkg}?mode=ro", uri=True, timeout=60)
            try:
                names = {str(r[0]) for r in con.execute("SELECT table_name FROM gpkg_contents WHERE "
                                                        "data_type = 'features'")}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise self._unreadable(e) from e
        return [k for k in CATALOGUE if k in names]

    def lonlat_bounds(self) -> tuple[float, float, float, float] | None:
        """Lon/lat extent of the workspace's vector layers (from the GeoPackage's own extents), or None.

        Passed to :func:`layers.load.load_layer` as ``near`` so a file in the wrong zone's CRS is
        caught against the office's own data.
        """
        kinds = self.vector_kinds()
        if not kinds:
            return None
        with guard(self.gpkg, READ, on_error=self._on_read_error):
            con = sqlite3.connect(f"file:{self.gpkg}?mode=ro", uri=True, timeout=60)
            try:
                rows = con.execute(f"SELECT min(min_x), min(min_y), max(max_x), max(max_y) FROM gpkg_contents "
                                   f"WHERE table_name IN ({', '.join('?' * len(kinds))})", kinds).fetchone()
            finally:
                con.close()
        if rows is None or any(v is None for v in rows):
            return None
        x0, y0, x1, y1 = (float(v) for v in rows)
        return (x0, y0, x1, y1) if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90 else None

    def raster_kinds(self) -> list[str]:
        """Raster kinds present, in catalogue order."""
        return [k for k, s in CATALOGUE.items() if s.is_raster and self.raster_path(k).exists()]

    def _missing(self, kind: str) -> LayerError:
        return LayerError(Problem(f"工作空间中没有“{CATALOGUE[kind].zh}”图层",
                                  f"the workspace has no '{CATALOGUE[kind].en}' layer",
                                  "先在“数据图层”页导入该图层", "import it on the Data layers page first",
                                  file=self.gpkg.name))

    def _count(self, kind: str) -> int:
        """Features in the layer's table, counted by SQLite (walks the table's b-tree: a damaged page raises)."""
        con = sqlite3.connect(f"file:{self.gpkg}?mode=ro", uri=True, timeout=60)
        try:
            return int(con.execute(f"SELECT count(*) FROM {_q(kind)}").fetchone()[0])
        finally:
            con.close()

    def _ogr(self, kind: str, **kwargs) -> gpd.GeoDataFrame:
        """Read a layer through GDAL, waiting out another session's commit (the file is briefly locked).

        The features read are counted against SQLite's count of the table before and after: GDAL stops
        quietly at a damaged page, so a short read is reported (and the workspace marked suspect)
        instead of returned.
        """
        self._readable(kind)
        for attempt in range(40):
            try:
                before = self._count(kind)
                gdf = pyogrio.read_dataframe(self.gpkg, layer=kind, use_arrow=True, **kwargs)
                after = self._count(kind)
            except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, sqlite3.OperationalError) as e:
                text = str(e).lower()
                if attempt < 39 and ("locked" in text or "busy" in text):
                    time.sleep(0.25)
                    self._recover()
                    continue
                raise self._unreadable(e) from e
            except sqlite3.DatabaseError as e:
                raise self._unreadable(e) from e
            if len(gdf) == before == after:
                return gdf
            if before != after and attempt < 39:      # another session committed meanwhile: read again
                continue
            integrity.mark_suspect(self.gpkg)
            h = self.health(full=True, fresh=True)
            if h.ok:
                h = integrity.Health(False, True, (kind,), f"read {len(gdf)} of {after} features", file=self.gpkg.name)
            err = h.error(READ)
            raise StorageError([*err.problems, Problem(
                f"图层“{CATALOGUE[kind].zh}”只读出 {len(gdf)} 个要素，表中有 {after} 个",
                f"layer '{CATALOGUE[kind].en}': {len(gdf)} of its {after} features could be read",
                "不要使用该图层的导出结果；恢复最近的完好快照", "do not use what was read; restore the last good "
                "snapshot", file=self.gpkg.name, field=kind)], cause="damaged")
        raise AssertionError("unreachable")

    def read(self, kind: str) -> gpd.GeoDataFrame:
        """Read a vector layer for editing: canonical fields plus int columns ``fid`` and ``_rev``.

        Returns
        -------
        GeoDataFrame
            EPSG:4490; ``fid`` is the feature's stable id, ``_rev`` its revision (0 before its
            first edit).
        """
        if kind not in self.vector_kinds():
            raise self._missing(kind)
        gdf = self._ogr(kind, fid_as_index=True)
        gdf.index.name = "fid"
        gdf = gdf.reset_index()
        gdf["fid"] = gdf["fid"].astype("int64")
        if REV in gdf.columns:
            gdf[REV] = gdf[REV].fillna(0).astype("int64")
        else:
            gdf[REV] = np.zeros(len(gdf), dtype="int64")
        gdf.attrs["source"] = f"{self.gpkg.name}:{kind}"
        return gdf

    def vector(self, kind: str) -> gpd.GeoDataFrame:
        """Read a vector layer (EPSG:4490, canonical fields)."""
        if kind not in self.vector_kinds():
            raise self._missing(kind)
        gdf = self._ogr(kind)
        if REV in gdf.columns:
            gdf = gdf.drop(columns=[REV])
        gdf.attrs["source"] = f"{self.gpkg.name}:{kind}"
        return gdf

    def raster(self, kind: str) -> Raster:
        """Read a raster layer."""
        return read_raster(self.raster_path(kind), display_name=f"{kind}.tif")

    def store_raster(self, kind: str, source: Path | str | Raster, *, user: str = "", note: str = "") -> HistoryEntry:
        """Put the GeoTIFF ``source`` (already validated as ``kind``), or a :class:`~layers.raster.Raster` as
        read from any raster file (written as a GeoTIFF first, outside the workspace), into the workspace
        as ``KIND.tif``.

        Copied beside the target and renamed over it (never half a raster), then recorded in the history
        (action ``raster``) with the layer's version bumped, so every cache of it is renewed.

        Raises
        ------
        StorageError
            The medium refused (read-only, no permission, full); the old raster is as it was and no
            ``*.importing`` file is left.
        """
        if not CATALOGUE[kind].is_raster:
            raise ValueError(f"{kind} is not a raster kind")
        if isinstance(source, Raster):
            import tempfile

            from layers.raster import write_raster

            with tempfile.TemporaryDirectory(prefix="gis-raster-") as d:
                tmp = Path(d) / f"{kind}.tif"
                write_raster(source, tmp)
                return self.store_raster(kind, tmp, user=user, note=note)
        with self.writing():
            copy_atomic(source, self.raster_path(kind), doing=WRITE, suffix=".importing")
            with transaction(self._connect()) as con:
                self._bookkeeping(con)
                entry = self._record(con, kind, "raster", note or f"raster {Path(source).name}", user)
                self._bump(con, kind)
                row = con.execute(f"SELECT {_HISTORY_COLS} FROM gis_history WHERE entry_id = ?", (entry,)).fetchone()
        return _entry(row)

    def write_vector(self, kind: str, gdf: gpd.GeoDataFrame) -> None:
        """Write (replace) a vector layer through GDAL, without validation or history.

        For data the program generated itself (the demo county); user data goes through
        :meth:`replace`, which validates, records history and is atomic. Takes no snapshot.
        """
        with self.writing(snapshot=False):
            self.folder.mkdir(parents=True, exist_ok=True)
            pyogrio.write_dataframe(gdf, self.gpkg, layer=kind, driver="GPKG")
            with transaction(connect(self.gpkg)) as con:
                self._bookkeeping(con)
                self._bump(con, kind)

    # ---- import choices kept with the workspace ----------------------------------------------------
    def layer_option(self, kind: str, source: str) -> dict | None:
        """The web-map offset chosen when file ``source`` was last imported as ``kind`` (see
        :func:`layers.gpkg.read_layer_option`), or None."""
        try:
            return read_layer_option(self.gpkg, kind, Path(source).name)
        except sqlite3.DatabaseError as e:
            raise self._unreadable() from e

    def remember_layer_option(self, kind: str, source: str, *, offset: str | None) -> None:
        """Keep the offset chosen for importing ``source`` as ``kind`` (None is kept as ``"none"``)."""
        with self.writing(snapshot=False):      # a damaged or read-only workspace: a StorageError
            write_layer_option(self.gpkg, kind, Path(source).name, offset=offset or "none", time=_now())

    # ---- book-keeping --------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not self.gpkg.exists():
            create_gpkg(self.gpkg)
        return connect(self.gpkg)

    def connection(self) -> sqlite3.Connection:
        """A connection to write with (the GeoPackage is made when absent); use it inside :meth:`writing`,
        in :func:`layers.gpkg.transaction`, as :mod:`layers.scenarios` does."""
        return self._connect()

    # ---- snapshots ---------------------------------------------------------------------------------
    def snapshots(self) -> list[Snapshot]:
        """The workspace's snapshots, newest first (see :mod:`layers.snapshots`)."""
        return snapshots.list_snapshots(self.gpkg)

    def snapshot(self, *, reason: str = "manual") -> Snapshot:
        """Take a snapshot now (refused, with a :class:`StorageError`, when the workspace is damaged)."""
        self._recover()
        self._writable()
        snap = snapshots.take(self.gpkg, self.raster_paths(), reason=reason)
        assert snap is not None
        return snap

    def restore(self, snapshot_id: str | None = None, *, user: str = "") -> tuple[Snapshot, HistoryEntry]:
        """Bring back snapshot ``snapshot_id`` (default: the newest good one), recorded in the history.

        The state replaced is kept: as a snapshot (``before_restore``) when it is sound, else the damaged
        file is copied aside (``.snapshots/<name>/damaged-*.gpkg``). The restored workspace gets a
        ``restore`` history entry and a new restore token (:data:`RESTORE_TOKEN`), so every session and
        cache sees the new state; an editor's rows read before are then refused as stale.

        Returns
        -------
        (Snapshot, HistoryEntry)
            The snapshot put back and the history entry recording it.

        Raises
        ------
        StorageError
            No good snapshot (or the one named is missing or damaged), or the medium refused; the
            workspace is then as it was.
        """
        snap = snapshots.pick(self.gpkg, snapshot_id)
        if self.gpkg.exists():
            live = integrity.check(self.gpkg)
            if live.ok:
                try:
                    self._recover()
                    snapshots.take(self.gpkg, self.raster_paths(), reason="before_restore", protect={snap.id})
                except StorageError as e:
                    if e.cause != "damaged":
                        raise
                    snapshots.keep_damaged(self.gpkg)
            else:
                snapshots.keep_damaged(self.gpkg)
        snapshots.put_back(snap, self.gpkg, self.raster_paths())
        with guard(self.gpkg, RESTORE), transaction(connect(self.gpkg)) as con:
            self._bookkeeping(con)
            note = f"恢复快照 {snap.id}（{snap.time}）/ restored snapshot {snap.id} ({snap.time})"
            entry = self._record(con, "", "restore", note, user)
            con.execute("INSERT INTO gis_versions(kind, version) VALUES (?, ?) ON CONFLICT(kind) DO UPDATE "
                        "SET version = excluded.version", (RESTORE_TOKEN, time.time_ns() // 1000 % (1 << 62)))
            con.execute("UPDATE gis_versions SET version = version + 1 WHERE kind != ?", (RESTORE_TOKEN,))
            row = con.execute(f"SELECT {_HISTORY_COLS} FROM gis_history WHERE entry_id = ?", (entry,)).fetchone()
        integrity.forget(self.gpkg)
        return snap, _entry(row)

    @staticmethod
    def _bookkeeping(con: sqlite3.Connection) -> None:
        """Create the history tables if absent (inside the caller's transaction)."""
        con.execute("CREATE TABLE IF NOT EXISTS gis_history (entry_id INTEGER PRIMARY KEY AUTOINCREMENT, "
                    "time TEXT NOT NULL, user TEXT, note TEXT, kind TEXT NOT NULL, action TEXT NOT NULL, "
                    "added INTEGER NOT NULL DEFAULT 0, changed INTEGER NOT NULL DEFAULT 0, "
                    "removed INTEGER NOT NULL DEFAULT 0, undone INTEGER NOT NULL DEFAULT 0, target INTEGER)")
        con.execute("CREATE TABLE IF NOT EXISTS gis_history_rows (entry_id INTEGER NOT NULL, fid INTEGER NOT NULL, "
                    "before TEXT, after TEXT)")
        con.execute("CREATE INDEX IF NOT EXISTS gis_history_rows_entry ON gis_history_rows(entry_id)")
        con.execute("CREATE INDEX IF NOT EXISTS gis_history_rows_fid ON gis_history_rows(fid)")
        con.execute("CREATE TABLE IF NOT EXISTS gis_versions (kind TEXT PRIMARY KEY, version INTEGER NOT NULL)")

    @classmethod
    def count_write(cls, con: sqlite3.Connection, what: str) -> None:
        """Count a write of something that is not a layer (``_scenarios``) in the version table, inside the
        caller's transaction: the workspace's revision moves, and snapshots count it."""
        cls._bookkeeping(con)
        cls._bump(con, what)

    @staticmethod
    def _bump(con: sqlite3.Connection, kind: str) -> None:
        con.execute("INSERT INTO gis_versions(kind, version) VALUES (?, 1) "
                    "ON CONFLICT(kind) DO UPDATE SET version = version + 1", (kind,))

    def version(self, kind: str) -> int:
        """A number that grows on every committed change of layer ``kind`` (0 if never changed)."""
        return cast(int, self.revision().get(kind, 0))   # a layer kind's entry is its integer version

    def revision(self) -> dict[str, object]:
        """The workspace's revision: kind -> version (bumped by every committed change of that layer),
        the restore token (:data:`RESTORE_TOKEN`, changed by every restore) and each layer's last change
        time as the GeoPackage records it (``last_change:KIND``, which GDAL also updates when another
        program writes the layer). One small read; caches of maps and analyses are keyed on it.
        """
        if not self.gpkg.exists():
            return {}
        self._recover()
        with guard(self.gpkg, READ, on_error=self._on_read_error):
            con = sqlite3.connect(f"file:{self.gpkg}?mode=ro", uri=True, timeout=60)
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                out: dict[str, object] = {}
                if "gis_versions" in names:
                    out.update({str(k): int(v) for k, v in con.execute("SELECT kind, version FROM gis_versions")})
                if "gpkg_contents" in names:
                    out.update({f"last_change:{k}": str(v) for k, v in con.execute(
                        "SELECT table_name, last_change FROM gpkg_contents")})
                return out
            finally:
                con.close()

    @staticmethod
    def _has_table(con: sqlite3.Connection, kind: str) -> bool:
        return con.execute("SELECT 1 FROM gpkg_contents WHERE lower(table_name) = lower(?)", (kind,)).fetchone() \
            is not None

    def _create_table(self, con: sqlite3.Connection, kind: str, gdf: gpd.GeoDataFrame) -> None:
        """Create an empty feature table as GDAL would (contents, geometry column, R-tree, triggers)."""
        spec = get_spec(kind)
        types = {f.name: _SQL_TYPE[f.type] for f in spec.fields}
        cols = []
        if spec.id_field and spec.id_field not in gdf.columns:
            cols.append(f"{_q(spec.id_field)} TEXT")
        for c in gdf.columns:
            if c == gdf.geometry.name:
                continue
            cols.append(f"{_q(c)} {types.get(c) or _dtype_sql(gdf[c])}")
        gtypes = set(gdf.geometry.geom_type.dropna())
        gtype = _declared_type(gtypes)
        t, g, r = _q(kind), '"geom"', _q(f"rtree_{kind}_geom")
        con.execute(f'CREATE TABLE {t} ("fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {g} {gtype}, '
                    + ", ".join(cols + [f'{_q(REV)} INTEGER NOT NULL DEFAULT 0']) + ")")
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, "
                    "srs_id) VALUES (?, 'features', ?, '', ?, ?)", (kind, kind, _now(), SRS_ID))
        con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (kind, gtype, SRS_ID))
        con.execute("INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
                    "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (kind,))
        con.execute(f"CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)")
        ins = f'INSERT OR REPLACE INTO {r} VALUES (NEW."fid",ST_MinX(NEW.{g}), ST_MaxX(NEW.{g}),' \
              f'ST_MinY(NEW.{g}), ST_MaxY(NEW.{g}))'
        trig = _q(f"rtree_{kind}_geom")[:-1]
        con.execute(f'CREATE TRIGGER {trig}_insert" AFTER INSERT ON {t} WHEN (new.{g} NOT NULL AND NOT '
                    f'ST_IsEmpty(NEW.{g})) BEGIN {ins}; END')
        con.execute(f'CREATE TRIGGER {trig}_update6" AFTER UPDATE OF {g} ON {t} WHEN OLD."fid" = NEW."fid" AND '
                    f'(NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) AND (OLD.{g} NOTNULL AND NOT ST_IsEmpty(OLD.{g})) '
                    f'BEGIN UPDATE {r} SET minx = ST_MinX(NEW.{g}), maxx = ST_MaxX(NEW.{g}),miny = ST_MinY(NEW.{g}), '
                    f'maxy = ST_MaxY(NEW.{g}) WHERE id = NEW."fid";END')
        con.execute(f'CREATE TRIGGER {trig}_update7" AFTER UPDATE OF {g} ON {t} WHEN OLD."fid" = NEW."fid" AND '
                    f'(NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) AND (OLD.{g} ISNULL OR ST_IsEmpty(OLD.{g})) '
                    f'BEGIN {ins.replace("INSERT OR REPLACE", "INSERT")}; END')
        con.execute(f'CREATE TRIGGER {trig}_update2" AFTER UPDATE OF {g} ON {t} WHEN OLD."fid" = NEW."fid" AND '
                    f'(NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {r} WHERE id = OLD."fid"; END')
        con.execute(f'CREATE TRIGGER {trig}_update5" AFTER UPDATE ON {t} WHEN OLD."fid" != NEW."fid" AND '
                    f'(NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {r} WHERE id = OLD."fid"; '
                    f'{ins}; END')
        con.execute(f'CREATE TRIGGER {trig}_update4" AFTER UPDATE ON {t} WHEN OLD."fid" != NEW."fid" AND '
                    f'(NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {r} WHERE id IN (OLD."fid", '
                    f'NEW."fid"); END')
        con.execute(f'CREATE TRIGGER {trig}_delete" AFTER DELETE ON {t} WHEN old.{g} NOT NULL BEGIN DELETE FROM '
                    f'{r} WHERE id = OLD."fid"; END')
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
            con.execute("INSERT INTO gpkg_ogr_contents VALUES (?, 0)", (kind,))
            name = _q(f"trigger_insert_feature_count_{kind}")
            con.execute(f"CREATE TRIGGER {name} AFTER INSERT ON {t} BEGIN UPDATE gpkg_ogr_contents SET "
                        f"feature_count = feature_count + 1 WHERE lower(table_name) = lower('{kind}'); END")
            name = _q(f"trigger_delete_feature_count_{kind}")
            con.execute(f"CREATE TRIGGER {name} AFTER DELETE ON {t} BEGIN UPDATE gpkg_ogr_contents SET "
                        f"feature_count = feature_count - 1 WHERE lower(table_name) = lower('{kind}'); END")

    @staticmethod
    def _ensure_columns(con: sqlite3.Connection, table: _Table, gdf: gpd.GeoDataFrame | None) -> _Table:
        """Add ``_rev`` and any new columns of ``gdf`` to the table (inside the transaction)."""
        changed = False
        if REV not in table.types:
            con.execute(f"ALTER TABLE {_q(table.kind)} ADD COLUMN {_q(REV)} INTEGER NOT NULL DEFAULT 0")
            changed = True
        if gdf is not None:
            types = {f.name: _SQL_TYPE[f.type] for f in get_spec(table.kind).fields}
            for c in gdf.columns:
                if c in table.types or c == gdf.geometry.name or c in ("fid", REV):
                    continue
                con.execute(f"ALTER TABLE {_q(table.kind)} ADD COLUMN {_q(c)} {types.get(c) or _dtype_sql(gdf[c])}")
                changed = True
        return _Table(con, table.kind) if changed else table

    # ---- rows ----------------------------------------------------------------------------------
    @staticmethod
    def _rows(con: sqlite3.Connection, table: _Table, fids: list[int] | None = None) -> dict[int, dict]:
        cols = table.columns
        sel = ", ".join(_q(c) for c in [table.fid, *cols])
        if fids is None:
            cur = con.execute(f"SELECT {sel} FROM {_q(table.kind)}")
        else:
            out: dict[int, dict] = {}
            for i in range(0, len(fids), 500):
                chunk = fids[i:i + 500]
                cur = con.execute(f"SELECT {sel} FROM {_q(table.kind)} WHERE {_q(table.fid)} IN "
                                  f"({', '.join('?' * len(chunk))})", chunk)
                out.update({r[0]: dict(zip(cols, r[1:])) for r in cur})
            return out
        return {r[0]: dict(zip(cols, r[1:])) for r in cur}

    def _write(self, con: sqlite3.Connection, table: _Table, changes: list[tuple[int | None, dict | None, dict | None]],
               entry_id: int) -> None:
        """Write rows (fid, before, after) and record them under ``entry_id``.

        ``before`` is the stored row (None for a new one), ``after`` the new values (None to
        delete). The new ``_rev`` is one more than the larger of the stored and the target revision.
        """
        t, fid = _q(table.kind), _q(table.fid)
        cols = table.columns
        record: list[tuple[int, int | None, str | None, str | None]] = []
        deletes, inserts, updates = [], [], []
        top: int | None = None
        for key, before, after in changes:
            if after is None:
                deletes.append((key,))
                record.append((entry_id, key, _to_json(before), None))
                continue
            after = {c: after.get(c) for c in cols}
            after[REV] = max(int((before or {}).get(REV) or 0), int(after.get(REV) or 0)) + 1
            if before is None:
                if key is None:         # new feature: the next fid, as AUTOINCREMENT would give it
                    top = self._top_fid(con, table) if top is None else top
                    top += 1
                    key = top
                inserts.append([key] + [after[c] for c in cols])
            else:
                updates.append([after[c] for c in cols] + [key])
            record.append((entry_id, key, _to_json(before), _to_json(after)))
        if deletes:
            con.executemany(f"DELETE FROM {t} WHERE {fid} = ?", deletes)
        if inserts:
            con.executemany(f"INSERT INTO {t} ({', '.join(_q(c) for c in [table.fid, *cols])}) VALUES "
                            f"({', '.join('?' * (len(cols) + 1))})", inserts)
        if updates:
            con.executemany(f"UPDATE {t} SET {', '.join(_q(c) + ' = ?' for c in cols)} WHERE {fid} = ?", updates)
        con.executemany("INSERT INTO gis_history_rows VALUES (?, ?, ?, ?)", record)

    @staticmethod
    def _touch(con: sqlite3.Connection, table: _Table) -> None:
        """Refresh the layer's extent and last change in ``gpkg_contents``."""
        rtree = f"rtree_{table.kind}_{table.geom}"
        ext = (None,) * 4
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (rtree,)).fetchone():
            ext = con.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {_q(rtree)}").fetchone()
        con.execute("UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ? "
                    "WHERE lower(table_name) = lower(?)", (_now(), *ext, table.kind))

    def _record(self, con: sqlite3.Connection, kind: str, action: str, note: str, user: str,
                target: int | None = None) -> int:
        cur = con.execute("INSERT INTO gis_history (time, user, note, kind, action, target) VALUES (?, ?, ?, ?, ?, ?)",
                          (_now(), user, note, kind, action, target))
        assert cur.lastrowid is not None  # set by the INSERT just made
        return cur.lastrowid

    def _finish(self, con: sqlite3.Connection, table: _Table, entry_id: int, counts: tuple[int, int, int]
                ) -> HistoryEntry:
        con.execute("UPDATE gis_history SET added = ?, changed = ?, removed = ? WHERE entry_id = ?",
                    (*counts, entry_id))
        self._touch(con, table)
        self._bump(con, table.kind)
        row = con.execute(f"SELECT {_HISTORY_COLS} FROM gis_history WHERE entry_id = ?", (entry_id,)).fetchone()
        return _entry(row)

    def _validated(self, kind: str, gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
        """Run rows through :func:`layers.validate.validate` like an import; EPSG:4490 out."""
        from layers.crs import to_storage
        from layers.validate import validate

        raw = gdf.drop(columns=[c for c in ("fid", REV) if c in gdf.columns])
        if raw.crs is None:
            raw = raw.set_crs(SRS_ID)
        if "_row" not in raw.columns:
            raw = raw.assign(_row=gdf["fid"].to_numpy() if "fid" in gdf.columns else np.arange(1, len(raw) + 1))
        out, _ = validate(raw, get_spec(kind), source=source)
        return to_storage(out)

    @staticmethod
    def _top_fid(con: sqlite3.Connection, table: _Table) -> int:
        """The largest fid ever given in the table (AUTOINCREMENT never reuses one)."""
        top = con.execute(f"SELECT coalesce(max({_q(table.fid)}), 0) FROM {_q(table.kind)}").fetchone()[0]
        seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table.kind,)).fetchone() \
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone() else None
        return max(int(top), int(seq[0]) if seq and seq[0] is not None else 0)

    @staticmethod
    def _fill_ids(con: sqlite3.Connection, table: _Table, both: gpd.GeoDataFrame, rows: np.ndarray) -> None:
        """Give added rows without an identifier one (kind's initial + a new number), in place."""
        key = get_spec(table.kind).id_field
        if not key or key not in table.fields:
            return
        if key not in both.columns:
            both[key] = None
        top = Workspace._top_fid(con, table)
        ids = np.array(both[key].astype(object).to_numpy(), dtype=object)
        for i in np.flatnonzero(rows <= 0):
            v = ids[i]
            if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "":
                top += 1
                ids[i] = get_spec(table.kind).make_id(top)
        both[key] = ids

    @staticmethod
    def _check_ids(con: sqlite3.Connection, table: _Table, checked: gpd.GeoDataFrame, rows: np.ndarray,
                   label: list) -> None:
        """Refuse an identifier another feature of the layer already has."""
        key = get_spec(table.kind).id_field
        if not key or key not in table.fields or key not in checked.columns:
            return
        problems = []
        edited = {int(r) for r in rows if r > 0}
        owner: dict[str, int] = {}
        for v, f in con.execute(f"SELECT {_q(key)}, {_q(table.fid)} FROM {_q(table.kind)} WHERE {_q(key)} IS NOT NULL"):
            if int(f) not in edited:
                owner.setdefault(str(v), int(f))
        for i, v in enumerate(checked[key].to_numpy(dtype=object)):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            owned = owner.get(str(v))
            other = None if owned is None else (owned,)
            if other:
                spec = get_spec(table.kind)
                problems.append(Problem(f"编号“{v}”已被要素 {other[0]} 使用", f"identifier '{v}' is already used by "
                                        f"feature {other[0]}", "每个要素使用唯一编号", "give every feature its own "
                                        "identifier", file=f"{spec.zh}（编辑）", row=label[i],
                                        field=spec.field(key).zh))
        if problems:
            raise LayerError(problems)

    @staticmethod
    def _row_values(gdf: gpd.GeoDataFrame, i: int, table: _Table) -> dict:
        row = {c: _sql_value(gdf[c].iloc[i]) for c in table.fields if c in gdf.columns}
        if table.geom:
            row[table.geom] = gpkg_blob(gdf.geometry.iloc[i])
        return row

    @staticmethod
    def _all_row_values(gdf: gpd.GeoDataFrame, table: _Table) -> list[dict]:
        """:meth:`_row_values` of every row, column by column."""
        cols = {c: [_sql_value(v) for v in gdf[c].to_numpy(dtype=object)] for c in table.fields if c in gdf.columns}
        if table.geom:
            cols[table.geom] = [gpkg_blob(g) for g in gdf.geometry.to_numpy()]
        names = list(cols)
        return [dict(zip(names, vals)) for vals in zip(*(cols[c] for c in names))] if names else [{}] * len(gdf)

    # ---- LayerStore ----------------------------------------------------------------------------
    def apply(self, changes: ChangeSet, *, note: str, user: str) -> HistoryEntry:
        """Validate and commit one change set in one transaction.

        Raises
        ------
        ConflictError
            An update or delete whose ``base_rev`` is no longer the stored ``_rev`` (another
            session saved the feature first, or deleted it); nothing is changed. Each
            :class:`~layers.edits.Conflict` names a field both sides changed (yours: your value,
            theirs: the saved one) or, when the other side changed only other fields, each of those
            (yours: the value you read); ``field`` is ``""`` for a feature deleted meanwhile and
            ``"_rev"`` (yours: base_rev, theirs: stored) for a delete of a feature changed meanwhile.
        LayerError
            A changed or added row that would not pass an import; nothing is changed.
        """
        kind = changes.kind
        get_spec(kind)
        with self.writing(), transaction(self._connect()) as con:
            self._bookkeeping(con)
            new = changes.added if changes.added is not None and len(changes.added) else None
            if not self._has_table(con, kind):
                if changes.updated or changes.deleted or new is None:
                    raise self._missing(kind)
                self._create_table(con, kind, self._validated(kind, new, f"{kind}（新增）"))
            table = self._ensure_columns(con, _Table(con, kind), None)
            fids = [u.fid for u in changes.updated] + [d.fid for d in changes.deleted]
            stored = self._rows(con, table, fids)
            conflicts: list[Conflict] = []
            for u in changes.updated:
                cur = stored.get(u.fid)
                if cur is None:
                    conflicts.append(Conflict(u.fid, "", u.values, None))
                elif int(cur.get(REV) or 0) != u.base_rev:
                    conflicts += self._update_conflicts(con, table, u, cur)
            for d in changes.deleted:
                cur = stored.get(d.fid)
                if cur is None:
                    conflicts.append(Conflict(d.fid, "", None, None))
                elif int(cur.get(REV) or 0) != d.base_rev:
                    conflicts.append(Conflict(d.fid, REV, d.base_rev, int(cur.get(REV) or 0)))
            if conflicts:
                raise ConflictError(conflicts, kind)
            unknown = sorted({k for u in changes.updated for k in u.values} - set(table.fields) - {"geometry"}
                             - {f.name for f in get_spec(kind).fields})
            if unknown:
                raise LayerError(Problem(f"图层没有字段：{'、'.join(unknown)}", f"the layer has no field {unknown}",
                                         "只修改图层已有的字段", "change only the layer's fields", file=kind))
            # the changed rows as the editor wants them, plus the added ones: validated together
            frames = []
            if changes.updated:
                recs = []
                for u in changes.updated:
                    cur = stored[u.fid]
                    rec = {c: cur.get(c) for c in table.fields}
                    rec.update({k: v for k, v in u.values.items() if k != "geometry"})
                    rec["geometry"] = u.values["geometry"] if "geometry" in u.values else blob_geometry(
                        cur.get(table.geom))
                    rec["fid"] = u.fid
                    recs.append(rec)
                frames.append(gpd.GeoDataFrame(recs, geometry="geometry", crs=SRS_ID))
            if new is not None:
                extra = new.drop(columns=[c for c in ("fid", REV) if c in new.columns])
                extra = extra.to_crs(SRS_ID) if extra.crs is not None else extra.set_crs(SRS_ID)
                extra = extra.rename_geometry("geometry") if extra.geometry.name != "geometry" else extra
                frames.append(gpd.GeoDataFrame(extra.assign(fid=-1), geometry="geometry", crs=SRS_ID))
            entry = self._record(con, kind, "edit", note, user)
            writes: list[tuple[int | None, dict | None, dict | None]] = []
            if frames:
                both = pd.concat(frames, ignore_index=True)
                both = gpd.GeoDataFrame(both, geometry="geometry", crs=SRS_ID)
                rows = both["fid"].to_numpy()
                both = both.assign(fid=np.where(rows > 0, rows, 0))
                self._fill_ids(con, table, both, rows)
                label = [int(r) if r > 0 else f"新增{i + 1 - int((rows > 0).sum())}" for i, r in enumerate(rows)]
                checked = self._validated(kind, both.assign(_row=label), f"{get_spec(kind).zh}（编辑）")
                self._check_ids(con, table, checked, rows, label)
                table = self._ensure_columns(con, table, checked)
                for i, r in enumerate(rows):
                    vals = self._row_values(checked, i, table)
                    if r > 0:
                        cur = stored[int(r)]
                        writes.append((int(r), cur, {**cur, **vals}))
                    else:
                        writes.append((None, None, vals))
            writes += [(d.fid, stored[d.fid], None) for d in changes.deleted]
            self._write(con, table, writes, entry)
            counts = (0 if new is None else len(new), len(changes.updated), len(changes.deleted))
            out = self._finish(con, table, entry, counts)
            return out

    @staticmethod
    def _snapshot(con: sqlite3.Connection, kind: str, fid: int, rev: int) -> dict | None:
        """The stored row of feature ``fid`` at revision ``rev``, from the history (None if unknown)."""
        for before, after in con.execute("SELECT r.before, r.after FROM gis_history_rows r JOIN gis_history h ON "
                                         "h.entry_id = r.entry_id WHERE r.fid = ? AND h.kind = ? ORDER BY "
                                         "r.entry_id DESC", (fid, kind)):
            for snap in (after, before):
                row = _from_json(snap)
                if row is not None and int(row.get(REV) or 0) == rev:
                    return row
        return None

    def _update_conflicts(self, con: sqlite3.Connection, table: _Table, u, cur: dict) -> list[Conflict]:
        """Conflicts of a stale update: the fields both sides changed, else the fields the other side changed.

        Without the base row in the history: the update's fields whose stored value differs from
        yours (all of them when none does).
        """
        def value(row: dict, k: str) -> object:
            return blob_geometry(row.get(table.geom)) if k == "geometry" else row.get(k)

        def column(k: str) -> str | None:
            return table.geom if k == "geometry" else k

        base = self._snapshot(con, table.kind, u.fid, u.base_rev)
        if base is not None:
            theirs = [k for k in [*table.fields, "geometry"] if column(k) in base
                      and not (base.get(column(k)) is None and cur.get(column(k)) is None)
                      and not _same(base.get(column(k)), cur.get(column(k)))]
            both = [k for k in u.values if k in theirs]
            if both:
                return [Conflict(u.fid, k, u.values[k], value(cur, k)) for k in both]
            if theirs:
                return [Conflict(u.fid, k, value(base, k), value(cur, k)) for k in theirs]
        differ = [k for k in u.values if not _same(_sql_value(u.values[k]) if k != "geometry" else u.values[k],
                                                   value(cur, k))] or list(u.values)
        return [Conflict(u.fid, k, u.values[k], value(cur, k)) for k in differ]

    def _match(self, kind: str, current: gpd.GeoDataFrame, gdf: gpd.GeoDataFrame) -> tuple[dict[int, int], str | None]:
        """New row position -> existing fid, matched by the kind's id field (or name)."""
        spec = get_spec(kind)
        key = next((k for k in (spec.id_field, "name") if k and k in gdf.columns and k in current.columns), None)
        if key is None:
            return {}, None
        have: dict[object, int] = {}
        for fid, v in zip(current["fid"].to_numpy(), current[key].to_numpy(dtype=object)):
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                have.setdefault(str(v), int(fid))
        out: dict[int, int] = {}
        used: set[int] = set()
        for i, v in enumerate(gdf[key].to_numpy(dtype=object)):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            fid = have.get(str(v))
            if fid is not None and fid not in used:
                out[i] = fid
                used.add(fid)
        return out, key

    @staticmethod
    def _differences(kind: str, new: gpd.GeoDataFrame, current: gpd.GeoDataFrame, match: dict[int, int],
                     fields: list[str]) -> dict[int, list[str]]:
        """New row position -> fields (and ``geometry``) that differ from the matched feature.

        Fields absent on either side are not compared; empty text and missing are the same.
        """
        if not match:
            return {}
        ii = np.fromiter(match.keys(), dtype=np.int64, count=len(match))
        pos = pd.Index(current["fid"].to_numpy()).get_indexer(np.fromiter(match.values(), dtype=np.int64))
        spec = get_spec(kind)
        numeric = {f.name for f in spec.fields if f.type in ("int", "float", "bool")}
        out: dict[int, list[str]] = {}
        for c in fields:
            if c not in new.columns or c not in current.columns:
                continue
            a = _norm(new[c].to_numpy(dtype=object)[ii])
            b = _norm(current[c].to_numpy(dtype=object)[pos])
            if c in numeric:
                fa = pd.to_numeric(pd.Series(a, dtype=object), errors="coerce").to_numpy(dtype=float)
                fb = pd.to_numeric(pd.Series(b, dtype=object), errors="coerce").to_numpy(dtype=float)
                same = (np.isnan(fa) & np.isnan(fb)) | np.isclose(fa, fb, rtol=1e-12, atol=1e-12)
            else:
                same = np.array([x == y for x, y in zip(a, b)], dtype=bool)
            for k in np.flatnonzero(~same):
                out.setdefault(int(ii[k]), []).append(c)
        ga, gb = new.geometry.to_numpy()[ii], current.geometry.to_numpy()[pos]
        na, nb = shapely.is_missing(ga), shapely.is_missing(gb)
        same = (na & nb) | (~na & ~nb & shapely.equals_exact(ga, gb, tolerance=1e-9))
        for k in np.flatnonzero(~same):
            out.setdefault(int(ii[k]), []).append("geometry")
        return out

    def diff(self, kind: str, gdf: gpd.GeoDataFrame, *, append: bool = False) -> ImportDiff:
        """What importing ``gdf`` (validated, canonical) as ``kind`` would change.

        New rows are matched to existing features by the kind's id field (or ``name``): a match
        that differs is *changed*, no match is *added*, and (when replacing) an existing feature
        no new row matches is *removed*. Appending never removes.
        """
        new = gdf.to_crs(SRS_ID) if gdf.crs is not None else gdf.set_crs(SRS_ID)
        new = new.rename_geometry("geometry") if new.geometry.name != "geometry" else new
        new = _without_generated_ids(kind, new).reset_index(drop=True)
        if kind in self.vector_kinds():
            current = self.read(kind)
        else:
            current = gpd.GeoDataFrame({"fid": pd.Series([], dtype="int64")}, geometry=[], crs=SRS_ID)
        match, _ = self._match(kind, current, new)
        fields = [c for c in new.columns if c != "geometry" and c not in ("fid", REV, "_row")]
        diffs = self._differences(kind, new, current, match, fields)
        changed_idx = sorted(diffs)
        changed_fields = {match[i]: diffs[i] for i in changed_idx}
        added = new.loc[[i for i in range(len(new)) if i not in match]]
        matched_fids = set(match.values())
        removed = current.iloc[0:0] if append else current[~current["fid"].isin(matched_fids)]
        changed = new.loc[changed_idx].assign(fid=[match[i] for i in changed_idx])
        return ImportDiff(kind, added.reset_index(drop=True), removed.reset_index(drop=True),
                          changed.reset_index(drop=True), changed_fields)

    def replace(self, kind: str, gdf: gpd.GeoDataFrame, *, note: str, user: str,
                append: bool = False) -> HistoryEntry:
        """Import ``gdf`` as layer ``kind`` (replace it, or append to it) in one transaction.

        Rows matching an existing feature (see :meth:`diff`) update it and keep its fid; the rest
        are added; when replacing, the features no row matched are deleted. Validated first;
        on any problem nothing is written.
        """
        checked = self._validated(kind, gdf, gdf.attrs.get("source") or kind)
        if gdf.attrs.get("generated_ids"):
            checked = _without_generated_ids(kind, checked.assign(**{}).pipe(_mark_generated))
        with self.writing(), transaction(self._connect()) as con:
            self._bookkeeping(con)
            if not self._has_table(con, kind):
                self._create_table(con, kind, checked)
            table = self._ensure_columns(con, _Table(con, kind), checked)
            stored = self._rows(con, table)
            current = self._frame(stored, table)
            match, _ = self._match(kind, current, checked)
            self._fill_ids(con, table, checked, np.array([match.get(i, 0) for i in range(len(checked))]))
            entry = self._record(con, kind, "append" if append else "replace", note, user)
            diffs = self._differences(kind, checked, current, match, table.fields)
            writes: list[tuple[int | None, dict | None, dict | None]] = []
            changed = 0
            for i, vals in enumerate(self._all_row_values(checked, table)):
                fid = match.get(i)
                if fid is None:
                    writes.append((None, None, vals))
                elif i in diffs:
                    writes.append((fid, stored[fid], {**stored[fid], **vals}))
                    changed += 1
            removed = [] if append else sorted(set(stored) - set(match.values()))
            writes += [(fid, stored[fid], None) for fid in removed]
            self._write(con, table, writes, entry)
            out = self._finish(con, table, entry, (len(checked) - len(match), changed, len(removed)))
            return out

    @staticmethod
    def _frame(stored: dict[int, dict], table: _Table) -> gpd.GeoDataFrame:
        fids = list(stored)
        data: dict[str, object] = {"fid": np.array(fids, dtype="int64")}
        for c in table.fields:
            data[c] = [stored[f].get(c) for f in fids]
        geoms: np.ndarray | list[None]
        if table.geom:
            blobs = [stored[f].get(table.geom) for f in fids]
            wkb = np.array([None if b is None else blob_wkb(b) for b in blobs],
                           dtype=object)
            geoms = shapely.from_wkb(wkb)
        else:
            geoms = [None] * len(fids)
        return gpd.GeoDataFrame(data, geometry=geoms, crs=SRS_ID)

    def history(self, kind: str | None = None, limit: int = 100) -> list[HistoryEntry]:
        """History entries, newest first (of one layer, or all)."""
        if not self.gpkg.exists():
            return []
        self._recover()
        h = self.health()
        if not h.ok and (h.whole or any(t.startswith("gis_history") for t in h.tables)):
            raise h.error(READ)
        try:
            con = sqlite3.connect(f"file:{self.gpkg}?mode=ro", uri=True, timeout=60)
            try:
                if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gis_history'").fetchone():
                    return []
                where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
                rows = con.execute(f"SELECT {_HISTORY_COLS} FROM gis_history {where} ORDER BY entry_id DESC LIMIT ?",
                                   (*args, int(limit))).fetchall()
                return [_entry(r) for r in rows]
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise self._unreadable(e) from e

    def _reapply(self, *, user: str, redo: bool) -> HistoryEntry | None:
        with self.writing(), transaction(self._connect()) as con:
            self._bookkeeping(con)
            acts = ", ".join(f"'{a}'" for a in _NEW_ACTIONS)
            if redo:
                live = con.execute(f"SELECT max(entry_id) FROM gis_history WHERE action IN ({acts}) AND undone = 0"
                                   ).fetchone()[0] or 0
                row = con.execute(f"SELECT entry_id, kind FROM gis_history WHERE action IN ({acts}) AND undone = 1 "
                                  "AND entry_id > ? ORDER BY entry_id LIMIT 1", (live,)).fetchone()
            else:
                row = con.execute(f"SELECT entry_id, kind FROM gis_history WHERE action IN ({acts}) AND undone = 0 "
                                  "ORDER BY entry_id DESC LIMIT 1").fetchone()
            if row is None:
                return None
            target, kind = int(row[0]), row[1]
            if not self._has_table(con, kind):
                raise self._missing(kind)
            table = _Table(con, kind)
            recs = [(int(f), _from_json(b), _from_json(a)) for f, b, a in con.execute(
                "SELECT fid, before, after FROM gis_history_rows WHERE entry_id = ?", (target,))]
            table = self._ensure_columns(con, table, None)
            stored = self._rows(con, table, [f for f, _, _ in recs])
            conflicts: list[Conflict] = []
            writes: list[tuple[int | None, dict | None, dict | None]] = []
            for fid, before, after in recs:
                want_now, goal = (before, after) if redo else (after, before)
                cur = stored.get(fid)
                if (cur is None) != (want_now is None):
                    conflicts.append(Conflict(fid, "", want_now, cur))
                elif cur is not None and want_now is not None:
                    # the row must be as the entry left it (or found it, for a redo)
                    conflicts += [Conflict(fid, c, want_now.get(c), cur.get(c)) for c in want_now
                                  if c != REV and c in cur and not (cur.get(c) is None and want_now.get(c) is None)
                                  and not _same(cur.get(c), want_now.get(c))]
                writes.append((fid, cur, None if goal is None else {**goal, REV: max(
                    int((cur or {}).get(REV) or 0), int(goal.get(REV) or 0))}))
            if conflicts:
                raise ConflictError(conflicts, kind)
            note = f"{'重做' if redo else '撤销'} #{target}"
            entry = self._record(con, kind, "redo" if redo else "undo", note, user, target)
            self._write(con, table, writes, entry)
            con.execute("UPDATE gis_history SET undone = ? WHERE entry_id = ?", (0 if redo else 1, target))
            counts = (sum(b is None and g is not None for _, b, g in writes),
                      sum(b is not None and g is not None for _, b, g in writes),
                      sum(g is None for _, _, g in writes))
            out = self._finish(con, table, entry, counts)
            return out

    def undo(self, *, user: str) -> HistoryEntry | None:
        """Undo the latest change not yet undone (recorded as an ``undo`` entry); None if nothing to undo."""
        return self._reapply(user=user, redo=False)

    def redo(self, *, user: str) -> HistoryEntry | None:
        """Redo the earliest change undone since the last new change; None if nothing to redo."""
        return self._reapply(user=user, redo=True)


def _not_sqlite(path: Path) -> bool:
    """True when ``path`` does not start like an SQLite database (truncated to nothing, or not one at all)."""
    try:
        with open(path, "rb") as f:
            return f.read(16) != b"SQLite format 3\x00"
    except OSError:
        return True


def _norm(values: np.ndarray) -> list:
    """Values as comparable SQLite values; empty or blank text counts as missing."""
    out = []
    for v in values:
        v = _sql_value(v)
        if isinstance(v, str) and not v.strip():
            v = None
        out.append(v)
    return out


def _mark_generated(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf.attrs["generated_ids"] = True
    return gdf


def _without_generated_ids(kind: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop identifiers the validator made up from row numbers (they would match unrelated features).

    Features are then matched by name, matched ones keep their identifier, new ones get a fresh one.
    """
    key = get_spec(kind).id_field
    if gdf.attrs.get("generated_ids") and key and key in gdf.columns:
        return gdf.drop(columns=[key])
    return gdf


def _dtype_sql(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "INTEGER"
    if pd.api.types.is_float_dtype(s.dtype):
        return "REAL"
    return "TEXT"


def _declared_type(types: set[str]) -> str:
    fams = {t.replace("Multi", "") for t in types}
    if len(fams) != 1:
        return "GEOMETRY"
    fam = fams.pop().upper()
    return ("MULTI" + fam) if any(t.startswith("Multi") for t in types) else fam
