"""Administrative areas, villages, the five-level transfer grids and the shelters of the demo.

Everything here is derived from the :class:`~data.terrain.Terrain` and one seeded generator:

* the county (or prefecture) outline and the county, township and village areas are cost-distance
  Voronoi regions on a coarse (120 m) grid whose edge cost grows with the grade, so boundaries run
  along ridges; each level is computed with the edges crossing its parent's boundary removed, so
  every area nests exactly in its parent;
* villages sit on valley floors near streams, about a quarter on hillsides, township seats are villages
  picked far apart, and the group and household-cluster grids are Voronoi cells of settlement
  seeds clipped to a small buffer and to the parent grid;
* people, households and vulnerable people are allocated to the leaf grids (more near rivers) and
  summed up the hierarchy; shelters stand on higher ground near villages.

Names of people, places and phone numbers are synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio import features
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from data.terrain import CELL, Terrain, block_reduce, thin, weighted_order

#: weight of a hillside block (slope 6-20°, 15-120 m above the nearest stream) against a valley floor's ~1-2.5
#: when villages are drawn: about a quarter of the villages end up on slopes
HILLSIDE_WEIGHT = 0.08

# ---- scale parameters ------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """Sizes and counts of one generated area (see :func:`make_params`).

    ``total_grids``, ``households`` and ``population`` are exact when given (None: derived from
    the number of leaf grids); counts of shelters, water sources and cameras are exact; villages
    and groups per village are targets. The ``*_factor`` fields are the coarsening factors of the
    region (120 m), road (60 m) and forest grids relative to the 30 m DEM.
    """

    scale: str
    n: int
    n_counties: int
    townships_per_county: tuple[int, int]
    n_villages: int
    groups_per_village: float
    total_grids: int
    households: int | None
    population: int | None
    n_shelters: int
    n_water: int
    n_cameras: int
    n_lookouts: int
    stream_km2: float
    mask_fraction: float
    region_factor: int = 4
    road_factor: int = 2
    forest_factor: int = 4
    road_loops: float = 0.2
    road_loop_quantile: float = 0.5

    @property
    def area_ratio(self) -> float:
        """Area relative to the full-size area of this scale."""
        full = 1600 if self.scale == "county" else 5000
        return (self.n / full) ** 2


def make_params(scale: str, size: int | None = None) -> Params:
    """Parameters of ``scale`` ("county" or "prefecture"), optionally on a smaller ``size`` x
    ``size`` DEM (counts shrink with the area; used by tests)."""
    if scale == "county":
        full, n = 1600, size or 1600
        r = (n / full) ** 2
        return Params(
            scale, n, 1, (12, 12) if r > 0.5 else (max(3, round(12 * r)),) * 2,
            n_villages=max(12, round(180 * r)), groups_per_village=4.0,
            total_grids=max(60, round(2000 * r)), households=None, population=None,
            n_shelters=max(8, round(60 * r)), n_water=max(30, round(360 * r)),
            n_cameras=max(6, round(42 * r)), n_lookouts=max(1, round(3 * r)),
            stream_km2=1.0, mask_fraction=0.62, region_factor=4, road_factor=2, forest_factor=4)
    if scale == "prefecture":
        full, n = 5000, size or 5000
        r = (n / full) ** 2
        exact = size is None
        return Params(
            scale, n, max(2, round(10 * r)), (10, 14),
            n_villages=max(30, round(2500 * r)), groups_per_village=4.0,
            total_grids=41_410 if exact else round(41_410 * r),
            households=154_505 if exact else None, population=515_030 if exact else None,
            n_shelters=max(20, round(1500 * r)), n_water=4_836 if exact else round(4_836 * r),
            n_cameras=540 if exact else max(10, round(540 * r)), n_lookouts=39 if exact else max(2, round(39 * r)),
            stream_km2=2.0, mask_fraction=0.8, region_factor=4, road_factor=2, forest_factor=8,
            road_loops=0.5, road_loop_quantile=0.75)
    raise ValueError(f"unknown scale {scale!r}; use 'county' or 'prefecture'")


# ---- synthetic names -------------------------------------------------------------------------
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
             "任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方邹熊邱江尹雷毛蓝雷季柳兰翁")
_GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文海林辉鹏飞宏斌波云春燕晓俊峰"
          "荣庆福根水土金木寿祥德法友松柏梅竹新忠良")
_PLACE_FIRST = ("上下大小东西南北前后中新老高黄石竹金白青龙梅桃杨张王李陈吴徐枫柳松桐茶葛岩泉凤马牛鹤云"
                "雾岚溪湖坪塘叶季周毛蓝樟杉桂莲麻")
_PLACE_LAST = "坪坑岙源垟坞岭口湾坳田洋塘头桥庄埠垄岗岩山溪坝畈圩"
_PLACE_MID = "家山岭水石竹田湖溪"
_COUNTY_ROOTS = ("云岭", "松岩", "溪口", "枫源", "竹坪", "石垟", "梅岭", "桐川", "岚峰", "瓯源", "青垟", "鹤溪")


def place_names(rng: np.random.Generator, k: int, taken: set[str] | None = None) -> list[str]:
    """Distinct synthetic Chinese place-name roots ("上坪", "石门坑"), 2-character ones first.

    Parameters
    ----------
    rng : numpy.random.Generator
        Seeded generator (the order is random).
    k : int
        How many roots.
    taken : set of str, optional
        Roots not to return.

    Returns
    -------
    list of str
        ``k`` roots (fewer only if the pool of about 19,000 runs out).
    """
    two = [a + b for a in _PLACE_FIRST for b in _PLACE_LAST if a != b]
    three = [a + m + b for a in _PLACE_FIRST for m in _PLACE_MID for b in _PLACE_LAST if len({a, m, b}) == 3]
    two = [two[i] for i in rng.permutation(len(two))]
    three = [three[i] for i in rng.permutation(len(three))]
    out: list[str] = []
    seen = set(taken or ())
    for s in two + three:
        if s not in seen:
            out.append(s)
            seen.add(s)
            if len(out) == k:
                break
    return out


def person_names(rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` synthetic Chinese person names (surname + one or two given-name characters)."""
    sur = rng.integers(0, len(_SURNAMES), k)
    g1 = rng.integers(0, len(_GIVEN), k)
    g2 = rng.integers(0, len(_GIVEN), k)
    two = rng.random(k) < 0.7
    return np.array([_SURNAMES[s] + _GIVEN[a] + (_GIVEN[b] if t else "")
                     for s, a, b, t in zip(sur, g1, g2, two)], dtype=object)


