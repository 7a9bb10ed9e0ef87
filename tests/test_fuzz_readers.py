"""Property-based test: malformed files of every format end in a clear LayerError or a valid layer.

A valid file of each format is built once (GeoJSON, GeoPackage, zipped Shapefile, KML, KMZ, CSV,
XLSX, GeoTIFF); hypothesis then truncates it, flips bytes, inserts junk, or (for the text and
archive formats) rewrites headers, values and members with random ones. Whatever comes in,
:func:`layers.load.load_layer` must either return a layer that really is valid (EPSG:4490, finite
2-D coordinates, valid geometries, the catalogue's columns) or raise a
:class:`~layers.errors.LayerError` whose message names the file in both languages. Any other
exception, from any library underneath, fails the test. Runs derandomized, so CI is reproducible.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from layers.errors import LayerError
from layers.load import load_layer
from layers.readers import list_sublayers

#: examples per property; ``FUZZ_EXAMPLES=2000 FUZZ_RANDOM=1`` for a long, randomised hunt
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                derandomize=not os.environ.get("FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAME = "上传文件"


def _water() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["东山水库", "坝塘一号", "西溪"], "类型": ["水库", "坝塘", "河流"], "蓄水量": [12000.0, 800.0, 5.5],
         "季节性": ["否", "是", "否"]},
        geometry=[shapely.Point(119.6, 28.3), shapely.Point(119.7, 28.4), shapely.Point(119.65, 28.35)],
        crs="EPSG:4490")


def _kml_text() -> str:
    pms = "".join(
        f"<Placemark><name>{n}</name><ExtendedData><Data name=\"类型\"><value>{t}</value></Data></ExtendedData>"
        f"<Point><coordinates>{g.x},{g.y},0</coordinates></Point></Placemark>"
        for n, t, g in zip(_water()["名称"], _water()["类型"], _water().geometry))
    return (f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"<Folder><name>水源</name>{pms}</Folder></Document></kml>")


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@functools.cache
def _seed(fmt: str) -> bytes:
    """Bytes of a valid file of format ``fmt`` (built once per session)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if fmt == ".geojson":
            return _water().to_json(ensure_ascii=False).encode()
        if fmt == ".gpkg":
            pyogrio.write_dataframe(_water(), d / "w.gpkg", layer="水源")
            return (d / "w.gpkg").read_bytes()
        if fmt == ".zip":
            pyogrio.write_dataframe(_water(), d / "水源.shp", encoding="UTF-8")
            return _zip_bytes({p.name: p.read_bytes() for p in sorted(d.iterdir())})
        if fmt == ".kml":
            return _kml_text().encode()
        if fmt == ".kmz":
            return _zip_bytes({"doc.kml": _kml_text().encode()})
        if fmt == ".csv":
            w = _water()
            lines = ["名称,经度,纬度,类型,蓄水量"] + [f"{n},{g.x},{g.y},{t},{v}" for n, t, v, g in
                                                zip(w["名称"], w["类型"], w["蓄水量"], w.geometry)]
            return "\n".join(lines).encode()
        if fmt == ".xlsx":
            wb = openpyxl.Workbook()
            ws = wb.active
            ws.append(["名称", "经度", "纬度", "类型", "蓄水量"])
            w = _water()
            for n, t, v, g in zip(w["名称"], w["类型"], w["蓄水量"], w.geometry):
                ws.append([n, g.x, g.y, t, v])
            buf = io.BytesIO()
            wb.save(buf)
            return buf.getvalue()
        if fmt == ".tif":
            arr = np.arange(64, dtype="float32").reshape(8, 8) + 100
            with rasterio.open(d / "d.tif", "w", driver="GTiff", width=8, height=8, count=1, dtype="float32",
                               crs="EPSG:4549", transform=Affine(30, 0, 500_000, 0, -30, 3_130_000),
                               nodata=-9999) as dst:
                dst.write(arr, 1)
            return (d / "d.tif").read_bytes()
    raise AssertionError(fmt)


FORMATS = [".geojson", ".gpkg", ".zip", ".kml", ".kmz", ".csv", ".xlsx", ".tif"]


