"""The operations record (应急响应记录): warnings and every update during a flood, kept in the workspace.

A warning and everything that happens under it are kept beside the layers, in the workspace
GeoPackage (plain SQLite tables, which GDAL and the layer list ignore) or in the PostGIS store's
schema (:class:`layers.postgis.PostGISStore`), in these tables:

``gis_ops_warnings``
    One row per warning: id, level, message, issue time, issuer, the area it covers (JSON), its
    totals, and the acknowledgment deadlines per level it was issued with.
``gis_ops_grids``, ``gis_ops_contacts``, ``gis_ops_shelters``, ``gis_ops_routes``
    What the warning covered, as it was when it was issued: the grids (people, responsible person,
    planned shelter), the call-out list (who to call at each level, whom they answer for, who to
    escalate to), the shelters it may use and the plan's routes. Later edits of the layers do not
    change a warning under way.
``gis_ops_events``
    Every update: acknowledgments (``ack``), report-backs (``report``), shelter check-ins
    (``checkin``), supply dispatches (``dispatch``) and the warning's end (``close``), each with the
    time it happened (``at``), the time it was recorded, and who recorded it.

**Append-only.** Entries are never updated or deleted. A correction is a new entry that names the
entry it supersedes (``supersedes``; ``void`` for one that only cancels); figures are derived from
the entries not superseded, and every counter (people moved, checked in, acknowledged) is computed
from them when asked, never kept and re-written. So concurrent writers (several officers, processes,
browser sessions) each append one row in one transaction and lose nothing.

**Checked before writing.** Each entry is checked and written atomically. In a GeoPackage a write is
a ``BEGIN IMMEDIATE`` transaction (writers of other processes queue on SQLite's lock); officers
writing at once from one process (the sessions of one app server) share one transaction, each entry
in its own savepoint (:mod:`layers.commits`). In PostGIS each entry is its own transaction, holding
an advisory lock only on what its check reads that another writer may add: the contact's
acknowledgments, the warning's check-ins, the entry it corrects, the day's warning ids (a plain
report-back takes none: concurrent ones commit side by side). The entry is checked against the
record (:class:`~layers.errors.EntryRefused`, nothing of it written): an unknown warning, grid,
contact or shelter; a negative count; more people moved, refusing and absent than the grid holds;
more people checked in over all shelters than the warning covers; a second acknowledgment of one
contact; a time before the warning or in the future; a correction of an entry that another one
already superseded. A warning's grids, call-out list and shelters never change once issued, so a
record keeper that has read them (:meth:`OpsLog.snapshot`) checks report-backs against what it read.

Times are ISO 8601 in UTC (``2026-07-12T01:30:00.000Z``); a time given without a zone is China
Standard Time (UTC+8), as the offices write it (:func:`parse_time`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from itertools import repeat
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd

from layers.errors import EntryRefused, Problem, StorageError

__all__ = ["LEVELS", "ACK_MINUTES", "KINDS", "LOCAL_TZ", "Warning", "Entry", "Snapshot", "OpsLog", "parse_time",
           "now_iso", "to_iso", "to_datetime", "local_text", "normalize_phone", "normalize_phones", "plain_text",
           "GRID_COLUMNS", "CONTACT_COLUMNS", "SHELTER_COLUMNS", "ROUTE_COLUMNS"]

#: warning levels, least to most severe (China's four-colour warning scale)
LEVELS = ("blue", "yellow", "orange", "red")
#: default minutes within which a contact must acknowledge, per warning level (red shortest)
ACK_MINUTES: dict[str, float] = {"red": 15.0, "orange": 30.0, "yellow": 60.0, "blue": 120.0}
#: kinds of update entries
KINDS = ("ack", "report", "checkin", "dispatch", "close")
#: the zone of a time written without one: China Standard Time
LOCAL_TZ = timezone(timedelta(hours=8))
#: how far in the future an entry's time may lie (clocks of phones and laptops differ a little)
FUTURE_SLACK = timedelta(minutes=10)

# column -> SQL type ("text", "int", "real", "blob") of the snapshot tables
GRID_COLUMNS: dict[str, str] = {
    "grid_id": "text", "name": "text", "level": "text", "parent_id": "text", "township": "text", "village": "text",
    "responsible": "text", "phone": "text", "households": "int", "people": "int", "vulnerable": "int",
    "shelter_id": "text", "shelter_name": "text", "lon": "real", "lat": "real"}
CONTACT_COLUMNS: dict[str, str] = {
    "contact_id": "text", "seq": "int", "phone": "text", "name": "text", "level": "text", "rank": "int",
    "grid_id": "text", "roles": "text", "township": "text", "village": "text", "grids": "int", "households": "int",
    "people": "int", "vulnerable": "int", "escalate_id": "text", "escalate_name": "text", "escalate_phone": "text"}
SHELTER_COLUMNS: dict[str, str] = {
    "shelter_id": "text", "name": "text", "type": "text", "township": "text", "village": "text", "capacity": "int",
    "usable": "int", "reason": "text", "responsible": "text", "phone": "text", "planned": "int", "lon": "real",
    "lat": "real"}
ROUTE_COLUMNS: dict[str, str] = {
    "grid_id": "text", "shelter_id": "text", "people": "int", "distance_km": "real", "time_min": "real",
    "method": "text", "wkb": "blob"}
_WARNING_COLUMNS: dict[str, str] = {
    "warning_id": "text", "level": "text", "message": "text", "issued_at": "text", "issuer": "text", "area": "text",
    "grids": "int", "contacts": "int", "households": "int", "people": "int", "vulnerable": "int",
    "ack_minutes": "text", "recorded_at": "text"}
_EVENT_COLUMNS: dict[str, str] = {
    "warning_id": "text", "kind": "text", "subject": "text", "at": "text", "recorded_at": "text", "user_name": "text",
    "moved": "int", "refused": "int", "absent": "int", "people": "int", "households": "int", "vulnerable": "int",
    "data": "text", "supersedes": "int", "void": "int", "note": "text"}
_SNAPSHOTS = {"gis_ops_grids": GRID_COLUMNS, "gis_ops_contacts": CONTACT_COLUMNS,
              "gis_ops_shelters": SHELTER_COLUMNS, "gis_ops_routes": ROUTE_COLUMNS}
_SQLITE_TYPES = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "blob": "BLOB"}
#: page cache of the record's connection while it writes a warning's tables (KiB; SQLite's default is 2,000)
_BULK_CACHE_KIB = 65536
_PG_TYPES = {"text": "text", "int": "bigint", "real": "double precision", "blob": "bytea"}
_KEYS = {"gis_ops_grids": "grid_id", "gis_ops_contacts": "contact_id", "gis_ops_shelters": "shelter_id"}


# ---- the record's tables -----------------------------------------------------------------------------------------
def _ddl(types: dict[str, str], table: Callable[[str], str], event_key: str) -> list[str]:
    """The record's tables and indexes on one backend.

    Parameters
    ----------
    types : dict
        Column type (``text``, ``int``, ``real``, ``blob``) -> the backend's SQL type.
    table : callable
        A table's name as the backend's statements write it (schema-qualified on PostGIS).
    event_key : str
        The definition of ``gis_ops_events.event_id`` (an increasing key).
    """
    def cols(columns: dict[str, str]) -> str:
        return ", ".join(f"{c} {types[t]}" for c, t in columns.items())

    events, warnings = table("gis_ops_events"), table("gis_ops_warnings")
    out = [f"create table if not exists {warnings} ({cols(_WARNING_COLUMNS)}, primary key (warning_id))",
           f"create table if not exists {events} (event_id {event_key}, {cols(_EVENT_COLUMNS)})",
           f"create index if not exists gis_ops_events_subject on {events} (warning_id, kind, subject)",
           f"create index if not exists gis_ops_events_supersedes on {events} (supersedes)"]
    for name, columns in _SNAPSHOTS.items():
        out.append(f"create table if not exists {table(name)} (warning_id {types['text']} not null, {cols(columns)})")
        key = _KEYS.get(name)
        out.append(f"create index if not exists {name}_key on {table(name)} (warning_id{', ' + key if key else ''})")
    return out


# ---- times and phones ----------------------------------------------------------------------------------------
def to_iso(t: datetime) -> str:
    """An aware :class:`datetime` as stored: ISO 8601, UTC, milliseconds."""
    return _iso(t)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    """The current time as stored: ISO 8601, UTC, milliseconds (``2026-07-12T01:30:00.000Z``)."""
    return _iso(datetime.now(UTC))


def parse_time(value: str | datetime | None, *, field_name: str = "--at") -> str:
    """A time as stored (ISO 8601 UTC); ``None`` is now; a time without a zone is China Standard Time (UTC+8).

    Raises
    ------
    EntryRefused
        The text is not an ISO 8601 date and time.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return now_iso()
    if isinstance(value, datetime):
        t = value
    else:
        text = str(value).strip().replace("/", "-")
        try:
            t = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise EntryRefused(Problem(f"时间“{value}”无法识别", f"cannot read the time '{value}'",
                                       "写成 2026-07-12T09:30 或 2026-07-12 09:30:00+08:00（不写时区即北京时间）",
                                       "write e.g. 2026-07-12T09:30 or 2026-07-12 09:30:00+08:00 (no zone: "
                                       "China Standard Time)", field=field_name)) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=LOCAL_TZ)
    return _iso(t)


