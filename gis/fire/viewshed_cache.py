"""Per-camera viewsheds kept between coverage runs: a review that adds or edits one camera sweeps one.

:func:`gis.fire.viewshed.coverage` asks the cache for each camera under a key made of everything
its viewshed depends on: the DEM's revision (:func:`dem_key`: a digest of its values, grid and
CRS), the camera's cell, mast height, range and sector, the target height, the curvature
coefficient and the sweep's ray density. A camera found there is added to the count raster from the
cache; the others are swept and stored. An edited camera has a new key (its old entry ages out),
a new DEM a new digest.

An entry is two bit planes over the camera's range square, "within its limits" and "seen"
(``2 * side**2 / 8`` bytes: 112 kB for 10 km at 30 m, 63 MB for the prefecture's 562 cameras),
kept within :data:`layers.settings.VIEWSHED_CACHE_MB` (least recently used out first), and added to
the count raster straight from the bit planes (:func:`gis.fire._sweep.merge_packed`).
:data:`SHARED` is the process-wide cache the fire review uses, shared by every session of the app.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from layers import settings

__all__ = ["ViewshedCache", "dem_key", "SHARED"]


class ViewshedCache:
    """Thread-safe LRU of per-camera viewsheds, bounded in bytes.

    Parameters
    ----------
    max_mb : float
        Memory the entries may take, MB (10^6 bytes); 0 keeps nothing.
    """

    def __init__(self, max_mb: float) -> None:
        self.max_bytes = int(max_mb * 1e6)
        self._entries: OrderedDict[Hashable, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes the entries take."""
        return self._bytes

    def get(self, key: Hashable) -> tuple[np.ndarray, np.ndarray] | None:
        """The entry's bit planes ``(within limits, seen)``: ``numpy.packbits`` of the range square, row by row.

        None when ``key`` is not cached.
        """
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return hit

    def store(self, key: Hashable, window: np.ndarray, side: int) -> None:
        """Keep the codes of ``window[:side, :side]`` under ``key``."""
        part = window[:side, :side]
        entry = (np.packbits(part != 0), np.packbits(part == 2))
        size = entry[0].nbytes + entry[1].nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[0].nbytes + old[1].nbytes
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, (a, b) = self._entries.popitem(last=False)
                self._bytes -= a.nbytes + b.nbytes

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def dem_key(dem) -> str:
    """The DEM's revision: a digest of its values, nodata, grid and CRS (SHA-1, about 0.1 s per 100 MB)."""
    a = np.ascontiguousarray(dem.array)
    h = hashlib.sha1(usedforsecurity=False)
    h.update(repr((a.shape, a.dtype.str, dem.nodata, tuple(dem.transform), str(dem.crs))).encode())
    h.update(a.view(np.uint8).reshape(-1).data)
    return h.hexdigest()


#: the process-wide cache of the fire review (every session of the app shares it)
SHARED = ViewshedCache(settings.VIEWSHED_CACHE_MB)
