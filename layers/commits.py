"""Group commit: the writers of one GeoPackage in this process share one transaction.

Every entry of the operations record is its own transaction, and a GeoPackage commit costs several
``fsync`` calls (SQLite's rollback journal, synchronous FULL): on a busy disk that bounds one file to
a few dozen commits a second. The officers of one app server are threads of one process; when several
of them write at once, :func:`run` lets the first one commit every entry waiting at that moment in one
transaction (each entry checked and written in its own savepoint, in the order they came), and hands
the next round to one of the writers still waiting. So concurrent writers share their commits instead
of queueing for one each.

What each writer sees is unchanged: its call returns once its entry is committed (durable), or raises
its own refusal (:class:`~layers.errors.EntryRefused`: only its savepoint is rolled back, nothing of it
written), or, when the shared transaction fails (a full disk, a read-only medium), that error, with
nothing of the round written. Writers in other processes share rounds too when their entries are given as
data (``spec``) and a side queue (``shared``, :class:`layers.commit_queue.SharedQueue`) is open: a round
that finds the file locked leaves its entries there for whichever process holds the lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from layers.errors import EntryRefused

__all__ = ["run"]

T = TypeVar("T")


class _Job:
    """One writer's entry: what it writes (``body``), and what came of it."""

    __slots__ = ("body", "spec", "rid", "result", "error", "wake", "lead")

    def __init__(self, body: Callable[[Any], Any], spec: dict | None = None):
        self.body = body
        self.spec = spec
        self.rid: str | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.wake = threading.Event()
        self.lead = False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class _Queue:
    """The writers of one file in this process waiting for a transaction."""

    def __init__(self) -> None:
        self.mu = threading.Lock()
        self.jobs: list[_Job] = []
        self.leading = False


_guard = threading.Lock()
_queues: dict[tuple[int, str], _Queue] = {}        # (process, file) -> queue: a forked child has its own


def _queue(key: str) -> _Queue:
    with _guard:
        return _queues.setdefault((os.getpid(), key), _Queue())


def run(key: str, body: Callable[[Any], T], transaction: Callable[[], AbstractContextManager[Any]], *,
        spec: dict | None = None, shared: Any = None,
        begin: Callable[[bool], AbstractContextManager[Any]] | None = None) -> T:
    """Write one entry, in a transaction shared with the other writers of ``key`` waiting at the same time.

    Parameters
    ----------
    key : str
        The file written (its resolved path): writers of the same key share transactions.
    body : callable
        ``body(cursor) -> result``: checks and writes the entry (raises
        :class:`~layers.errors.EntryRefused` to refuse it). It runs in whichever writer's thread commits
        the round, on that writer's connection.
    transaction : callable
        Opens one write transaction of this writer and yields a cursor with ``run(sql)``; commits when the
        block ends, rolls back on an exception.

    Returns
    -------
    The result of ``body``, once committed.
    """
    q = _queue(key)
    job = _Job(body, spec)
    with q.mu:
        q.jobs.append(job)
        if not q.leading:
            q.leading = job.lead = True
    if not job.lead:
        job.wake.wait()
        if not job.lead:                   # committed (or refused) in another writer's round
            return job.outcome()
    try:
        with q.mu:
            batch, q.jobs = q.jobs, []
        if shared is not None and begin is not None and all(j.spec is not None for j in batch):
            try:
                shared.commit(batch, begin, _commit, _Job)
            except BaseException as e:  # noqa: BLE001 - every writer of the round not yet answered gets it
                for j in batch:
                    if not j.wake.is_set() and j.error is None and j.result is None:
                        j.error = e
                        j.wake.set()
        else:
            _commit(batch, transaction)
    finally:
        with q.mu:                         # the next round to the first writer still waiting
            if q.jobs:
                q.jobs[0].lead = True
                q.jobs[0].wake.set()
            else:
                q.leading = False
    return job.outcome()


def _commit(batch: list[_Job], transaction: Callable[[], AbstractContextManager[Any]]) -> None:
    """One transaction for ``batch``: each entry in its savepoint; outcomes given out only after the commit."""
    results: list[Any] = [None] * len(batch)
    errors: list[BaseException | None] = [None] * len(batch)
    try:
        with transaction() as cur:
            if len(batch) == 1:            # alone: a refusal rolls the transaction back
                results[0] = batch[0].body(cur)
            else:
                for i, job in enumerate(batch):
                    cur.run("SAVEPOINT gis_entry")
                    try:
                        results[i] = job.body(cur)
                    except EntryRefused as e:
                        errors[i] = e
                        cur.run("ROLLBACK TO gis_entry")
                    cur.run("RELEASE gis_entry")
    except BaseException as e:  # noqa: BLE001 - every writer of the round gets it (nothing of it was written)
        errors = [err if isinstance(err, EntryRefused) else e for err in errors]
        results = [None] * len(batch)
    for job, result, error in zip(batch, results, errors):
        job.result, job.error = result, error
        job.wake.set()
