"""The forest-fire coverage review as files: Excel, GeoPackage, GeoJSON, KML, GeoTIFFs and A4 maps.

:func:`fire_workbook` turns a :class:`gis.fire.review.FireAnalysis` (and optionally the proposed
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
    拟建站点 (placemarks), Chinese names and field labels.
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
from pathlib import Path
from typing import Any, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from openpyxl import Workbook
from openpyxl.styles import Alignment, PatternFill

from gis.fire.review import TOTAL, FireAnalysis
from gis.fire.gaps import GAP_CLASSES, GAP_COLUMNS
from gis.report.sheets import write_sheet
from gis.report.formats import for_ogr, kml_document, kml_folder, kml_geometry, kml_sub, kml_value, tagged_geojson, xml_escape
from gis.fire.siting import SITE_COLUMNS, SitingResult
from layers.catalogue import spec as get_spec
from layers.raster import Raster, write_raster
from layers.settings import STORAGE_CRS

__all__ = ["HEADERS", "SHEETS", "KML_FOLDERS", "fire_workbook", "write_fire_files", "fire_summary", "fire_layers",
           "fire_geojson", "fire_kml", "site_frame", "township_rows", "camera_rows", "source_rows", "gap_rows",
           "site_rows"]

#: column key -> (Chinese header, English header); units in the header
HEADERS: dict[str, tuple[str, str]] = {
    "township": ("乡镇", "Township"),
    "forest_ha": ("林地面积（公顷）", "Forest (ha)"),
    "high_ha": ("高火险林地（公顷）", "High-risk forest (ha)"),
    "seen_share": ("林地监控覆盖率", "Forest seen by ≥1 camera"),
    "seen2_share": ("林地双重监控覆盖率", "Forest seen by ≥2 cameras"),
    "high_seen_share": ("高火险林地监控覆盖率", "High-risk forest seen by ≥1 camera"),
    "high_seen2_share": ("高火险林地双重监控覆盖率", "High-risk forest seen by ≥2 cameras"),
    "reach_share": ("林地水源可达率", "Forest within water reach"),
    "high_reach_share": ("高火险林地水源可达率", "High-risk forest within water reach"),
    "both_gap_ha": ("高火险林地两者皆无（公顷）", "High-risk forest neither seen nor reached (ha)"),
    "gap_count": ("空白区（处）", "Gap patches"),
    "gap_ha": ("空白区面积（公顷）", "Gap area (ha)"),
    # cameras
    "name": ("名称", "Name"),
    "type": ("类型", "Type"),
    "height": ("架设高度（米）", "Mast height (m)"),
    "range": ("监测半径（米）", "Range (m)"),
    "forest_seen_ha": ("可见林地（公顷）", "Forest seen (ha)"),
    "high_seen_ha": ("可见高火险林地（公顷）", "High-risk forest seen (ha)"),
    "only_ha": ("仅此点可见林地（公顷）", "Forest only it sees (ha)"),
    # sources
    "usable": ("是否可用", "Usable"),
    "reason": ("不可用原因", "Reason unusable"),
    "distance_m": ("供水距离（米）", "Reach distance (m)"),
    "rise_m": ("最大扬程高差（米）", "Largest rise (m)"),
    "dip_site": ("直升机取水点", "Helicopter dip site"),
    "road_distance_m": ("距道路（米）", "Distance to road (m)"),
    "sole_forest_ha": ("仅此点可达林地（公顷）", "Forest only it reaches (ha)"),
    "reach_forest_ha": ("可达林地（公顷）", "Forest reached (ha)"),
    # gaps
    "rank": ("排名", "Rank"),
    "gap_zh": ("空白类型", "Gap class"),
    "area_ha": ("面积（公顷）", "Area (ha)"),
    "cells": ("像元数", "Cells"),
    "road_dist_m": ("最近道路距离（米）", "Nearest road (m)"),
    "road_name": ("最近道路", "Nearest road name"),
    "source_dist_m": ("最近可用水源距离（米）", "Nearest usable source (m)"),
    "source_name": ("最近可用水源", "Nearest usable source name"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    # sites
    "order": ("顺序", "Order"),
    "kind": ("站点类型", "Site kind"),
    "origin": ("候选来源", "Candidate origin"),
    "gain_ha": ("新增覆盖（公顷）", "Added cover (ha)"),
    "gain_share": ("新增覆盖占比", "Added share"),
    "cumulative_ha": ("累计覆盖（公顷）", "Cumulative cover (ha)"),
    "cumulative_share": ("累计覆盖率", "Cumulative share"),
    "elevation": ("海拔（米）", "Elevation (m)"),
    # notes
    "item": ("项目", "Item"),
    "value": ("内容", "Value"),
}

#: sheet key -> (Chinese name, English name)
SHEETS: dict[str, tuple[str, str]] = {
    "townships": ("乡镇覆盖统计", "Township coverage"),
    "cameras": ("监控点统计", "Cameras"),
    "sources": ("水源点统计", "Water sources"),
    "gaps": ("覆盖空白区", "Gaps"),
    "sites": ("拟建站点", "Proposed sites"),
    "notes": ("说明", "Notes"),
}

#: KML folder of each layer
KML_FOLDERS = {"gaps": "覆盖空白区", "sites": "拟建站点"}

_WORDS = {
    "yes": ("是", "yes"), "no": ("否", "no"), "total": ("合计", "Total"), "none": ("（无乡镇）", "(no township)"),
    "camera": ("拟建监控点", "proposed camera"), "water": ("拟建水源点", "proposed water point"),
    "ridge": ("山脊/山顶", "ridge/peak"), "stream": ("河道", "stream"), "uploaded": ("上传候选点", "uploaded"),
    "dry": ("旱季", "dry season"), "wet": ("雨季", "wet season"),
}
_SHARES = {"seen_share", "seen2_share", "high_seen_share", "high_seen2_share", "reach_share", "high_reach_share",
           "gain_share", "cumulative_share"}
_ONE_DECIMAL = {"forest_ha", "high_ha", "both_gap_ha", "gap_ha", "forest_seen_ha", "high_seen_ha", "only_ha",
                "sole_forest_ha", "reach_forest_ha", "area_ha", "gain_ha", "cumulative_ha", "height", "elevation"}
_WHOLE = {"range", "distance_m", "rise_m", "road_distance_m", "road_dist_m", "source_dist_m", "cells", "gap_count"}
_KML_FIELDS = {
    "gaps": (("rank", "排名"), ("gap_zh", "空白类型"), ("area_ha", "面积（公顷）"), ("township", "乡镇"),
             ("road_name", "最近道路"), ("road_dist_m", "最近道路距离（米）"), ("source_name", "最近可用水源"),
             ("source_dist_m", "最近可用水源距离（米）")),
    "sites": (("order", "顺序"), ("kind_zh", "站点类型"), ("name", "名称"), ("gain_ha", "新增覆盖（公顷）"),
              ("cumulative_share", "累计覆盖率"), ("elevation", "海拔（米）"), ("road_dist_m", "距道路（米）")),
}
# KML colours are aabbggrr
_KML_STYLES = {
    "gap_both": {"line": "ff0000d0", "width": "2", "poly": "660000d0"},
    "gap_unseen": {"line": "ff0080ff", "width": "2", "poly": "550080ff"},
    "gap_out_of_reach": {"line": "ffd07000", "width": "2", "poly": "55d07000"},
    "site_camera": {"icon": "ff0000ff", "scale": "1.3"},
    "site_water": {"icon": "ffff8000", "scale": "1.3"},
}
_HEAD_FILL = PatternFill("solid", fgColor="FCE4D6")


def _w(key: str, lang: str) -> str:
    return _WORDS[key][0 if lang == "zh" else 1]


def header(key: str, lang: str = "zh") -> str:
    """Display header of a column key (``'high_seen_share'`` -> ``高火险林地监控覆盖率``); unknown keys as given."""
    zh, en = HEADERS.get(key, (key, key))
    return zh if lang == "zh" else en


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")


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

def township_rows(analysis: FireAnalysis, *, lang: str = "zh") -> pd.DataFrame:
    """The 乡镇覆盖统计 rows: :attr:`FireAnalysis.townships` with the gap patches per township; total last.

    Columns ``township`` and those of :func:`gis.fire.review.township_table`, plus ``gap_count``
    and ``gap_ha`` (the ranked patches of :attr:`FireAnalysis.gaps` in the township). Shares are
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


