"""Hazard scenarios (gis.flood.hazard): depth rasters (metres, centimetres, negatives, all dry), polygons, stages."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine
from shapely.geometry import box

from gis.flood.hazard import DEFAULT_THRESHOLDS, SCREENING_LABEL, Hazard, class_labels, depth_class, parse_thresholds
from layers.errors import LayerError
from layers.raster import Raster

X0, Y0 = 500_000.0, 3_000_000.0


def _raster(arr, crs=4549, cell=10.0) -> Raster:
    return Raster(np.asarray(arr, dtype="float32"), Affine(cell, 0, X0, 0, -cell, Y0), pyproj.CRS.from_epsg(crs),
                  None, name="depth.tif")


def test_depth_class_and_labels():
    d = np.array([np.nan, -1, 0, 0.2, 0.5, 1.49, 1.5, 3.0, 7.0])
    assert depth_class(d, DEFAULT_THRESHOLDS).tolist() == [0, 0, 0, 1, 2, 2, 3, 4, 4]
    assert class_labels((0.5, 1.5, 3.0)) == ["< 0.5 m", "0.5-1.5 m", "1.5-3 m", ">= 3 m"]
    assert class_labels((1,), "zh") == ["< 1 米", "≥ 1 米"]


def test_parse_thresholds():
    assert parse_thresholds("3, 0.5,1.5") == (0.5, 1.5, 3.0)
    assert parse_thresholds(None) == DEFAULT_THRESHOLDS
    with pytest.raises(LayerError, match="invalid depth thresholds"):
        parse_thresholds("0.5,abc")
    with pytest.raises(LayerError, match="invalid depth thresholds"):
        parse_thresholds([0.5, -1])


def test_depth_raster_in_metres_negative_is_dry():
    h = Hazard.from_depth_raster(_raster([[0.0, 0.4], [-0.3, 2.0]]))
    assert h.method == "depth_raster" and not h.screening and h.is_raster
    a = h.depth.array
    assert np.isnan(a[0, 0]) and np.isnan(a[1, 0])  # 0 and negative: dry
    assert a[0, 1] == pytest.approx(0.4) and a[1, 1] == pytest.approx(2.0)
    assert any("negative" in en for _, en in h.notes)


def test_depth_raster_in_centimetres_is_converted():
    h = Hazard.from_depth_raster(_raster([[0.0, 40.0], [150.0, 250.0]]))
    np.testing.assert_allclose(h.depth.array[~np.isnan(h.depth.array)], [0.4, 1.5, 2.5], rtol=1e-6)
    assert any("centimetres" in en for _, en in h.notes)


def test_all_dry_raster_is_empty_with_a_note():
    h = Hazard.from_depth_raster(_raster([[0.0, np.nan], [-1.0, 0.0]]))
    assert h.is_empty
    assert any("nothing is flooded" in en for _, en in h.notes)


def test_polygons_with_depth_and_overlap_deepest_wins():
    zones = gpd.GeoDataFrame({"depth": [1.0, 2.0], "hazard_class": ["中", "高"]},
                             geometry=[box(0, 0, 100, 100), box(50, 0, 150, 100)], crs=4549)
    zones = zones.set_geometry(zones.geometry.translate(X0, Y0))
    h = Hazard.from_polygons(zones, source="zones.gpkg")
    assert h.method == "polygons" and not h.is_raster
    areas = dict(zip(h.polygons["depth"], h.polygons.area))
    assert areas[2.0] == pytest.approx(10_000) and areas[1.0] == pytest.approx(5_000)  # shared 50x100 -> 2 m
    assert any("overlap" in en for _, en in h.notes)


def test_polygons_without_depth_are_wet_with_unknown_depth():
    zones = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 100, Y0 + 100)], crs=4549)
    h = Hazard.from_polygons(zones)
    assert h.polygons["depth"].isna().all()
    assert any("unknown depth" in en for _, en in h.notes)


def test_polygons_need_a_crs_and_polygons():
    with pytest.raises(LayerError, match="no CRS"):
        Hazard.from_polygons(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))
    from shapely.geometry import Point

    with pytest.raises(LayerError, match="no polygons"):
        Hazard.from_polygons(gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs=4549))


def test_from_stage_on_a_valley_is_a_screening_scenario():
    r, c = np.mgrid[0:7, 0:7]
    dem = Raster((np.abs(c - 3) * 1.0 + (6 - r) * 0.1).astype("float32"), Affine(30, 0, X0, 0, -30, Y0),
                 pyproj.CRS.from_epsg(4549), None)
    from gis.flood.hand import hand

    hz = Hazard.from_stage(dem, 2.0, hand=hand(dem, streams=c == 3))
    assert hz.method == "hand_stage" and hz.screening and hz.stage_m == 2.0
    assert SCREENING_LABEL in hz.notes and "CSI" in hz.messages("en")[0]
    # channel 2 m deep; first side columns 2 - 1.1 = 0.9 (last row 1.0); second columns HAND >= 2: dry
    assert hz.depth.array[3, 3] == pytest.approx(2.0)
    assert hz.depth.array[3, 4] == pytest.approx(0.9, abs=1e-5)
    assert np.isnan(hz.depth.array[3, 5])
    # computing HAND itself from the DEM (threshold) gives a scenario too
    hz2 = Hazard.from_stage(dem, 2.0, min_upstream_cells=7)
    assert hz2.depth.array[6, 3] == pytest.approx(2.0)


def test_polygons_cut_into_pieces_answer_points_the_same():
    """Danger zones with many vertices are cut into quarters for point tests (as PostGIS ST_Subdivide): the
    pieces cover the polygon exactly, and every point lies in a piece exactly when it lies in the polygon."""
    import shapely

    from gis.flood.hazard import _subdivide

    rng = np.random.default_rng(4)
    river = shapely.LineString(np.column_stack([np.linspace(0, 50_000, 400),
                                                3_000 * np.sin(np.linspace(0, 12, 400))]))
    zones = np.array([river.buffer(250), shapely.box(0, 0, 10, 10), None], dtype=object)
    pieces, parent = _subdivide(zones, max_vertices=64)
    assert len(pieces) > 10 and set(parent.tolist()) == {0, 1}
    assert (shapely.get_num_coordinates(pieces) <= 64).all()
    assert shapely.union_all(pieces[parent == 0]).symmetric_difference(zones[0]).area < 1e-3
    pts = shapely.points(rng.uniform(-500, 50_500, 20_000), rng.uniform(-3_500, 3_500, 20_000))
    i, j = shapely.STRtree(pieces).query(pts, predicate="intersects")
    whole = shapely.intersects(pts, zones[0])
    mine = np.zeros(len(pts), dtype=bool)
    mine[i[parent[j] == 0]] = True
    assert whole.sum() > 1000 and np.array_equal(mine, whole)
