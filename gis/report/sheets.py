"""One Excel sheet written the same way in every workbook: a bold filled header, the rows, column widths fitted to
the text (CJK characters count double), number formats per column, a frozen header and an autofilter.

Two writers, one sheet. A normal workbook (:func:`new_workbook`) is an openpyxl workbook: sheets can still be
changed after they are written, and openpyxl reads workbooks back. A workbook made with
:func:`new_workbook` ``(streamed=True)`` is written by XlsxWriter in its constant-memory mode: each row goes to
the file as it comes, about three times less CPU than openpyxl's own write-only mode for the operations' sheets
of thousands of rows (``bench/RESULTS.md``, the dispatch command by phase). The sheet reads back the same
(values, number formats, bold rows, header style, widths, frozen header, filter, A4 page setup;
``tests/test_ops_sheets.py``). In that mode nothing can be changed on a sheet once its rows are written: give
column caps (``max_widths``) and the page setup (``page``) to :func:`write_sheet`.

Both libraries are imported when a sheet is written (a page that shows tables without writing a workbook should
not wait for them at start-up).
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["write_sheet", "new_workbook", "HEAD_FILL", "Page", "StreamedWorkbook"]

#: background colour of the header row (RGB hex, as openpyxl takes it)
HEAD_FILL = "DDEBF7"
#: number formats a date and a date-time cell take (openpyxl's own defaults, so both writers agree)
DATE_FORMAT, DATETIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd h:mm:ss"
#: Excel's A4 paper size code
A4_PAPER = 9


@dataclass(frozen=True)
class Page:
    """How a sheet prints: A4, fitted to the page width, the header row repeated on every page, ``title`` in the
    page header, page numbers in the footer, grid lines printed.

    Parameters
    ----------
    title : str
        The page header's text.
    landscape : bool
        Landscape (default) or portrait.
    """

    title: str = ""
    landscape: bool = True

    def apply(self, ws: Any) -> None:
        """Set an openpyxl sheet up for this page."""
        ws.page_setup.paperSize = A4_PAPER
        ws.page_setup.orientation = "landscape" if self.landscape else "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "1:1"
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = ws.page_margins.bottom = 0.6
        ws.oddHeader.center.text = self.title
        ws.oddFooter.center.text = "&P / &N"
        ws.print_options.gridLines = True

    def apply_streamed(self, ws: Any) -> None:
        """Set an XlsxWriter sheet up for this page (the same settings as :meth:`apply`)."""
        ws.set_paper(A4_PAPER)
        if self.landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        if self.title:
            ws.set_header("&C" + self.title.replace("&", "&&"))
        ws.set_footer("&C&P / &N")
        ws.hide_gridlines(0)          # 0: grid lines shown on screen and printed


class StreamedWorkbook:
    """A workbook whose sheets are written row by row straight to the file (XlsxWriter, constant memory).

    Made by :func:`new_workbook` ``(streamed=True)``; filled by :func:`write_sheet`; :meth:`save` writes it once.
    """

    def __init__(self) -> None:
        import xlsxwriter

        self._buf = io.BytesIO()
        self.book = xlsxwriter.Workbook(self._buf, {"constant_memory": True, "strings_to_numbers": False,
                                                     "strings_to_formulas": False, "strings_to_urls": False})
        self._formats: dict[tuple, Any] = {}
        self._saved = False

    def format(self, *, bold: bool = False, num: str | None = None, head: str | None = None) -> Any:
        """The workbook's cell format of that style (made once)."""
        key = (bold, num, head)
        f = self._formats.get(key)
        if f is None:
            props: dict[str, Any] = {}
            if bold:
                props["bold"] = True
            if num:
                props["num_format"] = num
            if head:
                props.update(bg_color="#" + head, pattern=1, align="center", valign="vcenter")
            f = self._formats[key] = self.book.add_format(props)
        return f

    def save(self, out: str | IO[bytes]) -> None:
        """Write the workbook to ``out`` (a path or a binary file); a workbook is saved once."""
        if not self._saved:
            self.book.close()
            self._saved = True
        data = self._buf.getvalue()
        if isinstance(out, str):
            with open(out, "wb") as fh:
                fh.write(data)
        else:
            out.write(data)


def new_workbook(*, streamed: bool = False) -> Workbook | StreamedWorkbook:
    """An empty workbook (no default sheet) for :func:`write_sheet`.

    Parameters
    ----------
    streamed : bool
        Rows go to the file as they are written (:class:`StreamedWorkbook`, several times faster for big
        sheets); sheets cannot be changed after :func:`write_sheet` and the workbook is saved once. Otherwise
        an openpyxl workbook.
    """
    if streamed:
        return StreamedWorkbook()
    from openpyxl import Workbook

    wb = Workbook()
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


