"""Water-source reach for forest firefighting: which forest cells a usable water source can serve.

Definition
----------
A cell is **within reach** of a source when its centre is within the source's horizontal distance
``distance_m`` of the centre of the source's cell, and (when the rule has a rise limit) its ground is
at most ``rise_m`` above the ground of the source's cell (DEM heights; cells below the source are
always fine: water runs downhill). Distances use the cell size in metres on each axis
(:func:`gis.terrain.cell_size_m`), so the disc of radius ``r`` holds the cells whose centre offsets
``(dx, dy)`` satisfy ``dx**2 + dy**2 <= r**2``. DEM voids are never within reach; a source on a void
or outside the DEM is skipped with a note.

A source is **usable** when its status is not out of service (``unavailable``, ``damaged``,
``dry``), its volume is not 0, it is not seasonal in the dry season (``season="dry"``, the fire
season and the default), and, when ``max_road_distance_m`` is given, it lies within that distance
of a road (helicopter dip sites are exempt: they are reached from the air).

Default rules (:data:`DEFAULT_RULES`, metres; every one can be overridden per type)
-------------------------------------------------------------------------------------
- ``reservoir``, ``pond``, ``river_intake``: 1,300 m and 250 m rise: a portable-pump relay (two or
  three pumps in series, 65 mm hose) lifts about 250 m over about 1,300 m of hose, the field figure
  fire crews train to;
- ``cistern`` (水窖, 20-100 m³): 800 m, 150 m rise: a single pump with a short relay; the store
  empties before a full 1,300 m relay line pays off;
- ``tank`` (蓄水池/蓄水桶, 5-50 m³): 500 m, 100 m rise: one portable pump, no relay;
- ``hydrant``: 300 m, 50 m rise: an engine's hose lay at the settlement edge;
- ``helicopter``: a source with ``helicopter`` true and ``depth`` at least
  :data:`HELI_MIN_DEPTH_M` (2.5 m, what a bucket needs) is also a dip site serving 12,000 m with no
  rise limit (a bucket helicopter's economic turn-round radius is 10-15 km); it reaches the cells
  either rule allows. Helicopters need a crew and flying weather, so the ground-only reach (pumps and
  hose) is reported beside the total (``ground_reach_share``). ``helicopter`` true with a shallower
  or unknown depth gets the ground rule only, with a note.
- a source with no (or an unknown) type gets :data:`UNKNOWN_TYPE_RULE` (the tank rule: the most
  cautious store rule), with a note naming it. Missing volume for a store type is noted; its type's
  rule is used.

Fast kernel
-----------
:func:`water_reach` splits the rows into bands processed in parallel (numba ``prange``); each band
visits the discs of all usable sources that touch it, row by row, so no two threads write the same
cell and the counts, the only-source index and the per-source forest tallies are exact and
deterministic. Cost is the summed disc area: at prefecture scale (3,058 usable sources, 145 of them
12 km dip sites, about 9 x 10^7 cell visits) the kernel took 0.6-1 s on 2 cores (``bench/cases/water_reach.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
from numba import prange

from gis.terrain import cell_size_m, metric_grid
from layers.errors import AnalysisRefused, LayerError, Problem
from layers.raster import Raster
from layers.text import Text

__all__ = ["ReachRule", "DEFAULT_RULES", "UNKNOWN_TYPE_RULE", "HELI_MIN_DEPTH_M", "SOURCE_TYPES",
           "ReachResult", "REASONS", "parse_rules", "site_reach", "water_reach", "reach_by_township",
           "uncovered_patches"]

try:  # the fire-risk helper's constant; same value either way
    from gis.fire.risk import HIGH_RISK_LEVEL
except Exception:  # pragma: no cover - before gis.fire.risk exists
    HIGH_RISK_LEVEL = 4


@dataclass(frozen=True)
class ReachRule:
    """How far a source serves: horizontal ``distance_m`` and at most ``rise_m`` uphill (None: no limit)."""

    distance_m: float
    rise_m: float | None = None


#: source types of the water_sources layer (:mod:`layers.catalogue`)
SOURCE_TYPES = ("reservoir", "pond", "cistern", "tank", "river_intake", "hydrant")

#: default rules per source type, plus ``helicopter`` for dip sites (see the module docstring)
DEFAULT_RULES: dict[str, ReachRule] = {
    "reservoir": ReachRule(1300.0, 250.0),
    "pond": ReachRule(1300.0, 250.0),
    "river_intake": ReachRule(1300.0, 250.0),
    "cistern": ReachRule(800.0, 150.0),
    "tank": ReachRule(500.0, 100.0),
    "hydrant": ReachRule(300.0, 50.0),
    "helicopter": ReachRule(12000.0, None),
}

#: rule for a source with no or an unknown type
UNKNOWN_TYPE_RULE = DEFAULT_RULES["tank"]

#: least water depth of a helicopter dip site, metres
HELI_MIN_DEPTH_M = 2.5

#: statuses that take a source out of service
OUT_OF_SERVICE = ("unavailable", "damaged", "dry")

#: store types whose volume matters (a missing volume is noted)
_STORE_TYPES = ("reservoir", "pond", "cistern", "tank")

#: why a source is not counted, by reason code
REASONS: dict[str, Text] = {
    "status": Text("停用、损坏或干涸", "out of service (unavailable, damaged or dry)", "status"),
    "empty": Text("蓄水量为 0", "volume is 0", "empty"),
    "season": Text("季节性水源，旱季不可用", "seasonal, not usable in the dry season", "season"),
    "road": Text("距道路过远", "too far from a road", "road"),
    "outside": Text("不在 DEM 范围内", "outside the DEM", "outside"),
    "void": Text("位于 DEM 无数据处", "on a DEM void", "void"),
}


@dataclass
class ReachResult:
    """What :func:`water_reach` returns.

    Attributes
    ----------
    count : numpy.ndarray of uint16
        Usable sources reaching each cell, on the DEM's grid.
    sole : numpy.ndarray of int32
        Row position (in ``sources``) of the only source reaching a cell; -1 where none or several.
    sources : DataFrame
        One row per source, in input order: ``name``, ``type``, ``usable``, ``reason`` (code: status,
        empty, season, road, outside, void; "" when usable), ``reason_zh``, ``reason_en``,
        ``distance_m``, ``rise_m`` (the ground rule used; NaN rise = no limit), ``dip_site``,
        ``air_distance_m``, ``air_rise_m`` (the helicopter rule of a dip site, else NaN), ``road_distance_m``,
        ``forest_ha`` (forest reached), ``sole_forest_ha`` (forest only it reaches).
    by_type : DataFrame
        Per source type (index): ``sources``, ``usable`` and one ``dropped_<reason>`` column per reason.
    summary : dict
        ``forest_cells``, ``forest_ha``, ``reach_cells``, ``reach_ha``, ``reach_share``,
        ``reach2_share`` (two or more sources), ``ground_reach_cells``, ``ground_reach_share`` (by a
        ground rule, helicopters aside), ``high_risk_cells``, ``high_risk_reach_cells``,
        ``high_risk_reach_share``, ``high_risk_ground_reach_share`` (None without a high-risk raster),
        ``sources``, ``usable``, ``dip_sites``, ``season``.
    notes : list of layers.text.Text
        Bilingual notes.
    grid : Raster
        The grid the analysis ran on (the DEM, or its metric reprojection for a DEM in degrees);
        ``forest`` and ``high_risk`` lie on it.
    forest : numpy.ndarray of bool
        Forest cells on ``grid``.
    high_risk : numpy.ndarray of bool or None
        High-risk forest cells (level >= ``HIGH_RISK_LEVEL``) on ``grid``.
    count_grid : numpy.ndarray of uint16
        ``count`` on ``grid`` (the same array when the DEM is metric).
    ground : numpy.ndarray of bool
        Cells on ``grid`` some source reaches under its ground (pump and hose) rule, helicopters aside.
    townships : DataFrame or None
        :func:`reach_by_township` when the forest came as polygons.
    rules : dict
        The rules used.
    """

    count: np.ndarray
    sole: np.ndarray
    sources: pd.DataFrame
    by_type: pd.DataFrame
    summary: dict
    notes: list[Text]
    grid: Raster
    forest: np.ndarray
    high_risk: np.ndarray | None
    count_grid: np.ndarray
    ground: np.ndarray | None = None
    townships: pd.DataFrame | None = None
    rules: dict = field(default_factory=dict)


# ---- rules ----------------------------------------------------------------------------------------------------
def parse_rules(text: str | None, *, base: dict[str, ReachRule] | None = None) -> dict[str, ReachRule]:
    """Rules from ``"type=dist:rise,type=dist:rise"`` over ``base`` (default :data:`DEFAULT_RULES`).

    ``rise`` may be left empty (``pond=1500:``) or omitted (``helicopter=10000``) for no rise limit;
    ``helicopter=0`` turns dip sites off. Types: :data:`SOURCE_TYPES`, ``helicopter`` and ``default``
    (sources with no or an unknown type).

    Raises
    ------
    LayerError
        A bad item, named with what to write instead.
    """
    rules = dict(DEFAULT_RULES if base is None else base)
    if not text:
        return rules
    known = SOURCE_TYPES + ("helicopter", "default")
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        try:
            key, val = (s.strip() for s in item.split("=", 1))
            dist_s, _, rise_s = val.partition(":")
            dist = float(dist_s)
            rise = float(rise_s) if rise_s.strip() else None
            if key not in known or not (dist >= 0) or (rise is not None and not rise >= 0):
                raise ValueError
        except ValueError:
            raise LayerError(Problem(
                f"水源覆盖规则“{item}”无法识别", f"reach rule '{item}' is not understood",
                f"写成 类型=距离米:爬升米，类型为 {'、'.join(known)} 之一，例如 pond=1500:300",
                f"write type=metres:rise_metres with type one of {', '.join(known)}, e.g. pond=1500:300",
                field="--rules")) from None
        rules[key] = ReachRule(dist, rise)
    return rules


# ---- kernels --------------------------------------------------------------------------------------------------
@numba.njit(cache=True, parallel=True)
def _reach_kernel(z, forest, rows, cols, dx, dy, dist, lim, air, gdist, glim, nband, count, sole, ground, reached):
    """Count, only-source, ground reach and per-source forest cells over row bands (see the module docstring).

    ``dist``/``lim`` is each source's rule (``lim``: highest ground in reach, inf for no limit); for a
    helicopter dip site (``air``) it is the helicopter rule and ``gdist``/``glim`` its ground rule: a cell
    is in reach under either, and ``ground`` marks cells some source reaches under a ground rule.
    """
    nr, nc = z.shape
    band = (nr + nband - 1) // nband
    nsrc = rows.shape[0]
    for b in prange(nband):
        r_lo = b * band
        r_hi = min(nr, r_lo + band)
        for k in range(nsrc):
            r0 = rows[k]
            c0 = cols[k]
            is_air = air[k]
            d = max(dist[k], gdist[k]) if is_air else dist[k]
            hr = int(math.floor(d / dy + 1e-9))
            a = max(r_lo, r0 - hr)
            e = min(r_hi, r0 + hr + 1)
            if a >= e:
                continue
            d2 = d * d * (1.0 + 1e-12)
            m2 = dist[k] * dist[k] * (1.0 + 1e-12)
            g2 = gdist[k] * gdist[k] * (1.0 + 1e-12)
            zl = lim[k]
            gzl = glim[k]
            for r in range(a, e):
                ddy = (r - r0) * dy
                rem = d2 - ddy * ddy
                if rem < 0.0:
                    continue
                w = int(math.floor(math.sqrt(rem) / dx + 1e-9))
                for c in range(max(0, c0 - w), min(nc, c0 + w + 1)):
                    zc = z[r, c]
                    if is_air:
                        ddx = (c - c0) * dx
                        dd = ddx * ddx + ddy * ddy
                        by_ground = dd <= g2 and zc <= gzl
                        if not (by_ground or (dd <= m2 and zc <= zl)):
                            continue
                    else:
                        if not (zc <= zl):  # NaN (void) or above the rise limit (zl = inf: no limit)
                            continue
                        by_ground = True
                    if by_ground:
                        ground[r, c] = 1
                    n = count[r, c]
                    if n == 0:
                        sole[r, c] = k
                    else:
                        sole[r, c] = -1
                    if n < 65535:
                        count[r, c] = n + 1
                    if forest[r, c]:
                        reached[b, k] += 1


@numba.njit(cache=True, inline="always")
def _disc_cells(z, r0, c0, dx, dy, d, zl, out):
    """Flat indices of the cells in reach of (r0, c0) into ``out`` (None: just count); returns how many."""
    nr, nc = z.shape
    n = 0
    hr = int(math.floor(d / dy + 1e-9))
    d2 = d * d * (1.0 + 1e-12)
    for r in range(max(0, r0 - hr), min(nr, r0 + hr + 1)):
        ddy = (r - r0) * dy
        rem = d2 - ddy * ddy
        if rem < 0.0:
            continue
        w = int(math.floor(math.sqrt(rem) / dx + 1e-9))
        for c in range(max(0, c0 - w), min(nc, c0 + w + 1)):
            if z[r, c] <= zl:
                if out.shape[0] > 0:
                    out[n] = r * nc + c
                n += 1
    return n


@numba.njit(cache=True, parallel=True)
def _site_kernel(z, rows, cols, dx, dy, dist, lim, counts, offsets, flat, fill):
    empty = np.zeros(0, dtype=np.int64)
    for k in prange(rows.shape[0]):
        if rows[k] < 0:
            continue
        if fill:
            _disc_cells(z, rows[k], cols[k], dx, dy, dist[k], lim[k], flat[offsets[k]:offsets[k] + counts[k]])
        else:
            counts[k] = _disc_cells(z, rows[k], cols[k], dx, dy, dist[k], lim[k], empty)


# ---- helpers --------------------------------------------------------------------------------------------------
def _heights(dem: Raster) -> np.ndarray:
    """The DEM as float32 with NaN on voids."""
    z = np.asarray(dem.array, dtype=np.float32)
    valid = dem.valid_mask()
    if not valid.all():
        z = np.where(valid, z, np.float32(np.nan))
    return z


def _cells_of(grid: Raster, xs, ys) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of points (-1 when outside the grid)."""
    inv = ~grid.transform
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    cf = inv.a * xs + inv.b * ys + inv.c
    rf = inv.d * xs + inv.e * ys + inv.f
    nr, nc = grid.shape
    ok = np.isfinite(cf) & np.isfinite(rf)
    r = np.where(ok, np.floor(np.where(ok, rf, -1)), -1).astype(np.int64)
    c = np.where(ok, np.floor(np.where(ok, cf, -1)), -1).astype(np.int64)
    inside = (r >= 0) & (r < nr) & (c >= 0) & (c < nc)
    return np.where(inside, r, -1), np.where(inside, c, -1)


