"""The evacuation plan: hazard -> exposed grids -> usable shelters -> routes -> optimal assignment -> needs.

:func:`evacuation_plan` chains the analysis modules and returns a :class:`Plan` whose tables are
what the reports (:mod:`gis.report.plan_workbook`, :mod:`gis.report.plan_files`, :mod:`gis.report.village_map`), the
flood page and ``python -m gis plan`` use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.flood.assign import AssignmentResult, assign
from gis.flood.exposure import EvacuationRule, grid_exposure
from gis.flood.hazard import DEFAULT_THRESHOLDS, Hazard
from gis.flood.needs import minimum_needs
from gis.flood.roads import (ACCESS_SPEED_KMH, PASSABLE_DEPTH_M, build_graph, cut_flooded, nearest_nodes,
                         network_costs, route_lines, straight_line_costs, wet_mask_sampler)
from layers.crs import metric_crs

_Note = tuple[str, str]
GRID_COLUMNS = ["grid_id", "name", "township", "village", "responsible", "phone", "households", "population",
                "vulnerable"]


@dataclass
class PlanOptions:
    """Choices behind a plan (all have documented defaults).

    Attributes
    ----------
    thresholds : tuple of float
        Depth class limits in metres (default 0.5, 1.5, 3.0).
    rule : EvacuationRule
        Which grids must move (default: any part at or above the lowest threshold).
    passable_m : float
        Roads at or above this depth are cut (default 0.3 m).
    shelter_flood_m : float
        A shelter standing in water at least this deep is unusable (default 0.0: any water).
    weight : {'length', 'time'}
        What the assignment minimises per person (default length: person-km).
    cut_roads : bool
        Flooded roads are impassable (default True: routes at the flood's height). False plans a
        pre-emptive transfer on the whole network; shelters in water stay unusable either way.
    rates, days : optional
        Minimum-needs rates and days (see :mod:`gis.flood.needs`).
    """

    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    rule: EvacuationRule | None = None
    passable_m: float = PASSABLE_DEPTH_M
    shelter_flood_m: float = 0.0
    weight: str = "length"
    cut_roads: bool = True
    rates: dict | None = None
    days: int = 3


@dataclass
class Plan:
    """An evacuation plan for one scenario (tables in EPSG:4490).

    Attributes
    ----------
    exposure : GeoDataFrame
        Every leaf grid with its exposure (``flooded_share``, ``max_depth``, ``evacuate``...).
    grids : GeoDataFrame
        The grids to evacuate (catalogue fields, ``max_depth``, ``flooded_share``, ``evacuate``).
    assignments : GeoDataFrame
        One row per (grid, shelter): ``grid_id``, ``shelter_id``, ``people``, ``vulnerable``,
        ``distance_km``, ``time_min``, ``method``, ``split``, route ``geometry``.
    shelters : GeoDataFrame
        Every shelter: ``usable``, ``reason``, ``capacity``, ``load``, ``vulnerable_load``, ``spare``.
    unplaced : DataFrame
        Per township: ``township``, ``people_unplaced``, ``capacity_missing``...
    needs : DataFrame
        Minimum needs per shelter and in total.
    summary : dict
        ``people_to_evacuate``, ``people_placed``, ``people_unplaced``, ``shelters_used``,
        ``person_km``, scenario name and method.
    notes : list of (zh, en)
    """

    exposure: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    assignments: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    unplaced: pd.DataFrame
    needs: pd.DataFrame
    summary: dict
    notes: list[_Note] = field(default_factory=list)
    hazard: Hazard | None = None
    result: AssignmentResult | None = field(default=None, repr=False)

    def messages(self, lang: str = "zh") -> list[str]:
        """Notes in one language."""
        return [zh if lang == "zh" else en for zh, en in self.notes]


def _shelter_status(shelters: gpd.GeoDataFrame, depth_at, graph, cut, crs, flood_m: float
                    ) -> tuple[np.ndarray, list[str]]:
    """Usable flag and reason per shelter: standing in water, or its access road cut."""
    pts = shelters.geometry.representative_point().to_crs(crs)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    depth = np.asarray(depth_at(xy[:, 0], xy[:, 1]), dtype="float64") if len(xy) else np.zeros(0)
    usable = np.ones(len(shelters), bool)
    reason = [""] * len(shelters)
    with np.errstate(invalid="ignore"):
        wet = np.isfinite(depth) & (depth > flood_m) | np.isinf(depth)
    for i in np.flatnonzero(wet):
        usable[i] = False
        reason[i] = "位于淹没区" + (f"（水深 {depth[i]:.1f} 米）" if np.isfinite(depth[i]) else "")
    if graph is not None and cut is not None and len(xy):
        node, _snap = nearest_nodes(graph, xy)
        before, after = graph.degree, cut.degree
        cut_off = (node >= 0) & (before[np.maximum(node, 0)] > 0) & (after[np.maximum(node, 0)] == 0)
        for i in np.flatnonzero(cut_off & usable):
            usable[i] = False
            reason[i] = "进出道路被淹"
    capacity = pd.to_numeric(shelters.get("capacity"), errors="coerce")
    for i in np.flatnonzero(usable & ~(capacity.fillna(0).to_numpy() > 0)):
        usable[i] = False
        reason[i] = "容纳人数为 0 或缺失"
    if "status" in shelters:
        closed = shelters["status"].fillna("available").to_numpy() != "available"
        for i in np.flatnonzero(usable & closed):
            usable[i] = False
            reason[i] = "状态不可用"
    return usable, reason


def evacuation_plan(grids: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, hazard: Hazard, *,
                    roads: gpd.GeoDataFrame | None = None, options: PlanOptions | None = None) -> Plan:
    """Who moves, to which shelter, by which road, within capacity, and what they need.

    Parameters
    ----------
    grids : GeoDataFrame
        Transfer grids (all levels; the leaf grids are used).
    shelters : GeoDataFrame
        Shelters with ``capacity``.
    hazard : Hazard
        The flood scenario.
    roads : GeoDataFrame, optional
        Road network; without it distances are straight lines times a detour factor (labelled).
    options : PlanOptions, optional
        Thresholds, rule, passable depth, weights, needs rates.

    Returns
    -------
    Plan
    """
    opt = options or PlanOptions()
    notes: list[_Note] = list(hazard.notes)
    exposure = grid_exposure(grids, hazard, thresholds=opt.thresholds, rule=opt.rule)
    notes += list(exposure.attrs.get("notes", []))
    at_risk = exposure[exposure["evacuate"].fillna(False).astype(bool)].copy()
    b = tuple(pd.concat([grids.to_crs(4326).geometry, shelters.to_crs(4326).geometry]).total_bounds)
    crs = metric_crs(b)
    depth_at = wet_mask_sampler(hazard, crs=crs)

    graph = cut = None
    if roads is not None and len(roads):
        graph = build_graph(roads, crs=crs)
        cut = cut_flooded(graph, depth_at, passable_m=opt.passable_m) if opt.cut_roads else graph
    usable, reason = _shelter_status(shelters, depth_at, graph, cut, crs, opt.shelter_flood_m)
    sh = shelters.copy()
    sh["shelter_id"] = sh["shelter_id"].astype(str)
    sh["usable"], sh["reason"] = usable, reason

    gpts = at_risk.geometry.representative_point().to_crs(crs)
    gxy = np.column_stack([gpts.x.to_numpy(), gpts.y.to_numpy()]) if len(at_risk) else np.zeros((0, 2))
    ok = sh[sh["usable"]]
    spts = ok.geometry.representative_point().to_crs(crs)
    sxy = np.column_stack([spts.x.to_numpy(), spts.y.to_numpy()]) if len(ok) else np.zeros((0, 2))
    gids, sids = at_risk["grid_id"].astype(str).to_numpy(), ok["shelter_id"].to_numpy()

    fallback: list[int] = []
    snapped: list = []   # the road nodes the costs used (routes must start and end at the same ones)
    road_notes: list = []

    def costs(k):
        """Road costs; grids cut off from every usable shelter by road go on foot (straight line, labelled)."""
        if cut is None:
            return straight_line_costs(gxy, sxy, k=k, weight=opt.weight, origin_ids=gids, dest_ids=sids)
        net = network_costs(cut, gxy, sxy, k=k, weight=opt.weight, origin_ids=gids, dest_ids=sids)
        snapped[:] = [net.origins[["node", "snap_m"]].to_numpy(), net.dests[["node", "snap_m"]].to_numpy()]
        # the road notes (walks to another road, far points, parts); "no road route" is said below, with its fallback
        road_notes[:] = [n for n in net.notes if "no road route" not in n[1]]
        off = net.origins["unreachable"].to_numpy(dtype=bool)
        fallback[:] = [int(off.sum())]
        if not off.any() or not len(sxy):
            return net
        walk = straight_line_costs(gxy[off], sxy, k=k, weight=opt.weight, origin_ids=gids[off], dest_ids=sids)
        return pd.concat([net.table, walk.table], ignore_index=True)

    demand = pd.DataFrame({"grid_id": gids, "people": at_risk["evacuate_people"].fillna(0).to_numpy(),
                           "vulnerable": at_risk.get("evacuate_vulnerable", pd.Series(0, index=at_risk.index))
                           .fillna(0).to_numpy(),
                           "township": at_risk.get("township", pd.Series(None, index=at_risk.index)).to_numpy()})
    if len(demand) and len(ok):
        res = assign(demand, ok.drop(columns="geometry"), costs)
    else:
        res = assign(demand, ok.drop(columns="geometry") if len(ok) else
                     pd.DataFrame({"shelter_id": [], "capacity": []}),
                     pd.DataFrame({"origin_id": [], "dest_id": [], "cost": []}))
    notes += res.notes
    notes += [n for n in road_notes if n not in notes]
    if fallback and fallback[0]:
        notes.append((f"{fallback[0]:,} 个网格经道路无法到达任何可用安置场所（道路不连通或被淹断），按直线距离 × 1.4 "
                      "估算步行转移，路线标为“直线”", f"{fallback[0]:,} grids cannot reach any usable shelter by "
                      "road (roads disconnected or flooded); their distance is the straight line x 1.4, labelled "
                      "'straight_line'"))
    assignments = _routes(res, cut, crs, gxy, gids, sxy, sids, opt.weight, snapped)

    load = res.shelters.set_index("shelter_id") if len(res.shelters) else pd.DataFrame()
    for col in ("load", "vulnerable_load", "spare"):
        sh[col] = sh["shelter_id"].map(load[col]).fillna(0).astype("int64") if col in load else 0
    sh.loc[~sh["usable"], "spare"] = 0
    needs = minimum_needs(res.shelters if len(res.shelters) else pd.DataFrame({"shelter_id": [], "load": []}),
                          rates=opt.rates, days=opt.days)
    keep = [c for c in GRID_COLUMNS if c in at_risk] + ["max_depth", "mean_depth", "flooded_share", "evacuate",
                                                       "evacuate_people", "evacuate_vulnerable", "geometry"]
    summary = dict(res.summary)
    summary.update({"scenario": hazard.name, "hazard_method": hazard.method,
                    "method_note": hazard.notes[0][0] if hazard.screening and hazard.notes else "",
                    "route_method": "road" if cut is not None else "straight_line",
                    "shelters_unusable": int((~sh["usable"]).sum()),
                    "grids_to_evacuate": int(len(at_risk))})
    return Plan(exposure=exposure, grids=at_risk[[c for c in keep if c in at_risk]], assignments=assignments,
                shelters=sh.to_crs(4490), unplaced=res.unplaced, needs=needs, summary=summary, notes=notes,
                hazard=hazard, result=res)


def _routes(res: AssignmentResult, cut, crs, gxy, gids, sxy, sids, weight: str,
            snapped: list | None = None) -> gpd.GeoDataFrame:
    """Assignment rows with route lines (road, or straight line where there is no road layer).

    ``snapped`` holds the (node, snap metres) of each origin and destination that the costs used,
    so a route starts where its cost did (a grid may walk past a cut-off road to one that leads on).
    """
    a = res.assignments.copy()
    cols = ["grid_id", "shelter_id", "people", "vulnerable", "distance_km", "time_min", "method", "split"]
    if not len(a):
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=4490)
    gpos = pd.Series(np.arange(len(gids)), index=gids)
    spos = pd.Series(np.arange(len(sids)), index=sids)
    gi, si = gpos.reindex(a["grid_id"]).to_numpy(), spos.reindex(a["shelter_id"]).to_numpy()
    start, end = gxy[gi], sxy[si]
    straight = np.hypot(*(end - start).T)
    if cut is not None:
        if snapped:
            onodes, dnodes = snapped
            on, on_snap = onodes[gi, 0].astype(np.int64), onodes[gi, 1]
            dn, dn_snap = dnodes[si, 0].astype(np.int64), dnodes[si, 1]
        else:
            on, on_snap = nearest_nodes(cut, start)
            dn, dn_snap = nearest_nodes(cut, end)
        r = route_lines(cut, on, dn, weight="length")
        geoms = []
        for k in range(len(a)):
            g = r["geometry"].iloc[k]
            pts = [start[k]] + (list(np.asarray(g.coords)) if g is not None else []) + [end[k]]
            geoms.append(shapely.LineString(pts))
        access = on_snap + dn_snap
        length = np.where(r["length_m"].notna(), r["length_m"].to_numpy() + access, straight * 1.4)
        secs = np.where(r["time_s"].notna(), r["time_s"].to_numpy() + access / (ACCESS_SPEED_KMH / 3.6),
                        straight * 1.4 / (20 / 3.6))
        method = np.where(r["geometry"].notna(), "road", "straight_line")
    else:
        geoms = [shapely.LineString([s, e]) for s, e in zip(start, end)]
        length, secs, method = straight * 1.4, straight * 1.4 / (20 / 3.6), "straight_line"
    a["distance_km"] = np.round(length / 1000, 2)
    a["time_min"] = np.round(secs / 60, 1)
    a["method"] = method
    out = gpd.GeoDataFrame(a[[c for c in cols if c in a]], geometry=geoms, crs=crs).to_crs(4490)
    return out
