"""The PostGIS layer store against a real PostgreSQL + PostGIS server (tests/pg_setup.sh installs one).

Locally the tests skip, saying why, when no server answers; on CI (``CI`` set) a missing server fails.
Each test works in its own schema, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

from layers.edits import ChangeSet, ConflictError, Delete, LayerStore, Update
from layers.errors import LayerError, StorageError

ROOT = Path(__file__).resolve().parents[1]
psycopg = pytest.importorskip("psycopg") if not os.environ.get("CI") else __import__("psycopg")
from layers.postgis import PostGISStore  # noqa: E402


@pytest.fixture(scope="module")
def dsn(postgis_dsn) -> str:
    """The test server's DSN once it is known to answer and to have PostGIS."""
    try:
        with psycopg.connect(postgis_dsn, connect_timeout=3) as conn:
            conn.execute("select postgis_version()")
    except psycopg.Error as e:
        msg = (f"no PostGIS server at {postgis_dsn.split('@')[-1]} ({str(e).strip().splitlines()[0]}); "
               "run `bash tests/pg_setup.sh` or set GIS_POSTGIS_DSN")
        if os.environ.get("CI"):
            pytest.fail("CI must test PostGIS: " + msg)
        pytest.skip(msg)
    return postgis_dsn


@pytest.fixture
def schema(dsn):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{name}" cascade')


@pytest.fixture
def store(dsn, schema) -> PostGISStore:
    return PostGISStore(dsn, schema=schema)


def _shelters(n: int = 3) -> gpd.GeoDataFrame:
    """n shelters with Chinese text, as validated canonical fields."""
    return gpd.GeoDataFrame({
        "name": [f"云岭{i}号避灾点" for i in range(1, n + 1)],
        "shelter_id": [f"S{i}" for i in range(1, n + 1)],
        "type": ["school"] * n,
        "capacity": [100 * i for i in range(1, n + 1)],
        "township": ["城关镇"] * n,
        "status": ["available"] * n,
    }, geometry=[Point(119.6 + 0.01 * i, 28.3) for i in range(1, n + 1)], crs="EPSG:4490")


def _plain(gdf: gpd.GeoDataFrame, key: str = "") -> list[tuple]:
    """Rows as tuples of plain Python values (no fid/_rev), sorted: comparable across stores."""
    cols = [c for c in gdf.columns if c not in ("fid", "_rev", gdf.geometry.name)]
    out = []
    for _, r in gdf.iterrows():
        vals = []
        for c in sorted(cols):
            v = r[c]
            v = None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
            vals.append((c, v.item() if isinstance(v, np.generic) else v))
        out.append((tuple(vals), r[gdf.geometry.name].wkt))
    return sorted(out, key=repr)


# ---- schema ------------------------------------------------------------------------------------
def test_creates_tables_with_gist_index_and_srid(store, dsn, schema):
    assert isinstance(store, LayerStore)
    assert store.vector_kinds() == []
    store.replace("shelters", _shelters(), note="导入", user="张三")
    with psycopg.connect(dsn) as conn:
        srid, gtype = conn.execute("select srid, type from geometry_columns where f_table_schema = %s and "
                                   "f_table_name = 'shelters'", (schema,)).fetchone()
        idx = conn.execute("select indexdef from pg_indexes where schemaname = %s and tablename = 'shelters'",
                           (schema,)).fetchall()
        tables = {r[0] for r in conn.execute("select table_name from information_schema.tables where "
                                             "table_schema = %s", (schema,))}
    assert (srid, gtype) == (4490, "GEOMETRY")
    assert any("gist" in d[0].lower() and "geom" in d[0] for d in idx)
    assert {"shelters", "gis_layers", "gis_history", "gis_history_rows"} <= tables
    assert store.vector_kinds() == ["shelters"]
    # a second store on the same schema (another process, another day) finds it as it is
    assert PostGISStore(dsn, schema=schema).read("shelters")["name"].tolist() == ["云岭1号避灾点", "云岭2号避灾点",
                                                                                  "云岭3号避灾点"]


