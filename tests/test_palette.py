"""One colour system: every vector kind is drawn (its spec says how) and listed on the Data page, and no
map shows two meanings in colours a reader could mix up (CIE76 difference below MIN_DELTA_E)."""

from __future__ import annotations

import itertools
import json
import re
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from layers.catalogue import CATALOGUE, VECTOR_KINDS, editable_kinds, map_kinds, spec
from layers.palette import MIN_DELTA_E, delta_e, lab
from ui.map_view import MapLegend, build_map


def _layer(kind: str, n: int = 3) -> gpd.GeoDataFrame:
    """A few features of ``kind`` with every required field filled."""
    s = spec(kind)
    geom_kind = next(g for g in s.geometry if g != "raster")
    x0, y0 = 119.6, 28.4
    if geom_kind == "Point":
        geoms = [Point(x0 + 0.01 * i, y0 + 0.01 * i) for i in range(n)]
    elif geom_kind == "LineString":
        geoms = [LineString([(x0 + 0.01 * i, y0), (x0 + 0.01 * i + 0.005, y0 + 0.01)]) for i in range(n)]
    else:
        geoms = [box(x0 + 0.01 * i, y0, x0 + 0.01 * i + 0.008, y0 + 0.008) for i in range(n)]
    data: dict = {}
    for f in s.fields:
        if f.type == "choice":
            data[f.name] = [list(f.choices)[i % len(f.choices)] for i in range(n)]
        elif f.type in ("int", "float"):
            data[f.name] = [10 * (i + 1) for i in range(n)]
        elif f.type == "bool":
            data[f.name] = [bool(i % 2) for i in range(n)]
        else:
            data[f.name] = [f"{f.zh}{i}" for i in range(n)]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=4490)


def _legend(m) -> list:
    legends = [c for c in m._children.values() if isinstance(c, MapLegend)]
    assert len(legends) == 1
    return legends[0].rows


def _assert_distinct(rows, where: str) -> None:
    close = [(a.label, a.colour, b.label, b.colour, round(delta_e(a.colour, b.colour), 1))
             for a, b in itertools.combinations(rows, 2)
             if a.label != b.label and delta_e(a.colour, b.colour) < MIN_DELTA_E]
    assert not close, f"{where}: meanings in colours too alike: {close}"


def test_every_vector_kind_is_drawn_and_on_the_data_page():
    assert set(VECTOR_KINDS) == {k for k, s in CATALOGUE.items() if s.is_vector}
    assert map_kinds("data") == list(VECTOR_KINDS)
    assert "graves" in map_kinds("fire") and "buildings" in map_kinds("flood")
    layers = {k: _layer(k, 5 if k == "grids" else 3) for k in VECTOR_KINDS}
    m = build_map(layers, lang="zh", online=False)
    labels = " ".join(r.label for r in _legend(m))
    for k in VECTOR_KINDS:
        if spec(k).draw.by:   # one row per drawing class (grid level)
            assert all(spec(k).field(spec(k).draw.by).choice_label(c.value) in labels for c in spec(k).draw.classes)
        else:
            legend = spec(k).draw.legend
            assert (legend("zh") if legend else spec(k).label("zh")) in labels, k
    html = m.get_root().render()
    assert "坟墓" in html and "房屋" in html   # graves and buildings are drawn


def test_the_data_page_lists_every_kind(use_workspace):
    from tests.test_app import run_page

    at = run_page("data")
    assert not at.exception, [e.message for e in at.exception]
    assert set(at.selectbox(key="upload_kind").options) >= {f"{s.label('zh')} ({k})" for k, s in CATALOGUE.items()}


def test_specs_carry_order_visibility_labels_and_editable_fields():
    orders = [spec(k).draw.order for k in VECTOR_KINDS]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert spec("villages").draw.label == "name" and spec("shelters").draw.label == "name"
    assert editable_kinds()[0] == "shelters" and "cameras" in editable_kinds()
    for k in editable_kinds():
        fields = {f.name for f in spec(k).fields}
        assert set(spec(k).editable) <= fields and spec(k).id_field not in spec(k).editable
    assert not spec("roads").editable


