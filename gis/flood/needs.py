"""Minimum needs of displaced people: food, water, family kits and toilets, per shelter and in total.

Default rates (:data:`DEFAULT_RATES`), per person per day unless marked:

=============  ===========  ====================================================================
item           default      basis
=============  ===========  ====================================================================
rice_kg        0.4 kg       China's relief practice: 受灾人员基本生活救助 grain ration of about
                            0.5 kg/person/day (≈ 1 jin, 国家自然灾害救助应急预案 practice), of
                            which rice 0.4 kg gives ≈ 1,400 kcal; with other foods Sphere's
                            2,100 kcal/person/day
drinking_l     3 L          Sphere Handbook (2018), water supply standard 1: survival needs
                            (drinking and food) 2.5-3 L/person/day
clean_l        15 L         Sphere Handbook (2018): 15 L/person/day total for drinking, cooking
                            and personal hygiene (the minimum planning figure)
family_kits    1 / 5        one household kit (bedding, mat, hygiene items) per household;
               people       China's average household of about 3-5 people (once, not per day)
toilets        1 / 20       Sphere Handbook (2018), excreta management: 1 toilet per 20 people
               people       in the first phase of a response (once, not per day)
=============  ===========  ====================================================================

Every rate can be changed through a dict (``rates=``); ``days`` (default 3: the first 72 hours
before regular supply) multiplies the daily items only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.flood.headers import HEADERS
from layers.errors import LayerError, problem
from layers.text import Text

__all__ = ["DEFAULT_RATES", "DAILY_ITEMS", "NEED_LABELS", "minimum_needs", "DEFAULT_DAYS", "parse_rates"]

#: default rates: daily items per person per day; ``family_kits`` and ``toilets`` are persons per unit
DEFAULT_RATES: dict[str, float] = {"rice_kg": 0.4, "drinking_l": 3.0, "clean_l": 15.0, "family_kits": 5.0,
                                   "toilets": 20.0}
#: items consumed per person per day (the others are one unit per N persons, once)
DAILY_ITEMS = ("rice_kg", "drinking_l", "clean_l")
#: default number of days
DEFAULT_DAYS = 3
#: the items' column headers (from the plan's one header registry, :mod:`gis.flood.headers`)
NEED_LABELS: dict[str, Text] = {k: HEADERS[k] for k in DEFAULT_RATES}


def minimum_needs(loads: pd.DataFrame | pd.Series, *, rates: dict[str, float] | None = None,
                  days: int = DEFAULT_DAYS, people: str = "load", by: str = "shelter_id") -> pd.DataFrame:
    """Minimum needs per shelter (or any group) and in total.

    Parameters
    ----------
    loads : DataFrame or Series
        People per shelter: the ``shelters`` table of :class:`gis.flood.assign.AssignmentResult`
        (columns ``shelter_id`` and ``load``), or a Series of people indexed by shelter.
    rates : dict, optional
        Overrides of :data:`DEFAULT_RATES` (unknown keys add items: daily if their name is in
        :data:`DAILY_ITEMS`, else one unit per that many persons).
    days : int
        Days of supply for the daily items (default 3).
    people : str
        Column with the people.
    by : str
        Column naming each row.

    Returns
    -------
    pandas.DataFrame
        Index ``by`` plus a final ``合计/Total`` row; columns ``people``, then one per item:
        daily items ``people x rate x days`` (rounded to 0.1), unit items ``ceil(people / rate)``
        per shelter (the total row sums the shelters' units: each shelter needs whole units).
        ``attrs["rates"]`` and ``attrs["days"]`` record what was used.
    """
    r = dict(DEFAULT_RATES)
    r.update(rates or {})
    if days < 0:
        raise ValueError("days must not be negative")
    if isinstance(loads, pd.Series):
        p = pd.to_numeric(loads, errors="coerce").fillna(0)
    else:
        p = pd.to_numeric(loads.set_index(by)[people], errors="coerce").fillna(0)
    p = p.clip(lower=0)
    out = pd.DataFrame({"people": p.astype(np.int64)})
    for item, rate in r.items():
        if item in DAILY_ITEMS:
            out[item] = np.round(p.to_numpy() * rate * days, 1)
        else:
            out[item] = np.ceil(p.to_numpy() / rate - 1e-9).astype(np.int64) if rate > 0 else 0
    total = out.sum(numeric_only=True)
    for item in r:
        if item in DAILY_ITEMS:
            total[item] = round(float(total[item]), 1)
    out.loc["合计/Total"] = total
    out.index.name = by
    out.attrs["rates"], out.attrs["days"] = r, days
    return out


def parse_rates(text: str | None) -> dict[str, float]:
    """Rate overrides from ``"rice_kg=0.5,drinking_l=4"`` (the command line's ``--rates``).

    Keys are items of :data:`DEFAULT_RATES`; values are positive numbers in the item's unit
    (per person per day for the daily items, persons per unit for the others).

    Raises
    ------
    LayerError
        An unknown item, a missing ``=``, or a value that is not a positive number.
    """
    out: dict[str, float] = {}
    for part in (text or "").replace("，", ",").split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        key = key.strip()
        try:
            num = float(val) if sep else float("nan")
        except ValueError:
            num = float("nan")
        if key not in DEFAULT_RATES or not np.isfinite(num) or num <= 0:
            items = ", ".join(f"{k}={v:g}" for k, v in DEFAULT_RATES.items())
            raise LayerError(problem(f"物资标准无效：{part.strip()}", f"invalid needs rate: {part.strip()}",
                                     f"写成 项目=正数，项目为：{items}", f"write item=positive number; items: {items}",
                                     field="--rates"))
        out[key] = num
    return out
