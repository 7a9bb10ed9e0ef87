"""Minimum needs: golden numbers for the default table, configurable rates and days."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.flood.needs import DEFAULT_RATES, minimum_needs


def test_golden_defaults():
    n = minimum_needs(pd.DataFrame({"shelter_id": ["a", "b", "c"], "load": [100, 7, 0]}))
    assert n.loc["a"].to_dict() == {"people": 100, "rice_kg": 120.0, "drinking_l": 900.0, "clean_l": 4500.0,
                                    "family_kits": 20, "toilets": 5}
    assert n.loc["b"].to_dict() == {"people": 7, "rice_kg": 8.4, "drinking_l": 63.0, "clean_l": 315.0,
                                    "family_kits": 2, "toilets": 1}
    assert n.loc["c"].to_dict() == {"people": 0, "rice_kg": 0.0, "drinking_l": 0.0, "clean_l": 0.0,
                                    "family_kits": 0, "toilets": 0}
    t = n.loc["合计/Total"]
    assert (t["people"], t["rice_kg"], t["drinking_l"], t["clean_l"], t["family_kits"], t["toilets"]) == \
        (107, 128.4, 963.0, 4815.0, 22, 6)  # units summed per shelter: 20 + 2 kits, 5 + 1 toilets
    assert n.attrs["days"] == 3 and n.attrs["rates"] == DEFAULT_RATES


def test_rates_and_days_configurable():
    n = minimum_needs(pd.Series({"s1": 40}), rates={"rice_kg": 0.5, "toilets": 10}, days=1)
    assert n.loc["s1", "rice_kg"] == 20.0 and n.loc["s1", "toilets"] == 4
    assert n.loc["s1", "drinking_l"] == 120.0 and n.loc["s1", "family_kits"] == 8


def test_negative_days_refused():
    with pytest.raises(ValueError):
        minimum_needs(pd.Series({"s1": 1}), days=-1)


def test_parse_rates():
    from gis.flood.needs import parse_rates
    from layers.errors import LayerError

    assert parse_rates("rice_kg=0.5, drinking_l=4") == {"rice_kg": 0.5, "drinking_l": 4.0}
    assert parse_rates("") == {} and parse_rates(None) == {}
    for bad in ("rice_kg", "rice_kg=-1", "rice_kg=lots", "beer_l=1"):
        with pytest.raises(LayerError):
            parse_rates(bad)
