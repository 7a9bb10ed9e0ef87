"""Web-map offsets (GCJ-02, BD-09): suspect them in a file, and say how to convert.

Points picked from Gaode/AMap, Tencent or WeChat are GCJ-02, from Baidu BD-09: a few hundred metres
to a kilometre off the WGS84/CGCS2000 positions every other layer has, and nothing in the file says
so. :func:`suspect` looks for three signs, strongest first:

- a DataV.GeoAtlas signature (Aliyun's boundary download, GCJ-02): at least two of the fields
  ``adcode``, ``level``, ``parent``, ``center``, ``centroid``, ``childrenNum``, ``acroutes``,
  ``subFeatureIndex``, one of them ``adcode`` or ``acroutes``;
- a file or column name from a web map: 高德 / amap / gaode / autonavi / 腾讯 / tencent / qq / gcj
  (GCJ-02), 百度 / baidu / bmap / bd09 (BD-09);
- an offset pattern: removing the GCJ-02 (or BD-09) offset brings the points systematically closer to
  the workspace's roads and villages (:data:`PATTERN_MIN_GAIN_M`, :data:`PATTERN_MAX_RATIO`,
  :data:`PATTERN_MIN_SHARE`).

A suspicion is a note, never a silent change: the user converts with the choice under the upload or
``--gcj02`` / ``--bd09`` (:func:`layers.coords.convert_offset`), and the choice is kept with the
workspace (:func:`layers.gpkg.read_layer_option`) and applied again on the next import of the same
file as the same layer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from layers.coords import bd09_to_wgs84, gcj02_to_wgs84
from layers.crs import metric_crs
from layers.text import Text

__all__ = ["OFFSETS", "Suspicion", "suspect", "offset_name", "reference_geometries", "DATAV_FIELDS",
           "PATTERN_MIN_GAIN_M", "PATTERN_MAX_RATIO", "PATTERN_MIN_SHARE", "PATTERN_MIN_POINTS"]

#: the web-map offsets the tool converts
OFFSETS = ("gcj02", "bd09")

#: fields of a DataV.GeoAtlas GeoJSON (the Aliyun boundary download)
DATAV_FIELDS = frozenset({"adcode", "level", "parent", "center", "centroid", "childrennum", "acroutes",
                          "subfeatureindex"})
_DATAV_KEYS = frozenset({"adcode", "acroutes"})

_GCJ_WORDS = ("高德", "amap", "gaode", "autonavi", "腾讯", "tencent", "qqmap", "gcj")
_BD_WORDS = ("百度", "baidu", "bmap", "bd09", "bdmap")
_QQ = re.compile(r"(^|[^a-z])qq([^a-z]|$)")

#: the median distance to the reference must drop by at least this many metres ...
PATTERN_MIN_GAIN_M = 100.0
#: ... to at most this share of what it was ...
PATTERN_MAX_RATIO = 0.6
#: ... with at least this share of the points closer ...
PATTERN_MIN_SHARE = 0.6
#: ... and at least this many points tested
PATTERN_MIN_POINTS = 5
_MAX_TESTED = 500


@dataclass(frozen=True)
class Suspicion:
    """Why a file is suspected of a web-map offset.

    Attributes
    ----------
    offset : str
        ``"gcj02"`` or ``"bd09"``.
    reason : str
        ``"datav"``, ``"name"`` or ``"pattern"``.
    note : Text
        The bilingual note that offers the conversion.
    detail : dict
        For ``"pattern"``: the median distances (m) to the reference before and after, the share of
        points brought closer and the number tested; for ``"name"``: the name that gave it away.
    """

    offset: str
    reason: str
    note: Text
    detail: dict = field(default_factory=dict)


def offset_name(offset: str) -> Text:
    """``GCJ-02（高德、腾讯、微信）`` / ``GCJ-02 (Gaode/AMap, Tencent, WeChat)``, or BD-09 (Baidu)."""
    if offset == "bd09":
        return Text("BD-09（百度地图）", "BD-09 (Baidu maps)", "offset_bd09")
    return Text("GCJ-02（高德、腾讯、微信等网络地图）", "GCJ-02 (Gaode/AMap, Tencent, WeChat web maps)", "offset_gcj02")


def _fix(offset: str) -> Text:
    flag = "--bd09" if offset == "bd09" else "--gcj02"
    box = "BD-09" if offset == "bd09" else "GCJ-02"
    return Text(f"如确实来自网络地图，在上传文件处的“网络地图纠偏”中选择 {box}（命令行 {flag}）后重新导入；"
                "如不是，选择“不纠偏”（命令行 --no-offset），以后不再提示",
                f"if it really comes from a web map, choose {box} in the web-map correction under the upload "
                f"(command line: {flag}) and import again; if not, choose 'no correction' (command line: "
                "--no-offset) and this note will not be shown again")


def _norm(name: object) -> str:
    return re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", str(name)).lower())


def _name_offset(name: str) -> str | None:
    n = _norm(name)
    if any(w in n for w in _BD_WORDS):
        return "bd09"
    if any(w in n for w in _GCJ_WORDS) or _QQ.search(unicodedata.normalize("NFKC", str(name)).lower()):
        return "gcj02"
    return None


def _lonlat_points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Up to :data:`_MAX_TESTED` lon/lat points of the layer (points, or line vertices), evenly sampled."""
    geoms = gdf.geometry.values
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    kinds = shapely.get_type_id(geoms)
    pts = shapely.get_coordinates(geoms[np.isin(kinds, (0, 4))])          # points, multipoints
    lines = geoms[np.isin(kinds, (1, 5))]
    if len(lines):
        pts = np.vstack([pts, shapely.get_coordinates(lines)])
    if len(pts) > _MAX_TESTED:
        pts = pts[np.linspace(0, len(pts) - 1, _MAX_TESTED).astype(int)]
    return pts


