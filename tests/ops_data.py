"""Tiny synthetic workspaces for the operations tests (warnings, call-out, report-back, check-in, dispatch).

``tiny()``: one county, two townships, two villages, four leaf grids (140 people), three shelters,
two depots and a few roads, with a shared phone (the head of village V1 also answers for group G12),
a grid without a phone and a village head in the villages layer. ``big(n)``: a flat hierarchy with
``n`` household grids of 10 people each (for the concurrency tests). ``worker``: one writer process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

X0, Y0 = 119.40, 28.20


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def tiny_layers() -> dict[str, gpd.GeoDataFrame]:
    """The layers of the tiny county (EPSG:4490, catalogue fields)."""
    # grid_id, name, level, parent, township, village, responsible, phone, households, people, vulnerable, shelter, box
    rows = [
        ("C", "县网格", "county", None, None, None, "县长", "13900000000", 45, 140, 14, None, (0, 0, .2, .2)),
        ("T1", "一乡网格", "township", "C", "一乡", None, "乡一", "13900000001", 29, 90, 9, None, (0, 0, .1, .2)),
        ("T2", "二乡网格", "township", "C", "二乡", None, "乡二", "13900000002", 16, 50, 5, None, (.1, 0, .2, .2)),
        ("V1", "甲村网格", "village", "T1", "一乡", "甲村", "村甲", "139-0000-0011", 29, 90, 9, None, (0, 0, .1, .1)),
        ("V2", "乙村网格", "village", "T2", "二乡", "乙村", "村乙", "13900000021", 16, 50, 5, None, (.1, 0, .2, .1)),
        ("G11", "甲村1组", "group", "V1", "一乡", "甲村", "组一", "13900000111", 16, 50, 5, None, (0, 0, .05, .05)),
        ("G12", "甲村2组", "group", "V1", "一乡", "甲村", "村甲", "13900000011", 13, 40, 4, "二号场所",
         (.05, 0, .1, .05)),
        ("G21", "乙村1组", "group", "V2", "二乡", "乙村", "组三", "13900000211", 16, 50, 5, "三号场所",
         (.1, 0, .15, .05)),
        ("H111", "1组1号", "household", "G11", "一乡", "甲村", "户一", "13900001111", 10, 30, 3, "一号场所",
         (0, 0, .025, .05)),
        ("H112", "1组2号", "household", "G11", "一乡", "甲村", "户二", None, 6, 20, 2, "一号场所", (.025, 0, .05, .05)),
    ]
    cols = ["grid_id", "name", "level", "parent_id", "township", "village", "responsible", "phone", "households",
            "population", "vulnerable", "shelter"]
    grids = gpd.GeoDataFrame([r[:12] for r in rows], columns=cols, geometry=[_box(*r[12]) for r in rows], crs=4490)
    shelters = gpd.GeoDataFrame({
        "name": ["一号场所", "二号场所", "三号场所"], "shelter_id": ["S1", "S2", "S3"], "type": ["school"] * 3,
        "capacity": [60, 30, 100], "township": ["一乡", "一乡", "二乡"], "village": ["甲村", "甲村", "乙村"],
        "responsible": ["站一", "站二", "站三"], "phone": ["13700000001", "13700000002", "13700000003"],
        "status": ["available"] * 3},
        geometry=shapely.points([[X0 + .06, Y0 + .15], [X0 + .08, Y0 + .15], [X0 + .16, Y0 + .15]]), crs=4490)
    villages = gpd.GeoDataFrame({"name": ["甲村", "乙村"], "township": ["一乡", "二乡"], "village_id": ["V1", "V2"],
                                 "population": [90, 50], "responsible": ["村主任甲", "村乙"],
                                 "phone": ["13600000001", "13900000021"]},
                                geometry=shapely.points([[X0 + .05, Y0 + .05], [X0 + .15, Y0 + .05]]), crs=4490)
    depots = gpd.GeoDataFrame({"name": ["一号库", "二号库"], "depot_id": ["D1", "D2"], "township": ["一乡", "二乡"],
                               "rice_kg": [100.0, 40.0], "drinking_l": [500.0, 200.0], "tents": [2, 1],
                               "quilts": [50, 10], "family_kits": [10, 5], "status": ["available"] * 2},
                              geometry=shapely.points([[X0 + .02, Y0 + .18], [X0 + .18, Y0 + .18]]), crs=4490)
    ys = Y0 + .15
    roads = gpd.GeoDataFrame({"name": ["主路", "一号支路", "二号支路"], "road_class": ["county", "village", "village"],
                              "speed": [40.0, 20.0, 20.0]},
                             geometry=[shapely.LineString([(X0 + x, ys) for x in (0, .02, .06, .08, .16, .18, .2)]),
                                       shapely.LineString([(X0 + .02, ys), (X0 + .02, Y0 + .18)]),
                                       shapely.LineString([(X0 + .18, ys), (X0 + .18, Y0 + .18)])], crs=4490)
    return {"grids": grids, "shelters": shelters, "villages": villages, "depots": depots, "roads": roads}


def big_layers(n: int, *, people: int = 10) -> dict[str, gpd.GeoDataFrame]:
    """A flat hierarchy: county -> one township -> one village -> ``n`` household grids of ``people`` each."""
    k = int(np.ceil(np.sqrt(n)))
    d = 0.002
    ids = [f"H{i:05d}" for i in range(n)]
    rows = [("C", "县", "county", None, None, None, "县长", "13900000000", n * people),
            ("T", "乡", "township", "C", "一乡", None, "乡长", "13900000001", n * people),
            ("V", "村", "village", "T", "一乡", "甲村", "村长", "13900000002", n * people)]
    rows += [(g, f"户{i}", "household", "V", "一乡", "甲村", f"人{i}", f"138{i:08d}", people)
             for i, g in enumerate(ids)]
    geoms = [_box(0, 0, k * d, k * d)] * 3 + [_box((i % k) * d, (i // k) * d, (i % k + 1) * d, (i // k + 1) * d)
                                              for i in range(n)]
    grids = gpd.GeoDataFrame([r[:8] + (r[8] // 3, r[8], 0, "大场所") for r in rows],
                             columns=["grid_id", "name", "level", "parent_id", "township", "village", "responsible",
                                      "phone", "households", "population", "vulnerable", "shelter"],
                             geometry=geoms, crs=4490)
    shelters = gpd.GeoDataFrame({"name": ["大场所"], "shelter_id": ["S1"], "capacity": [n * people],
                                 "township": ["一乡"], "status": ["available"]},
                                geometry=shapely.points([[X0 - 0.01, Y0 - 0.01]]), crs=4490)
    return {"grids": grids, "shelters": shelters}


def write_workspace(folder: Path, layers: dict[str, gpd.GeoDataFrame]):
    """A workspace folder holding ``layers`` (written as generated data: no history)."""
    from layers.workspace import Workspace

    ws = Workspace(Path(folder))
    for kind, gdf in layers.items():
        ws.write_vector(kind, gdf)
    return ws


def load_postgis(store, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Load ``layers`` into a PostGIS store (validated like an import)."""
    for kind, gdf in layers.items():
        store.replace(kind, gdf, note="test", user="test")


