"""Coordinate values as offices write them, and the GCJ-02 offset.

:func:`parse_coordinate` turns one cell into a float: numbers, numeric strings, full-width digits
(``１１９．５``), degree-minute-second strings in the usual spellings (``119°30'15.5"``,
``119°30′15.5″E``, ``119度30分15.5秒``, ``E119°30.258'``, ``119:30:15.5``, ``N28°24'``) and
hemisphere letters or words (``S``/``W``/``南纬``/``西经`` make the value negative).

:func:`gcj02_to_wgs84` and :func:`wgs84_to_gcj02` convert between WGS84 and the GCJ-02 offset used by
Gaode/AMap, Tencent and WeChat location picks (a few hundred metres in China, nothing outside it);
:func:`gcj02_to_bd09` and :func:`bd09_to_gcj02` between GCJ-02 and Baidu's BD-09, which adds a
further offset of about a kilometre to GCJ-02 (Baidu's published formula forward, its exact inverse by
iteration); :func:`convert_gcj02` and :func:`convert_bd09` move every vertex of a GeoDataFrame to
WGS84/CGCS2000.
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from numbers import Real

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["parse_coordinate", "gcj02_to_wgs84", "wgs84_to_gcj02", "convert_gcj02", "gcj02_to_bd09", "bd09_to_gcj02",
           "bd09_to_wgs84", "convert_bd09", "convert_offset"]

# ---- parse_coordinate ------------------------------------------------------------------------

# characters replaced before NFKC (which would turn some of them into letters or spaces)
_PRE = str.maketrans({
    "º": "°", "˚": "°", "゜": "°", "⁰": "°",
    "′": "'", "’": "'", "‘": "'", "´": "'", "`": "'", "‵": "'",
    "″": '"', "”": '"', "“": '"', "〃": '"', "‶": '"',
    "。": ".", "，": ",", "－": "-", "−": "-", "—": "-",
})
_HEMI_WORDS = {"东经": 1, "西经": -1, "北纬": 1, "南纬": -1, "东": 1, "西": -1, "北": 1, "南": -1}
_LEAD_HEMI = re.compile(r"^(东经|西经|北纬|南纬|东|西|北|南|[NSEW])\s*", re.IGNORECASE)
_TRAIL_HEMI = re.compile(r"\s*(东经|西经|北纬|南纬|东|西|北|南|[NSEW])$", re.IGNORECASE)
_PLAIN = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_TOKEN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(°|度|''|\"|'|分|秒|[dDmMsS](?![a-zA-Z]))?")
_UNIT = {"°": 0, "度": 0, "d": 0, "D": 0, "'": 1, "分": 1, "m": 1, "M": 1,
         '"': 2, "''": 2, "秒": 2, "s": 2, "S": 2}


def parse_coordinate(value: object) -> float:
    """Parse one coordinate value as written in a spreadsheet or text file.

    Parameters
    ----------
    value : object
        A number, or a string: decimal (``"119.5"``, ``"１１９．５"``, ``"3,100,000.5"``), or
        degrees-minutes-seconds in any common spelling (``119°30'15.5"``, ``119°30′15.5″E``,
        ``119度30分15.5秒``, ``E119°30.258'``, ``119:30:15.5``, ``119 30 15.5``, ``N28°24'``,
        ``119d30m15.5s``), with an optional hemisphere letter or word before or after
        (``S``, ``W``, ``南纬``, ``西经`` give a negative value) or a leading sign. A
        :class:`datetime.timedelta` (what Excel makes of a typed ``119:30:15``) counts hours as
        degrees.

    Returns
    -------
    float
        Decimal degrees for angle spellings; the number itself for plain numbers (which may be
        metres of a projected coordinate).

    Raises
    ------
    ValueError
        When the value is empty, missing, not finite or cannot be read as a coordinate.
    """
    if value is None or isinstance(value, bool):
        raise ValueError(f"not a coordinate: {value!r}")
    if isinstance(value, (Real, np.number)):
        out = float(value)
        if not math.isfinite(out):
            raise ValueError(f"not a finite coordinate: {value!r}")
        return out
    if isinstance(value, datetime.timedelta):
        # Excel turns a typed "119:30:15" into a [h]:mm:ss duration: hours are degrees
        return value.total_seconds() / 3600.0
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise ValueError(f"not a coordinate: {value!r}")
    if _PLAIN.match(value):  # fast path: most cells are plain decimals
        return float(value)
    text = unicodedata.normalize("NFKC", value.translate(_PRE)).strip()
    text = text.replace("′", "'").replace("″", '"')
    if not text:
        raise ValueError("empty coordinate")
    return _parse_text(text, original=value)


def _parse_text(text: str, *, original: str) -> float:
    """Parse a normalised (NFKC, half-width) coordinate string."""
    sign = 1.0
    # hemisphere before or after (a trailing lowercase "s" is seconds when d/m letters are used)
    hemi = None
    m = _LEAD_HEMI.match(text)
    if m:
        hemi, text = m.group(1), text[m.end():]
    m = _TRAIL_HEMI.search(text)
    if m and not (m.group(1) == "s" and re.search(r"\d\s*[dm]", text)):
        if hemi is not None:
            raise ValueError(f"two hemisphere markers in {original!r}")
        hemi, text = m.group(1), text[: m.start()]
    if hemi is not None:
        sign = float(_HEMI_WORDS.get(hemi, -1 if hemi.upper() in "SW" else 1))
    text = text.strip()
    if text[:1] in ("+", "-"):
        if text[0] == "-":
            if sign < 0:
                raise ValueError(f"both a minus sign and a S/W hemisphere in {original!r}")
            sign = -1.0
        text = text[1:].strip()
    if not text:
        raise ValueError(f"no number in {original!r}")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    if re.fullmatch(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        out = float(text)
        if hemi is not None and out > 180:
            raise ValueError(f"{original!r} is beyond 180 degrees")
        return sign * out
    return sign * _parse_dms(text, original=original)


def _parse_dms(text: str, *, original: str) -> float:
    """Degrees, minutes and seconds from a string without sign or hemisphere."""
    parts: list[tuple[float, int | None]] = []
    pos = 0
    while pos < len(text):
        sep = re.match(r"[\s:,;]+", text[pos:])
        if sep and parts:
            pos += sep.end()
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read coordinate {original!r}")
        unit = m.group(2)
        parts.append((float(m.group(1)), _UNIT[unit] if unit else None))
        pos = m.end()
    if not parts or len(parts) > 3:
        raise ValueError(f"cannot read coordinate {original!r}")
    values: list[float | None] = [None, None, None]
    nxt = 0
    for number, unit in parts:
        slot = nxt if unit is None else unit
        if slot < nxt or slot > 2 or values[slot] is not None:
            raise ValueError(f"degrees, minutes and seconds out of order in {original!r}")
        values[slot] = number
        nxt = slot + 1
    deg, minutes, seconds = values
    if deg is None:
        raise ValueError(f"no degrees in {original!r}")
    if minutes is None and seconds is not None:
        raise ValueError(f"seconds without minutes in {original!r}")
    if minutes is not None:
        if deg != int(deg):
            raise ValueError(f"fractional degrees followed by minutes in {original!r}")
        if not 0 <= minutes < 60:
            raise ValueError(f"minutes must be below 60 in {original!r}")
    if seconds is not None:
        if minutes is not None and minutes != int(minutes):
            raise ValueError(f"fractional minutes followed by seconds in {original!r}")
        if not 0 <= seconds < 60:
            raise ValueError(f"seconds must be below 60 in {original!r}")
    out = deg + (minutes or 0.0) / 60.0 + (seconds or 0.0) / 3600.0
    if out > 180:
        raise ValueError(f"{original!r} is beyond 180 degrees")
    return out


# ---- GCJ-02 ----------------------------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The rectangle inside which GCJ-02 applies its offset (the usual published test)."""
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84, in degrees, at WGS84 ``lon, lat`` (the published formula)."""
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
             + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
             + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
             + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    d_lon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
             + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
             + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
             + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the GCJ-02 offset to WGS84 (or CGCS2000) longitudes and latitudes.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, any matching shapes.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China are returned unchanged.
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    inside = _in_china(lon, lat)
    d_lon, d_lat = _delta(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove the GCJ-02 offset: the iterative inverse of :func:`wgs84_to_gcj02`.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees (points picked from Gaode/AMap, Tencent maps or WeChat), matching shapes.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)``. The iteration stops when the forward offset reproduces the input
        to about 1e-9 degrees (well under a millimetre); points outside China are unchanged.
    """
    g_lon = np.asarray(lon, dtype="float64")
    g_lat = np.asarray(lat, dtype="float64")
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(30):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        if not np.any(np.abs(e_lon) > 1e-10) and not np.any(np.abs(e_lat) > 1e-10):
            break
    inside = _in_china(g_lon, g_lat)
    return np.where(inside, w_lon, g_lon), np.where(inside, w_lat, g_lat)


