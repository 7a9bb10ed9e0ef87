"""Validation: a raw table from a reader becomes a layer that fits its spec, or one LayerError.

Steps, all vectorised: match headers to canonical fields through the aliases; check that required
fields are present; coerce every value to its field's type (numbers written as text, full-width
digits, units after numbers, 是/否 booleans, Chinese choice spellings); check bounds; check and
repair geometries; check identifiers are unique. Every problem is collected (with file, row and
field) before raising once, so nothing is ever half-loaded.
"""

from __future__ import annotations

import re
import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from layers import units
from layers.errors import LayerError, Problem
from layers.schema import FieldSpec, LayerSpec, normalize_name
from layers.text import Text

#: at most this many problems are itemised per field; the rest are counted
MAX_ROWS_PER_FIELD = 20

#: yes/no words every bool field accepts; words that mean yes/no for one field only (季节性/常年) are in
#: that field's ``true_words``/``false_words`` in the catalogue
_TRUE = frozenset({"是", "有", "y", "yes", "true", "t", "1", "可", "能", "可以", "√", "✓", "对"})
_FALSE = frozenset({"否", "无", "n", "no", "false", "f", "0", "不", "不能", "不可", "不可以", "×", "✗", "没有"})
#: a number, then optionally a unit that starts with something other than a digit, dot, comma or sign
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s.,+\-].*?)?\s*$")
_GEOM_FAMILY = {"Point": "Point", "MultiPoint": "Point", "LineString": "LineString",
                "MultiLineString": "LineString", "LinearRing": "LineString", "Polygon": "Polygon",
                "MultiPolygon": "Polygon"}
_GEOM_ZH = {"Point": "点", "LineString": "线", "Polygon": "面"}


def _text(s: pd.Series, *, as_written: bool = False) -> pd.Series:
    """Values as stripped NFKC strings (``as_written``: exactly as written, only outer blanks
    stripped), with missing values as None."""
    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        t = (str(v) if as_written else unicodedata.normalize("NFKC", str(v))).strip()
        return t or None
    values = s.to_numpy(dtype=object)
    if any(isinstance(v, (bool, np.bool_)) for v in values):  # factorize would merge True with 1
        return pd.Series([one(v) for v in values], index=s.index, dtype=object)
    try:  # each distinct value once: a million rows of a few spellings cost a few conversions
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists from a GeoJSON property)
        return pd.Series([one(v) for v in values], index=s.index, dtype=object)
    table = np.array([one(v) for v in uniques] + [None], dtype=object)
    return pd.Series(table[codes], index=s.index, dtype=object)


def _normalized(txt: pd.Series) -> pd.Series:
    """:func:`normalize_name` of each text value (None kept), computed once per distinct value."""
    distinct = {v: normalize_name(v) for v in pd.unique(txt.dropna())}
    return txt.map(distinct, na_action="ignore").astype(object).where(txt.notna(), None)


def _problem(source: str, row: int | str | None, column: str, zh: str, en: str, fix_zh: str, fix_en: str) -> Problem:
    return Problem(zh, en, fix_zh, fix_en, file=source, row=row, field=column)


