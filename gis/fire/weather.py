"""China's forest-fire weather danger level (森林火险天气等级) and the day's danger map.

The scale
---------
China's national forest-fire weather danger scale (《全国森林火险天气等级》, forestry standard
LY/T 1172-95; the meteorological standards QX/T 77-2007 and GB/T 36743-2018 《森林火险气象等级》 keep
the same five levels and colours) sums one score per weather factor into a fire-weather index and
classes it into five levels. The scoring tables used here are those reproduced (as used in county
forecasting practice) by 吕巍伟 et al. 2020, 《林业世界》 9(3), doi:10.12677/wjf.2020.93016,
tables 5, 6, 7, 9 and 10; the level breaks are LY/T 1172-95's. The standard's own text was not
available offline; check the tables against the edition your meteorological bureau uses.

A, daily maximum temperature (table 5)::

    tmax °C   <=5   5-10   10-15   15-20   20-25   >25
    A          0     4      8       12      16      20

B, relative humidity at 14:00 (table 6)::

    RH %      >=65  55-64  45-54   35-44   25-34   <=24   (fractions: >=65, >=55, ... ; <25 -> 20)
    B          0     4      8       12      16      20

C, consecutive days without rain (table 7; a day with under 0.1 mm counts as dry)::

    days       0    1    2    3    4    5    6    7    8    9    >=10
    C          0    5   10   15   20   25   30   35   40   45    50

D, maximum wind force of the day, Beaufort force (table 9; :func:`beaufort` converts m/s at 10 m)::

    force      0    1    2    3    4    5    6    7    >=8
    D          0    5   10   15   20   25   30   35    40

F, rain on the day itself (table 10, subtracted; optional)::

    rain mm   <0.1  0.1-9.9  10-16.9  17-24.9  25-37.9  38-74.9  >=75
    F          0      25       30       35       40       45      50

Index ``I = max(0, A + B + C + D - F)``; level (LY/T 1172-95)::

    I      <=25     26-50     51-72     73-90     >=91
    level  1 低     2 较低    3 较高    4 高      5 极高
    colour green    blue      yellow    orange    red

(non-integer indices: ``I <= 25`` level 1, ``I <= 50`` level 2, ``I <= 72`` level 3, ``I <= 90``
level 4, else level 5). The standard's phenology correction (物候订正: green-up, snow cover) is not
applied; it only lowers the index, so this errs on the side of a higher level.

The day's map
-------------
:func:`day_risk` combines the static risk class of a forest cell (:mod:`gis.fire.risk`, 1..5) and
the day's weather level (1..5) with :data:`DAY_MATRIX` (rows static class, columns weather)::

    static \\ weather   1  2  3  4  5
          1            1  1  2  2  3
          2            1  2  2  3  4
          3            1  2  3  4  4
          4            2  2  3  4  5
          5            2  3  4  5  5

It rises with both; on a weather level 2..5 day the cell's level stays within two steps of its
static class (a level-3 weather day shows roughly the static class), a level-1 day (fuel too wet
to burn) shows nothing above 2, and a level-5 day shows every forest at 2 or more.

Canadian FWI (second index)
---------------------------
:func:`canadian_fwi` runs the Canadian Forest Fire Weather Index System (Van Wagner 1987) over a
station's daily series with ``xclim.indices.fire.fire_weather_ufunc`` (the optional package
``xclim``; imported only when called). Unlike China's scale it carries moisture codes from day to
day, so it needs the series from the start of the fire season, not one day's values.
"""

from __future__ import annotations

import numpy as np

from layers.text import Text

__all__ = ["LEVEL_BREAKS", "LEVEL_COLOURS", "LEVEL_LABELS", "DAY_MATRIX", "temperature_score", "humidity_score",
           "dry_days_score", "wind_score", "rain_score", "beaufort", "weather_index", "index_level",
           "weather_level", "day_risk", "canadian_fwi"]

#: upper index bound of levels 1-4 (LY/T 1172-95); above the last is level 5
LEVEL_BREAKS = (25.0, 50.0, 72.0, 90.0)

#: level -> hex colour (green, blue, yellow, orange, red); 0 = not forest / no data
LEVEL_COLOURS = {0: "#00000000", 1: "#2e9e44", 2: "#2f6fd6", 3: "#f2d024", 4: "#f28c1e", 5: "#d7263d"}

#: level -> (Chinese, English) label
LEVEL_LABELS: dict[int, Text] = {
    1: Text("一级 低", "1 low", "level_1"), 2: Text("二级 较低", "2 moderate-low", "level_2"),
    3: Text("三级 较高", "3 moderate-high", "level_3"), 4: Text("四级 高", "4 high", "level_4"),
    5: Text("五级 极高", "5 extreme", "level_5")}

