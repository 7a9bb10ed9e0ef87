"""Static fire risk: forest mask, factor scores worked by hand, weights, levels, bad input and the CLI."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, box

from gis.fire.risk import (
    DEFAULT_WEIGHTS,
    FUEL_SCORES,
    HIGH_RISK_LEVEL,
    LEVEL_BREAKS,
    classify,
    forest_mask,
    parse_weights,
    risk_raster,
)
from layers.errors import AnalysisRefused, LayerError
from layers.raster import Raster, write_raster

X0, Y0, RES, N = 500_000.0, 3_200_000.0, 30.0, 20
CRS = "EPSG:4549"


def _dem(z: np.ndarray | None = None) -> Raster:
    z = np.full((N, N), 100.0) if z is None else z
    return Raster(z.astype(np.float64), Affine(RES, 0, X0, 0, -RES, Y0), CRS, None, name="dem.tif")


def _cell_box(r0, r1, c0, c1):
    """Polygon covering rows r0..r1-1 and cols c0..c1-1 exactly."""
    return box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)


def _forest(*parts) -> gpd.GeoDataFrame:
    """parts: (forest_type, (r0, r1, c0, c1))."""
    return gpd.GeoDataFrame({"forest_type": [t for t, _ in parts], "township": ["甲镇"] * len(parts)},
                            geometry=[_cell_box(*b) for _, b in parts], crs=CRS)


def _x(col):
    return X0 + (col + 0.5) * RES


def _y(row):
    return Y0 - (row + 0.5) * RES


def test_forest_mask_polygons_and_raster():
    m = forest_mask(_forest(("conifer", (0, N, 0, 10))), _dem())
    assert m.sum() == N * 10 and m[:, :10].all() and not m[:, 10:].any()
    lc = np.zeros((N, N), dtype=np.uint8)
    lc[5:8, 2:6] = 3
    m = forest_mask(Raster(lc, Affine(RES, 0, X0, 0, -RES, Y0), CRS, None), _dem())
    assert m.sum() == 12 and m[5:8, 2:6].all()


def test_forest_not_overlapping_is_a_clear_error():
    far = gpd.GeoDataFrame({"forest_type": ["conifer"]}, geometry=[box(0, 0, 100, 100)], crs=CRS)
    far.attrs["source"] = "forest.shp"
    with pytest.raises(AnalysisRefused) as e:     # valid inputs the analysis refuses (was LayerError)
        risk_raster(_dem(), far)
    text = str(e.value)
    assert "不重叠" in text and "does not overlap" in text and "forest.shp" in text


def test_flat_conifer_without_layers_golden_and_notes():
    # flat: slope 0 -> 0, aspect -> 0.5; fuel conifer 1; weights fuel .30, slope .15, aspect .10 renormalised
    res = risk_raster(_dem(), _forest(("conifer", (0, N, 0, 10))))
    expect = (0.30 * 1.0 + 0.15 * 0 + 0.10 * 0.5) / 0.55
    assert res.weights == pytest.approx({"fuel": 0.30 / 0.55, "slope": 0.15 / 0.55, "aspect": 0.10 / 0.55}, abs=1e-6)
    assert np.nanmax(res.score) == pytest.approx(expect, abs=1e-5)
    assert np.nanmin(res.score) == pytest.approx(expect, abs=1e-5)
    assert np.isnan(res.score[:, 10:]).all()
    assert (res.level[:, :10] == 4).all() and (res.level[:, 10:] == 0).all()   # 0.636 in [0.60, 0.75)
    assert res.level.dtype == np.uint8 and res.score.dtype == np.float32
    # notes are bilingual Text with a code (they were "zh / en" strings before the one text model)
    assert sum("dropped" in n.en for n in res.notes) == 3 and all(n.zh and n.en and n.code for n in res.notes)


def test_fuel_table_order_and_levels():
    assert FUEL_SCORES["conifer"] > FUEL_SCORES["mixed"] > FUEL_SCORES["shrub"] == FUEL_SCORES["grass"] \
        > FUEL_SCORES["bamboo"] > FUEL_SCORES["broadleaf"]
    f = _forest(("conifer", (0, 10, 0, 10)), ("broadleaf", (10, 20, 0, 10)), ("bamboo", (0, 10, 10, 20)))
    res = risk_raster(_dem(), f, weights={"fuel": 1, "slope": 0, "aspect": 0})
    assert res.weights == {"fuel": 1.0}
    assert res.score[3, 3] == pytest.approx(1.0) and res.level[3, 3] == 5
    assert res.score[15, 3] == pytest.approx(0.4) and res.level[15, 3] == 2   # [0.30, 0.45) -> 2
    assert res.score[3, 15] == pytest.approx(0.5) and res.level[3, 15] == 3
    assert res.level[15, 15] == 0


def test_slope_and_aspect_on_planes():
    # rising 20 degrees to the east: faces west (270): aspect (1 + cos(67.5)) / 2
    xx = np.arange(N) * RES
    z_east = np.tile(xx * math.tan(math.radians(20)), (N, 1)) + 100
    f = _forest(("conifer", (0, N, 0, N)))
    res = risk_raster(_dem(z_east), f, weights={"fuel": 0, "slope": 1, "aspect": 0})
    assert res.score[5:15, 5:15] == pytest.approx(20 / 35, abs=1e-4)
    res = risk_raster(_dem(z_east), f, weights={"fuel": 0, "slope": 0, "aspect": 1})
    assert res.score[5:15, 5:15] == pytest.approx((1 + math.cos(math.radians(67.5))) / 2, abs=1e-4)
    # higher to the north (row 0): faces south (180): (1 + cos(22.5)) / 2 = 0.962 -> level 5
    z_north = np.tile((N - np.arange(N))[:, None] * RES * 0.3, (1, N)) + 100
    res = risk_raster(_dem(z_north), f, weights={"fuel": 0, "slope": 0, "aspect": 1})
    assert res.score[5:15, 5:15] == pytest.approx((1 + math.cos(math.radians(22.5))) / 2, abs=1e-4)
    assert (res.level[5:15, 5:15] == 5).all()
    # 40 degrees is capped at 1
    res = risk_raster(_dem(np.tile(xx * math.tan(math.radians(40)), (N, 1))), f,
                      weights={"fuel": 0, "slope": 1, "aspect": 0})
    assert res.score[5:15, 5:15] == pytest.approx(1.0, abs=1e-5)


def test_road_distance_decay_golden():
    f = _forest(("conifer", (0, N, 0, N)))
    road = gpd.GeoDataFrame(geometry=[LineString([(_x(0), _y(0)), (_x(0), _y(N - 1))])], crs=CRS)
    res = risk_raster(_dem(), f, roads=road, weights={"fuel": 0, "slope": 0, "aspect": 0, "roads": 1,
                                                      "settlements": 0, "graves": 0})
    assert res.weights == {"roads": 1.0}
    for col in (0, 1, 5, 10, 19):
        assert res.score[7, col] == pytest.approx(math.exp(-col * RES / 500.0), rel=1e-5)
    # exp(-0.6) = 0.549 -> level 3; exp(-1.14) = 0.320 -> level 2
    assert res.level[7, 10] == 3 and res.level[7, 19] == 2


def test_graves_and_settlements_points():
    f = _forest(("conifer", (0, N, 0, N)))
    graves = gpd.GeoDataFrame({"name": ["老坟"]}, geometry=[Point(_x(10), _y(10))], crs=CRS)
    village = gpd.GeoDataFrame({"name": ["上坪"]}, geometry=[Point(_x(0), _y(0))], crs=CRS).to_crs(4490)
    w = {"fuel": 0, "slope": 0, "aspect": 0, "roads": 0, "settlements": 1, "graves": 1}
    res = risk_raster(_dem(), f, settlements=village, graves=graves, weights=w)
    assert res.weights == {"settlements": 0.5, "graves": 0.5}
    d_v = math.hypot(3, 4) * RES   # cell (3, 4) from the village at (0, 0)
    d_g = math.hypot(7, 6) * RES   # ... and from the grave at (10, 10)
    assert res.score[3, 4] == pytest.approx(0.5 * math.exp(-d_v / 1000) + 0.5 * math.exp(-d_g / 300), rel=1e-4)


def test_layer_outside_grid_drops_its_factor():
    f = _forest(("conifer", (0, N, 0, N)))
    far_road = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (10, 10)])], crs=CRS)
    res = risk_raster(_dem(), f, roads=far_road)
    assert "roads" not in res.weights and any("no feature" in n.en for n in res.notes)
    assert sum(res.weights.values()) == pytest.approx(1.0, abs=1e-5)


def test_dem_voids():
    z = np.full((N, N), 100.0)
    z[2:5, 2:6] = np.nan
    res = risk_raster(_dem(z), _forest(("conifer", (0, N, 0, 10))))
    assert (res.level[2:5, 2:6] == 0).all() and np.isnan(res.score[2:5, 2:6]).all()
    assert (res.level[10:, :10] == 4).all()
    assert any("12" in n.en and "no DEM data" in n.en for n in res.notes)


def test_geographic_dem_uses_metres():
    # the same 20 x 20 grid in degrees near 28.5N, 119.5E
    d = 0.0003
    dem = Raster(np.full((N, N), 100.0), Affine(d, 0, 119.5, 0, -d, 28.5), "EPSG:4490", None)
    f = gpd.GeoDataFrame({"forest_type": ["conifer"]}, geometry=[box(119.5, 28.5 - N * d, 119.5 + N * d, 28.5)],
                         crs="EPSG:4490")
    road = gpd.GeoDataFrame(geometry=[LineString([(119.5 + d / 2, 28.5), (119.5 + d / 2, 28.5 - N * d)])],
                            crs="EPSG:4490")
    res = risk_raster(dem, f, roads=road, weights={"fuel": 0, "slope": 0, "aspect": 0, "roads": 1,
                                                   "settlements": 0, "graves": 0})
    dx_m = d * 111_320 * math.cos(math.radians(28.5 - N * d / 2))
    assert res.score[7, 10] == pytest.approx(math.exp(-10 * dx_m / 500), rel=1e-3)
    assert any("degrees" in n.en for n in res.notes)


def test_classify_breaks():
    assert LEVEL_BREAKS == (0.30, 0.45, 0.60, 0.75) and HIGH_RISK_LEVEL == 4
    got = classify(np.array([0.0, 0.2999, 0.30, 0.4499, 0.45, 0.5999, 0.60, 0.7499, 0.75, 1.0, np.nan],
                            dtype=np.float32))
    assert got.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0]


def test_weights_parsing_and_errors():
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)
    w = parse_weights("fuel=0.5, roads=0")
    assert w["fuel"] == 0.5 and w["roads"] == 0 and w["slope"] == DEFAULT_WEIGHTS["slope"]
    for bad in ("wind=0.3", "fuel=abc", "slope=-1", "fuel"):
        with pytest.raises(LayerError) as e:
            parse_weights(bad)
        assert "weight" in str(e.value) and "权重" in str(e.value)
    with pytest.raises(LayerError):
        risk_raster(_dem(), _forest(("conifer", (0, N, 0, 10))),
                    weights={"fuel": 0, "slope": 0, "aspect": 0})


def _write_inputs(tmp_path):
    z = np.full((N, N), 100.0)
    write_raster(_dem(z), tmp_path / "dem.tif", dtype="float32")
    f = _forest(("conifer", (0, 10, 0, N)), ("broadleaf", (10, N, 0, N))).to_crs(4490)
    f["forest_type"] = ["针叶林", "阔叶林"]
    f.to_file(tmp_path / "forest.gpkg")
    gpd.GeoDataFrame({"name": ["县道"]}, geometry=[LineString([(_x(0), _y(0)), (_x(N - 1), _y(0))])],
                     crs=CRS).to_crs(4490).to_file(tmp_path / "roads.gpkg")


def test_cli_fire_risk(tmp_path, capsys):
    from gis.cli import main

    _write_inputs(tmp_path)
    out = tmp_path / "risk.tif"
    code = main(["fire-risk", "--dem", str(tmp_path / "dem.tif"), "--forest", str(tmp_path / "forest.gpkg"),
                 "--roads", str(tmp_path / "roads.gpkg"), "--weights", "fuel=0.5,slope=0,aspect=0,roads=0.5",
                 "--out", str(out), "--score-out", str(tmp_path / "score.tif"), "--json", "--lang", "en"])
    assert code == 0
    js = json.loads(capsys.readouterr().out)
    assert js["weights"] == {"fuel": 0.5, "roads": 0.5}
    with rasterio.open(out) as src:
        lv = src.read(1)
        assert src.dtypes[0] == "uint8" and src.nodata == 0
    assert js["forest_cells"] == N * N == int((lv > 0).sum())
    assert [e["cells"] for e in js["levels"]] == [int((lv == i).sum()) for i in range(1, 6)]
    assert js["levels"][0]["area_ha"] == pytest.approx(js["levels"][0]["cells"] * 0.09, abs=0.01)
    # conifer row 0 on the road: 0.5 + 0.5 = 1 -> 5; broadleaf row 19: 0.2 + 0.5 exp(-570/500) = 0.36 -> 2
    assert lv[0, 5] == 5 and lv[19, 5] == 2
    assert js["high_risk_cells"] == int((lv >= 4).sum())
    assert any("settlements" in n for n in js["notes"]) and any("graves" in n for n in js["notes"])
    # the day's map: weather level 1 caps static 5 at 2 and static 2 at 1
    day = tmp_path / "day.tif"
    assert main(["fire-risk", "--dem", str(tmp_path / "dem.tif"), "--forest", str(tmp_path / "forest.gpkg"),
                 "--roads", str(tmp_path / "roads.gpkg"), "--weights", "fuel=0.5,slope=0,aspect=0,roads=0.5",
                 "--out", str(out), "--weather-level", "1", "--day-out", str(day), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    with rasterio.open(day) as src:
        d = src.read(1)
    assert d[0, 5] == 2 and d[19, 5] == 1 and (d[lv == 0] == 0).all()
    assert js["day"]["cells"] == [int((d == i).sum()) for i in range(1, 6)]


def test_cli_fire_risk_bad_input(tmp_path, capsys):
    from gis.cli import main

    _write_inputs(tmp_path)
    far = gpd.GeoDataFrame({"forest_type": ["针叶林"]}, geometry=[box(100.0, 40.0, 100.01, 40.01)], crs=4490)
    far.to_file(tmp_path / "far.gpkg")
    code = main(["fire-risk", "--dem", str(tmp_path / "dem.tif"), "--forest", str(tmp_path / "far.gpkg"),
                 "--out", str(tmp_path / "x.tif")])
    assert code == 2
    err = capsys.readouterr().err
    assert "不重叠" in err and "does not overlap" in err and "far.gpkg" in err
    code = main(["fire-risk", "--dem", str(tmp_path / "dem.tif"), "--forest", str(tmp_path / "forest.gpkg"),
                 "--weights", "fuel=x", "--out", str(tmp_path / "x.tif")])
    assert code == 2 and "权重" in capsys.readouterr().err


def test_demo_county(demo_workspace):
    from layers.raster import read_raster

    g = demo_workspace / "workspace.gpkg"
    dem = read_raster(demo_workspace / "dem.tif")
    forest = gpd.read_file(g, layer="forest")
    res = risk_raster(dem, forest, roads=gpd.read_file(g, layer="roads"),
                      settlements=gpd.read_file(g, layer="villages"))
    fm = forest_mask(forest, dem) & dem.valid_mask()
    assert ((res.level > 0) == fm).all()
    share = (res.level >= HIGH_RISK_LEVEL).sum() / fm.sum()
    assert 0.05 < share < 0.6
    # conifer cells score higher than broadleaf on average
    conifer = forest_mask(forest[forest.forest_type == "conifer"], dem)
    broad = forest_mask(forest[forest.forest_type == "broadleaf"], dem)
    assert np.nanmean(res.score[conifer]) > np.nanmean(res.score[broad]) + 0.1


@pytest.mark.parametrize("shape,p,sampling", [((37, 53), 0.02, (30.0, 25.0)), ((120, 90), 0.002, (30.0, 30.0)),
                                              ((1, 40), 0.05, (10.0, 20.0)), ((40, 1), 0.05, (10.0, 20.0))])
def test_distance_transform_matches_scipy(shape, p, sampling):
    from scipy import ndimage

    from gis.fire.risk import _edt

    feats = np.random.default_rng(int(p * 1000)).random(shape) < p
    feats.flat[0] = True
    ours = _edt(feats, *sampling)
    ref = ndimage.distance_transform_edt(~feats, sampling=sampling)
    assert np.abs(ours - ref).max() < 1e-3
    assert np.isinf(_edt(np.zeros((5, 6), bool), 30.0, 30.0)).all()


def test_slope_matches_terrain_module_with_voids():
    from scipy.ndimage import gaussian_filter

    from gis.fire.risk import _aspect_deg
    from gis.terrain import slope_degrees

    z = gaussian_filter(np.random.default_rng(3).normal(size=(60, 70)), 3) * 400 + 500
    z[10:14, 20:25] = np.nan
    dem = Raster(z, Affine(30, 0, X0, 0, -25, Y0), CRS, None)
    aspect, slope = _aspect_deg(dem)
    ref = slope_degrees(dem)
    assert np.array_equal(np.isnan(slope), np.isnan(ref))
    assert np.nanmax(np.abs(slope - ref)) < 1e-3
    assert np.nanmin(aspect) >= 0 and np.nanmax(aspect) < 360
