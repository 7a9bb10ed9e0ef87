"""Map layers of a forest-fire review: risk levels, the day's danger, camera coverage, water reach, gaps, sites.

Pure folium (no streamlit): :func:`fire_groups` returns layers and legend rows that
:func:`ui.map_view.build_map` adds before its layer control. Rasters are drawn as images (one PNG
or WebP each, whatever the size of the area); gap patches as polygons, at most
:data:`MAX_GAPS_DRAWN` of them (the largest first), so a prefecture's page stays small.
"""

from __future__ import annotations

import folium
import numpy as np
from rasterio.warp import Resampling

from ui.overlay import Overlay, render
from layers.raster import Raster
from ui.plan_map import _features

#: risk level colours, 1 (low) .. 5 (extreme): China's forest-fire danger colours
RISK_COLORS = ["#2e9e44", "#2f6fd6", "#f2d024", "#f28c1e", "#d7263d"]
SEEN_COLORS = {1: "#fdd835", 2: "#43a047"}
REACH_COLOR = "#00bcd4"   # cyan: the danger scale already uses blue for level 2
GAP_COLORS = {"both": "#b71c1c", "unseen": "#8e24aa", "out_of_reach": "#ef6c00"}
SITE_COLORS = {"camera": "#00838f", "water": "#1565c0"}
MAX_GAPS_DRAWN = 400

LABELS = {
    "rank": ("排序", "Rank"), "gap_zh": ("缺口类型", "Gap"), "gap": ("缺口类型", "Gap"), "area_ha": ("面积（公顷）", "Area (ha)"),
    "township": ("乡镇", "Township"), "road_dist_m": ("距道路（米）", "To road (m)"), "road_name": ("最近道路", "Nearest road"),
    "source_dist_m": ("距水源（米）", "To water (m)"), "source_name": ("最近水源", "Nearest source"),
    "order": ("顺序", "Order"), "name": ("名称", "Name"), "gain_ha": ("新增覆盖（公顷）", "Gain (ha)"),
    "cumulative_share": ("累计覆盖率", "Cumulative share"), "elevation": ("海拔（米）", "Elevation (m)"),
}


def _rgb(hex_: str) -> list[int]:
    return [int(hex_[i:i + 2], 16) for i in (1, 3, 5)]


def level_overlay(level: np.ndarray, grid: Raster, *, max_size: int = 1600) -> Overlay:
    """Levels 1..5 (0 transparent) in the five danger colours."""
    lut = np.zeros((256, 4), np.uint8)
    for i, c in enumerate(RISK_COLORS):
        lut[i + 1, :3], lut[i + 1, 3] = _rgb(c), 170

    def colorize(a: np.ndarray) -> np.ndarray:
        return lut[np.nan_to_num(a, nan=0).astype(np.uint8)]
    return render(level.astype("float32"), grid, colorize, max_size=max_size, resampling=Resampling.nearest)


def seen_overlay(count: np.ndarray, grid: Raster, *, max_size: int = 1600) -> Overlay:
    """Cells seen by one camera (yellow) or by two or more (green)."""
    def colorize(a: np.ndarray) -> np.ndarray:
        out = np.zeros(a.shape + (4,), np.uint8)
        a = np.nan_to_num(a, nan=0)
        out[(a >= 0.5) & (a < 1.5)] = [*_rgb(SEEN_COLORS[1]), 150]
        out[a >= 1.5] = [*_rgb(SEEN_COLORS[2]), 150]
        return out
    return render(count.astype("float32"), grid, colorize, max_size=max_size, resampling=Resampling.nearest)


def reach_overlay(count: np.ndarray, forest: np.ndarray, grid: Raster, *, max_size: int = 1600) -> Overlay:
    """Forest cells within reach of at least one usable water source."""
    a = ((count > 0) & forest).astype("float32")

    def colorize(v: np.ndarray) -> np.ndarray:
        out = np.zeros(v.shape + (4,), np.uint8)
        out[np.nan_to_num(v) >= 0.5] = [*_rgb(REACH_COLOR), 120]
        return out
    return render(a, grid, colorize, max_size=max_size, resampling=Resampling.nearest)


def _popup(fields: list[str], lang: str) -> folium.GeoJsonPopup:
    return folium.GeoJsonPopup(fields=fields, aliases=[LABELS[f][0 if lang == "zh" else 1] for f in fields],
                               labels=True, max_width=360)


