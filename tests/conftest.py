"""Shared fixtures: the demo county, generated once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Path:
    """The county-scale demo workspace (workspace.gpkg + dem.tif), generated once.

    Set ``GIS_TEST_DEMO_CACHE=/some/dir`` to keep it between local runs.
    """
    from data.generator import generate

    cache = os.environ.get("GIS_TEST_DEMO_CACHE")
    folder = Path(cache) if cache else tmp_path_factory.mktemp("demo")
    if not (folder / "workspace.gpkg").exists() or not (folder / "dem.tif").exists():
        if folder.exists():
            shutil.rmtree(folder)
        generate(folder, scale="county")
    return folder


@pytest.fixture
def use_workspace(demo_workspace, monkeypatch) -> Path:
    """Point the app at the demo workspace for one test."""
    monkeypatch.setenv("GIS_WORKSPACE", str(demo_workspace))
    return demo_workspace


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can save a screenshot when a test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
