"""The workspace: an office's layers kept in one folder.

Layout::

    FOLDER/workspace.gpkg     one GeoPackage layer per vector kind (EPSG:4490, canonical fields)
    FOLDER/dem.tif            rasters beside it, one GeoTIFF per raster kind (``KIND.tif``)

The demo county written by ``python -m gis demo`` is a workspace.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pyogrio.errors

from layers.catalogue import CATALOGUE
from layers.errors import LayerError, Problem
from layers.raster import Raster, read_raster

GPKG_NAME = "workspace.gpkg"


class Workspace:
    """A folder of layers.

    Parameters
    ----------
    folder : Path
        The workspace folder (must exist to read), or the path of its GeoPackage (any name; the
        rasters are then beside it).
    """

    def __init__(self, folder: Path | str):
        path = Path(folder)
        if path.suffix.lower() == ".gpkg":
            self.folder, self._gpkg = path.parent, path
        else:
            self.folder, self._gpkg = path, path / GPKG_NAME

    @property
    def gpkg(self) -> Path:
        """Path of the GeoPackage holding the vector layers."""
        return self._gpkg

    def raster_path(self, kind: str) -> Path:
        """Path of the GeoTIFF of a raster kind."""
        return self.folder / f"{kind}.tif"

    def vector_kinds(self) -> list[str]:
        """Vector kinds present, in catalogue order."""
        if not self.gpkg.exists():
            return []
        try:
            names = {str(n) for n, _ in pyogrio.list_layers(self.gpkg)}
        except pyogrio.errors.DataSourceError as e:
            raise LayerError(Problem("工作空间文件无法读取，不是有效的 GeoPackage", "the workspace file is not a readable "
                                     "GeoPackage", "从备份恢复该文件，或新建工作空间后重新导入图层",
                                     "restore it from a backup, or make a new workspace and import the layers again",
                                     file=self.gpkg.name)) from e
        return [k for k in CATALOGUE if k in names]

    def raster_kinds(self) -> list[str]:
        """Raster kinds present, in catalogue order."""
        return [k for k, s in CATALOGUE.items() if s.is_raster and self.raster_path(k).exists()]

    def vector(self, kind: str) -> gpd.GeoDataFrame:
        """Read a vector layer (EPSG:4490, canonical fields)."""
        if kind not in self.vector_kinds():
            raise LayerError(Problem(f"工作空间中没有“{CATALOGUE[kind].zh}”图层",
                                     f"the workspace has no '{CATALOGUE[kind].en}' layer",
                                     "先在“数据图层”页导入该图层", "import it on the Data layers page first",
                                     file=self.gpkg.name))
        gdf = pyogrio.read_dataframe(self.gpkg, layer=kind, use_arrow=True)
        gdf.attrs["source"] = f"{self.gpkg.name}:{kind}"
        return gdf

    def raster(self, kind: str) -> Raster:
        """Read a raster layer."""
        return read_raster(self.raster_path(kind), display_name=f"{kind}.tif")

    def write_vector(self, kind: str, gdf: gpd.GeoDataFrame) -> None:
        """Write (replace) a vector layer."""
        self.folder.mkdir(parents=True, exist_ok=True)
        pyogrio.write_dataframe(gdf, self.gpkg, layer=kind, driver="GPKG")
