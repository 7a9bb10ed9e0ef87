"""Which shelters each grid can reach, at what cost, and by which route: the candidates of the assignment.

A grid reaches a shelter in one of three ways (its ``mode``):

- ``road``: it walks over the terrain to a road (:mod:`gis.flood.walking`), drives or walks the road
  network (:mod:`gis.flood.roads`, flooded roads cut), and walks from the road to the shelter;
- ``walk``: it walks the whole way over the terrain (a shelter within the walking limit);
- ``straight``: only where the workspace has no DEM, a straight line times a detour factor (an
  estimate, labelled as such).

Where every grid asks the same question the searches run once for all of them: each grid's nearest
road node on foot, each shelter's nearest road node on foot, each grid's nearest shelter on foot. A grid
that needs more (its people are not all placed, and nothing cheaper is left: the assignment says which,
:func:`gis.flood.assign.assign`) is *widened*: one search from its homes finds every road piece and every
shelter it can walk to within the limit, and the road pieces bring every shelter they lead to. So a grid
whose own road is a dead end, or leads only to a full shelter, still reaches the others: no dead ends.

:class:`Candidates` hands the assignment its tables (``candidates(k)`` or ``for_grids(k, ids)``,
``extend(ids)``) and rebuilds each chosen trip as a line (:meth:`Candidates.routes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.flood.labels import nearest_labels, undirected_csr
from gis.flood.roads import (
    ACCESS_SPEED_KMH,
    DETOUR_FACTOR,
    STRAIGHT_LINE_SPEED_KMH,
    RoadGraph,
    k_best,
    network_costs,
    route_lines,
    straight_line_costs,
)
from gis.flood.walking import WalkSurface, path_lines, tobler_kmh
from layers.text import Text

__all__ = ["Candidates", "MODES"]

#: route modes, in the order they are reported
MODES = ("road", "walk", "straight")
_FLAT_MS = float(tobler_kmh(0.0)) / 3.6  # m/s on the flat (the snap bits between a point and its cell)
#: cells of one (options x destinations) slice of the road table: bounds memory at prefecture scale (~0.3 GB)
_PRICE_TOL = 1e-6   # float slack of the Dijkstra sums against the table's costs
_TABLE_CELLS = 20_000_000


@dataclass
class _Options:
    """Access options: one row per (grid, road node) a grid can walk to, with the walk's cost and path."""

    grid: np.ndarray
    node: np.ndarray
    length: np.ndarray
    time: np.ndarray
    path: list  # cells of each walk (person order)

    @classmethod
    def empty(cls) -> _Options:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), [])

    def add(self, grid, node, length, time, path) -> None:
        self.grid = np.concatenate([self.grid, np.asarray(grid, np.int64)])
        self.node = np.concatenate([self.node, np.asarray(node, np.int64)])
        self.length = np.concatenate([self.length, np.asarray(length, "float64")])
        self.time = np.concatenate([self.time, np.asarray(time, "float64")])
        self.path.extend(path)


@dataclass
class _Walks:
    """Direct walks: one row per (grid, shelter) on foot."""

    grid: np.ndarray
    shelter: np.ndarray
    length: np.ndarray
    time: np.ndarray
    path: list

    @classmethod
    def empty(cls) -> _Walks:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), [])

    def add(self, grid, shelter, length, time, path) -> None:
        self.grid = np.concatenate([self.grid, np.asarray(grid, np.int64)])
        self.shelter = np.concatenate([self.shelter, np.asarray(shelter, np.int64)])
        self.length = np.concatenate([self.length, np.asarray(length, "float64")])
        self.time = np.concatenate([self.time, np.asarray(time, "float64")])
        self.path.extend(path)


#: widest K answered by the multi-label road search (it keeps K labels per road node: memory grows with K);
#: wider asks run one Dijkstra per chunk of sources (:func:`gis.flood.roads.k_best`)
LABEL_K_MAX = 32


