"""The real-browser test: `streamlit run` headless, driven by Debian's Chromium through Playwright.

The network is closed: every request to another host than this machine is aborted, and any such
request fails the test. Asserts that every page opens by its address (``/flood``, ``/fire``,
``/data``, ``/workspace``) with its map drawn from ``static/`` (Leaflet and the app's helpers), that
the language is kept in the address and survives a reload, that widgets keep their values across a
language switch, that the legend lists only the layers that are on and the layer control starts
collapsed on a small screen, and that an upload is validated in the page. Screenshots of every page
at 1440x900 and 1024x768 are kept in tests/artifacts/ (and one of any failure).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Chromium at /usr/bin/chromium: run tests/install.sh")
    pytest.skip("Chromium not installed (bash tests/install.sh installs it)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(workspace: Path, log_name: str, wait_s: float = 90) -> Iterator[str]:
    """``streamlit run app.py`` on a free local port with ``GIS_WORKSPACE=workspace``; yields its URL once healthy.

    The server's output goes to ``tests/artifacts/<log_name>``; it is stopped when the block ends.
    """
    port = _free_port()
    env = dict(os.environ, GIS_WORKSPACE=str(workspace), PYTHONPATH=str(ROOT))
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / log_name, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + wait_s
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            proc.kill()
            pytest.fail(f"streamlit did not start; see tests/artifacts/{log_name}")
        try:
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def app_url(demo_workspace):
    with app_server(demo_workspace, "streamlit.log") as url:
        yield url


@pytest.fixture
def page(app_url, request):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.requests = []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.route("**/*", _offline)   # the network is closed: only this machine answers
        pg.set_default_timeout(180_000)
        yield pg
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def _map_frame(pg, wait_s: float = 150):
    """The streamlit-folium iframe's frame once it has navigated to the component page.

    Reruns replace the iframe element, so the element is looked up afresh on every poll; an iframe
    that is attached but has not navigated yet is scrolled into view (Chromium defers off-screen
    frames) and, after half the wait, the page is reloaded once. The failure message carries what
    the browser saw and the end of the server log so a failure on CI can be read without a rerun.
    """
    pg.wait_for_selector('iframe[title*="streamlit_folium"]', state="attached")
    start, reloaded = time.time(), False
    while time.time() - start < wait_s:
        for el in pg.query_selector_all('iframe[title*="streamlit_folium"]'):
            try:
                fr = el.content_frame()
                if fr is not None and "streamlit_folium" in fr.url:
                    return fr
                el.scroll_into_view_if_needed(timeout=2000)
            except Exception:  # noqa: BLE001 - detached by a rerun; look again
                continue
        for fr in pg.frames:
            if "streamlit_folium" in fr.url:
                return fr
        if not reloaded and time.time() - start > wait_s / 2:
            pg.reload()
            reloaded = True
        time.sleep(0.3)
    srcs = [(el.get_attribute("title"), el.get_attribute("src")) for el in pg.query_selector_all("iframe")]
    log = (ARTIFACTS / "streamlit.log")
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise AssertionError(f"no streamlit-folium frame; iframes={srcs}; frames={[f.url for f in pg.frames]}; "
                         f"server log tail:\n{tail}")


def _offline(route):
    u = urlparse(route.request.url)
    if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in LOCAL_HOSTS:
        return route.abort("internetdisconnected")
    return route.continue_()


def _assert_local_only(pg):
    outside = [u for u in pg.requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname not in LOCAL_HOSTS]
    assert not outside, f"requests left localhost: {outside[:10]}"


def test_map_renders_offline_with_hillshade(page, app_url):
    page.goto(app_url + "/")
    frame = _map_frame(page)
    frame.wait_for_selector(".leaflet-container")
    frame.wait_for_function("""() => {
        const img = document.querySelector('.leaflet-image-layer');
        return img && img.complete && img.naturalWidth > 0;
    }""")
    frame.wait_for_selector(".leaflet-overlay-pane canvas", state="attached")
    controls = frame.inner_text(".leaflet-control-layers")
    # the flood page opens on the default scenario: depth, grids by status, routes, shelters by load
    assert all(name in controls for name in ("地形晕渲", "淹没水深", "网格转移状态", "转移路线", "安置场所负荷"))
    assert frame.locator(".leaflet-image-layer").count() >= 2  # hillshade + depth
    assert "图例" in frame.inner_text(".gis-legend")
    page.screenshot(path=str(ARTIFACTS / "flood_page.png"))
    _assert_local_only(page)


def test_fire_page_map_renders_offline(page, app_url):
    """The forest-fire review's map: risk, coverage, reach and gap layers, legend, nothing from the network."""
    page.goto(app_url + "/fire")
    frame = _map_frame(page)
    frame.wait_for_selector(".leaflet-container")
    frame.wait_for_function("""() => [...document.querySelectorAll('.leaflet-image-layer')]
        .some(img => img.complete && img.naturalWidth > 0)""")
    controls = frame.inner_text(".leaflet-control-layers")
    assert all(name in controls for name in ("森林火险等级", "监控视域覆盖", "水源可达范围", "高火险缺口"))
    legend = frame.inner_text(".gis-legend")
    assert "火险五级 极高" in legend and "缺口" in legend
    # the gaps are on at start, hatched over the risk levels (they once were filled and hid them)
    hatches = frame.evaluate("""() => [...new Set(Object.values(window).filter(v => v instanceof L.GeoJSON)
        .flatMap(v => v.getLayers()).filter(l => l._map && l.options && l.options.hatch).map(l => l.options.hatch))]""")
    assert hatches and set(hatches) <= {"x", "/", "\\"}, hatches
    hatched_rows = frame.evaluate("""() => [...document.querySelectorAll('.gis-legend-row')]
        .filter(r => r.querySelectorAll('svg line').length >= 3).length""")
    assert hatched_rows == 3, hatched_rows      # the legend draws the three gaps' hatching
    page.screenshot(path=str(ARTIFACTS / "fire_page.png"))
    _assert_local_only(page)


