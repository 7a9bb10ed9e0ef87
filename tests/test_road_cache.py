"""The road graph kept on disk per revision of the roads layer (gis.flood.road_cache, used by dispatch): reused by a
new process, renewed by an edit of the roads, rebuilt from a damaged file, and none where the folder is read-only."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.flood import road_cache
from gis.flood.roads import build_graph
from gis.ops import session
from gis.ops.session import Operations
from layers.folders import cache_folder
from tests.ops_data import X0, Y0, tiny_layers, write_workspace

CRS = "EPSG:32650"


@pytest.fixture()
def ws(tmp_path):
    return write_workspace(tmp_path / "ws", tiny_layers())


@pytest.fixture()
def builds(monkeypatch):
    """Count the road graphs built (not read from the cache)."""
    calls: list[int] = []
    real = session.build_graph

    def counted(roads, **kw):
        calls.append(len(roads))
        return real(roads, **kw)

    monkeypatch.setattr(session, "build_graph", counted)
    return calls


def _same(a, b) -> None:
    assert a.crs == b.crs and a.n_components == b.n_components and a.notes == b.notes
    assert [getattr(n, "code", "") for n in a.notes] == [getattr(n, "code", "") for n in b.notes]   # coded Text
    for name in ("xy", "u", "v", "length", "time", "road", "component"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def _files(ws) -> list:
    return sorted(cache_folder(ws.gpkg).glob("roadgraph-*.npz"))


def test_a_second_process_reads_the_graph_the_first_built(ws, builds):
    """The first dispatch builds the graph and stores it; a new Operations (as a new `python -m gis dispatch`)
    reads it instead of building, and it is the same graph array for array."""
    first = Operations(ws).road_graph(CRS)
    assert builds == [3] and len(_files(ws)) == 1
    again = Operations(ws).road_graph(CRS)
    assert builds == [3]                                          # read, not built
    _same(first, again)
    _same(again, build_graph(ws.vector("roads"), crs=CRS))
    assert len(first.u) > 0


def test_an_edit_of_the_roads_renews_the_graph(ws, builds):
    """Adding a road gives the roads a new revision: the next dispatch builds the new graph (one more edge), and
    the old revision's file is removed."""
    before = Operations(ws).road_graph(CRS)
    old = _files(ws)
    roads = ws.vector("roads")
    extra = roads.iloc[[1]].copy()
    extra["name"] = "三号支路"
    extra["geometry"] = [shapely.LineString([(X0 + .06, Y0 + .15), (X0 + .06, Y0 + .19)])]
    ws.replace("roads", extra, note="new road", user="t", append=True)
    after = Operations(ws).road_graph(CRS)
    assert builds == [3, 4]
    assert after.n_edges == before.n_edges + 1
    new = _files(ws)
    assert len(new) == 1 and new != old


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other key"])
def test_a_damaged_cache_file_is_rebuilt_not_trusted(ws, builds, damage):
    """A cache file that is not a whole graph of this key (random bytes, cut short, another key's graph under this
    name) is rebuilt, and the rebuilt graph replaces it."""
    good = Operations(ws).road_graph(CRS)
    (path,) = _files(ws)
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00not a zip" * 50)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        road_cache.save_graph(path.parent, "0" * 32, good)       # another key's file, renamed to this key
        (path.parent / f"roadgraph-{'0' * 32}.npz").replace(path)
    rebuilt = Operations(ws).road_graph(CRS)
    assert builds == [3, 3]
    _same(rebuilt, good)
    assert road_cache.load_graph(path.parent, path.stem.removeprefix("roadgraph-")) is not None   # rewritten whole


def test_no_cache_where_the_folder_cannot_be_written(ws, builds, tmp_path):
    """A cache folder that cannot be made (a file stands in its place, as on a read-only medium) only means no
    cache: the graph is built each time, and no error."""
    cache_folder(ws.gpkg).write_text("not a folder")
    a = Operations(ws).road_graph(CRS)
    b = Operations(ws).road_graph(CRS)
    assert builds == [3, 3] and a.n_edges == b.n_edges > 0
    assert not list(tmp_path.rglob("*.writing"))
