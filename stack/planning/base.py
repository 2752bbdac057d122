"""Planning contracts: the grid cost model every grid planner shares, and typed results.

Grid model (A*, D* Lite, the textbook baseline and the Dijkstra reference in the tests all
use exactly this, so their costs are comparable):

* A cost grid ``cost`` (H, W) float, row ``i`` is y, column ``j`` is x (as in
  :class:`drivestack.msgs.CostGrid`). A cell with ``cost >= lethal`` is an obstacle; cells
  outside the grid are obstacles.
* 8-connected moves. Entering free cell ``v`` costs ``step * (1 + cost_weight * cost[v])``
  with ``step`` 1 for straight and sqrt(2) for diagonal moves, in cells. A diagonal move is
  allowed only when both cells it cuts past are free (no corner cutting: a vehicle cannot
  squeeze between two diagonal obstacles).
* Because every multiplier is >= 1, the octile distance is an admissible and consistent
  heuristic.

A planner never raises for an unreachable or blocked goal: it returns a :class:`GridPlanResult`
whose ``status`` says why (:class:`drivestack.msgs.PlanStatus`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from drivestack.msgs import PlanStatus

SQRT2 = math.sqrt(2.0)
# (di, dj, step length [cells]); straight moves first so ties prefer them.
MOVES: tuple[tuple[int, int, float], ...] = (
    (0, 1, 1.0),
    (1, 0, 1.0),
    (0, -1, 1.0),
    (-1, 0, 1.0),
    (1, 1, SQRT2),
    (1, -1, SQRT2),
    (-1, 1, SQRT2),
    (-1, -1, SQRT2),
)


@dataclass(frozen=True)
class GridPlanResult:
    """What a grid planner returns.

    Attributes:
        status: OK (path reaches the goal), BUDGET_EXHAUSTED (time/expansion budget ran out:
            ``path`` leads from the start to the expanded cell nearest the goal, still
            collision-free), NO_PATH (start/goal blocked or goal unreachable; ``path`` empty),
            INVALID_INPUT (bad grid or cells; ``path`` empty).
        path: (N, 2) int64 cells (row, col) from start to goal, empty (0, 2) without a path.
        cost: Path cost in the grid model [cells, weighted]; ``inf`` without a path.
        expansions: Number of cells expanded (popped and processed) by this call.
        detail: Human-readable reason when ``status`` is not OK.
    """

    status: PlanStatus
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    cost: float = math.inf
    expansions: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == PlanStatus.OK


class GridPlanner(Protocol):
    """One-shot grid planner contract (A* and its textbook baseline)."""

    def __call__(
        self,
        cost: np.ndarray,
        start: tuple[int, int],
        goal: tuple[int, int],
        lethal: float = 1.0,
        cost_weight: float = 1.0,
    ) -> GridPlanResult: ...


def check_problem(
    cost: np.ndarray, start: tuple[int, int], goal: tuple[int, int], lethal: float
) -> GridPlanResult | None:
    """Returns a NO_PATH / INVALID_INPUT result if the problem has no search to run, else None.

    Args:
        cost: (H, W) cost grid.
        start: (row, col) start cell.
        goal: (row, col) goal cell.
        lethal: Cost at and above which a cell is an obstacle.
    """
    if not isinstance(cost, np.ndarray) or cost.ndim != 2 or cost.size == 0:
        shape = getattr(cost, "shape", None)
        return GridPlanResult(
            PlanStatus.INVALID_INPUT, detail=f"cost: need a 2D array, got {shape}"
        )
    if not np.isfinite(cost).all() or (cost < 0).any():
        return GridPlanResult(PlanStatus.INVALID_INPUT, detail="cost: NaN, inf or negative values")
    h, w = cost.shape
    for name, cell in (("start", start), ("goal", goal)):
        if len(cell) != 2 or not (0 <= cell[0] < h and 0 <= cell[1] < w):
            return GridPlanResult(
                PlanStatus.INVALID_INPUT, detail=f"{name} {tuple(cell)} outside grid {h}x{w}"
            )
    for name, cell in (("start", start), ("goal", goal)):
        if cost[cell[0], cell[1]] >= lethal:
            return GridPlanResult(
                PlanStatus.NO_PATH, detail=f"{name} {tuple(cell)} is in an obstacle"
            )
    return None


def padded_multipliers(cost: np.ndarray, lethal: float, cost_weight: float) -> np.ndarray:
    """Per-cell entry multiplier on a grid padded by one obstacle cell on every side.

    Args:
        cost: (H, W) cost grid.
        lethal: Obstacle threshold.
        cost_weight: Weight of cell cost in the multiplier ``1 + cost_weight * cost``.

    Returns:
        (H + 2, W + 2) float64: the multiplier, ``inf`` for obstacles and the border.
    """
    h, w = cost.shape
    mult = np.full((h + 2, w + 2), np.inf)  # (H+2, W+2)
    inner = 1.0 + cost_weight * cost.astype(np.float64)
    inner[cost >= lethal] = np.inf
    mult[1:-1, 1:-1] = inner
    return mult


def octile(di: np.ndarray | float, dj: np.ndarray | float) -> np.ndarray | float:
    """Octile distance [cells] for offsets ``di``, ``dj`` (arrays or scalars)."""
    a, b = np.abs(di), np.abs(dj)
    return np.maximum(a, b) + (SQRT2 - 1.0) * np.minimum(a, b)


def path_cost(
    cost: np.ndarray, path: np.ndarray, lethal: float = 1.0, cost_weight: float = 1.0
) -> float:
    """Cost of a cell path in the grid model, computed independently of any planner.

    Args:
        cost: (H, W) cost grid.
        path: (N, 2) cells (row, col).
        lethal: Obstacle threshold.
        cost_weight: As in :func:`padded_multipliers`.

    Returns:
        Total cost; ``inf`` if any move is not a legal 8-connected move in the model.
    """
    total = 0.0
    for (i0, j0), (i1, j1) in zip(path[:-1].tolist(), path[1:].tolist(), strict=True):
        di, dj = i1 - i0, j1 - j0
        if max(abs(di), abs(dj)) != 1 or cost[i1, j1] >= lethal:
            return math.inf
        if di and dj and (cost[i0 + di, j0] >= lethal or cost[i0, j0 + dj] >= lethal):
            return math.inf
        total += (SQRT2 if di and dj else 1.0) * (1.0 + cost_weight * float(cost[i1, j1]))
    return total


@dataclass(frozen=True)
class PosePlanResult:
    """What a kinematic planner (Hybrid A*) returns.

    Attributes:
        status: As in :class:`GridPlanResult`; on BUDGET_EXHAUSTED the path is a valid,
            collision-free partial path towards the goal.
        poses: (N, 3) float64 x [m], y [m], yaw [rad] of the rear axle, in the grid's frame;
            yaw wrapped to [-pi, pi) (a start or goal given with yaw = +pi comes back as -pi).
        directions: (N,) int8 +1 forward / -1 reverse motion reaching each pose.
        curvatures: (N,) float64 [1/m] path curvature at each pose, left positive.
        cost: Search cost (penalised length) [m]; ``inf`` without a path.
        expansions: Search nodes expanded.
        detail: Why, when status is not OK.
    """

    status: PlanStatus
    poses: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    directions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    curvatures: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cost: float = math.inf
    expansions: int = 0
    detail: str = ""
