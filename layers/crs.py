"""Coordinate reference systems: recognise, guess (with a warning) or refuse; pick a metric CRS.

Offices' data comes in CGCS2000 lon/lat (EPSG:4490, practically WGS84), WGS84 (EPSG:4326),
CGCS2000 Gauss-Kruger metres: 3-degree zones 25-45 with the zone number in front of the easting
(EPSG:4513-4533), 3-degree "CM" variants without it (EPSG:4534-4554), and, rarely, 6-degree zones
13-23 (EPSG:4491-4501, CM variants EPSG:4502-4512); older survey data and DEMs in the same shapes on
Beijing 1954 or Xi'an 1980 (:mod:`layers.datums` has their codes). A ``.prj`` often names these
without an EPSG code; :func:`identify_crs` maps it back to the code.

:func:`decide_crs` (and its wrappers :func:`resolve_bounds_crs` for extents and
:func:`resolve_crs` for layers) gives data its CRS: keeps (and recognises) a declared one after
checking it fits the numbers, guesses EPSG:4490 or a zone-prefixed Gauss-Kruger zone from the
numbers alone (recording a warning), uses the CRS -- or just the datum -- the user chose, and
raises :class:`~layers.errors.CRSError` otherwise. A chosen CRS that differs from the one the file
declares is a conflict (:class:`CRSConflict`) unless the user said the file's own is wrong.
:func:`metric_crs` chooses the metric CRS for analysis; :func:`to_storage` reprojects to
:data:`layers.settings.STORAGE_CRS`, applying a bureau's transformation parameters when the layer
carries them (:func:`layers.datums.with_towgs84`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import pyproj

from layers.datums import (
    DATUMS,
    Datum,
    base_crs,
    datum_of,
    datum_word,
    describe,
    gk_code,
    gk_of,
    is_old_datum,
    towgs84_of,
    with_towgs84,
)
from layers.errors import CRSError, problem
from layers.settings import STORAGE_CRS
from layers.text import Text

__all__ = ["resolve_crs", "resolve_bounds_crs", "decide_crs", "CrsDecision", "CRSConflict", "identify_crs",
           "parse_user_crs", "parse_crs_choice", "metric_crs", "to_storage", "gk_epsg", "probable_crs",
           "bounds4", "CHINA_LONLAT_BOX", "OnConflict"]

#: (min lon, min lat, max lon, max lat) of the box that holds China's territory
CHINA_LONLAT_BOX = (73.0, 3.0, 136.0, 54.0)

_NORTHING_MAX = 6_500_000.0           # metres: north of China's northern tip is about 5.99e6

_Note = Text
#: what to do when the CRS a user chose differs from the one a file declares: refuse (the default), use
#: the chosen one ("the file's own is wrong"), or keep the file's own (an input of a command whose
#: ``--crs`` is meant for its other inputs)
OnConflict = Literal["refuse", "override", "keep"]

#: where a user chooses the CRS: the box under every upload in the app (ui/crs_box.py) and the command line option
_CHOOSE_ZH = "在上传文件处的“坐标系 / CRS”选择框（命令行用 --crs EPSG:xxxx）中选择"
_CHOOSE_EN = "in the 坐标系 / CRS box under the upload (command line: --crs EPSG:xxxx) choose"

_FIX_CRS_ZH = (f"{_CHOOSE_ZH}坐标系，如 CGCS2000 经纬度 EPSG:4490、3 度带中央经线 117° 的 EPSG:4548；"
               "北京1954、西安1980 的数据可只选坐标系名称（--crs beijing1954 或 xian1980），投影带按数值判断；"
               "或提供带坐标系的 .prj 文件 / 带坐标系的 GeoTIFF")
_FIX_CRS_EN = (f"{_CHOOSE_EN} the CRS, e.g. CGCS2000 lon/lat EPSG:4490 or the 3-degree Gauss-Kruger zone with central "
               "meridian 117E EPSG:4548; for Beijing 1954 or Xi'an 1980 data the datum alone will do (--crs "
               "beijing1954 or xian1980: the zone is told from the numbers); or supply the .prj file / a GeoTIFF "
               "that carries its CRS")


class CRSConflict(CRSError):
    """The CRS a user chose differs from the one the file declares (and the user did not say the file's is wrong)."""


def gk_epsg(central_meridian: float, *, zone_prefix: bool = False, six_degree: bool = False,
            datum: str = "cgcs2000") -> int:
    """EPSG code of a Gauss-Kruger CRS (CGCS2000 unless ``datum`` says otherwise).

    Parameters
    ----------
    central_meridian : float
        Central meridian in degrees east (a multiple of 3 from 75 to 135; for 6-degree zones one of
        75, 81, ..., 135).
    zone_prefix : bool
        True for the variant whose false easting carries the zone number (``39 500 000``).
    six_degree : bool
        6-degree zones (EPSG:4491-4512) instead of 3-degree zones (EPSG:4513-4554).
    datum : str
        ``"cgcs2000"`` (default), ``"beijing1954"`` or ``"xian1980"`` (see :mod:`layers.datums`).

    Returns
    -------
    int
        The EPSG code, e.g. ``gk_epsg(120) == 4549``, ``gk_epsg(117, zone_prefix=True) == 4527``,
        ``gk_epsg(117, zone_prefix=True, datum="beijing1954") == 2415``.

    Raises
    ------
    ValueError
        When the meridian is not one of a Gauss-Kruger zone.
    """
    return gk_code(central_meridian, zone_prefix=zone_prefix, six_degree=six_degree, datum=datum)


def _gk_params(crs: pyproj.CRS) -> dict | None:
    """Central meridian, false easting and datum (by ellipsoid) of a transverse Mercator CRS, or None."""
    if not crs.is_projected or crs.coordinate_operation is None:
        return None
    op = crs.coordinate_operation
    if "transverse mercator" not in (op.method_name or "").lower():
        return None
    params = {}
    for p in op.params:
        params[p.name.lower()] = p.value
    cm = params.get("longitude of natural origin")
    lat0 = params.get("latitude of natural origin", 0.0)
    k = params.get("scale factor at natural origin", 1.0)
    fe = params.get("false easting", 0.0)
    fn = params.get("false northing", 0.0)
    unit_ok = all((a.unit_name or "").lower() in ("metre", "meter", "m") for a in crs.axis_info)
    if cm is None or not unit_ok:
        return None
    return {"cm": float(cm), "lat0": float(lat0), "k": float(k), "fe": float(fe), "fn": float(fn),
            "datum": datum_of(crs)}


def identify_crs(crs: object) -> pyproj.CRS:
    """Recognise a CRS by EPSG code, including ``.prj``/WKT that name a Chinese datum without a code.

    Parameters
    ----------
    crs : object
        Anything :class:`pyproj.CRS` accepts (a WKT string, ``"EPSG:4549"``, a pyproj or rasterio
        CRS).

    Returns
    -------
    pyproj.CRS
        The EPSG CRS when one matches with confidence (Gauss-Kruger zones of CGCS2000, Beijing 1954
        and Xi'an 1980 are matched on their parameters: transverse Mercator on the datum's
        ellipsoid, scale 1, latitude of origin 0, false easting 500 000 m with or without the zone
        number; lon/lat on the ellipsoid with the datum's name); otherwise the CRS as given. A CRS
        bound to WGS84 by transformation parameters (a ``.prj`` with ``TOWGS84[...]``) keeps them,
        unless they are all zero.
    """
    c = pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") and not isinstance(crs, pyproj.CRS)
                                   else crs)
    if c.is_bound and c.source_crs is not None:
        params = towgs84_of(c) or ()
        source = identify_crs(c.source_crs)
        if not any(params):
            return source
        try:
            return with_towgs84(source, params)
        except CRSError:  # parameters on a CGCS2000/WGS84 CRS: nothing to shift
            return source
    try:
        code = c.to_epsg(min_confidence=70)
    except pyproj.exceptions.CRSError:  # pragma: no cover - pyproj internals
        code = None
    if code is not None:
        return pyproj.CRS.from_epsg(code)
    p = _gk_params(c)
    if p and p["datum"] is not None and p["lat0"] == 0 and abs(p["k"] - 1) < 1e-12 and p["fn"] == 0:
        cm, fe, key = p["cm"], p["fe"], p["datum"].key
        try:
            if fe == 500_000:
                return pyproj.CRS.from_epsg(gk_epsg(cm, datum=key))
            zone, rest = divmod(fe, 1_000_000)
            if rest == 500_000:
                if 25 <= zone <= 45 and zone * 3 == cm:
                    return pyproj.CRS.from_epsg(gk_epsg(cm, zone_prefix=True, datum=key))
                if 13 <= zone <= 23 and zone * 6 - 3 == cm:
                    return pyproj.CRS.from_epsg(gk_epsg(cm, zone_prefix=True, six_degree=True, datum=key))
        except ValueError:
            pass
    if c.is_geographic:
        d = datum_of(c)
        if d is not None:
            return pyproj.CRS.from_epsg(d.geographic)
    return c


