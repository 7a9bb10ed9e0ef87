"""GRASS ``r.viewshed``'s terrain model (GRASS 8), written out cell by cell to explain the agreement figures.

Our reference (:func:`gis.fire.viewshed.viewshed_exact`) samples the terrain where a sight line
crosses each row or column of cell centres, linearly interpolated between the two centres, at the
crossing's true distance (Franklin's R3). ``r.viewshed`` (Haverkort, Toma and Zhuang's sweep, with
Metz's surface interpolation: ``raster/r.viewshed/{grass,eventlist,statusstructure,rbbst}.cpp``)
models the terrain differently:

- every cell has three events: entering corner, centre, exiting corner (which corners depends on
  the cell's quadrant around the observer); a corner's elevation is the mean of the four cells
  sharing it (the centre's own when one is missing or off the grid);
- each event's elevation is lowered for curvature and refraction at its own distance
  (``d^2 (1 - k) / (2 a)``, ``a`` the ellipsoid's semi-major axis) and turned into a gradient
  ``atan((z - z_eye) / d)``;
- a target cell's centre is hidden when a cell whose centre is nearer to the observer, and whose
  angular span (entering to exiting corner, ends excluded) holds the target's direction, has at that
  direction a gradient above the target's; that gradient is interpolated linearly in angle between
  the cell's entering, centre and exiting gradients.

:func:`grass_model_viewshed` evaluates exactly this, target by target, walking the cells the sight
line's direction passes through. The benchmark shows it reproduces ``r.viewshed`` on the sample
cameras: what separates our reference from GRASS is the terrain model, not the sweep.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["grass_model_viewshed"]


@numba.njit(cache=True)
def _corner(r, c, vr, vc, enter):
    """Position (row, col) of cell ``(r, c)``'s entering or exiting corner, and its diagonal neighbour there."""
    if r < vr and c < vc:
        return (r - 0.5, c + 0.5, r - 1, c + 1) if enter else (r + 0.5, c - 0.5, r + 1, c - 1)
    if c == vc and r < vr:
        return (r + 0.5, c + 0.5, r + 1, c + 1) if enter else (r + 0.5, c - 0.5, r + 1, c - 1)
    if c > vc and r < vr:
        return (r + 0.5, c + 0.5, r + 1, c + 1) if enter else (r - 0.5, c - 0.5, r - 1, c - 1)
    if r == vr and c > vc:
        return (r + 0.5, c - 0.5, r + 1, c - 1) if enter else (r - 0.5, c - 0.5, r - 1, c - 1)
    if c > vc and r > vr:
        return (r + 0.5, c - 0.5, r + 1, c - 1) if enter else (r - 0.5, c + 0.5, r - 1, c + 1)
    if c == vc and r > vr:
        return (r - 0.5, c - 0.5, r - 1, c - 1) if enter else (r - 0.5, c + 0.5, r - 1, c + 1)
    if c < vc and r > vr:
        return (r - 0.5, c - 0.5, r - 1, c - 1) if enter else (r + 0.5, c + 0.5, r + 1, c + 1)
    return (r - 0.5, c + 0.5, r - 1, c + 1) if enter else (r + 0.5, c + 0.5, r + 1, c + 1)


@numba.njit(cache=True)
def _wrap(a):
    """An angle difference in (-pi, pi]."""
    while a > math.pi:
        a -= 2 * math.pi
    while a <= -math.pi:
        a += 2 * math.pi
    return a


