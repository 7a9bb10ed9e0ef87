"""What the pages share: the workspace (demo county by default), its layers, and cached map parts.

Heavy work is cached: the workspace's layers with ``st.cache_resource`` (read once per file
version, shared read-only), the hillshade PNG and map payloads with ``st.cache_data`` keyed on
the workspace folder, the file's modification time and the language. Layers a user imports on the
Data page replace the workspace's in this session only (``st.session_state['session_layers']``).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import streamlit as st

from ui.overlay import Overlay, hillshade_overlay as _render_hillshade
from layers import settings
from layers.errors import LayerError
from layers.workspace import Workspace
from ui.i18n import lang, t
from ui.map_view import LabelSet, layer_payloads, place_labels, plan_map


@st.cache_resource(show_spinner=False)
def _ensure_demo(folder: str) -> str:
    from data.generator import generate

    ws = Workspace(folder)
    if not ws.gpkg.exists() or not ws.raster_path("dem").exists():
        generate(Path(folder), scale="county")
    return folder


def workspace_folder() -> str:
    """The active workspace folder.

    In order: the one picked on the Workspace page in this session; ``GIS_WORKSPACE`` (a server
    setting); the last workspace opened in the data folder; the demo county (made on first use).
    """
    from layers.folders import last_workspace, workspace_dir

    picked = st.session_state.get("workspace_name")
    if picked:
        return str(workspace_dir(picked))
    folder = settings.workspace_override()
    if folder:
        return folder
    last = last_workspace()
    if last and last != settings.DEMO_DIR.name:
        return str(workspace_dir(last))
    demo = str(settings.DEMO_DIR)
    if not (Path(demo) / "workspace.gpkg").exists():
        with st.spinner(t("preparing_demo")):
            _ensure_demo(demo)
    return _ensure_demo(demo)


def workspace_name() -> str:
    """Name shown for the active workspace (its folder name)."""
    return Path(workspace_folder()).name


def is_demo() -> bool:
    """True when the app runs on the generated demo county."""
    return Path(workspace_folder()).resolve() == Path(settings.DEMO_DIR).resolve()


def editor_name() -> str:
    """Who edits in this session (recorded in the history); set in the sidebar."""
    return st.session_state.get("editor_name") or t("anonymous_editor")


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_resource(show_spinner=False, max_entries=32)
def _vector(folder: str, kind: str, mtime: float) -> gpd.GeoDataFrame:
    return Workspace(folder).vector(kind)


@st.cache_resource(show_spinner=False, max_entries=32)
def _pg_vector(dsn: str, schema: str, kind: str, version: int) -> gpd.GeoDataFrame:
    from layers.postgis import PostGISStore

    return PostGISStore(dsn, schema).vector(kind)


def uses_postgis() -> bool:
    """True when this session works on the shared PostGIS database (picked on the Workspace page)."""
    return bool(settings.POSTGIS_DSN) and st.session_state.get("store_kind") == "postgis"


def active_store():
    """Where this session's vector layers live and are edited: the PostGIS database, or the workspace
    GeoPackage (both implement :class:`layers.edits.LayerStore`). Rasters always live in the workspace folder."""
    if uses_postgis():
        from layers.postgis import PostGISStore

        return PostGISStore(settings.POSTGIS_DSN, settings.POSTGIS_SCHEMA)
    return Workspace(workspace_folder())


def _raw_layers() -> dict[str, gpd.GeoDataFrame]:
    """Every vector layer of the active store, overridden by this session's imports, as stored."""
    if uses_postgis():
        store = active_store()
        out = {k: _pg_vector(store.dsn, store.schema, k, store.version(k)) for k in store.vector_kinds()}
    else:
        folder = workspace_folder()
        ws = Workspace(folder)
        mtime = _mtime(ws.gpkg)
        out = {k: _vector(folder, k, mtime) for k in ws.vector_kinds()}
    out.update(st.session_state.get("session_layers", {}))
    return out


def workspace_layers() -> dict[str, gpd.GeoDataFrame]:
    """Every vector layer of the active store, overridden by this session's imports (read-only).

    With a boundaries layer, each feature's ``township`` is the township outline holding it
    (:func:`gis.townships.stamp_townships`), so every table counts what the maps draw.
    """
    out = _raw_layers()
    if "boundaries" in out:
        out = dict(_stamped(layer_tokens(list(out)), out)[0])
    return out


@st.cache_resource(show_spinner=False, max_entries=4)
def _stamped(key: tuple, _layers: dict) -> tuple[dict, list]:
    from gis.townships import stamp_townships

    return stamp_townships(_layers)


@st.cache_resource(show_spinner=False, max_entries=8)
def _outlines(key: tuple, _layers: dict):
    from gis.townships import township_outlines

    return township_outlines(_layers)


