"""Static forest-fire risk on the DEM grid: fuel, slope, aspect and nearness to roads, villages and graves.

A screening index, not a fire-behaviour model: it ranks forest cells for patrols, water points and
cameras. Each factor is scored 0..1 on every cell, the weighted sum (weights summing to 1) is the
``score``, and the score of forest cells is classed into five levels by fixed breaks. The defaults below are set
from field practice and the literature named, not fitted to fire records: where a county has its
fire history (fire points), check the levels against it and adjust the weights.

Factors and defaults
--------------------
``fuel`` (forest type, the forest layer's ``forest_type``; :data:`FUEL_SCORES`)::

    conifer 1.0   mixed 0.8   shrub 0.7   grass 0.7   other / unknown 0.6   bamboo 0.5   broadleaf 0.4

  Southern China's pine and Chinese-fir plantations (resinous litter, ladder fuels) burn most
  readily; mixed stands less; shrub and grass carry fast surface fires; bamboo and evergreen
  broadleaf stands are the most fire-resistant (they are planted as firebreak belts, 生物防火林带).
  A land-cover raster gives no type: every forest cell takes the ``other`` score (with a note).
``slope``: ``min(slope°, 35) / 35``: a fire runs faster upslope (rate of spread roughly doubles for
  every 10° of slope in the McArthur / Rothermel slope factors); 35° and steeper score 1.
``aspect``: ``(1 + cos(aspect - 202.5°)) / 2``: south-south-west facing slopes (afternoon sun,
  driest fuel in China's spring fire season) score 1, north-north-east 0; cells flatter than 3° 0.5.
``roads``, ``settlements``, ``graves``: ``exp(-d / L)`` of the Euclidean distance ``d`` (metres,
  exact distance transform of the rasterised features, :func:`_edt`) to the
  nearest road line, village and grave (most forest fires in China are started by people: farm and
  grave-side burning, smoking, within a short walk of roads and villages); ``L`` is
  :data:`DECAY_M` (roads 500 m, settlements 1000 m, graves 300 m: the score halves every 350 m,
  700 m and 210 m).

Default weights (:data:`DEFAULT_WEIGHTS`): fuel 0.30, slope 0.15, aspect 0.10, roads 0.15,
settlements 0.15, graves 0.15. They are shown and can be edited (``weights=``; ``--weights`` on
the command line); they are renormalised to sum to 1. A layer that is not given, or has no
feature near the grid, drops its factor and the others are renormalised, with a note. (With only
fuel, slope and aspect left, scores run higher: compare levels only between runs with the same
factors.)

Levels (:data:`LEVEL_BREAKS`, fixed so that maps of different dates and counties compare)::

    score   < 0.30   0.30-0.45   0.45-0.60   0.60-0.75   >= 0.75
    level     1          2           3           4          5

:data:`HIGH_RISK_LEVEL` = 4: "high-risk forest" is ``level >= 4``. ``level`` is 0 on cells that are
not forest or where the DEM has no data.

Geometry: everything runs on the DEM's own grid. A DEM in degrees keeps its grid; cell sizes are
taken in metres at the DEM's mean latitude (:func:`gis.terrain.cell_size_m`) for slope, aspect and
distances (error well under 1 % over a prefecture), so no resampling is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np

from layers.errors import AnalysisRefused, LayerError, problem
from layers.raster import Raster
from layers.text import Text

__all__ = ["FUEL_SCORES", "DEFAULT_WEIGHTS", "DECAY_M", "LEVEL_BREAKS", "HIGH_RISK_LEVEL", "RiskResult",
           "forest_mask", "fuel_score", "slope_score", "aspect_score", "distance_score", "parse_weights",
           "classify", "risk_raster", "FACTOR_NAMES"]

#: fuel score by the forest layer's canonical ``forest_type``
FUEL_SCORES = {"conifer": 1.0, "mixed": 0.8, "shrub": 0.7, "grass": 0.7, "other": 0.6, "bamboo": 0.5,
               "broadleaf": 0.4}
#: factor weights used when none are given
DEFAULT_WEIGHTS = {"fuel": 0.30, "slope": 0.15, "aspect": 0.10, "roads": 0.15, "settlements": 0.15, "graves": 0.15}
#: distance-decay length (metres) of the nearness factors
DECAY_M = {"roads": 500.0, "settlements": 1000.0, "graves": 300.0}
#: lower score bound of levels 2..5
LEVEL_BREAKS = (0.30, 0.45, 0.60, 0.75)
#: "high-risk forest" is ``level >= HIGH_RISK_LEVEL``
HIGH_RISK_LEVEL = 4
#: slope (degrees) at and above which the slope factor is 1
SLOPE_FULL_DEG = 35.0
#: aspect (degrees clockwise from north) scoring 1
DRIEST_ASPECT = 202.5
#: slopes flatter than this (degrees) have no aspect (score 0.5)
FLAT_DEG = 3.0

#: the factors' names for people
FACTOR_NAMES: dict[str, Text] = {
    "fuel": Text("林分类型", "fuel", "fuel"), "slope": Text("坡度", "slope", "slope"),
    "aspect": Text("坡向", "aspect", "aspect"), "roads": Text("距道路", "roads", "roads"),
    "settlements": Text("距居民点", "settlements", "settlements"), "graves": Text("距坟墓", "graves", "graves")}


@dataclass
class RiskResult:
    """Output of :func:`risk_raster`.

    Attributes
    ----------
    score : numpy.ndarray of float32
        Weighted score 0..1 on forest cells, NaN elsewhere (DEM grid).
    level : numpy.ndarray of uint8
        0 = not forest (or no DEM data), 1..5 by :data:`LEVEL_BREAKS`.
    weights : dict
        Weights actually used (after dropping missing factors and renormalising), summing to 1.
    notes : list of layers.text.Text
        Bilingual notes.
    """

    score: np.ndarray
    level: np.ndarray
    weights: dict
    notes: list[Text] = field(default_factory=list)


def _note(zh: str, en: str, code: str) -> Text:
    return Text(zh, en, code)


def _crs_wkt(grid: Raster) -> str:
    import pyproj

    from layers.raster import _as_pyproj_input

    return pyproj.CRS.from_user_input(_as_pyproj_input(grid.crs)).to_wkt()


def _source(gdf) -> str | None:
    return getattr(gdf, "attrs", {}).get("source") or None


def _burn(gdf: gpd.GeoDataFrame, grid: Raster, values=None, *, all_touched: bool = False,
          dtype: str = "uint8") -> np.ndarray:
    """Rasterise ``gdf`` (reprojected to the grid's CRS) on the grid; cell value 1 or ``values``."""
    from rasterio.features import rasterize

    g = gdf if grid.crs is None or gdf.crs is None else gdf.to_crs(_crs_wkt(grid))
    geoms = g.geometry
    vals = np.ones(len(g)) if values is None else np.asarray(values)
    shapes = [(geom, v) for geom, v in zip(geoms, vals) if geom is not None and not geom.is_empty]
    if not shapes:
        return np.zeros(grid.shape, dtype=dtype)
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype=dtype,
                     all_touched=all_touched)


