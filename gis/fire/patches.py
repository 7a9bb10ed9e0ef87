"""Connected regions of a boolean grid mask as polygons: blind spots, gaps, uncovered forest.

Cells are labelled with 8-connectivity (:func:`scipy.ndimage.label`: cells touching at a corner
belong to the same patch); each label is traced with :func:`rasterio.features.shapes` (4-connected
pieces, so every ring is simple) and the pieces of one label become one (Multi)Polygon, then the
polygons are reprojected to :data:`layers.settings.STORAGE_CRS`. Areas come from cell counts times
the cell area in square metres (:func:`gis.terrain.cell_size_m`), not from the polygons, so they are
exact on the grid and cheap at 25 million cells.
"""

from __future__ import annotations

import gc

import geopandas as gpd
import numba
import numpy as np
import pyproj
import shapely
from rasterio.features import shapes
from scipy import ndimage

from gis.terrain import cell_size_m
from layers.raster import Raster, _as_pyproj_input
from layers.settings import STORAGE_CRS

__all__ = ["PATCH_COLUMNS", "mask_patches", "label_patches"]

#: columns of :func:`mask_patches`' result (plus ``geometry``)
PATCH_COLUMNS = ["patch_id", "area_ha", "cells"]

_EIGHT = np.ones((3, 3), dtype=bool)


@numba.njit(cache=True)
def _count_labels(lab, n):  # pragma: no cover - compiled
    """Cells per label 0..n (``np.bincount`` casts int32 labels to a 200 MB copy first)."""
    out = np.zeros(n + 1, np.int64)
    for v in lab.ravel():
        out[v] += 1
    return out


def cell_area_m2(grid: Raster) -> float:
    """Area of one cell of ``grid`` in square metres (at the mean latitude for a grid in degrees)."""
    dx, dy = cell_size_m(grid)
    return float(dx * dy)


def label_patches(mask: np.ndarray, grid: Raster, *, min_area_m2: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Label the connected True regions of ``mask``, largest first, dropping small ones.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        The cells of interest, on ``grid``'s cells.
    grid : Raster
        The grid (transform, CRS) the mask lies on.
    min_area_m2 : float
        Patches smaller than this (square metres, from cell counts) are dropped.

    Returns
    -------
    labels : numpy.ndarray of int32
        ``0`` outside any kept patch, else the patch id (1 = largest; equal sizes in raster order
        of their first cell).
    cells : numpy.ndarray of int64
        ``cells[i]`` is the cell count of patch ``i + 1``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != grid.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the grid's {grid.shape}")
    lab, n = ndimage.label(mask, structure=_EIGHT)
    if n == 0:
        return np.zeros(mask.shape, dtype=np.int32), np.zeros(0, dtype=np.int64)
    counts = _count_labels(lab, n)[1:]
    keep = counts * cell_area_m2(grid) >= float(min_area_m2)
    ids = np.flatnonzero(keep)                       # old label - 1
    order = ids[np.argsort(-counts[ids], kind="stable")]
    lut = np.zeros(n + 1, dtype=np.int32)
    lut[order + 1] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[lab], counts[order].astype(np.int64)


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"patch_id": np.zeros(0, np.int64), "area_ha": np.zeros(0, float),
                             "cells": np.zeros(0, np.int64)}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
                            crs=STORAGE_CRS)