def test_unreachable_server_is_a_bilingual_error_without_password():
    st = PostGISStore("postgresql://gis:secret-pw@127.0.0.1:1/gis", connect_timeout=2)
    with pytest.raises(StorageError) as e:     # a storage fault since issue 13 (was LayerError)
        st.vector_kinds()
    text = str(e.value)
    assert "无法连接 PostGIS 数据库" in text and "cannot connect to the PostGIS database" in text
    assert "secret-pw" not in text and "***" in text


def test_missing_dsn_and_bad_schema_are_layer_errors(monkeypatch):
    monkeypatch.delenv("GIS_POSTGIS_DSN", raising=False)
    monkeypatch.setattr("layers.settings.POSTGIS_DSN", None)
    with pytest.raises(LayerError, match="GIS_POSTGIS_DSN"):
        PostGISStore()
    with pytest.raises(LayerError, match="schema"):
        PostGISStore("postgresql://x@127.0.0.1/x", schema='gis"; drop table x; --')


# ---- round trip ----------------------------------------------------------------------------------
def test_every_demo_layer_round_trips_through_postgis_and_geopackage(store, demo_workspace, tmp_path):
    """Attributes, CRS, geometry and Chinese text intact: demo GeoPackage -> PostGIS -> new GeoPackage."""
    from layers.workspace import Workspace

    src = demo_workspace / "workspace.gpkg"
    kinds = [str(n) for n, _ in pyogrio.list_layers(src)]
    assert {"villages", "grids", "shelters", "water_sources", "cameras", "roads", "rivers", "forest"} <= set(kinds)
    out = Workspace(tmp_path)
    for kind in kinds:
        orig = pyogrio.read_dataframe(src, layer=kind)
        entry = store.replace(kind, orig, note=f"导入{kind}", user="测试")
        assert (entry.action, entry.added, entry.changed, entry.removed) == ("replace", len(orig), 0, 0)
        back = store.read(kind)
        assert back.crs.to_epsg() == 4490
        assert [c for c in back.columns if c not in ("fid", "_rev", "geometry")] == \
            [c for c in orig.columns if c != "geometry"]
        assert back["fid"].is_unique and back["_rev"].dtype == "int64"
        for c in orig.columns:
            if c == "geometry":
                assert back.geometry.geom_equals_exact(orig.geometry, tolerance=0).all(), kind
            elif pd.api.types.is_float_dtype(orig[c]):
                np.testing.assert_allclose(back[c].to_numpy(float), orig[c].to_numpy(float), rtol=0, atol=0)
            else:   # validation (as on import) stores an empty text as NULL
                assert back[c].tolist() == [None if v == "" else v for v in orig[c].tolist()], (kind, c)
        # and on into a GeoPackage workspace, read back identical again
        out.write_vector(kind, back.drop(columns=["fid", "_rev"]))
        again = out.vector(kind)
        assert again.crs.to_epsg() == 4490
        assert _plain(again, again.columns[0]) == _plain(back, again.columns[0]), kind
    names = store.read("villages")["name"]
    assert names.str.contains(r"[\u4e00-\u9fff]").all()


def test_chinese_columns_nulls_and_types_round_trip(store):
    g = _shelters(2)
    g["area"] = [120.5, np.nan]
    g["备用电源"] = ["柴油发电机 5kW", None]       # a column outside the spec keeps its Chinese name
    g.loc[1, "township"] = None
    store.replace("shelters", g, note="", user="")
    back = store.read("shelters")
    assert back["备用电源"].tolist() == ["柴油发电机 5kW", None]
    assert back["township"].tolist() == ["城关镇", None]
    assert back["capacity"].tolist() == [100, 200] and back["capacity"].dtype == "int64"
    assert back["area"].iloc[0] == 120.5 and np.isnan(back["area"].iloc[1])


def test_replace_validates_like_an_import_and_changes_nothing_on_error(store):
    store.replace("shelters", _shelters(), note="", user="")
    before, v = store.read("shelters"), store.version("shelters")
    bad = _shelters(2)
    bad["capacity"] = bad["capacity"].astype(object)
    bad.loc[1, "capacity"] = "很多"
    with pytest.raises(LayerError) as e:
        store.replace("shelters", bad, note="", user="")
    assert "容纳人数" in str(e.value) and "Capacity" in str(e.value)
    assert store.version("shelters") == v
    pd.testing.assert_frame_equal(store.read("shelters"), before)
    assert len(store.history()) == 1


