"""Saved scenarios in the workspace GeoPackage, and their use on the Flood page."""

from __future__ import annotations

import shutil

import numpy as np
import pyogrio
import pytest

from layers.errors import LayerError
from layers.scenarios import delete_scenario, list_scenarios, save_scenario


def test_save_list_replace_delete(tmp_path):
    gpkg = tmp_path / "ws.gpkg"
    assert list_scenarios(gpkg) == []
    save_scenario(gpkg, "flood", "水位 4 米", {"source": "stage", "stage": np.float64(4.0)},
                  {"people_to_evacuate": np.int64(120), "person_km": float("nan")}, user="王五")
    save_scenario(gpkg, "flood", "水位 6 米", {"source": "stage", "stage": 6.0}, {"people_to_evacuate": 300})
    got = list_scenarios(gpkg, "flood")
    assert [s.name for s in got] == ["水位 4 米", "水位 6 米"]
    assert got[0].params == {"source": "stage", "stage": 4.0} and got[0].summary["person_km"] is None
    assert got[0].user == "王五" and got[0].time.endswith("Z")
    save_scenario(gpkg, "flood", "水位 4 米", {"source": "stage", "stage": 4.5}, {"people_to_evacuate": 150})
    assert sorted(s.params["stage"] for s in list_scenarios(gpkg, "flood")) == [4.5, 6.0]  # replaced, not added
    assert len(list_scenarios(gpkg, "flood")) == 2 and list_scenarios(gpkg, "fire") == []
    assert delete_scenario(gpkg, "flood", "水位 6 米") and not delete_scenario(gpkg, "flood", "水位 6 米")
    assert [s.name for s in list_scenarios(tmp_path / "ws.gpkg")] == ["水位 4 米"]
    with pytest.raises(LayerError):
        save_scenario(gpkg, "flood", "  ", {}, {})
    # the workspace's layers are untouched and GDAL still reads the file
    assert pyogrio.list_layers(gpkg) is not None


def test_flood_page_saves_compares_and_restores(demo_workspace, tmp_path, monkeypatch):
    from tests.test_app import run_page

    folder = tmp_path / "county"
    folder.mkdir()
    shutil.copy(demo_workspace / "workspace.gpkg", folder / "workspace.gpkg")
    (folder / "dem.tif").symlink_to(demo_workspace / "dem.tif")
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    at = run_page("flood")
    assert not at.exception, [e.message for e in at.exception]
    at.text_input(key="scenario_name").input("水位 2 米").run()
    at.button(key="save_scenario").click().run()
    at.slider(key="flood_stage").set_value(5.0).run()
    at.text_input(key="scenario_name").input("水位 5 米").run()
    at.button(key="save_scenario").click().run()
    assert not at.exception, [e.message for e in at.exception]
    saved = list_scenarios(folder, "flood")
    assert [s.name for s in saved] == ["水位 2 米", "水位 5 米"]
    assert saved[1].params["stage_m"] == 5.0 and saved[1].summary["people_to_evacuate"] >= \
        saved[0].summary["people_to_evacuate"]
    table = next(d.value for d in at.dataframe if "设置" in d.value.columns)
    assert list(table.index) == ["水位 2 米", "水位 5 米"]
    # restoring the first puts the stage back to 2 m, and the plan with it
    at.selectbox(key="scenario_pick").select("水位 2 米").run()
    at.button(key="scenario_restore").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.slider(key="flood_stage").value == 2.0
    people = {m.label: int(m.value.replace(",", "")) for m in at.metric}["需转移人数"]
    assert people == saved[0].summary["people_to_evacuate"]
