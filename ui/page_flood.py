"""Flood evacuation page: the grids, villages, shelters, roads and rivers, and who lives where."""

from __future__ import annotations

import streamlit as st

from gis.summary import township_people
from ui.i18n import t
from ui.map_panel import note_missing_layers, show_layers_map
from ui.state import workspace_layers

KINDS = ["flood_hazard", "rivers", "roads", "grids", "villages", "shelters"]


def page() -> None:
    """Render the page."""
    st.header(t("page_flood"))
    st.caption(t("flood_intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["grids", "shelters", "roads"])
    if "grids" in layers:
        table = township_people(layers["grids"], layers.get("shelters"))
        total = table.sum()
        c = st.columns(5)
        c[0].metric(t("leaf_grids_n"), f"{int(total.get('grids', 0)):,}")
        c[1].metric(t("households"), f"{int(total.get('households', 0)):,}")
        c[2].metric(t("people"), f"{int(total.get('population', 0)):,}")
        c[3].metric(t("vulnerable"), f"{int(total.get('vulnerable', 0)):,}")
        c[4].metric(t("capacity"), f"{int(total.get('capacity', 0)):,}")
    show_layers_map(KINDS, key="flood_map", show={"flood_hazard", "rivers", "roads", "grids:township",
                                                  "grids:village", "grids:group", "grids:household", "villages",
                                                  "shelters"})
    if "grids" in layers:
        st.subheader(t("by_township"))
        names = {"grids": t("leaf_grids_n"), "households": t("households"), "population": t("people"),
                 "vulnerable": t("vulnerable"), "shelters": t("shelters_n"), "capacity": t("capacity")}
        st.dataframe(table.rename(columns=names).rename_axis(t("township")), width="stretch")
