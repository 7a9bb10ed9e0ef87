"""Walking legs over the terrain (gis.flood.walking): Tobler speeds, barriers, water, windows, and an
independent check against scikit-image's MCP_Geometric on flat ground."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine
from shapely.geometry import LineString

from gis.flood.walking import OFF_PATH_FACTOR, WADE_FACTOR, build_surface, tobler_kmh
from layers.raster import Raster

CRS = pyproj.CRS.from_epsg(4549)
X0, Y0 = 500_000.0, 3_000_000.0
CELL = 30.0


def _dem(z: np.ndarray) -> Raster:
    return Raster(np.asarray(z, dtype="float32"), Affine(CELL, 0, X0, 0, -CELL, Y0), CRS, None, name="dem")


def _xy(r: float, c: float) -> tuple[float, float]:
    return X0 + (c + 0.5) * CELL, Y0 - (r + 0.5) * CELL


def _cell(s, r: int, c: int) -> int:
    return r * s.shape[1] + c


def test_tobler_speeds():
    assert tobler_kmh(0.0) == pytest.approx(6 * math.exp(-0.175))      # 5.04 km/h on the flat
    assert tobler_kmh(-0.05) == pytest.approx(6.0)                      # fastest on a gentle descent
    assert tobler_kmh(0.3) < tobler_kmh(-0.3) < tobler_kmh(0.0)         # uphill is slower than downhill


def test_flat_ground_matches_mcp_geometric():
    """On flat ground the cost is isotropic: the same times as scikit-image's MCP_Geometric, an independent solver."""
    from skimage.graph import MCP_Geometric

    s = build_surface(_dem(np.zeros((40, 50))), limit_m=10_000)
    start = _cell(s, 20, 25)
    ours = s.reach_from(start).time.reshape(s.shape)
    secs_per_cell = CELL / (tobler_kmh(0.0) * OFF_PATH_FACTOR / 3.6)
    mcp = MCP_Geometric(np.full(s.shape, secs_per_cell))
    theirs, _ = mcp.find_costs([(20, 25)])
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_each_leg_costs_what_its_climb_says():
    """The time of a walk is the sum over its steps of the step's length at Tobler's speed for its slope."""
    rng = np.random.default_rng(3)
    z = np.cumsum(np.cumsum(rng.normal(0, 1.5, (60, 60)), axis=0), axis=1) * 0.3
    s = build_surface(_dem(z), limit_m=5_000)
    reach = s.reach_from(_cell(s, 5, 5))
    for target in (_cell(s, 50, 40), _cell(s, 30, 55), _cell(s, 55, 3)):
        path = reach.path(target)
        assert path[0] == _cell(s, 5, 5) and path[-1] == target
        r, c = np.divmod(path, s.shape[1])
        run = np.hypot(np.diff(r) * CELL, np.diff(c) * CELL)
        rise = np.diff(z[r, c])
        expected = float((run / (tobler_kmh(rise / run) * OFF_PATH_FACTOR / 3.6)).sum())
        assert reach.time[target] == pytest.approx(expected, rel=1e-6)   # the DEM holds float32 metres
        assert s.path_time(path) == pytest.approx(expected, rel=1e-6)


def test_walk_goes_through_the_pass_not_over_the_peak():
    """Two valleys split by a 300 m ridge with a 40 m saddle: the walk crosses at the saddle."""
    rows, cols = 60, 80
    r, c = np.mgrid[0:rows, 0:cols]
    ridge = 300.0 * np.exp(-((c - 40) / 4.0) ** 2)
    saddle = 1.0 - (1 - 40.0 / 300.0) * np.exp(-((r - 45) / 3.0) ** 2)   # the ridge drops to 40 m around row 45
    z = ridge * saddle
    s = build_surface(_dem(z), limit_m=20_000)
    reach = s.reach_from(_cell(s, 10, 10))
    path = reach.path(_cell(s, 10, 70))
    pr, pc = np.divmod(path, cols)
    top = np.argmax(z[pr, pc])
    assert z[pr, pc].max() < 60 and abs(pr[top] - 45) <= 3            # crosses near the saddle, under 60 m
    assert s.path_length(path) > 60 * CELL                            # a detour, not the straight 1.8 km


