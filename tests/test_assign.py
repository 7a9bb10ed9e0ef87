"""Optimal assignment: equal to the linear program's optimum, capacity kept, unplaced reported, K widened."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from gis.flood.assign import assign, share_integer
from gis.flood.roads import straight_line_costs


def _instance(seed: int, ng: int = 9, ns: int = 4, tight: bool = False):
    rng = np.random.default_rng(seed)
    people = rng.integers(0, 60, ng)
    people[0] = 0 if seed % 2 else people[0]  # sometimes an empty grid
    cap = rng.integers(20, 120, ns)
    if tight:
        cap = np.maximum(1, cap // 4)
    cost = rng.integers(1, 5000, (ng, ns)).astype(float)
    demand = pd.DataFrame({"grid_id": [f"g{i}" for i in range(ng)], "population": people,
                           "vulnerable": rng.integers(0, 15, ng), "township": rng.choice(["东乡", "西乡"], ng)})
    shelters = pd.DataFrame({"shelter_id": [f"s{j}" for j in range(ns)], "capacity": cap,
                             "township": rng.choice(["东乡", "西乡"], ns)})
    table = pd.DataFrame({"origin_id": np.repeat(demand["grid_id"], ns).to_numpy(),
                          "dest_id": np.tile(shelters["shelter_id"], ng), "cost": cost.ravel()})
    return demand, shelters, table, people, cap, cost


def _lp(people, cap, cost):
    """min sum c x + BIG u  s.t.  sum_s x_gs + u_g = p_g,  sum_g x_gs <= cap_s (HiGHS)."""
    ng, ns = cost.shape
    big = (ns + 1) * (cost.max() + 1)
    c = np.concatenate([cost.ravel(), np.full(ng, big)])
    a_eq = np.zeros((ng, ng * ns + ng))
    for g in range(ng):
        a_eq[g, g * ns:(g + 1) * ns] = 1
        a_eq[g, ng * ns + g] = 1
    a_ub = np.zeros((ns, ng * ns + ng))
    for s in range(ns):
        a_ub[s, s:ng * ns:ns] = 1
    r = linprog(c, A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=people, bounds=(0, None), method="highs")
    assert r.status == 0
    x = r.x[: ng * ns]
    u = r.x[ng * ns:]
    return float(cost.ravel() @ x), float(u.sum())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tight", [False, True])
def test_equals_linear_program(seed, tight):
    demand, shelters, table, people, cap, cost = _instance(seed, tight=tight)
    r = assign(demand, shelters, table, widen=(None,))
    lp_cost, lp_unplaced = _lp(people, cap, cost)
    assert r.summary["people_unplaced"] == pytest.approx(lp_unplaced, abs=1e-6)
    assert r.summary["person_km"] * 1000 == pytest.approx(lp_cost, rel=1e-9, abs=1e-6)
    load = r.assignments.groupby("shelter_id")["people"].sum()
    assert (load <= shelters.set_index("shelter_id")["capacity"].reindex(load.index)).all()
    assert r.summary["people_placed"] + r.summary["people_unplaced"] == people.sum()
    # vulnerable go with the people and sum exactly per grid
    v = r.assignments.groupby("grid_id")["vulnerable"].sum().add(
        r.unplaced_grids.set_index("grid_id")["vulnerable_unplaced"], fill_value=0)
    want = demand.set_index("grid_id").loc[(demand["population"] > 0).to_numpy()]
    np.testing.assert_array_equal(v.reindex(want.index).fillna(0).to_numpy(),
                                  np.minimum(want["vulnerable"], want["population"]).to_numpy())
    if (people == 0).any():
        assert len(r.skipped_grids) == int((people == 0).sum())
    # split grids are exactly the grids with more than one shelter
    n = r.assignments.groupby("grid_id").size()
    assert set(r.split_grids["grid_id"]) == set(n[n > 1].index)


def test_infeasible_capacity_reported_per_township():
    demand = pd.DataFrame({"grid_id": ["a", "b", "c"], "population": [50, 30, 40], "vulnerable": [10, 3, 0],
                           "township": ["东乡", "东乡", "西乡"]})
    shelters = pd.DataFrame({"shelter_id": ["s1", "s2"], "capacity": [60, 40], "township": ["东乡", "西乡"]})
    table = pd.DataFrame({"origin_id": ["a", "b", "c"], "dest_id": ["s1", "s1", "s2"], "cost": [100, 200, 50]})
    r = assign(demand, shelters, table)
    s = r.summary
    assert (s["people_to_evacuate"], s["people_placed"], s["people_unplaced"]) == (120, 100, 20)
    u = r.unplaced.set_index("township")
    assert list(u.index) == ["东乡"]
    assert u.loc["东乡", "people_unplaced"] == 20 and u.loc["东乡", "capacity_missing"] == 20
    assert u.loc["东乡", "people_to_evacuate"] == 80 and u.loc["东乡", "capacity"] == 60
    # the nearer grid a (cost 100) is placed first: b loses 20
    assert r.unplaced_grids.set_index("grid_id").loc["b", "people_unplaced"] == 20
    assert r.unplaced_grids.set_index("grid_id").loc["b", "reason"] == "capacity"
    assert r.shelters.set_index("shelter_id").loc["s1", "spare"] == 0
    assert s["person_km"] == pytest.approx((50 * 100 + 10 * 200 + 40 * 50) / 1000)
    assert any("cannot be placed" in en for _, en in r.notes)


def test_widening_k_places_what_k1_misses():
    demand = pd.DataFrame({"grid_id": ["g1", "g2"], "population": [10, 10]})
    shelters = pd.DataFrame({"shelter_id": ["s1", "s2"], "capacity": [10, 10]})
    table = pd.DataFrame({"origin_id": ["g1", "g1", "g2", "g2"], "dest_id": ["s1", "s2", "s1", "s2"],
                          "cost": [1.0, 100.0, 2.0, 5.0]})
    r1 = assign(demand, shelters, table, widen=(1,))
    assert r1.summary["people_unplaced"] == 10
    r = assign(demand, shelters, table, widen=(1, 2))
    assert r.summary["people_unplaced"] == 0 and r.summary["k"] == 2 and r.summary["k_tried"] == [1, 2]
    a = r.assignments.set_index("grid_id")["shelter_id"]
    assert a["g1"] == "s1" and a["g2"] == "s2"


def test_widening_with_candidate_costs_callable_and_bound():
    """A callable is asked for larger K; a bound from the candidates stops the search when nothing more fits."""
    rng = np.random.default_rng(0)
    oxy = rng.uniform(0, 10_000, (30, 2))
    dxy = rng.uniform(0, 10_000, (6, 2))
    demand = pd.DataFrame({"grid_id": np.arange(30).astype(str), "population": rng.integers(5, 40, 30)})
    shelters = pd.DataFrame({"shelter_id": np.arange(6).astype(str), "capacity": [30, 30, 30, 30, 30, 30]})
    asked = []

    def costs(k):
        asked.append(k)
        return straight_line_costs(oxy, dxy, k=k, origin_ids=demand["grid_id"], dest_ids=shelters["shelter_id"])

    r = assign(demand, shelters, costs, widen=(1, 2, 3, None))
    assert r.summary["people_placed"] == 180 == r.summary["max_placeable"]
    # widened only as needed; then the full table (K=None) once, to price the arcs left out (the certificate)
    assert asked[:-1] == r.summary["k_tried"] and asked[-1] is None and r.summary["optimal"]
    assert r.summary["method"] == "straight_line"


def test_excluded_shelters_and_skipped_grids():
    demand = pd.DataFrame({"grid_id": ["a", "b", "c"], "population": [10, 0, None]})
    shelters = pd.DataFrame({"shelter_id": ["s1", "s2", "s3", "s4", "s5"], "capacity": [100, 0, None, 50, 50],
                             "status": ["available", "available", "available", "unavailable", "available"],
                             "usable": [True, True, True, True, False]})
    table = pd.DataFrame({"origin_id": ["a"] * 5, "dest_id": ["s5", "s4", "s3", "s2", "s1"],
                          "cost": [1.0, 2.0, 3.0, 4.0, 500.0]})
    r = assign(demand, shelters, table, widen=(1,))
    assert r.assignments["shelter_id"].tolist() == ["s1"]  # re-ranked among usable shelters
    ex = r.excluded_shelters.set_index("shelter_id")["reason"].to_dict()
    assert ex == {"s2": "capacity", "s3": "capacity", "s4": "status", "s5": "unusable"}
    assert r.skipped_grids["grid_id"].tolist() == ["b", "c"]
    text = " ".join(en for _, en in r.notes)
    assert "no population" in text and "capacity missing or zero" in text and "status" in text
    assert "flagged unusable" in text
    assert all(zh for zh, _ in r.notes)


def test_unreachable_grid_reported():
    demand = pd.DataFrame({"grid_id": ["a", "b"], "population": [10, 5], "township": ["东乡", "西乡"]})
    shelters = pd.DataFrame({"shelter_id": ["s1"], "capacity": [100]})
    table = pd.DataFrame({"origin_id": ["a"], "dest_id": ["s1"], "cost": [10.0]})
    r = assign(demand, shelters, table)
    ug = r.unplaced_grids.set_index("grid_id")
    assert ug.loc["b", "reason"] == "no_shelter_reachable" and ug.loc["b", "people_unplaced"] == 5
    assert r.unplaced.set_index("township").loc["西乡", "capacity_missing"] == 5


def test_share_integer_sums_exactly():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 20, 300)
    w = rng.integers(0, 50, 300)
    tot_g = rng.integers(0, 40, 20)
    out = share_integer(tot_g[groups], w, groups)
    sums = pd.Series(out).groupby(groups).sum()
    np.testing.assert_array_equal(sums.to_numpy(), tot_g[sums.index])
    assert (out >= 0).all()


def test_widening_moves_a_placed_grid_to_make_room():
    """g2 can only use s1; g1 (placed at K=1) must widen to s2 to make room: the min cut finds it."""
    demand = pd.DataFrame({"grid_id": ["g1", "g2"], "population": [10, 10]})
    shelters = pd.DataFrame({"shelter_id": ["s1", "s2"], "capacity": [10, 10]})
    table = pd.DataFrame({"origin_id": ["g1", "g1", "g2"], "dest_id": ["s1", "s2", "s1"], "cost": [1.0, 50.0, 2.0]})
    r = assign(demand, shelters, table, widen=(1, 2))
    assert r.summary["people_unplaced"] == 0
    a = r.assignments.set_index("grid_id")["shelter_id"]
    assert a["g1"] == "s2" and a["g2"] == "s1"
    assert r.summary["person_km"] == pytest.approx((10 * 50 + 10 * 2) / 1000)


def test_demo_county_end_to_end(demo_workspace):
    """Roads, grids and shelters of the demo county: a flood cuts roads, the plan respects capacity."""
    import geopandas as gpd
    import shapely

    from gis.flood.hazard import wet_mask_sampler
    from gis.flood.needs import minimum_needs
    from gis.flood.roads import build_graph, cut_flooded, network_costs, route_lines
    from gis.tallies import leaf_grids

    gpkg = demo_workspace / "workspace.gpkg"
    roads = gpd.read_file(gpkg, layer="roads")
    grids = leaf_grids(gpd.read_file(gpkg, layer="grids"))
    shelters = gpd.read_file(gpkg, layer="shelters")
    g = build_graph(roads)
    assert g.n_edges > 1000 and g.crs.to_epsg() in range(4534, 4555)
    middle = (g.xy.min(axis=0) + g.xy.max(axis=0)) / 2
    centre = shapely.Point(g.xy[np.argmin(np.hypot(*(g.xy - middle).T))])  # the road node nearest the middle
    cut = cut_flooded(g, wet_mask_sampler(centre.buffer(1500), crs=g.crs))
    assert 0 < int(cut.cut.sum()) < g.n_edges
    oxy = shapely.get_coordinates(shapely.centroid(grids.geometry.to_crs(g.crs).values))
    dxy = shapely.get_coordinates(shelters.geometry.to_crs(g.crs).values)
    c = network_costs(cut, oxy, dxy, k=10, origin_ids=grids["grid_id"], dest_ids=shelters["shelter_id"])
    r = assign(grids, shelters, c)
    s = r.summary
    assert s["people_placed"] + s["people_unplaced"] == s["people_to_evacuate"] == int(grids["population"].sum())
    assert (r.shelters["load"] <= r.shelters["capacity"]).all()
    pairs = r.assignments.head(20)
    onode = c.origins.set_index("origin_id").loc[pairs["grid_id"], "node"].to_numpy()
    dnode = c.dests.set_index("dest_id").loc[pairs["shelter_id"], "node"].to_numpy()
    net = c.table.set_index(["origin_id", "dest_id"]).loc[list(zip(pairs["grid_id"], pairs["shelter_id"])), "network"]
    routes = route_lines(cut, onode, dnode, limits=net.to_numpy())
    net = c.table.set_index(["origin_id", "dest_id"]).loc[list(zip(pairs["grid_id"], pairs["shelter_id"])), "network"]
    np.testing.assert_allclose(routes["length_m"].to_numpy(), net.to_numpy(), rtol=1e-9, atol=1e-6)
    n = minimum_needs(r.shelters)
    assert n.loc["合计/Total", "people"] == s["people_placed"]


def _plain_ortools(table: pd.DataFrame, people: pd.Series, capacity: pd.Series) -> tuple[int, int]:
    """Max flow, then min-cost flow of that value, on the whole table: OR-Tools with nothing left out."""
    from ortools.graph.python import max_flow, min_cost_flow

    g, s = pd.Index(people.index), pd.Index(capacity.index)
    gi, si = g.get_indexer(table["origin_id"]), s.get_indexer(table["dest_id"])
    ng, ns = len(g), len(s)
    src, sink = ng + ns, ng + ns + 1
    tails = np.concatenate([np.full(ng, src), gi, ng + np.arange(ns)])
    heads = np.concatenate([np.arange(ng), ng + si, np.full(ns, sink)])
    caps = np.concatenate([people.to_numpy(), people.to_numpy()[gi], capacity.to_numpy()]).astype(np.int64)
    mf = max_flow.SimpleMaxFlow()
    mf.add_arcs_with_capacity(tails, heads, caps)
    mf.solve(src, sink)
    value = mf.optimal_flow()
    mc = min_cost_flow.SimpleMinCostFlow()
    cost = np.concatenate([np.zeros(ng), np.rint(table["cost"].to_numpy()), np.zeros(ns)]).astype(np.int64)
    mc.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, cost)
    sup = np.zeros(ng + ns + 2, dtype=np.int64)
    sup[src], sup[sink] = value, -value
    mc.set_nodes_supplies(np.arange(ng + ns + 2), sup)
    mc.solve()
    return int(value), int(mc.optimal_cost())


@pytest.mark.parametrize("seed", range(6))
def test_widened_plan_equals_plain_ortools_on_the_full_table(seed):
    """Tight capacity makes the optimum use arcs beyond each grid's first K: pricing brings them in."""
    rng = np.random.default_rng(seed)
    ng, ns = 120, 25
    oxy, dxy = rng.uniform(0, 20_000, (ng, 2)), rng.uniform(0, 20_000, (ns, 2))
    people = pd.Series(rng.integers(5, 60, ng), index=np.arange(ng).astype(str))
    capacity = pd.Series(rng.integers(20, 200, ns), index=np.arange(ns).astype(str))
    full = straight_line_costs(oxy, dxy, k=None, origin_ids=people.index, dest_ids=capacity.index).table
    demand = pd.DataFrame({"grid_id": people.index, "people": people.to_numpy()})
    shelters = pd.DataFrame({"shelter_id": capacity.index, "capacity": capacity.to_numpy()})
    r = assign(demand, shelters, full, widen=(2, 4, None))
    value, best = _plain_ortools(full, people, capacity)
    assert r.summary["people_placed"] == value
    ours = int((r.assignments["people"] * np.rint(r.assignments["cost"])).sum())
    assert ours == best and r.summary["optimal"]


