"""Township (and county) outlines: from the boundaries layer, or else from what the workspace has, said aloud.

Every per-township table, the township outlines on the web and printed maps, and the township
choice on the Fire and Flood pages ask this module where the townships are:

1. the ``boundaries`` layer's township-level polygons (:func:`boundary_outlines`), dissolved by name;
2. without them, the fallback each caller names: polygons given as ``townships``; the
   township-level transfer grids dissolved by their ``township`` field, else the village-level ones,
   else all grids (they cover only the gridded land: circles round the villages on a real county);
   the forest compartments dissolved by ``township`` (small gaps closed, holes dropped).

:class:`Outlines` carries the polygons and a :class:`~layers.text.Text` saying which of these was
used, so the app, the files and the command line can tell the user.

With a boundaries layer, :func:`stamp_townships` gives every feature the township whose outline
holds it (its representative point), so the tables count what the maps draw; a feature outside
every outline keeps its own ``township`` value, and the notes count both cases.
:func:`township_basis` decides it for one layer (a file given to ``exposure``, with or without
``--boundaries``) and names the basis: the boundaries, the grid outlines, or the layer's own field.
:func:`township_cells` does it for the cells of a grid (a population raster): the outlines are
rasterised onto it and each cell's centre decides its township.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.projection import reproject_to
from layers.boundaries import locate
from layers.catalogue import CATALOGUE
from layers.crs import metric_crs
from layers.settings import STORAGE_CRS
from layers.text import Text

__all__ = ["Outlines", "boundary_outlines", "township_outlines", "county_outlines", "locate", "stamp_townships",
           "township_basis", "township_cells", "OUTLINE_NOTES", "BASIS_NOTES"]

#: what each outline source is called when the tool says which one it used
OUTLINE_NOTES: dict[str, Text] = {
    "boundaries": Text("乡镇界取自行政区界图层（{n} 个乡镇）",
                       "township outlines from the boundaries layer ({n} townships)", "outlines_boundaries"),
    "townships": Text("乡镇界取自给定的乡镇面（{n} 个乡镇）",
                      "township outlines from the given township polygons ({n})", "outlines_townships"),
    "grids:township": Text("没有乡镇级行政区界：乡镇界由乡镇级网格合并而成（{n} 个乡镇）",
                           "no township boundaries: township outlines merged from the township-level grids ({n})",
                           "outlines_grids_township"),
    "grids:village": Text("没有乡镇级行政区界：乡镇界由村级网格合并而成，只覆盖有网格的地方（{n} 个乡镇）",
                          "no township boundaries: township outlines merged from the village-level grids; they "
                          "cover only the gridded land ({n} townships)", "outlines_grids_village"),
    "grids": Text("没有乡镇级行政区界：乡镇界由全部网格合并而成，只覆盖有网格的地方（{n} 个乡镇）",
                  "no township boundaries: township outlines merged from all grids; they cover only the gridded "
                  "land ({n} townships)", "outlines_grids"),
    "forest": Text("没有乡镇级行政区界：乡镇界由林地小班按乡镇字段合并而成（{n} 个乡镇）",
                   "no township boundaries: township outlines merged from the forest compartments by their "
                   "township field ({n} townships)", "outlines_forest"),
    "none": Text("没有乡镇级行政区界，也没有带乡镇字段的网格或林地：无法划出乡镇界",
                 "no township boundaries, and no grids or forest with a township field: no township outlines",
                 "outlines_none"),
}

#: what a per-township table of one layer (:func:`township_basis`) says when no township boundary counts it
BASIS_NOTES: dict[str, Text] = {
    "no_township_level": Text("行政区界中没有乡镇级的面，不能用于分乡镇统计",
                              "the boundaries hold no township-level polygons; they cannot count townships",
                              "basis_no_township_level"),
    "field": Text("没有乡镇级行政区界：乡镇统计按各要素自身的乡镇字段（{n} 个乡镇）",
                  "no township boundaries: per-township figures follow each feature's own township field "
                  "({n} townships)", "basis_field"),
    "none": Text("没有乡镇级行政区界，要素也没有乡镇字段：不分乡镇统计",
                 "no township boundaries and no township field: no per-township figures", "basis_none"),
    "raster_none": Text("没有乡镇界：人口栅格不分乡镇统计（给出行政区界图层，命令行用 --boundaries）",
                        "no township outlines: the population raster is not split by township (give the "
                        "boundaries layer; --boundaries on the command line)", "basis_raster_none"),
}

#: vector kinds whose features carry a ``township`` field
TOWNSHIP_KINDS = tuple(k for k, s in CATALOGUE.items() if s.is_vector and any(f.name == "township" for f in s.fields))
#: how the notes of :func:`stamp_townships` name features of a layer that is no catalogue kind
_FEATURES = Text("要素", "features", "features")


@dataclass(frozen=True)
class Outlines:
    """Area outlines of one level and where they came from.

    Attributes
    ----------
    gdf : GeoDataFrame or None
        One row per area: column ``level`` holds the name (``township`` for townships), plus
        ``code`` and ``parent`` where the boundaries layer gave them; EPSG:4490 (or the source's
        CRS). None when nothing gives outlines.
    source : str
        A key of :data:`OUTLINE_NOTES` (``boundaries``, ``grids:township``, ``forest``, ``none``...).
    level : str
        ``township`` or ``county``.
    """

    gdf: gpd.GeoDataFrame | None
    source: str
    level: str = "township"

    @property
    def names(self) -> list[str]:
        """Area names, sorted."""
        return [] if self.gdf is None else sorted(map(str, self.gdf[self.level]))

    @property
    def from_boundaries(self) -> bool:
        """True when the outlines are the boundaries layer's."""
        return self.source == "boundaries"

    @property
    def note(self) -> Text:
        """Which outline was used, in both languages."""
        base = OUTLINE_NOTES.get(self.source, OUTLINE_NOTES["none"]).format(n=len(self.names))
        if self.level != "township":
            return Text(base.zh.replace("乡镇", "县"),
                        base.en.replace("townships", "counties").replace("township", "county"), base.code)
        return base

    def outline(self, name: str | None):
        """The (multi)polygon of area ``name`` in EPSG:4490, or None."""
        if name is None or self.gdf is None:
            return None
        sel = self.gdf[self.gdf[self.level].astype(str) == str(name)]
        if not len(sel):
            return None
        return sel.to_crs(STORAGE_CRS).geometry.union_all()


