"""Saved scenarios: named flood (or fire) settings and their headline figures, kept in the workspace.

A scenario is stored in the workspace GeoPackage as one row of the table ``gis_scenarios`` (name,
kind, the settings and the summary as JSON, who saved it and when), written in one SQLite
transaction like every other workspace write, inside :meth:`layers.workspace.Workspace.writing` (a
read-only medium, a full disk or a damaged file is a :class:`~layers.errors.StorageError`; the save
counts as a write for snapshots). Saving a name
that exists replaces it. The table is not a layer: GDAL and the layer list ignore it.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from layers.errors import LayerError, Problem

__all__ = ["Scenario", "save_scenario", "list_scenarios", "delete_scenario", "KINDS"]

KINDS = ("flood", "fire")
_TABLE = "gis_scenarios"
_DDL = (f"CREATE TABLE IF NOT EXISTS {_TABLE} (kind TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL, "
        "summary TEXT NOT NULL, user TEXT, time TEXT NOT NULL, PRIMARY KEY (kind, name))")


@dataclass(frozen=True)
class Scenario:
    """One saved scenario.

    Attributes
    ----------
    kind : {'flood', 'fire'}
        Which page made it.
    name : str
        The name the user gave it (unique per kind).
    params : dict
        The settings that reproduce it (e.g. ``{"source": "stage", "stage": 4.0, ...}``).
    summary : dict
        Its headline figures (people to evacuate, placed, unplaced, shelters used, person-km, needs).
    user, time : str
        Who saved it, and when (ISO-8601 UTC).
    """

    kind: str
    name: str
    params: dict
    summary: dict
    user: str
    time: str


def _plain(v: object) -> object:
    """JSON-able value: numpy scalars to Python, NaN to None, tuples to lists."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        with contextlib.suppress(ValueError, AttributeError):
            v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _check(kind: str, name: str) -> str:
    name = (name or "").strip()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not name or len(name) > 80:
        raise LayerError(Problem("情景名称不能为空，且不超过 80 个字", "a scenario name must not be empty nor longer "
                                 "than 80 characters", "输入一个简短的名称，如“水位 4 米”", "give a short name, e.g. "
                                 "'stage 4 m'", field="name"))
    return name


def save_scenario(gpkg: Path | str, kind: str, name: str, params: dict, summary: dict, *, user: str = "") -> Scenario:
    """Save (or replace) scenario ``name`` in the workspace GeoPackage, in one transaction.

    Raises
    ------
    LayerError
        An empty or over-long name.
    StorageError
        The workspace could not be written (read-only medium, disk full, damaged file); nothing saved.
    """
    from layers.gpkg import transaction
    from layers.workspace import Workspace

    name = _check(kind, name)
    ws = Workspace(gpkg)
    sc = Scenario(kind, name, {str(k): _plain(v) for k, v in params.items()},
                  {str(k): _plain(v) for k, v in summary.items()}, user or "",
                  datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with ws.writing(), transaction(ws.connection()) as con:
        con.execute(_DDL)
        con.execute(f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    (sc.kind, sc.name, json.dumps(sc.params, ensure_ascii=False),
                     json.dumps(sc.summary, ensure_ascii=False), sc.user, sc.time))
        ws.count_write(con, "_scenarios")
    return sc


def list_scenarios(gpkg: Path | str, kind: str | None = None) -> list[Scenario]:
    """Saved scenarios (of one kind, or all), oldest first; none when the workspace has none.

    Raises
    ------
    StorageError
        The workspace file, or its saved scenarios, are damaged or cannot be read.
    """
    import sqlite3

    from layers.storage import READ, guard
    from layers.workspace import Workspace

    path = Path(gpkg)
    if path.suffix.lower() != ".gpkg":
        path = path / "workspace.gpkg"
    if not path.exists():
        return []
    h = Workspace(path).health()
    if not h.ok and (h.whole or _TABLE in h.tables):
        raise h.error(READ)
    with guard(path, READ):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (_TABLE,)).fetchone():
                return []
            rows = con.execute(f"SELECT kind, name, params, summary, user, time FROM {_TABLE} "
                               + ("WHERE kind = ? " if kind else "") + "ORDER BY time, name",
                               (kind,) if kind else ()).fetchall()
        finally:
            con.close()
    return [Scenario(k, n, json.loads(p), json.loads(s), u or "", t) for k, n, p, s, u, t in rows]


def delete_scenario(gpkg: Path | str, kind: str, name: str) -> bool:
    """Delete a saved scenario; True when there was one.

    Raises
    ------
    StorageError
        The workspace could not be written; nothing deleted.
    """
    from layers.gpkg import transaction
    from layers.workspace import Workspace

    ws = Workspace(gpkg)
    if not ws.gpkg.exists():
        return False
    with ws.writing(), transaction(ws.connection()) as con:
        con.execute(_DDL)
        n = con.execute(f"DELETE FROM {_TABLE} WHERE kind = ? AND name = ?", (kind, name)).rowcount
        if n:
            ws.count_write(con, "_scenarios")
    return n > 0
