"""Text for people, in Chinese and English, as one model used by every module, page, file and command.

A :class:`Text` is one sentence in both languages, optionally with a stable ``code`` (what a test or
another program keys on). It *is* a ``(zh, en)`` tuple, so code that unpacks a note as
``zh, en = note`` keeps working, and two texts are equal when their words are. A page, a file writer
or the command line asks for the words in its language with ``text(lang)`` (or :func:`pick`, which
also takes plain strings and older ``(zh, en)`` tuples); nobody writes ``0 if lang == "zh" else 1``.
This module is the one place that looks at the language code: where a choice is inherent to the
language rather than to a sentence (the other language, whether a given string is written in a
language, how a file name is spelled) it is a small named helper here (:func:`other`,
:func:`in_order`, :func:`written_in`, :func:`file_stem`), and punctuation that differs between the
languages is a :class:`Text` too (:data:`COLON`, :data:`SEMICOLON`, :data:`ENUMERATION`, :data:`PARENS`).

Sentences that several modules say live in :data:`PHRASES`, keyed by code, and are made with
:func:`say`; a module's own sentences are made in place with ``Text(zh, en, code)``.

Notes that an analysis wants to pass up without stopping (a default assumed, a repair made) are
:class:`Text` objects in the result's ``notes``; a caller that wants Python warnings instead can
:func:`warn` them as :class:`GisNote` (a ``UserWarning``), which ``warnings.filterwarnings`` can
silence by class.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Text", "pick", "say", "registry", "PHRASES", "GisNote", "warn", "both", "unique", "stage_scenario",
           "LANGS", "other", "in_order", "written_in", "file_stem", "COLON", "SEMICOLON", "ENUMERATION", "PARENS",
           "YES", "NO", "lookup", "headed"]

LANGS = ("zh", "en")


class Text(tuple):
    """One sentence in Chinese and English.

    Parameters
    ----------
    zh, en : str
        The words in each language.
    code : str, optional
        A stable identifier of the sentence (``"shelter_flooded"``), for tests and other programs.

    Examples
    --------
    >>> t = Text("位于淹没区", "inside the flood", "shelter_flooded")
    >>> t("en")
    'inside the flood'
    >>> zh, en = t
    """

    code: str

    def __new__(cls, zh: str, en: str, code: str = "") -> Text:
        obj = super().__new__(cls, (str(zh), str(en)))
        obj.code = code
        return obj

    def __getnewargs__(self) -> tuple[str, str, str]:  # pickling (st.cache_data) keeps the code
        return self[0], self[1], self.code

    @property
    def zh(self) -> str:
        """The Chinese words."""
        return self[0]

    @property
    def en(self) -> str:
        """The English words."""
        return self[1]

    def __call__(self, lang: str = "zh") -> str:
        """The words in ``lang`` (``'zh'`` or ``'en'``)."""
        return self[0] if lang != "en" else self[1]

    def __repr__(self) -> str:
        return f"Text({self[0]!r}, {self[1]!r}{', ' + repr(self.code) if self.code else ''})"

    def __add__(self, other: Any) -> Any:  # Text + Text joins the words; anything else is a tuple concatenation
        if isinstance(other, Text):
            return Text(self[0] + other[0], self[1] + other[1], self.code)
        return tuple.__add__(self, other)

    def format(self, **kw: Any) -> Text:
        """Both languages formatted with the same values."""
        return Text(self[0].format(**kw), self[1].format(**kw), self.code)


def pick(value: Any, lang: str = "zh") -> str:
    """The words of ``value`` in ``lang``: a :class:`Text`, a ``(zh, en)`` pair, or a plain string as it is."""
    if isinstance(value, Text):
        return value(lang)
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0] if lang != "en" else value[1]
    return "" if value is None else str(value)


def both(value: Any) -> Text:
    """``value`` as a :class:`Text` (a plain string is the same in both languages)."""
    if isinstance(value, Text):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Text(value[0], value[1])
    return Text(str(value), str(value))


def unique(notes: Iterable[Any]) -> list[Text]:
    """Notes as :class:`Text`, repeats dropped, order kept."""
    out: list[Text] = []
    for n in notes:
        t = both(n)
        if t not in out:
            out.append(t)
    return out


def registry(pairs: Mapping[str, tuple[str, str]]) -> dict[str, Text]:
    """A table of texts by key (column headers, sheet names, coded values), each a :class:`Text` coded by its key."""
    return {k: Text(v[0], v[1], k) for k, v in pairs.items()}


def lookup(table: Mapping[str, Text], key: Any, lang: str = "zh") -> Any:
    """``table[key]`` in ``lang`` (a header, a coded value in words); a key the table does not hold, as it is."""
    t = table.get(key) if isinstance(key, str) else None
    return t(lang) if t is not None else key


def headed(df: Any, head: Mapping[str, Text] | Callable[[str, str], str], lang: str = "zh") -> Any:
    """A table (a pandas DataFrame whose columns and index levels are named by key) with every column and index
    level headed in ``lang``: ``head`` is a registry (:func:`registry`; a key it lacks stays as it is) or a function
    ``(key, lang) -> header``."""
    def one(key: Any) -> Any:
        if not isinstance(key, str):
            return key
        return lookup(head, key, lang) if isinstance(head, Mapping) else head(key, lang)

    out = df.rename(columns={k: one(k) for k in df.columns})
    out.index = out.index.set_names([one(n) for n in out.index.names])
    return out


#: sentences said by more than one module, by code
PHRASES: dict[str, Text] = registry({
    "no_crs": ("图层或栅格没有坐标系，无法叠加", "a layer or raster has no CRS; they cannot be overlaid"),
    "give_crs": ("为数据指定坐标系后重新导入", "give the data a CRS and import it again"),
    # the name of a water-level (HAND) flood scenario: the same words in the app, the CLI and every file
    "stage_scenario": ("水位 {stage} 米", "Stage {stage} m"),
})


#: punctuation that differs between the languages (``COLON(lang)`` -> ``：`` / ``: ``)
COLON = Text("：", ": ", "colon")
#: between the items of a list of clauses (``；`` / ``; ``)
SEMICOLON = Text("；", "; ", "semicolon")
#: between the names of a short enumeration (``、`` / ``; ``: English names may hold commas)
ENUMERATION = Text("、", "; ", "enumeration")
#: an aside after a word: ``PARENS.format(s="不可用")`` -> ``（不可用）`` / `` (unusable)``
PARENS = Text("（{s}）", " ({s})", "parens")
#: yes / no in a table cell
YES = Text("是", "yes", "yes")
NO = Text("否", "no", "no")


def other(lang: str) -> str:
    """The other interface language (``'zh'`` -> ``'en'``, anything else -> ``'zh'``)."""
    return "en" if lang == "zh" else "zh"


def in_order(lang: str) -> tuple[str, str]:
    """Both languages, ``lang`` first (a message shown in the interface language, then in the other one)."""
    return (lang, other(lang))


_CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


def written_in(words: str, lang: str) -> bool:
    """Whether ``words`` read as ``lang``: Chinese holds CJK characters, English holds none."""
    return bool(_CJK.search(str(words))) == (lang != "en")


def file_stem(words: str, lang: str, *, lower: bool = False) -> str:
    """``words`` spelled as a file name in ``lang``: English words joined by underscores (lower case with
    ``lower``), Chinese as written."""
    if lang != "en":
        return words
    words = re.sub(r"\s+", "_", words.strip())
    return words.lower() if lower else words


def stage_scenario(stage_m: float) -> Text:
    """The name of the flood scenario at water level ``stage_m`` metres (``水位 2 米`` / ``Stage 2 m``)."""
    return say("stage_scenario", stage=f"{float(stage_m):g}")


def say(code: str, **kw: Any) -> Text:
    """The registered sentence ``code`` (see :data:`PHRASES`), formatted with ``kw``."""
    phrase = PHRASES[code]
    return phrase.format(**kw) if kw else phrase


class GisNote(UserWarning):
    """A note from an analysis (an assumption or a repair), raised as a Python warning by :func:`warn`."""


def warn(note: Any, lang: str = "en", *, stacklevel: int = 2) -> None:
    """Issue ``note`` as a :class:`GisNote` warning in ``lang``."""
    warnings.warn(pick(note, lang), GisNote, stacklevel=stacklevel)
