"""Time the evacuation bench's own network costs and assignment alone (no peers), twice, on a workspace folder.

``python -m bench.evacuation_assign_probe bench/cache/prefecture``: prints network seconds, then per run the
assignment's wall and CPU seconds with its summary and the load average. A quick probe between full ``evacuation`` runs.

``--solvers``: also time, on the very problem the assignment's min-cost flow solves (its arcs, people, capacities
and the maximum it places), the ways of posing it to OR-Tools' min-cost flow: the assignment's own (source ->
grids -> shelters -> sink, flow fixed to the maximum), the reverse direction (source -> shelters -> grids -> sink),
``solve_max_flow_with_min_cost`` with supplies on the grids and demands on the shelters (no max flow first), the
costs coarsened 10x/100x (not exact: how much the cost range matters), and column generation from each grid's 5
cheapest arcs plus a max flow's arcs, re-solved with the arcs the duals price out until none is left. Each line
gives the wall seconds and the objective (person-metres), so a faster way is also checked for the same optimum.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def solvers(g, c, gi, si, cost, placed: int) -> None:
    """Time the formulations of the min-cost flow the assignment solves (see the module notes) and print them."""
    import numpy as np
    from ortools.graph.python import max_flow, min_cost_flow

    from gis.flood.assign import _arcs, _merge_arcs, _potentials, _solve

    ng, ns = len(g), len(c)
    icost = np.rint(cost).astype(np.int64)

    def timed(label, fn):
        t0 = time.perf_counter()
        obj = fn()
        print(f"  {label:<62} {time.perf_counter() - t0:6.2f} s  objective {obj:,}", flush=True)

    def own():
        f, _ = _solve(g, c, gi, si, cost, placed)
        return int((f * icost).sum())

    def reverse():
        m = min_cost_flow.SimpleMinCostFlow()
        src, sink = ng + ns, ng + ns + 1
        tails = np.concatenate([np.full(ns, src), ng + si, np.arange(ng)]).astype(np.int32)
        heads = np.concatenate([ng + np.arange(ns), gi, np.full(ng, sink)]).astype(np.int32)
        arcs = m.add_arcs_with_capacity_and_unit_cost(tails, heads, np.concatenate([c, g[gi], g]).astype(np.int64),
                                                      np.concatenate([np.zeros(ns, np.int64), icost,
                                                                      np.zeros(ng, np.int64)]))
        sup = np.zeros(ng + ns + 2, np.int64)
        sup[src], sup[sink] = placed, -placed
        m.set_nodes_supplies(np.arange(ng + ns + 2, dtype=np.int32), sup)
        assert m.solve() == m.OPTIMAL
        return int((np.asarray(m.flows(arcs))[ns:ns + len(gi)] * icost).sum())

    def max_flow_min_cost():
        m = min_cost_flow.SimpleMinCostFlow()
        arcs = m.add_arcs_with_capacity_and_unit_cost(gi.astype(np.int32), (ng + si).astype(np.int32),
                                                      g[gi].astype(np.int64), icost)
        m.set_nodes_supplies(np.arange(ng + ns, dtype=np.int32), np.concatenate([g, -c]).astype(np.int64))
        assert m.solve_max_flow_with_min_cost() == m.OPTIMAL and m.maximum_flow() == placed
        return int((np.asarray(m.flows(arcs)) * icost).sum())

    def coarse(k):
        def run():
            f, _ = _solve(g, c, gi, si, np.rint(cost / k), placed)
            return int((f * icost).sum())
        return run

    def column_generation():
        start = np.searchsorted(gi, np.arange(ng))
        rank = np.arange(len(gi)) - start[gi]
        mf = max_flow.SimpleMaxFlow()
        src, sink, tails, heads, caps = _arcs(ng, ns, g, c, gi, si)   # the assignment's own network
        arcs = mf.add_arcs_with_capacity(tails, heads, caps)
        mf.solve(src, sink)
        used = np.asarray(mf.flows(arcs))[ng:ng + len(gi)] > 0
        keep = (rank < 5) | used
        a_gi, a_si, a_c = gi[keep], si[keep], cost[keep]
        rounds = 0
        while True:
            rounds += 1
            f, u = _solve(g, c, a_gi, a_si, a_c, placed)
            pot = _potentials(g, c, a_gi, a_si, np.rint(a_c), f, u)
            neg = icost + pot[gi] - pot[ng + si] < -1e-9
            if not neg.any():
                print(f"    (column generation: {rounds} solves, {len(a_gi):,} arcs at the end)")
                return int((f * np.rint(a_c)).sum())
            a_gi, a_si, a_c, _ = _merge_arcs(a_gi, a_si, a_c, gi[neg], si[neg], cost[neg], ns)

    print(f"solvers on the assignment's own problem: {ng:,} grids, {ns:,} shelters, {len(gi):,} arcs, "
          f"{placed:,} placed", flush=True)
    timed("ours: source -> grids -> shelters -> sink, flow = maximum", own)
    timed("reverse: source -> shelters -> grids -> sink", reverse)
    timed("solve_max_flow_with_min_cost, supplies on grids and shelters", max_flow_min_cost)
    timed("costs / 10 (not exact; objective in metres)", coarse(10))
    timed("costs / 100 (not exact; objective in metres)", coarse(100))
    timed("column generation from K=5 + a max flow's arcs, priced by duals", column_generation)


def main(folder: str, *, with_solvers: bool = False) -> None:
    """Run the probe on ``folder`` (holding ``workspace.gpkg``)."""
    import pyogrio

    from bench.cases.evacuation import K, _network
    from gis.flood.assign import assign
    from gis.tallies import leaf_grids

    gpkg = Path(folder) / "workspace.gpkg"
    roads, grids, shelters = (pyogrio.read_dataframe(gpkg, layer=n, use_arrow=True)
                              for n in ("roads", "grids", "shelters"))
    c0, t0 = time.process_time(), time.perf_counter()
    _, costs, *_ = _network(roads, grids, shelters, K)
    print(f"network {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU", flush=True)
    demand = leaf_grids(grids)[["grid_id", "township", "population", "vulnerable"]]
    import gis.flood.assign as assign_module

    problem: dict = {}
    solve = assign_module._solve

    def keep(g, c, gi, si, cost, placed):   # the last min-cost flow the assignment solves
        problem.update(g=g, c=c, gi=gi, si=si, cost=cost, placed=placed)
        return solve(g, c, gi, si, cost, placed)

    assign_module._solve = keep
    for _ in range(2):
        c0, t0 = time.process_time(), time.perf_counter()
        s = assign(demand, shelters, costs).summary
        print(f"assign {time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU",
              {k: s.get(k) for k in ("people_placed", "person_km", "optimal", "k_tried", "pricing_rounds", "arcs")},
              "load", os.getloadavg(), flush=True)


    assign_module._solve = solve
    if with_solvers:
        solvers(**problem)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else "bench/cache/prefecture", with_solvers="--solvers" in sys.argv)
