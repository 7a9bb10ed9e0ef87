"""Operations during a flood: warning + call-out list, report-backs per second from concurrent writers, the page map,
dispatch.

On a copy of the cached workspace (the cache is never written):

- **warn**: :meth:`gis.ops.session.Operations.warn` over every grid (``--all``): leaf grids, the call-out chain
  from the five-level hierarchy (people per contact counted once, escalation), shelters, and the warning written
  in one transaction with its grids, contacts and shelters; layers read beforehand (as the page has them; the
  read is timed apart). On the GeoPackage and, when a server answers, on PostGIS (layers loaded into a fresh
  schema first, not timed).
- **report-backs per second**: ``WRITERS`` processes, started together once every one has read the warning,
  each appending report-backs (:meth:`layers.events.OpsLog.report`: one transaction, checked against the
  grid's people) for ``WRITE_SECONDS`` seconds; the rate is all reports committed over the wall time from the
  common start to the last writer's end. Then the same with ``WRITERS`` threads of one process (as the
  sessions of one app server, which share commits: :mod:`layers.commits`). GeoPackage and PostGIS; the
  writers' CPU time and the load beside each.
- **page map**: the Operations page's map of that warning (after report-backs and check-ins), as
  ``ui/page_operations.py`` builds it: the whole-area view (:func:`ui.ops_map.ops_groups`, grids as status dots
  above the detail budget) over the overview of rivers and roads (:func:`ui.map_view.plan_map`) and the
  hillshade; against plain folium (``folium.GeoJson`` of every leaf grid's outline with every field in the
  popup, and the shelters). Bytes sent JSON-escaped; first render in Chromium (``bench.browser``).
- **dispatch**: :func:`gis.ops.dispatch.dispatch_plan` for every usable shelter with people checked in (a
  synthetic occupancy of 60 % of capacity) from the depots, along the road network: graph built inside the
  timing, and with the graph built beforehand (as the page can keep it); against scipy's HiGHS ``linprog`` on the
  same transport problems (the same distances), whose optimum it must equal.
- **the dispatch command end to end**: ``python -m gis dispatch --workspace WS --warning ID --out DIR --json
  --no-record`` in a fresh process after check-ins at every usable shelter (60 % of capacity): imports, layers,
  progress, the dispatch and its files (``dispatch.xlsx``, ``dispatch.gpkg``), wall time from the start of the
  process to its end. Cold: the road graph not kept yet (built and stored in the workspace's cache folder);
  warm: read from there (best of the repeats). ``--no-record`` keeps the runs alike (a recorded dispatch is
  deducted from the next one's needs).

A cached workspace without a reserve-depot layer (made before depots were generated) gets 11 depots in its copy, at
shelters spread over the area (farthest first), stocked per head of the people of the grids as the data generator
stocks them.

``GIS_BENCH_OPS_ONLY`` runs one part: ``reports`` (warn and the report-backs), ``map`` (warn, a few check-ins and
the page map), ``dispatch`` (dispatch_plan and the command) or ``cli`` (the command only); unset: all of them.

Bars (prefecture scale): warn + call-out list under 5 s; at least 100 report-backs per second on the GeoPackage
and on PostGIS; the page map under 15 MB sent and first render under 5 s; dispatch for 1,500 shelters from 11
depots under 5 s, both ``dispatch_plan`` and the whole command (warm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.harness import MB, ROOT, Context, Report, Table, bar

WRITERS = 8
#: one part only (see the module docstring): "reports", "map", "dispatch", "cli"; empty for all
ONLY = os.environ.get("GIS_BENCH_OPS_ONLY", "").strip().lower()
WRITE_SECONDS = 20.0
TEST_DSN = "postgresql://gis:gis@127.0.0.1:5432/gis"


def _isolated_setup() -> None:
    import geopandas  # noqa: F401
    import ortools.graph.python.min_cost_flow  # noqa: F401

    import gis.ops.session  # noqa: F401


# ---- writers -------------------------------------------------------------------------------------------------------
def writer(store_arg: str, schema: str, warning_id: str, index: int, writers: int, start_file: str, seconds: float,
           out_file: str) -> None:
    """One officer appending report-backs for ``seconds`` from when ``start_file`` appears; counts go to
    ``out_file``."""
    from layers.events import OpsLog

    if store_arg.startswith("postgresql://"):
        from layers.postgis import PostGISStore

        store = PostGISStore(store_arg, schema=schema)
    else:
        from layers.workspace import Workspace

        store = Workspace(store_arg)
    log = OpsLog(store)
    snap = log.snapshot(warning_id)
    mine = snap.grids.iloc[index::writers]
    grids, people = mine["grid_id"].tolist(), mine["people"].tolist()
    Path(out_file + ".ready").write_text("ready")
    while not os.path.exists(start_file):
        time.sleep(0.002)
    t0, c0 = time.time(), time.process_time()
    done = errors = 0
    k = 0
    while time.time() - t0 < seconds:
        i = k % len(grids)
        try:
            log.report(warning_id, grids[i], moved=min(int(people[i]), 1 + k // len(grids)), user=f"bench{index}")
            done += 1
        except Exception:  # noqa: BLE001 - counted and reported
            errors += 1
        k += 1
    Path(out_file).write_text(json.dumps({"done": done, "errors": errors, "start": t0, "end": time.time(),
                                          "cpu": time.process_time() - c0}))


def _rate(store_arg: str, schema: str, warning_id: str, tmp: Path, log) -> dict:
    start = tmp / f"go_{uuid.uuid4().hex}"
    outs = [tmp / f"w{i}_{uuid.uuid4().hex[:6]}.json" for i in range(WRITERS)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "import sys; from bench.cases.operations import writer; a = sys.argv[1:]; " \
           "writer(a[0], a[1], a[2], int(a[3]), int(a[4]), a[5], float(a[6]), a[7])"
    procs = [subprocess.Popen([sys.executable, "-c", code, store_arg, schema, warning_id, str(i), str(WRITERS),
                               str(start), str(WRITE_SECONDS), str(outs[i])], cwd=ROOT, env=env,
                              stderr=subprocess.PIPE, text=True) for i in range(WRITERS)]
    # every writer has imported and read the warning before the start (on a loaded machine that takes longer than
    # any fixed wait: a late writer would stretch the wall time with Python's start-up, not with writing)
    ready = [Path(str(o) + ".ready") for o in outs]
    deadline = time.monotonic() + 600
    while not all(r.exists() for r in ready):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    start.write_text("go")
    for p in procs:
        _, err = p.communicate(timeout=600)
        if p.returncode:
            raise RuntimeError(f"a writer failed: {err[-2000:]}")
    res = [json.loads(o.read_text()) for o in outs]
    t0 = min(r["start"] for r in res)
    t1 = max(r["end"] for r in res)
    done = sum(r["done"] for r in res)
    errors = sum(r["errors"] for r in res)
    cpu = sum(r["cpu"] for r in res)                  # the writing loops' CPU (user + system), start-up left out
    log(f"  operations: {done} report-backs in {t1 - t0:.1f} s ({errors} errors)")
    return {"reports": done, "errors": errors, "seconds": t1 - t0, "per_s": done / (t1 - t0),
            "fewest": min(r["done"] for r in res), "most": max(r["done"] for r in res), "cpu_s": cpu,
            "load": os.getloadavg()}


def thread_writers(store_arg: str, schema: str, warning_id: str, writers: int, seconds: float) -> dict:
    """``writers`` officers as threads of one process (as the sessions of one app server), each with its own record
    keeper and connection, appending report-backs for ``seconds`` from a common start."""
    import threading

    from layers.events import OpsLog

    def store():
        if store_arg.startswith("postgresql://"):
            from layers.postgis import PostGISStore

            return PostGISStore(store_arg, schema=schema)
        from layers.workspace import Workspace

        return Workspace(store_arg)

    logs = [OpsLog(store()) for _ in range(writers)]
    mine = []
    for i, log in enumerate(logs):
        g = log.snapshot(warning_id).grids.iloc[i::writers]
        mine.append((g["grid_id"].tolist(), g["people"].tolist()))
    done, errors = [0] * writers, [0] * writers
    go = threading.Event()

    def officer(i: int) -> None:
        grids, people = mine[i]
        go.wait()
        t0, k = time.time(), 0
        while time.time() - t0 < seconds:
            j = k % len(grids)
            try:
                logs[i].report(warning_id, grids[j], moved=min(int(people[j]), 1 + k // len(grids)), user=f"t{i}")
                done[i] += 1
            except Exception:  # noqa: BLE001 - counted and reported
                errors[i] += 1
            k += 1

    ts = [threading.Thread(target=officer, args=(i,)) for i in range(writers)]
    for t in ts:
        t.start()
    c0, t0 = time.process_time(), time.perf_counter()
    go.set()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return {"reports": sum(done), "errors": sum(errors), "seconds": wall, "per_s": sum(done) / wall,
            "fewest": min(done), "most": max(done), "cpu_s": time.process_time() - c0, "load": os.getloadavg()}


def _threads(ctx: Context, store_arg: str, schema: str, warning_id: str) -> dict:
    res = ctx.isolated("bench.cases.operations:thread_writers", store_arg=store_arg, schema=schema,
                       warning_id=warning_id, writers=WRITERS, seconds=WRITE_SECONDS)
    ctx.log(f"  operations: {res['reports']} report-backs from {WRITERS} threads in {res['seconds']:.1f} s")
    return res


# ---- the page map ----------------------------------------------------------------------------------------------------
def build_map(workspace: str, warning_id: str, out_ours: str, out_peer: str) -> dict:
    """Build the Operations page map of ``warning_id`` (ours) and plain folium (peer); sizes and timings."""
    import folium

    from gis.ops.session import Operations
    from gis.tallies import leaf_grids
    from layers.workspace import Workspace
    from ui.assets import inline_html, localize
    from ui.map_view import build_map as build
    from ui.map_view import plan_map
    from ui.ops_map import ops_groups
    from ui.overlay import hillshade_overlay

    ws = Workspace(workspace)
    t0 = time.perf_counter()
    layers = {k: ws.vector(k) for k in ("grids", "shelters", "roads", "rivers", "depots") if k in ws.vector_kinds()}
    hs = hillshade_overlay(ws.raster("dem"))
    t1 = time.perf_counter()
    ops = Operations(ws, layers=layers)
    prog = ops.progress(warning_id)
    t2 = time.perf_counter()
    mp = plan_map({k: layers[k] for k in ("rivers", "roads") if k in layers})
    groups = ops_groups(prog, "zh", outlines=layers["grids"], depots=layers.get("depots"))
    m = build(mp.layers, hillshade=hs, images=mp.images, simplify_m=mp.simplify_m, extra=groups)
    html = m.get_root().render()
    t3 = time.perf_counter()
    Path(out_ours).write_text(inline_html(m), encoding="utf-8")

    p = folium.Map(prefer_canvas=False)
    folium.raster_layers.ImageOverlay(hs.data_url(), bounds=hs.bounds).add_to(p)
    leaves = leaf_grids(layers["grids"]).to_crs(4326)
    for gdf in (leaves, layers["shelters"].to_crs(4326)):
        cols = [c for c in gdf.columns if c != "geometry"]
        gdf = gdf.astype({c: str for c in cols})
        folium.GeoJson(gdf, popup=folium.GeoJsonPopup(fields=cols)).add_to(p)
    folium.LayerControl().add_to(p)
    peer_html = p.get_root().render()
    t4 = time.perf_counter()
    Path(out_peer).write_text(inline_html(localize(p)), encoding="utf-8")
    return {"read_s": t1 - t0, "progress_s": t2 - t1, "ours_build_s": t3 - t2, "peer_build_s": t4 - t3,
            "ours_bytes": len(json.dumps(html)), "peer_bytes": len(json.dumps(peer_html)),
            "grids": int(len(prog.grids)),
            "statuses": prog.totals["by_status"]}


# ---- dispatch --------------------------------------------------------------------------------------------------------
def _dispatch(ctx: Context, layers: dict) -> dict:
    import numpy as np
    import pandas as pd
    from scipy.optimize import linprog

    from gis.flood.roads import build_graph
    from gis.ops.dispatch import ITEMS, _flow, dispatch_plan, distance_matrix, shelter_needs
    from layers.crs import metric_crs

    sh = layers["shelters"]
    usable = sh[sh.get("status", pd.Series("available", index=sh.index)).fillna("available") == "available"]
    occ = pd.DataFrame({"shelter_id": usable["shelter_id"].astype(str),
                        "checked_in": (pd.to_numeric(usable["capacity"], errors="coerce").fillna(0) * 0.6).round(),
                        "capacity": usable["capacity"], "type": usable.get("type")})
    needs = shelter_needs(occ, days=3)
    depots = layers["depots"]
    with_graph = ctx.timed(lambda: dispatch_plan(depots, usable, needs, roads=layers["roads"]))
    both = pd.concat([depots.geometry.to_crs(4326), usable.geometry.to_crs(4326)])
    crs = metric_crs(tuple(both.total_bounds))
    g_time = ctx.timed(lambda: build_graph(layers["roads"], crs=crs), repeats=1)
    graph = g_time.result
    prebuilt = ctx.timed(lambda: dispatch_plan(depots, usable, needs, graph=graph))
    d = prebuilt.result
    # the same transport problems with HiGHS: equal optimum
    dxy = np.c_[depots.geometry.to_crs(crs).x, depots.geometry.to_crs(crs).y]
    sxy = np.c_[usable.geometry.representative_point().to_crs(crs).x,
                usable.geometry.representative_point().to_crs(crs).y]
    dist = distance_matrix(dxy, sxy, graph)["dist"]
    stock = {i: pd.to_numeric(depots[i], errors="coerce").fillna(0).to_numpy().astype(np.int64) for i in ITEMS}
    need = {i: needs.reindex(usable["shelter_id"].astype(str))[i].fillna(0).to_numpy().astype(np.int64)
            for i in ITEMS}
    t0 = time.perf_counter()
    ours_cost = {i: float((_flow(stock[i], need[i], dist) * dist).sum()) for i in ITEMS}
    ours_s = time.perf_counter() - t0
    nd, ns = dist.shape
    a = np.zeros((nd + ns, nd * ns))
    for k in range(nd):
        a[k, k * ns:(k + 1) * ns] = 1
    for j in range(ns):
        a[nd + j, j::ns] = 1
    from scipy import sparse

    a = sparse.csr_matrix(a)
    big = (nd + ns + 1) * (float(np.round(dist).max()) + 1)
    t0 = time.perf_counter()
    peer_cost, peer_flow = {}, {}
    for i in ITEMS:
        c = (np.round(dist) - big).ravel()
        res = linprog(c, A_ub=a, b_ub=np.r_[stock[i], need[i]], bounds=(0, None), method="highs")
        x = res.x.reshape(nd, ns)
        peer_cost[i] = float((x * dist).sum())
        peer_flow[i] = float(x.sum())
    peer_s = time.perf_counter() - t0
    agree = max(abs(ours_cost[i] - peer_cost[i]) / max(1.0, peer_cost[i]) for i in ITEMS)
    return {"shelters": int(len(usable)), "with_need": int((needs[list(ITEMS)].sum(axis=1) > 0).sum()),
            "depots": int(len(depots)), "edges": int(graph.n_edges), "with_graph_s": with_graph.best,
            "graph_s": g_time.best, "prebuilt_s": prebuilt.best, "shipments": int(len(d.shipments)),
            "ton_km": round(d.ton_km, 1), "shortages": d.shortages(), "flow_s": ours_s, "highs_s": peer_s,
            "max_rel_cost_diff": agree}


# ---- the dispatch command --------------------------------------------------------------------------------------------
#: depots added to a workspace copy without them, and their stock per head (as ``data.assets`` stocks them)
DEPOTS = 11
_STOCK_PER_HEAD = {"rice_kg": 0.8, "drinking_l": 6.0, "tents": 0.004, "quilts": 0.35, "family_kits": 0.08}


def add_depots(ws, layers: dict, n: int = DEPOTS) -> None:
    """Give the workspace copy ``ws`` ``n`` reserve depots at shelters spread over the area (farthest first)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from layers.crs import metric_crs

    sh = layers["shelters"]
    pts = sh.geometry.representative_point()
    crs = metric_crs(tuple(pts.to_crs(4326).total_bounds))
    xy = np.c_[pts.to_crs(crs).x, pts.to_crs(crs).y]
    chosen = [0]
    d = np.hypot(*(xy - xy[0]).T)
    while len(chosen) < min(n, len(xy)):
        chosen.append(int(np.argmax(d)))
        d = np.minimum(d, np.hypot(*(xy - xy[chosen[-1]]).T))
    g = layers["grids"]
    people = float(pd.to_numeric(g["population"], errors="coerce").fillna(0).sum()) if "population" in g else 0.0
    rng = np.random.default_rng(11)
    share = rng.uniform(0.85, 1.15, len(chosen)) / len(chosen)
    town = (sh["township"].fillna("").astype(str) if "township" in sh else pd.Series("", index=sh.index)).to_numpy()
    depots = gpd.GeoDataFrame({
        "name": [f"{town[i]}应急物资储备库{k + 1}" for k, i in enumerate(chosen)],
        "depot_id": [f"CK{k + 1:02d}" for k in range(len(chosen))], "township": town[chosen],
        "responsible": "储备库管理员", "phone": [f"1390000{k:04d}" for k in range(len(chosen))],
        "status": "available",
        **{item: np.round(people * per_head * share) for item, per_head in _STOCK_PER_HEAD.items()}},
        geometry=pts.iloc[chosen].to_numpy(), crs=sh.crs)
    ws.replace("depots", depots, note="bench: depots at spread shelters", user="bench")
    layers["depots"] = ws.vector("depots")


