"""Plan outputs: the Excel workbook, GeoPackage/GeoJSON/KML files and the village situation map.

Built on a tiny synthetic plan: 3 grids (one split over two shelters, one whose people could not be
placed), 3 shelters (one unusable), one township with unplaced people.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile

import affine
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from openpyxl import load_workbook
from PIL import Image
from shapely.geometry import LineString, Point, box

from layers.raster import Raster

X0, Y0 = 110.00, 28.00
D = 0.004  # about 400 m


def _tables() -> dict:
    grids = gpd.GeoDataFrame({
        "grid_id": ["G1", "G2", "G3"],
        "name": ["张家一组", "张家二组", "李家三组"],
        "township": ["城关镇", "城关镇", "河口乡"],
        "village": ["张家村", "张家村", "李家村"],
        "responsible": ["张三", "李四", "王五"],
        "phone": ["13800000001", "13800000002", "13800000003"],
        "households": [30, 40, 15],
        "population": [100, 120, 50],
        "vulnerable": [10, 12, 5],
        "max_depth": [1.2, 2.5, 0.8],
        "flooded_share": [0.6, 0.9, 0.3],
        "evacuate": [True, True, True],
    }, geometry=[box(X0, Y0, X0 + D, Y0 + D), box(X0 + D, Y0, X0 + 2 * D, Y0 + D),
                 box(X0 + 0.05, Y0 + 0.05, X0 + 0.05 + D, Y0 + 0.05 + D)], crs="EPSG:4490")
    shelters = gpd.GeoDataFrame({
        "shelter_id": ["S1", "S2", "S3"],
        "name": ["张家小学", "村委会", "河口中学"],
        "type": ["school", "village_hall", "school"],
        "township": ["城关镇", "城关镇", "河口乡"],
        "village": ["张家村", "张家村", "李家村"],
        "capacity": [120, 100, 200],
        "usable": [True, True, False],
        "reason": ["", "", "位于淹没区内"],
        "load": [120, 100, 0],
        "vulnerable_load": [12, 10, 0],
        "spare": [0, 0, 0],
    }, geometry=[Point(X0 + 0.5 * D, Y0 + 4 * D), Point(X0 + 2.5 * D, Y0 + 3.5 * D),
                 Point(X0 + 0.052, Y0 + 0.052)], crs="EPSG:4490")
    c1 = (X0 + 0.5 * D, Y0 + 0.5 * D)
    c2 = (X0 + 1.5 * D, Y0 + 0.5 * D)
    assignments = gpd.GeoDataFrame({
        "grid_id": ["G1", "G2", "G2"],
        "shelter_id": ["S1", "S1", "S2"],
        "people": [100, 20, 100],
        "vulnerable": [10, 2, 10],
        "distance_km": [1.2, 1.5, 1.1],
        "time_min": [15.0, 18.0, 13.0],
        "method": ["road", "road", "straight_line"],
    }, geometry=[LineString([c1, (X0 + 0.5 * D, Y0 + 2 * D), (X0 + 0.5 * D, Y0 + 4 * D)]),
                 LineString([c2, (X0 + 0.5 * D, Y0 + 4 * D)]),
                 LineString([c2, (X0 + 2.5 * D, Y0 + 3.5 * D)])], crs="EPSG:4490")
    unplaced = pd.DataFrame({"township": ["河口乡"], "people_unplaced": [50], "capacity_missing": [50]})
    needs = pd.DataFrame({
        "shelter_id": ["S1", "S2", None], "name": ["张家小学", "村委会", "合计"], "people": [120, 100, 220],
        "days": [3, 3, 3], "food_kg": [180.0, 150.0, 330.0], "drinking_water_l": [1080.0, 900.0, 1980.0],
        "clean_water_l": [5400.0, 4500.0, 9900.0], "family_kits": [30, 25, 55], "toilets": [6, 5, 11]})
    summary = {"scenario": "水位 4 米", "hazard_method": "HAND", "people_to_evacuate": 270, "people_placed": 220,
               "people_unplaced": 50, "shelters_used": 2, "person_km": 292.0}
    return {"grids": grids, "assignments": assignments, "shelters": shelters, "unplaced": unplaced,
            "needs": needs, "summary": summary}


@pytest.fixture
def tables() -> dict:
    return _tables()


@pytest.fixture
def depth_raster() -> Raster:
    """Depth in metres over the Zhang village grids, all four classes present, NaN dry."""
    arr = np.full((20, 30), np.nan)
    arr[2:18, 0:8] = 0.3
    arr[2:18, 8:16] = 1.0
    arr[2:18, 16:22] = 2.0
    arr[2:18, 22:26] = 4.0
    t = affine.Affine(2 * D / 30, 0, X0 - 0.0005, 0, -D / 20 * 1.2, Y0 + D + 0.0005)
    return Raster(array=arr, transform=t, crs=pyproj.CRS.from_epsg(4490), nodata=None, name="depth.tif")


# ---- Excel -------------------------------------------------------------------------------------

def _sheet(wb, name) -> list[tuple]:
    return [tuple(r) for r in wb[name].iter_rows(values_only=True)]


def test_workbook_sheets_headers_and_numbers(tables):
    from gis.report.plan_workbook import plan_workbook

    wb = load_workbook(io.BytesIO(plan_workbook(tables, note="HAND 为筛查方法", date="2026-07-01")))
    assert wb.sheetnames == ["转移计划", "安置场所负荷", "乡镇汇总", "物资需求", "说明"]
    plan = _sheet(wb, "转移计划")
    head = plan[0]
    for h in ("乡镇", "村", "网格编号", "网格名称", "责任人", "联系电话", "户数（户）", "人数（人）", "老弱病残（人）",
              "安置场所", "距离（公里）", "时间（分钟）", "路线方式"):
        assert h in head
    rows = [dict(zip(head, r)) for r in plan[1:]]
    # split grid appears twice, households apportioned and summing to the grid's
    g2 = [r for r in rows if r["网格编号"] == "G2"]
    assert len(g2) == 2 and sorted(r["人数（人）"] for r in g2) == [20, 100]
    assert sum(r["户数（户）"] for r in g2) == 40 and all("分2处" in r["备注"] for r in g2)
    placed = sum(r["人数（人）"] for r in rows if r["安置场所"] != "未安置")
    assert placed == 220
    assert sum(r["人数（人）"] for r in rows) == 270           # unplaced people listed too
    g3 = [r for r in rows if r["网格编号"] == "G3"]
    assert len(g3) == 1 and g3[0]["安置场所"] == "未安置" and g3[0]["人数（人）"] == 50
    assert {r["路线方式"] for r in g2} == {"道路", "直线估算"}
    assert rows[0]["联系电话"] == "13800000001"
    ws = wb["转移计划"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    assert ws.column_dimensions["A"].width >= 6
    dist_col = head.index("距离（公里）") + 1
    assert ws.cell(row=2, column=dist_col).number_format == "0.0"

    shel = _sheet(wb, "安置场所负荷")
    srows = [dict(zip(shel[0], r)) for r in shel[1:]]
    s3 = next(r for r in srows if r["场所编号"] == "S3")
    assert s3["是否可用"] == "否" and s3["不可用原因"] == "位于淹没区内" and s3["场所类型"] == "学校"
    assert sum(r["安置人数（人）"] for r in srows) == 220

    town = _sheet(wb, "乡镇汇总")
    trows = {r[0]: dict(zip(town[0], r)) for r in town[1:]}
    assert trows["城关镇"]["已安置（人）"] == 220 and trows["城关镇"]["需转移网格（个）"] == 2
    assert trows["河口乡"]["未安置（人）"] == 50 and trows["河口乡"]["缺少容量（人）"] == 50
    assert trows["合计"]["需转移人数（人）"] == 270 and trows["合计"]["老弱病残（人）"] == 27

    needs = _sheet(wb, "物资需求")
    assert "食品（公斤）" in needs[0] and "饮用水（升）" in needs[0] and len(needs) == 4
    assert wb["物资需求"].cell(row=4, column=2).font.bold        # the total row

    notes = dict((r[0], r[1]) for r in _sheet(wb, "说明")[1:])
    assert notes["方案名称"] == "水位 4 米" and notes["生成日期"] == "2026-07-01"
    assert notes["方法说明"] == "HAND 为筛查方法" and notes["需转移人数（人）"] == 270


def test_workbook_english(tables):
    from gis.report.plan_workbook import plan_workbook

    wb = load_workbook(io.BytesIO(plan_workbook(tables, lang="en")))
    assert wb.sheetnames[0] == "Evacuation plan"
    head = _sheet(wb, "Evacuation plan")[0]
    assert "Distance (km)" in head and "Responsible person" in head


def test_township_workbooks(tables):
    from gis.report.plan_workbook import township_workbooks

    books = township_workbooks(tables)
    assert set(books) == {"城关镇", "河口乡"}
    wb = load_workbook(io.BytesIO(books["城关镇"]))
    ids = {r[2] for r in _sheet(wb, "转移计划")[1:]}
    assert ids == {"G1", "G2"}
    wb = load_workbook(io.BytesIO(books["河口乡"]))
    assert [r[2] for r in _sheet(wb, "转移计划")[1:]] == ["G3"]


# ---- GeoPackage / GeoJSON / KML -----------------------------------------------------------------

def test_plan_layers(tables):
    from gis.report.plan_files import plan_layers

    layers = plan_layers(tables)
    assert set(layers) == {"grids", "shelters", "routes"}
    g = layers["grids"].set_index("grid_id")
    assert g.loc["G2", "shelter"] == "张家小学、村委会" and g.loc["G2", "people_placed"] == 120
    assert g.loc["G3", "people_unplaced"] == 50
    r = layers["routes"]
    assert len(r) == 3 and set(r["shelter_name"]) == {"张家小学", "村委会"}
    assert (r["split"] == [False, True, True]).all()


def test_write_plan_files(tables, tmp_path):
    import pyogrio

    from gis.report.plan_files import write_plan_files

    paths = write_plan_files(tables, tmp_path)
    assert sorted(p.name for p in paths) == ["plan.geojson", "plan.gpkg", "plan.kml", "plan.xlsx"]
    gpkg = tmp_path / "plan.gpkg"
    names = [n for n, _ in pyogrio.list_layers(gpkg)]
    assert sorted(names) == ["grids", "routes", "shelters"]
    for layer, n in (("grids", 3), ("shelters", 3), ("routes", 3)):
        df = gpd.read_file(gpkg, layer=layer)
        assert len(df) == n and df.crs.to_epsg() == 4490
    routes = gpd.read_file(gpkg, layer="routes")
    assert routes.geom_type.eq("LineString").all() and routes["people"].sum() == 220

    fc = json.loads((tmp_path / "plan.geojson").read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 9
    assert {f["properties"]["layer"] for f in fc["features"]} == {"grids", "shelters", "routes"}

    root = ET.parse(tmp_path / "plan.kml").getroot()
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    folders = {f.findtext("k:name", namespaces=ns): f for f in root.iter("{http://www.opengis.net/kml/2.2}Folder")}
    assert set(folders) == {"网格", "安置场所", "转移路线"}
    marks = folders["安置场所"].findall("k:Placemark", ns)
    assert {m.findtext("k:name", namespaces=ns) for m in marks} == {"张家小学", "村委会", "河口中学"}
    assert len(folders["转移路线"].findall("k:Placemark", ns)) == 3
    assert len(folders["网格"].findall("k:Placemark", ns)) == 3
    # the repo's own KML reader reads it back
    from layers.kml import read_kml
    back = read_kml(tmp_path / "plan.kml")
    assert len(back) == 9

    wb = load_workbook(tmp_path / "plan.xlsx")
    assert "转移计划" in wb.sheetnames


# ---- village map -------------------------------------------------------------------------------

def test_cjk_font_found():
    from matplotlib import font_manager

    from gis.report.a4 import cjk_font

    family = cjk_font()
    have = {f.name for f in font_manager.fontManager.ttflist}
    if any(n in have for n in ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "SimHei")):
        assert family is not None
    if family is not None:
        assert font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)


def test_cjk_font_falls_back_to_the_bundled_noto(monkeypatch):
    """No system CJK font and no GIS_CJK_FONT: the requirement's own Noto Sans CJK SC is registered."""
    from matplotlib import font_manager

    import gis.report.a4 as vm

    monkeypatch.delenv("GIS_CJK_FONT", raising=False)
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if f.name not in vm._CJK_FAMILIES])
    bundled = vm._bundled_cjk_font()
    assert bundled and bundled.endswith("NotoSansCJKsc-Regular.otf")
    assert vm.cjk_font() == "Noto Sans CJK SC"


