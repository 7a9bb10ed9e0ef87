"""Boundary files as they come: DataV GeoJSON, county / township / village tables, codes without levels.

:func:`prepare` runs on a boundaries file after it is read and before it is validated
(:func:`layers.load.load_layer`), so that the catalogue's ``boundaries`` fields are found in the
files offices actually have:

- **DataV GeoJSON** (阿里云 DataV.GeoAtlas, the boundary files most Chinese web maps use): ``adcode``
  is the code, ``name`` the name, ``level`` the level (``province`` / ``city`` / ``district``: a
  district is a county here), ``parent`` an object ``{"adcode": 330600}`` whose code becomes the
  parent; ``center``, ``centroid`` and ``acroutes`` (arrays) are kept as text. (DataV outlines are
  GCJ-02; :mod:`layers.crs` decides what to say about that.)
- **A table named by level** (``乡镇名称`` and ``村名`` columns, no ``名称``): the finest level's
  column is the name, the next one up the parent, and that level the level.
- **No level**: it is told from the code where the code is a Chinese division code (6 digits:
  province ``xx0000``, prefecture ``xxxx00``, county; 9 digits or 12 ending ``000``: township;
  12 digits: village), else the rows are taken as townships, with a note.

Nested values (objects, arrays) anywhere in the file become text, so the layer can be stored.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.catalogue import spec as get_spec
from layers.schema import normalize_name
from layers.settings import STORAGE_CRS
from layers.text import Text

__all__ = ["prepare", "level_from_code", "locate", "NAME_COLUMNS", "DATAV_FIELDS"]

#: columns that name an area of one level (finest last), for files without a plain name column
NAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "county": ("县名", "县名称", "区县名称", "县区名称", "县（市、区）", "县市区", "所属县", "所属区县"),
    "township": ("乡镇名称", "乡镇", "镇名", "乡名", "街道名称", "乡镇（街道）", "乡镇街道", "所属乡镇"),
    "village": ("村名", "村名称", "行政村", "村委会", "社区名称", "村（社区）", "村居名称"),
}

#: fields whose presence (besides ``adcode``) says a file came from DataV
DATAV_FIELDS = ("level", "parent", "center", "centroid", "acroutes", "childrenNum", "subFeatureIndex")


def _flat(value: Any) -> Any:
    """A nested cell as text: ``{"adcode": 330600}`` -> ``"330600"``; arrays -> ``"a,b"``; others as they are."""
    if isinstance(value, dict):
        if "adcode" in value and len(value) == 1:
            return str(value["adcode"])
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (list, tuple, np.ndarray)):
        return ",".join(str(v.item() if hasattr(v, "item") else v) for v in value)
    return value


def _is_nested(s: pd.Series) -> bool:
    return s.dtype == object and any(isinstance(v, (dict, list, tuple, np.ndarray)) for v in s.head(1000))


def level_from_code(code: Any) -> str | None:
    """The level a Chinese administrative division code stands for, or None.

    Examples
    --------
    >>> level_from_code(330000), level_from_code("330600"), level_from_code(330602)
    ('province', 'prefecture', 'county')
    >>> level_from_code("330602001"), level_from_code("330602001000"), level_from_code("330602001201")
    ('township', 'township', 'village')
    """
    if code is None or (isinstance(code, float) and not np.isfinite(code)):
        return None
    text = str(code).strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit():
        return None
    if len(text) == 6:
        if text.endswith("0000"):
            return "province"
        return "prefecture" if text.endswith("00") else "county"
    if len(text) == 9:
        return "township"
    if len(text) == 12:
        return "township" if text.endswith("000") else "village"
    return None


def _column(raw: gpd.GeoDataFrame, names: tuple[str, ...]) -> str | None:
    """The first column of ``raw`` whose normalised header is one of ``names``."""
    wanted = {normalize_name(n) for n in names}
    return next((c for c in raw.columns if isinstance(c, str) and normalize_name(c) in wanted), None)


def prepare(raw: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Text]]:
    """A read boundaries file made ready for validation (see the module docstring).

    Parameters
    ----------
    raw : GeoDataFrame
        As :func:`layers.readers.read_vector` returns it.

    Returns
    -------
    raw : GeoDataFrame
        With nested values as text, and the name, parent and level columns added where the file
        gives them another way.
    notes : list of Text
        What was read how (a DataV file, levels told from codes or assumed).
    """
    attrs = dict(raw.attrs)
    raw = raw.copy()
    notes: list[Text] = []
    geom = raw.geometry.name
    for c in raw.columns:
        if c != geom and _is_nested(raw[c]):
            raw[c] = raw[c].map(_flat).astype(object)
    spec = get_spec("boundaries")
    columns = [c for c in raw.columns if c not in ("_row", geom)]
    found = set(spec.match_columns(columns).values())
    if "adcode" in raw.columns and sum(f in raw.columns for f in DATAV_FIELDS) >= 2:
        notes.append(Text("按 DataV 行政区文件读取：adcode 为区划代码，level 为层级（district 即县级），"
                          "parent 为上级代码",
                          "read as a DataV boundary file: adcode is the code, level the level (a district is a "
                          "county), parent the parent's code", "datav_boundaries"))
    if "name" not in found:
        present = [(lv, _column(raw, names)) for lv, names in NAME_COLUMNS.items()]
        present = [(lv, col) for lv, col in present if col is not None]
        if present:
            level, col = present[-1]
            raw["name"] = raw[col]
            if len(present) > 1 and "parent" not in found:
                raw["parent"] = raw[present[-2][1]]
            if "level" not in found:
                raw["level"] = level
                found.add("level")
            notes.append(Text(f"名称取自“{col}”列，按{spec.field('level').choice_label(level)}界读取",
                              f"names taken from column '{col}'; read as {level} boundaries", "boundary_names"))
    notes += _fill_levels(raw, spec, found)
    raw.attrs = attrs
    return raw, notes


def _fill_levels(raw: gpd.GeoDataFrame, spec, found: set[str]) -> list[Text]:
    """Fill missing levels from the codes, else take the rows as townships (in place); the notes."""
    mapping = spec.match_columns([c for c in raw.columns if c not in ("_row", raw.geometry.name)])
    by_canon = {v: k for k, v in mapping.items()}
    level_col = by_canon.get("level", "level")
    if level_col not in raw.columns:
        raw[level_col] = None
    raw[level_col] = raw[level_col].astype(object)
    empty = raw[level_col].isna() | (raw[level_col].astype(str).str.strip() == "")
    if not empty.any():
        return []
    notes: list[Text] = []
    code_col = by_canon.get("code")
    if code_col is not None:
        told = raw.loc[empty, code_col].map(level_from_code)
        raw.loc[told.dropna().index, level_col] = told.dropna()
        if told.notna().any():
            notes.append(Text(f"{int(told.notna().sum())} 个区界的层级由区划代码的位数判断",
                              f"the level of {int(told.notna().sum())} boundaries was told from their code",
                              "level_from_code"))
        empty = raw[level_col].isna()
    if empty.any():
        raw.loc[empty, level_col] = "township"
        notes.append(Text(f"{int(empty.sum())} 个区界没有层级，按乡镇界处理"
                          "（如不是，请在文件中加“层级”列：县级、乡镇级或村级）",
                          f"{int(empty.sum())} boundaries have no level and were taken as townships (if they are "
                          "not, add a 'level' column: county, township or village)", "level_assumed"))
    return notes


def locate(gdf: gpd.GeoDataFrame, outlines: gpd.GeoDataFrame, column: str = "township") -> pd.Series:
    """The area of ``outlines`` holding each feature of ``gdf`` (its representative point); None outside all.

    Parameters
    ----------
    gdf : GeoDataFrame
        Any geometry, any CRS.
    outlines : GeoDataFrame
        Polygons with the name in ``column``.

    Returns
    -------
    pandas.Series
        Indexed like ``gdf``, object dtype (a point in two overlapping outlines takes the first).
    """
    out = pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    if not len(gdf) or outlines is None or not len(outlines):
        return out
    ok = gdf.geometry.notna() & ~gdf.geometry.is_empty
    if not ok.any():
        return out
    g = gdf[ok]
    crs = g.crs or STORAGE_CRS
    pts = gpd.GeoSeries(g.geometry.representative_point().to_numpy(), crs=crs)
    areas = outlines.to_crs(crs) if outlines.crs is not None else outlines.set_crs(STORAGE_CRS).to_crs(crs)
    idx_pt, idx_area = areas.sindex.query(pts.to_numpy(), predicate="within")
    first = pd.Series(idx_area, index=idx_pt).groupby(level=0).first()
    names = areas[column].astype(str).to_numpy()
    pos = np.flatnonzero(ok.to_numpy())[first.index.to_numpy()]
    out.iloc[pos] = names[first.to_numpy()]
    return out
