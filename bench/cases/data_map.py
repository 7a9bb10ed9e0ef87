"""The Data page map (every vector layer + hillshade): bytes sent and first render in Chromium, against plain folium.

Ours is built as the app builds it: every vector layer read from the workspace
(``layers.workspace.Workspace.vector``), the DEM's hillshade
(``ui.overlay.render(gis.terrain.hillshade(dem).astype('float32'), dem, grey_ramp(), max_size=1600)``),
``ui.map_view.build_map(layers, lang='zh', hillshade=overlay, show=DATA_PAGE_SHOW, overview=plan.overview)``
(at prefecture scale the overview: village grids in the layer control, off at start). The bytes
sent are the UTF-8 length of ``m.get_root().render()`` (streamlit-folium sends the map's script,
header and HTML; Leaflet itself comes from ``/app/static`` and is cached). The first render is
timed on ``ui.assets.inline_html(m)`` (self-contained, Leaflet inlined) served from 127.0.0.1.

The peer is what a folium user would otherwise write: ``folium.Map()`` with its defaults, one
``folium.GeoJson(gdf, popup=GeoJsonPopup(fields=<all columns>))`` per layer (as read by
``geopandas.read_file``), a layer control, fit to bounds, and the same hillshade image (so both
pages carry the same raster). For its render timing its CDN links are replaced by the same local
Leaflet, inlined (``ui.assets.inline_html``: jQuery, Bootstrap and awesome-markers, which a
GeoJson map does not use, are dropped); its default OpenStreetMap tile requests are aborted and
counted.

Python-side work (read, hillshade, build, render to HTML) runs in a fresh process per side, so
its peak RSS is the page build's. Bars (prefecture scale): under 15 MB sent, first render under 5 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.harness import MB, Context, Report, Table, bar
from layers.catalogue import VECTOR_KINDS

BYTES_BAR_MB = 15.0
RENDER_BAR_S = 5.0
#: what the Data page shows at start: each layer as its spec says (``Draw.show``), as ui/page_data.py does
DATA_PAGE_SHOW = None
#: drawing order, bottom to top (layers.catalogue.VECTOR_KINDS, from the specs)
ORDER = VECTOR_KINDS
RENDER_TIMEOUT_S = {"ours": 120.0, "app": 120.0, "peer": 300.0}
#: the peer's render is repeated only when one run takes less than this
PEER_REPEAT_BELOW_S = 20.0


def _isolated_setup() -> None:
    """Imports the page build needs, so a child's baseline memory includes them."""
    import folium  # noqa: F401
    import geopandas  # noqa: F401

    import gis.terrain  # noqa: F401
    import ui.assets  # noqa: F401
    import ui.map_view  # noqa: F401
    import ui.overlay  # noqa: F401


def _hillshade(workspace: Path):
    from layers.raster import read_raster
    from ui.overlay import hillshade_overlay

    if not (workspace / "dem.tif").exists():
        return None
    return hillshade_overlay(read_raster(workspace / "dem.tif"))


def _embedded(data: object) -> str:
    """``data`` as folium embeds it in the page (Jinja's ``tojson``: sorted keys, ASCII, HTML-safe)."""
    from jinja2.utils import htmlsafe_json_dumps

    return str(htmlsafe_json_dumps(data, sort_keys=True))


def split_bytes(m, html: str) -> list[dict]:
    """Bytes of each GeoJSON payload in map ``m`` as embedded in its rendered ``html``.

    Returns
    -------
    list of dict
        ``layer`` (the layer control name), ``shown`` (on the map at start), ``features``,
        ``vertices`` (coordinate positions), ``bytes`` (embedded), ``properties_bytes``
        (the features' properties alone), ``utf8_bytes`` (the same JSON without ASCII escaping of
        Chinese text), ``found`` (the payload string occurs in the page).
    """
    import folium

    def walk(el, group=None):
        for child in getattr(el, "_children", {}).values():
            sub = child if isinstance(child, folium.FeatureGroup) else group
            if isinstance(child, folium.GeoJson):
                owner = group or child
                yield ((getattr(owner, "layer_name", None) or child.get_name()), bool(getattr(owner, "show", True)),
                       child)
            yield from walk(child, sub)

    out = []
    for name, shown, gj in walk(m):
        data = gj.data
        s = _embedded(data)
        feats = data.get("features", []) if isinstance(data, dict) else []
        out.append({"layer": str(name), "shown": shown, "features": len(feats),
                    "vertices": sum(_positions(f.get("geometry")) for f in feats), "bytes": len(s.encode("utf-8")),
                    "properties_bytes": len(_embedded([f.get("properties") for f in feats]).encode("utf-8")),
                    "utf8_bytes": len(json.dumps(data, ensure_ascii=False, sort_keys=True,
                                                 separators=(", ", ": ")).encode("utf-8")),
                    "found": s in html})
    return out


