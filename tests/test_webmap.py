"""GCJ-02 / BD-09: the BD-09 conversion against published point pairs, suspicion (DataV signature, names,
the offset pattern), refusals, and the choice kept with the workspace."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from layers.coords import bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, wgs84_to_gcj02
from layers.errors import LayerError
from layers.gpkg import read_layer_option
from layers.load import load_layer
from layers.webmap import suspect

GEOD = pyproj.Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


# ---- BD-09, exact, against published pairs ---------------------------------------------------

def test_gcj02_to_bd09_reproduces_the_published_pair():
    # wandergis/coordtransform's README (also hutool's CoordinateUtilTest): GCJ-02 (116.404, 39.915)
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-12)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-12)


def test_bd09_to_gcj02_is_the_exact_inverse():
    lon, lat = bd09_to_gcj02(116.41036949371029, 39.92133699351021)
    assert float(lon) == pytest.approx(116.404, abs=1e-10) and float(lat) == pytest.approx(39.915, abs=1e-10)
    # the usual one-step formula gives (116.39762729119315, 39.90865673957631) for BD-09 (116.404, 39.915);
    # the exact inverse differs from it by centimetres and reproduces the input
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert _metres(float(lon), float(lat), 116.39762729119315, 39.90865673957631) < 0.1
    back = gcj02_to_bd09(lon, lat)
    assert abs(float(back[0]) - 116.404) < 1e-10 and abs(float(back[1]) - 39.915) < 1e-10


def test_beijing_railway_station_pair():
    # published with the R package for Chinese coordinates: GCJ-02 (39.90245, 116.42703), BD-09 (39.90851, 116.43351)
    lon, lat = bd09_to_gcj02(116.43351, 39.90851)
    assert abs(float(lon) - 116.42703) < 1e-5 and abs(float(lat) - 39.90245) < 1e-5


def test_bd09_round_trip_from_wgs84_under_a_centimetre():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(98, 124, 300), rng.uniform(20, 45, 300)
    blon, blat = gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    wlon, wlat = bd09_to_wgs84(blon, blat)
    assert _metres(lon, lat, wlon, wlat).max() < 0.01
    assert _metres(lon, lat, blon, blat).min() > 300             # BD-09 is well off


def test_bd09_option_moves_points_back(tmp_path):
    wlon, wlat = 119.6, 28.4
    blon, blat = (float(v) for v in gcj02_to_bd09(*wgs84_to_gcj02(wlon, wlat)))
    p = tmp_path / "w.csv"
    p.write_text(f"类型,经度,纬度\n水窖,{blon!r},{blat!r}\n", encoding="utf-8")
    got = load_layer(p, "water_sources", offset="bd09").gdf.geometry.iloc[0]
    assert _metres(got.x, got.y, wlon, wlat) < 0.01


# ---- suspicion ---------------------------------------------------------------------------------

def _datav(tmp_path: Path) -> Path:
    """A DataV.GeoAtlas-style county boundary (GCJ-02 polygons, its usual properties)."""
    poly = shapely.Polygon([(119.5, 28.3), (119.7, 28.3), (119.7, 28.5), (119.5, 28.5)])
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": shapely.geometry.mapping(poly),
        "properties": {"adcode": 330802, "name": "婺城区", "center": [119.65, 29.08], "centroid": [119.6, 28.4],
                       "childrenNum": 18, "level": "district", "parent": {"adcode": 330800}, "subFeatureIndex": 0,
                       "acroutes": [100000, 330000, 330800]}}]}
    p = tmp_path / "330802.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p


def test_datav_signature_is_flagged(tmp_path):
    layer = load_layer(_datav(tmp_path), "flood_hazard")
    assert layer.suspicion is not None and layer.suspicion.reason == "datav" and layer.suspicion.offset == "gcj02"
    zh, en = " ".join(layer.messages("zh")), " ".join(layer.messages("en"))
    assert "DataV" in zh and "--gcj02" in zh and "DataV" in en and "--gcj02" in en
    converted = load_layer(_datav(tmp_path), "flood_hazard", gcj02=True)
    assert converted.suspicion is None and converted.offset == "gcj02"


@pytest.mark.parametrize("name, header, offset", [
    ("高德导出.csv", "类型,经度,纬度", "gcj02"), ("baidu_poi.csv", "类型,经度,纬度", "bd09"),
    ("water.csv", "类型,经度,纬度,amap_id", "gcj02"), ("water.csv", "类型,经度,纬度,百度POI", "bd09")])
def test_web_map_names_are_flagged(tmp_path, name, header, offset):
    p = tmp_path / name
    extra = ",x" if header.count(",") == 3 else ""
    p.write_text(f"{header}\n水窖,119.6,28.4{extra}\n", encoding="utf-8")
    layer = load_layer(p, "water_sources")
    assert layer.suspicion is not None and layer.suspicion.reason == "name" and layer.suspicion.offset == offset
    assert any(("--bd09" if offset == "bd09" else "--gcj02") in m for m in layer.messages("en"))


def test_plain_file_is_not_flagged(tmp_path):
    p = tmp_path / "water.csv"
    p.write_text("类型,经度,纬度\n水窖,119.6,28.4\n", encoding="utf-8")
    assert load_layer(p, "water_sources").suspicion is None


def _roads() -> gpd.GeoSeries:
    """Six winding roads across a 10 x 10 km county around 119.6E 28.4N (WGS84/CGCS2000)."""
    rng = np.random.default_rng(11)
    lines = []
    for i in range(6):
        t = np.linspace(0, 1, 40)
        a = rng.uniform(0, np.pi)
        x0, y0 = 119.6 + rng.uniform(-0.03, 0.03), 28.4 + rng.uniform(-0.03, 0.03)
        x = x0 + (t - 0.5) * 0.1 * np.cos(a) + 0.004 * np.sin(t * 9 + i)
        y = y0 + (t - 0.5) * 0.1 * np.sin(a) + 0.004 * np.cos(t * 7 + i)
        lines.append(shapely.LineString(np.column_stack([x, y])))
    return gpd.GeoSeries(lines, crs="EPSG:4490")


def _points_on_roads(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    roads = _roads().values
    pts = [shapely.line_interpolate_point(roads[i], rng.uniform(0.1, 0.9), normalized=True)
           for i in rng.integers(0, len(roads), n)]
    xy = shapely.get_coordinates(np.array(pts))
    return xy[:, 0], xy[:, 1]


def _layer(lon, lat) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"n": range(len(lon))}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4490")


def test_points_on_the_gcj02_offset_pattern_are_flagged():
    lon, lat = _points_on_roads()
    assert suspect(_layer(lon, lat), source="w.xlsx", reference=_roads()) is None      # on the roads: fine
    glon, glat = wgs84_to_gcj02(lon, lat)
    found = suspect(_layer(glon, glat), source="w.xlsx", reference=_roads())
    assert found is not None and found.reason == "pattern" and found.offset == "gcj02"
    assert found.detail["median_after_m"] < 5 < 100 < found.detail["median_before_m"]
    assert "--gcj02" in found.note.zh and "--gcj02" in found.note.en and "w.xlsx" in found.note.en
    blon, blat = gcj02_to_bd09(glon, glat)
    found = suspect(_layer(blon, blat), source="w.xlsx", reference=_roads())
    assert found is not None and found.offset == "bd09"


def test_randomly_scattered_points_are_not_flagged():
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(119.55, 119.65, 40), rng.uniform(28.35, 28.45, 40)
    assert suspect(_layer(lon, lat), source="w.xlsx", reference=_roads()) is None


# ---- refusals ----------------------------------------------------------------------------------

def test_gcj02_of_projected_data_is_refused(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("类型,X,Y\n水窖,3145000,40558000\n", encoding="utf-8")     # CGCS2000 GK zone 40 (X north)
    with pytest.raises(LayerError) as err:
        load_layer(p, "water_sources", gcj02=True)
    msg = str(err.value)
    assert "GCJ-02" in msg and "投影" in msg and "projected" in msg


def test_gcj02_of_a_raster_is_refused(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32", crs="EPSG:4490",
                       transform=from_origin(119.6, 28.4, 0.001, 0.001)) as dst:
        dst.write(np.ones((2, 2), "float32"), 1)
    with pytest.raises(LayerError, match="GCJ-02"):
        load_layer(path, "dem", gcj02=True)


# ---- the choice kept with the workspace --------------------------------------------------------

def test_choice_kept_with_the_workspace_and_applied_again(tmp_path, capsys):
    from gis.cli import main

    ws = tmp_path / "ws.gpkg"
    wlon, wlat = 119.6, 28.4
    glon, glat = (float(v) for v in wgs84_to_gcj02(wlon, wlat))
    p = tmp_path / "水源.csv"
    p.write_text(f"名称,类型,经度,纬度\n东山,水窖,{glon!r},{glat!r}\n", encoding="utf-8")

    def stored_x() -> float:
        return float(gpd.read_file(ws, layer="water_sources").geometry.iloc[0].x)

    assert main(["import", "--workspace", str(ws), "--layer", "water_sources", str(p), "--gcj02", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["offset"] == "gcj02"
    assert read_layer_option(ws, "water_sources", "水源.csv")["offset"] == "gcj02"
    assert stored_x() == pytest.approx(wlon, abs=1e-7)
    # the next import of the same file, without the flag, is corrected again, and says so
    assert main(["import", "--workspace", str(ws), "--layer", "water_sources", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["offset"] == "gcj02" and any("上次导入" in n for n in out["notes"])
    assert stored_x() == pytest.approx(wlon, abs=1e-7)
    # --no-offset undoes the choice and is kept too
    assert main(["import", "--workspace", str(ws), "--layer", "water_sources", str(p), "--no-offset", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["offset"] is None
    assert read_layer_option(ws, "water_sources", "水源.csv")["offset"] == "none"
    assert stored_x() == pytest.approx(glon, abs=1e-7)
    assert main(["import", "--workspace", str(ws), "--layer", "water_sources", str(p), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["offset"] is None


def test_suspicion_in_the_cli_against_the_workspace_roads(tmp_path, capsys):
    from gis.cli import main
    from layers.workspace import Workspace

    ws = Workspace(tmp_path / "ws.gpkg")
    roads = gpd.GeoDataFrame({"name": [f"r{i}" for i in range(len(_roads()))]}, geometry=_roads().values,
                             crs="EPSG:4490")
    ws.replace("roads", roads, note="roads", user="t")
    lon, lat = _points_on_roads()
    glon, glat = wgs84_to_gcj02(lon, lat)
    p = tmp_path / "sources.csv"
    p.write_text("类型,经度,纬度\n" + "\n".join(f"水窖,{float(x)!r},{float(y)!r}" for x, y in zip(glon, glat)) + "\n",
                 encoding="utf-8")
    assert main(["import", "--workspace", str(ws.gpkg), "--layer", "water_sources", str(p), "--preview",
                 "--json", "--lang", "en"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["suspected_offset"] == "gcj02" and any("--gcj02" in n for n in out["notes"])
