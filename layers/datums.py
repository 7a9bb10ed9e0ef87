"""China's geodetic datums and their Gauss-Kruger zones: CGCS2000, Beijing 1954 and Xi'an 1980.

Most older survey data and many DEMs are in Beijing 1954 (Krassowsky ellipsoid) or Xi'an 1980
(IAG 1975 ellipsoid), as lon/lat or as Gauss-Kruger metres in 3-degree or 6-degree zones, with the
zone number in front of the easting ("zone" variants) or without it ("CM" variants). Their EPSG
codes follow one pattern per datum (checked against pyproj in ``tests/test_datums.py``):

============  =======  ===================  ===========  ==================  ===========
datum         lon/lat  3-degree zone 25-45  3-degree CM  6-degree zone 13-23 6-degree CM
============  =======  ===================  ===========  ==================  ===========
CGCS2000      4490     4513-4533            4534-4554    4491-4501           4502-4512
Beijing 1954  4214     2401-2421            2422-2442    21413-21423         21453-21463
Xi'an 1980    4610     2349-2369            2370-2390    2327-2337           2338-2348
============  =======  ===================  ===========  ==================  ===========

(CM variants run from central meridian 75E to 135E, every 3 or 6 degrees.)

Converting Beijing 1954 or Xi'an 1980 to CGCS2000 needs local transformation parameters, which
surveying bureaus hand out per area: PROJ has none for the mainland and only keeps the latitude and
longitude ("ballpark"), which leaves positions off by tens of metres (up to about 100 m). A bureau's
7-parameter (or 3-parameter) set is applied with :func:`with_towgs84`: PROJ's ``+towgs84``
convention, i.e. translations in metres, rotations in arc-seconds as *position vector*
(EPSG:9606), scale difference in parts per million. A set given in the *coordinate frame*
convention (EPSG:9607, some software's default) has its three rotations negated.

:func:`describe` names a CRS the way offices say it ("北京1954 3° 高斯-克吕格 第 39 带" /
"Beijing 1954, 3° Gauss-Kruger zone 39").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pyproj
from pyproj.crs import BoundCRS
from pyproj.crs.coordinate_operation import ToWGS84Transformation

from layers.errors import CRSError, problem
from layers.text import Text

__all__ = ["Datum", "DATUMS", "GK", "gk_code", "gk_of", "gk_codes", "datum_of", "datum_word", "describe",
           "is_old_datum", "parse_towgs84", "with_towgs84", "towgs84_of", "base_crs", "shift_notes",
           "TOWGS84_HELP"]


@dataclass(frozen=True)
class Datum:
    """One of China's geodetic datums, with the first EPSG code of each family of its CRSs.

    Attributes
    ----------
    key : str
        ``"cgcs2000"``, ``"beijing1954"`` or ``"xian1980"``.
    zh, en : str
        Its name for people.
    geographic : int
        EPSG code of its lon/lat CRS.
    gk3_zone, gk3_cm, gk6_zone, gk6_cm : int
        EPSG code of the first 3-degree zone (25) with the zone number in the easting, of the first
        3-degree "CM" variant (75E), of the first 6-degree zone (13) and of the first 6-degree CM
        variant (75E).
    a, rf : float
        Semi-major axis (m) and inverse flattening of its ellipsoid.
    words : tuple of str
        What users type for it (``--crs beijing1954``, ``北京54``...), normalised.
    """

    key: str
    zh: str
    en: str
    geographic: int
    gk3_zone: int
    gk3_cm: int
    gk6_zone: int
    gk6_cm: int
    a: float
    rf: float
    words: tuple[str, ...]

    @property
    def name(self) -> Text:
        """The datum's name in both languages."""
        return Text(self.zh, self.en, f"datum_{self.key}")


