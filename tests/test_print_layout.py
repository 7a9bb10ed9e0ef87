"""Printed maps that print: the A4 village and fire maps rendered to PDF, then read back as a reader
would see them (poppler's ``pdftotext -bbox`` for where each word is, ``pdftoppm`` for the picture):
nothing runs off the page or under the stamp, words do not overlap, no program identifier is printed,
and the whole-area fire map has no empty band."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ARTIFACTS
from tests.test_reports import _tables, depth_raster  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
                                reason="poppler-utils (pdftotext, pdftoppm) not installed: bash tests/install.sh")
#: a word may not come nearer the page edge than this (points)
EDGE_PT = 12.0


def _words(pdf: bytes, tmp_path, name: str) -> tuple[tuple[float, float], list[tuple[str, float, float, float, float]]]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', out)
    words = [(unescape(m.group(5)), float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)))
             for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
                                  out)]
    return (float(page.group(1)), float(page.group(2))), words


def _png(pdf_path, tmp_path, name: str) -> np.ndarray:
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf_path), str(tmp_path / name)], check=True)
    img = Image.open(tmp_path / f"{name}.png").convert("RGB")
    ARTIFACTS.mkdir(exist_ok=True)
    img.save(ARTIFACTS / f"print_{name}.png")
    return np.asarray(img)


def _check_layout(size, words, where: str) -> None:
    w, h = size
    assert words, where
    off = [t for t, x0, y0, x1, y1 in words if x0 < EDGE_PT or x1 > w - EDGE_PT or y1 > h - 4 or y0 < 0]
    assert not off, f"{where}: words run off the page: {off}"
    # pdftotext's boxes are a line high; the middle of each box is where its letters are
    core = [(t, x0 + 0.5, (y0 + y1) / 2 - 0.18 * (y1 - y0), x1 - 0.5, (y0 + y1) / 2 + 0.18 * (y1 - y0))
            for t, x0, y0, x1, y1 in words]
    clash = [(a[0], b[0]) for i, a in enumerate(core) for b in core[i + 1:]
             if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]]
    assert not clash, f"{where}: words overlap: {clash[:8]}"
    ids = [t for t, *_ in words if re.search(r"[a-z]+_[a-z_]+", t)]
    assert not ids, f"{where}: identifiers printed: {ids}"


def _tables_for_print(lang: str) -> dict:
    t = _tables()
    t["summary"] = {**t["summary"], "hazard_method": "hand_stage",
                    "scenario": "水位 4 米" if lang == "zh" else "Stage 4 m"}
    # a shelter right on the map's edge and a long name: its label must stay inside the frame
    t["shelters"].loc[1, "name"] = "张家村村民委员会文化礼堂（东）"
    return t


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_village_map_words_stay_on_the_page_and_apart(tmp_path, depth_raster, lang):  # noqa: F811
    from gis.report.village_map import village_map

    pdf = village_map("张家村", _tables_for_print(lang), hazard=depth_raster, fmt="pdf", synthetic=True, lang=lang)
    size, words = _words(pdf, tmp_path, f"village_{lang}")
    _check_layout(size, words, f"village map ({lang})")
    text = " ".join(t for t, *_ in words)
    assert "hand_stage" not in text
    assert ("HAND" in text) and (("演示数据" in text) if lang == "zh" else ("synthetic" in text))
    if lang == "en":   # one language: no Chinese sentence of the program's own (names are data)
        own = [t for t, *_ in words if re.search(r"[\u4e00-\u9fff]", t) and not any(
            n in t for n in ("张家", "李家", "城关", "村委会", "河口", "张三", "李四", "王五", "一组", "二组", "三组",
                             "水位"))]
        assert not own, own
    img = _png(tmp_path / f"village_{lang}.pdf", tmp_path, f"village_{lang}")
    edge = int(0.15 * 60)   # nothing printed in the outer 0.15 inch
    border = np.concatenate([img[:edge].reshape(-1, 3), img[-edge:].reshape(-1, 3),
                             img[:, :edge].reshape(-1, 3), img[:, -edge:].reshape(-1, 3)])
    assert (border.min(axis=1) > 235).mean() > 0.999


def test_fire_map_fills_its_frame_and_keeps_its_words_on_the_page(tmp_path):
    from affine import Affine

    from gis.report.fire_map import coverage_map
    from layers.raster import Raster
    from tests.test_fire_map import CRS, RES, X0, Y0, N

    yy, xx = np.mgrid[0:N, 0:N]
    z = 300 + 200 * np.exp(-((xx - 60) ** 2 + (yy - 100) ** 2) / 800.0) + 0.5 * xx
    dem = Raster(z.astype("float64"), Affine(RES, 0, X0, 0, -RES, Y0), CRS, None)
    for lang in ("zh", "en"):
        (pdf,) = coverage_map(tmp_path / f"fire_{lang}", dem=dem, layers={}, lang=lang, formats=("pdf",))
        size, words = _words(pdf.read_bytes(), tmp_path, f"fire_{lang}")
        _check_layout(size, words, f"fire map ({lang})")
        img = _png(pdf, tmp_path, f"fire_{lang}")
        background = np.all(np.abs(img.astype(int) - [247, 247, 242]) <= 2, axis=2)
        assert background.mean() < 0.01, f"{background.mean():.1%} of the page is empty map"


def _longest_blank_band(img: np.ndarray) -> float:
    """The tallest run of blank (page-white) rows of a page image, as a share of the page's height."""
    blank = (img.min(axis=2) > 245).all(axis=1)
    longest = run = 0
    for b in blank:
        run = run + 1 if b else 0
        longest = max(longest, run)
    return longest / len(blank)


