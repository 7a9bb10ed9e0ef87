"""Static forest-fire risk raster (fuel, slope, aspect, roads, villages, graves) on the whole prefecture DEM.

``gis.fire.risk.risk_raster(dem, forest, roads=, settlements=, graves=)`` with the default weights
on the workspace DEM (prefecture: 5000 x 5000 cells of 30 m, EPSG:4549), its forest polygons
(EPSG:4490, reprojected inside the timing), all roads and villages, and :data:`N_GRAVES` synthetic
graves (the workspace has no graves layer: points drawn with a fixed seed within 600 m of random
villages, as grave plots sit on the hills behind villages). The inputs are read once, untimed.

Timed: the whole call, best of ``--repeats`` in this process; then one call in a fresh process
(``ctx.isolated``) for the wall time and the peak memory; and one breakdown of the steps (forest
rasterised by fuel class, slope and aspect, each layer's rasterising and distance transform) so
the dominant cost is visible. There is
no peer for the index itself (no package computes it); for its costliest step the roads'
distance transform is also timed with SciPy's ``ndimage.distance_transform_edt`` (what the
first version used) and the two results compared.

Bar (prefecture scale): the whole call under 30 s.
"""

from __future__ import annotations

import time

import numpy as np

from bench.harness import Context, Report, Table, bar

TOTAL_BAR_S = 30.0
N_GRAVES = 5000
GRAVE_RADIUS_M = 600.0


def _inputs(gpkg: str, dem_path: str):
    import geopandas as gpd
    import pyogrio

    from layers.raster import read_raster

    dem = read_raster(dem_path)
    forest = pyogrio.read_dataframe(gpkg, layer="forest", use_arrow=True)
    roads = pyogrio.read_dataframe(gpkg, layer="roads", use_arrow=True)
    villages = pyogrio.read_dataframe(gpkg, layer="villages", use_arrow=True)
    vm = villages.to_crs(dem.crs)
    rng = np.random.default_rng(4)
    pick = rng.integers(0, len(vm), N_GRAVES)
    ang = rng.uniform(0, 2 * np.pi, N_GRAVES)
    r = GRAVE_RADIUS_M * np.sqrt(rng.uniform(0, 1, N_GRAVES))
    x = vm.geometry.x.to_numpy()[pick] + r * np.cos(ang)
    y = vm.geometry.y.to_numpy()[pick] + r * np.sin(ang)
    graves = gpd.GeoDataFrame({"name": [f"坟{i}" for i in range(N_GRAVES)]},
                              geometry=gpd.points_from_xy(x, y), crs=dem.crs).to_crs(4490)
    return dem, forest, roads, villages, graves


def _isolated_setup() -> None:
    import geopandas  # noqa: F401
    import rasterio  # noqa: F401
    import scipy.ndimage  # noqa: F401

    import gis.fire.risk  # noqa: F401


def isolated_run(gpkg: str, dem: str) -> dict:
    """One risk raster in a fresh process (inputs read first, untimed)."""
    from gis.fire.risk import risk_raster

    d, forest, roads, villages, graves = _inputs(gpkg, dem)
    t0 = time.perf_counter()
    res = risk_raster(d, forest, roads=roads, settlements=villages, graves=graves)
    took = time.perf_counter() - t0
    return {"risk_s": took, "forest_cells": int((res.level > 0).sum())}


def _breakdown(dem, forest, roads, villages, graves) -> list[list]:
    from gis.fire.risk import DECAY_M, _aspect_deg, _features, _fuel_codes, distance_score
    from gis.terrain import cell_size_m

    rows = []

    def step(name, fn):
        t0 = time.perf_counter()
        out = fn()
        rows.append([name, time.perf_counter() - t0])
        return out

    step(f"forest: rasterise {len(forest):,} polygons by fuel class (mask + fuel)", lambda: _fuel_codes(forest, dem))
    step("slope and aspect (Horn)", lambda: _aspect_deg(dem))
    cell = cell_size_m(dem)
    for k, g in (("roads", roads), ("settlements", villages), ("graves", graves)):
        cells = step(f"{k}: rasterise ({len(g):,} features)", lambda g=g, k=k: _features(g, dem, k))
        step(f"{k}: distance transform + decay", lambda c=cells, k=k: distance_score(c, cell, DECAY_M[k]))
    return rows


