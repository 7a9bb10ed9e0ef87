"""Camera viewsheds: exact reference vs brute force, R2 sweep vs exact, invariants, coverage and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine
from shapely.geometry import Point

from gis.fire.viewshed import EARTH_RADIUS, coverage, viewshed, viewshed_exact
from layers.raster import Raster, read_raster, write_raster

ROOT = Path(__file__).resolve().parents[1]
BOTH = pytest.mark.parametrize("fn", [viewshed, viewshed_exact], ids=["r2", "exact"])


def _smooth_random(n: int, seed: int, sigma: float, amp: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.random.default_rng(seed).normal(size=(n, n)), sigma) * amp


def _in_range(shape, row, col, res, rng) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.hypot(yy - row, xx - col) * res <= rng


def _brute(dem, res, r0, c0, oh, th=0.0, k=0.13, curvature=True):
    """Pure-Python line of sight by the module docstring's definition, written independently."""
    nr, nc = dem.shape
    coef = (1 - k) / (2 * EARTH_RADIUS) if curvature else 0.0
    vis = np.zeros(dem.shape, bool)
    z0 = dem[r0, c0] + oh
    for r in range(nr):
        for c in range(nc):
            if math.isnan(dem[r, c]):
                continue
            dr, dc = r - r0, c - c0
            m = max(abs(dr), abs(dc))
            if m == 0:
                vis[r, c] = True
                continue
            dt = res * math.hypot(dr, dc)
            zt = dem[r, c] + th - coef * dt * dt
            ok = True
            for i in range(1, m):
                t = i / m
                if abs(dr) >= abs(dc):
                    rr, x = r0 + round(t * dr), c0 + t * dc
                    lo = math.floor(x)
                    f = x - lo
                    a, b = dem[rr, lo], (dem[rr, lo + 1] if f > 0 else dem[rr, lo])
                else:
                    rr, x = c0 + round(t * dc), r0 + t * dr
                    lo = math.floor(x)
                    f = x - lo
                    a, b = dem[lo, rr], (dem[lo + 1, rr] if f > 0 else dem[lo, rr])
                vals = [v for v in (a, b) if not math.isnan(v)]
                if not vals:
                    continue
                zs = vals[0] if len(vals) == 1 else a + f * (b - a)
                ds = t * dt
                # blocked when the terrain is strictly above the sight line at this crossing
                if zs - coef * ds * ds > z0 + t * (zt - z0) + 1e-9:
                    ok = False
                    break
            vis[r, c] = ok
    return vis


# ---- exact reference ------------------------------------------------------------------------
@pytest.mark.parametrize("seed,oh,th", [(1, 5.0, 0.0), (2, 20.0, 0.0), (3, 2.0, 15.0)])
def test_exact_equals_pure_python_brute_force(seed, oh, th):
    dem = _smooth_random(15, seed, 1.0, 80.0)
    res = 30.0
    got = viewshed_exact(dem, res, 7, 6, oh, target_h=th)
    want = _brute(dem, res, 7, 6, oh, th)
    assert (got == want).all()
    assert 0 < got.sum() < got.size  # a real mix of seen and hidden


def test_exact_equals_brute_force_without_curvature_and_off_centre():
    dem = _smooth_random(15, 9, 1.0, 50.0)
    got = viewshed_exact(dem, 500.0, 0, 14, 10.0, curvature=False)
    assert (got == _brute(dem, 500.0, 0, 14, 10.0, curvature=False)).all()


# ---- R2 sweep vs exact on random terrain ------------------------------------------------------
@pytest.mark.parametrize("seed,sigma,amp,oh", [(11, 1.5, 300, 10), (12, 3, 300, 2), (13, 3, 300, 30),
                                              (14, 6, 300, 10), (15, 6, 300, 30)])
def test_r2_agrees_with_exact(seed, sigma, amp, oh):
    dem = _smooth_random(101, seed, sigma, amp)
    fast = viewshed(dem, 30.0, 50, 50, oh, max_range_m=1400)
    exact = viewshed_exact(dem, 30.0, 50, 50, oh, max_range_m=1400)
    m = _in_range(dem.shape, 50, 50, 30.0, 1400)
    assert (fast == exact)[m].mean() >= 0.99
    assert not fast[~m].any() and not exact[~m].any()


