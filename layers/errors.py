"""Domain exceptions for layer input, with every problem named in Chinese and English.

A reader or validator collects *all* problems in a file before raising once, so a user fixes
the file in one pass. Each :class:`Problem` names the file, the row (as the user sees it: the
Excel/CSV line number, or the feature number), the field, what is wrong and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


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
        parts = []
        if lang == "zh":
            if self.file:
                parts.append(f"文件 {self.file}")
            if self.row is not None:
                parts.append(f"第 {self.row} 行")
            if self.field:
                parts.append(f"字段“{self.field}”")
            return " ".join(parts)
        if self.file:
            parts.append(f"file {self.file}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def text(self, lang: str = "zh") -> str:
        """The problem as one line in ``lang`` ('zh' or 'en')."""
        where = self.where(lang)
        if lang == "zh":
            body = self.zh + (f"。处理：{self.fix_zh}" if self.fix_zh else "")
            return f"{where}：{body}" if where else body
        body = self.en + (f". Fix: {self.fix_en}" if self.fix_en else "")
        return f"{where}: {body}" if where else body


class LayerError(ValueError):
    """A file that cannot become a layer. Carries every :class:`Problem` found.

    The string form lists each problem in Chinese, then in English, so a command line user
    and a log reader both see the whole story.
    """

    max_listed = 50

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
            shown.append(f"……另有 {rest} 处问题" if lang == "zh" else f"... and {rest} more problems")
        return shown

    def render(self) -> str:
        """Bilingual multi-line message."""
        n = len(self.problems)
        head_zh = f"数据有 {n} 处问题，未导入任何内容：" if n > 1 else "数据有问题，未导入任何内容："
        head_en = f"{n} problems found; nothing was imported:" if n > 1 else "Problem found; nothing was imported:"
        return "\n".join([head_zh, *("  - " + s for s in self.lines("zh")), head_en,
                          *("  - " + s for s in self.lines("en"))])


class CRSError(LayerError):
    """The coordinate reference system of a file is missing, unknown or does not fit its coordinates."""


def problem(zh: str, en: str, fix_zh: str = "", fix_en: str = "", **where) -> Problem:
    """Shorthand constructor for :class:`Problem` (``file=``, ``row=``, ``field=`` as keywords)."""
    return Problem(zh, en, fix_zh, fix_en, **where)
