"""Height Above Nearest Drainage (HAND) from a DEM with pyflwdir, and flood depth from a water level.

HAND is the drop from a cell to the stream cell its flow path first reaches (Nobre et al. 2016).
With a water level (stage) ``h`` above the streams, every cell with ``HAND < h`` is wet and its
depth is ``h - HAND``: a *screening* inundation map (HAND maps score a critical success index of
about 0.4-0.7 against detailed hydraulic models), good enough to find who may be in danger, not
to replace a hydraulic study.

The pipeline is pyflwdir's own: :func:`pyflwdir.from_dem` (fills depressions, D8 directions by
steepest drop), :meth:`~pyflwdir.FlwdirRaster.upstream_area` in km², streams where the upstream
area reaches a threshold in km² (an area, so the same streams whatever the DEM's cell size), or a
given stream raster, or a river layer rasterised onto the DEM grid, then
:meth:`~pyflwdir.FlwdirRaster.hand`.

Cells without data are told apart: the no-data margin around a reprojected DEM (invalid cells
connected to the raster's edge) lies *outside* the DEM's coverage and is left out of the flow
routing; invalid cells inside the coverage are *voids* (SRTM's holes), filled from the nearest
valid cell for routing and given no HAND.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numba
import numpy as np
from scipy import ndimage

from gis.projection import reproject_to
from layers.errors import LayerError, problem
from layers.raster import Raster
from layers.text import Text

__all__ = ["DEFAULT_MIN_UPSTREAM_KM2", "FlowRouting", "flow_routing", "flwdir_hand", "hand", "hand_with_notes",
           "depth_from_stage", "fill_voids", "outside_mask"]

#: default stream threshold: cells draining at least this area, km² (about 1,100 cells of 30 m, 120 of 90 m)
DEFAULT_MIN_UPSTREAM_KM2 = 1.0

_Note = Text


def outside_mask(valid: np.ndarray) -> np.ndarray:
    """Invalid cells connected (8-neighbours) to the raster's edge: the no-data margin outside the data's coverage."""
    invalid = ~valid
    if not invalid.any():
        return invalid
    lab, n = ndimage.label(invalid, structure=np.ones((3, 3), dtype=bool))
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    edge = edge[edge > 0]
    return np.isin(lab, edge)


def fill_voids(dem: Raster) -> tuple[np.ndarray, int]:
    """The DEM array with void (NaN/nodata) cells set to the value of the nearest valid cell.

    Parameters
    ----------
    dem : Raster
        Elevations; voids are NaN or ``dem.nodata``.

    Returns
    -------
    tuple
        ``(float64 array without voids, number of voids filled)``.

    Raises
    ------
    LayerError
        When the DEM has no valid cell at all.
    """
    valid = dem.valid_mask()
    arr = np.asarray(dem.array, dtype="float64")
    voids = int(valid.size - np.count_nonzero(valid))
    if voids == 0:
        return arr, 0
    if not valid.any():
        raise LayerError(problem("高程中没有有效值", "the DEM has no valid cells", "检查 DEM 文件及其无数据值",
                                 "check the DEM file and its nodata value", file=dem.name or None))
    _, (ri, ci) = ndimage.distance_transform_edt(~valid, return_distances=True, return_indices=True)
    return arr[ri, ci], voids


def _rasterise_rivers(rivers: gpd.GeoDataFrame, dem: Raster) -> np.ndarray:
    from rasterio.features import rasterize

    g = reproject_to(rivers, dem.crs)
    geoms = [geom for geom in g.geometry if geom is not None and not geom.is_empty]
    if not geoms:
        return np.zeros(dem.shape, dtype=bool)
    # river areas: their outlines count too, so narrow polygons still give a line of stream cells
    shapes = geoms + [geom.boundary for geom in geoms if geom.geom_type in ("Polygon", "MultiPolygon")]
    return rasterize(shapes, out_shape=dem.shape, transform=dem.transform, fill=0, default_value=1,
                     all_touched=True, dtype="uint8").astype(bool)


@functools.cache
def _hand_kernel():
    """pyflwdir's own HAND routine (``pyflwdir.dem.height_above_nearest_drain``) compiled with numba.

    pyflwdir (0.5.12) ships it as a plain Python loop over every cell, unlike its other routines: about
    20 s on the demo county's 2.5 M-cell terrain grid, well under a second compiled. The same code, so the
    same numbers (``tests/test_hand.py`` checks it against :meth:`pyflwdir.FlwdirRaster.hand`).
    """
    from pyflwdir import dem as pyflwdir_dem

    return numba.njit(cache=True, nogil=True)(pyflwdir_dem.height_above_nearest_drain)


def flwdir_hand(flw: Any, drain: np.ndarray, elevtn: np.ndarray) -> np.ndarray:
    """``flw.hand(drain=drain, elevtn=elevtn)`` (:meth:`pyflwdir.FlwdirRaster.hand`), compiled.

    Parameters
    ----------
    flw : pyflwdir.FlwdirRaster
        Flow directions.
    drain : numpy.ndarray
        Stream cells (bool, the flow grid's shape).
    elevtn : numpy.ndarray
        Elevations on the flow grid.

    Returns
    -------
    numpy.ndarray
        float64 HAND on the flow grid, ``-9999`` where pyflwdir gives it (cells off the routing).
    """
    out = _hand_kernel()(flw.idxs_ds, flw.idxs_seq, np.ascontiguousarray(drain, dtype=np.bool_).ravel(),
                         np.ascontiguousarray(elevtn).ravel())
    return out.reshape(flw.shape)


@numba.njit(cache=True)
def _walk(idxs_ds, seq, drain, out):  # pragma: no cover - compiled
    for idx0 in seq:
        out[idx0] = drain[idx0] or out[idxs_ds[idx0]]
    return out


def _reaches_drain(idxs_ds: np.ndarray, seq: np.ndarray, drain: np.ndarray) -> np.ndarray:
    """Flattened bool: the cell's flow path meets a drain cell.

    Cells in ``seq`` only; ``seq`` runs down- to upstream."""
    out = np.zeros(drain.size, dtype=np.bool_)
    return _walk(idxs_ds, seq, drain, out)


@dataclass
class FlowRouting:
    """The DEM's flow routing, the part of HAND that does not depend on where the streams are.

    Built once per DEM by :func:`flow_routing` and reused for every stream definition (an upstream-area
    threshold, the rivers layer): filling depressions and the D8 directions are most of HAND's work.

    Attributes
    ----------
    flw : pyflwdir.FlwdirRaster
        Flow directions (:func:`pyflwdir.from_dem`).
    elev : numpy.ndarray
        Elevations routed (voids filled, ``-9999`` outside the coverage).
    valid : numpy.ndarray
        The DEM's valid cells.
    notes : list
        What was assumed (voids filled, a lon/lat DEM).
    """

    flw: Any
    elev: np.ndarray
    valid: np.ndarray
    notes: list[_Note] = field(default_factory=list)


def flow_routing(dem: Raster) -> FlowRouting:
    """Fill the DEM's voids, leave out the no-data margin and route the flow (:func:`pyflwdir.from_dem`).

    Raises
    ------
    LayerError
        A DEM smaller than 2 x 2 cells or without a valid cell.
    """
    if dem.array.ndim != 2 or min(dem.shape) < 2:
        raise LayerError(problem("DEM 至少需要 2 行 2 列", "the DEM needs at least 2 rows and 2 columns",
                                 "检查 DEM 文件", "check the DEM file", file=dem.name or None))
    import pyflwdir

    notes: list[_Note] = []
    elev, _ = fill_voids(dem)
    valid = dem.valid_mask()
    outside = outside_mask(valid)
    voids = int(np.count_nonzero(~valid & ~outside))
    inside = valid.size - int(np.count_nonzero(outside))
    if voids:
        notes.append(Text(f"DEM 有 {voids:,} 个空洞像元（覆盖范围内的 {voids / max(inside, 1):.2%}），"
                          "已按最近有效像元插补后再计算汇流；这些像元的 HAND 不输出",
                          f"the DEM has {voids:,} void cells ({voids / max(inside, 1):.2%} of its coverage); they were "
                          "filled from the nearest valid cell before flow routing, and get no HAND value", "dem_voids"))
    if outside.any():
        elev = np.where(outside, -9999.0, elev)
    latlon = bool(dem.is_geographic)
    if latlon:
        notes.append(Text("DEM 为经纬度坐标，流向按经纬度网格计算（latlon=True）；"
                          "建议先投影到米制坐标以得到更准确的结果",
                          "the DEM is in lon/lat: flow directions were computed on the geographic grid "
                          "(latlon=True); project it to a metric CRS for better results", "dem_lonlat_flow"))
    flw = pyflwdir.from_dem(elev.astype("float32"), nodata=-9999.0, transform=dem.transform, latlon=latlon)
    return FlowRouting(flw, elev, valid, notes)


def hand_with_notes(dem: Raster, *, streams: Raster | np.ndarray | None = None,
                    rivers: gpd.GeoDataFrame | None = None, min_upstream_km2: float | None = None,
                    min_upstream_cells: int | None = None,
                    routing: FlowRouting | None = None) -> tuple[Raster, list[_Note]]:
    """:func:`hand` and the notes (:class:`~layers.text.Text`) about what was assumed (voids filled, lon/lat DEM,
    streams).

    ``routing`` is :func:`flow_routing` of ``dem`` when the caller keeps it (default: routed here).
    """
    routing = routing if routing is not None else flow_routing(dem)
    flw, elev, valid = routing.flw, routing.elev, routing.valid
    notes: list[_Note] = list(routing.notes)
    if streams is not None:
        arr = streams.array if isinstance(streams, Raster) else np.asarray(streams)
        if arr.shape != dem.shape:
            raise LayerError(problem(
                f"河网栅格大小 {arr.shape} 与 DEM {dem.shape} 不一致", f"the stream raster is {arr.shape}, the DEM "
                f"{dem.shape}: they must share one grid", "把河网栅格重采样到 DEM 网格", "resample the stream raster "
                "onto the DEM's grid", file=getattr(streams, "name", "") or None))
        if isinstance(streams, Raster):
            drain = streams.valid_mask() & (np.nan_to_num(np.asarray(arr, dtype="float64")) > 0)
        else:
            drain = arr.astype(bool)
        how = Text("给定河网栅格", "the given stream raster", "streams_given")
    elif rivers is not None and len(rivers):
        drain = _rasterise_rivers(rivers, dem)
        how = Text("河流图层栅格化到 DEM 网格", "the river layer rasterised onto the DEM grid", "streams_rivers")
    else:
        if min_upstream_cells is not None:
            n = int(min_upstream_cells)
            drain = flw.upstream_area(unit="cell") >= n
            how = Text(f"汇流像元数 ≥ {n:,}", f"upstream area of at least {n:,} cells", "streams_cells")
        else:
            km2 = float(DEFAULT_MIN_UPSTREAM_KM2 if min_upstream_km2 is None else min_upstream_km2)
            if not math.isfinite(km2) or km2 <= 0:
                raise LayerError(problem(f"汇流面积阈值 {km2} 无效", f"invalid upstream-area threshold {km2}",
                                         "输入大于 0 的平方千米数，如 1.0", "give a positive number of km², e.g. 1.0"))
            drain = flw.upstream_area(unit="km2") >= km2
            how = Text(f"汇流面积 ≥ {km2:g} 平方千米", f"upstream area of at least {km2:g} km²", "streams_km2")
    drain &= valid
    n_drain = int(np.count_nonzero(drain))
    if n_drain == 0:
        notes.append(Text("没有河道像元：HAND 全部无定义，请降低汇流面积阈值或提供河流图层",
                          "no stream cells: HAND is undefined everywhere; lower the upstream-area threshold or give a "
                          "river layer", "no_streams"))
        return Raster(np.full(dem.shape, np.nan, dtype="float32"), dem.transform, dem.crs, nodata=-9999.0,
                      name="hand"), notes
    notes.append(Text(f"河道：{how[0]}，共 {n_drain:,} 个像元", f"streams: {how[1]}, {n_drain:,} cells", "streams"))
    h = flwdir_hand(flw, drain, elev)
    flat_drain = drain.ravel()
    reach = _reaches_drain(flw.idxs_ds, flw.idxs_seq, flat_drain).reshape(dem.shape)
    h = h.astype("float32")
    undefined = ~reach | ~valid | (h == -9999.0)
    neg = (h < 0) & ~undefined
    if neg.any():
        # closed depressions filled by from_dem: cells below the spill level drain to a higher stream cell
        notes.append(Text(f"{int(neg.sum()):,} 个洼地像元低于其下游河道，HAND 记为 0",
                          f"{int(neg.sum()):,} cells in closed depressions lie below their stream; HAND set to 0",
                          "hand_depressions"))
        h[neg] = 0.0
    h[undefined] = np.nan
    n_undef = int(np.count_nonzero(~reach & valid))
    if n_undef:
        notes.append(Text(f"{n_undef:,} 个像元的水流不经过任何河道（流出边界或汇入无河道的洼地），HAND 无定义",
                          f"{n_undef:,} cells drain to no stream (off the edge or into a stream-less pit): "
                          "HAND undefined there", "hand_undefined"))
    return Raster(h, dem.transform, dem.crs, nodata=-9999.0, name="hand"), notes


def hand(dem: Raster, *, streams: Raster | np.ndarray | None = None, rivers: gpd.GeoDataFrame | None = None,
         min_upstream_km2: float | None = None, min_upstream_cells: int | None = None,
         routing: FlowRouting | None = None) -> Raster:
    """Height Above Nearest Drainage on the DEM's grid.

    Parameters
    ----------
    dem : Raster
        Elevations in metres. Voids (NaN) are filled from the nearest valid cell for routing and
        get no HAND. A lon/lat DEM is routed with ``latlon=True`` (noted).
    streams : Raster or numpy.ndarray, optional
        Stream cells (non-zero / True) on the DEM's grid.
    rivers : GeoDataFrame, optional
        River lines or areas, rasterised onto the DEM grid (``all_touched``) as the streams
        (any CRS; reprojected to the DEM's).
    min_upstream_km2 : float, optional
        Stream threshold as an upstream area in km² when neither ``streams`` nor ``rivers`` is given
        (default :data:`DEFAULT_MIN_UPSTREAM_KM2`): the same streams whatever the DEM's cell size.
    min_upstream_cells : int, optional
        The threshold in cells instead (depends on the cell size: for tests and experts).
    routing : FlowRouting, optional
        :func:`flow_routing` of ``dem``, kept by a caller that asks for several stream definitions
        (default: routed here).

    Returns
    -------
    Raster
        float32 HAND in metres, ``NaN`` where undefined (voids, cells draining to no stream),
        ``nodata=-9999`` for writing. The notes (:class:`~layers.text.Text`) are in ``.warnings``.

    Raises
    ------
    LayerError
        A DEM with no valid cells, or a stream raster on another grid.
    """
    r, notes = hand_with_notes(dem, streams=streams, rivers=rivers, min_upstream_km2=min_upstream_km2,
                               min_upstream_cells=min_upstream_cells, routing=routing)
    r.warnings = notes
    return r


def depth_from_stage(hand: Raster, stage_m: float) -> Raster:
    """Flood depth for a water level ``stage_m`` metres above the streams.

    Parameters
    ----------
    hand : Raster
        HAND in metres (NaN where undefined).
    stage_m : float
        Water level above the stream cells, metres (> 0).

    Returns
    -------
    Raster
        float32 depth ``stage_m - HAND`` where ``HAND < stage_m``; NaN elsewhere (dry or undefined).

    Raises
    ------
    LayerError
        When the stage is not a positive finite number.
    """
    s = float(stage_m)
    if not math.isfinite(s) or s <= 0:
        raise LayerError(problem(f"水位 {stage_m} 无效：应为大于 0 的米数", f"invalid stage {stage_m}: it must be "
                                 "a positive number of metres", "输入大于 0 的水位（米）", "enter a stage above 0 m"))
    h = np.asarray(hand.array, dtype="float32")
    with np.errstate(invalid="ignore"):
        depth = np.where(h < s, np.float32(s) - h, np.float32(np.nan)).astype("float32")
    return Raster(depth, hand.transform, hand.crs, nodata=-9999.0, name=f"stage {s:g} m")
