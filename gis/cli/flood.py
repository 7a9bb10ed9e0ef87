"""``python -m gis`` commands: flood scenario, exposure and evacuation plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, emit, finish, progress
from layers.errors import LayerError
from layers.text import Text, pick, stage_scenario

#: the file of ``plan --village-maps``
_VILLAGE_MAPS_PDF = Text("村级防汛形势图.pdf", "village_maps.pdf", "village_maps_pdf")

# ---- hand ------------------------------------------------------------------------------------
def _run_hand(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from gis.flood.hand import hand
    from layers.raster import write_raster

    t0 = time.perf_counter()
    given = Inputs(args)
    dem = given.raster(args.dem)
    streams = given.raster(args.streams) if args.streams else None
    given.check()
    h = hand(dem, streams=streams, min_upstream_km2=args.min_upstream_km2)
    write_raster(h, Path(args.out), dtype="float32")
    vals = h.array[np.isfinite(h.array)]
    notes = list(dict.fromkeys([pick(n, args.lang) for n in (list(dem.warnings) + list(h.warnings))]
                               + given.messages()))
    out = {"out": str(args.out), "rows": h.shape[0], "cols": h.shape[1], "crs": str(dem.crs),
           "defined_cells": int(vals.size), "undefined_cells": int(h.array.size - vals.size),
           "hand_min": float(vals.min()) if vals.size else None,
           "hand_median": float(np.median(vals)) if vals.size else None,
           "hand_max": float(vals.max()) if vals.size else None, "unit": "m", "nodata": h.nodata,
           "seconds": round(time.perf_counter() - t0, 2),
           "notes": notes}
    return finish(args, out, f"HAND -> {args.out} ({out['defined_cells']:,} cells defined, {out['seconds']} s)",
                   notes)


@command("hand", "Height Above Nearest Drainage from a DEM (pyflwdir) / 计算相对最近河道高差 HAND")
def _add_hand(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dem", required=True, help="DEM raster: GeoTIFF, .asc, .img, .vrt, .hgt / .hgt.zip, .nc (metres)")
    p.add_argument("--out", required=True, help="output HAND GeoTIFF (float32 metres, nodata -9999 where undefined)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--streams", help="stream raster on the DEM grid (non-zero = stream)")
    g.add_argument("--min-upstream-km2", type=float, default=None,
                   help="stream threshold: upstream area in km² (default 1.0; the same streams at any cell size)")
    add_input_options(p, offsets=False)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


# ---- exposure --------------------------------------------------------------------------------
def _hazard_file(given: Inputs, path: str, sublayer: str | None,
                 near: tuple[float, float, float, float] | None, name: str | None = None):
    """A scenario from a file, as :func:`gis.flood.hazard.hazard_from_file`, with the coordinate options."""
    from gis.flood.hazard import Hazard
    from layers.load import is_raster_file

    p = Path(path)
    if is_raster_file(p):
        return Hazard.from_depth_raster(given.raster(p, sublayer=sublayer), source=p.name, name=name)
    layer = given.layer(p, "flood_hazard", sublayer, near=near)
    gdf = layer.gdf
    gdf.attrs["warnings"] = list(gdf.attrs.get("warnings", [])) + list(layer.notes)
    return Hazard.from_polygons(gdf, source=layer.source, name=name)


def _exposure_layer(given: Inputs, path: Path, sublayer: str | None, kind: str, field: str | None):
    """The exposure vector layer, the population column to use and the kind it was read as (``grids``,
    ``villages``, or ``features``: any layer with a population column; see ``exposure --help``)."""
    from layers.catalogue import spec
    from layers.errors import Problem

    kinds = ("grids", "villages") if kind == "auto" else (kind,)
    first_error = None
    for k in kinds:
        try:
            gdf = given.layer(path, k, sublayer).gdf
            kind = k
            break
        except LayerError as e:
            first_error = first_error or e
    else:
        assert first_error is not None  # the loop over at least one kind failed every time
        if kind != "auto":
            raise first_error
        # any other layer with a population column: read as is, CRS resolved, in EPSG:4490
        from layers.crs import resolve_crs, to_storage
        from layers.readers import read_vector

        gdf = to_storage(resolve_crs(read_vector(path, sublayer=sublayer), source=path.name, assume=given.crs,
                                     towgs84=given.towgs84, on_conflict=given.on_conflict, towgs84_old_only=True))
        given.read.append((path.name, gdf))
        kind = "features"
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
    assert gdf is not None  # grids and villages are vector layers
    if field is not None and field not in gdf.columns:
        pop_aliases = {a.lower() for a in spec("grids").field("population").aliases}
        if field.lower() in pop_aliases and "population" in gdf.columns:
            field = "population"
        else:
            raise LayerError(Problem(f"暴露图层没有字段“{field}”", f"the exposure layer has no field '{field}'",
                                     f"可用字段：{', '.join(map(str, gdf.columns.drop('geometry')))}",
                                     f"fields available: {', '.join(map(str, gdf.columns.drop('geometry')))}",
                                     file=path.name, field=field))
    return gdf, field, kind


def _run_exposure(args: argparse.Namespace) -> int:
    from gis.flood.exposure import EvacuationRule, exposure_summary
    from gis.flood.hazard import Hazard, check_overlap, parse_thresholds
    from gis.projection import lonlat_extent
    from gis.townships import BASIS_NOTES, Outlines, township_basis, township_outlines
    from layers.errors import Problem
    from layers.load import is_raster_file

    thresholds = parse_thresholds(args.thresholds)
    given = Inputs(args)
    if (args.dem is None) != (args.stage is None):
        raise LayerError(Problem("--dem 与 --stage 需同时给出", "--dem and --stage go together",
                                 "同时给出 DEM 和水位（米）", "give both the DEM and the stage in metres"))
    if args.dem is None and args.hazard is None:
        raise LayerError(Problem("没有洪水情景", "no flood scenario", "给出 --hazard 文件，或 --dem 与 --stage",
                                 "give --hazard, or --dem with --stage"))
    epath = Path(args.exposure)
    rule = EvacuationRule(min_depth=args.min_depth, min_share=args.min_share, basis="area")
    raster = is_raster_file(epath)
    boundaries = given.layer(args.boundaries, "boundaries").gdf if args.boundaries else None
    town_notes: list[Text] = []
    outlines: Outlines | None = None
    if raster:   # split by the township outlines of --boundaries (the cell centre decides), else not at all
        exposure = given.raster(epath, sublayer=args.sublayer)
        if boundaries is not None:
            outlines = township_outlines({"boundaries": boundaries}, fallback=())
            if not outlines.from_boundaries:
                town_notes.append(BASIS_NOTES["no_township_level"])
    else:
        exposure, field, kind = _exposure_layer(given, epath, args.sublayer, args.exposure_kind,
                                                args.population_field)
        exposure, basis, town_notes = township_basis(exposure, kind, boundaries)   # by_township: which outline
    if args.dem is not None:   # HAND on the analysis frame's terrain grid: the same streams whatever the DEM's CRS
        from gis.projection import AnalysisFrame

        dem = given.raster(args.dem)
        given.check()
        terrain, _ = AnalysisFrame.around(exposure).raster(dem, cell_m=args.terrain_cell_m)
        hazard = Hazard.from_stage(terrain, args.stage, min_upstream_km2=args.min_upstream_km2,
                                   name=stage_scenario(args.stage)("zh"))
    warnings: list[Text] = []
    if args.dem is None:   # an uploaded scenario must touch the exposure layer (a HAND stage may flood nothing)
        hazard = _hazard_file(given, args.hazard, args.hazard_sublayer, lonlat_extent(exposure))
        given.check()
        warnings = check_overlap(hazard, exposure, area_name=Text("暴露图层", "the exposure layer", "exposure_layer"))
    if raster:
        out = exposure_summary(hazard, exposure, thresholds=thresholds, rule=rule, townships=outlines,
                               lang=args.lang)
    else:
        out = exposure_summary(hazard, exposure, thresholds=thresholds, population_field=field, rule=rule,
                               lang=args.lang)
    if not raster:
        out["townships_from"] = basis
    read = [m for m in given.messages() if m not in out["notes"]]
    if warnings or town_notes or read:   # the overlap first, which outline counts townships after the analysis's
        out["notes"] = [pick(w, args.lang) for w in warnings] + list(out["notes"]) + \
            [pick(w, args.lang) for w in town_notes] + read
        for lg in ("zh", "en"):
            if f"notes_{lg}" in out:
                out[f"notes_{lg}"] = [pick(w, lg) for w in warnings] + list(out[f"notes_{lg}"]) + \
                    [pick(w, lg) for w in town_notes]
    if args.json:
        emit(out)
    else:
        print(f"{out['scenario']}: affected {out['affected_population']} of {out['total_population']} people; "
              f"by threshold {out['by_threshold']}")
        for r in out.get("by_township", []):
            print(f"  {r['township']}: affected {r['affected_population']}, to evacuate {r['people_to_evacuate']}")
        for n in out["notes"]:
            print("  ! " + n)
    return 0


@command("exposure", "people, households and grids exposed to a flood scenario / 洪水情景下的受影响人口与网格")
def _add_exposure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hazard", help="depth raster (.tif, .asc, .img, .nc...; metres, centimetres detected) or "
                                    "danger-zone polygons (any vector file, read as the flood_hazard layer)")
    p.add_argument("--hazard-sublayer", help="layer inside the hazard GeoPackage / KML folder")
    p.add_argument("--exposure", required=True,
                   help="population raster (.tif, .asc, .img, .nc...; people per cell) or a vector layer with a "
                        "population field")
    p.add_argument("--sublayer", help="layer inside the exposure GeoPackage (e.g. grids)")
    p.add_argument("--exposure-kind", choices=("auto", "grids", "villages"), default="auto",
                   help="how to read a vector exposure: auto tries transfer grids (leaf grids are counted), then "
                        "villages, then any layer with a population column")
    p.add_argument("--population-field", help="population column (default: the catalogue's population field)")
    p.add_argument("--boundaries", metavar="FILE",
                   help="administrative boundaries (the boundaries layer: county / township / village polygons, any "
                        "vector file, DataV GeoJSON as it comes): by_township counts each grid or village in the "
                        "township outline holding it, and a population raster's people by the outline holding each "
                        "cell's centre; without it, grids and villages under their own township field and a "
                        "population raster not by township (the notes and townships_from say which) / "
                        "行政区界，分乡镇统计按所在乡镇界（人口栅格按像元中心所在乡镇）")
    p.add_argument("--thresholds", default="0.5,1.5,3.0", help="depth-class thresholds in metres")
    p.add_argument("--dem", help="DEM GeoTIFF: compute the hazard from HAND and --stage (screening method)")
    p.add_argument("--stage", type=float, help="water level above the streams, metres (with --dem)")
    p.add_argument("--min-upstream-km2", type=float, default=None,
                   help="HAND stream threshold as an upstream area, km² (with --dem; default 1.0)")
    p.add_argument("--terrain-cell-m", type=float, default=30.0,
                   help="cell of the terrain grid HAND runs on, metres (with --dem; default 30: a coarser DEM is "
                        "interpolated onto it)")
    p.add_argument("--min-depth", type=float, default=None,
                   help="evacuate grids whose max depth reaches this (default: the lowest threshold)")
    p.add_argument("--min-share", type=float, default=0.0,
                   help="and whose flooded share of area reaches this (0-1, default 0: any part)")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of 'notes'")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# ---- plan ------------------------------------------------------------------------------------------
def _run_plan(args: argparse.Namespace) -> int:
    from gis.flood.hazard import check_overlap
    from gis.flood.needs import DAILY_ITEMS
    from gis.flood.scenario import FloodInputs, FloodScenario
    from gis.report.plan_files import write_plan_files
    from layers.workspace import Workspace

    given = Inputs(args)   # --crs and friends for the scenario file and the population raster
    scenario = FloodScenario.from_args(args)
    ws = Workspace(Path(args.workspace))
    population = given.raster(args.population) if args.population else None
    inputs = FloodInputs.from_workspace(ws, population=population)
    if scenario.source in ("raster", "polygons") and scenario.hazard_file:
        hazard = _hazard_file(given, scenario.hazard_file, None, inputs.lonlat(), name=scenario.name)
        given.check()
        hazard.notes = list(check_overlap(hazard, inputs.layers["grids"])) + list(hazard.notes)
    else:
        given.check()
        hazard = scenario.hazard(inputs)
    plan = scenario.run(inputs, hazard=hazard)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = write_plan_files(plan, out, lang=args.lang)
    if args.village_maps and len(plan.grids):
        from gis.report.village_map import village_maps_batch

        pdf = out / _VILLAGE_MAPS_PDF(args.lang)
        pdf.write_bytes(village_maps_batch(plan, hazard=hazard.depth if hazard.depth is not None else hazard.polygons,
                                           roads=inputs.get("roads"), scenario=hazard.label(args.lang),
                                           lang=args.lang, progress=progress("村级形势图 / village maps"),
                                           boundaries=inputs.get("boundaries")))
        files.append(pdf)
    s = plan.summary
    summary = {k: s.get(k) for k in ("people_to_evacuate", "people_placed", "people_unplaced", "shelters_used",
                                     "person_km", "vulnerable_to_evacuate", "households_to_evacuate",
                                     "households_placed", "households_unplaced", "people_by_route_mode",
                                     "longest_walk_km", "people_no_reachable_shelter", "metric_crs",
                                     "grids_to_evacuate", "grids_split", "shelters_unusable", "hazard_method",
                                     "route_method", "k_tried")}
    summary["scenario"] = hazard.label(args.lang)
    summary["person_km"] = round(float(summary["person_km"] or 0.0), 1)
    if len(plan.needs):
        total = plan.needs.iloc[-1]
        summary["needs"] = {k: (float(v) if k in DAILY_ITEMS else int(v)) for k, v in total.items() if k != "people"}
        summary["needs_days"] = scenario.days
    summary["scenario_params"] = scenario.to_params()
    summary["files"] = [str(f) for f in files]
    notes = list(dict.fromkeys([n(args.lang) for n in inputs.notes] + plan.messages(args.lang)
                               + given.messages()))
    summary["notes"] = notes
    headline = "\n".join(f"{k}: {v}" for k, v in summary.items() if k not in ("notes", "scenario_params"))
    return finish(args, summary, headline, notes)


@command("plan", "evacuation plan for a flood scenario: who moves where, lists, maps / 转移避险方案")
def _add_plan(p: argparse.ArgumentParser) -> None:
    from gis.flood.scenario import add_arguments

    p.add_argument("--workspace", required=True, help="workspace GeoPackage (dem.tif beside it for --stage)")
    add_arguments(p)
    p.add_argument("--population", help="population raster (people per cell): where people live, for the homes rule")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-village-maps", dest="village_maps", action="store_false",
                   help="skip the village situation maps PDF")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true")
