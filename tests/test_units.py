"""Units after numbers: the spelling table, conversion during validation, and unknown units."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from layers import units
from layers.catalogue import CATALOGUE, spec
from layers.errors import LayerError
from layers.schema import FieldSpec, LayerSpec
from layers.validate import validate


def raw(rows: list[dict], source: str = "t.csv") -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=[Point(119.5, 28.4)] * len(rows), crs="EPSG:4490")
    g["_row"] = np.arange(2, len(g) + 2)
    g.attrs["source"] = source
    return g


@pytest.mark.parametrize("unit, suffix, factor", [
    ("m", "m", 1), ("m", "米", 1), ("m", "公尺", 1), ("m", "km", 1000), ("m", "公里", 1000), ("m", "千米", 1000),
    ("m", "cm", 0.01), ("m", "厘米", 0.01), ("m", "KM", 1000), ("m", "ｋｍ", 1000), ("m", " k m ", 1000),
    ("m³", "m3", 1), ("m³", "m³", 1), ("m³", "立方", 1), ("m³", "立方米", 1), ("m³", "方", 1), ("m³", "吨", 1),
    ("m³", "L", 0.001), ("m³", "升", 0.001), ("m³", "万方", 1e4), ("m³", "万立方米", 1e4), ("m³", "万m3", 1e4),
    ("m³", "万", 1e4), ("m³", "M3", 1),
    ("m²", "m2", 1), ("m²", "㎡", 1), ("m²", "平方米", 1), ("m²", "平米", 1), ("m²", "亩", 10000 / 15),
    ("m²", "公顷", 1e4), ("m²", "ha", 1e4), ("m²", "平方公里", 1e6), ("m²", "km2", 1e6), ("m²", "km²", 1e6),
    ("人", "人", 1), ("人", "名", 1), ("人", "口", 1), ("人", "万人", 1e4), ("人", "万", 1e4),
    ("户", "户", 1), ("户", "万户", 1e4), ("户", "万", 1e4),
    ("°", "°", 1), ("°", "度", 1),
    ("km/h", "km/h", 1), ("km/h", "kmh", 1), ("km/h", "公里/小时", 1), ("km/h", "千米/小时", 1), ("km/h", "码", 1),
])
def test_suffix_table(unit, suffix, factor):
    u = units.lookup(unit, suffix)
    assert u is not None, (unit, suffix)
    assert u.factor == pytest.approx(factor)


@pytest.mark.parametrize("unit, suffix", [
    (None, "m"), (None, "%"), ("m", "%"), ("m", "m2"), ("m", "亩"), ("m²", "m"), ("人", "户"), ("户", "人"),
    ("°", "km"), ("km/h", "m"), ("m", "万"), ("°", "万"), ("m", "furlong"),
])
def test_suffix_not_understood(unit, suffix):
    assert units.lookup(unit, suffix) is None


def test_every_catalogue_unit_has_spellings():
    for s in CATALOGUE.values():
        for f in s.fields:
            if f.type in ("int", "float"):
                assert f.unit in units.UNITS, (s.kind, f.name, f.unit)
                assert units.lookup(f.unit, f.unit) is not None, (s.kind, f.name)  # the unit as written in the label
                assert f.unit_hint() and units.unit_name(f.unit)


def test_cameras_km_cm_converted_with_one_note_per_field():
    g = raw([{"监测半径": "5公里", "高度": "0.035km"}, {"监测半径": "3km", "高度": "12米"},
             {"监测半径": "300 M", "高度": "350cm"}, {"监测半径": 800, "高度": None}])
    out, notes = validate(g, spec("cameras"))
    assert out["range"].tolist() == [5000.0, 3000.0, 300.0, 800.0]
    assert out["height"].tolist()[:3] == [35.0, 12.0, 3.5] and np.isnan(out["height"].iloc[3])
    assert len(notes) == 2
    rng = next(n for n in notes if "监测半径" in n[0])
    assert rng[0] == "“监测半径”列有 2 个数值的单位为公里，已换算为米"
    assert rng[1] == "2 values of '监测半径' (Range) were in km and were converted to m"
    height = next(n for n in notes if "高度" in n[0])
    assert "2 个数值" in height[0] and "公里" in height[0] and "厘米" in height[0]


def test_shelters_wan_whole_number_after_conversion():
    g = raw([{"名称": "a", "容纳人数": "2万", "面积": "3亩"}, {"名称": "b", "容纳人数": "1.2万", "面积": "1公顷"},
             {"名称": "c", "容纳人数": "1,200人", "面积": "12 ㎡"},
             {"名称": "d", "容纳人数": "３万人", "面积": "2万平方米"}])
    out, notes = validate(g, spec("shelters"))
    assert out["capacity"].tolist() == [20000, 12000, 1200, 30000]
    assert out["area"].tolist() == pytest.approx([2000.0, 10000.0, 12.0, 20000.0])
    assert any("“容纳人数”列有 3 个数值" in zh for zh, _ in notes)
    bad = raw([{"名称": "a", "容纳人数": "1.23456万"}])
    with pytest.raises(LayerError, match="应为整数"):
        validate(bad, spec("shelters"))


def test_volume_wan_cubic_metres_tonnes_litres():
    g = raw([{"类型": "水库", "库容": "2万m3"}, {"类型": "坝塘", "库容": "1.5万方"}, {"类型": "水窖", "库容": "30吨"},
             {"类型": "蓄水池", "库容": "500L"}, {"类型": "水窖", "库容": "40立方米"}])
    out, notes = validate(g, spec("water_sources"))
    assert out["volume"].tolist() == pytest.approx([20000.0, 15000.0, 30.0, 0.5, 40.0])
    assert len(notes) == 1 and "4 个数值" in notes[0][0] and "已换算为立方米" in notes[0][0]


def test_own_unit_spellings_need_no_note():
    g = raw([{"名称": "a", "容纳人数": "1,200人"}, {"名称": "b", "容纳人数": "80名"}, {"名称": "c", "容纳人数": 5}])
    out, notes = validate(g, spec("shelters"))
    assert out["capacity"].tolist() == [1200, 80, 5] and notes == []


def test_bounds_checked_after_conversion():
    g = raw([{"监测半径": "200公里"}, {"监测半径": "20公里"}])
    with pytest.raises(LayerError, match="不能大于 100000") as e:
        validate(g, spec("cameras"))
    assert len(e.value.problems) == 1 and e.value.problems[0].row == 2


def test_unknown_unit_is_a_problem_naming_unit_and_spellings():
    g = raw([{"名称": "a", "容纳人数": "5 furlongs"}, {"名称": "b", "容纳人数": "5%"},
             {"名称": "c", "容纳人数": "1.2.3"}, {"名称": "d", "容纳人数": "10户"}])
    with pytest.raises(LayerError) as e:
        validate(g, spec("shelters"))
    probs = {p.row: p for p in e.value.problems}
    assert set(probs) == {2, 3, 4, 5}  # one problem per row: no bound or whole-number noise on top
    assert probs[2].zh.startswith("容纳人数（人）的单位“furlongs”无法识别")
    assert probs[2].en.startswith("unit 'furlongs' not understood for Capacity")
    assert "万人" in probs[2].fix_zh and "人" in probs[2].fix_en
    assert "“%”" in probs[3].zh
    assert "不是数字" in probs[4].zh  # 1.2.3 is not a number with a unit '.3'
    assert "“户”" in probs[5].zh


def test_unknown_units_itemised_then_counted():
    g = raw([{"名称": "a", "容纳人数": f"{i}只"} for i in range(30)])
    with pytest.raises(LayerError, match="另有 10 行同样的问题") as e:
        validate(g, spec("shelters"))
    assert len(e.value.problems) == 21


def test_field_without_unit_takes_only_bare_numbers():
    s = LayerSpec("t", "测", "Test", ("Point",), (FieldSpec("n", "float", "数", "Number", ("数值",)),))
    out, notes = validate(raw([{"数": "1,200"}, {"数": " 3.5 "}]), s)
    assert out["n"].tolist() == [1200.0, 3.5] and notes == []
    with pytest.raises(LayerError, match="只填数字") as e:
        validate(raw([{"数": "5m"}, {"数": "50%"}]), s)
    assert len(e.value.problems) == 2


def test_boolean_in_numeric_field_is_not_a_number():
    g = raw([{"名称": "a", "容纳人数": True}, {"名称": "b", "容纳人数": False}])
    assert pd.api.types.is_bool_dtype(g["容纳人数"].dtype)
    with pytest.raises(LayerError, match="不是数字") as e:
        validate(g, spec("shelters"))
    assert len(e.value.problems) == 2
    mixed = raw([{"名称": "a", "容纳人数": True}, {"名称": "b", "容纳人数": 5}])
    mixed["容纳人数"] = mixed["容纳人数"].astype(object)
    with pytest.raises(LayerError, match="不是数字") as e:
        validate(mixed, spec("shelters"))
    assert [p.row for p in e.value.problems] == [2]
    nullable = raw([{"名称": "a"}, {"名称": "b"}])
    nullable["容纳人数"] = pd.array([True, None], dtype="boolean")
    with pytest.raises(LayerError, match="不是数字") as e:
        validate(nullable, spec("shelters"))
    assert [p.row for p in e.value.problems if "不是数字" in p.zh] == [2]  # row 3 is only empty


def test_suffixes_looked_up_once_each(monkeypatch):
    calls = []
    real = units.lookup
    monkeypatch.setattr(units, "lookup", lambda unit, s: calls.append(s) or real(unit, s))
    n = 60_000
    values = np.array(["5公里", "300", "12m", "0.5km"], dtype=object)[np.arange(n) % 4]
    g = gpd.GeoDataFrame({"监测半径": values}, geometry=[Point(119.5, 28.4)] * n, crs="EPSG:4490")
    out, notes = validate(g, spec("cameras"))
    assert sorted(calls) == ["km", "m", "公里"]
    assert out["range"].iloc[:4].tolist() == [5000.0, 300.0, 12.0, 500.0]
    assert "30000 个数值" in notes[0][0]
