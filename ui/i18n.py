"""Interface strings in Chinese (default) and English.

``t(key)`` returns the current session's language (streamlit); ``text(key, lang)`` works anywhere.
"""

from __future__ import annotations

from layers import settings

STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("洪涝转移避险与森林防灭火一张图", "Flood evacuation & forest-fire coverage map"),
    "lang_switch": ("English", "中文"),
    "page_flood": ("洪涝转移避险", "Flood evacuation"),
    "page_fire": ("森林防灭火覆盖", "Forest-fire coverage"),
    "page_data": ("数据图层", "Data layers"),
    "demo_note": ("当前为演示数据：一个程序生成的虚构山区县，地名、人员与电话均为合成，不代表真实情况。",
                  "Demo data: a synthetic mountainous county made by a generator; all places, people and phone "
                  "numbers are fictitious."),
    "session_note": ("本会话已替换的图层：{kinds}", "Layers replaced in this session: {kinds}"),
    "preparing_demo": ("首次启动，正在生成演示县数据（约一分钟）……", "First start: generating the demo county (about a minute)..."),
    "workspace": ("工作空间", "Workspace"),
    "layers": ("图层", "Layers"),
    "legend": ("图例", "Legend"),
    "hillshade": ("地形晕渲（离线底图）", "Hillshade (offline basemap)"),
    "osm": ("OpenStreetMap（在线）", "OpenStreetMap (online)"),
    "tianditu_vec": ("天地图矢量（在线）", "Tianditu vector (online)"),
    "tianditu_img": ("天地图影像（在线）", "Tianditu imagery (online)"),
    "tianditu_label": ("天地图注记（在线）", "Tianditu labels (online)"),
    "grid_level": ("网格（{level}）", "Grids ({level})"),
    "township": ("乡镇", "Township"),
    "grids_n": ("网格数", "Grids"),
    "leaf_grids_n": ("末级网格数", "Leaf grids"),
    "households": ("户数", "Households"),
    "people": ("人数", "People"),
    "vulnerable": ("老弱病残", "Vulnerable"),
    "shelters_n": ("安置场所数", "Shelters"),
    "capacity": ("容纳人数", "Capacity"),
    "capacity_gap": ("容量缺口", "Capacity short"),
    "forest_km2": ("森林面积（km²）", "Forest (km²)"),
    "water_n": ("水源点数", "Water sources"),
    "cameras_n": ("监控数", "Cameras"),
    "flood_intro": ("选择洪水情景，得到需转移的网格与人员、可用安置场所、最优转移分配与路线、物资需求，并下载清单与村级形势图。"
                    "点击地图上的网格查看其转移安排。",
                    "Choose a flood scenario to get the grids and people to move, usable shelters, the optimal "
                    "assignment with routes and the needs; download the lists and village maps. Click a grid on "
                    "the map for its plan."),
    "fire_intro": ("视频监控对森林的可见范围（按 DEM 视域分析），以及按乡镇汇总的森林、水源点和监控。地图上可逐层开关，点击要素查看属性。",
                   "What the cameras see of the forest (DEM viewsheds), and forest, water sources and cameras per "
                   "township. Toggle layers on the map; click a feature for its attributes."),
    "total": ("合计", "Total"),
    "by_township": ("按乡镇汇总", "By township"),
    "sources_by_type": ("水源点按类型", "Water sources by type"),
    "cameras_by_type": ("监控按类型", "Cameras by type"),
    "type": ("类型", "Type"),
    "count": ("数量", "Count"),
    "missing_layer": ("工作空间中缺少图层：{kinds}。可在“数据图层”页导入。",
                      "The workspace lacks: {kinds}. Import them on the Data layers page."),
    "upload_header": ("导入图层", "Import a layer"),
    "upload_kind": ("图层类型", "Layer kind"),
    "upload_file": ("选择文件（GeoPackage、GeoJSON、Shapefile 压缩包、KML/KMZ、CSV/Excel、GeoTIFF）",
                    "Choose a file (GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, CSV/Excel, GeoTIFF)"),
    "sublayer": ("文件中的图层/工作表", "Layer / sheet in the file"),
    "gcj02": ("坐标来自高德/微信（GCJ-02），转换为 WGS84", "Coordinates are GCJ-02 (Gaode/WeChat): convert to WGS84"),
    "validated": ("校验通过：{n} 个要素，坐标系 {crs}", "Valid: {n} features, CRS {crs}"),
    "validated_raster": ("校验通过：{rows} × {cols} 像元，坐标系 {crs}", "Valid: {rows} x {cols} cells, CRS {crs}"),
    "use_layer": ("在本会话中使用该图层（替换“{kind}”）", "Use this layer in this session (replaces '{kind}')"),
    "used_layer": ("已替换“{kind}”。", "'{kind}' replaced."),
    "reset_layers": ("恢复工作空间原有图层", "Restore the workspace layers"),
    "preview": ("预览（前 {n} 行）", "Preview (first {n} rows)"),
    "download_header": ("下载图层", "Download a layer"),
    "download_kind": ("选择图层", "Layer"),
    "format": ("格式", "Format"),
    "scenario": ("洪水情景", "Flood scenario"),
    "hazard_source": ("情景来源", "Scenario from"),
    "source_stage": ("水位（由高程计算 HAND）", "Water level (HAND from the DEM)"),
    "source_raster": ("上传水深栅格", "Upload a depth raster"),
    "source_polygons": ("上传危险区范围", "Upload danger zones"),
    "source_workspace": ("工作空间中的洪水风险图层", "The workspace's flood hazard layer"),
    "upload_raster": ("水深栅格（GeoTIFF，米；厘米自动识别）", "Depth raster (GeoTIFF, metres; centimetres detected)"),
    "upload_polygons": ("危险区范围面（可带水深或等级字段）", "Danger-zone polygons (optionally with depth or class)"),
    "thresholds": ("水深分级（米）", "Depth classes (m)"),
    "bad_thresholds": ("水深分级应为递增的正数，用逗号分隔，如 0.5,1.5,3.0；已用默认值",
                       "Depth classes must be increasing positive numbers such as 0.5,1.5,3.0; defaults used"),
    "min_share": ("转移条件：网格淹没比例至少", "Move a grid when its flooded share is at least"),
    "min_share_help": ("0 表示网格任一部分水深达到最低分级即转移", "0: any part at or above the lowest depth class"),
    "cut_roads": ("被淹道路不可通行", "Flooded roads impassable"),
    "cut_roads_help": ("取消勾选则按洪水到来前的完整路网规划提前转移",
                       "Untick to plan a pre-emptive transfer on the whole network"),
    "stage_m": ("水位（高于最近河道，米）", "Stage above the nearest drainage (m)"),
    "need_dem": ("工作空间没有 DEM，无法按水位计算；请上传水深栅格或危险区。",
                 "No DEM in the workspace: upload a depth raster or danger zones instead."),
    "stream_source": ("河道来源", "Streams from"),
    "streams_upstream": ("汇流面积阈值", "Upstream-area threshold"),
    "streams_rivers": ("河流图层", "The rivers layer"),
    "min_upstream_cells": ("成河汇流像元数", "Upstream cells to start a stream"),
    "min_upstream_cells_help": ("汇入某像元的上游像元数达到该值即视为河道；数值越小河网越密。",
                                "A cell with at least this many cells upstream is a stream; smaller gives a denser "
                                "network."),
    "pop_raster": ("按人口栅格统计受影响人口（可选）", "People from a population raster (optional)"),
    "pop_raster_help": ("上传人口栅格（GeoTIFF，每像元人数，如 WorldPop），按本情景水深统计各级水深以上的人数；"
                        "与网格人口互为补充。",
                        "Upload a population raster (GeoTIFF, people per cell, e.g. WorldPop): people in cells at or "
                        "above each depth of this scenario; a check beside the grids' counts."),
    "pop_raster_upload": ("人口栅格（GeoTIFF）", "Population raster (GeoTIFF)"),
    "pop_total": ("栅格总人口", "People in the raster"),
    "pop_affected": ("受淹区人口", "People in wet cells"),
    "pop_at_least": ("水深 ≥ {d} 米", "Depth ≥ {d} m"),
    "computing_hand": ("正在计算 HAND（每个 DEM 只算一次）……", "Computing HAND (once per DEM)..."),
    "planning": ("正在计算转移方案……", "Planning the evacuation..."),
    "people_to_evacuate": ("需转移人数", "People to evacuate"),
    "people_placed": ("已安置", "Placed"),
    "people_unplaced": ("无法安置", "Unplaced"),
    "shelters_used": ("启用安置场所", "Shelters used"),
    "person_km": ("人·公里", "Person-km"),
    "notes": ("说明与提示", "Notes"),
    "flooded_grids": ("受淹网格", "Flooded grids"),
    "camera_coverage": ("视频监控覆盖（视域分析）", "Camera coverage (viewshed)"),
    "target_height": ("目标高度（米，地面以上）", "Target height above ground (m)"),
    "target_height_help": ("0 表示看见地面；烟柱可设 20 米", "0: the ground itself; about 20 m for a smoke column"),
    "curvature": ("考虑地球曲率与大气折射（k = 0.13）", "Earth curvature and refraction (k = 0.13)"),
    "computing_viewshed": ("正在计算视域（每组参数只算一次）……", "Computing viewsheds (once per setting)..."),
    "forest_seen": ("森林可见比例（≥1 个监控）", "Forest seen (≥1 camera)"),
    "forest_seen2": ("森林可见比例（≥2 个监控）", "Forest seen (≥2 cameras)"),
    "seen_km2": ("可见森林（km²）", "Forest seen (km²)"),
    "coverage_by_township": ("按乡镇的监控覆盖", "Camera coverage by township"),
    "needs_rates": ("物资需求标准（可修改）", "Minimum-needs rates (editable)"),
    "item": ("物资", "Item"),
    "rate": ("标准", "Rate"),
    "rate_unit": ("单位", "Unit"),
    "per_person_day": ("每人每天", "per person per day"),
    "persons_per_unit": ("每多少人一份", "persons per unit"),
    "days": ("保障天数", "Days of supply"),
    "plan_overview_note": ("数据量大，全域概览中网格以点表示、不画转移路线；选择乡镇可查看该乡镇的网格范围与每条转移路线。",
                           "Large plan: the overview draws grids as points and leaves routes out; pick a township "
                           "to see its grids and every route."),
    "evacuate_grids": ("需转移网格", "Grids to evacuate"),
    "tab_plan": ("转移计划", "Plan per grid"),
    "tab_shelters": ("安置场所负荷", "Shelter load"),
    "tab_townships": ("乡镇汇总", "Townships"),
    "tab_needs": ("物资需求", "Needs"),
    "tab_villages": ("按村汇总", "Villages"),
    "downloads": ("下载", "Downloads"),
    "village_map": ("村级防汛形势图", "Village situation map"),
    "village_batch": ("生成全部 {n} 个受影响村的形势图（PDF）", "Make the maps of all {n} affected villages (PDF)"),
    "village_batch_download": ("下载全部形势图 PDF", "Download all maps (PDF)"),
    "scenario_name": ("情景名称", "Scenario name"),
    "save_scenario": ("保存情景用于比较", "Keep for comparison"),
    "comparison": ("情景比较", "Scenario comparison"),
    "overview": ("全域概览", "Whole area (overview)"),
    "focus_township": ("地图范围：全域概览，或选一个乡镇看全部细节", "Map extent: overview, or a township in full detail"),
    "overview_note": ("数据量大，概览只画到村级网格、主要道路和主要河流，森林以图片显示；选择乡镇可查看该乡镇的全部网格与要素。",
                      "Large data: the overview draws grids down to village level, main roads and rivers, and "
                      "forest as an image; pick a township to see all its grids and features."),
    "download_as": ("下载 {fmt}", "Download {fmt}"),
    "catalogue_header": ("图层字段说明", "Layer fields"),
    "field": ("字段", "Field"),
    "required": ("必填", "Required"),
    "unit": ("单位", "Unit"),
    "aliases": ("可识别的列名", "Accepted headers"),
    "unexpected_error": ("处理文件时出错，未导入任何内容。请检查文件格式；如问题持续，请把文件发给技术支持。（{err}）",
                         "Something went wrong reading the file; nothing was imported. Check the format; if it "
                         "persists, send the file to support. ({err})"),
    "too_big": ("文件超过 {mb} MB 上限。", "The file exceeds the {mb} MB limit."),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def lang() -> str:
    """Current interface language of the Streamlit session ('zh' or 'en')."""
    import streamlit as st

    return st.session_state.get("lang", settings.DEFAULT_LANG)


def text(key: str, lang_: str, **fmt: object) -> str:
    """Text for ``key`` in ``lang_``, formatted with ``fmt``."""
    zh, en = STRINGS[key]
    s = zh if lang_ == "zh" else en
    return s.format(**fmt) if fmt else s


def t(key: str, **fmt: object) -> str:
    """Text for ``key`` in the session's language, formatted with ``fmt``."""
    return text(key, lang(), **fmt)
