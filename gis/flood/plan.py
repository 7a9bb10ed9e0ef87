"""The evacuation plan: hazard -> who must move -> usable shelters -> routes over roads and terrain -> optimal
assignment -> needs.

:func:`evacuation_plan` chains the analysis modules in one metric frame (:class:`gis.projection.AnalysisFrame`)
and returns a :class:`Plan` whose tables are what the reports (:mod:`gis.report.plan_workbook`,
:mod:`gis.report.plan_files`, :mod:`gis.report.village_map`), the flood page and ``python -m gis plan`` use.
:class:`gis.flood.scenario.FloodScenario` builds the inputs and options from a page, the command line or a
saved scenario and calls it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.flood.assign import AssignmentResult, assign
from gis.flood.candidates import MODES, Candidates
from gis.flood.exposure import EvacuationRule, grid_exposure
from gis.flood.hazard import DEFAULT_THRESHOLDS, Hazard, wet_mask_sampler
from gis.flood.homes import Homes
from gis.flood.needs import minimum_needs
from gis.flood.roads import PASSABLE_DEPTH_M, build_graph, cut_flooded, nearest_nodes
from gis.flood.walking import WALK_LIMIT_M, build_surface
from gis.projection import TERRAIN_CELL_M, AnalysisFrame
from layers.errors import AnalysisRefused, problem
from layers.raster import Raster
from layers.text import Text, both, registry, unique

__all__ = ["PlanOptions", "Plan", "evacuation_plan", "SHELTER_REASONS", "GRID_COLUMNS"]

GRID_COLUMNS = ["grid_id", "name", "township", "village", "responsible", "phone", "households", "population",
                "vulnerable"]

#: why a shelter is not used, by code
SHELTER_REASONS: dict[str, Text] = registry({
    "flooded": ("位于淹没区", "inside the flood"),
    "access_cut": ("进出道路被淹", "its access road is flooded"),
    "capacity": ("容纳人数为 0 或缺失", "capacity zero or missing"),
    "status": ("状态不可用", "marked unavailable"),
})


@dataclass
class PlanOptions:
    """Choices behind a plan (all have documented defaults).

    Attributes
    ----------
    thresholds : tuple of float
        Depth class limits in metres (default 0.5, 1.5, 3.0).
    rule : EvacuationRule
        Which grids must move (default: the water reaches the lowest threshold where people live).
    passable_m : float
        Roads at or above this depth are cut, and water this deep is not walked into (default 0.3 m).
    shelter_flood_m : float
        A shelter standing in water at least this deep is unusable (default 0.0: any water).
    weight : {'length', 'time'}
        What the assignment minimises per person (default length: person-km).
    cut_roads : bool
        Flooded roads are impassable (default True: routes at the flood's height). False plans a
        pre-emptive transfer on the whole network; shelters in water stay unusable either way.
    walk_limit_m : float
        Longest walking leg offered, metres of path (default 3,000). Beyond it: no reachable shelter.
    rates, days : optional
        Minimum-needs rates and days (see :mod:`gis.flood.needs`).
    """

    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    rule: EvacuationRule | None = None
    passable_m: float = PASSABLE_DEPTH_M
    shelter_flood_m: float = 0.0
    weight: str = "length"
    cut_roads: bool = True
    walk_limit_m: float = WALK_LIMIT_M
    rates: dict | None = None
    days: int = 3


@dataclass
class Plan:
    """An evacuation plan for one scenario (tables in EPSG:4490).

    Attributes
    ----------
    exposure : GeoDataFrame
        Every leaf grid with its exposure (``flooded_share``, ``max_depth``, ``evacuate``, ``reason_*``...).
    grids : GeoDataFrame
        The grids to evacuate (catalogue fields, ``max_depth``, ``flooded_share``, ``evacuate``,
        ``reason_zh`` / ``reason_en``).
    assignments : GeoDataFrame
        One row per (grid, shelter): ``grid_id``, ``shelter_id``, ``people``, ``households``,
        ``vulnerable``, ``distance_km``, ``time_min``, ``method`` (``road``, ``walk``, ``straight``),
        ``walk_km`` (longest walking leg), ``climb_m``, ``split``, route ``geometry``.
    shelters : GeoDataFrame
        Every shelter: ``usable``, ``reason_code``, ``reason_zh``, ``reason_en``, ``capacity``,
        ``load``, ``vulnerable_load``, ``spare``.
    unplaced : DataFrame
        Per township: ``township``, ``people_unplaced``, ``households_unplaced``, ``capacity_missing``...
    unplaced_grids : DataFrame
        Per grid with people left: ``grid_id``, ``people_unplaced``, ``households_unplaced``,
        ``vulnerable_unplaced``, ``reason`` (``no_shelter_reachable`` or ``capacity``).
    needs : DataFrame
        Minimum needs per shelter and in total.
    summary : dict
        ``people_to_evacuate``, ``people_placed``, ``people_unplaced``, ``households_*``,
        ``people_by_route_mode``, ``longest_walk_km``, ``people_no_reachable_shelter``,
        ``metric_crs``, ``shelters_used``, ``person_km``, scenario and method.
    notes : list of Text
    """

    exposure: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    assignments: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    unplaced: pd.DataFrame
    needs: pd.DataFrame
    summary: dict
    notes: list[Text] = field(default_factory=list)
    hazard: Hazard | None = None
    result: AssignmentResult | None = field(default=None, repr=False)
    unplaced_grids: pd.DataFrame = field(default_factory=pd.DataFrame)
    frame: AnalysisFrame | None = None
    candidates: Candidates | None = field(default=None, repr=False)

    def messages(self, lang: str = "zh") -> list[str]:
        """Notes in one language."""
        return [n(lang) for n in unique(self.notes)]


def _reason(code: str) -> Text:
    return SHELTER_REASONS[code]


def _shelter_status(shelters: gpd.GeoDataFrame, depth_at, graph, cut, crs, flood_m: float, *,
                    walking: bool) -> tuple[np.ndarray, list[str]]:
    """Usable flag and reason code per shelter: standing in water, its access road cut, no capacity, closed.

    With a walking surface a shelter whose own road is cut is still reached on foot from another road, so
    "access road cut" only applies without a DEM.
    """
    pts = shelters.geometry.representative_point().to_crs(crs) if len(shelters) else gpd.GeoSeries([], crs=crs)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()]) if len(pts) else np.zeros((0, 2))
    depth = np.asarray(depth_at(xy[:, 0], xy[:, 1]), dtype="float64") if len(xy) else np.zeros(0)
    code = np.array([""] * len(shelters), dtype=object)
    with np.errstate(invalid="ignore"):
        wet = (np.isfinite(depth) & (depth > flood_m)) | np.isinf(depth)
    code[wet] = "flooded"
    if not walking and graph is not None and cut is not None and len(xy):
        node, _snap = nearest_nodes(graph, xy)
        before, after = graph.degree, cut.degree
        cut_off = (node >= 0) & (before[np.maximum(node, 0)] > 0) & (after[np.maximum(node, 0)] == 0)
        code[cut_off & (code == "")] = "access_cut"
    capacity = pd.to_numeric(shelters.get("capacity"), errors="coerce") if "capacity" in shelters else \
        pd.Series(np.nan, index=shelters.index)
    code[(code == "") & ~(capacity.fillna(0).to_numpy() > 0)] = "capacity"
    if "status" in shelters:
        closed = shelters["status"].fillna("available").to_numpy() != "available"
        code[(code == "") & closed] = "status"
    return code == "", list(code)


def _origins(grids: gpd.GeoDataFrame, homes: Homes | None, crs) -> np.ndarray:
    """Where each grid's people start: the home nearest its homes' weighted centre, else an interior point."""
    rep = grids.geometry.representative_point().to_crs(crs)
    xy = np.column_stack([rep.x.to_numpy(), rep.y.to_numpy()]) if len(rep) else np.zeros((0, 2))
    if homes is None or not len(grids) or not len(homes.points):
        return xy
    pts = homes.points.to_crs(crs)
    zones = gpd.GeoDataFrame({"_g": np.arange(len(grids))}, geometry=grids.to_crs(crs).geometry.values, crs=crs)
    j = gpd.sjoin(pts, zones, how="inner", predicate="within")
    if not len(j):
        return xy
    j = j[~j.index.duplicated(keep="first")]
    px, py, w, g = j.geometry.x.to_numpy(), j.geometry.y.to_numpy(), j["weight"].to_numpy(), j["_g"].to_numpy()
    wsum = np.bincount(g, weights=w, minlength=len(grids))
    cx = np.bincount(g, weights=w * px, minlength=len(grids)) / np.where(wsum > 0, wsum, 1)
    cy = np.bincount(g, weights=w * py, minlength=len(grids)) / np.where(wsum > 0, wsum, 1)
    d = np.hypot(px - cx[g], py - cy[g])
    order = np.lexsort((d, g))
    first = order[np.r_[True, g[order][1:] != g[order][:-1]]]
    xy = xy.copy()
    xy[g[first], 0], xy[g[first], 1] = px[first], py[first]
    return xy


def _depth_on(dem: Raster, depth_at, hazard: Hazard | None = None) -> Raster:
    """The scenario's depth at every cell centre of ``dem`` (NaN dry; 99 m where a zone has no depth).

    Danger-zone polygons are burnt onto the grid (rasterio; the deepest zone wins where zones overlap) rather
    than sampled point by point: a prefecture's terrain grid has tens of millions of cells.
    """
    if hazard is not None and hazard.depth is None and hazard.polygons is not None and len(hazard.polygons):
        return _burn_zones(dem, hazard.polygons)
    if hazard is not None and hazard.depth is not None and hazard.polygons is None:
        same = _on_the_same_grid(hazard.depth, dem)   # e.g. HAND on the terrain frame: read, not sampled
        if same is not None:
            same[np.isinf(same)] = 99.0
            return Raster(same, dem.transform, dem.crs, None, name="depth")
    rows, cols = dem.shape
    c, r = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    x, y = dem.transform * (c.ravel(), r.ravel())
    d = np.asarray(depth_at(np.asarray(x), np.asarray(y)), dtype="float64").reshape(rows, cols)
    d = np.where(np.isinf(d), 99.0, d)  # a danger zone of unknown depth: deep enough not to be walked into
    return Raster(d.astype("float32"), dem.transform, dem.crs, None, name="depth")


def _on_the_same_grid(src: Raster, dem: Raster) -> np.ndarray | None:
    """``src``'s values (float32, NaN for nodata and outside) at ``dem``'s cells when both share one CRS and
    one cell grid (same cell size, whole-cell offset); None otherwise (then the cell centres are sampled)."""
    a, b = src.transform, dem.transform
    if src.crs is None or dem.crs is None or not pyproj.CRS.from_user_input(src.crs).equals(dem.crs):
        return None
    if a.b or a.d or b.b or b.d or not (math.isclose(a.a, b.a) and math.isclose(a.e, b.e)):
        return None
    dc, dr = (b.c - a.c) / a.a, (b.f - a.f) / a.e
    if abs(dc - round(dc)) > 1e-6 or abs(dr - round(dr)) > 1e-6:
        return None
    dc, dr = int(round(dc)), int(round(dr))
    arr = np.asarray(src.array, dtype="float32")
    if src.nodata is not None and not np.isnan(src.nodata):
        arr = np.where(np.asarray(src.array) == src.nodata, np.float32(np.nan), arr)
    rows, cols = dem.shape
    out = np.full((rows, cols), np.nan, dtype="float32")
    r0, r1 = max(0, -dr), min(rows, arr.shape[0] - dr)
    c0, c1 = max(0, -dc), min(cols, arr.shape[1] - dc)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = arr[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
    return out


def _burn_zones(dem: Raster, zones: gpd.GeoDataFrame) -> Raster:
    from rasterio import features

    z = zones.to_crs(dem.crs) if zones.crs is not None else zones
    depth = (pd.to_numeric(z["depth"], errors="coerce").to_numpy(dtype="float64") if "depth" in z
             else np.full(len(z), np.inf))
    depth = np.where(np.isfinite(depth), depth, 99.0)   # a zone of unknown depth: deep enough not to be walked into
    order = np.argsort(depth, kind="stable")            # burnt shallow first: the deepest overlapping zone wins
    geoms = z.geometry.to_numpy()[order]
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    d = features.rasterize(zip(geoms[keep], depth[order][keep], strict=True), out_shape=dem.shape,
                           transform=dem.transform, fill=np.nan, dtype="float32")
    return Raster(d, dem.transform, dem.crs, None, name="depth")


def _crop(dem: Raster, bounds: tuple[float, float, float, float]) -> Raster:
    """The part of a metric DEM inside ``bounds`` (whole cells)."""
    inv = ~dem.transform
    x0, y0, x1, y1 = bounds
    cs, rs = zip(*(inv * (x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))))
    r0, r1 = max(0, int(np.floor(min(rs)))), min(dem.shape[0], int(np.ceil(max(rs))))
    c0, c1 = max(0, int(np.floor(min(cs)))), min(dem.shape[1], int(np.ceil(max(cs))))
    if r1 - r0 < 2 or c1 - c0 < 2:
        return dem
    return Raster(dem.array[r0:r1, c0:c1], dem.transform * dem.transform.translation(c0, r0), dem.crs, dem.nodata,
                  name=dem.name)


class _Clock:
    """Wall seconds of the plan's phases (``summary["seconds"]``)."""

    def __init__(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now

    def report(self, **extra: float) -> dict[str, float]:
        return {**self.laps, **{k: round(v, 3) for k, v in extra.items()},
                "total": round(time.perf_counter() - self.t0, 3)}


def _require_fields(grids: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame) -> None:
    """Refuse layers without the fields the plan keys on (a workspace edited outside the tool can lack them)."""
    missing = [(layer, zh, field) for layer, zh, gdf, fields in
               (("grids", "转移避险网格", grids, ("grid_id",)), ("shelters", "避险安置场所", shelters,
                                                          ("shelter_id", "capacity")))
               for field in fields if field not in gdf.columns]
    if missing:
        raise AnalysisRefused([problem(f"图层“{zh}”缺少字段 {field}，无法编制转移方案",
                                       f"the {layer} layer has no field {field}: the plan cannot be made",
                                       "在“数据”页重新导入该图层（导入时会识别或生成该字段）",
                                       "import the layer again on the Data page (the import finds or makes the "
                                       "field)", file=layer, field=field)
                               for layer, zh, field in missing])


def evacuation_plan(grids: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, hazard: Hazard, *,
                    roads: gpd.GeoDataFrame | None = None, dem: Raster | None = None,
                    rivers: gpd.GeoDataFrame | None = None, homes: Homes | None = None,
                    options: PlanOptions | None = None, frame: AnalysisFrame | None = None) -> Plan:
    """Who moves, to which shelter, by which route, within capacity, and what they need.

    Parameters
    ----------
    grids : GeoDataFrame
        Transfer grids (all levels; the leaf grids are used).
    shelters : GeoDataFrame
        Shelters with ``capacity``.
    hazard : Hazard
        The flood scenario.
    roads : GeoDataFrame, optional
        Road network.
    dem : Raster, optional
        Elevations: walking legs over the terrain. Without it walks are straight lines (labelled).
    rivers : GeoDataFrame, optional
        Rivers: walks cross them only where a road or path does.
    homes : Homes, optional
        Where people live (:func:`gis.flood.homes.home_points`): who must move, and where their walk starts.
    options : PlanOptions, optional
        Thresholds, rule, passable depth, weights, walking limit, needs rates.
    frame : AnalysisFrame, optional
        The metric frame (default: around the grids and shelters).

    Returns
    -------
    Plan
    """
    _require_fields(grids, shelters)
    clock = _Clock()
    opt = options or PlanOptions()
    rule = opt.rule or EvacuationRule()
    frame = frame or AnalysisFrame.around(grids, shelters)
    crs = frame.crs
    notes: list[Text] = [Text(f"分析坐标系：{frame.describe()}（所有距离、面积和栅格运算在此坐标系中进行）",
                              f"analysis CRS: {frame.describe()} (every distance, area and raster operation runs "
                              "in it)",
                              "metric_crs")]
    notes += [both(n) for n in hazard.notes]
    ex = grid_exposure(grids, hazard, thresholds=opt.thresholds, rule=rule, homes=homes, crs=crs)
    exposure = ex.table
    notes += list(ex.notes)
    at_risk = exposure[exposure["evacuate"].fillna(False).astype(bool)].copy()
    depth_at = wet_mask_sampler(hazard, crs=crs)

    clock.lap("exposure")
    graph = cut = None
    if roads is not None and len(roads):
        graph = build_graph(roads, crs=crs)
        cut = cut_flooded(graph, depth_at, passable_m=opt.passable_m) if opt.cut_roads else graph
        notes += [both(n) for n in cut.notes]
    sh = shelters.copy()
    sh["shelter_id"] = sh["shelter_id"].astype(str)
    usable, codes = _shelter_status(sh, depth_at, graph, cut, crs, opt.shelter_flood_m, walking=dem is not None)
    sh["usable"] = usable
    sh["reason_code"] = codes
    sh["reason_zh"] = [SHELTER_REASONS[c][0] if c else "" for c in codes]
    sh["reason_en"] = [SHELTER_REASONS[c][1] if c else "" for c in codes]
    sh["reason"] = sh["reason_zh"]

    clock.lap("roads_and_shelters")
    ok = sh[sh["usable"]]
    gxy = _origins(at_risk, homes, crs)
    spts = ok.geometry.representative_point().to_crs(crs)
    sxy = np.column_stack([spts.x.to_numpy(), spts.y.to_numpy()]) if len(ok) else np.zeros((0, 2))
    surface = None
    if dem is not None and len(at_risk) and len(ok):
        dem_f, dnotes = frame.raster(dem, resampling="bilinear", cell_m=TERRAIN_CELL_M)
        notes += dnotes
        pts = np.vstack([gxy, sxy])
        margin = opt.walk_limit_m * 1.2
        dem_f = _crop(dem_f, (pts[:, 0].min() - margin, pts[:, 1].min() - margin, pts[:, 0].max() + margin,
                              pts[:, 1].max() + margin))
        surface = build_surface(dem_f, depth=_depth_on(dem_f, depth_at, hazard) if opt.cut_roads else None,
                                rivers=rivers,
                                roads=roads, wade_m=opt.passable_m, limit_m=opt.walk_limit_m, near=pts)
        notes += surface.notes
        notes.append(Text("步行段为地形上的最省时路径（Tobler 徒步速度公式，坡度越陡越慢；"
                          f"不进入 ≥ {opt.passable_m:g} 米的积水；"
                          f"单段步行不超过 {opt.walk_limit_m / 1000:g} 公里，超出即视为无可达安置场所）",
                          f"walking legs are least-time paths over the terrain (Tobler's hiking function: slower on "
                          f"steeper slopes; never into water {opt.passable_m:g} m deep or more; at most "
                          f"{opt.walk_limit_m / 1000:g} km a leg, beyond which no shelter is reachable)", "walk_rule"))
    clock.lap("walking_surface")
    cands = Candidates.build(at_risk["grid_id"].astype(str).to_numpy(), gxy, ok["shelter_id"].to_numpy(), sxy,
                             graph=cut, surface=surface, weight=opt.weight)
    notes += cands.notes
    demand = pd.DataFrame({
        "grid_id": at_risk["grid_id"].astype(str).to_numpy(),
        "people": at_risk["evacuate_people"].fillna(0).to_numpy(),
        "vulnerable": at_risk.get("evacuate_vulnerable", pd.Series(0, index=at_risk.index)).fillna(0).to_numpy(),
        "households": at_risk.get("evacuate_households", pd.Series(0, index=at_risk.index)).fillna(0).to_numpy(),
        "township": at_risk.get("township", pd.Series(None, index=at_risk.index)).to_numpy()})
    table = ok.drop(columns="geometry") if len(ok) else pd.DataFrame({"shelter_id": [], "capacity": []})
    clock.lap("candidates")
    res = assign(demand, table, cands)
    clock.lap("assignment")
    notes += [both(n) for n in res.notes]
    routes = cands.routes(res.assignments)
    clock.lap("route_lines")
    a = res.assignments.copy()
    a["distance_km"] = np.round(routes["distance_m"].to_numpy() / 1000, 2)
    a["time_min"] = np.round(routes["time_s"].to_numpy() / 60, 1)
    a["method"] = routes["mode"].to_numpy()
    a["walk_km"] = np.round(routes["walk_m"].to_numpy() / 1000, 2)
    a["climb_m"] = np.round(routes["climb_m"].to_numpy(), 0)
    cols = ["grid_id", "shelter_id", "people", "households", "vulnerable", "distance_km", "time_min", "method",
            "walk_km", "climb_m", "split"]
    assignments = gpd.GeoDataFrame(a[cols], geometry=list(routes["geometry"]), crs=crs).to_crs(4490)

    load = res.shelters.set_index("shelter_id") if len(res.shelters) else pd.DataFrame()
    for col in ("load", "vulnerable_load", "spare"):
        sh[col] = sh["shelter_id"].map(load[col]).fillna(0).astype("int64") if col in load else 0
    sh.loc[~sh["usable"], "spare"] = 0
    needs = minimum_needs(res.shelters if len(res.shelters) else pd.DataFrame({"shelter_id": [], "load": []}),
                          rates=opt.rates, days=opt.days)
    keep = [c for c in GRID_COLUMNS if c in at_risk] + ["max_depth", "mean_depth", "flooded_share", "evacuate",
                                                       "evacuate_people", "evacuate_households",
                                                       "evacuate_vulnerable", "rule_basis", "homes_wet_share",
                                                       "reason_code",
                                                       "reason_zh", "reason_en", "geometry"]
    ug = res.unplaced_grids
    no_reach = int(ug.loc[ug["reason"] == "no_shelter_reachable", "people_unplaced"].sum()) if len(ug) else 0
    by_mode = {m: int(a.loc[a["method"] == m, "people"].sum()) for m in MODES}
    summary = dict(res.summary)
    summary.update({
        "scenario": hazard.name, "scenario_en": hazard.label.en, "hazard_method": hazard.method,
        "method_note": hazard.notes[0][0] if hazard.screening and hazard.notes else "",
        "method_note_en": hazard.notes[0][1] if hazard.screening and hazard.notes else "",
        "route_method": "road" if cut is not None else ("walk" if surface is not None else "straight_line"),
        "shelters_unusable": int((~sh["usable"]).sum()), "grids_to_evacuate": int(len(at_risk)),
        "people_by_route_mode": by_mode, "longest_walk_km": float(a["walk_km"].max()) if len(a) else 0.0,
        "people_no_reachable_shelter": no_reach, "metric_crs": frame.describe(),
        "walk_limit_km": opt.walk_limit_m / 1000, "evacuation_rule": list(rule.describe(opt.thresholds)),
        "seconds": clock.report(walking_searches=surface.searched_s if surface is not None else 0.0),
    })
    if no_reach:
        notes.append(Text(f"{no_reach:,} 人在步行限度（{opt.walk_limit_m / 1000:g} 公里）内没有可到达的安置场所"
                          "（道路被淹断、四周为水或河流），需另行安排（如就地上楼、救援力量接应）",
                          f"{no_reach:,} people have no shelter they can reach within the walking limit "
                          f"({opt.walk_limit_m / 1000:g} km): roads cut, water or rivers all round; they need another "
                          "arrangement (moving upstairs, a rescue team)", "no_reachable_shelter"))
    if by_mode["straight"]:
        notes.append(Text(f"{by_mode['straight']:,} 人的路线为直线距离 × 1.4 的估算（工作空间没有 DEM），标为“直线”",
                          f"{by_mode['straight']:,} people's routes are straight-line estimates x 1.4 (the workspace "
                          "has no DEM), labelled 'straight'", "straight_routes"))
    return Plan(exposure=exposure, grids=at_risk[[c for c in keep if c in at_risk]], assignments=assignments,
                shelters=sh.to_crs(4490), unplaced=res.unplaced, needs=needs, summary=summary, notes=unique(notes),
                hazard=hazard, result=res, unplaced_grids=ug, frame=frame, candidates=cands)
