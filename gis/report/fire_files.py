"""The forest-fire coverage review as files: Excel, GeoPackage, GeoJSON, KML, GeoTIFFs and A4 maps.

:func:`fire_workbook` turns a :class:`gis.fire.review.FireResult` (and optionally the proposed
sites of :mod:`gis.fire.siting`) into one ``.xlsx`` with Chinese (or English) headers:

============ ===================== ==========================================================
sheet (zh)   sheet (en)            content
============ ===================== ==========================================================
乡镇覆盖统计 Township coverage     per township: forest and high-risk forest (ha), shares seen
                                   by ≥1 / ≥2 cameras and within water reach, high-risk forest
                                   with neither (ha), gap patches and their area; total row
监控点统计   Cameras               per camera: type, mast height, range, forest and high-risk
                                   forest seen, forest only it sees (ha)
水源点统计   Water sources         per source: type, usable (and why not), reach distance and
                                   rise, dip site, road distance, forest reached, forest only
                                   it reaches (ha)
覆盖空白区   Gaps                  the ranked gap patches (:mod:`gis.fire.gaps`) with a lon/lat
拟建站点     Proposed sites        the chosen new camera / water sites in order, with gains
说明         Notes                 options, totals, weather level, date and the analysis notes
============ ===================== ==========================================================

Shares are written as fractions with a ``0.0%`` number format, so the cell values equal the
analysis' own numbers. :func:`write_fire_files` writes the workbook and the map files into a folder:

``fire.xlsx``
    :func:`fire_workbook`.
``fire.gpkg``
    Layers ``gaps`` (polygons) and ``sites`` (points), EPSG:4490, plus the attribute tables
    ``townships``, ``camera_stats``, ``source_stats`` (English field names as in the analysis).
``fire.geojson``
    One FeatureCollection of the gaps and the sites, each feature with a ``layer`` property
    (``gaps`` / ``sites``); lon/lat, no ``crs`` member (RFC 7946).
``fire.kml``
    For Ovital (奥维) and Google Earth: folders 覆盖空白区 (polygons, coloured by class) and
    拟建站点 (placemarks), names and field labels in the file's language.
``coverage_count.tif`` / ``reach_count.tif``
    uint16: cameras seeing each cell / water sources reaching it (left out without cameras /
    sources), on the analysis grid (the DEM's when the DEM is metric).
``risk_level.tif``
    uint8 static risk level 1..5, 0 = not forest (nodata 0).
``day_level.tif``
    uint8 the day's risk level with the weather (nodata 0), only when a weather day was given.
``coverage_all.png/pdf``, ``coverage_<township>.png/pdf``
    The printable A4 maps (:func:`gis.report.fire_map.coverage_maps_batch`) when ``maps`` is true.
"""

from __future__ import annotations

import datetime as _dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gis.fire.gaps import GAP_CLASSES, GAP_COLUMNS
from gis.fire.headers import HEADERS, SHEETS, WORDS, header
from gis.fire.review import TOTAL, FireResult
from gis.fire.siting import SITE_COLUMNS, SitingResult
from gis.fire.water_reach import REASONS
from gis.report.formats import (
    for_ogr,
    kml_document,
    kml_folder,
    kml_geometry,
    kml_sub,
    kml_value,
    tagged_geojson,
    xml_escape,
)
from gis.report.sheets import write_sheet
from layers.catalogue import spec as get_spec
from layers.raster import Raster, write_raster
from layers.settings import STORAGE_CRS
from layers.text import Text, other

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["HEADERS", "SHEETS", "KML_FOLDERS", "header", "fire_workbook", "write_fire_files", "fire_summary",
           "fire_layers", "fire_geojson", "fire_kml", "site_frame", "township_rows", "camera_rows", "source_rows",
           "gap_rows", "site_rows", "map_layers"]

#: KML folder of each layer
KML_FOLDERS: dict[str, Text] = {"gaps": SHEETS["gaps"], "sites": SHEETS["sites"]}

_SHARES = {"seen_share", "seen2_share", "high_seen_share", "high_seen2_share", "reach_share", "high_reach_share",
           "gain_share", "cumulative_share"}
_ONE_DECIMAL = {"forest_ha", "high_ha", "both_gap_ha", "gap_ha", "forest_seen_ha", "high_seen_ha", "only_ha",
                "sole_forest_ha", "reach_forest_ha", "area_ha", "gain_ha", "cumulative_ha", "height", "elevation"}
_WHOLE = {"range", "distance_m", "rise_m", "road_distance_m", "road_dist_m", "source_dist_m", "cells", "gap_count"}
#: fields of the KML placemarks (``gap_label`` / ``kind_label``: the class / kind in the file's language)
_KML_FIELDS = {
    "gaps": ("rank", "gap_label", "area_ha", "township", "road_name", "road_dist_m", "source_name", "source_dist_m"),
    "sites": ("order", "kind_label", "name", "gain_ha", "cumulative_share", "elevation", "road_dist_m"),
}
_KML_HEAD = {"gap_label": "gap_zh", "kind_label": "kind"}
#: GeoPackage table fields whose header is another key's, per table
_ALIAS_KEY = {"source_stats": {"reason": "reason_code", "reason_zh": "reason", "reason_en": "reason",
                               "forest_ha": "reach_forest_ha"},
              "gaps": {"gap": "gap_code"}}
