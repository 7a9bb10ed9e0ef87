"""The Operations page in a real browser: its map renders offline, and it refreshes itself when another officer
records an update (from another process), with nobody touching the page."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ARTIFACTS
from tests.test_browser import CHROMIUM, ROOT, _assert_local_only, _map_frame, app_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ops_app(demo_workspace, tmp_path_factory):
    """Streamlit on a copy of the demo county holding one warning; yields (url, workspace folder, warning id)."""
    from gis.ops.session import Operations
    from layers.workspace import Workspace

    folder = tmp_path_factory.mktemp("ops_demo")
    for name in ("workspace.gpkg", "dem.tif"):
        shutil.copy(demo_workspace / name, folder / name)
    ops = Operations(Workspace(folder))
    issued = ops.warn("red", townships=["城关镇"], issuer="值班长")
    wid = issued.warning.warning_id
    snap = ops.snapshot(wid)
    g = snap.grids.iloc[0]
    ops.report(wid, g["grid_id"], moved=int(g["people"]))
    ops.checkin(wid, snap.shelters.loc[snap.shelters["usable"] == 1, "shelter_id"].iloc[0], people=10)
    with app_server(folder, "streamlit_ops.log", wait_s=120) as url:
        yield url, folder, wid, issued.callout.contacts


@pytest.fixture
def page(request):
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


def _acknowledged(pg) -> str:
    """The value of the '已确认/叫应' metric as shown."""
    return pg.evaluate("""() => {
        for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
            if (m.innerText.includes('已确认/叫应')) return m.querySelector('[data-testid="stMetricValue"]').innerText;
        }
        return null;
    }""")


def test_operations_page_map_offline_and_refreshing_by_itself(page, ops_app):
    url, folder, wid, contacts = ops_app
    page.goto(url + "/operations")
    frame = _map_frame(page)
    frame.wait_for_selector(".leaflet-container")
    frame.wait_for_selector(".leaflet-overlay-pane canvas", state="attached")
    controls = frame.inner_text(".leaflet-control-layers")
    assert all(name in controls for name in ("地形晕渲", "网格转移状态", "安置场所占用", "储备库"))
    legend = frame.inner_text(".gis-legend")
    assert all(s in legend for s in ("已预警", "已叫应", "转移中", "已完成", "有问题", "场所已满"))
    page.wait_for_function("document.body.innerText.includes('已确认/叫应')")
    before = _acknowledged(page)
    assert before == f"0/{len(contacts):,}"
    # another officer acknowledges from the command line; the page shows it within a refresh, untouched
    p = subprocess.run([sys.executable, "-m", "gis", "ack", "--workspace", str(folder), "--warning", wid,
                        "--contact", contacts["phone"].iloc[0], "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    page.wait_for_function(f"""() => {{
        for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {{
            if (m.innerText.includes('已确认/叫应'))
                return m.querySelector('[data-testid="stMetricValue"]').innerText === '1/{len(contacts):,}';
        }}
        return false;
    }}""", timeout=150_000)
    page.screenshot(path=str(ARTIFACTS / "operations_page.png"))
    _assert_local_only(page)
