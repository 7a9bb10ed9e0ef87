"""Rendering a layers map in a page: cached payloads + hillshade -> folium -> streamlit-folium."""

from __future__ import annotations

import geopandas as gpd
import streamlit as st
from streamlit_folium import st_folium

from ui.i18n import lang
from ui.map_view import build_map
from ui.state import hillshade_overlay, map_payloads, workspace_layers


def show_layers_map(kinds: list[str], *, key: str, show: set[str] | None = None, height: int = 620,
                    extra: dict[str, gpd.GeoDataFrame] | None = None) -> None:
    """Draw the workspace layers ``kinds`` (plus ``extra`` layers, uncached) on the offline map.

    The map returns nothing to Python (``returned_objects=[]``), so panning and zooming never
    rerun the page.
    """
    layers = {k: v for k, v in workspace_layers().items() if k in kinds}
    payloads = map_payloads(list(layers))
    if extra:
        layers.update(extra)
        for k in extra:
            payloads.pop(k, None)
            for p in [p for p in payloads if p.startswith(k + ":")]:
                payloads.pop(p)
    m = build_map(layers, lang=lang(), hillshade=hillshade_overlay(), show=show, height=height,
                  payloads=payloads)
    st_folium(m, key=key, height=height, use_container_width=True, returned_objects=[])
