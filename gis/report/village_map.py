"""The printable village flood situation map (村级防汛形势图), A4, PNG or PDF, one village or all.

:func:`village_map` draws one village's map on an A4 page with matplotlib: the danger zone (a
depth raster in a sequential blue ramp by depth class, default 0.5 / 1.5 / 3.0 m, or danger-zone
polygons), the township and village boundaries when given, the village's transfer grids outlined and
labelled, the route of each grid to its
shelter(s) with an arrow head at the shelter, the shelters with name and capacity (unusable ones
crossed out with the reason), roads, rivers and a hillshade when given, a legend, a metric scale
bar, a north arrow, and below the map a table of each grid's responsible person, phone,
households, people, vulnerable people and shelter. Page orientation follows the village's shape.
The map is drawn in the metric CRS of :func:`layers.crs.metric_crs` (CGCS2000 3-degree
Gauss-Kruger), so the scale bar is exact and grid north is within a degree of true north.

:func:`village_maps_batch` makes one page per at-risk village: a multi-page PDF, or a zip of PNGs.

Chinese text needs a CJK font. :func:`cjk_font` looks for one among the installed fonts (Noto Sans
CJK SC from Debian's ``fonts-noto-cjk``, Source Han Sans, WenQuanYi, SimHei, Microsoft YaHei,
PingFang SC...); a font file can also be named with the environment variable ``GIS_CJK_FONT``;
failing those, the Noto Sans CJK SC that the pinned ``mplfonts`` requirement ships is used.
Without any the map falls back to DejaVu Sans (Chinese characters then print as boxes) and says
so on the page.

Input ("tables"): an object with attributes, or a mapping, holding ``grids``, ``assignments``,
``shelters`` and ``summary`` (see :func:`village_figure`).
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import os
import pickle
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pyproj
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from shapely.geometry import LineString, MultiLineString

from gis.report.a4 import (
    A4_INCHES,
    HALO,
    PAGE_WORDS,
    cjk_font,
    clip,
    crs_words,
    finish_map,
    font_rc,
    furniture_boxes,
    map_page,
    method_words,
    place_labels,
    text_width_in,
    to_crs,
    warp,
    wrap,
)
from gis.report.tables import in_language, table_part, truthy
from layers.crs import metric_crs
from layers.errors import AnalysisRefused, problem
from layers.raster import Raster
from layers.settings import STORAGE_CRS
from layers.text import SEMICOLON, Text, registry, written_in

__all__ = ["at_risk_villages", "village_figure", "village_map", "village_maps_batch", "DEPTH_THRESHOLDS"]

#: default depth class limits in metres
DEPTH_THRESHOLDS = (0.5, 1.5, 3.0)
#: route kind -> (colour, line style): road solid blue, walk dotted green, straight-line estimate dashed orange
_ROUTE_STYLE = {"road": ("#1f5fbf", "-"), "walk": ("#1b8a3a", (0, (1, 2))), "line": ("#ff7f0e", (0, (5, 3)))}


_T: dict[str, Text] = PAGE_WORDS | registry({
    "title": ("{v}防汛形势图", "{v} flood situation map"),
    "scenario": ("方案：{s}", "Scenario: {s}"),
    "method": ("致灾方法：{s}", "Hazard: {s}"),
    "tally": ("需转移 {g} 个网格 {h} 户 {p} 人（老弱病残 {vu} 人），已安置 {pl} 人，未安置 {un} 人",
              "To evacuate: grids {g}, households {h}, people {p} ({vu} vulnerable); placed {pl}, not placed {un}"),
    "synthetic": ("演示数据为合成数据", "Demo data are synthetic"),
    "m": ("米", "m"),
    "depth": ("淹没水深", "Flood depth"),
    "zone": ("危险区", "Danger zone"),
    "grid_evac": ("需转移网格", "Grid to evacuate"),
    "grid_other": ("网格（无需转移）", "Grid (stays)"),
    "route_road": ("转移路线（道路，含步行段）", "Route (road, with walks)"),
    "route_walk": ("转移路线（步行，按地形）", "Route (on foot, over the terrain)"),
    "route_line": ("转移方向（直线估算）", "Direction (straight line)"),
    "shelter": ("安置场所", "Shelter"),
    "shelter_bad": ("不可用安置场所", "Unusable shelter"),
    "road": ("道路", "Road"), "river": ("河流", "River"),
    "cap": ("容纳{c}人", "capacity {c}"),
    "bad": ("（不可用）", "(unusable)"),
    "bad_reason": ("（不可用：{r}）", "(unusable: {r})"),
    "more": ("……另有 {n} 个网格，详见转移计划表", "... {n} more grids: see the plan workbook"),
    "unplaced": ("未安置", "not placed"),
    "stays": ("无需转移", "stays"),
    "people_n": ("{n}人", "{n}"),
    "homes_wet": ("居住点进水 {s}", "homes wet {s}"),
    "area_flooded": ("淹没面积 {s}", "area flooded {s}"),
    "novillage": ("没有村“{v}”的网格", "no grids for village '{v}'"),
    "novillage_fix": ("核对村名，或先导入该村的转移避险网格", "check the village name, or import the village's grids"),
})
#: the columns of the printed table (short: the A4 page is narrow)
_COLS: tuple[Text, ...] = tuple(Text(zh, en, f"col_{i}") for i, (zh, en) in enumerate((
    ("序号", "No."), ("网格编号", "Grid ID"), ("网格名称", "Grid"), ("责任人", "Responsible"), ("联系电话", "Phone"),
    ("户数", "HH"), ("人数", "People"), ("老弱病残", "Vuln."), ("转移原因", "Why"), ("安置场所", "Shelter"),
    ("距离（公里）", "km"))))


#: legend of the boundaries layer's outlines
_BOUNDARY_LINES = {"township": Text("乡镇界", "Township boundary", "township_boundary"),
                   "village": Text("村界", "Village boundary", "village_boundary")}


def _t(key: str, lang: str, **kw: Any) -> str:
    v = _T[key]
    return (v.format(**kw) if kw else v)(lang)


# ---- fonts -------------------------------------------------------------------------------------


# ---- selection ---------------------------------------------------------------------------------


def at_risk_villages(tables: Any) -> list[str]:
    """Villages with at least one grid to evacuate, ordered by township then village.

    Uses ``grids`` columns village, township, evacuate (all grids count when it is missing).
    """
    grids = table_part(tables, "grids")
    if grids is None or not len(grids) or "village" not in grids:
        return []
    g = grids[grids["evacuate"].map(truthy)] if "evacuate" in grids else grids
    g = g[g["village"].notna()]
    town = g["township"].fillna("").astype(str) if "township" in g else pd.Series("", index=g.index)
    pairs = sorted(set(zip(town, g["village"].astype(str))))
    return list(dict.fromkeys(v for _, v in pairs))


# ---- rasters -----------------------------------------------------------------------------------


def _depth_colours(n: int) -> list:
    return list(matplotlib.colormaps["Blues"](np.linspace(0.3, 0.95, n)))


def _class_labels(thresholds: Sequence[float], lang: str) -> list[str]:
    u = _t("m", lang)
    t = list(thresholds)
    out = [f"< {t[0]:g} {u}"]
    out += [f"{a:g}–{b:g} {u}" for a, b in zip(t[:-1], t[1:])]
    out.append(f"≥ {t[-1]:g} {u}")
    return out


# ---- drawing helpers ---------------------------------------------------------------------------


def _fmt_int(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    return "" if not math.isfinite(f) else f"{f:,.0f}"


#: footer text size (points) and line height (inches)
FOOT_FS, FOOT_LINE = 7.0, 0.15


def _layout(extent_aspect: float, n_rows: int, footer: list[str], stamp: bool) -> dict:
    """Page size and axes rectangles (figure fractions) for the orientation that suits the map.

    The footer (``footer``: its words, wrapped to the page width here) and the stamp line get the
    height they need at the bottom of the page, so nothing runs off the page or under the stamp.
    """
    best: dict | None = None
    for orient, (W, H) in (("portrait", A4_INCHES), ("landscape", A4_INCHES[::-1])):
        max_rows = 16 if orient == "portrait" else 8
        rows = min(n_rows, max_rows) + 1 + (1 if n_rows > max_rows else 0)
        margin, title_h, gap = 0.4, 0.95, 0.15
        map_w = W - 2 * margin
        lines = [ln for part in footer for ln in wrap(part, map_w, FOOT_FS)]
        footer_h = FOOT_LINE * (len(lines) + (1.3 if stamp else 0)) + 0.12
        table_h = 0.19 * rows + 0.05
        map_h = H - 2 * margin - title_h - footer_h - table_h - gap
        box_aspect = map_w / map_h
        score = abs(math.log(max(extent_aspect, 1e-6) / box_aspect))
        lay = {"orient": orient, "size": (W, H), "max_rows": max_rows, "box_aspect": box_aspect,
               "map": [margin / W, (margin + footer_h + table_h + gap) / H, map_w / W, map_h / H],
               "table": [margin / W, (margin + footer_h) / H, map_w / W, table_h / H],
               "title_y": 1 - (margin + 0.15) / H, "sub_y": 1 - (margin + 0.55) / H,
               "sub2_y": 1 - (margin + 0.78) / H, "map_w_in": map_w, "score": score, "footer": lines,
               "foot_top_y": (margin + footer_h - 0.06) / H, "line_h": FOOT_LINE / H, "stamp_y": margin / H}
        if best is None or score < best["score"] - 1e-9:
            best = lay
    assert best is not None  # both orientations were scored
    return best


# ---- the figure --------------------------------------------------------------------------------

def village_figure(village_name: str, tables: Any, *, hazard: Raster | gpd.GeoDataFrame | None = None,
                   dem_hillshade: Raster | None = None, roads: gpd.GeoDataFrame | None = None,
                   rivers: gpd.GeoDataFrame | None = None, date: str | _dt.date | None = None,
                   scenario: str | None = None, township: str | None = None, synthetic: bool = False,
                   thresholds: Sequence[float] = DEPTH_THRESHOLDS, lang: str = "zh",
                   boundaries: gpd.GeoDataFrame | None = None) -> Figure:
    """The village situation map as a matplotlib :class:`~matplotlib.figure.Figure` (A4).

    Parameters
    ----------
    village_name : str
        Value of the grids' ``village`` column (the title reads ``{village_name}防汛形势图``).
    tables : object or mapping
        ``grids`` (grid_id, name, township, village, responsible, phone, households, population,
        vulnerable, evacuate, geometry), ``assignments`` (grid_id, shelter_id, people, distance_km,
        method, geometry: the route line), ``shelters`` (shelter_id, name, capacity, usable, reason,
        geometry) and ``summary`` (``scenario``/``scenario_name``, ``hazard_method``,
        ``method_note``: all optional).
    hazard : Raster or GeoDataFrame, optional
        Depth raster in metres (NaN or <= 0 dry), drawn by depth class; or danger-zone polygons,
        coloured by class when they have a numeric ``depth`` column.
    dem_hillshade : Raster, optional
        Shaded relief as uint8 (``gis.terrain.hillshade``; 0 = nodata), or a float DEM, which is
        shaded here.
    roads, rivers : GeoDataFrame, optional
        Drawn where they fall inside the map.
    boundaries : GeoDataFrame, optional
        The boundaries layer: township and village outlines drawn where they fall inside the map
        (the village's own in bold).
    date : str or date, optional
        Printed date; default today.
    scenario : str, optional
        Scenario name; default from the summary.
    township : str, optional
        Restrict to this township (when two townships have villages of the same name).
    synthetic : bool
        Print "演示数据为合成数据" (demo data are synthetic).
    thresholds : sequence of float
        Depth class limits in metres (increasing).
    lang : {'zh', 'en'}
        Language of the page's text.

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot (nothing to close); portrait or landscape by the village's shape.

    Raises
    ------
    AnalysisRefused
        When no grid has that village name (a ``ValueError``).
    """
    with font_rc():
        return _draw(village_name, tables, hazard=hazard, dem_hillshade=dem_hillshade, roads=roads,
                     rivers=rivers, date=date, scenario=scenario, township=township, synthetic=synthetic,
                     thresholds=tuple(float(t) for t in thresholds), lang=lang, boundaries=boundaries)


def _no_village(village_name: str) -> None:
    """Refuse a village the plan has no grids for (an :class:`~layers.errors.AnalysisRefused`, a ValueError)."""
    raise AnalysisRefused(problem(_t("novillage", "zh", v=village_name), _t("novillage", "en", v=village_name),
                                  _t("novillage_fix", "zh"), _t("novillage_fix", "en")))


def _draw(village_name, tables, *, hazard, dem_hillshade, roads, rivers, date, scenario, township, synthetic,
          thresholds, lang, boundaries=None) -> Figure:
    grids_all = table_part(tables, "grids")
    if grids_all is None or not len(grids_all) or "village" not in grids_all:
        _no_village(village_name)
    sel_mask = grids_all["village"].astype(str) == str(village_name)
    if township is not None and "township" in grids_all:
        sel_mask &= grids_all["township"].astype(str) == str(township)
    sel = grids_all[sel_mask].copy()
    if not len(sel):
        _no_village(village_name)
    sel["grid_id"] = sel["grid_id"].astype(str)
    asg = table_part(tables, "assignments")
    shelters = table_part(tables, "shelters")
    summary = dict(table_part(tables, "summary") or {})
    ids = set(sel["grid_id"])
    if asg is not None and len(asg):
        asg = asg.assign(grid_id=asg["grid_id"].astype(str), shelter_id=asg["shelter_id"].astype(str))
        routes = asg[asg["grid_id"].isin(ids)]
    else:
        routes = None
    if shelters is not None and len(shelters):
        shelters = shelters.assign(shelter_id=shelters["shelter_id"].astype(str))
    used_ids = set(routes["shelter_id"]) if routes is not None else set()

    # extent: the village's grids, their routes and shelters, in lon/lat then metric
    parts = [sel.geometry if sel.crs is None else sel.to_crs(STORAGE_CRS).geometry]
    if routes is not None and len(routes) and isinstance(routes, gpd.GeoDataFrame):
        parts.append(to_crs(routes, pyproj.CRS.from_user_input(STORAGE_CRS)).geometry)
    if shelters is not None and len(shelters) and used_ids:
        parts.append(to_crs(shelters[shelters["shelter_id"].isin(used_ids)],
                             pyproj.CRS.from_user_input(STORAGE_CRS)).geometry)
    ll = gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=STORAGE_CRS)
    mcrs = metric_crs(tuple(ll.total_bounds))
    x0, y0, x1, y1 = ll.to_crs(mcrs).total_bounds
    pad = max(0.08 * max(x1 - x0, y1 - y0), 150.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    n_rows = len(sel)
    method, note = method_words(summary.get("hazard_method") or summary.get("method"), lang)
    given = str(in_language(summary, "method_note", lang) or summary.get("screening_note") or "")
    if given and not note and written_in(given, lang):   # a note in the page's language
        note = given
    footer = [_t("crs", lang, c=crs_words(mcrs, lang)), *([note] if note else [])]
    stamp = [_t("synthetic", lang)] if synthetic or summary.get("synthetic") else []
    if cjk_font() is None:
        stamp.append(_t("nofont", "en"))   # in English: the Chinese would not show without the font
    lay = _layout((x1 - x0) / (y1 - y0), n_rows, footer, bool(stamp))
    fig, ax, extent = map_page((x0, y0, x1, y1), lay, dpi=150)
    img_extent = (extent[0], extent[2], extent[1], extent[3])
    legend: list = []

    # hillshade
    if dem_hillshade is not None:
        arr = dem_hillshade.array
        if arr.dtype == np.uint8:
            shade = warp(dem_hillshade, extent, mcrs, width=900, resampling="bilinear")
            if shade is not None:
                shade[shade <= 0] = np.nan
        else:
            dem = warp(dem_hillshade, extent, mcrs, width=900, resampling="bilinear")
            shade = None
            if dem is not None and np.isfinite(dem).any():
                from affine import Affine

                from gis.terrain import hillshade
                res = (extent[2] - extent[0]) / dem.shape[1]
                r = Raster(dem, Affine(res, 0, extent[0], 0, -res, extent[3]), mcrs, None)
                shade = hillshade(r).astype("float32")
                shade[shade <= 0] = np.nan
        if shade is not None:
            ax.imshow(shade, extent=img_extent, cmap="gray", vmin=0, vmax=255, alpha=0.45, zorder=1,
                      interpolation="bilinear")

    # danger zone
    colours = _depth_colours(len(thresholds) + 1)
    labels = _class_labels(thresholds, lang)
    if isinstance(hazard, Raster):
        depth = warp(hazard, extent, mcrs, width=1000, resampling="max")
        if depth is not None:
            depth = np.where(depth > 0, depth, np.nan)
            if np.isfinite(depth).any():
                bounds = [1e-9, *thresholds, np.inf]
                ax.imshow(np.ma.masked_invalid(depth), extent=img_extent, cmap=ListedColormap(colours),
                          norm=BoundaryNorm(bounds, len(colours)), alpha=0.75, zorder=2, interpolation="nearest")
                present = [np.any((depth >= a) & (depth < b)) for a, b in zip(bounds[:-1], bounds[1:])]
                legend += [Patch(facecolor=c, alpha=0.75, label=f"{_t('depth', lang)} {lab}")
                           for c, lab, p in zip(colours, labels, present) if p]
    elif isinstance(hazard, gpd.GeoDataFrame):
        zone = clip(hazard, extent, mcrs)
        if zone is not None:
            if "depth" in zone and pd.to_numeric(zone["depth"], errors="coerce").notna().any():
                d = pd.to_numeric(zone["depth"], errors="coerce").fillna(0).to_numpy()
                cls = np.searchsorted(np.asarray(thresholds), d, side="right")
                for k in sorted(set(cls)):
                    zone[cls == k].plot(ax=ax, facecolor=colours[k], edgecolor=colours[-1], linewidth=0.5,
                                        alpha=0.55, zorder=2)
                    legend.append(Patch(facecolor=colours[k], alpha=0.55, label=f"{_t('depth', lang)} {labels[k]}"))
            else:
                zone.plot(ax=ax, facecolor=colours[1], edgecolor=colours[-1], linewidth=0.6, alpha=0.6, zorder=2)
                legend.append(Patch(facecolor=colours[1], alpha=0.6, label=_t("zone", lang)))

    # rivers and roads
    riv = clip(rivers, extent, mcrs)
    if riv is not None:
        poly = riv.geom_type.isin(["Polygon", "MultiPolygon"])
        if poly.any():
            riv[poly].plot(ax=ax, facecolor="#9ecae1", edgecolor="#4292c6", linewidth=0.5, zorder=3)
        if (~poly).any():
            riv[~poly].plot(ax=ax, color="#4292c6", linewidth=1.4, zorder=3)
        legend.append(Line2D([], [], color="#4292c6", lw=1.4, label=_t("river", lang)))
    rd = clip(roads, extent, mcrs)
    if rd is not None:
        rd.plot(ax=ax, color="#8c6d46", linewidth=1.0, zorder=4)
        legend.append(Line2D([], [], color="#8c6d46", lw=1.0, label=_t("road", lang)))

    # township and village boundaries (the boundaries layer), the village's own in bold
    bnd = clip(boundaries, extent, mcrs)
    if bnd is not None and "level" in bnd:
        for level, colour, lw, ls in (("township", "#6a1b9a", 1.3, "-."), ("village", "#8e7cc3", 0.8, "--")):
            part = bnd[bnd["level"].astype(str) == level]
            if not len(part):
                continue
            own = part["name"].astype(str) == str(village_name) if level == "village" and "name" in part \
                else pd.Series(False, index=part.index)
            part.boundary.plot(ax=ax, color=colour, linewidth=lw, linestyle=ls, zorder=4.5)
            if own.any():
                part[own].boundary.plot(ax=ax, color=colour, linewidth=2.2, linestyle=ls, zorder=4.6)
            legend.append(Line2D([], [], color=colour, lw=lw, ls=ls, label=_BOUNDARY_LINES[level](lang)))

    # grids: neighbours faint, the village's own outlined and labelled
    others = clip(grids_all[~sel_mask], extent, mcrs)
    if others is not None:
        others.plot(ax=ax, facecolor="none", edgecolor="#b0b0b0", linewidth=0.5, zorder=5)
    selm = to_crs(sel, mcrs)
    evac = selm["evacuate"].map(truthy) if "evacuate" in selm else pd.Series(True, index=selm.index)
    if evac.any():
        selm[evac].plot(ax=ax, facecolor=(0.9, 0.1, 0.1, 0.06), edgecolor="#d62728", linewidth=1.6,
                        linestyle="--", zorder=6)
        legend.append(Patch(facecolor=(0.9, 0.1, 0.1, 0.06), edgecolor="#d62728", linestyle="--", lw=1.6,
                            label=_t("grid_evac", lang)))
    if (~evac).any():
        selm[~evac].plot(ax=ax, facecolor="none", edgecolor="#555555", linewidth=1.0, zorder=6)
        legend.append(Patch(facecolor="none", edgecolor="#555555", lw=1.0, label=_t("grid_other", lang)))
    # grids labelled by their number in the table below (names would collide at village scale)
    plan = _village_rows(sel, routes, shelters, evac.to_numpy(), lang)
    number = {r["grid_id"]: r["no"] for r in plan}
    for _, g in selm.iterrows():
        if g.geometry is None or g.geometry.is_empty:
            continue
        p = g.geometry.representative_point()
        ax.text(p.x, p.y, str(number.get(g["grid_id"], "")), ha="center", va="center", fontsize=7,
                fontweight="bold", color="#8b0000", zorder=12, clip_on=True,
                bbox=dict(boxstyle="circle,pad=0.25", facecolor="white", edgecolor="#d62728", lw=0.8))

    # routes with arrow heads at the shelter
    shel_m = to_crs(shelters, mcrs) if shelters is not None and len(shelters) else None
    span = extent[2] - extent[0]
    kinds = set()
    if routes is not None and len(routes):
        rm = to_crs(routes, mcrs) if isinstance(routes, gpd.GeoDataFrame) else None
        centre = dict(zip(selm["grid_id"], selm.geometry.representative_point()))
        spoint = dict(zip(shel_m["shelter_id"], shel_m.geometry.representative_point())) if shel_m is not None \
            else {}
        for i, (_, a) in enumerate(routes.iterrows()):
            line = rm.geometry.iloc[i] if rm is not None else None
            if line is None or line.is_empty or line.geom_type not in ("LineString", "MultiLineString"):
                s, c = spoint.get(a["shelter_id"]), centre.get(a["grid_id"])
                if s is None or c is None:
                    continue
                line = LineString([c, s])
            if line.geom_type == "MultiLineString":
                from shapely.ops import linemerge
                line = linemerge(cast(MultiLineString, line))
                if line.geom_type == "MultiLineString":
                    line = max(line.geoms, key=lambda g: g.length)
            kind = {"road": "road", "walk": "walk"}.get(str(a.get("method", "road")), "line")
            kinds.add(kind)
            colour, style = _ROUTE_STYLE[kind]
            xs, ys = line.xy
            ax.plot(xs, ys, color=colour, lw=2.0, ls=style, zorder=8, solid_capstyle="round")
            L = line.length
            if L > 0:
                head = min(0.04 * span, 0.5 * L)
                tail = line.interpolate(L - head)
                end = line.interpolate(L)
                ax.annotate("", xy=(end.x, end.y), xytext=(tail.x, tail.y),
                            arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.0, mutation_scale=16), zorder=9)
                if 0.15 * span < L:   # a second arrow mid-way on long routes
                    m0, m1 = line.interpolate(0.5 * L - 0.5 * head), line.interpolate(0.5 * L + 0.5 * head)
                    ax.annotate("", xy=(m1.x, m1.y), xytext=(m0.x, m0.y),
                                arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.5, mutation_scale=12),
                                zorder=9)
    for kind, key in (("road", "route_road"), ("walk", "route_walk"), ("line", "route_line")):
        if kind in kinds:
            colour, style = _ROUTE_STYLE[kind]
            legend.append(Line2D([], [], color=colour, lw=2.0, ls=style, marker=">", markersize=6, label=_t(key, lang)))

    # shelters: the ones used, and any other shelter on the map; labels placed once the furniture is drawn
    shelter_labels: list[dict] = []
    if shel_m is not None:
        on_map = shel_m.cx[extent[0]:extent[2], extent[1]:extent[3]]
        usable = on_map["usable"].map(truthy) if "usable" in on_map else pd.Series(True, index=on_map.index)
        drawn_ok = drawn_bad = False
        used_first = sorted(zip(on_map.iterrows(), usable), key=lambda r: str(r[0][1]["shelter_id"]) not in used_ids)
        for (_, s), ok in used_first:
            p = s.geometry.representative_point()
            name = str(s.get("name") or s["shelter_id"])
            if ok:
                ax.scatter([p.x], [p.y], marker="^", s=150, c="#2ca02c", edgecolors="black", linewidths=0.8,
                           zorder=14)
                cap = _fmt_int(s.get("capacity"))
                texts = [f"{name}\n{_t('cap', lang, c=cap)}", name] if cap else [name]
                drawn_ok = True
            else:
                ax.scatter([p.x], [p.y], marker="X", s=110, c="#7f7f7f", edgecolors="black", linewidths=0.6,
                           zorder=14)
                reason = str(s.get(f"reason_{lang}") if f"reason_{lang}" in s else s.get("reason") or "").strip()
                aside = _t("bad_reason", lang, r=reason) if reason else _t("bad", lang)
                texts = [f"{name}\n{aside}", name]
                drawn_bad = True
            shelter_labels.append({"x": p.x, "y": p.y, "texts": texts,
                           "kw": dict(fontsize=8, fontweight="bold" if ok else "normal",
                                      color="#145a14" if ok else "#555555", zorder=15, path_effects=HALO)})
        if drawn_ok:
            legend.append(Line2D([], [], marker="^", ls="", markersize=9, markerfacecolor="#2ca02c",
                                 markeredgecolor="black", label=_t("shelter", lang)))
        if drawn_bad:
            legend.append(Line2D([], [], marker="X", ls="", markersize=8, markerfacecolor="#7f7f7f",
                                 markeredgecolor="black", label=_t("shelter_bad", lang)))

    finish_map(ax, legend, extent, lang, lay["map_w_in"])
    place_labels(ax, shelter_labels, obstacles=furniture_boxes(ax))

    # title block
    summary_scen = scenario or summary.get("scenario") or summary.get("scenario_name")
    if isinstance(date, (_dt.date, _dt.datetime)):
        date = date.isoformat()[:10]
    date = date or _dt.date.today().isoformat()
    town = township or (str(sel["township"].dropna().iloc[0]) if "township" in sel and sel["township"].notna().any()
                        else "")
    # the English title names the township too; the Chinese subtitle starts with it
    title = _t("title", lang, v=Text(village_name, f"{town} {village_name}".strip())(lang))
    title_fs = 20.0
    while title_fs > 10 and text_width_in(title, title_fs) * 1.1 > lay["map_w_in"]:   # a long name: smaller type
        title_fs -= 1
    fig.text(0.5, lay["title_y"], title, ha="center", va="top", fontsize=title_fs, fontweight="bold")
    sub = [w for w in (Text(town, "")(lang),) if w]
    if summary_scen:
        sub.append(_t("scenario", lang, s=summary_scen))
    if method:
        sub.append(_t("method", lang, s=method))
    sub.append(_t("date", lang, s=date))
    fig.text(0.5, lay["sub_y"], "    ".join(sub), ha="center", va="top", fontsize=10)
    ev = sel[evac.values] if len(sel) else sel
    pop = pd.to_numeric(ev.get("population"), errors="coerce").fillna(0).sum() if "population" in ev else 0
    placed = float(pd.to_numeric(routes["people"], errors="coerce").fillna(0).sum()) \
        if routes is not None and "people" in routes else 0.0
    fig.text(0.5, lay["sub2_y"], _t("tally", lang, g=int(evac.sum()),
                                    h=_fmt_int(pd.to_numeric(ev.get("households"), errors="coerce").sum())
                                    if "households" in ev else "—",
                                    p=_fmt_int(pop), vu=_fmt_int(pd.to_numeric(ev.get("vulnerable"),
                                                                              errors="coerce").sum())
                                    if "vulnerable" in ev else "—",
                                    pl=_fmt_int(placed), un=_fmt_int(max(0.0, pop - placed))),
             ha="center", va="top", fontsize=9, color="#333333")

    # responsible persons table
    tax = fig.add_axes(lay["table"])
    tax.axis("off")
    cols = [c(lang) for c in _COLS]
    body = plan[:lay["max_rows"]]
    cells = [[str(r["no"]), r["grid_id"], r["name"], r["responsible"], r["phone"], r["households"], r["people"],
              r["vulnerable"], r["why"], r["shelter"], r["distance"]] for r in body]
    if cells:
        # column widths from the text (CJK counts double); the font shrinks until the row fits the page
        units = np.array([max([_tw(c) for c in col] + [_tw(h)]) for h, col in zip(cols, zip(*cells))], float)
        table_w_in = lay["table"][2] * lay["size"][0]
        fs = 7.5
        while fs > 5 and (units.sum() * 0.5 * fs / 72 + 0.1 * len(units)) > table_w_in:
            fs -= 0.25
        cells, units = _fit_widest(cells, units, table_w_in, fs)
        need = units * 0.5 * fs / 72 + 0.1
        table = tax.table(cellText=cells, colLabels=cols, colWidths=list(need / need.sum()), loc="upper center",
                          cellLoc="center", bbox=[0, 0, 1, 1])  # type: ignore[arg-type]  # stubs: a [l, b, w, h] list is accepted too
        table.auto_set_font_size(False)
        table.set_fontsize(fs)
        for (row, col), cell in table.get_celld().items():
            cell.set_linewidth(0.5)
            cell.PAD = 0.02
            if row == 0:
                cell.set_facecolor("#dde8f5")
                cell.get_text().set_fontweight("bold")
            elif not body[row - 1]["evacuate"]:
                cell.get_text().set_color("#777777")
            elif col == 9 and not body[row - 1]["placed"]:
                cell.get_text().set_color("#c00000")
    if len(plan) > lay["max_rows"]:
        fig.text(lay["table"][0], lay["table"][1] - 0.004, _t("more", lang, n=len(plan) - lay["max_rows"]),
                 ha="left", va="top", fontsize=7, color="#c00000")

    # footer: the CRS and the method note, wrapped to the page; the stamp on a line of its own below them
    x_left = lay["map"][0]
    for i, line in enumerate(lay["footer"]):
        fig.text(x_left, lay["foot_top_y"] - i * lay["line_h"], line, ha="left", va="top", fontsize=FOOT_FS,
                 color="#444444")
    if stamp:
        fig.text(1 - x_left, lay["stamp_y"], "    ".join(stamp), ha="right", va="bottom", fontsize=8,
                 color="#c00000", fontweight="bold")
    return fig


def _fit_widest(cells: list[list[str]], units: np.ndarray, width_in: float,
                fs: float) -> tuple[list[list[str]], np.ndarray]:
    """Cut the widest column's texts (ending them in "…") when the table at font size ``fs`` is wider than
    ``width_in`` inches; the full texts are in the plan workbook."""
    over = units.sum() * 0.5 * fs / 72 + 0.1 * len(units) - width_in
    if over <= 0:
        return cells, units
    k = int(np.argmax(units))
    keep = max(6, int(units[k] - np.ceil(over * 72 / (0.5 * fs))) - 1)
    out = [list(r) for r in cells]
    for r in out:
        if _tw(r[k]) > keep:
            cut, w = "", 0
            for ch in r[k]:
                w += _tw(ch)
                if w > keep - 1:
                    break
                cut += ch
            r[k] = cut + "…"
    units = units.copy()
    units[k] = keep
    return out, units


def _tw(v: Any) -> int:
    s = "" if v is None else str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _short_reason(g: pd.Series, lang: str) -> str:
    """Why a grid moves, short enough for the table: "居住点进水 62%" / "homes wet 62%", or the flooded area's share."""
    if not truthy(g.get("evacuate", True)):
        return ""
    basis = g.get("rule_basis")
    share = g.get("homes_wet_share") if basis == "homes" else g.get("flooded_share")
    if share is None:
        return ""
    try:
        share = float(share)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(share):
        return ""
    if basis == "homes":
        return _t("homes_wet", lang, s=f"{share:.0%}")
    return _t("area_flooded", lang, s=f"{share:.0%}")


def _village_rows(sel: gpd.GeoDataFrame, routes: pd.DataFrame | None, shelters: pd.DataFrame | None,
                  evac: np.ndarray, lang: str) -> list[dict]:
    """One table row per grid of the village, grids to evacuate first: shelters (with people when split),
    longest distance, and the row number ``no`` used as the grid's label on the map."""
    name_of = dict(zip(shelters["shelter_id"], shelters["name"].astype(str))) \
        if shelters is not None and len(shelters) and "name" in shelters else {}
    by_grid: dict[str, list] = {}
    if routes is not None and len(routes):
        for _, a in routes.iterrows():
            by_grid.setdefault(a["grid_id"], []).append(a)
    rows = []
    order = sel.assign(_evac=evac).sort_values(["_evac", "grid_id"], ascending=[False, True],
                                               key=lambda s: s.astype(str) if s.name == "grid_id" else s)
    for no, (_, g) in enumerate(order.iterrows(), start=1):
        parts = by_grid.get(g["grid_id"], [])
        sep = SEMICOLON(lang)
        placed = float(pd.to_numeric(pd.Series([a.get("people") for a in parts]), errors="coerce").sum())
        pop = pd.to_numeric(pd.Series([g.get("population")]), errors="coerce").fillna(0).iloc[0]
        if not g["_evac"]:
            shelter = _t("stays", lang)
        elif len(parts) > 1:
            shelter = sep.join(f"{name_of.get(a['shelter_id'], a['shelter_id'])} "
                               f"{_t('people_n', lang, n=_fmt_int(a.get('people')))}" for a in parts)
        elif parts:
            shelter = name_of.get(parts[0]["shelter_id"], parts[0]["shelter_id"])
        else:
            shelter = _t("unplaced", lang)
        if g["_evac"] and parts and pop - placed > 0.5:
            shelter += f"{sep}{_t('unplaced', lang)} {_t('people_n', lang, n=_fmt_int(pop - placed))}"
        dist = pd.to_numeric(pd.Series([a.get("distance_km") for a in parts]), errors="coerce").max() if parts \
            else np.nan
        why = _short_reason(g, lang)
        rows.append({"no": no, "evacuate": bool(g["_evac"]), "placed": bool(parts), "grid_id": g["grid_id"],
                     "why": "" if why is None or (isinstance(why, float) and np.isnan(why)) else str(why),
                     "name": "" if pd.isna(g.get("name")) else str(g.get("name")),
                     "responsible": "" if pd.isna(g.get("responsible")) else str(g.get("responsible")),
                     "phone": "" if pd.isna(g.get("phone")) else str(g.get("phone")),
                     "households": _fmt_int(g.get("households")), "people": _fmt_int(g.get("population")),
                     "vulnerable": _fmt_int(g.get("vulnerable")), "shelter": shelter,
                     "distance": "" if not np.isfinite(dist) else f"{dist:.1f}"})
    return rows


# ---- output ------------------------------------------------------------------------------------

def _render(fig: Figure, fmt: str, dpi: int) -> bytes:
    buf = io.BytesIO()
    with font_rc():
        if fmt == "pdf":
            fig.savefig(buf, format="pdf", metadata={"Creator": "gis.report.village_map", "CreationDate": None})
        else:
            fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": "gis.report.village_map"})
    return buf.getvalue()


def village_map(village_name: str, tables: Any, *, hazard: Raster | gpd.GeoDataFrame | None = None,
                dem_hillshade: Raster | None = None, roads: gpd.GeoDataFrame | None = None,
                rivers: gpd.GeoDataFrame | None = None, date: str | _dt.date | None = None, fmt: str = "png",
                dpi: int = 150, scenario: str | None = None, township: str | None = None, synthetic: bool = False,
                thresholds: Sequence[float] = DEPTH_THRESHOLDS, lang: str = "zh",
                boundaries: gpd.GeoDataFrame | None = None) -> bytes:
    """The village situation map (村级防汛形势图) as an A4 PNG or PDF.

    Parameters
    ----------
    village_name, tables, hazard, dem_hillshade, roads, rivers, date, scenario, township, synthetic, thresholds, lang
    boundaries
        As for :func:`village_figure`.
    fmt : {'png', 'pdf'}
        Output format.
    dpi : int
        PNG resolution (150 gives 1240 x 1754 pixels, portrait, or 1754 x 1240 landscape).

    Returns
    -------
    bytes
        The PNG or PDF file.

    Raises
    ------
    ValueError
        Unknown format, or no grid has that village name (:class:`~layers.errors.AnalysisRefused`).
    """
    if fmt not in ("png", "pdf"):
        raise ValueError(f"fmt must be 'png' or 'pdf', not {fmt!r}")
    fig = village_figure(village_name, tables, hazard=hazard, dem_hillshade=dem_hillshade, roads=roads,
                         rivers=rivers, date=date, scenario=scenario, township=township, synthetic=synthetic,
                         thresholds=thresholds, lang=lang, boundaries=boundaries)
    return _render(fig, fmt, dpi)


def _pages(tables: Any, names: Sequence[str]) -> list[tuple[str, str | None]]:
    """(village, township) per page: a village name used in two townships gets a page in each."""
    grids = table_part(tables, "grids")
    out: list[tuple[str, str | None]] = []
    for v in names:
        towns: list = []
        if grids is not None and "township" in grids and "village" in grids:
            g = grids[grids["village"].astype(str) == str(v)]
            if "evacuate" in g and g["evacuate"].map(truthy).any():
                g = g[g["evacuate"].map(truthy)]
            towns = sorted(set(g["township"].dropna().astype(str)))
        out += [(v, t) for t in towns] if len(towns) > 1 else [(v, None)]
    return out


def village_maps_batch(tables: Any, villages: Sequence[str] | None = None, *, fmt: str = "pdf", dpi: int = 150,
                       hazard: Raster | gpd.GeoDataFrame | None = None, dem_hillshade: Raster | None = None,
                       roads: gpd.GeoDataFrame | None = None, rivers: gpd.GeoDataFrame | None = None,
                       date: str | _dt.date | None = None, scenario: str | None = None, synthetic: bool = False,
                       thresholds: Sequence[float] = DEPTH_THRESHOLDS, lang: str = "zh",
                       boundaries: gpd.GeoDataFrame | None = None,
                       progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> bytes:
    """Village maps for many villages: one multi-page PDF, or a zip of PNGs.

    Pages are drawn in parallel processes (``workers``) and go into the file in village order as they
    come back, each reported to ``progress(done, total)``.

    Parameters
    ----------
    tables : object or mapping
        As for :func:`village_figure`.
    villages : sequence of str, optional
        Village names; default :func:`at_risk_villages` (every village with a grid to evacuate).
        A name used by villages in two townships gets one page per township.
    fmt : {'pdf', 'zip'}
        ``'pdf'``: one page per village; ``'zip'``: ``{village}防汛形势图.png`` per village.
    dpi : int
        PNG resolution for ``'zip'``.
    hazard, dem_hillshade, roads, rivers, date, scenario, synthetic, thresholds, lang, boundaries
        As for :func:`village_figure`.
    progress : callable, optional
        Called with ``(pages done, pages in all)`` after each page (and ``(0, n)`` first).
    workers : int, optional
        Processes drawing pages; default the machine's cores (at most 4); 1 draws in this process.

    Returns
    -------
    bytes
        The PDF or zip file.
    """
    if fmt not in ("pdf", "zip"):
        raise ValueError(f"fmt must be 'pdf' or 'zip', not {fmt!r}")
    names = list(villages) if villages is not None else at_risk_villages(tables)
    pages = _pages(tables, names)
    kw = dict(hazard=hazard, dem_hillshade=dem_hillshade, roads=roads, rivers=rivers, date=date, scenario=scenario,
              synthetic=synthetic, thresholds=thresholds, lang=lang, boundaries=boundaries)
    parts = {k: table_part(tables, k) for k in ("grids", "assignments", "shelters", "summary")}
    page_fmt = "pdf" if fmt == "pdf" else "png"
    total = len(pages)
    if progress:
        progress(0, total)
    n = workers if workers is not None else min(os.cpu_count() or 1, 4)
    n = max(1, min(n, total // 6 or 1))   # a few pages are quicker here than starting processes (seconds each)
    buf = io.BytesIO()
    if fmt == "pdf":
        from pypdf import PdfReader, PdfWriter

        out = PdfWriter()
        out.add_metadata({"/Creator": "gis.report.village_map"})
        for i, data in enumerate(_drawn(pages, parts, kw, page_fmt, dpi, n), start=1):
            out.append(PdfReader(io.BytesIO(data)))
            if progress:
                progress(i, total)
        out.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
        out.write(buf)
        return buf.getvalue()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, ((v, town), data) in enumerate(zip(pages, _drawn(pages, parts, kw, page_fmt, dpi, n)), start=1):
            title = _t("title", lang, v=v if town is None else f"{town}{v}").replace("/", "_")
            zf.writestr(f"{title}.png", data)
            if progress:
                progress(i, total)
    return buf.getvalue()


# ---- pages drawn in worker processes -------------------------------------------------------------
_WORK: dict = {}


def _init_worker(blob: bytes) -> None:
    _WORK.update(pickle.loads(blob))


def _one_page(page: tuple[str, str | None]) -> bytes:
    v, town = page
    w = _WORK
    return _render(village_figure(v, w["parts"], township=town, **w["kw"]), w["fmt"], w["dpi"])


def _drawn(pages: list, parts: dict, kw: dict, fmt: str, dpi: int, workers: int) -> Iterator[bytes]:
    """Each page's file, in page order, drawn by ``workers`` processes (here when 1)."""
    if workers <= 1:
        _WORK.update(parts=parts, kw=kw, fmt=fmt, dpi=dpi)
        try:
            for page in pages:
                yield _one_page(page)
        finally:
            _WORK.clear()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    blob = pickle.dumps({"parts": parts, "kw": kw, "fmt": fmt, "dpi": dpi}, protocol=pickle.HIGHEST_PROTOCOL)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(blob,)) as ex:
        yield from ex.map(_one_page, pages)