#: words of the files that are not headers
_T = {
    "kml_title": Text("森林防火覆盖空白区与拟建站点", "Forest-fire coverage gaps and proposed sites", "kml_title"),
    "kml_first": Text("按排序前 {n} 处（共 {total} 处，全部见 GeoPackage / GeoJSON）",
                      "the first {n} of {total} by rank (all of them in the GeoPackage / GeoJSON)", "kml_first"),
    "gap_name": Text("第 {rank} 处 {gap} {ha} 公顷", "#{rank} {gap} {ha} ha", "gap_name"),
    "season": Text("季节", "Season", "season"),
    "target_h": Text("监测目标高度（米）", "Camera target height (m)", "target_h"),
    "curvature": Text("地球曲率与大气折光", "Earth curvature and refraction", "curvature"),
    "min_gap": Text("空白区最小面积（公顷）", "Smallest gap patch (ha)", "min_gap"),
    "forest": Text("林地面积（公顷）", "Forest (ha)", "forest"),
    "high": Text("高火险林地（公顷，风险等级 ≥ 4）", "High-risk forest (ha, level >= 4)", "high"),
    "seen": Text("林地监控覆盖率", "Forest seen by a camera", "seen"),
    "high_seen": Text("高火险林地监控覆盖率", "High-risk forest seen by a camera", "high_seen"),
    "reach": Text("林地水源可达率", "Forest within water reach", "reach"),
    "high_reach": Text("高火险林地水源可达率", "High-risk forest within water reach", "high_reach"),
    "gaps": Text("覆盖空白区（处 / 公顷）", "Gap patches (count / ha)", "gaps"),
    "weather_level": Text("当日森林火险气象等级", "Day's fire-weather danger level", "weather_level"),
    "weather_value": Text("{label}（{index}）", "{label} ({index})", "weather_value"),
    "weather_inputs": Text("气象输入", "Weather inputs", "weather_inputs"),
    "weather_words": Text("最高气温 {t}℃，14 时相对湿度 {rh}%，连续无雨 {days} 天，最大风力 {wind} 级",
                          "max temperature {t} °C, 14:00 humidity {rh}%, {days} days without rain, wind force {wind}",
                          "weather_words"),
    "rain_words": Text("，降水 {rain} 毫米", ", rain {rain} mm", "rain_words"),
    "weights": Text("火险因子权重", "Risk factor weights", "weights"),
    "rules": Text("水源可达规则", "Water reach rules", "rules"),
    "max_road": Text("水源距道路不超过（米）", "Sources at most this far from a road (m)", "max_road"),
    "township": Text("重点乡镇", "Township in focus", "township"),
    "date": Text("生成日期", "Date", "date"),
    "method": Text("方法说明", "Method", "method"),
    "method_words": Text("视域按数字高程模型计算（未计植被与建筑遮挡）；水源可达按各类水源的供水距离与扬程高差规则；"
                         "高火险为静态火险等级 4–5 级的林地",
                         "viewsheds from the DEM (vegetation and buildings not modelled); water reach by each source "
                         "type's distance and rise rules; high risk is static risk level 4-5 forest", "method_words"),
    "note": Text("提示", "Note", "note"),
    "sub_seen": Text("高火险林地监控覆盖 {v}", "high-risk forest seen {v}", "sub_seen"),
    "sub_reach": Text("水源可达 {v}", "within water reach {v}", "sub_reach"),
    "sep": Text("，", ", ", "sep"),
}
# KML colours are aabbggrr
_KML_STYLES = {
    "gap_both": {"line": "ff0000d0", "width": "2", "poly": "660000d0"},
    "gap_unseen": {"line": "ff0080ff", "width": "2", "poly": "550080ff"},
    "gap_out_of_reach": {"line": "ffd07000", "width": "2", "poly": "55d07000"},
    "site_camera": {"icon": "ff0000ff", "scale": "1.3"},
    "site_water": {"icon": "ffff8000", "scale": "1.3"},
}
_HEAD_FILL = "FCE4D6"


def _w(key: str, lang: str) -> str:
    return WORDS[key](lang)


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")


def _sites_of(result: FireResult, sites: Any) -> Any:
    """The sites to write: those given, else the review's own."""
    return sites if sites is not None else (list(result.sites) or None)


# ---- sites ----------------------------------------------------------------------------------------

