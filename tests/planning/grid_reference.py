"""Independent reference for the grid model: Dijkstra over an explicitly enumerated graph."""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra


def dijkstra_cost(cost: np.ndarray, start: tuple[int, int], goal: tuple[int, int],
                  lethal: float = 1.0, cost_weight: float = 1.0) -> float:  # fmt: skip
    """Shortest path cost in the grid model of drivestack.planning.base, by plain loops."""
    h, w = cost.shape

    def free(i: int, j: int) -> bool:
        return 0 <= i < h and 0 <= j < w and cost[i, j] < lethal

    src, dst, wts = [], [], []
    for i in range(h):
        for j in range(w):
            if not free(i, j):
                continue
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    if (di or dj) and free(i + di, j + dj):
                        if di and dj and not (free(i + di, j) and free(i, j + dj)):
                            continue
                        step = math.sqrt(2.0) if di and dj else 1.0
                        src.append(i * w + j)
                        dst.append((i + di) * w + j + dj)
                        wts.append(step * (1.0 + cost_weight * float(cost[i + di, j + dj])))
    graph = coo_matrix((wts, (src, dst)), shape=(h * w, h * w)).tocsr()
    dist = dijkstra(graph, indices=start[0] * w + start[1])
    return float(dist[goal[0] * w + goal[1]])
