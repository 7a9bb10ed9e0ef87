"""Synthetic terrain for the demo county: a seeded, dendritic, draining mountain DEM.

The DEM is built in four vectorised steps (numba kernels where a loop is unavoidable):

1. a drainage tree: priority-flood from the map edge over a seeded spectral (1/f^beta, numpy FFT)
   noise field with one or more broad meandering trunk valleys (invasion percolation), so every
   cell gets a downstream neighbour and the network is dendritic, not filled flat;
2. elevations integrated upstream along that tree with Flint's law (channel slope
   ``ks * A^-theta``, capped at hillslope steepness) times a smooth uplift field, then slopes are
   limited to about 40 degrees, smoothed and textured;
3. pyflwdir depression filling; wide flood plains are cut next to large rivers (the floor
   rises only gently away from the channel) and the DEM is filled again;
4. a monotone rescale to about 200-1,600 m (a monotone map keeps the DEM depression free).

:func:`build_terrain` returns a :class:`Terrain` with the DEM and the derived hydrology (flow
directions, upstream area, stream order, height above nearest drain, slope) that the settlement
and asset generators sample from. Small raster and sampling helpers shared by those generators
live here too.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import pyflwdir
from affine import Affine
from numba import njit
from scipy import ndimage

#: DEM cell size in metres
CELL = 30.0
#: nodata value of the DEM GeoTIFF
NODATA = -9999.0
#: projected CRS of the DEM (CGCS2000 / 3-degree Gauss-Kruger CM 120E)
DEM_EPSG = 4549
#: geographic CRS of the vector layers (CGCS2000)
GEO_EPSG = 4490
#: map centre (lon, lat): a Lishui-like mountainous area
CENTRE_LONLAT = (119.6, 28.4)


@dataclass
class Terrain:
    """The DEM and its hydrology, on the DEM grid (row 0 is north).

    Attributes
    ----------
    dem : ndarray of float32
        Depression-free elevation in metres.
    transform : Affine
        Cell-corner transform in EPSG:4549 metres.
    flw : pyflwdir.FlwdirRaster
        D8 flow directions of ``dem``.
    upa : ndarray of float32
        Upstream area in km².
    strord : ndarray of uint8
        Strahler stream order of the cells with upstream area above ``stream_km2``.
    hand : ndarray of float32
        Height above the nearest drain (stream cells), metres.
    slope : ndarray of float32
        Slope in degrees.
    stream_km2 : float
        Upstream-area threshold of the stream network.
    """

    dem: np.ndarray
    transform: Affine
    flw: pyflwdir.FlwdirRaster
    upa: np.ndarray
    strord: np.ndarray
    hand: np.ndarray
    slope: np.ndarray
    stream_km2: float

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the DEM."""
        return self.dem.shape

    @property
    def streams(self) -> np.ndarray:
        """Boolean mask of stream cells."""
        return self.upa >= self.stream_km2

    def xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected coordinates of cell centres."""
        t = self.transform
        return t.c + (np.asarray(cols) + 0.5) * t.a, t.f + (np.asarray(rows) + 0.5) * t.e

    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell (row, col) holding projected points, clipped to the grid."""
        t = self.transform
        r = np.floor((np.asarray(y) - t.f) / t.e).astype(np.int64)
        c = np.floor((np.asarray(x) - t.c) / t.a).astype(np.int64)
        return np.clip(r, 0, self.shape[0] - 1), np.clip(c, 0, self.shape[1] - 1)


def grid_transform(n: int) -> Affine:
    """Transform of an ``n`` x ``n`` grid of 30 m cells centred on :data:`CENTRE_LONLAT`.

    The corner is snapped to a multiple of the cell size in EPSG:4549.
    """
    from pyproj import Transformer

    tr = Transformer.from_crs(GEO_EPSG, DEM_EPSG, always_xy=True)
    cx, cy = tr.transform(*CENTRE_LONLAT)
    x0 = np.floor((cx - n * CELL / 2) / CELL) * CELL
    y0 = np.floor((cy + n * CELL / 2) / CELL) * CELL
    return Affine(CELL, 0.0, float(x0), 0.0, -CELL, float(y0))


