"""Walking legs over the terrain: least-time paths on foot across the DEM, around water and rivers.

Where the road does not reach (from a grid's homes to a road, from a road to a shelter, from a grid cut
off by the flood to another road or straight to a shelter) people walk. A straight line is not a route
in the mountains, so every walking leg is a least-time path over the DEM's cells:

- **Speed from slope**, Tobler's hiking function (Tobler 1993, "Three presentations on geographical
  analysis and modeling", NCGIA TR 93-1): ``v = 6 exp(-3.5 |s + 0.05|)`` km/h on a path, where ``s`` is
  the rise over run of the step (5.0 km/h on the flat, fastest 6 km/h on a gentle descent); off paths
  and roads it is :data:`OFF_PATH_FACTOR` (3/5, Tobler's own figure) of that. The function is
  direction-aware: a step up a slope costs more than the same step down it.
- **Moves**: to the 8 neighbouring cells (diagonals only where the two cells beside them are not both
  barriers, so a path never slips between two river cells that touch at a corner).
- **Barriers**: river cells (the rivers layer rasterised) are impassable except where a road or path
  crosses them (a bridge or ford); small streams (``river_class`` 溪沟 / stream / brook / ditch: see
  :data:`SMALL_STREAMS`) are stepped over, as people do in the hills, unless the flood fills them (the
  water rule below then bars them); cells under at least :data:`WADE_DEPTH_M` of water are never
  entered from dry land nor from shallower water, so a walk that starts in the flood zone (people leave
  their homes before the water comes) only ever goes towards shallower (or equally deep) water, at
  :data:`WADE_FACTOR` of the speed, until it is out, and no walk crosses the flood.
- **Limit**: a leg longer than the walking limit (:data:`WALK_LIMIT_M`, 3 km by default, an option of
  the plan) is not offered: beyond it those people have no reachable shelter, said as such.

The search is :func:`scipy.sparse.csgraph.dijkstra` on the directed graph of cell-to-cell steps (edge
weight = seconds), multi-source with ``min_only`` where every grid asks the same question (its nearest
road, its nearest shelter on foot) and single-source per grid only where a grid needs every option
within its limit. The graph is built with numpy in one pass; scikit-image's ``MCP_Geometric`` is the
isotropic equivalent (a cost per cell), used in the tests as an independent check on flat ground.

Everything runs in the analysis frame's metric CRS (:class:`gis.projection.AnalysisFrame`); a surface
larger than :data:`MAX_WALK_CELLS` is coarsened (stated in the notes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np
import shapely
from affine import Affine
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from gis.projection import reproject_to
from layers.raster import Raster
from layers.text import Text

__all__ = ["WALK_LIMIT_M", "OFF_PATH_FACTOR", "WADE_DEPTH_M", "MAX_WALK_CELLS", "tobler_kmh", "WalkSurface",
           "build_surface", "Reach", "LocalReach"]

#: a walking leg longer than this is not offered (metres of path)
WALK_LIMIT_M = 3000.0
#: off roads and paths people walk at this share of Tobler's on-path speed (Tobler 1993: 3/5)
OFF_PATH_FACTOR = 0.6
#: cells under at least this much water are not walked into (the depth at which adults lose footing)
WADE_DEPTH_M = 0.3
#: a step into water at least :data:`WADE_DEPTH_M` deep (only ever out of the flood) goes at this share of the speed
WADE_FACTOR = 0.5
#: river classes people step over on foot (unless the flood fills them); every other river is a barrier
SMALL_STREAMS = ("溪沟", "溪", "沟", "小溪", "山溪", "stream", "brook", "ditch", "drain", "creek")
#: a walking surface with more cells is coarsened to about this many
MAX_WALK_CELLS = 1_000_000
#: a leg is searched for as long as it takes at this average speed, km/h (it is then kept by its length)
SEARCH_SPEED_KMH = 1.0

_STEPS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def tobler_kmh(slope: np.ndarray | float) -> np.ndarray:
    """Tobler's hiking speed on a path, km/h, for rise over run ``slope`` (positive uphill)."""
    return 6.0 * np.exp(-3.5 * np.abs(np.asarray(slope, dtype="float64") + 0.05))


