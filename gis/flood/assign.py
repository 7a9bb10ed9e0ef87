"""Optimal assignment of grids to shelters: minimum person-distance within capacity, solved exactly.

The problem is a transportation problem: each grid supplies its people; each candidate
(grid, shelter) pair is an arc with the cost per person of that trip (from
:func:`gis.flood.roads.network_costs` or :func:`gis.flood.roads.straight_line_costs`, **rounded to whole
metres or seconds**: OR-Tools needs integers); each shelter takes at most its capacity.
Unplaced people are minimised first and total person-distance second, exactly, in two steps
with OR-Tools:

1. :class:`ortools.graph.python.max_flow.SimpleMaxFlow` gives the most people the candidates can
   place (source -> grid: people; grid -> shelter: candidates; shelter -> sink: capacity);
2. :class:`ortools.graph.python.min_cost_flow.SimpleMinCostFlow` finds the cheapest flow of exactly
   that value.

This is the same optimum as one min-cost flow with an "unplaced" overflow arc per grid at a cost
larger than any chain of reassignments (``(shelters + 1) x (max cost + 1)``; the tests check it
against that linear program solved by HiGHS), without the huge costs that slow the solver.

Candidates are widened per grid through ``widen`` (default K = 5, 10, 20, 50, then every
candidate): after each max flow, only the grids on the source side of the minimum cut (grids
with people left over, and grids that could make room for them by moving) can place more people with
a new candidate, so only they move to the next level (a grid that needs it a second time, and any grid
once some grid has reached the widest level, moves straight to the widest, to save rounds). The search
stops when everyone is placed, when the bound is reached, or when no grid on the source side has more
candidates: then nothing wider could place anyone more. **The number placed is therefore the maximum
over the full candidate table.** When the widening has reached at least ``FULL_TABLE_SHARE`` of a fixed
table's arcs (capacity binds nearly everywhere), the min-cost flow takes the whole table at once: one solve
of all of it costs less than a solve of most of it followed by another once pricing finds the arcs left out.

With :class:`gis.flood.candidates.Candidates` (which list a grid's shelters on demand, among chosen
shelters, and widen a grid to every road piece and shelter it can walk to), the widening asks less: a
new arc can place more people only if it runs from a source-side grid to a *sink-side* shelter (the
source-side shelters are full), so the source-side grids are asked for their K cheapest sink-side
shelters (K doubling per ask), and a grid with none left is widened to its walking reach and asked
again (:func:`_place_reaching`; ``k_tried`` then reads ``[5, "toward", ..., "reach", ...]``). It stops
when no source-side grid has an arc to a sink-side shelter: the minimum cut then has the same capacity
over the complete table, so the number placed is its maximum, without ever listing every grid's every
shelter.

**Person-distance is then proven optimal over the full candidate table**, not only over the arcs
solved: the flow's node potentials (shortest distances in its residual network, :func:`_potentials`)
price every arc left out; an arc with a negative reduced cost is added (or, when its pair is in the problem
at a higher cost — listed by road before a walk made it cheaper — its cost is lowered) and the problem solved
again, until none is left (``summary['optimal']`` is True; ``pricing_rounds``, ``arcs_added_by_pricing`` and
``grids_listed_by_pricing``, the grids whose arcs each round listed, say how much that took). The full
table is every arc the costs can give: a fixed table, ``costs(None)``, or every shelter each grid's
access options lead to (priced by one Dijkstra without listing the arcs,
:meth:`gis.flood.candidates.Candidates.price`). ``k_tried`` lists, for each max flow, the widest
level any grid had (``"reach"``: the walking search).

Grids are kept whole where the optimum allows: a min-cost flow optimum is a basic solution of the
transportation problem, in which at most one grid per full shelter (the shelters where capacity
binds) is split, so splits are few; every split grid is listed (``split_grids``). No split
penalty is added, so person-distance stays exactly optimal.

Vulnerable people go with the people: each grid's vulnerable count is shared among its shelters
(and its unplaced remainder) in proportion to the people sent, rounded by largest remainder so
the parts sum exactly to the grid's count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np
import pandas as pd
from ortools.graph.python import max_flow, min_cost_flow

from gis.flood.roads import CandidateCosts
from layers.text import Text

__all__ = ["AssignmentResult", "assign", "usable_shelters", "DEFAULT_WIDEN", "share_integer"]

#: default K sequence; None = every reachable shelter
DEFAULT_WIDEN: tuple[int | None, ...] = (5, 10, 20, 50, None)
#: most rounds of pricing (adding arcs with negative reduced cost) before giving up the certificate
MAX_PRICING_ROUNDS = 50
#: arcs listed per flagged grid and pricing round (its most negative reduced costs), with a provider
PRICE_K = 10
#: share of a fixed table the widening may reach before the min-cost flow takes the whole table instead
FULL_TABLE_SHARE = 0.5

_Note = Text
class CostProvider(Protocol):
    """Candidates that list each grid's options on demand (:class:`gis.flood.candidates.Candidates`)."""

    def for_grids(self, k: int | None, grid_ids, shelter_ids=None, bias: pd.Series | None = None) -> pd.DataFrame:
        ...

    def extend(self, grid_ids) -> int: ...

    def price(self, grid_dual: pd.Series, shelter_dual: pd.Series) -> np.ndarray: ...


