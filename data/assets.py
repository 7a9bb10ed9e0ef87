"""Roads, rivers, forest, water sources and cameras of the demo, derived from terrain and settlements.

* Roads: least-cost paths on a 60 m grid whose edge cost grows with the square of the grade. All
  terminals (villages, shelters, group and household-cluster seeds) are joined with Mehlhorn's
  Steiner-tree approximation: one multi-source Dijkstra (scipy), the cheapest boundary edge between
  every pair of adjacent cost-Voronoi regions, a minimum spanning tree over those, plus a few
  loops. Township seats are joined the same way by county roads.
* Rivers: pyflwdir stream segments above an upstream-area threshold, named along main stems.
* Forest: slopes away from valley floors and settlements, typed by elevation and noise,
  cut into compartments (pyflwdir sub-basins) and polygonised on a coarse grid.
* Water sources and cameras: seeded, spaced samples of suitable cells (streams, valley floors,
  forested slopes, peaks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio import features
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from data.settlements import Params, Settlements, allocate, grid_graph, place_names
from data.terrain import CELL, Terrain, block_reduce, spectral_noise, thin, weighted_order

_ROAD_SPEED = {"county": 60.0, "township": 40.0, "village": 25.0}
_CLASS_RANK = {"village": 1, "township": 2, "county": 3}


def fine_mask(s: Settlements, p: Params) -> np.ndarray:
    """The county (prefecture) outline as a mask on the DEM grid."""
    f = p.region_factor
    return np.repeat(np.repeat(s.mask, f, axis=0), f, axis=1)


# ---- roads -----------------------------------------------------------------------------------
def _mehlhorn(graph: sparse.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs of adjacent terminals with the cheapest connecting path through their Voronoi boundary.

    Returns (a, b, cost, u, v, pred): terminals a < b (positions in ``nodes``), the path cost, and
    the boundary edge (u in a's region, v in b's region); ``pred`` are the Dijkstra predecessors.
    """
    dist, pred, src = csgraph.dijkstra(graph, directed=True, indices=nodes, min_only=True,
                                       return_predecessors=True)
    pos = np.full(graph.shape[0], -1, dtype=np.int64)
    pos[nodes] = np.arange(len(nodes))
    lab = np.where(src >= 0, pos[np.maximum(src, 0)], -1)
    del src
    coo = graph.tocoo()
    u, v, w = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    del coo
    la, lb = lab[u], lab[v]
    ok = (la >= 0) & (lb >= 0) & (la < lb)
    u, v, w, la, lb = u[ok], v[ok], w[ok], la[ok], lb[ok]
    tot = dist[u] + w + dist[v]
    key = la * len(nodes) + lb
    o = np.lexsort((tot, key))
    first = np.r_[True, key[o][1:] != key[o][:-1]]
    o = o[first]
    return la[o], lb[o], tot[o], u[o], v[o], pred


def _trace(pred: np.ndarray, node: int) -> list[int]:
    """Node path from ``node`` back to its Dijkstra source (inclusive)."""
    out = [node]
    while True:
        q = pred[out[-1]]
        if q < 0:
            return out
        out.append(int(q))


def _terminal_network(graph: sparse.csr_matrix, nodes: np.ndarray, rng: np.random.Generator,
                      loop_share: float, loop_quantile: float) -> list[tuple[list[int], int, int, bool]]:
    """Paths of the minimum spanning tree over Mehlhorn's terminal graph, plus loops.

    Returns (node path, terminal a, terminal b, in_tree) per edge. Loops are a random
    ``loop_share`` of the non-tree edges cheaper than the ``loop_quantile`` of all edge costs.
    """
    a, b, cost, u, v, pred = _mehlhorn(graph, nodes)
    n = len(nodes)
    g = sparse.coo_matrix((cost + 1e-9, (a, b)), shape=(n, n)).tocsr()
    mst = csgraph.minimum_spanning_tree(g).tocoo()
    mst_key = np.minimum(mst.row, mst.col).astype(np.int64) * n + np.maximum(mst.row, mst.col)
    is_mst = np.isin(a * n + b, mst_key)
    cheap = cost <= np.quantile(cost, loop_quantile) if len(cost) else np.zeros(0, dtype=bool)
    extra = ~is_mst & cheap & (rng.random(len(cost)) < loop_share)
    paths = []
    for k in np.flatnonzero(is_mst | extra):
        left = _trace(pred, int(u[k]))
        right = _trace(pred, int(v[k]))
        paths.append((left[::-1] + right, int(a[k]), int(b[k]), bool(is_mst[k])))
    return paths


