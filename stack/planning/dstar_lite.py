"""D* Lite (Koenig & Likhachev 2002): incremental shortest paths as the map and robot change.

The search runs backwards from the goal and keeps, between ticks, its priority queue and per
cell ``g`` (current cost-to-goal estimate) and ``rhs`` (one-step lookahead). When the robot
moves, the key modifier ``km`` grows by the heuristic distance moved, so the old queue keys stay
lower bounds and need no re-sorting. When cells change cost only the cells whose outgoing edges
changed (the changed cell and its 8 neighbours, since diagonal moves depend on the cells they
cut past) get a fresh ``rhs``; ``ComputeShortestPath`` then repairs only the locally
inconsistent part of the search. This is the paper's Figure 3/4 algorithm, not repeated A*,
with two deliberate differences: ``km`` follows every robot move (this planner may search
after a move without map changes), and keys whose first component ties the start's up to
float rounding are processed too (see :func:`_key_below`).

Grid model, layout and heuristic are those of :mod:`drivestack.planning.astar` (padded flat
cells, python lists for speed); costs are comparable with A* to float precision.

The search owns mutable state (it is incremental by nature); one :class:`DStarLite` serves one
goal. Expansions count the queue pops that change a cell's ``g`` (over- and underconsistent
expansions), the same unit as A*'s expansions.
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
    padded_multipliers,
    path_cost,
)

INF = math.inf
_DEADLINE_CHECK_EVERY = 256  # expansions between clock reads
_KEY_TOL = 1e-9  # relative: keys equal in exact arithmetic may differ by float rounding


def _key_below(k1: float, start_k1: float) -> bool:
    """Whether a queued key must still be processed before the start's value is final.

    The paper compares keys lexicographically, (k1, k2) < key(start). But the first
    components of cells on equally short paths are equal only in exact arithmetic: they are
    sums taken in different orders and may differ in the last bit, and then neither the heap
    order nor the comparison sees the tie that the second component should break, and the
    search stops early with a wrong start value. So every key whose first component is within
    a relative 1e-9 of the start's is processed too: never too early, at the price of also
    expanding the (rare, small) set of exact ties.
    """
    if start_k1 == INF:
        return k1 < INF
    return k1 <= start_k1 + _KEY_TOL * max(1.0, abs(start_k1))


class _InconsistentSearch(RuntimeError):
    """The greedy descent over g found no way down: the search state is inconsistent."""


class DStarLite:
    """Incremental planner from a moving start to a fixed goal on a changing cost grid.

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
        self.lethal = lethal
        self.cost_weight = cost_weight
        self.shape = tuple(cost.shape)
        self.cost = np.array(cost, dtype=np.float64, copy=True)
        h_rows, w_cols = self.shape
        self.wp = wp = w_cols + 2
        self._mult_arr = padded_multipliers(self.cost, lethal, cost_weight)  # (H+2, W+2)
        self.mult: list[float] = self._mult_arr.ravel().tolist()
        n = (h_rows + 2) * wp
        self.g = [INF] * n
        self.rhs = [INF] * n
        self.in_queue: dict[int, tuple[float, float]] = {}  # cell -> its current key in U
        self.heap: list[tuple[float, float, int]] = []
        self.km = 0.0
        self.goal_cell = (int(goal[0]), int(goal[1]))
        self.start_cell = (int(start[0]), int(start[1]))
        self.goal = self._flat(self.goal_cell)
        self.start = self._flat(self.start_cell)
        self.last = self.start
        # (offset, step, side a, side b); straight moves have no sides to check.
        self.moves = (
            (1, 1.0, 0, 0),
            (wp, 1.0, 0, 0),
            (-1, 1.0, 0, 0),
            (-wp, 1.0, 0, 0),
            (wp + 1, SQRT2, wp, 1),
            (wp - 1, SQRT2, wp, -1),
            (-wp + 1, SQRT2, -wp, 1),
            (-wp - 1, SQRT2, -wp, -1),
        )
        self.initialized = False
        self._h_start: list[float] = []
        self._h_start_for = -1

    # --- grid helpers -------------------------------------------------------------------
    def _flat(self, cell: tuple[int, int]) -> int:
        return (cell[0] + 1) * self.wp + cell[1] + 1

    def _h(self, a: int, b: int) -> float:
        """Octile distance between flat cells (admissible: every multiplier is >= 1)."""
        di = abs(a // self.wp - b // self.wp)
        dj = abs(a % self.wp - b % self.wp)
        return max(di, dj) + (SQRT2 - 1.0) * min(di, dj)

    def _edge(self, s: int, off: int, step: float, a: int, b: int) -> float:
        """c(s, s + off): inf if either end is blocked or a diagonal cuts an obstacle corner."""
        mult = self.mult
        if mult[s] == INF:
            return INF
        if a and (mult[s + a] == INF or mult[s + b] == INF):
            return INF
        return step * mult[s + off]

    def _best_successor(self, s: int) -> tuple[float, int]:
        """min over successors s' of c(s, s') + g(s'), and the arg-min (-1 if none)."""
        g = self.g
        best, arg = INF, -1
        for off, step, a, b in self.moves:
            c = self._edge(s, off, step, a, b)
            if c < INF and c + g[s + off] < best:
                best, arg = c + g[s + off], s + off
        return best, arg

    def _on_border(self, s: int) -> bool:
        i, j = divmod(s, self.wp)
        return i == 0 or j == 0 or i == self.shape[0] + 1 or j == self.wp - 1

    # --- the algorithm --------------------------------------------------------------------
    def _start_heuristic(self) -> list[float]:
        """Octile distance from the start to every (padded) cell, recomputed when it moves."""
        if self._h_start_for != self.start:
            rows, cols = self.shape[0] + 2, self.wp
            si, sj = divmod(self.start, self.wp)
            di = np.abs(np.arange(rows) - si)[:, None]  # (H+2, 1)
            dj = np.abs(np.arange(cols) - sj)[None, :]  # (1, W+2)
            table = np.maximum(di, dj) + (SQRT2 - 1.0) * np.minimum(di, dj)  # (H+2, W+2)
            self._h_start = table.ravel().tolist()
            self._h_start_for = self.start
        return self._h_start

    def _key(self, s: int) -> tuple[float, float]:
        m = min(self.g[s], self.rhs[s])
        return (m + self._h_start[s] + self.km, m)

    def _update_vertex(self, u: int) -> None:
        if self.g[u] != self.rhs[u]:
            key = self._key(u)
            self.in_queue[u] = key
            heappush(self.heap, (key[0], key[1], u))
        else:
            self.in_queue.pop(u, None)  # removal is lazy: the heap entry goes stale

    def _top(self) -> tuple[float, float, int]:
        """Top entry of U, dropping stale heap entries; (inf, inf, -1) when U is empty."""
        heap, in_queue = self.heap, self.in_queue
        while heap:
            k1, k2, u = heap[0]
            if in_queue.get(u) == (k1, k2):
                return k1, k2, u
            heappop(heap)
        return INF, INF, -1

    def _compute_shortest_path(self, deadline: float | None) -> tuple[int, bool]:
        """Repairs g until the start is consistent; returns (expansions, finished)."""
        g, rhs, in_queue = self.g, self.rhs, self.in_queue
        start, goal = self.start, self.goal
        self._start_heuristic()
        expansions = 0
        while True:
            k1, k2, u = self._top()
            if u == -1:
                return expansions, True
            m = min(g[start], rhs[start])
            start_key = (m + self.km, m)  # h(start, start) = 0
            if not (_key_below(k1, start_key[0]) or rhs[start] > g[start]):
                return expansions, True
            if (
                deadline is not None
                and expansions % _DEADLINE_CHECK_EVERY == _DEADLINE_CHECK_EVERY - 1
                and time.perf_counter() > deadline
            ):
                return expansions, False
            k_new = self._key(u)
            if (k1, k2) < k_new:
                in_queue[u] = k_new  # key grew since insertion (robot moved): re-queue
                heappush(self.heap, (k_new[0], k_new[1], u))
                continue
            expansions += 1
            heappop(self.heap)
            if g[u] > rhs[u]:  # overconsistent: lower g, propagate to predecessors
                g[u] = rhs[u]
                del in_queue[u]
                gu = g[u]
                for off, step, a, b in self.moves:
                    s = u - off  # predecessor s with s + off == u
                    if s == goal:
                        continue
                    c = self._edge(s, off, step, a, b)
                    if c + gu < rhs[s]:
                        rhs[s] = c + gu
                        self._update_vertex(s)
            else:  # underconsistent: raise g to inf, re-derive rhs of dependants
                g_old = g[u]
                g[u] = INF
                dependants = [u - off for off, _, _, _ in self.moves]
                for s, (off, step, a, b) in zip(dependants, self.moves, strict=True):
                    c = self._edge(s, off, step, a, b)
                    if s != goal and c < INF and rhs[s] == c + g_old:
                        rhs[s] = self._best_successor(s)[0]
                    self._update_vertex(s)
                if u != goal:
                    rhs[u] = self._best_successor(u)[0]
                self._update_vertex(u)

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
            time_budget: [s] for the repair; when it runs out the result is
                BUDGET_EXHAUSTED with no path and the repair resumes on the next call.

        Returns:
            A :class:`GridPlanResult`; ``expansions`` counts this call's work only.
        """
        if cost is not None and tuple(cost.shape) != self.shape:
            return GridPlanResult(
                PlanStatus.INVALID_INPUT,
                detail=f"cost: shape {tuple(cost.shape)} differs from the planner's {self.shape}",
            )
        new_cost = self.cost if cost is None else np.asarray(cost, dtype=np.float64)
        new_start = self.start_cell if start is None else (int(start[0]), int(start[1]))
        bad = check_problem(new_cost, new_start, self.goal_cell, self.lethal)
        if bad is not None and bad.status == PlanStatus.INVALID_INPUT:
            return bad
        deadline = None if time_budget is None else time.perf_counter() + time_budget

        if not self.initialized:
            if cost is not None:
                self._apply_costs(new_cost)
            self.start_cell, self.start = new_start, self._flat(new_start)
            self.last = self.start
            self._start_heuristic()
            self.rhs[self.goal] = 0.0
            self._update_vertex(self.goal)
            self.initialized = True
        else:
            if new_start != self.start_cell:
                self.start_cell, self.start = new_start, self._flat(new_start)
                # km grows by the heuristic distance moved (paper, line 33'): every queued key
                # then stays a lower bound of its key for the new start. The paper does this
                # only when costs change, because it only searches then; this planner also
                # searches after a pure move, so km must follow every move.
                self.km += self._h(self.last, self.start)
                self.last = self.start
            self._start_heuristic()  # keys of cells touched below use the new start
            if cost is not None:
                changed = self._apply_costs(new_cost)
                if changed.size:
                    self._repair_rhs(changed)
        if bad is not None:  # start or goal in an obstacle: the map update is kept
            return bad
        expansions, finished = self._compute_shortest_path(deadline)
        if not finished:
            return GridPlanResult(
                PlanStatus.BUDGET_EXHAUSTED,
                expansions=expansions,
                detail=f"repair unfinished after {expansions} expansions; resumes next call",
            )
        # The optimised loop may stop with the start itself still queued (g = inf); its
        # rhs, one step of lookahead over consistent successors, is the path cost then.
        if min(self.g[self.start], self.rhs[self.start]) == INF:
            return GridPlanResult(
                PlanStatus.NO_PATH,
                expansions=expansions,
                detail=f"goal {self.goal_cell} unreachable from {self.start_cell}",
            )
        try:
            path, total = self._extract_path()
        except _InconsistentSearch as err:
            return GridPlanResult(
                PlanStatus.NO_PATH, expansions=expansions, detail=f"D* Lite: {err}"
            )
        return GridPlanResult(PlanStatus.OK, path, total, expansions)

    def _apply_costs(self, new_cost: np.ndarray) -> np.ndarray:
        """Stores the new grid; returns the flat padded indices of cells whose edges changed."""
        new_mult = padded_multipliers(new_cost, self.lethal, self.cost_weight)  # (H+2, W+2)
        changed = np.flatnonzero(new_mult != self._mult_arr)  # inf == inf counts as unchanged
        mult = self.mult
        for idx, value in zip(changed.tolist(), new_mult.ravel()[changed].tolist(), strict=True):
            mult[idx] = value
        self._mult_arr = new_mult
        self.cost = np.array(new_cost, dtype=np.float64, copy=True)
        return changed

    def _repair_rhs(self, changed: np.ndarray) -> None:
        """Re-derives rhs of every cell with a changed outgoing edge (cell + 8 neighbours)."""
        affected: set[int] = set()
        offsets = [0] + [off for off, _, _, _ in self.moves]
        for v in changed.tolist():
            affected.update(v + off for off in offsets)
        for u in affected:
            if u == self.goal or self._on_border(u):
                continue  # border cells stay blocked with g = rhs = inf
            self.rhs[u] = self._best_successor(u)[0]
            self._update_vertex(u)

    def _extract_path(self) -> tuple[np.ndarray, float]:
        """Greedy descent of c + g from the start: a shortest path once the start is consistent."""
        cells = [self.start]
        u = self.start
        seen = {u}
        while u != self.goal:
            best, arg = self._best_successor(u)
            if arg == -1 or best == INF or arg in seen:
                # Cannot happen with a consistent search; reported, never looped on.
                raise _InconsistentSearch(f"path extraction stuck at cell {divmod(u, self.wp)}")
            u = arg
            seen.add(u)
            cells.append(u)
        flat = np.asarray(cells, dtype=np.int64)  # (N,)
        path = np.stack([flat // self.wp - 1, flat % self.wp - 1], axis=1)  # (N, 2)
        return path, path_cost(self.cost, path, self.lethal, self.cost_weight)