def camera_rows(analysis: FireAnalysis, *, lang: str = "zh") -> pd.DataFrame:
    """The 监控点统计 rows (:attr:`FireAnalysis.cameras`, type as a label), most forest seen first."""
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


def source_rows(analysis: FireAnalysis, *, lang: str = "zh") -> pd.DataFrame:
    """The 水源点统计 rows (:attr:`FireAnalysis.sources`): usable ones first, by forest reached."""
    cols = ["name", "type", "usable", "reason", "distance_m", "rise_m", "dip_site", "road_distance_m",
            "reach_forest_ha", "sole_forest_ha"]
    s = analysis.sources
    if s is None or not len(s):
        return pd.DataFrame(columns=cols)
    tf = get_spec("water_sources").field("type")
    yes, no = _w("yes", lang), _w("no", lang)
    usable = s["usable"].astype(bool) if "usable" in s else pd.Series(True, index=s.index)
    reason_col = "reason_zh" if lang == "zh" else "reason_en"
    reason = s[reason_col] if reason_col in s else s.get("reason", pd.Series("", index=s.index))
    out = pd.DataFrame({
        "name": s.get("name", pd.Series([None] * len(s), index=s.index)),
        "type": s.get("type", pd.Series([None] * len(s), index=s.index)).map(
            lambda v: tf.choice_label(v, lang) if isinstance(v, str) else v),
        "usable": usable.map(lambda v: yes if v else no), "_u": usable.astype(int),
        "reason": reason.where(~usable, "").fillna(""),
        "distance_m": pd.to_numeric(s.get("distance_m"), errors="coerce"),
        "rise_m": pd.to_numeric(s.get("rise_m"), errors="coerce"),
        "dip_site": s.get("dip_site", pd.Series(False, index=s.index)).map(
            lambda v: yes if bool(v) and not pd.isna(v) else no),
        "road_distance_m": pd.to_numeric(s.get("road_distance_m"), errors="coerce").round(0),
        "reach_forest_ha": pd.to_numeric(s.get("forest_ha"), errors="coerce").round(1),
        "sole_forest_ha": pd.to_numeric(s.get("sole_forest_ha"), errors="coerce").round(1)})
    out = out.sort_values(["_u", "reach_forest_ha"], ascending=False, kind="stable")
    return out[cols].reset_index(drop=True)