# ---- noise -----------------------------------------------------------------------------------
def spectral_noise(n: int, beta: float, rng: np.random.Generator, *, kmin: float = 0.0) -> np.ndarray:
    """Periodic fractal noise with power spectrum ``1 / f**beta``, zero mean, unit std (float32).

    Parameters
    ----------
    n : int
        Side of the square output.
    beta : float
        Spectral exponent (2 is Brownian-like terrain, larger is smoother).
    rng : numpy.random.Generator
        Seeded generator.
    kmin : float
        Frequencies (cycles per cell) below this are damped, limiting the largest features.
    """
    white = rng.standard_normal((n, n), dtype=np.float32)
    spec = np.fft.rfft2(white)
    del white
    ky = np.fft.fftfreq(n).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(n).astype(np.float32)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    amp = k ** np.float32(-beta / 2)
    amp[0, 0] = 0.0
    if kmin > 0:
        amp *= (1.0 - np.exp(-((k / np.float32(kmin)) ** 2))).astype(np.float32)
    spec *= amp
    del amp, k
    out = np.fft.irfft2(spec, s=(n, n)).astype(np.float32)
    del spec
    out -= out.mean()
    out /= out.std()
    return out


def _smooth_curve(n: int, rng: np.random.Generator, amp: float, waves: int = 4) -> np.ndarray:
    """A smooth random function on ``0..n-1`` (sum of a few sines), float64."""
    t = np.arange(n, dtype=np.float64) / n
    out = np.zeros(n)
    for k in range(1, waves + 1):
        out += amp / k * np.sin(2 * np.pi * (k * t * rng.uniform(0.4, 0.9) + rng.uniform()))
    return out


