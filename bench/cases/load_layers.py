"""Read and validate every vector layer through layers.load.load_layer, against plain geopandas.read_file.

Per layer of the workspace GeoPackage:

- ours: ``layers.load.load_layer(gpkg, kind, sublayer=kind)`` (read, resolve CRS, match fields,
  coerce types, check and repair geometries, convert to EPSG:4490);
- peer: ``geopandas.read_file(gpkg, layer=kind)`` (pyogrio engine, no validation), what a
  geopandas user would otherwise do;
- also ``pyogrio.read_dataframe(..., use_arrow=True)``, the raw read the workspace uses (a floor).

Each is timed in this process, best of ``--repeats``, interleaved. Peak memory is measured per
layer and reader in one fresh process per reader (peak RSS during each read, and its rise).

Bar (prefecture scale): the 41,410 transfer grids load and validate in under 15 s.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import Context, Report, Table, bar

GRIDS_BAR_S = 15.0
PREFECTURE_GRIDS = 41_410


def _isolated_setup() -> None:
    """Imports both readers need, so a child's baseline memory includes them."""
    import geopandas  # noqa: F401
    import pyogrio  # noqa: F401

    import layers.load  # noqa: F401


def _read(path: str, kind: str, reader: str) -> int:
    """Read one layer with ``reader`` (``ours`` or ``peer``); its row count."""
    if reader == "ours":
        from layers.load import load_layer

        return len(load_layer(Path(path), kind, sublayer=kind).gdf)
    import geopandas as gpd

    return len(gpd.read_file(path, layer=kind, engine="pyogrio"))


def _count(path: str, kind: str) -> int:
    import pyogrio

    return int(pyogrio.read_info(path, layer=kind)["features"])


def memory(path: str, kinds: list[str], reader: str) -> dict:
    """Peak RSS of reading each layer in turn with ``reader``, in this (fresh) process.

    The smallest layer is read once first (one-time initialisation is no layer's cost). Before
    each layer freed memory is handed back to the OS and the peak is reset to the current
    RSS (Linux ``/proc/self/clear_refs``), so
    each figure is that layer's own: ``peak_mb`` (process peak during the read) and ``added_mb``
    (peak minus the RSS just before). Without the reset, a layer's figure is the process peak so
    far (``reset`` False).
    """
    from bench.harness import peak_rss_mb, peak_rss_since_reset_mb, release_memory, reset_peak_rss, rss_mb

    out: dict = {"layers": {}}
    if kinds:  # one-time initialisation (drivers, CRS database) is not any layer's cost
        _read(path, min(kinds, key=lambda k: _count(path, k)), reader)
    for kind in kinds:
        release_memory()
        reset = reset_peak_rss()
        before = rss_mb() or 0.0
        _read(path, kind, reader)
        peak = peak_rss_since_reset_mb() if reset else peak_rss_mb()  # the latter only off Linux
        out["layers"][kind] = {"peak_mb": peak, "added_mb": peak - before, "reset": reset}
    out["max_peak_mb"] = max((v["peak_mb"] for v in out["layers"].values()), default=0.0)
    return out


