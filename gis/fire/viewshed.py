"""Camera viewsheds on a DEM: an exact cell-centre line-of-sight reference and a fast sweep.

Definition (the reference, :func:`viewshed_exact`)
----------------------------------------------------
Cells are addressed by (row, col), row 0 at the top; ``res`` is the (square) cell size in metres.
The observer stands at the centre of cell ``(row, col)`` with the eye at
``z0 = dem[row, col] + observer_h``. A target cell ``(r, c)`` at horizontal distance
``dt = res * hypot(r - row, c - col)`` has the target point ``zt = dem[r, c] + target_h - drop(dt)``,
where ``drop(d) = d**2 * (1 - k) / (2 R)`` (``R = 6 371 000 m``, ``k`` the refraction coefficient;
``drop = 0`` with ``curvature=False``).

Let ``m = max(|r - row|, |c - col|)`` (the major axis is the one with the larger offset; rows on a
tie). The sight line crosses the lines of cell centres of the major axis at ``t = i / m`` for
``i = 1 .. m - 1``; there the terrain height ``zs`` is linearly interpolated between the two cell
centres on that line that bracket the crossing (the minor coordinate ``minor0 + t * dminor``), and
``zs - drop(t * dt)`` is the blocking height. The target is **visible** when no blocking height is
strictly above the sight line, i.e. ``(zs - drop - z0) / (t dt) <= (zt - z0) / dt`` at every crossing
(Franklin's R3 with linear interpolation). The observer cell is visible.

No data (NaN): a NaN cell is never visible and does not block: at a crossing where one bracketing cell
is NaN the other one's height is used; where both are NaN there is nothing to block. An observer on a
NaN cell sees nothing.

Limits: a cell is considered only when its centre is within ``max_range_m`` of the observer and, when
both ``azimuth`` and ``fov`` are given (and ``fov < 360``), when its direction (degrees clockwise
from north, north = up = decreasing row) is within ``fov / 2`` of ``azimuth``.

Fast sweep (:func:`viewshed`, :func:`coverage`)
-----------------------------------------------
The range square is swept one octant at a time, one ring (major-axis step) at a time
(:mod:`gis.fire._sweep`): :data:`RAYS_PER_CELL` rays per cell of the square's edge carry the
steepest blocking slope seen so far, sampled exactly as the reference samples a sight line; a
cell's horizon is the two rays around it interpolated at its angle, with the last crossing before
it taken on its own sight line. Cells on a ray (axes, diagonals ...) get the reference's answer;
elsewhere the sweep agrees with :func:`viewshed_exact` on at least 99.9 % of the cells in range on
the benchmark's real terrain and on the tests' random terrain (``bench/RESULTS.md``). The cost is
``O(R^2)`` per observer (``8 R^2 RAYS_PER_CELL`` ray steps and one test per cell) instead of
``O(R^3)``, with nothing allocated per camera but four rows of ``S + 1`` numbers.

:func:`coverage` runs the sweep for every camera on one shared count raster (cameras shared among
threads, each with one window of its range square, merged one at a time), skips cameras with no
cell of interest in range, and with a :class:`gis.fire.viewshed_cache.ViewshedCache` keeps each
camera's viewshed so that a review that adds or edits one camera computes only that one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np

from gis.fire._sweep import block_any, merge, merge_packed, range_limit, run_sweeps, sweep, window_any
from gis.fire.viewshed_cache import ViewshedCache, dem_key
from layers.text import Text

__all__ = ["EARTH_RADIUS", "RAYS_PER_CELL", "viewshed", "viewshed_exact", "coverage"]

#: mean earth radius used for the curvature drop, metres
EARTH_RADIUS = 6_371_000.0

_OUT, _HIDDEN, _SEEN = 0, 1, 2

#: rays per cell of the range square's edge in the fast sweep (2: agreement with the exact reference
#: >= 99.9 % of the cells in range; 1 is about twice as fast on the rays, 99.8 %)
RAYS_PER_CELL = 2.0

#: block size (cells) of the coarse masks that tell which cameras' squares hold voids / cells of interest
_BLOCK = 32


# ---- the exact reference (numba) ------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _terrain(dem, major_row, major, minor_f):
    """Height at the crossing ``minor_f`` on line ``major`` (row if ``major_row`` else column); NaN if none."""
    nr, nc = dem.shape
    lo = int(math.floor(minor_f))
    f = minor_f - lo
    nminor = nc if major_row else nr
    if major_row:
        a = float(dem[major, lo])
        b = float(dem[major, lo + 1]) if (f > 0.0 and lo + 1 < nminor) else a
    else:
        a = float(dem[lo, major])
        b = float(dem[lo + 1, major]) if (f > 0.0 and lo + 1 < nminor) else a
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a + f * (b - a)


@numba.njit(cache=True)
def _in_limits(dr, dc, res, max_range_m, use_sector, az, half_fov):
    d = res * math.sqrt(dr * dr + dc * dc)
    if d > max_range_m:
        return False
    if use_sector and (dr != 0 or dc != 0):
        bearing = math.degrees(math.atan2(dc, -dr)) % 360.0
        diff = abs((bearing - az + 180.0) % 360.0 - 180.0)
        if diff > half_fov + 1e-9:
            return False
    return True


@numba.njit(cache=True)
def _los_exact(dem, res, r0, c0, z0, r, c, target_h, dcoef):
    """Exact line of sight from the eye at (r0, c0, z0) to cell (r, c) (see the module docstring)."""
    zc = dem[r, c]
    if math.isnan(zc):
        return False
    dr = r - r0
    dc = c - c0
    m = max(abs(dr), abs(dc))
    if m == 0:
        return True
    dt = res * math.sqrt(dr * dr + dc * dc)
    slope_t = (zc + target_h - dcoef * dt * dt - z0) / dt
    major_row = abs(dr) >= abs(dc)
    for i in range(1, m):
        t = i / m
        if major_row:
            major = r0 + (i if dr > 0 else -i)
            zs = _terrain(dem, True, major, c0 + t * dc)
        else:
            major = c0 + (i if dc > 0 else -i)
            zs = _terrain(dem, False, major, r0 + t * dr)
        if math.isnan(zs):
            continue
        ds = t * dt
        if (zs - dcoef * ds * ds - z0) / ds > slope_t:
            return False
    return True


@numba.njit(cache=True)
def _exact_kernel(dem, res, r0, c0, observer_h, target_h, max_range_m, use_sector, az, half_fov, dcoef, out):
    nr, nc = dem.shape
    if math.isnan(dem[r0, c0]):
        return
    z0 = dem[r0, c0] + observer_h
    rc = int(min(max_range_m / res, nr + nc)) + 1
    for r in range(max(0, r0 - rc), min(nr, r0 + rc + 1)):
        for c in range(max(0, c0 - rc), min(nc, c0 + rc + 1)):
            if not _in_limits(r - r0, c - c0, res, max_range_m, use_sector, az, half_fov):
                continue
            if math.isnan(dem[r, c]):
                out[r, c] = _HIDDEN
            elif _los_exact(dem, res, r0, c0, z0, r, c, target_h, dcoef):
                out[r, c] = _SEEN
            else:
                out[r, c] = _HIDDEN


# ---- public API ---------------------------------------------------------------------------------
def _prepare(dem: np.ndarray, res: float, row: int, col: int, max_range_m: float | None, azimuth: float | None,
             fov: float | None, curvature: bool, refraction: float, *, keep_float32: bool = False):
    keep = keep_float32 and np.asarray(dem).dtype == np.float32
    dem = np.ascontiguousarray(dem, dtype=np.float32 if keep else np.float64)
    if dem.ndim != 2:
        raise ValueError(f"dem must be 2-D, got shape {dem.shape}")
    if not res > 0:
        raise ValueError(f"res must be positive, got {res}")
    nr, nc = dem.shape
    if not (0 <= row < nr and 0 <= col < nc):
        raise ValueError(f"observer ({row}, {col}) is outside the DEM of shape {dem.shape}")
    rng = np.inf if max_range_m is None else float(max_range_m)
    use_sector = azimuth is not None and fov is not None and float(fov) < 360.0
    az = float(azimuth) % 360.0 if use_sector and azimuth is not None else 0.0
    half = float(fov) / 2.0 if use_sector and fov is not None else 180.0
    dcoef = (1.0 - float(refraction)) / (2.0 * EARTH_RADIUS) if curvature else 0.0
    return dem, rng, use_sector, az, half, dcoef


def viewshed(dem: np.ndarray, res: float, row: int, col: int, observer_h: float, *, target_h: float = 0.0,
             max_range_m: float | None = None, azimuth: float | None = None, fov: float | None = None,
             curvature: bool = True, refraction: float = 0.13, rays_per_cell: float = RAYS_PER_CELL) -> np.ndarray:
    """Cells visible from one observer: the fast sweep (see the module docstring).

    Parameters
    ----------
    dem : numpy.ndarray
        2-D elevations in metres, NaN where there is no data (never visible, never blocking).
        float32 elevations are swept as they are; other types as float64.
    res : float
        Cell size in metres (square cells).
    row, col : int
        Observer cell.
    observer_h : float
        Eye height above the DEM at the observer cell (mast height), metres.
    target_h : float
        Height above ground of the target point in every cell (0 = the ground; ~20 m for a smoke column).
    max_range_m : float, optional
        Only cells whose centre is within this distance; default the whole DEM.
    azimuth, fov : float, optional
        Sector centre (degrees clockwise from north) and full width; both needed, else 360 degrees.
    curvature : bool
        Subtract the earth curvature and refraction drop ``d**2 (1 - refraction) / (2 R)``.
    refraction : float
        Refraction coefficient ``k`` (0.13 default).
    rays_per_cell : float
        Rays per cell of the range square's edge (more: closer to the exact reference, slower).

    Returns
    -------
    numpy.ndarray of bool
        Shape of ``dem``; True where visible.
    """
    a, rng, sect, az, half, dcoef = _prepare(dem, res, row, col, max_range_m, azimuth, fov, curvature, refraction,
                                             keep_float32=True)
    out = np.zeros(a.shape, dtype=np.uint8)
    sweep(a, float(res), int(row), int(col), float(observer_h), float(target_h), rng, sect, az, half, dcoef,
          float(rays_per_cell), bool(np.isnan(a).any()), out, 0, 0)
    return out == _SEEN


def viewshed_exact(dem: np.ndarray, res: float, row: int, col: int, observer_h: float, *, target_h: float = 0.0,
                   max_range_m: float | None = None, azimuth: float | None = None, fov: float | None = None,
                   curvature: bool = True, refraction: float = 0.13) -> np.ndarray:
    """Cells visible from one observer by the exact per-target line of sight (O(R^3); for tests).

    Same parameters and return value as :func:`viewshed`; the definition is the module docstring's.
    """
    a, rng, sect, az, half, dcoef = _prepare(dem, res, row, col, max_range_m, azimuth, fov, curvature, refraction)
    out = np.zeros(a.shape, dtype=np.uint8)
    _exact_kernel(a, float(res), int(row), int(col), float(observer_h), float(target_h), rng, sect, az, half,
                  dcoef, out)
    return out == _SEEN


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


@dataclass
class _Cams:
    """The cameras used, as arrays on the working grid, and the names of those left out by reason."""

    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)
    ranges: list[float] = field(default_factory=list)
    azs: list[float] = field(default_factory=list)
    halves: list[float] = field(default_factory=list)
    sectors: list[bool] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)       # row position in the cameras frame
    names: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    void: list[str] = field(default_factory=list)
    no_h: list[str] = field(default_factory=list)
    no_r: list[str] = field(default_factory=list)
    off: list[str] = field(default_factory=list)


def _label(i: int, rec) -> str:
    for f in ("name", "camera_id"):
        v = rec.get(f) if hasattr(rec, "get") else None
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip():
            return str(v)
    return f"#{i + 1}"


def _cameras_on_grid(gdf, arr: np.ndarray, transform, range_m: float | None, default_height: float,
                     default_range: float) -> _Cams:
    """Each camera's cell, mast height, range and sector on the working grid (``gdf`` in its CRS)."""
    nr, nc = arr.shape
    inv = ~transform
    out = _Cams()
    for i, (_, rec) in enumerate(gdf.iterrows()):
        geom = rec.geometry
        name = _label(i, rec)
        if str(rec.get("status", "") or "") in ("unavailable", "damaged"):
            out.off.append(name)
            continue
        if geom is None or geom.is_empty:
            out.outside.append(name)
            continue
        pt = geom if geom.geom_type == "Point" else geom.representative_point()
        cf, rf = inv * (pt.x, pt.y)
        r, c = int(math.floor(rf)), int(math.floor(cf))
        if not (0 <= r < nr and 0 <= c < nc):
            out.outside.append(name)
            continue
        if math.isnan(arr[r, c]):
            out.void.append(name)
            continue
        hgt = _num(rec.get("height"))
        if not math.isfinite(hgt):
            hgt = float(default_height)
            out.no_h.append(name)
        if range_m is not None:
            rg = float(range_m)
        else:
            rg = _num(rec.get("range"))
            if not (math.isfinite(rg) and rg > 0):
                rg = float(default_range)
                out.no_r.append(name)
        az, fov = _num(rec.get("azimuth")), _num(rec.get("fov"))
        sect = math.isfinite(az) and math.isfinite(fov) and fov < 360.0
        out.rows.append(r)
        out.cols.append(c)
        out.heights.append(hgt)
        out.ranges.append(rg)
        out.azs.append(az % 360.0 if sect else 0.0)
        out.halves.append(fov / 2.0 if sect else 180.0)
        out.sectors.append(sect)
        out.pos.append(i)
        out.names.append(name)
    return out


