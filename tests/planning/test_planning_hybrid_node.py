"""The planner node with ``search: hybrid_astar``: kinematic plans on a real KITTI tick and in
a parking lot are collision-free for the oriented footprint and respect the turning radius;
no path and an exhausted budget are typed results, never exceptions; reruns are identical."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from footprint_reference import rectangle_hits_obstacle

from drivestack.bus.harness import run_node
from drivestack.msgs import CostGrid, PlanStatus, Trajectory
from drivestack.planning.hybrid_astar import HybridAStarConfig
from drivestack.planning.nodes import PlannerNode, PlannerNodeConfig
from drivestack.planning.scenes import parking_scene
from drivestack.sim.replay import ReplayConfig, open_log

HYBRID = PlannerNodeConfig(search="hybrid_astar")
PARKING = dataclasses.replace(HYBRID, corridor_half_width=6.0, speed_limit=3.0)


def check_drivable(traj: Trajectory, grid: CostGrid, cfg: PlannerNodeConfig) -> None:
    """Footprint never touches a lethal cell (5 cm sampling, also between samples); every
    stretch between samples turns no tighter than the minimum radius."""
    fp = HybridAStarConfig(length=cfg.ego_length, width=cfg.ego_width,
                           rear_overhang=cfg.rear_overhang)  # fmt: skip
    poses = traj.poses
    dyaw = (np.diff(poses[:, 2]) + math.pi) % (2 * math.pi) - math.pi  # (N-1,)
    mid = (poses[1:] + poses[:-1]) / 2.0
    mid[:, 2] = poses[:-1, 2] + dyaw / 2.0
    assert not rectangle_hits_obstacle(grid, np.concatenate([poses, mid]), fp)
    chord = np.linalg.norm(np.diff(poses[:, :2], axis=0), axis=1)
    turning = np.abs(dyaw) > 1e-9
    radius = chord[turning] / (2.0 * np.sin(np.abs(dyaw[turning]) / 2.0))
    assert np.all(radius >= cfg.min_turn_radius * (1 - 1e-6))
    assert np.all(np.abs(traj.curvatures) <= 1.0 / cfg.min_turn_radius + 1e-12)


def kitti_feed(frames: tuple[int, ...]) -> list:
    """Route (the logged ego path) plus ego and ground-truth objects of some sample frames."""
    log = open_log(ReplayConfig(dataset="kitti_tracking", root="", sequence="0006",
                                detections=""))  # fmt: skip
    egos = [log[i].load("ego") for i in range(len(log))]
    from drivestack.msgs import Path

    route = Path(stamp_ns=egos[0].stamp_ns, frame_id=egos[0].frame_id,
                 poses=np.array([(*e.xy, e.yaw) for e in egos]))  # fmt: skip
    feed: list = [("route", route)]
    for i in frames:
        feed += [("ego", egos[i]), ("objects", log[i].load("annotations"))]
    return feed


def test_hybrid_planner_on_kitti_tick_is_drivable_and_reruns_bit_identical():
    feed = kitti_feed((120,))
    outs = [run_node(PlannerNode(HYBRID), feed) for _ in range(2)]
    assert not outs[0].summary.failures
    traj, grid = outs[0].of("trajectory")[0], outs[0].of("costmap")[0]
    traj.validate()
    assert traj.status == PlanStatus.OK, traj.detail
    assert len(traj.times) > 10 and (traj.speeds >= 0).all()  # a road: forward only
    check_drivable(traj, grid, HYBRID)
    # Deterministic run: no wall-clock budget, so a rerun plans exactly the same.
    again = outs[1].of("trajectory")[0]
    for field in ("times", "poses", "speeds", "accelerations", "curvatures"):
        np.testing.assert_array_equal(getattr(traj, field), getattr(again, field))


def test_hybrid_planner_reverses_into_parking_slot_collision_free():
    scene = parking_scene()
    feed = [("route", scene.route), ("ego", scene.ego), ("objects", scene.objects)]
    out = run_node(PlannerNode(PARKING), feed)
    traj, grid = out.of("trajectory")[0], out.of("costmap")[0]
    traj.validate()
    assert traj.status == PlanStatus.OK, traj.detail
    assert (traj.speeds < 0).any() and (traj.speeds > 0).any()  # pulls forward, reverses in
    goal = scene.route.poses[-1]
    assert traj.poses[-1] == pytest.approx(goal, abs=1e-6) and traj.speeds[-1] == 0.0
    assert np.abs(traj.speeds).max() <= PARKING.speed_limit + 1e-9
    check_drivable(traj, grid, PARKING)


def test_hybrid_planner_blocked_aisle_is_typed_no_path_not_an_exception():
    scene = parking_scene(block_aisle=True)
    feed = [("route", scene.route), ("ego", scene.ego), ("objects", scene.objects)]
    out = run_node(PlannerNode(PARKING), feed)
    assert not out.summary.failures
    traj = out.of("trajectory")[0]
    assert traj.status == PlanStatus.NO_PATH and "unreachable" in traj.detail
    assert len(traj.times) == 1 and traj.speeds[0] == 0.0


def test_hybrid_planner_out_of_budget_returns_best_valid_result_and_says_so():
    scene = parking_scene()
    feed = [("route", scene.route), ("ego", scene.ego), ("objects", scene.objects)]
    cfg = dataclasses.replace(PARKING, search_budget_s=0.0)
    out = run_node(PlannerNode(cfg), feed, realtime=True)
    assert not out.summary.failures
    traj, grid = out.of("trajectory")[0], out.of("costmap")[0]
    traj.validate()
    assert traj.status == PlanStatus.BUDGET_EXHAUSTED and "budget" in traj.detail
    assert traj.speeds[-1] == 0.0
    check_drivable(traj, grid, PARKING)
