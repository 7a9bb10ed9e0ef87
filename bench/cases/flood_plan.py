"""The whole flood plan on the terrain (walking legs included), phase by phase, against scikit-image's MCP.

On the workspace (grids, shelters, roads, rivers, buildings, dem.tif) a HAND scenario at ``STAGE_M`` metres is
planned exactly as the Flood page and ``python -m gis plan --stage`` plan it
(:class:`gis.flood.scenario.FloodScenario` over :class:`gis.flood.scenario.FloodInputs`); the plan's own clock
(``summary["seconds"]``) splits the time into exposure, road graph and shelter status, walking surface, candidate
routes (walking searches to roads and shelters), exact assignment (with pricing) and route lines, and counts the
seconds spent inside walking searches.

- ours, walking search: the plan's walking surface (Tobler over the 30 m terrain, coarsened to at most
  :data:`gis.flood.walking.MAX_WALK_CELLS` cells; streams and deep water as barriers), one multi-source search
  from every road cell (``WalkSurface.search``: scipy.sparse.csgraph Dijkstra on the compiled CSR graph);
- peer, walking search: ``skimage.graph.MCP_Geometric`` (the library the issue names for least-cost paths) on the
  same grid with the same sources, each cell's cost the walking time across it (isotropic: MCP takes one cost per
  cell, so slopes count without their direction), barriers as infinite cost; timed from the cost raster on.

Bars (prefecture scale): routing + assignment (everything after exposure) under 60 s.
"""

from __future__ import annotations

import time

import numpy as np

from bench.harness import Context, Report, Table, bar

STAGE_M = 3.0
ROUTING_BAR_S = 60.0


def _peer_costs(surface) -> np.ndarray:
    """Seconds to cross each cell for MCP: the cheapest step out of the cell, per metre, times the cell size."""
    rows, cols = surface.shape
    g = surface.forward.tocsr()
    n = rows * cols
    per_m = np.full(n, np.inf)
    starts = np.repeat(np.arange(n), np.diff(g.indptr))
    dx, dy = surface.cell_xy
    r0, c0 = np.divmod(starts, cols)
    r1, c1 = np.divmod(g.indices, cols)
    step = np.hypot((c1 - c0) * dx, (r1 - r0) * dy)
    np.minimum.at(per_m, starts, g.data / step)
    cost = per_m * (dx + dy) / 2
    cost[~surface.open] = np.inf
    return cost.reshape(rows, cols)


