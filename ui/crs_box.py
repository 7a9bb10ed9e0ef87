"""The 坐标系 / CRS box of every upload in the app: one widget, one meaning, one reader path.

Every page that reads a user's file -- the Data page's import, the Flood page's depth raster, danger
zones and population raster, the Fire page's candidate sites -- offers the same choice under its
upload, as ``--crs``, ``--towgs84``, ``--crs-override`` and ``--gcj02`` / ``--bd09`` do on the command
line:

- the CRS: detect automatically, CGCS2000 or WGS84 lon/lat, Beijing 1954 or Xi'an 1980 with the zone
  told from the numbers, every lon/lat and Gauss-Kruger zone of the three datums, or another EPSG code;
- "the file's own CRS is wrong" (once a CRS is chosen): without it a file whose .prj or GeoTIFF keys
  say otherwise is refused;
- a surveying bureau's 3 or 7 transformation parameters (Beijing 1954 / Xi'an 1980 to CGCS2000);
- for vector files, the web-map correction (GCJ-02 / BD-09).

:func:`crs_box` draws it and returns a :class:`layers.load.CoordOptions` for the readers
(:func:`layers.load.load_layer`, :func:`layers.load.load_points`, :func:`layers.raster.read_raster`), or
None while something typed in it is not usable (said in both languages). :func:`chosen` gives the same
answer from the session without drawing, for a page that reads its upload before it draws the box.
:func:`show_problems` / :func:`show_lines` show a file's problems in both languages, the interface's
first; :func:`raster_note` and :func:`points_note` say what was read, in which CRS and where it lies.
"""

from __future__ import annotations

import numpy as np
import pyproj
import streamlit as st

from gis.projection import crs_of
from layers.crs import parse_crs_choice
from layers.datums import DATUMS, describe, gk_codes, parse_towgs84
from layers.errors import GisError, LayerError
from layers.load import CoordOptions
from layers.raster import Raster
from layers.text import in_order, other
from ui.i18n import labeller, lang, t, text

__all__ = ["crs_box", "chosen", "crs_options", "show_problems", "show_lines", "raster_note", "points_note",
           "OFFSETS"]

#: the web-map corrections offered (``none``: the file carries no web-map offset)
OFFSETS = ("none", "gcj02", "bd09")
#: what the transformation parameters box shows before anything is typed (an example of 3 parameters)
_TOWGS84_EXAMPLE = "15.8,-154.4,-82.3"


@st.cache_data(show_spinner=False)
def crs_options(lang_: str) -> dict[str, str]:
    """The CRS box's options, value -> label in ``lang_``: detect, lon/lat, the old datums with the zone told from
    the numbers, every Gauss-Kruger zone of CGCS2000, Beijing 1954 and Xi'an 1980, other."""
    opts = {"auto": text("crs_auto", lang_), "EPSG:4490": text("crs_4490", lang_),
            "EPSG:4326": text("crs_4326", lang_)}
    for key in ("beijing1954", "xian1980"):
        opts[key] = text("crs_datum", lang_, datum=DATUMS[key].name(lang_))
    for key in ("beijing1954", "xian1980"):
        opts[f"EPSG:{DATUMS[key].geographic}"] = describe(DATUMS[key].geographic)(lang_)
    for g in gk_codes():
        opts[f"EPSG:{g.code}"] = describe(g.code, detail=True)(lang_)
    opts["other"] = text("crs_other", lang_)
    return opts


def _read(prefix: str, offset_key: str | None) -> tuple[CoordOptions | None, list[LayerError]]:
    """The box's answer from the session: the options, or None and what is wrong with what was typed."""
    state = st.session_state
    choice = state.get(f"{prefix}_crs", "auto")
    errors: list[LayerError] = []
    crs: str | None = None
    if choice == "other":
        code = str(state.get(f"{prefix}_crs_other") or "").strip()
        if code:
            try:
                parse_crs_choice(code)
                crs = code
            except LayerError as e:
                errors.append(e)
    elif choice != "auto":
        crs = str(choice)
    raw = str(state.get(f"{prefix}_towgs84") or "").strip()
    towgs84 = None
    if raw:
        try:
            towgs84 = parse_towgs84(raw, source=t("towgs84_header"))
        except LayerError as e:
            errors.append(e)
    override = crs is not None and bool(state.get(f"{prefix}_crs_override"))
    offset = state.get(offset_key) if offset_key else None
    options = CoordOptions(crs=crs, towgs84=towgs84, on_conflict="override" if override else "refuse",
                           offset=None if offset in (None, "none") else str(offset))
    return (None if errors else options), errors


def chosen(prefix: str, *, offset_key: str | None = None) -> CoordOptions | None:
    """What the box of ``prefix`` says (as :func:`crs_box` returns it), read from the session without drawing."""
    return _read(prefix, offset_key)[0]


