"""Supply dispatch: needs per shelter from its occupancy, and shipments from the reserve depots minimising ton-km.

**Needs** (:func:`shelter_needs`) follow the minimum-needs rates of :mod:`gis.flood.needs` for the
people checked in at each shelter (rice and drinking water per person per day for ``days``; one
family kit per household checked in, or per 5 people when households were not counted), plus one
quilt per person, and tents for the people beyond a shelter's capacity (and for everyone at a tent
site), one per :data:`PERSONS_PER_TENT`. What earlier dispatches of the warning already sent is
deducted, from the needs and from the depots' stock.

**Shipments** (:func:`dispatch_plan`) go from each depot to each shelter along the road network
(:func:`gis.flood.roads.build_graph`, flooded roads removed with :func:`gis.flood.roads.cut_flooded`
when a flood extent is given; distances by Dijkstra from the depots, :func:`scipy.sparse.csgraph.dijkstra`,
plus the straight access legs from the depot and the shelter to their nearest road node). A pair
with no road between them is priced at the straight line × 1.4 and labelled ``straight_line``.
Per item, an exact min-cost flow (OR-Tools ``SimpleMinCostFlow.solve_max_flow_with_min_cost``)
first delivers as much as the stock allows, then at least cost in unit-metres; the items are
independent, so the sum over items at each item's weight (:data:`ITEM_WEIGHT_T`) is the least
ton-km. What cannot be delivered is the **shortage** per item and per shelter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import csgraph

from gis.flood.needs import DEFAULT_DAYS, DEFAULT_RATES, minimum_needs
from gis.flood.roads import RoadGraph, build_graph, cut_flooded, nearest_nodes, node_lonlat, tree_paths
from layers.catalogue import DEPOT_ITEMS
from layers.crs import metric_crs
from layers.errors import AnalysisRefused, Problem
from layers.text import Text

__all__ = ["ITEMS", "ITEM_WEIGHT_T", "ITEM_UNITS", "PERSONS_PER_TENT", "PERSONS_PER_QUILT", "Dispatch",
           "shelter_needs", "dispatch_plan", "distance_matrix", "DETOUR_FACTOR", "NO_DEPOTS"]

ITEMS = DEPOT_ITEMS
#: tonnes per unit of each item (assumed; a dispatch's ton-km uses them):
#: rice 1 kg, drinking water 1 L (1 kg), a relief tent (12 m², with poles) 35 kg, a quilt 2.5 kg,
#: a family kit (bedding, hygiene items) 8 kg
ITEM_WEIGHT_T: dict[str, float] = {"rice_kg": 0.001, "drinking_l": 0.001, "tents": 0.035, "quilts": 0.0025,
                                   "family_kits": 0.008}
ITEM_UNITS: dict[str, Text] = {"rice_kg": Text("公斤", "kg", "unit_kg"), "drinking_l": Text("升", "L", "unit_l"),
                               "tents": Text("顶", "tents", "unit_tents"),
                               "quilts": Text("床", "quilts", "unit_quilts"),
                               "family_kits": Text("套", "kits", "unit_kits")}
#: people per tent, for the people beyond a shelter's capacity (and at tent sites)
PERSONS_PER_TENT = 5.0
#: people per quilt
PERSONS_PER_QUILT = 1.0
#: a depot-shelter pair without a road between them: straight line times this
DETOUR_FACTOR = 1.4
#: why nothing can be dispatched in a workspace without depots
NO_DEPOTS = Problem("工作空间中没有储备库图层，无法调度物资",
                    "the workspace has no reserve depots; nothing to dispatch from",
                    "在“数据图层”页导入储备库（depots）图层", "import the depots layer on the Data layers page",
                    field="depots")


@dataclass
class Dispatch:
    """A dispatch plan.

    Attributes
    ----------
    shipments : DataFrame
        One row per (depot, shelter, item) with a positive quantity: ``depot_id``, ``depot_name``,
        ``shelter_id``, ``shelter_name``, ``item``, ``quantity``, ``tonnes``, ``distance_km``,
        ``ton_km``, ``method`` (``road`` / ``straight_line``).
    items : DataFrame
        Per item: ``need``, ``stock``, ``supplied``, ``short``, ``tonnes``, ``ton_km``.
    shelters : DataFrame
        Per shelter: ``people`` and, per item, ``{item}_need``, ``{item}_supplied``, ``{item}_short``.
    ton_km : float
        Total tonne-kilometres.
    routes : GeoDataFrame
        One line per (depot, shelter) pair used, EPSG:4490, with ``depot_id``, ``shelter_id``,
        ``distance_km``, ``method``, ``tonnes``.
    notes : list of Text
    """

    shipments: pd.DataFrame
    items: pd.DataFrame
    shelters: pd.DataFrame
    ton_km: float
    routes: gpd.GeoDataFrame
    notes: list[Text] = field(default_factory=list)

    def shortages(self) -> dict[str, float]:
        """Item -> quantity short (items with a shortage only)."""
        return {str(k): float(v) for k, v in self.items["short"].items() if v > 0}   # index: item names

    def summary(self) -> dict:
        """Plain JSON-able figures: ``shipments`` (list), ``ton_km``, ``shortages``, ``items``."""
        ship = [{k: (float(v) if isinstance(v, (float, np.floating)) else int(v) if isinstance(v, (int, np.integer))
                     else v) for k, v in r.items()} for r in self.shipments.to_dict("records")]
        return {"shipments": ship, "shipments_n": len(ship), "ton_km": round(float(self.ton_km), 3),
                "shortages": self.shortages(),
                "items": {k: {c: float(v) for c, v in row.items()} for k, row in self.items.iterrows()}}


def shelter_needs(occupancy: pd.DataFrame, *, rates: dict | None = None, days: int = DEFAULT_DAYS,
                  delivered: pd.DataFrame | None = None) -> pd.DataFrame:
    """What each shelter needs for the people checked in, less what was already sent.

    Parameters
    ----------
    occupancy : DataFrame
        ``shelter_id``, ``checked_in`` (people), optional ``households_in``, ``capacity``, ``type``.
    rates, days :
        Minimum-needs rates and days (:func:`gis.flood.needs.minimum_needs`).
    delivered : DataFrame, optional
        Index ``shelter_id``, one column per item: quantities earlier dispatches sent.

    Returns
    -------
    DataFrame
        Index ``shelter_id``; ``people`` and one whole-number column per item of :data:`ITEMS`.
    """
    occ = occupancy.copy()
    occ["shelter_id"] = occ["shelter_id"].astype(str)
    people = pd.to_numeric(occ["checked_in"], errors="coerce").fillna(0).clip(lower=0)
    people.index = occ["shelter_id"]
    base = minimum_needs(people, rates=rates, days=days).drop(index="合计/Total")
    r = {**DEFAULT_RATES, **(rates or {})}
    out = pd.DataFrame(index=people.index)
    out["people"] = people.astype("int64")
    out["rice_kg"] = np.ceil(base["rice_kg"].to_numpy() - 1e-9)
    out["drinking_l"] = np.ceil(base["drinking_l"].to_numpy() - 1e-9)
    hh = pd.to_numeric(occ["households_in"], errors="coerce").fillna(0).to_numpy() \
        if "households_in" in occ else np.zeros(len(occ))
    kits = np.ceil(people.to_numpy() / float(r.get("family_kits", 5.0)) - 1e-9)
    out["family_kits"] = np.where(hh > 0, np.maximum(hh, 0), kits)
    out["quilts"] = np.ceil(people.to_numpy() / PERSONS_PER_QUILT - 1e-9)
    cap = pd.to_numeric(occ["capacity"], errors="coerce").fillna(0).to_numpy() if "capacity" in occ else \
        np.full(len(occ), np.inf)
    tent_site = occ.get("type", pd.Series("", index=occ.index)).astype(str).eq("tent_site").to_numpy()
    outside = np.where(tent_site, people.to_numpy(), np.maximum(0, people.to_numpy() - cap))
    out["tents"] = np.ceil(outside / PERSONS_PER_TENT - 1e-9)
    if delivered is not None and len(delivered):
        d = delivered.reindex(out.index).fillna(0)
        for item in ITEMS:
            if item in d:
                out[item] = out[item] - d[item].to_numpy()
    for item in ITEMS:
        out[item] = out[item].clip(lower=0).astype("int64")
    out.index.name = "shelter_id"
    return out[["people", *ITEMS]]


def distance_matrix(depot_xy: np.ndarray, shelter_xy: np.ndarray, graph=None) -> dict:
    """Road distances (metres) from every depot to every shelter.

    Parameters
    ----------
    depot_xy, shelter_xy : ndarray
        ``(n, 2)`` metric coordinates (the graph's CRS).
    graph : gis.flood.roads.RoadGraph, optional
        The usable road network; without it every pair is a straight line × :data:`DETOUR_FACTOR`.

    Returns
    -------
    dict
        ``dist`` (D, S) metres, ``road`` (D, S) bool (False: straight-line estimate), and for route
        lines ``pred`` (predecessors from each depot's node, or None), ``depot_node``,
        ``shelter_node``.
    """
    straight = np.hypot(depot_xy[:, None, 0] - shelter_xy[None, :, 0], depot_xy[:, None, 1] - shelter_xy[None, :, 1])
    if graph is None or graph.n_edges == 0:
        return {"dist": straight * DETOUR_FACTOR, "road": np.zeros(straight.shape, bool), "pred": None,
                "depot_node": None, "shelter_node": None}
    dn, dsnap = nearest_nodes(graph, depot_xy)
    sn, ssnap = nearest_nodes(graph, shelter_xy)
    nodes, inverse = np.unique(dn, return_inverse=True)
    net, pred = csgraph.dijkstra(graph.adjacency("length"), directed=False, indices=nodes, return_predecessors=True)
    road_m = net[inverse][:, sn]
    dist = road_m + dsnap[:, None] + ssnap[None, :]
    road = np.isfinite(dist)
    dist = np.where(road, dist, straight * DETOUR_FACTOR)
    return {"dist": dist, "road": road, "pred": pred[inverse] if len(nodes) else None, "depot_node": dn,
            "shelter_node": sn}


def _flow(stock: np.ndarray, need: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Exact min-cost max-flow of one item: (D, S) quantities, delivering the most at the least cost."""
    from ortools.graph.python import min_cost_flow

    nd, ns = cost.shape
    out = np.zeros((nd, ns), dtype=np.int64)
    di = np.flatnonzero(stock > 0)
    si = np.flatnonzero(need > 0)
    if not len(di) or not len(si):
        return out
    tails = np.repeat(di, len(si))
    heads = np.tile(si, len(di))
    caps = np.minimum(stock[tails], need[heads]).astype(np.int64)
    costs = np.round(cost[tails, heads]).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, nd + heads, caps, costs)
    supplies = np.zeros(nd + ns, dtype=np.int64)
    supplies[:nd] = stock
    supplies[nd:] = -need
    smcf.set_nodes_supplies(np.arange(nd + ns), supplies)
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flows = smcf.flows(arcs)
    pos = flows > 0
    out[tails[pos], heads[pos]] = flows[pos]
    return out


def dispatch_plan(depots: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, needs: pd.DataFrame, *,
                  roads: gpd.GeoDataFrame | None = None, depth_at=None, flood=None, passable_m: float = 0.3,
                  shipped: pd.DataFrame | None = None, lines: bool = True,
                  graph: RoadGraph | Callable[[Any], RoadGraph | None] | None = None) -> Dispatch:
    """Ship the needs from the depots along usable roads at the least ton-km.

    Parameters
    ----------
    depots : GeoDataFrame
        Reserve depots (``depot_id``, ``name``, stock fields of :data:`ITEMS`, ``status``).
    shelters : GeoDataFrame
        Shelters (``shelter_id``, ``name``, geometry).
    needs : DataFrame
        :func:`shelter_needs` (index ``shelter_id``).
    roads : GeoDataFrame, optional
        The road layer; without it distances are straight lines × :data:`DETOUR_FACTOR` (labelled).
    depth_at : callable, optional
        ``(x, y) -> depth`` in the metric CRS of the graph (:func:`gis.flood.hazard.wet_mask_sampler`);
        roads at or above ``passable_m`` are removed.
    flood : object, optional
        A flood extent (a :class:`gis.flood.hazard.Hazard`, depth raster or polygons) to build
        ``depth_at`` from.
    shipped : DataFrame, optional
        Index ``depot_id``, one column per item: quantities earlier dispatches took from each depot.
    lines : bool
        Build the route line of each pair used (for the map and the GeoPackage).
    graph : RoadGraph or callable, optional
        A road graph already built, reused instead of ``roads`` (its CRS is the frame of the plan); or a
        function ``crs -> RoadGraph or None`` giving the graph in the frame the plan chooses (a caller that
        keeps the graph per workspace revision, :meth:`gis.ops.session.Operations.road_graph`).

    Raises
    ------
    AnalysisRefused
        No depot, or no usable depot.
    """
    notes: list[Text] = []
    if depots is None or not len(depots):
        raise AnalysisRefused(NO_DEPOTS)
    dep = depots.copy()
    if "depot_id" not in dep:
        dep["depot_id"] = [f"D{i + 1}" for i in range(len(dep))]
    dep["depot_id"] = dep["depot_id"].astype(str)
    if "status" in dep:
        closed = dep["status"].fillna("available").astype(str) != "available"
        if closed.any():
            notes.append(Text(f"{int(closed.sum())} 个储备库状态不可用，未参与调度", f"{int(closed.sum())} depots are "
                              "not available and were left out", "depots_closed"))
        dep = dep[~closed]
    if not len(dep):
        raise AnalysisRefused(Problem("没有可用的储备库", "no depot is available", "检查储备库状态",
                                      "check the depots' status", field="depots"))
    sh = shelters.copy()
    sh["shelter_id"] = sh["shelter_id"].astype(str)
    need = needs.reindex(sh["shelter_id"]).fillna(0)
    sh = sh[(need[list(ITEMS)].sum(axis=1) > 0).to_numpy()]
    need = need.loc[sh["shelter_id"]]
    stock = pd.DataFrame({i: pd.to_numeric(dep[i], errors="coerce").fillna(0).to_numpy() if i in dep else 0.0
                          for i in ITEMS}, index=dep["depot_id"].to_numpy())
    if shipped is not None and len(shipped):
        stock = (stock - shipped.reindex(stock.index).fillna(0)[[c for c in ITEMS if c in shipped]]
                 .reindex(columns=ITEMS, fill_value=0)).clip(lower=0)
    stock = cast(pd.DataFrame, np.floor(stock + 1e-9)).astype("int64")   # a ufunc keeps the DataFrame
    missing = [i for i in ITEMS if i not in depots.columns]
    if missing:
        notes.append(Text(f"储备库图层没有以下物资的库存字段，按 0 计：{'、'.join(missing)}",
                          f"the depots layer has no stock field for {', '.join(missing)}: taken as 0",
                          "depot_items_missing"))

    if isinstance(graph, RoadGraph):
        crs = graph.crs
    else:
        crs = metric_crs(tuple(pd.concat([dep.geometry.to_crs(4326), sh.geometry.to_crs(4326)]).total_bounds))
        graph = graph(crs) if graph is not None else None      # the caller's graph of this frame (kept by it)
    dxy = _xy(dep, crs)
    sxy = _xy(sh, crs)
    if graph is None and roads is not None and len(roads):
        graph = build_graph(roads, crs=crs)
    if graph is not None and (depth_at is not None or flood is not None):
        if depth_at is None:
            from gis.flood.hazard import wet_mask_sampler  # rasters and the hazard model: only with a flood

            depth_at = wet_mask_sampler(flood, crs=crs)
        graph = cut_flooded(graph, depth_at, passable_m=passable_m)
        notes.append(Text(f"已去除被淹道路（水深 ≥ {passable_m:g} 米）",
                          f"flooded roads (depth ≥ {passable_m:g} m) removed", "dispatch_roads_cut"))
    if graph is None:
        notes.append(Text("没有道路图层：距离按直线 × 1.4 估算", "no road layer: distances are the straight line x 1.4",
                          "dispatch_no_roads"))
    dm: dict[str, Any] = distance_matrix(dxy, sxy, graph) if len(sh) else {
        "dist": np.zeros((len(dep), 0)), "road": np.zeros((len(dep), 0), bool), "pred": None}
    dist = dm["dist"]
    if len(sh) and (~dm["road"]).any() and graph is not None:
        n_off = int((~dm["road"].any(axis=0)).sum())
        if n_off:
            notes.append(Text(f"{n_off} 个安置场所与所有储备库之间没有可通行的道路，"
                              "距离按直线 × 1.4 估算（标为“直线”）",
                              f"{n_off} shelters have no usable road from any depot; their distance is the straight "
                              "line x 1.4 (labelled 'straight_line')", "dispatch_no_road_route"))

    rows = []
    flow_total = np.zeros(dist.shape)
    item_rows = {}
    for item in ITEMS:
        q = _flow(stock[item].to_numpy(), need[item].to_numpy().astype(np.int64), dist) if len(sh) else \
            np.zeros(dist.shape, np.int64)
        d_i, s_i = np.nonzero(q)
        w = ITEM_WEIGHT_T[item]
        for a, b in zip(d_i, s_i):
            rows.append((a, b, item, int(q[a, b])))
        flow_total += q * w
        supplied = q.sum(axis=0)
        item_rows[item] = {"need": float(need[item].sum()), "stock": float(stock[item].sum()),
                           "supplied": float(supplied.sum()), "short": float(need[item].sum() - supplied.sum()),
                           "tonnes": float(q.sum() * w), "ton_km": float((q * dist / 1000.0).sum() * w)}
        sh_sup = supplied
        need[f"{item}_supplied"] = sh_sup
    dep_ids, dep_names = dep["depot_id"].to_numpy(), dep.get("name", dep["depot_id"]).astype(str).to_numpy()
    sh_ids, sh_names = sh["shelter_id"].to_numpy(), sh.get("name", sh["shelter_id"]).astype(str).to_numpy()
    ship = pd.DataFrame(rows, columns=["d", "s", "item", "quantity"])
    ship["depot_id"] = dep_ids[ship["d"]] if len(ship) else []
    ship["depot_name"] = dep_names[ship["d"]] if len(ship) else []
    ship["shelter_id"] = sh_ids[ship["s"]] if len(ship) else []
    ship["shelter_name"] = sh_names[ship["s"]] if len(ship) else []
    ship["tonnes"] = ship["quantity"] * ship["item"].map(ITEM_WEIGHT_T)
    ship["distance_km"] = np.round(dist[ship["d"], ship["s"]] / 1000.0, 3) if len(ship) else []
    ship["ton_km"] = ship["tonnes"] * dist[ship["d"], ship["s"]] / 1000.0 if len(ship) else []
    ship["method"] = np.where(dm["road"][ship["d"], ship["s"]], "road", "straight_line") if len(ship) else []
    pairs = ship[["d", "s"]].drop_duplicates().to_numpy() if len(ship) else np.zeros((0, 2), int)
    n_straight = int((ship["method"] == "straight_line").sum()) if len(ship) and graph is not None else 0
    if n_straight:
        notes.append(Text(f"{n_straight} 条调拨在储备库与安置场所之间没有可通行的道路，"
                          "距离按直线 × 1.4 估算（标为“直线”），需另行安排运输方式",
                          f"{n_straight} shipments have no usable road between their depot and "
                          "shelter: their distance is the straight line x 1.4 (labelled 'straight_line'); arrange "
                          "another way", "dispatch_straight_shipments"))
    ship = ship.sort_values(["depot_id", "shelter_id", "item"]).drop(columns=["d", "s"]).reset_index(drop=True)
    items = pd.DataFrame(item_rows).T
    items.index.name = "item"
    per_shelter = pd.DataFrame(index=pd.Index(sh_ids, name="shelter_id"))
    per_shelter["people"] = need["people"].to_numpy() if "people" in need else 0
    for item in ITEMS:
        per_shelter[f"{item}_need"] = need[item].to_numpy()
        per_shelter[f"{item}_supplied"] = need[f"{item}_supplied"].to_numpy()
        per_shelter[f"{item}_short"] = per_shelter[f"{item}_need"] - per_shelter[f"{item}_supplied"]
    routes = _routes(pairs, dm, graph, dxy, sxy, crs, dep_ids, sh_ids, flow_total) if lines else \
        gpd.GeoDataFrame({"depot_id": [], "shelter_id": []}, geometry=[], crs=4490)
    short = items[items["short"] > 0]
    for name, r in short.iterrows():
        item = str(name)   # index: item names
        notes.append(Text(f"{_zh(item)}短缺 {r['short']:,.0f} {ITEM_UNITS[item].zh}（需 "
                          f"{r['need']:,.0f}，可调 {r['supplied']:,.0f}）",
                          f"{_en(item)} short by {r['short']:,.0f} {ITEM_UNITS[item].en} (need {r['need']:,.0f}, "
                          f"dispatched {r['supplied']:,.0f})", "dispatch_shortage"))
    return Dispatch(ship, items, per_shelter, float(items["ton_km"].sum()), routes, notes)


def _zh(item: str) -> str:
    from gis.ops.texts import ITEM_TEXT

    return ITEM_TEXT[item].zh.split("（")[0]


def _en(item: str) -> str:
    from gis.ops.texts import ITEM_TEXT

    return ITEM_TEXT[item].en.split(" (")[0]


def _xy(gdf: gpd.GeoDataFrame, crs) -> np.ndarray:
    if not len(gdf):
        return np.zeros((0, 2))
    pts = gdf.geometry.representative_point().to_crs(crs)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def _routes(pairs: np.ndarray, dm: dict, graph, dxy, sxy, crs, dep_ids, sh_ids, tonnes: np.ndarray
            ) -> gpd.GeoDataFrame:
    """One line per (depot, shelter) pair, EPSG:4490: depot, the road route through the depot's shortest-path tree,
    shelter (every pair walked at once, :func:`gis.flood.roads.tree_paths`; the nodes' lon/lat transformed once,
    :func:`gis.flood.roads.node_lonlat`); a straight line where there is no road."""
    n = len(pairs)
    a, b = (pairs[:, 0], pairs[:, 1]) if n else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    road = dm["road"][a, b] if n else np.zeros(0, bool)
    to_ll = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs), pyproj.CRS.from_epsg(4490), always_xy=True)
    ends = [np.column_stack(to_ll.transform(p[:, 0], p[:, 1])) if len(p) else np.zeros((0, 2)) for p in (dxy, sxy)]
    inner = np.zeros(n, dtype=np.int64)                           # road nodes of each line
    nodes = np.zeros(0, dtype=np.int64)
    if dm.get("pred") is not None and road.any():
        r = np.flatnonzero(road)
        nodes, off = tree_paths(dm["pred"], dm["depot_node"][a[r]], dm["shelter_node"][b[r]], rows=a[r])
        inner[r] = np.diff(off)                                   # 0: no route after all, a straight line
    size = inner + 2
    start = np.cumsum(size) - size
    coords = np.empty((int(size.sum()), 2))
    coords[start] = ends[0][a]
    coords[start + size - 1] = ends[1][b]
    if len(nodes):
        at = np.repeat(start + 1, inner) + np.arange(len(nodes)) - np.repeat(np.cumsum(inner) - inner, inner)
        coords[at] = node_lonlat(graph)[nodes]
    geoms = shapely.linestrings(coords, indices=np.repeat(np.arange(n), size)) if n else np.zeros(0, dtype=object)
    df = pd.DataFrame({"depot_id": dep_ids[a], "shelter_id": sh_ids[b],
                       "distance_km": [round(float(x) / 1000.0, 3) for x in dm["dist"][a, b]] if n else [],
                       "method": np.where(road, "road", "straight_line"),
                       "tonnes": tonnes[a, b].astype(float) if n else np.zeros(0)})
    return gpd.GeoDataFrame(df, geometry=geoms, crs=4490)