#: rows: static risk class 1..5; columns: weather level 1..5 -> level shown for the day
DAY_MATRIX = np.array([
    [1, 1, 2, 2, 3],
    [1, 2, 2, 3, 4],
    [1, 2, 3, 4, 4],
    [2, 2, 3, 4, 5],
    [2, 3, 4, 5, 5],
], dtype=np.uint8)

_TMAX_EDGES = np.array([5.0, 10.0, 15.0, 20.0, 25.0])        # right-closed: <=5 -> 0, (5, 10] -> 4, ...
_STEP6 = np.array([0, 4, 8, 12, 16, 20], dtype=np.float64)
_RH_EDGES = np.array([25.0, 35.0, 45.0, 55.0, 65.0])           # >=65 -> 0, [55, 65) -> 4, ... <25 -> 20
_RAIN_EDGES = np.array([0.1, 10.0, 17.0, 25.0, 38.0, 75.0])
_RAIN_F = np.array([0, 25, 30, 35, 40, 45, 50], dtype=np.float64)
#: upper wind speed (m/s, 10 m) of Beaufort forces 0..11 (table 9 and the WMO Beaufort scale)
_BEAUFORT_UPPER = np.array([0.2, 1.5, 3.3, 5.4, 7.9, 10.7, 13.8, 17.1, 20.7, 24.4, 28.4, 32.6])


def _arr(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if np.any(np.isinf(a)):
        raise ValueError(f"{name} has infinite values")
    return a


def _nan_keep(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), np.nan, values)


def temperature_score(tmax) -> np.ndarray:
    """A: daily maximum temperature (°C) -> 0, 4, 8, 12, 16, 20 (NaN stays NaN)."""
    t = _arr(tmax, "tmax")
    return _nan_keep(_STEP6[np.searchsorted(_TMAX_EDGES, np.nan_to_num(t), side="left")], t)


def humidity_score(rh14) -> np.ndarray:
    """B: relative humidity at 14:00 (%) -> 20, 16, 12, 8, 4, 0 (NaN stays NaN).

    Raises
    ------
    ValueError
        A humidity outside 0..100.
    """
    h = _arr(rh14, "rh14")
    if np.any((h < 0) | (h > 100)):
        raise ValueError("relative humidity must be within 0..100 %")
    return _nan_keep(_STEP6[::-1][np.searchsorted(_RH_EDGES, np.nan_to_num(h), side="right")], h)


def dry_days_score(dry_days) -> np.ndarray:
    """C: consecutive days without rain (whole days; 0 = rain today) -> 5 per day, 50 from 10 days."""
    d = _arr(dry_days, "dry_days")
    if np.any(d < 0):
        raise ValueError("days without rain must be >= 0")
    return _nan_keep(np.minimum(np.floor(np.nan_to_num(d)), 10.0) * 5.0, d)


def wind_score(wind_force) -> np.ndarray:
    """D: maximum wind force of the day (Beaufort 0..12) -> 5 per force, 40 from force 8."""
    w = _arr(wind_force, "wind_force")
    if np.any(w < 0):
        raise ValueError("wind force must be >= 0")
    return _nan_keep(np.minimum(np.floor(np.nan_to_num(w)), 8.0) * 5.0, w)


def rain_score(rain_mm) -> np.ndarray:
    """F: rain on the day (mm) -> 0 (under 0.1 mm), 25, 30, 35, 40, 45, 50 (subtracted from the index)."""
    r = _arr(rain_mm, "rain_mm")
    if np.any(r < 0):
        raise ValueError("rain must be >= 0 mm")
    return _nan_keep(_RAIN_F[np.searchsorted(_RAIN_EDGES, np.nan_to_num(r), side="right")], r)


def beaufort(speed_ms) -> np.ndarray:
    """Beaufort wind force (0..12, float) of a wind speed in m/s at 10 m."""
    s = _arr(speed_ms, "speed")
    return _nan_keep(np.searchsorted(_BEAUFORT_UPPER, np.round(np.nan_to_num(s), 1), side="left").astype(float), s)


def weather_index(tmax, rh14, dry_days, wind_force, rain_mm=None) -> np.ndarray:
    """Fire-weather index ``max(0, A + B + C + D - F)`` (see the module docstring); arrays broadcast."""
    total = temperature_score(tmax) + humidity_score(rh14) + dry_days_score(dry_days) + wind_score(wind_force)
    if rain_mm is not None:
        total = total - rain_score(rain_mm)
    return np.maximum(total, 0.0)


def index_level(index) -> np.ndarray:
    """Level 1..5 of a fire-weather index (uint8; 0 where the index is NaN)."""
    i = np.asarray(index, dtype=np.float64)
    lv = (np.searchsorted(np.asarray(LEVEL_BREAKS), np.nan_to_num(i), side="left") + 1).astype(np.uint8)
    return np.where(np.isnan(i), 0, lv).astype(np.uint8)


