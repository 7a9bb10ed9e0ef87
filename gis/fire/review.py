"""The forest-fire coverage review in one place: risk -> cameras -> water reach -> gaps -> tables.

Every step runs on one metric grid (the DEM, or its reprojection when it is in degrees), so the
masks line up cell for cell:

1. forest cells and the static risk levels (:func:`gis.fire.risk.risk_raster`); high-risk forest is
   ``level >= HIGH_RISK_LEVEL``;
2. camera coverage (:func:`gis.fire.viewshed.coverage`): how many cameras see each cell, the first that
   does, and per camera the forest and high-risk forest it sees;
3. water-source reach (:func:`gis.fire.water_reach.water_reach`) in the chosen season;
4. gaps: high-risk forest unseen, out of reach, or both, as ranked patches (:func:`gis.fire.gaps.coverage_gaps`);
5. tables per township, per camera and per source; optionally the day's weather danger level
   (:func:`gis.fire.weather.weather_level`) combined with the static levels (:func:`gis.fire.weather.day_risk`).

The page runs the steps one by one (each cached on its own inputs); :func:`fire_analysis` runs them
all for the command line and the reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.fire.risk import HIGH_RISK_LEVEL, RiskResult, forest_mask, risk_raster
from gis.fire.gaps import coverage_gaps, township_grid
from gis.terrain import cell_size_m, metric_grid
from gis.townships import township_outlines
from gis.fire.water_reach import ReachResult, water_reach
from layers.raster import Raster
from layers.text import Text

__all__ = ["FireOptions", "FireAnalysis", "fire_analysis", "risk_step", "camera_step", "reach_step", "gap_step",
           "township_table", "township_source", "camera_table", "weather_step", "TOTAL"]

_Note = tuple[str, str]
TOTAL = "合计/Total"
#: tally bits of the camera coverage
FOREST_BIT, HIGH_BIT = 1, 2


@dataclass(frozen=True)
class FireOptions:
    """Choices behind a review (all have documented defaults).

    Attributes
    ----------
    target_h : float
        Target height above ground for the cameras (0 m: the ground; 20 m: a smoke column).
    curvature : bool
        Earth curvature and refraction (k = 0.13) in the viewsheds.
    season : {'dry', 'wet'}
        Dry season drops seasonal water sources.
    weights : dict, optional
        Risk factor weights (see :data:`gis.fire.risk.DEFAULT_WEIGHTS`).
    rules : dict, optional
        Water reach rules per source type (see :data:`gis.fire.water_reach.DEFAULT_RULES`).
    max_road_distance_m : float, optional
        Ground water sources farther than this from a road are not counted.
    min_gap_ha : float
        Gap patches smaller than this are dropped (default 1 ha).
    weather : tuple, optional
        ``(max temperature °C, 14:00 relative humidity %, days without rain, max wind force)``
        for the day's danger level.
    """

    target_h: float = 0.0
    curvature: bool = True
    season: str = "dry"
    weights: dict | None = None
    rules: dict | None = None
    max_road_distance_m: float | None = None
    min_gap_ha: float = 1.0
    weather: tuple[float, float, float, float] | None = None


@dataclass
class FireAnalysis:
    """A whole review. Arrays lie on ``grid``."""

    grid: Raster
    forest: np.ndarray
    risk: RiskResult
    high_risk: np.ndarray
    seen: np.ndarray | None
    first_camera: np.ndarray | None
    reach: ReachResult | None
    gaps: gpd.GeoDataFrame
    townships: pd.DataFrame
    cameras: pd.DataFrame
    sources: pd.DataFrame
    weather: dict | None = None
    day_level: np.ndarray | None = None
    notes: list[_Note] = field(default_factory=list)
    options: FireOptions = field(default_factory=FireOptions)

    def messages(self, lang: str = "zh") -> list[str]:
        """The notes in one language."""
        i = 0 if lang == "zh" else 1
        return [n[i] for n in self.notes]


def _pair(note) -> _Note:
    if isinstance(note, tuple):
        return note
    zh, _, en = str(note).partition(" / ")
    return zh, en or zh


def risk_step(dem: Raster, layers: dict, weights: dict | None = None) -> tuple[Raster, np.ndarray, RiskResult,
                                                                              list[_Note]]:
    """The metric grid, forest cells and the static risk of ``layers['forest']``."""
    grid, notes = metric_grid(dem)
    forest = layers["forest"]
    mask = forest_mask(forest, grid)
    risk = risk_raster(grid, forest, roads=layers.get("roads"), settlements=layers.get("villages"),
                       graves=layers.get("graves"), weights=weights)
    return grid, mask, risk, list(notes) + [_pair(n) for n in risk.notes]


def camera_step(grid: Raster, cameras: gpd.GeoDataFrame, forest: np.ndarray, high: np.ndarray, *,
                target_h: float = 0.0, curvature: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         list[_Note]]:
    """(count, first camera, per-camera tallies (forest, high-risk cells seen), notes)."""
    from gis.fire.viewshed import coverage

    tally = (forest.astype(np.uint8) * FOREST_BIT) | (high.astype(np.uint8) * HIGH_BIT)
    count, first, notes, info = coverage(grid, cameras, target_h=target_h, curvature=curvature,
                                         return_in_range=True, tally=tally)
    return count, first, info["tallies"][:, :2], list(notes)


def reach_step(grid: Raster, sources: gpd.GeoDataFrame, forest: gpd.GeoDataFrame | Raster, risk_level: np.ndarray,
               *, season: str = "dry", rules: dict | None = None, roads: gpd.GeoDataFrame | None = None,
               max_road_distance_m: float | None = None) -> ReachResult:
    """Water reach of ``sources`` over the forest, with high-risk shares."""
    return water_reach(grid, sources, forest, rules=rules, season=season, roads=roads,
                       max_road_distance_m=max_road_distance_m if roads is not None else None,
                       high_risk=risk_level)


def township_source(layers: dict) -> tuple[gpd.GeoDataFrame | None, Text]:
    """The polygons the review counts townships by, and a note saying which.

    The ``boundaries`` layer's township outlines when it has them; else None: each forest cell
    takes the township field of the forest compartment it lies in (cells of a land-cover raster,
    or of compartments without a township, count under ``—``).
    """
    outlines = township_outlines(layers, fallback=())
    if outlines.from_boundaries:
        return outlines.gdf, Text(f"乡镇统计按行政区界图层的乡镇界（{len(outlines.names)} 个乡镇）",
                                  f"per-township figures follow the township outlines of the boundaries layer "
                                  f"({len(outlines.names)} townships)", "fire_towns_boundaries")
    return None, Text("没有乡镇级行政区界：乡镇统计按各林地小班的乡镇字段（不在小班内的林地计入“—”）",
                      "no township boundaries: per-township figures follow each forest compartment's township "
                      "field (forest outside the compartments counts under '—')", "fire_towns_forest")


def gap_step(grid: Raster, high: np.ndarray, seen: np.ndarray | None, reach: np.ndarray | None, layers: dict, *,
             min_gap_ha: float = 1.0) -> gpd.GeoDataFrame:
    """Ranked gap patches (see :func:`gis.fire.gaps.coverage_gaps`), named by :func:`township_source`."""
    forest = layers.get("forest") if isinstance(layers.get("forest"), gpd.GeoDataFrame) else None
    return coverage_gaps(grid, high, seen, reach, forest=forest, roads=layers.get("roads"),
                         sources=layers.get("water_sources"), townships_from=township_source(layers)[0],
                         min_area_m2=min_gap_ha * 1e4)


def weather_step(weather: tuple[float, float, float, float], risk_level: np.ndarray) -> tuple[dict, np.ndarray]:
    """The day's weather index and level, and the static levels combined with it."""
    from gis.fire.weather import LEVEL_COLOURS, LEVEL_LABELS, day_risk, weather_level

    index, level = weather_level(*[np.asarray([float(v)]) for v in weather])
    lv = int(level[0])
    day = np.asarray(day_risk(risk_level, lv), dtype=np.uint8)
    day[risk_level == 0] = 0
    return {"index": float(index[0]), "level": lv, "colour": LEVEL_COLOURS[lv], "label_zh": LEVEL_LABELS[lv][0],
            "label_en": LEVEL_LABELS[lv][1], "inputs": tuple(float(v) for v in weather)}, day