def gap_rows(analysis: FireAnalysis, *, lang: str = "zh") -> pd.DataFrame:
    """The 覆盖空白区 rows: the ranked gaps (:data:`gis.fire.gaps.GAP_COLUMNS`) with a point's lon/lat."""
    cols = ["rank", "gap_zh", "area_ha", "cells", "township", "road_dist_m", "road_name", "source_dist_m",
            "source_name", "lon", "lat"]
    g = analysis.gaps
    if g is None or not len(g):
        return pd.DataFrame(columns=cols)
    pts = g.to_crs(STORAGE_CRS).geometry.representative_point()
    out = pd.DataFrame(g.drop(columns=g.geometry.name)).copy()
    if lang != "zh":
        out["gap_zh"] = out["gap"].map(lambda k: GAP_CLASSES.get(k, (k, k))[1])
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
    out["kind"] = out["kind"].map(lambda k: _w(k, lang) if k in _WORDS else k)
    out["origin"] = out["origin"].map(lambda k: _w(k, lang) if k in _WORDS else k)
    out["lon"], out["lat"] = s.geometry.x.round(6).to_numpy(), s.geometry.y.round(6).to_numpy()
    return out[cols].reset_index(drop=True)


def fire_summary(analysis: FireAnalysis, sites: Any = None) -> dict:
    """Headline figures of a review (the total row of the township table, the gaps, the sites, the weather).

    Returns
    -------
    dict
        ``forest_ha``, ``high_risk_ha``, ``seen_share``, ``high_seen_share`` (None without
        cameras), ``reach_share``, ``high_reach_share`` (None without sources), ``both_gap_ha``,
        ``gaps``, ``gap_ha``, ``gaps_by_class`` (count and ha per class), ``sites`` (count per kind),
        ``weather_level`` (None without a weather day), ``season``, ``target_height``.
    """
    tot = analysis.townships.loc[TOTAL] if TOTAL in analysis.townships.index else None

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
            "weather_level": int(analysis.weather["level"]) if analysis.weather else None,
            "season": analysis.options.season, "target_height": analysis.options.target_h}


