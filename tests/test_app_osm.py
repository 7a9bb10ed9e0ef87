"""The app on a workspace made from OpenStreetMap: the township choice on the Fire and Flood pages comes from
the boundaries; the Workspace page previews an extract's counts and creates the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from layers.osm import import_osm
from tests.test_osm import _county, _dem, _dem_asc

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


def _workspace_page_with_osm(osm: str, dems: tuple = ()) -> None:
    """The Workspace page with the OpenStreetMap uploader handing it ``osm`` and the DEM uploader ``dems``
    (AppTest cannot upload)."""
    import importlib
    from pathlib import Path

    import streamlit as st

    class _Upload:
        def __init__(self, path: str):
            self.path, self.name = path, Path(path).name

        def getvalue(self) -> bytes:
            return Path(self.path).read_bytes()

    def uploader(*a, key=None, accept_multiple_files=False, **k):
        if key == "osm_file":
            return _Upload(osm)
        if key == "osm_dem":
            return [_Upload(d) for d in dems]
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


def _texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def _previewed(at) -> bool:
    """The preview's table of features per layer is shown."""
    return any("Features" in d.value.columns for d in at.dataframe)


def test_osm_dem_tiles_take_the_crs_box(osm_workspace, tmp_path, monkeypatch):
    """An .asc DEM without its .prj: the preview asks for the CRS in both languages; chosen in the box under the
    upload, the DEM is read in it (said, with where it lies). A GeoTIFF whose keys contradict the choice, and
    parameters of the wrong length, are refused in both languages; nothing is previewed."""
    import streamlit as st

    from layers import settings

    monkeypatch.setenv("GIS_WORKSPACE", str(osm_workspace))
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path / "data")
    original = st.file_uploader
    osm = str(_county(tmp_path))
    try:
        at = AppTest.from_function(_workspace_page_with_osm, args=(osm, (str(_dem_asc(tmp_path / "dem.asc")),)),
                                   default_timeout=TIMEOUT).run()
        assert not at.exception, [e.message for e in at.exception]
        at.button(key="osm_preview").click().run()
        errors = _texts(at.error)
        assert "坐标系 / CRS" in errors and "CRS box" in errors and not _previewed(at)
        at.selectbox(key="osm_dem_crs").select("EPSG:4549").run()
        at.button(key="osm_preview").click().run()
        assert not at.exception and not at.error, _texts(at.error)
        assert "EPSG:4549" in _texts(at.success) and "119.0" in _texts(at.success)
        table = next(d.value for d in at.dataframe if "Features" in d.value.columns)
        assert dict(zip(table["Layer"], table["Features"]))["Villages"] == 2
        at.text_input(key="osm_dem_towgs84").input("1,2").run()
        assert "3 个或 7 个" in _texts(at.error) and "3 or 7" in _texts(at.error)

        at = AppTest.from_function(_workspace_page_with_osm, args=(osm, (str(_dem(tmp_path / "dem.tif")),)),
                                   default_timeout=TIMEOUT).run()
        at.selectbox(key="osm_dem_crs").select("EPSG:4549").run()      # the GeoTIFF says WGS84 lon/lat
        at.button(key="osm_preview").click().run()
        assert not at.exception, [e.message for e in at.exception]
        errors = _texts(at.error)
        assert "不一致" in errors and "not the chosen CRS" in errors and not _previewed(at)
    finally:
        st.file_uploader = original
