"""The command line during a flood (warn, ack, report, checkin, progress, dispatch, and replan, callsheet, record):
the stable JSON contract, exit status 2 with a bilingual message and nothing written, PostGIS, and the files."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook

from layers.events import OpsLog
from layers.workspace import Workspace
from tests.ops_data import load_postgis, tiny_layers, write_workspace

ROOT = Path(__file__).resolve().parents[1]


def gis(*args: str, env: dict | None = None, real: bool = False) -> subprocess.CompletedProcess:
    """``python -m gis ARGS``: in this process through :func:`gis.cli.main` (the same code and exit status, without
    seconds of start-up per call), or in a child process with ``real`` (the real entry point, kept for a few calls).

    In-process, ``env`` is set for the call only and the environment and working directory are put back after."""
    if real:
        return subprocess.run([sys.executable, "-m", "gis", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env={**os.environ, **(env or {})}, check=False)
    from gis.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(env or {})
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:                                        # argparse's own errors
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([sys.executable, "-m", "gis", *args], code, out.getvalue(), err.getvalue())


def ok(*args: str, env: dict | None = None, real: bool = False) -> dict:
    p = gis(*args, "--json", env=env, real=real)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def refused(*args: str, env: dict | None = None, real: bool = False) -> str:
    p = gis(*args, "--json", env=env, real=real)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stdout == ""
    zh, en = p.stderr.split("\n", 1)[0], p.stderr
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)                         # Chinese first ...
    assert any(h in en for h in ("Nothing was recorded", "cannot run", "could not be read", "nothing was imported"))
    return p.stderr


@pytest.fixture(scope="module")
def _ws_template(tmp_path_factory):
    """The tiny workspace, written once per module (tests only copy it)."""
    return write_workspace(tmp_path_factory.mktemp("ops_cli_template") / "ws", tiny_layers())


@pytest.fixture
def ws(_ws_template, tmp_path):
    """A fresh copy of the tiny workspace for one test (the commands write to it)."""
    shutil.copytree(_ws_template.folder, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def _flow(wsarg: str, tmp_path: Path, env: dict | None = None) -> None:
    """The whole command-line flow on one workspace, asserting the JSON contract of each command."""
    w = ok("warn", "--workspace", wsarg, "--level", "red", "--township", "一乡", "二乡", "--message", "山洪红色预警",
           "--out", str(tmp_path / "callout"), env=env)
    assert {"warning_id", "grids", "contacts", "people"} <= set(w)
    assert (w["grids"], w["people"], w["contacts"], w["level"]) == (4, 140, 13, "red")
    assert w["contacts_by_level"]["household"] == 2 and w["contacts_without_phone"] == 1
    wid = w["warning_id"]
    a = ok("ack", "--workspace", wsarg, "--warning", wid, "--contact", "13900000001", "--user", "值班员", env=env)
    assert (a["kind"], a["subject"], a["user"], a["warning_id"]) == ("ack", "13900000001", "值班员", wid)
    r = ok("report", "--workspace", wsarg, "--warning", wid, "--grid", "H111", "--moved", "28", "--absent", "2",
           env=env)
    assert (r["moved"], r["refused"], r["absent"], r["subject"]) == (28, 0, 2, "H111")
    c = ok("checkin", "--workspace", wsarg, "--warning", wid, "--shelter", "S1", "--people", "25", "--households", "9",
           env=env)
    assert (c["people"], c["households"], c["subject"]) == (25, 9, "S1")
    p = ok("progress", "--workspace", wsarg, "--warning", wid, env=env)
    for k in ("grids", "contacts", "acknowledged", "overdue", "people_to_move", "people_moved", "people_checked_in",
              "shelters_full"):
        assert k in p, k
    assert (p["grids"], p["contacts"], p["acknowledged"], p["people_to_move"], p["people_moved"],
            p["people_checked_in"], p["shelters_full"]) == (4, 13, 1, 140, 28, 25, 0)
    assert p["overdue"] == 0 and p["overdue_contacts"] == []
    late = ok("progress", "--workspace", wsarg, "--warning", wid, "--ack-minutes", "red=0.0001", env=env)
    over = {o["contact_id"]: o for o in late["overdue_contacts"]}
    assert late["overdue"] == len(over) == 12 and "13900000001" not in over
    assert over["13900000002"]["escalate_to"] == {"contact_id": "13900000000", "name": "县长", "phone": "13900000000"}
    assert over["13900000000"]["escalate_to"]["phone"] is None
    d = ok("dispatch", "--workspace", wsarg, "--warning", wid, "--out", str(tmp_path / "dispatch"), "--days", "1",
           env=env)
    assert {"shipments", "ton_km", "shortages"} <= set(d)
    assert d["ton_km"] > 0 and d["event_id"] is not None
    assert sum(s["quantity"] for s in d["shipments"] if s["item"] == "rice_kg") == 10       # 25 people x 0.4 kg
    assert d["shortages"] == {}
    assert Path(d["files"][0]).name == "dispatch.xlsx" and all(Path(f).exists() for f in d["files"])


def test_cli_flow_on_a_geopackage(ws, tmp_path):
    _flow(str(ws.gpkg), tmp_path)
    # the call sheet is set up for A4, its header row repeats; the SMS list has phone,message
    book = load_workbook(tmp_path / "callout" / "callout.xlsx")
    sheet = book["叫应名单"]
    assert int(sheet.page_setup.paperSize) == 9 and sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$1:$1" and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert [c.value for c in sheet[1]][:4] == ["序号", "层级", "姓名", "联系电话"]
    assert sheet.max_row == 14 and sheet["D11"].value == "无电话"
    rows = list(csv.reader(io.StringIO((tmp_path / "callout" / "sms.csv").read_text(encoding="utf-8"))))
    assert rows[0] == ["phone", "message"] and len(rows) == 13               # 12 contacts with a phone
    assert all(r[0].isdigit() and "山洪红色预警" in r[1] for r in rows[1:])


def test_cli_folder_workspace_and_plan_dir(ws, tmp_path):
    """--workspace may be the folder; --plan takes the folder `plan --out` writes."""
    import geopandas as gpd

    from gis.flood.hazard import Hazard
    from gis.flood.plan import evacuation_plan
    from gis.report.plan_files import write_plan_files

    L = tiny_layers()
    zone = gpd.GeoDataFrame({"depth": [1.0]}, geometry=[L["grids"].set_index("grid_id").geometry["G21"]], crs=4490)
    plan = evacuation_plan(L["grids"], L["shelters"], Hazard.from_polygons(zone), roads=L["roads"])
    write_plan_files(plan, tmp_path / "plan")
    w = ok("warn", "--workspace", str(ws.folder), "--level", "orange", "--plan", str(tmp_path / "plan"))
    assert w["grids"] == 1 and w["people"] == 50 and w["area"] == {"mode": "plan", "plan": "plan.gpkg"}
    snap = OpsLog(ws).snapshot(w["warning_id"])
    assert snap.routes["grid_id"].tolist() == ["G21"] and snap.routes["wkb"].iloc[0] is not None
    assert snap.grids["shelter_id"].tolist() == ["S3"]


def test_cli_refusals_exit_2_and_write_nothing(ws, tmp_path):
    # the real entry point (`python -m gis` in a child process) for one success and one exit-2 refusal
    wid = ok("warn", "--workspace", str(ws.gpkg), "--level", "yellow", "--all", real=True)["warning_id"]
    log = OpsLog(ws)
    ok("ack", "--workspace", str(ws.gpkg), "--warning", wid, "--contact", "13900000000")
    n = len(log.entries(wid))
    msg = refused("ack", "--workspace", str(ws.gpkg), "--warning", wid, "--contact", "13900000000", real=True)
    assert "already acknowledged" in msg and "已于" in msg
    msg = refused("report", "--workspace", str(ws.gpkg), "--warning", "YJ19990101001", "--grid", "H111", "--moved", "1")
    assert "no warning 'YJ19990101001'" in msg and wid in msg
    assert "not in the area" in refused("report", "--workspace", str(ws.gpkg), "--warning", wid, "--grid", "ZZ",
                                        "--moved", "1")
    assert "holds 30 people" in refused("report", "--workspace", str(ws.gpkg), "--warning", wid, "--grid", "H111",
                                        "--moved", "31")
    assert "at least 0" in refused("report", "--workspace", str(ws.gpkg), "--warning", wid, "--grid", "H111",
                                   "--moved", "-3")
    assert "140 people it covers" in refused("checkin", "--workspace", str(ws.gpkg), "--warning", wid, "--shelter",
                                             "S1", "--people", "500")
    assert "not among the shelters" in refused("checkin", "--workspace", str(ws.gpkg), "--warning", wid, "--shelter",
                                               "S0", "--people", "5")
    assert len(log.entries(wid)) == n
    assert "no township '三乡'" in refused("warn", "--workspace", str(ws.gpkg), "--level", "red", "--township", "三乡")
    assert len(log.warnings()) == 1
    assert "no workspace" in refused("progress", "--workspace", str(tmp_path / "nowhere.gpkg"), "--warning", wid)
    # argparse refuses an unknown level itself (exit 2, usage, no traceback)
    p = gis("warn", "--workspace", str(ws.gpkg), "--level", "purple", "--all")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_cli_correction_replay_replan_callsheet_record_close(ws, tmp_path):
    g = str(ws.gpkg)
    wid = ok("warn", "--workspace", g, "--level", "red", "--all", "--at", "2026-01-01 08:00")["warning_id"]
    assert wid == "YJ20260101001"
    r = ok("report", "--workspace", g, "--warning", wid, "--grid", "G12", "--moved", "40", "--at", "2026-01-01 08:20")
    ok("report", "--workspace", g, "--warning", wid, "--grid", "G12", "--moved", "4", "--corrects", str(r["event_id"]),
       "--at", "2026-01-01 08:20", "--note", "多打了一个 0")
    ok("checkin", "--workspace", g, "--warning", wid, "--shelter", "S2", "--people", "4", "--at", "2026-01-01 08:50")
    at_830 = ok("progress", "--workspace", g, "--warning", wid, "--at", "2026-01-01 08:30")
    assert (at_830["people_moved"], at_830["people_checked_in"], at_830["overdue"]) == (4, 0, 13)
    assert ok("progress", "--workspace", g, "--warning", wid)["people_checked_in"] == 4
    rp = ok("replan", "--workspace", g, "--warning", wid, "--out", str(tmp_path / "replan"))
    assert rp["people_remaining"] == 136 and rp["people_placed"] + rp["people_unplaced"] == 136
    assert (tmp_path / "replan" / "plan.xlsx").exists()
    cs = ok("callsheet", "--workspace", g, "--warning", wid, "--out", str(tmp_path / "cs"), "--overdue")
    rows = (tmp_path / "cs" / "sms_overdue.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 13 and Path(cs["files"][0]).exists()
    ok("close", "--workspace", g, "--warning", wid)
    rec = ok("record", "--workspace", g, "--warning", wid, "--out", str(tmp_path / "rec"))
    assert rec["entries"] == 4
    book = load_workbook(rec["files"][0])
    assert {"预警与汇总", "叫应与确认", "网格转移情况", "安置场所", "乡镇进度", "时间线",
            "全部记录"} <= set(book.sheetnames)
    entries = book["全部记录"]
    assert [c.value for c in entries["B"]][1:] == ["发布预警", "实报反馈", "实报反馈", "安置签到", "解除预警"]
    import pyogrio

    names = {n for n, _ in pyogrio.list_layers(rec["files"][1])}
    assert names == {"grids", "shelters", "routes", "contacts", "entries"}
    grids = pyogrio.read_dataframe(rec["files"][1], layer="grids")
    assert len(grids) == 4 and set(grids.geom_type) == {"Polygon"}
    ents = pyogrio.read_dataframe(rec["files"][1], layer="entries")
    assert len(ents) == 4 and ents["superseded_by"].notna().sum() == 1


def test_cli_on_postgis(tmp_path, postgis_dsn):
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(postgis_dsn, connect_timeout=3) as conn:
            conn.execute("select postgis_version()")
    except psycopg.Error as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test PostGIS: {e}")
        pytest.skip(f"no PostGIS server ({str(e).strip().splitlines()[0]}); run `bash tests/pg_setup.sh`")
    from layers.postgis import PostGISStore

    schema = f"t_opscli_{uuid.uuid4().hex[:8]}"
    try:
        load_postgis(PostGISStore(postgis_dsn, schema=schema), tiny_layers())
        env = {"GIS_POSTGIS_SCHEMA": schema}
        _flow(postgis_dsn, tmp_path, env=env)
        msg = refused("report", "--workspace", postgis_dsn, "--warning", "YJ1", "--grid", "H111", "--moved", "1",
                      env=env)
        assert "no warning 'YJ1'" in msg
        assert "gis:gis@" not in msg                                     # the password is never shown
    finally:
        with psycopg.connect(postgis_dsn, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')


def _book_texts(path: Path) -> list[str]:
    """Sheet names, headers, page headers and text cells of a workbook."""
    book = load_workbook(path)
    out = list(book.sheetnames)
    for sheet in book.worksheets:
        out.append(sheet.oddHeader.center.text or "")
        out += [v for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    return out


def test_cli_files_in_english_speak_english(ws, tmp_path):
    """--lang en: the call sheet, SMS list, dispatch sheet and record hold no Chinese outside the data's own names
    and the issuer's message; in Chinese, no raw key (tests.language)."""
    from tests.language import data_values, leaks, raw_keys

    g = str(ws.gpkg)
    wid = ok("warn", "--workspace", g, "--level", "red", "--all", "--message", "Flash flood", "--lang", "en",
             "--out", str(tmp_path / "en"))["warning_id"]
    ok("ack", "--workspace", g, "--warning", wid, "--contact", "13900000001", "--user", "duty officer")
    ok("checkin", "--workspace", g, "--warning", wid, "--shelter", "S1", "--people", "25")
    ok("dispatch", "--workspace", g, "--warning", wid, "--out", str(tmp_path / "en"), "--days", "1", "--lang", "en")
    ok("record", "--workspace", g, "--warning", wid, "--out", str(tmp_path / "en"), "--lang", "en")
    ok("record", "--workspace", g, "--warning", wid, "--out", str(tmp_path / "zh"))
    values = data_values(ws.folder)
    en = tmp_path / "en"
    texts = [*_book_texts(en / "callout.xlsx"), *_book_texts(en / "dispatch.xlsx"),
             *_book_texts(en / f"{wid}_record.xlsx"), (en / "sms.csv").read_text(encoding="utf-8")]
    assert texts and not leaks(texts, values), leaks(texts, values)[:10]
    zh = _book_texts(tmp_path / "zh" / f"{wid}_record.xlsx")
    assert "叫应与确认" in zh and not raw_keys(zh), raw_keys(zh)[:10]
