"""First render of a self-contained map page in headless Chromium (Debian's), through Playwright.

The page is served from a local ``http.server`` on 127.0.0.1 in a thread. Each measurement starts
a fresh browser with a fresh profile (no cache), navigates, and reads ``performance.now()`` (ms
since navigation start) once the ``load`` event has fired, Leaflet has put its vector renderer
(canvas, or SVG for maps without ``prefer_canvas``) or markers on the map, and two animation
frames have passed (so the first frame with the layers drawn has been painted). Requests to any
host other than localhost are aborted and recorded.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
VIEWPORT = {"width": 1400, "height": 900}
#: seconds past a render's timeout after which its renderer is killed (Playwright's timeout waits on a busy page)
WATCHDOG_MARGIN_S = 30.0

#: runs before the page's own scripts: sets window.__benchDone to performance.now() once drawn
_PROBE = """
(() => {
  window.__benchLoaded = false;
  window.__benchDone = null;
  window.addEventListener('load', () => { window.__benchLoaded = true; });
  const drawn = () => {
    const pane = document.querySelector('.leaflet-overlay-pane');
    const vec = pane ? pane.querySelectorAll('canvas, svg').length : 0;
    const markers = document.querySelectorAll('.leaflet-marker-pane > *').length;
    return vec + markers > 0;
  };
  const fetching = () => window.GisMap && window.GisMap.pending > 0;   // layers shown at start, fetched as files
  const poll = () => {
    if (window.__benchLoaded && drawn() && !fetching()) {
      requestAnimationFrame(() => requestAnimationFrame(() => { window.__benchDone = performance.now(); }));
    } else {
      requestAnimationFrame(poll);
    }
  };
  requestAnimationFrame(poll);
})();
"""


_PHASES = """
(() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {response_end: n.responseEnd, dom_interactive: n.domInteractive, load_end: n.loadEventEnd};
})()
"""


@dataclass
class Render:
    """One first-render measurement.

    Attributes
    ----------
    ms : float or None
        ``performance.now()`` when drawn (ms from navigation start); None on timeout.
    timed_out : bool
        The map was not drawn within the time limit.
    js_heap_mb : float or None
        JS heap in use once drawn (Chrome DevTools ``Performance.getMetrics``), 10^6 bytes.
    dom_nodes : int or None
        DOM nodes once drawn.
    vector_elements : int or None
        Canvas/SVG elements in Leaflet's overlay pane plus markers in its marker pane.
    external : list of str
        URLs of requests to hosts other than localhost (aborted).
    errors : list of str
        Uncaught page errors.
    phases : dict
        Navigation timing marks, ms since navigation start: ``response_end`` (HTML received),
        ``dom_interactive`` (HTML parsed and its inline scripts run: the map and every layer built),
        ``load_end`` (load event done), ``drawn`` (= ``ms``).
    """

    ms: float | None
    timed_out: bool = False
    js_heap_mb: float | None = None
    dom_nodes: int | None = None
    vector_elements: int | None = None
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def write_app_page(m, folder: Path, name: str = "app.html") -> dict[str, int]:
    """Write map ``m`` (from :func:`ui.map_view.build_map`, not rendered yet) to ``folder/name`` as the app sends a
    map every session shares: its big layers and images moved to shared files the browser fetches
    (:func:`ui.map_files.externalize`, in ``static/shared/``), the rest inline; ``folder/app/static`` points at
    the app's static folder, so :func:`serve` serves those files at the addresses the page asks for.

    Returns
    -------
    dict
        :func:`ui.map_files.externalize`'s counts, plus ``message_bytes`` (the page's HTML, JSON-escaped: what
        streamlit sends in the session's message).
    """
    import json

    from ui.assets import STATIC_DIR, inline_html
    from ui.map_files import externalize

    moved = externalize(m)
    html = m.get_root().render()
    (folder / name).write_text(inline_html(m), encoding="utf-8")
    link = folder / "app" / "static"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(STATIC_DIR, target_is_directory=True)
    return moved | {"message_bytes": len(json.dumps(html))}


def copy_leaflet_images(folder: Path, images: Path) -> None:
    """Put Leaflet's ``images/`` beside pages in ``folder`` (inlined Leaflet CSS refers to ``images/...``)."""
    if images.is_dir() and not (folder / "images").exists():
        shutil.copytree(images, folder / "images")


