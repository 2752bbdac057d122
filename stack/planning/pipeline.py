"""One planning step: costmap -> grid search -> smoothing -> speed profile -> Trajectory.

``plan_step(inputs, state, config) -> (Trajectory, state)`` is the pure function the planner
node ticks. ``search`` picks the kind of search: ``"grid"`` (a grid search chosen by name from
:data:`GRID_PLANNERS`, then smoothing) or ``"hybrid_astar"`` (kinematic Hybrid A* from the
ego pose to the route pose ``goal_ahead`` metres on: bicycle arcs forward and in reverse with
a reverse penalty, Reeds–Shepp shots, oriented-footprint checks; its path is driveable as it
is, so it is not smoothed, and reverse legs get negative speeds). For Hybrid A* the costmap
grows objects by the safety margin only: the footprint is checked explicitly, so growing
them by the ego half-width as well would count the car's width twice. With
``"dstar_lite"`` (compiled, :mod:`drivestack.planning.dstar_lite_numba`) or
``"dstar_lite_python"`` (the readable reference, same results) the costmap is anchored in the
world (its origin only moves when the ego nears the edge of the window, which restarts the
search) so the incremental search can keep its state between ticks; the one-shot planners use
an ego-centred window.

Behaviour commands: STOP stops along the path at the comfortable deceleration; YIELD halves
the speed limit and doubles the forecast time gap; CHANGE_LANE_LEFT/RIGHT shift the route one
corridor half-width; ``lateral_offset`` shifts it further; ``target_speed`` caps the speed.
Unreachable or blocked goals produce a stop trajectory with status NO_PATH, never an
exception; a search that runs out of its time budget returns its partial path as a
trajectory that stops at its end, with status BUDGET_EXHAUSTED.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from drivestack.msgs import (
    BehaviourCommand,
    CostGrid,
    EgoState,
    Manoeuvre,
    ObjectForecasts,
    Path,
    PlanStatus,
    TrackedObjects,
    Trajectory,
)
from drivestack.planning.astar import astar
from drivestack.planning.astar_csgraph import astar_csgraph
from drivestack.planning.astar_numba import astar_numba
from drivestack.planning.base import GridPlanResult
from drivestack.planning.costmap import (
    CostmapConfig,
    build_costmap,
    cell_to_world,
    grid_origin,
    world_to_cell,
    world_to_local,
)
from drivestack.planning.dstar_lite import DStarLite
from drivestack.planning.dstar_lite_numba import DStarLiteNumba
from drivestack.planning.hybrid_astar import Footprint, HybridAStarConfig, hybrid_astar
from drivestack.planning.shortcut import shortcut_path
from drivestack.planning.smoothing import SmoothingConfig, smooth_path
from drivestack.planning.speed_profile import SpeedProfileConfig, build_trajectory, stop_trajectory

# One-shot grid planners by name (the D* Lite path is handled separately: it is stateful).
GRID_PLANNERS: dict[str, Callable[..., GridPlanResult]] = {
    "astar": astar,
    "astar_csgraph": astar_csgraph,
    "astar_numba": astar_numba,
}
# Incremental planners by name: they keep their search in PlannerState between ticks.
INCREMENTAL_PLANNERS: dict[str, type[DStarLite] | type[DStarLiteNumba]] = {
    "dstar_lite": DStarLiteNumba,
    "dstar_lite_python": DStarLite,
}


@dataclass(frozen=True)
class PlannerConfig:
    """Everything one planning step needs."""

    search: str = "grid"  # "grid" (grid_planner + smoothing) or "hybrid_astar"
    grid_planner: str = "astar_numba"  # a key of GRID_PLANNERS or INCREMENTAL_PLANNERS
    hybrid: HybridAStarConfig = field(default_factory=HybridAStarConfig)  # search="hybrid_astar"
    costmap: CostmapConfig = field(default_factory=CostmapConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    speed: SpeedProfileConfig = field(default_factory=SpeedProfileConfig)
    goal_ahead: float = 50.0  # [m] along the route from the ego
    cost_weight: float = 5.0  # weight of cell cost in the grid search
    shortcut: bool = True  # straighten the grid path where that costs no more (shortcut.py)
    time_budget: float | None = 0.06  # [s] for the search; None: unlimited
    reanchor_margin: float = 15.0  # [m] (dstar_lite) re-anchor when the ego is this near an edge

    def __post_init__(self) -> None:
        if self.search not in ("grid", "hybrid_astar"):
            raise ValueError(
                f"PlannerConfig.search: unknown {self.search!r} (known: grid, hybrid_astar)"
            )
        if self.grid_planner not in (*GRID_PLANNERS, *INCREMENTAL_PLANNERS):
            raise ValueError(
                f"PlannerConfig.grid_planner: unknown {self.grid_planner!r} "
                f"(known: {sorted([*GRID_PLANNERS, *INCREMENTAL_PLANNERS])})"
            )


@dataclass
class PlannerState:
    """What the planner keeps between ticks (only D* Lite needs any)."""

    origin: np.ndarray | None = None  # (3,) anchored grid origin
    goal_cell: tuple[int, int] | None = None
    dstar: DStarLite | DStarLiteNumba | None = None


@dataclass(frozen=True)
class PlanInputs:
    """The messages one step plans from (the newest of each)."""

    ego: EgoState
    route: Path | None = None
    objects: TrackedObjects | None = None
    forecasts: ObjectForecasts | None = None
    behaviour: BehaviourCommand | None = None


def shift_route(route: Path, offset: float) -> Path:
    """The route moved ``offset`` [m] to its left (negative: right)."""
    poses = route.poses.copy()
    poses[:, 0] -= offset * np.sin(poses[:, 2])
    poses[:, 1] += offset * np.cos(poses[:, 2])
    return dataclasses.replace(route, poses=poses)


def route_goal(
    grid: CostGrid, route_xy: np.ndarray, ego_xy: np.ndarray, ahead: float
) -> tuple[tuple[int, int], float] | None:
    """Cell of the route point ``ahead`` metres past the ego (or the last one on the grid),
    moved back along the route out of lethal cells: behind a car standing on the route the
    path ends there (and the speed profile stops at its end) instead of the search failing
    with "goal in an obstacle" and the controller braking at its limit.

    Returns:
        (goal cell, [m] how far it was moved back along the route), or None when no route
        point ahead of the ego lies on the grid.
    """
    _, s, cells, inside = _route_ahead(grid, route_xy, ego_xy)
    candidates = np.flatnonzero(inside & (s <= ahead))
    if len(candidates) == 0:
        return None
    k = int(candidates[-1])
    free = inside[: k + 1].copy()
    on = cells[: k + 1][free]
    free[free] = np.asarray(grid.cost)[on[:, 0], on[:, 1]] < grid.lethal
    ok = np.flatnonzero(free)
    g = int(ok[-1]) if len(ok) else 0  # nothing free: the ego's own route point
    return (int(cells[g, 0]), int(cells[g, 1])), float(s[k] - s[g])


def route_goal_index(
    grid: CostGrid, route_xy: np.ndarray, ego_xy: np.ndarray, ahead: float
) -> int | None:
    """Index of the route point ``ahead`` metres past the ego (or the last one on the grid)."""
    start, s, _, inside = _route_ahead(grid, route_xy, ego_xy)
    candidates = np.flatnonzero(inside & (s <= ahead))
    if len(candidates) == 0:
        return None
    return start + int(candidates[-1])


def _route_ahead(
    grid: CostGrid, route_xy: np.ndarray, ego_xy: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The route from its point nearest the ego on: (that index, (K,) [m] along it,
    (K, 2) grid cells, (K,) whether each cell is on the grid)."""
    start = int(np.argmin(np.hypot(route_xy[:, 0] - ego_xy[0], route_xy[:, 1] - ego_xy[1])))
    seg = np.linalg.norm(np.diff(route_xy[start:], axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    cells = world_to_cell(grid, route_xy[start:])
    h, w = grid.cost.shape
    inside = (cells[:, 0] >= 0) & (cells[:, 0] < h) & (cells[:, 1] >= 0) & (cells[:, 1] < w)
    return start, s, cells, inside


def plan_step(
    inputs: PlanInputs, state: PlannerState, config: PlannerConfig = PlannerConfig()
) -> tuple[Trajectory, CostGrid, PlannerState]:
    """Plans one trajectory.

    Args:
        inputs: Ego state and the newest route, objects, forecasts and behaviour command.
        state: From the previous step (``PlannerState()`` at first).
        config: Planner configuration.

    Returns:
        (trajectory in the ego's world frame, the costmap planned on, new state).
    """
    ego, route, behaviour = inputs.ego, inputs.route, inputs.behaviour
    speed = config.speed
    if behaviour is not None:
        limit = min(speed.speed_limit, behaviour.target_speed)
        gap = speed.yield_time_gap * (2.0 if behaviour.manoeuvre == Manoeuvre.YIELD else 1.0)
        if behaviour.manoeuvre == Manoeuvre.YIELD:
            limit *= 0.5
        speed = dataclasses.replace(speed, speed_limit=limit, yield_time_gap=gap)
        shift = behaviour.lateral_offset + {
            Manoeuvre.CHANGE_LANE_LEFT: config.costmap.corridor_half_width,
            Manoeuvre.CHANGE_LANE_RIGHT: -config.costmap.corridor_half_width,
        }.get(behaviour.manoeuvre, 0.0)
        if route is not None and shift:
            route = shift_route(route, shift)

    origin = None
    hybrid = config.search == "hybrid_astar"
    if config.grid_planner in INCREMENTAL_PLANNERS and not hybrid:
        origin = _anchor(state, ego, config)
    costmap_config = (
        dataclasses.replace(config.costmap, ego_width=0.0) if hybrid else config.costmap
    )
    grid = build_costmap(ego, route, inputs.objects, inputs.forecasts, costmap_config, origin)
    if route is None or len(route.poses) == 0:
        return (
            stop_trajectory(ego, PlanStatus.INVALID_INPUT, "no route", speed.max_decel),
            grid,
            state,
        )
    route_xy = route.poses[:, :2]
    if route.frame_id == "ego":
        route_xy = route_xy @ ego.pose[:2, :2].T + ego.pose[:2, 3]
    fc = _forecasts_in_world(inputs.forecasts, ego)
    stop_at = None
    if behaviour is not None and behaviour.manoeuvre == Manoeuvre.STOP:
        stop_at = ego.speed**2 / (2.0 * speed.max_decel)  # [m] comfortable braking distance
    if hybrid:
        route_yaw = route.poses[:, 2] + (ego.yaw if route.frame_id == "ego" else 0.0)
        traj = _plan_hybrid(grid, ego, route_xy, route_yaw, fc, stop_at, speed, config)
        return traj, grid, state
    ((si, sj),) = world_to_cell(grid, np.array([ego.xy]))
    start = (int(si), int(sj))
    # D* Lite aims at the farthest route point in its window, so the goal (and the search)
    # survives many ticks; one-shot planners look ``goal_ahead`` metres ahead.
    incremental = config.grid_planner in INCREMENTAL_PLANNERS
    found = route_goal(
        grid, route_xy, np.array(ego.xy), math.inf if incremental else config.goal_ahead
    )
    if found is None:
        return (
            stop_trajectory(ego, PlanStatus.NO_PATH, "route leaves the costmap", speed.max_decel),
            grid,
            state,
        )
    goal, moved = found
    if incremental and state.dstar is not None and goal != state.goal_cell:
        state.dstar = None  # an obstacle came onto the goal or left the route: search anew

    cost = np.asarray(grid.cost)
    if incremental:
        if state.dstar is None:
            planner = INCREMENTAL_PLANNERS[config.grid_planner]
            state.dstar = planner(cost, start, goal, grid.lethal, config.cost_weight)
            state.goal_cell = goal
            result = state.dstar.replan(time_budget=config.time_budget)
        else:
            result = state.dstar.replan(cost, start, time_budget=config.time_budget)
    else:
        result = GRID_PLANNERS[config.grid_planner](
            cost, start, goal, grid.lethal, config.cost_weight, time_budget=config.time_budget
        )
    if result.status in (PlanStatus.NO_PATH, PlanStatus.INVALID_INPUT) or len(result.path) < 2:
        detail = result.detail or "empty path"
        status = result.status if result.status != PlanStatus.OK else PlanStatus.NO_PATH
        return stop_trajectory(ego, status, detail, speed.max_decel), grid, state

    xy = cell_to_world(grid, result.path)  # (N, 2) cell centres; the first is the ego's cell
    xy[0] = ego.xy  # the path starts where the car is, not at its cell's centre
    if config.shortcut:
        xy = shortcut_path(xy, grid, config.cost_weight)  # any-angle: no 45-degree swerves
    smooth = smooth_path(xy, grid, config.smoothing)
    detail = result.detail
    if moved > 0:
        detail = (detail + "; " if detail else "") + (
            f"goal moved {moved:.1f} m back along the route: an obstacle covers it farther on"
        )
    if not smooth.valid:
        detail = (detail + "; " if detail else "") + "smoothing left the path unsmoothed"
    traj = build_trajectory(
        smooth.poses,
        smooth.curvatures,
        ego,
        speed,
        forecasts=fc,
        status=result.status,
        detail=detail,
        stop_at=stop_at,
    )
    return traj, grid, state


def _anchor(state: PlannerState, ego: EgoState, config: PlannerConfig) -> np.ndarray:
    """World-fixed grid origin for D* Lite; re-anchored (search reset) near the window edge."""
    cm = config.costmap
    if state.origin is not None:
        ((lx, ly),) = world_to_local(state.origin, np.array([ego.xy]))
        m = config.reanchor_margin
        if m <= lx <= cm.length - m and m <= ly <= cm.width - m:
            return state.origin
    state.origin = grid_origin(ego, cm)
    state.dstar, state.goal_cell = None, None
    return state.origin


def _forecasts_in_world(fc: ObjectForecasts | None, ego: EgoState) -> ObjectForecasts | None:
    """Forecasts moved into the ego's world frame (the speed profile works there)."""
    if fc is None or fc.frame_id != "ego":
        return fc
    pos = np.asarray(fc.positions, np.float64).reshape(-1, 2) @ ego.pose[:2, :2].T
    pos = pos + ego.pose[:2, 3]
    return dataclasses.replace(
        fc, positions=pos.reshape(fc.positions.shape).astype(np.float32), frame_id=ego.frame_id
    )


def _plan_hybrid(
    grid: CostGrid, ego: EgoState, route_xy: np.ndarray, route_yaw: np.ndarray,
    fc: ObjectForecasts | None, stop_at: float | None, speed: SpeedProfileConfig,
    config: PlannerConfig,
) -> Trajectory:  # fmt: skip
    """Hybrid A* from the ego pose to the route pose ``goal_ahead`` on, timed into a trajectory.

    The goal heading is the route's heading there (for a logged route: the heading the car
    had). NO_PATH / INVALID_INPUT and a partial path too short to move along give a stop
    trajectory carrying the status; a partial path (BUDGET_EXHAUSTED) is followed to its end,
    where the trajectory stops.
    """
    k = route_goal_index(grid, route_xy, np.array(ego.xy), config.goal_ahead)
    if k is None:
        return stop_trajectory(ego, PlanStatus.NO_PATH, "route leaves the costmap", speed.max_decel)
    # The car must fit at the goal: walk back along the route past poses where it does not
    # (an object on the route, or the window's edge), but not behind the ego.
    nearest = int(np.argmin(np.hypot(*(route_xy - np.array(ego.xy)).T)))
    if k <= nearest:
        return stop_trajectory(
            ego, PlanStatus.NO_PATH, "no route ahead of the ego", speed.max_decel
        )
    fp = Footprint(grid, config.hybrid)
    local = world_to_local(grid.origin, route_xy[nearest : k + 1])  # (K, 2)
    yaw = route_yaw[nearest : k + 1] - grid.origin[2]  # (K,)
    free = np.flatnonzero(fp.free(local[:, 0], local[:, 1], yaw))
    if len(free) == 0 or free[-1] == 0:
        return stop_trajectory(ego, PlanStatus.NO_PATH, "goal footprint is in collision at every "
                               "route pose ahead", speed.max_decel)  # fmt: skip
    g = nearest + int(free[-1])
    goal = (float(route_xy[g, 0]), float(route_xy[g, 1]), float(route_yaw[g]))
    res = hybrid_astar(grid, (*ego.xy, ego.yaw), goal, config.hybrid, config.time_budget, fp)
    detail = res.detail
    if g != k:
        moved = float(np.sum(np.hypot(*np.diff(route_xy[g : k + 1], axis=0).T)))
        detail = (detail + "; " if detail else "") + (
            f"goal moved {moved:.1f} m back along the route: the footprint collides farther on"
        )
    if res.status in (PlanStatus.NO_PATH, PlanStatus.INVALID_INPUT) or len(res.poses) < 2:
        status = PlanStatus.NO_PATH if res.status == PlanStatus.OK else res.status
        return stop_trajectory(ego, status, detail or "empty path", speed.max_decel)
    return build_trajectory(
        res.poses,
        res.curvatures,
        ego,
        speed,
        directions=res.directions,
        forecasts=fc,
        status=res.status,
        detail=detail,
        stop_at=stop_at,
    )
