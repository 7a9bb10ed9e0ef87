"""``python -m gis`` commands: the workspace — import, export, history, undo and redo.

``import`` validates the whole file first and then commits it in one transaction, so on bad input
(exit status 2) the workspace is byte-for-byte as it was; ``--preview`` shows what would change
(added, removed, changed features) without writing anything.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

from gis.cli import command, finish
from layers.errors import LayerError, Problem


def _name(ws) -> str:
    """The store as printed: the GeoPackage path, or the database without its password."""
    return str(ws.gpkg) if hasattr(ws, "gpkg") else ws.label


def _exists(ws) -> bool:
    return ws.gpkg.exists() if hasattr(ws, "gpkg") else True


def _user(args: argparse.Namespace) -> str:
    if args.user:
        return args.user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


def _workspace(path: str):
    """The store named by ``--workspace``: a GeoPackage path, or a PostGIS URL (``postgresql://...``)."""
    from layers.workspace import Workspace

    if path.startswith(("postgresql://", "postgres://")):
        from layers.postgis import PostGISStore

        return PostGISStore(path)
    p = Path(path)
    if p.suffix.lower() != ".gpkg":
        raise LayerError(Problem(f"--workspace 应为 .gpkg 文件：{p.name}", f"--workspace must be a .gpkg file: {p.name}",
                                 "如 --workspace 县应急局.gpkg", "e.g. --workspace office.gpkg", file=p.name))
    return Workspace(p)


# ---- import ----------------------------------------------------------------------------------
def _run_import(args: argparse.Namespace) -> int:
    from layers.catalogue import spec as get_spec
    from layers.load import county_boundary, load_layer

    ws = _workspace(args.workspace)
    src = Path(args.file)
    if not src.is_file():
        raise LayerError(Problem(f"找不到文件：{src.name}", f"file not found: {src.name}", "检查路径",
                                 "check the path", file=src.name))
    spec = get_spec(args.layer)
    if args.crs is not None:
        from layers.crs import parse_user_crs

        parse_user_crs(args.crs, source=src.name)  # a CRS pyproj does not know: exit 2 before reading
    try:
        near = ws.lonlat_bounds() if _exists(ws) else None
        area = county_boundary(ws.vector("grids")) if near is not None and "grids" in ws.vector_kinds() else None
        layer = load_layer(src, args.layer, sublayer=args.sublayer, gcj02=args.gcj02, near=near, crs=args.crs,
                           area=area, allow_outside=args.allow_outside)
    except OSError as e:
        raise LayerError(Problem(f"文件无法读取（{e.strerror or e}）", f"the file cannot be read ({e.strerror or e})",
                                 "检查文件与权限", "check the file and its permissions", file=src.name)) from None
    notes = layer.messages(args.lang)
    if layer.raster is not None:
        if args.preview:
            out = {"workspace": _name(ws), "layer": args.layer, "raster": True, "cells": layer.count,
                   "committed": False, "notes": notes}
            return finish(args, out, f"{args.layer}: raster of {layer.count:,} valid cells (preview, not written)",
                          notes)
        if not hasattr(ws, "raster_path"):
            raise LayerError(Problem("PostGIS 工作空间只保存矢量图层；栅格（如 DEM）请放在文件夹工作空间中",
                                     "a PostGIS workspace holds vector layers only; keep rasters (the DEM) in a "
                                     "folder workspace", "用 --workspace 某文件夹/workspace.gpkg 导入栅格",
                                     "import rasters with --workspace FOLDER/workspace.gpkg", file=src.name))
        target = ws.raster_path(args.layer)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".importing")
        tmp.write_bytes(src.read_bytes())
        os.replace(tmp, target)
        out = {"workspace": _name(ws), "layer": args.layer, "raster": True, "cells": layer.count,
               "committed": True, "notes": notes}
        return finish(args, out, f"{args.layer} -> {target}", notes)
    diff = ws.diff(args.layer, layer.gdf, append=args.append)
    added, removed, changed = diff.counts()
    out = {"workspace": _name(ws), "layer": args.layer, "mode": "append" if args.append else "replace",
           "features": layer.count, "added": added, "removed": removed, "changed": changed,
           "committed": False, "notes": notes}
    what = (f"{spec.zh}/{spec.en}: +{added} added, -{removed} removed, ~{changed} changed "
            f"(新增 {added}，删除 {removed}，修改 {changed})")
    if args.preview:
        return finish(args, out, what + " — preview, nothing written / 预览，未写入", notes)
    entry = ws.replace(args.layer, layer.gdf, note=args.note or f"import {src.name}", user=_user(args),
                       append=args.append)
    out.update(committed=True, entry_id=entry.entry_id, time=entry.time)
    return finish(args, out, f"{what} -> {_name(ws)} (history #{entry.entry_id})", notes)


