"""``python -m gis`` commands: demo data, validation and the layer catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli import Inputs, add_input_options, command, emit, finish


# ---- demo ------------------------------------------------------------------------------------
def _run_demo(args: argparse.Namespace) -> int:
    from data.generator import generate
    from layers.errors import LayerError, Problem

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise LayerError(Problem("输出位置已有同名文件，不是文件夹",
                                 "the output path is an existing file, not a folder",
                                 "为 --out 指定一个文件夹（不存在时会新建）",
                                 "give --out a folder (it is created when missing)", file=str(out)))
    summary = generate(out, scale=args.scale, seed=args.seed)
    if args.json:
        emit(summary)
    else:
        for k, v in summary.items():
            print(f"{k}: {v}")
    return 0


def _seed(text: str) -> int:
    """A seed argument: a whole number >= 0 (argparse reports anything else with the usage, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number / 不是整数: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 / 不能为负数: {value}")
    return value


@command("demo", "write the synthetic demo county (or prefecture) as GeoPackage + GeoTIFF / 生成演示数据")
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--scale", choices=("county", "prefecture"), default="county")
    p.add_argument("--seed", type=_seed, default=20261122, help="random seed, a whole number >= 0 / 随机种子")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


# ---- validate --------------------------------------------------------------------------------
def _run_validate(args: argparse.Namespace) -> int:
    inputs = Inputs(args)   # an unknown --crs or bad --towgs84: exit 2 before reading
    layer = inputs.layer(Path(args.file), args.layer, args.sublayer)
    inputs.check()
    out = {"kind": args.layer, "features": layer.count, "crs": str(layer.crs),
           "source_crs": layer.crs_name(args.lang), "offset": layer.offset,
           "suspected_offset": layer.suspicion.offset if layer.suspicion is not None else None,
           "warnings": inputs.messages()}
    return finish(args, out, f"{args.layer}: {layer.count} OK ({layer.crs_name(args.lang)})", out["warnings"])


@command("validate", "read and validate a file as a layer kind / 校验图层文件")
def _add_validate(p: argparse.ArgumentParser) -> None:
    from layers.catalogue import CATALOGUE

    p.add_argument("--layer", required=True, choices=list(CATALOGUE), help="layer kind")
    p.add_argument("file")
    p.add_argument("--sublayer", help="layer name inside a GeoPackage / KML folder / netCDF variable")
    add_input_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true")


# ---- layers ----------------------------------------------------------------------------------
def _run_layers(args: argparse.Namespace) -> int:
    from layers.catalogue import SPECS

    for s in SPECS:
        print(f"{s.kind:14s} {s.zh} / {s.en}  [{', '.join(s.geometry)}]")
        for f in s.fields:
            req = "*" if f.required else " "
            print(f"   {req} {f.name:14s} {f.label('zh')} / {f.label('en')}  <- {', '.join(f.aliases[:6])}"
                  + (f"  [units: {f.unit_hint()}]" if f.unit else ""))
    return 0


@command("layers", "list layer kinds, fields and accepted column names / 列出图层与字段")
def _add_layers(p: argparse.ArgumentParser) -> None:
    pass
