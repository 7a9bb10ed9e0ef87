"""Group commit across processes: writers of one GeoPackage in several processes share transactions.

A GeoPackage commit costs about five ``fdatasync`` calls (SQLite's rollback journal, synchronous FULL: the
journal twice, the file, the journal's truncation): 15-20 ms on a busy disk, so one file takes a few dozen
commits a second however many writers queue for it. WAL would need one, but WAL cannot be used for the
workspace: GDAL (pyogrio's own SQLite) reading the file in a process where Python's SQLite has it open
checkpoints and deletes the ``-wal`` and ``-shm`` files under Python's connection when it closes (the two
libraries do not see each other's POSIX locks), and the commits of another process are then lost
(reproduced in ``tests/test_ops_queue.py``). So the journal stays, and the commits are shared instead.

How: a writer that finds the file locked leaves its entries (what to write, as data: :class:`Spec`) in a
small side queue (``.cache/NAME.ops-queue.sqlite`` beside the workspace; plain SQLite in WAL mode without
fsync: nothing in it needs to survive a power cut, since a writer's call returns only once its entry is in
the GeoPackage) and waits. Whoever next holds the GeoPackage's write lock takes every entry waiting there,
checks and writes each in its own savepoint of its one transaction (as :mod:`layers.commits` does for the
threads of one process), commits, and posts each entry's outcome: the entry written, or its refusal. A round
that fails puts the other processes' entries back in the queue (each writer then meets the failure itself).

What each writer sees is unchanged: its call returns once its entry is committed (durable) or raises its
own refusal. A writer whose entry was taken by a process that died is answered from the GeoPackage: every
entry written for another process is recorded with its request id in the same transaction, so it is found
if that transaction committed and put back in the queue if not. Entries of a writer that died are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from layers.errors import EntryRefused, Problem
from layers.gpkg import Locked

__all__ = ["SharedQueue", "queue_path"]

#: seconds between two looks at the queue and the lock while waiting
POLL_S = 0.002
#: answered rows nobody collected (their writer died) are removed after this many seconds
STALE_S = 120.0


def queue_path(gpkg: Path) -> Path:
    """The side queue of GeoPackage ``gpkg``: ``<name>.ops-queue.sqlite`` in the workspace's cache folder
    (:func:`layers.folders.cache_folder`)."""
    from layers.folders import cache_folder

    return cache_folder(gpkg) / f"{Path(gpkg).name}.ops-queue.sqlite"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:         # another user's process: alive
        return True
    return True


class _Held:
    """A transaction already begun, handed to :func:`layers.commits._commit` as its ``transaction()``."""

    def __init__(self, cm: AbstractContextManager[Any], cur: Any):
        self.cm, self.cur = cm, cur

    def __enter__(self) -> Any:
        return self.cur

    def __exit__(self, *exc: Any) -> bool | None:
        return self.cm.__exit__(*exc)


class SharedQueue:
    """The side queue of one GeoPackage, for one record keeper.

    Parameters
    ----------
    path : pathlib.Path
        The queue file (:func:`queue_path`); its folder is made when missing.
    build : callable
        ``build(spec, request_id) -> body``: the body (``body(cursor) -> result``) of an entry another process
        left, which also records ``request_id`` with what it writes.
    find : callable
        ``find(request_id) -> result or None``: the entry written for ``request_id``, read from the GeoPackage.
    encode, decode : callable
        A result to JSON-able data and back.

    Raises
    ------
    OSError, sqlite3.Error
        The queue cannot be made (a read-only medium): the caller then writes without it.
    """

    def __init__(self, path: Path, *, build: Callable[[dict, str], Callable[[Any], Any]],
                 find: Callable[[str], Any], encode: Callable[[Any], Any], decode: Callable[[Any], Any]):
        self.path = Path(path)
        self.build, self.find, self.encode, self.decode = build, find, encode, decode
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._mu = threading.Lock()
        con = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = OFF")
            con.execute("CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, "
                        "pid INTEGER, spec TEXT, state TEXT, claimer INTEGER, outcome TEXT, t REAL)")
        except BaseException:
            con.close()
            raise
        self._con = con

    def close(self) -> None:
        """Close the queue's connection."""
        with contextlib.suppress(sqlite3.Error):
            self._con.close()

    @contextlib.contextmanager
    def _sql(self) -> Iterator[sqlite3.Connection]:
        with self._mu:
            yield self._con

    # ---- the round --------------------------------------------------------------------------------------------
    def commit(self, batch: list, begin: Callable[[bool], AbstractContextManager[Any]],
               commit_round: Callable[[list, Callable[[], AbstractContextManager[Any]]], None],
               make_job: Callable[[Callable[[Any], Any]], Any]) -> None:
        """Commit ``batch`` (jobs of :mod:`layers.commits`, each with a ``spec``), sharing rounds with the other
        processes: take the lock when free (with every entry waiting in the queue), else leave the batch in the
        queue and wait for its outcomes, whichever comes first.

        Parameters
        ----------
        batch : list
            The jobs of this process's round; their ``result``/``error`` are set and ``wake`` set when done.
        begin : callable
            ``begin(wait)`` opens one write transaction; with ``wait=False`` it raises
            :class:`layers.gpkg.Locked` at once when another process holds the lock.
        commit_round : callable
            :func:`layers.commits._commit`: runs jobs in one transaction, each in its savepoint.
        make_job : callable
            A job of :mod:`layers.commits` from a body.
        """
        pending = list(batch)
        posted: dict[str, Any] = {}
        try:
            while pending:
                try:
                    cm = begin(False)
                    cur = cm.__enter__()
                except Locked:
                    if not posted:
                        posted = self._post(pending)
                    else:
                        pending = self._collect(posted, pending)
                    if pending:
                        time.sleep(POLL_S)
                    continue
                try:
                    claimed = self._claim()
                except BaseException as e:
                    cm.__exit__(type(e), e, e.__traceback__)
                    raise
                mine = [j for j in pending if j.rid is None or j.rid in claimed]
                foreign = []
                for rid, spec in claimed.items():
                    if rid not in posted:
                        job = make_job(self.build(spec, rid))
                        job.rid = rid
                        foreign.append(job)
                held = _Held(cm, cur)
                commit_round(mine + foreign, lambda held=held: held)  # type: ignore[misc]
                self._answer(foreign)
                self._forget([j.rid for j in mine if j.rid])
                pending = [j for j in pending if j not in mine]
                if pending:
                    pending = self._collect(posted, pending)
        except BaseException:
            self._withdraw(posted, pending)
            raise

    def _withdraw(self, posted: dict[str, Any], pending: list) -> None:
        """After a failure of this writer: take its entries still waiting out of the queue (nothing of them is
        written), and wait for those another process took to be answered."""
        with contextlib.suppress(sqlite3.Error), self._sql() as con:
            con.executemany("DELETE FROM queue WHERE id = ? AND state = 'queued'", [(j.rid,) for j in pending
                                                                                    if j.rid in posted])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.Error):
                pending = self._collect(posted, pending)
                with self._sql() as con:
                    if not [j for j in pending if j.rid in posted and con.execute(
                            "SELECT 1 FROM queue WHERE id = ?", (j.rid,)).fetchone()]:
                        return
            time.sleep(POLL_S)

    def _post(self, jobs: list) -> dict[str, Any]:
        """Leave ``jobs`` in the queue; request id -> job."""
        now, pid = time.time(), os.getpid()
        out = {}
        rows = []
        for j in jobs:
            j.rid = uuid.uuid4().hex
            out[j.rid] = j
            rows.append((j.rid, pid, json.dumps(j.spec, ensure_ascii=False), "queued", now))
        with self._sql() as con:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT INTO queue (id, pid, spec, state, t) VALUES (?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")
        return out

    def _claim(self) -> dict[str, dict]:
        """Take every entry waiting (in the order they came) for this process's round: request id -> spec.
        Entries of writers that died are dropped, and answers nobody collected for long."""
        me = os.getpid()
        with self._sql() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                rows = con.execute("SELECT id, pid, spec FROM queue WHERE state = 'queued' ORDER BY seq").fetchall()
                dead = [(r[0],) for r in rows if r[1] != me and not _alive(r[1])]
                if dead:
                    con.executemany("DELETE FROM queue WHERE id = ?", dead)
                taken = [r for r in rows if (r[0],) not in dead]
                con.executemany("UPDATE queue SET state = 'claimed', claimer = ? WHERE id = ?",
                                [(me, r[0]) for r in taken])
                con.execute("DELETE FROM queue WHERE state IN ('done', 'refused') AND t < ?", (time.time() - STALE_S,))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return {r[0]: json.loads(r[2]) for r in taken}

    def _answer(self, foreign: list) -> None:
        """Post the outcomes of the other processes' entries of a round (a failed round puts them back)."""
        if not foreign:
            return
        now = time.time()
        rows: list[tuple[str, str | None, None, float, str]] = []
        for j in foreign:
            if j.error is None:
                rows.append(("done", json.dumps(self.encode(j.result), ensure_ascii=False), None, now, j.rid))
            elif isinstance(j.error, EntryRefused):
                rows.append(("refused", json.dumps([asdict(p) for p in j.error.problems], ensure_ascii=False), None,
                             now, j.rid))
            else:
                rows.append(("queued", None, None, now, j.rid))
        with self._sql() as con:
            con.executemany("UPDATE queue SET state = ?, outcome = ?, claimer = ?, t = ? WHERE id = ?", rows)

    def _forget(self, rids: list[str]) -> None:
        if rids:
            with self._sql() as con:
                con.executemany("DELETE FROM queue WHERE id = ?", [(r,) for r in rids])

    def _collect(self, posted: dict[str, Any], pending: list) -> list:
        """Give the pending jobs whose entries another process answered their outcome; the jobs still pending."""
        want = [j.rid for j in pending if j.rid in posted]
        if not want:
            return pending
        with self._sql() as con:
            rows = con.execute(f"SELECT id, state, claimer, outcome FROM queue WHERE id IN "
                               f"({', '.join('?' * len(want))})", want).fetchall()
        done: list[str] = []
        for rid, state, claimer, outcome in rows:
            job = posted[rid]
            if state == "done":
                job.result = self.decode(json.loads(outcome))
            elif state == "refused":
                job.error = EntryRefused([Problem(**p) for p in json.loads(outcome)])
            elif state == "claimed" and claimer is not None and not _alive(int(claimer)):
                found = self.find(rid)           # its round committed before it died, or was rolled back
                if found is None:
                    with self._sql() as con:
                        con.execute("UPDATE queue SET state = 'queued', claimer = NULL WHERE id = ? AND "
                                    "state = 'claimed' AND claimer = ?", (rid, claimer))
                    continue
                job.result = found
            else:
                continue
            done.append(rid)
            job.wake.set()
        self._forget(done)
        return [j for j in pending if j.rid not in done]
