"""The forest-fire coverage review as one object: :class:`FireReview` -> :meth:`FireReview.run` -> :class:`FireResult`.

A review says *what* the fire office asks: the season, the risk weights, the day's weather, which
steps run (camera coverage, water reach, gaps, siting of N new cameras / water points, a township in
focus) and the options of each step. The Fire page builds it from its widgets, ``python -m gis
fire-report`` from its flags, and a saved review (:mod:`layers.scenarios`, kind ``fire``) from its
parameters (:meth:`FireReview.from_params`); all three call the same :meth:`FireReview.run`, and the
report writers (:mod:`gis.report.fire_files`, :mod:`gis.report.fire_map`) take its
:class:`FireResult` as it is.

Every step runs on one metric grid (the DEM, or its reprojection when it is in degrees), so the
masks line up cell for cell:

1. ``risk``: forest cells and the static risk levels (:func:`gis.fire.risk.risk_raster`);
   high-risk forest is ``level >= HIGH_RISK_LEVEL``;
2. ``cameras``: camera coverage (:func:`gis.fire.viewshed.coverage`): how many cameras see each
   cell, the first that does, and per camera the forest and high-risk forest it sees;
3. ``reach``: water-source reach (:func:`gis.fire.water_reach.water_reach`) in the season;
4. ``gaps``: high-risk forest unseen, out of reach, or both, as ranked patches
   (:func:`gis.fire.gaps.coverage_gaps`), and ``townships``: the shares per township;
5. ``weather``: the day's weather danger level (:func:`gis.fire.weather.weather_level`) combined
   with the static levels (:func:`gis.fire.weather.day_risk`);
6. ``site_cameras`` / ``site_water``: where N new cameras / water points add the most covered
   high-risk forest (:mod:`gis.fire.siting`).

Each step is computed through a *memo* ``memo(step, key, compute)`` with a key made of the data's
key and the options that step depends on (and its inputs' keys), so a caller that caches (the page,
with ``st.cache_resource``) recomputes only what a change touches: a new season only the reach, the
gaps and the tables; a new weather day only the day's map.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.fire.gaps import coverage_gaps, township_grid
from gis.fire.risk import DEFAULT_WEIGHTS, HIGH_RISK_LEVEL, RiskResult, forest_mask, parse_weights, risk_raster
from gis.fire.siting import DEFAULT_MAX_CANDIDATES, NEW_WATER_DISTANCE_M, NEW_WATER_RISE_M, SitingResult
from gis.fire.water_reach import ReachResult, ReachRule, parse_rules, water_reach
from gis.terrain import cell_size_m, metric_grid
from gis.townships import township_outlines
from layers.errors import AnalysisRefused, LayerError, Problem
from layers.raster import Raster
from layers.text import Text, pick, unique, warn

__all__ = ["FireReview", "FireInputs", "FireResult", "Weather", "DayWeather", "Memo", "no_memo", "SEASONS",
           "risk_step", "camera_step", "reach_step", "gap_step", "township_table", "township_source", "camera_table",
           "weather_step", "TOTAL", "FOREST_BIT", "HIGH_BIT"]

#: label of the total row of the township table (a data value, the same in both languages)
TOTAL = "合计/Total"
#: tally bits of the camera coverage
FOREST_BIT, HIGH_BIT = 1, 2
#: the seasons of the water reach
SEASONS = ("dry", "wet")

T = TypeVar("T")
#: ``memo(step, key, compute)``: the result of ``compute()`` for ``key`` (cached or not)
Memo = Callable[[str, tuple, Callable[[], Any]], Any]


def no_memo(step: str, key: tuple, compute: Callable[[], T]) -> T:
    """The memo that caches nothing (the command line runs each step once)."""
    return compute()


def _bad(zh: str, en: str, fix_zh: str, fix_en: str, field_: str) -> LayerError:
    return LayerError(Problem(zh, en, fix_zh, fix_en, field=field_))


# ---- the day's weather ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Weather:
    """The day's weather for China's forest-fire weather danger level.

    Attributes
    ----------
    tmax : float
        Daily maximum temperature, °C.
    rh : float
        Relative humidity at 14:00, % (0-100).
    dry_days : float
        Consecutive days without rain (0 = rain today).
    wind : float
        Maximum wind force, Beaufort 0-12.
    rain : float, optional
        Rain on the day, mm (lowers the index).

    Raises
    ------
    LayerError
        A value that is not finite, humidity outside 0-100, or a negative count, wind or rain.
    """

    tmax: float
    rh: float
    dry_days: float
    wind: float
    rain: float | None = None

    def __post_init__(self) -> None:
        vals = [self.tmax, self.rh, self.dry_days, self.wind] + ([] if self.rain is None else [self.rain])
        try:
            ok = all(math.isfinite(float(v)) for v in vals)
        except (TypeError, ValueError):
            ok = False
        if not ok or not 0 <= float(self.rh) <= 100 or min(float(self.dry_days), float(self.wind)) < 0 \
                or (self.rain is not None and float(self.rain) < 0):
            raise _bad(f"当日气象数值有误：{self.values()}", f"bad weather values: {self.values()}",
                       "最高气温 ℃、14 时相对湿度 0–100 %、连续无雨天数、风力级（降水 mm）均为数字，后三项不为负",
                       "°C, 14:00 humidity 0-100 %, days without rain and wind force (rain mm) as numbers, the last "
                       "ones not negative", "weather")
        for f in ("tmax", "rh", "dry_days", "wind"):
            object.__setattr__(self, f, float(getattr(self, f)))
        if self.rain is not None:
            object.__setattr__(self, "rain", float(self.rain))

    def values(self) -> tuple:
        """``(tmax, rh, dry_days, wind)``, plus ``rain`` when given."""
        v = (self.tmax, self.rh, self.dry_days, self.wind)
        return v if self.rain is None else v + (self.rain,)

    @classmethod
    def of(cls, value: Any) -> Weather | None:
        """A weather from a :class:`Weather`, a sequence of 4 or 5 numbers, a dict, a ``"T,RH,DAYS,WIND[,RAIN]"``
        string, or None.

        Raises
        ------
        LayerError
            Anything else, or values out of range.
        """
        if value is None or isinstance(value, Weather):
            return value
        if isinstance(value, Mapping):
            return cls(**{k: value[k] for k in ("tmax", "rh", "dry_days", "wind", "rain") if k in value})
        text = value
        parts = [p.strip() for p in value.replace("，", ",").split(",")] if isinstance(value, str) else list(value)
        try:
            nums = [float(p) for p in parts]
        except (TypeError, ValueError):
            nums = []
        if len(nums) not in (4, 5):
            raise _bad(f"--weather 应为“最高气温,相对湿度,连续无雨天数,风力”四个数（可加降水），收到“{text}”",
                       f"--weather must be four numbers 'TMAX,RH,DRYDAYS,WIND' (rain may follow), got '{text}'",
                       "如 --weather 28,30,7,3（气温 ℃、14 时相对湿度 0–100 %、天数、风力级）",
                       "e.g. --weather 28,30,7,3 (°C, 14:00 humidity 0-100 %, days, wind force)", "--weather")
        try:
            return cls(*nums)
        except LayerError:
            raise _bad(f"--weather 数值超出范围：“{text}”", f"--weather values out of range: '{text}'",
                       "相对湿度 0–100 %，天数、风力与降水不为负", "humidity 0-100 %; days, wind force and rain not "
                       "negative", "--weather") from None


@dataclass(frozen=True)
class DayWeather:
    """The day's fire-weather danger: index, level 1-5, its colour and words, and the inputs."""

    index: float
    level: int
    colour: str
    label: Text
    inputs: Weather


