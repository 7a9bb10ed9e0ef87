"""``python -m gis`` commands: the whole forest-fire review of a workspace written as files (``fire-report``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import command, finish


def _weather(text: str | None) -> tuple[float, float, float, float] | None:
    """``"TMAX,RH,DRYDAYS,WIND"`` -> four floats; a bilingual error otherwise."""
    from layers.errors import LayerError, Problem

    if text is None:
        return None
    parts = [p.strip() for p in str(text).replace("，", ",").split(",")]
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != 4 or not all(v == v and abs(v) != float("inf") for v in vals) or vals[1] < 0 or vals[1] > 100 \
            or vals[2] < 0 or vals[3] < 0:
        raise LayerError(Problem(f"--weather 应为“最高气温,相对湿度,连续无雨天数,风力”四个数，收到“{text}”",
                                 f"--weather must be four numbers 'TMAX,RH,DRYDAYS,WIND', got '{text}'",
                                 "如 --weather 28,30,7,3（气温 ℃、14 时相对湿度 0–100 %、天数、风力级）",
                                 "e.g. --weather 28,30,7,3 (°C, 14:00 humidity 0-100 %, days, wind force)",
                                 field="--weather"))
    return vals  # type: ignore[return-value]


def _bad(zh: str, en: str, fix_zh: str, fix_en: str, **where):
    from layers.errors import LayerError, Problem

    return LayerError(Problem(zh, en, fix_zh, fix_en, **where))


def _run_fire_report(args: argparse.Namespace) -> int:
    import time

    from gis.fire.review import FireOptions, fire_analysis
    from gis.report.fire_files import fire_summary, write_fire_files
    from gis.fire.siting import site_cameras, site_water
    from layers.workspace import Workspace

    t0 = time.perf_counter()
    weather = _weather(args.weather)
    for flag, n in (("--site-cameras", args.site_cameras), ("--site-water", args.site_water)):
        if n is not None and n < 0:
            raise _bad(f"{flag} 应为不小于 0 的整数，现为 {n}", f"{flag} must be 0 or more, got {n}",
                       f"例如 {flag} 5", f"e.g. {flag} 5", field=flag)
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
    layers = {k: ws.vector(k) for k in ("forest", "cameras", "water_sources", "roads", "villages", "graves",
                                         "rivers", "grids", "boundaries") if k in kinds}
    if "boundaries" in layers:   # cameras and sources counted in the township outline holding them
        from gis.townships import stamp_townships

        layers = stamp_townships(layers)[0]
    dem = ws.raster("dem")
    opt = FireOptions(target_h=args.target_height, season=args.season, weather=weather,
                      min_gap_ha=args.min_gap_ha)
    analysis = fire_analysis(dem, layers, opt)
    notes = [zh if args.lang == "zh" else en for zh, en in list(dem.warnings)] + analysis.messages(args.lang)

    results = []
    if args.site_cameras:
        covered = analysis.seen > 0 if analysis.seen is not None else None
        r = site_cameras(analysis.grid, analysis.high_risk, covered, args.site_cameras, roads=layers.get("roads"),
                         target_h=args.target_height)
        results.append(r)
    if args.site_water:
        covered = analysis.reach.count > 0 if analysis.reach is not None else None
        r = site_water(analysis.grid, analysis.high_risk, covered, args.site_water, roads=layers.get("roads"),
                       rivers=layers.get("rivers"))
        results.append(r)
    for r in results:
        notes += [zh if args.lang == "zh" else en for zh, en in r.notes]

    files = write_fire_files(analysis, out, sites=results or None, lang=args.lang, maps=not args.no_maps,
                             layers=layers, map_dpi=args.map_dpi)
    s = fire_summary(analysis, results or None)
    site_list = []
    for r in results:
        for rec in r.sites.itertuples(index=False):
            site_list.append({"kind": rec.kind, "order": int(rec.order), "name": rec.name,
                              "gain_ha": round(float(rec.gain_ha), 1),
                              "cumulative_share": round(float(rec.cumulative_share), 6),
                              "lon": round(rec.geometry.x, 6), "lat": round(rec.geometry.y, 6)})
    w = analysis.weather
    result = {"workspace": str(ws_path), "out": str(out), **{k: s[k] for k in (
        "forest_ha", "high_risk_ha", "seen_share", "high_seen_share", "reach_share", "high_reach_share",
        "both_gap_ha")},
        "gaps": s["gaps"], "gap_ha": s["gap_ha"], "gaps_by_class": s["gaps_by_class"],
        "sites": site_list, "weather": None if w is None else {
            "level": w["level"], "index": w["index"], "label": w["label_zh"] if args.lang == "zh" else w["label_en"],
            "inputs": list(w["inputs"])},
        "weather_level": s["weather_level"], "season": args.season, "target_height": args.target_height,
        "maps": not args.no_maps, "files": [str(p) for p in files],
        "seconds": round(time.perf_counter() - t0, 2), "notes": notes}

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    headline = (f"fire-report -> {out}: {len(files)} file(s); forest {s['forest_ha']:,.1f} ha, high risk "
                f"{s['high_risk_ha']:,.1f} ha, seen {pct(s['high_seen_share'])}, in water reach "
                f"{pct(s['high_reach_share'])} (high risk); {s['gaps']} gap(s) {s['gap_ha']:,.1f} ha; "
                f"{len(site_list)} site(s)" + (f"; weather level {w['level']}" if w else "")
                + f", {result['seconds']} s")
    return finish(args, result, headline, notes)


@command("fire-report", "forest-fire review of a workspace as Excel, GeoPackage/GeoJSON/KML, GeoTIFFs and A4 maps "
                        "/ 森林防火覆盖评估成果输出")
def _add_fire_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True, help="workspace GeoPackage (forest required; cameras, water_sources, "
                                                      "roads, villages, rivers used when present; dem.tif beside it)")
    p.add_argument("--out", required=True, help="output folder (created; files of the same names replaced)")
    p.add_argument("--season", choices=("dry", "wet"), default="dry", help="season for water sources (default dry)")
    p.add_argument("--target-height", type=float, default=0.0,
                   help="target height above ground for camera visibility, m (default 0; 20 for a smoke column)")
    p.add_argument("--weather", help="the day's weather 'TMAX,RH,DRYDAYS,WIND' (°C, 14:00 humidity %%, days "
                                     "without rain, wind force) for the danger level and day_level.tif")
    p.add_argument("--site-cameras", type=int, default=0, help="also choose this many new camera sites")
    p.add_argument("--site-water", type=int, default=0, help="also choose this many new water points")
    p.add_argument("--min-gap-ha", type=float, default=1.0, help="leave out gap patches under this many ha (default 1)")
    p.add_argument("--no-maps", action="store_true", help="skip the A4 coverage maps (PNG/PDF)")
    p.add_argument("--map-dpi", type=int, default=None, help="PNG resolution of the maps (default 300)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
