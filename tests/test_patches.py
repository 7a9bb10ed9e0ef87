"""Mask patches: 8-connectivity, ordering, areas from cell counts, minimum area, empty masks, CRS."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from gis.fire.patches import PATCH_COLUMNS, mask_patches
from layers.raster import Raster


def _grid(shape=(6, 8), res=30.0) -> Raster:
    return Raster(np.zeros(shape, np.float32), Affine(res, 0, 500_000, 0, -res, 3_000_000), "EPSG:4549", None)


def test_eight_connectivity_order_and_area():
    m = np.zeros((6, 8), bool)
    m[0, 0] = m[1, 1] = m[2, 2] = True      # diagonal chain: one patch of 3 cells
    m[4:6, 5:8] = True                       # 2x3 block: 6 cells
    m[0, 7] = True                           # single cell
    p = mask_patches(m, _grid())
    assert list(p.columns) == PATCH_COLUMNS + ["geometry"]
    assert p["patch_id"].tolist() == [1, 2, 3]
    assert p["cells"].tolist() == [6, 3, 1]
    # 30 m cells = 900 m2 = 0.09 ha
    assert p["area_ha"].tolist() == pytest.approx([0.54, 0.27, 0.09])
    assert str(p.crs).upper().endswith("4490")
    # the diagonal chain's parts touch only at corners: a MultiPolygon of 3 squares
    assert p.geometry.iloc[1].geom_type == "MultiPolygon" and len(p.geometry.iloc[1].geoms) == 3
    # polygon area in the metric CRS equals the cell count area
    metric = p.to_crs("EPSG:4549")
    assert metric.area.tolist() == pytest.approx([5400, 2700, 900], rel=1e-4)


def test_block_polygon_position():
    m = np.zeros((6, 8), bool)
    m[4:6, 5:8] = True
    g = mask_patches(m, _grid()).to_crs("EPSG:4549").geometry.iloc[0]
    # columns 5..7 -> x 500150..500240, rows 4..5 -> y 2999880..2999820
    assert g.bounds == pytest.approx((500_150, 2_999_820, 500_240, 2_999_880), abs=1e-3)


def test_min_area_and_ties():
    m = np.zeros((6, 8), bool)
    m[0, 0:2] = True                         # 2 cells, first in raster order
    m[3, 0:2] = True                         # 2 cells
    m[5, 7] = True                           # 1 cell: dropped by a 1000 m2 minimum
    p = mask_patches(m, _grid(), min_area_m2=1000)
    assert p["cells"].tolist() == [2, 2]
    top = p.to_crs("EPSG:4549").geometry.iloc[0].bounds
    assert top[3] == pytest.approx(3_000_000)  # patch 1 is the one on row 0


def test_empty_and_all_dropped():
    for m, kw in ((np.zeros((6, 8), bool), {}), (np.eye(6, 8, dtype=bool), {"min_area_m2": 1e9})):
        p = mask_patches(m, _grid(), **kw)
        assert len(p) == 0
        assert list(p.columns) == PATCH_COLUMNS + ["geometry"]


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        mask_patches(np.zeros((3, 3), bool), _grid())


def test_geographic_grid_area():
    # 0.001 degree cells at 30 N: about 96.4 m x 110.6 m
    g = Raster(np.zeros((4, 4)), Affine(0.001, 0, 120.0, 0, -0.001, 30.002), "EPSG:4490", None)
    m = np.ones((4, 4), bool)
    p = mask_patches(m, g)
    cell = 0.001 * 111_320 * np.cos(np.deg2rad(30.0)) * 0.001 * 110_574
    assert p["area_ha"].iloc[0] == pytest.approx(16 * cell / 1e4, rel=1e-3)


def test_patches_with_holes_and_corner_pieces_are_the_traced_shapes_exactly():
    """The polygons built at once from the traced rings are the very ones shapely builds piece by piece from
    rasterio's GeoJSON: rings with holes, pieces touching at corners (one MultiPolygon, pieces in trace order),
    single cells, on a random mask."""
    import shapely
    from rasterio.features import shapes
    from shapely.geometry import MultiPolygon, shape

    from gis.fire.patches import label_patches, patches_from_labels

    rng = np.random.default_rng(3)
    m = rng.random((40, 50)) < 0.45
    m[3:17, 3:17] = False                    # clear round the donut: a patch of its own
    m[5:15, 5:15] = True
    m[8:12, 8:12] = False                    # a donut: a polygon with a hole
    m[9:11, 9:11] = True                     # an island in the hole, one cell clear of the ring: a patch of its own
    grid = _grid(m.shape)
    labels, cells = label_patches(m, grid)
    pieces: list[list] = [[] for _ in range(len(cells))]
    for geom, v in shapes(labels, mask=labels > 0, connectivity=4, transform=grid.transform):
        pieces[int(v) - 1].append(shape(geom))
    expected = [p[0] if len(p) == 1 else MultiPolygon(p) for p in pieces]
    got = patches_from_labels(labels, cells, grid, to_storage=False).geometry.to_numpy()
    assert len(got) == len(expected) > 10
    assert any(g.geom_type == "MultiPolygon" for g in got)
    assert any(g.geom_type == "Polygon" and len(g.interiors) for g in got)
    assert all(a.geom_type == b.geom_type and shapely.equals_exact(a, b, 0) for a, b in zip(got, expected))
