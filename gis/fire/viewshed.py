"""Camera viewsheds on a DEM: an exact cell-centre line-of-sight reference and a fast R2 sweep.

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

Fast sweep (:func:`viewshed`)
-----------------------------
The R2 approximation: rays from the observer to :data:`RAYS_PER_CELL` evenly spaced points per cell
along the perimeter of the range square (clipped to the DEM). Walking a ray one major-axis step at a
time, the running maximum of the blocking slopes ``(zs - drop - z0) / ds`` (interpolated as above at
the ray's crossings) is kept; the cell nearest the ray at each step is visible when its own target
slope ``(zt - z0) / dt`` is at least the maximum over the crossings before it. Of the rays through a
cell, the one passing closest to its centre decides; a cell in range that no ray reaches falls back to
the exact test. The rays end at the perimeter rather than at every target, so blocking is sampled along
a slightly different line than the exact one: agreement with :func:`viewshed_exact` is measured in the
tests (at least 99 % of the cells in range on random terrain). Cost is O(R^2) per observer instead of
O(R^3).

Which ray decides a cell depends only on the cell's offset from the observer, so for a finite range
(range square of half-side up to ``_TABLE_MAX_RC`` cells) the sweep takes it from a table built once per
range square (:func:`_build_table`) and each camera only walks its rays (:func:`_r2_fast`): the rays go
to the perimeter of the whole range square (near the DEM edge the cells outside are skipped and the
terrain there does not block), each ray stops at its last cell within range, and it reads the terrain
from a copy of the range square (NaN-padded; transposed for rays whose major axis is the row) so that it
walks along memory. Away from the DEM edge this gives the same cells as the plain sweep
(:func:`_r2_kernel`, still used for an unlimited range), which the tests check.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from layers.text import Text

__all__ = ["EARTH_RADIUS", "viewshed", "viewshed_exact", "coverage"]

#: mean earth radius used for the curvature drop, metres
EARTH_RADIUS = 6_371_000.0

_OUT, _HIDDEN, _SEEN = 0, 1, 2

#: default number of R2 rays per perimeter cell
RAYS_PER_CELL = 4


# ---- numba kernels ------------------------------------------------------------------------------
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


#: rays within this many degrees outside a camera's sector are still traced (their cells may lie inside)
_SECTOR_MARGIN_DEG = 2.0


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


@numba.njit(cache=True)
def _r2_kernel(dem, res, r0, c0, observer_h, target_h, max_range_m, use_sector, az, half_fov, dcoef,
               out, or0, oc0, sub):
    """R2 sweep; writes 0 (out of range) / 1 (hidden) / 2 (seen) into ``out`` whose (0, 0) is DEM (or0, oc0)."""
    nr, nc = dem.shape
    onr, onc = out.shape
    if math.isnan(dem[r0, c0]):
        return
    z0 = dem[r0, c0] + observer_h
    rc = int(min(max_range_m / res, nr + nc)) + 1
    rmin = max(0, r0 - rc, or0)
    rmax = min(nr - 1, r0 + rc, or0 + onr - 1)
    cmin = max(0, c0 - rc, oc0)
    cmax = min(nc - 1, c0 + rc, oc0 + onc - 1)
    h = rmax - rmin + 1
    w = cmax - cmin + 1
    best = np.full((h, w), np.inf, dtype=np.float32)
    # rays to ``sub`` points per cell along the perimeter of the clipped rectangle
    nper = 2 * (h + w) * sub
    for k in range(nper):
        kk = k / sub
        if kk < w:
            pr, pc = float(rmin), cmin + kk
        elif kk < 2 * w:
            pr, pc = float(rmax), cmin + (kk - w)
        elif kk < 2 * w + h:
            pr, pc = rmin + (kk - 2 * w), float(cmin)
        else:
            pr, pc = rmin + (kk - 2 * w - h), float(cmax)
        if pr > rmax or pc > cmax:
            continue
        dr = pr - r0
        dc = pc - c0
        major_row = abs(dr) >= abs(dc)
        mf = abs(dr) if major_row else abs(dc)
        m = int(math.floor(mf + 1e-9))
        if m == 0:
            continue
        ray_len = res * math.sqrt(dr * dr + dc * dc)
        # a sector camera: rays clearly outside the sector are skipped (their cells are out of limits; an
        # in-sector cell only they reached gets the exact test below), and along a ray well inside it the
        # per-cell bearing test stops once a crossed cell cannot deviate past the sector edge
        # (a cell's bearing differs from its ray's by at most atan(0.71 / i) < 40.6 / i degrees)
        i_safe = 0
        if use_sector:
            ray_diff = abs((math.degrees(math.atan2(dc, -dr)) % 360.0 - az + 180.0) % 360.0 - 180.0)
            if ray_diff > half_fov + _SECTOR_MARGIN_DEG:
                continue
            inner = half_fov - ray_diff
            i_safe = int(40.6 / inner) + 1 if inner > 0 else m + 1
        maxslope = -np.inf
        for i in range(1, m + 1):
            t = i / mf
            if major_row:
                rr = r0 + (i if dr > 0 else -i)
                minor_f = c0 + t * dc
                cc = int(math.floor(minor_f + 0.5))
                frac = abs(minor_f - cc)
            else:
                cc = c0 + (i if dc > 0 else -i)
                minor_f = r0 + t * dr
                rr = int(math.floor(minor_f + 0.5))
                frac = abs(minor_f - rr)
            # target test for the nearest cell
            br = rr - rmin
            bc = cc - cmin
            if frac < best[br, bc]:
                qr = rr - r0
                qc = cc - c0
                if _in_limits(qr, qc, res, max_range_m, use_sector and i < i_safe, az, half_fov):
                    best[br, bc] = frac
                    zc = dem[rr, cc]
                    if math.isnan(zc):
                        out[rr - or0, cc - oc0] = _HIDDEN
                    else:
                        dt = res * math.sqrt(qr * qr + qc * qc)
                        st = (zc + target_h - dcoef * dt * dt - z0) / dt
                        out[rr - or0, cc - oc0] = _SEEN if st >= maxslope else _HIDDEN
            # this crossing blocks what lies beyond it
            zs = _terrain(dem, True, rr, minor_f) if major_row else _terrain(dem, False, cc, minor_f)
            if not math.isnan(zs):
                ds = t * ray_len
                s = (zs - dcoef * ds * ds - z0) / ds
                if s > maxslope:
                    maxslope = s
    # cells no ray reached: exact test
    for r in range(rmin, rmax + 1):
        for c in range(cmin, cmax + 1):
            if best[r - rmin, c - cmin] == np.inf:
                if r == r0 and c == c0:
                    out[r - or0, c - oc0] = _SEEN
                elif _in_limits(r - r0, c - c0, res, max_range_m, use_sector, az, half_fov):
                    if math.isnan(dem[r, c]):
                        out[r - or0, c - oc0] = _HIDDEN
                    elif _los_exact(dem, res, r0, c0, z0, r, c, target_h, dcoef):
                        out[r - or0, c - oc0] = _SEEN
                    else:
                        out[r - or0, c - oc0] = _HIDDEN


# ---- the R2 sweep with the ray geometry computed once ---------------------------------------------------
#: the fast path's ray table is built for range squares up to this half-side (cells); larger: the plain sweep
_TABLE_MAX_RC = 1200


@numba.njit(cache=True)
def _ray_end(k, sub, rc):
    """End (row, col offsets from the observer) of perimeter ray ``k`` of the square of half-side ``rc``.

    The same order and points as :func:`_r2_kernel` on an unclipped square; ``(nan, nan)`` when the ray
    is not traced.
    """
    n = 2 * rc + 1
    kk = k / sub
    lo = float(-rc)
    if kk < n:
        pr, pc = lo, lo + kk
    elif kk < 2 * n:
        pr, pc = float(rc), lo + (kk - n)
    elif kk < 3 * n:
        pr, pc = lo + (kk - 2 * n), lo
    else:
        pr, pc = lo + (kk - 3 * n), float(rc)
    if pr > rc or pc > rc:
        return math.nan, math.nan
    return pr, pc


@numba.njit(cache=True)
def _ray_step(dr, dc, mf, i):
    """Nearest cell (row, col offsets) of a ray at major step ``i`` and the crossing's minor offset."""
    t = i / mf
    if abs(dr) >= abs(dc):
        minor = t * dc
        return (i if dr > 0 else -i), int(math.floor(minor + 0.5)), minor
    minor = t * dr
    return int(math.floor(minor + 0.5)), (i if dc > 0 else -i), minor