def phones(rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` synthetic 11-digit mobile numbers starting 13x, 15x or 18x."""
    second = rng.choice(np.array(["3", "5", "8"]), k)
    third = rng.integers(0, 10, k)
    third = np.where((second == "5") & (third == 4), 8, third)
    rest = rng.integers(0, 100_000_000, k)
    return np.array([f"1{s}{t}{r:08d}" for s, t, r in zip(second, third, rest)], dtype=object)


# ---- cost-distance regions on the coarse grid ------------------------------------------------
def grid_graph(z: np.ndarray, cell: float, allowed: np.ndarray, same: np.ndarray | None = None,
                diagonal: bool = False, grade0: float = 0.08,
                extra_cost: np.ndarray | None = None) -> sparse.csr_matrix:
    """Symmetric grid graph whose edge cost is ``length * (1 + (grade / grade0)^2)``.

    Parameters
    ----------
    z : ndarray
        Elevation of the grid cells (metres).
    cell : float
        Cell size (metres).
    allowed : ndarray of bool
        Only cells set here get edges.
    same : ndarray, optional
        Labels; edges join only cells with equal labels (so regions nest in their parents).
    diagonal : bool
        8-connected instead of 4-connected.
    grade0 : float
        Grade at which an edge costs twice its length.
    extra_cost : ndarray, optional
        Per-cell factor >= 1 applied to edges touching the cell (the larger of the two).

    Returns
    -------
    scipy.sparse.csr_matrix
        Directed adjacency with both directions of every edge; node id is ``row * ncols + col``.
    """
    nr, nc = z.shape
    idx = np.arange(nr * nc, dtype=np.int64).reshape(nr, nc)
    offs = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if diagonal else [])
    rows, cols, vals = [], [], []
    for dr, dc in offs:
        a = (slice(0, nr - dr), slice(max(0, -dc), nc - max(0, dc)))
        b = (slice(dr, nr), slice(max(0, dc), nc - max(0, -dc)))
        ok = allowed[a] & allowed[b]
        if same is not None:
            ok &= same[a] == same[b]
        length = cell * (np.sqrt(2.0) if dr and dc else 1.0)
        grade = np.abs(z[a] - z[b])[ok] / length
        w = length * (1.0 + (grade / grade0) ** 2)
        if extra_cost is not None:
            w *= np.maximum(extra_cost[a][ok], extra_cost[b][ok])
        rows.append(idx[a][ok])
        cols.append(idx[b][ok])
        vals.append(w)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    g = sparse.coo_matrix((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))),
                          shape=(nr * nc, nr * nc))
    return g.tocsr()


def _voronoi(graph: sparse.csr_matrix, seeds: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cost-distance Voronoi: (label = position of the nearest seed or -1, distance) per cell."""
    dist, _pred, src = csgraph.dijkstra(graph, directed=True, indices=np.asarray(seeds, dtype=np.int64),
                                        min_only=True, return_predecessors=True)
    pos = np.full(graph.shape[0], -1, dtype=np.int64)
    pos[np.asarray(seeds, dtype=np.int64)] = np.arange(len(seeds))
    lab = np.where(src >= 0, pos[np.maximum(src, 0)], -1).astype(np.int32)
    return lab.reshape(shape), dist.reshape(shape)


def polygonise(labels: np.ndarray, transform: Affine, n_labels: int) -> np.ndarray:
    """One polygon per label ``0..n_labels-1`` of a label raster (labels < 0 are outside).

    A label in several pieces keeps its largest piece (regions built here are connected).
    """
    geoms: list[list] = [[] for _ in range(n_labels)]
    for g, v in features.shapes(labels.astype(np.int32), mask=labels >= 0, transform=transform,
                                connectivity=4):
        geoms[int(v)].append(shapely.geometry.shape(g))
    out = np.empty(n_labels, dtype=object)
    for i, parts in enumerate(geoms):
        if not parts:
            out[i] = shapely.Polygon()
        elif len(parts) == 1:
            out[i] = parts[0]
        else:
            out[i] = max(parts, key=lambda p: p.area)
    return out


@dataclass
class Settlements:
    """Areas, villages, grids and shelters, in projected metres (EPSG:4549).

    Attributes
    ----------
    townships : pandas.DataFrame
        name, code, county (index), seat_village (index into villages), geometry (polygon).
    villages, grids, shelters : pandas.DataFrame
        Layer tables (catalogue fields) with x, y (points) or geometry (polygons) in metres;
        shelters also carry township_idx, low (deliberately low site) and hand (m).
    counties : pandas.DataFrame
        name, code, seat_village, geometry (county outline).
    township_raster : ndarray of int32
        Township index per coarse cell (-1 outside).
    mask : ndarray of bool
        The county (prefecture) outline on the coarse grid.
    coarse_transform : Affine
        Transform of the coarse region rasters.
    group_xy, household_xy : ndarray, shape (n, 2)
        Settlement seeds of the group and household-cluster grids (metres).
    extra : dict
        ``village_raster`` and ``county_raster`` (coarse label rasters).
    """

    townships: pd.DataFrame
    villages: pd.DataFrame
    grids: pd.DataFrame
    shelters: pd.DataFrame
    counties: pd.DataFrame
    township_raster: np.ndarray
    mask: np.ndarray
    coarse_transform: Affine
    group_xy: np.ndarray
    household_xy: np.ndarray
    extra: dict = field(default_factory=dict)

    def township_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Township index of projected points (-1 outside)."""
        t = self.coarse_transform
        r = np.floor((np.asarray(y) - t.f) / t.e).astype(np.int64)
        c = np.floor((np.asarray(x) - t.c) / t.a).astype(np.int64)
        nr, nc = self.township_raster.shape
        ok = (r >= 0) & (r < nr) & (c >= 0) & (c < nc)
        out = np.full(r.shape, -1, dtype=np.int32)
        out[ok] = self.township_raster[r[ok], c[ok]]
        return out


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder).

    Parameters
    ----------
    total : int
        The exact sum wanted.
    weights : ndarray
        Non-negative weights, not all zero.
    minimum : int
        Every share is at least this.

    Returns
    -------
    ndarray of int64
        Shares summing exactly to ``total``.
    """
    w = np.asarray(weights, dtype=np.float64)
    n = w.size
    rest = total - minimum * n
    if rest < 0:
        raise ValueError("total too small for the minimum")
    share = rest * w / w.sum()
    base = np.floor(share).astype(np.int64)
    short = rest - int(base.sum())
    if short:
        frac = share - base
        base[np.argsort(-frac, kind="stable")[:short]] += 1
    return base + minimum


def _pick_cells(t: Terrain, f: int, cr: np.ndarray, cc: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fine cell with the smallest ``score`` inside each coarse cell (cr, cc)."""
    off = np.arange(f)
    rr = (cr[:, None, None] * f + off[None, :, None]).repeat(f, axis=2)
    ccc = (cc[:, None, None] * f + off[None, None, :]).repeat(f, axis=1)
    s = score[rr, ccc].reshape(len(cr), -1)
    k = np.argmin(s, axis=1)
    return rr.reshape(len(cr), -1)[np.arange(len(cr)), k], ccc.reshape(len(cr), -1)[np.arange(len(cr)), k]


def build_settlements(t: Terrain, p: Params, rng: np.random.Generator) -> Settlements:
    """Areas, villages, five-level transfer grids and shelters on terrain ``t``.

    Parameters
    ----------
    t : Terrain
        The DEM and its hydrology.
    p : Params
        Scale parameters.
    rng : numpy.random.Generator
        Seeded generator.

    Returns
    -------
    Settlements
    """
    f = p.region_factor
    m = p.n // f
    tc = t.transform * Affine.scale(f)
    ccell = CELL * f
    zc = block_reduce(t.dem, f)
    slope_c = block_reduce(t.slope, f)
    hand_c = block_reduce(t.hand, f, "min")
    stream_c = block_reduce(t.streams, f, "any")
    upa_c = block_reduce(t.upa, f, "max")
    every = np.ones((m, m), dtype=bool)
    g_all = grid_graph(zc, ccell, every)

    # -- county seats on wide valley floors of large rivers, spread apart
    d_river, (ri, ci) = ndimage.distance_transform_edt(~(upa_c >= 40.0), return_indices=True)
    d_river *= ccell
    a_near = upa_c[ri, ci]
    margin = max(3, int(m * (0.2 if p.n_counties == 1 else 0.07)))
    inner = np.zeros((m, m), dtype=bool)
    inner[margin:m - margin, margin:m - margin] = True
    flat = (slope_c < 10) & (hand_c < 6) & ~stream_c
    cand = inner & flat & (d_river < 600)
    if not cand.any():
        cand = inner & (slope_c < 15) & ~stream_c
    w = np.where(cand, np.sqrt(np.minimum(a_near, 3000.0)) * np.exp(-slope_c / 6.0), 0).ravel()
    order = weighted_order(w, rng, k=min(4000, int((w > 0).sum())))
    cy, cx = np.divmod(order, m)
    spacing = ccell * m * (0.9 / np.sqrt(p.n_counties)) * 0.55
    keep = thin(cx * ccell, cy * ccell, spacing, limit=p.n_counties)
    while len(keep) < p.n_counties:
        spacing *= 0.8
        keep = thin(cx * ccell, cy * ccell, spacing, limit=p.n_counties)
    county_seeds = order[keep]

    # -- outline: cells nearer (in cost) to a county seat than W + their cost to the map edge
    d_seed = csgraph.dijkstra(g_all, indices=county_seeds, min_only=True).reshape(m, m)
    border = np.zeros((m, m), dtype=bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    d_edge = csgraph.dijkstra(g_all, indices=np.flatnonzero(border), min_only=True).reshape(m, m)
    diff = (d_seed - d_edge).ravel()
    wcut = max(0.0, float(np.quantile(diff, p.mask_fraction)))
    mask = d_seed <= wcut + d_edge
    mask[:2, :] = mask[-2:, :] = mask[:, :2] = mask[:, -2:] = False
    lab, _ = ndimage.label(mask)
    keep_lab = np.unique(lab.ravel()[county_seeds])
    mask = ndimage.binary_fill_holes(np.isin(lab, keep_lab[keep_lab > 0]))
    del d_seed, d_edge, diff, lab

    # -- counties
    g_mask = grid_graph(zc, ccell, mask)
    county_r, _ = _voronoi(g_mask, county_seeds, (m, m))
    county_r[~mask] = -1

    # -- villages: valley floors near streams, some hamlets on hillsides
    area_km2 = mask.sum() * ccell * ccell / 1e6
    ok = mask & ~stream_c & (slope_c < 20) & (hand_c < 120)
    ok[:3, :] = ok[-3:, :] = ok[:, :3] = ok[:, -3:] = False
    near = d_river < 1500
    hillside = (slope_c >= 6) & (slope_c < 20) & (hand_c >= 15) & (hand_c < 120)   # 山腰村: hamlets on slopes
    w_v = (np.exp(-hand_c / 10.0) * np.exp(-slope_c / 7.0) * (1.0 + 1.5 * near)
           + 0.04 * ((slope_c < 12) & (hand_c < 100)) + HILLSIDE_WEIGHT * hillside)
    w_v = np.where(ok, w_v, 0.0).ravel()
    seat_set = county_seeds.tolist()
    pool = weighted_order(w_v, rng, k=min(int((w_v > 0).sum()), p.n_villages * 40))
    pool = np.concatenate([county_seeds, pool[~np.isin(pool, county_seeds)]])
    py, px = np.divmod(pool, m)
    spacing = 0.55 * np.sqrt(area_km2 * 1e6 / p.n_villages)
    while True:
        keep = thin(px * ccell, py * ccell, spacing, limit=p.n_villages)
        if len(keep) >= p.n_villages or spacing < 2 * ccell:
            break
        spacing *= 0.9
    vcells = pool[keep]
    assert np.all(vcells[:len(seat_set)] == county_seeds)
    nv = len(vcells)
    vcr, vcc = np.divmod(vcells, m)
    fine_score = t.slope + np.where(t.streams, 100.0, 0.0).astype(np.float32) + t.hand * np.float32(0.2)
    vr, vcol = _pick_cells(t, f, vcr, vcc, fine_score)
    on_slope = hillside[vcr, vcc]
    on_slope[:len(seat_set)] = False          # county seats stay in the valleys
    if on_slope.any():  # a hillside hamlet stands on the moderately sloping cell of its block, off the streams
        slope_score = np.abs(t.slope - np.float32(12.0)) + np.where(t.streams, 100.0, 0.0).astype(np.float32)
        vr[on_slope], vcol[on_slope] = _pick_cells(t, f, vcr[on_slope], vcc[on_slope], slope_score)
    vx, vy = t.xy(vr, vcol)
    v_county = county_r[vcr, vcc]

    # -- township seats: the county seat plus villages far apart in each county
    tws_seeds: list[int] = []
    tws_county: list[int] = []
    for ci_ in range(p.n_counties):
        members = np.flatnonzero(v_county == ci_)
        lo, hi = p.townships_per_county
        k = int(rng.integers(lo, hi + 1))
        k = min(k, len(members))
        chosen = [ci_]  # village index ci_ is this county's seat (seats come first)
        dmin = np.hypot(vx[members] - vx[ci_], vy[members] - vy[ci_])
        valley = w_v[vcells[members]] ** 0.25
        while len(chosen) < k:
            j = int(np.argmax(dmin * valley * rng.uniform(0.85, 1.0, len(members))))
            chosen.append(int(members[j]))
            dmin = np.minimum(dmin, np.hypot(vx[members] - vx[members[j]], vy[members] - vy[members[j]]))
        tws_seeds += chosen
        tws_county += [ci_] * len(chosen)
    tws_seeds_arr = np.asarray(tws_seeds)
    g_cty = grid_graph(zc, ccell, mask, same=county_r)
    town_r, _ = _voronoi(g_cty, vcells[tws_seeds_arr], (m, m))
    town_r[~mask] = -1
    nt = len(tws_seeds)
    v_town = town_r[vcr, vcc]
    g_town = grid_graph(zc, ccell, mask, same=town_r)
    vill_r, _ = _voronoi(g_town, vcells, (m, m))
    vill_r[~mask] = -1
    del g_all, g_mask, g_cty, g_town

    county_geoms = polygonise(county_r, tc, p.n_counties)
    town_geoms = polygonise(town_r, tc, nt)
    vill_geoms = polygonise(vill_r, tc, nv)

    # -- names and codes
    roots = place_names(rng, nv + nt + 40)
    v_roots = roots[:nv]
    county_names = [(_COUNTY_ROOTS[i] if i < len(_COUNTY_ROOTS) else f"{_COUNTY_ROOTS[i % 12]}{i}") + "县"
                    for i in range(p.n_counties)]
    town_names = []
    for sv, cty in zip(tws_seeds, tws_county):
        if sv == cty:  # county seat
            town_names.append("城关镇" if p.n_counties == 1 else county_names[cty] + "城关镇")
        else:
            town_names.append(v_roots[sv] + ("镇" if rng.random() < 0.45 else "乡"))
    v_names = np.array([r + "村" for r in v_roots], dtype=object)
    county_codes = [f"3399{i + 1:02d}" for i in range(p.n_counties)]
    town_codes = np.empty(nt, dtype=object)
    for ci_ in range(p.n_counties):
        for k, ti in enumerate(np.flatnonzero(np.asarray(tws_county) == ci_)):
            town_codes[ti] = county_codes[ci_] + f"{101 + k:03d}"
    v_codes = np.empty(nv, dtype=object)
    for j in range(nt):
        for k, v in enumerate(np.flatnonzero(v_town == j)):
            v_codes[v] = town_codes[j] + f"{201 + k:03d}"

    counties = pd.DataFrame({"name": county_names, "code": county_codes, "geometry": county_geoms,
                             "seat_village": np.arange(p.n_counties)})
    townships = pd.DataFrame({"name": town_names, "code": list(town_codes), "county": np.asarray(tws_county),
                              "seat_village": tws_seeds_arr, "geometry": town_geoms})

    # -- groups: settlement seeds around each village on low, gentle ground
    vill = dict(x=vx, y=vy, name=v_names, township=v_town, county=v_county, code=v_codes,
                hand=t.hand[vr, vcol], geometry=vill_geoms)
    grp = _group_seeds(t, p, rng, vill, vill_r, f)
    grp_geoms = _clip_cells(np.c_[grp["x"], grp["y"]], vill_geoms[grp["village"]],
                            rng.uniform(260.0, 380.0, len(grp["x"])), t)
    # -- household clusters inside groups
    n_top = p.n_counties + nt + nv + len(grp["x"])
    hh = _household_seeds(t, p, rng, grp, grp_geoms, p.total_grids - n_top)
    hh_geoms = _clip_cells(np.c_[hh["x"], hh["y"]], grp_geoms[hh["group"]],
                           rng.uniform(80.0, 130.0, len(hh["x"])), t)

    grids, leaf_info = _grid_table(t, p, rng, counties, townships, vill, grp, grp_geoms, hh, hh_geoms)
    villages = _village_table(vill, townships, grids)
    shelters = _shelters(t, p, rng, vill, townships, counties, town_r, mask, tc, leaf_info)
    _assign_shelters(grids, leaf_info, shelters)
    return Settlements(townships, villages, grids, shelters, counties, town_r, mask, tc,
                       np.c_[grp["x"], grp["y"]], np.c_[hh["x"], hh["y"]],
                       extra={"village_raster": vill_r, "county_raster": county_r})


def _group_seeds(t: Terrain, p: Params, rng: np.random.Generator, vill: dict, vill_r: np.ndarray,
                 f: int) -> dict:
    """Group settlement seeds: the village point plus nearby low, gentle cells of the same village."""
    nv = len(vill["x"])
    want = np.clip(rng.poisson(p.groups_per_village - 1, nv) + 1, 1, 9)
    ncand = 48
    ox = rng.normal(0, 380.0, (nv, ncand))
    oy = rng.normal(0, 380.0, (nv, ncand))
    ox[:, 0] = oy[:, 0] = 0.0
    cx = vill["x"][:, None] + ox
    cy = vill["y"][:, None] + oy
    r, c = t.rowcol(cx, cy)
    cx, cy = t.xy(r, c)  # snap to cell centres
    ok = (t.slope[r, c] < 18) & (t.hand[r, c] < 60) & ~t.streams[r, c]
    ok &= vill_r[r // f, c // f] == np.arange(nv)[:, None]
    ok[:, 0] = True
    # prefer low ground close to the village
    pri = np.where(ok, t.hand[r, c] * 0.05 + np.hypot(ox, oy) / 400.0 + rng.random((nv, ncand)), np.inf)
    pri[:, 0] = -1.0
    xs, ys, vs = [], [], []
    for v in range(nv):
        o = np.argsort(pri[v], kind="stable")
        o = o[np.isfinite(pri[v, o])]
        k = thin(cx[v, o], cy[v, o], 150.0, limit=int(want[v]))
        xs.append(cx[v, o[k]])
        ys.append(cy[v, o[k]])
        vs.append(np.full(len(k), v))
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    village = np.concatenate(vs)
    rr, cc = t.rowcol(x, y)
    return {"x": x, "y": y, "village": village, "hand": t.hand[rr, cc]}


def _household_seeds(t: Terrain, p: Params, rng: np.random.Generator, grp: dict, grp_geoms: np.ndarray,
                     n_total: int) -> dict:
    """Household-cluster seeds inside each group polygon; exactly ``n_total`` of them.

    Each group gets none (the group is then a leaf grid) or at least two clusters.
    """
    ng = len(grp["x"])
    ncand = 40
    ox = rng.normal(0, 110.0, (ng, ncand))
    oy = rng.normal(0, 110.0, (ng, ncand))
    cx = grp["x"][:, None] + ox
    cy = grp["y"][:, None] + oy
    r, c = t.rowcol(cx, cy)
    cx, cy = t.xy(r, c)
    inside = shapely.contains_xy(grp_geoms[:, None], cx, cy) & (t.slope[r, c] < 28) & ~t.streams[r, c]
    # a cell centre on the shared edge of two groups can test inside both: drop such points
    flat_idx = (r * t.shape[1] + c)[inside]
    owner = np.broadcast_to(np.arange(ng)[:, None], inside.shape)[inside]
    pair = np.unique(np.c_[flat_idx, owner], axis=0)
    cells_u, n_owner = np.unique(pair[:, 0], return_counts=True)
    shared = cells_u[n_owner > 1]
    if len(shared):
        inside &= ~np.isin(r * t.shape[1] + c, shared)
    pri = np.where(inside, np.hypot(ox, oy) + rng.random((ng, ncand)) * 80.0, np.inf)
    cand_x, cand_y = [], []
    cap = np.zeros(ng, dtype=np.int64)
    for g in range(ng):
        o = np.argsort(pri[g], kind="stable")
        o = o[np.isfinite(pri[g, o])]
        k = thin(cx[g, o], cy[g, o], 45.0, limit=12)
        cand_x.append(cx[g, o[k]])
        cand_y.append(cy[g, o[k]])
        cap[g] = len(k)
    # how many clusters per group: 0 or 2..cap, summing to n_total
    n_total = int(max(0, min(n_total, cap[cap >= 2].sum())))
    avg = n_total / max(1, ng)
    frac = min(0.92, max(0.05, avg / 2.8))
    want = np.where((rng.random(ng) < frac) & (cap >= 2),
                    2 + rng.poisson(max(0.0, avg / frac - 2.0), ng), 0)
    want = np.minimum(want, cap)
    diff = n_total - int(want.sum())
    order = rng.permutation(ng)
    guard = 0
    while diff != 0 and guard < 50:
        guard += 1
        for g in order:
            if diff > 0:
                if want[g] >= 2 and want[g] < cap[g]:
                    want[g] += 1
                    diff -= 1
                elif want[g] == 0 and cap[g] >= 2 and diff >= 2:
                    want[g] = 2
                    diff -= 2
            elif diff < 0:
                if want[g] > 2:
                    want[g] -= 1
                    diff += 1
                elif want[g] == 2 and diff <= -2:
                    want[g] = 0
                    diff += 2
            if diff == 0:
                break
    if diff != 0:  # only odd remainders can be left: fix with one group going 2 -> 3 or 3 -> 2
        for g in order:
            if diff > 0 and 2 <= want[g] < cap[g]:
                want[g] += 1
                diff -= 1
            elif diff < 0 and want[g] > 2:
                want[g] -= 1
                diff += 1
            if diff == 0:
                break
    xs = [cand_x[g][:want[g]] for g in range(ng)]
    ys = [cand_y[g][:want[g]] for g in range(ng)]
    gs = [np.full(want[g], g) for g in range(ng)]
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    rr, cc = t.rowcol(x, y)
    return {"x": x, "y": y, "group": np.concatenate(gs).astype(np.int64), "hand": t.hand[rr, cc],
            "count": want}


def _clip_cells(seeds: np.ndarray, parents: np.ndarray, radius: np.ndarray, t: Terrain) -> np.ndarray:
    """Voronoi cells of ``seeds`` clipped to a buffer of each seed and to its parent polygon;
    the piece holding the seed is kept, so each result is one polygon inside its parent."""
    r0, c0 = t.shape
    tr = t.transform
    box = shapely.box(tr.c, tr.f + r0 * tr.e, tr.c + c0 * tr.a, tr.f)
    pts = np.asarray(shapely.points(seeds))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box, ordered=True))
    buf = shapely.buffer(pts, radius, quad_segs=6)
    out = shapely.intersection(shapely.intersection(cells, buf), parents)
    out = shapely.make_valid(out)
    parts, idx = shapely.get_parts(out, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, idx = parts[poly], idx[poly]
    hit = shapely.contains_xy(parts, seeds[idx, 0], seeds[idx, 1])
    score = shapely.area(parts) + np.where(hit, 1e12, 0.0)
    best = np.full(len(seeds), -1, dtype=np.int64)
    o = np.lexsort((-score, idx))
    first = np.r_[True, idx[o][1:] != idx[o][:-1]]
    best[idx[o][first]] = o[first]
    res = np.empty(len(seeds), dtype=object)
    good = best >= 0
    res[good] = parts[best[good]]
    res[~good] = shapely.intersection(shapely.buffer(pts[~good], 20.0), parents[~good])
    return res


def _grid_table(t: Terrain, p: Params, rng: np.random.Generator, counties: pd.DataFrame,
                townships: pd.DataFrame, vill: dict, grp: dict, grp_geoms: np.ndarray, hh: dict,
                hh_geoms: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """The five-level grid table; people are allocated to the leaves and summed upwards."""
    ng, nh, nv, nt = len(grp["x"]), len(hh["x"]), len(vill["x"]), len(townships)
    group_is_leaf = hh["count"] == 0
    leaf_hand = np.concatenate([grp["hand"][group_is_leaf], hh["hand"]])
    n_leaf = len(leaf_hand)
    base = rng.lognormal(0.0, 0.45, n_leaf) * (1.0 + 1.8 * np.exp(-np.maximum(leaf_hand, 0) / 8.0))
    base[: int(group_is_leaf.sum())] *= 2.2  # a whole group holds more households than a cluster
    households_total = p.households if p.households is not None else int(round(n_leaf * 5.3))
    hh_leaf = allocate(households_total, base, minimum=2)
    population_total = p.population if p.population is not None else int(round(households_total * 3.33))
    pop_leaf = hh_leaf + allocate(population_total - households_total,
                                   hh_leaf * rng.uniform(1.8, 2.8, n_leaf), minimum=0)
    vul_leaf = np.minimum(rng.binomial(pop_leaf, rng.uniform(0.09, 0.21, n_leaf)), pop_leaf)
    leaf_vals = np.c_[hh_leaf, pop_leaf, vul_leaf]
    # household-cluster values, then groups
    hh_vals = leaf_vals[int(group_is_leaf.sum()):]
    g_vals = np.zeros((ng, 3), dtype=np.int64)
    np.add.at(g_vals, hh["group"], hh_vals)
    g_vals[group_is_leaf] = leaf_vals[: int(group_is_leaf.sum())]
    v_vals = np.zeros((nv, 3), dtype=np.int64)
    np.add.at(v_vals, grp["village"], g_vals)
    t_vals = np.zeros((nt, 3), dtype=np.int64)
    np.add.at(t_vals, vill["township"], v_vals)
    c_vals = np.zeros((len(counties), 3), dtype=np.int64)
    np.add.at(c_vals, townships["county"].to_numpy(), t_vals)

    # ids and names
    tw_names = townships["name"].to_numpy()
    tw_codes = townships["code"].to_numpy()
    g_no = np.zeros(ng, dtype=np.int64)
    for v in range(nv):
        sel = np.flatnonzero(grp["village"] == v)
        g_no[sel] = np.arange(1, len(sel) + 1)
    h_no = np.zeros(nh, dtype=np.int64)
    for g in np.unique(hh["group"]):
        sel = np.flatnonzero(hh["group"] == g)
        h_no[sel] = np.arange(1, len(sel) + 1)
    v_code = vill["code"]
    g_code = np.array([f"{v_code[v]}{k:02d}" for v, k in zip(grp["village"], g_no)], dtype=object)
    h_code = np.array([f"{g_code[g]}{k:02d}" for g, k in zip(hh["group"], h_no)], dtype=object)
    v_town = vill["township"]
    g_v = grp["village"]
    h_g = hh["group"]
    h_v = g_v[h_g]
    rows = {
        "grid_id": ["WG" + c for c in counties["code"]] + ["WG" + c for c in tw_codes]
        + ["WG" + c for c in v_code] + ["WG" + c for c in g_code] + ["WG" + c for c in h_code],
        "name": [c + "转移避险网格" for c in counties["name"]] + [n + "网格" for n in tw_names]
        + [n + "网格" for n in vill["name"]]
        + [f"{vill['name'][v]}{k}组网格" for v, k in zip(g_v, g_no)]
        + [f"{vill['name'][v]}{g_no[g]}组{k}号联户网格" for v, g, k in zip(h_v, h_g, h_no)],
        "level": ["county"] * len(counties) + ["township"] * nt + ["village"] * nv + ["group"] * ng
        + ["household"] * nh,
        "parent_id": [""] * len(counties)
        + ["WG" + counties["code"].iloc[c] for c in townships["county"]]
        + ["WG" + tw_codes[j] for j in v_town] + ["WG" + v_code[v] for v in g_v]
        + ["WG" + g_code[g] for g in h_g],
        "township": [""] * len(counties) + list(tw_names) + list(tw_names[v_town])
        + list(tw_names[v_town[g_v]]) + list(tw_names[v_town[h_v]]),
        "village": [""] * (len(counties) + nt) + list(vill["name"]) + list(vill["name"][g_v])
        + list(vill["name"][h_v]),
    }
    n_all = len(rows["grid_id"])
    df = pd.DataFrame(rows)
    df["responsible"] = person_names(rng, n_all)
    df["phone"] = phones(rng, n_all)
    vals = np.concatenate([c_vals, t_vals, v_vals, g_vals, hh_vals])
    df["households"] = vals[:, 0].astype(np.int64)
    df["population"] = vals[:, 1].astype(np.int64)
    df["vulnerable"] = vals[:, 2].astype(np.int64)
    df["shelter"] = ""
    df["geometry"] = np.concatenate([counties["geometry"].to_numpy(), townships["geometry"].to_numpy(),
                                     vill["geometry"], grp_geoms, hh_geoms])
    off_g = len(counties) + nt + nv
    leaf_rows = np.concatenate([off_g + np.flatnonzero(group_is_leaf), off_g + ng + np.arange(nh)])
    leaf_xy = np.r_[np.c_[grp["x"], grp["y"]][group_is_leaf], np.c_[hh["x"], hh["y"]]]
    leaf_town = np.r_[v_town[g_v][group_is_leaf], v_town[h_v]]
    info = {"rows": leaf_rows, "xy": leaf_xy, "township": leaf_town, "hand": leaf_hand,
            "population": leaf_vals[:, 1], "village_vals": v_vals, "village_row0": len(counties) + nt}
    return df, info


def _village_table(vill: dict, townships: pd.DataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    """Villages as points, with the totals and responsible person of their village grid."""
    vg = grids[grids["level"] == "village"]
    return pd.DataFrame({
        "name": vill["name"],
        "township": townships["name"].to_numpy()[vill["township"]],
        "village_id": vill["code"],
        "population": vg["population"].to_numpy(),
        "households": vg["households"].to_numpy(),
        "vulnerable": vg["vulnerable"].to_numpy(),
        "responsible": vg["responsible"].to_numpy(),
        "phone": vg["phone"].to_numpy(),
        "x": vill["x"], "y": vill["y"],
    })


_CAP = {"school": (220, 700), "village_hall": (60, 260), "gym": (800, 2000), "hotel": (100, 320),
        "public_building": (120, 450)}
_SUPPLIES = ("棉被、折叠床、饮用水、方便食品", "棉被、饮用水、应急照明", "折叠床、饮用水、药品箱",
             "饮用水、方便食品、发电机", "棉被、雨衣、手电筒、药品")


def _shelters(t: Terrain, p: Params, rng: np.random.Generator, vill: dict, townships: pd.DataFrame,
              counties: pd.DataFrame, town_r: np.ndarray, mask: np.ndarray, tc: Affine,
              leaf: dict) -> pd.DataFrame:
    """Shelters: schools, halls and public buildings on higher ground near villages."""
    nt = len(townships)
    host: list[int] | np.ndarray = []
    typ: list[str] | np.ndarray = []
    names: list[str] | np.ndarray = []
    for j in range(nt):
        sv = int(townships["seat_village"].iloc[j])
        tname = townships["name"].iloc[j]
        is_city = sv < len(counties)
        if is_city:
            cname = counties["name"].iloc[sv]
            short = cname[:-1]
            host += [sv] * 6
            typ += ["school", "school", "gym", "hotel", "public_building", "public_building"]
            names += [f"{short}城关小学", f"{cname}中学", f"{cname}体育馆", f"{short}宾馆",
                      f"{cname}会议中心", f"{tname}综合文化站"]
        else:
            host += [sv, sv]
            typ += ["school", "public_building"]
            names += [f"{tname}中心小学", f"{tname}综合文化站"]
    n_halls = max(0, p.n_shelters - len(host))
    others = np.setdiff1d(np.arange(len(vill["x"])), townships["seat_village"].to_numpy())
    wv = leaf["village_vals"][others, 1].astype(np.float64) + 1.0
    halls = others[weighted_order(wv, rng, k=min(n_halls, len(others)))]
    host += halls.tolist()
    typ += ["village_hall"] * len(halls)
    names += [f"{vill['name'][v]}文化礼堂" for v in halls]
    host = np.asarray(host)[: p.n_shelters]
    typ = np.asarray(typ, dtype=object)[: p.n_shelters]
    names = np.asarray(names, dtype=object)[: p.n_shelters]
    ns = len(host)
    # positions: the nearest good cell on higher ground within about 1 km; ~7 % deliberately low
    low = rng.random(ns) < 0.07
    ncand = 96
    ang = rng.uniform(0, 2 * np.pi, (ns, ncand))
    rad = rng.uniform(60.0, 1000.0, (ns, ncand))
    cx = vill["x"][host][:, None] + rad * np.cos(ang)
    cy = vill["y"][host][:, None] + rad * np.sin(ang)
    r, c = t.rowcol(cx, cy)
    cx, cy = t.xy(r, c)
    f = p.region_factor
    same = town_r[r // f, c // f] == vill["township"][host][:, None]
    hand = t.hand[r, c]
    slope = t.slope[r, c]
    vr, vc = t.rowcol(vill["x"][host], vill["y"][host])
    z_host, hand_host = t.dem[vr, vc][:, None], t.hand[vr, vc][:, None]
    # above the village (a hillside hamlet's hall stands above the hamlet, not down in the valley)
    good_high = (same & (hand >= 6) & (hand <= np.maximum(60, hand_host + 40)) & (slope < 16) & ~t.streams[r, c]
                 & (t.dem[r, c] >= z_host + 3))
    good_low = same & (hand < 2.5) & (slope < 8) & ~t.streams[r, c]
    good = np.where(low[:, None], good_low, good_high)
    fallback = same & ~t.streams[r, c]
    dist = np.hypot(cx - vill["x"][host][:, None], cy - vill["y"][host][:, None])
    pick = np.where(good.any(axis=1), np.argmin(np.where(good, dist, np.inf), axis=1),
                    np.argmax(np.where(fallback, hand - dist * 0.01, -np.inf), axis=1))
    sx = cx[np.arange(ns), pick]
    sy = cy[np.arange(ns), pick]
    # capacities: raw by type, then scaled per township to the low-lying people there
    lo = np.array([_CAP[k][0] for k in typ])
    hi = np.array([_CAP[k][1] for k in typ])
    raw = rng.uniform(lo, hi)
    s_town = vill["township"][host]
    low_people = np.zeros(nt)
    np.add.at(low_people, leaf["township"], np.where(leaf["hand"] < 8.0, leaf["population"], 0))
    factor = rng.uniform(1.15, 1.6, nt)
    short = rng.permutation(nt)[: max(2, round(0.15 * nt))]
    factor[short] = rng.uniform(0.5, 0.85, len(short))
    raw_sum = np.zeros(nt)
    np.add.at(raw_sum, s_town, raw)
    target = np.where(low_people > 0, low_people * factor, raw_sum)
    cap = np.maximum(20, np.round(raw * (target / np.maximum(raw_sum, 1))[s_town] / 10) * 10).astype(np.int64)
    area = np.round(cap * rng.uniform(2.0, 3.5, ns) / 10) * 10
    codes = townships["code"].to_numpy()[s_town]
    seq = np.zeros(ns, dtype=np.int64)
    for j in range(nt):
        sel = np.flatnonzero(s_town == j)
        seq[sel] = np.arange(1, len(sel) + 1)
    return pd.DataFrame({
        "name": names, "shelter_id": [f"BN{c}{k:03d}" for c, k in zip(codes, seq)], "type": typ,
        "capacity": cap, "area": area.astype(np.float64),
        "township": townships["name"].to_numpy()[s_town], "village": vill["name"][host],
        "responsible": person_names(rng, ns), "phone": phones(rng, ns),
        "supplies": np.asarray(_SUPPLIES, dtype=object)[rng.integers(0, len(_SUPPLIES), ns)],
        "status": "available", "x": sx, "y": sy, "township_idx": s_town, "low": low,
        "hand": t.hand[t.rowcol(sx, sy)],
    })


def _assign_shelters(grids: pd.DataFrame, leaf: dict, shelters: pd.DataFrame) -> None:
    """Each leaf grid goes to the nearest shelter of its township (in place)."""
    out = np.empty(len(leaf["rows"]), dtype=object)
    s_xy = shelters[["x", "y"]].to_numpy()
    s_town = shelters["township_idx"].to_numpy()
    for j in np.unique(leaf["township"]):
        sel = np.flatnonzero(leaf["township"] == j)
        cand = np.flatnonzero(s_town == j)
        if len(cand) == 0:
            cand = np.arange(len(shelters))
        _, k = cKDTree(s_xy[cand]).query(leaf["xy"][sel])
        out[sel] = shelters["name"].to_numpy()[cand[k]]
    col = grids.columns.get_loc("shelter")
    grids.iloc[leaf["rows"], col] = out  # type: ignore[index]  # pandas-stubs: get_loc's int is taken for any of its returns