class _Collector:
    """Collects problems per field, itemising the first few rows and counting the rest."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def rows(self, rows: pd.Series, bad: np.ndarray, column: str, values: pd.Series | None, zh: str, en: str,
             fix_zh: str, fix_en: str) -> None:
        idx = np.flatnonzero(bad)
        for i in idx[:MAX_ROWS_PER_FIELD]:
            v = None if values is None else values.iloc[i]
            self.problems.append(_problem(self.source, rows.iloc[i], column, zh if v is None else f"{zh}（值：{v}）",
                                          en if v is None else f"{en} (value: {v})", fix_zh, fix_en))
        if len(idx) > MAX_ROWS_PER_FIELD:
            rest = len(idx) - MAX_ROWS_PER_FIELD
            self.problems.append(_problem(self.source, None, column, f"另有 {rest} 行同样的问题",
                                          f"{rest} more rows with the same problem", fix_zh, fix_en))

    def add(self, p: Problem) -> None:
        self.problems.append(p)


def _coerce_number(col: pd.Series, f: FieldSpec, column: str, rows: pd.Series, c: _Collector,
                   warnings: list[Text]) -> pd.Series:
    """Numbers of field ``f``: units after a number converted to the field's unit, bounds and whole numbers checked.

    Suffixes are looked up once per distinct spelling (:mod:`layers.units`); values written in
    another unit are reported once per field in ``warnings``.
    """
    txt = _text(col)
    present = txt.notna().to_numpy()
    unknown = np.zeros(len(col), bool)
    if pd.api.types.is_bool_dtype(col.dtype):  # a JSON true/false is not 1/0
        parsed = np.full(len(col), np.nan)
        bad = present.copy()
    elif pd.api.types.is_numeric_dtype(col.dtype):
        parsed = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        present = ~np.isnan(parsed)
        bad = np.zeros(len(col), bool)
    else:
        m = txt.fillna("").str.replace(",", "", regex=False).str.extract(_NUMBER)
        parsed = pd.to_numeric(m[0], errors="coerce").to_numpy(dtype=float)
        bad = present & np.isnan(parsed)
        parsed, unknown = _convert_units(parsed, m[1], f, column, rows, txt, c, warnings)
    label = f"{f.zh}" + (f"（{f.unit}）" if f.unit else "")
    fix_zh, fix_en = (Text("填写数字（可带单位），或留空", "write a number (a unit after it is fine) or leave it empty",
                           "fix_number_with_unit")
                      if f.unit else Text("填写数字，或留空", "write a number or leave it empty", "fix_number"))
    c.rows(rows, bad, column, txt, f"{label}不是数字", f"{f.en} is not a number", fix_zh, fix_en)
    bad = bad | unknown
    with np.errstate(invalid="ignore"):
        if f.minimum is not None:
            low = present & ~bad & (parsed < f.minimum)
            c.rows(rows, low, column, txt, f"{label}不能小于 {f.minimum:g}", f"{f.en} must be at least {f.minimum:g}",
                   "改正数值", "correct the value")
        if f.maximum is not None:
            high = present & ~bad & (parsed > f.maximum)
            c.rows(rows, high, column, txt, f"{label}不能大于 {f.maximum:g}", f"{f.en} must be at most {f.maximum:g}",
                   "改正数值（注意单位）", "correct the value (check the unit)")
        if f.type == "int":
            frac = present & ~bad & ~np.isnan(parsed) & (np.abs(parsed - np.round(parsed)) > 1e-9)
            c.rows(rows, frac, column, txt, f"{label}应为整数", f"{f.en} must be a whole number",
                   "填写整数", "write a whole number")
            ints = pd.array(np.where(np.isnan(parsed), np.nan, np.round(parsed)), dtype="Float64").astype("Int64")
            return pd.Series(ints, index=col.index)
    return pd.Series(parsed, index=col.index, dtype="float64")


def _convert_units(parsed: np.ndarray, suffix: pd.Series, f: FieldSpec, column: str, rows: pd.Series,
                   txt: pd.Series, c: _Collector, warnings: list[Text]) -> tuple[np.ndarray, np.ndarray]:
    """Apply the unit written after each number; returns converted values and the rows whose unit is unknown."""
    codes, uniques = pd.factorize(suffix, use_na_sentinel=True)  # each distinct suffix looked up once
    if len(uniques) == 0:
        return parsed, np.zeros(len(parsed), bool)
    meanings = [units.lookup(f.unit, s) for s in uniques]
    factors = np.array([u.factor if u else np.nan for u in meanings] + [1.0])  # code -1 (no unit) -> 1
    factor = factors[codes]
    unknown = (codes >= 0) & np.isnan(factor)
    scaled = factor != 1.0
    out = parsed.copy()
    out[scaled] = np.round(parsed[scaled] * factor[scaled], 6)  # 0.035 km is 35 m, not 35.00000000000001
    idx = np.flatnonzero(unknown)
    if len(idx):
        if f.unit:
            fix_zh = f"本字段单位为{units.unit_name(f.unit)}，可写：{f.unit_hint('、')}，或只写数字"
            fix_en = f"the unit is {units.unit_name(f.unit, 'en')}; write e.g. {f.unit_hint()}, or just the number"
        else:
            fix_zh, fix_en = Text("本字段只填数字，不带单位", "write a bare number, without a unit", "fix_bare_number")
        label = f"{f.zh}" + (f"（{f.unit}）" if f.unit else "")
        for i in idx[:MAX_ROWS_PER_FIELD]:
            sfx, v = uniques[codes[i]], txt.iloc[i]
            c.add(_problem(c.source, rows.iloc[i], column, f"{label}的单位“{sfx}”无法识别（值：{v}）",
                           f"unit '{sfx}' not understood for {f.en} (value: {v})", fix_zh, fix_en))
        if len(idx) > MAX_ROWS_PER_FIELD:
            rest = len(idx) - MAX_ROWS_PER_FIELD
            c.add(_problem(c.source, None, column, f"另有 {rest} 行同样的问题",
                           f"{rest} more rows with the same problem", fix_zh, fix_en))
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    other: dict[tuple[str, str], int] = {}
    for u, n in zip(meanings, counts):
        if u is not None and n and not units.is_own(f.unit, u):
            other[(u.zh, u.en)] = other.get((u.zh, u.en), 0) + int(n)
    if other:
        n = sum(other.values())
        name_en = f"'{column}'" if column == f.en else f"'{column}' ({f.en})"
        warnings.append(Text(f"“{column}”列有 {n} 个数值的单位为{'、'.join(zh for zh, _ in other)}，"
                             f"已换算为{units.unit_name(f.unit)}",
                             f"{n} value{'s' if n != 1 else ''} of {name_en} {'were' if n != 1 else 'was'} in "
                             f"{', '.join(en for _, en in other)} and {'were' if n != 1 else 'was'} converted "
                             f"to {units.unit_name(f.unit, 'en')}", "units_converted"))
    return out, unknown


def _bool_words(f: FieldSpec) -> tuple[frozenset[str], frozenset[str]]:
    """Normalised yes and no words of a bool field: the neutral ones plus the field's own."""
    own_true = {normalize_name(w) for w in f.true_words}
    own_false = {normalize_name(w) for w in f.false_words}
    return frozenset((_TRUE - own_false) | own_true), frozenset((_FALSE - own_true) | own_false)