def to_datetime(iso: str) -> datetime:
    """A stored time as an aware :class:`datetime` (UTC)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def local_text(iso: str | None, *, seconds: bool = False) -> str:
    """A stored time as the offices read it: China Standard Time, ``2026-07-12 09:30``."""
    if not iso:
        return ""
    return to_datetime(iso).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


_PHONE_JUNK = re.compile(r"[\s\-()（）.]")


def normalize_phone(phone: object) -> str:
    """A phone number as compared: spaces, dashes and brackets dropped, a leading +86/0086 removed."""
    if phone is None or (isinstance(phone, float) and np.isnan(phone)):
        return ""
    s = _PHONE_JUNK.sub("", str(phone))
    for prefix in ("+86", "0086"):
        if s.startswith(prefix) and len(s) > len(prefix) + 6:
            s = s[len(prefix):]
    return s


def plain_text(values: Any) -> np.ndarray:
    """Values as an object array of plain strings, missing ones empty (a text column without a Python loop)."""
    ser = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(ser.dtype, pd.StringDtype):             # every value a str already
        return np.asarray(ser.to_numpy(dtype=object, na_value=""), dtype=object)
    vals = np.asarray(ser.astype(object).to_numpy(), dtype=object)
    missing = pd.isna(vals)
    if missing.any():
        vals = vals.copy()
        vals[missing] = ""
    if not all(type(v) is str for v in vals):
        vals = np.array([str(v) for v in vals], dtype=object)
    return vals


def normalize_phones(values: Any) -> np.ndarray:
    """:func:`normalize_phone` of many numbers at once (missing: empty), as an object array (vectorised in Arrow)."""
    import pyarrow as pa  # type: ignore[import-untyped]  # no py.typed, pyarrow-stubs not installed
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    ser = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(ser.dtype, pd.StringDtype) and ser.dtype.storage == "pyarrow":   # text already in Arrow
        arr = pc.fill_null(pa.chunked_array(pa.array(ser.array)), "")
    else:
        arr = pa.array(plain_text(ser), type=pa.string())
    arr = pc.replace_substring_regex(arr, _PHONE_JUNK.pattern, "")
    arr = pc.replace_substring_regex(arr, r"^(?:\+86|0086)(.{7,})$", r"\1")
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


# ---- records ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Warning:
    """One warning as recorded.

    Attributes
    ----------
    warning_id : str
        ``YJ`` + local date + sequence (``YJ20260712001``).
    level : {'blue', 'yellow', 'orange', 'red'}
    message, issuer : str
    issued_at, recorded_at : str
        ISO 8601 UTC.
    area : dict
        How the area was chosen (``mode``: ``townships``, ``grids``, ``plan``, ``polygon`` or ``all``,
        and what was given).
    grids, contacts, households, people, vulnerable : int
        Its totals when issued.
    ack_minutes : dict
        Minutes to acknowledge, per level, as issued.
    """

    warning_id: str
    level: str
    message: str
    issued_at: str
    issuer: str
    area: dict
    grids: int
    contacts: int
    households: int
    people: int
    vulnerable: int
    ack_minutes: dict
    recorded_at: str

    @property
    def deadline_minutes(self) -> float:
        """Minutes within which a contact must acknowledge this warning."""
        return float(self.ack_minutes.get(self.level, ACK_MINUTES[self.level]))


@dataclass(frozen=True)
class Entry:
    """One update entry as recorded (see the module docstring for the kinds)."""

    event_id: int
    warning_id: str
    kind: str
    subject: str
    at: str
    recorded_at: str
    user: str
    values: dict = field(default_factory=dict)
    supersedes: int | None = None
    void: bool = False
    note: str = ""

    def as_dict(self) -> dict:
        """The entry as plain JSON-able values."""
        return {"event_id": self.event_id, "warning_id": self.warning_id, "kind": self.kind, "subject": self.subject,
                "at": self.at, "recorded_at": self.recorded_at, "user": self.user, **self.values,
                "supersedes": self.supersedes, "void": self.void, "note": self.note}


@dataclass
class Snapshot:
    """A warning and what it covered when issued (tables with the ``*_COLUMNS`` columns)."""

    warning: Warning
    grids: pd.DataFrame
    contacts: pd.DataFrame
    shelters: pd.DataFrame
    routes: pd.DataFrame


# ---- backends ---------------------------------------------------------------------------------------------------
class _Sqlite:
    """The record in the workspace GeoPackage.

    One connection is kept for the writes of the record keeper (a new connection re-reads the
    GeoPackage's schema, which costs more than a report-back); each write is its own
    ``BEGIN IMMEDIATE ... COMMIT`` (:func:`layers.gpkg.transaction`), so no lock is held between
    writes. The rollback journal is truncated, not deleted, after each commit: as durable
    (synchronous FULL), with fewer file-system operations. Not WAL: GDAL's own SQLite reading the
    file in this process would delete the WAL under this connection (see :mod:`layers.commit_queue`).
    Writers of several processes share their commits through the side queue of
    :mod:`layers.commit_queue`; those of this process through :mod:`layers.commits`.
    """

    ph = "?"

    def __init__(self, gpkg: Path):
        import threading

        self.gpkg = Path(gpkg)
        self._key = os.path.realpath(self.gpkg)
        self._con: sqlite3.Connection | None = None
        self._ready = False
        self._big_cache = False
        self._lock = threading.Lock()
        self._shared: Any = None
        self._shared_tried = False
        self.rebuild: Callable[[dict], Callable[[_Cursor], Entry]] | None = None   # set by the record keeper

    def t(self, name: str) -> str:
        return name

    def _queue(self) -> Any:
        """The side queue shared with other processes (:mod:`layers.commit_queue`), or None where it cannot be
        made (a read-only medium: the write then fails on its own)."""
        if not self._shared_tried:
            self._shared_tried = True
            from layers.commit_queue import SharedQueue, queue_path

            try:
                self._shared = SharedQueue(queue_path(self.gpkg), build=self._build, find=self._find,
                                           encode=_entry_data, decode=_data_entry)
            except (OSError, sqlite3.Error):
                self._shared = None
        return self._shared

    def _build(self, spec: dict, request: str) -> Callable[[_Cursor], Entry]:
        """The body of an entry another process left in the queue; it records ``request`` with the entry."""
        assert self.rebuild is not None
        body = self.rebuild(spec)

        def run(cur: _Cursor) -> Entry:
            e = body(cur)
            cur.run("INSERT INTO gis_ops_requests (request, event_id) VALUES (?, ?)", (request, e.event_id))
            return e
        return run

    def _find(self, request: str) -> Entry | None:
        """The entry written for ``request`` (None when its transaction did not commit)."""
        with self._lock:
            try:
                con = self._connection()
                row = con.execute("SELECT " + ", ".join(_ENTRY_COLUMNS) + " FROM gis_ops_events WHERE event_id = "
                                  "(SELECT event_id FROM gis_ops_requests WHERE request = ?)", (request,)).fetchone()
            except sqlite3.OperationalError as e:
                self.close()
                raise _storage(self.gpkg.name, e) from e
        return None if row is None else _row_entry(row)

    def _ddl(self) -> list[str]:
        # the entries written for another process's request (layers.commit_queue), to answer it after a crash
        return [*_ddl(_SQLITE_TYPES, self.t, "INTEGER PRIMARY KEY AUTOINCREMENT"),
                "CREATE TABLE IF NOT EXISTS gis_ops_requests (request TEXT PRIMARY KEY, event_id INTEGER NOT NULL)"]

    def _connection(self) -> sqlite3.Connection:
        from layers.gpkg import connect, create_gpkg

        if self._con is None:
            if not self.gpkg.exists():
                create_gpkg(self.gpkg)
            con = connect(self.gpkg)
            con.execute("PRAGMA journal_mode = TRUNCATE")
            self._con = con
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            self._big_cache = False

    def __del__(self) -> None:  # the kept connection goes with the record keeper
        with suppress(Exception):  # interpreter shutdown
            self.close()
            if self._shared is not None:
                self._shared.close()

    def lock(self, cur: _Cursor, name: str) -> None:
        """Nothing to do: a GeoPackage has one writer at a time (``BEGIN IMMEDIATE``)."""

    def entry(self, body: Callable[[_Cursor], Entry], spec: dict | None = None) -> Entry:
        """Write one entry; concurrent writers of this file share the transaction: in this process through
        :mod:`layers.commits`, in other processes through the side queue when the entry comes as data
        (``spec``, which :attr:`rebuild` turns into its body)."""
        from layers.commits import run

        shared = self._queue() if spec is not None and self.rebuild is not None else None
        return run(self._key, body, self.write, spec=spec, shared=shared, begin=lambda wait: self.write(wait=wait))

    @contextmanager
    def write(self, *, wait: bool = True) -> Iterator[_Cursor]:
        """One write transaction on the kept connection (the record's tables made on first use); with
        ``wait=False``, :class:`layers.gpkg.Locked` at once when another process holds the lock."""
        from layers.gpkg import Locked, transaction

        with self._lock:
            try:
                con = self._connection()
                with transaction(con, close=False, wait=wait):
                    if not self._ready and not con.execute(
                            "SELECT 1 FROM sqlite_master WHERE name = 'gis_ops_requests'").fetchone():
                        for stmt in self._ddl():
                            con.execute(stmt)
                    yield _Cursor(con, self)
                self._ready = True
            except Locked:
                raise
            except sqlite3.OperationalError as e:
                self.close()
                raise _storage(self.gpkg.name, e) from e
            except sqlite3.DatabaseError:
                self.close()
                raise

    @contextmanager
    def read(self) -> Iterator[_Cursor | None]:
        if not self.gpkg.exists():
            yield None
            return
        try:
            con = sqlite3.connect(f"file:{self.gpkg}?mode=ro", uri=True, timeout=60)
        except sqlite3.OperationalError as e:
            raise _storage(self.gpkg.name, e) from e
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gis_ops_events'").fetchone():
                yield None
            else:
                yield _Cursor(con, self)
        finally:
            con.close()

    def bulk(self, cur: _Cursor, table: str, key: str, columns: dict[str, str], values: list[list]) -> None:
        """Rows of ``table``: ``warning_id`` = ``key`` and ``columns`` (name -> type) from ``values`` (one list
        per column), in one prepared statement."""
        if not self._big_cache:          # a whole warning's rows in memory: no spill to the file mid-transaction
            cur.con.execute(f"PRAGMA cache_size = -{_BULK_CACHE_KIB}")
            self._big_cache = True
        names = ["warning_id", *columns]
        cur.con.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                            zip(repeat(key), *values))


class _Postgres:
    """The record in the PostGIS store's schema.

    One connection is kept for the life of the record keeper (autocommit, each write in its own
    ``BEGIN ... COMMIT``): connecting costs more than a report-back. A connection found broken is
    replaced once; a connection lost during a write raises :class:`~layers.errors.StorageError` (the
    server rolled the write back).
    """

    ph = "%s"
    _ready: set = set()

    def __init__(self, store: Any):
        self.store = store
        self._conn = None

    def _connection(self):
        c = self._conn
        if c is not None and not c.closed and not c.broken:
            return c
        c = self.store.connection()
        c.autocommit = True
        self._conn = c
        return c

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self, begin: Callable[[Any], Any]) -> tuple[Any, Any]:
        """The kept connection and what ``begin`` (its first statements) returns on it. A kept connection the
        server dropped since its last use (a restart, an idle timeout) fails there, before anything was written:
        it is replaced once. A new connection failing is a :class:`~layers.errors.StorageError`."""
        import psycopg

        for again in (False, True):
            kept = self._conn is not None
            conn = self._connection()
            try:
                return conn, begin(conn)
            except psycopg.OperationalError as e:
                self.close()
                if again or not kept:
                    raise _storage(self.store.schema, e) from e
        raise AssertionError("unreachable")

    def t(self, name: str) -> str:
        return f'"{self.store.schema}".{name}'

    def _ddl(self) -> list[str]:
        return _ddl(_PG_TYPES, self.t, "bigserial primary key")

    def _ensure(self, conn) -> None:
        key = (self.store.dsn, self.store.schema)
        if key in _Postgres._ready:
            return
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"gis-ops-schema:{self.store.schema}",))
            for stmt in self._ddl():
                conn.execute(stmt)
        _Postgres._ready.add(key)

    @contextmanager
    def write(self) -> Iterator[_Cursor]:
        """One transaction (``BEGIN`` ... ``COMMIT``; rolled back on any error). Writers serialize only where
        their checks read what another writer may add (:meth:`lock`): a plain report-back reads nothing
        of the others, so concurrent officers' commits go together (the server flushes them at once)."""
        import psycopg

        def begin(conn: Any) -> Any:
            self._ensure(conn)
            tx = conn.transaction()
            tx.__enter__()
            return tx

        conn, tx = self._open(begin)
        try:
            try:
                yield _Cursor(conn, self)
            except BaseException as e:
                if not tx.__exit__(type(e), e, e.__traceback__):
                    raise
            else:
                tx.__exit__(None, None, None)
        except psycopg.OperationalError as e:
            self.close()
            raise _storage(self.store.schema, e) from e

    def entry(self, body: Callable[[_Cursor], Entry], spec: dict | None = None) -> Entry:
        """Write one entry in its own transaction (the server's commits of concurrent writers go together;
        ``spec`` is not needed)."""
        with self.write() as cur:
            return body(cur)

    def lock(self, cur: _Cursor, name: str) -> None:
        """Hold the transaction's advisory lock ``name`` (writers of the same name queue on the server)."""
        cur.con.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"gis-ops:{self.store.schema}:{name}",))

    @contextmanager
    def read(self) -> Iterator[_Cursor | None]:
        import psycopg

        conn, exists = self._open(lambda c: c.execute("select to_regclass(%s)",
                                                      (self.t("gis_ops_events"),)).fetchone()[0])
        try:
            yield _Cursor(conn, self) if exists else None
        except psycopg.OperationalError as e:
            self.close()
            raise _storage(self.store.schema, e) from e

    def bulk(self, cur: _Cursor, table: str, key: str, columns: dict[str, str], values: list[list]) -> None:
        """Rows of ``table``: ``warning_id`` = ``key`` and ``columns`` (name -> type) from ``values`` (one list
        per column), in one ``COPY`` whose text is built column by column in Arrow."""
        names = ["warning_id", *columns]
        with cur.con.cursor() as c, c.copy(f"copy {table} ({', '.join(names)}) from stdin") as copy:
            copy.write(_copy_text(key, list(columns.values()), values))


