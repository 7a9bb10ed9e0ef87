"""Many points on one canvas (GisMap.Dots in static/gis/gismap.js), in headless Chromium: a layer of GisMap.DOTS_MIN
or more points is drawn on a canvas of its own, not as one Leaflet marker per point, and its popups, tooltips and the
search box still work on each point; a smaller layer stays a GeoJSON layer."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium not installed (bash tests/install.sh installs it)", allow_module_level=True)
pytest.importorskip("playwright")


def _page(folder: Path, n: int, fetched: bool = False) -> Path:

    import folium

    from ui.map_view import StyledGeoJson, path_style

    rng = np.random.default_rng(7)
    lon, lat = 119.4 + rng.random(n) * 0.5, 28.2 + rng.random(n) * 0.5
    status = np.where(np.arange(n) % 3 == 0, "done", "warned")
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
         "properties": {"grid_id": f"G{i:05d}", "name": f"网格{i:05d}", "_s": str(s)}}
        for i, (x, y, s) in enumerate(zip(lon, lat, status))]}
    styles = {"done": path_style("#1a9850", fill="#1a9850", shape="square", radius=3.5),
              "warned": path_style("#6baed6", fill="#6baed6", shape="circle", radius=3.5)}
    layer = StyledGeoJson(data, styles, "_s", popup=folium.GeoJsonPopup(fields=["grid_id", "name"]),
                          tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False), find=("grid_id", "name"))
    return write_map_page(folder, "网格转移状态", layer, data, fetched)


def write_map_page(folder: Path, name: str, layer, data: dict, fetched: bool) -> Path:
    """``folder/map.html``: a map (``ui.map_view.build_map``) with ``layer`` (holding ``data``) in a group ``name``;
    ``fetched``: the data fetched from ``folder/layer.json``, as a map every session shares (ui.map_files)."""
    import json

    import folium

    from ui.assets import inline_html
    from ui.map_view import build_map

    grp = folium.FeatureGroup(name=name)
    layer.add_to(grp)
    m = build_map({}, online=False, extra=([grp], []))
    folder.mkdir(parents=True, exist_ok=True)
    if fetched:
        (folder / "layer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        layer.url = "layer.json"
    out = folder / "map.html"
    out.write_text(inline_html(m), encoding="utf-8")
    return out


def canvas_layer(marker: str) -> str:
    """JavaScript finding the canvas layer (GisMap.Dots, GisMap.Lines) with attribute ``marker`` on the page: the
    name of the window variable holding it (inline data), or ``__canvas``, set to the one inside a fetched layer."""
    return """() => {
  for (const k in window) { const v = window[k]; if (v && v._features && v.MARK) return k; }
  for (const k in window) {   // a layer whose features were fetched: the canvas layer drawn inside it
    const v = window[k];
    if (v && v._gisDots && v._layers) {
      const d = Object.values(v._layers).find(l => l._features && l.MARK);
      if (d) { window.__canvas = d; return "__canvas"; }
    }
  }
  return null;
}""".replace("MARK", marker)



@contextlib.contextmanager
def opened(page_file: Path, marker: str):
    """``page_file`` served from 127.0.0.1 and opened in headless Chromium (1200x800) until its map has drawn:
    yields the page, the list its script errors go to, and the name :func:`canvas_layer` finds (or None)."""
    from playwright.sync_api import sync_playwright

    from bench.browser import serve

    errors: list[str] = []
    with serve(page_file.parent) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            pg = browser.new_page(viewport={"width": 1200, "height": 800})
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(url + "/" + page_file.name)
            pg.wait_for_selector(".leaflet-overlay-pane canvas", state="attached", timeout=120_000)
            pg.wait_for_timeout(500)
            yield pg, errors, pg.evaluate(canvas_layer(marker))
        finally:
            browser.close()


@pytest.mark.parametrize("n,fetched", [(2500, False), (300, False), (2500, True)])
def test_many_points_go_on_one_canvas_and_keep_popups_tooltips_and_search(tmp_path, n, fetched):
    with opened(_page(tmp_path / "www", n, fetched), "_grid") as (pg, errors, name):
        if n < 2500:                                    # below GisMap.DOTS_MIN: a GeoJSON layer of markers
            assert name is None and not pg.query_selector("canvas.gis-dots")
            assert not errors, errors
            return
        assert name is not None and pg.query_selector("canvas.gis-dots")
        assert pg.evaluate(f"() => window['{name}']._features.length") == n
        pg.evaluate("""() => { for (const k in window) { const v = window[k];
          if (v instanceof L.Map) { v.setView([28.45, 119.65], 13, {animate: false}); return; } } }""")
        pg.wait_for_timeout(500)                        # redrawn at a zoom where the dots lie apart
        # a dot drawn on screen, away from the others (so the pointer finds that one)
        dot = pg.evaluate(f"""() => {{
          const d = window['{name}'], box = document.querySelector('.leaflet-container').getBoundingClientRect();
          for (const cell of Object.values(d._grid)) {{
            if (cell.length !== 1) continue;
            const i = cell[0];
            let alone = true;
            for (const list of Object.values(d._grid)) for (const j of list)
              if (j !== i && Math.hypot(d._xs[j] - d._xs[i], d._ys[j] - d._ys[i]) < 12) alone = false;
            if (alone) return {{x: box.left + d._xs[i], y: box.top + d._ys[i], id: d._features[i].properties.grid_id,
                                name: d._features[i].properties.name}};
          }}
          return null;
        }}""")
        assert dot is not None
        pg.mouse.move(dot["x"], dot["y"])
        pg.wait_for_selector(".leaflet-tooltip", timeout=30_000)
        assert dot["name"] in pg.inner_text(".leaflet-tooltip")
        pg.mouse.click(dot["x"], dot["y"])
        pg.wait_for_selector(".leaflet-popup-content", timeout=30_000)
        assert dot["id"] in pg.inner_text(".leaflet-popup-content")
        pg.mouse.click(5, 400)                          # away: the popup closes
        pg.wait_for_selector(".leaflet-popup-content", state="detached", timeout=30_000)
        other = pg.evaluate(f"() => window['{name}']._features[7].properties")
        pg.fill(".gis-find input", other["grid_id"])
        pg.click(".gis-find-item")
        pg.wait_for_selector(".leaflet-popup-content", timeout=30_000)
        assert other["name"] in pg.inner_text(".leaflet-popup-content")
    assert not errors, errors


def test_points_sent_by_column_are_rebuilt_exactly_in_the_browser(tmp_path):
    """A big layer of points goes to the page by column (ui.map_points); GisMap.unpack rebuilds the very features
    (texts with shared starts and ends, tables, numbers, nulls, characters beyond UTF-16's single units)."""
    import json

    import folium
    from playwright.sync_api import sync_playwright

    from bench.browser import serve
    from tests.test_map_points import _fc
    from ui.assets import inline_html
    from ui.map_view import StyledGeoJson, build_map, path_style

    data = _fc(3000)
    grp = folium.FeatureGroup(name="网格")
    StyledGeoJson(data, {s: path_style("#6baed6", fill="#6baed6", radius=3) for s in ("warned", "done", "problem")},
                  "_s", popup=folium.GeoJsonPopup(fields=["grid_id", "name", "status"])).add_to(grp)
    m = build_map({}, online=False, extra=([grp], []))
    folder = tmp_path / "www"
    folder.mkdir()
    html = inline_html(m)
    assert '"GisPoints"' in html and "WG3399081010000009" not in html      # ids: each the end that changes
    (folder / "map.html").write_text(html, encoding="utf-8")
    errors: list[str] = []
    with serve(folder) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1000, "height": 700})
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url + "/map.html", timeout=180_000)           # a loaded shared machine takes its time
        pg.wait_for_selector("canvas.gis-dots", state="attached", timeout=120_000)
        name = pg.evaluate(canvas_layer("_grid"))
        rebuilt = json.loads(pg.evaluate(f"() => JSON.stringify(window['{name}']._features)"))
        browser.close()
    assert not errors, errors
    assert rebuilt == data["features"]


