"""The office's workspaces in the data folder: list, create, remember the last one, archive.

Each workspace is a folder ``DATA_DIR/NAME/`` holding ``workspace.gpkg`` and its GeoTIFFs
(:mod:`layers.workspace`). The last one opened is remembered in ``DATA_DIR/last_workspace.json``.
A workspace travels as one file: a zip of its GeoPackage and GeoTIFFs (:func:`export_archive`,
:func:`import_archive`), or its GeoPackage alone when it has no rasters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import zipfile
from contextlib import suppress
from pathlib import Path

from layers import integrity, settings
from layers.errors import GisError, LayerError, Problem
from layers.gpkg import create_gpkg
from layers.storage import CREATE, READ, WRITE, guard, unlink_quietly
from layers.workspace import GPKG_NAME, Workspace

LAST_FILE = "last_workspace.json"
#: the folder, inside a workspace folder, of what is rebuilt from the workspace when missing (road graphs, the
#: operations record's side queue); never exported, safe to delete
CACHE_DIR = ".cache"
#: largest archive member accepted, bytes (a workspace GeoPackage of a prefecture is ~50 MB)
MAX_MEMBER = 4 * 1024 ** 3
_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff .-]{0,63}$")


def _bad_name(name: str) -> LayerError:
    return LayerError(Problem(f"工作空间名称不可用：{name}", f"unusable workspace name: {name}",
                              "用中文、字母、数字、空格、点、横线或下划线，不含斜杠",
                              "use letters, digits, Chinese, spaces, dots, dashes or underscores; no slashes"))


def workspace_dir(name: str, data_dir: Path | None = None) -> Path:
    """Folder of the workspace called ``name`` in the data folder (the name is checked, never a path)."""
    if not _NAME.match(name or "") or name in (".", ".."):
        raise _bad_name(name)
    return Path(data_dir or settings.DATA_DIR) / name


def cache_folder(gpkg: Path) -> Path:
    """The cache folder of the workspace whose GeoPackage is ``gpkg`` (:data:`CACHE_DIR` beside it; not made)."""
    return Path(gpkg).parent / CACHE_DIR


def list_workspaces(data_dir: Path | None = None) -> list[str]:
    """Names of the workspaces in the data folder (folders holding a workspace GeoPackage), sorted."""
    root = Path(data_dir or settings.DATA_DIR)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if _NAME.match(p.name) and (p / GPKG_NAME).is_file())


def create_workspace(name: str, data_dir: Path | None = None) -> Workspace:
    """Create an empty workspace ``name`` in the data folder and remember it as the last one."""
    folder = workspace_dir(name, data_dir)
    if (folder / GPKG_NAME).exists():
        raise LayerError(Problem(f"工作空间“{name}”已存在", f"workspace '{name}' already exists",
                                 "换一个名称，或直接打开它", "choose another name, or open it", file=name))
    made = not folder.exists()
    try:
        with guard(folder, CREATE):
            create_gpkg(folder / GPKG_NAME)
            remember(name, data_dir)
    except GisError:
        unlink_quietly(folder / GPKG_NAME)
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return Workspace(folder)


def remember(name: str, data_dir: Path | None = None) -> None:
    """Record ``name`` as the last workspace opened."""
    root = Path(data_dir or settings.DATA_DIR)
    tmp = root / (LAST_FILE + ".tmp")
    try:
        with guard(root, WRITE):
            root.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"name": name}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, root / LAST_FILE)
    except GisError:
        unlink_quietly(tmp)
        raise


def last_workspace(data_dir: Path | None = None) -> str | None:
    """Name of the last workspace opened, if it still exists."""
    root = Path(data_dir or settings.DATA_DIR)
    try:
        name = json.loads((root / LAST_FILE).read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name in list_workspaces(root) else None


def open_workspace(name: str, data_dir: Path | None = None) -> Workspace:
    """Open workspace ``name`` (remembered as the last one, when the data folder can be written).

    A workspace on a read-only medium still opens (to be read); a damaged one opens too (to be read
    and restored: :meth:`Workspace.health` says what is damaged).
    """
    folder = workspace_dir(name, data_dir)
    if not (folder / GPKG_NAME).is_file():
        raise LayerError(Problem(f"没有名为“{name}”的工作空间", f"no workspace called '{name}'",
                                 "从列表中选择，或新建一个", "pick one from the list, or create one", file=name))
    with suppress(GisError):   # a read-only data folder: the workspace opens, it is just not remembered
        remember(name, data_dir)
    return Workspace(folder)


def export_archive(ws: Workspace) -> bytes:
    """The workspace as one zip file: its GeoPackage (as ``workspace.gpkg``) and GeoTIFFs."""
    ws._recover()
    h = ws.health()
    if not h.ok:
        raise h.error(READ)
    with guard(ws.gpkg, READ), tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / GPKG_NAME
        src = sqlite3.connect(f"file:{ws.gpkg}?mode=ro", uri=True, timeout=60)
        dst = sqlite3.connect(str(snap))
        try:
            src.backup(dst)       # a consistent copy even while another session writes
        finally:
            dst.close()
            src.close()
        out = Path(tmp) / "ws.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(snap, GPKG_NAME)
            for kind in ws.raster_kinds():
                zf.write(ws.raster_path(kind), f"{kind}.tif")
        return out.read_bytes()


def import_archive(path: Path, name: str, data_dir: Path | None = None, *,
                   display_name: str | None = None) -> Workspace:
    """Unpack a workspace archive (zip from :func:`export_archive`, or a bare .gpkg) as workspace ``name``.

    Only ``workspace.gpkg`` and ``KIND.tif`` of known raster kinds are taken, by their base
    names (never as paths); the GeoPackage must open and pass SQLite's check. Nothing is left behind
    on error: a bad archive is a :class:`LayerError`, a data folder that cannot be written a
    :class:`~layers.errors.StorageError`.
    """
    from layers.catalogue import CATALOGUE

    source = display_name or Path(path).name
    folder = workspace_dir(name, data_dir)
    if (folder / GPKG_NAME).exists():
        raise LayerError(Problem(f"工作空间“{name}”已存在", f"workspace '{name}' already exists",
                                 "换一个名称", "choose another name", file=source))
    rasters = {f"{k}.tif" for k, s in CATALOGUE.items() if s.is_raster}
    root = Path(data_dir or settings.DATA_DIR)
    with guard(root, CREATE):
        root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".importing-", dir=root))   # same disk: the final move is a rename
    try:
        with guard(root, CREATE):
            _unpack(path, stage, source, rasters)
        if not (stage / GPKG_NAME).exists():
            raise LayerError(Problem("压缩包中没有 GeoPackage 工作空间文件", "the archive holds no GeoPackage",
                                     "导入由“导出工作空间”得到的 zip 或 .gpkg 文件",
                                     "import a zip or .gpkg made by 'export workspace'", file=source))
        if not integrity.check(stage / GPKG_NAME).ok:
            raise _not_a_workspace(source)
        try:
            Workspace(stage).vector_kinds()
        except GisError:
            raise _not_a_workspace(source) from None
        with guard(root, CREATE):
            folder.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage, folder)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
        integrity.forget(stage / GPKG_NAME)
    remember(name, data_dir)
    return Workspace(folder)


def _not_a_workspace(source: str) -> LayerError:
    return LayerError(Problem("文件已损坏，不是有效的 GeoPackage 工作空间", "the file is damaged or not a valid "
                              "GeoPackage workspace", "导入由“导出工作空间”得到的 zip 或 .gpkg 文件",
                              "import a zip or .gpkg made by 'export workspace'", file=source))


def _unpack(path: Path, stage: Path, source: str, rasters: set[str]) -> None:
    """The archive's GeoPackage and known rasters, by their base names, into ``stage``."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
                if info.is_dir() or (base != GPKG_NAME and base not in rasters and not base.endswith(".gpkg")):
                    continue
                if info.file_size > MAX_MEMBER:
                    raise LayerError(Problem(f"压缩包内文件过大：{base}", f"archive member too large: {base}",
                                             "检查压缩包", "check the archive", file=source))
                target = stage / (GPKG_NAME if base.endswith(".gpkg") else base)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    else:
        shutil.copyfile(path, stage / GPKG_NAME)
