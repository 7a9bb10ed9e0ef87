"""HAND (gis.flood.hand) on a 7x7 V-valley worked by hand, stage depths, voids, and the ``hand`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyproj
import pytest
from affine import Affine

from gis.flood.hand import depth_from_stage, hand
from layers.errors import LayerError
from layers.raster import Raster, read_raster, write_raster

ROOT = Path(__file__).resolve().parents[1]
R, C = np.mgrid[0:7, 0:7]
#: a V-valley: the channel is column 3, falling 0.1 m per row to the south edge; the sides rise 1 m per column
VALLEY = (np.abs(C - 3) * 1.0 + (6 - R) * 0.1).astype("float32")


def _dem(arr: np.ndarray = VALLEY, crs: int = 4549) -> Raster:
    t = Affine(30, 0, 500_000, 0, -30, 3_000_000) if crs == 4549 else Affine(0.0003, 0, 120.0, 0, -0.0003, 27.0)
    return Raster(arr.copy(), t, pyproj.CRS.from_epsg(crs), None, name="dem")


def _expected_valley_hand() -> np.ndarray:
    """Worked by hand for streams = column 3.

    pyflwdir's D8 follows the steepest *drop*: a diagonal step down-valley drops 1.1 m, a step
    across drops 1.0 m, so a side cell d = |c - 3| columns from the channel moves diagonally
    down until it meets the channel (after d steps) or the last row (then across). It reaches the
    channel at row min(r + d, 6), whose elevation is 0.1 * (6 - min(r + d, 6)); so
    HAND = d + 0.1 (6 - r) - 0.1 (6 - min(r + d, 6)) = d + 0.1 (min(r + d, 6) - r).
    """
    d = np.abs(C - 3)
    return d + 0.1 * (np.minimum(R + d, 6) - R)


def test_valley_hand_with_given_streams():
    h = hand(_dem(), streams=C == 3)
    np.testing.assert_allclose(h.array, _expected_valley_hand(), atol=1e-5)
    assert h.array.dtype == np.float32
    assert h.array[3, 3] == 0 and h.array[6, 0] == pytest.approx(3.0)
    assert h.array[0, 0] == pytest.approx(3.3, abs=1e-5)  # 3 diagonal steps: 3.3 - 0.0 ... = 3 + 0.3
    assert any("7" in en for _, en in h.warnings)  # 7 stream cells reported


def test_valley_hand_from_upstream_threshold():
    # channel cells of rows 2..6 drain at least 7 cells (row 2: 9 cells); rows 0 and 1 (1 and 4 cells) do not
    h = hand(_dem(), min_upstream_cells=7)
    assert h.array[0, 3] == pytest.approx(0.2, abs=1e-5)  # 0.6 - 0.4 (its drain is row 2)
    assert h.array[1, 3] == pytest.approx(0.1, abs=1e-5)
    np.testing.assert_allclose(h.array[2:, 3], 0, atol=1e-6)
    np.testing.assert_allclose(h.array[2:, :], _expected_valley_hand()[2:, :], atol=1e-5)


def test_rivers_layer_rasterised_as_streams():
    import geopandas as gpd
    from shapely.geometry import LineString

    dem = _dem()
    x = 500_000 + 3.5 * 30  # centre of column 3
    river = gpd.GeoDataFrame(geometry=[LineString([(x, 3_000_000 - 1), (x, 3_000_000 - 209)])], crs=4549)
    h = hand(dem, rivers=river.to_crs(4490))  # another CRS: reprojected onto the DEM grid
    np.testing.assert_allclose(h.array, _expected_valley_hand(), atol=1e-4)


def test_void_is_filled_for_routing_and_left_undefined():
    arr = VALLEY.copy()
    arr[3, 5] = np.nan
    h = hand(_dem(arr), streams=C == 3)
    assert np.isnan(h.array[3, 5])
    assert np.isfinite(np.delete(h.array.ravel(), 3 * 7 + 5)).all()
    assert any("void" in en for _, en in h.warnings)


def test_no_stream_cells_gives_all_undefined_with_a_note():
    h = hand(_dem(), min_upstream_cells=10_000)
    assert np.isnan(h.array).all()
    assert any("no stream cells" in en for _, en in h.warnings)


def test_geographic_dem_is_routed_and_noted():
    h = hand(_dem(crs=4490), streams=C == 3)
    np.testing.assert_allclose(h.array[:, 3], 0, atol=1e-6)
    assert any("lon/lat" in en for _, en in h.warnings)


def test_stream_raster_on_another_grid_is_refused():
    with pytest.raises(LayerError, match="stream raster"):
        hand(_dem(), streams=np.ones((3, 3), bool))


def test_depth_from_stage():
    h = hand(_dem(), streams=C == 3)
    d = depth_from_stage(h, 1.5)
    exp = np.where(_expected_valley_hand() < 1.5, 1.5 - _expected_valley_hand(), np.nan)
    np.testing.assert_allclose(d.array, exp, atol=1e-5)
    # channel 1.5 m; first side columns 1.5 - 1.1 = 0.4 (last row 1.5 - 1.0 = 0.5); beyond dry
    assert d.array[3, 3] == pytest.approx(1.5) and d.array[3, 2] == pytest.approx(0.4, abs=1e-5)
    assert np.isnan(d.array[3, 1])
    with pytest.raises(LayerError, match="invalid stage"):
        depth_from_stage(h, -1)


def test_cli_hand_writes_metres_on_the_dem_grid(tmp_path):
    dem_path, out = tmp_path / "dem.tif", tmp_path / "hand.tif"
    write_raster(_dem(), dem_path)
    streams = _dem((C == 3).astype("uint8"))
    write_raster(streams, tmp_path / "streams.tif")
    proc = subprocess.run([sys.executable, "-m", "gis", "hand", "--dem", str(dem_path), "--out", str(out),
                           "--streams", str(tmp_path / "streams.tif"), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["defined_cells"] == 49 and info["hand_max"] == pytest.approx(3.3, abs=1e-5)
    r = read_raster(out)
    assert r.array.dtype == np.float32 and r.shape == (7, 7) and r.transform == _dem().transform
    np.testing.assert_allclose(r.array, _expected_valley_hand(), atol=1e-5)


def test_compiled_hand_equals_pyflwdirs_own_on_rough_terrain():
    """pyflwdir's HAND loop, compiled (gis.flood.hand.flwdir_hand), gives pyflwdir's numbers exactly."""
    import pyflwdir

    from gis.flood.hand import flwdir_hand

    rng = np.random.default_rng(7)
    z = (np.add.outer(np.arange(60.0), np.arange(50.0)) * 0.5 + rng.normal(0, 3, (60, 50))).astype("float32")
    flw = pyflwdir.from_dem(z, transform=Affine(30, 0, 0, 0, -30, 0))
    drain = flw.upstream_area(unit="cell") >= 20
    assert drain.sum() > 20
    ours = flwdir_hand(flw, drain, z.astype("float64"))
    theirs = flw.hand(drain=drain, elevtn=z.astype("float64"))
    assert ours.shape == z.shape and np.array_equal(ours, theirs)
    assert (ours > 0).sum() > 1000


def test_one_flow_routing_serves_every_stream_definition():
    """The routing kept between stream definitions gives the same HAND and notes as routing each time."""
    from gis.flood.hand import flow_routing

    arr = VALLEY.copy()
    arr[4, 5] = np.nan   # a void: its note comes from the routing
    dem = _dem(arr)
    routing = flow_routing(dem)
    for kw in ({"streams": C == 3}, {"min_upstream_cells": 7}):
        again = hand(dem, routing=routing, **kw)
        fresh = hand(dem, **kw)
        np.testing.assert_array_equal(again.array, fresh.array)
        assert again.warnings == fresh.warnings and any("void" in en for _, en in again.warnings)