@numba.njit(cache=True)
def _build_table(rc, sub):
    """Which ray decides each cell of the square of half-side ``rc`` (the ray passing nearest its centre).

    Returns per ray ``start`` (targets ``start[k]:start[k + 1]``), and per target its row and column
    offsets and major step, in step order along each ray; plus the cells no ray decides (none so far).
    """
    n = 2 * rc + 1
    nper = 4 * n * sub
    best = np.full((n, n), np.inf, dtype=np.float32)
    wray = np.full((n, n), -1, dtype=np.int32)
    wstep = np.zeros((n, n), dtype=np.int32)
    for k in range(nper):
        dr, dc = _ray_end(k, sub, rc)
        if math.isnan(dr):
            continue
        mf = max(abs(dr), abs(dc))
        m = int(math.floor(mf + 1e-9))
        for i in range(1, m + 1):
            qr, qc, minor = _ray_step(dr, dc, mf, i)
            frac = abs(minor - (qc if abs(dr) >= abs(dc) else qr))
            if frac < best[qr + rc, qc + rc]:
                best[qr + rc, qc + rc] = frac
                wray[qr + rc, qc + rc] = k
                wstep[qr + rc, qc + rc] = i
    start = np.zeros(nper + 1, dtype=np.int64)
    nmiss = 0
    for a in range(n):
        for b in range(n):
            if wray[a, b] >= 0:
                start[wray[a, b] + 1] += 1
            elif a != rc or b != rc:
                nmiss += 1
    for k in range(nper):
        start[k + 1] += start[k]
    tr = np.zeros(start[nper], dtype=np.int32)
    tc = np.zeros(start[nper], dtype=np.int32)
    ti = np.zeros(start[nper], dtype=np.int32)
    p = 0
    for k in range(nper):
        dr, dc = _ray_end(k, sub, rc)
        if math.isnan(dr):
            continue
        mf = max(abs(dr), abs(dc))
        m = int(math.floor(mf + 1e-9))
        for i in range(1, m + 1):
            qr, qc, minor = _ray_step(dr, dc, mf, i)
            if wray[qr + rc, qc + rc] == k and wstep[qr + rc, qc + rc] == i:
                tr[p], tc[p], ti[p] = qr, qc, i
                p += 1
    miss = np.zeros((nmiss, 2), dtype=np.int32)
    p = 0
    for a in range(n):
        for b in range(n):
            if wray[a, b] < 0 and (a != rc or b != rc):
                miss[p, 0], miss[p, 1] = a - rc, b - rc
                p += 1
    return start, tr, tc, ti, miss


