"""The A4 printed-map page shared by the village situation map and the fire coverage map.

A CJK font (:func:`cjk_font`: a font named by ``GIS_CJK_FONT``, an installed one, or the Noto Sans
CJK SC that the pinned ``mplfonts`` requirement ships), the page and its map axes
(:func:`map_page`), layers clipped and rasters warped onto the map's metric extent (:func:`clip`,
:func:`warp`), and the map furniture: legend, scale bar and north arrow (:func:`finish_map`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Iterator

import geopandas as gpd
import matplotlib
import numpy as np
import pyproj
from matplotlib import font_manager, patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from layers import settings
from layers.raster import Raster
from layers.settings import STORAGE_CRS
from layers.text import PARENS, Text, registry

__all__ = ["A4_INCHES", "HALO", "cjk_font", "font_rc", "clip", "to_crs", "warp", "map_page", "finish_map",
           "text_width_in", "wrap", "place_labels", "furniture_boxes", "METHOD_WORDS", "method_words",
           "crs_words", "PAGE_WORDS"]

_WORDS: dict[str, Text] = registry({"north": ("北", "N"), "m": ("米", "m"), "km": ("公里", "km")})
#: the words every printed A4 map says (the village situation map and the fire coverage map), by code
PAGE_WORDS: dict[str, Text] = registry({
    "date": ("日期：{s}", "Date: {s}"),
    "crs": ("坐标系：{c}", "CRS: {c}"),
    "nofont": ("未找到中文字体（请安装 fonts-noto-cjk），中文可能无法显示",
               "No CJK font found (install fonts-noto-cjk); Chinese text may not display"),
})


def _word(key: str, lang: str) -> str:
    return _WORDS[key](lang)


#: A4 in inches (portrait: width, height)
A4_INCHES = (210 / 25.4, 297 / 25.4)


_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                 "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC",
                 "Heiti SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Serif CJK SC", "AR PL UMing CN",
                 "Droid Sans Fallback")


_FALLBACK = "DejaVu Sans"


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Family name of an installed font that has Chinese glyphs, or None.

    A file named by the environment variable ``GIS_CJK_FONT`` (``.ttf``/``.otf``/``.ttc``) is
    registered first and preferred. Otherwise the first installed family of Noto Sans CJK SC,
    Noto Sans SC, Source Han Sans, WenQuanYi, SimHei, Microsoft YaHei, PingFang SC, ... is used;
    failing those, Noto Sans CJK SC as shipped in the pinned ``mplfonts`` wheel (a requirement of
    the app, so ``pip install -r requirements.txt`` alone gives printable Chinese maps).
    """
    for path in (settings.cjk_font_file(), None):
        if path and os.path.exists(path):
            name = _register(path)
            if name:
                return name
        have = {f.name for f in font_manager.fontManager.ttflist}
        for fam in _CJK_FAMILIES:
            if fam in have:
                return fam
    bundled = _bundled_cjk_font()
    return _register(bundled) if bundled else None


def _register(path: str) -> str | None:
    try:
        font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=path).get_name()
    except (OSError, RuntimeError, ValueError):
        return None


def _bundled_cjk_font() -> str | None:
    """Path of Noto Sans CJK SC inside the ``mplfonts`` package, if installed."""
    try:
        from importlib.resources import files

        path = files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"
    except (ImportError, ModuleNotFoundError, TypeError):
        return None
    return str(path) if path.is_file() else None


@contextlib.contextmanager
def font_rc() -> Iterator[None]:
    fam = cjk_font()
    families = [fam, _FALLBACK] if fam else [_FALLBACK]
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False, "pdf.compression": 6}), \
            warnings.catch_warnings():
        if not fam:   # the page already says the font is missing; one warning per glyph would flood the log
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        yield


