"""``python -m gis osm``: a whole workspace folder from an OpenStreetMap extract (and DEM tiles), offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, finish


def _run_osm(args: argparse.Namespace) -> int:
    from layers.errors import LayerError, Problem
    from layers.osm import LAYER_ORDER, import_osm, parse_bbox

    given = Inputs(args)   # --crs, --towgs84, --crs-override: for the DEM tiles, read as any raster input is
    bbox = parse_bbox(args.bbox)
    if not args.dem and (given.crs is not None or given.towgs84 is not None):
        flag = "--crs" if given.crs is not None else "--towgs84"
        raise LayerError(Problem(f"{flag} 用于 DEM 分幅，但没有给出 --dem（OpenStreetMap 文件总是 WGS84 经纬度）",
                                 f"{flag} applies to the DEM tiles, but no --dem was given (an OpenStreetMap file "
                                 "is always WGS84 lon/lat)", f"去掉 {flag}，或用 --dem 给出 DEM 分幅",
                                 f"drop {flag}, or give the DEM tiles with --dem", field=flag))
    dems = [given.raster(p) for p in args.dem or []]
    given.check()
    result = import_osm(Path(args.osm), Path(args.out), bbox=bbox, dem_paths=dems,
                        dem_names=[Path(p).name for p in args.dem or []])
    summary = result.summary(args.lang)
    summary["notes"] = list(dict.fromkeys(summary["notes"] + given.messages()))
    summary["out"] = str(Path(args.out))
    counts = result.counts
    lines = [f"{Path(args.out)}:"]
    lines += [f"  {kind}: {counts.get(kind, 0)}" for kind in LAYER_ORDER]
    if "dem" in counts:
        lines.append(f"  dem: {counts['dem']:,} cells")
    return finish(args, summary, "\n".join(lines), summary["notes"])


@command("osm", "build a workspace (workspace.gpkg + dem.tif) from an OpenStreetMap extract / "
               "由 OpenStreetMap 摘录建工作空间")
def _add_osm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--osm", required=True, metavar="FILE",
                   help="OpenStreetMap extract (.osm.pbf or .osm), read offline")
    p.add_argument("--dem", nargs="+", metavar="DEM",
                   help="DEM tile(s) covering the area (GeoTIFF, .asc, .img, .vrt, .hgt / .hgt.zip, .nc); cut to "
                        "the area as dem.tif; --crs for tiles without a CRS / 高程分幅")
    p.add_argument("--bbox", metavar="W,S,E,N",
                   help="area in degrees (west,south,east,north); default the DEM's extent within the file's, or "
                        "the file's / 范围（经纬度）")
    p.add_argument("--out", required=True, metavar="DIR", help="new workspace folder (must not exist, or be empty)")
    add_input_options(p, offsets=False)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print the feature count per layer (and the notes) as JSON")
