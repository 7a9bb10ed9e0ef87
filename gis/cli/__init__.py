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
from pathlib import Path
from typing import Callable

from layers.errors import GisError, LayerError

_COMMANDS: dict[str, tuple[Callable, Callable, str]] = {}


def command(name: str, help_text: str):
    """Register ``add(sub_parser)`` / ``run(args)`` under ``name`` (decorator on the add function)."""

    def deco(add: Callable) -> Callable:
        run = getattr(sys.modules[add.__module__], "_run_" + name.replace("-", "_"))
        _COMMANDS[name] = (add, run, help_text)
        return add

    return deco


def load_kind(path: str | Path, kind: str, sublayer: str | None = None):
    """Load ``path`` as layer ``kind``; in a GeoPackage holding a layer named ``kind`` (a workspace) that
    layer is the default, so ``--forest WS.gpkg --roads WS.gpkg`` just works."""
    from layers.load import load_layer
    from layers.readers import list_sublayers

    p = Path(path)
    if sublayer is None and p.suffix.lower() == ".gpkg":
        try:
            if kind in list_sublayers(p):
                sublayer = kind
        except LayerError:  # the reader below reports the problem properly
            pass
    return load_layer(p, kind, sublayer=sublayer)


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
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def finish(args: argparse.Namespace, out: dict, headline: str, notes: list[str]) -> int:
    """Print ``out`` as JSON with ``--json``, else a headline and its notes; exit status 0."""
    if args.json:
        emit(out)
    else:
        print(headline)
        for n in notes:
            print("  ! " + n)
    return 0


DOMAINS = ("data", "flood", "fire", "fire_risk", "water_reach", "siting", "fire_report", "workspace", "ops")


def _load_commands() -> None:
    """Import every domain module so its commands register (in this order in ``--help``)."""
    import importlib

    for name in DOMAINS:
        importlib.import_module(f"gis.cli.{name}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m gis",
        description="Flood evacuation and forest-fire coverage analysis / 洪涝转移避险与森林防灭火分析",
    )
    _load_commands()
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
    except GisError as e:
        print(str(e), file=sys.stderr)
        return 2
