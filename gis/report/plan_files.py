"""The evacuation plan as map files: GeoPackage, GeoJSON, KML for Ovital (奥维) and the workbook.

:func:`plan_layers` makes the three plan layers (grids with their shelters joined, shelters with
their load, routes with names); :func:`write_plan_files` writes them to a folder:

``plan.gpkg``
    Layers ``grids``, ``shelters``, ``routes`` (EPSG:4490, English field names as in the tables).
``plan.geojson``
    **One** FeatureCollection holding all three layers, each feature with a ``layer`` property
    (``grids`` / ``shelters`` / ``routes``), so a single file opens in any web map or GIS and can be
    filtered by ``layer``. Coordinates in EPSG:4490 lon/lat (equal to WGS84 at the data's accuracy);
    no ``crs`` member (RFC 7946).
``plan.kml``
    For Ovital and Google Earth: folders 网格 / 安置场所 / 转移路线, placemark names in Chinese,
    each placemark's attributes as ExtendedData with Chinese field names and a description
    table; grids to evacuate outlined red, usable shelters green, unusable grey, road routes blue,
    straight-line estimates dashed-looking orange. Written with :mod:`xml.etree.ElementTree`
    (GDAL's KML driver cannot add styles per folder, and cannot append layers to one file).
``plan.xlsx``
    :func:`gis.report.plan_workbook.plan_workbook`.

Single layers in any format go through :func:`layers.export.export_layer` (used here for the
GeoJSON).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gis.flood.headers import header
from gis.report.formats import (
    for_ogr,
    kml_document,
    kml_folder,
    kml_geometry,
    kml_sub,
    kml_value,
    tagged_geojson,
    xml_escape,
)
from gis.report.plan_workbook import plan_workbook
from gis.report.tables import in_language, table_part, truthy
from layers.settings import STORAGE_CRS
from layers.text import ENUMERATION, Text, registry

__all__ = ["plan_layers", "write_plan_files", "plan_kml", "plan_geojson", "KML_FOLDERS"]

#: layer -> KML folder name
KML_FOLDERS: dict[str, Text] = registry({"grids": ("网格", "Grids"), "shelters": ("安置场所", "Shelters"),
                                         "routes": ("转移路线", "Routes")})
#: layer -> the fields of its placemarks: (column, header key in :data:`gis.flood.headers.HEADERS`)
_KML_FIELDS = {
    "grids": (("grid_id", "grid_id"), ("name", "grid_name"), ("township", "township"), ("village", "village"),
              ("responsible", "responsible"), ("phone", "phone"), ("households", "households"),
              ("population", "population"), ("vulnerable", "vulnerable"), ("max_depth", "max_depth"),
              ("evacuate", "evacuate"), ("why", "why"), ("shelter", "shelter"), ("people_placed", "people_placed"),
              ("people_unplaced", "people_unplaced")),
    "shelters": (("shelter_id", "shelter_id"), ("name", "shelter"), ("township", "township"), ("village", "village"),
                 ("capacity", "capacity"), ("load", "load"), ("vulnerable_load", "vulnerable_load"),
                 ("spare", "spare"), ("usable", "usable"), ("reason", "reason")),
    "routes": (("grid_id", "grid_id"), ("grid_name", "grid_name"), ("shelter_name", "shelter_name"),
               ("people", "people"), ("households", "households"), ("vulnerable", "vulnerable"),
               ("distance_km", "distance_km"), ("time_min", "time_min"), ("method", "method"),
               ("walk_km", "walk_km"), ("responsible", "responsible"), ("phone", "phone")),
}
_PLAN_TITLE = Text("转移避险方案", "Evacuation plan", "plan_title")
_PLAN_TITLE_OF = Text("转移避险方案（{s}）", "Evacuation plan ({s})", "plan_title_of")
# KML colours are aabbggrr
_STYLES = {
    "grid_evac": {"line": "ff0000e6", "width": "2", "poly": "330000e6"},
    "grid_other": {"line": "ff808080", "width": "1", "poly": "22808080"},
    "shelter_ok": {"icon": "ff00b400", "scale": "1.2"},
    "shelter_bad": {"icon": "ff909090", "scale": "1.0"},
    "route_road": {"line": "ffe06010", "width": "3"},
    "route_line": {"line": "ff0090ff", "width": "2"},
}


def _gdf(tables: Any, name: str) -> gpd.GeoDataFrame:
    df = table_part(tables, name)
    if df is None or not len(df):
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=STORAGE_CRS)
    out = gpd.GeoDataFrame(df).copy()
    if out.crs is None:
        out = out.set_crs(STORAGE_CRS)
    elif out.crs.to_epsg() != 4490:
        out = out.set_crs(STORAGE_CRS, allow_override=True) if out.crs.to_epsg() == 4326 else out.to_crs(STORAGE_CRS)
    return out


def _one_language(df: gpd.GeoDataFrame, lang: str, *, to: str) -> gpd.GeoDataFrame:
    """``reason_zh`` / ``reason_en`` columns become one column ``to`` in ``lang`` (files hold one language)."""
    if f"reason_{lang}" in df:
        df = df.drop(columns=[c for c in ("reason", to) if c in df]).rename(columns={f"reason_{lang}": to})
    return df.drop(columns=[c for c in ("reason_zh", "reason_en") if c in df])


def plan_layers(tables: Any, lang: str = "zh") -> dict[str, gpd.GeoDataFrame]:
    """The plan's map layers.

    Parameters
    ----------
    tables : object or mapping
        Uses ``grids`` (grid_id, name, township, village, responsible, phone, households,
        population, vulnerable, max_depth, flooded_share, evacuate, geometry), ``assignments``
        (grid_id, shelter_id, people, vulnerable, distance_km, time_min, method, geometry) and
        ``shelters`` (shelter_id, name, capacity, usable, reason, load, vulnerable_load, spare,
        geometry).

    Returns
    -------
    dict of str to GeoDataFrame
        ``grids``: the grids with ``shelter`` (shelter names joined with ``、``), ``shelter_ids``
        (``;``-joined), ``people_placed``, ``people_unplaced`` (population minus placed, for grids
        to evacuate), ``distance_km`` and ``time_min`` (the longest of the grid's routes), ``split``;
        ``shelters``: as given; ``routes``: the assignments with ``grid_name``, ``township``,
        ``village``, ``responsible``, ``phone``, ``shelter_name`` and ``split`` added. All EPSG:4490.
    """
    grids = _one_language(_gdf(tables, "grids"), lang, to="why")
    shelters = _one_language(_gdf(tables, "shelters"), lang, to="reason")
    routes = _gdf(tables, "assignments")
    if "grid_id" in grids:
        grids["grid_id"] = grids["grid_id"].astype(str)
    if "shelter_id" in shelters:
        shelters["shelter_id"] = shelters["shelter_id"].astype(str)
    name_of = dict(zip(shelters["shelter_id"], shelters["name"].astype(str))) \
        if {"shelter_id", "name"} <= set(shelters.columns) else {}
    if len(routes):
        routes["grid_id"] = routes["grid_id"].astype(str)
        routes["shelter_id"] = routes["shelter_id"].astype(str)
        routes["shelter_name"] = routes["shelter_id"].map(name_of).fillna(routes["shelter_id"])
        routes["split"] = routes.groupby("grid_id")["grid_id"].transform("size") > 1
        if "grid_id" in grids:
            info = pd.DataFrame(grids.drop(columns=grids.geometry.name)).drop_duplicates("grid_id").set_index(
                "grid_id")
            for src, dst in (("name", "grid_name"), ("township", "township"), ("village", "village"),
                             ("responsible", "responsible"), ("phone", "phone")):
                if src in info and dst not in routes:
                    routes[dst] = routes["grid_id"].map(info[src])
        agg = routes.groupby("grid_id").agg(
            shelter=("shelter_name", lambda s: ENUMERATION(lang).join(dict.fromkeys(s.astype(str)))),
            shelter_ids=("shelter_id", lambda s: ";".join(dict.fromkeys(s.astype(str)))),
            people_placed=("people", "sum"),
            distance_km=("distance_km", "max") if "distance_km" in routes else ("people", "size"),
            time_min=("time_min", "max") if "time_min" in routes else ("people", "size"),
            split=("split", "any"))
    else:
        agg = pd.DataFrame(columns=["shelter", "shelter_ids", "people_placed", "distance_km", "time_min", "split"])
    if len(grids) and "grid_id" in grids:
        for c in agg.columns:
            if c in grids:
                grids = grids.drop(columns=c)
        grids = grids.merge(agg, left_on="grid_id", right_index=True, how="left")
        grids["people_placed"] = pd.to_numeric(grids["people_placed"], errors="coerce").fillna(0).astype("int64")
        grids["split"] = grids["split"].map(truthy)
        evac = grids["evacuate"].map(truthy) if "evacuate" in grids else pd.Series(True, index=grids.index)
        pop = pd.to_numeric(grids.get("population", 0), errors="coerce").fillna(0)
        grids["people_unplaced"] = np.where(evac, (pop - grids["people_placed"]).clip(lower=0), 0).astype("int64")
    for df in (grids, shelters, routes):
        for c in df.columns:
            if (df[c].dtype == object and c != df.geometry.name
                    and df[c].map(lambda v: isinstance(v, (bool, np.bool_))).all() and len(df)):
                df[c] = df[c].astype(bool)
    return {"grids": gpd.GeoDataFrame(grids, geometry=grids.geometry.name, crs=STORAGE_CRS),
            "shelters": shelters, "routes": routes}


def plan_geojson(layers: dict[str, gpd.GeoDataFrame]) -> bytes:
    """One GeoJSON FeatureCollection of all plan layers, each feature tagged with ``layer``.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        From :func:`plan_layers`.

    Returns
    -------
    bytes
        UTF-8 GeoJSON (lon/lat, EPSG:4490 numbers); see :func:`tagged_geojson`.
    """
    return tagged_geojson(layers, ("grids", "shelters", "routes"))


# ---- KML ---------------------------------------------------------------------------------------


def plan_kml(layers: dict[str, gpd.GeoDataFrame], *, title: str | None = None, lang: str = "zh") -> bytes:
    """The plan as KML for Ovital (奥维) and Google Earth.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        From :func:`plan_layers`.
    title : str, optional
        Document name; default 转移避险方案 / Evacuation plan.

    Returns
    -------
    bytes
        UTF-8 KML 2.2 with folders 网格, 安置场所, 转移路线 (in that order, each present even when
        empty), WGS84 lon/lat coordinates.
    """
    root, doc = kml_document(title or _PLAN_TITLE(lang), _STYLES)
    for layer, folder_name in KML_FOLDERS.items():
        folder = kml_folder(doc, folder_name(lang))
        df = layers.get(layer)
        if df is None or not len(df):
            continue
        if df.crs is not None and df.crs.to_epsg() not in (4326, 4490):
            df = df.to_crs(4326)
        for _, row in df.iterrows():
            pm = kml_sub(folder, "Placemark")
            if layer == "grids":
                name = row.get("name") or row.get("grid_id")
                style = "grid_evac" if truthy(row.get("evacuate", True)) else "grid_other"
            elif layer == "shelters":
                name = row.get("name") or row.get("shelter_id")
                style = "shelter_ok" if truthy(row.get("usable", True)) else "shelter_bad"
            else:
                name = f"{row.get('grid_name') or row.get('grid_id')} → {row.get('shelter_name')}"
                style = "route_road" if row.get("method") == "road" else "route_line"
            kml_sub(pm, "name", str(name))
            pairs = [(header(head, lang), kml_value(row.get(key), key, lang)) for key, head in _KML_FIELDS[layer]
                     if key in row.index]
            shown = [(k, v) for k, v in pairs if v is not None and v != ""]
            desc = "<table>" + "".join(f"<tr><td>{k}</td><td>{xml_escape(v)}</td></tr>" for k, v in shown) + "</table>"
            kml_sub(pm, "description", desc)
            kml_sub(pm, "styleUrl", f"#{style}")
            ext = kml_sub(pm, "ExtendedData")
            for k, v in pairs:
                d = kml_sub(ext, "Data", name=k)
                kml_sub(d, "value", v)
            kml_geometry(pm, row.geometry)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def write_plan_files(tables: Any, out_dir: Path, *, lang: str = "zh", note: str | None = None,
                     date: str | None = None, synthetic: bool = False) -> list[Path]:
    """Write the plan's files into a folder.

    Parameters
    ----------
    tables : object or mapping
        As for :func:`plan_layers` and :func:`gis.report.plan_workbook.plan_workbook`.
    out_dir : pathlib.Path
        Folder (created when missing); existing ``plan.*`` files are replaced.
    lang : {'zh', 'en'}
        Language of the workbook, the KML's folders and fields, and the reasons in the map files.
    note, date, synthetic
        Passed to :func:`gis.report.plan_workbook.plan_workbook`.

    Returns
    -------
    list of pathlib.Path
        ``plan.gpkg``, ``plan.geojson``, ``plan.kml``, ``plan.xlsx``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layers = plan_layers(tables, lang)
    gpkg = out_dir / "plan.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    for name in ("grids", "shelters", "routes"):
        df = layers[name]
        if not len(df):
            continue
        pyogrio.write_dataframe(for_ogr(df), gpkg, layer=name, driver="GPKG")  # adds a layer to the file
    geojson = out_dir / "plan.geojson"
    geojson.write_bytes(plan_geojson(layers))
    kml = out_dir / "plan.kml"
    summary = table_part(tables, "summary") or {}
    scen = in_language(summary, "scenario", lang) or summary.get("scenario_name")
    title = _PLAN_TITLE_OF.format(s=scen) if scen else _PLAN_TITLE
    kml.write_bytes(plan_kml(layers, lang=lang, title=title(lang)))
    xlsx = out_dir / "plan.xlsx"
    xlsx.write_bytes(plan_workbook(tables, lang=lang, note=note, date=date, synthetic=synthetic))
    return [p for p in (gpkg, geojson, kml, xlsx) if p.exists()]
