"""Beijing 1954 and Xi'an 1980: EPSG tables, recognition from .prj and GeoTIFF keys, naming, the datum
chosen without a zone, the bureau's transformation parameters (checked against EPSG's published sets),
and a chosen CRS that contradicts the file's own."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import rasterio
import shapely
from pyproj.transformer import TransformerGroup
from rasterio.transform import from_origin

from layers.crs import CRSConflict, gk_epsg, identify_crs, parse_crs_choice, resolve_bounds_crs
from layers.datums import (
    DATUMS,
    datum_of,
    describe,
    gk_codes,
    gk_of,
    parse_towgs84,
    shift_notes,
    towgs84_of,
    with_towgs84,
)
from layers.errors import CRSError, LayerError
from layers.load import load_layer
from layers.raster import read_raster

GEOD = pyproj.Geod(ellps="WGS84")
LONLAT = [(117.0, 29.8), (117.01, 29.81)]

#: ArcGIS .prj files as desktop GIS writes them (no EPSG code in them)
PRJ_BJ54_ZONE39 = ('PROJCS["Beijing_1954_3_Degree_GK_Zone_39",GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",'
                   'SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",'
                   '0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",39500000.0],'
                   'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],'
                   'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
PRJ_XIAN80_CM117 = ('PROJCS["Xian_1980_3_Degree_GK_CM_117E",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",'
                    'SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",'
                    '0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
                    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],'
                    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
#: the same Xi'an zone with every name replaced: only the numbers can tell it
PRJ_NAMELESS = PRJ_XIAN80_CM117.replace("Xian_1980_3_Degree_GK_CM_117E", "county_grid").replace(
    "GCS_Xian_1980", "geo").replace("D_Xian_1980", "local").replace('"Xian_1980"', '"sph"').replace(
    '"False_Easting",500000.0', '"False_Easting",39500000.0').replace("Gauss_Kruger", "Transverse_Mercator")


def _metres(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def _shp_zip(tmp_path: Path, gdf: gpd.GeoDataFrame, *, prj: str | None, name: str = "water") -> Path:
    folder = tmp_path / f"shp_{name}"
    folder.mkdir()
    pyogrio.write_dataframe(gdf.set_crs(None, allow_override=True), folder / f"{name}.shp", encoding="UTF-8")
    for p in folder.glob("*.prj"):
        p.unlink()
    if prj is not None:
        (folder / f"{name}.prj").write_text(prj, encoding="ascii")
    z = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    return z


def _water(code: int, lonlat=LONLAT, datum_code: int = 4214) -> gpd.GeoDataFrame:
    """Two water sources at ``lonlat`` on the datum of ``datum_code``, in the metres of EPSG:``code``."""
    g = gpd.GeoDataFrame({"名称": ["东山水库", "坝塘一号"], "类型": ["水库", "坝塘"]},
                         geometry=[shapely.Point(x, y) for x, y in lonlat], crs=datum_code)
    return g.to_crs(code)


# ---- the EPSG tables ---------------------------------------------------------------------------

def test_every_gauss_kruger_code_is_what_pyproj_calls_it():
    names = {"cgcs2000": "CGCS2000", "beijing1954": "Beijing 1954", "xian1980": "Xian 1980"}
    zones = gk_codes()
    assert len(zones) == 3 * (21 + 21 + 11 + 11)
    for g in zones:
        c = pyproj.CRS.from_epsg(g.code)
        assert c.name.startswith(names[g.datum.key]), (g, c.name)
        assert (f"zone {g.zone}" in c.name) == g.prefix and (f"CM {g.cm}E" in c.name) != g.prefix, c.name
        assert ("3-degree" in c.name) == (not g.six), c.name
        params = {p.name: p.value for p in c.coordinate_operation.params}
        assert params["Longitude of natural origin"] == g.cm
        assert params["False easting"] == (g.zone * 1_000_000 + 500_000 if g.prefix else 500_000)
    for d in DATUMS.values():
        assert pyproj.CRS.from_epsg(d.geographic).is_geographic
        assert datum_of(d.geographic) is d


@pytest.mark.parametrize("cm, prefix, six, datum, code", [
    (117, True, False, "beijing1954", 2415), (117, False, False, "beijing1954", 2436),
    (117, True, True, "beijing1954", 21420), (117, False, True, "beijing1954", 21460),
    (117, True, False, "xian1980", 2363), (117, False, False, "xian1980", 2384),
    (75, True, True, "xian1980", 2327), (135, False, True, "xian1980", 2348),
    (120, False, False, "cgcs2000", 4549), (117, True, False, "cgcs2000", 4527)])
def test_gk_epsg_of_each_datum(cm, prefix, six, datum, code):
    assert gk_epsg(cm, zone_prefix=prefix, six_degree=six, datum=datum) == code
    g = gk_of(code)
    assert (g.cm, g.prefix, g.six, g.datum.key) == (cm, prefix, six, datum)


# ---- recognised from .prj files and GeoTIFF keys, and named ----------------------------------

@pytest.mark.parametrize("wkt, code", [(PRJ_BJ54_ZONE39, 2415), (PRJ_XIAN80_CM117, 2384), (PRJ_NAMELESS, 2363),
                                       ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=krass "
                                        "+units=m +no_defs", 2415),
                                       ('GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",'
                                        '6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]',
                                        4214)])
def test_prj_without_code_is_recognised(wkt, code):
    assert identify_crs(wkt).to_epsg() == code


def test_names_as_offices_say_them():
    assert describe(2415) == ("北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）",
                              "Beijing 1954, 3° Gauss-Kruger zone 39 (EPSG:2415)")
    assert describe(2384).en == "Xi'an 1980, 3° Gauss-Kruger CM 117E (EPSG:2384)"
    assert describe(4610).zh == "西安1980 经纬度（EPSG:4610）"
    assert describe(21420).en == "Beijing 1954, 6° Gauss-Kruger zone 20 (EPSG:21420)"
    assert describe(4548).zh == "CGCS2000 3° 高斯-克吕格 中央经线 117°（EPSG:4548）"


def test_shapefile_with_esri_prj_named_and_warned(tmp_path):
    z = _shp_zip(tmp_path, _water(2415), prj=PRJ_BJ54_ZONE39)
    layer = load_layer(z, "water_sources")
    assert layer.crs_name("zh") == "北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）"
    assert layer.crs_name("en") == "Beijing 1954, 3° Gauss-Kruger zone 39 (EPSG:2415)"
    zh, en = " ".join(layer.messages("zh")), " ".join(layer.messages("en"))
    assert "数十米" in zh and "--towgs84" in zh and "tens of metres" in en and "--towgs84" in en
    # without parameters PROJ keeps latitude and longitude (its "ballpark"): the numbers come back as written
    np.testing.assert_allclose(shapely.get_coordinates(layer.gdf.geometry.values), np.array(LONLAT), atol=1e-8)


def test_geotiff_keys_of_an_old_datum(tmp_path):
    path = tmp_path / "dem.tif"
    x, y = pyproj.Transformer.from_crs(4610, 2363, always_xy=True).transform(117.0, 29.8)
    with rasterio.open(path, "w", driver="GTiff", width=3, height=2, count=1, dtype="float32", crs="EPSG:2363",
                       transform=from_origin(x, y, 30, 30)) as dst:
        dst.write(np.full((2, 3), 500.0, "float32"), 1)
    r = read_raster(path)
    assert r.crs.to_epsg() == 2363
    text = " ".join(w[1] for w in r.warnings)
    assert "Xi'an 1980, 3° Gauss-Kruger zone 39" in text and "tens of metres" in text
    layer = load_layer(path, "dem")
    assert layer.crs_name("zh") == "西安1980 3° 高斯-克吕格 第 39 带（EPSG:2363）"


# ---- the datum chosen, the zone told from the numbers ---------------------------------------------

@pytest.mark.parametrize("word, key", [("beijing1954", "beijing1954"), ("BJ54", "beijing1954"),
                                       ("北京54", "beijing1954"), ("Xian 1980", "xian1980"), ("西安80", "xian1980"),
                                       ("cgcs2000", "cgcs2000")])
def test_datum_words(word, key):
    assert parse_crs_choice(word).key == key


def test_zone_prefixed_numbers_without_prj_are_not_silently_cgcs2000(tmp_path):
    z = _shp_zip(tmp_path, _water(2415), prj=None)
    guessed = load_layer(z, "water_sources")                   # told nothing: CGCS2000 zone 39, and says so
    assert guessed.crs_name("en").startswith("CGCS2000, 3° Gauss-Kruger zone 39")
    assert any("beijing1954" in m for m in guessed.messages("en"))
    told = load_layer(z, "water_sources", crs="beijing1954")   # told the datum: Beijing 1954 zone 39
    assert told.source_crs.to_epsg() == 2415 and told.crs_chosen_used
    a = shapely.get_coordinates(guessed.gdf.geometry.values)[0]
    b = shapely.get_coordinates(told.gdf.geometry.values)[0]
    assert 20 < _metres(a, b) < 120                            # the camera "on the wrong hilltop"
    np.testing.assert_allclose(b, LONLAT[0], atol=1e-8)


def test_datum_word_on_lonlat_gives_its_geographic_crs():
    c, notes = resolve_bounds_crs((117.0, 29.8, 117.1, 29.9), None, source="a.csv", assume="xian1980")
    assert c.to_epsg() == 4610


def test_datum_word_on_numbers_without_zone_names_that_datums_zones(tmp_path):
    z = _shp_zip(tmp_path, _water(2436), prj=None)            # Beijing 1954 CM 117E: no zone number
    with pytest.raises(CRSError) as err:
        load_layer(z, "water_sources", crs="beijing1954")
    msg = str(err.value)
    assert "EPSG:2436" in msg and "北京1954" in msg and "Beijing 1954" in msg
    layer = load_layer(z, "water_sources", crs="EPSG:2436")
    np.testing.assert_allclose(shapely.get_coordinates(layer.gdf.geometry.values), np.array(LONLAT), atol=1e-8)


# ---- the bureau's parameters (EPSG's published sets as the examples) --------------------------------

def _epsg_operation(name: str, lonlat: tuple[float, float]) -> tuple[float, float]:
    """WGS84 lon/lat of a Beijing 1954 point through EPSG's own transformation ``name``."""
    ops = [t for t in TransformerGroup(4214, 4326, always_xy=True).transformers if name in t.description]
    assert ops, name
    return ops[0].transform(*lonlat)


