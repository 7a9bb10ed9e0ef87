"""Settings, read once from the environment. Every option is documented here.

Options
-------
STORAGE_CRS : str
    CRS every vector layer is kept in after validation: ``EPSG:4490`` (CGCS2000 geographic,
    practically WGS84). Analysis re-projects to a metric CRS chosen from the data's extent
    (:func:`layers.crs.metric_crs`).
DATA_DIR : pathlib.Path
    Folder holding the user's workspaces and the generated demo county. ``GIS_DATA_DIR`` overrides;
    default ``workspaces/`` at the project's root (git-ignored: user data never lives in the source
    packages).
DEMO_DIR : pathlib.Path
    Where the demo county is generated on first use: ``DATA_DIR / "demo"``.
TIANDITU_KEY : str or None
    Key for Tianditu basemap tiles (``TIANDITU_KEY``). Without it the Tianditu option is hidden.
ONLINE_BASEMAPS : bool
    Offer online basemaps at all (``GIS_ONLINE_BASEMAPS``, default ``1``; ``0`` for an air-gapped
    command centre). The hillshade of the DEM is always there and never needs the network.
MAX_UPLOAD_MB : int
    Largest upload accepted by the app, in MB (``GIS_MAX_UPLOAD_MB``, default 200).
DEFAULT_LANG : str
    Interface language at start (``GIS_LANG``: ``zh`` default, or ``en``).
POSTGIS_DSN : str or None
    PostgreSQL + PostGIS connection for an office where several people edit at once
    (``GIS_POSTGIS_DSN``, e.g. ``postgresql://gis:secret@db-host:5432/gis``); used by
    :class:`layers.postgis.PostGISStore`. Unset: the embedded GeoPackage workspace only.
POSTGIS_SCHEMA : str
    Database schema holding the layers and their history (``GIS_POSTGIS_SCHEMA``, default ``gis``).
SNAPSHOT_KEEP : int
    Good snapshots a workspace keeps (``GIS_SNAPSHOT_KEEP``, default 5); older ones are removed
    (:mod:`layers.snapshots`). 0 turns automatic snapshots off.
SNAPSHOT_EVERY_WRITES : int
    A snapshot is taken after this many writes since the last one (``GIS_SNAPSHOT_EVERY_WRITES``,
    default 10) ...
SNAPSHOT_EVERY_MINUTES : float
    ... or after any write once the last one is this old (``GIS_SNAPSHOT_EVERY_MINUTES``, default 30).
SNAPSHOT_MAX_MB : float
    Space the snapshots of one workspace may take, MB (``GIS_SNAPSHOT_MAX_MB``, default 2000; rasters
    unchanged between snapshots are stored once). The newest good snapshot is always kept.
SHARED_MAPS_MB : float
    Memory the app's rendered maps shared by every session may hold, MB (``GIS_SHARED_MAPS_MB``,
    default 300); least recently used first out (:func:`ui.state.shared_map`).
SHARED_MAP_FILES_MB : float
    Disk the big data of the shared page maps may take as files the browsers fetch (``static/shared/``,
    ``GIS_SHARED_MAP_FILES_MB``, default 256; least recently used first out; :mod:`ui.map_files`).
    0 keeps every map's data inline in the message sent to each session.
VIEWSHED_CACHE_MB : float
    Memory the per-camera viewsheds kept between fire reviews may take, MB
    (``GIS_VIEWSHED_CACHE_MB``, default 256: about 2,000 cameras of 10 km on a 30 m DEM); a review
    that adds or edits one camera then sweeps that one only (:mod:`gis.fire.viewshed_cache`).
    0 keeps none.

Read when asked (a server or a test may set them after start):

workspace_override() -> str or None
    ``GIS_WORKSPACE``: the folder of the workspace the app opens, whatever was opened last.
postgis_dsn() / postgis_schema()
    ``GIS_POSTGIS_DSN`` / ``GIS_POSTGIS_SCHEMA`` as they are now (else the values read at start).
cjk_font_file() -> str or None
    ``GIS_CJK_FONT``: a ``.ttf``/``.otf``/``.ttc`` font file printed maps use for Chinese.
"""

from __future__ import annotations

import os
from pathlib import Path

STORAGE_CRS = "EPSG:4490"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GIS_DATA_DIR", PACKAGE_ROOT / "workspaces"))
DEMO_DIR = DATA_DIR / "demo"
TIANDITU_KEY = os.environ.get("TIANDITU_KEY") or None
ONLINE_BASEMAPS = os.environ.get("GIS_ONLINE_BASEMAPS", "1") not in ("0", "false", "no")
MAX_UPLOAD_MB = int(os.environ.get("GIS_MAX_UPLOAD_MB", "200"))
DEFAULT_LANG = os.environ.get("GIS_LANG", "zh") if os.environ.get("GIS_LANG", "zh") in ("zh", "en") else "zh"
POSTGIS_DSN = os.environ.get("GIS_POSTGIS_DSN") or None
POSTGIS_SCHEMA = os.environ.get("GIS_POSTGIS_SCHEMA", "gis")
SNAPSHOT_KEEP = int(os.environ.get("GIS_SNAPSHOT_KEEP", "5"))
SNAPSHOT_EVERY_WRITES = int(os.environ.get("GIS_SNAPSHOT_EVERY_WRITES", "10"))
SNAPSHOT_EVERY_MINUTES = float(os.environ.get("GIS_SNAPSHOT_EVERY_MINUTES", "30"))
SNAPSHOT_MAX_MB = float(os.environ.get("GIS_SNAPSHOT_MAX_MB", "2000"))
SHARED_MAPS_MB = float(os.environ.get("GIS_SHARED_MAPS_MB", "300"))
SHARED_MAP_FILES_MB = float(os.environ.get("GIS_SHARED_MAP_FILES_MB", "256"))
VIEWSHED_CACHE_MB = float(os.environ.get("GIS_VIEWSHED_CACHE_MB", "256"))


def workspace_override() -> str | None:
    """``GIS_WORKSPACE`` now: the workspace folder the app opens (None: the last one opened, or the demo)."""
    return os.environ.get("GIS_WORKSPACE") or None


def postgis_dsn() -> str | None:
    """``GIS_POSTGIS_DSN`` now, else the value read at start."""
    return os.environ.get("GIS_POSTGIS_DSN") or POSTGIS_DSN


def postgis_schema() -> str:
    """``GIS_POSTGIS_SCHEMA`` now, else the value read at start."""
    return os.environ.get("GIS_POSTGIS_SCHEMA") or POSTGIS_SCHEMA


def cjk_font_file() -> str | None:
    """``GIS_CJK_FONT``: a font file with Chinese glyphs for printed maps (None: look among installed fonts)."""
    return os.environ.get("GIS_CJK_FONT") or None
