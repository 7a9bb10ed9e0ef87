"""``python -m gis`` commands: flood scenario, exposure and evacuation plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import command, emit, finish
from layers.errors import LayerError


# ---- hand ------------------------------------------------------------------------------------
def _run_hand(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from gis.flood.hand import hand
    from layers.raster import read_raster, write_raster

    t0 = time.perf_counter()
    dem = read_raster(Path(args.dem))
    streams = read_raster(Path(args.streams)) if args.streams else None
    h = hand(dem, streams=streams, min_upstream_cells=args.min_upstream_cells)
    write_raster(h, Path(args.out), dtype="float32")
    vals = h.array[np.isfinite(h.array)]
    out = {"out": str(args.out), "rows": h.shape[0], "cols": h.shape[1], "crs": str(dem.crs),
           "defined_cells": int(vals.size), "undefined_cells": int(h.array.size - vals.size),
           "hand_min": float(vals.min()) if vals.size else None,
           "hand_median": float(np.median(vals)) if vals.size else None,
           "hand_max": float(vals.max()) if vals.size else None, "unit": "m", "nodata": h.nodata,
           "seconds": round(time.perf_counter() - t0, 2),
           "notes": [zh if args.lang == "zh" else en for zh, en in (list(dem.warnings) + list(h.warnings))]}
    return finish(args, out, f"HAND -> {args.out} ({out['defined_cells']:,} cells defined, {out['seconds']} s)",
                   out["notes"])


@command("hand", "Height Above Nearest Drainage from a DEM (pyflwdir) / 计算相对最近河道高差 HAND")
def _add_hand(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dem", required=True, help="DEM GeoTIFF (metres)")
    p.add_argument("--out", required=True, help="output HAND GeoTIFF (float32 metres, nodata -9999 where undefined)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--streams", help="stream raster on the DEM grid (non-zero = stream)")
    g.add_argument("--min-upstream-cells", type=int, default=None,
                   help="stream threshold in upstream cells (default 1000)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


# ---- exposure --------------------------------------------------------------------------------
def _exposure_layer(path: Path, sublayer: str | None, kind: str, field: str | None):
    """The exposure vector layer and the population column to use (see ``exposure --help``)."""
    from layers.catalogue import spec
    from layers.errors import Problem
    from layers.load import load_layer

    kinds = ("grids", "villages") if kind == "auto" else (kind,)
    first_error = None
    for k in kinds:
        try:
            gdf = load_layer(path, k, sublayer=sublayer).gdf
            break
        except LayerError as e:
            first_error = first_error or e
    else:
        if kind != "auto":
            raise first_error
        # any other layer with a population column: read as is, CRS resolved, in EPSG:4490
        from layers.crs import resolve_crs, to_storage
        from layers.readers import read_vector

        gdf = to_storage(resolve_crs(read_vector(path, sublayer=sublayer), source=path.name))
        aliases = {a.lower() for a in spec("villages").field("population").aliases} | {"population"}
        if field is None:
            match = [c for c in gdf.columns if str(c).lower() in aliases]
            if not match:
                raise LayerError([Problem("暴露图层不是网格或村庄图层，也没有人口字段",
                                          "the exposure layer is neither grids nor villages and has no population "
                                          "field", "用 --population-field 指定人口字段，或按下列问题修正网格图层",
                                          "name the population column with --population-field, or fix the grid "
                                          "layer as listed below", file=path.name), *first_error.problems])
            gdf = gdf.rename(columns={match[0]: "population"})
    if field is not None and field not in gdf.columns:
        pop_aliases = {a.lower() for a in spec("grids").field("population").aliases}
        if field.lower() in pop_aliases and "population" in gdf.columns:
            field = "population"
        else:
            raise LayerError(Problem(f"暴露图层没有字段“{field}”", f"the exposure layer has no field '{field}'",
                                     f"可用字段：{', '.join(map(str, gdf.columns.drop('geometry')))}",
                                     f"fields available: {', '.join(map(str, gdf.columns.drop('geometry')))}",
                                     file=path.name, field=field))
    return gdf, field


def _run_exposure(args: argparse.Namespace) -> int:
    from gis.flood.exposure import EvacuationRule, exposure_summary
    from gis.flood.hazard import Hazard, check_overlap, hazard_from_file, parse_thresholds
    from gis.projection import lonlat_extent
    from layers.errors import Problem
    from layers.load import RASTER_SUFFIXES
    from layers.raster import read_raster

    thresholds = parse_thresholds(args.thresholds)
    if (args.dem is None) != (args.stage is None):
        raise LayerError(Problem("--dem 与 --stage 需同时给出", "--dem and --stage go together",
                                 "同时给出 DEM 和水位（米）", "give both the DEM and the stage in metres"))
    if args.dem is not None:
        hazard = Hazard.from_stage(read_raster(Path(args.dem)), args.stage,
                                   min_upstream_cells=args.min_upstream_cells)
    elif args.hazard is None:
        raise LayerError(Problem("没有洪水情景", "no flood scenario", "给出 --hazard 文件，或 --dem 与 --stage",
                                 "give --hazard, or --dem with --stage"))
    epath = Path(args.exposure)
    rule = EvacuationRule(min_depth=args.min_depth, min_share=args.min_share)
    raster = epath.suffix.lower() in RASTER_SUFFIXES
    if raster:
        exposure = read_raster(epath)
    else:
        exposure, field = _exposure_layer(epath, args.sublayer, args.exposure_kind, args.population_field)
    warnings: list[tuple[str, str]] = []
    if args.dem is None:   # an uploaded scenario must touch the exposure layer (a HAND stage may flood nothing)
        hazard = hazard_from_file(Path(args.hazard), sublayer=args.hazard_sublayer,
                                  near=lonlat_extent(exposure))
        warnings = check_overlap(hazard, exposure, area_name=("暴露图层", "the exposure layer"))
    if raster:
        out = exposure_summary(hazard, exposure, thresholds=thresholds, rule=rule, lang=args.lang)
    else:
        out = exposure_summary(hazard, exposure, thresholds=thresholds, population_field=field, rule=rule,
                               lang=args.lang)
    if warnings:
        out["notes"] = [zh if args.lang == "zh" else en for zh, en in warnings] + list(out["notes"])
        for k, i in (("notes_zh", 0), ("notes_en", 1)):
            if k in out:
                out[k] = [w[i] for w in warnings] + list(out[k])
    if args.json:
        emit(out)
    else:
        print(f"{out['scenario']}: affected {out['affected_population']} of {out['total_population']} people; "
              f"by threshold {out['by_threshold']}")
        for n in out["notes"]:
            print("  ! " + n)
    return 0


@command("exposure", "people, households and grids exposed to a flood scenario / 洪水情景下的受影响人口与网格")
def _add_exposure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hazard", help="depth raster (.tif, metres; centimetres detected) or danger-zone polygons "
                                    "(any vector file, read as the flood_hazard layer)")
    p.add_argument("--hazard-sublayer", help="layer inside the hazard GeoPackage / KML folder")
    p.add_argument("--exposure", required=True,
                   help="population raster (.tif, people per cell) or a vector layer with a population field")
    p.add_argument("--sublayer", help="layer inside the exposure GeoPackage (e.g. grids)")
    p.add_argument("--exposure-kind", choices=("auto", "grids", "villages"), default="auto",
                   help="how to read a vector exposure: auto tries transfer grids (leaf grids are counted), then "
                        "villages, then any layer with a population column")
    p.add_argument("--population-field", help="population column (default: the catalogue's population field)")
    p.add_argument("--thresholds", default="0.5,1.5,3.0", help="depth-class thresholds in metres")
    p.add_argument("--dem", help="DEM GeoTIFF: compute the hazard from HAND and --stage (screening method)")
    p.add_argument("--stage", type=float, help="water level above the streams, metres (with --dem)")
    p.add_argument("--min-upstream-cells", type=int, default=None, help="HAND stream threshold (with --dem)")
    p.add_argument("--min-depth", type=float, default=None,
                   help="evacuate grids whose max depth reaches this (default: the lowest threshold)")
    p.add_argument("--min-share", type=float, default=0.0,
                   help="and whose flooded share of area reaches this (0-1, default 0: any part)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of 'notes'")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# ---- plan ------------------------------------------------------------------------------------------
def _run_plan(args: argparse.Namespace) -> int:
    from gis.flood.hazard import Hazard, check_overlap, hazard_from_file, parse_thresholds
    from gis.flood.plan import PlanOptions, evacuation_plan
    from gis.report.plan_files import write_plan_files
    from layers.errors import Problem
    from layers.workspace import Workspace

    ws = Workspace(Path(args.workspace))
    kinds = ws.vector_kinds()
    missing = [k for k in ("grids", "shelters") if k not in kinds]
    if missing:
        raise LayerError(Problem(f"工作空间缺少图层：{'、'.join(missing)}", f"the workspace lacks: {', '.join(missing)}",
                                 "先导入转移避险网格和避灾安置场所", "import the transfer grids and shelters first",
                                 file=ws.gpkg.name))
    if (args.hazard is None) == (args.stage is None):
        raise LayerError(Problem("请给出 --hazard 或 --stage（二选一）", "give either --hazard or --stage",
                                 "--hazard 为水深栅格或危险区文件；--stage 为水位（米），用工作空间的 DEM 计算",
                                 "--hazard is a depth raster or danger zones; --stage is a water level in metres "
                                 "on the workspace DEM"))
    grids = ws.vector("grids")
    boundaries = ws.vector("boundaries") if "boundaries" in kinds else None
    warnings: list[tuple[str, str]] = []
    if boundaries is not None:   # per-township tables count what the boundaries outline
        from gis.townships import stamp_townships

        stamped, town_notes = stamp_townships({"grids": grids, "boundaries": boundaries})
        grids = stamped["grids"]
        warnings += list(town_notes)
    if args.stage is not None:
        if "dem" not in ws.raster_kinds():
            raise LayerError(Problem("工作空间中没有 DEM（dem.tif），无法按水位计算", "no DEM (dem.tif) beside the "
                                     "workspace for a stage", "把 dem.tif 放在工作空间旁，或用 --hazard",
                                     "put dem.tif beside the workspace, or use --hazard", file=ws.gpkg.name))
        hazard = Hazard.from_stage(ws.raster("dem"), args.stage)
    else:
        hazard = hazard_from_file(Path(args.hazard), near=ws.lonlat_bounds())
        warnings = check_overlap(hazard, grids)   # a file of another place would plan for no one
    from gis.flood.exposure import EvacuationRule
    from gis.flood.needs import DAILY_ITEMS, parse_rates

    if not 0.0 <= args.min_share <= 1.0 or args.days < 0:
        raise LayerError(Problem(f"--min-share 应在 0–1 之间、--days 不小于 0（收到 {args.min_share}、{args.days}）",
                                 f"--min-share must be within 0-1 and --days >= 0 (got {args.min_share}, {args.days})",
                                 "如 --min-share 0.1 --days 3", "e.g. --min-share 0.1 --days 3"))
    opts = PlanOptions(thresholds=parse_thresholds(args.thresholds), cut_roads=not args.keep_flooded_roads,
                       rule=EvacuationRule(min_depth=args.min_depth, min_share=args.min_share),
                       weight=args.weight, rates=parse_rates(args.rates) or None, days=args.days)
    roads = ws.vector("roads") if "roads" in kinds else None
    shelters = ws.vector("shelters")
    if boundaries is not None:
        shelters = stamp_townships({"shelters": shelters, "boundaries": boundaries})[0]["shelters"]
    plan = evacuation_plan(grids, shelters, hazard, roads=roads, options=opts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = write_plan_files(plan, out, lang=args.lang, note=plan.summary.get("method_note") or None)
    if args.village_maps and len(plan.grids):
        from gis.report.village_map import village_maps_batch

        pdf = out / "village_maps.pdf"
        pdf.write_bytes(village_maps_batch(plan, hazard=hazard.depth if hazard.depth is not None else hazard.polygons,
                                           roads=roads, scenario=hazard.name, lang=args.lang,
                                           boundaries=boundaries))
        files.append(pdf)
    s = plan.summary
    summary = {k: s.get(k) for k in ("people_to_evacuate", "people_placed", "people_unplaced", "shelters_used",
                                     "person_km", "vulnerable_to_evacuate", "grids_to_evacuate", "grids_split",
                                     "shelters_unusable", "scenario", "hazard_method", "route_method")}
    summary["person_km"] = round(float(summary["person_km"] or 0.0), 1)
    if len(plan.needs):
        total = plan.needs.iloc[-1]
        summary["needs"] = {k: (float(v) if k in DAILY_ITEMS else int(v)) for k, v in total.items() if k != "people"}
        summary["needs_days"] = plan.needs.attrs.get("days", args.days)
    summary["files"] = [str(f) for f in files]
    summary["notes"] = [zh if args.lang == "zh" else en for zh, en in warnings] + plan.messages(args.lang)
    headline = "\n".join(f"{k}: {v}" for k, v in summary.items() if k != "notes")
    return finish(args, summary, headline, summary["notes"])


@command("plan", "evacuation plan for a flood scenario: who moves where, lists, maps / 转移避险方案")
def _add_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True, help="workspace GeoPackage (dem.tif beside it for --stage)")
    p.add_argument("--hazard", help="depth raster (.tif, metres) or danger-zone polygons")
    p.add_argument("--stage", type=float, help="water level above the nearest drainage, metres (HAND screening)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--thresholds", default="0.5,1.5,3.0", help="depth class limits in metres")
    p.add_argument("--min-depth", type=float, default=None,
                   help="evacuate grids whose max depth reaches this (metres; default the lowest threshold)")
    p.add_argument("--min-share", type=float, default=0.0,
                   help="... and whose flooded share of area reaches this (0-1; default 0: any wet part)")
    p.add_argument("--weight", choices=("length", "time"), default="length",
                   help="what the assignment minimises per person: distance (default) or travel time")
    p.add_argument("--rates", default=None,
                   help="minimum-needs rates, e.g. rice_kg=0.5,drinking_l=4,clean_l=15,family_kits=4,toilets=20 "
                        "(daily items per person per day; kits and toilets: persons per unit)")
    p.add_argument("--days", type=int, default=3, help="days of supply for the daily items (default 3)")
    p.add_argument("--keep-flooded-roads", action="store_true",
                   help="plan a pre-emptive transfer on the whole road network (default: flooded roads are cut)")
    p.add_argument("--no-village-maps", dest="village_maps", action="store_false",
                   help="skip the village situation maps PDF")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true")
