"""D* Lite (Koenig & Likhachev 2002, optimised version with ``km``), compiled with numba.

The same algorithm, grid model, move order and float arithmetic as the readable reference
:mod:`drivestack.planning.dstar_lite` (read that first: it explains ``km``, the tolerant key
comparison and the two deliberate differences from the paper), with the loops compiled by
numba (``@njit(cache=True)``, as :mod:`drivestack.planning.astar_numba`). Both expand the same
cells in the same order and so report the same expansions and costs (property-tested).

What lives between replans, all in numpy arrays the :class:`DStarLiteNumba` object owns:

* ``g``, ``rhs``: (N,) float64 over the grid padded by one obstacle cell (flat index).
* ``mult``: (N,) float64 entry multipliers, ``inf`` = obstacle/border (the current map).
* The priority queue U as an *indexed* binary heap: slots ``hk1``, ``hk2`` (the key),
  ``hc`` (the cell), and ``pos[u]`` = u's slot or -1. Removing a cell that became consistent
  and changing a key are O(log N) in place, so U holds each cell at most once and nothing
  stale is ever popped. Order is (k1, k2, cell): the reference's lazy-deletion heap of
  ``(k1, k2, cell)`` tuples pops valid entries in exactly this order.

A replan does what the reference does: ``km`` grows by the octile distance the robot moved;
the new grid's multipliers are compared with the stored ones and only the changed cells and
their 8 neighbours (diagonal edges depend on the cells they cut past) get a fresh ``rhs``;
then the compiled ``ComputeShortestPath`` repairs the inconsistent part. The octile distance
to the start is computed when a key is (no table to rebuild when the robot moves).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from drivestack.msgs import PlanStatus
from drivestack.planning.base import SQRT2, GridPlanResult, check_problem, padded_multipliers

_CHUNK = 2048  # expansions between clock reads when a time budget is set
_KEY_TOL = 1e-9  # as the reference's _KEY_TOL (relative tie tolerance on k1)
_DONE, _PAUSED = 0, 1  # _compute return codes
_SIZE, _EXPANSIONS = 0, 1  # indices into the int64 ``counters`` state array


@njit(cache=True)
def _less(a1: float, a2: float, ac: int, b1: float, b2: float, bc: int) -> bool:
    """Lexicographic (k1, k2, cell) order of two heap entries."""
    if a1 != b1:
        return a1 < b1
    if a2 != b2:
        return a2 < b2
    return ac < bc


@njit(cache=True)
def _sift(
    hk1: np.ndarray, hk2: np.ndarray, hc: np.ndarray, pos: np.ndarray, size: int, i: int,
    k1: float, k2: float, u: int,
) -> None:  # fmt: skip
    """Places cell ``u`` with key (k1, k2) into the hole at slot ``i``, moving up or down."""
    while i > 0:  # up: parents with a larger key come down into the hole
        p = (i - 1) >> 1
        if not _less(k1, k2, u, hk1[p], hk2[p], hc[p]):
            break
        hk1[i], hk2[i], hc[i] = hk1[p], hk2[p], hc[p]
        pos[hc[i]] = i
        i = p
    while True:  # down: the smaller child goes up into the hole
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and _less(hk1[c + 1], hk2[c + 1], hc[c + 1], hk1[c], hk2[c], hc[c]):
            c += 1
        if not _less(hk1[c], hk2[c], hc[c], k1, k2, u):
            break
        hk1[i], hk2[i], hc[i] = hk1[c], hk2[c], hc[c]
        pos[hc[i]] = i
        i = c
    hk1[i], hk2[i], hc[i] = k1, k2, u
    pos[u] = i


@njit(cache=True)
def _remove(
    hk1: np.ndarray, hk2: np.ndarray, hc: np.ndarray, pos: np.ndarray, size: int, u: int
) -> int:
    """Removes cell ``u`` from the heap if it is in it; returns the new size."""
    i = pos[u]
    if i < 0:
        return size
    pos[u] = -1
    size -= 1
    if i < size:  # the last entry fills the hole
        _sift(hk1, hk2, hc, pos, size, i, hk1[size], hk2[size], hc[size])
    return size


@njit(cache=True)
def _h(a: int, b: int, wp: int) -> float:
    """Octile distance between flat cells, as the reference's table computes it."""
    di, dj = abs(a // wp - b // wp), abs(a % wp - b % wp)
    return max(di, dj) + (SQRT2 - 1.0) * min(di, dj)


@njit(cache=True)
def _edge(mult: np.ndarray, s: int, k: int, wp: int) -> float:
    """c(s, s + move k): inf if s is blocked or a diagonal cuts past an obstacle corner.

    Move order (straight first) is the reference's: +1, +wp, -1, -wp, then diagonals.
    """
    if mult[s] == np.inf:
        return np.inf
    if k == 0:
        return mult[s + 1]
    if k == 1:
        return mult[s + wp]
    if k == 2:
        return mult[s - 1]
    if k == 3:
        return mult[s - wp]
    di = wp if k < 6 else -wp
    dj = 1 if k == 4 or k == 6 else -1
    if mult[s + di] == np.inf or mult[s + dj] == np.inf:
        return np.inf
    return SQRT2 * mult[s + di + dj]


@njit(cache=True)
def _offset(k: int, wp: int) -> int:
    """Flat offset of move k (order as in :func:`_edge`)."""
    if k < 4:
        return (1, wp, -1, -wp)[k]
    return (wp + 1, wp - 1, -wp + 1, -wp - 1)[k - 4]


@njit(cache=True)
def _best_successor(mult: np.ndarray, g: np.ndarray, s: int, wp: int) -> tuple[float, int]:
    """min over moves of c(s, s') + g(s') and the first arg-min in move order (-1 if none)."""
    best, arg = np.inf, -1
    for k in range(8):
        c = _edge(mult, s, k, wp)
        if c < np.inf:
            v = s + _offset(k, wp)
            if c + g[v] < best:
                best, arg = c + g[v], v
    return best, arg


@njit(cache=True)
def _update_vertex(
    g: np.ndarray, rhs: np.ndarray, pos: np.ndarray, hk1: np.ndarray, hk2: np.ndarray,
    hc: np.ndarray, size: int, u: int, start: int, km: float, wp: int,
) -> int:  # fmt: skip
    """Queues u with its current key if it is inconsistent, else dequeues it; returns size."""
    if g[u] != rhs[u]:
        m = min(g[u], rhs[u])
        k1, k2 = m + _h(u, start, wp) + km, m
        if pos[u] < 0:  # append a hole at the end
            size += 1
            _sift(hk1, hk2, hc, pos, size, size - 1, k1, k2, u)
        else:
            _sift(hk1, hk2, hc, pos, size, pos[u], k1, k2, u)
        return size
    return _remove(hk1, hk2, hc, pos, size, u)


@njit(cache=True)
def _apply_costs(
    cost: np.ndarray, lethal: float, weight: float, mult: np.ndarray, wp: int,
    changed: np.ndarray,
) -> int:  # fmt: skip
    """Writes the new (H, W) float64 grid's multipliers into ``mult``; returns how many changed.

    The multiplier is :func:`drivestack.planning.base.padded_multipliers`' (the same float64
    ops) in one pass with the diff: the flat indices of the cells whose multiplier changed go
    to ``changed[:count]`` (inf == inf is unchanged).
    """
    n = 0
    for i in range(cost.shape[0]):
        for j in range(cost.shape[1]):
            u = (i + 1) * wp + j + 1
            m = np.inf if cost[i, j] >= lethal else 1.0 + weight * cost[i, j]
            if m != mult[u]:
                mult[u] = m
                changed[n] = u
                n += 1
    return n


@njit(cache=True)
def _repair(
    mult: np.ndarray, g: np.ndarray, rhs: np.ndarray, pos: np.ndarray, hk1: np.ndarray,
    hk2: np.ndarray, hc: np.ndarray, counters: np.ndarray, changed: np.ndarray, start: int,
    goal: int, km: float, wp: int, rows: int,
) -> None:  # fmt: skip
    """Fresh rhs for every cell with a changed outgoing edge (changed cells + 8 neighbours).

    A cell reached twice gets the same rhs twice (g does not change here), so no dedup.
    """
    size = counters[_SIZE]
    for v in changed:
        for k in range(-1, 8):
            u = v if k < 0 else v + _offset(k, wp)
            i, j = u // wp, u % wp
            if u == goal or i == 0 or j == 0 or i == rows - 1 or j == wp - 1:
                continue  # border cells stay blocked with g = rhs = inf
            rhs[u] = _best_successor(mult, g, u, wp)[0]
            size = _update_vertex(g, rhs, pos, hk1, hk2, hc, size, u, start, km, wp)
    counters[_SIZE] = size


@njit(cache=True)
def _compute(
    mult: np.ndarray, g: np.ndarray, rhs: np.ndarray, pos: np.ndarray, hk1: np.ndarray,
    hk2: np.ndarray, hc: np.ndarray, counters: np.ndarray, start: int, goal: int, km: float,
    wp: int, max_steps: int,
) -> int:  # fmt: skip
    """ComputeShortestPath for at most ``max_steps`` expansions; ``_DONE`` or ``_PAUSED``.

    Line by line the reference's ``_compute_shortest_path`` with the heap inlined.
    """
    size = counters[_SIZE]
    steps = 0
    status = _DONE
    while size > 0:
        k1, k2, u = hk1[0], hk2[0], hc[0]
        m = min(g[start], rhs[start])
        start_k1 = m + km  # h(start, start) = 0
        if start_k1 == np.inf:
            below = k1 < np.inf
        else:
            below = k1 <= start_k1 + _KEY_TOL * max(1.0, abs(start_k1))
        if not (below or rhs[start] > g[start]):
            break
        if steps >= max_steps:
            status = _PAUSED
            break
        mu = min(g[u], rhs[u])
        n1, n2 = mu + _h(u, start, wp) + km, mu
        if k1 < n1 or (k1 == n1 and k2 < n2):  # key grew since insertion (robot moved)
            _sift(hk1, hk2, hc, pos, size, 0, n1, n2, u)
            continue
        steps += 1
        size = _remove(hk1, hk2, hc, pos, size, u)
        if g[u] > rhs[u]:  # overconsistent: lower g, propagate to predecessors
            g[u] = rhs[u]
            gu = g[u]
            for k in range(8):
                s = u - _offset(k, wp)  # predecessor s with s + offset == u
                if s == goal:
                    continue
                c = _edge(mult, s, k, wp)
                if c + gu < rhs[s]:
                    rhs[s] = c + gu
                    size = _update_vertex(g, rhs, pos, hk1, hk2, hc, size, s, start, km, wp)
        else:  # underconsistent: raise g to inf, re-derive rhs of dependants
            g_old = g[u]
            g[u] = np.inf
            for k in range(8):
                s = u - _offset(k, wp)
                c = _edge(mult, s, k, wp)
                if s != goal and c < np.inf and rhs[s] == c + g_old:
                    rhs[s] = _best_successor(mult, g, s, wp)[0]
                size = _update_vertex(g, rhs, pos, hk1, hk2, hc, size, s, start, km, wp)
            if u != goal:
                rhs[u] = _best_successor(mult, g, u, wp)[0]
            size = _update_vertex(g, rhs, pos, hk1, hk2, hc, size, u, start, km, wp)
    counters[_SIZE] = size
    counters[_EXPANSIONS] += steps
    return status


@njit(cache=True)
def _extract(
    mult: np.ndarray, g: np.ndarray, start: int, goal: int, wp: int, out: np.ndarray
) -> tuple[int, float]:
    """Greedy descent of c + g from the start into ``out``; (length, cost) or (-1, inf).

    The cost is summed edge by edge from the start, the order and terms of
    :func:`drivestack.planning.base.path_cost`. -1 means the descent got stuck or looped,
    which a consistent search cannot produce; the caller reports it, never loops on it.
    """
    seen = np.zeros(mult.size, dtype=np.bool_)
    u, n, total = start, 1, 0.0
    out[0] = u
    seen[u] = True
    while u != goal:
        best, arg = _best_successor(mult, g, u, wp)
        if arg == -1 or best == np.inf or seen[arg]:
            return -1, np.inf
        d = arg - u  # the edge cost as path_cost computes it: step * (1 + w * cost)
        step = 1.0 if d == 1 or d == -1 or d == wp or d == -wp else SQRT2
        total += step * mult[arg]
        u = arg
        seen[u] = True
        out[n] = u
        n += 1
    return n, total


class DStarLiteNumba:
    """Incremental planner from a moving start to a fixed goal on a changing cost grid.

    Same contract as :class:`drivestack.planning.dstar_lite.DStarLite`.

    Args:
        cost: (H, W) float cost grid; ``>= lethal`` is an obstacle.
        start: (row, col) robot cell.
        goal: (row, col) goal cell.
        lethal: Obstacle threshold.
        cost_weight: Entering cell v costs ``step * (1 + cost_weight * cost[v])``.
    """

    def __init__(
        self,
        cost: np.ndarray,
        start: tuple[int, int],
        goal: tuple[int, int],
        lethal: float = 1.0,
        cost_weight: float = 1.0,
    ) -> None:
        self.lethal = float(lethal)
        self.cost_weight = float(cost_weight)
        self.shape = tuple(cost.shape)
        self.wp = self.shape[1] + 2  # padded row stride
        self.rows = self.shape[0] + 2
        self.cost = np.array(cost, dtype=np.float64)  # (H, W) a copy, checked at the first replan
        self.mult = padded_multipliers(self.cost, lethal, cost_weight).ravel()  # (N,)
        n = self.mult.size
        self.g = np.full(n, np.inf)  # (N,)
        self.rhs = np.full(n, np.inf)  # (N,)
        self.pos = np.full(n, -1, dtype=np.int64)  # (N,) heap slot or -1
        self.hk1, self.hk2 = np.empty(n), np.empty(n)  # (N,) heap keys
        self.hc = np.empty(n, dtype=np.int64)  # (N,) heap cells
        self.counters = np.zeros(2, dtype=np.int64)  # heap size, expansions
        self._changed = np.empty(n, dtype=np.int64)  # (N,) buffer: cells changed by a map update
        self.km = 0.0
        self.goal_cell = (int(goal[0]), int(goal[1]))
        self.start_cell = (int(start[0]), int(start[1]))
        self.goal = self._flat(self.goal_cell)
        self.start = self._flat(self.start_cell)
        self.last = self.start
        self.initialized = False

    def _flat(self, cell: tuple[int, int]) -> int:
        return (cell[0] + 1) * self.wp + cell[1] + 1

    def replan(
        self,
        cost: np.ndarray | None = None,
        start: tuple[int, int] | None = None,
        time_budget: float | None = None,
    ) -> GridPlanResult:
        """Moves the robot and/or applies a new cost grid, repairs the search, returns a path.

        Args:
            cost: (H, W) new cost grid (same shape), or None if unchanged. Only cells whose
                cost differs from the previous grid are processed.
            start: (row, col) new robot cell, or None if it did not move.
            time_budget: [s] for the repair, read every ``_CHUNK`` expansions; when it runs
                out the result is BUDGET_EXHAUSTED with no path and the repair resumes on the
                next call.

        Returns:
            A :class:`GridPlanResult`; ``expansions`` counts this call's work only.
        """
        if cost is not None and tuple(cost.shape) != self.shape:
            return GridPlanResult(
                PlanStatus.INVALID_INPUT,
                detail=f"cost: shape {tuple(cost.shape)} differs from the planner's {self.shape}",
            )
        new_start = self.start_cell if start is None else (int(start[0]), int(start[1]))
        new_cost = self.cost
        if cost is not None:
            # A float64 copy, as the reference's: the caller may reuse its array, and one
            # compiled specialisation serves every input dtype (nothing compiles in a tick).
            new_cost = np.ascontiguousarray(cost, dtype=np.float64)
            new_cost = new_cost.copy() if new_cost is cost else new_cost
        bad = check_problem(new_cost, new_start, self.goal_cell, self.lethal)
        if bad is not None and bad.status == PlanStatus.INVALID_INPUT:
            return bad
        deadline = None if time_budget is None else time.perf_counter() + time_budget

        changed = None
        if cost is not None:  # new multipliers, and the cells whose multiplier changed
            k = _apply_costs(new_cost, self.lethal, self.cost_weight, self.mult, self.wp,
                             self._changed)  # fmt: skip
            changed, self.cost = self._changed[:k], new_cost
        if new_start != self.start_cell:
            self.start_cell, self.start = new_start, self._flat(new_start)
            if self.initialized:  # km follows every move (see the reference)
                self.km += _h(self.last, self.start, self.wp)
            self.last = self.start
        args = (self.mult, self.g, self.rhs, self.pos, self.hk1, self.hk2, self.hc, self.counters)
        if not self.initialized:
            self.rhs[self.goal] = 0.0
            self.counters[_SIZE] = _update_vertex(
                self.g, self.rhs, self.pos, self.hk1, self.hk2, self.hc,
                int(self.counters[_SIZE]), self.goal, self.start, self.km, self.wp,
            )  # fmt: skip
            self.initialized = True
        elif changed is not None and changed.size:
            _repair(*args, changed, self.start, self.goal, self.km, self.wp, self.rows)
        if bad is not None:  # start or goal in an obstacle: the map update is kept
            return bad
        done = self.counters[_EXPANSIONS]
        while True:
            steps = self.mult.size if deadline is None else _CHUNK
            code = _compute(*args, self.start, self.goal, self.km, self.wp, steps)
            expansions = int(self.counters[_EXPANSIONS] - done)
            if code == _DONE:
                break
            if deadline is not None and time.perf_counter() > deadline:
                return GridPlanResult(
                    PlanStatus.BUDGET_EXHAUSTED,
                    expansions=expansions,
                    detail=f"repair unfinished after {expansions} expansions; resumes next call",
                )
        # As in the reference: the start may stay queued (g = inf) with its rhs the cost.
        if min(self.g[self.start], self.rhs[self.start]) == math.inf:
            return GridPlanResult(
                PlanStatus.NO_PATH,
                expansions=expansions,
                detail=f"goal {self.goal_cell} unreachable from {self.start_cell}",
            )
        out = np.empty(self.mult.size, dtype=np.int64)  # (N,) path cells, first n used
        n, total = _extract(self.mult, self.g, self.start, self.goal, self.wp, out)
        if n < 0:  # cannot happen with a consistent search; reported, never looped on
            return GridPlanResult(
                PlanStatus.NO_PATH,
                expansions=expansions,
                detail=f"D* Lite: path extraction stuck from {self.start_cell}",
            )
        flat = out[:n]  # (n,)
        path = np.stack([flat // self.wp - 1, flat % self.wp - 1], axis=1)  # (n, 2)
        return GridPlanResult(PlanStatus.OK, path, float(total), expansions)


def warm_up() -> None:
    """Loads (or compiles) the machine code: a tiny replan with a move and a map change."""
    cost = np.zeros((4, 4), np.float32)
    planner = DStarLiteNumba(cost, (0, 0), (3, 3))
    planner.replan()
    cost[1, 1] = 1.0
    planner.replan(cost, (0, 1), time_budget=1.0)
