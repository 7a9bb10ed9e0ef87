"""Reading the tables a report is made from: a :class:`gis.flood.plan.Plan` (or any object with the same
attributes) or a mapping of table name to frame, and yes/no cells read leniently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["table_part", "truthy"]


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