def write_sheet(wb: Workbook | StreamedWorkbook, title: str, df: pd.DataFrame, keys: list[str], heads: list[str], *,
                number_format: Callable[[str], str | None], fill: str = HEAD_FILL,
                total_rows: Collection[int] = (), text_keys: Collection[str] = (),
                max_widths: Mapping[str, float] | None = None, page: Page | None = None) -> Any:
    """Append a sheet: bold filled header, the rows of ``df[keys]``, widths fitted, numbers formatted, filter.

    Parameters
    ----------
    wb : openpyxl.Workbook or StreamedWorkbook
        From :func:`new_workbook`; the sheet is the same.
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
    page : Page, optional
        How the sheet prints (A4 set-up); None: Excel's defaults.

    Returns
    -------
    worksheet
        The openpyxl or XlsxWriter sheet (of a streamed workbook: nothing more can be changed on it).
    """
    rows = [[_cell_value(v) for v in rec] for rec in df[keys].itertuples(index=False, name=None)]
    widths = _widths(heads, rows)
    formats: list[str | None] = (["@" if key in text_keys else number_format(key) for key in keys] if rows
                                 else [None] * len(keys))
    col_widths: list[float] = []
    for j, key in enumerate(keys):
        width: float = min(60, max(6, widths[j] + 2))
        if max_widths and key in max_widths:
            width = min(width, max_widths[key])
        col_widths.append(width)
    if isinstance(wb, StreamedWorkbook):
        return _stream_sheet(wb, title[:31], heads, rows, formats, set(total_rows), col_widths, fill=fill, page=page)
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title=title[:31])
    for j, width in enumerate(col_widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "A2"
    if keys:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{len(rows) + 1}"
    if page is not None:
        page.apply(ws)
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="FF" + fill)   # opaque, as XlsxWriter writes it
    centre = Alignment(horizontal="center", vertical="center", wrap_text=False)
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
    return ws


def _numbered(fmt: str | None, v: Any) -> bool:
    """Whether a cell of ``v`` in a column of format ``fmt`` takes it (text columns: every cell)."""
    return bool(fmt) and (fmt == "@" or isinstance(v, (int, float)))


def _stream_sheet(wb: StreamedWorkbook, title: str, heads: list[str], rows: list[list[Any]],
                  formats: list[str | None], total_rows: set[int], widths: list[float], *, fill: str,
                  page: Page | None) -> Any:
    """The sheet of a streamed workbook, row by row, styled where :func:`write_sheet`'s openpyxl sheet is."""
    ws = wb.book.add_worksheet(title)
    for j, width in enumerate(widths):
        ws.set_column(j, j, width)
    ws.freeze_panes(1, 0)
    if heads:
        ws.autofilter(0, 0, len(rows), len(heads) - 1)
    if page is not None:
        page.apply_streamed(ws)
    else:                                 # openpyxl's default margins, which a normal sheet keeps
        ws.set_margins(left=0.75, right=0.75, top=1.0, bottom=1.0)
    head = wb.format(bold=True, head=fill)
    for j, h in enumerate(heads):
        ws.write_string(0, j, h, head)
    when = {(b, d): wb.format(bold=b, num=DATETIME_FORMAT if d else DATE_FORMAT) for b in (False, True)
            for d in (False, True)}
    # per row kind (normal, total) and column: the style of a number (its format) and of anything else (text
    # columns keep "@" for every cell; elsewhere only the total row's bold)
    numbered = [[wb.format(bold=b, num=fmt) if (b or fmt) else None for fmt in formats] for b in (False, True)]
    other = [[wb.format(bold=b, num="@") if fmt == "@" else (wb.format(bold=True) if b else None) for fmt in formats]
             for b in (False, True)]
    write_string, write_number, write_blank = ws.write_string, ws.write_number, ws.write_blank
    for r, values in enumerate(rows, start=1):
        bold = (r - 1) in total_rows
        nums, others = numbered[bold], other[bold]
        for j, v in enumerate(values):
            cls = v.__class__
            if cls is str and v:
                write_string(r, j, v, others[j])
            elif cls is float or cls is int:
                write_number(r, j, v, nums[j])
            elif v is None or cls is str:            # XlsxWriter writes an empty text as a blank cell
                if others[j] is not None:
                    write_blank(r, j, None, others[j])
            elif cls is bool:
                ws.write_boolean(r, j, v, nums[j])
            elif isinstance(v, _dt.datetime):
                ws.write_datetime(r, j, v.replace(tzinfo=None), when[(bold, True)])
            elif isinstance(v, _dt.date):
                ws.write_datetime(r, j, v, when[(bold, False)])
            else:
                write_string(r, j, str(v), others[j])
    return ws
