"""Validation against the layer catalogue: aliases, coercion, every error path."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

from layers.catalogue import CATALOGUE, GRID_LEVEL_RANK, spec
from layers.errors import LayerError
from layers.schema import normalize_name
from layers.validate import validate


def raw(rows: list[dict], geoms: list, crs: str = "EPSG:4490", source: str = "t.xlsx") -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=crs)
    g["_row"] = np.arange(2, len(g) + 2)
    g.attrs["source"] = source
    return g


def test_normalize_name_strips_units_fullwidth_and_case():
    assert normalize_name("人口（人）") == "人口"
    assert normalize_name(" Population (persons)") == "population"
    assert normalize_name("ＣＡＰＡＣＩＴＹ") == "capacity"
    assert normalize_name("grid_id") == normalize_name("Grid ID") == "gridid"


def test_every_alias_maps_to_its_field():
    for s in CATALOGUE.values():
        for f in s.fields:
            for alias in (f.zh, f.en, *f.aliases):
                got = s.match_columns([alias])
                assert got.get(alias) is not None, (s.kind, f.name, alias)
                # an alias shared by two fields of one layer resolves to the earlier field: declared order wins
                first = next(g.name for g in s.fields if normalize_name(alias) in g.all_names())
                assert got[alias] == first, (s.kind, alias)


def test_shelters_chinese_headers_and_units():
    g = raw([{"场所名称": "城关小学", "类型": "学校", "可容纳人数": "1,200人", "建筑面积（m²）": "３５００"},
             {"场所名称": "上坪村文化礼堂", "类型": "文化礼堂", "可容纳人数": 80, "建筑面积（m²）": None}],
            [Point(119.5, 28.4), Point(119.6, 28.5)])
    out, notes = validate(g, spec("shelters"))
    assert list(out["name"]) == ["城关小学", "上坪村文化礼堂"]
    assert list(out["type"]) == ["school", "village_hall"]
    assert list(out["capacity"]) == [1200, 80]
    assert out["area"].iloc[0] == 3500.0 and np.isnan(out["area"].iloc[1])
    # generated ids follow one rule whatever the file: the feature's number (was the spreadsheet line, S2, S3; issue 15)
    assert list(out["shelter_id"]) == ["S1", "S2"]
    assert notes == []


def test_grid_levels_in_all_spellings():
    spellings = ["县级", "乡镇级", "村级", "组级", "联户", "5", "village", "四级"]
    g = raw([{"网格编号": f"G{i}", "网格层级": s, "责任人": "张三", "联系电话": 13912345678.0}
             for i, s in enumerate(spellings)], [Polygon([(0, 0), (1, 0), (1, 1)])] * len(spellings))
    out, _ = validate(g, spec("grids"))
    assert [GRID_LEVEL_RANK[v] for v in out["level"]] == [1, 2, 3, 4, 5, 5, 3, 4]
    assert out["phone"].iloc[0] == "13912345678"  # numbers read from Excel lose no digits, gain no '.0'


def test_booleans_water_sources():
    g = raw([{"类型": "坝塘", "季节性": "季节性", "是否通车": "是"},
             {"类型": "水窖", "季节性": "常年", "是否通车": "否"},
             {"类型": "消防栓", "季节性": None, "是否通车": 1}],
            [Point(119.5, 28.4)] * 3)
    out, _ = validate(g, spec("water_sources"))
    assert list(out["type"]) == ["pond", "cistern", "hydrant"]
    assert out["seasonal"].tolist() == [True, False, pd.NA] or out["seasonal"].isna().iloc[2]
    assert out["vehicle_access"].tolist() == [True, False, True]


def test_missing_required_field_names_field_and_aliases():
    g = raw([{"名称": "x"}], [Point(119.5, 28.4)])
    with pytest.raises(LayerError, match="缺少必填字段“容纳人数”") as e:
        validate(g, spec("shelters"))
    assert "required field 'Capacity' is missing" in str(e.value)
    assert "t.xlsx" in str(e.value)


def test_text_in_number_field_names_row_field_value():
    g = raw([{"名称": "a", "容纳人数": "很多"}, {"名称": "b", "容纳人数": "50"}], [Point(119.5, 28.4)] * 2)
    with pytest.raises(LayerError, match=r"第 2 行 字段“容纳人数”：容纳人数（人）不是数字（值：很多）") as e:
        validate(g, spec("shelters"))
    assert "row 2, field '容纳人数': Capacity is not a number (value: 很多)" in str(e.value)


def test_negative_and_fractional_and_out_of_range():
    g = raw([{"名称": "a", "容纳人数": -5}, {"名称": "b", "容纳人数": 2.5}], [Point(119.5, 28.4)] * 2)
    with pytest.raises(LayerError, match="不能小于 0") as e:
        validate(g, spec("shelters"))
    assert "应为整数" in str(e.value)
    cams = raw([{"高度": 500}], [Point(119.5, 28.4)])
    with pytest.raises(LayerError, match="不能大于 300"):
        validate(cams, spec("cameras"))


def test_unknown_choice_is_error_when_required_and_other_when_optional():
    g = raw([{"类型": "游泳池"}], [Point(119.5, 28.4)])
    with pytest.raises(LayerError, match="水源类型的值无法识别.*游泳池"):
        validate(g, spec("water_sources"))
    s = raw([{"名称": "x", "容纳人数": 10, "类型": "寺庙"}], [Point(119.5, 28.4)])
    out, notes = validate(s, spec("shelters"))
    assert out["type"].iloc[0] == "other" and "寺庙" in notes[0][0]


def test_required_value_empty_and_duplicate_ids():
    g = raw([{"网格编号": "A", "层级": "村级"}, {"网格编号": "A", "层级": None}],
            [Polygon([(0, 0), (1, 0), (1, 1)])] * 2)
    with pytest.raises(LayerError, match="编号重复") as e:
        validate(g, spec("grids"))
    msg = str(e.value)
    assert "必填字段“网格层级”为空" in msg and "编号重复" in msg and "2 problems" not in msg


def test_every_problem_collected_at_once():
    g = raw([{"名称": None, "容纳人数": "x"}, {"名称": "b", "容纳人数": -1}], [None, LineString([(0, 0), (1, 1)])])
    with pytest.raises(LayerError, match="5 problems found") as e:
        validate(g, spec("shelters"))
    assert len(e.value.problems) == 5  # empty name, text capacity, negative capacity, missing geometry, wrong type


def test_wrong_geometry_type():
    g = raw([{"名称": "a", "容纳人数": 1}], [LineString([(0, 0), (1, 1)])])
    with pytest.raises(LayerError, match="几何类型不对，本图层应为点或面"):
        validate(g, spec("shelters"))


def test_self_intersecting_polygon_is_repaired_with_note():
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    g = raw([{"网格编号": "G1", "层级": "组级"}], [bowtie])
    out, notes = validate(g, spec("grids"))
    assert out.geometry.iloc[0].is_valid and out.geometry.iloc[0].area == pytest.approx(0.5)
    assert "已自动修复" in notes[0][0]


def test_nan_coordinates_rejected():
    g = raw([{"类型": "水窖"}], [Point(np.nan, 28.0)])
    with pytest.raises(LayerError, match="NaN"):
        validate(g, spec("water_sources"))


def test_empty_file():
    g = raw([], [])
    with pytest.raises(LayerError, match="没有任何要素"):
        validate(g, spec("roads"))


def test_many_bad_rows_are_counted_not_listed():
    g = raw([{"名称": "a", "容纳人数": "x"}] * 100, [Point(119.5, 28.4)] * 100)
    with pytest.raises(LayerError, match="另有 80 行同样的问题") as e:
        validate(g, spec("shelters"))
    assert len(e.value.problems) == 21


def test_extra_columns_kept_after_canonical():
    g = raw([{"名称": "a", "容纳人数": 3, "自定义": "z"}], [Point(119.5, 28.4)])
    out, _ = validate(g, spec("shelters"))
    assert list(out.columns)[:2] == ["name", "shelter_id"] or "自定义" in out.columns
    assert out["自定义"].iloc[0] == "z"


# ---- yes/no words per field ------------------------------------------------------------------
def test_bool_words_per_field_water_sources():
    seasonal = {"季节性": True, "季节性水源": True, "临时": True, "雨季": True, "间歇性": True, "Seasonal": True,
                "常年": False, "常年水源": False, "长年": False, "永久性": False, "长期": False, "perennial": False,
                "是": True, "否": False, "1": True, "0": False}
    access = {"可达": True, "车辆可达": True, "通车": True, "机动车": True, "公路": True, "vehicle": True,
              "不可达": False, "不通车": False, "步行": False, "仅步行": False, "徒步": False, "On Foot": False,
              "walk": False, "有": True, "无": False}
    n = max(len(seasonal), len(access))
    rows = [{"类型": "水窖", "季节性": list(seasonal)[i] if i < len(seasonal) else None,
             "是否通车": list(access)[i] if i < len(access) else None} for i in range(n)]
    out, _ = validate(raw(rows, [Point(119.5, 28.4)] * n), spec("water_sources"))
    assert out["seasonal"].iloc[:len(seasonal)].tolist() == list(seasonal.values())
    assert out["vehicle_access"].iloc[:len(access)].tolist() == list(access.values())


def test_bool_words_do_not_leak_between_fields():
    # 季节性 means yes for 'seasonal' only; for vehicle access it is an error, and 步行 is not a season
    g = raw([{"类型": "水窖", "是否通车": "季节性", "季节性": "步行"}], [Point(119.5, 28.4)])
    with pytest.raises(LayerError, match="must be yes/no") as e:
        validate(g, spec("water_sources"))
    msgs = {p.field: p for p in e.value.problems}
    assert set(msgs) == {"是否通车", "季节性"}
    assert "车辆可达应为“是/否”" in msgs["是否通车"].zh
    assert "可达" in msgs["是否通车"].fix_zh and "步行" in msgs["是否通车"].fix_zh  # the field's own words listed
    assert "vehicle" in msgs["是否通车"].fix_en and "foot" in msgs["是否通车"].fix_en
    assert "季节性" in msgs["季节性"].fix_zh and "常年" in msgs["季节性"].fix_zh


def test_helicopter_words():
    g = raw([{"类型": "水库", "直升机取水": w} for w in ("可以吊桶", "可吊桶", "是", "不适宜", "不能吊桶", "否")],
            [Point(119.5, 28.4)] * 6)
    out, _ = validate(g, spec("water_sources"))
    assert out["helicopter"].tolist() == [True, True, True, False, False, False]


def test_no_bool_word_means_both_yes_and_no():
    for s in CATALOGUE.values():
        for f in s.fields:
            if f.type == "bool":
                both = {normalize_name(w) for w in f.true_words} & {normalize_name(w) for w in f.false_words}
                assert not both, (s.kind, f.name, both)
            else:
                assert not f.true_words and not f.false_words, (s.kind, f.name)


# ---- aliases the offices write ------------------------------------------------------------------
ISSUE_ALIASES = {
    "name": ("名称", "name"), "township": ("乡镇", "township"), "population": ("人口", "population"),
    "households": ("户数", "households"), "capacity": ("容纳人数", "capacity"), "grid_id": ("网格编号",),
    "responsible": ("责任人",), "phone": ("联系电话",), "height": ("高度", "height"),
}


def test_issue_aliases_map_in_every_layer_that_has_the_field():
    checked = 0
    for kind, s in CATALOGUE.items():
        names = {f.name for f in s.fields}
        for canon, aliases in ISSUE_ALIASES.items():
            if canon not in names:
                continue
            for alias in aliases:
                assert CATALOGUE[kind].match_columns([alias]) == {alias: canon}, (kind, alias)
                checked += 1
        # all of them in one header row: each still goes to its own field
        header = [a for canon, al in ISSUE_ALIASES.items() if canon in names for a in al[:1]]
        want = {a: canon for canon, al in ISSUE_ALIASES.items() if canon in names for a in al[:1]}
        assert CATALOGUE[kind].match_columns(header) == want, kind
    assert checked >= 30


def test_villages_accept_mingcheng():
    g = raw([{"名称": "上坪村", "人口": "1,200人", "户数": "350户"}], [Point(119.5, 28.4)])
    out, notes = validate(g, spec("villages"))
    assert out["name"].iloc[0] == "上坪村" and out["population"].iloc[0] == 1200 and notes == []


def test_a_whole_file_of_the_wrong_geometry_is_one_problem():
    g = raw([{"网格编号": f"G{i}", "层级": "村级"} for i in range(30)], [Point(119.5, 28.4)] * 30)
    with pytest.raises(LayerError, match="all 30 features are Point; this layer takes Polygon") as e:
        validate(g, spec("grids"))
    assert [p.field for p in e.value.problems] == ["geometry"]