def _no_overlap(source: str | None, grid: Raster) -> AnalysisRefused:
    return AnalysisRefused(problem("森林图层与 DEM 范围不重叠，没有任何林地落在 DEM 网格上",
                                   "the forest layer does not overlap the DEM: no forest falls on the DEM grid",
                                   "检查森林图层与 DEM 是否为同一地区、坐标系是否正确",
                                   "check that the forest layer and the DEM cover the same area and their CRSs "
                                   "are right", file=source or grid.name or None))


def forest_mask(forest: gpd.GeoDataFrame | Raster, grid: Raster) -> np.ndarray:
    """Forest cells of ``grid``: polygons burnt at cell centres, or a land-cover raster (non-zero = forest).

    Parameters
    ----------
    forest : GeoDataFrame or Raster
        Forest polygons (any CRS), or a land-cover raster (resampled to ``grid`` by nearest
        neighbour; non-zero, non-nodata cells are forest).
    grid : Raster
        The DEM whose grid the mask is on.

    Returns
    -------
    numpy.ndarray of bool
        ``grid.shape``.

    Raises
    ------
    AnalysisRefused
        When no forest falls on the grid.
    """
    source: str | None
    if isinstance(forest, Raster):
        import rasterio.warp
        from rasterio.enums import Resampling

        src = np.where(forest.valid_mask(), forest.array, 0).astype(np.float32)
        src = np.nan_to_num(src, nan=0.0)
        dst = np.zeros(grid.shape, dtype=np.float32)
        rasterio.warp.reproject(src, dst, src_transform=forest.transform, src_crs=_crs_wkt(forest),
                                dst_transform=grid.transform, dst_crs=_crs_wkt(grid),
                                resampling=Resampling.nearest, src_nodata=None, dst_nodata=0)
        mask = dst != 0
        source = forest.name
    else:
        mask = _burn(forest, grid).astype(bool)
        source = _source(forest)
    if not mask.any():
        raise _no_overlap(source, grid)
    return mask