@numba.njit(cache=True)
def _model(dem, res, vr, vc, obs_h, tgt_h, max_d, refr, ellps_a, out):
    nr, nc = dem.shape
    k = (1.0 - refr) / (2.0 * ellps_a)
    vz = dem[vr, vc] + obs_h
    g = np.zeros((nr, nc, 3))         # gradients of the entering corner, centre, exiting corner
    th = np.zeros((nr, nc, 3))        # their directions (radians, counter-clockwise from east)
    d2 = np.full((nr, nc), np.inf)    # squared centre distance; inf: not an event (void, out of range)
    for r in range(nr):
        for c in range(nc):
            z = dem[r, c]
            dist = res * math.hypot(r - vr, c - vc)
            if (r == vr and c == vc) or math.isnan(z) or dist > max_d:
                continue
            d2[r, c] = dist * dist
            g[r, c, 1] = math.atan((z - dist * dist * k - vz) / dist)
            th[r, c, 1] = math.atan2(vr - r, c - vc)
            for e in range(2):
                y, x, r1, c1 = _corner(r, c, vr, vc, e == 0)
                ze = z
                if 0 <= r1 < nr and 0 <= c1 < nc:
                    a1, a2, a3 = dem[r1, c1], dem[r1, c], dem[r, c1]
                    if not (math.isnan(a1) or math.isnan(a2) or math.isnan(a3)):
                        ze = (a1 + a2 + a3 + z) / 4.0
                de = res * math.hypot(y - vr, x - vc)
                g[r, c, 2 * e] = math.atan((ze - de * de * k - vz) / de)
                th[r, c, 2 * e] = math.atan2(vr - y, x - vc)
    out[vr, vc] = True
    for r in range(nr):
        for c in range(nc):
            if d2[r, c] == np.inf:
                continue
            dist = math.sqrt(d2[r, c])
            gt = math.atan((dem[r, c] - dist * dist * k + tgt_h - vz) / dist)
            tt = th[r, c, 1]
            dy = -math.sin(tt)
            dx = math.cos(tt)
            # the cells the target's direction passes through, from the observer's centre outwards
            cr, cc = vr, vc
            sr = 1 if dy > 0 else -1
            sc = 1 if dx > 0 else -1
            tdr = abs(1.0 / dy) if dy != 0 else np.inf
            tdc = abs(1.0 / dx) if dx != 0 else np.inf
            tmr = 0.5 * tdr
            tmc = 0.5 * tdc
            lim = dist / res + 1.5
            seen = True
            while seen:
                if tmr < tmc:
                    t = tmr
                    tmr += tdr
                    cr += sr
                else:
                    t = tmc
                    tmc += tdc
                    cc += sc
                if t > lim or cr < 0 or cr >= nr or cc < 0 or cc >= nc:
                    break
                if d2[cr, cc] >= d2[r, c]:
                    continue
                a0 = _wrap(th[cr, cc, 0] - th[cr, cc, 1])
                a2 = _wrap(th[cr, cc, 2] - th[cr, cc, 1])
                at = _wrap(tt - th[cr, cc, 1])
                if not (min(a0, a2) < at < max(a0, a2)):
                    continue
                if at == 0.0:
                    gc = g[cr, cc, 1]
                elif (at < 0) == (a0 < 0):
                    gc = g[cr, cc, 1] + (g[cr, cc, 0] - g[cr, cc, 1]) * at / a0
                else:
                    gc = g[cr, cc, 1] + (g[cr, cc, 2] - g[cr, cc, 1]) * at / a2
                seen = gc <= gt
            out[r, c] = seen


def grass_model_viewshed(dem: np.ndarray, res: float, row: int, col: int, observer_h: float, *,
                         target_h: float = 0.0, max_range_m: float = math.inf, curvature: bool = True,
                         refraction: float = 0.13, ellipsoid_a: float = 6_378_137.0) -> np.ndarray:
    """Cells visible under r.viewshed's terrain model (module docstring), with curvature and refraction.

    Parameters
    ----------
    dem : numpy.ndarray
        Elevations, NaN where there is no data; square cells of ``res`` metres.
    row, col, observer_h, target_h, max_range_m
        As in :func:`gis.fire.viewshed.viewshed` (``r.viewshed -c -r``'s ``observer_elevation``,
        ``target_elevation``, ``max_distance``).
    curvature : bool
        ``-c -r``: curvature and refraction; False: neither.
    refraction : float
        ``refraction_coeff``.
    ellipsoid_a : float
        The location's ellipsoid semi-major axis (CGCS2000 and WGS84: 6 378 137 m).

    Returns
    -------
    numpy.ndarray of bool
        True where visible (the observer cell included).
    """
    out = np.zeros(np.shape(dem), np.bool_)
    _model(np.asarray(dem, np.float64), float(res), int(row), int(col), float(observer_h), float(target_h),
           float(max_range_m), float(refraction), float(ellipsoid_a) if curvature else math.inf, out)
    return out
