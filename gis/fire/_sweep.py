"""The fast viewshed sweep (numba) and the loop that runs it for many cameras.

See :mod:`gis.fire.viewshed` for the definition of visibility; this module computes it
approximately, one octant of the range square at a time, a ring (one major-axis step) at a time:

- the octant ``0 <= minor <= major`` (eight of them, by the signs and which axis is the major
  one) is cut by ``S + 1`` rays from the observer to the points ``(R, j R / S)`` of its edge, ``R``
  the range square's half-side and ``S = sub * R`` (``sub`` rays per cell at the edge);
- at major step ``i`` ray ``j`` crosses the line of cell centres ``i`` at minor offset ``i j / S``;
  the terrain there is interpolated between the two cell centres it falls between (as the exact
  reference does) and raises the ray's horizon, the steepest blocking slope seen so far;
- a cell ``(i, m)`` of ring ``i`` lies between rays ``j0 = floor(m S / i)`` and ``j0 + 1``; its
  horizon is the two rays' horizons before step ``i - 1``, interpolated linearly at ``m S / i``,
  and the crossing at step ``i - 1`` of its own sight line (interpolated between the two cells it
  falls between, exactly as the reference does); it is visible when its target slope is at least
  that horizon.

A cell that lies on a ray (the axes, the diagonals, ...) gets the exact reference's answer; others
differ only where the terrain between two neighbouring rays hides a ridge one ray crosses and the
other does not. Rays stop at the last ring within range; every array is read along rings (rows of
the DEM for row-major octants, columns for the others) with no per-camera copy of the window.

Work per camera: ``8 * S * R`` ray steps plus one test per cell (a few hundred thousand of each for a
10 km camera on a 30 m DEM), with no allocation beyond four rows of ``S + 1`` numbers.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_OUT, _HIDDEN, _SEEN = 0, 1, 2
#: a horizon below any slope (finite, so that interpolating two of them stays finite)
_LOW = -1e30


@numba.njit(cache=True, nogil=True)
def _isqrt(n):
    """Largest integer whose square is at most ``n`` (``n >= 0``)."""
    k = int(math.sqrt(float(n)))
    while k * k > n:
        k -= 1
    while (k + 1) * (k + 1) <= n:
        k += 1
    return k


@numba.njit(cache=True, nogil=True)
def range_limit(res, max_range_m, extent):
    """``(R, qmax)``: half-side of the range square and the largest squared cell offset in range.

    A cell ``(dr, dc)`` is in range when ``dr * dr + dc * dc <= qmax``, which is exactly
    ``res * hypot(dr, dc) <= max_range_m``. Without a range (infinite) ``R = extent``, the farthest
    DEM cell, and every cell of the square is in range.
    """
    if not math.isfinite(max_range_m):
        return extent, 2 * (extent + 1) * (extent + 1)
    qmax = int((max_range_m / res) ** 2) + 2
    while qmax > 0 and res * math.sqrt(float(qmax)) > max_range_m:
        qmax -= 1
    return int(max_range_m / res) + 1, qmax


@numba.njit(cache=True, nogil=True)
def _sector_rays(S, dmaj_r, dmaj_c, dmin_r, dmin_c, ur, uc, cos_lim):
    """Rays ``jlo..jhi`` of an octant that a sector needs (``jhi = -1``: the octant lies outside it).

    Ray ``j`` points along ``S * major + j * minor``; it is inside when its angle to the sector's
    centre ``(ur, uc)`` is at most the half-width (cosine ``cos_lim``). Cells inside the sector lie
    between two rays of ``first - 1 .. last + 1``; a sector narrower than one wedge keeps all rays.
    """
    first = -1
    last = -1
    for j in range(S + 1):
        vr = S * dmaj_r + j * dmin_r
        vc = S * dmaj_c + j * dmin_c
        if vr * ur + vc * uc >= math.sqrt(float(vr * vr + vc * vc)) * cos_lim:
            if first < 0:
                first = j
            last = j
    if first >= 0:
        return max(first - 1, 0), min(last + 1, S)
    a = ur * dmaj_r + uc * dmaj_c       # the sector's centre in the octant's (major, minor) frame
    b = ur * dmin_r + uc * dmin_c
    if a > 0.0 and -1e-12 <= b <= a + 1e-12:
        return 0, S
    return 0, -1


@numba.njit(cache=True, nogil=True)
def sweep(dem, res, r0, c0, observer_h, target_h, max_range_m, use_sector, az, half_fov, dcoef, sub, voids,
          vis, or0, oc0):
    """Visibility of the cells within range of one observer, written into ``vis``.

    Parameters
    ----------
    dem : 2-D float32 or float64 array
        Elevations, NaN where there is no data (never visible, never blocking).
    res, r0, c0, observer_h, target_h, max_range_m, use_sector, az, half_fov, dcoef
        As in :func:`gis.fire.viewshed.viewshed` (``max_range_m`` may be ``inf``; ``dcoef`` is the
        curvature coefficient ``(1 - k) / (2 R)``, 0 without curvature).
    sub : float
        Rays per cell at the edge of the range square.
    voids : bool
        The range square may hold NaN (False: it holds none, a faster path).
    vis : 2-D uint8 array, C-contiguous
        Receives 1 (hidden) or 2 (seen) at every cell within range, sector and DEM; cell ``(r, c)``
        of the DEM is ``vis[r - or0, c - oc0]`` and must lie inside ``vis``. Other cells are left
        as they are.
    """
    nr, nc = dem.shape
    z00 = dem[r0, c0]
    if math.isnan(z00):
        return
    z0 = float(z00) + observer_h
    R, qmax = range_limit(res, max_range_m, max(r0, nr - 1 - r0, c0, nc - 1 - c0))
    vis[r0 - or0, c0 - oc0] = _SEEN
    flat = dem.reshape(-1)
    vflat = vis.reshape(-1)
    vnc = vis.shape[1]
    S = max(1, int(round(sub * R)))
    inv_s = 1.0 / S
    hb = np.empty(S + 1)      # each ray's horizon before this ring's step
    hb2 = np.empty(S + 1)     # ... and before the previous ring's step
    k1 = np.empty(S + 1)      # 1 / (distance per step) along each ray
    c1 = np.empty(S + 1)      # curvature slope term per step along each ray
    for j in range(S + 1):
        step = res * math.sqrt(1.0 + (j * inv_s) ** 2)
        k1[j] = 1.0 / step
        c1[j] = dcoef * step
    base = r0 * nc + c0
    vbase = (r0 - or0) * vnc + (c0 - oc0)
    thd = target_h - z0
    ur = -math.cos(math.radians(az))     # the sector's centre as a (row, col) direction
    uc = math.sin(math.radians(az))
    cos_lim = math.cos(math.radians(min(half_fov + 1e-9, 180.0)))
    for octant in range(8):
        major_row = octant < 4
        s_maj = 1 - 2 * (octant & 1)
        s_min = 1 - 2 * ((octant >> 1) & 1)
        if major_row:
            imax = nr - 1 - r0 if s_maj > 0 else r0
            mmax = nc - 1 - c0 if s_min > 0 else c0
            st_maj, st_min, vst_maj, vst_min = s_maj * nc, s_min, s_maj * vnc, s_min
            dmaj_r, dmaj_c, dmin_r, dmin_c = s_maj, 0, 0, s_min
        else:
            imax = nc - 1 - c0 if s_maj > 0 else c0
            mmax = nr - 1 - r0 if s_min > 0 else r0
            st_maj, st_min, vst_maj, vst_min = s_maj, s_min * nc, s_maj, s_min * vnc
            dmaj_r, dmaj_c, dmin_r, dmin_c = 0, s_maj, s_min, 0
        imax = min(imax, R)
        if imax <= 0:
            continue
        jlo, jhi = 0, S
        if use_sector:
            jlo, jhi = _sector_rays(S, dmaj_r, dmaj_c, dmin_r, dmin_c, ur, uc, cos_lim)
            if jhi < 0:
                continue
        # the axis (m = 0) belongs to the s_min > 0 octant, the diagonal (m = i) to the row-major one
        m_first = 1 if s_min < 0 else 0
        sec_a = ur * dmaj_r + uc * dmaj_c    # a cell's direction . sector centre = i sec_a + m sec_b
        sec_b = ur * dmin_r + uc * dmin_c
        hb[:] = _LOW
        hb2[:] = _LOW
        for i in range(1, imax + 1):
            rem = qmax - i * i
            if rem < 0:
                break
            mlim = min(i if major_row else i - 1, mmax, _isqrt(rem))
            line = base + i * st_maj
            prev = line - st_maj
            vline = vbase + i * vst_maj
            inv_i = 1.0 / i
            scale = S * inv_i
            back = (i - 1) * inv_i
            ii = float(i * i)
            # 1) the cells of ring i
            zlo = flat[np.uint64(prev + max(m_first - 1, 0) * st_min)]
            for m in range(m_first, mlim + 1):
                zhi = flat[np.uint64(prev + m * st_min)]   # the sight line's crossing at step i - 1 ...
                zl = zhi - (m * inv_i) * (zhi - zlo)       # ... lies between these two cells
                if voids:
                    if math.isnan(zhi):
                        zl = zlo
                    elif math.isnan(zlo):
                        zl = zhi
                zlo = zhi
                dt = res * math.sqrt(ii + m * m)
                if use_sector and i * sec_a + m * sec_b < dt / res * cos_lim:
                    continue
                jf = m * scale
                j0 = int(jf)
                w = jf - j0
                j1 = j0 + 1 if j0 < S else S
                hh = hb2[j0] + w * (hb2[j1] - hb2[j0])
                z = flat[np.uint64(line + m * st_min)]
                ht = z + thd - dcoef * dt * dt             # NaN target: hidden (comparisons are False)
                ok = ht >= hh * dt
                if i > 1 and not math.isnan(zl):
                    ds = dt * back
                    ok = ok and ht * ds >= (zl - z0 - dcoef * ds * ds) * dt
                vflat[np.uint64(vline + m * vst_min)] = _SEEN if ok else _HIDDEN
            # 2) the rays' crossings at step i, for the rays a later cell in range still needs
            nxt = (i + 1) * (i + 1)
            if nxt > qmax:
                break
            jl = min(jhi, int(S * math.sqrt(qmax / nxt - 1.0)) + 1)
            cz = i * inv_s
            for j in range(jlo, jl + 1):
                x = j * cz
                lo = int(x)
                f = x - lo
                lo = lo if lo < mmax else mmax     # past the DEM's minor edge: the edge cell (see below)
                hi = lo + 1 if lo < mmax else mmax
                za = flat[np.uint64(line + lo * st_min)]
                zb = flat[np.uint64(line + hi * st_min)]
                zs = za + f * (zb - za)
                if voids:
                    if math.isnan(za):
                        zs = zb
                    elif math.isnan(zb):
                        zs = za
                s = (zs - z0) * (inv_i * k1[j]) - c1[j] * i
                hv = hb[j]
                hb2[j] = hv
                hb[j] = s if s > hv else hv            # NaN (both cells void): no change
    # A ray past the DEM's minor edge reads the edge cell instead of nothing; its horizon is then
    # wrong but never used: every cell it would decide lies beyond that edge too.


@numba.njit(cache=True, nogil=True, inline="always")
def _add_seen(r, c, jid, count, first, use_tally, tally, tallies, row):
    """Cell ``(r, c)`` seen by camera ``jid``: count it (saturating), keep the lowest camera, tally its bits."""
    if count[r, c] < 65535:
        count[r, c] += 1
    if first[r, c] < 0 or jid < first[r, c]:
        first[r, c] = jid
    if use_tally:
        t = tally[r, c]
        if t:
            for bit in range(tallies.shape[1]):
                tallies[row, bit] += (t >> bit) & 1


@numba.njit(cache=True, nogil=True)
def merge(vis, or0, oc0, side, qmax, jid, count, first, in_range, tally, tallies, row):
    """Add one camera's window ``vis[:side, :side]`` (at DEM ``(or0, oc0)``) to the coverage and clear it.

    ``count`` (uint16, saturating) +1 where seen, ``first`` the lowest camera number ``jid`` seeing
    the cell, ``in_range`` True where within the camera's limits; with ``tally`` on the DEM's grid,
    ``tallies[row, bit]`` counts the seen cells whose ``tally`` has that bit. Only the cells within
    range of the window's centre (squared offset up to ``qmax``), where the sweep writes, are read.
    """
    nr, nc = count.shape
    use_tally = tally.shape[0] == nr and tally.shape[1] == nc
    half = side // 2
    for a in range(max(0, -or0), min(side, nr - or0)):
        rem = qmax - (a - half) * (a - half)
        if rem < 0:
            continue
        span = min(_isqrt(rem), half)
        r = or0 + a
        for b in range(max(half - span, -oc0), min(half + span + 1, nc - oc0)):
            v = vis[a, b]
            if v == 0:
                continue
            vis[a, b] = 0
            c = oc0 + b
            in_range[r, c] = True
            if v == _SEEN:
                _add_seen(r, c, jid, count, first, use_tally, tally, tallies, row)


@numba.njit(cache=True, nogil=True)
def merge_packed(limits, seen, or0, oc0, side, jid, count, first, in_range, tally, tallies, row):
    """:func:`merge` for a window kept as two bit planes (``numpy.packbits`` of "within limits" and "seen").

    Eight cells are skipped at a time where a byte of the limits plane is zero.
    """
    nr, nc = count.shape
    use_tally = tally.shape[0] == nr and tally.shape[1] == nc
    b_lo = max(0, -oc0)
    b_hi = min(side, nc - oc0)
    for a in range(max(0, -or0), min(side, nr - or0)):
        r = or0 + a
        p = a * side + b_lo
        b = b_lo
        while b < b_hi:
            lb = limits[p >> 3]
            if lb == 0:
                step = 8 - (p & 7)
                p += step
                b += step
                continue
            shift = 7 - (p & 7)
            if (lb >> shift) & 1:
                c = oc0 + b
                in_range[r, c] = True
                if (seen[p >> 3] >> shift) & 1:
                    _add_seen(r, c, jid, count, first, use_tally, tally, tallies, row)
            p += 1
            b += 1


@numba.njit(cache=True, nogil=True)
def block_any(mask, b):
    """Per block of ``b x b`` cells: True when any cell of ``mask`` in it is True."""
    nr, nc = mask.shape
    out = np.zeros(((nr + b - 1) // b, (nc + b - 1) // b), np.bool_)
    for r in range(nr):
        for c in range(nc):
            if mask[r, c]:
                out[r // b, c // b] = True
    return out


def window_any(blocks: np.ndarray, b: int, r0: int, r1: int, c0: int, c1: int) -> bool:
    """Whether any block of :func:`block_any` overlapping rows ``r0:r1`` and columns ``c0:c1`` is True."""
    return bool(blocks[max(0, r0) // b:max(0, r1 - 1) // b + 1, max(0, c0) // b:max(0, c1 - 1) // b + 1].any())


def run_sweeps(dem: np.ndarray, res: float, rows: np.ndarray, cols: np.ndarray, heights: np.ndarray,
               ranges: np.ndarray, azs: np.ndarray, halves: np.ndarray, sectors: np.ndarray, voids: np.ndarray, *,
               target_h: float, dcoef: float, sub: float, consume: Callable[[int, np.ndarray, int, int, int], None],
               threads: int = 1, serial_consume: bool = True, clock: dict[str, float] | None = None) -> None:
    """Sweep every camera into a window of its range square and hand it to ``consume``.

    ``consume(k, window, or0, oc0, side)`` gets camera ``k``'s codes in ``window[:side, :side]``
    (DEM cell ``(or0 + a, oc0 + b)`` at ``window[a, b]``) and must leave that part zeroed (as
    :func:`merge` does). With ``threads > 1`` the cameras are shared among that many threads (the
    kernels release the GIL), each with its own window; ``serial_consume`` runs the consumers one
    at a time. ``clock`` (when given) adds the CPU seconds of all threads spent in ``sweep`` and in
    ``consume`` under those two keys.
    """
    n = len(rows)
    if n == 0:
        return
    nr, nc = dem.shape
    sides = [2 * int(range_limit(res, float(ranges[k]), max(int(rows[k]), nr - 1 - int(rows[k]), int(cols[k]),
                                                            nc - 1 - int(cols[k])))[0]) + 1 for k in range(n)]
    side_max = max(sides)
    lock = threading.Lock()
    order = itertools.count()

    spent = [0.0, 0.0]

    def work() -> None:
        window = np.zeros((side_max, side_max), np.uint8)
        t_sweep = t_consume = 0.0
        while True:
            with lock:
                k = next(order)
            if k >= n:
                break
            half = sides[k] // 2
            or0, oc0 = int(rows[k]) - half, int(cols[k]) - half
            t0 = time.thread_time()
            sweep(dem, res, int(rows[k]), int(cols[k]), float(heights[k]), target_h, float(ranges[k]),
                  bool(sectors[k]), float(azs[k]), float(halves[k]), dcoef, sub, bool(voids[k]), window, or0, oc0)
            t1 = time.thread_time()
            if serial_consume:
                with lock:
                    consume(k, window, or0, oc0, sides[k])
            else:
                consume(k, window, or0, oc0, sides[k])
            t_sweep += t1 - t0
            t_consume += time.thread_time() - t1
        with lock:
            spent[0] += t_sweep
            spent[1] += t_consume

    threads = max(1, min(int(threads), n))
    if threads == 1:
        work()
    else:
        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(work) for _ in range(threads)]:
                f.result()
    if clock is not None:
        clock["sweep"] = clock.get("sweep", 0.0) + spent[0]
        clock["consume"] = clock.get("consume", 0.0) + spent[1]
