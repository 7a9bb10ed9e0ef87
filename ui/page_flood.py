"""Flood evacuation page: a view of :class:`gis.flood.scenario.FloodScenario`.

Widgets -> a FloodScenario (the same object ``python -m gis plan`` builds from its flags) -> cached steps
(terrain and HAND once per DEM and stream choice, the flood once per scenario, the plan once per scenario and
options) -> metrics, map, tables, downloads, saved scenarios.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import astuple
from pathlib import Path

import pandas as pd
import streamlit as st

from gis.flood.exposure import aggregate
from gis.flood.hand import DEFAULT_MIN_UPSTREAM_KM2
from gis.flood.hazard import Hazard, parse_thresholds
from gis.flood.headers import labelled
from gis.flood.plan import Plan
from gis.flood.scenario import SOURCES, FloodInputs, FloodScenario
from gis.flood.walking import WALK_LIMIT_M
from gis.projection import TERRAIN_CELL_M
from gis.tallies import township_people
from gis.townships import BASIS_NOTES
from layers.catalogue import map_kinds
from layers.errors import GisError, LayerError
from layers.load import CoordOptions
from layers.raster_files import UPLOAD_RASTER_TYPES, formats_text, raster_suffix
from layers.text import pick
from ui.crs_box import crs_box, raster_note, show_problems
from ui.downloads import file_name
from ui.i18n import labeller, lang, problem_lines, t
from ui.map_panel import note_missing_layers, show_layers_map, show_map
from ui.map_view import build_map, plan_map
from ui.plan_map import depth_overlay, is_big, plan_groups
from ui.progress import counter
from ui.state import (
    hillshade_overlay,
    is_demo,
    layer_tokens,
    place_names,
    workspace_dem,
    workspace_layers,
    workspace_outlines,
)
from ui.township_choice import choose_township, township_focus

#: the layers of the Flood page's map (from the layer specs)
KINDS = map_kinds("flood")
log = logging.getLogger(__name__)

#: the scenario widgets' defaults (set through the session so that restoring a saved scenario works)
_DEFAULTS = {"flood_source": "stage", "flood_thresholds": "0.5,1.5,3.0", "flood_min_share": 0.0,
             "flood_cut_roads": True, "flood_stage": 2.0, "flood_streams": "upstream",
             "flood_min_km2": DEFAULT_MIN_UPSTREAM_KM2, "flood_rule": "homes", "flood_min_depth": 0.0,
             "flood_passable": 0.3, "flood_shelter_flood": 0.0, "flood_weight": "length",
             "flood_walk_limit": WALK_LIMIT_M / 1000, "flood_terrain_cell": TERRAIN_CELL_M}
#: scenario field -> widget key (the uploads, thresholds, moving depth, rates, days and name have their own)
PAGE_WIDGETS = {"hazard_file": "flood_upload_raster/flood_upload_polygons", "thresholds": "flood_thresholds",
                "min_depth": "flood_min_depth", "rates": "needs_rates", "days": "needs_days", "name": "scenario_name"}
_WIDGETS = {"source": "flood_source", "stage_m": "flood_stage", "streams": "flood_streams",
            "min_upstream_km2": "flood_min_km2", "min_share": "flood_min_share", "cut_roads": "flood_cut_roads",
            "basis": "flood_rule", "passable_m": "flood_passable", "shelter_flood_m": "flood_shelter_flood",
            "weight": "flood_weight", "walk_limit_km": "flood_walk_limit", "terrain_cell_m": "flood_terrain_cell"}


def _metric_row(values: dict, keys: dict[str, str]) -> None:
    """One row of metrics: interface key -> value key in ``values``, shown as whole numbers."""
    for col, (label, key) in zip(st.columns(len(keys)), keys.items()):
        col.metric(t(label), f"{float(values.get(key) or 0):,.0f}")


def _summary_metrics(layers: dict) -> None:
    total = township_people(layers["grids"], layers.get("shelters")).sum()
    _metric_row(total, {"leaf_grids_n": "grids", "households": "households", "people": "population",
                        "vulnerable": "vulnerable", "capacity": "capacity"})


def _upload_path(data: bytes, name: str) -> str:
    """An uploaded scenario file kept under the temp folder by its content (so a rerun reads the same path)."""
    safe = Path(name).name
    safe = safe if safe not in ("", ".", "..") else "upload"
    folder = Path(tempfile.gettempdir()) / "gis-uploads" / hashlib.sha1(data).hexdigest()
    path = folder / safe
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _inputs(key: tuple, _layers: dict, _dem, _population) -> FloodInputs:
    """The workspace's layers as the plan reads them (terrain and HAND are memoised inside, once per DEM)."""
    return FloodInputs({k: v for k, v in _layers.items()}, dem=_dem, population=_population)


