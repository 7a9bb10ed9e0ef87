"""Run benchmarks and append their figures to bench/RESULTS.md.

Usage::

    python -m bench.run --list
    python -m bench.run NAME [NAME ...] [--scale prefecture|county] [--no-append]
                        [--repeats N] [--seed N] [--regenerate] [--workspace DIR] [--results FILE]

The benchmark data is generated once per scale by ``data.generator.generate`` into
``bench/cache/<scale>/`` (``workspace.gpkg``, ``dem.tif`` and ``stamp.json``, which records the
scale and seed; the cache is reused while they match). ``--workspace DIR`` runs on an existing
workspace folder instead (its bars are judged only when ``--scale prefecture`` is also given).

Each run prints its section (markdown) and appends it to ``bench/RESULTS.md`` (or ``--results``)
unless ``--no-append``; the raw figures go to ``bench/cache/runs/<time>.json``. The exit status is
1 when a benchmark raised, else 0 (a missed bar is reported, not an error).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import inspect
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.harness import BENCH_DIR, ROOT, Context, Report, bars_table, discover, load_case, machine, markdown_table
from bench.latest import refresh as refresh_latest

CACHE_DIR = BENCH_DIR / "cache"
RESULTS = BENCH_DIR / "RESULTS.md"
SCALES = ("prefecture", "county")
FALLBACK_SEED = 1
RESULTS_HEADER = """# Benchmark results