def _officer(store_arg: str, schema: str, warning_id: str, index: int, writers: int, start_file: str) -> None:
    """One officer with their own store and record keeper (own connection): reports for its share of the grids,
    one-person check-ins at S1, acks of its share of contacts, once ``start_file`` exists."""
    import os

    from layers.events import OpsLog

    if store_arg.startswith("postgresql://"):
        from layers.postgis import PostGISStore

        store = PostGISStore(store_arg, schema=schema)
    else:
        from layers.workspace import Workspace

        store = Workspace(store_arg)
    log = OpsLog(store)
    snap = log.snapshot(warning_id)
    grids = snap.grids["grid_id"].tolist()[index::writers]
    contacts = snap.contacts["contact_id"].tolist()[index::writers]
    while not os.path.exists(start_file):
        time.sleep(0.01)
    for g in grids:
        log.report(warning_id, g, moved=7, refused=1, absent=1, user=f"w{index}")
        log.checkin(warning_id, "S1", people=1, user=f"w{index}")
    for c in contacts:
        log.acknowledge(warning_id, c, user=f"w{index}")


def worker(store_arg: str, schema: str, warning_id: str, process: int, processes: int, threads: int,
           start_file: str) -> None:
    """One writer process running ``threads`` officers at once (officer ``process * threads + t`` of
    ``processes * threads``), each on its own connection; raises if any officer failed."""
    import threading

    failed: list[BaseException] = []

    def run(index: int) -> None:
        try:
            _officer(store_arg, schema, warning_id, index, processes * threads, start_file)
        except BaseException as e:   # noqa: BLE001 - reported by the process's exit status
            failed.append(e)

    ts = [threading.Thread(target=run, args=(process * threads + t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if failed:
        raise failed[0]


if __name__ == "__main__":
    a = sys.argv[1:]
    worker(a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5]), a[6])
