"""App start-up: ``streamlit run app.py`` from launch to the first page's map drawn in headless Chromium, and the
import cost of what ``app.py`` pulls in.

1. **Imports**: a fresh ``python -X importtime`` process runs the import statements of ``app.py`` and imports the
   first page's module (``ui.page_flood``): what the script's first run imports before it can draw the Flood page
   (in an ``app.py`` that imports every page, every page's imports). The table gives their total and the heavy
   packages among them (the own time of each package's modules, summed). Best of ``ctx.repeats`` processes.
2. **Launch to first page**: ``streamlit run app.py`` (headless, 127.0.0.1) on a copy of the workspace; the clock
   starts at the launch. *Server up* is when ``/_stcore/health`` answers; then one Chromium session opens ``/`` (the
   Flood page) and *first page* is when its streamlit-folium map has drawn (Leaflet's container holds a vector
   canvas or a loaded image): the script's first run, imports included, happens in this step. A second session on
   the same server (*second visit*) shows the page's own work without the first run's imports. The
   1/5/15-minute load average is recorded beside the figures.

**Bars:** launch to the first page's map under 60 s (the Flood page plans the default scenario on the demo county
on its first run); the imports for the first page under 8 s (on the shared 2-core machine).

Run: ``python -m bench.run startup --scale county`` (the demo county). ``BENCH_STARTUP_APP=/path/to/other/checkout``
runs that checkout's app instead (a before/after comparison on the same machine and data). A page whose map has not
drawn after ``BENCH_STARTUP_TIMEOUT`` seconds (default 300) counts as failed.
"""

from __future__ import annotations

import ast
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import ROOT, Context, Report, bar, copy_workspace

#: packages reported by name when the app's imports pull them in (self time of their modules, summed)
HEAVY = ("streamlit", "streamlit_folium", "folium", "branca", "pandas", "pyarrow", "geopandas", "rasterio", "boto3",
         "botocore", "pyproj", "shapely", "numpy", "scipy", "numba", "llvmlite", "ortools", "matplotlib", "PIL",
         "openpyxl", "pyflwdir", "pypdf", "psycopg", "networkx")


#: the module of the page ``/`` opens
FIRST_PAGE = "ui.page_flood"


def app_imports(app: Path) -> str:
    """The import statements of ``app.py`` (top level) and the first page's module, as one script."""
    tree = ast.parse((app / "app.py").read_text(encoding="utf-8"))
    lines = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join([*lines, f"import {FIRST_PAGE}"])


def import_times(app: Path, script: str) -> tuple[float, float, int, dict[str, float]]:
    """Run ``script`` in a fresh ``python -X importtime`` process in ``app``.

    Returns the total (seconds, the top-level imports' cumulative times summed), the process's CPU time (user +
    system, seconds: less moved by other work on the machine than the wall clock), the number of modules
    imported (not moved by it at all) and, for each package of
    :data:`HEAVY` that was imported, the self time of its modules summed (the package and its submodules: what
    importing it cost wherever it was first asked for).
    """
    env = dict(os.environ, PYTHONPATH=str(app))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", script], cwd=app, env=env, capture_output=True,
                         text=True, timeout=600).stderr
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    total = 0.0
    modules = 0
    heavy: dict[str, float] = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        own, cum, depth, name = int(m[1]) / 1e6, int(m[2]) / 1e6, len(m[3]) - 1, m[4]
        modules += 1
        if depth == 0:
            total += cum
        for pkg in HEAVY:
            if name == pkg or name.startswith(pkg + "."):
                heavy[pkg] = heavy.get(pkg, 0.0) + own
    return total, cpu, modules, heavy