def test_river_is_a_barrier_except_at_a_crossing():
    z = np.zeros((30, 30))
    river = gpd.GeoDataFrame(geometry=[LineString([_xy(-1, 15), _xy(31, 15)])], crs=CRS)
    s = build_surface(_dem(z), rivers=river, limit_m=10_000)
    reach = s.reach_from(_cell(s, 15, 5))
    assert not np.isfinite(reach.time[_cell(s, 15, 25)])               # no way across
    bridge = gpd.GeoDataFrame({"road_class": ["path"]}, geometry=[LineString([_xy(25, 10), _xy(25, 20)])], crs=CRS)
    s2 = build_surface(_dem(z), rivers=river, roads=bridge, limit_m=10_000)
    reach2 = s2.reach_from(_cell(s2, 15, 5))
    assert np.isfinite(reach2.time[_cell(s2, 15, 25)])
    pr, _ = np.divmod(reach2.path(_cell(s2, 15, 25)), 30)
    assert 24 <= pr.max() <= 26                                         # over the bridge at row 25


def test_no_slipping_between_barrier_cells_that_touch_at_a_corner():
    z = np.zeros((20, 20))
    diag = gpd.GeoDataFrame(geometry=[LineString([_xy(-0.5, -0.5), _xy(19.5, 19.5)])], crs=CRS)
    s = build_surface(_dem(z), rivers=diag, limit_m=10_000)
    reach = s.reach_from(_cell(s, 2, 15))
    assert not np.isfinite(reach.time[_cell(s, 15, 2)])


def test_water_is_left_never_entered():
    """A walk that starts in the water goes to shallower water until it is out; from dry land it never enters."""
    z = np.zeros((20, 40))
    depth = np.full((20, 40), np.nan, dtype="float32")
    depth[:, 10:30] = 1.0                 # a band of water 20 cells wide
    depth[:, 18:22] = 2.0                 # deeper in the middle
    s = build_surface(_dem(z), depth=Raster(depth, _dem(z).transform, CRS, None), limit_m=10_000)
    dry_left = s.reach_from(_cell(s, 10, 5))
    assert not np.isfinite(dry_left.time[_cell(s, 10, 35)])            # the flood is never crossed
    assert not np.isfinite(dry_left.time[_cell(s, 10, 12)])            # nor entered
    wet = s.reach_from(_cell(s, 10, 12))                               # a home in 1 m of water
    assert np.isfinite(wet.time[_cell(s, 10, 5)])                      # walks out to the near bank
    assert not np.isfinite(wet.time[_cell(s, 10, 35)])                 # not through the deeper middle
    path = wet.path(_cell(s, 10, 5))
    assert np.all(np.diff(np.nan_to_num(depth.ravel()[path])) <= 0)    # never deeper
    # wading is slower: two steps into water at WADE_FACTOR of the speed, then one step onto dry land
    secs = CELL / (tobler_kmh(0.0) * OFF_PATH_FACTOR / 3.6)
    assert wet.time[_cell(s, 10, 9)] == pytest.approx(2 * secs / WADE_FACTOR + secs, rel=1e-6)


def test_windowed_search_finds_every_walk_within_the_limit():
    rng = np.random.default_rng(11)
    z = np.cumsum(rng.normal(0, 1, (80, 80)), axis=1) * 0.5
    s = build_surface(_dem(z), limit_m=900)
    start = _cell(s, 40, 40)
    full = s.reach_from(start)
    local = next(s.local(np.array([start]), towards=False))
    cells = np.flatnonzero(np.isfinite(full.time))
    kept = [c for c in cells if s.path_length(full.path(c)) <= 900]
    assert kept
    t_local = local.times(np.array(kept))
    assert np.all(np.isfinite(t_local))
    np.testing.assert_allclose(t_local, full.time[kept], rtol=1e-9)   # the same least-time walks
    np.testing.assert_array_equal(local.path(kept[-1]), full.path(kept[-1]))


@pytest.mark.parametrize("towards", [False, True])
def test_many_paths_at_once_equal_each_path(towards):
    """``LocalReach.paths`` (one compiled pass) gives the same cells and lengths as ``path`` one by one."""
    rng = np.random.default_rng(3)
    z = np.cumsum(rng.normal(0, 1, (60, 70)), axis=0) * 0.7
    s = build_surface(_dem(z), limit_m=800)
    local = next(s.local(np.array([_cell(s, 30, 33)]), towards=towards))
    reached = local.cells[np.isfinite(local.time_local)]
    pick = rng.choice(reached, size=min(40, len(reached)), replace=False)
    seqs, lengths = local.paths(pick)
    assert len(seqs) == len(pick) > 10
    for c, seq, length in zip(pick, seqs, lengths, strict=True):
        one = local.path(int(c))
        np.testing.assert_array_equal(seq, one)
        assert length == pytest.approx(s.path_length(one), rel=1e-12)
        assert (seq[0] if towards else seq[-1]) == c
    with pytest.raises(ValueError):
        local.paths(np.array([local.cells[0] - 1 if local.cells[0] > 0 else s.open.size + 5]))
