"""People of a population raster per township: zonal sums over the township outlines.

The outlines are rasterised onto the population raster's own grid
(:func:`gis.townships.township_cells`: ``rasterio.features.rasterize``, the cell centre decides
which township a cell's people count in), so every person belongs to exactly one township or to
none. Where the flood is counted on another grid (a depth raster, a HAND stage on the terrain grid)
each township's people are carried onto it by summing (GDAL ``sum`` resampling, the same as the
totals, :func:`resample_sum`), township by township in a window around it: people keep the
township of the population cell they were counted in, and the townships add up to the totals.

:func:`people_by_township` takes the flood as :class:`FloodCells` (class, unknown depth, evacuate
and depth of every cell of the grid where it is counted) and returns one row per township.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from affine import Affine

from gis.projection import crs_of
from gis.townships import township_cells
from layers.raster import Raster

__all__ = ["FloodCells", "people_by_township", "resample_sum", "OUTSIDE"]

#: the row of :func:`people_by_township` holding the people outside every outline (as ``aggregate`` names a
#: missing township)
OUTSIDE = "—"


@dataclass(frozen=True)
class FloodCells:
    """The flood on the grid where people are counted.

    Attributes
    ----------
    grid : Raster
        The grid (its transform, CRS and shape; the values are not used).
    classes : ndarray of int
        Depth class of each cell (0 dry, 1..n+1 wet classes; 0 for a zone of unknown depth).
    unknown : ndarray of bool
        Inside a danger zone of unknown depth.
    evacuate : ndarray of bool
        The water reaches the depth at which people move (or the depth is unknown).
    depth : ndarray of float
        Depth in metres, NaN where dry or unknown.
    n_classes : int
        Wet classes (thresholds + 1).
    """

    grid: Raster
    classes: np.ndarray
    unknown: np.ndarray
    evacuate: np.ndarray
    depth: np.ndarray
    n_classes: int


def resample_sum(values: np.ndarray, transform: Affine, crs: object, shape: tuple[int, int],
                 dst_transform: Affine, dst_crs: object) -> np.ndarray:
    """``values`` (people per cell, NaN none) on another grid, totals conserved (GDAL ``sum`` resampling).

    Returns
    -------
    ndarray of float32
        ``shape``, NaN where no source cell falls.
    """
    from rasterio.warp import Resampling, reproject

    src_crs, dst = crs_of(crs), crs_of(dst_crs)
    assert src_crs is not None and dst is not None  # rasters read or made here always carry a CRS
    out = np.full(shape, np.nan, dtype="float32")
    reproject(np.asarray(values, dtype="float32"), out, src_transform=transform, src_crs=src_crs.to_wkt(),
              dst_transform=dst_transform, dst_crs=dst.to_wkt(), src_nodata=np.nan, dst_nodata=np.nan,
              resampling=Resampling.sum)
    return out


def _tally(ids: np.ndarray, people: np.ndarray, flood: FloodCells, window: tuple[slice, slice], n: int,
           ncls: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """People per (township, class), in zones of unknown depth, to evacuate, and the deepest water at them.

    ``ids`` and ``people`` lie on ``flood.grid`` over ``window``; rows are townships 0..n (0 outside)."""
    cls = flood.classes[window].ravel()
    unk = flood.unknown[window].ravel()
    evac = flood.evacuate[window].ravel()
    depth = flood.depth[window].ravel()
    k = ids.ravel().astype(np.int64)
    w = np.nan_to_num(people.ravel().astype("float64"))
    by_class = np.bincount(k * (ncls + 1) + cls, weights=w, minlength=(n + 1) * (ncls + 1)).reshape(n + 1, ncls + 1)
    unknown = np.bincount(k[unk], weights=w[unk], minlength=n + 1)
    evacuate = np.bincount(k[evac], weights=w[evac], minlength=n + 1)
    deepest = np.full(n + 1, -np.inf)
    with np.errstate(invalid="ignore"):
        wet = (w > 0) & (depth > 0)
    np.maximum.at(deepest, k[wet], depth[wet])
    return by_class, unknown, evacuate, deepest


def _windows(ids: np.ndarray, n: int) -> list[tuple[slice, slice] | None]:
    """The rows and columns holding each township 0..n on its own grid (0: outside every outline), in one pass."""
    from scipy.ndimage import find_objects

    found = find_objects(ids, max_label=n)
    outside = ids == 0
    rows = np.flatnonzero(outside.any(axis=1))
    cols = np.flatnonzero(outside.any(axis=0))
    first = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)) if len(rows) else None
    return [first, *found]


def _dst_window(pop: Raster, src: tuple[slice, slice], grid: Raster) -> tuple[slice, slice] | None:
    """The cells of ``grid`` that the population cells ``src`` can reach (one cell of margin)."""
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    t = pop.transform * Affine.translation(src[1].start, src[0].start)
    h, w = src[0].stop - src[0].start, src[1].stop - src[1].start
    xs, ys = zip(*(t * (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))))
    bounds = (min(xs), min(ys), max(xs), max(ys))
    a, b = crs_of(pop), crs_of(grid)
    if a is not None and b is not None and not a.equals(b):
        try:
            bounds = transform_bounds(a.to_wkt(), b.to_wkt(), *bounds, densify_pts=21)
        except Exception:  # noqa: BLE001 - outside the projection's area: the people cannot reach the grid
            return None
    rows, cols = grid.shape
    try:
        win = from_bounds(*bounds, transform=grid.transform).round_offsets(op="floor").round_lengths(op="ceil")
        win = Window(win.col_off - 1, win.row_off - 1, win.width + 2, win.height + 2).intersection(
            Window(0, 0, cols, rows))
    except Exception:  # noqa: BLE001 - rasterio raises WindowError when they do not intersect
        return None
    r0, c0, hh, ww = int(win.row_off), int(win.col_off), int(win.height), int(win.width)
    if hh <= 0 or ww <= 0:
        return None
    return slice(r0, r0 + hh), slice(c0, c0 + ww)


def people_by_township(pop: Raster, people: np.ndarray, outlines, flood: FloodCells, *,
                       same_grid: bool) -> pd.DataFrame:
    """People of a population raster, and the flooded and evacuated among them, per township outline.

    Parameters
    ----------
    pop : Raster
        The population raster (its grid).
    people : ndarray
        People per cell on ``pop``'s grid, cleaned (no NaN, nothing negative).
    outlines : Outlines or GeoDataFrame
        Township polygons with the name in ``township`` (:func:`gis.townships.township_cells`).
    flood : FloodCells
        The flood on the grid where it is counted.
    same_grid : bool
        ``flood.grid`` is ``pop``'s grid (then the people are counted where they are).

    Returns
    -------
    DataFrame
        Indexed by township name (the outlines' order), plus the row :data:`OUTSIDE` when people lie
        outside every outline: ``population`` (all the township's people), ``c0``..``c{n+1}``
        (people in dry cells and in each wet class, on the flood's grid), ``unknown`` (in zones of
        unknown depth), ``affected`` (wet or unknown), ``evacuate`` (where the water reaches the
        moving depth, or unknown) and ``max_depth`` (the deepest water at a cell holding the
        township's people; NaN when none is wet).
    """
    ids, names = township_cells(outlines, pop.shape, pop.transform, pop.crs)
    n, ncls = len(names), flood.n_classes
    population = np.bincount(ids.ravel(), weights=people.ravel(), minlength=n + 1)
    everything = (slice(None), slice(None))
    if same_grid:
        by_class, unknown, evacuate, deepest = _tally(ids, people, flood, everything, n, ncls)
    else:
        by_class = np.zeros((n + 1, ncls + 1))
        unknown, evacuate = np.zeros(n + 1), np.zeros(n + 1)
        deepest = np.full(n + 1, -np.inf)
        for k, src in enumerate(_windows(ids, n)):
            if src is None or not people[src][ids[src] == k].any():
                continue
            dst = _dst_window(pop, src, flood.grid)
            if dst is None:
                continue
            values = np.where(ids[src] == k, people[src], np.nan)
            carried = resample_sum(values, pop.transform * Affine.translation(src[1].start, src[0].start), pop.crs,
                                   (dst[0].stop - dst[0].start, dst[1].stop - dst[1].start),
                                   flood.grid.transform * Affine.translation(dst[1].start, dst[0].start),
                                   flood.grid.crs)
            rows = _tally(np.full(carried.shape, k, dtype="int32"), carried, flood, dst, n, ncls)
            by_class[k] += rows[0][k]
            unknown[k] += rows[1][k]
            evacuate[k] += rows[2][k]
            deepest[k] = max(deepest[k], rows[3][k])
    table = pd.DataFrame({"population": population}, index=[OUTSIDE, *names])
    for c in range(ncls + 1):
        table[f"c{c}"] = by_class[:, c]
    table["unknown"] = unknown
    table["affected"] = by_class[:, 1:].sum(axis=1) + unknown
    table["evacuate"] = evacuate
    table["max_depth"] = np.where(np.isfinite(deepest), deepest, np.nan)
    keep = np.ones(n + 1, dtype=bool)
    keep[0] = population[0] > 0 or table["affected"].iloc[0] > 0
    return table[keep]
