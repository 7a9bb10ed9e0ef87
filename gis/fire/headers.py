"""One registry of the words of the forest-fire tables: column headers, sheet names and coded values.

The Fire page (:mod:`ui.page_fire`), the workbook, the GeoPackage field aliases, the KML and the A4
map (:mod:`gis.report.fire_files`, :mod:`gis.report.fire_map`) all take their headers from here, so
a column reads the same on screen and in every file (林地面积（公顷） / Forest (ha); 排名 / Rank).
Every entry is a :class:`layers.text.Text` whose ``code`` is the column key (or value code).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from layers.text import Text, headed, lookup, registry

__all__ = ["HEADERS", "SHEETS", "WORDS", "header", "word", "labelled"]


#: column key -> header (units in the header)
HEADERS: dict[str, Text] = registry({
    # townships
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
    "reason_code": ("不可用原因代码", "Reason code"),
    "air_distance_m": ("航空取水距离（米）", "Air reach distance (m)"),
    "air_rise_m": ("航空取水高差（米）", "Air reach rise (m)"),
    # gaps
    "rank": ("排名", "Rank"),
    "gap": ("空白类型代码", "Gap class code"),
    "gap_code": ("空白类型代码", "Gap class code"),
    "gap_zh": ("空白类型", "Gap class"),
    "gap_en": ("空白类型", "Gap class"),
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
    "kind_zh": ("站点类型", "Site kind"),
    "kind_en": ("站点类型", "Site kind"),
    "origin": ("候选来源", "Candidate origin"),
    "gain_ha": ("新增覆盖（公顷）", "Added cover (ha)"),
    "gain_share": ("新增覆盖占比", "Added share"),
    "cumulative_ha": ("累计覆盖（公顷）", "Cumulative cover (ha)"),
    "cumulative_share": ("累计覆盖率", "Cumulative share"),
    "elevation": ("海拔（米）", "Elevation (m)"),
    # notes
    "item": ("项目", "Item"),
    "value": ("内容", "Value"),
    # the saved-review comparison
    "settings": ("设置", "Settings"),
    "saved_by": ("保存人与时间", "Saved by, at"),
    "weather_level": ("当日火险气象等级", "Day's fire-weather level"),
    "gaps": ("空白区（处）", "Gap patches"),
    "sites": ("拟建站点（个）", "Proposed sites"),
})

#: sheet (and GeoPackage table) key -> name
SHEETS: dict[str, Text] = registry({
    "townships": ("乡镇覆盖统计", "Township coverage"),
    "cameras": ("监控点统计", "Cameras"),
    "sources": ("水源点统计", "Water sources"),
    "gaps": ("覆盖空白区", "Gaps"),
    "sites": ("拟建站点", "Proposed sites"),
    "notes": ("说明", "Notes"),
})

#: coded values -> words
WORDS: dict[str, Text] = registry({
    "yes": ("是", "yes"), "no": ("否", "no"), "total": ("合计", "Total"), "none": ("（无乡镇）", "(no township)"),
    "camera": ("拟建监控点", "proposed camera"), "water": ("拟建水源点", "proposed water point"),
    "ridge": ("山脊/山顶", "ridge/peak"), "stream": ("河道", "stream"), "uploaded": ("上传候选点", "uploaded"),
    "dry": ("旱季", "dry season"), "wet": ("雨季", "wet season"),
})


def header(key: str, lang: str = "zh") -> str:
    """The header of column ``key`` in ``lang`` (``'high_seen_share'`` -> ``高火险林地监控覆盖率``).

    Unknown keys as given."""
    return lookup(HEADERS, key, lang)


def word(value: Any, lang: str = "zh") -> Any:
    """A coded value (``'dry'``, ``'camera'``, ``'yes'``...) in words; anything else as it is."""
    return lookup(WORDS, value, lang)


def labelled(df: pd.DataFrame, lang: str = "zh", keys: Iterable[str] | None = None) -> pd.DataFrame:
    """``df`` (columns named by key) with only ``keys`` (default all) and the columns headed in ``lang``."""
    cols = [k for k in (keys if keys is not None else df.columns) if k in df.columns]
    return headed(df[cols], HEADERS, lang)
