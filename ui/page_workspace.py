"""Workspace page: pick, create, export and import workspaces; edit layers with a history and undo;
snapshots and restore.

Edits are saved through :meth:`layers.workspace.Workspace.apply`: validated like an import, one
transaction, recorded in the history. The rows an editor starts from are kept in the session
(``ws_base_<kind>``) with their revisions, so a save after someone else's save of the same
feature is refused and shown (never silently overwritten); "reload" takes the newest rows.

A workspace that cannot be written (damaged, or on a read-only medium) is shown read-only: the editor,
undo/redo and "add a point" are off, and the snapshots section offers the restore. A write that fails
anyway (a disk that fills up) is a clear error box, never a traceback.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st

from layers import settings
from layers.catalogue import editable_kinds, spec
from layers.edits import ChangeSet, ConflictError, Delete, Update
from layers.errors import GisError
from layers.workspace import REV, Workspace
from ui.i18n import labeller, lang, t
from ui.map_panel import show_layers_map
from ui.state import (
    active_store,
    editor_name,
    read_only_reason,
    uses_postgis,
    workspace_folder,
    workspace_name,
)

#: layers edited in the app (the things that change between seasons): those whose spec names editable fields
EDITABLE = editable_kinds()
#: rows shown in the editor at once (filter by township / text for the rest)
MAX_ROWS = 500
#: layers under the edited points on the add-a-point map, for finding one's way; those on at start
CONTEXT_KINDS = ("boundaries", "roads", "rivers", "villages")
CONTEXT_SHOWN = ("boundaries:county", "boundaries:township", "roads")
MAP_HEIGHT = 460


def _errors(e: GisError) -> None:
    st.error("\n".join(f"- {line}" for line in e.lines(lang())))


# ---- workspaces ------------------------------------------------------------------------------------
def _switch(name: str) -> None:
    from layers.folders import open_workspace

    open_workspace(name)
    st.session_state["workspace_name"] = name
    for k in [k for k in st.session_state if str(k).startswith("ws_base_")]:
        del st.session_state[k]
    for k in ("session_layers", "session_rasters", "session_tokens"):
        st.session_state.pop(k, None)


def _storage_choice() -> None:
    """GeoPackage on this machine, or the office's shared PostGIS database (when one is configured)."""
    if not settings.POSTGIS_DSN:
        return
    kinds = ["gpkg", "postgis"]
    current = "postgis" if uses_postgis() else "gpkg"
    pick = st.radio(t("ws_storage"), kinds, index=kinds.index(current), format_func=labeller("ws_storage_"),
                    horizontal=True, key=f"ws_storage_{current}", help=t("ws_storage_help"))
    if pick != current:
        st.session_state["store_kind"] = pick
        for k in [k for k in st.session_state if str(k).startswith("ws_base_") or str(k).startswith("ws_version_")]:
            del st.session_state[k]
        st.rerun()


def _workspaces_section() -> None:
    from layers.folders import create_workspace, export_archive, import_archive, list_workspaces

    st.subheader(t("ws_manage"))
    _storage_choice()
    if uses_postgis():
        try:
            st.info(t("ws_on_postgis", db=active_store().label, folder=workspace_name()))
        except GisError as e:
            _errors(e)
        return
    current = workspace_name()
    names = list_workspaces()
    c1, c2 = st.columns([3, 2])
    options = names if current in names else [current, *names]
    pick = c1.selectbox(t("ws_current"), options, index=options.index(current), key=f"ws_pick_{current}")
    if pick != current and pick in names:
        _switch(pick)
        st.rerun()
    # the archive is made on request only (seconds for a prefecture), for the workspace as it is then
    if c2.button(t("ws_export_prepare"), key="ws_export_prepare"):
        try:
            st.session_state["ws_archive_bytes"] = (current, export_archive(Workspace(workspace_folder())))
        except GisError as e:
            _errors(e)
    ready = st.session_state.get("ws_archive_bytes")
    if ready and ready[0] == current:
        c2.download_button(t("ws_export"), ready[1], file_name=f"{current}.zip", mime="application/zip",
                           key="ws_export")
    with st.expander(t("ws_new")):
        name = st.text_input(t("ws_name"), key="ws_new_name", help=t("ws_name_help"))
        if st.button(t("ws_create"), key="ws_create") and name:
            try:
                create_workspace(name.strip())
                _switch(name.strip())
                st.rerun()
            except GisError as e:
                _errors(e)
    with st.expander(t("ws_import_archive")):
        up = st.file_uploader(t("ws_archive_file"), type=["zip", "gpkg"], key="ws_archive")
        name = st.text_input(t("ws_name"), key="ws_import_name")
        if up is not None and name and st.button(t("ws_import_do"), key="ws_import_do"):
            if len(up.getvalue()) > settings.MAX_UPLOAD_MB * 1024 * 1024:
                st.error(t("too_big", mb=settings.MAX_UPLOAD_MB))
                return
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / ("archive.zip" if up.name.lower().endswith(".zip") else "archive.gpkg")
                path.write_bytes(up.getvalue())
                try:
                    import_archive(path, name.strip(), display_name=Path(up.name).name)
                    _switch(name.strip())
                    st.rerun()
                except GisError as e:
                    _errors(e)
    from ui.osm_import import osm_section

    osm_section(_open_new)


