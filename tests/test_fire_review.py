"""The fire review as one object: built alike from the page's widgets, the command line and a saved review;
each step memoised on its own key; the page and ``fire-report`` offer the same options."""

from __future__ import annotations

import shutil
from dataclasses import fields

import pytest

from gis.cli import build_parser
from gis.cli.fire_report import CANDIDATE_FLAGS, FLAGS, review_from_args
from gis.fire.review import FireInputs, FireReview, Weather
from layers.errors import AnalysisRefused, LayerError

#: a review with every field away from its default
ODD = FireReview(season="wet", weights={"fuel": 0.4, "graves": 0.0}, weather=(30, 20, 10, 5, 2.5), cameras=True,
                 water=True, gaps=True, site_cameras=0, site_water=0, township="云溪乡", target_h=10.0,
                 curvature=True, refraction=0.1, rules={"pond": (1500, 300), "tank": (600, None)}, max_road_m=800.0,
                 min_gap_ha=2.0, camera_height=25.0, camera_range=6000.0, water_distance_m=1000.0, water_rise_m=200.0,
                 camera_max_road_m=300.0, water_max_road_m=400.0, min_prominence_m=15.0, spacing_m=800.0,
                 max_candidates=100)
ODD_ARGV = ["--season", "wet", "--weights", "fuel=0.4,graves=0", "--weather", "30,20,10,5,2.5", "--township", "云溪乡",
            "--target-height", "10", "--refraction", "0.1", "--rules", "pond=1500:300,tank=600:",
            "--max-road-distance", "800", "--min-gap-ha", "2", "--camera-height", "25", "--camera-range", "6000",
            "--water-distance", "1000", "--water-rise", "200", "--camera-max-road", "300", "--water-max-road", "400",
            "--min-prominence", "15", "--spacing", "800", "--max-candidates", "100"]


def _args(extra: list[str]):
    return build_parser().parse_args(["fire-report", "--workspace", "w.gpkg", "--out", "o", *extra])


def test_every_review_field_has_a_flag_and_a_widget():
    from ui.page_fire import CANDIDATE_WIDGETS, WIDGETS

    names = {f.name for f in fields(FireReview)}
    assert set(FLAGS) == names == set(WIDGETS)
    assert set(CANDIDATE_FLAGS) == set(CANDIDATE_WIDGETS) == {"camera", "water"}
    sub = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command").choices["fire-report"]
    options = {o for a in sub._actions for o in a.option_strings}
    assert set(FLAGS.values()) | set(CANDIDATE_FLAGS.values()) <= options


def test_flags_build_the_review_and_each_flag_reaches_its_field():
    assert review_from_args(_args([])) == FireReview()
    assert review_from_args(_args(ODD_ARGV)) == ODD
    steps = review_from_args(_args(["--no-cameras", "--no-water", "--no-gaps", "--no-curvature", "--site-cameras",
                                    "3", "--site-water", "2", "--water-rise", "-1", "--water-max-road", "-1"]))
    assert (steps.cameras, steps.water, steps.gaps, steps.curvature) == (False, False, False, False)
    assert (steps.site_cameras, steps.site_water, steps.water_rise_m, steps.water_max_road_m) == (3, 2, None, None)
    # every field of ODD differs from the default: each flag above set one
    assert all(getattr(ODD, f.name) != getattr(FireReview(), f.name) for f in fields(FireReview)
               if f.name not in ("cameras", "water", "gaps", "curvature", "site_cameras", "site_water"))


def test_saved_params_round_trip_and_validation():
    import json

    params = json.loads(json.dumps(ODD.to_params()))        # as stored in the workspace
    assert FireReview.from_params(params) == ODD
    assert FireReview.from_params({"season": "dry", "unknown": 1}) == FireReview()
    assert ODD.rules_dict()["pond"].distance_m == 1500 and ODD.rules_dict()["tank"].rise_m is None
    assert ODD.weights_dict() == {"fuel": 0.4, "graves": 0.0}
    assert hash(ODD) == hash(FireReview.from_params(params))           # a memo key
    for bad in ({"season": "spring"}, {"weights": "wind=1"}, {"site_cameras": -1}, {"rules": "lake=5:5"},
                {"weather": (30, 140, 3, 2)}, {"camera_range": 0}, {"min_gap_ha": float("nan")}):
        with pytest.raises(LayerError):
            FireReview(**bad)
    assert Weather.of("30，25，10，4") == Weather(30, 25, 10, 4)
    assert "pond" in ODD.describe("en") and "雨季" in ODD.describe("zh")


@pytest.fixture(scope="module")
def demo_inputs(demo_workspace):
    from layers.workspace import Workspace

    ws = Workspace(demo_workspace)
    return FireInputs(ws.raster("dem"), {k: ws.vector(k) for k in ws.vector_kinds()}, key="demo")