TableCosts = CandidateCosts | pd.DataFrame | Callable[[int | None], CandidateCosts | pd.DataFrame]
Costs = TableCosts | CostProvider


@dataclass
class AssignmentResult:
    """The evacuation plan's assignment.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per (grid, shelter) with people sent: ``grid_id``, ``shelter_id``, ``people``,
        ``vulnerable``, ``cost`` (per person, in the costs' units: metres or seconds),
        ``split`` (the grid goes to more than one shelter).
    shelters : pandas.DataFrame
        Per usable shelter: ``shelter_id``, ``township``, ``capacity``, ``load``,
        ``vulnerable_load``, ``spare``, ``grids`` (number of grids sent there).
    split_grids : pandas.DataFrame
        Grids sent to more than one shelter: ``grid_id``, ``shelters``, ``people``.
    unplaced : pandas.DataFrame
        Per township with people left unplaced: ``township``, ``people_to_evacuate``,
        ``capacity`` (usable places in the township's shelters), ``people_unplaced``,
        ``vulnerable_unplaced``, ``capacity_missing`` (places to add so everyone fits: equal to the
        unplaced people), ``grids``.
    unplaced_grids : pandas.DataFrame
        Per grid with people unplaced: ``grid_id``, ``township``, ``people_unplaced``,
        ``vulnerable_unplaced``, ``reason`` (``no_shelter_reachable`` or ``capacity``).
    excluded_shelters : pandas.DataFrame
        ``shelter_id``, ``reason`` (``capacity`` / ``status`` / ``unusable``).
    skipped_grids : pandas.DataFrame
        Grids with no population: ``grid_id``.
    summary : dict
        ``people_to_evacuate``, ``people_placed``, ``people_unplaced``, ``vulnerable_to_evacuate``,
        ``vulnerable_unplaced``, ``shelters_used``, ``person_km`` (None when costs are times),
        ``person_hours`` (None when costs are lengths), ``grids``, ``grids_split``, ``k``
        (the K of the final solve, None = all), ``k_tried``, ``weight``, ``method``,
        ``max_placeable`` (None when unknown), ``arcs`` (candidate arcs in the final problem),
        ``optimal`` (True: no arc of the full candidate table has a negative reduced cost: the
        person-distance is the optimum of that table), ``pricing_rounds``, ``arcs_added_by_pricing``,
        ``households_to_evacuate``, ``households_placed``, ``households_unplaced``.
        ``k_tried`` lists, for each max flow, the widest level any grid had.
    notes : list of tuple
        :class:`~layers.text.Text` messages.
    """

    assignments: pd.DataFrame
    shelters: pd.DataFrame
    split_grids: pd.DataFrame
    unplaced: pd.DataFrame
    unplaced_grids: pd.DataFrame
    excluded_shelters: pd.DataFrame
    skipped_grids: pd.DataFrame
    summary: dict
    notes: list[_Note] = field(default_factory=list)
    #: the final problem as solved: grid positions, shelter positions, integer costs, people, capacities
    problem: dict = field(default_factory=dict, repr=False)