def test_village_map_png_is_a4_with_chinese(tables, depth_raster):
    from gis.report.a4 import cjk_font
    from gis.report.village_map import village_figure, village_map

    png = village_map("张家村", tables, hazard=depth_raster, date="2026-07-01", fmt="png", dpi=150,
                      synthetic=True)
    img = Image.open(io.BytesIO(png))
    w, h = img.size
    long_, short = max(w, h), min(w, h)
    assert abs(long_ - 1754) <= 2 and abs(short - 1240) <= 2
    # the figure's text: title, table, synthetic-data note, all drawn in the CJK font
    fig = village_figure("张家村", tables, hazard=depth_raster, date="2026-07-01", synthetic=True)
    from matplotlib.table import Table
    texts = [t for t in fig.findobj(lambda o: hasattr(o, "get_text") and hasattr(o, "get_fontfamily"))
             if t.get_text()]
    texts += [c.get_text() for tbl in fig.findobj(Table) for c in tbl.get_celld().values()]
    joined = "\n".join(t.get_text() for t in texts)
    for s in ("张家村防汛形势图", "演示数据为合成数据", "张三", "13800000002", "张家小学", "水位 4 米", "2026-07-01"):
        assert s in joined, s
    if cjk_font():
        title = next(t for t in texts if "防汛形势图" in t.get_text())
        from matplotlib import font_manager
        family_file = str(font_manager.findfont(font_manager.FontProperties(family=cjk_font())))
        for t in (title, next(t for t in texts if t.get_text() == "张三")):
            path = str(font_manager.findfont(t.get_fontproperties()))
            assert path.rsplit("-", 1)[0] == family_file.rsplit("-", 1)[0]     # same family, any weight