def site_reach(dem: Raster, xs, ys, *, distance_m: float, rise_m: float | None) -> list[np.ndarray]:
    """Cells within reach of each site: ``distance_m`` horizontally and at most ``rise_m`` above it.

    Parameters
    ----------
    dem : Raster
        Elevations in metres (metric CRS; a DEM in degrees uses :func:`gis.terrain.cell_size_m`).
    xs, ys : array-like
        Site coordinates in the DEM's CRS.
    distance_m : float or array-like
        Horizontal reach, metres (one value, or one per site).
    rise_m : float or None or array-like
        Highest ground above the site's cell, metres; None (or NaN) for no limit.

    Returns
    -------
    list of numpy.ndarray of int64
        Per site, the flat indices (into ``dem.array.ravel()``) of the cells in reach, ascending;
        empty for a site outside the DEM or on a void.

    Examples
    --------
    >>> import numpy as np
    >>> from affine import Affine
    >>> g = Raster(np.zeros((5, 5)), Affine(30, 0, 0, 0, -30, 150), "EPSG:4549", None)
    >>> site_reach(g, [75.0], [75.0], distance_m=30.0, rise_m=None)[0].tolist()
    [7, 11, 12, 13, 17]
    """
    z = _heights(dem)
    dx, dy = (float(v) for v in cell_size_m(dem))
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    n = len(xs)
    rows, cols = _cells_of(dem, xs, ys)
    dist = np.broadcast_to(np.asarray(distance_m, dtype=float), (n,)).copy()
    rise = np.broadcast_to(np.asarray(np.nan if rise_m is None else rise_m, dtype=float), (n,)).copy()
    inside = rows >= 0
    z0 = np.full(n, np.nan)
    z0[inside] = z[rows[inside], cols[inside]]
    rows = np.where(np.isfinite(z0), rows, -1)
    lim = np.where(np.isnan(rise), np.inf, z0 + np.nan_to_num(rise))
    counts = np.zeros(n, dtype=np.int64)
    offsets = np.zeros(n, dtype=np.int64)
    flat = np.zeros(0, dtype=np.int64)
    _site_kernel(z, rows, cols, dx, dy, dist, lim, counts, offsets, flat, False)
    offsets[1:] = np.cumsum(counts)[:-1]
    flat = np.empty(int(counts.sum()), dtype=np.int64)
    _site_kernel(z, rows, cols, dx, dy, dist, lim, counts, offsets, flat, True)
    return np.split(flat, np.cumsum(counts)[:-1]) if n else []


