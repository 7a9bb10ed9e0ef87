"""Flood evacuation page: scenario -> who must move -> which shelter by which road -> lists and maps."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis.flood.exposure import EvacuationRule, aggregate
from gis.flood.hand import DEFAULT_MIN_UPSTREAM_CELLS
from gis.flood.hazard import Hazard, check_overlap, hazard_from_file, parse_thresholds
from gis.flood.plan import Plan, PlanOptions, evacuation_plan
from gis.tallies import township_people
from layers.errors import LayerError
from ui.i18n import labeller, lang, t
from ui.map_panel import note_missing_layers, show_layers_map
from ui.map_view import build_map, plan_map
from ui.plan_map import depth_overlay, is_big, plan_groups
from ui.state import (hand_raster, hillshade_overlay, is_demo, layer_tokens, workspace_dem, workspace_extent,
                      workspace_layers)
from ui.township_choice import choose_township, township_focus

KINDS = ["flood_hazard", "boundaries", "rivers", "roads", "grids", "villages", "shelters"]
SOURCES = ("stage", "raster", "polygons", "workspace")
log = logging.getLogger(__name__)


def _metric_row(values: dict, keys: dict[str, str]) -> None:
    """One row of metrics: interface key -> value key in ``values``, shown as whole numbers."""
    for col, (label, key) in zip(st.columns(len(keys)), keys.items()):
        col.metric(t(label), f"{float(values.get(key) or 0):,.0f}")


def _summary_metrics(layers: dict) -> None:
    total = township_people(layers["grids"], layers.get("shelters")).sum()
    _metric_row(total, {"leaf_grids_n": "grids", "households": "households", "people": "population",
                        "vulnerable": "vulnerable", "capacity": "capacity"})


@st.cache_resource(show_spinner=False, max_entries=8)
def _uploaded_hazard(data: bytes, name: str, near: tuple[float, float, float, float] | None = None) -> Hazard:
    with tempfile.TemporaryDirectory() as tmp:
        suffix = Path(name).suffix.lower()
        path = Path(tmp) / ("hazard" + (suffix if suffix.isascii() and len(suffix) <= 8 else ""))
        path.write_bytes(data)
        return hazard_from_file(path, display_name=Path(name).name, name=Path(name).stem, near=near)


@st.cache_data(show_spinner=False, max_entries=16)
def _overlap(key: tuple, _hazard: Hazard, _grids) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(zh lines, en lines) of why scenario ``key`` is refused (:func:`gis.flood.hazard.check_overlap`), and its warnings."""
    try:
        return [], [], check_overlap(_hazard, _grids)
    except LayerError as e:
        return e.lines("zh"), e.lines("en"), []


def _refuse(zh: list[str], en: list[str]) -> None:
    """A refused scenario's problems, in the interface language first, then the other one."""
    first, second = (zh, en) if lang() == "zh" else (en, zh)
    st.error("\n".join([t("hazard_refused"), *(f"- {line}" for line in [*first, *second])]))


def _checked(hazard: Hazard, key: tuple, grids) -> bool:
    """Show why the scenario cannot be used (False) or its warnings (True)."""
    zh, en, warnings = _overlap(key, hazard, grids)
    if zh:
        _refuse(zh, en)
        return False
    i = 0 if lang() == "zh" else 1
    for w in warnings:
        st.warning(w[i])
    return True


@st.cache_resource(show_spinner=False, max_entries=16)
def _stage_hazard(key: tuple, stage: float, rivers: bool, min_cells: int | None) -> Hazard:
    return Hazard.from_stage(workspace_dem(), stage, hand=hand_raster(rivers=rivers, min_upstream_cells=min_cells),
                             name=f"水位 {stage:g} 米")


@st.cache_data(show_spinner=False, max_entries=8)
def _population_exposure(key: tuple, data: bytes, name: str, _hazard: Hazard, thresholds: tuple) -> dict:
    from gis.flood.exposure import raster_exposure
    from layers.raster import read_raster

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "population.tif"
        path.write_bytes(data)
        pop = read_raster(path, display_name=Path(name).name)
    return raster_exposure(pop, _hazard, thresholds)


