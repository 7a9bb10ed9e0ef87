"""Flood hazard scenarios: a depth raster, danger-zone polygons, or a water level on HAND.

A :class:`Hazard` is what exposure (:mod:`gis.flood.exposure`) is computed against. Whatever its source,
depths are metres and *dry is NaN* (raster) or *outside every polygon* (polygons). Each
constructor records what it assumed or repaired as notes (:class:`~layers.text.Text`), so the page and the
command line can say it: a depth raster in centimetres, negative depths, an all-dry scenario,
overlapping polygons, a HAND screening map.

Depth classes: thresholds ``t1 < t2 < ... < tn`` (default :data:`DEFAULT_THRESHOLDS`, metres)
give classes ``0`` dry, ``1`` wet below ``t1``, ``2`` in ``[t1, t2)``, ..., ``n + 1`` at or above
``tn`` (:func:`depth_class`, labels from :func:`class_labels`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.flood.headers import WORDS
from gis.projection import crs_of, lonlat_extent, to_lonlat_bounds
from layers.errors import AnalysisRefused, LayerError, problem
from layers.raster import Raster
from layers.text import Text, pick, stage_scenario

if TYPE_CHECKING:
    from layers.load import CoordOptions

__all__ = ["DEFAULT_THRESHOLDS", "SCREENING_LABEL", "Hazard", "depth_class", "class_labels", "parse_thresholds",
           "check_overlap", "wet_mask_sampler"]

#: default depth-class thresholds, metres
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.5, 1.5, 3.0)

#: the label every HAND-based scenario carries
SCREENING_LABEL = Text(
    "筛查方法：HAND（相对最近河道高差）淹没图与精细水力模型成果相比，临界成功指数（CSI）约 0.4-0.7，仅供初步判断",
    "screening method: HAND maps score a CSI of about 0.4-0.7 against detailed hydraulic maps; use for a first look",
    "hand_screening",
)

#: largest plausible depth in metres; a raster whose values go beyond it is read as centimetres
CM_DETECT_M = 100.0

_Note = Text
METHODS = ("depth_raster", "polygons", "hand_stage")
#: how each method is named for people (the plan's files name it the same way)
_METHOD_LABELS = {m: WORDS[m] for m in METHODS}
#: the words of the depth-class labels
_GE = Text("≥", ">=", "at_least")
_METRES = Text("米", "m", "metres")


def parse_thresholds(thresholds: Sequence[float] | str | None) -> tuple[float, ...]:
    """Thresholds as a sorted tuple of positive floats (``"0.5,1.5,3"`` accepted).

    Raises
    ------
    LayerError
        Empty, non-numeric, non-positive or repeated thresholds.
    """
    if thresholds is None:
        return DEFAULT_THRESHOLDS
    try:
        vals = [float(v) for v in (thresholds.replace("，", ",").split(",") if isinstance(thresholds, str)
                                   else thresholds) if str(v).strip() != ""]
    except ValueError:
        vals = []
    if not vals or any(not np.isfinite(v) or v <= 0 for v in vals) or len(set(vals)) != len(vals):
        raise LayerError(problem(f"水深分级阈值无效：{thresholds}", f"invalid depth thresholds: {thresholds}",
                                 "输入互不相同的正数（米），如 0.5,1.5,3.0",
                                 "give distinct positive numbers in metres, e.g. 0.5,1.5,3.0"))
    return tuple(sorted(vals))


def depth_class(depth: np.ndarray | float, thresholds: Sequence[float] | np.ndarray = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Depth class of each value: 0 dry (NaN or <= 0), 1 wet below ``thresholds[0]``, ..., ``n + 1`` at or
    above the last.

    Parameters
    ----------
    depth : array_like
        Depths in metres, NaN dry.
    thresholds : sequence of float
        Increasing class limits in metres.

    Returns
    -------
    numpy.ndarray of int8
        Same shape as ``depth``.
    """
    d = np.asarray(depth, dtype="float64")
    t = np.asarray(sorted(thresholds), dtype="float64")
    with np.errstate(invalid="ignore"):
        wet = d > 0
    cls = np.searchsorted(t, np.where(wet, d, 0.0), side="right") + 1
    return np.where(wet, cls, 0).astype("int8")


