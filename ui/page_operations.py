"""Operations / 应急响应 page: issue a warning, call out, report back, check in, re-plan, dispatch, follow progress.

The page works on the active store (workspace GeoPackage or PostGIS) through
:class:`gis.ops.session.Operations`, the same object ``python -m gis warn|ack|report|...`` builds. Every
update is one transaction in the workspace's operations record; the live part of the page (figures,
map, townships, timeline) is a fragment that re-reads the record every :data:`REFRESH_S` seconds, so
each officer sees the others' updates without touching anything. Nothing needs the network.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st

from gis.ops.session import Operations
from gis.ops.texts import (
    AREA_TEXT,
    ITEM_TEXT,
    KIND_TEXT,
    LEVEL_COLORS,
    LEVEL_TEXT,
    ROLE_TEXT,
    STATUS_TEXT,
    default_message,
)
from gis.report.ops_record import callout_header
from gis.report.ops_record import header as record_header
from gis.report.ops_sheets import header as sheet_header
from layers.errors import GisError
from layers.events import LEVELS, local_text
from layers.text import PARENS, YES, Text, headed
from ui.downloads import file_name
from ui.i18n import lang
from ui.map_panel import note_missing_layers, show_layers_map, show_map
from ui.map_view import build_map
from ui.state import (
    active_store,
    editor_name,
    hillshade_overlay,
    layer_tokens,
    map_parts,
    place_names,
    shared_result,
    workspace_layers,
)

#: seconds between refreshes of the live part of the page
REFRESH_S = 30
KINDS = ["rivers", "roads", "grids", "villages", "shelters", "depots", "flood_hazard"]

_T: dict[str, Text] = {
    "title": Text("应急响应", "Operations"),
    "intro": Text("洪水来临时在此指挥转移：按范围发布预警并生成叫应名单（逐级责任人与电话），"
                  "记录确认收到、网格实报反馈和安置场所签到，"
                  "超时未确认者列出并提示上报对象；按当前占用重新分配待转移人员，"
                  "从储备库调度物资（吨公里最少）。多人同时录入互不覆盖，"
                  "本页每 30 秒自动刷新。本工具不拨打电话、不发送短信，只生成名单。",
                  "Run an evacuation when the water comes: issue a warning over an area with its call-out list "
                  "(responsible persons and phones at every level), record acknowledgments, grid report-backs and "
                  "shelter check-ins; contacts overdue are listed with whom to escalate to; re-plan the people still "
                  "to move over the remaining capacity, dispatch supplies from the depots (least ton-km). Several "
                  "officers can record at once; this page refreshes every 30 s. The tool places no calls and sends "
                  "nothing: it makes the lists."),
    "no_grids": Text("工作空间中没有转移避险网格，无法发布预警。",
                     "The workspace has no transfer grids: no warning can be issued."),
    "pick_warning": Text("预警", "Warning"),
    "no_warning": Text("还没有发布过预警。在上方“发布新预警”中选择范围和级别。", "No warning yet: issue one above."),
    "new_warning": Text("发布新预警", "Issue a new warning"),
    "level": Text("预警级别", "Level"),
    "area_mode": Text("预警范围", "Area"),
    "townships": Text("乡镇", "Townships"),
    "villages": Text("村（乡镇/村）", "Villages (township/village)"),
    "grid_ids": Text("网格编号（逗号分隔，任一层级）", "Grid ids (comma separated, any level)"),
    "plan_source": Text("转移方案来源", "Plan from"),
    "plan_saved": Text("已保存的洪涝情景", "a saved flood scenario"),
    "plan_upload": Text("上传转移方案 GeoPackage", "upload a plan GeoPackage"),
    "plan_file": Text("转移方案（洪涝页面下载的 GeoPackage，或 python -m gis plan 输出的 plan.gpkg）",
                      "Flood plan (the GeoPackage downloaded on the Flood page, or plan.gpkg of python -m gis plan)"),
    "no_saved": Text("没有可直接使用的已保存情景（按水位或工作空间危险区的情景），"
                     "请在洪涝页面保存情景，或上传方案文件。",
                     "No saved scenario to use (stage or workspace danger zones): save one on the Flood page, or "
                     "upload a plan file."),
    "planning": Text("正在按情景计算转移方案…", "Planning the scenario…"),
    "draw_help": Text("在地图上依次点击圈出范围（至少 3 点），其内的末级网格纳入预警。",
                      "Click the map to draw the area (at least 3 points); the leaf grids inside are covered."),
    "draw_points": Text("已点 {n} 个点", "{n} points"),
    "draw_clear": Text("清除圈选", "Clear the area"),
    "message": Text("预警内容", "Message"),
    "ack_minutes": Text("确认时限（分钟）", "Acknowledge within (minutes)"),
    "issue": Text("发布预警", "Issue the warning"),
    "issued": Text("已发布 {id}：网格 {grids} 个，叫应 {contacts} 人，涉及 {people} 人。",
                   "Issued {id}: {grids} grids, {contacts} contacts, {people} people."),
    "auto_refresh": Text("自动刷新（每 30 秒）", "Refresh by itself (every 30 s)"),
    "refreshed": Text("数据时间 {t}（北京时间）", "As of {t} (UTC+8)"),
    "closed": Text("本预警已解除", "This warning has ended"),
    "m_grids": Text("网格", "Grids"), "m_ack": Text("已确认/叫应", "Acknowledged"),
    "m_overdue": Text("超时未确认", "Overdue"), "m_to_move": Text("需转移", "To move"),
    "m_moved": Text("已转移", "Moved"), "m_checked": Text("已签到", "Checked in"),
    "m_unplaced": Text("无处安置", "Without a place"), "m_full": Text("已满场所", "Shelters full"),
    "focus": Text("地图范围", "Map extent"), "overview": Text("全域概览", "Whole area"),
    "overview_note": Text("网格较多，全域概览以圆点表示网格状态、不画路线；选择乡镇查看网格轮廓与路线。",
                          "Many grids: the whole-area view shows each grid's status as a dot, without routes; pick "
                          "a township for outlines and routes."),
    "townships_table": Text("各乡镇进度", "Progress per township"),
    "timeline": Text("进度时间线", "Timeline"),
    "tab_callout": Text("叫应", "Call-out"), "tab_report": Text("实报反馈", "Report-back"),
    "tab_checkin": Text("安置签到", "Check-in"), "tab_dispatch": Text("物资调度", "Supply dispatch"),
    "tab_record": Text("记录与导出", "Record and export"),
    "contact": Text("联系人", "Contact"), "at": Text("发生时间（留空为现在，如 2026-07-12 09:30）",
                                                    "When (empty: now; e.g. 2026-07-12 09:30)"),
    "record_ack": Text("记录确认收到", "Record the acknowledgment"),
    "show": Text("显示", "Show"), "show_all": Text("全部", "all"), "show_open": Text("未确认", "not acknowledged"),
    "show_overdue": Text("超时", "overdue"),
    "overdue_list": Text("超时未确认：请按“未应答时上报”一栏逐级上报",
                         "Overdue: escalate to the person named under 'Escalate to'"),
    "dl_callsheet": Text("下载叫应名单（Excel，A4）", "Call sheet (Excel, A4)"),
    "dl_sms": Text("下载短信/广播列表（CSV）", "SMS/broadcast list (CSV)"),
    "dl_sms_overdue": Text("超时者短信列表（CSV）", "SMS list of the overdue (CSV)"),
    "grid": Text("网格", "Grid"), "moved": Text("已转移（人）", "Moved"), "refused": Text("拒绝转移（人）", "Refusing"),
    "absent": Text("不在/联系不上（人）", "Absent/unreachable"),
    "report_help": Text("填写该网格至今的累计人数；后一次反馈即为网格的最新情况。",
                        "Give the grid's totals so far; a later report is the grid's new status."),
    "record_report": Text("记录反馈", "Record the report"),
    "status_filter": Text("按状态筛选", "Filter by status"),
    "shelter": Text("安置场所", "Shelter"), "people": Text("到达人数", "People arrived"),
    "households": Text("户数", "Households"), "vulnerable": Text("其中老弱病残", "Vulnerable among them"),
    "checkin_help": Text("每条签到记一次到达的人数（不是累计数）。",
                         "Each check-in is one arrival (not a running total)."),
    "record_checkin": Text("记录签到", "Record the check-in"),
    "full_warning": Text("{name}（{id}）已满：签到 {n} 人，容纳 {cap} 人",
                         "{name} ({id}) is full: {n} checked in, capacity {cap}"),
    "filling_warning": Text("{name}（{id}）将满：签到 {n} 人，容纳 {cap} 人",
                            "{name} ({id}) is filling: {n} checked in, capacity {cap}"),
    "replan": Text("按当前占用重新分配待转移人员", "Re-plan the people still to move over the remaining capacity"),
    "replan_help": Text("与转移方案相同的最优分配：场所容量扣除已签到和途中人员；拒绝转移者仍预留床位。",
                        "The flood plan's exact assignment: capacity less those checked in and in transit; places "
                        "are kept for those refusing."),
    "replan_flood": Text("避开工作空间危险区（洪水范围）", "Keep away from the workspace's danger zones"),
    "replan_do": Text("重新分配", "Re-plan"),
    "replan_result": Text("待转移 {r} 人：可安置 {p} 人，无处安置 {u} 人，使用 {s} 个场所。",
                          "{r} people still to move: {p} placed, {u} without a place, {s} shelters used."),
    "dl_replan": Text("下载重新分配方案（Excel）", "Re-plan (Excel)"),
    "days": Text("保障天数", "Days of supply"),
    "dispatch_do": Text("计算调度方案", "Compute the dispatch"),
    "dispatch_result": Text("{n} 条调拨，共 {t:,.1f} 吨公里。", "{n} shipments, {t:,.1f} tonne-km."),
    "dispatch_record": Text("确认调度并记录", "Confirm and record the dispatch"),
    "dispatch_recorded": Text("已记录调度（记录 #{id}）；下次调度扣除已调拨的物资。",
                              "Dispatch recorded (entry #{id}); the next dispatch deducts what was sent."),
    "dl_dispatch": Text("下载调度单（Excel）", "Dispatch sheet (Excel)"),
    "no_depots": Text("工作空间中没有储备库图层：在“数据图层”页导入储备库（depots）后可调度物资。",
                      "The workspace has no reserve depots: import the depots layer on the Data layers page."),
    "no_occupancy": Text("还没有安置签到：调度按签到人数计算需求。",
                         "No check-in yet: needs come from the people checked in."),
    "shortages": Text("物资缺口", "Shortages"),
    "entries": Text("全部记录（含被更正的记录）", "Every entry (corrected ones too)"),
    "correct": Text("更正一条记录", "Correct an entry"),
    "correct_pick": Text("要更正的记录", "Entry to correct"),
    "correct_void": Text("作废该记录", "Cancel it"),
    "correct_do": Text("记录更正", "Record the correction"),
    "correct_help": Text("更正是一条新记录，原记录保留并注明被更正。",
                         "A correction is a new entry; the old one stays, marked as corrected."),
    "dl_record_xlsx": Text("下载应急响应记录（Excel）", "Operations record (Excel)"),
    "dl_record_gpkg": Text("下载应急响应记录（GeoPackage）", "Operations record (GeoPackage)"),
    "close": Text("解除预警", "End the warning"),
    "saved": Text("已记录（记录 #{id}）", "Recorded (entry #{id})"),
    "notes": Text("说明", "Notes"),
    "issued_at": Text("发布时间（留空为现在，如 2026-07-12 09:30，北京时间）",
                      "Issued at (empty: now; e.g. 2026-07-12 09:30, UTC+8)"),
    "dispatch_flood": Text("避开工作空间危险区内的道路", "Avoid the roads in the workspace's danger zones"),
}


def _t(key: str, **fmt: object) -> str:
    s = _T[key](lang())
    return s.format(**fmt) if fmt else s


def _headed(df: pd.DataFrame, head=record_header) -> pd.DataFrame:
    """``df`` (columns and index named by key) headed as the operations record's files head them."""
    return headed(df, head, lang())