def test_village_map_pdf_and_polygon_hazard(tables):
    from gis.report.village_map import village_map

    zone = gpd.GeoDataFrame({"depth": [1.0]}, geometry=[box(X0 - 0.001, Y0 - 0.001, X0 + 2 * D, Y0 + D)],
                            crs="EPSG:4490")
    pdf = village_map("张家村", tables, hazard=zone, fmt="pdf")
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1


def test_village_map_unknown_village(tables):
    from gis.report.village_map import village_map

    with pytest.raises(ValueError, match="没有|no grids"):
        village_map("不存在村", tables)


def test_village_maps_batch(tables, depth_raster):
    from gis.report.village_map import at_risk_villages, village_maps_batch

    assert at_risk_villages(tables) == ["张家村", "李家村"]
    pdf = village_maps_batch(tables, hazard=depth_raster)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    z = village_maps_batch(tables, ["张家村"], fmt="zip", dpi=60)
    with zipfile.ZipFile(io.BytesIO(z)) as zf:
        names = zf.namelist()
        assert len(names) == 1 and names[0].endswith(".png")
        assert zf.read(names[0]).startswith(b"\x89PNG")


def test_batch_same_village_name_in_two_townships(tables):
    from gis.report.village_map import village_maps_batch

    g = tables["grids"]
    twin = g[g["grid_id"] == "G3"].assign(grid_id="G4", village="张家村")   # another 张家村, in 河口乡
    tables["grids"] = gpd.GeoDataFrame(pd.concat([g, twin], ignore_index=True), crs=g.crs)
    z = village_maps_batch(tables, ["张家村"], fmt="zip", dpi=40)
    with zipfile.ZipFile(io.BytesIO(z)) as zf:
        assert sorted(zf.namelist()) == ["城关镇张家村防汛形势图.png", "河口乡张家村防汛形势图.png"]


