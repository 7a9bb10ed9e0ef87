"""One flood scenario object for the Flood page, the command line and saved scenarios.

A :class:`FloodScenario` holds everything a plan depends on besides the workspace's layers: where the
water comes from (a water level over the DEM, a depth raster, danger-zone polygons, the workspace's own
flood-hazard layer), how streams are found, which grids must move, how roads and walks are treated,
what the assignment minimises and the minimum-needs rates. It is built alike from the page's widgets
(:meth:`FloodScenario.from_params`), from command-line flags (:meth:`FloodScenario.from_args`) and from
a saved scenario (its ``params``), and runs in steps that each can be cached on their own inputs:

1. :meth:`FloodInputs.terrain` — the DEM on the analysis frame's terrain grid;
2. :meth:`FloodInputs.hand` — HAND for a stream definition;
3. :meth:`FloodScenario.hazard` — the flood for this scenario;
4. :meth:`FloodScenario.run` — the plan (:func:`gis.flood.plan.evacuation_plan`).

:class:`FloodInputs` are the workspace's layers, read once (:meth:`FloodInputs.from_workspace` for the
command line; the page builds them from its cached layers).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gis.flood.exposure import EvacuationRule
from gis.flood.hand import DEFAULT_MIN_UPSTREAM_KM2, hand
from gis.flood.hazard import DEFAULT_THRESHOLDS, Hazard, check_overlap, hazard_from_file, parse_thresholds
from gis.flood.homes import Homes, home_points
from gis.flood.needs import parse_rates
from gis.flood.plan import Plan, PlanOptions, evacuation_plan
from gis.flood.roads import PASSABLE_DEPTH_M
from gis.flood.walking import WALK_LIMIT_M
from gis.projection import TERRAIN_CELL_M, AnalysisFrame, lonlat_extent
from gis.townships import stamp_townships
from layers.errors import AnalysisRefused, LayerError, problem
from layers.raster import Raster
from layers.text import Text, stage_scenario

if TYPE_CHECKING:
    from layers.load import CoordOptions

__all__ = ["FloodScenario", "FloodInputs", "SOURCES", "FLAGS", "add_arguments"]

#: scenario field -> its command-line flag (``python -m gis plan``); the Flood page has a widget for each
FLAGS = {"source": "--hazard/--stage", "stage_m": "--stage", "hazard_file": "--hazard", "streams": "--streams",
         "min_upstream_km2": "--min-upstream-km2", "thresholds": "--thresholds", "min_depth": "--min-depth",
         "min_share": "--min-share", "basis": "--rule", "passable_m": "--passable-depth",
         "shelter_flood_m": "--shelter-flood-depth", "weight": "--weight", "cut_roads": "--keep-flooded-roads",
         "walk_limit_km": "--walk-limit-km", "terrain_cell_m": "--terrain-cell-m", "rates": "--rates",
         "days": "--days", "name": "--name"}

#: where the water comes from
SOURCES = ("stage", "raster", "polygons", "workspace")
#: the vector layers a plan reads
PLAN_KINDS = ("grids", "shelters", "roads", "rivers", "buildings", "villages", "flood_hazard", "boundaries")


@dataclass
class FloodInputs:
    """The workspace's layers a flood plan reads (any may be missing but grids and shelters).

    Attributes
    ----------
    layers : dict
        kind -> GeoDataFrame (``grids``, ``shelters``, ``roads``, ``rivers``, ``buildings``, ``villages``,
        ``flood_hazard``).
    dem : Raster or None
        The workspace's DEM.
    population : Raster or None
        People per cell (optional).
    source : str
        How messages name the workspace.
    notes : list of Text
        What reading the layers did (e.g. townships taken from the boundaries layer).
    """

    layers: dict[str, gpd.GeoDataFrame]
    dem: Raster | None = None
    population: Raster | None = None
    source: str = ""
    notes: list[Text] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_workspace(cls, ws: Any, *, population: Raster | None = None) -> FloodInputs:
        """Read the layers from a :class:`layers.workspace.Workspace` (or a PostGIS store with its folder)."""
        kinds = set(ws.vector_kinds())
        missing = [k for k in ("grids", "shelters") if k not in kinds]
        if missing:
            raise AnalysisRefused(problem(f"工作空间缺少图层：{'、'.join(missing)}",
                                          f"the workspace lacks: {', '.join(missing)}",
                                          "先导入转移避险网格和避灾安置场所",
                                          "import the transfer grids and shelters first",
                                          file=getattr(getattr(ws, "gpkg", None), "name", None)))
        layers = {k: ws.vector(k) for k in PLAN_KINDS if k in kinds}
        notes: list[Text] = []
        if "boundaries" in layers:   # per-township tables count what the boundaries outline
            layers, notes = stamp_townships(layers)
        dem = ws.raster("dem") if "dem" in ws.raster_kinds() else None
        return cls(layers, dem=dem, population=population, source=str(getattr(ws, "gpkg", "")), notes=notes)

    def get(self, kind: str) -> gpd.GeoDataFrame | None:
        """Layer ``kind`` or None."""
        return self.layers.get(kind)

    @property
    def frame(self) -> AnalysisFrame:
        """The analysis frame around the grids and shelters."""
        if "frame" not in self._cache:
            self._cache["frame"] = AnalysisFrame.around(self.layers["grids"], self.layers["shelters"])
        return self._cache["frame"]

    def terrain(self, cell_m: float = TERRAIN_CELL_M) -> tuple[Raster | None, list[Text]]:
        """The DEM on the frame's terrain grid (cells of ``cell_m`` or finer), and how it got there."""
        key = ("terrain", float(cell_m))
        if key not in self._cache:
            self._cache[key] = (None, []) if self.dem is None else self.frame.raster(
                self.dem, resampling="bilinear", cell_m=cell_m)
        return self._cache[key]

    def hand(self, *, streams: str = "upstream", min_upstream_km2: float = DEFAULT_MIN_UPSTREAM_KM2,
             cell_m: float = TERRAIN_CELL_M) -> Raster:
        """HAND on the terrain grid for one stream definition (computed once per definition)."""
        key = ("hand", streams, float(min_upstream_km2), float(cell_m))
        if key not in self._cache:
            dem, notes = self.terrain(cell_m)
            if dem is None:
                raise AnalysisRefused(problem("工作空间中没有 DEM（dem.tif），无法按水位计算",
                                              "the workspace has no DEM (dem.tif) for a water level",
                                              "导入 DEM，或改用水深栅格或危险区",
                                              "import a DEM, or use a depth raster or danger zones",
                                              file=Path(self.source).name or None))
            rivers = self.get("rivers") if streams == "rivers" else None
            if streams == "rivers" and (rivers is None or not len(rivers)):
                raise AnalysisRefused(problem("按河流图层取河道，但工作空间没有河流图层",
                                              "streams from the river layer, but the workspace has no rivers",
                                              "导入河流图层，或按汇流面积取河道",
                                              "import the rivers, or take streams from the upstream area"))
            h = hand(dem, rivers=rivers, min_upstream_km2=None if streams == "rivers" else min_upstream_km2)
            h.warnings = list(notes) + list(h.warnings)
            self._cache[key] = h
        return self._cache[key]

    def homes(self) -> Homes | None:
        """Where people live: buildings, else the population raster, else village points."""
        if "homes" not in self._cache:
            self._cache["homes"] = home_points(buildings=self.get("buildings"), population=self.population,
                                               villages=self.get("villages"))
        return self._cache["homes"]

    def lonlat(self) -> tuple[float, float, float, float] | None:
        """Lon/lat extent of the grids (uploads are read against it)."""
        return lonlat_extent(self.layers["grids"])


