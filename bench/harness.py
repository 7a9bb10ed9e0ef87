"""What every benchmark shares: the run context, timers, isolated peak-memory runs, reports.

A benchmark is a module ``bench/cases/NAME.py`` exposing ``run(ctx: Context) -> dict`` (see
:class:`Report` for the dict it returns) and a module docstring whose first line describes it.
:func:`discover` finds them; :mod:`bench.run` runs them and appends the report to RESULTS.md.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CHROMIUM = Path("/usr/bin/chromium")
MB = 1_000_000  #: a megabyte in the reports: 10^6 bytes


# ---- reports -------------------------------------------------------------------------------------------------
class Table(TypedDict):
    """A table in a report: ``title``, ``columns`` and ``rows`` (cells already formatted or numbers)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


class Bar(TypedDict):
    """A pass/fail bar: ``name``, ``measured``, ``limit``, ``unit``, ``passed`` (None when not judged)."""

    name: str
    measured: float | None
    limit: float
    unit: str
    passed: bool | None


class Report(TypedDict, total=False):
    """What a benchmark's ``run(ctx)`` returns.

    Keys
    ----
    tables : list of Table
        The figures, as markdown tables.
    bars : list of Bar
        The bars the benchmark is judged against.
    notes : list of str
        How it was measured, caveats, what dominates.
    figures : dict
        The key numbers by name, machine-readable (also kept in the JSON log).
    """

    tables: list[Table]
    bars: list[Bar]
    notes: list[str]
    figures: dict[str, Any]


def bar(name: str, measured: float | None, limit: float, unit: str, *, judged: bool = True) -> Bar:
    """A "below ``limit``" bar; ``judged=False`` (e.g. not at the scale the bar is for) leaves it unjudged."""
    passed = None if (not judged or measured is None) else bool(measured < limit)
    if judged and measured is None:
        passed = False
    return Bar(name=name, measured=measured, limit=limit, unit=unit, passed=passed)


def fmt(v: Any, digits: int = 3) -> str:
    """A cell: floats to ``digits`` significant figures (thousands separated), ints with separators."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:  # NaN
            return "—"
        if abs(v) >= 10 ** digits:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def markdown_table(table: Table) -> str:
    """A :class:`Table` as GitHub markdown (title in bold above it)."""
    cols = table["columns"]
    lines = []
    if table.get("title"):
        lines += [f"**{table['title']}**", ""]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(cols))) + " |")
    for row in table["rows"]:
        lines.append("| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def bars_table(bars: list[Bar]) -> str:
    """The bars as a markdown table with PASS / FAIL / not judged."""
    t = Table(title="", columns=["bar", "measured", "limit", "result"], rows=[])
    for b in bars:
        result = {True: "**PASS**", False: "**FAIL**", None: "not judged (bar is for prefecture scale)"}[b["passed"]]
        t["rows"].append([b["name"], f"{fmt(b['measured'])} {b['unit']}", f"< {fmt(b['limit'])} {b['unit']}", result])
    return markdown_table(t)


# ---- timing --------------------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Wall-clock times of repeated calls.

    Attributes
    ----------
    times : list of float
        Seconds per call.
    result : object
        What the last call returned.
    cpu : list of float
        CPU seconds of this process per call (all its threads), beside ``times``.
    """

    times: list[float]
    result: Any = None
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """Fastest call, seconds."""
        return min(self.times)

    @property
    def median(self) -> float:
        """Median call, seconds."""
        s = sorted(self.times)
        n = len(s)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def timed(fn: Callable[[], Any], *, repeats: int = 1) -> Timing:
    """Call ``fn`` ``repeats`` times, timing each call with ``time.perf_counter``.

    Parameters
    ----------
    fn : callable
        No arguments; its last result is kept.
    repeats : int
        Number of calls (report ``best``: the least disturbed one).
    """
    times, cpu, result = [], [], None
    for _ in range(max(1, repeats)):
        result = None  # drop the previous result before the next call, so two are never alive at once
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return Timing(times, result, cpu)


