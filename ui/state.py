"""What the pages share: the workspace (demo county by default), its layers, and the maps, overlays and
analyses every session of the same workspace revision would build.

Everything heavy is built once per server process and shared by every session (``st.cache_resource``
and :func:`shared_map`, never a copy per session), keyed by the **workspace revision** of the layers
it shows (:func:`layer_tokens`: each layer's version, its last-change time and the restore token, so
an edit of the shelters renews what shows shelters and nothing else). When several sessions ask for
the same thing at once, one builds it and the others wait for it (a lock per key). Memory is bounded:
each cache has a maximum number of entries, and the rendered maps a byte budget
(``GIS_SHARED_MAPS_MB``), least recently used first out; a session holds no copy of its own.

Layers a user imports on the Data page replace the workspace's in this session only
(``st.session_state['session_layers']``); their tokens make their maps the session's own.

**How a page shows a map shared by every session** (:func:`shared_map`)::

    shared_map(lambda: build_map(...), cache_key=(layer_tokens(kinds), focus, lang()), key="x_map",
               height=640)

instead of ``st_folium(build_map(...), key="x_map", ...)``: the map is built and rendered to what
streamlit-folium sends the browser once per ``cache_key``; every other session (and every rerun) only
sends it. ``cache_key`` must name everything the map depends on (the layer tokens or an analysis key,
the township in focus, the language, this session's own additions). Before it is rendered, its big layers and
images go to files every session's browser fetches (:mod:`ui.map_files`), so what each session is sent is small.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import streamlit as st

from layers import settings
from layers.catalogue import CATALOGUE
from layers.errors import GisError
from layers.storage import medium_read_only
from layers.workspace import Workspace
from ui.i18n import lang, t
from ui.map_view import LabelSet, layer_payloads, place_labels, plan_map
from ui.overlay import Overlay
from ui.overlay import hillshade_overlay as _render_hillshade


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


@st.cache_resource(show_spinner=False, max_entries=16)
def _vector(folder: str, kind: str, token: tuple | None) -> gpd.GeoDataFrame:
    return Workspace(folder).vector(kind)


@st.cache_resource(show_spinner=False, max_entries=4)
def _raster(folder: str, kind: str, token: tuple):
    return Workspace(folder).raster(kind)


_rev_lock = threading.Lock()
_rev_memo: dict[str, tuple] = {}
_kinds_memo: dict[str, tuple] = {}


def _file_stamp(ws: Workspace) -> tuple | None:
    """What changes whenever the workspace file changes (device, inode, size, last change), or None."""
    try:
        st_ = ws.gpkg.stat()
    except OSError:
        return None
    return (st_.st_dev, st_.st_ino, st_.st_size, st_.st_mtime_ns)


def _vector_kinds(ws: Workspace) -> list[str]:
    """:meth:`Workspace.vector_kinds`, asked of the file once per file version (not on every script run of every
    session: a SQLite connection and query each time)."""
    stamp = _file_stamp(ws)
    with _rev_lock:
        hit = _kinds_memo.get(str(ws.gpkg))
    if stamp is not None and hit is not None and hit[0] == stamp and not Path(str(ws.gpkg) + "-journal").exists():
        return list(hit[1])
    kinds = ws.vector_kinds()
    with _rev_lock:
        _kinds_memo[str(ws.gpkg)] = (stamp, tuple(kinds))
    return kinds


def _revision_tokens(ws: Workspace) -> dict[str, tuple]:
    """Per layer kind, the token of its current state: (version, last change, restore token).

    A layer's token moves when it is edited (its version, in this or another process), when another
    program rewrites it (the GeoPackage's last-change time, which GDAL keeps) and on every restore;
    rasters add their file's modification time. Caches keyed on tokens are shared by every session
    of the same revision and renewed by an edit of what they show, not of other layers.
    """
    stamp = _file_stamp(ws)
    with _rev_lock:
        hit = _rev_memo.get(str(ws.gpkg))
    if stamp is not None and hit is not None and hit[0] == stamp:
        rev = hit[1]                   # the file has not changed since: nor has its revision
    else:
        rev = ws.revision()
        with _rev_lock:
            _rev_memo[str(ws.gpkg)] = (stamp, rev)
    restore = rev.get("_restore", 0)
    out = {}
    for kind, spec_ in CATALOGUE.items():
        if spec_.is_raster:
            path = ws.raster_path(kind)
            out[kind] = (rev.get(kind, 0), path.stat().st_mtime_ns if path.exists() else 0, restore)
        else:
            out[kind] = (rev.get(kind, 0), rev.get(f"last_change:{kind}"), restore)
    return out


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


def _raw_layers(kinds: Iterable[str] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Every vector layer of the active store (or those of ``kinds`` only: the others are not read), overridden
    by this session's imports, as stored.

    A layer the workspace check finds damaged is left out (the page banner names it), never read short.
    """
    wanted = None if kinds is None else set(kinds)
    if uses_postgis():
        store = active_store()
        out = {k: _pg_vector(store.dsn, store.schema, k, store.version(k)) for k in store.vector_kinds()
               if wanted is None or k in wanted}
    else:
        folder = workspace_folder()
        ws = Workspace(folder)
        h = ws.health()
        tokens = _revision_tokens(ws)
        out = {k: _vector(folder, k, tokens.get(k)) for k in (_vector_kinds(ws) if h.ok else ws.vector_kinds())
               if k not in h.damaged_kinds() and (wanted is None or k in wanted)}
    out.update({k: v for k, v in st.session_state.get("session_layers", {}).items() if wanted is None or k in wanted})
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


def workspace_layers_of(kinds: Iterable[str], *, stamp: Iterable[str] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The layers of ``kinds`` as :func:`workspace_layers` gives them, reading only those (and the boundaries
    when a township is to be stamped), and stamping the township of ``stamp`` kinds only (default: all of
    ``kinds``). A map that shows a few layers, or names the township of one, need not read and stamp a
    prefecture's every building (the Workspace page's add-a-point map stamps only the layer edited)."""
    kinds = list(dict.fromkeys(kinds))
    stamp = kinds if stamp is None else [k for k in dict.fromkeys(stamp) if k in kinds]
    raw = _raw_layers([*kinds, "boundaries"] if stamp else kinds)
    if stamp and "boundaries" in raw and any(k in raw for k in stamp):
        from gis.townships import TOWNSHIP_KINDS

        todo = tuple(sorted(k for k in stamp if k in raw and k in TOWNSHIP_KINDS))
        if todo:
            raw = {**raw, **_stamped(layer_tokens(sorted({*todo, "boundaries"})), raw, todo)[0]}
    return {k: v for k, v in raw.items() if k in kinds}


@st.cache_resource(show_spinner=False, max_entries=8)
def _stamped(key: tuple, _layers: dict, kinds: tuple[str, ...] | None = None) -> tuple[dict, list]:
    from gis.townships import stamp_townships

    if kinds is None:
        return stamp_townships(_layers)
    out, notes = stamp_townships({k: _layers[k] for k in (*kinds, "boundaries") if k in _layers}, kinds=kinds)
    return {k: out[k] for k in kinds if k in out}, notes


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


#: longest side of the hillshade image in pixels (the DEM is shaded at this size)
HILLSHADE_PX = 1600


@st.cache_resource(show_spinner=False, max_entries=4)
def _hillshade(dem_key: tuple, _folder: str, _token: tuple) -> Overlay | None:
    """The hillshade of the DEM file ``dem_key`` names (:func:`workspace_dem_key`: workspaces that link one DEM
    file share it)."""
    from layers.raster import read_raster

    ws = Workspace(_folder)
    if "dem" not in ws.raster_kinds():
        return None
    # a picture: the DEM read averaged down to the image's size (a prefecture's 5,000 x 5,000 cells are not read
    # and shaded in full for a 1,600-pixel image); the same image whichever page asks first
    return _render_hillshade(read_raster(ws.raster_path("dem"), display_name="dem.tif", max_side=HILLSHADE_PX),
                             max_size=HILLSHADE_PX)


def hillshade_overlay() -> Overlay | None:
    """The DEM's hillshade as an overlay (session DEM if one was imported)."""
    session_dem = st.session_state.get("session_rasters", {}).get("dem")
    if session_dem is not None:
        return _session_hillshade(session_dem, st.session_state.get("session_tokens", {}).get("dem", ""))
    folder = workspace_folder()
    return _hillshade(_dem_file_key(folder), folder, _revision_tokens(Workspace(folder))["dem"])


@st.cache_data(show_spinner=False, max_entries=4)
def _session_hillshade(_dem, token: str) -> Overlay:
    return _render_hillshade(_dem)


def layer_tokens(kinds: list[str]) -> tuple:
    """Cache key for the current revision of ``kinds``: each layer's token in the workspace (see
    :func:`_revision_tokens`) plus this session's imports. Every session of the same revision gets the
    same key, so what it keys is built once and shared; an edit of one of ``kinds`` changes it."""
    folder = workspace_folder()
    tokens = st.session_state.get("session_tokens", {})
    if uses_postgis():
        store = active_store()
        have = set(store.vector_kinds())
        version = tuple((k, store.version(k)) for k in sorted(kinds) if k in have)
        return (folder, "postgis", version, tuple((k, tokens.get(k, "")) for k in sorted(kinds)))
    revs = _revision_tokens(Workspace(folder))
    return (folder, tuple((k, revs.get(k)) for k in sorted(kinds)),
            tuple((k, tokens.get(k, "")) for k in sorted(kinds)))


@st.cache_resource(show_spinner=False, max_entries=16)
def _map_parts(key: tuple, focus: str | None, lang_: str, _layers: dict) -> tuple[dict, dict, dict, bool]:
    plan = plan_map(_layers, focus=focus)
    payloads = layer_payloads(plan.layers, lang_, simplify_m=plan.simplify_m)
    return plan.layers, payloads, plan.images, plan.overview


def map_layers(kinds: list[str], *, stamp: tuple[str, ...] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The layers of ``kinds`` for a map: as :func:`workspace_layers` gives them (every layer read and stamped, as
    the pages that analyse them have them already), or with ``stamp`` only ``kinds`` read and only the ``stamp``
    kinds' township stamped (:func:`workspace_layers_of`)."""
    if stamp is None:
        return {k: v for k, v in workspace_layers().items() if k in kinds}
    return workspace_layers_of(kinds, stamp=stamp)


def map_parts(kinds: list[str], focus: str | None = None, *, stamp: tuple[str, ...] | None = None,
              layers: dict[str, gpd.GeoDataFrame] | None = None) -> tuple[dict, dict, dict, bool]:
    """Cached (layers, payloads, images, overview) of the map of ``kinds`` (see :func:`ui.map_view.plan_map`).

    ``stamp``: as :func:`map_layers`; ``layers``: the caller's :func:`map_layers` of the same ``kinds`` and
    ``stamp``, when it has them already (not read again).
    """
    layers = map_layers(kinds, stamp=stamp) if layers is None else layers
    key = layer_tokens(list(layers))
    return _map_parts(key if stamp is None else (key, "stamp", tuple(sorted(stamp))), focus, lang(), layers)


@st.cache_resource(show_spinner=False, max_entries=8)     # shared, not a pickled copy per session: read-only
def _places(key: tuple, _layers: dict) -> list[LabelSet]:
    return place_labels(_layers)


def place_names() -> list[LabelSet]:
    """Place labels of the workspace (townships, villages, shelters) for every page's map, cached per version
    (:func:`ui.map_view.place_labels`)."""
    # names and outlines as stored (no township stamped): townships at their outline in the boundaries layer, the
    # grids read for their township level only without one (a prefecture's grids are not read for a label)
    layers = _raw_layers(["boundaries", "villages", "shelters"])
    b = layers.get("boundaries")
    if b is None or "level" not in b or not (b["level"].astype(str) == "township").any():
        layers.update(_raw_layers(["grids"]))
    return _places(layer_tokens(list(layers)), layers)


def workspace_dem():
    """The DEM in use (this session's import, else the workspace's), or None."""
    session_dem = st.session_state.get("session_rasters", {}).get("dem")
    if session_dem is not None:
        return session_dem
    folder = workspace_folder()
    ws = Workspace(folder)
    if "dem" not in ws.raster_kinds():
        return None
    return _raster(folder, "dem", _revision_tokens(ws)["dem"])     # read once per revision, shared


def workspace_dem_key() -> tuple:
    """What identifies the DEM in use by its content: this session's import, else the DEM file's real path,
    size and last change (copies of a workspace that link the same file share it), else the folder."""
    session_dem = st.session_state.get("session_rasters", {}).get("dem")
    if session_dem is not None:
        return ("session", st.session_state.get("session_tokens", {}).get("dem", ""), id(session_dem))
    return _dem_file_key(workspace_folder())


def _dem_file_key(folder: str) -> tuple:
    """The workspace DEM file's real path, size and last change, or ``(folder,)`` when it cannot be read."""
    try:
        real = Workspace(folder).raster_path("dem").resolve()
        stat = real.stat()
    except OSError:
        return (folder,)
    return (str(real), stat.st_size, stat.st_mtime_ns)


def workspace_extent() -> tuple[float, float, float, float] | None:
    """Lon/lat extent of the active workspace's layers, or None when it has none or cannot be read.

    Uploads are read with it as ``near`` (see :func:`layers.load.load_layer`): a file whose CRS puts
    it a zone away from the workspace is caught.
    """
    try:
        return active_store().lonlat_bounds()
    except GisError:
        return None


# ---- faults: a damaged workspace, a read-only medium ------------------------------------------------
def workspace_health():
    """The :class:`layers.integrity.Health` of the active GeoPackage workspace (checked once per file
    version, shared by every session), or None on PostGIS or before the workspace file exists."""
    if uses_postgis():
        return None
    ws = Workspace(workspace_folder())
    return ws.health() if ws.gpkg.exists() else None


def read_only_reason() -> str | None:
    """Why the workspace cannot be written now: its damage banner, the read-only medium note, or None."""
    h = workspace_health()
    if h is not None and not h.ok:
        return h.banner()(lang())
    if not uses_postgis() and medium_read_only(Workspace(workspace_folder()).gpkg):
        return t("ws_read_only_medium")
    return None


def storage_banner() -> None:
    """At the top of every page: a damaged workspace (open read-only, what is damaged, what to do) or a
    read-only medium. Nothing when the workspace is sound and writable (then a scheduled snapshot is
    taken in the background when one is due: :func:`scheduled_snapshot`)."""
    try:
        h = workspace_health()
        if h is not None and not h.ok:
            st.error(h.banner()(lang()))
        elif read_only_reason():
            st.warning(t("ws_read_only_medium"))
        elif h is not None:
            scheduled_snapshot(Workspace(workspace_folder()))
    except GisError as e:
        st.error("\n".join(e.lines(lang())))


_schedule_lock = threading.Lock()
_schedule_last: dict[str, float] = {}


def scheduled_snapshot(ws: Workspace, *, every_s: float = 60.0) -> threading.Thread | None:
    """At most once a minute per workspace and server: if a snapshot is due (writes other programs made
    since the last one, see :func:`layers.snapshots.due`), take it in a background thread (no session
    waits). Returns the thread started, or None."""
    import time

    from layers import snapshots

    key = str(ws.gpkg)
    with _schedule_lock:
        now = time.monotonic()
        if now - _schedule_last.get(key, -every_s) < every_s:
            return None
        _schedule_last[key] = now
    try:
        if not snapshots.due(ws.gpkg):
            return None
    except Exception:  # noqa: BLE001 - a schedule check never disturbs a page
        return None
    th = threading.Thread(target=snapshots.after_write, args=(ws.gpkg, ws.raster_paths()), daemon=True,
                          name="gis-snapshot")
    th.start()
    return th



# ---- maps every session of a revision shares ----------------------------------------------------------------
@dataclass
class RenderedMap:
    """A folium map rendered to what streamlit-folium sends the browser (built once, sent to every session).

    The fields are streamlit-folium's component arguments (its ``st_folium`` computes them from the map on
    every call: three renders of the whole map); ``nbytes`` is what the entry holds.
    """

    script: str
    header: str
    html: str
    id: str
    css_links: list[str]
    js_links: list[str]
    bounds: dict
    zoom: object
    nbytes: int
    hashes: dict[str, str] = field(default_factory=dict)

    def hash_for(self, key: str | None) -> str:
        """streamlit-folium's component key for ``key`` (a hash over the whole script: computed once per key)."""
        h = self.hashes.get(str(key))
        if h is None:
            from streamlit_folium import generate_js_hash

            h = self.hashes[str(key)] = generate_js_hash(self.script, key, False)
        return h


def render_map(m) -> RenderedMap:
    """Render folium map ``m`` as ``streamlit_folium.st_folium`` does before it calls its component.

    Uses streamlit-folium's own helpers (pinned in requirements.txt); ``tests/test_shared_maps.py``
    checks that the result equals what ``st_folium`` sends, so an upgrade that changes them is caught.
    """
    import branca
    import folium.elements
    import streamlit_folium as sf

    m.get_root().render()
    m.render()
    html = sf._get_html(m)
    header = sf._get_header(m)
    script = sf._get_map_string(m)
    mid = sf.get_full_id(m)
    try:
        b = m.get_bounds()
        bounds = {"_southWest": {"lat": b[0][0], "lng": b[0][1]}, "_northEast": {"lat": b[1][0], "lng": b[1][1]}}
    except AttributeError:
        bounds = {"_southWest": {"lat": None, "lng": None}, "_northEast": {"lat": None, "lng": None}}

    def walk(fig):
        if isinstance(fig, branca.colormap.ColorMap):
            yield fig
        if isinstance(fig, folium.elements.JSCSSMixin):
            yield fig
        for child in getattr(fig, "_children", {}).values():
            yield from walk(child)

    css: list[str] = []
    js: list[str] = []
    for elem in walk(m):
        if isinstance(elem, branca.colormap.ColorMap):
            js.insert(0, "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js")
            js.insert(0, "https://d3js.org/d3.v4.min.js")
        css.extend(href for _, href in getattr(elem, "default_css", []))
        js.extend(src for _, src in getattr(elem, "default_js", []))
    css, js = list(dict.fromkeys(css)), list(dict.fromkeys(js))
    nbytes = len(script) + len(header) + len(html)
    return RenderedMap(script, header, html, mid, css, js, bounds, m.options.get("zoom") if hasattr(m, "options")
                       else {}, nbytes)


def _with_files(m):
    """``m`` with its big layers and images moved to files every session's browser fetches (:mod:`ui.map_files`)."""
    from ui.map_files import externalize

    externalize(m)
    return m


class SharedCache:
    """A process-wide cache shared by every session: one build per key (the others wait), least recently used
    entries dropped beyond ``max_bytes`` or ``max_entries``.

    Parameters
    ----------
    max_bytes : float
        Budget of the entries' sizes (``size(value)``), bytes.
    max_entries : int
        At most this many entries.
    """

    def __init__(self, max_bytes: float, max_entries: int, size: Callable[[object], int]):
        self.max_bytes, self.max_entries, self._size = max_bytes, max_entries, size
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        self.builds = 0

    def get(self, key: tuple, build: Callable[[], object]) -> object:
        """The value of ``key``, built by ``build()`` by the first session that asks."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._entries:            # built by another session while this one waited
                    self._entries.move_to_end(key)
                    return self._entries[key]
            try:
                value = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                self.builds += 1
                self._entries[key] = value
                self._evict()
            return value

    def _evict(self) -> None:
        total = sum(self._size(v) for v in self._entries.values())
        while len(self._entries) > 1 and (total > self.max_bytes or len(self._entries) > self.max_entries):
            _, old = self._entries.popitem(last=False)
            total -= self._size(old)

    def stats(self) -> dict:
        """Entries, bytes held and builds so far (for tests and the benchmark)."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": sum(self._size(v) for v in self._entries.values()),
                    "builds": self.builds}

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


#: rendered maps, shared by every session of the server process
MAPS = SharedCache(settings.SHARED_MAPS_MB * 1e6, 64, lambda r: r.nbytes)
#: analysis results and tables, shared by every session (bounded by count)
RESULTS = SharedCache(float("inf"), 64, lambda v: 0)


def shared_result(cache_key: tuple, build: Callable[[], object]) -> object:
    """An analysis result or table every session of the same workspace revision would compute, computed once.

    ``cache_key`` must name everything it depends on (:func:`layer_tokens` of its layers, or the key of
    the analysis it is made from, and the language when it holds words). The value is shared, not
    copied: treat it as read-only. For example the Flood page's tables of a plan::

        rows = shared_result(("flood_rows", key, lang()), lambda: plan_rows(plan, lang=lang()))
    """
    return RESULTS.get(("result", *cache_key), build)


def shared_map(build: Callable[[], object], *, cache_key: tuple, key: str, height: int = 640,
               returned_objects: list[str] | None = None, feature_group=None):
    """Show a folium map built once for every session that asks with the same ``cache_key``.

    Parameters
    ----------
    build : callable
        Makes the ``folium.Map`` (called only when no session has built this ``cache_key`` yet).
    cache_key : tuple
        Everything the map depends on: the workspace revision of what it shows (:func:`layer_tokens`, or
        the key of the analysis drawn), the township in focus, the language, this session's own layers.
    key : str
        The widget key (as for ``st_folium``).
    height : int
        Height in pixels; the map takes the container's width.
    returned_objects : list of str, optional
        What the map returns to Python (default nothing: panning never reruns the page).
    feature_group : folium.FeatureGroup, optional
        A small layer of this session's own (a point just clicked), added to the shared map in the browser
        (streamlit-folium's ``feature_group_to_add``): the map itself is neither rebuilt nor redrawn.

    Returns
    -------
    dict
        What streamlit-folium returns (only ``returned_objects``).
    """
    import folium
    import streamlit_folium as sf

    rendered = MAPS.get(("map", *cache_key), lambda: render_map(_with_files(build())))
    returned = list(returned_objects or [])
    defaults = {k: v for k, v in {"last_clicked": None, "last_object_clicked": None, "last_object_clicked_count": None,
                                  "last_object_clicked_tooltip": None, "last_object_clicked_popup": None,
                                  "all_drawings": None, "last_active_drawing": None, "bounds": rendered.bounds,
                                  "zoom": rendered.zoom, "last_circle_radius": None, "last_circle_polygon": None,
                                  "selected_layers": None, "selected_tags": None, "last_geocoder_result": None
                                  }.items() if k in returned}
    hash_key = rendered.hash_for(key)
    # the group's script names the map as streamlit-folium's frontend does (``map_div``), whatever map renders it
    group = None if feature_group is None else sf._get_feature_group_string(feature_group, map=folium.Map(tiles=None))

    def _on_change() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})

    return sf._component_func(script=rendered.script, header=rendered.header, html=rendered.html, id=rendered.id,
                              key=hash_key, height=height, width=None, returned_objects=returned, default=defaults,
                              zoom=None, center=None, feature_group=group, return_on_hover=False, layer_control=None,
                              pixelated=False, css_links=rendered.css_links, js_links=rendered.js_links,
                              on_change=_on_change, wrap_longitude=False)
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
