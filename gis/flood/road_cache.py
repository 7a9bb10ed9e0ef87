"""The road graph kept on disk per revision of the roads layer, so a command does not rebuild it each time.

A :class:`~gis.flood.roads.RoadGraph` is its arrays (node coordinates, edge ends, lengths, times, source
rows, components), its CRS and its notes: one compressed ``.npz`` in the workspace's cache folder
(:func:`layers.folders.cache_folder`), named by a hash of what it was built from (the roads layer's
version, last change and the workspace's restore token, the frame's CRS, the snapping distance and this
file format). A new revision of the roads gives a new name, and the graph of the old one is removed when
the new one is written. A file is written to a temporary name and renamed, so a process never reads half
a file; one that cannot be read (damaged, truncated, another format, a different key inside) is rebuilt
and never trusted. A cache folder that cannot be written (a read-only medium) only means no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyproj

from gis.flood.roads import RoadGraph
from layers.text import Text

__all__ = ["FORMAT", "graph_key", "load_graph", "save_graph", "cached_graph"]

#: bumped when the stored arrays or the way the graph is built change
FORMAT = 1
_ARRAYS = ("xy", "u", "v", "length", "time", "road", "component")
_PREFIX = "roadgraph-"


def graph_key(token: object, crs: object, *, snap_m: float = 5.0) -> str:
    """The cache key of the graph of a roads revision ``token`` (any JSON-able value) in ``crs``."""
    wkt = pyproj.CRS.from_user_input(crs).to_wkt()
    text = json.dumps({"format": FORMAT, "token": token, "crs": wkt, "snap_m": float(snap_m)}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _path(folder: Path, key: str) -> Path:
    return Path(folder) / f"{_PREFIX}{key}.npz"


def load_graph(folder: Path, key: str) -> RoadGraph | None:
    """The graph stored under ``key`` in ``folder``, or None when there is none or it cannot be read whole."""
    path = _path(folder, key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key or int(z["format"]) != FORMAT:
                return None
            arrays = {name: np.array(z[name]) for name in _ARRAYS}
            crs = pyproj.CRS.from_wkt(str(z["crs"]))
            notes = [Text(*n) for n in json.loads(str(z["notes"]))]
            n_components = int(z["n_components"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, pyproj.exceptions.CRSError,
            json.JSONDecodeError, TypeError):
        return None
    n, m = len(arrays["xy"]), len(arrays["u"])
    if arrays["xy"].shape != (n, 2) or any(len(arrays[a]) != m for a in ("v", "length", "time", "road")) \
            or len(arrays["component"]) != n or (m and max(int(arrays["u"].max()), int(arrays["v"].max())) >= n):
        return None
    return RoadGraph(crs=crs, xy=arrays["xy"], u=arrays["u"], v=arrays["v"], length=arrays["length"],
                     time=arrays["time"], road=arrays["road"], component=arrays["component"],
                     n_components=n_components, notes=notes)


def save_graph(folder: Path, key: str, graph: RoadGraph) -> Path | None:
    """Store ``graph`` under ``key`` (written to a temporary file, then renamed) and remove the graphs of other
    keys; None when the folder cannot be written."""
    folder = Path(folder)
    path = _path(folder, key)
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{_PREFIX}", suffix=".npz.writing", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, key=np.array(key), format=np.array(FORMAT), crs=np.array(graph.crs.to_wkt()),
                                notes=np.array(json.dumps([[*n, getattr(n, "code", "")] for n in graph.notes],
                                                          ensure_ascii=False)),
                                n_components=np.array(graph.n_components),
                                **{name: getattr(graph, name) for name in _ARRAYS})
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)             # as any file the user writes (mkstemp made it private)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        return None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    for old in folder.glob(f"{_PREFIX}*.npz"):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()
    return path


def cached_graph(folder: Path, key: str, build: Callable[[], RoadGraph | None]) -> RoadGraph | None:
    """The graph stored under ``key``, else ``build()`` stored under it (a None graph is not stored)."""
    graph = load_graph(folder, key)
    if graph is None:
        graph = build()
        if graph is not None:
            save_graph(folder, key, graph)
    return graph
