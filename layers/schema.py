"""The vocabulary of layer specs: :class:`FieldSpec` and :class:`LayerSpec`.

A spec says what a layer IS: its geometry, its fields (canonical English name, Chinese and English
labels, unit, type, and the column names users actually write), and which fields are required.
The catalogue of concrete specs lives in :mod:`layers.catalogue`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from layers.text import Text, registry
from layers.units import hint as unit_hint
from layers.units import unit_name

FieldType = Literal["str", "int", "float", "bool", "choice"]
#: what each field type holds, for people (the Data page's list of fields)
FIELD_TYPES: dict[str, Text] = registry({"str": ("文本", "text"), "int": ("整数", "whole number"),
                                         "float": ("数值", "number"), "bool": ("是/否", "yes/no"),
                                         "choice": ("选项", "one of a list")})
GeometryKind = Literal["Point", "LineString", "Polygon", "raster"]
#: point marker shapes (areas draw a box in the legend, lines a line)
Shape = Literal["circle", "square", "triangle", "diamond"]
#: the pages whose own base map draws a kind (every vector kind is drawn on the Data page)
MapName = Literal["flood", "fire"]


def normalize_name(name: object) -> str:
    """Normalise a column header for alias matching.

    Full-width characters become half-width (NFKC), case is folded, spaces, underscores and
    hyphens are dropped, and a trailing unit in brackets is removed: ``"人口（人）"``,
    ``" Population (persons)"`` and ``"POPULATION"`` all become ``"人口"``/``"population"``.
    """
    s = unicodedata.normalize("NFKC", str(name)).strip().lower()
    s = re.sub(r"[\(\[（【].*?[\)\]）】]\s*$", "", s)
    return re.sub(r"[\s_\-./:：]+", "", s)


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer.

    Parameters
    ----------
    name : str
        Canonical (stored) field name, English snake_case.
    type : {'str', 'int', 'float', 'bool', 'choice'}
        Value type after validation.
    zh, en : str
        Labels shown to users.
    aliases : tuple of str
        Other headers that mean this field (Chinese and English); matched after
        :func:`normalize_name`.
    required : bool
        A file without this column is rejected.
    unit : str, optional
        Unit of a numeric field (e.g. ``"m"``, ``"人"``).
    choices : dict, optional
        For ``type='choice'``: canonical code -> tuple of accepted spellings (Chinese, English,
        numeric codes). The first Chinese spelling is the display label.
    minimum, maximum : float, optional
        Inclusive bounds for numeric fields.
    true_words, false_words : tuple of str
        For ``type='bool'``: words meaning yes / no for this field only (``季节性`` / ``常年``), on
        top of the neutral 是/否, 有/无, yes/no, 1/0 every yes/no field accepts.
    keep_raw : str, optional
        For ``type='choice'``: the field that keeps each value as written (``service`` stays beside
        the class ``village`` it was taken as) when some value was written as neither its code nor
        its display label, unless the file has that column itself.
    """

    name: str
    type: FieldType
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    unit: str | None = None
    choices: dict[str, tuple[str, ...]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    true_words: tuple[str, ...] = ()
    false_words: tuple[str, ...] = ()
    keep_raw: str | None = None

    def label(self, lang: str = "zh") -> str:
        """Display label with unit, e.g. ``人口（人）`` / ``Population (persons)``."""
        if not self.unit:
            return Text(self.zh, self.en)(lang)
        return Text(f"{self.zh}（{self.unit}）", f"{self.en} ({unit_name(self.unit, 'en')})")(lang)

    def all_names(self) -> tuple[str, ...]:
        """Every header accepted for this field, normalised."""
        return tuple(dict.fromkeys(normalize_name(a) for a in (self.name, self.zh, self.en, *self.aliases)))

    def unit_hint(self, sep: str = ", ") -> str:
        """Unit spellings accepted after a number in this field (``m, 米, km, 公里…``); empty without a unit."""
        return unit_hint(self.unit, sep=sep)

    def choice_lookup(self) -> dict[str, str]:
        """Normalised spelling -> canonical code, for ``choice`` fields."""
        out: dict[str, str] = {}
        for code, spellings in (self.choices or {}).items():
            for s in (code, *spellings):
                out[normalize_name(s)] = code
        return out

    def choice_label(self, code: str, lang: str = "zh") -> str:
        """Display label of a choice code (first Chinese spelling, or the English code)."""
        if not self.choices or code not in self.choices:
            return str(code)
        return Text(self.choices[code][0], code.replace("_", " "))(lang)


@dataclass(frozen=True)
class DrawClass:
    """The style of the features of a layer whose field ``Draw.by`` has value ``value``.

    Parameters
    ----------
    value : str
        The field value (a choice code, e.g. the grid level ``"village"``).
    color : str
        Outline (and line) colour, ``#rrggbb``.
    weight : float
        Outline width in pixels.
    fill : str, optional
        Fill colour; None leaves areas hollow.
    fill_opacity : float
        Fill opacity, 0-1.
    show : bool
        Visible when a map opens.
    legend : Text, optional
        Legend entry (default: the layer's name and the value's label).
    overview_show : bool, optional
        Visible when the whole-area overview of a big area (a prefecture, :func:`ui.map_view.plan_map`) opens;
        None: as ``show``. Such a class is in the layer control, drawn when turned on.
    """

    value: str
    color: str
    weight: float = 1.5
    fill: str | None = None
    fill_opacity: float = 0.0
    show: bool = True
    legend: Text | None = None
    overview_show: bool | None = None

    def shown(self, overview: bool = False) -> bool:
        """Whether the class is visible when a map opens (``overview``: the whole-area overview of a big area)."""
        return self.show if not overview or self.overview_show is None else self.overview_show


@dataclass(frozen=True)
class Draw:
    """How a layer kind is drawn on every map, in which order, and how it is labelled.

    Parameters
    ----------
    color : str
        Outline, line or marker edge colour, ``#rrggbb`` (from :mod:`layers.palette`).
    fill : str, optional
        Fill of areas and markers (the legend shows it).
    weight : float
        Line or outline width in pixels.
    fill_opacity : float
        Fill opacity of areas, 0-1 (markers are filled at 0.9).
    shape : {'circle', 'square', 'triangle', 'diamond'}
        Marker shape of points.
    radius : float
        Marker radius in pixels.
    order : int
        Drawing order, bottom (low) to top (high); also the order in the layer control and legend.
    show : bool
        Visible when a map opens (the others are one click away in the layer control).
    label : str, optional
        Field printed beside the features as a place label (decluttered; townships are labelled
        from the ``township`` field of the kinds that have one).
    label_zoom : int
        Web-map zoom level from which the labels show.
    label_rank : int
        Which label wins a collision (higher first).
    maps : tuple of {'flood', 'fire'}
        Pages whose base map draws the kind (the Data page draws every kind).
    by : str, optional
        Field whose value picks a :class:`DrawClass` (the grids' ``level``).
    classes : tuple of DrawClass
        One style per value of ``by``, in drawing order.
    legend : Text, optional
        Legend entry (default: the layer's name).
    """

    color: str
    fill: str | None = None
    weight: float = 1.5
    fill_opacity: float = 0.35
    shape: Shape = "circle"
    radius: float = 5.0
    order: int = 0
    show: bool = True
    label: str | None = None
    label_zoom: int = 12
    label_rank: int = 0
    maps: tuple[MapName, ...] = ()
    by: str | None = None
    classes: tuple[DrawClass, ...] = ()
    legend: Text | None = None


@dataclass(frozen=True)
class LayerSpec:
    """What one layer kind is.

    Parameters
    ----------
    kind : str
        Identifier used in files, the workspace and the command line (``"shelters"``).
    zh, en : str
        Names shown to users.
    geometry : tuple of GeometryKind
        Accepted geometry kinds; ``"raster"`` when a GeoTIFF is accepted. ``Multi*`` variants of
        each vector kind are accepted too.
    fields : tuple of FieldSpec
        Attributes, in display order.
    id_field : str, optional
        Field that identifies a feature; filled with a generated id when absent.
    raster_unit : str, optional
        Unit of raster values (``"m"`` for a DEM or depth raster).
    description_zh, description_en : str
        One sentence on what the layer holds.
    draw : Draw, optional
        How the kind is drawn on maps (vector kinds); None for rasters drawn by their analysis.
    editable : tuple of str
        Fields edited on the Workspace page (a kind with none is not offered there).
    """

    kind: str
    zh: str
    en: str
    geometry: tuple[GeometryKind, ...]
    fields: tuple[FieldSpec, ...] = ()
    id_field: str | None = None
    raster_unit: str | None = None
    description_zh: str = ""
    description_en: str = ""
    draw: Draw | None = None
    editable: tuple[str, ...] = ()

    def label(self, lang: str = "zh") -> str:
        """Layer name in ``lang``."""
        return Text(self.zh, self.en)(lang)

    def description(self, lang: str = "zh") -> str:
        """What the layer holds, in ``lang``."""
        return Text(self.description_zh, self.description_en)(lang)

    def make_id(self, number: int) -> str:
        """The identifier made for feature ``number`` (1-based) of a layer without one: the kind's
        initial and the number (``S3``). The one rule for ids made on import and in the workspace."""
        return f"{self.kind[:1].upper()}{int(number)}"

    @property
    def is_vector(self) -> bool:
        """True when the layer accepts vector geometry."""
        return any(g != "raster" for g in self.geometry)

    @property
    def is_raster(self) -> bool:
        """True when the layer accepts a GeoTIFF."""
        return "raster" in self.geometry

    def field(self, name: str) -> FieldSpec:
        """The field spec called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.kind} has no field {name!r}")

    @property
    def required(self) -> tuple[FieldSpec, ...]:
        """Required fields."""
        return tuple(f for f in self.fields if f.required)

    def match_columns(self, columns: list[str]) -> dict[str, str]:
        """Map file headers to canonical names (first matching header wins).

        Returns
        -------
        dict
            header as written -> canonical field name, for the headers that match a field.
        """
        wanted: dict[str, str] = {}
        for f in self.fields:
            for n in f.all_names():
                wanted.setdefault(n, f.name)
        out: dict[str, str] = {}
        taken: set[str] = set()
        for col in columns:
            canon = wanted.get(normalize_name(col))
            if canon and canon not in taken:
                out[col] = canon
                taken.add(canon)
        return out

    def labels(self, lang: str = "zh") -> dict[str, str]:
        """Canonical field name -> display label."""
        return {f.name: f.label(lang) for f in self.fields}
