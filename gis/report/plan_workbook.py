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
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gis.flood.headers import HEADERS, SHEETS, WORDS, header, word
from gis.report.sheets import write_sheet
from gis.report.tables import in_language, table_part, truthy
from layers.catalogue import spec as get_spec
from layers.text import SEMICOLON, Text, pick

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["HEADERS", "SHEETS", "plan_workbook", "township_workbooks", "plan_rows", "shelter_rows",
           "township_rows", "needs_rows", "header"]

#: the remarks of the plan sheet
_REMARKS: dict[str, Text] = {
    "split": Text("分{n}处安置（第{i}处）；户数按人数比例分摊",
                  "split over {n} shelters ({i}); households apportioned by people", "split"),
    "unplaced_remark": Text("安置场所容量不足，需另行安排", "shelter capacity short; needs another place",
                            "unplaced_remark"),
    "unreachable_remark": Text("步行限度内无可到达的安置场所（道路被淹断、四周为水或河流），需就地避险或救援力量接应",
                               "no shelter within walking reach (roads cut, water or rivers all round): shelter in "
                               "place or a rescue team", "unreachable_remark"),
}

#: the name of the needs table's total row before it is put in words (as :func:`gis.flood.needs.minimum_needs` names it)
_TOTAL = "合计/Total"
_COUNT_KEYS = {"households", "people", "people_to_evacuate", "vulnerable", "capacity", "load", "vulnerable_load",
               "spare", "grids",
               "placed", "unplaced", "capacity_missing", "family_kits", "toilets", "days", "food_kg", "rice_kg",
               "drinking_water_l", "clean_water_l"}
_FORMATS = {"distance_km": "0.0", "walk_km": "0.0", "time_min": "0", "max_depth": "0.00", "load_pct": "0",
            "food_kg": "#,##0.0", "rice_kg": "#,##0.0", "drinking_water_l": "#,##0", "clean_water_l": "#,##0",
            "drinking_l": "#,##0", "clean_l": "#,##0"}


