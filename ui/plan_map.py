"""Map layers of an evacuation plan: depth overlay, grids by status, shelters by load, routes.

Pure folium (no streamlit): :func:`plan_groups` returns feature groups and legend rows that
:func:`ui.map_view.build_map` adds before its layer control. Colours come from :mod:`layers.palette`;
each layer is styled from one lookup table keyed by a feature property (``status``, ``load``,
``method``), so the page stays linear in the number of grids.
"""

from __future__ import annotations

import folium
import numpy as np
import pandas as pd

from layers.catalogue import spec
from layers.palette import DEPTH, GRID_STATUS, ROUTE, SHELTER_LOAD, SHELTER_UNUSABLE
from layers.raster import Raster
from layers.text import ENUMERATION, Text
from ui.map_view import DETAIL_BUDGET, ImageOverlay, LegendRow, StyledGeoJson, _round_coords, path_style
from ui.overlay import Overlay, render

#: depth class colours, shallow to deep (sequential blues)
DEPTH_COLORS = list(DEPTH)
STATUS_COLORS = dict(GRID_STATUS)
LOAD_COLORS = list(SHELTER_LOAD)
UNUSABLE_COLOR = SHELTER_UNUSABLE
#: opacity of the depth image over the hillshade (readable: the hillshade is drawn at 0.6)
DEPTH_ALPHA = 215

LABELS = {
    "grid_id": Text("网格编号", "Grid ID"), "name": Text("名称", "Name"), "township": Text("乡镇", "Township"),
    "village": Text("村", "Village"), "responsible": Text("责任人", "Responsible"),
    "phone": Text("联系电话", "Phone"), "population": Text("人数", "People"),
    "vulnerable": Text("老弱病残", "Vulnerable"), "max_depth": Text("最大水深（米）", "Max depth (m)"),
    "flooded_share": Text("淹没比例", "Flooded share"), "shelter": Text("安置场所", "Shelter"),
    "distance_km": Text("距离（公里）", "Distance (km)"), "time_min": Text("时间（分钟）", "Time (min)"),
    "status": Text("状态", "Status"), "capacity": Text("容纳人数", "Capacity"), "load": Text("安置人数", "Load"),
    "spare": Text("剩余床位", "Spare"), "reason": Text("不可用原因", "Why unusable"), "people": Text("人数", "People"),
    "method": Text("路线方式", "Route"),
}
_W = {
    "depth_layer": Text("淹没水深", "Flood depth"), "depth": Text("水深", "Depth"), "m": Text("米", "m"),
    "zones": Text("危险区", "Danger zones"), "grid_status": Text("网格转移状态", "Grid status"),
    "evacuate": Text("转移", "evacuate"), "flooded": Text("受淹未达转移条件", "flooded, below the rule"),
    "evacuate_legend": Text("需转移网格", "Grids to evacuate"),
    "flooded_legend": Text("受淹网格（未达转移条件）", "Flooded grids (below rule)"),
    "routes": Text("转移路线", "Routes"),
    "routes_legend": Text("转移路线（虚线为直线估算）", "Routes (dashed: straight-line estimate)"),
    "road": Text("道路", "road"), "straight_line": Text("直线估算", "straight line"),
    "shelter_load": Text("安置场所负荷", "Shelter load"), "unusable": Text("不可用", "unusable"),
    "load_0": Text("安置场所 <80%", "Shelter < 80%"), "load_1": Text("安置场所 80–100%", "Shelter 80-100%"),
    "load_2": Text("安置场所已满", "Shelter full"), "load_bad": Text("安置场所不可用", "Shelter unusable"),
}


