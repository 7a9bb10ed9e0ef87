"""Share of forest seen by cameras, per township, from a coverage count raster.

Forest polygons are burnt onto the count raster's grid (cell centres), each cell carrying its
polygon's township; counts of forest cells, cells seen by at least one and at least two cameras
are then tallied with ``numpy.bincount`` (no per-polygon loop).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.features import rasterize

from layers.raster import Raster


def forest_seen_by_township(count: np.ndarray, grid: Raster, forest: gpd.GeoDataFrame) -> pd.DataFrame:
    """Forest area and the share seen by ≥1 and ≥2 cameras, per township and in total.

    Parameters
    ----------
    count : numpy.ndarray
        Cameras seeing each cell, on ``grid``'s cells (:func:`gis.viewshed.coverage`).
    grid : Raster
        The DEM the count was computed on (transform, CRS, cell size).
    forest : GeoDataFrame
        Forest polygons; ``township`` names the township (missing: ``—``).

    Returns
    -------
    DataFrame
        Index ``township`` plus a final ``合计/Total`` row; columns ``forest_km2``, ``seen_km2``,
        ``seen_share`` (≥1 camera), ``seen2_share`` (≥2 cameras).
    """
    f = forest.to_crs(grid.crs)
    names = f["township"].fillna("—").astype(str) if "township" in f else pd.Series("—", index=f.index)
    codes, towns = pd.factorize(names)
    shapes = ((g, int(c) + 1) for g, c in zip(f.geometry, codes) if g is not None and not g.is_empty)
    burnt = rasterize(shapes, out_shape=count.shape, transform=grid.transform, fill=0, dtype="int32")
    cell_km2 = abs(grid.transform.a * grid.transform.e) / 1e6
    n = len(towns) + 1
    forest_cells = np.bincount(burnt.ravel(), minlength=n)[1:]
    seen1 = np.bincount(burnt[count >= 1].ravel(), minlength=n)[1:]
    seen2 = np.bincount(burnt[count >= 2].ravel(), minlength=n)[1:]
    out = pd.DataFrame({"forest_km2": forest_cells * cell_km2, "seen_km2": seen1 * cell_km2,
                        "seen_share": seen1 / np.maximum(forest_cells, 1),
                        "seen2_share": seen2 / np.maximum(forest_cells, 1)}, index=pd.Index(towns, name="township"))
    total = pd.DataFrame({"forest_km2": [forest_cells.sum() * cell_km2], "seen_km2": [seen1.sum() * cell_km2],
                          "seen_share": [seen1.sum() / max(forest_cells.sum(), 1)],
                          "seen2_share": [seen2.sum() / max(forest_cells.sum(), 1)]},
                         index=pd.Index(["合计/Total"], name="township"))
    return pd.concat([out.sort_index(), total]).round({"forest_km2": 2, "seen_km2": 2, "seen_share": 4,
                                                       "seen2_share": 4})
