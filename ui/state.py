"""What the pages share: the workspace (demo county by default), its layers, and cached map parts.

Heavy work is cached: the workspace's layers with ``st.cache_resource`` (read once per file
version, shared read-only), the hillshade PNG and map payloads with ``st.cache_data`` keyed on
the workspace folder, the file's modification time and the language. Layers a user imports on the
Data page replace the workspace's in this session only (``st.session_state['session_layers']``).
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import streamlit as st

from gis.overlay import Overlay, grey_ramp, render
from gis.terrain import hillshade
from layers import settings
from layers.catalogue import GRID_LEVELS
from layers.workspace import Workspace
from ui.i18n import lang, t
from ui.map_view import payload


@st.cache_resource(show_spinner=False)
def _ensure_demo(folder: str) -> str:
    from data.generator import generate

    ws = Workspace(folder)
    if not ws.gpkg.exists() or not ws.raster_path("dem").exists():
        generate(Path(folder), scale="county")
    return folder


def workspace_folder() -> str:
    """The active workspace folder: ``GIS_WORKSPACE`` if set, else the demo county (made on first use)."""
    folder = os.environ.get("GIS_WORKSPACE")
    if folder:
        return folder
    demo = str(settings.DEMO_DIR)
    if not (Path(demo) / "workspace.gpkg").exists():
        with st.spinner(t("preparing_demo")):
            _ensure_demo(demo)
    return _ensure_demo(demo)


def is_demo() -> bool:
    """True when the app runs on the generated demo county."""
    return not os.environ.get("GIS_WORKSPACE")


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_resource(show_spinner=False, max_entries=32)
def _vector(folder: str, kind: str, mtime: float) -> gpd.GeoDataFrame:
    return Workspace(folder).vector(kind)


def workspace_layers() -> dict[str, gpd.GeoDataFrame]:
    """Every vector layer of the active workspace, overridden by this session's imports (read-only)."""
    folder = workspace_folder()
    ws = Workspace(folder)
    mtime = _mtime(ws.gpkg)
    out = {k: _vector(folder, k, mtime) for k in ws.vector_kinds()}
    out.update(st.session_state.get("session_layers", {}))
    return out


@st.cache_data(show_spinner=False, max_entries=8)
def _hillshade(folder: str, mtime: float) -> Overlay | None:
    ws = Workspace(folder)
    if "dem" not in ws.raster_kinds():
        return None
    dem = ws.raster("dem")
    return render(hillshade(dem).astype("float32"), dem, grey_ramp(), max_size=1600)


def hillshade_overlay() -> Overlay | None:
    """The DEM's hillshade as an overlay (session DEM if one was imported)."""
    session_dem = st.session_state.get("session_rasters", {}).get("dem")
    if session_dem is not None:
        return _session_hillshade(session_dem, st.session_state.get("session_tokens", {}).get("dem", ""))
    folder = workspace_folder()
    return _hillshade(folder, _mtime(Workspace(folder).raster_path("dem")))


@st.cache_data(show_spinner=False, max_entries=4)
def _session_hillshade(_dem, token: str) -> Overlay:
    return render(hillshade(_dem).astype("float32"), _dem, grey_ramp(), max_size=1600)


@st.cache_data(show_spinner=False, max_entries=64)
def _payload(folder: str, kind: str, level: str | None, mtime: float, lang_: str, token: str,
             simplify_m: float) -> tuple[dict, list[str]]:
    gdf = _session_or_workspace(folder, kind, mtime, token)
    if level is not None:
        gdf = gdf[gdf["level"] == level]
    return payload(gdf, kind, lang_, simplify_m=simplify_m)


def _session_or_workspace(folder: str, kind: str, mtime: float, token: str) -> gpd.GeoDataFrame:
    session = st.session_state.get("session_layers", {})
    if token and kind in session:
        return session[kind]
    return _vector(folder, kind, mtime)


def map_payloads(kinds: list[str], simplify_m: float = 5.0) -> dict:
    """Cached browser payloads of the given kinds (grids split by level), for :func:`ui.map_view.build_map`."""
    folder = workspace_folder()
    mtime = _mtime(Workspace(folder).gpkg)
    session = st.session_state.get("session_layers", {})
    out = {}
    layers = workspace_layers()
    for kind in kinds:
        if kind not in layers:
            continue
        token = st.session_state.get("session_tokens", {}).get(kind, "") if kind in session else ""
        if kind == "grids":
            for level in GRID_LEVELS:
                out[f"grids:{level}"] = _payload(folder, kind, level, mtime, lang(), token, simplify_m)
        else:
            out[kind] = _payload(folder, kind, None, mtime, lang(), token, simplify_m)
    return out
