"""A* on an 8-connected cost grid (octile heuristic, exact costs), tuned for CPython.

The search is the textbook algorithm (Hart, Nilsson, Raphael 1968) with a consistent
heuristic, so each cell is expanded at most once and the returned cost is optimal in the grid
model of :mod:`drivestack.planning.base`. The speed comes from data layout, not shortcuts:

* The grid is padded by one obstacle cell, so neighbours need no bounds checks, and cells
  are flat ints; per-cell entry multipliers, heuristics, g-values and parents live in Python
  lists (indexing a list is ~5x cheaper than indexing a numpy array element by element).
* Obstacles carry multiplier ``inf``: ``g[u] + inf < g[v]`` is false, so blocked cells and
  already-closed cells (whose g is final under a consistent heuristic) need no extra test.
* Heap entries are ``(f, h, cell)``: among equal f the cell nearer the goal pops first,
  which avoids expanding whole plateaus of equal-f cells (common with octile costs).

The heuristic table is computed for all cells with one numpy expression.
"""

from __future__ import annotations

import math
import time
from heapq import heappop, heappush

import numpy as np

from drivestack.msgs import PlanStatus
from drivestack.planning.base import (
    SQRT2,
    GridPlanResult,
    check_problem,
    octile,
    padded_multipliers,
)

_DEADLINE_CHECK_EVERY = 512  # expansions between clock reads


def astar(
    cost: np.ndarray,
    start: tuple[int, int],
    goal: tuple[int, int],
    lethal: float = 1.0,
    cost_weight: float = 1.0,
    time_budget: float | None = None,
    max_expansions: int | None = None,
) -> GridPlanResult:
    """Shortest 8-connected path from ``start`` to ``goal`` on a cost grid.

    Args:
        cost: (H, W) float cost grid, row = y, col = x; ``>= lethal`` is an obstacle.
        start: (row, col) start cell.
        goal: (row, col) goal cell.
        lethal: Obstacle threshold.
        cost_weight: Entering cell v costs ``step * (1 + cost_weight * cost[v])``.
        time_budget: [s] wall-clock budget; None for unlimited.
        max_expansions: Expansion budget; None for unlimited.

    Returns:
        A :class:`GridPlanResult`. On budget exhaustion the path leads to the expanded cell
        with the smallest heuristic (nearest the goal) and status is BUDGET_EXHAUSTED.
    """
    bad = check_problem(cost, start, goal, lethal)
    if bad is not None:
        return bad
    h_rows, w_cols = cost.shape
    wp = w_cols + 2  # padded row stride
    mult_arr = padded_multipliers(cost, lethal, cost_weight)  # (H+2, W+2)
    mult = mult_arr.ravel().tolist()
    diag = (mult_arr * SQRT2).ravel().tolist()  # diagonal entry cost, precomputed once

    gi, gj = goal[0] + 1, goal[1] + 1
    ii, jj = np.mgrid[0 : h_rows + 2, 0 : w_cols + 2]  # (H+2, W+2) each
    heur = np.asarray(octile(ii - gi, jj - gj)).ravel().tolist()  # (H+2)*(W+2) [cells]

    n = (h_rows + 2) * wp
    s = (start[0] + 1) * wp + start[1] + 1
    t = gi * wp + gj
    g = [math.inf] * n
    parent = [-1] * n
    closed = bytearray(n)
    g[s] = 0.0
    heap: list[tuple[float, float, int]] = [(heur[s], heur[s], s)]
    inf = math.inf
    push, pop = heappush, heappop

    deadline = None if time_budget is None else time.perf_counter() + time_budget
    limit = math.inf if max_expansions is None else max_expansions
    expansions = 0
    best, best_h = s, heur[s]
    reached = False
    out_of_budget = False
    while heap:
        _, hu, u = pop(heap)
        if closed[u]:
            continue  # stale duplicate: lazy deletion instead of decrease-key
        closed[u] = 1
        expansions += 1
        if u == t:
            reached = True
            break
        if hu < best_h:
            best, best_h = u, hu
        if expansions >= limit or (
            deadline is not None
            and expansions % _DEADLINE_CHECK_EVERY == 0
            and time.perf_counter() > deadline
        ):
            out_of_budget = True
            break
        # The 8 neighbours, unrolled: a loop over offset tuples costs ~30% more in CPython.
        gu = g[u]
        v = u + 1
        ng = gu + mult[v]
        if ng < g[v]:
            g[v] = ng
            parent[v] = u
            push(heap, (ng + heur[v], heur[v], v))
        v = u - 1
        ng = gu + mult[v]
        if ng < g[v]:
            g[v] = ng
            parent[v] = u
            push(heap, (ng + heur[v], heur[v], v))
        v = u + wp
        ng = gu + mult[v]
        if ng < g[v]:
            g[v] = ng
            parent[v] = u
            push(heap, (ng + heur[v], heur[v], v))
        v = u - wp
        ng = gu + mult[v]
        if ng < g[v]:
            g[v] = ng
            parent[v] = u
            push(heap, (ng + heur[v], heur[v], v))
        # Diagonals: both cells cut past must be free (no corner cutting).
        up_free = mult[u + wp] != inf
        down_free = mult[u - wp] != inf
        right_free = mult[u + 1] != inf
        left_free = mult[u - 1] != inf
        if up_free and right_free:
            v = u + wp + 1
            ng = gu + diag[v]
            if ng < g[v]:
                g[v] = ng
                parent[v] = u
                push(heap, (ng + heur[v], heur[v], v))
        if up_free and left_free:
            v = u + wp - 1
            ng = gu + diag[v]
            if ng < g[v]:
                g[v] = ng
                parent[v] = u
                push(heap, (ng + heur[v], heur[v], v))
        if down_free and right_free:
            v = u - wp + 1
            ng = gu + diag[v]
            if ng < g[v]:
                g[v] = ng
                parent[v] = u
                push(heap, (ng + heur[v], heur[v], v))
        if down_free and left_free:
            v = u - wp - 1
            ng = gu + diag[v]
            if ng < g[v]:
                g[v] = ng
                parent[v] = u
                push(heap, (ng + heur[v], heur[v], v))

    if reached:
        return GridPlanResult(PlanStatus.OK, _trace(parent, t, wp), g[t], expansions)
    if out_of_budget:
        return GridPlanResult(
            PlanStatus.BUDGET_EXHAUSTED,
            _trace(parent, best, wp),
            g[best],
            expansions,
            detail=f"budget exhausted after {expansions} expansions; partial path to the "
            "expanded cell nearest the goal",
        )
    return GridPlanResult(
        PlanStatus.NO_PATH,
        expansions=expansions,
        detail=f"goal {tuple(goal)} unreachable from {tuple(start)}",
    )


def _trace(parent: list[int], end: int, wp: int) -> np.ndarray:
    """(N, 2) int64 unpadded (row, col) cells from the search root to ``end``."""
    cells = []
    u = end
    while u != -1:
        cells.append(u)
        u = parent[u]
    flat = np.asarray(cells[::-1], dtype=np.int64)  # (N,)
    return np.stack([flat // wp - 1, flat % wp - 1], axis=1)  # (N, 2)