def test_one_run_memoised_per_step(demo_inputs):
    """A memo sees each step's key; a new season recomputes only the reach and what depends on it."""
    store: dict = {}
    computed: list[str] = []

    def memo(step, key, compute):
        if (step, key) not in store:
            computed.append(step)
            store[(step, key)] = compute()
        return store[(step, key)]

    dry = FireReview(weather=(30, 25, 10, 4)).run(demo_inputs, memo=memo)
    assert computed == ["risk", "cameras", "reach", "townships", "gaps", "weather"]
    computed.clear()
    wet = dry.review.with_(season="wet").run(demo_inputs, memo=memo)
    assert computed == ["reach", "townships", "gaps"]
    assert wet.total["high_reach_share"] >= dry.total["high_reach_share"]
    assert wet.seen is dry.seen and wet.weather == dry.weather            # taken from the memo as they were
    computed.clear()
    FireReview(weather=(20, 60, 1, 1)).run(demo_inputs, memo=memo)
    assert computed == ["weather"]
    # typed result: no attrs side channels, the review and layers travel with it
    assert dry.review.weather == Weather(30, 25, 10, 4) and dry.weather.level == 5
    assert dry.layers["forest"] is demo_inputs.layers["forest"] and not dry.gaps.attrs
    # steps switched off leave their parts out
    bare = FireReview(cameras=False, water=False, gaps=False).run(demo_inputs, memo=memo)
    assert bare.seen is None and bare.reach is None and len(bare.gaps) == 0 and bare.total["forest_ha"] > 0


def test_siting_in_the_review_and_refusals(demo_inputs):
    r = FireReview(site_water=2, cameras=False).run(demo_inputs)
    assert [len(s.sites) for s in r.sites] == [2] and set(r.sites[0].sites["kind"]) == {"water"}
    assert any(n.code == "new_water_reach" for n in r.notes)
    with pytest.raises(AnalysisRefused):
        FireReview().run(FireInputs(demo_inputs.dem, {}))
    with pytest.warns(UserWarning):
        FireReview(cameras=False, gaps=False).run(demo_inputs, warn_notes=True)


def test_fire_page_saves_restores_and_deletes_reviews(demo_workspace, tmp_path, monkeypatch):
    """A saved review restored into the page's widgets is the same review when saved again."""
    from layers.scenarios import list_scenarios, save_scenario
    from tests.test_app import run_page

    folder = tmp_path / "county"
    folder.mkdir()
    shutil.copy(demo_workspace / "workspace.gpkg", folder / "workspace.gpkg")
    (folder / "dem.tif").symlink_to(demo_workspace / "dem.tif")
    monkeypatch.setenv("GIS_WORKSPACE", str(folder))
    save_scenario(folder, "fire", "odd", ODD.to_params(), {"forest_ha": 1.0})
    at = run_page("fire")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]     # no widget default fights the session state
    at.selectbox(key="fire_review_pick").select("odd").run()
    at.button(key="fire_review_restore").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.radio(key="fire_season").value == "wet" and at.number_input(key="cov_target").value == 10.0
    at.text_input(key="fire_review_name").input("again").run()
    at.button(key="fire_review_save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    saved = {s.name: s for s in list_scenarios(folder, "fire")}
    assert FireReview.from_params(saved["again"].params) == ODD
    import numpy as np

    from gis.fire.review import weather_step

    level = weather_step(ODD.weather, np.zeros(1, np.uint8))[0].level
    assert saved["again"].summary["forest_ha"] > 0 and saved["again"].summary["weather_level"] == level
    table = next(d.value for d in at.dataframe if "设置" in d.value.columns)
    assert list(table.index) == ["odd", "again"]
    at.selectbox(key="fire_review_pick").select("odd").run()
    at.button(key="fire_review_delete").click().run()
    assert [s.name for s in list_scenarios(folder, "fire")] == ["again"]


def test_a_review_after_one_camera_is_added_sweeps_that_camera_only(demo_inputs):
    """The camera step keeps each camera's viewshed (gis.fire.viewshed_cache.SHARED): a review with one
    camera more sweeps one, and its counts equal a review computed from scratch."""
    import pandas as pd

    from gis.fire.review import camera_step
    from gis.fire.viewshed import coverage
    from gis.fire.viewshed_cache import SHARED

    r = FireReview(water=False, gaps=False).run(demo_inputs)
    cams = demo_inputs.layers["cameras"]
    added = cams.iloc[:1].copy()
    added["geometry"] = added.to_crs(r.grid.crs).geometry.translate(600.0, -300.0).to_crs(cams.crs)
    more = pd.concat([cams, added], ignore_index=True)
    misses, hits = SHARED.misses, SHARED.hits
    count, first, tallies, _ = camera_step(r.grid, more, r.forest, r.high_risk)
    assert SHARED.misses - misses == 1 and SHARED.hits - hits >= len(cams) - 5   # a few may have no forest in range
    fresh = coverage(r.grid, more, return_in_range=True, relevant=r.forest,
                     tally=(r.forest.astype("uint8") | (r.high_risk.astype("uint8") * 2)))
    assert (count == fresh[0]).all() and (first == fresh[1]).all()
    assert (tallies == fresh[3]["tallies"][:, :2]).all()