def _convert(gdf: gpd.GeoDataFrame, to_wgs84) -> gpd.GeoDataFrame:
    """Every vertex of ``gdf`` through ``to_wgs84(lon, lat)`` (in degrees; a projected layer round-trips)."""
    out = gdf.copy()
    back = None
    if out.crs is not None and not out.crs.is_geographic:
        back = out.crs
        out = out.to_crs("EPSG:4490")

    def _fix(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = out.set_geometry(shapely.transform(out.geometry.values, _fix))
    if back is not None:
        out = out.to_crs(back)
    out.attrs = dict(gdf.attrs)
    return out


def convert_gcj02(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Move every vertex of a layer from GCJ-02 to WGS84/CGCS2000.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any geometry types. With a projected CRS the layer is taken to EPSG:4490, converted and
        brought back; with no CRS or a geographic CRS the coordinates are taken as degrees.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with converted geometry and the same CRS and attrs.
    """
    return _convert(gdf, gcj02_to_wgs84)


# ---- BD-09 (Baidu) ---------------------------------------------------------------------------

_X_PI = math.pi * 3000.0 / 180.0


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's BD-09 from GCJ-02 longitudes and latitudes (the published formula).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees, matching shapes.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``. E.g. GCJ-02 (116.404, 39.915) gives (116.41036949371029,
        39.92133699351021), the pair published with wandergis/coordtransform.
    """
    x = np.asarray(lon, dtype="float64")
    y = np.asarray(lat, dtype="float64")
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 from BD-09: the exact inverse of :func:`gcj02_to_bd09`.

    The usual one-step formula (subtract the constants, undo the rotation) is off by a few
    centimetres; this starts from it and iterates the forward formula until it reproduces the input to
    about 1e-10 degrees (a hundredth of a millimetre).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees (points picked from Baidu maps), matching shapes.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``.
    """
    b_lon = np.asarray(lon, dtype="float64")
    b_lat = np.asarray(lat, dtype="float64")
    x, y = b_lon - 0.0065, b_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(30):
        f_lon, f_lat = gcj02_to_bd09(g_lon, g_lat)
        e_lon, e_lat = f_lon - b_lon, f_lat - b_lat
        g_lon, g_lat = g_lon - e_lon, g_lat - e_lat
        if not np.any(np.abs(e_lon) > 1e-11) and not np.any(np.abs(e_lat) > 1e-11):
            break
    return g_lon, g_lat


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 from BD-09: :func:`bd09_to_gcj02`, then :func:`gcj02_to_wgs84`."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def convert_bd09(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Move every vertex of a layer from BD-09 (Baidu) to WGS84/CGCS2000 (as :func:`convert_gcj02`)."""
    return _convert(gdf, bd09_to_wgs84)


def convert_offset(gdf: gpd.GeoDataFrame, offset: str) -> gpd.GeoDataFrame:
    """:func:`convert_gcj02` for ``offset="gcj02"``, :func:`convert_bd09` for ``"bd09"``."""
    if offset == "gcj02":
        return convert_gcj02(gdf)
    if offset == "bd09":
        return convert_bd09(gdf)
    raise ValueError(f"unknown web-map offset {offset!r}; expected 'gcj02' or 'bd09'")
