"""Map layers of an evacuation plan: depth overlay, grids by status, shelters by load, routes.

Pure folium (no streamlit): :func:`plan_groups` returns feature groups and legend entries that
:func:`ui.map_view.build_map` adds before its layer control.
"""

from __future__ import annotations

import folium
import numpy as np
import pandas as pd

from ui.overlay import Overlay, render
from layers.raster import Raster
from ui.map_view import DETAIL_BUDGET, _round_coords

#: depth class colours, shallow to deep (sequential blues)
DEPTH_COLORS = ["#c6dbef", "#6baed6", "#2171b5", "#08306b"]
STATUS_COLORS = {"evacuate": "#d32f2f", "flooded": "#ff9800"}
LOAD_COLORS = [(0.8, "#2e7d32"), (1.0, "#f9a825"), (np.inf, "#c62828")]
UNUSABLE_COLOR = "#757575"

LABELS = {
    "grid_id": ("网格编号", "Grid ID"), "name": ("名称", "Name"), "township": ("乡镇", "Township"),
    "village": ("村", "Village"), "responsible": ("责任人", "Responsible"), "phone": ("联系电话", "Phone"),
    "population": ("人数", "People"), "vulnerable": ("老弱病残", "Vulnerable"),
    "max_depth": ("最大水深（米）", "Max depth (m)"), "flooded_share": ("淹没比例", "Flooded share"),
    "shelter": ("安置场所", "Shelter"), "distance_km": ("距离（公里）", "Distance (km)"),
    "time_min": ("时间（分钟）", "Time (min)"), "status": ("状态", "Status"), "capacity": ("容纳人数", "Capacity"),
    "load": ("安置人数", "Load"), "spare": ("剩余床位", "Spare"), "reason": ("不可用原因", "Why unusable"),
    "people": ("人数", "People"), "method": ("路线方式", "Route"),
}