_TABLES: dict = {}
_NO_TABLE = (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32),
             np.zeros((0, 2), np.int32))


def _table_rc(max_range_m: float, res: float, shape: tuple[int, int]) -> int:
    """Half-side of the ray table for a range (as :func:`_r2_kernel` computes it); 0: no table (plain sweep)."""
    if not math.isfinite(max_range_m):
        return 0
    rc = int(min(max_range_m / res, shape[0] + shape[1])) + 1
    return rc if rc <= _TABLE_MAX_RC else 0


def _table(rc: int, sub: int):
    """The ray table for half-side ``rc`` and ``sub`` rays per perimeter cell (built once per process)."""
    key = (int(rc), int(sub))
    if key not in _TABLES:
        if len(_TABLES) >= 4:   # a table of the 10 km square at 30 m is ~6 MB
            _TABLES.clear()
        _TABLES[key] = _build_table(key[0], key[1])
    return _TABLES[key]


@numba.njit(cache=True, inline="always")
def _cell(dem, r, c):
    nr, nc = dem.shape
    if 0 <= r < nr and 0 <= c < nc:
        return dem[r, c]
    return math.nan


@numba.njit(cache=True)
def _r2_fast(dem, res, r0, c0, observer_h, target_h, max_range_m, use_sector, az, half_fov, dcoef,
             out, or0, oc0, sub, rc, start, tr, tc, ti, miss):
    """The R2 sweep with the deciding ray of every cell taken from the table (:func:`_build_table`).

    Writes as :func:`_r2_kernel`. Rays go to the perimeter of the whole range square of half-side
    ``rc`` (cells outside the DEM are skipped, terrain outside it does not block); each ray is walked
    only up to its last target within this camera's range, and a cell is tested once, by its ray.
    """
    nr, nc = dem.shape
    if math.isnan(dem[r0, c0]):
        return
    z0 = float(dem[r0, c0]) + observer_h
    rcc = int(min(max_range_m / res, nr + nc)) + 1   # this camera's range square (<= rc)
    # cells in range: integer squared offsets up to qmax (the same test as _in_limits, exactly)
    qmax = int((max_range_m / res) ** 2) + 2
    while qmax > 0 and res * math.sqrt(float(qmax)) > max_range_m:
        qmax -= 1
    out[r0 - or0, c0 - oc0] = _SEEN
    # the range square (+1 cell) around the observer, NaN outside the DEM, and its transpose: each ray
    # then reads along rows of one of them (in cache) and needs no bounds checks
    off = rc + 1
    wrow = np.empty((2 * off + 1, 2 * off + 1), dtype=dem.dtype)
    wcol = np.empty((2 * off + 1, 2 * off + 1), dtype=dem.dtype)
    voids = False
    for i in range(2 * off + 1):
        r = r0 - off + i
        for j in range(2 * off + 1):
            c = c0 - off + j
            v = dem[r, c] if (0 <= r < nr and 0 <= c < nc) else math.nan
            wrow[i, j] = v
            voids = voids or math.isnan(v)
    for i0 in range(0, 2 * off + 1, 32):   # transpose in blocks (cache)
        for j0 in range(0, 2 * off + 1, 32):
            for i in range(i0, min(i0 + 32, 2 * off + 1)):
                for j in range(j0, min(j0 + 32, 2 * off + 1)):
                    wcol[j, i] = wrow[i, j]
    horizon = np.empty(rc + 2)
    nper = start.shape[0] - 1
    for k in range(nper):
        s0 = start[k]
        s1 = start[k + 1]
        if s0 == s1 or ti[s0] > rcc:
            continue
        dr, dc = _ray_end(k, sub, rc)
        major_row = abs(dr) >= abs(dc)
        mf = abs(dr) if major_row else abs(dc)
        ray_len = res * math.sqrt(dr * dr + dc * dc)
        i_safe = 0
        if use_sector:
            ray_diff = abs((math.degrees(math.atan2(dc, -dr)) % 360.0 - az + 180.0) % 360.0 - 180.0)
            if ray_diff > half_fov + _SECTOR_MARGIN_DEG:
                # not traced; its cells near the observer may still lie in the sector: exact test
                for p in range(s0, s1):
                    if ti[p] > 21:
                        break
                    r = r0 + tr[p]
                    c = c0 + tc[p]
                    if 0 <= r < nr and 0 <= c < nc and _in_limits(tr[p], tc[p], res, max_range_m, True, az,
                                                                  half_fov):
                        if math.isnan(dem[r, c]):
                            out[r - or0, c - oc0] = _HIDDEN
                        elif _los_exact(dem, res, r0, c0, z0, r, c, target_h, dcoef):
                            out[r - or0, c - oc0] = _SEEN
                        else:
                            out[r - or0, c - oc0] = _HIDDEN
                continue
            inner = half_fov - ray_diff
            i_safe = int(40.6 / inner) + 1 if inner > 0 else rc + 2
        # walk only up to the ray's last cell within range (rays to the square's corners stop at the circle)
        e = s1 - 1
        while e > s0 and tr[e] * tr[e] + tc[e] * tc[e] > qmax:
            e -= 1
        last = min(ti[e], rcc)
        # the ray's major axis runs along the rows of ``win`` (window transposed for row-major rays)
        win = wcol if major_row else wrow
        sgn = 1 if (dr > 0 if major_row else dc > 0) else -1
        dminor = dc if major_row else dr
        step_x = dminor / mf          # minor offset per major step
        step_d = ray_len / mf         # distance per major step
        # walk: horizon[i] = the steepest blocking slope over the crossings before step i
        maxslope = -np.inf
        for i in range(1, last + 1):
            horizon[i] = maxslope
            x = i * step_x
            lo = int(math.floor(x))
            f = x - lo
            j = off + sgn * i
            a = float(win[off + lo, j])
            b = float(win[off + lo + 1, j])   # the window has a margin; unused (f = 0) when on a centre
            if not voids:
                zs = a + f * (b - a)
            elif math.isnan(a):
                zs = b
            elif math.isnan(b):
                zs = a
            else:
                zs = a + f * (b - a)
            ds = i * step_d
            h = zs - dcoef * ds * ds - z0
            if h > maxslope * ds:      # False for NaN (slope compared without a division)
                maxslope = h / ds
        # the ray's cells, each against the horizon before its step
        for p in range(s0, s1):
            i = ti[p]
            if i > last:
                break
            qr = tr[p]
            qc = tc[p]
            q = qr * qr + qc * qc
            if q <= qmax and (i >= i_safe or _in_limits(qr, qc, res, max_range_m, True, az, half_fov)):
                r = r0 + qr
                c = c0 + qc
                if 0 <= r < nr and 0 <= c < nc:
                    zc = float(wrow[off + qr, off + qc])
                    if math.isnan(zc):
                        out[r - or0, c - oc0] = _HIDDEN
                    else:
                        dt = res * math.sqrt(float(q))
                        st = (zc + target_h - dcoef * dt * dt - z0) / dt
                        out[r - or0, c - oc0] = _SEEN if st >= horizon[i] else _HIDDEN
    for p in range(miss.shape[0]):
        r = r0 + miss[p, 0]
        c = c0 + miss[p, 1]
        if 0 <= r < nr and 0 <= c < nc and _in_limits(miss[p, 0], miss[p, 1], res, max_range_m, use_sector, az,
                                                      half_fov):
            if math.isnan(dem[r, c]):
                out[r - or0, c - oc0] = _HIDDEN
            elif _los_exact(dem, res, r0, c0, z0, r, c, target_h, dcoef):
                out[r - or0, c - oc0] = _SEEN
            else:
                out[r - or0, c - oc0] = _HIDDEN


