"""The forest-fire outputs: workbook (sheets, Chinese headers, totals worked by hand), GeoPackage, GeoJSON,
KML, GeoTIFFs, the A4 maps, and the ``fire-report`` command on the demo county (and bad input)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from affine import Affine
from openpyxl import load_workbook
from shapely.geometry import Point, box

from gis.cli import main
from gis.fire.gaps import coverage_gaps
from gis.fire.review import FireResult, FireReview, township_table, weather_step
from gis.fire.risk import RiskResult
from gis.fire.siting import SITE_COLUMNS
from gis.fire.weather import day_risk
from gis.report.fire_files import fire_summary, fire_workbook, write_fire_files
from layers.raster import Raster

CRS = "EPSG:4549"
X0, Y0, RES, N = 440_000.0, 3_150_000.0, 100.0, 20      # 2 x 2 km, 1 ha cells
K = "{http://www.opengis.net/kml/2.2}"


def _analysis(*, cameras: bool = True, sources: bool = True, weather=(30, 25, 10, 4)) -> FireResult:
    """甲镇 = west half (cols 0-9, all forest, 200 ha); 乙乡 = east half rows 0-9 (100 ha).

    High risk: 甲镇 rows 0-9 (level 4, 100 ha), 乙乡 rows 0-4 (level 5, 50 ha).
    Cameras: 1 camera sees cols 0-4, a 2nd also cols 0-1 rows 0-9. Water reaches rows 0-4.
    """
    grid = Raster(np.full((N, N), 500.0), Affine(RES, 0, X0, 0, -RES, Y0), CRS, None)
    mid, bottom = X0 + 10 * RES, Y0 - N * RES
    forest_gdf = gpd.GeoDataFrame({"township": ["甲镇", "乙乡"]},
                                  geometry=[box(X0, bottom, mid, Y0), box(mid, Y0 - 10 * RES, X0 + N * RES, Y0)],
                                  crs=CRS)
    forest = np.zeros((N, N), bool)
    forest[:, :10] = True
    forest[:10, 10:] = True
    level = np.where(forest, 2, 0).astype(np.uint8)
    level[:10, :10] = 4
    level[:5, 10:] = 5
    high = level >= 4
    seen = np.zeros((N, N), np.uint16)
    seen[:, :5] = 1
    seen[:10, :2] = 2
    reach = np.zeros((N, N), np.uint16)
    reach[:5, :] = 1
    seen_a = seen if cameras else None
    reach_a = reach if sources else None
    gaps = coverage_gaps(grid, high, seen_a, reach_a, forest=forest_gdf)
    towns = township_table(grid, forest_gdf, forest, high, seen_a, reach_a)
    cams = pd.DataFrame({"name": ["东山视频监控", "西岭瞭望台"], "type": ["video", "lookout"], "height": [20.0, 15.0],
                         "range": [5000.0, 8000.0], "township": ["甲镇", "甲镇"],
                         "forest_seen_ha": [80.0, 100.0], "high_seen_ha": [40.0, 50.0], "only_ha": [0.0, 80.0]})
    srcs = pd.DataFrame({"name": ["一号山塘", "二号水窖"], "type": ["pond", "cistern"], "usable": [False, True],
                         "reason": ["season", ""], "reason_zh": ["季节性水源，旱季不可用", ""],
                         "reason_en": ["seasonal, dry in the dry season", ""], "distance_m": [800.0, 300.0],
                         "rise_m": [100.0, 60.0], "dip_site": [False, False], "air_distance_m": [np.nan] * 2,
                         "air_rise_m": [np.nan] * 2, "road_distance_m": [12.4, 250.6], "forest_ha": [0.0, 100.0],
                         "sole_forest_ha": [0.0, 100.0]})
    w = day = None
    if weather is not None:
        w, day = weather_step(weather, level)
    return FireResult(grid=grid, forest=forest, risk=RiskResult(np.where(forest, 0.5, np.nan), level, {}),
                        high_risk=high, seen=seen_a, first_camera=None,
                        reach=SimpleNamespace(count=reach) if sources else None, gaps=gaps, townships=towns,
                        cameras=cams if cameras else pd.DataFrame(), sources=srcs if sources else pd.DataFrame(),
                        weather=w, day_level=day, notes=[("演示说明", "demo note")],
                        review=FireReview(weather=weather))


def _sites() -> gpd.GeoDataFrame:
    rows = [{"order": 1, "kind": "camera", "origin": "ridge", "name": "C1", "gain_ha": 30.0, "gain_share": 0.2,
             "cumulative_ha": 80.0, "cumulative_share": 0.8, "elevation": 512.0, "road_dist_m": 40.0, "row": 3,
             "col": 15},
            {"order": 1, "kind": "water", "origin": "stream", "name": "W1", "gain_ha": 25.0, "gain_share": 0.1667,
             "cumulative_ha": 125.0, "cumulative_share": 0.8333, "elevation": 480.0, "road_dist_m": 10.0, "row": 7,
             "col": 7}]
    gdf = gpd.GeoDataFrame(rows, geometry=[Point(X0 + 1550, Y0 - 350), Point(X0 + 750, Y0 - 750)], crs=CRS)
    return gdf[SITE_COLUMNS + ["geometry"]].to_crs("EPSG:4490")


@pytest.fixture(scope="module")
def synth() -> FireResult:
    return _analysis()


def test_gaps_of_the_synthetic_county_as_worked_by_hand(synth):
    # both: 甲镇 rows 5-9 cols 5-9 (25 ha); unseen: 甲镇 rows 0-4 cols 5-9 + 乙乡 rows 0-4 (75 ha, majority 乙乡);
    # out of reach: 甲镇 rows 5-9 cols 0-4 (25 ha)
    g = synth.gaps
    assert g["gap"].tolist() == ["both", "unseen", "out_of_reach"]
    assert g["area_ha"].tolist() == pytest.approx([25.0, 75.0, 25.0])
    assert g["township"].tolist() == ["甲镇", "乙乡", "甲镇"]


def test_workbook_sheets_chinese_headers_and_hand_totals(synth):
    wb = load_workbook(io.BytesIO(fire_workbook(synth, _sites(), "zh", date="2026-03-01")))
    assert wb.sheetnames == ["乡镇覆盖统计", "监控点统计", "水源点统计", "覆盖空白区", "拟建站点", "说明"]
    ws = wb["乡镇覆盖统计"]
    heads = [c.value for c in ws[1]]
    assert heads[:3] == ["乡镇", "林地面积（公顷）", "高火险林地（公顷）"]
    assert "高火险林地监控覆盖率" in heads and "高火险林地水源可达率" in heads
    rows = {r[0]: dict(zip(heads, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert list(rows) == ["甲镇", "乙乡", "合计"]
    a, b, t = rows["甲镇"], rows["乙乡"], rows["合计"]
    assert (a["林地面积（公顷）"], a["高火险林地（公顷）"]) == (200.0, 100.0)
    assert a["林地监控覆盖率"] == pytest.approx(0.5) and a["林地双重监控覆盖率"] == pytest.approx(0.1)
    assert a["高火险林地监控覆盖率"] == pytest.approx(0.5) and a["林地水源可达率"] == pytest.approx(0.25)
    assert a["高火险林地水源可达率"] == pytest.approx(0.5) and a["高火险林地两者皆无（公顷）"] == 25.0
    assert (a["空白区（处）"], a["空白区面积（公顷）"]) == (2, 50.0)
    assert b["林地监控覆盖率"] == 0 and b["高火险林地水源可达率"] == pytest.approx(1.0)
    assert (b["空白区（处）"], b["空白区面积（公顷）"]) == (1, 75.0)
    assert (t["林地面积（公顷）"], t["高火险林地（公顷）"], t["高火险林地两者皆无（公顷）"]) == (300.0, 150.0, 25.0)
    assert (t["高火险林地监控覆盖率"] == pytest.approx(50 / 150)
            and t["高火险林地水源可达率"] == pytest.approx(100 / 150))
    assert (t["空白区（处）"], t["空白区面积（公顷）"]) == (3, 125.0)
    assert ws.cell(row=4, column=1).font.bold and ws.cell(row=2, column=4).number_format == "0.0%"
    assert ws.freeze_panes == "A2"

    cams = list(wb["监控点统计"].iter_rows(values_only=True))
    assert cams[0][:2] == ("名称", "类型")
    assert [r[:2] for r in cams[1:]] == [("西岭瞭望台", "瞭望台"), ("东山视频监控", "视频监控")]   # most forest first
    src = list(wb["水源点统计"].iter_rows(values_only=True))
    assert src[0][:4] == ("名称", "类型", "是否可用", "不可用原因")
    assert src[1][:4] == ("二号水窖", "水窖", "是", None) and src[2][:4] == ("一号山塘", "坝塘", "否",
                                                                       "季节性水源，旱季不可用")
    gaps = list(wb["覆盖空白区"].iter_rows(values_only=True))
    assert gaps[0][:3] == ("排名", "空白类型", "面积（公顷）")
    assert [(r[0], r[1], r[2]) for r in gaps[1:]] == [(1, "两者皆无", 25.0), (2, "未被监控覆盖", 75.0),
                                                      (3, "水源不可达", 25.0)]
    lon, lat = gaps[1][-2:]
    assert 119.0 < lon < 121.0 and 28.0 < lat < 29.0
    sites = list(wb["拟建站点"].iter_rows(values_only=True))
    assert [r[1:3] for r in sites[1:]] == [("拟建监控点", "C1"), ("拟建水源点", "W1")]
    notes = dict(wb["说明"].iter_rows(min_row=2, values_only=True))
    assert notes["生成日期"] == "2026-03-01" and notes["高火险林地监控覆盖率"] == "33.3%"
    assert notes["当日森林火险气象等级"].startswith(synth.weather.label.zh)


def test_workbook_in_english(synth):
    wb = load_workbook(io.BytesIO(fire_workbook(synth, lang="en")))
    assert wb.sheetnames[0] == "Township coverage"
    ws = wb["Township coverage"]
    assert ws.cell(1, 1).value == "Township" and ws.cell(ws.max_row, 1).value == "Total"
    assert wb["Gaps"].cell(2, 2).value == "unseen and out of water reach"
    assert wb["Proposed sites"].max_row == 1          # header only without sites
    with pytest.raises(ValueError):
        fire_workbook(synth, lang="fr")


def test_summary_numbers(synth):
    s = fire_summary(synth, _sites())
    assert (s["forest_ha"], s["high_risk_ha"], s["both_gap_ha"]) == (300.0, 150.0, 25.0)
    assert s["seen_share"] == pytest.approx(100 / 300, abs=1e-6)
    assert s["high_reach_share"] == pytest.approx(100 / 150, abs=1e-6)
    assert (s["gaps"], s["gap_ha"]) == (3, 125.0)
    assert s["gaps_by_class"]["unseen"] == {"count": 1, "ha": 75.0}
    assert s["sites"] == {"camera": 1, "water": 1}
    assert s["weather_level"] == synth.weather.level


def test_files_reread(synth, tmp_path):
    files = write_fire_files(synth, tmp_path, sites=_sites(), maps=False)
    names = [p.name for p in files]
    assert names == ["fire.xlsx", "fire.gpkg", "fire.geojson", "fire.kml", "coverage_count.tif", "reach_count.tif",
                     "risk_level.tif", "day_level.tif"]
    # GeoPackage
    layers = dict(pyogrio.list_layers(tmp_path / "fire.gpkg"))
    assert {"gaps", "sites", "townships", "camera_stats", "source_stats"} <= set(layers)
    gaps = gpd.read_file(tmp_path / "fire.gpkg", layer="gaps")
    assert len(gaps) == 3 and gaps.crs.to_epsg() == 4490
    assert gaps["area_ha"].sum() == pytest.approx(125.0) and gaps["gap_zh"].iloc[0] == "两者皆无"
    assert gaps.to_crs(CRS).area.sum() == pytest.approx(125e4, rel=1e-6)
    sites = gpd.read_file(tmp_path / "fire.gpkg", layer="sites")
    assert sites["name"].tolist() == ["C1", "W1"] and (sites.geom_type == "Point").all()
    towns = pyogrio.read_dataframe(tmp_path / "fire.gpkg", layer="townships")
    assert towns["township"].tolist() == ["甲镇", "乙乡", "合计/Total"]
    # GeoJSON
    fc = json.loads((tmp_path / "fire.geojson").read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    assert [f["properties"]["layer"] for f in fc["features"]] == ["gaps"] * 3 + ["sites"] * 2
    assert {f["geometry"]["type"] for f in fc["features"][:3]} <= {"Polygon", "MultiPolygon"}
    x, y = fc["features"][3]["geometry"]["coordinates"]
    assert 119 < x < 121 and 28 < y < 29
    # KML
    root = ET.parse(tmp_path / "fire.kml").getroot()
    folders = {f.find(f"{K}name").text: f.findall(f"{K}Placemark") for f in root.iter(f"{K}Folder")}
    assert [len(folders["覆盖空白区"]), len(folders["拟建站点"])] == [3, 2]
    assert folders["覆盖空白区"][0].find(f"{K}name").text == "第 1 处 两者皆无 25.0 公顷"
    assert folders["拟建站点"][1].find(f"{K}name").text == "拟建水源点 W1"
    assert folders["覆盖空白区"][0].find(f".//{K}Polygon") is not None
    data = {d.get("name"): d.find(f"{K}value").text for d in folders["拟建站点"][0].iter(f"{K}Data")}
    assert data["站点类型"] == "拟建监控点" and data["累计覆盖率"] == "80.0%" and data["海拔（米）"] == "512"
    # GeoTIFFs on the grid, dtype and values
    for name, dtype, arr, nodata in (("coverage_count.tif", "uint16", synth.seen, None),
                                     ("reach_count.tif", "uint16", synth.reach.count, None),
                                     ("risk_level.tif", "uint8", synth.risk.level, 0),
                                     ("day_level.tif", "uint8", synth.day_level, 0)):
        with rasterio.open(tmp_path / name) as ds:
            assert ds.dtypes[0] == dtype and ds.nodata == nodata, name
            assert ds.transform.almost_equals(synth.grid.transform) and ds.crs.to_epsg() == 4549
            assert np.array_equal(ds.read(1), arr)
    with rasterio.open(tmp_path / "coverage_count.tif") as ds:
        assert int(ds.read(1).sum()) == 100 + 20     # cols 0-4 (100 cells) seen once, 20 of them twice


def test_without_cameras_sources_or_weather(tmp_path):
    a = _analysis(cameras=False, sources=False, weather=None)
    files = write_fire_files(a, tmp_path, maps=False)
    assert {p.name for p in files} == {"fire.xlsx", "fire.gpkg", "fire.geojson", "fire.kml", "risk_level.tif"}
    s = fire_summary(a)
    assert s["seen_share"] is None and s["high_reach_share"] is None and s["weather_level"] is None
    ws = load_workbook(tmp_path / "fire.xlsx")["乡镇覆盖统计"]
    assert ws.cell(2, 4).value is None                  # no share where nothing was measured
    assert load_workbook(tmp_path / "fire.xlsx")["监控点统计"].max_row == 1
    # all high-risk forest is a 'both' gap: 150 ha in one patch spanning both townships
    assert s["gaps_by_class"]["both"]["ha"] == 150.0


def test_maps_written(synth, tmp_path):
    files = write_fire_files(synth, tmp_path, sites=_sites(), maps=True, map_dpi=40, townships=["甲镇"],
                             layers={"forest": gpd.GeoDataFrame(
                                 {"township": ["甲镇", "乙乡"]},
                                 geometry=[box(X0, Y0 - N * RES, X0 + 1000, Y0),
                                           box(X0 + 1000, Y0 - 1000, X0 + 2000, Y0)], crs=CRS)})
    maps = [p.name for p in files if p.suffix in (".png", ".pdf")]
    assert maps == ["coverage_all.png", "coverage_all.pdf", "coverage_甲镇.png", "coverage_甲镇.pdf"]
    assert (tmp_path / "coverage_all.pdf").read_bytes().startswith(b"%PDF")


# ---- the command ---------------------------------------------------------------------------------

def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo_run(demo_workspace, tmp_path_factory):
    out = tmp_path_factory.mktemp("fire_report")
    code, stdout, err = _cli(["fire-report", "--workspace", str(demo_workspace / "workspace.gpkg"), "--out",
                              str(out), "--weather", "30,25,10,4", "--site-water", "1", "--no-maps", "--json"])
    assert code == 0, err
    return out, json.loads(stdout)


def test_cli_demo_summary_and_files(demo_run, demo_workspace):
    out, res = demo_run
    for k in ("forest_ha", "high_risk_ha", "seen_share", "high_seen_share", "reach_share", "high_reach_share",
              "gaps", "gap_ha", "sites", "weather_level", "files"):
        assert k in res
    assert 0 < res["high_risk_ha"] < res["forest_ha"]
    assert 0 < res["high_seen_share"] < 1 and 0 < res["high_reach_share"] <= 1
    assert res["weather_level"] == 5 and res["weather"]["inputs"] == [30.0, 25.0, 10.0, 4.0]
    assert [s["kind"] for s in res["sites"]] == ["water"]
    assert res["sites"][0]["cumulative_share"] > res["high_reach_share"]
    assert {p.rsplit("/", 1)[-1] for p in res["files"]} == {
        "fire.xlsx", "fire.gpkg", "fire.geojson", "fire.kml", "coverage_count.tif", "reach_count.tif",
        "risk_level.tif", "day_level.tif"}
    # workbook total row = the JSON
    ws = load_workbook(out / "fire.xlsx")["乡镇覆盖统计"]
    heads = [c.value for c in ws[1]]
    total = dict(zip(heads, [c.value for c in ws[ws.max_row]]))
    assert total["乡镇"] == "合计"
    assert total["林地面积（公顷）"] == pytest.approx(res["forest_ha"], abs=0.05)
    assert total["高火险林地监控覆盖率"] == pytest.approx(res["high_seen_share"], abs=1e-6)
    assert total["高火险林地水源可达率"] == pytest.approx(res["high_reach_share"], abs=1e-6)
    assert total["空白区（处）"] == res["gaps"]
    # the township rows add up to the total
    body = [dict(zip(heads, r)) for r in ws.iter_rows(min_row=2, max_row=ws.max_row - 1, values_only=True)]
    assert sum(r["林地面积（公顷）"] for r in body) == pytest.approx(total["林地面积（公顷）"], abs=0.1 * len(body))
    assert len(pyogrio.read_dataframe(out / "fire.gpkg", layer="gaps")) == res["gaps"]
    assert len(pyogrio.read_dataframe(out / "fire.gpkg", layer="sites")) == 1
    kml = ET.parse(out / "fire.kml").getroot()
    assert len(list(kml.iter(f"{K}Placemark"))) == res["gaps"] + 1
    # rasters on the DEM grid
    with rasterio.open(demo_workspace / "dem.tif") as dem:
        shape, transform, crs = dem.shape, dem.transform, dem.crs
    arrays = {}
    for name, dtype in (("coverage_count.tif", "uint16"), ("reach_count.tif", "uint16"),
                        ("risk_level.tif", "uint8"), ("day_level.tif", "uint8")):
        with rasterio.open(out / name) as ds:
            assert ds.shape == shape and ds.transform.almost_equals(transform) and ds.crs == crs, name
            assert ds.dtypes[0] == dtype
            arrays[name] = ds.read(1)
            if name in ("risk_level.tif", "day_level.tif"):
                assert ds.nodata == 0
    risk, day = arrays["risk_level.tif"], arrays["day_level.tif"]
    assert set(np.unique(risk)) <= set(range(6))
    ha = (risk >= 4).sum() * abs(transform.a * transform.e) / 1e4
    assert ha == pytest.approx(res["high_risk_ha"], abs=0.1)
    assert np.array_equal(day, day_risk(risk, 5)) and ((day > 0) == (risk > 0)).all()
    assert arrays["coverage_count.tif"][risk > 0].astype(bool).mean() == pytest.approx(res["seen_share"], abs=1e-5)


def _fails(argv: list[str]) -> str:
    code, _out, err = _cli(argv)
    assert code == 2
    assert "Traceback" not in err
    return err


def test_cli_bad_input(tmp_path, demo_workspace):
    ws = str(demo_workspace / "workspace.gpkg")
    err = _fails(["fire-report", "--workspace", str(tmp_path / "none.gpkg"), "--out", str(tmp_path / "o")])
    assert "工作空间文件不存在" in err and "does not exist" in err
    err = _fails(["fire-report", "--workspace", ws, "--out", str(tmp_path / "o"), "--weather", "30,25,ten"])
    assert "--weather" in err and "四个数" in err and "four numbers" in err
    err = _fails(["fire-report", "--workspace", ws, "--out", str(tmp_path / "o"), "--weather", "30,140,3,2"])
    assert "--weather" in err
    (tmp_path / "afile").write_text("x")
    err = _fails(["fire-report", "--workspace", ws, "--out", str(tmp_path / "afile")])
    assert "文件夹" in err and "folder" in err
    err = _fails(["fire-report", "--workspace", str(tmp_path / "afile"), "--out", str(tmp_path / "o")])
    assert ".gpkg" in err
    nof = tmp_path / "ws" / "workspace.gpkg"
    nof.parent.mkdir()
    pyogrio.write_dataframe(gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(120, 28)], crs="EPSG:4490"), nof,
                            layer="cameras", driver="GPKG")
    err = _fails(["fire-report", "--workspace", str(nof), "--out", str(tmp_path / "o")])
    assert "森林" in err and "forest" in err
    assert not (tmp_path / "o").exists()


def test_kml_keeps_the_first_gaps_by_rank_simplified(monkeypatch):
    """Above the cap only the first gaps by rank go into the KML, staircase outlines simplified."""
    import xml.etree.ElementTree as ET

    import geopandas as gpd
    import shapely

    import gis.report.fire_files as fr

    # 30 m staircase polygons in a metric CRS, ranks 5..1
    stairs = [shapely.Polygon([(0, 0)] + [(30 * (i // 2 + (i % 2)), 30 * (i // 2)) for i in range(1, 20)] + [(0, 300)])
              for _ in range(5)]
    gaps = gpd.GeoDataFrame({"rank": [5, 4, 3, 2, 1], "gap": "both", "gap_zh": "两者皆无", "area_ha": 1.0},
                            geometry=[shapely.affinity.translate(g, 1000 * i) for i, g in enumerate(stairs)],
                            crs="EPSG:4549").to_crs(4490)
    monkeypatch.setattr(fr, "KML_MAX_GAPS", 2)
    root = ET.fromstring(fr.fire_kml({"gaps": gaps, "sites": gaps.iloc[0:0]}))
    from gis.report.formats import KML_NS

    ns = {"k": KML_NS}
    names = [n.text for n in root.findall(".//k:Folder/k:Placemark/k:name", ns)]
    assert names == ["第 1 处 两者皆无 1.0 公顷", "第 2 处 两者皆无 1.0 公顷"]
    coords = root.find(".//k:Placemark//k:coordinates", ns).text.split()
    assert len(coords) < len(shapely.get_coordinates(stairs[0]))