def _positions(geom: dict | None) -> int:
    """Number of coordinate positions in a GeoJSON geometry."""
    if not geom:
        return 0
    if geom.get("type") == "GeometryCollection":
        return sum(_positions(g) for g in geom.get("geometries", []))

    def count(c) -> int:
        if not c:
            return 0
        if isinstance(c[0], (int, float)):
            return 1
        return sum(count(x) for x in c)

    return count(geom.get("coordinates"))


def _image_bytes(m) -> int:
    """Bytes of the image overlays' data URLs in ``m``."""
    import folium

    total = 0
    stack = [m]
    while stack:
        el = stack.pop()
        if isinstance(el, folium.raster_layers.ImageOverlay):
            total += len(str(el.url).encode("utf-8"))
        stack.extend(getattr(el, "_children", {}).values())
    return total


def build_ours(workspace: str, out: str, lang: str = "zh") -> dict:
    """Build the Data page map as the app does and write its self-contained page to ``out``.

    Returns
    -------
    dict
        Timings (s) per step, ``sent_bytes``, ``page_bytes`` (inlined page), ``split`` (per layer),
        ``image_bytes``, feature counts.
    """
    from bench.browser import write_app_page
    from layers.workspace import Workspace
    from ui.assets import inline_html
    from ui.map_view import build_map, plan_map

    ws = Workspace(workspace)
    t0 = time.perf_counter()
    layers = {k: ws.vector(k) for k in ws.vector_kinds()}
    t1 = time.perf_counter()
    overlay = _hillshade(Path(workspace))
    t2 = time.perf_counter()
    plan = plan_map(layers)  # what the app's page draws: an overview above DETAIL_BUDGET features
    m = build_map(plan.layers, lang=lang, hillshade=overlay, show=DATA_PAGE_SHOW, images=plan.images,
                  simplify_m=plan.simplify_m, overview=plan.overview)
    t3 = time.perf_counter()
    html = m.get_root().render()
    t4 = time.perf_counter()
    split = split_bytes(m, html)
    image = _image_bytes(m)
    page = inline_html(m)
    Path(out).write_text(page, encoding="utf-8")
    app = write_app_page(m, Path(out).parent)   # as the app sends it: big layers fetched as shared files
    return {"app": app, "read_s": t1 - t0, "hillshade_s": t2 - t1, "build_s": t3 - t2, "render_s": t4 - t3,
            "sent_bytes": len(json.dumps(html)), "html_bytes": len(html.encode("utf-8")),
            "page_bytes": len(page.encode("utf-8")), "split": split,
            "image_bytes": image, "features": {k: len(v) for k, v in layers.items()},
            "png_bytes": len(overlay.png) if overlay is not None else 0}


def build_peer(workspace: str, out: str) -> dict:
    """Build the map a plain folium user would: ``folium.GeoJson`` per layer with all-field popups.

    Returns
    -------
    dict
        Like :func:`build_ours`, plus ``dropped_assets`` (CDN assets not inlined).
    """
    import folium
    import geopandas as gpd
    import pyogrio

    from ui.assets import LOCAL_ASSETS, UNUSED_ASSETS, inline_html

    gpkg = Path(workspace) / "workspace.gpkg"
    names = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
    kinds = [k for k in ORDER if k in names] + [n for n in names if n not in ORDER]
    t0 = time.perf_counter()
    layers = {k: gpd.read_file(gpkg, layer=k) for k in kinds}
    t1 = time.perf_counter()
    overlay = _hillshade(Path(workspace))
    t2 = time.perf_counter()
    m = folium.Map()
    if overlay is not None:
        folium.raster_layers.ImageOverlay(overlay.data_url(), bounds=overlay.bounds, name="hillshade",
                                          opacity=0.75).add_to(m)
    for kind, gdf in layers.items():
        if len(gdf) == 0:
            continue
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        popup = folium.GeoJsonPopup(fields=fields) if fields else None
        folium.GeoJson(gdf, name=kind, popup=popup).add_to(m)
    folium.LayerControl().add_to(m)
    m.fit_bounds(m.get_bounds())
    t3 = time.perf_counter()
    html = m.get_root().render()
    t4 = time.perf_counter()
    split = split_bytes(m, html)
    image = _image_bytes(m)
    declared = set()
    for el in [m, *_elements(m)]:
        declared.update(n for n, _ in getattr(el, "default_js", []))
        declared.update(n for n, _ in getattr(el, "default_css", []))
    # the render above put the CDN links in the page header; take them out before rendering offline
    header = m.get_root().header
    for name in [n for n in header._children if n in declared]:
        del header._children[name]
    page = inline_html(m)  # CDN links -> the local Leaflet, inlined; unused jQuery/Bootstrap dropped
    Path(out).write_text(page, encoding="utf-8")
    return {"read_s": t1 - t0, "hillshade_s": t2 - t1, "build_s": t3 - t2, "render_s": t4 - t3,
            "sent_bytes": len(json.dumps(html)), "html_bytes": len(html.encode("utf-8")),
            "page_bytes": len(page.encode("utf-8")), "split": split,
            "image_bytes": image, "features": {k: len(v) for k, v in layers.items()},
            "dropped_assets": sorted(declared & UNUSED_ASSETS), "inlined_assets": sorted(declared & set(LOCAL_ASSETS))}


