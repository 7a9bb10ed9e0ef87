"""Tests of the synthetic demo county generator (data/generator.py).

The full county is generated once per session (``demo_county``); determinism is checked on a
reduced 400 x 400 DEM. The prefecture scale is not run here (it takes minutes).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyflwdir
import pytest
import rasterio
import shapely
from pyproj import Transformer
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from data.generator import FIELDS, generate
from layers.catalogue import CATALOGUE, GRID_LEVEL_RANK

REPO = Path(__file__).resolve().parents[1]
LAYERS = tuple(FIELDS)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def layers(demo_county) -> dict[str, gpd.GeoDataFrame]:
    out, _ = demo_county
    return {k: gpd.read_file(out / "workspace.gpkg", layer=k, engine="pyogrio") for k in LAYERS}


@pytest.fixture(scope="module")
def proj(layers) -> dict[str, gpd.GeoDataFrame]:
    """The layers in the DEM's projected CRS (EPSG:4549, metres)."""
    return {k: v.to_crs(4549) for k, v in layers.items()}


@pytest.fixture(scope="module")
def dem(demo_county):
    out, _ = demo_county
    with rasterio.open(out / "dem.tif") as src:
        return src.read(1), src.transform, src.profile, src.crs


@pytest.fixture(scope="module")
def hydro(dem):
    """Flow directions and upstream area (km²) recomputed from the written DEM."""
    z, transform, _, _ = dem
    flw = pyflwdir.from_dem(z, nodata=-9999.0, transform=transform, latlon=False)
    upa = flw.upstream_area(unit="km2")
    return flw, upa


def _rowcol(transform, x, y):
    r = np.floor((np.asarray(y) - transform.f) / transform.e).astype(int)
    c = np.floor((np.asarray(x) - transform.c) / transform.a).astype(int)
    return r, c


def _xy(gdf):
    return np.c_[gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()]


# ---- DEM -------------------------------------------------------------------------------------
def test_dem_format(dem):
    z, transform, profile, crs = dem
    assert z.shape == (1600, 1600)
    assert z.dtype == np.float32
    assert profile["nodata"] == -9999.0
    assert crs.to_epsg() == 4549
    assert transform.a == 30.0 and transform.e == -30.0
    assert profile["tiled"] and profile["blockxsize"] == 256
    assert profile["compress"] == "deflate"
    assert not np.any(z == -9999.0)
    assert 150 <= z.min() <= 300 and 1400 <= z.max() <= 1700
    # centred on about 119.6E 28.4N
    cx = transform.c + transform.a * z.shape[1] / 2
    cy = transform.f + transform.e * z.shape[0] / 2
    lon, lat = Transformer.from_crs(4549, 4490, always_xy=True).transform(cx, cy)
    assert abs(lon - 119.6) < 0.05 and abs(lat - 28.4) < 0.05


