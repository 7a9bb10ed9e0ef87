"""Printable A4 forest-fire coverage map (森林防火监测覆盖图), PNG and PDF, for the whole area or one township.

What is drawn (every layer optional except the DEM, whichever is given in ``layers``):

===================  =================================================================================
key                  what
===================  =================================================================================
``coverage``         cameras seeing each cell (``gis.fire.viewshed.coverage``'s count, the DEM's grid or a
                     :class:`~layers.raster.Raster`): seen by 1 camera / by 2 or more
``water_reach``      cells within reach of a water source (bool / 0-1 array or Raster): outlined and
                     lightly filled in blue
``high_risk``        high-risk forest: a bool array / Raster (cells) or a GeoDataFrame of polygons
``gaps``             uncovered high-risk patches, polygons (red outline, hatched)
``proposed``         proposed sites, points (column ``kind`` = ``camera`` / ``water`` picks the symbol)
``cameras``          cameras and lookouts, points
``water_sources``    water sources, points
``roads``            lines
``boundaries``       the boundaries layer: its township polygons are the township outlines, its county
                     polygons are drawn too
``townships``        township polygons (a ``township`` or ``name`` column), used without township
                     boundaries; without either, townships are dissolved by their ``township`` column
                     from ``grids`` (the township-level grids when the ``level`` column has them, else
                     village-level, else all) or else from ``forest`` (gaps closed, holes dropped); the
                     page's footnote says which outline was used (:mod:`gis.townships`)
``forest``/``grids`` only used for the township boundaries (see above)
===================  =================================================================================

The DEM gives the hillshade background and the map's CRS (a metric DEM's own CRS; a DEM in degrees
is drawn in the metric CRS :func:`layers.crs.metric_crs` picks). Arrays in ``layers`` must have the
DEM's shape. Vector layers may be in any CRS (EPSG:4490 when none is set).

The page is A4, portrait or landscape, whichever fits the map's extent better; it carries a
title, the date, a legend, a scale bar with the ratio, a north arrow, the CRS and a data note.
The whole-area map is of the county outlines (else the township outlines, else the DEM) and fills
the page's map box with the terrain around them, as far as the DEM reaches; where the DEM ends
first, the box takes the shape of what there is and the legend moves off the map into the band
left under it.
Fonts, the scale bar and the north arrow are :mod:`gis.report.village_map`'s.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from gis.report.a4 import (
    A4_INCHES,
    PAGE_WORDS,
    cjk_font,
    clip,
    crs_words,
    finish_map,
    font_rc,
    map_page,
    to_crs,
    warp,
    wrap,
)
from gis.townships import county_outlines, township_outlines
from layers.crs import metric_crs
from layers.errors import AnalysisRefused, LayerError, Problem
from layers.raster import Raster, _as_pyproj_input
from layers.settings import STORAGE_CRS
from layers.text import SEMICOLON, Text, registry

__all__ = ["coverage_map", "coverage_figure", "coverage_maps_batch", "township_boundaries", "map_texts", "DPI"]

#: PNG resolution
DPI = 300

#: the words of the map, by code
_T: dict[str, Text] = PAGE_WORDS | registry({
    "title": ("{a}森林防火监测覆盖图", "Forest-fire coverage map — {a}"),
    "note": ("视域按数字高程模型计算（架设高度、监测半径、地球曲率与大气折光系数 0.13），未计植被与建筑遮挡",
             "Viewsheds from the DEM (mast height, range, earth curvature, refraction 0.13); vegetation and "
             "buildings not modelled"),
    "seen1": ("1 台监控可见", "Seen by 1 camera"),
    "seen2": ("2 台及以上监控可见", "Seen by 2+ cameras"),
    "reach": ("水源可达范围", "Within water reach"),
    "risk": ("高火险林地", "High-risk forest"),
    "gaps": ("高火险盲区", "Uncovered high-risk patch"),
    "prop_cam": ("拟建监控点", "Proposed camera"),
    "prop_water": ("拟建水源点", "Proposed water point"),
    "prop": ("拟建站点", "Proposed site"),
    "camera": ("监控点 / 瞭望台", "Camera / lookout"),
    "water": ("水源点", "Water source"),
    "road": ("道路", "Road"),
    "town": ("乡镇界", "Township boundary"),
    "whole": ("全域", "whole area"),
    "notown": ("没有乡镇“{t}”的边界", "no boundary for township '{t}'"),
})


_COUNTY_LINE = Text("县界", "County boundary", "county_boundary")


def _t(key: str, lang: str, **kw: Any) -> str:
    v = _T[key](lang)
    return v.format(**kw) if kw else v


def map_texts(lang: str = "zh") -> dict[str, str]:
    """Every fixed text the map may print, in ``lang`` (placeholders unfilled), by code."""
    return {k: v(lang) for k, v in _T.items()}


# ---- inputs ------------------------------------------------------------------------------------

def _fail(zh: str, en: str, fix_zh: str, fix_en: str, *, field: str | None = None) -> LayerError:
    return LayerError(Problem(zh, en, fix_zh, fix_en, field=field))


def _map_crs(dem: Raster) -> pyproj.CRS:
    crs = pyproj.CRS.from_user_input(_as_pyproj_input(dem.crs)) if dem.crs is not None else \
        pyproj.CRS.from_user_input(STORAGE_CRS)
    if crs.is_geographic:
        return metric_crs(dem.bounds)
    return crs


def _as_raster(v: Any, dem: Raster, key: str) -> Raster | None:
    if v is None:
        return None
    if isinstance(v, Raster):
        return v
    a = np.asarray(v)
    if a.shape != dem.shape:
        raise _fail(f"图层 {key} 的栅格大小 {a.shape} 与 DEM {dem.shape} 不一致",
                    f"layer {key} has shape {a.shape}, not the DEM's {dem.shape}",
                    "请用与 DEM 相同的网格计算该图层", "compute the layer on the DEM's grid", field=key)
    return Raster(a, dem.transform, dem.crs, None)


def _vector(v: Any) -> gpd.GeoDataFrame | None:
    if v is None or not isinstance(v, gpd.GeoDataFrame) or not len(v):
        return None
    v = v[v.geometry.notna() & ~v.geometry.is_empty]
    if not len(v):
        return None
    return v if v.crs is not None else v.set_crs(STORAGE_CRS)


def township_boundaries(layers: Mapping[str, Any]) -> gpd.GeoDataFrame | None:
    """Township polygons: the ``boundaries`` layer's townships, else ``townships``, ``grids`` or ``forest``
    dissolved by township (:func:`gis.townships.township_outlines`).

    Parameters
    ----------
    layers : mapping
        As for :func:`coverage_map`.

    Returns
    -------
    geopandas.GeoDataFrame or None
        One row per township, column ``township``, in its source's CRS; None when no layer has one.
    """
    return township_outlines(layers).gdf


# ---- layout ------------------------------------------------------------------------------------

_MARGIN, _TITLE_H, _FOOT_H = 0.4, 0.75, 0.45


def _layout(aspect: float) -> dict:
    """A4 orientation whose map box is closest to ``aspect`` (width / height), and its rectangles."""
    best: dict | None = None
    for orient, (W, H) in (("portrait", A4_INCHES), ("landscape", A4_INCHES[::-1])):
        map_w, map_h = W - 2 * _MARGIN, H - 2 * _MARGIN - _TITLE_H - _FOOT_H
        box = map_w / map_h
        score = abs(math.log(max(aspect, 1e-6) / box))
        if best is None or score < best["score"] - 1e-9:
            best = {"orient": orient, "size": (W, H), "box_aspect": box, "score": score, "map_w_in": map_w,
                    "map": [_MARGIN / W, (_MARGIN + _FOOT_H) / H, map_w / W, map_h / H],
                    "title_y": 1 - (_MARGIN + 0.05) / H, "sub_y": 1 - (_MARGIN + 0.45) / H,
                    "foot_y": (_MARGIN + 0.05) / H, "foot2_y": (_MARGIN + 0.22) / H}
    assert best is not None  # both orientations were scored
    return best


def _data_bounds(dem: Raster, crs: pyproj.CRS, frame: tuple[float, float, float, float]
                 ) -> tuple[float, float, float, float]:
    """``frame`` cut to where the DEM has values, in the map CRS."""
    valid = dem.valid_mask()
    if not valid.any():
        return frame
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    t = dem.transform
    xs = [t.c + t.a * c for c in (cols[0], cols[-1] + 1)]
    ys = [t.f + t.e * r for r in (rows[0], rows[-1] + 1)]
    src = pyproj.CRS.from_user_input(_as_pyproj_input(dem.crs)) if dem.crs is not None else \
        pyproj.CRS.from_user_input(STORAGE_CRS)
    x0, y0, x1, y1 = pyproj.Transformer.from_crs(src, crs, always_xy=True).transform_bounds(
        min(xs), min(ys), max(xs), max(ys))
    return max(frame[0], x0), max(frame[1], y0), min(frame[2], x1), min(frame[3], y1)


def _area_bounds(dem: Raster, crs: pyproj.CRS, layers: Mapping[str, Any], towns: gpd.GeoDataFrame | None
                 ) -> tuple[float, float, float, float]:
    """What the whole-area map is of, in the map CRS: the county outlines, else the township outlines, else
    the DEM's extent."""
    for g in (county_outlines(layers).gdf, towns):
        if g is not None and len(g):
            b = to_crs(g, crs).total_bounds
            if np.all(np.isfinite(b)) and b[2] > b[0] and b[3] > b[1]:
                return float(b[0]), float(b[1]), float(b[2]), float(b[3])
    tb = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(_as_pyproj_input(dem.crs))
                                     if dem.crs is not None else STORAGE_CRS, crs, always_xy=True)
    return tb.transform_bounds(*dem.bounds)


