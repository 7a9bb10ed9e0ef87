"""The operations analysis on tiny synthetic data: area, call-out chain, progress, needs, dispatch (checked against
HiGHS), re-plan (the flood plan's assignment with current occupancy)."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.ops.area import choose_area
from gis.ops.callout import callout_list
from gis.ops.dispatch import ITEM_WEIGHT_T, ITEMS, _flow, dispatch_plan, distance_matrix, shelter_needs
from gis.ops.progress import grid_status
from gis.ops.session import Operations, parse_minutes
from layers.errors import AnalysisRefused, LayerError
from layers.events import to_datetime, to_iso
from tests.ops_data import X0, Y0, tiny_layers, write_workspace


@pytest.fixture
def layers():
    return tiny_layers()


@pytest.fixture
def ops(tmp_path):
    return Operations(write_workspace(tmp_path / "ws", tiny_layers()))


# ---- area ------------------------------------------------------------------------------------------------------------
def test_area_by_each_way(layers):
    g, s = layers["grids"], layers["shelters"]

    def ids(**kw):
        return sorted(choose_area(g, shelters=s, **kw).grids["grid_id"])

    assert ids(everything=True) == ["G12", "G21", "H111", "H112"]
    assert ids(townships=["一乡"]) == ["G12", "H111", "H112"]
    assert ids(villages=["二乡/乙村"]) == ["G21"] and ids(villages=["甲村"]) == ["G12", "H111", "H112"]
    assert ids(grid_ids=["G11"]) == ["H111", "H112"]          # a grid above the leaves stands for them
    assert ids(grid_ids=["T2", "H111"]) == ["G21", "H111"]
    assert ids(polygon=shapely.box(X0 + .09, Y0, X0 + .2, Y0 + .2)) == ["G21"]
    a = choose_area(g, shelters=s, everything=True).grids.set_index("grid_id")
    assert a["planned_shelter"].to_dict() == {"G12": "S2", "G21": "S3", "H111": "S1", "H112": "S1"}
    assert a["people"].to_dict() == {"G12": 40, "G21": 50, "H111": 30, "H112": 20}


@pytest.mark.parametrize("kw, match", [
    ({"townships": ["三乡"]}, "no township '三乡'"),
    ({"grid_ids": ["X9"]}, "no grid 'X9'"),
    ({}, "one way"),
    ({"townships": ["一乡"], "everything": True}, "one way"),
    ({"polygon": shapely.box(0, 0, 1, 1)}, "no leaf transfer grid"),
])
def test_area_refusals(layers, kw, match):
    with pytest.raises(AnalysisRefused, match=match):
        choose_area(layers["grids"], **kw)


# ---- call-out chain --------------------------------------------------------------------------------------------------
def test_callout_chain_levels_people_and_escalation(layers):
    a = choose_area(layers["grids"], shelters=layers["shelters"], everything=True)
    co = callout_list(layers["grids"], a.grids, shelters=layers["shelters"], villages=layers["villages"])
    c = co.contacts.set_index("contact_id")
    # top-down: county, townships, villages, groups, household clusters, then shelters
    assert c["level"].tolist() == ["county", "township", "township", "village", "village", "village", "group",
                                   "group", "household", "household", "shelter", "shelter", "shelter"]
    assert c["seq"].tolist() == list(range(1, 14))
    # people answered for: every leaf grid under any of the person's grids, counted once
    assert c.loc["13900000000", "people"] == 140 and c.loc["13900000000", "grids"] == 4
    assert c.loc["13900000001", "people"] == 90
    # the head of 甲村 also answers for group 2 (phone written 139-0000-0011 and 13900000011): one call, 90 people
    assert c.loc["13900000011", "people"] == 90 and c.loc["13900000011", "grid_id"] == "V1"
    assert "G12" in c.loc["13900000011", "roles"] and "V1" in c.loc["13900000011", "roles"]
    assert c.loc["13900000111", "people"] == 50
    # a grid without a phone still has a contact, keyed by its grid
    assert c.loc["G:H112", "phone"] == "" and c.loc["G:H112", "people"] == 20
    assert any("no phone" in n.en for n in co.notes)
    # escalation: the person of the grid above; a shelter or village head: its township's grid
    esc = c["escalate_id"].to_dict()
    assert pd.isna(esc["13900000000"])
    assert esc["13900000001"] == "13900000000" and esc["13900000011"] == "13900000001"
    assert esc["13900000111"] == "13900000011" and esc["G:H112"] == "13900000111"
    assert esc["13700000001"] == "13900000001" and esc["13700000003"] == "13900000002"
    assert esc["13600000001"] == "13900000001" and c.loc["13600000001", "level"] == "village"
    # shelters: people planned to each
    assert c.loc["13700000001", "people"] == 50 and c.loc["13700000002", "people"] == 40
    assert co.shelters.set_index("shelter_id")["planned"].to_dict() == {"S1": 50, "S2": 40, "S3": 50}


def test_callout_of_one_township_calls_the_county_too(layers):
    a = choose_area(layers["grids"], shelters=layers["shelters"], townships=["二乡"])
    c = callout_list(layers["grids"], a.grids, shelters=layers["shelters"]).contacts
    assert c["contact_id"].tolist() == ["13900000000", "13900000002", "13900000021", "13900000211", "13700000003"]
    assert c["people"].tolist() == [50, 50, 50, 50, 50]


def test_callout_escalates_past_the_same_person():
    from tests.ops_data import tiny_layers as t

    L = t()
    g = L["grids"]
    g.loc[g["grid_id"] == "G11", "phone"] = "13900000011"          # the village head also heads group 1
    a = choose_area(g, everything=True)
    c = callout_list(g, a.grids).contacts.set_index("contact_id")
    assert c.loc["13900001111", "escalate_id"] == "13900000011"
    assert c.loc["13900000011", "escalate_id"] == "13900000001"   # not themself


# ---- progress --------------------------------------------------------------------------------------------------------
def test_grid_status_rules():
    s = grid_status(np.array([10, 10, 10, 10, 10]), np.array([0, 0, 4, 10, 9]), np.array([0, 0, 0, 0, 1]),
                    np.array([0, 0, 0, 0, 0]), np.array([False, True, True, True, True]))
    assert s.tolist() == ["warned", "acknowledged", "moving", "done", "problem"]


def test_progress_statuses_overdue_and_replay(ops):
    iss = ops.warn("red", everything=True, issuer="t", at=to_iso(to_datetime(_now()) - timedelta(minutes=40)))
    w = iss.warning
    t0 = to_datetime(w.issued_at)

    def at(minutes: float) -> str:
        return to_iso(t0 + timedelta(minutes=minutes))

    ops.ack(w.warning_id, "13900000011", at=at(5))          # the village head: V1 and G12
    ops.ack(w.warning_id, "13900001111", at=at(20))         # H111's person, after the 15-minute red deadline
    ops.report(w.warning_id, "H111", moved=30, at=at(25))
    ops.report(w.warning_id, "G12", moved=10, at=at(26))
    ops.report(w.warning_id, "G21", moved=40, refused=2, at=at(27))
    ops.checkin(w.warning_id, "S1", people=25, households=8, at=at(30))
    ops.checkin(w.warning_id, "S2", people=30, at=at(31))
    p = ops.progress(w.warning_id, at=at(35))
    st = p.grids.set_index("grid_id")["status"].to_dict()
    assert st == {"H111": "done", "G12": "moving", "G21": "problem", "H112": "warned"}
    t = p.totals
    assert (t["people_moved"], t["people_refused"], t["people_remaining"]) == (80, 2, 60)
    assert (t["people_checked_in"], t["acknowledged"], t["contacts"]) == (55, 2, 13)
    assert t["overdue"] == 11 and t["deadline_minutes"] == 15
    over = p.contacts.set_index("contact_id")
    assert over.loc["13900000111", "overdue"] and over.loc["13900000111", "minutes_late"] == pytest.approx(20.0)
    assert over.loc["13900000111", "escalate_name"] == "村甲" and not over.loc["13900000111", "escalate_overdue"]
    assert over.loc["G:H112", "escalate_overdue"]           # its escalation target has not acknowledged either
    # shelters: S2 full (30 of 30); S1 holds 25 of 60, with 5 of H111's 30 still on the way
    sh = p.shelters.set_index("shelter_id")
    assert bool(sh.loc["S2", "full"]) and t["shelters_full"] == 1
    assert sh.loc["S1", "in_transit"] == 5 and sh.loc["S1", "spare"] == 30
    assert sh.loc["S3", "in_transit"] == 40 and sh.loc["S3", "spare"] == 60
    assert t["people_unplaced"] == max(0, 60 - (30 + 0 + 60))
    assert any(n.code == "shelter_full" for n in p.notes)
    # the same warning replayed at minute 10: one acknowledgment, nothing moved, nobody overdue yet
    early = ops.progress(w.warning_id, at=at(10)).totals
    assert (early["acknowledged"], early["people_moved"], early["people_checked_in"], early["overdue"]) == (1, 0, 0, 0)
    # a longer deadline (blue-like) leaves them not overdue
    assert ops.progress(w.warning_id, at=at(35), ack_minutes={"red": 60}).totals["overdue"] == 0
    # the timeline ends at the totals and never goes down
    tl = p.timeline
    assert tl.iloc[-1][["acknowledged", "people_moved", "people_checked_in"]].tolist() == [2, 80, 55]
    assert (tl[["acknowledged", "people_moved", "people_checked_in"]].diff().fillna(0) >= 0).all().all()
    tw = p.townships
    assert tw.loc["一乡", "moved"] == 40 and tw.loc["二乡", "refused"] == 2 and tw.loc["一乡", "checked_in"] == 55


def test_deadline_is_level_dependent(ops):
    iss_red = ops.warn("red", townships=["一乡"], at=to_iso(to_datetime(_now()) - timedelta(minutes=45)))
    iss_blue = ops.warn("blue", townships=["一乡"], at=iss_red.warning.issued_at)
    now = to_iso(to_datetime(iss_red.warning.issued_at) + timedelta(minutes=45))
    assert ops.progress(iss_red.warning.warning_id, at=now).totals["overdue"] == iss_red.warning.contacts
    assert ops.progress(iss_blue.warning.warning_id, at=now).totals["overdue"] == 0
    assert parse_minutes("red=10, blue=90") == {"red": 10.0, "blue": 90.0}
    with pytest.raises(LayerError):
        parse_minutes("purple=3")


def _now() -> str:
    from layers.events import now_iso

    return now_iso()


# ---- needs and dispatch ----------------------------------------------------------------------------------------------
def test_shelter_needs_golden():
    occ = pd.DataFrame({"shelter_id": ["A", "B", "C"], "checked_in": [10, 0, 7], "households_in": [4, 0, 0],
                        "capacity": [8, 50, 100], "type": ["school", "school", "tent_site"]})
    n = shelter_needs(occ, days=3)
    assert n.loc["A"].to_dict() == {"people": 10, "rice_kg": 12, "drinking_l": 90, "tents": 1, "quilts": 10,
                                    "family_kits": 4}
    assert n.loc["B", list(ITEMS)].sum() == 0
    assert n.loc["C"].to_dict() == {"people": 7, "rice_kg": 9, "drinking_l": 63, "tents": 2, "quilts": 7,
                                    "family_kits": 2}
    sent = pd.DataFrame({"rice_kg": [5], "quilts": [20]}, index=["A"])
    less = shelter_needs(occ, days=3, delivered=sent)
    assert (less.loc["A", "rice_kg"], less.loc["A", "quilts"]) == (7, 0)


def _lp(stock, need, cost):
    """The same transport problem with scipy's HiGHS: deliver the most, then at least cost."""
    from scipy.optimize import linprog

    nd, ns = cost.shape
    big = (nd + ns + 1) * (cost.max() + 1)
    c = (cost - big).ravel()
    a_ub = np.zeros((nd + ns, nd * ns))
    for i in range(nd):
        a_ub[i, i * ns:(i + 1) * ns] = 1
    for j in range(ns):
        a_ub[nd + j, j::ns] = 1
    res = linprog(c, A_ub=a_ub, b_ub=np.r_[stock, need], bounds=(0, None), method="highs")
    x = res.x.reshape(nd, ns)
    return x.sum(), float((x * cost).sum())


