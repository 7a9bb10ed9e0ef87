"""``python -m gis`` commands: the workspace — import, export, history, undo, redo, check, snapshot, restore.

``import`` validates the whole file first and then commits it in one transaction, so on bad input
(exit status 2) the workspace is byte-for-byte as it was; ``--preview`` shows what would change
(added, removed, changed features) without writing anything.

A workspace that cannot be written (read-only medium, no permission, disk full, a damaged file, a
lost database connection) is a :class:`~layers.errors.StorageError`: a bilingual message saying what
failed, exit status 2, the workspace unchanged and no partial file left. ``check`` runs SQLite's
check (``--full``: every index too); ``snapshot`` takes a snapshot now; ``restore`` lists the
snapshots or brings one back (default the newest good one), recorded in the history.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, emit, finish
from layers.errors import LayerError, Problem
from layers.storage import READ


def _no_file(name: str) -> Problem:
    """The workspace file named on the command line is not there."""
    return Problem("工作空间文件不存在", "the workspace file does not exist", "检查 --workspace 路径",
                   "check the --workspace path", file=name)


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
        raise LayerError(Problem(f"--workspace 应为 .gpkg 文件：{p.name}",
                                 f"--workspace must be a .gpkg file: {p.name}",
                                 "如 --workspace 县应急局.gpkg", "e.g. --workspace office.gpkg", file=p.name))
    return Workspace(p)


# ---- import ----------------------------------------------------------------------------------
def _reference(ws, kind: str):
    """The workspace's roads and villages, for the web-map offset-pattern test (None if it has neither)."""
    from layers.webmap import reference_geometries

    kinds = [k for k in ("roads", "villages") if k != kind and k in ws.vector_kinds()]
    return reference_geometries({k: ws.vector(k) for k in kinds}, kind) if kinds else None


def _run_import(args: argparse.Namespace) -> int:
    from layers.catalogue import spec as get_spec
    from layers.load import county_boundary, is_raster_file, load_layer
    from layers.text import Text
    from layers.webmap import OFFSETS, offset_name

    ws = _workspace(args.workspace)
    src = Path(args.file)
    if not src.is_file():
        raise LayerError(Problem(f"找不到文件：{src.name}", f"file not found: {src.name}", "检查路径",
                                 "check the path", file=src.name))
    spec = get_spec(args.layer)
    inputs = Inputs(args)   # an unknown --crs or bad --towgs84: exit 2 before reading
    exists = _exists(ws)
    explicit = inputs.offset is not None or inputs.no_offset
    stored = ws.layer_option(args.layer, src.name) if exists and not explicit else None
    offset = inputs.offset
    reapplied = None
    if stored is not None and stored["offset"] in OFFSETS:
        offset = stored["offset"]
        name = offset_name(offset)
        reapplied = Text(f"{src.name}：按上次导入此文件时的选择（{stored['time'][:19]}）做了 {name.zh} 纠偏；如不需要，"
                         "加 --no-offset 重新导入",
                         f"{src.name}: the {name.en} correction chosen when this file was last imported "
                         f"({stored['time'][:19]}) was applied again; add --no-offset to import it without",
                         "offset_reapplied")
    silenced = inputs.no_offset or (stored is not None and stored["offset"] == "none")
    try:
        near = ws.lonlat_bounds() if exists else None
        area = county_boundary(ws.vector("grids")) if near is not None and "grids" in ws.vector_kinds() else None
        raster = is_raster_file(src)
        reference = None if raster or silenced or offset is not None or not exists else _reference(ws, args.layer)
        layer = load_layer(src, args.layer, sublayer=args.sublayer, near=near, crs=inputs.crs, towgs84=inputs.towgs84,
                           on_conflict="override" if inputs.override else "refuse", offset=offset,
                           reference=reference, local=True, suspect_offset=not silenced,
                           area=area, allow_outside=args.allow_outside)
    except OSError as e:
        raise LayerError(Problem(f"文件无法读取（{e.strerror or e}）", f"the file cannot be read ({e.strerror or e})",
                                 "检查文件与权限", "check the file and its permissions", file=src.name)) from None
    if reapplied is not None:
        layer.notes.insert(0, reapplied)
    notes = layer.messages(args.lang)
    facts = {"source_crs": layer.crs_name(args.lang), "offset": layer.offset,
             "suspected_offset": layer.suspicion.offset if layer.suspicion is not None else None}
    if layer.raster is not None:
        if args.preview:
            out = {"workspace": _name(ws), "layer": args.layer, "raster": True, "cells": layer.count,
                   "committed": False, **facts, "notes": notes}
            return finish(args, out, f"{args.layer}: raster of {layer.count:,} valid cells "
                                     f"({facts['source_crs']}; preview, not written)", notes)
        if not hasattr(ws, "raster_path"):
            raise LayerError(Problem("PostGIS 工作空间只保存矢量图层；栅格（如 DEM）请放在文件夹工作空间中",
                                     "a PostGIS workspace holds vector layers only; keep rasters (the DEM) in a "
                                     "folder workspace", "用 --workspace 某文件夹/workspace.gpkg 导入栅格",
                                     "import rasters with --workspace FOLDER/workspace.gpkg", file=src.name))
        # the raster as read (any format, CRS chosen or shifted), written as a GeoTIFF, whole or not at all
        entry = ws.store_raster(args.layer, layer.raster, user=_user(args), note=args.note or f"import {src.name}")
        out = {"workspace": _name(ws), "layer": args.layer, "raster": True, "cells": layer.count,
               "committed": True, "entry_id": entry.entry_id, **facts, "notes": notes}
        return finish(args, out, f"{args.layer} ({facts['source_crs']}) -> {ws.raster_path(args.layer)} "
                                 f"(history #{entry.entry_id})", notes)
    diff = ws.diff(args.layer, layer.gdf, append=args.append)
    added, removed, changed = diff.counts()
    out = {"workspace": _name(ws), "layer": args.layer, "mode": "append" if args.append else "replace",
           "features": layer.count, "added": added, "removed": removed, "changed": changed,
           "committed": False, **facts, "notes": notes}
    what = (f"{spec.zh}/{spec.en} ({facts['source_crs']}): +{added} added, -{removed} removed, ~{changed} changed "
            f"(新增 {added}，删除 {removed}，修改 {changed})")
    if args.preview:
        return finish(args, out, what + " — preview, nothing written / 预览，未写入", notes)
    entry = ws.replace(args.layer, layer.gdf, note=args.note or f"import {src.name}", user=_user(args),
                       append=args.append)
    if explicit or reapplied is not None:
        ws.remember_layer_option(args.layer, src.name, offset=layer.offset)
    out.update(committed=True, entry_id=entry.entry_id, time=entry.time)
    return finish(args, out, f"{what} -> {_name(ws)} (history #{entry.entry_id})", notes)


