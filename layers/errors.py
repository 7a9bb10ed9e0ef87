"""Domain exceptions, with every problem named in Chinese and English.

Three kinds of failure, one base (:class:`GisError`, a ``ValueError``) that the app and the command
line catch to show a bilingual message (exit status 2) instead of a traceback:

- :class:`LayerError` (and :class:`CRSError`): an input file cannot become a layer; nothing was
  imported. A reader or validator collects *all* problems in a file before raising once, so a user
  fixes the file in one pass.
- :class:`AnalysisRefused`: an analysis refuses its inputs (a flood scenario that floods nothing of
  the county, a village with no grids); the inputs are fine as layers.
- :class:`StorageError`: the workspace could not be read or written (read-only medium, disk full,
  damaged file, lost database connection); the workspace is unchanged.
- :class:`EntryRefused`: an entry of the operations record (warning, acknowledgment, report-back,
  check-in) is refused (unknown warning, grid, contact or shelter; impossible count; duplicate);
  nothing was written.

Each :class:`Problem` names the file, the row (as the user sees it: the Excel/CSV line number, or
the feature number), the field, what is wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from layers.text import COLON, Text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file.

    Parameters
    ----------
    zh, en : str
        What is wrong, in Chinese and in English.
    fix_zh, fix_en : str
        What the user should do about it.
    file : str, optional
        File name (never a full server path).
    row : int or str, optional
        Row as the user sees it (spreadsheet line, CSV line or feature number).
    field : str, optional
        Column/field name as written in the file, or the layer's field name.
    """

    zh: str
    en: str
    fix_zh: str = ""
    fix_en: str = ""
    file: str | None = None
    row: int | str | None = None
    field: str | None = None

    def where(self, lang: str = "zh") -> str:
        """Location prefix such as ``文件 a.xlsx 第 3 行 字段“人口”``."""
        parts = [_FILE.format(f=self.file) if self.file else None,
                 _ROW.format(r=self.row) if self.row is not None else None,
                 _FIELD.format(f=self.field) if self.field else None]
        return _WHERE_SEP(lang).join(p(lang) for p in parts if p is not None)

    def text(self, lang: str = "zh") -> str:
        """The problem as one line in ``lang`` ('zh' or 'en')."""
        where = self.where(lang)
        fix = Text(self.fix_zh, self.fix_en)(lang)
        body = Text(self.zh, self.en)(lang) + (_FIX.format(f=fix)(lang) if fix else "")
        return f"{where}{COLON(lang)}{body}" if where else body


_FILE = Text("文件 {f}", "file {f}", "where_file")
_ROW = Text("第 {r} 行", "row {r}", "where_row")
_FIELD = Text("字段“{f}”", "field '{f}'", "where_field")
_WHERE_SEP = Text(" ", ", ", "where_sep")
_FIX = Text("。处理：{f}", ". Fix: {f}", "fix")
_MORE = Text("……另有 {n} 处问题", "... and {n} more problems", "more_problems")


class GisError(ValueError):
    """Something the user can act on. Carries every :class:`Problem` found.

    The string form lists each problem in Chinese, then in English, under a heading that says what
    happened (:attr:`heading`), so a command line user and a log reader both see the whole story.
    """

    max_listed = 50
    #: (zh one, zh many, en one, en many) heading of the message; ``{n}`` is the number of problems
    heading = ("出现问题：", "出现 {n} 处问题：", "Problem found:", "{n} problems found:")

    def __init__(self, problems: Iterable[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            raise ValueError("LayerError needs at least one problem")
        super().__init__(self.render())

    def lines(self, lang: str = "zh") -> list[str]:
        """Problems as lines in one language, truncated to :attr:`max_listed` with a count."""
        shown = [p.text(lang) for p in self.problems[: self.max_listed]]
        rest = len(self.problems) - len(shown)
        if rest > 0:
            shown.append(_MORE.format(n=rest)(lang))
        return shown

    def render(self) -> str:
        """Bilingual multi-line message."""
        n = len(self.problems)
        one_zh, many_zh, one_en, many_en = self.heading
        head_zh = many_zh.format(n=n) if n > 1 else one_zh
        head_en = many_en.format(n=n) if n > 1 else one_en
        return "\n".join([head_zh, *("  - " + s for s in self.lines("zh")), head_en,
                          *("  - " + s for s in self.lines("en"))])


class LayerError(GisError):
    """A file that cannot become a layer: nothing was imported."""

    heading = ("数据有问题，未导入任何内容：", "数据有 {n} 处问题，未导入任何内容：",
               "Problem found; nothing was imported:", "{n} problems found; nothing was imported:")


class AnalysisRefused(GisError):
    """An analysis refuses its inputs (they are valid layers, but cannot answer the question asked)."""

    heading = ("无法按此输入分析：", "无法按此输入分析（{n} 处问题）：", "The analysis cannot run on these inputs:",
               "The analysis cannot run on these inputs ({n} problems):")


class StorageError(GisError):
    """The workspace could not be read or written; it is left as it was.

    Parameters
    ----------
    problems : Problem or iterable of Problem
        What failed, in the workspace's own words (see :mod:`layers.storage`).
    heading : tuple of 4 str, optional
        A heading that says what was being done when it is not the workspace itself (an export
        file that could not be written), as (zh one, zh many, en one, en many).
    cause : str, optional
        A stable code of the cause (``read_only``, ``no_permission``, ``disk_full``, ``damaged``,
        ``lost_connection``, ``locked``, ``io``), for tests and other programs.
    """

    heading = ("工作空间读写失败，未做任何修改：", "工作空间读写失败（{n} 处问题），未做任何修改：",
               "The workspace could not be read or written; nothing was changed:",
               "The workspace could not be read or written ({n} problems); nothing was changed:")

    def __init__(self, problems: Iterable[Problem] | Problem, *, heading: tuple[str, str, str, str] | None = None,
                 cause: str = ""):
        if heading is not None:
            self.heading = heading
        self.cause = cause
        super().__init__(problems)


class EntryRefused(GisError):
    """An entry of the operations record (a report-back, a check-in, an acknowledgment...) is refused: an unknown
    warning, grid, contact or shelter, an impossible count, a duplicate; nothing was written."""

    heading = ("未记录，本次输入有问题：", "未记录，本次输入有 {n} 处问题：", "Nothing was recorded:",
               "Nothing was recorded ({n} problems):")


class OutsideError(LayerError):
    """Features lie far outside the workspace (or its county boundary): each is named with its row,
    and the file is imported only when the user confirms them (``allow_outside``)."""

    heading = ("有要素位于辖区之外，确认后才能导入：", "有 {n} 个要素位于辖区之外，确认后才能导入：",
               "A feature lies outside the area; it is imported only once confirmed:",
               "{n} features lie outside the area; they are imported only once confirmed:")


class CRSError(LayerError):
    """The coordinate reference system of a file is missing, unknown or does not fit its coordinates."""


def problem(zh: str, en: str, fix_zh: str = "", fix_en: str = "", **where) -> Problem:
    """Shorthand constructor for :class:`Problem` (``file=``, ``row=``, ``field=`` as keywords)."""
    return Problem(zh, en, fix_zh, fix_en, **where)
