"""What goes out during a flood: the printable call sheet, the SMS/broadcast list and the dispatch sheet.

- :func:`callout_workbook`: the call-out list (叫应名单) as an Excel workbook set up for A4 paper
  (landscape, fitted to the page width, header row repeated on every page, the warning in the page
  header, page numbers in the footer), with a column to tick and sign, and the acknowledgments so
  far when a progress is given;
- :func:`sms_csv`: ``phone,message`` rows (UTF-8, one per contact with a phone) for an SMS or
  broadcast gateway; the tool sends nothing itself;
- :func:`dispatch_workbook` / :func:`write_dispatch_files`: the dispatch sheet (loading lists per
  depot and receipts per shelter, one row per trip with a column per item; shortages per item) and a
  GeoPackage of the routes.

Headers are in the language asked for (:data:`HEADERS`). The workbooks are streamed
(:func:`gis.report.sheets.new_workbook`, XlsxWriter in constant-memory mode): a prefecture's dispatch sheet has
thousands of rows. The writer is imported when a workbook is written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd

from gis.report.sheets import Page, new_workbook, write_sheet
from layers.events import Snapshot, local_text
from layers.text import Text, registry

__all__ = ["HEADERS", "callout_rows", "callout_workbook", "sms_csv", "sms_message", "dispatch_workbook",
           "write_dispatch_files", "header", "trips"]

HEADERS: dict[str, Text] = {
    "seq": Text("序号", "No."), "level_name": Text("层级", "Level"), "name": Text("姓名", "Name"),
    "phone": Text("联系电话", "Phone"), "roles": Text("负责网格/场所", "Grids / shelter"),
    "township": Text("乡镇", "Township"), "village": Text("村", "Village"), "grids": Text("网格数（个）", "Grids"),
    "households": Text("户数（户）", "Households"), "people": Text("负责人数（人）", "People answered for"),
    "vulnerable": Text("老弱病残（人）", "Vulnerable (persons)"),
    "escalate_name": Text("未应答时上报", "Escalate to"), "escalate_phone": Text("上报电话", "Escalation phone"),
    "acked_at": Text("确认时间", "Acknowledged at"), "acked_by": Text("记录人", "Recorded by"),
    "status": Text("状态", "Status"), "sign": Text("叫应情况/签字", "Called / signature"),
    "contact_id": Text("联系人编号", "Contact ID"),
    # dispatch
    "depot_id": Text("储备库编号", "Depot ID"), "depot_name": Text("储备库", "Depot"),
    "shelter_id": Text("场所编号", "Shelter ID"), "shelter_name": Text("安置场所", "Shelter"),
    "item": Text("物资", "Item"), "quantity": Text("数量", "Quantity"), "unit": Text("单位", "Unit"),
    "tonnes": Text("重量（吨）", "Weight (t)"), "distance_km": Text("距离（公里）", "Distance (km)"),
    "ton_km": Text("吨公里", "Tonne-km"), "method": Text("路线方式", "Route"), "need": Text("需求", "Need"),
    "stock": Text("库存", "Stock"), "supplied": Text("调拨", "Dispatched"), "short": Text("缺口", "Short"),
    "checked_in": Text("签到人数（人）", "Checked in (persons)"),
}
_LEVEL_SHORT: dict[str, Text] = {
    "county": Text("县级", "county"), "township": Text("乡镇级", "township"), "village": Text("村级", "village"),
    "group": Text("组级", "group"), "household": Text("联户", "household cluster"),
    "shelter": Text("安置场所", "shelter"),
    "other": Text("网格", "grid"),
}


#: the words of the sheets besides their headers
_WORDS: dict[str, Text] = registry({
    "no_phone": ("无电话", "no phone"),
    "callout": ("叫应名单", "Call-out list"),
    "callout_title": ("{id} {level} 叫应名单 发布：{at}", "{id} {level} call-out list, issued {at} (UTC+8)"),
    "warning": ("预警", "Warning"),
    "dispatch_sheet": ("物资调度单", "dispatch sheet"),
})
#: the SMS / broadcast message to one contact
_SMS: dict[str, Text] = registry({
    "grids": ("您负责 {grids} 个网格 {people} 人，", "You answer for {grids} grids, {people} people. "),
    "shelter": ("预计安置 {people} 人，", "About {people} people are planned to your shelter. "),
    "message": ("【防汛{level}】{message}。{duty}请立即按预案组织转移，收到请回复“收到”。预警编号 {id}",
                "[Flood {level}] {message}. {duty}Act on the plan now and reply 'received'. Warning {id}"),
})


def header(key: str, lang: str = "zh") -> str:
    """The header of column ``key`` in ``lang``."""
    return HEADERS[key](lang)


def _number_format(key: str) -> str | None:
    if key in ("distance_km", "tonnes"):
        return "0.000"
    if key == "ton_km":
        return "#,##0.00"
    if key in ("seq", "grids", "households", "people", "vulnerable", "quantity", "need", "stock", "supplied", "short",
               "checked_in"):
        return "#,##0"
    return None


def callout_rows(snap: Snapshot, *, lang: str = "zh", contacts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The call-out list as the sheet shows it (``contacts``: the progress's, with acknowledgments)."""
    c = (contacts if contacts is not None else snap.contacts).copy()
    c["level_name"] = c["level"].map(lambda v: _LEVEL_SHORT.get(v, _LEVEL_SHORT["other"])(lang))
    c["phone"] = c["phone"].fillna("").replace("", _WORDS["no_phone"](lang))
    if "acked_at" in c:
        c["acked_at"] = c["acked_at"].map(lambda v: local_text(v) if isinstance(v, str) else "")
    else:
        c["acked_at"] = ""
        c["acked_by"] = ""
    c["sign"] = ""
    return c.sort_values("seq").reset_index(drop=True)