@command("import", "import a file as a workspace layer (replace or --append), atomically / 导入图层到工作空间")
def _add_import(p: argparse.ArgumentParser) -> None:
    from layers.catalogue import CATALOGUE

    p.add_argument("--workspace", required=True, help="workspace GeoPackage (created if absent)")
    p.add_argument("--layer", required=True, choices=list(CATALOGUE), help="layer kind")
    p.add_argument("file", help="GeoPackage, GeoJSON, zipped Shapefile, KML/KMZ, XLSX/CSV; for rasters GeoTIFF, .asc, "
                                ".img, .vrt, SRTM .hgt / .hgt.zip, .nc (or one zipped with its .prj)")
    p.add_argument("--append", action="store_true",
                   help="add to the layer (features with a known id are updated) instead of replacing it")
    p.add_argument("--preview", action="store_true", help="show what would change; write nothing")
    p.add_argument("--sublayer", help="layer inside a GeoPackage / sheet of a workbook / KML folder / netCDF variable")
    add_input_options(p)
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
        raise LayerError(_no_file(Path(_name(ws)).name))
    from layers.storage import write_atomic

    gdf = ws.vector(args.layer)       # a damaged layer is refused here, never exported short or garbled
    data = export_layer(gdf, args.layer, fmt, lang=args.lang)
    write_atomic(out_path, data)      # whole or not at all: no *.writing file is left on failure
    notes = _damage_notes(ws, "zh") + _damage_notes(ws, "en")
    out = {"workspace": _name(ws), "layer": args.layer, "out": str(out_path), "format": fmt,
           "features": len(gdf), "bytes": len(data), "notes": notes}
    return finish(args, out, f"{args.layer}: {len(gdf)} features -> {out_path}", notes)


def _damage_notes(ws, lang: str) -> list[str]:
    """A damaged workspace named, for a command that could still read what it needed."""
    if not hasattr(ws, "health"):
        return []
    h = ws.health()
    if h.ok:
        return []
    from layers.text import Text

    w = h.what()
    return [Text(f"工作空间文件已损坏（{w.zh}）；本次读取的内容检查无误，但请尽快恢复快照",
                 f"the workspace file is damaged ({w.en}); what this command read passed the check, but restore "
                 "a snapshot soon")(lang)]


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
    entries = ws.history(args.layer, limit=args.limit)    # damaged history: a StorageError saying so
    notes = _damage_notes(ws, "zh") + _damage_notes(ws, "en")
    out = {"workspace": _name(ws), "entries": [_entry_dict(e) for e in entries], "notes": notes}
    lines = [f"#{e.entry_id} {e.time} {e.user} {e.action} {e.kind} +{e.added} ~{e.changed} -{e.removed}"
             f"{' (undone/已撤销)' if e.undone else ''} {e.note}" for e in entries]
    if args.json:
        return finish(args, out, "", [])
    print("\n".join(lines) if lines else "no history / 无历史记录")
    for n in notes:
        print("  ! " + n, file=sys.stderr)
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
        raise LayerError(_no_file(Path(_name(ws)).name))
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


