"""The flood scenario as one object: the Flood page and ``python -m gis plan`` offer the same options and build the
same FloodScenario; saved scenarios (also older ones) restore it. (That the page in English says nothing in
Chinese outside the data's own names: tests/test_app.py::test_page_runs_without_exception.)"""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from gis.cli import build_parser
from gis.flood.scenario import FLAGS, FloodScenario
from layers.errors import LayerError

ODD = FloodScenario(source="stage", stage_m=3.5, streams="rivers", min_upstream_km2=0.4, thresholds=(0.3, 1.0, 2.0),
                    min_depth=0.8, min_share=0.2, basis="area", passable_m=0.4, shelter_flood_m=0.2, weight="time",
                    cut_roads=False, walk_limit_km=2.0, terrain_cell_m=50.0, rates=(("rice_kg", 0.5),), days=5,
                    name="演练")
ODD_ARGV = ["--stage", "3.5", "--streams", "rivers", "--min-upstream-km2", "0.4", "--thresholds", "0.3,1,2",
            "--min-depth", "0.8", "--min-share", "0.2", "--rule", "area", "--passable-depth", "0.4",
            "--shelter-flood-depth", "0.2", "--weight", "time", "--keep-flooded-roads", "--walk-limit-km", "2",
            "--terrain-cell-m", "50", "--rates", "rice_kg=0.5", "--days", "5", "--name", "演练"]


def _args(extra: list[str]):
    return build_parser().parse_args(["plan", "--workspace", "w.gpkg", "--out", "o", *extra])


def test_every_scenario_field_has_a_flag_and_a_widget():
    from ui.page_flood import PAGE_WIDGETS

    names = {f.name for f in fields(FloodScenario)}
    assert set(FLAGS) == names == set(PAGE_WIDGETS)
    sub = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command").choices["plan"]
    options = {o for a in sub._actions for o in a.option_strings}
    assert {f for flag in FLAGS.values() for f in flag.split("/")} <= options


def test_flags_build_the_scenario():
    assert FloodScenario.from_args(_args(["--stage", "2"])) == FloodScenario()
    assert FloodScenario.from_args(_args(ODD_ARGV)) == ODD
    assert all(getattr(ODD, f.name) != getattr(FloodScenario(), f.name) for f in fields(FloodScenario)
               if f.name not in ("source", "hazard_file"))
    file_based = FloodScenario.from_args(_args(["--hazard", "zones.geojson"]))
    assert file_based.source == "polygons" and file_based.hazard_file == "zones.geojson"
    assert FloodScenario.from_args(_args(["--hazard", "depth.tif"])).source == "raster"


def test_params_round_trip_old_saves_and_bad_values():
    assert FloodScenario.from_params(json.loads(json.dumps(ODD.to_params()))) == ODD
    old = {"source": "stage", "stage": 4.0, "streams": "upstream", "min_cells": 1000, "thresholds": "0.5,1.5,3.0",
           "min_share": 0.0, "cut_roads": True}            # saved before the scenario object
    assert FloodScenario.from_params(old) == FloodScenario(stage_m=4.0)
    with pytest.raises(LayerError) as e:
        FloodScenario(stage_m=-1, walk_limit_km=0, weight="fast")
    assert len(e.value.problems) == 3 and "stage" in str(e.value) and "步行限度" in str(e.value)
