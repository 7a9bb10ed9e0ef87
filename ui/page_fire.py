"""Forest-fire coverage page: a view of one :class:`gis.fire.review.FireReview`.

Widgets -> :class:`~gis.fire.review.FireReview` (:data:`WIDGETS`: one widget per field, as
``fire-report`` has one flag per field) -> :meth:`~gis.fire.review.FireReview.run` with each step
cached on its own inputs (``st.cache_resource``), so changing the season recomputes only the water
reach and what follows from it, and a new weather day only the day's map -> tables, map and
downloads from the :class:`~gis.fire.review.FireResult` as it is. Reviews are saved in the workspace
(:mod:`layers.scenarios`, kind ``fire``), compared, restored into the widgets and deleted.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from gis.fire.headers import WORDS, header, labelled
from gis.fire.review import FireInputs, FireResult, FireReview
from gis.fire.risk import DEFAULT_WEIGHTS
from gis.fire.water_reach import DEFAULT_RULES
from gis.report.fire_files import camera_rows, gap_rows, site_rows, source_rows, township_rows
from gis.tallies import count_by, forest_by_township
from layers.catalogue import map_kinds, spec
from layers.errors import GisError
from layers.export import display_table
from layers.text import Text, pick
from ui.crs_box import chosen, crs_box, points_note, show_problems
from ui.downloads import file_name
from ui.fire_layers import BASE_KINDS, fire_map, level_overlay, reach_overlay, seen_overlay
from ui.i18n import labeller, lang, t
from ui.map_panel import note_missing_layers, show_layers_map, show_map
from ui.state import (
    hillshade_overlay,
    layer_tokens,
    map_parts,
    place_names,
    shared_result,
    workspace_dem,
    workspace_layers,
    workspace_outlines,
)
from ui.township_choice import township_caption, township_focus

#: the layers of the Fire page's map (from the layer specs)
KINDS = map_kinds("fire")
#: the layers a review reads
REVIEW_KINDS = ["forest", "roads", "villages", "graves", "cameras", "water_sources", "rivers", "boundaries"]
FACTORS = list(DEFAULT_WEIGHTS)
RULE_TYPES = list(DEFAULT_RULES) + ["default"]
#: the rule rows that are not a source type of the layer
_RULE_WORDS = {"helicopter": Text("直升机取水点", "helicopter dip sites", "helicopter"),
               "default": Text("未注明类型的水源", "sources with no type", "default")}

#: FireReview field -> the widget that sets it (every field has one; ``fire-report`` has a flag for each)
WIDGETS = {
    "season": "fire_season", "weights": "fire_weights", "weather": "fire_weather_on",
    "cameras": "fire_step_cameras", "water": "fire_step_water", "gaps": "fire_step_gaps",
    "site_cameras": "fire_site_n", "site_water": "fire_site_water_n", "township": "fire_a4_town",
    "target_h": "cov_target", "curvature": "cov_curvature", "refraction": "fire_refraction",
    "rules": "fire_rules", "max_road_m": "fire_max_road", "min_gap_ha": "fire_min_gap",
    "camera_height": "fire_site_h", "camera_range": "fire_site_range",
    "water_distance_m": "fire_site_water_distance", "water_rise_m": "fire_site_water_rise",
    "camera_max_road_m": "fire_site_camera_max_road", "water_max_road_m": "fire_site_water_max_road",
    "min_prominence_m": "fire_site_prominence", "spacing_m": "fire_site_spacing",
    "max_candidates": "fire_site_max_candidates",
}
#: candidate sites by kind -> their uploader (and its 坐标系 / CRS box: keys ``{uploader}_crs``...)
CANDIDATE_WIDGETS = {"camera": "fire_site_candidates", "water": "fire_site_water_candidates"}
#: candidate sites by kind -> the layer kind whose field names head their preview
CANDIDATE_KINDS = {"camera": "cameras", "water": "water_sources"}
#: the vector files a candidate upload takes
CANDIDATE_TYPES = ["gpkg", "geojson", "json", "zip", "kml", "kmz", "csv", "xlsx"]
#: rows of a candidate file shown with their position
PREVIEW_ROWS = 200
_WEATHER = ("fire_tmax", "fire_rh", "fire_dry", "fire_wind", "fire_rain")
_WEATHER_DEFAULTS = (25.0, 35.0, 5.0, 3.0, 0.0)
#: the siting fields: applied to the review by the "find sites" button, not on every change
_SITING = ("site_cameras", "site_water", "camera_height", "camera_range", "water_distance_m", "water_rise_m",
           "camera_max_road_m", "water_max_road_m", "min_prominence_m", "spacing_m", "max_candidates")
_OPTIONAL = ("water_rise_m", "camera_max_road_m", "water_max_road_m")   # 0 on the page = no limit
_SPINNERS = {"risk": "computing_risk", "cameras": "computing_viewshed", "reach": "computing_reach",
             "gaps": "computing_gaps", "site_cameras": "siting_running", "site_water": "siting_running"}


# ---- widgets <-> review ---------------------------------------------------------------------------------
def widget_values(review: FireReview) -> dict[str, Any]:
    """The widget state that shows ``review`` (what restoring a saved review puts back)."""
    out: dict[str, Any] = {}
    for f, key in WIDGETS.items():
        v = getattr(review, f)
        if f == "weights" or f == "rules":
            continue
        if f == "weather":
            out[key] = v is not None
            vals = v.values() if v is not None else _WEATHER_DEFAULTS
            for k, x, d in zip(_WEATHER, tuple(vals) + (0.0,) * (5 - len(vals)), _WEATHER_DEFAULTS):
                out[k] = float(x) if v is not None else d
        elif f == "max_road_m":
            out["fire_road_filter"] = v is not None
            out[key] = 500.0 if v is None else float(v)
        elif f in _OPTIONAL:
            out[key] = 0.0 if v is None else float(v)
        elif f == "township":
            out[key] = v or ""
        elif isinstance(v, bool):
            out[key] = v
        elif isinstance(v, int):
            out[key] = int(v)
        elif isinstance(v, float):
            out[key] = float(v)
        else:
            out[key] = v
    return out


def _defaults() -> None:
    """Every review widget's default through the session (so restoring a saved review can set them)."""
    for k, v in widget_values(FireReview()).items():
        st.session_state.setdefault(k, v)
    st.session_state.setdefault("fire_weights_base", {})
    st.session_state.setdefault("fire_rules_base", ())
    st.session_state.setdefault("fire_siting", {})


