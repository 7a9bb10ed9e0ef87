"""A whole workspace from an OpenStreetMap extract (and a DEM): read, map, estimate, validate, write.

:func:`osm_layers` makes every layer in memory (validated like any import, EPSG:4490) with the
counts and notes of what was estimated; :func:`write_workspace` writes them and the DEM as a new
workspace folder, all or nothing: into a staging folder beside the target first, each layer through
:meth:`layers.workspace.Workspace.replace` (so the history records the import), then one rename.
:func:`import_osm` does both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.boundaries import locate
from layers.catalogue import spec as get_spec
from layers.crs import metric_crs, to_storage
from layers.datums import describe
from layers.errors import LayerError, Problem
from layers.load import CoordOptions
from layers.osm import estimates, mapping
from layers.osm.dem import area_dem, lonlat_bounds, read_dems
from layers.osm.read import read_osm
from layers.raster import Raster, write_raster
from layers.text import Text, unique
from layers.validate import validate
from layers.workspace import GPKG_NAME, Workspace

__all__ = ["OsmImport", "osm_layers", "write_workspace", "import_osm", "LAYER_ORDER"]

#: layers an import makes, in the order they are written and reported
LAYER_ORDER = ("boundaries", "villages", "grids", "buildings", "shelters", "water_sources", "roads", "rivers",
               "forest")


@dataclass
class OsmImport:
    """What an extract became.

    Attributes
    ----------
    layers : dict
        kind -> validated GeoDataFrame (EPSG:4490); kinds with no feature are left out.
    counts : dict
        kind -> features (0 for a kind the extract has none of), ``dem`` -> cells when a DEM was given.
    notes : list of Text
        What was estimated, generated, assumed or left out.
    bbox, extent : tuple of float
        The area imported and the file's extent (lon/lat).
    dem : Raster or None
        The DEM cut to the area.
    """

    layers: dict[str, gpd.GeoDataFrame]
    counts: dict[str, int]
    notes: list[Text]
    bbox: tuple[float, float, float, float]
    extent: tuple[float, float, float, float]
    dem: Raster | None = None
    source: str = ""
    estimates: dict[str, dict] = field(default_factory=dict)

    def summary(self, lang: str = "zh") -> dict:
        """JSON-ready summary: counts per layer, the area and the notes in ``lang``."""
        return {"source": self.source, "bbox": [round(v, 6) for v in self.bbox],
                "extent": [round(v, 6) for v in self.extent], "counts": dict(self.counts),
                "estimates": self.estimates, "notes": [n(lang) for n in self.notes]}


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str | None = None, field: str | None = None):
    return LayerError(Problem(zh, en, fix_zh, fix_en, file=source, field=field))


def _intersection(a, b) -> tuple[float, float, float, float] | None:
    w, s, e, n = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (w, s, e, n) if w < e and s < n else None


def _validated(kind: str, gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    raw = gdf.reset_index(drop=True)
    raw = raw.assign(_row=np.arange(1, len(raw) + 1))
    out, _ = validate(raw, get_spec(kind), source=f"{source}:{kind}")
    out = to_storage(out)
    out.attrs["source"] = source
    return out


def _with_township(gdf: gpd.GeoDataFrame, towns: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if towns is None or not len(gdf):
        return gdf.assign(township=None) if "township" not in gdf else gdf
    return gdf.assign(township=locate(gdf, towns, "township").to_numpy(dtype=object))


def _shelter_names(shelters: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A name for every shelter (required): its OSM name, else its type and OSM id."""
    f = get_spec("shelters").field("type")
    names = [n if isinstance(n, str) and n.strip() else f"{f.choice_label(t, 'zh')} {i}"
             for n, t, i in zip(shelters["name"], shelters["type"], shelters["shelter_id"])]
    return shelters.assign(name=names)