def run(ctx: Context) -> Report:
    """Time and measure the loaders on every vector layer of ``ctx.gpkg``."""
    import geopandas as gpd
    import pyogrio

    from layers.catalogue import CATALOGUE
    from layers.load import load_layer

    path = ctx.gpkg
    kinds = [k for k in ctx.vector_layers() if k in CATALOGUE and CATALOGUE[k].is_vector]
    skipped = [k for k in ctx.vector_layers() if k not in kinds]
    rows, figures, notes_text = [], {}, []
    tot = {"ours": 0.0, "peer": 0.0, "arrow": 0.0}
    for kind in kinds:
        ctx.log(f"  load_layers: {kind}")
        ours_t, peer_t, arrow_t = [], [], []
        layer = None
        for _ in range(ctx.repeats):  # interleaved, so drift in the machine hits all three alike
            layer = None
            t = ctx.timed(lambda kind=kind: load_layer(path, kind, sublayer=kind), repeats=1)
            ours_t.append(t.best)
            layer = t.result
            t = ctx.timed(lambda kind=kind: gpd.read_file(path, layer=kind, engine="pyogrio"), repeats=1)
            peer_t.append(t.best)
            n_peer = len(t.result)
            t = ctx.timed(lambda kind=kind: pyogrio.read_dataframe(path, layer=kind, use_arrow=True), repeats=1)
            arrow_t.append(t.best)
        n = len(layer.gdf)
        if layer.notes:
            notes_text.append(f"`{kind}`: {len(layer.notes)} note(s) from validation, e.g. “{layer.notes[0][1]}”")
        o, p, a = min(ours_t), min(peer_t), min(arrow_t)
        tot["ours"] += o
        tot["peer"] += p
        tot["arrow"] += a
        ratio = o / p if p > 0 else float("nan")
        rows.append([f"`{kind}`", n, o, max(ours_t), p, a, ratio])
        figures[kind] = {"rows": n, "rows_peer": n_peer, "ours_s": ours_t, "peer_s": peer_t, "arrow_s": arrow_t,
                         "ratio": ratio}
    ctx.log("  load_layers: peak memory (one fresh process per reader)")
    mem = {r: ctx.isolated("bench.cases.load_layers:memory", path=str(path), kinds=kinds, reader=r)
           for r in ("ours", "peer")}
    for row, kind in zip(rows, kinds):
        for r in ("ours", "peer"):
            m = mem[r]["layers"][kind]
            row.append(f"{m['peak_mb']:.0f} (+{m['added_mb']:.0f})")
            figures[kind][f"{r}_peak_rss_mb"] = m["peak_mb"]
            figures[kind][f"{r}_added_rss_mb"] = m["added_mb"]
    rows.append(["**all layers**", sum(r[1] for r in rows), tot["ours"], None, tot["peer"], tot["arrow"],
                 tot["ours"] / tot["peer"] if tot["peer"] else float("nan"),
                 f"{mem['ours']['max_peak_mb']:.0f} (max)", f"{mem['peer']['max_peak_mb']:.0f} (max)"])
    table = Table(
        title=f"load_layers: {path.name} ({path.stat().st_size / 1e6:.1f} MB), best of {ctx.repeats}, seconds",
        columns=["layer", "features", "ours: load_layer (s)", "ours: slowest run (s)",
                 "peer: gpd.read_file (s)", "pyogrio arrow read (s)", "overhead ours/peer",
                 "ours peak RSS MB (+ during read)", "peer peak RSS MB (+ during read)"],
        rows=rows)
    grids = figures.get("grids")
    judged = ctx.at_prefecture
    bars = [bar("`grids` load + validate (ours, best)", min(grids["ours_s"]) if grids else None, GRIDS_BAR_S, "s",
                judged=judged)]
    notes = ["Ours reads with pyogrio too, then validates: field matching, type coercion, bounds, geometry "
             "check/repair, unique ids, CRS to EPSG:4490. The peer does none of this.",
             "Peak RSS: one fresh Python process per reader reads the layers in turn; before each layer freed "
             "memory is handed back (gc + malloc_trim) and the process's peak is reset to its current RSS (Linux "
             "/proc/self/clear_refs), so each figure is that "
             "read's peak, and '+' is how far it rose above the RSS just before the read."]
    if grids and judged and grids["rows"] != PREFECTURE_GRIDS:
        notes.append(f"The workspace has {grids['rows']:,} grids, not the {PREFECTURE_GRIDS:,} of the report the "
                     "bar is set for.")
    if skipped:
        notes.append(f"Not catalogue vector kinds, skipped: {', '.join(skipped)}.")
    notes += notes_text
    figures["total"] = dict(tot)
    return Report(tables=[table], bars=bars, notes=notes, figures=figures)