def weather_level(tmax, rh14, dry_days, wind_force, rain_mm=None) -> tuple[np.ndarray, np.ndarray]:
    """China's forest-fire weather index and danger level, vectorised over stations or townships.

    Parameters
    ----------
    tmax : float or array_like
        Daily maximum air temperature, °C.
    rh14 : float or array_like
        Relative humidity at 14:00, %.
    dry_days : int or array_like
        Consecutive days without rain (under 0.1 mm) up to the day, 0 when it rains that day.
    wind_force : float or array_like
        Maximum wind force of the day on the Beaufort scale (:func:`beaufort` from m/s).
    rain_mm : float or array_like, optional
        Rain on the day, mm; subtracts table F when given.

    Returns
    -------
    index : numpy.ndarray of float64
        The fire-weather index (NaN where an input is NaN).
    level : numpy.ndarray of uint8
        1..5 (:data:`LEVEL_LABELS`, :data:`LEVEL_COLOURS`); 0 where the index is NaN.

    Raises
    ------
    ValueError
        Humidity outside 0..100, negative days, wind force or rain.
    """
    idx = weather_index(tmax, rh14, dry_days, wind_force, rain_mm)
    return idx, index_level(idx)


def day_risk(static_level, weather_level) -> np.ndarray:
    """The level shown on the map for a day: :data:`DAY_MATRIX` of the static class and the day's weather.

    Parameters
    ----------
    static_level : array_like of int
        Static risk class per cell (0 = not forest, 1..5; :func:`gis.fire.risk.risk_raster`).
    weather_level : int or array_like of int
        The day's weather level (1..5), one value for the whole map or one per cell (e.g. each
        township's station burnt onto the grid); 0 = unknown.

    Returns
    -------
    numpy.ndarray of uint8
        1..5 on forest cells, 0 where the cell is not forest or the weather level is 0.
    """
    s = np.asarray(static_level).astype(np.int64)
    w = np.broadcast_to(np.asarray(weather_level).astype(np.int64), s.shape)
    if np.any((s < 0) | (s > 5)) or np.any((w < 0) | (w > 5)):
        raise ValueError("levels must be within 0..5")
    ok = (s > 0) & (w > 0)
    out = DAY_MATRIX[np.clip(s - 1, 0, 4), np.clip(w - 1, 0, 4)]
    return np.where(ok, out, 0).astype(np.uint8)


def canadian_fwi(dates, tas, rh, wind_kmh, rain_mm, *, lat: float, ffmc0: float = 85.0, dmc0: float = 6.0,
                 dc0: float = 15.0) -> dict[str, np.ndarray]:
    """Canadian Fire Weather Index System over consecutive days (xclim), for one or more stations.

    Parameters
    ----------
    dates : array_like of datetime64 or str
        Consecutive days (the day-length factors of DMC and DC depend on the month).
    tas, rh, wind_kmh, rain_mm : array_like
        Noon temperature (°C), noon relative humidity (%), noon 10 m wind (km/h) and 24 h rain (mm),
        shape ``(days,)`` or ``(days, stations)``.
    lat : float
        Latitude in degrees (selects the day-length table).
    ffmc0, dmc0, dc0 : float
        Start-up codes on the first day (the standard 85, 6, 15 after snow melt / a wet spell).

    Returns
    -------
    dict
        ``FFMC``, ``DMC``, ``DC``, ``ISI``, ``BUI``, ``FWI``: arrays shaped like ``tas``.

    Raises
    ------
    ImportError
        When ``xclim`` is not installed (bilingual message).
    """
    try:
        import pandas as pd
        import xarray as xr
        from xclim.indices.fire import fire_weather_ufunc
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the Canadian FWI needs the optional package xclim (pip install xclim)") from exc
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(dates)))
    arrays = [np.asarray(a, dtype=np.float64) for a in (tas, rh, wind_kmh, rain_mm)]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays) or shape[0] != len(t):
        raise ValueError("tas, rh, wind_kmh, rain_mm must share one shape whose first axis is the days")
    dims = ("time",) if len(shape) == 1 else ("time", "station")

    def da(a):
        return xr.DataArray(a, dims=dims, coords={"time": t})

    def const(v):  # one value per station (the ufunc wants the start-up codes on the non-time dims)
        return xr.DataArray(float(v)) if len(shape) == 1 else \
            xr.DataArray(np.full(shape[1:], float(v)), dims=dims[1:])

    out = fire_weather_ufunc(tas=da(arrays[0]), hurs=da(arrays[1]), sfcWind=da(arrays[2]), pr=da(arrays[3]),
                             lat=const(lat), ffmc0=const(ffmc0), dmc0=const(dmc0), dc0=const(dc0),
                             initial_start_up=False, indexes=["FFMC", "DMC", "DC", "ISI", "BUI", "FWI"])
    return {k: np.asarray(v.transpose(*dims).values) for k, v in out.items()}