def depth_colorize(thresholds: tuple[float, ...]):
    """Colouriser for depth in metres: one blue per depth class, transparent where dry."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in DEPTH_COLORS], dtype=np.uint8)

    def f(a: np.ndarray) -> np.ndarray:
        wet = np.isfinite(a) & (a > 0)
        cls = np.clip(np.searchsorted(np.asarray(thresholds), np.where(wet, a, 0), side="right"), 0, len(rgb) - 1)
        out = np.zeros(a.shape + (4,), np.uint8)
        out[..., :3] = rgb[cls]
        out[..., 3] = np.where(wet, 190, 0)
        return out
    return f


def depth_overlay(depth: Raster, thresholds: tuple[float, ...], *, max_size: int = 1600) -> Overlay:
    """The depth raster as a class-coloured overlay."""
    return render(depth.array, depth, depth_colorize(thresholds), max_size=max_size)


def _features(gdf, fields: list[str], lang: str) -> dict:
    geoms = _round_coords(gdf.to_crs(4326).geometry.to_numpy())
    gj = gdf.assign(geometry=geoms).set_crs(4326, allow_override=True)[fields + ["geometry"]]
    for c in fields:
        if pd.api.types.is_float_dtype(gj[c]):
            gj[c] = gj[c].round(2)
    return gj.__geo_interface__


def _popup(fields: list[str], lang: str) -> folium.GeoJsonPopup:
    return folium.GeoJsonPopup(fields=fields, aliases=[LABELS[f][0 if lang == "zh" else 1] for f in fields],
                               labels=True, max_width=360)


def is_big(plan, budget: int = DETAIL_BUDGET) -> bool:
    """True when the plan has too many flooded grids and routes to draw in full on one page."""
    return int((plan.exposure["flooded_share"].fillna(0) > 0).sum()) + len(plan.assignments) > budget


def plan_groups(plan, lang: str, *, thresholds: tuple[float, ...], depth: Overlay | None = None,
                township: str | None = None, budget: int = DETAIL_BUDGET
                ) -> tuple[list[folium.Layer], list[tuple[str, str, str | None, str]]]:
    """Feature groups (and legend rows) showing a plan.

    Above ``budget`` features (a prefecture) the whole-area view draws grids as points and leaves
    routes out; ``township`` draws that township in full detail.

    Parameters
    ----------
    plan : gis.flood.plan.Plan
        The plan.
    lang : {'zh', 'en'}
        Labels.
    thresholds : tuple of float
        Depth classes for the legend.
    depth : Overlay, optional
        The depth overlay (cached by the caller).
    """
    zh = lang == "zh"
    groups: list[folium.Layer] = []
    legend: list[tuple[str, str, str | None, str]] = []
    if depth is not None:
        groups.append(folium.raster_layers.ImageOverlay(depth.data_url(), bounds=depth.bounds, interactive=False,
                                                        name="淹没水深" if zh else "Flood depth", zindex=3))
        edges, unit = [0, *thresholds], "米" if zh else "m"
        for i, c in enumerate(DEPTH_COLORS[:len(edges)]):
            span = f"{edges[i]:g}–{edges[i + 1]:g}" if i + 1 < len(edges) else f"≥ {edges[-1]:g}"
            legend.append((f"{'水深' if zh else 'Depth'} {span} {unit}", c, c, "box"))
    hz = plan.hazard
    if hz is not None and hz.polygons is not None and len(hz.polygons):
        g = folium.FeatureGroup(name="危险区" if zh else "Danger zones")
        folium.GeoJson(_features(hz.polygons, [], lang), style_function=lambda f: {
            "color": "#1565c0", "weight": 1, "fillColor": "#42a5f5", "fillOpacity": 0.45}).add_to(g)
        groups.append(g)
        legend.append(("危险区" if zh else "Danger zones", "#1565c0", "#42a5f5", "box"))

    ex = plan.exposure
    flooded = ex[(ex["flooded_share"].fillna(0) > 0)].copy()
    routes = plan.assignments
    sh = plan.shelters.copy()
    if township is not None and "township" in flooded:
        flooded = flooded[flooded["township"] == township]
        routes = routes[routes["grid_id"].isin(flooded["grid_id"])]
        sh = sh[sh["shelter_id"].isin(routes["shelter_id"]) | (sh.get("township") == township)]
    overview = township is None and len(flooded) + len(routes) > budget
    if len(flooded):
        shelter_names = plan.shelters.set_index("shelter_id")["name"]
        a = routes
        by_grid = a.assign(shelter=a["shelter_id"].map(shelter_names)).groupby("grid_id").agg(
            shelter=("shelter", lambda s: "、".join(dict.fromkeys(s.dropna()))), distance_km=("distance_km", "max"))
        flooded["shelter"] = flooded["grid_id"].map(by_grid["shelter"]).fillna("")
        flooded["distance_km"] = flooded["grid_id"].map(by_grid["distance_km"])
        flooded["status"] = np.where(flooded["evacuate"], "转移" if zh else "evacuate", "受淹未达转移条件" if zh
                                     else "flooded, below the rule")
        fields = [f for f in ("grid_id", "name", "township", "village", "responsible", "phone", "population",
                              "vulnerable", "max_depth", "flooded_share", "status", "shelter", "distance_km")
                  if f in flooded]
        g = folium.FeatureGroup(name="网格转移状态" if zh else "Grid status")
        if overview:  # points and a short popup instead of polygons keep a prefecture's page small
            flooded = flooded.assign(geometry=flooded.geometry.representative_point())
            fields = [f for f in ("name", "population", "max_depth", "status", "shelter") if f in fields]
        folium.GeoJson(_features(flooded, fields, lang), popup=_popup(fields, lang),
                       marker=folium.CircleMarker(radius=3, fill=True, fill_opacity=0.9) if overview else None,
                       tooltip=folium.GeoJsonTooltip(fields=["name"] if "name" in fields else ["grid_id"],
                                                     labels=False),
                       style_function=lambda f, zh=zh: {
                           "color": STATUS_COLORS["evacuate"] if f["properties"]["status"] in ("转移", "evacuate")
                           else STATUS_COLORS["flooded"], "weight": 1.2, "fillOpacity": 0.35,
                           "fillColor": STATUS_COLORS["evacuate"] if f["properties"]["status"] in ("转移", "evacuate")
                           else STATUS_COLORS["flooded"]}).add_to(g)
        groups.append(g)
        legend += [("需转移网格" if zh else "Grids to evacuate", STATUS_COLORS["evacuate"], STATUS_COLORS["evacuate"],
                    "box"),
                   ("受淹网格（未达转移条件）" if zh else "Flooded grids (below rule)", STATUS_COLORS["flooded"],
                    STATUS_COLORS["flooded"], "box")]

    a = routes
    if len(a) and not overview:
        g = folium.FeatureGroup(name="转移路线" if zh else "Routes")
        fields = ["grid_id", "people", "distance_km", "time_min", "method"]
        folium.GeoJson(_features(a, fields, lang), popup=_popup(fields, lang),
                       style_function=lambda f: {"color": "#6a1b9a", "weight": 2, "opacity": 0.8,
                                                 "dashArray": "6 4" if f["properties"]["method"] != "road"
                                                 else None}).add_to(g)
        groups.append(g)
        legend.append(("转移路线（虚线为直线估算）" if zh else "Routes (dashed: straight-line estimate)", "#6a1b9a", None,
                       "line"))

    if len(sh):
        cap = pd.to_numeric(sh["capacity"], errors="coerce").replace(0, np.nan)
        ratio = (sh["load"] / cap).fillna(0).to_numpy()
        color = np.where(sh["usable"], [next(c for lim, c in LOAD_COLORS if r <= lim) for r in ratio],
                         UNUSABLE_COLOR)
        sh["status"] = np.where(sh["usable"], [f"{r:.0%}" for r in ratio], "不可用" if zh else "unusable")
        sh["_color"] = color
        fields = [f for f in ("name", "township", "capacity", "load", "spare", "status", "reason") if f in sh]
        g = folium.FeatureGroup(name="安置场所负荷" if zh else "Shelter load")
        data = _features(sh, fields + ["_color"], lang)
        folium.GeoJson(data, popup=_popup(fields, lang), marker=folium.CircleMarker(radius=7, fill=True,
                                                                                    fill_opacity=0.95),
                       style_function=lambda f: {"color": "#212121", "weight": 1,
                                                 "fillColor": f["properties"]["_color"]}).add_to(g)
        groups.append(g)
        legend += [("安置场所 <80%" if zh else "Shelter < 80%", "#212121", "#2e7d32", "circle"),
                   ("安置场所 80–100%" if zh else "Shelter 80-100%", "#212121", "#f9a825", "circle"),
                   ("安置场所已满" if zh else "Shelter full", "#212121", "#c62828", "circle"),
                   ("安置场所不可用" if zh else "Shelter unusable", "#212121", UNUSABLE_COLOR, "circle")]
    return groups, legend
