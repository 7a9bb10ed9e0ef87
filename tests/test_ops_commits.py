"""Group commit (layers.commits): officers writing at once from one process share transactions, and each still gets
its own outcome: written once when committed, its own refusal (nothing of it written), or the round's failure
(nothing of the round written)."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from layers import commits
from layers.errors import EntryRefused, Problem
from layers.events import OpsLog
from tests.ops_data import big_layers, write_workspace

THREADS = 12
PER_THREAD = 8


def _refusal(i: int) -> EntryRefused:
    return EntryRefused(Problem(f"拒绝 {i}", f"refused {i}", "—", "—"))


def test_officers_of_one_process_share_commits_and_keep_their_outcomes(tmp_path, monkeypatch):
    """THREADS officers (each its own record keeper and connection) report at once: every valid report is written
    once and returned with its entry, every impossible one (more people than the grid) is refused to its own
    officer and not written, and the reports went in fewer transactions than there were reports."""
    from gis.ops.session import Operations

    ws = write_workspace(tmp_path / "ws", big_layers(THREADS * PER_THREAD))
    w = Operations(ws).warn("red", everything=True, issuer="t").warning.warning_id
    rounds: list[int] = []
    real = commits._commit

    def counted(batch, transaction):
        rounds.append(len(batch))
        return real(batch, transaction)

    monkeypatch.setattr(commits, "_commit", counted)
    logs = [OpsLog(ws) for _ in range(THREADS)]
    grids = logs[0].snapshot(w).grids["grid_id"].tolist()
    start = threading.Barrier(THREADS)
    written: list[list[int]] = [[] for _ in range(THREADS)]
    refused: list[list[str]] = [[] for _ in range(THREADS)]
    failed: list[BaseException] = []

    def officer(t: int) -> None:
        try:
            start.wait()
            for k in range(PER_THREAD):
                g = grids[t * PER_THREAD + k]
                too_many = k % 3 == 2                    # 11 people in a grid of 10
                try:
                    e = logs[t].report(w, g, moved=11 if too_many else 7, refused=0, user=f"t{t}")
                    assert not too_many
                    written[t].append(e.event_id)
                except EntryRefused as e:
                    assert too_many and "holds 10 people" in str(e)
                    refused[t].append(g)
        except BaseException as e:  # noqa: BLE001 - reported below
            failed.append(e)

    ts = [threading.Thread(target=officer, args=(t,)) for t in range(THREADS)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not failed, failed[0]
    entries = logs[0].entries(w)
    ids = sorted(i for per in written for i in per)
    assert sorted(entries["event_id"].astype(int)) == ids                     # exactly the reports said written
    assert len(ids) == THREADS * (PER_THREAD - PER_THREAD // 3)
    assert set(entries["subject"]).isdisjoint({g for per in refused for g in per})
    assert (entries["moved"] == 7).all() and set(entries["user"]) == {f"t{t}" for t in range(THREADS)}
    assert sum(rounds) == THREADS * PER_THREAD and len(rounds) < sum(rounds)  # rounds shared by several reports


@contextmanager
def _sqlite_transaction(path: Path):
    con = sqlite3.connect(str(path), timeout=60, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield _Cur(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()


class _Cur:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def run(self, sql: str) -> None:
        self.con.execute(sql)


def test_a_failing_round_writes_nothing_of_it_and_tells_every_writer(tmp_path):
    """While a first writer's round is slow, four writers queue; their round holds one entry that fails (not a
    refusal): none of the four is written and each gets that error; a refused entry in a round that commits is the
    only one not written."""
    db = tmp_path / "t.sqlite"
    with sqlite3.connect(str(db)) as con:
        con.execute("CREATE TABLE t (v INTEGER)")
    key = str(db)
    outcomes: dict[int, object] = {}

    def body(v: int, *, slow: float = 0.0, fail: bool = False, refuse: bool = False):
        def go(cur: _Cur) -> int:
            cur.run(f"INSERT INTO t VALUES ({v})")
            time.sleep(slow)
            if fail:
                raise OSError("disk full")
            if refuse:
                raise _refusal(v)
            return v
        return go

    def writer(v: int, **kw) -> None:
        try:
            outcomes[v] = commits.run(key, body(v, **kw), lambda: _sqlite_transaction(db))
        except BaseException as e:  # noqa: BLE001 - the outcome under test
            outcomes[v] = e

    first = threading.Thread(target=writer, args=(1,), kwargs={"slow": 0.6})
    first.start()
    time.sleep(0.2)                                          # the first round is under way: these four queue
    queued = [threading.Thread(target=writer, args=(v,), kwargs=kw)
              for v, kw in ((2, {}), (3, {"fail": True}), (4, {}), (5, {}))]
    for th in queued:
        th.start()
    first.join()
    for th in queued:
        th.join()
    assert outcomes[1] == 1
    for v in (2, 3, 4, 5):
        assert isinstance(outcomes[v], OSError) and str(outcomes[v]) == "disk full"
    with sqlite3.connect(str(db)) as con:
        assert [r[0] for r in con.execute("SELECT v FROM t ORDER BY v")] == [1]

    first = threading.Thread(target=writer, args=(10,), kwargs={"slow": 0.6})
    first.start()
    time.sleep(0.2)
    queued = [threading.Thread(target=writer, args=(v,), kwargs=kw)
              for v, kw in ((11, {}), (12, {"refuse": True}), (13, {}))]
    for th in queued:
        th.start()
    first.join()
    for th in queued:
        th.join()
    assert outcomes[10] == 10 and outcomes[11] == 11 and outcomes[13] == 13
    assert isinstance(outcomes[12], EntryRefused)
    with sqlite3.connect(str(db)) as con:
        assert [r[0] for r in con.execute("SELECT v FROM t ORDER BY v")] == [1, 10, 11, 13]


@pytest.mark.parametrize("n", [1, 3])
def test_a_writer_alone_or_refused_alone_leaves_nothing(tmp_path, n):
    """A round of one refused entry rolls its transaction back; later writers still get their turn."""
    db = tmp_path / "t.sqlite"
    with sqlite3.connect(str(db)) as con:
        con.execute("CREATE TABLE t (v INTEGER)")

    def refuse(cur: _Cur) -> int:
        cur.run("INSERT INTO t VALUES (99)")
        raise _refusal(99)

    for _ in range(n):
        with pytest.raises(EntryRefused, match="refused 99"):
            commits.run(str(db), refuse, lambda: _sqlite_transaction(db))
    assert commits.run(str(db), lambda cur: cur.run("INSERT INTO t VALUES (1)") or 1,
                       lambda: _sqlite_transaction(db)) == 1
    with sqlite3.connect(str(db)) as con:
        assert [r[0] for r in con.execute("SELECT v FROM t")] == [1]
