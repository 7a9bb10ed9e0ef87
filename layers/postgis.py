"""The PostGIS layer store: the workspace kept in PostgreSQL for an office where several people edit at once.

Implements :class:`layers.edits.LayerStore` against PostgreSQL + PostGIS (connection string from
``GIS_POSTGIS_DSN``, see :mod:`layers.settings`). On first use it creates, in its schema (default ``gis``):

- one table per vector kind (``gis.shelters`` ...): the layer's columns, ``fid serial`` primary key,
  ``_rev integer`` (a new number from one sequence on every change of the feature) and
  ``geom geometry(Geometry, 4490)`` with a GiST index;
- ``gis_layers``: per kind, the version (bumped on every committed change) and the visible columns;
- ``gis_history`` and ``gis_history_rows``: every committed change, with each touched feature's image
  before it and its revision before and after (an undo keeps the images it removes, which is what a
  redo restores), so undo and redo work across sessions, processes and machines.

Every write is one transaction: the features it touches are locked (``SELECT ... FOR UPDATE``) and
their ``_rev`` compared with the editor's ``base_rev`` before anything is written; a stale one raises
:class:`~layers.edits.ConflictError` and nothing changes. A client killed mid-transaction leaves the
previous state (the server rolls it back). Bulk loads use ``COPY`` (psycopg 3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any, SupportsFloat, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import settings
from layers.catalogue import CATALOGUE
from layers.edits import ChangeSet, Conflict, ConflictError, HistoryEntry, ImportDiff
from layers.errors import LayerError, Problem, StorageError
from layers.schema import LayerSpec
from layers.storage import WRITE, classify, storage_error
from layers.validate import validate

try:  # psycopg is needed only when a PostGIS store is used
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - reported when a store is made
    psycopg = None  # type: ignore[assignment]  # optional import: None marks psycopg missing
    sql = None  # type: ignore[assignment]

SRID = 4490
#: edit actions that can be undone (undo/redo entries themselves are not undone, they are reversed)
_UNDOABLE = ("edit", "replace", "append")
_PG_TYPE = {"str": "text", "choice": "text", "int": "bigint", "float": "double precision", "bool": "boolean"}
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _masked(dsn: str) -> str:
    """The DSN with any password replaced by ``***`` (safe to show)."""
    dsn = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn, flags=re.I)


def _same_shape(a: Any, b: Any) -> bool:
    """Same geometry, coordinates within 1e-9."""
    return bool(shapely.equals_exact(a, b, tolerance=1e-9))


def _py(v: object) -> object:
    """A value as psycopg adapts it: numpy scalars to Python, missing values to None."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and np.isnan(v):
            return None
    return v


def _objects(s: pd.Series) -> list:
    """A column as a list of plain Python values, missing values as None (for COPY)."""
    vals = s.astype(object).to_numpy()
    missing = pd.isna(vals)
    if missing.any():
        vals = vals.copy()
        vals[missing] = None
    out = vals.tolist()
    if out and any(isinstance(v, np.generic) for v in out[:50]):
        out = [_py(v) for v in out]
    return out