def _in_box(bounds: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return minx >= box[0] and miny >= box[1] and maxx <= box[2] and maxy <= box[3]


def _looks_lonlat(bounds) -> bool:
    minx, miny, maxx, maxy = bounds
    return minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90


def _zone_of(minx: float, maxx: float) -> int | None:
    """Zone number carried by 8-digit eastings (the same for all), else None."""
    if minx < 1_000_000:
        return None
    z0, z1 = math.floor(minx / 1_000_000), math.floor(maxx / 1_000_000)
    return z0 if z0 == z1 else None


def _gk_guess(bounds, datum: str = "cgcs2000") -> int | None:
    """EPSG code when the numbers look like zone-prefixed Gauss-Kruger metres (of ``datum``)."""
    minx, miny, maxx, maxy = bounds
    zone = _zone_of(minx, maxx)
    if zone is None or not (miny >= 0 and maxy <= _NORTHING_MAX):
        return None
    d = DATUMS[datum]
    if 25 <= zone <= 45:
        return d.gk3_zone + zone - 25
    if 13 <= zone <= 23:
        return d.gk6_zone + zone - 13
    return None


def _looks_gk_no_zone(bounds) -> bool:
    minx, miny, maxx, maxy = bounds
    return minx >= 150_000 and maxx <= 850_000 and miny >= 0 and maxy <= _NORTHING_MAX and (maxy > 1000)


def _looks_swapped_gk(bounds) -> bool:
    """x within northing range and y an easting with a zone number: X/Y read the wrong way round."""
    minx, miny, maxx, maxy = bounds
    zone = _zone_of(miny, maxy)
    return zone is not None and 13 <= zone <= 45 and minx >= 0 and maxx <= _NORTHING_MAX


def _fmt_bounds(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


def parse_user_crs(value: object, *, source: str | None = None) -> pyproj.CRS:
    """The CRS a user chose on import (the 坐标系 / CRS box under an upload, ``--crs`` on the command line).

    Parameters
    ----------
    value : int, str or pyproj.CRS
        An EPSG code (``4548``, ``"4548"``, ``"EPSG:4548"``) or anything :class:`pyproj.CRS`
        accepts (WKT, PROJ string).
    source : str, optional
        File name for the message.

    Returns
    -------
    pyproj.CRS
        The CRS, recognised as its EPSG code where possible (see :func:`identify_crs`).

    Raises
    ------
    CRSError
        When pyproj does not know the value, or it is not a horizontal (lon/lat or projected) CRS.
        (A datum named in words is :func:`parse_crs_choice`'s.)
    """
    text = str(value).strip()
    shown = text[:80]
    try:
        if isinstance(value, pyproj.CRS):
            c = value
        elif isinstance(value, int) or text.isdigit():
            c = pyproj.CRS.from_epsg(int(text))
        else:
            c = pyproj.CRS.from_user_input(text)
        c = identify_crs(c)
    except (pyproj.exceptions.CRSError, ValueError, TypeError):
        raise CRSError(problem(
            f"无法识别所选坐标系“{shown}”", f"the chosen CRS '{shown}' is not a known coordinate system",
            "填写 EPSG 代码，如 EPSG:4490（CGCS2000 经纬度）、EPSG:4326（WGS84）、"
            "EPSG:4548（CGCS2000 3 度带中央经线 117°）、EPSG:2415（北京1954 3 度带第 39 带），"
            "或只写旧坐标系名称 beijing1954 / xian1980",
            "give an EPSG code, e.g. EPSG:4490 (CGCS2000 lon/lat), EPSG:4326 (WGS84), EPSG:4548 (CGCS2000 "
            "3-degree Gauss-Kruger CM 117E), EPSG:2415 (Beijing 1954 3-degree zone 39), or just the old datum's "
            "name beijing1954 / xian1980", file=source)) from None
    if not (c.is_geographic or c.is_projected):
        raise CRSError(problem(
            f"所选坐标系 {c.name} 不是平面位置（经纬度或投影）坐标系",
            f"the chosen CRS {c.name} is not a horizontal (lon/lat or projected) CRS",
            "选择经纬度或投影坐标系，如 EPSG:4490 或 EPSG:4548",
            "choose a lon/lat or projected CRS, e.g. EPSG:4490 or EPSG:4548", file=source))
    return c


def parse_crs_choice(value: object, *, source: str | None = None) -> pyproj.CRS | Datum:
    """What a user chose: a whole CRS (see :func:`parse_user_crs`) or just a datum.

    Parameters
    ----------
    value : int, str, pyproj.CRS or Datum
        As :func:`parse_user_crs` takes, or a datum in words: ``beijing1954`` (``bj54``, ``北京1954``,
        ``北京54``), ``xian1980`` (``xa80``, ``西安1980``, ``西安80``), ``cgcs2000``.
    source : str, optional
        File name for messages.

    Returns
    -------
    pyproj.CRS or Datum
        A datum means "this datum; lon/lat or the Gauss-Kruger zone the numbers carry".

    Raises
    ------
    CRSError
        As :func:`parse_user_crs`.
    """
    if isinstance(value, Datum):
        return value
    if isinstance(value, str):
        d = datum_word(value)
        if d is not None:
            return d
    return parse_user_crs(value, source=source)


def _named_crs(c: pyproj.CRS) -> Text:
    return describe(c)


@dataclass
class CrsDecision:
    """The CRS given to data, and how it was arrived at.

    Attributes
    ----------
    crs : pyproj.CRS
        The CRS (bound to WGS84 when transformation parameters were given).
    notes : list of Text
        What was assumed, guessed or repaired.
    chosen_used : bool
        The user's choice (a CRS or a datum) is the data's CRS, or agrees with the one it declares.
    conflict : Text or None
        With ``on_conflict="keep"``: the file declares another CRS than the chosen one and its own
        was kept (the command line reports it when ``--crs`` fitted none of its inputs).
    """

    crs: pyproj.CRS
    notes: list[Text] = field(default_factory=list)
    chosen_used: bool = False
    conflict: Text | None = None


def _lonlat_wgs(c: pyproj.CRS) -> bool:
    """WGS84 or CGCS2000 lon/lat (the two agree to well under a metre)."""
    code = base_crs(c).to_epsg(min_confidence=90)
    return code in (4326, 4490) or c.equals(pyproj.CRS.from_user_input("OGC:CRS84"), ignore_axis_order=True)


def _agrees(chosen: pyproj.CRS | Datum, declared: pyproj.CRS) -> bool:
    """The user's choice says the same as the file's CRS (same CRS, same datum, or GK variants of one zone)."""
    if isinstance(chosen, Datum):
        d = datum_of(declared)
        return d is chosen or (chosen.key == "cgcs2000" and _lonlat_wgs(declared))
    if declared.equals(chosen, ignore_axis_order=True):
        return True
    gc, gd = gk_of(base_crs(chosen).to_epsg()), gk_of(base_crs(declared).to_epsg())
    if gc is not None and gd is not None and gc.datum is gd.datum and gc.cm == gd.cm:
        return True   # the zone-number and CM variants of one zone: the numbers tell which
    return _lonlat_wgs(chosen) and _lonlat_wgs(declared)


def _choice_text(chosen: pyproj.CRS | Datum) -> Text:
    if isinstance(chosen, Datum):
        return Text(f"{chosen.zh}（投影带按数值判断）", f"{chosen.en} (zone told from the numbers)")
    return describe(chosen)


def _conflict(declared: pyproj.CRS, chosen: pyproj.CRS | Datum, source: str) -> CRSConflict:
    was, want = describe(declared), _choice_text(chosen)
    return CRSConflict(problem(
        f"文件自带的坐标系为 {was.zh}，与所选坐标系 {want.zh} 不一致",
        f"the file declares its CRS as {was.en}, which is not the chosen CRS {want.en}",
        "若文件自带的坐标系（.prj、GeoTIFF）有误，勾选上传文件处的“文件自带坐标系有误，改用所选坐标系”"
        "（命令行加 --crs-override）；否则不要选择坐标系（去掉 --crs），按文件自带的坐标系读取",
        "if the file's own CRS (.prj, GeoTIFF) is wrong, tick 'the file's own CRS is wrong: use the chosen one' "
        "under the upload (command line: add --crs-override); otherwise do not choose a CRS (drop --crs) and the "
        "file's own is used", file=source))


def decide_crs(bounds: tuple[float, float, float, float], crs: object | None, *, source: str,
               near: tuple[float, float, float, float] | None = None, assume: object | None = None,
               towgs84: tuple[float, ...] | None = None, on_conflict: OnConflict = "refuse",
               towgs84_old_only: bool = False) -> CrsDecision:
    """Decide the CRS of data with the given extent (shared by vector layers and rasters).

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of all coordinates, in the data's own units.
    crs : object or None
        The CRS the file declares, if any.
    source : str
        File name for messages.
    near : tuple of float, optional
        ``(min lon, min lat, max lon, max lat)`` of the layers already in the workspace. Data that
        lands far from them is reported: as an error naming the probable CRS when another
        Gauss-Kruger zone would put it among them, else as a warning.
    assume : int, str, pyproj.CRS or Datum, optional
        What the user chose on import (see :func:`parse_crs_choice`): a CRS, used instead of
        guessing and checked against the numbers like a declared one; or a datum (``beijing1954``),
        whose lon/lat or zone-prefixed Gauss-Kruger CRS the numbers then select.
    towgs84 : tuple of float, optional
        The bureau's transformation parameters (:func:`layers.datums.parse_towgs84`): the CRS is
        bound to WGS84 with them (:func:`layers.datums.with_towgs84`).
    on_conflict : {'refuse', 'override', 'keep'}
        When ``assume`` differs from the declared CRS: raise :class:`CRSConflict` (default), use
        ``assume`` with a note naming both (the user said the file's own is wrong), or keep the
        declared CRS and report it in :attr:`CrsDecision.conflict`.
    towgs84_old_only : bool
        Apply ``towgs84`` only when the CRS is on an old datum, silently leaving CGCS2000/WGS84
        data alone (a command whose parameters are meant for another of its inputs); by default
        parameters given for CGCS2000/WGS84 data are an error.

    Returns
    -------
    CrsDecision

    Raises
    ------
    CRSError
        When the CRS is missing and cannot be told from the numbers, the declared or chosen CRS
        does not fit the numbers (lon/lat declared but the numbers are metres, or the reverse), a
        Gauss-Kruger CRS puts the data outside China, or another zone's CRS would put data that
        lands far from ``near`` among those layers (a zone number dropped or the wrong zone's
        EPSG); the message names the CRS the numbers probably are in. Also when ``assume`` is not
        a CRS pyproj knows, or ``towgs84`` is given for CGCS2000/WGS84 data.
    CRSConflict
        ``assume`` differs from the declared CRS and ``on_conflict`` is ``"refuse"``.
    """
    finite = all(math.isfinite(v) for v in bounds)
    chosen = parse_crs_choice(assume, source=source) if assume is not None else None
    notes: list[Text] = []
    declared = None
    if crs is not None:
        try:
            declared = identify_crs(crs)
        except pyproj.exceptions.CRSError:
            if chosen is None:
                raise CRSError(problem("文件自带的坐标系无法识别", "the file's own CRS cannot be read",
                                       _FIX_CRS_ZH, _FIX_CRS_EN, file=source)) from None
    used, conflict = False, None
    if chosen is not None and declared is not None:
        if _agrees(chosen, declared):
            used = True
            if isinstance(chosen, Datum):
                chosen = None   # the declared CRS says which zone
        elif on_conflict == "refuse":
            raise _conflict(declared, chosen, source)
        elif on_conflict == "keep":
            was, want = describe(declared), _choice_text(chosen)
            conflict = Text(f"{source}：文件自带的坐标系为 {was.zh}，按文件自带的读取"
                            f"（所选坐标系 {want.zh} 未用于此文件）",
                            f"{source}: the file declares {was.en} and was read in it (the chosen CRS {want.en} "
                            "was not applied to it)", "crs_conflict_kept")
            notes.append(conflict)
            chosen = None
        else:
            was, want = describe(declared), _choice_text(chosen)
            notes.append(Text(f"{source}：文件声明的坐标系为 {was.zh}，已按所选坐标系 {want.zh}读取",
                              f"{source}: the file declares {was.en}; read as the chosen CRS {want.en}",
                              "crs_overridden"))
            declared = None
    elif chosen is not None and crs is not None and declared is None:   # unreadable .prj, the user chose
        notes.append(Text(f"{source}：文件自带的坐标系无法识别，已按所选坐标系 {_choice_text(chosen).zh}读取",
                          f"{source}: the file's own CRS is unreadable; read as the chosen CRS "
                          f"{_choice_text(chosen).en}", "crs_overridden"))
    if chosen is not None:
        used = True
        more: list[_Note]
        if isinstance(chosen, Datum):
            if not finite:
                c, more = pyproj.CRS.from_epsg(chosen.geographic), []
            else:
                c, more = _from_datum(bounds, chosen, source, near)
        else:
            c, more = chosen, []
            if finite:
                c, more = _check_declared(bounds, c, source, chosen=True)
                more = [*more, *_check_place(bounds, c, source, near)]
    elif declared is not None:
        c = declared
        if not (c.is_geographic or c.is_projected):
            kind = "地心" if c.is_geocentric else "高程或其他非平面"
            raise CRSError(problem(
                f"坐标系 {c.name} 是{kind}坐标系，不是平面位置（经纬度或投影）坐标系",
                f"the CRS {c.name} is {'geocentric' if c.is_geocentric else 'vertical or otherwise not horizontal'}"
                ", not a horizontal (lon/lat or projected) CRS", _FIX_CRS_ZH, _FIX_CRS_EN, file=source))
        more = []
        if finite:
            c, more = _check_declared(bounds, c, source)
            more = [*more, *_check_place(bounds, c, source, near)]
    elif not finite:
        c, more = pyproj.CRS.from_user_input(STORAGE_CRS), [
            Text(f"{source}：没有坐标，按 CGCS2000 经纬度（EPSG:4490）处理",
                 f"{source}: no coordinates; taken as CGCS2000 lon/lat (EPSG:4490)", "crs_no_coordinates")]
    else:
        c, more = _guess_crs(bounds, source, near)
        more = [*more, *_check_place(bounds, c, source, near)]
    notes += [m if isinstance(m, Text) else Text(*m) for m in more]
    if towgs84 is not None and (is_old_datum(c) or not towgs84_old_only):
        c = with_towgs84(c, towgs84, source=source)
    return CrsDecision(c, notes, used, conflict)


def resolve_bounds_crs(bounds: tuple[float, float, float, float], crs: object | None, *,
                       source: str, near: tuple[float, float, float, float] | None = None,
                       assume: object | None = None, towgs84: tuple[float, ...] | None = None,
                       on_conflict: OnConflict = "refuse") -> tuple[pyproj.CRS, list[_Note]]:
    """:func:`decide_crs`, returning ``(crs, notes)`` only.

    Returns
    -------
    tuple
        ``(pyproj.CRS, warnings)`` where warnings is a list of :class:`~layers.text.Text`
        (:class:`~layers.text.Text`).
    """
    d = decide_crs(bounds, crs, source=source, near=near, assume=assume, towgs84=towgs84, on_conflict=on_conflict)
    return d.crs, list(d.notes)


def _swapped(bounds: tuple[float, float, float, float], source: str) -> CRSError:
    return CRSError(problem(
        f"没有坐标系信息，且坐标 x、y 像是颠倒了：x 范围 {bounds[0]:.0f}–{bounds[2]:.0f} 像北坐标，"
        f"y 范围 {bounds[1]:.0f}–{bounds[3]:.0f} 像带号的东坐标",
        f"no CRS given and x/y look swapped: x {bounds[0]:.0f}-{bounds[2]:.0f} looks like a northing and "
        f"y {bounds[1]:.0f}-{bounds[3]:.0f} like a zone-prefixed easting",
        "测量坐标中 X 为北坐标、Y 为东坐标；请在 GIS 软件中交换 x、y 后重新导出，或改用表格（X、Y 列）导入",
        "in Chinese survey coordinates X is the northing and Y the easting; swap x and y in your GIS and export "
        "again, or import as a table with X and Y columns", file=source))


def _from_datum(bounds: tuple[float, float, float, float], d: Datum, source: str,
                near: tuple[float, float, float, float] | None) -> tuple[pyproj.CRS, list[_Note]]:
    """The CRS of ``d`` the numbers select: its lon/lat, or the Gauss-Kruger zone their eastings carry."""
    if _looks_lonlat(bounds):
        c = pyproj.CRS.from_epsg(d.geographic)
        return c, _check_place(bounds, c, source, near)
    code = _gk_guess(bounds, d.key)
    if code is not None:
        c = pyproj.CRS.from_epsg(code)
        return c, [Text(f"{source}：横坐标带有带号，按 {describe(c).zh}读取",
                        f"{source}: the eastings carry a zone number; read as {describe(c).en}", "crs_zone_of_datum"),
                   *_check_place(bounds, c, source, near)]
    if _looks_swapped_gk(bounds):
        raise _swapped(bounds, source)
    example = gk_epsg(117, datum=d.key)
    if _looks_gk_no_zone(bounds):
        zh, en = _named(probable_crs(bounds, near, datum=d.key))
        raise CRSError(problem(
            f"坐标范围 {_fmt_bounds(bounds)} 像不带带号的{d.zh}高斯-克吕格投影（米），只选坐标系名称无法确定中央经线"
            + (f"；按工作空间中其他图层的位置，很可能是 {zh}" if zh else ""),
            f"the coordinates {_fmt_bounds(bounds)} look like {d.en} Gauss-Kruger metres without a zone number: "
            "the datum alone does not tell the central meridian"
            + (f"; from where the other layers of the workspace lie, probably {en}" if en else ""),
            f"{_CHOOSE_ZH}{d.zh}中央经线对应的坐标系（如中央经线 117° 为 EPSG:{example}），或提供 .prj 文件",
            f"{_CHOOSE_EN} the {d.en} CRS of the central meridian (e.g. EPSG:{example} for 117E), or supply the "
            ".prj file", file=source))
    raise CRSError(problem(
        f"所选坐标系为{d.zh}，但坐标范围 {_fmt_bounds(bounds)} 既不是经纬度，也不像高斯-克吕格投影坐标",
        f"the chosen datum is {d.en} but the coordinates {_fmt_bounds(bounds)} are neither lon/lat nor "
        "Gauss-Kruger metres", _FIX_CRS_ZH, _FIX_CRS_EN, file=source))


# ---- where the data lands: outside China, or far from the other layers -----------------------

def _lonlat_bounds(bounds: tuple[float, float, float, float], c: pyproj.CRS
                   ) -> tuple[float, float, float, float] | None:
    """``bounds`` in CGCS2000 lon/lat, or None when they do not transform to finite values."""
    if c.is_geographic:
        return bounds if _looks_lonlat(bounds) else None
    try:
        out = _to_lonlat(c.to_wkt()).transform_bounds(*bounds, densify_pts=5)
    except (pyproj.exceptions.ProjError, ValueError):
        return None
    return bounds4(out) if all(math.isfinite(v) for v in out) else None


@functools.lru_cache(maxsize=64)
def _to_lonlat(wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), pyproj.CRS.from_epsg(4490), always_xy=True)


def bounds4(values: Sequence[float]) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` (any sequence of four numbers) as a tuple of four Python floats."""
    minx, miny, maxx, maxy = (float(v) for v in values)
    return minx, miny, maxx, maxy


def _centre(b: tuple[float, float, float, float]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0


def _is_far(ll: tuple[float, float, float, float], near: tuple[float, float, float, float]) -> bool:
    """The data's centre lies outside ``near`` grown by half its size (at least 0.5 degree)."""
    x, y = _centre(ll)
    margin = max(0.5, 0.5 * max(near[2] - near[0], near[3] - near[1]))
    return not (near[0] - margin <= x <= near[2] + margin and near[1] - margin <= y <= near[3] + margin)


def _in_china(ll: tuple[float, float, float, float] | None) -> bool:
    if ll is None:
        return False
    x, y = _centre(ll)
    box = CHINA_LONLAT_BOX
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _is_china_gk(code: int | None) -> bool:
    """A Gauss-Kruger zone of CGCS2000, Beijing 1954 or Xi'an 1980 (valid only over China)."""
    return gk_of(code) is not None


def probable_crs(bounds: tuple[float, float, float, float],
                 near: tuple[float, float, float, float] | None = None, *, datum: str = "cgcs2000") -> list[int]:
    """EPSG codes of the Gauss-Kruger CRSs (of ``datum``, default CGCS2000) the numbers are probably in, best first.

    Parameters
    ----------
    bounds : tuple of float
        Extent of the coordinates as written (metres).
    near : tuple of float, optional
        Lon/lat extent of the other layers; when given, only CRSs that put the data among them.
    datum : str
        A key of :data:`layers.datums.DATUMS`.

    Returns
    -------
    list of int
        Zone-prefixed eastings: that zone's code when it lands in China (and near). Eastings without
        a zone number: the central-meridian codes (3-degree, then 6-degree) that put the data near
        ``near``, closest first; without ``near`` these are not told apart and the list is empty.
        Lon/lat numbers: empty.
    """
    if not all(math.isfinite(v) for v in bounds) or _looks_lonlat(bounds):
        return []
    guess = _gk_guess(bounds, datum)
    if guess is not None:
        codes = [guess]
    elif _looks_gk_no_zone(bounds):
        if near is None:
            return []
        codes = ([gk_epsg(cm, datum=datum) for cm in range(75, 136, 3)]
                 + [gk_epsg(cm, six_degree=True, datum=datum) for cm in range(75, 136, 6)])
    else:
        return []
    found = []
    for code in codes:
        ll = _lonlat_bounds(bounds, pyproj.CRS.from_epsg(code))
        if not _in_china(ll) or (near is not None and _is_far(ll, near)):  # type: ignore[arg-type]
            continue
        x, y = _centre(ll)  # type: ignore[arg-type]
        nx, ny = _centre(near) if near is not None else (x, y)
        found.append((math.hypot(x - nx, y - ny), code))
    return [code for _, code in sorted(found)]


def _named(codes: list[int]) -> Text:
    """' EPSG:4548（CGCS2000 / 3-degree Gauss-Kruger CM 117E）或 …' in both languages."""
    names = [f"EPSG:{c}（{pyproj.CRS.from_epsg(c).name}）" for c in codes[:3]]
    return Text("或 ".join(names), " or ".join(n.replace("（", " (").replace("）", ")") for n in names),
                "crs_candidates")


def _check_place(bounds: tuple[float, float, float, float], c: pyproj.CRS, source: str,
                 near: tuple[float, float, float, float] | None) -> list[_Note]:
    """Refuse (or warn about) data that the CRS puts outside China or far from the other layers."""
    code = base_crs(c).to_epsg()
    datum = (datum_of(c) or DATUMS["cgcs2000"]).key
    ll = _lonlat_bounds(bounds, c)
    where = "" if ll is None else f"{_centre(ll)[0]:.2f}°E, {_centre(ll)[1]:.2f}°N"
    if _is_china_gk(code) and not _in_china(ll):
        zh, en = _named([x for x in probable_crs(bounds, near, datum=datum) if x != code])
        raise CRSError(problem(
            f"按坐标系 {c.name}（EPSG:{code}）换算，数据落在中国境外（{where or '无法换算'}）"
            + (f"；数值很可能是 {zh}" if zh else "，可能是带号或坐标系写错"),
            f"under {c.name} (EPSG:{code}) the data lands outside China ({where or 'does not transform'})"
            + (f"; the numbers are probably in {en}" if en else "; the zone or the CRS is probably wrong"),
            f"核对 .prj 坐标系与带号（横坐标前两位为带号），或{_CHOOSE_ZH}正确的坐标系后重新导入",
            "check the .prj CRS and the zone (the first two digits of an 8-digit easting), or "
            f"{_CHOOSE_EN} the right CRS, and import again", file=source))
    if ll is None and not c.is_geographic:
        raise CRSError(problem(
            f"按坐标系 {c.name} 无法把坐标范围 {_fmt_bounds(bounds)} 换算为经纬度（超出该坐标系的有效范围）",
            f"the coordinates {_fmt_bounds(bounds)} cannot be converted from {c.name} to lon/lat (outside the "
            "area where that CRS is defined)", _FIX_CRS_ZH, _FIX_CRS_EN, file=source))
    if ll is not None and not _in_china(ll) and not _is_china_gk(code):
        return [Text(f"{source}：按坐标系 {c.name} 换算，数据落在中国境外（{where}），请核对坐标和坐标系",
                     f"{source}: under {c.name} the data lands outside China ({where}); check the coordinates and "
                     "the CRS", "outside_china")]
    if near is None or ll is None or not _is_far(ll, near):
        return []
    others = [x for x in probable_crs(bounds, near, datum=datum) if x != code]
    if others and not c.is_geographic:
        zh, en = _named(others)
        raise CRSError(problem(
            f"按坐标系 {c.name}（EPSG:{code}）换算，数据落在 {where}，远离工作空间中的其他图层；"
            f"数值很可能是 {zh}（差了一个投影带，或横坐标丢了带号）",
            f"under {c.name} (EPSG:{code}) the data lands at {where}, far from the other layers of the "
            f"workspace; the numbers are probably in {en} (one zone off, or the zone number dropped)",
            f"更正 .prj 坐标系，或{_CHOOSE_ZH}上述坐标系，然后重新导入",
            f"correct the .prj, or {_CHOOSE_EN} the CRS above, and import again", file=source))
    return [Text(f"{source}：数据落在 {where}，远离工作空间中的其他图层，请核对坐标和坐标系",
                 f"{source}: the data lands at {where}, far from the other layers of the workspace; check the "
                 "coordinates and the CRS", "far_from_layers")]


def _check_declared(bounds: tuple[float, float, float, float], c: pyproj.CRS,
                    source: str, *, chosen: bool = False) -> tuple[pyproj.CRS, list[_Note]]:
    """A declared (or, with ``chosen``, user-chosen) CRS, checked against the numbers (and relabelled
    between GK variants)."""
    if c.is_bound:   # parameters kept through a relabelling
        params = towgs84_of(c)
        out, notes = _check_declared(bounds, base_crs(c), source, chosen=chosen)
        return (c if out.equals(base_crs(c)) or params is None else with_towgs84(out, params)), notes
    name = c.name
    datum = datum_of(c) or DATUMS["cgcs2000"]
    what_zh, what_en = Text("所选坐标系", "the chosen CRS",
                            "the_chosen_crs") if chosen else Text("坐标系", "the CRS", "the_crs")
    if c.is_geographic and not _looks_lonlat(bounds):
        guess = _gk_guess(bounds, datum.key)
        if guess:
            hint_zh = f"，数值像{datum.zh}高斯-克吕格投影 EPSG:{guess}（{pyproj.CRS.from_epsg(guess).name}）"
            hint_en = (f"; the numbers look like {datum.en} Gauss-Kruger EPSG:{guess} "
                       f"({pyproj.CRS.from_epsg(guess).name})")
        elif _looks_gk_no_zone(bounds):
            lo, hi = gk_epsg(75, datum=datum.key), gk_epsg(135, datum=datum.key)
            example = gk_epsg(117, datum=datum.key)
            hint_zh = (f"，数值像不带带号的{datum.zh} 3 度带高斯-克吕格投影（米），应选择数据所在中央经线的坐标系"
                       f"（EPSG:{lo}–{hi}，如中央经线 117° 为 EPSG:{example}）")
            hint_en = (f"; the numbers look like {datum.en} 3-degree Gauss-Kruger metres without a zone number: "
                       f"choose the CRS of the data's central meridian (EPSG:{lo}-{hi}, e.g. EPSG:{example} for 117E)")
        else:
            hint_zh, hint_en = Text("，数值像投影坐标（米）", "; the numbers look like projected metres",
                                    "looks_projected")
        raise CRSError(problem(
            f"{what_zh}为经纬度（{name}），但坐标范围 {_fmt_bounds(bounds)} 超出经纬度取值范围{hint_zh}",
            f"{what_en} is lon/lat ({name}) but the coordinates {_fmt_bounds(bounds)} are out of lon/lat "
            f"range{hint_en}",
            f"{_CHOOSE_ZH}正确的投影坐标系（见上）" if chosen
            else f"核对并更正 .prj 坐标系文件（或{_CHOOSE_ZH}正确的坐标系）",
            f"{_CHOOSE_EN} the right projected CRS (see above)" if chosen
            else f"check and correct the .prj file (or {_CHOOSE_EN} the right CRS)", file=source))
    if c.is_projected and _looks_lonlat(bounds) and max(abs(v) for v in bounds) > 1e-9:
        raise CRSError(problem(
            f"{what_zh}为投影坐标（{name}，单位米），但坐标范围 {_fmt_bounds(bounds)} 像经纬度（度）",
            f"{what_en} is projected ({name}, metres) but the coordinates {_fmt_bounds(bounds)} look like "
            "lon/lat degrees",
            f"{_CHOOSE_ZH}经纬度坐标系（如 CGCS2000 EPSG:4490）" if chosen
            else f"更正 .prj 文件为经纬度坐标系（如 CGCS2000 EPSG:4490），或{_CHOOSE_ZH}经纬度坐标系",
            f"{_CHOOSE_EN} a lon/lat CRS (e.g. CGCS2000 EPSG:4490)" if chosen
            else f"set the .prj to a lon/lat CRS (e.g. CGCS2000 EPSG:4490), or {_CHOOSE_EN} a lon/lat CRS",
            file=source))
    code = c.to_epsg()
    g = gk_of(code)
    if g is not None and not g.prefix:
        # a CM (no zone number) CRS whose eastings nevertheless carry the zone number
        zone = _zone_of(bounds[0], bounds[2])
        if zone is not None:
            if zone != g.zone:
                zh, en = _named(probable_crs(bounds, datum=g.datum.key))
                raise CRSError(problem(
                    f"坐标系为中央经线 {g.cm}° 的高斯-克吕格投影（EPSG:{code}），但横坐标带号为 {zone}，与之不符"
                    + (f"；数值很可能是 {zh}" if zh else ""),
                    f"the CRS is Gauss-Kruger with central meridian {g.cm}E (EPSG:{code}) but the eastings "
                    f"carry zone number {zone}" + (f"; the numbers are probably in {en}" if en else ""),
                    "核对坐标系与带号", "check the CRS and the zone number", file=source))
            fixed = gk_epsg(g.cm, zone_prefix=True, six_degree=g.six, datum=g.datum.key)
            return pyproj.CRS.from_epsg(fixed), [Text(
                f"{source}：坐标系写为 EPSG:{code}（不带带号），但横坐标带有带号 {zone}，已按 EPSG:{fixed} 读取",
                f"{source}: the CRS says EPSG:{code} (no zone number) but the eastings carry zone {zone}; "
                f"read as EPSG:{fixed}", "crs_relabelled")]
    if g is not None and g.prefix:
        zone = _zone_of(bounds[0], bounds[2])
        if zone is None and _looks_gk_no_zone(bounds):
            fixed = gk_epsg(g.cm, six_degree=g.six, datum=g.datum.key)
            return pyproj.CRS.from_epsg(fixed), [Text(
                f"{source}：坐标系写为 EPSG:{code}（带号 {g.zone}），但横坐标不带带号，已按 EPSG:{fixed} 读取",
                f"{source}: the CRS says EPSG:{code} (zone {g.zone}) but the eastings carry no zone number; "
                f"read as EPSG:{fixed}", "crs_relabelled")]
        if zone is not None and zone != g.zone:
            zh, en = _named(probable_crs(bounds, datum=g.datum.key))
            raise CRSError(problem(
                f"坐标系为高斯-克吕格投影第 {g.zone} 带（EPSG:{code}），但横坐标带号为 {zone}"
                + (f"；数值很可能是 {zh}" if zh else ""),
                f"the CRS is Gauss-Kruger zone {g.zone} (EPSG:{code}) but the eastings carry zone {zone}"
                + (f"; the numbers are probably in {en}" if en else ""),
                "核对坐标系与带号", "check the CRS and the zone number", file=source))
    return c, []


def _guess_crs(bounds: tuple[float, float, float, float], source: str,
               near: tuple[float, float, float, float] | None = None) -> tuple[pyproj.CRS, list[_Note]]:
    """The CRS of numbers with no declared CRS: China lon/lat or zone-prefixed GK, else CRSError."""
    if _in_box(bounds, CHINA_LONLAT_BOX):
        return pyproj.CRS.from_user_input(STORAGE_CRS), [Text(
            f"{source}：没有坐标系信息，坐标在中国经纬度范围内，按 CGCS2000 经纬度（EPSG:4490）读取；若来自高德/微信等"
            "（GCJ-02）请选择纠偏",
            f"{source}: no CRS given; the coordinates lie in China's lon/lat range and were read as CGCS2000 "
            "lon/lat (EPSG:4490); if they come from Gaode/AMap or WeChat (GCJ-02), choose the GCJ-02 correction",
            "crs_guessed_lonlat")]
    guess = _gk_guess(bounds)
    if guess is not None:
        c = pyproj.CRS.from_epsg(guess)
        return c, [Text(
            f"{source}：没有坐标系信息，横坐标带有带号，按 {c.name}（EPSG:{guess}）读取；若数据为北京1954 或西安1980 "
            "坐标，请在坐标系中选择（命令行 --crs beijing1954 或 xian1980），否则位置会偏差数十米",
            f"{source}: no CRS given; the eastings carry a zone number and were read as {c.name} (EPSG:{guess}); "
            "if the data are in Beijing 1954 or Xi'an 1980, choose that datum as the CRS (command line: --crs "
            "beijing1954 or xian1980), or positions will be off by tens of metres", "crs_guessed_zone")]
    if _looks_swapped_gk(bounds):
        raise _swapped(bounds, source)
    if _looks_gk_no_zone(bounds):
        zh, en = _named(probable_crs(bounds, near))
        raise CRSError(problem(
            f"没有坐标系信息；坐标范围 {_fmt_bounds(bounds)} 像不带带号的高斯-克吕格投影（米），无法确定中央经线"
            + (f"；按工作空间中其他图层的位置，很可能是 {zh}" if zh else ""),
            f"no CRS given; the coordinates {_fmt_bounds(bounds)} look like Gauss-Kruger metres without a zone "
            "number, so the central meridian is unknown"
            + (f"; from where the other layers of the workspace lie, probably {en}" if en else ""),
            f"{_CHOOSE_ZH}中央经线对应的坐标系（如中央经线 120° 为 EPSG:4549；北京1954 为 EPSG:2437，西安1980 为 "
            "EPSG:2385），或提供 .prj 文件",
            f"{_CHOOSE_EN} the CRS of the central meridian (e.g. EPSG:4549 for central meridian 120E; Beijing 1954 "
            "EPSG:2437, Xi'an 1980 EPSG:2385), or supply the .prj file", file=source))
    raise CRSError(problem(
        f"没有坐标系信息，且坐标范围 {_fmt_bounds(bounds)} 既不是中国范围内的经纬度，也不像高斯-克吕格投影坐标",
        f"no CRS given and the coordinates {_fmt_bounds(bounds)} are neither lon/lat in China nor "
        "Gauss-Kruger metres", _FIX_CRS_ZH, _FIX_CRS_EN, file=source))


def _add_warnings(gdf: gpd.GeoDataFrame, warnings: Sequence[_Note]) -> None:
    if warnings:
        gdf.attrs["warnings"] = [*gdf.attrs.get("warnings", []), *warnings]


def resolve_crs(gdf: gpd.GeoDataFrame, *, source: str,
                near: tuple[float, float, float, float] | None = None,
                assume: object | None = None, towgs84: tuple[float, ...] | None = None,
                on_conflict: OnConflict = "refuse", towgs84_old_only: bool = False) -> gpd.GeoDataFrame:
    """Give a layer a CRS it can be trusted with.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A layer as read, with or without a CRS.
    source : str
        File name used in messages.
    near : tuple of float, optional
        Lon/lat extent of the layers already in the workspace (see :func:`decide_crs`).
    assume : int, str, pyproj.CRS or Datum, optional
        The CRS the user chose on import (``4548``, ``"EPSG:4548"``, anything pyproj takes), or just
        a datum (``"beijing1954"``; see :func:`parse_crs_choice`). Used instead of guessing; a
        declared CRS that differs is a conflict (see ``on_conflict``); still checked against the
        coordinates.
    towgs84 : tuple of float, optional
        The bureau's transformation parameters (see :func:`decide_crs`).
    on_conflict : {'refuse', 'override', 'keep'}
        What a declared CRS that differs from ``assume`` does (see :func:`decide_crs`).
    towgs84_old_only : bool
        See :func:`decide_crs`.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer with its CRS set: the chosen CRS (``assume``) when given; else a declared CRS is
        kept, recognised as its EPSG code when it names one (``.prj`` files naming a Chinese
        Gauss-Kruger zone without a code included), after checking it fits the coordinates. Without
        a CRS: coordinates inside China's lon/lat box give EPSG:4490, zone-prefixed Gauss-Kruger
        eastings give that zone's EPSG; either guess adds a warning (:class:`~layers.text.Text`) to
        ``gdf.attrs["warnings"]``. A CRS the reader only assumed (``gdf.attrs["crs_assumed"]``,
        e.g. EPSG:4490 for a table of degrees) or that the format implies (``crs_implied``: WGS84
        for GeoJSON and KML) is not a declared one: it is replaced by ``assume`` without a
        warning, and without ``assume`` degrees outside China in a table are refused (they may be
        WGS84 abroad, or wrong numbers). ``attrs["crs_chosen_used"]`` says whether the user's
        choice decided (or agreed with) the CRS, ``attrs["crs_conflict"]`` holds the note when a
        conflicting choice was not applied (``on_conflict="keep"``).

    Raises
    ------
    CRSError
        When there is no CRS and the coordinates do not tell it (Gauss-Kruger without a zone
        number needs the central meridian), the declared or chosen CRS does not fit the
        coordinates, an assumed lon/lat CRS puts the data outside China, or ``assume`` is not a CRS.
    CRSConflict
        ``assume`` differs from the declared CRS and ``on_conflict`` is ``"refuse"``.
    """
    bounds = bounds4(gdf.total_bounds) if len(gdf) else (math.nan,) * 4
    assumed = bool(gdf.attrs.get("crs_assumed")) and gdf.crs is not None
    implied = bool(gdf.attrs.get("crs_implied")) and gdf.crs is not None
    if assumed and assume is None and all(math.isfinite(v) for v in bounds) and gdf.crs.is_geographic \
            and _looks_lonlat(bounds) and not _in_china(bounds):
        lon, lat = _centre(bounds)
        raise CRSError(problem(
            f"文件没有坐标系信息，坐标在中国境外（中心约 {lon:.2f}°, {lat:.2f}°，范围 {_fmt_bounds(bounds)}），"
            "无法按 CGCS2000 经纬度读取",
            f"the file gives no CRS and the coordinates lie outside China (centre about {lon:.2f}, {lat:.2f}; "
            f"extent {_fmt_bounds(bounds)}), so they cannot be taken as CGCS2000 lon/lat",
            f"核对经度、纬度列是否填写正确；如确为境外经纬度，请{_CHOOSE_ZH} EPSG:4326（WGS84）",
            "check the longitude and latitude columns; if they really are lon/lat abroad, "
            f"{_CHOOSE_EN} EPSG:4326 (WGS84) as the CRS", file=source))
    declared = None if (assumed or implied) and assume is not None else gdf.crs
    decision = decide_crs(bounds, declared, source=source, near=near, assume=assume, towgs84=towgs84,
                          on_conflict=on_conflict, towgs84_old_only=towgs84_old_only)
    crs = decision.crs
    attrs = dict(gdf.attrs)
    if gdf.crs is None or gdf.crs.to_wkt() != crs.to_wkt():
        gdf = gdf.set_crs(crs, allow_override=True)
        gdf.attrs = attrs
    gdf.attrs["crs_chosen_used"] = decision.chosen_used
    gdf.attrs["crs_conflict"] = decision.conflict
    _add_warnings(gdf, decision.notes)
    return gdf


def metric_crs(bounds_lonlat: Sequence[float]) -> pyproj.CRS:
    """A metric CRS for analysis over an extent given in lon/lat.

    Parameters
    ----------
    bounds_lonlat : tuple of float
        ``(min lon, min lat, max lon, max lat)`` in degrees.

    Returns
    -------
    pyproj.CRS
        Centre inside China's box: the CGCS2000 3-degree Gauss-Kruger "CM" CRS whose central
        meridian is the multiple of 3 nearest the centre (EPSG:4534 for 75E ... EPSG:4554 for
        135E; 119.6E gives EPSG:4549). Elsewhere: the WGS84 UTM zone of the centre
        (EPSG:326xx north, 327xx south).

    Raises
    ------
    ValueError
        When the bounds are not finite lon/lat.
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds_lonlat)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or not _looks_lonlat((minx, miny, maxx, maxy)):
        raise ValueError(f"bounds are not lon/lat degrees: {bounds_lonlat}")
    lon, lat = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    box = CHINA_LONLAT_BOX
    if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]:
        cm = int(min(135, max(75, 3 * round(lon / 3.0))))
        return pyproj.CRS.from_epsg(gk_epsg(cm))
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def to_storage(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject a layer to :data:`layers.settings.STORAGE_CRS` (EPSG:4490).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A layer with a CRS (see :func:`resolve_crs`).

    Returns
    -------
    geopandas.GeoDataFrame
        The layer in EPSG:4490, attrs kept. EPSG:4326 is relabelled only (the two agree to well
        under a metre, the accuracy of the data); a CRS bound to WGS84 by a bureau's parameters is
        transformed to EPSG:4326 with them, then relabelled; other CRSs are transformed (Beijing
        1954 and Xi'an 1980 without parameters keep their latitude and longitude: PROJ's
        "ballpark", off by tens of metres, which :func:`layers.datums.shift_notes` says).

    Raises
    ------
    CRSError
        When the layer has no CRS.
    """
    source = gdf.attrs.get("source", "")
    if gdf.crs is None:
        raise CRSError(problem("图层没有坐标系，无法转换", "the layer has no CRS and cannot be converted",
                               _FIX_CRS_ZH, _FIX_CRS_EN, file=source or None))
    attrs = dict(gdf.attrs)
    target = pyproj.CRS.from_user_input(STORAGE_CRS)
    code = gdf.crs.to_epsg()
    if gdf.crs.is_bound:
        out = gdf.to_crs("EPSG:4326").set_crs(target, allow_override=True)
    elif code == target.to_epsg():
        out = gdf
    elif code == 4326 or gdf.crs.equals(pyproj.CRS.from_user_input("OGC:CRS84")):
        out = gdf.set_crs(target, allow_override=True)
    else:
        out = gdf.to_crs(target)
    out.attrs = attrs
    return out
