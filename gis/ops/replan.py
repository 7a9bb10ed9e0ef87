"""Re-plan of the people still to move over the remaining shelter capacity: the flood plan's exact assignment.

The people still to move in each grid are its people less those reported moved or absent (people
refusing are still to move: persuaded, they need a place). Each shelter's capacity is reduced by its
current occupancy: the people checked in, or, when more, the people already moved from the grids
planned to it (in transit, not yet checked in). A shelter the warning found unusable, or standing in
the flood extent when one is given, takes nobody.

The assignment is :func:`gis.flood.plan.evacuation_plan` itself (exact min-cost flow over road
distances, see :mod:`gis.flood.assign`), called with those grids and shelters. It plans the grids
that a flood scenario marks; here every grid with someone still to move is marked, by giving it a
scenario of a small wet disc at its interior point, on the whole road network (``cut_roads=False``);
when a flood extent is given, the roads are cut to the parts outside it beforehand, so routes keep to
usable roads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.flood.exposure import EvacuationRule
from gis.flood.hazard import Hazard
from gis.flood.plan import Plan, PlanOptions, evacuation_plan
from gis.ops.progress import Progress
from layers.crs import metric_crs
from layers.errors import AnalysisRefused, Problem
from layers.text import Text

__all__ = ["Replan", "replan", "remaining_people", "remaining_capacity"]

#: radius of the wet disc that marks a grid to re-plan, metres
_MARK_M = 1.0


@dataclass
class Replan:
    """A re-plan.

    Attributes
    ----------
    plan : Plan
        The flood plan's result for the remaining people (``assignments``, ``shelters``, ``summary``...).
    grids : DataFrame
        Per grid: ``people``, ``moved``, ``absent``, ``refused``, ``remaining`` (the input).
    shelters : DataFrame
        Per shelter: ``capacity``, ``checked_in``, ``in_transit``, ``reserved``, ``remaining_capacity``.
    summary : dict
        ``people_remaining``, ``people_placed``, ``people_unplaced``, ``people_refusing``,
        ``capacity_remaining``, ``shelters_used``, ``person_km``, ``route_method``.
    notes : list of Text
    """

    plan: Plan
    grids: pd.DataFrame
    shelters: pd.DataFrame
    summary: dict
    notes: list[Text] = field(default_factory=list)


def remaining_people(prog: Progress) -> pd.DataFrame:
    """Per grid of the warning: people, moved, refused, absent and ``remaining`` (still to move)."""
    g = prog.grids[["grid_id", "people", "moved", "refused", "absent", "households", "vulnerable"]].copy()
    g["remaining"] = (g["people"] - g["moved"] - g["absent"]).clip(lower=0).astype("int64")
    return g


def remaining_capacity(prog: Progress) -> pd.DataFrame:
    """Per shelter: capacity, checked in, in transit, ``reserved`` (the larger) and ``remaining_capacity``."""
    s = prog.shelters[["shelter_id", "name", "capacity", "usable", "checked_in", "in_transit"]].copy()
    s["reserved"] = (s["checked_in"] + s["in_transit"]).astype("int64")   # max(checked in, moved there)
    s["remaining_capacity"] = np.where(s["usable"].astype(bool), (s["capacity"] - s["reserved"]).clip(lower=0),
                                       0).astype("int64")
    return s


def _flood_union(flood: object) -> shapely.Geometry | None:
    """The wet area of a flood extent (polygons), EPSG:4490, or None."""
    if flood is None:
        return None
    polys = getattr(flood, "polygons", None) if not isinstance(flood, gpd.GeoDataFrame | gpd.GeoSeries) else flood
    if polys is None or not len(polys):
        return None
    return shapely.union_all(polys.to_crs(4490).geometry.to_numpy())


def replan(prog: Progress, grids: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, *,
           roads: gpd.GeoDataFrame | None = None, flood: object = None, options: PlanOptions | None = None
           ) -> Replan:
    """Assign the people still to move to the remaining capacity (see the module docstring).

    Parameters
    ----------
    prog : Progress
        Where the warning stands (:func:`gis.ops.progress.progress`).
    grids : GeoDataFrame
        The workspace's grids (their outlines; a grid no longer there is placed at its recorded point).
    shelters : GeoDataFrame
        The workspace's shelters (``shelter_id``, ``capacity``...).
    roads : GeoDataFrame, optional
        The road layer.
    flood : optional
        The flood extent: danger-zone polygons (GeoDataFrame) or a :class:`gis.flood.hazard.Hazard`
        with polygons. Roads are cut to outside it and shelters in it take nobody.
    options : PlanOptions, optional
        Weight and needs rates of the plan (``rule`` and ``cut_roads`` are set here).

    Raises
    ------
    AnalysisRefused
        Nobody is left to move.
    """
    notes: list[Text] = []
    people = remaining_people(prog)
    left = people[people["remaining"] > 0]
    if not len(left):
        raise AnalysisRefused(Problem("没有待转移的人员，无需重新分配", "nobody is left to move; nothing to re-plan",
                                      "", "", field="replan"))
    g = grids.copy()
    g["grid_id"] = g["grid_id"].astype(str)
    geo = g.drop_duplicates("grid_id").set_index("grid_id").geometry.reindex(left["grid_id"])
    snap = prog.grids.set_index("grid_id").reindex(left["grid_id"])
    lost = geo.isna().to_numpy()
    if lost.any():
        pts = gpd.GeoSeries(gpd.points_from_xy(snap["lon"], snap["lat"]), crs=4490)
        crs = metric_crs(tuple(pts.total_bounds))
        disc = pts.to_crs(crs).buffer(50.0).to_crs(g.crs or 4490)
        geo = gpd.GeoSeries(np.where(lost, disc.to_numpy(), geo.to_numpy()), crs=g.crs or 4490)
        notes.append(Text(f"{int(lost.sum())} 个网格已不在工作空间中，按记录的位置计",
                          f"{int(lost.sum())} grids are no longer in the workspace; their recorded point is used",
                          "replan_grid_lost"))
    share = np.where(left["people"] > 0, left["remaining"] / left["people"].where(left["people"] > 0, 1), 1.0)
    gin = gpd.GeoDataFrame({
        "grid_id": left["grid_id"].to_numpy(), "name": snap["name"].to_numpy(), "level": "household",
        "township": snap["township"].to_numpy(), "village": snap["village"].to_numpy(),
        "responsible": snap["responsible"].to_numpy(), "phone": snap["phone"].to_numpy(),
        "population": left["remaining"].to_numpy(),
        "households": np.ceil(left["households"].to_numpy() * share).astype("int64"),
        "vulnerable": np.minimum(left["vulnerable"].to_numpy(), left["remaining"].to_numpy()),
    }, geometry=np.asarray(geo.to_numpy(), dtype=object), crs=g.crs or 4490).to_crs(4490)

    cap = remaining_capacity(prog).set_index("shelter_id")
    sh = shelters.copy()
    sh["shelter_id"] = sh["shelter_id"].astype(str)
    sh["capacity"] = sh["shelter_id"].map(cap["remaining_capacity"]).fillna(
        pd.to_numeric(sh.get("capacity"), errors="coerce")).fillna(0).astype("int64")
    wet = _flood_union(flood)
    if wet is not None:
        inside = shapely.intersects(wet, sh.geometry.to_crs(4490).to_numpy())
        if inside.any():
            sh.loc[inside, "status"] = "unavailable"
            notes.append(Text(f"{int(inside.sum())} 个安置场所位于洪水范围内，不再安置",
                              f"{int(inside.sum())} shelters stand in the flood extent and take nobody",
                              "replan_shelters_wet"))
    road_in = roads
    if roads is not None and len(roads) and wet is not None:
        r = roads.to_crs(4490).copy()
        r["geometry"] = shapely.difference(r.geometry.to_numpy(), wet)
        road_in = r[~r.geometry.is_empty].explode(index_parts=False).reset_index(drop=True)
        notes.append(Text("道路已按洪水范围截断：路线只走范围外的道路", "roads were cut to the parts outside the flood "
                          "extent: routes keep to usable roads", "replan_roads_cut"))

    pts = gin.geometry.representative_point()
    crs = metric_crs(tuple(pts.total_bounds))
    marks = gpd.GeoDataFrame(geometry=pts.to_crs(crs).buffer(_MARK_M, quad_segs=4), crs=crs).to_crs(4490)
    hazard = Hazard.from_polygons(marks, source="remaining", name="待转移网格")
    opt = options or PlanOptions()
    opt = PlanOptions(thresholds=opt.thresholds, rule=EvacuationRule(min_share=0.0), passable_m=opt.passable_m,
                      shelter_flood_m=opt.shelter_flood_m, weight=opt.weight, cut_roads=False, rates=opt.rates,
                      days=opt.days)
    plan = evacuation_plan(gin, sh, hazard, roads=road_in, options=opt)
    marker_notes = set(map(tuple, hazard.notes))
    plan.notes = [n for n in plan.notes if tuple(n) not in marker_notes and "危险区" not in n[0]]
    s = plan.summary
    summary = {"people_remaining": int(left["remaining"].sum()), "people_placed": int(s.get("people_placed", 0)),
               "people_unplaced": int(s.get("people_unplaced", 0)), "people_refusing": int(left["refused"].sum()),
               "capacity_remaining": int(cap["remaining_capacity"].sum()),
               "shelters_used": int(s.get("shelters_used", 0)), "person_km": round(float(s.get("person_km", 0.0)), 1),
               "route_method": s.get("route_method"), "grids": int(len(left))}
    if summary["people_refusing"]:
        notes.append(Text(f"其中拒绝转移 {summary['people_refusing']} 人仍按待转移计，已为其预留床位",
                          f"{summary['people_refusing']} people refusing are still counted as to move; places are "
                          "kept for them", "replan_refusing"))
    return Replan(plan, people, cap.reset_index(), summary, notes)
