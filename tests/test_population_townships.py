"""A population raster split by township (gis.flood.population): zonal sums over the township outlines, the cell
centre deciding, worked by hand; the ``exposure`` command with and without ``--boundaries``; the Flood page's table.

The depth raster and population raster of ``test_exposure`` (100 m cells in EPSG:4549, 4 x 5, 10 people a cell)::

    0.2  1.0  2.0  4.0  0.7
    -    -    0.3  0.3  -
    -    -    -    -    -
    -    -    -    -    -

Two township squares: 东镇 over columns 0-1, 西镇 over columns 2-3; column 4 (40 people, 10 of them in 0.7 m) lies
outside both. By hand (the moving depth is the lowest threshold, 0.5 m):

- 东镇: 80 people; wet 0.2 and 1.0 -> 20 affected, 10 at or above 0.5 m (to evacuate), max 1.0 m
- 西镇: 80 people; wet 2.0, 4.0, 0.3, 0.3 -> 40 affected, 20 to evacuate, 20 at 1.5 m, 10 at 3 m, max 4.0 m
- outside: 40 people, 10 affected and to evacuate; the whole raster: 200 people, 70 affected, 40 to evacuate
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from affine import Affine
from shapely.geometry import box

from gis.flood.exposure import exposure_summary, raster_exposure
from gis.flood.hazard import Hazard
from gis.townships import township_cells, township_outlines
from layers.raster import Raster, write_raster
from tests.test_exposure import DEPTH, X0, Y0, _cells, _depth

ROOT = Path(__file__).resolve().parents[1]


def _towns(west_east_x: float | None = None) -> gpd.GeoDataFrame:
    """The two township squares (EPSG:4490, as outlines come); ``west_east_x``: 东镇 west of that x instead, 西镇
    from there to column 4's west edge."""
    split = X0 + 200 if west_east_x is None else west_east_x
    return gpd.GeoDataFrame({"township": ["东镇", "西镇"]}, crs=4549, geometry=[
        box(X0, Y0 - 400, split, Y0), box(split, Y0 - 400, X0 + 400, Y0)]).to_crs(4490)


def _pop(values=None, cell: float = 100.0) -> Raster:
    return _depth(np.full((4, 5), 10.0) if values is None else values, cell=cell)


def _rows(res: dict) -> dict[str, tuple]:
    return {r["township"]: (r["population"], r["affected_population"], r["people_to_evacuate"],
                            tuple(r["by_threshold"].values()), r["max_depth"]) for r in res["by_township"]}


def test_township_cells_by_cell_centre():
    ids, names = township_cells(_towns(X0 + 150), (4, 5), Affine(100, 0, X0, 0, -100, Y0), 4549)
    assert names == ["东镇", "西镇"]
    # column 1's centre (x = 150) lies on the line: it goes to one side only; column 4 is outside both
    assert ids[:, 0].tolist() == [1] * 4 and ids[:, 2:4].ravel().tolist() == [2] * 8 and (ids[:, 4] == 0).all()
    assert set(ids[:, 1].tolist()) in ({1}, {2})


def test_golden_on_the_depth_grid():
    r = raster_exposure(_pop(), Hazard.from_depth_raster(_depth()), townships=_towns())
    assert _rows(r) == {"东镇": (80, 20, 10, (10, 0, 0), 1.0), "西镇": (80, 40, 20, (20, 20, 10), 4.0)}
    assert r["population_outside_townships"] == 40
    assert (r["total_population"], r["affected_population"], r["people_to_evacuate"]) == (200, 70, 40)
    assert any(getattr(n, "code", "") == "raster_outside_townships" and "40 people" in n.en for n in r["notes"])


def test_moving_depth_follows_the_rule():
    r = raster_exposure(_pop(), Hazard.from_depth_raster(_depth()), townships=_towns(), min_depth=1.5)
    assert {k: v[2] for k, v in _rows(r).items()} == {"东镇": 0, "西镇": 20} and r["people_to_evacuate"] == 20


def test_resampled_people_keep_the_township_of_their_cell_centre():
    # 200 m population cells: (0, 0) holds 40 (its centre x = 100: 东镇), (0, 1) 80 (centre x = 300: 西镇). The
    # township line at x = 150 cuts (0, 0) in half, yet all its people stay in 东镇 after resampling onto 100 m.
    coarse = _pop(np.array([[40.0, 80.0], [0.0, 0.0]]), cell=200.0)
    r = raster_exposure(coarse, Hazard.from_depth_raster(_depth()), townships=_towns(X0 + 150))
    assert _rows(r) == {"东镇": (40, 20, 10, (10, 0, 0), 1.0), "西镇": (80, 80, 40, (40, 40, 20), 4.0)}
    assert r["affected_population"] == pytest.approx(100) and r.get("population_outside_townships") == 0


