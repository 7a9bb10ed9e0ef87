"""Map files shared by the plan and the fire review: a GDAL-ready copy of a layer, one GeoJSON collection of
several layers tagged by ``layer``, and a small KML 2.2 writer (documents, folders, styles, geometries) for
Ovital (奥维) and Google Earth, written with :mod:`xml.etree.ElementTree` (GDAL's KML driver cannot style
folders nor append layers to one file)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from gis.flood.headers import word
from layers.export import export_layer
from layers.settings import STORAGE_CRS
from layers.text import NO, YES

__all__ = ["for_ogr", "tagged_geojson", "KML_NS", "kml_sub", "kml_document", "kml_folder", "kml_geometry",
           "kml_value", "xml_escape"]


KML_NS = "http://www.opengis.net/kml/2.2"


def for_ogr(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy GDAL and JSON take: object columns as str/int/float/bool/None, nullable booleans as Int8."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if str(out[col].dtype) == "boolean":
            out[col] = out[col].astype("Int8")
        elif out[col].dtype == object:
            out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                                    (v if isinstance(v, (str, int, float, bool)) else str(v)))
    return out


def tagged_geojson(layers: dict[str, gpd.GeoDataFrame], names: tuple[str, ...]) -> bytes:
    """One GeoJSON FeatureCollection of the layers ``names`` (in that order), each feature tagged with ``layer``.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        Layers in the storage CRS; missing or empty ones are left out.
    names : tuple of str
        Which layers, in order.

    Returns
    -------
    bytes
        UTF-8 GeoJSON (lon/lat, EPSG:4490 numbers, no ``crs`` member: RFC 7946 implies lon/lat).
    """
    parts = []
    for name in names:
        df = layers.get(name)
        if df is None or not len(df):
            continue
        df = df.copy()
        df.insert(0, "layer", name)
        parts.append(df)
    if not parts:
        return json.dumps({"type": "FeatureCollection", "features": []}).encode()
    combined = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=STORAGE_CRS)
    fc = json.loads(export_layer(for_ogr(combined), "layers", "geojson"))
    fc.pop("crs", None)
    return json.dumps(fc, ensure_ascii=False).encode("utf-8")


def kml_sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{KML_NS}}}{tag}", attrs)
    if text is not None:
        e.text = text
    return e


def _coords(seq) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y, *_ in seq)


def kml_document(title: str, styles: dict) -> tuple[ET.Element, ET.Element]:
    """A KML 2.2 root and its Document named ``title``, with ``styles`` (id -> spec, see ``_style``)."""
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = kml_sub(root, "Document")
    kml_sub(doc, "name", title)
    for sid, spec in styles.items():
        _style(doc, sid, spec)
    return root, doc


def kml_folder(doc: ET.Element, name: str) -> ET.Element:
    """A named Folder in the document."""
    folder = kml_sub(doc, "Folder")
    kml_sub(folder, "name", name)
    return folder


def kml_geometry(parent: ET.Element, g: BaseGeometry) -> None:
    if g is None or g.is_empty:
        return
    if isinstance(g, Point):
        kml_sub(kml_sub(parent, "Point"), "coordinates", _coords([g.coords[0]]))
    elif isinstance(g, LineString):
        ls = kml_sub(parent, "LineString")
        kml_sub(ls, "tessellate", "1")
        kml_sub(ls, "coordinates", _coords(g.coords))
    elif isinstance(g, Polygon):
        p = kml_sub(parent, "Polygon")
        kml_sub(kml_sub(kml_sub(p, "outerBoundaryIs"), "LinearRing"), "coordinates", _coords(g.exterior.coords))
        for ring in g.interiors:
            kml_sub(kml_sub(kml_sub(p, "innerBoundaryIs"), "LinearRing"), "coordinates", _coords(ring.coords))
    elif isinstance(g, (MultiPolygon, MultiLineString, MultiPoint)) or hasattr(g, "geoms"):
        mg = kml_sub(parent, "MultiGeometry")
        for part in g.geoms:
            kml_geometry(mg, part)


def kml_value(v: Any, key: str, lang: str = "zh") -> str | None:
    """A KML field value in ``lang``: yes/no and route methods in words, numbers trimmed."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, (bool, np.bool_)):
        return (YES if v else NO)(lang)
    if key == "method":
        return str(word(str(v), lang))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.2f}".rstrip("0").rstrip(".") if not float(v).is_integer() else str(int(v))
    return str(v)


def _style(doc: ET.Element, sid: str, spec: dict) -> None:
    st = kml_sub(doc, "Style", id=sid)
    if "icon" in spec:
        ic = kml_sub(st, "IconStyle")
        kml_sub(ic, "color", spec["icon"])
        kml_sub(ic, "scale", spec["scale"])
        kml_sub(kml_sub(ic, "Icon"), "href", "http://maps.google.com/mapfiles/kml/shapes/ranger_station.png")
    if "line" in spec:
        ls = kml_sub(st, "LineStyle")
        kml_sub(ls, "color", spec["line"])
        kml_sub(ls, "width", spec["width"])
    if "poly" in spec:
        ps = kml_sub(st, "PolyStyle")
        kml_sub(ps, "color", spec["poly"])


def xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