@pytest.mark.parametrize("params, name, lonlat, zone_code", [
    # EPSG:15921 "Beijing 1954 to WGS 84 (6)", Ordos basin: a 3-parameter set
    ("11.911,-154.833,-80.079", "Beijing 1954 to WGS 84 (6)", (108.5, 37.5), 2412),
    # EPSG:1918 "Beijing 1954 to WGS 84 (2)", Yellow Sea: a 7-parameter set (position vector)
    ("15.53,-113.82,-41.38,0,0,0.814,-0.38", "Beijing 1954 to WGS 84 (2)", (121.5, 34.0), 2416)])
def test_published_parameter_sets_reproduce_epsg(tmp_path, params, name, lonlat, zone_code):
    want = _epsg_operation(name, lonlat)
    z = _shp_zip(tmp_path, _water(zone_code, lonlat=[lonlat, (lonlat[0] + 0.01, lonlat[1])]), prj=None)
    layer = load_layer(z, "water_sources", crs="beijing1954", towgs84=parse_towgs84(params))
    got = shapely.get_coordinates(layer.gdf.geometry.values)[0]
    assert _metres(got, want) < 0.001
    assert _metres(got, lonlat) > 20                 # the shift the parameters make is tens of metres
    assert towgs84_of(layer.source_crs)[:3] == tuple(float(v) for v in params.split(",")[:3])
    assert any("转换参数" in m for m in layer.messages("zh"))
    assert "transformation parameters" in layer.crs_name("en")