def site_frame(sites: Any) -> gpd.GeoDataFrame:
    """Proposed sites as one GeoDataFrame (EPSG:4490, :data:`gis.fire.siting.SITE_COLUMNS`).

    Parameters
    ----------
    sites : None, GeoDataFrame, SitingResult or a sequence of these
        E.g. ``[site_cameras(...), site_water(...)]``; concatenated in the order given.
    """
    if sites is None:
        parts: list = []
    elif isinstance(sites, (gpd.GeoDataFrame, SitingResult)):
        parts = [sites]
    else:
        parts = list(sites)
    frames = [p.sites if isinstance(p, SitingResult) else p for p in parts]
    frames = [f.to_crs(STORAGE_CRS) if f.crs is not None else f.set_crs(STORAGE_CRS) for f in frames
              if f is not None and len(f)]
    if not frames:
        return gpd.GeoDataFrame({c: [] for c in SITE_COLUMNS}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
                                crs=STORAGE_CRS)
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=STORAGE_CRS)
    return out


# ---- sheet contents (DataFrames with column keys) ------------------------------------------------

def township_rows(analysis: FireResult, *, lang: str = "zh") -> pd.DataFrame:
    """The 乡镇覆盖统计 rows: :attr:`FireResult.townships` with the gap patches per township; total last.

    Columns ``township`` and those of :func:`gis.fire.review.township_table`, plus ``gap_count``
    and ``gap_ha`` (the ranked patches of :attr:`FireResult.gaps` in the township). Shares are
    NaN (an empty cell) where there are no cameras / sources.
    """
    t = analysis.townships.copy()
    if analysis.seen is None:
        for c in ("seen_share", "seen2_share", "high_seen_share", "high_seen2_share"):
            t[c] = np.nan
    if analysis.reach is None:
        for c in ("reach_share", "high_reach_share"):
            t[c] = np.nan
    g = analysis.gaps
    by = g.groupby(g["township"].astype(str)) if len(g) else None
    t["gap_count"] = [int(len(g)) if name == TOTAL else (int(by.size().get(str(name), 0)) if by is not None else 0)
                      for name in t.index]
    t["gap_ha"] = [round(float(g["area_ha"].sum()), 1) if name == TOTAL else
                   (round(float(by["area_ha"].sum().get(str(name), 0.0)), 1) if by is not None else 0.0)
                   for name in t.index]
    names = [(_w("total", lang) if n == TOTAL else (_w("none", lang) if n == "—" else n)) for n in t.index]
    t.insert(0, "township", names)
    return t.reset_index(drop=True)


def camera_rows(analysis: FireResult, *, lang: str = "zh") -> pd.DataFrame:
    """The 监控点统计 rows (:attr:`FireResult.cameras`, type as a label), most forest seen first."""
    cols = ["name", "type", "township", "height", "range", "forest_seen_ha", "high_seen_ha", "only_ha"]
    c = analysis.cameras
    if c is None or not len(c):
        return pd.DataFrame(columns=cols)
    out = c.copy()
    tf = get_spec("cameras").field("type")
    out["type"] = out["type"].map(lambda v: tf.choice_label(v, lang) if isinstance(v, str) else v)
    for k in cols:
        if k not in out:
            out[k] = np.nan
    return out[cols].sort_values("forest_seen_ha", ascending=False, kind="stable").reset_index(drop=True)


def _num(frame: pd.DataFrame, key: str) -> pd.Series:
    """Column ``key`` as numbers (NaN where missing or not a number; all NaN without the column)."""
    return pd.to_numeric(frame.get(key, pd.Series(np.nan, index=frame.index)), errors="coerce")


def source_rows(analysis: FireResult, *, lang: str = "zh") -> pd.DataFrame:
    """The 水源点统计 rows (:attr:`FireResult.sources`): usable ones first, by forest reached."""
    cols = ["name", "type", "usable", "reason", "distance_m", "rise_m", "dip_site", "road_distance_m",
            "reach_forest_ha", "sole_forest_ha"]
    s = analysis.sources
    if s is None or not len(s):
        return pd.DataFrame(columns=cols)
    tf = get_spec("water_sources").field("type")
    yes, no = _w("yes", lang), _w("no", lang)
    usable = s["usable"].astype(bool) if "usable" in s else pd.Series(True, index=s.index)
    code = s["reason"] if "reason" in s else pd.Series("", index=s.index)
    reason = code.map(lambda c: REASONS[c](lang) if c in REASONS else (c if isinstance(c, str) else ""))
    out = pd.DataFrame({
        "name": s.get("name", pd.Series([None] * len(s), index=s.index)),
        "type": s.get("type", pd.Series([None] * len(s), index=s.index)).map(
            lambda v: tf.choice_label(v, lang) if isinstance(v, str) else v),
        "usable": usable.map(lambda v: yes if v else no), "_u": usable.astype(int),
        "reason": reason.where(~usable, "").fillna(""),
        "distance_m": _num(s, "distance_m"),
        "rise_m": _num(s, "rise_m"),
        "dip_site": s.get("dip_site", pd.Series(False, index=s.index)).map(
            lambda v: yes if bool(v) and not pd.isna(v) else no),
        "road_distance_m": _num(s, "road_distance_m").round(0),
        "reach_forest_ha": _num(s, "forest_ha").round(1),
        "sole_forest_ha": _num(s, "sole_forest_ha").round(1)})
    out = out.sort_values(["_u", "reach_forest_ha"], ascending=False, kind="stable")
    return out[cols].reset_index(drop=True)