def depth_colorize(thresholds: tuple[float, ...]):
    """Colouriser for depth in metres: one blue per depth class, transparent where dry."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in DEPTH_COLORS], dtype=np.uint8)

    def f(a: np.ndarray) -> np.ndarray:
        wet = np.isfinite(a) & (a > 0)
        cls = np.clip(np.searchsorted(np.asarray(thresholds), np.where(wet, a, 0), side="right"), 0, len(rgb) - 1)
        out = np.zeros(a.shape + (4,), np.uint8)
        out[..., :3] = rgb[cls]
        out[..., 3] = np.where(wet, DEPTH_ALPHA, 0)
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
    # no bounding boxes (one per feature: four numbers more per point, and a layer with them is not packed by
    # column, ui.map_points) and no ids: the browser styles, finds and labels features by their properties
    return gj.to_geo_dict(drop_id=True, show_bbox=False)


def _popup(fields: list[str], lang: str) -> folium.GeoJsonPopup:
    return folium.GeoJsonPopup(fields=fields, aliases=[LABELS[f](lang) for f in fields], labels=True, max_width=360)


def is_big(plan, budget: int = DETAIL_BUDGET) -> bool:
    """True when the plan has too many flooded grids and routes to draw in full on one page."""
    return int((plan.exposure["flooded_share"].fillna(0) > 0).sum()) + len(plan.assignments) > budget


def plan_groups(plan, lang: str, *, thresholds: tuple[float, ...], depth: Overlay | None = None,
                township: str | None = None, budget: int = DETAIL_BUDGET
                ) -> tuple[list[folium.Layer], list[LegendRow]]:
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
    w = {k: v(lang) for k, v in _W.items()}
    groups: list[folium.Layer] = []
    legend: list[LegendRow] = []
    if depth is not None:
        img = ImageOverlay(depth.data_url(), bounds=depth.bounds, interactive=False, name=w["depth_layer"],
                           zindex=3)
        groups.append(img)
        edges = [0, *thresholds]
        for i, c in enumerate(DEPTH_COLORS[:len(edges)]):
            span = f"{edges[i]:g}–{edges[i + 1]:g}" if i + 1 < len(edges) else f"≥ {edges[-1]:g}"
            legend.append(LegendRow(f"{w['depth']} {span} {w['m']}", c, c, "box", img))
    hz = plan.hazard
    if hz is not None and hz.polygons is not None and len(hz.polygons):
        zone = spec("flood_hazard").draw
        g = folium.FeatureGroup(name=w["zones"])
        StyledGeoJson(_features(hz.polygons, [], lang), {"": path_style(zone.color, fill=zone.fill, weight=1,
                                                                         fill_opacity=0.45)}).add_to(g)
        groups.append(g)
        legend.append(LegendRow(w["zones"], zone.color, zone.fill, "box", g))

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
            shelter=("shelter", lambda s: ENUMERATION(lang).join(dict.fromkeys(s.dropna()))),
            distance_km=("distance_km", "max"))
        flooded["shelter"] = flooded["grid_id"].map(by_grid["shelter"]).fillna("")
        flooded["distance_km"] = flooded["grid_id"].map(by_grid["distance_km"])
        flooded["status"] = np.where(flooded["evacuate"], w["evacuate"], w["flooded"])
        fields = [f for f in ("grid_id", "name", "township", "village", "responsible", "phone", "population",
                              "vulnerable", "max_depth", "flooded_share", "status", "shelter", "distance_km")
                  if f in flooded]
        g = folium.FeatureGroup(name=w["grid_status"])
        if overview:  # points and a short popup instead of polygons keep a prefecture's page small
            flooded = flooded.assign(geometry=flooded.geometry.representative_point())
            fields = [f for f in ("grid_id", "name", "population", "max_depth", "status", "shelter") if f in fields]
        shape = "circle" if overview else None
        styles = {w["evacuate"]: path_style(STATUS_COLORS["evacuate"], fill=STATUS_COLORS["evacuate"], weight=1.2,
                                            shape=shape, radius=4),
                  w["flooded"]: path_style(STATUS_COLORS["flooded"], fill=STATUS_COLORS["flooded"], weight=1.2,
                                           shape=shape, radius=4)}
        StyledGeoJson(_features(flooded, fields, lang), styles, "status", popup=_popup(fields, lang),
                      tooltip=folium.GeoJsonTooltip(fields=["name"] if "name" in fields else ["grid_id"],
                                                    labels=False),
                      find=tuple(f for f in ("grid_id", "name") if f in fields)).add_to(g)
        groups.append(g)
        legend += [LegendRow(w["evacuate_legend"], STATUS_COLORS["evacuate"], STATUS_COLORS["evacuate"],
                             "circle" if overview else "box", g),
                   LegendRow(w["flooded_legend"], STATUS_COLORS["flooded"], STATUS_COLORS["flooded"],
                             "circle" if overview else "box", g)]

    a = routes
    if len(a) and not overview:
        g = folium.FeatureGroup(name=w["routes"])
        fields = ["grid_id", "people", "distance_km", "time_min", "method"]
        data = _features(a.assign(method=a["method"].map(lambda v: "road" if v == "road" else "straight_line")),
                         fields, lang)
        for f in data["features"]:   # the route method in words; its code keys the style
            code = f["properties"]["method"]
            f["properties"]["_m"] = code
            f["properties"]["method"] = w[code]
        styles = {"road": path_style(ROUTE, weight=2, opacity=0.85),
                  "straight_line": path_style(ROUTE, weight=2, opacity=0.85, dash="6 4")}
        StyledGeoJson(data, styles, "_m", popup=_popup(fields, lang)).add_to(g)
        groups.append(g)
        legend.append(LegendRow(w["routes_legend"], ROUTE, None, "line", g))

    if len(sh):
        cap = pd.to_numeric(sh["capacity"], errors="coerce").replace(0, np.nan)
        ratio = (sh["load"] / cap).fillna(0).to_numpy()
        cls = np.where(sh["usable"], [next(i for i, (lim, _c) in enumerate(LOAD_COLORS) if r <= lim) for r in ratio],
                       -1)
        sh["status"] = np.where(sh["usable"], [f"{r:.0%}" for r in ratio], w["unusable"])
        sh["_c"] = cls.astype(int)
        fields = [f for f in ("name", "township", "capacity", "load", "spare", "status", "reason") if f in sh]
        g = folium.FeatureGroup(name=w["shelter_load"])
        draw = spec("shelters").draw
        styles = {str(i): path_style("#212121", fill=c, weight=1, shape=draw.shape, radius=draw.radius + 1)
                  for i, (_lim, c) in enumerate(LOAD_COLORS)}
        styles["-1"] = path_style("#212121", fill=UNUSABLE_COLOR, weight=1, shape=draw.shape, radius=draw.radius + 1)
        StyledGeoJson(_features(sh, fields + ["_c"], lang), styles, "_c", popup=_popup(fields, lang),
                      find=("name",)).add_to(g)
        groups.append(g)
        legend += [LegendRow(w[f"load_{i}"], "#212121", c, draw.shape, g) for i, (_lim, c) in enumerate(LOAD_COLORS)]
        legend.append(LegendRow(w["load_bad"], "#212121", UNUSABLE_COLOR, draw.shape, g))
    return groups, legend