def test_layer_off_at_start_is_built_when_shown_or_searched(tmp_path):
    """Inline layer data (a JSON element of the page) is built into Leaflet layers only when the layer is first put on
    the map or searched: a layer off at start costs its parse, not its markers; once shown it draws, and the find box
    finds its features (and turns it on) before it was ever shown."""
    import folium
    from playwright.sync_api import sync_playwright

    from bench.browser import serve
    from ui.assets import inline_html
    from ui.map_view import StyledGeoJson, build_map, path_style

    def layer(name: str, ids: str, lon0: float, show: bool):
        data = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon0 + 0.01 * i, 28.3 + 0.01 * i]},
             "properties": {"grid_id": f"{ids}{i:03d}", "name": f"{name}{i:03d}"}} for i in range(40)]}
        grp = folium.FeatureGroup(name=name, show=show)
        gj = StyledGeoJson(data, {"": path_style("#1a9850", fill="#1a9850", shape="circle", radius=4)},
                           popup=folium.GeoJsonPopup(fields=["grid_id", "name"]), find=("grid_id", "name"))
        gj.add_to(grp)
        return grp, gj

    on, on_gj = layer("甲层", "A", 119.4, True)
    off, off_gj = layer("乙层", "B", 119.45, False)
    m = build_map({}, online=False, extra=([on, off], []))
    www = tmp_path / "www"
    www.mkdir()
    (www / "map.html").write_text(inline_html(m), encoding="utf-8")
    errors: list[str] = []
    count = "(n) => window[n].getLayers().length"
    with serve(www) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1200, "height": 800})
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url + "/map.html")
        pg.wait_for_selector(".leaflet-overlay-pane canvas", state="attached", timeout=60_000)
        assert pg.evaluate(count, on_gj.get_name()) == 40           # shown at start: built and drawn
        assert pg.evaluate(count, off_gj.get_name()) == 0           # off at start: not built yet
        pg.fill(".gis-find input", "B007")
        pg.click(".gis-find-item")
        pg.wait_for_selector(".leaflet-popup-content", timeout=30_000)
        assert "乙层007" in pg.inner_text(".leaflet-popup-content")
        assert pg.evaluate(count, off_gj.get_name()) == 40
        assert pg.evaluate(f"() => {m.get_name()}.hasLayer({off.get_name()})")   # the search turned it on
        browser.close()
    assert not errors, errors