@st.cache_resource(show_spinner=False, max_entries=16)
def _hazard(key: tuple, params: str, _inputs: FloodInputs, _coords: CoordOptions) -> Hazard:
    return FloodScenario.from_params(json.loads(params)).hazard(_inputs, coords=_coords)


@st.cache_resource(show_spinner=False, max_entries=8)
def _plan(key: tuple, params: str, _inputs: FloodInputs, _hazard: Hazard) -> Plan:
    return FloodScenario.from_params(json.loads(params)).run(_inputs, hazard=_hazard)


@st.cache_resource(show_spinner=False, max_entries=4)
def _population(data: bytes, name: str, coords: tuple = ()):
    """The uploaded population raster, read as the Data page reads a raster, with the upload's coordinate options
    (``coords``: the fields of :class:`~layers.load.CoordOptions`)."""
    from layers.raster import read_raster

    options = CoordOptions(*coords)
    with tempfile.TemporaryDirectory() as tmp:   # kept under its own type: a zip (.asc with its .prj) is opened as one
        path = Path(tmp) / ("population" + (raster_suffix(name) or (".zip" if name.lower().endswith(".zip") else "")))
        path.write_bytes(data)
        return read_raster(path, display_name=Path(name).name, crs=options.crs, towgs84=options.towgs84,
                           on_conflict=options.on_conflict)


@st.cache_data(show_spinner=False, max_entries=8)
def _population_exposure(key: tuple, _pop, _hazard: Hazard, thresholds: tuple, min_depth: float | None,
                         _townships) -> dict:
    """The population raster's people by depth and per township (``key``: the layers, the raster, the scenario)."""
    from gis.flood.exposure import raster_exposure

    return raster_exposure(_pop, _hazard, thresholds, townships=_townships, min_depth=min_depth)


def _refuse(e: GisError) -> None:
    """A refused scenario's problems, in the interface language first, then the other one."""
    st.error("\n".join([t("hazard_refused"), *problem_lines(e, both=True)]))


def _needs_rates() -> tuple[tuple, int]:
    """The minimum-needs rates and days, editable (defaults documented in gis.flood.needs)."""
    from gis.flood.needs import DAILY_ITEMS, DEFAULT_RATES, NEED_LABELS

    with st.expander(t("needs_rates")):
        table = pd.DataFrame({t("item"): [pick(NEED_LABELS[k], lang()) for k in DEFAULT_RATES],
                              t("rate"): [float(v) for v in DEFAULT_RATES.values()],
                              t("rate_unit"): [t("per_person_day") if k in DAILY_ITEMS else t("persons_per_unit")
                                               for k in DEFAULT_RATES]})
        edited = st.data_editor(table, disabled=[t("item"), t("rate_unit")], hide_index=True, key="needs_rates",
                                width="stretch")
        days = int(st.number_input(t("days"), 1, 60, 3, key="needs_days"))
    rates = tuple((k, float(v)) for k, v in zip(DEFAULT_RATES, edited[t("rate")])
                  if float(v) > 0 and float(v) != float(DEFAULT_RATES[k]))
    return rates, days


