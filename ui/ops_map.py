"""The Operations map's layers: grids coloured by status, the routes of the people still to move, shelters by
occupancy, reserve depots, and the area being drawn.

Pure folium (no streamlit), like :mod:`ui.plan_map`: :func:`ops_groups` returns feature groups and legend
rows (:class:`ui.map_view.LegendRow`) for :func:`ui.map_view.build_map`. Colours come from
:mod:`layers.palette` (depots from their layer spec); each layer is styled from one lookup table keyed by a
feature property (:class:`ui.map_view.StyledGeoJson`), so the page stays linear in the number of grids.
Above the detail budget (a prefecture) the whole-area view draws each grid as a small dot and leaves the
routes out; a township shows in full. GeoJSON is written compactly (coordinates to 1e-5 degrees, only the
fields shown).
"""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.ops.texts import ITEM_TEXT, STATUS_TEXT, STATUSES
from layers.catalogue import DEPOT_ITEMS, spec
from layers.crs import metric_crs
from layers.palette import OCCUPANCY, OPS_STATUS, ROUTE
from layers.text import Text
from ui.map_view import DETAIL_BUDGET, LegendRow, StyledGeoJson, _round_coords, path_style

__all__ = ["ops_groups", "OCCUPANCY_COLORS", "STATUS_COLORS", "area_group", "is_overview"]

#: shelter colours: room, filling (≥ 90 %), full, not usable
OCCUPANCY_COLORS = dict(OCCUPANCY)
#: grid colours by status
STATUS_COLORS = dict(OPS_STATUS)
#: outline of the shelter markers
_EDGE = "#212121"

_L: dict[str, Text] = {
    "grid_id": Text("网格编号", "Grid ID"), "name": Text("名称", "Name"), "status": Text("状态", "Status"),
    "people": Text("需转移（人）", "To move"), "moved": Text("已转移（人）", "Moved"),
    "remaining": Text("待转移（人）", "Still to move"), "refused": Text("拒绝（人）", "Refusing"),
    "absent": Text("不在/联系不上（人）", "Absent"), "responsible": Text("责任人", "Responsible"),
    "phone": Text("电话", "Phone"), "shelter": Text("安置场所", "Shelter"), "capacity": Text("容纳（人）", "Capacity"),
    "checked_in": Text("已签到（人）", "Checked in"), "occupancy": Text("占用率", "Occupancy"),
    "in_transit": Text("途中（人）", "In transit"), "distance_km": Text("距离（公里）", "Distance (km)"),
}
_W: dict[str, Text] = {
    "grid_status": Text("网格转移状态", "Grid status"),
    "routes": Text("待转移人员路线", "Routes of those still to move"),
    "occupancy": Text("安置场所占用", "Shelter occupancy"),
    "room": Text("场所有空位", "Shelter with room"), "filling": Text("场所将满（≥90%）", "Shelter filling (≥ 90%)"),
    "full": Text("场所已满", "Shelter full"), "unusable": Text("场所不可用", "Shelter not usable"),
    "depots": Text("储备库", "Reserve depots"),
}


def _popup(fields: list[str], lang: str) -> folium.GeoJsonPopup:
    return folium.GeoJsonPopup(fields=fields, aliases=[_L[f](lang) for f in fields], labels=True, max_width=360)


def _collection(geoms: np.ndarray, props: dict[str, list]) -> dict:
    """A compact FeatureCollection from lon/lat geometries and property columns."""
    geoms = _round_coords(np.asarray(geoms, dtype=object))
    texts = shapely.to_geojson(geoms)
    keys = list(props)
    cols = [props[k] for k in keys]
    feats = []
    for i, gj in enumerate(texts):
        if gj is None:
            continue
        feats.append({"type": "Feature", "geometry": json.loads(gj),
                      "properties": {k: _plain(c[i]) for k, c in zip(keys, cols)}})
    return {"type": "FeatureCollection", "features": feats}


def _plain(v: object) -> object:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def is_overview(n_grids: int, township: str | None, budget: int = DETAIL_BUDGET) -> bool:
    """True when the whole-area view must draw grids as dots (too many to draw as outlines)."""
    return township is None and n_grids > budget // 2


