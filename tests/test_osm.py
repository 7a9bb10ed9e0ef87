"""OpenStreetMap import: a tiny OSM XML county with golden numbers, bad input, the CLI, and the real Andorra extract."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from affine import Affine

from layers.errors import LayerError
from layers.osm import import_osm, osm_layers, parse_bbox
from layers.osm.estimates import PERSONS_PER_HOUSEHOLD

ROOT = Path(__file__).resolve().parents[1]
#: real data: ../shared/realdata beside the repo (GIS_REALDATA names another place, e.g. from a git worktree)
ANDORRA = Path(os.environ.get("GIS_REALDATA") or ROOT.parent / "shared" / "realdata") / "andorra"
LON0, LAT0 = 119.00, 28.00
M = 1 / 111_320            # about a metre in degrees (latitude)


class _Osm:
    """A little OSM XML writer: nodes, ways, relations with tags."""

    def __init__(self):
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.rels: list[str] = []
        self._id = 0

    def _next(self) -> int:
        self._id += 1
        return self._id

    @staticmethod
    def _tags(tags: dict) -> str:
        return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())

    def node(self, lon: float, lat: float, **tags) -> int:
        i = self._next()
        self.nodes.append(f'<node id="{i}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{self._tags(tags)}</node>')
        return i

    def way(self, coords: list[tuple[float, float]], closed: bool = False, **tags) -> int:
        ids = [self.node(x, y) for x, y in coords]
        if closed:
            ids.append(ids[0])
        i = self._next()
        refs = "".join(f'<nd ref="{n}"/>' for n in ids)
        self.ways.append(f'<way id="{i}" version="1">{refs}{self._tags(tags)}</way>')
        return i

    def rect(self, lon: float, lat: float, w_m: float, h_m: float, **tags) -> int:
        dx, dy = w_m * M / math.cos(math.radians(lat)), h_m * M
        return self.way([(lon, lat), (lon + dx, lat), (lon + dx, lat + dy), (lon, lat + dy)], closed=True, **tags)

    def relation(self, outer: int, **tags) -> int:
        i = self._next()
        self.rels.append(f'<relation id="{i}" version="1"><member type="way" ref="{outer}" role="outer"/>'
                         f'{self._tags(tags)}</relation>')
        return i

    def write(self, path: Path) -> Path:
        body = "\n".join(self.nodes + self.ways + self.rels)
        head = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">'
        path.write_text(f"{head}\n{body}\n</osm>\n", encoding="utf-8")
        return path


def _county(tmp_path: Path) -> Path:
    o = _Osm()
    # two townships side by side, 3 km x 3 km each
    d = 3000 * M
    for k, name in enumerate(("甲镇", "乙乡")):
        x0 = LON0 + k * d / math.cos(math.radians(LAT0))
        outer = o.way([(x0, LAT0), (x0 + d / math.cos(math.radians(LAT0)), LAT0),
                       (x0 + d / math.cos(math.radians(LAT0)), LAT0 + d), (x0, LAT0 + d)], closed=True)
        o.relation(outer, type="boundary", boundary="administrative", admin_level="8", name=name,
                   **{"ref:admin:CN": f"33990110{k + 1}"})
    # a village with a population tag, a hamlet with four houses and a shed
    o.node(LON0 + 0.005, LAT0 + 0.010, place="village", name="上坪村", population="500")
    hx, hy = LON0 + 0.040, LAT0 + 0.010
    o.node(hx, hy, place="hamlet", name="下坪")
    for i in range(4):
        o.rect(hx + (i + 1) * 30 * M, hy, 10, 10, building="house")
    o.rect(hx - 60 * M, hy, 10, 10, building="shed")
    # a two-storey school, 40 m x 50 m, in the village
    o.rect(LON0 + 0.006, LAT0 + 0.011, 40, 50, building="school", amenity="school", name="上坪小学",
           **{"building:levels": "2"})
    # roads as OpenStreetMap has them
    for k, hw in enumerate(("service", "footway", "primary_link", "construction")):
        o.way([(LON0 + 0.001, LAT0 + 0.002 + k * 0.002), (LON0 + 0.050, LAT0 + 0.002 + k * 0.002)], highway=hw)
    o.way([(LON0 + 0.001, LAT0 + 0.020), (LON0 + 0.060, LAT0 + 0.022)], waterway="stream", name="大溪")
    # a pond, a hydrant, a spring; a conifer forest
    o.rect(LON0 + 0.020, LAT0 + 0.015, 100, 80, natural="water")
    o.node(LON0 + 0.007, LAT0 + 0.012, emergency="fire_hydrant")
    o.node(LON0 + 0.045, LAT0 + 0.020, natural="spring")
    o.rect(LON0 + 0.010, LAT0 + 0.018, 800, 600, landuse="forest", leaf_type="needleleaved")
    return o.write(tmp_path / "county.osm")


def _dem(path: Path, bounds=(LON0 - 0.01, LAT0 - 0.01, LON0 + 0.08, LAT0 + 0.04)) -> Path:
    w, s, e, n = bounds
    res = 0.0005
    cols, rows = int(round((e - w) / res)), int(round((n - s) / res))
    z = (100 + np.add.outer(np.arange(rows), np.arange(cols))).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(res, 0, w, 0, -res, n), nodata=-9999) as dst:
        dst.write(z, 1)
    return path


def _dem_asc(path: Path, crs: str | None = None, cell: float = 50.0) -> Path:
    """The county's DEM as an ArcInfo ASCII grid in CGCS2000 3° Gauss-Kruger CM 120E metres (EPSG:4549, no zone
    number in the eastings: the numbers alone do not tell the CRS); ``crs``: the .prj beside it says this one."""
    import pyproj

    w, s, e, n = pyproj.Transformer.from_crs(4490, 4549, always_xy=True).transform_bounds(
        LON0 - 0.01, LAT0 - 0.01, LON0 + 0.08, LAT0 + 0.04)
    cols, rows = int((e - w) // cell) + 1, int((n - s) // cell) + 1
    z = (100 + np.add.outer(np.arange(rows), np.arange(cols))).astype("float32")
    with rasterio.open(path, "w", driver="AAIGrid", width=cols, height=rows, count=1, dtype="float32",
                       crs=crs, transform=Affine(cell, 0, w, 0, -cell, n)) as dst:
        dst.write(z, 1)
    if crs is None:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def test_layers_golden(tmp_path):
    r = osm_layers(_county(tmp_path))
    assert r.counts == {"boundaries": 2, "villages": 2, "grids": 2, "buildings": 6, "shelters": 1,
                        "water_sources": 3, "roads": 3, "rivers": 1, "forest": 1}
    v = r.layers["villages"].set_index("name")
    assert v.loc["上坪村", "population"] == 500 and v.loc["上坪村", "households"] == round(500 / PERSONS_PER_HOUSEHOLD)
    assert v.loc["下坪", "households"] == 4 and v.loc["下坪", "population"] == round(4 * PERSONS_PER_HOUSEHOLD)
    assert v.loc["下坪", "estimated"] == "population,households" and "estimate" in v.loc["下坪", "remark"]
    assert v.loc["上坪村", "township"] == "甲镇" and v.loc["下坪", "township"] == "乙乡"
    s = r.layers["shelters"].iloc[0]
    assert s["name"] == "上坪小学" and s["type"] == "school"
    assert s["area"] == pytest.approx(2 * 40 * 50, rel=0.02)                # two floors of 2,000 m²
    assert s["capacity"] == pytest.approx(2 * 40 * 50 / 2, rel=0.02) and s["estimated"] == "capacity"
    roads = r.layers["roads"].sort_values("class_raw")
    assert roads["class_raw"].tolist() == ["footway", "primary_link", "service"]
    assert roads["road_class"].tolist() == ["track", "provincial", "village"]
    w = r.layers["water_sources"]
    assert sorted(w["type"]) == ["hydrant", "pond", "tank"]
    assert w.loc[w["type"] == "pond", "area"].iloc[0] == pytest.approx(8000, rel=0.02)
    assert r.layers["forest"]["forest_type"].tolist() == ["conifer"]
    b = r.layers["boundaries"].sort_values("code")
    assert b["name"].tolist() == ["甲镇", "乙乡"] and set(b["level"]) == {"township"}
    assert b["code"].tolist() == ["339901101", "339901102"]
    g = r.layers["grids"]
    assert set(g["level"]) == {"village"} and g["population"].sum() == v["population"].sum()
    assert g["remark"].str.contains("generated").all()
    blds = r.layers["buildings"]
    assert blds["households"].sum() == 4               # the four houses; neither the shed nor the school is a home
    codes = [n.code for n in r.notes]
    assert {"osm_villages", "osm_shelters", "osm_grids", "osm_no_cameras", "osm_no_dem", "osm_springs"} <= set(codes)


def test_cli_writes_workspace_and_json(tmp_path):
    osm, dem = _county(tmp_path), _dem(tmp_path / "dem.tif")
    out = tmp_path / "ws"
    p = subprocess.run([sys.executable, "-m", "gis", "osm", "--osm", str(osm), "--dem", str(dem), "--out", str(out),
                        "--json", "--lang", "en"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["counts"]["villages"] == 2 and summary["counts"]["roads"] == 3 and summary["counts"]["dem"] > 0
    assert any("estimated" in n for n in summary["notes"])
    layers = {name for name, _ in pyogrio.list_layers(out / "workspace.gpkg")}
    assert {"boundaries", "villages", "grids", "buildings", "shelters", "water_sources", "roads", "rivers",
            "forest"} <= layers
    with rasterio.open(out / "dem.tif") as src:    # cut to the file's extent (within the DEM) plus two cells
        assert src.bounds.left < LON0 + 0.002 and src.bounds.right < LON0 + 0.08
    from layers.workspace import Workspace

    ws = Workspace(out)
    assert [h.note for h in ws.history()][-1].startswith("OpenStreetMap")
    assert ws.vector("villages")["population"].sum() == 510


@pytest.mark.parametrize("case", ["not_osm", "bbox_outside", "dem_short", "bad_bbox", "out_taken", "crs_and_prj",
                                  "towgs84_length", "towgs84_not_old_datum", "crs_without_dem", "dem_without_crs"])
def test_bad_input_exit_2_nothing_written(tmp_path, capsys, case):
    """In process (``gis.cli.main``, the same path as ``python -m gis``; the process itself is tested above)."""
    from gis.cli import main

    osm = _county(tmp_path)
    out = tmp_path / "ws"
    args = ["--osm", str(osm), "--out", str(out)]
    if case == "not_osm":
        fake = tmp_path / "fake.osm"
        fake.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
        args = ["--osm", str(fake), "--out", str(out)]
    elif case == "bbox_outside":
        args += ["--bbox", "100,20,100.1,20.1"]
    elif case == "dem_short":
        args += ["--dem", str(_dem(tmp_path / "small.tif", (LON0, LAT0, LON0 + 0.01, LAT0 + 0.01))),
                 "--bbox", f"{LON0},{LAT0},{LON0 + 0.05},{LAT0 + 0.03}"]
    elif case == "bad_bbox":
        args += ["--bbox", "119.1,28,119,28.1"]
    elif case == "crs_and_prj":            # the .prj says WGS84 lon/lat, --crs says Beijing 1954 zone 40
        args += ["--dem", str(_dem_asc(tmp_path / "dem.asc", "EPSG:4549")), "--crs", "EPSG:2437"]
    elif case == "towgs84_length":
        args += ["--dem", str(_dem(tmp_path / "dem.tif")), "--towgs84", "15.8,-154.4"]
    elif case == "towgs84_not_old_datum":  # the DEM is WGS84: nothing to apply the parameters to
        args += ["--dem", str(_dem(tmp_path / "dem.tif")), "--towgs84", "15.8,-154.4,-82.3"]
    elif case == "crs_without_dem":
        args += ["--crs", "EPSG:4549"]
    elif case == "dem_without_crs":        # metres without a .prj and without a zone number
        args += ["--dem", str(_dem_asc(tmp_path / "dem.asc"))]
    else:
        out.mkdir()
        (out / "keep.txt").write_text("x")
    status = main(["osm", *args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err) and any(ch.isascii() and ch.isalpha() for ch in err)
    flags = {"crs_and_prj": "--crs-override", "towgs84_length": "3 or 7", "towgs84_not_old_datum": "Beijing 1954",
             "crs_without_dem": "--dem", "dem_without_crs": "--crs"}
    assert flags.get(case, "") in err
    if case == "out_taken":
        assert sorted(x.name for x in out.iterdir()) == ["keep.txt"]
    else:
        assert not out.exists()
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".osm-")]   # no staging folder left


def test_cli_dem_crs_options(tmp_path, capsys):
    """--crs for DEM tiles without one (an .asc without its .prj), --crs-override over a wrong .prj: the DEM is
    read in that CRS, cut to the area and kept in it; the import says which CRS it read."""
    from gis.cli import main

    osm = _county(tmp_path)
    dem = _dem_asc(tmp_path / "dem.asc")
    assert main(["osm", "--osm", str(osm), "--dem", str(dem), "--out", str(tmp_path / "ws"), "--crs", "EPSG:4549",
                 "--json", "--lang", "en"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["dem"] > 0 and summary["counts"]["villages"] == 2
    assert any("EPSG:4549" in n for n in summary["notes"])
    with rasterio.open(tmp_path / "ws" / "dem.tif") as src:
        assert src.crs.to_epsg() == 4549 and src.res == (50.0, 50.0)
    wrong = _dem_asc(tmp_path / "wrong.asc", "EPSG:4326")      # a .prj that does not fit the numbers
    assert main(["osm", "--osm", str(osm), "--dem", str(wrong), "--out", str(tmp_path / "ws2"), "--crs", "EPSG:4549",
                 "--crs-override", "--json"]) == 0
    capsys.readouterr()
    with rasterio.open(tmp_path / "ws2" / "dem.tif") as src:
        assert src.crs.to_epsg() == 4549


def test_parse_bbox():
    assert parse_bbox("1.4, 42.42，1.8,42.66") == (1.4, 42.42, 1.8, 42.66)
    assert parse_bbox("") is None and parse_bbox(None) is None
    with pytest.raises(LayerError):
        parse_bbox("1,2,3")


def test_workspace_of_an_import_feeds_the_tables(tmp_path):
    """The township outlines of an import drive the per-township tables (gis.townships / gis.tallies)."""
    from gis.tallies import township_people
    from gis.townships import township_outlines

    out = tmp_path / "ws"
    import_osm(_county(tmp_path), out)
    from layers.workspace import Workspace

    ws = Workspace(out)
    layers = {k: ws.vector(k) for k in ws.vector_kinds()}
    o = township_outlines(layers)
    assert o.from_boundaries and o.names == ["乙乡", "甲镇"]
    t = township_people(layers["grids"], layers["shelters"], outlines=o.gdf)
    assert t.loc["甲镇", "population"] == 500 and t.loc["甲镇", "shelters"] == 1
    assert t.loc["乙乡", "population"] == 10
    # the plan's inputs (python -m gis plan) take each grid's and shelter's township from the same outlines
    from gis.flood.scenario import FloodInputs

    inputs = FloodInputs.from_workspace(ws)
    assert set(inputs.layers["grids"]["township"].dropna()) <= {"乙乡", "甲镇"}
    assert set(inputs.layers["shelters"]["township"]) == {"甲镇"}
    assert inputs.notes and "boundaries" in inputs.notes[0]("en")


@pytest.mark.skipif(not (ANDORRA / "raw" / "andorra.osm.pbf").exists(),
                    reason="real data ../shared/realdata/andorra is absent (not part of the repo)")
def test_andorra_end_to_end(tmp_path):
    """The Andorra extract with its SRTM tile gives layers comparable to the prepared layer files."""
    import pandas as pd
    import rasterio.shutil

    dem = tmp_path / "N42E001.tif"    # the .hgt.zip as GeoTIFF (reading .hgt is another change's)
    rasterio.shutil.copy(f"/vsizip/{ANDORRA / 'raw' / 'N42E001.hgt.zip'}/N42E001.hgt", dem, driver="GTiff")
    bbox = (1.40, 42.42, 1.80, 42.66)
    out = tmp_path / "andorra"
    p = subprocess.run([sys.executable, "-m", "gis", "osm", "--osm", str(ANDORRA / "raw" / "andorra.osm.pbf"),
                        "--dem", str(dem), "--bbox", ",".join(map(str, bbox)), "--out", str(out), "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    counts = json.loads(p.stdout)["counts"]
    box = gpd.GeoSeries.from_xy([bbox[0], bbox[2]], [bbox[1], bbox[3]]).total_bounds

    def ref(name: str) -> gpd.GeoDataFrame:
        f = ANDORRA / "layers" / name
        if f.suffix == ".csv":
            df = pd.read_csv(f)
            g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["经度"], df["纬度"]), crs=4326)
        else:
            g = gpd.read_file(f)
        return g.cx[box[0]:box[2], box[1]:box[3]]

    for kind, name, tol in (("villages", "villages.csv", 0.1), ("roads", "roads.geojson", 0.1),
                            ("rivers", "rivers.geojson", 0.1), ("forest", "forest.geojson", 0.1),
                            ("water_sources", "water_sources.csv", 0.15), ("grids", "grids.geojson", 0.1)):
        n_ref = len(ref(name))
        assert abs(counts[kind] - n_ref) <= max(2, tol * n_ref), (kind, counts[kind], n_ref)
    assert counts["boundaries"] == 6 and counts["buildings"] >= 250
    assert 0 < counts["shelters"] <= len(ref("shelters.csv"))     # schools, halls, public buildings: no churches
    with rasterio.open(out / "dem.tif") as src:
        z = src.read(1, masked=True)
        assert 800 < float(z.min()) < 1200 and 2700 < float(z.max()) < 3000     # Andorra: 840-2942 m
    from layers.workspace import Workspace

    villages = Workspace(out).vector("villages")
    people_ref = ref("villages.csv")["人口"].sum()
    assert 0.3 * people_ref < villages["population"].sum() < 3 * people_ref
