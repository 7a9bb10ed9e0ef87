"""OpenStreetMap extracts as a workspace: ``python -m gis osm`` and the Workspace page.

- :mod:`layers.osm.read`: the extract through GDAL's OSM driver (pyogrio), offline;
- :mod:`layers.osm.mapping`: tags to the catalogue's layers;
- :mod:`layers.osm.estimates`: village population, shelter capacity and transfer grids, labelled;
- :mod:`layers.osm.dem`: DEM tiles joined and cut to the area;
- :mod:`layers.osm.build`: everything validated and written as one new workspace folder.
"""

from layers.osm.build import LAYER_ORDER, OsmImport, import_osm, osm_layers, write_workspace
from layers.osm.read import parse_bbox, read_osm

__all__ = ["LAYER_ORDER", "OsmImport", "import_osm", "osm_layers", "write_workspace", "parse_bbox", "read_osm"]