def gap_rows(analysis: FireResult, *, lang: str = "zh") -> pd.DataFrame:
    """The 覆盖空白区 rows: the ranked gaps (:data:`gis.fire.gaps.GAP_COLUMNS`) with a point's lon/lat."""
    cols = ["rank", "gap_zh", "area_ha", "cells", "township", "road_dist_m", "road_name", "source_dist_m",
            "source_name", "lon", "lat"]
    g = analysis.gaps
    if g is None or not len(g):
        return pd.DataFrame(columns=cols)
    pts = g.to_crs(STORAGE_CRS).geometry.representative_point()
    out = pd.DataFrame(g.drop(columns=g.geometry.name)).copy()
    out["gap_zh"] = out["gap"].map(lambda k: GAP_CLASSES[k](lang) if k in GAP_CLASSES else k)
    out["lon"], out["lat"] = pts.x.round(6).to_numpy(), pts.y.round(6).to_numpy()
    return out[cols].reset_index(drop=True)


def site_rows(sites: Any, *, lang: str = "zh") -> pd.DataFrame:
    """The 拟建站点 rows: the sites (:func:`site_frame`) with their kind and origin as words and lon/lat."""
    cols = ["order", "kind", "name", "origin", "gain_ha", "gain_share", "cumulative_ha", "cumulative_share",
            "elevation", "road_dist_m", "lon", "lat"]
    s = site_frame(sites)
    if not len(s):
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(s.drop(columns="geometry")).copy()
    out["kind"] = out["kind"].map(lambda k: _w(k, lang) if k in WORDS else k)
    out["origin"] = out["origin"].map(lambda k: _w(k, lang) if k in WORDS else k)
    out["lon"], out["lat"] = s.geometry.x.round(6).to_numpy(), s.geometry.y.round(6).to_numpy()
    return out[cols].reset_index(drop=True)


def fire_summary(analysis: FireResult, sites: Any = None) -> dict:
    """Headline figures of a review (the total row of the township table, the gaps, the sites, the weather).

    Returns
    -------
    dict
        ``forest_ha``, ``high_risk_ha``, ``seen_share``, ``high_seen_share`` (None without
        cameras), ``reach_share``, ``high_reach_share`` (None without sources), ``both_gap_ha``,
        ``gaps``, ``gap_ha``, ``gaps_by_class`` (count and ha per class), ``sites`` (count per kind),
        ``weather_level`` (None without a weather day), ``season``, ``target_height``.
    """
    tot = analysis.total

    def share(key: str, have: bool) -> float | None:
        if not have or tot is None or pd.isna(tot[key]):
            return None
        return round(float(tot[key]), 6)

    g = analysis.gaps
    by_class = {k: {"count": int((g["gap"] == k).sum()) if len(g) else 0,
                    "ha": round(float(g.loc[g["gap"] == k, "area_ha"].sum()), 1) if len(g) else 0.0}
                for k in GAP_CLASSES}
    s = site_frame(sites)
    return {"forest_ha": round(float(tot["forest_ha"]), 1) if tot is not None else 0.0,
            "high_risk_ha": round(float(tot["high_ha"]), 1) if tot is not None else 0.0,
            "seen_share": share("seen_share", analysis.seen is not None),
            "high_seen_share": share("high_seen_share", analysis.seen is not None),
            "reach_share": share("reach_share", analysis.reach is not None),
            "high_reach_share": share("high_reach_share", analysis.reach is not None),
            "both_gap_ha": round(float(tot["both_gap_ha"]), 1) if tot is not None else 0.0,
            "gaps": int(len(g)), "gap_ha": round(float(g["area_ha"].sum()), 1) if len(g) else 0.0,
            "gaps_by_class": by_class,
            "sites": {k: int((s["kind"] == k).sum()) for k in ("camera", "water")} if len(s) else
            {"camera": 0, "water": 0},
            "weather_level": int(analysis.weather.level) if analysis.weather else None,
            "season": analysis.review.season, "target_height": analysis.review.target_h}