def _more_options(layers: dict):
    """Who moves, roads and walks, what the assignment minimises; the population raster. Returns the raster."""
    with st.expander(t("flood_more_options")):
        c1, c2, c3 = st.columns(3)
        c1.radio(t("flood_rule"), ["homes", "area"], format_func=labeller("flood_rule_"), key="flood_rule",
                 help=t("flood_rule_help"))
        c1.number_input(t("flood_min_depth"), 0.0, 20.0, step=0.1, key="flood_min_depth",
                        help=t("flood_min_depth_help"))
        c2.number_input(t("flood_passable"), 0.05, 3.0, step=0.05, key="flood_passable",
                        help=t("flood_passable_help"))
        c2.number_input(t("flood_shelter_flood"), 0.0, 5.0, step=0.1, key="flood_shelter_flood")
        c3.radio(t("flood_weight"), ["length", "time"], format_func=labeller("flood_weight_"), key="flood_weight",
                 horizontal=True)
        c3.number_input(t("flood_walk_limit"), 0.5, 30.0, step=0.5, key="flood_walk_limit",
                        help=t("flood_walk_limit_help"))
        c1.number_input(t("flood_terrain_cell"), 1.0, 1000.0, step=5.0, key="flood_terrain_cell",
                        help=t("flood_terrain_cell_help"))
        up = st.file_uploader(t("pop_raster_upload", formats=pick(formats_text(), lang())), type=UPLOAD_RASTER_TYPES,
                              key="flood_pop_raster", help=t("pop_raster_help"))
        coords = crs_box("flood_pop_raster", fold=False) if up is not None else None
        if up is None or coords is None:
            return None, ()
        fields = astuple(coords)
        try:
            data = up.getvalue()
            pop = _population(data, up.name, fields)
        except GisError as e:
            show_problems(e, fold=False)
            return None, ()
        except OSError as e:  # never a traceback in the app: say it plainly, log the details
            log.exception("the population raster %s could not be read", getattr(up, "name", ""))
            st.error(t("unexpected_error", err=f"{type(e).__name__}: {e}"[:300]))
            return None, ()
        st.success(raster_note(pop))
        for note in pop.warnings:
            st.warning(pick(note, lang()))
    return pop, ("population", hashlib.sha1(data).hexdigest(), repr(fields))