@numba.njit(cache=True, parallel=True)
def _coverage_kernel(dem, res, rows, cols, heights, ranges, azs, half_fovs, sectors, target_h, dcoef,
                     count, first, in_range, batch, sub, tally, tallies, jids, rc, tstart, tr, tc, ti, miss):
    """All cameras, ``batch`` at a time in parallel; counts and first camera accumulated in order.

    ``jids`` are the cameras' numbers in ``first`` and ``tallies`` (the lowest number seeing a cell is
    kept, so calls for groups of cameras combine). ``tally`` (uint8 bit flags on the grid, or a 1x1
    dummy) counts, per camera and per bit, the flagged cells it sees into ``tallies[jids[camera], bit]``.
    With a ray table (``rc > 0``, see :func:`_build_table`; every camera's range square within it) the
    sweep is :func:`_r2_fast`.
    """
    use_tally = tally.shape[0] == dem.shape[0] and tally.shape[1] == dem.shape[1]
    nbits = tallies.shape[1]
    n = rows.shape[0]
    nr, nc = dem.shape
    rcmax = 0
    for j in range(n):
        rcmax = max(rcmax, int(min(ranges[j] / res, nr + nc)) + 1)
    size = 2 * rcmax + 1
    wr = min(size, nr)
    wc = min(size, nc)
    buf = np.zeros((batch, wr, wc), dtype=np.uint8)
    orr = np.zeros(batch, dtype=np.int64)
    occ = np.zeros(batch, dtype=np.int64)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        for b in numba.prange(stop - start):
            j = start + b
            buf[b, :, :] = 0
            orr[b] = min(max(0, rows[j] - rcmax), max(0, nr - wr))
            occ[b] = min(max(0, cols[j] - rcmax), max(0, nc - wc))
            if rc > 0:
                _r2_fast(dem, res, rows[j], cols[j], heights[j], target_h, ranges[j], sectors[j], azs[j],
                         half_fovs[j], dcoef, buf[b], orr[b], occ[b], sub, rc, tstart, tr, tc, ti, miss)
            else:
                _r2_kernel(dem, res, rows[j], cols[j], heights[j], target_h, ranges[j], sectors[j], azs[j],
                           half_fovs[j], dcoef, buf[b], orr[b], occ[b], sub)
        # merge the batch in one parallel region: grid rows split between threads, the cameras of each row
        # in order (the first camera wins)
        nb = stop - start
        lo_r = nr
        hi_r = 0
        for b in range(nb):
            lo_r = min(lo_r, orr[b])
            hi_r = max(hi_r, orr[b] + wr)
        for r in numba.prange(lo_r, hi_r):
            for b in range(nb):
                i = r - orr[b]
                if i < 0 or i >= wr:
                    continue
                jj = jids[start + b]
                for k in range(wc):
                    v = buf[b, i, k]
                    if v == 0:
                        continue
                    c = occ[b] + k
                    in_range[r, c] = True
                    if v == _SEEN:
                        if count[r, c] < 65535:
                            count[r, c] += 1
                        if first[r, c] < 0 or jj < first[r, c]:
                            first[r, c] = jj
        if use_tally:
            for b in range(nb):
                for bit in range(nbits):
                    tallies[jids[start + b], bit] = _tally_window(buf[b], tally, orr[b], occ[b], 1 << bit)