def _population_raster(hazard: Hazard, thresholds: tuple, key: tuple) -> None:
    """People counted from a population raster (people per cell) in each depth class of the scenario."""
    with st.expander(t("pop_raster")):
        st.caption(t("pop_raster_help"))
        up = st.file_uploader(t("pop_raster_upload"), type=["tif", "tiff"], key="flood_pop_raster")
        if up is None:
            return
        data = up.getvalue()
        try:
            res = _population_exposure(key, data, up.name, hazard, thresholds)
        except LayerError as e:
            st.error("\n".join(f"- {line}" for line in e.lines(lang())))
            return
        c = st.columns(2 + len(res["by_threshold"]))
        c[0].metric(t("pop_total"), f"{res['total_population']:,.0f}")
        c[1].metric(t("pop_affected"), f"{res['affected_population']:,.0f}")
        for col, (thr, people) in zip(c[2:], res["by_threshold"].items()):
            col.metric(t("pop_at_least", d=f"{float(thr):g}"), f"{people:,.0f}")
        i = 0 if lang() == "zh" else 1
        for note in res["notes"]:
            st.info(note[i])


@st.cache_resource(show_spinner=False, max_entries=8)
def _plan(key: tuple, _hazard: Hazard, thresholds: tuple, min_share: float, cut_roads: bool,
          rates: tuple = (), days: int = 3) -> Plan:
    layers = workspace_layers()
    opts = PlanOptions(thresholds=thresholds, rule=EvacuationRule(min_share=min_share), cut_roads=cut_roads,
                       rates=dict(rates) or None, days=days)
    return evacuation_plan(layers["grids"], layers["shelters"], _hazard, roads=layers.get("roads"), options=opts)


def _needs_rates() -> tuple[tuple, int]:
    """The minimum-needs rates and days, editable (defaults documented in gis.flood.needs)."""
    from gis.flood.needs import DAILY_ITEMS, DEFAULT_RATES, NEED_LABELS

    with st.expander(t("needs_rates")):
        i = 0 if lang() == "zh" else 1
        table = pd.DataFrame({t("item"): [NEED_LABELS[k][i] for k in DEFAULT_RATES],
                              t("rate"): [float(v) for v in DEFAULT_RATES.values()],
                              t("rate_unit"): [t("per_person_day") if k in DAILY_ITEMS else t("persons_per_unit")
                                               for k in DEFAULT_RATES]})
        edited = st.data_editor(table, disabled=[t("item"), t("rate_unit")], hide_index=True, key="needs_rates",
                                width="stretch")
        days = int(st.number_input(t("days"), 1, 60, 3, key="needs_days"))
    rates = tuple((k, float(v)) for k, v in zip(DEFAULT_RATES, edited[t("rate")])
                  if float(v) > 0 and float(v) != float(DEFAULT_RATES[k]))
    return rates, days


@st.cache_data(show_spinner=False, max_entries=8)
def _depth_png(key: tuple, _hazard: Hazard, thresholds: tuple):
    return depth_overlay(_hazard.depth, thresholds) if _hazard.depth is not None else None


@st.cache_data(show_spinner=False, max_entries=8)
def _files(key: tuple, _plan: Plan, lang_: str) -> dict[str, bytes]:
    from gis.report.plan_files import write_plan_files

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_plan_files(_plan, Path(tmp), lang=lang_, note=_plan.summary.get("method_note") or None,
                                 synthetic=is_demo())
        return {p.suffix.lstrip("."): p.read_bytes() for p in paths}


@st.cache_data(show_spinner=False, max_entries=32)
def _village_map(key: tuple, _plan: Plan, village: str, fmt: str, lang_: str) -> bytes:
    from gis.report.village_map import village_map

    hz = _plan.hazard
    return village_map(village, _plan, hazard=hz.depth if hz.depth is not None else hz.polygons, fmt=fmt,
                       scenario=hz.name, synthetic=is_demo(), lang=lang_, roads=workspace_layers().get("roads"),
                       boundaries=workspace_layers().get("boundaries"))


@st.cache_data(show_spinner=False, max_entries=4)
def _village_batch(key: tuple, _plan: Plan, lang_: str) -> bytes:
    from gis.report.village_map import village_maps_batch

    hz = _plan.hazard
    return village_maps_batch(_plan, hazard=hz.depth if hz.depth is not None else hz.polygons, scenario=hz.name,
                              synthetic=is_demo(), lang=lang_, roads=workspace_layers().get("roads"),
                              boundaries=workspace_layers().get("boundaries"))


