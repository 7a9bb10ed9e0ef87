"""One colour system for every map, on screen and on paper: one colour per meaning.

Colours are taken from the ColorBrewer 2.0 schemes (Cynthia A. Brewer, Pennsylvania State
University; Apache License 2.0), named by scheme and class (``Blues5[1]`` is the second of five
blues), except the forest-fire danger levels, which follow China's national scale (green, blue,
yellow, orange, red). A map never shows two meanings in one colour: ``tests/test_palette.py``
builds every page's map and checks that the legend colours of different meanings are at least
:data:`MIN_DELTA_E` apart (CIE76 in CIELAB).

The layer kinds' own colours live in their drawing specs (:mod:`layers.catalogue`, taken from
here); overlays of an analysis (depth classes, grid status, shelter load, coverage, gaps, sites)
take theirs from the tables below.
"""

from __future__ import annotations

import math

__all__ = ["BREWER", "RISK", "DEPTH", "GRID_STATUS", "SHELTER_LOAD", "SHELTER_UNUSABLE", "ROUTE", "SEEN", "REACH",
           "GAP", "SITE", "OPS_STATUS", "OCCUPANCY", "WARNING_LEVEL", "MIN_DELTA_E", "lab", "delta_e", "rgb"]

#: ColorBrewer colours used here, by scheme and class count (index = class)
BREWER: dict[str, tuple[str, ...]] = {
    "Blues5": ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"),
    "Blues9": ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"),
    "Greens5": ("#edf8e9", "#c7e9c0", "#74c476", "#31a354", "#006d2c"),
    "Purples7": ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"),
    "PuRd5": ("#f1eef6", "#d7b5d8", "#df65b0", "#dd1c77", "#980043"),
    "RdPu5": ("#feebe2", "#fbb4b9", "#f768a1", "#c51b8a", "#7a0177"),
    "Reds5": ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"),
    "Greys5": ("#f7f7f7", "#cccccc", "#969696", "#636363", "#252525"),
    "Dark2": ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"),
    "Paired": ("#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00", "#cab2d6",
               "#6a3d9a", "#ffff99", "#b15928"),
    "PRGn10": ("#40004b", "#762a83", "#9970ab", "#c2a5cf", "#e7d4e8", "#d9f0d3", "#a6dba0", "#5aae61", "#1b7837",
               "#00441b"),
    "BrBG10": ("#543005", "#8c510a", "#bf812d", "#dfc27d", "#f6e8c3", "#c7eae5", "#80cdc1", "#35978f", "#01665e",
               "#003c30"),
    "PuOr9": ("#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7", "#d8daeb", "#b2abd2", "#8073ac", "#542788"),
    "RdBu10": ("#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac",
               "#053061"),
    "YlGnBu5": ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"),
    "Oranges5": ("#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603"),
    "Set2": ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3"),
}
_B = BREWER

#: forest-fire danger levels 1 (low) .. 5 (extreme): China's scale, green, blue, yellow, orange, red
RISK: tuple[str, ...] = ("#2e9e44", "#2f6fd6", "#f2d024", "#f28c1e", "#d7263d")
#: flood depth classes, shallow to deep (Blues, from the second class so the shallowest reads on a hillshade)
DEPTH: tuple[str, ...] = _B["Blues5"][1:]
#: grids by evacuation status
GRID_STATUS = {"evacuate": _B["Paired"][5], "flooded": _B["Oranges5"][2]}
#: shelters by load: (share of capacity up to, colour)
SHELTER_LOAD: tuple[tuple[float, str], ...] = ((0.8, _B["Dark2"][0]), (1.0, _B["Set2"][5]), (math.inf, _B["RdBu10"][0]))
SHELTER_UNUSABLE = _B["Greys5"][2]
#: evacuation routes (dashed where estimated on a straight line)
ROUTE = _B["Paired"][9]
#: cells seen by one camera, and by two or more
SEEN = {1: _B["PRGn10"][3], 2: _B["PRGn10"][1]}
#: forest within reach of a usable water source
REACH = _B["BrBG10"][7]
#: uncovered high-risk patches: unseen and out of reach, unseen only, out of reach only
GAP = {"both": _B["RdBu10"][0], "unseen": _B["Dark2"][3], "out_of_reach": _B["BrBG10"][0]}
#: proposed sites
SITE = {"camera": _B["Paired"][4], "water": _B["Paired"][0]}
#: grids by where a warning stands (Operations page): warned, acknowledged, moving, done, problem
OPS_STATUS = {"warned": _B["Blues5"][2], "acknowledged": _B["Blues5"][4], "moving": _B["Oranges5"][2],
              "done": _B["Greens5"][3], "problem": _B["PuRd5"][3]}
#: shelters by occupancy during an evacuation: room (< 90 %), filling, full (the load colours), not usable
OCCUPANCY = {"room": SHELTER_LOAD[0][1], "filling": SHELTER_LOAD[1][1], "full": SHELTER_LOAD[2][1],
             "unusable": SHELTER_UNUSABLE}
#: flood warning levels (China's four-colour scale), for badges and tables
WARNING_LEVEL = {"blue": "#1e88e5", "yellow": "#fdd835", "orange": "#fb8c00", "red": "#e53935"}

#: smallest CIE76 colour difference between two meanings on one map (about 2.3 is just noticeable;
#: 12 and more reads as a different colour at a glance)
MIN_DELTA_E = 12.0


def rgb(hex_: str) -> tuple[int, int, int]:
    """``#rrggbb`` as 0-255 integers."""
    h = hex_.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def lab(hex_: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""
    def lin(c: float) -> float:
        c /= 255.0
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (lin(c) for c in rgb(hex_))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference of two ``#rrggbb`` colours."""
    return math.dist(lab(a), lab(b))