def test_upload_is_validated_in_the_page(page, app_url, tmp_path):
    bad = tmp_path / "避难场所.csv"
    bad.write_text("名称,经度,纬度,可容纳人数\n城关小学,119.6,28.4,很多\n", encoding="utf-8")
    good = tmp_path / "shelters.csv"
    good.write_text("名称,经度,纬度,可容纳人数\n城关小学,119.6,28.4,300\n村部,119.61,28.41,80\n", encoding="utf-8")
    page.goto(app_url + "/data")
    page.get_by_text("导入图层").wait_for()
    _wait_idle(page, maps=1)
    _choose_kind(page, "避灾安置场所 (shelters)", "避灾安置场所，带容纳人数与类型")
    page.locator("input[type=file]").first.set_input_files(str(bad))
    page.get_by_text("不是数字").first.wait_for()
    assert "很多" in page.inner_text("body")
    page.locator("input[type=file]").first.set_input_files(str(good))
    page.get_by_text("校验通过：2 个要素").wait_for()
    _wait_idle(page, maps=2)
    page.get_by_role("button", name="在本会话中使用该图层").click()
    page.get_by_text("已替换").first.wait_for()
    # a GeoTIFF DEM without a CRS, in China's lon/lat box: accepted with a warning, previewed as hillshade
    dem = tmp_path / "dem.tif"
    _tiny_dem(dem)
    _wait_idle(page, maps=1)
    _choose_kind(page, "数字高程模型 (dem)", "数字高程模型（GeoTIFF，米）")
    page.locator("input[type=file]").first.set_input_files(str(dem))
    page.get_by_text("校验通过：40 × 50 像元").wait_for()
    _assert_local_only(page)


def _wait_idle(pg, maps: int) -> None:
    """Wait until the script run has finished (``maps`` maps on the page, no 'running' indicator)."""
    pg.wait_for_function(f"document.querySelectorAll('iframe[title*=\"streamlit_folium\"]').length >= {maps}")
    pg.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')")
    pg.wait_for_timeout(500)


def _choose_kind(pg, label: str, expect: str) -> None:
    """Pick ``label`` in the layer-kind select box (typing filters the list; retried if a rerun ate the click)."""
    box = pg.locator("div[data-testid='stSelectbox']").first
    for _ in range(3):
        box.click()
        pg.keyboard.type(label.split(" ")[-1])
        try:
            pg.get_by_role("option", name=label).click(timeout=60_000)
        except Exception:  # noqa: BLE001  the list closed under a rerun: try again
            pg.keyboard.press("Escape")
            continue
        try:  # the kind's description under the box shows the choice took
            pg.get_by_text(expect).first.wait_for(timeout=90_000)
            return
        except Exception:  # noqa: BLE001
            continue
    raise AssertionError(f"could not choose {label}")