def _fuel_codes(forest: gpd.GeoDataFrame, grid: Raster, scores: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Forest polygons burnt once as codes 1..k of their distinct fuel scores, and the lookup table (0 -> 0)."""
    table = dict(FUEL_SCORES, **(scores or {}))
    if "forest_type" in forest:
        kinds = forest["forest_type"].astype("object").where(forest["forest_type"].notna(), "other")
        vals = np.array([table.get(str(k), table["other"]) for k in kinds], dtype=np.float64)
    else:
        vals = np.full(len(forest), table["other"])
    uniq, codes = np.unique(vals, return_inverse=True)
    burnt = _burn(forest, grid, codes + 1)
    return burnt, np.concatenate([[0.0], uniq]).astype(np.float32)


def fuel_score(forest: gpd.GeoDataFrame, grid: Raster, scores: dict | None = None) -> np.ndarray:
    """Fuel score (float32, 0 off forest) of forest polygons by ``forest_type`` (:data:`FUEL_SCORES`)."""
    burnt, lut = _fuel_codes(forest, grid, scores)
    return lut[burnt]


def slope_score(slope_deg: np.ndarray) -> np.ndarray:
    """``min(slope, 35°) / 35°`` (float32; NaN stays NaN)."""
    return (np.minimum(slope_deg, SLOPE_FULL_DEG) / SLOPE_FULL_DEG).astype(np.float32)


@numba.njit(cache=True, parallel=True)
def _horn(z, dx, dy):
    """Slope and aspect (degrees, float32) with Horn's 3x3 kernel, edges clamped (as ``np.pad(mode='edge')``)."""
    nr, nc = z.shape
    slope = np.empty((nr, nc), dtype=np.float32)
    aspect = np.empty((nr, nc), dtype=np.float32)
    for r in numba.prange(nr):
        r0 = max(r - 1, 0)
        r2 = min(r + 1, nr - 1)
        for c in range(nc):
            c0 = max(c - 1, 0)
            c2 = min(c + 1, nc - 1)
            a, b, cc = z[r0, c0], z[r0, c], z[r0, c2]
            d, f = z[r, c0], z[r, c2]
            g, h, i = z[r2, c0], z[r2, c], z[r2, c2]
            gx = ((cc + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * dx)
            gy = ((a + 2.0 * b + cc) - (g + 2.0 * h + i)) / (8.0 * dy)   # north-positive
            slope[r, c] = math.degrees(math.atan(math.hypot(gx, gy)))
            asp = math.degrees(math.atan2(-gx, -gy)) % 360.0
            aspect[r, c] = asp
    return slope, aspect


def _aspect_deg(dem: Raster) -> tuple[np.ndarray, np.ndarray]:
    """Aspect (degrees clockwise from north, the direction the slope faces) and slope in degrees (float32).

    Horn's 3x3 gradients as :func:`gis.terrain.slope_degrees` (edges clamped, voids filled with the
    mean for their neighbours' sake), in one numba pass; NaN on voids.
    """
    from gis.terrain import cell_size_m

    valid = dem.valid_mask()
    z = np.asarray(dem.array, dtype=np.float32)
    if not valid.all():
        z = np.where(valid, z, np.float32(np.nanmean(np.where(valid, z, np.nan))))
    dx, dy = cell_size_m(dem)
    slope, aspect = _horn(np.ascontiguousarray(z), float(dx), float(dy))
    slope[~valid] = np.nan
    aspect[~valid] = np.nan
    return aspect, slope


def aspect_score(aspect_deg: np.ndarray, slope_deg: np.ndarray | None = None) -> np.ndarray:
    """``(1 + cos(aspect - 202.5°)) / 2``; 0.5 where the slope is under 3° (float32)."""
    s = (1.0 + np.cos(np.deg2rad(aspect_deg - DRIEST_ASPECT))) / 2.0
    if slope_deg is not None:
        s = np.where(slope_deg < FLAT_DEG, 0.5, s)
    return s.astype(np.float32)


@numba.njit(cache=True, parallel=True)
def _edt(features, dy, dx):
    """Exact Euclidean distance (metres, float32; inf when there is no feature) to the nearest True cell.

    Column sweeps, then the lower envelope of parabolas along each row (Felzenszwalb & Huttenlocher,
    "Distance transforms of sampled functions", Theory of Computing 8, 2012), rows in parallel.
    Same result as ``scipy.ndimage.distance_transform_edt(~features, sampling=(dy, dx))`` (tested),
    about ten times faster on a 5000 x 5000 grid.
    """
    nr, nc = features.shape
    inf = np.inf
    g = np.empty((nr, nc), dtype=np.float64)
    # pass 1: distance along each column, row-major sweeps (down, then up)
    run = np.full(nc, -1, dtype=np.int64)   # row of the last feature seen, -1 none
    for r in range(nr):
        for c in range(nc):
            if features[r, c]:
                run[c] = r
            g[r, c] = inf if run[c] < 0 else (r - run[c]) * dy
    run[:] = -1
    for r in range(nr - 1, -1, -1):
        for c in range(nc):
            if features[r, c]:
                run[c] = r
            if run[c] >= 0:
                d = (run[c] - r) * dy
                if d < g[r, c]:
                    g[r, c] = d
    # pass 2: lower envelope of parabolas along each row (Felzenszwalb & Huttenlocher 2012)
    out = np.empty((nr, nc), dtype=np.float32)
    for r in numba.prange(nr):
        v = np.empty(nc, dtype=np.int64)
        z = np.empty(nc + 1, dtype=np.float64)
        f = np.empty(nc, dtype=np.float64)
        for c in range(nc):
            f[c] = g[r, c] * g[r, c]
        k = -1
        for q in range(nc):
            if f[q] == inf:
                continue
            xq = q * dx
            if k < 0:
                k = 0
                v[0] = q
                z[0] = -inf
                z[1] = inf
                continue
            while True:
                p = v[k]
                xp = p * dx
                s = ((f[q] + xq * xq) - (f[p] + xp * xp)) / (2.0 * (xq - xp))
                if s <= z[k]:
                    k -= 1
                    if k < 0:
                        break
                else:
                    break
            if k < 0:
                k = 0
                v[0] = q
                z[0] = -inf
                z[1] = inf
            else:
                k += 1
                v[k] = q
                z[k] = s
                z[k + 1] = inf
        if k < 0:
            for c in range(nc):
                out[r, c] = inf
            continue
        j = 0
        for c in range(nc):
            x = c * dx
            while z[j + 1] < x:
                j += 1
            p = v[j]
            d = x - p * dx
            out[r, c] = math.sqrt(d * d + f[p])
    return out


def distance_score(features: np.ndarray, cell_m: tuple[float, float], decay_m: float) -> np.ndarray:
    """``exp(-d / decay_m)`` of the Euclidean distance ``d`` (metres) from each cell to the nearest True cell.

    Parameters
    ----------
    features : numpy.ndarray of bool
        Cells holding a feature (distance 0).
    cell_m : tuple of float
        Cell width and height in metres.
    decay_m : float
        Decay length.
    """
    dx, dy = cell_m
    d = _edt(np.ascontiguousarray(features, dtype=np.bool_), float(dy), float(dx))
    d /= np.float32(-decay_m)
    return np.exp(d, out=d)


def parse_weights(text: str | dict | None) -> dict:
    """Weights from ``"fuel=0.3,slope=0.2"`` (or a dict): given ones replace the defaults.

    A factor set to 0 is dropped. The result is not yet renormalised.

    Raises
    ------
    LayerError
        Unknown factor name, a value that is not a number, or a negative weight.
    """
    w = dict(DEFAULT_WEIGHTS)
    if not text:
        return w
    items = text.items() if isinstance(text, dict) else (
        tuple(p.split("=", 1)) if "=" in p else (p, "") for p in str(text).split(",") if p.strip())
    for k, v in items:
        k = str(k).strip().lower()
        if k not in DEFAULT_WEIGHTS:
            raise LayerError(problem(f"未知的权重因子“{k}”", f"unknown weight factor '{k}'",
                                     "可用：" + "、".join(DEFAULT_WEIGHTS), "use one of: " + ", ".join(DEFAULT_WEIGHTS),
                                     field="weights", ))
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = float("nan")
        if not np.isfinite(x) or x < 0:
            raise LayerError(problem(f"权重“{k}={v}”不是非负数", f"weight '{k}={v}' is not a non-negative number",
                                     "写成 fuel=0.3,slope=0.2 这样的形式", "write it as fuel=0.3,slope=0.2",
                                     field="weights"))
        w[k] = x
    return w


def classify(score: np.ndarray) -> np.ndarray:
    """Level 1..5 of scores by :data:`LEVEL_BREAKS` (uint8; 0 where NaN)."""
    s = np.asarray(score)
    lv = (np.searchsorted(np.asarray(LEVEL_BREAKS, dtype=s.dtype), np.nan_to_num(s, nan=-1.0), side="right") + 1)
    return np.where(np.isnan(s), 0, lv).astype(np.uint8)


def _features(gdf, grid: Raster, kind: str) -> np.ndarray | None:
    """Cells holding a feature of ``gdf`` (lines all touched, points at their cell), None if none."""
    if gdf is None or len(gdf) == 0:
        return None
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if len(gdf) == 0:
        return None
    # polygons (villages drawn as areas) count by their outline and cells inside
    cells = _burn(gdf, grid, all_touched=True).astype(bool)
    return cells if cells.any() else None


def risk_raster(dem: Raster, forest, *, roads=None, settlements=None, graves=None,
                weights: dict | str | None = None) -> RiskResult:
    """Static fire-risk score and five-level class of every forest cell of the DEM grid.

    Parameters
    ----------
    dem : Raster
        Elevations in metres (NaN / nodata = void); any CRS (degrees are handled, see the module
        docstring).
    forest : GeoDataFrame or Raster
        Forest polygons with ``forest_type`` (fuel table :data:`FUEL_SCORES`), or a land-cover raster.
    roads, settlements, graves : GeoDataFrame, optional
        Road lines, villages (points or polygons) and graves (points), any CRS. Missing or with no
        feature on the grid: that factor is dropped (note). Distances are to features on the grid.
    weights : dict or str, optional
        Factor weights (``fuel``, ``slope``, ``aspect``, ``roads``, ``settlements``, ``graves``);
        given ones replace :data:`DEFAULT_WEIGHTS`; renormalised to sum to 1.

    Returns
    -------
    RiskResult

    Raises
    ------
    AnalysisRefused
        The forest does not overlap the DEM.
    LayerError
        Bad weights, or every weight zero.
    """
    from gis.terrain import cell_size_m

    w = parse_weights(weights)
    notes: list[Text] = []
    valid = dem.valid_mask()
    if not valid.any():
        raise LayerError(problem("DEM 没有任何有效高程", "the DEM has no valid elevation", "检查 DEM 文件",
                                 "check the DEM file", file=dem.name or None))
    fuel: np.ndarray | None = None
    if isinstance(forest, Raster):
        mask = forest_mask(forest, dem)
    else:
        burnt, lut = _fuel_codes(forest, dem)
        mask = burnt > 0
        if not mask.any():
            raise _no_overlap(_source(forest), dem)
        fuel = lut[burnt]
        del burnt
    voids = int((mask & ~valid).sum())
    if voids:
        notes.append(_note(f"{voids:,} 个林地像元 DEM 无数据，未计算风险（等级 0）",
                           f"{voids:,} forest cells have no DEM data and get no risk (level 0)", "risk_dem_voids"))
    mask &= valid
    if not mask.any():
        raise _no_overlap(_source(forest) if not isinstance(forest, Raster) else forest.name, dem)
    cell_m = cell_size_m(dem)
    if dem.is_geographic:
        notes.append(_note(f"DEM 为经纬度坐标，按平均纬度换算像元大小（{cell_m[0]:.1f} × {cell_m[1]:.1f} 米）计算",
                           f"the DEM is in degrees; cell size taken as {cell_m[0]:.1f} x {cell_m[1]:.1f} m at its "
                           "mean latitude", "risk_dem_degrees"))

    layers = {"roads": roads, "settlements": settlements, "graves": graves}
    feats: dict[str, np.ndarray] = {}
    for k, gdf in layers.items():
        if w.get(k, 0) <= 0:
            continue
        cells = _features(gdf, dem, k)
        if cells is None:
            what = "未提供" if gdf is None else "在 DEM 范围内没有要素"
            what_en = "not given" if gdf is None else "has no feature on the DEM"
            notes.append(_note(f"{FACTOR_NAMES[k].zh}图层{what}，去掉该因子并重新归一化权重",
                               f"{k} layer {what_en}; its factor is dropped and the weights renormalised",
                               f"risk_factor_dropped_{k}"))
            w[k] = 0.0
        else:
            feats[k] = cells
    total = sum(w.values())
    if total <= 0:
        raise LayerError(problem("所有因子的权重都为 0", "every factor weight is 0", "至少给一个因子正的权重",
                                 "give at least one factor a positive weight", field="weights"))
    w = {k: round(v / total, 6) for k, v in w.items() if v > 0}

    score = np.zeros(dem.shape, dtype=np.float32)
    if "fuel" in w:
        if isinstance(forest, Raster):
            notes.append(_note(f"森林为土地覆盖栅格，无林分类型，燃料得分统一取 {FUEL_SCORES['other']}",
                               f"forest is a land-cover raster without forest types; fuel score {FUEL_SCORES['other']}"
                               " everywhere", "risk_fuel_raster"))
            score += np.float32(w["fuel"] * FUEL_SCORES["other"])
        else:
            if "forest_type" not in forest or forest["forest_type"].isna().all():
                notes.append(_note("森林图层没有林分类型，燃料得分统一取“其他”",
                                   "the forest layer has no forest type; fuel scored as 'other' everywhere",
                                   "risk_fuel_untyped"))
            assert fuel is not None  # set above for a vector forest
            score += np.float32(w["fuel"]) * fuel
    if "slope" in w or "aspect" in w:
        aspect, slope = _aspect_deg(dem)
        if "slope" in w:
            score += np.float32(w["slope"]) * np.nan_to_num(slope_score(slope))
        if "aspect" in w:
            score += np.float32(w["aspect"]) * np.nan_to_num(aspect_score(aspect, slope), nan=0.5)
        del aspect, slope
    del fuel
    for k, cells in list(feats.items()):
        score += np.float32(w[k]) * distance_score(cells, cell_m, DECAY_M[k])
        del feats[k], cells
    np.clip(score, 0.0, 1.0, out=score)
    score[~mask] = np.nan
    level = classify(score)
    return RiskResult(score=score, level=level, weights=w, notes=notes)
