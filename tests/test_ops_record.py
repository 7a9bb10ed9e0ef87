"""The operations record (layers.events) on a GeoPackage workspace and on PostGIS: what is written, what is refused
(nothing written), corrections, and dozens of concurrent writer processes losing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gis.ops.session import Operations
from layers.errors import EntryRefused, GisError
from layers.events import OpsLog, normalize_phone, parse_time
from tests.ops_data import big_layers, load_postgis, tiny_layers, write_workspace

ROOT = Path(__file__).resolve().parents[1]
#: concurrent writers: PROCESSES processes of THREADS officers each, every officer on its own connection
PROCESSES, THREADS = 6, 4
WRITERS = PROCESSES * THREADS
#: grids of the warning the writers report on
N_GRIDS = 48


# ---- stores ---------------------------------------------------------------------------------------------------------
def _pg_dsn(postgis_dsn: str) -> str:
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(postgis_dsn, connect_timeout=3) as conn:
            conn.execute("select postgis_version()")
    except psycopg.Error as e:
        msg = f"no PostGIS server at {postgis_dsn.split('@')[-1]} ({str(e).strip().splitlines()[0]})"
        if os.environ.get("CI"):
            pytest.fail("CI must test PostGIS: " + msg)
        pytest.skip(msg + "; run `bash tests/pg_setup.sh`")
    return postgis_dsn


def _drop(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path, postgis_dsn):
    """The tiny county in a GeoPackage workspace, or in its own PostGIS schema."""
    if request.param == "gpkg":
        yield write_workspace(tmp_path / "ws", tiny_layers())
        return
    dsn = _pg_dsn(postgis_dsn)
    from layers.postgis import PostGISStore

    schema = f"t_ops_{uuid.uuid4().hex[:10]}"
    st = PostGISStore(dsn, schema=schema)
    load_postgis(st, tiny_layers())
    yield st
    _drop(dsn, schema)


def _warn(store, **kw):
    return Operations(store).warn(kw.pop("level", "red"), everything=True, issuer="指挥长", **kw)


# ---- writing and reading ---------------------------------------------------------------------------------------------
def test_issue_records_the_warning_and_what_it_covers(store):
    iss = _warn(store)
    w = iss.warning
    assert w.warning_id.startswith("YJ") and len(w.warning_id) == 13
    assert (w.level, w.grids, w.people, w.households, w.issuer) == ("red", 4, 140, 45, "指挥长")
    log = OpsLog(store)
    snap = log.snapshot(w.warning_id)
    assert sorted(snap.grids["grid_id"]) == ["G12", "G21", "H111", "H112"]
    assert snap.grids.set_index("grid_id")["people"].to_dict() == {"G12": 40, "G21": 50, "H111": 30, "H112": 20}
    assert len(snap.contacts) == w.contacts == len(iss.callout.contacts)
    assert list(snap.contacts["seq"]) == list(range(1, w.contacts + 1))
    assert set(snap.shelters["shelter_id"]) == {"S1", "S2", "S3"}
    assert [x.warning_id for x in log.warnings()] == [w.warning_id]
    # a second warning the same day gets the next number
    w2 = _warn(store, level="blue").warning
    assert int(w2.warning_id[-3:]) == int(w.warning_id[-3:]) + 1
    assert [x.warning_id for x in log.warnings()][0] in (w.warning_id, w2.warning_id)


def test_updates_are_entries_with_who_and_when(store):
    w = _warn(store).warning.warning_id
    log = OpsLog(store)
    a = log.acknowledge(w, "139 0000 0001", user="甲")           # phone written with spaces
    r = log.report(w, "H111", moved=25, refused=2, absent=1, user="乙")
    c = log.checkin(w, "S1", people=12, households=4, vulnerable=2, user="丙")
    e = log.entries(w)
    assert e["event_id"].tolist() == [a.event_id, r.event_id, c.event_id]
    assert e["kind"].tolist() == ["ack", "report", "checkin"]
    assert e["subject"].tolist() == ["13900000001", "H111", "S1"]
    assert e["user"].tolist() == ["甲", "乙", "丙"]
    assert (int(e["moved"][1]), int(e["refused"][1]), int(e["absent"][1])) == (25, 2, 1)
    assert (int(e["people"][2]), int(e["households"][2]), int(e["vulnerable"][2])) == (12, 4, 2)
    assert e["active"].all() and e["superseded_by"].isna().all()
    assert all(t.endswith("Z") for t in e["at"]) and all(t.endswith("Z") for t in e["recorded_at"])


def _count(store, w: str) -> int:
    return len(OpsLog(store).entries(w))


@pytest.mark.parametrize("call, match", [
    (lambda log, w: log.acknowledge("YJ20000101999", "13900000000"), "no warning 'YJ20000101999'"),
    (lambda log, w: log.acknowledge(w, "13100000000"), "not on the call-out list"),
    (lambda log, w: log.report(w, "NOPE", moved=1), "not in the area"),
    (lambda log, w: log.report(w, "V1", moved=1), "not in the area"),             # not a leaf grid of the warning
    (lambda log, w: log.report(w, "H111", moved=-1), "at least 0"),
    (lambda log, w: log.report(w, "H111", moved=2.5), "whole number"),
    (lambda log, w: log.report(w, "H111", moved=31), "holds 30 people"),
    (lambda log, w: log.report(w, "H111", moved=20, refused=6, absent=5), "= 31 is more"),
    (lambda log, w: log.checkin(w, "S9", people=1), "not among the shelters"),
    (lambda log, w: log.checkin(w, "S1", people=141), "140 people it covers"),
    (lambda log, w: log.checkin(w, "S1", people=5, households=6), "more households"),
    (lambda log, w: log.checkin(w, "S1", people=0), "0 people"),
    (lambda log, w: log.report(w, "H111", moved=1, at="2000-01-01 08:00"), "before the warning"),
    (lambda log, w: log.report(w, "H111", moved=1, at=(datetime.now(UTC) + timedelta(hours=2)).isoformat()),
     "in the future"),
    (lambda log, w: log.report(w, "H111", moved=1, at="yesterday noon"), "cannot read the time"),
    (lambda log, w: log.report(w, "H111", moved=1, corrects=999), "no report entry #999"),
])
def test_refused_entries_write_nothing(store, call, match):
    w = _warn(store).warning.warning_id
    log = OpsLog(store)
    log.checkin(w, "S2", people=3)
    before = _count(store, w)
    with pytest.raises(EntryRefused, match=match) as info:
        call(log, w)
    assert isinstance(info.value, GisError)
    text = str(info.value)
    assert "未记录" in text and "Nothing was recorded" in text          # bilingual, says nothing was written
    assert _count(store, w) == before


def test_duplicate_acknowledgment_is_refused_and_names_the_first(store):
    w = _warn(store).warning.warning_id
    log = OpsLog(store)
    first = log.acknowledge(w, "13900000001", user="甲")
    with pytest.raises(EntryRefused, match=f"entry #{first.event_id}, by 甲"):
        log.acknowledge(w, "+86 139 0000 0001", user="乙")
    assert _count(store, w) == 1


def test_corrections_supersede_and_keep_the_old_entry(store):
    ops = Operations(store)
    w = _warn(store).warning.warning_id
    wrong = ops.report(w, "H111", moved=30)
    ops.report(w, "G12", moved=10)
    fixed = ops.report(w, "H111", moved=25, refused=5, corrects=wrong.event_id, user="核对员")
    with pytest.raises(EntryRefused, match=f"already corrected by entry #{fixed.event_id}"):
        ops.report(w, "H111", moved=20, corrects=wrong.event_id)
    with pytest.raises(EntryRefused, match="no ack entry"):
        ops.ack(w, "13900000001", corrects=fixed.event_id)           # a correction keeps its kind
    e = ops.entries(w).set_index("event_id")
    assert int(e.loc[wrong.event_id, "superseded_by"]) == fixed.event_id and not e.loc[wrong.event_id, "active"]
    assert int(e.loc[fixed.event_id, "supersedes"]) == wrong.event_id
    p = ops.progress(w).totals
    assert (p["people_moved"], p["people_refused"]) == (35, 5)
    # a check-in entered twice is voided; the total follows
    a = ops.checkin(w, "S1", people=20)
    b = ops.checkin(w, "S1", people=20)
    assert ops.progress(w).totals["people_checked_in"] == 40
    ops.checkin(w, "S1", people=0, corrects=b.event_id, void=True)
    assert ops.progress(w).totals["people_checked_in"] == 20
    # a check-in corrected to more: checked against the warning's total without the old entry
    with pytest.raises(EntryRefused, match="141"):
        ops.checkin(w, "S1", people=141, corrects=a.event_id)
    ops.checkin(w, "S1", people=140, corrects=a.event_id)
    assert ops.progress(w).totals["people_checked_in"] == 140
    # an acknowledgment voided can be given again
    ack = ops.ack(w, "13900000002")
    ops.ack(w, "13900000002", corrects=ack.event_id, void=True)
    assert ops.progress(w).totals["acknowledged"] == 0
    ops.ack(w, "13900000002")
    assert ops.progress(w).totals["acknowledged"] == 1
    assert len(ops.entries(w)) == 10


def test_times_without_zone_are_china_standard_time():
    assert parse_time("2026-07-12 09:30") == "2026-07-12T01:30:00.000Z"
    assert parse_time("2026-07-12T09:30:00+08:00") == "2026-07-12T01:30:00.000Z"
    assert parse_time("2026-07-12T01:30:00Z") == "2026-07-12T01:30:00.000Z"
    assert parse_time("2026/07/12 09:30") == "2026-07-12T01:30:00.000Z"
    assert normalize_phone("+86 139-0000-0001") == "13900000001" and normalize_phone(None) == ""


def test_record_lives_beside_the_layers_which_still_read(tmp_path):
    import pyogrio

    ws = write_workspace(tmp_path / "ws", tiny_layers())
    w = _warn(ws).warning.warning_id
    OpsLog(ws).checkin(w, "S1", people=5)
    names = {n for n, _ in pyogrio.list_layers(ws.gpkg)}
    assert {"gis_ops_warnings", "gis_ops_events", "grids"} <= names     # plain tables beside the layers
    assert ws.vector_kinds() == ["villages", "grids", "shelters", "depots", "roads"]
    assert len(ws.vector("grids")) == 10                   # the layers still read


def test_unknown_warning_in_an_empty_workspace(tmp_path):
    ws = write_workspace(tmp_path / "ws", tiny_layers())
    log = OpsLog(ws)
    assert log.warnings() == []
    with pytest.raises(EntryRefused, match="no warning yet"):
        log.snapshot("YJ1")
    with pytest.raises(EntryRefused, match="no warning yet"):
        log.report("YJ1", "H111", moved=1)


def test_a_connection_the_server_dropped_is_replaced_before_anything_is_written(tmp_path, postgis_dsn):
    """The record keeper keeps its PostGIS connection between writes without probing it: one the server dropped
    meanwhile (a restart, an idle timeout) fails at BEGIN and is replaced once; the write and a read go through."""
    import psycopg

    from layers.postgis import PostGISStore

    dsn = _pg_dsn(postgis_dsn)
    schema = f"t_ops_{uuid.uuid4().hex[:10]}"
    st = PostGISStore(dsn, schema=schema)
    try:
        load_postgis(st, tiny_layers())
        w = _warn(st).warning.warning_id
        log = OpsLog(st)
        first = log.report(w, "H111", moved=1)

        def drop() -> None:
            pid = log.db._conn.info.backend_pid
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("select pg_terminate_backend(%s)", (pid,))

        drop()
        second = log.report(w, "H112", moved=2)
        assert second.event_id > first.event_id
        drop()
        e = log.entries(w)
        assert e["subject"].tolist() == ["H111", "H112"] and e["moved"].tolist() == [1, 2]
    finally:
        _drop(dsn, schema)


# ---- many officers at once -------------------------------------------------------------------------------------------
def _concurrent(store_arg: str, schema: str, store, tmp_path: Path) -> None:
    """WRITERS officers (PROCESSES processes of THREADS threads, each on its own connection), started together,
    each reporting its share of N_GRIDS grids, checking in one person per grid at one shelter (all writers on the
    same shelter) and acknowledging its share of the contacts."""
    ops = Operations(store)
    iss = ops.warn("red", everything=True, issuer="t")
    w = iss.warning.warning_id
    n_grids, n_contacts = iss.warning.grids, iss.warning.contacts
    start = tmp_path / f"start_{uuid.uuid4().hex}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.ops_data", store_arg, schema, w, str(i), str(PROCESSES),
                               str(THREADS), str(start)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for i in range(PROCESSES)]
    time.sleep(1.0)
    start.write_text("go")
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=600)
        if p.returncode:
            errors.append(err[-2000:])
    assert not errors, errors[0]
    e = ops.entries(w)
    assert len(e) == 2 * n_grids + n_contacts                 # every write is there, once
    assert e["event_id"].is_unique
    assert (e.groupby("kind").size().to_dict() == {"report": n_grids, "checkin": n_grids, "ack": n_contacts})
    t = ops.progress(w).totals
    assert t["people_moved"] == 7 * n_grids and t["people_refused"] == n_grids and t["people_absent"] == n_grids
    assert t["people_checked_in"] == n_grids                  # one-person check-ins at the same shelter
    assert t["acknowledged"] == n_contacts
    assert set(e["user"]) == {f"w{i}" for i in range(WRITERS)}


def test_dozens_of_concurrent_writers_on_the_geopackage(tmp_path):
    ws = write_workspace(tmp_path / "ws", big_layers(N_GRIDS))
    _concurrent(str(ws.gpkg), "", ws, tmp_path)


def test_dozens_of_concurrent_writers_on_postgis(tmp_path, postgis_dsn):
    dsn = _pg_dsn(postgis_dsn)
    from layers.postgis import PostGISStore

    schema = f"t_ops_{uuid.uuid4().hex[:10]}"
    st = PostGISStore(dsn, schema=schema)
    try:
        load_postgis(st, big_layers(N_GRIDS))
        _concurrent(dsn, schema, st, tmp_path)
    finally:
        _drop(dsn, schema)


def test_record_writes_and_gdal_reads_in_one_process_keep_the_file_sound(tmp_path):
    """Python's SQLite (the record, one kept connection) and GDAL's (layer reads, edits) on one file in one process."""
    import sqlite3

    from layers.edits import ChangeSet, Update

    ws = write_workspace(tmp_path / "ws", tiny_layers())
    ops = Operations(ws)
    w = ops.warn("red", everything=True).warning.warning_id
    for i, g in enumerate(["H111", "H112", "G12", "G21"] * 3):
        ops.report(w, g, moved=i % 5)
        assert len(ws.vector("grids")) == 10                          # GDAL opens and closes the file each time
        if i == 5:
            cur = ws.read("shelters")
            ws.apply(ChangeSet("shelters", updated=[Update(int(cur.fid[0]), int(cur._rev[0]), {"capacity": 61})]),
                     note="t", user="t")
    ops.checkin(w, "S1", people=3)
    con = sqlite3.connect(str(ws.gpkg))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        assert con.execute("SELECT count(*) FROM gis_ops_events").fetchone()[0] == 13
    finally:
        con.close()
    assert ws.read("shelters").capacity.iloc[0] == 61
