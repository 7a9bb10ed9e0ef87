"""Leaflet served locally: folium's CDN links rewritten to files under ``static/`` (offline first).

Streamlit serves ``static/`` at ``/app/static/`` when ``server.enableStaticServing`` is on
(``.streamlit/config.toml``). streamlit-folium loads every element's ``default_js`` /
``default_css`` into its iframe, so rewriting those on each element of a map is enough for the
map to render with no network. An element needing an asset that is not vendored raises
:class:`OfflineAssetError` instead of silently reaching for a CDN.
"""

from __future__ import annotations

from pathlib import Path

import folium
from branca.element import Element

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/app/static"

#: folium asset name -> path under static/
LOCAL_ASSETS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "gismap": "gis/gismap.js",          # the app's own helpers: markers, style tables, labels, legend, find
    "gismap_css": "gis/gismap.css",
}
#: assets folium declares that our maps do not use (bootstrap/jquery/awesome-markers serve folium.Marker icons)
UNUSED_ASSETS = {"jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
                 "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}


class OfflineAssetError(RuntimeError):
    """A map element needs a script or stylesheet that is not served locally."""


def _walk(el: Element):
    yield el
    for child in getattr(el, "_children", {}).values():
        yield from _walk(child)


def _local(pairs: list[tuple[str, str]], owner: Element, base: str) -> list[tuple[str, str]]:
    out = []
    for name, url in pairs:
        if name in UNUSED_ASSETS:
            continue
        if name not in LOCAL_ASSETS:
            raise OfflineAssetError(f"{type(owner).__name__} needs {name} ({url}), which is not vendored in static/")
        out.append((name, f"{base}/{LOCAL_ASSETS[name]}"))
    return out


def localize(m: folium.Map, *, base_url: str = STATIC_URL) -> folium.Map:
    """Point every element's scripts and stylesheets of ``m`` at the local copies (in place).

    Parameters
    ----------
    m : folium.Map
        A finished map (call after adding every layer).
    base_url : str
        URL prefix where ``static/`` is served (``/app/static`` under Streamlit).

    Returns
    -------
    folium.Map
        The same map.
    """
    for el in _walk(m):
        if hasattr(el, "default_js"):
            el.default_js = _local(list(el.default_js), el, base_url)
        if hasattr(el, "default_css"):
            el.default_css = _local(list(el.default_css), el, base_url)
    return m


def inline_html(m: folium.Map) -> str:
    """The map as one standalone HTML page with Leaflet inlined (for saving a map to a file offline)."""
    localize(m, base_url="")
    html = m.get_root().render()
    for rel in LOCAL_ASSETS.values():
        content = (STATIC_DIR / rel).read_text(encoding="utf-8")
        if rel.endswith(".js"):
            html = html.replace(f'<script src="/{rel}"></script>', f"<script>{content}</script>")
        else:
            html = html.replace(f'<link rel="stylesheet" href="/{rel}"/>', f"<style>{content}</style>")
    return html