@pytest.mark.parametrize("area", ["tall", "square"])
def test_whole_area_fire_map_fills_the_page_with_the_terrain_around_the_area(tmp_path, area):
    """The whole-area map of a county inside a larger DEM: its map frame takes the page's whole map box (the
    terrain around the county fills it), the county is inside the frame, and no blank band is left on the page
    (the frame once took the county's shape and left the bottom third of a portrait page empty)."""
    import geopandas as gpd
    from affine import Affine
    from shapely.geometry import box

    from gis.report.fire_map import _FOOT_H, _MARGIN, _TITLE_H, coverage_figure, coverage_map
    from layers.raster import Raster
    from tests.test_fire_map import CRS, RES, X0, Y0, N

    yy, xx = np.mgrid[0:N, 0:N]
    z = 300 + 200 * np.exp(-((xx - 60) ** 2 + (yy - 100) ** 2) / 800.0) + 0.5 * xx
    dem = Raster(z.astype("float64"), Affine(RES, 0, X0, 0, -RES, Y0), CRS, None)
    county = box(X0 + 1800, Y0 - 5700, X0 + 4200, Y0 - 300) if area == "tall" else \
        box(X0 + 1000, Y0 - 5000, X0 + 5000, Y0 - 1000)
    layers = {"boundaries": gpd.GeoDataFrame({"name": ["测试县"], "level": ["county"]}, geometry=[county], crs=CRS)}
    fig = coverage_figure(dem=dem, layers=layers, date="2026-12-07")
    ax = fig.axes[0]
    W, H = fig.get_size_inches()
    box_h = (H - 2 * _MARGIN - _TITLE_H - _FOOT_H) / H
    assert ax.get_position().height >= box_h - 0.005, (ax.get_position().height, box_h)
    assert ax.get_position().width >= (W - 2 * _MARGIN) / W - 0.005
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    cx0, cy0, cx1, cy1 = county.bounds
    assert x0 <= cx0 and y0 <= cy0 and x1 >= cx1 and y1 >= cy1          # the county whole
    assert x0 >= X0 - 1 and x1 <= X0 + N * RES + 1                     # and no map beyond the terrain
    (pdf,) = coverage_map(tmp_path / f"fire_{area}", dem=dem, layers=layers, formats=("pdf",), date="2026-12-07")
    size, words = _words(pdf.read_bytes(), tmp_path, f"fire_{area}")
    _check_layout(size, words, f"fire map ({area} county)")
    img = _png(pdf, tmp_path, f"fire_fill_{area}")
    assert _longest_blank_band(img) < 0.06, f"a blank band of {_longest_blank_band(img):.0%} of the page"


def test_fire_map_legend_goes_under_the_map_where_the_page_has_room(tmp_path):
    """A square area with no terrain around it leaves a band under its map frame on a portrait page: the legend
    goes there (off the map, nothing covered) with the footer under it, every word on the page and apart."""
    from affine import Affine
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gis.report.fire_map import coverage_figure, coverage_map
    from layers.raster import Raster
    from tests.test_fire_map import CRS, RES, X0, Y0, N

    yy, xx = np.mgrid[0:N, 0:N]
    z = 300 + 200 * np.exp(-((xx - 60) ** 2 + (yy - 100) ** 2) / 800.0) + 0.5 * xx
    dem = Raster(z.astype("float64"), Affine(RES, 0, X0, 0, -RES, Y0), CRS, None)
    count = np.zeros(dem.shape, np.uint16)
    count[:, 70:140] = 1
    count[:, 140:] = 2
    layers = {"coverage": count, "water_reach": count > 1, "high_risk": count == 0}
    fig = coverage_figure(dem=dem, layers=layers, lang="en", date="2026-12-07")
    ax = fig.axes[0]
    r = FigureCanvasAgg(fig).get_renderer()
    leg, frame = ax.get_legend().get_window_extent(r), ax.get_window_extent(r)
    assert leg.y1 <= frame.y0 + 1 and leg.x0 >= frame.x0 - 1 and leg.x1 <= frame.x1 + 1    # under the frame
    notes = [t.get_window_extent(r) for t in fig.texts if t.get_text().startswith("CRS")]
    assert notes and all(n.y1 <= leg.y0 + 1 for n in notes)                               # the footer under it
    # the band the map box left is shared above the title and under the footer, not one empty band at the bottom
    words = [t.get_window_extent(r) for t in fig.texts if t.get_text()]
    above, below = fig.bbox.height - max(w.y1 for w in words), min(w.y0 for w in words)
    assert below > 1.0 * fig.dpi and abs(above - below) < 0.35 * fig.dpi, (above / fig.dpi, below / fig.dpi)
    for lang in ("zh", "en"):
        (pdf,) = coverage_map(tmp_path / f"fire_legend_{lang}", dem=dem, layers=layers, lang=lang, formats=("pdf",))
        size, words = _words(pdf.read_bytes(), tmp_path, f"fire_legend_{lang}")
        _check_layout(size, words, f"fire map, legend under it ({lang})")
        _png(pdf, tmp_path, f"fire_legend_{lang}")