def _review_from_widgets(weights: dict, rules: tuple) -> FireReview:
    """The review the widgets show (siting as last applied by its button)."""
    s = st.session_state
    weather = None
    if s.get("fire_weather_on"):
        vals = [float(s[k]) for k in _WEATHER]
        weather = vals[:4] + ([vals[4]] if vals[4] > 0 else [])
    kw: dict[str, Any] = {
        "season": s["fire_season"], "weights": weights, "weather": weather, "cameras": s["fire_step_cameras"],
        "water": s["fire_step_water"], "gaps": s["fire_step_gaps"], "township": s.get("fire_a4_town") or None,
        "target_h": s["cov_target"], "curvature": s["cov_curvature"], "refraction": s["fire_refraction"],
        "rules": rules, "max_road_m": float(s["fire_max_road"]) if s.get("fire_road_filter") else None,
        "min_gap_ha": s["fire_min_gap"]}
    kw.update(st.session_state.get("fire_siting", {}))
    return FireReview(**kw)


def _siting_from_widgets() -> dict[str, Any]:
    s = st.session_state
    out = {f: s[WIDGETS[f]] for f in _SITING}
    for f in _OPTIONAL:
        out[f] = float(out[f]) or None
    for f in ("site_cameras", "site_water", "max_candidates"):
        out[f] = int(out[f])
    return out


def _apply_siting() -> None:
    st.session_state["fire_siting"] = _siting_from_widgets()