def _simplified(geoms: gpd.GeoSeries, tol_m: float) -> np.ndarray:
    if not len(geoms):
        return np.zeros(0, dtype=object)
    crs = metric_crs(tuple(geoms.to_crs(4326).total_bounds))
    simple = shapely.simplify(geoms.to_crs(crs).to_numpy(), tol_m, preserve_topology=True)
    return gpd.GeoSeries(simple, crs=crs).to_crs(4326).to_numpy()


def ops_groups(prog, lang: str, *, outlines: gpd.GeoDataFrame | None = None, routes: gpd.GeoDataFrame | None = None,
               depots: gpd.GeoDataFrame | None = None, township: str | None = None, budget: int = DETAIL_BUDGET
               ) -> tuple[list[folium.Layer], list[LegendRow]]:
    """Feature groups (and legend rows) showing where a warning stands.

    Parameters
    ----------
    prog : gis.ops.progress.Progress
        Grids with status, shelters with occupancy.
    lang : {'zh', 'en'}
    outlines : GeoDataFrame, optional
        The workspace's grids (outlines by ``grid_id``); without them grids are dots at their
        recorded points.
    routes : GeoDataFrame, optional
        Routes to draw for the grids still to move (the plan's, or a re-plan's): ``grid_id`` and lines.
    depots : GeoDataFrame, optional
        Reserve depots.
    township : str, optional
        Draw only this township, in full detail.
    """
    w = {k: v(lang) for k, v in _W.items()}
    groups: list[folium.Layer] = []
    legend: list[LegendRow] = []
    g = prog.grids
    if township is not None:
        g = g[g["township"] == township]
    overview = is_overview(len(g), township, budget)
    status_label = {k: v(lang) for k, v in STATUS_TEXT.items()}
    if len(g):
        pts = shapely.points(g["lon"].to_numpy(dtype=float), g["lat"].to_numpy(dtype=float))
        geoms = pts
        if not overview and outlines is not None and len(outlines):
            o = outlines.assign(grid_id=outlines["grid_id"].astype(str)).drop_duplicates("grid_id")
            o = o[o["grid_id"].isin(set(g["grid_id"]))]
            simple = pd.Series(_simplified(o.geometry, 5.0), index=o["grid_id"].to_numpy())
            have = simple.reindex(g["grid_id"]).to_numpy()
            geoms = np.where(pd.isna(have), pts, have)
        props = {"grid_id": g["grid_id"].tolist(), "name": g["name"].tolist(),
                 "status": [status_label[s] for s in g["status"]], "_s": g["status"].tolist()}
        fields = ["grid_id", "name", "status"]
        if not overview:
            for f in ("people", "moved", "remaining", "refused", "absent", "responsible", "phone"):
                props[f] = g[f].tolist()
            props["shelter"] = g["shelter_name"].tolist()
            fields += ["people", "moved", "remaining", "refused", "absent", "responsible", "phone", "shelter"]
        else:
            props["remaining"] = g["remaining"].tolist()
            fields += ["remaining"]
        if overview:
            styles = {s: path_style(c, fill=c, weight=0.5, shape="circle", radius=3.5)
                      for s, c in STATUS_COLORS.items()}
        else:   # outlines; grids without one are dots of the same colour
            styles = {s: {**path_style(c, fill=c, weight=1.0, fill_opacity=0.45), "radius": 5}
                      for s, c in STATUS_COLORS.items()}
        grp = folium.FeatureGroup(name=w["grid_status"])
        StyledGeoJson(_collection(geoms, props), styles, "_s", popup=_popup(fields, lang),
                      tooltip=folium.GeoJsonTooltip(fields=["name", "status"], labels=False),
                      find=("grid_id", "name")).add_to(grp)
        groups.append(grp)
        legend += [LegendRow(status_label[s], STATUS_COLORS[s], STATUS_COLORS[s], "circle" if overview else "box", grp)
                   for s in STATUSES]

    if routes is not None and len(routes) and not overview:
        todo = set(g.loc[g["status"] != "done", "grid_id"])
        r = routes[routes["grid_id"].astype(str).isin(todo)]
        if len(r):
            r = r.to_crs(4326)
            props = {"grid_id": r["grid_id"].astype(str).tolist(),
                     "people": pd.to_numeric(r.get("people"), errors="coerce").fillna(0).astype(int).tolist(),
                     "distance_km": pd.to_numeric(r.get("distance_km"), errors="coerce").round(2).tolist()}
            grp = folium.FeatureGroup(name=w["routes"])
            StyledGeoJson(_collection(r.geometry.to_numpy(), props), {"": path_style(ROUTE, weight=2, opacity=0.8)},
                          popup=_popup(["grid_id", "people", "distance_km"], lang)).add_to(grp)
            groups.append(grp)
            legend.append(LegendRow(w["routes"], ROUTE, None, "line", grp))

    s = prog.shelters
    if township is not None:
        s = s[(s["township"] == township) | (s["checked_in"] > 0) & s["shelter_id"].isin(set(g["shelter_id"].dropna()))]
    if len(s):
        key = np.where(~s["usable"].astype(bool) & (s["checked_in"] == 0), "unusable",
                       np.where(s["full"], "full", np.where(s["filling"], "filling", "room")))
        occ = [f"{v:.0%}" if np.isfinite(v) else "—" for v in s["occupancy"]]
        props = {"name": s["name"].tolist(), "capacity": s["capacity"].tolist(), "checked_in": s["checked_in"].tolist(),
                 "in_transit": s["in_transit"].tolist(), "occupancy": occ, "_o": key.tolist()}
        draw = spec("shelters").draw
        styles = {k: path_style(_EDGE, fill=c, weight=1, shape=draw.shape, radius=draw.radius + 1)
                  for k, c in OCCUPANCY_COLORS.items()}
        grp = folium.FeatureGroup(name=w["occupancy"])
        StyledGeoJson(_collection(shapely.points(s["lon"].to_numpy(dtype=float), s["lat"].to_numpy(dtype=float)),
                                  props), styles, "_o",
                      popup=_popup(["name", "capacity", "checked_in", "in_transit", "occupancy"], lang),
                      tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False), find=("name",)).add_to(grp)
        groups.append(grp)
        legend += [LegendRow(w[k], _EDGE, c, draw.shape, grp) for k, c in OCCUPANCY_COLORS.items()]

    if depots is not None and len(depots):
        d = depots.to_crs(4326)
        pts = d.geometry.representative_point()
        props = {"name": d.get("name", pd.Series("", index=d.index)).astype(str).tolist()}
        items = [i for i in DEPOT_ITEMS if i in d]
        for i in items:
            props[i] = pd.to_numeric(d[i], errors="coerce").round(1).tolist()
        draw = spec("depots").draw
        grp = folium.FeatureGroup(name=w["depots"])
        StyledGeoJson(_collection(pts.to_numpy(), props),
                      {"": path_style(draw.color, fill=draw.fill, weight=draw.weight, shape=draw.shape,
                                      radius=draw.radius)},
                      popup=folium.GeoJsonPopup(fields=["name", *items],
                                                aliases=[_L["name"](lang), *(ITEM_TEXT[i](lang) for i in items)],
                                                labels=True, max_width=360),
                      tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
                      find=("name",)).add_to(grp)
        groups.append(grp)
        legend.append(LegendRow(w["depots"], draw.color, draw.fill, draw.shape, grp))
    return groups, legend


def area_group(points: list[tuple[float, float]], lang: str) -> folium.FeatureGroup:
    """The area being drawn on the map: its vertices and outline (lon, lat pairs)."""
    grp = folium.FeatureGroup(name=Text("圈选范围", "Area drawn")(lang))
    if len(points) >= 3:
        folium.Polygon([(y, x) for x, y in points], color="#d81b60", weight=2, fill=True, fill_opacity=0.1).add_to(grp)
    elif len(points) == 2:
        folium.PolyLine([(y, x) for x, y in points], color="#d81b60", weight=2).add_to(grp)
    for x, y in points:
        folium.CircleMarker((y, x), radius=4, color="#d81b60", fill=True, fill_opacity=1).add_to(grp)
    return grp