def _elements(m):
    stack = list(getattr(m, "_children", {}).values())
    while stack:
        el = stack.pop()
        yield el
        stack.extend(getattr(el, "_children", {}).values())


def _renders(ctx: Context, url: str, side: str) -> list:
    from bench.browser import first_render

    runs = []
    n = ctx.repeats
    for i in range(n):
        r = first_render(url, chromium=ctx.chromium, timeout_s=RENDER_TIMEOUT_S[side])
        runs.append(r)
        ctx.log(f"  data_map: {side} render {i + 1}/{n}: "
                f"{'timeout' if r.timed_out else f'{r.ms:.0f} ms'}")
        if r.timed_out or (side == "peer" and (r.ms or 0) / 1000 > PEER_REPEAT_BELOW_S):
            break
    return runs


def _split_table(title: str, split: list[dict], sent: int) -> Table:
    rows = []

    def line(label, group):
        b = sum(s["bytes"] for s in group)
        v = sum(s["vertices"] for s in group)
        p = sum(s["properties_bytes"] for s in group)
        return [label, sum(s["features"] for s in group), v, b / MB, p / MB, (b - p) / v if v else None,
                sum(s["utf8_bytes"] for s in group) / MB, f"{100 * b / sent:.1f} %"]

    for s in sorted(split, key=lambda s: -s["bytes"]):
        rows.append(line(s["layer"] + ("" if s["shown"] else " (hidden at start)"), [s]))
    rows.append(line("**shown at start**", [s for s in split if s["shown"]]))
    rows.append(line("**hidden at start**", [s for s in split if not s["shown"]]))
    rows.append(line("**all GeoJSON**", split))
    return Table(title=title, columns=["layer (as in the layer control)", "features", "vertices", "embedded MB",
                                       "of which properties MB", "other bytes per vertex", "same JSON as UTF-8 MB",
                                       "share of page"],
                 rows=rows)


