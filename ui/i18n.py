"""Interface strings in Chinese (default) and English.

``t(key)`` returns the current session's language (streamlit); ``text(key, lang)`` works anywhere.
"""

from __future__ import annotations

from layers import settings
from layers.errors import GisError
from layers.text import LANGS, Text, in_order, registry

__all__ = ["STRINGS", "LANGS", "page_css", "lang", "text", "labeller", "t", "problem_lines"]

STRINGS: dict[str, Text] = registry({
    "app_title": ("洪涝转移避险与森林防灭火一张图", "Flood evacuation & forest-fire coverage map"),
    "lang_switch": ("English", "中文"),
    "page_flood": ("洪涝转移避险", "Flood evacuation"),
    "page_fire": ("森林防灭火覆盖", "Forest-fire coverage"),
    "page_data": ("数据图层", "Data layers"),
    "page_operations": Text("应急响应", "Operations", "page_operations"),
    "page_workspace": ("工作空间与编辑", "Workspace & editing"),
    "workspace_intro": ("工作空间保存本单位的全部图层。可切换、新建、导出或导入工作空间；汛前、防火期前在此修改安置场所容量与状态、"
                        "水源是否干涸、网格责任人与电话、监控状态，或在地图上点选新增点位。每次保存都经校验、整体写入、记入历史，可撤销。",
                        "A workspace holds all of an office's layers. Switch, create, export or import workspaces; "
                        "before the season, edit shelter capacity and status, dry or repaired water sources, grid "
                        "responsible persons and phones, camera status, or add a point by clicking the map. Every "
                        "save is validated, written whole, recorded in the history and can be undone."),
    "ws_manage": ("工作空间", "Workspaces"),
    "ws_storage": ("矢量图层保存在", "Vector layers are kept in"),
    "ws_storage_gpkg": ("本机 GeoPackage 文件", "a GeoPackage on this machine"),
    "ws_storage_postgis": ("单位共享数据库（PostGIS）", "the office's shared database (PostGIS)"),
    "ws_storage_help": ("多人同时编辑时用共享数据库；DEM 等栅格仍在工作空间文件夹中。",
                        "Use the shared database when several people edit at once; rasters (the DEM) stay in the "
                        "workspace folder."),
    "ws_on_postgis": ("正在使用共享数据库 {db}；栅格（DEM）取自工作空间“{folder}”。",
                      "Working on the shared database {db}; rasters (DEM) come from workspace '{folder}'."),
    "ws_current": ("当前工作空间", "Current workspace"),
    "ws_export": ("下载工作空间（zip）", "Download the workspace (zip)"),
    "ws_export_prepare": ("导出工作空间", "Export the workspace"),
    "ws_new": ("新建工作空间", "New workspace"),
    "ws_name": ("名称", "Name"),
    "ws_name_help": ("中文、字母、数字、空格、点、横线或下划线", "letters, digits, Chinese, spaces, dots, dashes or underscores"),
    "ws_create": ("新建", "Create"),
    "ws_import_archive": ("导入工作空间文件", "Import a workspace file"),
    "ws_archive_file": ("工作空间文件（zip 或 GeoPackage）", "Workspace file (zip or GeoPackage)"),
    "ws_import_do": ("导入为新工作空间", "Import as a new workspace"),
    "osm_new": ("由 OpenStreetMap 新建工作空间", "New workspace from OpenStreetMap"),
    "osm_help": ("上传本地区的 OpenStreetMap 摘录（.osm.pbf 或 .osm，离线读取），可加 DEM 分幅和范围：生成行政区界、村、"
                 "转移避险网格、房屋、安置场所、水源点、道路、河流和森林。人口、容纳人数和网格为估算，均注明。",
                 "Upload the area's OpenStreetMap extract (.osm.pbf or .osm, read offline), optionally DEM tiles and an "
                 "area: boundaries, villages, transfer grids, buildings, shelters, water sources, roads, rivers and "
                 "forest are made. Population, capacity and grids are estimates, and say so."),
    "osm_file": ("OpenStreetMap 摘录（.osm.pbf / .osm）", "OpenStreetMap extract (.osm.pbf / .osm)"),
    "osm_dem": ("DEM 分幅（可选，可多选）", "DEM tiles (optional, several allowed)"),
    "osm_bbox": ("范围（可选）：西,南,东,北（经纬度）", "Area (optional): west,south,east,north (degrees)"),
    "osm_bbox_help": ("不填时取 DEM 与摘录的重叠范围，没有 DEM 时取整个摘录",
                      "empty: where the DEM and the extract overlap, or the whole extract without a DEM"),
    "osm_preview": ("预览各图层要素数", "Preview the feature counts"),
    "osm_reading": ("正在读取 OpenStreetMap 摘录……", "Reading the OpenStreetMap extract..."),
    "osm_create": ("新建该工作空间", "Create the workspace"),
    "osm_layer": ("图层", "Layer"),
    "osm_features": ("要素数", "Features"),
    "ws_edit": ("编辑图层", "Edit a layer"),
    "ws_edit_kind": ("图层", "Layer"),
    "ws_nothing_to_edit": ("当前工作空间没有可编辑的图层，请先在“数据图层”页导入。",
                           "The workspace has no editable layer yet: import one on the Data layers page."),
    "ws_stale": ("其他人已保存了此图层的修改；您的保存仍会逐条检查冲突，点“重新载入”可看到最新数据。",
                 "Someone else saved changes to this layer; your save is still checked feature by feature — "
                 "'Reload' shows the latest data."),
    "ws_search": ("查找", "Search"),
    "ws_search_help": ("在名称、编号、责任人、电话等任一字段中查找", "find text in any field (name, id, person, phone...)"),
    "ws_rows_capped": ("共 {n} 行，仅显示前 {m} 行：请按乡镇或关键字筛选", "{n} rows; the first {m} are shown: filter by "
                       "township or text"),
    "ws_note": ("修改说明", "Note"),
    "ws_note_placeholder": ("如：2026 年汛前核查，城关小学扩容", "e.g. pre-season check"),
    "ws_default_note": ("在应用中编辑", "edited in the app"),
    "ws_save": ("保存 {n} 处修改", "Save {n} changes"),
    "ws_reload": ("重新载入", "Reload"),
    "ws_saved": ("已保存：新增 {added}，修改 {changed}，删除 {removed}", "Saved: {added} added, {changed} changed, "
                 "{removed} removed"),
    "ws_conflict": ("保存冲突：下列要素在您打开后已被其他人修改或删除，本次未保存任何内容。请重新载入后核对。",
                    "Edit conflict: these features were changed or deleted by someone else after you opened them; "
                    "nothing was saved. Reload and check."),
    "ws_add_point": ("在地图上点选新增点位", "Add a point by clicking the map"),
    "ws_add_point_help": ("点击地图选择位置，填写字段后新增（带 * 为必填）。", "Click the map for the position, fill in "
                          "the fields (* required) and add."),
    "ws_new_point": Text("新增点位", "New point", "ws_new_point"),
    "ws_clicked": ("所选位置：经度 {lon}，纬度 {lat}", "Picked: longitude {lon}, latitude {lat}"),
    "ws_add_do": ("新增该点", "Add this point"),
    "ws_history": ("修改历史", "History"),
    "ws_undo": ("撤销上一次修改", "Undo the last change"),
    "ws_redo": ("重做", "Redo"),
    "ws_undone": ("已撤销", "Undone"),
    "ws_redone": ("已重做", "Redone"),
    "ws_nothing_undo": ("没有可撤销的修改", "Nothing to undo"),
    "ws_nothing_redo": ("没有可重做的修改", "Nothing to redo"),
    "ws_no_history": ("暂无修改记录", "No changes recorded yet"),
    "ws_h_time": ("时间", "Time"),
    "ws_h_user": ("编辑人", "Editor"),
    "ws_h_layer": ("图层", "Layer"),
    "ws_h_action": ("操作", "Action"),
    "ws_h_counts": ("增/改/删", "Added/changed/removed"),
    "ws_h_note": ("说明", "Note"),
    "ws_h_undone": ("已撤销", "Undone"),
    "ws_a_edit": ("编辑", "edit"),
    "ws_a_replace": ("导入替换", "import (replace)"),
    "ws_a_append": ("导入追加", "import (append)"),
    "ws_a_undo": ("撤销", "undo"),
    "ws_a_redo": ("重做", "redo"),
    # the workspace under faults (issue 13): damaged or read-only workspaces, snapshots and restore
    "ws_a_raster": Text("导入栅格", "raster import", "ws_a_raster"),
    "ws_a_restore": Text("恢复快照", "snapshot restored", "ws_a_restore"),
    "ws_read_only_medium": Text("工作空间所在的存储介质为只读：可以查看和分析，但不能保存修改、导入或撤销。要编辑，请把工作空间复制到可写的磁盘。",
                                "The workspace is on a read-only medium: you can view and analyse, but not save "
                                "edits, import or undo. To edit, copy the workspace to a writable disk.",
                                "ws_read_only_medium"),
    "ws_edit_refused": Text("工作空间不可写入，编辑已停用（见页首说明）。", "The workspace cannot be written; editing is "
                            "off (see the note at the top of the page).", "ws_edit_refused"),
    "ws_snapshots": Text("快照与恢复", "Snapshots and restore", "ws_snapshots"),
    "ws_snapshots_help": Text("工作空间自动保存最近几次完好的状态（每 {n} 次写入或距上次超过 {m} 分钟后的写入），含栅格。"
                              "文件损坏或误操作后可恢复到其中之一；恢复本身记入修改历史，恢复前的状态也会保存为快照。",
                              "The workspace keeps its last few good states automatically (after {n} writes, or "
                              "after a write once the last one is {m} minutes old), rasters included. Restore one "
                              "after damage or a mistake; the restore is recorded in the history, and the state "
                              "it replaces is kept as a snapshot too.", "ws_snapshots_help"),
    "ws_snapshot_space": Text("{count} 个快照，占用 {used} MB（上限 {limit} MB，最多保留 {keep} 个；未变的栅格只存一份）",
                              "{count} snapshots using {used} MB (limit {limit} MB, at most {keep} kept; an "
                              "unchanged raster is stored once)", "ws_snapshot_space"),
    "ws_snapshot_failed": Text("最近一次自动快照未能保存：", "The last automatic snapshot could not be saved:",
                               "ws_snapshot_failed"),
    "ws_snapshot_none": Text("还没有快照：第一次保存修改后会自动生成。", "No snapshot yet: one is taken after the first "
                             "saved change.", "ws_snapshot_none"),
    "ws_snapshot_take": Text("立即保存快照", "Take a snapshot now", "ws_snapshot_take"),
    "ws_snapshot_taken": Text("已保存快照 {id}", "Snapshot {id} taken", "ws_snapshot_taken"),
    "ws_s_id": Text("快照", "Snapshot", "ws_s_id"),
    "ws_s_time": Text("时间", "Time", "ws_s_time"),
    "ws_s_reason": Text("原因", "Reason", "ws_s_reason"),
    "ws_s_entry": Text("含修改历史至", "History up to", "ws_s_entry"),
    "ws_s_size": Text("大小（MB）", "Size (MB)", "ws_s_size"),
    "ws_s_rasters": Text("栅格", "Rasters", "ws_s_rasters"),
    "ws_restore_pick": Text("要恢复的快照", "Snapshot to restore", "ws_restore_pick"),
    "ws_restore_confirm": Text("我确认：当前工作空间将被所选快照替换（当前状态会另存为快照）",
                               "I confirm: the workspace will be replaced by the chosen snapshot (the current state "
                               "is kept as a snapshot)", "ws_restore_confirm"),
    "ws_restore_do": Text("恢复所选快照", "Restore the chosen snapshot", "ws_restore_do"),
    "ws_restored": Text("已恢复快照 {id}（{time}），已记入修改历史", "Snapshot {id} ({time}) restored and recorded in "
                        "the history", "ws_restored"),
    "ws_check_full": Text("完整检查工作空间文件", "Check the workspace file in full", "ws_check_full"),
    "ws_check_ok": Text("检查通过（{kind}，{s} 秒）", "The check passed ({kind}, {s} s)", "ws_check_ok"),
    "anonymous_editor": ("未署名", "anonymous"),
    "editor_name": ("编辑人（记入修改历史）", "Your name (for the history)"),
    "all": ("全部", "All"),
    "ws_save_to": ("保存到工作空间", "Save into the workspace"),
    "ws_mode": ("方式", "Mode"),
    "ws_mode_replace": ("替换该图层", "Replace the layer"),
    "ws_mode_append": ("追加到该图层", "Append to the layer"),
    "ws_replace_confirm": ("替换将删除现有的 {n} 个“{kind}”要素（文件中没有它们），确认替换",
                           "Replacing deletes {n} existing '{kind}' features the file does not hold: confirm"),
    "allow_outside": ("这些要素确实位于辖区之外，仍然导入", "These features really lie outside the area: import them"),
    "allow_outside_help": ("勾选前请核对坐标：经纬度填反、小数点错位或坐标系不对，都会让要素落到很远的地方。",
                           "Check the coordinates first: swapped lon/lat, a misplaced decimal point or a wrong CRS "
                           "all put a feature far away."),
    "outside_confirmed": ("已确认导入位于辖区之外的要素。", "Features outside the area were confirmed for import."),
    "validating": ("正在读取并校验文件……", "Reading and checking the file..."),
    "lang_name": ("中文", "English"),
    "ws_preview": ("将新增 {added}、修改 {changed}、删除 {removed} 个要素", "{added} features will be added, {changed} "
                   "changed, {removed} removed"),
    "ws_preview_added": ("新增", "Added"),
    "ws_preview_changed": ("修改", "Changed"),
    "ws_preview_removed": ("删除", "Removed"),
    "ws_commit": ("确认写入工作空间", "Commit to the workspace"),
    "ws_committed": ("已写入工作空间“{ws}”：新增 {added}，修改 {changed}，删除 {removed}（可在“工作空间与编辑”页撤销）",
                     "Written to workspace '{ws}': {added} added, {changed} changed, {removed} removed (undo on the "
                     "Workspace page)"),
    "demo_note": ("当前为演示数据：一个程序生成的虚构山区县，地名、人员与电话均为合成，不代表真实情况。",
                  "Demo data: a synthetic mountainous county made by a generator; all places, people and phone "
                  "numbers are fictitious."),
    "session_note": ("本会话已替换的图层：{kinds}", "Layers replaced in this session: {kinds}"),
    "preparing_demo": ("首次启动，正在生成演示县数据（约一分钟）……", "First start: generating the demo county (about a minute)..."),
    "workspace": ("工作空间", "Workspace"),
    "layers": ("图层", "Layers"),
    "legend": ("图例", "Legend"),
    "place_names": ("地名", "Place names"),
    "step_of": ("第 {i}/{n} 步：{what}", "Step {i} of {n}: {what}"),
    "eta_s": ("（约 {n} 秒）", "(about {n} s left)"),
    "eta_min": ("（约 {n} 分钟）", "(about {n} min left)"),
    "village_batch_running": ("正在生成村级形势图", "Drawing the village maps"),
    "fire_files_running": ("正在生成下载文件", "Making the files"),
    "find_placeholder": ("查找网格、安置场所、村", "Find grid, shelter, village"),
    "hillshade": ("地形晕渲（离线底图）", "Hillshade (offline basemap)"),
    "osm": ("OpenStreetMap（在线）", "OpenStreetMap (online)"),
    "tianditu_vec": ("天地图矢量（在线）", "Tianditu vector (online)"),
    "tianditu_img": ("天地图影像（在线）", "Tianditu imagery (online)"),
    "tianditu_label": ("天地图注记（在线）", "Tianditu labels (online)"),
    "grid_level": ("网格（{level}）", "Grids ({level})"),
    "boundary_level": ("行政区界（{level}）", "Boundaries ({level})"),
    "choose_township": ("乡镇（地图、表格与图件的范围）", "Township (extent of the map, tables and printed maps)"),
    "township": ("乡镇", "Township"),
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
    "fire_intro": ("森林火险等级（可叠加当日气象），视频监控的可见范围（DEM 视域）与水源可达范围，按乡镇汇总的覆盖率，"
                   "高火险林地中监控或水源未覆盖的缺口（按面积排序），以及新增监控、水源点的选址建议。地图上可逐层开关，点击要素查看属性。",
                   "Fire risk levels (with today's weather if given), what the cameras see (DEM viewsheds) and what the "
                   "water sources reach, coverage per township, the ranked gaps in high-risk forest, and where new "
                   "cameras or water points help most. Toggle layers on the map; click a feature for its attributes."),
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
    "upload_file": ("选择文件（GeoPackage、GeoJSON、Shapefile 压缩包、KML/KMZ、CSV/Excel；栅格：GeoTIFF、.asc、.img、"
                    "SRTM .hgt / .hgt.zip、.nc，或与 .prj 一起压缩的栅格）",
                    "Choose a file (GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, CSV/Excel; rasters: GeoTIFF, .asc, "
                    ".img, SRTM .hgt / .hgt.zip, .nc, or a raster zipped with its .prj)"),
    "sublayer": ("文件中的图层/工作表", "Layer / sheet in the file"),
    "offset_choice": ("网络地图纠偏", "Web-map correction"),
    "offset_help": Text("从高德、腾讯、微信（GCJ-02）或百度地图（BD-09）取的点偏离数百米至一千米；选择来源即可转换为 CGCS2000。",
                        "Points picked from Gaode/AMap, Tencent, WeChat (GCJ-02) or Baidu maps (BD-09) are a few "
                        "hundred metres to a kilometre off; choose the source to convert them to CGCS2000.",
                        "offset_help"),
    "offset_help_kept": Text("本次选择随工作空间保存，下次导入同一文件时自动预选。",
                             "The choice is kept with the workspace and preset the next time the same file is "
                             "imported.", "offset_help_kept"),
    "offset_none": ("不纠偏（坐标为 CGCS2000 / WGS84 或投影坐标）", "No correction (CGCS2000 / WGS84 or projected)"),
    "offset_gcj02": ("GCJ-02：高德、腾讯、微信，转换为 CGCS2000", "GCJ-02: Gaode/AMap, Tencent, WeChat, convert to CGCS2000"),
    "offset_bd09": ("BD-09：百度地图，转换为 CGCS2000", "BD-09: Baidu maps, convert to CGCS2000"),
    "offset_stored": ("上次导入此文件时选择：{offset}（{time}），已预选", "Chosen when this file was last imported: {offset} "
                      "({time}); preset"),
    "crs_choice": ("坐标系", "CRS"),
    "crs_help": ("文件没有坐标系（如 Shapefile 缺 .prj、表格为米制坐标）或坐标系有误时选择；“自动识别”按文件声明的坐标系或"
                 "坐标数值判断。所选坐标系仍会与坐标数值核对。",
                 "Choose when the file has no CRS (a Shapefile without .prj, a table in metres) or a wrong one; "
                 "'Detect automatically' uses the file's CRS or the numbers. The choice is still checked against "
                 "the coordinates."),
    "crs_auto": ("自动识别", "Detect automatically"),
    "crs_4490": ("CGCS2000 经纬度（EPSG:4490）", "CGCS2000 lon/lat (EPSG:4490)"),
    "crs_4326": ("WGS84 经纬度（EPSG:4326）", "WGS84 lon/lat (EPSG:4326)"),
    "crs_datum": ("{datum}（经纬度或带号投影带，按数值判断）", "{datum} (lon/lat or the zone in the eastings, told from "
                  "the numbers)"),
    "crs_other": ("其他 EPSG 代码", "Other EPSG code"),
    "crs_other_code": ("EPSG 代码（如 4548 或 EPSG:4548）", "EPSG code (e.g. 4548 or EPSG:4548)"),
    "crs_override": ("文件自带坐标系有误，改用所选坐标系", "The file's own CRS is wrong: use the chosen one"),
    "crs_override_help": ("文件自带的坐标系（.prj、GeoTIFF）与所选坐标系不一致时，默认不导入；确认文件自带的有误时勾选。",
                          "When the file's own CRS (.prj, GeoTIFF) differs from the chosen one nothing is imported; "
                          "tick this when you know the file's own is wrong."),
    "towgs84_header": ("转换参数（北京1954 / 西安1980 → CGCS2000）", "Transformation parameters (Beijing 1954 / Xi'an 1980 "
                       "→ CGCS2000)"),
    "towgs84_help": ("填写测绘部门提供的三参数（dx,dy,dz，米）或七参数（dx,dy,dz,rx,ry,rz,s：平移米、旋转角秒、尺度 ppm，"
                     "按位置矢量即 PROJ +towgs84 约定；坐标框架约定的参数把三个旋转取反）。不填时旧坐标系按经纬度不变换算，"
                     "位置可能偏差数十米。",
                     "Enter the 3 parameters (dx,dy,dz in metres) or 7 (dx,dy,dz,rx,ry,rz,s: metres, arc-seconds, ppm; "
                     "position vector, PROJ's +towgs84 convention; negate the three rotations of a coordinate-frame "
                     "set) from the surveying bureau. Without them an old datum is converted keeping latitude and "
                     "longitude, which may be off by tens of metres."),
    "towgs84_input": ("dx,dy,dz[,rx,ry,rz,s]", "dx,dy,dz[,rx,ry,rz,s]"),
    "validated": ("校验通过：{n} 个要素；文件坐标系 {crs}，已转换为 CGCS2000 经纬度（EPSG:4490）",
                  "Valid: {n} features; the file's CRS is {crs}, converted to CGCS2000 lon/lat (EPSG:4490)"),
    "validated_raster": ("校验通过：{rows} × {cols} 像元，坐标系 {crs}", "Valid: {rows} x {cols} cells, CRS {crs}"),
    "raster_centre": Text("；中心位于经度 {lon}，纬度 {lat}（CGCS2000）", "; its centre lies at longitude {lon}, latitude "
                          "{lat} (CGCS2000)", "raster_centre"),
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
    "upload_raster": Text("水深栅格：{formats}，或与 .prj 等附属文件一起压缩为 .zip（米；厘米自动识别）",
                          "Depth raster: {formats}, or zipped with its .prj and other side files (metres; "
                          "centimetres detected)", "upload_raster"),
    "upload_polygons": ("危险区范围面（可带水深或等级字段）", "Danger-zone polygons (optionally with depth or class)"),
    "thresholds": ("水深分级（米）", "Depth classes (m)"),
    "bad_thresholds": ("水深分级应为递增的正数，用逗号分隔，如 0.5,1.5,3.0；已用默认值",
                       "Depth classes must be increasing positive numbers such as 0.5,1.5,3.0; defaults used"),
    "min_share": ("转移条件：受淹居住点（或面积）比例至少", "Move a grid when the wet share of its homes (or area) is at least"),
    "min_share_help": ("0 表示任一居住点（无居住点的网格为任一部分）水深达到转移水深即转移",
                       "0: any home (any part, for a grid without homes) at or above the moving depth"),
    "cut_roads": ("被淹道路不可通行", "Flooded roads impassable"),
    "cut_roads_help": ("取消勾选则按洪水到来前的完整路网规划提前转移",
                       "Untick to plan a pre-emptive transfer on the whole network"),
    "stage_m": ("水位（高于最近河道，米）", "Stage above the nearest drainage (m)"),
    "need_dem": ("工作空间没有 DEM，无法按水位计算；请上传水深栅格或危险区。",
                 "No DEM in the workspace: upload a depth raster or danger zones instead."),
    "stream_source": ("河道来源", "Streams from"),
    "streams_upstream": ("汇流面积阈值", "Upstream-area threshold"),
    "streams_rivers": ("河流图层", "The rivers layer"),
    "min_upstream_km2": ("成河汇流面积（平方千米）", "Upstream area to start a stream (km²)"),
    "min_upstream_km2_help": ("汇入某处的上游面积达到该值即视为河道；数值越小河网越密。按面积而非像元数，DEM 分辨率不同也得到相同河网。",
                              "A place draining at least this area is a stream; smaller gives a denser network. An "
                              "area, not a cell count, so DEMs of any resolution give the same streams."),
    "flood_more_options": ("更多选项：转移判断、道路与步行、优化目标、人口栅格",
                           "More options: who moves, roads and walking, what is minimised, population raster"),
    "flood_rule": ("转移判断依据", "Who must move"),
    "flood_rule_homes": ("水到达居住处（房屋、人口、村庄点位）", "Water reaches where people live"),
    "flood_rule_area": ("网格任一部分受淹", "Any part of the grid flooded"),
    "flood_rule_help": ("默认：网格内房屋（或人口栅格中有人的像元、村庄点位）的水深达到转移水深即转移；没有居住点的网格按淹没面积判断。",
                        "Default: a grid moves when the water reaches the moving depth at its houses (or populated "
                        "cells, or village points); grids without any by their flooded area."),
    "flood_min_depth": ("转移水深（米，0 为最低分级）", "Moving depth (m; 0: the lowest class)"),
    "flood_min_depth_help": ("居住处（或网格内）水深达到该值才计为受淹", "water counts from this depth at the homes (or in "
                             "the grid)"),
    "flood_passable": ("道路断行水深（米）", "Roads cut from this depth (m)"),
    "flood_passable_help": ("达到该水深的道路不可通行，步行也不进入这样深的积水（0.3 米左右车辆熄火、成人难以站稳）",
                            "roads this deep are cut and walks never enter water this deep (about 0.3 m stalls a car "
                            "and knocks adults over)"),
    "flood_shelter_flood": ("安置场所受淹水深（米）", "Shelter unusable from this depth (m)"),
    "flood_weight": ("优化目标", "Minimise"),
    "flood_weight_length": ("总人·公里", "person-km"),
    "flood_weight_time": ("总人·小时", "person-hours"),
    "flood_walk_limit": ("单段步行上限（公里）", "Longest walk (km)"),
    "flood_walk_limit_help": ("到道路或安置场所的步行段按地形计算，超过此长度视为无可达安置场所",
                              "walks to a road or shelter follow the terrain; longer than this means no reachable "
                              "shelter"),
    "flood_route_modes": ("经道路 {road} 人，全程步行 {walk} 人，直线估算 {straight} 人，步行限度内无可达安置场所 {none} 人；"
                          "最长步行 {walk_km} 公里；分析坐标系 {crs}",
                          "By road {road}, on foot all the way {walk}, straight-line estimates {straight}, no "
                          "shelter within walking reach {none}; longest walk {walk_km} km; analysis CRS {crs}"),
    "flood_terrain_cell": ("地形网格（米）", "Terrain grid cell (m)"),
    "flood_terrain_cell_help": ("HAND 与步行路径计算所用的网格；更粗的 DEM 插值到该网格，经纬度或米制的同一 DEM 得到相同结果",
                                "the grid HAND and walks run on; a coarser DEM is interpolated onto it, so the same "
                                "DEM in degrees or in metres gives the same plan"),
    "roads_kept": ("不断路", "roads kept"),
    "pop_raster": ("按人口栅格统计受影响人口", "People from the population raster"),
    "pop_raster_help": ("上传人口栅格（GeoTIFF，每像元人数，如 WorldPop）：工作空间没有房屋图层时，用于判断水是否到达人们居住处，"
                        "并按本情景水深统计各级水深以上的人数。",
                        "Upload a population raster (GeoTIFF, people per cell, e.g. WorldPop): where people live when "
                        "the workspace has no buildings layer, and the people at or above each depth of this "
                        "scenario."),
    "pop_raster_upload": Text("人口栅格：{formats}，或与 .prj 等附属文件一起压缩为 .zip",
                              "Population raster: {formats}, or zipped with its .prj and other side files",
                              "pop_raster_upload"),
    "pop_total": ("栅格总人口", "People in the raster"),
    "pop_affected": ("受淹区人口", "People in wet cells"),
    "pop_at_least": ("水深 ≥ {d} 米", "Depth ≥ {d} m"),
    "pop_max_depth": Text("最大水深（米，有人像元）", "Max depth (m, at populated cells)", "pop_max_depth"),
    "computing_hand": ("正在计算 HAND（每个 DEM 只算一次）……", "Computing HAND (once per DEM)..."),
    "planning": ("正在计算转移方案……", "Planning the evacuation..."),
    "people_to_evacuate": ("需转移人数", "People to evacuate"),
    "people_placed": ("已安置", "Placed"),
    "people_unplaced": ("无法安置", "Unplaced"),
    "shelters_used": ("启用安置场所", "Shelters used"),
    "person_km": ("人·公里", "Person-km"),
    "notes": ("说明与提示", "Notes"),
    "fire_settings": ("分析设置：季节、监控目标高度、水源道路条件、火险权重、当日气象", "Settings: season, camera target "
                      "height, water-source road rule, risk weights, today's weather"),
    "season": ("季节", "Season"),
    "fire_need_dem": ("工作空间没有 DEM：火险、视域、水源可达与缺口分析都需要高程，请在“数据图层”页导入 DEM。",
                      "The workspace has no DEM: risk, viewsheds, water reach and gaps need elevations; import a DEM "
                      "on the Data layers page."),
    "season_dry": ("防火期（旱季，季节性水源不计）", "Fire season (dry: seasonal sources dropped)"),
    "season_wet": ("雨季", "Wet season"),
    "road_filter": ("只计距道路较近的水源", "Only sources near a road"),
    "road_filter_help": ("消防车和泵需要从道路到达水源；直升机取水点不受此限", "pumps come by road; helicopter dip sites "
                         "are exempt"),
    "max_road_m": ("水源距道路不超过（米）", "Source at most this far from a road (m)"),
    "min_gap_ha": ("缺口最小面积（公顷）", "Smallest gap listed (ha)"),
    "risk_weights_help": ("静态火险 = 各因子得分的加权和（林分类型、坡度、坡向、距道路、距居民点、距坟地），分五级；权重可改，缺少的图层自动不计。",
                          "Static risk = weighted sum of factor scores (fuel type, slope, aspect, distance to roads, "
                          "settlements, graves), in five levels; edit the weights; missing layers drop out."),
    "factor": ("因子", "Factor"),
    "weight": ("权重", "Weight"),
    "factor_fuel": ("林分类型（可燃物）", "Fuel (forest type)"),
    "factor_slope": ("坡度", "Slope"),
    "factor_aspect": ("坡向（南坡、西南坡较干）", "Aspect (south, south-west drier)"),
    "factor_roads": ("距道路", "Distance to roads"),
    "factor_settlements": ("距居民点", "Distance to settlements"),
    "factor_graves": ("距坟地（清明祭扫）", "Distance to graves (Qingming)"),
    "weather_day": ("当日森林火险气象等级（全国森林火险天气等级）", "Today's fire-weather danger level (China's scale)"),
    "weather_use": ("按当日气象叠加到地图", "Apply today's weather to the map"),
    "tmax": ("最高气温（°C）", "Max temperature (°C)"),
    "rh14": ("14 时相对湿度（%）", "Relative humidity at 14:00 (%)"),
    "dry_days": ("连续无雨日数", "Days without rain"),
    "wind_force": ("最大风力（级）", "Max wind force (Beaufort)"),
    "weather_result": ("当日火险气象指数 {idx}，{level}", "Fire-weather index {idx}: level {level}"),
    "computing_risk": ("正在计算火险等级……", "Computing fire risk..."),
    "computing_reach": ("正在计算水源可达范围……", "Computing water reach..."),
    "computing_gaps": ("正在查找覆盖缺口……", "Finding coverage gaps..."),
    "forest_ha": ("森林（公顷）", "Forest (ha)"),
    "high_risk_ha": ("高火险林地（公顷）", "High-risk forest (ha)"),
    "high_seen": ("高火险林地监控可见", "High-risk forest seen"),
    "high_reach": ("高火险林地水源可达", "High-risk forest in water reach"),
    "gaps_n": ("缺口斑块", "Gap patches"),
    "gaps_both_ha": ("两者皆无（公顷）", "Neither (ha)"),
    "tab_cameras": ("监控", "Cameras"),
    "tab_sources": ("水源", "Water sources"),
    "tab_gaps": ("缺口清单", "Gaps"),
    "shares_in_percent": ("比例单位为 %", "Shares in %"),
    "siting": ("新增监控 / 水源选址", "Siting new cameras / water points"),
    "siting_help": ("在山脊、山顶（监控）或近路的河道（水源）候选点中，逐个选出使高火险林地覆盖增加最多的点位（贪心最大覆盖，列出每个点的增量）。",
                    "From ridge and peak cells (cameras) or stream cells near roads (water), pick one by one the "
                    "sites that add the most covered high-risk forest (greedy maximal coverage; each site's gain "
                    "listed)."),
    "siting_cameras_n": ("新增监控（个）", "New cameras"),
    "siting_water_n": ("新增水源点（个）", "New water points"),
    "siting_more": ("更多选址参数", "More siting options"),
    "siting_water_distance": ("新水源点供水距离（米）", "Reach of a new water point (m)"),
    "siting_water_rise": ("新水源点最大爬升（米，0 = 不限）", "Largest rise above a new water point (m, 0 = no limit)"),
    "siting_camera_max_road": ("监控候选点距道路不超过（米，0 = 不限）", "Camera candidates within (m of a road, 0 = no "
                               "limit)"),
    "siting_water_max_road": ("水源候选点距道路不超过（米，0 = 不限）", "Water candidates within (m of a road, 0 = no "
                              "limit)"),
    "siting_prominence": ("山脊候选点最小高差（米）", "Least rise of ridge candidates above their surroundings (m)"),
    "siting_spacing": ("候选点最小间距（米）", "Least spacing of candidates (m)"),
    "siting_max_candidates": ("候选点上限（个）", "Most candidates"),
    "siting_water_candidates": ("水源候选点（可选，上传点图层）", "Candidate water points (optional, upload points)"),
    "fire_steps": ("计算步骤", "Steps"),
    "step_cameras": ("监控视域覆盖", "Camera coverage"),
    "step_water": ("水源可达", "Water reach"),
    "step_gaps": ("覆盖缺口", "Coverage gaps"),
    "refraction": ("大气折光系数", "Refraction coefficient"),
    "reach_rules": ("水源可达规则：各类水源的供水距离与最大爬升高差（可改；直升机取水点与未注明类型的水源各有一行）",
                    "Water reach rules: each source type's distance and largest rise (editable; helicopter dip "
                    "sites and sources with no type have a row each)"),
    "rule_type": ("水源类型", "Source type"),
    "rule_distance": ("供水距离（米）", "Distance (m)"),
    "rule_rise": ("最大爬升（米，空 = 不限）", "Largest rise (m, empty = no limit)"),
    "rain_mm": ("降水（毫米，0 = 无）", "Rain (mm, 0 = none)"),
    "fire_reviews": ("保存与比较评估", "Saved reviews"),
    "fire_review_name": ("评估名称", "Review name"),
    "fire_review_save": ("保存本次评估", "Save this review"),
    "fire_review_pick": ("选择已保存的评估", "Pick a saved review"),
    "fire_review_restore": ("恢复其设置", "Restore its settings"),
    "fire_review_restore_help": ("上传的候选点文件不随评估保存", "Uploaded candidate files are not saved with a review"),
    "fire_review_delete": ("删除", "Delete"),
    "siting_kind": ("类型", "Kind"),
    "siting_camera": ("监控", "Cameras"),
    "siting_water": ("水源", "Water points"),
    "siting_n": ("个数", "How many"),
    "siting_height": ("架设高度（米）", "Mast height (m)"),
    "siting_range": ("监测半径（米）", "Range (m)"),
    "siting_candidates": ("候选点（可选，上传点图层）", "Candidate sites (optional, upload points)"),
    "siting_candidates_help": ("不上传则自动取山脊、山顶（监控）或近路河道（水源）候选点", "without an upload, ridge and "
                               "peak cells (cameras) or stream cells near roads (water) are the candidates"),
    "siting_candidates_n": ("已读入 {n} 个候选点", "{n} candidate sites read"),
    "siting_candidates_where": Text("候选点位置（CGCS2000 经纬度）", "Where the candidate sites lie (CGCS2000 lon/lat)",
                                    "siting_candidates_where"),
    "siting_run": ("计算选址", "Find sites"),
    "siting_running": ("正在计算候选点的覆盖并选址……", "Computing candidate coverage and choosing..."),
    "siting_summary": ("高火险林地 {target} 公顷，现有已覆盖 {before} 公顷；候选点 {n} 个", "High-risk forest {target} ha, "
                       "{before} ha already covered; {n} candidates"),
    "fire_files_prepare": ("生成下载文件（Excel、GeoPackage、GeoJSON、KML、GeoTIFF）",
                           "Make the files (Excel, GeoPackage, GeoJSON, KML, GeoTIFF)"),
    "whole_area": ("全域", "Whole area"),
    "a4_map": ("A4 覆盖图（可打印）", "A4 coverage map (printable)"),
    "a4_map_of": ("**A4 覆盖图（可打印）**：{area}", "**A4 coverage map (printable)**: {area}"),
    "a4_prepare": ("绘制", "Draw"),
    "a4_drawing": ("正在绘制 A4 覆盖图……", "Drawing the A4 map..."),
    "inventory": ("森林、水源与监控清点", "Inventory of forest, water sources and cameras"),
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
    "save_scenario": ("保存情景到工作空间", "Save the scenario in the workspace"),
    "scenario_pick": ("已保存的情景", "Saved scenario"),
    "scenario_restore": ("恢复设置", "Restore its settings"),
    "scenario_restore_help": ("按水位（HAND）或工作空间危险区的情景可直接恢复；上传文件的情景需重新上传该文件。",
                              "Stage (HAND) and workspace-zone scenarios restore directly; for an uploaded file, "
                              "upload it again."),
    "scenario_delete": ("删除", "Delete"),
    "comparison": ("情景比较", "Scenario comparison"),
    "overview": ("全域概览", "Whole area (overview)"),
    "focus_township": ("地图范围：全域概览，或选一个乡镇看全部细节", "Map extent: overview, or a township in full detail"),
    "overview_note": Text("数据量大，概览画到乡镇级网格（村级网格在图层控制中打开）、主要道路和主要河流，森林和房屋以图片显示"
                          "（房屋为点，在图层控制中打开）；选择乡镇可查看该乡镇的全部网格与要素。",
                          "Large data: the overview draws grids down to township level (village grids are turned on "
                          "in the layer control), main roads and rivers, and forest and buildings as images "
                          "(buildings as dots, turned on in the layer control); pick a township to see all its "
                          "grids and features.", "overview_note"),
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
    # flood scenario checked against the grids (gis.flood.hazard.check_overlap)
    "hazard_refused": ("未按此洪水情景计算转移方案：", "No plan was computed from this flood scenario:"),
})


