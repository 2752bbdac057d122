"""Synthetic planning scenes from a numpy seed: the benchmark workloads and test fixtures.

* ``random_grid``: W1/W2, an (n, n) grid with a fraction of random obstacle cells, corners free.
* ``parking_lot``: a 50 m x 24 m lot with two rows of perpendicular slots, all occupied but
  one; the car starts at the aisle's west end and must reverse into the free slot ~40 m away.
"""

from __future__ import annotations

import math

import numpy as np

from drivestack.msgs import CostGrid

SLOT_WIDTH = 2.7  # [m]
CAR_LENGTH, CAR_WIDTH = 4.5, 1.9  # [m] parked cars


def random_grid(n: int, obstacle_fraction: float, seed: int) -> np.ndarray:
    """(n, n) float32 grid: 1.0 obstacles with the given fraction, 0.0 free; corners free."""
    rng = np.random.default_rng(seed)
    grid = (rng.random((n, n)) < obstacle_fraction).astype(np.float32)
    grid[0, 0] = grid[-1, -1] = 0.0
    return grid


def parking_lot(
    resolution: float = 0.2, free_slot: int = 14, seed: int = 0
) -> tuple[CostGrid, tuple[float, float, float], tuple[float, float, float]]:
    """A parking-lot grid with start and goal rear-axle poses (40 m apart along the aisle).

    Args:
        resolution: [m] cell edge.
        free_slot: Index of the empty slot in the south row (slot k spans x from
            ``2 + k * SLOT_WIDTH``).
        seed: Jitters the parked cars' positions (+-0.15 m) and headings (+-3 degrees).

    Returns:
        grid: CostGrid in frame "world", origin (0, 0, 0), 1.0 = obstacle.
        start: (x, y, yaw) heading east in the aisle.
        goal: (x, y, yaw) reversed into the free slot, nose north.
    """
    rng = np.random.default_rng(seed)
    length, width = 50.0, 24.0  # [m]
    h, w = int(round(width / resolution)), int(round(length / resolution))
    ys, xs = (np.mgrid[0:h, 0:w] + 0.5) * resolution  # (H, W) cell centres [m]
    occ = np.zeros((h, w), dtype=bool)
    n_slots = int((length - 4.0) // SLOT_WIDTH)
    for row_y, nose in ((2.0 + CAR_LENGTH / 2, 1.0), (width - 2.0 - CAR_LENGTH / 2, -1.0)):
        for k in range(n_slots):
            if nose > 0 and k == free_slot:
                continue
            cx = 2.0 + (k + 0.5) * SLOT_WIDTH + rng.uniform(-0.15, 0.15)
            cy = row_y + rng.uniform(-0.15, 0.15)
            yaw = math.pi / 2 + math.radians(rng.uniform(-3, 3))
            c, s = math.cos(yaw), math.sin(yaw)
            u = c * (xs - cx) + s * (ys - cy)
            v = -s * (xs - cx) + c * (ys - cy)
            occ |= (np.abs(u) <= CAR_LENGTH / 2) & (np.abs(v) <= CAR_WIDTH / 2)
    occ[ys < 1.0] = True  # kerb walls
    occ[ys > width - 1.0] = True
    grid = CostGrid(
        stamp_ns=0,
        frame_id="world",
        cost=occ.astype(np.float32),
        origin=np.zeros(3),
        resolution=resolution,
        lethal=1.0,
    )
    slot_x = 2.0 + (free_slot + 0.5) * SLOT_WIDTH
    start = (3.5, width / 2, 0.0)
    goal = (slot_x, 2.0 + 0.9 + 0.3, math.pi / 2)  # rear axle 0.9 m ahead of the rear bumper
    return grid, start, goal


def w3_moving_blocks(
    grid: np.ndarray,
    replans: int = 20,
    move_cells: int = 10,
    block_ahead: int = 15,
    block_size: int = 5,
) -> dict[str, float | int | bool]:
    """W3: move along the path, drop a block on the path ahead, replan; D* Lite vs A*.

    Each round the robot moves ``move_cells`` cells along its current path, then a
    ``block_size`` square of obstacles is dropped centred ``block_ahead`` cells further along
    the remaining path (a newly sensed obstacle), and every planner replans from the robot.

    What each timed call does (building the new grid, the "sensing", is timed for none):

    * D* Lite (``dstar_*``: the Python reference; ``dstar_numba_*``: the compiled one): one
      ``replan(new_grid, new_start)``: checking the new grid, computing its edge multipliers
      and diffing them with the stored map, moving the start (``km``), fresh ``rhs`` for the
      changed cells, the repair search, and extracting the path with its cost. The first,
      full search is timed apart (``*_initial_s``) and is not in the replan totals.
    * A* from scratch (``astar_*``: pure Python, csgraph, numba): one call on the new grid:
      checking it, building its multipliers, the search, tracing the path.

    Returns:
        Round count, summed expansions, wall seconds (``*_s``) and CPU seconds of this process
        (``*_cpu_s``) per planner, and whether all costs agreed
        every round (within 1e-6), and whether both D* Lites expanded as many cells every round.
    """
    import time
    from collections.abc import Callable
    from typing import Any

    from drivestack.planning.astar import astar
    from drivestack.planning.astar_csgraph import astar_csgraph
    from drivestack.planning.astar_numba import astar_numba
    from drivestack.planning.base import GridPlanResult
    from drivestack.planning.dstar_lite import DStarLite
    from drivestack.planning.dstar_lite_numba import DStarLiteNumba

    stats: dict[str, float | int | bool] = {}

    def timed(name: str, call: Callable[..., GridPlanResult], *args: Any) -> GridPlanResult:
        """Runs ``call(*args)``, adding its wall and CPU (this process) seconds to ``name``'s."""
        t0, c0 = time.perf_counter(), time.process_time()
        out = call(*args)
        stats[f"{name}_s"] = stats.get(f"{name}_s", 0.0) + time.perf_counter() - t0
        stats[f"{name}_cpu_s"] = stats.get(f"{name}_cpu_s", 0.0) + time.process_time() - c0
        return out

    n = grid.shape[0]
    start, goal = (0, 0), (n - 1, n - 1)
    cost = grid.copy()
    planner = DStarLite(cost, start, goal)
    compiled = DStarLiteNumba(cost, start, goal)
    res = timed("dstar_initial", planner.replan)
    res_nb = timed("dstar_numba_initial", compiled.replan)
    timed("astar_numba_initial", astar_numba, cost, start, goal)
    stats.update({
        "replans": 0, "dstar_expansions": 0, "dstar_numba_expansions": 0, "astar_expansions": 0,
        "costs_equal": abs(res.cost - res_nb.cost) < 1e-6,
        "dstar_expansions_equal": res.expansions == res_nb.expansions,
        "initial_expansions": res.expansions,
    })  # fmt: skip
    half = block_size // 2
    for _ in range(replans):
        if not res.ok or len(res.path) <= move_cells + block_ahead:
            break
        start = (int(res.path[move_cells][0]), int(res.path[move_cells][1]))
        bi, bj = (int(v) for v in res.path[move_cells + block_ahead])
        cost = cost.copy()
        cost[max(bi - half, 0) : bi + half + 1, max(bj - half, 0) : bj + half + 1] = 1.0
        cost[start] = cost[goal] = 0.0
        res = timed("dstar", planner.replan, cost, start)
        res_nb = timed("dstar_numba", compiled.replan, cost, start)
        ref = timed("astar", astar, cost, start, goal)
        ref_cs = timed("astar_csgraph", astar_csgraph, cost, start, goal)
        ref_nb = timed("astar_numba", astar_numba, cost, start, goal)
        stats["replans"] += 1
        stats["dstar_expansions"] += res.expansions
        stats["dstar_numba_expansions"] += res_nb.expansions
        stats["astar_expansions"] += ref.expansions
        stats["dstar_expansions_equal"] = bool(stats["dstar_expansions_equal"]) and (
            res.expansions == res_nb.expansions
        )
        others = (res_nb, ref_cs, ref_nb, res)
        stats["costs_equal"] = bool(stats["costs_equal"]) and all(
            r.status == ref.status and (not ref.ok or abs(r.cost - ref.cost) < 1e-6) for r in others
        )
    return stats


def road_scene(seed: int = 0):
    """An urban scene for the planner pipeline: a parked car in the lane, a crossing pedestrian.

    The ego drives at 8 m/s along a gently curving logged route; a car is parked 25 m ahead
    half in the lane (the plan must swerve around it inside the corridor) and a pedestrian
    forecast crosses the route 47 m ahead at 0.6 m/s, on it from ~3 s to ~10 s (the speed
    profile must yield).

    Returns:
        :class:`drivestack.planning.pipeline.PlanInputs` (world frame "world").
    """
    from drivestack.msgs import EgoState, ObjectForecasts, Path, TrackedObjects
    from drivestack.planning.pipeline import PlanInputs

    rng = np.random.default_rng(seed)
    yaw0 = 0.2
    pose = np.eye(4)
    pose[:2, :2] = [[math.cos(yaw0), -math.sin(yaw0)], [math.sin(yaw0), math.cos(yaw0)]]
    pose[:2, 3] = [10.0, 5.0]
    ego = EgoState(
        stamp_ns=1_000_000_000, frame_id="world", pose=pose,
        velocity=np.array([8.0, 0.0, 0.0]), acceleration=np.zeros(3),
    )  # fmt: skip
    s = np.arange(-20.0, 90.0, 1.0)  # [m] along the route
    heading = yaw0 + 0.004 * np.clip(s, 0, None)  # gentle left curve
    x = 10.0 + np.concatenate([[0.0], np.cumsum(np.cos(heading[:-1]))]) - 20 * math.cos(yaw0)
    y = 5.0 + np.concatenate([[0.0], np.cumsum(np.sin(heading[:-1]))]) - 20 * math.sin(yaw0)
    route = Path(stamp_ns=ego.stamp_ns, frame_id="world", poses=np.stack([x, y, heading], axis=1))

    def along(dist: float, left: float) -> tuple[float, float, float]:
        """World pose ``dist`` m along the route (from the ego) and ``left`` m to its left."""
        k = int(np.argmin(np.abs(s - dist)))
        return x[k] - left * math.sin(heading[k]), y[k] + left * math.cos(heading[k]), heading[k]

    car = along(25.0, 1.6)  # parked half in the lane
    objects = TrackedObjects(
        stamp_ns=ego.stamp_ns, frame_id="world", track_ids=np.array([1], np.int64),
        boxes=np.array([[car[0], car[1], 0.8, 4.4, 1.8, 1.5, car[2] + 0.05]], np.float32),
        velocities=np.zeros((1, 3), np.float32), covariance=np.zeros((1, 6, 6), np.float32),
        scores=np.ones(1, np.float32), class_ids=np.array([1], np.int32), ages=np.array([12], np.int32),
    )  # fmt: skip
    horizons = np.arange(0.0, 8.01, 0.5)
    kerb = np.array(along(47.0, -4.0)[:2])
    normal = np.array([-math.sin(along(47.0, 0.0)[2]), math.cos(along(47.0, 0.0)[2])])
    walk = kerb + 0.6 * horizons[:, None] * normal  # crossing right to left at 0.6 m/s
    walk += rng.normal(0.0, 0.05, walk.shape)
    forecasts = ObjectForecasts(
        stamp_ns=ego.stamp_ns, frame_id="world", track_ids=np.array([2], np.int64), horizons=horizons,
        positions=walk[None].astype(np.float32),
        position_std=(0.2 + 0.1 * horizons)[None, :, None].repeat(2, 2).astype(np.float32),
        sizes=np.array([[0.6, 0.6, 1.7]], np.float32), class_ids=np.array([7], np.int32),
    )  # fmt: skip
    return PlanInputs(ego=ego, route=route, objects=objects, forecasts=forecasts)


def parking_scene(block_aisle: bool = False):
    """The parking lot as planner inputs: parked cars and kerb walls as tracked objects.

    The same lot as :func:`parking_lot` (without jitter): the ego waits at rest at the aisle's
    west end heading east; the route runs along the aisle and then into the free south slot,
    where its heading is the parked car's (nose north), so reaching it means reversing in.

    Args:
        block_aisle: Put a wall across the aisle halfway (the slot is then unreachable).

    Returns:
        :class:`drivestack.planning.pipeline.PlanInputs` (world frame "world").
    """
    from drivestack.msgs import EgoState, Path, TrackedObjects
    from drivestack.planning.pipeline import PlanInputs

    length, width, free_slot = 50.0, 24.0, 14  # [m], [m], slot index
    n_slots = int((length - 4.0) // SLOT_WIDTH)
    boxes = []
    for row_y, nose in ((2.0 + CAR_LENGTH / 2, 1.0), (width - 2.0 - CAR_LENGTH / 2, -1.0)):
        for k in range(n_slots):
            if nose > 0 and k == free_slot:
                continue
            cx = 2.0 + (k + 0.5) * SLOT_WIDTH
            boxes.append([cx, row_y, 0.75, CAR_LENGTH, CAR_WIDTH, 1.5, math.pi / 2])
    for wall_y in (0.5, width - 0.5):  # kerb walls, 1 m thick
        boxes.append([length / 2, wall_y, 0.5, length + 20.0, 1.0, 1.0, 0.0])
    if block_aisle:
        boxes.append([length / 2, width / 2, 0.5, 1.0, width, 1.0, 0.0])
    n = len(boxes)
    objects = TrackedObjects(
        stamp_ns=0, frame_id="world", track_ids=np.arange(1, n + 1, dtype=np.int64),
        boxes=np.asarray(boxes, np.float32), velocities=np.zeros((n, 3), np.float32),
        covariance=np.zeros((n, 6, 6), np.float32), scores=np.ones(n, np.float32),
        class_ids=np.ones(n, np.int32), ages=np.full(n, 10, np.int32),
    )  # fmt: skip
    start = (3.5, width / 2, 0.0)
    slot_x = 2.0 + (free_slot + 0.5) * SLOT_WIDTH
    aisle = np.arange(start[0], slot_x, 0.5)  # (A,) [m]
    down = np.arange(width / 2, 2.0 + 0.9 + 0.3 - 1e-9, -0.5)  # (D,) [m] into the slot
    down[-1] = 2.0 + 0.9 + 0.3  # rear axle 0.9 m ahead of the rear bumper, as parking_lot
    route = Path(stamp_ns=0, frame_id="world", poses=np.concatenate([
        np.stack([aisle, np.full_like(aisle, width / 2), np.zeros_like(aisle)], axis=1),
        np.stack([np.full_like(down, slot_x), down, np.full_like(down, math.pi / 2)], axis=1),
    ]))  # fmt: skip
    pose = np.eye(4)
    pose[:2, 3] = start[:2]
    ego = EgoState(stamp_ns=0, frame_id="world", pose=pose, velocity=np.zeros(3),
                   acceleration=np.zeros(3))  # fmt: skip
    return PlanInputs(ego=ego, route=route, objects=objects)