def run(ctx: Context) -> Report:
    """Build both maps (each in a fresh process), then time their first render in Chromium."""
    from bench.browser import copy_leaflet_images, serve
    from ui.assets import STATIC_DIR

    www = ctx.tmp / "www"
    www.mkdir(parents=True, exist_ok=True)
    ctx.log("  data_map: building ours (fresh process)")
    ours = ctx.isolated("bench.cases.data_map:build_ours", workspace=str(ctx.workspace), out=str(www / "ours.html"))
    ctx.log("  data_map: building the peer (fresh process)")
    peer = ctx.isolated("bench.cases.data_map:build_peer", workspace=str(ctx.workspace), out=str(www / "peer.html"))
    copy_leaflet_images(www, STATIC_DIR / "vendor" / "leaflet" / "images")

    renders: dict[str, list] = {"ours": [], "app": [], "peer": []}
    notes: list[str] = []
    if ctx.chromium is None:
        notes.append("Chromium not found at /usr/bin/chromium: first render not measured.")
    else:
        with serve(www) as base:
            for side in ("ours", "app", "peer"):
                renders[side] = _renders(ctx, f"{base}/{side}.html", side)

    def best(side: str):
        ok = [r.ms for r in renders[side] if r.ms is not None]
        return min(ok) if ok else None

    def runs_text(side: str) -> str:
        if not renders[side]:
            return "—"
        return ", ".join("timeout" if r.ms is None else f"{r.ms:,.0f}" for r in renders[side])

    def last(side: str, attr: str):
        vals = [getattr(r, attr) for r in renders[side] if getattr(r, attr) is not None]
        return vals[-1] if vals else None

    def external(side: str) -> list[str]:
        return sorted({u for r in renders[side] for u in r.external})

    def errors(side: str) -> list[str]:
        return sorted({e for r in renders[side] for e in r.errors})

    def phase(side: str, key: str):
        ok = [r for r in renders[side] if r.ms is not None]
        return min(ok, key=lambda r: r.ms).phases.get(key) if ok else None

    b_ours, b_peer = best("ours"), best("peer")
    summary = Table(
        title="data_map: the Data page map, ours vs plain folium",
        columns=["measure", "ours (ui.map_view.build_map)", "peer (folium.GeoJson per layer)", "peer / ours"],
        rows=[])

    def row(label: str, o, p, ratio: bool = True):
        r = (p / o) if (ratio and isinstance(o, (int, float)) and isinstance(p, (int, float)) and o) else None
        summary["rows"].append([label, o, p, f"{r:.1f}×" if r is not None else "—"])

    row("read layers (s)", ours["read_s"], peer["read_s"])
    row("hillshade overlay (s)", ours["hillshade_s"], peer["hillshade_s"])
    row("build map (s)", ours["build_s"], peer["build_s"])
    row("render page to HTML (s)", ours["render_s"], peer["render_s"])
    row("Python peak RSS, whole build (MB)", ours["peak_rss_mb"], peer["peak_rss_mb"])
    row("Python RSS after imports, before the build (MB)", ours["baseline_rss_mb"], peer["baseline_rss_mb"])
    row("**bytes sent** (the page as streamlit sends component args: JSON-escaped, MB)", ours["sent_bytes"] / MB,
        peer["sent_bytes"] / MB)
    row("page HTML as UTF-8 (get_root().render(), MB)", ours["html_bytes"] / MB, peer["html_bytes"] / MB)
    row("of which GeoJSON payloads (MB)", sum(s["bytes"] for s in ours["split"]) / MB,
        sum(s["bytes"] for s in peer["split"]) / MB)
    row("of which hillshade PNG data URL (MB)", ours["image_bytes"] / MB, peer["image_bytes"] / MB)
    row("self-contained page, Leaflet inlined (MB)", ours["page_bytes"] / MB, peer["page_bytes"] / MB)
    if ctx.chromium is not None:
        row("**first render** (ms, best of runs)", b_ours, b_peer)
        row("first render runs (ms)", runs_text("ours"), runs_text("peer"), ratio=False)
        app = ours["app"]
        row("as the app sends it (a shared map: layers and images over 64 kB fetched as files, a layer off at "
            "start not until shown): message MB / files", f"{app['message_bytes'] / MB:.2f} / "
            f"{app['layers'] + app['images']}", "—", ratio=False)
        row("as the app sends it: **first render** (ms, best of runs)", best("app"), "—", ratio=False)
        row("as the app sends it: first render runs (ms)", runs_text("app"), "—", ratio=False)
        for key, label in (("response_end", "HTML received"),
                           ("dom_interactive", "HTML parsed, inline scripts run (map and all layers built)"),
                           ("load_end", "load event done"), ("drawn", "layers drawn (the first render)")):
            row(f"· {label} (ms after navigation start, best run)", phase("ours", key), phase("peer", key))
        row("JS heap used after render (MB)", last("ours", "js_heap_mb"), last("peer", "js_heap_mb"))
        row("DOM nodes after render", last("ours", "dom_nodes"), last("peer", "dom_nodes"))
        row("canvas/SVG + markers on the map", last("ours", "vector_elements"), last("peer", "vector_elements"),
            ratio=False)
        row("requests to non-localhost hosts", len(external("ours")), len(external("peer")), ratio=False)
        row("page errors", len(errors("ours")), len(errors("peer")), ratio=False)
    sent = ours["sent_bytes"]
    tables = [summary,
              _split_table("data_map: ours, bytes per layer (what dominates the page)", ours["split"], sent),
              _split_table("data_map: peer, bytes per layer", peer["split"], peer["sent_bytes"])]

    judged = ctx.at_prefecture
    bars = [bar("ours: bytes sent", sent / MB, BYTES_BAR_MB, "MB", judged=judged)]
    if ctx.chromium is not None:
        bars.append(bar("ours: first render in Chromium", None if b_ours is None else b_ours / 1000, RENDER_BAR_S,
                        "s", judged=judged))
        bars.append(bar("ours: requests to non-localhost hosts", len(external("ours")), 1, "requests"))
        b_app = best("app")
        bars.append(bar("ours as the app sends it: first render in Chromium", None if b_app is None else b_app / 1000,
                        RENDER_BAR_S, "s", judged=judged))

    feats = ", ".join(f"{k} {v:,}" for k, v in ours["features"].items())
    notes += [
        f"Features in the workspace: {feats}. MB = 10^6 bytes.",
        "Bytes sent = length of the page (`m.get_root().render()`) JSON-escaped, as streamlit ships component "
        "arguments (Leaflet's own JS/CSS "
        "come from /app/static and are cached). The first render is timed on the self-contained page "
        "(`ui.assets.inline_html`), served from 127.0.0.1, fresh Chromium profile per run, from navigation start "
        "until the `load` event has fired and Leaflet's overlay pane holds its canvas/SVG (or markers), plus two "
        "animation frames.",
        "Layers hidden at start (the Data page shows only township and village grids) are still sent: they are in "
        "the page's GeoJSON, just not added to the map until toggled.",
        "Peer: `folium.Map()` defaults (SVG renderer, L.marker icons for points, OpenStreetMap tiles), one "
        "`folium.GeoJson(gdf, popup=GeoJsonPopup(fields=all columns))` per layer read with `geopandas.read_file`, "
        "plus the same hillshade image. For its timing its CDN links were replaced by the same local Leaflet "
        f"inlined ({', '.join(peer['inlined_assets'])}); dropped as unused by a GeoJson map: "
        f"{', '.join(peer['dropped_assets']) or 'none'}. Its bytes-sent figure is the page with CDN links.",
    ]
    if ctx.chromium is not None and external("peer"):
        hosts = sorted({u.split('/')[2] for u in external("peer") if '//' in u})
        notes.append(f"The peer asked non-localhost hosts for {len(external('peer'))} URL(s) (aborted: offline), "
                     f"hosts: {', '.join(hosts)}.")
    if external("ours"):
        notes.append(f"OURS REQUESTED NON-LOCAL URLS: {', '.join(external('ours')[:10])}")
    for side in ("ours", "peer"):
        if errors(side):
            notes.append(f"Page errors ({side}): {' | '.join(errors(side)[:3])}")
        if any(r.timed_out for r in renders[side]):
            notes.append(f"{side}: the map was not drawn within {RENDER_TIMEOUT_S[side]:.0f} s (timeout).")
    missing = [s["layer"] for s in ours["split"] if not s["found"]]
    if missing:
        notes.append(f"Per-layer split: payload string not found verbatim in the page for {', '.join(missing)} "
                     "(the split is then an estimate).")
    top = sorted(ours["split"], key=lambda s: -s["bytes"])[:3]
    if top:
        notes.append("Largest payloads (ours): " + "; ".join(
            f"{s['layer']} {s['bytes'] / MB:.2f} MB ({s['features']:,} features, {100 * s['bytes'] / sent:.0f} % of "
            f"the page, properties {s['properties_bytes'] / MB:.2f} MB)" for s in top) + ".")
    if any(b["passed"] is False for b in bars):
        split = ours["split"]
        shown = sum(s["bytes"] for s in split if s["shown"])
        hidden = sum(s["bytes"] for s in split if not s["shown"])
        props = sum(s["properties_bytes"] for s in split)
        utf8 = sum(s["utf8_bytes"] for s in split)
        notes.append(
            f"At least one bar missed. Ours sends {sent / MB:.1f} MB: GeoJSON {(shown + hidden) / MB:.1f} MB "
            f"(layers shown at start {shown / MB:.1f} MB, layers hidden at start {hidden / MB:.1f} MB; feature "
            f"properties {props / MB:.1f} MB, geometry and structure {(shown + hidden - props) / MB:.1f} MB), the "
            f"hillshade PNG {ours['image_bytes'] / MB:.1f} MB, "
            f"the rest {(sent - shown - hidden - ours['image_bytes']) / MB:.2f} MB. "
            f"Unescaped UTF-8 JSON would save {(shown + hidden - utf8) / MB:.1f} MB. The render phases show where "
            "the browser's time goes: HTML received -> parsed with its inline scripts run (parsing the GeoJSON "
            "literals and building every Leaflet layer, hidden ones included) -> load -> drawn.")
    figures = {"ours": {k: v for k, v in ours.items() if k != "split"}, "peer": {k: v for k, v in peer.items()
                                                                                 if k != "split"},
               "ours_split": ours["split"], "peer_split": peer["split"],
               "render_ms": {s: [r.ms for r in renders[s]] for s in renders},
               "external": {s: external(s) for s in renders}}
    return Report(tables=tables, bars=bars, notes=notes, figures=figures)