def _fill_box(area: tuple[float, float, float, float], box_aspect: float, dem: Raster, crs: pyproj.CRS, *,
              keep: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``area`` grown about its centre to the map box's shape, then cut to where the DEM has values (never
    inside ``keep``, the area itself): the map fills the page with the terrain around the area, and shows no
    band of empty map where the DEM ends (the box then takes the shape of what is left:
    :func:`gis.report.a4.map_page` ``fit``)."""
    x0, y0, x1, y1 = area
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if w / max(h, 1e-9) < box_aspect:
        w = h * box_aspect
    else:
        h = w / box_aspect
    grown = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    cut = _data_bounds(dem, crs, grown)
    return min(cut[0], keep[0]), min(cut[1], keep[1]), max(cut[2], keep[2]), max(cut[3], keep[3])


def _polygon_path(geom) -> MplPath | None:
    """A matplotlib path of a (multi)polygon, holes included."""
    verts, codes = [], []
    polys = getattr(geom, "geoms", [geom])
    for p in polys:
        if p.is_empty or p.geom_type != "Polygon":
            continue
        for ring in [p.exterior, *p.interiors]:
            xy = np.asarray(ring.coords)
            if len(xy) < 3:
                continue
            verts.append(xy)
            codes.append(np.r_[MplPath.MOVETO, np.full(len(xy) - 2, MplPath.LINETO), MplPath.CLOSEPOLY])
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes).astype(np.uint8))


# ---- the figure --------------------------------------------------------------------------------

def coverage_figure(*, dem: Raster, layers: Mapping[str, Any], title: str | None = None,
                    township: str | None = None, lang: str = "zh", date: str | _dt.date | None = None,
                    subtitle: str | None = None, note: str | None = None) -> Figure:
    """The coverage map as a matplotlib Figure (A4); see :func:`coverage_map` for the parameters."""
    crs = _map_crs(dem)
    outlines = township_outlines(layers)
    towns = outlines.gdf
    town_geom = None
    if township is not None:
        sel = None if towns is None else towns[towns["township"].astype(str) == str(township)]
        if sel is None or not len(sel):
            known = "、".join(map(str, towns["township"])) if towns is not None else ""
            raise AnalysisRefused(Problem(
                _t("notown", "zh", t=township), _t("notown", "en", t=township),
                "请检查乡镇名称，或提供带乡镇字段的林地、网格或乡镇图层" + (f"（已有：{known}）" if known else ""),
                "check the township name, or give a forest, grids or townships layer with a township field"
                + (f" (known: {', '.join(map(str, towns['township']))})" if known and towns is not None else ""),
                field="township"))
        town_geom = sel.to_crs(crs).geometry.make_valid().union_all()
        x0, y0, x1, y1 = town_geom.bounds
    else:
        x0, y0, x1, y1 = subject = _area_bounds(dem, crs, layers, towns)
    pad = 0.03 * max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    lay = _layout((x1 - x0) / max(y1 - y0, 1e-9))
    if township is None:   # the whole area: the page's map box filled with the terrain around it, where there is any
        x0, y0, x1, y1 = _fill_box((x0, y0, x1, y1), lay["box_aspect"], dem, crs, keep=subject)
    box_bottom = lay["map"][1]
    fig, ax, extent = map_page((x0, y0, x1, y1), lay, dpi=100, fit=township is None)
    img_extent = (extent[0], extent[2], extent[1], extent[3])
    px = int(min(2000, max(600, lay["map_w_in"] * 200)))
    legend: list = []

    # rasters, blended into one image (one resampling pass when the page is drawn)
    from matplotlib.colors import to_rgb

    rgb: np.ndarray = np.empty((0, 0, 3))
    alpha: np.ndarray = np.empty((0, 0))

    def paint(mask, colour, a):
        nonlocal rgb, alpha
        if mask.shape != rgb.shape[:2]:
            return
        w = (a * mask)[..., None]
        rgb = rgb * (1 - w) + np.asarray(to_rgb(colour)) * w
        alpha = np.maximum(alpha, mask * 1.0)

    def grid(v, key):
        r = _as_raster(v, dem, key)
        a = warp(Raster(np.asarray(r.array, dtype="float32"), r.transform, r.crs, None), extent, crs, width=px,
                 resampling="mode")
        if a is None or a.shape != rgb.shape[:2]:
            return None
        return np.nan_to_num(a)

    z = warp(dem, extent, crs, width=px, resampling="bilinear")
    if z is not None:
        rgb = np.ones(z.shape + (3,)) * np.asarray(to_rgb("#f7f7f2"))
        alpha = np.zeros(z.shape)
        if np.isfinite(z).any():
            from affine import Affine

            from gis.terrain import hillshade
            res = (extent[2] - extent[0]) / z.shape[1]
            shade = hillshade(Raster(z, Affine(res, 0, extent[0], 0, -res, extent[3]), crs, None))
            ok = shade > 0
            g = (shade.astype(float) / 255.0)[..., None]
            rgb = np.where(ok[..., None], rgb * 0.5 + g * 0.5, rgb)
            alpha = ok * 1.0

    # high-risk forest
    risk = layers.get("high_risk")
    if isinstance(risk, gpd.GeoDataFrame):
        rv = clip(_vector(risk), extent, crs) if _vector(risk) is not None else None
        if rv is not None:
            rv.plot(ax=ax, facecolor="#f28e2b", edgecolor="none", alpha=0.45, zorder=2)
            legend.append(Patch(facecolor="#f28e2b", alpha=0.45, label=_t("risk", lang)))
    elif risk is not None:
        rr = grid(risk.array if isinstance(risk, Raster) else risk, "high_risk")
        if rr is not None and (rr > 0).any():
            paint(rr > 0, "#f28e2b", 0.45)
            legend.append(Patch(facecolor="#f28e2b", alpha=0.45, label=_t("risk", lang)))

    # camera coverage: seen by 1 / by 2+
    cov = layers.get("coverage")
    if cov is not None:
        c = grid(cov.array if isinstance(cov, Raster) else cov, "coverage")
        if c is not None:
            for sel, colour, key in ((c == 1, "#a1d99b", "seen1"), (c >= 2, "#238b45", "seen2")):
                if sel.any():
                    paint(sel, colour, 0.6)
                    legend.append(Patch(facecolor=colour, alpha=0.6, label=_t(key, lang)))

    # water reach: light fill and outline
    reach = layers.get("water_reach")
    reach_mask = None
    if reach is not None:
        rr = grid(reach.array if isinstance(reach, Raster) else reach, "water_reach")
        if rr is not None and (rr > 0).any():
            reach_mask = rr > 0
            paint(reach_mask, "#4e79a7", 0.18)
            legend.append(Patch(facecolor="#4e79a7", alpha=0.3, edgecolor="#1f4e99", label=_t("reach", lang)))
    if rgb.size:
        ax.imshow(np.dstack([rgb, alpha]).astype("float32"), extent=img_extent, zorder=1, interpolation="nearest")
    if reach_mask is not None:
        ys = np.linspace(extent[3], extent[1], reach_mask.shape[0])
        xs = np.linspace(extent[0], extent[2], reach_mask.shape[1])
        ax.contour(xs, ys, reach_mask.astype(float), levels=[0.5], colors="#1f4e99", linewidths=0.6, zorder=4)

    # gaps
    gaps = clip(_vector(layers.get("gaps")), extent, crs) if _vector(layers.get("gaps")) is not None else None
    if gaps is not None:
        gaps.plot(ax=ax, facecolor="none", edgecolor="#d62728", hatch="////", linewidth=0.7, zorder=6)
        legend.append(Patch(facecolor="none", edgecolor="#d62728", hatch="////", label=_t("gaps", lang)))

    # roads
    roads = clip(_vector(layers.get("roads")), extent, crs) if _vector(layers.get("roads")) is not None else None
    if roads is not None:
        roads.plot(ax=ax, color="#7f6f5f", linewidth=0.5, zorder=7)
        legend.append(Line2D([], [], color="#7f6f5f", lw=1, label=_t("road", lang)))

    # county and township boundaries (all in view, the selected one bold; outside it washed out)
    counties = county_outlines(layers).gdf
    cv = clip(counties, extent, crs) if counties is not None else None
    if cv is not None:
        cv.boundary.plot(ax=ax, color="#222222", linewidth=1.2, linestyle="-.", zorder=8)
        legend.append(Line2D([], [], color="#222222", lw=1.2, ls="-.", label=_COUNTY_LINE(lang)))
    if towns is not None:
        tv = clip(towns, extent, crs)
        if tv is not None:
            tv.boundary.plot(ax=ax, color="#333333", linewidth=0.6, linestyle="--", zorder=8)
            legend.append(Line2D([], [], color="#333333", lw=1, ls="--", label=_t("town", lang)))
    if town_geom is not None:
        path = _polygon_path(town_geom)
        if path is not None:
            frame = np.array([[extent[0], extent[1]], [extent[2], extent[1]], [extent[2], extent[3]],
                              [extent[0], extent[3]], [extent[0], extent[1]]])
            outer = MplPath(frame, [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO,
                                    MplPath.CLOSEPOLY])
            ax.add_patch(PathPatch(MplPath.make_compound_path(outer, path), facecolor="white", alpha=0.55,
                                   edgecolor="none", zorder=8.5))
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor="black", linewidth=1.6, zorder=9))

    # points
    def points(key, **kw):
        g = _vector(layers.get(key))
        return clip(g, extent, crs) if g is not None else None

    def mark(g, *, size, marker, colour, edge, width, zorder, legend_size, label):
        """Points of ``g`` as markers, and their legend entry."""
        ax.scatter(g.geometry.x, g.geometry.y, s=size, marker=marker, c=colour, edgecolors=edge, linewidths=width,
                   zorder=zorder)
        legend.append(Line2D([], [], marker=marker, ls="", markersize=legend_size, markerfacecolor=colour,
                             markeredgecolor=edge, label=_t(label, lang)))

    ws = points("water_sources")
    if ws is not None:
        mark(ws, size=9 if len(ws) < 1000 else 4, marker="o", colour="#1f77b4", edge="white", width=0.3, zorder=10,
             legend_size=5, label="water")
    cams = points("cameras")
    if cams is not None:
        mark(cams, size=22 if len(cams) < 300 else 12, marker="^", colour="#2ca02c", edge="black", width=0.4,
             zorder=11, legend_size=7, label="camera")
    prop = points("proposed")
    if prop is not None:
        kind = prop["kind"].astype(str).str.lower() if "kind" in prop else pd.Series("", index=prop.index)
        for sel, marker, colour, key in ((kind.str.startswith("cam"), "*", "#9467bd", "prop_cam"),
                                         (kind.str.startswith("water"), "P", "#17becf", "prop_water"),
                                         (~kind.str.startswith("cam") & ~kind.str.startswith("water"), "*",
                                          "#e377c2", "prop")):
            part = prop[sel.values]
            if len(part):
                mark(part, size=90, marker=marker, colour=colour, edge="black", width=0.6, zorder=12,
                     legend_size=10, label=key)

    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    finish_map(ax, legend, extent, lang, lay["map_w_in"], handlelength=2.0)
    # where the map box took the area's shape and left a band under it, the legend goes there, off the map
    legend_h = _legend_below(ax, legend, (lay["map"][1] - box_bottom) * lay["size"][1],
                             ncol=4 if lay["orient"] == "landscape" else 3)

    # title block and footer
    if isinstance(date, (_dt.date, _dt.datetime)):
        date = date.isoformat()[:10]
    date = date or _dt.date.today().isoformat()
    if title is None:
        area = township or _t("whole", lang)
        title = _t("title", lang, a=area)
    fig.text(0.5, lay["title_y"], title, ha="center", va="top", fontsize=18, fontweight="bold")
    sub = [subtitle] if subtitle else []
    sub.append(_t("date", lang, s=date))
    fig.text(0.5, lay["sub_y"], "    ".join(sub), ha="center", va="top", fontsize=9)
    # footer right under the map: the data note (wrapped to the page), which outline the township boundaries
    # are (the boundaries layer, or a stand-in) and the CRS
    W, H = lay["size"]
    left = _MARGIN / W
    y = lay["map"][1] - (0.08 + legend_h) / H
    foot = note or _t("note", lang)
    if towns is not None:
        foot += SEMICOLON(lang) + outlines.note(lang)
    for line in [*wrap(foot, W - 2 * _MARGIN, 7), _t("crs", lang, c=crs_words(crs, lang))]:
        fig.text(left, y, line, ha="left", va="top", fontsize=7, color="#444444")
        y -= 0.15 / H
    if cjk_font() is None:
        fig.text(1 - left, y, _T["nofont"].en, ha="right", va="top", fontsize=8, color="#c00000", fontweight="bold")
        y -= 0.15 / H
    _centre_on_page(fig, ax, spare_in=(y + 0.15 / H) * H - _MARGIN - _LINE_IN)
    return fig


#: height of one footer line (inches; the lines are 0.15 in apart)
_LINE_IN = 0.12
#: a page whose content ends this far (inches) above the bottom margin has it moved down, centred on the page
_CENTRE_FROM_IN = 0.3


def _centre_on_page(fig, ax, *, spare_in: float) -> None:
    """Move everything on the page (title, map, legend, footer) down by half of ``spare_in``, the empty page under
    the footer, when the map box took the area's shape and left it: the page's white is shared above and below the
    composition instead of lying in one band at the bottom."""
    if spare_in < _CENTRE_FROM_IN:
        return
    dy = spare_in / 2 / fig.get_figheight()
    pos = ax.get_position()
    ax.set_position([pos.x0, pos.y0 - dy, pos.width, pos.height])
    for t in fig.texts:
        x, y = t.get_position()
        t.set_position((x, y - dy))


#: room under a legend moved below the map, for the footer's lines (inches)
_FOOTER_ROOM_IN = 0.55


def _legend_below(ax, handles: list, free_in: float, *, ncol: int) -> float:
    """Move the map's legend under the map frame, in ``ncol`` columns, when the ``free_in`` inches of page under
    the frame hold it and the footer; returns the height it takes there (0: it stays on the map)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    inside = ax.get_legend()
    if inside is None or not handles or free_in < _FOOTER_ROOM_IN + 0.3:
        return 0.0
    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    below = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.006), ncol=ncol, fontsize=7,
                      frameon=False, borderaxespad=0.0, handlelength=2.0, columnspacing=2.5)   # replaces it
    height_in = below.get_window_extent(renderer).height / fig.dpi + 0.08
    if height_in + _FOOTER_ROOM_IN > free_in:    # too tall for the band: the legend finish_map made, on the map
        below.remove()
        ax.add_artist(inside)
        return 0.0
    return height_in