def fire_groups(lang: str, *, risk: Overlay | None = None, day: Overlay | None = None, day_label: str = "",
                seen: Overlay | None = None, reach: Overlay | None = None, gaps=None, sites=None
                ) -> tuple[list[folium.Layer], list[tuple[str, str, str | None, str]]]:
    """Layers and legend rows of a fire review (every part optional).

    Parameters
    ----------
    lang : {'zh', 'en'}
        Labels.
    risk, day, seen, reach : Overlay, optional
        Static risk levels, the day's danger levels, camera coverage, water reach (cached by the caller).
    day_label : str
        The day's weather level in words, for the layer name.
    gaps : GeoDataFrame, optional
        Ranked gap patches (:func:`gis.fire.gaps.coverage_gaps`); the largest :data:`MAX_GAPS_DRAWN` are drawn.
    sites : GeoDataFrame, optional
        Proposed sites (:mod:`gis.fire.siting`), with ``kind`` camera or water.
    """
    zh = lang == "zh"
    groups: list[folium.Layer] = []
    legend: list[tuple[str, str, str | None, str]] = []
    names = {1: ("一级 低", "1 low"), 2: ("二级 较低", "2 moderate"), 3: ("三级 较高", "3 high"), 4: ("四级 高", "4 very high"),
             5: ("五级 极高", "5 extreme")}
    for ov, name_zh, name_en, show in ((risk, "森林火险等级（静态）", "Fire risk level (static)", day is None),
                                       (day, f"当日森林火险（{day_label}）", f"Today's fire danger ({day_label})", True)):
        if ov is not None:
            groups.append(folium.raster_layers.ImageOverlay(ov.data_url(), bounds=ov.bounds, interactive=False,
                                                            zindex=3, name=name_zh if zh else name_en, show=show))
    if risk is not None or day is not None:
        legend += [(("火险" if zh else "Risk ") + names[i + 1][0 if zh else 1], c, c, "box")
                   for i, c in enumerate(RISK_COLORS)]
    if reach is not None:
        groups.append(folium.raster_layers.ImageOverlay(reach.data_url(), bounds=reach.bounds, interactive=False,
                                                        zindex=4, show=False,
                                                        name="水源可达范围" if zh else "Water reach"))
        legend.append(("水源可达林地" if zh else "Forest in water reach", REACH_COLOR, REACH_COLOR, "box"))
    if seen is not None:
        groups.append(folium.raster_layers.ImageOverlay(seen.data_url(), bounds=seen.bounds, interactive=False,
                                                        zindex=5, show=False,
                                                        name="监控视域覆盖" if zh else "Camera coverage"))
        legend += [("1 个监控可见" if zh else "Seen by 1 camera", SEEN_COLORS[1], SEEN_COLORS[1], "box"),
                   ("≥2 个监控可见" if zh else "Seen by 2+ cameras", SEEN_COLORS[2], SEEN_COLORS[2], "box")]
    if gaps is not None and len(gaps):
        top = gaps.sort_values("rank").head(MAX_GAPS_DRAWN)
        fields = [f for f in ("rank", "gap_zh" if zh else "gap", "area_ha", "township", "road_name", "road_dist_m",
                              "source_name", "source_dist_m") if f in top]
        g = folium.FeatureGroup(name=("高火险缺口" if zh else "High-risk gaps") + (
            f"（前 {len(top)} 个）" if zh and len(top) < len(gaps) else f" (top {len(top)})" if len(top) < len(gaps)
            else ""))
        folium.GeoJson(_features(top.assign(_c=top["gap"].map(GAP_COLORS)), fields + ["_c"], lang),
                       popup=_popup(fields, lang),
                       style_function=lambda f: {"color": f["properties"]["_c"], "weight": 1.5,
                                                 "fillColor": f["properties"]["_c"], "fillOpacity": 0.5}).add_to(g)
        groups.append(g)
        legend += [("缺口：监控与水源均未覆盖" if zh else "Gap: unseen and out of reach", GAP_COLORS["both"],
                    GAP_COLORS["both"], "box"),
                   ("缺口：监控未覆盖" if zh else "Gap: unseen", GAP_COLORS["unseen"], GAP_COLORS["unseen"], "box"),
                   ("缺口：水源不可达" if zh else "Gap: out of water reach", GAP_COLORS["out_of_reach"],
                    GAP_COLORS["out_of_reach"], "box")]
    if sites is not None and len(sites):
        fields = [f for f in ("order", "name", "gain_ha", "cumulative_share", "elevation") if f in sites]
        g = folium.FeatureGroup(name="建议新增点位" if zh else "Proposed sites")
        data = sites.assign(_c=sites.get("kind", "camera").map(SITE_COLORS).fillna(SITE_COLORS["camera"]))
        folium.GeoJson(_features(data, fields + ["_c"], lang), popup=_popup(fields, lang),
                       marker=folium.CircleMarker(radius=8, fill=True, fill_opacity=0.95),
                       style_function=lambda f: {"color": "#000000", "weight": 2,
                                                 "fillColor": f["properties"]["_c"]}).add_to(g)
        groups.append(g)
        legend += [("建议新增监控" if zh else "Proposed camera", "#000000", SITE_COLORS["camera"], "circle"),
                   ("建议新增水源" if zh else "Proposed water point", "#000000", SITE_COLORS["water"], "circle")]
    return groups, legend


#: vector layers drawn under the review (the rest of the workspace is on the Data page)
BASE_KINDS = ("boundaries", "roads", "water_sources", "cameras")


def fire_map(layers: dict, lang: str, *, hillshade: Overlay | None = None, height: int = 640,
             focus: str | None = None, focus_outline: tuple[str, object] | None = None, **parts) -> folium.Map:
    """The Fire page map: the base layers (boundaries, roads, sources, cameras; an overview above the
    detail budget, or the ``focus`` township in full) under the review's :func:`fire_groups`
    (``parts``: risk, day, day_label, seen, reach, gaps, sites); ``focus_outline`` (name, polygon)
    is outlined and zoomed to."""
    from ui.map_view import build_map, plan_map

    mp = plan_map({k: layers[k] for k in BASE_KINDS if k in layers}, focus=focus)
    return build_map(mp.layers, lang=lang, hillshade=hillshade, images=mp.images, simplify_m=mp.simplify_m,
                     extra=fire_groups(lang, **parts), height=height, show=set(BASE_KINDS),
                     focus_outline=focus_outline)