def _restore(params: dict) -> None:
    """Put a saved review's settings back into the widgets (runs before they are drawn)."""
    review = FireReview.from_params(params)
    for k, v in widget_values(review).items():
        st.session_state[k] = v
    st.session_state["fire_weights_base"] = dict(review.weights)
    st.session_state["fire_rules_base"] = review.rules
    st.session_state["fire_siting"] = {f: getattr(review, f) for f in _SITING}
    for k in ("fire_weights", "fire_rules"):   # the editors start again from the restored tables
        st.session_state.pop(k, None)


# ---- cached steps -----------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=24)
def _step(step: str, key: tuple, _compute):
    return _compute()


def _memo(step: str, key: tuple, compute):
    """The review's memo: each step cached on its own key, with a spinner while it computes."""
    with st.spinner(t(_SPINNERS.get(step, "computing_risk"))):
        return _step(step, key, compute)


@st.cache_resource(show_spinner=False, max_entries=8)     # one copy for every session (images: read-only)
def _overlays(key: tuple, what: str, _array, _grid, _forest=None):
    if what.startswith("level"):
        return level_overlay(_array, _grid)
    if what.startswith("seen"):
        return seen_overlay(_array, _grid)
    return reach_overlay(_array, _forest, _grid)


@st.cache_data(show_spinner=False, max_entries=4)
def _candidate_points(data: bytes, name: str, coords: tuple):
    """Uploaded candidate sites (points), written under a generated name, never the user's, and read as the
    Data page reads a file, with the upload's coordinate options (``coords``: the fields of
    :class:`~layers.load.CoordOptions`)."""
    import tempfile

    from layers.load import CoordOptions, load_points

    options = CoordOptions(*coords)
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("candidates" + (suffix if suffix.isascii() and len(suffix) <= 8 else ""))
        path.write_bytes(data)
        return load_points(path, display_name=Path(name).name, crs=options.crs, towgs84=options.towgs84,
                           on_conflict=options.on_conflict, offset=options.offset)


# ---- controls ---------------------------------------------------------------------------------------------
def _controls(layers: dict) -> tuple[dict, tuple]:
    """The settings form; returns the weights and the reach rules (the rest is read from the session)."""
    with st.expander(t("fire_settings"), expanded=False):
        c1, c2, c3 = st.columns(3)
        c1.radio(t("season"), ["dry", "wet"], format_func=labeller("season_"), horizontal=True, key="fire_season")
        c2.number_input(t("target_height"), 0.0, 100.0, step=5.0, key="cov_target", help=t("target_height_help"))
        c3.checkbox(t("curvature"), key="cov_curvature")
        c3.number_input(t("refraction"), 0.0, 1.0, step=0.01, key="fire_refraction",
                        disabled=not st.session_state["cov_curvature"])
        st.markdown(f"**{t('fire_steps')}**")
        s1, s2, s3 = st.columns(3)
        s1.checkbox(t("step_cameras"), key="fire_step_cameras")
        s2.checkbox(t("step_water"), key="fire_step_water")
        s3.checkbox(t("step_gaps"), key="fire_step_gaps")
        c4, c5 = st.columns(2)
        c4.checkbox(t("road_filter"), key="fire_road_filter", disabled="roads" not in layers,
                    help=t("road_filter_help"))
        c4.number_input(t("max_road_m"), 50.0, 5000.0, step=50.0, key="fire_max_road",
                        disabled=not st.session_state["fire_road_filter"])
        c5.number_input(t("min_gap_ha"), 0.0, 1000.0, step=0.5, key="fire_min_gap")
        st.caption(t("risk_weights_help"))
        base = st.session_state["fire_weights_base"]
        table = pd.DataFrame({t("factor"): [t(f"factor_{f}") for f in FACTORS],
                              t("weight"): [float(base.get(f, DEFAULT_WEIGHTS[f])) for f in FACTORS]})
        edited = st.data_editor(table, disabled=[t("factor")], hide_index=True, key="fire_weights", width="stretch")
        weights = {f: float(w) for f, w in zip(FACTORS, edited[t("weight")])
                   if pd.notna(w) and float(w) >= 0 and float(w) != float(DEFAULT_WEIGHTS[f])}
        st.caption(t("reach_rules"))
        given = {k: (d, r) for k, d, r in st.session_state["fire_rules_base"]}
        rules_table = pd.DataFrame({
            t("rule_type"): [_rule_type(k) for k in RULE_TYPES],
            t("rule_distance"): [float(given.get(k, (_rule(k).distance_m, None))[0]) for k in RULE_TYPES],
            t("rule_rise"): [given[k][1] if k in given else _rule(k).rise_m for k in RULE_TYPES]})
        rules_edit = st.data_editor(rules_table, disabled=[t("rule_type")], hide_index=True, key="fire_rules",
                                    width="stretch")
        rules = []
        for k, d, r in zip(RULE_TYPES, rules_edit[t("rule_distance")], rules_edit[t("rule_rise")]):
            rule = _rule(k)
            d = float(d) if pd.notna(d) else rule.distance_m
            r = float(r) if pd.notna(r) else None
            if d != rule.distance_m or r != rule.rise_m:
                rules.append((k, d, r))
        st.markdown(f"**{t('weather_day')}**")
        on = st.checkbox(t("weather_use"), key="fire_weather_on")
        w = st.columns(5)
        for col, k, label, lo, hi in zip(w, _WEATHER, ("tmax", "rh14", "dry_days", "wind_force", "rain_mm"),
                                         (-30.0, 0.0, 0.0, 0.0, 0.0), (50.0, 100.0, 365.0, 12.0, 500.0)):
            col.number_input(t(label), lo, hi, step=1.0, key=k, disabled=not on)
    return weights, tuple(rules)