def test_r2_agrees_near_dem_edge():
    dem = _smooth_random(80, 21, 3, 200)
    fast = viewshed(dem, 30.0, 5, 70, 15.0, max_range_m=1500)
    exact = viewshed_exact(dem, 30.0, 5, 70, 15.0, max_range_m=1500)
    m = _in_range(dem.shape, 5, 70, 30.0, 1500)
    assert (fast == exact)[m].mean() >= 0.99


# ---- closed-form cases ------------------------------------------------------------------------
@BOTH
def test_flat_plane_all_visible_without_curvature(fn):
    dem = np.full((61, 61), 100.0)
    v = fn(dem, 30.0, 30, 30, 10.0, curvature=False, max_range_m=800)
    assert (v == _in_range(dem.shape, 30, 30, 30.0, 800)).all()
    v0 = fn(dem, 30.0, 30, 30, 0.0, curvature=False)  # eye on the ground: grazing, still visible
    assert v0.all()


@BOTH
def test_curvature_horizon_on_long_flat_plane(fn):
    res, h, k = 30.0, 10.0, 0.13
    dem = np.zeros((3, 900))
    v = fn(dem, res, 1, 0, h, refraction=k)[1]
    horizon = math.sqrt(2 * EARTH_RADIUS * h / (1 - k))  # about 12.1 km
    d = np.arange(900) * res
    assert v[d < horizon - res].all()
    assert not v[d > horizon + res].any()
    assert fn(dem, res, 1, 0, h, curvature=False)[1].all()
    # a target 20 m tall is seen further: its own horizon adds sqrt(2 R 20 / (1 - k))
    v20 = fn(dem, res, 1, 0, h, target_h=20.0, refraction=k)[1]
    far = horizon + math.sqrt(2 * EARTH_RADIUS * 20.0 / (1 - k))
    assert v20[d < min(far - res, d[-1])].all()


@BOTH
def test_single_ridge(fn):
    # observer at column 0 (eye 10 m), ridge 50 m high at column 10, flat ground 0 m elsewhere, res 10 m
    dem = np.zeros((21, 40))
    dem[:, 10] = 50.0
    v = fn(dem, 10.0, 10, 0, 10.0, curvature=False)
    row = v[10]
    assert row[:11].all()  # up to and including the ridge
    # behind the ridge the ground at column c is hidden when the slope to it, -10 / c, is below
    # the ridge's (50 - 10) / 10 = 4: every cell behind is hidden
    assert not row[11:].any()
    # a 400 m target at column 30: slope (400 - 10) / 30 = 13 > 4, seen over the ridge
    tall = fn(dem, 10.0, 10, 0, 10.0, curvature=False, target_h=400.0)[10]
    assert tall[30]
    # target_h 100 m: seen where (100 - 10) / c >= 4, i.e. c <= 22.5
    mid = fn(dem, 10.0, 10, 0, 10.0, curvature=False, target_h=100.0)[10]
    assert mid[11:23].all() and not mid[23:].any()


@BOTH
def test_pit(fn):
    # observer on a plateau at 100 m looking into a pit of depth 50 m and radius 5 cells 15 cells away
    dem = np.full((41, 41), 100.0)
    yy, xx = np.mgrid[:41, :41]
    pit = np.hypot(yy - 20, xx - 35) <= 5
    dem[pit] = 50.0
    v = fn(dem, 10.0, 20, 5, 2.0, curvature=False)
    # the pit floor at the centre (20, 35): rim at column 30 is 100 m 250 m away, eye 102 m:
    # slope to rim (100 - 102) / 250 = -0.008 > slope to the floor (50 - 102) / 300 = -0.173: hidden
    assert not v[20, 35]
    # far wall of the pit is ground at 100 m again (column 41 is off the grid), the plateau is seen
    assert v[~pit].all()
    # the observer in the pit centre sees the floor but not the plateau beyond the walls
    inside = fn(dem, 10.0, 20, 35, 2.0, curvature=False)
    assert inside[pit].all()
    assert not inside[20, 25]