def _is_local(url: str) -> bool:
    p = urlparse(url)
    if p.scheme in ("data", "blob", "about", "chrome", "devtools"):
        return True
    return (p.hostname or "") in LOCAL_HOSTS


def first_render(url: str, *, chromium: Path, timeout_s: float = 120.0) -> Render:
    """Open ``url`` in a fresh headless Chromium and time its first render.

    Parameters
    ----------
    url : str
        A page on a local server.
    chromium : Path
        The Chromium executable (never downloaded).
    timeout_s : float
        Give up after this long (the result then has ``timed_out``).

    Returns
    -------
    Render
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    external: list[str] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=str(chromium), headless=True,
                                                    args=CHROMIUM_ARGS, viewport=VIEWPORT)
        timed_out = False
        try:
            def route(r):
                if _is_local(r.request.url):
                    r.continue_()
                else:
                    r.abort()

            ctx.route("**/*", route)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("request", lambda req: None if _is_local(req.url) else external.append(req.url))
            page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
            page.add_init_script(_PROBE)
            page.set_default_timeout(timeout_s * 1000)
            # Playwright's own timeout does not fire while the page's main thread never yields (a peer page of
            # tens of MB): past it (and a margin) a watchdog kills the renderer, which ends the wait with an error
            watchdog = threading.Timer(timeout_s + WATCHDOG_MARGIN_S, _kill_renderers)
            watchdog.start()
            try:
                page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
                page.wait_for_function("window.__benchDone !== null", timeout=timeout_s * 1000, polling=50)
                ms = float(page.evaluate("window.__benchDone"))
            except PlaywrightError as exc:
                if "Timeout" not in str(exc) and not watchdog.finished.is_set():
                    raise
                timed_out, ms = True, None
            finally:
                watchdog.cancel()
            heap = nodes = elements = None
            phases: dict[str, float] = {}
            if ms is not None:
                try:
                    phases = page.evaluate(_PHASES)
                    phases["drawn"] = ms
                except PlaywrightError:
                    pass
            try:
                if timed_out:   # the page's main thread is still busy: an evaluate would wait for it forever
                    raise PlaywrightError("timed out: no metrics")
                cdp = ctx.new_cdp_session(page)
                cdp.send("Performance.enable")
                metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                heap = metrics.get("JSHeapUsedSize", 0) / 1e6
                nodes = int(metrics.get("Nodes", 0))
                elements = int(page.evaluate(
                    "document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane svg,"
                    " .leaflet-marker-pane > *').length"))
            except PlaywrightError:
                pass
        finally:
            if timed_out:       # a renderer still busy with the page keeps ctx.close() waiting: end it first
                _kill_renderers()
            ctx.close()
    return Render(ms=ms, timed_out=timed_out, js_heap_mb=heap, dom_nodes=nodes, vector_elements=elements,
                  external=external, errors=errors, phases=phases)


@dataclass
class SideBySide:
    """First renders of ``ours.html`` and ``peer.html``: best time, non-local requests, phases and errors per side."""

    best: dict[str, float | None] = field(default_factory=lambda: {"ours": None, "app": None, "peer": None})
    outside: dict[str, int] = field(default_factory=lambda: {"ours": 0, "app": 0, "peer": 0})
    phases: dict[str, dict] = field(default_factory=lambda: {"ours": {}, "app": {}, "peer": {}})
    errors: dict[str, list[str]] = field(default_factory=lambda: {"ours": [], "app": [], "peer": []})


def render_both(www: Path, *, chromium: Path | None, repeats: int, log, name: str,
                timeout_s: float = 180.0) -> SideBySide:
    """Serve ``www`` and time the first render of ``ours.html`` (``repeats`` times), ``app.html`` when there is one
    (ours as the app sends it: :func:`write_app_page`; ``repeats`` times) and ``peer.html`` (once).

    Parameters
    ----------
    www : pathlib.Path
        Folder holding ``ours.html`` and ``peer.html`` (Leaflet's images are copied beside them).
    chromium : pathlib.Path or None
        The browser; None leaves every figure empty.
    repeats : int
        Runs of our page (the best counts; the peer, far slower, runs once).
    log : callable
        Progress lines (``ctx.log``).
    name : str
        Benchmark name for the log.
    timeout_s : float
        Limit per render.

    Returns
    -------
    SideBySide
    """
    from ui.assets import STATIC_DIR

    copy_leaflet_images(www, STATIC_DIR / "vendor" / "leaflet" / "images")
    out = SideBySide()
    if chromium is None:
        return out
    with serve(www) as base:
        for side in ("ours", "app", "peer"):
            if not (www / f"{side}.html").exists():
                continue
            times: list[float] = []
            for _ in range(repeats if side != "peer" else 1):
                r = first_render(f"{base}/{side}.html", chromium=chromium, timeout_s=timeout_s)
                out.outside[side] = max(out.outside[side], len(r.external))
                out.errors[side] += r.errors
                if r.ms is not None:
                    times.append(r.ms)
                    if r.ms == min(times):
                        out.phases[side] = r.phases
            out.best[side] = min(times) if times else None
            log(f"  {name}: {side} render best {out.best[side]} ms")
    return out


# ---- many sessions of the app at once -------------------------------------------------------------------------
#: true once the streamlit-folium map has drawn: Leaflet's container, and a vector canvas or an image loaded
_MAP_READY = """() => {
  const c = document.querySelector('.leaflet-container');
  if (!c) return false;
  if (window.GisMap && window.GisMap.pending > 0) return false;   // layers shown at start still being fetched
  const vec = document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane svg').length;
  const img = [...document.querySelectorAll('.leaflet-image-layer')].some(i => i.complete && i.naturalWidth > 0);
  return vec > 0 || img;
}"""


@dataclass
class Wave:
    """One wave of sessions opened together: seconds from navigation to map ready (None: timed out) and to the
    map's frame arriving (the server has sent the map: the rest is the browser drawing it), the server's
    resident memory (MB) before, at its peak during the wave, and after the sessions closed; the CPU seconds the
    server (its process, its threads and its children, from /proc) and the browser (Chromium and Playwright's
    driver, as reaped children of this process) spent from the wave's start until its sessions closed: on a
    shared machine a steadier measure of the work than the wall time.

    Per session (each session is its own Chromium, as each officer has their own browser): ``own_cpu_s``, the CPU
    seconds its browser (every process of it) spent from navigation to map ready, and ``cpu_wait_s``, the seconds
    its page's thread (the main thread of each of its renderer processes: Streamlit's frontend, the map's frame,
    Leaflet) stood ready to run but waiting for a CPU in that time (Linux ``/proc/PID/task/TID/schedstat``, the
    run-queue delay). :attr:`fair_s` is the map-ready time without that wait: what the session would have taken
    had its page's thread had a CPU of its own (its own PC), everything else as measured."""

    sessions: int
    ready_s: list[float | None]
    frame_s: list[float | None] = field(default_factory=list)
    rss_before_mb: float | None = None
    rss_peak_mb: float | None = None
    rss_after_mb: float | None = None
    errors: list[str] = field(default_factory=list)
    external: int = 0
    server_cpu_s: float | None = None
    browser_cpu_s: float | None = None
    own_cpu_s: list[float | None] = field(default_factory=list)
    cpu_wait_s: list[float | None] = field(default_factory=list)
    browser_nice: int = 0

    @property
    def fair_s(self) -> list[float | None]:
        """Map ready minus the time the session's page thread waited for a CPU (None where either is missing)."""
        return [None if r is None or w is None else r - w for r, w in zip(self.ready_s, self.cpu_wait_s)]


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (from every one of its threads), from /proc."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for t in tasks:
        with suppress(OSError, ValueError):
            out += [int(c) for c in (t / "children").read_text().split()]
    return out


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (not ``pid`` itself), from /proc."""
    seen: set[int] = set()
    todo = _children(pid)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += _children(p)
    return seen


def _own_cpu(p: int) -> float:
    """CPU seconds of process ``p`` and the children it reaped (0 when it is gone)."""
    import os

    try:
        f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")


def _tree(roots: list[int]) -> set[int]:
    """The processes ``roots`` and every live process below them (a browser: all its processes)."""
    procs = set(roots)
    for r in roots:
        procs |= descendants(r)
    return procs


def _is_renderer(p: int) -> bool:
    """Process ``p`` is a Chromium page renderer (command line ``--type=renderer``)."""
    try:
        return b"--type=renderer" in Path(f"/proc/{p}/cmdline").read_bytes()
    except OSError:
        return False


def tree_cpu_s(roots: list[int]) -> float:
    """CPU seconds of the processes ``roots`` and every live process below them (a browser: all its processes)."""
    return sum(_own_cpu(p) for p in _tree(roots))


def renderer_waits_s(roots: list[int]) -> dict[int, float]:
    """Per renderer process below ``roots`` (command line ``--type=renderer``): the seconds its main thread has
    waited on a run queue for a CPU since it started (``/proc/PID/task/PID/schedstat``, second field, ns)."""
    out: dict[int, float] = {}
    for p in filter(_is_renderer, _tree(roots)):
        try:
            out[p] = int(Path(f"/proc/{p}/task/{p}/schedstat").read_text().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            continue
    return out


def _kill_renderers() -> None:
    """Kill the page renderers of the Chromiums this process started (a timed-out page's busy renderer)."""
    import os
    import signal

    for p in filter(_is_renderer, descendants(os.getpid())):
        with suppress(OSError):
            os.kill(p, signal.SIGKILL)


def _is_chromium(p: int) -> bool:
    try:
        return b"chrom" in Path(f"/proc/{p}/cmdline").read_bytes()
    except OSError:
        return False


def _parent(p: int) -> int | None:
    try:
        return int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _launcher(chromium: Path, nice: int, folder: Path) -> Path:
    """``chromium`` itself, or (``nice`` > 0) a script in ``folder`` that runs it at that niceness."""
    if nice <= 0:
        return chromium
    script = folder / "chromium-nice.sh"
    script.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} "{chromium}" "$@"\n')
    script.chmod(0o755)
    return script


