"""The operations workbooks are streamed (XlsxWriter, constant memory) and read back exactly as the same sheets
written the normal way (openpyxl): values, number formats, bold totals, header style, column widths, frozen
header, filter and the A4 page setup. The call sheet, the dispatch sheet and the after-action record, and the
sheet writer on its own with every kind of value; the writers import their Excel library only when they write."""

from __future__ import annotations

import datetime as dt
import io
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from gis.ops.session import Operations
from gis.report import ops_record, ops_sheets
from gis.report.sheets import Page, new_workbook, write_sheet
from tests.ops_data import tiny_layers, write_workspace

ROOT = Path(__file__).resolve().parents[1]


def _read(data: bytes) -> dict:
    """Everything a reader sees of a workbook, sheet by sheet."""
    book = load_workbook(io.BytesIO(data))
    out = {}
    for ws in book.worksheets:
        cells = []
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column):
            cells.append([(c.value, c.number_format, bool(c.font.b), c.fill.fgColor.rgb if c.fill.fill_type else None,
                           c.alignment.horizontal) for c in row])
        ps = ws.page_setup
        out[ws.title] = {
            # XlsxWriter stores Excel's width with its 5-pixel padding (w + 0.71), openpyxl the width as given; it
            # also joins neighbouring columns of one width into one range
            "cells": cells, "widths": {get_column_letter(i): math.floor(d.width) for d in ws.column_dimensions.values()
                                       for i in range(d.min, d.max + 1)},
            "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
            "page": (ps.paperSize, ps.orientation, 1 if ps.fitToWidth is None else ps.fitToWidth, ps.fitToHeight,
                     ws.sheet_properties.pageSetUpPr.fitToPage if ws.sheet_properties.pageSetUpPr else None,
                     ws.print_title_rows, ws.oddHeader.center.text, ws.oddFooter.center.text,
                     ws.print_options.gridLines, ws.page_margins.left, ws.page_margins.top)}
    return out


def _both(write, monkeypatch) -> tuple[dict, dict]:
    """What ``write()`` writes streamed (as the writers do), and the same with normal sheets."""
    streamed = write()
    with monkeypatch.context() as m:
        for mod in (ops_sheets, ops_record):
            m.setattr(mod, "new_workbook", lambda streamed=False: new_workbook(streamed=False))
        normal = write()
    return _read(streamed), _read(normal)


def _sheet_rows(df: pd.DataFrame, streamed: bool, **kw) -> dict:
    wb = new_workbook(streamed=streamed)
    write_sheet(wb, "表", df, list(df.columns), [f"列{c}" for c in df.columns],
                number_format=lambda k: {"n": "#,##0", "x": "0.000", "when": None}.get(k), **kw)
    buf = io.BytesIO()
    wb.save(buf)
    return _read(buf.getvalue())


def test_a_streamed_sheet_reads_back_as_the_normal_one():
    df = pd.DataFrame({
        "n": np.array([1, 2, 30_000, 4], dtype="int64"),
        "x": [1.5, np.nan, 2.25, None],
        "flag": [True, False, np.bool_(True), None],
        "phone": ["013900000000", None, "139-0000-0011", "13900000021"],
        "name": ["莲头村1组2号联户网格", "a" * 80, "", None],
        "when": [pd.Timestamp("2026-07-12 08:30"), None, dt.date(2026, 7, 13), dt.datetime(2026, 7, 12, 9, 5)],
        "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
    })
    kw = {"total_rows": {3}, "text_keys": ("phone",), "max_widths": {"name": 40},
          "page": Page(title="预警 YJ1 叫应名单")}
    streamed, normal = _sheet_rows(df, True, **kw), _sheet_rows(df, False, **kw)
    assert streamed == normal
    s = streamed["表"]
    assert [c[0] for c in s["cells"][0]] == [f"列{c}" for c in df.columns]
    assert s["cells"][0][0][2:] == (True, "FFDDEBF7", "center")                 # bold filled centred header
    assert [c[0] for c in s["cells"][1]][:5] == [1, 1.5, True, "013900000000", "莲头村1组2号联户网格"]
    assert s["cells"][3][0][:2] == (30000, "#,##0") and s["cells"][1][1][1] == "0.000"
    assert s["cells"][2][3][:2] == (None, "@") and s["cells"][4][3][1] == "@"   # text column: every cell
    assert all(c[2] for c in s["cells"][4]) and not any(c[2] for c in s["cells"][3])   # the total row is bold
    assert s["widths"]["E"] == 40 and s["widths"]["A"] == 7 and s["freeze"] == "A2" and s["filter"] == "A1:G5"
    assert int(s["page"][0]) == 9 and s["page"][1] == "landscape" and s["page"][4] and s["page"][5] == "$1:$1"
    assert s["cells"][1][5][0] == dt.datetime(2026, 7, 12, 8, 30)