@BOTH
def test_wall_blocks(fn):
    dem = _smooth_random(61, 31, 3, 30)
    before = fn(dem, 30.0, 30, 30, 10.0)
    walled = dem.copy()
    walled[:, 40] = 5000.0
    after = fn(walled, 30.0, 30, 30, 10.0)
    assert not after[:, 41:].any()
    assert before[:, 41:].any()


@pytest.mark.parametrize("seed", [41, 42])
def test_higher_mast_never_sees_less(seed):
    dem = _smooth_random(81, seed, 3, 250)
    for fn in (viewshed_exact,):
        low = fn(dem, 30.0, 40, 40, 5.0)
        high = fn(dem, 30.0, 40, 40, 40.0)
        assert not (low & ~high).any()
        assert high.sum() > low.sum()
    # the R2 sweep keeps the property too: slopes of blockers fall faster than targets' as the eye rises
    low = viewshed(dem, 30.0, 40, 40, 5.0)
    high = viewshed(dem, 30.0, 40, 40, 40.0)
    assert not (low & ~high).any()


@BOTH
def test_azimuth_fov_sector(fn):
    dem = np.zeros((41, 41))
    v = fn(dem, 10.0, 20, 20, 10.0, azimuth=90.0, fov=90.0, curvature=False)  # looking east
    assert v[20, 30] and v[15, 30] and v[25, 30]  # east, 45 degrees either side at the edge
    assert not v[20, 10] and not v[10, 20] and not v[30, 20]  # west, north, south
    assert not v[8, 30]  # bearing atan2(10, 12) = 40 degrees from north, outside 45..135
    assert v[12, 30]  # atan2(10, 8) = 51 degrees, inside
    assert v[20, 20]  # the observer cell
    north = fn(dem, 10.0, 20, 20, 10.0, azimuth=350.0, fov=40.0, curvature=False)
    assert north[0, 20] and north[0, 16] and not north[20, 40] and not north[40, 20]
    assert fn(dem, 10.0, 20, 20, 10.0, azimuth=90.0, curvature=False).all()  # fov missing: 360


@BOTH
def test_nan_cells_not_visible_and_do_not_block(fn):
    dem = np.zeros((21, 21))
    dem[10, 12:14] = np.nan
    dem[5:8, 5:8] = 9999.0
    v = fn(dem, 10.0, 10, 10, 2.0, curvature=False)
    assert not v[10, 12] and not v[10, 13]
    assert v[10, 14:].all()  # NaN in between does not block
    dem2 = np.zeros((21, 21))
    dem2[10, 12:14] = np.nan
    assert fn(dem2, 10.0, 10, 10, 2.0, curvature=False).sum() == 21 * 21 - 2
    dem3 = np.zeros((5, 5))
    dem3[2, 2] = np.nan
    assert not fn(dem3, 10.0, 2, 2, 2.0).any()  # observer on a void sees nothing


def test_range_limit():
    dem = np.zeros((101, 101))
    v = viewshed(dem, 30.0, 50, 50, 10.0, max_range_m=1000, curvature=False)
    assert (v == _in_range(dem.shape, 50, 50, 30.0, 1000)).all()


# ---- coverage ----------------------------------------------------------------------------------
def _raster(dem: np.ndarray, x0=500_000.0, y0=3_300_000.0, res=30.0, epsg=4549) -> Raster:
    return Raster(dem, Affine(res, 0, x0, 0, -res, y0), pyproj.CRS.from_epsg(epsg), None, name="dem.tif")


