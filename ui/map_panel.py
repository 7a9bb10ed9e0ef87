"""Rendering a map in a page: planned, cached payloads + hillshade -> folium -> streamlit-folium.

Every page shows its maps through :func:`show_map` (one place that hands a folium map to
streamlit-folium), so the pages' maps can be inspected by tests and benchmarks alike.
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from layers.catalogue import spec
from layers.load import Layer
from layers.raster import Raster
from layers.text import ENUMERATION
from ui.i18n import lang, t
from ui.map_view import DETAIL_BUDGET, build_map, feature_count, plan_map
from ui.overlay import Overlay, value_overlay
from ui.overlay import hillshade_overlay as render_hillshade
from ui.state import (
    hillshade_overlay,
    layer_tokens,
    map_layers,
    map_parts,
    place_names,
    shared_map,
)


def show_map(m, *, key: str, height: int = 640, returned_objects: list[str] | None = None,
             shared: tuple | None = None, feature_group=None):
    """Hand the folium map ``m`` to streamlit-folium (full width); returns what it returns.

    ``returned_objects`` defaults to none, so panning and zooming never rerun the page. With ``shared``
    (a cache key naming everything the map depends on: layer tokens or an analysis key, township,
    language), the map is built and rendered once for every session asking with that key
    (:func:`ui.state.shared_map`); ``m`` may then be a function making the map, called only when no
    session has built it yet::

        show_map(lambda: build_map(...), key="flood_plan_map", shared=(plan_key, township, lang()))

    ``feature_group`` (a small folium layer of this session's own, e.g. the point just clicked) is added
    to the map in the browser without rebuilding or redrawing the map.
    """
    if shared is not None:
        return shared_map(m if callable(m) else (lambda: m), cache_key=shared, key=key, height=height,
                          returned_objects=returned_objects, feature_group=feature_group)
    return st_folium(m, key=key, height=height, use_container_width=True, feature_group_to_add=feature_group,
                     returned_objects=[] if returned_objects is None else returned_objects)


def note_missing_layers(layers: dict, wanted: list[str]) -> None:
    """An info box naming the layers a page needs that the workspace lacks."""
    missing = [spec(k).label(lang()) for k in wanted if k not in layers]
    if missing:
        st.info(t("missing_layer", kinds=ENUMERATION(lang()).join(missing)))


def _townships(layers: dict) -> list[str]:
    names: set[str] = set()
    for g in layers.values():
        if g is not None and "township" in g:
            names.update(str(v) for v in g["township"].dropna().unique())
    return sorted(names)


def show_layers_map(kinds: list[str], *, key: str, show: set[str] | None = None, height: int = 640,
                    extra: tuple[list, list] | None = None, extra_key: tuple | None = None,
                    returned_objects: list[str] | None = None, feature_group=None, passive: tuple[str, ...] = (),
                    stamp: tuple[str, ...] | None = None):
    """Draw the workspace layers ``kinds`` on the offline map, built once for every session of the same
    workspace revision (:func:`ui.state.shared_map`).

    Big data (a prefecture) is drawn as an overview with a township selector for full detail.
    The map returns nothing to Python (``returned_objects=[]``), so panning and zooming never
    rerun the page. ``extra`` layers drawn on top are shared only when ``extra_key`` names them;
    without it the map is this session's own. ``returned_objects`` and ``feature_group`` are passed to
    :func:`show_map` (a map to click on, with the clicked point drawn); ``passive`` kinds take no click
    (see :func:`ui.map_view.build_map`). ``stamp`` names the kinds whose township is stamped from the
    boundaries; with it only ``kinds`` are read (:func:`ui.state.workspace_layers_of`: a map that shows a few
    layers need not read and stamp every layer of a prefecture); default every layer is read and stamped.
    Returns what the map returns.
    """
    layers = map_layers(kinds, stamp=stamp)
    focus = None
    if feature_count(layers) > DETAIL_BUDGET:
        overview = t("overview")
        choice = st.selectbox(t("focus_township"), [overview, *_townships(layers)], key=f"{key}_focus")
        focus = None if choice == overview else choice
    planned, payloads, images, is_overview = map_parts(list(layers), focus, stamp=stamp, layers=layers)
    if is_overview:
        st.caption(t("overview_note"))

    def build():     # called only when no session has this map yet (or for a session's own map)
        return build_map(planned, lang=lang_, hillshade=hillshade_overlay(), show=show, height=height,
                         payloads=payloads, images=images, extra=extra, places=place_names(), passive=passive,
                         overview=is_overview)

    lang_ = lang()
    if extra is not None and extra_key is None:
        return show_map(build(), key=key, height=height, returned_objects=returned_objects,
                        feature_group=feature_group)
    tokens = layer_tokens([*layers, "grids", "villages", "shelters"])       # the layers and the place names
    cache_key = ("layers", tokens, focus, lang_, tuple(sorted(show or ())), height, extra_key, tuple(passive),
                 None if stamp is None else tuple(sorted(stamp)))
    return show_map(build, key=key, height=height, shared=cache_key, returned_objects=returned_objects,
                    feature_group=feature_group)


def show_preview_map(kind: str, layer: Layer, *, key: str, height: int = 420) -> None:
    """A small map of the features of an imported file (shown whatever the layer's default), or of a raster
    drawn as an image, over the workspace's hillshade: a row far away widens the map and shows."""
    if layer.gdf is not None:
        plan = plan_map({kind: layer.gdf})
        m = build_map(plan.layers, lang=lang(), hillshade=hillshade_overlay(), height=height, images=plan.images,
                      simplify_m=plan.simplify_m, show={kind})
    elif kind == "dem":
        m = build_map({}, lang=lang(), hillshade=_preview_image(layer.raster, "dem", key), height=height)
    else:
        m = build_map({}, lang=lang(), hillshade=hillshade_overlay(), height=height,
                      images={kind: _preview_image(layer.raster, kind, key)})
    show_map(m, key=key, height=height)


@st.cache_data(show_spinner=False, max_entries=4)
def _preview_image(_r: Raster, kind: str, token: str) -> Overlay:
    return render_hillshade(_r) if kind == "dem" else value_overlay(_r)
