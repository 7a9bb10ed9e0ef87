"""Who is in the flood: exposure of transfer grids, villages or a population raster to a
:class:`~gis.flood.hazard.Hazard`.

Per transfer grid (the leaf grids, :func:`gis.tallies.leaf_grids`, which hold the people):
flooded share of its area, max and mean depth over the wet part, the depth class of the max
depth, the households, people and vulnerable people in each depth class (the grid's people spread
uniformly over its area, or from a population raster when one is given) and in total, and whether
it must be evacuated under an :class:`EvacuationRule`. :func:`aggregate` sums the table per
village or township.

How the overlap is computed:

- **raster hazards** (depth raster, HAND stage): the grids are reprojected to the raster's CRS and
  rasterised onto the depth grid one level at a time (grids of one level do not overlap;
  ``all_touched=False``, larger grids first so a small one keeps its centre cell); one compiled
  pass over the cells then gives per grid its cells, wet cells, depth sum and max and the cells in
  each class (:func:`zonal_depth`). A grid smaller than a cell is sampled at its representative
  point. No Python loop over grids.
- **polygon hazards**: exact vector overlay of the grids with the danger zones, areas in the
  metric CRS of the extent (:func:`layers.crs.metric_crs`).
- **points** (villages as points): the depth at the point, or the zone the point is in.

:func:`raster_exposure` counts people of a population raster (people per cell) by depth, and per
township outline when given (:mod:`gis.flood.population`: the outlines rasterised onto the
population grid, the cell centre deciding); :func:`exposure_summary` gives the JSON object the
``python -m gis exposure`` command prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.flood.hazard import DEFAULT_THRESHOLDS, Hazard, class_labels, depth_class, parse_thresholds
from gis.flood.homes import Homes, home_exposure
from gis.flood.population import OUTSIDE, FloodCells, people_by_township, resample_sum
from gis.projection import crs_of, reproject_to
from gis.townships import BASIS_NOTES, Outlines
from layers.crs import metric_crs
from layers.errors import LayerError, problem
from layers.raster import Raster
from layers.text import Text, pick, unique

__all__ = ["EvacuationRule", "Exposure", "zonal_depth", "grid_exposure", "aggregate", "raster_exposure",
           "exposure_summary", "PEOPLE_FIELDS"]

#: the count fields spread over depth classes
PEOPLE_FIELDS = ("households", "population", "vulnerable")

_Note = Text


@dataclass(frozen=True)
class EvacuationRule:
    """When a grid must be evacuated.

    Attributes
    ----------
    min_depth : float or None
        Depth in metres from which water counts (default the lowest threshold).
    min_share : float
        Share (0..1) that must be reached: of the grid's homes (by weight), or, where the grid has
        no homes (or ``basis='area'``), of its area; default 0 (any).
    basis : {'homes', 'area'}
        ``homes`` (default): the water must reach where people live (:mod:`gis.flood.homes`:
        buildings, populated cells or village points, whichever the workspace has), the flooded
        share of the area where a grid has no home; ``area``: the flooded share of the area and the
        grid's deepest water only.

    A grid is evacuated when the depth reaches ``min_depth`` at its homes (or anywhere in it, on the
    area basis) over at least ``min_share`` of them (and more than none). A grid touched by a danger
    zone of unknown depth is taken as reaching ``min_depth``.
    """

    min_depth: float | None = None
    min_share: float = 0.0
    basis: str = "homes"

    def depth(self, thresholds: Sequence[float]) -> float:
        """The depth that counts, metres."""
        return self.min_depth if self.min_depth is not None else min(thresholds)

    def describe(self, thresholds: Sequence[float]) -> Text:
        """The rule in words."""
        d = self.depth(thresholds)
        share_zh = f"比例 ≥ {self.min_share:.0%}" if self.min_share > 0 else "任一处"
        share_en = f"at least {self.min_share:.0%}" if self.min_share > 0 else "any"
        if self.basis == "homes":
            return Text(f"居住处（房屋、有人口的像元或村庄点位）{share_zh}水深 ≥ {d:g} 米即转移；"
                        "无居住点的网格按淹没面积判断",
                        f"a grid moves when the water reaches {d:g} m at {share_en} of its homes (houses, populated "
                        "cells or village points); grids without homes by their flooded area", "rule_homes")
        zh = f"最大水深 ≥ {d:g} 米"
        en = f"max depth >= {d:g} m"
        if self.min_share > 0:
            zh += f" 且淹没面积占比 ≥ {self.min_share:.0%}"
            en += f" and flooded share >= {self.min_share:.0%}"
        return Text(zh, en, "rule_area")


@dataclass
class Exposure:
    """The exposure of each grid to a scenario (:func:`grid_exposure`).

    Attributes
    ----------
    table : GeoDataFrame
        One row per grid (see :func:`grid_exposure` for the columns).
    notes : list of Text
        What was assumed on the way.
    thresholds : tuple of float
        The depth classes used.
    """

    table: gpd.GeoDataFrame
    notes: list
    thresholds: tuple


# ---- zonal statistics on a depth raster ------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _accumulate(ids, depth, thr, n, weights, use_w):  # pragma: no cover - compiled
    ncls = thr.shape[0] + 1
    cells = np.zeros(n + 1, np.int64)
    wet = np.zeros(n + 1, np.int64)
    dsum = np.zeros(n + 1, np.float64)
    dmax = np.zeros(n + 1, np.float64)
    ccount = np.zeros((n + 1, ncls + 1), np.int64)
    wclass = np.zeros((n + 1, ncls + 1), np.float64)
    rows, cols = ids.shape
    for i in range(rows):
        for j in range(cols):
            k = ids[i, j]
            if k <= 0:
                continue
            cells[k] += 1
            d = depth[i, j]
            c = 0
            if d > 0:  # False for NaN
                wet[k] += 1
                dsum[k] += d
                if d > dmax[k]:
                    dmax[k] = d
                c = 1
                while c <= thr.shape[0] and d >= thr[c - 1]:
                    c += 1
            ccount[k, c] += 1
            if use_w:
                w = weights[i, j]
                if w == w:
                    wclass[k, c] += w
    return cells, wet, dsum, dmax, ccount, wclass


def _class_cols(thresholds: Sequence[float]) -> list[str]:
    return [f"c{k}" for k in range(1, len(thresholds) + 2)]


def zonal_depth(zones: gpd.GeoDataFrame, depth: Raster, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, *,
                weights: Raster | None = None, level_field: str | None = "level") -> pd.DataFrame:
    """Depth statistics of each zone on a depth raster, all zones at once.

    Parameters
    ----------
    zones : GeoDataFrame
        Polygons, any CRS (reprojected to the raster's). Zones of one ``level_field`` value must
        not overlap each other (transfer grids of one level do not); zones of different levels
        may nest.
    depth : Raster
        Depth in metres, NaN (or <= 0) dry.
    thresholds : sequence of float
        Depth-class limits.
    weights : Raster, optional
        People per cell on the depth raster's grid: then the people per class are summed too.
    level_field : str or None
        Column splitting the zones into non-overlapping sets; None or absent: one set.

    Returns
    -------
    DataFrame
        Indexed like ``zones``: ``cells`` (cells whose centre is in the zone, or 1 when sampled),
        ``wet_cells``, ``max_depth`` and ``mean_depth`` (over wet cells; NaN when dry),
        ``share`` (wet cells / cells), ``share_c1``.. (cells in each wet class / cells),
        ``sampled`` (True: smaller than a cell, sampled at its representative point),
        ``covered`` (False: outside the raster) and, with ``weights``, ``w_c0``, ``w_c1``, ...
        (people in dry cells and in each class).
    """
    from rasterio.features import rasterize
    from rasterio.windows import Window, from_bounds

    thr = np.asarray(sorted(thresholds), dtype="float64")
    ncls = len(thr) + 1
    z = reproject_to(zones, depth.crs)
    n = len(z)
    arr = depth.array
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype("float32")
    w_arr = None
    if weights is not None:
        w_arr = np.asarray(weights.array, dtype="float64") if weights.array.dtype != np.float64 else weights.array
        if w_arr.shape != arr.shape:
            raise ValueError("weights must be on the depth raster's grid")
    cells = np.zeros(n, np.int64)
    wet = np.zeros(n, np.int64)
    dsum = np.zeros(n, np.float64)
    dmax = np.zeros(n, np.float64)
    ccount = np.zeros((n, ncls + 1), np.int64)
    wclass = np.zeros((n, ncls + 1), np.float64)
    geoms = z.geometry.values
    ok = ~(gpd.GeoSeries(geoms).isna().to_numpy() | gpd.GeoSeries(geoms).is_empty.to_numpy())
    areas = np.where(ok, shapely.area(np.asarray(geoms)), 0.0)  # only orders the zones: any unit will do
    if level_field and level_field in z:
        groups = pd.Series(np.arange(n)).groupby(z[level_field].astype(str).fillna("").to_numpy(), sort=False)
        sets = [idx.to_numpy() for _, idx in groups]
    else:
        sets = [np.arange(n)]
    rows, cols = arr.shape
    full = Window(0, 0, cols, rows)
    dummy_w = np.zeros((1, 1), np.float64)
    for members in sets:
        members = members[ok[members]]
        if not len(members):
            continue
        members = members[np.argsort(-areas[members], kind="stable")]  # big first: small ones drawn last
        b = gpd.GeoSeries(geoms[members]).total_bounds
        try:
            win = from_bounds(*b, transform=depth.transform).round_offsets(op="floor").round_lengths(op="ceil")
            win = win.intersection(full)
        except Exception:  # noqa: BLE001 - rasterio raises WindowError when they do not intersect
            continue
        r0, c0, h, w = int(win.row_off), int(win.col_off), int(win.height), int(win.width)
        if h <= 0 or w <= 0:
            continue
        t = depth.transform * depth.transform.translation(c0, r0)
        ids = rasterize(zip(geoms[members], np.arange(1, len(members) + 1, dtype="int32")), out_shape=(h, w),
                        transform=t, fill=0, all_touched=False, dtype="int32")
        sub = arr[r0:r0 + h, c0:c0 + w]
        wsub = w_arr[r0:r0 + h, c0:c0 + w] if w_arr is not None else dummy_w
        res = _accumulate(ids, sub, thr, len(members), wsub, w_arr is not None)
        cells[members] = res[0][1:]
        wet[members] = res[1][1:]
        dsum[members] = res[2][1:]
        dmax[members] = res[3][1:]
        ccount[members] = res[4][1:]
        wclass[members] = res[5][1:]
    # zones with no cell centre inside: sample the depth at their representative point
    small = np.flatnonzero(ok & (cells == 0))
    sampled = np.zeros(n, bool)
    covered = cells > 0
    if len(small):
        pts = gpd.GeoSeries(geoms[small]).representative_point()
        inv = ~depth.transform
        cc, rr = inv * (pts.x.to_numpy(), pts.y.to_numpy())
        rr, cc = np.floor(rr).astype(np.int64), np.floor(cc).astype(np.int64)
        inside = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        idx, rr, cc = small[inside], rr[inside], cc[inside]
        d = np.asarray(arr[rr, cc], dtype="float64")
        cls = depth_class(d, thr)
        cells[idx] = 1
        with np.errstate(invalid="ignore"):
            wetp = d > 0
        wet[idx] = wetp
        dsum[idx] = np.where(wetp, d, 0.0)
        dmax[idx] = np.where(wetp, d, 0.0)
        ccount[idx, :] = 0
        ccount[idx, cls] = 1
        if w_arr is not None:
            wclass[idx, :] = 0
            wclass[idx, cls] = np.nan_to_num(w_arr[rr, cc])
        sampled[idx] = True
        covered[idx] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "cells": cells, "wet_cells": wet,
            "max_depth": np.where(wet > 0, dmax, np.nan),
            "mean_depth": np.where(wet > 0, dsum / np.maximum(wet, 1), np.nan),
            "share": np.where(cells > 0, wet / np.maximum(cells, 1), 0.0),
        }, index=zones.index)
        for k in range(1, ncls + 1):
            out[f"share_c{k}"] = np.where(cells > 0, ccount[:, k] / np.maximum(cells, 1), 0.0)
    out["sampled"] = sampled
    out["covered"] = covered
    if w_arr is not None:
        for k in range(ncls + 1):
            out[f"w_c{k}"] = wclass[:, k]
    return out


def _polygon_overlay(zones: gpd.GeoDataFrame, hazard: Hazard, thresholds: Sequence[float]) -> pd.DataFrame:
    """Exact area shares of each zone in each class (and unknown depth), by vector overlay."""
    thr = tuple(sorted(thresholds))
    ncls = len(thr) + 1
    n = len(zones)
    out = pd.DataFrame({"max_depth": np.full(n, np.nan), "mean_depth": np.full(n, np.nan),
                        "share": np.zeros(n)}, index=zones.index)
    for k in range(1, ncls + 1):
        out[f"share_c{k}"] = 0.0
    out["share_unknown"] = 0.0
    out["covered"] = True
    polys = hazard.polygons
    if polys is None or not len(polys) or not n:
        return out
    lonlat = zones.to_crs(4326).total_bounds
    mcrs = metric_crs(tuple(float(v) for v in lonlat))
    z = reproject_to(zones, mcrs)
    z = gpd.GeoDataFrame({"_i": np.arange(n)}, geometry=z.geometry.values, crs=mcrs)
    p = reproject_to(polys, mcrs)[["depth", "geometry"]]
    area = z.geometry.area.to_numpy()
    inter = gpd.overlay(z, p, how="intersection", keep_geom_type=True)
    if not len(inter):
        return out
    a = inter.geometry.area.to_numpy()
    i = inter["_i"].to_numpy()
    d = inter["depth"].to_numpy(dtype="float64")
    known = ~np.isnan(d)
    wet_area = np.bincount(i, weights=a, minlength=n)
    known_area = np.bincount(i[known], weights=a[known], minlength=n)
    dsum = np.bincount(i[known], weights=(a * d)[known], minlength=n)
    dmax = np.full(n, -np.inf)
    np.maximum.at(dmax, i[known], d[known])
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.where(area > 0, area, np.nan)
        out["share"] = np.clip(np.nan_to_num(wet_area / denom), 0, 1)
        out["max_depth"] = np.where(np.isfinite(dmax), dmax, np.nan)
        out["mean_depth"] = np.where(known_area > 0, dsum / np.where(known_area > 0, known_area, 1), np.nan)
        cls = depth_class(np.where(known, d, np.nan), thr)
        for k in range(1, ncls + 1):
            m = known & (cls == k)
            out[f"share_c{k}"] = np.clip(np.nan_to_num(np.bincount(i[m], weights=a[m], minlength=n) / denom), 0, 1)
        m = ~known
        out["share_unknown"] = np.clip(np.nan_to_num(np.bincount(i[m], weights=a[m], minlength=n) / denom), 0, 1)
    return out


def _point_exposure(points: gpd.GeoDataFrame, hazard: Hazard, thresholds: Sequence[float]) -> pd.DataFrame:
    """Depth at each point: one-hot class shares."""
    thr = tuple(sorted(thresholds))
    ncls = len(thr) + 1
    n = len(points)
    d = np.full(n, np.nan)
    unknown = np.zeros(n, bool)
    covered = np.zeros(n, bool)
    if hazard.depth is not None:  # a depth raster
        r = hazard.depth
        pts = reproject_to(points, r.crs).geometry
        pts = pts.where(pts.geom_type == "Point", pts.representative_point())
        cc, rr = ~r.transform * (pts.x.to_numpy(), pts.y.to_numpy())
        rr, cc = np.floor(rr), np.floor(cc)
        rows, cols = r.shape
        covered = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        d[covered] = r.array[rr[covered].astype(int), cc[covered].astype(int)]
    elif hazard.polygons is not None and len(hazard.polygons):
        pts = reproject_to(points, hazard.polygons.crs)
        pts = gpd.GeoDataFrame({"_i": np.arange(n)}, geometry=pts.geometry.representative_point().values,
                               crs=pts.crs)
        j = gpd.sjoin(pts, hazard.polygons[["depth", "geometry"]], how="inner", predicate="within")
        j = j.sort_values("depth", na_position="first").drop_duplicates("_i", keep="first")
        ii = j["_i"].to_numpy()
        dd = j["depth"].to_numpy(dtype="float64")
        d[ii] = np.where(np.isnan(dd), np.nan, dd)
        unknown[ii] = np.isnan(dd)
        covered[:] = True
    cls = depth_class(d, thr)
    with np.errstate(invalid="ignore"):
        wet = (d > 0) | unknown
    out = pd.DataFrame({"max_depth": np.where(d > 0, d, np.nan), "mean_depth": np.where(d > 0, d, np.nan),
                        "share": wet.astype(float)}, index=points.index)
    for k in range(1, ncls + 1):
        out[f"share_c{k}"] = (cls == k).astype(float)
    out["share_unknown"] = unknown.astype(float)
    out["covered"] = covered
    return out


# ---- per-grid exposure -----------------------------------------------------------------------------------------
def grid_exposure(grids: gpd.GeoDataFrame, hazard: Hazard, *, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                  rule: EvacuationRule | None = None, population: Raster | None = None,
                  population_field: str = "population", leaves_only: bool = True, homes: Homes | None = None,
                  crs: object | None = None) -> Exposure:
    """Exposure of each transfer grid (or village) to a hazard.

    Parameters
    ----------
    grids : GeoDataFrame
        Transfer grids (polygons; the leaf grids are used when ``leaves_only``), or villages
        (points or polygons), any CRS.
    hazard : Hazard
        The scenario.
    thresholds : sequence of float
        Depth-class limits in metres.
    rule : EvacuationRule, optional
        Default: any part at or above the lowest threshold.
    population : Raster, optional
        People per cell: the people of each class are then taken from it (resampled onto the
        depth grid by summing when needed) instead of spreading the grid's people over its area.
        Raster hazards only.
    population_field : str
        Column holding the people (default the catalogue's ``population``).
    leaves_only : bool
        Keep only the leaf grids (:func:`gis.tallies.leaf_grids`), which hold the people.
    homes : Homes, optional
        Where people live (:func:`gis.flood.homes.home_points`), for the ``homes`` rule.
    crs : optional
        The metric CRS of the overlay of homes and grids (default: that of the grids' extent).

    Returns
    -------
    Exposure
        ``table``: one row per grid, geometry kept, with the identifying columns present (``grid_id``,
        ``name``, ``township``, ``village``, ``level``, ``responsible``, ``phone``, ``shelter``),
        ``households``, ``population``, ``vulnerable`` (NaN where missing: never a silent zero),
        ``flooded_share``, ``max_depth``, ``mean_depth`` (metres, over the wet part),
        ``depth_class`` (class of the max depth, 0 dry), ``{field}_c{k}`` for each field and wet
        class ``k`` (1 = below the first threshold), ``{field}_unknown`` (zones of unknown
        depth, polygon hazards), ``{field}_wet`` (the total in the wet part), ``evacuate`` (bool)
        and ``evacuate_people`` / ``evacuate_households`` / ``evacuate_vulnerable`` (the whole
        grid's when it is evacuated, else 0), ``homes``, ``homes_wet_share``, ``homes_max_depth``,
        ``rule_basis`` (``homes`` or ``area``: what decided), ``reason_code``, ``reason_zh`` and
        ``reason_en`` (why the grid moves or stays, e.g. "62 % of houses wet, max 1.8 m");
        ``notes`` (:class:`layers.text.Text`) and ``thresholds``.
    """
    from gis.tallies import leaf_grids

    thr = parse_thresholds(thresholds)
    rule = rule or EvacuationRule()
    notes: list[_Note] = []
    g = leaf_grids(grids) if leaves_only and "grid_id" in grids else grids
    if population_field != "population" and population_field in g:
        g = g.assign(population=g[population_field])
    elif population_field not in g and population is None:
        raise LayerError(problem(f"暴露图层没有人口字段“{population_field}”",
                                 f"the exposure layer has no population field '{population_field}'",
                                 "用 --population-field 指定人口字段，或补充人口列",
                                 "name the population column with --population-field, or add one",
                                 field=population_field))
    ncls = len(thr) + 1
    geom_types = set(g.geometry.geom_type.dropna().unique()) if len(g) else set()
    points = bool(geom_types) and geom_types <= {"Point", "MultiPoint"}
    if points:
        stats = _point_exposure(g, hazard, thr)
    elif hazard.depth is not None:  # a depth raster
        pop_on = None
        if population is not None:
            pop_on, pnotes = _on_grid(population, hazard.depth)
            notes += pnotes
        stats = zonal_depth(g, hazard.depth, thr, weights=pop_on)
        stats["share_unknown"] = 0.0
        n_sampled = int(stats["sampled"].sum())
        if n_sampled:
            notes.append(Text(f"{n_sampled} 个网格小于一个像元，按其内部代表点处的水深计算",
                              f"{n_sampled} grids are smaller than a cell: their depth was sampled at an interior "
                              "point",
                              "grids_below_cell"))
    else:
        if population is not None:
            notes.append(Text("危险区为面时不使用人口栅格，按网格人数均匀分布",
                              "with danger-zone polygons the population raster is not used; people are spread evenly",
                              "zones_no_pop_raster"))
            population = None
        stats = _polygon_overlay(g, hazard, thr)
    cols_keep = [c for c in ("grid_id", "name", "level", "parent_id", "township", "village", "responsible", "phone",
                             "shelter") if c in g]
    out = gpd.GeoDataFrame(g[cols_keep].copy(), geometry=g.geometry.values, crs=g.crs, index=g.index)
    for f in PEOPLE_FIELDS:
        out[f] = pd.to_numeric(g[f], errors="coerce").astype("float64") if f in g else np.nan
    out["flooded_share"] = stats["share"].to_numpy()
    out["max_depth"] = stats["max_depth"].to_numpy()
    out["mean_depth"] = stats["mean_depth"].to_numpy()
    out["depth_class"] = depth_class(out["max_depth"].to_numpy(), thr)
    shares = np.column_stack([stats[f"share_c{k}"].to_numpy() for k in range(1, ncls + 1)]
                             + [stats["share_unknown"].to_numpy()])
    use_raster_people = population is not None and "w_c0" in stats
    for f in PEOPLE_FIELDS:
        base = out[f].to_numpy()
        if f == "population" and use_raster_people:
            per = np.column_stack([stats[f"w_c{k}"].to_numpy() for k in range(1, ncls + 1)] + [np.zeros(len(out))])
        else:
            per = base[:, None] * shares
        for k in range(1, ncls + 1):
            out[f"{f}_c{k}"] = per[:, k - 1]
        out[f"{f}_unknown"] = per[:, ncls]
        out[f"{f}_wet"] = per.sum(axis=1) if len(out) else np.zeros(0)
    min_depth = rule.depth(thr)
    share = out["flooded_share"].to_numpy()
    with np.errstate(invalid="ignore"):
        deep = (out["max_depth"].to_numpy() >= min_depth) | (stats["share_unknown"].to_numpy() > 0)
    evac_area = deep & (share > 0) & (share >= rule.min_share)
    hs = None
    if rule.basis == "homes" and homes is not None and len(out):
        frame = crs if crs is not None else metric_crs(tuple(float(v) for v in out.to_crs(4326).total_bounds))
        hs = home_exposure(out, homes, hazard, min_depth=min_depth, crs=frame)
    has_homes = hs["homes"].to_numpy() > 0 if hs is not None else np.zeros(len(out), dtype=bool)
    if hs is not None and homes is not None:
        hshare = hs["homes_wet_share"].to_numpy()
        evac_homes = (hshare > 0) & (hshare >= rule.min_share)
        evac = np.where(has_homes, evac_homes, evac_area)
        out["homes"] = hs["homes"].to_numpy()
        out["homes_wet_share"] = hshare
        out["homes_max_depth"] = hs["homes_max_depth"].to_numpy()
        n_home_grids = int(has_homes.sum())
        notes.append(Text(f"转移判断：{n_home_grids:,} 个网格按{homes.described.zh}中的居住点判断水是否到达，"
                          f"其余 {len(out) - n_home_grids:,} 个网格按淹没面积判断",
                          f"who moves: {n_home_grids:,} grids by whether the water reaches their homes "
                          f"({homes.described.en}), the other {len(out) - n_home_grids:,} by their flooded area",
                          "rule_basis"))
    else:
        evac = evac_area
        out["homes"] = 0.0
        out["homes_wet_share"] = np.nan
        out["homes_max_depth"] = np.nan
    out["rule_basis"] = np.where(has_homes, "homes", "area")
    codes, zh, en = _reasons(out, evac, has_homes, homes, stats["share_unknown"].to_numpy())
    out["reason_code"], out["reason_zh"], out["reason_en"] = codes, zh, en
    out["evacuate"] = evac
    for f, col in (("population", "evacuate_people"), ("households", "evacuate_households"),
                   ("vulnerable", "evacuate_vulnerable")):
        out[col] = np.where(evac, out[f].to_numpy(), 0.0)
    if "covered" in stats and len(out):
        uncovered = int((~stats["covered"].to_numpy()).sum())
        if uncovered:
            notes.append(Text(f"{uncovered} 个网格在水深栅格范围之外，按无水处理",
                              f"{uncovered} grids lie outside the depth raster: taken as dry", "grids_outside_raster"))
    no_pop = int(out["population"].isna().sum())
    if no_pop and not use_raster_people:
        notes.append(Text(f"{no_pop} 个网格没有人口数，其受影响人数无法计算（不按 0 计）",
                          f"{no_pop} grids have no population: their affected people cannot be counted (not taken "
                          "as 0)",
                          "grids_no_population"))
    if (points or not hazard.is_raster) and float(stats["share_unknown"].sum()) > 0:
        notes.append(Text("部分网格位于水深未知的危险区内：计入受影响与需转移，但不分水深等级",
                          "some grids lie in danger zones of unknown depth: counted as affected and to evacuate, "
                          "without a depth class", "grids_unknown_depth"))
    return Exposure(out, notes, thr)


def _reasons(out: pd.DataFrame, evac: np.ndarray, has_homes: np.ndarray, homes: Homes | None,
             unknown: np.ndarray) -> tuple[list[str], list[str], list[str]]:
    """Why each grid moves or stays: a code and the words in both languages."""
    noun = homes.noun if homes is not None else Text("房屋", "houses")
    codes, zh, en = [], [], []
    share = out["flooded_share"].to_numpy()
    dmax = out["max_depth"].to_numpy()
    hshare = out["homes_wet_share"].to_numpy(dtype="float64")
    hmax = out["homes_max_depth"].to_numpy(dtype="float64")
    for i in range(len(out)):
        if has_homes[i]:
            d = hmax[i] if np.isfinite(hmax[i]) else dmax[i]
            dz = f"，最大水深 {d:.1f} 米" if np.isfinite(d) else "，水深未知"
            de = f", max {d:.1f} m" if np.isfinite(d) else ", depth unknown"
            if evac[i]:
                codes.append("homes_wet")
                zh.append(f"{hshare[i]:.0%} {noun.zh}进水{dz}")
                en.append(f"{hshare[i]:.0%} of {noun.en} wet{de}")
            elif share[i] > 0:
                codes.append("homes_dry")
                zh.append(f"{noun.zh}未进水（淹没面积 {share[i]:.0%}）")
                en.append(f"{noun.en} dry ({share[i]:.0%} of the area wet)")
            else:
                codes.append("dry")
                zh.append("无淹没")
                en.append("dry")
            continue
        if share[i] <= 0:
            codes.append("dry")
            zh.append("无淹没")
            en.append("dry")
            continue
        if np.isfinite(dmax[i]):
            dz, de = Text(f"，最大水深 {dmax[i]:.1f} 米", f", max {dmax[i]:.1f} m", "max_depth")
        else:
            dz, de = Text("，水深未知", ", depth unknown", "depth_unknown") if unknown[i] > 0 else ("", "")
        codes.append("area_wet" if evac[i] else "area_shallow")
        if evac[i]:
            zh.append(f"淹没面积 {share[i]:.0%}{dz}")
            en.append(f"{share[i]:.0%} of the area flooded{de}")
        else:
            zh.append(f"淹没面积 {share[i]:.0%}{dz}，未达转移条件")
            en.append(f"{share[i]:.0%} of the area flooded{de}: below the rule")
    return codes, zh, en


def aggregate(table: pd.DataFrame, by: str = "township") -> pd.DataFrame:
    """Sum a :func:`grid_exposure` table per ``by`` (``'village'``, ``'township'``, or any column).

    Returns
    -------
    DataFrame
        Index ``by`` (missing as ``—``; villages keyed by township and village when both exist):
        ``grids``, ``flooded_grids`` (flooded share > 0), ``evacuate_grids``, sums of every
        ``households/population/vulnerable`` column (``min_count=1``: all-missing stays NaN) and
        ``max_depth`` (largest).
    """
    keys = [by]
    if by == "village" and "township" in table:
        keys = ["township", "village"]
    missing = [k for k in keys if k not in table]
    if missing:
        raise KeyError(f"no column {missing[0]!r} to aggregate by")
    t = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
    grp = [t[k].fillna("—").astype(str) for k in keys]
    people_cols = [c for c in t.columns if c.split("_")[0] in PEOPLE_FIELDS or c.startswith("evacuate_")]
    out = t.groupby(grp)[people_cols].sum(min_count=1)
    g = t.groupby(grp)
    out.insert(0, "grids", g.size())
    out.insert(1, "flooded_grids", g["flooded_share"].apply(lambda s: int((s > 0).sum())))
    out.insert(2, "evacuate_grids", g["evacuate"].sum().astype("int64"))
    out["max_depth"] = g["max_depth"].max()
    out.index.names = keys
    return out


# ---- population rasters ----------------------------------------------------------------------------------------
def _same_grid(a: Raster, b: Raster) -> bool:
    ca, cb = crs_of(a), crs_of(b)
    return a.shape == b.shape and a.transform.almost_equals(b.transform, precision=1e-9) and \
        ca is not None and cb is not None and ca.equals(cb)


def _on_grid(pop: Raster, target: Raster) -> tuple[Raster, list[_Note]]:
    """``pop`` (people per cell) on ``target``'s grid, totals conserved (GDAL ``sum`` resampling)."""
    if _same_grid(pop, target):
        return pop, []
    src = np.asarray(pop.array, dtype="float32").copy()
    src[~pop.valid_mask()] = np.nan
    dst = resample_sum(src, pop.transform, pop.crs, target.shape, target.transform, target.crs)
    return Raster(dst, target.transform, target.crs, nodata=None, name=pop.name), [
        Text("人口栅格与水深栅格网格不同，已按求和方式重采样到水深网格（总人数守恒）",
             "the population raster is on another grid than the depth: resampled onto the depth grid by summing "
             "(totals kept)", "pop_resampled")]


def _bounds_overlap(a: tuple, a_crs: object, b: tuple, b_crs: object) -> bool:
    """Extents ``a`` (in ``a_crs``) and ``b`` (in ``b_crs``) intersect."""
    ca, cb = crs_of(a_crs), crs_of(b_crs)
    if ca is None or cb is None:
        return True
    if not ca.equals(cb):
        tr = pyproj.Transformer.from_crs(ca, cb, always_xy=True)
        try:
            left, bottom, right, top = a
            a = tr.transform_bounds(left, bottom, right, top, densify_pts=21)
        except Exception:  # noqa: BLE001 - outside the projection's area
            return False
    if not all(math.isfinite(v) for v in a):
        return False
    return bool(a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3])


def raster_exposure(pop: Raster, hazard: Hazard, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, *,
                    townships: gpd.GeoDataFrame | None = None, min_depth: float | None = None) -> dict:
    """People of a population raster by flood depth, and per township outline.

    Parameters
    ----------
    pop : Raster
        People per cell (NaN/nodata none).
    hazard : Hazard
        Depth raster (``pop`` is resampled onto its grid by summing when the grids differ) or
        danger-zone polygons (rasterised onto ``pop``'s grid, cell centres).
    thresholds : sequence of float
        Depth-class limits.
    townships : GeoDataFrame, optional
        Township outlines (column ``township``; :attr:`gis.townships.Outlines.gdf`): the people are
        then also counted per township (:func:`gis.flood.population.people_by_township`: the
        outlines rasterised onto ``pop``'s grid, the cell centre deciding).
    min_depth : float, optional
        The depth at which people move (default the lowest threshold).

    Returns
    -------
    dict
        ``total_population`` (all of ``pop``), ``affected_population`` (depth > 0 or inside a
        zone), ``people_to_evacuate`` (where the depth reaches ``min_depth``, or inside a zone of
        unknown depth), ``by_threshold`` ``{"0.5": people at or above 0.5 m, ...}``, ``by_class``
        (label -> people), ``unknown_depth_population`` (zones without depth), ``overlap`` and
        ``notes`` (list of :class:`~layers.text.Text`); with ``townships`` also ``by_township`` (one row per
        township holding people: ``township``, ``population``, ``affected_population``,
        ``people_to_evacuate``, ``by_threshold``, ``unknown_depth_population``, ``max_depth``) and
        ``population_outside_townships``.
    """
    thr = parse_thresholds(thresholds)
    ncls = len(thr) + 1
    move = min(thr) if min_depth is None else float(min_depth)
    notes: list[_Note] = []
    valid = pop.valid_mask()
    p = np.where(valid, np.asarray(pop.array, dtype="float64"), 0.0)
    neg = int((p < 0).sum())
    if neg:
        notes.append(Text(f"人口栅格有 {neg} 个负值像元，按 0 计",
                          f"the population raster has {neg} negative cells; taken as 0", "pop_negative"))
        p = np.maximum(p, 0)
    total = float(p.sum())
    if total == 0:
        notes.append(Text("人口栅格中人口总数为 0", "the population raster holds no people (total 0)", "pop_zero"))
    result: dict[str, Any] = {"total_population": total, "affected_population": 0.0, "people_to_evacuate": 0.0,
              "by_threshold": {str(float(t)): 0.0 for t in thr},
              "by_class": {lab: 0.0 for lab in class_labels(thr)}, "unknown_depth_population": 0.0,
              "overlap": True, "notes": notes}
    towns = townships if townships is not None and len(townships) else None
    hb = hazard.bounds
    if hb is None or not _bounds_overlap(pop.bounds, pop.crs, hb, hazard.crs):
        result["overlap"] = False
        notes.append(Text("人口栅格与洪水范围不重叠：受影响人数为 0（因范围不重叠，并非计算结果）",
                          "the population raster and the flood do not overlap: the affected counts are 0 because the "
                          "extents do not overlap, not because no one is at risk; check the CRS and the files",
                          "pop_no_overlap"))
        if towns is not None:
            dry = np.zeros(pop.shape, dtype=bool)
            flood = FloodCells(pop, np.zeros(pop.shape, dtype=np.int64), dry, dry, np.full(pop.shape, np.nan), ncls)
            result.update(_township_rows(people_by_township(pop, p, towns, flood, same_grid=True), thr, notes))
        return result
    if hazard.depth is not None:  # a depth raster
        pop_r, pn = _on_grid(pop, hazard.depth)
        notes += pn
        same = pop_r is pop
        pp = np.nan_to_num(np.asarray(pop_r.array, dtype="float64"))
        if neg:
            pp = np.maximum(pp, 0)
        d = np.asarray(hazard.depth.array, dtype="float64")
        unknown = np.zeros(d.shape, dtype=bool)
        grid = hazard.depth
    else:
        from rasterio.features import rasterize

        polys = reproject_to(hazard.polygons, pop.crs)
        zone = polys["depth"].to_numpy(dtype="float64")
        vals = np.where(np.isnan(zone), -1.0, np.maximum(zone, 1e-6))
        burned = rasterize(zip(polys.geometry.values, vals), out_shape=pop.shape, transform=pop.transform,
                           fill=np.nan, all_touched=False, dtype="float64")
        unknown = burned == -1
        d = np.where(unknown, np.nan, burned)
        pp, same, grid = p, True, pop
        result["unknown_depth_population"] = float(pp[unknown].sum())
    cls = depth_class(d, thr)
    with np.errstate(invalid="ignore"):
        evacuate = (d >= move) | unknown
        depth = np.where(d > 0, d, np.nan)
    per = np.bincount(cls.ravel(), weights=pp.ravel(), minlength=ncls + 1)
    labels = class_labels(thr)
    result["by_class"] = {labels[k - 1]: float(per[k]) for k in range(1, ncls + 1)}
    for i, t in enumerate(thr):
        result["by_threshold"][str(float(t))] = float(per[i + 2:].sum())
    result["affected_population"] = float(per[1:].sum()) + result["unknown_depth_population"]
    result["people_to_evacuate"] = float(pp[evacuate].sum())
    if towns is not None:
        flood = FloodCells(grid, cls, unknown, evacuate, depth, ncls)
        result.update(_township_rows(people_by_township(pop, p, towns, flood, same_grid=same), thr, notes))
    return result


def _township_rows(table: pd.DataFrame, thr: Sequence[float], notes: list[_Note]) -> dict[str, Any]:
    """``by_township`` rows (every township holding people) and the people outside every outline, said."""
    rows = []
    for name, r in zip(table.index, table.to_dict("records")):
        if name == OUTSIDE or (r["population"] <= 0 and r["affected"] <= 0):
            continue
        rows.append({"township": str(name), "population": float(r["population"]),
                     "affected_population": float(r["affected"]), "people_to_evacuate": float(r["evacuate"]),
                     "by_threshold": {str(float(t)): float(sum(r[f"c{k}"] for k in range(i + 2, len(thr) + 2)))
                                      for i, t in enumerate(thr)},
                     "unknown_depth_population": float(r["unknown"]),
                     "max_depth": float(r["max_depth"]) if np.isfinite(r["max_depth"]) else None})
    outside = float(table["population"].to_numpy()[table.index == OUTSIDE].sum())
    if outside > 0:
        notes.append(Text(f"{outside:,.0f} 人所在像元的中心不在任何乡镇界内，未计入分乡镇统计",
                          f"{outside:,.0f} people lie in cells whose centre is outside every township outline: "
                          "not in the per-township figures", "raster_outside_townships"))
    return {"by_township": rows, "population_outside_townships": outside}


# ---- the summary the command line prints -------------------------------------------------------------------------
def _r(v: float | None, nd: int = 1) -> float | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return round(float(v), nd)


def exposure_summary(hazard: Hazard, exposure: gpd.GeoDataFrame | Raster, *,
                     thresholds: Sequence[float] = DEFAULT_THRESHOLDS, population_field: str | None = None,
                     rule: EvacuationRule | None = None, population: Raster | None = None,
                     townships: Outlines | None = None, lang: str = "zh") -> dict:
    """The exposure of ``exposure`` to ``hazard`` as one JSON-able dict.

    Parameters
    ----------
    hazard : Hazard
        The scenario.
    exposure : GeoDataFrame or Raster
        Transfer grids (leaf grids are counted), villages, any layer with a population field, or
        a population raster (people per cell).
    thresholds : sequence of float
        Depth-class limits.
    population_field : str, optional
        Population column (default ``population``).
    rule : EvacuationRule, optional
        Evacuation rule for grid layers.
    population : Raster, optional
        People per cell to use inside the grids (raster hazards).
    townships : Outlines, optional
        Township outlines to split a population raster by (:func:`gis.townships.township_outlines`);
        a vector layer counts under each row's ``township`` (:func:`gis.townships.township_basis`).
    lang : {'zh', 'en'}
        Language of ``notes``; both are always in ``notes_zh`` / ``notes_en``.

    Returns
    -------
    dict
        Always ``scenario``, ``method``, ``screening``, ``thresholds``, ``overlap``,
        ``total_population``, ``affected_population``, ``by_threshold`` (people at or above each
        threshold, keyed ``"0.5"``...), ``by_class``, ``unknown_depth_population``, ``notes``,
        ``notes_zh``, ``notes_en``. For a vector layer also ``exposure_kind`` ('grids' or
        'features'), ``features`` (rows counted), ``grids_total``, ``leaf_grids``,
        ``flooded_grids``, ``evacuate_grids``, ``people_to_evacuate``,
        ``households_to_evacuate``, ``vulnerable_to_evacuate``, ``affected_households``,
        ``affected_vulnerable``, ``grids_without_population``, ``evacuation_rule`` and, when the
        rows have a ``township`` field, ``by_township`` (one row per township with flooded rows:
        ``grids`` / ``flooded_grids`` / ``evacuate_grids``, or ``features`` / ... for a layer that
        is not transfer grids, and the people). For a population raster also
        ``people_to_evacuate`` (cells where the water reaches the rule's depth), ``townships_from``
        (the outline source, ``none`` without outlines) and, with ``townships``, ``by_township``
        (every township holding people, :func:`raster_exposure`) and
        ``population_outside_townships``. Counts are rounded to 0.1 person; ``None`` means unknown
        (no population field), never a silent zero.
    """
    thr = parse_thresholds(thresholds)
    rule = rule or EvacuationRule()
    hnotes = list(hazard.notes)
    if hazard.screening:
        from gis.flood.hazard import SCREENING_LABEL

        if SCREENING_LABEL not in hnotes:
            hnotes.insert(0, SCREENING_LABEL)
    base = {"scenario": hazard.name, "method": hazard.method, "screening": hazard.screening,
            "stage_m": hazard.stage_m, "thresholds": list(thr), "class_labels": class_labels(thr)}
    if isinstance(exposure, Raster):
        return _with_notes(*_raster_summary(base, hazard, exposure, thr, rule, townships, hnotes), lang)
    field = population_field or "population"
    is_grids = "grid_id" in exposure and "level" in exposure
    from gis.tallies import leaf_grids

    rows = leaf_grids(exposure) if is_grids else exposure
    notes = list(hnotes)
    has_pop = field in rows or population is not None
    if not has_pop:
        raise LayerError(problem(f"暴露图层没有人口字段“{field}”",
                                 f"the exposure layer has no population field '{field}'",
                                 "用 --population-field 指定人口字段", "name the population column with "
                                 "--population-field", field=field))
    hb = hazard.bounds
    overlap = bool(len(rows)) and hb is not None and _bounds_overlap(tuple(rows.total_bounds), rows.crs, hb,
                                                                    hazard.crs)
    if overlap:
        ex = grid_exposure(rows, hazard, thresholds=thr, rule=rule, population=population,
                           population_field=field, leaves_only=False)
        table = ex.table
        notes += ex.notes
    else:
        table = None
        if hb is None:
            notes.append(Text("本情景没有淹没范围", "the scenario has no flooded area", "no_flooded_area"))
        else:
            notes.append(Text("暴露图层与洪水范围不重叠：受影响人数为 0（因范围不重叠，并非计算结果），"
                              "请检查坐标系和文件",
                              "the exposure layer and the flood do not overlap: the affected counts are 0 because the "
                              "extents do not overlap, not because no one is at risk; check the CRS and the files",
                              "exposure_no_overlap"))
    pop = pd.to_numeric(rows[field], errors="coerce") if field in rows else pd.Series(np.nan, index=rows.index)
    no_pop = int(pop.isna().sum())
    total = float(pop.sum()) if pop.notna().any() else None
    if no_pop and table is None:
        notes.append(Text(f"{no_pop} 个要素没有人口数（不按 0 计）",
                          f"{no_pop} features have no population (not taken as 0)", "features_no_population"))
    if total is None and population is None:
        notes.append(Text("暴露图层中没有任何人口数：受影响人数无法计算",
                          "the exposure layer holds no population at all: affected people cannot be counted",
                          "exposure_no_population"))

    def col_sum(c: str) -> float | None:
        if table is None:
            return 0.0 if total is not None else None
        s = table[c]
        return float(s.sum()) if s.notna().any() else None

    ncls = len(thr) + 1
    labels = class_labels(thr)
    by_class = {labels[k - 1]: _r(col_sum(f"population_c{k}")) for k in range(1, ncls + 1)}
    by_thr = {}
    for i, t in enumerate(thr):
        vals = [col_sum(f"population_c{k}") for k in range(i + 2, ncls + 1)]
        by_thr[str(float(t))] = _r(sum(v for v in vals if v is not None)) if any(v is not None for v in vals) else None
    out = {**base, "exposure_kind": "grids" if is_grids else "features", "overlap": overlap,
           "total_population": _r(total), "affected_population": _r(col_sum("population_wet")),
           "by_threshold": by_thr, "by_class": by_class,
           "unknown_depth_population": _r(col_sum("population_unknown")),
           "affected_households": _r(col_sum("households_wet")),
           "affected_vulnerable": _r(col_sum("vulnerable_wet")),
           "features": int(len(rows)), "evacuation_rule": list(rule.describe(thr))}
    flooded = int((table["flooded_share"] > 0).sum()) if table is not None else 0
    evac = int(table["evacuate"].sum()) if table is not None else 0
    out.update({"flooded_features": flooded, "evacuate_features": evac,
                "people_to_evacuate": _r(col_sum("evacuate_people")),
                "households_to_evacuate": _r(col_sum("evacuate_households")),
                "vulnerable_to_evacuate": _r(col_sum("evacuate_vulnerable")),
                "features_without_population": no_pop})
    if is_grids:
        out.update({"grids_total": int(len(exposure)), "leaf_grids": int(len(rows)), "flooded_grids": flooded,
                    "evacuate_grids": evac, "grids_without_population": no_pop})
    if table is not None and "township" in table:
        unit = "grids" if is_grids else "features"   # rows of the table: leaf grids, or villages / features
        agg = aggregate(table, "township")
        out["by_township"] = [
            {"township": str(idx), unit: int(r["grids"]), f"flooded_{unit}": int(r["flooded_grids"]),
             f"evacuate_{unit}": int(r["evacuate_grids"]), "affected_population": _r(r.get("population_wet")),
             "people_to_evacuate": _r(r.get("evacuate_people")),
             "vulnerable_to_evacuate": _r(r.get("evacuate_vulnerable")), "max_depth": _r(r["max_depth"], 2)}
            for idx, r in agg.iterrows() if r["flooded_grids"] > 0]
    return _with_notes(out, notes, lang)


def _raster_summary(base: dict, hazard: Hazard, pop: Raster, thr: Sequence[float], rule: EvacuationRule,
                    townships: Outlines | None, notes: list) -> tuple[dict, list]:
    """:func:`exposure_summary` of a population raster: the figures rounded, the outline used said."""
    outlines = townships if townships is not None and townships.gdf is not None else None
    d = rule.depth(thr)
    res = raster_exposure(pop, hazard, thr, townships=outlines.gdf if outlines is not None else None, min_depth=d)
    found = res.pop("notes")
    outside = [n for n in found if getattr(n, "code", "") == "raster_outside_townships"]   # after the outline
    notes = [*notes, *[n for n in found if n not in outside],
             Text(f"人口栅格：水深 ≥ {d:g} 米（或位于水深未知的危险区）的像元中的人计为需转移",
                  f"population raster: the people of cells where the water reaches {d:g} m (or in danger zones of "
                  "unknown depth) are counted as to evacuate", "rule_raster"),
             outlines.note if outlines is not None else BASIS_NOTES["raster_none"], *outside]
    out = {**base, "exposure_kind": "population_raster", **res}
    for k in ("total_population", "affected_population", "people_to_evacuate", "unknown_depth_population",
              "population_outside_townships"):
        if k in out:
            out[k] = _r(out[k])
    out["by_threshold"] = {k: _r(v) for k, v in out["by_threshold"].items()}
    out["by_class"] = {k: _r(v) for k, v in out["by_class"].items()}
    out["townships_from"] = outlines.source if outlines is not None else "none"
    if "by_township" in out:
        out["by_township"] = [{**r, **{k: _r(r[k]) for k in ("population", "affected_population",
                                                              "people_to_evacuate", "unknown_depth_population")},
                               "by_threshold": {k: _r(v) for k, v in r["by_threshold"].items()},
                               "max_depth": _r(r["max_depth"], 2)} for r in out["by_township"]]
    return out, notes


def _with_notes(out: dict, notes: list, lang: str) -> dict:
    """``out`` with its notes, repeats dropped: ``notes`` in ``lang``, ``notes_zh`` and ``notes_en``."""
    seen = unique(notes)
    out["notes"] = [pick(n, lang) for n in seen]
    out["notes_zh"] = [zh for zh, _ in seen]
    out["notes_en"] = [en for _, en in seen]
    return out
