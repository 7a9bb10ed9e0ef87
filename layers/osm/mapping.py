"""OpenStreetMap tags -> the catalogue's layers (canonical fields, EPSG:4326, not yet validated).

=================  =========================================================================================
layer              from
=================  =========================================================================================
``roads``          ways with ``highway`` (``road_class`` is the OSM value: the catalogue maps it and keeps
                   it in ``class_raw``); not proposed, under construction, disused or platforms; ``speed``
                   from a numeric ``maxspeed`` (mph converted)
``rivers``         ways with ``waterway`` river (干流), canal (渠道), stream (溪沟)
``forest``         areas ``landuse=forest`` or ``natural=wood``; ``forest_type`` from ``leaf_type``
``water_sources``  water bodies (``natural=water``: ``water=reservoir`` a reservoir, river/stream/canal
                   water a river intake, others a pond; ``landuse=reservoir`` a reservoir) as their
                   representative point with the area in ``area`` (m²); fire hydrants; water tanks
                   (``emergency=water_tank``, ``man_made=water_tank``/``storage_tank`` holding water,
                   ``reservoir_covered``); springs (``natural=spring``, counted with the tank rule)
``shelters``       schools, kindergartens, colleges (school); town halls, community centres (village
                   hall); sports centres, sports halls, stadiums (gym); public and government buildings
                   (public building); hotels; capacity from the floor area (:mod:`layers.osm.estimates`)
``buildings``      ways and nodes with ``building`` (not ``no``): ``use`` is the tag's value (``yes``:
                   unknown), ``floors`` from a whole ``building:levels``
``boundaries``     ``boundary=administrative`` areas: ``admin_level`` 4 province, 5 prefecture, 6 county,
                   7-8 township, 9-10 village (China tags townships 8 and villages 10; Andorra's
                   parishes are 7); code from ``ref:admin:CN`` or ``ref``; parent the smallest
                   boundary of a lower level holding it
``villages``       place nodes city, town, village, hamlet, suburb, isolated dwelling; population from the
                   ``population`` tag (else estimated)
=================  =========================================================================================
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["roads", "rivers", "forest", "water_sources", "shelter_candidates", "buildings", "boundaries",
           "places", "NOT_ROADS", "ADMIN_LEVELS", "PLACES", "SHELTER_TYPES"]

#: ``highway`` values that are not roads one can travel
NOT_ROADS = frozenset({"proposed", "construction", "abandoned", "disused", "razed", "planned", "platform", "raceway",
                       "rest_area", "services", "elevator", "corridor", "bus_stop", "emergency_bay", "no", "crossing"})
#: OSM ``admin_level`` -> the boundaries layer's level
ADMIN_LEVELS = {"4": "province", "5": "prefecture", "6": "county", "7": "township", "8": "township",
                "9": "village", "10": "village"}
#: place node types taken as villages
PLACES = ("city", "town", "suburb", "village", "hamlet", "isolated_dwelling")
#: shelter type per (tag, values)
SHELTER_TYPES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("amenity", ("school", "kindergarten", "college", "university"), "school"),
    ("amenity", ("townhall", "community_centre", "social_centre"), "village_hall"),
    ("leisure", ("sports_centre", "sports_hall", "stadium"), "gym"),
    ("building", ("sports_hall",), "gym"),
    ("amenity", ("public_building",), "public_building"),
    ("building", ("public", "civic", "government"), "public_building"),
    ("office", ("government",), "public_building"),
    ("tourism", ("hotel",), "hotel"),
)
_RIVER_CLASSES = {"river": "干流", "canal": "渠道", "stream": "溪沟"}
_LEAF = {"needleleaved": "conifer", "broadleaved": "broadleaf", "mixed": "mixed"}
_YES = {"yes", "true", "1"}


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` as stripped text (None where missing), or all None."""
    if name not in df:
        return pd.Series([None] * len(df), index=df.index, dtype=object)

    def one(v):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        text = str(v).strip()
        return text or None
    return pd.Series([one(v) for v in df[name].to_numpy(dtype=object)], index=df.index, dtype=object)


def _name(df: pd.DataFrame) -> pd.Series:
    """``name:zh`` where given, else ``name``."""
    zh = _col(df, "name_zh")
    return zh.where(zh.notna(), _col(df, "name"))


def _frame(data: dict, geometry, crs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(data).reset_index(drop=True),
                            geometry=gpd.GeoSeries(np.asarray(geometry, dtype=object), crs=crs).reset_index(drop=True),
                            crs=crs)


def _osm_id(df: pd.DataFrame, prefix: str) -> pd.Series:
    """``N123`` (node), ``W123`` (way) or ``R123`` (relation) identifiers."""
    rel = _col(df, "osm_id")
    way = _col(df, "osm_way_id") if "osm_way_id" in df else pd.Series([None] * len(df), index=df.index, dtype=object)
    return pd.Series([f"W{w}" if w else (f"{prefix}{r}" if r else None) for w, r in zip(way, rel)], index=df.index,
                     dtype=object)


