"""Flood hazard scenarios: a depth raster, danger-zone polygons, or a water level on HAND.

A :class:`Hazard` is what exposure (:mod:`gis.exposure`) is computed against. Whatever its source,
depths are metres and *dry is NaN* (raster) or *outside every polygon* (polygons). Each
constructor records what it assumed or repaired as ``(zh, en)`` notes, so the page and the
command line can say it: a depth raster in centimetres, negative depths, an all-dry scenario,
overlapping polygons, a HAND screening map.

Depth classes: thresholds ``t1 < t2 < ... < tn`` (default :data:`DEFAULT_THRESHOLDS`, metres)
give classes ``0`` dry, ``1`` wet below ``t1``, ``2`` in ``[t1, t2)``, ..., ``n + 1`` at or above
``tn`` (:func:`depth_class`, labels from :func:`class_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from layers.errors import LayerError, problem
from layers.raster import Raster

__all__ = ["DEFAULT_THRESHOLDS", "SCREENING_LABEL", "Hazard", "depth_class", "class_labels", "parse_thresholds",
           "reproject_to", "crs_of"]

#: default depth-class thresholds, metres
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.5, 1.5, 3.0)

#: the label every HAND-based scenario carries
SCREENING_LABEL: tuple[str, str] = (
    "筛查方法：HAND（相对最近河道高差）淹没图与精细水力模型成果相比，临界成功指数（CSI）约 0.4-0.7，仅供初步判断",
    "screening method: HAND maps score a CSI of about 0.4-0.7 against detailed hydraulic maps; use for a first look",
)

#: largest plausible depth in metres; a raster whose values go beyond it is read as centimetres
CM_DETECT_M = 100.0

_Note = tuple[str, str]
METHODS = ("depth_raster", "polygons", "hand_stage")


def crs_of(obj: object) -> pyproj.CRS | None:
    """A pyproj CRS from a pyproj/rasterio CRS, a GeoDataFrame or a Raster (None when missing)."""
    crs = getattr(obj, "crs", obj)
    if crs is None:
        return None
    if isinstance(crs, pyproj.CRS):
        return crs
    return pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)


def reproject_to(gdf: gpd.GeoDataFrame, crs: object) -> gpd.GeoDataFrame:
    """``gdf`` in ``crs`` (unchanged when it is already there; attrs kept).

    Raises
    ------
    LayerError
        When either side has no CRS.
    """
    target = crs_of(crs)
    if gdf.crs is None or target is None:
        raise LayerError(problem("图层或栅格没有坐标系，无法叠加", "a layer or raster has no CRS; they cannot be overlaid",
                                 "为数据指定坐标系后重新导入", "give the data a CRS and import it again",
                                 file=gdf.attrs.get("source") or None))
    if pyproj.CRS.from_user_input(gdf.crs).equals(target):
        return gdf
    attrs = dict(gdf.attrs)
    out = gdf.to_crs(target)
    out.attrs = attrs
    return out


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


def depth_class(depth: np.ndarray | float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Depth class of each value: 0 dry (NaN or <= 0), 1 wet below ``thresholds[0]``, ..., ``n + 1`` at or above the last.

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
    ge, unit = ("≥", "米") if lang == "zh" else (">=", "m")
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
    notes : list of (zh, en)
        What was assumed or repaired.
    screening : bool
        True for HAND scenarios (see :data:`SCREENING_LABEL`).
    stage_m : float or None
        The water level of a HAND scenario.
    """

    name: str
    depth: Raster | None = None
    polygons: gpd.GeoDataFrame | None = None
    method: str = "depth_raster"
    notes: list[_Note] = field(default_factory=list)
    screening: bool = False
    stage_m: float | None = None

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

    def messages(self, lang: str = "zh") -> list[str]:
        """The notes (and the screening label) in one language."""
        notes = list(self.notes)
        if self.screening and SCREENING_LABEL not in notes:
            notes.insert(0, SCREENING_LABEL)
        return [zh if lang == "zh" else en for zh, en in notes]

    # ---- constructors ----------------------------------------------------------------------------------------
    @classmethod
    def from_depth_raster(cls, r: Raster, *, source: str | None = None, name: str | None = None) -> "Hazard":
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
            notes.append((f"水深最大值 {vmax:g} 超过 {CM_DETECT_M:g}，按厘米处理并换算为米（最大 {vmax / 100:g} 米）",
                          f"the largest depth {vmax:g} is over {CM_DETECT_M:g}: read as centimetres and converted "
                          f"to metres (largest {vmax / 100:g} m)"))
        with np.errstate(invalid="ignore"):
            neg = int(np.count_nonzero(a < 0))
            a[~(a > 0)] = np.nan
        if neg:
            notes.append((f"{neg:,} 个像元水深为负值，按无水（干）处理", f"{neg:,} cells have negative depths; taken as dry"))
        if not np.isfinite(a).any():
            notes.append(("水深栅格中没有大于 0 的水深：本情景无淹没，受影响人口为 0",
                          "the depth raster has no depth above 0: nothing is flooded in this scenario, so no one "
                          "is affected"))
        out = Raster(a, r.transform, r.crs, nodata=-9999.0, name=source)
        return cls(name=name or source, depth=out, method="depth_raster", notes=notes)

    @classmethod
    def from_polygons(cls, gdf: gpd.GeoDataFrame, *, source: str | None = None,
                      name: str | None = None) -> "Hazard":
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
        source = source or gdf.attrs.get("source") or "hazard"
        notes: list[_Note] = list(gdf.attrs.get("warnings", []) or [])
        if gdf.crs is None:
            raise LayerError(problem("危险区图层没有坐标系", "the danger-zone layer has no CRS",
                                     "为数据指定坐标系后重新导入", "give the layer a CRS and import it again", file=source))
        g = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy()
        g = g[g.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
        if len(g) == 0 and len(gdf):
            raise LayerError(problem("危险区图层中没有面要素", "the danger-zone layer has no polygons",
                                     "上传面（多边形）图层", "upload a polygon layer", file=source))
        if "depth" in g:
            d = g["depth"].astype("float64")
            neg = int((d < 0).sum())
            if neg:
                notes.append((f"{neg} 个危险区水深为负，按水深未知处理", f"{neg} danger zones have negative depth; "
                              "taken as unknown depth"))
            d = d.where(d >= 0)
            if d.notna().any() and float(d.max()) > CM_DETECT_M:
                notes.append((f"危险区水深最大值 {float(d.max()):g} 超过 {CM_DETECT_M:g}，按厘米换算为米",
                              f"the largest zone depth {float(d.max()):g} is over {CM_DETECT_M:g}: read as "
                              "centimetres and converted to metres"))
                d = d / 100.0
            g["depth"] = d
            unknown = int(d.isna().sum())
            if unknown:
                notes.append((f"{unknown} 个危险区没有水深，按“有水、水深未知”计入受影响范围",
                              f"{unknown} danger zones have no depth: counted as wet with unknown depth"))
        else:
            g["depth"] = np.nan
            notes.append(("危险区没有水深字段：所有危险区都按“有水、水深未知”处理，不分水深等级",
                          "the danger zones have no depth field: every zone counts as wet with unknown depth, "
                          "without depth classes"))
        if "hazard_class" not in g:
            g["hazard_class"] = None
        g = g[["depth", "hazard_class", "geometry"]]
        g = _disjoint(g, notes)
        g.attrs["source"] = source
        if len(g) == 0:
            notes.append(("没有危险区：本情景无淹没", "no danger zones: nothing is flooded in this scenario"))
        return cls(name=name or source, polygons=g, method="polygons", notes=notes)

    @classmethod
    def from_stage(cls, dem: Raster, stage_m: float, *, hand: Raster | None = None,
                   rivers: gpd.GeoDataFrame | None = None, min_upstream_cells: int | None = None,
                   name: str | None = None) -> "Hazard":
        """A screening scenario: a water level ``stage_m`` above the streams, on HAND from the DEM.

        Parameters
        ----------
        dem : Raster
            Elevations in metres (used only when ``hand`` is not given).
        stage_m : float
            Water level above the stream cells, metres.
        hand : Raster, optional
            Precomputed HAND (from :func:`gis.hand.hand`) to reuse across stages.
        rivers, min_upstream_cells
            Stream definition, see :func:`gis.hand.hand`.
        name : str, optional
            Scenario name; default ``"水位 {stage} m"``.

        Returns
        -------
        Hazard
            ``method='hand_stage'``, ``screening=True``.
        """
        from gis.hand import depth_from_stage
        from gis.hand import hand as compute_hand

        notes: list[_Note] = [SCREENING_LABEL]
        if hand is None:
            hand = compute_hand(dem, rivers=rivers, min_upstream_cells=min_upstream_cells)
        notes += list(getattr(hand, "warnings", []) or [])
        depth = depth_from_stage(hand, stage_m)
        if not np.isfinite(depth.array).any():
            notes.append((f"水位 {stage_m:g} 米时没有像元被淹没", f"nothing is flooded at a stage of {stage_m:g} m"))
        return cls(name=name or f"水位 {float(stage_m):g} m", depth=depth, method="hand_stage", notes=notes,
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
    notes.append(("部分危险区相互重叠：重叠部分按水深较大者计（水深未知者优先），避免重复计算",
                  "some danger zones overlap: each shared area is counted once, in the deepest zone (unknown depth "
                  "ranks first)"))
    return res.reset_index(drop=True)


def hazard_from_file(path: Path | str, *, sublayer: str | None = None, display_name: str | None = None,
                     name: str | None = None) -> Hazard:
    """A scenario from a file: a depth GeoTIFF (metres; centimetres detected), or danger-zone polygons.

    Polygons are read and validated as the ``flood_hazard`` layer (any supported vector format).
    """
    from layers.load import RASTER_SUFFIXES, load_layer
    from layers.raster import read_raster

    path = Path(path)
    source = display_name or path.name
    if path.suffix.lower() in RASTER_SUFFIXES:
        return Hazard.from_depth_raster(read_raster(path, display_name=source), source=source, name=name)
    layer = load_layer(path, "flood_hazard", sublayer=sublayer, display_name=source)
    gdf = layer.gdf
    gdf.attrs["warnings"] = list(gdf.attrs.get("warnings", [])) + list(layer.notes)
    return Hazard.from_polygons(gdf, source=layer.source, name=name)
