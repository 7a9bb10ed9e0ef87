"""Siting new cameras and water points: greedy maximal coverage of uncovered high-risk forest.

The problem
-----------
Targets are the high-risk forest cells not yet covered (no existing camera sees them / no existing
source reaches them). Each candidate site covers a set of target cells (a camera: its viewshed from a
mast, :func:`gis.fire.viewshed.viewshed`; a new pond or tank: the cells within its hose reach,
:func:`gis.fire.water_reach.site_reach`). Choose ``n`` sites covering the largest target area: the maximum
coverage problem (NP-hard). :func:`greedy_max_coverage` adds, one at a time, the site adding the most
not-yet-covered area (lazy evaluation with a heap; gains only shrink as sites are added, so a stale
gain is an upper bound), which guarantees at least ``1 - 1/e`` (about 63 %) of the optimum;
:func:`exact_max_coverage` solves the integer programme with :func:`scipy.optimize.milp` for small
cases (tests check the greedy against it).

Candidates
----------
- cameras: ridge and peak cells: local maxima of the DEM in a moving window (``window_m``) standing at
  least ``min_prominence_m`` above the window's lowest cell; optionally within ``max_road_m`` of a road;
- water points: stream cells (a rivers layer burnt onto the grid, or upstream area of at least
  ``min_upstream_cells`` from :mod:`pyflwdir` flow directions) within ``max_road_m`` of a road;
- or a layer of points the user uploads (every point inside the DEM is a candidate).

Generated candidates are ranked by the target cells in the square of side ``2 x reach`` around them
(a cheap upper bound of what they could cover; none: dropped), thinned so no two are closer than
``spacing_m`` (best first), and capped at ``max_candidates``, taken round-robin over blocks of side
``2 x reach`` so that the cap spreads them over the whole area instead of the densest corner (on the
demo county this also adds 2-3 % more area for N = 5 and 10 cameras than the plain best-300).

Result
------
:class:`SitingResult` with the chosen sites in the order the greedy added them: ``gain_ha`` (target
area the site adds), ``gain_share`` (that area over the whole target, i.e. all high-risk forest),
``cumulative_ha`` (sum of gains so far) and ``cumulative_share`` (share of the whole target covered by
the existing and the chosen sites so far).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np
import pyproj
from rasterio.features import rasterize
from scipy import ndimage

from gis.fire._sweep import run_sweeps
from gis.fire.gaps import nearest
from gis.terrain import metric_grid
from layers.errors import AnalysisRefused, LayerError, problem
from layers.raster import Raster, _as_pyproj_input
from layers.settings import STORAGE_CRS
from layers.text import Text

__all__ = ["SitingResult", "greedy_max_coverage", "exact_max_coverage", "metric_grid", "on_grid",
           "candidate_viewsheds",
           "ridge_candidates", "stream_candidates", "uploaded_candidates", "site_cameras", "site_water",
           "SITE_COLUMNS", "DEFAULT_MAX_CANDIDATES"]

_Note = Text

#: cap on generated candidates
DEFAULT_MAX_CANDIDATES = 300

#: columns of the sites table (plus ``geometry``)
SITE_COLUMNS = ["order", "kind", "origin", "name", "gain_ha", "gain_share", "cumulative_ha", "cumulative_share",
                "elevation", "road_dist_m", "row", "col"]


@dataclass
class SitingResult:
    """Chosen sites and the figures around them.

    Attributes
    ----------
    sites : GeoDataFrame
        EPSG:4490 points, columns :data:`SITE_COLUMNS`, in the order chosen.
    target_ha : float
        The whole target area (high-risk forest), hectares.
    covered_before_ha : float
        Target area already covered by existing cameras / sources.
    candidates : int
        Candidate sites considered.
    notes : list of layers.text.Text
        Bilingual notes.
    """

    sites: gpd.GeoDataFrame
    target_ha: float
    covered_before_ha: float
    candidates: int
    notes: list[_Note] = field(default_factory=list)


# ---- maximum coverage ---------------------------------------------------------------------------
def _weights(sets: Sequence[np.ndarray], weights: np.ndarray | None) -> np.ndarray:
    if weights is not None:
        return np.asarray(weights, dtype=np.float64)
    top = max((int(s.max()) + 1 for s in sets if len(s)), default=0)
    return np.ones(top, dtype=np.float64)


def greedy_max_coverage(sets: Sequence[np.ndarray], weights: np.ndarray | None, n: int) -> list[tuple[int, float]]:
    """Greedy maximal coverage with lazy gain updates.

    Parameters
    ----------
    sets : sequence of numpy.ndarray of int
        Element ids each candidate covers (ids index ``weights``).
    weights : numpy.ndarray or None
        Weight of each element (e.g. its area); None = 1 each.
    n : int
        Sites to choose.

    Returns
    -------
    list of (int, float)
        ``(candidate index, gain)`` in the order chosen; stops early when no candidate adds anything.
        Ties go to the lower index.

    Examples
    --------
    >>> import numpy as np
    >>> greedy_max_coverage([np.array([0, 1]), np.array([1, 2, 3]), np.array([4])], None, 2)
    [(1, 3.0), (0, 1.0)]
    """
    w = _weights(sets, weights)
    covered = np.zeros(len(w), dtype=bool)
    sets = [np.unique(np.asarray(s, dtype=np.int64)) for s in sets]
    heap = [(-float(w[s].sum()), i) for i, s in enumerate(sets)]
    heapq.heapify(heap)
    chosen: list[tuple[int, float]] = []
    while heap and len(chosen) < n:
        neg, i = heapq.heappop(heap)
        s = sets[i]
        gain = float(w[s[~covered[s]]].sum())
        if heap and (-gain, i) > heap[0]:
            heapq.heappush(heap, (-gain, i))    # stale: re-queue with the true gain
            continue
        if gain <= 0:
            break
        chosen.append((i, gain))
        covered[s] = True
    return chosen


def exact_max_coverage(sets: Sequence[np.ndarray], weights: np.ndarray | None, n: int) -> tuple[list[int], float]:
    """Optimal maximum coverage by integer programming (small cases: tests).

    Maximise ``sum_e w_e y_e`` subject to ``y_e <= sum_{j covers e} x_j``, ``sum_j x_j <= n``,
    ``x`` binary, ``0 <= y <= 1`` (:func:`scipy.optimize.milp`, HiGHS).

    Returns
    -------
    chosen : list of int
        Candidate indices of an optimal choice (sorted).
    value : float
        The covered weight.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, hstack, identity, vstack

    w = _weights(sets, weights)
    m, ne = len(sets), len(w)
    if m == 0 or ne == 0:
        return [], 0.0
    rows = np.concatenate([np.asarray(s, np.int64) for s in sets])
    cols = np.concatenate([np.full(len(s), j) for j, s in enumerate(sets)])
    cover = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(ne, m)).tocsr()
    cover.data[:] = 1.0
    # y_e - sum_j a_ej x_j <= 0 ; sum_j x_j <= n
    a1 = hstack([-cover, identity(ne)])
    a2 = hstack([coo_matrix(np.ones((1, m))), coo_matrix((1, ne))])
    cons = LinearConstraint(vstack([a1, a2]).tocsr(), -np.inf, np.r_[np.zeros(ne), float(n)])
    c = np.r_[np.zeros(m), -w]
    res = milp(c, constraints=cons, integrality=np.r_[np.ones(m), np.zeros(ne)], bounds=Bounds(0, 1))
    if not res.success:
        raise RuntimeError(f"milp failed: {res.message}")
    x = res.x[:m]
    return sorted(int(j) for j in np.flatnonzero(x > 0.5)), float(-res.fun)


