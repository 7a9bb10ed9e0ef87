"""Coverage gaps: high-risk forest no camera sees, no water source reaches, or both, as ranked patches.

Every high-risk forest cell falls in at most one gap class:

- ``both`` (两者皆无): no camera sees it and no water source reaches it;
- ``unseen`` (未被监控覆盖): no camera sees it, a water source reaches it;
- ``out_of_reach`` (水源不可达): a camera sees it, no water source reaches it.

The cells of each class are grouped into connected patches (8-connectivity, :mod:`gis.fire.patches`),
patches smaller than a minimum area are dropped, and each patch gets its township (the township of
most of its cells: by the township boundaries when given, else by the forest compartments), the
nearest road and the nearest water source (edge-to-edge distance in metres, with their names).

Ranking: all ``both`` patches come first (a fire there is neither spotted nor fought from water), by
area, largest first; then ``unseen`` and ``out_of_reach`` patches together, by area, largest first
(ties: ``unseen`` before ``out_of_reach``, then the patch found first in raster order). ``rank`` is
1..n in that order.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from rasterio.features import rasterize

from gis.fire.patches import label_patches, patches_from_labels
from layers.crs import metric_crs
from layers.errors import LayerError, problem
from layers.raster import Raster, _as_pyproj_input
from layers.settings import STORAGE_CRS
from layers.text import Text

__all__ = ["GAP_CLASSES", "GAP_COLUMNS", "coverage_gaps", "gap_summary", "township_grid", "nearest"]

#: gap class code -> (Chinese, English) label, in ranking priority
GAP_CLASSES: dict[str, Text] = {"both": Text("两者皆无", "unseen and out of water reach", "both"),
                                "unseen": Text("未被监控覆盖", "unseen by cameras", "unseen"),
                                "out_of_reach": Text("水源不可达", "out of water reach", "out_of_reach")}

#: columns of :func:`coverage_gaps` (plus ``geometry``)
GAP_COLUMNS = ["rank", "gap", "gap_zh", "area_ha", "cells", "township", "road_dist_m", "road_name",
               "source_dist_m", "source_name"]

_NONE = "—"


def _crs(grid: Raster) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(_as_pyproj_input(grid.crs))


def township_grid(forest: gpd.GeoDataFrame | None, grid: Raster) -> tuple[np.ndarray, list[str]]:
    """Township code per cell from polygons with a ``township`` column burnt at cell centres.

    The polygons are the township outlines of the boundaries layer when the workspace has one
    (:func:`gis.fire.review.township_source`), else the forest compartments.

    Returns
    -------
    codes : numpy.ndarray of int32
        ``0`` where no forest polygon (or no township field), else ``i + 1`` for ``names[i]``.
    names : list of str
    """
    if forest is None or not isinstance(forest, gpd.GeoDataFrame) or "township" not in forest or not len(forest):
        return np.zeros(grid.shape, dtype=np.int32), []
    f = forest.to_crs(_crs(grid))
    names = f["township"].astype("string").fillna("").str.strip()
    codes, towns = pd.factorize(names.where(names != "", None))
    shapes = ((g, int(c) + 1) for g, c in zip(f.geometry, codes) if c >= 0 and g is not None and not g.is_empty)
    try:
        burnt = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32")
    except ValueError:  # no shapes
        burnt = np.zeros(grid.shape, dtype=np.int32)
    return burnt, [str(t) for t in towns]


def _majority(labels: np.ndarray, n: int, codes: np.ndarray, names: list[str]) -> list[str]:
    """For patch ids 1..n, the most frequent non-zero code among its cells (ties: first name)."""
    if not names:
        return [_NONE] * n
    m = len(names) + 1
    sel = (labels > 0) & (codes > 0)
    key = labels[sel].astype(np.int64) * m + codes[sel]
    table = np.bincount(key, minlength=(n + 1) * m).reshape(n + 1, m)[1:, 1:]
    best = table.argmax(axis=1)
    return [names[b] if table[i, b] > 0 else _NONE for i, b in enumerate(best)]


def _label_of(gdf: gpd.GeoDataFrame, fields=("name", "source_id", "camera_id")) -> list[str]:
    """A name per feature: the first non-empty of ``fields``, else ``#n`` (1-based position)."""
    out = []
    cols = [f for f in fields if f in gdf]
    for i, rec in enumerate(gdf[cols].itertuples(index=False)):
        label = next((str(v).strip() for v in rec if v is not None and not pd.isna(v) and str(v).strip()), None)
        out.append(label or f"#{i + 1}")
    return out


def nearest(geoms: gpd.GeoDataFrame, other: gpd.GeoDataFrame | None, crs: pyproj.CRS) -> tuple[np.ndarray, list]:
    """Distance (m, in ``crs``) from each geometry to the nearest feature of ``other``, and that feature's name.

    NaN / None when ``other`` is missing or empty.
    """
    n = len(geoms)
    if other is None or not len(other) or not n:
        return np.full(n, np.nan), [None] * n
    o = other[other.geometry.notna() & ~other.geometry.is_empty]
    if not len(o):
        return np.full(n, np.nan), [None] * n
    g = geoms.to_crs(crs)
    o = o.to_crs(crs)
    names = _label_of(o)
    (idx_g, idx_o), d = o.sindex.nearest(g.geometry, return_all=False, return_distance=True)
    dist = np.full(n, np.nan)
    who: list = [None] * n
    for a, b, dd in zip(idx_g, idx_o, d):
        dist[a] = dd
        who[a] = names[b]
    return dist, who


