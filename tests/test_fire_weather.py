"""China's forest-fire weather danger level: table scores, worked examples, levels, the day matrix and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gis.fire.weather import (
    DAY_MATRIX,
    LEVEL_COLOURS,
    LEVEL_LABELS,
    beaufort,
    day_risk,
    dry_days_score,
    humidity_score,
    index_level,
    rain_score,
    temperature_score,
    weather_level,
    wind_score,
)


def test_temperature_table_edges():
    got = temperature_score([-3, 5, 5.1, 10, 10.1, 15, 15.1, 20, 20.1, 25, 25.1, 38])
    assert got.tolist() == [0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20]


def test_humidity_table_edges():
    got = humidity_score([100, 65, 64.9, 55, 54.9, 45, 44.9, 35, 34.9, 25, 24.9, 0])
    assert got.tolist() == [0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20]


def test_dry_days_wind_and_rain_tables():
    assert dry_days_score([0, 1, 2, 5, 9, 10, 30]).tolist() == [0, 5, 10, 25, 45, 50, 50]
    assert wind_score([0, 1, 3, 7, 8, 12]).tolist() == [0, 5, 15, 35, 40, 40]
    assert rain_score([0, 0.05, 0.1, 9.9, 10, 16.9, 17, 25, 38, 74.9, 75, 200]).tolist() == \
        [0, 0, 25, 25, 30, 30, 35, 40, 45, 45, 50, 50]


def test_beaufort_from_speed():
    assert beaufort([0.0, 0.2, 0.3, 1.5, 1.6, 3.3, 3.4, 10.7, 10.8, 17.2, 40]).tolist() == \
        [0, 0, 1, 1, 2, 2, 3, 5, 6, 8, 12]


# worked by hand from the tables in the module docstring: (tmax, rh14, dry days, wind force) -> index, level
WORKED = [
    ((8, 80, 0, 1), 4 + 0 + 0 + 5, 1),
    ((12, 50, 2, 2), 8 + 8 + 10 + 10, 2),
    ((18, 40, 3, 3), 12 + 12 + 15 + 15, 3),
    ((22, 30, 5, 4), 16 + 16 + 25 + 20, 4),
    ((28, 20, 12, 5), 20 + 20 + 50 + 25, 5),
    # level boundaries 25/26, 50/51, 72/73, 90/91
    ((5, 65, 5, 0), 25, 1),
    ((25, 70, 2, 0), 26, 2),
    ((30, 20, 2, 0), 50, 2),
    ((25, 20, 3, 0), 51, 3),
    ((30, 40, 8, 0), 72, 3),
    ((15, 10, 9, 0), 73, 4),
    ((30, 20, 10, 0), 90, 4),
    ((25, 20, 10, 1), 91, 5),
]


@pytest.mark.parametrize("inputs,index,level", WORKED)
def test_worked_examples(inputs, index, level):
    idx, lv = weather_level(*inputs)
    assert float(idx) == index
    assert int(lv) == level


def test_vectorised_over_stations_and_nan():
    t, h, d, w = (np.array(c, dtype=float) for c in zip(*(i for i, _, _ in WORKED)))
    idx, lv = weather_level(t, h, d, w)
    assert idx.tolist() == [i for _, i, _ in WORKED]
    assert lv.tolist() == [v for _, _, v in WORKED]
    idx, lv = weather_level([20, np.nan], [30, 30], [3, 3], [2, 2])
    assert lv.tolist() == [3, 0] and np.isnan(idx[1])       # 12 + 16 + 15 + 10 = 53


def test_rain_on_the_day_lowers_the_index():
    idx, lv = weather_level(18, 40, 3, 3, rain_mm=12)       # 54 - 30
    assert float(idx) == 24 and int(lv) == 1
    idx, _ = weather_level(5, 90, 0, 0, rain_mm=80)         # clipped at 0
    assert float(idx) == 0


def test_bad_inputs():
    with pytest.raises(ValueError):
        weather_level(20, 120, 1, 1)
    with pytest.raises(ValueError):
        weather_level(20, 50, -1, 1)
    with pytest.raises(ValueError):
        weather_level(20, 50, 1, -2)


def test_index_level_fractions():
    assert index_level([0, 25, 25.5, 50, 50.1, 72, 72.5, 90, 90.1, np.nan]).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 0]


def test_labels_and_colours():
    assert [LEVEL_LABELS[i][0][:2] for i in range(1, 6)] == ["一级", "二级", "三级", "四级", "五级"]
    assert LEVEL_LABELS[5][0].endswith("极高") and LEVEL_LABELS[1][0].endswith("低")
    rgb = {k: tuple(int(v[i:i + 2], 16) for i in (1, 3, 5)) for k, v in LEVEL_COLOURS.items() if k}
    assert rgb[1][1] > max(rgb[1][0], rgb[1][2])             # green
    assert rgb[2][2] > max(rgb[2][0], rgb[2][1])             # blue
    assert rgb[3][0] > 200 and rgb[3][1] > 180 and rgb[3][2] < 100   # yellow
    assert rgb[4][0] > 200 and 100 < rgb[4][1] < 180         # orange
    assert rgb[5][0] > 180 and rgb[5][1] < 80                # red


def test_day_matrix_monotone_and_cases():
    m = DAY_MATRIX.astype(int)
    assert (np.diff(m, axis=0) >= 0).all() and (np.diff(m, axis=1) >= 0).all()
    # from weather level 2 up, the day's level is within two steps of the static class; level 1 caps at 2
    assert (np.abs(m[:, 1:] - np.arange(1, 6)[:, None]) <= 2).all()
    assert m[:, 0].max() <= 2 and m[:, 4].min() >= 2 and m[2, 2] == 3
    static = np.array([[0, 1, 3], [4, 5, 2]], dtype=np.uint8)
    assert day_risk(static, 5).tolist() == [[0, 3, 4], [5, 5, 4]]
    assert day_risk(static, 1).tolist() == [[0, 1, 1], [2, 2, 1]]
    per_cell = np.array([[5, 5, 0], [3, 3, 3]])
    assert day_risk(static, per_cell).tolist() == [[0, 3, 0], [3, 4, 2]]
    with pytest.raises(ValueError):
        day_risk(static, 6)


def test_cli_fire_weather(capsys):
    from gis.cli import main

    assert main(["fire-weather", "--tmax", "22", "--rh", "30", "--dry-days", "5", "--wind", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["index"] == 77 and out["level"] == 4 and out["colour"] == LEVEL_COLOURS[4]
    assert out["scores"] == {"temperature": 16, "humidity": 16, "dry_days": 25, "wind": 20, "rain": 0}
    # wind as m/s: 6 m/s is force 4
    assert main(["fire-weather", "--tmax", "22", "--rh", "30", "--dry-days", "5", "--wind-ms", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["wind_force"] == 4
    assert main(["fire-weather", "--tmax", "22", "--rh", "130", "--dry-days", "5", "--wind", "4"]) == 2
    err = capsys.readouterr().err
    assert "湿度" in err and "humidity" in err
    assert main(["fire-weather", "--tmax", "22", "--rh", "30", "--dry-days", "5"]) == 2
    assert "风力" in capsys.readouterr().err


def test_canadian_fwi_van_wagner_worked_days():
    pytest.importorskip("xclim")
    from gis.fire.weather import canadian_fwi

    # the first three days of Van Wagner & Pickett's (1985) FWI test series, start-up 85 / 6 / 15, lat 46 N
    out = canadian_fwi(["2000-04-13", "2000-04-14", "2000-04-15"], [17, 20, 8.5], [42, 21, 40], [25, 25, 17],
                       [0, 2.4, 0], lat=46.0)
    expect = {"FFMC": [87.7, 86.2, 87.0], "DMC": [8.5, 10.4, 11.8], "DC": [19.0, 23.6, 26.1],
              "ISI": [10.9, 8.8, 6.5], "BUI": [8.5, 10.4, 11.7], "FWI": [10.1, 9.3, 7.6]}
    for k, v in expect.items():
        assert out[k] == pytest.approx(v, abs=0.06), k
    two = canadian_fwi(["2000-04-13", "2000-04-14"], [[17, 17], [20, 8]], [[42, 42], [21, 80]],
                       [[25, 25], [25, 5]], [[0, 0], [2.4, 10]], lat=46.0)
    assert two["FWI"].shape == (2, 2) and two["FWI"][1, 0] == pytest.approx(9.3, abs=0.06)
    assert two["FWI"][1, 1] < two["FWI"][1, 0]