def township_table(grid: Raster, forest_layer, forest: np.ndarray, high: np.ndarray, seen: np.ndarray | None,
                   reach: np.ndarray | None, *, townships: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Per township (and in total): forest and high-risk area, the shares seen by ≥1 / ≥2 cameras and in water reach.

    Townships are the polygons of ``townships`` (column ``township``: the boundaries layer's, see
    :func:`township_source`), else the forest compartments' township field. Columns ``forest_ha``,
    ``high_ha``, ``seen_share``, ``seen2_share``, ``high_seen_share``, ``high_seen2_share``,
    ``reach_share``, ``high_reach_share``, ``both_gap_ha`` (high-risk forest neither seen nor in
    reach). Shares are NaN where the area is 0.
    """
    by = townships if townships is not None else forest_layer
    codes, names = township_grid(by if isinstance(by, gpd.GeoDataFrame) else None, grid)
    dx, dy = cell_size_m(grid)
    ha = dx * dy / 1e4
    n = len(names) + 1
    seen1 = seen >= 1 if seen is not None else np.zeros(forest.shape, bool)
    seen2 = seen >= 2 if seen is not None else np.zeros(forest.shape, bool)
    inreach = reach >= 1 if reach is not None else np.zeros(forest.shape, bool)

    def tally(mask):
        return np.bincount(codes[mask].ravel(), minlength=n).astype("float64")

    cols = {"forest_ha": tally(forest), "high_ha": tally(high), "seen": tally(forest & seen1),
            "seen2": tally(forest & seen2), "high_seen": tally(high & seen1), "high_seen2": tally(high & seen2),
            "reach": tally(forest & inreach), "high_reach": tally(high & inreach),
            "both_gap": tally(high & ~seen1 & ~inreach)}
    df = pd.DataFrame(cols, index=["—", *names])
    df = df[(df["forest_ha"] > 0)]
    df.loc[TOTAL] = df.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "forest_ha": (df["forest_ha"] * ha).round(1), "high_ha": (df["high_ha"] * ha).round(1),
            "seen_share": df["seen"] / df["forest_ha"], "seen2_share": df["seen2"] / df["forest_ha"],
            "high_seen_share": df["high_seen"] / df["high_ha"], "high_seen2_share": df["high_seen2"] / df["high_ha"],
            "reach_share": df["reach"] / df["forest_ha"], "high_reach_share": df["high_reach"] / df["high_ha"],
            "both_gap_ha": (df["both_gap"] * ha).round(1)})
    out.index.name = "township"
    return out


def camera_table(cameras: gpd.GeoDataFrame, tallies: np.ndarray, seen: np.ndarray, first: np.ndarray,
                 forest: np.ndarray, high: np.ndarray, grid: Raster) -> pd.DataFrame:
    """Per camera: forest and high-risk forest it sees, and the forest only it sees (hectares)."""
    dx, dy = cell_size_m(grid)
    ha = dx * dy / 1e4
    only = (seen == 1) & forest & (first >= 0)
    sole = np.bincount(first[only].ravel(), minlength=len(cameras))[:len(cameras)] if len(cameras) else []
    out = pd.DataFrame({
        "name": [str(v) if v is not None else f"#{i + 1}" for i, v in
                 enumerate(cameras.get("name", pd.Series([None] * len(cameras))))],
        "type": cameras.get("type", pd.Series([None] * len(cameras))).to_numpy(),
        "height": pd.to_numeric(cameras.get("height", pd.Series([np.nan] * len(cameras))), errors="coerce").to_numpy(),
        "range": pd.to_numeric(cameras.get("range", pd.Series([np.nan] * len(cameras))), errors="coerce").to_numpy(),
        "township": cameras.get("township", pd.Series([None] * len(cameras))).to_numpy(),
        "forest_seen_ha": np.round(tallies[:, 0] * ha, 1) if len(cameras) else [],
        "high_seen_ha": np.round(tallies[:, 1] * ha, 1) if len(cameras) else [],
        "only_ha": np.round(np.asarray(sole, dtype=float) * ha, 1)})
    return out


def fire_analysis(dem: Raster, layers: dict, options: FireOptions | None = None) -> FireAnalysis:
    """Run the whole review on a DEM and the workspace layers.

    Parameters
    ----------
    dem : Raster
        Elevations in metres (a DEM in degrees is reprojected to a metric CRS first).
    layers : dict
        Vector layers by kind: ``forest`` (required), ``cameras``, ``water_sources``, ``roads``,
        ``villages``, ``graves`` (each optional).
    options : FireOptions, optional
        The choices (defaults documented on :class:`FireOptions`).

    Returns
    -------
    FireAnalysis

    Raises
    ------
    LayerError
        No forest layer, or a forest that does not overlap the DEM.
    """
    from layers.errors import LayerError, Problem

    opt = options or FireOptions()
    if layers.get("forest") is None:
        raise LayerError(Problem("没有森林图层，无法分析", "no forest layer to analyse",
                                 "先导入森林（林班面或土地覆盖栅格）", "import the forest first (polygons or a land-cover raster)"))
    grid, forest, risk, notes = risk_step(dem, layers, opt.weights)
    towns_by, towns_note = township_source(layers)
    notes.append(towns_note)
    high = risk.level >= HIGH_RISK_LEVEL
    seen = first = None
    cams = layers.get("cameras")
    cam_table = pd.DataFrame()
    if cams is not None and len(cams):
        seen, first, tallies, cnotes = camera_step(grid, cams, forest, high, target_h=opt.target_h,
                                                   curvature=opt.curvature)
        notes += cnotes
        cam_table = camera_table(cams, tallies, seen, first, forest, high, grid)
    reach = None
    src = layers.get("water_sources")
    if src is not None and len(src):
        reach = reach_step(grid, src, layers["forest"], risk.level, season=opt.season, rules=opt.rules,
                           roads=layers.get("roads"), max_road_distance_m=opt.max_road_distance_m)
        notes += [n for n in reach.notes if n not in notes]
    gaps = gap_step(grid, high, seen, reach.count if reach is not None else None, layers, min_gap_ha=opt.min_gap_ha)
    towns = township_table(grid, layers["forest"], forest, high, seen, reach.count if reach is not None else None,
                           townships=towns_by)
    weather = day = None
    if opt.weather is not None:
        weather, day = weather_step(opt.weather, risk.level)
    return FireAnalysis(grid=grid, forest=forest, risk=risk, high_risk=high, seen=seen, first_camera=first,
                        reach=reach, gaps=gaps, townships=towns, cameras=cam_table,
                        sources=reach.sources if reach is not None else pd.DataFrame(), weather=weather,
                        day_level=day, notes=notes, options=opt)