def _dtype_pg(s: pd.Series) -> str:
    """PostgreSQL type for a column that is not in the layer's spec."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(s.dtype):
        return "double precision"
    return "text"


def _same(a: object, b: object) -> bool:
    """Equal values, treating all missing values alike and floats with a tolerance."""
    a, b = _py(a), _py(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            return bool(np.isclose(float(cast(SupportsFloat, a)), float(cast(SupportsFloat, b)),
                                   rtol=1e-12, atol=1e-12))
        except (TypeError, ValueError):
            return False
    return a == b


def _entry(row: tuple) -> HistoryEntry:
    eid, time, user, note, kind, action, added, changed, removed, undone = row
    return HistoryEntry(int(eid), time.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                        user or "", note or "", kind, action, int(added), int(changed), int(removed), bool(undone))


class PostGISStore:
    """Vector layers of a workspace in a PostGIS database (implements :class:`layers.edits.LayerStore`).

    Parameters
    ----------
    dsn : str, optional
        libpq connection string or URL, e.g. ``postgresql://gis:secret@db-host:5432/gis``. Default:
        the environment variable ``GIS_POSTGIS_DSN`` (:data:`layers.settings.POSTGIS_DSN`).
    schema : str, optional
        Database schema holding the layers and the history (created on first use); default
        ``GIS_POSTGIS_SCHEMA`` or ``gis``.
    connect_timeout : int
        Seconds to wait for the server before reporting it unreachable.

    Raises
    ------
    LayerError
        No connection string, psycopg missing, or an invalid schema name.
    """

    def __init__(self, dsn: str | None = None, schema: str | None = None, *, connect_timeout: int = 5):
        dsn = dsn or settings.postgis_dsn()
        schema = schema or settings.postgis_schema()
        if not dsn:
            raise LayerError(Problem("未设置 PostGIS 数据库连接", "no PostGIS database connection is set",
                                     "设置环境变量 GIS_POSTGIS_DSN，例如 postgresql://用户:密码@主机:5432/库名",
                                     "set GIS_POSTGIS_DSN, e.g. postgresql://user:password@host:5432/dbname"))
        if psycopg is None:
            raise LayerError(Problem("缺少 psycopg，无法连接 PostGIS",
                                     "psycopg is not installed; PostGIS is unavailable",
                                     "安装 requirements.txt 中的依赖", "install the packages in requirements.txt"))
        if not _SCHEMA_NAME.match(schema):
            raise LayerError(Problem(f"数据库模式名“{schema}”无效", f"invalid schema name '{schema}'",
                                     "只用小写字母、数字和下划线", "use lower-case letters, digits and underscores"))
        self.dsn = dsn
        self.schema = schema
        self.connect_timeout = connect_timeout
        self._ready = False
        #: test hook: called inside the write transaction just before it commits
        self._before_commit: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"PostGISStore({_masked(self.dsn)!r}, schema={self.schema!r})"

    # ---- connection and schema -----------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.dsn, connect_timeout=self.connect_timeout)
        except psycopg.Error as e:
            raise StorageError(Problem(f"无法连接 PostGIS 数据库 {_masked(self.dsn)}",
                                       f"cannot connect to the PostGIS database {_masked(self.dsn)}: "
                                       f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}",
                                       "检查数据库服务是否运行、GIS_POSTGIS_DSN 中的主机、端口、用户和密码",
                                       "check the server is running and the host, port, user and password in "
                                       "GIS_POSTGIS_DSN"), cause="lost_connection") from e
        if not self._ready:
            try:
                self._create_schema(conn)
            except BaseException:
                conn.close()
                raise
            self._ready = True
        return conn

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """A connection for one operation; a connection lost midway (the server stopped, the network went
        down), a full disk or a read-only server become a bilingual :class:`StorageError` (rolled back)."""
        conn = self._connect()
        try:
            with conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, psycopg.errors.ReadOnlySqlTransaction) as e:
            cause = classify(e)
            if cause == "lost_connection":
                raise StorageError(Problem(f"与 PostGIS 数据库 {_masked(self.dsn)} 的连接中断，本次操作未生效",
                                           f"the connection to the PostGIS database {_masked(self.dsn)} was lost; the "
                                           "operation did not take effect", "检查数据库服务后重试",
                                           "check the database server and try again"), cause=cause) from e
            raise storage_error(e, doing=WRITE, cause=cause) from e

    def connection(self) -> psycopg.Connection:
        """A new connection (the schema made on first use) that the caller keeps and closes: for a record keeper
        that writes many small transactions (:mod:`layers.events`), where connecting each time would cost more
        than the write. Unreachable server: a bilingual :class:`LayerError`."""
        return self._connect()

    def session(self) -> AbstractContextManager[psycopg.Connection]:
        """A connection for one operation (as :meth:`_session`), for other record keepers of the workspace (the
        operations record, :mod:`layers.events`): a lost connection becomes a bilingual :class:`LayerError`."""
        return self._session()

    def _t(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    def _create_schema(self, conn: psycopg.Connection) -> None:
        s = sql.Identifier(self.schema)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"gis-store-schema:{self.schema}",))
            has_postgis = conn.execute("select 1 from pg_extension where extname = 'postgis'").fetchone()
            if not has_postgis:
                try:
                    with conn.transaction():
                        conn.execute("create extension if not exists postgis")
                except psycopg.Error as e:
                    raise LayerError(Problem("数据库中没有 PostGIS 扩展", "the database has no PostGIS extension",
                                             "请数据库管理员执行 CREATE EXTENSION postgis",
                                             "ask the database administrator to run CREATE EXTENSION postgis")) from e
            for stmt in (
                "create schema if not exists {s}",
                "create sequence if not exists {s}.gis_rev_seq",
                "create table if not exists {s}.gis_layers (kind text primary key, version bigint not null default 0,"
                " columns jsonb not null default '[]')",
                "create table if not exists {s}.gis_history (entry_id serial primary key,"
                " time timestamptz not null default now(), user_name text not null default '',"
                " note text not null default '', kind text not null, action text not null,"
                " added integer not null default 0, changed integer not null default 0,"
                " removed integer not null default 0, undone boolean not null default false, target integer,"
                " columns_before jsonb, columns_after jsonb)",
                "create table if not exists {s}.gis_history_rows (entry_id integer not null references"
                " {s}.gis_history on delete cascade, fid integer not null, before_rev integer, before jsonb,"
                " before_geom geometry(Geometry, 4490), after_rev integer, after jsonb,"
                " after_geom geometry(Geometry, 4490), primary key (entry_id, fid))",
                "create table if not exists {s}.gis_layer_options (kind text not null, source text not null,"
                " offset_kind text not null, time timestamptz not null default now(), primary key (kind, source))",
            ):
                conn.execute(sql.SQL(stmt).format(s=s))

    # ---- import choices kept with the workspace ----------------------------------------------------
    def layer_option(self, kind: str, source: str) -> dict | None:
        """The web-map offset chosen when file ``source`` was last imported as ``kind``, or None
        (as :meth:`layers.workspace.Workspace.layer_option`)."""
        with self._session() as conn:
            row = conn.execute(sql.SQL("select offset_kind, time from {} where kind = %s and source = %s").format(
                self._t("gis_layer_options")), (kind, Path(source).name)).fetchone()
        return None if row is None else {"offset": row[0], "time": row[1].isoformat()}

    def remember_layer_option(self, kind: str, source: str, *, offset: str | None) -> None:
        """Keep the offset chosen for importing ``source`` as ``kind`` (None is kept as ``"none"``)."""
        value = offset or "none"
        if value not in ("gcj02", "bd09", "none"):
            raise ValueError(f"offset must be 'gcj02', 'bd09' or None, not {offset!r}")
        with self._session() as conn:
            conn.execute(sql.SQL("insert into {} (kind, source, offset_kind) values (%s, %s, %s) on conflict "
                                 "(kind, source) do update set offset_kind = excluded.offset_kind, time = now()")
                         .format(self._t("gis_layer_options")), (kind, Path(source).name, value))

    def _spec(self, kind: str) -> LayerSpec:
        spec = CATALOGUE.get(kind)
        if spec is None or not spec.is_vector:
            known = ", ".join(k for k, sp in CATALOGUE.items() if sp.is_vector)
            raise LayerError(Problem(f"未知的矢量图层类型“{kind}”", f"unknown vector layer kind '{kind}'",
                                     f"可用：{known}", f"use one of: {known}"))
        return spec

    def _missing(self, spec: LayerSpec) -> LayerError:
        return LayerError(Problem(f"数据库中没有“{spec.zh}”图层", f"the database has no '{spec.en}' layer",
                                  "先导入该图层", "import it first", file=f"{self.schema}.{spec.kind}"))

    def _lock_layer(self, conn, kind: str) -> None:
        """Serialise writers of one layer (held to the end of the transaction; taken before any table lock)."""
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"gis-store-layer:{self.schema}.{kind}",))

    def _columns(self, conn, kind: str) -> list[tuple[str, str]] | None:
        """Visible columns ``[(name, pg type)]`` of a layer, or None when the layer does not exist."""
        row = conn.execute(sql.SQL("select columns from {} where kind = %s").format(self._t("gis_layers")),
                           (kind,)).fetchone()
        return None if row is None else [tuple(c) for c in row[0]]

    def _physical(self, conn, kind: str) -> list[str]:
        rows = conn.execute("select column_name from information_schema.columns where table_schema = %s and "
                            "table_name = %s order by ordinal_position", (self.schema, kind)).fetchall()
        return [r[0] for r in rows if r[0] not in ("fid", "_rev", "geom")]

    def _ensure_layer(self, conn, kind: str, cols: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Create the layer table if absent and add missing columns; returns the new visible columns."""
        self._lock_layer(conn, kind)
        current = self._columns(conn, kind)
        t = self._t(kind)
        if current is None:
            conn.execute(sql.SQL("create table if not exists {t} (fid serial primary key, _rev integer not null "
                                 "default nextval({seq}), geom geometry(Geometry, 4490) not null)").format(
                t=t, seq=sql.Literal(f"{self.schema}.gis_rev_seq")))
            conn.execute(sql.SQL("create index if not exists {i} on {t} using gist (geom)").format(
                i=sql.Identifier(f"{kind}_geom_gix"), t=t))
            conn.execute(sql.SQL("insert into {} (kind, columns) values (%s, '[]')").format(self._t("gis_layers")),
                         (kind,))
            current = []
        physical = set(self._physical(conn, kind))
        visible = list(current)
        names = {c for c, _ in visible}
        for name, typ in cols:
            if name not in physical:
                conn.execute(sql.SQL("alter table {} add column {} " + typ).format(t, sql.Identifier(name)))
                physical.add(name)
            if name not in names:
                visible.append((name, typ))
                names.add(name)
        return visible

    def _set_columns(self, conn, kind: str, cols: list[tuple[str, str]], bump: bool = True) -> None:
        conn.execute(sql.SQL("update {} set columns = %s, version = version + %s where kind = %s").format(
            self._t("gis_layers")), (json.dumps([list(c) for c in cols]), 1 if bump else 0, kind))

    def _order(self, spec: LayerSpec, cols: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Spec fields first (spec order), then the others as they came."""
        cols = list(dict(cols).items())
        order = {f.name: i for i, f in enumerate(spec.fields)}
        return sorted(cols, key=lambda c: (0, order[c[0]]) if c[0] in order else (1, 0))

    def _layer_columns(self, spec: LayerSpec, gdf: gpd.GeoDataFrame) -> list[tuple[str, str]]:
        types = {f.name: _PG_TYPE[f.type] for f in spec.fields}
        out = [(c, types.get(c) or _dtype_pg(gdf[c])) for c in gdf.columns
               if c != gdf.geometry.name and c not in ("fid", "_rev", "_row")]
        return self._order(spec, out)

    # ---- reading -------------------------------------------------------------------------------
    def vector_kinds(self) -> list[str]:
        """Vector kinds present, in catalogue order."""
        with self._session() as conn:
            names = {r[0] for r in conn.execute(sql.SQL("select kind from {}").format(self._t("gis_layers")))}
        return [k for k in CATALOGUE if k in names]

    def version(self, kind: str) -> int:
        """A number that bumps on every committed change of the layer (0 when absent)."""
        with self._session() as conn:
            row = conn.execute(sql.SQL("select version from {} where kind = %s").format(self._t("gis_layers")),
                               (kind,)).fetchone()
        return 0 if row is None else int(row[0])

    def read(self, kind: str) -> gpd.GeoDataFrame:
        """The layer: its columns plus int columns ``fid`` and ``_rev``, EPSG:4490, ordered by fid."""
        spec = self._spec(kind)
        with self._session() as conn:
            cols = self._columns(conn, kind)
            if cols is None:
                raise self._missing(spec)
            gdf = self._select(conn, kind, cols)
        gdf.attrs["source"] = f"postgis:{self.schema}.{kind}"
        return gdf

    def vector(self, kind: str) -> gpd.GeoDataFrame:
        """The layer with its canonical fields only (as :meth:`layers.workspace.Workspace.vector`)."""
        gdf = self.read(kind).drop(columns=["fid", "_rev"])
        gdf.attrs["source"] = f"postgis:{self.schema}.{kind}"
        return gdf

    @property
    def label(self) -> str:
        """How the store is named to a user (the connection without its password)."""
        return f"{_masked(self.dsn)} ({self.schema})"

    def lonlat_bounds(self) -> tuple[float, float, float, float] | None:
        """Lon/lat extent of every layer (``ST_Extent``), or None when empty."""
        kinds = self.vector_kinds()
        if not kinds:
            return None
        parts = sql.SQL(" union all ").join(
            sql.SQL("select geom from {}").format(self._t(k)) for k in kinds)
        with self._session() as conn:
            row = conn.execute(sql.SQL("select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from "
                                       "(select st_extent(geom) as e from ({}) g) x").format(parts)).fetchone()
        if row is None or row[0] is None:
            return None
        minx, miny, maxx, maxy = (float(v) for v in row)
        return minx, miny, maxx, maxy

    def _select(self, conn, kind: str, cols: list[tuple[str, str]], where: sql.Composable | None = None,
                params: tuple = ()) -> gpd.GeoDataFrame:
        q = sql.SQL("select fid, _rev, ST_AsBinary(geom){extra} from {t}{where} order by fid").format(
            extra=sql.SQL("").join(sql.SQL(", ") + sql.Identifier(c) for c, _ in cols), t=self._t(kind),
            where=sql.SQL(" where ") + where if where is not None else sql.SQL(""))
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(q, params).fetchall()
        columns = list(zip(*rows)) if rows else [()] * (3 + len(cols))
        data: dict[str, Any] = {}
        for (name, typ), values in zip(cols, columns[3:]):
            data[name] = _series(values, typ)
        df = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
        df["fid"] = np.asarray(columns[0], dtype="int64")
        df["_rev"] = np.asarray(columns[1], dtype="int64")
        geom: np.ndarray | list = (shapely.from_wkb(np.asarray([bytes(b) for b in columns[2]], dtype=object))
                                   if rows else [])
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, index=df.index, crs=settings.STORAGE_CRS),
                                crs=settings.STORAGE_CRS)

    # ---- history images --------------------------------------------------------------------------
    def _image(self, alias: str = "t") -> sql.Composed:
        return sql.SQL("to_jsonb({a}) - 'fid' - '_rev' - 'geom'").format(a=sql.Identifier(alias))

    def _before(self, conn, entry: int, kind: str, fids: list[int] | None) -> None:
        """Record the before-image of the features ``fids`` (all when None) in history entry ``entry``."""
        where = sql.SQL("") if fids is None else sql.SQL(" where t.fid = any(%s)")
        conn.execute(sql.SQL("insert into {h} (entry_id, fid, before_rev, before, before_geom) "
                             "select %s, t.fid, t._rev, {img}, t.geom from {t} t{w}").format(
            h=self._t("gis_history_rows"), img=self._image(), t=self._t(kind), w=where),
            (entry,) if fids is None else (entry, fids))

    def _after(self, conn, entry: int, kind: str, new_fids: list[int]) -> None:
        """Record the revision after ``entry`` of each feature it touched that is still present, and of ``new_fids``.

        Only the revision is kept: the after-image itself is taken by the undo (as that undo's
        before-image), which is where a redo finds it. A bulk load so stores no second copy.
        """
        h, t = self._t("gis_history_rows"), self._t(kind)
        conn.execute(sql.SQL("update {h} h set after_rev = t._rev from {t} t where h.entry_id = %s and "
                             "h.fid = t.fid").format(h=h, t=t), (entry,))
        if new_fids:
            conn.execute(sql.SQL("insert into {h} (entry_id, fid, after_rev) select %s, t.fid, t._rev from {t} t "
                                 "where t.fid = any(%s) on conflict (entry_id, fid) do nothing").format(h=h, t=t),
                         (entry, new_fids))

    def _new_entry(self, conn, kind: str, action: str, user: str, note: str, cols_before, target: int | None = None
                   ) -> int:
        return int(conn.execute(sql.SQL("insert into {} (user_name, note, kind, action, target, columns_before) "
                                        "values (%s, %s, %s, %s, %s, %s) returning entry_id").format(
            self._t("gis_history")), (user, note, kind, action, target,
                                      None if cols_before is None else json.dumps([list(c) for c in cols_before]))
        ).fetchone()[0])

    def _close_entry(self, conn, entry: int, cols_after, added: int, changed: int, removed: int) -> HistoryEntry:
        row = conn.execute(sql.SQL("update {} set added = %s, changed = %s, removed = %s, columns_after = %s "
                                   "where entry_id = %s returning entry_id, time, user_name, note, kind, action, "
                                   "added, changed, removed, undone").format(self._t("gis_history")),
                           (added, changed, removed, json.dumps([list(c) for c in cols_after]), entry)).fetchone()
        return _entry(row)

    def _commit_hook(self) -> None:
        if self._before_commit is not None:
            self._before_commit()

    # ---- writing -------------------------------------------------------------------------------
    def _copy(self, conn, kind: str, gdf: gpd.GeoDataFrame, cols: list[tuple[str, str]]) -> list[int]:
        """Bulk-insert ``gdf`` (columns ``cols``) with COPY; returns the new fids in row order."""
        n = len(gdf)
        if n == 0:
            return []
        seq = conn.execute("select pg_get_serial_sequence(%s, 'fid')",
                           (f'"{self.schema}"."{kind}"',)).fetchone()[0]
        fids = [r[0] for r in conn.execute("select nextval(%s) from generate_series(1, %s)", (seq, n)).fetchall()]
        geoms = shapely.set_srid(np.asarray(gdf.geometry.values, dtype=object), SRID)
        hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
        names = [c for c, _ in cols]
        columns = [_objects(gdf[c]) if c in gdf.columns else [None] * n for c in names]
        stmt = sql.SQL("copy {t} (fid, geom{extra}) from stdin").format(
            t=self._t(kind), extra=sql.SQL("").join(sql.SQL(", ") + sql.Identifier(c) for c in names))
        with conn.cursor() as cur, cur.copy(stmt) as copy:
            for row in zip(fids, hexes, *columns):
                copy.write_row(row)
        return fids

    def _validate(self, spec: LayerSpec, gdf: gpd.GeoDataFrame, rows: Sequence[int | str], source: str
                  ) -> gpd.GeoDataFrame:
        raw = gdf.copy()
        if raw.crs is None:
            raw = raw.set_crs(settings.STORAGE_CRS)
        elif not raw.crs.equals(settings.STORAGE_CRS):
            raw = raw.to_crs(settings.STORAGE_CRS)
        raw = raw.drop(columns=[c for c in ("fid", "_rev", "_row") if c in raw.columns])
        raw.insert(0, "_row", rows)
        raw = raw.reset_index(drop=True)
        out, _ = validate(raw, spec, source=source)
        return out

    def _check_ids(self, conn, spec: LayerSpec, kind: str, ids: pd.Series, exclude: list[int],
                   rows: Sequence[int | str]) -> None:
        """Refuse identifiers already used by other features of the layer."""
        if not spec.id_field or self._columns(conn, kind) is None:
            return
        if spec.id_field not in self._physical(conn, kind):
            return
        vals = [v for v in ids.tolist() if v is not None and v is not pd.NA]
        if not vals:
            return
        taken = {r[0] for r in conn.execute(sql.SQL("select {c} from {t} where {c} = any(%s) and fid <> all(%s)")
                                            .format(c=sql.Identifier(spec.id_field), t=self._t(kind)),
                                            (vals, exclude)).fetchall()}
        bad = [Problem(f"编号“{v}”已被其他要素使用", f"identifier '{v}' is already used by another feature",
                       "换一个编号", "choose another identifier", file=kind, row=r,
                       field=spec.field(spec.id_field).zh)
               for v, r in zip(ids.tolist(), rows) if v in taken]
        if bad:
            raise LayerError(bad)

    def apply(self, changes: ChangeSet, *, note: str, user: str) -> HistoryEntry:
        """Validate and commit a change set in one transaction.

        Parameters
        ----------
        changes : ChangeSet
            Added features, updates and deletes of one layer.
        note, user : str
            Recorded in the history.

        Returns
        -------
        HistoryEntry
            The committed entry (action ``"edit"``).

        Raises
        ------
        ConflictError
            An update or delete whose ``base_rev`` is not the stored ``_rev`` (someone else saved
            first) or whose feature is gone; nothing is written.
        LayerError
            A value that would not pass an import (wrong type, out of range, bad geometry,
            duplicate identifier); nothing is written.
        """
        kind = changes.kind
        spec = self._spec(kind)
        added = changes.added if changes.added is not None else None
        n_added = 0 if added is None else len(added)
        touched = [u.fid for u in changes.updated] + [d.fid for d in changes.deleted]
        if len(set(touched)) != len(touched):
            raise LayerError(Problem("同一要素在一次保存中被修改或删除了多次", "a feature is changed or deleted more "
                                     "than once in one save", "合并对同一要素的修改", "merge the changes of each "
                                     "feature", file=kind))
        with self._session() as conn, conn.transaction():
            self._lock_layer(conn, kind)
            cols = self._columns(conn, kind)
            if cols is None and (touched or not n_added):
                raise self._missing(spec)
            unknown = sorted({f for u in changes.updated for f in u.values} - {c for c, _ in cols or []}
                             - {"geometry"} - {f.name for f in spec.fields})
            if unknown:
                raise LayerError(Problem(f"图层没有字段：{'、'.join(unknown)}", f"the layer has no field {unknown}",
                                         "只修改图层已有的字段", "change only the layer's fields", file=kind))
            current = gpd.GeoDataFrame()
            if cols is not None and touched:
                conn.execute(sql.SQL("select fid from {} where fid = any(%s) order by fid for update").format(
                    self._t(kind)), (touched,))
                current = self._select(conn, kind, cols, sql.SQL("fid = any(%s)"), (touched,))
            by_fid = {int(f): i for i, f in enumerate(current["fid"])} if len(current) else {}
            conflicts: list[Conflict] = []
            for u in changes.updated:
                i = by_fid.get(u.fid)
                if i is None:
                    conflicts.append(Conflict(u.fid, "", u.values, None))
                elif int(current["_rev"].iloc[i]) != u.base_rev:
                    theirs = {f: current.geometry.iloc[i] if f == "geometry" else (
                        _py(current[f].iloc[i]) if f in current.columns else None) for f in u.values}
                    differ = [f for f in u.values if not (
                        _same_shape(u.values[f], theirs[f]) if f == "geometry"
                        else _same(u.values[f], theirs[f]))] or list(u.values)
                    conflicts += [Conflict(u.fid, f, u.values[f], theirs[f]) for f in differ]
            for d in changes.deleted:
                i = by_fid.get(d.fid)
                if i is None:
                    conflicts.append(Conflict(d.fid, "", None, None))
                elif int(current["_rev"].iloc[i]) != d.base_rev:
                    conflicts.append(Conflict(d.fid, "_rev", d.base_rev, int(current["_rev"].iloc[i])))
            if conflicts:
                raise ConflictError(conflicts, kind)

            # validate updated features as they would be after the save, and the added ones
            upd_rows = []
            if changes.updated:
                merged = current.set_index("fid", drop=False).loc[[u.fid for u in changes.updated]].copy()
                for u in changes.updated:
                    for f, v in u.values.items():
                        if f == "geometry":
                            merged.loc[u.fid, merged.geometry.name] = v
                        else:
                            if f not in merged.columns:
                                merged[f] = None
                            merged[f] = merged[f].astype(object)
                            merged.at[u.fid, f] = v
                upd_rows = [u.fid for u in changes.updated]
                checked_upd = self._validate(spec, merged.drop(columns=["fid", "_rev"]), upd_rows, kind)
            checked_add = None
            add_rows = [f"+{i + 1}" for i in range(n_added)]
            if added is not None and n_added:
                had_id = bool(spec.id_field and spec.id_field in added.columns)
                checked_add = self._validate(spec, added, add_rows, kind)
                if spec.id_field and not had_id:
                    checked_add[spec.id_field] = None
            # identifiers unique across the layer
            if spec.id_field:
                ids: list[object] = []
                rows: list[int | str] = []
                own = list(touched)
                if changes.updated and spec.id_field in checked_upd.columns and any(
                        spec.id_field in u.values for u in changes.updated):
                    ids += checked_upd[spec.id_field].tolist()
                    rows += upd_rows
                if checked_add is not None and spec.id_field in checked_add.columns:
                    ids += checked_add[spec.id_field].tolist()
                    rows += add_rows
                s = pd.Series(ids, dtype=object)
                dup = s.notna() & s.duplicated(keep=False)
                if dup.any():
                    raise LayerError([Problem("编号重复", "duplicate identifier", "每个要素使用唯一编号",
                                              "give every feature its own identifier", file=kind, row=r,
                                              field=spec.field(spec.id_field).zh, )
                                      for r, d in zip(rows, dup) if d])
                self._check_ids(conn, spec, kind, s, own, rows)

            new_cols: list[tuple[str, str]] = []
            if checked_add is not None:
                new_cols += self._layer_columns(spec, checked_add)
            types = {f.name: _PG_TYPE[f.type] for f in spec.fields}
            for u in changes.updated:
                new_cols += [(f, types.get(f) or "text") for f in u.values if f != "geometry"]
            cols_before = cols
            cols = self._order(spec, self._ensure_layer(conn, kind, new_cols))
            entry = self._new_entry(conn, kind, "edit", user, note, cols_before)
            self._before(conn, entry, kind, touched)
            t = self._t(kind)
            for k, u in enumerate(changes.updated):
                sets: list[sql.Composable] = [
                    sql.SQL("_rev = nextval({})").format(sql.Literal(f"{self.schema}.gis_rev_seq"))]
                params: list[object] = []
                for f in u.values:
                    if f == "geometry":
                        sets.append(sql.SQL("geom = ST_GeomFromWKB(%s, 4490)"))
                        params.append(shapely.to_wkb(checked_upd.geometry.iloc[k]))
                    else:
                        sets.append(sql.SQL("{} = %s").format(sql.Identifier(f)))
                        params.append(_py(checked_upd[f].iloc[k]) if f in checked_upd.columns else _py(u.values[f]))
                conn.execute(sql.SQL("update {} set {} where fid = %s").format(t, sql.SQL(", ").join(sets)),
                             (*params, u.fid))
            if changes.deleted:
                conn.execute(sql.SQL("delete from {} where fid = any(%s)").format(t),
                             ([d.fid for d in changes.deleted],))
            new_fids: list[int] = []
            if checked_add is not None:
                new_fids = self._copy(conn, kind, checked_add, cols)
                if spec.id_field and checked_add[spec.id_field].isna().any():
                    prefix = spec.make_id(0).removesuffix("0")   # the one id rule: initial + number (fid)
                    conn.execute(sql.SQL("update {t} set {c} = %s || fid where fid = any(%s) and {c} is null")
                                 .format(t=t, c=sql.Identifier(spec.id_field)), (prefix, new_fids))
            self._after(conn, entry, kind, new_fids)
            self._set_columns(conn, kind, cols)
            result = self._close_entry(conn, entry, cols, n_added, len(changes.updated), len(changes.deleted))
            self._commit_hook()
        return result

    def replace(self, kind: str, gdf: gpd.GeoDataFrame, *, note: str, user: str, append: bool = False
                ) -> HistoryEntry:
        """Import ``gdf`` as layer ``kind`` (replace it, or append to it) in one transaction.

        ``gdf`` is validated again like an import (canonical or file headers, any CRS); on any
        problem nothing changes. Rows matching an existing feature by the kind's id field (or
        ``name``) update it and keep its fid; the rest are added (bulk ``COPY``); when replacing,
        the features no row matched are deleted. Everything it changes is kept in the history, so
        it can be undone.
        """
        spec = self._spec(kind)
        rows = gdf["_row"].tolist() if "_row" in gdf.columns else list(range(1, len(gdf) + 1))
        checked = self._validate(spec, gdf, rows, gdf.attrs.get("source") or kind)
        cols_new = self._layer_columns(spec, checked)
        with self._session() as conn, conn.transaction():
            self._lock_layer(conn, kind)
            cols_before = self._columns(conn, kind)
            t = self._t(kind)
            if cols_before is not None:
                conn.execute(sql.SQL("lock table {} in exclusive mode").format(t))
                current = self._select(conn, kind, cols_before)
            else:
                current = None
            match = _match(spec, current, checked)
            cols = self._ensure_layer(conn, kind, cols_new)
            if not append:
                cols = self._order(spec, cols_new)
            by_fid = current.set_index("fid", drop=False) if current is not None else None
            fields = [c for c, _ in cols_new]
            upd = [i for i, fid in match.items()
                   if by_fid is not None and _differs(checked, i, by_fid.loc[fid], fields)]
            new_idx = [i for i in range(len(checked)) if i not in match]
            gone = [] if append or current is None else sorted(set(current["fid"].tolist()) - set(match.values()))
            entry = self._new_entry(conn, kind, "append" if append else "replace", user, note, cols_before)
            self._before(conn, entry, kind, [match[i] for i in upd] + gone)
            if gone:
                conn.execute(sql.SQL("delete from {} where fid = any(%s)").format(t), (gone,))
            if upd:
                self._update_rows(conn, kind, checked.iloc[upd], [match[i] for i in upd], cols_new)
            new_fids = self._copy(conn, kind, checked.iloc[new_idx], cols)
            self._after(conn, entry, kind, new_fids)
            self._set_columns(conn, kind, cols)
            result = self._close_entry(conn, entry, cols, len(new_fids), len(upd), len(gone))
            self._commit_hook()
        return result

    def _update_rows(self, conn, kind: str, gdf: gpd.GeoDataFrame, fids: list[int],
                     cols: list[tuple[str, str]]) -> None:
        """Overwrite features ``fids`` with the rows of ``gdf`` (columns ``cols``), bumping their _rev."""
        tmp = sql.Identifier(f"_gis_incoming_{kind}")
        conn.execute(sql.SQL("create temp table {tmp} (like {t} including defaults) on commit drop").format(
            tmp=tmp, t=self._t(kind)))
        geoms = shapely.set_srid(np.asarray(gdf.geometry.values, dtype=object), SRID)
        hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
        names = [c for c, _ in cols]
        columns = [_objects(gdf[c]) for c in names]
        with conn.cursor() as cur, cur.copy(sql.SQL("copy {} (fid, geom{}) from stdin").format(
                tmp, sql.SQL("").join(sql.SQL(", ") + sql.Identifier(c) for c in names))) as copy:
            for row in zip(fids, hexes, *columns):
                copy.write_row(row)
        sets = [sql.SQL("_rev = nextval({})").format(sql.Literal(f"{self.schema}.gis_rev_seq")),
                sql.SQL("geom = s.geom")] + [sql.SQL("{c} = s.{c}").format(c=sql.Identifier(c)) for c in names]
        conn.execute(sql.SQL("update {t} set {sets} from {tmp} s where {t}.fid = s.fid").format(
            t=self._t(kind), sets=sql.SQL(", ").join(sets), tmp=tmp))
        conn.execute(sql.SQL("drop table {}").format(tmp))

    def diff(self, kind: str, gdf: gpd.GeoDataFrame, *, append: bool = False) -> ImportDiff:
        """What importing ``gdf`` as ``kind`` would change (nothing is written).

        New rows are matched to existing features by the kind's id field (or ``name``): a match
        that differs is *changed* (with its ``fid``), no match is *added*, and (when replacing) an
        existing feature no new row matches is *removed*. Appending never removes.
        """
        spec = self._spec(kind)
        rows = gdf["_row"].tolist() if "_row" in gdf.columns else list(range(1, len(gdf) + 1))
        new = self._validate(spec, gdf, rows, gdf.attrs.get("source") or kind)
        with self._session() as conn:
            cols = self._columns(conn, kind)
            current = self._select(conn, kind, cols) if cols is not None else None
        if current is None:
            current = gpd.GeoDataFrame({"fid": pd.Series([], dtype="int64")}, geometry=[],
                                       crs=settings.STORAGE_CRS)
        match = _match(spec, current, new)
        by_fid = current.set_index("fid", drop=False)
        fields = [c for c in new.columns if c != new.geometry.name and c not in ("fid", "_rev", "_row")]
        changed_idx, changed_fields = [], {}
        for i, fid in match.items():
            d = _differs(new, i, by_fid.loc[fid], fields)
            if d:
                changed_idx.append(i)
                changed_fields[fid] = d
        added = new.iloc[[i for i in range(len(new)) if i not in match]]
        removed = current.iloc[0:0] if append else current[~current["fid"].isin(set(match.values()))]
        changed = new.iloc[changed_idx].assign(fid=[match[i] for i in changed_idx])
        return ImportDiff(kind, added.reset_index(drop=True), removed.reset_index(drop=True),
                          changed.reset_index(drop=True), changed_fields)

    # ---- history, undo and redo ------------------------------------------------------------------
    def history(self, kind: str | None = None, limit: int = 100) -> list[HistoryEntry]:
        """Committed changes, newest first (of one layer when ``kind`` is given)."""
        q = sql.SQL("select entry_id, time, user_name, note, kind, action, added, changed, removed, undone "
                    "from {}{} order by entry_id desc limit %s").format(
            self._t("gis_history"), sql.SQL(" where kind = %s") if kind else sql.SQL(""))
        with self._session() as conn:
            rows = conn.execute(q, ((kind, limit) if kind else (limit,))).fetchall()
        return [_entry(r) for r in rows]

    def undo(self, *, user: str) -> HistoryEntry | None:
        """Undo the latest edit, replace or append not yet undone; the undo is itself recorded.

        Returns None when there is nothing to undo. Raises ConflictError when a feature it would
        restore was changed since by a change that is not undone.
        """
        with self._session() as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"gis-store-undo:{self.schema}",))
            row = conn.execute(sql.SQL("select entry_id, kind, columns_before from {} where action = any(%s) and "
                                       "not undone order by entry_id desc limit 1").format(self._t("gis_history")),
                               (list(_UNDOABLE),)).fetchone()
            if row is None:
                return None
            target, kind, cols_to = row
            return self._revert(conn, "undo", target, target, kind, cols_to, user)

    def redo(self, *, user: str) -> HistoryEntry | None:
        """Redo the most recently undone change, if nothing was edited since; None otherwise."""
        with self._session() as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"gis-store-undo:{self.schema}",))
            h = self._t("gis_history")
            latest = conn.execute(sql.SQL("select coalesce(max(entry_id), 0) from {} where action = any(%s)")
                                  .format(h), (list(_UNDOABLE),)).fetchone()
            assert latest is not None  # an aggregate always returns one row
            last_edit = latest[0]
            row = conn.execute(sql.SQL("select e.entry_id, u.entry_id, e.kind, e.columns_after from {h} u "
                                       "join {h} e on "
                                       "e.entry_id = u.target where u.action = 'undo' and u.entry_id > %s and "
                                       "e.undone order by u.entry_id desc limit 1").format(h=h),
                               (last_edit,)).fetchone()
            if row is None:
                return None
            target, source, kind, cols_to = row
            return self._revert(conn, "redo", target, source, kind, cols_to, user)

    def _revert(self, conn, action: str, target: int, source: int, kind: str, cols_to, user: str) -> HistoryEntry:
        """Put the features of entry ``target`` back as they were before it (undo) or after it (redo).

        The rows restored are the before-images of entry ``source``: ``target`` itself for an undo,
        the undo that reverted ``target`` for a redo (its before-images are ``target``'s result).
        """
        back, fwd = ("before", "after") if action == "undo" else ("after", "before")
        hr, t = self._t("gis_history_rows"), self._t(kind)
        self._lock_layer(conn, kind)
        conn.execute(sql.SQL("lock table {} in exclusive mode").format(t))
        latest = conn.execute(sql.SQL("select max(entry_id) from {} where action = any(%s) and not undone").format(
            self._t("gis_history")), (list(_UNDOABLE),)).fetchone()[0]
        if (action == "undo" and latest != target) or (action == "redo" and latest is not None and latest > source):
            raise ConflictError([], kind)     # another session saved an edit meanwhile
        # every feature must still be as the target entry left it (undo) or found it (redo)
        stale = conn.execute(sql.SQL(
            "select h.fid, h.{fr}, t._rev from {hr} h left join {t} t on t.fid = h.fid where h.entry_id = %s and "
            "((h.{fr} is null and t.fid is not null) or (h.{fr} is not null and "
            "(t.fid is null or t._rev <> h.{fr})))").format(fr=sql.Identifier(f"{fwd}_rev"), hr=hr, t=t),
            (target,)).fetchall()
        if stale:
            raise ConflictError([Conflict(int(f), "_rev", want, have) for f, want, have in stale], kind)
        cols_now = self._columns(conn, kind) or []
        cols_back = [tuple(c) for c in cols_to] if cols_to is not None else cols_now
        cols = self._ensure_layer(conn, kind, cols_back)
        fids = [r[0] for r in conn.execute(sql.SQL("select fid from {} where entry_id = %s").format(hr),
                                           (target,)).fetchall()]
        entry = self._new_entry(conn, kind, action, user, f"{action} #{target}", cols_now, target)
        self._before(conn, entry, kind, fids)
        conn.execute(sql.SQL("delete from {} where fid = any(%s)").format(t), (fids,))
        names = self._physical(conn, kind)
        ident = sql.SQL(", ").join(sql.Identifier(c) for c in names)
        rcols = sql.SQL(", ").join(sql.SQL("r.") + sql.Identifier(c) for c in names)
        conn.execute(sql.SQL(
            "insert into {t} (fid, _rev, geom{sep}{ident}) select h.fid, h.{rev}, h.{geom}{sep}{rcols} from {hr} h "
            "cross join lateral jsonb_populate_record(null::{t}, h.{img}) r where h.entry_id = %s and h.{img} is not "
            "null").format(t=t, sep=sql.SQL(", ") if names else sql.SQL(""), ident=ident,
                           rev=sql.Identifier("before_rev"), geom=sql.Identifier("before_geom"), rcols=rcols, hr=hr,
                           img=sql.Identifier("before")), (source,))
        self._after(conn, entry, kind, fids)
        # cols_to None: the layer did not exist before the target entry: keep the (now empty) table
        cols = cols_now if cols_to is None else cols_back
        self._set_columns(conn, kind, cols)
        conn.execute(sql.SQL("update {} set undone = %s where entry_id = %s").format(self._t("gis_history")),
                     (action == "undo", target))
        n_add, n_chg, n_rem = conn.execute(sql.SQL(
            "select count(*) filter (where {f} is null), count(*) filter (where {f} is not null and {b} is not null),"
            " count(*) filter (where {b} is null) from {hr} where entry_id = %s").format(
            f=sql.Identifier(f"{fwd}_rev"), b=sql.Identifier(f"{back}_rev"), hr=hr), (target,)).fetchone()
        result = self._close_entry(conn, entry, cols, n_add, n_chg, n_rem)
        self._commit_hook()
        return result


def _series(values: tuple, pgtype: str) -> pd.Series:
    """A column read from the database as the pandas dtype pyogrio would give it."""
    vals = list(values)
    has_null = any(v is None for v in vals)
    if pgtype == "bigint":
        return pd.Series(vals, dtype="Int64" if has_null else "int64")
    if pgtype == "double precision":
        return pd.Series([np.nan if v is None else v for v in vals], dtype="float64")
    if pgtype == "boolean":
        return pd.Series(vals, dtype="boolean" if has_null else "bool")
    return pd.Series(vals, dtype=object)


def _key(v: object) -> str | None:
    v = _py(v)
    return None if v is None else str(v)


def _match(spec: LayerSpec, current: gpd.GeoDataFrame | None, new: gpd.GeoDataFrame) -> dict[int, int]:
    """New row position -> fid of the existing feature with the same id field (or name)."""
    if current is None or len(current) == 0:
        return {}
    key = next((k for k in (spec.id_field, "name") if k and k in new.columns and k in current.columns), None)
    if key is None:
        return {}
    have: dict[str, int] = {}
    for fid, v in zip(current["fid"].tolist(), current[key].tolist()):
        k = _key(v)
        if k is not None:
            have.setdefault(k, int(fid))
    out: dict[int, int] = {}
    used: set[int] = set()
    for i, v in enumerate(new[key].tolist()):
        k = _key(v)
        fid = have.get(k) if k is not None else None
        if fid is not None and fid not in used:
            out[i] = fid
            used.add(fid)
    return out


def _differs(new: gpd.GeoDataFrame, i: int, old: pd.Series, fields: list[str]) -> list[str]:
    """Fields (and ``"geometry"``) in which new row ``i`` differs from the stored feature ``old``."""
    out = [c for c in fields if c in new.columns and c in old.index and not _same(new[c].iloc[i], old[c])]
    ga, gb = new.geometry.iloc[i], old["geometry"]
    if (ga is None) != (gb is None) or (ga is not None and not shapely.equals_exact(ga, gb, tolerance=1e-9)):
        out.append("geometry")
    return out
