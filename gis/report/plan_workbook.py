"""The evacuation plan as an Excel workbook with Chinese (or English) headers.

:func:`plan_workbook` turns the plan's tables into one ``.xlsx`` with five sheets:

========== ================= ==========================================================
sheet (zh) sheet (en)        content
========== ================= ==========================================================
转移计划   Evacuation plan   one row per (grid, shelter) assignment: township, village,
                             grid, responsible person, phone, households, people,
                             vulnerable, shelter, distance, time, route method; a grid
                             split over two shelters has two rows, marked in 备注; the
                             people of a grid that could not be placed get a row
                             "未安置"
安置场所负荷 Shelter load      capacity, load, vulnerable load, spare, load %, usable,
                             reason when unusable
乡镇汇总   Township summary  grids to evacuate, households, people, vulnerable, placed,
                             unplaced, capacity missing; total row
物资需求   Needs             the minimum-needs table as given
说明       Notes             scenario, hazard method, date, totals, method note
========== ================= ==========================================================

Every sheet has a frozen, bold header row, an autofilter, column widths fitted to the text
(CJK characters count double) and number formats (``#,##0`` for counts, ``0.0`` for
kilometres). :func:`township_workbooks` makes the same workbook for each township, holding only
that township's grids (the list that goes to each township).

Input ("tables"): any object with attributes, or a mapping with keys, ``grids``,
``assignments``, ``shelters``, ``unplaced``, ``needs``, ``summary`` (see
:func:`plan_workbook` for the columns used). Nothing here depends on the classes that compute
the plan.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
from typing import Any, Collection

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment

from gis.report.sheets import write_sheet
from gis.report.tables import table_part, truthy
from layers.catalogue import spec as get_spec

__all__ = ["HEADERS", "SHEETS", "plan_workbook", "township_workbooks", "plan_rows", "shelter_rows",
           "township_rows", "header"]

#: column key -> (Chinese header, English header); units in the header
HEADERS: dict[str, tuple[str, str]] = {
    "township": ("乡镇", "Township"),
    "village": ("村", "Village"),
    "grid_id": ("网格编号", "Grid ID"),
    "grid_name": ("网格名称", "Grid name"),
    "responsible": ("责任人", "Responsible person"),
    "phone": ("联系电话", "Phone"),
    "households": ("户数（户）", "Households"),
    "people": ("人数（人）", "People"),
    "vulnerable": ("老弱病残（人）", "Vulnerable (persons)"),
    "max_depth": ("最大水深（米）", "Max depth (m)"),
    "shelter_id": ("场所编号", "Shelter ID"),
    "shelter": ("安置场所", "Shelter"),
    "distance_km": ("距离（公里）", "Distance (km)"),
    "time_min": ("时间（分钟）", "Time (min)"),
    "method": ("路线方式", "Route method"),
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
    # notes sheet
    "item": ("项目", "Item"),
    "value": ("内容", "Value"),
}

#: sheet key -> (Chinese name, English name)
SHEETS: dict[str, tuple[str, str]] = {
    "plan": ("转移计划", "Evacuation plan"),
    "shelters": ("安置场所负荷", "Shelter load"),
    "townships": ("乡镇汇总", "Township summary"),
    "needs": ("物资需求", "Needs"),
    "notes": ("说明", "Notes"),
}

_WORDS = {
    "road": ("道路", "road"),
    "straight_line": ("直线估算", "straight line (estimate)"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "unplaced": ("未安置", "not placed"),
    "total": ("合计", "Total"),
    "split": ("分{n}处安置（第{i}处）；户数按人数比例分摊", "split over {n} shelters ({i}); households "
              "apportioned by people"),
    "unplaced_remark": ("安置场所容量不足，需另行安排", "shelter capacity short; needs another place"),
}

_COUNT_KEYS = {"households", "people", "people_to_evacuate", "vulnerable", "capacity", "load", "vulnerable_load",
               "spare", "grids",
               "placed", "unplaced", "capacity_missing", "family_kits", "toilets", "days", "food_kg", "rice_kg",
               "drinking_water_l", "clean_water_l"}
_FORMATS = {"distance_km": "0.0", "time_min": "0", "max_depth": "0.00", "load_pct": "0", "food_kg": "#,##0.0",
            "rice_kg": "#,##0.0", "drinking_water_l": "#,##0", "clean_water_l": "#,##0", "drinking_l": "#,##0",
            "clean_l": "#,##0"}


def _w(key: str, lang: str, **fmt: Any) -> str:
    zh, en = _WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def header(key: str, lang: str = "zh") -> str:
    """Display header of a column key (``'distance_km'`` -> ``距离（公里）``); unknown keys as given."""
    zh, en = HEADERS.get(key, (key, key))
    return zh if lang == "zh" else en


def _frame(tables: Any, name: str) -> pd.DataFrame:
    df = table_part(tables, name)
    if df is None:
        return pd.DataFrame()
    return pd.DataFrame(df).copy()


def _num(s: pd.Series | Any) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _col(df: pd.DataFrame, name: str, default: Any = np.nan) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index)


def _apportion(total: float, weights: list[float]) -> list[int]:
    """Split an integer ``total`` in proportion to ``weights`` (largest remainder; sum kept)."""
    if not weights:
        return []
    if not np.isfinite(total) or total <= 0:
        return [0] * len(weights)
    total = int(round(total))
    w = np.asarray([max(0.0, float(x)) if np.isfinite(x) else 0.0 for x in weights])
    if w.sum() <= 0:
        w = np.ones(len(w))
    raw = total * w / w.sum()
    base = np.floor(raw).astype(int)
    rest = total - int(base.sum())
    for i in np.argsort(-(raw - base), kind="stable")[:rest]:
        base[i] += 1
    return [int(x) for x in base]


# ---- sheet contents (plain DataFrames with column keys; headers applied when writing) ----------

def plan_rows(tables: Any, *, lang: str = "zh") -> pd.DataFrame:
    """The 转移计划 rows: one per assignment, plus one per grid with people left unplaced.

    Parameters
    ----------
    tables : object or mapping
        Uses ``grids`` (grid_id, name, township, village, responsible, phone, households,
        population, vulnerable, max_depth, evacuate), ``assignments`` (grid_id, shelter_id, people,
        vulnerable, distance_km, time_min, method) and ``shelters`` (shelter_id, name).
    lang : {'zh', 'en'}
        Language of the text cells (route method, remarks).

    Returns
    -------
    DataFrame
        Columns ``township, village, grid_id, grid_name, responsible, phone, households, people,
        vulnerable, shelter, distance_km, time_min, method, remark``, sorted by township, village,
        grid. A split grid has one row per shelter and its households apportioned by people.
    """
    grids = _frame(tables, "grids")
    asg = _frame(tables, "assignments")
    shel = _frame(tables, "shelters")
    cols = ["township", "village", "grid_id", "grid_name", "responsible", "phone", "households", "people",
            "vulnerable", "shelter", "distance_km", "time_min", "method", "remark"]
    if grids.empty and asg.empty:
        return pd.DataFrame(columns=cols)
    if "grid_id" in grids:
        grids["grid_id"] = grids["grid_id"].astype(str)
    if "grid_id" in asg:
        asg["grid_id"] = asg["grid_id"].astype(str)
    shelter_name = {}
    if "shelter_id" in shel:
        shelter_name = dict(zip(shel["shelter_id"].astype(str), _col(shel, "name", "").astype(str)))
    ginfo = grids.set_index("grid_id") if "grid_id" in grids else pd.DataFrame()

    rows: list[dict] = []
    placed_by_grid: dict[str, float] = {}
    vul_by_grid: dict[str, float] = {}
    for gid, part in (asg.groupby("grid_id", sort=False) if "grid_id" in asg else []):
        g = ginfo.loc[gid] if gid in ginfo.index else pd.Series(dtype=object)
        if isinstance(g, pd.DataFrame):
            g = g.iloc[0]
        people = _num(_col(part, "people", 0)).fillna(0).tolist()
        hh = _apportion(_num(pd.Series([g.get("households", np.nan)])).iloc[0], people) \
            if len(part) > 1 else [g.get("households", np.nan)]
        n = len(part)
        placed_by_grid[gid] = float(sum(people))
        vul_by_grid[gid] = float(_num(_col(part, "vulnerable", 0)).fillna(0).sum())
        for i, (_, a) in enumerate(part.iterrows()):
            sid = str(a.get("shelter_id", ""))
            method = a.get("method", "")
            rows.append({
                "township": g.get("township"), "village": g.get("village"), "grid_id": gid,
                "grid_name": g.get("name"), "responsible": g.get("responsible"), "phone": g.get("phone"),
                "households": hh[i], "people": a.get("people"), "vulnerable": a.get("vulnerable"),
                "shelter": shelter_name.get(sid, sid), "distance_km": a.get("distance_km"),
                "time_min": a.get("time_min"),
                "method": _w(method, lang) if method in ("road", "straight_line") else method,
                "remark": _w("split", lang, n=n, i=i + 1) if n > 1 else "",
            })
    # people of evacuated grids that no assignment carries
    if not grids.empty and "grid_id" in grids:
        evac = grids[_col(grids, "evacuate", True).map(truthy)] if "evacuate" in grids else grids
        for _, g in evac.iterrows():
            pop = _num(pd.Series([g.get("population", np.nan)])).iloc[0]
            left = (pop if np.isfinite(pop) else 0) - placed_by_grid.get(g["grid_id"], 0.0)
            if left > 0.5:
                vul = _num(pd.Series([g.get("vulnerable", np.nan)])).iloc[0]
                vleft = max(0.0, (vul if np.isfinite(vul) else 0) - vul_by_grid.get(g["grid_id"], 0.0))
                hh_total = _num(pd.Series([g.get("households", np.nan)])).iloc[0]
                hh = hh_total if g["grid_id"] not in placed_by_grid else _apportion(
                    hh_total, [placed_by_grid[g["grid_id"]], left])[1]
                rows.append({
                    "township": g.get("township"), "village": g.get("village"), "grid_id": g["grid_id"],
                    "grid_name": g.get("name"), "responsible": g.get("responsible"), "phone": g.get("phone"),
                    "households": hh, "people": int(round(left)), "vulnerable": int(round(vleft)),
                    "shelter": _w("unplaced", lang), "distance_km": np.nan, "time_min": np.nan, "method": "",
                    "remark": _w("unplaced_remark", lang),
                })
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        order = out[["township", "village", "grid_id"]].astype(str)
        out = out.loc[order.sort_values(["township", "village", "grid_id"], kind="stable").index]
    return out.reset_index(drop=True)


def shelter_rows(tables: Any, *, lang: str = "zh") -> pd.DataFrame:
    """The 安置场所负荷 rows: one per shelter.

    Uses ``shelters`` columns shelter_id, name, type, township, village, capacity, load,
    vulnerable_load, spare, usable, reason. Returns those (``name`` as ``shelter``) plus
    ``load_pct``; used shelters first (by load, descending), then the others.
    """
    s = _frame(tables, "shelters")
    cols = ["shelter_id", "shelter", "type", "township", "village", "capacity", "load", "vulnerable_load", "spare",
            "load_pct", "usable", "reason"]
    if s.empty:
        return pd.DataFrame(columns=cols)
    type_field = get_spec("shelters").field("type")
    out = pd.DataFrame({
        "shelter_id": _col(s, "shelter_id", ""), "shelter": _col(s, "name", ""),
        "type": _col(s, "type", "").map(lambda v: type_field.choice_label(v, lang) if isinstance(v, str) else v),
        "township": _col(s, "township", ""), "village": _col(s, "village", ""),
        "capacity": _num(_col(s, "capacity")), "load": _num(_col(s, "load", 0)).fillna(0),
        "vulnerable_load": _num(_col(s, "vulnerable_load", 0)).fillna(0),
    })
    out["spare"] = _num(s["spare"]) if "spare" in s else (out["capacity"] - out["load"])
    cap = out["capacity"].where(out["capacity"] > 0)
    out["load_pct"] = (100.0 * out["load"] / cap).round(0)
    usable = _col(s, "usable", True).map(truthy)
    out["usable"] = usable.map(lambda v: _w("yes" if v else "no", lang))
    out["reason"] = _col(s, "reason", "").where(~usable, "").fillna("")
    out = out.assign(_u=(out["load"] > 0).astype(int)).sort_values(["_u", "load"], ascending=False, kind="stable")
    return out.drop(columns="_u").reset_index(drop=True)[cols]


def township_rows(tables: Any, *, lang: str = "zh") -> pd.DataFrame:
    """The 乡镇汇总 rows: one per township with grids to evacuate, and a total row.

    Uses ``grids`` (township, households, population, vulnerable, evacuate), ``assignments``
    (grid_id, people) and ``unplaced`` (township, people_unplaced, capacity_missing). Placed people
    are counted in the township of their grid. Columns ``township, grids, households,
    people_to_evacuate, vulnerable, placed, unplaced, capacity_missing``; without an ``unplaced``
    row a township's unplaced people are its people to evacuate minus those placed.
    """
    grids = _frame(tables, "grids")
    asg = _frame(tables, "assignments")
    unp = _frame(tables, "unplaced")
    cols = ["township", "grids", "households", "people_to_evacuate", "vulnerable", "placed", "unplaced",
            "capacity_missing"]
    if grids.empty:
        return pd.DataFrame(columns=cols)
    grids["grid_id"] = grids["grid_id"].astype(str)
    evac = grids[_col(grids, "evacuate", True).map(truthy)] if "evacuate" in grids else grids
    key = _col(evac, "township", "—").fillna("—")
    out = pd.DataFrame({
        "grids": evac.groupby(key).size(),
        "households": _num(_col(evac, "households")).groupby(key).sum(),
        "people_to_evacuate": _num(_col(evac, "population")).groupby(key).sum(),
        "vulnerable": _num(_col(evac, "vulnerable")).groupby(key).sum(),
    })
    if not asg.empty and "grid_id" in asg:
        town_of = dict(zip(grids["grid_id"], _col(grids, "township", "—").fillna("—")))
        t = asg["grid_id"].astype(str).map(town_of).fillna("—")
        out["placed"] = _num(_col(asg, "people", 0)).groupby(t).sum()
    else:
        out["placed"] = 0
    out["placed"] = out["placed"].fillna(0)
    if not unp.empty and "township" in unp:
        out["unplaced"] = _num(_col(unp, "people_unplaced", 0)).groupby(unp["township"].fillna("—")).sum()
        out["capacity_missing"] = _num(_col(unp, "capacity_missing", 0)).groupby(
            unp["township"].fillna("—")).sum()
    else:
        out["unplaced"] = np.nan
        out["capacity_missing"] = 0
    out["unplaced"] = out["unplaced"].fillna((out["people_to_evacuate"] - out["placed"]).clip(lower=0))
    out["capacity_missing"] = out["capacity_missing"].fillna(0)
    out = out.fillna(0).round(0).astype("int64")
    out.index.name = "township"
    out = out.sort_index().reset_index()
    total = {"township": _w("total", lang), **{c: int(out[c].sum()) for c in cols[1:]}}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)[cols]


_NEEDS_COLUMNS = ["shelter_id", "name", "people", "days", "food_kg", "drinking_water_l", "clean_water_l",
                  "family_kits", "toilets"]


def _needs_rows(tables: Any) -> pd.DataFrame:
    n = _frame(tables, "needs")
    if n.index.name and n.index.name not in n.columns:      # shelter_id as the index (gis.flood.needs style)
        n = n.reset_index()
    if "name" not in n and "shelter_id" in n:
        shel = _frame(tables, "shelters")
        if {"shelter_id", "name"} <= set(shel.columns):
            names = dict(zip(shel["shelter_id"].astype(str), shel["name"]))
            n.insert(1, "name", n["shelter_id"].astype(str).map(names))
    if n.empty and not len(n.columns):
        n = pd.DataFrame(columns=_NEEDS_COLUMNS)
    if "geometry" in n:
        n = n.drop(columns="geometry")
    return n.reset_index(drop=True)


_SUMMARY_ITEMS = (
    (("scenario", "scenario_name", "name"), ("方案名称", "Scenario")),
    (("hazard_method", "method", "hazard"), ("致灾方法", "Hazard method")),
    (("people_to_evacuate",), ("需转移人数（人）", "People to evacuate")),
    (("people_placed",), ("已安置人数（人）", "People placed")),
    (("people_unplaced",), ("未安置人数（人）", "People not placed")),
    (("shelters_used",), ("使用安置场所（个）", "Shelters used")),
    (("person_km",), ("总转移人·公里", "Person-kilometres")),
)


def _notes_rows(tables: Any, *, lang: str, note: str | None, date: str | None, synthetic: bool) -> list[tuple]:
    summary = dict(table_part(tables, "summary") or {})
    i = 0 if lang == "zh" else 1
    rows: list[tuple] = []
    used: set[str] = set()
    for keys, labels in _SUMMARY_ITEMS:
        for k in keys:
            if k in summary and k not in used:
                v = summary[k]
                rows.append((labels[i], round(v, 1) if isinstance(v, float) else v))
                used.add(k)
                break
    for k, v in summary.items():
        if k not in used and k not in ("note", "method_note", "screening_note") and \
                isinstance(v, (str, int, float, np.integer, np.floating)):
            rows.append((k, v))
    rows.append((("生成日期", "Date")[i], date or _dt.date.today().isoformat()))
    method_note = note or summary.get("method_note") or summary.get("screening_note") or summary.get("note")
    if method_note:
        rows.append((("方法说明", "Method note")[i], str(method_note)))
    if synthetic:
        rows.append((("数据说明", "Data")[i], ("演示数据为合成数据", "demo data are synthetic")[i]))
    rows.append((("说明", "How to read")[i], (
        "转移计划每行为一个网格到一个安置场所；一个网格分往两处时有两行，户数按人数比例分摊；“未安置”行为容量不足未能安置的人数。"
        "路线方式为“直线估算”时，距离为直线距离乘绕行系数。",
        "Each plan row is one grid going to one shelter; a grid split over two shelters has two rows with "
        "households apportioned by people; a 'not placed' row holds people no shelter capacity could take. "
        "Where the route method is 'straight line', the distance is the straight-line distance times a detour "
        "factor.")[i]))
    return rows


# ---- writing -----------------------------------------------------------------------------------


def _write_sheet(wb: Workbook, title: str, df: pd.DataFrame, keys: list[str], lang: str, *,
                 total_rows: Collection[int] = ()) -> None:
    write_sheet(wb, title, df, keys, [header(k, lang) for k in keys], total_rows=total_rows,
                number_format=lambda key: _FORMATS.get(key, "#,##0" if key in _COUNT_KEYS else None),
                text_keys=("phone", "grid_id", "shelter_id"))


def _total_index(df: pd.DataFrame) -> set[int]:
    """Rows of the needs table that look like its total row."""
    out = set()
    for i, rec in enumerate(df.to_dict("records")):
        sid, name = rec.get("shelter_id"), rec.get("name")
        words = (str(name).strip().lower(), str(sid).strip().lower())
        if any(w in ("合计", "总计", "total", "all") or w.startswith(("合计", "总计", "total")) for w in words):
            out.add(i)
        elif sid is None or (isinstance(sid, float) and math.isnan(sid)):
            out.add(i)
    return out


def plan_workbook(tables: Any, *, lang: str = "zh", note: str | None = None, date: str | None = None,
                  synthetic: bool = False) -> bytes:
    """The evacuation plan as an ``.xlsx`` workbook.

    Parameters
    ----------
    tables : object or mapping
        The plan's tables, as attributes or keys:

        - ``grids``: grid_id, name, township, village, responsible, phone, households, population,
          vulnerable, evacuate (optional: without it every grid is to evacuate);
        - ``assignments``: grid_id, shelter_id, people, vulnerable, distance_km, time_min, method
          (``'road'`` or ``'straight_line'``);
        - ``shelters``: shelter_id, name, type, township, village, capacity, load, vulnerable_load,
          spare, usable, reason;
        - ``unplaced``: township, people_unplaced, capacity_missing;
        - ``needs``: shelter_id, name, people, days, food_kg, drinking_water_l, clean_water_l,
          family_kits, toilets (other columns written with their own names);
        - ``summary``: dict with people_to_evacuate, people_placed, people_unplaced, shelters_used,
          person_km, and the scenario name (``scenario``) and hazard method (``hazard_method``).

        Missing tables give empty sheets.
    lang : {'zh', 'en'}
        Language of sheet names, headers and text cells.
    note : str, optional
        Method note for the 说明 sheet (e.g. the HAND screening-method caveat); default
        ``summary['method_note']`` when present.
    date : str, optional
        Date written in the notes; default today.
    synthetic : bool
        Add "演示数据为合成数据" to the notes.

    Returns
    -------
    bytes
        The workbook file.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    i = 0 if lang == "zh" else 1
    wb = Workbook()
    wb.remove(wb.active)

    plan = plan_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["plan"][i], plan, list(plan.columns), lang)
    shel = shelter_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["shelters"][i], shel, list(shel.columns), lang)
    town = township_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["townships"][i], town, list(town.columns), lang,
                 total_rows={len(town) - 1} if len(town) else set())
    needs = _needs_rows(tables)
    _write_sheet(wb, SHEETS["needs"][i], needs, list(needs.columns), lang, total_rows=_total_index(needs))
    notes = pd.DataFrame(_notes_rows(tables, lang=lang, note=note, date=date, synthetic=synthetic),
                         columns=["item", "value"])
    _write_sheet(wb, SHEETS["notes"][i], notes, ["item", "value"], lang)
    ws = wb[SHEETS["notes"][i][:31]]
    ws.column_dimensions["B"].width = 80
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _township_tables(tables: Any, township: str) -> dict:
    """The plan restricted to one township's grids (and the shelters and needs they use)."""
    grids = table_part(tables, "grids")
    asg = table_part(tables, "assignments")
    shel = table_part(tables, "shelters")
    unp = table_part(tables, "unplaced")
    needs = table_part(tables, "needs")
    if needs is not None and needs.index.name and needs.index.name not in needs.columns:
        needs = needs.reset_index()
    g = grids[grids["township"].fillna("—") == township]
    ids = set(g["grid_id"].astype(str))
    a = asg[asg["grid_id"].astype(str).isin(ids)] if asg is not None and len(asg) else asg
    used = set(a["shelter_id"].astype(str)) if a is not None and len(a) else set()
    s = shel
    if shel is not None and len(shel):
        s = shel[shel["shelter_id"].astype(str).isin(used) |
                 (_col(shel, "township", "").fillna("—") == township)]
    u = unp[unp["township"].fillna("—") == township] if unp is not None and len(unp) else unp
    n = needs
    if needs is not None and len(needs) and "shelter_id" in needs:
        n = needs[needs["shelter_id"].notna() & needs["shelter_id"].astype(str).isin(used)]
        if len(n):
            num = n.select_dtypes("number").columns.difference(["days"])
            total = {c: n[c].sum() for c in num}
            total.update({"shelter_id": None, "name": "合计"})
            if "days" in n:
                total["days"] = n["days"].max()
            n = pd.concat([n, pd.DataFrame([total])], ignore_index=True)[list(needs.columns)]
    summary = dict(table_part(tables, "summary") or {})
    placed = float(_num(_col(pd.DataFrame(a), "people", 0)).sum()) if a is not None and len(a) else 0.0
    keep = {k: v for k, v in summary.items() if k in ("scenario", "scenario_name", "hazard_method", "method",
                                                       "method_note", "screening_note", "note")}
    evac = g[g["evacuate"].map(truthy)] if "evacuate" in g else g
    keep.update({"township": township,
                 "people_to_evacuate": int(_num(_col(evac, "population", 0)).fillna(0).sum()),
                 "people_placed": int(round(placed))})
    if u is not None and len(u) and "people_unplaced" in u:
        keep["people_unplaced"] = int(_num(u["people_unplaced"]).sum())
    return {"grids": g, "assignments": a, "shelters": s, "unplaced": u, "needs": n, "summary": keep}


def township_workbooks(tables: Any, *, lang: str = "zh", note: str | None = None, date: str | None = None,
                       synthetic: bool = False) -> dict[str, bytes]:
    """One workbook per township with grids to evacuate: the list that goes to each township.

    Parameters
    ----------
    tables : object or mapping
        As for :func:`plan_workbook`.
    lang, note, date, synthetic
        As for :func:`plan_workbook`.

    Returns
    -------
    dict of str to bytes
        Township name -> workbook holding only that township's grids, the shelters they use (and
        the township's own shelters), its unplaced row and the needs of the shelters used (each
        shelter's needs in full, also when it takes people from other townships too).
    """
    grids = table_part(tables, "grids")
    if grids is None or not len(grids):
        return {}
    evac = grids[grids["evacuate"].map(truthy)] if "evacuate" in grids else grids
    towns = sorted(set(evac["township"].fillna("—").astype(str))) if "township" in evac else []
    return {t: plan_workbook(_township_tables(tables, t), lang=lang, note=note, date=date, synthetic=synthetic)
            for t in towns}