def test_coverage_two_cameras_and_skips():
    dem = np.zeros((60, 120))
    dem[:, 60] = 500.0  # a wall splitting the area
    r = _raster(dem)
    x0, y0 = 500_000.0, 3_300_000.0
    pts = [Point(x0 + 30 * 30.5, y0 - 30 * 30.5), Point(x0 + 90 * 30.5, y0 - 30 * 30.5),
           Point(x0 + 59 * 30.5, y0 - 30 * 30.5), Point(x0 - 5000, y0)]
    cams = gpd.GeoDataFrame({"name": ["西", "东", "近墙", "外"], "height": [10.0, 10.0, np.nan, 10.0],
                             "range": [3000.0, 3000.0, 600.0, 3000.0], "azimuth": [np.nan] * 4,
                             "fov": [np.nan] * 4}, geometry=pts, crs="EPSG:4549")
    count, first, notes, info = coverage(r, cams, curvature=False, return_in_range=True)
    assert count.dtype == np.uint16 and first.dtype == np.int32 and count.shape == dem.shape
    assert info["used"] == 3 and info["skipped"] == 1
    en = " ".join(e for _, e in notes)
    assert "outside the DEM" in en and "外" in en and "no mast height" in en and "近墙" in en
    # west camera sees the west half; east the east half; the wall is seen from both sides
    assert count[30, 10] >= 1 and first[30, 10] == 0
    assert count[30, 110] == 1 and first[30, 110] == 1
    assert count[30, 60] >= 2
    # the near-wall camera (10 m default mast, 600 m range) adds a second view near it
    assert count[30, 50] == 2 and first[30, 50] == 0
    exact_w = viewshed_exact(dem, 30.0, 30, 30, 10.0, max_range_m=3000, curvature=False)
    assert (count[:, :60] >= 1).mean() >= 0.99 * exact_w[:, :60].mean()
    # range override
    c2, _, _ = coverage(r, cams.iloc[:1], range_m=300, curvature=False)
    assert c2[30, 40] == 1 and c2[30, 45] == 0


def test_coverage_dem_in_degrees():
    dem = np.zeros((40, 40))
    r = Raster(dem, Affine(0.0005, 0, 120.0, 0, -0.0005, 30.0), pyproj.CRS.from_epsg(4490), None, name="d.tif")
    cams = gpd.GeoDataFrame({"name": ["a"], "height": [10.0], "range": [500.0]},
                            geometry=[Point(120.01, 29.99)], crs="EPSG:4490")
    count, first, notes = coverage(r, cams)
    assert count.shape == dem.shape
    assert any("degrees" in e for _, e in notes)
    assert count[20, 20] == 1 and count[0, 0] == 0  # 1.5 km away from the camera