def _steiner_core(edges: list[tuple[int, int]], keep: np.ndarray) -> set[tuple[int, int]]:
    """Edges of a tree that lie on paths between ``keep`` nodes (prune other leaves repeatedly)."""
    n = len(keep)
    adj: list[list[int]] = [[] for _ in range(n)]
    for x, y in edges:
        adj[x].append(y)
        adj[y].append(x)
    deg = np.array([len(a_) for a_ in adj])
    alive = np.ones(n, dtype=bool)
    stack = [i for i in range(n) if deg[i] <= 1 and not keep[i]]
    while stack:
        i = stack.pop()
        if not alive[i]:
            continue
        alive[i] = False
        for j in adj[i]:
            if alive[j]:
                deg[j] -= 1
                if deg[j] <= 1 and not keep[j]:
                    stack.append(j)
    return {(x, y) for x, y in edges if alive[x] and alive[y]}


def build_roads(t: Terrain, p: Params, s: Settlements, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """The road network: county roads between township seats, township roads between villages and
    shelters, village roads to the settlements.

    Returns
    -------
    roads : pandas.DataFrame
        name, road_class, speed, geometry (LineString, metres).
    info : dict
        ``raster`` (bool road cells on the road grid), ``transform`` and ``segments`` count.
    """
    f = p.road_factor
    m = p.n // f
    cell = CELL * f
    tr = t.transform * Affine.scale(f)
    z = block_reduce(t.dem, f)
    inside = np.repeat(np.repeat(s.mask, p.region_factor // f, 0), p.region_factor // f, 1)
    river = block_reduce(t.upa >= 10.0, f, "any")
    cost = np.where(inside, 1.0, 6.0) * np.where(river, 4.0, 1.0)
    graph = grid_graph(z, cell, np.ones((m, m), dtype=bool), diagonal=True, grade0=0.07, extra_cost=cost)
    del cost, river

    def node_of(xy: np.ndarray) -> np.ndarray:
        r = np.clip(np.floor((xy[:, 1] - tr.f) / tr.e).astype(np.int64), 0, m - 1)
        c = np.clip(np.floor((xy[:, 0] - tr.c) / tr.a).astype(np.int64), 0, m - 1)
        return r * m + c

    vil = s.villages[["x", "y"]].to_numpy()
    she = s.shelters[["x", "y"]].to_numpy()
    major_nodes = np.unique(np.r_[node_of(vil), node_of(she)])
    minor_nodes = np.unique(np.r_[node_of(s.group_xy), node_of(s.household_xy)])
    minor_nodes = minor_nodes[~np.isin(minor_nodes, major_nodes)]
    nodes = np.r_[major_nodes, minor_nodes]
    is_major = np.r_[np.ones(len(major_nodes), bool), np.zeros(len(minor_nodes), bool)]
    seats = np.unique(node_of(vil[s.townships["seat_village"].to_numpy()]))

    edge_class: dict[tuple[int, int], int] = {}

    def add(path: list[int], rank: int) -> None:
        for q0, q1 in zip(path[:-1], path[1:]):
            key = (q0, q1) if q0 < q1 else (q1, q0)
            if edge_class.get(key, 0) < rank:
                edge_class[key] = rank

    # township roads join villages and shelters (the tree pruned of settlement spurs, and loops
    # between villages); village roads lead on to the groups and household clusters
    net = _terminal_network(graph, nodes, rng, loop_share=p.road_loops,
                            loop_quantile=p.road_loop_quantile)
    core = _steiner_core([(a, b) for _p, a, b, tree in net if tree], is_major)
    for path, a, b, tree in net:
        major = (a, b) in core if tree else bool(is_major[a] and is_major[b])
        add(path, 2 if major else 1)
    if len(seats) > 1:
        for path, *_ in _terminal_network(graph, seats, rng, loop_share=0.6, loop_quantile=0.4):
            add(path, 3)
    del graph

    keys = np.array(sorted(edge_class), dtype=np.int64).reshape(-1, 2)
    ranks = np.array([edge_class[(int(k0), int(k1))] for k0, k1 in keys], dtype=np.int64)
    r0, c0 = np.divmod(keys[:, 0], m)
    r1, c1 = np.divmod(keys[:, 1], m)
    x0, y0 = tr.c + (c0 + 0.5) * cell, tr.f + (r0 + 0.5) * tr.e
    x1, y1 = tr.c + (c1 + 0.5) * cell, tr.f + (r1 + 0.5) * tr.e
    raster = np.zeros((m, m), dtype=bool)
    raster[r0, c0] = raster[r1, c1] = True
    v_tree = cKDTree(vil)
    v_names = s.villages["name"].to_numpy()
    rows = []
    counters = {"county": 0, "township": 0}
    for cls, rank in _CLASS_RANK.items():
        sel = ranks == rank
        if not sel.any():
            continue
        segs = shapely.linestrings(np.stack([np.c_[x0[sel], y0[sel]], np.c_[x1[sel], y1[sel]]], axis=1))
        merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(np.asarray(segs))))
        mid = shapely.get_coordinates(shapely.line_interpolate_point(merged, 0.5, normalized=True))
        _, near = v_tree.query(mid)
        for g, k in zip(merged, near):
            if cls == "village":
                name = f"{v_names[k]}村道"
            else:
                counters[cls] += 1
                name = ("县道X" if cls == "county" else "乡道Y") + f"{counters[cls]:03d}"
            rows.append((name, cls, _ROAD_SPEED[cls], g))
    roads = pd.DataFrame(rows, columns=["name", "road_class", "speed", "geometry"])
    return roads, {"raster": raster, "transform": tr, "segments": int(len(keys))}


# ---- rivers ----------------------------------------------------------------------------------
def build_rivers(t: Terrain, p: Params, s: Settlements, rng: np.random.Generator) -> pd.DataFrame:
    """River and stream lines (pyflwdir stream segments), named along main stems.

    Returns
    -------
    pandas.DataFrame
        name, river_class, geometry (LineString, metres).
    """
    feats = t.flw.streams(mask=t.streams)
    mask = fine_mask(s, p)
    idx = np.array([ft["properties"]["idx"] for ft in feats], dtype=np.int64)
    idx_ds = np.array([ft["properties"]["idx_ds"] for ft in feats], dtype=np.int64)
    coords = [np.asarray(ft["geometry"]["coordinates"], dtype=np.float64) for ft in feats]
    n = len(feats)
    # upstream area at the segment's own most downstream cell (before the shared confluence cell)
    last = np.array([c[-2] if len(c) > 1 else c[-1] for c in coords])
    rr, cc = t.rowcol(last[:, 0], last[:, 1])
    upa = t.upa[rr, cc]
    seg_of = {int(i): k for k, i in enumerate(idx.tolist())}
    ds = np.array([seg_of.get(int(i), -1) for i in idx_ds], dtype=np.int64)
    ds[ds == np.arange(n)] = -1
    keep = np.array([mask[t.rowcol(c[:, 0], c[:, 1])].any() for c in coords], dtype=bool)
    # names: the largest tributary at a confluence continues the downstream name
    name_id = np.full(n, -1, dtype=np.int64)
    best_up: dict[int, int] = {}
    for k in np.argsort(-upa, kind="stable"):
        d = ds[k]
        if d >= 0 and name_id[d] >= 0 and best_up.get(int(d)) is None:
            best_up[int(d)] = int(k)
            name_id[k] = name_id[d]
        else:
            name_id[k] = k
    # one feature per named river (its kept segments merged), classed by its largest upstream area
    top = np.zeros(n)
    np.maximum.at(top, name_id, upa)
    parts = [c if len(c) > 1 else np.r_[c, c] for c in coords]
    lines = np.asarray(shapely.linestrings(np.concatenate(parts),
                                           indices=np.repeat(np.arange(n), [len(c) for c in parts])))
    rivers = np.unique(name_id[keep])
    rivers = rivers[np.argsort(-top[rivers], kind="stable")]
    roots = _river_roots(rng, len(rivers))
    rows = []
    for root, rid in zip(roots, rivers):
        a = top[rid]
        suffix, cls = ("江", "干流") if a >= 500 else (("溪", "支流") if a >= 30 else ("坑", "溪沟"))
        merged = shapely.line_merge(shapely.multilinestrings(lines[keep & (name_id == rid)]))
        for g in shapely.get_parts(merged):
            rows.append((root + suffix, cls, g, a))
    return pd.DataFrame(rows, columns=["name", "river_class", "geometry", "upa"])


def _river_roots(rng: np.random.Generator, k: int) -> list[str]:
    pool = place_names(rng, k)
    return [pool[i % len(pool)] for i in range(k)]


# ---- forest ----------------------------------------------------------------------------------
_FOREST_CODES = ("conifer", "broadleaf", "mixed", "bamboo", "shrub")


def build_forest(t: Terrain, p: Params, s: Settlements, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Forest compartments: polygons of one forest type inside one sub-basin and township.

    Returns
    -------
    forest : pandas.DataFrame
        forest_type, compartment, township, geometry (Polygon, metres).
    fine_forest : ndarray of bool
        Forest mask on the DEM grid (used to place cisterns and tanks).
    """
    ff = p.forest_factor
    n = p.n
    m = n // ff
    tr = t.transform * Affine.scale(ff)
    z = block_reduce(t.dem, ff)
    slope = block_reduce(t.slope, ff)
    hand = block_reduce(t.hand, ff)
    inside = block_reduce(fine_mask(s, p), ff) > 0.5
    # settlements: villages, groups, household clusters and shelters, cleared to 300 m
    pts = np.r_[s.villages[["x", "y"]].to_numpy(), s.group_xy, s.household_xy, s.shelters[["x", "y"]].to_numpy()]
    r = np.clip(np.floor((pts[:, 1] - tr.f) / tr.e).astype(np.int64), 0, m - 1)
    c = np.clip(np.floor((pts[:, 0] - tr.c) / tr.a).astype(np.int64), 0, m - 1)
    occ = np.zeros((m, m), dtype=bool)
    occ[r, c] = True
    d_set = ndimage.distance_transform_edt(~occ) * CELL * ff
    u1 = spectral_noise(m, 2.6, rng)
    u2 = spectral_noise(m, 2.4, rng)
    farmland = (hand < 8) & (slope < 12)
    clearing = u1 < np.quantile(u1, 0.04)
    forest = inside & ~farmland & ~clearing & (d_set > 300.0)
    ftype = np.zeros((m, m), dtype=np.int64)  # conifer
    ftype[u2 > 0.5] = 1  # broadleaf
    ftype[(u2 > -0.2) & (u2 <= 0.5) & (z > 700)] = 2  # mixed
    ftype[(z < 650) & (slope < 28) & (u1 > 0.2)] = 3  # bamboo
    ftype[(z > 1350) | (slope > 42)] = 4  # shrub
    # compartments: pyflwdir sub-basins sampled at the coarse cell centres
    sub, _ = t.flw.subbasins_area(3.0 if p.scale == "county" else 5.0, uparea=t.upa)
    sub = sub[ff // 2::ff, ff // 2::ff][:m, :m].astype(np.int64)
    town = s.township_raster
    rf = p.region_factor
    town_f = town[(np.arange(m) * ff + ff // 2) // rf][:, (np.arange(m) * ff + ff // 2) // rf]
    forest &= town_f >= 0
    key = np.where(forest, (town_f.astype(np.int64) * (sub.max() + 1) + sub) * 8 + ftype, -1)
    uniq, inv = np.unique(key, return_inverse=True)
    lab = inv.reshape(m, m).astype(np.int32)
    lab[key < 0] = -1
    lab = (lab + 1).astype(np.int32)  # 0 = not forest
    lab = features.sieve(lab, size=3, connectivity=4)
    fine_forest = np.repeat(np.repeat(lab > 0, ff, 0), ff, 1)
    geoms, vals = [], []
    for g, v in features.shapes(lab, mask=lab > 0, transform=tr, connectivity=4):
        geoms.append(shapely.geometry.shape(g))
        vals.append(int(v))
    kk = uniq[np.asarray(vals, dtype=np.int64) - 1]
    f_type = kk % 8
    f_sub = (kk // 8) % (sub.max() + 1)
    f_town = (kk // 8) // (sub.max() + 1)
    # compartment numbers: sub-basins numbered within each township
    comp = np.zeros(len(kk), dtype=np.int64)
    pair = f_town * (sub.max() + 1) + f_sub
    for j in np.unique(f_town):
        sel = np.flatnonzero(f_town == j)
        _, num = np.unique(pair[sel], return_inverse=True)
        comp[sel] = num + 1
    df = pd.DataFrame({
        "forest_type": np.asarray(_FOREST_CODES, dtype=object)[f_type],
        "compartment": [f"{k:03d}" for k in comp],
        "township": s.townships["name"].to_numpy()[f_town],
        "geometry": geoms,
    })
    return df, fine_forest


# ---- water sources ---------------------------------------------------------------------------
_WATER_SHARE = {"reservoir": 0.02, "pond": 0.22, "cistern": 0.24, "tank": 0.32, "river_intake": 0.13,
                "hydrant": 0.07}


def _sample_cells(weights: np.ndarray, n: int, spacing: float, rng: np.random.Generator,
                  t: Terrain) -> np.ndarray:
    """``n`` flat cell indices drawn by ``weights`` and thinned to ``spacing`` metres (relaxed if needed)."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    avail = int((weights > 0).sum())
    k = min(avail, max(n * 30, 2000))
    order = weighted_order(weights.ravel(), rng, k=k)
    r, c = np.divmod(order, t.shape[1])
    x, y = t.xy(r, c)
    while True:
        keep = thin(x, y, spacing, limit=n)
        if len(keep) >= n or spacing < 1.0:
            return order[keep][:n]
        if k < avail:
            k = min(avail, k * 4)
            order = weighted_order(weights.ravel(), rng, k=k)
            r, c = np.divmod(order, t.shape[1])
            x, y = t.xy(r, c)
        else:
            spacing *= 0.7


def build_water_sources(t: Terrain, p: Params, s: Settlements, rng: np.random.Generator, road_info: dict,
                        fine_forest: np.ndarray) -> pd.DataFrame:
    """Firefighting water sources: reservoirs, ponds, cisterns, tanks, river intakes and hydrants.

    Returns
    -------
    pandas.DataFrame
        Catalogue fields plus x, y (metres).
    """
    mask = fine_mask(s, p)
    mask[:3, :] = mask[-3:, :] = mask[:, :3] = mask[:, -3:] = False
    counts = dict(zip(_WATER_SHARE, allocate(p.n_water, np.array(list(_WATER_SHARE.values())))))
    area_km2 = mask.sum() * CELL * CELL / 1e6
    streams = t.streams
    cells: dict[str, np.ndarray] = {}
    w = np.where(mask & streams & (t.upa >= 3.0) & (t.upa <= 300.0), 1.0, 0.0)
    cells["reservoir"] = _sample_cells(w, counts["reservoir"], 2500.0, rng, t)
    # ponds near settlements on valley floors
    vr, vc = t.rowcol(s.villages["x"].to_numpy(), s.villages["y"].to_numpy())
    occ = np.zeros(t.shape, dtype=bool)
    occ[vr, vc] = True
    near_v = ndimage.distance_transform_edt(~occ) * CELL < 1500.0
    w = np.where(mask & near_v & ~streams & (t.slope < 10) & (t.hand < 12), np.exp(-t.hand / 5.0), 0.0)
    del near_v
    cells["pond"] = _sample_cells(w, counts["pond"], 250.0, rng, t)
    slope_ok = (t.slope > 8) & (t.slope < 38) & ~streams
    spacing = np.sqrt(area_km2 * 1e6 / max(1, counts["cistern"] + counts["tank"])) * 0.45
    w = np.where(mask & fine_forest & slope_ok & (t.hand > 15), 1.0, 0.0)
    cells["cistern"] = _sample_cells(w, counts["cistern"], spacing, rng, t)
    w = np.where(mask & fine_forest & slope_ok, 1.0, 0.0)
    w.ravel()[cells["cistern"]] = 0.0
    cells["tank"] = _sample_cells(w, counts["tank"], spacing, rng, t)
    road_dist = ndimage.distance_transform_edt(~road_info["raster"]) * CELL * p.road_factor
    rf = p.road_factor
    road_near = np.repeat(np.repeat(road_dist < 250.0, rf, 0), rf, 1)
    w = np.where(mask & streams & (t.upa >= 3.0), np.where(road_near, 4.0, 1.0), 0.0)
    del road_near
    cells["river_intake"] = _sample_cells(w, counts["river_intake"], 900.0, rng, t)
    del w
    # hydrants in the township seats
    seats = s.townships["seat_village"].to_numpy()
    sx, sy = s.villages["x"].to_numpy()[seats], s.villages["y"].to_numpy()[seats]
    nh = counts["hydrant"]
    per = allocate(nh, np.where(seats < p.n_counties, 3.0, 1.0), minimum=0)
    hx_parts: list[np.ndarray] = []
    hy_parts: list[np.ndarray] = []
    for x0, y0, k in zip(sx, sy, per):
        if k == 0:
            continue
        cx = x0 + rng.normal(0, 300.0, 60 * k)
        cy = y0 + rng.normal(0, 300.0, 60 * k)
        rr, cc = t.rowcol(cx, cy)
        ok = (t.slope[rr, cc] < 12) & ~streams[rr, cc] & mask[rr, cc]
        cx, cy = t.xy(rr[ok], cc[ok])
        keep = thin(cx, cy, 80.0, limit=k)
        if len(keep) < k:
            keep = thin(cx, cy, 20.0, limit=k)
        hx_parts.append(cx[keep])
        hy_parts.append(cy[keep])
    hx = np.concatenate(hx_parts) if hx_parts else np.zeros(0)
    hy = np.concatenate(hy_parts) if hy_parts else np.zeros(0)
    rows = []
    for kind in ("reservoir", "pond", "cistern", "tank", "river_intake"):
        r, c = np.divmod(cells[kind], t.shape[1])
        x, y = t.xy(r, c)
        rows.append(pd.DataFrame({"type": kind, "x": x, "y": y}))
    rows.append(pd.DataFrame({"type": "hydrant", "x": hx, "y": hy}))
    df = pd.concat(rows, ignore_index=True)
    return _water_attributes(df, t, p, s, rng, road_dist)


def _water_attributes(df: pd.DataFrame, t: Terrain, p: Params, s: Settlements, rng: np.random.Generator,
                      road_dist: np.ndarray) -> pd.DataFrame:
    n = len(df)
    kind = df["type"].to_numpy()
    r, c = t.rowcol(df["x"].to_numpy(), df["y"].to_numpy())
    upa = t.upa[r, c]
    u = rng.random(n)
    vol = np.full(n, np.nan)
    depth = np.full(n, np.nan)
    seasonal = np.zeros(n, dtype=bool)
    is_ = {k: kind == k for k in _WATER_SHARE}
    lr = np.clip(np.log10(np.maximum(upa, 1.0)) / 2.5, 0, 1)
    vol[is_["reservoir"]] = np.round(10 ** (5.0 + 2.0 * (0.5 * lr + 0.5 * u))[is_["reservoir"]], -3)
    vol[is_["pond"]] = np.round(10 ** (np.log10(500) + (np.log10(2e4) - np.log10(500)) * u)[is_["pond"]], -1)
    vol[is_["cistern"]] = np.round(20 + 80 * u[is_["cistern"]])
    vol[is_["tank"]] = np.round(5 + 45 * u[is_["tank"]])
    depth[is_["reservoir"]] = np.round(rng.uniform(8, 40, n)[is_["reservoir"]], 1)
    depth[is_["pond"]] = np.round(rng.uniform(1.5, 4.0, n)[is_["pond"]], 1)
    depth[is_["cistern"]] = np.round(rng.uniform(2.0, 4.0, n)[is_["cistern"]], 1)
    depth[is_["tank"]] = np.round(rng.uniform(1.0, 2.5, n)[is_["tank"]], 1)
    depth[is_["river_intake"]] = np.round(np.clip(0.3 + 0.25 * np.log10(np.maximum(upa, 1)), 0.3, 3.0)
                                          [is_["river_intake"]] * rng.uniform(0.8, 1.3, is_["river_intake"].sum()), 1)
    ru = rng.random(n)
    seasonal |= is_["pond"] & (ru < 0.45)
    seasonal |= is_["cistern"] & (ru < 0.6)
    seasonal |= is_["tank"] & (ru < 0.25)
    seasonal |= is_["river_intake"] & (upa < 10) & (ru < 0.6)
    rf = p.road_factor
    rd = road_dist[np.clip(r // rf, 0, road_dist.shape[0] - 1), np.clip(c // rf, 0, road_dist.shape[1] - 1)]
    vehicle = (rd < 150.0) | is_["hydrant"]
    heli = is_["reservoir"] | (is_["pond"] & (vol >= 1e4)) | (is_["river_intake"] & (upa >= 300))
    tw = s.township_at(df["x"].to_numpy(), df["y"].to_numpy())
    tw_names = s.townships["name"].to_numpy()
    tw_codes = s.townships["code"].to_numpy()
    v_tree = cKDTree(s.villages[["x", "y"]].to_numpy())
    _, nv = v_tree.query(df[["x", "y"]].to_numpy())
    vnames = s.villages["name"].to_numpy()[nv]
    vroots = np.array([v[:-1] for v in vnames], dtype=object)
    seq = np.zeros(n, dtype=np.int64)
    for j in np.unique(tw):
        sel = np.flatnonzero(tw == j)
        seq[sel] = np.arange(1, len(sel) + 1)
    names = []
    counter: dict[tuple[str, str], int] = {}
    for k, root, vname, j in zip(kind, vroots, vnames, tw):
        if k == "reservoir":
            base = f"{root}水库"
        elif k == "pond":
            base = f"{root}山塘"
        elif k == "cistern":
            base = f"{vname}水窖"
        elif k == "tank":
            base = f"{vname}消防水池"
        elif k == "river_intake":
            base = f"{root}取水点"
        else:
            base = f"{tw_names[j]}消火栓"
        counter[(k, base)] = counter.get((k, base), 0) + 1
        names.append(base if k in ("reservoir",) and counter[(k, base)] == 1 else f"{base}{counter[(k, base)]}号")
    status = np.where(seasonal & (rng.random(n) < 0.08), "dry",
                      np.where(rng.random(n) < 0.03, "damaged", "available"))
    return pd.DataFrame({
        "name": names, "source_id": [f"SY{tw_codes[j]}{k:04d}" for j, k in zip(tw, seq)], "type": kind,
        "volume": vol, "seasonal": seasonal, "vehicle_access": vehicle, "helicopter": heli, "depth": depth,
        "township": tw_names[tw], "status": status.astype(object), "x": df["x"].to_numpy(),
        "y": df["y"].to_numpy(),
    })


# ---- cameras ---------------------------------------------------------------------------------
def build_cameras(t: Terrain, p: Params, s: Settlements, rng: np.random.Generator) -> pd.DataFrame:
    """Fire cameras and lookout towers on peaks (local maxima of the DEM), spread apart.

    Returns
    -------
    pandas.DataFrame
        Catalogue fields plus x, y (metres).
    """
    mask = fine_mask(s, p)
    mx = ndimage.maximum_filter(t.dem, size=15, mode="nearest")
    peaks = (t.dem >= mx) & mask
    del mx
    peaks[:8, :] = peaks[-8:, :] = peaks[:, :8] = peaks[:, -8:] = False
    pr, pc = np.nonzero(peaks)
    del peaks
    mean = ndimage.uniform_filter(t.dem, size=67, mode="nearest")
    prom = np.maximum(t.dem[pr, pc] - mean[pr, pc], 1.0)
    del mean
    n = p.n_cameras + p.n_lookouts
    area_km2 = mask.sum() * CELL * CELL / 1e6
    spacing = np.sqrt(area_km2 * 1e6 / n) * 0.6
    o = weighted_order(prom ** 1.5, rng)
    x, y = t.xy(pr[o], pc[o])
    while True:
        keep = thin(x, y, spacing, limit=n)
        if len(keep) >= n or spacing < 100:
            break
        spacing *= 0.85
    sel = o[keep]
    cx, cy = t.xy(pr[sel], pc[sel])
    k = len(sel)
    # lookouts on the most prominent of the chosen peaks
    rank = np.argsort(-prom[sel], kind="stable")
    kind = np.where(rng.random(k) < 0.6, "video", "thermal").astype(object)
    kind[rank[: p.n_lookouts]] = "lookout"
    height = np.where(kind == "lookout", rng.uniform(15, 25, k),
                      np.where(kind == "thermal", rng.uniform(15, 40, k), rng.uniform(10, 35, k))).round(1)
    rng_m = np.where(kind == "video", rng.uniform(3000, 6500, k), rng.uniform(5000, 10000, k)).round(-2)
    directional = (kind != "lookout") & (rng.random(k) < 0.25)
    az = np.where(directional, rng.uniform(0, 360, k).round(0), np.nan)
    fov = np.where(directional, rng.uniform(90, 120, k).round(0), np.nan)
    tw = s.township_at(cx, cy)
    tw_names = s.townships["name"].to_numpy()
    tw_codes = s.townships["code"].to_numpy()
    _, nv = cKDTree(s.villages[["x", "y"]].to_numpy()).query(np.c_[cx, cy])
    roots = [v[:-1] for v in s.villages["name"].to_numpy()[nv]]
    peak_word = np.asarray(["尖", "岗", "山", "顶", "峰"], dtype=object)[rng.integers(0, 5, k)]
    suffix = {"video": "视频监控", "thermal": "热成像监控", "lookout": "瞭望台"}
    names: list[str] = []
    seen: dict[str, int] = {}
    for rt, pw, kd in zip(roots, peak_word, kind):
        base = f"{rt}{pw}{suffix[kd]}"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}{seen[base]}")
    seq = np.zeros(k, dtype=np.int64)
    for j in np.unique(tw):
        ss = np.flatnonzero(tw == j)
        seq[ss] = np.arange(1, len(ss) + 1)
    status = np.where(rng.random(k) < 0.03, "damaged", "available").astype(object)
    return pd.DataFrame({
        "name": names, "camera_id": [f"JK{tw_codes[j]}{q:03d}" for j, q in zip(tw, seq)], "type": kind,
        "height": height, "range": rng_m, "azimuth": az, "fov": fov, "township": tw_names[tw],
        "status": status, "x": cx, "y": cy,
    })


# ---- reserve depots ----------------------------------------------------------------------------
#: stock per person of the area's population, per item (relief reserve norms are set per head; some
#: items are deliberately short, so a dispatch has shortages to list)
_DEPOT_STOCK_PER_HEAD = {"rice_kg": 0.8, "drinking_l": 6.0, "tents": 0.004, "quilts": 0.35, "family_kits": 0.08}


def build_depots(p: Params, s: Settlements, roads: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Relief reserve depots (储备库): one at each county seat, then township seats spread apart, beside a road.

    A county gets 3 depots, a prefecture one per county plus a prefecture depot (11 for 10
    counties). Stocks of rice, drinking water, tents, quilts and family kits are a share of the
    area's people (the county depot holds about half), so a large event runs short of some items.

    Returns
    -------
    pandas.DataFrame
        name, depot_id, township, responsible, phone, the stock fields, status, x, y (metres).
    """
    from data.settlements import person_names, phones

    tw = s.townships
    seats = tw["seat_village"].to_numpy()
    vxy = s.villages[["x", "y"]].to_numpy()
    n_target = 3 if p.scale == "county" else p.n_counties + 1
    city = [int(j) for j in np.flatnonzero(seats < len(s.counties))]
    chosen = city[:n_target]
    while len(chosen) < min(n_target, len(tw)):   # farthest township seat from those chosen
        d = np.min(np.hypot(*(vxy[seats][:, None, :] - vxy[seats[chosen]][None, :, :]).transpose(2, 0, 1)), axis=1)
        d[chosen] = -1
        chosen.append(int(np.argmax(d)))
    extra = n_target - len(chosen)          # a prefecture depot beside the first county's
    picks = chosen + [chosen[0]] * max(0, extra)
    coords = shapely.get_coordinates(shapely.get_parts(
        shapely.multilinestrings(roads["geometry"][roads["road_class"] != "village"].to_numpy())))
    tree = cKDTree(coords)
    xy = vxy[seats[picks]] + rng.uniform(-400, 400, (len(picks), 2))
    xy[len(chosen):] += 1500.0
    _, k = tree.query(xy)
    xy = coords[k] + rng.uniform(-25, 25, (len(picks), 2))
    people = float(s.grids.loc[s.grids["shelter"] != "", "population"].sum())
    share = np.where(np.isin(picks, city), 0.5, 0.5 / max(1, len(picks) - len(city)))
    if p.scale != "county":
        share = np.full(len(picks), 1.0 / len(picks))
    share = share / share.sum() * rng.uniform(0.85, 1.15, len(picks))
    names = []
    for i, j in enumerate(picks):
        if i >= len(chosen):
            names.append("市级救灾物资储备库")
        elif j in city:
            names.append(s.counties["name"].iloc[int(seats[j])] + "救灾物资储备库")
        else:
            names.append(tw["name"].iloc[j] + "应急物资储备点")
    out = pd.DataFrame({
        "name": names, "depot_id": [f"CK{tw['code'].iloc[j]}{i + 1:02d}" for i, j in enumerate(picks)],
        "township": tw["name"].to_numpy()[picks], "responsible": person_names(rng, len(picks)),
        "phone": phones(rng, len(picks)), "status": "available", "x": xy[:, 0], "y": xy[:, 1]})
    for item, per_head in _DEPOT_STOCK_PER_HEAD.items():
        q = people * per_head * share
        out[item] = np.round(q, -1).astype(np.float64) if item in ("rice_kg", "drinking_l") \
            else np.round(q).astype(np.int64)
    return out
