"""Many points sent to the browser by column: the same features in a fraction of the bytes.

A FeatureCollection of tens of thousands of points (the Operations and Flood maps' whole-area view: one dot
per grid) repeats ``{"type": "Feature", "geometry": {"type": "Point", "coordinates": [...]}, "properties":
{...}}`` and every property name per feature, and every Chinese character goes as a six-byte ``\\uXXXX``
escape. :func:`pack_points` writes it column by column instead:

- coordinates as integers (the smallest of 1e-5, 1e-6, 1e-7 degree steps that holds them exactly, else
  1e-7: about a centimetre), each the difference from the point before;
- a column of few distinct values (a status, its label, a township) as a small table and one index per
  point;
- a column of text as what each value shares with the one before: ``head`` characters from its start,
  ``tail`` from its end, and the ``mid`` that differs (``WG3399081012050102`` after ``...0101`` is 16, 0,
  ``"02"``; ``莲头村1组2号联户网格`` after ``莲头村1组1号联户网格`` is 5, 5, ``"2"``);
- any other column as its values.

``GisMap.unpack`` in ``static/gis/gismap.js`` rebuilds the very features (popups, tooltips, the search box
and the style table see the same properties). Only big layers of points are packed (:data:`PACK_MIN`, the
number from which the browser draws them as ``GisMap.Dots``); other data goes as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PACK_MIN", "pack_points"]

#: layers of at least this many points are packed (GisMap.DOTS_MIN in static/gis/gismap.js: drawn as dots)
PACK_MIN = 2000
#: the packed data's type (GisMap.unpack looks for it)
PACKED_TYPE = "GisPoints"


def pack_points(data: dict, *, min_points: int = PACK_MIN) -> dict | None:
    """``data`` (a FeatureCollection) by column, or None when it is not a big layer of plain points.

    Parameters
    ----------
    data : dict
        A GeoJSON FeatureCollection.
    min_points : int
        Fewer features than this are not packed.

    Returns
    -------
    dict or None
        ``{"type": "GisPoints", "n", "scale", "x", "y", "columns"}`` (see the module docstring); None when
        the collection is small, or holds anything but ``Point`` features with the same property names and
        no other members (those go as they are).
    """
    feats = data.get("features") if isinstance(data, dict) else None
    if not feats or len(feats) < min_points or set(data) - {"type", "features"}:
        return None
    names = None
    xy = np.empty((len(feats), 2), dtype="float64")
    for i, f in enumerate(feats):
        g = f.get("geometry")
        if (set(f) - {"type", "geometry", "properties"} or not g or g.get("type") != "Point"
                or len(g.get("coordinates", ())) != 2):
            return None
        props = f.get("properties") or {}
        if names is None:
            names = list(props)
        elif len(props) != len(names) or any(k not in props for k in names):
            return None
        xy[i] = g["coordinates"]
    if not np.isfinite(xy).all():
        return None
    scale, q = _steps(xy)
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype="int64"))
    columns = [_column(k, [(f.get("properties") or {})[k] for f in feats]) for k in names or []]
    return {"type": PACKED_TYPE, "n": len(feats), "scale": scale, "x": delta[:, 0].tolist(),
            "y": delta[:, 1].tolist(), "columns": columns}


def _steps(xy: np.ndarray) -> tuple[int, np.ndarray]:
    """The coordinates as integers of the coarsest step that holds them exactly (1e-7 degree at most)."""
    for decimals in (5, 6, 7):
        scale = 10 ** decimals
        q = np.round(xy * scale)
        if decimals == 7 or np.abs(q / scale - xy).max() <= 1e-12:
            return scale, q.astype("int64")
    raise AssertionError("unreachable")


def _column(name: str, values: list[Any]) -> dict:
    """One property column, in the smallest of its encodings (see the module docstring)."""
    try:
        distinct = set(values)
    except TypeError:                       # lists or dicts as values: as they are
        return {"name": name, "values": values}
    if len(distinct) * 4 <= len(values):
        table = sorted(distinct, key=lambda v: (v is None, str(type(v)), str(v)))
        if all(v is None or isinstance(v, (str, int, float, bool)) for v in table) and not _mixed_numbers(table):
            index = {v: i for i, v in enumerate(table)}
            return {"name": name, "table": table, "codes": [index[v] for v in values]}
    if all(isinstance(v, str) for v in values) and not any(max(v, default="\0") > "\uffff" for v in values):
        return {"name": name, **_shared_ends(values)}
    return {"name": name, "values": values}


def _mixed_numbers(table: list[Any]) -> bool:
    """True when equal keys of a table stand for values that read differently (``1``, ``1.0`` and ``True``)."""
    kinds = {type(v) for v in table if v is not None}
    return len(kinds & {int, float, bool}) > 1


def _shared_ends(values: list[str]) -> dict:
    """Each text as the start (``head``) and end (``tail``) it shares with the one before, and the rest (``mid``).
    Lengths count UTF-16 units, as JavaScript's strings do (texts with characters beyond them are not coded)."""
    head, tail, mid = [], [], []
    prev = ""
    for s in values:
        n = min(len(s), len(prev))
        p = 0
        while p < n and s[p] == prev[p]:
            p += 1
        t = 0
        while t < n - p and s[-1 - t] == prev[-1 - t]:
            t += 1
        head.append(p)
        tail.append(t)
        mid.append(s[p:len(s) - t])
        prev = s
    return {"head": head, "tail": tail, "mid": mid}