def _notes_rows(analysis: FireResult, sites: Any, *, lang: str, date: str | None) -> list[tuple[str, Any]]:
    s = fire_summary(analysis, sites)
    opt = analysis.review

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    rows: list[tuple[Text, Any]] = [
        (_T["season"], _w(opt.season, lang) if opt.season in WORDS else opt.season),
        (_T["target_h"], opt.target_h),
        (_T["curvature"], _w("yes" if opt.curvature else "no", lang)),
        (_T["min_gap"], opt.min_gap_ha),
    ]
    if opt.weights:
        rows.append((_T["weights"], ", ".join(f"{k}={v:g}" for k, v in opt.weights)))
    if opt.rules:
        rows.append((_T["rules"], opt.rules_text()))
    if opt.max_road_m is not None:
        rows.append((_T["max_road"], opt.max_road_m))
    if opt.township:
        rows.append((_T["township"], opt.township))
    rows += [
        (_T["forest"], s["forest_ha"]),
        (_T["high"], s["high_risk_ha"]),
        (_T["seen"], pct(s["seen_share"])),
        (_T["high_seen"], pct(s["high_seen_share"])),
        (_T["reach"], pct(s["reach_share"])),
        (_T["high_reach"], pct(s["high_reach_share"])),
        (_T["gaps"], f"{s['gaps']} / {s['gap_ha']:,.1f}"),
    ]
    if analysis.weather:
        w = analysis.weather
        rows.append((_T["weather_level"], _T["weather_value"](lang).format(label=w.label(lang), index=f"{w.index:g}")))
        i = w.inputs
        words = _T["weather_words"](lang).format(t=f"{i.tmax:g}", rh=f"{i.rh:g}", days=f"{i.dry_days:g}",
                                                 wind=f"{i.wind:g}")
        if i.rain is not None:
            words += _T["rain_words"](lang).format(rain=f"{i.rain:g}")
        rows.append((_T["weather_inputs"], words))
    rows.append((_T["date"], date or _dt.date.today().isoformat()))
    rows.append((_T["method"], _T["method_words"](lang)))
    for n in analysis.messages(lang):
        rows.append((_T["note"], n))
    return [(k(lang), v) for k, v in rows]


# ---- the workbook --------------------------------------------------------------------------------

def _number_format(key: str) -> str | None:
    if key in _SHARES:
        return "0.0%"
    if key in _ONE_DECIMAL:
        return "#,##0.0"
    if key in _WHOLE:
        return "#,##0"
    return None


def _write_sheet(wb: Workbook, title: str, df: pd.DataFrame, keys: list[str], lang: str, *,
                 total_rows: Sequence[int] = ()) -> None:
    write_sheet(wb, title, df, keys, [header(k, lang) for k in keys], number_format=_number_format,
                fill=_HEAD_FILL, total_rows=total_rows)


def fire_workbook(analysis: FireResult, sites: Any = None, lang: str = "zh", *, date: str | None = None) -> bytes:
    """The forest-fire review as an ``.xlsx`` workbook (sheets in the module docstring).

    Parameters
    ----------
    analysis : FireResult
        From :meth:`gis.fire.review.FireReview.run`.
    sites : GeoDataFrame, SitingResult or a sequence of these, optional
        Proposed sites (:func:`gis.fire.siting.site_cameras` / :func:`gis.fire.siting.site_water`); the
        拟建站点 sheet is empty without them.
    lang : {'zh', 'en'}
        Language of sheet names, headers and text cells.
    date : str, optional
        Date written in the notes; default today.

    Returns
    -------
    bytes
        The workbook file.
    """
    _check_lang(lang)
    from openpyxl import Workbook  # heavy: imported when a workbook is written, not when the Fire page opens
    from openpyxl.styles import Alignment

    sites = _sites_of(analysis, sites)
    wb = Workbook()
    wb.remove(wb.active)
    towns = township_rows(analysis, lang=lang)
    _write_sheet(wb, SHEETS["townships"](lang), towns, list(towns.columns), lang,
                 total_rows=[len(towns) - 1] if len(towns) else [])
    for key, rows in (("cameras", camera_rows(analysis, lang=lang)), ("sources", source_rows(analysis, lang=lang)),
                      ("gaps", gap_rows(analysis, lang=lang)), ("sites", site_rows(sites, lang=lang))):
        _write_sheet(wb, SHEETS[key](lang), rows, list(rows.columns), lang)
    notes = pd.DataFrame(_notes_rows(analysis, sites, lang=lang, date=date), columns=["item", "value"])
    _write_sheet(wb, SHEETS["notes"](lang), notes, ["item", "value"], lang)
    ws = wb[SHEETS["notes"](lang)]
    ws.column_dimensions["B"].width = 90
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---- map layers ------------------------------------------------------------------------------------

