"""Our viewshed against GRASS GIS ``r.viewshed`` on small random DEMs (skipped when GRASS is not installed).

GRASS comes from Debian's ``grass-core`` package; CI does not install it (it is large), so these tests
run only on machines that have ``grass`` on the PATH. Both tools get the same DEM (a GeoTIFF in
EPSG:4549), the same observer cell centre, mast height above the DEM, target height 0 and range, and
the same curvature + refraction (``-c -r refraction_coeff=0.13``), or none.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from affine import Affine

from bench.cases.viewshed import grass_viewsheds, in_range_mask, read_binary
from gis.fire.viewshed import viewshed, viewshed_exact
from layers.raster import Raster, write_raster

pytestmark = pytest.mark.skipif(shutil.which("grass") is None,
                                reason="GRASS GIS is not installed (apt-get install grass-core); "
                                       "the r.viewshed comparison is skipped")

RES = 30.0
X0, Y0 = 400_000.0, 3_300_000.0   # EPSG:4549 (CGCS2000 3-degree GK CM 120E): easting, northing of the top-left


def _dem(n: int, seed: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    z = gaussian_filter(rng.normal(size=(n, n)), 4.0)
    return (500.0 + 120.0 * z / z.std()).astype("float64")


def _grass(tmp_path, dem, observers, *, range_m, curvature):
    path = tmp_path / "dem.tif"
    t = Affine(RES, 0, X0, 0, -RES, Y0)
    write_raster(Raster(dem.astype("float32"), t, "EPSG:4549", None), path, dtype="float32")
    n = dem.shape[0]
    jobs = [{"x": X0 + (c + 0.5) * RES, "y": Y0 - (r + 0.5) * RES, "h": h,
             "bounds": (X0, Y0 - n * RES, X0 + n * RES, Y0)} for r, c, h in observers]
    out = grass_viewsheds(path, jobs, tmp_path / "grass", epsg=4549, range_m=range_m, curvature=curvature)
    return [read_binary(o["path"], dem.shape) for o in out]


@pytest.mark.parametrize("curvature", [True, False], ids=["curved", "flat-earth"])
def test_exact_agrees_with_r_viewshed_on_99_percent_of_cells_in_range(tmp_path, curvature):
    dem = _dem(121, seed=7)
    observers = [(60, 60, 15.0), (20, 95, 30.0), (100, 15, 5.0), (int(np.argmax(dem) // 121),
                                                                  int(np.argmax(dem) % 121), 10.0)]
    range_m = 1700.0
    grass = _grass(tmp_path, dem, observers, range_m=range_m, curvature=curvature)
    equal = cells = 0
    for (r, c, h), g in zip(observers, grass):
        mask = in_range_mask(dem.shape, r, c, RES, range_m)
        ours = viewshed_exact(dem, RES, r, c, h, max_range_m=range_m, curvature=curvature)
        r2 = viewshed(dem, RES, r, c, h, max_range_m=range_m, curvature=curvature)
        agree = (ours[mask] == g[mask]).mean()
        assert agree >= 0.98, f"observer ({r}, {c}): exact vs r.viewshed {agree:.4f}"
        assert (r2[mask] == g[mask]).mean() >= 0.98
        # both see something and hide something: the comparison is not trivially 'all visible'
        assert 0.02 < g[mask].mean() < 0.98
        equal += int((ours[mask] == g[mask]).sum())
        cells += int(mask.sum())
    assert equal / cells >= 0.99, f"pooled agreement {equal / cells:.4f}"


def test_flat_plane_r_viewshed_and_ours_see_everything_in_range_without_curvature(tmp_path):
    dem = np.full((61, 61), 100.0)
    (g,) = _grass(tmp_path, dem, [(30, 30, 10.0)], range_m=600.0, curvature=False)
    mask = in_range_mask(dem.shape, 30, 30, RES, 600.0)
    ours = viewshed_exact(dem, RES, 30, 30, 10.0, max_range_m=600.0, curvature=False)
    assert ours[mask].all()
    assert g[mask].all()


def test_a_wall_hides_the_same_cells_in_both(tmp_path):
    dem = np.full((61, 61), 100.0)
    dem[:, 40] = 200.0                      # a 100 m wall 10 cells east of the observer
    (g,) = _grass(tmp_path, dem, [(30, 30, 10.0)], range_m=900.0, curvature=False)
    mask = in_range_mask(dem.shape, 30, 30, RES, 900.0)
    ours = viewshed_exact(dem, RES, 30, 30, 10.0, max_range_m=900.0, curvature=False)
    behind = mask.copy()
    behind[:, :41] = False
    assert behind.sum() > 100
    assert not ours[behind].any()
    assert not g[behind].any()
    assert (ours[mask] == g[mask]).mean() >= 0.99


@pytest.mark.parametrize("curvature", [True, False], ids=["curved", "flat-earth"])
def test_grass_terrain_model_written_out_reproduces_r_viewshed(tmp_path, curvature):
    """``bench.grass_model`` (r.viewshed's corner/centre/corner gradients, interpolated by angle) gives
    r.viewshed's cells exactly: the disagreement of our reference with GRASS is the terrain model."""
    from bench.grass_model import grass_model_viewshed

    dem = _dem(121, seed=7)
    observers = [(60, 60, 15.0), (20, 95, 30.0), (100, 15, 5.0), (3, 3, 12.0)]
    grass = _grass(tmp_path, dem, observers, range_m=1700.0, curvature=curvature)
    for (r, c, h), g in zip(observers, grass):
        mask = in_range_mask(dem.shape, r, c, RES, 1700.0)
        model = grass_model_viewshed(dem.astype("float32"), RES, r, c, h, max_range_m=1700.0, curvature=curvature)
        assert (model[mask] == g[mask]).all(), (r, c)
        assert 0.02 < g[mask].mean() < 0.98
        # while our reference, sampling the terrain where the sight line crosses rows/columns, differs a little
        ours = viewshed_exact(dem, RES, r, c, h, max_range_m=1700.0, curvature=curvature)
        assert 0.95 < (ours[mask] == g[mask]).mean() < 1.0