def _rule_type(key: str) -> str:
    """A reach rule's row in words: the source type as the layer names it, or the dip sites / the untyped."""
    if key in _RULE_WORDS:
        return _RULE_WORDS[key](lang())
    return spec("water_sources").field("type").choice_label(key, lang())


def _rule(kind: str):
    from gis.fire.water_reach import UNKNOWN_TYPE_RULE

    return DEFAULT_RULES.get(kind, UNKNOWN_TYPE_RULE)


def _pct(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{float(v):.1%}"


# ---- the review ---------------------------------------------------------------------------------------------
def _inputs(layers: dict) -> tuple[FireInputs, dict[str, GisError]]:
    """The review's data: the workspace, and the candidate sites uploaded (with each upload's problems)."""
    candidates, keys, errors = {}, {}, {}
    for kind, widget in CANDIDATE_WIDGETS.items():
        up = st.session_state.get(widget)
        coords = chosen(widget, offset_key=f"{widget}_offset")   # the box under the upload, drawn by _siting
        if up is None or not hasattr(up, "getvalue") or coords is None:
            continue
        data = up.getvalue()
        fields = astuple(coords)
        try:
            candidates[kind] = _candidate_points(data, up.name, fields)
        except GisError as e:
            errors[kind] = e
            continue
        keys[kind] = hashlib.sha1(data).hexdigest() + repr(fields)
    return FireInputs(workspace_dem(), {k: layers[k] for k in REVIEW_KINDS if k in layers},
                      candidates=candidates, key=layer_tokens(["dem", *REVIEW_KINDS]),
                      candidate_keys=keys), errors


def _headline(r: FireResult) -> None:
    total = r.total
    m = st.columns(6)
    m[0].metric(header("forest_ha", lang()), f"{total['forest_ha']:,.0f}")
    m[1].metric(t("high_risk_ha"), f"{total['high_ha']:,.0f}")
    m[2].metric(t("high_seen"), _pct(total["high_seen_share"]) if r.seen is not None else "—")
    m[3].metric(t("high_reach"), _pct(total["high_reach_share"]) if r.reach is not None else "—")
    m[4].metric(t("gaps_n"), f"{len(r.gaps):,}")
    m[5].metric(t("gaps_both_ha"), f"{total['both_gap_ha']:,.0f}")
    if r.weather is not None:
        words = t("weather_result", idx=f"{r.weather.index:.0f}", level=pick(r.weather.label, lang()))
        st.markdown(f"<div style='padding:6px 12px;border-radius:6px;background:{r.weather.colour};color:white;"
                    f"font-weight:600'>{words}</div>", unsafe_allow_html=True)
    with st.expander(t("notes"), expanded=False):
        for n in r.messages(lang()):
            st.markdown(f"- {n}")


def _map(r: FireResult, key: tuple) -> None:
    """The review's map, built once for every session of the same review, workspace revision and language
    (:func:`ui.state.shared_map`); ``key`` names the review and its data."""
    grid, k = r.grid, r.keys
    risk_ov = _overlays(k["risk"], "level:risk", r.risk.level, grid)
    day_ov = _overlays(k["weather"], "level:day", r.day_level, grid) if r.day_level is not None else None
    seen_ov = _overlays(k["cameras"], "seen", r.seen, grid) if r.seen is not None else None
    reach_ov = _overlays(k["reach"], "reach", r.reach.count, grid, r.forest) if r.reach is not None else None
    from gis.report.fire_files import site_frame

    sites = site_frame(list(r.sites)) if r.sites else None
    lang_ = lang()
    town = r.review.township

    def build():
        layers = workspace_layers()
        planned, payloads, images, _ = map_parts([k for k in BASE_KINDS if k in layers], town)   # per revision
        return fire_map(layers, lang_, hillshade=hillshade_overlay(), risk=risk_ov, day=day_ov,
                        day_label=pick(r.weather.label, lang_) if r.weather else "", seen=seen_ov, reach=reach_ov,
                        gaps=r.gaps, sites=sites, places=place_names(), focus=town,
                        focus_outline=township_focus(town), base=(planned, payloads, images))

    cache_key = ("fire", key, town, lang_, layer_tokens([*KINDS, "grids", "villages", "shelters", "boundaries"]))
    show_map(build, key="fire_map", height=640, shared=cache_key)


@st.cache_data(show_spinner=False, max_entries=8)
def _table_frames(key: tuple, _r: FireResult, lang_: str) -> dict[str, pd.DataFrame]:
    """The page's tables: the workbook's rows (:mod:`gis.report.fire_files`), headed from one registry."""
    towns = township_rows(_r, lang=lang_)
    for c in [c for c in towns.columns if c.endswith("share")]:
        towns[c] = (towns[c] * 100).round(1)
    return {"towns": labelled(towns, lang_), "cams": labelled(camera_rows(_r, lang=lang_), lang_),
            "sources": labelled(source_rows(_r, lang=lang_), lang_),
            "gaps": labelled(gap_rows(_r, lang=lang_).drop(columns=["lon", "lat"]), lang_)}


def _tables(r: FireResult, key: tuple) -> None:
    frames = _table_frames(key, r, lang())
    tabs = st.tabs([t("tab_townships"), t("tab_cameras"), t("tab_sources"), t("tab_gaps")])
    with tabs[0]:
        st.caption(t("shares_in_percent"))
        st.dataframe(frames["towns"], width="stretch", hide_index=True)
    with tabs[1]:
        if r.seen is not None:
            st.dataframe(frames["cams"], width="stretch", hide_index=True)
    with tabs[2]:
        if r.reach is not None:
            st.dataframe(frames["sources"], width="stretch", hide_index=True)
    with tabs[3]:
        st.dataframe(frames["gaps"], width="stretch", hide_index=True)


def _siting(r: FireResult, data: FireInputs, errors: dict[str, GisError]) -> None:
    """Greedy maximal coverage: N new cameras and / or water points adding the most covered high-risk forest."""
    st.subheader(t("siting"))
    st.caption(t("siting_help"))
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(t("siting_cameras_n"), 0, 100, step=1, key="fire_site_n")
    c2.number_input(t("siting_water_n"), 0, 100, step=1, key="fire_site_water_n")
    c3.number_input(t("siting_height"), 5.0, 100.0, step=5.0, key="fire_site_h")
    c4.number_input(t("siting_range"), 1000.0, 30000.0, step=500.0, key="fire_site_range")
    with st.expander(t("siting_more"), expanded=False):
        m = st.columns(4)
        m[0].number_input(t("siting_water_distance"), 100.0, 10000.0, step=100.0, key="fire_site_water_distance")
        m[1].number_input(t("siting_water_rise"), 0.0, 2000.0, step=10.0, key="fire_site_water_rise")
        m[2].number_input(t("siting_camera_max_road"), 0.0, 20000.0, step=100.0, key="fire_site_camera_max_road")
        m[3].number_input(t("siting_water_max_road"), 0.0, 20000.0, step=100.0, key="fire_site_water_max_road")
        m = st.columns(3)
        m[0].number_input(t("siting_prominence"), 0.0, 500.0, step=5.0, key="fire_site_prominence")
        m[1].number_input(t("siting_spacing"), 50.0, 20000.0, step=50.0, key="fire_site_spacing")
        m[2].number_input(t("siting_max_candidates"), 1, 5000, step=50, key="fire_site_max_candidates")
    u1, u2 = st.columns(2)
    for col, (kind, widget), label in zip((u1, u2), CANDIDATE_WIDGETS.items(),
                                          ("siting_candidates", "siting_water_candidates")):
        if col.file_uploader(t(label), type=CANDIDATE_TYPES, key=widget, help=t("siting_candidates_help")) is None:
            continue
        crs_box(widget, where=col, offsets=True)   # read by _inputs before this run drew it
        if kind in errors:
            show_problems(errors[kind], where=col)
        elif kind in data.candidates:
            _candidates_read(col, data.candidates[kind], CANDIDATE_KINDS[kind])
    if st.button(t("siting_run"), key="fire_site_run", type="primary", on_click=_apply_siting):
        pass   # the click applied the siting settings to the review (on_click), which this run computed
    if not r.sites:
        return
    for res in r.sites:
        for n in res.notes:
            st.caption(pick(n, lang()))
    table = site_rows(list(r.sites), lang=lang())
    for c in ("gain_share", "cumulative_share"):
        table[c] = (pd.to_numeric(table[c]) * 100).round(1)
    st.dataframe(labelled(table.drop(columns=["lon", "lat"]), lang()), width="stretch", hide_index=True)
    for res in r.sites:
        kind = res.sites["kind"].iloc[0] if len(res.sites) else ""
        st.caption(f"{pick(WORDS.get(kind, kind), lang())}: " + t(
            "siting_summary", before=f"{res.covered_before_ha:,.0f}", target=f"{res.target_ha:,.0f}", n=res.candidates))
    cols = st.columns(3)
    for col, fmt in zip(cols, ("gpkg", "kml", "xlsx")):
        col.download_button(fmt.upper(), _sites_file(r, fmt, lang()), file_name=file_name("sites", fmt, lang()),
                            key=f"fire_sites_dl_{fmt}")


def _candidates_read(col, points, kind: str) -> None:
    """Under a candidate upload: how many points in which CRS, the notes of reading them, and where each lies."""
    col.success(points_note(points))
    for note in points.attrs.get("warnings", []):
        col.warning(pick(note, lang()))
    with col.expander(t("siting_candidates_where")):
        st.dataframe(display_table(points.head(PREVIEW_ROWS), kind, lang(), coordinates=True), width="stretch",
                     hide_index=True)


def _sites_file(r: FireResult, fmt: str, lang_: str) -> bytes:
    """The proposed sites as a file (GeoPackage, KML or Excel), in the review's words."""
    import io
    import tempfile

    from gis.report.fire_files import fire_kml, fire_layers

    if fmt == "xlsx":
        buf = io.BytesIO()
        labelled(site_rows(list(r.sites), lang=lang_), lang_).to_excel(buf, index=False)
        return buf.getvalue()
    layers = fire_layers(r, lang=lang_)
    if fmt == "kml":
        return fire_kml({"sites": layers["sites"]}, lang=lang_)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sites.gpkg"
        layers["sites"].to_file(path, driver="GPKG", layer="sites")
        return path.read_bytes()


# ---- downloads ------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4)
def _files(key: tuple, _r: FireResult, lang_: str) -> dict[str, bytes]:
    """Workbook, GeoPackage, GeoJSON, KML and the GeoTIFFs (zipped) of the review."""
    import io
    import tempfile
    import zipfile

    from gis.report.fire_files import write_fire_files

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_fire_files(_r, Path(tmp), lang=lang_, maps=False)
        out = {p.name: p.read_bytes() for p in paths if p.suffix != ".tif"}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths:
                if p.suffix == ".tif":
                    zf.write(p, p.name)
        out["rasters.zip"] = buf.getvalue()
        return out


@st.cache_data(show_spinner=False, max_entries=8)
def _a4_map(key: tuple, _r: FireResult, township: str | None, fmt: str, lang_: str) -> bytes:
    import tempfile

    from gis.report.fire_files import map_layers, subtitles
    from gis.report.fire_map import coverage_map

    with tempfile.TemporaryDirectory() as tmp:
        paths = coverage_map(Path(tmp) / "map", dem=_r.grid, layers=map_layers(_r), township=township, lang=lang_,
                             formats=(fmt,), subtitle=subtitles(_r, lang_).get(township or ""))
        return paths[0].read_bytes()


def _downloads(r: FireResult, key: tuple) -> None:
    st.subheader(t("downloads"))
    if st.button(t("fire_files_prepare"), key="fire_files_prepare"):
        st.session_state["fire_files_key"] = key
    if st.session_state.get("fire_files_key") == key:
        with st.spinner(t("fire_files_running")):
            files = _files(key, r, lang())
        names = {"fire.xlsx": "Excel", "fire.gpkg": "GeoPackage", "fire.geojson": "GeoJSON", "fire.kml": "KML",
                 "rasters.zip": "GeoTIFF (zip)"}
        cols = st.columns(len(names))
        for col, (name, label) in zip(cols, names.items()):
            if name in files:
                stem = "fire_files" if name != "rasters.zip" else "fire_rasters"
                col.download_button(label, files[name], file_name=file_name(stem, Path(name).suffix, lang()),
                                    key=f"fire_dl_{name}")
    towns = r.township_names()
    outlines = workspace_outlines()
    if outlines.from_boundaries:   # every township of the boundaries, those without forest too
        towns += [n for n in outlines.names if n not in towns]
    if st.session_state.get("fire_a4_town") not in ("", *towns):
        st.session_state["fire_a4_town"] = ""
    c1, c2, c3 = st.columns([3, 1, 1])
    whole = t("whole_area")      # the words fixed when the widget is made
    c1.selectbox(t("a4_map"), ["", *towns], key="fire_a4_town", format_func=lambda v: v or whole)
    township_caption(c1)   # which outline the townships are (the boundaries layer, or a stand-in)
    town = r.review.township if r.review.township in towns else None
    if c2.button(t("a4_prepare"), key="fire_a4_prepare"):
        st.session_state["fire_a4_key"] = (key, town)
    if st.session_state.get("fire_a4_key") == (key, town):
        try:
            with st.spinner(t("a4_drawing")):
                png = _a4_map(key, r, town, "png", lang())
                pdf = _a4_map(key, r, town, "pdf", lang())
        except GisError as e:   # a township named only in a field, with no outline to map
            st.error("\n".join(f"- {line}" for line in e.lines(lang())))
            return
        area = town or t("whole_area")
        c2.download_button("PNG", png, file_name=file_name("fire_a4", "png", lang(), area=area), key="fire_a4_png")
        c3.download_button("PDF", pdf, file_name=file_name("fire_a4", "pdf", lang(), area=area), key="fire_a4_pdf")


# ---- saved reviews -----------------------------------------------------------------------------------------
def _summary(r: FireResult) -> dict:
    from gis.report.fire_files import fire_summary

    s = fire_summary(r)
    return {"forest_ha": s["forest_ha"], "high_ha": s["high_risk_ha"], "high_seen_share": s["high_seen_share"],
            "high_reach_share": s["high_reach_share"], "both_gap_ha": s["both_gap_ha"], "gaps": s["gaps"],
            "gap_ha": s["gap_ha"], "sites": sum(s["sites"].values()), "weather_level": s["weather_level"]}


def _saved_reviews(r: FireResult) -> None:
    """Save the review in the workspace; compare, restore or delete saved ones."""
    from layers.scenarios import delete_scenario, list_scenarios, save_scenario
    from ui.state import editor_name, workspace_folder

    st.subheader(t("fire_reviews"))
    folder = workspace_folder()
    c1, c2 = st.columns([3, 1])
    name = c1.text_input(t("fire_review_name"), key="fire_review_name")
    if c2.button(t("fire_review_save"), key="fire_review_save") and name:
        try:
            save_scenario(folder, "fire", name, r.review.to_params(), _summary(r), user=editor_name())
        except GisError as e:
            st.error("\n".join(e.lines(lang())))
    saved = list_scenarios(folder, "fire")
    if not saved:
        return
    rows = {}
    for sc in saved:
        try:
            settings = FireReview.from_params(sc.params).describe(lang())
        except GisError:
            settings = "—"
        rows[sc.name] = {**sc.summary, "settings": settings, "saved_by": f"{sc.user} {sc.time[:16]}"}
    table = pd.DataFrame(rows).T
    for c in ("high_seen_share", "high_reach_share"):
        if c in table:
            table[c] = pd.to_numeric(table[c]).map(_pct)
    st.dataframe(table.rename(columns={k: header(k, lang()) for k in table.columns}), width="stretch")
    c1, c2, c3 = st.columns([3, 1, 1])
    pick_ = c1.selectbox(t("fire_review_pick"), [sc.name for sc in saved], key="fire_review_pick")
    chosen = next(sc for sc in saved if sc.name == pick_)
    c2.button(t("fire_review_restore"), key="fire_review_restore", on_click=_restore, args=(chosen.params,),
              help=t("fire_review_restore_help"))
    if c3.button(t("fire_review_delete"), key="fire_review_delete"):
        delete_scenario(folder, "fire", pick_)
        st.rerun()


# ---- the page ----------------------------------------------------------------------------------------------
def page() -> None:
    """Render the page."""
    st.header(t("page_fire"))
    st.caption(t("fire_intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["forest", "water_sources", "cameras"])
    if "forest" not in layers or workspace_dem() is None:
        if workspace_dem() is None:
            st.info(t("fire_need_dem"))
        show_layers_map(KINDS, key="fire_map", show=set(KINDS))
        _inventory(layers)
        return
    _defaults()
    weights, rules = _controls(layers)
    try:
        review = _review_from_widgets(weights, rules)
        data, errors = _inputs(layers)
        result = review.run(data, memo=_memo)
    except GisError as e:
        st.error("\n".join(f"- {line}" for line in e.lines(lang())))
        _inventory(layers)
        return
    key = (data.key, tuple(sorted(data.candidate_keys.items())), review)
    _headline(result)
    _map(result, key)
    _tables(result, key)
    _siting(result, data, errors)
    _downloads(result, key)
    _saved_reviews(result)
    _inventory(layers)


def _type_table(layer, kind: str):
    f = spec(kind).field("type")
    counts = count_by(layer, "type")
    counts.index = [f.choice_label(i, lang()) if i != "—" else i for i in counts.index]
    return counts.rename(t("count")).rename_axis(t("type"))


def _inventory(layers: dict) -> None:
    """What the workspace holds: forest, sources and cameras per township and by type."""
    with st.expander(t("inventory"), expanded=False):
        if "forest" in layers:
            table = shared_result(("fire_inventory", layer_tokens(["forest", "water_sources", "cameras"])),
                                  lambda: forest_by_township(layers["forest"], layers.get("water_sources"),
                                                             layers.get("cameras")))
            st.dataframe(table.rename(columns={"forest_km2": t("forest_km2"), "water_sources": t("water_n"),
                                               "cameras": t("cameras_n")}).rename_axis(t("township")),
                         width="stretch")
        cols = st.columns(2)
        for col, kind, key in ((cols[0], "water_sources", "sources_by_type"),
                               (cols[1], "cameras", "cameras_by_type")):
            if kind in layers:
                col.markdown(f"**{t(key)}**")
                col.dataframe(_type_table(layers[kind], kind), width="stretch")