def test_township_workbook_needs_total(tables):
    from gis.report.plan_workbook import township_workbooks

    wb = load_workbook(io.BytesIO(township_workbooks(tables)["城关镇"]))
    needs = _sheet(wb, "物资需求")
    assert needs[-1][1] == "合计" and needs[-1][2] == 220
    notes = dict((r[0], r[1]) for r in _sheet(wb, "说明")[1:])
    assert notes["需转移人数（人）"] == 220


def test_village_map_without_cjk_font_says_so(tables, monkeypatch):
    import gis.report.village_map as vm

    monkeypatch.setattr(vm, "cjk_font", lambda: None)
    fig = vm.village_figure("张家村", tables)
    texts = [t.get_text() for t in fig.texts]
    assert any("No CJK font" in t for t in texts)
    assert vm.village_map("张家村", tables, dpi=50).startswith(b"\x89PNG")


def test_needs_with_shelter_index_and_total_label(tables):
    """The needs table as gis.flood.needs returns it: shelter_id as the index, a '合计/Total' row."""
    from gis.report.plan_workbook import plan_workbook, township_workbooks

    tables["needs"] = pd.DataFrame(
        {"people": [120, 100, 220], "rice_kg": [144.0, 120.0, 264.0], "drinking_l": [1080.0, 900.0, 1980.0],
         "clean_l": [5400.0, 4500.0, 9900.0], "family_kits": [24, 20, 44], "toilets": [6, 5, 11]},
        index=pd.Index(["S1", "S2", "合计/Total"], name="shelter_id"))
    wb = load_workbook(io.BytesIO(plan_workbook(tables)))
    needs = _sheet(wb, "物资需求")
    assert needs[0][:3] == ("场所编号", "安置场所", "人数（人）") and "大米（公斤）" in needs[0]
    assert needs[1][1] == "张家小学" and wb["物资需求"].cell(row=4, column=1).font.bold
    wb = load_workbook(io.BytesIO(township_workbooks(tables)["城关镇"]))
    assert [r[0] for r in _sheet(wb, "物资需求")[1:]] == ["S1", "S2", None]


