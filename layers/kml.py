"""KML and KMZ (Ovital/奥维, Google Earth exports) read with a small standard-library parser.

Every Placemark in every folder, nested folders included, becomes one row of one layer; the
``folder`` column holds the folder path (``"水源点/水库"``). Placemark ``name``, ``description`` and
ExtendedData (``Data`` and ``SimpleData``) become columns. Point, LineString, LinearRing, Polygon,
MultiGeometry and gx:Track are read, heights dropped. KML is always WGS84 lon/lat (EPSG:4326).

The XML is parsed with :mod:`xml.etree.ElementTree`; documents with a DTD are refused (no entity can
be expanded or fetched), network links are reported and not followed.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from layers import limits
from layers.errors import LayerError, Problem, problem
from layers.text import Text

__all__ = ["list_folders", "read_kml"]

_MAX_KML_BYTES = 512 * 1024 * 1024
_MAX_DEPTH = 64          # nested folders / multi-geometries; deeper documents are refused
_GEOMETRY_TAGS = ("Point", "LineString", "LinearRing", "Polygon", "MultiGeometry", "Track", "MultiTrack")
_BASE_COLUMNS = ("name", "description", "folder")
_FIX_COORDS_ZH = "在奥维或 Google Earth 中检查该地标并重新导出"
_FIX_COORDS_EN = "check this placemark in Ovital or Google Earth and export again"


def _kml_too_large(source: str) -> Problem:
    return problem("KMZ 中的 KML 过大（超过 512 MB）", "the KML inside the KMZ is too large (over 512 MB)",
                   "按文件夹拆分后分别导入", "split it by folder and import the parts", file=source)


@dataclass
class _Doc:
    """What the walk over a KML document collected."""

    rows: list[dict] = field(default_factory=list)
    geoms: list[BaseGeometry | None] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    overlays: int = 0
    problems: list[Problem] = field(default_factory=list)
    count: int = 0


def _local(tag: object) -> str:
    """Tag name without namespace (``{http://www.opengis.net/kml/2.2}Folder`` -> ``Folder``)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _text(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    t = "".join(elem.itertext()).strip()
    return t or None


def _read_bytes(path: Path, source: str) -> bytes:
    """The KML document bytes of a .kml file, or of the main .kml inside a .kmz."""
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    if not is_zip:
        if path.stat().st_size > _MAX_KML_BYTES:
            raise LayerError(problem("KML 文件过大（超过 512 MB）", "the KML file is too large (over 512 MB)",
                                     "按文件夹拆分后分别导入", "split it by folder and import the parts", file=source))
        return path.read_bytes()
    try:
        with zipfile.ZipFile(path) as zf:
            limits.check_zip(zf, source, what_zh="KMZ 压缩包", what_en="KMZ archive")
            names = [i for i in zf.infolist() if not i.is_dir() and i.filename.lower().endswith(".kml")]
            if not names:
                raise LayerError(problem("KMZ 压缩包里没有 .kml 文件", "the KMZ archive holds no .kml file",
                                         "在奥维或 Google Earth 中重新导出 KMZ", "export the KMZ again from Ovital or "
                                         "Google Earth", file=source))
            root_doc = [i for i in names if i.filename.lower() == "doc.kml"]
            top = [i for i in names if "/" not in i.filename.strip("/")]
            info = (root_doc or top or names)[0]
            if info.file_size > _MAX_KML_BYTES:
                raise LayerError(_kml_too_large(source))
            buf = io.BytesIO()
            limits.copy_member(zf, info, buf, source, budget=_MAX_KML_BYTES)
            data = buf.getvalue()
    except LayerError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError, EOFError, NotImplementedError,
            ValueError, zlib.error) as exc:
        raise LayerError(problem("KMZ 文件无法解压（已损坏、加密或不是 KMZ）",
                                 f"the KMZ cannot be unpacked (damaged, encrypted or not a KMZ: {type(exc).__name__})",
                                 "在奥维或 Google Earth 中重新导出 KMZ",
                                 "export the KMZ again from Ovital or Google Earth", file=source)) from None
    if len(data) > _MAX_KML_BYTES:
        raise LayerError(_kml_too_large(source))
    return data


_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9_\-]+)[\"'][^>]*\?>")