def _errors(e: GisError) -> None:
    st.error("\n".join(f"- {line}" for line in e.lines(lang())))


def _store_key(store) -> str:
    return f"{store.dsn}|{store.schema}" if hasattr(store, "dsn") else str(store.gpkg)


def _ops() -> Operations:
    layers = workspace_layers()
    return Operations(active_store(), layers={k: layers.get(k) for k in KINDS})


@st.cache_resource(show_spinner=False, max_entries=16)
def _snapshot(store_key: str, warning_id: str, _ops_: Operations):
    return _ops_.snapshot(warning_id)


def _flash(msg: str, kind: str = "success") -> None:
    st.session_state["ops_flash"] = (kind, msg)


def _show_flash() -> None:
    f = st.session_state.pop("ops_flash", None)
    if f:
        getattr(st, f[0])(f[1])


# ---- issuing a warning -----------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=4)
def _scenario_plan(key: tuple, params: str):
    """The flood plan of a saved scenario (stage or workspace danger zones), as the warning's plan files: the
    same :class:`~gis.flood.scenario.FloodScenario` the Flood page and ``python -m gis plan`` run."""
    from gis.flood.scenario import FloodInputs, FloodScenario
    from gis.ops.area import PlanFiles
    from ui.state import workspace_dem

    plan = FloodScenario.from_params(json.loads(params)).run(FloodInputs(dict(workspace_layers()), dem=workspace_dem()))
    return PlanFiles(plan.grids, plan.assignments, plan.shelters, key[-1])


