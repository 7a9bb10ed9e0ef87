"""The ``python -m gis`` command line.

Each subcommand is a small module-level pair: ``_add_NAME(sub)`` declares its arguments and
``_run_NAME(args)`` runs it and returns the exit status. Input problems (:class:`LayerError`)
exit with status 2 and the bilingual message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from layers.errors import LayerError

_COMMANDS: dict[str, tuple[Callable, Callable, str]] = {}


def command(name: str, help_text: str):
    """Register ``add(sub_parser)`` / ``run(args)`` under ``name`` (decorator on the add function)."""

    def deco(add: Callable) -> Callable:
        run = globals().get("_run_" + name.replace("-", "_"))
        _COMMANDS[name] = (add, run, help_text)
        return add

    return deco


def _emit(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


# ---- demo ------------------------------------------------------------------------------------
def _run_demo(args: argparse.Namespace) -> int:
    from data.generator import generate

    summary = generate(Path(args.out), scale=args.scale, seed=args.seed)
    if args.json:
        _emit(summary)
    else:
        for k, v in summary.items():
            print(f"{k}: {v}")
    return 0


@command("demo", "write the synthetic demo county (or prefecture) as GeoPackage + GeoTIFF / 生成演示数据")
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--scale", choices=("county", "prefecture"), default="county")
    p.add_argument("--seed", type=int, default=20261122)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


# ---- validate --------------------------------------------------------------------------------
def _run_validate(args: argparse.Namespace) -> int:
    from layers.load import load_layer

    layer = load_layer(Path(args.file), args.layer, sublayer=args.sublayer, gcj02=args.gcj02)
    out = {"kind": args.layer, "features": layer.count, "crs": str(layer.crs), "warnings": layer.messages(args.lang)}
    if args.json:
        _emit(out)
    else:
        print(f"{args.layer}: {layer.count} OK ({layer.crs})")
        for w in out["warnings"]:
            print("  ! " + w)
    return 0


@command("validate", "read and validate a file as a layer kind / 校验图层文件")
def _add_validate(p: argparse.ArgumentParser) -> None:
    from layers.catalogue import CATALOGUE

    p.add_argument("--layer", required=True, choices=list(CATALOGUE), help="layer kind")
    p.add_argument("file")
    p.add_argument("--sublayer", help="layer name inside a GeoPackage / KML folder")
    p.add_argument("--gcj02", action="store_true", help="points are GCJ-02 (Gaode/WeChat): convert to WGS84")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true")


# ---- layers ----------------------------------------------------------------------------------
def _run_layers(args: argparse.Namespace) -> int:
    from layers.catalogue import SPECS

    for s in SPECS:
        print(f"{s.kind:14s} {s.zh} / {s.en}  [{', '.join(s.geometry)}]")
        for f in s.fields:
            req = "*" if f.required else " "
            print(f"   {req} {f.name:14s} {f.label('zh')} / {f.label('en')}  <- {', '.join(f.aliases[:6])}")
    return 0


@command("layers", "list layer kinds, fields and accepted column names / 列出图层与字段")
def _add_layers(p: argparse.ArgumentParser) -> None:
    pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m gis",
        description="Flood evacuation and forest-fire coverage analysis / 洪涝转移避险与森林防灭火分析",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add, _run, help_text) in _COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 1
    run = _COMMANDS[args.command][1]
    try:
        return int(run(args) or 0)
    except LayerError as e:
        print(str(e), file=sys.stderr)
        return 2
