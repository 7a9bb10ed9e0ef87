"""Road graph, flooded roads, network costs from grids to shelters, and route lines.

The road layer becomes an undirected graph in a metric CRS (:func:`build_graph`): every line is
split at every vertex, line ends are snapped to a vertex of another line within ``snap_m`` metres
(T-junctions digitised a little short or long), coincident vertices become one node. Each edge
has its length in metres and a travel time in seconds from the road's ``speed`` (km/h) or, where
missing, the default speed of its ``road_class``:

============  =========  =================================================
road_class    km/h       why
============  =========  =================================================
highway       80         expressway, evacuation traffic and rain
national      60         国道
provincial    50         省道
county        40         县道
township      30         乡道
village       20         村道, narrow, mixed traffic
track         10         机耕路/林道, walking or farm vehicles
(missing)     20         treated as a village road
============  =========  =================================================

Flooded roads are removed by :func:`cut_flooded`: an edge is cut when any point sampled along it
(every ``step_m``, default 30 m, at least its midpoint) has a depth at or above the passable depth,
default **0.3 m** (about the depth at which a car stalls or floats and adults lose footing in
moving water; FEMA "turn around, don't drown": 6 in knocks an adult down, 12 in floats a car).

:func:`network_costs` gives, for every origin (a grid centroid), its K cheapest destinations
(shelters) by network cost. Dijkstra runs with :func:`scipy.sparse.csgraph.dijkstra` *from the
destinations* (fewer than the origins), in chunks so that no destinations x nodes matrix is held
whole, with a cost ``limit`` that starts small and doubles only for origins not yet settled (a
Euclidean lower bound picks which destinations need to run again). Origins and destinations reach
the road through an access leg (straight line from the point to its nearest road node, at
:data:`ACCESS_SPEED_KMH` when costs are times). An origin whose nearest road leads to no destination (a
dead end cut off by the flood) is tied instead to the nearest node of a road part that does, when
that is within ``walk_m`` (default :data:`WALK_TO_ROAD_M`), the walk counted in its cost; origins
with no such road, and points farther than ``max_snap_m`` from any road, are flagged, never
dropped. For K = 1 a
single Dijkstra runs from a virtual source tied to every destination node by its access cost.

Without a road layer, :func:`straight_line_costs` gives straight-line distance times a stated
detour factor (default :data:`DETOUR_FACTOR` = 1.4), at a stated speed, labelled
``method="straight_line"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from layers.crs import metric_crs
from layers.text import Text

__all__ = ["RoadGraph", "CandidateCosts", "k_best", "build_graph", "cut_flooded", "nearest_nodes",
           "shelter_access", "tree_paths", "node_lonlat",
           "network_costs", "straight_line_costs", "WALK_TO_ROAD_M", "route_line", "route_lines", "DEFAULT_SPEED_KMH",
           "PASSABLE_DEPTH_M", "DETOUR_FACTOR", "STRAIGHT_LINE_SPEED_KMH", "ACCESS_SPEED_KMH"]

#: default travel speed per road class, km/h (used where ``speed`` is missing or not positive)
DEFAULT_SPEED_KMH: dict[str, float] = {"highway": 80.0, "national": 60.0, "provincial": 50.0, "county": 40.0,
                                       "township": 30.0, "village": 20.0, "track": 10.0}
#: speed of a road whose class is missing or unknown, km/h
UNKNOWN_SPEED_KMH = 20.0
#: water depth (m) at or above which a road is impassable
PASSABLE_DEPTH_M = 0.3
#: straight-line distance is multiplied by this where there is no road network
DETOUR_FACTOR = 1.4
#: speed applied to straight-line distances (with the detour) when costs are times, km/h
STRAIGHT_LINE_SPEED_KMH = 20.0
#: walking speed on the access leg from a point to its nearest road node, km/h
ACCESS_SPEED_KMH = 5.0
#: points farther than this from any road node are flagged ``far_from_road``, metres
MAX_SNAP_M = 1000.0
#: an origin whose nearest road leads to no destination walks up to this far to a road that does, metres
WALK_TO_ROAD_M = 2000.0

_Note = Text


@dataclass
class RoadGraph:
    """An undirected road graph in a metric CRS.

    Attributes
    ----------
    crs : pyproj.CRS
        Metric CRS of the node coordinates.
    xy : numpy.ndarray
        ``(n, 2)`` node coordinates, metres.
    u, v : numpy.ndarray
        ``(m,)`` end nodes of each edge (``u < v``; one edge per node pair, the shortest kept).
    length : numpy.ndarray
        ``(m,)`` edge length, metres.
    time : numpy.ndarray
        ``(m,)`` edge travel time, seconds.
    road : numpy.ndarray
        ``(m,)`` row position in the road layer the edge came from.
    component : numpy.ndarray
        ``(n,)`` connected-component label of each node (isolated nodes have their own).
    n_components : int
        Number of components among nodes that have at least one edge.
    cut : numpy.ndarray or None
        After :func:`cut_flooded`: for each edge of the *uncut* graph, True when it was removed.
    notes : list of tuple
        :class:`~layers.text.Text` messages (e.g. the graph falls into several parts).
    """

    crs: pyproj.CRS
    xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    time: np.ndarray
    road: np.ndarray
    component: np.ndarray
    n_components: int
    cut: np.ndarray | None = None
    notes: list[_Note] = field(default_factory=list)
    _adj: dict = field(default_factory=dict, repr=False)
    _tree: Any = field(default=None, repr=False)
    _lonlat: Any = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.xy)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.u)

    @property
    def degree(self) -> np.ndarray:
        """Edges per node."""
        return np.bincount(np.concatenate([self.u, self.v]), minlength=self.n_nodes)

    def adjacency(self, weight: str = "length") -> sparse.csr_matrix:
        """Upper-triangular CSR matrix of edge ``weight`` (``length`` or ``time``); use with ``directed=False``."""
        if weight not in ("length", "time"):
            raise ValueError(f"weight must be 'length' or 'time', not {weight!r}")
        if weight not in self._adj:
            w = self.length if weight == "length" else self.time
            self._adj[weight] = sparse.csr_matrix((w, (self.u, self.v)), shape=(self.n_nodes, self.n_nodes))
        return self._adj[weight]

    def component_sizes(self) -> pd.Series:
        """Nodes with edges per component, largest first."""
        deg = self.degree
        return pd.Series(self.component[deg > 0]).value_counts()


def _speeds(roads: pd.DataFrame) -> np.ndarray:
    """km/h per road: ``speed`` where positive, else the class default."""
    cls = roads["road_class"] if "road_class" in roads else pd.Series([None] * len(roads), index=roads.index)
    default = cls.map(DEFAULT_SPEED_KMH).astype("float64").fillna(UNKNOWN_SPEED_KMH).to_numpy()
    if "speed" in roads:
        s = pd.to_numeric(roads["speed"], errors="coerce").to_numpy(dtype="float64")
        return np.where(np.isfinite(s) & (s > 0), s, default)
    return default


def _components(n: int, u: np.ndarray, v: np.ndarray) -> tuple[int, np.ndarray]:
    adj = sparse.csr_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    return csgraph.connected_components(adj, directed=False)


def _finish(crs, xy, u, v, length, time, road, *, cut=None, notes=None) -> RoadGraph:
    ncomp, comp = _components(len(xy), u, v)
    deg = np.bincount(np.concatenate([u, v]), minlength=len(xy))
    used = np.unique(comp[deg > 0])
    g = RoadGraph(crs=crs, xy=xy, u=u, v=v, length=length, time=time, road=road, component=comp,
                  n_components=len(used), cut=cut, notes=list(notes or []))
    if len(used) > 1:
        sizes = g.component_sizes()
        g.notes.append(Text(
            f"道路网分为 {len(used)} 个互不连通的部分（最大部分 {sizes.iloc[0]:,} 个节点，其余共 "
            f"{int(sizes.iloc[1:].sum()):,} 个）；不同部分之间无法通行",
            f"the road network falls into {len(used)} disconnected parts (the largest has {sizes.iloc[0]:,} nodes, "
            f"the others {int(sizes.iloc[1:].sum()):,} together); no route crosses between parts", "road_components"))
    return g


def build_graph(roads: gpd.GeoDataFrame, *, crs: object | None = None, snap_m: float = 5.0) -> RoadGraph:
    """Build the road graph.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Road lines (LineString or MultiLineString) with a CRS, optional ``road_class`` and
        ``speed`` (km/h) columns (see :data:`DEFAULT_SPEED_KMH`).
    crs : optional
        Metric CRS for the graph; default :func:`layers.crs.metric_crs` of the layer's extent.
    snap_m : float
        Line ends within this distance of a vertex of another line are joined to it, metres.
        Coincident vertices (within 1 mm) are always one node. A line end near the middle of a
        segment with no vertex there is not joined.

    Returns
    -------
    RoadGraph
        Nodes, edges with length and time, components (a note when there is more than one).

    Raises
    ------
    ValueError
        When the layer has no CRS.
    """
    if roads.crs is None:
        raise ValueError("the road layer has no CRS")
    if crs is None:
        b = roads.to_crs(4326).total_bounds if len(roads) else (119.0, 28.0, 120.0, 29.0)
        crs = metric_crs(tuple(float(x) for x in b))
    crs = pyproj.CRS.from_user_input(crs)
    speeds = _speeds(roads)
    geoms = roads.geometry.to_crs(crs).values if len(roads) else np.array([], dtype=object)
    parts, pidx = shapely.get_parts(np.asarray(geoms), return_index=True)
    keep = shapely.get_type_id(parts) == 1
    parts, pidx = parts[keep], pidx[keep]
    coords, line = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return _finish(crs, np.zeros((0, 2)), empty, empty, np.zeros(0), np.zeros(0), empty,
                       notes=[Text("道路图层没有可用的线", "the road layer has no usable lines", "roads_no_lines")])
    # exact (1 mm) duplicates are one vertex, numbered in (x, y) order (as numpy.unique(axis=0), without its
    # row-as-bytes sort, which took half the build)
    key = np.round(coords * 1000.0).astype(np.int64)
    order = np.lexsort((key[:, 1], key[:, 0]))
    sk = key[order]
    new_vertex = np.r_[True, (sk[1:, 0] != sk[:-1, 0]) | (sk[1:, 1] != sk[:-1, 1])]
    vid = np.empty(len(key), dtype=np.int64)
    vid[order] = np.cumsum(new_vertex) - 1
    nv = int(vid.max()) + 1
    vxy = np.zeros((nv, 2))
    vxy[vid] = coords
    # line ends snap to the nearest other vertex within snap_m
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    ends = np.unique(vid[first | last])
    pu, pv = [np.zeros(0, dtype=np.int64)] * 2
    if snap_m > 0 and len(ends):
        tree = cKDTree(vxy)
        d, j = tree.query(vxy[ends], k=2, distance_upper_bound=snap_m)
        ok = np.isfinite(d[:, 1])
        pu, pv = ends[ok], j[ok, 1]
    n_lab, lab = _components(nv, pu, pv)
    # a joined node sits on the vertex snapped to (not the line end that moved), else the most used vertex
    prio = np.bincount(vid, minlength=nv).astype("float64")
    moved = np.zeros(nv, dtype=bool)
    moved[pu] = True
    prio += 0.5 * ~moved
    order = np.lexsort((-prio, lab))
    rep = order[np.r_[True, lab[order][1:] != lab[order][:-1]]]
    nxy = vxy[rep]
    node = lab[vid]
    same = line[1:] == line[:-1]
    a, b = node[:-1][same], node[1:][same]
    seg_len = np.hypot(*(coords[1:][same] - coords[:-1][same]).T)
    road = pidx[line[:-1][same]]
    ok = a != b
    a, b, seg_len, road = a[ok], b[ok], np.maximum(seg_len[ok], 1e-3), road[ok]
    seg_time = seg_len / (speeds[road] / 3.6)
    u, v = np.minimum(a, b), np.maximum(a, b)
    # one edge per node pair: the shortest
    order = np.lexsort((seg_len, v, u))
    u, v, seg_len, seg_time, road = u[order], v[order], seg_len[order], seg_time[order], road[order]
    first_pair = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]
    u, v, seg_len, seg_time, road = (x[first_pair] for x in (u, v, seg_len, seg_time, road))
    # drop nodes no edge uses (should be none) by re-indexing
    used = np.zeros(n_lab, dtype=bool)
    used[u] = used[v] = True
    new = np.cumsum(used) - 1
    return _finish(crs, nxy[used], new[u].astype(np.int64), new[v].astype(np.int64), seg_len, seg_time,
                   road.astype(np.int64))


# ---- flood ---------------------------------------------------------------------------------------------------


def cut_flooded(graph: RoadGraph, depth_at: Callable[[np.ndarray, np.ndarray], np.ndarray], *,
                passable_m: float = PASSABLE_DEPTH_M, step_m: float = 30.0) -> RoadGraph:
    """Remove the edges that are under water.

    Parameters
    ----------
    graph : RoadGraph
        The road graph (uncut).
    depth_at : callable
        ``(x, y) -> depth`` in the graph's CRS, NaN where dry (see :func:`wet_mask_sampler`).
    passable_m : float
        An edge is cut where the depth is at or above this (default 0.3 m). Polygons without a
        depth (depth ``inf``) always cut.
    step_m : float
        Points are sampled every ``step_m`` along an edge (at least one, at its midpoint).

    Returns
    -------
    RoadGraph
        Same nodes (same indices), fewer edges; ``cut`` marks the removed edges of ``graph``;
        components recomputed; a note with the number of cut edges and their length.
    """
    n = np.maximum(1, np.ceil(graph.length / step_m)).astype(np.int64)
    e = np.repeat(np.arange(graph.n_edges), n)
    start = np.cumsum(n) - n
    t = (np.arange(len(e)) - start[e] + 0.5) / n[e]
    p, q = graph.xy[graph.u[e]], graph.xy[graph.v[e]]
    pts = p + (q - p) * t[:, None]
    depth = np.asarray(depth_at(pts[:, 0], pts[:, 1]), dtype="float64")
    with np.errstate(invalid="ignore"):
        wet = depth >= passable_m
    cut = np.zeros(graph.n_edges, dtype=bool)
    cut[e[wet]] = True
    keep = ~cut
    notes = [x for x in graph.notes if "disconnected" not in x[1]]
    notes.append(Text(f"被淹道路（水深 ≥ {passable_m:g} 米）已断开：{int(cut.sum()):,} 段，共 "
                      f"{graph.length[cut].sum() / 1000:,.1f} 公里",
                      f"flooded roads (depth ≥ {passable_m:g} m) removed: {int(cut.sum()):,} edges, "
                      f"{graph.length[cut].sum() / 1000:,.1f} km", "roads_flooded_cut"))
    return _finish(graph.crs, graph.xy, graph.u[keep], graph.v[keep], graph.length[keep], graph.time[keep],
                   graph.road[keep], cut=cut, notes=notes)


# ---- snapping ------------------------------------------------------------------------------------------------
def _node_tree(graph: RoadGraph) -> tuple[cKDTree | None, np.ndarray]:
    if graph._tree is None:
        live = np.flatnonzero(graph.degree > 0)
        graph._tree = (cKDTree(graph.xy[live]) if len(live) else None, live)
    return graph._tree


def node_lonlat(graph: RoadGraph) -> np.ndarray:
    """The nodes' coordinates in CGCS2000 lon/lat (EPSG:4490), transformed once per graph: route lines in
    lon/lat are then picked from it, not transformed vertex by vertex."""
    if graph._lonlat is None:
        tr = pyproj.Transformer.from_crs(graph.crs, pyproj.CRS.from_epsg(4490), always_xy=True)
        x, y = tr.transform(graph.xy[:, 0], graph.xy[:, 1]) if graph.n_nodes else (np.zeros(0), np.zeros(0))
        graph._lonlat = np.column_stack([np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")])
    return graph._lonlat


def nearest_nodes(graph: RoadGraph, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest node that still has an edge, for each point.

    Parameters
    ----------
    graph : RoadGraph
        The graph (cut or not: nodes left without edges by a flood are skipped).
    xy : numpy.ndarray
        ``(n, 2)`` points in the graph's CRS.

    Returns
    -------
    tuple of numpy.ndarray
        ``(node, distance_m)``; node is -1 and distance inf when the graph has no edges.
    """
    xy = np.asarray(xy, dtype="float64").reshape(-1, 2)
    tree, live = _node_tree(graph)
    if tree is None:
        return np.full(len(xy), -1, dtype=np.int64), np.full(len(xy), np.inf)
    d, i = tree.query(xy)
    return live[i].astype(np.int64), d


