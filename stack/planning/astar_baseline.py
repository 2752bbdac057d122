"""Textbook A* (plain heapq, dict of nodes): the baseline ``drive bench planning`` compares with.

Written the way A* is usually first written: tuple cells, dicts for g and parents, a set for
the closed list, bounds and obstacle checks per neighbour, heuristic computed per push. Same
grid model and tie-breaking as :mod:`drivestack.planning.astar`, so both return equal costs;
it exists to measure what the tuned layout buys, not for use in the stack.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush

import numpy as np

from drivestack.msgs import PlanStatus
from drivestack.planning.base import MOVES, GridPlanResult, check_problem


def astar_textbook(
    cost: np.ndarray,
    start: tuple[int, int],
    goal: tuple[int, int],
    lethal: float = 1.0,
    cost_weight: float = 1.0,
) -> GridPlanResult:
    """Shortest 8-connected path; see :func:`drivestack.planning.astar.astar` (Args, Returns)."""
    bad = check_problem(cost, start, goal, lethal)
    if bad is not None:
        return bad
    h_rows, w_cols = cost.shape
    start, goal = (int(start[0]), int(start[1])), (int(goal[0]), int(goal[1]))

    def heuristic(cell: tuple[int, int]) -> float:
        di, dj = abs(cell[0] - goal[0]), abs(cell[1] - goal[1])
        return max(di, dj) + (math.sqrt(2.0) - 1.0) * min(di, dj)

    def free(i: int, j: int) -> bool:
        return 0 <= i < h_rows and 0 <= j < w_cols and cost[i, j] < lethal

    g: dict[tuple[int, int], float] = {start: 0.0}
    parent: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    closed: set[tuple[int, int]] = set()
    heap = [(heuristic(start), heuristic(start), start)]
    expansions = 0
    while heap:
        _, _, u = heappop(heap)
        if u in closed:
            continue
        closed.add(u)
        expansions += 1
        if u == goal:
            path = []
            node: tuple[int, int] | None = u
            while node is not None:
                path.append(node)
                node = parent[node]
            return GridPlanResult(
                PlanStatus.OK, np.asarray(path[::-1], dtype=np.int64), g[u], expansions
            )
        for di, dj, step in MOVES:
            v = (u[0] + di, u[1] + dj)
            if not free(*v) or v in closed:
                continue
            if di and dj and not (free(u[0] + di, u[1]) and free(u[0], u[1] + dj)):
                continue
            ng = g[u] + step * (1.0 + cost_weight * float(cost[v]))
            if ng < g.get(v, math.inf):
                g[v] = ng
                parent[v] = u
                hv = heuristic(v)
                heappush(heap, (ng + hv, hv, v))
    return GridPlanResult(
        PlanStatus.NO_PATH, expansions=expansions, detail=f"goal {goal} unreachable from {start}"
    )