def _tiny_dem(path: Path) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    z = np.add.outer(np.arange(40.0), np.arange(50.0)).astype("float32") * 5 + 300
    with rasterio.open(path, "w", driver="GTiff", width=50, height=40, count=1, dtype="float32",
                       transform=from_origin(119.6, 28.5, 0.0003, 0.0003)) as dst:
        dst.write(z, 1)


PAGES = {"/flood": "洪涝转移避险", "/fire": "森林防灭火覆盖", "/data": "数据图层", "/workspace": "工作空间与编辑"}
PAGES_EN = {"/flood": "Flood evacuation", "/fire": "Forest-fire coverage", "/data": "Data layers",
            "/workspace": "Workspace & editing"}


def _open(pg, url: str, header: str) -> None:
    pg.goto(url)
    pg.get_by_role("heading", name=header, exact=True).first.wait_for()
    assert "Page not found" not in pg.inner_text("body")


def test_every_page_by_its_address_offline_at_two_screen_sizes(page, app_url, demo_values):
    """Each page opens by its address, in both languages, with its map, legend and labels drawn offline;
    screenshots kept (``page_<page>_<w>x<h>_<lang>.png`` and ``..._map.png`` with the map scrolled into view)."""
    from tests.language import leaks

    for lang, headers in (("zh", PAGES), ("en", PAGES_EN)):
        for path, header in headers.items():
            for w, h in ((1440, 900), (1024, 768)):
                page.set_viewport_size({"width": w, "height": h})
                _open(page, app_url + path + f"?lang={lang}", header)
                assert f"{path}?lang={lang}" in page.url
                if path == "/workspace":   # the add-a-point map (it once loaded Leaflet from a CDN)
                    page.get_by_text("在地图上点选新增点位" if lang == "zh" else "Add a point by clicking the map",
                                     exact=True).first.click()
                frame = _map_frame(page)
                frame.wait_for_selector(".leaflet-container")
                frame.wait_for_function("() => typeof GisMap === 'object' && document.querySelector('.gis-legend')")
                narrow = frame.evaluate("() => window.innerWidth") < 900
                assert frame.locator(".leaflet-control-layers-expanded").count() == (0 if narrow else 1), (path, w)
                rows = frame.evaluate("""() => [...document.querySelectorAll('.gis-legend-row')]
                    .filter(r => r.style.display !== 'none').map(r => r.innerText.trim())""")
                assert rows, path
                folded = frame.evaluate("() => !document.querySelector('.gis-legend details').open")
                assert folded == narrow, (path, w)      # the legend is folded on a small map
                if path != "/workspace":
                    frame.wait_for_function("() => document.querySelectorAll('.gis-label-box').length > 0")
                _wait_idle(page, maps=1)
                name = f"page_{path.strip('/')}_{w}x{h}_{lang}"
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
                _assert_readable(page, frame, (path, lang, w))
                if lang == "en":   # no Chinese sentence on an English page, outside the data's own values
                    said = leaks([ln for ln in page.inner_text("body").splitlines() if ln.strip() != "中文"],
                                 demo_values)   # the language button names the other language
                    said += leaks(frame.inner_text(".gis-legend").splitlines(), demo_values)
                    said += leaks(frame.inner_text(".leaflet-control-layers").splitlines(), demo_values)
                    assert not said, (path, w, said[:10])
                page.locator('iframe[title*="streamlit_folium"]').first.scroll_into_view_if_needed()
                page.wait_for_timeout(1500)
                page.screenshot(path=str(ARTIFACTS / f"{name}_map.png"))
    _assert_local_only(page)