#: Streamlit's own words that it does not translate, as the upload box shows them in Chinese
_UPLOAD_BUTTON = Text("选择文件", "Browse files", "upload_button")
_UPLOAD_LIMIT = Text("单个文件不超过 {mb} MB", "{mb} MB per file", "upload_limit")


#: the sidebar's width on a screen up to 1,100 pixels wide (a 1024-pixel laptop)
SIDEBAR_NARROW_PX = 232


def page_css(lang_: str) -> str:
    """The app's stylesheet: results greyed out while the page reruns, Streamlit's upload box in ``lang_``.

    Streamlit marks every element of the previous run ``data-stale="true"`` until the rerun redraws
    it; after a short delay (so quick reruns do not flicker) such elements turn pale grey, so numbers
    being recalculated are never read as current. Streamlit's file uploader has no language setting:
    its button and limit line are replaced here by words in the interface language. On a small screen (a
    1024-pixel laptop with the sidebar open) the figures of a row of metrics are set smaller, so that six
    of them side by side are read whole, never cut to "11…"; a metric's label, a button's and a box's label wrap rather than end in "…";
    the sidebar takes :data:`SIDEBAR_NARROW_PX` pixels (Streamlit's default is 300) and the page's side margins
    shrink, so the page keeps room for its tables, maps and boxes.
    """
    from layers.settings import MAX_UPLOAD_MB

    button = _UPLOAD_BUTTON(lang_)
    limit = _UPLOAD_LIMIT.format(mb=MAX_UPLOAD_MB)(lang_)
    return f"""<style>
[data-stale="true"] {{ opacity: .28 !important; filter: grayscale(1); transition: opacity .2s ease .4s, filter .2s ease .4s; }}
[data-stale="true"] iframe {{ opacity: .5; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{ font-size: 0 !important; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {{
  content: "{button}"; font-size: 14px; }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0 !important; }}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{ content: "{limit}"; font-size: 14px; }}
[data-testid="stMain"] .stMarkdownEllipsis:not([data-testid="stMetricValue"] *),
[data-testid="stMain"] .stMarkdownEllipsis:not([data-testid="stMetricValue"] *) p {{
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }}
@media (max-width: 1279px) {{ [data-testid="stMetricValue"] {{ font-size: 1.4rem; }} }}
@media (max-width: 1100px) {{ [data-testid="stMetricValue"] {{ font-size: 1.2rem; }}
  [data-testid="stMetricLabel"] p {{ font-size: .8rem; }}
  [data-testid="stSidebar"] {{ width: {SIDEBAR_NARROW_PX}px !important; min-width: {SIDEBAR_NARROW_PX}px !important;
    max-width: {SIDEBAR_NARROW_PX}px !important; }}
  [data-testid="stMainBlockContainer"] {{ padding-left: 1.5rem !important; padding-right: 1.5rem !important; }} }}
</style>"""


def lang() -> str:
    """Current interface language of the Streamlit session ('zh' or 'en')."""
    import streamlit as st

    return st.session_state.get("lang", settings.DEFAULT_LANG)


def text(key: str, lang_: str, **fmt: object) -> str:
    """Text for ``key`` in ``lang_``, formatted with ``fmt``."""
    s = STRINGS[key](lang_)
    return s.format(**fmt) if fmt else s


def labeller(prefix: str):
    """A ``format_func`` for widgets: option ``k`` -> text of key ``prefix + k`` in the language of now.

    The language is fixed when the widget is made (a widget's labels must not change under it).
    """
    lg = lang()
    return lambda k: text(f"{prefix}{k}", lg)


def t(key: str, **fmt: object) -> str:
    """Text for ``key`` in the session's language, formatted with ``fmt``."""
    return text(key, lang(), **fmt)


def problem_lines(e: GisError, *, both: bool = False) -> list[str]:
    """The problems of ``e`` as list items in the session's language; with ``both``, then in the other one too."""
    langs = in_order(lang()) if both else (lang(),)
    return [f"- {line}" for lg in langs for line in e.lines(lg)]