@pytest.mark.parametrize("bad", ["1,2", "1,2,3,4", "1,2,3,4,5,6", "1,2,3,4,5,6,7,8", "a,b,c", "", "1,2,nan"])
def test_towgs84_of_the_wrong_length_is_refused(bad):
    with pytest.raises(CRSError) as err:
        parse_towgs84(bad, source="--towgs84")
    assert "3 个或 7 个" in str(err.value) or "不是数字" in str(err.value)
    assert "3 or 7" in str(err.value) or "not a number" in str(err.value)


def test_towgs84_in_wrong_units_is_refused():
    with pytest.raises(CRSError, match="arc-seconds"):
        parse_towgs84("15,-150,-80,0,0,5000,0")
    assert parse_towgs84("１５.８，-154.4；-82.3") == (15.8, -154.4, -82.3, 0.0, 0.0, 0.0, 0.0)


def test_towgs84_for_cgcs2000_data_is_refused(tmp_path):
    z = _shp_zip(tmp_path, _water(4527, datum_code=4490), prj=None)
    with pytest.raises(CRSError) as err:
        load_layer(z, "water_sources", towgs84=parse_towgs84("11.9,-154.8,-80.1"))
    assert "CGCS2000" in str(err.value) and "--towgs84" in str(err.value)
    with pytest.raises(CRSError):
        with_towgs84(4490, (1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0))


