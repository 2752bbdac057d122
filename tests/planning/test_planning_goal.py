"""Where the planner aims: a car standing on the route's goal point moves the goal back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivestack.msgs import PlanStatus, TrackedObjects
from drivestack.planning.costmap import world_to_cell
from drivestack.planning.pipeline import PlannerConfig, PlannerState, plan_step
from drivestack.planning.scenes import road_scene


def _car_at(xy: np.ndarray, yaw: float, stamp_ns: int) -> TrackedObjects:
    return TrackedObjects(
        stamp_ns=stamp_ns, frame_id="world", track_ids=np.array([7], np.int64),
        boxes=np.array([[xy[0], xy[1], 0.8, 4.4, 1.8, 1.5, yaw]], np.float32),
        velocities=np.zeros((1, 3), np.float32), covariance=np.zeros((1, 6, 6), np.float32),
        scores=np.ones(1, np.float32), class_ids=np.array([1], np.int32),
        ages=np.array([5], np.int32),
    )  # fmt: skip


@pytest.mark.parametrize("planner", ["astar_numba", "dstar_lite", "dstar_lite_python"])
def test_car_standing_on_the_goal_moves_the_goal_back_instead_of_no_path(planner):
    # Regression: the goal is the route point goal_ahead on (A*) or at the window's end
    # (D* Lite). With a car standing there the search returned NO_PATH ("goal ... is in an
    # obstacle") and the controller braked at its limit (KITTI 0001 closed loop: 5 ticks).
    scene = road_scene()
    clear = dataclasses.replace(scene, objects=None, forecasts=None)
    cfg = PlannerConfig(grid_planner=planner, time_budget=None)
    state = PlannerState()
    free, _, state = plan_step(clear, state, cfg)
    assert free.status == PlanStatus.OK and "goal moved" not in free.detail
    goal_xy, goal_yaw = free.poses[-1, :2], float(free.poses[-1, 2])

    blocked = dataclasses.replace(clear, objects=_car_at(goal_xy, goal_yaw, scene.ego.stamp_ns))
    # D* Lite keeps its search (and its goal) between ticks: the same state must notice.
    traj, grid, state = plan_step(blocked, state, cfg)
    assert traj.status == PlanStatus.OK, traj.detail
    assert "goal moved" in traj.detail
    assert len(traj.times) > 1 and traj.speeds[-1] == 0.0  # drives on, stops behind the car
    end_gap = float(np.hypot(*(traj.poses[-1, :2] - goal_xy)))
    assert end_gap > 2.2 + 0.9  # behind the car's rear (half length) and the ego's half width
    cells = world_to_cell(grid, traj.poses[:, :2])
    assert np.all(np.asarray(grid.cost)[cells[:, 0], cells[:, 1]] < grid.lethal)
    # once the car has gone, the goal returns to where it was
    again, _, _ = plan_step(clear, state, cfg)
    assert again.status == PlanStatus.OK and "goal moved" not in again.detail
    np.testing.assert_allclose(again.poses[-1, :2], goal_xy, atol=1e-6)
