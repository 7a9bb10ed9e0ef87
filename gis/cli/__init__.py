"""The ``python -m gis`` command line.

Commands live in one module per domain (:mod:`gis.cli.data`, :mod:`gis.cli.flood`,
:mod:`gis.cli.fire`, ...). Each subcommand is a module-level pair: ``_add_NAME(p)`` declares its
arguments (decorated with :func:`command`) and ``_run_NAME(args)`` runs it and returns the exit
status. Input problems (:class:`LayerError`) exit with status 2 and the bilingual message on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from layers.errors import GisError, LayerError

if TYPE_CHECKING:
    from layers.crs import OnConflict
    from layers.text import Text

_COMMANDS: dict[str, tuple[Callable, Callable, str]] = {}


def command(name: str, help_text: str):
    """Register ``add(sub_parser)`` / ``run(args)`` under ``name`` (decorator on the add function)."""

    def deco(add: Callable) -> Callable:
        run = getattr(sys.modules[add.__module__], "_run_" + name.replace("-", "_"))
        _COMMANDS[name] = (add, run, help_text)
        return add

    return deco


def _default_sublayer(p: Path, kind: str, sublayer: str | None) -> str | None:
    """In a GeoPackage holding a layer named ``kind`` (a workspace) that layer is the default."""
    from layers.readers import list_sublayers

    if sublayer is None and p.suffix.lower() == ".gpkg":
        try:
            if kind in list_sublayers(p):
                return kind
        except LayerError:  # the reader reports the problem properly
            pass
    return sublayer


def is_workspace_file(p: Path) -> bool:
    """A GeoPackage this program wrote as a workspace (its layers were corrected when they were imported)."""
    import sqlite3

    if p.suffix.lower() != ".gpkg" or not p.is_file():
        return False
    try:
        con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gis_history'").fetchone() is not None
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return False


#: help of the CRS options every command that reads a layer takes
CRS_HELP = ("CRS of the input files that carry none (or only an assumed one), as on import: an EPSG code "
            "(EPSG:4548 = CGCS2000 3-degree Gauss-Kruger CM 117E, EPSG:2415 = Beijing 1954 3-degree zone 39), or "
            "just the datum (beijing1954, xian1980: the zone is told from the numbers). A file that declares "
            "another CRS keeps its own; when --crs fits none of the inputs that is an error / 无坐标系输入文件的"
            "坐标系，如 EPSG:4548、EPSG:2415，或只写 beijing1954 / xian1980（投影带按数值判断）")


def add_input_options(p: argparse.ArgumentParser, *, offsets: bool = True) -> None:
    """``--crs``, ``--towgs84``, ``--crs-override`` (and ``--gcj02`` / ``--bd09`` / ``--no-offset``) for a
    command that reads layers, with the same meaning as on ``import``."""
    from layers.datums import TOWGS84_HELP

    g = p.add_argument_group("coordinates / 坐标系")
    g.add_argument("--crs", metavar="CRS", help=CRS_HELP)
    g.add_argument("--towgs84", metavar="dx,dy,dz[,rx,ry,rz,s]", help=TOWGS84_HELP)
    g.add_argument("--crs-override", action="store_true",
                   help="the files' own CRS (.prj, GeoTIFF keys) is wrong: read them in --crs instead / 文件自带坐标系"
                        "有误，改用 --crs")
    if offsets:
        o = g.add_mutually_exclusive_group()
        o.add_argument("--gcj02", action="store_true",
                       help="points are GCJ-02 (Gaode/AMap, Tencent, WeChat): convert to WGS84 / "
                            "高德、腾讯、微信坐标纠偏")
        o.add_argument("--bd09", action="store_true", help="points are BD-09 (Baidu): convert to WGS84 / 百度坐标纠偏")
        o.add_argument("--no-offset", action="store_true",
                       help="the points carry no web-map offset (silences the suspicion; kept with the workspace on "
                            "import) / 不是网络地图坐标，不纠偏")


class Inputs:
    """The layers one command reads, with the user's coordinate options applied as on ``import``.

    ``--crs`` is the CRS of the inputs that carry none (or an assumed one); an input that declares
    another keeps its own, with a note, unless ``--crs-override``. ``--towgs84`` applies to the inputs
    on Beijing 1954 / Xi'an 1980, ``--gcj02`` / ``--bd09`` to the vector inputs in WGS84/CGCS2000
    lon/lat that are not workspace layers (those were corrected when imported). :meth:`check`, called
    once every input is read and before anything is written, refuses options that fitted none of
    the inputs: a ``--crs`` that every input contradicts (the conflict), parameters or a correction
    that applied to nothing.

    Parameters
    ----------
    args : argparse.Namespace
        The command's arguments (see :func:`add_input_options`).

    Raises
    ------
    LayerError
        An unknown ``--crs``, ``--towgs84`` that is not 3 or 7 numbers, ``--crs-override`` without
        ``--crs`` (exit status 2 before anything is read).
    """

    def __init__(self, args: argparse.Namespace):
        from layers.crs import parse_crs_choice
        from layers.datums import parse_towgs84
        from layers.errors import Problem

        self.crs = getattr(args, "crs", None)
        if self.crs is not None:
            parse_crs_choice(self.crs, source="--crs")   # unknown: exit 2 before any file is read
        raw = getattr(args, "towgs84", None)
        self.towgs84 = parse_towgs84(raw, source="--towgs84") if raw is not None else None
        self.override = bool(getattr(args, "crs_override", False))
        if self.override and self.crs is None:
            raise LayerError(Problem("--crs-override 需要与 --crs 一起使用", "--crs-override needs --crs",
                                     "用 --crs 给出正确的坐标系", "give the right CRS with --crs",
                                     field="--crs-override"))
        self.offset = "gcj02" if getattr(args, "gcj02", False) else "bd09" if getattr(args, "bd09", False) else None
        self.no_offset = bool(getattr(args, "no_offset", False))
        self.lang = getattr(args, "lang", "zh") or "zh"
        self.read: list[tuple[str, object]] = []     # (file, Layer or Raster)
        self.notes: list = []

    @property
    def on_conflict(self) -> OnConflict:
        return "override" if self.override else "keep"

    def layer(self, path: str | Path, kind: str, sublayer: str | None = None, *,
              near: tuple[float, float, float, float] | None = None):
        """Load ``path`` as layer ``kind`` (a workspace GeoPackage's layer named ``kind`` by default).

        ``near`` (lon/lat extent) catches a file a Gauss-Kruger zone away; the import rule for rows far
        outside does not apply to an analysis input (a scenario's own overlap check judges where it lies)."""
        from layers.load import load_layer

        p = Path(path)
        offset = None if self.offset is None or is_workspace_file(p) else self.offset
        layer = load_layer(p, kind, sublayer=_default_sublayer(p, kind, sublayer), crs=self.crs,
                           towgs84=self.towgs84, on_conflict=self.on_conflict, offset=offset, local=True,
                           lenient=True, near=near, allow_outside=True)
        self.read.append((p.name, layer))
        return layer

    def raster(self, path: str | Path, *, sublayer: str | None = None):
        """Read a raster input (any accepted format) with the same options."""
        from layers.raster import read_raster

        p = Path(path)
        r = read_raster(p, crs=self.crs, towgs84=self.towgs84, on_conflict=self.on_conflict, sublayer=sublayer,
                        local=True, towgs84_old_only=True)
        self.read.append((p.name, r))
        return r

    def points(self, path: str | Path, sublayer: str | None = None):
        """Points of any attributes (candidate sites) with the same options."""
        from layers.load import load_points

        p = Path(path)
        gdf = load_points(p, sublayer=sublayer, crs=self.crs, towgs84=self.towgs84, on_conflict=self.on_conflict,
                          offset=None if is_workspace_file(p) else self.offset, lenient=True)
        self.read.append((p.name, gdf))
        return gdf

    @staticmethod
    def _facts(obj) -> tuple[bool, Text | None, bool, str | None]:
        """(chosen CRS used, conflict note, parameters applied, offset removed) of a Layer, Raster or points."""
        from layers.datums import towgs84_of

        if hasattr(obj, "attrs") and hasattr(obj, "geometry"):
            a = obj.attrs
            return bool(a.get("crs_chosen_used")), a.get("crs_conflict"), bool(a.get("towgs84_used")), a.get("offset")
        used = bool(getattr(obj, "crs_chosen_used", getattr(obj, "chosen_used", False)))
        conflict = getattr(obj, "crs_conflict", getattr(obj, "conflict", None))
        source_crs = getattr(obj, "source_crs", None)
        bound = source_crs is not None and towgs84_of(source_crs) is not None
        return used, conflict, bound, getattr(obj, "offset", None)

    def check(self) -> None:
        """Refuse options that fitted none of the inputs (call before writing anything).

        Raises
        ------
        CRSConflict
            ``--crs`` differs from the CRS every input declares (and no ``--crs-override``).
        LayerError
            ``--towgs84`` given but no input is on Beijing 1954 / Xi'an 1980; ``--gcj02`` /
            ``--bd09`` given but no input could take it.
        """
        from layers.crs import CRSConflict
        from layers.errors import Problem

        facts = [(name, *self._facts(obj)) for name, obj in self.read]
        if self.crs is not None and facts and not any(f[1] for f in facts):
            conflicts = [(f[0], f[2]) for f in facts if f[2] is not None]   # (file, conflict note)
            if conflicts:
                raise CRSConflict([Problem(
                    f"{c[1].zh}；--crs {self.crs} 与所有输入文件自带的坐标系都不一致",
                    f"{c[1].en}; --crs {self.crs} contradicts the CRS of every input file",
                    "若文件自带的坐标系（.prj、GeoTIFF）有误，加 --crs-override；否则去掉 --crs",
                    "if the files' own CRS (.prj, GeoTIFF) is wrong, add --crs-override; otherwise drop --crs",
                    file=c[0]) for c in conflicts])
        if self.towgs84 is not None and facts and not any(f[3] for f in facts):
            raise LayerError(Problem(
                "给出了转换参数（--towgs84），但没有一个输入文件是北京1954 或西安1980 坐标",
                "transformation parameters (--towgs84) were given but none of the inputs is in Beijing 1954 "
                "or Xi'an 1980", "去掉 --towgs84，或用 --crs beijing1954 / xian1980 说明数据的坐标系",
                "drop --towgs84, or say the data's datum with --crs beijing1954 / xian1980", field="--towgs84"))
        if self.offset is not None and facts and not any(f[4] for f in facts):
            flag = "--" + self.offset
            raise LayerError(Problem(
                f"给出了 {flag}，但没有一个输入文件是经纬度坐标的矢量数据（工作空间中的图层导入时已纠偏）",
                f"{flag} was given but none of the inputs is vector data in lon/lat (workspace layers were "
                "corrected when imported)", f"去掉 {flag}", f"drop {flag}", field=flag))

    def messages(self) -> list[str]:
        """The notes of every input read, in the command's language."""
        from layers.text import pick

        out: list[str] = []
        for _, obj in self.read:
            if hasattr(obj, "messages"):
                out += obj.messages(self.lang)
            elif hasattr(obj, "warnings") and not hasattr(obj, "geometry"):
                out += [pick(w, self.lang) for w in obj.warnings]
            elif hasattr(obj, "attrs"):
                out += [pick(w, self.lang) for w in obj.attrs.get("warnings", [])]
        return list(dict.fromkeys(out))


def progress(label: str) -> Callable[[int, int], None]:
    """A progress line on stderr for long work: ``label 12/170`` (redrawn in place on a terminal, else
    printed at each tenth), finished with the count. Pass it where a writer takes ``progress``."""
    tty = sys.stderr.isatty()
    shown = {"tenth": -1}

    def update(done: int, total: int) -> None:
        tenth = int(10 * done / max(total, 1))
        if tty:
            print(f"\r{label} {done}/{total}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
        elif tenth != shown["tenth"] or done >= total:
            shown["tenth"] = tenth
            print(f"{label} {done}/{total}", file=sys.stderr, flush=True)
    return update


def emit(obj: dict) -> None:
    """Print ``obj`` as JSON: indented on a terminal, compact when read by a program (Python's C encoder, several
    times faster on the thousands of rows of a prefecture's dispatch or plan)."""
    indent = 2 if sys.stdout.isatty() else None
    print(json.dumps(obj, ensure_ascii=False, indent=indent, default=str))


def finish(args: argparse.Namespace, out: dict, headline: str, notes: list[str]) -> int:
    """Print ``out`` as JSON with ``--json``, else a headline and its notes; exit status 0."""
    if args.json:
        emit(out)
    else:
        print(headline)
        for n in notes:
            print("  ! " + n)
    return 0


DOMAINS = ("data", "flood", "fire", "fire_risk", "water_reach", "siting", "fire_report", "workspace", "osm", "ops")


def _load_commands() -> None:
    """Import every domain module so its commands register (in this order in ``--help``)."""
    import importlib

    for name in DOMAINS:
        importlib.import_module(f"gis.cli.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand (or only the command ``only``: declaring some
    commands' arguments imports their analysis modules, seconds a command that does not need them waits)."""
    parser = argparse.ArgumentParser(
        prog="python -m gis",
        description="Flood evacuation and forest-fire coverage analysis / 洪涝转移避险与森林防灭火分析",
    )
    _load_commands()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add, _run, help_text) in _COMMANDS.items():
        if only is None or name == only:
            add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _load_commands()
    parser = build_parser(argv[0] if argv and argv[0] in _COMMANDS else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 1
    run = _COMMANDS[args.command][1]
    try:
        return int(run(args) or 0)
    except GisError as e:
        print(str(e), file=sys.stderr)
        return 2
