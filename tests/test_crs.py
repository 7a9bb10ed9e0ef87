"""CRS resolution, recognition of CGCS2000 Gauss-Kruger, metric CRS choice and storage CRS."""

from __future__ import annotations

import geopandas as gpd
import pyproj
import pytest
import shapely

from layers.crs import gk_epsg, identify_crs, metric_crs, resolve_crs, to_storage
from layers.errors import CRSError


def _points(xs, ys, crs=None) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame({"name": [f"p{i}" for i in range(len(xs))]}, geometry=gpd.points_from_xy(xs, ys), crs=crs)
    gdf.attrs["source"] = "pts.shp"
    return gdf


LONLAT = ([117.1, 117.3], [31.5, 31.9])


def _gk(epsg: int) -> gpd.GeoDataFrame:
    """The LONLAT points in a Gauss-Kruger CRS, with the CRS then dropped."""
    return _points(*LONLAT, crs=4490).to_crs(epsg).set_crs(None, allow_override=True)


def test_no_crs_lonlat_in_china_is_4490_with_warning():
    out = resolve_crs(_points(*LONLAT), source="pts.shp")
    assert out.crs.to_epsg() == 4490
    assert len(out.attrs["warnings"]) == 1
    zh, en = out.attrs["warnings"][0]
    assert "EPSG:4490" in zh and "EPSG:4490" in en and "pts.shp" in zh
    assert out.attrs["source"] == "pts.shp"


def test_no_crs_gk_with_zone_prefix():
    gdf = _gk(4527)                           # CGCS2000 3-degree zone 39 (CM 117E)
    assert 39_000_000 < gdf.total_bounds[0] < 40_000_000
    out = resolve_crs(gdf, source="pts.shp")
    assert out.crs.to_epsg() == 4527
    assert "4527" in out.attrs["warnings"][0][1]
    back = out.to_crs(4490)
    assert back.geometry.x.round(9).tolist() == LONLAT[0]


def test_no_crs_gk_6_degree_zone_prefix():
    out = resolve_crs(_gk(4498), source="pts.shp")       # CGCS2000 6-degree zone 20 (CM 117E)
    assert out.crs.to_epsg() == 4498


def test_no_crs_gk_without_zone_needs_central_meridian():
    with pytest.raises(CRSError, match="中央经线") as err:
        resolve_crs(_gk(4548), source="pts.shp")
    assert "central meridian" in str(err.value)
    assert err.value.problems[0].file == "pts.shp"


def test_no_crs_swapped_gk_axes_reported():
    gdf = _gk(4527)
    swapped = gdf.set_geometry(shapely.transform(gdf.geometry.values, lambda xy: xy[:, ::-1]))
    with pytest.raises(CRSError, match="颠倒"):
        resolve_crs(swapped, source="pts.shp")


@pytest.mark.parametrize(("xs", "ys"), [([1.0, 2.0], [3.0, 4.0]), ([-70.0, -71.0], [40.0, 41.0]),
                                        ([5e8, 6e8], [1e9, 2e9])])
def test_no_crs_junk_rejected(xs, ys):
    with pytest.raises(CRSError, match="没有坐标系信息") as err:
        resolve_crs(_points(xs, ys), source="pts.shp")
    assert "no CRS given" in str(err.value)


def test_declared_crs_kept_and_recognised():
    out = resolve_crs(_points(*LONLAT, crs=4326), source="pts.shp")
    assert out.crs.to_epsg() == 4326 and "warnings" not in out.attrs


def test_prj_naming_cgcs2000_gk_without_code_resolves_to_epsg():
    wkt = ('PROJCS["CGCS2000 3 degree GK CM 117E (custom)",GEOGCS["China Geodetic Coordinate System 2000",'
           'DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],'
           'UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
           'PARAMETER["central_meridian",117],PARAMETER["scale_factor",1],PARAMETER["false_easting",500000],'
           'PARAMETER["false_northing",0],UNIT["metre",1]]')
    gdf = _gk(4548).set_crs(wkt, allow_override=True)
    assert resolve_crs(gdf, source="pts.shp").crs.to_epsg() == 4548


@pytest.mark.parametrize(("text", "epsg"), [
    (pyproj.CRS.from_epsg(4549).to_wkt("WKT1_ESRI"), 4549),
    ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m +no_defs", 4527),
    ("+proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs", 4549),
    ("+proj=tmerc +lat_0=0 +lon_0=105 +k=1 +x_0=18500000 +y_0=0 +ellps=GRS80 +units=m +no_defs", 4496),
    (pyproj.CRS.from_epsg(4490).to_wkt("WKT1_ESRI"), 4490),
])
def test_identify_crs(text, epsg):
    assert identify_crs(text).to_epsg() == epsg


