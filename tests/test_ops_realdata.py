"""End to end on real data (Andorra: OSM roads, village grids, shelters): import as an office would, warn, call out,
report back, check in, re-plan on the real road network and dispatch from depots given in a Chinese-headed CSV.

Skipped, saying why, when ``../shared/realdata`` is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/realdata beside the repository (or beside the folder holding a git worktree of it)
REAL = next((p for p in (ROOT.parent / "shared" / "realdata" / "andorra" / "layers",
                         ROOT.parent.parent / "shared" / "realdata" / "andorra" / "layers") if p.is_dir()),
            ROOT.parent / "shared" / "realdata" / "andorra" / "layers")

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not found at {REAL} (../shared/realdata)")

DEPOTS_CSV = """储备库名称,储备库编号,经度,纬度,大米（公斤）,饮用水,帐篷,棉被,家庭包,状态
安道尔城储备库,D1,1.5218,42.5075,2吨,8000升,20顶,600床,200套,正常
恩坎普储备点,D2,1.5806,42.5344,800,3000,5,150,60,在用
"""


def gis(*args: str) -> dict:
    p = subprocess.run([sys.executable, "-m", "gis", *args, "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def andorra(tmp_path_factory):
    """A workspace imported from the real files through the command line (validated like any import)."""
    folder = tmp_path_factory.mktemp("andorra")
    gpkg = folder / "workspace.gpkg"
    depots = folder / "depots.csv"
    depots.write_text(DEPOTS_CSV, encoding="utf-8")
    for kind, path in (("grids", REAL / "grids.geojson"), ("shelters", REAL / "shelters.csv"),
                       ("villages", REAL / "villages.csv"), ("roads", REAL / "roads.geojson"), ("depots", depots)):
        crs = ["--crs", "EPSG:4326"] if path.suffix == ".csv" else []       # lon/lat abroad: said, as a user would
        out = gis("import", "--workspace", str(gpkg), "--layer", kind, str(path), *crs)
        assert out["committed"], out
    return gpkg


def test_real_county_through_the_command_line(andorra, tmp_path):
    import geopandas as gpd

    grids = gpd.read_file(REAL / "grids.geojson")
    people = int(grids["人数"].sum())
    w = gis("warn", "--workspace", str(andorra), "--level", "red", "--all", "--out", str(tmp_path / "cs"))
    assert w["grids"] == len(grids) == 59 and w["people"] == people
    # village-level grids with no hierarchy above them: one contact per grid (plus the shelters with a phone)
    assert w["contacts_by_level"]["village"] == 59
    wid = w["warning_id"]
    gis("ack", "--workspace", str(andorra), "--warning", wid, "--contact", "13800000001")
    g = grids.sort_values("人数").iloc[-1]
    gis("report", "--workspace", str(andorra), "--warning", wid, "--grid", g["网格编号"], "--moved",
        str(int(g["人数"]) // 2), "--refused", "3")
    gis("checkin", "--workspace", str(andorra), "--warning", wid, "--shelter", "S002", "--people", "400",
        "--households", "150")
    p = gis("progress", "--workspace", str(andorra), "--warning", wid)
    assert (p["acknowledged"], p["people_moved"], p["people_checked_in"]) == (1, int(g["人数"]) // 2, 400)
    assert p["people_to_move"] == people
    r = gis("replan", "--workspace", str(andorra), "--warning", wid, "--out", str(tmp_path / "replan"))
    assert r["people_remaining"] == people - int(g["人数"]) // 2
    assert r["people_placed"] + r["people_unplaced"] == r["people_remaining"]
    assert r["people_unplaced"] > 0                 # far fewer places than people, on purpose (README)
    d = gis("dispatch", "--workspace", str(andorra), "--warning", wid, "--out", str(tmp_path / "d"), "--days", "3")
    rice = sum(s["quantity"] for s in d["shipments"] if s["item"] == "rice_kg")
    assert rice == 480                               # 400 people x 0.4 kg x 3 days, from 2.8 t in stock
    assert d["items"]["rice_kg"]["stock"] == 2800 and d["shortages"].get("quilts") is None
    assert {s["method"] for s in d["shipments"]} == {"road"}
    assert d["ton_km"] > 0
