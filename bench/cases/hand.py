"""HAND (Height Above Nearest Drainage) of the whole DEM: gis.flood.hand.hand against pyflwdir's own example pipeline.

- ours: ``gis.flood.hand.hand(read_raster(dem.tif))``: voids filled, ``pyflwdir.from_dem`` (depressions
  filled, D8), upstream area in cells, streams at >= 1000 upstream cells, ``flw.hand``, then
  cells draining to no stream set to NaN (a compiled walk) and depression cells below their
  stream set to 0;
- peer: the pipeline of pyflwdir's documentation example, as a user would write it:
  ``rasterio`` read, ``pyflwdir.from_dem(elevtn, nodata, transform)``,
  ``upa = flw.upstream_area('cell')``, ``flw.hand(drain=upa >= 1000, elevtn=elevtn)``.

Each runs in a fresh process (reading the DEM included), so its peak RSS is its own. The two
HAND grids are then compared cell by cell.

No bar: the issue asks for time and memory beside pyflwdir's pipeline on a DEM of at least 25
million cells (the prefecture DEM is 5000 x 5000).
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import Context, Report, Table

THRESHOLD = 1000


def _isolated_setup() -> None:
    import numba  # noqa: F401
    import numpy  # noqa: F401
    import pyflwdir  # noqa: F401
    import rasterio  # noqa: F401

    import gis.flood.hand  # noqa: F401


def ours(dem: str, out: str) -> dict:
    """Our HAND, written to ``out`` (the write is not timed)."""
    import time

    import numpy as np

    from gis.flood.hand import hand
    from layers.raster import read_raster, write_raster

    t0 = time.perf_counter()
    r = hand(read_raster(Path(dem)), min_upstream_cells=THRESHOLD)
    took = time.perf_counter() - t0
    defined = int(np.isfinite(r.array).sum())
    write_raster(r, Path(out), dtype="float32", compress=None)
    return {"seconds": took, "cells": int(r.array.size), "defined": defined, "notes": [en for _, en in r.warnings]}


def peer(dem: str, out: str) -> dict:
    """pyflwdir's documented pipeline, written to ``out`` (the write is not timed)."""
    import time

    import pyflwdir
    import rasterio

    t0 = time.perf_counter()
    with rasterio.open(dem) as src:
        elevtn = src.read(1)
        nodata = src.nodata
        transform = src.transform
        profile = src.profile
    flw = pyflwdir.from_dem(data=elevtn, nodata=nodata, transform=transform, latlon=False)
    upa = flw.upstream_area("cell")
    hand = flw.hand(drain=upa >= THRESHOLD, elevtn=elevtn)
    took = time.perf_counter() - t0
    profile.update(dtype="float32", nodata=-9999.0, compress=None)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(hand.astype("float32"), 1)
    return {"seconds": took, "cells": int(hand.size), "defined": int((hand != -9999).sum()),
            "streams": int((upa >= THRESHOLD).sum())}


def _compare(a_path: Path, b_path: Path) -> dict:
    import numpy as np
    import rasterio

    with rasterio.open(a_path) as a, rasterio.open(b_path) as b:
        x = a.read(1, masked=True).filled(np.nan)
        y = b.read(1, masked=True).filled(np.nan)
    both = np.isfinite(x) & np.isfinite(y)
    diff = np.abs(x[both] - y[both])
    return {"both_defined": int(both.sum()), "only_peer": int((np.isfinite(y) & ~np.isfinite(x)).sum()),
            "only_ours": int((np.isfinite(x) & ~np.isfinite(y)).sum()),
            "equal_1mm_share": float((diff < 1e-3).mean()) if diff.size else float("nan"),
            "max_abs_diff": float(diff.max()) if diff.size else float("nan"),
            "peer_negative": int((y[np.isfinite(y)] < 0).sum())}


def run(ctx: Context) -> Report:
    """Time and measure both pipelines on ``ctx.dem``."""
    import rasterio

    with rasterio.open(ctx.dem) as src:
        shape = (src.height, src.width)
    res = {}
    for name in ("ours", "peer"):
        ctx.log(f"  hand: {name} (fresh process)")
        res[name] = ctx.isolated(f"bench.cases.hand:{name}", dem=str(ctx.dem), out=str(ctx.tmp / f"{name}.tif"))
    cmp = _compare(ctx.tmp / "ours.tif", ctx.tmp / "peer.tif")
    rows = []
    for name, label in (("ours", "ours: `gis.flood.hand.hand`"), ("peer", "peer: pyflwdir example pipeline")):
        r = res[name]
        rows.append([label, r["cells"], r["seconds"], r["peak_rss_mb"], r["peak_rss_mb"] - r["baseline_rss_mb"],
                     r["defined"]])
    table = Table(title=f"hand: {ctx.dem.name} {shape[0]} x {shape[1]} = {shape[0] * shape[1]:,} cells, "
                        f"streams at >= {THRESHOLD} upstream cells, one run each in a fresh process",
                  columns=["pipeline", "cells", "time (s, read + HAND)", "peak RSS MB", "added over imports MB",
                           "cells with HAND"],
                  rows=rows)
    cmp_table = Table(title="hand: ours against the peer, cell by cell",
                      columns=["cells defined in both", "equal within 1 mm (share)", "max abs diff (m)",
                               "defined only in peer", "defined only in ours", "negative HAND in peer"],
                      rows=[[cmp["both_defined"], cmp["equal_1mm_share"], cmp["max_abs_diff"], cmp["only_peer"],
                             cmp["only_ours"], cmp["peer_negative"]]])
    notes = [
        "Both include reading the DEM; neither includes writing the result.",
        "Ours adds to the peer: DEM voids filled from the nearest cell before routing (and left undefined), "
        "cells draining to no stream left undefined (pyflwdir measures them from the outlet or pit they reach), "
        "and cells in filled depressions below their stream set to 0 (pyflwdir gives them a negative HAND; "
        f"{cmp['peer_negative']:,} such cells here).",
        "Ours' notes: " + "; ".join(res["ours"].get("notes", [])),
    ]
    overhead = res["ours"]["seconds"] / res["peer"]["seconds"] if res["peer"]["seconds"] else float("nan")
    figures = {"ours": res["ours"], "peer": res["peer"], "compare": cmp, "time_ratio_ours_peer": overhead,
               "shape": list(shape)}
    return Report(tables=[table, cmp_table], bars=[], notes=notes, figures=figures)