#: the scenario widgets' defaults (set through the session so that restoring a saved scenario works)
_DEFAULTS = {"flood_thresholds": "0.5,1.5,3.0", "flood_min_share": 0.0, "flood_cut_roads": True, "flood_stage": 2.0,
             "flood_min_cells": DEFAULT_MIN_UPSTREAM_CELLS}


def _scenario_controls(layers: dict) -> tuple[Hazard | None, tuple, float, bool, tuple]:
    """The scenario form; returns (hazard, thresholds, min share, cut roads, cache key)."""
    with st.expander(t("scenario"), expanded=True):
        c1, c2 = st.columns([3, 2])
        options = [s for s in SOURCES if s != "workspace" or "flood_hazard" in layers]
        source = c1.radio(t("hazard_source"), options, format_func=labeller("source_"), horizontal=True,
                          key="flood_source")
        for widget, default in _DEFAULTS.items():   # defaults through the session, so a saved scenario can set them
            st.session_state.setdefault(widget, default)
        thresholds_text = c2.text_input(t("thresholds"), key="flood_thresholds")
        try:
            thresholds = tuple(parse_thresholds(thresholds_text))
        except (LayerError, ValueError):
            st.error(t("bad_thresholds"))
            thresholds = (0.5, 1.5, 3.0)
        c3, c4 = st.columns([3, 2])
        min_share = c3.slider(t("min_share"), 0.0, 1.0, step=0.05, key="flood_min_share",
                              help=t("min_share_help"))
        cut_roads = c4.checkbox(t("cut_roads"), key="flood_cut_roads", help=t("cut_roads_help"))
        params = {"source": source, "thresholds": thresholds_text, "min_share": min_share, "cut_roads": cut_roads}
        st.session_state["flood_params"] = params
        base = layer_tokens(list(layers))
        hazard = None
        if source == "stage":
            if workspace_dem() is None:
                st.info(t("need_dem"))
                return None, thresholds, min_share, cut_roads, base
            c5, c6 = st.columns([3, 2])
            stage = c5.slider(t("stage_m"), 0.5, 15.0, step=0.5, key="flood_stage")
            streams = c6.radio(t("stream_source"), ["upstream", "rivers"] if "rivers" in layers else ["upstream"],
                               format_func=labeller("streams_"), key="flood_streams")
            rivers = streams == "rivers"
            min_cells = None if rivers else int(c6.number_input(
                t("min_upstream_cells"), 50, 1_000_000, step=50, key="flood_min_cells",
                help=t("min_upstream_cells_help")))
            with st.spinner(t("computing_hand")):
                hazard = _stage_hazard(base, stage, rivers, min_cells)
            key = base + (("stage", stage, rivers, min_cells),)
            params.update(stage=stage, streams=streams, min_cells=min_cells)
        elif source == "workspace":
            try:
                hazard = Hazard.from_polygons(layers["flood_hazard"], source="flood_hazard")
            except LayerError as e:
                _refuse(e.lines("zh"), e.lines("en"))
                return None, thresholds, min_share, cut_roads, base
            key = base + (("workspace",),)
            if not _checked(hazard, key, layers["grids"]):
                return None, thresholds, min_share, cut_roads, base
        else:
            types = ["tif", "tiff"] if source == "raster" else ["gpkg", "geojson", "json", "zip", "kml", "kmz"]
            up = st.file_uploader(t(f"upload_{source}"), type=types, key=f"flood_upload_{source}")
            if up is None:
                return None, thresholds, min_share, cut_roads, base
            data = up.getvalue()
            try:
                hazard = _uploaded_hazard(data, up.name, workspace_extent())
            except LayerError as e:
                _refuse(e.lines("zh"), e.lines("en"))
                return None, thresholds, min_share, cut_roads, base
            except Exception as e:  # never a traceback in the app: report it plainly, log the details
                log.exception("unexpected error reading the flood scenario %s", up.name)
                st.error(t("unexpected_error", err=f"{type(e).__name__}: {e}"[:300]))
                return None, thresholds, min_share, cut_roads, base
            key = base + (("upload", hashlib.sha1(data).hexdigest()),)
            if not _checked(hazard, key, layers["grids"]):
                return None, thresholds, min_share, cut_roads, base
            params.update(file=Path(up.name).name)
    return hazard, thresholds, min_share, cut_roads, key