@pytest.mark.parametrize("seed", range(12))
def test_min_cost_flow_is_exact_against_highs(seed):
    rng = np.random.default_rng(seed)
    nd, ns = rng.integers(2, 6), rng.integers(3, 14)
    stock = rng.integers(0, 60, nd)
    need = rng.integers(0, 40, ns)
    cost = rng.integers(100, 20_000, (nd, ns)).astype(float)
    q = _flow(stock, need, cost)
    assert (q.sum(axis=1) <= stock).all() and (q.sum(axis=0) <= need).all() and (q >= 0).all()
    delivered, best = _lp(stock.astype(float), need.astype(float), cost)
    assert q.sum() == pytest.approx(delivered) == min(stock.sum(), need.sum())
    assert float((q * cost).sum()) == pytest.approx(best, rel=1e-9)


def test_dispatch_along_roads_with_shortages(layers):
    needs = shelter_needs(pd.DataFrame({"shelter_id": ["S1", "S2", "S3"], "checked_in": [40, 30, 50],
                                        "capacity": [60, 30, 100]}), days=1)
    d = dispatch_plan(layers["depots"], layers["shelters"], needs, roads=layers["roads"])
    items = d.items
    # stocks: rice 140 kg for 120 people x 0.4 kg = 48 kg: all delivered; quilts 60 for 120 people: 60 short
    assert items.loc["rice_kg", "need"] == 48 and items.loc["rice_kg", "short"] == 0
    assert items.loc["quilts", "supplied"] == 60 and items.loc["quilts", "short"] == 60
    assert d.shortages() == {"quilts": 60.0, "family_kits": 9.0}       # kits: 8 + 6 + 10 needed, 15 in stock
    assert (d.shipments["method"] == "road").all()
    # the nearest depot serves first: S3 (east) gets its rice from D2 (east) as far as D2 has it
    s3 = d.shipments[(d.shipments["shelter_id"] == "S3") & (d.shipments["item"] == "rice_kg")]
    assert s3.set_index("depot_id")["quantity"].get("D2") == 20
    ton_km = (d.shipments["quantity"] * d.shipments["item"].map(ITEM_WEIGHT_T) * d.shipments["distance_km"]).sum()
    assert d.ton_km == pytest.approx(ton_km, rel=1e-3)
    assert len(d.routes) == len(d.shipments[["depot_id", "shelter_id"]].drop_duplicates())
    s = d.summary()
    assert set(s) >= {"shipments", "ton_km", "shortages", "items"} and s["shipments_n"] == len(d.shipments)


