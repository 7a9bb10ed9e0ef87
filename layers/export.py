"""Writing a layer out as GeoPackage, GeoJSON, KML (for Ovital/Google Earth), XLSX, CSV or a zipped Shapefile.

XLSX and CSV headers are the fields' display labels (``人口（人）``), which the readers accept back,
and points get 经度/纬度 columns (other geometries a representative point and WKT, coordinates
rounded to 7 decimals, split over ``WKT``, ``WKT_2``... columns of at most :data:`WKT_CELL`
characters, as Excel cells hold no more than 32,767), so an exported sheet re-imports as the same
layer (:mod:`layers.tabular` reads the geometry from the WKT columns). CSV is UTF-8 with a
byte-order mark, so Excel opens the Chinese text. The Shapefile (in a zip with its .shx, .dbf,
.prj and a .cpg saying UTF-8) keeps the canonical field names, cut to the format's 10 characters
by GDAL.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from layers.catalogue import spec as get_spec
from layers.storage import EXPORT, EXPORT_HEADING, guard
from layers.text import NO, YES, Text

FORMATS = {"gpkg": ("GPKG", "application/geopackage+sqlite3"),
           "geojson": ("GeoJSON", "application/geo+json"),
           "kml": ("KML", "application/vnd.google-earth.kml+xml"),
           "xlsx": (None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
           "csv": (None, "text/csv"),
           "zip": ("ESRI Shapefile", "application/zip")}
#: the coordinate columns of a table (the import preview and the exported sheet alike)
LON = Text("经度", "Longitude", "lon")
LAT = Text("纬度", "Latitude", "lat")
#: longest WKT piece in one table cell (Excel holds at most 32,767 characters; longer text goes on in WKT_2...)
WKT_CELL = 32_000


def display_table(gdf: gpd.GeoDataFrame, kind: str, lang: str = "zh", *, coordinates: bool = False) -> pd.DataFrame:
    """Attribute table with display labels as headers and choice codes as labels (no geometry).

    With ``coordinates``, longitude and latitude (of a point inside each feature, EPSG:4490, 6 decimals)
    lead the table, so an import preview shows where every row lands.
    """
    spec = get_spec(kind)
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    if coordinates and len(gdf):
        geom = gdf.geometry.to_crs(4490) if gdf.crs is not None else gdf.geometry
        pts = geom.where(geom.geom_type == "Point", geom.representative_point())
        lon, lat = LON(lang), LAT(lang)
        df = df.drop(columns=[c for c in (lon, lat) if c in df])   # a table's own lon/lat columns: where it lands
        df.insert(0, lat, pts.y.round(6).to_numpy())
        df.insert(0, lon, pts.x.round(6).to_numpy())
    for f in spec.fields:
        if f.type == "choice" and f.name in df:
            df[f.name] = df[f.name].map(lambda v, f=f: f.choice_label(v, lang) if isinstance(v, str) else v)
        if f.type == "bool" and f.name in df:
            yes, no = YES(lang), NO(lang)
            df[f.name] = df[f.name].map(
                lambda v, yes=yes, no=no: yes if v is True or v == 1 else (no if v is False or v == 0 else None))
    return df.rename(columns=spec.labels(lang))


def _sheet(gdf: gpd.GeoDataFrame, kind: str, lang: str) -> pd.DataFrame:
    table = display_table(gdf, kind, lang)
    geom = gdf.geometry
    lon, lat = LON(lang), LAT(lang)
    pts = geom if (geom.geom_type == "Point").all() else geom.representative_point()
    table.insert(len(table.columns), lon, pts.x.round(7).values)
    table.insert(len(table.columns), lat, pts.y.round(7).values)
    if not (geom.geom_type == "Point").all():
        chunks = [_split_wkt(t) for t in shapely.to_wkt(geom.values, rounding_precision=7)]
        for i in range(max((len(c) for c in chunks), default=1)):
            table["WKT" if i == 0 else f"WKT_{i + 1}"] = [c[i] if i < len(c) else None for c in chunks]
    return table


def _split_wkt(text: str | None, size: int = WKT_CELL) -> list[str | None]:
    """``text`` in pieces of at most ``size`` characters, cut after a comma where one is near.

    No piece starts or ends with a space (table readers strip cells), so joining the pieces gives
    back WKT that reads as the same geometry.
    """
    if text is None:
        return [None]
    out: list[str | None] = []
    while len(text) > size:
        cut = text.rfind(",", size // 2, size) + 1
        if cut <= 0:  # no comma near: cut inside the text, away from spaces
            cut = size
            while cut > 1 and (text[cut - 1].isspace() or text[cut].isspace()):
                cut -= 1
        out.append(text[:cut].strip())
        text = text[cut:].strip()
    out.append(text)
    return out


def _xlsx(gdf: gpd.GeoDataFrame, kind: str, lang: str) -> bytes:
    table = _sheet(gdf, kind, lang)
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        table.to_excel(xl, index=False, sheet_name=get_spec(kind).label(lang)[:31])
    return buf.getvalue()


def export_layer(gdf: gpd.GeoDataFrame, kind: str, fmt: str, *, lang: str = "zh") -> bytes:
    """Encode a layer as a file.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer (any CRS; written as EPSG:4490, or WGS84 for KML).
    kind : str
        Layer kind, for labels and the layer name.
    fmt : {'gpkg', 'geojson', 'kml', 'xlsx', 'csv', 'zip'}
        Output format.
    lang : {'zh', 'en'}
        Language of XLSX headers.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    StorageError
        The scratch files could not be written (the temporary folder is full or read-only).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    with guard(Path(tempfile.gettempdir()), EXPORT, heading=EXPORT_HEADING):
        return _encode(gdf, kind, fmt, lang)


def _encode(gdf: gpd.GeoDataFrame, kind: str, fmt: str, lang: str) -> bytes:
    if fmt == "xlsx":
        return _xlsx(gdf, kind, lang)
    if fmt == "csv":
        return _sheet(gdf, kind, lang).to_csv(index=False).encode("utf-8-sig")
    driver = FORMATS[fmt][0]
    out = gdf.to_crs("EPSG:4326") if fmt == "kml" else gdf
    for col in out.columns:
        if str(out[col].dtype) == "boolean":
            out = out.assign(**{col: out[col].astype("Int8")})
    if fmt == "zip":
        return _shapefile_zip(out, kind)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kind}.{fmt}"
        opts = {"NameField": "name"} if fmt == "kml" and "name" in out.columns else {}
        pyogrio.write_dataframe(out, path, layer=kind, driver=driver, dataset_options=opts or None)
        return path.read_bytes()


def _shapefile_zip(gdf: gpd.GeoDataFrame, kind: str) -> bytes:
    """A zipped Shapefile (UTF-8 attributes, .cpg written) of one layer."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / kind
        folder.mkdir()
        pyogrio.write_dataframe(gdf, folder / f"{kind}.shp", driver="ESRI Shapefile",
                                layer_options={"ENCODING": "UTF-8"})
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.iterdir()):
                zf.write(f, f.name)
        return buf.getvalue()
