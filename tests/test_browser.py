"""The real-browser test: `streamlit run` headless, driven by Debian's Chromium through Playwright.

Asserts that the Leaflet map and the hillshade overlay rendered, that the layer control and legend
are there, that an upload is validated in the page, and that no request left localhost. A
screenshot is saved to tests/artifacts/ on failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
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


@pytest.fixture(scope="module")
def app_url(demo_workspace):
    port = _free_port()
    env = dict(os.environ, GIS_WORKSPACE=str(demo_workspace), PYTHONPATH=str(ROOT))
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start; see tests/artifacts/streamlit.log")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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
            pg.get_by_role("option", name=label).click(timeout=15_000)
        except Exception:  # noqa: BLE001  the list closed under a rerun: try again
            pg.keyboard.press("Escape")
            continue
        try:  # the kind's description under the box shows the choice took
            pg.get_by_text(expect).first.wait_for(timeout=15_000)
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