def shelter_access(graph: RoadGraph, cut: RoadGraph | None, xy: np.ndarray,
                   depth_at: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None, *,
                   passable_m: float = PASSABLE_DEPTH_M, max_snap_m: float = MAX_SNAP_M) -> pd.DataFrame:
    """Whether each shelter is flooded or has lost its road, for the ``usable`` column of the assignment.

    Parameters
    ----------
    graph : RoadGraph
        The road graph before the flood.
    cut : RoadGraph or None
        The graph after :func:`cut_flooded` (None: no roads cut).
    xy : numpy.ndarray
        ``(n, 2)`` shelter points in the graph's CRS.
    depth_at : callable, optional
        ``(x, y) -> depth`` (see :func:`wet_mask_sampler`).
    passable_m : float
        A shelter whose point has at least this depth is flooded.
    max_snap_m : float
        A shelter whose nearest remaining road node is farther than this is cut off.

    Returns
    -------
    pandas.DataFrame
        ``depth`` (NaN dry), ``flooded``, ``snap_m`` (to the nearest road node still connected),
        ``road_cut`` (its nearest road node before the flood lost all its edges, or the nearest
        remaining node is beyond ``max_snap_m`` while it was within before), ``usable``.
    """
    xy = np.asarray(xy, dtype="float64").reshape(-1, 2)
    depth = (np.asarray(depth_at(xy[:, 0], xy[:, 1]), dtype="float64") if depth_at is not None
             else np.full(len(xy), np.nan))
    with np.errstate(invalid="ignore"):
        flooded = depth >= passable_m
    before, d0 = nearest_nodes(graph, xy)
    after = cut if cut is not None else graph
    _, d1 = nearest_nodes(after, xy)
    lost = np.zeros(len(xy), dtype=bool)
    if cut is not None and len(xy):
        deg = cut.degree
        lost = (before >= 0) & (deg[np.maximum(before, 0)] == 0)
    road_cut = lost | ((d1 > max_snap_m) & (d0 <= max_snap_m))
    return pd.DataFrame({"depth": depth, "flooded": flooded, "snap_m": d1, "road_cut": road_cut,
                         "usable": ~flooded & ~road_cut})


