"""Map layers of a forest-fire review: risk levels, the day's danger, camera coverage, water reach, gaps, sites.

Pure folium (no streamlit): :func:`fire_groups` returns layers and legend rows that
:func:`ui.map_view.build_map` adds before its layer control. Rasters are drawn as images (one PNG
or WebP each, whatever the size of the area); gap patches as polygons, at most
:data:`MAX_GAPS_DRAWN` of them (the largest first), so a prefecture's page stays small. Gaps are
outlined and hatched (:data:`GAP_HATCH`), not filled: the risk levels under them show between the
lines, so an officer reads where the gaps are and how dangerous that ground is on one map.
"""

from __future__ import annotations

import folium
import numpy as np
from rasterio.warp import Resampling

from gis.fire.gaps import GAP_CLASSES
from gis.fire.headers import header
from gis.fire.weather import LEVEL_LABELS
from layers.catalogue import map_kinds, spec
from layers.palette import GAP, REACH, RISK, SEEN, SITE
from layers.raster import Raster
from layers.text import Text
from ui.map_view import ImageOverlay, LegendRow, StyledGeoJson, path_style
from ui.overlay import Overlay, render
from ui.plan_map import _features

#: risk level colours, 1 (low) .. 5 (extreme): China's forest-fire danger colours
RISK_COLORS = list(RISK)
SEEN_COLORS = dict(SEEN)
REACH_COLOR = REACH
GAP_COLORS = dict(GAP)
SITE_COLORS = dict(SITE)
MAX_GAPS_DRAWN = 400
#: gaps are outlined and hatched, never filled, so the risk levels under them stay readable: one direction for
#: one thing missing, crossed where both are (the palette's colours tell them apart too)
GAP_HATCH = {"both": "x", "unseen": "/", "out_of_reach": "\\"}
GAP_OUTLINE = 2.0

#: the map's own words, by code (popup headers come from :mod:`gis.fire.headers`, as in the tables and files)
WORDS: dict[str, Text] = {k: Text(zh, en, k) for k, (zh, en) in {
    "risk_layer": ("森林火险等级（静态）", "Fire risk level (static)"),
    "day_layer": ("当日森林火险（{label}）", "Today's fire danger ({label})"),
    "risk_legend": ("火险{level}", "Risk {level}"),
    "reach_layer": ("水源可达范围", "Water reach"),
    "reach_legend": ("水源可达林地", "Forest in water reach"),
    "seen_layer": ("监控视域覆盖", "Camera coverage"),
    "seen1": ("1 个监控可见", "Seen by 1 camera"),
    "seen2": ("≥2 个监控可见", "Seen by 2+ cameras"),
    "gaps_layer": ("高火险缺口", "High-risk gaps"),
    "gaps_top": ("（前 {n} 个）", " (top {n})"),
    "gap_both": ("缺口：监控与水源均未覆盖", "Gap: unseen and out of reach"),
    "gap_unseen": ("缺口：监控未覆盖", "Gap: unseen"),
    "gap_out_of_reach": ("缺口：水源不可达", "Gap: out of water reach"),
    "sites_layer": ("建议新增点位", "Proposed sites"),
    "site_camera": ("建议新增监控", "Proposed camera"),
    "site_water": ("建议新增水源", "Proposed water point"),
}.items()}


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
    return folium.GeoJsonPopup(fields=fields, aliases=[header(f, lang) for f in fields], labels=True, max_width=360)