def _analysis_crs(grid: Raster) -> pyproj.CRS:
    c = _crs(grid)
    if not c.is_geographic:
        return c
    left, bottom, right, top = gpd.GeoSeries.from_xy([grid.bounds[0], grid.bounds[2]],
                                                     [grid.bounds[1], grid.bounds[3]], crs=c).to_crs(
        STORAGE_CRS).total_bounds
    return metric_crs((left, bottom, right, top))


def coverage_gaps(grid: Raster, high_risk: np.ndarray, seen_count: np.ndarray | None,
                  reach_count: np.ndarray | None, *, forest: gpd.GeoDataFrame | None = None,
                  roads: gpd.GeoDataFrame | None = None, sources: gpd.GeoDataFrame | None = None,
                  townships_from: gpd.GeoDataFrame | None = None, min_area_m2: float = 0.0) -> gpd.GeoDataFrame:
    """High-risk forest unseen by cameras, out of water reach, or both, as ranked patches.

    Parameters
    ----------
    grid : Raster
        The DEM whose cells all the masks lie on.
    high_risk : numpy.ndarray of bool
        The target cells (high-risk forest: ``fire_risk.risk_raster(...).level >= 4``, or all forest).
    seen_count : numpy.ndarray or None
        Cameras seeing each cell (:func:`gis.fire.viewshed.coverage`); None = no camera anywhere.
    reach_count : numpy.ndarray or None
        Water sources reaching each cell (:func:`gis.fire.water_reach.water_reach` ``.count``); None = none.
    forest : GeoDataFrame, optional
        Forest polygons with ``township``; the default source of townships.
    roads, sources : GeoDataFrame, optional
        For the nearest road / water source of each patch (any CRS; ``name`` names them).
    townships_from : GeoDataFrame, optional
        Polygons with ``township`` to name patches by: the boundaries layer's township outlines
        (default ``forest``).
    min_area_m2 : float
        Drop patches smaller than this (square metres).

    Returns
    -------
    GeoDataFrame
        EPSG:4490, one row per patch in rank order (see the module docstring), columns
        ``rank``, ``gap`` (``both``/``unseen``/``out_of_reach``), ``gap_zh``, ``area_ha``, ``cells``,
        ``township``, ``road_dist_m``, ``road_name``, ``source_dist_m``, ``source_name``, ``geometry``.

    Raises
    ------
    LayerError
        A mask not on the grid.
    """
    hr = np.asarray(high_risk, dtype=bool)
    for name, a in (("high_risk", hr), ("seen_count", seen_count), ("reach_count", reach_count)):
        if a is not None and np.shape(a) != grid.shape:
            raise LayerError(problem(f"{name} 栅格大小 {np.shape(a)} 与 DEM {grid.shape} 不一致",
                                     f"{name} is {np.shape(a)} but the DEM is {grid.shape}",
                                     "把所有栅格放到 DEM 网格上", "put every raster on the DEM's grid",
                                     file=grid.name or None))
    hr = hr & grid.valid_mask()
    unseen = hr if seen_count is None else hr & (np.asarray(seen_count) == 0)
    unreach = hr if reach_count is None else hr & (np.asarray(reach_count) == 0)
    masks = {"both": unseen & unreach, "unseen": unseen & ~unreach, "out_of_reach": unreach & ~unseen}
    codes, towns = township_grid(townships_from if townships_from is not None else forest, grid)
    parts = []
    for k, (gap, m) in enumerate(masks.items()):
        labels, cells = label_patches(m, grid, min_area_m2=min_area_m2)
        p = patches_from_labels(labels, cells, grid, to_storage=False)
        if not len(p):
            continue
        p["gap"] = gap
        p["gap_zh"] = GAP_CLASSES[gap].zh
        p["_prio"] = 0 if gap == "both" else 1
        p["_k"] = k
        p["township"] = _majority(labels, len(cells), codes, towns)
        parts.append(p)
    if not parts:
        empty = {c: pd.Series([], dtype=float if c.endswith(("_m", "_ha")) else object) for c in GAP_COLUMNS}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_prio", "cells", "_k", "patch_id"], ascending=[True, False, True, True],
                          kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    acrs = _analysis_crs(grid)
    out["road_dist_m"], out["road_name"] = nearest(out, roads, acrs)
    out["source_dist_m"], out["source_name"] = nearest(out, sources, acrs)
    out["road_dist_m"] = out["road_dist_m"].round(1)
    out["source_dist_m"] = out["source_dist_m"].round(1)
    out["area_ha"] = out["area_ha"].round(4)
    out = gpd.GeoDataFrame(out[GAP_COLUMNS + ["geometry"]], geometry="geometry", crs=parts[0].crs)
    return out.to_crs(STORAGE_CRS)


def gap_summary(gaps: gpd.GeoDataFrame, target_ha: float) -> dict:
    """Totals per gap class: patches, hectares and share of the target area."""
    out = {}
    for gap in GAP_CLASSES:
        sel = gaps[gaps["gap"] == gap] if len(gaps) else gaps
        ha = float(sel["area_ha"].sum()) if len(sel) else 0.0
        out[gap] = {"patches": int(len(sel)), "area_ha": round(ha, 2),
                    "share": round(ha / target_ha, 6) if target_ha > 0 else 0.0}
    return out
