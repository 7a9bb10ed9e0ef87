"""Time the evacuation bench's own network costs and assignment alone (no peers), twice, on a workspace folder.

``python -m bench.evacuation_assign_probe bench/cache/prefecture``: prints network seconds, then per run the
assignment's wall and CPU seconds with its summary and the load average. A quick probe between full ``evacuation`` runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main(folder: str) -> None:
    """Run the probe on ``folder`` (holding ``workspace.gpkg``)."""
    import pyogrio

    from bench.cases.evacuation import K, _network
    from gis.flood.assign import assign
    from gis.tallies import leaf_grids

    gpkg = Path(folder) / "workspace.gpkg"
    roads, grids, shelters = (pyogrio.read_dataframe(gpkg, layer=n, use_arrow=True)
                              for n in ("roads", "grids", "shelters"))
    c0, t0 = time.process_time(), time.perf_counter()
    _, costs, *_ = _network(roads, grids, shelters, K)
    print(f"network {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU", flush=True)
    demand = leaf_grids(grids)[["grid_id", "township", "population", "vulnerable"]]
    for _ in range(2):
        c0, t0 = time.process_time(), time.perf_counter()
        s = assign(demand, shelters, costs).summary
        print(f"assign {time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU",
              {k: s.get(k) for k in ("people_placed", "person_km", "optimal", "k_tried", "pricing_rounds", "arcs")},
              "load", os.getloadavg(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/cache/prefecture")