def to_crs(gdf: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        gdf = gdf.set_crs(STORAGE_CRS)
    return gdf.to_crs(crs)


def clip(gdf: gpd.GeoDataFrame | None, extent: tuple[float, float, float, float],
          crs: pyproj.CRS) -> gpd.GeoDataFrame | None:
    """Features of ``gdf`` inside the metric ``extent``, in ``crs`` (pre-filtered in their own CRS)."""
    if gdf is None or not len(gdf):
        return None
    src = gdf.crs or pyproj.CRS.from_user_input(STORAGE_CRS)
    tr = pyproj.Transformer.from_crs(crs, src, always_xy=True)
    x0, y0, x1, y1 = tr.transform_bounds(*extent)
    part = gdf.cx[x0:x1, y0:y1]
    if not len(part):
        return None
    return to_crs(part, crs)


def warp(r: Raster, extent: tuple[float, float, float, float], crs: pyproj.CRS, *, width: int,
          resampling: str) -> np.ndarray | None:
    """``r`` resampled onto a ``width``-wide grid over the metric ``extent`` (NaN outside/nodata)."""
    import rasterio.crs
    import rasterio.windows
    from rasterio.enums import Resampling
    from rasterio.warp import reproject, transform_bounds

    src_crs = r.crs if r.crs is not None else STORAGE_CRS
    if isinstance(src_crs, pyproj.CRS):
        src_crs = rasterio.crs.CRS.from_wkt(src_crs.to_wkt())
    elif not isinstance(src_crs, rasterio.crs.CRS):
        src_crs = rasterio.crs.CRS.from_user_input(src_crs)
    dst_crs = rasterio.crs.CRS.from_wkt(crs.to_wkt())
    # crop the source to the map first (a prefecture raster may hold 25 million cells)
    b = transform_bounds(dst_crs, src_crs, *extent, densify_pts=21)
    win = rasterio.windows.from_bounds(*b, transform=r.transform)
    rows, cols = r.shape
    r0 = max(0, int(math.floor(win.row_off)) - 1)
    c0 = max(0, int(math.floor(win.col_off)) - 1)
    r1 = min(rows, int(math.ceil(win.row_off + win.height)) + 1)
    c1 = min(cols, int(math.ceil(win.col_off + win.width)) + 1)
    if r1 <= r0 or c1 <= c0:
        return None
    src = np.asarray(r.array[r0:r1, c0:c1], dtype="float32")
    if r.nodata is not None and not np.isnan(r.nodata):
        src = np.where(src == r.nodata, np.nan, src)
    src_t = r.transform * r.transform.translation(c0, r0)
    x0, y0, x1, y1 = extent
    height = max(1, int(round(width * (y1 - y0) / (x1 - x0))))
    from affine import Affine
    dst_t = Affine((x1 - x0) / width, 0, x0, 0, -(y1 - y0) / height, y1)
    dst = np.full((height, width), np.nan, dtype="float32")
    src_res = min(abs(src_t.a), abs(src_t.e))
    dst_in_src = transform_bounds(dst_crs, src_crs, x0, y0, x0 + dst_t.a, y0 + dst_t.a)
    if resampling == "max" and (dst_in_src[2] - dst_in_src[0]) <= src_res:
        resampling = "nearest"     # "max" only when several source cells fall in one output cell
    reproject(src, dst, src_transform=src_t, src_crs=src_crs, dst_transform=dst_t, dst_crs=dst_crs,
              src_nodata=np.nan, dst_nodata=np.nan, resampling=getattr(Resampling, resampling))
    return dst


HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def _nice_length(span_m: float) -> float:
    target = span_m / 4.0
    p = 10 ** math.floor(math.log10(max(target, 1e-9)))
    for m in (5, 2, 1):
        if m * p <= target:
            return m * p
    return p


def _scale_bar(ax, extent, lang: str, axes_width_in: float) -> None:
    x0, y0, x1, y1 = extent
    w, h = x1 - x0, y1 - y0
    length = _nice_length(w)
    bx, by, bh = x0 + 0.04 * w, y0 + 0.05 * h, 0.012 * h
    half = length / 2
    for start, colour in ((0, "black"), (half, "white")):
        ax.add_patch(Rectangle((bx + start, by), half, bh, facecolor=colour, edgecolor="black", lw=0.8, zorder=20))
    km = length >= 1000
    unit = _word("km", lang) if km else _word("m", lang)

    def lab(v: float) -> str:
        return f"{v / 1000:g}" if km else f"{v:g}"
    for v in (0, half, length):
        ax.text(bx + v, by + bh * 1.6, lab(v), ha="center", va="bottom", fontsize=7, zorder=20,
                path_effects=HALO)
    ax.text(bx + length + 0.01 * w, by + bh / 2, unit, ha="left", va="center", fontsize=7, zorder=20,
            path_effects=HALO)
    denom = w / (axes_width_in * 0.0254)
    nice = 10 ** math.floor(math.log10(denom))
    denom = round(denom / nice * 2) / 2 * nice if denom > 100 else denom
    ax.text(bx, by - bh * 1.2, f"1:{denom:,.0f}", ha="left", va="top", fontsize=7, zorder=20, path_effects=HALO)


def _north_arrow(ax, lang: str) -> None:
    ax.annotate("", xy=(0.95, 0.95), xytext=(0.95, 0.85), xycoords="axes fraction",
                arrowprops=dict(facecolor="black", edgecolor="black", width=3, headwidth=11, headlength=12),
                zorder=20)
    ax.text(0.95, 0.83, _word("north", lang), transform=ax.transAxes, ha="center", va="top", fontsize=12,
            fontweight="bold", zorder=20, path_effects=HALO)


def map_page(bounds: tuple[float, float, float, float], lay: dict, *, dpi: int,
             fit: bool = False) -> tuple[Figure, Axes, tuple]:
    """An A4 figure and its map axes showing ``bounds`` (metric), grown to the map box's aspect.

    ``lay`` holds ``size`` (inches), ``map`` (axes rectangle) and ``box_aspect``; returns
    ``(figure, axes, extent)`` with ``extent = (x0, y0, x1, y1)``. With ``fit`` the map box shrinks
    to the shape of ``bounds`` instead (``lay['map']`` is updated), so no band of empty map shows
    where the data end.
    """
    x0, y0, x1, y1 = bounds
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if fit:   # the map box takes the area's shape (no empty band); top edge and centre line kept
        left, bottom, bw, bh = lay["map"]
        page_w, page_h = lay["size"]
        aspect = w / h
        if aspect > lay["box_aspect"]:
            new_h = bw * page_w / aspect / page_h
            lay["map"] = [left, bottom + bh - new_h, bw, new_h]
        else:
            new_w = bh * page_h * aspect / page_w
            lay["map"] = [left + (bw - new_w) / 2, bottom, new_w, bh]
            lay["map_w_in"] = new_w * page_w
        lay["box_aspect"] = aspect
    elif w / h < lay["box_aspect"]:
        w = h * lay["box_aspect"]
    else:
        h = w / lay["box_aspect"]
    extent = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    fig = Figure(figsize=lay["size"], dpi=dpi)
    ax = fig.add_axes(lay["map"])
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f7f7f2")
    return fig, ax, extent


def finish_map(ax, legend: list, extent, lang: str, axes_width_in: float, *, handlelength: float = 2.2) -> None:
    """Map furniture of a printed map: no axis labels, the legend (lower right), scale bar and north arrow.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    legend : list
        Legend handles (none: no legend box).
    extent : tuple of float
        Metric map extent ``(minx, miny, maxx, maxy)``.
    lang : {'zh', 'en'}
    axes_width_in : float
        Width of the map axes in inches (for the scale bar's length).
    handlelength : float
        Legend handle length.
    """
    ax.set_xlabel("")
    ax.set_ylabel("")
    if legend:
        leg = ax.legend(handles=legend, loc="lower right", fontsize=7, framealpha=0.92, borderpad=0.6,
                        handlelength=handlelength)
        leg.set_zorder(30)
    _scale_bar(ax, extent, lang, axes_width_in)
    _north_arrow(ax, lang)


# ---- words for people: method codes, wrapped footers ------------------------------------------------
#: how each flood hazard method is printed (a code never reaches the page)
METHOD_WORDS: dict[str, tuple[Text, Text]] = {
    "hand_stage": (Text("水位法（HAND 筛查）", "water level over HAND (screening)", "hand_stage"),
                   Text("筛查方法：HAND（相对最近河道高差）淹没图与精细水力模型相比临界成功指数约 0.4–0.7，"
                        "仅供初步判断",
                        "Screening method: HAND (height above nearest drainage) flood extents reach a critical "
                        "success index of about 0.4-0.7 against hydraulic models; for a first judgement only",
                        "hand_stage_note")),
    "depth_raster": (Text("水深栅格", "depth raster", "depth_raster"), Text("", "")),
    "polygons": (Text("危险区范围", "danger zones", "polygons"), Text("", "")),
}


def method_words(code: str | None, lang: str) -> tuple[str, str]:
    """(name, note) of a hazard method code in ``lang``; an unknown identifier-like code prints nothing."""
    import re

    if not code:
        return "", ""
    if code in METHOD_WORDS:
        name, note = METHOD_WORDS[code]
        return name(lang), note(lang)
    return ("", "") if re.fullmatch(r"[A-Za-z0-9_]+", str(code)) else (str(code), "")


def crs_words(crs: pyproj.CRS, lang: str) -> str:
    """The map's CRS for people: ``CGCS2000 3 度带高斯-克吕格 中央经线 120°（EPSG:4549）`` in Chinese."""
    import re

    epsg = crs.to_epsg()
    name = zh = crs.name
    m = re.match(r"(.*?) / (3|6)-degree Gauss-Kruger (?:zone (\d+)|CM (\d+)E)", name)
    if m:   # the Gauss-Kruger zones as a Chinese map names them
        datum, deg, zone, cm = m.groups()
        where = f"第 {zone} 带" if zone else f"中央经线 {cm}°"
        zh = f"{datum} {deg} 度带高斯-克吕格投影 {where}"
    named = Text(zh, name)
    return (named + PARENS.format(s=f"EPSG:{epsg}"))(lang) if epsg else named(lang)


def text_width_in(s: str, fontsize: float) -> float:
    """Printed width of ``s`` in inches at ``fontsize`` points (CJK full width, Latin about 0.55 em)."""
    em = fontsize / 72.0
    return sum(em if ord(ch) > 0x2E80 else 0.56 * em for ch in s)


def wrap(s: str, width_in: float, fontsize: float) -> list[str]:
    """``s`` cut into lines no wider than ``width_in`` inches (at spaces where it can, anywhere in CJK text)."""
    lines: list[str] = []
    for para in str(s).split("\n"):
        line = ""
        for token in _tokens(para):
            if line and text_width_in(line + token, fontsize) > width_in:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
            while text_width_in(line, fontsize) > width_in:   # one token longer than the line
                cut = len(line)
                while cut > 1 and text_width_in(line[:cut], fontsize) > width_in:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        if line.strip():
            lines.append(line.rstrip())
    return lines


def _tokens(s: str) -> list[str]:
    import re

    return re.findall(r"[\u2e80-\uffff]|\s*[^\s\u2e80-\uffff]+|\s+", s)


# ---- labels that stay inside the frame and do not overlap ------------------------------------------
#: positions tried around a point, in order: offset in points, horizontal and vertical alignment
_SPOTS = ((7, 5, "left", "bottom"), (7, -5, "left", "top"), (-7, 5, "right", "bottom"), (-7, -5, "right", "top"),
          (0, 9, "center", "bottom"), (0, -9, "center", "top"))


def place_labels(ax, items: list[dict], *, obstacles: list | None = None) -> list:
    """Place point labels on ``ax`` inside its frame without overlaps (greedy, in the given order).

    Each item: ``x``, ``y`` (data coordinates), ``texts`` (the label and shorter fallbacks, e.g. the
    name with its capacity, then the name alone) and ``kw`` (``ax.annotate`` keywords). Every
    position of :data:`_SPOTS` is tried with each text; a label that fits nowhere is left out
    rather than drawn over another or across the frame.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Map axes of a figure (an Agg canvas is attached to measure text).
    items : list of dict
        The labels, most important first.
    obstacles : list of Bbox, optional
        Display-space boxes labels must avoid (the legend, the scale bar...).

    Returns
    -------
    list
        The annotations placed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer).padded(-2)
    taken = list(obstacles or [])
    placed = []
    for it in items:
        done = False
        for text in it["texts"]:
            for dx, dy, ha, va in _SPOTS:
                a = ax.annotate(text, xy=(it["x"], it["y"]), xytext=(dx, dy), textcoords="offset points", ha=ha,
                                va=va, annotation_clip=False, **it.get("kw", {}))
                bb = a.get_window_extent(renderer).padded(1)
                inside = frame.x0 <= bb.x0 and bb.x1 <= frame.x1 and frame.y0 <= bb.y0 and bb.y1 <= frame.y1
                if inside and not any(bb.overlaps(o) for o in taken):
                    taken.append(bb)
                    placed.append(a)
                    done = True
                    break
                a.remove()
            if done:
                break
    return placed


def furniture_boxes(ax) -> list:
    """Display boxes of what is already drawn on ``ax`` that labels must not cover: texts, the legend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in ax.texts if t.get_visible() and t.get_text()]
    leg = ax.get_legend()
    if leg is not None:
        boxes.append(leg.get_window_extent(r))
    return boxes