def test_raster_with_parameters_moves_onto_cgcs2000_without_resampling(tmp_path):
    path = tmp_path / "dem.tif"
    x, y = pyproj.Transformer.from_crs(4214, 2412, always_xy=True).transform(108.5, 37.5)
    data = np.arange(20 * 30, dtype="float32").reshape(20, 30) + 1000.0
    with rasterio.open(path, "w", driver="GTiff", width=30, height=20, count=1, dtype="float32", crs="EPSG:2412",
                       transform=from_origin(x, y, 30, 30)) as dst:
        dst.write(data, 1)
    params = parse_towgs84("11.911,-154.833,-80.079")
    r = read_raster(path, towgs84=params)
    assert r.crs.to_epsg() == gk_epsg(108, zone_prefix=True)          # CGCS2000, same zone 36
    np.testing.assert_array_equal(r.array, data)
    # the corner lands where EPSG's transformation puts it
    want = _epsg_operation("Beijing 1954 to WGS 84 (6)", (108.5, 37.5))
    got = pyproj.Transformer.from_crs(r.crs, 4490, always_xy=True).transform(r.transform.c, r.transform.f)
    assert _metres(got, want) < 0.01
    assert abs(r.transform.a - 30) < 0.01 and any(getattr(w, "code", "") == "raster_shifted" for w in r.warnings)


def test_shift_notes_are_bilingual_and_silent_for_cgcs2000():
    assert shift_notes(4549, "a") == []
    (note,) = shift_notes(2415, "a.shp")
    assert "数十米" in note.zh and "tens of metres" in note.en


# ---- a chosen CRS against the file's own ------------------------------------------------------------

def test_chosen_crs_contradicting_the_prj_is_refused_unless_overridden(tmp_path):
    z = _shp_zip(tmp_path, _water(2415), prj=PRJ_BJ54_ZONE39)
    with pytest.raises(CRSConflict) as err:
        load_layer(z, "water_sources", crs="EPSG:4527")
    msg = str(err.value)
    assert "北京1954" in msg and "Beijing 1954" in msg and "--crs-override" in msg and "EPSG:4527" in msg
    layer = load_layer(z, "water_sources", crs="EPSG:4527", on_conflict="override")
    assert layer.source_crs.to_epsg() == 4527 and any("declares" in m for m in layer.messages("en"))
    kept = load_layer(z, "water_sources", crs="EPSG:4527", on_conflict="keep")
    assert kept.source_crs.to_epsg() == 2415 and not kept.crs_chosen_used and kept.crs_conflict is not None


def test_chosen_datum_agreeing_with_the_prj_is_no_conflict(tmp_path):
    z = _shp_zip(tmp_path, _water(2415), prj=PRJ_BJ54_ZONE39)
    layer = load_layer(z, "water_sources", crs="beijing1954")
    assert layer.source_crs.to_epsg() == 2415 and layer.crs_chosen_used
    with pytest.raises(CRSConflict):
        load_layer(z, "water_sources", crs="xian1980")


def test_geojson_wgs84_is_implied_not_declared(tmp_path):
    p = tmp_path / "pts.geojson"
    gpd.GeoDataFrame({"类型": ["水库"]}, geometry=[shapely.Point(117.0, 29.8)], crs=4326).to_file(p)
    text = p.read_text(encoding="utf-8")
    if '"crs"' in text:   # GDAL may write the member; the RFC 7946 form has none
        import json

        doc = json.loads(text)
        doc.pop("crs", None)
        p.write_text(json.dumps(doc), encoding="utf-8")
    layer = load_layer(p, "water_sources", crs="EPSG:4610")   # lon/lat on Xi'an 1980: replaces the implied WGS84
    assert layer.source_crs.to_epsg() == 4610 and layer.crs_chosen_used


def test_unknown_choice_is_a_layer_error():
    with pytest.raises(LayerError) as err:
        parse_crs_choice("beijing1955")
    assert "beijing1954" in str(err.value)