# ---- grids ----------------------------------------------------------------------------------------
def _pcrs(crs) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(_as_pyproj_input(crs))


def on_grid(r: Raster, grid: Raster, *, fill: float = 0) -> np.ndarray:
    """``r``'s values on ``grid``'s cells (nearest neighbour; ``fill`` where ``r`` has no data)."""
    same = (r.shape == grid.shape and r.transform.almost_equals(grid.transform, precision=1e-9)
            and r.crs is not None and grid.crs is not None and _pcrs(r.crs).equals(_pcrs(grid.crs)))
    a = np.asarray(r.array)
    if same:
        return np.where(r.valid_mask(), a, fill)
    import rasterio.warp
    from rasterio.enums import Resampling

    src = np.where(r.valid_mask(), a, fill).astype(np.float32)
    dst = np.full(grid.shape, fill, dtype=np.float32)
    rasterio.warp.reproject(src, dst, src_transform=r.transform, src_crs=_pcrs(r.crs).to_wkt(),
                            dst_transform=grid.transform, dst_crs=_pcrs(grid.crs).to_wkt(),
                            resampling=Resampling.nearest, src_nodata=None, dst_nodata=fill)
    return dst


def _res(grid: Raster) -> float:
    if grid.is_geographic:
        raise LayerError(problem("选址分析需要米制坐标的 DEM", "siting needs a DEM in a metric CRS",
                                 "先用 metric_grid 重投影", "reproject it first (metric_grid)", file=grid.name or None))
    rx, ry = grid.res
    return (rx + ry) / 2.0


