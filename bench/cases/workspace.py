"""Workspace: open every layer, save one edit to one grid (atomic, with history), against rewriting the layer.

On a copy of the cached workspace GeoPackage (the cache is never modified):

- open: ``Workspace.vector(kind)`` for every vector layer, in a fresh Python process (cold file
  cache aside: the copy was just written), timed inside it; plus ``Workspace.read('grids')`` (with
  ``fid`` and ``_rev``, what the editor reads) in this process;
- save: ``Workspace.apply(ChangeSet('grids', updated=[Update(fid, rev, {'phone', 'responsible'})]))``
  — validation of the row, the ``_rev`` check, the UPDATE through sqlite3 (R-tree triggers,
  ``gpkg_contents``), the history rows, one transaction. The first save also adds the ``_rev``
  column and the history tables (reported apart); then best of ``max(3, repeats)`` saves of
  different grids, and one undo;
- peer (naive): ``geopandas.read_file(layer='grids')``, change the same two fields of one grid,
  ``GeoDataFrame.to_file(layer='grids')`` (GDAL rewrites the whole layer; no history, no conflict
  check, not one transaction with anything else).

Bars (prefecture scale): a save under 1 s; opening under 10 s.
"""

from __future__ import annotations

import shutil
import sqlite3
import time

from bench.harness import Context, Report, Table, bar, fmt

SAVE_BAR_S = 1.0
OPEN_BAR_S = 10.0


def _open_all(gpkg: str) -> dict:
    """Read every vector layer of a workspace (run in a fresh process)."""
    from layers.workspace import Workspace

    t0 = time.perf_counter()
    ws = Workspace(gpkg)
    counts = {k: len(ws.vector(k)) for k in ws.vector_kinds()}
    return {"seconds": time.perf_counter() - t0, "counts": counts}


def _isolated_setup() -> None:
    import geopandas  # noqa: F401
    import pyogrio  # noqa: F401

    import layers.workspace  # noqa: F401


def run(ctx: Context) -> Report:
    """Time opening, one saved edit and its undo on a copy, and the naive rewrite on another copy."""
    import geopandas as gpd

    from layers.edits import ChangeSet, Update
    from layers.workspace import Workspace

    ours_path = ctx.tmp / "ours" / "workspace.gpkg"
    peer_path = ctx.tmp / "peer" / "workspace.gpkg"
    for p in (ours_path, peer_path):
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ctx.gpkg, p)

    ctx.log("  workspace: open (fresh process)")
    opened = ctx.isolated("bench.cases.workspace:_open_all", gpkg=str(ours_path))
    open_s = float(opened["seconds"])
    counts = opened["counts"]
    ws = Workspace(ours_path)
    t_read = ctx.timed(lambda: ws.read("grids"))
    grids = t_read.result
    n = len(grids)

    ctx.log("  workspace: saves")
    saves = max(3, ctx.repeats)
    picks = [int(i) for i in range(0, n, max(1, n // (saves + 1)))][: saves + 1]

    def save(i: int, tag: str) -> float:
        row = grids.iloc[i]
        ch = ChangeSet("grids", updated=[Update(int(row["fid"]), int(row["_rev"]),
                                                {"phone": f"1390000{i:04d}"[-11:], "responsible": f"责任人{tag}"})])
        t0 = time.perf_counter()
        ws.apply(ch, note=f"bench {tag}", user="bench")
        return time.perf_counter() - t0

    first_s = save(picks[0], "first")
    times = [save(i, str(k)) for k, i in enumerate(picks[1:])]
    save_s = min(times)
    t0 = time.perf_counter()
    ws.undo(user="bench")
    undo_s = time.perf_counter() - t0
    check = ws.read("grids").set_index("fid")
    last = grids.iloc[picks[-1]]
    undone_ok = check.loc[int(last["fid"]), "phone"] == last["phone"]
    con = sqlite3.connect(str(ours_path))
    rtree_n = con.execute("SELECT count(*) FROM rtree_grids_geom").fetchone()[0]
    hist_n = con.execute("SELECT count(*) FROM gis_history").fetchone()[0]
    con.close()

    ctx.log("  workspace: naive peer (read_file / to_file)")

    def naive() -> None:
        g = gpd.read_file(peer_path, layer="grids")
        g.loc[picks[0], "phone"] = "13900000000"
        g.loc[picks[0], "responsible"] = "责任人"
        g.to_file(peer_path, layer="grids", driver="GPKG")

    t_peer = ctx.timed(naive)
    peer_s = t_peer.best

    rows = [
        ["open: every vector layer (fresh process)", fmt(open_s), ", ".join(f"{k} {v:,}" for k, v in counts.items())],
        ["read grids for editing (fid, _rev)", fmt(t_read.best), f"{n:,} grids"],
        ["first save (adds _rev column + history tables)", fmt(first_s), "1 grid, 2 fields"],
        [f"save one grid edit (best of {len(times)})", fmt(save_s),
         "median " + fmt(sorted(times)[len(times) // 2])],
        ["undo of the last save", fmt(undo_s), "restored" if undone_ok else "NOT restored"],
        ["peer: read_file + to_file of the grids layer", fmt(peer_s), "whole layer rewritten"],
    ]
    return Report(
        tables=[Table(title=f"Workspace open and edit ({ctx.scale})", columns=["step", "seconds", "detail"],
                      rows=rows)],
        bars=[bar("save one edit (s)", save_s, SAVE_BAR_S, "s", judged=ctx.at_prefecture),
              bar("open the workspace (s)", open_s, OPEN_BAR_S, "s", judged=ctx.at_prefecture)],
        notes=[f"after the saves: R-tree rows {rtree_n:,} (features {n:,}), history entries {hist_n}",
               f"save speed-up over the naive rewrite: {peer_s / save_s:,.0f}x" if save_s > 0 else "",
               "open is timed inside a fresh process (imports excluded); saves in this process."],
        figures={"open_s": open_s, "read_grids_s": t_read.best, "first_save_s": first_s, "save_s": save_s,
                 "save_times": times, "undo_s": undo_s, "peer_rewrite_s": peer_s, "grids": n,
                 "rtree_rows": rtree_n, "undo_restored": bool(undone_ok)},
    )
