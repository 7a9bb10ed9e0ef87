"""The printable A4 forest-fire coverage map: page size and resolution, one-page PDF, township extent,
optional layers, bad input, the batch, and the demo county end to end."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from PIL import Image
from shapely.geometry import LineString, Point, box

from gis.report.fire_map import coverage_figure, coverage_map, coverage_maps_batch, township_boundaries
from layers.errors import AnalysisRefused, LayerError
from layers.raster import Raster, read_raster

A4_MM = (210.0, 297.0)
CRS = "EPSG:4549"
X0, Y0, RES, N = 440_000.0, 3_150_000.0, 30.0, 200     # a 6 x 6 km square; the west half is 甲镇


def _px(mm: float, dpi: int) -> float:
    return mm / 25.4 * dpi


def _assert_a4_png(path, dpi):
    im = Image.open(path)
    w, h = sorted(im.size)
    assert abs(w - _px(A4_MM[0], dpi)) <= 1.5 and abs(h - _px(A4_MM[1], dpi)) <= 1.5, im.size
    assert im.info["dpi"] == pytest.approx((dpi, dpi), abs=0.01)


def _assert_a4_pdf(path):
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    box_ = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    w, h = sorted((float(box_.group(3)), float(box_.group(4))))
    assert w == pytest.approx(A4_MM[0] / 25.4 * 72, abs=0.5) and h == pytest.approx(A4_MM[1] / 25.4 * 72, abs=0.5)


@pytest.fixture(scope="module")
def dem() -> Raster:
    yy, xx = np.mgrid[0:N, 0:N]
    z = 300 + 200 * np.exp(-((xx - 60) ** 2 + (yy - 100) ** 2) / 800.0) + 0.5 * xx
    return Raster(z.astype("float64"), Affine(RES, 0, X0, 0, -RES, Y0), CRS, None)


@pytest.fixture(scope="module")
def towns() -> gpd.GeoDataFrame:
    mid = X0 + N * RES / 2
    return gpd.GeoDataFrame({"township": ["甲镇", "乙乡"]},
                            geometry=[box(X0, Y0 - N * RES, mid, Y0), box(mid, Y0 - N * RES, X0 + N * RES, Y0)],
                            crs=CRS)


def _labels(fig) -> list[str]:
    leg = fig.axes[0].get_legend()
    return [] if leg is None else [t.get_text() for t in leg.get_texts()]


def test_whole_area_png_is_a4_at_300_dpi_and_pdf_is_one_a4_page(tmp_path, dem, towns):
    count = np.zeros(dem.shape, np.uint16)
    count[:, 70:140] = 1
    count[:, 140:] = 2
    cams = gpd.GeoDataFrame({"name": ["甲"]}, geometry=[Point(X0 + 1800, Y0 - 3000)], crs=CRS)
    out = coverage_map(tmp_path / "maps" / "all", dem=dem, layers={"coverage": count, "cameras": cams,
                                                                   "townships": towns},
                       title="测试县森林防火监测覆盖图", date="2026-11-23")
    assert [p.name for p in out] == ["all.png", "all.pdf"]
    assert all(p.exists() and p.stat().st_size > 10_000 for p in out)
    _assert_a4_png(out[0], 300)
    _assert_a4_pdf(out[1])


def test_coverage_classes_are_painted_one_and_two_plus(dem):
    count = np.zeros(dem.shape, np.uint16)
    count[:, 70:140] = 1
    count[:, 140:] = 2
    fig = coverage_figure(dem=Raster(np.full(dem.shape, 100.0), dem.transform, CRS, None),
                          layers={"coverage": count})
    img = fig.axes[0].images[0].get_array()
    row = img.shape[0] // 2
    # map extent is the DEM padded by 3 % of its size, so the columns scale by 1/1.06 around the centre
    x = lambda c: int(round(img.shape[1] * (0.5 + (c / N - 0.5) / 1.06)))  # noqa: E731
    none, one, two = img[row, x(30), :3], img[row, x(105), :3], img[row, x(170), :3]
    # green grows with the count: G - (R + B) / 2
    green = [float(p[1] - (p[0] + p[2]) / 2) for p in (none, one, two)]
    assert green[0] < green[1] < green[2]
    assert green[0] == pytest.approx(0.0, abs=0.02)      # grey hillshade only
    assert _labels(fig) == ["1 台监控可见", "2 台及以上监控可见"]


def test_township_map_covers_only_that_townships_extent(dem, towns):
    fig = coverage_figure(dem=dem, layers={"townships": towns}, township="甲镇", lang="en")
    ax = fig.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    wx0, wy0, wx1, wy1 = towns.total_bounds
    tx0, ty0, tx1, ty1 = towns.iloc[0].geometry.bounds
    # the township is inside the map ...
    assert x0 <= tx0 and x1 >= tx1 and y0 <= ty0 and y1 >= ty1
    # ... and the map is the township's (padded to the page's aspect), not the whole area
    assert x1 < wx1 - 1000
    assert "Township boundary" in _labels(fig)
    whole = coverage_figure(dem=dem, layers={"townships": towns}).axes[0]
    # the whole area fits (edge to edge now: the page no longer pads beyond the DEM, see below)
    assert whole.get_xlim()[0] <= wx0 + 1e-6 and whole.get_xlim()[1] >= wx1 - 1e-6
    # the township page is padded to the page's aspect (4.9 x 6.36 km); the whole-area page now takes the
    # area's own shape (6.12 x 6.12 km) instead of a band of empty map above and below (issue 15)
    assert (x1 - x0) * (y1 - y0) < 0.9 * np.ptp(whole.get_xlim()) * np.ptp(whole.get_ylim())
    assert np.ptp(whole.get_xlim()) / np.ptp(whole.get_ylim()) == pytest.approx(
        (dem.bounds[2] - dem.bounds[0]) / (dem.bounds[3] - dem.bounds[1]), rel=0.03)


def test_missing_optional_layers_are_left_out(tmp_path, dem):
    fig = coverage_figure(dem=dem, layers={})
    assert _labels(fig) == []
    roads = gpd.GeoDataFrame(geometry=[LineString([(X0, Y0 - 3000), (X0 + 6000, Y0 - 3000)])], crs=CRS)
    fig = coverage_figure(dem=dem, layers={"roads": roads, "gaps": None, "cameras": roads.iloc[:0]}, lang="en")
    assert _labels(fig) == ["Road"]
    out = coverage_map(tmp_path / "bare", dem=dem, layers={}, dpi=40, formats=("png",))
    assert [p.name for p in out] == ["bare.png"]
    _assert_a4_png(out[0], 40)


def test_every_layer_gets_a_legend_entry(dem, towns):
    mask = np.zeros(dem.shape, bool)
    mask[50:120, 20:90] = True
    pts = gpd.GeoDataFrame({"kind": ["camera", "water"]}, geometry=[Point(X0 + 900, Y0 - 900),
                                                                    Point(X0 + 1500, Y0 - 1500)], crs=CRS)
    # vector layers in lon/lat (the workspace's EPSG:4490) are reprojected to the DEM's CRS
    ws = pts.to_crs("EPSG:4490")
    gaps = gpd.GeoDataFrame(geometry=[box(X0 + 600, Y0 - 3000, X0 + 1200, Y0 - 2400)], crs=CRS)
    count = mask.astype(np.uint16)
    count[50:80, 20:90] = 2
    fig = coverage_figure(dem=dem, layers={"coverage": count, "water_reach": mask,
                                           "high_risk": mask, "gaps": gaps, "proposed": pts, "cameras": pts,
                                           "water_sources": ws, "townships": towns}, lang="en")
    assert set(_labels(fig)) == {"High-risk forest", "Seen by 1 camera", "Seen by 2+ cameras", "Within water reach",
                                 "Uncovered high-risk patch", "Township boundary", "Water source",
                                 "Camera / lookout", "Proposed camera", "Proposed water point"}
    xs = fig.axes[0].collections
    assert any(np.allclose(c.get_offsets(), [[X0 + 900, Y0 - 900], [X0 + 1500, Y0 - 1500]], atol=0.5)
               for c in xs if hasattr(c, "get_offsets") and len(c.get_offsets()) == 2)


def test_bad_input_is_explained_in_both_languages(dem, towns):
    with pytest.raises(AnalysisRefused) as e:     # valid inputs the map refuses (was LayerError)
        coverage_figure(dem=dem, layers={"townships": towns}, township="丙村")
    assert "丙村" in str(e.value) and "no boundary" in str(e.value) and "甲镇" in str(e.value)
    with pytest.raises(LayerError) as e:
        coverage_figure(dem=dem, layers={"coverage": np.zeros((10, 10))})
    assert "coverage" in str(e.value) and "DEM" in str(e.value)
    with pytest.raises(AnalysisRefused):
        coverage_figure(dem=dem, layers={}, township="甲镇")      # no layer gives townships


def test_townships_from_grids_prefer_the_township_level(towns):
    cells = gpd.GeoDataFrame({"township": ["甲镇", "甲镇", "乙乡"], "level": ["village", "village", "village"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=CRS)
    t = township_boundaries({"grids": cells})
    assert sorted(t["township"]) == ["乙乡", "甲镇"]
    assert t.set_index("township").geometry["甲镇"].area == pytest.approx(2.0)
    top = gpd.GeoDataFrame({"township": ["甲镇"], "level": ["township"]}, geometry=[box(0, 0, 5, 5)], crs=CRS)
    t = township_boundaries({"grids": gpd.pd.concat([cells, top]), "townships": None})
    assert list(t["township"]) == ["甲镇"] and t.geometry.iloc[0].area == pytest.approx(25.0)
    assert list(township_boundaries({"townships": towns, "grids": cells})["township"]) == ["乙乡", "甲镇"]
    assert township_boundaries({}) is None


def test_batch_writes_the_whole_area_and_each_township(tmp_path, dem, towns):
    paths = coverage_maps_batch(tmp_path / "out", dem=dem, layers={"townships": towns}, dpi=30)
    assert sorted(p.name for p in paths) == sorted(["coverage_all.png", "coverage_all.pdf", "coverage_甲镇.png",
                                                    "coverage_甲镇.pdf", "coverage_乙乡.png", "coverage_乙乡.pdf"])
    for p in paths:
        if p.suffix == ".pdf":
            _assert_a4_pdf(p)
        else:
            _assert_a4_png(p, 30)


def test_demo_county_whole_and_township_maps(tmp_path, demo_workspace):
    from gis.fire.viewshed import coverage

    dem = read_raster(demo_workspace / "dem.tif")
    gpkg = demo_workspace / "workspace.gpkg"
    lay = {k: gpd.read_file(gpkg, layer=k) for k in ("cameras", "water_sources", "roads", "grids")}
    count, _, _ = coverage(dem, lay["cameras"], range_m=3000)
    assert (count >= 1).any() and (count >= 2).any()
    town = sorted(t for t in set(lay["grids"]["township"].dropna().astype(str)) if t.strip())[0]
    layers = {"coverage": count, **lay}
    whole = coverage_map(tmp_path / "demo_all", dem=dem, layers=layers, date="2026-11-23")
    one = coverage_map(tmp_path / "demo_town", dem=dem, layers=layers, township=town, date="2026-11-23")
    for png, pdf in (whole, one):
        _assert_a4_png(png, 300)
        _assert_a4_pdf(pdf)
    fig_all = coverage_figure(dem=dem, layers=layers)
    fig_one = coverage_figure(dem=dem, layers=layers, township=town)
    ax_all, ax_one = fig_all.axes[0], fig_one.axes[0]
    area = lambda ax: np.ptp(ax.get_xlim()) * np.ptp(ax.get_ylim())  # noqa: E731
    assert area(ax_one) < 0.5 * area(ax_all)
    assert set(_labels(fig_one)) >= {"1 台监控可见", "2 台及以上监控可见", "道路", "乡镇界", "水源点",
                                     "监控点 / 瞭望台"}


def test_dem_in_degrees_is_mapped_in_a_metric_crs(tmp_path):
    z = 200 + 50 * np.random.default_rng(1).random((60, 80))
    dem = Raster(z, Affine(0.0005, 0, 119.5, 0, -0.0005, 28.5), "EPSG:4490", None)
    count = np.zeros(z.shape, np.uint16)
    count[:, 40:] = 1
    fig = coverage_figure(dem=dem, layers={"coverage": count}, lang="en")
    x0, x1 = fig.axes[0].get_xlim()
    assert x1 - x0 > 1000          # metres, not degrees (the DEM is about 3.9 km wide)
    assert any("EPSG:45" in t.get_text() for t in fig.texts)   # a CGCS2000 Gauss-Kruger zone
    assert _labels(fig) == ["Seen by 1 camera"]     # no cell is seen twice: no legend entry for it
