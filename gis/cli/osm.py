"""``python -m gis osm``: a whole workspace folder from an OpenStreetMap extract (and DEM tiles), offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import command, finish


def _run_osm(args: argparse.Namespace) -> int:
    from layers.osm import LAYER_ORDER, import_osm, parse_bbox

    bbox = parse_bbox(args.bbox)
    result = import_osm(Path(args.osm), Path(args.out), bbox=bbox, dem_paths=[Path(p) for p in args.dem or []])
    summary = result.summary(args.lang)
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
                   help="DEM tile(s) covering the area (GeoTIFF...); cut to the area as dem.tif / 高程分幅")
    p.add_argument("--bbox", metavar="W,S,E,N",
                   help="area in degrees (west,south,east,north); default the DEM's extent within the file's, or "
                        "the file's / 范围（经纬度）")
    p.add_argument("--out", required=True, metavar="DIR", help="new workspace folder (must not exist, or be empty)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print the feature count per layer (and the notes) as JSON")