def _clip(gdf: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Lines and areas cut at ``bbox`` (empty pieces dropped)."""
    if not len(gdf):
        return gdf
    cut = gdf.assign(geometry=shapely.intersection(gdf.geometry.to_numpy(), shapely.box(*bbox)))
    return cut[~cut.geometry.is_empty & cut.geometry.notna()].reset_index(drop=True)


def _whole_number(values: pd.Series) -> pd.arrays.IntegerArray:
    """A tag like ``3`` or ``2.0`` as an integer; anything else (``2.5``, ``3;4``, ``many``) as missing."""
    def one(v):
        if v is None:
            return None
        try:
            f = float(str(v).replace(",", ""))
        except ValueError:
            return None
        return int(f) if f.is_integer() and f >= 0 else None
    return pd.array([one(v) for v in values], dtype="Int64")


def _speed(values: pd.Series) -> pd.Series:
    """``maxspeed`` in km/h: a number, or ``N mph``; anything else missing."""
    def one(v):
        if v is None:
            return np.nan
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*", str(v))
        if not m:
            return np.nan
        kmh = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
        return round(kmh, 1) if 0 < kmh <= 150 else np.nan
    return pd.Series([one(v) for v in values], index=values.index, dtype="float64")


def roads(lines: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Roads (see the module docstring)."""
    hw = _col(lines, "highway")
    sel = hw.notna() & ~hw.isin(NOT_ROADS)
    g = lines[sel]
    out = _frame({"name": _name(g), "road_class": _col(g, "highway"), "speed": _speed(_col(g, "maxspeed")),
                  "osm_id": _osm_id(g, "W")}, g.geometry, lines.crs)
    return _clip(out, bbox)


def rivers(lines: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Rivers, canals and streams."""
    ww = _col(lines, "waterway")
    g = lines[ww.isin(list(_RIVER_CLASSES))]
    out = _frame({"name": _name(g), "river_class": [_RIVER_CLASSES[v] for v in _col(g, "waterway")],
                  "osm_id": _osm_id(g, "W")}, g.geometry, lines.crs)
    return _clip(out, bbox)


def forest(polygons: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Forest and wood areas."""
    sel = (_col(polygons, "landuse") == "forest") | (_col(polygons, "natural") == "wood")
    g = polygons[sel]
    out = _frame({"forest_type": [_LEAF.get(v) if v else None for v in _col(g, "leaf_type")],
                  "osm_id": _osm_id(g, "R")}, g.geometry, polygons.crs)
    return _clip(out, bbox)


def _seasonal(df: pd.DataFrame) -> pd.Series:
    flag = _col(df, "intermittent").isin(_YES) | _col(df, "seasonal").isin(_YES) | \
        _col(df, "seasonal").isin(["spring", "summer", "autumn", "winter", "wet_season", "dry_season"])
    return pd.Series([True if f else None for f in flag], index=df.index, dtype=object)


def water_sources(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, metric) -> gpd.GeoDataFrame:
    """Water bodies as points, hydrants, tanks and springs (see the module docstring).

    ``metric`` is the metric CRS the areas are measured in.
    """
    nat, water, land = _col(polygons, "natural"), _col(polygons, "water"), _col(polygons, "landuse")
    man, content = _col(polygons, "man_made"), _col(polygons, "content")
    kind = pd.Series([None] * len(polygons), index=polygons.index, dtype=object)
    kind[nat == "water"] = "pond"
    kind[(nat == "water") & water.isin(["river", "stream", "canal", "riverbank", "oxbow"])] = "river_intake"
    kind[(nat == "water") & water.isin(["reservoir", "basin"]) | (land == "reservoir")] = "reservoir"
    kind[man.isin(["reservoir_covered"]) | (man.isin(["water_tank", "storage_tank"]) & content.isin([None, "water"]))] \
        = "tank"
    g = polygons[kind.notna()]
    area = g.geometry.to_crs(metric).area.round(0).to_numpy() if len(g) else np.array([])
    areas = _frame({"name": _name(g), "type": kind[kind.notna()].to_numpy(), "seasonal": _seasonal(g).to_numpy(),
                    "area": area, "osm_id": _osm_id(g, "R"),
                    "remark": [f"OSM 水体面的代表点（面积约 {a:,.0f} 平方米）/ representative point of an OSM water "
                               f"area (about {a:,.0f} m²)" for a in area]},
                   g.geometry.representative_point() if len(g) else [], polygons.crs)
    em, pman, pcontent, pnat = (_col(points, "emergency"), _col(points, "man_made"), _col(points, "content"),
                                _col(points, "natural"))
    pkind = pd.Series([None] * len(points), index=points.index, dtype=object)
    pkind[pnat == "water"] = "pond"
    pkind[pnat == "spring"] = "tank"
    pkind[(em == "water_tank") | (pman.isin(["water_tank", "storage_tank", "reservoir_covered"])
                                  & pcontent.isin([None, "water"]))] = "tank"
    pkind[em.isin(["fire_hydrant", "suction_point", "fire_water_pond"])] = "hydrant"
    pkind[em == "fire_water_pond"] = "pond"
    p = points[pkind.notna()]
    remark = [("泉（按蓄水池规则计）/ spring (counted with the tank rule)" if n == "spring" else None)
              for n in _col(p, "natural")]
    pts = _frame({"name": _name(p), "type": pkind[pkind.notna()].to_numpy(), "seasonal": _seasonal(p).to_numpy(),
                  "area": np.full(len(p), np.nan), "osm_id": _osm_id(p, "N"), "remark": remark},
                 p.geometry, points.crs)
    return pd.concat([areas, pts], ignore_index=True) if len(pts) else areas


def _shelter_type(df: pd.DataFrame) -> pd.Series:
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    for tag, values, kind in reversed(SHELTER_TYPES):   # the first rule wins
        out[_col(df, tag).isin(list(values))] = kind
    return out


def shelter_candidates(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Places that can shelter people, as their own geometry (points or areas) with ``type``,
    ``is_building`` and ``floors`` (capacity comes later, :func:`layers.osm.estimates.shelter_capacity`)."""
    parts = []
    for df, prefix in ((polygons, "R"), (points, "N")):
        kind = _shelter_type(df)
        g = df[kind.notna()]
        building = _col(g, "building")
        parts.append(_frame({"name": _name(g), "type": kind[kind.notna()].to_numpy(),
                             "is_building": (building.notna() & (building != "no")).to_numpy(),
                             "floors": _whole_number(_col(g, "building_levels")), "osm_id": _osm_id(g, prefix)},
                            g.geometry, df.crs))
    return pd.concat(parts, ignore_index=True)


def buildings(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]
              ) -> gpd.GeoDataFrame:
    """Building footprints (and building nodes)."""
    parts = []
    for df, prefix in ((polygons, "R"), (points, "N")):
        b = _col(df, "building")
        g = df[b.notna() & (b != "no")]
        use = [None if v in ("yes", "true", "1") else v for v in _col(g, "building")]
        parts.append(_frame({"building_id": _osm_id(g, prefix), "use": use,
                             "floors": _whole_number(_col(g, "building_levels"))}, g.geometry, df.crs))
    out = pd.concat(parts, ignore_index=True)
    pts = out.geom_type == "Point"
    inside = out[pts].geometry.within(shapely.box(*bbox)) if pts.any() else pd.Series(dtype=bool)
    keep = ~pts
    keep[inside.index[inside.to_numpy()]] = True
    return _clip(out[keep], bbox)


def boundaries(polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Administrative areas with their level, code and parent (whole, not cut at the area)."""
    lvl = _col(polygons, "admin_level")
    sel = (_col(polygons, "boundary") == "administrative") & lvl.isin(list(ADMIN_LEVELS))
    g = polygons[sel]
    name = _name(g)
    g, name, lvl = g[name.notna()], name[name.notna()], lvl[sel][name.notna()]
    code = _col(g, "ref_admin_CN")
    code = code.where(code.notna(), _col(g, "ref"))
    out = _frame({"name": name, "code": code, "level": [ADMIN_LEVELS[v] for v in lvl],
                  "admin_level": lvl.astype(int).to_numpy(), "osm_id": _osm_id(g, "R"),
                  "remark": [f"OSM admin_level={v}" for v in lvl]}, g.geometry, polygons.crs)
    out["parent"] = _parents(out)
    return out.drop(columns="admin_level")


def _parents(b: gpd.GeoDataFrame) -> list:
    """Name of the smallest area of a lower admin level holding each area's representative point."""
    if not len(b):
        return []
    pts = b.geometry.representative_point()
    idx_pt, idx_area = b.sindex.query(pts.to_numpy(), predicate="within")
    levels = b["admin_level"].to_numpy()
    area = shapely.area(b.geometry.to_numpy())   # degrees², only to rank the holders by size
    best: dict[int, int] = {}
    for i, j in zip(idx_pt, idx_area):
        if levels[j] < levels[i] and (i not in best or area[j] < area[best[i]]):
            best[i] = j
    names = b["name"].to_numpy()
    return [names[best[i]] if i in best else None for i in range(len(b))]


def places(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Place nodes with their type and the population tag as a whole number (missing if absent or unclear)."""
    place = _col(points, "place")
    g = points[place.isin(list(PLACES))]
    g = g[_name(g).notna()]
    pop = pd.Series([None if v is None else re.sub(r"[,\s]", "", v) for v in _col(g, "population")], dtype=object)
    return _frame({"name": _name(g), "place": _col(g, "place").to_numpy(), "population_tag": _whole_number(pop),
                   "village_id": _osm_id(g, "N")}, g.geometry, points.crs)
