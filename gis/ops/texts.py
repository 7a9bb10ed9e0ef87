"""Words of the Operations page, its files and its command line: levels, grid statuses, roles, items."""

from __future__ import annotations

from layers.palette import OPS_STATUS, WARNING_LEVEL
from layers.text import Text

#: warning level -> its name
LEVEL_TEXT: dict[str, Text] = {
    "blue": Text("蓝色预警", "blue warning", "level_blue"),
    "yellow": Text("黄色预警", "yellow warning", "level_yellow"),
    "orange": Text("橙色预警", "orange warning", "level_orange"),
    "red": Text("红色预警", "red warning", "level_red"),
}
#: warning level -> colour on maps and in tables
LEVEL_COLORS = dict(WARNING_LEVEL)

#: grid statuses, in the order a grid goes through them (``problem`` can come at any time)
STATUSES = ("warned", "acknowledged", "moving", "done", "problem")
STATUS_TEXT: dict[str, Text] = {
    "warned": Text("已预警", "warned", "status_warned"),
    "acknowledged": Text("已叫应", "acknowledged", "status_acknowledged"),
    "moving": Text("转移中", "moving", "status_moving"),
    "done": Text("已完成", "done", "status_done"),
    "problem": Text("有问题", "problem", "status_problem"),
}
STATUS_COLORS = dict(OPS_STATUS)
STATUS_HELP: dict[str, Text] = {
    "warned": Text("已发布预警，网格责任人尚未确认收到", "warning issued; the grid's responsible person has not "
                   "acknowledged yet", "status_warned_help"),
    "acknowledged": Text("责任人已确认收到，尚无转移反馈", "acknowledged; no report-back yet", "status_ack_help"),
    "moving": Text("已有人员转移，尚未全部转移", "some people moved, not all yet", "status_moving_help"),
    "done": Text("全部人员已转移", "everyone moved", "status_done_help"),
    "problem": Text("有拒绝转移或不在/联系不上的人员", "people refusing or absent/unreachable", "status_problem_help"),
}

#: role of a contact in the call-out chain (grid levels, then shelters and villages)
ROLE_TEXT: dict[str, Text] = {
    "county": Text("县级网格责任人", "county grid", "role_county"),
    "township": Text("乡镇级网格责任人", "township grid", "role_township"),
    "village": Text("村级网格责任人", "village grid", "role_village"),
    "group": Text("组级网格责任人", "group grid", "role_group"),
    "household": Text("联户网格责任人", "household-cluster grid", "role_household"),
    "shelter": Text("安置场所负责人", "shelter", "role_shelter"),
    "other": Text("网格责任人", "grid", "role_other"),
}

#: kinds of entries
KIND_TEXT: dict[str, Text] = {
    "warning": Text("发布预警", "warning issued", "kind_warning"),
    "ack": Text("确认收到", "acknowledged", "kind_ack"),
    "report": Text("实报反馈", "report-back", "kind_report"),
    "checkin": Text("安置签到", "check-in", "kind_checkin"),
    "dispatch": Text("物资调度", "dispatch", "kind_dispatch"),
    "close": Text("解除预警", "warning ended", "kind_close"),
}

#: relief items a depot stocks and a dispatch moves (unit in brackets)
ITEM_TEXT: dict[str, Text] = {
    "rice_kg": Text("大米（公斤）", "Rice (kg)", "item_rice_kg"),
    "drinking_l": Text("饮用水（升）", "Drinking water (L)", "item_drinking_l"),
    "tents": Text("帐篷（顶）", "Tents", "item_tents"),
    "quilts": Text("棉被（床）", "Quilts", "item_quilts"),
    "family_kits": Text("家庭包（套）", "Family kits", "item_family_kits"),
}

AREA_TEXT: dict[str, Text] = {
    "townships": Text("按乡镇", "by township", "area_townships"),
    "villages": Text("按村", "by village", "area_villages"),
    "grids": Text("按网格编号", "by grid id", "area_grids"),
    "plan": Text("按转移方案", "from a flood plan", "area_plan"),
    "polygon": Text("地图圈选", "drawn on the map", "area_polygon"),
    "all": Text("整个工作空间", "the whole workspace", "area_all"),
}


def default_message(level: str) -> Text:
    """The standard wording of a warning of ``level`` (the issuer may write their own)."""
    name = LEVEL_TEXT[level]
    return Text(f"{name.zh}：请立即组织危险区群众按预案转移到安置场所，确保人员安全", f"{name.en}: move the people of "
                "the danger area to the shelters now, as planned", "default_message")
