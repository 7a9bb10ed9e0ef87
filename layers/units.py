"""Units written after numbers: which spellings each field unit accepts, and their factors.

A numeric field has one unit (:attr:`layers.schema.FieldSpec.unit`: ``'m'``, ``'m³'``, ``'m²'``,
``'人'``, ``'户'``, ``'°'``, ``'km/h'``, ``'kg'``, ``'L'``, ``'件'`` (pieces: tents, quilts, kits), or
none). Offices write values such as ``5公里``, ``0.035km``, ``2万``, ``3亩`` or ``1.2万m3``;
:func:`lookup` says what a suffix means for a field's unit: the factor that turns the value into
the field's unit, and the names of the unit written.
Suffixes are compared after :func:`normalize_suffix` (NFKC, case folded, spaces dropped), so
``KM``, ``ｋｍ`` and ``k m`` are the same. A field with no unit accepts only a bare number.

``万`` (ten thousand) may stand before the units of volumes, areas, persons and households
(``万方``, ``2万m3``, ``1.2万人``), or alone (``2万`` people). A tonne of water is taken as one
cubic metre.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from layers.text import Text


@dataclass(frozen=True)
class Unit:
    """One unit as written after a number.

    Parameters
    ----------
    zh, en : str
        Name shown in notes (``公里`` / ``km``).
    factor : float
        Multiply a value in this unit by ``factor`` to get the field's unit.
    spellings : tuple of str
        How it is written; the first is shown in hints.
    """

    zh: str
    en: str
    factor: float
    spellings: tuple[str, ...]


#: field unit -> units accepted after a number (the field's own unit first)
UNITS: dict[str, tuple[Unit, ...]] = {
    "m": (Unit("米", "m", 1.0, ("m", "米", "公尺")),
          Unit("公里", "km", 1000.0, ("km", "公里", "千米")),
          Unit("厘米", "cm", 0.01, ("cm", "厘米"))),
    "m³": (Unit("立方米", "m³", 1.0, ("m³", "m3", "立方米", "立方", "方")),
           Unit("吨", "t (of water)", 1.0, ("吨",)),
           Unit("升", "L", 0.001, ("L", "升"))),
    "m²": (Unit("平方米", "m²", 1.0, ("m²", "m2", "㎡", "平方米", "平米")),
           Unit("亩", "mu", 10000 / 15, ("亩",)),
           Unit("公顷", "ha", 1e4, ("公顷", "ha")),
           Unit("平方公里", "km²", 1e6, ("平方公里", "km2", "km²", "平方千米"))),
    "人": (Unit("人", "persons", 1.0, ("人", "名", "口")),),
    "户": (Unit("户", "households", 1.0, ("户",)),),
    "°": (Unit("度", "°", 1.0, ("°", "度", "deg")),),
    "km/h": (Unit("公里/小时", "km/h", 1.0, ("km/h", "kmh", "公里/小时", "千米/小时", "码")),),
    "kg": (Unit("公斤", "kg", 1.0, ("kg", "公斤", "千克")),
           Unit("斤", "jin (0.5 kg)", 0.5, ("斤", "市斤")),
           Unit("吨", "t", 1000.0, ("吨", "t"))),
    "L": (Unit("升", "L", 1.0, ("L", "升", "公升")),
          Unit("吨", "t (of water)", 1000.0, ("吨",)),
          Unit("立方米", "m³", 1000.0, ("m³", "m3", "立方米", "方"))),
    "层": (Unit("层", "floors", 1.0, ("层", "楼", "floors")),),
    "件": (Unit("件", "pieces", 1.0, ("件", "套", "顶", "床", "条", "个", "张", "pcs", "pieces")),),
}

#: field units whose values may be written in 万 (ten thousands)
WAN_UNITS = frozenset({"m³", "m²", "人", "户", "kg", "L", "件"})

_WAN = 1e4
_WAN_HINT = {"m³": "万方", "m²": "万m2", "人": "万人", "户": "万户", "kg": "万斤", "L": "万升", "件": "万件"}


def normalize_suffix(text: str) -> str:
    """A suffix as compared: NFKC, case folded, without spaces (``" K M"`` -> ``"km"``)."""
    return "".join(unicodedata.normalize("NFKC", str(text)).lower().split())


@cache
def table(unit: str | None) -> dict[str, Unit]:
    """Normalised suffix -> :class:`Unit`, for a field unit (empty for a field without a unit).

    Parameters
    ----------
    unit : str or None
        A :attr:`FieldSpec.unit <layers.schema.FieldSpec.unit>` value.

    Returns
    -------
    dict
        Every accepted suffix, including the ``万`` forms where they apply.
    """
    units = UNITS.get(unit or "", ())
    out: dict[str, Unit] = {}
    for u in units:
        for s in u.spellings:
            out.setdefault(normalize_suffix(s), u)
    if unit in WAN_UNITS and units:
        own = units[0]
        out.setdefault("万", Unit(f"万{own.zh}", f"10⁴ {own.en}", _WAN, ("万",)))
        for u in units:
            wan = Unit(f"万{u.zh}", f"10⁴ {u.en}", u.factor * _WAN, tuple(f"万{s}" for s in u.spellings))
            for s in wan.spellings:
                out.setdefault(normalize_suffix(s), wan)
    return out


def lookup(unit: str | None, suffix: str) -> Unit | None:
    """What ``suffix`` means after a number in a field of ``unit``; None when it is not understood.

    Examples
    --------
    >>> lookup("m", "公里").factor
    1000.0
    >>> lookup("人", "万").factor
    10000.0
    >>> lookup(None, "%") is None
    True
    """
    return table(unit).get(normalize_suffix(suffix))


def is_own(unit: str | None, u: Unit) -> bool:
    """True when ``u`` is the field's own unit written another way (no conversion to report)."""
    units = UNITS.get(unit or "", ())
    return bool(units) and u.factor == 1.0 and u.zh == units[0].zh


def unit_name(unit: str | None, lang: str = "zh") -> str:
    """Name of a field unit in ``lang`` (``'m'`` -> ``米`` / ``m``); the unit itself when unknown."""
    units = UNITS.get(unit or "", ())
    if not units:
        return unit or ""
    return Text(units[0].zh, units[0].en)(lang)


def hint(unit: str | None, limit: int = 10, sep: str = ", ") -> str:
    """Short list of accepted spellings for a field unit, e.g. ``m, 米, km, 公里, cm, 厘米``.

    Empty for a field without a unit.
    """
    units = UNITS.get(unit or "", ())
    words = [s for i, u in enumerate(units) for s in u.spellings[:3 if i == 0 else 2]]
    if unit in _WAN_HINT:
        words.append(_WAN_HINT[unit])
    return sep.join(words[:limit])
