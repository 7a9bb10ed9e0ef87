"""Many lines on one canvas (GisMap.Lines in static/gis/gismap.js), in headless Chromium: a layer of GisMap.LINES_MIN
or more lines (a prefecture's roads or rivers) is drawn on a canvas of its own under the other layers, not as one
Leaflet polyline per line, and its tooltips (the hovered line drawn thicker), popups and the search box still work on
each line; a smaller layer stays a GeoJSON layer of polylines."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium not installed (bash tests/install.sh installs it)", allow_module_level=True)
pytest.importorskip("playwright")


def _lines(n: int) -> dict:
    """``n`` short lines on a 40-column lattice, every tenth a MultiLineString of two pieces."""
    feats = []
    for i in range(n):
        x, y = 119.4 + (i % 40) * 0.012, 28.2 + (i // 40) * 0.012
        if i % 10 == 3:
            geom = {"type": "MultiLineString",
                    "coordinates": [[[x, y], [x + 0.004, y]], [[x + 0.005, y], [x + 0.008, y]]]}
        else:
            geom = {"type": "LineString", "coordinates": [[x, y], [x + 0.004, y + 0.001], [x + 0.008, y]]}
        feats.append({"type": "Feature", "geometry": geom,
                      "properties": {"name": f"河{i:04d}", "river_class": "主干" if i % 2 else "支流"}})
    return {"type": "FeatureCollection", "features": feats}


def _page(folder: Path, n: int, fetched: bool = False) -> Path:
    import folium

    from tests.test_browser_dots import write_map_page
    from ui.map_view import StyledGeoJson, path_style

    data = _lines(n)
    styles = {"主干": path_style("#2171b5", weight=3), "支流": path_style("#6baed6", weight=1.5, dash="4 3")}
    layer = StyledGeoJson(data, styles, "river_class", popup=folium.GeoJsonPopup(fields=["name", "river_class"]),
                          tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False), find=("name",))
    return write_map_page(folder, "河流", layer, data, fetched)


_MAP = "(() => { for (const k in window) { const v = window[k]; if (v instanceof L.Map) return v; } })()"


@pytest.mark.parametrize("n,fetched", [(1200, False), (300, False), (1200, True)])
def test_many_lines_go_on_one_canvas_and_keep_tooltips_popups_and_search(tmp_path, n, fetched):
    from tests.test_browser_dots import opened

    with opened(_page(tmp_path / "www", n, fetched), "_partAt") as (pg, errors, name):
        if n < 1000:                                    # below GisMap.LINES_MIN: a GeoJSON layer of polylines
            assert name is None and not pg.query_selector("canvas.gis-lines")
            assert pg.evaluate(f"() => Object.keys({_MAP}._layers).length") > n
            assert not errors, errors
            return
        assert name is not None and pg.query_selector("canvas.gis-lines")
        assert pg.evaluate(f"() => window['{name}']._features.length") == n
        # one map layer for all of them, not one per line; its canvas first in the pane (under points and areas)
        assert pg.evaluate(f"() => Object.keys({_MAP}._layers).length") < 50
        assert pg.evaluate("() => document.querySelector('.leaflet-overlay-pane').firstElementChild"
                           ".classList.contains('gis-lines')")
        pg.evaluate(f"() => {_MAP}.setView([28.26, 119.46], 14, {{animate: false}})")
        pg.wait_for_timeout(500)
        # a thick line (主干, odd index) on screen: the pointer on the middle of its first piece
        hit = pg.evaluate(f"""() => {{
          const d = window['{name}'], m = {_MAP}, box = m.getContainer().getBoundingClientRect(), size = m.getSize();
          for (let i = 1; i < d._features.length; i += 2) {{
            const g = d._features[i].geometry, line = g.type === "LineString" ? g.coordinates : g.coordinates[0];
            const p = m.latLngToContainerPoint([(line[0][1] + line[1][1]) / 2, (line[0][0] + line[1][0]) / 2]);
            if (p.x > 100 && p.y > 100 && p.x < size.x - 100 && p.y < size.y - 100)
              return {{x: box.left + p.x, y: box.top + p.y, cx: p.x, cy: p.y, i: i,
                      name: d._features[i].properties.name}};
          }}
          return null;
        }}""")
        assert hit is not None
        # drawn: the canvas has the line's colour under it, and nothing a few pixels above it (lines 0.012° apart)
        pixel = """(pt) => { const c = document.querySelector('canvas.gis-lines'), r = window.devicePixelRatio || 1;
          const x = Math.round(pt[0] * r), y = Math.round(pt[1] * r);
          return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data); }"""
        assert pg.evaluate(pixel, [hit["cx"], hit["cy"]])[3] > 0
        assert pg.evaluate(pixel, [hit["cx"], hit["cy"] - 12])[3] == 0
        pg.mouse.move(hit["x"], hit["y"] + 2)                       # within reach of the line, not on its centre
        pg.wait_for_selector(".leaflet-tooltip", timeout=30_000)
        assert hit["name"] in pg.inner_text(".leaflet-tooltip")
        assert pg.evaluate(f"() => window['{name}']._hover") == hit["i"]   # drawn thicker while hovered
        pg.mouse.click(hit["x"], hit["y"])
        pg.wait_for_selector(".leaflet-popup-content", timeout=30_000)
        popup = pg.inner_text(".leaflet-popup-content")
        assert hit["name"] in popup and "主干" in popup
        pg.mouse.click(5, 400)                          # away: the popup closes, nothing hovered
        pg.wait_for_selector(".leaflet-popup-content", state="detached", timeout=30_000)
        assert pg.evaluate(f"() => window['{name}']._hover") == -1
        other = pg.evaluate(f"() => window['{name}']._features[n - 7].properties".replace("n - 7", str(n - 7)))
        pg.fill(".gis-find input", other["name"])
        pg.click(".gis-find-item")
        pg.wait_for_selector(".leaflet-popup-content", timeout=30_000)
        assert other["name"] in pg.inner_text(".leaflet-popup-content")
        # the search zoomed to that line: its bounds inside the view
        inside = pg.evaluate(f"() => {_MAP}.getBounds().contains(window['{name}']._bounds({n - 7}))")
        assert inside
    assert not errors, errors