def _check(data: bytes, suffix: str, kind: str = "water_sources"):
    """Load ``data`` as an upload; only a valid layer or a LayerError naming the file may come out."""
    kind = "dem" if suffix == ".tif" else kind
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload_tmp"          # uploads arrive under a temporary name without suffix
        path.write_bytes(data)
        name = NAME + suffix
        try:  # the Data page lists a file's layers/sheets/folders first
            subs = list_sublayers(path, display_name=name)
            assert isinstance(subs, list) and all(isinstance(x, str) for x in subs)
        except LayerError as exc:
            assert name in exc.lines("zh")[0] and name in exc.lines("en")[0], str(exc)
        try:
            layer = load_layer(path, kind, display_name=name)
        except LayerError as exc:
            zh, en = exc.lines("zh"), exc.lines("en")
            assert zh and en and name in zh[0] and name in en[0], str(exc)
            assert tmp not in str(exc)             # never a server path
            return None
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["upload_tmp"]  # nothing left behind
    if layer.raster is not None:
        assert layer.raster.array.ndim == 2 and layer.raster.crs is not None
        assert layer.count > 0
        return layer
    gdf = layer.gdf
    assert len(gdf) > 0 and gdf.crs.to_epsg() == 4490
    assert gdf.geometry.notna().all() and gdf.is_valid.all() and not gdf.geometry.has_z.any()
    xy = shapely.get_coordinates(gdf.geometry.values)
    assert np.isfinite(xy).all() and (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()
    from layers.catalogue import spec

    s = spec(kind)
    families = {"Point": {"Point", "MultiPoint"}, "LineString": {"LineString", "MultiLineString", "LinearRing"},
                "Polygon": {"Polygon", "MultiPolygon"}}
    assert set(gdf.geom_type) <= set().union(*(families[g] for g in s.geometry if g != "raster"))
    for f in s.required:
        assert f.name in gdf and gdf[f.name].notna().all()
    return layer


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_seed_is_a_valid_layer(fmt):
    layer = _check(_seed(fmt), fmt)
    assert layer is not None and layer.count == (64 if fmt == ".tif" else 3)


# ---- raw byte mutations of every format ---------------------------------------------------------

@st.composite
def _mutated(draw) -> tuple[bytes, str]:
    fmt = draw(st.sampled_from(FORMATS))
    data = bytearray(_seed(fmt))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "overwrite", "prefix"]))
        n = len(data)
        pos = draw(st.integers(0, max(0, n - 1)))
        if op == "truncate":
            del data[pos:]
        elif op == "flip" and n:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos: pos + draw(st.integers(1, 64))]
        elif op == "prefix":  # another format's signature, a byte-order mark, an odd encoding declaration
            data[0:0] = draw(st.sampled_from(_PREFIXES))
        elif n:
            junk = draw(st.binary(min_size=1, max_size=16))
            data[pos: pos + len(junk)] = junk
    return bytes(data), fmt


_PREFIXES = [b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xff\xfea", b'<?xml version="1.0" encoding="foo"?>',
             b'<?xml version="1.0" encoding="utf-32"?>', b'<?xml version="1.0" encoding="gbk"?>', b"PK\x03\x04",
             b"SQLite format 3\x00", b"II*\x00", b"MM\x00*", b"\x00\x00\x27\x0a", b"<!DOCTYPE x>", b"{", b"\x00"]


KINDS = ["water_sources", "villages", "grids", "shelters", "roads", "cameras"]


@FUZZ
@given(_mutated(), st.sampled_from(KINDS))
@example((b"\xff\xfe" + "名称,经度,纬度\n".encode("utf-16-le") + b"a", ".csv"), "water_sources")  # odd UTF-16
@example((b"\xff\xfe<\x00k\x00m\x00l\x00>\x00x", ".kml"), "water_sources")
@example((b'<?xml version="1.0" encoding="foo-bar"?><kml></kml>', ".kml"), "water_sources")  # unknown codec
@example((b'<?xml version="1.0" encoding="utf-32"?><kml></kml>', ".kml"), "water_sources")  # expat refuses
@example(("zip-version-6.4", ".zip"), "water_sources")   # zipfile raised NotImplementedError on opening
@example(("zip-version-6.4", ".kmz"), "water_sources")
@example(("zip-version-6.4", ".xlsx"), "water_sources")
def test_byte_mutations_end_in_layer_or_layer_error(case, kind):
    data, fmt = case
    if data == "zip-version-6.4":  # the seed with its first central-directory entry needing zip version 6.4
        raw = bytearray(_seed(fmt))
        at = raw.find(b"PK\x01\x02")
        raw[at + 6: at + 8] = b"\x40\x00"
        data = bytes(raw)
    _check(data, fmt, kind)


