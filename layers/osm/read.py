"""Reading an OpenStreetMap extract (``.osm.pbf`` or ``.osm`` XML) with GDAL's OSM driver through pyogrio.

Offline: the file is read where it is, never fetched. The tags used are columns through this
package's ``osmconf.ini`` (the driver's ``CONFIG_FILE`` open option; a tag ``a:b`` becomes column
``a_b``). pyogrio opens one layer at a time, so the driver re-reads the file per layer and no
interleaved reading (``OGR_INTERLEAVED_READING``) is needed.

Only a file GDAL opens *with its OSM driver* is taken: a GeoJSON or a zip renamed ``.osm`` is
refused, never read as what it really is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio.errors
import shapely

from layers.crs import bounds4
from layers.errors import LayerError, Problem

__all__ = ["CONFIG_FILE", "SUFFIXES", "OsmData", "read_osm", "parse_bbox"]

#: the driver configuration (tags read as columns)
CONFIG_FILE = Path(__file__).with_name("osmconf.ini")
#: file names taken as OpenStreetMap extracts
SUFFIXES = (".osm.pbf", ".pbf", ".osm")
#: the driver's layers this import reads
LAYERS = ("points", "lines", "multipolygons")


@dataclass
class OsmData:
    """The three layers of an extract, in EPSG:4326, cut to the area.

    Attributes
    ----------
    points, lines, polygons : GeoDataFrame
        Nodes with tags, ways as lines, closed ways and multipolygon relations as (multi)polygons;
        tag columns as in ``osmconf.ini``, plus ``osm_id`` (``osm_way_id`` for polygons from ways).
    bbox : tuple of float
        ``(west, south, east, north)`` of the area read.
    extent : tuple of float
        Lon/lat extent of the features read (the whole file when no area was given).
    """

    points: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    polygons: gpd.GeoDataFrame
    bbox: tuple[float, float, float, float]
    extent: tuple[float, float, float, float]

    def counts(self) -> dict[str, int]:
        """Features read per driver layer."""
        return {"points": len(self.points), "lines": len(self.lines), "multipolygons": len(self.polygons)}

    def cut(self, bbox: tuple[float, float, float, float]) -> OsmData:
        """The features touching ``bbox`` (a smaller area of what was read)."""
        return OsmData(_cut(self.points, bbox), _cut(self.lines, bbox), _cut(self.polygons, bbox),
                       bounds4(bbox), self.extent)


def _fail(zh: str, en: str, fix_zh: str, fix_en: str, source: str, field: str | None = None) -> LayerError:
    return LayerError(Problem(zh, en, fix_zh, fix_en, file=source, field=field))


def parse_bbox(text: str | None, *, source: str = "--bbox") -> tuple[float, float, float, float] | None:
    """``"W,S,E,N"`` in degrees -> a tuple; None for None or an empty string.

    Raises
    ------
    LayerError
        Not four numbers, not lon/lat, or west >= east / south >= north.
    """
    if text is None or not str(text).strip():
        return None
    parts = [p.strip() for p in str(text).replace("，", ",").split(",")]
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise _fail(f"范围应为“西,南,东,北”四个经纬度数字，收到：{text}",
                    f"the area must be four lon/lat numbers 'west,south,east,north', got: {text}",
                    "如 1.40,42.42,1.80,42.66", "e.g. 1.40,42.42,1.80,42.66", source, field="bbox") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise _fail(f"范围无效：西 {w} 应小于东 {e}、南 {s} 应小于北 {n}，且在经纬度范围内",
                    f"invalid area: west {w} must be less than east {e} and south {s} less than north {n}, "
                    "within lon/lat", "按“西,南,东,北”的顺序填写经纬度", "give lon/lat as west,south,east,north",
                    source, field="bbox")
    return (w, s, e, n)


def _read(path: Path, layer: str, source: str, bbox: tuple[float, float, float, float] | None = None
          ) -> gpd.GeoDataFrame:
    try:   # with a bbox, GDAL keeps only the features touching it (the file is still parsed whole)
        gdf = pyogrio.read_dataframe(path, layer=layer, CONFIG_FILE=str(CONFIG_FILE), use_arrow=True, bbox=bbox)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.FeatureError) as exc:
        text = str(exc).replace(str(path), source)[:200]
        raise _fail(f"OpenStreetMap 文件无法读取（{text}）", f"the OpenStreetMap file could not be read ({text})",
                    "文件可能不完整或已损坏；重新下载该区域的 .osm.pbf",
                    "the file may be truncated or damaged; download the extract (.osm.pbf) again", source) from None
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    return gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].reset_index(drop=True)


def _check_osm(path: Path, source: str) -> None:
    """Refuse anything but a file GDAL opens with its OSM driver."""
    name = path.name.lower()
    if not name.endswith(SUFFIXES):
        raise _fail(f"不是 OpenStreetMap 文件（扩展名应为 .osm.pbf 或 .osm）：{path.name}",
                    f"not an OpenStreetMap file (the name must end in .osm.pbf or .osm): {path.name}",
                    "从 Geofabrik 等处下载本区域的 .osm.pbf 摘录", "download the area's extract (.osm.pbf), e.g. from "
                    "Geofabrik", source)
    if not path.is_file():
        raise _fail("文件不存在", "the file does not exist", "检查路径", "check the path", source)
    with open(path, "rb") as fh:
        head = fh.read(64)
    pbf = len(head) >= 8 and b"OSMHeader" in head[:32]
    xml = head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<?xml") or head.lstrip().startswith(b"<osm")
    driver = None
    if pbf or xml:
        try:
            driver = pyogrio.read_info(path, layer="points", CONFIG_FILE=str(CONFIG_FILE)).get("driver")
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
            driver = None
    if driver != "OSM":
        raise _fail("文件内容不是 OpenStreetMap 数据（不是 .osm.pbf 或 OSM XML）",
                    "the content is not OpenStreetMap data (neither .osm.pbf nor OSM XML)",
                    "检查文件：可能改过扩展名、下载不完整或已损坏", "check the file: it may be renamed, truncated or "
                    "damaged", source)


def _cut(gdf: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Features intersecting ``bbox`` (not clipped)."""
    if not len(gdf):
        return gdf
    idx = gdf.sindex.query(shapely.box(*bbox), predicate="intersects")
    return gdf.iloc[np.sort(idx)].reset_index(drop=True)