def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def run(ctx: Context) -> Report:
    """Time the app's imports and its launch to the first page; see the module docstring."""
    from bench.browser import session_wave, streamlit_app

    app = Path(os.environ.get("BENCH_STARTUP_APP") or ROOT)
    limit = float(os.environ.get("BENCH_STARTUP_TIMEOUT", "300"))
    script = app_imports(app)
    runs = []
    for i in range(max(1, ctx.repeats)):
        load = _load()
        total, cpu, modules, heavy = import_times(app, script)
        runs.append((total, cpu, heavy, load, modules))
        ctx.log(f"  startup: imports, run {i + 1}: {total:.2f} s, CPU {cpu:.2f} s (load {load})")
    total, cpu, heavy, imp_load, modules = min(runs, key=lambda r: r[0])
    rows = [["imports of app.py and the first page (total)", round(total, 2), imp_load],
             ["· the importing process's CPU time (best run)", round(min(r[1] for r in runs), 2), ""],
             ["· modules imported (count)", modules, ""]]
    rows += [[f"· {name} (its modules' own time)", round(s, 2), ""] for name, s in
             sorted(heavy.items(), key=lambda kv: -kv[1]) if s >= 0.005]
    absent = [n for n in ("numba", "llvmlite", "ortools", "scipy", "matplotlib", "pyflwdir", "openpyxl", "pypdf")
              if n not in heavy]
    figures: dict = {"imports_s": total, "imports_all_s": [r[0] for r in runs], "imports_cpu_s": [r[1] for r in runs],
                     "modules": modules,
                     "heavy_s": heavy,
                     "not_imported": absent}
    bars = [bar("imports of app.py and the first page", total, 8.0, "s")]
    launch_rows = []
    if ctx.chromium is None:
        bars.append(bar("Chromium present", None, 1, ""))
    else:
        logs = ctx.tmp / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        ws = copy_workspace(ctx.workspace, ctx.tmp / "ws")
        load0 = _load()
        t0 = time.perf_counter()
        with streamlit_app(app, ws, log=logs / "streamlit.log", timeout_s=300) as (url, pid):
            up = time.perf_counter() - t0
            first = session_wave(url + "/", 1, chromium=ctx.chromium, pid=pid, timeout_s=limit, settle_s=0)
            second = (session_wave(url + "/", 1, chromium=ctx.chromium, pid=pid, timeout_s=limit, settle_s=0)
                      if first.ready_s and first.ready_s[0] is not None else first)
        load1 = _load()
        ready = first.ready_s[0] if first.ready_s else None
        again = second.ready_s[0] if second.ready_s else None
        launch = None if ready is None else up + ready
        launch_rows = [["server up (launch to /_stcore/health)", round(up, 2), load0],
                       ["first page: navigation to the map drawn (first run of app.py)",
                        None if ready is None else round(ready, 2), ""],
                       ["**launch to the first page's map**", None if launch is None else round(launch, 2), load1],
                       ["second visit: navigation to the map drawn (same server)",
                        None if again is None else round(again, 2), ""]]
        figures.update(server_up_s=up, first_page_s=ready, launch_to_map_s=launch, second_visit_s=again,
                       rss_mb=first.rss_after_mb or second.rss_after_mb,
                       external_requests=first.external + (second.external if second is not first else 0),
                       page_errors=sorted(set(first.errors + second.errors))[:5])
        bars.append(bar("launch to the first page's map", launch, 60.0, "s"))
        shutil.rmtree(ws, ignore_errors=True)
    notes = [" ".join(__doc__.split("\n\n", 1)[1].split("\n\n**Bars")[0].split()),
             "Heavy packages not imported for the first page: " + (", ".join(absent) if absent else "none") + ".",
             "The machine may be shared with other work: compare runs by their load averages (last column).",
             f"App: {app}" + ("" if app == ROOT else " (BENCH_STARTUP_APP)") + "."]
    return Report(
        tables=[{"title": "startup: imports of app.py and the first page (fresh process, best run)",
                 "columns": ["measure", "s", "load 1/5/15 min"], "rows": rows},
                {"title": "startup: streamlit run app.py to the first page (Flood, demo county) in Chromium",
                 "columns": ["measure", "s", "load 1/5/15 min"], "rows": launch_rows}],
        bars=bars, notes=notes, figures=figures)