def _polygons(v: Any) -> gpd.GeoDataFrame | None:
    if v is None or not isinstance(v, gpd.GeoDataFrame) or not len(v):
        return None
    v = v[v.geometry.notna() & ~v.geometry.is_empty]
    v = v[v.geom_type.isin(["Polygon", "MultiPolygon"])]
    if not len(v):
        return None
    return v if v.crs is not None else v.set_crs(STORAGE_CRS)


def _dissolve(gdf: gpd.GeoDataFrame, by: str, *, close_m: float = 0.0, keep: tuple[str, ...] = ()
              ) -> gpd.GeoDataFrame | None:
    """Polygons dissolved by ``by`` (renamed to nothing else); with ``close_m``, gaps narrower than about
    twice that closed and holes dropped (for outlines pieced together from patches that do not tile)."""
    from shapely import Polygon

    g = gdf[gdf[by].notna() & (gdf[by].astype(str).str.strip() != "")]
    if not len(g):
        return None
    g = g.assign(**{by: g[by].astype(str).str.strip()}, geometry=g.geometry.make_valid())
    cols = [by, *[c for c in keep if c in g.columns], "geometry"]
    out = g[cols].dissolve(by=by, as_index=False, aggfunc="first")
    if close_m > 0:
        crs = out.crs
        m = out.to_crs(metric_crs(tuple(out.to_crs(STORAGE_CRS).total_bounds)))
        closed = m.geometry.buffer(close_m).buffer(-close_m)

        def fill(geom):
            parts = [Polygon(p.exterior) for p in getattr(geom, "geoms", [geom]) if p.geom_type == "Polygon"]
            return gpd.GeoSeries(parts).union_all() if parts else geom
        out = m.assign(geometry=[fill(x) for x in closed]).to_crs(crs)
    return out


def boundary_outlines(boundaries: gpd.GeoDataFrame | None, level: str = "township") -> gpd.GeoDataFrame | None:
    """The boundaries layer's polygons of ``level``, dissolved by name (an exclave joins its area; a name
    used under two parents, such as two counties' 城关镇, becomes ``城关镇（parent）`` for each).

    Returns
    -------
    GeoDataFrame or None
        Columns ``level`` (the name; e.g. ``township``), ``code``, ``parent``, ``geometry``; None
        when the layer has no polygon of that level.
    """
    b = _polygons(boundaries)
    if b is None or "name" not in b:
        return None
    if "level" in b:
        b = b[b["level"].astype(str) == level]
    elif level != "township":
        return None
    if not len(b):
        return None
    b = b.rename(columns={"name": level})
    for c in ("code", "parent"):
        if c not in b:
            b = b.assign(**{c: None})
    # one name under two parents (城关镇 of two counties) is two areas: the parent is added to the name
    names = b[level].astype(str).str.strip()
    parents = b["parent"].astype(object).where(b["parent"].notna(), "")
    twice = parents.groupby(names).transform("nunique") > 1
    if twice.any():
        b = b.assign(**{level: np.where(twice, names + "（" + parents.astype(str) + "）", names)})
    return _dissolve(b, level, keep=("code", "parent"))