def _parse_xml(data: bytes, source: str) -> ET.Element:
    """Parse KML bytes safely: no DTD, no entities; Chinese encodings declared in the prolog honoured."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise LayerError(problem("KML 以 UTF-16 标记开头，但内容不是完整的 UTF-16 文本（文件可能被截断或损坏）",
                                     "the KML starts with a UTF-16 mark but is not valid UTF-16 text (truncated or "
                                     "damaged?)", "在奥维或 Google Earth 中重新导出", "export it again from Ovital or "
                                     "Google Earth", file=source)) from None
        data = re.sub(rb"^(\s*<\?xml[^>]*encoding=[\"'])[Uu][Tt][Ff]-?16(LE|BE|le|be)?", rb"\1UTF-8", data)
    head = data[:4096]
    root_start = re.search(rb"<[A-Za-z_]", data)
    prolog = data[: root_start.start()] if root_start else data
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise LayerError(problem("KML 含有 DTD/实体声明，出于安全原因不予读取",
                                 "the KML contains a DTD or entity declarations and is refused for safety",
                                 "删除文件开头的 <!DOCTYPE …> 声明，或重新导出",
                                 "remove the <!DOCTYPE ...> declaration at the start of the file, or export it again",
                                 file=source))
    m = _DECL.match(head)
    payload: bytes | str = data
    if m and m.group(1).decode().lower().replace("-", "") in ("gbk", "gb2312", "gb18030", "cp936"):
        try:
            payload = data[m.end():].decode("gb18030")
        except UnicodeDecodeError:
            payload = data[m.end():].decode("gb18030", errors="replace")
    try:
        return ET.fromstring(payload)
    except (LookupError, ValueError) as exc:  # an encoding the XML parser does not know or support
        raise LayerError(problem(f"KML 声明的文字编码无法识别（{exc}）", f"the KML declares an unsupported text "
                                 f"encoding ({exc})", "在奥维或 Google Earth 中重新导出（UTF-8 编码）",
                                 "export it again from Ovital or Google Earth (UTF-8)", file=source)) from None
    except ET.ParseError as exc:
        raise LayerError(problem(f"KML 格式错误（{exc}）", f"the KML is not well-formed XML ({exc})",
                                 "在奥维或 Google Earth 中重新导出", "export it again from Ovital or Google Earth",
                                 file=source)) from None


def _coords(text: str | None) -> list[tuple[float, float]]:
    """``lon,lat[,alt]`` tuples separated by whitespace -> 2-D points (raises ValueError)."""
    if not text or not text.strip():
        raise ValueError("empty coordinates")
    text = re.sub(r"\s*,\s*", ",", text.strip())
    out = []
    for tup in text.split():
        parts = tup.split(",")
        if len(parts) < 2 or len(parts) > 3:
            raise ValueError(f"bad coordinate tuple {tup!r}")
        lon, lat = float(parts[0]), float(parts[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"coordinate out of lon/lat range {tup!r}")
        out.append((lon, lat))
    return out


def _ring(elem: ET.Element | None) -> list[tuple[float, float]]:
    if elem is None:
        raise ValueError("missing LinearRing")
    ring = _child(elem, "LinearRing") if _local(elem.tag) != "LinearRing" else elem
    if ring is None:
        raise ValueError("missing LinearRing")
    pts = _coords(_text(_child(ring, "coordinates")))
    if len(pts) < 3:
        raise ValueError("a polygon ring needs at least 3 points")
    return pts


def _geometry(elem: ET.Element, depth: int = 0) -> BaseGeometry:
    """Shapely geometry of one KML geometry element (raises ValueError)."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"MultiGeometry nested more than {_MAX_DEPTH} levels")
    tag = _local(elem.tag)
    if tag == "Point":
        pts = _coords(_text(_child(elem, "coordinates")))
        if len(pts) != 1:
            raise ValueError("a point needs exactly one coordinate")
        return shapely.Point(pts[0])
    if tag == "LineString":
        pts = _coords(_text(_child(elem, "coordinates")))
        if len(pts) < 2:
            raise ValueError("a line needs at least 2 points")
        return shapely.LineString(pts)
    if tag == "LinearRing":
        return shapely.Polygon(_ring(elem))
    if tag == "Polygon":
        outer = _ring(_child(elem, "outerBoundaryIs"))
        holes = [_ring(c) for c in elem if _local(c.tag) == "innerBoundaryIs"]
        return shapely.Polygon(outer, holes)
    if tag == "Track":
        pts = []
        for c in elem:
            if _local(c.tag) == "coord" and c.text:
                parts = c.text.split()
                if len(parts) < 2:
                    raise ValueError(f"bad track coordinate {c.text!r}")
                pts.append((float(parts[0]), float(parts[1])))
        if len(pts) < 2:
            raise ValueError("a track needs at least 2 points")
        return shapely.LineString(pts)
    if tag in ("MultiGeometry", "MultiTrack"):
        members = [_geometry(c, depth + 1) for c in elem if _local(c.tag) in _GEOMETRY_TAGS]
        if not members:
            raise ValueError("empty MultiGeometry")
        flat: list[Any] = []  # one geometry type checked below, as shapely's Multi* constructors want
        for p in members:
            flat.extend(p.geoms if isinstance(p, shapely.geometry.base.BaseMultipartGeometry) else [p])
        kinds = {p.geom_type for p in flat}
        if kinds == {"Point"}:
            return shapely.MultiPoint(flat)
        if kinds == {"LineString"}:
            return shapely.MultiLineString(flat)
        if kinds == {"Polygon"}:
            return shapely.MultiPolygon(flat)
        return shapely.GeometryCollection(flat)
    raise ValueError(f"unsupported geometry {tag}")


