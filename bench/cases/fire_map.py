"""The Fire page map of a review: bytes sent and first render in Chromium, against plain folium.

Ours is built as the page builds it (``ui.page_fire._map``): the review steps of
:mod:`gis.fire.review` (``risk_step``, ``camera_step``, ``reach_step``, ``gap_step``; each timed,
they are the page's compute time), the risk, camera-coverage and water-reach images
(:func:`ui.fire_layers.level_overlay`, ``seen_overlay``, ``reach_overlay``) and the map
:func:`ui.fire_layers.fire_map` (roads, water sources and cameras as the overview above the detail
budget, the largest gap patches as polygons) over the hillshade. The peer is what a folium user would
otherwise write: the same images, and ``folium.GeoJson`` of every gap patch, every water source and
every camera, every field in the popup. Bytes sent = the page JSON-escaped, as streamlit ships
component arguments; first render timed on the self-contained page (Leaflet inlined) served from
127.0.0.1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.harness import MB, Context, Report, bar

BYTES_BAR_MB = 15.0
RENDER_BAR_S = 5.0
#: the layers the page reads for the review and its map
KINDS = ("forest", "roads", "villages", "cameras", "water_sources")


def _image_sizes(m) -> dict[str, int]:
    """Bytes of each image overlay's data URL in map ``m``, by layer name."""
    import folium

    out: dict[str, int] = {}
    stack = [m]
    while stack:
        el = stack.pop()
        if isinstance(el, folium.raster_layers.ImageOverlay):
            name = str(getattr(el, "layer_name", None) or el.get_name())
            out[name] = out.get(name, 0) + len(str(el.url).encode("utf-8"))
        stack.extend(getattr(el, "_children", {}).values())
    return out


def build(workspace: str, out_ours: str, out_peer: str, lang: str = "zh") -> dict:
    """Run the review once, then build both pages; returns timings, sizes and counts."""
    import folium

    from bench.cases.data_map import split_bytes
    from gis.fire.review import camera_step, gap_step, reach_step, risk_step
    from gis.fire.risk import HIGH_RISK_LEVEL
    from layers.workspace import Workspace
    from ui.assets import inline_html, localize
    from ui.fire_layers import fire_map, level_overlay, reach_overlay, seen_overlay
    from ui.overlay import hillshade_overlay

    ws = Workspace(workspace)
    t = [time.perf_counter()]
    dem = ws.raster("dem")
    kinds = set(ws.vector_kinds())
    layers = {k: ws.vector(k) for k in KINDS if k in kinds}
    t.append(time.perf_counter())
    grid, forest, risk, _notes = risk_step(dem, layers)
    high = risk.level >= HIGH_RISK_LEVEL
    t.append(time.perf_counter())
    seen, _first, _tallies, _cnotes = camera_step(grid, layers["cameras"], forest, high)
    t.append(time.perf_counter())
    reach = reach_step(grid, layers["water_sources"], layers["forest"], risk.level, season="dry",
                       roads=layers.get("roads"))
    t.append(time.perf_counter())
    gaps = gap_step(grid, high, seen, reach.count, layers)
    t.append(time.perf_counter())
    risk_ov = level_overlay(risk.level, grid)
    seen_ov = seen_overlay(seen, grid)
    reach_ov = reach_overlay(reach.count, forest, grid)
    hs = hillshade_overlay(dem)
    t.append(time.perf_counter())
    m = fire_map(layers, lang, hillshade=hs, risk=risk_ov, seen=seen_ov, reach=reach_ov, gaps=gaps)
    html = m.get_root().render()
    t.append(time.perf_counter())
    split = split_bytes(m, html)
    images = _image_sizes(m)
    Path(out_ours).write_text(inline_html(m), encoding="utf-8")

    t_peer = time.perf_counter()
    p = folium.Map(prefer_canvas=False)
    for ov in (hs, risk_ov, reach_ov, seen_ov):
        folium.raster_layers.ImageOverlay(ov.data_url(), bounds=ov.bounds).add_to(p)
    for name, gdf in (("gap patches", gaps), ("water sources", layers["water_sources"]),
                      ("cameras", layers["cameras"])):
        gdf = gdf.to_crs(4326)
        cols = [c for c in gdf.columns if c != "geometry"]
        gdf = gdf.astype({c: str for c in cols})
        folium.GeoJson(gdf, name=name, popup=folium.GeoJsonPopup(fields=cols)).add_to(p)
    folium.LayerControl().add_to(p)
    peer_html = p.get_root().render()
    t_peer_end = time.perf_counter()
    peer_split = split_bytes(p, peer_html)
    Path(out_peer).write_text(inline_html(localize(p)), encoding="utf-8")
    steps = ("read_s", "risk_s", "camera_s", "reach_s", "gap_s", "images_s", "ours_build_s")
    return {**{k: t[i + 1] - t[i] for i, k in enumerate(steps)}, "peer_build_s": t_peer_end - t_peer,
            "ours_bytes": len(json.dumps(html)), "peer_bytes": len(json.dumps(peer_html)),
            "ours_split": split, "peer_split": peer_split, "ours_images": images,
            "grid_shape": list(grid.array.shape), "gaps": int(len(gaps)),
            "gaps_by_class": {str(k): int(v) for k, v in gaps["gap"].value_counts().items()} if len(gaps) else {},
            "water_sources": int(len(layers["water_sources"])), "cameras": int(len(layers["cameras"])),
            "roads": int(len(layers["roads"])) if "roads" in layers else 0,
            "forest_cells": int(forest.sum()), "high_risk_cells": int(high.sum())}


