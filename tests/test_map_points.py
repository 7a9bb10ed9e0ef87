"""Big layers of points go to the page by column (ui.map_points): the encodings on a golden example, the features
rebuilt exactly (a decoder written here from the module's description, as GisMap.unpack does it; the browser's own
is checked in tests/test_browser_dots.py), what is not packed, and the Operations map's dots in a fraction of the
bytes with their popup fields."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ui.map_points import PACK_MIN, pack_points


def _fc(n: int, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    feats = []
    for i in range(n):
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [round(110 + rng.random(), 5),
                                                                    round(25 + rng.random(), 5)]},
                      "properties": {"grid_id": f"WG339908101{i // 10:05d}{i % 10:02d}",
                                     "name": f"莲头村{i // 50}组{i % 50}号联户网格" if i % 9 else f"𠙶村{i}",
                                     "status": ["已预警", "已完成", "有问题"][i % 3],
                                     "_s": ["warned", "done", "problem"][i % 3],
                                     "remaining": int(i % 40), "note": None if i % 5 else f"说明{i}"}})
    return {"type": "FeatureCollection", "features": feats}


def _unpack(p: dict) -> dict:
    """The features of packed data, decoded as the module docstring describes."""
    n, cols = p["n"], []
    for c in p["columns"]:
        if "codes" in c:
            cols.append([c["table"][k] for k in c["codes"]])
        elif "mid" in c:
            vals, prev = [], ""
            for h, t, m in zip(c["head"], c["tail"], c["mid"]):
                prev = prev[:h] + m + prev[len(prev) - t:]
                vals.append(prev)
            cols.append(vals)
        else:
            cols.append(c["values"])
    x, y = np.cumsum(p["x"]), np.cumsum(p["y"])
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x[i] / p["scale"], y[i] / p["scale"]]},
         "properties": {c["name"]: v[i] for c, v in zip(p["columns"], cols)}} for i in range(n)]}


def test_golden_encodings():
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": xy},
         "properties": {"id": gid, "name": name, "town": "城关镇"}}
        for xy, gid, name in [([119.5, 28.25], "WG3399081012050101", "莲头村1组1号联户网格"),
                              ([119.50001, 28.24999], "WG3399081012050102", "莲头村1组2号联户网格"),
                              ([119.5, 28.25], "WG3399081012050201", "莲头村2组1号联户网格"),
                              ([119.5, 28.25], "WG3399081012050202", "莲头村2组2号联户网格")]]}
    p = pack_points(fc, min_points=1)
    assert p["scale"] == 100_000 and p["x"] == [11_950_000, 1, -1, 0] and p["y"] == [2_825_000, -1, 1, 0]
    cols = {c["name"]: c for c in p["columns"]}
    assert cols["id"] == {"name": "id", "head": [0, 17, 15, 17], "tail": [0, 0, 0, 0],
                          "mid": ["WG3399081012050101", "2", "201", "2"]}
    assert cols["name"] == {"name": "name", "head": [0, 5, 3, 5], "tail": [0, 5, 5, 5],
                            "mid": ["莲头村1组1号联户网格", "2", "2组1", "2"]}
    assert cols["town"] == {"name": "town", "table": ["城关镇"], "codes": [0, 0, 0, 0]}
    assert _unpack(p) == fc


@pytest.mark.parametrize("n", [PACK_MIN, 5000])
def test_features_are_rebuilt_exactly_in_a_fraction_of_the_bytes(n):
    fc = _fc(n)
    p = pack_points(fc)
    assert _unpack(p) == fc
    kinds = {c["name"]: next(k for k in ("codes", "mid", "values") if k in c) for c in p["columns"]}
    # names with a character beyond UTF-16's single units go as they are (JavaScript counts those as two)
    assert kinds == {"grid_id": "mid", "name": "values", "status": "codes", "_s": "codes", "remaining": "codes",
                     "note": "codes"}
    assert len(json.dumps(p)) < 0.4 * len(json.dumps(fc))


def test_what_is_not_packed():
    fc = _fc(PACK_MIN)
    assert pack_points(_fc(PACK_MIN - 1)) is None                                 # small: drawn as markers
    line = json.loads(json.dumps(fc))
    line["features"][5]["geometry"] = {"type": "LineString", "coordinates": [[119, 28], [119.1, 28.1]]}
    assert pack_points(line) is None
    odd = json.loads(json.dumps(fc))
    del odd["features"][7]["properties"]["note"]                                  # not the same property names
    assert pack_points(odd) is None
    ided = json.loads(json.dumps(fc))
    ided["features"][0]["id"] = 1                                                 # members beyond the three
    assert pack_points(ided) is None
    fine = json.loads(json.dumps(fc))
    fine["features"][3]["geometry"]["coordinates"] = [110.123456789, 25.5]       # finer than 1e-5: 1e-7 steps
    p = pack_points(fine)
    assert p["scale"] == 10**7 and _unpack(p)["features"][3]["geometry"]["coordinates"] == [110.1234568, 25.5]
    mixed = json.loads(json.dumps(fc))
    for i, f in enumerate(mixed["features"]):
        f["properties"]["remaining"] = [1, True, 1.0][i % 3]                   # equal keys that read differently
    assert _unpack(pack_points(mixed)) == mixed


def test_operations_dots_go_by_column_with_their_popup_fields():
    """The Operations map's whole-area view: thousands of grids as dots, sent by column; the page carries each
    grid id's changing end, the status labels once, and the popup and search fields as before."""
    import folium
    import pandas as pd

    from ui.map_view import StyledGeoJson, build_map
    from ui.ops_map import ops_groups

    n = 3000
    rng = np.random.default_rng(5)
    status = np.array(["warned", "acknowledged", "moving", "done", "problem"])[rng.integers(0, 5, n)]
    grids = pd.DataFrame({"grid_id": [f"WG3399081012{i:06d}" for i in range(n)],
                          "name": [f"莲头村{i // 20}组{i % 20}号联户网格" for i in range(n)],
                          "township": "城关镇", "status": status, "remaining": rng.integers(0, 60, n),
                          "lon": 119 + rng.random(n), "lat": 28 + rng.random(n), "shelter_id": None})
    shelters = pd.DataFrame({"shelter_id": ["S1"], "name": ["一号场所"], "township": ["城关镇"], "capacity": [100],
                             "checked_in": [10], "in_transit": [0], "occupancy": [0.1], "usable": [True],
                             "full": [False], "filling": [False], "lon": [119.5], "lat": [28.5]})
    prog = type("P", (), {"grids": grids, "shelters": shelters})()
    groups, legend = ops_groups(prog, "zh", budget=1000)          # above the budget: the whole-area view
    m = build_map({}, online=False, extra=(groups, legend))
    html = m.get_root().render()
    dots = next(el for g in groups for el in g._children.values() if isinstance(el, StyledGeoJson)
                and len(el.data["features"]) == n)
    plain = json.dumps(dots.data)
    assert dots.page_data()["type"] == "GisPoints" and '"GisPoints"' in html
    assert len(json.dumps(dots.page_data())) < 0.3 * len(plain)
    assert "WG3399081012000007" not in html and html.count("\\u5df2\\u9884\\u8b66") <= 2   # 已预警: in the table
    popup = next(el for el in dots._children.values() if isinstance(el, folium.GeoJsonPopup))
    assert popup.fields == ["grid_id", "name", "status", "remaining"]
    assert _unpack(dots.page_data()) == dots.data