def _plan_choice(layers: dict):
    """A plan for the warning's area: a saved flood scenario planned again, or an uploaded plan GeoPackage."""
    from gis.ops.area import read_plan
    from layers.scenarios import list_scenarios
    from ui.state import workspace_folder

    src = st.radio(_t("plan_source"), ["saved", "upload"], horizontal=True, key="ops_plan_src",
                   format_func=lambda k: _t("plan_saved" if k == "saved" else "plan_upload"))
    if src == "upload":
        up = st.file_uploader(_t("plan_file"), type=["gpkg"], key="ops_plan_file")
        if up is None:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plan.gpkg"
            path.write_bytes(up.getvalue())
            plan = read_plan(path)
        plan.source = Path(up.name).name
        return plan
    usable = [s for s in list_scenarios(workspace_folder(), "flood")
              if s.params.get("source") == "stage" or (s.params.get("source") == "workspace" and "flood_hazard" in
                                                        layers)]
    if not usable:
        st.info(_t("no_saved"))
        return None
    pick = st.selectbox(_t("plan_saved"), [s.name for s in usable], key="ops_plan_saved")
    sc = next(s for s in usable if s.name == pick)
    with st.spinner(_t("planning")):
        return _scenario_plan(layer_tokens(["grids", "shelters", "roads", "rivers", "buildings", "villages",
                                            "flood_hazard", "dem"]) + (sc.name,),
                              json.dumps(sc.params, sort_keys=True, default=str))


def _draw_area(layers: dict) -> shapely.Polygon | None:
    """Click the map to draw a polygon; returns it once it has three points."""
    from ui.ops_map import area_group

    st.caption(_t("draw_help"))
    pts: list = st.session_state.setdefault("ops_area_pts", [])
    planned, payloads, images, _ = map_parts([k for k in ("rivers", "roads", "villages") if k in layers])
    extra = ([area_group(pts, lang())], [])
    m = build_map(planned, lang=lang(), hillshade=hillshade_overlay(), payloads=payloads, images=images, height=420,
                  extra=extra, places=place_names())
    out = show_map(m, key="ops_draw_map", height=420, returned_objects=["last_clicked"])
    click = (out or {}).get("last_clicked")
    if click and st.session_state.get("ops_area_last") != click:
        st.session_state["ops_area_last"] = click
        pts.append((round(float(click["lng"]), 6), round(float(click["lat"]), 6)))
        st.rerun(scope="fragment")
    c1, c2 = st.columns([3, 1])
    c1.caption(_t("draw_points", n=len(pts)))
    if c2.button(_t("draw_clear"), key="ops_area_clear"):
        st.session_state["ops_area_pts"] = []
        st.rerun(scope="fragment")
    return shapely.Polygon(pts) if len(pts) >= 3 else None


