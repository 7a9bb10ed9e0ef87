"""Reading the tables a report is made from: a :class:`gis.flood.plan.Plan` (or any object with the same
attributes) or a mapping of table name to frame, and yes/no cells read leniently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from layers.text import Text

__all__ = ["table_part", "truthy", "in_language"]


def table_part(tables: Any, name: str, default: Any = None) -> Any:
    """One table of a plan: attribute ``name`` of ``tables``, or key ``name`` of a mapping."""
    if isinstance(tables, Mapping):
        return tables.get(name, default)
    return getattr(tables, name, default)


def truthy(v: Any) -> bool:
    """A yes/no cell read leniently: booleans, 1/0, 'true'/'yes'/'是'; missing is False."""
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes", "y", "是")
    try:
        return bool(v) and not pd.isna(v)
    except (TypeError, ValueError):
        return False


def in_language(summary: Mapping[str, Any], key: str, lang: str = "zh") -> Any:
    """``summary[key]`` in ``lang``: its ``key + '_en'`` twin in English where there is one, else ``summary[key]``.

    A plan's summary names its scenario and method note in Chinese (``scenario``, ``method_note``) and,
    where it can, in English too (``scenario_en``, ``method_note_en``). None when neither is there.
    """
    zh = summary.get(key) or ""
    return Text(zh, summary.get(f"{key}_en") or zh)(lang) or None
