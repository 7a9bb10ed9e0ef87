"""Forest-fire coverage page: risk, camera coverage, water reach, gaps and where new sites help most.

Each step of the review (:mod:`gis.fire.review`) is cached on its own inputs, so changing the
season recomputes only the water reach, and a new weather day only the day's map.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

from gis.fire.review import (camera_step, camera_table, gap_step, reach_step, risk_step, township_table,
                               weather_step)
from gis.fire.risk import DEFAULT_WEIGHTS, HIGH_RISK_LEVEL
from gis.tallies import count_by, forest_by_township
from layers.catalogue import spec
from layers.errors import LayerError
from ui.fire_layers import fire_map, level_overlay, reach_overlay, seen_overlay
from ui.i18n import labeller, lang, t
from ui.map_panel import note_missing_layers, show_layers_map
from ui.state import hillshade_overlay, layer_tokens, shared_map, shared_result, workspace_dem, workspace_layers

KINDS = ["forest", "rivers", "roads", "water_sources", "cameras"]
FACTORS = list(DEFAULT_WEIGHTS)


def _type_table(layer, kind: str):
    f = spec(kind).field("type")
    counts = count_by(layer, "type")
    counts.index = [f.choice_label(i, lang()) if i != "—" else i for i in counts.index]
    return counts.rename(t("count")).rename_axis(t("type"))


def _key(kinds: list[str]) -> tuple:
    return layer_tokens(["dem", *kinds])


# ---- cached steps ----------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=4)
def _risk(key: tuple, weights: tuple):
    return risk_step(workspace_dem(), workspace_layers(), dict(weights) or None)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cameras(key: tuple, weights: tuple, target_h: float, curvature: bool):
    grid, forest, risk, _ = _risk(key, weights)
    cams = workspace_layers()["cameras"]
    count, first, tallies, notes = camera_step(grid, cams, forest, risk.level >= HIGH_RISK_LEVEL,
                                               target_h=target_h, curvature=curvature)
    table = camera_table(cams, tallies, count, first, forest, risk.level >= HIGH_RISK_LEVEL, grid)
    return count, first, table, notes


@st.cache_resource(show_spinner=False, max_entries=4)
def _reach(key: tuple, weights: tuple, season: str, max_road: float | None):
    grid, _forest, risk, _ = _risk(key, weights)
    layers = workspace_layers()
    return reach_step(grid, layers["water_sources"], layers["forest"], risk.level, season=season,
                      roads=layers.get("roads"), max_road_distance_m=max_road)


@st.cache_resource(show_spinner=False, max_entries=4)
def _gaps(key: tuple, weights: tuple, target_h: float, curvature: bool, season: str, max_road: float | None,
          min_ha: float):
    grid, _forest, risk, _ = _risk(key, weights)
    layers = workspace_layers()
    seen = _cameras(key, weights, target_h, curvature)[0] if len(layers.get("cameras", [])) else None
    reach = _reach(key, weights, season, max_road).count if len(layers.get("water_sources", [])) else None
    return gap_step(grid, risk.level >= HIGH_RISK_LEVEL, seen, reach, layers, min_gap_ha=min_ha)


@st.cache_resource(show_spinner=False, max_entries=4)
def _towns(key: tuple, weights: tuple, target_h: float, curvature: bool, season: str, max_road: float | None):
    """Per-township shares (burns the forest's townships onto the grid: once per review, not per rerun)."""
    grid, forest, risk, _ = _risk(key, weights)
    layers = workspace_layers()
    seen = _cameras(key, weights, target_h, curvature)[0] if len(layers.get("cameras", [])) else None
    reach = _reach(key, weights, season, max_road).count if len(layers.get("water_sources", [])) else None
    return township_table(grid, layers["forest"], forest, risk.level >= HIGH_RISK_LEVEL, seen, reach)


@st.cache_data(show_spinner=False, max_entries=8)
def _overlays(key: tuple, what: str, _array, _grid, _forest=None):
    if what.startswith("level"):
        return level_overlay(_array, _grid)
    if what.startswith("seen"):
        return seen_overlay(_array, _grid)
    return reach_overlay(_array, _forest, _grid)


# ---- controls ---------------------------------------------------------------------------------------
def _controls(layers: dict) -> dict:
    with st.expander(t("fire_settings"), expanded=False):
        c1, c2, c3 = st.columns(3)
        season = c1.radio(t("season"), ["dry", "wet"], format_func=labeller("season_"), horizontal=True,
                          key="fire_season")
        target_h = float(c2.number_input(t("target_height"), 0.0, 100.0, 0.0, 5.0, key="cov_target",
                                         help=t("target_height_help")))
        curvature = c3.checkbox(t("curvature"), True, key="cov_curvature")
        c4, c5 = st.columns(2)
        road_filter = c4.checkbox(t("road_filter"), False, key="fire_road_filter",
                                  disabled="roads" not in layers, help=t("road_filter_help"))
        max_road = float(c4.number_input(t("max_road_m"), 50.0, 5000.0, 500.0, 50.0, key="fire_max_road")) \
            if road_filter else None
        min_ha = float(c5.number_input(t("min_gap_ha"), 0.0, 1000.0, 1.0, 0.5, key="fire_min_gap"))
        st.caption(t("risk_weights_help"))
        table = pd.DataFrame({t("factor"): [t(f"factor_{f}") for f in FACTORS],
                              t("weight"): [float(DEFAULT_WEIGHTS[f]) for f in FACTORS]})
        edited = st.data_editor(table, disabled=[t("factor")], hide_index=True, key="fire_weights", width="stretch")
        weights = tuple((f, float(w)) for f, w in zip(FACTORS, edited[t("weight")])
                        if float(w) >= 0 and float(w) != float(DEFAULT_WEIGHTS[f]))
        st.markdown(f"**{t('weather_day')}**")
        use_weather = st.checkbox(t("weather_use"), False, key="fire_weather_on")
        weather = None
        if use_weather:
            w = st.columns(4)
            weather = (float(w[0].number_input(t("tmax"), -30.0, 50.0, 25.0, 1.0, key="fire_tmax")),
                       float(w[1].number_input(t("rh14"), 0.0, 100.0, 35.0, 1.0, key="fire_rh")),
                       float(w[2].number_input(t("dry_days"), 0.0, 365.0, 5.0, 1.0, key="fire_dry")),
                       float(w[3].number_input(t("wind_force"), 0.0, 12.0, 3.0, 1.0, key="fire_wind")))
    return {"season": season, "target_h": target_h, "curvature": curvature, "max_road": max_road, "min_ha": min_ha,
            "weights": weights, "weather": weather}


def _pct(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{float(v):.1%}"


# ---- the review ---------------------------------------------------------------------------------------
def _review(layers: dict, opt: dict):
    key = _key(["forest", "roads", "villages", "graves", "cameras", "water_sources"])
    w = opt["weights"]
    with st.spinner(t("computing_risk")):
        grid, forest, risk, notes = _risk(key, w)
    high = risk.level >= HIGH_RISK_LEVEL
    seen = cam = reach = None
    notes = list(notes)
    if "cameras" in layers and len(layers["cameras"]):
        with st.spinner(t("computing_viewshed")):
            seen, _first, cam, cnotes = _cameras(key, w, opt["target_h"], opt["curvature"])
        notes += cnotes
    if "water_sources" in layers and len(layers["water_sources"]):
        with st.spinner(t("computing_reach")):
            reach = _reach(key, w, opt["season"], opt["max_road"])
        notes += [n for n in reach.notes if n not in notes]
    with st.spinner(t("computing_gaps")):
        gaps = _gaps(key, w, opt["target_h"], opt["curvature"], opt["season"], opt["max_road"], opt["min_ha"])
    towns = _towns(key, w, opt["target_h"], opt["curvature"], opt["season"], opt["max_road"])
    total = towns.loc[towns.index[-1]]
    m = st.columns(6)
    m[0].metric(t("forest_ha"), f"{total['forest_ha']:,.0f}")
    m[1].metric(t("high_risk_ha"), f"{total['high_ha']:,.0f}")
    m[2].metric(t("high_seen"), _pct(total["high_seen_share"]))
    m[3].metric(t("high_reach"), _pct(total["high_reach_share"]))
    m[4].metric(t("gaps_n"), f"{len(gaps):,}")
    m[5].metric(t("gaps_both_ha"), f"{total['both_gap_ha']:,.0f}")
    weather = day = None
    if opt["weather"] is not None:
        weather, day = weather_step(opt["weather"], risk.level)
        label = weather["label_zh"] if lang() == "zh" else weather["label_en"]
        words = t("weather_result", idx=f"{weather['index']:.0f}", level=label)
        st.markdown(f"<div style='padding:6px 12px;border-radius:6px;background:{weather['colour']};color:white;"
                    f"font-weight:600'>{words}</div>", unsafe_allow_html=True)
    with st.expander(t("notes"), expanded=False):
        for zh, en in notes:
            st.markdown(f"- {zh if lang() == 'zh' else en}")
    first = _cameras(key, w, opt["target_h"], opt["curvature"])[1] if seen is not None else None
    return {"key": key, "grid": grid, "forest": forest, "risk": risk, "high": high, "seen": seen, "cam": cam,
            "reach": reach, "gaps": gaps, "towns": towns, "weather": weather, "day": day, "first": first,
            "notes": notes}


def _map(layers: dict, r: dict, opt: dict) -> None:
    key, grid = r["key"], r["grid"]
    w = opt["weights"]
    risk_ov = _overlays(key + (w, "risk"), "level:risk", r["risk"].level, grid)
    day_ov = _overlays(key + (w, "day", opt["weather"]), "level:day", r["day"], grid) if r["day"] is not None else None
    seen_ov = _overlays(key + (w, "seen", opt["target_h"], opt["curvature"]), "seen", r["seen"], grid) \
        if r["seen"] is not None else None
    reach_ov = _overlays(key + (w, "reach", opt["season"], opt["max_road"]), "reach", r["reach"].count, grid,
                         r["forest"]) if r["reach"] is not None else None
    label = (r["weather"]["label_zh"] if lang() == "zh" else r["weather"]["label_en"]) if r["weather"] else ""
    sites = st.session_state.get("fire_sites_gdf")
    lg = lang()

    def build():
        return fire_map(layers, lg, hillshade=hillshade_overlay(), risk=risk_ov, day=day_ov, day_label=label,
                        seen=seen_ov, reach=reach_ov, gaps=r["gaps"], sites=sites)

    # one map per review, settings, language and this session's proposed sites, shared by every session
    mine = None if sites is None else st.session_state.get("fire_sites_key")
    cache_key = ("fire", key, w, opt["target_h"], opt["curvature"], opt["season"], opt["max_road"], opt["min_ha"],
                 opt["weather"], lg, layer_tokens(KINDS), mine)
    shared_map(build, cache_key=cache_key, key="fire_map", height=640)


def _labelled(df: pd.DataFrame, names: dict) -> pd.DataFrame:
    i = 0 if lang() == "zh" else 1
    return df.rename(columns={k: v[i] for k, v in names.items()})


TOWN_COLS = {"forest_ha": ("森林（公顷）", "Forest (ha)"), "high_ha": ("高火险林地（公顷）", "High-risk forest (ha)"),
             "seen_share": ("监控可见 ≥1", "Seen ≥1"), "seen2_share": ("监控可见 ≥2", "Seen ≥2"),
             "high_seen_share": ("高火险可见 ≥1", "High-risk seen ≥1"),
             "high_seen2_share": ("高火险可见 ≥2", "High-risk seen ≥2"),
             "reach_share": ("水源可达", "In water reach"), "high_reach_share": ("高火险水源可达", "High-risk in reach"),
             "both_gap_ha": ("两者皆无（公顷）", "Neither (ha)")}
CAM_COLS = {"name": ("名称", "Name"), "type": ("类型", "Type"), "height": ("架设高度（米）", "Mast (m)"),
            "range": ("监测半径（米）", "Range (m)"), "township": ("乡镇", "Township"),
            "forest_seen_ha": ("可见森林（公顷）", "Forest seen (ha)"),
            "high_seen_ha": ("可见高火险林地（公顷）", "High-risk seen (ha)"), "only_ha": ("仅此监控可见（公顷）", "Only it sees (ha)")}
SRC_COLS = {"name": ("名称", "Name"), "type": ("类型", "Type"), "usable": ("可用", "Usable"),
            "reason_zh": ("不计原因", "Why not counted"), "reason_en": ("不计原因", "Why not counted"),
            "distance_m": ("可达距离（米）", "Reach (m)"), "rise_m": ("可达高差（米）", "Rise (m)"),
            "dip_site": ("直升机取水点", "Helicopter dip site"), "forest_ha": ("可达森林（公顷）", "Forest reached (ha)"),
            "sole_forest_ha": ("仅此水源可达（公顷）", "Only it reaches (ha)")}
GAP_COLS = {"rank": ("排序", "Rank"), "gap_zh": ("缺口类型", "Gap"), "gap": ("缺口类型", "Gap"),
            "area_ha": ("面积（公顷）", "Area (ha)"), "township": ("乡镇", "Township"),
            "road_name": ("最近道路", "Nearest road"), "road_dist_m": ("距道路（米）", "To road (m)"),
            "source_name": ("最近水源", "Nearest source"), "source_dist_m": ("距水源（米）", "To water (m)")}
SITE_COLS = {"order": ("顺序", "Order"), "name": ("名称", "Name"), "gain_ha": ("新增覆盖（公顷）", "Gain (ha)"),
             "gain_share": ("新增覆盖率", "Gain share"), "cumulative_ha": ("累计覆盖（公顷）", "Cumulative (ha)"),
             "cumulative_share": ("累计覆盖率", "Cumulative share"), "elevation": ("海拔（米）", "Elevation (m)"),
             "road_dist_m": ("距道路（米）", "To road (m)")}


def _tables(r: dict) -> None:
    zh = lang() == "zh"
    tabs = st.tabs([t("tab_townships"), t("tab_cameras"), t("tab_sources"), t("tab_gaps")])
    share_cols = [c for c in TOWN_COLS if c.endswith("share")]
    with tabs[0]:
        towns = r["towns"].copy()
        for c in share_cols:
            towns[c] = (towns[c] * 100).round(1)
        st.caption(t("shares_in_percent"))
        st.dataframe(_labelled(towns, TOWN_COLS).rename_axis(t("township")), width="stretch")
    with tabs[1]:
        if r["cam"] is not None:
            st.dataframe(_labelled(r["cam"], CAM_COLS), width="stretch", hide_index=True)
    with tabs[2]:
        if r["reach"] is not None:
            src = r["reach"].sources
            cols = [c for c in ("name", "type", "usable", "reason_zh" if zh else "reason_en", "distance_m", "rise_m",
                                "dip_site", "forest_ha", "sole_forest_ha") if c in src]
            st.dataframe(_labelled(src[cols], SRC_COLS), width="stretch", hide_index=True)
    with tabs[3]:
        g = r["gaps"]
        cols = [c for c in ("rank", "gap_zh" if zh else "gap", "area_ha", "township", "road_name", "road_dist_m",
                            "source_name", "source_dist_m") if c in g]
        st.dataframe(_labelled(pd.DataFrame(g[cols]), GAP_COLS), width="stretch", hide_index=True)


def _siting(layers: dict, r: dict) -> None:
    """Greedy maximal coverage: N new cameras or water points adding the most covered high-risk forest."""
    from gis.fire.siting import site_cameras, site_water

    st.subheader(t("siting"))
    st.caption(t("siting_help"))
    c1, c2, c3 = st.columns([2, 1, 1])
    kind = c1.radio(t("siting_kind"), ["camera", "water"], format_func=labeller("siting_"), horizontal=True,
                    key="fire_site_kind")
    n = int(c2.number_input(t("siting_n"), 1, 100, 5, 1, key="fire_site_n"))
    if kind == "camera":
        h = float(c3.number_input(t("siting_height"), 5.0, 100.0, 30.0, 5.0, key="fire_site_h"))
        rng = float(c3.number_input(t("siting_range"), 1000.0, 30000.0, 8000.0, 500.0, key="fire_site_range"))
    up = st.file_uploader(t("siting_candidates"), type=["gpkg", "geojson", "json", "zip", "kml", "kmz", "csv", "xlsx"],
                          key="fire_site_candidates", help=t("siting_candidates_help"))
    candidates = None
    if up is not None:
        try:
            candidates = _candidate_points(up.getvalue(), up.name)
        except LayerError as e:
            st.error("\n".join(f"- {line}" for line in e.lines(lang())))
            return
        st.caption(t("siting_candidates_n", n=len(candidates)))
    if st.button(t("siting_run"), key="fire_site_run", type="primary"):
        target = r["high"] if r["high"].any() else r["forest"]
        with st.spinner(t("siting_running")):
            try:
                if kind == "camera":
                    covered = r["seen"] > 0 if r["seen"] is not None else None
                    res = site_cameras(r["grid"], target, covered, n, roads=layers.get("roads"), height=h,
                                       range_m=rng, target_h=st.session_state.get("cov_target", 0.0),
                                       candidates=candidates)
                else:
                    covered = r["reach"].count > 0 if r["reach"] is not None else None
                    res = site_water(r["grid"], target, covered, n, roads=layers.get("roads"),
                                     rivers=layers.get("rivers"), candidates=candidates)
            except LayerError as e:
                st.error("\n".join(f"- {line}" for line in e.lines(lang())))
                return
        st.session_state["fire_sites"] = res
        st.session_state["fire_sites_gdf"] = res.sites
        st.session_state["fire_sites_key"] = uuid.uuid4().hex     # this session's sites: its own map
        st.rerun()
    res = st.session_state.get("fire_sites")
    if res is None:
        return
    for zh, en in res.notes:
        st.caption(zh if lang() == "zh" else en)
    table = pd.DataFrame(res.sites.drop(columns="geometry"))
    for c in ("gain_share", "cumulative_share"):
        if c in table:
            table[c] = (table[c] * 100).round(1)
    st.dataframe(_labelled(table[[c for c in SITE_COLS if c in table]], SITE_COLS), width="stretch", hide_index=True)
    st.caption(t("siting_summary", before=f"{res.covered_before_ha:,.0f}", target=f"{res.target_ha:,.0f}",
                 n=res.candidates))
    cols = st.columns(3)
    for col, fmt in zip(cols, ("gpkg", "kml", "xlsx")):
        col.download_button(fmt.upper(), _sites_file(res.sites, fmt), file_name=f"建议点位.{fmt}",
                            key=f"fire_sites_dl_{fmt}")


@st.cache_data(show_spinner=False, max_entries=4)
def _candidate_points(data: bytes, name: str):
    """Uploaded candidate sites (points), written under a generated name, never the user's."""
    import tempfile

    from layers.load import load_points

    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("candidates" + (suffix if suffix.isascii() and len(suffix) <= 8 else ""))
        path.write_bytes(data)
        return load_points(path, display_name=Path(name).name)


def _sites_file(sites, fmt: str) -> bytes:
    """The proposed sites as a file (GeoPackage, KML or Excel)."""
    import io
    import tempfile

    if fmt == "xlsx":
        buf = io.BytesIO()
        _labelled(pd.DataFrame(sites.drop(columns="geometry")).assign(
            lon=sites.geometry.x.round(6), lat=sites.geometry.y.round(6)), {**SITE_COLS, "lon": ("经度", "Longitude"),
                                                                            "lat": ("纬度", "Latitude")}
        ).to_excel(buf, index=False)
        return buf.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"sites.{fmt}"
        sites.to_file(path, driver="GPKG" if fmt == "gpkg" else "KML", **({"layer": "sites"} if fmt == "gpkg" else {}))
        return path.read_bytes()


def _analysis(r: dict, opt: dict):
    """The page's review as one :class:`gis.fire.review.FireAnalysis` (for the files)."""
    from gis.fire.review import FireAnalysis, FireOptions

    options = FireOptions(target_h=opt["target_h"], curvature=opt["curvature"], season=opt["season"],
                          weights=dict(opt["weights"]) or None, max_road_distance_m=opt["max_road"],
                          min_gap_ha=opt["min_ha"], weather=opt["weather"])
    return FireAnalysis(grid=r["grid"], forest=r["forest"], risk=r["risk"], high_risk=r["high"], seen=r["seen"],
                        first_camera=r["first"], reach=r["reach"], gaps=r["gaps"], townships=r["towns"],
                        cameras=r["cam"] if r["cam"] is not None else pd.DataFrame(),
                        sources=r["reach"].sources if r["reach"] is not None else pd.DataFrame(),
                        weather=r["weather"], day_level=r["day"], notes=r["notes"], options=options)


@st.cache_data(show_spinner=False, max_entries=4)
def _files(key: tuple, _analysis, _sites, lang_: str) -> dict[str, bytes]:
    """Workbook, GeoPackage, GeoJSON, KML and the GeoTIFFs (zipped) of the review."""
    import io
    import tempfile
    import zipfile

    from gis.report.fire_files import write_fire_files

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_fire_files(_analysis, Path(tmp), sites=_sites, lang=lang_, maps=False)
        out = {p.name: p.read_bytes() for p in paths if p.suffix != ".tif"}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths:
                if p.suffix == ".tif":
                    zf.write(p, p.name)
        out["rasters.zip"] = buf.getvalue()
        return out


@st.cache_data(show_spinner=False, max_entries=8)
def _a4_map(key: tuple, _analysis, _sites, township: str | None, fmt: str, lang_: str) -> bytes:
    import tempfile

    from gis.report.fire_map import coverage_map
    from gis.report.fire_files import map_layers

    with tempfile.TemporaryDirectory() as tmp:
        paths = coverage_map(Path(tmp) / "map", dem=_analysis.grid, layers=map_layers(_analysis, _sites,
                                                                                       workspace_layers()),
                             township=township, lang=lang_, formats=(fmt,))
        return paths[0].read_bytes()


def _downloads(r: dict, opt: dict) -> None:
    st.subheader(t("downloads"))
    fa = _analysis(r, opt)
    sites = st.session_state.get("fire_sites_gdf")
    key = (r["key"], opt["weights"], opt["target_h"], opt["curvature"], opt["season"], opt["max_road"],
           opt["min_ha"], opt["weather"],
           None if sites is None else tuple(zip(sites["kind"].astype(str), sites["name"].astype(str))))
    if st.button(t("fire_files_prepare"), key="fire_files_prepare"):
        st.session_state["fire_files_key"] = key
    if st.session_state.get("fire_files_key") == key:
        with st.spinner("…"):
            files = _files(key, fa, sites, lang())
        names = {"fire.xlsx": "Excel", "fire.gpkg": "GeoPackage", "fire.geojson": "GeoJSON", "fire.kml": "KML",
                 "rasters.zip": "GeoTIFF (zip)"}
        cols = st.columns(len(names))
        for col, (name, label) in zip(cols, names.items()):
            if name in files:
                stem = "森林防火覆盖" if name != "rasters.zip" else "森林防火栅格"
                col.download_button(label, files[name], file_name=f"{stem}{Path(name).suffix}", key=f"fire_dl_{name}")
    towns = [str(v) for v in r["towns"].index[:-1] if v != "—"]
    c1, c2, c3 = st.columns([3, 1, 1])
    whole = t("whole_area")
    town = c1.selectbox(t("a4_map"), [whole, *towns], key="fire_a4_town")
    town = None if town == whole else town
    if c2.button(t("a4_prepare"), key="fire_a4_prepare"):
        st.session_state["fire_a4_key"] = (key, town)
    if st.session_state.get("fire_a4_key") == (key, town):
        with st.spinner(t("a4_drawing")):
            png = _a4_map(key, fa, sites, town, "png", lang())
            pdf = _a4_map(key, fa, sites, town, "pdf", lang())
        name = f"{town or whole}森林防火覆盖图"
        c2.download_button("PNG", png, file_name=f"{name}.png", key="fire_a4_png")
        c3.download_button("PDF", pdf, file_name=f"{name}.pdf", key="fire_a4_pdf")


def page() -> None:
    """Render the page."""
    st.header(t("page_fire"))
    st.caption(t("fire_intro"))
    layers = workspace_layers()
    note_missing_layers(layers, ["forest", "water_sources", "cameras"])
    if "forest" not in layers or workspace_dem() is None:
        if workspace_dem() is None:
            st.info(t("fire_need_dem"))
        show_layers_map(KINDS, key="fire_map")
        _inventory(layers)
        return
    opt = _controls(layers)
    r = _review(layers, opt)
    _map(layers, r, opt)
    _tables(r)
    _siting(layers, r)
    _downloads(r, opt)
    _inventory(layers)


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
