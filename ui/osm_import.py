"""A new workspace from an OpenStreetMap extract, on the Workspace page (the same as ``python -m gis osm``).

Upload an extract (``.osm.pbf`` / ``.osm``), optionally DEM tiles and an area; *Preview* shows the
features each layer would get and what was estimated; *Create* writes the workspace (all or
nothing) and opens it. Uploads are written under generated names in a temporary folder. The DEM
tiles have the 坐标系 / CRS box of every upload under them (:mod:`ui.crs_box`: an SRTM tile or a
GeoTIFF carries its CRS, an ``.asc`` without its ``.prj`` does not), read through the same
:func:`layers.raster.read_raster` as ``--crs`` / ``--towgs84`` on ``python -m gis osm``.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import astuple
from pathlib import Path

import pandas as pd
import streamlit as st

from layers import settings
from layers.catalogue import spec
from layers.errors import GisError, LayerError
from layers.load import CoordOptions
from layers.raster_files import raster_suffix
from ui.crs_box import crs_box, raster_note, show_problems
from ui.i18n import lang, t


def _errors(e: GisError) -> None:
    """A refused upload's problems in both languages, the interface's first (inside the expander: one box)."""
    show_problems(e, fold=False)


@st.cache_resource(show_spinner=False, max_entries=2)
def _preview(key: tuple, _osm: bytes, osm_name: str, _dems: tuple, dem_names: tuple, bbox: tuple | None,
             coords: tuple = ()):
    """The import in memory (:func:`layers.osm.osm_layers`), once per set of uploads, area and coordinate options
    (``coords``: the fields of :class:`~layers.load.CoordOptions`, from the box under the DEM upload)."""
    from layers.osm import osm_layers

    with tempfile.TemporaryDirectory() as tmp:
        osm_path = Path(tmp) / ("extract.osm.pbf" if osm_name.lower().endswith(".pbf") else "extract.osm")
        osm_path.write_bytes(_osm)
        dem_paths = []
        for i, (data, name) in enumerate(zip(_dems, dem_names)):   # kept under its own type (.hgt.zip, .asc...)
            p = Path(tmp) / (f"dem{i}" + (raster_suffix(name) or (".zip" if name.lower().endswith(".zip") else "")))
            p.write_bytes(data)
            dem_paths.append(p)
        return osm_layers(osm_path, bbox=bbox, dem_paths=dem_paths, dem_names=list(dem_names),
                          coords=CoordOptions(*coords), display_name=Path(osm_name).name)


def _counts_table(result) -> pd.DataFrame:
    from layers.osm import LAYER_ORDER

    rows = [(spec(k).label(lang()), result.counts.get(k, 0)) for k in LAYER_ORDER]
    if "dem" in result.counts:
        rows.append((spec("dem").label(lang()), result.counts["dem"]))
    return pd.DataFrame(rows, columns=[t("osm_layer"), t("osm_features")])


def osm_section(on_created) -> None:
    """The expander: uploads, area, preview, create. ``on_created(name)`` opens the new workspace."""
    from layers.folders import remember, workspace_dir
    from layers.osm import parse_bbox, write_workspace
    from layers.raster_files import UPLOAD_RASTER_TYPES

    with st.expander(t("osm_new")):
        st.caption(t("osm_help"))
        up = st.file_uploader(t("osm_file"), type=["pbf", "osm"], key="osm_file")
        dems = st.file_uploader(t("osm_dem"), type=UPLOAD_RASTER_TYPES, accept_multiple_files=True, key="osm_dem")
        coords = crs_box("osm_dem", fold=False) if dems else CoordOptions()
        bbox_text = st.text_input(t("osm_bbox"), key="osm_bbox", placeholder="1.40,42.42,1.80,42.66",
                                  help=t("osm_bbox_help"))
        name = st.text_input(t("ws_name"), key="osm_ws_name", help=t("ws_name_help"))
        if up is None or coords is None:   # None: what was typed in the CRS box is not usable (said under it)
            return
        sizes = len(up.getvalue()) + sum(len(d.getvalue()) for d in dems or [])
        if sizes > settings.MAX_UPLOAD_MB * 1024 * 1024:
            st.error(t("too_big", mb=settings.MAX_UPLOAD_MB))
            return
        c1, c2 = st.columns(2)
        try:
            bbox = parse_bbox(bbox_text)
        except LayerError as e:
            _errors(e)
            return
        dem_bytes = tuple(d.getvalue() for d in dems or [])
        dem_names = tuple(Path(d.name).name for d in dems or [])
        fields = astuple(coords)
        key = (hashlib.sha1(up.getvalue()).hexdigest(), tuple(hashlib.sha1(b).hexdigest() for b in dem_bytes), bbox,
               fields)
        if c1.button(t("osm_preview"), key="osm_preview"):
            st.session_state["osm_key"] = key
        if st.session_state.get("osm_key") != key:
            return
        try:
            with st.spinner(t("osm_reading")):
                result = _preview(key, up.getvalue(), up.name, dem_bytes, dem_names, bbox, fields)
        except GisError as e:
            _errors(e)
            return
        if result.dem is not None:   # the CRS the tiles were read in and where the cut DEM lies
            st.success(raster_note(result.dem))
        st.dataframe(_counts_table(result), hide_index=True, width="stretch")
        for note in result.notes:
            st.caption(f"- {note(lang())}")
        if c2.button(t("osm_create"), key="osm_create", type="primary", disabled=not name):
            try:
                write_workspace(result, workspace_dir(name.strip()), user=st.session_state.get("editor_name") or "osm")
            except GisError as e:
                _errors(e)
                return
            except OSError as e:   # disk full, read-only data folder: said plainly, nothing half-written
                st.error(t("unexpected_error", err=f"{type(e).__name__}: {e}"[:300]))
                return
            remember(name.strip())
            st.session_state.pop("osm_key", None)
            on_created(name.strip())