def _checkins(folder: Path, warning_id: str, share: float = 0.6) -> int:
    """Check-ins of ``share`` of the capacity at every usable shelter of the warning (4 officers as threads, whose
    commits go together); the people checked in."""
    from concurrent.futures import ThreadPoolExecutor

    from layers.events import OpsLog
    from layers.workspace import Workspace

    logs = [OpsLog(Workspace(folder)) for _ in range(4)]
    sh = logs[0].snapshot(warning_id).shelters
    todo = [(sid, int(cap * share)) for sid, cap, ok in zip(sh["shelter_id"], sh["capacity"], sh["usable"])
            if ok and int(cap * share) > 0]

    def officer(i: int) -> int:
        n = 0
        for sid, people in todo[i::len(logs)]:
            logs[i].checkin(warning_id, sid, people=people, user=f"bench{i}")
            n += people
        return n

    with ThreadPoolExecutor(len(logs)) as pool:
        return sum(pool.map(officer, range(len(logs))))


def _cli_dispatch(ctx: Context, folder: Path, warning_id: str) -> dict:
    """``python -m gis dispatch`` in a fresh process: cold (no road graph kept), then warm (best of the repeats)."""
    import resource

    from layers.folders import cache_folder

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def once(out: Path) -> dict:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "gis", "dispatch", "--workspace", str(folder), "--warning",
                            warning_id, "--out", str(out), "--json", "--no-record"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode:
            raise RuntimeError(f"python -m gis dispatch failed ({p.returncode}): {p.stderr[-2000:]}")
        res = json.loads(p.stdout)
        return {"wall_s": wall, "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                "load": os.getloadavg(), "shipments": int(res["shipments_n"]), "ton_km": float(res["ton_km"]),
                "xlsx_bytes": (out / "dispatch.xlsx").stat().st_size}

    for f in cache_folder(folder / "workspace.gpkg").glob("roadgraph-*"):
        f.unlink()
    cold = once(ctx.tmp / "dispatch_cold")
    ctx.log(f"  operations: dispatch command cold {cold['wall_s']:.1f} s ({cold['shipments']:,} shipments)")
    warm = [once(ctx.tmp / f"dispatch_warm{i}") for i in range(max(1, ctx.repeats))]
    best = min(warm, key=lambda r: r["wall_s"])
    ctx.log(f"  operations: dispatch command warm {best['wall_s']:.1f} s (best of {len(warm)})")
    return {"cold": cold, "warm": warm, "best": best}


