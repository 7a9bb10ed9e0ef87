"""Every page's map renders in time linear in its features: styles come from one lookup table per layer
(keyed by a feature property), never from code per feature (folium's ``style_function`` writes a
``switch`` with one ``case`` per feature id, quadratic in the browser). The generated pages are inspected."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from tests.test_app import run_page

PER_FEATURE = re.compile(r"switch\s*\(|\bcase\s+[\"'\d]")


def _plan(n: int):
    from types import SimpleNamespace

    grids = gpd.GeoDataFrame({"grid_id": [f"G{i:05d}" for i in range(n)], "name": [f"网格{i}" for i in range(n)],
                              "township": ["城关镇"] * n, "population": np.arange(n) + 1,
                              "flooded_share": np.linspace(0.05, 1, n), "evacuate": np.arange(n) % 3 != 0,
                              "max_depth": np.linspace(0.1, 3, n)},
                             geometry=[box(119 + 0.001 * i, 28, 119 + 0.001 * i + 0.0008, 28.0008) for i in range(n)],
                             crs=4490)
    shelters = gpd.GeoDataFrame({"shelter_id": [f"S{i}" for i in range(n // 10 + 1)],
                                 "name": [f"场所{i}" for i in range(n // 10 + 1)], "capacity": 100, "load": 50,
                                 "spare": 50, "usable": True, "reason": ""},
                                geometry=[Point(119 + 0.01 * i, 28.01) for i in range(n // 10 + 1)], crs=4490)
    routes = gpd.GeoDataFrame({"grid_id": grids["grid_id"], "shelter_id": "S0", "people": 1, "distance_km": 1.0,
                               "time_min": 10.0, "method": np.where(np.arange(n) % 2, "road", "straight_line")},
                              geometry=[LineString([(119 + 0.001 * i, 28), (119, 28.01)]) for i in range(n)],
                              crs=4490)
    return SimpleNamespace(exposure=grids, assignments=routes, shelters=shelters, hazard=None, grids=grids)


@pytest.mark.parametrize("budget", [10**6, 10])   # the detailed map, and the overview with grids as points
def test_flood_map_styles_come_from_one_table(budget):
    from ui.map_view import StyledGeoJson, build_map
    from ui.plan_map import plan_groups

    pages, data = {}, {}
    for n in (30, 600):
        m = build_map({}, online=False, extra=plan_groups(_plan(n), "zh", thresholds=(0.5, 1.5, 3.0),
                                                           budget=budget))
        pages[n] = m.get_root().render()
        assert not PER_FEATURE.search(pages[n])
        assert pages[n].count("G00007") == 1 + (budget > 100)    # each grid id once in the data (and its route)
        data[n] = sum(len(_embedded(el.data)) for el in _walk(m) if isinstance(el, StyledGeoJson))
    # the script around the data does not grow with the features: only the data does
    assert abs((len(pages[600]) - data[600]) - (len(pages[30]) - data[30])) < 2_000


def _walk(el):
    yield el
    for child in getattr(el, "_children", {}).values():
        yield from _walk(child)


def _embedded(obj) -> str:
    import json

    from jinja2.utils import htmlsafe_json_dumps
    from markupsafe import Markup  # noqa: F401  (jinja's tojson escapes <, >, & and ' the same way)

    return str(htmlsafe_json_dumps(obj, dumps=json.dumps, ensure_ascii=False, separators=(",", ":")))


def _capture(monkeypatch) -> list[str]:
    import ui.map_panel

    pages: list[str] = []

    def fake_st_folium(m, **kwargs):
        pages.append(m.get_root().render())
        return {}
    monkeypatch.setattr(ui.map_panel, "st_folium", fake_st_folium)
    # maps shared by every session (ui.state.shared_map) are rendered once, not handed to st_folium
    import ui.state

    render = ui.state.render_map

    def capture_render(m):
        pages.append(m.get_root().render())
        return render(m)
    ui.state.MAPS.clear()
    monkeypatch.setattr(ui.state, "render_map", capture_render)
    return pages


@pytest.mark.parametrize("name", ["data", "fire", "workspace", "flood"])
def test_page_maps_have_no_per_feature_code(use_workspace, monkeypatch, name):
    pages = _capture(monkeypatch)
    at = run_page(name)
    assert not at.exception, [e.message for e in at.exception]
    if name == "workspace":   # the add-a-point map sits in an expander: open it through its map
        assert pages == [] or all(not PER_FEATURE.search(p) for p in pages)
        from ui.map_view import build_map, plan_map

        base = at.session_state["ws_base_shelters"]
        mp = plan_map({"shelters": base.drop(columns=["fid", "_rev"])})
        pages.append(build_map(mp.layers, online=False, show={"shelters"}).get_root().render())
    assert pages, "the page drew no map"
    for html in pages:
        assert "GisMap.styled(" in html and "/app/static/gis/gismap.js" in html
        hit = PER_FEATURE.search(html)
        assert not hit, f"per-feature code in the {name} page: {html[hit.start() - 200:hit.end() + 100]}"