class _WideningProvider:
    """A provider whose walking reach, once widened, makes a known pair cheaper (road 1,000 m, walk 100 m)."""

    def __init__(self) -> None:
        self.extended = False

    def _table(self) -> pd.DataFrame:
        rows = [("g0", "A", 100.0), ("g0", "B", 500.0)] if self.extended else [("g0", "A", 1000.0)]
        return pd.DataFrame(rows, columns=["origin_id", "dest_id", "cost"])

    def for_grids(self, k, grid_ids, shelter_ids=None, bias=None) -> pd.DataFrame:
        t = self._table()
        t = t[t["origin_id"].isin(list(grid_ids))]
        if shelter_ids is not None:
            t = t[t["dest_id"].isin(list(shelter_ids))]
        key = t["cost"] + (0.0 if bias is None else bias.reindex(t["dest_id"]).to_numpy())
        t = t.assign(key=key).sort_values(["origin_id", "key"])
        return (t if k is None else t.groupby("origin_id").head(k)).drop(columns="key")

    def extend(self, grid_ids) -> int:
        self.extended = True
        return 2

    def could_widen(self, grid_ids, shelter_ids) -> np.ndarray:
        return np.ones(len(grid_ids), dtype=bool)

    def price(self, grid_dual: pd.Series, shelter_dual: pd.Series) -> np.ndarray:
        t = self._table()
        rc = t["cost"] + grid_dual.reindex(t["origin_id"]).to_numpy() - shelter_dual.reindex(t["dest_id"]).to_numpy()
        return t.loc[rc <= -0.5, "origin_id"].unique()


def test_a_pair_listed_again_cheaper_takes_the_lower_cost():
    """A grid first reaches shelter A by road (1,000 m); widened to its walking reach it walks there in 100 m.
    The pair is in the problem already, at the road's cost: the certificate must lower it, not pass over it
    as 'known' (the optimum is 5 x 100 + 5 x 500, not 5 x 1,000 + 5 x 500)."""
    demand = pd.DataFrame({"grid_id": ["g0"], "population": [10], "township": ["T"]})
    shelters = pd.DataFrame({"shelter_id": ["A", "B"], "capacity": [5, 10], "township": ["T", "T"]})
    r = assign(demand, shelters, _WideningProvider())
    assert r.summary["people_placed"] == 10
    assert r.summary["optimal"]
    got = r.assignments.set_index("shelter_id")[["people", "cost"]]
    assert got.loc["A", "cost"] == 100.0 and got.loc["A", "people"] == 5
    assert r.summary["person_km"] * 1000 == pytest.approx(5 * 100 + 5 * 500)
