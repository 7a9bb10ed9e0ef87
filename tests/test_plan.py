"""The whole evacuation plan on the demo county and on a hand-made case; the `plan` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely.affinity
from affine import Affine
from shapely.geometry import LineString, Point, box

from gis.flood.hazard import Hazard
from gis.flood.plan import PlanOptions, evacuation_plan
from layers.raster import Raster
from layers.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
GK = "EPSG:4549"


@pytest.fixture(scope="module")
def demo_plan(demo_workspace):
    ws = Workspace(demo_workspace)
    hz = Hazard.from_stage(ws.raster("dem"), 2.0)
    return evacuation_plan(ws.vector("grids"), ws.vector("shelters"), hz, roads=ws.vector("roads")), ws


def test_demo_plan_balances_and_respects_capacity(demo_plan):
    plan, _ = demo_plan
    s = plan.summary
    assert s["people_to_evacuate"] > 0
    assert s["people_placed"] + s["people_unplaced"] == s["people_to_evacuate"]
    assert int(plan.assignments["people"].sum()) == s["people_placed"]
    assert int(plan.grids["evacuate_people"].sum()) == s["people_to_evacuate"]
    sh = plan.shelters
    assert (sh["load"] <= sh["capacity"]).all()
    assert (sh.loc[~sh["usable"], "load"] == 0).all()
    assert int(sh["load"].sum()) == s["people_placed"]
    assert set(plan.assignments["shelter_id"]) <= set(sh.loc[sh["usable"], "shelter_id"])
    # vulnerable people are carried through: what reaches shelters plus what is unplaced is all of them
    assert int(plan.assignments["vulnerable"].sum()) + s["vulnerable_unplaced"] == s["vulnerable_to_evacuate"]
    assert plan.assignments.crs.to_epsg() == 4490 and plan.assignments.geometry.notna().all()


def test_flood_page_downloads_are_made_when_clicked_outside_the_script_run(demo_plan):
    """The Flood page hands its download buttons functions (made on click, in a server thread with no script
    run): they give the plan's four files and the village map in the language the page had."""
    import io
    import json
    import threading

    import openpyxl

    from gis.report.village_map import at_risk_villages
    from ui.page_flood import _plan_file, _village_map

    plan, ws = demo_plan
    got: dict = {}

    def click() -> None:
        for ext in ("xlsx", "gpkg", "geojson", "kml"):
            got[ext] = _plan_file(("test-downloads",), plan, "en", True, ext)
        got["png"] = _village_map(("test-downloads",), plan, at_risk_villages(plan)[0], "png", "en", True,
                                  ws.vector("roads"), None)

    th = threading.Thread(target=click)
    th.start()
    th.join()
    assert "Evacuation plan" in openpyxl.load_workbook(io.BytesIO(got["xlsx"])).sheetnames
    assert got["gpkg"][:16] == b"SQLite format 3\x00"
    assert json.loads(got["geojson"])["type"] == "FeatureCollection"
    assert b"<kml" in got["kml"][:400] and got["png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_plan_outputs_reread(demo_plan, tmp_path):
    import openpyxl

    from gis.report.plan_files import write_plan_files

    plan, _ = demo_plan
    files = {p.suffix: p for p in write_plan_files(plan, tmp_path)}
    wb = openpyxl.load_workbook(files[".xlsx"])
    assert "转移计划" in wb.sheetnames
    gp = gpd.read_file(files[".gpkg"], layer="routes")
    assert len(gp) == len(plan.assignments)


X0, Y0 = 500_000.0, 3_140_000.0  # near the central meridian of EPSG:4549, where metres are metres


def _at(geom):
    return shapely.affinity.translate(geom, X0, Y0)


def _tiny():
    """Two grids west, one shelter east; a direct road through a flooded dip and a dry detour north."""
    grids = gpd.GeoDataFrame({"grid_id": ["A", "B"], "level": ["household"] * 2, "township": ["T"] * 2,
                              "population": [30, 20], "households": [10, 6], "vulnerable": [3, 2]},
                             geometry=[_at(box(0, 0, 200, 200)), _at(box(0, 200, 200, 400))], crs=GK)
    shelters = gpd.GeoDataFrame({"shelter_id": ["S1", "S2"], "name": ["东", "洼地"], "capacity": [100, 100]},
                                geometry=[_at(Point(2000, 200)), _at(Point(1000, 100))], crs=GK)
    roads = gpd.GeoDataFrame({"road_class": ["village"] * 3}, geometry=[
        _at(LineString([(300, 200), (2000, 200)])),                      # direct, 1,700 m
        _at(LineString([(300, 200), (300, 1200), (2000, 1200), (2000, 200)])),  # detour, 3,700 m
        _at(LineString([(1000, 200), (1000, 100)]))], crs=GK)            # spur to the low shelter
    depth = np.full((40, 60), np.nan, dtype="float32")
    # 100 m cells from (0, 2000): water 1 m deep over x 700-1300, y 0-400 (the dip and the low shelter),
    # and 0.6 m over the grids (x 0-200): they must move, and their road starts dry at x 300
    depth[16:20, 7:13] = 1.0
    depth[16:20, 0:2] = 0.6
    dep = Raster(depth, Affine(100, 0, X0, 0, -100, Y0 + 2000), GK, None)
    return grids, shelters, roads, Hazard.from_depth_raster(dep, name="dip")


def test_route_avoids_flooded_road_and_flooded_shelter_is_unusable():
    grids, shelters, roads, hz = _tiny()
    grids.loc[:, "geometry"] = [_at(box(700, 0, 900, 200)), _at(box(700, 200, 900, 400))]  # inside the water
    plan = evacuation_plan(grids, shelters, hz, roads=roads)
    sh = plan.shelters.set_index("shelter_id")
    assert not sh.loc["S2", "usable"] and "淹没" in sh.loc["S2", "reason"]
    assert set(plan.assignments["shelter_id"]) == {"S1"}
    assert plan.summary["people_placed"] == 50
    # the direct road is cut in the dip; the grids, standing in the water, cannot reach the detour by road
    # from their own dry stub... the plan still places them, on the detour or on foot (labelled)
    assert set(plan.assignments["method"]) <= {"road", "straight_line"}


def test_road_cut_forces_the_detour():
    grids, shelters, roads, hz = _tiny()
    plan = evacuation_plan(grids, shelters, hz, roads=roads)
    a = plan.assignments
    assert set(a["shelter_id"]) == {"S1"} and set(a["method"]) == {"road"}
    assert plan.summary["people_placed"] == 50
    # detour 3,700 m plus the access walk from each grid's representative point to the road at (300, 200)
    rep = grids.set_index("grid_id").geometry.representative_point()
    walk = {g: np.hypot(p.x - X0 - 300, p.y - Y0 - 200) for g, p in rep.items()}
    got = a.set_index("grid_id")["distance_km"]
    for g in ("A", "B"):
        assert got[g] == pytest.approx((3700 + walk[g]) / 1000, abs=0.006)
    pre = evacuation_plan(grids, shelters, hz, roads=roads, options=PlanOptions(cut_roads=False))
    # on the whole network (a pre-emptive transfer) the direct road: 1,700 m plus the walk
    got = pre.assignments.set_index("grid_id")["distance_km"]
    for g in ("A", "B"):
        assert got[g] == pytest.approx((1700 + walk[g]) / 1000, abs=0.006)


def test_cli_plan_json(demo_workspace, tmp_path):
    r = subprocess.run([sys.executable, "-m", "gis", "plan", "--workspace", str(demo_workspace / "workspace.gpkg"),
                        "--stage", "1.5", "--out", str(tmp_path), "--no-village-maps", "--json",
                        "--rates", "drinking_l=4,toilets=10", "--days", "2"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for k in ("people_to_evacuate", "people_placed", "people_unplaced", "shelters_used", "person_km"):
        assert k in out
    assert out["people_placed"] + out["people_unplaced"] == out["people_to_evacuate"]
    assert {Path(f).name for f in out["files"]} == {"plan.gpkg", "plan.geojson", "plan.kml", "plan.xlsx"}
    # needs at the given rates: 4 L a day for 2 days; one toilet per 10 people, rounded up per shelter
    assert out["needs"]["drinking_l"] == pytest.approx(out["people_placed"] * 8, abs=0.5)
    assert out["needs"]["toilets"] >= out["people_placed"] / 10 and out["needs_days"] == 2


def test_cli_plan_rejects_bad_rates(demo_workspace, tmp_path):
    r = subprocess.run([sys.executable, "-m", "gis", "plan", "--workspace", str(demo_workspace / "workspace.gpkg"),
                        "--stage", "1.5", "--out", str(tmp_path), "--rates", "beer_l=2"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "beer_l" in r.stderr and "rice_kg" in r.stderr and "Traceback" not in r.stderr


def test_cli_plan_needs_a_scenario(demo_workspace, tmp_path):
    r = subprocess.run([sys.executable, "-m", "gis", "plan", "--workspace", str(demo_workspace / "workspace.gpkg"),
                        "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--hazard" in r.stderr and "Traceback" not in r.stderr