# ---- output ------------------------------------------------------------------------------------

def coverage_map(path_stem: str | Path, *, dem: Raster, layers: Mapping[str, Any], title: str | None = None,
                 township: str | None = None, lang: str = "zh", date: str | _dt.date | None = None,
                 subtitle: str | None = None, note: str | None = None, dpi: int = DPI,
                 formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write the A4 coverage map as ``<path_stem>.png`` (``dpi``) and ``<path_stem>.pdf`` (one page).

    Parameters
    ----------
    path_stem : str or Path
        Output path without suffix; its folder is created.
    dem : layers.raster.Raster
        Elevations: the hillshade background, the grid of array layers and the map's CRS.
    layers : mapping
        Optional layers by key (module docstring): ``coverage``, ``water_reach``, ``high_risk``,
        ``gaps``, ``proposed``, ``cameras``, ``water_sources``, ``roads``, ``townships``, ``forest``,
        ``grids``. Missing keys and None values are left out of the map and its legend.
    title : str, optional
        Page title; default "<township or 全域>森林防火监测覆盖图" (English: "Forest-fire coverage map — ...").
    township : str, optional
        Map only this township: the extent is its boundary's, the rest washed out.
    lang : {'zh', 'en'}
        Language of the page.
    date : str or datetime.date, optional
        Date printed under the title (default today).
    subtitle, note : str, optional
        A line under the title (e.g. coverage shares) and the data note in the footer.
    dpi : int
        PNG resolution (300: 2480 x 3508 pixels portrait).
    formats : sequence of {'png', 'pdf'}
        Files to write.

    Returns
    -------
    list of Path
        The files written, in ``formats`` order.

    Raises
    ------
    layers.errors.AnalysisRefused
        The township has no boundary.
    layers.errors.LayerError
        An array layer is not on the DEM's grid.
    """
    bad = [f for f in formats if f not in ("png", "pdf")]
    if bad:
        raise ValueError(f"formats must be 'png' or 'pdf', not {bad}")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    with font_rc():
        fig = coverage_figure(dem=dem, layers=layers, title=title, township=township, lang=lang, date=date,
                              subtitle=subtitle, note=note)
        for fmt in formats:
            path = stem.with_name(stem.name + "." + fmt)
            if fmt == "pdf":
                fig.savefig(path, format="pdf", metadata={"Creator": "gis.report.fire_map", "CreationDate": None})
            else:
                fig.savefig(path, format="png", dpi=dpi, metadata={"Software": "gis.report.fire_map"})
            out.append(path)
    return out


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", str(name)).strip("_") or "township"


def coverage_maps_batch(out_dir: str | Path, *, dem: Raster, layers: Mapping[str, Any],
                        townships: Sequence[str] | None = None, whole: bool = True, lang: str = "zh",
                        date: str | _dt.date | None = None, dpi: int = DPI, formats: Sequence[str] = ("png", "pdf"),
                        subtitles: Mapping[str, str] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """The whole-area map and one map per township, written into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder (created). Files: ``coverage_all.*`` and ``coverage_<township>.*``.
    dem, layers, lang, date, dpi, formats
        As for :func:`coverage_map`.
    townships : sequence of str, optional
        Townships to map; default every township of :func:`township_boundaries`.
    whole : bool
        Also write the whole-area map.
    subtitles : mapping, optional
        Township name (``""`` for the whole area) to the line printed under its title.
    progress : callable, optional
        Called with ``(maps done, maps in all)`` (``(0, n)`` first).

    Returns
    -------
    list of Path
        Every file written.
    """
    out_dir = Path(out_dir)
    subtitles = dict(subtitles or {})
    outlines = township_outlines(layers)
    towns = outlines.gdf
    if towns is not None:     # dissolved once for every page (and still said where they came from)
        layers = {**layers, "townships": outlines}
    if townships is None:
        townships = [] if towns is None else sorted(map(str, towns["township"]))
    paths: list[Path] = []
    total = len(townships) + bool(whole)
    if progress:
        progress(0, total)
    if whole:
        paths += coverage_map(out_dir / "coverage_all", dem=dem, layers=layers, lang=lang, date=date, dpi=dpi,
                              formats=formats, subtitle=subtitles.get(""))
        if progress:
            progress(1, total)
    for i, t in enumerate(townships, start=1 + bool(whole)):
        paths += coverage_map(out_dir / f"coverage_{_safe(t)}", dem=dem, layers=layers, township=t, lang=lang,
                              date=date, dpi=dpi, formats=formats, subtitle=subtitles.get(t))
        if progress:
            progress(i, total)
    return paths
