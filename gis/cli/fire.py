"""``python -m gis`` commands: forest-fire coverage."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, finish


# ---- viewshed --------------------------------------------------------------------------------
def _run_viewshed(args: argparse.Namespace) -> int:
    import time

    from gis.fire.viewshed import coverage
    from layers.raster import Raster, write_raster
    from layers.text import pick

    t0 = time.perf_counter()
    given = Inputs(args)
    dem = given.raster(args.dem)
    layer = given.layer(args.cameras, "cameras", args.sublayer)
    given.check()
    count, first, notes, info = coverage(dem, layer.gdf, target_h=args.target_height, range_m=args.range,
                                         curvature=not args.no_curvature, refraction=args.refraction,
                                         return_in_range=True)
    write_raster(Raster(count, dem.transform, dem.crs, None, name=Path(args.out).name), Path(args.out),
                 dtype="uint16")
    in_range = int(info["in_range"].sum())
    seen = int((count > 0).sum())
    out = {"out": str(args.out), "rows": count.shape[0], "cols": count.shape[1], "crs": str(dem.crs),
           "cameras": int(layer.count), "cameras_used": info["used"], "cameras_skipped": info["skipped"],
           "cells_in_range": in_range, "cells_visible": seen,
           "visible_fraction": round(seen / in_range, 6) if in_range else 0.0,
           "cells_seen_twice": int((count > 1).sum()), "max_count": int(count.max()) if count.size else 0,
           "target_height": args.target_height, "curvature": not args.no_curvature,
           "refraction": args.refraction, "range_override": args.range,
           "seconds": round(time.perf_counter() - t0, 2),
           "notes": list(dict.fromkeys([pick(n, args.lang) for n in (list(dem.warnings) + list(notes))]
                                       + given.messages()))}
    return finish(args, out, f"viewshed -> {args.out}: {seen:,} of {in_range:,} cells in range seen "
                              f"({out['visible_fraction']:.1%}) by {info['used']} camera(s), {out['seconds']} s",
                   out["notes"])


@command("viewshed", "camera viewshed coverage count raster / 林火监控视域覆盖")
def _add_viewshed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dem", required=True, help="DEM raster: GeoTIFF, .asc, .img, .vrt, .hgt / .hgt.zip, .nc "
                                               "(metres; a DEM in degrees is reprojected)")
    p.add_argument("--cameras", required=True, help="cameras layer (any supported file; height/range fields)")
    p.add_argument("--sublayer", help="layer inside the cameras GeoPackage / sheet of a workbook")
    p.add_argument("--out", required=True, help="output count GeoTIFF (uint16, cameras seeing each cell)")
    p.add_argument("--target-height", type=float, default=0.0, help="target height above ground, m (default 0)")
    p.add_argument("--no-curvature", action="store_true", help="ignore earth curvature and refraction")
    p.add_argument("--refraction", type=float, default=0.13, help="refraction coefficient (default 0.13)")
    p.add_argument("--range", type=float, default=None, help="range in metres for every camera (overrides fields)")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
