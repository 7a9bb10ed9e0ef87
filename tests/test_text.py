"""The text model holds (layers.text): sentences for people are :class:`Text` with a code, not bare ``(zh, en)``
tuples — no module-level constant is one, no note is appended as one, nothing hands one to ``pick`` — and the notes
of the analyses come out as coded Text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pyproj
import pytest
from affine import Affine

from layers.text import PHRASES, Text, pick, say

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")
#: the code a person reads: everything below these (bench/, tests/ and data/ are not the product's words)
SOURCES = sorted([*ROOT.glob("gis/**/*.py"), *ROOT.glob("layers/**/*.py"), *ROOT.glob("ui/**/*.py"), ROOT / "app.py"])


def _words(node: ast.AST) -> str | None:
    """The literal text of a string expression (a constant, an f-string, or a concatenation of them), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _words(node.left), _words(node.right)
        return None if a is None or b is None else a + b
    return None


def _bare_pair(node: ast.AST) -> bool:
    """A tuple literal of two strings, one of them Chinese: a ``(zh, en)`` sentence that is not a Text."""
    if not isinstance(node, ast.Tuple) or len(node.elts) != 2:
        return False
    words = [_words(e) for e in node.elts]
    return all(w is not None for w in words) and any(CJK.search(w or "") for w in words)


def _containers(node: ast.AST):
    """``node`` and the literal containers inside it (a list of pairs, a dict of pairs), but not call arguments:
    ``registry({...})`` or ``Text(...)`` make Text of what they are given."""
    yield node
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for e in node.elts:
            yield from _containers(e)
    elif isinstance(node, ast.Dict):
        for v in node.values:
            yield from _containers(v)


def _constants(tree: ast.Module):
    """(name, value) of every assignment at module level and in class bodies."""
    bodies = [tree.body, *(n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef))]
    for body in bodies:
        for st in body:
            if isinstance(st, ast.Assign) and st.value is not None:
                yield ", ".join(ast.unparse(t) for t in st.targets), st.value
            elif isinstance(st, ast.AnnAssign) and st.value is not None:
                yield ast.unparse(st.target), st.value


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_the_sources_are_found():
    assert len(SOURCES) > 100
    assert ROOT / "layers" / "text.py" in SOURCES


def test_no_module_constant_is_a_bare_zh_en_tuple():
    """A module-level (or class-level) constant that is a bare 2-tuple of strings with Chinese in it, or a literal
    list/dict of such tuples, is a sentence without a code: make it ``Text(zh, en, code)`` (or a
    ``registry({...})`` of pairs)."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, value in _constants(tree):
            found += [f"{_where(path, n)} {name}" for n in _containers(value) if _bare_pair(n)]
    assert not found, "bare (zh, en) tuples as constants:\n" + "\n".join(found)


def test_no_note_is_appended_or_picked_as_a_bare_tuple():
    """Notes and warnings are appended as Text (``notes.append(Text(zh, en, code))``), and nothing passes a bare pair
    to ``pick``."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in ("append", "insert", "extend"):
                args = [a for arg in node.args for a in _containers(arg)]
            elif isinstance(f, ast.Name) and f.id == "pick":
                args = node.args[:1]
            else:
                continue
            found += [f"{_where(path, a)} {ast.unparse(node)[:80]}" for a in args if _bare_pair(a)]
    assert not found, "bare (zh, en) tuples as notes:\n" + "\n".join(found)


def test_the_walker_sees_a_bare_pair():
    """The rule above would catch what it is for (and not a Text or a registry)."""
    bad = ast.parse('X = ("水位", "stage")\nY: list = [("甲", "a"), ("乙", "b")]\nZ = {"k": ("丙", "c")}\n')
    good = ast.parse('X = Text("水位", "stage", "stage")\nY = registry({"k": ("甲", "a")})\nZ = ("a", "b")\n')
    assert sum(_bare_pair(n) for _, v in _constants(bad) for n in _containers(v)) == 4
    assert sum(_bare_pair(n) for _, v in _constants(good) for n in _containers(v)) == 0


def test_phrases_are_coded_texts():
    assert all(isinstance(t, Text) and t.code == k for k, t in PHRASES.items())
    s = say("stage_scenario", stage="2")
    assert (s.zh, s.en, s.code) == ("水位 2 米", "Stage 2 m", "stage_scenario")
    assert say("no_crs") == PHRASES["no_crs"] and say("no_crs").code == "no_crs"


def test_shelter_reasons_are_coded_texts():
    from gis.flood.plan import SHELTER_REASONS

    assert SHELTER_REASONS["flooded"] == Text("位于淹没区", "inside the flood")
    assert all(isinstance(t, Text) and t.code == k for k, t in SHELTER_REASONS.items())
    zh, en = SHELTER_REASONS["status"]            # still unpacks as a (zh, en) pair
    assert (zh, en) == ("状态不可用", "marked unavailable")


def _coded(notes) -> dict[str, Text]:
    assert notes and all(isinstance(n, Text) and n.code for n in notes), notes
    return {n.code: n for n in notes}


def test_depth_raster_notes_are_coded():
    from gis.flood.hazard import Hazard
    from layers.raster import Raster

    a = np.array([[-5.0, 0.0, 150.0], [250.0, 80.0, 0.0]], dtype="float32")   # centimetres, one negative cell
    r = Raster(a, Affine(30, 0, 500_000, 0, -30, 3_000_000), pyproj.CRS.from_epsg(4549), None, name="d.tif")
    notes = _coded(Hazard.from_depth_raster(r).notes)
    assert {"depth_cm", "depth_negative"} <= set(notes)
    assert notes["depth_negative"].en == "1 cells have negative depths; taken as dry"
    assert notes["depth_negative"].zh == "1 个像元水深为负值，按无水（干）处理"
    assert "2.5" in notes["depth_cm"].en and "2.5" in notes["depth_cm"].zh


def test_hand_notes_are_coded():
    from gis.flood.hand import hand_with_notes
    from layers.raster import Raster

    r, c = np.mgrid[0:7, 0:7]
    valley = (np.abs(c - 3) * 1.0 + (6 - r) * 0.1).astype("float32")
    dem = Raster(valley, Affine(0.0003, 0, 120.0, 0, -0.0003, 27.0), pyproj.CRS.from_epsg(4490), None, name="dem")
    _, notes = hand_with_notes(dem, min_upstream_cells=3)
    notes = _coded(notes)
    assert {"dem_lonlat_flow", "streams"} <= set(notes)
    assert pick(notes["streams"], "en").startswith("streams: upstream area of at least 3 cells, ")
    assert pick(notes["streams"], "zh").startswith("河道：汇流像元数 ≥ 3，共 ")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_lat_lon_swap_warning_is_coded(tmp_path, lang):
    from layers.readers import read_vector

    p = tmp_path / "pts.csv"
    p.write_text("名称,几何\n甲,POINT (28.40 119.60)\n乙,POINT (28.41 119.61)\n", encoding="utf-8")
    gdf = read_vector(p)
    assert gdf.geometry.x.round(2).tolist() == [119.6, 119.61]
    w = _coded(gdf.attrs["warnings"])["lat_lon_order_swapped"]
    assert w(lang) == {"zh": "pts.csv：“几何”列的坐标都是“纬度 经度”顺序，已对调为“经度 纬度”读取",
                       "en": "pts.csv: every coordinate in '几何' is in 'lat lon' order; read as 'lon lat'"}[lang]