def _road_zone(roads: gpd.GeoDataFrame | None, grid: Raster, max_road_m: float | None) -> np.ndarray | None:
    """Cells within ``max_road_m`` of a road (None: no limit)."""
    if roads is None or max_road_m is None or not len(roads):
        return None
    r = roads[roads.geometry.notna() & ~roads.geometry.is_empty].to_crs(_pcrs(grid.crs))
    geoms = [g for g in r.geometry.buffer(float(max_road_m)) if not g.is_empty]
    if not geoms:
        return np.zeros(grid.shape, bool)
    return rasterize(((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.transform, fill=0,
                     dtype="uint8").astype(bool)


def _box_score(target: np.ndarray, reach_m: float, res: float) -> np.ndarray:
    """Target cells in the square of half-side ``reach_m`` around each cell."""
    size = 2 * int(math.ceil(reach_m / res)) + 1
    s = ndimage.uniform_filter(target.astype(np.float32), size=size, mode="constant")
    return s * np.float32(size * size)


def _thin(rows: np.ndarray, cols: np.ndarray, score: np.ndarray, res: float, spacing_m: float, cap: int,
          block_m: float) -> np.ndarray:
    """Positions (into rows/cols) of the candidates kept, best first.

    Candidates covering no target (score 0) are dropped; the rest are thinned best-first so no two are
    within ``spacing_m``; then, so that the cap does not crowd them all into the densest corner, they
    are taken round-robin over square blocks of side ``block_m`` (each block's best, then each
    block's second best, ...; by score within a round) up to ``cap``.
    """
    ok = score >= 0.5                    # a cell count (float sums leave tiny residues)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((cols[idx], rows[idx], -score[idx]))]
    kept: list[int] = []
    if spacing_m <= 0:
        kept = [int(k) for k in order]
    else:
        cell = spacing_m / res
        s2 = cell * cell
        buckets: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for k in order:
            r, c = int(rows[k]), int(cols[k])
            br, bc = int(r // cell), int(c // cell)
            near = False
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    for (rr, cc) in buckets.get((br + dr, bc + dc), ()):
                        if (rr - r) ** 2 + (cc - c) ** 2 < s2:
                            near = True
                            break
                    if near:
                        break
                if near:
                    break
            if not near:
                kept.append(int(k))
                buckets.setdefault((br, bc), []).append((r, c))
    if len(kept) <= cap:
        return np.array(kept, dtype=np.int64)
    b = max(1.0, block_m / res)
    seen: dict[tuple[int, int], int] = {}
    rnd = []
    for k in kept:                       # best first, so the n-th seen in a block is its n-th best
        key = (int(rows[k] // b), int(cols[k] // b))
        rnd.append(seen.get(key, 0))
        seen[key] = rnd[-1] + 1
    pos = np.lexsort((np.arange(len(kept)), np.array(rnd)))[:cap]   # by round, then by score order
    return np.array(kept, dtype=np.int64)[pos]


def ridge_candidates(dem: Raster, target: np.ndarray, *, reach_m: float, window_m: float = 450.0,
                     min_prominence_m: float = 20.0, spacing_m: float = 1000.0,
                     roads: gpd.GeoDataFrame | None = None, max_road_m: float | None = None,
                     max_candidates: int = DEFAULT_MAX_CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """Ridge and peak cells for cameras (see the module docstring).

    Returns
    -------
    rows, cols : numpy.ndarray of int64
        Candidate cells, best first (most target cells within ``reach_m``).
    """
    res = _res(dem)
    z = np.asarray(dem.array, dtype=np.float32)
    valid = dem.valid_mask() & np.isfinite(z)
    size = max(3, 2 * int(round(window_m / res / 2)) + 1)
    hi = ndimage.maximum_filter(np.where(valid, z, -np.inf), size=size, mode="nearest")
    lo = ndimage.minimum_filter(np.where(valid, z, np.inf), size=size, mode="nearest")
    cand = valid & (z >= hi) & (z - lo >= min_prominence_m)
    del hi, lo
    zone = _road_zone(roads, dem, max_road_m)
    if zone is not None:
        cand &= zone
    rows, cols = np.nonzero(cand)
    if not len(rows):
        return rows.astype(np.int64), cols.astype(np.int64)
    score = _box_score(target, reach_m, res)[rows, cols]
    score = np.where(score > 0, score + z[rows, cols] * 1e-6, 0.0)   # ties: the higher cell
    keep = _thin(rows, cols, score, res, spacing_m, max_candidates, block_m=2 * reach_m)
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def stream_candidates(dem: Raster, target: np.ndarray, *, reach_m: float, rivers: gpd.GeoDataFrame | None = None,
                      min_upstream_cells: int = 1000, roads: gpd.GeoDataFrame | None = None,
                      max_road_m: float | None = 500.0, spacing_m: float = 1000.0,
                      max_candidates: int = DEFAULT_MAX_CANDIDATES) -> tuple[np.ndarray, np.ndarray, list[_Note]]:
    """Stream cells near roads for new water points (see the module docstring).

    Returns
    -------
    rows, cols : numpy.ndarray of int64
        Candidate cells, best first.
    notes : list of tuple
        How streams were found, and a missing road layer.
    """
    res = _res(dem)
    valid = dem.valid_mask()
    notes: list[_Note] = []
    if rivers is not None and len(rivers):
        r = rivers[rivers.geometry.notna() & ~rivers.geometry.is_empty].to_crs(_pcrs(dem.crs))
        streams = rasterize(((g, 1) for g in r.geometry), out_shape=dem.shape, transform=dem.transform, fill=0,
                            all_touched=True, dtype="uint8").astype(bool) if len(r) else np.zeros(dem.shape, bool)
        notes.append(Text("河道：河流图层栅格化到 DEM 网格", "streams: the rivers layer burnt onto the DEM grid",
                          "streams_from_rivers"))
    else:
        import pyflwdir

        from gis.flood.hand import fill_voids

        elev, _ = fill_voids(dem)
        flw = pyflwdir.from_dem(elev.astype("float32"), nodata=-9999.0, transform=dem.transform)
        streams = flw.upstream_area(unit="cell") >= int(min_upstream_cells)
        notes.append(Text(f"河道：汇流像元数 ≥ {int(min_upstream_cells):,}",
                          f"streams: upstream area of at least {int(min_upstream_cells):,} cells", "streams_from_dem"))
    cand = streams & valid
    if roads is None or not len(roads):
        if max_road_m is not None:
            notes.append(Text("没有道路图层，候选水源点不限离道路距离",
                              "no road layer: candidate water points are not limited by distance to a road",
                              "candidates_no_roads"))
    else:
        zone = _road_zone(roads, dem, max_road_m)
        if zone is not None:
            cand &= zone
    rows, cols = np.nonzero(cand)
    if not len(rows):
        return rows.astype(np.int64), cols.astype(np.int64), notes
    score = _box_score(target, reach_m, res)[rows, cols]
    keep = _thin(rows, cols, score, res, spacing_m, max_candidates, block_m=2 * reach_m)
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64), notes


def uploaded_candidates(points: gpd.GeoDataFrame, dem: Raster) -> tuple[np.ndarray, np.ndarray, list[str],
                                                                          list[_Note]]:
    """Cells of uploaded candidate points; points outside the DEM or on voids are skipped (noted).

    Returns
    -------
    rows, cols : numpy.ndarray of int64
    names : list of str
        Each kept point's ``name`` (or ``#n``, its 1-based position in the layer).
    notes : list of tuple
    """
    from gis.fire.gaps import _label_of

    g = points[points.geometry.notna() & ~points.geometry.is_empty]
    labels = _label_of(points)
    pos = [i for i, ok in enumerate((points.geometry.notna() & ~points.geometry.is_empty).to_numpy()) if ok]
    g = g.to_crs(_pcrs(dem.crs)) if g.crs is not None else g
    pts = g.geometry.representative_point()
    inv = ~dem.transform
    valid = dem.valid_mask()
    nr, nc = dem.shape
    rows, cols, names, skipped = [], [], [], []
    for k, p in zip(pos, pts):
        cf, rf = inv * (p.x, p.y)
        r, c = int(math.floor(rf)), int(math.floor(cf))
        if 0 <= r < nr and 0 <= c < nc and valid[r, c]:
            rows.append(r)
            cols.append(c)
            names.append(labels[k])
        else:
            skipped.append(labels[k])
    notes: list[_Note] = []
    kept = set(pos)
    skipped += [labels[i] for i in range(len(points)) if i not in kept]
    if skipped:
        shown = "、".join(skipped[:10]) + (f" 等 {len(skipped)} 个" if len(skipped) > 10 else "")
        notes.append(Text(f"{len(skipped)} 个候选点不在 DEM 有效范围内，已跳过：{shown}",
                          f"{len(skipped)} candidate point(s) outside the DEM or on voids were skipped: "
                          + ", ".join(skipped[:10]), "candidates_skipped"))
    return np.array(rows, np.int64), np.array(cols, np.int64), names, notes


# ---- coverage sets --------------------------------------------------------------------------------
def candidate_viewsheds(z: np.ndarray, res: float, rows: np.ndarray, cols: np.ndarray, open_mask: np.ndarray, *,
                        height: float, range_m: float, target_h: float = 0.0, curvature: bool = True,
                        refraction: float = 0.13) -> list[np.ndarray]:
    """Flat indices of the ``open_mask`` cells each candidate camera sees (360 degrees, the fast sweep).

    The same sweep as :func:`gis.fire.viewshed.viewshed` (identical cells), the candidates shared
    among numba's threads, each swept in a window of its range square only.
    """
    from gis.fire.viewshed import EARTH_RADIUS, RAYS_PER_CELL

    z = np.ascontiguousarray(z, dtype=np.float32 if np.asarray(z).dtype == np.float32 else np.float64)
    nr, nc = z.shape
    n = len(rows)
    flat_open = np.asarray(open_mask, bool).ravel()
    dcoef = (1.0 - refraction) / (2.0 * EARTH_RADIUS) if curvature else 0.0
    voids = np.full(n, bool(np.isnan(z).any()))
    out: list[np.ndarray] = [np.zeros(0, np.int64)] * n

    def consume(k: int, window: np.ndarray, or0: int, oc0: int, side: int) -> None:
        part = window[:side, :side]
        ii, jj = np.nonzero(part == 2)
        part[:] = 0
        ii, jj = ii + or0, jj + oc0
        flat = ii * nc + jj
        out[k] = flat[flat_open[flat]].astype(np.int64)

    run_sweeps(z, float(res), np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.full(n, float(height)),
               np.full(n, float(range_m)), np.zeros(n), np.full(n, 180.0), np.zeros(n, np.bool_), voids,
               target_h=float(target_h), dcoef=dcoef, sub=RAYS_PER_CELL, consume=consume,
               threads=numba.get_num_threads(), serial_consume=False)
    return out


# ---- siting -----------------------------------------------------------------------------------------
def _no_candidates(kind: str, uploaded: bool) -> AnalysisRefused:
    what_zh, what_en = Text("监控", "camera",
                            "camera") if kind == "camera" else Text("水源", "water point", "water_point")
    if uploaded:
        return AnalysisRefused(problem(f"上传的候选{what_zh}点没有一个落在 DEM 有效范围内",
                                       f"none of the uploaded candidate {what_en} sites lies on the DEM",
                                       "检查候选点图层的坐标和坐标系",
                                       "check the candidate layer's coordinates and CRS"))
    if kind == "camera":
        return AnalysisRefused(problem("没有找到候选山脊/山顶像元", "no ridge or peak candidate cells were found",
                                       "降低最小高差（--min-prominence）或放宽离道路距离，或上传候选点图层",
                                       "lower --min-prominence or the road distance limit, or upload a candidate "
                                       "layer"))
    return AnalysisRefused(problem("没有找到靠近道路的河道候选像元", "no stream cells near a road were found",
                                   "放宽离道路距离（--max-road），提供河流图层，或上传候选点图层",
                                   "raise --max-road, give a rivers layer, or upload a candidate layer"))


def _finish(kind: str, dem: Raster, target: np.ndarray, covered: np.ndarray, rows: np.ndarray, cols: np.ndarray,
            origin: list[str], names: list[str], sets: list[np.ndarray], n: int, roads, notes: list[_Note],
            ) -> SitingResult:
    dx, dy = dem.res
    cell_ha = dx * dy / 1e4
    target_ha = float(target.sum()) * cell_ha
    before_ha = float((target & covered).sum()) * cell_ha
    open_flat = np.flatnonzero((target & ~covered).ravel())
    # element ids: positions in open_flat
    sets_e = []
    for s in sets:
        s = np.asarray(s, np.int64)
        pos = np.searchsorted(open_flat, s)
        ok = (pos < len(open_flat)) & (open_flat[np.minimum(pos, len(open_flat) - 1)] == s) if len(open_flat) else \
            np.zeros(len(s), bool)
        sets_e.append(pos[ok])
    w = np.full(len(open_flat), cell_ha)
    if n > len(sets):
        notes.append(Text(f"候选点只有 {len(sets)} 个，少于要求的 {n} 个：全部参与选择",
                          f"only {len(sets)} candidate(s), fewer than the {n} asked for: all of them considered",
                          "candidates_fewer"))
    chosen = greedy_max_coverage(sets_e, w, n)
    if len(chosen) < min(n, len(sets)):
        notes.append(Text(f"只选出 {len(chosen)} 个点：其余候选点不再增加覆盖",
                          f"only {len(chosen)} site(s) chosen: the remaining candidates add no coverage",
                          "sites_fewer"))
    idx = [i for i, _ in chosen]
    gains = np.array([g for _, g in chosen])
    cum = np.cumsum(gains) if len(gains) else gains
    xs, ys = dem.transform * (cols[idx] + 0.5, rows[idx] + 0.5) if idx else (np.array([]), np.array([]))  # type: ignore[operator]  # affine's types: arrays work like numbers
    z = np.asarray(dem.array, dtype=np.float64)
    share = (lambda v: np.round(v / target_ha, 6)) if target_ha > 0 else (lambda v: v * 0.0)
    sites = gpd.GeoDataFrame({
        "order": np.arange(1, len(idx) + 1), "kind": kind, "origin": [origin[i] for i in idx],
        "name": [names[i] for i in idx], "gain_ha": np.round(gains, 4), "gain_share": share(gains),
        "cumulative_ha": np.round(cum, 4), "cumulative_share": share(before_ha + cum),
        "elevation": [round(float(z[rows[i], cols[i]]), 1) for i in idx],
        "row": rows[idx].astype(np.int64), "col": cols[idx].astype(np.int64)},
        geometry=gpd.points_from_xy(np.asarray(xs, float), np.asarray(ys, float)), crs=_pcrs(dem.crs))
    sites["road_dist_m"] = np.round(nearest(sites, roads, _pcrs(dem.crs))[0], 1)
    sites = sites.to_crs(STORAGE_CRS)[SITE_COLUMNS + ["geometry"]]
    return SitingResult(sites, round(target_ha, 4), round(before_ha, 4), len(sets), notes)


def _check(dem: Raster, target: np.ndarray, covered: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    target = np.asarray(target, bool) & dem.valid_mask()
    covered = np.zeros(dem.shape, bool) if covered is None else np.asarray(covered, bool)
    if target.shape != dem.shape or covered.shape != dem.shape:
        raise ValueError("target / covered masks must be on the DEM's grid")
    return target, covered


def site_cameras(dem: Raster, target: np.ndarray, covered: np.ndarray | None, n: int, *,
                 candidates: gpd.GeoDataFrame | None = None, roads: gpd.GeoDataFrame | None = None,
                 height: float = 30.0, range_m: float = 8000.0, target_h: float = 0.0,
                 max_road_m: float | None = None, window_m: float = 450.0, min_prominence_m: float = 20.0,
                 spacing_m: float = 1000.0, max_candidates: int = DEFAULT_MAX_CANDIDATES) -> SitingResult:
    """Choose ``n`` new camera sites covering the most uncovered target cells.

    Parameters
    ----------
    dem : Raster
        Metric DEM (see :func:`metric_grid`).
    target : numpy.ndarray of bool
        High-risk forest cells (or all forest) on the DEM grid.
    covered : numpy.ndarray of bool or None
        Cells existing cameras already see.
    n : int
        Cameras to add.
    candidates : GeoDataFrame, optional
        Uploaded candidate points; default ridge and peak cells (:func:`ridge_candidates`).
    roads : GeoDataFrame, optional
        For the distance of each site to a road, and ``max_road_m``.
    height, range_m, target_h : float
        Mast height, range and target height of the new cameras, metres.
    max_road_m, window_m, min_prominence_m, spacing_m, max_candidates
        Candidate generation (:func:`ridge_candidates`).

    Returns
    -------
    SitingResult

    Raises
    ------
    AnalysisRefused
        No candidate site.
    """
    target, covered = _check(dem, target, covered)
    notes: list[_Note] = []
    res = _res(dem)
    if candidates is not None:
        rows, cols, names, notes = uploaded_candidates(candidates, dem)
        origin = ["uploaded"] * len(rows)
    else:
        rows, cols = ridge_candidates(dem, target & ~covered, reach_m=range_m, window_m=window_m,
                                      min_prominence_m=min_prominence_m, spacing_m=spacing_m, roads=roads,
                                      max_road_m=max_road_m, max_candidates=max_candidates)
        names = [f"C{i + 1}" for i in range(len(rows))]
        origin = ["ridge"] * len(rows)
        notes.append(Text(f"候选点：山脊/山顶像元 {len(rows)} 个（{window_m:g} 米窗口内最高、"
                          f"高差 ≥ {min_prominence_m:g} 米、"
                          f"间距 ≥ {spacing_m:g} 米，最多 {max_candidates} 个）",
                          f"candidates: {len(rows)} ridge/peak cells (highest in a {window_m:g} m window, standing "
                          f"{min_prominence_m:g} m or more above it, {spacing_m:g} m apart, at most {max_candidates})",
                          "candidates_ridges"))
    if not len(rows):
        raise _no_candidates("camera", candidates is not None)
    z = np.where(dem.valid_mask(), np.asarray(dem.array, dtype=np.float64), np.nan)
    sets = candidate_viewsheds(z, res, rows, cols, target & ~covered, height=height, range_m=range_m,
                               target_h=target_h)
    return _finish("camera", dem, target, covered, rows, cols, origin, names, sets, int(n), roads, notes)


#: reach of a new pond / tank: a portable-pump relay lifts about 250 m over about 1,300 m of hose
NEW_WATER_DISTANCE_M, NEW_WATER_RISE_M = 1300.0, 250.0


def site_water(dem: Raster, target: np.ndarray, covered: np.ndarray | None, n: int, *,
               candidates: gpd.GeoDataFrame | None = None, roads: gpd.GeoDataFrame | None = None,
               rivers: gpd.GeoDataFrame | None = None, distance_m: float = NEW_WATER_DISTANCE_M,
               rise_m: float | None = NEW_WATER_RISE_M, max_road_m: float | None = 500.0,
               min_upstream_cells: int = 1000, spacing_m: float = 1000.0,
               max_candidates: int = DEFAULT_MAX_CANDIDATES) -> SitingResult:
    """Choose ``n`` new water points (ponds / tanks) covering the most out-of-reach target cells.

    Parameters
    ----------
    dem, target, covered, n, candidates, roads
        As in :func:`site_cameras` (``covered``: cells existing sources reach).
    rivers : GeoDataFrame, optional
        Streams for the candidates; default upstream area from the DEM (slow on big DEMs).
    distance_m, rise_m : float
        Reach of a new water point: horizontal distance and largest rise above the site
        (:func:`gis.fire.water_reach.site_reach`).
    max_road_m, min_upstream_cells, spacing_m, max_candidates
        Candidate generation (:func:`stream_candidates`).

    Returns
    -------
    SitingResult
    """
    from gis.fire.water_reach import site_reach

    target, covered = _check(dem, target, covered)
    if candidates is not None:
        rows, cols, names, notes = uploaded_candidates(candidates, dem)
        origin = ["uploaded"] * len(rows)
    else:
        rows, cols, notes = stream_candidates(dem, target & ~covered, reach_m=distance_m, rivers=rivers,
                                              min_upstream_cells=min_upstream_cells, roads=roads,
                                              max_road_m=max_road_m, spacing_m=spacing_m,
                                              max_candidates=max_candidates)
        names = [f"W{i + 1}" for i in range(len(rows))]
        origin = ["stream"] * len(rows)
        notes.append(Text(f"候选点：离道路 {max_road_m:g} 米内的河道像元 {len(rows)} 个（间距 ≥ {spacing_m:g} 米，最多 "
                          f"{max_candidates} 个）" if max_road_m is not None else
                          f"候选点：河道像元 {len(rows)} 个（间距 ≥ {spacing_m:g} 米，最多 {max_candidates} 个）",
                          (f"candidates: {len(rows)} stream cells within {max_road_m:g} m of a road "
                           if max_road_m is not None else f"candidates: {len(rows)} stream cells ")
                          + f"({spacing_m:g} m apart, at most {max_candidates})", "candidates_streams"))
    if not len(rows):
        raise _no_candidates("water", candidates is not None)
    rise_txt = "不限高差" if rise_m is None else f"高出水源不超过 {rise_m:g} 米"
    notes.append(Text(f"新水源点的供水范围：水平 {distance_m:g} 米内、{rise_txt}",
                      f"reach of a new water point: within {distance_m:g} m and at most "
                      + ("any height" if rise_m is None else f"{rise_m:g} m") + " above it", "new_water_reach"))
    xs, ys = dem.transform * (cols + 0.5, rows + 0.5)  # type: ignore[operator]  # affine's types: arrays work like numbers
    reach = site_reach(dem, np.asarray(xs, float), np.asarray(ys, float), distance_m=float(distance_m),
                       rise_m=None if rise_m is None else float(rise_m))
    open_mask = (target & ~covered).ravel()
    sets = [np.asarray(s, np.int64)[open_mask[np.asarray(s, np.int64)]] for s in reach]
    return _finish("water", dem, target, covered, rows, cols, origin, names, sets, int(n), roads, notes)