def _coerce_bool(col: pd.Series, f: FieldSpec, column: str, rows: pd.Series, c: _Collector) -> pd.Series:
    txt = _text(col)
    norm = _normalized(txt)
    true, false = _bool_words(f)
    out = pd.Series(pd.NA, index=col.index, dtype="boolean")
    out[norm.isin(true)] = True
    out[norm.isin(false)] = False
    bad = (norm.notna() & out.isna()).to_numpy()
    if f.true_words or f.false_words:
        fix_zh = (f"可填：{'、'.join(f.true_words[:4])}（是）；{'、'.join(f.false_words[:4])}（否）；"
                  f"或 是/否、1/0")
        en_true = [w for w in f.true_words if w.isascii()][:3]
        en_false = [w for w in f.false_words if w.isascii()][:3]
        fix_en = (f"write {', '.join(en_true)} / {', '.join(en_false)}, or yes/no (1/0)" if en_true and en_false
                  else "write yes/no (or 1/0)")
    else:
        fix_zh, fix_en = Text("填写 是/否（或 1/0）", "write yes/no (or 1/0)", "fix_yes_no")
    c.rows(rows, bad, column, txt, f"{f.zh}应为“是/否”", f"{f.en} must be yes/no", fix_zh, fix_en)
    return out


def _coerce_choice(col: pd.Series, f: FieldSpec, column: str, rows: pd.Series, c: _Collector,
                   warnings: list[Text]) -> pd.Series:
    txt = _text(col)
    lookup = f.choice_lookup()
    norm = _normalized(txt)
    out = norm.map(lambda v: None if v is None else lookup.get(v)).astype(object)
    unknown = (norm.notna() & out.isna()).to_numpy()
    if unknown.any() and f.choices and "other" in f.choices and not f.required:
        out[unknown] = "other"
        vals = sorted(set(txt[unknown]))[:5]
        warnings.append(Text(f"字段“{column}”有 {unknown.sum()} 个未识别的值（如 {'、'.join(vals)}），已记为“其他”",
                             f"field '{column}': {unknown.sum()} unrecognised values (e.g. {', '.join(vals)}) "
                             "set to 'other'", "unknown_values_other"))
    else:
        accepted = "、".join(v[0] for v in (f.choices or {}).values())
        c.rows(rows, unknown, column, txt, f"{f.zh}的值无法识别", f"{f.en} value not recognised",
               f"可用的值：{accepted}", f"use one of: {', '.join(f.choices or {})}")
    return out


