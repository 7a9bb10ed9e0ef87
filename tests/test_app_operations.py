"""AppTest runs of the Operations / 应急响应 page on a copy of the demo county: issue, acknowledge, report, check in,
a refusal shown in the page, the figures following, re-plan and dispatch; both languages; an empty workspace."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from layers.events import OpsLog
from layers.workspace import Workspace
from tests.language import assert_page_speaks

TIMEOUT = 300


def _page(lang: str) -> None:
    import importlib

    import streamlit as st

    st.session_state["lang"] = lang
    importlib.import_module("ui.page_operations").page()


@pytest.fixture
def demo_copy(demo_workspace, tmp_path, monkeypatch):
    """A copy of the demo county (the page writes to its workspace)."""
    folder = tmp_path / "demo"
    folder.mkdir()
    for name in ("workspace.gpkg", "dem.tif"):
        shutil.copy(demo_workspace / name, folder / name)
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    return folder


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_issue_and_record_from_the_page(demo_copy):
    at = AppTest.from_function(_page, args=("zh",), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.header[0].value == "应急响应"
    assert any("还没有发布过预警" in i.value for i in at.info)
    at.radio(key="ops_mode").set_value("townships").run()
    at.multiselect(key="ops_townships").set_value(["城关镇"]).run()
    at.button(key="ops_issue").click().run()
    assert not at.exception, [e.message for e in at.exception]
    log = OpsLog(Workspace(demo_copy))
    (w,) = log.warnings()
    assert any(w.warning_id in s.value for s in at.success)
    m = _metrics(at)
    assert m["网格"] == f"{w.grids:,}" and m["需转移"] == f"{w.people:,}" and m["已确认/叫应"] == f"0/{w.contacts:,}"
    # acknowledge the first contact, report a grid, check people in
    sb = at.selectbox(key="ops_ack_contact")
    first = sb.options[0]
    sb.set_value(first)
    at.button(key="FormSubmitter:ops_ack_form-记录确认收到").click().run()
    assert _metrics(at)["已确认/叫应"] == f"1/{w.contacts:,}"
    snap = log.snapshot(w.warning_id)
    grid = snap.grids.iloc[0]
    at.selectbox(key="ops_report_grid").set_value(grid["grid_id"])
    at.number_input(key="ops_report_moved").set_value(int(grid["people"]))
    at.button(key="FormSubmitter:ops_report_form-记录反馈").click().run()
    assert _metrics(at)["已转移"] == f"{int(grid['people']):,}"
    shelter = snap.shelters[snap.shelters["usable"] == 1].iloc[0]
    at.selectbox(key="ops_checkin_shelter").set_value(shelter["shelter_id"])
    at.number_input(key="ops_checkin_people").set_value(w.people + 1)
    at.button(key="FormSubmitter:ops_checkin_form-记录签到").click().run()
    assert any("超过预警范围内的总人数" in e.value for e in at.error)            # refused, shown, nothing written
    assert _metrics(at)["已签到"] == "0"
    at.selectbox(key="ops_checkin_shelter").set_value(shelter["shelter_id"])
    at.number_input(key="ops_checkin_people").set_value(12)
    at.button(key="FormSubmitter:ops_checkin_form-记录签到").click().run()
    assert _metrics(at)["已签到"] == "12"
    e = log.entries(w.warning_id)
    assert e["kind"].tolist() == ["ack", "report", "checkin"]
    # re-plan and dispatch
    at.button(key="ops_replan_do").click().run()
    assert not at.exception, [x.message for x in at.exception]
    assert any("待转移" in s.value for s in at.success)
    at.button(key="ops_dispatch_do").click().run()
    assert any("吨公里" in s.value for s in at.success)
    at.button(key="ops_dispatch_record").click().run()
    assert log.entries(w.warning_id)["kind"].tolist()[-1] == "dispatch"
    assert not at.exception, [x.message for x in at.exception]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_with_a_warning_in_both_languages(demo_copy, demo_values, lang):
    from gis.ops.session import Operations

    ops = Operations(Workspace(demo_copy))
    w = ops.warn("orange", everything=True, issuer="t").warning
    at = AppTest.from_function(_page, args=(lang,), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    labels = [m.label for m in at.metric]
    assert ("Overdue" in labels) if lang == "en" else ("超时未确认" in labels)
    assert len(at.tabs) == 5
    assert at.selectbox(key="ops_warning").value == w.warning_id
    if lang == "en":    # no Chinese-only sentence in the English page's own words
        assert at.header[0].value == "Operations" and at.tabs[0].label == "Call-out"
    # every tab's words in one language (the warning's message is the issuer's own words: data)
    words = assert_page_speaks(at, lang, [w.message, w.message[:24], *demo_values])
    assert len(words) > 50


def test_page_on_a_workspace_without_grids(tmp_path, monkeypatch):
    import geopandas as gpd
    import shapely

    ws = Workspace(tmp_path / "empty")
    ws.write_vector("shelters", gpd.GeoDataFrame({"name": ["甲"], "shelter_id": ["S1"], "capacity": [10]},
                                                 geometry=[shapely.Point(119.5, 28.3)], crs=4490))
    monkeypatch.setenv("GIS_WORKSPACE", str(ws.folder))
    at = AppTest.from_function(_page, args=("zh",), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("没有转移避险网格" in i.value for i in at.info)


def test_warning_from_a_saved_flood_scenario(demo_copy):
    """A scenario saved as the Flood page saves it (the FloodScenario's params) is planned again by the same
    scenario object for the warning's area: no KeyError on the page, and the plan's grids are the warning's."""
    from gis.flood.scenario import FloodScenario
    from layers.scenarios import save_scenario

    save_scenario(demo_copy / "workspace.gpkg", "flood", "水位 3 米",
                  FloodScenario(source="stage", stage_m=3.0).to_params(), {})
    at = AppTest.from_function(_page, args=("zh",), default_timeout=TIMEOUT).run()
    at.radio(key="ops_mode").set_value("plan").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    at.button(key="ops_issue").click().run()
    assert not at.exception, [e.message for e in at.exception]
    (w,) = OpsLog(Workspace(demo_copy)).warnings()
    assert w.grids > 0 and w.people > 0
