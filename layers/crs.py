"""Coordinate reference systems: recognise, guess (with a warning) or refuse; pick a metric CRS.

Offices' data comes in CGCS2000 lon/lat (EPSG:4490, practically WGS84), WGS84 (EPSG:4326), or
CGCS2000 Gauss-Kruger metres: 3-degree zones 25-45 with the zone number in front of the easting
(EPSG:4513-4533), 3-degree "CM" variants without it (EPSG:4534-4554), and, rarely, 6-degree zones
13-23 (EPSG:4491-4501, CM variants EPSG:4502-4512). A ``.prj`` often names these without an EPSG
code; :func:`identify_crs` maps it back to the code.

:func:`resolve_crs` gives a layer its CRS: keeps (and recognises) a declared one after checking it
fits the numbers, guesses EPSG:4490 or a zone-prefixed Gauss-Kruger zone from the numbers alone
(recording a warning), and raises :class:`~layers.errors.CRSError` otherwise.
:func:`metric_crs` chooses the metric CRS for analysis; :func:`to_storage` reprojects to
:data:`layers.settings.STORAGE_CRS`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import geopandas as gpd
import pyproj

from layers.errors import CRSError, problem
from layers.settings import STORAGE_CRS

__all__ = ["resolve_crs", "resolve_bounds_crs", "identify_crs", "parse_user_crs", "metric_crs", "to_storage",
           "gk_epsg", "probable_crs", "bounds4", "CHINA_LONLAT_BOX"]

#: (min lon, min lat, max lon, max lat) of the box that holds China's territory
CHINA_LONLAT_BOX = (73.0, 3.0, 136.0, 54.0)

_GK3_ZONE0, _GK3_CM0 = 4513, 4534     # zone 25 / CM 75E
_GK6_ZONE0, _GK6_CM0 = 4491, 4502     # zone 13 / CM 75E
_GRS80_A, _GRS80_RF = 6378137.0, 298.257222101
_NORTHING_MAX = 6_500_000.0           # metres: north of China's northern tip is about 5.99e6

_Note = tuple[str, str]

#: where a user chooses the CRS: the Data page's box and the command line option
_CHOOSE_ZH = "在数据页的“坐标系 / CRS”选择框（命令行用 --crs EPSG:xxxx）中选择"
_CHOOSE_EN = "in the Data page's 坐标系 / CRS box (command line: --crs EPSG:xxxx) choose"

_FIX_CRS_ZH = (f"{_CHOOSE_ZH}坐标系，如 CGCS2000 经纬度 EPSG:4490、3 度带中央经线 117° 的 EPSG:4548；"
               "或提供带坐标系的 .prj 文件 / 带坐标系的 GeoTIFF")
_FIX_CRS_EN = (f"{_CHOOSE_EN} the CRS, e.g. CGCS2000 lon/lat EPSG:4490 or the 3-degree Gauss-Kruger zone with central "
               "meridian 117E EPSG:4548; or supply the .prj file / a GeoTIFF that carries its CRS")


def gk_epsg(central_meridian: float, *, zone_prefix: bool = False, six_degree: bool = False) -> int:
    """EPSG code of a CGCS2000 Gauss-Kruger CRS.

    Parameters
    ----------
    central_meridian : float
        Central meridian in degrees east (a multiple of 3 from 75 to 135; for 6-degree zones one of
        75, 81, ..., 135).
    zone_prefix : bool
        True for the variant whose false easting carries the zone number (``39 500 000``).
    six_degree : bool
        6-degree zones (EPSG:4491-4512) instead of 3-degree zones (EPSG:4513-4554).

    Returns
    -------
    int
        The EPSG code, e.g. ``gk_epsg(120) == 4549``, ``gk_epsg(117, zone_prefix=True) == 4527``.

    Raises
    ------
    ValueError
        When the meridian is not one of a CGCS2000 Gauss-Kruger zone.
    """
    cm = float(central_meridian)
    if six_degree:
        if cm != int(cm) or (int(cm) - 75) % 6 or not 75 <= cm <= 135:
            raise ValueError(f"no CGCS2000 6-degree Gauss-Kruger zone has central meridian {central_meridian}")
        i = (int(cm) - 75) // 6
        return (_GK6_ZONE0 if zone_prefix else _GK6_CM0) + i
    if cm != int(cm) or int(cm) % 3 or not 75 <= cm <= 135:
        raise ValueError(f"no CGCS2000 3-degree Gauss-Kruger zone has central meridian {central_meridian}")
    i = (int(cm) - 75) // 3
    return (_GK3_ZONE0 if zone_prefix else _GK3_CM0) + i


def _gk_params(crs: pyproj.CRS) -> dict | None:
    """Central meridian, false easting and ellipsoid test of a transverse Mercator CRS, or None."""
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
    ell = crs.ellipsoid
    unit_ok = all((a.unit_name or "").lower() in ("metre", "meter", "m") for a in crs.axis_info)
    if cm is None or not unit_ok:
        return None
    cgcs = (ell is not None and abs(ell.semi_major_metre - _GRS80_A) < 0.01
            and abs((ell.inverse_flattening or 0) - _GRS80_RF) < 1e-6)
    return {"cm": float(cm), "lat0": float(lat0), "k": float(k), "fe": float(fe), "fn": float(fn), "cgcs": cgcs}


def identify_crs(crs: object) -> pyproj.CRS:
    """Recognise a CRS by EPSG code, including ``.prj``/WKT that name CGCS2000 without a code.

    Parameters
    ----------
    crs : object
        Anything :class:`pyproj.CRS` accepts (a WKT string, ``"EPSG:4549"``, a pyproj or rasterio
        CRS).

    Returns
    -------
    pyproj.CRS
        The EPSG CRS when one matches with confidence (the CGCS2000 Gauss-Kruger zones are matched
        on their parameters: transverse Mercator on the CGCS2000/GRS80 ellipsoid, scale 1, latitude
        of origin 0, false easting 500 000 m with or without the zone number); otherwise the CRS
        as given.
    """
    c = pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") and not isinstance(crs, pyproj.CRS)
                                   else crs)
    try:
        code = c.to_epsg(min_confidence=70)
    except pyproj.exceptions.CRSError:  # pragma: no cover - pyproj internals
        code = None
    if code is not None:
        return pyproj.CRS.from_epsg(code)
    p = _gk_params(c)
    if p and p["cgcs"] and p["lat0"] == 0 and abs(p["k"] - 1) < 1e-12 and p["fn"] == 0:
        cm, fe = p["cm"], p["fe"]
        try:
            if fe == 500_000:
                return pyproj.CRS.from_epsg(gk_epsg(cm))
            zone, rest = divmod(fe, 1_000_000)
            if rest == 500_000:
                if 25 <= zone <= 45 and zone * 3 == cm:
                    return pyproj.CRS.from_epsg(gk_epsg(cm, zone_prefix=True))
                if 13 <= zone <= 23 and zone * 6 - 3 == cm:
                    return pyproj.CRS.from_epsg(gk_epsg(cm, zone_prefix=True, six_degree=True))
        except ValueError:
            pass
    if c.is_geographic and c.ellipsoid is not None and abs(c.ellipsoid.semi_major_metre - _GRS80_A) < 0.01 \
            and "2000" in (c.datum.name if c.datum else ""):
        return pyproj.CRS.from_epsg(4490)
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


def _gk_guess(bounds) -> int | None:
    """EPSG code when the numbers look like zone-prefixed CGCS2000 Gauss-Kruger metres."""
    minx, miny, maxx, maxy = bounds
    zone = _zone_of(minx, maxx)
    if zone is None or not (0 <= miny and maxy <= _NORTHING_MAX):
        return None
    if 25 <= zone <= 45:
        return _GK3_ZONE0 + zone - 25
    if 13 <= zone <= 23:
        return _GK6_ZONE0 + zone - 13
    return None


def _looks_gk_no_zone(bounds) -> bool:
    minx, miny, maxx, maxy = bounds
    return 150_000 <= minx and maxx <= 850_000 and 0 <= miny and maxy <= _NORTHING_MAX and (maxy > 1000)


def _looks_swapped_gk(bounds) -> bool:
    """x within northing range and y an easting with a zone number: X/Y read the wrong way round."""
    minx, miny, maxx, maxy = bounds
    zone = _zone_of(miny, maxy)
    return zone is not None and 13 <= zone <= 45 and 0 <= minx and maxx <= _NORTHING_MAX


def _fmt_bounds(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


def parse_user_crs(value: object, *, source: str | None = None) -> pyproj.CRS:
    """The CRS a user chose on import (the Data page's box, ``--crs`` on the command line).

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
            "填写 EPSG 代码，如 EPSG:4490（CGCS2000 经纬度）、EPSG:4326（WGS84）、EPSG:4548（CGCS2000 3 度带中央经线 117°）",
            "give an EPSG code, e.g. EPSG:4490 (CGCS2000 lon/lat), EPSG:4326 (WGS84), EPSG:4548 (CGCS2000 "
            "3-degree Gauss-Kruger CM 117E)", file=source)) from None
    if not (c.is_geographic or c.is_projected):
        raise CRSError(problem(
            f"所选坐标系 {c.name} 不是平面位置（经纬度或投影）坐标系",
            f"the chosen CRS {c.name} is not a horizontal (lon/lat or projected) CRS",
            "选择经纬度或投影坐标系，如 EPSG:4490 或 EPSG:4548",
            "choose a lon/lat or projected CRS, e.g. EPSG:4490 or EPSG:4548", file=source))
    return c


