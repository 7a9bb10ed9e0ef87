"""The map builder: compact payloads, popups with Chinese labels, legend, and no CDN links."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, Polygon

from gis.terrain import hillshade
from layers.raster import Raster
from ui.assets import LOCAL_ASSETS, STATIC_DIR, OfflineAssetError, inline_html, localize
from ui.map_view import build_map, payload
from ui.overlay import grey_ramp, render, value_overlay


@pytest.fixture
def layers():
    shelters = gpd.GeoDataFrame({"name": ["城关小学"], "shelter_id": ["S1"], "type": ["school"], "capacity": [300],
                                 "status": [None]}, geometry=[Point(119.612345678, 28.4)], crs=4490)
    grids = gpd.GeoDataFrame({"grid_id": ["G1", "G2"], "level": ["village", "household"], "name": ["上坪村", "一组"],
                              "population": [40, 12]},
                             geometry=[Polygon([(119.6, 28.4), (119.61, 28.4), (119.61, 28.41)]),
                                       Polygon([(119.6, 28.4), (119.605, 28.4), (119.605, 28.405)])], crs=4490)
    roads = gpd.GeoDataFrame({"name": ["县道"], "road_class": ["county"]},
                             geometry=[LineString([(119.6, 28.4), (119.62, 28.42)])], crs=4490)
    return {"shelters": shelters, "grids": grids, "roads": roads}


def test_payload_rounds_coordinates_and_labels_choices(layers):
    data, fields = payload(layers["shelters"], "shelters", "zh")
    assert fields == ["name", "shelter_id", "type", "capacity"]  # status has no value: not sent
    f = data["features"][0]
    assert f["geometry"]["coordinates"] == [119.61235, 28.4]
    assert f["properties"] == {"name": "城关小学", "shelter_id": "S1", "type": "学校", "capacity": 300}
    data_en, _ = payload(layers["shelters"], "shelters", "en")
    assert data_en["features"][0]["properties"]["type"] == "school"


def test_payload_simplifies_in_metres():
    ring = [(119.6 + 0.01 * np.cos(a), 28.4 + 0.01 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 400)]
    g = gpd.GeoDataFrame({"grid_id": ["G"], "level": ["village"]}, geometry=[Polygon(ring)], crs=4490)
    fine, _ = payload(g, "grids", "zh", simplify_m=0)
    coarse, _ = payload(g, "grids", "zh", simplify_m=50)
    n = lambda d: len(d["features"][0]["geometry"]["coordinates"][0])  # noqa: E731
    assert n(fine) == 400 and n(coarse) < 60


def test_build_map_has_toggles_popups_legend_and_only_local_assets(layers):
    m = build_map(layers, lang="zh", online=True, tianditu_key=None)
    html = m.get_root().render()
    assert "L.control.layers" in html
    assert "网格（村级）" in html and "网格（户级）" in html and "避灾安置场所" in html
    assert "容纳人数（人）" in html  # popup alias = Chinese label with unit, sent as UTF-8
    assert "gis-legend" in html and "图例" in html
    srcs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert srcs and all(s.startswith("/app/static/") for s in srcs), srcs
    for name, rel in LOCAL_ASSETS.items():
        assert (STATIC_DIR / rel).exists(), name
    # OSM is offered but hidden, so nothing is fetched until the user picks it
    assert re.search(r"tile_layer_\w+ = L\.tileLayer\(\s*\"https://tile\.openstreetmap", html)
    assert not re.search(r"tile_layer_\w+\.addTo\(map_", html)


def test_data_layers_render_as_branca_would_only_faster(layers, monkeypatch):
    """GeoJSON, images and labels skip branca's template pass over their data: the page is the same, byte for
    byte, and so are the bounds (read by numpy instead of point by point)."""
    import itertools

    import branca.element
    from branca.element import MacroElement
    from folium.utilities import get_bounds

    from ui.map_view import StyledGeoJson, VerbatimRender, place_labels
    from ui.overlay import Overlay

    def page() -> str:
        counter = itertools.count()      # the same element ids for both builds
        monkeypatch.setattr(branca.element, "urandom", lambda n: next(counter).to_bytes(n, "big"))
        hs = Overlay(b"\x89PNG fake", [[28.39, 119.59], [28.43, 119.63]])
        m = build_map(layers, lang="zh", online=False, hillshade=hs, places=place_labels(layers))
        return m.get_root().render()

    ours = page()
    monkeypatch.setattr(VerbatimRender, "render", MacroElement.render)
    assert page() == ours and "GisMap.styled(" in ours and "image_overlay" in ours
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [119.7, 28.3]}},
        {"type": "Feature", "properties": {}, "geometry": None},
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString",
                                                            "coordinates": [[119.5, 28.6, 10.0], [119.8, 28.2]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[119.6, 28.4], [119.9, 28.4], [119.9, 28.5], [119.6, 28.4]]], [[[119.1, 28.0], [119.2, 28.0],
                                                                            [119.2, 28.1], [119.1, 28.0]]]]}}]}
    gj = StyledGeoJson(data, {"": {}})
    assert gj._get_self_bounds() == get_bounds(data, lonlat=True) == [[28.0, 119.1], [28.6, 119.9]]
    assert StyledGeoJson({"type": "FeatureCollection", "features": []}, {"": {}})._get_self_bounds() == \
        [[None, None], [None, None]]


def test_tianditu_only_with_key(layers):
    assert "tianditu" not in build_map(layers, online=True, tianditu_key=None).get_root().render()
    html = build_map(layers, online=True, tianditu_key="abc").get_root().render()
    assert "tianditu.gov.cn/vec_w" in html and "tk=abc" in html
    assert "tianditu" not in build_map(layers, online=False, tianditu_key="abc").get_root().render()


def test_english_labels(layers):
    html = build_map(layers, lang="en").get_root().render()
    assert "Capacity (persons)" in html
    assert "Legend" in html and "Grids (village)" in html


def test_unvendored_plugin_raises():
    from folium.plugins import MarkerCluster

    m = folium.Map(tiles=None)
    MarkerCluster().add_to(m)
    with pytest.raises(OfflineAssetError, match="markercluster"):
        localize(m)


def test_inline_html_is_self_contained(layers):
    html = inline_html(build_map(layers))
    assert "<script src=" not in html and "L.map(" in html and "leaflet" in html.lower()


def test_hillshade_overlay_is_png_in_latlon_bounds():
    z = np.add.outer(np.arange(50.0), np.arange(60.0)) * 10
    r = Raster(z, Affine(30, 0, 500_000, 0, -30, 3_150_000), "EPSG:4549", None)
    hs = hillshade(r)
    assert hs.dtype == np.uint8 and hs.min() >= 1
    # a plane tilted down to the north-west... lit from the north-west is uniform
    assert hs[5:-5, 5:-5].std() == 0
    ov = render(hs.astype("float32"), r, grey_ramp())
    assert ov.png[:8] == b"\x89PNG\r\n\x1a\n"
    (s, w), (n, e) = ov.bounds
    assert 28.4 < s < n < 28.5 and 119.9 < w < e < 120.1


def test_overlay_png_keeps_every_pixel_as_a_palette_or_rgba():
    """Class maps go as a palette PNG (colour and alpha per entry), richer images as RGBA: both decode exactly."""
    from io import BytesIO

    from PIL import Image

    from ui.overlay import _encode

    levels = np.array([[0, 0, 0, 0], [26, 152, 80, 200], [254, 224, 139, 200], [215, 48, 39, 230]], np.uint8)
    classes = levels[np.add.outer(np.arange(40), np.arange(30)) % 4]
    rich = np.random.default_rng(1).integers(0, 256, (40, 30, 4), dtype=np.uint8)
    for rgba, mode in ((classes, "P"), (rich, "RGBA")):
        ov = _encode(rgba, [[28.4, 119.6], [28.5, 119.7]])
        img = Image.open(BytesIO(ov.png))
        assert ov.png[:8] == b"\x89PNG\r\n\x1a\n" and img.mode == mode
        np.testing.assert_array_equal(np.asarray(img.convert("RGBA")), rgba)


def test_value_overlay_colours_valid_cells_and_leaves_nodata_clear():
    z = np.arange(20 * 30, dtype="float32").reshape(20, 30)
    z[:5] = np.nan
    r = Raster(z, Affine(0.001, 0, 119.6, 0, -0.001, 28.5), "EPSG:4490", None)
    from io import BytesIO

    from PIL import Image

    ov = value_overlay(r, max_size=30)
    img = np.asarray(Image.open(BytesIO(ov.png)).convert("RGBA"))   # a palette PNG when it has <= 256 colours
    assert img[0, :, 3].max() == 0 and img[-1, :, 3].min() == 200  # nodata rows transparent, data opaque
    assert not np.array_equal(img[-1, 0, :3], img[-1, -1, :3])  # the ramp varies across the values


def test_passive_layers_take_no_click_and_no_popup(layers):
    """The Workspace page's add-a-point map: the layers drawn for orientation let the click through to the map
    (a filled grid or township outline must not swallow it), carry no popup and are not searched."""
    from ui.map_view import StyledGeoJson, find_sources

    m = build_map(layers, lang="zh", online=False, passive=("grids", "roads"))
    geo = {}
    for el in m._children.values():
        for child in [el, *getattr(el, "_children", {}).values()]:
            if isinstance(child, StyledGeoJson):
                geo.setdefault(el.layer_name, child)
    assert geo["避灾安置场所"].options.get("interactive", True) is True and geo["避灾安置场所"].find
    passive = [g for name, g in geo.items() if name != "避灾安置场所"]
    assert len(passive) == 3          # roads, village grids, household grids
    for g in passive:
        assert g.options["interactive"] is False and not g.find
        assert not [c for c in g._children.values() if isinstance(c, (folium.GeoJsonPopup, folium.GeoJsonTooltip))]
    assert [s[0] for s in find_sources(m._children.values())] == [geo["避灾安置场所"]]
    html = m.get_root().render()
    assert '"interactive":false' in html.replace(" ", "")


def test_rasterize_points_draws_each_point_as_a_dot_with_edge_and_centre():
    """Golden pixels: a point is a 3 x 3 dot, centre in the fill colour, ring in the edge colour; elsewhere clear."""
    from io import BytesIO

    from PIL import Image

    from ui.overlay import rasterize_points

    pts = gpd.GeoDataFrame(geometry=[Point(119.60, 28.40), Point(119.70, 28.45), Point(119.65, 28.50)], crs=4490)
    ov = rasterize_points(pts, "#636363", fill="#969696", opacity=1.0, dot_px=3, max_size=100)
    img = np.asarray(Image.open(BytesIO(ov.png)).convert("RGBA"))
    assert max(img.shape[:2]) <= 100 + 2 * 2 + 1              # max_size, plus the margin keeping edge dots whole
    (s, w), (n, e) = ov.bounds
    assert s < 28.40 and n > 28.50 and w < 119.60 and e > 119.70
    centre = np.all(img == [0x96, 0x96, 0x96, 255], axis=-1)
    ring = np.all(img == [0x63, 0x63, 0x63, 255], axis=-1)
    assert centre.sum() == 3 and ring.sum() == 3 * 8          # three whole dots, none clipped at the edges
    assert (img[..., 3] > 0).sum() == 27
    for r, c in zip(*np.nonzero(centre)):
        assert ring[r - 1:r + 2, c - 1:c + 2].sum() == 8
    # the westmost point is in the left columns, the northmost in the top rows
    rows, cols = np.nonzero(centre)
    assert cols.min() <= 2 and rows.min() <= 2


def test_overview_draws_a_big_point_layer_as_dots_hidden_as_its_layer(layers, monkeypatch):
    """A prefecture's buildings (more points than ui.map_view.OVERVIEW_MAX_POINTS) go into the overview as an image
    of dots, on or off at start as the layer is (buildings: off), with its legend row; a township shows them as
    vectors again."""
    import ui.map_view as mv

    monkeypatch.setattr(mv, "OVERVIEW_MAX_POINTS", 50)
    rng = np.random.default_rng(3)
    n = 400
    buildings = gpd.GeoDataFrame({"building_id": [f"B{i}" for i in range(n)],
                                  "township": np.where(np.arange(n) < 20, "城关镇", "东岭乡")},
                                 geometry=gpd.points_from_xy(119.6 + rng.random(n) * 0.05,
                                                             28.4 + rng.random(n) * 0.05), crs=4490)
    grids = layers["grids"].assign(township="城关镇")
    plan = mv.plan_map({**layers, "grids": grids, "buildings": buildings}, budget=100)
    assert plan.overview and "buildings" in plan.images and "buildings" not in plan.layers
    assert "shelters" in plan.layers                           # small point layers stay vectors
    m = build_map(plan.layers, online=False, images=plan.images, simplify_m=plan.simplify_m)
    overlays = [el for el in m._children.values() if isinstance(el, folium.raster_layers.ImageOverlay)]
    assert [o.layer_name for o in overlays] == ["房屋"] and overlays[0].show is False
    html = m.get_root().render()
    assert f"{overlays[0].get_name()}.addTo(" not in html      # off at start, one click away in the control
    from tests.test_palette import _legend

    row = next(r for r in _legend(m) if r.label == "房屋")
    assert row.shape == "square" and row.layer is overlays[0]
    shown = build_map(plan.layers, online=False, images=plan.images, show={"buildings"})
    assert [el.show for el in shown._children.values() if isinstance(el, folium.raster_layers.ImageOverlay)] == [True]
    town = mv.plan_map({**layers, "grids": grids, "buildings": buildings}, focus="城关镇", budget=100)
    assert not town.images and len(town.layers["buildings"]) == 20


def test_an_overview_opens_without_village_grids_a_detail_map_with_them(layers):
    """A big area's overview (a prefecture's 2,500 village grids) opens with the village grids off, in the layer
    control and built when turned on (their spec's ``overview_show``); a map in full detail (a county, a township)
    opens with them, and ``show`` still decides when given."""
    def village_group(m):
        return next(el for el in m._children.values() if isinstance(el, folium.FeatureGroup)
                    and el.layer_name == "网格（村级）")

    assert village_group(build_map(layers, online=False)).show is True
    over = village_group(build_map(layers, online=False, overview=True))
    assert over.show is False
    html = build_map(layers, online=False, overview=True).get_root().render()
    assert "网格（村级）" in html                                 # listed in the layer control
    assert village_group(build_map(layers, online=False, overview=True, show={"grids:village"})).show is True


def test_inline_layer_data_travel_as_json_in_the_page_not_in_the_script(layers):
    """Each layer's data is a JSON element of the page's HTML (parsed with JSON.parse, several times faster than a
    script literal), read by the map's script through its id; the script itself carries no feature."""
    import json
    import re

    from ui.map_view import StyledGeoJson

    m = build_map(layers, online=False)
    html = m.get_root().render()
    script = m.get_root().script.render()
    geo = [el for el in _walk(m) if isinstance(el, StyledGeoJson)]
    assert len(geo) == 4                                       # shelters, roads, village and household grids
    assert [el.shown_at_start() for el in geo].count(False) == 1       # household grids: off at start
    for el in geo:
        found = re.search(f'<script type="application/json" id="{el.data_id}">(.*?)</script>', html, re.S)
        assert found and json.loads(found.group(1)) == el.data
        shown = el.shown_at_start()               # a layer off at start: its element is parsed when shown
        assert (f"GisMap.json({json.dumps(el.data_id)})" in script) is shown
        assert (f"{{gisJson: {json.dumps(el.data_id)}}}" in script) is not shown
    assert "城关小学" not in script and "城关小学" in html


def _walk(el):
    yield el
    for child in getattr(el, "_children", {}).values():
        yield from _walk(child)