class _Cursor:
    """SQL with ``?`` placeholders and ``{name}`` table names, run on either backend."""

    def __init__(self, con: Any, db: _Sqlite | _Postgres):
        self.con, self.db = con, db

    def _sql(self, text: str) -> str:
        text = re.sub(r"\{(\w+)\}", lambda m: self.db.t(m.group(1)), text)
        return text.replace("?", self.db.ph)

    def rows(self, text: str, params: tuple = ()) -> list[tuple]:
        return list(self.con.execute(self._sql(text), params).fetchall())

    def one(self, text: str, params: tuple = ()) -> tuple | None:
        return self.con.execute(self._sql(text), params).fetchone()

    def value(self, text: str, params: tuple = ()) -> Any:
        """The first column of a statement that always returns one row (an aggregate, ``RETURNING``)."""
        row = self.one(text, params)
        assert row is not None, text
        return row[0]

    def run(self, text: str, params: tuple = ()) -> None:
        self.con.execute(self._sql(text), params)

    def lock(self, name: str) -> None:
        """Serialize with the other writers taking ``name`` until this transaction ends (PostGIS; a GeoPackage
        has one writer at a time anyway)."""
        self.db.lock(self, name)

    def frame(self, text: str, params: tuple, columns: list[str]) -> pd.DataFrame:
        data = self.rows(text, params)
        return pd.DataFrame.from_records(data, columns=columns) if data else pd.DataFrame(columns=columns)