def _label(c: pyproj.CRS) -> str:
    code = c.to_epsg()
    return f"{c.name}（EPSG:{code}）" if code is not None else c.name


def resolve_bounds_crs(bounds: tuple[float, float, float, float], crs: object | None, *,
                       source: str, near: tuple[float, float, float, float] | None = None,
                       assume: object | None = None) -> tuple[pyproj.CRS, list[_Note]]:
    """Decide the CRS of data with the given extent (shared by vector layers and rasters).

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of all coordinates, in the data's own units.
    crs : object or None
        The declared CRS, if any.
    source : str
        File name for messages.
    near : tuple of float, optional
        ``(min lon, min lat, max lon, max lat)`` of the layers already in the workspace. Data that
        lands far from them is reported: as an error naming the probable CRS when another
        Gauss-Kruger zone would put it among them, else as a warning.
    assume : int, str or pyproj.CRS, optional
        The CRS the user chose on import (EPSG code, ``"EPSG:4548"``, or anything pyproj takes; see
        :func:`parse_user_crs`). It is used instead of guessing, and wins over a declared CRS that
        differs (with a warning naming both: a wrong ``.prj`` is common). It is still checked
        against the numbers like a declared CRS.

    Returns
    -------
    tuple
        ``(pyproj.CRS, warnings)`` where warnings is a list of ``(zh, en)`` tuples.

    Raises
    ------
    CRSError
        When the CRS is missing and cannot be told from the numbers, the declared CRS does not
        fit the numbers (lon/lat declared but the numbers are metres, or the reverse), a CGCS2000
        Gauss-Kruger CRS puts the data outside China, or another zone's CRS would put data that
        lands far from ``near`` among those layers (a zone number dropped or the wrong zone's
        EPSG); the message names the CRS the numbers probably are in. Also when ``assume`` is not
        a CRS pyproj knows.
    """
    finite = all(math.isfinite(v) for v in bounds)
    if assume is not None:
        c = parse_user_crs(assume, source=source)
        notes: list[_Note] = []
        if crs is not None:
            try:
                declared = identify_crs(crs)
            except pyproj.exceptions.CRSError:
                declared = None
            if declared is None or not declared.equals(c, ignore_axis_order=True):
                was = _label(declared) if declared is not None else "无法识别"
                was_en = _label(declared).replace("（", " (").replace("）", ")") if declared is not None \
                    else "unreadable"
                notes.append((f"{source}：文件声明的坐标系为 {was}，已按所选坐标系 {_label(c)}读取",
                              f"{source}: the file declares {was_en}; read as the chosen CRS "
                              f"{_label(c).replace('（', ' (').replace('）', ')')}"))
        if not finite:
            return c, notes
        c, more = _check_declared(bounds, c, source, chosen=True)
        return c, [*notes, *more, *_check_place(bounds, c, source, near)]
    if crs is not None:
        c = identify_crs(crs)
        if not (c.is_geographic or c.is_projected):
            kind = "地心" if c.is_geocentric else "高程或其他非平面"
            raise CRSError(problem(
                f"坐标系 {c.name} 是{kind}坐标系，不是平面位置（经纬度或投影）坐标系",
                f"the CRS {c.name} is {'geocentric' if c.is_geocentric else 'vertical or otherwise not horizontal'}"
                ", not a horizontal (lon/lat or projected) CRS", _FIX_CRS_ZH, _FIX_CRS_EN, file=source))
        if not finite:
            return c, []
        c, notes = _check_declared(bounds, c, source)
    elif not finite:
        return pyproj.CRS.from_user_input(STORAGE_CRS), [
            (f"{source}：没有坐标，按 CGCS2000 经纬度（EPSG:4490）处理",
             f"{source}: no coordinates; taken as CGCS2000 lon/lat (EPSG:4490)")]
    else:
        c, notes = _guess_crs(bounds, source, near)
    return c, [*notes, *_check_place(bounds, c, source, near)]


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


