"""Planner nodes: the planner (trajectory from ego, route, objects, forecasts, behaviour) and a
route source that publishes a log's own ego path as the route when no map exists.

The planner ticks at 10 Hz and calls :func:`drivestack.planning.pipeline.plan_step`. It never
raises for a blocked or unreachable goal or for bad inputs: it publishes a stop trajectory
whose ``status`` (NO_PATH / INVALID_INPUT) and ``detail`` say why. ``search`` selects the grid
search (+ smoothing) or kinematic Hybrid A*; either runs under ``search_budget_s`` in a
real-time run, and out of budget it publishes the best valid (partial) plan with status
BUDGET_EXHAUSTED and says so in ``detail``. Deterministic runs never cut a search by the
wall clock (Hybrid A* is still bounded by ``max_expansions``), so reruns are bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.msgs import (
    BehaviourCommand,
    CostGrid,
    EgoState,
    MessageError,
    ObjectForecasts,
    Path,
    PlanStatus,
    TrackedObjects,
    Trajectory,
)
from drivestack.planning import dstar_lite_numba
from drivestack.planning.astar_numba import astar_numba
from drivestack.planning.costmap import CostmapConfig
from drivestack.planning.hybrid_astar import HybridAStarConfig
from drivestack.planning.pipeline import PlanInputs, PlannerConfig, PlannerState, plan_step
from drivestack.planning.speed_profile import SpeedProfileConfig, stop_trajectory


@dataclass(frozen=True)
class PlannerNodeConfig:
    """Planner parameters a launch file may override."""

    search: str = "grid"  # grid (grid_planner + smoothing) | hybrid_astar (kinematic)
    # astar | astar_csgraph | astar_numba | dstar_lite (compiled) | dstar_lite_python
    grid_planner: str = "astar_numba"
    search_budget_s: float = 0.06  # [s] search time budget per tick (real-time runs only)
    goal_ahead: float = 50.0  # [m] along the route
    cost_weight: float = 5.0  # weight of cell cost in the search
    resolution: float = 0.2  # [m] costmap cell
    length: float = 80.0  # [m] costmap extent along the ego x axis
    width: float = 40.0  # [m] costmap extent along the ego y axis
    corridor_half_width: float = 3.5  # [m] drivable distance either side of the route
    corridor_edge_cost: float = 0.9  # cost at the corridor edge (0 on the route): keeps to the route
    ego_width: float = 1.9  # [m]
    ego_length: float = 4.5  # [m] footprint (hybrid_astar)
    rear_overhang: float = 0.9  # [m] rear bumper to the ego reference point (hybrid_astar)
    min_turn_radius: float = 5.0  # [m] (hybrid_astar)
    reverse_penalty: float = 2.0  # multiplier on reversed arc length (hybrid_astar)
    max_expansions: int = 50_000  # Hybrid A* expansion budget (applies in every run)
    speed_limit: float = 13.9  # [m/s]
    max_lat_accel: float = 2.0  # [m/s^2]
    max_accel: float = 1.5  # [m/s^2]
    max_decel: float = 3.0  # [m/s^2]
    curvature_window_min: float = 3.0  # [m] curvature capping the speed: mean over this ...
    curvature_window_gain: float = 0.0  # [s] ... plus this times the speed (SpeedProfileConfig)
    publish_costmap: bool = True  # also publish the CostGrid (for recording and plots)

    def planner_config(self) -> PlannerConfig:
        return PlannerConfig(
            search=self.search,
            grid_planner=self.grid_planner,
            hybrid=HybridAStarConfig(
                min_turn_radius=self.min_turn_radius, length=self.ego_length,
                width=self.ego_width, rear_overhang=self.rear_overhang,
                reverse_penalty=self.reverse_penalty, max_expansions=self.max_expansions,
            ),
            costmap=CostmapConfig(
                resolution=self.resolution, length=self.length, width=self.width,
                corridor_half_width=self.corridor_half_width, ego_width=self.ego_width,
                corridor_edge_cost=self.corridor_edge_cost,
            ),
            speed=SpeedProfileConfig(
                speed_limit=self.speed_limit, max_lat_accel=self.max_lat_accel,
                max_accel=self.max_accel, max_decel=self.max_decel,
                curvature_window_min=self.curvature_window_min,
                curvature_window_gain=self.curvature_window_gain,
            ),
            goal_ahead=self.goal_ahead,
            cost_weight=self.cost_weight,
            time_budget=self.search_budget_s,
        )  # fmt: skip


@NODES.register("planner")
class PlannerNode(Node):
    """Plans a trajectory every tick from the newest ego state and whatever else arrived."""

    Config = PlannerNodeConfig
    inputs = {
        "ego": In(EgoState),
        "route": In(Path, required=False),
        "objects": In(TrackedObjects, required=False),
        "forecasts": In(ObjectForecasts, required=False),
        "behaviour": In(BehaviourCommand, required=False),
    }
    outputs = {"trajectory": Out(Trajectory), "costmap": Out(CostGrid)}
    rate_hz = 10.0
    deadline_s = 0.1

    def __init__(self, config: PlannerNodeConfig | None = None, *, name: str | None = None):
        super().__init__(config, name=name)
        self._planner_config = self.config.planner_config()  # validates grid_planner early
        self._state = PlannerState()

    def reset(self, seed: int) -> None:
        self._state = PlannerState()
        if self.config.search == "grid" and self.config.grid_planner == "astar_numba":
            # Load (or compile) the machine code now, not inside the first tick's deadline.
            astar_numba(np.zeros((3, 3), np.float32), (0, 0), (2, 2))
        if self.config.search == "grid" and self.config.grid_planner == "dstar_lite":
            dstar_lite_numba.warm_up()  # the same, for the compiled D* Lite
        # The search budget is wall time: only a real-time run may cut a search by it, or a
        # deterministic replay would plan differently on a slower machine.
        self._planner_config = replace(
            self.config.planner_config(),
            time_budget=self.config.search_budget_s if self.realtime else None,
        )

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        ego = inputs.last("ego")
        if not isinstance(ego, EgoState):
            return None  # nothing to plan from yet
        plan_inputs = PlanInputs(
            ego=ego,
            route=_latest(inputs, "route", Path),
            objects=_latest(inputs, "objects", TrackedObjects),
            forecasts=_latest(inputs, "forecasts", ObjectForecasts),
            behaviour=_latest(inputs, "behaviour", BehaviourCommand),
        )
        try:
            trajectory, grid, self._state = plan_step(
                plan_inputs, self._state, self._planner_config
            )
        except (ValueError, MessageError) as err:  # inputs in unknown frames, bad messages
            trajectory = stop_trajectory(
                ego, PlanStatus.INVALID_INPUT, str(err), self.config.max_decel
            )
            return {"trajectory": trajectory}
        out: dict[str, Trajectory | CostGrid] = {"trajectory": trajectory}
        if self.config.publish_costmap:
            out["costmap"] = grid
        return out


def _latest(inputs: Inputs, key: str, kind: type) -> object | None:
    msg = inputs.last(key)
    return msg if isinstance(msg, kind) else None


@dataclass(frozen=True)
class LogRouteConfig:
    """Which log's ego path becomes the route."""

    dataset: str = "kitti_tracking"  # a reader of drivestack.datasets.readers.LOG_READERS
    root: str = ""  # "" = the sample shipped with drivestack
    sequence: str = "0006"


@NODES.register("log_route")
class LogRoute(Node):
    """Publishes the whole logged ego path once, as a :class:`Path` route (no map needed)."""

    Config = LogRouteConfig
    outputs = {"route": Out(Path, topic="/planning/route")}

    def reset(self, seed: int) -> None:
        from drivestack.datasets.readers import ReplayConfig, open_log

        log = open_log(ReplayConfig(dataset=self.config.dataset, root=self.config.root,
                                    sequence=self.config.sequence, detections=""))  # fmt: skip
        poses = []
        frame_id = "world"
        for i in range(len(log)):
            ego = log[i].load("ego")
            frame_id = ego.frame_id
            poses.append((*ego.xy, ego.yaw))
        self._route = Path(
            stamp_ns=log[0].stamp_ns if len(log) else 0,
            frame_id=frame_id,
            poses=np.asarray(poses, dtype=np.float64).reshape(-1, 3),
        )
        self._sent = False

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return self._route.stamp_ns

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        return None if self._sent else self._route.stamp_ns

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        if self._sent:
            return None
        self._sent = True
        return {"route": self._route}