def _trunk_valleys(n: int, rng: np.random.Generator) -> np.ndarray:
    """Distance (cells) to one or more meandering trunk valley centre lines crossing the map."""
    n_trunks = max(1, round(n / 1700))
    line = np.zeros((n, n), dtype=bool)
    cols = np.arange(n)
    for i in range(n_trunks):
        # west-east trunk at a staggered latitude, meandering
        y0 = n * (i + 0.5 + rng.uniform(-0.15, 0.15)) / n_trunks
        rows = np.clip(np.round(y0 + _smooth_curve(n, rng, 0.12 * n)), 0, n - 1).astype(np.int64)
        line[rows, cols] = True
        # keep it 4-connected so the distance field has no gaps
        step = np.abs(np.diff(rows))
        for j in np.nonzero(step > 1)[0]:
            lo, hi = sorted((rows[j], rows[j + 1]))
            line[lo:hi + 1, j] = True
    if n >= 2500:
        # a north-south tributary trunk joining the first trunk
        c0 = n * rng.uniform(0.35, 0.65)
        rows = np.arange(n // 2)
        colsv = np.clip(np.round(c0 + _smooth_curve(n // 2, rng, 0.08 * n)), 0, n - 1).astype(np.int64)
        line[rows, colsv] = True
    return ndimage.distance_transform_edt(~line).astype(np.float32)


# ---- hydrology -------------------------------------------------------------------------------
def _fill(dem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depression-filled DEM and its D8 directions; every cell drains to the edge."""
    filled, d8 = pyflwdir.dem.fill_depressions(dem, outlets="edge", nodata=NODATA)
    return filled, d8


#: pyflwdir's own HAND routine compiled (it ships as a plain Python loop: about 20-40 s on this grid, well under
#: a second compiled; the same code, so the same numbers). gis.flood.hand compiles it alike for the app; the
#: generator keeps its own copy so that data/ does not import gis (gis/cli imports data).
_hand_kernel = njit(cache=True, nogil=True)(pyflwdir.dem.height_above_nearest_drain)


def _hand(flw: pyflwdir.FlwdirRaster, drain: np.ndarray, elevtn: np.ndarray) -> np.ndarray:
    """``flw.hand(drain=drain, elevtn=elevtn)`` through :data:`_hand_kernel`."""
    out = _hand_kernel(flw.idxs_ds, flw.idxs_seq, np.ascontiguousarray(drain, dtype=np.bool_).ravel(),
                       np.ascontiguousarray(elevtn).ravel())
    return out.reshape(flw.shape)


def _flwdir(d8: np.ndarray, transform: Affine) -> pyflwdir.FlwdirRaster:
    return pyflwdir.from_array(d8, ftype="d8", transform=transform, latlon=False, check_ftype=False)


def _upa_km2(flw: pyflwdir.FlwdirRaster) -> np.ndarray:
    cells = flw.upstream_area(unit="cell")
    return (cells.astype(np.float32) * np.float32(CELL * CELL / 1e6))


@njit(cache=True)
def _invasion_tree(prio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Priority-flood from the map edge by raw priority (invasion percolation).

    Every cell drains to the neighbour from which it was first reached, so depressions of the
    priority field are crossed along their lowest paths instead of being filled flat: the result
    is a dendritic drainage tree. Returns the downstream linear index of each cell (itself for
    edge outlets) and the visiting order (downstream before upstream).
    """
    nrow, ncol = prio.shape
    size = nrow * ncol
    flat = prio.ravel()
    parent = np.full(size, -1, dtype=np.int64)
    order = np.empty(size, dtype=np.int64)
    heap = [(np.float32(0.0), np.int64(0))]
    heap.pop()
    for c in range(ncol):
        for r in (0, nrow - 1):
            i = r * ncol + c
            if parent[i] < 0:
                parent[i] = i
                heapq.heappush(heap, (flat[i], np.int64(i)))
    for r in range(1, nrow - 1):
        for c in (0, ncol - 1):
            i = r * ncol + c
            parent[i] = i
            heapq.heappush(heap, (flat[i], np.int64(i)))
    k = 0
    while heap:
        _, i = heapq.heappop(heap)
        order[k] = i
        k += 1
        r0 = i // ncol
        c0 = i % ncol
        for dr in (-1, 0, 1):
            r = r0 + dr
            if r < 0 or r >= nrow:
                continue
            for dc in (-1, 0, 1):
                c = c0 + dc
                if c < 0 or c >= ncol or (dr == 0 and dc == 0):
                    continue
                j = r * ncol + c
                if parent[j] < 0:
                    parent[j] = i
                    heapq.heappush(heap, (flat[j], np.int64(j)))
    return parent, order


@njit(cache=True)
def _tree_elevation(parent: np.ndarray, order: np.ndarray, ncol: int, z_edge: np.ndarray,
                    uplift: np.ndarray, ks: float, theta: float, s_hill: float,
                    cell: float) -> np.ndarray:  # pragma: no cover - numba
    """Elevation that rises upstream along the drainage tree with slope ``min(s_hill, ks*A^-theta)``
    (Flint's law; A in km²) times a local uplift factor."""
    size = parent.size
    area = np.ones(size, dtype=np.float32)
    for k in range(size - 1, -1, -1):
        i = order[k]
        p = parent[i]
        if p != i:
            area[p] += area[i]
    cell_km2 = cell * cell / 1e6
    z = np.empty(size, dtype=np.float32)
    for k in range(size):
        i = order[k]
        p = parent[i]
        if p == i:
            z[i] = z_edge[i]
            continue
        diag = (i // ncol != p // ncol) and (i % ncol != p % ncol)
        dist = cell * (1.4142135 if diag else 1.0)
        s = ks * (area[i] * cell_km2) ** (-theta)
        if s > s_hill:
            s = s_hill
        z[i] = z[p] + dist * s * uplift[i]
    return z


@njit(cache=True)
def _limit_slope(z: np.ndarray, smax: float) -> np.ndarray:  # pragma: no cover - numba
    """Lower cells so no cell stands more than ``smax * distance`` above a neighbour (two chamfer
    sweeps, exact for the 8-neighbour metric). Lowering never creates a pit."""
    nrow, ncol = z.shape
    out = z.copy()
    a = smax * CELL
    b = smax * CELL * 1.4142135
    for r in range(nrow):
        for c in range(ncol):
            v = out[r, c]
            if c > 0 and out[r, c - 1] + a < v:
                v = out[r, c - 1] + a
            if r > 0:
                if out[r - 1, c] + a < v:
                    v = out[r - 1, c] + a
                if c > 0 and out[r - 1, c - 1] + b < v:
                    v = out[r - 1, c - 1] + b
                if c < ncol - 1 and out[r - 1, c + 1] + b < v:
                    v = out[r - 1, c + 1] + b
            out[r, c] = v
    for r in range(nrow - 1, -1, -1):
        for c in range(ncol - 1, -1, -1):
            v = out[r, c]
            if c < ncol - 1 and out[r, c + 1] + a < v:
                v = out[r, c + 1] + a
            if r < nrow - 1:
                if out[r + 1, c] + a < v:
                    v = out[r + 1, c] + a
                if c < ncol - 1 and out[r + 1, c + 1] + b < v:
                    v = out[r + 1, c + 1] + b
                if c > 0 and out[r + 1, c - 1] + b < v:
                    v = out[r + 1, c - 1] + b
            out[r, c] = v
    return out


def _flood_plains(z: np.ndarray, upa: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """Flatten valley floors next to large rivers: the floor rises gently away from the channel."""
    big = upa >= 20.0
    if not big.any():
        return z
    d, (ri, ci) = ndimage.distance_transform_edt(~big, return_indices=True)
    d = d.astype(np.float32) * np.float32(CELL)
    a_near = upa[ri, ci]
    z_near = z[ri, ci]
    del ri, ci
    wf = np.minimum(np.float32(40.0) + np.float32(22.0) * np.sqrt(a_near), np.float32(900.0))
    del a_near
    floor = z_near + np.float32(0.004) * d + np.float32(0.6) * np.maximum(d - wf, 0) + texture
    floor[d > wf + 400] = np.inf
    return np.minimum(z, floor)


def build_terrain(n: int, seed: int, *, stream_km2: float = 1.0) -> Terrain:
    """Generate a depression-free mountainous DEM of ``n`` x ``n`` 30 m cells and its hydrology.

    Parameters
    ----------
    n : int
        Rows and columns of the DEM.
    seed : int
        Seed of the terrain random generator.
    stream_km2 : float
        Upstream area (km²) from which a cell counts as a stream.

    Returns
    -------
    Terrain
        DEM (float32, 200-1,600 m) and derived hydrology.
    """
    rng = np.random.default_rng([seed, 1])
    transform = grid_transform(n)
    # 1. drainage tree: invasion from the edges over a smooth priority field with trunk valleys
    prio = spectral_noise(n, 2.8, rng)
    prio += np.float32(0.25) * spectral_noise(n, 2.0, rng)
    prio += np.float32(0.12) * spectral_noise(n, 0.8, rng)
    dist = _trunk_valleys(n, rng) * np.float32(CELL)
    prio -= np.float32(2.5) * np.exp(-((dist / np.float32(6000.0)) ** 2))
    del dist
    parent, order = _invasion_tree(prio)
    # 2. elevations along the tree; the outlets take a smooth edge elevation from the priority
    lo, hi = np.percentile(prio, [1, 99])
    z_edge = (np.clip((prio - lo) / (hi - lo), 0, 1) * np.float32(500.0)).ravel()
    del prio
    uplift = spectral_noise(n, 3.0, rng)
    uplift = np.float32(1.0) + np.float32(0.35) * np.clip(uplift, -2.5, 2.5)
    z = _tree_elevation(parent, order, n, z_edge, uplift.ravel(), 0.085, 0.5, 0.75, CELL).reshape(n, n)
    del parent, order, z_edge, uplift
    # no cliffs at divides: limit slopes to 40 degrees, smooth, add texture
    z = _limit_slope(z, 0.84)
    z = ndimage.gaussian_filter(z, 1.2)
    z += np.float32(12.0) * spectral_noise(n, 1.6, rng)
    # 3. drain, find rivers, flatten their valley floors, drain again
    z, d8 = _fill(z)
    flw = _flwdir(d8, transform)
    upa = _upa_km2(flw)
    del flw, d8
    texture = np.abs(np.float32(3.0) * spectral_noise(n, 2.2, rng))
    z = _flood_plains(z, upa, texture)
    del texture
    del upa
    z, d8 = _fill(z.astype(np.float32))
    # 4. monotone rescale to about 200-1,600 m keeps the DEM depression free
    zmin, zmax = float(z.min()), float(np.percentile(z, 99.99))
    z = np.float32(200.0) + (z - np.float32(zmin)) * np.float32(1400.0 / (zmax - zmin))
    z = np.minimum(z, np.float32(1600.0) + (z - np.float32(1600.0)) * np.float32(0.2)).astype(np.float32)
    flw = _flwdir(d8, transform)
    del d8
    upa = _upa_km2(flw)
    strord = flw.stream_order(type="strahler", mask=upa >= stream_km2).astype(np.uint8)
    drain = upa >= stream_km2
    drain[0, :] = drain[-1, :] = drain[:, 0] = drain[:, -1] = True  # cells draining off the map
    hand = _hand(flw, drain, z).astype(np.float32)
    del drain
    gy, gx = np.gradient(z, CELL)
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    del gx, gy
    return Terrain(z, transform, flw, upa, strord, hand, slope, stream_km2)


# ---- raster helpers shared by the generators -------------------------------------------------
def block_reduce(a: np.ndarray, f: int, how: str = "mean") -> np.ndarray:
    """Reduce a 2-D array by integer factor ``f`` (shape must be divisible): mean, max, min, or any."""
    r, c = a.shape
    v = a.reshape(r // f, f, c // f, f)
    if how == "mean":
        return v.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    if how == "max":
        return v.max(axis=(1, 3))
    if how == "min":
        return v.min(axis=(1, 3))
    if how == "any":
        return np.asarray(v.any(axis=(1, 3)))
    raise ValueError(how)


def weighted_order(weights: np.ndarray, rng: np.random.Generator, k: int | None = None) -> np.ndarray:
    """Indices of ``weights`` in a random order favouring large weights (weighted sampling without
    replacement, exponential-keys method); the first ``k`` only if given."""
    w = np.asarray(weights, dtype=np.float64)
    keys = rng.exponential(size=w.size) / np.maximum(w, 1e-12)
    keys[w <= 0] = np.inf
    if k is not None and k < w.size:
        part = np.argpartition(keys, k)[:k]
        return part[np.argsort(keys[part], kind="stable")]
    order = np.argsort(keys, kind="stable")
    return order[np.isfinite(keys[order])]


def thin(x: np.ndarray, y: np.ndarray, min_dist: float, limit: int | None = None,
         taken_x: np.ndarray | None = None, taken_y: np.ndarray | None = None) -> np.ndarray:
    """Greedy Poisson-disc thinning: indices of the points kept, in the given priority order.

    A point is kept when no kept point (nor any of ``taken``) lies within ``min_dist``. Uses a
    hash grid of cell ``min_dist``, so the loop is over candidates only.
    """
    cell = float(min_dist)
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}
    d2 = min_dist * min_dist

    def _ok(px: float, py: float) -> bool:
        gx, gy = int(px // cell), int(py // cell)
        for i in (gx - 1, gx, gx + 1):
            for j in (gy - 1, gy, gy + 1):
                for qx, qy in grid.get((i, j), ()):
                    if (qx - px) ** 2 + (qy - py) ** 2 < d2:
                        return False
        return True

    if taken_x is not None and taken_y is not None:
        for px, py in zip(taken_x.tolist(), taken_y.tolist()):
            grid.setdefault((int(px // cell), int(py // cell)), []).append((px, py))
    kept: list[int] = []
    for i, (px, py) in enumerate(zip(np.asarray(x).tolist(), np.asarray(y).tolist())):
        if _ok(px, py):
            kept.append(i)
            grid.setdefault((int(px // cell), int(py // cell)), []).append((px, py))
            if limit is not None and len(kept) >= limit:
                break
    return np.asarray(kept, dtype=np.int64)