def test_identify_crs_other_datums():
    beijing54 = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=krass +units=m +no_defs"
    assert identify_crs(beijing54).to_epsg() == 2436        # Beijing 1954 / 3-degree GK CM 117E
    odd = "+proj=tmerc +lat_0=0 +lon_0=117.25 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    assert identify_crs(odd).to_epsg() is None


def test_gk_epsg():
    assert gk_epsg(75) == 4534 and gk_epsg(135) == 4554 and gk_epsg(120) == 4549
    assert gk_epsg(117, zone_prefix=True) == 4527 and gk_epsg(75, zone_prefix=True) == 4513
    assert gk_epsg(105, six_degree=True) == 4507 and gk_epsg(105, zone_prefix=True, six_degree=True) == 4496
    with pytest.raises(ValueError, match="central meridian 118"):
        gk_epsg(118)


def test_declared_lonlat_but_metres_reported():
    gdf = _gk(4527).set_crs(4490, allow_override=True)
    with pytest.raises(CRSError, match="EPSG:4527") as err:
        resolve_crs(gdf, source="pts.shp")
    assert "out of lon/lat range" in str(err.value)


def test_declared_metres_but_lonlat_reported():
    with pytest.raises(CRSError, match="像经纬度") as err:
        resolve_crs(_points(*LONLAT, crs=4549), source="pts.shp")
    assert "look like lon/lat" in str(err.value)


def test_declared_cm_variant_with_zone_prefixed_numbers_relabelled():
    gdf = _gk(4527).set_crs(4548, allow_override=True)        # CM 117E declared, zone 39 numbers
    out = resolve_crs(gdf, source="pts.shp")
    assert out.crs.to_epsg() == 4527 and "4527" in out.attrs["warnings"][0][1]


def test_declared_zone_variant_with_other_zone_numbers_rejected():
    gdf = _gk(4527).set_crs(4528, allow_override=True)        # zone 40 declared, zone 39 numbers
    with pytest.raises(CRSError, match="带号"):
        resolve_crs(gdf, source="pts.shp")


def test_declared_zone_variant_with_plain_numbers_relabelled():
    gdf = _gk(4548).set_crs(4527, allow_override=True)
    assert resolve_crs(gdf, source="pts.shp").crs.to_epsg() == 4548


@pytest.mark.parametrize(("bounds", "epsg"), [
    ((119.5, 28.0, 119.7, 28.2), 4549),           # CM 120E
    ((116.0, 31.0, 118.0, 32.0), 4548),           # CM 117E
    ((73.5, 39.0, 74.0, 39.5), 4534),             # CM 75E, westernmost
    ((134.0, 47.0, 134.8, 48.0), 4554),           # CM 135E
    ((2.0, 48.0, 2.5, 48.5), 32631),              # Paris: UTM 31N
    ((-58.6, -34.8, -58.2, -34.5), 32721),        # Buenos Aires: UTM 21S
    ((139.5, 35.5, 139.9, 35.8), 32654),          # Tokyo, east of China's box: UTM 54N
])
def test_metric_crs(bounds, epsg):
    assert metric_crs(bounds).to_epsg() == epsg


def test_metric_crs_rejects_metres():
    with pytest.raises(ValueError, match="not lon/lat degrees"):
        metric_crs((500000, 3000000, 510000, 3010000))


def test_to_storage_relabels_4326_and_reprojects_others():
    wgs = _points(*LONLAT, crs=4326)
    out = to_storage(wgs)
    assert out.crs.to_epsg() == 4490
    assert out.geometry.x.tolist() == LONLAT[0] and out.geometry.y.tolist() == LONLAT[1]
    assert out.attrs["source"] == "pts.shp"
    gk = _points(*LONLAT, crs=4490).to_crs(4548)
    back = to_storage(gk)
    assert back.crs.to_epsg() == 4490
    assert back.geometry.x.round(9).tolist() == LONLAT[0] and back.geometry.y.round(9).tolist() == LONLAT[1]


def test_to_storage_without_crs_rejected():
    with pytest.raises(CRSError, match="没有坐标系"):
        to_storage(_points(*LONLAT))