def _polygons(traced, n: int) -> np.ndarray:
    """One geometry per label 1..n from ``rasterio.features.shapes`` output: the label's Polygon, or a MultiPolygon
    of its pieces (parts touching only at a corner). The rings' coordinates are gathered into one array and built by
    shapely at once (``linearrings``/``polygons`` with indices): a geometry per piece built from its GeoJSON in
    Python (``shapely.geometry.shape``) took half the time of a prefecture's gaps."""
    rings: list = []
    ring_len: list[int] = []
    ring_poly: list[int] = []
    poly_label: list[int] = []
    collecting = gc.isenabled()
    gc.disable()   # millions of coordinate tuples, none in a cycle: no collection passes over a big heap meanwhile
    try:
        for geom, v in traced:
            for ring in geom["coordinates"]:
                rings.extend(ring)
                ring_len.append(len(ring))
                ring_poly.append(len(poly_label))
            poly_label.append(int(v) - 1)
    finally:
        if collecting:
            gc.enable()
    out = np.empty(n, dtype=object)
    if not poly_label:
        return out
    xy = np.asarray(rings, dtype="float64")
    lines = np.asarray(shapely.linearrings(xy, indices=np.repeat(np.arange(len(ring_len)), ring_len)), dtype=object)
    polys = np.asarray(shapely.polygons(lines, indices=np.asarray(ring_poly)), dtype=object)
    label = np.asarray(poly_label)
    pieces = np.bincount(label, minlength=n)
    single = pieces[label] == 1
    out[label[single]] = polys[single]
    if not single.all():                       # labels of several pieces: one MultiPolygon each, pieces in order
        multi = np.flatnonzero(~single)
        order = multi[np.argsort(label[multi], kind="stable")]
        ids, compact = np.unique(label[order], return_inverse=True)
        out[ids] = shapely.multipolygons(polys[order], indices=compact)
    return out


def patches_from_labels(labels: np.ndarray, cells: np.ndarray, grid: Raster, *,
                        to_storage: bool = True) -> gpd.GeoDataFrame:
    """Polygons of labelled patches (from :func:`label_patches`), in the storage CRS.

    Parameters
    ----------
    labels : numpy.ndarray of int32
        Patch id per cell, 0 outside.
    cells : numpy.ndarray of int64
        Cell count per patch id (``cells[i]`` for id ``i + 1``).
    grid : Raster
        The grid of ``labels``.
    to_storage : bool
        Reproject to EPSG:4490 (default); False keeps the grid's CRS.

    Returns
    -------
    GeoDataFrame
        Columns ``patch_id``, ``area_ha``, ``cells``, ``geometry`` (EPSG:4490), one row per id in id order.
    """
    n = len(cells)
    if n == 0:
        return _empty()
    geoms = _polygons(shapes(labels, mask=labels > 0, connectivity=4, transform=grid.transform), n)
    crs = pyproj.CRS.from_user_input(_as_pyproj_input(grid.crs)) if grid.crs is not None else STORAGE_CRS
    area_ha = cells * cell_area_m2(grid) / 1e4
    out = gpd.GeoDataFrame({"patch_id": np.arange(1, n + 1, dtype=np.int64), "area_ha": area_ha,
                            "cells": cells.astype(np.int64)}, geometry=geoms, crs=crs)
    return out.to_crs(STORAGE_CRS) if to_storage else out


def mask_patches(mask: np.ndarray, grid: Raster, *, min_area_m2: float = 0.0) -> gpd.GeoDataFrame:
    """Connected True regions of a mask (8-connectivity) as polygons, largest first.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        The cells of interest (e.g. high-risk forest no camera sees), on ``grid``'s cells.
    grid : Raster
        The grid the mask lies on (a DEM); metric or in degrees.
    min_area_m2 : float
        Drop patches smaller than this many square metres (cell count x cell area).

    Returns
    -------
    GeoDataFrame
        In EPSG:4490, columns ``patch_id`` (1..n, largest first), ``area_ha`` (cells x cell area),
        ``cells`` and ``geometry`` (Polygon, or MultiPolygon when parts touch only at corners),
        sorted by area descending; empty (same columns) when there is no patch.

    Examples
    --------
    >>> import numpy as np
    >>> from affine import Affine
    >>> from layers.raster import Raster
    >>> m = np.zeros((4, 4), bool); m[0, 0] = m[1, 1] = True; m[3, 3] = True
    >>> g = Raster(np.zeros((4, 4)), Affine(30, 0, 500000, 0, -30, 3000000), "EPSG:4549", None)
    >>> mask_patches(m, g)[["patch_id", "cells"]].values.tolist()
    [[1, 2], [2, 1]]
    """
    labels, cells = label_patches(mask, grid, min_area_m2=min_area_m2)
    return patches_from_labels(labels, cells, grid)