def _notes_rows(analysis: FireAnalysis, sites: Any, *, lang: str, date: str | None) -> list[tuple[str, Any]]:
    i = 0 if lang == "zh" else 1
    s = fire_summary(analysis, sites)
    opt = analysis.options

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    rows = [
        (("季节", "Season")[i], _w(opt.season, lang) if opt.season in _WORDS else opt.season),
        (("监测目标高度（米）", "Camera target height (m)")[i], opt.target_h),
        (("地球曲率与大气折光", "Earth curvature and refraction")[i], _w("yes" if opt.curvature else "no", lang)),
        (("空白区最小面积（公顷）", "Smallest gap patch (ha)")[i], opt.min_gap_ha),
        (("林地面积（公顷）", "Forest (ha)")[i], s["forest_ha"]),
        (("高火险林地（公顷，风险等级 ≥ 4）", "High-risk forest (ha, level >= 4)")[i], s["high_risk_ha"]),
        (("林地监控覆盖率", "Forest seen by a camera")[i], pct(s["seen_share"])),
        (("高火险林地监控覆盖率", "High-risk forest seen by a camera")[i], pct(s["high_seen_share"])),
        (("林地水源可达率", "Forest within water reach")[i], pct(s["reach_share"])),
        (("高火险林地水源可达率", "High-risk forest within water reach")[i], pct(s["high_reach_share"])),
        (("覆盖空白区（处 / 公顷）", "Gap patches (count / ha)")[i], f"{s['gaps']} / {s['gap_ha']:,.1f}"),
    ]
    if analysis.weather:
        w = analysis.weather
        t, rh, days, wind = w.get("inputs", (None,) * 4)
        rows.append((("当日森林火险气象等级", "Day's fire-weather danger level")[i],
                     f"{w['label_zh'] if lang == 'zh' else w['label_en']}（{w['index']:g}）"
                     if lang == "zh" else f"{w['label_en']} ({w['index']:g})"))
        rows.append((("气象输入", "Weather inputs")[i],
                     f"最高气温 {t:g}℃，14 时相对湿度 {rh:g}%，连续无雨 {days:g} 天，最大风力 {wind:g} 级" if lang == "zh"
                     else f"max temperature {t:g} °C, 14:00 humidity {rh:g}%, {days:g} days without rain, "
                          f"wind force {wind:g}"))
    rows.append((("生成日期", "Date")[i], date or _dt.date.today().isoformat()))
    rows.append((("方法说明", "Method")[i], (
        "视域按数字高程模型计算（未计植被与建筑遮挡）；水源可达按各类水源的供水距离与扬程高差规则；"
        "高火险为静态火险等级 4–5 级的林地",
        "viewsheds from the DEM (vegetation and buildings not modelled); water reach by each source type's "
        "distance and rise rules; high risk is static risk level 4-5 forest")[i]))
    for n in analysis.messages(lang):
        rows.append((("提示", "Note")[i], n))
    return rows


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


