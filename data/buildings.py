"""Houses of the demo county: one point per household of every lowest-level transfer grid.

Houses stand inside their grid, clustered around its interior point (a normal spread of a third of the
grid's size, points outside the grid drawn again), each holding one household and its share of the grid's
people (largest remainder, so a grid's houses add up to its people). The flood plan judges whether the
water reaches where people live from them (:mod:`gis.flood.homes`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

__all__ = ["build_buildings"]


def _shares(total: int, n: int) -> np.ndarray:
    base = np.full(n, total // n, dtype=np.int64)
    base[: total - base.sum()] += 1
    return base


def build_buildings(grids: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """House points for the leaf grids.

    Parameters
    ----------
    grids : DataFrame
        The generator's grid table (metres): ``grid_id``, ``shelter`` (non-empty on leaf grids),
        ``households``, ``population``, ``township``, ``village``, ``geometry``.
    rng : numpy.random.Generator

    Returns
    -------
    DataFrame
        ``building_id``, ``use`` (``住宅``), ``households``, ``population``, ``township``, ``village``, ``x``, ``y``.
    """
    leaf = grids[grids["shelter"] != ""]
    xs, ys, hh, pop, town, vill = [], [], [], [], [], []
    for g, n_hh, people, t, v in zip(leaf["geometry"].to_numpy(), leaf["households"].to_numpy(),
                                     leaf["population"].to_numpy(), leaf["township"].to_numpy(),
                                     leaf["village"].to_numpy()):
        n = int(n_hh) if n_hh and n_hh > 0 else (1 if people and people > 0 else 0)
        if not n:
            continue
        c = g.representative_point()
        minx, miny, maxx, maxy = g.bounds
        spread = max(maxx - minx, maxy - miny) / 3.0
        got_x, got_y = np.zeros(0), np.zeros(0)
        for _ in range(6):
            px = rng.normal(c.x, spread, 3 * n)
            py = rng.normal(c.y, spread, 3 * n)
            inside = shapely.contains_xy(g, px, py)
            got_x, got_y = np.concatenate([got_x, px[inside]]), np.concatenate([got_y, py[inside]])
            if len(got_x) >= n:
                break
        if len(got_x) < n:
            got_x = np.concatenate([got_x, np.full(n - len(got_x), c.x)])
            got_y = np.concatenate([got_y, np.full(n - len(got_y), c.y)])
        xs.append(got_x[:n])
        ys.append(got_y[:n])
        hh.append(np.ones(n, dtype=np.int64))
        pop.append(_shares(int(people or 0), n))
        town.append(np.full(n, t, dtype=object))
        vill.append(np.full(n, v, dtype=object))
    if not xs:
        return pd.DataFrame({c: [] for c in ("building_id", "use", "households", "population", "township",
                                             "village", "x", "y")})
    n_all = sum(len(x) for x in xs)
    return pd.DataFrame({"building_id": [f"B{i:07d}" for i in range(1, n_all + 1)], "use": "住宅",
                         "households": np.concatenate(hh), "population": np.concatenate(pop),
                         "township": np.concatenate(town), "village": np.concatenate(vill),
                         "x": np.concatenate(xs), "y": np.concatenate(ys)})