def test_an_empty_streamed_sheet_has_its_header():
    df = pd.DataFrame({"n": pd.Series([], dtype="int64"), "name": pd.Series([], dtype=object)})
    streamed, normal = _sheet_rows(df, True), _sheet_rows(df, False)
    assert streamed == normal and [c[0] for c in streamed["表"]["cells"][0]] == ["列n", "列name"]
    assert streamed["表"]["filter"] == "A1:B1"


@pytest.fixture
def event(tmp_path):
    """A warning with an acknowledgment, report-backs, check-ins and a recorded dispatch."""
    ops = Operations(write_workspace(tmp_path / "ws", tiny_layers()))
    w = ops.warn("red", everything=True, issuer="值班长", at="2026-07-12T08:00").warning.warning_id
    ops.ack(w, "13900000011", at="2026-07-12T08:05", user="甲")
    ops.report(w, "H111", moved=30, at="2026-07-12T08:30", user="乙")
    ops.report(w, "G21", moved=40, refused=2, at="2026-07-12T08:40", user="丙")
    ops.checkin(w, "S1", people=40, households=12, at="2026-07-12T09:00", user="丁")
    ops.checkin(w, "S3", people=30, at="2026-07-12T09:10", user="丁")
    ops.dispatch(w, days=1, record=True, user="戊", at="2026-07-12T09:20")
    return ops, w


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dispatch_sheet_streamed_is_the_sheet_it_was(event, monkeypatch, lang):
    ops, w = event
    ops.checkin(w, "S2", people=25, at="2026-07-12T09:30")           # more people than the recorded dispatch served
    d, _ = ops.dispatch(w, days=1)
    warning = ops.log.warning(w)
    streamed, normal = _both(lambda: ops_sheets.dispatch_workbook(d, warning=warning, lang=lang), monkeypatch)
    assert streamed == normal
    by_depot, by_shelter = list(streamed.values())[:2]
    pairs = d.shipments[["depot_id", "shelter_id"]].drop_duplicates()
    assert len(by_depot["cells"]) == len(by_shelter["cells"]) == len(pairs) + 1 < len(d.shipments) + 1  # per trip
    items = ["rice_kg", "drinking_l", "tents", "quilts", "family_kits"]
    keys = ["depot_name", "depot_id", "shelter_name", "shelter_id", *items, "tonnes", "distance_km", "ton_km", "method"]
    heads = [c[0] for c in by_depot["cells"][0]]
    assert heads[:4] == [ops_sheets.header(k, lang) for k in keys[:4]]
    assert heads[4] == ("大米（公斤）" if lang == "zh" else "Rice (kg)")
    assert heads[-1] == ops_sheets.header("method", lang)
    for j, item in enumerate(items, start=4):      # every shipment of the item is on its trip's row, once
        sent = d.shipments.loc[d.shipments["item"] == item].set_index(["depot_id", "shelter_id"])["quantity"]
        on_rows = {(r[1][0], r[3][0]): r[j][0] for r in by_depot["cells"][1:] if r[j][0] is not None}
        assert on_rows == {k: v for k, v in sent.items()}
    first = dict(zip(keys, by_depot["cells"][1]))
    assert first["tonnes"][1] == "0.000" and first["ton_km"][1] == "#,##0.00"
    assert {by_depot["cells"][1][j][1] for j in range(4, 9) if by_depot["cells"][1][j][0] is not None} == {"#,##0"}
    assert [r[1][0] for r in by_shelter["cells"][1:]] == sorted(r[1][0] for r in by_shelter["cells"][1:])
    assert by_depot["page"][1] == "landscape" and by_depot["page"][6] == f"{w} " + ("物资调度单" if lang == "zh"
                                                                                    else "dispatch sheet")
    items = list(streamed.values())[2]
    assert items["page"][1] == "portrait" and len(items["cells"]) == len(d.items) + 1


def test_call_sheet_and_record_streamed_are_the_sheets_they_were(event, monkeypatch):
    ops, w = event
    snap, prog, entries = ops.snapshot(w), ops.progress(w), ops.entries(w)
    streamed, normal = _both(lambda: ops_sheets.callout_workbook(snap, contacts=prog.contacts), monkeypatch)
    assert streamed == normal
    call = streamed["叫应名单"]
    assert call["widths"]["E"] <= 40 and call["page"][5] == "$1:$1" and len(call["cells"]) == len(snap.contacts) + 1
    assert streamed["预警"]["page"][1] == "portrait"
    streamed, normal = _both(lambda: ops_record.record_workbook(snap, entries, prog), monkeypatch)
    assert streamed == normal
    assert list(streamed) == ["预警与汇总", "叫应与确认", "网格转移情况", "安置场所", "乡镇进度", "时间线", "全部记录",
                              "物资调度"]
    assert len(streamed["全部记录"]["cells"]) == len(entries) + 2          # the header, the warning, every entry


def test_the_sheet_writers_import_openpyxl_when_they_write():
    code = ("import sys, gis.report.ops_record, gis.report.ops_sheets, gis.ops.session; "
            "print('openpyxl' in sys.modules, 'xlsxwriter' in sys.modules, 'gis.flood.plan' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["False", "False", "False"]