@dataclass
class WalkSurface:
    """The walking graph on one metric grid.

    Attributes
    ----------
    transform : affine.Affine
        Cell corners to frame coordinates (metres).
    crs : pyproj.CRS
        The frame's CRS.
    shape : tuple of int
        ``(rows, cols)``.
    z : numpy.ndarray
        Elevation per cell (flattened, metres; NaN outside the DEM).
    open : numpy.ndarray
        Cells a walk may stand on (flattened bool).
    forward : scipy.sparse.csr_matrix
        Step times in seconds, person direction (row = from, column = to).
    backward : scipy.sparse.csr_matrix
        The transpose: searches from destinations back to where people start.
    notes : list of Text
        What was assumed (coarsened, rivers as barriers...).
    """

    transform: Affine
    crs: object
    shape: tuple[int, int]
    z: np.ndarray
    open: np.ndarray
    forward: sparse.csr_matrix
    backward: sparse.csr_matrix
    limit_m: float = WALK_LIMIT_M
    notes: list[Text] = field(default_factory=list)
    layers: tuple = field(default=(), repr=False)  # (z, barrier, wet, depth, path) as 2-D arrays, for windows
    #: seconds spent in walking searches so far (graph windows and Dijkstra), for the plan's timings
    searched_s: float = field(default=0.0, repr=False)

    @property
    def cell_xy(self) -> tuple[float, float]:
        """Cell width and height in metres."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def search_s(self) -> float:
        """Time limit of a search, seconds: the walking limit at :data:`SEARCH_SPEED_KMH` (steep, pathless ground)."""
        return self.limit_m / (SEARCH_SPEED_KMH / 3.6)

    def cells(self, xy: np.ndarray) -> np.ndarray:
        """The open cell each point stands on (or the nearest open cell); -1 outside the surface."""
        xy = np.asarray(xy, dtype="float64").reshape(-1, 2)
        rows, cols = self.shape
        c, r = ~self.transform * (xy[:, 0], xy[:, 1])
        r, c = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
        inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        idx = np.full(len(xy), -1, dtype=np.int64)
        idx[inside] = r[inside] * cols + c[inside]
        nearest = self._nearest_open()
        ok = idx >= 0
        idx[ok] = nearest[idx[ok]]
        return idx

    def _nearest_open(self) -> np.ndarray:
        if not hasattr(self, "_near"):
            closed = ~self.open.reshape(self.shape)
            if closed.any() and self.open.any():
                _, (ri, ci) = ndimage.distance_transform_edt(closed, return_indices=True)
                near = (ri * self.shape[1] + ci).ravel()
            else:
                near = np.arange(self.open.size)
            self._near = np.where(self.open[near], near, -1)
        return self._near

    def xy(self, cells: np.ndarray) -> np.ndarray:
        """Centres of ``cells`` in frame coordinates."""
        cells = np.asarray(cells, dtype=np.int64)
        r, c = np.divmod(cells, self.shape[1])
        t = self.transform
        return np.column_stack([t.c + (c + 0.5) * t.a + (r + 0.5) * t.b, t.f + (c + 0.5) * t.d + (r + 0.5) * t.e])

    def path_length(self, cells: np.ndarray) -> float:
        """Length in metres of a path through cell centres."""
        if len(cells) < 2:
            return 0.0
        dx, dy = self.cell_xy
        return float(_steps_m(np.asarray(cells, dtype=np.int64), self.shape[1], float(dx), float(dy)).sum())

    def path_time(self, cells: np.ndarray) -> float:
        """Seconds a walk through ``cells`` takes (the sum of its steps' weights)."""
        if len(cells) < 2:
            return 0.0
        a, b = np.asarray(cells[:-1]), np.asarray(cells[1:])
        return float(np.asarray(self.forward[a, b]).ravel().sum())

    def search(self, sources: np.ndarray, *, towards: bool, limit_s: float | None = None) -> Reach:
        """Least walking time between every cell and the nearest of ``sources``.

        Parameters
        ----------
        sources : numpy.ndarray
            Cell indices (open cells; duplicates allowed).
        towards : bool
            True: time for a person *walking to* a source (searched backwards from the sources);
            False: time for a person *walking from* a source.
        limit_s : float, optional
            Stop beyond this many seconds (default :attr:`search_s`).

        Returns
        -------
        Reach
        """
        src = np.unique(np.asarray(sources, dtype=np.int64))
        src = src[(src >= 0) & self.open[np.maximum(src, 0)]]
        n = self.open.size
        if not len(src):
            return Reach(self, np.full(n, np.inf), np.full(n, -9999, dtype=np.int32),
                         np.full(n, -9999, dtype=np.int32), towards)
        g = self.backward if towards else self.forward
        t0 = time.perf_counter()
        dist, pred, origin = csgraph.dijkstra(g, directed=True, indices=src, min_only=True,
                                              return_predecessors=True,
                                              limit=self.search_s if limit_s is None else limit_s)
        self.searched_s += time.perf_counter() - t0
        return Reach(self, dist, pred, origin, towards)

    def reach_from(self, cell: int, *, limit_s: float | None = None) -> Reach:
        """Every cell a person starting at ``cell`` reaches within the limit (one source)."""
        return self.search(np.array([cell]), towards=False, limit_s=limit_s)

    def local(self, cells: np.ndarray, *, towards: bool, tile: int = 96) -> Iterator[LocalReach]:
        """One search per cell, each inside a window of the walking limit around it (tiles share a window).

        A walk of at most :attr:`limit_m` never leaves the disc of that radius around its start, so the
        window loses no walk the limit allows; the search is the least-time path within it.

        Parameters
        ----------
        cells : numpy.ndarray
            Start cells (``towards=False``: people walk from them) or end cells (``towards=True``:
            people walk to them).
        towards : bool
            Direction, as in :meth:`search`.
        tile : int
            Cells per tile side: the searches of one tile run in one call on one window.

        Yields
        ------
        LocalReach
            In the order of ``cells``' tiles; ``.source`` is the cell searched from.
        """
        cells = np.asarray(cells, dtype=np.int64)
        rows, cols = self.shape
        rad = int(math.ceil(self.limit_m / min(self.cell_xy))) + 1
        r, c = np.divmod(cells, cols)
        key = (r // tile) * (cols // tile + 1) + (c // tile)
        for k in np.unique(key):
            t0 = time.perf_counter()
            members = np.flatnonzero(key == k)
            tr, tc = r[members], c[members]
            r0, r1 = max(0, int(tr.min()) - rad), min(rows, int(tr.max()) + rad + 1)
            c0, c1 = max(0, int(tc.min()) - rad), min(cols, int(tc.max()) + rad + 1)
            rr, cc = np.mgrid[r0:r1, c0:c1]
            idx = (rr * cols + cc).ravel()
            z, barrier, wet, depth, path = (a[r0:r1, c0:c1] for a in self.layers)
            fwd, bwd = _graphs(z, barrier, wet, depth, path, *self.cell_xy)
            g = bwd if towards else fwd
            local_src = (tr - r0) * (c1 - c0) + (tc - c0)
            dist, pred = csgraph.dijkstra(g, directed=True, indices=local_src, return_predecessors=True,
                                          limit=self.search_s)
            dist, pred = np.atleast_2d(dist), np.atleast_2d(pred)
            self.searched_s += time.perf_counter() - t0
            for j, m in enumerate(members):
                yield LocalReach(self, int(cells[m]), idx, dist[j], pred[j], towards)


@dataclass
class Reach:
    """The result of one search on a :class:`WalkSurface`: times, and the paths behind them."""

    surface: WalkSurface
    time: np.ndarray
    pred: np.ndarray
    origin: np.ndarray
    towards: bool

    def path(self, cell: int) -> np.ndarray:
        """The cells of the walk through ``cell``, in the order the person walks them.

        ``towards=True``: from ``cell`` to its source; ``towards=False``: from the source to ``cell``.
        Empty when ``cell`` was not reached.
        """
        if cell < 0 or not np.isfinite(self.time[cell]):
            return np.zeros(0, dtype=np.int64)
        seq = _trace(self.pred, int(cell))
        return seq if self.towards else seq[::-1]

    def length(self, cell: int) -> float:
        """Path length in metres of the walk through ``cell`` (NaN when not reached)."""
        seq = self.path(cell)
        return self.surface.path_length(seq) if len(seq) else float("nan")


@dataclass
class LocalReach:
    """One search inside a window (:meth:`WalkSurface.local`): times and paths in global cell numbers."""

    surface: WalkSurface
    source: int
    cells: np.ndarray   # window position -> global cell
    time_local: np.ndarray
    pred_local: np.ndarray
    towards: bool
    _window: tuple[int, int, int, int] = field(init=False, repr=False)   # first row, first column, width, height

    def __post_init__(self) -> None:
        cols = self.surface.shape[1]
        r0, c0 = divmod(int(self.cells[0]), cols)
        self._window = (r0, c0, int(self.cells[-1] % cols) - c0 + 1, int(self.cells[-1] // cols) - r0 + 1)

    def times(self, cells: np.ndarray) -> np.ndarray:
        """Walking time to (or from) each of ``cells`` (global numbers); inf outside the window or not reached."""
        pos = self._pos(np.asarray(cells, dtype=np.int64))
        out = np.full(len(pos), np.inf)
        ok = pos >= 0
        out[ok] = self.time_local[pos[ok]]
        return out

    def _pos(self, cells: np.ndarray) -> np.ndarray:
        r0, c0, w, h = self._window
        r, c = np.divmod(cells, self.surface.shape[1])
        lr, lc = r - r0, c - c0
        inside = (lr >= 0) & (lr < h) & (lc >= 0) & (lc < w)
        return np.where(inside, lr * w + lc, -1)

    @property
    def window(self) -> tuple[int, int, int, int]:
        """The search's window: first row, first column, width and height (cells of the surface)."""
        return self._window

    def positions(self, cells: np.ndarray) -> np.ndarray:
        """Window position of each of ``cells`` (global numbers); -1 outside the window."""
        return self._pos(np.asarray(cells, dtype=np.int64))

    def paths(self, cells: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The walks through many reached ``cells`` at once: their cells in walking order, and their lengths (m).

        Equal to :meth:`path` and :meth:`WalkSurface.path_length` cell by cell, in one compiled pass.
        """
        return self.paths_at(self._pos(np.asarray(cells, dtype=np.int64)))

    def paths_at(self, pos: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """:meth:`paths` for window positions (:meth:`positions`) instead of global cell numbers."""
        if not len(pos):
            return [], np.zeros(0)
        if (pos < 0).any() or not np.isfinite(self.time_local[pos]).all():
            raise ValueError("paths: every cell must have been reached")
        rows, cols = self.surface.shape
        w = int(self.cells[-1] % cols) - int(self.cells[0] % cols) + 1
        dx, dy = self.surface.cell_xy
        flat, offs, length = _chains(self.pred_local, pos, w, float(dx), float(dy))
        walked = self.cells[flat]
        bounds = offs.tolist()
        if self.towards:
            return [walked[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], length
        return [walked[a:b][::-1] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], length

    def path(self, cell: int) -> np.ndarray:
        """Cells of the walk through ``cell`` in walking order (see :meth:`Reach.path`); empty if not reached."""
        r0, c0, w, h = self._window
        r, c = divmod(int(cell), self.surface.shape[1])
        lr, lc = r - r0, c - c0
        if not (0 <= lr < h and 0 <= lc < w) or not np.isfinite(self.time_local[lr * w + lc]):
            return np.zeros(0, dtype=np.int64)
        seq = self.cells[_trace(self.pred_local, lr * w + lc)]
        return seq if self.towards else seq[::-1]


@numba.njit(cache=True, nogil=True)
def _chains(pred: np.ndarray, starts: np.ndarray, w: int, dx: float, dy: float):  # pragma: no cover - compiled
    """Follow predecessor chains from ``starts`` (window positions, row width ``w``): the cells of every chain
    (flat, with offsets) and each chain's length through cell centres."""
    n = len(starts)
    offs = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        p, k = starts[i], 1
        while pred[p] >= 0:
            p = pred[p]
            k += 1
        offs[i + 1] = offs[i] + k
    flat = np.empty(offs[n], dtype=np.int64)
    length = np.zeros(n)
    for i in range(n):
        p = starts[i]
        j = offs[i]
        flat[j] = p
        total = 0.0
        while pred[p] >= 0:
            q = pred[p]
            dr = q // w - p // w
            dc = q % w - p % w
            total += math.sqrt((dc * dx) ** 2 + (dr * dy) ** 2)
            j += 1
            flat[j] = q
            p = q
        length[i] = total
    return flat, offs, length


@numba.njit(cache=True, nogil=True)
def _trace(pred, start):  # pragma: no cover - compiled
    """``start`` and its predecessors back to the search's source (``pred < 0``), as int64."""
    n = 1
    i = start
    while pred[i] >= 0:
        i = pred[i]
        n += 1
    out = np.empty(n, np.int64)
    i = start
    out[0] = i
    for k in range(1, n):
        i = pred[i]
        out[k] = i
    return out


@numba.njit(cache=True, nogil=True)
def _steps_m(cells, cols, dx, dy):  # pragma: no cover - compiled
    """``np.hypot(np.diff(c) * dx, np.diff(r) * dy)`` of the cells' rows and columns, compiled."""
    steps = np.empty(len(cells) - 1)
    for k in range(len(cells) - 1):
        steps[k] = np.hypot((cells[k + 1] % cols - cells[k] % cols) * dx,
                            (cells[k + 1] // cols - cells[k] // cols) * dy)
    return steps


# ---- building the surface ---------------------------------------------------------------------------------
def _burn(gdf: gpd.GeoDataFrame | None, crs: object, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    from rasterio.features import rasterize

    if gdf is None or not len(gdf):
        return np.zeros(shape, dtype=bool)
    g = reproject_to(gdf, crs)
    geoms = [x for x in g.geometry.values if x is not None and not x.is_empty]
    shapes = geoms + [x.boundary for x in geoms if x.geom_type in ("Polygon", "MultiPolygon")]
    if not shapes:
        return np.zeros(shape, dtype=bool)
    return rasterize(shapes, out_shape=shape, transform=transform, fill=0, default_value=1, all_touched=True,
                     dtype="uint8").astype(bool)


def _coarsen(dem: Raster, depth: np.ndarray | None, max_cells: int) -> tuple[np.ndarray, Affine, np.ndarray | None,
                                                                             int]:
    """Block-average the elevations (block maximum of depth) when the grid is too big."""
    rows, cols = dem.shape
    f = max(1, int(math.ceil(math.sqrt(rows * cols / max_cells))))
    z = np.asarray(dem.array, dtype="float64")
    if f == 1:
        return z, dem.transform, depth, 1
    r2, c2 = rows // f, cols // f
    zb = z[:r2 * f, :c2 * f].reshape(r2, f, c2, f)
    with np.errstate(invalid="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore", RuntimeWarning)
        zc = np.nanmean(zb, axis=(1, 3))
        dc = None if depth is None else np.nanmax(depth[:r2 * f, :c2 * f].reshape(r2, f, c2, f), axis=(1, 3))
    return zc, dem.transform * Affine.scale(f), dc, f


@numba.njit(cache=True, nogil=True)
def _step_weights(z, barrier, wet, depth, path, dx, dy, off_factor, wade_factor):  # pragma: no cover - compiled
    """Seconds of each of the 8 steps out of every cell (cells x 8); inf where the step is barred."""
    rows, cols = z.shape
    fw = np.full((rows * cols, 8), np.inf)
    drs = (-1, -1, -1, 0, 0, 1, 1, 1)
    dcs = (-1, 0, 1, -1, 1, -1, 0, 1)
    for r in range(rows):
        for c in range(cols):
            if barrier[r, c]:
                continue
            a = r * cols + c
            for k in range(8):
                r2, c2 = r + drs[k], c + dcs[k]
                if r2 < 0 or r2 >= rows or c2 < 0 or c2 >= cols or barrier[r2, c2]:
                    continue
                if drs[k] != 0 and dcs[k] != 0 and barrier[r2, c] and barrier[r, c2]:
                    continue  # no slipping between two barrier cells that touch at a corner
                if wet[r2, c2] and not (wet[r, c] and depth[r2, c2] <= depth[r, c]):
                    continue  # never from dry land into the water, never into deeper water
                run = math.sqrt((drs[k] * dy) ** 2 + (dcs[k] * dx) ** 2)
                v = 6.0 * math.exp(-3.5 * abs((z[r2, c2] - z[r, c]) / run + 0.05))
                if not (path[r, c] and path[r2, c2]):
                    v *= off_factor
                if wet[r2, c2]:
                    v *= wade_factor
                fw[a, k] = max(run / (v / 3.6), 1e-6)
    return fw


@numba.njit(cache=True, nogil=True)
def _fill_csr(fw, rows, cols):  # pragma: no cover - compiled
    """CSR arrays of the steps (``fw``: cells x 8, inf where barred) and of their transpose, in one pass each."""
    n = rows * cols
    drs = (-1, -1, -1, 0, 0, 1, 1, 1)
    dcs = (-1, 0, 1, -1, 1, -1, 0, 1)
    fptr = np.zeros(n + 1, np.int64)
    bptr = np.zeros(n + 1, np.int64)
    for a in range(n):
        for k in range(8):
            if fw[a, k] < np.inf:
                fptr[a + 1] += 1
                b = a + drs[k] * cols + dcs[k]
                bptr[b + 1] += 1
    for i in range(n):
        fptr[i + 1] += fptr[i]
        bptr[i + 1] += bptr[i]
    m = fptr[n]
    fidx = np.empty(m, np.int32)
    fdat = np.empty(m, np.float64)
    bidx = np.empty(m, np.int32)
    bdat = np.empty(m, np.float64)
    for a in range(n):
        q = fptr[a]
        for k in range(8):   # column offsets increase with k: each row comes out sorted
            if fw[a, k] < np.inf:
                fidx[q] = a + drs[k] * cols + dcs[k]
                fdat[q] = fw[a, k]
                q += 1
    for b in range(n):
        q = bptr[b]
        for k in range(7, -1, -1):   # the cell stepping in by step k is b minus its offset: increasing too
            a = b - (drs[k] * cols + dcs[k])
            if a < 0 or a >= n:
                continue
            r, c = a // cols, a % cols
            r2, c2 = r + drs[k], c + dcs[k]
            if r2 < 0 or r2 >= rows or c2 < 0 or c2 >= cols or r2 * cols + c2 != b:
                continue
            if fw[a, k] < np.inf:
                bidx[q] = a
                bdat[q] = fw[a, k]
                q += 1
    return fptr, fidx, fdat, bptr, bidx, bdat


def _graphs(z: np.ndarray, barrier: np.ndarray, wet: np.ndarray, depth: np.ndarray, path: np.ndarray, dx: float,
            dy: float) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """The step graph and its transpose, built straight into CSR form (cells in row-major order, no sorting).

    Every cell has 8 candidate steps in a fixed order whose column offsets increase, so each row of the
    (cells x 8) table is already a sorted CSR row once the barred steps are dropped; the transpose's row
    of a cell lists the steps into it in the reverse order, also sorted.
    """
    rows, cols = z.shape
    n = rows * cols
    fw = _step_weights(np.ascontiguousarray(z, dtype=np.float64), np.ascontiguousarray(barrier),
                       np.ascontiguousarray(wet), np.ascontiguousarray(depth, dtype=np.float64),
                       np.ascontiguousarray(path), float(dx), float(dy), OFF_PATH_FACTOR, WADE_FACTOR)
    fptr, fidx, fdat, bptr, bidx, bdat = _fill_csr(fw, rows, cols)
    return (sparse.csr_matrix((fdat, fidx, fptr), shape=(n, n)),
            sparse.csr_matrix((bdat, bidx, bptr), shape=(n, n)))


def build_surface(dem: Raster, *, depth: Raster | None = None, rivers: gpd.GeoDataFrame | None = None,
                  roads: gpd.GeoDataFrame | None = None, wade_m: float = WADE_DEPTH_M,
                  limit_m: float = WALK_LIMIT_M, max_cells: int = MAX_WALK_CELLS,
                  near: np.ndarray | None = None) -> WalkSurface:
    """The walking graph over a DEM in a metric CRS.

    Parameters
    ----------
    dem : Raster
        Elevations in metres, in the analysis frame's metric CRS (NaN outside the data).
    depth : Raster, optional
        Flood depth on the same grid (NaN dry); see the module notes for how water is walked.
    rivers : GeoDataFrame, optional
        River lines or areas: barriers except where ``roads`` cross them.
    roads : GeoDataFrame, optional
        Roads and paths: walked at the on-path speed, and the only crossings of rivers.
    wade_m : float
        Water at least this deep is not walked into (default :data:`WADE_DEPTH_M`).
    limit_m : float
        Walking limit in metres (default :data:`WALK_LIMIT_M`).
    max_cells : int
        Coarsen a bigger grid to about this many cells.
    near : numpy.ndarray, optional
        ``(n, 2)`` points (where walks start or end: homes, shelters): cells farther than the walking limit
        from all of them are left out (no walk of the limit reaches them), which keeps the searches small.

    Returns
    -------
    WalkSurface
    """
    if dem.crs is None or dem.is_geographic:
        raise ValueError("the walking surface needs a DEM in a metric CRS (see gis.projection.AnalysisFrame)")
    notes: list[Text] = []
    d_arr = None
    if depth is not None:
        if depth.shape != dem.shape:
            raise ValueError("the depth raster must be on the DEM's grid")
        d_arr = np.asarray(depth.array, dtype="float64")
    z, tr, d_arr, f = _coarsen(dem, d_arr, max_cells)
    if f > 1:
        notes.append(Text(f"步行路径在 {abs(tr.a):.0f} 米网格上计算（DEM 每 {f}×{f} 个像元合并为一个，以控制计算量）",
                          f"walking paths were computed on {abs(tr.a):.0f} m cells (the DEM's cells merged {f}x{f} to "
                          "keep the computation in bounds)", "walk_coarsened"))
    shape = z.shape
    valid = np.isfinite(z)
    if rivers is not None and len(rivers) and "river_class" in rivers:
        small = rivers["river_class"].astype(str).str.strip().str.lower().isin(SMALL_STREAMS)
        small &= rivers.geometry.geom_type.isin(["LineString", "MultiLineString"])
        rivers = rivers[~small]
    river = _burn(rivers, dem.crs, tr, shape)
    path = _burn(roads, dem.crs, tr, shape)
    barrier = (river & ~path) | ~valid
    if near is not None and len(near):
        seeds = np.ones(shape, dtype=bool)
        cc, rr = ~tr * (np.asarray(near)[:, 0], np.asarray(near)[:, 1])
        rr, cc = np.floor(rr).astype(np.int64), np.floor(cc).astype(np.int64)
        ok = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
        seeds[rr[ok], cc[ok]] = False
        far = ndimage.distance_transform_edt(seeds, sampling=(abs(tr.e), abs(tr.a))) > limit_m + 2 * abs(tr.a)
        barrier |= far
    if river.any():
        notes.append(Text("河流（河流图层，溪沟除外）视为不可徒步穿越，仅可经道路或小路跨越",
                          "rivers (the river layer, small streams aside) cannot be walked across except where a road "
                          "or path crosses them", "walk_rivers"))
    wet = np.zeros(shape, dtype=bool) if d_arr is None else np.nan_to_num(d_arr, nan=0.0) >= wade_m
    dd = np.zeros(shape) if d_arr is None else np.nan_to_num(d_arr, nan=0.0)
    open_ = ~barrier
    fwd, bwd = _graphs(z, barrier, wet, dd, path, abs(tr.a), abs(tr.e))
    return WalkSurface(tr, dem.crs, shape, z.ravel(), open_.ravel(), fwd, bwd, limit_m=limit_m, notes=notes,
                       layers=(z, barrier, wet, dd, path))


def path_lines(coords: list[np.ndarray | None]) -> np.ndarray:
    """Walks (and routes) as lines: one per ``(n, 2)`` coordinate array, collinear points dropped, built in one
    shapely call; None where an array is None or has fewer than 2 points."""
    out = np.full(len(coords), None, dtype=object)
    have = [i for i, c in enumerate(coords) if c is not None and len(c) >= 2]
    if have:
        parts: list[np.ndarray] = [c for c in coords if c is not None and len(c) >= 2]
        idx = np.repeat(np.arange(len(parts)), [len(c) for c in parts])
        lines = np.asarray(shapely.linestrings(np.concatenate(parts), indices=idx), dtype=object)
        longer = np.array([len(c) > 2 for c in parts])
        lines[longer] = shapely.simplify(lines[longer], 0.0)
        out[have] = lines
    return out
