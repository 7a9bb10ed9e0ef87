"""Loading a user's file as a layer kind: read, resolve CRS, validate, convert to the storage CRS.

:func:`load_layer` is the one entry point the app and the command line use for any file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np

from layers.catalogue import spec as get_spec
from layers.crs import resolve_crs, to_storage
from layers.errors import LayerError, Problem
from layers.raster import Raster, read_raster
from layers.readers import read_vector
from layers.validate import validate

RASTER_SUFFIXES = {".tif", ".tiff"}


@dataclass
class Layer:
    """A validated layer: vector (``gdf`` in the storage CRS) or raster (``raster``).

    Attributes
    ----------
    kind : str
        Layer kind from the catalogue.
    source : str
        File name it came from (for messages and provenance).
    gdf : GeoDataFrame or None
        Canonical columns, EPSG:4490.
    raster : Raster or None
        For raster kinds (DEM, depth, land cover).
    notes : list of (zh, en)
        Warnings about what was assumed or repaired on the way in.
    """

    kind: str
    source: str
    gdf: gpd.GeoDataFrame | None = None
    raster: Raster | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of features (vector) or valid cells (raster)."""
        if self.gdf is not None:
            return len(self.gdf)
        return int(self.raster.valid_mask().sum()) if self.raster is not None else 0

    @property
    def crs(self):
        """CRS of the data."""
        return self.gdf.crs if self.gdf is not None else self.raster.crs

    def messages(self, lang: str = "zh") -> list[str]:
        """The notes in one language."""
        return [zh if lang == "zh" else en for zh, en in self.notes]


def _check_raster(r: Raster, kind: str, source: str) -> list[tuple[str, str]]:
    notes = list(getattr(r, "warnings", []) or [])
    valid = r.valid_mask()
    if not valid.any():
        raise LayerError(Problem("栅格中没有有效值（全部为无数据）", "the raster has no valid cells (all nodata)",
                                 "检查文件或其无数据值设置", "check the file and its nodata value", file=source))
    if kind == "dem":
        voids = int((~valid).sum())
        if voids:
            share = voids / valid.size
            notes.append((f"高程中有 {voids} 个空洞像元（{share:.1%}），分析时按周边插补或忽略",
                          f"the DEM has {voids} void cells ({share:.1%}); analyses fill or skip them"))
        vals = r.array[valid]
        if float(np.nanmin(vals)) < -500 or float(np.nanmax(vals)) > 9000:
            raise LayerError(Problem("高程值超出合理范围（-500 至 9000 米）", "elevations outside -500..9000 m",
                                     "确认文件是以米为单位的高程", "check that the file holds elevations in metres",
                                     file=source))
    return notes


def load_layer(path: Path | str, kind: str, *, sublayer: str | None = None, gcj02: bool = False,
               display_name: str | None = None) -> Layer:
    """Read any supported file as layer ``kind``.

    Parameters
    ----------
    path : Path
        GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, CSV/XLSX with lon/lat, or GeoTIFF.
    kind : str
        Layer kind (see :mod:`layers.catalogue`).
    sublayer : str, optional
        Layer inside a GeoPackage, or sheet in a workbook.
    gcj02 : bool
        The coordinates are GCJ-02 (picked from Gaode/AMap or WeChat): convert them to WGS84.
    display_name : str, optional
        How messages name the file (uploads arrive under temporary names).

    Returns
    -------
    Layer

    Raises
    ------
    LayerError
        Every problem in the file, in Chinese and English; nothing is loaded.
    """
    path = Path(path)
    source = display_name or path.name
    spec = get_spec(kind)
    if path.suffix.lower() in RASTER_SUFFIXES:
        if not spec.is_raster:
            raise LayerError(Problem(f"“{spec.zh}”图层不接受栅格（GeoTIFF）", f"layer '{spec.en}' does not take a raster",
                                     "上传矢量文件（GeoPackage、Shapefile、KML、Excel 等）",
                                     "upload a vector file (GeoPackage, Shapefile, KML, Excel...)", file=source))
        r = read_raster(path, display_name=source)
        return Layer(kind, source, raster=r, notes=_check_raster(r, kind, source))
    if not spec.is_vector:
        raise LayerError(Problem(f"“{spec.zh}”应为 GeoTIFF 栅格文件", f"layer '{spec.en}' must be a GeoTIFF raster",
                                 "上传 .tif 文件", "upload a .tif file", file=source))
    raw = read_vector(path, sublayer=sublayer, display_name=source)
    raw = resolve_crs(raw, source=source)
    gdf, notes = validate(raw, spec, source=source)
    gdf = to_storage(gdf)
    if gcj02:
        from layers.coords import convert_gcj02

        gdf = convert_gcj02(gdf)
        notes.append(("坐标已从 GCJ-02（高德/微信）转换为 WGS84", "coordinates converted from GCJ-02 to WGS84"))
    gdf.attrs["source"] = source
    return Layer(kind, source, gdf=gdf, notes=notes)