def _assert_readable(pg, frame, where) -> None:
    """What an officer sees at this size: the page body never scrolls sideways (tables scroll inside their own
    box), no figure, label or button is cut to "…", no box's hint (placeholder) is cut, the sidebar takes at most
    ``SIDEBAR_NARROW_PX`` of a screen up to 1,100 pixels wide, the legend and the layer box together cover at most a
    third of the map, the search box's hint is read whole, and the map is not blank."""
    wide = pg.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wide <= 1, (where, f"the page scrolls sideways by {wide} px")
    cut = pg.evaluate("""() => [...document.querySelectorAll('[data-testid=stMain] *')].filter(e =>
        getComputedStyle(e).textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1
        && e.offsetParent !== null && e.type !== 'file').map(e => e.textContent.slice(0, 40))""")
    assert not cut, (where, "cut to '…'", cut)
    hints = pg.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=stMain] input[placeholder], [data-testid=stMain] textarea[placeholder]')]
        .filter(i => i.placeholder && i.offsetParent !== null).map(i => {
            const s = getComputedStyle(i), c = document.createElement('canvas').getContext('2d');
            c.font = s.fontSize + ' ' + s.fontFamily;
            return [i.placeholder, c.measureText(i.placeholder).width
                    - (i.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight))];
        }).filter(([, over]) => over > 0.5)""")
    assert not hints, (where, "a box's hint is cut (text, pixels over)", hints)
    width = pg.evaluate("""() => { const b = document.querySelector('[data-testid=stSidebar]');
        return b && b.getAttribute('data-collapsed') !== 'true' ? b.getBoundingClientRect().width : 0; }""")
    if pg.viewport_size["width"] <= 1100:
        from ui.i18n import SIDEBAR_NARROW_PX

        assert 0 < width <= SIDEBAR_NARROW_PX + 1, (where, f"the sidebar takes {width:.0f} px of a small screen")
    hint = frame.evaluate("""() => {
        const i = document.querySelector('.gis-find input');
        if (!i) return 0;
        const s = getComputedStyle(i), c = document.createElement('canvas').getContext('2d');
        c.font = s.fontSize + ' ' + s.fontFamily;
        return c.measureText(i.placeholder).width - (i.clientWidth - parseFloat(s.paddingLeft)
                                                     - parseFloat(s.paddingRight));
    }""")
    assert hint <= 0.5, (where, f"the search box's hint is cut by {hint:.0f} px")
    cover = frame.evaluate("""() => {
        const map = document.querySelector('.leaflet-container').getBoundingClientRect();
        const area = r => Math.max(0, Math.min(r.right, map.right) - Math.max(r.left, map.left))
                        * Math.max(0, Math.min(r.bottom, map.bottom) - Math.max(r.top, map.top));
        const boxes = ['.gis-legend', '.leaflet-control-layers']
            .map(s => document.querySelector(s)).filter(Boolean).map(e => area(e.getBoundingClientRect()));
        return boxes.reduce((a, b) => a + b, 0) / (map.width * map.height);
    }""")
    assert cover <= 0.34, (where, f"the legend and layer box cover {cover:.0%} of the map")
    drawn = frame.evaluate("""() => document.querySelectorAll(
        '.leaflet-image-layer, .leaflet-overlay-pane canvas, .leaflet-overlay-pane svg path, .leaflet-marker-icon')
        .length""")
    assert drawn > 0, (where, "the map is blank")


def test_workspace_map_click_picks_a_point_through_the_outlines(page, app_url):
    """On the Workspace page's add-a-point map a click inside a township (its filled outline is drawn) picks that
    point: its coordinates are written under the map and it is drawn on the map, which is not rebuilt."""
    page.set_viewport_size({"width": 1440, "height": 900})
    _open(page, app_url + "/workspace?lang=zh", "工作空间与编辑")
    page.get_by_text("在地图上点选新增点位", exact=True).first.click()
    frame = _map_frame(page)
    frame.wait_for_function("() => typeof GisMap === 'object' && document.querySelector('.gis-legend')")
    assert "行政区界（乡镇级）" in frame.inner_text(".leaflet-control-layers")   # outlines for finding one's way
    _wait_idle(page, maps=1)
    box = frame.locator(".leaflet-container").bounding_box()
    # a click on an existing shelter opens its popup (as it should) and picks nothing: click where none is
    for fx, fy in ((0.55, 0.55), (0.45, 0.62), (0.62, 0.45), (0.5, 0.72), (0.4, 0.5)):
        frame.locator(".leaflet-container").click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        page.wait_for_timeout(1500)
        if not frame.locator(".leaflet-popup-content").count():
            break
        frame.locator(".leaflet-popup-close-button").first.click()
    page.get_by_text("所选位置").first.wait_for()
    frame = _map_frame(page)
    frame.wait_for_function("() => window.feature_group && window.feature_group.some(g => g._map)")
    assert frame.locator(".leaflet-popup").count() == 0      # no outline's popup took the click
    page.screenshot(path=str(ARTIFACTS / "page_workspace_picked.png"))
    _assert_local_only(page)


def test_legend_follows_the_layer_control(page, app_url):
    page.set_viewport_size({"width": 1440, "height": 900})
    _open(page, app_url + "/data", "数据图层")
    frame = _map_frame(page)
    frame.wait_for_function("() => document.querySelectorAll('.gis-legend-row').length > 0")

    def shown(label):
        return frame.evaluate("""(t) => [...document.querySelectorAll('.gis-legend-row')]
            .some(r => r.style.display !== 'none' && r.innerText.trim() === t)""", label)
    assert shown("村庄") and not shown("视频监控")     # on and off at start, as the specs say
    frame.get_by_text("村庄", exact=True).first.click()   # the layer control's entry
    frame.wait_for_function("""() => ![...document.querySelectorAll('.gis-legend-row')]
        .some(r => r.style.display !== 'none' && r.innerText.trim() === '村庄')""")
    frame.get_by_text("视频监控", exact=True).first.click()
    frame.wait_for_function("""() => [...document.querySelectorAll('.gis-legend-row')]
        .some(r => r.style.display !== 'none' && r.innerText.trim() === '视频监控')""")
    # Streamlit's upload box speaks the page's language; stale results are greyed while a page reruns
    content = page.evaluate("""() => getComputedStyle(document.querySelector(
        '[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p'), '::after').content""")
    assert "选择文件" in content
    assert page.evaluate("""() => [...document.styleSheets].some(s => { try { return [...s.cssRules]
        .some(r => (r.selectorText || '').includes('data-stale')); } catch (e) { return false; } })""")
    _assert_local_only(page)


def test_language_is_kept_in_the_address_and_widgets_keep_their_values(page, app_url):
    page.set_viewport_size({"width": 1440, "height": 900})
    _open(page, app_url + "/fire?lang=en", "Forest-fire coverage")
    page.reload()
    page.get_by_role("heading", name="Forest-fire coverage", exact=True).wait_for()
    assert "lang=en" in page.url
    _open(page, app_url + "/flood?lang=en", "Flood evacuation")
    page.get_by_text("Scenario from").first.wait_for()
    _wait_idle(page, maps=1)
    page.get_by_role("button", name="中文").click()
    page.get_by_role("heading", name="洪涝转移避险", exact=True).wait_for()
    page.wait_for_function("location.search.includes('lang=zh')")
    page.get_by_text("情景来源").first.wait_for()
    _wait_idle(page, maps=1)
    checked = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stRadio]')]
        .map(r => [...r.querySelectorAll('input')].some(i => i.checked))""")
    assert checked and all(checked), checked           # every radio still shows its choice
    _assert_local_only(page)


