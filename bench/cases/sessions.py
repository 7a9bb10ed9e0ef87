"""Many officers at once: N real headless Chromium sessions of one page opened together; map ready time and server RSS
per wave.

For each page (``BENCH_SESSIONS_PAGES``, default ``flood,fire,data``) the app is started with
``streamlit run app.py`` (headless, 127.0.0.1, disconnected sessions dropped after 10 s) on a copy of
the benchmark workspace, and driven by one headless Chromium (Debian's, through Playwright's async
API) with one isolated browser context per session — each context is its own app session:

1. a fresh server, **one** session alone: the reference time (cold: every cache empty, as after a start);
2. a second fresh server, **N** sessions (``BENCH_SESSIONS_N``, default 8) opened at the same moment (cold);
3. on that server, ``BENCH_SESSIONS_WARM`` (default 2) more waves of N sessions, each opened after the
   previous wave's sessions have closed and been dropped (sessions coming and going).

A session's time is from its navigation to the streamlit-folium map having drawn (Leaflet's container
holds a vector canvas or a loaded image), measured by the driver; "map sent" is when the map's frame
arrived (the server's part; the rest is the browser drawing it). Every session of a wave stays open
until the last map is ready, then all close. The server's resident memory (its process and children,
from /proc) is sampled every 0.25 s: before the wave, its peak, and 15 s after the sessions closed.
Requests to hosts other than localhost are aborted and counted. The 1/5/15-minute load average is
recorded beside every wave: on a shared machine the timings move with it. So is the CPU time the server
(process, threads and children, from /proc) and the browser (Chromium and Playwright's driver) spent from the
wave's start until its sessions closed: the work a wave costs, which a loaded machine does not inflate the way
it inflates wall time. A map whose layers are fetched from the server (``GisMap.pending``) is ready once the
layers shown at start have arrived.

**Bars:** the slowest of N cold sessions under 2× the one-session time; memory after the last wave
within 15 % of memory after the first N-session wave (bounded as sessions come and go).

Run: ``python -m bench.run sessions --scale county`` (the demo county, as the issue measured it).
A session not ready after ``BENCH_SESSIONS_TIMEOUT`` seconds (default 600) counts as failed.
``BENCH_SESSIONS_APP=/path/to/other/checkout`` runs that checkout's app instead (a before/after
comparison on the same machine and data).
"""

from __future__ import annotations

import os
import shutil
import statistics
from pathlib import Path

from bench.harness import ROOT, Context, Report, bar, copy_workspace

PAGES = {"flood": "/", "fire": "/fire", "data": "/data", "workspace": "/workspace"}


def _pages() -> list[str]:
    names = [p.strip() for p in os.environ.get("BENCH_SESSIONS_PAGES", "flood,fire,data").split(",") if p.strip()]
    bad = [p for p in names if p not in PAGES]
    if bad:
        raise ValueError(f"BENCH_SESSIONS_PAGES: unknown page(s) {bad}; use {sorted(PAGES)}")
    return names



