"""Edits to a layer store: change sets, history entries, conflicts and import previews.

This module is the shared interface of every layer store (the embedded GeoPackage workspace in
:mod:`layers.workspace`, the PostGIS store): an editor reads a layer with :meth:`LayerStore.read`
(canonical fields plus ``fid`` and ``_rev``), builds a :class:`ChangeSet` and hands it to
:meth:`LayerStore.apply`, which validates it like an import, writes it in one transaction, records
a :class:`HistoryEntry` and refuses (with a :class:`ConflictError`) any update or delete whose
``base_rev`` is no longer the feature's stored ``_rev``: another session saved it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import geopandas as gpd

from layers.errors import LayerError, Problem

#: actions recorded in the history
ACTIONS = ("edit", "replace", "append", "undo", "redo")


@dataclass(frozen=True)
class Update:
    """Change some fields (and/or the geometry) of one feature.

    Parameters
    ----------
    fid : int
        The feature's stable id in the store.
    base_rev : int
        The feature's ``_rev`` when the editor read it (conflict detection).
    values : dict
        Canonical field -> new value; key ``"geometry"`` -> a shapely geometry (EPSG:4490).
    """

    fid: int
    base_rev: int
    values: dict[str, object]


@dataclass(frozen=True)
class Delete:
    """Delete one feature, read at revision ``base_rev``."""

    fid: int
    base_rev: int


@dataclass
class ChangeSet:
    """Everything one save changes in one layer.

    Parameters
    ----------
    kind : str
        Layer kind from :mod:`layers.catalogue`.
    added : GeoDataFrame, optional
        New features: canonical fields, EPSG:4490 (no ``fid``/``_rev``).
    updated, deleted : list
        :class:`Update` and :class:`Delete` of existing features.
    """

    kind: str
    added: gpd.GeoDataFrame | None = None
    updated: list[Update] = field(default_factory=list)
    deleted: list[Delete] = field(default_factory=list)

    def is_empty(self) -> bool:
        """True when the change set changes nothing."""
        return (self.added is None or len(self.added) == 0) and not self.updated and not self.deleted


@dataclass(frozen=True)
class HistoryEntry:
    """One committed change of the store, as the history lists it."""

    entry_id: int
    time: str          # ISO-8601 UTC
    user: str
    note: str
    kind: str
    action: str        # "edit" | "replace" | "append" | "undo" | "redo"
    added: int
    changed: int
    removed: int
    undone: bool


@dataclass(frozen=True)
class Conflict:
    """One field another session changed since the editor read the feature.

    ``field`` is ``""`` when the other side deleted the feature.
    """

    fid: int
    field: str
    yours: object
    theirs: object


def _conflict_problem(c: Conflict, kind: str) -> Problem:
    if not c.field:
        return Problem(f"要素 {c.fid} 已被其他人删除", f"feature {c.fid} was deleted by someone else",
                       "重新载入图层后再决定是否保留您的修改",
                       "reload the layer, then decide whether to keep your change", file=kind, row=c.fid)
    return Problem(f"要素 {c.fid} 已被其他人修改：您的值“{c.yours}”，对方已保存“{c.theirs}”",
                   f"feature {c.fid} was changed by someone else: yours '{c.yours}', theirs (saved) '{c.theirs}'",
                   "重新载入图层，核对后再保存", "reload the layer, check, and save again",
                   file=kind, row=c.fid, field=c.field)


class ConflictError(LayerError):
    """A save refused because other sessions changed or deleted the same features first.

    Attributes
    ----------
    conflicts : list of Conflict
        One per field (or per deleted feature) that differs.
    """

    def __init__(self, conflicts: list[Conflict], kind: str = ""):
        self.conflicts = list(conflicts)
        problems = [_conflict_problem(c, kind) for c in self.conflicts] or [
            Problem("数据已被其他人修改", "the data was changed by someone else", "重新载入图层后再保存",
                    "reload the layer and save again", file=kind or None)]
        super().__init__(problems)

    def render(self) -> str:
        """Bilingual multi-line message (nothing was saved)."""
        n = len(self.problems)
        return "\n".join([f"保存冲突（{n} 处），未保存任何修改：", *("  - " + s for s in self.lines("zh")),
                          f"Edit conflict ({n}); nothing was saved:", *("  - " + s for s in self.lines("en"))])


@dataclass
class ImportDiff:
    """What an import would change, shown before it is committed.

    ``changed`` holds the new rows that match an existing feature by the kind's ``id_field`` (or
    ``name``) and differ from it; ``changed_fields`` maps the existing feature's fid to the fields
    that differ.
    """

    kind: str
    added: gpd.GeoDataFrame
    removed: gpd.GeoDataFrame
    changed: gpd.GeoDataFrame
    changed_fields: dict[int, list[str]]

    def counts(self) -> tuple[int, int, int]:
        """(added, removed, changed) feature counts."""
        return len(self.added), len(self.removed), len(self.changed)


@runtime_checkable
class LayerStore(Protocol):
    """A place an office's vector layers are kept, edited and versioned."""

    def vector_kinds(self) -> list[str]: ...

    def read(self, kind: str) -> gpd.GeoDataFrame:
        """Canonical fields + int columns ``fid`` and ``_rev``, EPSG:4490."""
        ...

    def version(self, kind: str) -> int:
        """A number that bumps on every committed change of that layer."""
        ...

    def apply(self, changes: ChangeSet, *, note: str, user: str) -> HistoryEntry:
        """Validate and commit a change set in one transaction (ConflictError on a stale base_rev)."""
        ...

    def diff(self, kind: str, gdf: gpd.GeoDataFrame, *, append: bool = False) -> ImportDiff: ...

    def replace(self, kind: str, gdf: gpd.GeoDataFrame, *, note: str, user: str,
                append: bool = False) -> HistoryEntry: ...

    def history(self, kind: str | None = None, limit: int = 100) -> list[HistoryEntry]: ...

    def undo(self, *, user: str) -> HistoryEntry | None:
        """Undo the latest not-undone entry (the undo itself is recorded)."""
        ...

    def redo(self, *, user: str) -> HistoryEntry | None: ...
