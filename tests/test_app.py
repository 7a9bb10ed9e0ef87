"""AppTest runs of every page, in both languages, on the demo county: no exception, the right content, one
language at a time (tests.language)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.language import assert_page_speaks

TIMEOUT = 180
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _page(name: str, lang: str = "zh") -> None:
    import importlib

    import streamlit as st

    st.session_state["lang"] = lang
    importlib.import_module(f"ui.page_{name}").page()


def run_page(name: str, lang: str = "zh") -> AppTest:
    at = AppTest.from_function(_page, args=(name, lang), default_timeout=TIMEOUT)
    return at.run()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", ["flood", "fire", "data", "workspace"])
def test_page_runs_without_exception(use_workspace, demo_values, name, lang):
    """Every page opens on the demo county and speaks one language: in English no Chinese outside the data's own
    names, in Chinese no raw English key (tests.language). The Fire page with today's weather applied."""
    at = run_page(name, lang)
    assert not at.exception, [e.message for e in at.exception]
    assert at.header[0].value
    if name == "fire":
        at.checkbox(key="fire_weather_on").check().run()
        assert not at.exception, [e.message for e in at.exception]
    words = assert_page_speaks(at, lang, demo_values)
    assert len(words) > (50 if name == "fire" else 10)


def test_flood_page_totals_and_default_plan(use_workspace):
    import pyogrio

    from gis.tallies import leaf_grids

    grids = pyogrio.read_dataframe(use_workspace / "workspace.gpkg", layer="grids")
    leaves = leaf_grids(grids)
    at = run_page("flood")
    metrics = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert metrics["人数"] == int(leaves["population"].sum())
    assert metrics["末级网格数"] == len(leaves)
    # the default scenario (HAND stage 2 m) is planned on load: the plan balances
    assert metrics["需转移人数"] > 0
    assert metrics["已安置"] + metrics["无法安置"] == metrics["需转移人数"]
    plan_table = next(d.value for d in at.dataframe if "网格编号" in d.value.columns)
    assert int(plan_table["人数（人）"].sum()) == metrics["需转移人数"]
    # a higher water level never puts fewer people at risk
    at.slider(key="flood_stage").set_value(4.0).run()
    assert not at.exception
    higher = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert higher["需转移人数"] >= metrics["需转移人数"]
    # streams from the rivers layer instead of the upstream-area threshold: a different HAND, still a plan
    at.radio(key="flood_streams").set_value("rivers").run()
    assert not at.exception, [e.message for e in at.exception]
    rivers = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert rivers["已安置"] + rivers["无法安置"] == rivers["需转移人数"] > 0
    # a denser stream network (smaller upstream-area threshold, km²) gives more low-lying land at the same stage
    at.radio(key="flood_streams").set_value("upstream").run()
    at.number_input(key="flood_min_km2").set_value(0.2).run()
    dense = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert dense["需转移人数"] >= higher["需转移人数"]


def test_fire_page_review(use_workspace):
    """Risk, coverage, reach and gaps on the demo; the same figures as gis.fire.review; siting adds coverage."""
    from gis.fire.headers import header
    from gis.fire.review import FireInputs, FireReview
    from layers.workspace import Workspace

    at = run_page("fire", "en")
    assert not at.exception, [e.message for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    ws = Workspace(use_workspace)
    fa = FireReview().run(FireInputs(ws.raster("dem"), {k: ws.vector(k) for k in ws.vector_kinds()}))
    total = fa.townships.iloc[-1]
    assert metrics["Forest (ha)"] == f"{total['forest_ha']:,.0f}"
    assert metrics["High-risk forest seen"] == f"{total['high_seen_share']:.1%}"
    assert metrics["High-risk forest in water reach"] == f"{total['high_reach_share']:.1%}"
    assert metrics["Gap patches"] == f"{len(fa.gaps):,}"
    # the screen's headers are the files' (one registry; "High-risk seen ≥1" on screen before)
    seen1, seen2 = header("high_seen_share", "en"), header("high_seen2_share", "en")
    towns = next(d.value for d in at.dataframe if seen1 in d.value.columns)
    assert 0 < towns[seen2].iloc[-1] <= towns[seen1].iloc[-1] <= 100
    # the dry season drops seasonal sources: reach never grows
    at.radio(key="fire_season").set_value("wet").run()
    wet = {m.label: m.value for m in at.metric}
    assert float(wet["High-risk forest in water reach"].rstrip("%")) >= \
        float(metrics["High-risk forest in water reach"].rstrip("%"))
    # today's weather: a hot, dry, windy day is level 5 (red)
    at.checkbox(key="fire_weather_on").check().run()
    for k, v in (("fire_tmax", 30.0), ("fire_rh", 20.0), ("fire_dry", 10.0), ("fire_wind", 5.0)):
        at.number_input(key=k).set_value(v).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("5 extreme" in m.value for m in at.markdown)
    # two new cameras add covered high-risk forest, gains listed in order
    at.number_input(key="fire_site_n").set_value(2).run()
    at.button(key="fire_site_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    gain = header("gain_ha", "en")      # "Gain (ha)" on screen before the one header registry
    sites = next(d.value for d in at.dataframe if gain in d.value.columns)
    assert len(sites) == 2 and (sites[gain] > 0).all()
    assert sites[gain].iloc[0] >= sites[gain].iloc[1]
    # the files and the A4 map of the review (with the sites) are offered for download
    at.button(key="fire_files_prepare").click().run()
    assert not at.exception, [e.message for e in at.exception]
    labels = {b.label for b in at.get("download_button")}
    assert {"Excel", "GeoPackage", "GeoJSON", "KML", "GeoTIFF (zip)"} <= labels
    at.button(key="fire_a4_prepare").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert {"PNG", "PDF"} <= {b.label for b in at.get("download_button")}


def test_app_entry_and_language_switch(use_workspace, demo_values):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.header[0].value == "洪涝转移避险"
    assert_page_speaks(at, "zh", demo_values)            # the sidebar and the page
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.header[0].value == "Flood evacuation"
    assert_page_speaks(at, "en", demo_values)


def test_demo_is_labelled_synthetic(demo_workspace, monkeypatch):
    from layers import settings

    monkeypatch.delenv("GIS_WORKSPACE", raising=False)
    monkeypatch.setattr(settings, "DEMO_DIR", demo_workspace)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("虚构" in c.value for c in at.sidebar.caption)


def test_broken_workspace_gives_a_message_not_a_traceback(tmp_path, monkeypatch):
    (tmp_path / "workspace.gpkg").write_bytes(b"this is not a geopackage")
    monkeypatch.setenv("GIS_WORKSPACE", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error and "工作空间文件无法读取" in at.error[0].value and "workspace.gpkg" in at.error[0].value