def fire_workbook(analysis: FireAnalysis, sites: Any = None, lang: str = "zh", *, date: str | None = None) -> bytes:
    """The forest-fire review as an ``.xlsx`` workbook (sheets in the module docstring).

    Parameters
    ----------
    analysis : FireAnalysis
        From :func:`gis.fire.review.fire_analysis`.
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
    i = 0 if lang == "zh" else 1
    wb = Workbook()
    wb.remove(wb.active)
    towns = township_rows(analysis, lang=lang)
    _write_sheet(wb, SHEETS["townships"][i], towns, list(towns.columns), lang,
                 total_rows=[len(towns) - 1] if len(towns) else [])
    for key, rows in (("cameras", camera_rows(analysis, lang=lang)), ("sources", source_rows(analysis, lang=lang)),
                      ("gaps", gap_rows(analysis, lang=lang)), ("sites", site_rows(sites, lang=lang))):
        _write_sheet(wb, SHEETS[key][i], rows, list(rows.columns), lang)
    notes = pd.DataFrame(_notes_rows(analysis, sites, lang=lang, date=date), columns=["item", "value"])
    _write_sheet(wb, SHEETS["notes"][i], notes, ["item", "value"], lang)
    ws = wb[SHEETS["notes"][i]]
    ws.column_dimensions["B"].width = 90
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---- map layers ------------------------------------------------------------------------------------

def fire_layers(analysis: FireAnalysis, sites: Any = None) -> dict[str, gpd.GeoDataFrame]:
    """The map layers ``gaps`` (polygons, :data:`gis.fire.gaps.GAP_COLUMNS`) and ``sites`` (points), EPSG:4490."""
    g = analysis.gaps
    if g is None or not len(g):
        g = gpd.GeoDataFrame({c: [] for c in GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
                             crs=STORAGE_CRS)
    else:
        g = g.to_crs(STORAGE_CRS)
    s = site_frame(sites)
    s = s.drop(columns=[c for c in ("row", "col") if c in s])
    s["kind_zh"] = s["kind"].map(lambda k: _WORDS.get(k, (k, k))[0]) if len(s) else pd.Series([], dtype=object)
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


def _kml_value(v: Any, key: str) -> str | None:
    """A KML field value: shares as percentages, the rest as :func:`gis.report.plan_files._fmt` writes them."""
    if key in _SHARES and isinstance(v, (int, float, np.number)) and np.isfinite(v):
        return f"{float(v):.1%}"
    return kml_value(v, key)


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


def fire_kml(layers: Mapping[str, gpd.GeoDataFrame], *, title: str = "森林防火覆盖空白区与拟建站点") -> bytes:
    """The gaps and sites as KML for Ovital (奥维) and Google Earth.

    Parameters
    ----------
    layers : mapping
        From :func:`fire_layers`.
    title : str
        Document name.

    Returns
    -------
    bytes
        UTF-8 KML 2.2: folders 覆盖空白区 (one polygon placemark per gap, "第 N 处 类型 面积"; outlines
        simplified to :data:`KML_SIMPLIFY_M`; the first :data:`KML_MAX_GAPS` by rank) and
        拟建站点 (one point placemark per site, "拟建监控点 C3"), each present even when empty.
    """
    root, doc = kml_document(title, _KML_STYLES)
    for layer, folder_name in KML_FOLDERS.items():
        folder = kml_folder(doc, folder_name)
        df = layers.get(layer)
        if df is None or not len(df):
            continue
        if layer == "gaps":
            if len(df) > KML_MAX_GAPS:
                df = df.sort_values("rank").head(KML_MAX_GAPS)
                kml_sub(folder, "description", f"按排序前 {KML_MAX_GAPS} 处（共 {len(layers[layer]):,} 处，全部见 GeoPackage / "
                                            f"GeoJSON） / the first {KML_MAX_GAPS} of {len(layers[layer]):,} by rank")
            if df.crs is not None:
                df = _simplified(df)
        df = df.to_crs(STORAGE_CRS) if df.crs is not None else df
        for _, row in df.iterrows():
            pm = kml_sub(folder, "Placemark")
            if layer == "gaps":
                name = f"第 {int(row['rank'])} 处 {row.get('gap_zh', '')} {float(row['area_ha']):.1f} 公顷"
                style = f"gap_{row.get('gap')}" if f"gap_{row.get('gap')}" in _KML_STYLES else "gap_both"
            else:
                name = f"{row.get('kind_zh') or ''} {row.get('name') or ''}".strip()
                style = "site_water" if row.get("kind") == "water" else "site_camera"
            kml_sub(pm, "name", name)
            pairs = [(label, _kml_value(row.get(key), key)) for key, label in _KML_FIELDS[layer] if key in row.index]
            pairs = [(k, v) for k, v in pairs if v not in (None, "")]
            kml_sub(pm, "description",
                 "<table>" + "".join(f"<tr><td>{k}</td><td>{xml_escape(v)}</td></tr>" for k, v in pairs) + "</table>")
            kml_sub(pm, "styleUrl", f"#{style}")
            ext = kml_sub(pm, "ExtendedData")
            for k, v in pairs:
                kml_sub(kml_sub(ext, "Data", name=k), "value", v)
            kml_geometry(pm, row.geometry)
    if sum(len(v) for v in layers.values() if v is not None) <= 500:
        ET.indent(root)   # readable when small; a prefecture's file stays compact
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


# ---- all files ---------------------------------------------------------------------------------------

def _rasters(analysis: FireAnalysis, out_dir: Path) -> list[Path]:
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


def _map_layers(analysis: FireAnalysis, fl: Mapping[str, gpd.GeoDataFrame], layers: Mapping[str, Any] | None
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


def _subtitles(analysis: FireAnalysis, lang: str) -> dict[str, str]:
    out = {}
    for name, r in analysis.townships.iterrows():
        parts = []
        if analysis.seen is not None and not pd.isna(r["high_seen_share"]):
            parts.append(("高火险林地监控覆盖 {:.1%}", "high-risk forest seen {:.1%}")[lang != "zh"]
                         .format(r["high_seen_share"]))
        if analysis.reach is not None and not pd.isna(r["high_reach_share"]):
            parts.append(("水源可达 {:.1%}", "within water reach {:.1%}")[lang != "zh"].format(r["high_reach_share"]))
        out["" if name == TOTAL else str(name)] = ("，" if lang == "zh" else ", ").join(parts)
    return out


def write_fire_files(analysis: FireAnalysis, out_dir: Path | str, *, sites: Any = None, lang: str = "zh",
                     maps: bool = True, layers: Mapping[str, Any] | None = None, date: str | None = None,
                     map_dpi: int | None = None, townships: Sequence[str] | None = None) -> list[Path]:
    """Write the review's files into a folder (list in the module docstring).

    Parameters
    ----------
    analysis : FireAnalysis
        From :func:`gis.fire.review.fire_analysis`.
    out_dir : Path or str
        Folder (created when missing); existing files of the same names are replaced.
    sites : GeoDataFrame, SitingResult or a sequence of these, optional
        Proposed sites.
    lang : {'zh', 'en'}
        Language of the workbook and the maps (the KML is always Chinese).
    maps : bool
        Also write the A4 coverage maps (whole area and per township).
    layers : mapping, optional
        The workspace's vector layers (``cameras``, ``water_sources``, ``roads``, ``forest``,
        ``grids``, ``townships``) drawn on the maps and giving the township boundaries.
    date : str, optional
        Date in the workbook notes and on the maps; default today.
    map_dpi : int, optional
        PNG resolution of the maps (default :data:`gis.report.fire_map.DPI`, 300).
    townships : sequence of str, optional
        Townships to map (default all).

    Returns
    -------
    list of Path
        The files written: ``fire.xlsx``, ``fire.gpkg``, ``fire.geojson``, ``fire.kml``, the
        GeoTIFFs, then the maps.
    """
    _check_lang(lang)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    xlsx = out_dir / "fire.xlsx"
    xlsx.write_bytes(fire_workbook(analysis, sites, lang, date=date))
    written.append(xlsx)

    fl = fire_layers(analysis, sites)
    gpkg = out_dir / "fire.gpkg"
    for p in (gpkg, Path(str(gpkg) + "-journal"), Path(str(gpkg) + "-wal")):
        if p.exists():
            p.unlink()
    for name in ("gaps", "sites"):
        df = fl[name]
        geom = "MultiPolygon" if name == "gaps" else "Point"
        pyogrio.write_dataframe(for_ogr(df), gpkg, layer=name, driver="GPKG", geometry_type=geom)
    tables = {"townships": analysis.townships.reset_index(),
              "camera_stats": analysis.cameras, "source_stats": analysis.sources}
    for name, df in tables.items():
        if df is None or not len(df):
            continue
        df = pd.DataFrame(df).copy()
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                                  (v if isinstance(v, (str, int, float, bool)) else str(v)))
        pyogrio.write_dataframe(df, gpkg, layer=name, driver="GPKG")
    written.append(gpkg)

    geojson = out_dir / "fire.geojson"
    geojson.write_bytes(fire_geojson(fl))
    kml = out_dir / "fire.kml"
    kml.write_bytes(fire_kml(fl))
    written += [geojson, kml]
    written += _rasters(analysis, out_dir)

    if maps:
        from gis.report.fire_map import DPI, coverage_maps_batch

        written += coverage_maps_batch(out_dir, dem=analysis.grid, layers=_map_layers(analysis, fl, layers),
                                       townships=townships, lang=lang, date=date, dpi=map_dpi or DPI,
                                       subtitles=_subtitles(analysis, lang))
    return written


def map_layers(analysis: FireAnalysis, sites: Any = None, layers: Mapping[str, Any] | None = None) -> dict:
    """The layers of the A4 coverage map (:func:`gis.report.fire_map.coverage_map`) of a review."""
    return _map_layers(analysis, fire_layers(analysis, sites), layers)
