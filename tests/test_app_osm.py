"""The app on a workspace made from OpenStreetMap: the township choice on the Fire and Flood pages comes from
the boundaries; the Workspace page previews an extract's counts and creates the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from layers.osm import import_osm
from tests.test_osm import _county, _dem

TIMEOUT = 300


@pytest.fixture(scope="module")
def osm_workspace(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("osm_app")
    out = tmp / "ws"
    import_osm(_county(tmp), out, dem_paths=[_dem(tmp / "dem.tif")])
    return out


def _page(name: str, lang: str) -> None:
    import importlib

    import streamlit as st

    st.session_state["lang"] = lang
    importlib.import_module(f"ui.page_{name}").page()


@pytest.mark.parametrize("name, key", [("fire", "fire_a4_town"), ("flood", "flood_focus")])
def test_township_choice_from_boundaries(osm_workspace, monkeypatch, name, key):
    monkeypatch.setenv("GIS_WORKSPACE", str(osm_workspace))
    at = AppTest.from_function(_page, args=(name, "en"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    box = at.selectbox(key=key)
    assert box.options[0] == "Whole area"
    assert {o.split(" (")[0] for o in box.options[1:]} == {"甲镇", "乙乡"}    # English brackets on an English page
    assert any("boundaries layer (2 townships)" in c.value for c in at.caption)
    box.select(box.options[1]).run()
    assert not at.exception, [e.message for e in at.exception]
    if name == "fire":   # the A4 map is of the township chosen
        at.button(key="fire_a4_prepare").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert {"PNG", "PDF"} <= {b.label for b in at.get("download_button")}


def _workspace_page_with_osm(osm: str) -> None:
    """The Workspace page with the OpenStreetMap uploader handing it ``osm`` (AppTest cannot upload)."""
    import importlib
    from pathlib import Path

    import streamlit as st

    class _Upload:
        name = Path(osm).name

        def getvalue(self) -> bytes:
            return Path(osm).read_bytes()

    def uploader(*a, key=None, accept_multiple_files=False, **k):
        if key == "osm_file":
            return _Upload()
        return [] if accept_multiple_files else None

    st.session_state["lang"] = "en"
    st.file_uploader = uploader
    importlib.import_module("ui.page_workspace").page()


def test_workspace_page_creates_from_osm(osm_workspace, tmp_path, monkeypatch):
    import streamlit as st

    from layers import settings

    monkeypatch.setenv("GIS_WORKSPACE", str(osm_workspace))
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path / "data")
    original = st.file_uploader
    try:
        at = AppTest.from_function(_workspace_page_with_osm, args=(str(_county(tmp_path)),),
                                   default_timeout=TIMEOUT).run()
        assert not at.exception, [e.message for e in at.exception]
        at.text_input(key="osm_ws_name").input("县OSM").run()
        at.button(key="osm_preview").click().run()
        assert not at.exception, [e.message for e in at.exception]
        table = next(d.value for d in at.dataframe if "Features" in d.value.columns)
        assert dict(zip(table["Layer"], table["Features"]))["Villages"] == 2
        assert any("estimated" in c.value for c in at.caption)
        at.button(key="osm_create").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert (tmp_path / "data" / "县OSM" / "workspace.gpkg").is_file()
        assert at.session_state["workspace_name"] == "县OSM"
    finally:
        st.file_uploader = original