def _plan_map(plan: Plan, key: tuple, thresholds: tuple, layers: dict) -> None:
    people = plan.grids.groupby("township")["evacuate_people"].sum()
    township = choose_township(key="flood_focus", counts=people)
    if township is None and is_big(plan):
        st.caption(t("plan_overview_note"))
    base = {k: layers[k] for k in ("boundaries", "rivers", "roads") if k in layers}
    mp = plan_map(base, focus=township)
    groups = plan_groups(plan, lang(), thresholds=thresholds, depth=_depth_png(key, plan.hazard, thresholds),
                         township=township)
    m = build_map(mp.layers, lang=lang(), hillshade=hillshade_overlay(), images=mp.images,
                  simplify_m=mp.simplify_m, extra=groups, height=640, focus_outline=township_focus(township))
    st_folium(m, key="flood_plan_map", height=640, use_container_width=True, returned_objects=[])


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    """Columns and index named in the interface language (the workbook's headers)."""
    from gis.flood.needs import NEED_LABELS
    from gis.report.plan_workbook import HEADERS

    i = 0 if lang() == "zh" else 1
    names = {**{k: v[i] for k, v in HEADERS.items()}, **{k: v[i] for k, v in NEED_LABELS.items()},
             "population": t("people"), "flooded_grids": t("flooded_grids"), "evacuate_grids": t("evacuate_grids"),
             "max_depth": HEADERS["max_depth"][i]}
    out = df.rename(columns=names)
    out.index = out.index.set_names([names.get(n, n) for n in out.index.names])
    return out