@st.fragment
def _issue_form(layers: dict) -> None:
    """Issue a warning (a fragment: drawing on its map reruns only this part)."""
    from gis.ops.area import MODES

    grids = layers["grids"]
    c1, c2 = st.columns([2, 3])
    level = c1.radio(_t("level"), list(reversed(LEVELS)), horizontal=True, key="ops_level",
                     format_func=lambda k: LEVEL_TEXT[k](lang()))
    mode = c2.radio(_t("area_mode"), list(MODES), horizontal=True, key="ops_mode",
                    format_func=lambda k: AREA_TEXT[k](lang()))
    kw: dict = {}
    if mode == "townships":
        kw["townships"] = st.multiselect(_t("townships"), sorted(grids["township"].dropna().astype(str).unique()),
                                         key="ops_townships")
    elif mode == "villages":
        tv = (grids["township"].astype(str) + "/" + grids["village"].astype(str))[grids["village"].notna()]
        kw["villages"] = st.multiselect(_t("villages"), sorted(set(tv)), key="ops_villages")
    elif mode == "grids":
        text = st.text_input(_t("grid_ids"), key="ops_grid_ids")
        kw["grid_ids"] = [g.strip() for g in text.replace("，", ",").split(",") if g.strip()]
    elif mode == "plan":
        try:
            kw["plan"] = _plan_choice(layers)
        except GisError as e:
            _errors(e)
            kw["plan"] = None
    elif mode == "polygon":
        kw["polygon"] = _draw_area(layers)
    else:
        kw["everything"] = True
    minutes_default = {"red": 15, "orange": 30, "yellow": 60, "blue": 120}[level]
    c3, c4 = st.columns([4, 1])
    message = c3.text_area(_t("message"), default_message(level)(lang()), key=f"ops_message_{level}", height=70)
    minutes = c4.number_input(_t("ack_minutes"), 1, 1440, minutes_default, key=f"ops_minutes_{level}")
    at = st.text_input(_t("issued_at"), key="ops_issue_at")
    ready = any(v for v in kw.values())
    if st.button(_t("issue"), type="primary", key="ops_issue", disabled=not ready):
        try:
            issued = _ops().warn(level, message=message, issuer=editor_name(), ack_minutes={level: float(minutes)},
                                 at=_at(at), **kw)
        except GisError as e:
            _errors(e)
            return
        w = issued.warning
        _flash(_t("issued", id=w.warning_id, grids=w.grids, contacts=w.contacts, people=f"{w.people:,}"))
        st.session_state["ops_warning"] = w.warning_id
        st.session_state["ops_area_pts"] = []
        st.rerun()


# ---- the live part ---------------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=16)
def _progress_of(key: tuple, _snap, _entries):
    from gis.ops.progress import progress

    return progress(_snap, _entries)


def _progress(ops: Operations, warning_id: str):
    """The warning and where it stands now; recomputed when an entry is added, or a minute has passed
    (deadlines run on), not on every rerun."""
    from layers.events import now_iso

    snap = _snapshot(_store_key(ops.store), warning_id, ops)
    entries = ops.entries(warning_id)
    last = int(entries["event_id"].max()) if len(entries) else 0
    key = (_store_key(ops.store), warning_id, len(entries), last, now_iso()[:16])
    return snap, _progress_of(key, snap, entries)


def _metrics(prog) -> None:
    t = prog.totals
    cells = [("m_grids", f"{t['grids']:,}"), ("m_ack", f"{t['acknowledged']:,}/{t['contacts']:,}"),
             ("m_overdue", f"{t['overdue']:,}"), ("m_to_move", f"{t['people_to_move']:,}"),
             ("m_moved", f"{t['people_moved']:,}"), ("m_checked", f"{t['people_checked_in']:,}"),
             ("m_unplaced", f"{t['people_unplaced']:,}"), ("m_full", f"{t['shelters_full']:,}")]
    for col, (k, v) in zip(st.columns(len(cells)), cells):
        col.metric(_t(k), v)


@st.cache_resource(show_spinner=False, max_entries=16)
def _map_html_parts(key: tuple, township: str | None, lang_: str, _prog, _layers: dict, _routes):
    from ui.ops_map import ops_groups

    return ops_groups(_prog, lang_, outlines=_layers.get("grids"), routes=_routes, depots=_layers.get("depots"),
                      township=township)


def _routes(snap) -> gpd.GeoDataFrame | None:
    rp = st.session_state.get("ops_replan")
    if rp is not None and rp[0] == snap.warning.warning_id:
        return rp[1].plan.assignments
    r = snap.routes
    if not len(r):
        return None
    return gpd.GeoDataFrame(r.drop(columns=["wkb"]), geometry=shapely.from_wkb(list(r["wkb"])), crs=4490)