def _extended(pm: ET.Element) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    ext = _child(pm, "ExtendedData")
    if ext is None:
        return out
    for el in ext.iter():
        tag = _local(el.tag)
        if tag == "Data":
            key = el.get("name") or _text(_child(el, "displayName"))
            if key:
                out[key] = _text(_child(el, "value"))
        elif tag == "SimpleData":
            key = el.get("name")
            if key:
                out[key] = _text(el)
    return out


def _placemark(pm: ET.Element, folder: str, doc: _Doc, source: str) -> None:
    doc.count += 1
    number = doc.count
    name = _text(_child(pm, "name"))
    row: dict[str, str | None] = {"name": name, "description": _text(_child(pm, "description")), "folder": folder}
    for key, value in _extended(pm).items():
        row[key if key not in _BASE_COLUMNS else f"{key}_data"] = value
    geom: BaseGeometry | None = None
    gel = next((c for c in pm if _local(c.tag) in _GEOMETRY_TAGS), None)
    if gel is not None:
        try:
            geom = _geometry(gel)
        except ValueError as exc:
            label = f"“{name}”" if name else ""
            doc.problems.append(problem(
                f"地标{label}的坐标无法读取（{exc}）",
                f"the coordinates of placemark {name or ''} cannot be read ({exc})",
                _FIX_COORDS_ZH, _FIX_COORDS_EN, file=source, row=number, field="coordinates"))
    doc.rows.append(row)
    doc.geoms.append(geom)
    doc.numbers.append(number)


def _walk(elem: ET.Element, path: list[str], doc: _Doc, source: str, *, root: bool) -> None:
    if len(path) > _MAX_DEPTH:
        raise LayerError(problem(f"KML 文件夹嵌套超过 {_MAX_DEPTH} 层，不予读取",
                                 f"the KML nests folders more than {_MAX_DEPTH} levels deep and is refused",
                                 "在奥维或 Google Earth 中整理文件夹后重新导出",
                                 "tidy the folders in Ovital or Google Earth and export again", file=source))
    for c in elem:
        tag = _local(c.tag)
        if tag in ("Document", "Folder"):
            if root and tag == "Document":
                _walk(c, path, doc, source, root=False)
                continue
            name = _text(_child(c, "name")) or "未命名"
            sub = [*path, name.replace("/", "／")]
            doc.folders.append("/".join(sub))
            _walk(c, sub, doc, source, root=False)
        elif tag == "Placemark":
            _placemark(c, "/".join(path), doc, source)
        elif tag == "NetworkLink":
            link = _child(c, "Link")
            if link is None:
                link = _child(c, "Url")
            href = _text(_child(link, "href")) if link is not None else None
            doc.links.append(href or _text(_child(c, "name")) or "")
        elif tag in ("GroundOverlay", "ScreenOverlay", "PhotoOverlay"):
            doc.overlays += 1


def _collect(path: Path, source: str) -> _Doc:
    root = _parse_xml(_read_bytes(path, source), source)
    doc = _Doc()
    tag = _local(root.tag)
    if tag == "kml":
        _walk(root, [], doc, source, root=True)
    elif tag in ("Document", "Folder", "Placemark"):
        wrapper = ET.Element("kml")
        wrapper.append(root)
        _walk(wrapper, [], doc, source, root=True)
    else:
        raise LayerError(problem("不是 KML 文件（根元素不是 <kml>）", "not a KML file (the root element is not <kml>)",
                                 "在奥维或 Google Earth 中导出 KML/KMZ", "export KML/KMZ from Ovital or Google Earth",
                                 file=source))
    return doc