def osm_layers(path: Path | str, *, bbox: tuple[float, float, float, float] | None = None,
               dem_paths: Sequence[Path | str | Raster] = (), dem_names: Sequence[str] | None = None,
               coords: CoordOptions | None = None, display_name: str | None = None) -> OsmImport:
    """Every layer of a workspace from an OpenStreetMap extract (see :mod:`layers.osm`).

    Parameters
    ----------
    path : Path
        ``.osm.pbf`` or ``.osm`` file.
    bbox : tuple of float, optional
        ``(west, south, east, north)``; default the DEM's extent within the file's, or the file's.
    dem_paths : sequence of Path or Raster
        DEM tiles (files, or rasters already read); the area must lie inside them.
    dem_names : sequence of str, optional
        How messages name the DEM files.
    coords : CoordOptions, optional
        The DEM files' coordinate options (:func:`layers.osm.dem.read_dems`); the extract itself is
        always WGS84 lon/lat.
    display_name : str, optional
        How messages name the extract.

    Returns
    -------
    OsmImport

    Raises
    ------
    LayerError
        Not an OpenStreetMap file, an area outside the file, a DEM that does not cover the area, a DEM
        that cannot be read or whose CRS cannot be told (or contradicts the one chosen).
    """
    path = Path(path)
    source = display_name or path.name
    notes: list[Text] = []
    rasters = read_dems(dem_paths, dem_names, coords=coords) if dem_paths else []
    if bbox is None and rasters:
        dem_box = lonlat_bounds(rasters)
        data = read_osm(path, bbox=dem_box, display_name=source)
        area = _intersection(data.extent, dem_box)
        if area is None:
            raise _fail("DEM 与 OpenStreetMap 文件不在同一地区（范围不相交）",
                        "the DEM and the OpenStreetMap file do not overlap", "检查 DEM 是否为该地区的分幅",
                        "check that the DEM tiles are of this area", source, field="bbox")
        data = data.cut(area)
        notes.append(Text(f"范围取 DEM 与文件的重叠部分：{tuple(round(v, 4) for v in area)}",
                          f"area: where the DEM and the file overlap, {tuple(round(v, 4) for v in area)}",
                          "osm_area_dem"))
    else:
        data = read_osm(path, bbox=bbox, display_name=source)
    box = data.bbox
    dem = area_dem(rasters, box) if rasters else None
    metric = metric_crs(box)

    bounds = mapping.boundaries(data.polygons)
    towns = bounds[bounds["level"] == "township"][["name", "geometry"]].rename(columns={"name": "township"}) \
        if len(bounds) else None
    towns = towns if towns is not None and len(towns) else None
    blds = mapping.buildings(data.points, data.polygons, box)
    villages, v_counts = estimates.villages_from_places(mapping.places(data.points), blds, metric)
    villages = _with_township(villages, towns)
    grids = estimates.transfer_grids(villages, blds, metric, box)
    shelters, s_counts = estimates.shelters_from_candidates(
        mapping.shelter_candidates(data.points, data.polygons), blds, metric)
    shelters = _with_township(shelters, towns)
    if len(shelters):
        shelters = _shelter_names(shelters.assign(village=estimates.village_of(shelters, villages, metric)))
        shelters = shelters[shelters.geometry.within(_box(box))]
    homes = estimates._homes(blds)
    blds = blds.assign(households=pd.array([None] * len(blds), dtype="Int64"))
    if len(homes):
        blds.loc[homes.index, "households"] = homes["households"].to_numpy()
        # numpy's stub has no overload for a None branch (an object array at run time)
        blds["estimated"] = np.where(blds["households"].notna(), "households", None)  # type: ignore[call-overload]
    blds = _with_township(blds.assign(village=estimates.village_of(blds, villages, metric)), towns)
    water = _with_township(mapping.water_sources(data.points, data.polygons, metric), towns)
    water = water[water.geometry.within(_box(box))] if len(water) else water
    forest = _with_township(mapping.forest(data.polygons, box), towns)
    villages = villages[villages.geometry.within(_box(box))]
    raw = {"boundaries": bounds, "villages": villages, "grids": grids, "buildings": blds, "shelters": shelters,
           "water_sources": water, "roads": mapping.roads(data.lines, box), "rivers": mapping.rivers(data.lines, box),
           "forest": forest}
    layers = {k: _validated(k, g, source) for k, g in raw.items() if len(g)}
    counts = {k: len(layers.get(k, ())) for k in LAYER_ORDER}
    outside = int(villages["township"].isna().sum()) if len(villages) else 0
    notes += _notes(counts, v_counts, s_counts, water, towns is not None, dem is not None, outside)
    if dem is not None:
        counts["dem"] = int(np.isfinite(dem.array).sum())
        first = rasters[0]
        read_in = describe(first.source_crs if first.source_crs is not None else first.crs)
        notes.append(Text(f"DEM 分幅按 {read_in.zh} 读取，dem.tif 保留该坐标系",
                          f"the DEM tiles were read in {read_in.en}; dem.tif keeps it", "osm_dem_crs"))
        notes += [n for n in unique(dem.warnings or []) if n not in notes]   # assumed CRS, old datum shift...
    return OsmImport(layers, counts, notes, box, data.extent, dem, source,
                     {"villages": v_counts, "shelters": s_counts})


def _box(bbox):
    import shapely

    return shapely.box(*bbox)


