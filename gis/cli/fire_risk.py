"""``python -m gis`` commands: static forest-fire risk (``fire-risk``) and the weather danger level
(``fire-weather``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, finish


# ---- fire-risk ------------------------------------------------------------------------------
def _optional_layer(given: Inputs, path: str | None, kind: str):
    return given.layer(path, kind).gdf if path else None


def _run_fire_risk(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from gis.fire.review import FireReview
    from gis.fire.risk import HIGH_RISK_LEVEL, LEVEL_BREAKS, risk_raster
    from gis.fire.weather import LEVEL_LABELS
    from gis.terrain import cell_size_m
    from layers.raster import Raster, write_raster
    from layers.text import pick

    t0 = time.perf_counter()
    review = FireReview(weights=args.weights or ())     # the weights checked as the review checks them
    given = Inputs(args)
    dem = given.raster(args.dem)
    forest_layer = given.layer(args.forest, "forest")
    forest = forest_layer.raster if forest_layer.raster is not None else forest_layer.gdf
    roads = _optional_layer(given, args.roads, "roads")
    settlements = _optional_layer(given, args.settlements, "villages")
    graves = _optional_layer(given, args.graves, "graves")
    given.check()
    messages = [m for m in given.messages() if m not in {pick(w, args.lang) for w in dem.warnings}]
    res = risk_raster(dem, forest, roads=roads, settlements=settlements, graves=graves,
                      weights=review.weights_dict())
    write_raster(Raster(res.level, dem.transform, dem.crs, 0, name=Path(args.out).name), Path(args.out),
                 dtype="uint8")
    if args.score_out:
        write_raster(Raster(res.score, dem.transform, dem.crs, None, name=Path(args.score_out).name),
                     Path(args.score_out), dtype="float32")
    day = None
    if args.weather_level is not None:
        from gis.fire.weather import day_risk

        if not 1 <= args.weather_level <= 5:
            from layers.errors import LayerError, problem

            raise LayerError(problem(f"天气火险等级应为 1–5，收到 {args.weather_level}",
                                     f"the weather danger level must be 1-5, got {args.weather_level}",
                                     "用 fire-weather 命令计算当天等级", "compute the day's level with fire-weather",
                                     field="weather-level"))
        day = day_risk(res.level, args.weather_level)
        if args.day_out:
            write_raster(Raster(day, dem.transform, dem.crs, 0, name=Path(args.day_out).name), Path(args.day_out),
                         dtype="uint8")
    dx, dy = cell_size_m(dem)
    cell_ha = dx * dy / 1e4
    counts = np.bincount(res.level.ravel(), minlength=6)
    forest_cells = int(counts[1:].sum())
    lo = (None,) + LEVEL_BREAKS
    hi = LEVEL_BREAKS + (None,)
    levels = [{"level": lv, "label_zh": LEVEL_LABELS[lv].zh, "label_en": LEVEL_LABELS[lv].en,
               "score_from": lo[lv - 1], "score_below": hi[lv - 1], "cells": int(counts[lv]),
               "area_ha": round(float(counts[lv]) * cell_ha, 2),
               "share": round(float(counts[lv]) / forest_cells, 6) if forest_cells else 0.0} for lv in range(1, 6)]
    high = int(counts[HIGH_RISK_LEVEL:].sum())
    notes = [pick(n, args.lang) for n in [*dem.warnings, *res.notes]] + messages
    out = {"out": str(args.out), "score_out": args.score_out, "rows": dem.shape[0], "cols": dem.shape[1],
           "crs": str(dem.crs), "cell_ha": round(cell_ha, 6), "forest_cells": forest_cells,
           "forest_ha": round(forest_cells * cell_ha, 2), "high_risk_level": HIGH_RISK_LEVEL,
           "high_risk_cells": high, "high_risk_ha": round(high * cell_ha, 2),
           "high_risk_share": round(high / forest_cells, 6) if forest_cells else 0.0,
           "levels": levels, "weights": res.weights, "level_breaks": list(LEVEL_BREAKS),
           "seconds": round(time.perf_counter() - t0, 2), "notes": notes}
    if day is not None:
        dc = np.bincount(day.ravel(), minlength=6)
        out["day"] = {"weather_level": args.weather_level, "out": args.day_out,
                      "cells": [int(c) for c in dc[1:]], "area_ha": [round(float(c) * cell_ha, 2) for c in dc[1:]]}
    return finish(args, out, f"fire-risk -> {args.out}: {forest_cells:,} forest cells, "
                             f"{out['high_risk_share']:.1%} at level >= {HIGH_RISK_LEVEL} "
                             f"({out['high_risk_ha']:,.0f} ha), {out['seconds']} s", notes)


@command("fire-risk", "static forest-fire risk raster in five levels / 森林火灾静态风险等级")
def _add_fire_risk(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dem", required=True, help="DEM raster: GeoTIFF, .asc, .img, .vrt, .hgt / .hgt.zip, .nc (metres)")
    p.add_argument("--forest", required=True, help="forest layer (polygons with forest type, or land-cover GeoTIFF)")
    p.add_argument("--roads", help="roads layer (lines)")
    p.add_argument("--settlements", help="villages / settlements layer (points or polygons)")
    p.add_argument("--graves", help="graves layer (points) / 坟墓")
    p.add_argument("--weights", help="factor weights, e.g. fuel=0.3,slope=0.15,aspect=0.1,roads=0.15,"
                                     "settlements=0.15,graves=0.15 (given ones replace the defaults)")
    p.add_argument("--out", required=True, help="output GeoTIFF: uint8 levels 1-5, 0 = not forest")
    p.add_argument("--score-out", help="also write the 0-1 score as a float32 GeoTIFF")
    p.add_argument("--weather-level", type=int, help="the day's weather danger level 1-5 (fire-weather): also give "
                                                    "the day's map (gis.fire.weather.DAY_MATRIX)")
    p.add_argument("--day-out", help="with --weather-level: write the day's levels (uint8 1-5, 0 = not forest)")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


# ---- fire-weather ---------------------------------------------------------------------------
def _run_fire_weather(args: argparse.Namespace) -> int:
    from gis.fire.review import Weather, weather_step
    from gis.fire.weather import (
        LEVEL_LABELS,
        beaufort,
        dry_days_score,
        humidity_score,
        rain_score,
        temperature_score,
        wind_score,
    )
    from layers.errors import LayerError, problem
    from layers.text import pick

    wind = args.wind
    if args.wind_ms is not None:
        wind = float(beaufort(args.wind_ms))
    if wind is None:
        raise LayerError(problem("缺少风力：给出 --wind（蒲福风级）或 --wind-ms（米/秒）",
                                 "no wind: give --wind (Beaufort force) or --wind-ms (m/s)",
                                 "例如 --wind 3", "e.g. --wind 3", field="wind"))
    import numpy as np

    day, _ = weather_step(Weather(args.tmax, args.rh, args.dry_days, wind, args.rain), np.zeros(1, np.uint8))
    idx, level = day.index, day.level
    scores = {"temperature": float(temperature_score(args.tmax)), "humidity": float(humidity_score(args.rh)),
              "dry_days": float(dry_days_score(args.dry_days)), "wind": float(wind_score(wind)),
              "rain": float(rain_score(args.rain)) if args.rain is not None else 0.0}
    out = {"tmax": args.tmax, "rh14": args.rh, "dry_days": args.dry_days, "wind_force": wind, "rain_mm": args.rain,
           "scores": scores, "index": float(idx), "level": level, "label_zh": LEVEL_LABELS[level].zh,
           "label_en": LEVEL_LABELS[level].en, "colour": day.colour,
           "standard": "LY/T 1172-95 levels; tables per 吕巍伟 et al. 2020 (doi:10.12677/wjf.2020.93016)"}
    return finish(args, out, f"fire-weather: index {float(idx):g} -> level {pick(day.label, args.lang)} "
                             f"({day.colour})", [])


@command("fire-weather", "China forest-fire weather danger level / 森林火险天气等级")
def _add_fire_weather(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tmax", type=float, required=True, help="daily maximum temperature, °C")
    p.add_argument("--rh", type=float, required=True, help="relative humidity at 14:00, %%")
    p.add_argument("--dry-days", type=float, required=True, help="consecutive days without rain (0 = rain today)")
    p.add_argument("--wind", type=float, help="maximum wind force of the day, Beaufort 0-12")
    p.add_argument("--wind-ms", type=float, help="maximum wind speed, m/s (converted to Beaufort force)")
    p.add_argument("--rain", type=float, help="rain on the day, mm (optional; lowers the index)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
