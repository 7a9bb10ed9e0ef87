"""The GeoPackage file itself: created empty and atomically, opened with the SQL functions GDAL's R-tree
triggers call, written in one transaction, and its geometry binary encoded and decoded; plus one small
table of per-layer import choices kept with the workspace (:data:`OPTIONS_TABLE`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["SRS_ID", "gpkg_blob", "blob_wkb", "blob_geometry", "connect", "transaction", "Locked", "create_gpkg",
           "OPTIONS_TABLE", "read_layer_option", "write_layer_option"]

SRS_ID = 4490
_TIMEOUT_MS = 60000                     # how long a connection waits for another's lock
_ENV_SIZE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def gpkg_blob(geom: BaseGeometry | None, srs_id: int = SRS_ID) -> bytes | None:
    """Encode a shapely geometry as GeoPackage binary (little-endian header, envelope, ISO WKB).

    Points get no envelope (as GDAL writes them); empty geometries get the empty flag.
    """
    if geom is None:
        return None
    if shapely.is_empty(geom):
        return b"GP\x00" + bytes([0x01 | 0x10]) + struct.pack("<i", srs_id) + shapely.to_wkb(
            geom, byte_order=1, flavor="iso")
    wkb = shapely.to_wkb(geom, byte_order=1, flavor="iso", include_srid=False)
    if geom.geom_type == "Point":
        return b"GP\x00\x01" + struct.pack("<i", srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    return b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb


def blob_wkb(blob: bytes) -> bytes:
    """The ISO WKB inside GeoPackage binary (the header and envelope skipped)."""
    return bytes(blob[8 + _ENV_SIZE[(blob[3] >> 1) & 7]:])


def blob_geometry(blob: bytes | None) -> BaseGeometry | None:
    """Decode GeoPackage binary to a shapely geometry (None for NULL)."""
    if blob is None:
        return None
    return shapely.from_wkb(blob_wkb(blob))


@lru_cache(maxsize=256)
def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage geometry, or None when empty."""
    flags = blob[3]
    if flags & 0x10:
        return None
    env = (flags >> 1) & 7
    if env:
        fmt = "<4d" if flags & 1 else ">4d"
        return struct.unpack(fmt, blob[8:40])
    g = blob_geometry(blob)
    if g is None or g.is_empty:
        return None
    minx, miny, maxx, maxy = g.bounds
    return minx, maxx, miny, maxy


def _st(i: int):
    def f(blob):
        if blob is None:
            return None
        e = _envelope(bytes(blob))
        return None if e is None else e[i]
    return f


def _st_is_empty(blob) -> int | None:
    if blob is None:
        return None
    return 1 if _envelope(bytes(blob)) is None else 0


def connect(path: Path) -> sqlite3.Connection:
    """An SQLite connection to a GeoPackage with the functions GDAL's R-tree triggers call.

    Autocommit mode: callers open transactions with ``BEGIN IMMEDIATE`` themselves.
    """
    con = sqlite3.connect(str(path), timeout=_TIMEOUT_MS / 1000, isolation_level=None)
    con.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, _st(i), deterministic=True)
    con.create_function("GPKG_IsAssignable", 2, lambda a, b: 1, deterministic=True)
    return con


@contextlib.contextmanager
def transaction(con: sqlite3.Connection, *, close: bool = True, wait: bool = True) -> Iterator[sqlite3.Connection]:
    """One write transaction on a connection from :func:`connect`: ``BEGIN IMMEDIATE`` ... ``COMMIT``,
    rolled back on any error (a killed process leaves the previous state: SQLite's journal); closes it
    unless ``close=False`` (a caller keeping the connection for many small transactions). With
    ``wait=False``, :class:`Locked` is raised at once when another connection holds the write lock."""
    try:
        if wait:
            con.execute("BEGIN IMMEDIATE")
        else:
            _begin_now(con)
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            with contextlib.suppress(sqlite3.Error):   # a failing medium may refuse the rollback too: the
                con.execute("ROLLBACK")                # journal then rolls it back on the next open
        raise
    finally:
        if close:
            con.close()


class Locked(Exception):
    """Another connection holds the GeoPackage's write lock (from :func:`transaction` with ``wait=False``)."""


def _begin_now(con: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` without waiting for the lock (:class:`Locked` when held); the connection's wait for
    readers at ``COMMIT`` is kept."""
    con.execute("PRAGMA busy_timeout = 0")
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise Locked(str(e)) from None
        raise
    finally:
        con.execute(f"PRAGMA busy_timeout = {_TIMEOUT_MS}")


def create_gpkg(path: Path) -> None:
    """Create an empty GeoPackage (with the CGCS2000 SRS registered) at ``path``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".gpkg", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        seed = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4490")
        seed.to_file(tmp, layer="gis_seed", driver="GPKG")
        con = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            con.execute("BEGIN")
            for t in ("gis_seed", "rtree_gis_seed_geom"):
                con.execute(f'DROP TABLE IF EXISTS "{t}"')
            for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents"):
                con.execute(f"DELETE FROM {meta} WHERE lower(table_name) = 'gis_seed'")
            con.execute("COMMIT")
            con.execute("VACUUM")
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---- per-layer import choices ------------------------------------------------------------------

#: the table of what the user chose when importing a file as a layer (today: the web-map offset), so
#: that the next import of the same file as the same layer gets the same treatment
OPTIONS_TABLE = "gis_layer_options"


def read_layer_option(path: Path, kind: str, source: str) -> dict | None:
    """The choice recorded for importing file ``source`` as layer ``kind``, or None.

    Parameters
    ----------
    path : pathlib.Path
        The GeoPackage (missing: None).
    kind : str
        Layer kind.
    source : str
        The file's name as the user gave it (no folder).

    Returns
    -------
    dict or None
        ``{"offset": "gcj02" | "bd09" | "none", "time": ISO time}``.
    """
    path = Path(path)
    if not path.exists():
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (OPTIONS_TABLE,)).fetchone():
            return None
        row = con.execute(f"SELECT offset, time FROM {OPTIONS_TABLE} WHERE kind = ? AND source = ?",
                          (kind, source)).fetchone()
    finally:
        con.close()
    return None if row is None else {"offset": row[0], "time": row[1]}


def write_layer_option(path: Path, kind: str, source: str, *, offset: str, time: str) -> None:
    """Record (replace) the choice for importing ``source`` as ``kind``, in one transaction.

    Parameters
    ----------
    path : pathlib.Path
        The GeoPackage (created empty when missing).
    kind, source : str
        As :func:`read_layer_option`.
    offset : {'gcj02', 'bd09', 'none'}
        The web-map offset removed, or ``"none"`` (the user said the file carries none).
    time : str
        When (ISO 8601).
    """
    if offset not in ("gcj02", "bd09", "none"):
        raise ValueError(f"offset must be 'gcj02', 'bd09' or 'none', not {offset!r}")
    path = Path(path)
    if not path.exists():
        create_gpkg(path)
    with transaction(connect(path)) as con:
        con.execute(f"CREATE TABLE IF NOT EXISTS {OPTIONS_TABLE} (kind TEXT NOT NULL, source TEXT NOT NULL, "
                    "offset TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY (kind, source))")
        con.execute(f"INSERT OR REPLACE INTO {OPTIONS_TABLE} (kind, source, offset, time) VALUES (?, ?, ?, ?)",
                    (kind, source, offset, time))