DATUMS: dict[str, Datum] = {d.key: d for d in (
    Datum("cgcs2000", "CGCS2000", "CGCS2000", 4490, 4513, 4534, 4491, 4502, 6378137.0, 298.257222101,
          ("cgcs2000", "cgcs", "国家2000", "2000国家大地坐标系", "国家大地坐标系2000", "中国2000")),
    Datum("beijing1954", "北京1954", "Beijing 1954", 4214, 2401, 2422, 21413, 21453, 6378245.0, 298.3,
          ("beijing1954", "beijing54", "bj54", "bj1954", "北京1954", "北京54", "北京五四", "54坐标系",
           "1954北京坐标系", "北京1954坐标系")),
    Datum("xian1980", "西安1980", "Xi'an 1980", 4610, 2349, 2370, 2327, 2338, 6378140.0, 298.257,
          ("xian1980", "xian80", "xa80", "xa1980", "西安1980", "西安80", "西安八零", "80坐标系",
           "1980西安坐标系", "西安1980坐标系")),
)}

#: what ``--towgs84`` takes, for help texts
TOWGS84_HELP = ("dx,dy,dz[,rx,ry,rz,s]: the 3 or 7 parameters from the surveying bureau (metres; rotations in "
                "arc-seconds, position vector / PROJ +towgs84 convention; scale in ppm) / 测绘部门提供的三参数或七参数"
                "（平移单位米，旋转单位角秒，按位置矢量即 PROJ +towgs84 约定，尺度单位 ppm）")


@dataclass(frozen=True)
class GK:
    """What an EPSG code of a Gauss-Kruger CRS of one of :data:`DATUMS` says.

    Attributes
    ----------
    datum : Datum
    six : bool
        6-degree zones (else 3-degree).
    prefix : bool
        The easting carries the zone number (``39 500 000``).
    cm : int
        Central meridian, degrees east.
    zone : int
        Zone number (3-degree: ``cm / 3``; 6-degree: ``(cm + 3) / 6``).
    code : int
        The EPSG code.
    """

    datum: Datum
    six: bool
    prefix: bool
    cm: int
    zone: int
    code: int


def gk_code(central_meridian: float, *, zone_prefix: bool = False, six_degree: bool = False,
            datum: str = "cgcs2000") -> int:
    """EPSG code of a Gauss-Kruger CRS of ``datum``.

    Parameters
    ----------
    central_meridian : float
        Degrees east: a multiple of 3 from 75 to 135 (6-degree zones: 75, 81, ..., 135).
    zone_prefix : bool
        The variant whose false easting carries the zone number.
    six_degree : bool
        6-degree zones instead of 3-degree ones.
    datum : str
        A key of :data:`DATUMS`.

    Returns
    -------
    int
        E.g. ``gk_code(117, zone_prefix=True, datum="beijing1954") == 2415``.

    Raises
    ------
    ValueError
        When no zone of that datum has this central meridian.
    """
    d = DATUMS[datum]
    cm = float(central_meridian)
    step = 6 if six_degree else 3
    if cm != int(cm) or (int(cm) - 75) % step or not 75 <= cm <= 135:
        raise ValueError(f"no {d.en} {step}-degree Gauss-Kruger zone has central meridian {central_meridian}")
    i = (int(cm) - 75) // step
    if six_degree:
        return (d.gk6_zone if zone_prefix else d.gk6_cm) + i
    return (d.gk3_zone if zone_prefix else d.gk3_cm) + i


