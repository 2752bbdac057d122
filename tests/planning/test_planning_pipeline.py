"""One planning step: where the path starts and where it aims."""

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


@pytest.mark.parametrize("planner", ["astar_numba", "dstar_lite"])
def test_path_starts_where_the_car_is_not_at_its_cells_centre(planner):
    # Regression: the path began at the centre of the ego's cell (up to 0.14 m away) and
    # its first hop could head anywhere: curvature spikes of 0.3 1/m right at the start
    # capped the plan's first speed at ~3 m/s under a car doing 10 (KITTI 0001 closed loop).
    scene = road_scene()
    clear = dataclasses.replace(scene, objects=None, forecasts=None)
    cfg = PlannerConfig(grid_planner=planner, time_budget=None)
    for dx, dy in ((0.07, -0.06), (-0.05, 0.09), (0.0, 0.0)):
        pose = scene.ego.pose.copy()
        pose[:2, 3] += (dx, dy)
        ego = dataclasses.replace(scene.ego, pose=pose)
        traj, _, _ = plan_step(dataclasses.replace(clear, ego=ego), PlannerState(), cfg)
        assert traj.status == PlanStatus.OK
        np.testing.assert_allclose(traj.poses[0, :2], ego.xy, atol=1e-9)
        assert traj.speeds[0] == pytest.approx(ego.speed)  # nothing near the start to brake for