def crs_box(prefix: str, *, where=None, offsets: bool = False, offset_key: str | None = None,
            offset_preset: str = "none", offset_note: str | None = None, remembered: bool = False,
            fold: bool = True) -> CoordOptions | None:
    """Draw the coordinate choice of one upload and return it.

    Parameters
    ----------
    prefix : str
        Widget keys: ``{prefix}_crs``, ``{prefix}_crs_other``, ``{prefix}_crs_override``,
        ``{prefix}_towgs84`` (and ``{prefix}_offset`` unless ``offset_key``).
    where : streamlit container, optional
        A column or container to draw in (default the page).
    offsets : bool
        Offer the web-map correction (vector files).
    offset_key, offset_preset, offset_note : optional
        The correction box's key, the option it starts at, and a line under it (the Data page presets
        it from the workspace's record of the same file).
    remembered : bool
        The correction is kept with the workspace (its help says so).
    fold : bool
        The transformation parameters in a folded section (False inside an expander, which cannot
        hold another).

    Returns
    -------
    CoordOptions or None
        None while the EPSG code or the parameters typed are not usable (the problem is shown in
        both languages).
    """
    w = where if where is not None else st
    offset_key = (offset_key or f"{prefix}_offset") if offsets else None
    if offset_key is not None:
        help_ = t("offset_help") + (" " + t("offset_help_kept") if remembered else "")
        w.selectbox(t("offset_choice"), list(OFFSETS), index=OFFSETS.index(offset_preset),
                    format_func=labeller("offset_"), key=offset_key, help=help_)
        if offset_note:
            w.caption(offset_note)
    opts = crs_options(lang())
    choice = w.selectbox(t("crs_choice"), list(opts), format_func=opts.get, key=f"{prefix}_crs", help=t("crs_help"))
    if choice == "other":
        w.text_input(t("crs_other_code"), key=f"{prefix}_crs_other")
    if choice not in ("auto", "other") or str(st.session_state.get(f"{prefix}_crs_other") or "").strip():
        w.checkbox(t("crs_override"), key=f"{prefix}_crs_override", help=t("crs_override_help"))
    if fold:
        with w.expander(t("towgs84_header")):
            st.caption(t("towgs84_help"))
            st.text_input(t("towgs84_input"), key=f"{prefix}_towgs84", placeholder=_TOWGS84_EXAMPLE)
    else:
        w.text_input(t("towgs84_header"), key=f"{prefix}_towgs84", placeholder=_TOWGS84_EXAMPLE,
                     help=t("towgs84_help"))
    options, errors = _read(prefix, offset_key)
    for e in errors:
        show_problems(e, where=w, fold=False)
    return options


def show_lines(zh: list[str], en: list[str], *, where=None, fold: bool = True) -> None:
    """Problems in both languages, the interface's first: the other one folded under it (``fold``) or in the
    same box (inside an expander, which cannot hold another)."""
    w = where if where is not None else st
    first, second = ({"zh": zh, "en": en}[lg] for lg in in_order(lang()))
    if not fold:
        w.error("\n".join(f"- {line}" for line in [*first, *second]))
        return
    w.error("\n".join(f"- {line}" for line in first))
    with w.expander(text("lang_name", other(lang()))):
        st.markdown("\n".join(f"- {line}" for line in second))


def show_problems(e: GisError, *, where=None, fold: bool = True) -> None:
    """A refused file's problems (:class:`~layers.errors.GisError`) in both languages (see :func:`show_lines`)."""
    show_lines(e.lines("zh"), e.lines("en"), where=where, fold=fold)


def raster_note(r: Raster) -> str:
    """What was read of a raster, in the interface language: its size, the CRS it was read in and where its
    centre lies (lon/lat, CGCS2000), so that a CRS chosen wrongly shows at once."""
    source = r.source_crs if r.source_crs is not None else r.crs
    rows, cols = r.shape
    line = t("validated_raster", rows=rows, cols=cols, crs=describe(source)(lang()) if source is not None else "")
    crs = crs_of(r)
    if crs is None:
        return line
    x, y = r.transform * (cols / 2.0, rows / 2.0)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4490", always_xy=True).transform(x, y)
    if not (np.isfinite(lon) and np.isfinite(lat)):
        return line
    return line + t("raster_centre", lon=f"{lon:.6f}", lat=f"{lat:.6f}")


def points_note(gdf) -> str:
    """What was read of a point file (:func:`layers.load.load_points`), in the interface language: how many
    features and the CRS they were read in (``attrs["source_crs"]``), converted to CGCS2000 lon/lat."""
    source = gdf.attrs.get("source_crs")
    return t("validated", n=f"{len(gdf):,}", crs=describe(source)(lang()) if source is not None else "")
