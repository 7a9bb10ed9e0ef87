"""The after-action record of a warning: the whole event as one workbook and one GeoPackage.

:func:`record_workbook` sheets: the warning and its totals; the call-out list with each
acknowledgment (time, recorder) and who was overdue; every grid with its status and latest
report-back; every shelter with its check-ins and occupancy; per township; the timeline; **every
entry** in the order recorded (kind, subject, time it happened, time recorded, who, the numbers, the
entry it corrected and the one that corrected it); and the shipments of every recorded dispatch.

:func:`write_record_gpkg` layers (EPSG:4490): ``grids`` (outlines from the workspace when given,
else the recorded points, with status and numbers), ``shelters`` (occupancy), ``routes`` (the plan's
routes the warning was issued with), ``contacts`` (at their grid's point) and ``entries`` (every
entry, at its grid's or shelter's point where it has one).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.report.ops_sheets import HEADERS as SHEET_HEADERS
from gis.report.ops_sheets import callout_rows
from gis.report.ops_sheets import header as sheet_header
from gis.report.sheets import Page, new_workbook, write_sheet
from layers.events import Snapshot, local_text
from layers.text import Text

__all__ = ["RECORD_HEADERS", "record_workbook", "record_layers", "write_record_gpkg", "entry_rows", "header",
           "callout_header"]

#: the record's column headers besides the call sheet's and the dispatch sheet's
#: (:data:`gis.report.ops_sheets.HEADERS`: township, village, phone, households, shelter and depot ids, items,
#: quantities and distances read the same there; :func:`header` falls back to them)
RECORD_HEADERS: dict[str, Text] = {
    "event_id": Text("记录号", "Entry"), "kind_name": Text("类型", "Kind"), "subject": Text("对象", "Subject"),
    "subject_name": Text("对象名称", "Subject name"), "at": Text("发生时间", "Happened at"),
    "recorded_at": Text("记录时间", "Recorded at"), "user": Text("记录人", "Recorded by"),
    "moved": Text("已转移（人）", "Moved"), "refused": Text("拒绝转移（人）", "Refusing"),
    "absent": Text("不在/联系不上（人）", "Absent/unreachable"), "people": Text("人数（人）", "People"),
    "vulnerable": Text("老弱病残（人）", "Vulnerable"),
    "supersedes": Text("更正记录号", "Corrects entry"), "superseded_by": Text("被更正于", "Corrected by"),
    "void": Text("作废", "Void"), "note": Text("说明", "Note"), "grid_id": Text("网格编号", "Grid ID"),
    "name": Text("名称", "Name"), "responsible": Text("责任人", "Responsible"),
    "status_name": Text("状态", "Status"), "remaining": Text("待转移（人）", "Still to move"),
    "reported_at": Text("最近反馈时间", "Last report at"), "reported_by": Text("反馈人", "Reported by"),
    "shelter_name": Text("计划安置场所", "Planned shelter"),
    "capacity": Text("容纳人数（人）", "Capacity"), "checked_in": Text("签到人数（人）", "Checked in"),
    "households_in": Text("签到户数（户）", "Households in"),
    "vulnerable_in": Text("其中老弱病残（人）", "Vulnerable in"),
    "in_transit": Text("途中（人）", "In transit"), "occupancy_pct": Text("占用率（%）", "Occupancy (%)"),
    "full_name": Text("已满", "Full"), "overdue_name": Text("超时未应答", "Overdue"),
    "grids": Text("网格（个）", "Grids"), "people_to_move": Text("需转移（人）", "To move"),
    "grids_done": Text("完成网格（个）", "Grids done"),
    "grids_problem": Text("有问题网格（个）", "Grids with problems"),
    "contacts": Text("叫应人数", "Contacts"), "acknowledged": Text("已确认", "Acknowledged"),
    "overdue": Text("超时", "Overdue"), "people_moved": Text("累计转移（人）", "People moved"),
    "people_checked_in": Text("累计签到（人）", "People checked in"),
    "dispatch_event": Text("调度记录号", "Dispatch entry"),
}


_RECORD = Text("应急响应记录", "operations record", "ops_record")


def header(key: str, lang: str = "zh") -> str:
    """The header of column ``key`` of the record (the Operations page's tables say the same)."""
    if key in RECORD_HEADERS:
        return RECORD_HEADERS[key](lang)
    return sheet_header(key, lang)


def callout_header(key: str, lang: str = "zh") -> str:
    """The header of a column of the call-out list: the call sheet's (:data:`gis.report.ops_sheets.HEADERS`) first."""
    if key in SHEET_HEADERS:
        return SHEET_HEADERS[key](lang)
    return header(key, lang)


def _fmt(key: str) -> str | None:
    if key in ("distance_km",):
        return "0.000"
    if key == "occupancy_pct":
        return "0.0"
    if key in ("event_id", "moved", "refused", "absent", "people", "households", "vulnerable", "supersedes",
               "superseded_by", "remaining", "capacity", "checked_in", "households_in", "vulnerable_in", "in_transit",
               "grids", "people_to_move", "grids_done", "grids_problem", "contacts", "acknowledged", "overdue",
               "people_moved", "people_checked_in", "quantity", "seq"):
        return "#,##0"
    return None


def _yes(v: Any, lang: str) -> str:
    return Text("是", "yes")(lang) if bool(v) else ""


def entry_rows(snap: Snapshot, entries: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Every entry, oldest first, with the warning itself as entry 0 and names for grids, contacts and shelters."""
    from gis.ops.texts import KIND_TEXT, LEVEL_TEXT

    e = entries.copy()
    names = {**dict(zip(snap.grids["grid_id"], snap.grids["name"])),
             **dict(zip(snap.contacts["contact_id"], snap.contacts["name"])),
             **dict(zip(snap.shelters["shelter_id"], snap.shelters["name"]))}
    e["subject_name"] = e["subject"].map(names).fillna("")
    e["kind_name"] = e["kind"].map(lambda k: KIND_TEXT[k](lang) if k in KIND_TEXT else k)
    w = snap.warning
    first = pd.DataFrame([{"event_id": 0, "kind_name": KIND_TEXT["warning"](lang), "subject": w.warning_id,
                           "subject_name": f"{LEVEL_TEXT[w.level](lang)} {w.message}", "at": w.issued_at,
                           "recorded_at": w.recorded_at, "user": w.issuer, "people": w.people,
                           "households": w.households, "vulnerable": w.vulnerable}])
    out = pd.concat([first, e], ignore_index=True)
    for c in ("at", "recorded_at"):
        out[c] = out[c].map(lambda v: local_text(v, seconds=True) if isinstance(v, str) else "")
    out["void"] = out.get("void", pd.Series(False, index=out.index)).fillna(False).map(lambda v: _yes(v, lang))
    for c in ("moved", "refused", "absent", "people", "households", "vulnerable", "supersedes", "superseded_by"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Float64")   # Log.entries has every column
    return out


def record_workbook(snap: Snapshot, entries: pd.DataFrame, prog: Any, *, lang: str = "zh") -> bytes:
    """The after-action workbook of one warning (see the module docstring).

    Parameters
    ----------
    snap : Snapshot
    entries : DataFrame
        :meth:`layers.events.OpsLog.entries`.
    prog : Progress
        :func:`gis.ops.progress.progress` at the end (or any moment).
    """
    from gis.ops.texts import LEVEL_TEXT, STATUS_TEXT

    w = snap.warning
    wb = new_workbook(streamed=True)        # thousands of grids and entries: rows go straight to the file
    title = f"{w.warning_id} " + _RECORD(lang)

    def sheet(name: Text, df: pd.DataFrame, keys: list[str], *, landscape: bool = True, text=(), head=header) -> None:
        write_sheet(wb, name(lang), df, keys, [head(k, lang) for k in keys], number_format=_fmt, text_keys=text,
                    page=Page(title=title, landscape=landscape))

    t = prog.totals
    info = [(Text("预警编号", "Warning"), w.warning_id), (Text("级别", "Level"), LEVEL_TEXT[w.level](lang)),
            (Text("内容", "Message"), w.message),
            (Text("发布时间（北京时间）", "Issued (UTC+8)"), local_text(w.issued_at)),
            (Text("发布人", "Issued by"), w.issuer), (Text("范围", "Area"), str(w.area)),
            (Text("统计时间（北京时间）", "As of (UTC+8)"), local_text(prog.at)),
            (Text("网格", "Grids"), t["grids"]), (Text("叫应人数", "Contacts"), t["contacts"]),
            (Text("已确认", "Acknowledged"), t["acknowledged"]), (Text("超时未确认", "Overdue"), t["overdue"]),
            (Text("需转移（人）", "People to move"), t["people_to_move"]),
            (Text("已转移（人）", "People moved"), t["people_moved"]),
            (Text("拒绝转移（人）", "People refusing"), t["people_refused"]),
            (Text("不在/联系不上（人）", "People absent/unreachable"), t["people_absent"]),
            (Text("已签到（人）", "People checked in"), t["people_checked_in"]),
            (Text("无处安置（人）", "People without a place"), t["people_unplaced"]),
            (Text("已满场所（个）", "Shelters full"), t["shelters_full"]),
            (Text("已解除", "Ended"), _yes(t.get("closed"), lang))]
    df = pd.DataFrame({"k": [k(lang) for k, _ in info], "v": [v for _, v in info]})
    write_sheet(wb, Text("预警与汇总", "Warning and totals")(lang), df, ["k", "v"],
                [Text("项目", "Item")(lang), Text("内容", "Value")(lang)], number_format=lambda k: None,
                page=Page(title=title, landscape=False))

    c = callout_rows(snap, lang=lang, contacts=prog.contacts)
    c["overdue_name"] = prog.contacts.sort_values("seq")["overdue"].map(lambda v: _yes(v, lang)).to_numpy()
    sheet(Text("叫应与确认", "Call-out and acknowledgments"), c,
          ["seq", "level_name", "name", "phone", "roles", "township", "people", "escalate_name", "escalate_phone",
           "acked_at", "acked_by", "overdue_name"], text=("phone", "escalate_phone"), head=callout_header)

    g = prog.grids.copy()
    g["status_name"] = g["status"].map(lambda s: STATUS_TEXT[s](lang))
    g["reported_at"] = g["reported_at"].map(lambda v: local_text(v) if isinstance(v, str) else "")
    sheet(Text("网格转移情况", "Grids"), g, ["grid_id", "name", "township", "village", "responsible", "phone", "people",
                                           "moved", "refused", "absent", "remaining", "status_name", "reported_at",
                                           "reported_by", "shelter_name"], text=("phone",))

    s = prog.shelters.copy()
    s["occupancy_pct"] = np.where(np.isfinite(s["occupancy"]), s["occupancy"] * 100, np.nan)
    s["full_name"] = s["full"].map(lambda v: _yes(v, lang))
    sheet(Text("安置场所", "Shelters"), s, ["shelter_id", "name", "township", "capacity", "checked_in", "households_in",
                                           "vulnerable_in", "in_transit", "occupancy_pct", "full_name"])

    tw = prog.townships.reset_index()
    sheet(Text("乡镇进度", "Townships"), tw, ["township", "grids", "people_to_move", "moved", "refused", "absent",
                                            "remaining", "grids_done", "grids_problem", "contacts", "acknowledged",
                                            "overdue", "checked_in"])

    tl = prog.timeline.copy()
    tl["at"] = tl["at"].map(lambda v: local_text(v, seconds=True))
    sheet(Text("时间线", "Timeline"), tl, ["at", "acknowledged", "people_moved", "people_checked_in"], landscape=False)

    er = entry_rows(snap, entries, lang=lang)
    sheet(Text("全部记录", "All entries"), er, ["event_id", "kind_name", "subject", "subject_name", "at", "recorded_at",
                                              "user", "moved", "refused", "absent", "people", "households",
                                              "vulnerable", "supersedes", "superseded_by", "void", "note"])

    ships = []
    disp = entries[(entries["kind"] == "dispatch")]
    for event_id, data in zip(disp["event_id"], disp["data"]):
        for sh in (data or {}).get("shipments", []):
            ships.append({"dispatch_event": event_id, **sh})
    if ships:
        from gis.ops.texts import ITEM_TEXT

        sd = pd.DataFrame(ships)
        sd["item"] = sd["item"].map(lambda v: ITEM_TEXT[v](lang) if v in ITEM_TEXT else v)
        sheet(Text("物资调度", "Dispatches"), sd, ["dispatch_event", "depot_id", "shelter_id", "item", "quantity",
                                                 "distance_km"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _point_series(df: pd.DataFrame) -> gpd.GeoSeries:
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)   # a missing column failed before too
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
    pts = shapely.points(lon, lat)
    # numpy's stub has no overload for a None branch (an object array at run time)
    pts = np.where(np.isfinite(lon) & np.isfinite(lat), pts, None)  # type: ignore[call-overload]
    return gpd.GeoSeries(pts, index=df.index, crs=4490)


def record_layers(snap: Snapshot, entries: pd.DataFrame, prog: Any, *,
                  grid_outlines: gpd.GeoDataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The record's map layers (EPSG:4490): ``grids``, ``shelters``, ``routes``, ``contacts``, ``entries``."""
    g = prog.grids.drop(columns=[c for c in ("acknowledged",) if c in prog.grids]).copy()
    geom = _point_series(g)
    if grid_outlines is not None and len(grid_outlines):
        outl = grid_outlines.to_crs(4490).assign(grid_id=grid_outlines["grid_id"].astype(str)).drop_duplicates(
            "grid_id").set_index("grid_id").geometry
        have = outl.reindex(g["grid_id"]).to_numpy()
        geom = gpd.GeoSeries(np.where(pd.isna(have), geom.to_numpy(), have), index=g.index, crs=4490)
    g["acknowledged"] = prog.grids["acknowledged"].astype(bool)
    grids = gpd.GeoDataFrame(g.drop(columns=["lon", "lat"]), geometry=geom, crs=4490)
    s = prog.shelters.copy()
    s["occupancy"] = np.where(np.isfinite(s["occupancy"]), s["occupancy"], np.nan)
    shelters = gpd.GeoDataFrame(s.drop(columns=["lon", "lat"]), geometry=_point_series(s), crs=4490)
    r = snap.routes
    if len(r):
        routes = gpd.GeoDataFrame(r.drop(columns=["wkb"]), geometry=shapely.from_wkb(np.asarray(r["wkb"].to_numpy(),
                                                                                             dtype=object)), crs=4490)
    else:
        routes = gpd.GeoDataFrame({"grid_id": []}, geometry=[], crs=4490)
    c = prog.contacts.copy()
    where = snap.grids.set_index("grid_id")[["lon", "lat"]]
    shp = snap.shelters.set_index("shelter_id")[["lon", "lat"]]
    c_pos = where.reindex(c["grid_id"].fillna("")).reset_index(drop=True)
    c_pos.index = c.index
    c["ack_event"] = pd.to_numeric(c["ack_event"], errors="coerce").astype("float64")
    contacts = gpd.GeoDataFrame(c, geometry=_point_series(c_pos), crs=4490)
    e = entries.copy()
    e["data"] = e["data"].map(lambda d: None if d is None else str(d)[:2000])
    pos = pd.concat([where, shp]).reset_index().drop_duplicates("index").set_index("index")
    e_pos = pos.reindex(e["subject"]).reset_index(drop=True)
    e_pos.index = e.index
    for col in ("event_id", "moved", "refused", "absent", "people", "households", "vulnerable", "supersedes",
                "superseded_by"):
        e[col] = pd.to_numeric(e[col], errors="coerce").astype("float64")
    ents = gpd.GeoDataFrame(e, geometry=_point_series(e_pos), crs=4490)
    return {"grids": grids, "shelters": shelters, "routes": routes, "contacts": contacts, "entries": ents}


def write_record_gpkg(snap: Snapshot, entries: pd.DataFrame, prog: Any, path: Path | str, *,
                      grid_outlines: gpd.GeoDataFrame | None = None) -> Path:
    """Write the record's layers (:func:`record_layers`) to a new GeoPackage at ``path``."""
    import pyogrio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".writing.gpkg")
    if tmp.exists():
        tmp.unlink()
    for name, gdf in record_layers(snap, entries, prog, grid_outlines=grid_outlines).items():
        out = gdf.copy()
        for col in out.columns:
            if col != out.geometry.name and out[col].dtype == object:
                out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                        else str(v) if not isinstance(v, (bool, np.bool_)) else bool(v))
        pyogrio.write_dataframe(out, tmp, layer=name, driver="GPKG", promote_to_multi=False)
    tmp.replace(path)
    return path
