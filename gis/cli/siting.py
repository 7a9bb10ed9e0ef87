"""``python -m gis`` commands: forest-fire coverage gaps (``gaps``) and siting of new cameras / water points
(``siting``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, finish
from layers.text import Text, pick

_VECTOR_OUT = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".kml": "KML"}


def _bad_out(path: str, exts) -> Exception:
    from layers.errors import LayerError, Problem

    return LayerError(Problem(f"输出文件扩展名“{Path(path).suffix}”不支持", f"output extension "
                              f"'{Path(path).suffix}' is not supported", "用 " + "、".join(exts),
                              "use " + ", ".join(exts), file=Path(path).name, field="--out"))


def _write(gdf, path: str, layer: str, kind: str | None = None) -> None:
    """Write ``gdf`` by the extension of ``path`` (xlsx only for a catalogue ``kind``)."""
    import pyogrio

    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx" and kind is not None:
        from layers.export import export_layer

        Path(path).write_bytes(export_layer(gdf, kind, "xlsx"))
        return
    if suffix not in _VECTOR_OUT:
        raise _bad_out(path, list(_VECTOR_OUT) + ([".xlsx"] if kind else []))
    out = gdf.to_crs("EPSG:4326") if suffix == ".kml" else gdf
    pyogrio.write_dataframe(out, path, layer=layer, driver=_VECTOR_OUT[suffix])


def _write_table(gaps, path: str, lang: str = "zh") -> None:
    """The gap list without geometry, a representative point's lon/lat added, headers in ``lang``
    (:mod:`gis.fire.headers`, as in the fire workbook)."""
    import pandas as pd

    from gis.fire.gaps import GAP_CLASSES
    from gis.fire.headers import SHEETS, labelled

    pts = gaps.geometry.representative_point()
    df = pd.DataFrame(gaps.drop(columns=gaps.geometry.name)).assign(lon=pts.x.round(6).values,
                                                                   lat=pts.y.round(6).values)
    df["gap_zh"] = df["gap"].map(lambda k: GAP_CLASSES[k](lang) if k in GAP_CLASSES else k)
    df = labelled(df, lang)
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        df.to_excel(path, index=False, sheet_name=SHEETS["gaps"](lang))
    else:
        raise _bad_out(path, [".csv", ".xlsx"])


class _Setup:
    """The inputs both commands share, on one metric grid."""

    def __init__(self, args: argparse.Namespace, *, need_cameras: bool, need_sources: bool):
        import numpy as np

        from gis.fire.risk import HIGH_RISK_LEVEL, forest_mask
        from gis.fire.siting import metric_grid, on_grid

        self.lang = args.lang
        self.notes: list[Text] = []
        self.given = given = Inputs(args)
        dem = given.raster(args.dem)
        self.notes += list(dem.warnings)
        forest = given.layer(args.forest, "forest", args.forest_layer)
        risk = given.raster(args.risk) if args.risk else None
        self.roads = given.layer(args.roads, "roads", args.roads_layer).gdf if args.roads else None
        cams = given.layer(args.cameras, "cameras", args.cameras_layer) if getattr(args, "cameras", None) else None
        src = given.layer(args.sources, "water_sources", args.sources_layer) if getattr(args, "sources", None) \
            else None
        self.candidates = (given.points(args.candidates, args.candidates_layer)
                           if getattr(args, "candidates", None) else None)
        self.rivers = (given.layer(args.rivers, "rivers", args.rivers_layer).gdf
                       if getattr(args, "rivers", None) and getattr(args, "kind", "water") == "water" else None)
        given.check()   # every input read: options that fitted none of them are refused before any work
        self.grid, n = metric_grid(dem)
        self.notes += n
        self.forest_gdf = forest.gdf if forest.raster is None else None
        self.forest = forest_mask(forest.raster if forest.raster is not None else forest.gdf, self.grid)
        self.forest &= self.grid.valid_mask()
        self.level: np.ndarray | None
        if risk is not None:
            self.level = on_grid(risk, self.grid, fill=0)
            self.target = self.forest & (self.level >= HIGH_RISK_LEVEL)
            self.target_what = Text("高风险林地（风险等级 ≥ 4）", "high-risk forest (level >= 4)", "target_high_risk")
        else:
            self.level = None
            self.target = self.forest.copy()
            self.target_what = Text("全部林地", "all forest", "target_forest")
            self.notes.append(Text("未给出风险栅格（--risk）：以全部林地为目标",
                                   "no risk raster (--risk): all forest is the target", "target_forest_no_risk"))
        self.seen: np.ndarray | None = None
        self.cameras = None
        if cams is not None:
            from gis.fire.viewshed import coverage

            self.cameras = cams.gdf
            count, _first, notes = coverage(self.grid, cams.gdf, target_h=args.target_height)
            self.notes += notes
            self.seen = count
        elif need_cameras:
            self.seen = np.zeros(self.grid.shape, np.uint16)
        self.reach: np.ndarray | None = None
        self.sources = None
        if src is not None:
            from gis.fire.water_reach import water_reach

            res = water_reach(self.grid, src.gdf, self.forest, season=args.season, roads=self.roads,
                              max_road_distance_m=args.source_max_road)
            self.sources = src.gdf[res.sources["usable"].to_numpy(dtype=bool)]  # nearest *usable* source
            self.notes += res.notes
            self.reach = res.count
        elif need_sources:
            self.reach = np.zeros(self.grid.shape, np.uint16)
        dx, dy = self.grid.res
        self.cell_ha = dx * dy / 1e4

    def text_notes(self) -> list[str]:
        return list(dict.fromkeys([pick(n, self.lang) for n in self.notes] + self.given.messages()))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dem", required=True, help="DEM raster: GeoTIFF, .asc, .img, .vrt, .hgt / .hgt.zip, .nc "
                                               "(metres; a DEM in degrees is reprojected)")
    p.add_argument("--forest", required=True, help="forest polygons or land-cover raster (non-zero = forest)")
    p.add_argument("--forest-layer", help="layer inside the forest GeoPackage (default: 'forest' when present)")
    p.add_argument("--risk", help="fire-risk levels GeoTIFF (python -m gis fire-risk; level >= 4 is high risk); "
                                  "without it all forest is the target")
    p.add_argument("--roads", help="roads layer (nearest road; candidate road limits)")
    p.add_argument("--roads-layer", help="layer inside the roads GeoPackage (default: 'roads' when present)")
    p.add_argument("--cameras-layer", help="layer inside the cameras GeoPackage (default: 'cameras' when present)")
    p.add_argument("--sources-layer", help="layer inside the sources GeoPackage (default: 'water_sources')")
    p.add_argument("--target-height", type=float, default=0.0,
                   help="target height above ground for camera visibility, m (default 0)")
    p.add_argument("--season", choices=("dry", "wet"), default="dry", help="season for water sources (default dry)")
    p.add_argument("--source-max-road", type=float, default=None,
                   help="existing sources farther than this from a road are not counted (needs --roads)")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


# ---- gaps -------------------------------------------------------------------------------------
def _run_gaps(args: argparse.Namespace) -> int:
    import time

    from gis.fire.gaps import GAP_CLASSES, coverage_gaps, gap_summary

    t0 = time.perf_counter()
    s = _Setup(args, need_cameras=True, need_sources=True)
    gaps = coverage_gaps(s.grid, s.target, s.seen, s.reach, forest=s.forest_gdf, roads=s.roads, sources=s.sources,
                         min_area_m2=args.min_area_ha * 1e4)
    _write(gaps, args.out, "gaps")
    if args.table:
        _write_table(gaps, args.table, args.lang)
    target_ha = float(s.target.sum()) * s.cell_ha
    summ = gap_summary(gaps, target_ha)
    top = []
    for rec in gaps.head(args.top).itertuples(index=False):
        c = rec.geometry.representative_point()
        top.append({"rank": int(rec.rank), "gap": rec.gap,
                    "gap_label": pick(GAP_CLASSES.get(rec.gap, rec.gap), args.lang), "area_ha": round(rec.area_ha, 2),
                    "township": rec.township, "road_dist_m": None if rec.road_dist_m != rec.road_dist_m
                    else rec.road_dist_m, "road_name": rec.road_name,
                    "source_dist_m": None if rec.source_dist_m != rec.source_dist_m else rec.source_dist_m,
                    "source_name": rec.source_name, "lon": round(c.x, 6), "lat": round(c.y, 6)})
    notes = s.text_notes()
    out = {"out": str(args.out), "target": s.target_what(args.lang),
           "target_ha": round(target_ha, 2), "forest_ha": round(float(s.forest.sum()) * s.cell_ha, 2),
           "min_area_ha": args.min_area_ha, "patches": int(len(gaps)),
           "gap_ha": round(float(gaps["area_ha"].sum()), 2) if len(gaps) else 0.0,
           "by_class": summ, "top": top, "seconds": round(time.perf_counter() - t0, 2), "notes": notes}
    b = summ["both"]
    return finish(args, out, f"gaps -> {args.out}: {len(gaps)} patch(es), {out['gap_ha']:,.1f} of "
                             f"{out['target_ha']:,.1f} ha target; both {b['area_ha']:,.1f} ha, unseen "
                             f"{summ['unseen']['area_ha']:,.1f} ha, out of reach "
                             f"{summ['out_of_reach']['area_ha']:,.1f} ha, {out['seconds']} s", notes)


@command("gaps", "high-risk forest unseen by cameras / out of water reach, as ranked patches / 监控与水源覆盖空白区")
def _add_gaps(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cameras", required=True, help="existing cameras layer")
    p.add_argument("--sources", required=True, help="existing water sources layer (reach by gis.fire.water_reach; "
                                                    "the nearest usable one is listed per patch)")
    p.add_argument("--out", required=True, help="output gap polygons (.gpkg / .geojson / .kml, EPSG:4490)")
    p.add_argument("--min-area-ha", type=float, default=1.0, help="leave out patches under this many hectares "
                                                                  "(default 1)")
    p.add_argument("--top", type=int, default=20, help="patches listed in the JSON (default 20)")
    p.add_argument("--table", help="also write the ranked gap list as a table (.csv UTF-8 / .xlsx, headers in --lang)")
    _common(p)


# ---- siting -----------------------------------------------------------------------------------
def _run_siting(args: argparse.Namespace) -> int:
    import time

    from gis.fire.siting import site_cameras, site_water
    from layers.errors import LayerError, Problem

    t0 = time.perf_counter()
    if args.n < 1:
        raise LayerError(Problem(f"--n 应为正整数，现为 {args.n}", f"--n must be a positive integer, got {args.n}",
                                 "例如 --n 5", "e.g. --n 5", field="--n"))
    camera = args.kind == "camera"
    if camera and args.sources:
        args.sources = None  # existing water does not matter for new cameras
    if not camera and args.cameras:
        args.cameras = None
    s = _Setup(args, need_cameras=camera, need_sources=not camera)
    cand = s.candidates
    max_road = None if args.max_road is not None and args.max_road < 0 else args.max_road
    if camera:
        assert s.seen is not None  # set for need_cameras
        res = site_cameras(s.grid, s.target, s.seen > 0, args.n, candidates=cand, roads=s.roads,
                           height=args.height, range_m=args.range, target_h=args.target_height,
                           max_road_m=max_road, min_prominence_m=args.min_prominence, spacing_m=args.spacing,
                           max_candidates=args.max_candidates)
    else:
        assert s.reach is not None  # set for need_sources
        rivers = s.rivers
        res = site_water(s.grid, s.target, s.reach > 0, args.n, candidates=cand, roads=s.roads, rivers=rivers,
                         distance_m=args.reach_distance, rise_m=args.reach_rise,
                         max_road_m=500.0 if args.max_road is None else max_road, spacing_m=args.spacing,
                         max_candidates=args.max_candidates)
    s.notes += res.notes
    sites = res.sites
    _write(sites.drop(columns=["row", "col"]), args.out, "sites", "cameras" if camera else "water_sources")
    rows = []
    for rec in sites.itertuples(index=False):
        rows.append({"order": int(rec.order), "name": rec.name, "origin": rec.origin, "gain_ha": rec.gain_ha,
                     "gain_share": rec.gain_share, "cumulative_ha": rec.cumulative_ha,
                     "cumulative_share": rec.cumulative_share, "elevation": rec.elevation,
                     "road_dist_m": None if rec.road_dist_m != rec.road_dist_m else rec.road_dist_m,
                     "lon": round(rec.geometry.x, 6), "lat": round(rec.geometry.y, 6)})
    before = res.covered_before_ha / res.target_ha if res.target_ha else 0.0
    after = rows[-1]["cumulative_share"] if rows else before
    notes = s.text_notes()
    out = {"out": str(args.out), "kind": args.kind, "n": args.n, "chosen": len(rows),
           "target": s.target_what(args.lang), "target_ha": round(res.target_ha, 2),
           "covered_before_ha": round(res.covered_before_ha, 2), "covered_before_share": round(before, 6),
           "covered_after_share": round(after, 6), "candidates": res.candidates,
           "new_site": ({"height_m": args.height, "range_m": args.range} if camera else
                        {"distance_m": args.reach_distance, "rise_m": args.reach_rise}),
           "sites": rows, "seconds": round(time.perf_counter() - t0, 2), "notes": notes}
    gain = sum(r["gain_ha"] for r in rows)
    return finish(args, out, f"siting ({args.kind}) -> {args.out}: {len(rows)} site(s) of {res.candidates} "
                             f"candidates add {gain:,.1f} ha; target covered {before:.1%} -> {after:.1%}, "
                             f"{out['seconds']} s", notes)


@command("siting", "choose new camera / water point sites covering the most high-risk forest / 新增监控与水源选址")
def _add_siting(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=("camera", "water"), required=True, help="what to site")
    p.add_argument("--n", type=int, required=True, help="number of new sites")
    p.add_argument("--out", required=True, help="output sites (.gpkg / .geojson / .kml / .xlsx, EPSG:4490)")
    p.add_argument("--cameras", help="existing cameras (their coverage counts as covered; --kind camera)")
    p.add_argument("--sources", help="existing water sources (their reach counts as covered; --kind water)")
    p.add_argument("--candidates", help="uploaded candidate points (default: ridge/peak cells for cameras, "
                                        "stream cells near roads for water)")
    p.add_argument("--candidates-layer", help="layer inside the candidates GeoPackage")
    p.add_argument("--rivers", help="rivers layer for water candidates (default: streams from the DEM, slow)")
    p.add_argument("--rivers-layer", help="layer inside the rivers GeoPackage (default: 'rivers' when present)")
    p.add_argument("--height", type=float, default=30.0, help="mast height of new cameras, m (default 30)")
    p.add_argument("--range", type=float, default=8000.0, help="range of new cameras, m (default 8000)")
    p.add_argument("--reach-distance", type=float, default=1300.0,
                   help="reach of a new water point, m (default 1300: a portable-pump relay)")
    p.add_argument("--reach-rise", type=float, default=250.0,
                   help="largest rise above a new water point, m (default 250)")
    p.add_argument("--max-road", type=float, default=None,
                   help="candidates within this many metres of a road (default: none for cameras, 500 for "
                        "water; negative = no limit; needs --roads)")
    p.add_argument("--min-prominence", type=float, default=20.0,
                   help="ridge/peak cells stand at least this many metres above their 450 m window (default 20)")
    p.add_argument("--spacing", type=float, default=1000.0, help="least distance between candidates, m "
                                                                 "(default 1000)")
    p.add_argument("--max-candidates", type=int, default=300, help="cap on generated candidates (default 300)")
    _common(p)