def _gk_table() -> dict[int, GK]:
    out: dict[int, GK] = {}
    for d in DATUMS.values():
        for six, step in ((False, 3), (True, 6)):
            for prefix in (False, True):
                for cm in range(75, 136, step):
                    code = gk_code(cm, zone_prefix=prefix, six_degree=six, datum=d.key)
                    out[code] = GK(d, six, prefix, cm, (cm + 3) // 6 if six else cm // 3, code)
    return out


_GK_BY_CODE = _gk_table()


def gk_of(code: int | None) -> GK | None:
    """The Gauss-Kruger zone an EPSG code names, or None when it is none of :data:`DATUMS`' zones."""
    return None if code is None else _GK_BY_CODE.get(int(code))


def gk_codes(*, datum: str | None = None, six: bool | None = None, prefix: bool | None = None) -> list[GK]:
    """Every Gauss-Kruger zone of :data:`DATUMS` (filtered), in table order."""
    return [g for g in _GK_BY_CODE.values() if (datum is None or g.datum.key == datum)
            and (six is None or g.six == six) and (prefix is None or g.prefix == prefix)]


def _ellipsoid_datum(crs: pyproj.CRS) -> Datum | None:
    ell = crs.ellipsoid
    if ell is None:
        return None
    for d in DATUMS.values():
        if abs(ell.semi_major_metre - d.a) < 0.01 and abs((ell.inverse_flattening or 0.0) - d.rf) < 1e-6:
            return d
    return None


def datum_of(crs: object) -> Datum | None:
    """Which of :data:`DATUMS` a CRS is on, or None (WGS84, UTM, other datums).

    Parameters
    ----------
    crs : object
        Anything :class:`pyproj.CRS` accepts; a bound CRS (with ``+towgs84``) counts as its source.

    Returns
    -------
    Datum or None
        By EPSG code when the CRS is one of the table's, else by ellipsoid: Krassowsky is Beijing
        1954 and IAG 1975 Xi'an 1980 (unless the datum is named as another country's, e.g. Pulkovo
        1942); GRS80 is CGCS2000 only when the datum's name says so.
    """
    c = base_crs(crs)
    code = c.to_epsg(min_confidence=100) if c.is_geographic or c.is_projected else None
    for known in DATUMS.values():
        if code == known.geographic:
            return known
    g = gk_of(code)
    if g is not None:
        return g.datum
    d = _ellipsoid_datum(c)
    if d is None:
        return None
    name = re.sub(r"[\s_'\-]", "", (c.datum.name if c.datum else "").lower())
    if d.key == "cgcs2000":   # GRS80 is also NAD83, ETRS89, GDA94...: the name must say China
        return d if any(h in name for h in ("2000", "cgcs", "china")) or "unknown" in name else None
    # in Chinese data the Krassowsky ellipsoid is Beijing 1954 and IAG 1975 is Xi'an 1980, whatever the
    # datum is called ("D_Beijing_1954", "my_datum"), unless the name says another country's datum
    return None if any(w in name for w in ("pulkovo", "s42", "s1942", "hungarian", "dealul")) else d


def is_old_datum(crs: object) -> bool:
    """True for a CRS on Beijing 1954 or Xi'an 1980 (a datum that needs a shift to reach CGCS2000)."""
    d = datum_of(crs)
    return d is not None and d.key != "cgcs2000"


def datum_word(value: object) -> Datum | None:
    """The datum a user named in words (``beijing1954``, ``BJ54``, ``北京1954``, ``西安80``...), else None.

    A bare EPSG code or a PROJ/WKT string is not a datum word.
    """
    text = re.sub(r"[\s_\-'’./·:：（）()]", "", unicodedata.normalize("NFKC", str(value)).lower())
    if not text or text.isdigit():
        return None
    text = text.removesuffix("datum")
    for d in DATUMS.values():
        if text in d.words or text == d.key:
            return d
    return None


def base_crs(crs: object) -> pyproj.CRS:
    """``crs`` as a :class:`pyproj.CRS`, the source CRS of a bound (``+towgs84``) one."""
    c = crs if isinstance(crs, pyproj.CRS) else pyproj.CRS.from_user_input(
        crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    return c.source_crs if c.is_bound and c.source_crs is not None else c


def towgs84_of(crs: object) -> tuple[float, ...] | None:
    """The ``+towgs84`` parameters a bound CRS carries (7 values), or None."""
    c = crs if isinstance(crs, pyproj.CRS) else pyproj.CRS.from_user_input(
        crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    if not c.is_bound or c.coordinate_operation is None:
        return None
    return tuple(float(p.value) for p in c.coordinate_operation.params)


def _code_text(code: int | None) -> Text:
    return Text(f"（EPSG:{code}）", f" (EPSG:{code})", "epsg_code") if code is not None else Text("", "")


def describe(crs: object, *, detail: bool = False) -> Text:
    """A CRS named as offices say it, in both languages.

    Parameters
    ----------
    crs : object
        Anything :class:`pyproj.CRS` accepts.
    detail : bool
        For zone variants, also say that the easting carries the zone number and give the central
        meridian (the 坐标系 / CRS box under an upload).

    Returns
    -------
    Text
        ``北京1954 3° 高斯-克吕格 第 39 带（EPSG:2415）`` / ``Beijing 1954, 3° Gauss-Kruger zone 39
        (EPSG:2415)``; ``CGCS2000 3° 高斯-克吕格 中央经线 117°（EPSG:4548）``; ``西安1980 经纬度
        （EPSG:4610）``; other CRSs by their name and code. With ``+towgs84`` parameters, says so.
    """
    c = base_crs(crs)
    code = c.to_epsg(min_confidence=100) if (c.is_geographic or c.is_projected) else None
    czh, cen = _code_text(code)
    g = gk_of(code)
    d = datum_of(c)
    if g is not None:
        deg = "6°" if g.six else "3°"
        if g.prefix:
            zh = f"{g.datum.zh} {deg} 高斯-克吕格 第 {g.zone} 带"
            en = f"{g.datum.en}, {deg} Gauss-Kruger zone {g.zone}"
            if detail:
                zh += f"，横坐标带带号，中央经线 {g.cm}°"
                en += f", zone number in the easting, CM {g.cm}E"
        else:
            zh = f"{g.datum.zh} {deg} 高斯-克吕格 中央经线 {g.cm}°"
            en = f"{g.datum.en}, {deg} Gauss-Kruger CM {g.cm}E"
        out = Text(zh + czh, en + cen, "crs_name")
    elif d is not None and c.is_geographic:
        out = Text(f"{d.zh} 经纬度{czh}", f"{d.en} lon/lat{cen}", "crs_name")
    elif code == 4326:
        out = Text(f"WGS84 经纬度{czh}", f"WGS84 lon/lat{cen}", "crs_name")
    elif d is not None:
        out = Text(f"{d.zh} {c.name}{czh}", f"{d.en} {c.name}{cen}", "crs_name")
    else:
        out = Text(f"{c.name}{czh}", f"{c.name}{cen}", "crs_name")
    params = towgs84_of(crs)
    if params is not None:
        shown = ", ".join(f"{v:g}" for v in params)
        out = out + Text(f"，转换参数 {shown}", f", with transformation parameters {shown}")
    return out


# ---- the bureau's transformation parameters ------------------------------------------------------

_TOWGS84_FIX = Text("给出 3 个（dx,dy,dz，米）或 7 个（dx,dy,dz,rx,ry,rz,s：平移米、旋转角秒、尺度 ppm）数，"
                    "用逗号分隔，如 --towgs84 15.8,-154.4,-82.3",
                    "give 3 numbers (dx,dy,dz in metres) or 7 (dx,dy,dz,rx,ry,rz,s: metres, arc-seconds, ppm), "
                    "comma-separated, e.g. --towgs84 15.8,-154.4,-82.3")


def parse_towgs84(value: str | Iterable[object], *, source: str | None = None) -> tuple[float, ...]:
    """The 3 or 7 transformation parameters a user typed, as 7 values.

    Parameters
    ----------
    value : str or sequence of float
        ``"dx,dy,dz"`` or ``"dx,dy,dz,rx,ry,rz,s"`` (commas, full-width commas, semicolons or spaces),
        or the numbers themselves.
    source : str, optional
        What messages name (the option or the file).

    Returns
    -------
    tuple of float
        ``(dx, dy, dz, rx, ry, rz, s)``; a 3-parameter set gets zero rotations and scale.

    Raises
    ------
    CRSError
        Not 3 or 7 numbers, a value that is not a finite number, or values no datum shift has
        (translations over 10 km, rotations over 3 600″, scale over 10 000 ppm: wrong units).
    """
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,，;；\s]+", unicodedata.normalize("NFKC", value).strip()) if p]
    else:
        parts = [str(v) for v in value]
    shown = str(value)[:120]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (3, 7) or not all(math.isfinite(v) for v in nums):
        raise CRSError(problem(
            f"转换参数“{shown}”应为 3 个或 7 个数，收到 {len(parts)} 个" if nums or not parts
            else f"转换参数“{shown}”中有不是数字的值",
            f"the transformation parameters '{shown}' must be 3 or 7 numbers, got {len(parts)}" if nums or not parts
            else f"the transformation parameters '{shown}' hold a value that is not a number",
            _TOWGS84_FIX.zh, _TOWGS84_FIX.en, file=source, field="towgs84"))
    if len(nums) == 3:
        nums += [0.0, 0.0, 0.0, 0.0]
    if max(abs(v) for v in nums[:3]) > 10_000 or max(abs(v) for v in nums[3:6]) > 3_600 or abs(nums[6]) > 10_000:
        raise CRSError(problem(
            f"转换参数“{shown}”超出坐标转换的合理范围（平移应小于 10 km，旋转小于 3600″，尺度小于 10000 ppm）",
            f"the transformation parameters '{shown}' are out of range for a datum shift (translations under "
            "10 km, rotations under 3600 arc-seconds, scale under 10000 ppm)",
            "核对单位：平移为米、旋转为角秒、尺度为 ppm（百万分之一）",
            "check the units: metres, arc-seconds and ppm (parts per million)", file=source, field="towgs84"))
    return tuple(nums)


def with_towgs84(crs: object, params: tuple[float, ...], *, source: str | None = None) -> pyproj.CRS:
    """``crs`` bound to WGS84/CGCS2000 by the bureau's parameters (PROJ ``+towgs84``).

    Parameters
    ----------
    crs : object
        A CRS on Beijing 1954 or Xi'an 1980 (or another datum that is not CGCS2000/WGS84).
    params : tuple of float
        As :func:`parse_towgs84` returns.
    source : str, optional
        File name for messages.

    Returns
    -------
    pyproj.CRS
        A bound CRS: transforming it to EPSG:4326 applies the parameters (transforms to other CRSs
        do not: go through EPSG:4326, as :func:`layers.crs.to_storage` does).

    Raises
    ------
    CRSError
        When ``crs`` is already on CGCS2000 or WGS84, which need no parameters.
    """
    c = base_crs(crs)
    d = datum_of(c)
    wgs = c.ellipsoid is not None and abs(c.ellipsoid.semi_major_metre - 6378137.0) < 0.01
    if (d is not None and d.key == "cgcs2000") or (d is None and wgs):
        raise CRSError(problem(
            f"坐标系为 {describe(c).zh}，已是 CGCS2000/WGS84，不需要转换参数（--towgs84）",
            f"the CRS is {describe(c).en}, already CGCS2000/WGS84: it takes no transformation parameters "
            "(--towgs84)",
            "转换参数只用于北京1954、西安1980 等旧坐标系的数据；去掉 --towgs84，或选择数据真正的坐标系",
            "the parameters are for Beijing 1954, Xi'an 1980 and other old datums: drop --towgs84, or choose the "
            "data's real CRS", file=source, field="towgs84"))
    return BoundCRS(source_crs=c, target_crs="EPSG:4326",
                    transformation=ToWGS84Transformation(c.geodetic_crs, *params))


def shift_notes(crs: object, source: str) -> list[Text]:
    """What converting ``crs`` to CGCS2000 does to positions, when it is on an old datum.

    Returns
    -------
    list of Text
        Empty for CGCS2000/WGS84 data. For Beijing 1954 / Xi'an 1980 without parameters: positions
        may be off by tens of metres, give the bureau's parameters. With parameters: which were
        used.
    """
    d = datum_of(crs)
    if d is None or d.key == "cgcs2000":
        return []
    name = describe(base_crs(crs))
    params = towgs84_of(crs)
    if params is not None:
        shown = ", ".join(f"{v:g}" for v in params)
        return [Text(f"{source}：{name.zh}，已按给出的转换参数（{shown}）转换为 CGCS2000",
                     f"{source}: {name.en}; converted to CGCS2000 with the given parameters ({shown})",
                     "datum_shift_params")]
    return [Text(f"{source}：坐标系为 {name.zh}；没有当地转换参数（七参数或三参数），只能按经纬度不变换算到 CGCS2000，"
                 "位置可能偏差数十米。如有测绘部门提供的参数，在上传文件处的“转换参数”中填写"
                 "（命令行 --towgs84 dx,dy,dz,rx,ry,rz,s）",
                 f"{source}: the CRS is {name.en}; without local transformation parameters (a 7- or 3-parameter set) "
                 "it can only be converted to CGCS2000 keeping latitude and longitude, so positions may be off by "
                 "tens of metres. If the surveying bureau gave you parameters, enter them in the transformation "
                 "parameters under the upload (command line: --towgs84 dx,dy,dz,rx,ry,rz,s)", "datum_shift_unknown")]
