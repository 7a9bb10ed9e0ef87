"""Polygons where a layer wants points (water bodies, buildings), and shelter capacity from floor area.

OpenStreetMap and land surveys draw water bodies and shelter buildings as polygons; the water-source,
camera and grave layers hold points. :func:`points_from_polygons` replaces each polygon with a
representative point (a point inside it, not the centroid, which can fall outside a U-shaped
reservoir) and keeps the polygon's area in square metres (field ``area``), with a note.

A shelter without a capacity in persons can have one estimated from its floor area (its ``area``
field, else the footprint of its polygon) at :data:`SHELTER_M2_PER_PERSON`
(:func:`estimate_capacity`); such rows are marked in ``capacity_estimated`` and the summary says
how many and how many people.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.crs import metric_crs
from layers.errors import Problem
from layers.schema import LayerSpec
from layers.text import Text

__all__ = ["SHELTER_M2_PER_PERSON", "AREA_FIELD", "ESTIMATED_FIELD", "points_from_polygons", "polygon_area_m2",
           "can_estimate_capacity", "estimate_capacity"]

#: floor area per sheltered person, m², for a capacity estimated from floor area. The rate the project's
#: real-data preparation uses (capacity = footprint / 2 m², ../shared/realdata/README.md); China's
#: shelter design code GB 51143-2015 sets the per-person effective area by shelter class, and a local
#: plan's own rate should replace the estimate (edit the capacity, the mark goes with it).
SHELTER_M2_PER_PERSON: float = 2.0
#: the field that keeps a polygon's area (m²)
AREA_FIELD = "area"
#: the shelters field marking an estimated capacity
ESTIMATED_FIELD = "capacity_estimated"

_POLY = ("Polygon", "MultiPolygon")


def polygon_area_m2(geoms: gpd.GeoSeries) -> np.ndarray:
    """Areas in m² of polygons in any CRS (NaN without a CRS, 0 for non-polygons).

    Computed in the metric CRS of their extent (:func:`layers.crs.metric_crs`).
    """
    out = np.zeros(len(geoms))
    poly = geoms.geom_type.isin(_POLY).to_numpy()
    if not poly.any():
        return out
    if geoms.crs is None:
        out[poly] = np.nan
        return out
    ll = geoms[poly].to_crs("EPSG:4490")
    bounds = tuple(float(v) for v in ll.total_bounds)
    if not all(math.isfinite(v) for v in bounds):
        out[poly] = np.nan
        return out
    try:
        metric = metric_crs(bounds)
    except ValueError:
        out[poly] = np.nan
        return out
    out[poly] = ll.to_crs(metric).area.to_numpy()
    return out


def points_from_polygons(raw: gpd.GeoDataFrame, spec: LayerSpec | None, *, source: str
                         ) -> tuple[gpd.GeoDataFrame, list[Text]]:
    """A point layer given polygons: each polygon becomes a point inside it, its area kept.

    Parameters
    ----------
    raw : geopandas.GeoDataFrame
        As read (CRS resolved where possible), the file's own columns.
    spec : LayerSpec or None
        The kind it is imported as; only kinds that take points but not polygons are changed. None:
        points of no particular kind (candidate sites).
    source : str
        File name for the note.

    Returns
    -------
    tuple
        ``(layer, notes)``: polygon rows replaced by their representative point; the area (m², 0.1
        m) in the column the file uses for the kind's ``area`` field when it has one (only its empty
        cells filled), else in a new ``area`` column (``area_m2`` when the file already has an
        unrelated ``area``); a note saying how many. Unchanged when there is no polygon.
    """
    if (spec is not None and ("Point" not in spec.geometry or "Polygon" in spec.geometry)) or not len(raw):
        return raw, []
    geoms = raw.geometry
    poly = geoms.geom_type.isin(_POLY).to_numpy()
    if not poly.any():
        return raw, []
    area = np.round(polygon_area_m2(geoms), 1)
    arr = geoms.to_numpy().copy()
    fixed = shapely.make_valid(arr[poly])
    arr[poly] = shapely.point_on_surface(fixed)
    out = raw.copy()
    out = out.set_geometry(gpd.GeoSeries(arr, index=raw.index, crs=raw.crs))
    out.attrs = dict(raw.attrs)
    column = None
    if spec is not None and any(f.name == AREA_FIELD for f in spec.fields):
        mapped = spec.match_columns([c for c in raw.columns if c not in ("_row", raw.geometry.name)])
        column = next((c for c, canon in mapped.items() if canon == AREA_FIELD), None)
    if column is not None:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=float)
        empty = poly & np.isnan(values) & out[column].isna().to_numpy()
        if empty.any():
            col = out[column].astype(object)
            col[empty] = area[empty]
            out[column] = col
    else:
        column = AREA_FIELD if AREA_FIELD not in out.columns else "area_m2"
        out[column] = np.where(poly, area, np.nan)
    n = int(poly.sum())
    total = float(np.nansum(area[poly]))
    note = Text(f"{source}：{n} 个面要素（如水面、建筑轮廓）已改为面内的代表点，"
                f"面积（平方米，共 {total:,.0f}）保留在“{column}”字段",
                f"{source}: {n} polygon(s) (water bodies, building footprints...) became a representative point "
                f"inside each; the polygon's area (m², {total:,.0f} in all) is kept in the field '{column}'",
                "points_from_polygons")
    return out, [note]


def can_estimate_capacity(raw: gpd.GeoDataFrame, spec: LayerSpec) -> bool:
    """Whether a shelters file could have missing capacities estimated (it has polygons or an area column)."""
    if spec.kind != "shelters" or not len(raw):
        return False
    if raw.geometry.geom_type.isin(_POLY).any():
        return True
    mapped = spec.match_columns([c for c in raw.columns if c not in ("_row", raw.geometry.name)])
    return AREA_FIELD in mapped.values()


def estimate_capacity(gdf: gpd.GeoDataFrame, spec: LayerSpec, *, source: str, rows: pd.Series,
                      had_column: bool, m2_per_person: float = SHELTER_M2_PER_PERSON
                      ) -> tuple[gpd.GeoDataFrame, list[Text], list[Problem]]:
    """Fill missing shelter capacities from floor area.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Validated shelters (capacity optional), in their own CRS or EPSG:4490.
    spec : LayerSpec
        The shelters spec (for the field labels in problems).
    source : str
        File name for notes and problems.
    rows : pandas.Series
        The row labels the user sees, aligned with ``gdf``.
    had_column : bool
        Whether the file has a capacity column at all (decides how a row that cannot be estimated
        is reported).
    m2_per_person : float
        Floor area per person.

    Returns
    -------
    tuple
        ``(shelters, notes, problems)``. Empty capacities become ``floor(area / m2_per_person)``
        where ``area`` is the row's floor area, else its footprint (which then also fills
        ``area``); those rows get ``capacity_estimated = True`` (others False). ``problems`` lists
        the rows that have neither a capacity nor an area, worded as validation words a missing
        required field.
    """
    out = gdf.copy()
    out.attrs = dict(gdf.attrs)
    n = len(out)
    cap = pd.array(out["capacity"], dtype="Int64") if "capacity" in out else pd.array([pd.NA] * n, dtype="Int64")
    missing = np.asarray(pd.isna(cap), dtype=bool)
    given = pd.to_numeric(out[AREA_FIELD], errors="coerce").to_numpy(dtype=float) if AREA_FIELD in out \
        else np.full(n, np.nan)
    footprint = polygon_area_m2(out.geometry)
    is_poly = out.geometry.geom_type.isin(_POLY).to_numpy()
    filled_area = np.isnan(given) & is_poly & np.isfinite(footprint)
    floor = np.round(np.where(np.isnan(given), np.where(is_poly, footprint, np.nan), given), 1)
    can = missing & np.isfinite(floor) & (floor > 0)
    estimate = np.floor(floor[can] / m2_per_person).astype("int64")
    cap = cap.copy()
    cap[np.flatnonzero(can)] = estimate
    out["capacity"] = cap
    area_col = given.copy()
    area_col[filled_area] = np.round(footprint[filled_area], 1)
    if AREA_FIELD in out or filled_area.any():
        out[AREA_FIELD] = area_col
    out[ESTIMATED_FIELD] = pd.array(can, dtype="boolean")
    notes: list[Text] = []
    if can.any():
        k, people = int(can.sum()), int(estimate.sum())
        notes.append(Text(
            f"{source}：{k} 个场所没有容纳人数，已按面积每 {m2_per_person:g} 平方米 1 人估算（共 {people:,} 人），"
            f"并在“容纳人数为估算”字段标记；请按实际核定后修改",
            f"{source}: {k} shelter(s) had no capacity; estimated from floor area at {m2_per_person:g} m² per "
            f"person ({people:,} people in all) and marked in the field 'Capacity estimated'; check and correct "
            "them", "capacity_estimated"))
    if filled_area.any():
        notes.append(Text(f"{source}：{int(filled_area.sum())} 个场所的面积取自其轮廓面（占地面积，按一层计）",
                          f"{source}: the area of {int(filled_area.sum())} shelter(s) is their outline's footprint "
                          "(one floor)", "area_from_footprint"))
    problems: list[Problem] = []
    left = missing & ~can
    if left.any():
        f = spec.field("capacity")
        fix_zh = f"填写容纳人数，或给出面积（{AREA_FIELD} / 面积）或建筑轮廓面，按每 {m2_per_person:g} 平方米 1 人估算"
        fix_en = (f"fill in the capacity, or give the floor area (area) or the building outline to estimate it at "
                  f"{m2_per_person:g} m² per person")
        if not had_column:
            names = "、".join(dict.fromkeys((f.zh, *f.aliases[:5])))
            problems.append(Problem(f"缺少必填字段“{f.zh}”（{int(left.sum())} 个场所既无容纳人数也无面积，无法估算）",
                                    f"required field '{f.en}' is missing ({int(left.sum())} shelter(s) have neither a "
                                    "capacity nor an area to estimate it from)",
                                    f"添加一列，列名可用：{names}；或{fix_zh}", fix_en, file=source, field=f.zh))
        else:
            for i in np.flatnonzero(left)[:20]:
                problems.append(Problem(f"必填字段“{f.zh}”为空", f"required field '{f.en}' is empty", fix_zh, fix_en,
                                        file=source, row=rows.iloc[i], field=f.zh))
            if left.sum() > 20:
                problems.append(Problem(f"另有 {int(left.sum()) - 20} 行同样的问题",
                                        f"{int(left.sum()) - 20} more rows with the same problem", fix_zh, fix_en,
                                        file=source, field=f.zh))
    return out, notes, problems