def test_townships_add_up_on_another_crs():
    """A lon/lat population raster over a projected depth raster: every person counted once."""
    lon, lat = pyproj.Transformer.from_crs(4549, 4490, always_xy=True).transform(X0 - 300, Y0 + 300)
    values = np.random.default_rng(7).uniform(0, 10, (30, 30)).astype("float32")
    pop = Raster(values, Affine(0.0004, 0, lon, 0, -0.0004, lat), pyproj.CRS.from_epsg(4490), None)
    towns = gpd.GeoDataFrame({"township": ["东镇", "西镇"]}, crs=4549, geometry=[
        box(X0 - 1000, Y0 - 1000, X0 + 150, Y0 + 1000), box(X0 + 150, Y0 - 1000, X0 + 1000, Y0 + 1000)])
    r = raster_exposure(pop, Hazard.from_depth_raster(_depth()), townships=towns)
    rows = r["by_township"]
    assert sum(x["population"] for x in rows) + r["population_outside_townships"] == pytest.approx(
        r["total_population"], rel=1e-9)
    for k in ("affected_population", "people_to_evacuate"):
        assert sum(x[k] for x in rows) == pytest.approx(r[k], rel=1e-5), k   # nobody outside is wet
    assert min(x["affected_population"] for x in rows) > 0


def test_danger_zones_and_no_overlap():
    zone = gpd.GeoDataFrame({"depth": [1.0, np.nan]}, crs=4549,
                            geometry=[_cells(0, 0, 1, 2), _cells(3, 2, 4, 4)]).to_crs(4490)   # 东镇 1 m, 西镇 unknown
    r = raster_exposure(_pop(), Hazard.from_polygons(zone), townships=_towns())
    assert _rows(r) == {"东镇": (80, 20, 20, (20, 0, 0), 1.0), "西镇": (80, 20, 20, (0, 0, 0), None)}
    assert [x["unknown_depth_population"] for x in r["by_township"]] == [0, 20]
    far = Raster(np.full((2, 2), 5.0, "float32"), Affine(100, 0, X0, 0, -100, Y0 - 5000), pyproj.CRS.from_epsg(4549),
                 None)
    towns = gpd.GeoDataFrame({"township": ["南镇"]}, geometry=[box(X0, Y0 - 5200, X0 + 200, Y0 - 5000)], crs=4549)
    r = raster_exposure(far, Hazard.from_depth_raster(_depth()), townships=towns)
    assert r["overlap"] is False and _rows(r) == {"南镇": (20, 0, 0, (0, 0, 0), None)}


def test_population_per_township_agrees_with_rasterstats(tmp_path):
    """The peer: rasterstats' zonal sum (cell centres, as ours) of each township on the population raster."""
    rasterstats = pytest.importorskip("rasterstats")
    values = np.arange(20, dtype="float64").reshape(4, 5)
    pop = _pop(values)
    write_raster(pop, tmp_path / "pop.tif")
    towns = _towns(X0 + 260).to_crs(4549)
    zones = rasterstats.zonal_stats(towns, str(tmp_path / "pop.tif"), stats=["sum"], nodata=-9999)
    theirs = [z["sum"] for z in zones]
    r = raster_exposure(pop, Hazard.from_depth_raster(_depth()), townships=towns)
    assert [x["population"] for x in r["by_township"]] == pytest.approx(theirs)
    assert theirs == pytest.approx([values[:, :3].sum(), values[:, 3].sum()])


def test_summary_names_the_outline_used():
    hz = Hazard.from_depth_raster(_depth())
    outlines = township_outlines({"boundaries": _towns().rename(columns={"township": "name"}).assign(
        level="township")}, fallback=())
    s = exposure_summary(hz, _pop(), townships=outlines, lang="en")
    assert s["townships_from"] == "boundaries" and s["population_outside_townships"] == 40
    assert {r["township"]: r["people_to_evacuate"] for r in s["by_township"]} == {"东镇": 10, "西镇": 20}
    assert any("boundaries layer (2 townships)" in n for n in s["notes"])
    assert any("乡镇界取自行政区界图层" in n for n in s["notes_zh"])
    s = exposure_summary(hz, _pop(), lang="en")
    assert s["townships_from"] == "none" and "by_township" not in s and s["people_to_evacuate"] == 40
    assert any("not split by township" in n for n in s["notes"])
    assert any("人口栅格不分乡镇统计" in n for n in s["notes_zh"])
    json.dumps(s, ensure_ascii=False)