def _tree_sum(pid: int, read: Callable[[int], float]) -> float | None:
    """``read(p)`` summed over process ``pid`` and its live descendants (from /proc); None when ``pid`` is gone."""
    total, seen, todo = 0.0, set(), [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += read(p)
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError, IndexError):
            if p == pid:
                return None
    return total


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of process ``pid``, its threads, its live children and the children it reaped,
    from /proc; None when it is gone."""
    import os

    tick = os.sysconf("SC_CLK_TCK")

    def cpu(p: int) -> float:
        f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tick

    return _tree_sum(pid, cpu)


def _reaped_children_cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def process_rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` and its children, MB (10^6 bytes), from /proc."""

    def rss(p: int) -> float:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
        return 0.0

    return _tree_sum(pid, rss)


@contextmanager
def streamlit_app(root: Path, workspace: Path, *, log: Path, env: dict | None = None,
                  session_ttl_s: int = 10, timeout_s: float = 120) -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` headless on a free port of 127.0.0.1 with ``GIS_WORKSPACE=workspace``.

    Yields (base URL, server pid). Disconnected sessions are dropped after ``session_ttl_s`` (the app's
    default keeps them 120 s for a reconnect), so a wave's sessions are gone before the next one. Source
    files are not watched (an edit during a run must not reload the app under the measurement).
    """
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    full_env = dict(os.environ, GIS_WORKSPACE=str(workspace), PYTHONPATH=str(root), **(env or {}))
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true",
                                 "--server.disconnectedSessionTTL", str(session_ttl_s),
                                 "--server.fileWatcherType", "none"],
                                cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout_s
            while True:
                try:
                    if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise RuntimeError(f"streamlit did not start; see {log}") from None
                    time.sleep(0.5)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def session_wave(url: str, n: int, *, chromium: Path, pid: int | None = None, timeout_s: float = 300.0,
                 viewport: dict | None = None, settle_s: float = 15.0, browser_nice: int = 0) -> Wave:
    """Open ``url`` in ``n`` browser sessions at once and time each one's map; keep them all open until the last
    map is ready, close them, and sample the server's memory (``pid``) throughout and ``settle_s`` after.

    Each session is its own headless Chromium (launched, one after the other, before the wave's clock starts),
    as each officer has their own browser: its CPU and its page thread's wait for a CPU are its own (see
    :class:`Wave`). ``browser_nice`` > 0 runs the browsers at that niceness (``nice -n``), so that on the one
    machine they yield the CPU to the app server (which officers' browsers on their own PCs never take).
    """
    import asyncio
    import os
    import time

    from playwright.async_api import async_playwright

    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            v = process_rss_mb(pid) if pid else None
            if v is not None:
                samples.append(v)
            stop.wait(0.25)

    wave = Wave(sessions=n, ready_s=[], rss_before_mb=process_rss_mb(pid) if pid else None,
                browser_nice=max(0, int(browser_nice)))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def prepare(browser, errors: list[str], external: list[str]):
        ctx = await browser.new_context(viewport=viewport or {"width": 1400, "height": 2400})

        async def route(r):
            if _is_local(r.request.url):
                await r.continue_()
            else:
                external.append(r.request.url)
                await r.abort()

        await ctx.route("**/*", route)
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)[:200]))
        return page

    async def one(page, roots: list[int]) -> tuple:
        cpu0, waits0 = tree_cpu_s(roots), renderer_waits_s(roots)
        t0 = time.perf_counter()
        frame = None

        def done(ready: float | None) -> tuple:
            waits1 = renderer_waits_s(roots)
            wait = sum(max(0.0, w - waits0.get(p, 0.0)) for p, w in waits1.items())
            return ready, frame, tree_cpu_s(roots) - cpu0, wait if waits1 else None

        await page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        while time.perf_counter() - t0 < timeout_s:
            for fr in page.frames:
                if "streamlit_folium" in fr.url:
                    frame = frame or time.perf_counter() - t0
                    try:
                        if await fr.evaluate(_MAP_READY):
                            return done(time.perf_counter() - t0)
                    except Exception:  # noqa: BLE001 - the frame was replaced by a rerun; look again
                        pass
            for el in await page.query_selector_all('iframe[title*="streamlit_folium"]'):
                with suppress(Exception):  # detached by a rerun
                    await el.scroll_into_view_if_needed(timeout=1000)
            await asyncio.sleep(0.2)
        return done(None)

    async def main() -> tuple[list, list[str], list[str]]:
        errors: list[str] = []
        external: list[str] = []
        with tempfile.TemporaryDirectory(prefix="bench-sessions-") as folder:
            exe = _launcher(chromium, wave.browser_nice, Path(folder))
            async with async_playwright() as pw:
                browsers, trees = [], []
                try:
                    for _ in range(n):
                        before = descendants(os.getpid())
                        browsers.append(await pw.chromium.launch(executable_path=str(exe), headless=True,
                                                                 args=CHROMIUM_ARGS))
                        # the new browser's top process: a Chromium process whose parent is none (the driver)
                        trees.append(sorted(p for p in descendants(os.getpid()) - before
                                            if _is_chromium(p) and not _is_chromium(_parent(p) or 0)))
                    pages = await asyncio.gather(*(prepare(b, errors, external) for b in browsers))
                    # every session's browser and page are up: all go together
                    times = await asyncio.gather(*(one(pg, roots) for pg, roots in zip(pages, trees)))
                finally:
                    for b in browsers:
                        with suppress(Exception):
                            await b.close()
        return list(times), errors, external

    cpu0, browser0 = (process_cpu_s(pid) if pid else None), _reaped_children_cpu_s()
    try:
        times, wave.errors, external = asyncio.run(main())
        wave.ready_s, wave.frame_s = [t[0] for t in times], [t[1] for t in times]
        wave.own_cpu_s, wave.cpu_wait_s = [t[2] for t in times], [t[3] for t in times]
        wave.external = len(external)
        cpu1 = process_cpu_s(pid) if pid else None
        wave.server_cpu_s = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
        wave.browser_cpu_s = _reaped_children_cpu_s() - browser0
    finally:
        time.sleep(settle_s)
        stop.set()
        sampler.join(5)
    wave.rss_peak_mb = max(samples) if samples else None
    wave.rss_after_mb = process_rss_mb(pid) if pid else None
    return wave