def _open_new(name: str) -> None:
    """Open a workspace just made (from OpenStreetMap) and show it."""
    _switch(name)
    st.rerun()


# ---- editing -----------------------------------------------------------------------------------------
def _base(ws, kind: str) -> gpd.GeoDataFrame:
    """The rows this session edits from (kept until a save or a reload)."""
    key = f"ws_base_{kind}"
    if key not in st.session_state:
        st.session_state[key] = ws.read(kind)
    return st.session_state[key]


def _reload(kind: str) -> None:
    st.session_state.pop(f"ws_base_{kind}", None)
    st.session_state.pop(f"ws_version_{kind}", None)
    st.session_state["ws_editor_gen"] = st.session_state.get("ws_editor_gen", 0) + 1


def _column_config(kind: str, columns: list[str]) -> dict:
    """Editor columns labelled with their unit; the fields the spec does not list as editable are read-only."""
    cfg: dict = {"fid": st.column_config.NumberColumn("fid", disabled=True)}
    editable = set(spec(kind).editable)
    lg = lang()
    for f in spec(kind).fields:
        if f.name not in columns:
            continue
        label = f.label(lang())   # with its unit
        locked = f.name not in editable
        if f.type == "choice" and f.choices:
            cfg[f.name] = st.column_config.SelectboxColumn(
                label, options=list(f.choices), format_func=lambda c, f=f, lg=lg: f.choice_label(c, lg),
                required=f.required, disabled=locked)
        elif f.type in ("int", "float"):
            cfg[f.name] = st.column_config.NumberColumn(label, min_value=f.minimum, max_value=f.maximum,
                                                        step=1 if f.type == "int" else None, required=f.required,
                                                        disabled=locked)
        elif f.type == "bool":
            cfg[f.name] = st.column_config.CheckboxColumn(label, disabled=locked)
        else:
            cfg[f.name] = st.column_config.TextColumn(label, required=f.required, disabled=locked)
    return cfg


def _same(a: object, b: object) -> bool:
    def blank(v):
        return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT or v == ""
    if blank(a) and blank(b):
        return True
    if blank(a) or blank(b):
        return False
    try:
        if isinstance(a, (int, float, np.number)) or isinstance(b, (int, float, np.number)):
            return float(a) == float(b)
    except (TypeError, ValueError):
        return False
    return a == b