def _map(snap, prog, layers: dict) -> None:
    from ui.ops_map import is_overview

    township = None
    names = sorted(prog.grids["township"].dropna().astype(str).unique())
    if len(names) > 1:
        choice = st.selectbox(_t("focus"), [_t("overview"), *names], key="ops_focus")
        township = None if choice == _t("overview") else choice
    if is_overview(len(prog.grids), township):
        st.caption(_t("overview_note"))
    base = [k for k in ("rivers", "roads") if k in layers]
    planned, payloads, images, _ = map_parts(base, township)
    entries_key = (prog.at[:16], prog.totals["acknowledged"], prog.totals["people_moved"],
                   prog.totals["people_checked_in"], len(prog.timeline), st.session_state.get("ops_replan_token"))
    key = (snap.warning.warning_id, layer_tokens(["grids", "depots"])) + entries_key
    groups = _map_html_parts(key, township, lang(), prog, layers, _routes(snap))
    m = build_map(planned, lang=lang(), hillshade=hillshade_overlay(), payloads=payloads, images=images, height=600,
                  extra=groups, places=place_names())
    show_map(m, key="ops_map", height=600)


def _townships_and_timeline(prog) -> None:
    c1, c2 = st.columns([3, 2])
    tw = _headed(prog.townships)
    c1.markdown(f"**{_t('townships_table')}**")
    c1.dataframe(tw, width="stretch")
    c2.markdown(f"**{_t('timeline')}**")
    tl = prog.timeline.copy()
    tl.index = pd.to_datetime(tl["at"], utc=True).dt.tz_localize(None) + pd.Timedelta(hours=8)   # UTC+8
    c2.line_chart(_headed(tl[["acknowledged", "people_moved", "people_checked_in"]]))


def _live(warning_id: str, layers: dict) -> None:
    ops = _ops()
    try:
        snap, prog = _progress(ops, warning_id)
    except GisError as e:
        _errors(e)
        return
    w = snap.warning
    st.markdown(f"<span style='background:{LEVEL_COLORS[w.level]};padding:2px 8px;border-radius:3px;color:"
                f"{'#000' if w.level == 'yellow' else '#fff'}'>{LEVEL_TEXT[w.level](lang())}</span> "
                f"**{w.warning_id}** · {local_text(w.issued_at)} · {w.issuer} · {w.message}", unsafe_allow_html=True)
    if prog.totals.get("closed"):
        st.info(_t("closed"))
    st.caption(_t("refreshed", t=local_text(prog.at, seconds=True)))
    _metrics(prog)
    for r in prog.shelters[prog.shelters["full"]].head(10).itertuples(index=False):
        st.warning(_t("full_warning", name=r.name, id=r.shelter_id, n=r.checked_in, cap=r.capacity))
    _map(snap, prog, layers)
    _townships_and_timeline(prog)


# ---- actions ---------------------------------------------------------------------------------------------------------
def _record(fn, *args, **kw) -> None:
    """Run one write; on success remember a message and rerun the page, on a refusal show why."""
    try:
        e = fn(*args, **kw)
    except GisError as err:
        _errors(err)
        return
    _flash(_t("saved", id=e.event_id))
    st.rerun()


def _at(value: str) -> str | None:
    return value.strip() or None


def _callout_tab(ops: Operations, snap, prog) -> None:
    from gis.report.ops_sheets import callout_workbook, sms_csv

    c = prog.contacts
    label = {r.contact_id: f"{r.seq}. {r.name} {r.phone or '—'} · {ROLE_TEXT.get(r.level, ROLE_TEXT['other'])(lang())}"
             for r in c.itertuples(index=False)}
    with st.form("ops_ack_form", clear_on_submit=True):
        open_ids = c.loc[~c["acknowledged"], "contact_id"].tolist()
        who = st.selectbox(_t("contact"), open_ids, format_func=lambda k: label[k], key="ops_ack_contact")
        at = st.text_input(_t("at"), key="ops_ack_at")
        if st.form_submit_button(_t("record_ack")) and who:
            _record(ops.ack, snap.warning.warning_id, who, at=_at(at), user=editor_name())
    show = st.radio(_t("show"), ["all", "open", "overdue"], horizontal=True, key="ops_callout_show",
                    format_func=lambda k: _t({"all": "show_all", "open": "show_open", "overdue": "show_overdue"}[k]))
    view = c if show == "all" else c[~c["acknowledged"]] if show == "open" else c[c["overdue"]]
    st.dataframe(_headed(pd.DataFrame({
        "seq": view["seq"], "level_name": view["level"].map(lambda k: ROLE_TEXT.get(k, ROLE_TEXT["other"])(lang())),
        "name": view["name"], "phone": view["phone"], "township": view["township"], "people": view["people"],
        "acked_at": view["acked_at"].map(lambda v: local_text(v) if isinstance(v, str) else ""),
        "overdue_name": view["overdue"].map(lambda v: YES(lang()) if v else ""),
        "escalate_name": view["escalate_name"], "escalate_phone": view["escalate_phone"]}), callout_header),
        hide_index=True, width="stretch", height=320)
    if prog.totals["overdue"]:
        st.warning(_t("overdue_list"))
    d1, d2, d3 = st.columns(3)
    wid = snap.warning.warning_id
    lg = lang()
    over = set(c.loc[c["overdue"], "contact_id"])
    d1.download_button(_t("dl_callsheet"), lambda: callout_workbook(snap, lang=lg, contacts=c),
                       file_name=file_name("callout", "xlsx", lg, id=wid), key="ops_dl_callsheet", on_click="ignore")
    d2.download_button(_t("dl_sms"), lambda: sms_csv(snap, lang=lg), file_name=file_name("sms", "csv", lg, id=wid),
                       key="ops_dl_sms", on_click="ignore")
    d3.download_button(_t("dl_sms_overdue"), lambda: sms_csv(snap, lang=lg, only=over),
                       file_name=file_name("sms_overdue", "csv", lg, id=wid), key="ops_dl_sms_overdue",
                       on_click="ignore", disabled=not over)