# ---- the command line ------------------------------------------------------------------------------------------
def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gis", "exposure", *map(str, args), "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_cli_population_raster_by_township(tmp_path):
    write_raster(_depth(DEPTH * 100), tmp_path / "depth_cm.tif")
    write_raster(_pop(), tmp_path / "pop.tif")
    towns = _towns().rename(columns={"township": "名称"}).assign(层级="乡镇")
    county = gpd.GeoDataFrame({"名称": ["某县"], "层级": ["县"]}, geometry=[_cells(0, 0, 4, 5)], crs=4549).to_crs(4490)
    gpd.GeoDataFrame(pd.concat([county, towns], ignore_index=True), crs=4490).to_file(tmp_path / "towns.geojson")
    p = _cli("--hazard", tmp_path / "depth_cm.tif", "--exposure", tmp_path / "pop.tif", "--boundaries",
             tmp_path / "towns.geojson", "--lang", "en")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["townships_from"] == "boundaries"
    assert _rows(s) == {"东镇": (80, 20, 10, (10, 0, 0), 1.0), "西镇": (80, 40, 20, (20, 20, 10), 4.0)}
    assert s["population_outside_townships"] == 40 and s["people_to_evacuate"] == 40
    assert not any("was not used" in n for n in s["notes"])
    # without --boundaries: no per-township figures, and it says so in both languages
    p = _cli("--hazard", tmp_path / "depth_cm.tif", "--exposure", tmp_path / "pop.tif", "--lang", "en")
    s = json.loads(p.stdout)
    assert p.returncode == 0 and s["townships_from"] == "none" and "by_township" not in s
    assert any("--boundaries" in n for n in s["notes"]) and any("--boundaries" in n for n in s["notes_zh"])
    # a boundaries file of the county only: said, and not split
    county.to_file(tmp_path / "county.geojson")
    p = _cli("--hazard", tmp_path / "depth_cm.tif", "--exposure", tmp_path / "pop.tif", "--lang", "en",
             "--boundaries", tmp_path / "county.geojson")
    s = json.loads(p.stdout)
    assert s["townships_from"] == "none" and any("no township-level polygons" in n for n in s["notes"])


# ---- the Flood page ---------------------------------------------------------------------------------------------
#: the corner of the conftest's flood_workspace (grids G1, G2 in 东镇 and G3 in 西镇, 0.005° each) and half a grid
LON0, LAT0, STEP = 117.50, 29.50, 0.0025


def _grid_raster(path: Path, row: list[float]) -> Path:
    """2 x 6 cells of 0.0025° from (117.50E, 29.505N), EPSG:4490, both rows ``row``."""
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=6, height=2, count=1, dtype="float32", crs="EPSG:4490",
                       transform=Affine(STEP, 0, LON0, 0, -STEP, LAT0 + 2 * STEP)) as dst:
        dst.write(np.array([row, row], dtype="float32"), 1)
    return path


def _population_table(at) -> dict[str, tuple]:
    table = next(d.value for d in at.dataframe if "乡镇" in d.value.columns and "受淹区人口" in d.value.columns)
    return {r["乡镇"]: (r["人数"], r["受淹区人口"], r["需转移人数"]) for _, r in table.iterrows()}


def test_flood_page_splits_the_population_raster_by_township(flood_workspace, tmp_path, upload_app):
    depth = _grid_raster(tmp_path / "depth.tif", [2, 2, 2, 0, 0, 0])      # columns 0-2 in 2 m
    pop = _grid_raster(tmp_path / "pop.tif", [10] * 6)
    at = upload_app("ui.page_flood", {"flood_upload_raster": depth, "flood_pop_raster": pop}).run()
    at.radio(key="flood_source").set_value("raster").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    # without boundaries: the township-level stand-in, the grids merged by their township field
    assert _population_table(at) == {"东镇": (80, 60, 60), "西镇": (40, 0, 0)}
    assert any("村级网格合并" in c.value for c in at.caption)
    # with a boundaries layer whose line runs between columns 2 and 3: column 3's people move to 西镇
    line = LON0 + 3 * STEP
    towns = gpd.GeoDataFrame({"name": ["东镇", "西镇"], "level": ["township", "township"]}, crs=4490, geometry=[
        shapely.box(LON0 - 0.01, LAT0 - 0.01, line, LAT0 + 0.02), shapely.box(line, LAT0 - 0.01, LON0 + 0.03,
                                                                              LAT0 + 0.02)])
    flood_workspace.replace("boundaries", towns, note="t", user="t")
    at = upload_app("ui.page_flood", {"flood_upload_raster": depth, "flood_pop_raster": pop}).run()
    at.radio(key="flood_source").set_value("raster").run()
    assert not at.exception and not at.error
    assert _population_table(at) == {"东镇": (60, 60, 60), "西镇": (60, 0, 0)}
    assert any("乡镇界取自行政区界图层" in c.value for c in at.caption)
