"""The workspace folder: create, list, remember, archive; the ``import``/``export`` commands; round trips.

Small synthetic layers built here; one round trip of every demo-county layer through ``replace``.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from layers.errors import LayerError
from layers.export import export_layer
from layers.folders import (
    create_workspace,
    export_archive,
    import_archive,
    last_workspace,
    list_workspaces,
    open_workspace,
    workspace_dir,
)
from layers.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
X0, Y0 = 119.60, 28.40

pytestmark = pytest.mark.timeout(300)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shelters() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"名称": ["城关小学", "村委会", "体育馆"], "容纳人数": ["300人", "80", "1,200"],
                             "类型": ["学校", "村委会", "体育馆"], "状态": ["可用", "停用", "可用"]},
                            geometry=[Point(X0, Y0), Point(X0 + 0.02, Y0), Point(X0 + 0.03, Y0 + 0.01)], crs=4490)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gis", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


# ---- workspaces in the data folder -------------------------------------------------------------
def test_create_list_remember_and_open(tmp_path):
    assert list_workspaces(tmp_path) == [] and last_workspace(tmp_path) is None
    ws = create_workspace("县应急局", tmp_path)
    assert ws.gpkg == tmp_path / "县应急局" / "workspace.gpkg"
    assert ws.vector_kinds() == [] and ws.history() == []
    create_workspace("乡镇 2026", tmp_path)
    assert list_workspaces(tmp_path) == ["乡镇 2026", "县应急局"]
    assert last_workspace(tmp_path) == "乡镇 2026"
    open_workspace("县应急局", tmp_path)
    assert last_workspace(tmp_path) == "县应急局"
    with pytest.raises(LayerError, match="已存在"):
        create_workspace("县应急局", tmp_path)
    for bad in ("../etc", "a/b", "", ".."):
        with pytest.raises(LayerError, match="名称不可用"):
            workspace_dir(bad, tmp_path)


def test_a_new_workspace_takes_layers_and_gdal_reads_them_back(tmp_path):
    ws = create_workspace("新建", tmp_path)
    from layers.catalogue import spec
    from layers.validate import validate

    raw = _shelters().assign(_row=[2, 3, 4])
    gdf, _ = validate(raw, spec("shelters"), source="s.xlsx")
    ws.replace("shelters", gdf, note="导入", user="alice")
    back = pyogrio.read_dataframe(ws.gpkg, layer="shelters")
    assert list(back["name"]) == ["城关小学", "村委会", "体育馆"]
    assert list(back["capacity"]) == [300, 80, 1200] and list(back["status"]) == ["available", "unavailable",
                                                                                  "available"]
    info = pyogrio.read_info(ws.gpkg, layer="shelters")
    assert info["crs"] == "EPSG:4490" and info["geometry_type"] == "Point" and info["features"] == 3
    assert back.geometry.x.tolist() == pytest.approx([X0, X0 + 0.02, X0 + 0.03], abs=1e-9)


def test_archive_round_trip_and_hostile_members(tmp_path):
    src = create_workspace("甲", tmp_path)
    grids = gpd.GeoDataFrame({"grid_id": ["G1"], "level": ["village"]}, geometry=[box(X0, Y0, X0 + .01, Y0 + .01)],
                             crs=4490)
    src.replace("grids", grids, note="n", user="u")
    (src.folder / "dem.tif").write_bytes(b"not really a tiff")   # rasters travel beside the GeoPackage
    data = export_archive(src)
    arc = tmp_path / "甲.zip"
    arc.write_bytes(data)
    with zipfile.ZipFile(arc) as zf:
        assert sorted(zf.namelist()) == ["dem.tif", "workspace.gpkg"]
    copy = import_archive(arc, "乙", tmp_path)
    assert copy.vector("grids")["grid_id"].tolist() == ["G1"]
    assert copy.history()[0].note == "n" and (copy.folder / "dem.tif").exists()
    # members with paths that escape, or unknown files, are never written by their names
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "x")
        zf.writestr("sub/../../workspace.gpkg", src.gpkg.read_bytes())
    w = import_archive(evil, "丙", tmp_path)
    assert w.vector_kinds() == ["grids"]
    assert not (tmp_path.parent / "escape.txt").exists() and not any(tmp_path.rglob("escape.txt"))
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("workspace.gpkg", b"garbage" * 100)
    with pytest.raises(LayerError, match="不是有效的 GeoPackage"):
        import_archive(junk, "丁", tmp_path)
    assert "丁" not in list_workspaces(tmp_path) and not (tmp_path / "丁").exists()


# ---- round trip of every demo layer ------------------------------------------------------------------
def test_every_demo_layer_round_trips_through_replace(demo_workspace, tmp_path):
    demo = Workspace(demo_workspace)
    ws = Workspace(tmp_path / "copy.gpkg")
    for kind in demo.vector_kinds():
        src = demo.vector(kind)
        ws.replace(kind, src, note=f"copy {kind}", user="t")
        back = ws.vector(kind)
        assert list(back.columns) == list(src.columns), kind
        assert back.crs.to_epsg() == 4490
        # the import pipeline reads an empty text as missing
        a = src.drop(columns="geometry").astype(object).where(src.notna(), None).replace({"": None})
        b = back.drop(columns="geometry").astype(object).where(back.notna(), None)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=kind)
        assert back.geometry.geom_equals_exact(src.geometry, tolerance=1e-9).all(), kind
    assert ws.vector_kinds() == demo.vector_kinds()
    assert len(ws.history()) == len(demo.vector_kinds())


# ---- command line ------------------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    out = {}
    good = _shelters()
    out["good"] = tmp_path / "shelters.geojson"
    good.to_file(out["good"])
    more = gpd.GeoDataFrame({"名称": ["礼堂"], "容纳人数": [150]}, geometry=[Point(X0 + 0.05, Y0)], crs=4490)
    out["more"] = tmp_path / "more.geojson"
    more.to_file(out["more"])
    bad = _shelters()
    bad.loc[1, "容纳人数"] = "很多"
    out["bad"] = tmp_path / "bad.geojson"
    bad.to_file(out["bad"])
    return out


def test_cli_import_creates_appends_previews_and_refuses_bad_input(tmp_path, files):
    ws = tmp_path / "ws" / "office.gpkg"
    r = _cli("import", "--workspace", str(ws), "--layer", "shelters", str(files["good"]), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["added"], out["removed"], out["changed"], out["committed"]) == (3, 0, 0, True)
    r = _cli("import", "--workspace", str(ws), "--layer", "shelters", str(files["more"]), "--append", "--preview",
             "--json")
    assert json.loads(r.stdout)["added"] == 1 and json.loads(r.stdout)["committed"] is False
    assert len(Workspace(ws).vector("shelters")) == 3
    r = _cli("import", "--workspace", str(ws), "--layer", "shelters", str(files["more"]), "--append")
    assert r.returncode == 0 and len(Workspace(ws).vector("shelters")) == 4
    ids = Workspace(ws).vector("shelters")["shelter_id"].tolist()   # made-up ids never clash
    assert ids == ["S1", "S2", "S3", "S4"]
    before = _sha(ws)
    r = _cli("import", "--workspace", str(ws), "--layer", "shelters", str(files["bad"]))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "很多" in r.stderr and "not a number" in r.stderr
    assert _sha(ws) == before
    r = _cli("import", "--workspace", str(ws), "--layer", "shelters", str(tmp_path / "missing.xlsx"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing.xlsx" in r.stderr
    assert _sha(ws) == before
    fresh = tmp_path / "never.gpkg"
    r = _cli("import", "--workspace", str(fresh), "--layer", "shelters", str(files["bad"]))
    assert r.returncode == 2 and not fresh.exists()
    r = _cli("history", "--workspace", str(ws), "--json")
    assert [e["action"] for e in json.loads(r.stdout)["entries"]] == ["append", "replace"]
    r = _cli("undo", "--workspace", str(ws), "--json")
    assert json.loads(r.stdout)["action"] == "undo" and len(Workspace(ws).vector("shelters")) == 3


@pytest.mark.parametrize("ext", ["gpkg", "geojson", "kml", "xlsx", "csv", "zip"])
def test_cli_export_every_format_reimports(tmp_path, files, ext):
    ws = tmp_path / "office.gpkg"
    assert _cli("import", "--workspace", str(ws), "--layer", "shelters", str(files["good"])).returncode == 0
    out = tmp_path / f"out.{ext}"
    r = _cli("export", "--workspace", str(ws), "--layer", "shelters", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["features"] == 3 and out.stat().st_size > 0
    from layers.load import load_layer

    back = load_layer(out, "shelters").gdf
    assert sorted(back["name"]) == sorted(["城关小学", "村委会", "体育馆"])
    assert sorted(back["capacity"].astype(int)) == [80, 300, 1200]
    assert back.geometry.x.round(5).tolist() == pytest.approx([X0, X0 + 0.02, X0 + 0.03])


def test_cli_export_refuses_an_unknown_format_and_a_missing_layer(tmp_path, files):
    ws = tmp_path / "office.gpkg"
    _cli("import", "--workspace", str(ws), "--layer", "shelters", str(files["good"]))
    r = _cli("export", "--workspace", str(ws), "--layer", "shelters", "--out", str(tmp_path / "x.docx"))
    assert r.returncode == 2 and "docx" in r.stderr and "Traceback" not in r.stderr
    r = _cli("export", "--workspace", str(ws), "--layer", "grids", "--out", str(tmp_path / "g.csv"))
    assert r.returncode == 2 and "没有" in r.stderr and "Traceback" not in r.stderr


def test_csv_export_is_excel_friendly_and_zip_holds_a_utf8_shapefile(tmp_path):
    g = gpd.GeoDataFrame({"name": ["城关小学"], "capacity": [300], "type": ["school"]}, geometry=[Point(X0, Y0)],
                         crs=4490)
    csv = export_layer(g, "shelters", "csv")
    assert csv.startswith("\ufeff".encode()) and "经度" in csv.decode("utf-8-sig").splitlines()[0]
    assert "学校" in csv.decode("utf-8-sig")
    with zipfile.ZipFile(io.BytesIO(export_layer(g, "shelters", "zip"))) as zf:
        names = sorted(zf.namelist())
        assert names == ["shelters.cpg", "shelters.dbf", "shelters.prj", "shelters.shp", "shelters.shx"]
        assert zf.read("shelters.cpg").decode().strip().upper().replace("-", "") == "UTF8"


def test_write_vector_still_replaces_a_layer_and_bumps_its_version(tmp_path):
    ws = Workspace(tmp_path / "folder")
    g = gpd.GeoDataFrame({"name": ["甲"], "capacity": [5]}, geometry=[Point(X0, Y0)], crs=4490)
    ws.write_vector("shelters", g)
    assert ws.gpkg == tmp_path / "folder" / "workspace.gpkg"
    assert ws.vector_kinds() == ["shelters"] and ws.version("shelters") == 1
    ws.write_vector("shelters", pd.concat([g, g.assign(name="乙")], ignore_index=True))
    assert ws.vector("shelters")["name"].tolist() == ["甲", "乙"] and ws.version("shelters") == 2
    assert ws.history() == []          # generated data: no history, nothing to undo