def _edt_compare(dem, roads) -> dict:
    from scipy import ndimage

    from gis.fire.risk import _edt, _features
    from gis.terrain import cell_size_m

    cells = _features(roads, dem, "roads")
    dx, dy = cell_size_m(dem)
    t0 = time.perf_counter()
    ours = _edt(cells, float(dy), float(dx))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = ndimage.distance_transform_edt(~cells, sampling=(dy, dx))
    t_ref = time.perf_counter() - t0
    return {"ours_s": t_ours, "scipy_s": t_ref, "max_abs_diff_m": float(np.abs(ours - ref).max())}


def run(ctx: Context) -> Report:
    """Time the risk raster on the workspace DEM."""
    from gis.fire.risk import HIGH_RISK_LEVEL, risk_raster

    ctx.log("  fire_risk: reading inputs (not timed)")
    dem, forest, roads, villages, graves = _inputs(str(ctx.gpkg), str(ctx.dem))
    ctx.log("  fire_risk: ours")
    t = ctx.timed(lambda: risk_raster(dem, forest, roads=roads, settlements=villages, graves=graves))
    res = t.result
    counts = np.bincount(res.level.ravel(), minlength=6)
    forest_cells = int(counts[1:].sum())
    ctx.log("  fire_risk: fresh process (time and peak memory)")
    iso = ctx.isolated("bench.cases.fire_risk:isolated_run", gpkg=str(ctx.gpkg), dem=str(ctx.dem))
    ctx.log("  fire_risk: step breakdown")
    steps = _breakdown(dem, forest, roads, villages, graves)
    ctx.log("  fire_risk: roads distance, ours against scipy")
    edt = _edt_compare(dem, roads)

    rows = [["ours: `risk_raster` (all factors, default weights)", dem.array.size, forest_cells, t.best,
             max(t.times)],
            ["ours: same, fresh process", dem.array.size, iso.get("forest_cells"), iso.get("risk_s"), None]]
    table = Table(title=f"fire_risk: {dem.shape[0]} x {dem.shape[1]} DEM, {len(forest):,} forest polygons, "
                        f"{len(roads):,} roads, {len(villages):,} villages, {N_GRAVES:,} graves; best of {ctx.repeats}",
                  columns=["what", "cells", "forest cells", "time (s)", "slowest (s)"], rows=rows)
    mem = Table(title="fire_risk: fresh process", columns=["wall (s)", "peak RSS (MB)", "baseline RSS (MB)"],
                rows=[[iso.get("wall_s"), iso.get("peak_rss_mb"), iso.get("baseline_rss_mb")]])
    step_table = Table(title="fire_risk: steps (one run)", columns=["step", "time (s)"], rows=steps)
    edt_table = Table(title="fire_risk: roads distance transform, ours (numba) against scipy",
                      columns=["ours (s)", "scipy distance_transform_edt (s)", "max difference (m)"],
                      rows=[[edt["ours_s"], edt["scipy_s"], edt["max_abs_diff_m"]]])
    levels = Table(title="fire_risk: forest cells per level",
                   columns=["level 1", "level 2", "level 3", "level 4", "level 5", f"share >= {HIGH_RISK_LEVEL}"],
                   rows=[[int(c) for c in counts[1:]] + [float(counts[HIGH_RISK_LEVEL:].sum()) / max(forest_cells, 1)]])
    notes = [
        "Inputs are read before the timing; the forest, roads, villages and graves arrive in EPSG:4490 and are "
        "reprojected to the DEM's CRS inside it.",
        f"Graves are synthetic ({N_GRAVES:,} points within {GRAVE_RADIUS_M:g} m of random villages, seed 4): the "
        "workspace has no graves layer.",
        f"Weights used: {res.weights}.",
    ]
    bars = [bar("ours: fire risk raster of the whole DEM", t.best, TOTAL_BAR_S, "s", judged=ctx.at_prefecture)]
    figures = {"cells": int(dem.array.size), "forest_cells": forest_cells, "risk_s": t.times,
               "isolated": iso, "steps": {r[0]: r[1] for r in steps}, "levels": [int(c) for c in counts[1:]],
               "weights": res.weights, "edt_vs_scipy": edt}
    return Report(tables=[table, mem, step_table, edt_table, levels], bars=bars, notes=notes, figures=figures)
