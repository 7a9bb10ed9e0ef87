"""Run the viewshed sweep on the benchmark's sample cameras, for instruction, cache and branch counts.

The machine the benchmarks run on is a VM without hardware performance counters, so the sweep's
instructions, cache misses and branch mispredictions are counted by simulation::

    valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes python -m bench.sweep_profile DIR --repeat 0
    valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes python -m bench.sweep_profile DIR --repeat 1

The difference of the two runs' totals is the sweep's own work on the sample cameras whose 10 km
square lies inside the DEM (360 degrees, mast height, target 0, curvature and refraction 0.13), as
:mod:`bench.cases.viewshed` times it; divide by the cameras printed. Run the ``--repeat 0`` command
once more if the first run compiled the kernels (numba's cache is per CPU and valgrind's CPU differs).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Sweep the sample cameras ``--repeat`` times; print how many cameras and cells in range that is."""
    import geopandas as gpd
    import numpy as np

    from bench.cases.viewshed import RANGE_M, REFRACTION, in_range_mask, sample_cameras, window
    from gis.fire._sweep import sweep
    from gis.fire.viewshed import EARTH_RADIUS, RAYS_PER_CELL
    from layers.raster import Raster, read_raster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace", type=Path, help="folder with dem.tif and workspace.gpkg")
    p.add_argument("--repeat", type=int, default=1, help="sweeps of each camera (0: the baseline run)")
    p.add_argument("--cameras", type=int, default=12, help="sample size (as the benchmark picks them)")
    args = p.parse_args(argv)
    dem = read_raster(args.workspace / "dem.tif")
    arr = np.where(dem.valid_mask(), np.asarray(dem.array, np.float32), np.float32(np.nan))
    res = float(abs(dem.transform.a))
    cams = gpd.read_file(args.workspace / "workspace.gpkg", layer="cameras")
    side = 2 * (int(RANGE_M / res) + 1) + 1
    jobs = []
    for cam in sample_cameras(cams, Raster(arr, dem.transform, dem.crs, None), n=args.cameras):
        r0, r1, c0, c1 = window(arr.shape, cam["row"], cam["col"], res, RANGE_M)
        if (r1 - r0, c1 - c0) == (side, side):
            jobs.append((np.ascontiguousarray(arr[r0:r1, c0:c1]), cam["row"] - r0, cam["col"] - c0, cam["height"]))
    dcoef = (1.0 - REFRACTION) / (2.0 * EARTH_RADIUS)
    vis = np.zeros((side, side), np.uint8)
    small = np.ascontiguousarray(jobs[0][0][:40, :40])
    sweep(small, res, 20, 20, 10.0, 0.0, 300.0, False, 0.0, 180.0, dcoef, RAYS_PER_CELL, False, vis, 0, 0)  # load
    for _ in range(args.repeat):
        for w, r, c, h in jobs:
            sweep(w, res, int(r), int(c), float(h), 0.0, RANGE_M, False, 0.0, 180.0, dcoef, RAYS_PER_CELL, False,
                  vis, 0, 0)
    cells = sum(int(in_range_mask(w.shape, r, c, res, RANGE_M).sum()) + 1 for w, r, c, _ in jobs)
    print(f"{len(jobs)} cameras x {args.repeat} sweeps, {cells:,} cells in range per round")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
