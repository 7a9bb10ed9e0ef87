"""The Workspace page (AppTest) and the editor's change sets, on a copy of the demo workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from tests.test_app import run_page


@pytest.fixture
def ws_copy(demo_workspace, tmp_path, monkeypatch):
    """A writable copy of the demo workspace, active for the app, with its own data folder."""
    folder = tmp_path / "county"
    folder.mkdir()
    shutil.copy(demo_workspace / "workspace.gpkg", folder / "workspace.gpkg")
    (folder / "dem.tif").symlink_to(demo_workspace / "dem.tif")
    from layers import settings

    monkeypatch.setattr(settings, "DATA_DIR", tmp_path)
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    return folder


def test_changes_from_editor_updates_and_deletes():
    from ui.page_workspace import changes_from_editor

    base = pd.DataFrame({"fid": [1, 2, 3], "_rev": [0, 4, 1], "name": ["甲", "乙", "丙"],
                         "capacity": [100, 200, None], "phone": ["1", None, "3"]})
    edited = base.drop(columns="_rev").copy()
    edited.loc[0, "capacity"] = 150          # changed
    edited.loc[1, "phone"] = None            # unchanged (still empty)
    edited = edited[edited["fid"] != 3]      # deleted
    cs = changes_from_editor("shelters", base, edited)
    assert [(u.fid, u.base_rev, u.values) for u in cs.updated] == [(1, 0, {"capacity": 150.0})]
    assert [(d.fid, d.base_rev) for d in cs.deleted] == [(3, 1)]


def test_workspace_page_edits_undo_and_history(ws_copy):
    from layers.edits import ChangeSet, Update
    from layers.workspace import Workspace

    ws = Workspace(ws_copy)
    at = run_page("workspace")
    assert not at.exception, [e.message for e in at.exception]
    assert any("修改历史" in s.value for s in at.subheader)
    # an edit saved by another session appears in the history, and the page's undo reverts it
    sh = ws.read("shelters")
    first = sh.iloc[0]
    ws.apply(ChangeSet("shelters", updated=[Update(int(first["fid"]), int(first["_rev"]),
                                                   {"capacity": int(first["capacity"]) + 7})]),
             note="汛前核查", user="张三")
    at.run()
    hist = next(d.value for d in at.dataframe if "编辑人" in d.value.columns)
    assert hist.iloc[0]["编辑人"] == "张三" and hist.iloc[0]["说明"] == "汛前核查"
    at.button(key="ws_undo").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert int(Workspace(ws_copy).read("shelters").set_index("fid").loc[int(first["fid"]), "capacity"]) == \
        int(first["capacity"])
    assert any("已撤销" in s.value for s in at.success)


def test_workspace_page_creates_and_switches(ws_copy, tmp_path):
    at = run_page("workspace", "en")
    assert not at.exception, [e.message for e in at.exception]
    at.text_input(key="ws_new_name").input("汛期2027").run()
    at.button(key="ws_create").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert (tmp_path / "汛期2027" / "workspace.gpkg").exists()
    assert at.session_state["workspace_name"] == "汛期2027"
    assert any("no editable layer" in i.value for i in at.info)


def test_analysis_reruns_on_edited_data(ws_copy):
    """A shelter closed in the workspace is no longer used by the flood plan."""
    from layers.edits import ChangeSet, Update
    from layers.workspace import Workspace

    at = run_page("flood")
    assert not at.exception
    placed = {m.label: int(m.value.replace(",", "")) for m in at.metric}["已安置"]
    ws = Workspace(ws_copy)
    sh = ws.read("shelters")
    ups = [Update(int(f), int(r), {"capacity": 0}) for f, r in zip(sh["fid"], sh["_rev"])]
    ws.apply(ChangeSet("shelters", updated=ups), note="全部关闭（测试）", user="test")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert placed > 0 and {m.label: int(m.value.replace(",", "")) for m in at.metric}["已安置"] == 0
    assert isinstance(ws.read("shelters"), gpd.GeoDataFrame)


def test_other_sessions_save_is_shown_and_a_stale_save_refused(ws_copy):
    """Session A opens the shelters; session B saves one; A is told, and A's save of the same feature from
    its old rows is refused with the conflict named, nothing written."""
    from layers.edits import ChangeSet, ConflictError, Update
    from layers.workspace import Workspace
    from ui.page_workspace import changes_from_editor

    at = run_page("workspace")
    assert not at.exception, [e.message for e in at.exception]
    base = at.session_state["ws_base_shelters"]          # the rows A's editor started from
    ws = Workspace(ws_copy)
    fid = int(base["fid"].iloc[0])
    cap = int(base["capacity"].iloc[0])
    ws.apply(ChangeSet("shelters", updated=[Update(fid, int(base["_rev"].iloc[0]), {"capacity": cap + 50})]),
             note="B", user="乙")
    at.run()
    assert any("其他人已保存" in w.value for w in at.warning)
    mine = base.drop(columns=["_rev", "geometry"]).copy()
    mine.loc[mine["fid"] == fid, "capacity"] = cap + 5
    with pytest.raises(ConflictError) as err:
        ws.apply(changes_from_editor("shelters", base, mine), note="A", user="甲")
    assert err.value.conflicts[0].field == "capacity" and err.value.conflicts[0].theirs == cap + 50
    assert int(ws.read("shelters").set_index("fid").loc[fid, "capacity"]) == cap + 50


# ---- the workspace under faults (issue 13) ------------------------------------------------------------------
def _damage(gpkg, table: str) -> None:
    import random
    import sqlite3

    con = sqlite3.connect(gpkg)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    con.close()
    with open(gpkg, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(random.Random(1).randbytes(page))


def _with_banner(name: str, lang: str = "zh") -> None:
    """A page as app.py draws it: the storage banner above it."""
    import importlib

    import streamlit as st

    from ui.state import storage_banner

    st.session_state["lang"] = lang
    storage_banner()
    importlib.import_module(f"ui.page_{name}").page()


def test_damaged_workspace_opens_read_only_with_a_banner_and_is_restored_on_the_page(ws_copy):
    from streamlit.testing.v1 import AppTest

    from layers.workspace import Workspace

    ws = Workspace(ws_copy)
    good = ws.snapshot()
    _damage(ws.gpkg, "rivers")
    for name, lang in (("data", "zh"), ("workspace", "en")):   # the banner: above every page
        at = AppTest.from_function(_with_banner, args=(name, lang), default_timeout=180).run()
        assert not at.exception, [e.message for e in at.exception]
        banner = at.error[0].value
        assert ("图层“河流”" in banner and "只读" in banner) if lang == "zh" else \
            ("layer 'Rivers'" in banner and "read-only" in banner)
    # the Workspace page: editing off, the snapshot offered, restored from the page
    assert any("editing is off" in w.value for w in at.warning)
    assert at.button(key="ws_save").disabled and at.button(key="ws_undo").disabled
    assert at.button(key="ws_snapshot_take").disabled
    assert at.selectbox(key="ws_restore_pick").value == good.id
    assert at.button(key="ws_restore_do").disabled            # not before the box is ticked
    at.checkbox(key="ws_restore_confirm_0").check().run()
    at.button(key="ws_restore_do").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(good.id in s.value and "restored" in s.value for s in at.success)
    assert not at.error and Workspace(ws_copy).health(full=True).ok
    assert Workspace(ws_copy).history(limit=1)[0].action == "restore"
    hist = next(d.value for d in at.dataframe if "Editor" in d.value.columns)
    assert hist.iloc[0]["Action"] == "snapshot restored"


def test_data_page_saves_a_raster_into_the_workspace_whole_and_in_the_history(ws_copy, tmp_path, upload_app):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from layers.workspace import Workspace

    dem = tmp_path / "新高程.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=50, height=40, count=1, dtype="float32", crs="EPSG:4490",
                       transform=from_origin(119.5, 28.5, 0.001, 0.001)) as dst:
        dst.write(np.full((40, 50), 321.0, dtype="float32"), 1)
    at = upload_app("ui.page_data", dem)
    at.session_state["upload_kind"] = "dem"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    save = next(b for b in at.button if str(b.key).startswith("ws_commit_raster_"))
    save.click().run()
    assert not at.exception, [e.message for e in at.exception]
    ws = Workspace(ws_copy)
    assert ws.raster("dem").shape == (40, 50) and ws.history(limit=1)[0].action == "raster"
    assert not list(ws_copy.glob("*.importing"))


def test_add_a_point_map_reads_and_stamps_only_what_it_shows(ws_copy, monkeypatch):
    """Switching on the add-a-point map reads the edited layer and the layers drawn under it (outlines, roads,
    rivers, villages, the place names) and no other: a prefecture's buildings and grids were once all read and
    township-stamped for it (about a minute cold). Only the edited layer gets its township stamped, and the
    hillshade is shaded from the DEM read at the image's size."""
    import streamlit as st

    import gis.townships
    import layers.raster
    from layers.workspace import Workspace
    from ui.i18n import text
    from ui.state import HILLSHADE_PX

    st.cache_resource.clear()
    st.cache_data.clear()
    read, stamped, sides = [], [], []
    vector, stamp, read_raster = Workspace.vector, gis.townships.stamp_townships, layers.raster.read_raster

    def spy_vector(self, kind, *a, **k):
        read.append(kind)
        return vector(self, kind, *a, **k)

    def spy_stamp(lay, *a, **k):
        stamped.append(tuple(k.get("kinds") or ("all",)))
        return stamp(lay, *a, **k)

    def spy_raster(path, *a, **k):
        sides.append((Path(path).name, k.get("max_side")))
        return read_raster(path, *a, **k)

    monkeypatch.setattr(Workspace, "vector", spy_vector)
    monkeypatch.setattr(gis.townships, "stamp_townships", spy_stamp)
    monkeypatch.setattr(layers.raster, "read_raster", spy_raster)
    at = run_page("workspace")
    assert not at.exception, [e.message for e in at.exception]
    read.clear()
    at.toggle(key="ws_add_on_shelters").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(c.value == text("ws_add_point_help", "zh") for c in at.caption)    # the page ran to its map
    assert set(read) <= {"shelters", "boundaries", "roads", "rivers", "villages"}, sorted(set(read))
    assert {"boundaries", "roads"} <= set(read) and "buildings" not in read and "grids" not in read
    assert stamped == [("shelters",)], stamped
    assert ("dem.tif", HILLSHADE_PX) in sides, sides
