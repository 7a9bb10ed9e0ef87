"""The multi-label road search (k nearest distinct shelters per node) against one SciPy Dijkstra per start."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse import csgraph

from gis.flood.labels import nearest_labels, undirected_csr


def _graph(rng, n: int):
    m = int(rng.integers(n, 3 * n))
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = u != v
    a, b = np.minimum(u[keep], v[keep]), np.maximum(u[keep], v[keep])
    _, first = np.unique(a * n + b, return_index=True)   # one edge per pair, as in a RoadGraph
    return a[first], b[first], rng.uniform(0, 10, len(first)).round(0)   # whole weights: ties happen


@pytest.mark.parametrize("seed", range(25))
def test_labels_are_each_nodes_k_cheapest_distinct_starts(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    u, v, w = _graph(rng, n)
    ns, nsrc, k = int(rng.integers(1, 8)), int(rng.integers(1, 12)), int(rng.integers(1, 6))
    sn, sc, sl = rng.integers(0, n, nsrc), rng.uniform(0, 5, nsrc), rng.integers(0, ns, nsrc)
    lab, cost, via = nearest_labels(undirected_csr(n, u, v, w), sn, sc, sl, k)
    # reference: per label, the cheapest of its starts' costs plus the road from there (SciPy, one row per start)
    adj = sparse.csr_matrix((w + 1e-12, (u, v)), shape=(n, n))
    d = csgraph.dijkstra(adj, directed=False, indices=sn)
    full = np.full((ns, n), np.inf)
    for i in range(nsrc):
        full[sl[i]] = np.minimum(full[sl[i]], sc[i] + d[i])
    for x in range(n):
        want = np.r_[np.sort(full[:, x]), np.full(k, np.inf)][:k]
        assert np.allclose(np.nan_to_num(cost[x], posinf=-1), np.nan_to_num(want, posinf=-1), atol=1e-6)
        for j in np.flatnonzero(lab[x] >= 0):
            assert full[lab[x, j], x] == pytest.approx(cost[x, j], abs=1e-6)       # the label's own cheapest
            assert sl[via[x, j]] == lab[x, j]                                        # from one of its starts
            assert sc[via[x, j]] + d[via[x, j], x] == pytest.approx(cost[x, j], abs=1e-6)
        assert len(set(lab[x][lab[x] >= 0].tolist())) == int((lab[x] >= 0).sum())  # distinct


def test_targets_stop_the_search_early_but_stay_exact():
    rng = np.random.default_rng(7)
    n = 200
    u, v, w = _graph(rng, n)
    sn, sc, sl = rng.integers(0, n, 30), rng.uniform(0, 5, 30), rng.integers(0, 12, 30)
    g = undirected_csr(n, u, v, w)
    full_lab, full_cost, _ = nearest_labels(g, sn, sc, sl, 4)
    t = np.array([3, 50, 199])
    lab, cost, _ = nearest_labels(g, sn, sc, sl, 4, targets=t)
    assert np.array_equal(np.nan_to_num(cost[t], posinf=-1), np.nan_to_num(full_cost[t], posinf=-1))


def test_negative_weights_are_refused():
    with pytest.raises(ValueError):
        undirected_csr(2, np.array([0]), np.array([1]), np.array([-1.0]))


def test_no_start_gives_no_label():
    g = undirected_csr(3, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0]))
    lab, cost, via = nearest_labels(g, np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), 2)
    assert (lab == -1).all() and np.isinf(cost).all() and (via == -1).all()
