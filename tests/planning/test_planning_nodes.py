"""Planner and controller nodes through the bus harness: typed statuses, never exceptions."""

from __future__ import annotations

import dataclasses

import numpy as np

from drivestack.bus.harness import run_node
from drivestack.control.nodes import ControllerNode, ControllerNodeConfig
from drivestack.msgs import PlanStatus, TrackedObjects, Trajectory
from drivestack.planning.nodes import PlannerNode, PlannerNodeConfig
from drivestack.planning.scenes import road_scene


def feed_for(scene, ticks: int = 3, objects: TrackedObjects | None = None):
    feed = [("route", scene.route)]
    for k in range(ticks):
        stamp = scene.ego.stamp_ns + k * 100_000_000
        feed.append(("ego", dataclasses.replace(scene.ego, stamp_ns=stamp)))
        obj = objects if objects is not None else scene.objects
        feed.append(("objects", dataclasses.replace(obj, stamp_ns=stamp)))
        feed.append(("forecasts", dataclasses.replace(scene.forecasts, stamp_ns=stamp)))
    return feed


def test_planner_node_publishes_valid_trajectories_that_yield():
    scene = road_scene()
    out = run_node(PlannerNode(PlannerNodeConfig(search_budget_s=2.0)), feed_for(scene))
    assert not out.summary.failures
    trajs = out.of("trajectory")
    assert len(trajs) >= 3 and len(out.of("costmap")) == len(trajs)
    for traj in trajs:
        traj.validate()
        assert traj.status == PlanStatus.OK
        assert "forecast" in traj.detail and traj.speeds[-1] == 0.0


def test_planner_node_blocked_road_is_typed_no_path_not_an_exception():
    scene = road_scene()
    wall = dataclasses.replace(
        scene.objects,
        boxes=np.array([[30.0, 0.0, 0.8, 1.0, 30.0, 1.5, 0.0]], np.float32),  # across the road
        frame_id="ego",
    )
    out = run_node(PlannerNode(PlannerNodeConfig(search_budget_s=2.0)), feed_for(scene, 2, wall))
    assert not out.summary.failures
    trajs = out.of("trajectory")
    assert trajs and all(t.status == PlanStatus.NO_PATH for t in trajs)
    assert all(len(t.times) == 1 and t.speeds[0] == 0.0 for t in trajs)


def test_planner_node_out_of_budget_returns_partial_plan_and_says_so():
    scene = road_scene()
    cfg = PlannerNodeConfig(grid_planner="astar", search_budget_s=0.0)
    out = run_node(PlannerNode(cfg), feed_for(scene, 1), realtime=True)
    traj = out.of("trajectory")[0]
    traj.validate()
    assert traj.status == PlanStatus.BUDGET_EXHAUSTED
    assert "budget" in traj.detail and len(traj.times) > 1 and traj.speeds[-1] == 0.0


def test_deterministic_run_never_cuts_a_search_by_the_wall_clock():
    # Regression: a wall-clock budget in a deterministic replay made plans depend on how
    # fast the machine was. Off the real-time executor the budget does not apply.
    scene = road_scene()
    cfg = PlannerNodeConfig(grid_planner="astar", search_budget_s=0.0)
    runs = [run_node(PlannerNode(cfg), feed_for(scene, 1)).of("trajectory")[0] for _ in range(2)]
    assert [t.status for t in runs] == [PlanStatus.OK, PlanStatus.OK]
    np.testing.assert_array_equal(runs[0].poses, runs[1].poses)


def test_planner_node_dstar_lite_keeps_its_search_between_ticks():
    scene = road_scene()
    node = PlannerNode(PlannerNodeConfig(grid_planner="dstar_lite", search_budget_s=5.0))
    out = run_node(node, feed_for(scene, 3))
    trajs = out.of("trajectory")
    assert [t.status for t in trajs] == [PlanStatus.OK] * len(trajs)
    assert node._state.dstar is not None  # the same search object served every tick


def test_planner_node_bad_frame_is_invalid_input():
    scene = road_scene()
    bad = dataclasses.replace(scene.objects, frame_id="map")
    out = run_node(PlannerNode(), feed_for(scene, 1, bad))
    traj = out.of("trajectory")[0]
    assert traj.status == PlanStatus.INVALID_INPUT and "map" in traj.detail


def test_controller_node_follows_fresh_plan_and_brakes_on_stale_one():
    scene = road_scene()
    traj = run_node(PlannerNode(PlannerNodeConfig(search_budget_s=2.0)), feed_for(scene, 1)).of(
        "trajectory"
    )[0]
    ego = dataclasses.replace(scene.ego, stamp_ns=traj.stamp_ns)
    fresh = run_node(ControllerNode(), [("trajectory", traj), ("ego", ego)])
    cmd = fresh.of("command")[-1]
    cmd.validate()
    assert abs(cmd.acceleration) <= 6.0 and abs(cmd.steering_angle) <= 0.6
    late = dataclasses.replace(ego, stamp_ns=traj.stamp_ns + 2_000_000_000)
    stale = run_node(ControllerNode(ControllerNodeConfig(max_trajectory_age_s=0.5)),
                     [("trajectory", traj), ("ego", late)])  # fmt: skip
    assert stale.of("command")[-1].acceleration < 0  # moving at 8 m/s: brakes
    assert not fresh.summary.failures and not stale.summary.failures
    assert isinstance(traj, Trajectory)