def township_outlines(layers: Mapping[str, Any], *, fallback: tuple[str, ...] = ("townships", "grids", "forest")
                      ) -> Outlines:
    """Township outlines: the boundaries layer's, else the first of ``fallback`` that gives some.

    Parameters
    ----------
    layers : mapping
        Vector layers by kind (``boundaries``, ``grids``, ``forest``; ``townships`` for polygons with
        a ``township`` or ``name`` column given directly, or an :class:`Outlines` already made).
    fallback : tuple of str
        Sources tried in order without township boundaries (see the module docstring); ``()`` for
        none.

    Returns
    -------
    Outlines
        ``gdf`` has column ``township``.
    """
    if isinstance(layers.get("townships"), Outlines):   # already worked out (e.g. once for a batch of maps)
        return layers["townships"]
    b = boundary_outlines(layers.get("boundaries"), "township")
    if b is not None:
        return Outlines(b, "boundaries")
    for source in fallback:
        if source == "townships":
            tw = _polygons(layers.get("townships"))
            col = None if tw is None else ("township" if "township" in tw else ("name" if "name" in tw else None))
            if tw is not None and col is not None:   # col is None when tw is
                out = _dissolve(tw.rename(columns={col: "township"}) if col != "township" else tw, "township")
                if out is not None:
                    return Outlines(out, "townships")
        elif source == "grids":
            grids = _polygons(layers.get("grids"))
            if grids is None or "township" not in grids:
                continue
            for level in ("township", "village"):
                if "level" in grids:
                    sel = grids[grids["level"].astype(str) == level]
                    out = _dissolve(sel, "township") if len(sel) else None
                    if out is not None:
                        return Outlines(out, f"grids:{level}")
            out = _dissolve(grids, "township")
            if out is not None:
                return Outlines(out, "grids")
        elif source == "forest":
            forest = _polygons(layers.get("forest"))
            if forest is not None and "township" in forest:
                out = _dissolve(forest, "township", close_m=150.0)
                if out is not None:
                    return Outlines(out, "forest")
    return Outlines(None, "none")


def county_outlines(layers: Mapping[str, Any]) -> Outlines:
    """County outlines: the boundaries layer's county-level polygons (``gdf`` column ``county``), or none."""
    b = boundary_outlines(layers.get("boundaries"), "county")
    return Outlines(b, "boundaries" if b is not None else "none", level="county")


def stamp_townships(layers: Mapping[str, Any], outlines: Outlines | None = None, *,
                    kinds: Iterable[str] | None = None) -> tuple[dict[str, Any], list[Text]]:
    """Every feature's ``township`` from the township boundary holding it (see the module docstring).

    Parameters
    ----------
    layers : mapping
        Layers by kind; those of :data:`TOWNSHIP_KINDS` are stamped, the rest passed through.
    outlines : Outlines, optional
        Default :func:`township_outlines` with no fallback.
    kinds : iterable of str, optional
        The keys of ``layers`` to stamp (default :data:`TOWNSHIP_KINDS`); one that is no catalogue
        kind is called "features" in the notes.

    Returns
    -------
    layers : dict
        The same layers, stamped ones as new GeoDataFrames (the originals are not changed).
    notes : list of Text
        Which outline was used; how many features' own township field differed from their
        outline (the outline's name is used) or lay outside every outline (their own value is kept).
    """
    outlines = outlines if outlines is not None else township_outlines(layers, fallback=())
    out = dict(layers)
    if not outlines.from_boundaries:
        return out, []
    notes: list[Text] = [outlines.note]
    differ: list[str] = []
    outside: list[str] = []
    for kind in TOWNSHIP_KINDS if kinds is None else kinds:
        g = layers.get(kind)
        if not isinstance(g, gpd.GeoDataFrame) or not len(g):
            continue
        found = locate(g, outlines.gdf, "township")
        own = g["township"].astype(object).where(g["township"].notna(), None) if "township" in g else \
            pd.Series([None] * len(g), index=g.index, dtype=object)
        own_text = own.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip())
        n_differ = int((found.notna() & own_text.notna() & (found != own_text)).sum())
        n_out = int(found.isna().sum())
        label = CATALOGUE.get(kind, _FEATURES)
        if n_differ:
            differ.append(f"{label.zh} {n_differ}|{label.en} {n_differ}")
        if n_out:
            outside.append(f"{label.zh} {n_out}|{label.en} {n_out}")
        stamped = found.where(found.notna(), own_text)
        new = g.copy()
        new["township"] = stamped.to_numpy(dtype=object)
        new.attrs = dict(g.attrs)
        out[kind] = new
    if differ:
        zh = "、".join(d.split("|")[0] for d in differ)
        en = ", ".join(d.split("|")[1] for d in differ)
        notes.append(Text(f"乡镇字段与所在乡镇界不一致的要素（{zh} 个）按所在乡镇界统计",
                          f"features whose township field differs from the outline they lie in ({en}) are counted "
                          "in that outline's township", "township_field_differs"))
    if outside:
        zh = "、".join(d.split("|")[0] for d in outside)
        en = ", ".join(d.split("|")[1] for d in outside)
        notes.append(Text(f"不在任何乡镇界内的要素（{zh} 个）保留自己的乡镇字段",
                          f"features outside every township outline ({en}) keep their own township field",
                          "township_outside"))
    return out, notes