def _tables(plan: Plan) -> None:
    from gis.report.plan_workbook import plan_rows, shelter_rows, township_rows

    tabs = st.tabs([t("tab_plan"), t("tab_shelters"), t("tab_townships"), t("tab_needs"), t("tab_villages")])
    with tabs[0]:
        st.dataframe(_labelled(plan_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[1]:
        st.dataframe(_labelled(shelter_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[2]:
        st.dataframe(_labelled(township_rows(plan, lang=lang())), width="stretch", hide_index=True)
    with tabs[3]:
        st.dataframe(_labelled(plan.needs), width="stretch")
    with tabs[4]:
        if "village" in plan.exposure:
            cols = ["grids", "flooded_grids", "evacuate_grids", "households", "population", "vulnerable",
                    "max_depth"]
            table = aggregate(plan.exposure, by="village")
            table = table[[c for c in cols if c in table]].rename(columns={"grids": t("grids_n")})
            st.dataframe(_labelled(table), width="stretch")


def _downloads(plan: Plan, key: tuple) -> None:
    from gis.report.village_map import at_risk_villages

    st.subheader(t("downloads"))
    files = _files(key, plan, lang())
    names = {"xlsx": "Excel", "gpkg": "GeoPackage", "geojson": "GeoJSON", "kml": "KML"}
    cols = st.columns(len(names))
    for col, (ext, label) in zip(cols, names.items()):
        if ext in files:
            col.download_button(label, files[ext], file_name=f"转移方案.{ext}", key=f"plan_dl_{ext}")
    villages = at_risk_villages(plan)
    if villages:
        c1, c2, c3 = st.columns([3, 1, 1])
        village = c1.selectbox(t("village_map"), villages, key="village_map_name")
        c2.download_button("PNG", _village_map(key, plan, village, "png", lang()), file_name=f"{village}形势图.png",
                           key="vm_png")
        c3.download_button("PDF", _village_map(key, plan, village, "pdf", lang()), file_name=f"{village}形势图.pdf",
                           key="vm_pdf")
        if st.button(t("village_batch", n=len(villages)), key="vm_batch"):
            with st.spinner("…"):
                st.session_state["vm_batch_key"] = key
        if st.session_state.get("vm_batch_key") == key:
            st.download_button(t("village_batch_download"), _village_batch(key, plan, lang()),
                               file_name="村级防汛形势图.pdf", key="vm_batch_dl")


_PARAM_KEYS = {"source": "flood_source", "stage": "flood_stage", "streams": "flood_streams",
               "min_cells": "flood_min_cells", "thresholds": "flood_thresholds", "min_share": "flood_min_share",
               "cut_roads": "flood_cut_roads"}


def _restore(params: dict) -> None:
    """Put a saved scenario's settings back into the widgets (runs before they are drawn)."""
    for k, widget in _PARAM_KEYS.items():
        if params.get(k) is not None:
            st.session_state[widget] = params[k]
    st.session_state["flood_restored"] = params


def _comparison(plan: Plan) -> None:
    """Save the scenario in the workspace; compare, restore or delete saved ones."""
    from layers.scenarios import delete_scenario, list_scenarios, save_scenario
    from ui.state import editor_name, workspace_folder

    folder = workspace_folder()
    c1, c2 = st.columns([3, 1])
    name = c1.text_input(t("scenario_name"), plan.summary.get("scenario") or "", key="scenario_name")
    if c2.button(t("save_scenario"), key="save_scenario") and name:
        needs_total = plan.needs.iloc[-1].to_dict() if len(plan.needs) else {}
        summary = {**{k: plan.summary.get(k) for k in ("people_to_evacuate", "people_placed", "people_unplaced",
                                                         "shelters_used", "person_km")},
                   **{k: v for k, v in needs_total.items() if k != "people"}}
        try:
            save_scenario(folder, "flood", name, st.session_state.get("flood_params", {}), summary,
                          user=editor_name())
        except LayerError as e:
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
    from gis.flood.needs import NEED_LABELS

    i = 0 if lang() == "zh" else 1
    st.dataframe(table.rename(columns={"people_to_evacuate": t("people_to_evacuate"),
                                       "people_placed": t("people_placed"), "people_unplaced": t("people_unplaced"),
                                       "shelters_used": t("shelters_used"), "person_km": t("person_km"),
                                       "settings": t("scenario_settings"), "saved_by": t("scenario_saved_by"),
                                       **{k: v[i] for k, v in NEED_LABELS.items()}}),
                 width="stretch")
    c1, c2, c3 = st.columns([3, 1, 1])
    pick = c1.selectbox(t("scenario_pick"), [sc.name for sc in saved], key="scenario_pick")
    chosen = next(sc for sc in saved if sc.name == pick)
    c2.button(t("scenario_restore"), key="scenario_restore", on_click=_restore, args=(chosen.params,),
              disabled=chosen.params.get("source") not in ("stage", "workspace"), help=t("scenario_restore_help"))
    if c3.button(t("scenario_delete"), key="scenario_delete"):
        delete_scenario(folder, "flood", pick)
        st.rerun()


def _describe(params: dict) -> str:
    """A saved scenario's settings in a few words."""
    bits = []
    if params.get("source") == "stage":
        bits.append(f"HAND {params.get('stage')} m" + (" / rivers" if params.get("streams") == "rivers" else ""))
    elif params.get("source"):
        bits.append(f"{params['source']}: {params.get('file') or ''}".rstrip(": "))
    if params.get("thresholds"):
        bits.append(str(params["thresholds"]))
    if params.get("min_share"):
        bits.append(f"≥{float(params['min_share']):.0%}")
    if params.get("cut_roads") is False:
        bits.append("roads kept")
    return "; ".join(bits)


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
    hazard, thresholds, min_share, cut_roads, key = _scenario_controls(layers)
    if hazard is None:
        show_layers_map(KINDS, key="flood_map")
        return
    rates, days = _needs_rates()
    key = key + (thresholds, min_share, cut_roads, rates, days)
    with st.spinner(t("planning")):
        plan = _plan(key, hazard, thresholds, min_share, cut_roads, rates, days)
    _metric_row(plan.summary, {k: k for k in ("people_to_evacuate", "people_placed", "people_unplaced",
                                              "shelters_used", "person_km")})
    if hazard.screening:
        st.warning(hazard.messages(lang())[0])
    with st.expander(t("notes"), expanded=False):
        for line in plan.messages(lang()):
            st.markdown(f"- {line}")
    _plan_map(plan, key, thresholds, layers)
    _population_raster(hazard, thresholds, key)
    _tables(plan)
    _downloads(plan, key)
    _comparison(plan)