def _scenario_form(layers: dict) -> tuple[FloodScenario | None, CoordOptions]:
    """The scenario form -> a FloodScenario (None while a file is awaited or the form is not usable) and the
    coordinate options of its file (the 坐标系 / CRS box under the upload)."""
    for widget, default in _DEFAULTS.items():   # defaults through the session, so a saved scenario can set them
        st.session_state.setdefault(widget, default)
    with st.expander(t("scenario"), expanded=True):
        c1, c2 = st.columns([3, 2])
        options = [s for s in SOURCES if s != "workspace" or "flood_hazard" in layers]
        if st.session_state.get("flood_source") not in options:
            st.session_state["flood_source"] = "stage"
        source = c1.radio(t("hazard_source"), options, format_func=labeller("source_"), horizontal=True,
                          key="flood_source")
        thresholds_text = c2.text_input(t("thresholds"), key="flood_thresholds")
        try:
            thresholds = tuple(parse_thresholds(thresholds_text))
        except (LayerError, ValueError):
            st.error(t("bad_thresholds"))
            thresholds = (0.5, 1.5, 3.0)
        c3, c4 = st.columns([3, 2])
        c3.slider(t("min_share"), 0.0, 1.0, step=0.05, key="flood_min_share", help=t("min_share_help"))
        c4.checkbox(t("cut_roads"), key="flood_cut_roads", help=t("cut_roads_help"))
        hazard_file = None
        coords = CoordOptions()
        if source == "stage":
            if workspace_dem() is None:
                st.info(t("need_dem"))
                return None, coords
            c5, c6 = st.columns([3, 2])
            c5.slider(t("stage_m"), 0.5, 15.0, step=0.5, key="flood_stage")
            streams = ["upstream", "rivers"] if "rivers" in layers else ["upstream"]
            if st.session_state.get("flood_streams") not in streams:
                st.session_state["flood_streams"] = "upstream"
            c6.radio(t("stream_source"), streams, format_func=labeller("streams_"), key="flood_streams")
            if st.session_state["flood_streams"] == "upstream":
                c6.number_input(t("min_upstream_km2"), 0.01, 10_000.0, step=0.1, key="flood_min_km2",
                                help=t("min_upstream_km2_help"))
        elif source in ("raster", "polygons"):
            types = UPLOAD_RASTER_TYPES if source == "raster" else ["gpkg", "geojson", "json", "zip", "kml", "kmz"]
            up = st.file_uploader(t(f"upload_{source}", formats=pick(formats_text(), lang())), type=types,
                                  key=f"flood_upload_{source}")
            box = crs_box(f"flood_upload_{source}", offsets=source == "polygons", fold=False) if up is not None \
                else None
            if up is None or box is None:
                return None, coords
            coords = box
            hazard_file = _upload_path(up.getvalue(), up.name)
    s = st.session_state
    min_depth = float(s["flood_min_depth"]) or None
    rates, days = _needs_rates()
    try:
        return FloodScenario(source=source, stage_m=float(s["flood_stage"]), hazard_file=hazard_file,
                             streams=s["flood_streams"], min_upstream_km2=float(s["flood_min_km2"]),
                             thresholds=thresholds, min_depth=min_depth, min_share=float(s["flood_min_share"]),
                             basis=s["flood_rule"], passable_m=float(s["flood_passable"]),
                             shelter_flood_m=float(s["flood_shelter_flood"]), weight=s["flood_weight"],
                             cut_roads=bool(s["flood_cut_roads"]), walk_limit_km=float(s["flood_walk_limit"]),
                             terrain_cell_m=float(s["flood_terrain_cell"]),
                             rates=rates, days=days), coords
    except GisError as e:
        _refuse(e)
        return None, coords


@st.cache_data(show_spinner=False, max_entries=8)
def _depth_png(key: tuple, _hazard: Hazard, thresholds: tuple):
    return depth_overlay(_hazard.depth, thresholds) if _hazard.depth is not None else None


@st.cache_data(show_spinner=False, max_entries=8)
def _files(key: tuple, _plan: Plan, lang_: str) -> dict[str, bytes]:
    from gis.report.plan_files import write_plan_files

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_plan_files(_plan, Path(tmp), lang=lang_, synthetic=is_demo())
        return {p.suffix.lstrip("."): p.read_bytes() for p in paths}


@st.cache_data(show_spinner=False, max_entries=32)
def _village_map(key: tuple, _plan: Plan, village: str, fmt: str, lang_: str) -> bytes:
    from gis.report.village_map import village_map

    hz = _plan.hazard
    return village_map(village, _plan, hazard=hz.depth if hz.depth is not None else hz.polygons, fmt=fmt,
                       scenario=hz.label(lang_), synthetic=is_demo(), lang=lang_,
                       roads=workspace_layers().get("roads"), boundaries=workspace_layers().get("boundaries"))


@st.cache_data(show_spinner=False, max_entries=4)
def _village_batch(key: tuple, _plan: Plan, lang_: str, _progress=None) -> bytes:
    from gis.report.village_map import village_maps_batch

    hz = _plan.hazard
    return village_maps_batch(_plan, hazard=hz.depth if hz.depth is not None else hz.polygons,
                              scenario=hz.label(lang_), synthetic=is_demo(), lang=lang_,
                              roads=workspace_layers().get("roads"), boundaries=workspace_layers().get("boundaries"),
                              progress=_progress)