def test_dem_is_mountainous(dem):
    z, *_ = dem
    gy, gx = np.gradient(z.astype(np.float64), 30.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    assert 15 < slope.mean() < 35
    assert np.percentile(z, 95) - np.percentile(z, 5) > 600


def test_dem_drains_to_the_edge(dem, hydro):
    z, *_ = dem
    # no depressions: filling changes nothing
    filled, _ = pyflwdir.dem.fill_depressions(z.copy(), outlets="edge", nodata=-9999.0)
    assert np.array_equal(filled, z)
    # every pit (end of every flow path) is on the map edge
    flw, _ = hydro
    r, c = np.unravel_index(flw.idxs_pit, z.shape)
    on_edge = (r == 0) | (c == 0) | (r == z.shape[0] - 1) | (c == z.shape[1] - 1)
    assert on_edge.all()


def test_rivers_follow_valleys(dem, proj, hydro):
    z, transform, *_ = dem
    _, upa = hydro
    xy = shapely.get_coordinates(proj["rivers"].geometry.to_numpy())
    r, c = _rowcol(transform, xy[:, 0], xy[:, 1])
    assert ((r >= 0) & (r < z.shape[0]) & (c >= 0) & (c < z.shape[1])).all()
    mean_1km = ndimage.uniform_filter(z.astype(np.float64), size=33, mode="nearest")
    below = z[r, c] < mean_1km[r, c]
    assert below.mean() > 0.97
    assert np.mean(mean_1km[r, c] - z[r, c]) > 50
    # river vertices are stream cells of the DEM's own flow network
    assert np.mean(upa[r, c] >= 0.9) > 0.99


# ---- layers and fields -----------------------------------------------------------------------
def test_layers_have_catalogue_fields(demo_county, layers):
    out, _ = demo_county
    import pyogrio

    names = {row[0] for row in pyogrio.list_layers(out / "workspace.gpkg")}
    assert names == set(LAYERS)
    geom = {"boundaries": "Polygon", "villages": "Point", "grids": "Polygon", "shelters": "Point", "depots": "Point",
            "water_sources": "Point", "cameras": "Point", "roads": "LineString", "rivers": "LineString",
            "forest": "Polygon", "buildings": "Point"}
    for kind, gdf in layers.items():
        spec = CATALOGUE[kind]
        canon = {f.name: f for f in spec.fields}
        assert gdf.crs.to_epsg() == 4490, kind
        assert set(gdf.columns) - {"geometry"} == set(FIELDS[kind]), kind
        assert set(FIELDS[kind]) <= set(canon), kind
        assert set(gdf.geom_type) == {geom[kind]}, kind
        assert gdf.geometry.is_valid.all(), kind
        for name in FIELDS[kind]:
            f = canon[name]
            col = gdf[name]
            if f.required or f.type in ("str", "choice", "int", "bool"):
                assert col.notna().all(), (kind, name)
            if f.type == "choice":
                assert set(col) <= set(f.choices), (kind, name, set(col) - set(f.choices))
            if f.type in ("int", "float") and f.minimum is not None:
                assert (col.dropna() >= f.minimum).all(), (kind, name)
            if f.type in ("int", "float") and f.maximum is not None:
                assert (col.dropna() <= f.maximum).all(), (kind, name)


def test_names_are_chinese(layers):
    for kind in ("villages", "grids", "shelters", "water_sources", "cameras", "roads", "rivers"):
        assert layers[kind]["name"].map(lambda s: bool(CJK.search(s))).all(), kind
    for kind in ("villages", "grids", "shelters"):
        assert layers[kind]["responsible"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all(), kind
        assert layers[kind]["phone"].str.fullmatch(r"1[358]\d{9}").all(), kind
    assert layers["forest"]["township"].map(lambda s: bool(CJK.search(s))).all()


def test_counts(demo_county, layers):
    _, summary = demo_county
    g = layers["grids"]
    assert 1800 <= len(g) <= 2200
    assert (g["level"] == "county").sum() == 1
    assert 10 <= (g["level"] == "township").sum() <= 14
    assert 40 <= len(layers["shelters"]) <= 80
    assert 300 <= len(layers["water_sources"]) <= 420
    assert 30 <= len(layers["cameras"]) <= 60
    assert 100 <= len(layers["forest"]) <= 5000
    assert len(layers["villages"]) == (g["level"] == "village").sum()
    assert summary["counts"] == {k: len(v) for k, v in layers.items()}
    tw = g.loc[g["level"] == "township", "name"]
    assert tw.is_unique
    assert layers["villages"]["name"].is_unique
    assert layers["shelters"]["name"].is_unique
    assert layers["villages"]["village_id"].is_unique


def test_summary_is_json(demo_county):
    _, summary = demo_county
    text = json.dumps(summary, ensure_ascii=False)
    back = json.loads(text)
    assert back["scale"] == "county"
    assert back["dem_shape"] == [1600, 1600]
    assert back["counts"]["grids"] == back["grids_by_level"]["county"] + back["grids_by_level"]["township"] \
        + back["grids_by_level"]["village"] + back["grids_by_level"]["group"] + back["grids_by_level"]["household"]
    lon0, lat0, lon1, lat1 = back["extent_lonlat"]
    assert 119.2 < lon0 < 119.6 < lon1 < 120.0 and 28.0 < lat0 < 28.4 < lat1 < 28.8


# ---- transfer grids --------------------------------------------------------------------------
def test_grid_hierarchy(proj):
    g = proj["grids"].set_index("grid_id", drop=False)
    assert g.index.is_unique
    top = g["level"] == "county"
    assert (g.loc[top, "parent_id"] == "").all()
    child = g[~top]
    assert child["parent_id"].isin(g.index).all()
    parent = g.loc[child["parent_id"]]
    rank = child["level"].map(GRID_LEVEL_RANK).to_numpy()
    assert np.array_equal(parent["level"].map(GRID_LEVEL_RANK).to_numpy(), rank - 1)
    # each child lies inside its parent
    cg = child.geometry.to_numpy()
    pg = parent.geometry.to_numpy()
    outside = shapely.area(shapely.difference(cg, pg))
    assert (outside <= 1e-6 * shapely.area(cg) + 1.0).all()
    # same township / village names as the parent where the parent has them
    sub = child["level"].isin(["village", "group", "household"]).to_numpy()
    assert np.array_equal(child["township"].to_numpy()[sub], parent["township"].to_numpy()[sub])
    sub = child["level"].isin(["group", "household"]).to_numpy()
    assert np.array_equal(child["village"].to_numpy()[sub], parent["village"].to_numpy()[sub])


def test_grid_totals_add_up(proj):
    g = proj["grids"].set_index("grid_id", drop=False)
    cols = ["households", "population", "vulnerable"]
    sums = g[g["level"] != "county"].groupby("parent_id")[cols].sum()
    parents = g.loc[sums.index, cols]
    assert (sums.to_numpy() == parents.to_numpy()).all()
    leaf = ~g["grid_id"].isin(g["parent_id"])
    assert set(g.loc[leaf, "level"]) <= {"group", "household"}
    assert (g.loc[leaf, "households"] >= 1).all()
    assert (g.loc[leaf, "population"] >= g.loc[leaf, "households"]).all()
    assert (g["vulnerable"] <= g["population"]).all()
    top = g[g["level"] == "county"].iloc[0]
    assert top["population"] == g.loc[leaf, "population"].sum()
    assert 0.10 <= top["vulnerable"] / top["population"] <= 0.20
    assert 2.5 <= top["population"] / top["households"] <= 4.5
    # leaves are small areas around settlements and each has a shelter; other grids have none
    assert (g.loc[leaf].geometry.area < 0.6e6).all()
    assert (g.loc[leaf, "shelter"] != "").all() and (g.loc[~leaf, "shelter"] == "").all()


def test_grid_shelters_exist_in_township(proj):
    g = proj["grids"]
    s = proj["shelters"]
    leaf = g[g["shelter"] != ""]
    key = dict(zip(s["name"], s["township"]))
    assert leaf["shelter"].isin(s["name"]).all()
    assert (leaf["shelter"].map(key) == leaf["township"]).mean() > 0.99


def test_villages_match_their_grids(proj):
    v = proj["villages"].set_index("name")
    g = proj["grids"]
    vg = g[g["level"] == "village"].set_index("village")
    for col in ("population", "households", "vulnerable", "township", "responsible", "phone"):
        assert (v[col] == vg.loc[v.index, col]).all(), col
    # each village point lies in its village grid
    inside = shapely.contains(vg.loc[v.index].geometry.to_numpy(), v.geometry.to_numpy())
    assert inside.all()


def test_people_live_near_rivers(dem, proj, hydro):
    z, transform, *_ = dem
    rivers = shapely.union_all(proj["rivers"].geometry.to_numpy())
    d = shapely.distance(proj["villages"].geometry.to_numpy(), rivers)
    assert np.median(d) < 600
    g = proj["grids"]
    leaf = g[~g["grid_id"].isin(g["parent_id"])]
    d_leaf = shapely.distance(leaf.geometry.representative_point().to_numpy(), rivers)
    w = leaf["population"].to_numpy()
    assert np.average(d_leaf, weights=w) < 800


# ---- shelters --------------------------------------------------------------------------------
def test_shelters_on_higher_ground(dem, proj, hydro):
    z, transform, *_ = dem
    s = proj["shelters"]
    v = proj["villages"].set_index("name")
    rs, cs = _rowcol(transform, *_xy(s).T)
    rv, cv = _rowcol(transform, *_xy(v.loc[s["village"]]).T)
    rise = z[rs, cs] - z[rv, cv]
    assert np.mean(rise > 3.0) > 0.7
    assert np.sum(rise < 1.0) >= 1  # a few deliberately low ones
    assert (s["status"] == "available").all()
    assert ((s["area"] / s["capacity"]).between(1.5, 4.0)).all()


def test_shelter_capacity_is_interesting(dem, proj, hydro):
    """Capacity is above the people in low-lying grids overall, but short in some townships."""
    from gis.flood.hand import flwdir_hand

    z, transform, *_ = dem
    flw, upa = hydro
    hand = flwdir_hand(flw, upa >= 1.0, z)    # flw.hand(drain=..., elevtn=...), compiled: the same numbers
    g = proj["grids"]
    leaf = g[~g["grid_id"].isin(g["parent_id"])]
    pts = leaf.geometry.representative_point()
    r, c = _rowcol(transform, pts.x.to_numpy(), pts.y.to_numpy())
    low = leaf.assign(low=np.where(hand[r, c] < 8.0, leaf["population"], 0)).groupby("township")["low"].sum()
    cap = proj["shelters"].groupby("township")["capacity"].sum()
    assert cap.sum() > low.sum()
    ratio = (cap.reindex(low.index).fillna(0) / low.clip(lower=1))[low > 100]
    assert (ratio < 0.95).sum() >= 1
    assert (ratio > 1.1).sum() >= len(ratio) // 2


# ---- roads -----------------------------------------------------------------------------------
def _road_graph(roads: gpd.GeoDataFrame) -> tuple[int, np.ndarray]:
    coords, idx = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    key = np.round(coords, 3)
    _, node = np.unique(key, axis=0, return_inverse=True)
    node = node.ravel()
    same = idx[1:] == idx[:-1]
    a, b = node[:-1][same], node[1:][same]
    n = int(node.max()) + 1
    g = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    k, _ = csgraph.connected_components(g, directed=False)
    return k, np.c_[a, b]


def test_roads_connected_and_reach_everyone(proj):
    roads = proj["roads"]
    k, edges = _road_graph(roads)
    assert k == 1
    assert len(edges) > 5000
    net = shapely.union_all(roads.geometry.to_numpy())
    for kind in ("villages", "shelters"):
        d = shapely.distance(proj[kind].geometry.to_numpy(), net)
        assert d.max() < 100.0, kind
    assert set(roads["road_class"]) == {"county", "township", "village"}
    speed = roads.groupby("road_class")["speed"].first()
    assert speed["county"] > speed["township"] > speed["village"]


def test_roads_avoid_steep_ground(dem, proj):
    z, transform, *_ = dem
    gy, gx = np.gradient(z.astype(np.float64), 30.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    pts = shapely.get_coordinates(proj["roads"].geometry.to_numpy())
    r, c = _rowcol(transform, pts[:, 0], pts[:, 1])
    assert np.median(slope[r, c]) < 0.75 * np.median(slope)


# ---- water sources, cameras, forest ----------------------------------------------------------
def test_water_sources(dem, proj, hydro):
    z, transform, *_ = dem
    _, upa = hydro
    w = proj["water_sources"]
    assert set(w["type"]) == {"reservoir", "pond", "cistern", "tank", "river_intake", "hydrant"}
    vol = w.groupby("type")["volume"]
    assert vol.min()["reservoir"] >= 1e5 and vol.max()["reservoir"] <= 1e7
    assert vol.min()["pond"] >= 500 and vol.max()["pond"] <= 2e4
    assert vol.min()["cistern"] >= 20 and vol.max()["cistern"] <= 100
    assert vol.min()["tank"] >= 5 and vol.max()["tank"] <= 50
    assert w.loc[w["type"] == "hydrant", "volume"].isna().all()
    assert w.loc[w["type"] == "reservoir", "helicopter"].all()
    assert not w.loc[w["type"].isin(["cistern", "tank", "hydrant"]), "helicopter"].any()
    assert w.loc[w["type"] == "hydrant", "vehicle_access"].all()
    assert w.loc[w["type"] == "pond", "seasonal"].mean() > 0.2
    assert w["source_id"].is_unique
    # river intakes on stream cells; cisterns and tanks in the forest
    ri = w[w["type"] == "river_intake"]
    r, c = _rowcol(transform, *_xy(ri).T)
    assert (upa[r, c] >= 0.9).all()
    ct = w[w["type"].isin(["cistern", "tank"])]
    tree = shapely.STRtree(proj["forest"].geometry.to_numpy())
    hit = tree.query(ct.geometry.to_numpy(), predicate="within")
    assert len(np.unique(hit[0])) >= 0.95 * len(ct)
    # vehicle access means near a road
    net = shapely.union_all(proj["roads"].geometry.to_numpy())
    d = shapely.distance(w.geometry.to_numpy(), net)
    assert (d[w["vehicle_access"].to_numpy() & (w["type"] != "hydrant").to_numpy()] < 250).all()


def test_cameras_on_peaks(dem, proj):
    z, transform, *_ = dem
    cam = proj["cameras"]
    r, c = _rowcol(transform, *_xy(cam).T)
    mx = ndimage.maximum_filter(z, size=3, mode="nearest")
    assert (z[r, c] >= mx[r, c]).all()
    assert np.median(z[r, c]) > np.percentile(z, 60)
    assert cam["height"].between(10, 40).all()
    assert cam.loc[cam["type"] == "lookout", "height"].between(15, 25).all()
    assert cam["range"].between(3000, 10000).all()
    directional = cam["azimuth"].notna()
    assert 0 < directional.sum() < 0.5 * len(cam)
    assert cam.loc[directional, "fov"].between(90, 120).all()
    assert cam.loc[~directional, "fov"].isna().all()


def test_forest_avoids_villages(proj):
    tree = shapely.STRtree(proj["forest"].geometry.to_numpy())
    for kind in ("villages", "shelters"):
        hit = tree.query(proj[kind].geometry.to_numpy(), predicate="intersects")
        assert hit.shape[1] == 0, kind
    f = proj["forest"]
    assert set(f["forest_type"]) == {"conifer", "broadleaf", "mixed", "bamboo", "shrub"}
    county = proj["grids"].loc[proj["grids"]["level"] == "county"].geometry.iloc[0]
    share = f.geometry.area.sum() / county.area
    assert 0.5 < share < 0.95
    assert f["compartment"].str.fullmatch(r"\d{3}").all()


# ---- determinism and command line ------------------------------------------------------------
def _digest(out: Path) -> tuple[str, pd.DataFrame]:
    with rasterio.open(out / "dem.tif") as src:
        h = hashlib.sha256(src.read(1).tobytes()).hexdigest()
    g = gpd.read_file(out / "workspace.gpkg", layer="grids", engine="pyogrio")
    g["wkb"] = g.geometry.to_wkb()
    return h, pd.DataFrame(g.drop(columns="geometry"))


def test_same_seed_same_output(tmp_path):
    a = generate(tmp_path / "a", seed=7, _size=400)
    b = generate(tmp_path / "b", seed=7, _size=400)
    c = generate(tmp_path / "c", seed=8, _size=400)
    ha, ga = _digest(tmp_path / "a")
    hb, gb = _digest(tmp_path / "b")
    hc, _ = _digest(tmp_path / "c")
    assert ha == hb and ha != hc
    pd.testing.assert_frame_equal(ga, gb)
    drop = ("seconds", "gpkg", "dem")
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    assert c["counts"]["grids"] > 0


def test_size_override_is_validated(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, _size=401)
    with pytest.raises(ValueError):
        generate(tmp_path, scale="city")


def test_cli_demo_prints_json(tmp_path, demo_county):
    """The command line writes the demo; a fresh process gives the same files as the fixture."""
    fixture_out, summary = demo_county
    proc = subprocess.run([sys.executable, "-m", "gis", "demo", "--out", str(tmp_path), "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (tmp_path / "workspace.gpkg").exists() and (tmp_path / "dem.tif").exists()
    # same default seed as the fixture: same counts and totals
    for key in ("counts", "grids_by_level", "population", "households", "shelter_capacity", "road_segments"):
        assert out[key] == summary[key], key
    h_cli, g_cli = _digest(tmp_path)
    h_fix, g_fix = _digest(fixture_out)
    assert h_cli == h_fix
    pd.testing.assert_frame_equal(g_cli, g_fix)


def test_cli_demo_bad_arguments_exit_2_without_traceback(tmp_path):
    from gis.cli import main

    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["demo", "--out", str(a_file)]) == 2
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(tmp_path / "d"), "--seed", "-1"])
    assert info.value.code == 2
    assert not (tmp_path / "d").exists()


def test_geopackage_bytes_do_not_depend_on_the_clock(tmp_path, monkeypatch):
    import hashlib
    import time

    import shapely

    from data import generator

    layers = {"villages": gpd.GeoDataFrame({"name": ["甲"]}, geometry=[shapely.Point(118.5, 28.3)], crs=4490)}
    digests = []
    for k in range(2):
        generator._write_gpkg(tmp_path / f"w{k}.gpkg", layers)
        digests.append(hashlib.sha256((tmp_path / f"w{k}.gpkg").read_bytes()).hexdigest())
        time.sleep(1.1)      # GDAL stamps gpkg_contents.last_change to the second
    assert digests[0] == digests[1]
