"""The Flood page map of a plan (HAND stage 2 m): bytes sent and first render in Chromium, against plain folium.

Ours is built as the page builds it: the plan (:func:`gis.flood.plan.evacuation_plan`), its layers by
:func:`ui.plan_map.plan_groups` (the whole-area view: above the detail budget grids are points and
routes are left out; a township is shown in full on request), over the overview of rivers and roads
(:func:`ui.map_view.plan_map`) and the hillshade. The peer is what a folium user would otherwise do:
``folium.GeoJson`` of the flooded grids (polygons, every field in the popup), the routes and the
shelters, with the same images. Bytes sent = the page JSON-escaped, as streamlit ships component
arguments; first render timed on the self-contained page (Leaflet inlined) served from 127.0.0.1, and on the
page as the app sends this map, which every session shares (:func:`bench.browser.write_app_page`: layers and
images over 64 kB fetched from the server as files, a layer off at start not until shown).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.harness import MB, Context, Report, bar

STAGE_M = 2.0


def build(workspace: str, out_ours: str, out_peer: str) -> dict:
    """Plan once, then build both pages; returns timings and sizes."""
    import folium

    from bench.browser import write_app_page
    from gis.flood.hazard import Hazard
    from gis.flood.plan import evacuation_plan
    from layers.workspace import Workspace
    from ui.assets import inline_html, localize
    from ui.map_view import build_map, plan_map
    from ui.overlay import hillshade_overlay
    from ui.plan_map import depth_overlay, plan_groups

    ws = Workspace(workspace)
    dem = ws.raster("dem")
    t0 = time.perf_counter()
    hz = Hazard.from_stage(dem, STAGE_M)
    t1 = time.perf_counter()
    layers = {k: ws.vector(k) for k in ("grids", "shelters", "roads", "rivers")}
    plan = evacuation_plan(layers["grids"], layers["shelters"], hz, roads=layers["roads"])
    t2 = time.perf_counter()
    depth = depth_overlay(hz.depth, (0.5, 1.5, 3.0))
    hs = hillshade_overlay(dem)
    t3 = time.perf_counter()
    mp = plan_map({k: layers[k] for k in ("rivers", "roads")})
    m = build_map(mp.layers, hillshade=hs, images=mp.images, simplify_m=mp.simplify_m,
                  extra=plan_groups(plan, "zh", thresholds=(0.5, 1.5, 3.0), depth=depth))
    html = m.get_root().render()
    t4 = time.perf_counter()
    Path(out_ours).write_text(inline_html(m), encoding="utf-8")
    app = write_app_page(m, Path(out_ours).parent)     # as the app sends it: big layers fetched as shared files

    p = folium.Map(prefer_canvas=False)
    folium.raster_layers.ImageOverlay(hs.data_url(), bounds=hs.bounds).add_to(p)
    folium.raster_layers.ImageOverlay(depth.data_url(), bounds=depth.bounds).add_to(p)
    flooded = plan.exposure[plan.exposure["flooded_share"].fillna(0) > 0]
    for gdf in (flooded, plan.assignments, plan.shelters):
        gdf = gdf.to_crs(4326)
        cols = [c for c in gdf.columns if c != "geometry"]
        gdf = gdf.astype({c: str for c in cols})
        folium.GeoJson(gdf, popup=folium.GeoJsonPopup(fields=cols)).add_to(p)
    folium.LayerControl().add_to(p)
    peer_html = p.get_root().render()
    t6 = time.perf_counter()
    Path(out_peer).write_text(inline_html(localize(p)), encoding="utf-8")
    return {"hazard_s": t1 - t0, "plan_s": t2 - t1, "images_s": t3 - t2, "ours_build_s": t4 - t3,
            "peer_build_s": t6 - t4, "ours_bytes": len(json.dumps(html)), "peer_bytes": len(json.dumps(peer_html)),
            "flooded_grids": int(len(flooded)), "routes": int(len(plan.assignments)),
            "people_to_evacuate": plan.summary["people_to_evacuate"], "app": app}


def run(ctx: Context) -> Report:
    """Build both pages in a fresh process, then time their first render."""
    from bench.browser import render_both

    www = ctx.tmp / "www"
    www.mkdir(parents=True, exist_ok=True)
    ctx.log("  flood_map: planning and building both pages (fresh process)")
    f = ctx.isolated("bench.cases.flood_map:build", workspace=str(ctx.workspace), out_ours=str(www / "ours.html"),
                     out_peer=str(www / "peer.html"))
    shown = render_both(www, chromium=ctx.chromium, repeats=ctx.repeats, log=ctx.log, name="flood_map")
    best, outside = shown.best, shown.outside
    rows = [["plan: HAND + exposure + routes + assignment (s)", round(f["hazard_s"] + f["plan_s"], 1), "—"],
            ["flooded grids / routes", f"{f['flooded_grids']:,} / {f['routes']:,}", "same"],
            ["build + render page (s)", round(f["ours_build_s"], 2), round(f["peer_build_s"], 2)],
            ["**bytes sent** (JSON-escaped, MB)", round(f["ours_bytes"] / MB, 1), round(f["peer_bytes"] / MB, 1)],
            ["**first render** (ms, best)", best["ours"], best["peer"]],
            ["as the app sends it (a shared map: big layers and images fetched as files): message MB / files "
             "written / **first render** (ms, best)",
             f"{f['app']['message_bytes'] / MB:.2f} / {f['app']['layers'] + f['app']['images']} / "
             + ("—" if best["app"] is None else f"{best['app']:,.0f}"),
             "—"]]
    return Report(
        tables=[{"title": f"flood_map: the Flood page map, HAND stage {STAGE_M:g} m, ours vs plain folium",
                 "columns": ["measure", "ours (ui.plan_map)", "peer (folium.GeoJson per layer)"], "rows": rows}],
        bars=[bar("ours: bytes sent", f["ours_bytes"] / MB, 15.0, "MB"),
              bar("ours: first render in Chromium", None if best["ours"] is None else best["ours"] / 1000, 5.0, "s"),
              bar("ours: requests to non-localhost hosts", outside["ours"], 1, "requests"),
              bar("ours as the app sends it: first render in Chromium",
                  None if best["app"] is None else best["app"] / 1000, 5.0, "s")],
        notes=[__doc__.split("\n\n", 1)[1].replace("\n", " ")],
        figures=f | {"ours_render_ms": best["ours"], "peer_render_ms": best["peer"], "app_render_ms": best["app"]})
