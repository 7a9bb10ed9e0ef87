"""The map builder: layers -> one folium map with an offline hillshade, toggles, legend, labels and popups.

No streamlit here, so it is testable on its own. Every page's map is made here (the Flood and Fire
pages add their analysis layers through ``extra``). Big layers are made small before they reach the
browser: simplified in a metric CRS, coordinates rounded to 1e-5 degrees (about 1 m), only the
fields shown in popups sent, drawn on a canvas renderer.

Styles come from the layer specs (:class:`layers.schema.Draw`) and reach the browser as ONE lookup
table per layer, keyed by a feature property (``GisMap.styled`` in ``static/gis/gismap.js``): the
page's script is the same size whatever the number of features, and renders in time linear in them
(folium's own ``style_function`` writes a ``switch`` with one ``case`` per feature). Place names
(townships, villages, shelters) are labelled and decluttered in the browser; the legend lists the
layers that are on; on a narrow map the layer control starts collapsed and the legend folded; a
search box finds a grid, shelter or village by name or id and zooms to it. Online basemaps are
offered only when their server answers, and never shown at start.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from layers import settings
from layers.catalogue import VECTOR_KINDS, spec
from layers.crs import metric_crs
from layers.schema import Draw
from ui.assets import STATIC_URL, localize
from ui.i18n import text
from ui.map_points import pack_points
from ui.overlay import Overlay, rasterize, rasterize_points

#: how each kind is drawn (from its spec), by kind
STYLES: dict[str, Draw] = {k: spec(k).draw for k in VECTOR_KINDS}
#: grid outline colour and width per level, county to household cluster (from the grids' spec)
GRID_COLORS = {c.value: c.color for c in spec("grids").draw.classes}
GRID_WEIGHTS = {c.value: c.weight for c in spec("grids").draw.classes}
#: the chosen area's outline (a township picked on a page)
FOCUS_STYLE = {"color": "#d50000", "weight": 3.5, "fillOpacity": 0.0, "opacity": 0.95}

#: features one map draws as vectors before it switches to an overview (plus a township to see in detail)
DETAIL_BUDGET = 15_000
OVERVIEW_GRID_LEVELS = ("county", "township", "village")
MINOR_ROAD_CLASSES = ("village", "track", "other")
#: boundary levels kept in an overview
OVERVIEW_BOUNDARY_LEVELS = ("province", "prefecture", "county", "township")
OVERVIEW_MAX_LINES = 1_500
#: point layers with more features than this go into an overview as an image of dots (a prefecture's buildings)
OVERVIEW_MAX_POINTS = 10_000

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
    forest as an image, and a point layer of more than ``OVERVIEW_MAX_POINTS`` features (the
    buildings) as an image of dots; ``focus`` (a township name) shows that township in full detail
    instead. Layers drawn as images are on or off at start as their vectors would be.
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
    if "boundaries" in out and "level" in out["boundaries"]:
        out["boundaries"] = out["boundaries"][out["boundaries"]["level"].isin(OVERVIEW_BOUNDARY_LEVELS)]
    if "roads" in out and "road_class" in out["roads"]:
        out["roads"] = out["roads"][~out["roads"]["road_class"].isin(MINOR_ROAD_CLASSES)]
    for kind in ("roads", "rivers"):
        if kind in out:
            out[kind] = _longest(out[kind], OVERVIEW_MAX_LINES)
    for kind in ("forest", "flood_hazard"):
        if kind in out and len(out[kind]) > OVERVIEW_MAX_LINES and not (out[kind].geom_type == "Point").all():
            images[kind] = rasterize(out.pop(kind), STYLES[kind].fill or STYLES[kind].color)
    for kind in list(out):
        g = out[kind]
        if len(g) > OVERVIEW_MAX_POINTS and (g.geom_type == "Point").all():
            d = STYLES[kind]
            images[kind] = rasterize_points(out.pop(kind), d.color, fill=d.fill)
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
    """:func:`payload` of every layer, keyed by kind (``KIND:VALUE`` for each drawing class of a kind whose
    spec draws by a field, e.g. ``grids:village``)."""
    out = {}
    for kind, gdf in layers.items():
        if gdf is None or len(gdf) == 0:
            continue
        d = STYLES[kind]
        if d.by and d.classes and d.by in gdf:
            for c in d.classes:
                sub = gdf[gdf[d.by] == c.value]
                if len(sub):
                    out[f"{kind}:{c.value}"] = payload(sub, kind, lang, simplify_m=simplify_m)
        else:
            out[kind] = payload(gdf, kind, lang, simplify_m=simplify_m)
    return out


@dataclass(frozen=True)
class LegendRow:
    """One legend entry: shown while ``layer`` (a folium layer of the map; None: always) is on the map.

    ``shape`` is the swatch: ``box`` (area), ``line``, or a marker shape (circle, square, triangle, diamond).
    """

    label: str
    color: str
    fill: str | None = None
    shape: str = "box"
    layer: Any = None   # a folium layer, a tuple of them (shown while any is on), or None (always)
    dash: bool = False
    hatch: str | None = None   # an area hatched ("/", "\\", "x") in its fill colour, as on the map

    @property
    def colour(self) -> str:
        """The colour a reader matches against the map: the fill, else the line."""
        return self.fill or self.color


def legend_row(row: Any, layer: Any = None) -> LegendRow:
    """``row`` as a :class:`LegendRow` (a ``(label, color, fill, shape)`` tuple is read as one)."""
    if isinstance(row, LegendRow):
        return row
    label, color, fill, shape = row
    return LegendRow(label, color, fill, shape, layer)


class _Rendered(Element):
    """A piece of a map already rendered (a layer's script with its data), kept as it is."""

    def __init__(self, text_: str):
        super().__init__()
        self._text = text_[:-1] if text_.endswith("\n") else text_   # as jinja's keep_trailing_newline=False

    def render(self, **kwargs: Any) -> str:
        """The text itself."""
        return self._text


class VerbatimRender(MacroElement):
    """Mixin for elements that carry data (GeoJSON, images, labels): their rendered script is added verbatim.

    branca's :meth:`MacroElement.render` wraps each rendered piece in ``Element(text)``, which compiles it as
    a jinja template: the whole GeoJSON or base64 image is tokenised again, on every render (seconds for a
    county's layers, several renders per map). The output is the same, since the data holds no template
    syntax (and with this mixin none is interpreted if it did). Put it after the folium class in the bases.
    """

    def render(self, **kwargs: Any) -> None:
        """branca's MacroElement.render, adding the pieces as :class:`_Rendered`."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "You cannot render this Element if it is not in a Figure."
        module = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = module.get(part)
            if macro is not None:
                getattr(figure, part).add_child(_Rendered(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


class ImageOverlay(folium.raster_layers.ImageOverlay, VerbatimRender):
    """:class:`folium.raster_layers.ImageOverlay` whose (base64) image is rendered without a template pass."""


class _Assets(JSCSSMixin):
    """Loads ``static/gis/gismap.js`` and its stylesheet into the map's page (served locally)."""

    default_js = [("gismap", f"{STATIC_URL}/gis/gismap.js")]
    default_css = [("gismap_css", f"{STATIC_URL}/gis/gismap.css")]
    _template = Template("")

    def __init__(self):
        super().__init__()
        self._name = "GisAssets"


class StyledGeoJson(folium.GeoJson, VerbatimRender):
    """A GeoJSON layer styled from one lookup table: ``styles[feature.properties[key]]``.

    Parameters
    ----------
    data : dict
        A FeatureCollection (already compact: see :func:`payload`). A big layer of points goes to the page
        by column (:meth:`page_data`).
    styles : dict
        Style (Leaflet path options, plus ``shape`` and ``radius`` for points) per value of
        ``key``; ``""`` is the default.
    key : str, optional
        Property that picks the style; None: every feature takes ``styles[""]``.
    find : tuple of str
        Properties the map's search box looks in (none: the layer is not searched).
    popup, tooltip, name, show
        As for :class:`folium.GeoJson`.

    Attributes
    ----------
    url : str or None
        Where the browser fetches ``data`` from instead of the script carrying it (set by
        :func:`ui.map_files.externalize` for the maps every session shares); None: inline.
    data_id : str
        Inline data travel as JSON in a ``<script type="application/json">`` element of the page's HTML with
        this id, read with ``JSON.parse`` (``GisMap.json``): a browser parses JSON text several times faster
        than the same data written as a JavaScript literal in the map's script. (An id with a dash, which
        streamlit-folium's renaming of folium's ``name_<hex>`` variables leaves alone.)
    """

    _template = Template("""
{% macro html(this, kwargs) %}
{%- if not this.url %}<script type="application/json" id="{{ this.data_id }}">{{ this.page_data()|tojson }}</script>
{%- endif %}
{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = GisMap.styled({{ this.url|tojson if this.url else
    ("GisMap.json(" ~ this.data_id|tojson ~ ")" if this.shown_at_start() else
     "{gisJson: " ~ this.data_id|tojson ~ "}") }},
    {{ this.styles|tojson }},
    {{ this.key|tojson }}, {{ this.options|tojavascript }});
{% endmacro %}
""")

    def __init__(self, data: dict, styles: dict[str, dict], key: str | None = None, *, find: tuple[str, ...] = (),
                 **kwargs: Any):
        super().__init__(data, **kwargs)
        self._name = "StyledGeoJson"
        self.styles = {str(k): v for k, v in styles.items()}
        self.key = key
        self.find = tuple(find)
        self.url: str | None = None
        self._packed: tuple[int, dict] | None = None
        self.data_id = "gisdata-" + self._id

    def shown_at_start(self) -> bool:
        """Whether the layer (or the group it is in) is on the map when it opens: the data of a layer off at start
        is parsed in the browser only when the layer is first shown or searched (``GisMap.load``)."""
        owner = self._parent if isinstance(getattr(self, "_parent", None), folium.FeatureGroup) else self
        return bool(getattr(owner, "show", True))

    def page_data(self) -> dict:
        """The data as the page carries it: a big layer of points by column (:func:`ui.map_points.pack_points`,
        a fraction of the bytes; the browser rebuilds the features), anything else as it is."""
        if self._packed is None or self._packed[0] != id(self.data):
            self._packed = (id(self.data), pack_points(self.data) or self.data)
        return self._packed[1]

    def _get_self_bounds(self) -> list[list[float | None]]:
        """folium's bounds of the data (``[[lat_min, lon_min], [lat_max, lon_max]]``), each line or ring read
        by numpy at once rather than point by point (seconds for a county's layers on every render)."""
        parts: list[np.ndarray] = []
        for f in self.data.get("features", ()):
            g = f.get("geometry")
            if g:
                _positions(g.get("coordinates", ()), parts)
        if not parts:
            return [[None, None], [None, None]]
        xy = np.concatenate(parts)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        return [[float(lo[1]), float(lo[0])], [float(hi[1]), float(hi[0])]]


def _positions(coords: Any, out: list[np.ndarray]) -> None:
    """Append the ``(n, 2)`` positions of GeoJSON ``coordinates`` (any nesting) to ``out``."""
    if not len(coords):
        return
    first = coords[0]
    if isinstance(first, (int, float)):                 # one position
        out.append(np.asarray([coords[:2]], dtype="float64"))
    elif len(first) and isinstance(first[0], (int, float)):   # a line or ring of positions
        try:
            out.append(np.asarray(coords, dtype="float64")[:, :2])
        except ValueError:                                  # positions with and without a height
            out.append(np.array([c[:2] for c in coords], dtype="float64"))
    else:
        for c in coords:
            _positions(c, out)


class PlaceLabels(VerbatimRender):
    """Place labels (``[[lat, lon, text], ...]`` per set) decluttered in the browser, under one toggle."""

    _template = Template("""
{% macro script(this, kwargs) %}
{% for s in this.sets %}
GisMap.labels({{ this._parent.get_name() }}).add({{ s.points|tojson }}, {rank: {{ s.rank }},
    minZoom: {{ s.min_zoom }}, maxZoom: {{ s.max_zoom }}, cls: {{ s.cls|tojson }}, center: {{ s.center|tojson }},
    group: {{ this.group.get_name() if this.group else 'null' }}});
{% endfor %}
{% endmacro %}
""")

    def __init__(self, sets: list[LabelSet], group: Any = None):
        super().__init__()
        self._name = "PlaceLabels"
        self.sets = sets
        self.group = group


def _swatch_svg(r: LegendRow) -> str:
    """The legend swatch of a row as inline SVG (same shapes as the map's markers)."""
    c, f = r.color, r.fill or "none"
    if r.shape == "line":
        body = f'<line x1="1" y1="7" x2="19" y2="7" stroke="{c}" stroke-width="3"' + \
            (' stroke-dasharray="4 3"' if r.dash else "") + "/>"
    elif r.shape == "box" and r.hatch:   # hatching lines clipped to the box, as the map draws the area
        lines = []
        for k in range(-8, 20, 4):
            if r.hatch in ("/", "x"):
                lines.append(_clipped_line(k, 12, k + 9, 3))
            if r.hatch in ("\\", "x"):
                lines.append(_clipped_line(k, 3, k + 9, 12))
        body = "".join(f'<line x1="{a:g}" y1="{b:g}" x2="{x:g}" y2="{y:g}" stroke="{f}" stroke-width="1.4"/>'
                       for a, b, x, y in filter(None, lines)) + \
            f'<rect x="2" y="3" width="16" height="9" stroke="{c}" stroke-width="1.5" fill="none"/>'
    elif r.shape == "box":
        body = f'<rect x="2" y="3" width="16" height="9" stroke="{c}" stroke-width="1.5" fill="{f}"/>'
    elif r.shape in ("square", "triangle", "diamond"):
        pts = {"square": "5.5,2.5 14.5,2.5 14.5,11.5 5.5,11.5", "triangle": "10,1 16,11 4,11",
               "diamond": "10,1.2 15.8,7 10,12.8 4.2,7"}[r.shape]
        body = f'<polygon points="{pts}" stroke="{c}" stroke-width="1.2" fill="{f}"/>'
    else:
        body = f'<circle cx="10" cy="7" r="5" stroke="{c}" stroke-width="1.2" fill="{f}"/>'
    return f'<svg class="gis-swatch" width="20" height="14" viewBox="0 0 20 14">{body}</svg>'


def _clipped_line(x0: float, y0: float, x1: float, y1: float, box: tuple = (2, 3, 18, 12)
                  ) -> tuple[float, float, float, float] | None:
    """The 45-degree segment ``(x0, y0)-(x1, y1)`` cut to the swatch box (Liang-Barsky), or None outside it."""
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
    if t0 >= t1:
        return None
    return (round(x0 + t0 * dx, 2), round(y0 + t0 * dy, 2), round(x0 + t1 * dx, 2), round(y0 + t1 * dy, 2))


class MapLegend(MacroElement):
    """The legend (plain HTML, readable without scripts): the browser lists only the rows of layers that
    are on the map, and folds it on a narrow map (``GisMap.legend``)."""

    _template = Template("""
{% macro html(this, kwargs) %}
<div id="{{ this.dom_id }}" class="gis-legend leaflet-control"><details open><summary>{{ this.title|e }}</summary>
<div class="gis-legend-rows">
{%- for r in this.rows %}
<div class="gis-legend-row" data-row="{{ loop.index0 }}">{{ this.svg(r) }}<span>{{ r.label|e }}</span></div>
{%- endfor %}
</div></details></div>
{% endmacro %}
{% macro script(this, kwargs) %}
GisMap.legend({{ this._parent.get_name() }}, document.getElementById({{ this.dom_id|tojson }}), [
{%- for r in this.rows %}{{ this.ref(r.layer) }},{% endfor %}]);
{% endmacro %}
""")

    def __init__(self, title: str, rows: list[LegendRow]):
        super().__init__()
        self._name = "MapLegend"
        self.title = title
        self.rows = rows
        # an element id streamlit-folium's renaming of folium variables (``name_<hex>``) leaves alone
        self.dom_id = "gislegend-" + self._id

    @staticmethod
    def svg(row: LegendRow) -> str:
        """The swatch of ``row`` (inline SVG)."""
        return _swatch_svg(row)

    @staticmethod
    def ref(layer: Any) -> str:
        """The JavaScript name of a row's layer, a list of names, or null."""
        if layer is None:
            return "null"
        if isinstance(layer, (list, tuple)):
            return "[" + ", ".join(x.get_name() for x in layer) + "]"
        return layer.get_name()


class FindControl(MacroElement):
    """A search box: type a name or id, pick a match, the map zooms to it and opens its popup."""

    _template = Template("""
{% macro script(this, kwargs) %}
GisMap.find({{ this._parent.get_name() }}, [
{%- for layer, group, fields in this.sources %}
  {layer: {{ layer.get_name() }}, group: {{ group.get_name() if group is not none else 'null' }},
   fields: {{ fields|tojson }}},
{%- endfor %}
], {{ this.placeholder|tojson }});
{% endmacro %}
""")

    def __init__(self, sources: list[tuple[Any, Any, tuple[str, ...]]], placeholder: str):
        super().__init__()
        self._name = "FindControl"
        self.sources = sources
        self.placeholder = placeholder


class LayerControl(folium.LayerControl):
    """folium's layer control, collapsed at start on a narrow map (a phone, a small laptop window)."""

    _template = Template("""
{% macro script(this,kwargs) %}
    var {{ this.get_name() }}_layers = {
        base_layers : {
            {%- for key, val in this.base_layers.items() %}
            {{ key|tojson }} : {{val}},
            {%- endfor %}
        },
        overlays :  {
            {%- for key, val in this.overlays.items() %}
            {{ key|tojson }} : {{val}},
            {%- endfor %}
        },
    };
    let {{ this.get_name() }} = L.control.layers(
        {{ this.get_name() }}_layers.base_layers,
        {{ this.get_name() }}_layers.overlays,
        Object.assign({{ this.options|tojavascript }}, {collapsed: GisMap.narrow({{ this._parent.get_name() }})})
    ).addTo({{this._parent.get_name()}});
{% endmacro %}
""")


class MetricScale(MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` also draws miles)."""

    _template = Template("""
{% macro script(this, kwargs) %}
L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
{% endmacro %}
""")


# ---- styles from the specs --------------------------------------------------------------------
def path_style(color: str, *, fill: str | None = None, weight: float = 1.5, fill_opacity: float = 0.35,
               opacity: float = 0.9, dash: str | None = None, shape: str | None = None,
               radius: float | None = None, hatch: str | None = None) -> dict:
    """Leaflet path options (plus ``shape``/``radius`` for points) as sent in a style table.

    An area whose fill is fully transparent (a grid outline) is not filled at all: the canvas skips a fill per
    feature per redraw, and a click or hover inside it still finds it (Leaflet's canvas tests the inside of a
    polygon whether or not it is filled).

    ``hatch`` (``"/"``, ``"\\"`` or ``"x"``): the area is hatched in its fill colour rather than filled
    (``fill_opacity`` is then the lines'), so what lies under it stays readable (``GisMap``'s canvas renderer).
    """
    filled = shape is not None or (fill is not None and (fill_opacity > 0 or hatch is not None))
    out: dict = {"color": color, "weight": weight, "opacity": opacity, "fill": filled,
                 "fillColor": fill or color, "fillOpacity": fill_opacity}
    if dash:
        out["dashArray"] = dash
    if hatch:
        out["hatch"] = hatch
    if shape is not None:
        out.update(shape=shape, radius=radius or 5.0, fillOpacity=0.9)
    return out


def kind_style(kind: str, *, points: bool, lines: bool = False) -> dict:
    """The style table entry of a layer kind (its spec's :class:`~layers.schema.Draw`); lines are never filled."""
    d = STYLES[kind]
    return path_style(d.color, fill=None if lines else d.fill, weight=d.weight, fill_opacity=d.fill_opacity,
                      shape=d.shape if points else None, radius=d.radius)


def swatch(kind: str, *, points: bool) -> str:
    """Legend swatch of a kind: its marker shape for points, ``line`` for lines, ``box`` for areas."""
    if points:
        return STYLES[kind].shape
    return "line" if spec(kind).geometry[0] == "LineString" else "box"


# ---- place labels -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelSet:
    """Labels of one kind of place: ``points`` ``[[lat, lon, text], ...]`` and how they compete."""

    points: list
    rank: int
    min_zoom: int
    max_zoom: int = 30
    cls: str = "gis-label"
    center: bool = False


def _label_points(g: gpd.GeoDataFrame, field: str) -> list:
    g = g[g[field].notna() & g.geometry.notna()]
    if not len(g):
        return []
    pts = g.geometry.to_crs(4326).representative_point()
    xs, ys = np.round(pts.x.to_numpy(), 5), np.round(pts.y.to_numpy(), 5)
    return [[float(y), float(x), str(t)] for x, y, t in zip(xs, ys, g[field].astype(str))]


def place_labels(layers: dict[str, gpd.GeoDataFrame]) -> list[LabelSet]:
    """Place names of a workspace: townships (seen from afar), then the kinds whose spec names a label field.

    Townships are placed at their outline in the boundaries layer, else at the township-level grid (or the middle of
    their villages / grids / shelters); villages and shelters beside their marker, shown from their spec's
    ``label_zoom``.
    """
    out: list[LabelSet] = []
    towns: dict[str, tuple[float, float]] = {}
    bounds_ = layers.get("boundaries")
    if bounds_ is not None and len(bounds_) and {"level", "name"} <= set(bounds_.columns):
        top = bounds_[(bounds_["level"] == "township") & bounds_["name"].notna()]
        if len(top):
            d = top.to_crs(4326).dissolve(by="name")
            for name, p in zip(d.index, d.geometry.representative_point()):
                towns[str(name)] = (round(p.y, 5), round(p.x, 5))
    grids = layers.get("grids")
    if not towns and grids is not None and len(grids) and {"level", "township"} <= set(grids.columns):
        top = grids[(grids["level"] == "township") & grids["township"].notna()]
        if len(top):
            d = top.to_crs(4326).dissolve(by="township")
            for name, p in zip(d.index, d.geometry.representative_point()):
                towns[str(name)] = (round(p.y, 5), round(p.x, 5))
    for kind in ("villages", "grids", "shelters"):
        g = layers.get(kind)
        if towns or g is None or not len(g) or "township" not in g:
            continue
        g = g[g["township"].notna() & g.geometry.notna()]
        pts = g.geometry.to_crs(4326).representative_point()
        mid = pd.DataFrame({"t": g["township"].astype(str).to_numpy(), "x": pts.x.to_numpy(), "y": pts.y.to_numpy()}
                           ).groupby("t")[["x", "y"]].median()
        towns = {str(t): (round(r.y, 5), round(r.x, 5)) for t, r in mid.iterrows()}
    if towns:
        out.append(LabelSet([[y, x, t] for t, (y, x) in sorted(towns.items())], rank=10, min_zoom=0, max_zoom=13,
                            cls="gis-label-township", center=True))
    for kind in VECTOR_KINDS:
        d = STYLES[kind]
        g = layers.get(kind)
        if d.label is None or g is None or not len(g) or d.label not in g:
            continue
        pts = _label_points(g, d.label)
        if pts:
            out.append(LabelSet(pts, rank=d.label_rank, min_zoom=d.label_zoom,
                                cls="gis-label-major" if d.label_rank >= 3 else "gis-label"))
    return out


# ---- online basemaps: offered only when reachable ------------------------------------------------
_PROBE: dict[str, tuple[float, bool]] = {}
_PROBE_TTL_S = 600.0


def reachable(host: str, port: int = 443, *, timeout: float = 1.5) -> bool:
    """True when ``host:port`` accepted a TCP connection within ``timeout`` (answer kept ten minutes).

    Name lookup runs in a thread so that a network without DNS cannot hold the page longer than
    ``timeout``.
    """
    now = time.monotonic()
    hit = _PROBE.get(host)
    if hit and now - hit[0] < _PROBE_TTL_S:
        return hit[1]
    result = [False]

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result[0] = True
        except OSError:
            pass

    th = threading.Thread(target=probe, daemon=True)
    th.start()
    th.join(timeout)
    _PROBE[host] = (now, result[0])
    return result[0]


def online_basemaps() -> bool:
    """Offer online basemaps: allowed by the settings (``GIS_ONLINE_BASEMAPS``) and their server reachable."""
    if not settings.ONLINE_BASEMAPS:
        return False
    host = "t0.tianditu.gov.cn" if settings.TIANDITU_KEY else "tile.openstreetmap.org"
    return reachable(host)


def _tiles(m: folium.Map, lang: str, tianditu_key: str | None) -> None:
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


# ---- the map ----------------------------------------------------------------------------------
def _popup_and_tip(kind: str, fields: list[str], lang: str) -> dict:
    s = spec(kind)
    if not fields:
        return {}
    out: dict = {"popup": folium.GeoJsonPopup(fields=fields, aliases=[s.field(f).label(lang) for f in fields],
                                              localize=False, labels=True, max_width=360)}
    tip = [f for f in ("name", "grid_id") if f in fields][:1]
    if tip:
        out["tooltip"] = folium.GeoJsonTooltip(fields=tip, labels=False)
    return out


def _interaction(kind: str, fields: list[str], lang: str, passive: Iterable[str]) -> dict:
    """Popup, tooltip and search fields of a layer; none, and clicks passed through, for a ``passive`` kind."""
    if kind in set(passive):
        return {"interactive": False}
    return {"find": _find_fields(kind, fields), **_popup_and_tip(kind, fields, lang)}


def _find_fields(kind: str, fields: list[str]) -> tuple[str, ...]:
    key = spec(kind).id_field
    return tuple(f for f in ("name", key, "township") if f and f in fields)


def _shown(show: set[str] | None, key: str, default: bool) -> bool:
    if show is None:
        return default
    return key in show or key.split(":")[0] in show


def find_sources(layers: Iterable[Any]) -> list[tuple[Any, Any, tuple[str, ...]]]:
    """``(geojson, its group, fields)`` of every searchable :class:`StyledGeoJson` in ``layers``."""
    out = []
    for layer in layers:
        children = [layer] if isinstance(layer, StyledGeoJson) else list(getattr(layer, "_children", {}).values())
        for child in children:
            if isinstance(child, StyledGeoJson) and child.find:
                out.append((child, layer if child is not layer else None, child.find))
    return out


def build_map(layers: dict[str, gpd.GeoDataFrame], *, lang: str = "zh", hillshade: Overlay | None = None,
              height: int = 640, simplify_m: float = 5.0, show: set[str] | None = None,
              online: bool | None = None, tianditu_key: str | None = settings.TIANDITU_KEY,
              payloads: dict | None = None, images: dict[str, Overlay] | None = None,
              extra: tuple[list, list] | None = None, places: list[LabelSet] | None = None,
              find: bool = True, focus_outline: tuple[str, object] | None = None,
              passive: Iterable[str] = (), overview: bool = False) -> folium.Map:
    """The map of a set of layers.

    Parameters
    ----------
    layers : dict
        kind -> GeoDataFrame (any CRS), drawn bottom to top in the specs' drawing order.
    lang : {'zh', 'en'}
        Language of names, legend and popups.
    hillshade : Overlay, optional
        The DEM's shaded relief: the offline basemap, always on.
    show : set of str, optional
        Layer (or ``grids:LEVEL``) names shown at start; default each spec's ``show``.
    online : bool, optional
        Offer online basemaps (hidden at start, so nothing is fetched unless the user picks one);
        default :func:`online_basemaps` (allowed by the settings and reachable).
    tianditu_key : str, optional
        Adds Tianditu basemaps when given.
    payloads : dict, optional
        Precomputed ``payload()`` results keyed like the layers (``grids:LEVEL`` for grid levels),
        so a caller can cache the expensive part.
    images : dict, optional
        kind -> Overlay for layers drawn as images (see :func:`plan_map`).
    extra : (layers, legend rows), optional
        More folium layers drawn on top (e.g. :func:`ui.plan_map.plan_groups`) and their legend rows
        (:class:`LegendRow`, or ``(label, color, fill, shape)`` tuples shown always).
    places : list of LabelSet, optional
        Place names (:func:`place_labels`), under one "place names" toggle.
    find : bool
        Add the search box (grids, shelters, villages... by name or id).
    focus_outline : (name, geometry), optional
        A chosen area (a township, in the storage CRS) outlined in red on top, and the map fitted to it.
    passive : iterable of str
        Kinds drawn for orientation only: no popup, not searched, and a click goes through them to the map
        (the Workspace page's "add a point by clicking" map, where a township's filled outline must not take
        the click meant for the map).
    overview : bool
        The layers are a big area's whole-area overview (:attr:`MapPlan.overview`): without ``show``, a drawing
        class opens as its ``overview_show`` says (a prefecture's village grids start off).

    Returns
    -------
    folium.Map
        With Leaflet and the app's helpers served locally (see :mod:`ui.assets`).
    """
    payloads = payloads if payloads is not None else layer_payloads(layers, lang, simplify_m=simplify_m)
    m = folium.Map(tiles=None, prefer_canvas=True, height=height, zoom_control=True, zoom_snap=0.25,
                   zoom_delta=0.5)
    m.add_child(_Assets())
    m.add_child(MetricScale())
    if online if online is not None else online_basemaps():
        _tiles(m, lang, tianditu_key)
    if hillshade is not None:
        ImageOverlay(hillshade.data_url(), bounds=hillshade.bounds, name=text("hillshade", lang), opacity=0.6,
                     interactive=False, zindex=1, overlay=True, control=True).add_to(m)
    legend: list[LegendRow] = []
    bounds: list[np.ndarray] = []
    searchable: list[Any] = []
    for kind, ov in (images or {}).items():
        d = STYLES[kind]
        img = ImageOverlay(ov.data_url(), bounds=ov.bounds, name=spec(kind).label(lang), interactive=False,
                           zindex=2, show=_shown(show, kind, d.show))
        img.add_to(m)
        points = spec(kind).geometry[0] == "Point"      # drawn as dots (plan_map), legend as their marker
        legend.append(LegendRow(_legend_label(kind, lang), d.color, d.fill, d.shape if points else "box", img))
        bounds.append(np.array([ov.bounds[0][1], ov.bounds[0][0], ov.bounds[1][1], ov.bounds[1][0]]))
    for kind in VECTOR_KINDS:
        gdf = layers.get(kind)
        if gdf is None or len(gdf) == 0:
            continue
        bounds.append(gdf.to_crs(4326).total_bounds)
        s, d = spec(kind), STYLES[kind]
        if d.by and d.classes and d.by in gdf:
            for c in d.classes:
                key = f"{kind}:{c.value}"
                if key not in payloads:
                    continue
                level_words = {"grids": "grid_level", "boundaries": "boundary_level"}.get(kind)
                label = text(level_words, lang, level=s.field(d.by).choice_label(c.value, lang)) \
                    if level_words else f"{s.label(lang)} {s.field(d.by).choice_label(c.value, lang)}"
                group = folium.FeatureGroup(name=label, show=_shown(show, key, c.shown(overview)))
                data, fields = payloads[key]
                style = path_style(c.color, fill=c.fill or c.color, weight=c.weight, fill_opacity=c.fill_opacity)
                StyledGeoJson(data, {"": style}, **_interaction(kind, fields, lang, passive)).add_to(group)
                group.add_to(m)
                searchable.append(group)
                legend.append(LegendRow(label, c.color, c.fill, "box", group))
            continue
        data, fields = payloads[kind]
        points = bool((gdf.geom_type == "Point").all())
        lines = bool(gdf.geom_type.isin(["LineString", "MultiLineString"]).all())
        label = _legend_label(kind, lang)
        group = folium.FeatureGroup(name=label, show=_shown(show, kind, d.show))
        StyledGeoJson(data, {"": kind_style(kind, points=points, lines=lines)},
                      **_interaction(kind, fields, lang, passive)).add_to(group)
        group.add_to(m)
        searchable.append(group)
        legend.append(LegendRow(label, d.color, d.fill, swatch(kind, points=points), group))
    if focus_outline is not None and focus_outline[1] is not None and not focus_outline[1].is_empty:
        name, geom = focus_outline
        geom4326 = gpd.GeoSeries([geom], crs=settings.STORAGE_CRS).to_crs(4326)
        group = folium.FeatureGroup(name=str(name), show=True)
        folium.GeoJson(json.loads(shapely.to_geojson(_round_coords(geom4326.to_numpy())[0])),
                       style_function=lambda _f: FOCUS_STYLE, interactive=False).add_to(group)
        group.add_to(m)
        legend.append(LegendRow(str(name), FOCUS_STYLE["color"], None, "box", group))
        bounds = [geom4326.total_bounds]
    if bounds:
        b = np.vstack(bounds)
        m.fit_bounds([[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]],
                     max_zoom=15)
    elif hillshade is not None:
        m.fit_bounds(hillshade.bounds)
    if extra is not None:
        for layer in extra[0]:
            layer.add_to(m)
        searchable += list(extra[0])
        legend += [legend_row(r) for r in extra[1]]
    if places:
        names = folium.FeatureGroup(name=text("place_names", lang), show=True)
        names.add_to(m)
        m.add_child(PlaceLabels(places, names))
    LayerControl(collapsed=False, position="topright").add_to(m)
    if legend:
        m.add_child(MapLegend(text("legend", lang), legend))
    sources = find_sources(searchable)
    if find and sources:
        m.add_child(FindControl(sources, text("find_placeholder", lang)))
    return localize(m)


def _legend_label(kind: str, lang: str) -> str:
    d = STYLES[kind]
    return d.legend(lang) if d.legend is not None else spec(kind).label(lang)
