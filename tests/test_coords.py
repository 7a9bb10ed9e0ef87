"""Coordinate spellings and the GCJ-02 offset."""

from __future__ import annotations

import datetime

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from layers.coords import convert_gcj02, gcj02_to_wgs84, parse_coordinate, wgs84_to_gcj02

DMS = 119 + 30 / 60 + 15.5 / 3600

SPELLINGS = [
    (119.5, 119.5),
    (119, 119.0),
    (np.float32(28.25), 28.25),
    ("119.5", 119.5),
    (" 119.5 ", 119.5),
    ("１１９．５", 119.5),
    ("-33.25", -33.25),
    ("119°30'15.5\"", DMS),
    ("119°30′15.5″E", DMS),
    ("119°30’15.5”", DMS),
    ("119度30分15.5秒", DMS),
    ("１１９度３０分１５．５秒", DMS),
    ("东经119度30分15.5秒", DMS),
    ("119:30:15.5", DMS),
    ("119 30 15.5", DMS),
    ("119d30m15.5s", DMS),
    ("119º30'15.5\"", DMS),
    ("119°30'15.5''", DMS),
    ("E119°30.258'", 119 + 30.258 / 60),
    ("N28°24'", 28.4),
    ("28°24′N", 28.4),
    ("北纬28度24分", 28.4),
    ("S28°24'", -28.4),
    ("28°24'S", -28.4),
    ("南纬28.4", -28.4),
    ("W 119.5", -119.5),
    ("西经119°30'", -119.5),
    ("119.5°", 119.5),
    ("-119°30'", -119.5),
    ("3,100,000.5", 3100000.5),
    ("40500000", 40500000.0),
    (datetime.timedelta(hours=119, minutes=30, seconds=15.5), DMS),
]


@pytest.mark.parametrize(("value", "expected"), SPELLINGS)
def test_parse_coordinate_spellings(value, expected):
    assert parse_coordinate(value) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("value, why", [
    (None, "coordinate"), ("", "coordinate"), ("   ", "coordinate"), ("abc", "coordinate"),
    ("119°70'", "minutes must be below 60"), ("119°30'75\"", "seconds must be below 60"), ("nan", "hemisphere"),
    (float("nan"), "coordinate"), (float("inf"), "coordinate"), (True, "coordinate"), ("200°", "beyond 180"),
    ("30'", "no degrees"), ("119.5°30'", "fractional degrees followed by minutes"),
    ("1.2.3", "fractional degrees followed by minutes"), ("-S28", "coordinate|hemisphere"),
    ("119°30'15\"N E", "coordinate|hemisphere"), ([119.5], "coordinate"), (datetime.date(2024, 1, 1), "coordinate")])
def test_parse_coordinate_rejects(value, why):
    with pytest.raises(ValueError, match=why):
        parse_coordinate(value)


def _metres(lon1, lat1, lon2, lat2):
    return Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2]


def test_gcj02_offset_in_china_and_zero_outside():
    lon = np.array([116.397, 119.6, 87.6, 2.35, -74.0])
    lat = np.array([39.908, 28.3, 43.8, 48.85, 40.7])
    glon, glat = wgs84_to_gcj02(lon, lat)
    offset = _metres(lon, lat, glon, glat)
    assert np.all((offset[:3] > 200) & (offset[:3] < 800))
    assert np.array_equal(glon[3:], lon[3:]) and np.array_equal(glat[3:], lat[3:])


def test_gcj02_round_trip_under_half_a_metre():
    rng = np.random.default_rng(0)
    lon = rng.uniform(98, 124, 500)
    lat = rng.uniform(20, 45, 500)
    wlon, wlat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, wlon, wlat).max() < 0.5


def test_gcj02_to_wgs84_outside_china_unchanged():
    lon, lat = gcj02_to_wgs84(np.array([2.35]), np.array([48.85]))
    assert lon[0] == 2.35 and lat[0] == 48.85


def test_convert_gcj02_any_geometry():
    wgs = [shapely.Point(119.6, 28.3), shapely.LineString([(119.6, 28.3), (119.7, 28.4)]),
           shapely.Polygon([(119.6, 28.3), (119.7, 28.3), (119.7, 28.4)])]

    def to_gcj(xy):
        return np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))

    gcj = gpd.GeoDataFrame({"n": [1, 2, 3]}, geometry=shapely.transform(np.array(wgs), to_gcj), crs=4490)
    gcj.attrs["source"] = "a.xlsx"
    out = convert_gcj02(gcj)
    assert out.crs == gcj.crs and out.attrs["source"] == "a.xlsx"
    assert list(out.geom_type) == ["Point", "LineString", "Polygon"]
    for a, b in zip(out.geometry, wgs):
        ca, cb = shapely.get_coordinates(a), shapely.get_coordinates(b)
        assert _metres(ca[:, 0], ca[:, 1], cb[:, 0], cb[:, 1]).max() < 0.5


def test_convert_gcj02_projected_layer_comes_back_projected():
    gcj_lon, gcj_lat = wgs84_to_gcj02(np.array([119.6]), np.array([28.3]))
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(gcj_lon, gcj_lat), crs=4490).to_crs(4549)
    out = convert_gcj02(gdf)
    assert out.crs.to_epsg() == 4549
    back = out.to_crs(4490).geometry.iloc[0]
    assert _metres(back.x, back.y, 119.6, 28.3) < 0.5
