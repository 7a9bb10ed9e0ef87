"""Which transfer grids a warning covers: townships, villages, grid ids, a saved flood plan, a drawn polygon, or all.

The people are in the leaf grids (:func:`gis.tallies.leaf_grids`); a grid id of any level stands
for the leaf grids under it. A saved plan is the folder (or ``plan.gpkg``) written by ``python -m
gis plan`` or downloaded from the Flood page: its grids to evacuate, their people to move
(``evacuate_people``), and its routes and shelters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.tallies import leaf_grids
from layers.errors import AnalysisRefused, LayerError, Problem
from layers.text import Text

__all__ = ["Area", "PlanFiles", "choose_area", "read_plan", "MODES"]

MODES = ("townships", "villages", "grids", "plan", "polygon", "all")


@dataclass
class PlanFiles:
    """The parts of a saved flood plan a warning uses (EPSG:4490).

    Attributes
    ----------
    grids : GeoDataFrame
        The plan's grids to evacuate (``grid_id``, ``evacuate_people`` or ``population``...).
    routes : GeoDataFrame
        ``grid_id``, ``shelter_id``, ``people``, ``distance_km``, ``time_min``, ``method``, line.
    shelters : GeoDataFrame
        ``shelter_id``, ``usable``, ``reason``, ...
    source : str
        File name.
    """

    grids: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    source: str


@dataclass
class Area:
    """The leaf grids a warning covers.

    Attributes
    ----------
    grids : GeoDataFrame
        Leaf grids (catalogue fields, EPSG:4490) with ``people`` (to move: the grid's population,
        or the plan's people to evacuate) and ``planned_shelter`` (shelter id or None).
    mode : str
        One of :data:`MODES`.
    spec : dict
        What was given (kept with the warning).
    routes : GeoDataFrame or None
        The plan's routes of these grids.
    unusable : dict
        Shelter id -> why the plan found it unusable.
    notes : list of Text
    """

    grids: gpd.GeoDataFrame
    mode: str
    spec: dict
    routes: gpd.GeoDataFrame | None = None
    unusable: dict = field(default_factory=dict)
    notes: list[Text] = field(default_factory=list)


def read_plan(path: str | Path) -> PlanFiles:
    """Read a saved flood plan: a folder holding ``plan.gpkg``, or that file.

    Raises
    ------
    LayerError
        No ``plan.gpkg``, or it lacks the ``grids`` layer.
    """
    import pyogrio

    p = Path(path)
    gpkg = p / "plan.gpkg" if p.is_dir() else p
    if not gpkg.is_file():
        raise LayerError(Problem(f"找不到转移方案文件：{gpkg.name}", f"no flood plan file: {gpkg.name}",
                                 "给出 python -m gis plan --out 的输出文件夹，或洪涝页面下载的 GeoPackage",
                                 "give the folder written by python -m gis plan --out, or the GeoPackage downloaded "
                                 "from the Flood page", file=gpkg.name))
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same problem for the user
        raise LayerError(Problem("转移方案文件无法读取", "the plan file cannot be read", "重新导出转移方案",
                                 "export the plan again", file=gpkg.name)) from e
    if "grids" not in names:
        raise LayerError(Problem("转移方案文件中没有 grids 图层", "the plan file has no 'grids' layer",
                                 "给出 python -m gis plan 写出的 plan.gpkg", "give the plan.gpkg written by python -m "
                                 "gis plan", file=gpkg.name))

    def layer(name: str) -> gpd.GeoDataFrame:
        if name not in names:
            return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4490)
        g = pyogrio.read_dataframe(gpkg, layer=name)
        return g.to_crs(4490) if g.crs is not None else g.set_crs(4490)

    grids, routes, shelters = layer("grids"), layer("routes"), layer("shelters")
    for g, col in ((grids, "grid_id"), (routes, "grid_id"), (routes, "shelter_id"), (shelters, "shelter_id")):
        if col in g:
            g[col] = g[col].astype(str)
    return PlanFiles(grids, routes, shelters, gpkg.name)


def _descendants(grids: gpd.GeoDataFrame, ids: set[str]) -> set[str]:
    """The grids ``ids`` and every grid under them (by ``parent_id``)."""
    if "parent_id" not in grids:
        return set(ids)
    parent = grids["parent_id"].astype(object).where(grids["parent_id"].notna(), None).astype(str)
    gid = grids["grid_id"].astype(str)
    out, frontier = set(ids), set(ids)
    for _ in range(10):
        nxt = set(gid[parent.isin(frontier)]) - out
        if not nxt:
            break
        out |= nxt
        frontier = nxt
    return out


def _shelter_ids(grids: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame | None) -> pd.Series:
    """Planned shelter id per grid from its ``shelter`` field (a shelter name, or names joined by 、)."""
    if shelters is None or not len(shelters) or "shelter" not in grids:
        return pd.Series([None] * len(grids), index=grids.index, dtype=object)
    by_name = dict(zip(shelters["name"].astype(str), shelters["shelter_id"].astype(str))) if "name" in shelters else {}
    ids = set(shelters["shelter_id"].astype(str))

    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        first = str(v).replace(";", "、").replace(",", "、").split("、")[0].strip()
        return by_name.get(first) or (first if first in ids else None)

    values = grids["shelter"].astype(object)
    found = {v: one(v) for v in pd.unique(values.dropna())}      # a few hundred names for tens of thousands of grids
    return values.map(found).astype(object).where(values.notna(), None)


def choose_area(grids: gpd.GeoDataFrame, *, shelters: gpd.GeoDataFrame | None = None,
                townships: list[str] | None = None, villages: list[str] | None = None,
                grid_ids: list[str] | None = None, plan: PlanFiles | None = None,
                polygon: shapely.Geometry | None = None, everything: bool = False) -> Area:
    """The leaf grids covered by exactly one way of choosing.

    Parameters
    ----------
    grids : GeoDataFrame
        The workspace's transfer grids (all levels, EPSG:4490).
    shelters : GeoDataFrame, optional
        Shelters (for the grids' planned shelter when not from a plan).
    townships, villages : list of str, optional
        Names (villages: ``村名`` or ``乡镇/村名``).
    grid_ids : list of str, optional
        Grid ids of any level (their leaf grids are covered).
    plan : PlanFiles, optional
        A saved plan (:func:`read_plan`).
    polygon : shapely geometry, optional
        An area in lon/lat (EPSG:4490): leaf grids whose interior point lies in it.
    everything : bool
        Every leaf grid.

    Raises
    ------
    AnalysisRefused
        None or several ways given; unknown township, village or grid; nothing covered.
    """
    given = [k for k, v in (("townships", townships), ("villages", villages), ("grids", grid_ids), ("plan", plan),
                            ("polygon", polygon), ("all", everything or None)) if v]
    if len(given) != 1:
        raise AnalysisRefused(Problem("请用一种方式选择预警范围（乡镇、村、网格、转移方案、地图圈选或全部）",
                                      "choose the warning's area one way (townships, villages, grids, a plan, a "
                                      "polygon, or all)", "如 --township 城关镇，或 --all",
                                      "e.g. --township 城关镇, or --all", field="area"))
    mode = given[0]
    g = grids.copy()
    g["grid_id"] = g["grid_id"].astype(str)
    leaves = leaf_grids(g)
    notes: list[Text] = []
    spec: dict = {"mode": mode}
    routes = None
    unusable: dict = {}
    people = pd.to_numeric(leaves.get("population"), errors="coerce")
    # each mode is the one argument given (non-empty): narrow it from Optional
    if mode == "townships":
        assert townships is not None
        want = [str(t).strip() for t in townships if str(t).strip()]
        have = set(leaves.get("township", pd.Series(dtype=object)).dropna().astype(str))
        _unknown([t for t in want if t not in have], sorted(have), "乡镇", "township", "--township")
        chosen = leaves[leaves["township"].astype(str).isin(want)]
        spec["townships"] = want
    elif mode == "villages":
        assert villages is not None
        want = [str(v).strip() for v in villages if str(v).strip()]
        full = leaves.get("township", "").astype(str) + "/" + leaves.get("village", "").astype(str)
        short = leaves.get("village", pd.Series("", index=leaves.index)).astype(str)
        have = set(full) | set(short)
        _unknown([v for v in want if v not in have], sorted(set(short)), "村", "village", "--village")
        chosen = leaves[full.isin(want) | short.isin(want)]
        spec["villages"] = want
    elif mode == "grids":
        assert grid_ids is not None
        want = [str(i).strip() for i in grid_ids if str(i).strip()]
        _unknown([i for i in want if i not in set(g["grid_id"])], [], "网格", "grid", "--grids")
        chosen = leaves[leaves["grid_id"].isin(_descendants(g, set(want)))]
        spec["grids"] = want
    elif mode == "polygon":
        pts = leaves.geometry.representative_point()
        chosen = leaves[shapely.contains_xy(polygon, pts.x.to_numpy(), pts.y.to_numpy())] if len(leaves) else leaves
        spec["polygon"] = shapely.to_wkt(polygon, rounding_precision=6)
    elif mode == "plan":
        assert plan is not None
        pg = plan.grids
        if "evacuate" in pg:
            pg = pg[pg["evacuate"].map(lambda v: str(v).lower() in ("1", "true", "yes", "是"))]
        missing = sorted(set(pg["grid_id"]) - set(leaves["grid_id"]))
        if missing:
            notes.append(Text(f"方案中有 {len(missing)} 个网格不在当前工作空间的末级网格中，"
                              f"未纳入预警（如 {missing[0]}）",
                              f"{len(missing)} grids of the plan are not leaf grids of this workspace and were left "
                              f"out (e.g. {missing[0]})", "plan_grids_missing"))
        chosen = leaves[leaves["grid_id"].isin(set(pg["grid_id"]))]
        col = "evacuate_people" if "evacuate_people" in pg else "population"
        if col in pg:
            plan_people = pd.to_numeric(pg.set_index("grid_id")[col], errors="coerce")
            people = chosen["grid_id"].map(plan_people.groupby(level=0).first()).fillna(
                pd.to_numeric(chosen.get("population"), errors="coerce"))
            people.index = chosen.index
        routes = plan.routes[plan.routes["grid_id"].isin(set(chosen["grid_id"]))] if "grid_id" in plan.routes \
            else None
        if "usable" in plan.shelters and "shelter_id" in plan.shelters:
            bad = plan.shelters[~plan.shelters["usable"].map(lambda v: str(v).lower() in ("1", "true", "yes", "是"))]
            unusable = dict(zip(bad["shelter_id"].astype(str),
                                bad.get("reason", pd.Series("", index=bad.index)).fillna("").astype(str)))
        spec["plan"] = plan.source
    else:
        chosen = leaves
    if not len(chosen):
        raise AnalysisRefused(Problem("所选范围内没有末级转移网格", "the area chosen holds no leaf transfer grid",
                                      "换一个范围", "choose another area", field="area"))
    out = chosen.copy()
    out["people"] = pd.to_numeric(people.reindex(out.index), errors="coerce").fillna(0).round().astype("int64")
    if routes is not None and len(routes):
        main = (routes.assign(people=pd.to_numeric(routes["people"], errors="coerce").fillna(0))
                .sort_values("people", ascending=False).drop_duplicates("grid_id").set_index("grid_id")["shelter_id"])
        out["planned_shelter"] = out["grid_id"].map(main)
    else:
        out["planned_shelter"] = _shelter_ids(out, shelters)
    no_pop = int(pd.to_numeric(chosen.get("population"), errors="coerce").isna().sum())
    if no_pop:
        notes.append(Text(f"{no_pop} 个网格没有人口数，按 0 人计入（请补充）", f"{no_pop} grids have no population; "
                          "counted as 0 (fill it in)", "grids_no_population"))
    return Area(out, mode, spec, routes, unusable, notes)


def _unknown(bad: list[str], known: list[str], zh: str, en: str, flag: str) -> None:
    if not bad:
        return
    some = "、".join(known[:12]) + ("……" if len(known) > 12 else "")
    raise AnalysisRefused([Problem(f"工作空间中没有{zh}“{b}”", f"the workspace has no {en} '{b}'",
                                   f"可用：{some}" if known else "核对名称或编号",
                                   f"known: {', '.join(known[:12])}" if known else "check the name or id", field=flag)
                           for b in bad])