def class_labels(thresholds: Sequence[float] = DEFAULT_THRESHOLDS, lang: str = "en") -> list[str]:
    """Labels of the wet classes 1..n+1, e.g. ``['< 0.5 m', '0.5-1.5 m', '1.5-3 m', '>= 3 m']``."""
    t = [f"{v:g}" for v in sorted(thresholds)]
    ge, unit = _GE(lang), _METRES(lang)
    out = [f"< {t[0]} {unit}"]
    out += [f"{a}-{b} {unit}" for a, b in zip(t[:-1], t[1:])]
    out.append(f"{ge} {t[-1]} {unit}")
    return out


@dataclass
class Hazard:
    """One flood scenario.

    Attributes
    ----------
    name : str
        Scenario name shown to users (e.g. ``"水位 4 m"``, the file name).
    depth : Raster or None
        Depth in metres, NaN where dry (raster scenarios).
    polygons : GeoDataFrame or None
        Danger zones (polygon scenarios), made disjoint (deepest wins where they overlapped), with
        ``depth`` (metres, NaN unknown) and ``hazard_class`` when given.
    method : str
        ``'depth_raster'``, ``'polygons'`` or ``'hand_stage'``.
    notes : list of Text
        What was assumed or repaired.
    screening : bool
        True for HAND scenarios (see :data:`SCREENING_LABEL`).
    stage_m : float or None
        The water level of a HAND scenario.
    source : str
        The file the scenario came from (for messages).
    """

    name: str
    depth: Raster | None = None
    polygons: gpd.GeoDataFrame | None = None
    method: str = "depth_raster"
    notes: list[_Note] = field(default_factory=list)
    screening: bool = False
    stage_m: float | None = None
    source: str = ""

    @property
    def crs(self) -> pyproj.CRS | None:
        """CRS of the depth raster or of the polygons."""
        return crs_of(self.depth if self.depth is not None else self.polygons)

    @property
    def is_raster(self) -> bool:
        """True when the scenario is a depth raster (uploaded or from HAND)."""
        return self.depth is not None

    @property
    def is_empty(self) -> bool:
        """True when nothing is wet."""
        if self.depth is not None:
            return not bool(np.any(np.asarray(self.depth.array) > 0))
        return self.polygons is None or len(self.polygons) == 0

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Extent in the hazard's CRS (None when empty polygons)."""
        if self.depth is not None:
            return self.depth.bounds
        if self.polygons is None or not len(self.polygons):
            return None
        return tuple(float(v) for v in self.polygons.total_bounds)  # type: ignore[return-value]

    @property
    def label(self) -> Text:
        """The scenario's name for people in both languages (a stage scenario reads "水位 2 米" / "stage 2 m")."""
        if self.stage_m is not None and self.name == stage_scenario(self.stage_m)("zh"):
            return stage_scenario(self.stage_m)
        return Text(self.name, self.name)

    @property
    def method_label(self) -> Text:
        """How the scenario was made, for people (never the raw method identifier)."""
        return _METHOD_LABELS.get(self.method, Text(self.method, self.method, self.method))

    def messages(self, lang: str = "zh") -> list[str]:
        """The notes (and the screening label) in one language."""
        notes = list(self.notes)
        if self.screening and SCREENING_LABEL not in notes:
            notes.insert(0, SCREENING_LABEL)
        return [pick(n, lang) for n in notes]

    # ---- constructors ----------------------------------------------------------------------------------------
    @classmethod
    def from_depth_raster(cls, r: Raster, *, source: str | None = None, name: str | None = None) -> Hazard:
        """A scenario from a depth raster.

        Parameters
        ----------
        r : Raster
            Depths. Metres expected; a raster whose largest value is over 100 is taken as
            centimetres and divided by 100 (noted). Negative depths and 0 count as dry (NaN).
        source : str, optional
            File name for notes.
        name : str, optional
            Scenario name; default ``source`` or ``r.name``.

        Returns
        -------
        Hazard
            ``method='depth_raster'``; an all-dry raster gives an empty scenario with a note.

        Raises
        ------
        LayerError
            An integer raster without a usable value, or a raster without CRS.
        """
        source = source or r.name or "depth"
        notes: list[_Note] = list(getattr(r, "warnings", []) or [])
        if r.crs is None:
            raise LayerError(problem("水深栅格没有坐标系", "the depth raster has no CRS", "为栅格指定坐标系后重新导入",
                                     "give the raster a CRS and import it again", file=source))
        valid = r.valid_mask()
        a = np.asarray(r.array, dtype="float32").copy()
        a[~valid] = np.nan
        finite = a[np.isfinite(a)]
        vmax = float(finite.max()) if finite.size else float("nan")
        if finite.size and vmax > CM_DETECT_M:
            a /= np.float32(100.0)
            notes.append(Text(f"水深最大值 {vmax:g} 超过 {CM_DETECT_M:g}，"
                              f"按厘米处理并换算为米（最大 {vmax / 100:g} 米）",
                              f"the largest depth {vmax:g} is over {CM_DETECT_M:g}: read as centimetres and converted "
                              f"to metres (largest {vmax / 100:g} m)", "depth_cm"))
        with np.errstate(invalid="ignore"):
            neg = int(np.count_nonzero(a < 0))
            a[~(a > 0)] = np.nan
        if neg:
            notes.append(Text(f"{neg:,} 个像元水深为负值，按无水（干）处理",
                              f"{neg:,} cells have negative depths; taken as dry", "depth_negative"))
        if not np.isfinite(a).any():
            notes.append(Text("水深栅格中没有大于 0 的水深：本情景无淹没，受影响人口为 0",
                              "the depth raster has no depth above 0: nothing is flooded in this scenario, so no one "
                              "is affected", "depth_all_dry"))
        out = Raster(a, r.transform, r.crs, nodata=-9999.0, name=source)
        return cls(name=name or source, depth=out, method="depth_raster", notes=notes, source=source)

    @classmethod
    def from_polygons(cls, gdf: gpd.GeoDataFrame, *, source: str | None = None,
                      name: str | None = None, notes: list | None = None) -> Hazard:
        """A scenario from danger-zone polygons.

        Parameters
        ----------
        gdf : GeoDataFrame
            Polygons with the catalogue fields ``depth`` (metres) and/or ``hazard_class``
            (optional). Without ``depth`` every polygon counts as wet with unknown depth.
        source : str, optional
            File name for notes.
        name : str, optional
            Scenario name.

        Returns
        -------
        Hazard
            ``method='polygons'``; polygons that overlapped are cut so the deepest one holds the
            shared area (unknown depth ranks above every known depth: a mapped danger zone
            without a depth is taken as serious).

        Raises
        ------
        LayerError
            No CRS, or no polygon geometry at all.
        """
        source = source or gdf.attrs.get("source") or "hazard"   # a layer read by layers.readers names its file
        notes = list(notes or [])
        if gdf.crs is None:
            raise LayerError(problem("危险区图层没有坐标系", "the danger-zone layer has no CRS",
                                     "为数据指定坐标系后重新导入", "give the layer a CRS and import it again",
                                     file=source))
        g = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy()
        g = g[g.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
        if len(g) == 0 and len(gdf):
            raise LayerError(problem("危险区图层中没有面要素", "the danger-zone layer has no polygons",
                                     "上传面（多边形）图层", "upload a polygon layer", file=source))
        if "depth" in g:
            d = g["depth"].astype("float64")
            neg = int((d < 0).sum())
            if neg:
                notes.append(Text(f"{neg} 个危险区水深为负，按水深未知处理", f"{neg} danger zones have negative depth; "
                                  "taken as unknown depth", "zone_depth_negative"))
            d = d.where(d >= 0)
            if d.notna().any() and float(d.max()) > CM_DETECT_M:
                notes.append(Text(f"危险区水深最大值 {float(d.max()):g} 超过 {CM_DETECT_M:g}，按厘米换算为米",
                                  f"the largest zone depth {float(d.max()):g} is over {CM_DETECT_M:g}: read as "
                                  "centimetres and converted to metres", "zone_depth_cm"))
                d = d / 100.0
            g["depth"] = d
            unknown = int(d.isna().sum())
            if unknown:
                notes.append(Text(f"{unknown} 个危险区没有水深，按“有水、水深未知”计入受影响范围",
                                  f"{unknown} danger zones have no depth: counted as wet with unknown depth",
                                  "zone_depth_missing"))
        else:
            g["depth"] = np.nan
            notes.append(Text("危险区没有水深字段：所有危险区都按“有水、水深未知”处理，不分水深等级",
                              "the danger zones have no depth field: every zone counts as wet with unknown depth, "
                              "without depth classes", "zones_no_depth_field"))
        if "hazard_class" not in g:
            g["hazard_class"] = None
        g = g[["depth", "hazard_class", "geometry"]]
        g = _disjoint(g, notes)
        if len(g) == 0:
            notes.append(Text("没有危险区：本情景无淹没", "no danger zones: nothing is flooded in this scenario",
                              "no_zones"))
        return cls(name=name or source, polygons=g, method="polygons", notes=notes, source=source)

    @classmethod
    def from_stage(cls, dem: Raster | None, stage_m: float, *, hand: Raster | None = None,
                   rivers: gpd.GeoDataFrame | None = None, min_upstream_km2: float | None = None,
                   min_upstream_cells: int | None = None,
                   name: str | None = None) -> Hazard:
        """A screening scenario: a water level ``stage_m`` above the streams, on HAND from the DEM.

        Parameters
        ----------
        dem : Raster or None
            Elevations in metres (used only when ``hand`` is not given).
        stage_m : float
            Water level above the stream cells, metres.
        hand : Raster, optional
            Precomputed HAND (from :func:`gis.flood.hand.hand`) to reuse across stages.
        rivers, min_upstream_km2, min_upstream_cells
            Stream definition, see :func:`gis.flood.hand.hand`.
        name : str, optional
            Scenario name; default :func:`layers.text.stage_scenario` in Chinese (``水位 2 米``).

        Returns
        -------
        Hazard
            ``method='hand_stage'``, ``screening=True``.
        """
        from gis.flood.hand import depth_from_stage
        from gis.flood.hand import hand as compute_hand

        notes: list[_Note] = [SCREENING_LABEL]
        if hand is None:
            if dem is None:
                raise ValueError("from_stage needs the DEM when no HAND is given")
            hand = compute_hand(dem, rivers=rivers, min_upstream_km2=min_upstream_km2,
                                min_upstream_cells=min_upstream_cells)
        notes += list(getattr(hand, "warnings", []) or [])
        depth = depth_from_stage(hand, stage_m)
        if not np.isfinite(depth.array).any():
            notes.append(Text(f"水位 {stage_m:g} 米时没有像元被淹没", f"nothing is flooded at a stage of {stage_m:g} m",
                              "stage_floods_nothing"))
        return cls(name=name or stage_scenario(stage_m)("zh"), depth=depth, method="hand_stage", notes=notes,
                   screening=True, stage_m=float(stage_m))


def _disjoint(g: gpd.GeoDataFrame, notes: list[_Note]) -> gpd.GeoDataFrame:
    """Cut overlapping zones so each point belongs to one: unknown depth first, then deepest first."""
    if len(g) < 2:
        return g.reset_index(drop=True)
    geoms = shapely.make_valid(g.geometry.values)
    total = float(shapely.area(geoms).sum())
    union_area = float(shapely.area(shapely.union_all(geoms)))
    if total <= union_area * (1 + 1e-9) + 1e-12:
        return g.reset_index(drop=True)
    key = g["depth"].fillna(np.inf).to_numpy()
    order = np.argsort(-key, kind="stable")
    tree = shapely.STRtree(geoms)
    out = np.empty(len(g), dtype=object)
    done = np.zeros(len(g), dtype=bool)
    for i in order:
        geom = geoms[i]
        near = [j for j in tree.query(geom) if done[j]]
        if near:
            geom = shapely.difference(geom, shapely.union_all([out[j] for j in near]))
        out[i] = geom
        done[i] = True
    res = g.copy()
    res["geometry"] = gpd.GeoSeries(out, index=g.index, crs=g.crs)
    res = res[~res.geometry.is_empty]
    notes.append(Text("部分危险区相互重叠：重叠部分按水深较大者计（水深未知者优先），避免重复计算",
                      "some danger zones overlap: each shared area is counted once, in the deepest zone (unknown depth "
                      "ranks first)", "zones_overlap"))
    return res.reset_index(drop=True)


def hazard_from_file(path: Path | str, *, sublayer: str | None = None, display_name: str | None = None,
                     name: str | None = None, near: tuple[float, float, float, float] | None = None,
                     raster: bool | None = None, coords: CoordOptions | None = None) -> Hazard:
    """A scenario from a file: a depth raster (metres; centimetres detected), or danger-zone polygons.

    Polygons are read and validated as the ``flood_hazard`` layer (any supported vector format).
    A depth raster of any accepted format (GeoTIFF, .asc, .img, .vrt, SRTM .hgt / .hgt.zip, .nc, or
    one zipped with its side files) is read as the Data page reads a raster
    (:func:`layers.raster.read_raster`: declared CRS, or one recognised from the bounds, checked
    against them).

    Parameters
    ----------
    path : Path or str
        The file (uploads arrive under temporary names).
    sublayer : str, optional
        Layer inside a GeoPackage / KML folder (polygons), or the raster in a zip / netCDF variable.
    display_name : str, optional
        How messages name the file (and the type, or the SRTM tile's name, when ``path`` has none).
    name : str, optional
        Scenario name.
    near : tuple of float, optional
        ``(min lon, min lat, max lon, max lat)`` of the workspace: polygons whose CRS puts them a
        zone away are refused (see :func:`layers.load.load_layer`). Whether the scenario touches the
        area it is applied to is :func:`check_overlap`'s job.
    raster : bool, optional
        The file must be a depth raster (a zip is then read for the raster it holds, and one holding
        none is refused saying what it holds); False: danger zones; default: told from the file.
    coords : CoordOptions, optional
        The user's CRS, transformation parameters and web-map correction (an upload's 坐标系 / CRS
        box), as on import.

    Returns
    -------
    Hazard
    """
    from layers.load import CoordOptions, is_raster_file, load_layer
    from layers.raster import read_raster

    path = Path(path)
    source = display_name or path.name
    c = coords or CoordOptions()
    if raster if raster is not None else is_raster_file(path, display_name):
        depth = read_raster(path, display_name=source, sublayer=sublayer, crs=c.crs, towgs84=c.towgs84,
                            on_conflict=c.on_conflict)
        return Hazard.from_depth_raster(depth, source=source, name=name)
    # the overlap check (check_overlap) judges where a scenario lies, not the import rule for far rows
    layer = load_layer(path, "flood_hazard", sublayer=sublayer, display_name=source, near=near, allow_outside=True,
                       crs=c.crs, towgs84=c.towgs84, on_conflict=c.on_conflict, offset=c.offset)
    assert layer.gdf is not None  # not a raster: a vector layer
    return Hazard.from_polygons(layer.gdf, source=layer.source, name=name,
                                notes=list(layer.gdf.attrs.get("warnings", [])) + list(layer.notes))


# ---- does the scenario touch the area it is applied to? ----------------------------------------------
#: below this share of the area's extent covered by the scenario's wet extent, :func:`check_overlap` warns
MIN_COVER_SHARE = 0.01
#: what :func:`check_overlap` compares a scenario with by default
WORKSPACE_GRIDS = Text("工作空间的转移避险网格", "the workspace's grids", "workspace_grids")

_FIX_PLACE_ZH = ("选择本县的情景文件；若是坐标系有误，在 GIS 软件中为文件指定正确的坐标系"
                 "（如 CGCS2000 经纬度 EPSG:4490、3 度带中央经线 117° 的 EPSG:4548）后重新导出，"
                 "危险区面也可在数据页导入为“洪水风险”图层，"
                 "在“坐标系 / CRS”框中选择坐标系")
_FIX_PLACE_EN = ("choose this county's scenario file; if its CRS is wrong, give the file the right CRS in a GIS (e.g. "
                 "CGCS2000 lon/lat EPSG:4490, or EPSG:4548 for the 3-degree zone with central meridian 117E) and "
                 "export it again; danger-zone polygons can also be imported on the Data page as the flood hazard "
                 "layer, choosing the CRS in the 坐标系 / CRS box")


def _hazard_source(hazard: Hazard) -> str:
    """The file a scenario came from, for messages."""
    if hazard.depth is not None and hazard.depth.name:
        return str(hazard.depth.name)
    if hazard.source:
        return hazard.source
    return hazard.name


def _wet_bounds(hazard: Hazard) -> tuple[float, float, float, float] | None:
    """Extent of the wet cells (raster) or of the polygons, in the hazard's CRS; None when nothing is wet."""
    if hazard.depth is None:
        return hazard.bounds
    with np.errstate(invalid="ignore"):
        wet = np.asarray(hazard.depth.array, dtype="float64") > 0
    rows, cols = np.flatnonzero(wet.any(axis=1)), np.flatnonzero(wet.any(axis=0))
    if not rows.size:
        return None
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    tr = hazard.depth.transform
    xs, ys = zip(*(tr * (float(c), float(r)) for c, r in ((c0, r0), (c1, r0), (c0, r1), (c1, r1))))
    return min(xs), min(ys), max(xs), max(ys)


def _at(b: tuple[float, float, float, float]) -> str:
    return f"{(b[0] + b[2]) / 2:.2f}°E {(b[1] + b[3]) / 2:.2f}°N"


def check_overlap(hazard: Hazard, area: gpd.GeoDataFrame | Raster | tuple[float, float, float, float], *,
                  area_name: Text = WORKSPACE_GRIDS,
                  min_share: float = MIN_COVER_SHARE) -> list[_Note]:
    """Refuse a scenario that floods nothing, or nothing of the area it is applied to.

    A depth GeoTIFF of another region, a raster that is all nodata, or danger zones in the wrong
    CRS would otherwise give "0 people to move" with no word said.

    Parameters
    ----------
    hazard : Hazard
        An uploaded (or workspace) scenario.
    area : GeoDataFrame, Raster or tuple of float
        What it is applied to: the grids, an exposure layer or raster, or a lon/lat box.
    area_name : Text
        How messages name ``area``, in Chinese and English.
    min_share : float
        Warn when the scenario's wet extent covers less than this share of ``area``'s extent.

    Returns
    -------
    list of Text
        Warnings: the scenario covers only a sliver of the area (empty when all is well).

    Raises
    ------
    AnalysisRefused
        The scenario has no wet cell / no polygon, cannot be placed in lon/lat, or its extent does
        not intersect the area's; the file is named.
    """
    source = _hazard_source(hazard)
    zh_area, en_area = area_name
    if hazard.is_empty:
        kind_zh, kind_en = (Text("水深栅格全部为无数据或不大于 0", "every depth is nodata or not above 0",
                                 "raster_all_dry")
                            if hazard.is_raster else Text("没有任何危险区面", "there is no danger-zone polygon",
                                                          "no_zone_polygons"))
        raise AnalysisRefused(problem(f"洪水情景没有任何淹没范围（{kind_zh}），按它计算的需转移人数只会是 0",
                                 f"the scenario floods nothing ({kind_en}): it could only give 0 people to move",
                                 "检查是否选错文件、栅格的无数据值和水深单位（米）",
                                 "check that this is the right file, the raster's nodata value and the depth unit "
                                 "(metres)", file=source))
    wet = to_lonlat_bounds(_wet_bounds(hazard), hazard.crs)
    if wet is None:
        raise AnalysisRefused(problem("洪水情景的范围无法按其坐标系换算为经纬度，坐标与坐标系不符",
                                 "the scenario's extent does not convert from its CRS to lon/lat: the coordinates "
                                 "do not fit the CRS", _FIX_PLACE_ZH, _FIX_PLACE_EN, file=source))
    target = lonlat_extent(area)
    if target is None:
        return []
    ix0, iy0 = max(wet[0], target[0]), max(wet[1], target[1])
    ix1, iy1 = min(wet[2], target[2]), min(wet[3], target[3])
    if ix0 > ix1 or iy0 > iy1:
        raise AnalysisRefused(problem(
            f"洪水情景位于 {_at(wet)}，而{zh_area}位于 {_at(target)}，两者范围不相交：选错了文件，或文件的坐标系有误",
            f"the scenario lies at {_at(wet)}, {en_area} at {_at(target)}; they do not overlap: wrong file or "
            "wrong coordinate system", _FIX_PLACE_ZH, _FIX_PLACE_EN, file=source))
    area_size = (target[2] - target[0]) * (target[3] - target[1])
    if area_size <= 0:
        return []
    share = (ix1 - ix0) * (iy1 - iy0) / area_size
    if share >= min_share:
        return []
    return [Text(f"{source}：洪水情景（位于 {_at(wet)}）只覆盖{zh_area}范围的 {share:.2%}，范围外一律按无水计算；"
                 "请核对文件和坐标系",
                 f"{source}: the scenario (at {_at(wet)}) covers only {share:.2%} of the extent of {en_area}; "
                 "everything outside it counts as dry: check the file and its CRS", "scenario_partial_cover")]


def _raster_sampler(r, crs: pyproj.CRS | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    arr = np.asarray(r.array)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype("float64")
        if r.nodata is not None:
            arr[np.asarray(r.array) == r.nodata] = np.nan
    inv = ~r.transform
    tr = None
    if crs is not None and r.crs is not None:
        rc = pyproj.CRS.from_user_input(r.crs.to_wkt() if hasattr(r.crs, "to_wkt") else r.crs)
        if not rc.equals(crs):
            tr = pyproj.Transformer.from_crs(crs, rc, always_xy=True)

    def sample(x, y):
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        if tr is not None:
            x, y = tr.transform(x, y)
        col, row = inv * (x, y)
        col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
        inside = (row >= 0) & (row < arr.shape[0]) & (col >= 0) & (col < arr.shape[1])
        out = np.full(x.shape, np.nan)
        out[inside] = arr[row[inside], col[inside]]
        return out

    return sample


def _subdivide(geoms: np.ndarray, max_vertices: int = 256, max_rounds: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Cut polygons with many vertices into quarters until each piece has at most ``max_vertices``.

    A point lies in a polygon exactly when it lies in one of its pieces, so testing points against the
    pieces gives the same answer, much faster (PostGIS's ``ST_Subdivide`` does the same for the same reason):
    a buffered river 100 km long is one polygon of thousands of vertices whose box covers a whole valley.

    Returns
    -------
    tuple of numpy.ndarray
        The pieces, and for each the position of the polygon it came from.
    """
    geoms = np.asarray(geoms, dtype=object)
    parent = np.arange(len(geoms))
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, parent = geoms[keep], parent[keep]
    done_g, done_p = [], []
    for _ in range(max_rounds):
        big = shapely.get_num_coordinates(geoms) > max_vertices
        done_g.append(geoms[~big])
        done_p.append(parent[~big])
        geoms, parent = geoms[big], parent[big]
        if not len(geoms):
            break
        x0, y0, x1, y1 = shapely.bounds(geoms).T
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        boxes = [shapely.box(x0, y0, xm, ym), shapely.box(xm, y0, x1, ym),
                 shapely.box(x0, ym, xm, y1), shapely.box(xm, ym, x1, y1)]
        geoms = np.concatenate([shapely.intersection(geoms, b) for b in boxes])
        parent = np.tile(parent, 4)
        ok = ~shapely.is_empty(geoms)
        geoms, parent = geoms[ok], parent[ok]
    done_g.append(geoms)
    done_p.append(parent)
    return np.concatenate(done_g), np.concatenate(done_p)


def _polygon_sampler(polys, crs: pyproj.CRS | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if isinstance(polys, gpd.GeoDataFrame | gpd.GeoSeries):
        if crs is not None and polys.crs is not None:
            polys = polys.to_crs(crs)
        depth = (pd.to_numeric(polys["depth"], errors="coerce").to_numpy(dtype="float64")
                 if isinstance(polys, gpd.GeoDataFrame) and "depth" in polys else np.full(len(polys), np.inf))
        geoms = np.asarray(polys.geometry.values)
    else:  # a shapely geometry, taken to be in ``crs`` already
        geoms = np.asarray(shapely.get_parts(polys))
        depth = np.full(len(geoms), np.inf)
    depth = np.where(np.isfinite(depth) | np.isinf(depth), depth, np.inf)  # wet polygon, depth unknown: inf
    geoms, parent = _subdivide(geoms)
    depth = depth[parent]
    tree = shapely.STRtree(geoms)

    def sample(x, y):
        pts = shapely.points(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))
        out = np.full(len(pts), np.nan)
        i, j = tree.query(pts, predicate="intersects")
        if len(i):
            d = pd.Series(depth[j]).groupby(i).max()
            out[d.index.to_numpy()] = d.to_numpy()
        return out

    return sample


def wet_mask_sampler(hazard_like: Any, *, crs: object | None = None) -> Callable[[np.ndarray, np.ndarray],
                                                                               np.ndarray]:
    """A function ``(x, y) -> depth`` (metres, NaN where dry) over any form of flooded area.

    Parameters
    ----------
    hazard_like
        One of: a :class:`layers.raster.Raster` of depth (NaN or nodata = dry); a GeoDataFrame or
        GeoSeries of wet polygons (a ``depth`` column gives the depth, else the depth is ``inf``:
        wet, depth unknown); a shapely (Multi)Polygon, taken to be in ``crs``; or an object with
        ``depth`` and/or ``polygons`` attributes (``gis.flood.hazard.Hazard``): the larger of the two.
    crs : optional
        CRS of the ``x, y`` the returned function will get (the graph's). Rasters and layers with
        another CRS are reprojected.

    Returns
    -------
    callable
        ``f(x, y)`` on arrays of coordinates; returns a float array.
    """
    c = pyproj.CRS.from_user_input(crs) if crs is not None else None
    if hasattr(hazard_like, "array") and hasattr(hazard_like, "transform"):
        return _raster_sampler(hazard_like, c)
    if isinstance(hazard_like, gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry):
        return _polygon_sampler(hazard_like, c)
    fns = []
    for attr in ("depth", "polygons"):
        part = getattr(hazard_like, attr, None)
        if part is not None:
            fns.append(wet_mask_sampler(part, crs=c))
    if not fns:
        raise TypeError(f"cannot read a flooded area from {type(hazard_like).__name__}")
    if len(fns) == 1:
        return fns[0]

    def both(x, y):
        with np.errstate(invalid="ignore"):
            return np.fmax(fns[0](x, y), fns[1](x, y))

    return both