def _plan_map(plan: Plan, key: tuple, thresholds: tuple, layers: dict) -> None:
    people = plan.grids.groupby("township")["evacuate_people"].sum()
    township = choose_township(key="flood_focus", counts=people)
    if township is None and is_big(plan):
        st.caption(t("plan_overview_note"))
    base_kinds = [k for k in ("boundaries", "rivers", "roads") if k in layers]
    lang_ = lang()

    def build():
        mp = plan_map({k: layers[k] for k in base_kinds}, focus=township)
        groups = plan_groups(plan, lang_, thresholds=thresholds, depth=_depth_png(key, plan.hazard, thresholds),
                             township=township)
        return build_map(mp.layers, lang=lang_, hillshade=hillshade_overlay(), images=mp.images,
                         simplify_m=mp.simplify_m, extra=groups, height=640, places=place_names(),
                         focus_outline=township_focus(township))

    # built once for every session showing the same plan (ui.state.shared_map)
    shared = ("flood", key, tuple(thresholds), township, lang_,
              layer_tokens([*base_kinds, "grids", "villages", "shelters"]))
    show_map(build, key="flood_plan_map", height=640, shared=shared)


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    """Columns and index named in the interface language (the workbook's headers: one registry)."""
    return labelled(df, lang())


def _tables(plan: Plan) -> None:
    from gis.report.plan_workbook import needs_rows, plan_rows, shelter_rows, township_rows

    tabs = st.tabs([t("tab_plan"), t("tab_shelters"), t("tab_townships"), t("tab_needs"), t("tab_villages")])
    with tabs[0]:
        st.dataframe(_labelled(plan_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[1]:
        st.dataframe(_labelled(shelter_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[2]:
        st.dataframe(_labelled(township_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[3]:
        st.dataframe(_labelled(needs_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[4]:
        if "village" in plan.exposure:
            cols = ["grids", "flooded_grids", "evacuate_grids", "households", "population", "vulnerable",
                    "max_depth"]
            table = aggregate(plan.exposure, by="village")
            table = table[[c for c in cols if c in table]].rename(columns={"grids": "all_grids"})
            st.dataframe(_labelled(table), width="stretch")


def _downloads(plan: Plan, key: tuple) -> None:
    from gis.report.village_map import at_risk_villages

    st.subheader(t("downloads"))
    files = _files(key, plan, lang())
    names = {"xlsx": "Excel", "gpkg": "GeoPackage", "geojson": "GeoJSON", "kml": "KML"}
    cols = st.columns(len(names))
    for col, (ext, label) in zip(cols, names.items()):
        if ext in files:
            col.download_button(label, files[ext], file_name=file_name("plan", ext, lang()), key=f"plan_dl_{ext}")
    villages = at_risk_villages(plan)
    if villages:
        c1, c2, c3 = st.columns([3, 1, 1])
        village = c1.selectbox(t("village_map"), villages, key="village_map_name")
        c2.download_button("PNG", _village_map(key, plan, village, "png", lang()),
                           file_name=file_name("village_map", "png", lang(), village=village), key="vm_png")
        c3.download_button("PDF", _village_map(key, plan, village, "pdf", lang()),
                           file_name=file_name("village_map", "pdf", lang(), village=village), key="vm_pdf")
        if st.button(t("village_batch", n=len(villages)), key="vm_batch"):
            st.session_state["vm_batch_key"] = key
        if st.session_state.get("vm_batch_key") == key:   # drawn once, with a bar counting the pages
            pdf = _village_batch(key, plan, lang(), _progress=counter(t("village_batch_running")))
            st.download_button(t("village_batch_download"), pdf, file_name=file_name("village_batch", "pdf", lang()),
                               key="vm_batch_dl")


def _restore(params: dict) -> None:
    """Put a saved scenario's settings back into the widgets (runs before they are drawn)."""
    sc = FloodScenario.from_params(params)
    for k, widget in _WIDGETS.items():
        st.session_state[widget] = getattr(sc, k)
    st.session_state["flood_thresholds"] = ",".join(f"{x:g}" for x in sc.thresholds)
    st.session_state["flood_min_depth"] = float(sc.min_depth or 0.0)
    st.session_state["flood_restored"] = params


PAGE_WIDGETS.update(_WIDGETS)


def _comparison(plan: Plan, scenario: FloodScenario) -> None:
    """Save the scenario in the workspace; compare, restore or delete saved ones."""
    from layers.scenarios import delete_scenario, list_scenarios, save_scenario
    from ui.state import editor_name, workspace_folder

    folder = workspace_folder()
    c1, c2 = st.columns([3, 1])
    name = c1.text_input(t("scenario_name"), plan.hazard.label(lang()) if plan.hazard else "", key="scenario_name")
    if c2.button(t("save_scenario"), key="save_scenario") and name:
        needs_total = plan.needs.iloc[-1].to_dict() if len(plan.needs) else {}
        summary = {**{k: plan.summary.get(k) for k in ("people_to_evacuate", "people_placed", "people_unplaced",
                                                         "households_to_evacuate", "shelters_used", "person_km")},
                   **{k: v for k, v in needs_total.items() if k != "people"}}
        try:
            save_scenario(folder, "flood", name, scenario.with_(name=name).to_params(), summary, user=editor_name())
        except GisError as e:
            st.error("\n".join(e.lines(lang())))
    saved = list_scenarios(folder, "flood")
    if not saved:
        return
    st.subheader(t("comparison"))
    rows = {sc.name: {**sc.summary, "settings": _describe(sc.params), "saved_by": f"{sc.user} {sc.time[:16]}"}
            for sc in saved}
    table = pd.DataFrame(rows).T
    if "person_km" in table:
        table["person_km"] = pd.to_numeric(table["person_km"]).round(1)
    st.dataframe(_labelled(table), width="stretch")
    c1, c2, c3 = st.columns([3, 1, 1])
    pick_name = c1.selectbox(t("scenario_pick"), [sc.name for sc in saved], key="scenario_pick")
    chosen = next(sc for sc in saved if sc.name == pick_name)
    c2.button(t("scenario_restore"), key="scenario_restore", on_click=_restore, args=(chosen.params,),
              disabled=chosen.params.get("source") not in ("stage", "workspace"), help=t("scenario_restore_help"))
    if c3.button(t("scenario_delete"), key="scenario_delete"):
        delete_scenario(folder, "flood", pick_name)
        st.rerun()


def _describe(params: dict) -> str:
    """A saved scenario's settings in a few words."""
    try:
        sc = FloodScenario.from_params(params)
    except GisError:
        return ""
    bits = [sc.label(lang())]
    if sc.source == "stage":
        bits.append(t("streams_rivers") if sc.streams == "rivers" else f"≥ {sc.min_upstream_km2:g} km²")
    bits.append(",".join(f"{x:g}" for x in sc.thresholds))
    if sc.min_share:
        bits.append(f"≥{sc.min_share:.0%}")
    if sc.basis != "homes":
        bits.append(t("flood_rule_area"))
    if not sc.cut_roads:
        bits.append(t("roads_kept"))
    if sc.weight != "length":
        bits.append(t("flood_weight_time"))
    if sc.walk_limit_km != WALK_LIMIT_M / 1000:
        bits.append(f"{t('flood_walk_limit')} {sc.walk_limit_km:g}")
    return "; ".join(bits)


def _population_counts(pop, hazard: Hazard, scenario: FloodScenario, key: tuple) -> None:
    """People counted from the population raster in each depth class of the scenario, and per township (the
    township outlines of the page's township choice; the cell centre decides)."""
    outlines = workspace_outlines()
    thresholds = tuple(scenario.thresholds)
    with st.expander(t("pop_raster")):
        try:
            res = _population_exposure(key, pop, hazard, thresholds, scenario.rule().depth(thresholds),
                                       outlines.gdf)
        except GisError as e:
            show_problems(e, fold=False)
            return
        c = st.columns(3 + len(res["by_threshold"]))
        c[0].metric(t("pop_total"), f"{res['total_population']:,.0f}")
        c[1].metric(t("pop_affected"), f"{res['affected_population']:,.0f}")
        c[2].metric(t("people_to_evacuate"), f"{res['people_to_evacuate']:,.0f}")
        for col, (thr, people) in zip(c[3:], res["by_threshold"].items()):
            col.metric(t("pop_at_least", d=f"{float(thr):g}"), f"{people:,.0f}")
        st.caption(outlines.note(lang()) if outlines.gdf is not None else BASIS_NOTES["raster_none"](lang()))
        if res.get("by_township"):
            st.dataframe(_population_towns(res["by_township"]), hide_index=True, width="stretch")
        for note in res["notes"]:
            st.info(pick(note, lang()))


def _population_towns(rows: list[dict]) -> pd.DataFrame:
    """The population raster's table per township, headed in the interface language."""
    table = pd.DataFrame({
        t("township"): [r["township"] for r in rows],
        t("people"): [round(r["population"]) for r in rows],
        t("pop_affected"): [round(r["affected_population"]) for r in rows],
        t("people_to_evacuate"): [round(r["people_to_evacuate"]) for r in rows]})
    for thr in rows[0]["by_threshold"]:
        table[t("pop_at_least", d=f"{float(thr):g}")] = [round(r["by_threshold"][thr]) for r in rows]
    table[t("pop_max_depth")] = [r["max_depth"] for r in rows]
    return table


def page() -> None:
    """Render the page."""
    st.header(t("page_flood"))
    st.caption(t("flood_intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["grids", "shelters", "roads"])
    if "grids" not in layers or "shelters" not in layers:
        show_layers_map(KINDS, key="flood_map")
        return
    _summary_metrics(layers)
    scenario, coords = _scenario_form(layers)
    population, pop_token = _more_options(layers)
    if scenario is None:
        show_layers_map(KINDS, key="flood_map")
        return
    tokens = layer_tokens(list(layers)) + (pop_token,)
    inputs = _inputs(tokens, layers, workspace_dem(), population)
    tokens += (repr(astuple(coords)),)   # how the scenario file is read: part of every key from here on
    params = json.dumps(scenario.to_params(), sort_keys=True, default=str)
    hazard_params = json.dumps({k: v for k, v in scenario.to_params().items()
                                if k in ("source", "stage_m", "hazard_file", "streams", "min_upstream_km2", "name")},
                               sort_keys=True, default=str)
    try:
        with st.spinner(t("computing_hand")):
            hazard = _hazard(tokens, hazard_params, inputs, coords)
        with st.spinner(t("planning")):
            plan = _plan(tokens + (hazard_params,), params, inputs, hazard)
    except GisError as e:
        _refuse(e)
        show_layers_map(KINDS, key="flood_map")
        return
    key = tokens + (params,)
    _metric_row(plan.summary, {k: k for k in ("people_to_evacuate", "people_placed", "people_unplaced",
                                              "shelters_used", "person_km")})
    modes = plan.summary.get("people_by_route_mode", {})
    st.caption(t("flood_route_modes", road=f"{modes.get('road', 0):,}", walk=f"{modes.get('walk', 0):,}",
                 straight=f"{modes.get('straight', 0):,}",
                 none=f"{plan.summary.get('people_no_reachable_shelter', 0):,}",
                 walk_km=f"{plan.summary.get('longest_walk_km', 0):g}", crs=plan.summary.get("metric_crs", "")))
    if hazard.screening:
        st.warning(hazard.messages(lang())[0])
    with st.expander(t("notes"), expanded=False):
        for line in plan.messages(lang()):
            st.markdown(f"- {line}")
    _plan_map(plan, key, scenario.thresholds, layers)
    if population is not None:
        _population_counts(population, hazard, scenario, key)
    _tables(plan)
    _downloads(plan, key)
    _comparison(plan, scenario)
