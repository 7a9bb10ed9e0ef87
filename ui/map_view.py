"""The map builder: layers -> one folium map with an offline hillshade, toggles, legend and popups.

No streamlit here, so it is testable on its own. Big layers are made small before they reach the
browser: simplified in a metric CRS, coordinates rounded to 1e-5 degrees (about 1 m), only the
fields shown in popups sent, drawn on a canvas renderer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template

from ui.overlay import Overlay, rasterize
from layers import settings
from layers.catalogue import GRID_LEVELS, VECTOR_KINDS, spec
from layers.crs import metric_crs
from ui.assets import localize
from ui.i18n import text


@dataclass(frozen=True)
class Style:
    """How a layer kind is drawn and named in the legend."""

    color: str
    fill: str | None = None
    weight: float = 1.5
    radius: float = 5.0
    fill_opacity: float = 0.35
    shape: str = "circle"  # legend swatch: circle, line, box


STYLES: dict[str, Style] = {
    "forest": Style("#2e7d32", "#66bb6a", 0.5, fill_opacity=0.35, shape="box"),
    "flood_hazard": Style("#1565c0", "#42a5f5", 0.5, fill_opacity=0.45, shape="box"),
    "rivers": Style("#1e88e5", None, 2.0, shape="line"),
    "roads": Style("#8d4e2a", None, 1.8, shape="line"),
    "buildings": Style("#616161", "#bdbdbd", 0.6, radius=2.5, fill_opacity=0.6),
    "villages": Style("#6d4c41", "#ffcc80", 1.0, radius=5),
    "shelters": Style("#1b5e20", "#43a047", 1.5, radius=7),
    "depots": Style("#4e342e", "#ff7043", 1.5, radius=8),
    "water_sources": Style("#0d47a1", "#29b6f6", 1.0, radius=4.5),
    "cameras": Style("#4a148c", "#ba68c8", 1.2, radius=6),
}
#: grid outline colour per level, county (dark) to household cluster (light)
GRID_COLORS = {"county": "#37474f", "township": "#5d4037", "village": "#e65100", "group": "#f9a825",
               "household": "#c0ca33"}
GRID_WEIGHTS = {"county": 3.0, "township": 2.2, "village": 1.4, "group": 1.0, "household": 0.8}

#: features one map draws as vectors before it switches to an overview (plus a township to see in detail)
DETAIL_BUDGET = 15_000
OVERVIEW_GRID_LEVELS = ("county", "township", "village")
MINOR_ROAD_CLASSES = ("village", "track")
OVERVIEW_MAX_LINES = 1_500

# Compact JSON in the page: UTF-8 Chinese (3 bytes instead of a 6-byte \uXXXX escape) and no spaces.
# Jinja's tojson still escapes <, >, & and ' so the data cannot break out of its <script>.
folium.GeoJson._template.environment.policies["json.dumps_kwargs"] = {
    "sort_keys": False, "ensure_ascii": False, "separators": (",", ":")}


@dataclass
class MapPlan:
    """What one map draws: vector layers, layers drawn as images, and how much to simplify.

    Attributes
    ----------
    layers : dict
        kind -> GeoDataFrame to send as vectors (with popups).
    images : dict
        kind -> Overlay, layers too big for vectors drawn as images (overview only).
    simplify_m : float
        Simplification tolerance in metres, from the extent (about a pixel at the zoom that shows it all).
    overview : bool
        True when detail was left out to keep the page small; the caller offers a township to focus on.
    """

    layers: dict[str, gpd.GeoDataFrame]
    images: dict[str, Overlay]
    simplify_m: float
    overview: bool = False


def feature_count(layers: dict[str, gpd.GeoDataFrame]) -> int:
    """Number of features over all layers."""
    return sum(len(g) for g in layers.values())


def _diag_m(layers: dict[str, gpd.GeoDataFrame]) -> float:
    b = np.vstack([g.to_crs(4326).total_bounds for g in layers.values() if len(g)])
    w, s_, e, n = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    return float(np.hypot((e - w) * 111_320 * np.cos(np.deg2rad((s_ + n) / 2)), (n - s_) * 110_574))


def _focus(layers: dict[str, gpd.GeoDataFrame], township: str) -> dict[str, gpd.GeoDataFrame]:
    """Features of one township; layers without a township field are cut to its extent."""
    out = {k: g[g["township"] == township] for k, g in layers.items() if "township" in g}
    area = [g for g in out.values() if len(g)]
    if not area:
        return out
    b = np.vstack([g.to_crs(4326).total_bounds for g in area])
    box = shapely.box(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    for k, g in layers.items():
        if k not in out:
            g4 = g.to_crs(4326)
            out[k] = g.iloc[g4.sindex.query(box, predicate="intersects")]
    return out


def _longest(g: gpd.GeoDataFrame, n: int) -> gpd.GeoDataFrame:
    if len(g) <= n:
        return g
    b = g.to_crs(4326).total_bounds
    length = g.to_crs(metric_crs(tuple(b))).length.to_numpy()
    return g.iloc[np.sort(np.argsort(-length)[:n])]


def plan_map(layers: dict[str, gpd.GeoDataFrame], *, focus: str | None = None,
             budget: int = DETAIL_BUDGET) -> MapPlan:
    """Decide what a map of ``layers`` sends to the browser.

    Up to ``budget`` features everything goes as vectors. Beyond it (a prefecture) the map is an
    overview: grids down to village level, roads without village tracks, the longest rivers,
    forest as an image; ``focus`` (a township name) shows that township in full detail instead.
    """
    if focus:
        layers = _focus(layers, focus)
    layers = {k: g for k, g in layers.items() if g is not None and len(g)}
    if not layers:
        return MapPlan({}, {}, 5.0)
    simplify_m = max(5.0, _diag_m(layers) / 3000)
    if feature_count(layers) <= budget:
        return MapPlan(layers, {}, simplify_m)
    out, images = dict(layers), {}
    if "grids" in out and "level" in out["grids"]:
        out["grids"] = out["grids"][out["grids"]["level"].isin(OVERVIEW_GRID_LEVELS)]
    if "roads" in out and "road_class" in out["roads"]:
        out["roads"] = out["roads"][~out["roads"]["road_class"].isin(MINOR_ROAD_CLASSES)]
    for kind in ("roads", "rivers"):
        if kind in out:
            out[kind] = _longest(out[kind], OVERVIEW_MAX_LINES)
    for kind in ("forest", "flood_hazard"):
        if kind in out and len(out[kind]) > OVERVIEW_MAX_LINES and not (out[kind].geom_type == "Point").all():
            images[kind] = rasterize(out.pop(kind), STYLES[kind].fill or STYLES[kind].color)
    return MapPlan(out, images, simplify_m, overview=True)


def _round_coords(geoms: np.ndarray, decimals: int = 5) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def _display_value(v: object, f, lang: str) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if f.type == "choice":
        return f.choice_label(str(v), lang)
    if f.type == "bool":
        return text("yes" if bool(v) else "no", lang)
    if f.type == "int":
        return int(v)
    if f.type == "float":
        return round(float(v), 2)
    return str(v)


def payload(gdf: gpd.GeoDataFrame, kind: str, lang: str, *, simplify_m: float = 5.0,
            fields: list[str] | None = None) -> tuple[dict, list[str]]:
    """A compact GeoJSON dict of ``gdf`` for the browser, and the fields it carries.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer, any CRS.
    kind : str
        Layer kind (labels, choice values).
    lang : {'zh', 'en'}
        Language of displayed values.
    simplify_m : float
        Douglas-Peucker tolerance in metres for lines and polygons (topology-preserving per feature).
    fields : list of str, optional
        Fields to carry (default: every spec field present with at least one value).
    """
    s = spec(kind)
    if fields is None:
        fields = [f.name for f in s.fields if f.name in gdf.columns and gdf[f.name].notna().any()]
    geoms = gdf.geometry.to_numpy()
    if len(gdf) and not (gdf.geom_type == "Point").all() and simplify_m > 0:
        b = gdf.to_crs(4326).total_bounds
        metric = gdf.geometry.to_crs(metric_crs(tuple(b)))
        simple = shapely.simplify(metric.to_numpy(), simplify_m, preserve_topology=True)
        geoms = gpd.GeoSeries(simple, crs=metric.crs).to_crs(4326).to_numpy()
    else:
        geoms = gdf.geometry.to_crs(4326).to_numpy()
    geoms = _round_coords(geoms)
    specs = {f.name: f for f in s.fields}
    cols = {name: gdf[name].to_numpy(dtype=object) for name in fields}
    features = []
    geo_json = shapely.to_geojson(geoms)
    for i, gj in enumerate(geo_json):
        if gj is None:
            continue
        props = {name: _display_value(cols[name][i], specs[name], lang) for name in fields}
        features.append({"type": "Feature", "geometry": json.loads(gj), "properties": props})
    return {"type": "FeatureCollection", "features": features}, fields


def layer_payloads(layers: dict[str, gpd.GeoDataFrame], lang: str, *, simplify_m: float = 5.0
                   ) -> dict[str, tuple[dict, list[str]]]:
    """:func:`payload` of every layer, keyed by kind (``grids:LEVEL`` for each grid level present)."""
    out = {}
    for kind, gdf in layers.items():
        if gdf is None or len(gdf) == 0:
            continue
        if kind == "grids" and "level" in gdf:
            for level in GRID_LEVELS:
                sub = gdf[gdf["level"] == level]
                if len(sub):
                    out[f"grids:{level}"] = payload(sub, kind, lang, simplify_m=simplify_m)
        else:
            out[kind] = payload(gdf, kind, lang, simplify_m=simplify_m)
    return out


class Legend(MacroElement):
    """A fixed legend box in the map corner (plain HTML: no scripts to load)."""

    _template = Template("""
{% macro html(this, kwargs) %}
<div class="gis-legend" style="position:absolute;bottom:44px;left:10px;z-index:9999;background:rgba(255,255,255,.92);
 padding:6px 9px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.5 sans-serif;max-width:220px">
