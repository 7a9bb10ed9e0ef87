"""Forest-fire coverage page: forest, water sources and cameras, per township and per type."""

from __future__ import annotations

import folium
import numpy as np
import streamlit as st
from rasterio.warp import Resampling

from gis.summary import count_by, forest_by_township
from layers.catalogue import spec
from ui.i18n import lang, t
from ui.map_panel import note_missing_layers, show_layers_map
from gis.overlay import render
from ui.state import layer_tokens, workspace_dem, workspace_layers

KINDS = ["forest", "rivers", "roads", "water_sources", "cameras"]


def _type_table(layer, kind: str):
    f = spec(kind).field("type")
    counts = count_by(layer, "type")
    counts.index = [f.choice_label(i, lang()) if i != "—" else i for i in counts.index]
    return counts.rename(t("count")).rename_axis(t("type"))


@st.cache_resource(show_spinner=False, max_entries=8)
def _coverage(key: tuple, target_h: float, curvature: bool):
    from gis.viewshed import coverage

    cams = workspace_layers()["cameras"]
    count, _first, notes = coverage(workspace_dem(), cams, target_h=target_h, curvature=curvature)
    return count, notes


@st.cache_data(show_spinner=False, max_entries=8)
def _coverage_png(key: tuple, target_h: float, curvature: bool):
    count, _ = _coverage(key, target_h, curvature)
    dem = workspace_dem()
    a = count.astype("float32")
    a[a == 0] = float("nan")
    return render(a, dem, _count_colors, resampling=Resampling.nearest)


def _count_colors(a: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape + (4,), np.uint8)
    one, more = np.isfinite(a) & (a >= 0.5) & (a < 1.5), np.isfinite(a) & (a >= 1.5)
    out[one] = [253, 216, 53, 150]
    out[more] = [67, 160, 71, 150]
    return out


def _camera_coverage(layers: dict) -> tuple[list, list] | None:
    """Camera viewshed coverage of the forest: overlay, shares and table (None without DEM/cameras)."""
    from gis.forest_coverage import forest_seen_by_township

    if "cameras" not in layers or workspace_dem() is None:
        return None
    st.subheader(t("camera_coverage"))
    c1, c2 = st.columns(2)
    target_h = float(c1.number_input(t("target_height"), 0.0, 100.0, 0.0, 5.0, key="cov_target",
                                     help=t("target_height_help")))
    curvature = c2.checkbox(t("curvature"), True, key="cov_curvature")
    key = layer_tokens(["cameras", "forest"])
    with st.spinner(t("computing_viewshed")):
        count, notes = _coverage(key, target_h, curvature)
    for zh, en in notes:
        st.caption(zh if lang() == "zh" else en)
    if "forest" in layers:
        table = forest_seen_by_township(count, workspace_dem(), layers["forest"])
        total = table.iloc[-1]
        m = st.columns(2)
        m[0].metric(t("forest_seen"), f"{total['seen_share']:.1%}")
        m[1].metric(t("forest_seen2"), f"{total['seen2_share']:.1%}")
        st.session_state["_coverage_table"] = table
    ov = _coverage_png(key, target_h, curvature)
    zh = lang() == "zh"
    layer = folium.raster_layers.ImageOverlay(ov.data_url(), bounds=ov.bounds, interactive=False, zindex=3,
                                              name=t("camera_coverage"))
    legend = [("1 个监控可见" if zh else "Seen by 1 camera", "#fdd835", "#fdd835", "box"),
              ("≥2 个监控可见" if zh else "Seen by 2+ cameras", "#43a047", "#43a047", "box")]
    return [layer], legend


def page() -> None:
    """Render the page."""
    st.header(t("page_fire"))
    st.caption(t("fire_intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["forest", "water_sources", "cameras"])
    extra = _camera_coverage(layers)
    if "forest" in layers:
        table = forest_by_township(layers["forest"], layers.get("water_sources"), layers.get("cameras"))
        c = st.columns(3)
        c[0].metric(t("forest_km2"), f"{table['forest_km2'].sum():,.1f}")
        c[1].metric(t("water_n"), f"{len(layers.get('water_sources', [])):,}")
        c[2].metric(t("cameras_n"), f"{len(layers.get('cameras', [])):,}")
    show_layers_map(KINDS, key="fire_map", extra=extra)
    cov = st.session_state.pop("_coverage_table", None)
    if cov is not None:
        st.subheader(t("coverage_by_township"))
        st.dataframe(cov.rename(columns={"forest_km2": t("forest_km2"), "seen_km2": t("seen_km2"),
                                           "seen_share": t("forest_seen"), "seen2_share": t("forest_seen2")})
                     .rename_axis(t("township")), width="stretch")
    if "forest" in layers:
        st.subheader(t("by_township"))
        st.dataframe(table.rename(columns={"forest_km2": t("forest_km2"), "water_sources": t("water_n"),
                                           "cameras": t("cameras_n")}).rename_axis(t("township")),
                     width="stretch")
    cols = st.columns(2)
    for col, kind, key in ((cols[0], "water_sources", "sources_by_type"), (cols[1], "cameras", "cameras_by_type")):
        if kind in layers:
            col.subheader(t(key))
            col.dataframe(_type_table(layers[kind], kind), width="stretch")