# ---- costs ---------------------------------------------------------------------------------------------------
@dataclass
class CandidateCosts:
    """Each origin's K cheapest destinations.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (origin, destination) candidate: ``origin_id``, ``dest_id``, ``origin`` and
        ``dest`` (row positions in ``origins`` / ``dests``), ``rank``
        (1 = cheapest), ``cost`` (in ``weight`` units: metres or seconds, access legs included),
        ``network`` (the on-road part; for straight lines the whole), ``method``
        (``network`` or ``straight_line``).
    origins : pandas.DataFrame
        Per origin: ``origin_id``, ``node``, ``snap_m``, ``far_from_road``, ``component``,
        ``reachable`` (number of destinations reachable at all), ``n_candidates``,
        ``unreachable`` (True when no destination can be reached), ``walked`` (tied to a farther
        road that leads to a destination, see ``walk_m``).
    dests : pandas.DataFrame
        Per destination: ``dest_id``, ``node``, ``snap_m``, ``far_from_road``, ``component``.
    k : int or None
        K asked for (None: all reachable).
    weight : str
        ``length`` (metres) or ``time`` (seconds).
    method : str
        ``network`` or ``straight_line`` (with ``detour`` and ``speed_kmh`` then).
    notes : list of tuple
        :class:`~layers.text.Text` messages: unreachable origins, far-from-road points, method.
    """

    table: pd.DataFrame
    origins: pd.DataFrame
    dests: pd.DataFrame
    k: int | None
    weight: str
    method: str
    notes: list[_Note] = field(default_factory=list)
    detour: float | None = None
    speed_kmh: float | None = None

    def max_placeable(self, demand: pd.Series, capacity: pd.Series) -> float:
        """People that could be placed with every reachable destination a candidate.

        Each component's origins reach exactly that component's destinations, so the bound is the
        sum over components of ``min(demand, capacity)``.

        Parameters
        ----------
        demand : pandas.Series
            People indexed by origin id.
        capacity : pandas.Series
            Places indexed by destination id.
        """
        oc = self.origins.set_index("origin_id")["component"]
        dc = self.dests.set_index("dest_id")["component"]
        d = pd.Series(demand.to_numpy(), index=oc.reindex(demand.index).to_numpy()).groupby(level=0).sum()
        c = pd.Series(capacity.to_numpy(), index=dc.reindex(capacity.index).to_numpy()).groupby(level=0).sum()
        d = d[d.index >= 0]
        return float(np.minimum(d, c.reindex(d.index).fillna(0)).sum())