def test_data_map_colours_are_distinct():
    layers = {k: _layer(k, 5 if k == "grids" else 3) for k in VECTOR_KINDS}
    _assert_distinct(_legend(build_map(layers, lang="zh", online=False)), "data page")


def _fake_plan(polygons: bool = False):
    grids = gpd.GeoDataFrame({"grid_id": ["G1", "G2"], "name": ["一组", "二组"], "township": ["城关镇"] * 2,
                              "village": ["上坪村"] * 2, "population": [10, 20], "flooded_share": [0.5, 0.1],
                              "evacuate": [True, False], "max_depth": [1.2, 0.3]},
                             geometry=[box(119.6, 28.4, 119.61, 28.41), box(119.61, 28.4, 119.62, 28.41)], crs=4490)
    shelters = gpd.GeoDataFrame({"shelter_id": ["S1", "S2", "S3", "S4"], "name": list("甲乙丙丁"),
                                 "capacity": [100, 100, 100, 100], "load": [10, 90, 100, 0],
                                 "spare": [90, 10, 0, 100], "usable": [True, True, True, False],
                                 "reason": ["", "", "", "淹没"], "township": ["城关镇"] * 4},
                                geometry=[Point(119.63 + 0.001 * i, 28.42) for i in range(4)], crs=4490)
    routes = gpd.GeoDataFrame({"grid_id": ["G1", "G1"], "shelter_id": ["S1", "S2"], "people": [5, 5],
                               "distance_km": [1.0, 2.0], "time_min": [15.0, 30.0],
                               "method": ["road", "straight_line"]},
                              geometry=[LineString([(119.605, 28.405), (119.63, 28.42)])] * 2, crs=4490)
    hazard = SimpleNamespace(polygons=grids[["geometry"]] if polygons else None)
    return SimpleNamespace(exposure=grids, assignments=routes, shelters=shelters, hazard=hazard, grids=grids)


@pytest.mark.parametrize("polygons", [False, True])
def test_flood_map_colours_are_distinct(polygons):
    from ui.overlay import Overlay
    from ui.plan_map import plan_groups

    depth = None if polygons else Overlay(b"", [[28.4, 119.6], [28.5, 119.7]])
    groups = plan_groups(_fake_plan(polygons), "zh", thresholds=(0.5, 1.5, 3.0), depth=depth)
    base = {k: _layer(k) for k in ("rivers", "roads")}
    rows = _legend(build_map(base, lang="zh", online=False, extra=groups))
    assert len(rows) >= 10
    _assert_distinct(rows, "flood page")


def test_fire_map_colours_are_distinct():
    from ui.fire_layers import BASE_KINDS, fire_groups
    from ui.overlay import Overlay

    ov = Overlay(b"", [[28.4, 119.6], [28.5, 119.7]])
    gaps = gpd.GeoDataFrame({"rank": [1, 2, 3], "gap": ["both", "unseen", "out_of_reach"],
                             "gap_zh": ["两者", "监控", "水源"], "area_ha": [3.0, 2.0, 1.0]},
                            geometry=[box(119.6 + 0.01 * i, 28.4, 119.605 + 0.01 * i, 28.405) for i in range(3)],
                            crs=4490)
    sites = gpd.GeoDataFrame({"order": [1, 2], "name": ["A", "B"], "kind": ["camera", "water"]},
                             geometry=[Point(119.6, 28.45), Point(119.61, 28.45)], crs=4490)
    groups = fire_groups("zh", risk=ov, day=ov, day_label="三级", seen=ov, reach=ov, gaps=gaps, sites=sites)
    rows = _legend(build_map({k: _layer(k) for k in BASE_KINDS}, lang="zh", online=False, extra=groups))
    assert len(rows) >= 17
    _assert_distinct(rows, "fire page")
    # the page's fallback map (no DEM): its own kinds only
    _assert_distinct(_legend(build_map({k: _layer(k) for k in map_kinds("fire")}, online=False)), "fire layers")