# ---- the run ---------------------------------------------------------------------------------------------------------
def _pg(ctx: Context) -> str | None:
    try:
        import psycopg

        dsn = os.environ.get("GIS_POSTGIS_DSN") or TEST_DSN
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select postgis_version()")
        return dsn
    except Exception as e:  # noqa: BLE001 - reported
        ctx.log(f"  operations: no PostGIS server ({e}); its figures are skipped")
        return None


def run(ctx: Context) -> Report:
    """Time warn, report-backs per second, the page map and dispatch (see the module docstring)."""
    from gis.ops.session import Operations
    from layers.workspace import Workspace

    folder = ctx.tmp / "ops_ws"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ctx.gpkg, folder / "workspace.gpkg")
    if ctx.dem.exists():
        os.symlink(ctx.dem, folder / "dem.tif")
    ws = Workspace(folder)
    t0 = time.perf_counter()
    layers = {k: ws.vector(k) for k in ("grids", "shelters", "villages", "roads", "depots") if k in ws.vector_kinds()}
    read_s = time.perf_counter() - t0
    notes: list[str] = []
    do_reports, do_map, do_dispatch, do_cli = (ONLY in ("", part) for part in ("reports", "map", "dispatch", "cli"))
    do_cli = do_cli or do_dispatch
    if "depots" not in layers and (do_dispatch or do_cli):
        add_depots(ws, layers)
        notes.append(f"The cached workspace has no depots layer (made before depots were generated): its copy got "
                     f"{len(layers['depots'])} depots at shelters spread over the area, stocked per head.")
    ops = Operations(ws, layers=layers)
    warn = ctx.timed(lambda: ops.warn("red", everything=True, issuer="bench"))
    issued = warn.result
    wid = issued.warning.warning_id
    ctx.log(f"  operations: warn {warn.best:.2f} s ({issued.warning.grids} grids, {issued.warning.contacts} contacts)")
    rows = [["warn over every grid + call-out list (GeoPackage)", issued.warning.grids, issued.warning.contacts,
             warn.best, max(warn.times)]]
    figures: dict = {"read_s": read_s, "warn_gpkg_s": warn.times, "grids": issued.warning.grids,
                     "contacts": issued.warning.contacts, "people": issued.warning.people}
    gpkg_rate = gpkg_threads = None
    if do_reports:
        gpkg_rate = _rate(str(ws.gpkg), "", wid, ctx.tmp, ctx.log)
        gpkg_threads = _threads(ctx, str(ws.gpkg), "", wid)
        figures.update(rate_gpkg=gpkg_rate, rate_gpkg_threads=gpkg_threads)
    dsn = _pg(ctx) if do_reports else None
    pg_rate = pg_threads = None
    pg_warn = None
    if dsn:
        from layers.postgis import PostGISStore

        schema = f"bench_ops_{uuid.uuid4().hex[:8]}"
        store = PostGISStore(dsn, schema=schema)
        try:
            ctx.log("  operations: loading the layers into PostGIS (not timed)")
            for k in ("grids", "shelters", "villages"):
                if k in layers:
                    store.replace(k, layers[k], note="bench", user="bench")
            pops = Operations(store, layers=layers)
            pg_warn = ctx.timed(lambda: pops.warn("red", everything=True, issuer="bench"))
            rows.append(["warn over every grid + call-out list (PostGIS)", pg_warn.result.warning.grids,
                         pg_warn.result.warning.contacts, pg_warn.best, max(pg_warn.times)])
            pg_rate = _rate(dsn, schema, pg_warn.result.warning.warning_id, ctx.tmp, ctx.log)
            pg_threads = _threads(ctx, dsn, schema, pg_warn.result.warning.warning_id)
            figures.update(warn_pg_s=pg_warn.times, rate_pg=pg_rate, rate_pg_threads=pg_threads)
        finally:
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'drop schema if exists "{schema}" cascade')
    mp = shown = None
    if do_map:
        # statuses on the map: check-ins at a few shelters
        snap = ops.snapshot(wid)
        for sid, cap in zip(snap.shelters["shelter_id"][:40], snap.shelters["capacity"][:40]):
            if cap > 0:
                ops.checkin(wid, sid, people=int(min(cap, 50)))
        www = ctx.tmp / "www"
        www.mkdir(exist_ok=True)
        ctx.log("  operations: building the page map (fresh process)")
        mp = ctx.isolated("bench.cases.operations:build_map", workspace=str(folder), warning_id=wid,
                          out_ours=str(www / "ours.html"), out_peer=str(www / "peer.html"))
        from bench.browser import render_both

        shown = render_both(www, chromium=ctx.chromium, repeats=ctx.repeats, log=ctx.log, name="operations")
        figures["map"] = mp | {"ours_render_ms": shown.best["ours"], "peer_render_ms": shown.best["peer"]}
    disp = _dispatch(ctx, layers) if "depots" in layers and do_dispatch else None
    figures["dispatch"] = disp
    cli = None
    if do_cli and "depots" in layers:
        ctx.log("  operations: check-ins at every usable shelter (60 % of capacity) for the dispatch command")
        checked_in = _checkins(folder, wid)
        cli = _cli_dispatch(ctx, folder, wid) | {"checked_in": checked_in}
        figures["dispatch_command"] = cli

    tables = [Table(title=f"operations: warn and call-out list, best of {ctx.repeats} (layers read apart: "
                          f"{read_s:.1f} s)", columns=["what", "grids", "contacts", "best (s)", "slowest (s)"],
                    rows=rows)]
    def rate_row(store: str, how: str, r: dict) -> list:
        return [store, how, r["reports"], r["errors"], r["seconds"], r["per_s"], f"{r['fewest']:,} / {r['most']:,}",
                r["cpu_s"], "/".join(f"{x:.1f}" for x in r["load"])]

    rate_rows = []
    if gpkg_rate and gpkg_threads:
        rate_rows += [rate_row("GeoPackage", f"{WRITERS} processes", gpkg_rate),
                      rate_row("GeoPackage", f"{WRITERS} threads of one process", gpkg_threads)]
    if pg_rate and pg_threads:
        rate_rows += [rate_row("PostGIS", f"{WRITERS} processes", pg_rate),
                      rate_row("PostGIS", f"{WRITERS} threads of one process", pg_threads)]
    if rate_rows:
        tables.append(Table(title=f"operations: report-backs from {WRITERS} concurrent writers, {WRITE_SECONDS:.0f} "
                                  "s each (processes: as separate programs; threads: as the sessions of one app "
                                  "server)", columns=["store", "writers", "reports", "errors", "wall (s)",
                                                      "reports / s", "fewest / most by one writer",
                                                      "writers' CPU (s)", "load at end"], rows=rate_rows))
    if mp and shown:
        tables.append(Table(title="operations: the page map (whole-area view) against plain folium",
                            columns=["measure", "ours (ui.ops_map)", "peer (folium.GeoJson of every grid)"],
                            rows=[["grids", mp["grids"], mp["grids"]],
                                  ["progress + build + render (s)", round(mp["progress_s"] + mp["ours_build_s"], 2),
                                   round(mp["peer_build_s"], 2)],
                                  ["**bytes sent** (MB)", round(mp["ours_bytes"] / MB, 2),
                                   round(mp["peer_bytes"] / MB, 2)],
                                  ["**first render** (ms, best)", shown.best["ours"], shown.best["peer"]]]))
    if disp:
        tables.append(Table(title="operations: dispatch from the depots to every usable shelter (60 % occupied)",
                            columns=["measure", "value"],
                            rows=[["depots / shelters / with needs", f"{disp['depots']} / {disp['shelters']:,} / "
                                                                     f"{disp['with_need']:,}"],
                                  ["road edges", disp["edges"]],
                                  ["**dispatch_plan incl. road graph** (s, best)", disp["with_graph_s"]],
                                  ["road graph alone (s)", disp["graph_s"]],
                                  ["dispatch_plan, graph prebuilt (s, best)", disp["prebuilt_s"]],
                                  ["min-cost flows, 5 items (s) — ours OR-Tools", disp["flow_s"]],
                                  ["same problems — peer scipy HiGHS linprog (s)", disp["highs_s"]],
                                  ["largest relative difference of optimum, ours vs HiGHS", disp["max_rel_cost_diff"]],
                                  ["shipments / ton-km", f"{disp['shipments']:,} / {disp['ton_km']:,}"]]))
    if cli:
        def cli_row(what: str, r: dict) -> list:
            return [what, r["wall_s"], r["cpu_s"], f"{r['shipments']:,}", round(r["xlsx_bytes"] / MB, 2),
                    "/".join(f"{x:.1f}" for x in r["load"])]

        tables.append(Table(title=f"operations: `python -m gis dispatch ... --json --no-record` end to end, a fresh "
                                  f"process ({cli['checked_in']:,} people checked in at the usable shelters)",
                            columns=["run", "wall (s)", "CPU user+sys (s)", "shipments", "dispatch.xlsx (MB)",
                                     "load at end"],
                            rows=[cli_row("cold (road graph built and kept)", cli["cold"]),
                                  *(cli_row(f"warm {i + 1} (road graph read)", r) for i, r in enumerate(cli["warm"]))]))
    judged = ctx.at_prefecture
    bars = [bar("warn + call-out list over every grid (GeoPackage)", warn.best, 5.0, "s", judged=judged)]
    if gpkg_rate:
        bars.append(bar(f"report-backs, GeoPackage: wall ms per report ({gpkg_rate['per_s']:.0f} per s)",
                        None if gpkg_rate["per_s"] <= 0 else 1000.0 / gpkg_rate["per_s"], 10.0, "ms", judged=judged))
    if mp and shown:
        bars += [bar("page map: bytes sent", mp["ours_bytes"] / MB, 15.0, "MB", judged=judged),
                 bar("page map: first render in Chromium", None if shown.best["ours"] is None else
                     shown.best["ours"] / 1000, 5.0, "s", judged=judged)]
    if pg_warn is not None:
        bars.insert(1, bar("warn + call-out list over every grid (PostGIS)", pg_warn.best, 5.0, "s", judged=judged))
    if pg_rate:
        bars.append(bar(f"report-backs, PostGIS: wall ms per report ({pg_rate['per_s']:.0f} per s)",
                        1000.0 / max(pg_rate["per_s"], 1e-9), 10.0, "ms", judged=judged))
    if disp:
        bars.append(bar(f"dispatch {disp['shelters']:,} shelters from {disp['depots']} depots (incl. road graph)",
                        disp["with_graph_s"], 5.0, "s", judged=judged))
    if cli:
        bars.append(bar("`python -m gis dispatch` end to end, warm (fresh process, best)", cli["best"]["wall_s"], 5.0,
                        "s", judged=judged))
    notes = [__doc__.split("\n\n", 1)[1].replace("\n", " ")] + notes + [
        "The report-back bars are the wall time per committed report over all writers: under 10 ms is at least "
        "100 per second.", f"Writers: {WRITERS} processes on a machine with {os.cpu_count()} logical CPUs."]
    return Report(tables=tables, bars=bars, notes=notes, figures=figures)
