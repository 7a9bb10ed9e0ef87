"""Every fire output in English has no Chinese outside data values and names, and every Chinese one no raw
English key: the workbook, KML, GeoJSON, GeoPackage aliases, the A4 map, the map layers and the ``fire-report``
JSON notes (the Fire page itself: tests/test_app.py::test_page_runs_without_exception, with tests/language.py)."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout

import pytest
from openpyxl import load_workbook

from gis.fire.gaps import GAP_CLASSES
from gis.fire.headers import HEADERS, SHEETS, WORDS
from gis.fire.review import FireInputs, FireReview
from gis.fire.water_reach import REASONS
from tests.language import CJK, leaks

#: codes that must never reach a Chinese reader as words
KEYS = (set(HEADERS) | set(WORDS) | set(GAP_CLASSES) | set(REASONS) | set(SHEETS)) - {"name", "type"}


def _raw_keys(texts) -> list[str]:
    return [s for s in map(str, texts) if s.strip() in KEYS]


@pytest.fixture(scope="module")
def review(demo_workspace):
    from layers.workspace import Workspace

    ws = Workspace(demo_workspace)
    data = FireInputs(ws.raster("dem"), {k: ws.vector(k) for k in ws.vector_kinds()})
    return FireReview(weather=(30, 25, 10, 4, 1), site_water=2, max_road_m=600).run(data)


@pytest.fixture(scope="module")
def files(review, tmp_path_factory):
    from gis.report.fire_files import write_fire_files

    out = {}
    for lang in ("zh", "en"):
        folder = tmp_path_factory.mktemp(f"fire_{lang}")
        write_fire_files(review, folder, lang=lang, maps=False)
        out[lang] = folder
    return out


def _workbook_texts(path) -> tuple[list[str], list[str]]:
    wb = load_workbook(path)
    heads, cells = list(wb.sheetnames), []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        heads += [str(v) for v in rows[0] if v is not None] if rows else []
        cells += [v for r in rows[1:] for v in r if isinstance(v, str)]
    return heads, cells


def test_workbook(files, demo_values):
    heads, cells = _workbook_texts(files["en"] / "fire.xlsx")
    assert not leaks(heads + cells, demo_values)
    heads, cells = _workbook_texts(files["zh"] / "fire.xlsx")
    assert all(CJK.search(h) for h in heads), [h for h in heads if not CJK.search(h)]
    assert not _raw_keys(cells)


def _kml_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    out = [el.text for el in root.iter() if el.text and el.text.strip()]
    out += [el.get("name") for el in root.iter() if el.get("name")]
    return [re.sub(r"<[^>]+>", " ", s) for s in out]


def test_kml(files, demo_values):
    en = _kml_texts(files["en"] / "fire.kml")
    assert not leaks(en, demo_values)
    zh = _kml_texts(files["zh"] / "fire.kml")
    assert not _raw_keys(zh) and any("覆盖空白区" in s for s in zh)


def test_geojson_and_geopackage(files, demo_values):
    for lang in ("en", "zh"):
        fc = json.loads((files[lang] / "fire.geojson").read_text(encoding="utf-8"))
        words = [v for f in fc["features"] for k, v in f["properties"].items() if k.endswith(("_zh", "_en"))]
        con = sqlite3.connect(files[lang] / "fire.gpkg")
        aliases = [r[0] for r in con.execute("SELECT name FROM gpkg_data_columns")]
        tables = {r[0] for r in con.execute("SELECT DISTINCT table_name FROM gpkg_data_columns")}
        reasons = [r[0] for r in con.execute(f"SELECT reason_{lang} FROM source_stats")]
        towns = [r[0] for r in con.execute("SELECT township FROM townships")]
        con.close()
        assert {"gaps", "sites", "townships", "camera_stats", "source_stats"} <= tables
        assert words and aliases
        if lang == "en":
            assert all(k.endswith("_en") for f in fc["features"] for k in f["properties"] if k.endswith(("_zh", "_en")))
            assert not leaks(words + aliases + reasons + towns, demo_values)
        else:
            assert all(CJK.search(a) for a in aliases), [a for a in aliases if not CJK.search(a)]
            assert not _raw_keys(words + reasons)


def test_a4_map_texts(review, demo_values):
    from matplotlib.text import Text as MplText

    from gis.report.fire_files import map_layers, subtitles
    from gis.report.fire_map import coverage_figure, map_texts

    town = review.township_names()[0]
    for lang in ("en", "zh"):
        fig = coverage_figure(dem=review.grid, layers=map_layers(review), township=town, lang=lang,
                              subtitle=subtitles(review, lang)[town])
        texts = [t.get_text() for t in fig.findobj(MplText) if t.get_text().strip()]
        if lang == "en":
            assert not leaks(texts + list(map_texts("en").values()), demo_values)
            assert any("Forest-fire coverage map" in t for t in texts)
        else:
            assert not _raw_keys(texts) and any("森林防火监测覆盖图" in t for t in texts)


def test_map_layers_of_the_page(review, demo_values):
    from gis.report.fire_files import site_frame
    from ui.fire_layers import fire_groups

    for lang in ("en", "zh"):
        groups, legend = fire_groups(lang, gaps=review.gaps, sites=site_frame(list(review.sites)))
        names = [g.layer_name for g in groups] + [row.label for row in legend]
        popups: list[str] = []
        stack = list(groups)
        while stack:
            el = stack.pop()
            popups += list(getattr(el, "aliases", None) or [])
            stack += list(getattr(el, "_children", {}).values())
        assert popups
        if lang == "en":
            assert not leaks(names + popups, demo_values)
        else:
            assert all(CJK.search(n) for n in names + popups)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    from gis.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_fire_report_json_notes(demo_workspace, tmp_path, demo_values):
    ws = str(demo_workspace / "workspace.gpkg")
    got = {}
    for lang in ("en", "zh"):
        code, out, err = _cli(["fire-report", "--workspace", ws, "--out", str(tmp_path / lang), "--weather",
                               "30,25,10,4", "--site-water", "1", "--no-maps", "--json", "--lang", lang])
        assert code == 0, err
        got[lang] = json.loads(out)
    en, zh = got["en"], got["zh"]
    assert en["notes"] and len(en["notes"]) == len(zh["notes"])
    assert not leaks(en["notes"] + [en["weather"]["label"]], demo_values)
    assert all(CJK.search(n) for n in zh["notes"]) and not _raw_keys(zh["notes"])
    assert CJK.search(zh["weather"]["label"])
