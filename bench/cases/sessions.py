"""Many officers at once: N real headless Chromium sessions of one page opened together; map ready time and server RSS
per wave.

For each page (``BENCH_SESSIONS_PAGES``, default ``flood,fire,data``) the app is started with
``streamlit run app.py`` (headless, 127.0.0.1, disconnected sessions dropped after 10 s) on a copy of
the benchmark workspace, and driven by headless Chromium (Debian's, through Playwright's async API),
one browser per session — each is its own app session:

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

Each session is its own Chromium (as each officer has their own browser), launched before the wave's clock
starts and run at niceness ``BENCH_SESSIONS_BROWSER_NICE`` (default 19; 0 turns it off), so that the
browsers, which in a command centre run on the officers' own PCs, yield the machine's CPU to the app server.
Two figures per session:

- **wall**: navigation to map ready, as the driver saw it: on this machine it includes the N browsers' own
  work (Streamlit's frontend, the map's frame, Leaflet drawing), 3 to 4.5 s of CPU each, on the server's cores;
- **fair** (the server's share judged fairly): the wall time minus the seconds the session's page thread (the
  main thread of its renderer processes, where Streamlit's frontend, the map frame's script and Leaflet run)
  stood ready to run but waiting for a CPU (Linux schedstat run-queue delay, read per session): what the
  session would take if its page had a CPU of its own, as on an officer's PC. The server's waits, the page's
  own CPU time and every other browser thread's waits stay in (conservative: the figure never credits more
  than the page thread's measured wait). The one-session reference is taken the same way.

**Bars:** the slowest of N cold sessions under 2× the one-session time, judged on the **fair** figure (the wall
ratio is reported beside it: with N browsers on the server's 2 cores it is bounded near 2 by the browsers'
own CPU alone, which is no property of the server); memory after the last wave within 15 % of memory after
the first N-session wave (bounded as sessions come and go).

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


def _r(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


def _median(values: list) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def _slowest(values: list) -> float | None:
    """The largest value, or None when any session has none (it did not finish)."""
    return None if not values or any(v is None for v in values) else max(values)


def _row(page: str, label: str, w, load: str) -> list:
    done = [s for s in w.ready_s if s is not None]
    return [page, label, w.sessions, len(done), round(min(done), 1) if done else None,
            _r(_median(w.ready_s)), round(max(done), 1) if done else None, _r(_median(w.frame_s)),
            _r(_median(w.cpu_wait_s)), _r(_slowest(w.fair_s)), _r(_median(w.own_cpu_s), 2),
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
    nice = int(os.environ.get("BENCH_SESSIONS_BROWSER_NICE", "19"))
    rows, bars, figures, notes, judged = [], [], {}, [], []
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
            single = session_wave(url + url_path, 1, chromium=ctx.chromium, pid=pid, timeout_s=limit,
                                  browser_nice=nice)
        rows.append(_row(page, "1 alone (cold)", single, load))
        ctx.log(f"  sessions: {page}: one alone {single.ready_s}")
        waves = []
        many = copy_workspace(ctx.workspace, ctx.tmp / f"{page}-many")
        with streamlit_app(app, many, log=logs / "many.log") as (url, pid):
            for i in range(1 + warm):
                load = _load()
                w = session_wave(url + url_path, n, chromium=ctx.chromium, pid=pid, timeout_s=limit,
                                 browser_nice=nice)
                waves.append(w)
                rows.append(_row(page, f"{n} at once ({'cold' if i == 0 else f'warm, wave {i + 1}'})", w, load))
                ctx.log(f"  sessions: {page}: wave {i + 1}: {[None if s is None else round(s, 1) for s in w.ready_s]}")
        t1, slowest = _slowest(single.ready_s), _slowest(waves[0].ready_s)
        ratio = None if t1 is None or slowest is None else slowest / t1
        f1, fair_slowest = _slowest(single.fair_s), _slowest(waves[0].fair_s)
        fair = None if f1 is None or fair_slowest is None else fair_slowest / f1
        judged.append([page, _r(t1), _r(slowest), _r(ratio, 2), _r(f1), _r(fair_slowest), _r(fair, 2)])
        bars.append(bar(f"{page}: slowest of {n} cold sessions / one session alone (fair: without the page "
                        "thread's wait for a CPU)", fair, 2.0, "×"))
        first, last = waves[0].rss_after_mb, waves[-1].rss_after_mb
        growth = None if first is None or last is None else last / first
        bars.append(bar(f"{page}: server memory after the last wave / after the first", growth, 1.15, "×"))
        outside = single.external + sum(w.external for w in waves)
        figures[page] = {"single_s": t1, "cold_s": waves[0].ready_s, "warm_s": [w.ready_s for w in waves[1:]],
                         "wall_ratio": ratio, "fair_ratio": fair, "single_fair_s": f1,
                         "fair_s": [w.fair_s for w in [single, *waves]],
                         "page_cpu_wait_s": [w.cpu_wait_s for w in [single, *waves]],
                         "session_browser_cpu_s": [w.own_cpu_s for w in [single, *waves]],
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
    notes.append(f"Browsers at niceness {nice} (BENCH_SESSIONS_BROWSER_NICE); one Chromium per session. The browser "
                 "CPU column (all browsers, reaped by the driver) includes the N browsers' launch, before the clock.")
    notes.append(f"App: {_commit(app)}" + ("" if app == ROOT else f" (BENCH_SESSIONS_APP={app})") + ".")
    return Report(
        tables=[{"title": f"sessions: {n} browser sessions of one page at once, map ready and server RSS per wave",
                 "columns": ["page", "wave", "sessions", "maps ready", "ready min (s)", "median (s)", "max (s)",
                             "map sent, median (s)", "page thread's CPU wait, median (s)", "fair max (s)",
                             "session's browser CPU, median (s)", "RSS before (MB)", "RSS peak (MB)",
                             "RSS after (MB)", "server CPU (s)", "browser CPU (s)", "load 1/5/15 min"],
                 "rows": rows},
                {"title": f"sessions: the {n}-session bar two ways: wall (the N browsers on the server's cores) and "
                          "fair (without the page thread's wait for a CPU; judged)",
                 "columns": ["page", "one alone, wall (s)", f"slowest of {n}, wall (s)", "wall ratio",
                             "one alone, fair (s)", f"slowest of {n}, fair (s)", "fair ratio (judged)"],
                 "rows": judged}],
        bars=bars, notes=notes, figures=figures)