def test_road_distance_is_the_path_plus_access_legs(layers):
    from gis.flood.roads import build_graph
    from layers.crs import metric_crs

    crs = metric_crs((X0, Y0, X0 + .2, Y0 + .2))
    g = build_graph(layers["roads"], crs=crs)
    dep = layers["depots"].to_crs(crs)
    sh = layers["shelters"].to_crs(crs)
    dm = distance_matrix(np.c_[dep.geometry.x, dep.geometry.y], np.c_[sh.geometry.x, sh.geometry.y], g)
    # D1 -> S3: down the first branch, then along the main road to S3 (both stand on a road vertex)
    road = layers["roads"].to_crs(crs)
    foot = gpd.GeoSeries(shapely.points([[X0 + .02, Y0 + .15]]), crs=4490).to_crs(crs).iloc[0]
    expected = road.length.iloc[1] + foot.distance(sh.geometry.iloc[2])
    assert dm["road"].all()
    assert dm["dist"][0, 2] == pytest.approx(expected, rel=1e-6)
    assert dm["dist"][0, 0] < dm["dist"][0, 1] < dm["dist"][0, 2]
    # no roads: straight line x 1.4, labelled
    sl = distance_matrix(np.c_[dep.geometry.x, dep.geometry.y], np.c_[sh.geometry.x, sh.geometry.y], None)
    assert not sl["road"].any()
    assert sl["dist"][0, 0] == pytest.approx(1.4 * dep.geometry.iloc[0].distance(sh.geometry.iloc[0]))