def run(ctx: Context) -> Report:
    """Review and build both pages in a fresh process, then time their first render."""
    from bench.browser import render_both

    www = ctx.tmp / "www"
    www.mkdir(parents=True, exist_ok=True)
    ctx.log("  fire_map: review (risk, cameras, reach, gaps) and both pages (fresh process)")
    f = ctx.isolated("bench.cases.fire_map:build", workspace=str(ctx.workspace), out_ours=str(www / "ours.html"),
                     out_peer=str(www / "peer.html"))
    shown = render_both(www, chromium=ctx.chromium, repeats=ctx.repeats, log=ctx.log, name="fire_map")
    best, outside, phases, errors = shown.best, shown.outside, shown.phases, shown.errors
    review_s = f["risk_s"] + f["camera_s"] + f["reach_s"] + f["gap_s"]
    classes = ", ".join(f"{k} {v:,}" for k, v in sorted(f["gaps_by_class"].items()))
    rows = [["read DEM + layers (s)", round(f["read_s"], 1), "same"],
            ["review: `risk_step` (s)", round(f["risk_s"], 1), "same"],
            [f"review: `camera_step`, {f['cameras']:,} cameras (s)", round(f["camera_s"], 1), "same"],
            [f"review: `reach_step`, {f['water_sources']:,} sources, dry season (s)",
             round(f["reach_s"], 1), "same"],
            ["review: `gap_step` (s)", round(f["gap_s"], 1), "same"],
            ["**review total** (page compute, s)", round(review_s, 1), "same"],
            ["images: risk, coverage, reach, hillshade (s)", round(f["images_s"], 1), "same"],
            [f"gap patches ({classes})", f"{f['gaps']:,}", "same"],
            ["build + render page (s)", round(f["ours_build_s"], 2), round(f["peer_build_s"], 2)],
            ["**bytes sent** (JSON-escaped, MB)", round(f["ours_bytes"] / MB, 3), round(f["peer_bytes"] / MB, 3)],
            ["**first render** (ms, best)", best["ours"], best["peer"]],
            ["parsed + scripts run (domInteractive, ms)", phases["ours"].get("dom_interactive"),
             phases["peer"].get("dom_interactive")]]
    split_rows = [[f"image: {name}", "—", "—", round(n / MB, 3)] for name, n in sorted(f["ours_images"].items())]
    split_rows += [[f"vector: {s['layer']}", s["features"], s["vertices"], round(s["bytes"] / MB, 3)]
                   for s in f["ours_split"]]
    peer_rows = [[f"vector: {s['layer']}", s["features"], s["vertices"], round(s["bytes"] / MB, 3)]
                 for s in f["peer_split"]]
    notes = [__doc__.split("\n\n", 1)[1].replace("\n", " "),
             f"Review grid {f['grid_shape'][0]:,} x {f['grid_shape'][1]:,} cells; forest {f['forest_cells']:,} "
             f"cells, high-risk (level >= 4) {f['high_risk_cells']:,}. The peer leaves out the roads (ours draws "
             "them as an overview image or lines); all four images are the same bytes on both sides."]
    if errors["ours"] or errors["peer"]:
        notes.append(f"Page errors: ours {errors['ours'][:3]}, peer {errors['peer'][:3]}.")
    return Report(
        tables=[{"title": "fire_map: the Fire page map (dry season, default weights), ours vs plain folium",
                 "columns": ["measure", "ours (ui.fire_layers.fire_map)", "peer (folium.GeoJson per layer)"],
                 "rows": rows},
                {"title": "fire_map: ours, bytes per layer (embedded, before JSON escaping)",
                 "columns": ["layer", "features", "vertices", "MB"], "rows": split_rows},
                {"title": "fire_map: peer, bytes per GeoJson layer (embedded, before JSON escaping)",
                 "columns": ["layer", "features", "vertices", "MB"], "rows": peer_rows}],
        bars=[bar("ours: bytes sent", f["ours_bytes"] / MB, BYTES_BAR_MB, "MB", judged=ctx.at_prefecture),
              bar("ours: first render in Chromium", None if best["ours"] is None else best["ours"] / 1000,
                  RENDER_BAR_S, "s", judged=ctx.at_prefecture),
              bar("ours: requests to non-localhost hosts", outside["ours"], 1, "requests")],
        notes=notes,
        figures={k: v for k, v in f.items() if k not in ("ours_split", "peer_split")}
        | {"ours_render_ms": best["ours"], "peer_render_ms": best["peer"]})