# ---- the review ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FireReview:
    """What a forest-fire review asks, with documented defaults (hashable: a saved review's identity).

    Attributes
    ----------
    season : {'dry', 'wet'}
        The fire (dry) season drops seasonal water sources.
    weights : tuple of (factor, weight)
        Risk factor weights that differ from :data:`gis.fire.risk.DEFAULT_WEIGHTS` (given as a dict,
        a ``"fuel=0.3,slope=0.2"`` string or pairs; renormalised by the risk step).
    weather : Weather, optional
        The day's weather: the danger level and the day's map.
    cameras, water, gaps : bool
        Which steps run: camera coverage, water reach, coverage gaps (each needs its layer).
    site_cameras, site_water : int
        How many new cameras / water points to site (0: none).
    township : str, optional
        The township in focus: its A4 map (the page's printed map; the command line maps only it).
    target_h : float
        Target height above ground for the cameras (0 m: the ground; 20 m: a smoke column).
    curvature : bool
        Earth curvature and refraction in the viewsheds.
    refraction : float
        Refraction coefficient (0.13).
    rules : tuple of (type, distance_m, rise_m)
        Water reach rules that replace :data:`gis.fire.water_reach.DEFAULT_RULES` for a source type
        (``helicopter`` for dip sites, ``default`` for untyped sources; rise None = no limit).
    max_road_m : float, optional
        Ground water sources farther than this from a road are not counted (the road rule).
    min_gap_ha : float
        Gap patches smaller than this are left out.
    camera_height, camera_range : float
        Mast height and range of new cameras, metres.
    water_distance_m, water_rise_m : float
        Reach of a new water point: distance and largest rise (None: no limit), metres.
    camera_max_road_m, water_max_road_m : float, optional
        Candidate sites within this distance of a road (None: no limit).
    min_prominence_m, spacing_m : float
        Camera candidates stand this far above their 450 m window; candidates this far apart.
    max_candidates : int
        Cap on generated candidates.
    """

    season: str = "dry"
    weights: tuple = ()
    weather: Weather | None = None
    cameras: bool = True
    water: bool = True
    gaps: bool = True
    site_cameras: int = 0
    site_water: int = 0
    township: str | None = None
    target_h: float = 0.0
    curvature: bool = True
    refraction: float = 0.13
    rules: tuple = ()
    max_road_m: float | None = None
    min_gap_ha: float = 1.0
    camera_height: float = 30.0
    camera_range: float = 8000.0
    water_distance_m: float = NEW_WATER_DISTANCE_M
    water_rise_m: float | None = NEW_WATER_RISE_M
    camera_max_road_m: float | None = None
    water_max_road_m: float | None = 500.0
    min_prominence_m: float = 20.0
    spacing_m: float = 1000.0
    max_candidates: int = DEFAULT_MAX_CANDIDATES

    def __post_init__(self) -> None:
        if self.season not in SEASONS:
            raise _bad(f"季节“{self.season}”无法识别", f"season '{self.season}' is not understood",
                       "写 dry（旱季）或 wet（雨季）", "write dry or wet", "--season")
        w = parse_weights(dict(self.weights) if not isinstance(self.weights, str) else self.weights)
        object.__setattr__(self, "weights", tuple((k, float(w[k])) for k in DEFAULT_WEIGHTS
                                                  if float(w[k]) != float(DEFAULT_WEIGHTS[k])))
        object.__setattr__(self, "weather", Weather.of(self.weather))
        object.__setattr__(self, "rules", _rules_tuple(self.rules))
        for name in ("site_cameras", "site_water", "max_candidates"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0 or \
                    (name == "max_candidates" and v < 1):
                flag = "--" + name.replace("_", "-")
                raise _bad(f"{flag} 应为不小于 {int(name == 'max_candidates')} 的整数，现为 {v}",
                           f"{flag} must be a whole number of at least {int(name == 'max_candidates')}, got {v}",
                           f"例如 {flag} 5", f"e.g. {flag} 5", flag)
            object.__setattr__(self, name, int(v))
        for name in ("target_h", "refraction", "min_gap_ha", "camera_height", "camera_range", "water_distance_m",
                     "water_rise_m", "max_road_m", "camera_max_road_m", "water_max_road_m", "min_prominence_m",
                     "spacing_m"):
            v = getattr(self, name)
            if v is None and name in ("water_rise_m", "max_road_m", "camera_max_road_m", "water_max_road_m"):
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                x = float("nan")
            if not math.isfinite(x) or x < 0 or (x == 0 and name in ("camera_range", "water_distance_m",
                                                                      "spacing_m")):
                flag = "--" + name.replace("_", "-")
                raise _bad(f"{flag} 应为不小于 0 的数，现为 {v}", f"{flag} must be a number of 0 or more, got {v}",
                           f"检查 {flag}", f"check {flag}", flag)
            object.__setattr__(self, name, x)
        object.__setattr__(self, "township", str(self.township).strip() or None if self.township else None)
        object.__setattr__(self, "cameras", bool(self.cameras))
        object.__setattr__(self, "water", bool(self.water))
        object.__setattr__(self, "gaps", bool(self.gaps))
        object.__setattr__(self, "curvature", bool(self.curvature))

    # -- the pieces the steps take
    def weights_dict(self) -> dict | None:
        """The weights given (None: the defaults)."""
        return dict(self.weights) or None

    def rules_dict(self) -> dict[str, ReachRule] | None:
        """The reach rules with the given ones replacing the defaults (None: the defaults)."""
        if not self.rules:
            return None
        return parse_rules(self.rules_text())

    def rules_text(self) -> str:
        """The rules as the command line writes them (``pond=1500:300,tank=600:``)."""
        return ",".join(f"{k}={d:g}:{'' if r is None else f'{r:g}'}" for k, d, r in self.rules)

    # -- saved reviews
    def to_params(self) -> dict:
        """The review as JSON-able parameters (a saved review; :meth:`from_params` reads them back)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["weights"] = dict(self.weights)
        out["rules"] = {k: [d, r] for k, d, r in self.rules}
        out["weather"] = None if self.weather is None else asdict(self.weather)
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FireReview:
        """A review from saved parameters (unknown keys ignored, missing ones at their defaults).

        Raises
        ------
        LayerError
            A value out of range.
        """
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in dict(params).items() if k in names}
        if isinstance(kw.get("rules"), Mapping):
            kw["rules"] = tuple((k, *v) if isinstance(v, (list, tuple)) else (k, v, None)
                                for k, v in kw["rules"].items())
        if isinstance(kw.get("weights"), (list, tuple)):
            kw["weights"] = tuple(tuple(p) for p in kw["weights"])
        return cls(**kw)

    def with_(self, **changes: Any) -> FireReview:
        """A copy with ``changes``."""
        return replace(self, **changes)

    def describe(self, lang: str = "zh") -> str:
        """The settings in a few words (for the comparison of saved reviews)."""
        d = _DESCRIBE
        bits = [d[self.season](lang)]
        if self.weather is not None:
            bits.append(d["weather"](lang).format(v=",".join(f"{v:g}" for v in self.weather.values())))
        if self.weights:
            bits.append(d["weights"](lang).format(v=",".join(f"{k}={v:g}" for k, v in self.weights)))
        if self.target_h:
            bits.append(d["target_h"](lang).format(v=f"{self.target_h:g}"))
        if self.max_road_m is not None:
            bits.append(d["max_road"](lang).format(v=f"{self.max_road_m:g}"))
        if self.rules:
            bits.append(d["rules"](lang).format(v=self.rules_text()))
        if self.site_cameras:
            bits.append(d["site_cameras"](lang).format(n=self.site_cameras))
        if self.site_water:
            bits.append(d["site_water"](lang).format(n=self.site_water))
        off = [d[f"step_{s}"](lang) for s, on in (("cameras", self.cameras), ("water", self.water),
                                                   ("gaps", self.gaps)) if not on]
        if off:
            bits.append(d["off"](lang).format(v="/".join(off)))
        if self.township:
            bits.append(d["township"](lang).format(v=self.township))
        return d["sep"](lang).join(bits)

    # -- the run
    def run(self, data: FireInputs, *, memo: Memo = no_memo, warn_notes: bool = False) -> FireResult:
        """Run the review's steps on ``data`` (each through ``memo``) and return the whole result.

        Parameters
        ----------
        data : FireInputs
            The DEM, the vector layers and any uploaded candidate sites.
        memo : callable, optional
            ``memo(step, key, compute)``; default :func:`no_memo`.
        warn_notes : bool
            Also issue every note as a :class:`layers.text.GisNote` warning (in English).

        Returns
        -------
        FireResult

        Raises
        ------
        AnalysisRefused
            No forest layer, or a forest that does not overlap the DEM; no candidate site.
        """
        layers = data.layers
        if layers.get("forest") is None:
            raise AnalysisRefused(Problem("没有森林图层，无法分析", "no forest layer to analyse",
                                          "先导入森林（林班面或土地覆盖栅格）",
                                          "import the forest first (polygons or a land-cover raster)"))
        keys: dict[str, tuple] = {}
        keys["risk"] = (data.key, self.weights)
        grid, forest, risk, risk_notes = memo("risk", keys["risk"],
                                              lambda: risk_step(data.dem, layers, self.weights_dict()))
        high = risk.level >= HIGH_RISK_LEVEL
        notes: list[Text] = [*data.dem_notes, *risk_notes]

        cams = layers.get("cameras")
        seen = first = None
        cam_table = pd.DataFrame()
        keys["cameras"] = keys["risk"] + (self.cameras, self.target_h, self.curvature, self.refraction)
        if self.cameras and cams is not None and len(cams):
            seen, first, cam_table, cnotes = memo("cameras", keys["cameras"], lambda: _cameras(
                grid, cams, forest, high, self.target_h, self.curvature, self.refraction))
            notes += cnotes

        src = layers.get("water_sources")
        reach = None
        keys["reach"] = keys["risk"] + (self.water, self.season, self.rules, self.max_road_m)
        if self.water and src is not None and len(src):
            reach = memo("reach", keys["reach"], lambda: reach_step(
                grid, src, layers["forest"], risk.level, season=self.season, rules=self.rules_dict(),
                roads=layers.get("roads"), max_road_distance_m=self.max_road_m))
            notes += reach.notes
        count = reach.count if reach is not None else None

        keys["townships"] = keys["cameras"] + keys["reach"][2:]

        def townships() -> tuple[pd.DataFrame, Text]:
            # the outlines are dissolved here, inside the memo: once per data and options, not on every run
            towns_by, towns_note = township_source(layers)
            return township_table(grid, layers["forest"], forest, high, seen, count, townships=towns_by), towns_note

        towns, towns_note = memo("townships", keys["townships"], townships)
        notes.append(towns_note)
        keys["gaps"] = keys["townships"] + (self.gaps, self.min_gap_ha)
        gaps = memo("gaps", keys["gaps"], lambda: gap_step(grid, high, seen, count, layers,
                                                              min_gap_ha=self.min_gap_ha)) \
            if self.gaps else _no_gaps()

        weather = day = None
        keys["weather"] = keys["risk"] + (self.weather,)
        if self.weather is not None:
            wx = self.weather
            weather, day = memo("weather", keys["weather"], lambda: weather_step(wx, risk.level))

        target = high if high.any() else forest
        sites: list[SitingResult] = []
        keys["site_cameras"] = keys["cameras"] + (self.site_cameras, self.camera_height, self.camera_range,
                                                  self.camera_max_road_m, self.min_prominence_m, self.spacing_m,
                                                  self.max_candidates, data.candidate_key("camera"))
        if self.site_cameras:
            sites.append(memo("site_cameras", keys["site_cameras"], lambda: _site_cameras(
                self, grid, target, seen, layers, data.candidates.get("camera"))))
        keys["site_water"] = keys["reach"] + (self.site_water, self.water_distance_m, self.water_rise_m,
                                              self.water_max_road_m, self.spacing_m, self.max_candidates,
                                              data.candidate_key("water"))
        if self.site_water:
            sites.append(memo("site_water", keys["site_water"], lambda: _site_water(
                self, grid, target, count, layers, data.candidates.get("water"))))
        for s in sites:
            notes += s.notes
        notes = unique(notes)
        if warn_notes:
            for n in notes:
                warn(n, "en", stacklevel=3)
        return FireResult(grid=grid, forest=forest, risk=risk, high_risk=high, seen=seen, first_camera=first,
                          reach=reach, gaps=gaps, townships=towns, cameras=cam_table,
                          sources=reach.sources if reach is not None else pd.DataFrame(), weather=weather,
                          day_level=day, notes=notes, review=self, sites=tuple(sites), layers=dict(layers),
                          keys=keys)


#: the words of :meth:`FireReview.describe`
_DESCRIBE: dict[str, Text] = {k: Text(zh, en, k) for k, (zh, en) in {
    "dry": ("旱季", "dry season"), "wet": ("雨季", "wet season"), "weather": ("气象 {v}", "weather {v}"),
    "weights": ("权重 {v}", "weights {v}"), "target_h": ("目标高 {v} 米", "target {v} m"),
    "max_road": ("水源距路 ≤{v} 米", "sources ≤{v} m from a road"), "rules": ("规则 {v}", "rules {v}"),
    "site_cameras": ("新监控 {n}", "{n} new cameras"), "site_water": ("新水源 {n}", "{n} new water points"),
    "step_cameras": ("视域", "cameras"), "step_water": ("水源可达", "water reach"), "step_gaps": ("缺口", "gaps"),
    "off": ("不算 {v}", "no {v}"), "township": ("重点 {v}", "focus {v}"), "sep": ("；", "; "),
}.items()}


def _rules_tuple(rules: Any) -> tuple:
    """Rules as sorted ``(type, distance_m, rise_m)`` triples, checked as :func:`parse_rules` checks them."""
    if not rules:
        return ()
    if isinstance(rules, str):
        text = rules
    else:
        items = rules.items() if isinstance(rules, Mapping) else rules
        parts = []
        for item in items:
            k, v = item[0], item[1:] if len(item) > 2 else item[1]
            if isinstance(v, ReachRule):
                d, r = v.distance_m, v.rise_m
            elif isinstance(v, (list, tuple)):
                d, r = (list(v) + [None])[:2]
            else:
                d, r = v, None
            parts.append(f"{k}={'' if d is None else d}:{'' if r is None or r == '' else r}")
        text = ",".join(parts)
    parsed = parse_rules(text)
    given = {p.split("=", 1)[0].strip().lower() for p in text.split(",") if p.strip()}
    return tuple(sorted((k, float(r.distance_m), None if r.rise_m is None else float(r.rise_m))
                        for k, r in parsed.items() if k in given))


# ---- inputs and result ------------------------------------------------------------------------------
@dataclass
class FireInputs:
    """What a review runs on.

    Attributes
    ----------
    dem : Raster
        Elevations in metres (a DEM in degrees is reprojected to a metric CRS first).
    layers : mapping
        Vector layers by kind: ``forest`` (required), ``cameras``, ``water_sources``, ``roads``,
        ``villages``, ``graves``, ``rivers`` (each optional; also drawn on the maps: ``grids``).
    candidates : mapping
        Uploaded candidate sites by kind (``camera`` / ``water``), points.
    key : hashable
        Identifies the data (the page: the layers' versions); part of every step's memo key.
    candidate_keys : mapping
        Identifies each kind's candidates (e.g. a hash of the uploaded file).
    """

    dem: Raster
    layers: Mapping[str, Any]
    candidates: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    key: Hashable = None
    candidate_keys: Mapping[str, Hashable] = field(default_factory=dict)

    @property
    def dem_notes(self) -> list[Text]:
        """The DEM's own warnings (read repairs, assumed CRS) as notes."""
        return [Text(*w) if not isinstance(w, Text) else w for w in getattr(self.dem, "warnings", ()) or ()]

    def candidate_key(self, kind: str) -> Hashable:
        if kind not in self.candidates or self.candidates[kind] is None:
            return None
        return self.candidate_keys.get(kind, id(self.candidates[kind]))


@dataclass
class FireResult:
    """A whole review. Arrays lie on ``grid``.

    Attributes
    ----------
    grid : Raster
        The metric grid of the review.
    forest, high_risk : numpy.ndarray of bool
        Forest cells; high-risk forest (``level >= HIGH_RISK_LEVEL``).
    risk : RiskResult
        Static score and levels.
    seen, first_camera : numpy.ndarray or None
        Cameras seeing each cell and the first that does (None without the camera step).
    reach : ReachResult or None
        The water reach (None without the reach step).
    gaps : GeoDataFrame
        Ranked gap patches (:data:`gis.fire.gaps.GAP_COLUMNS`; empty without the gap step).
    townships : DataFrame
        :func:`township_table`.
    cameras, sources : DataFrame
        Per camera (:func:`camera_table`) and per source (:attr:`ReachResult.sources`).
    weather : DayWeather or None
        The day's danger level; ``day_level`` the static levels combined with it.
    notes : list of Text
        Every step's notes, repeats dropped.
    review : FireReview
        What was asked.
    sites : tuple of SitingResult
        Proposed cameras and / or water points, in the order sited.
    layers : dict
        The vector layers the review ran on (drawn on the maps).
    keys : dict
        Each step's memo key (for callers that cache what they draw from a step).
    """

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
    weather: DayWeather | None = None
    day_level: np.ndarray | None = None
    notes: list[Text] = field(default_factory=list)
    review: FireReview = field(default_factory=FireReview)
    sites: Sequence[SitingResult] = ()
    layers: Mapping[str, Any] = field(default_factory=dict)
    keys: Mapping[str, tuple] = field(default_factory=dict)

    def messages(self, lang: str = "zh") -> list[str]:
        """The notes in one language."""
        return [pick(n, lang) for n in self.notes]

    @property
    def total(self) -> pd.Series | None:
        """The total row of the township table."""
        # one row: a Series
        return cast(pd.Series, self.townships.loc[TOTAL]) if TOTAL in self.townships.index else None

    def township_names(self) -> list[str]:
        """The townships with forest (the table's rows without the total and the no-township row)."""
        return [str(v) for v in self.townships.index if v not in (TOTAL, "—")]


def _no_gaps() -> gpd.GeoDataFrame:
    from gis.fire.gaps import GAP_COLUMNS
    from layers.settings import STORAGE_CRS

    return gpd.GeoDataFrame({c: [] for c in GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
                            crs=STORAGE_CRS)


# ---- the steps --------------------------------------------------------------------------------------
def risk_step(dem: Raster, layers: Mapping, weights: dict | None = None) -> tuple[Raster, np.ndarray, RiskResult,
                                                                                 list[Text]]:
    """The metric grid, forest cells, the static risk of ``layers['forest']`` and the notes."""
    grid, notes = metric_grid(dem)
    forest = layers["forest"]
    mask = forest_mask(forest, grid)
    risk = risk_raster(grid, forest, roads=layers.get("roads"), settlements=layers.get("villages"),
                       graves=layers.get("graves"), weights=weights)
    return grid, mask, risk, list(notes) + list(risk.notes)


def camera_step(grid: Raster, cameras: gpd.GeoDataFrame, forest: np.ndarray, high: np.ndarray, *,
                target_h: float = 0.0, curvature: bool = True, refraction: float = 0.13
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Text]]:
    """(count, first camera, per-camera tallies (forest, high-risk cells seen), notes).

    Cameras with no forest within range are not swept (a note names them); each camera's viewshed is
    kept in the process-wide :data:`gis.fire.viewshed_cache.SHARED`, so a review after one camera was
    added or edited sweeps that camera only.
    """
    from gis.fire.viewshed import coverage
    from gis.fire.viewshed_cache import SHARED

    tally = (forest.astype(np.uint8) * FOREST_BIT) | (high.astype(np.uint8) * HIGH_BIT)
    count, first, notes, info = coverage(grid, cameras, target_h=target_h, curvature=curvature,
                                         refraction=refraction, return_in_range=True, tally=tally,
                                         relevant=forest, cache=SHARED)
    return count, first, info["tallies"][:, :2], list(notes)


def _cameras(grid, cams, forest, high, target_h, curvature, refraction):
    count, first, tallies, notes = camera_step(grid, cams, forest, high, target_h=target_h, curvature=curvature,
                                               refraction=refraction)
    return count, first, camera_table(cams, tallies, count, first, forest, high, grid), notes


def reach_step(grid: Raster, sources: gpd.GeoDataFrame, forest: gpd.GeoDataFrame | Raster, risk_level: np.ndarray,
               *, season: str = "dry", rules: dict | None = None, roads: gpd.GeoDataFrame | None = None,
               max_road_distance_m: float | None = None) -> ReachResult:
    """Water reach of ``sources`` over the forest, with high-risk shares."""
    return water_reach(grid, sources, forest, rules=rules, season=season, roads=roads,
                       max_road_distance_m=max_road_distance_m if roads is not None else None,
                       high_risk=risk_level)


def township_source(layers: Mapping) -> tuple[gpd.GeoDataFrame | None, Text]:
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


def gap_step(grid: Raster, high: np.ndarray, seen: np.ndarray | None, reach: np.ndarray | None, layers: Mapping, *,
             min_gap_ha: float = 1.0) -> gpd.GeoDataFrame:
    """Ranked gap patches (see :func:`gis.fire.gaps.coverage_gaps`), named by :func:`township_source`."""
    forest = layers.get("forest") if isinstance(layers.get("forest"), gpd.GeoDataFrame) else None
    return coverage_gaps(grid, high, seen, reach, forest=forest, roads=layers.get("roads"),
                         sources=layers.get("water_sources"), townships_from=township_source(layers)[0],
                         min_area_m2=min_gap_ha * 1e4)


def weather_step(weather: Weather | Sequence[float], risk_level: np.ndarray) -> tuple[DayWeather, np.ndarray]:
    """The day's weather index and level, and the static levels combined with it."""
    from gis.fire.weather import LEVEL_COLOURS, LEVEL_LABELS, day_risk, weather_level

    w = Weather.of(tuple(weather) if not isinstance(weather, Weather) else weather)
    assert w is not None  # Weather.of gives None only for None
    index, level = weather_level(np.asarray([w.tmax]), np.asarray([w.rh]), np.asarray([w.dry_days]),
                                 np.asarray([w.wind]),
                                 None if w.rain is None else np.asarray([w.rain]))
    lv = int(level[0])
    day = np.asarray(day_risk(risk_level, lv), dtype=np.uint8)
    day[risk_level == 0] = 0
    return DayWeather(float(index[0]), lv, LEVEL_COLOURS[lv], LEVEL_LABELS[lv], w), day


def _site_cameras(review: FireReview, grid: Raster, target: np.ndarray, seen: np.ndarray | None, layers: Mapping,
                  candidates: gpd.GeoDataFrame | None) -> SitingResult:
    from gis.fire.siting import site_cameras

    return site_cameras(grid, target, seen > 0 if seen is not None else None, review.site_cameras,
                        candidates=candidates, roads=layers.get("roads"), height=review.camera_height,
                        range_m=review.camera_range, target_h=review.target_h, max_road_m=review.camera_max_road_m,
                        min_prominence_m=review.min_prominence_m, spacing_m=review.spacing_m,
                        max_candidates=review.max_candidates)


def _site_water(review: FireReview, grid: Raster, target: np.ndarray, reach: np.ndarray | None, layers: Mapping,
                candidates: gpd.GeoDataFrame | None) -> SitingResult:
    from gis.fire.siting import site_water

    return site_water(grid, target, reach > 0 if reach is not None else None, review.site_water,
                      candidates=candidates, roads=layers.get("roads"), rivers=layers.get("rivers"),
                      distance_m=review.water_distance_m, rise_m=review.water_rise_m,
                      max_road_m=review.water_max_road_m, spacing_m=review.spacing_m,
                      max_candidates=review.max_candidates)


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
    sole: np.ndarray | list[int] = (np.bincount(first[only].ravel(), minlength=len(cameras))[:len(cameras)]
                                    if len(cameras) else [])
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