@dataclass
class Candidates:
    """Every way each grid can reach each usable shelter, costed; built by :meth:`build`.

    Attributes
    ----------
    grid_ids, shelter_ids : numpy.ndarray
        Ids, in position order.
    grid_xy, shelter_xy : numpy.ndarray
        Where each grid's people start (their homes' centre) and each shelter stands, frame metres.
    weight : str
        ``length`` (metres) or ``time`` (seconds): what a cost is.
    graph : RoadGraph or None
        The road graph as the flood left it.
    surface : WalkSurface or None
        The walking surface (None without a DEM: straight-line estimates).
    notes : list of Text
    """

    grid_ids: np.ndarray
    shelter_ids: np.ndarray
    grid_xy: np.ndarray
    shelter_xy: np.ndarray
    weight: str
    graph: RoadGraph | None
    surface: WalkSurface | None
    notes: list[Text] = field(default_factory=list)
    options: _Options = field(default_factory=_Options.empty)
    walks: _Walks = field(default_factory=_Walks.empty)
    exits: _Options = field(default_factory=_Options.empty)  # (shelter, road node): the walk from the road to it
    extended: set = field(default_factory=set)
    _legacy: tuple[str, None] | None = None  # the straight-line / snapped CandidateCosts where there is no DEM
    _cache: dict = field(default_factory=dict)
    _tables: list = field(default_factory=list)  # every table handed out: which way each (grid, shelter) cost came

    @property
    def _surface(self) -> WalkSurface:
        """The DEM walking surface: the terrain steps run only when there is one."""
        assert self.surface is not None
        return self.surface

    @property
    def _graph(self) -> RoadGraph:
        """The road graph: the road steps run only when there is one."""
        assert self.graph is not None
        return self.graph

    # ---- building ---------------------------------------------------------------------------------------
    @classmethod
    def build(cls, grid_ids, grid_xy, shelter_ids, shelter_xy, *, graph: RoadGraph | None,
              surface: WalkSurface | None, weight: str = "length") -> Candidates:
        """Cost every grid's primary options (nearest road on foot, nearest shelter on foot).

        Parameters
        ----------
        grid_ids, shelter_ids : array-like
            Ids of the grids to place and of the usable shelters.
        grid_xy, shelter_xy : numpy.ndarray
            ``(n, 2)`` points in the frame's metric CRS.
        graph : RoadGraph, optional
            Roads after the flood (cut); None without a road layer.
        surface : WalkSurface, optional
            The walking surface; None without a DEM (then straight lines, labelled).
        weight : {'length', 'time'}
        """
        c = cls(np.asarray(grid_ids).astype(str), np.asarray(shelter_ids).astype(str),
                np.asarray(grid_xy, "float64").reshape(-1, 2), np.asarray(shelter_xy, "float64").reshape(-1, 2),
                weight, graph if graph is not None and graph.n_edges else None, surface)
        if surface is None:
            c._build_without_dem()
        else:
            c._build_on_terrain()
        return c

    def _build_without_dem(self) -> None:
        """No DEM: access legs and cut-off grids as straight lines (the road network where there is one)."""
        gxy, sxy = self.grid_xy, self.shelter_xy
        if self.graph is None:
            self._legacy = ("straight", None)
            self.notes.append(Text(f"没有道路图层和 DEM：距离为直线距离 × 绕行系数 {DETOUR_FACTOR:g}"
                                   "（估算，非实际路线）",
                                   f"no road layer and no DEM: distance is the straight line x a detour factor of "
                                   f"{DETOUR_FACTOR:g} (an estimate, not a route)", "no_roads_no_dem"))
            return
        self._legacy = ("network", None)
        self.notes.append(Text("没有 DEM：到道路的步行段按直线计算，道路不通的网格按直线距离 × 1.4 估算（标为“直线”）",
                               "no DEM: the walks to and from the road are straight lines, and grids the road does "
                               "not connect are estimated as the straight line x 1.4 (labelled 'straight')",
                               "no_dem"))
        del gxy, sxy

    def _build_on_terrain(self) -> None:
        s = self.surface
        assert s is not None
        gcell = s.cells(self.grid_xy)
        scell = s.cells(self.shelter_xy)
        self._gcell, self._scell = gcell, scell
        # every grid's nearest road node on foot, and every shelter's
        if self.graph is not None:
            live = np.flatnonzero(self.graph.degree > 0)
            ncell = s.cells(self.graph.xy[live])
            ok = ncell >= 0
            live, ncell = live[ok], ncell[ok]
            # one node per cell: the best connected, then the nearest to the cell's centre
            d = np.hypot(*(self.graph.xy[live] - s.xy(ncell)).T)
            order = np.lexsort((d, -self.graph.degree[live], ncell))
            first = np.ones(len(order), dtype=bool)   # (no road cell on the surface: none)
            first[1:] = ncell[order][1:] != ncell[order][:-1]
            self._cell_node = pd.Series(live[order][first], index=ncell[order][first])
            self._node_cells = (self._cell_node.index.to_numpy(), self._cell_node.to_numpy())
            # the step from each road cell's centre onto its node, metres
            self._node_tail = np.hypot(*(self.graph.xy[self._node_cells[1]] - s.xy(self._node_cells[0])).T)
            self._node_at = np.arange(len(self._node_tail))
            road_cells = self._cell_node.index.to_numpy()
            to_road = s.search(road_cells, towards=True)
            self._add_primary_access(to_road, gcell)
            self._add_shelter_access(scell)
        if len(self.shelter_ids):
            to_shelter = s.search(scell[scell >= 0], towards=True)
            self._add_primary_walks(to_shelter, gcell, scell)

    def _snap(self, pts: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Metres from each point to the centre of its cell (walked straight: well under a cell)."""
        return np.hypot(*(pts - self._surface.xy(np.maximum(cells, 0))).T)

    def _add_primary_access(self, reach, gcell) -> None:
        s = self._surface
        rows, nodes, lengths, times, paths = [], [], [], [], []
        snap = self._snap(self.grid_xy, gcell)
        for i, cell in enumerate(gcell):
            if cell < 0 or not np.isfinite(reach.time[cell]):
                continue
            path = reach.path(int(cell))
            end = path[-1]
            node = int(self._cell_node[end])
            tail = float(np.hypot(*(self._graph.xy[node] - s.xy(np.array([end]))[0])))
            length = s.path_length(path) + snap[i] + tail
            if length > s.limit_m:
                continue
            rows.append(i)
            nodes.append(node)
            lengths.append(length)
            times.append(float(reach.time[cell]) + (snap[i] + tail) / _FLAT_MS)
            paths.append(path)
        self.options.add(rows, nodes, lengths, times, paths)

    def _road_options(self, reach, start_xy: np.ndarray, start_snap: float) -> list[tuple]:
        """From one local search: the nearest road node of every road piece within the limit.

        Returns ``(node, length, time, path)`` rows; the path runs in walking order.
        """
        s = self._surface
        _, at, pos = self._in_window("nodes", reach, self._node_cells[0], self._node_at)
        t = reach.time_local[pos]
        hit = np.flatnonzero(np.isfinite(t))
        out: list[tuple] = []
        if not len(hit):
            return out
        nodes, tt = self._node_cells[1][at[hit]], t[hit]
        comp = self._graph.component[nodes]
        order = np.lexsort((tt, comp))
        first = order[np.r_[True, comp[order][1:] != comp[order][:-1]]]
        first = first[np.argsort(tt[first], kind="stable")]
        node = nodes[first]
        paths, walked = reach.paths_at(pos[hit[first]])
        tail = self._node_tail[at[hit[first]]]
        length = walked + start_snap + tail
        secs = tt[first] + (start_snap + tail) / _FLAT_MS
        for q in np.flatnonzero(length <= s.limit_m):
            out.append((int(node[q]), float(length[q]), float(secs[q]), paths[q]))
        return out

    def _in_window(self, name: str, reach, cells: np.ndarray, values: np.ndarray):
        """The ``cells`` (sorted) inside a local search's window, their ``values`` and window positions.

        The searches of one tile share a window and come one after another, so the last window is kept.
        """
        hit = self._cache.get(("window", name))
        if hit is not None and hit[0] == reach.window:
            return hit[1]
        a, b = np.searchsorted(cells, [int(reach.cells[0]), int(reach.cells[-1]) + 1])
        pos = reach.positions(cells[a:b])
        ok = pos >= 0
        out = (cells[a:b][ok], values[a:b][ok], pos[ok])
        self._cache[("window", name)] = (reach.window, out)
        return out

    def _add_shelter_access(self, scell) -> None:
        """Every shelter's way in from every road piece within the walking limit (no dead-end access road)."""
        snap = self._snap(self.shelter_xy, scell)
        todo = np.flatnonzero(scell >= 0)
        rows: list[list] = [[], [], [], [], []]   # added once at the end: each add copies the arrays
        for reach in self._surface.local(scell[todo], towards=True):
            for j in todo[scell[todo] == reach.source]:
                for node, length, secs, path in self._road_options(reach, self.shelter_xy[j], snap[j]):
                    for col, v in zip(rows, (int(j), node, length, secs, path), strict=True):
                        col.append(v)
        self.exits.add(*rows)

    def _add_primary_walks(self, reach, gcell, scell) -> None:
        s = self._surface
        by_cell = pd.Series(np.arange(len(scell)), index=scell)
        by_cell = by_cell[by_cell.index >= 0]
        by_cell = by_cell[~by_cell.index.duplicated()]
        gsnap = self._snap(self.grid_xy, gcell)
        ssnap = self._snap(self.shelter_xy, scell)
        rows, shel, lengths, times, paths = [], [], [], [], []
        for i, cell in enumerate(gcell):
            if cell < 0 or not np.isfinite(reach.time[cell]):
                continue
            path = reach.path(int(cell))
            j = int(by_cell[path[-1]])
            length = s.path_length(path) + gsnap[i] + ssnap[j]
            if length > s.limit_m:
                continue
            rows.append(i)
            shel.append(j)
            lengths.append(length)
            times.append(float(reach.time[cell]) + (gsnap[i] + ssnap[j]) / _FLAT_MS)
            paths.append(path)
        self.walks.add(rows, shel, lengths, times, paths)

    # ---- widening -----------------------------------------------------------------------------------------
    def extend(self, grid_ids) -> int:
        """Give these grids every road piece and every shelter they can walk to within the limit.

        Returns
        -------
        int
            Options added (0 when there was nothing more to find).
        """
        if self.surface is None:
            return 0
        s = self.surface
        pos = pd.Series(np.arange(len(self.grid_ids)), index=self.grid_ids)
        todo = np.array([int(pos[g]) for g in np.asarray(grid_ids).astype(str)
                         if g in pos.index and g not in self.extended], dtype=np.int64)
        self.extended.update(self.grid_ids[todo].tolist())
        todo = todo[self._gcell[todo] >= 0]
        if not len(todo):
            return 0
        added = 0
        scell = self._scell
        by_cell = pd.Series(np.arange(len(scell)), index=scell)
        by_cell = by_cell[(by_cell.index >= 0) & ~by_cell.index.duplicated()].sort_index()
        shelter_at = (by_cell.index.to_numpy(), by_cell.to_numpy())   # (cell, shelter row), by cell
        have_opt = set(zip(self.options.grid.tolist(), self.options.node.tolist()))
        have_walk = set(zip(self.walks.grid.tolist(), self.walks.shelter.tolist()))
        gsnap = self._snap(self.grid_xy, self._gcell)
        ssnap = self._snap(self.shelter_xy, scell)
        new_opts: list[list] = [[], [], [], [], []]    # added once at the end: each add copies the arrays
        new_walks: list[list] = [[], [], [], [], []]
        at_cell: dict[int, list[int]] = {}
        for i in todo.tolist():
            at_cell.setdefault(int(self._gcell[i]), []).append(i)
        for reach in s.local(np.array(list(at_cell), dtype=np.int64), towards=False):
            for i in at_cell[reach.source]:
                if self.graph is not None:
                    for node, length, secs, path in self._road_options(reach, self.grid_xy[i], gsnap[i]):
                        if (i, node) not in have_opt:
                            for col, v in zip(new_opts, (i, node, length, secs, path), strict=True):
                                col.append(v)
                            have_opt.add((i, node))
                            added += 1
                _, s_rows, s_pos = self._in_window("shelters", reach, *shelter_at)
                t = reach.time_local[s_pos]
                fin = np.isfinite(t)
                fin[fin] = [(i, int(j)) not in have_walk for j in s_rows[fin]]
                js, tt = s_rows[fin], t[fin]
                paths, walked = reach.paths_at(s_pos[fin])
                length = walked + gsnap[i] + ssnap[js]
                secs = tt + (gsnap[i] + ssnap[js]) / _FLAT_MS
                for q in np.flatnonzero(length <= s.limit_m):
                    j = int(js[q])
                    for col, v in zip(new_walks, (i, j, float(length[q]), float(secs[q]), paths[q]), strict=True):
                        col.append(v)
                    have_walk.add((i, j))
                    added += 1
        self.options.add(*new_opts)
        self.walks.add(*new_walks)
        return added

    def could_widen(self, grid_ids, shelter_ids) -> np.ndarray:
        """Per grid: could :meth:`extend` give it a way to one of ``shelter_ids`` that its options do not?

        False when no such shelter stands within the walking limit as the crow flies and no road piece leading
        to one does (a walk is never shorter than the straight line), for grids whose options reach none of
        those shelters: widening them would find nothing, so the assignment skips their walking searches.
        """
        from scipy.spatial import cKDTree

        pos = pd.Series(np.arange(len(self.grid_ids)), index=self.grid_ids)
        gi = pos.reindex(np.asarray(grid_ids).astype(str)).to_numpy()
        out = np.zeros(len(gi), dtype=bool)
        if self.surface is None:
            return out
        known = np.isfinite(gi)
        gxy = self.grid_xy[gi[known].astype(np.int64)]
        lim = float(self.surface.limit_m)
        allowed = np.isin(self.shelter_ids, np.asarray(shelter_ids).astype(str))
        near = np.zeros(len(gxy), dtype=bool)
        if allowed.any():
            near |= np.isfinite(cKDTree(self.shelter_xy[allowed]).query(gxy, distance_upper_bound=lim)[0])
        if self.graph is not None and len(self.exits.grid):
            comps = np.unique(self.graph.component[self.exits.node[allowed[self.exits.grid]]])
            live = np.flatnonzero(np.isin(self.graph.component, comps) & (self.graph.degree > 0))
            if len(live):
                near |= np.isfinite(cKDTree(self.graph.xy[live]).query(gxy, distance_upper_bound=lim)[0])
        out[known] = near
        return out

    # ---- tables for the assignment ------------------------------------------------------------------------
    def _cost(self, length, time):
        return np.asarray(length if self.weight == "length" else time, dtype="float64")

    def __call__(self, k: int | None) -> pd.DataFrame:
        """Every grid's ``k`` cheapest shelters (None: all it can reach)."""
        return self.for_grids(k, self.grid_ids)

    def for_grids(self, k: int | None, grid_ids, shelter_ids=None, bias: pd.Series | None = None) -> pd.DataFrame:
        """The ``k`` cheapest shelters of each of ``grid_ids`` (among ``shelter_ids`` when given).

        With ``bias`` (a non-negative amount per shelter id), shelters are ranked by cost plus bias instead:
        with ``bias = max(dual) - dual`` that is the ``k`` most negative reduced costs (pricing). The costs
        returned are the true ones.

        Returns
        -------
        DataFrame
            ``origin_id``, ``dest_id``, ``origin`` and ``dest`` (positions), ``cost``, ``mode``,
            ``option`` (the access option or walk row behind it, -1 for straight lines), ``rank``.
        """
        pos = pd.Series(np.arange(len(self.grid_ids)), index=self.grid_ids)
        want = pos.reindex(np.asarray(grid_ids).astype(str)).dropna().astype(np.int64).to_numpy()
        allowed = np.ones(len(self.shelter_ids), dtype=bool)
        if shelter_ids is not None:
            allowed = np.isin(self.shelter_ids, np.asarray(shelter_ids).astype(str))
        add = np.zeros(len(self.shelter_ids))
        if bias is not None:
            add = bias.reindex(self.shelter_ids).to_numpy(dtype="float64")
            allowed &= np.isfinite(add)
            add = np.where(np.isfinite(add), add, 0.0)
        if self._legacy is not None:
            return self._legacy_table(k, want, np.flatnonzero(allowed), add)
        parts = []
        ex = np.flatnonzero(allowed[self.exits.grid]) if len(self.exits.grid) else np.zeros(0, np.int64)
        if self.graph is not None and len(self.options.grid) and len(ex) and k is not None and k <= LABEL_K_MAX:
            sel_all = np.flatnonzero(np.isin(self.options.grid, want))
            if len(sel_all):
                parts.append(self._road_labels(k, sel_all, ex, add))
        elif self.graph is not None and len(self.options.grid) and len(ex):
            sel_all = np.flatnonzero(np.isin(self.options.grid, want))
            dc = self._cost(self.exits.length, self.exits.time)[ex] + add[self.exits.grid[ex]]
            per = int(np.bincount(self.exits.grid[ex]).max()) if len(sel_all) else 1  # ways into the best-served
            kk = None if k is None else k * per
            width = len(dc) if kk is None else min(kk, len(dc))
            # options in slices, so the (options x width) tables stay within a bounded size at prefecture scale
            step = max(64, _TABLE_CELLS // max(1, width))
            for a in range(0, len(sel_all), step):
                sel = sel_all[a:a + step]
                oc = self._cost(self.options.length, self.options.time)[sel]
                bc, bd = k_best(self.graph, self.options.node[sel], oc, self.exits.node[ex], dc, k=kk,
                                weight=self.weight)
                ok = np.isfinite(bc)
                r, col = np.nonzero(ok)
                dest = self.exits.grid[ex[bd[ok]]]
                part = pd.DataFrame({"origin": self.options.grid[sel][r], "dest": dest, "key": bc[ok],
                                     "cost": bc[ok] - add[dest], "mode": "road", "option": sel[r],
                                     "exit": ex[bd[ok]]})
                del bc, bd, ok, r, col
                part = part.sort_values(["origin", "key"], kind="stable").drop_duplicates(["origin", "dest"])
                if k is not None:   # an origin's k best overall are among the k best of each slice
                    part = part[part.groupby("origin").cumcount() < k]
                parts.append(part)
        if len(self.walks.grid):
            sel = np.flatnonzero(np.isin(self.walks.grid, want) & allowed[self.walks.shelter])
            if len(sel):
                wc = self._cost(self.walks.length, self.walks.time)[sel]
                parts.append(pd.DataFrame({"origin": self.walks.grid[sel], "dest": self.walks.shelter[sel],
                                           "key": wc + add[self.walks.shelter[sel]], "cost": wc,
                                           "mode": "walk", "option": sel, "exit": -1}))
        return self._finish(parts, k)

    def _road_labels(self, k: int, sel: np.ndarray, ex: np.ndarray, add: np.ndarray) -> pd.DataFrame:
        """Road rows for the access options ``sel``: each option's ``k`` cheapest shelters through the exits ``ex``.

        One multi-label search over the road graph (:func:`gis.flood.labels.nearest_labels`) gives every road node
        its ``k`` cheapest shelters (ranked by cost plus ``add``); an option adds its own walk to its node's.
        """
        g = self._graph
        if "label_graph" not in self._cache:
            self._cache["label_graph"] = undirected_csr(g.n_nodes, g.u, g.v, g.length if self.weight == "length"
                                                        else g.time)
        nodes = self.options.node[sel]
        ex = ex[np.isin(g.component[self.exits.node[ex]], g.component[nodes])]   # exits that can reach them
        dc = self._cost(self.exits.length, self.exits.time)[ex] + add[self.exits.grid[ex]]
        lab, lc, via = nearest_labels(self._cache["label_graph"], self.exits.node[ex], dc, self.exits.grid[ex], k,
                                      targets=np.unique(nodes))
        dest, key = lab[nodes], lc[nodes] + self._cost(self.options.length, self.options.time)[sel][:, None]
        r, col = np.nonzero(dest >= 0)
        d = dest[r, col]
        return pd.DataFrame({"origin": self.options.grid[sel][r], "dest": d, "key": key[r, col],
                             "cost": key[r, col] - add[d], "mode": "road", "option": sel[r],
                             "exit": ex[via[nodes][r, col]]})

    def _finish(self, parts: list, k: int | None) -> pd.DataFrame:
        cols = ["origin_id", "dest_id", "origin", "dest", "rank", "cost", "mode", "option", "exit"]
        if not parts:
            return pd.DataFrame({c: [] for c in cols})
        t = pd.concat(parts, ignore_index=True)
        if "key" not in t:
            t["key"] = t["cost"]
        t = t.sort_values(["origin", "key", "mode"], kind="stable").drop_duplicates(["origin", "dest"])
        t["rank"] = t.groupby("origin").cumcount() + 1
        if k is not None:
            t = t[t["rank"] <= k]
        t["origin_id"] = self.grid_ids[t["origin"].to_numpy()]
        t["dest_id"] = self.shelter_ids[t["dest"].to_numpy()]
        t = t[cols].reset_index(drop=True)
        self._tables.append(t[["origin", "dest", "cost", "mode", "option", "exit"]])
        return t

    def _legacy_table(self, k: int | None, want: np.ndarray, among: np.ndarray, add: np.ndarray) -> pd.DataFrame:
        assert self._legacy is not None  # called only without a DEM
        kind, _ = self._legacy
        gxy, sxy = self.grid_xy[want], self.shelter_xy[among]
        ranked = k
        if add.any():   # ranked by cost plus bias: every shelter listed, cut in _finish
            k = None

        def rows(table: pd.DataFrame, origins: np.ndarray, mode: str) -> pd.DataFrame:
            dest = among[table["dest"].to_numpy()]
            t = table.assign(origin=origins[table["origin"].to_numpy()], dest=dest, mode=mode, option=-1, exit=-1,
                             key=table["cost"].to_numpy() + add[dest])
            return t[["origin", "dest", "key", "cost", "mode", "option", "exit"]]

        if kind == "straight" or not len(sxy):
            c = straight_line_costs(gxy, sxy, k=k, weight=self.weight)
            return self._finish([rows(c.table, want, "straight")], ranked)
        net = network_costs(self._graph, gxy, sxy, k=k, weight=self.weight)
        self._net = net
        parts = [rows(net.table, want, "road")]
        off = net.origins["unreachable"].to_numpy(dtype=bool)
        if off.any():
            walk = straight_line_costs(gxy[off], sxy, k=k, weight=self.weight)
            parts.append(rows(walk.table, want[off], "straight"))
        return self._finish(parts, ranked)

    # ---- pricing (the assignment's optimality certificate) ------------------------------------------------------
    def price(self, grid_dual: pd.Series, shelter_dual: pd.Series) -> np.ndarray:
        """Grids that may have an option whose reduced cost ``cost + grid_dual - shelter_dual`` is negative.

        One Dijkstra over the road graph from a virtual source tied to every shelter's road exits (weight: the
        exit's walk minus the shelter's dual, shifted to be non-negative) gives, at every road node, the least
        ``cost - shelter_dual`` of going on from there; each grid's access options and walks then give its least
        reduced cost without listing its arcs. Returned: the ids of grids whose least reduced cost is at most
        -0.5. The flow is solved on costs rounded to whole units with whole-unit duals, so an arc prices out only
        when its rounded reduced cost is -1 or less, which needs its exact one to be -0.5 or less (the rounding
        moves a cost by at most half a unit). Arcs the flow uses have reduced cost 0 and are not listed again;
        the caller checks the flagged grids' arcs exactly.
        """
        gd = grid_dual.reindex(self.grid_ids).to_numpy(dtype="float64")
        sd = shelter_dual.reindex(self.shelter_ids).to_numpy(dtype="float64")
        if self._legacy is not None:
            return self.grid_ids[np.isfinite(gd)]
        best = np.full(len(self.grid_ids), np.inf)
        if len(self.walks.grid):
            v = self._cost(self.walks.length, self.walks.time) - np.nan_to_num(sd[self.walks.shelter], nan=np.inf)
            np.minimum.at(best, self.walks.grid, v)
        if self.graph is not None and len(self.options.grid) and len(self.exits.grid):
            from scipy import sparse
            from scipy.sparse import csgraph

            x = self._cost(self.exits.length, self.exits.time) - np.nan_to_num(sd[self.exits.grid], nan=np.inf)
            ok = np.isfinite(x)
            shift = max(0.0, -float(x[ok].min())) if ok.any() else 0.0
            n = self.graph.n_nodes
            # one tie per road node, the cheapest of its exits (a sparse matrix would add duplicates up)
            w = np.full(n, np.inf)
            np.minimum.at(w, self.exits.node[ok], x[ok] + shift + 1e-9)
            tied = np.flatnonzero(np.isfinite(w))
            coo = self.graph.adjacency(self.weight).tocoo()
            aug = sparse.csr_matrix((np.concatenate([coo.data, w[tied]]),
                                     (np.concatenate([coo.row, np.full(len(tied), n)]),
                                      np.concatenate([coo.col, tied]))), shape=(n + 1, n + 1))
            dist = csgraph.dijkstra(aug, directed=False, indices=n)
            v = self._cost(self.options.length, self.options.time) + dist[self.options.node] - shift - 1e-9
            np.minimum.at(best, self.options.grid, v)
        return self.grid_ids[best + gd <= -0.5 + _PRICE_TOL]

    # ---- what was reachable ---------------------------------------------------------------------------------
    def reachable(self) -> np.ndarray:
        """Per grid: True when at least one shelter can be reached at all (by any mode)."""
        out = np.zeros(len(self.grid_ids), dtype=bool)
        if self._legacy is not None:
            return np.ones(len(self.grid_ids), dtype=bool) if len(self.shelter_ids) else out
        if len(self.walks.grid):
            out[self.walks.grid] = True
        if self.graph is not None and len(self.options.grid) and len(self.exits.grid):
            comps = set(self.graph.component[self.exits.node].tolist())
            oc = self.graph.component[self.options.node]
            out[self.options.grid[np.isin(oc, list(comps))]] = True
        return out

    # ---- routes ---------------------------------------------------------------------------------------------
    def routes(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """The route of each chosen (grid, shelter) pair.

        Parameters
        ----------
        pairs : DataFrame
            ``grid_id``, ``shelter_id`` (the assignment's rows).

        Returns
        -------
        DataFrame
            Same rows: ``geometry`` (frame CRS), ``distance_m``, ``time_s``, ``mode``, ``walk_m``
            (the longest walking leg of the route), ``climb_m`` (metres climbed on foot).
        """
        n = len(pairs)
        cols = ["geometry", "distance_m", "time_s", "mode", "walk_m", "climb_m"]
        if not n:
            return pd.DataFrame({c: [] for c in cols})
        gpos = pd.Series(np.arange(len(self.grid_ids)), index=self.grid_ids)
        spos = pd.Series(np.arange(len(self.shelter_ids)), index=self.shelter_ids)
        gi = gpos.reindex(pairs["grid_id"].astype(str)).to_numpy()
        si = spos.reindex(pairs["shelter_id"].astype(str)).to_numpy()
        if self._legacy is not None:
            return self._legacy_routes(gi, si)
        best = self._best_ways(gi, si)
        road_rows = [r for r in range(n) if best[r][0] == "road"]
        road_xy: dict[int, np.ndarray] = {}
        road_len: dict[int, float] = {}
        road_time: dict[int, float] = {}
        if road_rows:
            opts = np.array([best[r][1] for r in road_rows])
            exs = np.array([best[r][3] for r in road_rows])
            onodes, dnodes = self.options.node[opts], self.exits.node[exs]
            on_road = (np.array([best[r][2] for r in road_rows])
                       - self._cost(self.options.length, self.options.time)[opts]
                       - self._cost(self.exits.length, self.exits.time)[exs])
            lines = route_lines(self._graph, onodes, dnodes, weight=self.weight, limits=on_road)
            geoms = lines["geometry"].to_numpy()
            has = np.flatnonzero(pd.notna(geoms))
            xy, at = shapely.get_coordinates(geoms[has], return_index=True)
            cut = np.searchsorted(at, np.arange(1, len(has)))
            road_xy = {road_rows[int(q)]: c for q, c in zip(has, np.split(xy, cut), strict=True)}
            road_len = dict(zip(road_rows, np.nan_to_num(lines["length_m"].to_numpy(dtype="float64")).tolist(),
                                strict=True))
            road_time = dict(zip(road_rows, np.nan_to_num(lines["time_s"].to_numpy(dtype="float64")).tolist(),
                                 strict=True))
        s = self._surface
        # every walked cell's centre in one call
        blocks = [self.walks.path[o] if m == "walk" else (self.options.path[o], self.exits.path[e]) if m == "road"
                  else None for m, o, _, e in best]
        cells = [c for blk in blocks if blk is not None for c in (blk if isinstance(blk, tuple) else (blk,))]
        sizes = np.array([len(c) for c in cells], dtype=np.int64)
        flat = np.concatenate(cells).astype(np.int64) if cells else np.zeros(0, np.int64)
        cxy = np.split(s.xy(flat), np.cumsum(sizes)[:-1]) if cells else []
        rise = np.r_[0.0, np.clip(np.diff(s.z[flat]), 0, None)] if len(flat) else np.zeros(0)
        starts = np.r_[0, np.cumsum(sizes)[:-1]] if cells else np.zeros(0, np.int64)
        climbs = [float(rise[a + 1:a + z].sum()) for a, z in zip(starts.tolist(), sizes.tolist(), strict=True)]
        k = 0
        coords: list[np.ndarray | None] = []
        rows: list[tuple] = []
        for r in range(n):
            mode, opt, _, ex = best[r]
            g, j = int(gi[r]), int(si[r])
            if mode == "walk":
                coords.append(np.vstack([self.grid_xy[g], cxy[k], self.shelter_xy[j]]))
                rows.append((self.walks.length[opt], self.walks.time[opt], "walk", self.walks.length[opt], climbs[k]))
                k += 1
            elif mode == "road":
                road = road_xy.get(r, np.zeros((0, 2)))
                coords.append(np.vstack([self.grid_xy[g], cxy[k], road, cxy[k + 1], self.shelter_xy[j]]))
                dist = self.options.length[opt] + road_len[r] + self.exits.length[ex]
                secs = self.options.time[opt] + road_time[r] + self.exits.time[ex]
                rows.append((dist, secs, "road", max(self.options.length[opt], self.exits.length[ex]),
                             climbs[k] + climbs[k + 1]))
                k += 2
            else:
                coords.append(None)
                rows.append((np.nan, np.nan, "straight", 0.0, 0.0))
        out = pd.DataFrame(rows, columns=cols[1:])
        out.insert(0, "geometry", path_lines(coords))
        return out

    def _best_ways(self, gi: np.ndarray, si: np.ndarray) -> list[tuple[str, int, float, int]]:
        """For each pair, the way its cost came from: (mode, access option or walk row, cost, exit row)."""
        ways = pd.concat(self._tables, ignore_index=True) if self._tables else pd.DataFrame(
            {"origin": [], "dest": [], "cost": [], "mode": [], "option": [], "exit": []})
        ways = ways.sort_values("cost", kind="stable").drop_duplicates(["origin", "dest"])
        look = ways.set_index(["origin", "dest"])[["mode", "option", "cost", "exit"]]
        idx = pd.MultiIndex.from_arrays([np.asarray(gi, np.int64), np.asarray(si, np.int64)])
        got = look.reindex(idx)
        return [(m if isinstance(m, str) else "none", int(o) if o == o else -1, float(c), int(e) if e == e else -1)
                for m, o, c, e in zip(got["mode"].to_numpy(), got["option"].to_numpy(), got["cost"].to_numpy(),
                                      got["exit"].to_numpy())]

    def _legacy_routes(self, gi: np.ndarray, si: np.ndarray) -> pd.DataFrame:
        """Routes without a DEM: snapped straight access legs on the road, straight lines elsewhere."""
        from gis.flood.roads import nearest_nodes

        n = len(gi)
        start, end = self.grid_xy[gi], self.shelter_xy[si]
        straight = np.hypot(*(end - start).T)
        out = pd.DataFrame({"geometry": [shapely.LineString([a, b]) for a, b in zip(start, end)],
                            "distance_m": straight * DETOUR_FACTOR,
                            "time_s": straight * DETOUR_FACTOR / (STRAIGHT_LINE_SPEED_KMH / 3.6),
                            "mode": "straight", "walk_m": 0.0, "climb_m": 0.0})
        assert self._legacy is not None  # called only without a DEM
        if self._legacy[0] == "straight" or self.graph is None:
            return out
        net = network_costs(self.graph, self.grid_xy, self.shelter_xy, k=1, weight=self.weight)
        onode, osnap = net.origins["node"].to_numpy(), net.origins["snap_m"].to_numpy()
        dnode, dsnap = nearest_nodes(self.graph, self.shelter_xy)
        on, dn = onode[gi].astype(np.int64), dnode[si].astype(np.int64)
        r = route_lines(self.graph, on, dn, weight="length")
        for k in range(n):
            g = r["geometry"].iloc[k]
            if g is None:
                continue
            pts = [start[k]] + list(np.asarray(g.coords)) + [end[k]]
            access = osnap[gi[k]] + dsnap[si[k]]
            out.at[k, "geometry"] = shapely.LineString(pts)  # type: ignore[assignment]  # pandas-stubs: at[] refuses object values
            out.at[k, "distance_m"] = float(r["length_m"].iloc[k]) + access
            out.at[k, "time_s"] = float(r["time_s"].iloc[k]) + access / (ACCESS_SPEED_KMH / 3.6)
            out.at[k, "mode"] = "road"
            out.at[k, "walk_m"] = max(osnap[gi[k]], dsnap[si[k]])
        return out


def frame_points(gdf: gpd.GeoDataFrame, crs) -> np.ndarray:
    """Representative points of a layer in ``crs`` as an ``(n, 2)`` array."""
    pts = gdf.to_crs(crs).geometry.representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()]) if len(pts) else np.zeros((0, 2))