def _written_otherwise(col: pd.Series, codes: pd.Series, f: FieldSpec) -> pd.Series | None:
    """The values as written when some were neither their code nor its display label (``service`` taken as
    ``village``), else None: a file written by this program (codes or labels) gains no column."""
    written = _text(col)
    own = {code: {normalize_name(code), normalize_name(f.choice_label(code, "zh")),
                  normalize_name(f.choice_label(code, "en"))} for code in (f.choices or {})}
    norm = _normalized(written)
    other = [w is not None and c is not None and n not in own.get(c, ()) for w, c, n in
             zip(written, codes.astype(object), norm)]
    return written if any(other) else None


def _coerce_str(col: pd.Series) -> pd.Series:
    """Text fields (names, persons, phones...) are kept as written, full-width punctuation and all
    (``城关小学（东）`` stays ``城关小学（东）``); only blanks around the value go."""
    return _text(col, as_written=True)


def _check_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, rows: pd.Series, c: _Collector,
                    warnings: list[Text]) -> gpd.GeoSeries:
    geom = gdf.geometry
    allowed = [g for g in spec.geometry if g != "raster"]
    want_zh = "或".join(_GEOM_ZH[g] for g in allowed)
    missing = (geom.isna() | geom.is_empty).to_numpy()
    c.rows(rows, missing, "geometry", None, "缺少几何（坐标）", "geometry (coordinates) missing",
           "补上坐标或图形", "add the coordinates or shape")
    types = geom.geom_type.map(_GEOM_FAMILY)
    wrong = (~missing) & ~types.isin(allowed).to_numpy()
    if wrong.sum() > 1 and wrong.sum() == (~missing).sum():   # the whole file: one problem, not one per row
        found = "、".join(sorted({_GEOM_ZH.get(_GEOM_FAMILY.get(t, ""), t) for t in geom.geom_type[wrong]}))
        found_en = ", ".join(sorted({_GEOM_FAMILY.get(t, t) for t in geom.geom_type[wrong]}))
        c.add(Problem(f"全部 {int(wrong.sum())} 个要素都是{found}，本图层应为{want_zh}",
                      f"all {int(wrong.sum())} features are {found_en}; this layer takes {' or '.join(allowed)}",
                      "检查是否选错了图层类型或文件（如把点位表当成了网格面）",
                      "check that the right layer kind and file were chosen (e.g. a point table given as grid "
                      "polygons)", file=c.source, field="geometry"))
    else:
        c.rows(rows, wrong, "geometry", geom.geom_type.fillna(""), f"几何类型不对，本图层应为{want_zh}",
               f"wrong geometry type; this layer takes {' or '.join(allowed)}",
               "检查是否选错了图层类型", "check that the right layer kind was chosen")
    ok = ~missing & ~wrong
    arr = geom.to_numpy().copy()
    if ok.any():
        coords, owner = shapely.get_coordinates(arr[ok], return_index=True)
        nonfinite_local = np.unique(owner[~np.isfinite(coords).all(axis=1)])
        nonfinite = _expand(np.ones(len(nonfinite_local), bool), np.flatnonzero(ok)[nonfinite_local], len(arr))
        c.rows(rows, nonfinite, "geometry", None, "坐标含有非数值（NaN 或无穷大）",
               "coordinates contain NaN or infinity", "改正该要素的坐标", "correct the coordinates of this feature")
        ok &= ~nonfinite
        invalid = ok & ~shapely.is_valid(arr)
        if invalid.any():
            idx = np.flatnonzero(invalid)
            families = types.to_numpy()[idx]
            fixed = np.array([_keep_family(g, fam) for g, fam in zip(shapely.make_valid(arr[idx]), families)],
                             dtype=object)
            bad_fix = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
            arr[idx] = fixed
            c.rows(rows, _expand(bad_fix, idx, len(arr)), "geometry", None,
                   "几何图形无效且无法自动修复", "invalid geometry that could not be repaired",
                   "在 GIS 软件中修复该图形", "repair this shape in a GIS program")
            n_fixed = int((~bad_fix).sum())
            if n_fixed:
                warnings.append(Text(f"{n_fixed} 个无效图形（如自相交）已自动修复",
                                     f"{n_fixed} invalid geometries (e.g. self-intersections) were repaired",
                                     "geometries_repaired"))
    return gpd.GeoSeries(arr, index=gdf.index, crs=gdf.crs)


