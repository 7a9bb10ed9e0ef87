"""Where people live inside each transfer grid, and whether the water reaches it.

A grid must move when the water reaches where its people live, not when any corner of it is wet: a
hillside village whose grid dips 1 % into the valley stays, its houses far above the water. The
homes come from whichever the workspace has, in this order:

1. the **buildings** layer (footprints or points; each weighs its ``population``, else its
   ``households``, else 1);
2. a **population raster** (people per cell; each populated cell weighs its people);
3. the **villages** layer as points (each weighs its ``population``; one point per village).

:func:`home_points` gathers them (:class:`Homes`); :func:`home_exposure` tells, per grid, how many
homes it has, the share of them (by weight) where the water is at least the rule's depth, and the
deepest water at a home. A grid with no home point inside falls back to the flooded share of its
area (:mod:`gis.flood.exposure`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.flood.hazard import Hazard, wet_mask_sampler
from gis.projection import reproject_to
from layers.raster import Raster
from layers.text import Text

__all__ = ["Homes", "home_points", "home_exposure", "HOME_SOURCES"]

#: what each source of homes is called, for the reasons and notes
HOME_SOURCES: dict[str, tuple[str, str, str, str]] = {
    # source: (zh noun, en noun, zh source, en source)
    "buildings": ("房屋", "houses", "房屋图层", "the buildings layer"),
    "population": ("人口", "people", "人口栅格", "the population raster"),
    "villages": ("村庄点位", "village points", "村庄图层", "the village points"),
}


@dataclass
class Homes:
    """Home points with a weight each.

    Attributes
    ----------
    points : GeoDataFrame
        Points (any CRS) with a ``weight`` column (> 0).
    source : str
        ``buildings``, ``population`` or ``villages`` (see :data:`HOME_SOURCES`).
    """

    points: gpd.GeoDataFrame
    source: str

    @property
    def noun(self) -> Text:
        """What a home is called in the reasons: houses, people, village points."""
        zh, en, _, _ = HOME_SOURCES[self.source]
        return Text(zh, en, self.source)

    @property
    def described(self) -> Text:
        """Where the homes come from, for notes."""
        _, _, zh, en = HOME_SOURCES[self.source]
        return Text(zh, en, self.source)


def _weights(gdf: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("population", "households"):
        if col in gdf:
            w = pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype="float64")
            if np.isfinite(w).any() and np.nansum(w) > 0:
                return np.where(np.isfinite(w) & (w > 0), w, 0.0)
    return np.ones(len(gdf))


def _points(gdf: gpd.GeoDataFrame, weight: np.ndarray) -> gpd.GeoDataFrame:
    g = gdf.geometry
    pts = g.where(g.geom_type == "Point", g.representative_point())
    out = gpd.GeoDataFrame({"weight": weight}, geometry=pts.values, crs=gdf.crs)
    return out[out.geometry.notna() & ~out.geometry.is_empty & (out["weight"] > 0)].reset_index(drop=True)


def home_points(*, buildings: gpd.GeoDataFrame | None = None, population: Raster | None = None,
                villages: gpd.GeoDataFrame | None = None) -> Homes | None:
    """The homes of the workspace from the best source it has (see the module notes).

    Parameters
    ----------
    buildings : GeoDataFrame, optional
        The buildings layer.
    population : Raster, optional
        People per cell.
    villages : GeoDataFrame, optional
        The villages layer (points, or polygons taken at a representative point).

    Returns
    -------
    Homes or None
        None when there is no source at all.
    """
    if buildings is not None and len(buildings):
        pts = _points(buildings, _weights(buildings))
        if len(pts):
            return Homes(pts, "buildings")
    if population is not None and population.crs is not None:
        a = np.where(population.valid_mask(), np.asarray(population.array, dtype="float64"), 0.0)
        r, c = np.nonzero(a > 0)
        if len(r):
            x, y = population.transform * (c + 0.5, r + 0.5)  # type: ignore[operator]  # affine's types: arrays work like numbers
            return Homes(gpd.GeoDataFrame({"weight": a[r, c]}, geometry=gpd.points_from_xy(x, y),
                                          crs=population.crs), "population")
    if villages is not None and len(villages) and "population" in villages:
        w = pd.to_numeric(villages["population"], errors="coerce").to_numpy(dtype="float64")
        pts = _points(villages, np.where(np.isfinite(w) & (w > 0), w, 0.0))
        if len(pts):
            return Homes(pts, "villages")
    return None


def home_exposure(grids: gpd.GeoDataFrame, homes: Homes, hazard: Hazard, *, min_depth: float,
                  crs: object) -> pd.DataFrame:
    """Per grid: its homes' weight, the share of it where the water reaches ``min_depth``, the deepest water at a home.

    Parameters
    ----------
    grids : GeoDataFrame
        Polygons (any CRS); the result is indexed like it.
    homes : Homes
        Home points.
    hazard : Hazard
        The scenario (a home inside a danger zone of unknown depth counts as reached).
    min_depth : float
        Depth at a home, metres, from which it counts as reached.
    crs : object
        The metric CRS the overlay runs in (the analysis frame's).

    Returns
    -------
    DataFrame
        ``homes`` (total weight; 0 when the grid has none), ``homes_wet_share`` (0..1),
        ``homes_max_depth`` (metres, NaN when dry or unknown), ``homes_n`` (home points).
    """
    out = pd.DataFrame({"homes": 0.0, "homes_wet_share": 0.0, "homes_max_depth": np.nan, "homes_n": 0},
                       index=grids.index)
    if not len(grids) or not len(homes.points):
        return out
    g = reproject_to(grids, crs)
    pts = reproject_to(homes.points, crs)
    zones = gpd.GeoDataFrame({"_g": np.arange(len(g))}, geometry=g.geometry.values, crs=g.crs)
    j = gpd.sjoin(pts, zones, how="inner", predicate="within")
    j = j[~j.index.duplicated(keep="first")]  # a home on a shared edge counts once
    if not len(j):
        return out
    depth = wet_mask_sampler(hazard, crs=crs)(j.geometry.x.to_numpy(), j.geometry.y.to_numpy())
    depth = np.asarray(depth, dtype="float64")
    with np.errstate(invalid="ignore"):
        reached = np.isinf(depth) | (depth >= min_depth)
    gi = j["_g"].to_numpy()
    w = j["weight"].to_numpy(dtype="float64")
    total = np.bincount(gi, weights=w, minlength=len(g))
    wet = np.bincount(gi, weights=np.where(reached, w, 0.0), minlength=len(g))
    count = np.bincount(gi, minlength=len(g))
    dmax = np.full(len(g), -np.inf)
    finite = np.isfinite(depth) & (depth > 0)
    np.maximum.at(dmax, gi[finite], depth[finite])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["homes"] = total
        out["homes_wet_share"] = np.where(total > 0, wet / np.where(total > 0, total, 1.0), 0.0)
        out["homes_max_depth"] = np.where(np.isfinite(dmax), dmax, np.nan)
        out["homes_n"] = count
    return out