# ---- editing -----------------------------------------------------------------------------------
def test_apply_coerces_like_an_import_and_bumps_rev_and_version(store):
    store.replace("shelters", _shelters(), note="", user="")
    cur = store.read("shelters")
    v0 = store.version("shelters")
    f1, r1 = int(cur.fid[0]), int(cur._rev[0])
    add = gpd.GeoDataFrame({"name": ["新村委会"], "capacity": ["80人"], "type": ["村委会"]},
                           geometry=[Point(119.7, 28.31)], crs="EPSG:4490")
    e = store.apply(ChangeSet("shelters", added=add, updated=[Update(f1, r1, {"capacity": "300人", "status": "停用"})]),
                    note="汛前核查", user="李四")
    assert (e.action, e.added, e.changed, e.removed, e.user, e.note) == ("edit", 1, 1, 0, "李四", "汛前核查")
    assert e.time.endswith("Z")
    now = store.read("shelters")
    row = now[now.fid == f1].iloc[0]
    assert (row.capacity, row.status) == (300, "unavailable")
    assert int(row._rev) != r1
    assert int(now[now.fid == int(cur.fid[1])]._rev.iloc[0]) == int(cur._rev[1])   # untouched feature keeps its rev
    new = now[now.name == "新村委会"].iloc[0]
    assert (new.capacity, new.type) == (80, "village_hall")
    assert new.shelter_id == f"S{int(new.fid)}"          # generated id, unique by fid
    assert store.version("shelters") == v0 + 1


def test_apply_to_a_missing_layer_or_unknown_field_is_refused(store):
    with pytest.raises(LayerError, match="数据库中没有“避灾安置场所”图层"):
        store.apply(ChangeSet("shelters", updated=[Update(1, 1, {"capacity": 5})]), note="", user="")
    with pytest.raises(LayerError, match="unknown vector layer kind"):
        store.read("dem")
    store.replace("shelters", _shelters(1), note="", user="")
    cur = store.read("shelters")
    with pytest.raises(LayerError, match="图层没有字段"):
        store.apply(ChangeSet("shelters", updated=[Update(int(cur.fid[0]), int(cur._rev[0]), {"颜色": "红"})]),
                    note="", user="")
    # a spec field the layer did not have yet becomes a column
    store.apply(ChangeSet("shelters", updated=[Update(int(cur.fid[0]), int(cur._rev[0]), {"supplies": "帐篷 20 顶"})]),
                note="", user="")
    assert store.read("shelters")["supplies"].tolist() == ["帐篷 20 顶"]


def test_apply_bad_value_or_duplicate_id_changes_nothing(store):
    store.replace("shelters", _shelters(), note="", user="")
    before, v = store.read("shelters"), store.version("shelters")
    f, r = int(before.fid[0]), int(before._rev[0])
    with pytest.raises(LayerError, match="容纳人数"):
        store.apply(ChangeSet("shelters", updated=[Update(f, r, {"capacity": -5})]), note="", user="")
    with pytest.raises(LayerError, match="编号“S2”已被其他要素使用"):
        store.apply(ChangeSet("shelters", updated=[Update(f, r, {"shelter_id": "S2"})]), note="", user="")
    with pytest.raises(LayerError, match="几何类型不对"):
        line = LineString([(119.6, 28.3), (119.7, 28.3)])
        store.apply(ChangeSet("shelters", updated=[Update(f, r, {"geometry": line})]), note="", user="")
    pd.testing.assert_frame_equal(store.read("shelters"), before)
    assert store.version("shelters") == v and len(store.history()) == 1