def _w(key: str, lang: str, **fmt: Any) -> str:
    w = _REMARKS[key] if key in _REMARKS else WORDS[key]
    return (w.format(**fmt) if fmt else w)(lang)


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
        population, vulnerable, reason_zh / reason_en, evacuate), ``assignments`` (grid_id, shelter_id,
        people, households, vulnerable, distance_km, time_min, method, walk_km), ``unplaced_grids``
        (grid_id, people_unplaced, households_unplaced, vulnerable_unplaced, reason) and ``shelters``
        (shelter_id, name).
    lang : {'zh', 'en'}
        Language of the text cells (route method, reasons, remarks).

    Returns
    -------
    DataFrame
        Columns ``township, village, grid_id, grid_name, responsible, phone, households, people,
        vulnerable, why, shelter, distance_km, time_min, method, walk_km, remark``, sorted by township,
        village, grid. Per grid, the households, people and vulnerable people of its rows (placed and
        unplaced) add up to the grid's totals: the assignment splits them with the people (largest
        remainder); without those columns they are apportioned here the same way.
    """
    grids = _frame(tables, "grids")
    asg = _frame(tables, "assignments")
    shel = _frame(tables, "shelters")
    ung = _frame(tables, "unplaced_grids")
    cols = ["township", "village", "grid_id", "grid_name", "responsible", "phone", "households", "people",
            "vulnerable", "why", "shelter", "distance_km", "time_min", "method", "walk_km", "remark"]
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
    why_col = f"reason_{lang}" if f"reason_{lang}" in grids else None
    unplaced_of = {str(r["grid_id"]): r for r in ung.to_dict("records")} if "grid_id" in ung else {}

    def info(gid: Any) -> pd.Series:
        g = ginfo.loc[gid] if gid in ginfo.index else pd.Series(dtype=object)
        return g.iloc[0] if isinstance(g, pd.DataFrame) else g

    def base(gid: Any, g: pd.Series) -> dict:
        return {"township": g.get("township"), "village": g.get("village"), "grid_id": gid,
                "grid_name": g.get("name"), "responsible": g.get("responsible"), "phone": g.get("phone"),
                "why": g.get(why_col, "") if why_col else ""}

    rows: list[dict] = []
    placed_by_grid: dict[Any, float] = {}
    for gid, part in (asg.groupby("grid_id", sort=False) if "grid_id" in asg else []):
        g = info(gid)
        people = _num(_col(part, "people", 0)).fillna(0).tolist()
        placed_by_grid[gid] = float(sum(people))
        if "households" in part:
            hh = _num(part["households"]).tolist()
        else:   # older tables: the grid's households apportioned over its placed and unplaced people
            left = max(0.0, _num(pd.Series([g.get("population", np.nan)])).fillna(0).iloc[0] - sum(people))
            hh = _apportion(_num(pd.Series([g.get("households", np.nan)])).iloc[0], people + ([left] if left else
                                                                                                  []))[:len(people)]
        n = len(part)
        for i, (_, a) in enumerate(part.iterrows()):
            sid = str(a.get("shelter_id", ""))
            method = a.get("method", "")
            rows.append({**base(gid, g), "households": hh[i], "people": a.get("people"),
                         "vulnerable": a.get("vulnerable"), "shelter": shelter_name.get(sid, sid),
                         "distance_km": a.get("distance_km"), "time_min": a.get("time_min"),
                         "method": word(method, lang), "walk_km": a.get("walk_km"),
                         "remark": _w("split", lang, n=n, i=i + 1) if n > 1 else ""})
    # people of evacuated grids that no assignment carries
    if not grids.empty and "grid_id" in grids:
        evac = grids[_col(grids, "evacuate", True).map(truthy)] if "evacuate" in grids else grids
        for _, g in evac.iterrows():
            gid = g["grid_id"]
            u = unplaced_of.get(gid)
            if u is not None:
                left, hh_left, vleft = u.get("people_unplaced", 0), u.get("households_unplaced"), u.get(
                    "vulnerable_unplaced", 0)
                remark = _w("unreachable_remark" if u.get("reason") == "no_shelter_reachable" else "unplaced_remark",
                            lang)
            else:
                pop = _num(pd.Series([g.get("population", np.nan)])).iloc[0]
                left = (pop if np.isfinite(pop) else 0) - placed_by_grid.get(gid, 0.0)
                if left <= 0.5:
                    continue
                vul = _num(pd.Series([g.get("vulnerable", np.nan)])).iloc[0]
                placed_v = float(_num(_col(asg[asg["grid_id"] == gid], "vulnerable", 0)).fillna(0).sum()) \
                    if "grid_id" in asg else 0.0
                vleft = max(0.0, (vul if np.isfinite(vul) else 0) - placed_v)
                hh_total = _num(pd.Series([g.get("households", np.nan)])).iloc[0]
                hh_left = hh_total if gid not in placed_by_grid else _apportion(
                    hh_total, [placed_by_grid[gid], left])[1]
                remark = _w("unplaced_remark", lang)
            if not left or left <= 0.5:
                continue
            rows.append({**base(gid, g), "households": hh_left, "people": int(round(left)),
                         "vulnerable": int(round(vleft)),
                         "shelter": _w("unplaced", lang), "distance_km": np.nan, "time_min": np.nan, "method": "",
                         "walk_km": np.nan, "remark": remark})
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
    reason = _col(s, f"reason_{lang}", None) if f"reason_{lang}" in s else _col(s, "reason", "")
    out["reason"] = reason.where(~usable, "").fillna("")
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


def needs_rows(tables: Any, *, lang: str = "zh") -> pd.DataFrame:
    """The 物资需求 rows: per shelter, with its name, and the total row named in ``lang``."""
    n = _frame(tables, "needs")
    if n.index.name and n.index.name not in n.columns:      # shelter_id as the index (gis.flood.needs style)
        n = n.reset_index()
    for c in ("shelter_id", "name"):
        if c in n:
            n[c] = n[c].replace({_TOTAL: _w("total", lang), WORDS["total"].zh: _w("total", lang)})
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


#: the summary's items in the notes sheet: (keys the summary may hold it under, first one names the row)
_SUMMARY_ITEMS = (("scenario", "scenario_name", "name"), ("hazard_method", "method", "hazard"), ("evacuation_rule",),
                  ("grids_to_evacuate", "grids"), ("people_to_evacuate",), ("households_to_evacuate",),
                  ("vulnerable_to_evacuate",), ("people_placed",), ("households_placed",), ("people_unplaced",),
                  ("people_no_reachable_shelter",), ("people_by_route_mode",), ("longest_walk_km",),
                  ("walk_limit_km",), ("shelters_used",), ("shelters_unusable",), ("grids_split",), ("person_km",),
                  ("person_hours",), ("metric_crs",))
_SYNTHETIC = Text("演示数据为合成数据", "demo data are synthetic", "synthetic")
_HOW_TO_READ = Text(
    "转移计划每行为一个网格到一个安置场所；一个网格分往两处时有两行，户数与老弱病残按人数比例分摊，各行相加等于网格总数；"
    "“未安置”行为未能安置的人数及原因。路线方式“道路”含从住处到道路、从道路到安置场所的步行段（按地形计算），"
    "“全程步行”为按地形的步行路线，“直线估算”（仅在没有 DEM 时）为直线距离乘绕行系数。",
    "Each plan row is one grid going to one shelter; a grid split over two shelters has two rows, its households "
    "and vulnerable people shared with the people, and the rows add up to the grid's totals; a 'not placed' row "
    "holds the people left and why. A 'road' route includes the walks from the homes to the road and from the "
    "road to the shelter (over the terrain); 'on foot' is a walking route over the terrain; 'straight line' "
    "(only without a DEM) is the straight-line distance times a detour factor.", "how_to_read")


def _summary_value(key: str, v: Any, lang: str) -> Any:
    """A summary value for people: method codes named, pairs picked in the language, modes spelled out."""
    if key in ("hazard_method", "method") and isinstance(v, str):
        return word(v, lang)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, str) for x in v):
        return pick(tuple(v), lang)
    if isinstance(v, dict):
        return SEMICOLON(lang).join(f"{word(k, lang)} {n:,}" for k, n in v.items())
    return round(v, 1) if isinstance(v, float) else v


def _notes_rows(tables: Any, *, lang: str, note: str | None, date: str | None, synthetic: bool) -> list[tuple]:
    summary = dict(table_part(tables, "summary") or {})
    scenario = in_language(summary, "scenario", lang)
    if scenario:      # the scenario's name in the file's language, where the summary has it
        summary["scenario"] = scenario
    rows: list[tuple] = []
    for keys in _SUMMARY_ITEMS:
        for k in keys:
            if k in summary and summary[k] is not None:
                rows.append((header(keys[0], lang), _summary_value(k, summary[k], lang)))
                break
    rows.append((header("date", lang), date or _dt.date.today().isoformat()))
    method_note = note or in_language(summary, "method_note", lang) or summary.get("screening_note") \
        or summary.get("note")
    if method_note:
        rows.append((header("method_note", lang), str(method_note)))
    for n in table_part(tables, "notes") or []:
        rows.append((header("note", lang), pick(n, lang)))
    if synthetic:
        rows.append((header("data", lang), _SYNTHETIC(lang)))
    rows.append((header("how_to_read", lang), _HOW_TO_READ(lang)))
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
        if (any(w in ("合计", "总计", "total", "all") or w.startswith(("合计", "总计", "total")) for w in words)
                or sid is None or (isinstance(sid, float) and math.isnan(sid))):
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
        - ``assignments``: grid_id, shelter_id, people, households, vulnerable, distance_km, time_min,
          method (``'road'``, ``'walk'`` or ``'straight'``), walk_km;
        - ``unplaced_grids``: grid_id, people_unplaced, households_unplaced, vulnerable_unplaced, reason;
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
    from openpyxl import Workbook  # heavy: imported when a workbook is written, not by the pages' tables
    from openpyxl.styles import Alignment

    wb = Workbook()
    wb.remove(wb.active)

    plan = plan_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["plan"](lang), plan, list(plan.columns), lang)
    shel = shelter_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["shelters"](lang), shel, list(shel.columns), lang)
    town = township_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["townships"](lang), town, list(town.columns), lang,
                 total_rows={len(town) - 1} if len(town) else set())
    needs = needs_rows(tables, lang=lang)
    _write_sheet(wb, SHEETS["needs"](lang), needs, list(needs.columns), lang, total_rows=_total_index(needs))
    notes = pd.DataFrame(_notes_rows(tables, lang=lang, note=note, date=date, synthetic=synthetic),
                         columns=["item", "value"])
    _write_sheet(wb, SHEETS["notes"](lang), notes, ["item", "value"], lang)
    ws = wb[SHEETS["notes"](lang)[:31]]
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
    ug = table_part(tables, "unplaced_grids")
    if ug is not None and len(ug) and "grid_id" in ug:
        ug = ug[ug["grid_id"].astype(str).isin(ids)]
    n = needs
    if needs is not None and len(needs) and "shelter_id" in needs:
        n = needs[needs["shelter_id"].notna() & needs["shelter_id"].astype(str).isin(used)]
        if len(n):
            num = n.select_dtypes("number").columns.difference(["days"])
            total = {c: n[c].sum() for c in num}
            total.update({"shelter_id": None, "name": _TOTAL})  # the workbook's total row (see _total_index)
            if "days" in n:
                total["days"] = n["days"].max()
            n = pd.concat([n, pd.DataFrame([total])], ignore_index=True)[list(needs.columns)]
    summary = dict(table_part(tables, "summary") or {})
    placed = float(_num(_col(pd.DataFrame(a), "people", 0)).sum()) if a is not None and len(a) else 0.0
    keep = {k: v for k, v in summary.items() if k in ("scenario", "scenario_en", "scenario_name", "hazard_method",
                                                       "method", "method_note", "screening_note", "note",
                                                       "evacuation_rule", "metric_crs", "walk_limit_km")}
    evac = g[g["evacuate"].map(truthy)] if "evacuate" in g else g
    keep.update({"township": township,
                 "people_to_evacuate": int(_num(_col(evac, "population", 0)).fillna(0).sum()),
                 "people_placed": int(round(placed))})
    if u is not None and len(u) and "people_unplaced" in u:
        keep["people_unplaced"] = int(_num(u["people_unplaced"]).sum())
    return {"grids": g, "assignments": a, "shelters": s, "unplaced": u, "unplaced_grids": ug, "needs": n,
            "summary": keep}


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
