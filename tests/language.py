"""One language at a time: what a page or a file says in English holds no Chinese outside the data's own values and
names, and what it says in Chinese holds no raw English key (``grids``, ``weight``, a snake_case column name).

Shared by the page tests (:func:`assert_page_speaks`, on an AppTest run) and the file tests (:func:`leaks`,
:func:`raw_keys`). The data values allowed in English are every text value of the workspace's layers (names of
villages, townships, shelters, roads, responsible persons...) and the workspace's own name (:func:`data_values`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
SNAKE = re.compile(r"[a-z]+(_[a-z0-9]+)+")


def data_values(folder: Path, extra: Iterable[str] = ()) -> list[str]:
    """Every text value of the workspace in ``folder`` that holds Chinese (and ``extra``), longest first."""
    from layers.workspace import Workspace

    ws = Workspace(folder)
    vals: set[str] = {"合计/Total", str(Path(folder).name), *map(str, extra)}
    for k in ws.vector_kinds():
        df = ws.vector(k)
        for c in df.columns:
            if c != "geometry" and not pd.api.types.is_numeric_dtype(df[c]):
                vals |= {str(v) for v in df[c].dropna().unique()}
    return sorted((v for v in vals if CJK.search(v)), key=len, reverse=True)


def leaks(texts: Iterable[Any], values: list[str]) -> list[str]:
    """The texts that still hold Chinese once every data value (``values``, longest first) is taken out."""
    out = []
    for s in map(str, texts):
        if not CJK.search(s):
            continue
        rest = s
        for v in values:
            if v in rest:
                rest = rest.replace(v, "")
        if CJK.search(rest):
            out.append(s)
    return out


@cache
def keys() -> frozenset[str]:
    """The codes that must never reach a Chinese reader as words: every key of the text and header registries,
    layer kinds, field names and choice codes."""
    from gis.fire.gaps import GAP_CLASSES
    from gis.fire.headers import HEADERS as FIRE_HEADERS
    from gis.fire.headers import SHEETS as FIRE_SHEETS
    from gis.fire.headers import WORDS as FIRE_WORDS
    from gis.fire.water_reach import REASONS
    from gis.flood.headers import HEADERS, SHEETS, WORDS
    from gis.ops import texts as ops
    from gis.report.ops_record import RECORD_HEADERS
    from gis.report.ops_sheets import HEADERS as OPS_HEADERS
    from layers.catalogue import SPECS
    from layers.schema import FIELD_TYPES
    from ui.i18n import STRINGS

    out: set[str] = set()
    for table in (STRINGS, FIRE_HEADERS, FIRE_SHEETS, FIRE_WORDS, GAP_CLASSES, REASONS, HEADERS, SHEETS, WORDS,
                  RECORD_HEADERS, OPS_HEADERS, FIELD_TYPES, ops.LEVEL_TEXT, ops.STATUS_TEXT, ops.ROLE_TEXT,
                  ops.KIND_TEXT, ops.ITEM_TEXT, ops.AREA_TEXT):
        out |= set(table)
    for spec in SPECS:
        out.add(spec.kind)
        for f in spec.fields:
            out.add(f.name)
            out |= set(f.choices or ())
    return frozenset(out - {"name", "type"})     # the same word in both languages' data


def raw_keys(texts: Iterable[Any]) -> list[str]:
    """The texts that are a code as a whole (:func:`keys`)."""
    return [s for s in map(str, texts) if s.strip() in keys()]


def page_texts(at, data_columns: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(the words of a page, the text cells of its tables) of an AppTest run: headers, captions, markdown, alerts,
    metric labels, widget labels, help texts and options, expanders, tabs, table columns (as labelled by a column
    config, with the option labels an editor shows) and index; the cells of ``data_columns`` are left out."""
    data_columns = set(data_columns)
    words: list[str] = []
    cells: list[str] = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success"):
        words += [str(e.value) for e in at.get(kind)]
    words += [m.label for m in at.metric]
    for kind in ("button", "checkbox", "toggle", "number_input", "text_input", "text_area", "radio", "selectbox",
                 "multiselect", "slider", "select_slider", "download_button", "date_input", "time_input"):
        for w in at.get(kind):
            words.append(w.label)
            if getattr(w, "help", None):
                words.append(w.help)
            if kind in ("radio", "selectbox", "multiselect", "select_slider"):
                words += [str(o) for o in w.options]
    words += [e.label for e in at.get("expander")] + [e.label for e in at.get("tab")]
    for d in at.dataframe:
        df = d.value
        config = json.loads(d.proto.columns or "{}")    # a column's label and option labels as shown, if set
        words += [str(n) for n in df.index.names if n is not None]
        cells += [i for i in df.index if isinstance(i, str)]
        for c in df.columns:
            conf = config.get(str(c)) or {}
            head = str(conf.get("label") or c)
            words.append(head)
            if head in data_columns:
                continue
            shown = {o.get("value"): o.get("label", o.get("value"))
                     for o in (conf.get("type_config") or {}).get("options", []) if isinstance(o, dict)}
            cells += [shown.get(v, v) for v in df[c].tolist() if isinstance(v, str)]
    return [w for w in words if w], cells


def assert_page_speaks(at, lang: str, values: list[str]) -> list[str]:
    """Assert that the page of an AppTest run speaks ``lang`` only; return its words.

    In English: no Chinese outside ``values`` (:func:`data_values`). In Chinese: no code of :func:`keys` as a
    word or a cell, and no snake_case word. The Data page's column of the headers a file may use for a field
    (accepted spellings, in both languages by nature) is data, and the language switch names the other language
    in its own words (中文 on an English page).
    """
    from ui.i18n import text

    words, cells = page_texts(at, data_columns=[text("aliases", lang)])
    assert words, "the page says nothing"
    if lang == "en":
        found = leaks(words + cells, [*values, text("lang_switch", "en")])
        assert not found, f"Chinese in the English page: {found[:10]}"
    else:
        found = raw_keys(words + cells) + [w for w in words if SNAKE.fullmatch(w.strip())]
        assert not found, f"raw keys in the Chinese page: {found[:10]}"
    return words