def _names(lst: list[str]) -> tuple[str, str]:
    shown = "、".join(lst[:10]) + (f" 等 {len(lst)} 个" if len(lst) > 10 else "")
    shown_en = ", ".join(lst[:10]) + (f" and {len(lst) - 10} more" if len(lst) > 10 else "")
    return shown, shown_en


def _camera_notes(cams: _Cams, default_height: float, default_range: float) -> list[Text]:
    notes = []
    for group, zh_text, en_text, code in (
            (cams.outside, "不在 DEM 范围内，已跳过", "outside the DEM were skipped", "cameras_outside"),
            (cams.void, "位于 DEM 无数据处，已跳过", "on DEM voids were skipped", "cameras_on_voids"),
            (cams.off, "状态为停用或损坏，未计入", "out of service were not counted", "cameras_out_of_service"),
            (cams.no_h, f"没有架设高度，按 {default_height:g} 米计算", f"with no mast height use {default_height:g} m",
             "cameras_default_height"),
            (cams.no_r, f"没有监测半径，按 {default_range:g} 米计算", f"with no range use {default_range:g} m",
             "cameras_default_range")):
        if group:
            zh, en = _names(group)
            notes.append(Text(f"{len(group)} 个监控点{zh_text}：{zh}", f"{len(group)} camera(s) {en_text}: {en}", code))
    return notes