def test_dispatch_deducts_what_was_sent(ops):
    w = ops.warn("red", everything=True).warning.warning_id
    ops.checkin(w, "S1", people=40)
    first, entry = ops.dispatch(w, days=1, record=True, user="t")
    assert entry is not None and first.items.loc["rice_kg", "supplied"] == 16
    again, _ = ops.dispatch(w, days=1)
    assert again.items["need"].sum() == first.items["short"].sum()
    assert again.items.loc["rice_kg", "stock"] == 140 - 16
    ops.checkin(w, "S1", people=10)
    more, _ = ops.dispatch(w, days=1)
    assert more.items.loc["rice_kg", "need"] == 4


def test_dispatch_without_depots_is_refused(tmp_path):
    L = tiny_layers()
    del L["depots"]
    o = Operations(write_workspace(tmp_path / "ws", L))
    w = o.warn("red", everything=True).warning.warning_id
    o.checkin(w, "S1", people=5)
    with pytest.raises(AnalysisRefused, match="no reserve depots"):
        o.dispatch(w)


# ---- re-plan ---------------------------------------------------------------------------------------------------------
def test_replan_is_the_flood_plans_assignment_with_current_occupancy(ops, layers):
    from gis.flood.exposure import EvacuationRule
    from gis.flood.hazard import Hazard
    from gis.flood.plan import PlanOptions, evacuation_plan

    w = ops.warn("red", everything=True).warning.warning_id
    ops.report(w, "H111", moved=30)                  # 30 on their way to S1
    ops.checkin(w, "S1", people=20)                  # 20 of them arrived
    ops.report(w, "G21", moved=10, absent=5, refused=3)
    ops.checkin(w, "S3", people=70)                  # S3 also took 60 people from elsewhere
    r = ops.replan(w)
    left = r.grids.set_index("grid_id")["remaining"].to_dict()
    assert left == {"G12": 40, "G21": 35, "H111": 0, "H112": 20}
    cap = r.shelters.set_index("shelter_id")
    # S1: 60 - max(20 checked in, 30 moved there); S3: 100 - 70 checked in (more than the 10 moved there)
    assert cap.loc["S1", "remaining_capacity"] == 30 and cap.loc["S3", "remaining_capacity"] == 30
    assert cap.loc["S2", "remaining_capacity"] == 30
    s = r.summary
    assert s["people_remaining"] == 95 and s["people_placed"] + s["people_unplaced"] == 95
    assert s["people_placed"] == 90 and s["people_unplaced"] == 5 and s["people_refusing"] == 3
    load = r.plan.assignments.groupby("shelter_id")["people"].sum()
    assert all(load.get(k, 0) <= cap.loc[k, "remaining_capacity"] for k in ("S1", "S2", "S3"))
    # the same numbers as calling the flood plan directly with those people and capacities
    grids = layers["grids"].set_index("grid_id").loc[["G12", "G21", "H112"]].reset_index()
    grids["population"] = [40, 35, 20]
    grids = grids.drop(columns=["parent_id"])
    sh = layers["shelters"].assign(capacity=[30, 30, 30])
    marks = grids.geometry.representative_point().to_crs(32650).buffer(1.0).to_crs(4490)
    direct = evacuation_plan(grids, sh, Hazard.from_polygons(gpd.GeoDataFrame(geometry=marks, crs=4490)),
                             roads=layers["roads"], options=PlanOptions(rule=EvacuationRule(min_share=0.0),
                                                                        cut_roads=False))
    assert direct.summary["people_placed"] == s["people_placed"]
    assert direct.summary["person_km"] == pytest.approx(s["person_km"], abs=0.1)
    pd.testing.assert_series_equal(direct.assignments.groupby("shelter_id")["people"].sum(), load)