def test_plan_files_speak_one_language(tables, tmp_path):
    """In English the workbook, KML and village map hold no Chinese outside the plan's own names (grids, shelters,
    townships, people, the scenario's and the reasons' words as given); in Chinese no raw key (tests.language)."""
    from matplotlib.text import Text as MplText

    from gis.report.plan_files import write_plan_files
    from gis.report.plan_workbook import township_workbooks
    from gis.report.village_map import village_figure
    from tests.language import CJK, leaks, raw_keys

    values = sorted({str(v) for name in ("grids", "shelters") for c in tables[name].columns if c != "geometry"
                     for v in tables[name][c] if isinstance(v, str) and CJK.search(v)}
                    | {tables["summary"]["scenario"]}, key=len, reverse=True)
    got = {}
    for lang in ("en", "zh"):
        write_plan_files(tables, tmp_path / lang, lang=lang)
        book = load_workbook(tmp_path / lang / "plan.xlsx")
        texts = list(book.sheetnames) + [v for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                                         for v in row if isinstance(v, str)]
        for data in township_workbooks(tables, lang=lang).values():
            town = load_workbook(io.BytesIO(data))
            texts += [v for ws in town.worksheets for row in ws.iter_rows(values_only=True) for v in row
                      if isinstance(v, str)]
        root = ET.parse(tmp_path / lang / "plan.kml").getroot()
        texts += [re.sub(r"<[^>]+>", " ", el.text) for el in root.iter() if el.text and el.text.strip()]
        texts += [el.get("name") for el in root.iter() if el.get("name")]
        fig = village_figure("张家村", tables, lang=lang)
        texts += [t.get_text() for t in fig.findobj(MplText) if t.get_text().strip()]
        got[lang] = texts
    assert len(got["en"]) > 100 and not leaks(got["en"], values), leaks(got["en"], values)[:10]
    assert not raw_keys(got["zh"]), raw_keys(got["zh"])[:10]
    assert "Evacuation plan" in got["en"] and "转移计划" in got["zh"]