def list_folders(path: Path, *, display_name: str | None = None) -> list[str]:
    """Folder paths in a KML/KMZ, nested folders as ``"parent/child"``, in document order.

    Parameters
    ----------
    path : pathlib.Path
        A ``.kml`` or ``.kmz`` file.
    display_name : str, optional
        What messages call the file.

    Returns
    -------
    list of str
        Every folder path (empty when the placemarks are not in folders).

    Raises
    ------
    LayerError
        When the file cannot be read as KML.
    """
    path = Path(path)
    return list(dict.fromkeys(_collect(path, display_name or path.name).folders))


def read_kml(path: Path, *, folder: str | None = None, display_name: str | None = None) -> gpd.GeoDataFrame:
    """Read all placemarks of a KML/KMZ into one layer.

    Parameters
    ----------
    path : pathlib.Path
        A ``.kml`` or ``.kmz`` file.
    folder : str, optional
        Keep only this folder path and the folders inside it.
    display_name : str, optional
        What messages call the file; default ``path.name``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``description``, ``folder``, the ExtendedData fields, ``_row`` (1-based
        placemark number in the file) and ``geometry`` (2-D), CRS EPSG:4326. Warnings about
        network links and image overlays that were not read are in ``attrs["warnings"]``.

    Raises
    ------
    LayerError
        When the file cannot be read, has no placemarks (for example only network links), a
        placemark's coordinates are invalid, or ``folder`` is not in the file.
    """
    path = Path(path)
    source = display_name or path.name
    doc = _collect(path, source)
    warnings: list[Text] = []
    if doc.links:
        shown = "、".join(x for x in doc.links[:3] if x)
        warnings.append(Text(
            f"{source}：含 {len(doc.links)} 个网络链接（NetworkLink{('：' + shown) if shown else ''}），"
            "离线工作不会读取链接的内容",
            f"{source}: {len(doc.links)} network link(s) (NetworkLink{(': ' + shown) if shown else ''}) were not "
            "followed; linked content is not read (the tool works offline)", "kml_network_links"))
    if doc.overlays:
        warnings.append(Text(f"{source}：{doc.overlays} 个图片叠加层（GroundOverlay）未导入",
                             f"{source}: {doc.overlays} image overlay(s) (GroundOverlay) were not imported",
                             "kml_overlays"))
    if doc.problems:
        raise LayerError(doc.problems)
    if not doc.rows:
        if doc.links:
            raise LayerError(problem(
                "KML 中只有网络链接（NetworkLink），没有地标；网络链接不会被读取",
                "the KML holds only network links (NetworkLink) and no placemarks; network links are not followed",
                "在 Google Earth/奥维 中打开链接的数据，另存为包含地标的 KML/KMZ 后导入",
                "open the linked data in Google Earth/Ovital, save it as a KML/KMZ that contains the placemarks, "
                "and import that", file=source))
        raise LayerError(problem("KML 中没有任何地标（Placemark）", "the KML holds no placemarks",
                                 "确认导出时选中了要导出的文件夹或地标", "make sure the folders or placemarks were "
                                 "selected when exporting", file=source))
    frame = pd.DataFrame(doc.rows)
    for col in _BASE_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame["_row"] = doc.numbers
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(doc.geoms, index=frame.index), crs="EPSG:4326")
    if folder is not None:
        folders = list(dict.fromkeys(doc.folders))
        if folder not in folders:
            listed = "、".join(folders) if folders else "（无）"
            raise LayerError(problem(
                f"文件中没有文件夹“{folder}”；现有文件夹：{listed}",
                f"there is no folder '{folder}' in the file; folders: {', '.join(folders) or '(none)'}",
                "从列表中选择一个文件夹", "choose one of the listed folders", file=source))
        keep = (gdf["folder"] == folder) | gdf["folder"].str.startswith(folder + "/")
        gdf = gdf[keep.fillna(False).astype(bool)].copy()
    gdf.attrs["warnings"] = warnings
    gdf.attrs["crs_implied"] = True   # KML is WGS84 by definition, not by a declaration in the file
    return gdf