def _ids(ids, n) -> np.ndarray:
    return np.arange(n) if ids is None else np.asarray(ids)


def _topk_merge(best_c, best_d, new_c, new_d, k):
    c = np.concatenate([best_c, new_c], axis=1)
    d = np.concatenate([best_d, new_d], axis=1)
    if c.shape[1] > k:
        idx = np.argpartition(c, k - 1, axis=1)[:, :k]
        c = np.take_along_axis(c, idx, axis=1)
        d = np.take_along_axis(d, idx, axis=1)
    return c, d


def _nearest_one(graph: RoadGraph, adj: sparse.csr_matrix, onode: np.ndarray, dnode: np.ndarray,
                 dcost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K=1 in one Dijkstra: a virtual source joined to every destination node by its access cost.

    Returns the cost (network + destination access) at each origin node and the destination
    position reached (the root of its shortest-path tree), -1 where none.
    """
    n = graph.n_nodes
    live = np.flatnonzero(dnode >= 0)
    o = live[np.lexsort((dcost[live], dnode[live]))]
    o = o[np.r_[True, dnode[o][1:] != dnode[o][:-1]]]  # per node, the destination with the cheapest access
    w = np.maximum(dcost[o], 1e-9)  # an explicit zero would be no edge
    coo = adj.tocoo()
    aug = sparse.csr_matrix((np.concatenate([coo.data, w]),
                             (np.concatenate([coo.row, np.full(len(o), n)]), np.concatenate([coo.col, dnode[o]]))),
                            shape=(n + 1, n + 1))
    dist, pred = csgraph.dijkstra(aug, directed=False, indices=n, return_predecessors=True)
    idx = np.arange(n + 1)
    root = np.where((pred == n) | (pred < 0), idx, pred)
    while True:  # pointer jumping up the tree to the node joined to the virtual source
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    at = np.full(n + 1, -1, dtype=np.int64)
    at[dnode[o]] = o
    wn = np.zeros(n + 1)
    wn[dnode[o]] = w
    r = root[onode]
    dest = at[r]
    cost = dist[onode] - wn[r] + np.where(dest >= 0, dcost[np.maximum(dest, 0)], 0.0)
    cost[(dest < 0) | ~np.isfinite(dist[onode])] = np.inf
    dest[~np.isfinite(cost)] = -1
    return cost, dest


def k_best(graph: RoadGraph, onode: np.ndarray, ocost: np.ndarray, dnode: np.ndarray, dcost: np.ndarray, *,
           k: int | None, weight: str = "length", reach: np.ndarray | None = None, chunk: int = 64,
           limit: float | None = None, log: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each origin's ``k`` cheapest destinations over the road graph, with access costs at both ends.

    The cost of origin ``i`` to destination ``j`` is ``ocost[i] + road(onode[i], dnode[j]) + dcost[j]``,
    in ``weight`` units (metres or seconds). See :func:`network_costs` for how the search is bounded.

    Parameters
    ----------
    graph : RoadGraph
    onode, dnode : numpy.ndarray
        Road node of each origin and destination (-1: none).
    ocost, dcost : numpy.ndarray
        Access cost of each origin to its node, and of each destination's node to the destination.
    k : int or None
        Destinations per origin (None: every reachable one).
    weight : {'length', 'time'}
    reach : numpy.ndarray, optional
        Destinations reachable at all per origin (default: counted from the components).
    chunk, limit, log
        See :func:`network_costs`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(cost, dest)``, each ``(origins, k)``: the costs and destination positions found,
        unsorted, ``inf`` / -1 where fewer were found.
    """
    no, nd = len(onode), len(dnode)
    ocost = np.asarray(ocost, dtype="float64")
    dcost = np.asarray(dcost, dtype="float64")
    if reach is None:
        ocomp = np.where(onode >= 0, graph.component[np.maximum(onode, 0)], -1)
        dcomp = np.where(dnode >= 0, graph.component[np.maximum(dnode, 0)], -2)
        reach = np.array(pd.Series(ocomp).map(pd.Series(dcomp).value_counts()).fillna(0).astype(np.int64))
    kk = int(nd if k is None else max(1, min(k, nd)))
    keff = np.minimum(kk, reach)
    best_c = np.full((no, kk), np.inf)
    best_d = np.full((no, kk), -1, dtype=np.int64)
    adj = graph.adjacency(weight)
    w = graph.length if weight == "length" else graph.time
    total = float(w.sum()) if len(w) else 0.0
    todo = keff > 0
    if kk == 1 and limit is None and nd and todo.any() and graph.n_edges:
        best_c[:, 0], best_d[:, 0] = _nearest_one(graph, adj, onode, dnode, dcost)
        best_c[:, 0] += ocost
        best_c[onode < 0, 0] = np.inf
        best_d[~np.isfinite(best_c[:, 0]), 0] = -1
        todo[:] = False
    if nd and todo.any() and graph.n_edges:
        if limit is None:
            live_d = graph.xy[dnode[dnode >= 0]]
            dk = cKDTree(live_d).query(graph.xy[onode[todo]], k=min(kk, len(live_d)))[0]
            dk = dk.reshape(len(dk), -1)[:, -1]
            dk = dk[np.isfinite(dk)]
            lim_m = 2.0 * float(np.quantile(dk, 0.99)) + 1000.0 if len(dk) else 5000.0
            limit = lim_m if weight == "length" else lim_m / float(np.median(graph.length / graph.time))
        run_d = np.flatnonzero(dnode >= 0)
        snodes, sinv = np.unique(dnode[run_d], return_inverse=True)  # shared nodes run once
        olim = np.full(no, float(limit))
        passes = 0
        while todo.any():
            passes += 1
            # the origins to settle now start from scratch: every destination within their limit is found
            best_c[todo] = np.inf
            best_d[todo] = -1
            uo = np.flatnonzero(todo)
            unodes, inv = np.unique(onode[uo], return_inverse=True)
            if passes == 1 and len(unodes) >= len(snodes):  # from the destinations (fewer), one limit
                for s0 in range(0, len(snodes), chunk):
                    sl = snodes[s0:s0 + chunk]
                    dist = csgraph.dijkstra(adj, directed=False, indices=sl, limit=limit)
                    sub = dist[:, unodes].T  # (unique origin nodes, chunk)
                    del dist
                    members = np.flatnonzero((sinv >= s0) & (sinv < s0 + len(sl)))
                    dpos = run_d[members]
                    c = sub[inv][:, sinv[members] - s0] + (ocost[uo, None] + dcost[None, dpos])
                    nc, ndd = _topk_merge(best_c[uo], best_d[uo], c, np.broadcast_to(dpos, c.shape), kk)
                    best_c[uo], best_d[uo] = nc, np.where(np.isfinite(nc), ndd, -1)
                nsrc = len(snodes)
            else:  # from the origins (the graph is undirected), each chunk with the limit its origins need
                need = pd.Series(olim[uo]).groupby(inv).max().to_numpy()
                by_need = np.argsort(need, kind="stable")
                rank_of = np.empty_like(by_need)
                rank_of[by_need] = np.arange(len(by_need))
                for o0 in range(0, len(unodes), chunk):
                    sel = by_need[o0:o0 + chunk]
                    lim = float(need[sel].max())
                    dist = csgraph.dijkstra(adj, directed=False, indices=unodes[sel],
                                            limit=lim if math.isfinite(lim) else np.inf)
                    sub = dist[:, snodes]  # (chunk, unique destination nodes)
                    del dist
                    rows = np.flatnonzero((rank_of[inv] >= o0) & (rank_of[inv] < o0 + len(sel)))
                    ro = uo[rows]
                    c = sub[rank_of[inv[rows]] - o0][:, sinv] + (ocost[ro, None] + dcost[None, run_d])
                    nc, ndd = _topk_merge(best_c[ro], best_d[ro], c, np.broadcast_to(run_d, c.shape), kk)
                    best_c[ro], best_d[ro] = nc, np.where(np.isfinite(nc), ndd, -1)
                nsrc = len(unodes)
            found = np.isfinite(best_c).sum(axis=1)
            kth = np.sort(best_c, axis=1)[np.arange(no), np.maximum(keff - 1, 0)]
            # network part of the K-th best: a destination not found costs more than its limit on the network
            net_kth = kth - ocost
            settled = (keff == 0) | ((found >= keff) & ((net_kth <= olim) | (keff == reach)))
            todo = ~settled
            # next limit: the K-th found is an upper bound of the true K-th; too few found: double
            olim = np.where(todo & (found >= keff), net_kth, np.where(todo, olim * 2.0, olim))
            olim[todo & (olim > 2.0 * total)] = np.inf
            if log:
                log(f"network_costs: pass {passes}, {nsrc} Dijkstra sources, {int(todo.sum())} origins unsettled")
    return best_c, best_d


def network_costs(graph: RoadGraph, origins_xy: np.ndarray, dests_xy: np.ndarray, *, k: int | None = 5,
                  weight: str = "length", origin_ids=None, dest_ids=None, max_snap_m: float = MAX_SNAP_M,
                  walk_m: float = WALK_TO_ROAD_M, chunk: int = 64, limit: float | None = None,
                  log: Callable[[str], None] | None = None) -> CandidateCosts:
    """Each origin's ``k`` cheapest destinations by road.

    Parameters
    ----------
    graph : RoadGraph
        The road graph (cut by the flood or not).
    origins_xy, dests_xy : numpy.ndarray
        ``(n, 2)`` and ``(d, 2)`` points in the graph's CRS (grid centroids, shelters).
    k : int or None
        Candidates per origin; None for every reachable destination.
    weight : {'length', 'time'}
        Cost in metres or in seconds. Access legs (point to nearest node) count as straight lines,
        walked at :data:`ACCESS_SPEED_KMH` for times.
    origin_ids, dest_ids : array-like, optional
        Ids written to the table (default: positions).
    max_snap_m : float
        Points farther than this from a road node are flagged ``far_from_road`` (still costed).
    walk_m : float
        An origin whose nearest node lies in a road part with no destination is tied to the
        nearest node of a part with one, if within this distance (``walked`` in ``origins``).
    chunk : int
        Sources per Dijkstra call (memory: ``chunk x nodes`` float64).
    limit : float, optional
        First cost limit; default twice the straight-line distance to the
        K-th nearest destination (99th percentile; converted to time at the graph's median speed).
        The first pass runs from the destinations (or from the origins when they are fewer).
        Origins not settled within it (fewer than K found, or the K-th found beyond the limit)
        are rerun from their own nodes, each with the limit it needs: its K-th cost found so far
        (an upper bound of the true K-th), or twice its limit when fewer than K were found.
        With ``k=1`` (and no ``limit``) one Dijkstra from a virtual source does it all.
    log : callable, optional
        Progress messages.

    Returns
    -------
    CandidateCosts
        Candidates per origin (exact K cheapest among reachable destinations) and the flags.
    """
    if weight not in ("length", "time"):
        raise ValueError(f"weight must be 'length' or 'time', not {weight!r}")
    origins_xy = np.asarray(origins_xy, dtype="float64").reshape(-1, 2)
    dests_xy = np.asarray(dests_xy, dtype="float64").reshape(-1, 2)
    oid, did = _ids(origin_ids, len(origins_xy)), _ids(dest_ids, len(dests_xy))
    onode, osnap = nearest_nodes(graph, origins_xy)
    dnode, dsnap = nearest_nodes(graph, dests_xy)
    no = len(origins_xy)
    access = 1.0 if weight == "length" else 3.6 / ACCESS_SPEED_KMH  # metres -> cost units
    ocomp = np.where(onode >= 0, graph.component[np.maximum(onode, 0)], -1)
    dcomp = np.where(dnode >= 0, graph.component[np.maximum(dnode, 0)], -2)
    dcount = pd.Series(dcomp).value_counts()
    reach = np.array(pd.Series(ocomp).map(dcount).fillna(0).astype(np.int64))
    walked = np.zeros(no, dtype=bool)
    far = osnap > max_snap_m   # judged on the nearest road, before any walk to another one
    stuck = np.flatnonzero(reach == 0)
    if len(stuck) and walk_m > 0 and graph.n_edges:
        good = np.flatnonzero(np.isin(graph.component, dcomp[dnode >= 0]) & (graph.degree > 0))
        if len(good):
            d2, j2 = cKDTree(graph.xy[good]).query(origins_xy[stuck], distance_upper_bound=walk_m)
            hit = np.isfinite(d2)
            rows = stuck[hit]
            onode[rows], osnap[rows], walked[rows] = good[j2[hit]], d2[hit], True
            ocomp[rows] = graph.component[onode[rows]]
            reach[rows] = pd.Series(ocomp[rows]).map(dcount).fillna(0).astype(np.int64).to_numpy()
    best_c, best_d = k_best(graph, onode, osnap * access, dnode, dsnap * access, k=k, weight=weight, reach=reach,
                            chunk=chunk, limit=limit, log=log)
    order = np.argsort(best_c, axis=1, kind="stable")
    best_c = np.take_along_axis(best_c, order, axis=1)
    best_d = np.take_along_axis(best_d, order, axis=1)
    ok = np.isfinite(best_c)
    oi, rank = np.nonzero(ok)
    dpos = best_d[ok]
    cost = best_c[ok]
    table = pd.DataFrame({"origin_id": oid[oi], "dest_id": did[dpos], "origin": oi, "dest": dpos, "rank": rank + 1,
                          "cost": cost,
                          "network": cost - (osnap[oi] + dsnap[dpos]) * access, "method": "network"})
    ncand = ok.sum(axis=1)
    origins = pd.DataFrame({"origin_id": oid, "node": onode, "snap_m": osnap, "far_from_road": far,
                            "component": ocomp, "reachable": reach, "n_candidates": ncand,
                            "unreachable": reach == 0, "walked": walked})
    dests = pd.DataFrame({"dest_id": did, "node": dnode, "snap_m": dsnap, "far_from_road": dsnap > max_snap_m,
                          "component": dcomp})
    notes: list[_Note] = []
    n_un = int((reach == 0).sum())
    if n_un:
        notes.append(Text(f"{n_un:,} 个网格所在的道路网部分中没有可用安置场所（道路不连通或被淹断），无法按道路到达",
                          f"{n_un:,} grids are on a part of the road network with no usable shelter (roads not "
                          "connected or cut by the flood): no road route", "grids_no_shelter_on_network"))
    if walked.any():
        notes.append(Text(f"{int(walked.sum()):,} 个网格最近的道路通不到可用安置场所（被淹断或不连通），"
                          f"改为步行至 {walk_m:,.0f} 米内"
                          f"另一条通往安置场所的道路（平均步行 {osnap[walked].mean():,.0f} 米，已计入距离）",
                          f"{int(walked.sum()):,} grids' nearest road leads to no usable shelter "
                          "(cut or not connected): "
                          f"they walk to another road within {walk_m:,.0f} m that does (on average "
                          f"{osnap[walked].mean():,.0f} m, counted in the distance)",
                          "grids_walk_to_shelter"))
    n_far = int(far.sum())
    if n_far:
        notes.append(Text(f"{n_far:,} 个网格距最近道路超过 {max_snap_m:,.0f} 米", f"{n_far:,} grids are more than "
                          f"{max_snap_m:,.0f} m from the nearest road", "grids_far_from_road"))
    n_dfar = int((dsnap > max_snap_m).sum())
    if n_dfar:
        notes.append(Text(f"{n_dfar:,} 个安置场所距最近道路超过 {max_snap_m:,.0f} 米",
                          f"{n_dfar:,} shelters are more than {max_snap_m:,.0f} m from the nearest road",
                          "shelters_far_from_road"))
    return CandidateCosts(table=table, origins=origins, dests=dests, k=k, weight=weight, method="network",
                          notes=notes + list(graph.notes))


def straight_line_costs(origins_xy: np.ndarray, dests_xy: np.ndarray, *, k: int | None = 5,
                        weight: str = "length", detour: float = DETOUR_FACTOR,
                        speed_kmh: float = STRAIGHT_LINE_SPEED_KMH, origin_ids=None,
                        dest_ids=None) -> CandidateCosts:
    """Each origin's ``k`` nearest destinations where there is no road layer.

    Parameters
    ----------
    origins_xy, dests_xy : numpy.ndarray
        Points in one metric CRS.
    k : int or None
        Candidates per origin (None: all).
    weight : {'length', 'time'}
        ``cost`` = straight-line metres x ``detour``, or that distance at ``speed_kmh`` in seconds.
    detour : float
        Detour factor (default 1.4: roads are rarely straight).
    speed_kmh : float
        Speed for times (default 20 km/h).
    origin_ids, dest_ids : array-like, optional
        Ids written to the table.

    Returns
    -------
    CandidateCosts
        ``method="straight_line"``; every origin reaches every destination (one component).
    """
    origins_xy = np.asarray(origins_xy, dtype="float64").reshape(-1, 2)
    dests_xy = np.asarray(dests_xy, dtype="float64").reshape(-1, 2)
    oid, did = _ids(origin_ids, len(origins_xy)), _ids(dest_ids, len(dests_xy))
    no, nd = len(origins_xy), len(dests_xy)
    kk = nd if k is None else max(1, min(k, nd))
    if nd and no:
        d, j = cKDTree(dests_xy).query(origins_xy, k=kk)
        d, j = d.reshape(no, -1), j.reshape(no, -1)
    else:
        d, j = np.zeros((no, 0)), np.zeros((no, 0), dtype=np.int64)
    cost = d * detour if weight == "length" else d * detour / (speed_kmh / 3.6)
    oi, rank = np.nonzero(np.ones_like(d, dtype=bool))
    table = pd.DataFrame({"origin_id": oid[oi], "dest_id": did[j.ravel()], "origin": oi, "dest": j.ravel(),
                          "rank": rank + 1,
                          "cost": cost.ravel(), "network": cost.ravel(), "method": "straight_line"})
    origins = pd.DataFrame({"origin_id": oid, "node": -1, "snap_m": 0.0, "far_from_road": False, "component": 0,
                            "reachable": nd, "n_candidates": kk if nd else 0, "unreachable": nd == 0})
    dests = pd.DataFrame({"dest_id": did, "node": -1, "snap_m": 0.0, "far_from_road": False, "component": 0})
    unit_zh, unit_en = ("", "") if weight == "length" else Text(f"，按 {speed_kmh:g} 公里/小时计时",
                                                                f", timed at {speed_kmh:g} km/h", "timed_at")
    notes = [Text(f"没有道路图层：距离为直线距离 × 绕行系数 {detour:g}{unit_zh}（估算，非道路路线）",
                  f"no road layer: distance is the straight line x a detour factor of {detour:g}{unit_en} "
                  "(an estimate, not a road route)", "no_road_layer")]
    return CandidateCosts(table=table, origins=origins, dests=dests, k=k, weight=weight, method="straight_line",
                          notes=notes, detour=detour, speed_kmh=speed_kmh)


# ---- routes --------------------------------------------------------------------------------------------------
def tree_paths(pred: np.ndarray, sources: np.ndarray, targets: np.ndarray, *, rows: np.ndarray | None = None,
               chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Node paths in shortest-path trees, from each source to its target, walked for all of them at once.

    Parameters
    ----------
    pred : numpy.ndarray
        Predecessors from Dijkstra runs (:func:`scipy.sparse.csgraph.dijkstra`, negative where none): one row
        per run, or one run as a 1-D array.
    sources, targets : array-like of int
        Per path, the node its run started from and the node to reach (the source itself: a one-node path).
    rows : array-like of int, optional
        Per path, its run's row of ``pred`` (default: all row 0).
    chunk : int
        Paths walked together (bounds the memory: longest path x ``chunk`` node numbers).

    Returns
    -------
    nodes : numpy.ndarray
        The paths one after another, each from its source to its target.
    offsets : numpy.ndarray
        ``len(targets) + 1`` positions: path ``j`` is ``nodes[offsets[j]:offsets[j + 1]]``, empty when its
        target is not reached from its source.
    """
    pred = np.atleast_2d(pred)
    targets = np.asarray(targets, dtype=np.int64).ravel()
    sources = np.broadcast_to(np.asarray(sources, dtype=np.int64), targets.shape)
    rows = np.zeros(len(targets), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64).ravel()
    parts, lengths = [], []
    for c0 in range(0, len(targets), chunk):
        cur, src, row = targets[c0:c0 + chunk], sources[c0:c0 + chunk], rows[c0:c0 + chunk]
        steps = [cur]
        length = np.ones(len(cur), dtype=np.int64)
        walking = (cur != src) & (cur >= 0)
        found = cur == src
        for _ in range(pred.shape[1]):
            if not walking.any():
                break
            nxt = pred[row, np.where(walking, cur, 0)]
            walking &= nxt >= 0                            # a node without predecessor that is not the source
            cur = np.where(walking, nxt, cur)
            length += walking
            found |= walking & (cur == src)
            walking &= cur != src
            steps.append(cur)
        length = np.where(found, length, 0)
        s = np.stack(steps, axis=1)                       # one row per path, target first
        flat = s[np.arange(s.shape[1])[None, :] < length[:, None]]
        starts = np.repeat(np.cumsum(length) - length, length)
        k = np.arange(len(flat)) - starts                 # position from the target; reversed: source first
        out = np.empty_like(flat)
        out[starts + np.repeat(length, length) - 1 - k] = flat
        parts.append(out)
        lengths.append(length)
    length = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    nodes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return nodes, np.r_[0, np.cumsum(length)]


def _path(pred: np.ndarray, start: int, end: int) -> list[int] | None:
    """Nodes from ``start`` (the Dijkstra source) to ``end`` following predecessors."""
    if start == end:
        return [start]
    if pred[end] < 0:
        return None
    out = [end]
    while out[-1] != start:
        out.append(int(pred[out[-1]]))
    return out[::-1]


def route_line(graph: RoadGraph, origin_node: int, dest_node: int, *,
               weight: str = "length") -> shapely.LineString | None:
    """The cheapest road route between two nodes, as a line in the graph's CRS.

    Parameters
    ----------
    graph : RoadGraph
        The graph.
    origin_node, dest_node : int
        Node indices (see :func:`nearest_nodes`).
    weight : {'length', 'time'}
        What is minimised.

    Returns
    -------
    shapely.LineString or None
        Through the nodes of the route, origin first; None when no route exists. A route of a
        single node is a zero-length line.
    """
    _, pred = csgraph.dijkstra(graph.adjacency(weight), directed=False, indices=int(origin_node),
                               return_predecessors=True)
    nodes = _path(pred, int(origin_node), int(dest_node))
    if nodes is None:
        return None
    if len(nodes) == 1:
        nodes = nodes * 2
    return shapely.LineString(graph.xy[nodes])


def route_lines(graph: RoadGraph, origin_nodes: np.ndarray, dest_nodes: np.ndarray, *,
                weight: str = "length", limits: np.ndarray | None = None, chunk: int = 32) -> pd.DataFrame:
    """Routes for many (origin, destination) node pairs, Dijkstra from the distinct destinations in chunks.

    Parameters
    ----------
    graph : RoadGraph
        The graph.
    origin_nodes, dest_nodes : array-like of int
        Node pairs (same length); -1 gives no route.
    weight : {'length', 'time'}
        What is minimised.
    limits : array-like of float, optional
        Per pair, its on-road cost in ``weight`` units (the ``network`` column of the candidate
        table): each Dijkstra then stops just beyond the largest of its pairs, which makes
        prefecture-scale plans fast. Without it each Dijkstra covers the whole graph.
    chunk : int
        Destinations per Dijkstra call.

    Returns
    -------
    pandas.DataFrame
        Same row order as the pairs: ``geometry`` (LineString from origin to destination, or None),
        ``length_m`` and ``time_s`` along it (NaN without a route).
    """
    o = np.asarray(origin_nodes, dtype=np.int64)
    d = np.asarray(dest_nodes, dtype=np.int64)
    lim = np.full(len(o), np.inf) if limits is None else np.asarray(limits, dtype="float64")
    geom = np.full(len(o), None, dtype=object)
    length = np.full(len(o), np.nan)
    time = np.full(len(o), np.nan)
    adj = graph.adjacency(weight)
    # edge lookup by (min node, max node)
    key = graph.u * np.int64(graph.n_nodes) + graph.v
    order = np.argsort(key)
    skey = key[order]
    ok = (o >= 0) & (d >= 0)
    dests = np.unique(d[ok])
    need = pd.Series(lim[ok]).groupby(d[ok]).max().reindex(dests).to_numpy()
    dests = dests[np.argsort(need, kind="stable")]
    need = np.sort(need, kind="stable")
    for c0 in range(0, len(dests), chunk):
        dl = dests[c0:c0 + chunk]
        cap = float(need[c0:c0 + chunk].max())
        cap = cap * (1 + 1e-9) + 1e-6 if math.isfinite(cap) else np.inf
        _, pred = csgraph.dijkstra(adj, directed=False, indices=dl, return_predecessors=True, limit=cap)
        pred = np.atleast_2d(pred)
        for j, dn in enumerate(dl):
            for r in np.flatnonzero(ok & (d == dn)):
                found = _path(pred[j], int(dn), int(o[r]))
                if found is None:
                    continue
                nodes = np.array(found[::-1], dtype=np.int64)
                if len(nodes) > 1:
                    a, b = nodes[:-1], nodes[1:]
                    e = order[np.searchsorted(skey, np.minimum(a, b) * np.int64(graph.n_nodes) + np.maximum(a, b))]
                    length[r], time[r] = float(graph.length[e].sum()), float(graph.time[e].sum())
                    geom[r] = shapely.LineString(graph.xy[nodes])
                else:
                    length[r] = time[r] = 0.0
                    geom[r] = shapely.LineString(graph.xy[[nodes[0], nodes[0]]])
    return pd.DataFrame({"geometry": geom, "length_m": length, "time_s": time})