def _working_array(dem) -> tuple[np.ndarray, np.ndarray]:
    """The elevations the sweep reads (NaN where no data) and the valid mask.

    float32 and integer DEMs (GeoTIFFs as written) become float32 (exact for elevations); float64 ones
    stay float64 unless float32 holds them exactly (half the memory traffic either way).
    """
    a = np.asarray(dem.array)
    valid = dem.valid_mask()
    if a.dtype == np.float64:
        out = np.where(valid, a, np.nan)
        out32 = out.astype(np.float32)
        return (out32 if np.array_equal(out32, out, equal_nan=True) else out), valid
    if a.dtype.itemsize > 4 and np.issubdtype(a.dtype, np.integer):
        return np.where(valid, a.astype(np.float64), np.nan), valid
    return np.where(valid, a.astype(np.float32, copy=False), np.float32(np.nan)), valid


def coverage(dem, cameras, *, target_h: float = 0.0, range_m: float | None = None, curvature: bool = True,
             refraction: float = 0.13, default_height: float = 10.0, default_range: float = 5000.0,
             return_in_range: bool = False, tally: np.ndarray | None = None, relevant: np.ndarray | None = None,
             cache: ViewshedCache | None = None, threads: int | None = None):
    """How many cameras see each DEM cell, and which sees it first.

    Parameters
    ----------
    dem : layers.raster.Raster
        Elevations in metres. A DEM in degrees is reprojected (bilinear) to a metric CRS
        (:func:`layers.crs.metric_crs`) for the analysis and the results brought back to its grid.
    cameras : geopandas.GeoDataFrame
        Points with the cameras layer's fields (``height``, ``range``, ``azimuth``, ``fov``, ``name``,
        ``camera_id``, ``status``), any CRS.
    target_h : float
        Target height above ground, metres.
    range_m : float, optional
        Overrides every camera's range.
    curvature, refraction
        As in :func:`viewshed`.
    default_height, default_range : float
        Used (with a note) for cameras without a mast height / range.
    return_in_range : bool
        Also return a fourth value, a dict: ``in_range`` (bool mask of valid cells within range and
        sector of at least one camera computed), ``used`` and ``skipped`` (camera counts),
        ``skipped_names``, ``not_relevant`` (names of the cameras left out by ``relevant``),
        ``cached`` (cameras taken from ``cache``), ``tallies`` (with ``tally``) and ``cpu_s``, CPU
        seconds by phase: ``grid`` (working elevations, reprojection, masks on the grid, the DEM's
        digest for the cache), ``cameras`` (their cells and parameters), ``masks`` (voids and
        relevant cells per camera square), ``cached`` (cameras added from the cache), ``sweep`` and
        ``merge`` (all threads), ``finish`` (tallies by camera, reprojection back).
    tally : numpy.ndarray of uint8, optional
        Bit flags on the DEM's grid (e.g. 1 = forest, 2 = high-risk forest): each camera's seen
        cells are counted per bit into ``info["tallies"]`` (``(len(cameras), 8)`` int64, rows in
        the cameras frame; zeros for cameras not used). Needs ``return_in_range``.
    relevant : numpy.ndarray of bool, optional
        The cells that matter (e.g. the forest), on the DEM's grid: a camera whose range square holds
        none of them is not computed (nothing it sees would count), and a note names it.
    cache : ViewshedCache, optional
        Keeps each camera's viewshed under the DEM's content and the camera's parameters; cameras
        found there are not swept again (the fire review passes the process-wide
        :data:`gis.fire.viewshed_cache.SHARED`).
    threads : int, optional
        Threads sharing the cameras (default: numba's thread count, the cores).

    Returns
    -------
    count : numpy.ndarray of uint16
        Number of cameras seeing each cell (DEM grid).
    first : numpy.ndarray of int32
        Row position in ``cameras`` of the first camera seeing the cell, -1 where none.
    notes : list of layers.text.Text
        Bilingual notes (skipped cameras, defaults used, reprojection, ...).
    info : dict
        Only with ``return_in_range`` (see above).
    """
    import pyproj
    import rasterio.warp
    from rasterio.enums import Resampling

    from layers.crs import metric_crs
    from layers.raster import _as_pyproj_input

    clock: dict[str, float] = {}
    tick = time.thread_time()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.thread_time()
        clock[name] = clock.get(name, 0.0) + now - tick
        tick = now

    notes: list[Text] = []
    src_crs = pyproj.CRS.from_user_input(_as_pyproj_input(dem.crs)) if dem.crs is not None else None
    arr, valid = _working_array(dem)
    transform, crs = dem.transform, src_crs
    geographic = src_crs is not None and src_crs.is_geographic
    if geographic:
        from layers.raster import Raster

        assert src_crs is not None  # geographic: the DEM has a CRS
        crs = metric_crs(Raster(arr, dem.transform, src_crs, None).bounds)
        left, bottom, right, top = dem.bounds
        dst_t, w, h = rasterio.warp.calculate_default_transform(
            src_crs.to_wkt(), crs.to_wkt(), dem.shape[1], dem.shape[0], left, bottom, right, top)
        # square cells
        px = max(abs(dst_t.a), abs(dst_t.e))
        dst_t, w, h = rasterio.warp.calculate_default_transform(
            src_crs.to_wkt(), crs.to_wkt(), dem.shape[1], dem.shape[0], left, bottom, right, top, resolution=px)
        work = np.full((h, w), np.nan)
        rasterio.warp.reproject(np.asarray(arr, np.float64), work, src_transform=dem.transform,
                                src_crs=src_crs.to_wkt(), dst_transform=dst_t, dst_crs=crs.to_wkt(),
                                resampling=Resampling.bilinear, src_nodata=np.nan, dst_nodata=np.nan)
        arr, transform = work, dst_t
        notes.append(Text(f"DEM 为经纬度坐标，已重投影到 EPSG:{crs.to_epsg()}（{px:.1f} 米像元）"
                          "计算视域，结果再采样回原网格",
                          f"the DEM is in degrees; reprojected to EPSG:{crs.to_epsg()} ({px:.1f} m cells) for the "
                          "viewshed, results resampled back to its grid", "viewshed_reprojected"))
    xres, yres = float(np.hypot(transform.a, transform.d)), float(np.hypot(transform.b, transform.e))
    res = (xres + yres) / 2.0
    if abs(xres - yres) > 0.01 * res:
        notes.append(Text(f"像元不是正方形（{xres:.2f} × {yres:.2f} 米），按平均 {res:.2f} 米计算",
                          f"cells are not square ({xres:.2f} x {yres:.2f} m); computed with the mean {res:.2f} m",
                          "viewshed_cells_not_square"))
    nr, nc = arr.shape

    gdf = cameras
    if crs is not None and gdf.crs is not None:
        gdf = gdf.to_crs(crs.to_wkt())
    lap("grid")
    cams = _cameras_on_grid(gdf, arr, transform, range_m, default_height, default_range)
    notes += _camera_notes(cams, default_height, default_range)
    lap("cameras")

    def onto_grid(a: np.ndarray | None, dtype) -> np.ndarray | None:
        """A mask or flags on the DEM's grid, moved onto the metric working grid when reprojected."""
        if a is None:
            return None
        a = np.ascontiguousarray(a, dtype=dtype)
        if geographic and src_crs is not None and crs is not None:
            moved = np.zeros((nr, nc), np.uint8)
            rasterio.warp.reproject(a.astype(np.uint8), moved, src_transform=dem.transform, src_crs=src_crs.to_wkt(),
                                    dst_transform=transform, dst_crs=crs.to_wkt(), resampling=Resampling.nearest)
            a = moved.astype(dtype)
        return a

    work_tally = onto_grid(tally, np.uint8)
    work_relevant = onto_grid(relevant, np.bool_)
    dcoef = (1.0 - float(refraction)) / (2.0 * EARTH_RADIUS) if curvature else 0.0
    key = (dem_key(dem), float(target_h), dcoef) if cache is not None else None
    lap("grid")
    count, first, in_range, tallies_k, not_relevant, n_cached = _cover(
        arr, res, cams, float(target_h), dcoef, work_tally, work_relevant, cache, key,
        numba.get_num_threads() if threads is None else int(threads), clock)
    tick = time.thread_time()
    if not_relevant:
        zh, en = _names(not_relevant)
        notes.append(Text(f"{len(not_relevant)} 个监控点监测范围内没有林地，未计算视域：{zh}",
                          f"{len(not_relevant)} camera(s) have no forest within range; their viewsheds were not "
                          f"computed: {en}", "cameras_no_forest_in_range"))
    tallies = np.zeros((len(cameras), 8), np.int64)
    tallies[np.array(cams.pos, dtype=np.int64)] = tallies_k
    if geographic:
        def back(a, fill):
            dst = np.full(dem.shape, fill, dtype=a.dtype)
            rasterio.warp.reproject(a, dst, src_transform=transform, src_crs=crs.to_wkt(),
                                    dst_transform=dem.transform, dst_crs=src_crs.to_wkt(),
                                    resampling=Resampling.nearest)
            return dst
        count = back(count, 0)
        first = back(first, -1)
        in_range = back(in_range.astype(np.uint8), 0).astype(bool)
        count[~valid] = 0
        first[~valid] = -1
        in_range &= valid
    lap("finish")
    if return_in_range:
        skipped = cams.outside + cams.void + cams.off
        return count, first, notes, {"in_range": in_range, "used": len(cams.rows) - len(not_relevant),
                                     "skipped": len(skipped), "skipped_names": skipped,
                                     "not_relevant": not_relevant, "cached": n_cached, "tallies": tallies,
                                     "cpu_s": clock}
    return count, first, notes


