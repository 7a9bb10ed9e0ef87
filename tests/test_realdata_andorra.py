"""End to end on a real mountain county: SRTM elevation and OpenStreetMap layers of Andorra.

The data live in ``../shared/realdata/andorra/`` beside the project (see its README); they are not part of
the project and these tests skip when the folder is absent, as on a user's machine. The same county is
planned twice, once with its DEM in degrees as it comes (EPSG:4326) and once reprojected to UTM 30 m: the
plans must agree; no route is a straight line; every walking leg costs what its climb says; households
add up; English outputs carry no Chinese sentence.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "realdata" / "andorra"
pytestmark = pytest.mark.skipif(not (DATA / "layers").is_dir(),
                                reason=f"real data not found at {DATA} (only on the project's test machines)")
LAYERS = ("villages", "grids", "shelters", "water_sources", "cameras", "roads", "rivers", "forest")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def _file(kind: str) -> Path:
    return next((DATA / "layers").glob(f"{kind}.*"))


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory) -> dict[str, Path]:
    """Two workspaces built as a user would, with ``python -m gis import``: DEM in degrees, and in UTM metres."""
    from gis.cli import main

    out = {}
    for v in ("ll", "utm"):
        folder = tmp_path_factory.mktemp(f"andorra_{v}")
        gpkg = folder / "workspace.gpkg"
        for kind in LAYERS:
            assert main(["import", "--workspace", str(gpkg), "--layer", kind, str(_file(kind)), "--crs",
                         "EPSG:4326"]) == 0, kind
        assert main(["import", "--workspace", str(gpkg), "--layer", "dem", str(DATA / f"dem_{v}.tif")]) == 0
        out[v] = folder
    return out


@pytest.fixture(scope="module")
def plans(workspaces) -> dict:
    from gis.flood.scenario import FloodInputs, FloodScenario
    from layers.workspace import Workspace

    got = {}
    for v, folder in workspaces.items():
        inputs = FloodInputs.from_workspace(Workspace(folder))
        for stage in (5.0, 10.0):
            sc = FloodScenario(stage_m=stage)
            got[(v, stage)] = sc.run(inputs)
    return got


@pytest.mark.parametrize("stage", [5.0, 10.0])
def test_the_dem_in_degrees_or_in_metres_gives_the_same_plan(plans, stage):
    a, b = plans[("ll", stage)].summary, plans[("utm", stage)].summary
    assert a["metric_crs"] == b["metric_crs"] and "32631" in a["metric_crs"]
    for k in ("people_to_evacuate", "people_placed", "person_km", "households_to_evacuate"):
        assert a[k] == pytest.approx(b[k], rel=0.03, abs=1), k
    assert a["people_to_evacuate"] > 0 and a["people_placed"] > 0


@pytest.mark.parametrize("key", [("ll", 5.0), ("utm", 10.0)])
def test_no_straight_lines_and_walks_cost_their_climb(plans, key):
    from gis.flood.walking import OFF_PATH_FACTOR, WADE_FACTOR, tobler_kmh

    plan = plans[key]
    s = plan.summary
    assert s["people_by_route_mode"]["straight"] == 0 and "straight" not in set(plan.assignments["method"])
    assert sum(s["people_by_route_mode"].values()) == s["people_placed"]
    assert s["longest_walk_km"] <= s["walk_limit_km"] + 1e-9
    cands = plan.candidates
    surf = cands.surface
    z, _barrier, wet, _depth, path_cells = (a.ravel() for a in surf.layers)
    cols = surf.shape[1]
    used = [p for p in cands.walks.path] + [p for p in cands.options.path] + [p for p in cands.exits.path]
    assert used
    for cells in used[:400]:
        if len(cells) < 2:
            continue
        r, c = np.divmod(cells, cols)
        run = np.hypot(np.diff(r) * surf.cell_xy[1], np.diff(c) * surf.cell_xy[0])
        rise = np.diff(z[cells])
        v = tobler_kmh(rise / run) * np.where(path_cells[cells[:-1]] & path_cells[cells[1:]], 1.0, OFF_PATH_FACTOR)
        v = np.where(wet[cells[1:]], v * WADE_FACTOR, v)
        expected = float((run / (v / 3.6)).sum())
        assert surf.path_time(cells) == pytest.approx(expected, rel=1e-6)
    # a walk over the ridge would be a straight line: walking routes bend with the terrain instead
    walks = plan.assignments[plan.assignments["method"] == "walk"]
    for geom in walks.geometry:
        assert len(geom.coords) > 2


def test_who_moves_is_where_the_water_reaches_the_homes(plans):
    plan = plans[("utm", 5.0)]
    ex = plan.exposure
    moving = ex[ex["evacuate"]]
    assert set(moving["reason_code"]) <= {"homes_wet", "area_wet"}
    assert (moving.loc[moving["rule_basis"] == "homes", "homes_wet_share"] > 0).all()
    wet_but_staying = ex[(ex["flooded_share"] > 0) & ~ex["evacuate"]]
    assert len(wet_but_staying) > 0 and set(wet_but_staying["reason_code"]) <= {"homes_dry", "area_shallow"}
    assert len(moving) < len(ex[ex["flooded_share"] > 0])        # a wet corner alone no longer moves a grid


def test_households_add_up_and_are_never_counted_twice(plans):
    from gis.report.plan_workbook import plan_rows

    plan = plans[("utm", 10.0)]
    rows = plan_rows(plan, lang="en")
    per = rows.groupby("grid_id")[["people", "households"]].sum()
    grids = plan.grids.set_index("grid_id")
    assert (per["people"] == grids.loc[per.index, "population"]).all()
    assert (per["households"] == grids.loc[per.index, "households"]).all()
    s = plan.summary
    assert s["households_placed"] + s["households_unplaced"] == s["households_to_evacuate"]


def test_cli_plan_in_english_json_and_files(workspaces, tmp_path):
    r = subprocess.run([sys.executable, "-m", "gis", "plan", "--workspace", str(workspaces["ll"] / "workspace.gpkg"),
                        "--stage", "5", "--out", str(tmp_path), "--lang", "en", "--json", "--no-village-maps"],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""                                   # no library warnings in a normal run
    out = json.loads(r.stdout)
    for k in ("people_by_route_mode", "households_to_evacuate", "households_placed", "households_unplaced",
              "longest_walk_km", "people_no_reachable_shelter", "metric_crs"):
        assert k in out
    assert sum(out["people_by_route_mode"].values()) == out["people_placed"]
    assert out["people_by_route_mode"]["straight"] == 0 and out["metric_crs"].startswith("EPSG:32631")
    assert not [n for n in out["notes"] if CJK.search(n)]
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "plan.xlsx")
    heads = [c.value for ws in wb for c in ws[1] if isinstance(c.value, str)]
    assert not [h for h in heads if CJK.search(h)]
    notes = [row[0] for row in wb[wb.sheetnames[-1]].iter_rows(min_row=2, values_only=True)]
    assert not [n for n in notes if isinstance(n, str) and CJK.search(n)]