@dataclass(frozen=True)
class FloodScenario:
    """A flood scenario and every option of its plan.

    Attributes
    ----------
    source : {'stage', 'raster', 'polygons', 'workspace'}
        A water level over HAND, an uploaded depth raster, uploaded danger zones, or the workspace's
        flood-hazard layer.
    stage_m : float
        Water level above the streams, metres (``stage``).
    hazard_file : str or None
        The depth raster or danger-zone file (``raster`` / ``polygons``).
    streams : {'upstream', 'rivers'}
        Streams from an upstream area (``min_upstream_km2``) or from the rivers layer.
    min_upstream_km2 : float
        Upstream area that makes a stream, km².
    thresholds : tuple of float
        Depth classes, metres.
    min_depth : float or None
        Depth that counts for evacuation (default the lowest threshold).
    min_share : float
        Share of homes (or of the area, where a grid has none) that must be reached.
    basis : {'homes', 'area'}
        Judge grids by their homes (default) or by their area.
    passable_m : float
        Roads this deep are cut; water this deep is not walked into.
    shelter_flood_m : float
        A shelter in deeper water is unusable.
    weight : {'length', 'time'}
        What the assignment minimises.
    cut_roads : bool
        Cut flooded roads (False: a pre-emptive transfer on the whole network).
    walk_limit_km : float
        Longest walking leg.
    terrain_cell_m : float
        Cell of the terrain grid (HAND, walking): a coarser DEM is interpolated onto it.
    rates : tuple of (str, float)
        Minimum-needs rates that differ from the defaults.
    days : int
        Days of supply.
    name : str or None
        A name given by the user (default: from the source).
    """

    source: str = "stage"
    stage_m: float = 2.0
    hazard_file: str | None = None
    streams: str = "upstream"
    min_upstream_km2: float = DEFAULT_MIN_UPSTREAM_KM2
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    min_depth: float | None = None
    min_share: float = 0.0
    basis: str = "homes"
    passable_m: float = PASSABLE_DEPTH_M
    shelter_flood_m: float = 0.0
    weight: str = "length"
    cut_roads: bool = True
    walk_limit_km: float = WALK_LIMIT_M / 1000
    terrain_cell_m: float = TERRAIN_CELL_M
    rates: tuple[tuple[str, float], ...] = ()
    days: int = 3
    name: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.source not in SOURCES:
            problems.append(problem(f"未知的情景来源：{self.source}", f"unknown scenario source: {self.source}",
                                    f"可选：{'、'.join(SOURCES)}", f"one of: {', '.join(SOURCES)}"))
        if self.source == "stage" and not (math.isfinite(self.stage_m) and self.stage_m > 0):
            problems.append(problem(f"水位 {self.stage_m} 无效", f"invalid stage {self.stage_m}", "输入大于 0 的米数",
                                    "give a positive number of metres"))
        if self.streams not in ("upstream", "rivers"):
            problems.append(problem(f"未知的河道来源：{self.streams}", f"unknown stream source: {self.streams}",
                                    "upstream 或 rivers", "upstream or rivers"))
        if not (math.isfinite(self.min_upstream_km2) and self.min_upstream_km2 > 0):
            problems.append(problem(f"汇流面积阈值 {self.min_upstream_km2} 无效",
                                    f"invalid upstream area {self.min_upstream_km2}", "输入大于 0 的平方千米数",
                                    "give a positive area in km²"))
        if not 0.0 <= self.min_share <= 1.0:
            problems.append(problem(f"比例 {self.min_share} 应在 0–1 之间",
                                    f"the share {self.min_share} must be within 0-1",
                                    "如 0.1", "e.g. 0.1"))
        if self.basis not in ("homes", "area"):
            problems.append(problem(f"未知的转移判断依据：{self.basis}", f"unknown evacuation basis: {self.basis}",
                                    "homes 或 area", "homes or area"))
        if self.weight not in ("length", "time"):
            problems.append(problem(f"未知的优化目标：{self.weight}", f"unknown weight: {self.weight}",
                                    "length 或 time", "length or time"))
        if not (math.isfinite(self.walk_limit_km) and 0 < self.walk_limit_km <= 30):
            problems.append(problem(f"步行限度 {self.walk_limit_km} 公里无效", f"invalid walking limit "
                                    f"{self.walk_limit_km} km", "输入 0–30 之间的公里数，如 3", "give 0-30 km, e.g. 3"))
        if not (math.isfinite(self.terrain_cell_m) and 1 <= self.terrain_cell_m <= 1000):
            problems.append(problem(f"地形网格 {self.terrain_cell_m} 米无效",
                                    f"invalid terrain cell {self.terrain_cell_m} m",
                                    "输入 1–1000 之间的米数，如 30", "give 1-1000 m, e.g. 30"))
        if not (math.isfinite(self.passable_m) and self.passable_m > 0):
            problems.append(problem(f"可通行水深 {self.passable_m} 无效", f"invalid passable depth {self.passable_m}",
                                    "输入大于 0 的米数，如 0.3", "give a positive depth, e.g. 0.3"))
        if self.days < 0:
            problems.append(problem(f"天数 {self.days} 无效", f"invalid days {self.days}", "输入不小于 0 的整数",
                                    "give a whole number >= 0"))
        if problems:
            raise LayerError(problems)
        object.__setattr__(self, "thresholds", tuple(parse_thresholds(self.thresholds)))

    # ---- building ---------------------------------------------------------------------------------------
    def to_params(self) -> dict:
        """Plain values (a saved scenario's ``params``; JSON-able)."""
        d = asdict(self)
        d["thresholds"] = list(self.thresholds)
        d["rates"] = [list(r) for r in self.rates]
        return d

    @classmethod
    def from_params(cls, params: dict) -> FloodScenario:
        """From a saved scenario's or the page's ``params`` (unknown keys ignored; older saves understood)."""
        p = dict(params)
        if "stage" in p and "stage_m" not in p:   # saves made before the scenario object
            p["stage_m"] = p.pop("stage")
        if isinstance(p.get("thresholds"), str):
            p["thresholds"] = parse_thresholds(p["thresholds"])
        p.pop("min_cells", None)
        if "rates" in p:
            p["rates"] = tuple(tuple(r) for r in (p["rates"] or ()))
        if "thresholds" in p:
            p["thresholds"] = tuple(p["thresholds"])
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in p.items() if k in names and v is not None})

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> FloodScenario:
        """From the flags :func:`add_arguments` declares."""
        if (args.hazard is None) == (args.stage is None):
            raise LayerError(problem("请给出 --hazard 或 --stage（二选一）", "give either --hazard or --stage",
                                     "--hazard 为水深栅格或危险区文件；--stage 为水位（米），用工作空间的 DEM 计算",
                                     "--hazard is a depth raster or danger zones; --stage is a water level in metres "
                                     "on the workspace DEM"))
        if args.hazard is not None:
            from layers.load import is_raster_file

            source = "raster" if is_raster_file(Path(args.hazard)) else "polygons"   # .asc, .hgt.zip, zips too
        else:
            source = "stage"
        return cls(source=source, stage_m=args.stage if args.stage is not None else 2.0, hazard_file=args.hazard,
                   streams=args.streams, min_upstream_km2=args.min_upstream_km2,
                   thresholds=parse_thresholds(args.thresholds), min_depth=args.min_depth, min_share=args.min_share,
                   basis=args.rule, passable_m=args.passable_depth, shelter_flood_m=args.shelter_flood_depth,
                   weight=args.weight, cut_roads=not args.keep_flooded_roads, walk_limit_km=args.walk_limit_km,
                   terrain_cell_m=args.terrain_cell_m,
                   rates=tuple(sorted((parse_rates(args.rates) or {}).items())), days=args.days, name=args.name)

    def with_(self, **changes: Any) -> FloodScenario:
        """A copy with some options changed."""
        return replace(self, **changes)

    # ---- what it says ------------------------------------------------------------------------------------
    @property
    def label(self) -> Text:
        """The scenario's name for people."""
        if self.name:
            return Text(self.name, self.name)
        if self.source == "stage":
            return stage_scenario(self.stage_m)
        if self.source == "workspace":
            return Text("工作空间洪水风险图层", "the workspace's flood hazard layer", "workspace")
        stem = Path(self.hazard_file or "").stem
        return Text(stem, stem)

    def rule(self) -> EvacuationRule:
        """The evacuation rule."""
        return EvacuationRule(min_depth=self.min_depth, min_share=self.min_share, basis=self.basis)

    def options(self) -> PlanOptions:
        """The plan's options."""
        return PlanOptions(thresholds=self.thresholds, rule=self.rule(), passable_m=self.passable_m,
                           shelter_flood_m=self.shelter_flood_m, weight=self.weight, cut_roads=self.cut_roads,
                           walk_limit_m=self.walk_limit_km * 1000, rates=dict(self.rates) or None, days=self.days)

    # ---- steps -------------------------------------------------------------------------------------------
    def hazard(self, inputs: FloodInputs, *, hand_raster: Raster | None = None,
               coords: CoordOptions | None = None) -> Hazard:
        """The flood of this scenario (a file is read against the workspace's extent, with the user's
        coordinate options ``coords``: the upload's 坐标系 / CRS box).

        Raises
        ------
        AnalysisRefused
            A scenario that floods nothing of the grids, or no DEM for a water level.
        LayerError
            A file that cannot be read as a depth raster or danger zones.
        """
        if self.source == "stage":
            h = hand_raster if hand_raster is not None else inputs.hand(
                streams=self.streams, min_upstream_km2=self.min_upstream_km2, cell_m=self.terrain_cell_m)
            dem, _ = inputs.terrain(self.terrain_cell_m)
            return Hazard.from_stage(dem, self.stage_m, hand=h, name=self.label.zh if not self.name else self.name)
        if self.source == "workspace":
            hz_layer = inputs.get("flood_hazard")
            if hz_layer is None or not len(hz_layer):
                raise AnalysisRefused(problem("工作空间没有洪水风险图层", "the workspace has no flood hazard layer",
                                              "在数据页导入洪水风险图层，或选择其他情景来源",
                                              "import one on the Data page, or choose another source"))
            hz = Hazard.from_polygons(hz_layer, source="flood_hazard", name=self.label.zh)
        else:
            if not self.hazard_file:
                raise LayerError(problem("没有情景文件", "no scenario file", "上传水深栅格或危险区文件",
                                         "upload a depth raster or danger zones"))
            hz = hazard_from_file(Path(self.hazard_file), near=inputs.lonlat(), name=self.name,
                                  raster=self.source == "raster", coords=coords)
        hz.notes = list(check_overlap(hz, inputs.layers["grids"])) + list(hz.notes)
        return hz

    def run(self, inputs: FloodInputs, *, hazard: Hazard | None = None) -> Plan:
        """The evacuation plan of this scenario on ``inputs``."""
        hz = hazard if hazard is not None else self.hazard(inputs)
        dem, _ = inputs.terrain(self.terrain_cell_m)
        return evacuation_plan(inputs.layers["grids"], inputs.layers["shelters"], hz, roads=inputs.get("roads"),
                               dem=dem, rivers=inputs.get("rivers"), homes=inputs.homes() if self.basis == "homes"
                               else None, options=self.options(), frame=inputs.frame)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of a flood scenario (``python -m gis plan`` and ``exposure``): one per option of the page."""
    p.add_argument("--hazard", help="depth raster (metres; centimetres detected) or danger-zone polygons")
    p.add_argument("--stage", type=float, help="water level above the nearest drainage, metres (HAND screening)")
    p.add_argument("--streams", choices=("upstream", "rivers"), default="upstream",
                   help="streams for --stage: from an upstream area (default) or from the workspace's rivers layer")
    p.add_argument("--min-upstream-km2", type=float, default=DEFAULT_MIN_UPSTREAM_KM2,
                   help=f"upstream area that makes a stream, km² (default {DEFAULT_MIN_UPSTREAM_KM2:g})")
    p.add_argument("--thresholds", default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS),
                   help="depth class limits in metres")
    p.add_argument("--rule", choices=("homes", "area"), default="homes",
                   help="who must move: where the water reaches the grid's homes (buildings, populated cells or "
                        "village points; default), or any part of its area")
    p.add_argument("--min-depth", type=float, default=None,
                   help="depth that counts, metres (default the lowest threshold)")
    p.add_argument("--min-share", type=float, default=0.0,
                   help="share (0-1) of homes (or of the area) that must be reached (default 0: any)")
    p.add_argument("--passable-depth", type=float, default=PASSABLE_DEPTH_M,
                   help=f"roads this deep are cut and water this deep is not walked into, metres "
                        f"(default {PASSABLE_DEPTH_M:g})")
    p.add_argument("--shelter-flood-depth", type=float, default=0.0,
                   help="a shelter standing in deeper water is unusable, metres (default 0: any water)")
    p.add_argument("--weight", choices=("length", "time"), default="length",
                   help="what the assignment minimises per person: distance (default) or travel time")
    p.add_argument("--walk-limit-km", type=float, default=WALK_LIMIT_M / 1000,
                   help=f"longest walking leg, km (default {WALK_LIMIT_M / 1000:g}); beyond it no shelter is reachable")
    p.add_argument("--terrain-cell-m", type=float, default=TERRAIN_CELL_M,
                   help=f"cell of the terrain grid for HAND and walking, metres (default {TERRAIN_CELL_M:g}): "
                        "a coarser DEM is interpolated onto it, so a DEM in degrees or in metres gives the same plan")
    p.add_argument("--keep-flooded-roads", action="store_true",
                   help="plan a pre-emptive transfer on the whole road network (default: flooded roads are cut)")
    p.add_argument("--rates", default=None,
                   help="minimum-needs rates, e.g. rice_kg=0.5,drinking_l=4,clean_l=15,family_kits=4,toilets=20 "
                        "(daily items per person per day; kits and toilets: persons per unit)")
    p.add_argument("--days", type=int, default=3, help="days of supply for the daily items (default 3)")
    p.add_argument("--name", default=None, help="scenario name (default: from the water level or the file)")
