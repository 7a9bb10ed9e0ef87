"""What OpenStreetMap does not say, estimated and labelled: village population, shelter capacity, transfer grids.

Every estimate is marked in the feature (``estimated`` names the estimated fields, ``remark`` says
how, in Chinese and English) and counted in the import summary. The rates:

- **homes**: a building whose ``use`` is not one of :data:`NOT_HOMES` is a home of one household
  (``apartments``/``residential``/``dormitory`` with ``floors``: that many households);
  :data:`PERSONS_PER_HOUSEHOLD` = 2.62 persons (China's 2020 census average household size).
- **village population**: the ``population`` tag where it is a whole number; else the homes nearer
  to that place than to any other, within :data:`HOME_RADIUS_M`, times 2.62; a place with fewer than
  :data:`MIN_HOMES` mapped homes gets a base for its type instead (:data:`PLACE_BASE`: town 1,500,
  village 150, hamlet 40...). Households are the homes counted, or population / 2.62.
- **shelter capacity**: floor area (footprint x floors, 1 floor when not tagged) /
  :data:`M2_PER_PERSON` (2 m² per person), at most :data:`MAX_CAPACITY`; a school or hall mapped as a
  site takes the buildings inside it, a node the building it stands in; a school, hall or gym with no
  footprint at all gets :data:`DEFAULT_CAPACITY` for its type (a public building or hotel without one
  is left out). Floor areas under :data:`MIN_FLOOR_M2` are not shelters.
- **transfer grids**: one village-level grid per village: its Voronoi cell among the villages, cut to
  :data:`GRID_PLACE_M` around the place and :data:`GRID_HOME_M` around its homes; households and
  people copied from the village; responsible person and phone left for the office to fill in.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["villages_from_places", "shelters_from_candidates", "transfer_grids", "village_of",
           "PERSONS_PER_HOUSEHOLD", "PLACE_BASE", "M2_PER_PERSON"]

PERSONS_PER_HOUSEHOLD = 2.62
HOME_RADIUS_M = 500.0
MIN_HOMES = 3
PLACE_BASE = {"city": 20_000, "town": 1_500, "suburb": 600, "village": 150, "hamlet": 40, "isolated_dwelling": 5}
M2_PER_PERSON = 2.0
MAX_CAPACITY = 3_000
MIN_FLOOR_M2 = 60.0
#: capacity of a school, hall or gym mapped without any footprint (public buildings and hotels without one are left out)
DEFAULT_CAPACITY = {"school": 200, "village_hall": 100, "gym": 300}
GRID_PLACE_M = 500.0
GRID_HOME_M = 400.0
#: building uses that are not homes
NOT_HOMES = frozenset({
    "church", "chapel", "cathedral", "temple", "mosque", "shrine", "religious", "garage", "garages", "shed", "barn",
    "cowshed", "stable", "sty", "farm_auxiliary", "greenhouse", "industrial", "warehouse", "commercial", "retail",
    "office", "school", "kindergarten", "college", "university", "hospital", "public", "civic", "government",
    "hotel", "sports_hall", "stadium", "train_station", "transportation", "parking", "roof", "ruins",
    "construction", "service", "transformer_tower", "bunker", "hut", "cabin", "toilets", "water_tower",
    "storage_tank", "silo", "bridge", "grandstand", "pavilion", "carport", "boathouse", "kiosk", "supermarket"})


def _homes(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Buildings that are homes, with ``households``."""
    use = buildings["use"].astype(object) if "use" in buildings else pd.Series(None, index=buildings.index)
    homes = buildings[~use.isin(NOT_HOMES)]
    floors = pd.to_numeric(homes.get("floors"), errors="coerce") if "floors" in homes else \
        pd.Series(np.nan, index=homes.index)
    multi = homes["use"].isin(["apartments", "residential", "dormitory"]) if "use" in homes else False
    hh = np.where(multi & floors.notna(), np.maximum(floors.fillna(1), 1), 1)
    return homes.assign(households=hh.astype(int))


def _nearest(points: gpd.GeoSeries, targets: gpd.GeoSeries, max_m: float) -> np.ndarray:
    """Index into ``targets`` of the nearest one within ``max_m`` (metric CRS), -1 when none."""
    out = np.full(len(points), -1, dtype=np.int64)
    if not len(points) or not len(targets):
        return out
    (ip, it), _d = gpd.GeoSeries(targets.to_numpy(), crs=targets.crs).sindex.nearest(
        points.to_numpy(), return_all=False, return_distance=True, max_distance=max_m)
    out[ip] = it
    return out


def village_of(buildings: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, metric, max_m: float = 1000.0
               ) -> pd.Series:
    """Name of the nearest village within ``max_m`` of each building (None beyond)."""
    if not len(buildings) or not len(villages):
        return pd.Series([None] * len(buildings), index=buildings.index, dtype=object)
    pts = buildings.geometry.to_crs(metric).representative_point()
    near = _nearest(pts, villages.geometry.to_crs(metric), max_m)
    names = villages["name"].to_numpy()
    return pd.Series([names[i] if i >= 0 else None for i in near], index=buildings.index, dtype=object)


