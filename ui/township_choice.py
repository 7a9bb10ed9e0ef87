"""Choosing a township on a page: the whole area or one township, named from the boundaries layer.

:func:`choose_township` draws one select box (whole area first) and, under it, which outline the
townships come from (the boundaries layer, or the stand-in :mod:`gis.townships` used) and how many
features' own township field the boundaries overruled. A page passes the name on to its map
(:func:`township_focus` gives the outline to draw and zoom to), its tables and its files.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from layers.text import PARENS
from ui.i18n import lang, t
from ui.state import township_notes, workspace_layers, workspace_outlines


def _field_names(layers: dict) -> list[str]:
    """Township names written in the layers' own ``township`` fields."""
    names: set[str] = set()
    for g in layers.values():
        if g is not None and "township" in g:
            names.update(str(v) for v in g["township"].dropna().unique() if str(v).strip())
    return sorted(names)


def choose_township(*, key: str, counts: pd.Series | None = None, label: str | None = None) -> str | None:
    """A select box of the whole area and every township; returns the township chosen (None: whole area).

    Parameters
    ----------
    key : str
        Widget key (one per page).
    counts : pandas.Series, optional
        A figure per township shown beside its name (e.g. people to evacuate); townships are then
        listed largest first.
    label : str, optional
        Label of the box (default "乡镇 / Township").
    """
    names = workspace_outlines().names or _field_names(workspace_layers())
    if counts is not None and len(counts):
        counts = counts[[str(i) != "—" for i in counts.index]]
        ordered = [str(i) for i in counts.sort_values(ascending=False).index]
        names = ordered + [n for n in names if n not in ordered]
        shown = {str(k): v for k, v in counts.items()}
    else:
        shown = {}
    whole, lg = t("whole_area"), lang()
    choice = st.selectbox(label or t("choose_township"), [whole, *names], key=key,
                          format_func=lambda v: v + PARENS.format(s=f"{int(shown[v]):,}")(lg) if v in shown else v)
    township_caption(st)
    return None if choice == whole else choice


def township_caption(where=None) -> None:
    """Under a township choice: which outline the townships come from and how many features' own
    township field the boundaries overruled (``where``: a column or container, default the page)."""
    where = where if where is not None else st
    where.caption(workspace_outlines().note(lang()))
    for note in township_notes()[1:]:   # what counting features by the boundaries changed
        where.caption(note(lang()))


def township_focus(township: str | None) -> tuple[str, object] | None:
    """``(name, outline in EPSG:4490)`` of the chosen township for :func:`ui.map_view.build_map`, or None."""
    if township is None:
        return None
    geom = workspace_outlines().outline(township)
    return None if geom is None else (township, geom)
