"""Progress shown while long work runs: a bar with counts (and the time left) instead of a bare spinner.

:func:`counter` makes the callback the report writers take (``progress(done, total)``, e.g.
:func:`gis.report.village_map.village_maps_batch`); :class:`Steps` walks a page's computation
through its named steps (第 2/5 步：视域分析……). Both remove themselves when the work is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from ui.i18n import t


def _eta(start: float, done: int, total: int) -> str:
    if done <= 0 or done >= total:
        return ""
    left = (time.monotonic() - start) / done * (total - done)
    return t("eta_min", n=f"{left / 60:.0f}") if left >= 90 else t("eta_s", n=f"{max(1.0, left):.0f}")


def counter(label: str) -> Callable[[int, int], None]:
    """A progress bar ``label 12/170（约 40 秒）``; call it with ``(done, total)``; it goes at ``done == total``.

    Nothing shows until the first call (a cached result never calls it).
    """
    slot = st.empty()
    start = time.monotonic()

    def update(done: int, total: int) -> None:
        if done >= total:
            slot.empty()
            return
        slot.progress(min(1.0, done / max(total, 1)), text=f"{label} {done:,}/{total:,} {_eta(start, done, total)}")
    return update


class Steps:
    """A bar over the named steps of one computation (``with Steps(4) as s: s.step(t('...'))``)."""

    def __init__(self, total: int):
        self.total, self.n = total, 0
        self.bar = st.progress(0.0, text="")

    def step(self, what: str) -> None:
        """Start the next step (its name is shown with its number)."""
        self.n += 1
        self.bar.progress(min(1.0, (self.n - 1) / self.total), text=t("step_of", i=self.n, n=self.total, what=what))

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.empty()
