"""Work every session of one workspace revision shares: maps built once, keyed by the revision, renewed by an edit."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

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


# ---- the shared maps' big data as files the browsers fetch (ui.map_files) -------------------------------------
def _big_map(n: int = 8000, *, seed: int = 0) -> folium.Map:
    """A map with one big styled layer (n points: over the inline limit even packed by column), one small one and a
    big image, as build_map makes them."""
    import numpy as np

    from ui.map_view import ImageOverlay, StyledGeoJson

    rng = np.random.default_rng(seed)
    big = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": f"点{i}"},
         "geometry": {"type": "Point", "coordinates": [round(float(x), 5), round(float(y), 5)]}}
        for i, (x, y) in enumerate(zip(rng.uniform(119, 120, n), rng.uniform(28, 29, n)))]}
    small = {"type": "FeatureCollection", "features": big["features"][:3]}
    m = folium.Map(location=[28.5, 119.5], zoom_start=9, tiles=None, prefer_canvas=True)
    StyledGeoJson(big, {"": {"color": "#123456"}}, name="big").add_to(m)
    StyledGeoJson(small, {"": {"color": "#654321"}}, name="small").add_to(m)
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(buf, format="PNG")
    ImageOverlay("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
                 bounds=[[28, 119], [29, 120]], name="img").add_to(m)
    return m


@pytest.fixture
def shared_dir(tmp_path, monkeypatch):
    import ui.map_files

    folder = tmp_path / "shared"
    monkeypatch.setattr(ui.map_files, "SHARED_DIR", folder)
    return folder


def test_big_layers_and_images_go_to_files_once(shared_dir):
    import gzip
    import json

    from ui.map_files import SHARED_URL, externalize
    from ui.state import render_map

    m = _big_map()
    # the file holds the data as the page would carry it inline: packed by column (ui.map_points)
    data = next(el.page_data() for el in m._children.values() if getattr(el, "layer_name", "") == "big")
    assert data["type"] == "GisPoints" and data["n"] == 8000
    moved = externalize(m)
    assert moved["layers"] == 1 and moved["images"] == 1        # the small layer stays inline
    files = sorted(p.name for p in shared_dir.iterdir())
    # the layer as JSON and as JSON compressed once (the address the map uses: served as it is, inflated by the
    # browser, never compressed again per request), the image as itself
    assert len(files) == 3 and {p.rsplit(".", 1)[1] for p in files} == {"json", "gz", "png"}
    js = next(f for f in files if f.endswith(".json"))
    assert json.loads((shared_dir / js).read_text()) == data
    assert gzip.decompress((shared_dir / f"{js}.gz").read_bytes()) == (shared_dir / js).read_bytes()
    assert (shared_dir / f"{js}.gz").stat().st_size < (shared_dir / js).stat().st_size / 2
    r = render_map(m)
    # the small layer stays inline: in the page's JSON data element (the HTML part), not fetched
    assert f"{SHARED_URL}/{js}.gz" in r.script and "点2999" not in r.script + r.html and "点2" in r.html
    assert "data:image/png" not in r.script and r.nbytes < 20_000
    gz = (shared_dir / f"{js}.gz").read_bytes()
    externalize(_big_map())                                         # the same data again: the same files
    assert sorted(p.name for p in shared_dir.iterdir()) == files
    assert (shared_dir / f"{js}.gz").read_bytes() == gz             # the same bytes (no time stamp inside)
    externalize(_big_map(seed=1))
    assert len(list(shared_dir.iterdir())) == 6


def test_map_data_stays_inline_when_the_folder_cannot_be_written(tmp_path, monkeypatch):
    import ui.map_files
    from ui.map_files import externalize
    from ui.state import render_map

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(ui.map_files, "SHARED_DIR", blocker / "shared")
    m = _big_map()
    assert externalize(m) == {"layers": 0, "images": 0, "bytes": 0}
    r = render_map(m)
    # inline data: the page's JSON data element, its 3,000 points packed by column (ui.map_points)
    assert '"type":"GisPoints","n":8000' in r.html and "data:image/png" in r.script


def test_map_files_folder_is_bounded(shared_dir, monkeypatch):
    import os

    from layers import settings
    from ui.map_files import publish

    monkeypatch.setattr(settings, "SHARED_MAP_FILES_MB", 0.0025)   # 2,500 bytes: two 1,000-byte files
    urls = []
    for i in range(5):
        urls.append(publish(bytes([i]) * 1000, ".json"))
        os.utime(shared_dir / urls[-1].rsplit("/", 1)[1], (1e9 + i, 1e9 + i))
    left = sorted(p.name for p in shared_dir.iterdir())
    assert left == sorted(u.rsplit("/", 1)[1] for u in urls[-2:])  # the newest two, the oldest out


def test_concurrent_sessions_render_and_write_a_shared_map_once(shared_dir, monkeypatch):
    """Eight sessions asking at once for the map of one revision: one build, one set of files, the same message;
    a new revision builds again."""
    from ui.state import MAPS, shared_map

    calls = _capture(monkeypatch)
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.2)
        return _big_map()

    start = threading.Barrier(8)

    def session():
        start.wait()
        shared_map(build, cache_key=("test-threads", "rev1", "zh"), key="m", height=400)

    threads = [threading.Thread(target=session) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(builds) == 1 and len(calls) == 8 and len({c["script"] for c in calls}) == 1
    assert len(list(shared_dir.iterdir())) == 3                  # the layer (JSON and its .gz) and the image
    shared_map(build, cache_key=("test-threads", "rev2", "zh"), key="m", height=400)   # an edit: a new revision
    assert len(builds) == 2
    MAPS.clear()


def test_no_full_garbage_collection_after_every_script_run():
    """Streamlit's default gc.collect(2) after each run walks every shared object per session (see config)."""
    import tomllib

    from tests.test_app import APP

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_compressed_layer_files_keep_their_plain_twin_when_the_folder_is_pruned(shared_dir, monkeypatch):
    """The .gz and the plain JSON of one layer are written, renewed and kept together."""
    from layers import settings
    from ui.map_files import publish

    monkeypatch.setattr(settings, "SHARED_MAP_FILES_MB", 0.0001)   # 100 bytes: less than one pair
    url = publish(b'{"type":"FeatureCollection","features":[]}' * 10, ".json", compressed=True)
    assert url.endswith(".json.gz")
    name = url.rsplit("/", 1)[1]
    assert sorted(p.name for p in shared_dir.iterdir()) == sorted([name, name[:-3]])   # the pair in use stays
