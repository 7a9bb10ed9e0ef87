"""``--crs`` (and ``--towgs84``, ``--crs-override``, ``--gcj02``) on every command that reads a layer, with the
meaning it has on ``import``; bad combinations exit 2 with a bilingual message and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from gis.cli import build_parser, main

#: a 40 x 40 DEM of 30 m cells with a hill, at about 117.0E 29.8N
N = 40
LON, LAT = 117.0, 29.8


def _origin(code: int) -> tuple[float, float]:
    return pyproj.Transformer.from_crs(4490, code, always_xy=True).transform(LON, LAT)


def _dem(tmp_path: Path, code: int | None = 4548, name: str = "dem.tif", driver: str = "GTiff") -> Path:
    x0, y0 = _origin(code or 4548)
    yy, xx = np.mgrid[0:N, 0:N]
    z = (300 + 200 * np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / 80)).astype("float32")
    path = tmp_path / name
    with rasterio.open(path, "w", driver=driver, width=N, height=N, count=1, dtype="float32",
                       crs=f"EPSG:{code}" if code else None, transform=from_origin(x0, y0, 30, 30)) as dst:
        dst.write(z, 1)
    return path


def _points(code: int, datum: int = 4490, n: int = 2) -> tuple[list[float], list[float]]:
    """``n`` points inside the DEM, as metres of EPSG:``code`` on the datum of EPSG:``datum``."""
    lon = [LON + 0.003 + 0.002 * i for i in range(n)]
    lat = [LAT - 0.003 - 0.002 * i for i in range(n)]
    x, y = pyproj.Transformer.from_crs(datum, code, always_xy=True).transform(lon, lat)
    return list(x), list(y)


def _cameras_csv(tmp_path: Path, code: int, datum: int = 4490) -> Path:
    """Cameras in survey X (northing) / Y (easting) columns, no CRS in the file."""
    x, y = _points(code, datum)
    p = tmp_path / "cameras.csv"
    rows = "\n".join(f"塔{i},{float(b)!r},{float(a)!r},30,3000" for i, (a, b) in enumerate(zip(x, y)))
    p.write_text("名称,X,Y,架设高度,监测半径\n" + rows + "\n", encoding="utf-8")
    return p


def _command_names() -> list[str]:
    return ["validate", "import", "viewshed", "water-reach", "fire-risk", "gaps", "siting", "hand", "exposure", "plan",
            "fire-report"]


@pytest.mark.parametrize("name", _command_names())
def test_every_command_that_reads_a_layer_takes_the_crs_options(name):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    flags = {f for a in sub._actions for f in a.option_strings}
    assert {"--crs", "--towgs84", "--crs-override"} <= flags, name
    if name != "hand":                                       # rasters only: no web-map offset
        assert {"--gcj02", "--bd09", "--no-offset"} <= flags, name


def test_the_error_that_asks_for_crs_is_true(tmp_path, capsys):
    dem = _dem(tmp_path, 4548)
    cams = _cameras_csv(tmp_path, 4548)                     # metres without zone number: CM unknown
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--crs" in err and "Traceback" not in err and not out.exists()
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out), "--crs", "EPSG:4548",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["cameras"] == 2 and res["cells_visible"] > 0 and out.exists()


def test_crs_for_the_inputs_without_one_while_the_dem_keeps_its_own(tmp_path, capsys):
    dem = _dem(tmp_path, 4527)                              # CGCS2000 zone 39 declared in the GeoTIFF
    cams = _cameras_csv(tmp_path, 2415, datum=4214)        # Beijing 1954 zone 39 numbers, no CRS
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out), "--crs", "beijing1954",
                 "--json", "--lang", "en"]) == 0
    res = json.loads(capsys.readouterr().out)
    notes = " ".join(res["notes"])
    assert "dem.tif: the file declares CGCS2000, 3° Gauss-Kruger zone 39 (EPSG:4527) and was read in it" in notes
    assert "Beijing 1954, 3° Gauss-Kruger zone 39 (EPSG:2415)" in notes and "tens of metres" in notes


def test_crs_contradicting_every_input_is_refused_and_nothing_written(tmp_path, capsys):
    dem = _dem(tmp_path, 4548)
    x, y = _points(4548)
    cams = tmp_path / "cams.gpkg"
    gpd.GeoDataFrame({"名称": ["a", "b"], "架设高度": [30, 30]}, geometry=gpd.points_from_xy(x, y),
                     crs=4548).to_file(cams)
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out), "--crs", "EPSG:2436"]) == 2
    err = capsys.readouterr().err
    assert "--crs-override" in err and "dem.tif" in err and "cams.gpkg" in err and "EPSG:4548" in err
    assert "不一致" in err and "contradicts" in err and not out.exists()


@pytest.mark.parametrize("value", ["1,2", "1,2,3,4,5", "x,y,z"])
def test_towgs84_of_the_wrong_length_exits_2_before_reading(tmp_path, capsys, value):
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(tmp_path / "missing.tif"), "--cameras", str(tmp_path / "missing.csv"),
                 "--out", str(out), f"--towgs84={value}"]) == 2
    err = capsys.readouterr().err
    assert ("3 个或 7 个" in err or "不是数字" in err) and ("3 or 7" in err or "not a number" in err)
    assert "missing" not in err and not out.exists()        # refused before any file was looked at


def test_towgs84_when_no_input_is_on_an_old_datum(tmp_path, capsys):
    dem = _dem(tmp_path, 4548)
    cams = _cameras_csv(tmp_path, 4548)
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out), "--crs", "EPSG:4548",
                 "--towgs84", "11.9,-154.8,-80.1"]) == 2
    err = capsys.readouterr().err
    assert "北京1954" in err and "Beijing 1954" in err and not out.exists()


def test_towgs84_applies_to_the_old_datum_input(tmp_path, capsys):
    dem = _dem(tmp_path, 4527)
    cams = _cameras_csv(tmp_path, 2415, datum=4214)
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out), "--crs", "beijing1954",
                 "--towgs84", "11.911,-154.833,-80.079", "--json", "--lang", "en"]) == 0
    notes = " ".join(json.loads(capsys.readouterr().out)["notes"])
    assert "converted to CGCS2000 with the given parameters" in notes


def test_gcj02_of_projected_inputs_exits_2_and_writes_nothing(tmp_path, capsys):
    dem = _dem(tmp_path, 4548)
    cams = _cameras_csv(tmp_path, 4527)                     # zone-prefixed: projected, CRS told from the numbers
    out = tmp_path / "count.tif"
    assert main(["viewshed", "--dem", str(dem), "--cameras", str(cams), "--out", str(out), "--gcj02"]) == 2
    err = capsys.readouterr().err
    assert "--gcj02" in err and "经纬度" in err and "lon/lat" in err and not out.exists()
    ws = tmp_path / "ws.gpkg"
    assert main(["import", "--workspace", str(ws), "--layer", "cameras", str(cams), "--gcj02"]) == 2
    err = capsys.readouterr().err
    assert "GCJ-02" in err and "projected" in err and not ws.exists()


def test_import_refuses_crs_contradicting_the_prj_and_writes_nothing(tmp_path, capsys):
    x, y = _points(4548)
    cams = tmp_path / "cams.gpkg"
    gpd.GeoDataFrame({"名称": ["a", "b"]}, geometry=gpd.points_from_xy(x, y), crs=4548).to_file(cams)
    ws = tmp_path / "ws.gpkg"
    assert main(["import", "--workspace", str(ws), "--layer", "cameras", str(cams), "--crs", "EPSG:4549"]) == 2
    err = capsys.readouterr().err
    assert "--crs-override" in err and "EPSG:4548" in err and not ws.exists()
    assert main(["import", "--workspace", str(ws), "--layer", "cameras", str(cams), "--crs", "EPSG:4549",
                 "--crs-override", "--json"]) == 0
    got = gpd.read_file(ws, layer="cameras").geometry.iloc[0]
    assert got.x == pytest.approx(120.0 + (LON + 0.003 - 117.0), abs=0.01)   # read as CM 120E, as told


def test_crs_override_needs_crs(tmp_path, capsys):
    assert main(["hand", "--dem", str(_dem(tmp_path)), "--out", str(tmp_path / "h.tif"), "--crs-override"]) == 2
    assert "--crs-override" in capsys.readouterr().err and not (tmp_path / "h.tif").exists()


# ---- the other commands ---------------------------------------------------------------------------

def test_hand_with_an_ascii_dem_without_prj(tmp_path, capsys):
    dem = _dem(tmp_path, None, name="dem.asc", driver="AAIGrid")
    (tmp_path / "dem.prj").unlink(missing_ok=True)
    out = tmp_path / "hand.tif"
    assert main(["hand", "--dem", str(dem), "--out", str(out), "--min-upstream-km2", "0.02"]) == 2
    assert "--crs" in capsys.readouterr().err and not out.exists()
    assert main(["hand", "--dem", str(dem), "--out", str(out), "--min-upstream-km2", "0.02", "--crs", "4548",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["defined_cells"] > 0 and "4548" in res["crs"]


def test_water_reach_and_fire_risk_take_crs(tmp_path, capsys):
    dem = _dem(tmp_path, 4548)
    x, y = _points(4548)
    src = tmp_path / "sources.csv"
    src.write_text("名称,类型,X,Y\n" + "\n".join(f"s{i},水库,{float(b)!r},{float(a)!r}" for i, (a, b)
                                               in enumerate(zip(x, y))) + "\n", encoding="utf-8")
    x0, y0 = _origin(4548)
    forest = tmp_path / "forest.gpkg"
    gpd.GeoDataFrame({"林分类型": ["针叶林"]},
                     geometry=[shapely.box(x0 + 60, y0 - N * 30 + 60, x0 + N * 30 - 60, y0 - 60)],
                     crs=4548).to_file(forest)
    out = tmp_path / "reach.tif"
    assert main(["water-reach", "--dem", str(dem), "--sources", str(src), "--forest", str(forest),
                 "--out", str(out), "--json"]) == 2
    assert "--crs" in capsys.readouterr().err and not out.exists()
    assert main(["water-reach", "--dem", str(dem), "--sources", str(src), "--forest", str(forest),
                 "--out", str(out), "--crs", "EPSG:4548", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sources_usable"] == 2
    risk = tmp_path / "risk.tif"
    assert main(["fire-risk", "--dem", str(dem), "--forest", str(forest), "--graves", str(src), "--out", str(risk),
                 "--crs", "EPSG:4548", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["forest_cells"] > 0
    gaps = tmp_path / "gaps.gpkg"
    cams = _cameras_csv(tmp_path, 4548)
    assert main(["gaps", "--dem", str(dem), "--forest", str(forest), "--sources", str(src), "--cameras", str(cams),
                 "--out", str(gaps), "--crs", "EPSG:4548", "--json"]) == 0
    assert gaps.exists()


def test_exposure_with_a_population_grid_without_prj(tmp_path, capsys):
    x0, y0 = _origin(4548)
    pop = tmp_path / "pop.asc"
    with rasterio.open(pop, "w", driver="AAIGrid", width=4, height=3, count=1, dtype="float32",
                       transform=from_origin(x0, y0, 100, 100)) as dst:
        dst.write(np.full((3, 4), 10.0, "float32"), 1)
    (tmp_path / "pop.prj").unlink(missing_ok=True)
    depth = tmp_path / "depth.tif"
    with rasterio.open(depth, "w", driver="GTiff", width=4, height=3, count=1, dtype="float32", crs="EPSG:4548",
                       transform=from_origin(x0, y0, 100, 100)) as dst:
        dst.write(np.array([[0, 0.6, 0.6, 2.0]] * 3, "float32"), 1)
    assert main(["exposure", "--hazard", str(depth), "--exposure", str(pop), "--json"]) == 2
    assert "--crs" in capsys.readouterr().err
    assert main(["exposure", "--hazard", str(depth), "--exposure", str(pop), "--crs", "EPSG:4548", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["affected_population"] == pytest.approx(90)


def test_plan_refuses_bad_coordinate_options_before_writing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["plan", "--workspace", str(tmp_path / "ws.gpkg"), "--hazard", str(tmp_path / "h.gpkg"),
                 "--out", str(out), "--towgs84", "1,2,3,4"]) == 2
    assert "3 or 7" in capsys.readouterr().err and not out.exists()
    assert main(["plan", "--workspace", str(tmp_path / "ws.gpkg"), "--hazard", str(tmp_path / "h.gpkg"),
                 "--out", str(out), "--crs", "nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err and not out.exists()


def test_fire_report_takes_crs_for_its_candidate_files(tmp_path, capsys):
    from layers.workspace import Workspace

    x0, y0 = _origin(4548)
    ws_path = tmp_path / "ws" / "workspace.gpkg"
    ws_path.parent.mkdir()
    ws = Workspace(ws_path)
    forest = gpd.GeoDataFrame({"fuel_type": ["conifer"]}, crs=4548,
                              geometry=[shapely.box(x0 + 60, y0 - N * 30 + 60, x0 + N * 30 - 60, y0 - 60)])
    ws.replace("forest", forest.to_crs(4490), note="test", user="test")
    _dem(ws_path.parent, 4548, name=ws.raster_path("dem").name)
    cams = _cameras_csv(tmp_path, 4548)                     # metres without zone number: CM unknown
    out = tmp_path / "out"
    base = ["fire-report", "--workspace", str(ws_path), "--out", str(out), "--no-maps", "--no-water", "--no-gaps",
            "--json"]
    assert main([*base, "--crs", "EPSG:4548"]) == 2          # no candidate file: the option applies to nothing
    err = capsys.readouterr().err
    assert "--camera-candidates" in err and "候选点" in err and not out.exists()
    assert main([*base, "--camera-candidates", str(cams)]) == 2
    assert "--crs" in capsys.readouterr().err and not out.exists()
    assert main([*base, "--camera-candidates", str(cams), "--crs", "EPSG:4548", "--site-cameras", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert out.is_dir() and len(res["sites"]) == 1
    site = res["sites"][0]
    assert site["lon"] == pytest.approx(LON + 0.003, abs=0.003) and site["lat"] == pytest.approx(LAT - 0.004, abs=0.003)
