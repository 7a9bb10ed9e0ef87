"""Tallies of the layers as they stand (before any scenario): per township, per type.

These are the first tables both offices look at: how many grids, households, people and
vulnerable people each township has, what shelter capacity it has; how much forest, how many
water sources and cameras of each type.

Townships: given ``outlines`` (the boundaries layer's township polygons,
:func:`gis.townships.township_outlines`), a feature counts in the outline holding it and forest
area is cut at the outlines; without them, each feature's own ``township`` field. A county table
is the same call with county outlines and ``by="county"``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.townships import locate
from layers.crs import metric_crs


def leaf_grids(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The lowest-level grids: those no other grid names as its parent (they hold the people)."""
    if "parent_id" not in grids:
        return grids
    parents = set(grids["parent_id"].dropna().astype(str).tolist())
    ids = grids["grid_id"].astype(str).tolist()
    return grids[np.fromiter((i not in parents for i in ids), bool, len(ids))]   # a set: no Arrow isin


def _sum(df: pd.DataFrame, by: str, col: str) -> pd.Series:
    if col not in df or by not in df:
        return pd.Series(dtype="float64")
    return pd.to_numeric(df[col], errors="coerce").groupby(df[by].fillna("—")).sum(min_count=1)


def _keyed(layer: gpd.GeoDataFrame | None, outlines: gpd.GeoDataFrame | None, by: str) -> gpd.GeoDataFrame | None:
    """``layer`` with column ``by`` from the outline holding each feature (its own value outside them all)."""
    if layer is None or outlines is None or not len(layer):
        return layer
    found = locate(layer, outlines, by)
    if by in layer:
        found = found.where(found.notna(), layer[by].astype(object))
    return layer.assign(**{by: found.to_numpy(dtype=object)})


def township_people(grids: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame | None = None, *,
                    outlines: gpd.GeoDataFrame | None = None, by: str = "township") -> pd.DataFrame:
    """Per township: leaf grids, households, people, vulnerable people; shelters and their capacity.

    Parameters
    ----------
    grids, shelters : GeoDataFrame
        The layers.
    outlines : GeoDataFrame, optional
        Area polygons with the name in column ``by`` (see the module docstring).
    by : str
        ``township`` (or ``county`` with county outlines).

    Returns
    -------
    DataFrame
        Index ``by``; columns ``grids``, ``households``, ``population``, ``vulnerable``,
        ``shelters``, ``capacity``; a final ``合计/Total`` row is *not* added (the caller labels it).
    """
    leaves = _keyed(leaf_grids(grids), outlines, by)
    assert leaves is not None  # _keyed returns its (non-None) layer
    shelters = _keyed(shelters, outlines, by)
    key = by
    out = pd.DataFrame({
        "grids": leaves.groupby(leaves[key].fillna("—")).size() if key in leaves else pd.Series(dtype=int),
        "households": _sum(leaves, key, "households"),
        "population": _sum(leaves, key, "population"),
        "vulnerable": _sum(leaves, key, "vulnerable"),
    })
    if shelters is not None and len(shelters):
        out["shelters"] = shelters.groupby(shelters[key].fillna("—")).size() if key in shelters else np.nan
        out["capacity"] = _sum(shelters, key, "capacity")
    out = out.fillna(0).astype("int64")
    out.index.name = key
    return out.sort_index()


def forest_by_township(forest: gpd.GeoDataFrame, water: gpd.GeoDataFrame | None,
                       cameras: gpd.GeoDataFrame | None, *, outlines: gpd.GeoDataFrame | None = None,
                       by: str = "township") -> pd.DataFrame:
    """Per township: forest area (km²), water sources and cameras.

    Forest area is measured in the metric CRS chosen from the data's extent; with ``outlines``
    (polygons named in column ``by``) the forest is cut at them (forest outside every outline
    counts under ``—``) and points count in the outline holding them.
    """
    key = by
    crs = metric_crs(tuple(forest.to_crs(4326).total_bounds))
    if outlines is not None and len(outlines):
        f = forest[["geometry"]].to_crs(crs)
        f = f.assign(geometry=f.geometry.make_valid())
        o = outlines[[key, "geometry"]].to_crs(crs)
        inside = gpd.overlay(f, o, how="intersection", keep_geom_type=True)
        area = (inside.area / 1e6).groupby(inside[key].astype(str)).sum()
        rest = float(f.area.sum() / 1e6 - area.sum())
        if rest > 1e-6:
            area.loc["—"] = rest
        out = pd.DataFrame({"forest_km2": area})
        water, cameras = _keyed(water, outlines, key), _keyed(cameras, outlines, key)
    else:
        area = forest.to_crs(crs).area / 1e6
        out = pd.DataFrame({"forest_km2": area.groupby(forest[key].fillna("—")).sum() if key in forest else
                            pd.Series({"—": area.sum()})})
    for name, layer in (("water_sources", water), ("cameras", cameras)):
        if layer is not None and len(layer) and key in layer:
            out[name] = layer.groupby(layer[key].fillna("—")).size()
    out = out.fillna(0)
    for c in ("water_sources", "cameras"):
        if c in out:
            out[c] = out[c].astype("int64")
    out["forest_km2"] = out["forest_km2"].round(2)
    out.index.name = key
    return out.sort_index()


def count_by(layer: gpd.GeoDataFrame, field: str) -> pd.Series:
    """Number of features per value of ``field`` (missing values as ``—``)."""
    if field not in layer:
        return pd.Series({"—": len(layer)})
    return layer.groupby(layer[field].fillna("—")).size().sort_values(ascending=False)