@command("import", "import a file as a workspace layer (replace or --append), atomically / 导入图层到工作空间")
def _add_import(p: argparse.ArgumentParser) -> None:
    from layers.catalogue import CATALOGUE

    p.add_argument("--workspace", required=True, help="workspace GeoPackage (created if absent)")
    p.add_argument("--layer", required=True, choices=list(CATALOGUE), help="layer kind")
    p.add_argument("file", help="GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, XLSX/CSV, or GeoTIFF for rasters")
    p.add_argument("--append", action="store_true",
                   help="add to the layer (features with a known id are updated) instead of replacing it")
    p.add_argument("--preview", action="store_true", help="show what would change; write nothing")
    p.add_argument("--sublayer", help="layer inside a GeoPackage / sheet of a workbook / KML folder")
    p.add_argument("--gcj02", action="store_true", help="points are GCJ-02 (Gaode/WeChat): convert to WGS84")
    p.add_argument("--crs", metavar="EPSG:xxxx",
                   help="CRS of the file's coordinates when it has none or a wrong one, e.g. EPSG:4548 (CGCS2000 "
                        "3-degree Gauss-Kruger CM 117E), EPSG:4490, EPSG:4326 / 文件坐标系（无坐标系或 .prj 有误时"
                        "指定），如 EPSG:4548（CGCS2000 3 度带中央经线 117°）")
    p.add_argument("--allow-outside", action="store_true",
                   help="import features lying outside the workspace / county boundary (refused row by row "
                        "otherwise) / 确认导入辖区之外的要素")
    p.add_argument("--note", help="note recorded in the history")
    p.add_argument("--user", help="user name recorded in the history (default: login name)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# ---- export ----------------------------------------------------------------------------------
def _run_export(args: argparse.Namespace) -> int:
    from layers.export import FORMATS, export_layer

    ws = _workspace(args.workspace)
    out_path = Path(args.out)
    fmt = out_path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise LayerError(Problem(f"不支持的导出格式：.{fmt}", f"unsupported export format: .{fmt}",
                                 "用 .gpkg .geojson .kml .xlsx .csv 或 .zip（Shapefile）",
                                 "use .gpkg .geojson .kml .xlsx .csv or .zip (Shapefile)", file=out_path.name))
    if not _exists(ws):
        raise LayerError(Problem("工作空间文件不存在", "the workspace file does not exist", "检查 --workspace 路径",
                                 "check the --workspace path", file=Path(_name(ws)).name))
    gdf = ws.vector(args.layer)
    data = export_layer(gdf, args.layer, fmt, lang=args.lang)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".writing")
    tmp.write_bytes(data)
    os.replace(tmp, out_path)
    out = {"workspace": _name(ws), "layer": args.layer, "out": str(out_path), "format": fmt,
           "features": len(gdf), "bytes": len(data)}
    return finish(args, out, f"{args.layer}: {len(gdf)} features -> {out_path}", [])


@command("export", "export a workspace layer (.gpkg .geojson .kml .xlsx .csv .zip) / 导出工作空间图层")
def _add_export(p: argparse.ArgumentParser) -> None:
    from layers.catalogue import CATALOGUE

    p.add_argument("--workspace", required=True, help="workspace GeoPackage")
    p.add_argument("--layer", required=True, choices=[k for k, s in CATALOGUE.items() if s.is_vector])
    p.add_argument("--out", required=True, help="output file; its extension picks the format")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="header language of .xlsx/.csv")
    p.add_argument("--json", action="store_true")


# ---- history / undo / redo -------------------------------------------------------------------
def _entry_dict(e) -> dict:
    return {"entry_id": e.entry_id, "time": e.time, "user": e.user, "note": e.note, "kind": e.kind,
            "action": e.action, "added": e.added, "changed": e.changed, "removed": e.removed, "undone": e.undone}


def _run_history(args: argparse.Namespace) -> int:
    ws = _workspace(args.workspace)
    entries = ws.history(args.layer, limit=args.limit)
    out = {"workspace": _name(ws), "entries": [_entry_dict(e) for e in entries]}
    lines = [f"#{e.entry_id} {e.time} {e.user} {e.action} {e.kind} +{e.added} ~{e.changed} -{e.removed}"
             f"{' (undone/已撤销)' if e.undone else ''} {e.note}" for e in entries]
    if args.json:
        return finish(args, out, "", [])
    print("\n".join(lines) if lines else "no history / 无历史记录")
    return 0


@command("history", "list the workspace's change history / 工作空间修改历史")
def _add_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True)
    p.add_argument("--layer", help="only this layer kind")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")


def _undo_redo(args: argparse.Namespace, redo: bool) -> int:
    ws = _workspace(args.workspace)
    if not _exists(ws):
        raise LayerError(Problem("工作空间文件不存在", "the workspace file does not exist", "检查 --workspace 路径",
                                 "check the --workspace path", file=Path(_name(ws)).name))
    e = ws.redo(user=_user(args)) if redo else ws.undo(user=_user(args))
    word = "redo" if redo else "undo"
    if e is None:
        out = {"workspace": _name(ws), "done": False}
        return finish(args, out, f"nothing to {word} / 没有可{'重做' if redo else '撤销'}的修改", [])
    out = {"workspace": _name(ws), "done": True, **_entry_dict(e)}
    return finish(args, out, f"{word}: {e.note} ({e.kind} +{e.added} ~{e.changed} -{e.removed})", [])


def _run_undo(args: argparse.Namespace) -> int:
    return _undo_redo(args, redo=False)


def _run_redo(args: argparse.Namespace) -> int:
    return _undo_redo(args, redo=True)


@command("undo", "undo the latest workspace change / 撤销最近一次修改")
def _add_undo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True)
    p.add_argument("--user")
    p.add_argument("--json", action="store_true")


@command("redo", "redo the change last undone / 重做已撤销的修改")
def _add_redo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True)
    p.add_argument("--user")
    p.add_argument("--json", action="store_true")