def test_lab_and_delta_e():
    assert np.allclose(lab("#ffffff"), (100.0, 0.0, 0.0), atol=0.05)
    assert delta_e("#000000", "#ffffff") == pytest.approx(100.0, abs=0.1)
    assert delta_e("#2e9e44", "#2e9e44") == 0.0


def test_operations_map_colours_are_distinct_and_styled_from_tables(tmp_path):
    """The Operations map: every grid status, shelter occupancy and the depots in colours apart, each layer
    styled from one table (no per-feature code), grids as dots in the whole-area view."""
    from gis.ops.session import Operations
    from tests.ops_data import tiny_layers, write_workspace
    from tests.test_map_linear import PER_FEATURE
    from ui.ops_map import ops_groups

    layers = tiny_layers()
    ops = Operations(write_workspace(tmp_path / "ws", layers))
    w = ops.warn("red", everything=True, issuer="t").warning.warning_id
    ops.ack(w, "13900000011")
    ops.report(w, "H111", moved=30)
    ops.report(w, "G21", moved=40, refused=2)
    ops.checkin(w, "S1", people=25)
    prog = ops.progress(w)
    assert {"warned", "done", "problem"} <= set(prog.grids["status"])
    depots = layers.get("depots")
    assert depots is not None and len(depots)
    base = {k: _layer(k) for k in ("rivers", "roads")}
    for budget in (10**6, 2):   # outlines, and the whole-area view with grids as dots
        groups = ops_groups(prog, "zh", outlines=layers["grids"], depots=depots, budget=budget)
        m = build_map(base, lang="zh", online=False, extra=groups)
        rows = _legend(m)
        assert {"已预警", "已叫应", "转移中", "已完成", "有问题", "场所已满", "储备库"} <= {r.label for r in rows}
        _assert_distinct(rows, "operations page")
        html = m.get_root().render()
        assert html.count("GisMap.styled(") >= 5 and not PER_FEATURE.search(html)
        assert ('"shape":"circle","radius":3.5' in html) == (budget == 2)


def test_fire_gaps_are_hatched_outlines_so_the_risk_under_them_reads():
    """Gap patches are outlined and hatched in their colour, never filled (they once hid most of the risk levels
    at start): one hatch direction per missing cover, crossed where both are; the legend draws the same hatching."""
    from ui.fire_layers import GAP_COLORS, GAP_HATCH, fire_groups
    from ui.map_view import StyledGeoJson, _swatch_svg
    from ui.overlay import Overlay

    assert GAP_HATCH["both"] == "x" and len(set(GAP_HATCH.values())) == 3 and set(GAP_HATCH) == set(GAP_COLORS)
    ov = Overlay(b"", [[28.4, 119.6], [28.5, 119.7]])
    gaps = gpd.GeoDataFrame({"rank": [1, 2, 3], "gap": ["both", "unseen", "out_of_reach"], "area_ha": [3.0, 2.0, 1.0]},
                            geometry=[box(119.6 + 0.01 * i, 28.4, 119.605 + 0.01 * i, 28.405) for i in range(3)],
                            crs=4490)
    groups, rows = fire_groups("zh", risk=ov, gaps=gaps)
    layer = next(c for g in groups for c in getattr(g, "_children", {}).values() if isinstance(c, StyledGeoJson))
    for k, style in layer.styles.items():
        assert style["hatch"] == GAP_HATCH[k] and style["weight"] >= 2 and style["color"] == GAP_COLORS[k]
    html = build_map({}, lang="zh", online=False, extra=(groups, rows)).get_root().render()
    assert all(re.search(r'"hatch":\s*' + re.escape(json.dumps(h)), html) for h in GAP_HATCH.values())
    gap_rows = [r for r in rows if r.hatch]
    assert len(gap_rows) == 3
    for r in gap_rows:
        svg = _swatch_svg(r)
        assert svg.count("<line") >= 3 and 'fill="none"' in svg     # hatching lines in an outlined box
        assert (svg.count("<line") > 6) == (r.hatch == "x")            # crossed: lines both ways
    risk_rows = [r for r in rows if not r.hatch and r.shape == "box"]
    assert len(risk_rows) == 5 and all("<line" not in _swatch_svg(r) for r in risk_rows)