def _warning_title(snap: Snapshot, lang: str) -> str:
    from gis.ops.texts import LEVEL_TEXT

    w = snap.warning
    return _WORDS["callout_title"].format(id=w.warning_id, level=LEVEL_TEXT[w.level](lang),
                                          at=local_text(w.issued_at))(lang)


def callout_workbook(snap: Snapshot, *, lang: str = "zh", contacts: pd.DataFrame | None = None) -> bytes:
    """The printable call sheet (叫应名单): one A4 sheet of contacts in calling order, and the warning.

    Parameters
    ----------
    snap : Snapshot
        The warning (:meth:`layers.events.OpsLog.snapshot`).
    lang : {'zh', 'en'}
    contacts : DataFrame, optional
        The progress's contacts (acknowledgment time and recorder filled in).
    """
    from gis.ops.texts import LEVEL_TEXT

    rows = callout_rows(snap, lang=lang, contacts=contacts)
    keys = ["seq", "level_name", "name", "phone", "roles", "township", "village", "grids", "households", "people",
            "vulnerable", "escalate_name", "escalate_phone", "acked_at", "acked_by", "sign"]
    wb = new_workbook(streamed=True)
    page_title = _warning_title(snap, lang)
    write_sheet(wb, _WORDS["callout"](lang), rows, keys, [header(k, lang) for k in keys], number_format=_number_format,
                text_keys=("phone", "escalate_phone"), max_widths={"roles": 40},
                page=Page(title=page_title))
    w = snap.warning
    info = pd.DataFrame({"k": [Text("预警编号", "Warning")(lang), Text("级别", "Level")(lang),
                               Text("内容", "Message")(lang),
                               Text("发布时间（北京时间）", "Issued (UTC+8)")(lang), Text("发布人", "Issued by")(lang),
                               Text("确认时限（分钟）", "Acknowledge within (min)")(lang),
                               Text("网格", "Grids")(lang), Text("叫应人数", "Contacts")(lang),
                               Text("需转移人数", "People to move")(lang)],
                         "v": [w.warning_id, LEVEL_TEXT[w.level](lang), w.message, local_text(w.issued_at), w.issuer,
                               w.deadline_minutes, w.grids, w.contacts, w.people]})
    write_sheet(wb, _WORDS["warning"](lang), info, ["k", "v"],
                [Text("项目", "Item")(lang), Text("内容", "Value")(lang)], number_format=lambda k: None,
                page=Page(title=page_title, landscape=False))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sms_message(snap: Snapshot, contact: Any, *, lang: str = "zh") -> str:
    """The message for one contact: the warning, what they answer for, and to reply."""
    from gis.ops.texts import LEVEL_TEXT

    w = snap.warning
    lvl = LEVEL_TEXT[w.level](lang)
    people = int(getattr(contact, "people", 0) or 0)
    grids = int(getattr(contact, "grids", 0) or 0)
    duty = (_SMS["grids"] if grids else _SMS["shelter"] if people else Text("", "")).format(grids=grids,
                                                                                           people=people)
    return _SMS["message"].format(level=lvl, message=w.message, duty=duty(lang), id=w.warning_id)(lang)


def sms_csv(snap: Snapshot, *, lang: str = "zh", only: set[str] | None = None) -> bytes:
    """``phone,message`` CSV (UTF-8) for an SMS or broadcast gateway: one row per contact with a phone.

    Parameters
    ----------
    only : set of str, optional
        Contact ids to include (e.g. the overdue ones for a second round).
    """
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["phone", "message"])
    for c in snap.contacts.sort_values("seq").itertuples(index=False):
        if not c.phone or (only is not None and c.contact_id not in only):
            continue
        wr.writerow([c.phone, sms_message(snap, c, lang=lang)])
    return buf.getvalue().encode("utf-8")