<b>{{ this.title }}</b><br>
{% for label, color, fill, shape in this.items %}
<span style="display:inline-block;vertical-align:middle;margin-right:5px;
{% if shape == 'line' %}width:18px;height:0;border-top:3px solid {{ color }};
{% elif shape == 'box' %}width:14px;height:10px;border:1.5px solid {{ color }};background:{{ fill or 'transparent' }};
{% else %}width:10px;height:10px;border-radius:50%;border:1.5px solid {{ color }};background:{{ fill }};{% endif %}"></span>{{ label }}<br>
{% endfor %}
</div>
{% endmacro %}
""")

    def __init__(self, title: str, items: list[tuple[str, str, str | None, str]]):
        super().__init__()
        self._name = "Legend"
        self.title = title
        self.items = items


class MetricScale(MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` also draws miles)."""

    _template = Template("""
{% macro script(this, kwargs) %}
L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
{% endmacro %}
""")


def _add_geojson(group: folium.FeatureGroup, data: dict, fields: list[str], kind: str, lang: str,
                 style: dict, point_radius: float | None = None) -> None:
    s = spec(kind)
    labels = [s.field(f).label(lang) for f in fields]
    kwargs: dict = {}
    if fields:
        kwargs["popup"] = folium.GeoJsonPopup(fields=fields, aliases=labels, localize=False, labels=True,
                                              max_width=360)
        tip = [f for f in ("name", "grid_id") if f in fields][:1]
        if tip:
            kwargs["tooltip"] = folium.GeoJsonTooltip(fields=tip, labels=False)
    if point_radius is not None:
        kwargs["marker"] = folium.CircleMarker(radius=point_radius, weight=style.get("weight", 1),
                                               color=style["color"], fill=True, fill_color=style["fillColor"],
                                               fill_opacity=0.9)
    folium.GeoJson(data, style_function=lambda _f, st=style: st, highlight_function=lambda _f: {"weight": 3},
                   zoom_on_click=False, **kwargs).add_to(group)


