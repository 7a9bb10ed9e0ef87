"""The benchmark harness: discovery, one benchmark end to end on a tiny synthetic workspace, the report.

The workspace is built here (not by the generator) so the test stays fast; the Chromium part is
skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, box

from bench.harness import CHROMIUM, ROOT, discover
from bench.run import append_results, main, section
from layers.raster import Raster, write_raster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def tiny_workspace(tmp_path_factory) -> Path:
    """A workspace folder with every vector layer (a few features each) and a 60 x 60 DEM, EPSG:4490."""
    folder = tmp_path_factory.mktemp("tiny_ws")
    gpkg = folder / "workspace.gpkg"
    x0, y0 = 119.60, 28.40
    pts = [Point(x0 + 0.01 * i, y0 + 0.007 * i) for i in range(1, 5)]
    layers = {
        "villages": gpd.GeoDataFrame({"name": ["上坪村", "下坪村", "中村", "岭头村"], "township": ["城关镇"] * 4,
                                      "population": [120, 80, 300, 45], "households": [40, 25, 96, 15],
                                      "vulnerable": [6, 3, 20, 2]}, geometry=pts, crs=4490),
        "grids": gpd.GeoDataFrame(
            {"grid_id": [f"G{i}" for i in range(6)],
             "level": ["county", "township", "village", "village", "group", "household"],
             "name": ["县", "城关镇", "上坪村", "下坪村", "一组", "联户一"],
             "responsible": ["张三"] * 6, "phone": ["13800000000"] * 6, "population": [900, 500, 120, 80, 40, 12]},
            geometry=[box(x0, y0, x0 + 0.05, y0 + 0.05), box(x0, y0, x0 + 0.04, y0 + 0.04),
                      box(x0, y0, x0 + 0.02, y0 + 0.02), box(x0 + 0.02, y0, x0 + 0.04, y0 + 0.02),
                      box(x0, y0, x0 + 0.01, y0 + 0.01), box(x0, y0, x0 + 0.005, y0 + 0.005)], crs=4490),
        "shelters": gpd.GeoDataFrame({"name": ["城关小学", "村委会"], "type": ["school", "village_hall"],
                                      "capacity": [300, 80]}, geometry=pts[:2], crs=4490),
        "water_sources": gpd.GeoDataFrame({"name": ["一号坝塘", "水窖"], "type": ["pond", "cistern"],
                                           "volume": [500.0, 30.0]}, geometry=pts[2:], crs=4490),
        "cameras": gpd.GeoDataFrame({"name": ["瞭望台"], "type": ["lookout"], "height": [20.0], "range": [5000.0]},
                                    geometry=pts[:1], crs=4490),
        "roads": gpd.GeoDataFrame({"name": ["县道"], "road_class": ["county"]},
                                  geometry=[LineString([(x0, y0), (x0 + 0.05, y0 + 0.04)])], crs=4490),
        "rivers": gpd.GeoDataFrame({"name": ["小溪"]},
                                   geometry=[LineString([(x0, y0 + 0.03), (x0 + 0.05, y0 + 0.02)])], crs=4490),
        "forest": gpd.GeoDataFrame({"forest_type": ["conifer"], "compartment": ["001"]},
                                   geometry=[box(x0 + 0.03, y0 + 0.03, x0 + 0.05, y0 + 0.05)], crs=4490),
    }
    for kind, gdf in layers.items():
        gdf.to_file(gpkg, layer=kind, driver="GPKG")
    yy, xx = np.mgrid[0:60, 0:60]
    z = (400 + 300 * np.exp(-((xx - 30) ** 2 + (yy - 30) ** 2) / 300.0)).astype("float32")
    write_raster(Raster(z, Affine(0.001, 0, x0, 0, -0.001, y0 + 0.06), "EPSG:4490", None), folder / "dem.tif")
    return folder


def test_discovery_lists_the_benchmarks(capsys):
    found = discover()
    assert {"load_layers", "data_map"} <= set(found)
    assert all(found[n] for n in ("load_layers", "data_map"))  # each has a one-line description
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "load_layers" in out and "data_map" in out


def test_unknown_benchmark_is_refused():
    with pytest.raises(SystemExit):
        main(["no_such_benchmark", "--no-append"])


def test_load_layers_appends_a_section_with_the_figures(tiny_workspace, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    rc = main(["load_layers", "--workspace", str(tiny_workspace), "--results", str(results), "--repeats", "1"])
    assert rc == 0
    text = results.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results")
    assert "## " in text and "load_layers (custom scale)" in text
    assert "- Command: `python -m bench.run load_layers --workspace" in text
    assert "- Machine: " in text and "RAM" in text and "- Software: Python " in text
    # one row per layer with its feature count, and a bar line that is not judged at this scale
    for kind, n in {"grids": 6, "villages": 4, "shelters": 2, "water_sources": 2, "cameras": 1, "roads": 1,
                    "rivers": 1, "forest": 1}.items():
        assert re.search(rf"\| `{kind}` \| {n} \| [0-9.e-]+ \|", text), kind
    assert "`grids` load + validate (ours, best)" in text and "not judged" in text
    assert "**ERROR**" not in text
    out = capsys.readouterr().out  # the section is printed too
    assert "### load_layers" in out and "`grids` load + validate (ours, best)" in out


def test_a_second_run_appends(tmp_path):
    results = tmp_path / "RESULTS.md"
    for i in range(2):
        append_results(f"## run {i}\n\n### load_layers (1 s)\n", results)
    text = results.read_text(encoding="utf-8")
    assert text.count("# Benchmark results") == 1 and text.count("### load_layers") == 2
    assert text.index("## run 0") < text.index("## run 1")


def test_no_append_leaves_the_file_alone(tiny_workspace, tmp_path):
    results = tmp_path / "RESULTS.md"
    assert main(["load_layers", "--workspace", str(tiny_workspace), "--results", str(results), "--repeats", "1",
                 "--no-append"]) == 0
    assert not results.exists()


def test_section_judges_bars_and_reports_errors():
    rep = {"tables": [{"title": "t", "columns": ["a", "b"], "rows": [["x", 1.5]]}],
           "bars": [{"name": "fast", "measured": 2.0, "limit": 5.0, "unit": "s", "passed": True},
                    {"name": "small", "measured": 20.0, "limit": 15.0, "unit": "MB", "passed": False}],
           "notes": ["a note"]}
    host = {"cpu": "CPU", "cores": "2", "ram": "1 GiB", "os": "Linux", "python": "3", "packages": "p",
            "browser": "b"}
    text = section(names=["one", "two"], scale="prefecture", command="python -m bench.run one two", data="d",
                   reports={"one": rep}, took={"one": 1.0, "two": 2.0}, errors={"two": "Traceback: boom"}, host=host)
    assert "| fast | 2 s | < 5 s | **PASS** |" in text
    assert "| small | 20 MB | < 15 MB | **FAIL** |" in text
    assert "**ERROR**" in text and "boom" in text
    assert "1 of 2 bars passed; missed: small; errors in: two" in text


def _bench_section(when: str, name: str, bars: list, data_mb: str = "70.9", load: str | None = None) -> str:
    rep = {"bars": [{"name": n, "measured": m, "limit": lim, "unit": "s", "passed": m < lim} for n, m, lim in bars]}
    host = {"cpu": "CPU", "cores": "2", "ram": "1 GiB", "os": "Linux", "python": "3", "packages": "p",
            "browser": "b", "load": "0.50/0.60/0.70 at start, 1.00/0.80/0.70 at end (1/5/15-min load averages; 2)"}
    return section(names=[name], scale="prefecture", command=f"python -m bench.run {name}",
                   data=f"`bench/cache/prefecture`; workspace.gpkg {data_mb} MB", reports={name: rep},
                   took={name: 1.0}, errors={}, host=host, when=dt.datetime.fromisoformat(when + "+00:00"),
                   loads={name: (load, "9.00/9.00/9.00")} if load else None)


def test_latest_figures_block_lists_the_newest_run_of_each_benchmark(tmp_path):
    from bench.latest import END, START, refresh

    results = tmp_path / "RESULTS.md"
    # appended out of date order (as merges of two logs do): the newest by date wins, not the last in the file
    append_results(_bench_section("2026-12-07 10:00", "viewshed", [("union wall", 3.3, 5.0)]), results)
    append_results(_bench_section("2026-11-23 02:00", "viewshed", [("union wall", 19.2, 5.0)], "45.3"), results)
    append_results(_bench_section("2026-11-23 02:00", "siting", [("gaps", 40.6, 20.0)], "45.3"), results)
    append_results("## 2026-12-07 11:00 UTC — viewshed: a probe by hand\n\n- no bars here\n", results)
    assert refresh(results)
    text = results.read_text(encoding="utf-8")
    top = text[text.index(START):text.index(END)]
    assert text.index(START) < text.index("## 2026-12-07 10:00 UTC")   # at the top, above the log
    assert "| viewshed (prefecture) | 2026-12-07 10:00 | 0.50/0.60/0.70 | 70.9 MB | union wall | 3.3 s | < 5 s |" \
        " **PASS** |" in top
    assert "19.2" not in top   # the older run is superseded
    assert "| siting (prefecture) | 2026-11-23 02:00 | 0.50/0.60/0.70 | 45.3 MB | gaps | 40.6 s | < 20 s |" \
        " **FAIL** |" in top
    assert "- viewshed (prefecture): `python -m bench.run viewshed`" in top
    assert not refresh(results)   # rebuilt from the same log: unchanged, and one block only
    assert text.count(START) == 1
    # a benchmark's own load (recorded per part: a run of several can take an hour) is the one shown
    append_results(_bench_section("2026-12-07 12:00", "siting", [("gaps", 9.5, 20.0)], load="3.25/2.00/1.00"),
                   results)
    refresh(results)
    top = results.read_text(encoding="utf-8").split(END)[0]
    assert "| siting (prefecture) | 2026-12-07 12:00 | 3.25/2.00/1.00 | 70.9 MB | gaps | 9.5 s | < 20 s |" in top
    assert "40.6" not in top


def _page_figures(results: Path, best: str) -> str:
    """The section's text, once its page figures are checked: bytes sent and first render for both sides,
    and no request of ours left localhost (a judged bar even at this scale)."""
    text = results.read_text(encoding="utf-8")
    assert "**ERROR**" not in text, text
    m = re.search(r"\| \*\*bytes sent\*\* \([^|]*JSON-escaped, MB\) \| ([0-9.e-]+) \| ([0-9.e-]+) \|", text)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0
    m = re.search(rf"\| \*\*first render\*\* \(ms, {best}\) \| ([0-9.,]+) \| ([0-9.,]+) \|", text)
    assert m, text
    assert 0 < float(m.group(1).replace(",", "")) < 60_000
    assert "| ours: requests to non-localhost hosts | 0 requests | < 1 requests | **PASS** |" in text
    return text


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed at /usr/bin/chromium")
def test_data_map_renders_offline_and_reports_bytes_and_time(tiny_workspace, tmp_path):
    results = tmp_path / "RESULTS.md"
    assert main(["data_map", "--workspace", str(tiny_workspace), "--results", str(results), "--repeats", "1"]) == 0
    text = _page_figures(results, "best of runs")
    # the per-layer split names our layers as the layer control does
    assert "data_map: ours, bytes per layer" in text and "避灾安置场所" in text


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed at /usr/bin/chromium")
def test_fire_map_times_the_review_and_both_pages(tiny_workspace, tmp_path):
    results = tmp_path / "RESULTS.md"
    assert main(["fire_map", "--workspace", str(tiny_workspace), "--results", str(results), "--repeats", "1"]) == 0
    text = _page_figures(results, "best")
    # each review step is timed
    for step in ("risk_step", "camera_step", "reach_step", "gap_step"):
        assert re.search(rf"\| review: `{step}`[^|]* \| [0-9.]+ \| same \|", text), step
    # the per-layer split names the page's images and vector layers as its layer control does
    assert "image: 森林火险等级（静态）" in text and "vector: 视频监控" in text


def test_startup_imports_are_the_first_pages():
    """The start-up bench imports what app.py imports plus the first page's module, and finds streamlit among the
    heavy packages (its own modules' time, in a fresh process)."""
    from bench.cases.startup import FIRST_PAGE, app_imports, import_times

    script = app_imports(ROOT)
    assert "import streamlit as st" in script and script.endswith(f"import {FIRST_PAGE}")
    total, cpu, modules, heavy = import_times(ROOT, "import json\nimport streamlit")
    assert total > 0 and cpu > 0 and modules > 100
    assert heavy.get("streamlit", 0) > 0 and "ortools" not in heavy


@pytest.mark.browser
@pytest.mark.timeout(600)
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed at /usr/bin/chromium")
def test_startup_times_launch_to_the_first_page(demo_workspace, tmp_path):
    """On the demo county (the Flood page needs a whole workspace to draw its map)."""
    results = tmp_path / "RESULTS.md"
    assert main(["startup", "--workspace", str(demo_workspace), "--results", str(results), "--repeats", "1"]) == 0
    text = results.read_text(encoding="utf-8")
    assert "**ERROR**" not in text, text
    up = re.search(r"\| server up \(launch to /_stcore/health\) \| ([0-9.,]+) \|", text)
    first = re.search(r"\| \*\*launch to the first page's map\*\* \| ([0-9.,]+) \|", text)
    assert up and first, text
    assert 0 < float(up.group(1)) < float(first.group(1).replace(",", ""))


def test_sessions_fair_figure_is_the_wall_time_without_the_page_threads_wait():
    """The sessions bench judges the 8-session bar on the map-ready time minus the page thread's run-queue wait."""
    from bench.browser import Wave
    from bench.cases.sessions import _slowest

    w = Wave(sessions=3, ready_s=[10.0, 12.5, None], cpu_wait_s=[4.0, 0.5, 1.0])
    assert w.fair_s == [6.0, 12.0, None]
    assert _slowest(w.fair_s) is None                 # a session that never drew its map fails the wave
    assert _slowest(w.fair_s[:2]) == 12.0


def test_sessions_process_accounting_reads_proc(tmp_path):
    """Per-session browser accounting from /proc: the process tree, its CPU, renderers' waits, the niced launcher."""
    import os
    import subprocess
    import sys

    from bench.browser import _launcher, descendants, renderer_waits_s, tree_cpu_s

    child = subprocess.Popen([sys.executable, "-c", "import time; sum(range(3_000_000)); time.sleep(30)"])
    try:
        import time

        time.sleep(1.0)
        assert child.pid in descendants(os.getpid())
        assert tree_cpu_s([child.pid]) > 0
        assert renderer_waits_s([child.pid]) == {}        # not a browser renderer
    finally:
        child.kill()
        child.wait()
    chromium = Path("/usr/bin/chromium")
    assert _launcher(chromium, 0, tmp_path) == chromium
    script = _launcher(chromium, 19, tmp_path)
    assert script.read_text().splitlines()[1] == f'exec nice -n 19 "{chromium}" "$@"' and os.access(script, os.X_OK)