# ---- CLI ---------------------------------------------------------------------------------------
def test_cli_json(tmp_path):
    dem = _smooth_random(80, 5, 3, 50) + 300.0
    x0, y0 = 500_000.0, 3_320_000.0  # EPSG:4549: central meridian 120E, about 30N
    write_raster(_raster(dem, x0, y0, 30.0), tmp_path / "dem.tif", dtype="float32")
    to_ll = pyproj.Transformer.from_crs(4549, 4490, always_xy=True)
    lon1, lat1 = to_ll.transform(x0 + 40 * 30 + 15, y0 - 40 * 30 - 15)
    lon2, lat2 = to_ll.transform(x0 + 10 * 30 + 15, y0 - 70 * 30 - 15)
    (tmp_path / "cams.csv").write_text(
        "名称,经度,纬度,架设高度,监测半径\n"
        f"一号,{lon1:.7f},{lat1:.7f},20,1000\n"
        f"二号,{lon2:.7f},{lat2:.7f},,800\n"
        f"外面,{lon1 + 1:.7f},{lat1:.7f},20,1000\n", encoding="utf-8")
    out = tmp_path / "count.tif"
    p = subprocess.run([sys.executable, "-m", "gis", "viewshed", "--dem", str(tmp_path / "dem.tif"), "--cameras",
                        str(tmp_path / "cams.csv"), "--out", str(out), "--json", "--lang", "en"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    assert js["cameras_used"] == 2 and js["cameras_skipped"] == 1
    assert 0 < js["cells_visible"] <= js["cells_in_range"] <= 80 * 80
    assert js["visible_fraction"] == pytest.approx(js["cells_visible"] / js["cells_in_range"], abs=1e-6)
    assert any("outside" in n for n in js["notes"]) and any("mast height" in n for n in js["notes"])
    r = read_raster(out)
    assert r.array.dtype == np.uint16 and r.shape == (80, 80)
    assert r.transform == _raster(dem, x0, y0, 30.0).transform
    assert int((r.array > 0).sum()) == js["cells_visible"]
    assert r.array[40, 40] >= 1
    # one camera at a time, with --range and --no-curvature
    (tmp_path / "one.csv").write_text(f"名称,经度,纬度,架设高度,监测半径\n一号,{lon1:.7f},{lat1:.7f},20,1000\n",
                                      encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "gis", "viewshed", "--dem", str(tmp_path / "dem.tif"), "--cameras",
                        str(tmp_path / "one.csv"), "--out", str(tmp_path / "one.tif"), "--range", "300",
                        "--no-curvature", "--target-height", "20", "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    assert js["cameras_used"] == 1
    assert js["cells_in_range"] == int(_in_range((80, 80), 40, 40, 30.0, 300).sum())


def test_coverage_tallies_each_cameras_flagged_cells():
    """Per-camera counts of seen forest (bit 1) and high-risk (bit 2) cells equal its own viewshed's."""
    import geopandas as gpd
    from affine import Affine
    from shapely.geometry import Point

    from gis.fire.viewshed import coverage, viewshed
    from layers.raster import Raster

    rng = np.random.default_rng(5)
    z = rng.normal(0, 6, (60, 60)).cumsum(axis=0) / 4 + 100
    t = Affine(30, 0, 500000, 0, -30, 3300000)
    dem = Raster(z, t, "EPSG:4549", None)
    flags = np.zeros(z.shape, np.uint8)
    flags[:, :30] |= 1
    flags[10:40, 10:50] |= 2
    cams = gpd.GeoDataFrame({"name": ["a", "off", "b"], "height": [15.0, 10.0, 25.0], "range": [600.0, 500.0, 900.0],
                             "status": [None, "damaged", None]},
                            geometry=[Point(500000 + 15 * 30 + 15, 3300000 - 20 * 30 - 15), Point(500100, 3299900),
                                      Point(500000 + 45 * 30 + 15, 3300000 - 40 * 30 - 15)], crs="EPSG:4549")
    count, first, notes, info = coverage(dem, cams, return_in_range=True, tally=flags)
    tal = info["tallies"]
    assert tal.shape == (3, 8) and not tal[1].any()      # the damaged camera is not counted
    for i, (r, c, h, rg) in ((0, (20, 15, 15.0, 600.0)), (2, (40, 45, 25.0, 900.0))):
        vis = viewshed(z, 30.0, r, c, h, max_range_m=rg)
        assert tal[i, 0] == int((vis & (flags & 1 > 0)).sum())
        assert tal[i, 1] == int((vis & (flags & 2 > 0)).sum())


def test_sector_sweep_agrees_with_exact_and_with_the_full_circle():
    """A sector camera's R2 (rays outside the sector skipped) agrees with the exact line of sight, and
    inside the sector with the 360-degree sweep; nothing outside the sector is seen."""
    from gis.fire.viewshed import viewshed, viewshed_exact

    rng = np.random.default_rng(11)
    z = rng.normal(0, 5, (121, 121)).cumsum(axis=1) / 3 + rng.normal(0, 5, (121, 121)).cumsum(axis=0) / 3
    for az, fov in ((30.0, 60.0), (200.0, 100.0), (350.0, 20.0)):
        sec = viewshed(z, 30.0, 60, 60, 20.0, azimuth=az, fov=fov, max_range_m=1700)
        ex = viewshed_exact(z, 30.0, 60, 60, 20.0, azimuth=az, fov=fov, max_range_m=1700)
        full = viewshed(z, 30.0, 60, 60, 20.0, max_range_m=1700)
        rr, cc = np.mgrid[0:121, 0:121]
        bearing = np.degrees(np.arctan2(cc - 60, -(rr - 60))) % 360
        inside = np.abs((bearing - az + 180) % 360 - 180) <= fov / 2 + 1e-9
        inside[60, 60] = True
        assert not (sec & ~inside).any()
        assert (sec == ex)[inside].mean() >= 0.99
        assert (sec == full)[inside].mean() >= 0.99


# ---- the sweep's own properties ---------------------------------------------------------------------
def _axes_and_diagonals(shape, r, c) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    dr, dc = rr - r, cc - c
    return (dr == 0) | (dc == 0) | (np.abs(dr) == np.abs(dc))


@pytest.mark.parametrize("seed,sigma,oh", [(31, 1.5, 10), (32, 3, 2), (33, 6, 30)])
def test_sweep_is_exact_on_its_rays_and_within_0_1_percent_elsewhere(seed, sigma, oh):
    """Cells on a ray (axes and diagonals) get the reference's answer; 99.9 % of all cells in range do."""
    dem = _smooth_random(121, seed, sigma, 300)
    fast = viewshed(dem, 30.0, 60, 60, oh, max_range_m=1700)
    exact = viewshed_exact(dem, 30.0, 60, 60, oh, max_range_m=1700)
    m = _in_range(dem.shape, 60, 60, 30.0, 1700)
    assert 0.02 < fast[m].mean() < 0.98      # a real mix of seen and hidden
    assert (fast == exact)[m & _axes_and_diagonals(dem.shape, 60, 60)].all()
    assert (fast == exact)[m].mean() >= 0.999
    # float32 elevations (as read from a float32 GeoTIFF) are swept as they are: the same cells
    dem32 = dem.astype(np.float32)
    assert (viewshed(dem32, 30.0, 60, 60, oh, max_range_m=1700)
            == viewshed(dem32.astype(np.float64), 30.0, 60, 60, oh, max_range_m=1700)).all()


@pytest.mark.parametrize("hole", [True, False], ids=["voids", "no-voids"])
def test_sweep_at_the_dem_edge_equals_the_sweep_on_the_dem_padded_with_voids(hole):
    """Terrain beyond the edge neither blocks nor is seen: the range square clipped at the edge gives the
    cells of the same DEM inside a border of voids (the void path), and agrees with the reference."""
    dem = _smooth_random(100, 34, 3, 300)
    if hole:
        dem[40:46, 60:70] = np.nan
    pad = np.full((220, 220), np.nan)
    pad[60:160, 60:160] = dem
    for r, c, kw in ((3, 50, {}), (50, 95, {}), (0, 0, {}), (50, 50, {"azimuth": 80.0, "fov": 100.0}),
                     (8, 8, {"azimuth": 135.0, "fov": 60.0}), (99, 99, {"azimuth": 300.0, "fov": 90.0})):
        fast = viewshed(dem, 30.0, r, c, 15.0, max_range_m=1500, **kw)
        padded = viewshed(pad, 30.0, r + 60, c + 60, 15.0, max_range_m=1500, **kw)
        assert (fast == padded[60:160, 60:160]).all() and not padded[:60].any() and not padded[160:].any()
        exact = viewshed_exact(dem, 30.0, r, c, 15.0, max_range_m=1500, **kw)
        m = exact | (viewshed_exact(dem, 30.0, r, c, 1e5, max_range_m=1500, **kw))   # cells within the limits
        assert m.sum() > 500
        assert not fast[~m].any()
        assert (fast == exact)[m].mean() >= 0.995, (r, c, kw)


def _cameras(points, **cols) -> gpd.GeoDataFrame:
    x0, y0 = 500_000.0, 3_300_000.0
    geoms = [Point(x0 + (c + 0.5) * 30, y0 - (r + 0.5) * 30) for r, c in points]
    return gpd.GeoDataFrame({"name": [f"c{i}" for i in range(len(points))], **cols}, geometry=geoms, crs="EPSG:4549")


_CAMS = [(20, 20), (75, 110), (140, 5), (70, 70), (3, 146)]
_CAM_COLS = {"height": [15.0, 30.0, 8.0, 20.0, 12.0], "range": [1800.0, 2500.0, 1500.0, 900.0, 2000.0],
             "azimuth": [np.nan, 45.0, np.nan, 200.0, np.nan], "fov": [np.nan, 100.0, np.nan, 60.0, np.nan]}


def test_coverage_is_the_sum_of_the_viewsheds_whatever_the_threads():
    z = _smooth_random(150, 51, 4, 300) + 500.0
    r = _raster(z)
    cams = _cameras(_CAMS, **_CAM_COLS)
    count, first, notes, info = coverage(r, cams, return_in_range=True, threads=1)
    want = np.zeros(z.shape, int)
    lowest = np.full(z.shape, -1)
    limits = np.zeros(z.shape, bool)
    for i, (row, col) in enumerate(_CAMS):
        kw = {"azimuth": _CAM_COLS["azimuth"][i], "fov": _CAM_COLS["fov"][i]} if i in (1, 3) else {}
        v = viewshed(z, 30.0, row, col, _CAM_COLS["height"][i], max_range_m=_CAM_COLS["range"][i], **kw)
        want += v
        lowest[(lowest < 0) & v] = i
        limits |= viewshed_exact(z, 30.0, row, col, 1e5, max_range_m=_CAM_COLS["range"][i], **kw)
    assert (count == want).all() and (first == lowest).all() and (info["in_range"] == limits).all()
    assert count.max() >= 2 and info["used"] == 5 and info["cached"] == 0
    assert set(info["cpu_s"]) == {"grid", "cameras", "masks", "cached", "sweep", "merge", "finish"}
    assert info["cpu_s"]["sweep"] > 0 and min(info["cpu_s"].values()) >= 0
    c2, f2, _, i2 = coverage(r, cams, return_in_range=True, threads=3)
    assert (c2 == count).all() and (f2 == first).all() and (i2["in_range"] == info["in_range"]).all()


def test_cache_sweeps_only_the_cameras_added_or_changed():
    from gis.fire.viewshed_cache import ViewshedCache

    z = _smooth_random(150, 52, 4, 300) + 500.0
    r = _raster(z)
    cams = _cameras(_CAMS, **_CAM_COLS)
    cache = ViewshedCache(50)
    flags = (z > 520).astype(np.uint8)
    plain = coverage(r, cams, return_in_range=True, tally=flags)
    first = coverage(r, cams, return_in_range=True, tally=flags, cache=cache)
    again = coverage(r, cams, return_in_range=True, tally=flags, cache=cache)
    assert first[3]["cached"] == 0 and again[3]["cached"] == 5 and len(cache) == 5
    for got in (first, again):
        for a, b in zip(got[:2], plain[:2]):
            assert (a == b).all()
        assert (got[3]["in_range"] == plain[3]["in_range"]).all()
        assert (got[3]["tallies"] == plain[3]["tallies"]).all()
    # one camera added, one mast raised: two sweeps, the rest from the cache, the same figures as no cache
    more = _cameras(_CAMS + [(100, 40)], height=[*_CAM_COLS["height"][:3], 35.0, _CAM_COLS["height"][4], 10.0],
                    range=[*_CAM_COLS["range"], 1200.0], azimuth=[*_CAM_COLS["azimuth"], np.nan],
                    fov=[*_CAM_COLS["fov"], np.nan])
    got = coverage(r, more, return_in_range=True, cache=cache)
    want = coverage(r, more, return_in_range=True)
    assert got[3]["cached"] == 4 and (got[0] == want[0]).all() and (got[1] == want[1]).all()
    # another DEM: nothing from the cache
    z2 = z.copy()
    z2[75, 75] += 50.0
    assert coverage(_raster(z2), cams, return_in_range=True, cache=cache)[3]["cached"] == 0
    # the budget holds: least recently used entries go first
    small = ViewshedCache(0.01)
    coverage(r, cams, cache=small)
    assert 0 < len(small) < 5 and small.nbytes <= 10_000


def test_cameras_with_nothing_relevant_in_range_are_not_swept():
    z = _smooth_random(150, 53, 4, 300) + 500.0
    cams = _cameras([(20, 20), (130, 130)], height=[15.0, 15.0], range=[900.0, 900.0])
    forest = np.zeros(z.shape, bool)
    forest[10:40, 10:40] = True
    count, first, notes, info = coverage(_raster(z), cams, return_in_range=True, relevant=forest)
    assert info["not_relevant"] == ["c1"] and info["used"] == 1
    assert any(n.code == "cameras_no_forest_in_range" and "c1" in n.en for n in notes)
    alone = coverage(_raster(z), cams.iloc[:1])[0]
    assert (count == alone).all() and count[130, 130] == 0