def _metric_grid(dem: Raster) -> tuple[Raster, list[Text], bool]:
    """The metric grid of the analysis (:func:`gis.terrain.metric_grid`), its notes, and whether it moved."""
    grid, notes = metric_grid(dem)
    if grid is not dem:
        notes = [Text(zh + "，结果再采样回原网格", en + "; results resampled back to its grid", "reach_reprojected")
                 for zh, en in notes]
    return grid, notes, grid is not dem


def _to_grid(a: np.ndarray, src: Raster, dst: Raster, fill) -> np.ndarray:
    """``a`` on ``src``'s cells resampled (nearest) onto ``dst``'s cells."""
    import rasterio.warp
    from rasterio.enums import Resampling

    from layers.raster import _as_pyproj_input

    def wkt(c):
        import pyproj
        return pyproj.CRS.from_user_input(_as_pyproj_input(c)).to_wkt()

    out = np.full(dst.shape, fill, dtype=a.dtype)
    rasterio.warp.reproject(a, out, src_transform=src.transform, src_crs=wkt(src.crs), dst_transform=dst.transform,
                            dst_crs=wkt(dst.crs), resampling=Resampling.nearest)
    return out


def _names(lst: list[str]) -> tuple[str, str]:
    zh = "、".join(lst[:10]) + (f" 等 {len(lst)} 个" if len(lst) > 10 else "")
    en = ", ".join(lst[:10]) + (f" and {len(lst) - 10} more" if len(lst) > 10 else "")
    return zh, en