def _item_name(item: str, lang: str) -> str:
    from gis.ops.texts import ITEM_TEXT

    return ITEM_TEXT[item](lang) if item in ITEM_TEXT else item


def trips(dispatch: Any, *, lang: str = "zh") -> pd.DataFrame:
    """One row per depot-shelter pair (a truck's trip): the quantity of each item, the weight, distance and ton-km.

    Parameters
    ----------
    dispatch : Dispatch
        :func:`gis.ops.dispatch.dispatch_plan`.
    lang : str
        Language of the route column.

    Returns
    -------
    DataFrame
        ``depot_id``, ``depot_name``, ``shelter_id``, ``shelter_name``, one column per item
        (:data:`gis.ops.dispatch.ITEMS`; None where the trip carries none), ``tonnes``, ``distance_km``, ``ton_km``,
        ``method``; sorted by depot, then shelter.
    """
    from gis.ops.dispatch import ITEMS

    ship = dispatch.shipments
    keys = ["depot_id", "shelter_id"]
    if not len(ship):
        return pd.DataFrame(columns=[*keys, "depot_name", "shelter_name", *ITEMS, "tonnes", "distance_km", "ton_km",
                                     "method"])
    q = ship.pivot_table(index=keys, columns="item", values="quantity", aggfunc="sum").reindex(columns=list(ITEMS))
    g = ship.groupby(keys, sort=True)
    out = g[["depot_name", "shelter_name", "distance_km", "method"]].first()
    out[["tonnes", "ton_km"]] = g[["tonnes", "ton_km"]].sum()
    out = out.join(q.astype(object).where(q.notna() & (q > 0), None)).reset_index()
    out["method"] = out["method"].map({"road": Text("道路", "road")(lang),
                                       "straight_line": Text("直线估算", "straight line")(lang)})
    return out[[*keys, "depot_name", "shelter_name", *ITEMS, "tonnes", "distance_km", "ton_km", "method"]]


def dispatch_workbook(dispatch: Any, *, warning: Any = None, lang: str = "zh") -> bytes:
    """The dispatch sheet: loading lists by depot and receipts by shelter (one row per trip, a column per item),
    and the items' needs, stock and shortages."""
    from gis.ops.dispatch import ITEMS

    rows = trips(dispatch, lang=lang)
    wb = new_workbook(streamed=True)
    title = ""
    if warning is not None:
        title = f"{warning.warning_id} " + _WORDS["dispatch_sheet"](lang)
    tail = ["tonnes", "distance_km", "ton_km", "method"]
    item_heads = [_item_name(i, lang) for i in ITEMS]
    for name, keys in ((Text("按储备库（装车单）", "By depot (loading)")(lang),
                        ["depot_name", "depot_id", "shelter_name", "shelter_id"]),
                       (Text("按安置场所（接收单）", "By shelter (receipt)")(lang),
                        ["shelter_name", "shelter_id", "depot_name", "depot_id"])):
        cols = [*keys, *ITEMS, *tail]
        heads = [header(k, lang) for k in keys] + item_heads + [header(k, lang) for k in tail]
        write_sheet(wb, name, rows.sort_values([keys[1], keys[3]]), cols, heads,
                    number_format=lambda k: "#,##0" if k in ITEMS else _number_format(k), page=Page(title=title))
    items = dispatch.items.reset_index()
    items["item_name"] = items["item"].map(lambda v: _item_name(v, lang))
    keys2 = ["item_name", "need", "stock", "supplied", "short", "tonnes", "ton_km"]
    name = Text("物资汇总与缺口", "Items and shortages")(lang)
    write_sheet(wb, name, items, keys2, [header("item", lang)] + [header(k, lang) for k in keys2[1:]],
                number_format=_number_format, page=Page(title=title, landscape=False))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_dispatch_files(dispatch: Any, out: Path, *, warning: Any = None, lang: str = "zh") -> list[Path]:
    """Write ``dispatch.xlsx`` and ``dispatch.gpkg`` (layer ``routes``: one line per depot-shelter pair) to ``out``."""
    import pyogrio

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    xlsx = out / "dispatch.xlsx"
    xlsx.write_bytes(dispatch_workbook(dispatch, warning=warning, lang=lang))
    files = [xlsx]
    if len(dispatch.routes):
        gpkg = out / "dispatch.gpkg"
        if gpkg.exists():
            gpkg.unlink()
        pyogrio.write_dataframe(dispatch.routes, gpkg, layer="routes", driver="GPKG")
        files.append(gpkg)
    return files