def _report_tab(ops: Operations, snap, prog) -> None:
    g = prog.grids
    lg = lang()
    label = {r.grid_id: f"{r.grid_id} {r.name}" + PARENS.format(s=r.people)(lg) for r in g.itertuples(index=False)}
    st.caption(_t("report_help"))
    with st.form("ops_report_form", clear_on_submit=True):
        gid = st.selectbox(_t("grid"), g["grid_id"].tolist(), format_func=lambda k: label[k], key="ops_report_grid")
        c1, c2, c3 = st.columns(3)
        moved = c1.number_input(_t("moved"), 0, 1_000_000, 0, key="ops_report_moved")
        refused = c2.number_input(_t("refused"), 0, 1_000_000, 0, key="ops_report_refused")
        absent = c3.number_input(_t("absent"), 0, 1_000_000, 0, key="ops_report_absent")
        at = st.text_input(_t("at"), key="ops_report_at")
        if st.form_submit_button(_t("record_report")) and gid:
            _record(ops.report, snap.warning.warning_id, gid, moved=int(moved), refused=int(refused),
                    absent=int(absent), at=_at(at), user=editor_name())
    pick = st.multiselect(_t("status_filter"), list(STATUS_TEXT), key="ops_status_filter",
                          format_func=lambda k: STATUS_TEXT[k](lang()))
    view = g[g["status"].isin(pick)] if pick else g
    st.dataframe(_headed(pd.DataFrame({
        "grid_id": view["grid_id"], "name": view["name"], "township": view["township"],
        "status_name": view["status"].map(lambda s: STATUS_TEXT[s](lang())), "people_to_move": view["people"],
        "moved": view["moved"], "refused": view["refused"], "absent": view["absent"],
        "remaining": view["remaining"], "shelter_name": view["shelter_name"]})),
        hide_index=True, width="stretch", height=320)


def _checkin_tab(ops: Operations, snap, prog, layers: dict) -> None:
    s = prog.shelters
    lg = lang()
    label = {r.shelter_id: f"{r.shelter_id} {r.name}" + PARENS.format(s=f"{r.checked_in}/{r.capacity}")(lg)
             for r in s.itertuples(index=False)}
    order = s.sort_values(["usable", "planned"], ascending=False)["shelter_id"].tolist()
    st.caption(_t("checkin_help"))
    with st.form("ops_checkin_form", clear_on_submit=True):
        sid = st.selectbox(_t("shelter"), order, format_func=lambda k: label[k], key="ops_checkin_shelter")
        c1, c2, c3 = st.columns(3)
        people = c1.number_input(_t("people"), 0, 1_000_000, 0, key="ops_checkin_people")
        households = c2.number_input(_t("households"), 0, 1_000_000, 0, key="ops_checkin_households")
        vulnerable = c3.number_input(_t("vulnerable"), 0, 1_000_000, 0, key="ops_checkin_vulnerable")
        at = st.text_input(_t("at"), key="ops_checkin_at")
        if st.form_submit_button(_t("record_checkin")) and sid:
            _record(ops.checkin, snap.warning.warning_id, sid, people=int(people), households=int(households) or None,
                    vulnerable=int(vulnerable) or None, at=_at(at), user=editor_name())
    for r in s[s["filling"]].head(10).itertuples(index=False):
        st.info(_t("filling_warning", name=r.name, id=r.shelter_id, n=r.checked_in, cap=r.capacity))
    busy = s[(s["checked_in"] > 0) | (s["planned"] > 0)]
    occupancy = pd.to_numeric(busy["occupancy"], errors="coerce")
    st.dataframe(_headed(pd.DataFrame({
        "shelter_id": busy["shelter_id"], "name": busy["name"], "township": busy["township"],
        "capacity": busy["capacity"], "checked_in": busy["checked_in"], "in_transit": busy["in_transit"],
        "occupancy_pct": (occupancy.where(np.isfinite(occupancy)) * 100).round(0)})),
        hide_index=True, width="stretch", height=280)
    st.markdown(f"**{_t('replan')}**")
    st.caption(_t("replan_help"))
    use_flood = "flood_hazard" in layers and st.checkbox(_t("replan_flood"), key="ops_replan_flood")
    if st.button(_t("replan_do"), key="ops_replan_do"):
        try:
            r = ops.replan(snap.warning.warning_id, prog=prog, flood=layers.get("flood_hazard") if use_flood else None)
        except GisError as e:
            _errors(e)
            return
        st.session_state["ops_replan"] = (snap.warning.warning_id, r)
        st.session_state["ops_replan_token"] = hashlib.sha1(str(r.summary).encode()).hexdigest()
    rp = st.session_state.get("ops_replan")
    if rp is not None and rp[0] == snap.warning.warning_id:
        r = rp[1]
        st.success(_t("replan_result", r=f"{r.summary['people_remaining']:,}", p=f"{r.summary['people_placed']:,}",
                      u=f"{r.summary['people_unplaced']:,}", s=r.summary["shelters_used"]))
        for n in [*(x(lang()) for x in r.notes), *r.plan.messages(lang())]:
            st.caption("· " + n)
        from gis.report.plan_workbook import plan_workbook

        lg = lang()
        st.download_button(_t("dl_replan"), lambda: plan_workbook(r.plan, lang=lg), key="ops_dl_replan",
                           file_name=file_name("replan", "xlsx", lg, id=snap.warning.warning_id), on_click="ignore")