def _commit(app: Path) -> str:
    """The commit of the app run (and whether its files differ from it)."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(app), "log", "-1", "--format=%h %s"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(app), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return str(app)
    return f"commit {head[:90]}" + (" with uncommitted changes" if dirty else "")


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _row(page: str, label: str, w, load: str) -> list:
    done = [s for s in w.ready_s if s is not None]
    sent = [s for s in w.frame_s if s is not None]
    return [page, label, w.sessions, len(done), round(min(done), 1) if done else None,
            round(statistics.median(done), 1) if done else None, round(max(done), 1) if done else None,
            round(statistics.median(sent), 1) if sent else None,
            None if w.rss_before_mb is None else round(w.rss_before_mb), None if w.rss_peak_mb is None else
            round(w.rss_peak_mb), None if w.rss_after_mb is None else round(w.rss_after_mb),
            None if w.server_cpu_s is None else round(w.server_cpu_s, 1),
            None if w.browser_cpu_s is None else round(w.browser_cpu_s, 1), load]


def run(ctx: Context) -> Report:
    """Open the pages in waves of real browser sessions; see the module docstring."""
    from bench.browser import session_wave, streamlit_app

    n = int(os.environ.get("BENCH_SESSIONS_N", "8"))
    app = Path(os.environ.get("BENCH_SESSIONS_APP") or ROOT)
    limit = float(os.environ.get("BENCH_SESSIONS_TIMEOUT", "600"))
    warm = int(os.environ.get("BENCH_SESSIONS_WARM", "2"))
    rows, bars, figures, notes = [], [], {}, []
    if ctx.chromium is None:
        return Report(tables=[], bars=[bar("Chromium present", None, 1, "")],
                      notes=["no Chromium at /usr/bin/chromium: nothing measured"], figures={})
    for page in _pages():
        url_path = PAGES[page]
        logs = ctx.tmp / f"{page}-logs"
        logs.mkdir(parents=True, exist_ok=True)
        ctx.log(f"  sessions: {page}: one session on a fresh server")
        with streamlit_app(app, copy_workspace(ctx.workspace, ctx.tmp / f"{page}-single"),
                           log=logs / "single.log") as (url, pid):
            load = _load()
            single = session_wave(url + url_path, 1, chromium=ctx.chromium, pid=pid, timeout_s=limit)
        rows.append(_row(page, "1 alone (cold)", single, load))
        ctx.log(f"  sessions: {page}: one alone {single.ready_s}")
        waves = []
        many = copy_workspace(ctx.workspace, ctx.tmp / f"{page}-many")
        with streamlit_app(app, many, log=logs / "many.log") as (url, pid):
            for i in range(1 + warm):
                load = _load()
                w = session_wave(url + url_path, n, chromium=ctx.chromium, pid=pid, timeout_s=limit)
                waves.append(w)
                rows.append(_row(page, f"{n} at once ({'cold' if i == 0 else f'warm, wave {i + 1}'})", w, load))
                ctx.log(f"  sessions: {page}: wave {i + 1}: {[None if s is None else round(s, 1) for s in w.ready_s]}")
        t1 = single.ready_s[0] if single.ready_s else None
        cold = waves[0].ready_s
        slowest = None if not cold or any(s is None for s in cold) else max(cold)
        ratio = None if t1 is None or slowest is None else slowest / t1
        bars.append(bar(f"{page}: slowest of {n} cold sessions / one session alone", ratio, 2.0, "×"))
        first, last = waves[0].rss_after_mb, waves[-1].rss_after_mb
        growth = None if first is None or last is None else last / first
        bars.append(bar(f"{page}: server memory after the last wave / after the first", growth, 1.15, "×"))
        outside = single.external + sum(w.external for w in waves)
        figures[page] = {"single_s": t1, "cold_s": cold, "warm_s": [w.ready_s for w in waves[1:]],
                         "rss_mb": [[w.rss_before_mb, w.rss_peak_mb, w.rss_after_mb] for w in [single, *waves]],
                         "server_cpu_s": [w.server_cpu_s for w in [single, *waves]],
                         "browser_cpu_s": [w.browser_cpu_s for w in [single, *waves]],
                         "external_requests": outside,
                         "page_errors": sorted({e for w in [single, *waves] for e in w.errors})[:5]}
        if outside:
            notes.append(f"{page}: {outside} requests to hosts other than localhost were aborted")
        shutil.rmtree(ctx.tmp / f"{page}-single", ignore_errors=True)
        shutil.rmtree(ctx.tmp / f"{page}-many", ignore_errors=True)
    notes.insert(0, __doc__.split("\n\n", 1)[1].split("\n\n**Bars")[0].replace("\n", " "))
    notes.append("The machine may be shared with other work: compare runs by their load averages (last column).")
    notes.append(f"App: {_commit(app)}" + ("" if app == ROOT else f" (BENCH_SESSIONS_APP={app})") + ".")
    return Report(
        tables=[{"title": f"sessions: {n} browser sessions of one page at once, map ready and server RSS per wave",
                 "columns": ["page", "wave", "sessions", "maps ready", "ready min (s)", "median (s)", "max (s)",
                             "map sent, median (s)", "RSS before (MB)", "RSS peak (MB)", "RSS after (MB)",
                             "server CPU (s)", "browser CPU (s)", "load 1/5/15 min"],
                 "rows": rows}],
        bars=bars, notes=notes, figures=figures)