# ---- structured mutations: random headers, values and members ------------------------------------

_cell = st.one_of(
    st.none(), st.text(max_size=12), st.integers(-10**12, 10**12), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["119°30'15\"", "28.3N", "１１９．５", "=1/0", "NaN", "inf", "-", "119.5,28.3", "E", "1e400",
                     "3,100,000.5", "40500000", "0x1F", "是", "水库", "#N/A", "  ", "\x00", "119:30:15"]))
_header = st.one_of(st.sampled_from(["名称", "经度", "纬度", "类型", "蓄水量", "X", "Y", "经纬度", "lon", "lat",
                                     "geometry", "_row", "", "季节性", "容量"]), st.text(max_size=8))


@FUZZ
@given(st.lists(_header, min_size=1, max_size=6), st.lists(st.lists(_cell, max_size=7), max_size=8),
       st.sampled_from([".csv", ".xlsx"]), st.integers(0, 3))
@example(["经度", "纬度"], [["E"]], ".csv", 0)        # a hemisphere letter alone once raised IndexError
@example(["经度", "纬度", "类型"], [["119.5", "28.3", "水库", *[None] * 2000, "x"]], ".csv", 0)
def test_random_tables(headers, rows, fmt, title_rows):
    if fmt == ".csv":
        out = io.StringIO()
        import csv

        w = csv.writer(out)
        for _ in range(title_rows):
            w.writerow(["标题"])
        w.writerow(headers)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        data = out.getvalue().encode("utf-8")
    else:
        wb = openpyxl.Workbook()
        ws = wb.active
        for _ in range(title_rows):
            ws.append(["标题"])
        ws.append([_xlsx_value(h) for h in headers])
        for r in rows:
            ws.append([_xlsx_value(v) for v in r])
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    _check(data, fmt)


def _xlsx_value(v):
    """openpyxl refuses control characters and non-finite floats: store them as the text a user would type."""
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)
    if isinstance(v, str):
        return "".join(c for c in v if c >= " " or c in "\t\n") or None
    return v


_coord = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**9, 10**9),
                   st.floats(73, 136), st.floats(3, 54), st.text(max_size=4), st.none())
