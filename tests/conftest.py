"""Shared fixtures: the demo county, generated once per test session."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def demo_county(tmp_path_factory) -> tuple[Path, dict]:
    """The county-scale demo (default seed), generated once per session: (folder, generator summary).

    Set ``GIS_TEST_DEMO_CACHE=/some/dir`` to keep it between local runs.
    """
    from data.generator import generate

    cache = os.environ.get("GIS_TEST_DEMO_CACHE")
    folder = Path(cache) if cache else tmp_path_factory.mktemp("demo")
    stamp = folder / "summary.json"
    if not stamp.exists():
        if folder.exists():
            shutil.rmtree(folder)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        summary = generate(folder, scale="county")
        stamp.write_text(json.dumps(summary), encoding="utf-8")
    return folder, json.loads(stamp.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_workspace(demo_county) -> Path:
    """The demo county's workspace folder (workspace.gpkg + dem.tif)."""
    return demo_county[0]


@pytest.fixture(scope="session")
def demo_values(demo_workspace) -> list[str]:
    """The demo county's text values that hold Chinese (names of places, people, shelters...): what an English
    page or file may say in Chinese (see :mod:`tests.language`)."""
    from tests.language import data_values

    return data_values(demo_workspace)


@pytest.fixture
def use_workspace(demo_workspace, monkeypatch) -> Path:
    """Point the app at the demo workspace for one test."""
    monkeypatch.setenv("GIS_WORKSPACE", str(demo_workspace))
    return demo_workspace


@pytest.fixture
def flood_workspace(tmp_path, monkeypatch):
    """Three village grids and two shelters near 117.5E 29.5N (inside the SRTM tile N29E117); no DEM: grids G1, G2
    (东镇) and G3 (西镇), each 0.005° square side by side eastward from (117.50E, 29.50N)."""
    import geopandas as gpd
    import shapely

    from layers.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.folder.mkdir()
    lon0, lat0, d = 117.50, 29.50, 0.005
    grids = gpd.GeoDataFrame({"grid_id": ["G1", "G2", "G3"], "name": ["一组", "二组", "三组"], "level": ["village"] * 3,
                              "township": ["东镇", "东镇", "西镇"], "village": ["甲村", "乙村", "丙村"],
                              "households": [10, 20, 30], "population": [30, 60, 90]}, crs=4490,
                             geometry=[shapely.box(lon0 + i * d, lat0, lon0 + (i + 1) * d, lat0 + d) for i in range(3)])
    shelters = gpd.GeoDataFrame({"shelter_id": ["S1", "S2"], "name": ["一小", "二中"], "capacity": [500, 500]},
                                crs=4490, geometry=[shapely.Point(lon0 + 0.02, lat0 + 0.02),
                                                    shapely.Point(lon0 - 0.01, lat0 + 0.02)])
    ws.replace("grids", grids, note="t", user="t")
    ws.replace("shelters", shelters, note="t", user="t")
    monkeypatch.setenv("GIS_WORKSPACE", str(ws.folder))
    return ws


#: the database tests/pg_setup.sh creates (used when GIS_POSTGIS_DSN is not set)
TEST_POSTGIS_DSN = "postgresql://gis:gis@127.0.0.1:5432/gis"


@pytest.fixture(scope="session")
def postgis_dsn() -> str:
    """Connection string of the PostGIS test server: ``GIS_POSTGIS_DSN``, else the one pg_setup.sh makes."""
    return os.environ.get("GIS_POSTGIS_DSN") or TEST_POSTGIS_DSN


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can save a screenshot when a test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _page_with_upload(module: str, upload) -> None:
    """Run page ``module`` with its file uploaders handing it ``upload`` (AppTest cannot upload): one path for every
    uploader, or ``{widget key: path}`` (the others get nothing). The upload is also the widget's session value, as
    a real uploader's is (a page may read it before the uploader is drawn: it is there from the second run)."""
    import importlib
    from pathlib import Path

    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    class _Upload:
        def __init__(self, path: str):
            self.path = path
            self.name = Path(path).name

        def getvalue(self) -> bytes:
            return Path(self.path).read_bytes()

    def uploader(*args, key=None, **kwargs):
        path = upload.get(key) if isinstance(upload, dict) else upload
        if path is None:
            return None
        up = _Upload(str(path))
        if key is not None:
            st.session_state[key] = up
        return up

    st.session_state.setdefault("lang", "zh")
    st.file_uploader = uploader
    DeltaGenerator.file_uploader = lambda self, *args, **kwargs: uploader(*args, **kwargs)   # in columns too
    importlib.import_module(module).page()


@pytest.fixture
def upload_app():
    """``make(module, path)``: an AppTest of one page whose file uploaders return ``path`` (or
    ``make(module, {key: path})``: the uploader of that key only); restored after."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.testing.v1 import AppTest

    original, in_container = st.file_uploader, DeltaGenerator.file_uploader

    def make(module: str, upload) -> AppTest:
        arg = {k: str(v) for k, v in upload.items()} if isinstance(upload, dict) else str(upload)
        return AppTest.from_function(_page_with_upload, args=(module, arg), default_timeout=180)

    yield make
    st.file_uploader, DeltaGenerator.file_uploader = original, in_container
