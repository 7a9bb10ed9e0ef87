"""``python -m gis`` commands: water-source reach for forest firefighting."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, finish, is_workspace_file


def _load_sources(given: Inputs, path: str, sublayer: str | None):
    """The water sources; rows with no type are kept (they get the default rule, with a note naming them).

    The catalogue makes ``type`` required, so a strict load refuses such a file; when that is the only
    problem the file is validated again with ``type`` optional (the coordinate options applied the same
    way as to every other input).
    """
    from dataclasses import replace

    from layers.catalogue import spec as get_spec
    from layers.coords import convert_offset
    from layers.crs import resolve_crs, to_storage
    from layers.datums import shift_notes
    from layers.errors import LayerError
    from layers.footprints import points_from_polygons
    from layers.load import Layer
    from layers.readers import read_vector
    from layers.text import Text
    from layers.validate import validate

    try:
        return given.layer(path, "water_sources", sublayer)
    except LayerError as e:
        spec = get_spec("water_sources")
        tag = f"required field '{spec.field('type').en}'"
        if not all(tag in p.en for p in e.problems):
            raise
        rows = [str(p.row) for p in e.problems if p.row is not None]
    p = Path(path)
    if sublayer is None and p.suffix.lower() == ".gpkg":
        from layers.readers import list_sublayers

        sublayer = "water_sources" if "water_sources" in list_sublayers(p) else None
    relaxed = replace(spec, fields=tuple(replace(f, required=False) if f.name == "type" else f for f in spec.fields))
    raw = resolve_crs(read_vector(p, sublayer=sublayer, display_name=p.name), source=p.name, assume=given.crs,
                      towgs84=given.towgs84, on_conflict=given.on_conflict, towgs84_old_only=True)
    raw, shaped = points_from_polygons(raw, relaxed, source=p.name)
    gdf, notes = validate(raw, relaxed, source=p.name)
    source_crs = gdf.crs
    gdf = to_storage(gdf)
    offset = (given.offset if given.offset is not None and source_crs.is_geographic and not is_workspace_file(p)
              else None)
    if offset is not None:
        gdf = convert_offset(gdf, offset)
    gdf.attrs["source"] = p.name
    shown = "、".join(rows[:20]) + (f" 等 {len(rows)} 行" if len(rows) > 20 else "")
    shown_en = ", ".join(rows[:20]) + (f" and {len(rows) - 20} more" if len(rows) > 20 else "")
    where = (Text(f"第 {shown} 行", f"row(s) {shown_en}", "type_missing_rows") if rows
             else Text("“类型”列缺失，全部", "the type column is missing: all", "type_column_missing"))
    notes = [*shaped, *notes, *shift_notes(source_crs, p.name)]
    notes.insert(0, Text(f"文件 {p.name} {where[0]}没有水源类型，按默认规则计算；请补填类型",
                         f"file {p.name}, {where[1]} have no source type and use the default rule; fill in the type",
                         "sources_untyped_rows"))
    layer = Layer("water_sources", p.name, gdf=gdf, notes=notes, source_crs=source_crs,
                  crs_chosen_used=bool(raw.attrs.get("crs_chosen_used")), crs_conflict=raw.attrs.get("crs_conflict"),
                  offset=offset)
    given.read.append((p.name, layer))
    return layer


# ---- water-reach -----------------------------------------------------------------------------
def _run_water_reach(args: argparse.Namespace) -> int:
    import math
    import time

    from gis.fire.review import FireReview
    from gis.fire.water_reach import parse_rules, water_reach
    from layers.errors import LayerError, Problem
    from layers.raster import Raster, write_raster
    from layers.text import pick

    t0 = time.perf_counter()
    FireReview(season=args.season, rules=args.rules or ())    # season and rules checked as the review checks them
    rules = parse_rules(args.rules)
    if args.max_road_distance is not None and not args.roads:
        raise LayerError(Problem("使用 --max-road-distance 时需要用 --roads 给出道路图层",
                                 "--max-road-distance needs a roads layer (--roads)", "加上 --roads 道路文件",
                                 "add --roads ROADS", field="--max-road-distance"))
    given = Inputs(args)
    dem = given.raster(args.dem)
    sources = _load_sources(given, args.sources, args.sources_layer)
    forest = given.layer(args.forest, "forest", args.forest_layer)
    roads = given.layer(args.roads, "roads", args.roads_layer) if args.roads else None
    risk = given.raster(args.high_risk) if args.high_risk else None
    given.check()
    res = water_reach(dem, sources.gdf, forest.gdf, rules=rules, season=args.season,
                      roads=roads.gdf if roads is not None else None, max_road_distance_m=args.max_road_distance,
                      high_risk=risk)
    write_raster(Raster(res.count, dem.transform, dem.crs, None, name=Path(args.out).name), Path(args.out),
                 dtype="uint16")
    if args.sources_out:
        res.sources.to_csv(args.sources_out, encoding="utf-8-sig")
    gaps = None
    if args.gaps_out:
        from gis.fire.water_reach import uncovered_patches

        gaps = uncovered_patches(res, high_risk_only=res.high_risk is not None, ground_only=args.gaps_ground,
                                 min_area_m2=args.min_gap_area)
        gaps.to_file(args.gaps_out)
    s = res.summary
    lang = args.lang

    def clean(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    by_type = {t: {k: int(v) for k, v in row.items()} for t, row in res.by_type.iterrows()}
    towns = None
    if res.townships is not None:
        towns = {t: {k: clean(float(v)) for k, v in row.items()} for t, row in res.townships.iterrows()}
    notes = [pick(n, lang) for n in (list(dem.warnings) + list(res.notes))]
    notes = list(dict.fromkeys(notes + given.messages()))
    out = {"out": str(args.out), "rows": int(res.count.shape[0]), "cols": int(res.count.shape[1]),
           "crs": str(dem.crs), "season": args.season,
           "forest_cells": s["forest_cells"], "forest_ha": s["forest_ha"],
           "forest_cells_in_reach": s["reach_cells"], "forest_ha_in_reach": s["reach_ha"],
           "reach_share": s["reach_share"], "reach2_share": s["reach2_share"],
           "ground_reach_share": s["ground_reach_share"],
           "high_risk_cells": s["high_risk_cells"], "high_risk_cells_in_reach": s["high_risk_reach_cells"],
           "high_risk_reach_share": s["high_risk_reach_share"],
           "high_risk_ground_reach_share": s["high_risk_ground_reach_share"],
           "sources": s["sources"], "sources_usable": s["usable"], "dip_sites": s["dip_sites"],
           "by_type": by_type, "townships": towns,
           "rules": {k: {"distance_m": r.distance_m, "rise_m": r.rise_m} for k, r in res.rules.items()},
           "max_road_distance_m": args.max_road_distance,
           "max_count": int(res.count.max()) if res.count.size else 0,
           "gaps_out": args.gaps_out, "gap_patches": None if gaps is None else int(len(gaps)),
           "gap_ha": None if gaps is None else round(float(gaps["area_ha"].sum()), 2),
           "seconds": round(time.perf_counter() - t0, 2), "notes": notes}
    hr = (f"; high-risk {s['high_risk_reach_share']:.1%}" if s["high_risk_reach_share"] is not None else "")
    return finish(args, out, f"water-reach -> {args.out}: {s['reach_ha']:,.0f} of {s['forest_ha']:,.0f} ha forest "
                              f"in reach ({s['reach_share']:.1%}{hr}; by ground {s['ground_reach_share']:.1%}) "
                              f"of {s['usable']} usable source(s) "
                              f"({args.season} season), {out['seconds']} s", notes)


@command("water-reach", "forest within reach of usable water sources / 水源点覆盖林地（以水灭火）")
def _add_water_reach(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dem", required=True, help="DEM raster: GeoTIFF, .asc, .img, .vrt, .hgt / .hgt.zip, .nc "
                                               "(metres; a DEM in degrees is reprojected)")
    p.add_argument("--sources", required=True, help="water sources layer (any supported file)")
    p.add_argument("--sources-layer", help="layer inside the sources GeoPackage / sheet of a workbook "
                                           "(default: 'water_sources' when present)")
    p.add_argument("--forest", required=True, help="forest polygons (township field gives the per-township table)")
    p.add_argument("--forest-layer", help="layer inside the forest GeoPackage (default: 'forest' when present)")
    p.add_argument("--out", required=True, help="output GeoTIFF: usable sources reaching each cell (uint16)")
    p.add_argument("--season", choices=("dry", "wet"), default="dry",
                   help="dry (fire season, default) drops seasonal sources; wet keeps them")
    p.add_argument("--roads", help="roads layer for --max-road-distance")
    p.add_argument("--roads-layer", help="layer inside the roads GeoPackage (default: 'roads' when present)")
    p.add_argument("--max-road-distance", type=float, default=None,
                   help="drop sources farther than this many metres from a road (helicopter dip sites exempt)")
    p.add_argument("--rules", default=None,
                   help="per-type reach overriding the defaults: type=metres:rise_metres,... (types reservoir, "
                        "pond, cistern, tank, river_intake, hydrant, helicopter, default; empty rise = no limit; "
                        "helicopter=0 turns dip sites off)")
    p.add_argument("--high-risk", help="fire-risk levels GeoTIFF (1..5; >= 4 is high risk)")
    p.add_argument("--gaps-out", help="also write the forest out of reach (high-risk forest with --high-risk) as "
                                      "polygons (GeoPackage / GeoJSON, EPSG:4490)")
    p.add_argument("--gaps-ground", action="store_true",
                   help="gaps are out of ground (pump and hose) reach: helicopter dip sites' air reach not counted")
    p.add_argument("--min-gap-area", type=float, default=0.0, help="leave out gap patches under this many m2")
    p.add_argument("--sources-out", help="also write the per-source table (CSV, UTF-8)")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