def share_integer(total: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Split integer ``total`` of each group over its rows in proportion to ``weights``.

    Parameters
    ----------
    total : numpy.ndarray
        Per row, the group's total (the same on every row of a group), integer.
    weights : numpy.ndarray
        Per row, non-negative weights (people sent).
    groups : numpy.ndarray
        Group label per row.

    Returns
    -------
    numpy.ndarray
        Integers summing exactly to the group total within each group (largest remainder;
        ties to the earlier row). A group whose weights are all zero gets it all on its first row.
    """
    groups = np.asarray(groups)
    w = np.asarray(weights, dtype="float64")
    tot = np.asarray(total, dtype=np.int64)
    wsum = pd.Series(w).groupby(groups).transform("sum").to_numpy()
    exact = np.where(wsum > 0, tot * w / np.where(wsum > 0, wsum, 1), 0.0)
    base = np.floor(exact + 1e-9).astype(np.int64)
    frac = exact - base
    zero = wsum <= 0
    first = ~pd.Series(groups).duplicated().to_numpy()
    base[zero & first] = tot[zero & first]
    short = tot - pd.Series(base).groupby(groups).transform("sum").to_numpy()
    order = pd.DataFrame({"g": groups, "f": -frac, "i": np.arange(len(w))}).sort_values(["g", "f", "i"])
    pos = order.groupby("g").cumcount().to_numpy()
    add = np.zeros(len(w), dtype=np.int64)
    add[order["i"].to_numpy()] = (pos < short[order["i"].to_numpy()]).astype(np.int64)
    return base + add


def usable_shelters(shelters: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[_Note]]:
    """Shelters that can take people, the excluded ones with a reason, and notes.

    Excluded: capacity missing or not positive; ``status`` given and not ``available``; a
    ``usable`` column that is False (e.g. inside the flood, or its access road cut).

    Parameters
    ----------
    shelters : pandas.DataFrame
        With ``shelter_id`` and ``capacity``; optional ``status``, ``usable``, ``township``.

    Returns
    -------
    tuple
        ``(usable, excluded, notes)``; ``usable`` has an integer ``capacity``; ``excluded`` has
        ``shelter_id`` and ``reason``.
    """
    s = shelters.copy()
    cap = pd.to_numeric(s["capacity"], errors="coerce") if "capacity" in s else pd.Series(np.nan, index=s.index)
    reason = pd.Series("", index=s.index, dtype=object)
    if "usable" in s:
        bad = s["usable"].fillna(True).astype(bool) == False  # noqa: E712
        reason[bad] = "unusable"
    if "status" in s:
        st = s["status"]
        reason[(reason == "") & st.notna() & (st.astype(str) != "available")] = "status"
    reason[(reason == "") & ~(cap > 0)] = "capacity"
    notes: list[_Note] = []
    for code, zh, en in (("capacity", "容纳人数为空或为 0", "capacity missing or zero"),
                         ("status", "状态不是“可用”", "status is not available"),
                         ("unusable", "被标记为不可用（如位于淹没区或进出道路被淹断）",
                          "flagged unusable (e.g. inside the flood or its access road cut)")):
        n = int((reason == code).sum())
        if n:
            ids = ", ".join(s.loc[reason == code, "shelter_id"].astype(str).head(10))
            more_zh, more_en = ("等" if n > 10 else "", " ..." if n > 10 else "")
            notes.append(Text(f"{n} 个安置场所{zh}，未参与安置：{ids}{more_zh}",
                              f"{n} shelters not used ({en}): {ids}{more_en}", "shelters_not_used"))
    ok = reason == ""
    usable = s[ok].copy()
    usable["capacity"] = np.floor(cap[ok]).astype(np.int64)
    excluded = pd.DataFrame({"shelter_id": s.loc[~ok, "shelter_id"].to_numpy(),
                             "reason": reason[~ok].to_numpy()})
    return usable, excluded, notes


def _candidates(costs: TableCosts, k: int | None) -> tuple[pd.DataFrame, CandidateCosts | None]:
    c = costs(k) if callable(costs) and not isinstance(costs, (pd.DataFrame, CandidateCosts)) else costs
    if isinstance(c, CandidateCosts):
        return c.table, c
    return c, None


def _arcs(ng: int, ns: int, g_people: np.ndarray, capacity: np.ndarray, gi: np.ndarray, si: np.ndarray):
    """Source -> grids (people), grid -> shelter candidates, shelters -> sink (capacity)."""
    src, sink = ng + ns, ng + ns + 1
    tails = np.concatenate([np.full(ng, src), gi, ng + np.arange(ns)]).astype(np.int32)
    heads = np.concatenate([np.arange(ng), ng + si, np.full(ns, sink)]).astype(np.int32)
    caps = np.concatenate([g_people, g_people[gi], capacity]).astype(np.int64)
    return src, sink, tails, heads, caps


def _max_flow(g_people: np.ndarray, capacity: np.ndarray, gi: np.ndarray,
              si: np.ndarray, *, shelters: bool = False):
    """People that can be placed with these candidates, and the grids on the source side of the min cut.

    The source side holds every grid with people left over and every grid that could make room for
    them by moving elsewhere; only a new candidate of one of these grids can place more people, and only
    one to a shelter on the sink side (a shelter on the source side is full). With ``shelters``, the
    shelters on the source side are returned too.
    """
    ng, ns = len(g_people), len(capacity)
    src, sink, tails, heads, caps = _arcs(ng, ns, g_people, capacity, gi, si)
    mf = max_flow.SimpleMaxFlow()
    mf.add_arcs_with_capacity(tails, heads, caps)
    status = mf.solve(src, sink)
    if status != mf.OPTIMAL:
        raise RuntimeError(f"max flow did not solve (status {status})")
    side = np.asarray(mf.get_source_side_min_cut(), dtype=np.int64)
    mask = np.zeros(ng, dtype=bool)
    mask[side[side < ng]] = True
    if shelters:
        smask = np.zeros(ns, dtype=bool)
        smask[side[(side >= ng) & (side < ng + ns)] - ng] = True
        return int(mf.optimal_flow()), mask, smask
    return int(mf.optimal_flow()), mask


def _solve(g_people: np.ndarray, capacity: np.ndarray, gi: np.ndarray, si: np.ndarray, cost: np.ndarray,
           placed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest flow of value ``placed`` (the maximum); (flow per candidate arc, unplaced per grid)."""
    ng, ns = len(g_people), len(capacity)
    src, sink, tails, heads, caps = _arcs(ng, ns, g_people, capacity, gi, si)
    costs = np.concatenate([np.zeros(ng, dtype=np.int64), np.rint(cost).astype(np.int64),
                            np.zeros(ns, dtype=np.int64)])
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(ng + ns + 2, dtype=np.int64)
    supplies[src], supplies[sink] = placed, -placed
    smcf.set_nodes_supplies(np.arange(ng + ns + 2, dtype=np.int32), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow did not solve (status {status})")
    flows = np.asarray(smcf.flows(arcs), dtype=np.int64)
    return flows[ng:ng + len(gi)], g_people - flows[:ng]


def _potentials(g_people: np.ndarray, capacity: np.ndarray, gi: np.ndarray, si: np.ndarray, icost: np.ndarray,
                flows: np.ndarray, unplaced_g: np.ndarray) -> np.ndarray:
    """Node potentials of an optimal flow: shortest distances in its residual network (Bellman-Ford).

    Nodes are the grids, the shelters, the source and the sink. An optimal flow leaves no negative cycle in
    the residual network, so the distances from a virtual root joined to every node at cost 0 exist, and
    every residual arc has a reduced cost ``c + d[tail] - d[head] >= 0``. An arc left out of the problem
    whose reduced cost is negative would close a cheaper cycle: pricing checks exactly that.
    """
    ng, ns = len(g_people), len(capacity)
    src, sink = ng + ns, ng + ns + 1
    load = np.bincount(si, weights=flows, minlength=ns)
    sent = g_people - unplaced_g
    tails = [np.full(ng, src), gi, ng + np.arange(ns)]
    heads = [np.arange(ng), ng + si, np.full(ns, sink)]
    cost = [np.zeros(ng), icost.astype("float64"), np.zeros(ns)]
    flow = [sent.astype("float64"), flows.astype("float64"), load]
    # grid -> shelter arcs as uncapacitated: the source arc already bounds them, so the optimum is the same, and
    # an arc in use then keeps a forward residual arc — its reduced cost is >= 0 like every other arc's, and
    # pricing flags only grids with an arc that is really missing (a saturated arc could otherwise price out)
    cap = [g_people.astype("float64"), np.full(len(gi), np.inf), capacity.astype("float64")]
    t, h, c, f, u = (np.concatenate(x) for x in (tails, heads, cost, flow, cap))
    fwd = f < u - 1e-9
    bwd = f > 1e-9
    rt = np.concatenate([t[fwd], h[bwd]])
    rh = np.concatenate([h[fwd], t[bwd]])
    rc = np.concatenate([c[fwd], -c[bwd]])
    d = np.zeros(ng + ns + 2)
    for _ in range(ng + ns + 3):
        cand = d[rt] + rc
        nd = d.copy()
        np.minimum.at(nd, rh, cand)
        if np.array_equal(nd, d):
            return d
        d = nd
    raise RuntimeError("the flow's residual network has a negative cycle: it is not optimal")


def _full_table(costs, gpos: pd.Series, spos: pd.Series,
                gids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every arc the candidates can give for the grids ``gids`` (positions, shelter positions, costs)."""
    if hasattr(costs, "for_grids"):
        t = costs.for_grids(None, gids)
    else:
        t, _ = _candidates(costs, None)
    return _table_arcs(t, gpos, spos)


def _table_arcs(t: pd.DataFrame, gpos: pd.Series,
                spos: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid position, shelter position, cost) of a candidate table's rows with known ids and finite costs."""
    cgi = gpos.index.get_indexer(pd.Index(t["origin_id"].astype(str)))
    csi = spos.index.get_indexer(pd.Index(t["dest_id"].astype(str)))
    c = t["cost"].to_numpy(dtype="float64")
    ok = (cgi >= 0) & (csi >= 0) & np.isfinite(c)
    return cgi[ok].astype(np.int64), csi[ok].astype(np.int64), c[ok]


def _merge_arcs(gi: np.ndarray, si: np.ndarray, cost: np.ndarray, ngi: np.ndarray, nsi: np.ndarray, nc: np.ndarray,
                ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Arcs ``(gi, si, cost)`` joined with new ones, one arc per (grid, shelter) pair at its cheapest cost.

    A pair listed again can come cheaper than before (a grid widened to its walking reach may walk where it
    went by road), so a known pair takes the lower cost. Returns the arcs and how many pairs are new or cheaper.
    """
    if not len(ngi):
        return gi, si, cost, 0
    key = np.concatenate([gi, ngi]) * np.int64(max(ns, 1)) + np.concatenate([si, nsi])
    c = np.concatenate([cost, nc])
    o = np.lexsort((c, key))
    first = o[np.r_[True, key[o][1:] != key[o][:-1]]]
    changed = int((first >= len(gi)).sum())   # a pair whose cheapest arc is a new one
    first.sort()
    return (np.concatenate([gi, ngi])[first], np.concatenate([si, nsi])[first], c[first], changed)


def _place_reaching(prov: CostProvider, gid: np.ndarray, sid: np.ndarray, g_people: np.ndarray,
                    capacity: np.ndarray, first_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, list]:
    """Most people placed over every option of a provider that can widen (:class:`Candidates`).

    Each grid starts with its ``first_k`` cheapest shelters. After each max flow, only an arc from a grid on
    the source side of the minimum cut to a shelter on the sink side can place more people (the shelters on
    the source side are full, and arcs from sink-side grids cross no cut). So those grids are asked for their
    cheapest shelters *among the sink-side ones* only — K of them, K doubling each time a grid is asked
    again; a grid that got fewer than K has listed every open shelter it reaches, so later rounds ask it only
    toward shelters opened since — and a grid with none left among its road and walking options is widened to
    every road piece and shelter within walking reach (``extend``) and asked once more — unless no sink-side
    shelter, and no road piece leading to one, lies within the walking limit as the crow flies
    (``could_widen``: then widening could find nothing toward them). When no source-side grid has an arc to a
    sink-side shelter, the cut's capacity is the same over the complete option table: the number placed is
    the maximum there (the max-flow min-cut certificate).

    Returns
    -------
    tuple
        ``(gi, si, cost, placed, tried)``: the arcs found, the people placed, and the widening rounds
        (``first_k``, then ``"toward"`` or ``"reach"`` for a round that widened some grid's walking reach).
    """
    ng, ns = len(gid), len(sid)
    gpos = pd.Series(np.arange(ng), index=gid)
    spos = pd.Series(np.arange(ns), index=sid)
    gi, si, cost = _table_arcs(prov.for_grids(first_k, gid), gpos, spos)
    total = int(g_people.sum())
    kq = np.full(ng, max(1, first_k), dtype=np.int64)
    extended = np.zeros(ng, dtype=bool)
    exhausted = np.full(ng, -1, dtype=np.int64)   # the round in which a grid listed every open shelter it reaches
    opened: list[np.ndarray] = []                 # the open shelters (sink side, with room) of each round
    tried: list = [first_k]
    while True:
        placed, side_g, side_s = _max_flow(g_people, capacity, gi, si, shelters=True)
        if placed == total:
            break
        ask_g = np.flatnonzero(side_g)
        open_mask = ~side_s & (capacity > 0)
        open_s = sid[open_mask]
        if not len(ask_g) or not len(open_s):
            break
        rnd = len(opened)
        opened.append(open_mask)
        # a grid that listed all its open shelters in an earlier round is asked only toward those opened since
        asks: list[tuple[int, np.ndarray, np.ndarray]] = []
        fresh = ask_g[exhausted[ask_g] < 0]
        asks += [(int(k), fresh[kq[fresh] == k], open_mask) for k in np.unique(kq[fresh])]
        done = ask_g[exhausted[ask_g] >= 0]
        for r0 in np.unique(exhausted[done]):
            newly = open_mask & ~opened[int(r0)]
            grp = done[exhausted[done] == r0]
            if newly.any():
                asks += [(int(k), grp[kq[grp] == k], newly) for k in np.unique(kq[grp])]
        new, rows, asked_k = [], np.zeros(ng, dtype=np.int64), np.zeros(ng, dtype=np.int64)
        for k, grids, mask in asks:
            new.append(_table_arcs(prov.for_grids(k, gid[grids], sid[mask]), gpos, spos))
            rows += np.bincount(new[-1][0], minlength=ng)
            asked_k[grids] = k
        dry = ask_g[(rows[ask_g] == 0) & ~extended[ask_g]]   # nothing more by their options: widen their reach
        if len(dry) and hasattr(prov, "could_widen"):   # where a walk could lead anywhere new at all
            dry = dry[prov.could_widen(gid[dry], open_s)]
        label = "toward"
        if len(dry):
            prov.extend(gid[dry])
            extended[dry] = True
            k = int(kq[dry].max())
            new.append(_table_arcs(prov.for_grids(k, gid[dry], open_s), gpos, spos))
            rows[dry] = np.bincount(new[-1][0], minlength=ng)[dry]
            asked_k[dry] = k
            label = "reach"
        if not new:
            break
        ngi, nsi, nc = (np.concatenate(x) for x in zip(*new, strict=True))
        gi, si, cost, changed = _merge_arcs(gi, si, cost, ngi, nsi, nc, ns)
        if not changed:
            break
        asked = asked_k > 0
        listed_all = asked & (rows < asked_k)   # fewer than asked: every open shelter it reaches is listed
        exhausted[listed_all] = rnd
        more = asked & ~listed_all
        exhausted[more] = -1
        kq[more] = np.minimum(kq[more] * 2, max(ns, 1))
        tried.append(label)
    # a grid left with no shelter at all is "no shelter reachable" only if its walking reach holds none either:
    # widen those that could reach any (their shelters are full: the count placed stays the maximum)
    none = np.flatnonzero(np.bincount(gi, minlength=ng) == 0)   # (asked only toward open shelters so far)
    if len(none) and ns:
        wid = none[~extended[none]]
        if len(wid) and hasattr(prov, "could_widen"):
            wid = wid[prov.could_widen(gid[wid], sid)]
        if len(wid):
            prov.extend(gid[wid])
            extended[wid] = True
        ngi, nsi, nc = _table_arcs(prov.for_grids(first_k, gid[none]), gpos, spos)
        if len(ngi):
            gi, si, cost, _ = _merge_arcs(gi, si, cost, ngi, nsi, nc, ns)
            placed, _ = _max_flow(g_people, capacity, gi, si)
            tried.append("reach")
    o = np.lexsort((cost, gi))
    return gi[o], si[o], cost[o], placed, tried


def assign(demand: pd.DataFrame, shelters: pd.DataFrame, costs: Costs, *,
           widen: Sequence[int | None] = DEFAULT_WIDEN, people: str | None = None) -> AssignmentResult:
    """Assign grids to shelters, minimising person-distance within capacity (exact min-cost flow).

    Parameters
    ----------
    demand : pandas.DataFrame
        One row per grid to evacuate: ``grid_id``, the people (column ``people`` if present,
        else ``population``, or as named by ``people``), optional ``vulnerable`` and ``township``.
    shelters : pandas.DataFrame
        ``shelter_id``, ``capacity``; optional ``status`` (only ``available`` is used), ``usable``
        (bool; False excludes), ``township``.
    costs : CandidateCosts, DataFrame or callable
        The candidate table (``origin_id`` = grid id, ``dest_id`` = shelter id, ``cost``), as
        :class:`gis.flood.roads.CandidateCosts` or a bare DataFrame; or a function ``k -> candidates``
        called for each K of ``widen`` (it should cost only usable shelters). A fixed table is
        re-ranked among usable shelters and cut at each grid's K.
    widen : sequence of int or None
        K values tried in order, per grid (see the module notes); None = every candidate.
    people : str, optional
        Name of the people column in ``demand``.

    Returns
    -------
    AssignmentResult
        Assignments, shelter loads, split grids, unplaced people per township and per grid,
        excluded shelters, skipped grids, summary, notes.
    """
    notes: list[_Note] = []
    col = people or ("people" if "people" in demand else "population")
    d = demand.copy()
    d["grid_id"] = d["grid_id"].astype(str)
    pe = np.floor(pd.to_numeric(d[col], errors="coerce").fillna(0).clip(lower=0)).astype(np.int64)
    vul = (np.floor(pd.to_numeric(d["vulnerable"], errors="coerce").fillna(0).clip(lower=0)).astype(np.int64)
           if "vulnerable" in d else pd.Series(0, index=d.index))
    hh = (np.floor(pd.to_numeric(d["households"], errors="coerce").fillna(0).clip(lower=0)).astype(np.int64)
          if "households" in d else pd.Series(0, index=d.index))
    d["_people"], d["_vul"], d["_hh"] = pe, np.minimum(vul, pe), hh
    skipped = d.loc[d["_people"] <= 0, ["grid_id"]].reset_index(drop=True)
    if len(skipped):
        ids = ", ".join(skipped["grid_id"].head(10))
        notes.append(Text(f"{len(skipped)} 个网格没有人口（空或 0），已跳过：{ids}{'等' if len(skipped) > 10 else ''}",
                          f"{len(skipped)} grids have no population (missing or 0) and were skipped: {ids}"
                          f"{' ...' if len(skipped) > 10 else ''}", "grids_no_people_skipped"))
    d = d[d["_people"] > 0].drop_duplicates("grid_id").reset_index(drop=True)
    if "township" not in d:
        d["township"] = None
    sh, excluded, snotes = usable_shelters(shelters.assign(shelter_id=shelters["shelter_id"].astype(str)))
    notes += snotes
    sh = sh.drop_duplicates("shelter_id").reset_index(drop=True)
    if "township" not in sh:
        sh["township"] = None
    gpos = pd.Series(np.arange(len(d)), index=d["grid_id"])
    spos = pd.Series(np.arange(len(sh)), index=sh["shelter_id"])
    g_people = d["_people"].to_numpy(np.int64)
    capacity = sh["capacity"].to_numpy(np.int64)
    total = int(g_people.sum())

    widen = list(widen) or [None]
    steps = [math.inf if k is None else int(k) for k in widen]
    provider = hasattr(costs, "for_grids")
    prov = cast(CostProvider, costs)  # called only where provider (it has for_grids)
    fixed = not provider and (not callable(costs) or isinstance(costs, (pd.DataFrame, CandidateCosts)))
    reach_level = provider and hasattr(costs, "extend")
    last = len(steps) - 1   # index of the widest level
    ns = len(sh)
    tried: list[int | None | str] = []
    bound = None
    weight, method = (getattr(costs, "weight", "length"), "network") if provider else ("length", "network")
    loaded_k = None
    kg = np.zeros(len(d), dtype=np.int64)  # index into steps, per grid
    loaded = np.full(len(d), -1, dtype=np.int64)  # level each grid's candidates were fetched at (provider)
    was_grown = np.zeros(len(d), dtype=bool)
    parts: list[pd.DataFrame] = []
    gid = d["grid_id"].to_numpy()
    cgi = csi = rank = np.zeros(0, dtype=np.int64)
    ccost = np.zeros(0)
    per_grid = np.zeros(len(d), dtype=np.int64)
    full_fixed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    if reach_level:   # the candidates widen on demand: ask only what can place more (see _place_reaching)
        first_k = next((int(k) for k in steps if not math.isinf(k)), 5)
        gi, si, cost, placed, tried = _place_reaching(prov, gid, sh["shelter_id"].to_numpy().astype(str),
                                                      g_people, capacity, first_k)
        cgi = gi
    else:
        while True:
            kmax = steps[min(int(kg.max(initial=0)), len(steps) - 1)]
            reload = False
            if provider:
                for level in np.unique(kg[kg != loaded]):
                    members = np.flatnonzero((kg == level) & (kg != loaded))
                    kk = None if math.isinf(steps[level]) else steps[level]
                    parts.append(prov.for_grids(kk, gid[members]))
                    loaded[members] = level
                    reload = True
                if reload:
                    t = pd.concat(parts, ignore_index=True)
                    t = t.sort_values("cost", kind="stable").drop_duplicates(["origin_id", "dest_id"])
                    parts = [t]
            elif loaded_k is None or (not fixed and kmax > loaded_k):
                t, cc = _candidates(cast(TableCosts, costs), None if math.isinf(kmax) else int(kmax))
                loaded_k = math.inf if fixed else kmax
                reload = True
                if cc is not None:
                    weight, method = cc.weight, cc.method
                    if bound is None:
                        bound = cc.max_placeable(pd.Series(g_people, index=d["grid_id"]),
                                                 pd.Series(capacity, index=sh["shelter_id"]))
                        notes += [n for n in cc.notes if n not in notes]
            if reload:
                if not provider and cc is not None and "origin" in t and "dest" in t:  # positions: no string matching
                    cgi = gpos.index.get_indexer(pd.Index(cc.origins["origin_id"].astype(str)))[t["origin"].to_numpy()]
                    csi = spos.index.get_indexer(pd.Index(cc.dests["dest_id"].astype(str)))[t["dest"].to_numpy()]
                    ccost = t["cost"].to_numpy(dtype="float64")
                    ok = (cgi >= 0) & (csi >= 0) & np.isfinite(ccost)
                    cgi, csi, ccost = cgi[ok], csi[ok], ccost[ok]
                else:
                    cgi, csi, ccost = _table_arcs(t, gpos, spos)
                o = np.lexsort((ccost, cgi))  # by grid, then cost
                cgi, csi, ccost = cgi[o], csi[o], ccost[o]
                first = np.unique(cgi * np.int64(ns) + csi, return_index=True)[1]  # one arc per pair: the cheapest
                keep = np.zeros(len(cgi), dtype=bool)
                keep[first] = True
                cgi, csi, ccost = cgi[keep], csi[keep], ccost[keep]
                start = np.searchsorted(cgi, np.arange(len(d)))
                rank = np.arange(len(cgi)) - start[cgi]  # 0 = cheapest usable shelter of the grid
                per_grid = np.bincount(cgi, minlength=len(d))
            klim = np.array(steps, dtype="float64")[kg]
            sel = rank < klim[cgi]
            gi, si, cost = cgi[sel], csi[sel], ccost[sel]
            placed, side = _max_flow(g_people, capacity, gi, si)
            widest = int(kg.max(initial=0))
            tried.append(None if math.isinf(steps[widest]) else int(steps[widest]))
            if placed == total or (bound is not None and placed >= bound):
                break
            # only a new candidate of a grid on the source side of the min cut can place more people
            grow = side & (kg < last)
            if fixed:
                grow &= per_grid > klim  # the table holds more candidates for them
            if not grow.any():
                break
            # a grid back on the source side after being widened goes straight to the widest level, and so does
            # every grid once some grid is there (fewer rounds of max flow)
            again = grow & (was_grown | (kg.max() >= last))
            kg[grow] += 1
            kg[again] = last
            was_grown |= grow
        if fixed:   # the full table is the one already read: every (grid, shelter) pair once, at its cheapest
            full_fixed = (cgi, csi, ccost)
            if len(gi) >= FULL_TABLE_SHARE * len(cgi):
                # widened to most of the table (capacity binds widely): one solve of the whole table costs less
                # than a solve of most of it and another after pricing finds the few arcs left out
                gi, si, cost = cgi, csi, ccost
    flows, unplaced_g = _solve(g_people, capacity, gi, si, cost, placed)
    # certificate: no arc of the full candidate table has a negative reduced cost; else add those arcs, solve again
    certified, rounds, added_arcs = False, 0, 0
    listed: list[int] = []   # grids whose arcs each pricing round listed
    full: tuple[np.ndarray, np.ndarray, np.ndarray] | None = full_fixed
    while len(d) and len(sh) and rounds < MAX_PRICING_ROUNDS:
        rounds += 1
        pot = _potentials(g_people, capacity, gi, si, np.rint(cost), flows, unplaced_g)
        if hasattr(costs, "price"):   # the candidates find the grids worth listing without listing every arc
            sdual = pd.Series(pot[len(d):len(d) + ns], index=sh["shelter_id"].to_numpy())
            ask = prov.price(pd.Series(pot[:len(d)], index=d["grid_id"].to_numpy()), sdual)
            full = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
            if len(ask):   # each flagged grid's most negative reduced costs (column generation)
                full = _table_arcs(prov.for_grids(PRICE_K, np.asarray(ask), bias=sdual.max() - sdual), gpos, spos)
            listed.append(len(ask))
        elif full is None:
            full = _full_table(costs, gpos, spos, d["grid_id"].to_numpy())
            listed.append(len(d))
        fg, fs, fc = full
        reduced = np.rint(fc) + pot[fg] - pot[len(d) + fs]
        # every arc in the problem has a reduced cost >= 0 (uncapacitated grid arcs): a negative one is missing,
        # or its pair is in the problem at a higher cost (it was listed before a walk made it cheaper)
        neg = reduced < -1e-9
        if not neg.any():
            certified = True
            break
        gi, si, cost, changed = _merge_arcs(gi, si, cost, fg[neg], fs[neg], fc[neg], ns)
        if not changed:   # cannot happen with exact duals; then no certificate is claimed
            break
        added_arcs += changed
        # arcs only added or made cheaper: a flow of value ``placed`` (already the maximum over the full table)
        # still exists, so no new max flow is needed
        flows, unplaced_g = _solve(g_people, capacity, gi, si, cost, placed)
    m = flows > 0
    a = pd.DataFrame({"grid_id": d["grid_id"].to_numpy()[gi[m]], "shelter_id": sh["shelter_id"].to_numpy()[si[m]],
                      "people": flows[m].astype(np.int64), "cost": cost[m], "_gi": gi[m]})
    # vulnerable: shared over shelters and the unplaced remainder
    un = np.flatnonzero(unplaced_g > 0)
    rows = pd.concat([a[["_gi", "people"]].assign(_u=False),
                      pd.DataFrame({"_gi": un, "people": unplaced_g[un], "_u": True})], ignore_index=True)
    vshare = share_integer(d["_vul"].to_numpy()[rows["_gi"].to_numpy()], rows["people"].to_numpy(),
                           rows["_gi"].to_numpy())
    a["vulnerable"] = vshare[: len(a)]
    v_un = np.zeros(len(d), dtype=np.int64)
    v_un[un] = vshare[len(a):]
    # households go with the people the same way: placed + unplaced rows add up to the grid's households
    hshare = share_integer(d["_hh"].to_numpy()[rows["_gi"].to_numpy()], rows["people"].to_numpy(),
                           rows["_gi"].to_numpy())
    a["households"] = hshare[: len(a)]
    h_un = np.zeros(len(d), dtype=np.int64)
    h_un[un] = hshare[len(a):]
    nsh = a.groupby("grid_id")["shelter_id"].transform("size")
    a["split"] = nsh.to_numpy() > 1
    a = a.sort_values(["grid_id", "people"], ascending=[True, False]).reset_index(drop=True)
    split = (a[a["split"]].groupby("grid_id").agg(shelters=("shelter_id", "size"), people=("people", "sum"))
             .reset_index())
    load = a.groupby("shelter_id").agg(load=("people", "sum"), vulnerable_load=("vulnerable", "sum"),
                                       grids=("grid_id", "size"))
    shel = sh[["shelter_id", "township", "capacity"]].set_index("shelter_id").join(load).fillna(0)
    for c in ("load", "vulnerable_load", "grids"):
        shel[c] = shel[c].astype(np.int64)
    shel["spare"] = shel["capacity"] - shel["load"]
    shel = shel.reset_index()[["shelter_id", "township", "capacity", "load", "vulnerable_load", "spare", "grids"]]
    reachable = np.zeros(len(d), dtype=bool)
    reachable[np.unique(cgi)] = True
    ug = pd.DataFrame({"grid_id": d["grid_id"].to_numpy()[un], "township": d["township"].to_numpy()[un],
                       "people_unplaced": unplaced_g[un].astype(np.int64), "vulnerable_unplaced": v_un[un],
                       "households_unplaced": h_un[un],
                       "reason": np.where(reachable[un], "capacity", "no_shelter_reachable")})
    tw = d["township"].fillna("—")
    per_t = pd.DataFrame({"people_to_evacuate": d.groupby(tw)["_people"].sum()})
    per_t["capacity"] = sh.groupby(sh["township"].fillna("—"))["capacity"].sum()
    per_t["people_unplaced"] = pd.Series(unplaced_g, index=d.index).groupby(tw).sum()
    per_t["vulnerable_unplaced"] = pd.Series(v_un, index=d.index).groupby(tw).sum()
    per_t["households_unplaced"] = pd.Series(h_un, index=d.index).groupby(tw).sum()
    per_t["grids"] = ug.groupby(ug["township"].fillna("—")).size()
    per_t = per_t.fillna(0).astype(np.int64)
    per_t["capacity_missing"] = per_t["people_unplaced"]
    per_t = per_t[per_t["people_unplaced"] > 0].rename_axis("township").reset_index()
    per_t = per_t[["township", "people_to_evacuate", "capacity", "people_unplaced", "households_unplaced",
                   "vulnerable_unplaced", "capacity_missing", "grids"]]
    pd_cost = float((a["people"] * a["cost"]).sum())
    summary = {
        "people_to_evacuate": total, "people_placed": placed, "people_unplaced": total - placed,
        "vulnerable_to_evacuate": int(d["_vul"].sum()), "vulnerable_unplaced": int(v_un.sum()),
        "households_to_evacuate": int(d["_hh"].sum()), "households_placed": int(d["_hh"].sum() - h_un.sum()),
        "households_unplaced": int(h_un.sum()),
        "shelters_used": int((shel["load"] > 0).sum()),
        "person_km": pd_cost / 1000.0 if weight == "length" else None,
        "person_hours": pd_cost / 3600.0 if weight == "time" else None,
        "grids": int(len(d)), "grids_split": int(len(split)), "k": tried[-1] if tried else None,
        "k_tried": tried, "weight": weight, "method": method,
        "max_placeable": None if bound is None else int(bound),
        "arcs": int(len(gi)), "optimal": certified, "pricing_rounds": rounds, "arcs_added_by_pricing": added_arcs,
        "grids_listed_by_pricing": listed,
    }
    if total - placed > 0:
        notes.append(Text(f"有 {total - placed:,} 人无法安置（可用安置场所容量不足或无法到达），见各乡镇缺口",
                          f"{total - placed:,} people cannot be placed (not enough usable shelter capacity within "
                          "reach); see the shortfall per township", "people_unplaced"))
    if len(split):
        notes.append(Text(f"{len(split)} 个网格需分到多个安置场所（容量限制下的最优方案）",
                          f"{len(split)} grids are split across shelters (needed by the optimum under capacity)",
                          "grids_split"))
    return AssignmentResult(assignments=a[["grid_id", "shelter_id", "people", "households", "vulnerable", "cost",
                                           "split"]],
                            shelters=shel, split_grids=split, unplaced=per_t, unplaced_grids=ug,
                            excluded_shelters=excluded, skipped_grids=skipped, summary=summary, notes=notes,
                            problem={"gi": gi, "si": si, "cost": np.rint(cost).astype(np.int64),
                                     "people": g_people, "capacity": capacity, "placed": placed})
