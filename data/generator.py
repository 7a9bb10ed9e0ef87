"""Seeded generator of a synthetic mountainous county (or prefecture) in southern China.

:func:`generate` writes the app's bundled demo, or at ``scale="prefecture"`` the benchmark data:

* ``OUT/dem.tif``: float32 GeoTIFF, 30 m cells, EPSG:4549 (CGCS2000 / 3-degree GK CM 120E),
  nodata -9999, tiled and deflate-compressed, depression free (every cell drains to the edge);
* ``OUT/workspace.gpkg``: one layer per kind in EPSG:4490 with the canonical field names of
  :mod:`layers.catalogue`: ``boundaries`` (the county, its townships and villages), ``villages``,
  ``grids``, ``buildings`` (one house per household of every lowest-level grid, :mod:`data.buildings`),
  ``shelters``, ``depots``, ``water_sources``, ``cameras``, ``roads``, ``rivers``,
  ``forest``.

The stages live in :mod:`data.terrain` (DEM and hydrology), :mod:`data.settlements` (areas,
villages, transfer grids, shelters) and :mod:`data.assets` (roads, rivers, forest, water sources,
cameras, reserve depots). Each stage draws from its own generator seeded from ``seed``, so the output is identical
for equal seeds.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from data.assets import build_cameras, build_depots, build_forest, build_rivers, build_roads, build_water_sources
from data.buildings import build_buildings
from data.settlements import Params, Settlements, build_settlements, make_params
from data.terrain import CELL, DEM_EPSG, GEO_EPSG, NODATA, Terrain, build_terrain

#: canonical fields written per layer (see layers/catalogue.py)
FIELDS: dict[str, tuple[str, ...]] = {
    "boundaries": ("name", "code", "level", "parent"),
    "villages": ("name", "township", "village_id", "population", "households", "vulnerable", "responsible",
                 "phone"),
    "grids": ("grid_id", "name", "level", "parent_id", "township", "village", "responsible", "phone",
              "households", "population", "vulnerable", "shelter"),
    "buildings": ("building_id", "use", "households", "population", "township", "village"),
    "shelters": ("name", "shelter_id", "type", "capacity", "area", "township", "village", "responsible", "phone",
                 "supplies", "status"),
    "depots": ("name", "depot_id", "township", "responsible", "phone", "rice_kg", "drinking_l", "tents", "quilts",
               "family_kits", "status"),
    "water_sources": ("name", "source_id", "type", "volume", "seasonal", "vehicle_access", "helicopter", "depth",
                      "township", "status"),
    "cameras": ("name", "camera_id", "type", "height", "range", "azimuth", "fov", "township", "status"),
    "roads": ("name", "road_class", "speed"),
    "rivers": ("name", "river_class"),
    "forest": ("forest_type", "compartment", "township"),
}

DEFAULT_SEED = 20261122


def generate(out: Path, *, scale: str = "county", seed: int = DEFAULT_SEED, _size: int | None = None) -> dict:
    """Write OUT/workspace.gpkg + OUT/dem.tif; return a summary dict (counts, totals, extent, seconds).

    Parameters
    ----------
    out : pathlib.Path
        Output folder (created if missing; existing ``workspace.gpkg`` and ``dem.tif`` are replaced).
    scale : {"county", "prefecture"}
        ``county``: 1,600 x 1,600 cells (48 km square), about 2,000 grids. ``prefecture``:
        5,000 x 5,000 cells (150 km square), exactly 41,410 grids holding 154,505 households and
        515,030 people, 4,836 water sources, 540 cameras and 39 lookout towers.
    seed : int
        Seed; equal seeds give identical files.
    _size : int, optional
        Test-only override of the DEM side (a multiple of 8); counts shrink with the area.

    Returns
    -------
    dict
        JSON-serialisable summary: scale, seed, paths, DEM shape and range, feature counts,
        grid counts per level, people totals, shelter capacity, road segments, lon/lat extent
        and seconds per stage.
    """
    if _size is not None and (_size % 8 or _size < 200):
        raise ValueError("_size must be a multiple of 8 and at least 200")
    p = make_params(scale, _size)
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}

    def lap(name: str, since: list[float] = [t0]) -> None:  # noqa: B006 - a running clock
        now = time.perf_counter()
        times[name] = round(now - since[0], 2)
        since[0] = now

    terrain = build_terrain(p.n, seed, stream_km2=p.stream_km2)
    lap("terrain")
    s = build_settlements(terrain, p, np.random.default_rng([seed, 2]))
    lap("settlements")
    roads, road_info = build_roads(terrain, p, s, np.random.default_rng([seed, 3]))
    lap("roads")
    forest, fine_forest = build_forest(terrain, p, s, np.random.default_rng([seed, 4]))
    lap("forest")
    water = build_water_sources(terrain, p, s, np.random.default_rng([seed, 5]), road_info, fine_forest)
    del fine_forest
    cameras = build_cameras(terrain, p, s, np.random.default_rng([seed, 6]))
    rivers = build_rivers(terrain, p, s, np.random.default_rng([seed, 7]))
    depots = build_depots(p, s, roads, np.random.default_rng([seed, 9]))
    buildings = build_buildings(s.grids, np.random.default_rng([seed, 8]))
    lap("assets")
    layers = _layers(s, roads, rivers, forest, water, cameras, buildings, depots)
    gpkg = out / "workspace.gpkg"
    dem_path = out / "dem.tif"
    _write_gpkg(gpkg, layers)
    _write_dem(dem_path, terrain)
    lap("write")
    summary = _summary(p, seed, terrain, s, layers, road_info, gpkg, dem_path)
    summary["seconds"] = {**times, "total": round(time.perf_counter() - t0, 2)}
    return summary


def _points(df: pd.DataFrame, fields: tuple[str, ...]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(df[list(fields)].reset_index(drop=True),
                            geometry=gpd.points_from_xy(df["x"], df["y"]), crs=DEM_EPSG)


def _shapes(df: pd.DataFrame, fields: tuple[str, ...]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(df[list(fields)].reset_index(drop=True),
                            geometry=gpd.GeoSeries(df["geometry"].to_numpy(), crs=DEM_EPSG), crs=DEM_EPSG)


def _layers(s: Settlements, roads: pd.DataFrame, rivers: pd.DataFrame, forest: pd.DataFrame,
            water: pd.DataFrame, cameras: pd.DataFrame, buildings: pd.DataFrame, depots: pd.DataFrame
            ) -> dict[str, gpd.GeoDataFrame]:
    """The output layers in EPSG:4490, with exactly the catalogue fields."""
    layers = {
        "boundaries": _shapes(_boundaries(s), FIELDS["boundaries"]),
        "villages": _points(s.villages, FIELDS["villages"]),
        "grids": _shapes(s.grids, FIELDS["grids"]),
        "buildings": _points(buildings, FIELDS["buildings"]),
        "shelters": _points(s.shelters, FIELDS["shelters"]),
        "depots": _points(depots, FIELDS["depots"]),
        "water_sources": _points(water, FIELDS["water_sources"]),
        "cameras": _points(cameras, FIELDS["cameras"]),
        "roads": _shapes(roads, FIELDS["roads"]),
        "rivers": _shapes(rivers, FIELDS["rivers"]),
        "forest": _shapes(forest, FIELDS["forest"]),
    }
    return {k: v.to_crs(GEO_EPSG) for k, v in layers.items()}


def _boundaries(s: Settlements) -> pd.DataFrame:
    """County, township and village outlines with their division codes (6, 9 and 12 digits) and parents."""
    vg = s.grids[s.grids["level"] == "village"]
    town_code = s.townships["code"].to_numpy()
    county_code = s.counties["code"].to_numpy()
    town_of = dict(zip(s.townships["name"], town_code))
    return pd.concat([
        pd.DataFrame({"name": s.counties["name"], "code": county_code, "level": "county", "parent": "",
                      "geometry": s.counties["geometry"]}),
        pd.DataFrame({"name": s.townships["name"], "code": town_code, "level": "township",
                      "parent": county_code[s.townships["county"].to_numpy()], "geometry": s.townships["geometry"]}),
        pd.DataFrame({"name": s.villages["name"].to_numpy(), "code": s.villages["village_id"].to_numpy(),
                      "level": "village", "parent": [town_of[t] for t in s.villages["township"]],
                      "geometry": vg["geometry"].to_numpy()}),
    ], ignore_index=True)


#: the time stamp written into the GeoPackage's metadata, so that equal seeds give byte-identical files
FIXED_DATE = "2026-11-22T00:00:00.000Z"


def _write_gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    if path.exists():
        path.unlink()
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})  # gpkg_contents.last_change: same bytes
    try:
        for name, gdf in layers.items():
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def _write_dem(path: Path, t: Terrain) -> None:
    rows, cols = t.shape
    profile = dict(driver="GTiff", height=rows, width=cols, count=1, dtype="float32", crs=f"EPSG:{DEM_EPSG}",
                   transform=t.transform, nodata=NODATA, tiled=True, blockxsize=256, blockysize=256,
                   compress="deflate", predictor=3, num_threads="ALL_CPUS", bigtiff="IF_SAFER")
    if path.exists():
        path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(t.dem, 1)


def _summary(p: Params, seed: int, t: Terrain, s: Settlements, layers: dict[str, gpd.GeoDataFrame],
             road_info: dict, gpkg: Path, dem_path: Path) -> dict:
    g = s.grids
    leaf = g["shelter"] != ""
    minx, miny, maxx, maxy = (float(v) for v in layers["grids"].total_bounds)
    counts = {k: int(len(v)) for k, v in layers.items()}
    return {
        "scale": p.scale,
        "seed": int(seed),
        "gpkg": str(gpkg),
        "dem": str(dem_path),
        "dem_shape": [int(t.shape[0]), int(t.shape[1])],
        "dem_cell_m": CELL,
        "dem_crs": f"EPSG:{DEM_EPSG}",
        "elevation_m": [round(float(t.dem.min()), 1), round(float(t.dem.max()), 1)],
        "counts": counts,
        "grids_by_level": {k: int(v) for k, v in g["level"].value_counts().sort_index().items()},
        "counties": int(len(s.counties)),
        "townships": int(len(s.townships)),
        "population": int(g.loc[leaf, "population"].sum()),
        "households": int(g.loc[leaf, "households"].sum()),
        "vulnerable": int(g.loc[leaf, "vulnerable"].sum()),
        "shelter_capacity": int(s.shelters["capacity"].sum()),
        "road_segments": int(road_info["segments"]),
        "road_km": round(float(layers["roads"].to_crs(DEM_EPSG).length.sum()) / 1000.0, 1),
        "extent_lonlat": [round(minx, 5), round(miny, 5), round(maxx, 5), round(maxy, 5)],
    }