def read_osm(path: Path | str, *, bbox: tuple[float, float, float, float] | None = None,
             display_name: str | None = None) -> OsmData:
    """Read an extract's nodes, ways and areas, kept where they touch ``bbox``.

    Parameters
    ----------
    path : Path
        ``.osm.pbf`` or ``.osm`` file.
    bbox : tuple of float, optional
        ``(west, south, east, north)`` in degrees; default the whole file.
    display_name : str, optional
        How messages name the file.

    Returns
    -------
    OsmData

    Raises
    ------
    LayerError
        Not an OpenStreetMap file, unreadable, empty, or ``bbox`` outside the file's data.
    """
    path = Path(path)
    source = display_name or path.name
    _check_osm(path, source)
    layers = {name: _read(path, name, source, bbox) for name in LAYERS}
    if bbox is not None and not any(len(g) for g in layers.values()):
        layers = {name: _read(path, name, source) for name in LAYERS}   # nothing there: the file's extent, to say so
    parts = [g.total_bounds for g in layers.values() if len(g)]
    if not parts:
        raise _fail("OpenStreetMap 文件中没有任何要素", "the OpenStreetMap file holds no features",
                    "检查下载的摘录是否为空", "check that the extract is not empty", source)
    b = np.vstack(parts)
    extent = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
    if bbox is None:
        bbox = extent
    cut = {k: _cut(g, bbox) for k, g in layers.items()}
    if not any(len(g) for g in cut.values()):
        w, s, e, n = extent
        raise _fail(f"范围 {bbox} 在文件数据之外（文件范围：西 {w:.4f}，南 {s:.4f}，东 {e:.4f}，北 {n:.4f}）",
                    f"the area {bbox} lies outside the file's data (the file covers west {w:.4f}, south {s:.4f}, "
                    f"east {e:.4f}, north {n:.4f})", "把 --bbox 放在文件范围内，或换用覆盖该区域的摘录",
                    "give a --bbox inside the file's extent, or use an extract of that area", source, field="bbox")
    return OsmData(cut["points"], cut["lines"], cut["multipolygons"], bounds4(bbox), extent)