def test_replan_keeps_away_from_the_flood(ops, layers):
    w = ops.warn("red", everything=True).warning.warning_id
    wet = gpd.GeoDataFrame(geometry=[shapely.box(X0 + .15, Y0 + .1, X0 + .2, Y0 + .2)], crs=4490)   # over S3
    r = ops.replan(w, flood=wet)
    assert "S3" not in set(r.plan.assignments["shelter_id"])
    assert any(n.code == "replan_shelters_wet" for n in r.notes)
    assert r.summary["people_placed"] == 90 and r.summary["people_unplaced"] == 50


def test_replan_with_nobody_left_is_refused(ops):
    w = ops.warn("red", townships=["二乡"]).warning.warning_id
    ops.report(w, "G21", moved=50)
    with pytest.raises(AnalysisRefused, match="nobody is left"):
        ops.replan(w)


def test_dispatch_avoids_flooded_roads(layers):
    needs = shelter_needs(pd.DataFrame({"shelter_id": ["S1", "S3"], "checked_in": [40, 50], "capacity": [60, 100]}),
                          days=1)
    dry = dispatch_plan(layers["depots"], layers["shelters"], needs, roads=layers["roads"])
    wet_zone = gpd.GeoDataFrame({"depth": [1.0]}, geometry=[shapely.box(X0 + .1, Y0 + .14, X0 + .12, Y0 + .16)],
                                crs=4490)
    wet = dispatch_plan(layers["depots"], layers["shelters"], needs, roads=layers["roads"], flood=wet_zone)
    assert any(n.code == "dispatch_roads_cut" for n in wet.notes)
    # the main road is cut between the two halves: whatever crosses it is a straight-line estimate, labelled
    crossing = wet.shipments[(wet.shipments["depot_id"] == "D1") & (wet.shipments["shelter_id"] == "S3")]
    assert (crossing["method"] == "straight_line").all()
    assert (dry.shipments["method"] == "road").all()
    assert len(crossing) and any(n.code == "dispatch_straight_shipments" for n in wet.notes)
    assert not any(n.code == "dispatch_straight_shipments" for n in dry.notes)