def _keep_family(g: BaseGeometry | None, family: str) -> BaseGeometry | None:
    """Keep only the parts of ``g`` of ``family`` (make_valid may return collections)."""
    if g is None or g.is_empty or _GEOM_FAMILY.get(g.geom_type) == family:
        return g
    parts = [p for p in shapely.get_parts(g) if _GEOM_FAMILY.get(p.geom_type) == family]
    if not parts:
        return shapely.Polygon() if family == "Polygon" else shapely.LineString()
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def _expand(mask: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, bool)
    out[idx[mask]] = True
    return out


def validate(raw: gpd.GeoDataFrame, spec: LayerSpec, *, source: str | None = None
             ) -> tuple[gpd.GeoDataFrame, list[Text]]:
    """Turn a reader's raw table into a layer that fits ``spec``.

    Parameters
    ----------
    raw : GeoDataFrame
        As returned by :func:`layers.readers.read_vector`: the file's own headers, a ``_row``
        column with user-visible row labels, a CRS.
    spec : LayerSpec
        The layer kind it should become.
    source : str, optional
        File name used in messages (default ``raw.attrs['source']``).

    Returns
    -------
    gdf : GeoDataFrame
        Canonical field names (in spec order) then the file's other columns, repaired
        geometries, same CRS as ``raw``.
    warnings : list of Text
        Things fixed or assumed on the way (repaired geometries, unrecognised choice values).

    Raises
    ------
    LayerError
        Listing every problem found; nothing is returned partially.
    """
    source = source or raw.attrs.get("source", "")
    warnings: list[Text] = list(raw.attrs.get("warnings", []))
    c = _Collector(source)
    rows = raw["_row"] if "_row" in raw.columns else pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    geom_name = raw.geometry.name
    columns = [col for col in raw.columns if col not in ("_row", geom_name)]
    mapping = spec.match_columns(columns)
    by_canon = {v: k for k, v in mapping.items()}

    if len(raw) == 0:
        c.add(Problem("文件中没有任何要素", "the file has no features", "检查文件内容或选择的图层",
                      "check the file or the layer chosen inside it", file=source))
    for f in spec.required:
        if f.name not in by_canon:
            names = "、".join(dict.fromkeys((f.zh, *f.aliases[:5])))
            c.add(Problem(f"缺少必填字段“{f.zh}”", f"required field '{f.en}' is missing",
                          f"添加一列，列名可用：{names}", f"add a column named e.g. {f.name} / {f.en}",
                          file=source, field=f.zh))

    out = {}
    for f in spec.fields:
        column = by_canon.get(f.name)
        if column is None:
            continue
        col = raw[column]
        if f.type in ("int", "float"):
            val = _coerce_number(col, f, column, rows, c, warnings)
        elif f.type == "bool":
            val = _coerce_bool(col, f, column, rows, c)
        elif f.type == "choice":
            val = _coerce_choice(col, f, column, rows, c, warnings)
            if f.keep_raw and f.keep_raw not in by_canon:
                written = _written_otherwise(col, val, f)
                if written is not None:
                    out[f.keep_raw] = written
        else:
            val = _coerce_str(col)
        if f.required:
            empty = _text(col).isna().to_numpy()
            c.rows(rows, empty, column, None, f"必填字段“{f.zh}”为空",
                   f"required field '{f.en}' is empty", "填写该值", "fill in the value")
        out[f.name] = val
    out = {f.name: out[f.name] for f in spec.fields if f.name in out}   # spec order (kept raw values too)

    if spec.id_field and spec.id_field in out:
        ids = out[spec.id_field]
        dup = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
        c.rows(rows, dup, by_canon[spec.id_field], ids, "编号重复", "duplicate identifier",
               "每个要素使用唯一编号", "give every feature its own identifier")

    geometry = _check_geometry(raw, spec, rows, c, warnings)
    if c.problems:
        raise LayerError(c.problems)

    data = pd.DataFrame({k: (v.values if isinstance(v, pd.Series) else v) for k, v in out.items()},
                        index=raw.index)
    if spec.id_field and spec.id_field not in data:   # one rule: the feature's number in the file
        data.insert(0, spec.id_field, [spec.make_id(n) for n in range(1, len(data) + 1)])
    extras = [col for col in columns if col not in mapping and col not in data.columns]
    for col in extras:
        data[col] = raw[col].values
    gdf = gpd.GeoDataFrame(data.reset_index(drop=True), geometry=geometry.reset_index(drop=True).values,
                           crs=raw.crs)
    gdf.attrs["source"] = source
    gdf.attrs["generated_ids"] = bool(spec.id_field and spec.id_field not in out)  # made from feature numbers
    return gdf, warnings
