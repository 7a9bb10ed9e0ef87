"""``python -m gis`` commands: the whole forest-fire review of a workspace written as files (``fire-report``).

The flags build a :class:`gis.fire.review.FireReview` (one flag per field, :data:`FLAGS`; the Fire
page has one widget per field), which runs on the workspace and goes to the report writers as it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gis.cli import Inputs, add_input_options, command, finish, progress

#: FireReview field -> its flag (every field has one; the Fire page has a widget for each)
FLAGS = {
    "season": "--season", "weights": "--weights", "weather": "--weather",
    "cameras": "--no-cameras", "water": "--no-water", "gaps": "--no-gaps",
    "site_cameras": "--site-cameras", "site_water": "--site-water", "township": "--township",
    "target_h": "--target-height", "curvature": "--no-curvature", "refraction": "--refraction",
    "rules": "--rules", "max_road_m": "--max-road-distance", "min_gap_ha": "--min-gap-ha",
    "camera_height": "--camera-height", "camera_range": "--camera-range",
    "water_distance_m": "--water-distance", "water_rise_m": "--water-rise",
    "camera_max_road_m": "--camera-max-road", "water_max_road_m": "--water-max-road",
    "min_prominence_m": "--min-prominence", "spacing_m": "--spacing", "max_candidates": "--max-candidates",
}
#: candidate sites by kind -> flag (files, not review fields)
CANDIDATE_FLAGS = {"camera": "--camera-candidates", "water": "--water-candidates"}


def _bad(zh: str, en: str, fix_zh: str, fix_en: str, **where):
    from layers.errors import LayerError, Problem

    return LayerError(Problem(zh, en, fix_zh, fix_en, **where))


def _none_if_negative(v: float | None) -> float | None:
    return None if v is None or v < 0 else v


def review_from_args(args: argparse.Namespace):
    """The :class:`gis.fire.review.FireReview` the flags ask for.

    Raises
    ------
    layers.errors.LayerError
        A flag's value out of range (named in the message).
    """
    from gis.fire.review import FireReview

    return FireReview(
        season=args.season, weights=args.weights or (), weather=args.weather,
        cameras=not args.no_cameras, water=not args.no_water, gaps=not args.no_gaps,
        site_cameras=args.site_cameras, site_water=args.site_water, township=args.township,
        target_h=args.target_height, curvature=not args.no_curvature, refraction=args.refraction,
        rules=args.rules or (), max_road_m=args.max_road_distance, min_gap_ha=args.min_gap_ha,
        camera_height=args.camera_height, camera_range=args.camera_range,
        water_distance_m=args.water_distance, water_rise_m=_none_if_negative(args.water_rise),
        camera_max_road_m=_none_if_negative(args.camera_max_road),
        water_max_road_m=_none_if_negative(args.water_max_road), min_prominence_m=args.min_prominence,
        spacing_m=args.spacing, max_candidates=args.max_candidates)


def _no_candidate_files(given: Inputs) -> None:
    """Coordinate options without a candidate file apply to nothing: the workspace's layers were converted
    when they were imported."""
    used = [flag for flag, on in (("--crs", given.crs is not None), ("--towgs84", given.towgs84 is not None),
                                  ("--crs-override", given.override),
                                  (f"--{given.offset}", given.offset is not None)) if on]
    if used:
        flags = " ".join(used)
        raise _bad(f"{flags} 只用于候选点文件（--camera-candidates / --water-candidates），"
                   "工作空间中的图层在导入时已转换",
                   f"{flags} applies to the candidate files (--camera-candidates / --water-candidates); the "
                   "workspace's layers were converted when they were imported",
                   f"去掉 {flags}；工作空间图层的坐标系有误时，用 python -m gis import --crs ... 重新导入",
                   f"drop {flags}; if a workspace layer's CRS is wrong, import it again with python -m gis import "
                   "--crs ...", field=used[0])


def _run_fire_report(args: argparse.Namespace) -> int:
    import time

    from gis.fire.review import FireInputs
    from gis.report.fire_files import fire_summary, write_fire_files
    from layers.text import pick
    from layers.workspace import Workspace

    t0 = time.perf_counter()
    review = review_from_args(args)
    # --crs and friends: for the candidate files (the workspace's layers were converted on import)
    given = Inputs(args)
    ws_path = Path(args.workspace)
    if ws_path.suffix.lower() != ".gpkg":
        raise _bad(f"--workspace 应为 .gpkg 文件：{ws_path.name}", f"--workspace must be a .gpkg file: {ws_path.name}",
                   "如 --workspace 县应急局/workspace.gpkg", "e.g. --workspace office/workspace.gpkg",
                   file=ws_path.name, field="--workspace")
    if not ws_path.is_file():
        raise _bad("工作空间文件不存在", "the workspace file does not exist", "检查 --workspace 路径",
                   "check the --workspace path", file=ws_path.name, field="--workspace")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _bad(f"--out 应为文件夹，“{out.name}”是一个文件", f"--out must be a folder; '{out.name}' is a file",
                   "换一个文件夹路径（不存在时自动创建）", "give a folder path (created when missing)",
                   file=out.name, field="--out")
    ws = Workspace(ws_path)
    kinds = ws.vector_kinds()
    if "forest" not in kinds:
        raise _bad("工作空间中没有森林图层，无法分析", "the workspace has no forest layer to analyse",
                   "先导入森林（林班面）", "import the forest (compartment polygons) first", file=ws_path.name)
    if "dem" not in ws.raster_kinds():
        raise _bad("工作空间旁没有 DEM（dem.tif），无法计算视域与水源可达", "no DEM (dem.tif) beside the workspace "
                   "for viewsheds and water reach", "把 dem.tif 放在工作空间文件旁", "put dem.tif beside the "
                   "workspace file", file=ws_path.name)
    layers: dict[str, Any] = {k: ws.vector(k) for k in ("forest", "cameras", "water_sources", "roads", "villages",
                                                        "graves", "rivers", "grids", "boundaries") if k in kinds}
    notes_pre: list[str] = []
    if "boundaries" in layers:   # cameras and sources counted in the township outline holding them
        from gis.townships import stamp_townships

        layers, town_notes = stamp_townships(layers)
        notes_pre = [n(args.lang) for n in town_notes]
    candidates = {kind: given.points(getattr(args, f"{kind}_candidates"))
                  for kind in CANDIDATE_FLAGS if getattr(args, f"{kind}_candidates", None)}
    if not candidates:
        _no_candidate_files(given)
    given.check()   # options that fitted none of the candidate files: refused before anything is written
    result = review.run(FireInputs(ws.raster("dem"), layers, candidates=candidates))
    notes = notes_pre + [n for n in dict.fromkeys(result.messages(args.lang) + given.messages())
                         if n not in notes_pre]

    files = write_fire_files(result, out, lang=args.lang, maps=not args.no_maps, map_dpi=args.map_dpi,
                             progress=progress("文件与覆盖图 / files and maps"))
    s = fire_summary(result)
    site_list = []
    for r in result.sites:
        for rec in r.sites.itertuples(index=False):
            site_list.append({"kind": rec.kind, "order": int(rec.order), "name": rec.name,
                              "gain_ha": round(float(rec.gain_ha), 1),
                              "cumulative_share": round(float(rec.cumulative_share), 6),
                              "lon": round(rec.geometry.x, 6), "lat": round(rec.geometry.y, 6)})
    w = result.weather
    result_json = {"workspace": str(ws_path), "out": str(out), **{k: s[k] for k in (
        "forest_ha", "high_risk_ha", "seen_share", "high_seen_share", "reach_share", "high_reach_share",
        "both_gap_ha")},
        "gaps": s["gaps"], "gap_ha": s["gap_ha"], "gaps_by_class": s["gaps_by_class"],
        "sites": site_list, "weather": None if w is None else {
            "level": w.level, "index": w.index, "label": pick(w.label, args.lang), "inputs": list(w.inputs.values())},
        "weather_level": s["weather_level"], "season": review.season, "target_height": review.target_h,
        "review": review.to_params(), "maps": not args.no_maps, "files": [str(p) for p in files],
        "seconds": round(time.perf_counter() - t0, 2), "notes": notes}

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    headline = (f"fire-report -> {out}: {len(files)} file(s); forest {s['forest_ha']:,.1f} ha, high risk "
                f"{s['high_risk_ha']:,.1f} ha, seen {pct(s['high_seen_share'])}, in water reach "
                f"{pct(s['high_reach_share'])} (high risk); {s['gaps']} gap(s) {s['gap_ha']:,.1f} ha; "
                f"{len(site_list)} site(s)" + (f"; weather level {w.level}" if w else "")
                + f", {result_json['seconds']} s")
    return finish(args, result_json, headline, notes)


@command("fire-report", "forest-fire review of a workspace as Excel, GeoPackage/GeoJSON/KML, GeoTIFFs and A4 maps "
                        "/ 森林防火覆盖评估成果输出")
def _add_fire_report(p: argparse.ArgumentParser) -> None:
    from gis.fire.review import FireReview

    d = FireReview()
    p.add_argument("--workspace", required=True, help="workspace GeoPackage (forest required; cameras, water_sources, "
                                                      "roads, villages, graves, rivers used when present; dem.tif "
                                                      "beside it)")
    p.add_argument("--out", required=True, help="output folder (created; files of the same names replaced)")
    g = p.add_argument_group("the review (the same choices as the Fire page)")
    g.add_argument("--season", choices=("dry", "wet"), default=d.season, help="season for water sources (default dry)")
    g.add_argument("--weights", help="risk factor weights, e.g. fuel=0.3,slope=0.15 (given ones replace the "
                                     "defaults; factors fuel, slope, aspect, roads, settlements, graves)")
    g.add_argument("--weather", help="the day's weather 'TMAX,RH,DRYDAYS,WIND[,RAIN]' (°C, 14:00 humidity %%, days "
                                     "without rain, wind force, rain mm) for the danger level and day_level.tif")
    g.add_argument("--no-cameras", action="store_true", help="skip the camera coverage step")
    g.add_argument("--no-water", action="store_true", help="skip the water reach step")
    g.add_argument("--no-gaps", action="store_true", help="skip the coverage gaps step")
    g.add_argument("--site-cameras", type=int, default=d.site_cameras, help="also choose this many new camera sites")
    g.add_argument("--site-water", type=int, default=d.site_water, help="also choose this many new water points")
    g.add_argument("--township", help="township in focus: the A4 maps of the whole area and this township only")
    g.add_argument("--target-height", type=float, default=d.target_h,
                   help="target height above ground for camera visibility, m (default 0; 20 for a smoke column)")
    g.add_argument("--no-curvature", action="store_true", help="ignore earth curvature and refraction")
    g.add_argument("--refraction", type=float, default=d.refraction, help="refraction coefficient (default 0.13)")
    g.add_argument("--rules", help="per-type water reach overriding the defaults: type=metres:rise_metres,... "
                                   "(types reservoir, pond, cistern, tank, river_intake, hydrant, helicopter, "
                                   "default; empty rise = no limit)")
    g.add_argument("--max-road-distance", type=float, default=d.max_road_m,
                   help="water sources farther than this many metres from a road are not counted (helicopter dip "
                        "sites exempt)")
    g.add_argument("--min-gap-ha", type=float, default=d.min_gap_ha,
                   help="leave out gap patches under this many ha (default 1)")
    g.add_argument("--camera-height", type=float, default=d.camera_height,
                   help="mast height of new cameras, m (default 30)")
    g.add_argument("--camera-range", type=float, default=d.camera_range, help="range of new cameras, m (default 8000)")
    g.add_argument("--water-distance", type=float, default=d.water_distance_m,
                   help="reach of a new water point, m (default 1300)")
    g.add_argument("--water-rise", type=float, default=d.water_rise_m,
                   help="largest rise above a new water point, m (default 250; negative = no limit)")
    g.add_argument("--camera-max-road", type=float, default=d.camera_max_road_m,
                   help="new camera candidates within this many metres of a road (default: no limit)")
    g.add_argument("--water-max-road", type=float, default=d.water_max_road_m,
                   help="new water point candidates within this many metres of a road (default 500; negative = no "
                        "limit)")
    g.add_argument("--min-prominence", type=float, default=d.min_prominence_m,
                   help="camera candidates stand this many metres above their 450 m window (default 20)")
    g.add_argument("--spacing", type=float, default=d.spacing_m, help="least distance between candidates, m "
                                                                       "(default 1000)")
    g.add_argument("--max-candidates", type=int, default=d.max_candidates,
                   help="cap on generated candidates (default 300)")
    g.add_argument("--camera-candidates", help="candidate camera sites (points file; default ridge/peak cells)")
    g.add_argument("--water-candidates", help="candidate water points (points file; default stream cells near roads)")
    add_input_options(p)   # for the candidate files
    p.add_argument("--no-maps", action="store_true", help="skip the A4 coverage maps (PNG/PDF)")
    p.add_argument("--map-dpi", type=int, default=None, help="PNG resolution of the maps (default 300)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