def _road_graph(ops: Operations):
    """The road graph for a dispatch, built once per revision of the roads layer and frame, shared by every session
    (a flood extent is cut from a copy of it)."""
    import pyproj

    key = layer_tokens(["roads"])
    return lambda crs: shared_result(("ops_road_graph", key, pyproj.CRS.from_user_input(crs).to_wkt()),
                                     lambda: ops.road_graph(crs))


def _dispatch_tab(ops: Operations, snap, prog, layers: dict) -> None:
    from gis.report.ops_sheets import dispatch_workbook

    if layers.get("depots") is None or not len(layers["depots"]):
        st.info(_t("no_depots"))
        return
    if not prog.totals["people_checked_in"]:
        st.info(_t("no_occupancy"))
    days = st.number_input(_t("days"), 1, 30, 3, key="ops_dispatch_days")
    use_flood = "flood_hazard" in layers and st.checkbox(_t("dispatch_flood"), key="ops_dispatch_flood")
    if st.button(_t("dispatch_do"), key="ops_dispatch_do", disabled=not prog.totals["people_checked_in"]):
        try:
            d, _ = ops.dispatch(snap.warning.warning_id, prog=prog, days=int(days),
                                flood=layers.get("flood_hazard") if use_flood else None, graph=_road_graph(ops))
        except GisError as e:
            _errors(e)
            return
        st.session_state["ops_dispatch"] = (snap.warning.warning_id, int(days), d)
    cur = st.session_state.get("ops_dispatch")
    if cur is None or cur[0] != snap.warning.warning_id:
        return
    d = cur[2]
    st.success(_t("dispatch_result", n=len(d.shipments), t=d.ton_km))
    items = d.items.reset_index()
    st.dataframe(_headed(pd.DataFrame({"item": items["item"].map(lambda k: ITEM_TEXT[k](lang())),
                                       "need": items["need"], "stock": items["stock"],
                                       "supplied": items["supplied"], "short": items["short"]}), sheet_header),
                 hide_index=True, width="stretch")
    for n in d.notes:
        st.caption("· " + n(lang()))
    sh = d.shipments
    st.dataframe(_headed(pd.DataFrame({"depot_name": sh["depot_name"], "shelter_name": sh["shelter_name"],
                                       "item": sh["item"].map(lambda k: ITEM_TEXT[k](lang())),
                                       "quantity": sh["quantity"], "distance_km": sh["distance_km"]}), sheet_header),
                 hide_index=True, width="stretch", height=260)
    c1, c2 = st.columns(2)
    lg = lang()
    c1.download_button(_t("dl_dispatch"), lambda: dispatch_workbook(d, warning=snap.warning, lang=lg),
                       file_name=file_name("dispatch", "xlsx", lg, id=snap.warning.warning_id), key="ops_dl_dispatch",
                       on_click="ignore")
    if c2.button(_t("dispatch_record"), key="ops_dispatch_record"):
        try:
            data = {"shipments": d.shipments[["depot_id", "shelter_id", "item", "quantity", "distance_km",
                                              "method"]].to_dict("records"), "ton_km": round(d.ton_km, 3),
                    "shortages": d.shortages(), "days": cur[1]}
            e = ops.log.record(snap.warning.warning_id, "dispatch", data, user=editor_name(),
                               note=f"{len(d.shipments)} shipments, {d.ton_km:,.1f} t·km")
        except GisError as err:
            _errors(err)
            return
        st.session_state.pop("ops_dispatch", None)
        _flash(_t("dispatch_recorded", id=e.event_id))
        st.rerun()