def _cover(arr: np.ndarray, res: float, cams: _Cams, target_h: float, dcoef: float, tally: np.ndarray | None,
           relevant: np.ndarray | None, cache: ViewshedCache | None, key: tuple | None, threads: int,
           clock: dict[str, float]):
    """Sweep (or take from ``cache``) every camera of ``cams`` and add it to one count raster.

    Returns ``count``, ``first`` (row positions in the cameras frame: ``cams.pos``, increasing with the
    camera's number, so the lowest wins as before), ``in_range``, per-camera tallies (rows as ``cams``),
    the names of the cameras left out by ``relevant`` and how many came from the cache; adds the
    CPU seconds of its phases to ``clock``.
    """
    t0 = time.thread_time()
    nr, nc = arr.shape
    n = len(cams.rows)
    count = np.zeros((nr, nc), dtype=np.uint16)
    first = np.full((nr, nc), -1, dtype=np.int32)
    in_range = np.zeros((nr, nc), dtype=np.bool_)
    tallies = np.zeros((n, 8), np.int64)
    if n == 0:
        return count, first, in_range, tallies, [], 0
    tally_a = tally if tally is not None else np.zeros((1, 1), np.uint8)
    rows, cols = np.asarray(cams.rows, np.int64), np.asarray(cams.cols, np.int64)
    ranges = np.asarray(cams.ranges, float)
    half = (ranges / res).astype(np.int64) + 1          # the range squares' half-sides (as the sweep's)
    qmax = [range_limit(res, float(g), 0)[1] for g in ranges]
    nan = np.isnan(arr)
    if nan.any():
        nan_blocks = block_any(nan, _BLOCK)
        voids = np.array([window_any(nan_blocks, _BLOCK, r - h, r + h + 1, c - h, c + h + 1)
                          for r, c, h in zip(rows, cols, half)])
    else:
        voids = np.zeros(n, bool)
    del nan
    todo = np.ones(n, bool)
    not_relevant: list[str] = []
    if relevant is not None:
        rel_blocks = block_any(relevant, _BLOCK)
        for k, (r, c, h) in enumerate(zip(rows, cols, half)):
            if not window_any(rel_blocks, _BLOCK, r - h, r + h + 1, c - h, c + h + 1):
                todo[k] = False
                not_relevant.append(cams.names[k])
    keys: list[tuple | None] = [None] * n
    n_cached = 0
    t1 = time.thread_time()
    clock["masks"] = clock.get("masks", 0.0) + t1 - t0
    if cache is not None and key is not None:
        for k in map(int, np.flatnonzero(todo)):
            keys[k] = key + (int(rows[k]), int(cols[k]), float(cams.heights[k]), float(ranges[k]),
                             bool(cams.sectors[k]), float(cams.azs[k]), float(cams.halves[k]), RAYS_PER_CELL, res)
            hit = cache.get(keys[k])
            if hit is not None:
                merge_packed(hit[0], hit[1], int(rows[k] - half[k]), int(cols[k] - half[k]), 2 * int(half[k]) + 1,
                             cams.pos[k], count, first, in_range, tally_a, tallies, k)
                todo[k] = False
                n_cached += 1
    ids = np.flatnonzero(todo)
    spent: dict[str, float] = {}
    clock["cached"] = clock.get("cached", 0.0) + time.thread_time() - t1

    def consume(j: int, window: np.ndarray, or0: int, oc0: int, side: int) -> None:
        k = int(ids[j])
        if cache is not None and keys[k] is not None:
            cache.store(keys[k], window, side)
        merge(window, or0, oc0, side, int(qmax[k]), cams.pos[k], count, first, in_range, tally_a, tallies, k)

    run_sweeps(arr, res, rows[ids], cols[ids], np.asarray(cams.heights, float)[ids], ranges[ids],
               np.asarray(cams.azs, float)[ids], np.asarray(cams.halves, float)[ids],
               np.asarray(cams.sectors, np.bool_)[ids], voids[ids], target_h=target_h, dcoef=dcoef,
               sub=RAYS_PER_CELL, consume=consume, threads=threads, clock=spent)
    clock["sweep"] = clock.get("sweep", 0.0) + spent.get("sweep", 0.0)
    clock["merge"] = clock.get("merge", 0.0) + spent.get("consume", 0.0)
    return count, first, in_range, tallies, not_relevant, n_cached