def test_two_sessions_same_feature_conflict_different_features_both_kept(dsn, schema):
    a, b = PostGISStore(dsn, schema=schema), PostGISStore(dsn, schema=schema)
    a.replace("shelters", _shelters(), note="", user="")
    ra, rb = a.read("shelters"), b.read("shelters")
    f1, rev1 = int(ra.fid[0]), int(ra._rev[0])
    f2, rev2 = int(rb.fid[1]), int(rb._rev[1])
    # different features: both saves kept
    a.apply(ChangeSet("shelters", updated=[Update(f1, rev1, {"capacity": 111})]), note="A", user="甲")
    b.apply(ChangeSet("shelters", updated=[Update(f2, rev2, {"capacity": 222})]), note="B", user="乙")
    now = a.read("shelters").set_index("fid")
    assert (now.capacity[f1], now.capacity[f2]) == (111, 222)
    # same feature, B read it before A saved: B's save is refused, A's value stays
    with pytest.raises(ConflictError) as e:
        b.apply(ChangeSet("shelters", updated=[Update(f1, int(rb._rev[0]), {"capacity": 999})]), note="", user="乙")
    assert [(c.fid, c.field, c.yours, c.theirs) for c in e.value.conflicts] == [(f1, "capacity", 999, 111)]
    assert "已被其他人修改" in str(e.value) and "changed by someone else" in str(e.value)
    assert b.read("shelters").set_index("fid").capacity[f1] == 111
    # a stale delete, and an update of a feature the other side deleted
    a.apply(ChangeSet("shelters", deleted=[Delete(f2, int(now._rev[f2]))]), note="", user="甲")
    with pytest.raises(ConflictError) as e:
        b.apply(ChangeSet("shelters", updated=[Update(f2, rev2, {"capacity": 5})],
                          deleted=[Delete(f1, rev1)]), note="", user="乙")
    assert sorted((c.fid, c.field) for c in e.value.conflicts) == sorted([(f2, ""), (f1, "_rev")])


def test_concurrent_save_waits_for_the_lock_then_conflicts(dsn, schema):
    """B saves while A's transaction on the same feature is still open: B waits, then sees A's rev."""
    a, b = PostGISStore(dsn, schema=schema), PostGISStore(dsn, schema=schema)
    a.replace("shelters", _shelters(), note="", user="")
    cur = a.read("shelters")
    f, r = int(cur.fid[0]), int(cur._rev[0])
    in_commit, release = threading.Event(), threading.Event()
    a._before_commit = lambda: (in_commit.set(), release.wait(10))
    t = threading.Thread(target=a.apply, args=(ChangeSet("shelters", updated=[Update(f, r, {"capacity": 7})]),),
                         kwargs={"note": "A", "user": "甲"})
    t.start()
    assert in_commit.wait(10)
    result: dict = {}

    def save_b():
        try:
            b.apply(ChangeSet("shelters", updated=[Update(f, r, {"capacity": 8})]), note="B", user="乙")
        except ConflictError as e:
            result["conflict"] = e
    tb = threading.Thread(target=save_b)
    tb.start()
    time.sleep(0.5)
    assert tb.is_alive()          # blocked behind A's open transaction on the layer
    release.set()
    t.join(10)
    tb.join(10)
    assert "conflict" in result
    assert a.read("shelters").set_index("fid").capacity[f] == 7