def _storage(name: str, e: Exception) -> StorageError:
    return StorageError(Problem(f"应急响应记录无法读写（{e}）",
                                f"the operations record could not be read or written ({e})",
                                "检查工作空间文件是否只读、磁盘是否已满，或稍后重试",
                                "check the workspace file is writable and the disk not full, or try again",
                                file=name))


# ---- the record -------------------------------------------------------------------------------------------------
def _py(v: object) -> object:
    """A value as the database takes it: numpy scalars to Python, missing to None."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def _json(v: object) -> str:
    return json.dumps(v, ensure_ascii=False, default=_py)


@overload
def _count(v: object, name: str) -> int: ...
@overload
def _count(v: object, name: str, *, allow_none: bool) -> int | None: ...
def _count(v: object, name: str, *, allow_none: bool = False) -> int | None:
    """A count as given: a whole number at least 0 (refused otherwise)."""
    if v is None and allow_none:
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
        ok = np.isfinite(f) and f == int(f) and f >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise EntryRefused(Problem(f"{name} 应为不小于 0 的整数，收到“{v}”",
                                   f"{name} must be a whole number of at least 0, got '{v}'", "填写人数（整数）",
                                   "give a number of people (a whole number)", field=name))
    return int(f)


class OpsLog:
    """The operations record of one workspace (GeoPackage or PostGIS).

    Parameters
    ----------
    store : Workspace, PostGISStore, or path
        The workspace (:class:`layers.workspace.Workspace`), the PostGIS store
        (:class:`layers.postgis.PostGISStore`), or the path of a workspace GeoPackage or folder.
    """

    def __init__(self, store: Any):
        if hasattr(store, "dsn") and hasattr(store, "schema"):
            self.db: _Sqlite | _Postgres = _Postgres(store)
            self.label = getattr(store, "label", "PostGIS")
        else:
            path = Path(getattr(store, "gpkg", store))
            if path.suffix.lower() != ".gpkg":
                path = path / "workspace.gpkg"
            self.db = _Sqlite(path)
            self.db.rebuild = self._rebuild
            self.label = path.name
        self.store = store
        self._known: dict[str, Warning] = {}
        self._grids: dict[str, dict[str, tuple[int, str]]] = {}   # warning -> grid -> (people, name), as issued

    # ---- warnings -----------------------------------------------------------------------------------------------
    def issue(self, *, level: str, message: str, issuer: str, area: dict, grids: pd.DataFrame,
              contacts: pd.DataFrame, shelters: pd.DataFrame, routes: pd.DataFrame | None = None,
              issued_at: str | None = None, ack_minutes: dict | None = None) -> Warning:
        """Record a new warning and what it covers, in one transaction.

        Parameters
        ----------
        level : {'blue', 'yellow', 'orange', 'red'}
        message, issuer : str
        area : dict
            How the area was chosen (kept as given).
        grids, contacts, shelters, routes : DataFrame
            With the columns of :data:`GRID_COLUMNS`, :data:`CONTACT_COLUMNS`,
            :data:`SHELTER_COLUMNS` and :data:`ROUTE_COLUMNS` (missing ones are empty).
        issued_at : str, optional
            Time of the warning (default now; see :func:`parse_time`).
        ack_minutes : dict, optional
            Minutes to acknowledge per level (default :data:`ACK_MINUTES`).

        Raises
        ------
        EntryRefused
            An unknown level, or a warning covering no grid.
        """
        if level not in LEVELS:
            raise EntryRefused(Problem(f"预警级别“{level}”无效", f"invalid warning level '{level}'",
                                       "用 red、orange、yellow 或 blue（红、橙、黄、蓝）",
                                       "use red, orange, yellow or blue", field="--level"))
        if grids is None or not len(grids):
            raise EntryRefused(Problem("所选范围内没有转移网格，未发布预警",
                                       "the area chosen holds no transfer grid; no warning was issued",
                                       "选择有网格的乡镇、网格或方案，或用 --all",
                                       "choose townships, grids or a plan that hold grids, or --all", field="area"))
        at = parse_time(issued_at, field_name="issued_at")
        if to_datetime(at) > datetime.now(UTC) + FUTURE_SLACK:
            raise _future(at, "issued_at")
        minutes = {**ACK_MINUTES, **{k: float(v) for k, v in (ack_minutes or {}).items()}}
        # a missing column failed here before as well (to_numeric(None) is a float without fillna)
        people = pd.to_numeric(grids["people"], errors="coerce").fillna(0)
        totals = {c: int(pd.to_numeric(grids[c], errors="coerce").fillna(0).sum()) for c in
                  ("households", "vulnerable")}
        day = to_datetime(at).astimezone(LOCAL_TZ).strftime("%Y%m%d")
        with self.db.write() as cur:
            cur.lock("issue")                  # one warning id at a time
            n = cur.value("SELECT count(*) FROM {gis_ops_warnings} WHERE warning_id LIKE ?", (f"YJ{day}%",))
            wid = f"YJ{day}{int(n) + 1:03d}"
            while cur.one("SELECT 1 FROM {gis_ops_warnings} WHERE warning_id = ?", (wid,)):
                n += 1
                wid = f"YJ{day}{int(n) + 1:03d}"
            w = Warning(wid, level, message or "", at, issuer or "", dict(area), int(len(grids)), int(len(contacts)),
                        totals["households"], int(people.sum()), totals["vulnerable"], minutes, now_iso())
            cur.run("INSERT INTO {gis_ops_warnings} (" + ", ".join(_WARNING_COLUMNS) + ") VALUES ("
                    + ", ".join("?" * len(_WARNING_COLUMNS)) + ")",
                    (w.warning_id, w.level, w.message, w.issued_at, w.issuer, _json(w.area), w.grids, w.contacts,
                     w.households, w.people, w.vulnerable, _json(w.ack_minutes), w.recorded_at))
            for table, cols, df in (("gis_ops_grids", GRID_COLUMNS, grids), ("gis_ops_contacts", CONTACT_COLUMNS,
                                                                              contacts),
                                    ("gis_ops_shelters", SHELTER_COLUMNS, shelters),
                                    ("gis_ops_routes", ROUTE_COLUMNS, routes)):
                if df is None or not len(df):
                    continue
                self.db.bulk(cur, self.db.t(table), wid, cols, [_column(df, c, typ) for c, typ in cols.items()])
        return w

    def warnings(self) -> list[Warning]:
        """Every warning recorded, newest first."""
        with self.db.read() as cur:
            if cur is None:
                return []
            rows = cur.rows("SELECT " + ", ".join(_WARNING_COLUMNS) + " FROM {gis_ops_warnings} "
                            "ORDER BY issued_at DESC, warning_id DESC")
        return [_warning(r) for r in rows]

    def warning(self, warning_id: str) -> Warning:
        """The warning ``warning_id``.

        Raises
        ------
        EntryRefused
            There is no such warning.
        """
        with self.db.read() as cur:
            row = None if cur is None else cur.one("SELECT " + ", ".join(_WARNING_COLUMNS)
                                                   + " FROM {gis_ops_warnings} WHERE warning_id = ?", (warning_id,))
            if row is None:
                raise self._unknown_warning(cur, warning_id)
        return _warning(row)

    def snapshot(self, warning_id: str) -> Snapshot:
        """The warning and the grids, contacts, shelters and routes it covered when issued."""
        with self.db.read() as cur:
            row = None if cur is None else cur.one("SELECT " + ", ".join(_WARNING_COLUMNS)
                                                   + " FROM {gis_ops_warnings} WHERE warning_id = ?", (warning_id,))
            if row is None:
                raise self._unknown_warning(cur, warning_id)
            assert cur is not None  # the row was read through it
            parts = {table: _part(cur, table, warning_id) for table in _SNAPSHOTS}
        contacts = parts["gis_ops_contacts"].sort_values("seq", kind="stable").reset_index(drop=True)
        g = parts["gis_ops_grids"]
        self._grids[warning_id] = dict(zip(g["grid_id"].astype(str).tolist(),
                                           zip(g["people"].tolist(), g["name"].tolist())))
        return Snapshot(_warning(row), g, contacts, parts["gis_ops_shelters"], parts["gis_ops_routes"])

    def shelters(self, warning_id: str) -> pd.DataFrame:
        """The shelters warning ``warning_id`` covered (:attr:`Snapshot.shelters`, read alone: what a dispatch
        needs, without the tens of thousands of grids and contacts)."""
        with self.db.read() as cur:
            if cur is None or cur.one("SELECT 1 FROM {gis_ops_warnings} WHERE warning_id = ?", (warning_id,)) is None:
                raise self._unknown_warning(cur, warning_id)
            return _part(cur, "gis_ops_shelters", warning_id)

    # ---- updates ------------------------------------------------------------------------------------------------
    def acknowledge(self, warning_id: str, contact: str, *, at: str | datetime | None = None, user: str = "",
                    corrects: int | None = None, void: bool = False, note: str = "") -> Entry:
        """Record that ``contact`` (a phone number, or a contact id) acknowledged the warning.

        Raises
        ------
        EntryRefused
            Unknown warning or contact; the contact already acknowledged (correct that entry instead);
            a time before the warning or in the future.
        """
        return self.db.entry(self._ack_entry(warning_id, contact, at, user, corrects, void, note),
                             _spec("ack", warning_id, contact, at, user, corrects, void, note))

    def _ack_entry(self, warning_id: str, contact: str, at: str | datetime | None, user: str, corrects: int | None,
                   void: bool, note: str) -> Callable[[_Cursor], Entry]:
        key = normalize_phone(contact)
        def entry(cur: _Cursor) -> Entry:
            w = self._warning_in(cur, warning_id)
            t = self._time(w, at)
            row = cur.one("SELECT contact_id, name FROM {gis_ops_contacts} WHERE warning_id = ? AND (phone = ? OR "
                          "contact_id = ?)", (warning_id, key, str(contact).strip()))
            if row is None:
                raise EntryRefused(Problem(f"预警 {warning_id} 的叫应名单中没有“{contact}”",
                                           f"'{contact}' is not on the call-out list of warning {warning_id}",
                                           "核对电话号码（见叫应名单），或用名单中的联系人编号",
                                           "check the phone number against the call-out list, or use the contact id",
                                           field="--contact"))
            contact_id, name = row
            cur.lock(f"{warning_id}:ack:{contact_id}")      # the duplicate check reads this contact's acks
            old = self._corrected(cur, warning_id, "ack", corrects)
            if not void:
                dup = cur.one("SELECT e.event_id, e.at, e.user_name FROM {gis_ops_events} e WHERE e.warning_id = ? AND "
                              "e.kind = 'ack' AND e.subject = ? AND e.void = 0 AND NOT EXISTS (SELECT 1 FROM "
                              "{gis_ops_events} s WHERE s.supersedes = e.event_id)", (warning_id, contact_id))
                if dup is not None and (old is None or int(dup[0]) != int(old[0])):
                    raise EntryRefused(Problem(
                        f"{name}（{contact}）已于 {local_text(dup[1])} 确认收到"
                        f"（记录 #{dup[0]}，{dup[2] or '—'}），不重复记录",
                        f"{name} ({contact}) already acknowledged at {local_text(dup[1])} (entry #{dup[0]}, by "
                        f"{dup[2] or '—'}); not recorded twice", f"如需更正，用 --corrects {dup[0]}",
                        f"to correct it, use --corrects {dup[0]}", field="--contact"))
            return self._append(cur, warning_id, "ack", contact_id, t, user, {}, corrects, void, note)

        return entry

    def report(self, warning_id: str, grid_id: str, *, moved: int, refused: int = 0, absent: int = 0,
               at: str | datetime | None = None, user: str = "", corrects: int | None = None, void: bool = False,
               note: str = "") -> Entry:
        """Record a report-back of grid ``grid_id``: its people moved, refusing and absent/unreachable so far.

        A later report of a grid is its new status (both stay in the record); a correction
        (``corrects``) replaces a wrong entry.

        Raises
        ------
        EntryRefused
            Unknown warning or grid (not in the warning's area); a negative count; moved + refused
            + absent more than the grid's people; a time before the warning or in the future.
        """
        counts = {"moved": _count(moved, "--moved"), "refused": _count(refused, "--refused"),
                  "absent": _count(absent, "--absent")}
        return self.db.entry(self._report_entry(warning_id, grid_id, counts, at, user, corrects, void, note),
                             _spec("report", warning_id, grid_id, counts, at, user, corrects, void, note))

    def _report_entry(self, warning_id: str, grid_id: str, counts: dict, at: str | datetime | None, user: str,
                      corrects: int | None, void: bool, note: str) -> Callable[[_Cursor], Entry]:
        def entry(cur: _Cursor) -> Entry:
            w = self._warning_in(cur, warning_id)
            t = self._time(w, at)
            row = self._grid(cur, warning_id, str(grid_id))
            if row is None:
                raise EntryRefused(Problem(f"网格“{grid_id}”不在预警 {warning_id} 的范围内",
                                           f"grid '{grid_id}' is not in the area of warning {warning_id}",
                                           "核对网格编号（见叫应名单或地图）",
                                           "check the grid id (call-out list or map)", field="--grid"))
            people, name = row
            total = sum(counts.values())
            if not void and total > people:
                raise EntryRefused(Problem(
                    f"网格 {grid_id}（{name}）共 {people} 人，报告的已转移 {counts['moved']}、"
                    f"拒绝 {counts['refused']}、"
                    f"不在/联系不上 {counts['absent']} 合计 {total} 人，超过网格人数",
                    f"grid {grid_id} ({name}) holds {people} people; moved {counts['moved']} + refusing "
                    f"{counts['refused']} + absent {counts['absent']} = {total} is more than that",
                    "核对人数后重新报告（每次报告该网格至今的累计数）",
                    "check the numbers and report again (each report gives the grid's totals so far)",
                    field="--moved"))
            self._corrected(cur, warning_id, "report", corrects)
            return self._append(cur, warning_id, "report", str(grid_id), t, user, counts, corrects, void, note)

        return entry

    def checkin(self, warning_id: str, shelter_id: str, *, people: int, households: int | None = None,
                vulnerable: int | None = None, at: str | datetime | None = None, user: str = "",
                corrects: int | None = None, void: bool = False, note: str = "") -> Entry:
        """Record arrivals at shelter ``shelter_id`` (people, and optionally households and vulnerable people).

        Check-ins add up: each entry is one arrival. A correction replaces a wrong entry.

        Raises
        ------
        EntryRefused
            Unknown warning or shelter; a negative count, households or vulnerable more than the
            people; all check-ins of the warning would exceed the people it covers; a time before
            the warning or in the future.
        """
        n_people = _count(people, "--people")
        counts = {"people": n_people, "households": _count(households, "--households", allow_none=True),
                  "vulnerable": _count(vulnerable, "--vulnerable", allow_none=True)}
        for k, zh, en in (("households", "户数", "households"), ("vulnerable", "老弱病残人数", "vulnerable people")):
            n = counts[k]
            if n is not None and n > n_people:
                raise EntryRefused(Problem(f"{zh}（{n}）多于人数（{n_people}）",
                                           f"more {en} ({n}) than people ({n_people})",
                                           "核对户数和人数", "check the numbers", field=f"--{k}"))
        if not void and not corrects and n_people == 0:
            raise EntryRefused(Problem("签到人数为 0", "a check-in of 0 people", "填写到达人数", "give the people who "
                                       "arrived", field="--people"))
        return self.db.entry(self._checkin_entry(warning_id, shelter_id, counts, at, user, corrects, void, note),
                             _spec("checkin", warning_id, shelter_id, counts, at, user, corrects, void, note))

    def _checkin_entry(self, warning_id: str, shelter_id: str, counts: dict, at: str | datetime | None, user: str,
                       corrects: int | None, void: bool, note: str) -> Callable[[_Cursor], Entry]:
        n_people = counts["people"]
        def entry(cur: _Cursor) -> Entry:
            cur.lock(f"{warning_id}:checkin")       # the total check reads every check-in of the warning
            w = self._warning_in(cur, warning_id)
            t = self._time(w, at)
            row = cur.one("SELECT name FROM {gis_ops_shelters} WHERE warning_id = ? AND shelter_id = ?",
                          (warning_id, str(shelter_id)))
            if row is None:
                raise EntryRefused(Problem(f"安置场所“{shelter_id}”不在预警 {warning_id} 可用的场所中",
                                           f"shelter '{shelter_id}' is not among the shelters of warning {warning_id}",
                                           "核对场所编号（见安置签到表）", "check the shelter id (check-in table)",
                                           field="--shelter"))
            old = self._corrected(cur, warning_id, "checkin", corrects)
            so_far = cur.value("SELECT coalesce(sum(e.people), 0) FROM {gis_ops_events} e WHERE e.warning_id = ? "
                               "AND e.kind = 'checkin' AND e.void = 0 AND NOT EXISTS (SELECT 1 FROM {gis_ops_events} s "
                               "WHERE s.supersedes = e.event_id)", (warning_id,))
            after = int(so_far) - (int(old[1] or 0) if old is not None and not old[2] else 0) + \
                (0 if void else n_people)
            if after > w.people:
                raise EntryRefused(Problem(
                    f"签到后预警 {warning_id} 的签到总数将达 {after} 人，超过预警范围内的总人数 {w.people} 人",
                    f"after this check-in warning {warning_id} would have {after} people checked in, more than the "
                    f"{w.people} people it covers", "核对人数（每条签到记一次到达的人数，不是累计数）",
                    "check the number (each check-in is one arrival, not a running total)", field="--people"))
            return self._append(cur, warning_id, "checkin", str(shelter_id), t, user, counts, corrects, void, note)

        return entry

    def record(self, warning_id: str, kind: str, data: dict, *, subject: str = "", at: str | datetime | None = None,
               user: str = "", note: str = "") -> Entry:
        """Record a ``dispatch`` (the plan sent out) or the warning's ``close``; ``data`` is kept as JSON."""
        if kind not in ("dispatch", "close"):
            raise ValueError(f"record() takes 'dispatch' or 'close', not {kind!r}")
        data = json.loads(_json(data))      # as kept (numpy values as numbers), and as sent to another process
        return self.db.entry(self._record_entry(warning_id, kind, data, subject, at, user, note),
                             _spec("record", warning_id, kind, data, subject, at, user, note))

    def _record_entry(self, warning_id: str, kind: str, data: dict, subject: str, at: str | datetime | None,
                      user: str, note: str) -> Callable[[_Cursor], Entry]:
        def entry(cur: _Cursor) -> Entry:           # checks nothing another writer adds: no lock
            w = self._warning_in(cur, warning_id)
            t = self._time(w, at)
            return self._append(cur, warning_id, kind, subject, t, user, {"data": data}, None, False, note)

        return entry

    def _rebuild(self, spec: dict) -> Callable[[_Cursor], Entry]:
        """The body of an entry given as data (:func:`_spec`; one another process left in the side queue)."""
        builders: dict[str, Callable[..., Callable[[_Cursor], Entry]]] = {
            "ack": self._ack_entry, "report": self._report_entry, "checkin": self._checkin_entry,
            "record": self._record_entry}
        return builders[spec["op"]](*spec["args"])

    def entries(self, warning_id: str, *, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Every entry of a warning, oldest first, with ``superseded_by`` (the entry that corrected it, or NA).

        Columns: ``event_id``, ``kind``, ``subject``, ``at``, ``recorded_at``, ``user``, ``moved``,
        ``refused``, ``absent``, ``people``, ``households``, ``vulnerable``, ``data`` (dict or None),
        ``supersedes``, ``void``, ``note``, ``superseded_by``, ``active`` (not superseded, not void).
        """
        cols = ["event_id", *[c for c in _EVENT_COLUMNS if c != "warning_id"]]
        where, params = "warning_id = ?", [warning_id]
        if kinds:
            where += " AND kind IN (" + ", ".join("?" * len(kinds)) + ")"
            params += list(kinds)
        with self.db.read() as cur:
            if cur is None:
                raise self._unknown_warning(None, warning_id)
            if cur.one("SELECT 1 FROM {gis_ops_warnings} WHERE warning_id = ?", (warning_id,)) is None:
                raise self._unknown_warning(cur, warning_id)
            df = cur.frame(f"SELECT {', '.join(cols)} FROM {{gis_ops_events}} WHERE {where} ORDER BY event_id",
                           tuple(params), cols)
        df = df.rename(columns={"user_name": "user"})
        for c in ("event_id", "moved", "refused", "absent", "people", "households", "vulnerable", "supersedes"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
        df["void"] = pd.to_numeric(df["void"], errors="coerce").fillna(0).astype(bool)
        df["data"] = [json.loads(d) if isinstance(d, str) and d else None for d in df["data"]]
        by = df.dropna(subset=["supersedes"]).drop_duplicates("supersedes").set_index("supersedes")["event_id"]
        df["superseded_by"] = df["event_id"].map(by).astype("Int64")
        df["active"] = df["superseded_by"].isna() & ~df["void"]
        return df

    # ---- helpers ------------------------------------------------------------------------------------------------
    def _unknown_warning(self, cur: _Cursor | None, warning_id: str) -> EntryRefused:
        recent = [] if cur is None else [r[0] for r in cur.rows(
            "SELECT warning_id FROM {gis_ops_warnings} ORDER BY issued_at DESC LIMIT 5")]
        hint_zh = f"最近的预警：{'、'.join(recent)}" if recent else "本工作空间还没有发布过预警"
        hint_en = f"recent warnings: {', '.join(recent)}" if recent else "this workspace has no warning yet"
        return EntryRefused(Problem(f"预警编号“{warning_id}”不存在", f"there is no warning '{warning_id}'",
                                    hint_zh, hint_en, file=self.label, field="--warning"))

    def _warning_in(self, cur: _Cursor, warning_id: str) -> Warning:
        if warning_id in self._known:          # a warning never changes once issued
            return self._known[warning_id]
        row = cur.one("SELECT " + ", ".join(_WARNING_COLUMNS) + " FROM {gis_ops_warnings} WHERE warning_id = ?",
                      (warning_id,))
        if row is None:
            raise self._unknown_warning(cur, warning_id)
        self._known[warning_id] = _warning(row)
        return self._known[warning_id]

    def _grid(self, cur: _Cursor, warning_id: str, grid_id: str) -> tuple[int, str] | None:
        """(people, name) of a grid of the warning, or None: from the warning's grids when this record keeper
        read them (:meth:`snapshot`; they never change once issued), else one indexed row."""
        known = self._grids.get(warning_id)
        if known is not None:
            return known.get(grid_id)
        row = cur.one("SELECT people, name FROM {gis_ops_grids} WHERE warning_id = ? AND grid_id = ?",
                      (warning_id, grid_id))
        return None if row is None else (int(row[0] or 0), row[1])

    @staticmethod
    def _time(w: Warning, at: str | datetime | None) -> str:
        t = parse_time(at)
        if t < w.issued_at:
            raise EntryRefused(Problem(f"时间 {local_text(t)} 早于预警发布时间 {local_text(w.issued_at)}",
                                       f"the time {local_text(t)} is before the warning was issued "
                                       f"({local_text(w.issued_at)})", "核对时间（不写时区即北京时间）",
                                       "check the time (without a zone it is China Standard Time)", field="--at"))
        if to_datetime(t) > datetime.now(UTC) + FUTURE_SLACK:
            raise _future(t, "--at")
        return t

    @staticmethod
    def _corrected(cur: _Cursor, warning_id: str, kind: str, corrects: int | None) -> tuple | None:
        """The entry a correction supersedes (event_id, people, void), checked; None when not a correction."""
        if corrects is None:
            return None
        cur.lock(f"{warning_id}:entry:{int(corrects)}")    # one correction of an entry at a time
        row = cur.one("SELECT event_id, people, void, kind FROM {gis_ops_events} WHERE event_id = ? AND warning_id = ?",
                      (int(corrects), warning_id))
        if row is None or row[3] != kind:
            raise EntryRefused(Problem(f"预警 {warning_id} 中没有可更正的{_KIND_ZH.get(kind, kind)}记录 #{corrects}",
                                       f"warning {warning_id} has no {kind} entry #{corrects} to correct",
                                       "核对记录编号（见记录列表）", "check the entry number (entry list)",
                                       field="--corrects"))
        later = cur.one("SELECT event_id FROM {gis_ops_events} WHERE supersedes = ?", (int(corrects),))
        if later is not None:
            raise EntryRefused(Problem(f"记录 #{corrects} 已被记录 #{later[0]} 更正", f"entry #{corrects} was already "
                                       f"corrected by entry #{later[0]}", f"更正最新的记录 #{later[0]}",
                                       f"correct the latest one, #{later[0]}", field="--corrects"))
        return row[0], row[1], bool(row[2])

    def _append(self, cur: _Cursor, warning_id: str, kind: str, subject: str, at: str, user: str, values: dict,
                corrects: int | None, void: bool, note: str) -> Entry:
        cols = ["warning_id", "kind", "subject", "at", "recorded_at", "user_name", "moved", "refused", "absent",
                "people", "households", "vulnerable", "data", "supersedes", "void", "note"]
        recorded = now_iso()
        data = values.get("data")
        row = (warning_id, kind, subject, at, recorded, user or "", values.get("moved"), values.get("refused"),
               values.get("absent"), values.get("people"), values.get("households"), values.get("vulnerable"),
               None if data is None else _json(data), None if corrects is None else int(corrects), int(bool(void)),
               note or "")
        got = cur.value("INSERT INTO {gis_ops_events} (" + ", ".join(cols) + ") VALUES ("
                        + ", ".join("?" * len(cols)) + ") RETURNING event_id", row)
        return Entry(int(got), warning_id, kind, subject, at, recorded, user or "",
                     {k: v for k, v in values.items() if v is not None}, corrects, bool(void), note or "")


def _part(cur: _Cursor, table: str, warning_id: str) -> pd.DataFrame:
    """The rows of snapshot table ``table`` of a warning, typed."""
    cols = _SNAPSHOTS[table]
    df = cur.frame(f"SELECT {', '.join(cols)} FROM {{{table}}} WHERE warning_id = ?", (warning_id,), list(cols))
    return _typed(df, cols)


def _spec(op: str, *args: Any) -> dict:
    """An entry as data another process can write (:meth:`OpsLog._rebuild`): the builder's name and arguments,
    a time given as a :class:`datetime` as stored text."""
    return {"op": op, "args": json.loads(_json([parse_time(a) if isinstance(a, datetime) else a for a in args]))}


_ENTRY_COLUMNS = ("event_id", "warning_id", "kind", "subject", "at", "recorded_at", "user_name", "moved", "refused",
                  "absent", "people", "households", "vulnerable", "data", "supersedes", "void", "note")


def _row_entry(row: tuple) -> Entry:
    """An :class:`Entry` from a row of ``gis_ops_events`` (columns :data:`_ENTRY_COLUMNS`)."""
    r = dict(zip(_ENTRY_COLUMNS, row))
    values = {k: int(r[k]) for k in ("moved", "refused", "absent", "people", "households", "vulnerable")
              if r[k] is not None}
    if r["data"]:
        values["data"] = json.loads(r["data"])
    return Entry(int(r["event_id"]), r["warning_id"], r["kind"], r["subject"], r["at"], r["recorded_at"],
                 r["user_name"] or "", values, None if r["supersedes"] is None else int(r["supersedes"]),
                 bool(r["void"]), r["note"] or "")


def _entry_data(e: Entry) -> dict:
    """An :class:`Entry` as JSON-able data (sent back to the process that asked for it)."""
    return json.loads(_json(e.__dict__))


def _data_entry(d: dict) -> Entry:
    return Entry(**d)


_KIND_ZH = {"ack": "确认", "report": "实报反馈", "checkin": "签到", "dispatch": "调度", "close": "解除"}


def _future(t: str, name: str) -> EntryRefused:
    return EntryRefused(Problem(f"时间 {local_text(t)} 在将来", f"the time {local_text(t)} is in the future",
                                "核对时间（不写时区即北京时间）",
                                "check the time (without a zone it is China Standard Time)", field=name))


def _warning(row: tuple) -> Warning:
    d = dict(zip(_WARNING_COLUMNS, row))
    return Warning(d["warning_id"], d["level"], d["message"] or "", d["issued_at"], d["issuer"] or "",
                   json.loads(d["area"] or "{}"), int(d["grids"] or 0), int(d["contacts"] or 0),
                   int(d["households"] or 0), int(d["people"] or 0), int(d["vulnerable"] or 0),
                   json.loads(d["ack_minutes"] or "{}"), d["recorded_at"] or "")


def _column(df: pd.DataFrame, name: str, typ: str) -> list:
    """Column ``name`` of ``df`` as database values of type ``typ`` (missing column: all None)."""
    if name not in df.columns:
        return [None] * len(df)
    s = df[name]
    if typ in ("int", "real"):
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(v)
        if typ == "int":
            if not missing.any():
                return np.round(v).astype(np.int64).tolist()
            return [None if m else int(round(x)) for x, m in zip(v.tolist(), missing.tolist())]
        return v.tolist() if not missing.any() else [None if m else x for x, m in zip(v.tolist(), missing.tolist())]
    vals = s.to_numpy(dtype=object)
    missing = pd.isna(vals)
    if typ == "blob":
        return [None if m else bytes(x) for x, m in zip(vals, missing)]
    if missing.any():
        vals = vals.copy()
        vals[missing] = None
    return vals.tolist()


def _copy_text(key: str, types: list[str], values: list[list]) -> str:
    """PostgreSQL ``COPY`` text of rows (``key``, *values*): tab-separated, ``\\N`` for NULL, text escaped; built
    column by column with Arrow compute, not row by row in Python."""
    import pyarrow as pa  # untyped (see normalize_phones)
    import pyarrow.compute as pc

    if not values or not len(values[0]):
        return ""
    cols = []
    for typ, v in zip(types, values):
        if typ == "blob":
            a = pa.array([None if x is None else "\\\\x" + bytes(x).hex() for x in v], type=pa.string())
        elif typ == "text":
            a = _copy_escape(pc, pa.array(v, type=pa.string()))
        else:
            a = pc.cast(pa.array(v, type=pa.int64() if typ == "int" else pa.float64()), pa.string())
        cols.append(pc.fill_null(a, "\\N"))
    first = _copy_escape(pc, pa.array([key], type=pa.string()))[0]
    lines = pc.binary_join_element_wise(first, *cols, "\t")
    return "\n".join(lines.to_pylist()) + "\n"


def _copy_escape(pc: Any, a: Any) -> Any:
    """Text as ``COPY`` reads it: backslash, newline, carriage return and tab escaped."""
    for raw, esc in (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        a = pc.replace_substring(a, raw, esc)
    return a


def _typed(df: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    """A snapshot table read back with numeric columns typed."""
    for c, typ in cols.items():
        if typ == "int":
            df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
        elif typ == "real":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif typ == "blob":
            df[c] = [None if v is None else bytes(v) for v in df[c]]
        else:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df.reset_index(drop=True)
