"""File names of everything the app offers for download, in the interface language.

A Chinese screen offers ``转移方案.xlsx``, an English one ``evacuation_plan.xlsx``: one registry,
:data:`NAMES`, so no page writes a file name of its own. Names a user gave (a village, a township,
a workspace) are kept as they are; characters a file system refuses are replaced.
"""

from __future__ import annotations

import re

from layers.catalogue import spec
from layers.text import Text, file_stem

__all__ = ["NAMES", "file_name", "layer_file_name"]

NAMES: dict[str, Text] = {
    "plan": Text("转移方案", "evacuation_plan", "plan"),
    "village_map": Text("{village}防汛形势图", "{village}_flood_situation_map", "village_map"),
    "village_batch": Text("村级防汛形势图", "village_flood_situation_maps", "village_batch"),
    "fire_files": Text("森林防火覆盖", "forest_fire_coverage", "fire_files"),
    "fire_rasters": Text("森林防火栅格", "forest_fire_rasters", "fire_rasters"),
    "fire_a4": Text("{area}森林防火覆盖图", "forest_fire_coverage_map_{area}", "fire_a4"),
    "sites": Text("建议点位", "proposed_sites", "sites"),
    # the Operations page's, each after its warning's id
    "callout": Text("{id}叫应名单", "{id}_call_out_list", "callout"),
    "sms": Text("{id}_sms", "{id}_sms", "sms"),
    "sms_overdue": Text("{id}_sms_overdue", "{id}_sms_overdue", "sms_overdue"),
    "replan": Text("{id}_重新分配", "{id}_replan", "replan"),
    "dispatch": Text("{id}_调度单", "{id}_dispatch_sheet", "dispatch"),
    "ops_record": Text("{id}_应急响应记录", "{id}_operations_record", "ops_record"),
    "workspace": Text("{name}", "{name}", "workspace"),
}

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip(" ._") or "download"


def file_name(key: str, ext: str, lang: str, **fields: object) -> str:
    """``NAMES[key]`` in ``lang``, filled with ``fields``, with extension ``ext``.

    Examples
    --------
    >>> file_name("plan", "xlsx", "en")
    'evacuation_plan.xlsx'
    >>> file_name("village_map", "pdf", "zh", village="云溪村")
    '云溪村防汛形势图.pdf'
    """
    words = NAMES[key].format(**{k: str(v) for k, v in fields.items()})(lang)
    return f"{_safe(file_stem(words, lang))}.{ext.lstrip('.')}"


def layer_file_name(kind: str, ext: str, lang: str) -> str:
    """A layer's download name: its name in ``lang`` (``避灾安置场所.gpkg``, ``shelters.gpkg``)."""
    return f"{_safe(file_stem(spec(kind).label(lang), lang, lower=True))}.{ext.lstrip('.')}"