def run(ctx: Context) -> Report:
    """Plan a HAND scenario on the workspace, time its phases, and time one walking search against MCP."""
    from skimage.graph import MCP_Geometric

    from gis.flood.scenario import FloodInputs, FloodScenario
    from layers.workspace import Workspace

    ws = Workspace(ctx.workspace)
    inputs = FloodInputs.from_workspace(ws)
    sc = FloodScenario(stage_m=STAGE_M)
    ctx.log(f"  flood_plan: hazard (HAND, stage {STAGE_M:g} m)")
    t0 = time.perf_counter()
    hazard = sc.hazard(inputs)
    t_hazard = time.perf_counter() - t0
    ctx.log(f"  flood_plan: hazard {t_hazard:.1f} s; planning")
    c0 = time.process_time()
    plan = sc.run(inputs, hazard=hazard)
    cpu_plan = time.process_time() - c0
    s = plan.summary
    sec = dict(s["seconds"])
    routing = sec["total"] - sec.get("exposure", 0.0)
    ctx.log(f"  flood_plan: plan {sec['total']:.1f} s (routing + assignment {routing:.1f} s)")

    # ---- one walking search, ours against MCP -----------------------------------------------------------
    surface = plan.candidates.surface if plan.candidates is not None else None
    rows_walk: list[list] = []
    if surface is not None:
        path = surface.layers[4].ravel() if len(surface.layers) > 4 else np.zeros(surface.open.size, bool)
        src = np.flatnonzero(path.astype(bool) & surface.open)
        if not len(src):
            src = np.flatnonzero(surface.open)[:: max(1, int(surface.open.sum()) // 1000)]
        t0 = time.perf_counter()
        reach = surface.search(src, towards=True)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        cost = _peer_costs(surface)
        t_cost = time.perf_counter() - t0
        starts = np.column_stack(np.divmod(src, surface.shape[1]))
        t0 = time.perf_counter()
        mcp = MCP_Geometric(cost, fully_connected=True)
        cum, _ = mcp.find_costs(starts.tolist(), max_cumulative_cost=surface.search_s)
        t_mcp = time.perf_counter() - t0
        ours_t = reach.time
        both = np.isfinite(cum.ravel()) & np.isfinite(ours_t)
        rows_walk = [
            ["walking grid (cells, of which open) / cell (m)",
             f"{surface.open.size:,} ({int(surface.open.sum()):,}) / {surface.cell_xy[0]:.0f}", None, ""],
            [f"one search to the nearest of {len(src):,} road cells (s)", t_ours, t_mcp,
             ("ours csgraph Dijkstra on the anisotropic Tobler graph; peer MCP_Geometric.find_costs on a "
              f"per-cell cost raster (making that raster: {t_cost:.1f} s, not counted)")],
            ["cells reached within the search limit", int(np.isfinite(ours_t).sum()),
             int(np.isfinite(cum).sum()), "peer isotropic: uphill and downhill cost the same"],
            ["median time to a road where both reach (min)",
             float(np.median(ours_t[both]) / 60) if both.any() else None,
             float(np.median(cum.ravel()[both]) / 60) if both.any() else None, ""],
        ]

    rows = [
        [f"hazard: HAND at {STAGE_M:g} m (terrain frame, pyflwdir) (s)", t_hazard, "not part of the plan's clock"],
        *[[f"plan phase: {k} (s)", v, ""] for k, v in sec.items() if k not in ("total", "walking_searches")],
        ["· of which inside walking searches (s)", sec.get("walking_searches", 0.0),
         "windows + Dijkstra, counted by the walking surface"],
        ["**routing + assignment** (everything after exposure) (s)", routing, ""],
        ["**plan total** (s)", sec["total"], f"CPU time of this process during the plan: {cpu_plan:.1f} s"],
    ]
    t1 = Table(title="flood_plan: the plan on the terrain, phase by phase", columns=["measure", "seconds", "note"],
               rows=rows)
    figures = Table(title="flood_plan: what the plan says", columns=["figure", "value"], rows=[
        ["grids to evacuate / people to evacuate", f"{s['grids_to_evacuate']:,} / {s['people_to_evacuate']:,}"],
        ["people placed / unplaced / no reachable shelter",
         f"{s['people_placed']:,} / {s['people_unplaced']:,} / {s['people_no_reachable_shelter']:,}"],
        ["people by route mode", ", ".join(f"{k} {v:,}" for k, v in s["people_by_route_mode"].items())],
        ["households to evacuate / placed", f"{s['households_to_evacuate']:,} / {s['households_placed']:,}"],
        ["person-km / longest walk (km)", f"{s['person_km']:,.0f} / {s['longest_walk_km']}"],
        ["optimal (pricing certificate) / pricing rounds / arcs added by pricing / grids listed per round",
         f"{s.get('optimal')} / {s.get('pricing_rounds')} / {s.get('arcs_added_by_pricing')} / "
         f"{s.get('grids_listed_by_pricing')}"],
        ["analysis CRS", s["metric_crs"]],
    ])
    tables = [t1, figures]
    if rows_walk:
        tables.append(Table(title="flood_plan: one walking search, ours vs scikit-image MCP_Geometric",
                            columns=["measure", "ours", "peer", "note"], rows=rows_walk))
    bars = [bar("ours: routing + assignment on the terrain (after exposure)", routing, ROUTING_BAR_S, "s",
                judged=ctx.at_prefecture)]
    notes = [(f"Scenario: HAND stage {STAGE_M:g} m, default options (homes rule, walking limit "
              f"{s['walk_limit_km']:g} km, flooded roads cut).")]
    return Report(tables=tables, bars=bars, notes=notes,
                  figures={"seconds": sec, "cpu_plan_s": cpu_plan, "hazard_s": t_hazard, "routing_s": routing,
                           "walk": [r[:3] for r in rows_walk]})