@numba.njit(cache=True, parallel=True)
def _tally_window(win, tally, r0, c0, flag):
    """Cells of ``win`` seen whose ``tally`` has ``flag`` set (window at ``r0, c0`` of the grid)."""
    total = 0
    for i in numba.prange(win.shape[0]):
        for k in range(win.shape[1]):
            if win[i, k] == _SEEN and tally[r0 + i, c0 + k] & flag:
                total += 1
    return total


# ---- public API ---------------------------------------------------------------------------------
def _prepare(dem: np.ndarray, res: float, row: int, col: int, max_range_m: float | None, azimuth: float | None,
             fov: float | None, curvature: bool, refraction: float):
    dem = np.ascontiguousarray(dem, dtype=np.float64)
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
             curvature: bool = True, refraction: float = 0.13, rays_per_cell: int = RAYS_PER_CELL) -> np.ndarray:
    """Cells visible from one observer: the fast R2 sweep (see the module docstring).

    Parameters
    ----------
    dem : numpy.ndarray
        2-D elevations in metres, NaN where there is no data (never visible, never blocking).
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
    rays_per_cell : int
        Rays per cell of the range square's perimeter (more: closer to the exact reference, slower).

    Returns
    -------
    numpy.ndarray of bool
        Shape of ``dem``; True where visible.
    """
    a, rng, sect, az, half, dcoef = _prepare(dem, res, row, col, max_range_m, azimuth, fov, curvature, refraction)
    out = np.zeros(a.shape, dtype=np.uint8)
    rc = _table_rc(rng, float(res), a.shape)
    if rc:
        _r2_fast(a, float(res), int(row), int(col), float(observer_h), float(target_h), rng, sect, az, half, dcoef,
                 out, 0, 0, int(rays_per_cell), rc, *_table(rc, int(rays_per_cell)))
    else:
        _r2_kernel(a, float(res), int(row), int(col), float(observer_h), float(target_h), rng, sect, az, half,
                   dcoef, out, 0, 0, int(rays_per_cell))
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


