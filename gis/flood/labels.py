"""The ``k`` nearest distinct shelters of every road node, in one search over the road graph.

A grid's road options reach shelters through the shelters' road exits. Asking "the ``k`` cheapest shelters of
each of these grids" one Dijkstra per grid (or per shelter) costs a search each; this module answers it for every
road node at once with a *multi-label* Dijkstra (the k-nearest-facilities search): every exit starts a label
(its shelter, at its exit cost), labels spread over the graph in order of cost, and a node keeps the first ``k``
labels of distinct shelters that reach it — which are its ``k`` cheapest shelters, since labels settle in
increasing cost as in Dijkstra's algorithm. Work is bounded by ``k`` settlements per node, and the search stops
once every node asked about holds ``k`` labels.

A grid's ``k`` cheapest shelters are then among the union of its options' nodes' labels (a shelter that is not
among the ``k`` of the option through which it is cheapest has ``k`` shelters at least as cheap through that
same option), so :meth:`gis.flood.candidates.Candidates.for_grids` gets exact ``k``-best tables from it.

SciPy's :func:`scipy.sparse.csgraph.dijkstra` keeps one label per node (``min_only``) or one search per source;
neither gives the ``k`` nearest distinct sources, so the loop is compiled here with numba.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np

__all__ = ["nearest_labels", "undirected_csr"]


@numba.njit(cache=True, nogil=True)
def _holds(lab, v, count, s):  # pragma: no cover - compiled
    """Whether node ``v``'s first ``count`` labels include ``s``."""
    for j in range(count):  # noqa: SIM110 - a plain loop compiles in numba; any() of a generator does not
        if lab[v, j] == s:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _labels(indptr, indices, weights, src_node, src_cost, src_label, k, target, n_target):  # pragma: no cover
    n = len(indptr) - 1
    lab = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.inf)
    via = np.full((n, k), -1, dtype=np.int64)
    cnt = np.zeros(n, dtype=np.int64)
    heap = [(0.0, np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    for i in range(len(src_node)):
        heapq.heappush(heap, (src_cost[i], np.int64(src_node[i]), np.int64(src_label[i]), np.int64(i)))
    done = 0
    while len(heap):
        d, v, s, i = heapq.heappop(heap)
        c = cnt[v]
        if c >= k:
            continue
        if _holds(lab, v, c, s):
            continue
        lab[v, c] = s
        dist[v, c] = d
        via[v, c] = i
        cnt[v] = c + 1
        if c + 1 == k and target[v]:
            done += 1
            if done == n_target:
                break
        for e in range(indptr[v], indptr[v + 1]):
            u = indices[e]
            cu = cnt[u]
            if cu >= k:
                continue
            if not _holds(lab, u, cu, s):
                heapq.heappush(heap, (d + weights[e], np.int64(u), s, i))
    return lab, dist, via


def undirected_csr(n_nodes: int, u: np.ndarray, v: np.ndarray,
                   w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both directions of each edge as CSR arrays ``(indptr, indices, weights)`` for :func:`nearest_labels`."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.asarray(w, dtype="float64")
    if len(w) and (not np.isfinite(w).all() or w.min() < 0):
        raise ValueError("nearest_labels: edge weights must be finite and non-negative")
    tails = np.concatenate([u, v])
    order = np.argsort(tails, kind="stable")
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n_nodes), out=indptr[1:])
    return indptr, np.concatenate([v, u])[order], np.concatenate([w, w])[order]


def nearest_labels(graph: tuple[np.ndarray, np.ndarray, np.ndarray], src_node: np.ndarray, src_cost: np.ndarray,
                   src_label: np.ndarray, k: int,
                   targets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` cheapest distinct labels reaching each node of an undirected graph.

    Parameters
    ----------
    graph : tuple of numpy.ndarray
        The graph as :func:`undirected_csr` gives it (non-negative weights).
    src_node, src_cost, src_label : numpy.ndarray
        The starts: a node, the cost already spent to stand there, and the label (e.g. a shelter position) it
        carries. A label may start at several nodes (a shelter with several road exits).
    k : int
        Labels kept per node.
    targets : numpy.ndarray, optional
        The nodes whose labels are wanted: the search stops once each holds ``k`` (default: every node).

    Returns
    -------
    tuple of numpy.ndarray
        ``(label, cost, start)``, each ``(n_nodes, k)``, in increasing cost per node: the label, its cost, and
        the position in ``src_*`` of the start it came from (the cheapest of that label's starts); ``-1`` /
        ``inf`` where fewer than ``k`` labels reach a node. Exact for the nodes in ``targets``.
    """
    indptr, indices, weights = graph
    n_nodes = len(indptr) - 1
    k = max(1, int(k))
    target = np.ones(n_nodes, dtype=np.bool_) if targets is None else np.zeros(n_nodes, dtype=np.bool_)
    if targets is not None:
        target[np.asarray(targets, dtype=np.int64)] = True
    ok = np.flatnonzero(np.isfinite(np.asarray(src_cost, dtype="float64")) & (np.asarray(src_node) >= 0))
    if not len(ok):
        none = np.full((n_nodes, k), -1, dtype=np.int64)
        return none, np.full((n_nodes, k), np.inf), none.copy()
    lab, dist, via = _labels(indptr, indices, weights,
                             np.asarray(src_node, dtype=np.int64)[ok], np.asarray(src_cost, dtype="float64")[ok],
                             np.asarray(src_label, dtype=np.int64)[ok], k, target, int(target.sum()))
    return lab, dist, np.where(via >= 0, ok[np.maximum(via, 0)], -1)