def villages_from_places(places: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, metric
                         ) -> tuple[gpd.GeoDataFrame, dict]:
    """The villages layer from place nodes, population from the tag or estimated (see the module docstring).

    Returns
    -------
    villages : GeoDataFrame
        ``name``, ``village_id``, ``population``, ``households``, ``remark``, ``estimated``, ``place``.
    counts : dict
        ``tagged``, ``from_homes``, ``from_base`` villages.
    """
    homes = _homes(buildings)
    n = len(places)
    home_count = np.zeros(n, dtype=np.int64)
    hh_count = np.zeros(n, dtype=np.int64)
    if len(homes) and n:
        near = _nearest(homes.geometry.to_crs(metric).representative_point(), places.geometry.to_crs(metric),
                        HOME_RADIUS_M)
        ok = near >= 0
        np.add.at(home_count, near[ok], 1)
        np.add.at(hh_count, near[ok], homes["households"].to_numpy()[ok])
    tag = places["population_tag"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    pop, hh, remark, est, how = [], [], [], [], []
    for i, (kind, t) in enumerate(zip(places["place"], tag)):
        if np.isfinite(t):
            pop.append(int(t))
            hh.append(int(round(t / PERSONS_PER_HOUSEHOLD)))
            remark.append(f"人口取自 OSM；户数按每户 {PERSONS_PER_HOUSEHOLD} 人估算 / population from OSM; households "
                          f"estimated at {PERSONS_PER_HOUSEHOLD} persons each")
            est.append("households")
            how.append("tagged")
        elif home_count[i] >= MIN_HOMES:
            pop.append(int(round(hh_count[i] * PERSONS_PER_HOUSEHOLD)))
            hh.append(int(hh_count[i]))
            remark.append(f"估算：{home_count[i]} 栋住房 {hh_count[i]} 户 × {PERSONS_PER_HOUSEHOLD} 人 / estimate: "
                          f"{home_count[i]} homes, {hh_count[i]} households x {PERSONS_PER_HOUSEHOLD} persons")
            est.append("population,households")
            how.append("from_homes")
        else:
            base = PLACE_BASE.get(kind, PLACE_BASE["village"])
            pop.append(base)
            hh.append(int(round(base / PERSONS_PER_HOUSEHOLD)))
            remark.append(f"估算：OSM 未标人口、房屋不足 {MIN_HOMES} 栋，按{kind}基数 {base} 人 / "
                          f"estimate: no population tag and fewer than {MIN_HOMES} homes mapped; base {base} for a "
                          f"{kind}")
            est.append("population,households")
            how.append("from_base")
    out = places[["name", "village_id", "place", "geometry"]].copy()
    out["population"] = pd.array(pop, dtype="Int64")
    out["households"] = pd.array(hh, dtype="Int64")
    out["remark"] = remark
    out["estimated"] = est
    counts = {k: how.count(k) for k in ("tagged", "from_homes", "from_base")}
    return out, counts


def shelters_from_candidates(candidates: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, metric
                             ) -> tuple[gpd.GeoDataFrame, dict]:
    """Shelters as points with capacity from their floor area (see the module docstring).

    Returns
    -------
    shelters : GeoDataFrame
        ``name``, ``shelter_id``, ``type``, ``capacity``, ``area`` (floor area, m²), ``remark``,
        ``estimated``.
    counts : dict
        ``from_area``, ``default``, ``too_small`` (dropped), ``duplicates`` (a node inside its own area).
    """
    crs = candidates.crs
    if not len(candidates):
        empty = gpd.GeoDataFrame({c: [] for c in ("name", "shelter_id", "type", "capacity", "area", "remark",
                                                  "estimated")}, geometry=[], crs=crs)
        return empty, {"from_area": 0, "default": 0, "too_small": 0, "no_footprint": 0, "duplicates": 0}
    c = candidates.to_crs(metric).reset_index(drop=True)
    b = buildings[buildings.geom_type.isin(["Polygon", "MultiPolygon"])].to_crs(metric).reset_index(drop=True)
    b_floors = pd.to_numeric(b["floors"], errors="coerce").fillna(1).clip(lower=1).to_numpy() if len(b) else []
    b_area = b.geometry.area.to_numpy() if len(b) else np.array([])
    b_rep = b.geometry.representative_point().to_numpy() if len(b) else np.array([])
    # a node inside a shelter's area is that shelter (its name and a more telling type than "public building" kept)
    is_area = (c.geom_type != "Point").to_numpy()
    areas = c[is_area]
    dup = np.zeros(len(c), bool)
    if len(areas):
        for node in np.flatnonzero(~is_area):
            hits = areas.sindex.query(c.geometry.iloc[node], predicate="within")
            if len(hits):
                j = areas.index[hits[0]]
                if not isinstance(c.at[j, "name"], str) and isinstance(c.at[node, "name"], str):
                    c.at[j, "name"] = c.at[node, "name"]
                if c.at[j, "type"] == "public_building":
                    c.at[j, "type"] = c.at[node, "type"]
                dup[node] = True
    c = c[~dup].reset_index(drop=True)
    floor = np.zeros(len(c))
    for i, (geom, is_b, fl) in enumerate(zip(c.geometry, c["is_building"], c["floors"])):
        if geom.geom_type != "Point" and is_b:
            floor[i] = geom.area * (int(fl) if pd.notna(fl) and fl >= 1 else 1)
        elif len(b):
            if geom.geom_type == "Point":    # the building the node stands in
                hits = b.sindex.query(geom, predicate="within")
            else:                            # a site: the buildings inside it
                hits = [h for h in b.sindex.query(geom, predicate="intersects") if geom.contains(b_rep[h])]
            floor[i] = float(sum(b_area[h] * b_floors[h] for h in hits))
    too_small = (floor > 0) & (floor < MIN_FLOOR_M2)
    unknown = (floor <= 0) & ~c["type"].isin(list(DEFAULT_CAPACITY)).to_numpy()
    keep = ~too_small & ~unknown
    c, floor = c[keep].reset_index(drop=True), floor[keep]
    cap, remark, est = [], [], []
    for kind, a in zip(c["type"], floor):
        if a > 0:
            cap.append(int(min(MAX_CAPACITY, a // M2_PER_PERSON)))
            remark.append(f"容纳人数按建筑面积 {a:,.0f} 平方米 ÷ {M2_PER_PERSON:g} 平方米/人估算"
                          + (f"（上限 {MAX_CAPACITY}）" if a / M2_PER_PERSON > MAX_CAPACITY else "")
                          + f" / capacity estimated from {a:,.0f} m² of floor at {M2_PER_PERSON:g} m² per person"
                          + (f" (at most {MAX_CAPACITY})" if a / M2_PER_PERSON > MAX_CAPACITY else ""))
        else:
            cap.append(DEFAULT_CAPACITY[kind])
            remark.append(f"OSM 无建筑轮廓，容纳人数取默认值 {DEFAULT_CAPACITY[kind]} / no footprint mapped: default "
                          f"capacity {DEFAULT_CAPACITY[kind]}")
        est.append("capacity")
    pts = c.geometry.representative_point().to_crs(crs)
    out = gpd.GeoDataFrame({"name": c["name"].to_numpy(), "shelter_id": c["osm_id"].to_numpy(),
                            "type": c["type"].to_numpy(), "capacity": pd.array(cap, dtype="Int64"),
                            "area": np.round(floor, 0), "remark": remark, "estimated": est},
                           geometry=pts.to_numpy(), crs=crs)
    out.loc[out["area"] <= 0, "area"] = np.nan
    counts = {"from_area": int((floor > 0).sum()), "default": int((floor <= 0).sum()),
              "too_small": int(too_small.sum()), "no_footprint": int(unknown.sum()), "duplicates": int(dup.sum())}
    return out, counts


def transfer_grids(villages: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, metric,
                   bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """One generated village-level transfer grid per village (see the module docstring)."""
    crs = villages.crs
    cols = ("grid_id", "name", "level", "township", "village", "households", "population", "remark")
    if not len(villages):
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    v = villages.to_crs(metric).reset_index(drop=True)
    area = gpd.GeoSeries([shapely.box(*bbox)], crs=crs).to_crs(metric).iloc[0]
    pts = v.geometry.to_numpy()
    if len(v) > 1:
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=area.buffer(5000)))
        tree = shapely.STRtree(cells)
        owner = tree.query(pts, predicate="within")
        cell_of = dict(zip(owner[0], owner[1]))
        cell = [cells[cell_of[i]] if i in cell_of else area for i in range(len(v))]
    else:
        cell = [area]
    homes = _homes(buildings).to_crs(metric) if len(buildings) else buildings
    home_pts = homes.geometry.representative_point() if len(homes) else gpd.GeoSeries([], crs=metric)
    near = _nearest(home_pts, v.geometry, HOME_RADIUS_M * 2) if len(homes) else np.array([], dtype=int)
    geoms = []
    for i in range(len(v)):
        reach = [pts[i].buffer(GRID_PLACE_M)]
        mine = home_pts.to_numpy()[near == i] if len(homes) else []
        if len(mine):
            reach.append(shapely.union_all(shapely.buffer(mine, GRID_HOME_M)))
        g = shapely.intersection(shapely.intersection(cell[i], shapely.union_all(reach)), area)
        geoms.append(g)
    out = gpd.GeoDataFrame({
        "grid_id": [f"G{i + 1:03d}" for i in range(len(v))], "name": [f"{n}网格" for n in v["name"]],
        "level": "village", "township": v["township"].to_numpy() if "township" in v else None,
        "village": v["name"].to_numpy(), "households": v["households"].to_numpy(),
        "population": v["population"].to_numpy(),
        "remark": "由 OSM 村点与房屋生成，责任人与电话待填 / generated from OSM places and buildings; responsible "
                  "person and phone to be filled in"}, geometry=geoms, crs=metric)
    out = out[~out.geometry.is_empty].to_crs(crs)
    return out.assign(geometry=shapely.make_valid(out.geometry.to_numpy())).reset_index(drop=True)