def coverage(dem, cameras, *, target_h: float = 0.0, range_m: float | None = None, curvature: bool = True,
             refraction: float = 0.13, default_height: float = 10.0, default_range: float = 5000.0,
             return_in_range: bool = False, tally: np.ndarray | None = None):
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
        sector of at least one camera used), ``used`` and ``skipped`` (camera counts), ``skipped_names``,
        and ``tallies`` (with ``tally``).
    tally : numpy.ndarray of uint8, optional
        Bit flags on the DEM's grid (e.g. 1 = forest, 2 = high-risk forest): each camera's seen
        cells are counted per bit into ``info["tallies"]`` (``(len(cameras), 8)`` int64, rows in
        the cameras frame; zeros for cameras not used). Needs ``return_in_range``.

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

    notes: list[Text] = []
    src_crs = pyproj.CRS.from_user_input(_as_pyproj_input(dem.crs)) if dem.crs is not None else None
    arr: np.ndarray = np.asarray(dem.array, dtype=np.float64)
    valid = dem.valid_mask()
    arr = np.where(valid, arr, np.nan)
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
        rasterio.warp.reproject(arr, work, src_transform=dem.transform, src_crs=src_crs.to_wkt(),
                                dst_transform=dst_t, dst_crs=crs.to_wkt(), resampling=Resampling.bilinear,
                                src_nodata=np.nan, dst_nodata=np.nan)
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
    inv = ~transform

    def label(i, rec) -> str:
        for f in ("name", "camera_id"):
            v = rec.get(f) if hasattr(rec, "get") else None
            if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip():
                return str(v)
        return f"#{i + 1}"

    rows, cols, heights, ranges, azs, halves, sectors, pos = [], [], [], [], [], [], [], []
    outside, void, no_h, no_r, off = [], [], [], [], []
    for i, (_, rec) in enumerate(gdf.iterrows()):
        geom = rec.geometry
        name = label(i, rec)
        status = str(rec.get("status", "") or "")
        if status in ("unavailable", "damaged"):
            off.append(name)
            continue
        if geom is None or geom.is_empty:
            outside.append(name)
            continue
        pt = geom if geom.geom_type == "Point" else geom.representative_point()
        cf, rf = inv * (pt.x, pt.y)
        r, c = int(math.floor(rf)), int(math.floor(cf))
        if not (0 <= r < nr and 0 <= c < nc):
            outside.append(name)
            continue
        if math.isnan(arr[r, c]):
            void.append(name)
            continue
        hgt = _num(rec.get("height"))
        if not math.isfinite(hgt):
            hgt = float(default_height)
            no_h.append(name)
        if range_m is not None:
            rg = float(range_m)
        else:
            rg = _num(rec.get("range"))
            if not (math.isfinite(rg) and rg > 0):
                rg = float(default_range)
                no_r.append(name)
        az, fov = _num(rec.get("azimuth")), _num(rec.get("fov"))
        sect = math.isfinite(az) and math.isfinite(fov) and fov < 360.0
        rows.append(r)
        cols.append(c)
        heights.append(hgt)
        ranges.append(rg)
        azs.append(az % 360.0 if sect else 0.0)
        halves.append(fov / 2.0 if sect else 180.0)
        sectors.append(sect)
        pos.append(i)

    def names(lst):
        shown = "、".join(lst[:10]) + (f" 等 {len(lst)} 个" if len(lst) > 10 else "")
        shown_en = ", ".join(lst[:10]) + (f" and {len(lst) - 10} more" if len(lst) > 10 else "")
        return shown, shown_en

    for group, zh_text, en_text, code in (
            (outside, "不在 DEM 范围内，已跳过", "outside the DEM were skipped", "cameras_outside"),
            (void, "位于 DEM 无数据处，已跳过", "on DEM voids were skipped", "cameras_on_voids"),
            (off, "状态为停用或损坏，未计入", "out of service were not counted", "cameras_out_of_service"),
            (no_h, f"没有架设高度，按 {default_height:g} 米计算", f"with no mast height use {default_height:g} m",
             "cameras_default_height"),
            (no_r, f"没有监测半径，按 {default_range:g} 米计算", f"with no range use {default_range:g} m",
             "cameras_default_range")):
        if group:
            zh, en = names(group)
            notes.append(Text(f"{len(group)} 个监控点{zh_text}：{zh}", f"{len(group)} camera(s) {en_text}: {en}", code))

    count = np.zeros((nr, nc), dtype=np.uint16)
    first_k = np.full((nr, nc), -1, dtype=np.int32)
    in_range = np.zeros((nr, nc), dtype=np.bool_)
    if rows:
        dcoef = (1.0 - float(refraction)) / (2.0 * EARTH_RADIUS) if curvature else 0.0
        batch = max(4, 4 * numba.get_num_threads())
        work_tally = np.zeros((1, 1), np.uint8)
        if tally is not None:
            work_tally = np.ascontiguousarray(tally, dtype=np.uint8)
            if geographic and src_crs is not None and crs is not None:   # onto the metric working grid
                moved = np.zeros((nr, nc), np.uint8)
                rasterio.warp.reproject(work_tally, moved, src_transform=dem.transform, src_crs=src_crs.to_wkt(),
                                        dst_transform=transform, dst_crs=crs.to_wkt(), resampling=Resampling.nearest)
                work_tally = moved
        tallies_k = np.zeros((len(rows), 8), np.int64)
        # elevations read from a float32 file lose nothing in float32: half the memory traffic
        arr32 = arr.astype(np.float32)
        if np.array_equal(arr32, arr, equal_nan=True):
            arr = arr32
        del arr32
        # cameras grouped by range square: each group's rays are those of its own square (as in viewshed())
        rcs = np.array([_table_rc(float(g), res, (nr, nc)) for g in ranges], np.int64)
        cam = (np.array(rows, np.int64), np.array(cols, np.int64), np.array(heights, float), np.array(ranges, float),
               np.array(azs, float), np.array(halves, float), np.array(sectors, np.bool_))
        for rc in np.unique(rcs):
            ids = np.flatnonzero(rcs == rc)
            tables = _table(int(rc), RAYS_PER_CELL) if rc else _NO_TABLE
            c_rows, c_cols, c_heights, c_ranges, c_azs, c_halves, c_sectors = (a[ids] for a in cam)
            _coverage_kernel(arr, res, c_rows, c_cols, c_heights, c_ranges, c_azs, c_halves, c_sectors,
                             float(target_h), dcoef, count, first_k, in_range, batch, RAYS_PER_CELL, work_tally,
                             tallies_k, ids.astype(np.int64), int(rc), *tables)
    else:
        tallies_k = np.zeros((0, 8), np.int64)
    tallies = np.zeros((len(cameras), 8), np.int64)
    tallies[np.array(pos, dtype=np.int64)] = tallies_k
    # first: positions in the cameras frame
    lut = np.array(pos + [-1], dtype=np.int32)
    first = np.where(first_k >= 0, lut[first_k], -1).astype(np.int32)
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
    if return_in_range:
        skipped = outside + void + off
        return count, first, notes, {"in_range": in_range, "used": len(rows), "skipped": len(skipped),
                                     "skipped_names": skipped, "tallies": tallies}
    return count, first, notes