def _pattern(gdf: gpd.GeoDataFrame, reference: gpd.GeoSeries) -> Suspicion | None:
    """The offset whose removal brings the layer's points systematically closer to ``reference``."""
    pts = _lonlat_points(gdf)
    if len(pts) < PATTERN_MIN_POINTS or reference is None or not len(reference):
        return None
    lon, lat = pts[:, 0], pts[:, 1]
    if not (np.all(np.isfinite(pts)) and np.all((lon > 72) & (lon < 138) & (lat > 0.8) & (lat < 56))):
        return None
    ref = reference[~(reference.isna() | reference.is_empty)]
    if not len(ref):
        return None
    minx, miny, maxx, maxy = ref.total_bounds
    try:
        metric = metric_crs((min(minx, lon.min()), min(miny, lat.min()), max(maxx, lon.max()), max(maxy, lat.max())))
    except ValueError:
        return None
    ref_m = gpd.GeoSeries(ref.values, crs="EPSG:4490").to_crs(metric)
    tree = shapely.STRtree(ref_m.values)

    def distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = gpd.GeoSeries(shapely.points(x, y), crs="EPSG:4490").to_crs(metric).values
        idx = tree.nearest(p)
        return shapely.distance(p, ref_m.values[idx])

    before = distances(lon, lat)
    best = None
    for offset, undo in (("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)):
        after = distances(*undo(lon, lat))
        mb, ma = float(np.median(before)), float(np.median(after))
        share = float(np.mean(after < before))
        if (mb - ma >= PATTERN_MIN_GAIN_M and ma <= PATTERN_MAX_RATIO * mb and share >= PATTERN_MIN_SHARE
                and (best is None or ma < best[1]["median_after_m"])):
            best = (offset, {"median_before_m": round(mb, 1), "median_after_m": round(ma, 1),
                             "share_closer": round(share, 3), "points": int(len(pts))})
    if best is None:
        return None
    offset, detail = best
    name = offset_name(offset)
    note = Text(f"这些点像是网络地图坐标 {name.zh}：去掉该偏移后，点到工作空间道路和村庄的距离中位数由 "
                f"{detail['median_before_m']:.0f} 米降到 {detail['median_after_m']:.0f} 米"
                f"（{detail['share_closer']:.0%} 的点更近）。",
                f"these points look like web-map coordinates, {name.en}: with that offset removed, their median "
                f"distance to the workspace's roads and villages drops from {detail['median_before_m']:.0f} m to "
                f"{detail['median_after_m']:.0f} m ({detail['share_closer']:.0%} of the points closer). ",
                "offset_pattern") + _fix(offset)
    return Suspicion(offset, "pattern", note, detail)


def suspect(gdf: gpd.GeoDataFrame, *, source: str, columns: list[str] | None = None,
            reference: gpd.GeoSeries | None = None) -> Suspicion | None:
    """Whether a layer probably carries a web-map offset, and which.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer in lon/lat (EPSG:4490/4326), as read (no offset removed).
    source : str
        Its file name (``高德导出.xlsx``, ``baidu_poi.csv`` give it away).
    columns : list of str, optional
        The file's own column names (default ``gdf``'s); a DataV signature or a column named like
        ``gcj_lng`` / ``百度经度`` gives it away.
    reference : geopandas.GeoSeries, optional
        Geometries the data should lie on or near, in EPSG:4490 (the workspace's roads and
        villages: :func:`reference_geometries`); enables the offset-pattern test.

    Returns
    -------
    Suspicion or None
        The strongest sign found (DataV signature, then names, then the pattern), or None.
    """
    cols = [str(c) for c in (columns if columns is not None else gdf.columns) if str(c) != "geometry"]
    lowered = {_norm(c) for c in cols}
    datav = lowered & DATAV_FIELDS
    if len(datav) >= 2 and datav & _DATAV_KEYS:
        shown = "、".join(sorted(datav))
        note = Text(f"{source}：字段 {shown} 是阿里云 DataV.GeoAtlas 行政区划数据的特征，"
                    f"这类数据为 {offset_name('gcj02').zh}坐标，与 CGCS2000 相差数百米。",
                    f"{source}: the fields {', '.join(sorted(datav))} are the signature of Aliyun DataV.GeoAtlas "
                    f"boundaries, which are in {offset_name('gcj02').en} coordinates, a few hundred metres off "
                    "CGCS2000. ", "offset_datav") + _fix("gcj02")
        return Suspicion("gcj02", "datav", note, {"fields": sorted(datav)})
    for name in [source, *cols]:
        offset = _name_offset(name)
        if offset is not None:
            what = Text("文件名", "the file name") if name == source else Text(f"字段“{name}”", f"the field '{name}'")
            on = offset_name(offset)
            note = Text(f"{source}：{what.zh}“{name}”像来自网络地图，坐标可能是 {on.zh}，与 CGCS2000 相差数百米。"
                        if name == source else f"{source}：{what.zh}像来自网络地图，坐标可能是 {on.zh}，与 CGCS2000 "
                        "相差数百米。",
                        f"{source}: {what.en} '{name}' looks like a web map's; the coordinates may be {on.en}, a few "
                        "hundred metres off CGCS2000. " if name == source else
                        f"{source}: {what.en} looks like a web map's; the coordinates may be {on.en}, a few hundred "
                        "metres off CGCS2000. ", "offset_name") + _fix(offset)
            return Suspicion(offset, "name", note, {"name": name})
    if reference is not None:
        found = _pattern(gdf, reference)
        if found is not None:
            return Suspicion(found.offset, found.reason, Text(f"{source}：", f"{source}: ") + found.note, found.detail)
    return None


def reference_geometries(layers: Mapping[str, gpd.GeoDataFrame], kind: str) -> gpd.GeoSeries | None:
    """What the offset-pattern test measures against: the workspace's roads and villages (not ``kind`` itself).

    Parameters
    ----------
    layers : mapping
        Workspace layers by kind, in EPSG:4490.
    kind : str
        The kind being imported (left out, so a layer is never its own reference).

    Returns
    -------
    geopandas.GeoSeries or None
        The geometries in EPSG:4490, or None when the workspace has neither.
    """
    parts = [layers[k].geometry.to_crs("EPSG:4490") if layers[k].crs is not None else layers[k].geometry
             for k in ("roads", "villages") if k != kind and k in layers and layers[k] is not None and len(layers[k])]
    if not parts:
        return None
    return gpd.GeoSeries(np.concatenate([p.values for p in parts]), crs="EPSG:4490")