def fire_layers(analysis: FireResult, sites: Any = None, lang: str = "zh") -> dict[str, gpd.GeoDataFrame]:
    """The map layers ``gaps`` (polygons, :data:`gis.fire.gaps.GAP_COLUMNS`) and ``sites`` (points), EPSG:4490.

    The gap class and the site kind in words are in ``lang``: ``gap_zh`` / ``kind_zh`` in Chinese,
    ``gap_en`` / ``kind_en`` in English (the codes ``gap`` / ``kind`` are in both). Sites default
    to the review's own.
    """
    _check_lang(lang)
    g = analysis.gaps
    if g is None or not len(g):
        g = gpd.GeoDataFrame({c: [] for c in GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
                             crs=STORAGE_CRS)
    else:
        g = g.to_crs(STORAGE_CRS)
    # the gap class in words in the file's language, where the analysis put its Chinese words
    at = g.columns.get_loc("gap_zh") if "gap_zh" in g else min(2, len(g.columns) - 1)
    words = g["gap"].map(lambda k: GAP_CLASSES[k](lang) if k in GAP_CLASSES else k)
    g = g.drop(columns=[c for c in ("gap_zh",) if c in g])
    g.insert(at, f"gap_{lang}", words.astype(object))
    s = site_frame(_sites_of(analysis, sites))
    s = s.drop(columns=[c for c in ("row", "col") if c in s])
    kind = f"kind_{lang}"
    s[kind] = s["kind"].map(lambda k: _w(k, lang) if k in WORDS else k) if len(s) else pd.Series([], dtype=object)
    return {"gaps": g, "sites": s}


def fire_geojson(layers: Mapping[str, gpd.GeoDataFrame]) -> bytes:
    """One GeoJSON FeatureCollection of the gaps and sites, each feature tagged with ``layer``.

    Parameters
    ----------
    layers : mapping
        From :func:`fire_layers`.

    Returns
    -------
    bytes
        UTF-8 GeoJSON (lon/lat, EPSG:4490 numbers, no ``crs`` member); see
        :func:`gis.report.plan_files.tagged_geojson`.
    """
    return tagged_geojson(dict(layers), ("gaps", "sites"))


def _kml_value(v: Any, key: str, lang: str = "zh") -> str | None:
    """A KML field value: shares as percentages, the rest as :func:`gis.report.formats.kml_value` writes them."""
    if key in _SHARES and isinstance(v, (int, float, np.number)) and np.isfinite(v):
        return f"{float(v):.1%}"
    return kml_value(v, key, lang)


#: gap outlines in the KML are simplified to this tolerance (metres, under one 30 m cell): the cell
#: staircase becomes straight edges, which keeps a prefecture's KML light enough for Ovital
KML_SIMPLIFY_M = 25.0
#: at most this many gaps (the first by rank) go into the KML; all of them are in the GeoPackage/GeoJSON
KML_MAX_GAPS = 3000


def _simplified(gdf: gpd.GeoDataFrame, tol_m: float = KML_SIMPLIFY_M) -> gpd.GeoDataFrame:
    from layers.crs import metric_crs

    metric = metric_crs(tuple(float(v) for v in gdf.to_crs(4326).total_bounds))
    m = gdf.to_crs(metric)
    geom = m.geometry.simplify(tol_m, preserve_topology=True)
    return m.set_geometry(geom.where(~geom.is_empty, m.geometry)).to_crs(gdf.crs)


def fire_kml(layers: Mapping[str, gpd.GeoDataFrame], *, title: str | None = None, lang: str = "zh") -> bytes:
    """The gaps and sites as KML for Ovital (奥维) and Google Earth.

    Parameters
    ----------
    layers : mapping
        From :func:`fire_layers`.
    title : str, optional
        Document name (default "森林防火覆盖空白区与拟建站点" in the file's language).
    lang : {'zh', 'en'}
        Language of the folder names, placemark names and field labels.

    Returns
    -------
    bytes
        UTF-8 KML 2.2: folders 覆盖空白区 (one polygon placemark per gap, "第 N 处 类型 面积"; outlines
        simplified to :data:`KML_SIMPLIFY_M`; the first :data:`KML_MAX_GAPS` by rank) and
        拟建站点 (one point placemark per site, "拟建监控点 C3"), each present even when empty.
    """
    _check_lang(lang)
    root, doc = kml_document(title or _T["kml_title"](lang), _KML_STYLES)
    for layer, folder_name in KML_FOLDERS.items():
        folder = kml_folder(doc, folder_name(lang))
        df = layers.get(layer)
        if df is None or not len(df):
            continue
        if layer == "gaps":
            if len(df) > KML_MAX_GAPS:
                df = df.sort_values("rank").head(KML_MAX_GAPS)
                kml_sub(folder, "description", _T["kml_first"](lang).format(n=KML_MAX_GAPS,
                                                                              total=f"{len(layers[layer]):,}"))
            if df.crs is not None:
                df = _simplified(df)
        df = df.to_crs(STORAGE_CRS) if df.crs is not None else df
        for _, row in df.iterrows():
            pm = kml_sub(folder, "Placemark")
            if layer == "gaps":
                label = GAP_CLASSES[row["gap"]](lang) if row.get("gap") in GAP_CLASSES else str(row.get("gap", ""))
                row = row.copy()
                row["gap_label"] = label
                name = _T["gap_name"](lang).format(rank=int(row["rank"]), gap=label, ha=f"{float(row['area_ha']):.1f}")
                style = f"gap_{row.get('gap')}" if f"gap_{row.get('gap')}" in _KML_STYLES else "gap_both"
            else:
                row = row.copy()
                row["kind_label"] = _w(row.get("kind"), lang) if row.get("kind") in WORDS else row.get("kind") or ""
                name = f"{row['kind_label']} {row.get('name') or ''}".strip()
                style = "site_water" if row.get("kind") == "water" else "site_camera"
            kml_sub(pm, "name", name)
            pairs = [(header(_KML_HEAD.get(key, key), lang), _kml_value(row.get(key), key, lang))
                     for key in _KML_FIELDS[layer] if key in row.index]
            shown = [(k, v) for k, v in pairs if v is not None and v != ""]
            kml_sub(pm, "description",
                    "<table>" + "".join(f"<tr><td>{k}</td><td>{xml_escape(v)}</td></tr>" for k, v in shown)
                    + "</table>")
            kml_sub(pm, "styleUrl", f"#{style}")
            ext = kml_sub(pm, "ExtendedData")
            for k, v in pairs:
                kml_sub(kml_sub(ext, "Data", name=k), "value", v)
            kml_geometry(pm, row.geometry)
    if sum(len(v) for v in layers.values() if v is not None) <= 500:
        ET.indent(root)   # readable when small; a prefecture's file stays compact
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


# ---- all files ---------------------------------------------------------------------------------------

def _rasters(analysis: FireResult, out_dir: Path) -> list[Path]:
    grid = analysis.grid
    out: list[Path] = []

    def put(name: str, array: np.ndarray | None, dtype: str, nodata: float | None) -> None:
        if array is None:
            return
        path = out_dir / name
        write_raster(Raster(np.asarray(array).astype(dtype), grid.transform, grid.crs, nodata, name=name), path,
                     dtype=dtype)
        out.append(path)

    put("coverage_count.tif", analysis.seen, "uint16", None)
    put("reach_count.tif", analysis.reach.count if analysis.reach is not None else None, "uint16", None)
    put("risk_level.tif", analysis.risk.level, "uint8", 0)
    put("day_level.tif", analysis.day_level, "uint8", 0)
    return out


def _map_layers(analysis: FireResult, fl: Mapping[str, gpd.GeoDataFrame], layers: Mapping[str, Any] | None
                ) -> dict[str, Any]:
    m: dict[str, Any] = {k: v for k, v in (layers or {}).items()
                         if k in ("cameras", "water_sources", "roads", "boundaries", "townships", "forest", "grids")}
    if analysis.seen is not None:
        m["coverage"] = analysis.seen
    if analysis.reach is not None:
        m["water_reach"] = analysis.reach.count > 0
    m["high_risk"] = analysis.high_risk
    if len(fl["gaps"]):
        m["gaps"] = fl["gaps"]
    if len(fl["sites"]):
        m["proposed"] = fl["sites"]
    return m


def _subtitles(analysis: FireResult, lang: str) -> dict[str, str]:
    out = {}
    for name, r in analysis.townships.iterrows():
        parts = []
        if analysis.seen is not None and not pd.isna(r["high_seen_share"]):
            parts.append(_T["sub_seen"](lang).format(v=f"{r['high_seen_share']:.1%}"))
        if analysis.reach is not None and not pd.isna(r["high_reach_share"]):
            parts.append(_T["sub_reach"](lang).format(v=f"{r['high_reach_share']:.1%}"))
        out["" if name == TOTAL else str(name)] = _T["sep"](lang).join(parts)
    return out


def _plain_values(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns with only str / int / float / bool / None (what OGR can write)."""
    df = pd.DataFrame(df).copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                              (v if isinstance(v, (str, int, float, bool)) else str(v)))
    return df


def _gpkg_tables(analysis: FireResult, lang: str) -> dict[str, pd.DataFrame]:
    """The attribute tables of ``fire.gpkg`` (English field names; words in ``lang``)."""
    towns = analysis.townships.reset_index()
    total = Text(TOTAL, WORDS["total"].en, "total")(lang)    # the Chinese file keeps the analysis' own name
    towns["township"] = towns["township"].map(lambda n: total if n == TOTAL else n)
    src = analysis.sources
    if src is not None and len(src):
        src = src.drop(columns=[c for c in (f"reason_{other(lang)}",) if c in src])
    cams = analysis.cameras
    return {"townships": towns, "camera_stats": cams, "source_stats": src}


def _write_aliases(gpkg: Path, aliases: Mapping[str, Mapping[str, str]]) -> None:
    """Field aliases (the headers in the file's language) in ``gpkg_data_columns`` (GeoPackage schema extension).

    QGIS and GDAL (3.3 and later) show ``name`` as the field's alias.
    """
    import sqlite3

    con = sqlite3.connect(gpkg)
    try:
        con.execute("CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT "
                    "NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
                    "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE "
                    "(table_name, name))")
        con.execute("CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name "
                    "TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE "
                    "(table_name, column_name, extension_name))")
        for ext in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            if not con.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = "
                               "'gpkg_schema'", (ext,)).fetchone():
                con.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', "
                            "'http://www.geopackage.org/spec121/#extension_schema', 'read-write')", (ext,))
        for table, cols in aliases.items():
            used: set[str] = set()
            for col, alias in cols.items():
                name = alias if alias not in used else f"{alias} ({col})"
                used.add(name)
                con.execute("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title) "
                            "VALUES (?, ?, ?, ?)", (table, col, name, name))
        con.commit()
    finally:
        con.close()


def write_fire_files(analysis: FireResult, out_dir: Path | str, *, sites: Any = None, lang: str = "zh",
                     maps: bool = True, layers: Mapping[str, Any] | None = None, date: str | None = None,
                     map_dpi: int | None = None, townships: Sequence[str] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write the review's files into a folder (list in the module docstring).

    Parameters
    ----------
    analysis : FireResult
        From :meth:`gis.fire.review.FireReview.run`.
    out_dir : Path or str
        Folder (created when missing); existing files of the same names are replaced.
    sites : GeoDataFrame, SitingResult or a sequence of these, optional
        Proposed sites (default the review's own, :attr:`FireResult.sites`).
    lang : {'zh', 'en'}
        Language of the workbook, the KML, the GeoPackage aliases and the maps.
    maps : bool
        Also write the A4 coverage maps (whole area and per township).
    layers : mapping, optional
        The workspace's vector layers (``cameras``, ``water_sources``, ``roads``, ``forest``,
        ``grids``, ``townships``) drawn on the maps and giving the township boundaries (default
        the review's own, :attr:`FireResult.layers`).
    date : str, optional
        Date in the workbook notes and on the maps; default today.
    map_dpi : int, optional
        PNG resolution of the maps (default :data:`gis.report.fire_map.DPI`, 300).
    townships : sequence of str, optional
        Townships to map (default the review's township in focus, else all).

    progress : callable, optional
        Called with ``(steps done, steps in all)``: the files, then each map page.

    Returns
    -------
    list of Path
        The files written: ``fire.xlsx``, ``fire.gpkg``, ``fire.geojson``, ``fire.kml``, the
        GeoTIFFs, then the maps.
    """
    _check_lang(lang)
    sites = _sites_of(analysis, sites)
    layers = analysis.layers if layers is None else layers
    if townships is None and analysis.review.township:
        townships = [analysis.review.township]
    total, done = 4 + bool(maps), [0]   # the maps' own count is known when they start

    def step() -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)
    if progress:
        progress(0, total)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    xlsx = out_dir / "fire.xlsx"
    xlsx.write_bytes(fire_workbook(analysis, sites, lang, date=date))
    written.append(xlsx)
    step()

    fl = fire_layers(analysis, sites, lang)
    gpkg = out_dir / "fire.gpkg"
    for p in (gpkg, Path(str(gpkg) + "-journal"), Path(str(gpkg) + "-wal")):
        if p.exists():
            p.unlink()
    for name in ("gaps", "sites"):
        df = fl[name]
        geom = "MultiPolygon" if name == "gaps" else "Point"
        pyogrio.write_dataframe(for_ogr(df), gpkg, layer=name, driver="GPKG", geometry_type=geom)
    aliases = {name: {c: header(_ALIAS_KEY.get(name, {}).get(c, c), lang) for c in fl[name].columns if c != "geometry"}
               for name in ("gaps", "sites")}
    for name, df in _gpkg_tables(analysis, lang).items():
        if df is None or not len(df):
            continue
        pyogrio.write_dataframe(_plain_values(df), gpkg, layer=name, driver="GPKG")
        aliases[name] = {c: header(_ALIAS_KEY.get(name, {}).get(c, c), lang) for c in df.columns}
    _write_aliases(gpkg, aliases)
    written.append(gpkg)
    step()

    geojson = out_dir / "fire.geojson"
    geojson.write_bytes(fire_geojson(fl))
    kml = out_dir / "fire.kml"
    kml.write_bytes(fire_kml(fl, lang=lang))
    written += [geojson, kml]
    step()
    written += _rasters(analysis, out_dir)
    step()

    if maps:
        from gis.report.fire_map import DPI, coverage_maps_batch

        written += coverage_maps_batch(out_dir, dem=analysis.grid, layers=_map_layers(analysis, fl, layers),
                                       townships=townships, lang=lang, date=date, dpi=map_dpi or DPI,
                                       subtitles=_subtitles(analysis, lang),
                                       progress=(lambda d, n: progress(4 + d, 4 + n)) if progress else None)
    return written


def map_layers(analysis: FireResult, sites: Any = None, layers: Mapping[str, Any] | None = None) -> dict:
    """The layers of the A4 coverage map (:func:`gis.report.fire_map.coverage_map`) of a review (its own sites
    and vector layers unless others are given)."""
    return _map_layers(analysis, fire_layers(analysis, _sites_of(analysis, sites)),
                       analysis.layers if layers is None else layers)


def subtitles(analysis: FireResult, lang: str = "zh") -> dict[str, str]:
    """The line under each A4 map's title (township name, ``""`` for the whole area): the high-risk shares."""
    return _subtitles(analysis, lang)
