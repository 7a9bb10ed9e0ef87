"""Work every session of one workspace revision shares: maps built once, keyed by the revision, renewed by an edit."""

from __future__ import annotations

import shutil
import threading
import time

import folium
import pytest

from tests.test_app import run_page


def _capture(monkeypatch) -> list[dict]:
    import streamlit_folium

    calls: list[dict] = []
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: calls.append(kw) or {})
    return calls


def _map() -> folium.Map:
    m = folium.Map(location=[28.1, 119.9], zoom_start=10, tiles=None, prefer_canvas=True)
    folium.GeoJson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "甲"},
         "geometry": {"type": "Point", "coordinates": [119.9, 28.1]}}]},
        name="shelters").add_to(m)
    folium.LayerControl().add_to(m)
    return m


def test_shared_map_sends_what_st_folium_sends(monkeypatch):
    """The rendered map equals streamlit-folium's own component arguments (an upgrade that changes them fails here)."""
    import itertools

    import branca.element
    from streamlit_folium import st_folium

    from ui.state import MAPS, shared_map

    def ids():      # the same element ids for two builds of the same map
        counter = itertools.count()
        monkeypatch.setattr(branca.element, "urandom", lambda n: next(counter).to_bytes(n, "big"))

    calls = _capture(monkeypatch)
    ids()
    st_folium(_map(), key="k", height=500, use_container_width=True, returned_objects=[])
    MAPS.clear()
    ids()
    shared_map(_map, cache_key=("test-equal",), key="k", height=500)
    shared_map(_map, cache_key=("test-equal",), key="k", height=500)     # another session: sent, not built
    theirs, ours, again = calls
    assert set(ours) == set(theirs)
    for k in theirs:
        if k != "on_change":
            assert ours[k] == theirs[k] == again[k], k
    assert MAPS.stats()["builds"] >= 1 and MAPS.stats()["entries"] == 1


def test_shared_cache_builds_once_for_concurrent_sessions_and_stays_bounded():
    from ui.state import SharedCache

    cache = SharedCache(max_bytes=250, max_entries=3, size=len)
    started = threading.Barrier(8)
    got = []

    def build():
        time.sleep(0.2)
        return "x" * 100

    def session():
        started.wait()
        got.append(cache.get(("map", 1), build))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert cache.stats()["builds"] == 1 and len(got) == 8 and all(g is got[0] for g in got)
    for i in range(2, 6):
        cache.get(("map", i), lambda: "y" * 100)
    s = cache.stats()
    assert s["entries"] == 2 and s["bytes"] == 200           # 250 bytes allow two
    cache.get(("map", 9), lambda: "z" * 1000)                 # one too big for the budget still stays alone
    assert cache.stats()["entries"] == 1


@pytest.fixture
def ws_copy(demo_workspace, tmp_path, monkeypatch):
    folder = tmp_path / "county"
    folder.mkdir()
    shutil.copy(demo_workspace / "workspace.gpkg", folder / "workspace.gpkg")
    (folder / "dem.tif").symlink_to(demo_workspace / "dem.tif")
    from layers import settings

    monkeypatch.setattr(settings, "DATA_DIR", tmp_path)
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    return folder


def test_sessions_share_the_map_until_an_edit_renews_it(ws_copy, monkeypatch):
    from layers.edits import ChangeSet, Update
    from layers.workspace import Workspace
    from ui.state import MAPS

    calls = _capture(monkeypatch)
    MAPS.clear()
    before = MAPS.stats()["builds"]
    for _ in range(3):                                        # three sessions of the Data page
        at = run_page("data")
        assert not at.exception, [e.message for e in at.exception]
    assert MAPS.stats()["builds"] == before + 1
    scripts = {c["script"] for c in calls}
    assert len(calls) == 3 and len(scripts) == 1
    ws = Workspace(ws_copy)
    sh = ws.read("shelters")
    ws.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"name": "试验点甲乙丙"})]),
             note="", user="")
    at = run_page("data")
    assert not at.exception
    assert MAPS.stats()["builds"] == before + 2               # the edit renewed the map
    renewed, first = "试验点甲乙丙" in calls[-1]["script"], "试验点甲乙丙" in calls[0]["script"]
    assert renewed and not first


def test_layer_tokens_move_only_for_the_layer_edited(ws_copy):
    from layers.edits import ChangeSet, Update
    from layers.workspace import Workspace
    from ui.state import _revision_tokens

    ws = Workspace(ws_copy)
    before = _revision_tokens(ws)
    sh = ws.read("shelters")
    ws.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": 1})]),
             note="", user="")
    after = _revision_tokens(ws)
    assert after["shelters"] != before["shelters"]
    assert {k: v for k, v in after.items() if k != "shelters"} == {k: v for k, v in before.items() if k != "shelters"}
    snap = ws.snapshot()
    ws.restore(snap.id, user="t")
    restored = _revision_tokens(ws)
    assert all(restored[k] != after[k] for k in ("roads", "shelters", "grids"))   # a restore renews everything
