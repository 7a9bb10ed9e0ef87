"""One registry of the words of the flood plan's tables: column headers, sheet names and coded values.

The Flood page (:mod:`ui.page_flood`: its tables and the saved-scenario comparison), the workbook
(:mod:`gis.report.plan_workbook`: every sheet, the notes sheet's items too) and the KML fields
(:mod:`gis.report.plan_files`) all take their headers from here, so a column reads the same on screen
and in every file (人数（人） / People; 需转移人数（人） / People to evacuate). Every entry is a
:class:`layers.text.Text` whose ``code`` is the column key (or value code). The forest-fire
counterpart is :mod:`gis.fire.headers`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from layers.text import Text, headed, lookup, registry

__all__ = ["HEADERS", "SHEETS", "WORDS", "header", "word", "labelled"]

#: column key -> header (units in the header)
HEADERS: dict[str, Text] = registry({
    "township": ("乡镇", "Township"),
    "village": ("村", "Village"),
    "grid_id": ("网格编号", "Grid ID"),
    "grid_name": ("网格名称", "Grid name"),
    "responsible": ("责任人", "Responsible person"),
    "phone": ("联系电话", "Phone"),
    "households": ("户数（户）", "Households"),
    "people": ("人数（人）", "People"),
    "population": ("人数（人）", "People"),
    "vulnerable": ("老弱病残（人）", "Vulnerable (persons)"),
    "max_depth": ("最大水深（米）", "Max depth (m)"),
    "evacuate": ("需转移", "To evacuate"),
    "shelter_id": ("场所编号", "Shelter ID"),
    "shelter": ("安置场所", "Shelter"),
    "shelter_name": ("安置场所", "Shelter"),
    "distance_km": ("距离（公里）", "Distance (km)"),
    "time_min": ("时间（分钟）", "Time (min)"),
    "method": ("路线方式", "Route method"),
    "walk_km": ("最长步行段（公里）", "Longest walk (km)"),
    "climb_m": ("步行爬升（米）", "Climb on foot (m)"),
    "why": ("转移原因", "Why it moves"),
    "remark": ("备注", "Remark"),
    # shelters
    "type": ("场所类型", "Type"),
    "capacity": ("容纳人数（人）", "Capacity (persons)"),
    "load": ("安置人数（人）", "Load (persons)"),
    "vulnerable_load": ("其中老弱病残（人）", "Of which vulnerable (persons)"),
    "spare": ("剩余容量（人）", "Spare places (persons)"),
    "load_pct": ("负荷率（%）", "Load (%)"),
    "usable": ("是否可用", "Usable"),
    "reason": ("不可用原因", "Reason unusable"),
    # townships
    "grids": ("需转移网格（个）", "Grids to evacuate"),
    "people_to_evacuate": ("需转移人数（人）", "People to evacuate"),
    "placed": ("已安置（人）", "Placed (persons)"),
    "unplaced": ("未安置（人）", "Unplaced (persons)"),
    "capacity_missing": ("缺少容量（人）", "Capacity missing (persons)"),
    # villages (the page's table of every village with grids)
    "all_grids": ("网格（个）", "Grids"),
    "flooded_grids": ("受淹网格（个）", "Flooded grids"),
    "evacuate_grids": ("需转移网格（个）", "Grids to evacuate"),
    # needs
    "name": ("安置场所", "Shelter"),
    "days": ("天数（天）", "Days"),
    "food_kg": ("食品（公斤）", "Food (kg)"),
    "drinking_water_l": ("饮用水（升）", "Drinking water (L)"),
    "clean_water_l": ("生活用水（升）", "Clean water (L)"),
    "family_kits": ("家庭包（套）", "Family kits"),
    # the same items as named by gis.flood.needs.minimum_needs
    "rice_kg": ("大米（公斤）", "Rice (kg)"),
    "drinking_l": ("饮用水（升）", "Drinking water (L)"),
    "clean_l": ("生活用水（升）", "Clean water (L)"),
    "toilets": ("厕所（个）", "Toilets"),
    # the plan's summary: the notes sheet's items and the page's comparison of saved scenarios
    "scenario": ("方案名称", "Scenario"),
    "hazard_method": ("致灾方法", "Hazard method"),
    "evacuation_rule": ("转移判断", "Who moves"),
    "grids_to_evacuate": ("需转移网格（个）", "Grids to evacuate"),
    "households_to_evacuate": ("需转移户数（户）", "Households to evacuate"),
    "vulnerable_to_evacuate": ("其中老弱病残（人）", "Of which vulnerable"),
    "people_placed": ("已安置人数（人）", "People placed"),
    "households_placed": ("已安置户数（户）", "Households placed"),
    "people_unplaced": ("未安置人数（人）", "People not placed"),
    "people_no_reachable_shelter": ("其中步行限度内无可达安置场所（人）",
                                    "Of which with no shelter within walking reach"),
    "people_by_route_mode": ("按路线方式（人）", "People by route"),
    "longest_walk_km": ("最长步行段（公里）", "Longest walk (km)"),
    "walk_limit_km": ("步行限度（公里）", "Walking limit (km)"),
    "shelters_used": ("使用安置场所（个）", "Shelters used"),
    "shelters_unusable": ("不可用安置场所（个）", "Shelters unusable"),
    "grids_split": ("分往多处的网格（个）", "Grids split over shelters"),
    "person_km": ("总转移人·公里", "Person-kilometres"),
    "person_hours": ("总转移人·小时", "Person-hours"),
    "metric_crs": ("分析坐标系", "Analysis CRS"),
    "date": ("生成日期", "Date"),
    "method_note": ("方法说明", "Method note"),
    "note": ("提示", "Note"),
    "data": ("数据说明", "Data"),
    "how_to_read": ("说明", "How to read"),
    "settings": ("设置", "Settings"),
    "saved_by": ("保存人与时间（UTC）", "Saved by, at (UTC)"),
    # notes sheet
    "item": ("项目", "Item"),
    "value": ("内容", "Value"),
})

#: sheet key -> name
SHEETS: dict[str, Text] = registry({
    "plan": ("转移计划", "Evacuation plan"),
    "shelters": ("安置场所负荷", "Shelter load"),
    "townships": ("乡镇汇总", "Township summary"),
    "needs": ("物资需求", "Needs"),
    "notes": ("说明", "Notes"),
})

#: coded values -> words (route methods, yes/no, the total row, hazard methods)
WORDS: dict[str, Text] = registry({
    "road": ("道路", "road"),
    "walk": ("全程步行", "on foot"),
    "straight": ("直线估算", "straight line (estimate)"),
    "straight_line": ("直线估算", "straight line (estimate)"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "unplaced": ("未安置", "not placed"),
    "total": ("合计", "Total"),
    "depth_raster": ("淹没水深栅格", "flood depth raster"),
    "polygons": ("危险区范围", "danger zones"),
    "hand_stage": ("HAND 水位筛查", "HAND water-level screening"),
})


def header(key: str, lang: str = "zh") -> str:
    """The header of column ``key`` in ``lang`` (``'distance_km'`` -> ``距离（公里）``); unknown keys as given."""
    return lookup(HEADERS, key, lang)


def word(value: Any, lang: str = "zh") -> Any:
    """A coded value (``'road'``, ``'yes'``, ``'hand_stage'``...) in words; anything else as it is."""
    return lookup(WORDS, value, lang)


def labelled(df: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``df`` (columns and index named by key) with every column and index level headed in ``lang``."""
    return headed(df, HEADERS, lang)
