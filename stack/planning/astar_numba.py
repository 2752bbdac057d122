"""A* on an 8-connected cost grid (octile heuristic, exact costs), compiled with numba.

The same search as :mod:`drivestack.planning.astar` (Hart, Nilsson, Raphael 1968; grid model
of :mod:`drivestack.planning.base`), with the loop compiled to machine code by numba
(``@njit(cache=True)``: the first call in a fresh environment compiles, later processes load
the machine code from ``__pycache__``). What makes it fast besides compilation:

* Flat arrays over a grid padded by one obstacle cell: no bounds checks, neighbours are
  ``u + offset``; obstacles have multiplier ``inf``, so ``g[u] + inf < g[v]`` is never true.
* An *indexed* binary heap with decrease-key (``pos[v]`` is v's slot in the heap): the heap
  never holds more than one entry per cell, so its memory is bounded by the grid size and no
  stale entries are popped. Heap order is ``(f, h)``: among equal f the cell nearer the goal
  pops first, which avoids expanding whole plateaus of equal-f cells.
* The octile heuristic is computed when a cell is first reached, not for the whole grid.

With a consistent heuristic a closed cell's g is final, so closed cells are never reopened.
The search runs in chunks of at most ``_CHUNK`` expansions; between chunks the caller reads
the clock, which is how a wall-clock budget interrupts a compiled loop. All search state lives
in numpy arrays the wrapper owns, so a chunk resumes exactly where the last one stopped.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from drivestack.msgs import PlanStatus
from drivestack.planning.base import SQRT2, GridPlanResult, check_problem, padded_multipliers

_CHUNK = 8192  # expansions between clock reads when a time budget is set

# Kernel return codes.
_REACHED, _EXHAUSTED, _PAUSED = 0, 1, 2
# pos[v] sentinels (otherwise v's slot in the heap).
_UNSEEN, _CLOSED = -1, -2
# Indices into the int64 ``counters`` state array.
_SIZE, _EXPANSIONS, _BEST = 0, 1, 2


@njit(cache=True)
def _sift_up(
    hf: np.ndarray, hh: np.ndarray, hc: np.ndarray, pos: np.ndarray, i: int,
    fv: float, hv: float, v: int,
) -> None:  # fmt: skip
    """Places cell ``v`` with keys (fv, hv) at slot ``i`` or above, moving parents down."""
    while i > 0:
        p = (i - 1) >> 1
        if hf[p] < fv or (hf[p] == fv and hh[p] <= hv):
            break
        hf[i], hh[i], hc[i] = hf[p], hh[p], hc[p]
        pos[hc[i]] = i
        i = p
    hf[i], hh[i], hc[i] = fv, hv, v
    pos[v] = i


@njit(cache=True)
def _pop(hf: np.ndarray, hh: np.ndarray, hc: np.ndarray, pos: np.ndarray, size: int) -> int:
    """Removes and returns the top cell of a heap holding ``size`` cells."""
    top = hc[0]
    size -= 1
    if size > 0:
        fv, hv, v = hf[size], hh[size], hc[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and (hf[c + 1] < hf[c] or (hf[c + 1] == hf[c] and hh[c + 1] < hh[c])):
                c += 1
            if fv < hf[c] or (fv == hf[c] and hv <= hh[c]):
                break
            hf[i], hh[i], hc[i] = hf[c], hh[c], hc[c]
            pos[hc[i]] = i
            i = c
        hf[i], hh[i], hc[i] = fv, hv, v
        pos[v] = i
    return top


@njit(cache=True)
def _search(
    mult: np.ndarray, wp: int, goal: int, g: np.ndarray, h: np.ndarray, parent: np.ndarray,
    pos: np.ndarray, hf: np.ndarray, hh: np.ndarray, hc: np.ndarray, counters: np.ndarray,
    max_steps: int,
) -> int:  # fmt: skip
    """Runs A* for at most ``max_steps`` expansions, resuming from the arrays' state.

    Args:
        mult: (N,) float64 entry multipliers of the padded grid, ``inf`` = obstacle/border.
        wp: Padded row stride.
        goal: Flat goal cell.
        g: (N,) float64 cost-to-come, ``inf`` until reached.
        h: (N,) float64 octile heuristic, set when a cell is first reached.
        parent: (N,) int64 parent cell, -1 for none.
        pos: (N,) int64 heap slot, or ``_UNSEEN`` / ``_CLOSED``.
        hf, hh, hc: (N,) heap slots: f (float64), h (float64), cell (int64); the keys sit
            beside the cell so comparisons do not chase indices.
        counters: (3,) int64 heap size, expansions so far, expanded cell with the smallest h.
        max_steps: Expansions allowed in this call.

    Returns:
        ``_REACHED`` (goal expanded), ``_EXHAUSTED`` (heap empty: no path) or ``_PAUSED``.
    """
    gi, gj = goal // wp, goal % wp
    offsets = (1, -1, wp, -wp, wp + 1, wp - 1, -wp + 1, -wp - 1)
    size = counters[_SIZE]
    best = counters[_BEST]
    steps = 0
    status = _EXHAUSTED
    while size > 0:
        if steps >= max_steps:
            status = _PAUSED
            break
        u = _pop(hf, hh, hc, pos, size)
        size -= 1
        pos[u] = _CLOSED
        steps += 1
        if u == goal:
            status = _REACHED
            break
        if h[u] < h[best]:
            best = u
        gu = g[u]
        # Diagonals need both cells they cut past free (no corner cutting).
        right, left = mult[u + 1] != np.inf, mult[u - 1] != np.inf
        down, up = mult[u + wp] != np.inf, mult[u - wp] != np.inf
        for k in range(8):
            if k == 4 and not (down and right):
                continue
            if k == 5 and not (down and left):
                continue
            if k == 6 and not (up and right):
                continue
            if k == 7 and not (up and left):
                continue
            v = u + offsets[k]
            if pos[v] == _CLOSED:
                continue
            ng = gu + (mult[v] if k < 4 else mult[v] * SQRT2)
            if ng < g[v]:
                g[v] = ng
                parent[v] = u
                slot = pos[v]
                if slot == _UNSEEN:
                    a, b = abs(v // wp - gi), abs(v % wp - gj)
                    h[v] = max(a, b) + (SQRT2 - 1.0) * min(a, b)
                    slot = size
                    size += 1
                # New entry at the end, or decrease-key (f only went down): sift up.
                _sift_up(hf, hh, hc, pos, slot, ng + h[v], h[v], v)
    counters[_SIZE] = size
    counters[_EXPANSIONS] += steps
    counters[_BEST] = best
    return status


def astar_numba(
    cost: np.ndarray,
    start: tuple[int, int],
    goal: tuple[int, int],
    lethal: float = 1.0,
    cost_weight: float = 1.0,
    time_budget: float | None = None,
    max_expansions: int | None = None,
) -> GridPlanResult:
    """Shortest 8-connected path; same contract as :func:`drivestack.planning.astar.astar`.

    Args:
        cost: (H, W) float cost grid, row = y, col = x; ``>= lethal`` is an obstacle.
        start: (row, col) start cell.
        goal: (row, col) goal cell.
        lethal: Obstacle threshold.
        cost_weight: Entering cell v costs ``step * (1 + cost_weight * cost[v])``.
        time_budget: [s] wall-clock budget, read every ``_CHUNK`` expansions; None: unlimited.
        max_expansions: Expansion budget; None for unlimited.

    Returns:
        A :class:`GridPlanResult`. On budget exhaustion the path leads to the expanded cell
        with the smallest heuristic (nearest the goal) and status is BUDGET_EXHAUSTED.
    """
    bad = check_problem(cost, start, goal, lethal)
    if bad is not None:
        return bad
    t0 = time.perf_counter()
    wp = cost.shape[1] + 2  # padded row stride
    mult = padded_multipliers(cost, lethal, cost_weight).ravel()  # (N,)
    n = mult.size
    s = (start[0] + 1) * wp + start[1] + 1
    t = (goal[0] + 1) * wp + goal[1] + 1
    g = np.full(n, np.inf)  # (N,)
    h = np.empty(n)  # (N,) only read for cells already reached
    parent = np.full(n, -1, dtype=np.int64)  # (N,)
    pos = np.full(n, _UNSEEN, dtype=np.int64)  # (N,)
    hf, hh, hc = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)  # (N,) heap slots
    di, dj = abs(start[0] - goal[0]), abs(start[1] - goal[1])
    g[s], h[s] = 0.0, max(di, dj) + (SQRT2 - 1.0) * min(di, dj)
    hf[0], hh[0], hc[0], pos[s] = h[s], h[s], s, 0
    counters = np.array([1, 0, s], dtype=np.int64)

    limit = math.inf if max_expansions is None else max_expansions
    while True:
        steps = int(min(limit - counters[_EXPANSIONS], _CHUNK if time_budget is not None else n))
        code = _search(mult, wp, t, g, h, parent, pos, hf, hh, hc, counters, max(steps, 0))
        expansions = int(counters[_EXPANSIONS])
        if code == _REACHED:
            return GridPlanResult(PlanStatus.OK, _trace(parent, t, wp), float(g[t]), expansions)
        if code == _EXHAUSTED:
            return GridPlanResult(
                PlanStatus.NO_PATH,
                expansions=expansions,
                detail=f"goal {tuple(goal)} unreachable from {tuple(start)}",
            )
        out_of_time = time_budget is not None and time.perf_counter() - t0 > time_budget
        if out_of_time or expansions >= limit:
            best = int(counters[_BEST])
            return GridPlanResult(
                PlanStatus.BUDGET_EXHAUSTED,
                _trace(parent, best, wp),
                float(g[best]),
                expansions,
                detail=f"budget exhausted after {expansions} expansions; partial path to the "
                "expanded cell nearest the goal",
            )


def _trace(parent: np.ndarray, end: int, wp: int) -> np.ndarray:
    """(N, 2) int64 unpadded (row, col) cells from the search root to ``end``."""
    cells = []
    u = end
    while u != -1:
        cells.append(u)
        u = int(parent[u])
    flat = np.asarray(cells[::-1], dtype=np.int64)  # (N,)
    return np.stack([flat // wp - 1, flat % wp - 1], axis=1)  # (N, 2)