def township_basis(gdf: gpd.GeoDataFrame, kind: str, boundaries: gpd.GeoDataFrame | None = None
                   ) -> tuple[gpd.GeoDataFrame, str, list[Text]]:
    """The township each feature of one layer counts in for a per-township table, and what says so.

    With township-level ``boundaries`` every feature counts in the outline holding it
    (:func:`stamp_townships`); without them, under its own ``township`` field, and the note says
    which outline that amounts to: for transfer grids the outlines they merge into
    (:func:`township_outlines`), for other layers the field itself.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer (transfer grids, villages, any features).
    kind : str
        Its layer kind (``grids``, ``villages``), or any other name for features of no kind.
    boundaries : GeoDataFrame, optional
        The boundaries layer (``--boundaries``).

    Returns
    -------
    gdf : GeoDataFrame
        The layer, stamped when the boundaries counted it (a new frame; the given one is unchanged).
    basis : str
        ``boundaries``, the grid outline a :data:`OUTLINE_NOTES` key names (``grids:township``...),
        ``field`` or ``none``.
    notes : list of Text
        Which outline was used (and, with boundaries, how many features' own field it overruled).
    """
    notes: list[Text] = []
    if boundaries is not None:
        outlines = township_outlines({"boundaries": boundaries}, fallback=())
        if outlines.from_boundaries:
            stamped, notes = stamp_townships({kind: gdf}, outlines, kinds=(kind,))
            return stamped[kind], "boundaries", notes
        notes.append(BASIS_NOTES["no_township_level"])
    own = gdf["township"].dropna().astype(str).str.strip() if "township" in gdf else pd.Series([], dtype=object)
    own = own[own != ""]
    if not len(own):
        return gdf, "none", [*notes, BASIS_NOTES["none"]]
    if kind == "grids":
        outlines = township_outlines({"grids": gdf}, fallback=("grids",))
        if outlines.gdf is not None:
            return gdf, outlines.source, [*notes, outlines.note]
    return gdf, "field", [*notes, BASIS_NOTES["field"].format(n=own.nunique())]


def township_cells(outlines: Outlines | gpd.GeoDataFrame, shape: tuple[int, int], transform: Any,
                   crs: object) -> tuple[np.ndarray, list[str]]:
    """The township each cell of a grid counts in: the outlines rasterised onto it, the cell centre deciding.

    Parameters
    ----------
    outlines : Outlines or GeoDataFrame
        Township polygons with the name in column ``township`` (any CRS; EPSG:4490 when it has none).
    shape : tuple of int
        ``(rows, cols)`` of the grid.
    transform : affine.Affine
        The grid's transform.
    crs : object
        The grid's CRS (anything :func:`gis.projection.reproject_to` takes).

    Returns
    -------
    ids : ndarray of int32
        ``shape``; 0 where the cell centre lies in no outline, ``k`` for ``names[k - 1]``
        (``rasterio.features.rasterize`` with ``all_touched=False``; where two outlines overlap the
        later one wins).
    names : list of str
        The township names, in the order of ``outlines``.
    """
    from rasterio.features import rasterize

    gdf = outlines.gdf if isinstance(outlines, Outlines) else outlines
    ids = np.zeros(shape, dtype="int32")
    if gdf is None or not len(gdf):
        return ids, []
    gdf = gdf if gdf.crs is not None else gdf.set_crs(STORAGE_CRS)
    names = gdf["township"].astype(str).tolist()
    geoms = reproject_to(gdf, crs).geometry.to_numpy()
    shapes = [(g, k) for k, g in enumerate(geoms, start=1) if g is not None and not g.is_empty]
    if shapes and shape[0] > 0 and shape[1] > 0:
        ids = rasterize(shapes, out_shape=shape, transform=transform, fill=0, all_touched=False, dtype="int32")
    return ids, names