def _labels(gdf: gpd.GeoDataFrame) -> list[str]:
    """A name per feature: ``name``, else ``source_id``, else ``#n`` (feature number)."""
    out = [f"#{i + 1}" for i in range(len(gdf))]
    for col in ("source_id", "name"):
        if col in gdf:
            for i, v in enumerate(gdf[col].tolist()):
                if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip():
                    out[i] = str(v)
    return out


def _bools(gdf: gpd.GeoDataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(value, known) of a boolean-ish column; missing column: all unknown."""
    n = len(gdf)
    if col not in gdf:
        return np.zeros(n, bool), np.zeros(n, bool)
    s = gdf[col]
    known = s.notna().to_numpy()
    val = np.array([bool(v) if k else False for v, k in zip(s.tolist(), known)], dtype=bool)
    return val, known


def _numbers(gdf: gpd.GeoDataFrame, col: str) -> np.ndarray:
    if col not in gdf:
        return np.full(len(gdf), np.nan)
    return pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype=float)


def _fast_shapes(geoms) -> list:
    """Geo-interface dicts with numpy coordinate arrays, one per (Multi)Polygon, built with vectorised shapely
    calls (rasterio takes them; shapely's ``__geo_interface__`` builds Python tuples per vertex, about 2x slower
    over 10^4 polygons). Other geometry types are passed through."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    kind = shapely.get_type_id(geoms)
    areal = np.flatnonzero((kind == 3) | (kind == 6))
    out = list(geoms)
    if not len(areal):
        return out
    polys, pidx = shapely.get_parts(geoms[areal], return_index=True)
    rings, ridx = shapely.get_rings(polys, return_index=True)
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    ring_xy = np.split(coords, np.cumsum(np.bincount(cidx, minlength=len(rings)))[:-1])
    per_poly: list[list] = [[] for _ in range(len(polys))]
    for xy, p in zip(ring_xy, ridx):
        per_poly[p].append(xy)
    per_geom: list[list] = [[] for _ in range(len(areal))]
    for rs, g in zip(per_poly, pidx):
        per_geom[g].append(rs)
    for k, i in enumerate(areal):
        out[i] = {"type": "MultiPolygon", "coordinates": per_geom[k]}
    return out


def _burn_forest(forest: gpd.GeoDataFrame, grid: Raster) -> tuple[np.ndarray, pd.Index]:
    """Township code (1..n, 0 = not forest) per cell of ``grid``, forest polygons burnt at cell centres."""
    from rasterio.features import rasterize

    f = forest.to_crs(grid.crs) if forest.crs is not None and grid.crs is not None else forest
    names = f["township"].fillna("—").astype(str) if "township" in f else pd.Series("—", index=f.index)
    codes, towns = pd.factorize(names)
    keep = (~(f.geometry.isna() | f.geometry.is_empty)).to_numpy()
    shapes = list(zip(_fast_shapes(f.geometry.to_numpy()[keep]), (codes[keep] + 1).tolist()))
    if not shapes:
        return np.zeros(grid.shape, dtype=np.int32), towns
    burnt = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32")
    return burnt, towns


def _no_overlap(source: str) -> AnalysisRefused:
    return AnalysisRefused(Problem("林地图层与 DEM 没有重叠（DEM 有效范围内没有林地像元）",
                              "the forest layer does not overlap the DEM (no forest cell on valid DEM cells)",
                              "检查林地与 DEM 是否为同一地区、坐标系是否正确",
                              "check that the forest and the DEM cover the same area and that their CRS is right",
                              file=source or None))


# ---- the analysis ---------------------------------------------------------------------------------------------
def water_reach(dem: Raster, sources: gpd.GeoDataFrame, forest_mask, *, rules: dict[str, ReachRule] | None = None,
                season: str = "dry", roads: gpd.GeoDataFrame | None = None,
                max_road_distance_m: float | None = None, high_risk=None) -> ReachResult:
    """Forest within reach of usable water sources (see the module docstring for the definition).

    Parameters
    ----------
    dem : Raster
        Elevations in metres; a DEM in degrees is reprojected to a metric CRS for the analysis and the
        count / only-source rasters brought back to its grid.
    sources : GeoDataFrame
        The water_sources layer (``name``, ``source_id``, ``type``, ``volume``, ``seasonal``,
        ``helicopter``, ``depth``, ``status``), any CRS.
    forest_mask : numpy.ndarray of bool or GeoDataFrame
        Forest cells on the DEM's grid, or forest polygons (burnt at cell centres; their
        ``township`` gives the per-township table).
    rules : dict, optional
        :class:`ReachRule` per type (keys of :data:`DEFAULT_RULES`, plus ``default``), merged over
        the defaults.
    season : {"dry", "wet"}
        ``dry`` (the fire season, default) drops seasonal sources.
    roads : GeoDataFrame, optional
        Road lines for the road filter.
    max_road_distance_m : float, optional
        Drop (ground) sources farther than this from a road; needs ``roads``.
    high_risk : numpy.ndarray or Raster, optional
        Fire-risk levels (1..5) on the DEM's grid, or a levels raster on any grid (resampled,
        nearest); level >= ``HIGH_RISK_LEVEL`` is high risk.

    Returns
    -------
    ReachResult

    Raises
    ------
    AnalysisRefused
        The forest does not overlap the DEM.
    LayerError
        A forest mask of the wrong shape; a bad season.
    """
    if season not in ("dry", "wet"):
        raise LayerError(Problem(f"季节“{season}”无法识别", f"season '{season}' is not understood",
                                 "写 dry（旱季）或 wet（雨季）", "write dry or wet", field="--season"))
    rules = {**DEFAULT_RULES, **(rules or {})}
    grid, notes, geographic = _metric_grid(dem)
    z = _heights(grid)
    nr, nc = grid.shape
    dx, dy = (float(v) for v in cell_size_m(grid))
    cell_ha = dx * dy / 1e4

    # forest on the working grid
    towns = None
    burnt = None
    if isinstance(forest_mask, gpd.GeoDataFrame):
        burnt, towns = _burn_forest(forest_mask, grid)
        forest = burnt > 0
        fsource = str(forest_mask.attrs.get("source", ""))
    else:
        fm = np.asarray(forest_mask).astype(bool)
        if fm.shape != dem.shape:
            raise LayerError(Problem(f"林地栅格的大小 {fm.shape} 与 DEM {dem.shape} 不一致",
                                     f"the forest mask's shape {fm.shape} differs from the DEM's {dem.shape}",
                                     "把林地重采样到 DEM 网格", "resample the forest onto the DEM's grid"))
        forest = _to_grid(fm.astype(np.uint8), dem, grid, 0).astype(bool) if geographic else fm
        fsource = ""
    forest = forest & np.isfinite(z)
    if not forest.any():
        raise _no_overlap(fsource)

    hr_mask = None
    if high_risk is not None:
        if isinstance(high_risk, Raster):
            lv = np.asarray(high_risk.array)
            lv = np.where(high_risk.valid_mask(), lv, 0).astype(np.float32)
            same = high_risk.shape == grid.shape and high_risk.transform == grid.transform
            lv = lv if same else _to_grid(lv, high_risk, grid, np.float32(0))
        else:
            lv = np.asarray(high_risk, dtype=np.float32)
            if lv.shape != dem.shape:
                raise LayerError(Problem(f"火险等级栅格大小 {lv.shape} 与 DEM {dem.shape} 不一致",
                                         f"the risk levels' shape {lv.shape} differs from the DEM's {dem.shape}",
                                         "使用与 DEM 同一网格的火险等级栅格", "use a risk raster on the DEM's grid"))
            if geographic:
                lv = _to_grid(lv, dem, grid, np.float32(0))
        hr_mask = forest & (np.nan_to_num(lv) >= HIGH_RISK_LEVEL)

    # ---- which sources, which rule --------------------------------------------------------------------------
    n = len(sources)
    src = sources
    if grid.crs is not None and sources.crs is not None:
        src = sources.to_crs(grid.crs)
    labels = _labels(src)
    geoms = src.geometry
    pts = [None if g is None or g.is_empty else (g if g.geom_type == "Point" else g.representative_point())
           for g in geoms]
    xs = np.array([p.x if p is not None else np.nan for p in pts])
    ys = np.array([p.y if p is not None else np.nan for p in pts])
    rows, cols = _cells_of(grid, xs, ys)

    types = src["type"].astype(object).where(src["type"].notna(), None).tolist() if "type" in src else [None] * n
    types = [t if t in SOURCE_TYPES else None for t in types]
    status = src["status"].astype(object).tolist() if "status" in src else [None] * n
    volume = _numbers(src, "volume")
    depth = _numbers(src, "depth")
    seasonal, seasonal_known = _bools(src, "seasonal")
    heli, _ = _bools(src, "helicopter")
    default_rule = rules.get("default", UNKNOWN_TYPE_RULE)
    heli_rule = rules["helicopter"]

    dist = np.zeros(n)
    rise = np.full(n, np.nan)
    dip = np.zeros(n, bool)
    adist = np.full(n, np.nan)
    arise = np.full(n, np.nan)
    reason = [""] * n
    for i in range(n):
        kind = types[i]
        rule = rules[kind] if kind is not None else default_rule
        dist[i] = rule.distance_m
        rise[i] = np.nan if rule.rise_m is None else rule.rise_m
        if heli[i] and depth[i] >= HELI_MIN_DEPTH_M and heli_rule.distance_m > 0:
            dip[i] = True
            adist[i] = heli_rule.distance_m
            arise[i] = np.nan if heli_rule.rise_m is None else heli_rule.rise_m
        st = status[i]
        if isinstance(st, str) and st in OUT_OF_SERVICE:
            reason[i] = "status"
        elif volume[i] == 0:
            reason[i] = "empty"
        elif season == "dry" and seasonal[i]:
            reason[i] = "season"
        elif rows[i] < 0:
            reason[i] = "outside"
        elif not np.isfinite(z[rows[i], cols[i]]):
            reason[i] = "void"

    road_d = np.full(n, np.nan)
    if max_road_distance_m is not None and roads is None:
        notes.append(Text("给了道路距离上限但没有道路图层，未按道路筛选",
                          "a road distance limit was given without a roads layer; no road filter applied",
                          "reach_no_roads"))
    if roads is not None:
        from shapely import STRtree, points

        r = roads.to_crs(grid.crs) if roads.crs is not None and grid.crs is not None else roads
        rg = [g for g in r.geometry if g is not None and not g.is_empty]
        cand = np.flatnonzero(np.isfinite(xs))
        if rg and len(cand):
            tree = STRtree(rg)
            idx, d = tree.query_nearest(points(xs[cand], ys[cand]), return_distance=True, all_matches=False)
            road_d[cand[idx[0]]] = d
        if max_road_distance_m is not None:
            far = []
            for i in range(n):
                if reason[i] == "" and not dip[i] and not (road_d[i] <= max_road_distance_m):
                    reason[i] = "road"
                    far.append(labels[i])
            kept = int(sum(1 for i in range(n) if dip[i] and reason[i] == "" and
                           not (road_d[i] <= max_road_distance_m)))
            if kept:
                notes.append(Text(f"{kept} 个直升机取水点距道路超过 {max_road_distance_m:g} 米，仍按航空取水计入",
                                  f"{kept} helicopter dip site(s) farther than {max_road_distance_m:g} m from a road "
                                  "kept (reached from the air)", "reach_dip_sites_kept"))

    # notes on the input
    untyped = [labels[i] for i in range(n) if types[i] is None]
    if untyped:
        zh, en = _names(untyped)
        notes.append(Text(f"{len(untyped)} 个水源点没有（或无法识别的）类型，按 {default_rule.distance_m:g} 米、爬升 "
                          f"{'不限' if default_rule.rise_m is None else f'{default_rule.rise_m:g} 米'}计算：{zh}",
                          f"{len(untyped)} source(s) with no or an unknown type use {default_rule.distance_m:g} m, "
                          f"rise {'unlimited' if default_rule.rise_m is None else f'{default_rule.rise_m:g} m'}: "
                          f"{en}", "sources_untyped"))
    novol = [labels[i] for i in range(n) if types[i] in _STORE_TYPES and not np.isfinite(volume[i])]
    if novol:
        zh, en = _names(novol)
        notes.append(Text(f"{len(novol)} 个蓄水类水源点没有蓄水量，按其类型的规则计算：{zh}",
                          f"{len(novol)} store source(s) with no volume use their type's rule: {en}",
                          "sources_no_volume"))
    shallow = [labels[i] for i in range(n) if heli[i] and not dip[i] and heli_rule.distance_m > 0]
    if shallow:
        zh, en = _names(shallow)
        notes.append(Text(f"{len(shallow)} 个标为直升机取水的水源点水深不足 {HELI_MIN_DEPTH_M:g} 米或未知，"
                          f"只按地面规则计算：{zh}",
                          f"{len(shallow)} source(s) marked as helicopter dip sites have under "
                          f"{HELI_MIN_DEPTH_M:g} m of water or no depth; ground rule only: {en}", "sources_shallow"))
    if season == "dry":
        unk = [labels[i] for i in range(n) if not seasonal_known[i]]
        if unk:
            zh, en = _names(unk)
            notes.append(Text(f"{len(unk)} 个水源点未注明是否季节性，按常年水源计：{zh}",
                              f"{len(unk)} source(s) not marked seasonal or permanent are taken as permanent: {en}",
                              "sources_season_unknown"))
    for code in ("status", "empty", "season", "road", "outside", "void"):
        lst = [labels[i] for i in range(n) if reason[i] == code]
        if lst:
            zh, en = _names(lst)
            rz, re_ = REASONS[code]
            notes.append(Text(f"{len(lst)} 个水源点未计入（{rz}）：{zh}",
                              f"{len(lst)} source(s) not counted ({re_}): {en}",
                              f"sources_dropped_{code}"))

    # ---- the kernel -----------------------------------------------------------------------------------------
    use = np.array([r == "" for r in reason], dtype=bool)
    k_idx = np.flatnonzero(use)
    z0 = np.full(n, np.nan)
    z0[k_idx] = z[rows[k_idx], cols[k_idx]]
    glim = np.where(np.isnan(rise), np.inf, z0 + np.nan_to_num(rise))
    alim = np.where(np.isnan(arise), np.inf, z0 + np.nan_to_num(arise))
    # the kernel's main rule: the helicopter rule for dip sites (ground rule as the second), else the ground rule
    kd = np.where(dip, adist, dist)[k_idx].astype(float)
    kl = np.where(dip, alim, glim)[k_idx].astype(float)
    count = np.zeros((nr, nc), dtype=np.uint16)
    sole_k = np.full((nr, nc), -1, dtype=np.int32)
    ground = np.zeros((nr, nc), dtype=np.uint8)
    nband = max(1, min(nr, 8 * numba.get_num_threads()))
    reached = np.zeros((nband, len(k_idx)), dtype=np.int64)
    if len(k_idx):
        _reach_kernel(z, forest, rows[k_idx], cols[k_idx], dx, dy, kd, kl, dip[k_idx].copy(),
                      dist[k_idx].astype(float), glim[k_idx].astype(float), nband, count, sole_k, ground, reached)
    ground = ground.view(bool)
    reached_cells = np.zeros(n, dtype=np.int64)
    reached_cells[k_idx] = reached.sum(axis=0)
    only = (count == 1) & forest
    sole_cells = np.zeros(n, dtype=np.int64)
    if len(k_idx):
        sole_cells[k_idx] = np.bincount(sole_k[only], minlength=len(k_idx))[:len(k_idx)]

    # ---- tables and figures ---------------------------------------------------------------------------------
    table = pd.DataFrame({
        "name": labels,
        "type": [t if t is not None else "" for t in types],
        "usable": use,
        "reason": reason,
        "reason_zh": [REASONS[r].zh if r else "" for r in reason],
        "reason_en": [REASONS[r].en if r else "" for r in reason],
        "distance_m": dist,
        "rise_m": rise,
        "dip_site": dip,
        "air_distance_m": adist,
        "air_rise_m": arise,
        "road_distance_m": road_d,
        "forest_ha": reached_cells * cell_ha,
        "sole_forest_ha": sole_cells * cell_ha,
    }, index=sources.index)
    tkey = table["type"].replace("", "unknown")
    by_type = pd.DataFrame({"sources": tkey.value_counts(), "usable": tkey[table["usable"]].value_counts()})
    for code in REASONS:
        by_type["dropped_" + code] = tkey[table["reason"] == code].value_counts()
    by_type = by_type.fillna(0).astype(int).sort_index()
    by_type.index.name = "type"

    in_reach = forest & (count > 0)
    fc = int(forest.sum())
    rc = int(in_reach.sum())
    gc = int((forest & ground).sum())
    summary = {"season": season, "sources": n, "usable": int(use.sum()), "dip_sites": int((dip & use).sum()),
               "forest_cells": fc, "forest_ha": round(fc * cell_ha, 2), "reach_cells": rc,
               "reach_ha": round(rc * cell_ha, 2), "reach_share": round(rc / fc, 6) if fc else 0.0,
               "reach2_share": round(int((forest & (count > 1)).sum()) / fc, 6) if fc else 0.0,
               "ground_reach_cells": gc, "ground_reach_share": round(gc / fc, 6) if fc else 0.0,
               "high_risk_cells": None, "high_risk_reach_cells": None, "high_risk_reach_share": None,
               "high_risk_ground_reach_share": None}
    if hr_mask is not None:
        hc = int(hr_mask.sum())
        hrc = int((hr_mask & (count > 0)).sum())
        hgc = int((hr_mask & ground).sum())
        summary.update(high_risk_cells=hc, high_risk_reach_cells=hrc,
                       high_risk_reach_share=round(hrc / hc, 6) if hc else 0.0,
                       high_risk_ground_reach_share=round(hgc / hc, 6) if hc else 0.0)

    townships = None
    if burnt is not None:
        townships = reach_by_township(count, grid, (burnt, towns), high_risk=hr_mask, ground=ground)

    # back to the DEM's grid
    lut = np.append(k_idx, -1).astype(np.int32)
    sole = lut[sole_k]  # -1 maps to lut[-1] = -1
    count_grid = count
    if geographic:
        count = _to_grid(count, grid, dem, np.uint16(0))
        sole = _to_grid(sole, grid, dem, np.int32(-1))
        bad = ~dem.valid_mask()
        count[bad] = 0
        sole[bad] = -1
    return ReachResult(count=count, sole=sole, sources=table, by_type=by_type, summary=summary, notes=notes,
                       grid=grid, forest=forest, high_risk=hr_mask, count_grid=count_grid, ground=ground,
                       townships=townships, rules=rules)


def reach_by_township(count: np.ndarray, grid: Raster, forest, *, high_risk: np.ndarray | None = None,
                      ground: np.ndarray | None = None) -> pd.DataFrame:
    """Forest and high-risk forest in reach of a water source, per township and in total.

    Parameters
    ----------
    count : numpy.ndarray
        Sources reaching each cell of ``grid`` (:attr:`ReachResult.count_grid`).
    grid : Raster
        The grid of ``count``.
    forest : GeoDataFrame or tuple
        Forest polygons with ``township`` (missing: ``—``), or ``(codes, townships)`` already burnt
        (codes 1..n per cell, 0 = not forest).
    high_risk : numpy.ndarray of bool, optional
        High-risk forest cells on ``grid``.
    ground : numpy.ndarray of bool, optional
        Cells reached under a ground rule (:attr:`ReachResult.ground`): adds ``ground_share``.

    Returns
    -------
    DataFrame
        Index ``township`` plus a final ``合计/Total`` row; columns ``forest_ha``, ``reach_ha``,
        ``reach_share``; with ``ground``, ``ground_share``; with ``high_risk``, ``high_risk_ha``,
        ``high_risk_reach_share`` (NaN for a township without high-risk forest).
    """
    burnt, towns = _burn_forest(forest, grid) if isinstance(forest, gpd.GeoDataFrame) else forest
    dx, dy = cell_size_m(grid)
    ha = dx * dy / 1e4
    m = len(towns) + 1
    # one pass: key = township code * 4 + 2 * high risk + in reach (voids count as not forest)
    key = np.where(grid.valid_mask(), burnt, 0).astype(np.int32) * 4
    key += (count > 0).astype(np.int32)
    if high_risk is not None:
        key += 2 * np.asarray(high_risk, dtype=np.int32)
    tally = np.bincount(key.ravel(), minlength=4 * m).reshape(m, 4)[1:]
    tot = tally.sum(axis=1)
    inr = tally[:, 1] + tally[:, 3]
    cols = {"forest_ha": tot * ha, "reach_ha": inr * ha, "reach_share": inr / np.maximum(tot, 1)}
    tcols = {"forest_ha": [tot.sum() * ha], "reach_ha": [inr.sum() * ha],
             "reach_share": [inr.sum() / max(tot.sum(), 1)]}
    if ground is not None:
        gin = np.bincount(np.where(ground, key // 4, 0).ravel(), minlength=m)[1:]
        cols["ground_share"] = gin / np.maximum(tot, 1)
        tcols["ground_share"] = [gin.sum() / max(tot.sum(), 1)]
    if high_risk is not None:
        htot = tally[:, 2] + tally[:, 3]
        hin = tally[:, 3]
        cols.update(high_risk_ha=htot * ha, high_risk_reach_share=np.where(htot > 0, hin / np.maximum(htot, 1),
                                                                           np.nan))
        tcols.update(high_risk_ha=[htot.sum() * ha],
                     high_risk_reach_share=[hin.sum() / htot.sum() if htot.sum() else np.nan])
    out = pd.DataFrame(cols, index=pd.Index(towns, name="township"))
    total = pd.DataFrame(tcols, index=pd.Index(["合计/Total"], name="township"))
    out = pd.concat([out.sort_index(), total])
    return out.round({c: (2 if c.endswith("_ha") else 4) for c in out.columns})


def uncovered_patches(result: ReachResult, *, high_risk_only: bool = False, ground_only: bool = False,
                      min_area_m2: float = 0.0) -> gpd.GeoDataFrame:
    """Forest (or high-risk forest) out of reach of every usable source, as polygons (EPSG:4490).

    ``ground_only``: out of ground reach (helicopter dip sites' air reach not counted).

    Columns as :func:`gis.fire.patches.mask_patches` (``patch_id``, ``area_ha``, ``cells``, ``geometry``),
    largest first.
    """
    from gis.fire.patches import mask_patches

    base = result.high_risk if (high_risk_only and result.high_risk is not None) else result.forest
    if ground_only:
        assert result.ground is not None  # water_reach always sets the ground reach
        reached = result.ground
    else:
        reached = result.count_grid > 0
    return mask_patches(base & ~reached, result.grid, min_area_m2=min_area_m2)