def _is_cgcs_gk(code: int | None) -> bool:
    return code is not None and _GK6_ZONE0 <= code <= _GK3_CM0 + 20


def probable_crs(bounds: tuple[float, float, float, float],
                 near: tuple[float, float, float, float] | None = None) -> list[int]:
    """EPSG codes of the CGCS2000 Gauss-Kruger CRSs the numbers are probably in, best first.

    Parameters
    ----------
    bounds : tuple of float
        Extent of the coordinates as written (metres).
    near : tuple of float, optional
        Lon/lat extent of the other layers; when given, only CRSs that put the data among them.

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
    guess = _gk_guess(bounds)
    if guess is not None:
        codes = [guess]
    elif _looks_gk_no_zone(bounds):
        if near is None:
            return []
        codes = [gk_epsg(cm) for cm in range(75, 136, 3)] + [gk_epsg(cm, six_degree=True) for cm in range(75, 136, 6)]
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


def _named(codes: list[int]) -> tuple[str, str]:
    """' EPSG:4548（CGCS2000 / 3-degree Gauss-Kruger CM 117E）或 …' in both languages."""
    names = [f"EPSG:{c}（{pyproj.CRS.from_epsg(c).name}）" for c in codes[:3]]
    return "或 ".join(names), " or ".join(n.replace("（", " (").replace("）", ")") for n in names)


def _check_place(bounds: tuple[float, float, float, float], c: pyproj.CRS, source: str,
                 near: tuple[float, float, float, float] | None) -> list[_Note]:
    """Refuse (or warn about) data that the CRS puts outside China or far from the other layers."""
    code = c.to_epsg()
    ll = _lonlat_bounds(bounds, c)
    where = "" if ll is None else f"{_centre(ll)[0]:.2f}°E, {_centre(ll)[1]:.2f}°N"
    if _is_cgcs_gk(code) and not _in_china(ll):
        zh, en = _named([x for x in probable_crs(bounds, near) if x != code])
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
    if ll is not None and not _in_china(ll) and not _is_cgcs_gk(code):
        return [(f"{source}：按坐标系 {c.name} 换算，数据落在中国境外（{where}），请核对坐标和坐标系",
                 f"{source}: under {c.name} the data lands outside China ({where}); check the coordinates and "
                 "the CRS")]
    if near is None or ll is None or not _is_far(ll, near):
        return []
    others = [x for x in probable_crs(bounds, near) if x != code]
    if others and not c.is_geographic:
        zh, en = _named(others)
        raise CRSError(problem(
            f"按坐标系 {c.name}（EPSG:{code}）换算，数据落在 {where}，远离工作空间中的其他图层；"
            f"数值很可能是 {zh}（差了一个投影带，或横坐标丢了带号）",
            f"under {c.name} (EPSG:{code}) the data lands at {where}, far from the other layers of the "
            f"workspace; the numbers are probably in {en} (one zone off, or the zone number dropped)",
            f"更正 .prj 坐标系，或{_CHOOSE_ZH}上述坐标系，然后重新导入",
            f"correct the .prj, or {_CHOOSE_EN} the CRS above, and import again", file=source))
    return [(f"{source}：数据落在 {where}，远离工作空间中的其他图层，请核对坐标和坐标系",
             f"{source}: the data lands at {where}, far from the other layers of the workspace; check the "
             "coordinates and the CRS")]


def _check_declared(bounds: tuple[float, float, float, float], c: pyproj.CRS,
                    source: str, *, chosen: bool = False) -> tuple[pyproj.CRS, list[_Note]]:
    """A declared (or, with ``chosen``, user-chosen) CRS, checked against the numbers (and relabelled
    between GK variants)."""
    name = c.name
    what_zh, what_en = ("所选坐标系", "the chosen CRS") if chosen else ("坐标系", "the CRS")
    if c.is_geographic and not _looks_lonlat(bounds):
        guess = _gk_guess(bounds)
        if guess:
            hint_zh = f"，数值像 CGCS2000 高斯-克吕格投影 EPSG:{guess}（{pyproj.CRS.from_epsg(guess).name}）"
            hint_en = f"; the numbers look like CGCS2000 Gauss-Kruger EPSG:{guess} ({pyproj.CRS.from_epsg(guess).name})"
        elif _looks_gk_no_zone(bounds):
            hint_zh = ("，数值像不带带号的 CGCS2000 3 度带高斯-克吕格投影（米），应选择数据所在中央经线的坐标系"
                       "（EPSG:4534–4554，如中央经线 117° 为 EPSG:4548）")
            hint_en = ("; the numbers look like CGCS2000 3-degree Gauss-Kruger metres without a zone number: choose "
                       "the CRS of the data's central meridian (EPSG:4534-4554, e.g. EPSG:4548 for 117E)")
        else:
            hint_zh, hint_en = "，数值像投影坐标（米）", "; the numbers look like projected metres"
        raise CRSError(problem(
            f"{what_zh}为经纬度（{name}），但坐标范围 {_fmt_bounds(bounds)} 超出经纬度取值范围{hint_zh}",
            f"{what_en} is lon/lat ({name}) but the coordinates {_fmt_bounds(bounds)} are out of lon/lat "
            f"range{hint_en}",
            f"{_CHOOSE_ZH}正确的投影坐标系（见上）" if chosen else f"核对并更正 .prj 坐标系文件（或{_CHOOSE_ZH}正确的坐标系）",
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
    if code is not None and (_GK3_CM0 <= code <= _GK3_CM0 + 20 or _GK6_CM0 <= code <= _GK6_CM0 + 10):
        # a CM (no zone number) CRS whose eastings nevertheless carry the zone number
        six = code < _GK3_ZONE0
        cm = 75 + (code - (_GK6_CM0 if six else _GK3_CM0)) * (6 if six else 3)
        zone = _zone_of(bounds[0], bounds[2])
        if zone is not None:
            want = (cm + 3) // 6 if six else cm // 3
            if zone != want:
                zh, en = _named(probable_crs(bounds))
                raise CRSError(problem(
                    f"坐标系为中央经线 {cm}° 的高斯-克吕格投影（EPSG:{code}），但横坐标带号为 {zone}，与之不符"
                    + (f"；数值很可能是 {zh}" if zh else ""),
                    f"the CRS is Gauss-Kruger with central meridian {cm}E (EPSG:{code}) but the eastings "
                    f"carry zone number {zone}" + (f"; the numbers are probably in {en}" if en else ""),
                    "核对坐标系与带号", "check the CRS and the zone number", file=source))
            fixed = gk_epsg(cm, zone_prefix=True, six_degree=six)
            return pyproj.CRS.from_epsg(fixed), [(
                f"{source}：坐标系写为 EPSG:{code}（不带带号），但横坐标带有带号 {zone}，已按 EPSG:{fixed} 读取",
                f"{source}: the CRS says EPSG:{code} (no zone number) but the eastings carry zone {zone}; "
                f"read as EPSG:{fixed}")]
    if code is not None and (_GK3_ZONE0 <= code < _GK3_CM0 or _GK6_ZONE0 <= code < _GK6_CM0):
        six = code < _GK3_ZONE0
        declared = code - _GK6_ZONE0 + 13 if six else code - _GK3_ZONE0 + 25
        zone = _zone_of(bounds[0], bounds[2])
        if zone is None and _looks_gk_no_zone(bounds):
            cm = declared * 6 - 3 if six else declared * 3
            fixed = gk_epsg(cm, six_degree=six)
            return pyproj.CRS.from_epsg(fixed), [(
                f"{source}：坐标系写为 EPSG:{code}（带号 {declared}），但横坐标不带带号，已按 EPSG:{fixed} 读取",
                f"{source}: the CRS says EPSG:{code} (zone {declared}) but the eastings carry no zone number; "
                f"read as EPSG:{fixed}")]
        if zone is not None and zone != declared:
            zh, en = _named(probable_crs(bounds))
            raise CRSError(problem(
                f"坐标系为高斯-克吕格投影第 {declared} 带（EPSG:{code}），但横坐标带号为 {zone}"
                + (f"；数值很可能是 {zh}" if zh else ""),
                f"the CRS is Gauss-Kruger zone {declared} (EPSG:{code}) but the eastings carry zone {zone}"
                + (f"; the numbers are probably in {en}" if en else ""),
                "核对坐标系与带号", "check the CRS and the zone number", file=source))
    return c, []


def _guess_crs(bounds: tuple[float, float, float, float], source: str,
               near: tuple[float, float, float, float] | None = None) -> tuple[pyproj.CRS, list[_Note]]:
    """The CRS of numbers with no declared CRS: China lon/lat or zone-prefixed GK, else CRSError."""
    if _in_box(bounds, CHINA_LONLAT_BOX):
        return pyproj.CRS.from_user_input(STORAGE_CRS), [(
            f"{source}：没有坐标系信息，坐标在中国经纬度范围内，按 CGCS2000 经纬度（EPSG:4490）读取；若来自高德/微信等"
            "（GCJ-02）请选择纠偏",
            f"{source}: no CRS given; the coordinates lie in China's lon/lat range and were read as CGCS2000 "
            "lon/lat (EPSG:4490); if they come from Gaode/AMap or WeChat (GCJ-02), choose the GCJ-02 correction")]
    guess = _gk_guess(bounds)
    if guess is not None:
        c = pyproj.CRS.from_epsg(guess)
        return c, [(
            f"{source}：没有坐标系信息，横坐标带有带号，按 {c.name}（EPSG:{guess}）读取",
            f"{source}: no CRS given; the eastings carry a zone number and were read as {c.name} (EPSG:{guess})")]
    if _looks_swapped_gk(bounds):
        raise CRSError(problem(
            f"没有坐标系信息，且坐标 x、y 像是颠倒了：x 范围 {bounds[0]:.0f}–{bounds[2]:.0f} 像北坐标，"
            f"y 范围 {bounds[1]:.0f}–{bounds[3]:.0f} 像带号的东坐标",
            f"no CRS given and x/y look swapped: x {bounds[0]:.0f}-{bounds[2]:.0f} looks like a northing and "
            f"y {bounds[1]:.0f}-{bounds[3]:.0f} like a zone-prefixed easting",
            "测量坐标中 X 为北坐标、Y 为东坐标；请在 GIS 软件中交换 x、y 后重新导出，或改用表格（X、Y 列）导入",
            "in Chinese survey coordinates X is the northing and Y the easting; swap x and y in your GIS and export "
            "again, or import as a table with X and Y columns", file=source))
    if _looks_gk_no_zone(bounds):
        zh, en = _named(probable_crs(bounds, near))
        raise CRSError(problem(
            f"没有坐标系信息；坐标范围 {_fmt_bounds(bounds)} 像不带带号的高斯-克吕格投影（米），无法确定中央经线"
            + (f"；按工作空间中其他图层的位置，很可能是 {zh}" if zh else ""),
            f"no CRS given; the coordinates {_fmt_bounds(bounds)} look like Gauss-Kruger metres without a zone "
            "number, so the central meridian is unknown"
            + (f"; from where the other layers of the workspace lie, probably {en}" if en else ""),
            f"{_CHOOSE_ZH}中央经线对应的坐标系（如中央经线 120° 为 EPSG:4549），或提供 .prj 文件",
            f"{_CHOOSE_EN} the CRS of the central meridian (e.g. EPSG:4549 for central meridian 120E), or "
            "supply the .prj file", file=source))
    raise CRSError(problem(
        f"没有坐标系信息，且坐标范围 {_fmt_bounds(bounds)} 既不是中国范围内的经纬度，也不像高斯-克吕格投影坐标",
        f"no CRS given and the coordinates {_fmt_bounds(bounds)} are neither lon/lat in China nor "
        "Gauss-Kruger metres", _FIX_CRS_ZH, _FIX_CRS_EN, file=source))


def _add_warnings(gdf: gpd.GeoDataFrame, warnings: list[_Note]) -> None:
    if warnings:
        gdf.attrs["warnings"] = [*gdf.attrs.get("warnings", []), *warnings]


def resolve_crs(gdf: gpd.GeoDataFrame, *, source: str,
                near: tuple[float, float, float, float] | None = None,
                assume: object | None = None) -> gpd.GeoDataFrame:
    """Give a layer a CRS it can be trusted with.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A layer as read, with or without a CRS.
    source : str
        File name used in messages.
    near : tuple of float, optional
        Lon/lat extent of the layers already in the workspace (see :func:`resolve_bounds_crs`).
    assume : int, str or pyproj.CRS, optional
        The CRS the user chose on import (``4548``, ``"EPSG:4548"``, anything pyproj takes). Used
        instead of guessing; wins over a declared CRS that differs, with a warning naming both;
        still checked against the coordinates.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer with its CRS set: the chosen CRS (``assume``) when given; else a declared CRS is kept, recognised as its EPSG code when it
        names one (``.prj`` files naming CGCS2000 Gauss-Kruger without a code included), after
        checking it fits the coordinates. Without a CRS: coordinates inside China's lon/lat box
        give EPSG:4490, zone-prefixed Gauss-Kruger eastings give that zone's EPSG; either guess adds
        a ``(zh, en)`` warning to ``gdf.attrs["warnings"]``. A CRS the reader only assumed
        (``gdf.attrs["crs_assumed"]``, e.g. EPSG:4490 for a table of degrees) is not a declared one:
        it is replaced by ``assume`` without a warning, and without ``assume`` degrees outside China
        are refused (they may be WGS84 abroad, or wrong numbers).

    Raises
    ------
    CRSError
        When there is no CRS and the coordinates do not tell it (Gauss-Kruger without a zone
        number needs the central meridian), the declared or chosen CRS does not fit the
        coordinates, an assumed lon/lat CRS puts the data outside China, or ``assume`` is not a CRS.
    """
    bounds = bounds4(gdf.total_bounds) if len(gdf) else (math.nan,) * 4
    assumed = bool(gdf.attrs.get("crs_assumed")) and gdf.crs is not None
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
    declared = None if assumed and assume is not None else gdf.crs
    crs, warnings = resolve_bounds_crs(bounds, declared, source=source, near=near, assume=assume)
    attrs = dict(gdf.attrs)
    if gdf.crs is None or gdf.crs.to_wkt() != crs.to_wkt():
        gdf = gdf.set_crs(crs, allow_override=True)
        gdf.attrs = attrs
    _add_warnings(gdf, warnings)
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
        under a metre, the accuracy of the data); other CRSs are transformed.

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
    if code == target.to_epsg():
        out = gdf
    elif code == 4326 or gdf.crs.equals(pyproj.CRS.from_user_input("OGC:CRS84")):
        out = gdf.set_crs(target, allow_override=True)
    else:
        out = gdf.to_crs(target)
    out.attrs = attrs
    return out