def _plain(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def changes_from_editor(kind: str, base: pd.DataFrame, edited: pd.DataFrame) -> ChangeSet:
    """The change set between the rows shown (``base``, with fid and _rev) and the editor's rows.

    Rows missing from ``edited`` are deletions; changed cells become one :class:`Update` per
    feature carrying the revision it was read at.
    """
    by_fid = base.set_index("fid")
    fields = [c for c in edited.columns if c not in ("fid", REV, "geometry")]
    updated = []
    for _, row in edited.iterrows():
        fid = int(row["fid"])
        old = by_fid.loc[fid]
        values = {c: _plain(row[c]) for c in fields if c in old.index and not _same(row[c], old[c])}
        if values:
            updated.append(Update(fid, int(old[REV]), values))
    kept = set(edited["fid"].astype("int64"))
    deleted = [Delete(int(f), int(by_fid.loc[f, REV])) for f in base["fid"] if int(f) not in kept]
    return ChangeSet(kind, updated=updated, deleted=deleted)


def _filtered(base: gpd.GeoDataFrame) -> pd.DataFrame:
    c1, c2 = st.columns([2, 3])
    view = base
    if "township" in base and base["township"].notna().any():
        towns = sorted(str(v) for v in base["township"].dropna().unique())
        town = c1.selectbox(t("township"), [t("all"), *towns], key="ws_edit_town")
        if town != t("all"):
            view = view[view["township"].astype(str) == town]
    q = c2.text_input(t("ws_search"), key="ws_edit_search", help=t("ws_search_help"))
    if q:
        text = view.drop(columns="geometry").astype(str).agg(" ".join, axis=1)
        view = view[text.str.contains(q, case=False, regex=False)]
    if len(view) > MAX_ROWS:
        st.caption(t("ws_rows_capped", n=f"{len(view):,}", m=MAX_ROWS))
        view = view.head(MAX_ROWS)
    return pd.DataFrame(view.drop(columns="geometry"))


def _save(ws, changes: ChangeSet, note: str) -> None:
    try:
        entry = ws.apply(changes, note=note, user=editor_name())
    except ConflictError as e:
        st.error(t("ws_conflict"))
        _errors(e)
        st.button(t("ws_reload"), key="ws_conflict_reload", on_click=_reload, args=(changes.kind,))
        return
    except GisError as e:
        _errors(e)
        return
    _reload(changes.kind)
    st.session_state["ws_flash"] = t("ws_saved", added=entry.added, changed=entry.changed, removed=entry.removed)
    st.rerun()


def _edit_section(ws, refused: str | None) -> None:
    st.subheader(t("ws_edit"))
    damaged = ws.health().damaged_kinds() if hasattr(ws, "health") else set()
    kinds = [k for k in EDITABLE if k in ws.vector_kinds() and k not in damaged]
    if refused:
        st.warning(t("ws_edit_refused"))
    if not kinds:
        st.info(t("ws_nothing_to_edit"))
        return
    lg = lang()
    kind = st.selectbox(t("ws_edit_kind"), kinds, format_func=lambda k: spec(k).label(lg), key="ws_edit_kind")
    version = ws.version(kind)
    base = _base(ws, kind)
    if st.session_state.setdefault(f"ws_version_{kind}", version) != version:
        st.warning(t("ws_stale"))
    view = _filtered(base)
    cols = ["fid", *[f.name for f in spec(kind).fields if f.name in view.columns]]
    edited = st.data_editor(view[cols], key=f"ws_editor_{kind}_{st.session_state.get('ws_editor_gen', 0)}",
                            column_config=_column_config(kind, cols), hide_index=True,
                            num_rows="fixed" if refused else "delete", disabled=bool(refused), width="stretch")
    changes = changes_from_editor(kind, base[base["fid"].isin(view["fid"])], edited)
    c1, c2, c3 = st.columns([5, 3, 2])      # the save button's label whole on a 1024-pixel screen
    note = c1.text_input(t("ws_note"), key="ws_note", placeholder=t("ws_note_placeholder"))
    n = len(changes.updated) + len(changes.deleted)
    if c2.button(t("ws_save", n=n), key="ws_save", disabled=n == 0 or bool(refused), type="primary"):
        _save(ws, changes, note or t("ws_default_note"))
    if c3.button(t("ws_reload"), key="ws_reload"):
        _reload(kind)
        st.rerun()
    if not refused:
        _add_point(ws, kind)


def _picked_marker(picked: tuple[float, float] | None):
    """The point clicked on the add-a-point map, as a small layer drawn on top (None: nothing picked yet)."""
    if picked is None:
        return None
    import folium

    lon, lat = picked
    group = folium.FeatureGroup(name=t("ws_new_point"))
    folium.CircleMarker([lat, lon], radius=9, color="#d50000", weight=3, fill=True, fill_color="#ffffff",
                        fill_opacity=0.9, tooltip=t("ws_new_point")).add_to(group)
    return group


def _add_point(ws, kind: str) -> None:
    """Add a feature by clicking the map (point layers), then filling in its fields.

    The map is shown when asked for (a switch). It is the page's shared map of the edited layer over the outlines
    and roads (rivers and villages a tick away in the layer control; none of them takes the click), built once
    per workspace revision for every session; a prefecture is drawn as an overview with a township to pick for
    full detail. The clicked point is drawn on it.
    """
    if "Point" not in spec(kind).geometry:
        return
    # a switch, not an expander: an expander's content is built and sent even while folded, and the map of a
    # prefecture's water sources is megabytes every session would wait for without asking
    if not st.toggle(t("ws_add_point"), key=f"ws_add_on_{kind}"):
        return
    with st.container(border=True):
        st.caption(t("ws_add_point_help"))
        key = f"ws_add_map_{kind}"
        picked = st.session_state.get(f"{key}_picked")
        kinds = [kind, *CONTEXT_KINDS]
        out = show_layers_map(kinds, key=key, height=MAP_HEIGHT, returned_objects=["last_clicked"],
                              show={kind, *CONTEXT_SHOWN}, feature_group=_picked_marker(picked),
                              passive=CONTEXT_KINDS, stamp=(kind,))   # the context layers keep their own township
        click = (out or {}).get("last_clicked")
        if not click:
            return
        lon, lat = float(click["lng"]), float(click["lat"])
        if picked != (lon, lat):     # draw the point where it was clicked (the map itself is not rebuilt)
            st.session_state[f"{key}_picked"] = (lon, lat)
            st.rerun()
        st.write(t("ws_clicked", lon=f"{lon:.6f}", lat=f"{lat:.6f}"))
        values = {}
        fields = [f for f in spec(kind).fields if f.required or f.name in ("name", "township", "capacity", "type")]
        cols = st.columns(min(3, max(1, len(fields))))
        lg = lang()
        for i, f in enumerate(fields):
            col = cols[i % len(cols)]
            label = f.label(lang()) + (" *" if f.required else "")
            if f.type == "choice" and f.choices:
                values[f.name] = col.selectbox(label, list(f.choices), key=f"ws_new_{kind}_{f.name}",
                                               format_func=lambda c, f=f, lg=lg: f.choice_label(c, lg))
            elif f.type in ("int", "float"):
                v = col.number_input(label, min_value=float(f.minimum or 0), value=None, key=f"ws_new_{kind}_{f.name}")
                values[f.name] = None if v is None else (int(v) if f.type == "int" else float(v))
            else:
                values[f.name] = col.text_input(label, key=f"ws_new_{kind}_{f.name}") or None
        note = st.text_input(t("ws_note"), key="ws_add_note", placeholder=t("ws_note_placeholder"))
        if st.button(t("ws_add_do"), key="ws_add_do", type="primary"):
            added = gpd.GeoDataFrame([values], geometry=[shapely.Point(lon, lat)], crs=4490)
            _save(ws, ChangeSet(kind, added=added), note or t("ws_default_note"))


def _drop_bases() -> None:
    for k in [k for k in st.session_state if str(k).startswith(("ws_base_", "ws_version_"))]:
        del st.session_state[k]


def _history_section(ws, refused: str | None) -> None:
    st.subheader(t("ws_history"))
    try:
        entries = ws.history(limit=50)
    except GisError as e:          # the history itself is damaged: say so, the rest of the page still works
        _errors(e)
        return
    c1, c2 = st.columns(2)
    if c1.button(t("ws_undo"), key="ws_undo", disabled=bool(refused) or not any(
            not e.undone and e.action in ("edit", "replace", "append", "redo") for e in entries)):
        try:
            done = ws.undo(user=editor_name())
        except GisError as e:
            _errors(e)
            return
        _drop_bases()
        st.session_state["ws_flash"] = t("ws_undone") if done else t("ws_nothing_undo")
        st.rerun()
    if c2.button(t("ws_redo"), key="ws_redo", disabled=bool(refused)):
        try:
            done = ws.redo(user=editor_name())
        except GisError as e:
            _errors(e)
            return
        _drop_bases()
        st.session_state["ws_flash"] = t("ws_redone") if done else t("ws_nothing_redo")
        st.rerun()
    if not entries:
        st.caption(t("ws_no_history"))
        return
    rows = [{t("ws_h_time"): e.time.replace("T", " ").rstrip("Z") + " UTC", t("ws_h_user"): e.user,
             t("ws_h_layer"): spec(e.kind).label(lang()) if e.kind else "", t("ws_h_action"): t(f"ws_a_{e.action}"),
             t("ws_h_counts"): f"+{e.added} ~{e.changed} −{e.removed}", t("ws_h_note"): e.note,
             t("ws_h_undone"): "✓" if e.undone else ""} for e in entries]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def page() -> None:
    """Render the page."""
    st.header(t("page_workspace"))
    st.caption(t("workspace_intro"))
    flash = st.session_state.pop("ws_flash", None)
    if flash:
        st.success(flash)
    _workspaces_section()
    try:
        ws = active_store()
        refused = read_only_reason()
        _edit_section(ws, refused)
        _history_section(ws, refused)
    except GisError as e:   # e.g. the database cannot be reached
        _errors(e)
    if not uses_postgis():
        _snapshots_section(Workspace(workspace_folder()))


# ---- snapshots and restore -----------------------------------------------------------------------------
def _snapshots_section(ws: Workspace) -> None:
    """The workspace's snapshots, the space they take, a snapshot now, a restore, and a full check."""
    from layers import snapshots
    from layers.storage import medium_read_only

    st.subheader(t("ws_snapshots"))
    st.caption(t("ws_snapshots_help", n=settings.SNAPSHOT_EVERY_WRITES, m=f"{settings.SNAPSHOT_EVERY_MINUTES:g}"))
    try:
        snaps = ws.snapshots()
        space = snapshots.space(ws.gpkg)
    except OSError:       # the snapshot folder cannot be listed (a removed medium): nothing to offer
        snaps, space = [], None
    if space is not None:
        st.caption(t("ws_snapshot_space", count=space.count, used=f"{space.bytes / 1e6:,.1f}",
                     limit=f"{space.limit_bytes / 1e6:,.0f}", keep=space.keep))
    failed = snapshots.last_error(ws.gpkg, lang())
    if failed:
        st.warning(t("ws_snapshot_failed") + "\n" + "\n".join(f"- {line}" for line in failed))
    damaged = ws.gpkg.exists() and not ws.health().ok
    read_only = medium_read_only(ws.gpkg)
    if snaps:
        lg = lang()
        rows = [{t("ws_s_id"): s.id, t("ws_s_time"): s.time.replace("T", " ").rstrip("Z") + " UTC",
                 t("ws_s_reason"): s.reason_text()(lg), t("ws_s_entry"): f"#{s.last_entry}" if s.last_entry else "",
                 t("ws_s_size"): round(s.bytes / 1e6, 1), t("ws_s_rasters"): " ".join(s.rasters)} for s in snaps]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption(t("ws_snapshot_none"))
    c1, c2 = st.columns(2)
    if c1.button(t("ws_snapshot_take"), key="ws_snapshot_take", disabled=damaged or read_only or not ws.gpkg.exists()):
        try:
            snap = ws.snapshot()
            st.session_state["ws_flash"] = t("ws_snapshot_taken", id=snap.id)
            st.rerun()
        except GisError as e:
            _errors(e)
    if c2.button(t("ws_check_full"), key="ws_check_full", disabled=not ws.gpkg.exists()):
        h = ws.health(full=True, fresh=True)
        if h.ok:
            st.success(t("ws_check_ok", kind="integrity_check", s=f"{h.seconds:.2f}"))
        else:
            st.error(h.banner()(lang()))
    if not snaps:
        return
    labels = {s.id: f"{s.id} · {s.reason_text()(lang())}" for s in snaps}   # the language fixed when drawn
    pick = st.selectbox(t("ws_restore_pick"), list(labels), key="ws_restore_pick", format_func=labels.get)
    sure = st.checkbox(t("ws_restore_confirm"), key=f"ws_restore_confirm_{st.session_state.get('ws_restore_gen', 0)}")
    if st.button(t("ws_restore_do"), key="ws_restore_do", type="primary" if damaged else "secondary",
                 disabled=not sure or read_only):
        try:
            snap, _ = ws.restore(pick, user=editor_name())
        except GisError as e:
            _errors(e)
            return
        _drop_bases()
        st.session_state["ws_restore_gen"] = st.session_state.get("ws_restore_gen", 0) + 1   # unticks the box
        st.session_state["ws_flash"] = t("ws_restored", id=snap.id, time=snap.time)
        st.rerun()
