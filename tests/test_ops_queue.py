"""Group commit across processes (layers.commit_queue): writers of one GeoPackage in separate processes share
transactions through a side queue, each still gets its own outcome, and the workspace stays in SQLite's rollback
journal (why not WAL: the first test)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from layers.commit_queue import SharedQueue, queue_path
from layers.events import OpsLog
from tests.ops_data import big_layers, write_workspace

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 6
PER_PROCESS = 12


def test_why_not_wal_a_gdal_read_in_the_process_loses_another_process_commits(tmp_path):
    """The reason the workspace is not put in WAL mode: GDAL's own SQLite (pyogrio's) reading the file in a process
    where Python's SQLite has it open deletes the -wal and -shm files under Python's connection when it closes;
    Python's next commits go to the deleted WAL, and another process's commits made meanwhile are overwritten when
    Python's connection checkpoints. (If this test ever fails, GDAL and Python share their locks: WAL may be
    reconsidered.)"""
    import pyogrio

    p = tmp_path / "w.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4326).to_file(p, layer="pts")
    con = sqlite3.connect(str(p), isolation_level=None)
    assert con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    con.execute("CREATE TABLE t (x)")
    for i in range(5):
        con.execute("INSERT INTO t VALUES (?)", (i,))
    pyogrio.read_dataframe(p, layer="pts")
    assert not Path(str(p) + "-wal").exists()                 # deleted under Python's open connection
    for i in range(5):
        con.execute("INSERT INTO t VALUES (?)", (i,))
    other = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
             "for i in range(100): c.execute('INSERT INTO t VALUES (1000)')\n"
             "print(c.execute('SELECT count(*) FROM t').fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", other, str(p)], capture_output=True, text=True, check=True)
    assert int(out.stdout) == 105                              # it never saw Python's last 5
    con.close()
    with sqlite3.connect(str(p)) as c:
        assert c.execute("SELECT count(*) FROM t").fetchone()[0] == 10   # its 100 commits are lost


def _reporter(gpkg: str, warning_id: str, index: int, start_file: str, out_file: str) -> None:
    """One officer process: PER_PROCESS reports on its own grids (every third one impossible: 11 people in a grid
    of 10) from when ``start_file`` appears; what came of each to ``out_file``."""
    from layers.errors import EntryRefused

    log = OpsLog(gpkg)
    grids = log.snapshot(warning_id).grids["grid_id"].tolist()[index * PER_PROCESS:(index + 1) * PER_PROCESS]
    while not os.path.exists(start_file):
        time.sleep(0.002)
    out = []
    for k, g in enumerate(grids):
        too_many = k % 3 == 2
        try:
            e = log.report(warning_id, g, moved=11 if too_many else 7, user=f"p{index}")
            out.append({"grid": g, "event_id": e.event_id, "moved": e.values["moved"], "bad": too_many})
        except EntryRefused as e:
            out.append({"grid": g, "refused": str(e), "bad": too_many})
    Path(out_file).write_text(json.dumps(out))


@pytest.fixture()
def warned(tmp_path):
    from gis.ops.session import Operations

    ws = write_workspace(tmp_path / "ws", big_layers(PROCESSES * PER_PROCESS))
    return ws, Operations(ws).warn("red", everything=True, issuer="t").warning.warning_id


def test_processes_share_rounds_and_each_gets_its_own_outcome(warned, tmp_path):
    """PROCESSES officer processes report at once: every valid report is written once and returned to its own
    officer with its entry, every impossible one is refused to its own officer and not written, some entries
    were written in another process's round (recorded with their request), the queue is left empty and the
    workspace is still in the rollback journal."""
    ws, w = warned
    start = tmp_path / "go"
    outs = [tmp_path / f"out{i}.json" for i in range(PROCESSES)]
    code = ("import sys; from tests.test_ops_queue import _reporter; a = sys.argv[1:]; "
            "_reporter(a[0], a[1], int(a[2]), a[3], a[4])")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ws.gpkg), w, str(i), str(start), str(outs[i])],
                              cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) for i in range(PROCESSES)]
    time.sleep(3)                                 # every process has imported and read the warning
    start.write_text("go")
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    results = [r for o in outs for r in json.loads(o.read_text())]
    assert len(results) == PROCESSES * PER_PROCESS
    written = [r for r in results if "event_id" in r]
    refused = [r for r in results if "refused" in r]
    assert all(not r["bad"] and r["moved"] == 7 for r in written)
    assert all(r["bad"] and "holds 10 people" in r["refused"] for r in refused)
    assert len(refused) == PROCESSES * (PER_PROCESS // 3)
    entries = OpsLog(ws).entries(w)
    assert sorted(entries["event_id"].astype(int)) == sorted(r["event_id"] for r in written)   # each once
    assert dict(zip(entries["event_id"].astype(int), entries["subject"])) == {r["event_id"]: r["grid"]
                                                                             for r in written}
    with sqlite3.connect(str(ws.gpkg)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] in ("delete", "truncate", "persist")
        shared = con.execute("SELECT count(*) FROM gis_ops_requests").fetchone()[0]
    assert 0 < shared <= len(written)            # written in another process's round
    with sqlite3.connect(str(queue_path(ws.gpkg))) as con:
        assert con.execute("SELECT count(*) FROM queue").fetchone()[0] == 0


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_an_entry_taken_by_a_process_that_died_is_answered_from_the_workspace_or_put_back(warned):
    """A writer whose entry was taken by a process that then died: when that round committed, the entry is found in
    the workspace by its request id (not written twice); when it did not, the entry goes back to the queue and is
    written by the next round."""
    from layers import commits

    ws, w = warned
    log = OpsLog(ws)
    grids = log.snapshot(w).grids["grid_id"].tolist()
    db = log.db
    q = db._queue()
    assert isinstance(q, SharedQueue)
    dead = _dead_pid()

    def leave(rid: str, spec: dict) -> commits._Job:
        job = commits._Job(lambda cur: None, spec)
        job.rid = rid
        with sqlite3.connect(str(q.path)) as con:
            con.execute("INSERT INTO queue (id, pid, spec, state, claimer, t) VALUES (?, ?, ?, 'claimed', ?, ?)",
                        (rid, os.getpid(), json.dumps(spec), dead, time.time()))
        return job

    # the dead process's round committed: its entry is there, with the request
    spec = {"op": "report", "args": [w, grids[0], {"moved": 5, "refused": 0, "absent": 0}, None, "a", None, False, ""]}
    with db.write() as cur:
        db._build(spec, "r-committed")(cur)
    job = leave("r-committed", spec)
    assert q._collect({"r-committed": job}, [job]) == []
    assert job.result.subject == grids[0] and job.result.values["moved"] == 5
    assert len(log.entries(w)) == 1                                           # not written twice

    # its round did not commit: the entry goes back to the queue, and the next round writes it
    spec2 = {"op": "report", "args": [w, grids[1], {"moved": 3, "refused": 0, "absent": 0}, None, "b", None, False, ""]}
    job2 = leave("r-lost", spec2)
    assert q._collect({"r-lost": job2}, [job2]) == [job2] and job2.result is None
    with sqlite3.connect(str(q.path)) as con:
        assert con.execute("SELECT state, claimer FROM queue WHERE id = 'r-lost'").fetchone() == ("queued", None)
    other = OpsLog(ws)                           # another writer's round takes it with its own entry
    mine = other.report(w, grids[2], moved=1, user="c")
    got = {r.subject: r for r in log.entries(w).itertuples()}
    assert set(got) == {grids[0], grids[1], grids[2]} and int(got[grids[1]].moved) == 3
    assert mine.subject == grids[2]
    with sqlite3.connect(str(q.path)) as con:
        assert con.execute("SELECT state FROM queue WHERE id = 'r-lost'").fetchone()[0] == "done"