_position = st.lists(_coord, min_size=0, max_size=4)
_geometry = st.one_of(
    st.none(),
    st.fixed_dictionaries({"type": st.just("Point"), "coordinates": _position}),
    st.fixed_dictionaries({"type": st.sampled_from(["LineString", "MultiPoint"]),
                           "coordinates": st.lists(_position, max_size=4)}),
    st.fixed_dictionaries({"type": st.sampled_from(["Polygon", "MultiLineString"]),
                           "coordinates": st.lists(st.lists(_position, max_size=5), max_size=2)}),
    st.fixed_dictionaries({"type": st.text(max_size=10), "coordinates": _position}),
)
_props = st.dictionaries(_header, st.one_of(_cell, st.lists(st.integers(), max_size=2),
                                           st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
                         max_size=5)


@FUZZ
@given(st.lists(st.fixed_dictionaries({"type": st.just("Feature"), "properties": _props, "geometry": _geometry}),
                max_size=5),
       st.one_of(st.none(), st.sampled_from(["EPSG:4326", "EPSG:4549", "EPSG:4528", "EPSG:3857", "EPSG:32650",
                                            "EPSG:4978", "EPSG:5773", "EPSG:3031", "bogus"])),
       st.sampled_from(KINDS))
@example([{"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[0.0, 0.0]]}}],
         None, "roads")                                  # GEOS refuses a one-point line
@example([{"type": "Feature", "properties": {"类型": "水库"},
           "geometry": {"type": "Point", "coordinates": [1e9, 1e9]}}],
         "EPSG:32650", "water_sources")                  # once stored as POINT (inf inf)
@example([{"type": "Feature", "properties": {"类型": "水库"},
           "geometry": {"type": "Point", "coordinates": [119, 28]}}],
         "EPSG:5773", "water_sources")                   # a vertical CRS once swapped the axes
def test_random_geojson(features, crs, kind):
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    _check(json.dumps(doc, ensure_ascii=False, allow_nan=True).encode(), ".geojson", kind)


_kml_coords = st.lists(st.tuples(_coord, _coord), max_size=4).map(
    lambda pts: " ".join(f"{a},{b}" for a, b in pts))
_kml_geom = st.one_of(
    _kml_coords.map(lambda c: f"<Point><coordinates>{c}</coordinates></Point>"),
    _kml_coords.map(lambda c: f"<LineString><coordinates>{c}</coordinates></LineString>"),
    _kml_coords.map(lambda c: f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{c}</coordinates></LinearRing>"
                              f"</outerBoundaryIs></Polygon>"),
    _kml_coords.map(lambda c: f"<MultiGeometry><Point><coordinates>{c}</coordinates></Point>"
                              f"<MultiGeometry/></MultiGeometry>"),
    st.just("<NetworkLink><Link><href>http://127.0.0.1:9/x.kml</href></Link></NetworkLink>"),
    st.text(max_size=10).map(lambda t: t.replace("<", "&lt;").replace("&", "&amp;")),
    st.just(""))
_xml_text = st.text(max_size=10).map(lambda t: "".join(c for c in t if c.isprintable()).replace("&", "&amp;")
                                     .replace("<", "&lt;"))


@FUZZ
@given(st.lists(st.tuples(_xml_text, _xml_text, _kml_geom), max_size=5), st.booleans(), st.booleans(),
       st.sampled_from(["UTF-8", "GBK", "gb2312", "UTF-16", "latin-1", "nonsense", "utf-32"]))
def test_random_kml(placemarks, in_folder, as_kmz, encoding):
    body = "".join(f"<Placemark><name>{n}</name><ExtendedData><Data name=\"类型\"><value>{t}</value></Data>"
                   f"</ExtendedData>{g}</Placemark>" for n, t, g in placemarks)
    if in_folder:
        body = f"<Folder><name>水源</name>{body}</Folder>"
    text = f'<?xml version="1.0" encoding="{encoding}"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>' \
           f"{body}</Document></kml>"
    data = text.encode()
    _check(_zip_bytes({"doc.kml": data}) if as_kmz else data, ".kmz" if as_kmz else ".kml")


@FUZZ
@given(st.sets(st.sampled_from(["水源.shp", "水源.shx", "水源.dbf", "水源.prj", "水源.cpg", "other.shp", "a/水源.shx",
                                "x.geojson", "x.kml", "__MACOSX/._水源.shp", "readme.txt"]), max_size=6),
       st.dictionaries(st.sampled_from([".shp", ".shx", ".dbf", ".prj", ".cpg"]), st.binary(max_size=40), max_size=2),
       st.sampled_from(["", "PROJCS[bogus]", 'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"]', "ANSI 936"]))
def test_random_zip_members(names, garbage, prj):
    """Shapefile zips with parts missing, doubled, damaged, or with stray files."""
    with tempfile.TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(_water(), Path(tmp) / "水源.shp", encoding="UTF-8")
        parts = {p.suffix: p.read_bytes() for p in Path(tmp).iterdir()}
    parts.update(garbage)
    parts[".prj"] = prj.encode() if prj and ".prj" not in garbage else parts.get(".prj", b"")
    members = {}
    for name in sorted(names):
        suffix = Path(name).suffix
        members[name] = parts.get(suffix, b'{"type": "FeatureCollection", "features": []}'
                                  if suffix == ".geojson" else b"<kml/>" if suffix == ".kml" else b"hello")
    _check(_zip_bytes(members), ".zip")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_and_tiny_files(fmt):
    for data in (b"", b"\x00", b"PK\x03\x04", b"{", b"<", b"II*\x00", b"SQLite format 3\x00", _seed(fmt)[:100]):
        _check(data, fmt)
