"""Imports that cannot surprise: rows far outside the workspace (or its county boundary) are refused one by
one until confirmed, names are kept as written, generated ids follow one rule, and the Data page appends by
default and asks before a replace deletes anything."""

from __future__ import annotations

import geopandas as gpd
import openpyxl
import pytest
import shapely
from shapely.geometry import Point, box

from layers.errors import OutsideError
from layers.load import county_boundary, load_layer, outside_rows

NEAR = (119.5, 28.3, 119.8, 28.6)


def _csv(path, rows):
    path.write_text("名称,经度,纬度,可容纳人数\n" + "".join(f"{n},{x},{y},{c}\n" for n, x, y, c in rows),
                    encoding="utf-8")
    return path


def test_a_row_far_outside_is_an_error_naming_its_row_until_confirmed(tmp_path):
    f = _csv(tmp_path / "s.csv", [("城关小学", 119.6, 28.4, 300), ("村部", 119.61, 28.41, 80),
                                  ("远处", 100.0, 40.0, 10)])
    with pytest.raises(OutsideError) as err:
        load_layer(f, "shelters", near=NEAR)
    (p,) = err.value.problems
    assert p.row == 4 and "公里" in p.zh and "km" in p.en and "100.00000" in p.en   # the CSV line, the place
    ok = load_layer(f, "shelters", near=NEAR, allow_outside=True)
    assert ok.count == 3
    assert load_layer(f, "shelters").count == 3          # no workspace yet: nothing to be outside of


def test_county_boundary_is_the_yardstick_when_there_is_one():
    grids = gpd.GeoDataFrame({"grid_id": ["C", "T"], "level": ["county", "village"]},
                             geometry=[box(119.5, 28.3, 119.6, 28.4), box(119.5, 28.3, 119.52, 28.32)], crs=4490)
    area = county_boundary(grids)
    assert shapely.equals(area, box(119.5, 28.3, 119.6, 28.4))
    pts = gpd.GeoDataFrame(geometry=[Point(119.55, 28.35), Point(119.61, 28.35), Point(119.65, 28.35)], crs=4490)
    idx, km = outside_rows(pts, (119.5, 28.3, 119.6, 28.4), area)
    assert list(idx) == [2] and 4.5 < km[0] < 5.5           # 1 km outside is tolerated, 5 km is not
    idx, _ = outside_rows(pts, (119.5, 28.3, 119.6, 28.4))   # without a boundary only far rows count
    assert not len(idx)


def test_names_are_kept_byte_for_byte(tmp_path):
    f = _csv(tmp_path / "s.csv", [("城关小学（东）", 119.6, 28.4, 300), ("ＡＢ村部　", 119.61, 28.41, 80)])
    got = load_layer(f, "shelters").gdf["name"].tolist()
    assert got == ["城关小学（东）", "ＡＢ村部"]   # full-width kept; only the blank around the value goes


def test_generated_ids_follow_one_rule_whatever_the_source(tmp_path):
    rows = [("甲", 119.6, 28.4, 1), ("乙", 119.61, 28.41, 2), ("丙", 119.62, 28.42, 3)]
    csv = _csv(tmp_path / "s.csv", rows)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度", "可容纳人数"])
    for r in rows:
        ws.append(list(r))
    xlsx = tmp_path / "s.xlsx"
    wb.save(xlsx)
    gj = tmp_path / "s.geojson"
    gpd.GeoDataFrame({"name": [r[0] for r in rows], "capacity": [r[3] for r in rows]},
                     geometry=[Point(r[1], r[2]) for r in rows], crs=4490).to_file(gj)
    ids = [load_layer(p, "shelters").gdf["shelter_id"].tolist() for p in (csv, xlsx, gj)]
    assert ids == [["S1", "S2", "S3"]] * 3


def test_data_page_appends_by_default_and_confirms_a_replace(tmp_path, demo_workspace, monkeypatch, upload_app):
    import shutil

    folder = tmp_path / "county"
    folder.mkdir()
    shutil.copy(demo_workspace / "workspace.gpkg", folder / "workspace.gpkg")
    (folder / "dem.tif").symlink_to(demo_workspace / "dem.tif")
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    f = _csv(tmp_path / "新场所.csv", [("新建小学", 119.6, 28.4, 300), ("新村部", 119.61, 28.41, 80)])
    at = upload_app("ui.page_data", f)
    at.session_state["upload_kind"] = "shelters"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    mode = next(r for r in at.radio if r.key.startswith("ws_mode_"))
    assert mode.value == "append"
    assert any("新增 2" in i.value and "删除 0" in i.value for i in at.info)
    commit = next(b for b in at.button if b.key.startswith("ws_commit_"))
    assert not commit.disabled
    mode.set_value("replace").run()
    commit = next(b for b in at.button if b.key.startswith("ws_commit_"))
    confirm = next(c for c in at.checkbox if c.key.startswith("ws_replace_ok_"))
    assert commit.disabled and "删除现有的" in confirm.label          # says how many go, waits for the tick
    confirm.check().run()
    assert not next(b for b in at.button if b.key.startswith("ws_commit_")).disabled
    # the preview shows where each row lands
    preview = next(d.value for d in at.dataframe if "经度" in d.value.columns)
    assert preview["经度"].tolist()[:2] == [119.6, 119.61]