def run_isolated(func: str, /, *, timeout: float = 1800, **kwargs: Any) -> dict:
    """Call ``module:function(**kwargs)`` in a fresh Python process and return its result with peak memory.

    The child imports the module, calls its ``_isolated_setup()`` if it has one (imports the
    measured code needs), records its resident set size (the baseline: interpreter and imports), calls the function
    and prints its JSON result with the process's peak RSS, so the difference is what the call itself needed.

    Parameters
    ----------
    func : str
        ``"package.module:function"``; the function takes JSON-able keyword arguments and returns a
        JSON-able dict.
    timeout : float
        Seconds before the child is killed.
    **kwargs
        Passed to the function (JSON round-tripped).

    Returns
    -------
    dict
        The function's result plus ``peak_rss_mb`` (the process's peak RSS, ``VmHWM``: unless the
        function reset it, the whole process's), ``baseline_rss_mb`` (RSS after imports) and
        ``wall_s`` (the call alone).
    """
    module, name = func.split(":")
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across fork + exec
    code = (
        "import json, sys, time, importlib\n"
        "from bench.harness import rss_mb, peak_rss_since_reset_mb\n"
        f"mod = importlib.import_module({module!r})\n"
        "getattr(mod, '_isolated_setup', lambda: None)()\n"
        f"fn = getattr(mod, {name!r})\n"
        "base = rss_mb()\n"
        "kw = json.loads(sys.stdin.read())\n"
        "t0 = time.perf_counter()\n"
        "out = fn(**kw)\n"
        "wall = time.perf_counter() - t0\n"
        "out.update(peak_rss_mb=peak_rss_since_reset_mb(), baseline_rss_mb=base, wall_s=wall)\n"
        "print('@@BENCH@@' + json.dumps(out))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(kwargs), capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("@@BENCH@@"):
            return json.loads(line[len("@@BENCH@@"):])
    raise RuntimeError(f"{func} failed in a child process (exit {proc.returncode}):\n{proc.stderr[-4000:]}")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (``ru_maxrss``; includes a parent's peak before exec)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    """Current resident set size of this process, MB (Linux), else None."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024 / MB


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``), so RSS drops."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to the current RSS; False when the OS does not allow it.

    Linux resets it on writing ``5`` to ``/proc/self/clear_refs``, so one process can measure the
    peak of several steps in turn.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_rss_since_reset_mb() -> float | None:
    """Peak RSS (``VmHWM``) since the last :func:`reset_peak_rss`, MB (Linux), else None."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb * 1024 / MB


# ---- the context ---------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What a benchmark gets.

    Attributes
    ----------
    workspace : Path
        Folder holding ``workspace.gpkg`` (vector layers, EPSG:4490) and ``dem.tif``.
    scale : str
        ``prefecture``, ``county``, or a label for a workspace given by path.
    repeats : int
        Repeats for cheap measurements (best of).
    tmp : Path
        Scratch folder, removed after the run.
    chromium : Path or None
        Chromium executable, None when absent (browser measurements are then skipped).
    log : callable
        Progress printer (stderr).
    """

    workspace: Path
    scale: str
    repeats: int
    tmp: Path
    chromium: Path | None = CHROMIUM if CHROMIUM.exists() else None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))

    @property
    def gpkg(self) -> Path:
        """The workspace GeoPackage."""
        return self.workspace / "workspace.gpkg"

    @property
    def dem(self) -> Path:
        """The workspace DEM."""
        return self.workspace / "dem.tif"

    @property
    def at_prefecture(self) -> bool:
        """True when the bars (set for prefecture scale) are judged."""
        return self.scale == "prefecture"

    def vector_layers(self) -> list[str]:
        """Layer names in the GeoPackage, in file order."""
        import pyogrio

        return [str(n) for n, _ in pyogrio.list_layers(self.gpkg)]

    def timed(self, fn: Callable[[], Any], *, repeats: int | None = None) -> Timing:
        """:func:`timed` with the run's default repeats."""
        return timed(fn, repeats=self.repeats if repeats is None else repeats)

    def isolated(self, func: str, /, *, timeout: float = 1800, **kwargs: Any) -> dict:
        """:func:`run_isolated`."""
        return run_isolated(func, timeout=timeout, **kwargs)


# ---- discovery -----------------------------------------------------------------------------------------------
def discover() -> dict[str, str]:
    """Benchmarks under ``bench/cases``: name -> first line of the module docstring."""
    import bench.cases

    out = {}
    for info in sorted(pkgutil.iter_modules(bench.cases.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"bench.cases.{info.name}")
        if callable(getattr(mod, "run", None)):
            out[info.name] = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
    return out


def load_case(name: str) -> Callable[[Context], Report]:
    """The ``run`` function of benchmark ``name``.

    Raises
    ------
    KeyError
        With the known names, when there is no such benchmark.
    """
    known = discover()
    if name not in known:
        raise KeyError(f"no benchmark {name!r}; known: {', '.join(known) or '(none)'}")
    return importlib.import_module(f"bench.cases.{name}").run


# ---- the machine ---------------------------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def chromium_version(path: Path | None = CHROMIUM) -> str | None:
    """``Chromium 1xx.x.x.x`` from ``--version``, or None when absent."""
    if path is None or not Path(path).exists():
        return None
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.strip().splitlines()[-1] if out.strip() else None


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, OS, Python and key package versions."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    packages = []
    for dist in ("geopandas", "pyogrio", "shapely", "pyproj", "rasterio", "numpy", "pandas", "pyarrow", "folium",
                 "branca", "streamlit-folium", "playwright"):
        v = _version(dist)
        if v:
            packages.append(f"{dist} {v}")
    try:
        import pyogrio

        packages.append(f"GDAL {pyogrio.__gdal_version_string__}")
    except Exception:  # noqa: BLE001 - informational only
        pass
    return {
        "cpu": cpu,
        "cores": f"{usable} cores usable ({os.cpu_count()} logical CPUs)",
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(packages),
        "browser": chromium_version() or "none",
    }


def copy_workspace(workspace: Path, to: Path) -> Path:
    """A copy of the workspace the app may write to (snapshots); the DEM and other rasters are hard-linked
    (never written), copied where a link is not possible."""
    import os
    import shutil

    to.mkdir(parents=True)
    shutil.copy2(workspace / "workspace.gpkg", to / "workspace.gpkg")
    for tif in workspace.glob("*.tif"):
        try:
            os.link(tif, to / tif.name)
        except OSError:
            shutil.copy2(tif, to / tif.name)
    return to