def build_map(layers: dict[str, gpd.GeoDataFrame], *, lang: str = "zh", hillshade: Overlay | None = None,
              height: int = 640, simplify_m: float = 5.0, show: set[str] | None = None,
              online: bool = settings.ONLINE_BASEMAPS, tianditu_key: str | None = settings.TIANDITU_KEY,
              payloads: dict | None = None, images: dict[str, Overlay] | None = None,
              extra: tuple[list, list] | None = None) -> folium.Map:
    """The map of a set of layers.

    Parameters
    ----------
    layers : dict
        kind -> GeoDataFrame (any CRS), drawn bottom to top in catalogue order.
    lang : {'zh', 'en'}
        Language of names, legend and popups.
    hillshade : Overlay, optional
        The DEM's shaded relief: the offline basemap, always on.
    show : set of str, optional
        Layer (or ``grids:LEVEL``) names shown at start; others start hidden but toggleable.
    online : bool
        Offer online basemaps (hidden at start, so nothing is fetched unless the user picks one).
    tianditu_key : str, optional
        Adds Tianditu basemaps when given.
    payloads : dict, optional
        Precomputed ``payload()`` results keyed like the layers (``grids:LEVEL`` for grid levels),
        so a caller can cache the expensive part.
    images : dict, optional
        kind -> Overlay for layers drawn as images (see :func:`plan_map`).
    extra : (layers, legend rows), optional
        More folium layers drawn on top (e.g. :func:`ui.plan_map.plan_groups`) and their legend rows.

    Returns
    -------
    folium.Map
        With Leaflet served locally (see :mod:`ui.assets`).
    """
    payloads = payloads if payloads is not None else layer_payloads(layers, lang, simplify_m=simplify_m)
    m = folium.Map(tiles=None, prefer_canvas=True, height=height, zoom_control=True, zoom_snap=0.25,
                   zoom_delta=0.5)
    m.add_child(MetricScale())
    if online:
        folium.TileLayer("OpenStreetMap", name=text("osm", lang), overlay=False, show=False,
                         attr="© OpenStreetMap contributors").add_to(m)
        if tianditu_key:
            for layer, key in (("vec", "tianditu_vec"), ("img", "tianditu_img")):
                folium.TileLayer(
                    f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                    f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                    f"&TILECOL={{x}}&tk={tianditu_key}", name=text(key, lang), attr="© 天地图 Tianditu",
                    subdomains="01234567", overlay=False, show=False).add_to(m)
            folium.TileLayer(
                "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva"
                "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
                f"&tk={tianditu_key}", name=text("tianditu_label", lang), attr="© 天地图 Tianditu",
                subdomains="01234567", overlay=True, show=False).add_to(m)
    if hillshade is not None:
        folium.raster_layers.ImageOverlay(hillshade.data_url(), bounds=hillshade.bounds, name=text("hillshade", lang),
                                          opacity=0.75, interactive=False, zindex=1,
                                          overlay=True, control=True).add_to(m)
    legend: list[tuple[str, str, str | None, str]] = []
    bounds: list[np.ndarray] = []
    for kind, ov in (images or {}).items():
        folium.raster_layers.ImageOverlay(ov.data_url(), bounds=ov.bounds, name=spec(kind).label(lang),
                                          interactive=False, zindex=2).add_to(m)
        legend.append((spec(kind).label(lang), STYLES[kind].color, STYLES[kind].fill, "box"))
        bounds.append(np.array([ov.bounds[0][1], ov.bounds[0][0], ov.bounds[1][1], ov.bounds[1][0]]))
    for kind in VECTOR_KINDS:
        gdf = layers.get(kind)
        if gdf is None or len(gdf) == 0:
            continue
        bounds.append(gdf.to_crs(4326).total_bounds)
        s = spec(kind)
        if kind == "grids":
            for level in GRID_LEVELS:
                key = f"grids:{level}"
                sub = gdf[gdf["level"] == level] if "level" in gdf else gdf.iloc[0:0]
                if len(sub) == 0:
                    continue
                label = text("grid_level", lang, level=s.field("level").choice_label(level, lang))
                data, fields = payloads[key]
                group = folium.FeatureGroup(name=label, show=show is None or key in show or kind in show)
                style = {"color": GRID_COLORS[level], "weight": GRID_WEIGHTS[level], "fillColor": GRID_COLORS[level],
                         "fillOpacity": 0.08 if level in ("group", "household") else 0.0}
                _add_geojson(group, data, fields, kind, lang, style)
                group.add_to(m)
                legend.append((label, GRID_COLORS[level], None, "box"))
            continue
        st_ = STYLES[kind]
        data, fields = payloads[kind]
        group = folium.FeatureGroup(name=s.label(lang), show=show is None or kind in show)
        style = {"color": st_.color, "weight": st_.weight, "fillColor": st_.fill or st_.color,
                 "fillOpacity": st_.fill_opacity, "opacity": 0.9}
        is_point = bool((gdf.geom_type == "Point").all())
        _add_geojson(group, data, fields, kind, lang, style, point_radius=st_.radius if is_point else None)
        group.add_to(m)
        legend.append((s.label(lang), st_.color, st_.fill, st_.shape if not is_point else "circle"))
    if bounds:
        b = np.vstack(bounds)
        m.fit_bounds([[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]],
                     max_zoom=15)
    elif hillshade is not None:
        m.fit_bounds(hillshade.bounds)
    if extra is not None:
        for layer in extra[0]:
            layer.add_to(m)
        legend += extra[1]
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if legend:
        m.add_child(Legend(text("legend", lang), legend))
    return localize(m)
