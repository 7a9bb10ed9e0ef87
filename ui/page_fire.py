"""Forest-fire coverage page: forest, water sources and cameras, per township and per type."""

from __future__ import annotations

import streamlit as st

from gis.summary import count_by, forest_by_township
from layers.catalogue import spec
from ui.i18n import lang, t
from ui.map_panel import note_missing_layers, show_layers_map
from ui.state import workspace_layers

KINDS = ["forest", "rivers", "roads", "water_sources", "cameras"]


def _type_table(layer, kind: str):
    f = spec(kind).field("type")
    counts = count_by(layer, "type")
    counts.index = [f.choice_label(i, lang()) if i != "—" else i for i in counts.index]
    return counts.rename(t("count")).rename_axis(t("type"))


def page() -> None:
    """Render the page."""
    st.header(t("page_fire"))
    st.caption(t("fire_intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["forest", "water_sources", "cameras"])
    if "forest" in layers:
        table = forest_by_township(layers["forest"], layers.get("water_sources"), layers.get("cameras"))
        c = st.columns(3)
        c[0].metric(t("forest_km2"), f"{table['forest_km2'].sum():,.1f}")
        c[1].metric(t("water_n"), f"{len(layers.get('water_sources', [])):,}")
        c[2].metric(t("cameras_n"), f"{len(layers.get('cameras', [])):,}")
    show_layers_map(KINDS, key="fire_map")
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
