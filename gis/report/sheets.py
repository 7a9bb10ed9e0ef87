"""One Excel sheet written the same way in every workbook: a bold filled header, the rows, column widths fitted to
the text (CJK characters count double), number formats per column, a frozen header and an autofilter.

openpyxl is imported when a sheet is written (it is heavy, and a page that shows tables without writing a
workbook should not wait for it at start-up). A workbook made with :func:`new_workbook` ``(streamed=True)``
(openpyxl's write-only mode) writes each row as it comes, several times faster for sheets of thousands of
rows; the sheet reads back the same (values, styles, widths, frozen header, filter, page setup). In that mode
nothing can be changed on a sheet once its rows are written: give column caps (``max_widths``) and the
page setup (``setup``) to :func:`write_sheet`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["write_sheet", "new_workbook", "HEAD_FILL"]

#: background colour of the header row (RGB hex, as openpyxl takes it)
HEAD_FILL = "DDEBF7"
#: cell values a reused styled cell of a streamed sheet takes without changing its style (a date would set one)
_PLAIN = (str, int, float, type(None))


def new_workbook(*, streamed: bool = False) -> Workbook:
    """An empty openpyxl workbook (no default sheet) for :func:`write_sheet`.

    Parameters
    ----------
    streamed : bool
        openpyxl's write-only mode: rows go to the file as they are written (several times faster for
        big sheets); sheets cannot be changed after :func:`write_sheet` and are saved once.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=streamed)
    if not streamed:
        wb.remove(wb.active)
    return wb


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


def _widths(heads: list[str], rows: list[list[Any]]) -> list[int]:
    """The widest text of each column (a number as ``1,234.5``), header included."""
    widths = [_text_width(h) for h in heads]
    for j in range(len(heads)):
        seen: set = set()
        w = widths[j]
        for rec in rows:
            v = rec[j]
            if v.__class__ is float:
                v = f"{v:,.1f}"
            key = (v.__class__, v)          # True and 1 are equal keys but read "True" and "1"
            if key in seen:
                continue
            seen.add(key)
            w = max(w, _text_width(v))
        widths[j] = w
    return widths


def write_sheet(wb: Workbook, title: str, df: pd.DataFrame, keys: list[str], heads: list[str], *,
                number_format: Callable[[str], str | None], fill: str = HEAD_FILL,
                total_rows: Collection[int] = (), text_keys: Collection[str] = (),
                max_widths: Mapping[str, float] | None = None, setup: Callable[[Any], None] | None = None) -> Any:
    """Append a sheet: bold filled header, the rows of ``df[keys]``, widths fitted, numbers formatted, filter.

    Parameters
    ----------
    wb : openpyxl.Workbook
        Normal or write-only (:func:`new_workbook`); the sheet is the same.
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
    max_widths : mapping, optional
        Column key -> the most width that column takes (a long text column wraps in print).
    setup : callable, optional
        Called with the sheet before its rows are written (page setup: :func:`gis.report.ops_sheets.a4_setup`).

    Returns
    -------
    openpyxl worksheet
        The sheet (of a write-only workbook: nothing more can be changed on it).
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    rows = [[_cell_value(v) for v in rec] for rec in df[keys].itertuples(index=False, name=None)]
    widths = _widths(heads, rows)
    formats: list[str | None] = (["@" if key in text_keys else number_format(key) for key in keys] if rows
                                 else [None] * len(keys))
    ws = wb.create_sheet(title=title[:31])
    for j, key in enumerate(keys, start=1):
        width: float = min(60, max(6, widths[j - 1] + 2))
        if max_widths and key in max_widths:
            width = min(width, max_widths[key])
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "A2"
    if keys:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{len(rows) + 1}"
    if setup is not None:
        setup(ws)
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor=fill)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=False)
    if getattr(wb, "write_only", False):
        _stream_rows(ws, heads, rows, formats, set(total_rows), bold=bold, head_fill=head_fill, centre=centre)
    else:
        _append_rows(ws, heads, rows, formats, set(total_rows), bold=bold, head_fill=head_fill, centre=centre)
    return ws


def _numbered(fmt: str | None, v: Any) -> bool:
    """Whether a cell of ``v`` in a column of format ``fmt`` takes it (text columns: every cell)."""
    return bool(fmt) and (fmt == "@" or isinstance(v, (int, float)))


def _append_rows(ws: Any, heads: list[str], rows: list[list[Any]], formats: list[str | None], total_rows: set[int],
                 *, bold: Any, head_fill: Any, centre: Any) -> None:
    ws.append(heads)
    for cell in ws[1]:
        cell.font, cell.fill, cell.alignment = bold, head_fill, centre
    for r, values in enumerate(rows):
        ws.append(values)
        if r in total_rows:
            for cell in ws[ws.max_row]:
                cell.font = bold
    for j, fmt in enumerate(formats, start=1):
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if _numbered(fmt, cell.value):
                    cell.number_format = fmt


def _stream_rows(ws: Any, heads: list[str], rows: list[list[Any]], formats: list[str | None], total_rows: set[int],
                 *, bold: Any, head_fill: Any, centre: Any) -> None:
    """The rows of a write-only sheet: a styled cell where the normal sheet has a style, plain values elsewhere.
    One styled cell per column and style is reused row after row (openpyxl writes a row when it is appended)."""
    from openpyxl.cell import WriteOnlyCell

    def styled(j: int, total: bool, numbered: bool, value: Any = None) -> Any:
        c = WriteOnlyCell(ws, value=value)
        if total:
            c.font = bold
        if numbered:
            c.number_format = formats[j]
        return c

    head = []
    for h in heads:
        c = WriteOnlyCell(ws, value=h)
        c.font, c.fill, c.alignment = bold, head_fill, centre
        head.append(c)
    ws.append(head)
    kept: dict[tuple[int, bool, bool], Any] = {}
    for r, values in enumerate(rows):
        total = r in total_rows
        out: list[Any] = []
        for j, v in enumerate(values):
            numbered = _numbered(formats[j], v)
            if not (total or numbered):
                out.append(v)
            elif isinstance(v, _PLAIN):
                c = kept.get((j, total, numbered))
                if c is None:
                    c = kept[(j, total, numbered)] = styled(j, total, numbered)
                c.value = v
                out.append(c)
            else:                          # a date sets its own format: a cell of its own, formatted after it
                out.append(styled(j, total, numbered, v))
        ws.append(out)