Appended by `python -m bench.run` (see `bench/README.md`): one section per run, newest last.
Each section names the machine, the exact command, the data, the figures of ours and of the peer
measured in the same run, and the pass/fail against the bars. MB = 10^6 bytes.
"""


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _loadavg() -> str:
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def _generator_seed(generate: Callable) -> int:
    p = inspect.signature(generate).parameters.get("seed")
    return p.default if p is not None and p.default is not inspect.Parameter.empty else FALLBACK_SEED


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def ensure_data(scale: str, *, seed: int | None = None, cache_dir: Path = CACHE_DIR, regenerate: bool = False,
                log: Callable[[str], None] = _log) -> tuple[Path, dict]:
    """The cached benchmark workspace of ``scale``, generated when missing or stale.

    Parameters
    ----------
    scale : {'prefecture', 'county'}
        Passed to ``data.generator.generate``.
    seed : int, optional
        Generator seed; default the generator's own default.
    cache_dir : Path
        Parent of the ``<scale>/`` folders.
    regenerate : bool
        Generate again even when the cache matches.
    log : callable
        Progress printer.

    Returns
    -------
    folder : Path
        Holding ``workspace.gpkg``, ``dem.tif`` and ``stamp.json``.
    stamp : dict
        ``scale``, ``seed``, ``generated`` (UTC time), ``generate_s``, ``generator_sha256``, ``summary``.
    """
    from data.generator import generate

    seed = _generator_seed(generate) if seed is None else seed
    folder = cache_dir / scale
    stamp_path = folder / "stamp.json"
    generator_sha = _sha256(ROOT / "data" / "generator.py")
    if not regenerate and (folder / "workspace.gpkg").exists() and (folder / "dem.tif").exists() \
            and stamp_path.exists():
        try:
            stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stamp = {}
        if stamp.get("scale") == scale and stamp.get("seed") == seed:
            if stamp.get("generator_sha256") != generator_sha:
                log(f"note: data/generator.py changed since bench/cache/{scale} was made; reusing it "
                    "(--regenerate to make it again)")
            return folder, stamp
    partial = cache_dir / f".{scale}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    log(f"generating the {scale}-scale workspace (seed {seed}) into {folder} ...")
    t0 = time.perf_counter()
    summary = generate(partial, scale=scale, seed=seed)
    took = time.perf_counter() - t0
    log(f"generated in {took:.0f} s")
    stamp = {"scale": scale, "seed": seed, "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             "generate_s": round(took, 1), "generator_sha256": generator_sha,
             "summary": json.loads(json.dumps(summary, default=str).replace(str(partial), str(folder)))
             if summary is not None else None}
    (partial / "stamp.json").write_text(json.dumps(stamp, ensure_ascii=False, indent=1), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    return folder, stamp


def describe_data(folder: Path, stamp: dict | None) -> str:
    """One markdown line naming the workspace: where, how made, sizes, feature counts, DEM shape."""
    import pyogrio

    gpkg, dem = folder / "workspace.gpkg", folder / "dem.tif"
    try:
        where = f"`{folder.relative_to(ROOT)}`"
    except ValueError:
        where = f"`{folder}`"
    parts = [where]
    if stamp:
        parts.append(f"made by `data.generator.generate(scale={stamp['scale']!r}, seed={stamp['seed']})` "
                     f"in {stamp.get('generate_s', '?')} s on {stamp.get('generated', '?')}")
    counts = []
    for name, _ in pyogrio.list_layers(gpkg):
        try:
            counts.append(f"{name} {pyogrio.read_info(gpkg, layer=name)['features']:,}")
        except Exception:  # noqa: BLE001 - informational only
            counts.append(str(name))
    parts.append(f"workspace.gpkg {gpkg.stat().st_size / 1e6:.1f} MB ({', '.join(counts)})")
    if dem.exists():
        try:
            import rasterio

            with rasterio.open(dem) as src:
                unit = "deg" if src.crs is None or src.crs.is_geographic else src.crs.linear_units
                parts.append(f"dem.tif {dem.stat().st_size / 1e6:.1f} MB, {src.height:,} × {src.width:,} cells "
                             f"({abs(src.res[0]):.6g} × {abs(src.res[1]):.6g} {unit})")
        except Exception:  # noqa: BLE001 - informational only
            parts.append(f"dem.tif {dem.stat().st_size / 1e6:.1f} MB")
    return "; ".join(parts)


def section(*, names: Sequence[str], scale: str, command: str, data: str, reports: dict[str, Report],
            took: dict[str, float], errors: dict[str, str], when: dt.datetime | None = None,
            host: dict[str, str] | None = None, loads: dict[str, tuple[str, str]] | None = None) -> str:
    """The markdown section of one run.

    Parameters
    ----------
    names : sequence of str
        Benchmarks run, in order.
    scale : str
        Scale label.
    command : str
        The exact command line.
    data : str
        :func:`describe_data` line.
    reports : dict
        name -> Report of each benchmark that finished.
    took : dict
        name -> seconds the benchmark took.
    errors : dict
        name -> traceback of each benchmark that raised.
    when : datetime, optional
        Run time (default now, UTC).
    host : dict, optional
        :func:`bench.harness.machine` (default: this machine).
    loads : dict, optional
        name -> (1/5/15-min load averages when the benchmark started, when it ended): a run of several
        benchmarks can take an hour, over which the machine's load moves.
    """
    when = when or dt.datetime.now(dt.UTC)
    host = host or machine()
    lines = [f"## {when:%Y-%m-%d %H:%M} UTC — {', '.join(names)} ({scale} scale)", "",
             f"- Command: `{command}`",
             f"- Machine: {host['cpu']}, {host['cores']}, {host['ram']} RAM, {host['os']}",
             f"- Software: Python {host['python']}; {host['packages']}; browser: {host['browser']}",
             *([f"- Machine load: {host['load']}"] if host.get("load") else []),
             f"- Data: {data}", ""]
    all_bars = []
    for name in names:
        load = (loads or {}).get(name)
        lines.append(f"### {name} ({took.get(name, 0):.0f} s"
                     + (f"; load {load[0]} at start, {load[1]} at end)" if load else ")"))
        lines.append("")
        if name in errors:
            lines += ["**ERROR** — the benchmark raised:", "", "```", errors[name].rstrip(), "```", ""]
            continue
        rep = reports[name]
        for table in rep.get("tables", []):
            lines += [markdown_table(table), ""]
        if rep.get("bars"):
            lines += ["Bars:", "", bars_table(rep["bars"]), ""]
            all_bars += rep["bars"]
        for note in rep.get("notes", []):
            lines.append(f"- {note}")
        if rep.get("notes"):
            lines.append("")
    judged = [b for b in all_bars if b["passed"] is not None]
    if judged or errors:
        failed = [b["name"] for b in judged if not b["passed"]]
        verdict = (f"{len(judged) - len(failed)} of {len(judged)} bars passed"
                   + (f"; missed: {', '.join(failed)}" if failed else "")
                   + (f"; errors in: {', '.join(errors)}" if errors else ""))
        lines += [f"**Summary: {verdict}.**", ""]
    return "\n".join(lines) + "\n"


def append_results(text: str, path: Path = RESULTS) -> None:
    """Append a section to the results file (created with its header when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        path.write_text(RESULTS_HEADER + "\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (see --list)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--scale", choices=SCALES, default=None, help="data scale (default prefecture)")
    p.add_argument("--no-append", action="store_true", help="print the section but do not append it to RESULTS.md")
    p.add_argument("--repeats", type=int, default=3, help="repeats of cheap measurements, best of (default 3)")
    p.add_argument("--seed", type=int, default=None, help="generator seed (default: the generator's)")
    p.add_argument("--regenerate", action="store_true", help="generate the data again even when cached")
    p.add_argument("--workspace", type=Path, default=None,
                   help="run on this workspace folder (workspace.gpkg + dem.tif) instead of generated data")
    p.add_argument("--results", type=Path, default=RESULTS, help="results file to append to")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    known = discover()
    if args.list:
        width = max(map(len, known), default=0)
        for name, doc in known.items():
            print(f"{name:<{width}}  {doc}")
        return 0
    if not args.names:
        _parser().error("name at least one benchmark (or --list)")
    unknown = [n for n in args.names if n not in known]
    if unknown:
        _parser().error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.workspace is not None:
        folder, stamp = args.workspace.resolve(), None
        scale = args.scale or "custom"
        if not (folder / "workspace.gpkg").exists():
            _parser().error(f"{folder} has no workspace.gpkg")
    else:
        scale = args.scale or "prefecture"
        folder, stamp = ensure_data(scale, seed=args.seed, regenerate=args.regenerate)
    command = "python -m bench.run " + shlex.join(argv)
    load_start = _loadavg()
    reports: dict[str, Report] = {}
    errors: dict[str, str] = {}
    took: dict[str, float] = {}
    loads: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for name in args.names:
            _log(f"[{name}] running ({scale} scale, {args.repeats} repeat(s))")
            ctx = Context(workspace=folder, scale=scale, repeats=max(1, args.repeats), tmp=Path(tmp) / name)
            ctx.tmp.mkdir(parents=True)
            t0, load_before = time.perf_counter(), _loadavg()
            try:
                reports[name] = load_case(name)(ctx)
            except Exception:  # noqa: BLE001 - reported in the section; the other benchmarks still run
                errors[name] = traceback.format_exc()
                _log(errors[name])
            took[name] = time.perf_counter() - t0
            loads[name] = (load_before, _loadavg())
            _log(f"[{name}] done in {took[name]:.0f} s")
    when = dt.datetime.now(dt.UTC)
    host = machine()
    host["load"] = f"{load_start} at start, {_loadavg()} at end (1/5/15-min load averages; {host['cores']})"
    text = section(names=args.names, scale=scale, command=command, data=describe_data(folder, stamp),
                   reports=reports, took=took, errors=errors, when=when, host=host, loads=loads)
    print(text)
    if not args.no_append:
        append_results(text, args.results)
        refresh_latest(args.results)
        _log(f"appended to {args.results} (latest figures at its top rebuilt)")
    runs = CACHE_DIR / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        (runs / f"{when:%Y%m%dT%H%M%S}-{'-'.join(args.names)}.json").write_text(json.dumps(
            {"command": command, "scale": scale, "workspace": str(folder), "took": took, "errors": errors,
             "reports": reports}, default=str, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError:
        pass
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