# ---- check / snapshot / restore --------------------------------------------------------------
def _folder_workspace(args: argparse.Namespace):
    """The GeoPackage workspace of ``--workspace`` (snapshots and checks are for GeoPackage workspaces)."""
    ws = _workspace(args.workspace)
    if not hasattr(ws, "gpkg"):
        raise LayerError(Problem("共享数据库（PostGIS）的检查与备份由数据库服务器负责（pg_dump、pg_amcheck）",
                                 "a shared PostGIS database is checked and backed up by its server (pg_dump, "
                                 "pg_amcheck)", "请数据库管理员设置定期备份",
                                 "ask the database administrator for regular backups"))
    if not ws.gpkg.exists():
        raise LayerError(_no_file(ws.gpkg.name))
    return ws


def _snapshot_dict(s) -> dict:
    return {"id": s.id, "time": s.time, "reason": s.reason, "revision": s.revision, "last_entry": s.last_entry,
            "bytes": s.bytes, "rasters": list(s.rasters)}


def _run_check(args: argparse.Namespace) -> int:
    ws = _folder_workspace(args)
    ws._recover()
    h = ws.health(full=args.full, fresh=True)
    out = {"workspace": _name(ws), "ok": h.ok, "full": h.full, "damaged": list(h.tables),
           "seconds": round(h.seconds, 3), "detail": h.detail}
    if not h.ok:
        if args.json:
            emit(out)
        raise h.error(READ)
    kind = "integrity_check" if h.full else "quick_check"
    return finish(args, out, f"ok: {kind} {h.seconds:.2f} s / 检查通过", [])


@command("check", "check the workspace file for damage (--full: every index too) / 检查工作空间文件是否损坏")
def _add_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True, help="workspace GeoPackage")
    p.add_argument("--full", action="store_true", help="PRAGMA integrity_check (slower) instead of quick_check")
    p.add_argument("--json", action="store_true")


def _run_snapshot(args: argparse.Namespace) -> int:
    ws = _folder_workspace(args)
    s = ws.snapshot(reason="manual")
    out = {"workspace": _name(ws), **_snapshot_dict(s)}
    return finish(args, out, f"snapshot {s.id}: {s.bytes / 1e6:.1f} MB / 已保存快照", [])


@command("snapshot", "take a snapshot of the workspace now / 立即保存工作空间快照")
def _add_snapshot(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True, help="workspace GeoPackage")
    p.add_argument("--json", action="store_true")


def _run_restore(args: argparse.Namespace) -> int:
    from layers import snapshots

    ws = _folder_workspace(args) if args.list else _workspace(args.workspace)
    if args.list:
        snaps = ws.snapshots()
        space = snapshots.space(ws.gpkg)
        out = {"workspace": _name(ws), "snapshots": [_snapshot_dict(s) for s in snaps],
               "space": {"count": space.count, "bytes": space.bytes, "limit_bytes": space.limit_bytes,
                         "keep": space.keep}}
        if args.json:
            emit(out)
            return 0
        for s in snaps:
            print(f"{s.id}  {s.time}  {s.reason_text()('en')}/{s.reason_text()('zh')}  history #{s.last_entry}  "
                  f"{s.bytes / 1e6:.1f} MB  {' '.join(s.rasters)}")
        if not snaps:
            print("no snapshots / 暂无快照")
        print(f"{space.count} snapshots, {space.bytes / 1e6:.1f} MB of {space.limit_bytes / 1e6:.0f} MB "
              f"(keep {space.keep}) / 共 {space.count} 个快照，占用 {space.bytes / 1e6:.1f} MB")
        return 0
    if not hasattr(ws, "gpkg"):
        _folder_workspace(args)
    snap, entry = ws.restore(args.snapshot, user=_user(args))
    out = {"workspace": _name(ws), "restored": _snapshot_dict(snap), "entry_id": entry.entry_id, "time": entry.time}
    return finish(args, out, f"restored snapshot {snap.id} ({snap.time}), history #{entry.entry_id} / "
                             f"已恢复快照 {snap.id}", [])


@command("restore", "list the workspace's snapshots or restore one (default: the newest good one) / 恢复快照")
def _add_restore(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True, help="workspace GeoPackage")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--list", action="store_true", help="list the snapshots and the space they take")
    g.add_argument("--snapshot", metavar="ID", help="the snapshot to restore (default: the newest good one)")
    p.add_argument("--user", help="user name recorded in the history (default: login name)")
    p.add_argument("--json", action="store_true")
