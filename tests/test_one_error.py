"""One error per file: coordinate, CRS and attribute problems are listed together, nothing loaded."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.errors import LayerError
from layers.load import load_layer
from layers.readers import read_vector


def _problems(path: Path, kind: str) -> list:
    with pytest.raises(LayerError) as info:
        load_layer(path, kind)
    return info.value.problems


def test_bad_coordinate_and_bad_attributes_in_one_message(tmp_path):
    path = tmp_path / "shelters.xlsx"
    pd.DataFrame({"名称": ["甲", "乙", "丙"], "容纳人数": [100, "许多", 50],
                  "经度": ["118.5", "x", "118.6"], "纬度": [28.1, 28.2, 28.3]}).to_excel(path, index=False)
    problems = _problems(path, "shelters")
    fields = {(p.row, p.field) for p in problems}
    assert (3, "经度") in fields          # the unreadable coordinate ...
    assert (3, "容纳人数") in fields      # ... and the capacity that is not a number, in the same error
    # the row whose coordinate is reported is not reported again as "geometry missing"
    assert not [p for p in problems if p.row == 3 and p.field == "geometry"]


def test_missing_column_and_missing_coordinate_together(tmp_path):
    path = tmp_path / "sh.csv"
    path.write_text("名称,经度,纬度\n甲,118.5,28.1\n乙,,28.2\n", encoding="utf-8")
    problems = _problems(path, "shelters")
    text = " ".join(p.en for p in problems)
    assert "coordinate missing" in text
    assert "required field 'Capacity' is missing" in text


def test_crs_problem_and_missing_field_together(tmp_path):
    gdf = gpd.GeoDataFrame({"备注": ["a", "b"]}, geometry=[shapely.Point(500_000, 3_300_000),
                                                          shapely.Point(501_000, 3_301_000)], crs=None)
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_file(folder / "v.shp", encoding="utf-8")
    zpath = tmp_path / "v.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for part in folder.iterdir():
            if part.suffix != ".prj":
                z.write(part, part.name)
    problems = _problems(zpath, "villages")
    text = " ".join(p.en for p in problems)
    assert "required field 'Village' is missing" in text
    assert "CRS" in text or "coordinate system" in text.lower()


def test_reader_alone_still_raises_on_bad_rows(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("名称,经度,纬度\n甲,118.5,28.1\n乙,abc,28.2\n", encoding="utf-8")
    with pytest.raises(LayerError, match="abc"):
        read_vector(path)
    deferred = read_vector(path, defer_rows=True)
    assert deferred.geometry.isna().tolist() == [False, True]
    assert [p.row for p in deferred.attrs["row_problems"]] == [3]


def test_out_of_range_row_deferred_with_the_others(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("名称,容纳人数,经度,纬度\n甲,10,118.5,28.1\n乙,十,218.5,28.2\n丙,5,118.7,28.3\n", encoding="utf-8")
    problems = _problems(path, "shelters")
    assert {(p.row, p.field) for p in problems} >= {(3, "经度"), (3, "容纳人数")}


def test_coordinate_columns_become_the_geometry(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("名称,容纳人数,经度,纬度,备注\n甲,10,118.5,28.1,x\n", encoding="utf-8")
    layer = load_layer(path, "shelters")
    assert "经度" not in layer.gdf.columns and "纬度" not in layer.gdf.columns
    assert layer.gdf.geometry.iloc[0].x == pytest.approx(118.5)
    assert layer.gdf["remark"].iloc[0] == "x"


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_xlsx_cover_sheet_then_the_data_sheet(tmp_path):
    path = _workbook(tmp_path / "避难场所.xlsx", {
        "填表说明": [["本表说明"], ["容纳人数按人填写"]],
        "场所": [["名称", "容纳人数", "经度", "纬度"], ["甲小学", 300, 118.5, 28.1]]})
    layer = load_layer(path, "shelters")
    assert layer.gdf["capacity"].tolist() == [300]
    assert any("场所" in zh and "填表说明" in zh for zh, _ in layer.notes)


def test_xlsx_several_data_sheets_named_in_the_error(tmp_path):
    path = _workbook(tmp_path / "多表.xlsx", {
        "说明": [["本表说明"]],
        "一月": [["名称", "容纳人数", "经度", "纬度"], ["甲", 1, 118.5, 28.1]],
        "二月": [["名称", "容纳人数", "经度", "纬度"], ["乙", 2, 118.6, 28.2]]})
    with pytest.raises(LayerError, match="一月、二月") as info:
        load_layer(path, "shelters")
    assert "--sublayer" in info.value.render()
    assert len(load_layer(path, "shelters", sublayer="二月").gdf) == 1


def test_xlsx_no_sheet_with_coordinates_lists_the_sheets(tmp_path):
    path = _workbook(tmp_path / "无坐标.xlsx", {"甲": [["名称"], ["a"]], "乙": [["名称"], ["b"]]})
    with pytest.raises(LayerError, match="甲、乙"):
        load_layer(path, "shelters")


def test_sheet_list_opens_on_the_data_sheet(tmp_path):
    from layers.readers import list_sublayers

    path = _workbook(tmp_path / "表.xlsx",
                     {"填表说明": [["说明"]], "场所": [["名称", "经度", "纬度"], ["甲", 118.5, 28.1]]})
    assert list_sublayers(path) == ["场所", "填表说明"]
