"""Data layers page: import a file as any layer kind (validated, previewed), download any layer."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from layers import settings
from layers.catalogue import CATALOGUE, map_kinds, spec
from layers.errors import GisError, LayerError, OutsideError
from layers.export import FORMATS, display_table, export_layer
from layers.load import CoordOptions, Layer, is_raster_file, load_layer
from layers.raster_files import UPLOAD_RASTER_TYPES, raster_suffix
from layers.readers import list_sublayers
from layers.schema import FIELD_TYPES
from layers.text import COLON, ENUMERATION
from layers.units import unit_name
from layers.webmap import reference_geometries
from layers.workspace import Workspace
from ui.crs_box import OFFSETS, crs_box, show_lines
from ui.downloads import layer_file_name
from ui.i18n import labeller, lang, t, text
from ui.map_panel import show_layers_map, show_preview_map
from ui.state import layer_tokens, workspace_area, workspace_extent, workspace_folder, workspace_layers

log = logging.getLogger(__name__)
UPLOAD_TYPES = ["gpkg", "geojson", "json", "zip", "kml", "kmz", "csv", "xlsx", *UPLOAD_RASTER_TYPES]
UPLOAD_TYPES = list(dict.fromkeys(UPLOAD_TYPES))
PREVIEW_ROWS = 200


def _safe_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    return "." + suffix if suffix in UPLOAD_TYPES else ""


def _with_upload(data: bytes, name: str, fn):
    """Run ``fn(path)`` on the upload written under a generated name (never the user's file name as a path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("upload" + _safe_suffix(name))
        path.write_bytes(data)
        return fn(path)


@st.cache_data(show_spinner=False, max_entries=8)
def _sublayers(data: bytes, name: str) -> list[str]:
    try:
        return _with_upload(data, name, list_sublayers)
    except LayerError:
        return []


@st.cache_data(show_spinner=False, max_entries=4)
def _load(data: bytes, name: str, kind: str, sublayer: str | None, offset: str | None,
          near: tuple[float, float, float, float] | None = None, crs: str | None = None,
          towgs84: tuple[float, ...] | None = None, override: bool = False, suspect_offset: bool = True,
          ref_token: str = "", area_key: str = "", allow_outside: bool = False, _reference=None,
          _area=None) -> tuple[Layer | None, list[str], list[str], bool]:
    """(layer, zh lines, en lines, outside): the layer, or the problems in both languages.

    ``near`` is the workspace's lon/lat extent and ``_area`` its county boundary (keyed by
    ``area_key``): a file whose CRS puts it a zone away is caught, and rows far outside are refused
    one by one (``outside`` True when they are the only problem) until ``allow_outside``.
    ``crs`` is the CRS chosen in the 坐标系 / CRS box (None: detect), ``towgs84`` the bureau's
    parameters, ``override`` the user's word that the file's own CRS is wrong, ``offset`` the web-map
    correction; ``_reference`` (keyed by ``ref_token``) the workspace's roads and villages for the
    offset-pattern test.
    """
    try:
        layer = _with_upload(data, name, lambda p: load_layer(
            p, kind, sublayer=sublayer, offset=offset, display_name=Path(name).name, near=near, crs=crs,
            towgs84=towgs84, on_conflict="override" if override else "refuse", reference=_reference,
            suspect_offset=suspect_offset, area=_area, allow_outside=allow_outside))
        return layer, [], [], False
    except OutsideError as e:
        return None, e.lines("zh"), e.lines("en"), True
    except LayerError as e:
        return None, e.lines("zh"), e.lines("en"), False
    except Exception as e:  # never a traceback in the app: report it plainly, log the details
        log.exception("unexpected error loading %s as %s", name, kind)
        err = f"{type(e).__name__}: {e}"[:300]
        return None, [text("unexpected_error", "zh", err=err)], [text("unexpected_error", "en", err=err)], False


def _stored_offset(kind: str, name: str) -> dict | None:
    """The web-map correction chosen when this file was last imported as ``kind`` into the workspace."""
    from ui.state import active_store

    try:
        return active_store().layer_option(kind, Path(name).name)
    except LayerError:
        return None


def _coordinates(kind: str, name: str, vector: bool) -> tuple[CoordOptions | None, bool]:
    """The upload's 坐标系 / CRS box (:func:`ui.crs_box.crs_box`), its web-map correction preset from the
    workspace's record of the same file: ``(options or None while unusable, look for a web-map offset)``."""
    stored = _stored_offset(kind, name) if vector else None
    preset = stored["offset"] if stored is not None and stored["offset"] in OFFSETS else "none"
    note = None if stored is None else t("offset_stored", offset=text(f"offset_{stored['offset']}", lang()),
                                         time=stored["time"][:19])
    key = f"upload_offset_{kind}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    coords = crs_box("upload", offsets=vector, offset_key=key, offset_preset=preset, offset_note=note, remembered=True)
    return coords, vector and not (stored is not None and stored["offset"] == "none")


@st.cache_data(show_spinner=False, max_entries=16)
def _export(_gdf, kind: str, fmt: str, lang_: str, token: str) -> bytes:
    return export_layer(_gdf, kind, fmt, lang=lang_)


def _import_section() -> None:
    st.subheader(t("upload_header"))
    kinds = list(CATALOGUE)
    kind = st.selectbox(t("upload_kind"), kinds, format_func=lambda k: f"{spec(k).label(lang())} ({k})",
                        key="upload_kind")
    s = spec(kind)
    st.caption(s.description(lang()))
    up = st.file_uploader(t("upload_file"), type=UPLOAD_TYPES, key="upload_file")
    if up is None:
        return
    data = up.getvalue()
    if len(data) > settings.MAX_UPLOAD_MB * 1024 * 1024:
        st.error(t("too_big", mb=settings.MAX_UPLOAD_MB))
        return
    subs = _sublayers(data, up.name)
    sublayer = st.selectbox(t("sublayer"), subs, key="upload_sublayer") if len(subs) > 1 else None
    raster = _is_raster(data, up.name)
    coords, suspect_offset = _coordinates(kind, up.name, s.is_vector and not raster)
    if coords is None:
        return
    offset, crs, towgs84, override = coords.offset, coords.crs, coords.towgs84, coords.on_conflict == "override"
    reference, ref_token = None, ""
    if suspect_offset and offset is None and not raster:
        reference = reference_geometries(workspace_layers(), kind)
        ref_token = f"{workspace_folder()}:{layer_tokens(['roads', 'villages'])}"
    token = (hashlib.sha1(data).hexdigest()[:12] + kind + str(sublayer) + str(offset) + str(crs or "") + str(towgs84)
             + str(override))
    area, area_key = workspace_area()
    allow = bool(st.session_state.get(f"allow_outside_{token}", False))
    with st.spinner(t("validating")):
        layer, zh, en, outside = _load(data, up.name, kind, sublayer, offset, workspace_extent(), crs, towgs84,
                                       override, suspect_offset, ref_token, area_key, allow, _reference=reference,
                                       _area=area)
    if layer is None:
        show_lines(zh, en)
        if outside:   # rows far away: an error per row until the user says they are right
            st.checkbox(t("allow_outside"), key=f"allow_outside_{token}", help=t("allow_outside_help"))
        return
    for note in layer.messages(lang()):
        st.warning(note)
    if allow:
        st.warning(t("outside_confirmed"))
    if layer.gdf is not None:
        st.success(t("validated", n=f"{layer.count:,}", crs=layer.crs_name(lang())))
        st.caption(t("preview", n=PREVIEW_ROWS))
        st.dataframe(display_table(layer.gdf.head(PREVIEW_ROWS), kind, lang(), coordinates=True), width="stretch")
    else:
        r = layer.raster
        st.success(t("validated_raster", rows=r.shape[0], cols=r.shape[1], crs=layer.crs_name(lang())))
    show_preview_map(kind, layer, key=f"preview_{token}", height=320)
    if st.button(t("use_layer", kind=s.label(lang())), key=f"use_{token}"):
        store = "session_layers" if layer.gdf is not None else "session_rasters"
        st.session_state.setdefault(store, {})[kind] = layer.gdf if layer.gdf is not None else layer.raster
        st.session_state.setdefault("session_tokens", {})[kind] = token
        st.success(t("used_layer", kind=s.label(lang())))
    if layer.gdf is not None:
        _save_to_workspace(kind, layer, token)
    else:
        _save_raster_to_workspace(kind, layer, token)


def _save_raster_to_workspace(kind: str, layer: Layer, token: str) -> None:
    """Put the validated raster into the workspace folder as ``KIND.tif`` (whole or not at all, in the history)."""
    from ui.state import editor_name, read_only_reason, uses_postgis, workspace_name

    if uses_postgis():
        return
    refused = read_only_reason()
    st.markdown(f"**{t('ws_save_to')}{COLON(lang())}{workspace_name()}**")
    if refused:
        st.caption(t("ws_edit_refused"))
    if st.button(t("ws_commit"), key=f"ws_commit_raster_{token}", type="primary", disabled=bool(refused)):
        ws = Workspace(workspace_folder())
        try:
            ws.store_raster(kind, layer.raster, user=editor_name(), note=f"{spec(kind).label(lang())} {layer.source}")
        except GisError as err:
            st.error("\n".join(f"- {line}" for line in err.lines(lang())))
            return
        for store in ("session_rasters", "session_tokens"):
            st.session_state.get(store, {}).pop(kind, None)
        st.success(t("ws_committed", ws=workspace_name(), added=1, changed=0, removed=0))


@st.cache_data(show_spinner=False, max_entries=8)
def _zip_is_raster(data: bytes, name: str) -> bool:
    return _with_upload(data, name, lambda p: is_raster_file(p, Path(name).name))


def _is_raster(data: bytes, name: str) -> bool:
    """Whether the upload is a raster: by its name, or (a zip) by what it holds."""
    if raster_suffix(name) is not None:
        return True
    return name.lower().endswith(".zip") and _zip_is_raster(data, name)


def _save_to_workspace(kind: str, layer: Layer, token: str) -> None:
    """Append (the default) or replace the validated layer in the workspace, after a preview of what changes.

    Replacing deletes the features the file does not hold: the page says how many and asks for a tick first.
    """
    from ui.state import active_store, editor_name, read_only_reason, uses_postgis, workspace_name

    try:
        ws = active_store()
    except GisError as e:
        st.error("\n".join(f"- {line}" for line in e.lines(lang())))
        return
    target = ws.label if uses_postgis() else workspace_name()
    st.markdown(f"**{t('ws_save_to')}{COLON(lang())}{target}**")
    mode = st.radio(t("ws_mode"), ["append", "replace"], format_func=labeller("ws_mode_"), horizontal=True,
                    key=f"ws_mode_{token}")
    try:
        diff = ws.diff(kind, layer.gdf, append=mode == "append")
    except GisError as e:
        st.error("\n".join(f"- {line}" for line in e.lines(lang())))
        return
    added, removed, changed = diff.counts()
    st.info(t("ws_preview", added=added, changed=changed, removed=removed))
    tabs = st.tabs([f"{t('ws_preview_added')} {added}", f"{t('ws_preview_changed')} {changed}",
                    f"{t('ws_preview_removed')} {removed}"])
    for tab, frame in zip(tabs, (diff.added, diff.changed, diff.removed)):
        with tab:
            if len(frame):
                st.dataframe(display_table(frame.head(PREVIEW_ROWS), kind, lang(), coordinates=True),
                             width="stretch")
    confirmed = True
    if mode == "replace" and removed:
        confirmed = st.checkbox(t("ws_replace_confirm", n=removed, kind=spec(kind).label(lang())),
                                key=f"ws_replace_ok_{token}")
    note = st.text_input(t("ws_note"), key=f"ws_import_note_{token}", placeholder=t("ws_note_placeholder"))
    refused = None if uses_postgis() else read_only_reason()
    if refused:
        st.caption(t("ws_edit_refused"))
    if st.button(t("ws_commit"), key=f"ws_commit_{token}", type="primary",
                 disabled=bool(refused) or not (added or changed or removed) or not confirmed):
        try:
            gdf = layer.gdf.copy()
            gdf.attrs.update(layer.gdf.attrs)
            e = ws.replace(kind, gdf, note=note or layer.source, user=editor_name(), append=mode == "append")
        except GisError as err:
            st.error("\n".join(f"- {line}" for line in err.lines(lang())))
            return
        if layer.offset is not None or layer.suspicion is not None:   # the choice goes with the workspace
            try:
                ws.remember_layer_option(kind, layer.source, offset=layer.offset)
            except GisError as err:
                st.warning("\n".join(err.lines(lang())))
        for store in ("session_layers", "session_tokens"):
            st.session_state.get(store, {}).pop(kind, None)
        st.success(t("ws_committed", ws=target, added=e.added, changed=e.changed, removed=e.removed))


def _download_section() -> None:
    st.subheader(t("download_header"))
    layers = workspace_layers()
    if not layers:
        return
    kind = st.selectbox(t("download_kind"), list(layers), format_func=lambda k: spec(k).label(lang()),
                        key="download_kind")
    token = str(layer_tokens([kind]))       # the layer's revision (and this session's import): renewed by an edit
    fmt = st.radio(t("format"), list(FORMATS), format_func=str.upper, horizontal=True, key="download_fmt")
    try:
        data = _export(layers[kind], kind, fmt, lang(), token)
    except GisError as e:
        st.error("\n".join(f"- {line}" for line in e.lines(lang())))
        return
    st.download_button(t("download_as", fmt=fmt.upper()), data=data, file_name=layer_file_name(kind, fmt, lang()),
                       mime=FORMATS[fmt][1], key=f"dl_{kind}_{fmt}")


def _catalogue_section() -> None:
    with st.expander(t("catalogue_header")):
        kind = st.selectbox(t("upload_kind"), list(CATALOGUE), format_func=lambda k: spec(k).label(lang()),
                            key="catalogue_kind")
        s = spec(kind)
        rows = [{t("field"): f"{f.label(lang())} · {f.name}", t("required"): t("yes") if f.required else "",
                 t("type"): FIELD_TYPES[f.type](lang()), t("unit"): unit_name(f.unit, lang()) if f.unit else "",
                 t("aliases"): ENUMERATION(lang()).join(f.aliases)} for f in s.fields]
        if rows:
            st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True)
        else:
            st.caption(s.description(lang()))


def page() -> None:
    """Render the page."""
    st.header(t("page_data"))
    show_layers_map(map_kinds("data"), key="data_map")   # each layer on or off at start as its spec says
    left, right = st.columns([3, 2])
    with left:
        _import_section()
    with right:
        _download_section()
        if st.session_state.get("session_layers") or st.session_state.get("session_rasters"):
            kinds = list(st.session_state.get("session_layers", {})) + list(st.session_state.get("session_rasters", {}))
            st.info(t("session_note", kinds=ENUMERATION(lang()).join(spec(k).label(lang()) for k in kinds)))
            if st.button(t("reset_layers"), key="reset_layers"):
                for k in ("session_layers", "session_rasters", "session_tokens"):
                    st.session_state.pop(k, None)
                st.rerun()
    _catalogue_section()