def workspace_outlines():
    """The township outlines of the workspace and which source they came from (:class:`gis.townships.Outlines`)."""
    layers = workspace_layers()
    kinds = [k for k in ("boundaries", "grids", "forest") if k in layers]
    return _outlines(layer_tokens(kinds), {k: layers[k] for k in kinds})


def township_notes() -> list:
    """What the township assignment from the boundaries layer did (empty without one): :class:`~layers.text.Text`."""
    raw = _raw_layers()
    if "boundaries" not in raw:
        return []
    return list(_stamped(layer_tokens(list(raw)), raw)[1])


@st.cache_data(show_spinner=False, max_entries=8)
def _hillshade(folder: str, mtime: float) -> Overlay | None:
    ws = Workspace(folder)
    if "dem" not in ws.raster_kinds():
        return None
    return _render_hillshade(ws.raster("dem"))


def hillshade_overlay() -> Overlay | None:
    """The DEM's hillshade as an overlay (session DEM if one was imported)."""
    session_dem = st.session_state.get("session_rasters", {}).get("dem")
    if session_dem is not None:
        return _session_hillshade(session_dem, st.session_state.get("session_tokens", {}).get("dem", ""))
    folder = workspace_folder()
    return _hillshade(folder, _mtime(Workspace(folder).raster_path("dem")))


@st.cache_data(show_spinner=False, max_entries=4)
def _session_hillshade(_dem, token: str) -> Overlay:
    return _render_hillshade(_dem)


def layer_tokens(kinds: list[str]) -> tuple:
    """Cache key for the current version of ``kinds``: workspace file time plus this session's imports."""
    folder = workspace_folder()
    tokens = st.session_state.get("session_tokens", {})
    if uses_postgis():
        store = active_store()
        have = set(store.vector_kinds())
        version = tuple((k, store.version(k)) for k in sorted(kinds) if k in have)
        return (folder, "postgis", version, tuple((k, tokens.get(k, "")) for k in sorted(kinds)))
    return (folder, _mtime(Workspace(folder).gpkg), tuple((k, tokens.get(k, "")) for k in sorted(kinds)))


@st.cache_data(show_spinner=False, max_entries=32)
def _map_parts(key: tuple, focus: str | None, lang_: str, _layers: dict) -> tuple[dict, dict, dict, bool]:
    plan = plan_map(_layers, focus=focus)
    payloads = layer_payloads(plan.layers, lang_, simplify_m=plan.simplify_m)
    return plan.layers, payloads, plan.images, plan.overview


def map_parts(kinds: list[str], focus: str | None = None) -> tuple[dict, dict, dict, bool]:
    """Cached (layers, payloads, images, overview) of the map of ``kinds`` (see :func:`ui.map_view.plan_map`)."""
    layers = {k: v for k, v in workspace_layers().items() if k in kinds}
    return _map_parts(layer_tokens(list(layers)), focus, lang(), layers)


@st.cache_data(show_spinner=False, max_entries=8)
def _places(key: tuple, _layers: dict) -> list[LabelSet]:
    return place_labels(_layers)


def place_names() -> list[LabelSet]:
    """Place labels of the workspace (townships, villages, shelters) for every page's map, cached per version."""
    kinds = ["grids", "villages", "shelters"]
    layers = {k: v for k, v in workspace_layers().items() if k in kinds}
    return _places(layer_tokens(list(layers)), layers)


def workspace_dem():
    """The DEM in use (this session's import, else the workspace's), or None."""
    session_dem = st.session_state.get("session_rasters", {}).get("dem")
    if session_dem is not None:
        return session_dem
    ws = Workspace(workspace_folder())
    return ws.raster("dem") if "dem" in ws.raster_kinds() else None


def workspace_extent() -> tuple[float, float, float, float] | None:
    """Lon/lat extent of the active workspace's layers, or None when it has none or cannot be read.

    Uploads are read with it as ``near`` (see :func:`layers.load.load_layer`): a file whose CRS puts
    it a zone away from the workspace is caught.
    """
    try:
        return active_store().lonlat_bounds()
    except LayerError:
        return None


@st.cache_data(show_spinner=False, max_entries=4)
def _area(key: tuple, _grids) -> tuple[bytes | None, str]:
    from layers.load import county_boundary

    geom = county_boundary(_grids)
    if geom is None:
        return None, ""
    import hashlib

    import shapely

    wkb = shapely.to_wkb(geom)
    return wkb, hashlib.sha1(wkb).hexdigest()[:12]


def workspace_area():
    """The county boundary (lon/lat geometry, from the county- or township-level grids) and a key for it,
    or ``(None, "")``: an import refuses rows outside it until they are confirmed."""
    grids = workspace_layers().get("grids")
    if grids is None:
        return None, ""
    wkb, key = _area(layer_tokens(["grids"]), grids)
    if wkb is None:
        return None, ""
    import shapely

    return shapely.from_wkb(wkb), key