def _record_tab(ops: Operations, snap, prog, layers: dict) -> None:
    from gis.report.ops_record import record_workbook, write_record_gpkg

    e = ops.entries(snap.warning.warning_id)
    names = {**dict(zip(snap.grids["grid_id"], snap.grids["name"])),
             **dict(zip(snap.contacts["contact_id"], snap.contacts["name"])),
             **dict(zip(snap.shelters["shelter_id"], snap.shelters["name"]))}
    st.markdown(f"**{_t('entries')}**")
    st.dataframe(_headed(pd.DataFrame({
        "event_id": e["event_id"], "kind_name": e["kind"].map(lambda k: KIND_TEXT[k](lang())),
        "subject": e["subject"], "subject_name": e["subject"].map(names).fillna(""),
        "at": e["at"].map(lambda v: local_text(v, seconds=True)), "user": e["user"],
        "moved": e["moved"], "refused": e["refused"], "absent": e["absent"], "people": e["people"],
        "superseded_by": e["superseded_by"]})),
        hide_index=True, width="stretch", height=280)
    live = e[e["active"] & e["kind"].isin(["ack", "report", "checkin"])]
    with st.expander(_t("correct")):
        st.caption(_t("correct_help"))
        if len(live):
            pick = st.selectbox(_t("correct_pick"), live["event_id"].tolist()[::-1], key="ops_correct_pick",
                                format_func=lambda i: _entry_label(live.set_index("event_id").loc[i], names))
            row = live.set_index("event_id").loc[pick]
            void = st.checkbox(_t("correct_void"), key="ops_correct_void")
            kw: dict = {}
            if not void and row["kind"] == "report":
                c1, c2, c3 = st.columns(3)
                kw = {"moved": int(c1.number_input(_t("moved"), 0, 1_000_000, int(row["moved"] or 0), key="ops_c_m")),
                      "refused": int(c2.number_input(_t("refused"), 0, 1_000_000, int(row["refused"] or 0),
                                                     key="ops_c_r")),
                      "absent": int(c3.number_input(_t("absent"), 0, 1_000_000, int(row["absent"] or 0),
                                                    key="ops_c_a"))}
            elif not void and row["kind"] == "checkin":
                kw = {"people": int(st.number_input(_t("people"), 0, 1_000_000, int(row["people"] or 0),
                                                    key="ops_c_p"))}
            if st.button(_t("correct_do"), key="ops_correct_do"):
                wid = snap.warning.warning_id
                common = {"corrects": int(pick), "void": void, "user": editor_name(), "at": row["at"]}
                if row["kind"] == "ack":
                    _record(ops.ack, wid, row["subject"], **common)
                elif row["kind"] == "report":
                    _record(ops.report, wid, row["subject"], **({"moved": 0} if void else kw), **common)
                else:
                    _record(ops.checkin, wid, row["subject"], **({"people": 0} if void else kw), **common)
    c1, c2, c3 = st.columns(3)
    wid = snap.warning.warning_id
    lg = lang()

    def gpkg() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            return write_record_gpkg(snap, e, prog, Path(tmp) / "record.gpkg",
                                     grid_outlines=layers.get("grids")).read_bytes()

    c1.download_button(_t("dl_record_xlsx"), lambda: record_workbook(snap, e, prog, lang=lg),
                       file_name=file_name("ops_record", "xlsx", lg, id=wid), key="ops_dl_record_xlsx",
                       on_click="ignore")
    c2.download_button(_t("dl_record_gpkg"), gpkg, file_name=file_name("ops_record", "gpkg", lg, id=wid),
                       key="ops_dl_record_gpkg", on_click="ignore")
    if not prog.totals.get("closed") and c3.button(_t("close"), key="ops_close"):
        _record(ops.close, wid, user=editor_name())


def _entry_label(row: pd.Series, names: dict) -> str:
    bits = [f"#{row.name}", KIND_TEXT[row['kind']](lang()), str(row["subject"]), names.get(row["subject"], ""),
            local_text(row["at"])]
    for k in ("moved", "refused", "absent", "people"):
        if pd.notna(row.get(k)):
            bits.append(f"{_t(k)} {int(row[k])}")
    return " · ".join(b for b in bits if b)


def _warning_label(w) -> str:
    return f"{w.warning_id} · {LEVEL_TEXT[w.level](lang())} · {local_text(w.issued_at)} · {w.message[:24]}"


def page() -> None:
    """Render the page."""
    st.header(_t("title"))
    st.caption(_t("intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["grids", "shelters", "depots", "roads"])
    if "grids" not in layers:
        st.info(_t("no_grids"))
        show_layers_map(KINDS, key="ops_layers_map")
        return
    _show_flash()
    ops = _ops()
    try:
        warnings = ops.warnings()
    except GisError as e:
        _errors(e)
        return
    with st.expander(_t("new_warning"), expanded=not warnings):
        _issue_form(layers)
    if not warnings:
        st.info(_t("no_warning"))
        show_layers_map(KINDS, key="ops_layers_map")
        return
    ids = [w.warning_id for w in warnings]
    if st.session_state.get("ops_warning") not in ids:
        st.session_state["ops_warning"] = ids[0]
    by_id = {w.warning_id: w for w in warnings}
    wid = st.selectbox(_t("pick_warning"), ids, key="ops_warning", format_func=lambda i: _warning_label(by_id[i]))
    auto = st.toggle(_t("auto_refresh"), value=True, key="ops_auto")
    st.fragment(_live, run_every=REFRESH_S if auto else None)(wid, layers)
    try:
        snap, prog = _progress(ops, wid)
    except GisError as e:
        _errors(e)
        return
    tabs = st.tabs([_t("tab_callout"), _t("tab_report"), _t("tab_checkin"), _t("tab_dispatch"), _t("tab_record")])
    with tabs[0]:
        _callout_tab(ops, snap, prog)
    with tabs[1]:
        _report_tab(ops, snap, prog)
    with tabs[2]:
        _checkin_tab(ops, snap, prog, layers)
    with tabs[3]:
        _dispatch_tab(ops, snap, prog, layers)
    with tabs[4]:
        _record_tab(ops, snap, prog, layers)
