"""A* as Dijkstra on heuristic-reduced edge weights, run by scipy's compiled csgraph Dijkstra.

With a consistent heuristic h, the reduced weight ``c'(u, v) = c(u, v) + h(v) - h(u)`` is
non-negative and every start-to-goal path's reduced length is its true length minus ``h(s)``
(the h terms telescope). Dijkstra on c' therefore settles cells in A*'s f-order and settles
exactly A*'s expansion set {f <= C*}: it *is* A* (Hart et al. 1968; see e.g. Goldberg &
Harrelson 2005, "ALT"). The heap loop then runs in scipy's C (Fibonacci-heap Dijkstra,
``scipy.sparse.csgraph.dijkstra``, a dependency of the stack already) instead of CPython,
and the graph is built with a handful of numpy expressions.

Details that keep it exact:

* Weights get a factor ``(1 + 1e-9)`` on the true cost, ``c'' = (1+e) c + h(v) - h(u)``:
  still telescoping (so the optimal path is unchanged) but strictly positive, so float
  rounding of ``h(v) - h(u)`` can never produce a negative weight.
* scipy cannot stop at the goal, so the search is bounded by ``limit`` on the reduced
  distance and deepened by factors of 1.5 until the goal is settled (total work <= 3x the
  last round, typically ~1.5x).
* The returned cost is the sum of the true weights along the predecessor chain.

Grid model: :mod:`drivestack.planning.base`.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from drivestack.msgs import PlanStatus
from drivestack.planning.base import (
    MOVES,
    GridPlanResult,
    check_problem,
    octile,
    padded_multipliers,
)

_EPS = 1e-9  # relative weight on the true cost that keeps reduced weights > 0


def build_graph(mult: np.ndarray, heur: np.ndarray) -> csr_matrix:
    """8-connected reduced-weight graph over the cells of a padded multiplier grid.

    Every cell stores all 8 out-edges in a fixed layout (``indptr = 0, 8, 16, ...``), so
    building is a handful of (N, 8) array expressions and no masking or sorting; edges that
    do not exist (into obstacles, cutting an obstacle corner, out of the grid) get weight
    ``inf``, which scipy's Dijkstra never relaxes.

    Args:
        mult: (H+2, W+2) entry multipliers, ``inf`` for obstacles and the border.
        heur: (H+2, W+2) consistent heuristic [cells] to the goal.

    Returns:
        (N, N) CSR matrix, N = (H+2)(W+2), weights ``(1+e) c + h(v) - h(u)`` or ``inf``.
    """
    rows, cols = mult.shape
    n = rows * cols
    free = np.isfinite(mult)  # (H+2, W+2); the border is never free
    inner = (slice(1, -1), slice(1, -1))
    h_in = heur[inner]  # (H, W)
    # Filled move by move in contiguous (H+2, W+2) planes, interleaved into CSR order once.
    reduced = np.full((len(MOVES), rows, cols), np.inf)  # (8, H+2, W+2); the border stays inf
    offsets = np.empty(len(MOVES), dtype=np.int32)
    for k, (di, dj, step) in enumerate(MOVES):
        dst = (slice(1 + di, rows - 1 + di), slice(1 + dj, cols - 1 + dj))  # neighbour views
        w = step * mult[dst]  # (H, W) true weight of entering the neighbour, inf if blocked
        ok = free[inner]
        if di and dj:  # no corner cutting: both cells beside the diagonal must be free
            ok = ok & free[1 + di : rows - 1 + di, 1:-1] & free[1:-1, 1 + dj : cols - 1 + dj]
        with np.errstate(invalid="ignore"):  # inf + finite only; never inf - inf
            r = (1.0 + _EPS) * w + (heur[dst] - h_in)
        # Strictly positive even after rounding; inf where the edge does not exist.
        reduced[k, 1:-1, 1:-1] = np.where(ok, np.maximum(r, _EPS * w), np.inf)
        offsets[k] = di * cols + dj
    nbr = np.arange(n, dtype=np.int32)[:, None] + offsets[None, :]  # (N, 8), int32 as scipy uses
    np.clip(nbr, 0, n - 1, out=nbr)  # only border cells leave the grid; their edges are inf
    indptr = np.arange(0, len(MOVES) * n + 1, len(MOVES), dtype=np.int32)  # (N+1,)
    data = reduced.reshape(len(MOVES), n).T.reshape(-1)  # (N * 8,) row-major by source cell
    return csr_matrix((data, nbr.reshape(-1), indptr), shape=(n, n))


def astar_csgraph(
    cost: np.ndarray,
    start: tuple[int, int],
    goal: tuple[int, int],
    lethal: float = 1.0,
    cost_weight: float = 1.0,
    time_budget: float | None = None,
) -> GridPlanResult:
    """Shortest 8-connected path; same contract as :func:`drivestack.planning.astar.astar`.

    Args:
        cost: (H, W) float cost grid; ``>= lethal`` is an obstacle.
        start: (row, col) start cell.
        goal: (row, col) goal cell.
        lethal: Obstacle threshold.
        cost_weight: Entering cell v costs ``step * (1 + cost_weight * cost[v])``.
        time_budget: [s]; checked between deepening rounds. When it runs out the path leads
            to the settled cell nearest the goal and status is BUDGET_EXHAUSTED.

    Returns:
        A :class:`GridPlanResult`; ``expansions`` counts cells settled in the last round
        (A*'s closed set).
    """
    bad = check_problem(cost, start, goal, lethal)
    if bad is not None:
        return bad
    t0 = time.perf_counter()
    rows, cols = cost.shape[0] + 2, cost.shape[1] + 2
    mult = padded_multipliers(cost, lethal, cost_weight)  # (H+2, W+2)
    di = np.arange(rows)[:, None] - (goal[0] + 1)  # (H+2, 1)
    dj = np.arange(cols)[None, :] - (goal[1] + 1)  # (1, W+2)
    heur = np.asarray(octile(di, dj))  # (H+2, W+2) by broadcasting
    graph = build_graph(mult, heur)
    s = (start[0] + 1) * cols + start[1] + 1
    t = (goal[0] + 1) * cols + goal[1] + 1
    flat_h = heur.ravel()

    limit = 0.1 * float(flat_h[s]) + 4.0  # [cells] first bound on C* - h(s)
    finite = graph.data[np.isfinite(graph.data)]
    w_max = float(finite.max()) if finite.size else 0.0
    prev_count = -1
    while True:
        dist, pred = dijkstra(graph, indices=s, return_predecessors=True, limit=limit)
        settled = np.isfinite(dist)  # (N,)
        count = int(settled.sum())
        if settled[t]:
            path = _trace(pred, s, t, cols)
            return GridPlanResult(PlanStatus.OK, path, _true_cost(cost, path, cost_weight), count)
        if count == prev_count and limit / 2.0 >= w_max:
            # Nothing new within a bound one edge wider than the last: every settled cell's
            # neighbours are settled, so the start's component is exhausted.
            return GridPlanResult(
                PlanStatus.NO_PATH,
                expansions=count,
                detail=f"goal {tuple(goal)} unreachable from {tuple(start)}",
            )
        if time_budget is not None and time.perf_counter() - t0 > time_budget:
            idx = np.flatnonzero(settled)
            best = int(idx[np.argmin(flat_h[idx])])
            path = _trace(pred, s, best, cols)
            return GridPlanResult(
                PlanStatus.BUDGET_EXHAUSTED,
                path,
                _true_cost(cost, path, cost_weight),
                count,
                detail=f"budget exhausted at bound {limit:.1f}; partial path to the settled "
                "cell nearest the goal",
            )
        prev_count = count
        limit *= 1.5


def _trace(pred: np.ndarray, s: int, end: int, cols: int) -> np.ndarray:
    """(N, 2) int64 unpadded (row, col) cells from ``s`` to ``end`` along predecessors."""
    cells = [end]
    u = end
    while u != s:
        u = int(pred[u])
        cells.append(u)
    flat = np.asarray(cells[::-1], dtype=np.int64)  # (N,)
    return np.stack([flat // cols - 1, flat % cols - 1], axis=1)  # (N, 2)


def _true_cost(cost: np.ndarray, path: np.ndarray, cost_weight: float) -> float:
    """Sum of true move costs along a path (vectorised; path moves are legal by construction)."""
    if len(path) < 2:
        return 0.0
    steps = np.where(np.abs(np.diff(path, axis=0)).sum(axis=1) == 2, math.sqrt(2.0), 1.0)
    entered = cost[path[1:, 0], path[1:, 1]].astype(np.float64)  # (N-1,)
    return float(np.sum(steps * (1.0 + cost_weight * entered)))
