"""A flood scenario that floods nothing, or nothing of the county, is refused (gis.flood.hazard.check_overlap).

Tiny grids of 0.01 degree near 118.5E 28.3N (CGCS2000 lon/lat): a village grid ``P`` over four group
grids ``A``-``D`` in a 2 x 2 block from (118.50, 28.30) to (118.52, 28.32). Depth rasters and danger
zones are built beside them: in Europe, all nodata, over part of the grids, over a sliver of them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine
from shapely.geometry import box

from gis.flood.hazard import Hazard, check_overlap, hazard_from_file
from gis.projection import lonlat_extent
from layers.errors import AnalysisRefused, CRSError
from layers.raster import Raster, write_raster

LON0, LAT0, D = 118.50, 28.30, 0.01


def _grids() -> gpd.GeoDataFrame:
    cells = [box(LON0 + c * D, LAT0 + r * D, LON0 + (c + 1) * D, LAT0 + (r + 1) * D) for r in (0, 1) for c in (0, 1)]
    return gpd.GeoDataFrame({
        "grid_id": ["P", "A", "B", "C", "D"],
        "name": ["村网格", "甲", "乙", "丙", "丁"],
        "level": ["village", "group", "group", "group", "group"],
        "parent_id": [None, "P", "P", "P", "P"],
        "township": ["一镇"] * 5,
        "village": ["某村"] * 5,
        "households": [100, 25, 25, 25, 25],
        "population": [400, 100, 100, 100, 100],
        "vulnerable": [20, 5, 5, 5, 5],
    }, geometry=[box(LON0, LAT0, LON0 + 2 * D, LAT0 + 2 * D), *cells], crs=4490)


def _depth(arr, lon: float, lat: float, cell: float = D / 2, crs: int = 4490, name: str = "depth.tif") -> Raster:
    """A depth raster whose top-left corner is at (lon, lat)."""
    return Raster(np.asarray(arr, dtype="float32"), Affine(cell, 0, lon, 0, -cell, lat), pyproj.CRS.from_epsg(crs),
                  None, name=name)


def _far_raster() -> Raster:
    return _depth(np.full((4, 4), 1.5), 10.48, 50.12, name="europe.tif")   # around 10.5E 50.1N


# ---- check_overlap on hazards built in memory ---------------------------------------------------------------
def test_depth_raster_far_away_is_refused_naming_both_places():
    hz = Hazard.from_depth_raster(_far_raster(), source="europe.tif")
    with pytest.raises(AnalysisRefused) as e:
        check_overlap(hz, _grids())
    zh, en = " ".join(e.value.lines("zh")), " ".join(e.value.lines("en"))
    assert "europe.tif" in zh and "europe.tif" in en
    assert "10.49°E 50.11°N" in en and "118.51°E 28.31°N" in en          # the scenario's and the grids' places
    assert "do not overlap" in en and "wrong coordinate system" in en and "不相交" in zh and "坐标系" in zh


@pytest.mark.parametrize("fill", [np.nan, 0.0, -1.0])
def test_depth_raster_without_a_wet_cell_is_refused(fill):
    hz = Hazard.from_depth_raster(_depth(np.full((4, 4), fill), LON0, LAT0 + 2 * D), source="dry.tif")
    with pytest.raises(AnalysisRefused) as e:
        check_overlap(hz, _grids())
    assert "floods nothing" in str(e.value) and "没有任何淹没范围" in str(e.value) and "dry.tif" in str(e.value)


def test_polygons_far_away_are_refused():
    zones = gpd.GeoDataFrame({"depth": [2.0]}, geometry=[box(10.4, 50.0, 10.6, 50.2)], crs=4490)
    hz = Hazard.from_polygons(zones, source="zones.geojson")
    with pytest.raises(AnalysisRefused, match="do not overlap") as e:
        check_overlap(hz, _grids())
    assert "zones.geojson" in str(e.value) and "10.50°E 50.10°N" in str(e.value)


def test_no_polygon_at_all_is_refused():
    empty = gpd.GeoDataFrame({"depth": []}, geometry=[], crs=4490)
    with pytest.raises(AnalysisRefused, match="floods nothing"):
        check_overlap(Hazard.from_polygons(empty, source="zones.gpkg"), _grids())


def test_raster_over_part_of_the_grids_passes():
    # 0.005-degree cells from the grids' top-left corner, wet only in the top-left 2 x 2: the quarter that is grid C
    arr = np.full((8, 8), np.nan)
    arr[:2, :2] = 1.0
    hz = Hazard.from_depth_raster(_depth(arr, LON0, LAT0 + 2 * D), source="part.tif")
    assert check_overlap(hz, _grids()) == []
    # projected (CGCS2000 3-degree zone, CM 117E) polygons over grid B: fine too
    zones = gpd.GeoDataFrame({"depth": [1.0]}, geometry=[box(LON0 + D, LAT0, LON0 + 2 * D, LAT0 + D)], crs=4490)
    assert check_overlap(Hazard.from_polygons(zones.to_crs(4548), source="b.gpkg"), _grids()) == []


def test_wet_extent_counts_not_the_raster_frame():
    # the raster frame covers the grids, but its only wet cell lies 1 degree east of them
    arr = np.full((4, 300), np.nan)
    arr[0, -1] = 2.0
    hz = Hazard.from_depth_raster(_depth(arr, LON0, LAT0 + 2 * D), source="frame.tif")
    assert hz.bounds[0] <= LON0 and hz.bounds[2] > LON0 + 1.0
    with pytest.raises(AnalysisRefused, match="do not overlap"):
        check_overlap(hz, _grids())


def test_a_sliver_of_overlap_warns_in_both_languages():
    # one 0.0005-degree cell at the grids' corner: 1/1600 of their extent
    hz = Hazard.from_depth_raster(_depth([[1.0]], LON0, LAT0 + 2 * D, cell=D / 20), source="corner.tif")
    warnings = check_overlap(hz, _grids())
    assert len(warnings) == 1
    zh, en = warnings[0]
    assert "0.06%" in en and "counts as dry" in en and "corner.tif" in en and "0.06%" in zh and "按无水" in zh
    assert check_overlap(hz, _grids(), min_share=0.0005) == []


def test_area_may_be_a_raster_or_a_lonlat_box():
    hz = Hazard.from_depth_raster(_far_raster(), source="europe.tif")
    pop = _depth(np.ones((4, 4)), LON0, LAT0 + 2 * D, name="pop.tif")
    assert lonlat_extent(pop) == pytest.approx((LON0, LAT0, LON0 + 2 * D, LAT0 + 2 * D))
    with pytest.raises(AnalysisRefused, match="the exposure layer"):
        check_overlap(hz, pop, area_name=("暴露图层", "the exposure layer"))
    assert check_overlap(hz, (10.45, 50.08, 10.55, 50.15)) == []                  # 0.0004 of 0.007 sq. degree


# ---- files ------------------------------------------------------------------------------------------------------
def test_hazard_from_file_then_check(tmp_path):
    write_raster(_far_raster(), tmp_path / "europe.tif")
    hz = hazard_from_file(tmp_path / "europe.tif")
    with pytest.raises(AnalysisRefused, match="europe.tif"):
        check_overlap(hz, _grids())
    write_raster(_depth(np.full((4, 4), np.nan), LON0, LAT0 + 2 * D), tmp_path / "nan.tif")
    with pytest.raises(AnalysisRefused, match="floods nothing"):
        check_overlap(hazard_from_file(tmp_path / "nan.tif"), _grids())


def test_hazard_from_file_passes_near_to_the_reader(tmp_path):
    # danger zones over the grids, written in the 3-degree zone with CM 120E (EPSG:4549) but declared as
    # CM 117E (EPSG:4548): read as they are, they land 3 degrees west; with the workspace nearby the
    # reader names the zone
    zones = gpd.GeoDataFrame({"depth": [1.0]}, geometry=[box(LON0, LAT0, LON0 + D, LAT0 + D)], crs=4490).to_crs(4549)
    zones = zones.set_crs(4548, allow_override=True)
    zones.to_file(tmp_path / "zones.gpkg", layer="zones")
    near = lonlat_extent(_grids())
    with pytest.raises(CRSError) as e:
        hazard_from_file(tmp_path / "zones.gpkg", near=near)
    assert "4549" in str(e.value)
    hz = hazard_from_file(tmp_path / "zones.gpkg")      # without near: read, and then refused by the overlap check
    with pytest.raises(AnalysisRefused, match="do not overlap"):
        check_overlap(hz, _grids())


# ---- the command line -------------------------------------------------------------------------------------------
def test_cli_exposure_refuses_a_scenario_elsewhere(tmp_path, capsys):
    from gis.cli import main

    _grids().to_file(tmp_path / "grids.gpkg", layer="grids")
    write_raster(_far_raster(), tmp_path / "europe.tif")
    assert main(["exposure", "--hazard", str(tmp_path / "europe.tif"), "--exposure", str(tmp_path / "grids.gpkg"),
                 "--json"]) == 2
    err = capsys.readouterr().err
    assert "europe.tif" in err and "不相交" in err and "do not overlap" in err and "Traceback" not in err
    write_raster(_depth(np.full((4, 4), np.nan), LON0, LAT0 + 2 * D), tmp_path / "nan.tif")
    assert main(["exposure", "--hazard", str(tmp_path / "nan.tif"), "--exposure", str(tmp_path / "grids.gpkg")]) == 2
    assert "floods nothing" in capsys.readouterr().err
    # over the top-left quarter (grid C, north-west): accepted, and people are counted
    arr = np.full((8, 8), np.nan)
    arr[:2, :2] = 1.0
    write_raster(_depth(arr, LON0, LAT0 + 2 * D), tmp_path / "part.tif")
    assert main(["exposure", "--hazard", str(tmp_path / "part.tif"), "--exposure", str(tmp_path / "grids.gpkg"),
                 "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["affected_population"] == 100


def test_cli_plan_refuses_a_scenario_elsewhere(demo_workspace, tmp_path, capsys):
    from gis.cli import main

    write_raster(_far_raster(), tmp_path / "europe.tif")
    out = tmp_path / "out"
    assert main(["plan", "--workspace", str(demo_workspace / "workspace.gpkg"), "--hazard",
                 str(tmp_path / "europe.tif"), "--out", str(out), "--no-village-maps"]) == 2
    err = capsys.readouterr().err
    assert "europe.tif" in err and "转移避险网格" in err and "the workspace's grids" in err and "Traceback" not in err
    assert not out.exists()                                       # nothing written


# ---- the Flood page ---------------------------------------------------------------------------------------------

def test_flood_page_refuses_an_uploaded_raster_elsewhere(use_workspace, tmp_path, upload_app):
    write_raster(_far_raster(), tmp_path / "europe.tif")
    at = upload_app("ui.page_flood", tmp_path / "europe.tif")
    at.session_state["flood_source"] = "raster"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "未按此洪水情景计算转移方案" in errors and "europe.tif" in errors
    assert "不相交" in errors and "do not overlap" in errors          # both languages
    assert not any(m.label == "需转移人数" for m in at.metric)         # no plan computed from it


def test_flood_page_refuses_the_workspace_hazard_layer_elsewhere(demo_workspace, tmp_path, monkeypatch, upload_app):
    import shutil

    from layers.workspace import Workspace

    folder = tmp_path / "ws"
    shutil.copytree(demo_workspace, folder)
    zones = gpd.GeoDataFrame({"depth": [2.0], "hazard_class": ["高"]}, geometry=[box(10.4, 50.0, 10.6, 50.2)],
                             crs=4490)
    Workspace(folder).write_vector("flood_hazard", zones)
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    at = upload_app("ui.page_flood", tmp_path / "unused.tif")
    at.session_state["flood_source"] = "workspace"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "未按此洪水情景计算转移方案" in errors and "不相交" in errors and "do not overlap" in errors
    assert not any(m.label == "需转移人数" for m in at.metric)


def test_cli_danger_zones_elsewhere_meet_the_overlap_check_not_the_import_rule(tmp_path, capsys):
    from gis.cli import main

    _grids().to_file(tmp_path / "grids.gpkg", layer="grids")
    zones = gpd.GeoDataFrame({"depth": [2.0]}, geometry=[box(LON0 + 0.4, LAT0, LON0 + 0.42, LAT0 + 0.02)], crs=4490)
    zones.to_file(tmp_path / "zones.geojson")                 # some 40 km east of the grids
    assert main(["exposure", "--hazard", str(tmp_path / "zones.geojson"), "--exposure", str(tmp_path / "grids.gpkg"),
                 "--crs", "EPSG:4490"]) == 2
    err = capsys.readouterr().err
    assert "do not overlap" in err and "outside the workspace" not in err and "Traceback" not in err