def test_shared_map_layers_are_fetched_when_shown_and_searched(page, app_url, demo_workspace):
    """The Data page's shared map carries its big layers as files (ui.map_files): those shown at start are fetched
    and drawn, those off at start are not fetched until turned on, and the find box fetches them to search."""
    import pyogrio

    name = str(pyogrio.read_dataframe(demo_workspace / "workspace.gpkg", layer="water_sources",
                                      read_geometry=False)["name"].dropna().iloc[0])
    _open(page, app_url + "/data", "数据图层")
    frame = _map_frame(page)
    frame.wait_for_function("() => typeof GisMap === 'object' && GisMap.pending === 0 "
                            "&& document.querySelector('.leaflet-overlay-pane canvas')")
    state = frame.evaluate("""() => Object.values(window).filter(v => v instanceof L.GeoJSON && v._gisUrl)
        .map(v => ({url: v._gisUrl, loading: !!v._gisLoading, n: v.getLayers().length}))""")
    assert state and all(s["url"].startswith("/app/static/shared/") for s in state)
    # compressed once when written, served as it is (never compressed again per request), inflated by the browser
    assert all(s["url"].endswith(".json.gz") for s in state)
    req = urllib.request.Request(app_url + state[0]["url"], headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers.get("Content-Encoding") is None and resp.headers["Content-Type"] == "application/gzip"
        assert resp.read(2) == b"\x1f\x8b"
    assert any(s["loading"] and s["n"] > 0 for s in state)          # shown at start: fetched and drawn
    assert any(not s["loading"] and s["n"] == 0 for s in state)     # off at start: not fetched
    frame.fill(".gis-find input", name)
    frame.wait_for_function("(t) => [...document.querySelectorAll('.gis-find-item')]"
                            ".some(i => i.innerText.includes(t))", arg=name)
    assert frame.evaluate("""() => GisMap.pending === 0 && Object.values(window)
        .filter(v => v instanceof L.GeoJSON && v._gisUrl).every(v => v._gisLoading && v.getLayers().length > 0)""")
    _assert_local_only(page)