def fire_groups(lang: str, *, risk: Overlay | None = None, day: Overlay | None = None, day_label: str = "",
                seen: Overlay | None = None, reach: Overlay | None = None, gaps=None, sites=None
                ) -> tuple[list[folium.Layer], list[LegendRow]]:
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
    def w(code: str, **kw) -> str:
        return WORDS[code](lang).format(**kw) if kw else WORDS[code](lang)

    groups: list[folium.Layer] = []
    legend: list[LegendRow] = []
    risk_layers = []
    for ov, name, show in ((risk, w("risk_layer"), day is None), (day, w("day_layer", label=day_label), True)):
        if ov is not None:
            img = ImageOverlay(ov.data_url(), bounds=ov.bounds, interactive=False, zindex=3, name=name,
                               show=show)
            groups.append(img)
            risk_layers.append(img)
    if risk_layers:   # one set of level rows, shown while either risk layer is on
        legend += [LegendRow(w("risk_legend", level=LEVEL_LABELS[i + 1](lang)), c, c, "box", tuple(risk_layers))
                   for i, c in enumerate(RISK_COLORS)]
    if reach is not None:
        img = ImageOverlay(reach.data_url(), bounds=reach.bounds, interactive=False, zindex=4, show=False,
                           name=w("reach_layer"))
        groups.append(img)
        legend.append(LegendRow(w("reach_legend"), REACH_COLOR, REACH_COLOR, "box", img))
    if seen is not None:
        img = ImageOverlay(seen.data_url(), bounds=seen.bounds, interactive=False, zindex=5, show=False,
                           name=w("seen_layer"))
        groups.append(img)
        legend += [LegendRow(w("seen1"), SEEN_COLORS[1], SEEN_COLORS[1], "box", img),
                   LegendRow(w("seen2"), SEEN_COLORS[2], SEEN_COLORS[2], "box", img)]
    if gaps is not None and len(gaps):
        top = gaps.sort_values("rank").head(MAX_GAPS_DRAWN)
        top = top.assign(gap_zh=top["gap"].map(lambda k: GAP_CLASSES[k](lang) if k in GAP_CLASSES else k))
        fields = [f for f in ("rank", "gap_zh", "area_ha", "township", "road_name", "road_dist_m", "source_name",
                              "source_dist_m") if f in top]
        name = w("gaps_layer") + (w("gaps_top", n=len(top)) if len(top) < len(gaps) else "")
        g = folium.FeatureGroup(name=name)
        styles = {k: path_style(c, fill=c, weight=GAP_OUTLINE, fill_opacity=0.9, hatch=GAP_HATCH[k])
                  for k, c in GAP_COLORS.items()}
        StyledGeoJson(_features(top.assign(_g=top["gap"].astype(str)), fields + ["_g"], lang), styles, "_g",
                      popup=_popup(fields, lang), find=tuple(f for f in ("rank", "township") if f in fields)).add_to(g)
        groups.append(g)
        legend += [LegendRow(w(f"gap_{k}"), c, c, "box", g, hatch=GAP_HATCH[k]) for k, c in GAP_COLORS.items()]
    if sites is not None and len(sites):
        fields = [f for f in ("order", "name", "gain_ha", "cumulative_share", "elevation") if f in sites]
        g = folium.FeatureGroup(name=w("sites_layer"))
        kind = sites["kind"].astype(str) if "kind" in sites else None
        data = sites.assign(_k=kind.where(kind.isin(list(SITE_COLORS)), "camera") if kind is not None else "camera")
        styles = {k: path_style("#000000", fill=c, weight=2, shape="circle", radius=8) for k, c in SITE_COLORS.items()}
        StyledGeoJson(_features(data, fields + ["_k"], lang), styles, "_k", popup=_popup(fields, lang),
                      find=tuple(f for f in ("name",) if f in fields)).add_to(g)
        groups.append(g)
        legend += [LegendRow(w("site_camera"), "#000000", SITE_COLORS["camera"], "circle", g),
                   LegendRow(w("site_water"), "#000000", SITE_COLORS["water"], "circle", g)]
    return groups, legend


#: vector layers drawn under the review: the boundaries, and the fire page's kinds that are points or lines
#: (forest is the review)
BASE_KINDS = ("boundaries", *(k for k in map_kinds("fire") if spec(k).geometry[0] in ("Point", "LineString")))


def fire_map(layers: dict, lang: str, *, hillshade: Overlay | None = None, height: int = 640, places=None,
             focus: str | None = None, focus_outline: tuple[str, object] | None = None,
             base: tuple[dict, dict, dict] | None = None, **parts) -> folium.Map:
    """The Fire page map: the base layers (boundaries, roads, rivers, sources, cameras, graves; an overview
    above the detail budget, or the ``focus`` township in full) under the review's :func:`fire_groups`
    (``parts``: risk, day, day_label, seen, reach, gaps, sites); ``focus_outline`` (name, polygon) is
    outlined and zoomed to. ``base`` is ``(layers, payloads, images)`` of the base layers when the caller
    keeps them (the page takes them from :func:`ui.state.map_parts`, made once per revision)."""
    from ui.map_view import build_map, plan_map

    if base is None:
        mp = plan_map({k: layers[k] for k in BASE_KINDS if k in layers}, focus=focus)
        planned, payloads, images, simplify_m = mp.layers, None, mp.images, mp.simplify_m
    else:
        (planned, payloads, images), simplify_m = base, 5.0   # payloads made: simplify_m is not used
    return build_map(planned, lang=lang, hillshade=hillshade, images=images, payloads=payloads,
                     simplify_m=simplify_m, extra=fire_groups(lang, **parts), height=height,
                     show={"roads", "water_sources", "cameras", "boundaries:county", "boundaries:township"},
                     places=places, focus_outline=focus_outline)
