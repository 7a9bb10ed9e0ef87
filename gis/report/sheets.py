"""One Excel sheet written the same way in every workbook: a bold filled header, the rows, column widths fitted to
the text (CJK characters count double), number formats per column, a frozen header and an autofilter.

openpyxl is imported when a sheet is written (it is heavy, and a page that shows tables without writing a
workbook should not wait for it at start-up).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["write_sheet", "HEAD_FILL"]

#: background colour of the header row (RGB hex, as openpyxl takes it)
HEAD_FILL = "DDEBF7"


def _text_width(v: Any) -> int:
    s = "" if v is None else str(v)
    return sum(2 if ord(c) > 0x2E80 else 1 for c in s)


def _cell_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (pd.Timestamp, _dt.datetime, _dt.date)):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v if isinstance(v, (int, str)) else str(v)


def write_sheet(wb: Workbook, title: str, df: pd.DataFrame, keys: list[str], heads: list[str], *,
                number_format: Callable[[str], str | None], fill: str = HEAD_FILL,
                total_rows: Collection[int] = (), text_keys: Collection[str] = ()) -> None:
    """Append a sheet: bold filled header, the rows of ``df[keys]``, widths fitted, numbers formatted, filter.

    Parameters
    ----------
    wb : openpyxl.Workbook
    title : str
        Sheet name (cut to Excel's 31 characters).
    df : pandas.DataFrame
    keys : list of str
        Columns of ``df`` to write, in order.
    heads : list of str
        Their display headers.
    number_format : callable
        Column key -> Excel number format for its numbers (None: general).
    fill : str
        Header background colour (RGB hex).
    total_rows : collection of int
        Positional rows (0-based) written in bold (total lines).
    text_keys : collection of str
        Columns kept as text (phone numbers, codes with leading zeros).
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor=fill)
    ws = wb.create_sheet(title=title[:31])
    ws.append(heads)
    for cell in ws[1]:
        cell.font, cell.fill = bold, head_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=False)
    widths = [_text_width(h) for h in heads]
    for r, rec in enumerate(df[keys].itertuples(index=False, name=None)):
        values = [_cell_value(v) for v in rec]
        ws.append(values)
        for j, v in enumerate(values):
            widths[j] = max(widths[j], _text_width(v if not isinstance(v, float) else f"{v:,.1f}"))
        if r in total_rows:
            for cell in ws[ws.max_row]:
                cell.font = bold
    for j, key in enumerate(keys, start=1):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = min(60, max(6, widths[j - 1] + 2))
        fmt = "@" if key in text_keys else number_format(key)
        if fmt and ws.max_row > 1:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if fmt == "@" or isinstance(cell.value, (int, float)):
                    cell.number_format = fmt
    ws.freeze_panes = "A2"
    if keys:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{max(1, ws.max_row)}"