def _notes(counts: dict, v: dict, s: dict, water: gpd.GeoDataFrame, towns: bool, dem: bool, outside: int = 0
           ) -> list[Text]:
    out = []
    if counts["villages"]:
        out.append(Text(f"{counts['villages']} 个村：{v['tagged']} 个人口取自 OSM，{v['from_homes']} 个按房屋数估算"
                        f"（每户 {estimates.PERSONS_PER_HOUSEHOLD} 人），{v['from_base']} 个按村类型基数估算；"
                        "估算值在“备注”与 estimated 字段中注明",
                        f"{counts['villages']} villages: {v['tagged']} with population from OSM, {v['from_homes']} "
                        f"estimated from their homes ({estimates.PERSONS_PER_HOUSEHOLD} persons per household), "
                        f"{v['from_base']} from a base per place type; estimates are marked in 'remark' and "
                        "'estimated'", "osm_villages"))
    if counts["shelters"]:
        out.append(Text(f"{counts['shelters']} 个安置场所的容纳人数为估算：{s['from_area']} 个按建筑面积"
                        f"（{estimates.M2_PER_PERSON:g} 平方米/人），{s['default']} 个无建筑轮廓的学校或村部取默认值；"
                        f"无轮廓的公共建筑与宾馆 {s['no_footprint']} 处未计入",
                        f"the capacity of the {counts['shelters']} shelters is estimated: {s['from_area']} from floor "
                        f"area ({estimates.M2_PER_PERSON:g} m² per person), {s['default']} schools or halls without "
                        f"a footprint at a default; {s['no_footprint']} public buildings and hotels without one are "
                        "left out", "osm_shelters"))
    if counts["grids"]:
        out.append(Text(f"{counts['grids']} 个转移避险网格由村点和房屋生成（村级），户数与人数同村，责任人与电话待填",
                        f"{counts['grids']} transfer grids were generated from the places and buildings (village "
                        "level), households and people as their village's; responsible persons and phones to be "
                        "filled in", "osm_grids"))
    if counts["buildings"]:
        out.append(Text("房屋的户数为估算：住宅每栋 1 户（公寓按层数），其他用途不计",
                        "building households are estimated: one per home (apartments one per floor), none for "
                        "other uses", "osm_buildings"))
    if len(water) and "remark" in water and water["remark"].astype(str).str.startswith("泉").any():
        out.append(Text("泉按蓄水池（500 米）规则计算可达范围", "springs are given the tank reach rule (500 m)",
                        "osm_springs"))
    if towns and outside:
        out.append(Text(f"{outside} 个村不在任何乡镇级行政区界内（文件中缺少其乡镇界），乡镇字段为空",
                        f"{outside} villages lie outside every township boundary (the file lacks theirs); their "
                        "township field is empty", "osm_outside_townships"))
    if not towns:
        out.append(Text("文件中没有乡镇级行政区界：各要素的乡镇字段为空，乡镇统计将按所用的替代范围说明",
                        "the file has no township-level boundaries: the township fields are empty, and per-township "
                        "figures say which outline they use instead", "osm_no_townships"))
    out.append(Text("OpenStreetMap 不含林火监控与瞭望台：未建监控图层（请另行导入）",
                    "OpenStreetMap holds no fire cameras or lookouts: no cameras layer (import one separately)",
                    "osm_no_cameras"))
    if not dem:
        out.append(Text("未给 DEM：未写 dem.tif；水位情景、火险、视域与水源可达都需要 DEM，可之后在“数据图层”页导入",
                        "no DEM given: no dem.tif; stage scenarios, fire risk, viewsheds and water reach need one "
                        "(import it later on the Data layers page)", "osm_no_dem"))
    return out


def write_workspace(result: OsmImport, out_dir: Path | str, *, user: str = "osm") -> Path:
    """Write ``result`` as a new workspace folder ``out_dir`` (``workspace.gpkg`` and ``dem.tif``), all or nothing.

    Raises
    ------
    LayerError
        ``out_dir`` is a file, or already holds a workspace or other files.
    StorageError
        The folder could not be written (nothing is left behind).
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise _fail(f"输出位置已存在且不为空：{out.name}", f"the output place exists and is not empty: {out.name}",
                    "为新工作空间指定一个新的（或空的）文件夹", "give a new (or empty) folder for the new workspace",
                    field="--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".osm-", dir=out.parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(stage, 0o777 & ~mask)   # a folder like any other (mkdtemp makes it private)
    try:
        ws = Workspace(stage)
        for kind in LAYER_ORDER:
            if kind in result.layers:
                ws.replace(kind, result.layers[kind], note=f"OpenStreetMap: {result.source}", user=user)
        if result.dem is not None:
            write_raster(result.dem, ws.raster_path("dem"), dtype="float32")
        if not (stage / GPKG_NAME).exists():
            raise _fail("范围内没有可导入的要素", "nothing to import in the area", "检查文件与 --bbox",
                        "check the file and --bbox", result.source)
        if out.exists():
            out.rmdir()
        os.replace(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return out


def import_osm(path: Path | str, out_dir: Path | str, *, bbox: tuple[float, float, float, float] | None = None,
               dem_paths: Sequence[Path | str | Raster] = (), dem_names: Sequence[str] | None = None,
               coords: CoordOptions | None = None, display_name: str | None = None,
               user: str = "osm") -> OsmImport:
    """:func:`osm_layers`, then :func:`write_workspace` into ``out_dir``; the import made."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):   # before the work, not after
        raise _fail(f"输出位置已存在且不为空：{out.name}", f"the output place exists and is not empty: {out.name}",
                    "为新工作空间指定一个新的（或空的）文件夹", "give a new (or empty) folder for the new workspace",
                    field="--out")
    result = osm_layers(path, bbox=bbox, dem_paths=dem_paths, dem_names=dem_names, coords=coords,
                        display_name=display_name)
    write_workspace(result, out, user=user)
    return result