def test_killed_client_mid_transaction_leaves_previous_state(store, dsn, schema, tmp_path):
    store.replace("shelters", _shelters(), note="", user="")
    before, v, hist = store.read("shelters"), store.version("shelters"), store.history()
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import geopandas as gpd
        from shapely.geometry import Point
        from layers.postgis import PostGISStore
        st = PostGISStore({dsn!r}, schema={schema!r})
        st._before_commit = lambda: (print("ready", flush=True), time.sleep(120))
        g = gpd.GeoDataFrame({{"name": ["甲", "乙"], "capacity": [1, 2]}},
                             geometry=[Point(119.9, 28.1), Point(119.91, 28.1)], crs="EPSG:4490")
        st.replace("shelters", g, note="never", user="killed")
    """), encoding="utf-8")
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
    finally:
        p.kill()
        p.wait(10)
    deadline = time.time() + 10
    while time.time() < deadline:   # the server notices the dead client and rolls back
        try:
            pd.testing.assert_frame_equal(store.read("shelters"), before)
            break
        except AssertionError:
            time.sleep(0.2)
    pd.testing.assert_frame_equal(store.read("shelters"), before)
    assert store.version("shelters") == v and store.history() == hist


# ---- import preview, undo and redo -------------------------------------------------------------
def test_diff_and_replace_by_id(store):
    store.replace("shelters", _shelters(), note="", user="")
    fids = store.read("shelters").set_index("shelter_id").fid
    new = _shelters(4).iloc[[0, 1, 3]].reset_index(drop=True)     # S1 same, S2 changed, S3 gone, S4 new
    new.loc[1, "capacity"] = 250
    d = store.diff("shelters", new)
    assert d.counts() == (1, 1, 1)
    assert d.added["shelter_id"].tolist() == ["S4"] and d.removed["shelter_id"].tolist() == ["S3"]
    assert d.changed_fields == {int(fids["S2"]): ["capacity"]}
    assert d.changed["fid"].tolist() == [int(fids["S2"])]
    assert store.diff("shelters", new, append=True).counts() == (1, 0, 1)
    e = store.replace("shelters", new, note="更新", user="")
    assert (e.added, e.changed, e.removed) == (1, 1, 1)
    after = store.read("shelters").set_index("shelter_id")
    assert after.fid["S1"] == fids["S1"] and after.fid["S2"] == fids["S2"]   # matched features keep their fid
    assert after.capacity["S2"] == 250 and "S3" not in after.index


def test_undo_redo_across_sessions(dsn, schema):
    a = PostGISStore(dsn, schema=schema)
    a.replace("shelters", _shelters(), note="导入", user="甲")
    s0 = a.read("shelters")
    f1, f2 = int(s0.fid[0]), int(s0.fid[1])
    add = gpd.GeoDataFrame({"name": ["新点"], "capacity": [9]}, geometry=[Point(119.8, 28.2)], crs="EPSG:4490")
    a.apply(ChangeSet("shelters", added=add, updated=[Update(f1, int(s0._rev[0]), {"capacity": 1})],
                      deleted=[Delete(f2, int(s0._rev[1]))]), note="编辑", user="甲")
    s1 = a.read("shelters")
    b = PostGISStore(dsn, schema=schema)          # another session undoes it
    u = b.undo(user="乙")
    assert (u.action, u.added, u.changed, u.removed, u.user) == ("undo", 1, 1, 1, "乙")
    pd.testing.assert_frame_equal(b.read("shelters"), s0)       # fids and revs back as they were
    assert [h.undone for h in b.history()][:2] == [False, True]
    r = a.redo(user="甲")
    assert r.action == "redo"
    pd.testing.assert_frame_equal(a.read("shelters"), s1)
    # undo both, redo one; a new edit then ends the redo chain
    a.undo(user="甲")
    a.undo(user="甲")
    assert len(a.read("shelters")) == 0
    assert a.undo(user="甲") is None
    a.redo(user="甲")
    pd.testing.assert_frame_equal(a.read("shelters"), s0)
    cur = a.read("shelters")
    a.apply(ChangeSet("shelters", updated=[Update(f1, int(cur._rev[0]), {"capacity": 42})]), note="", user="甲")
    assert a.redo(user="甲") is None
    assert [h.action for h in a.history()] == ["edit", "redo", "undo", "undo", "redo", "undo", "edit", "replace"]


def test_undo_refuses_when_a_feature_changed_since(dsn, schema):
    """Undo of entry E while a later (undone-proof) change touched the same feature: conflict, nothing done."""
    a = PostGISStore(dsn, schema=schema)
    a.replace("shelters", _shelters(), note="", user="")
    cur = a.read("shelters")
    f = int(cur.fid[0])
    a.apply(ChangeSet("shelters", updated=[Update(f, int(cur._rev[0]), {"capacity": 5})]), note="", user="")
    # someone changes the row behind the store's back (e.g. with psql): the undo must not clobber it
    with psycopg.connect(dsn) as conn:
        conn.execute(f'update "{schema}".shelters set capacity = 6, _rev = _rev + 1000 where fid = %s', (f,))
    with pytest.raises(ConflictError):
        a.undo(user="")
    assert a.read("shelters").set_index("fid").capacity[f] == 6


# ---- same behaviour as the GeoPackage store ----------------------------------------------------
def _scenario(st, seen: list) -> list:
    """One editing session; appends to ``seen`` what a user would see after each step."""
    st.replace("shelters", _shelters(), note="导入", user="甲")
    seen.append(("read", _plain(st.read("shelters"), "shelter_id")))
    cur = st.read("shelters").set_index("shelter_id")
    add = gpd.GeoDataFrame({"name": ["新点"], "shelter_id": ["S9"], "capacity": ["60人"], "type": ["体育馆"]},
                           geometry=[Point(119.8, 28.2)], crs="EPSG:4490")
    e = st.apply(ChangeSet("shelters", added=add,
                           updated=[Update(int(cur.fid["S1"]), int(cur._rev["S1"]),
                                           {"capacity": 150, "status": "停用"})],
                           deleted=[Delete(int(cur.fid["S3"]), int(cur._rev["S3"]))]), note="编辑", user="乙")
    seen.append(("edit", e.action, e.added, e.changed, e.removed))
    seen.append(("read", _plain(st.read("shelters"), "shelter_id")))
    try:
        st.apply(ChangeSet("shelters", updated=[Update(int(cur.fid["S1"]), int(cur._rev["S1"]), {"capacity": 1})]),
                 note="", user="丙")
    except ConflictError as ce:
        seen.append(("conflict", [(c.field, c.yours, c.theirs) for c in ce.conflicts]))
    new = _shelters(4).iloc[[0, 1, 3]].reset_index(drop=True)
    new.loc[1, "capacity"] = 250
    d = st.diff("shelters", new)
    seen.append(("diff", d.counts(), sorted(map(sorted, d.changed_fields.values()))))
    e = st.replace("shelters", new, note="", user="甲", append=True)
    seen.append(("append", e.action, e.added, e.changed, e.removed))
    seen.append(("read", _plain(st.read("shelters"), "shelter_id")))
    for step in ("undo", "undo", "redo"):
        h = getattr(st, step)(user="甲")
        seen.append((step, h.action, h.undone))
        seen.append(("read", _plain(st.read("shelters"), "shelter_id")))
    seen.append(("history", [(h.action, h.undone) for h in st.history("shelters")]))
    return seen


def test_same_behaviour_as_geopackage_store(store, tmp_path):
    from layers.workspace import Workspace

    gpkg = Workspace(tmp_path / "ws")
    ours, theirs = _scenario(store, []), _scenario(gpkg, [])
    for a, b in zip(ours, theirs):
        assert a == b
    assert len(ours) == len(theirs)


def test_undo_twice_the_same_feature(store):
    store.replace("shelters", _shelters(1), note="", user="")
    for cap in (150, 200):
        cur = store.read("shelters")
        store.apply(ChangeSet("shelters", updated=[Update(int(cur.fid[0]), int(cur._rev[0]), {"capacity": cap})]),
                    note="", user="")
    assert store.undo(user="").action == "undo"
    assert store.read("shelters").capacity.tolist() == [150]
    assert store.undo(user="").action == "undo"
    assert store.read("shelters").capacity.tolist() == [100]
    store.redo(user="")
    store.redo(user="")
    assert store.read("shelters").capacity.tolist() == [200]


def test_bench_case_runs_on_the_demo(dsn, demo_workspace, tmp_path, monkeypatch):
    from bench.cases import postgis as case
    from bench.harness import Context

    monkeypatch.setenv("GIS_POSTGIS_DSN", dsn)
    rep = case.run(Context(workspace=demo_workspace, scale="county", repeats=1, tmp=tmp_path, log=lambda m: None))
    n = len(pyogrio.read_dataframe(demo_workspace / "workspace.gpkg", layer="grids", read_geometry=False))
    assert rep["figures"]["features"] == n
    assert [r[1] for r in rep["tables"][0]["rows"]] == [n] * len(rep["tables"][0]["rows"])
    assert rep["bars"][0]["passed"] is None and rep["bars"][0]["measured"] > 0      # judged at prefecture only
    with psycopg.connect(dsn) as conn:    # every bench schema dropped again
        assert conn.execute("select count(*) from information_schema.schemata where schema_name like 'bench_%'"
                            ).fetchone()[0] == 0


# ---- the command line and the app on PostGIS ------------------------------------------------------
def test_cli_import_export_undo_on_postgis(dsn, schema, tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("GIS_POSTGIS_SCHEMA", schema)
    src = tmp_path / "避难场所.geojson"
    _shelters(3).rename(columns={"name": "名称", "capacity": "容纳人数"}).to_file(src, driver="GeoJSON")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "gis", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    r = cli("import", "--workspace", dsn, "--layer", "shelters", str(src), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == 3 and dsn not in r.stdout   # the password is never printed
    out = tmp_path / "back.geojson"
    assert cli("export", "--workspace", dsn, "--layer", "shelters", "--out", str(out)).returncode == 0
    back = gpd.read_file(out)
    assert len(back) == 3 and "云岭1号避灾点" in set(back.iloc[:, 0].astype(str)) | set(back.get("name", []))
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,经度,纬度,容纳人数\n甲,119.6,28.3,很多\n", encoding="utf-8")
    r = cli("import", "--workspace", dsn, "--layer", "shelters", str(bad))
    assert r.returncode == 2 and "很多" in r.stderr and "Traceback" not in r.stderr
    assert len(PostGISStore(dsn, schema).read("shelters")) == 3
    assert cli("undo", "--workspace", dsn).returncode == 0
    assert "shelters" not in PostGISStore(dsn, schema).vector_kinds() or \
        len(PostGISStore(dsn, schema).read("shelters")) == 0


def test_app_runs_on_postgis(dsn, schema, demo_workspace, monkeypatch):
    """The flood page plans from the database's layers exactly as from the GeoPackage; the Workspace page
    edits the database and its undo reverts the edit."""
    from streamlit.testing.v1 import AppTest

    from layers import settings
    from layers.workspace import Workspace
    from tests.test_app import TIMEOUT

    ws = Workspace(demo_workspace)
    store = PostGISStore(dsn, schema)
    for kind in ("grids", "shelters", "roads", "rivers", "villages", "buildings"):   # homes: buildings
        store.replace(kind, ws.vector(kind), note="load", user="test")
    monkeypatch.setattr(settings, "POSTGIS_DSN", dsn)
    monkeypatch.setattr(settings, "POSTGIS_SCHEMA", schema)
    monkeypatch.setenv("GIS_WORKSPACE", str(demo_workspace))

    def page(name: str, kind: str) -> None:
        import importlib

        import streamlit as st

        st.session_state["store_kind"] = kind
        importlib.import_module(f"ui.page_{name}").page()

    metrics = {}
    for kind in ("gpkg", "postgis"):
        at = AppTest.from_function(page, args=("flood", kind), default_timeout=TIMEOUT).run()
        assert not at.exception, [e.message for e in at.exception]
        metrics[kind] = {m.label: m.value for m in at.metric}
    assert metrics["postgis"]["需转移人数"] == metrics["gpkg"]["需转移人数"]
    assert metrics["postgis"]["已安置"] == metrics["gpkg"]["已安置"]

    at = AppTest.from_function(page, args=("workspace", "postgis"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("共享数据库" in i.value for i in at.info)
    sh = store.read("shelters")
    fid, rev, cap = int(sh["fid"].iloc[0]), int(sh["_rev"].iloc[0]), int(sh["capacity"].iloc[0])
    store.apply(ChangeSet("shelters", updated=[Update(fid, rev, {"capacity": cap + 11})]), note="扩容", user="李四")
    at.run()
    hist = next(d.value for d in at.dataframe if "编辑人" in d.value.columns)
    assert hist.iloc[0]["编辑人"] == "李四"
    at.button(key="ws_undo").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert int(store.read("shelters").set_index("fid").loc[fid, "capacity"]) == cap


def test_web_map_choice_kept_in_the_database(store):
    """Issue 10: the GCJ-02 / BD-09 choice goes with the workspace, in PostGIS as in a GeoPackage."""
    assert store.layer_option("water_sources", "高德水源.csv") is None
    store.remember_layer_option("water_sources", "/some/folder/高德水源.csv", offset="gcj02")
    got = store.layer_option("water_sources", "高德水源.csv")
    assert got["offset"] == "gcj02" and got["time"][:2] == "20"
    store.remember_layer_option("water_sources", "高德水源.csv", offset=None)
    assert store.layer_option("water_sources", "高德水源.csv")["offset"] == "none"
    assert store.layer_option("cameras", "高德水源.csv") is None
