"""Closed loop on the shipped KITTI sample: the stack drives the simulated ego along the logged
route without an at-fault collision, reproducibly; ``drive sim`` judges and exits accordingly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drivestack.cli.main import main
from drivestack.msgs import EgoState, ScenarioMetrics, TrackedObjects
from drivestack.sim.closed_loop import objects_to_world

LAUNCH = Path(__file__).resolve().parents[2] / "launch" / "closed_loop.yaml"


def test_objects_to_world_places_boxes_and_velocities_by_the_ego_pose():
    yaw = np.pi / 2
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    pose[:3, 3] = (10.0, 5.0, 1.0)
    ego = EgoState(
        stamp_ns=7, frame_id="world", pose=pose, velocity=np.zeros(3), acceleration=np.zeros(3)
    )
    objs = TrackedObjects(
        stamp_ns=7, frame_id="ego", track_ids=np.array([3]), boxes=np.array([[2.0, 1.0, 0.5, 4, 2, 1.5, 0.1]], np.float32),
        velocities=np.array([[1.0, 0.0, 0.0]], np.float32), covariance=np.tile(np.diag([1.0, 4, 0, 0, 0, 0]), (1, 1, 1)).astype(np.float32),
        scores=np.ones(1, np.float32), class_ids=np.ones(1, np.int64), ages=np.ones(1, np.int64),
    )  # fmt: skip
    w = objects_to_world(objs, ego)
    assert w.frame_id == "world"
    assert w.boxes[0].tolist() == pytest.approx(
        [10.0 - 1.0, 5.0 + 2.0, 1.5, 4, 2, 1.5, 0.1 + yaw], abs=1e-5
    )
    assert w.velocities[0].tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)
    assert np.diag(w.covariance[0])[:2].tolist() == pytest.approx([4.0, 1.0])  # x/y variances swap


def _sim(tmp_path: Path, name: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / name
    rc = main(
        ["sim", str(LAUNCH), "-q", "--out", str(out), "--record", str(out / "run.mcap"), *extra]
    )
    return rc, json.loads((out / "verdict.json").read_text())


@pytest.mark.slow
def test_closed_loop_sample_drives_the_route_without_at_fault_collision(tmp_path: Path):
    rc, v = _sim(tmp_path, "full")
    assert rc == 0 and v["passed"], v
    assert v["sim_seconds"] == pytest.approx(26.9, abs=0.11)  # the whole log, then the run ends
    assert v["checks"]["at_fault_collisions"]["value"] == []
    assert v["checks"]["progress_ratio"]["value"] >= 0.95
    assert v["checks"]["max_lateral_error_m"]["value"] <= 1.0
    assert v["final"]["progress_m"] > 45.0  # the sample's route is 52 m
    assert v["final"]["min_clearance_m"] > 0.5
    assert v["node_failures"] == []
    assert (tmp_path / "full" / "bev.png").stat().st_size > 10_000


def test_closed_loop_reruns_are_identical_and_a_failed_check_exits_1(tmp_path: Path):
    rc_a, a = _sim(tmp_path, "a", "--duration", "4")
    rc_b, b = _sim(tmp_path, "b", "--duration", "4", "--max-lateral-error", "0.0")
    assert rc_a == 0 and a["passed"]
    assert rc_b == 1 and not b["passed"] and not b["checks"]["max_lateral_error_m"]["passed"]
    # same seed, deterministic executor: the simulated ego and every command are bit-identical
    assert main(["diff", str(tmp_path / "a" / "run.mcap"), str(tmp_path / "b" / "run.mcap")]) == 0
    for key in ("progress_ratio", "max_lateral_error_m", "max_abs_accel_mps2"):
        assert a["checks"][key]["value"] == b["checks"][key]["value"]


def test_drive_sim_refuses_a_launch_without_a_scenario_monitor(tmp_path: Path, capsys):
    demo = LAUNCH.parent / "planning_replay.yaml"
    assert main(["sim", str(demo), "-q", "--out", str(tmp_path)]) == 2
    assert "no node publishes /sim/metrics" in capsys.readouterr().err


@pytest.mark.data
@pytest.mark.slow
def test_closed_loop_kitti_0001_keeps_up_with_the_logged_driver(tmp_path: Path, data_root: Path):
    # Regression: the grid path's 45-degree staircase (a road at 16 degrees) reached the speed
    # profile as curvature spikes of 0.13-0.23 1/m, so the simulated ego crawled at ~5 m/s on
    # straight roads (progress ratio 0.83). String pulling (planning/shortcut.py) fixed it.
    rc, v = _sim(tmp_path, "0001", *_kitti_sequence(data_root, "0001"))
    assert rc == 0 and v["passed"], v  # every default check, lateral error <= 1 m included
    assert v["sim_seconds"] == pytest.approx(44.6, abs=0.11)
    assert v["checks"]["at_fault_collisions"]["value"] == []
    assert v["checks"]["progress_ratio"]["value"] >= 0.99
    # ... and keeps up along the way, not only at the end (where the logged driver waits).
    # Regression: paths starting at the ego's cell centre, hopping sideways into the route's
    # cost valley and with pointwise curvature of their 1 m-scale bends capped the plans'
    # speed: the ego drove at ~5 m/s where the logged driver drove 11 (down to 0.48 of its
    # progress at 9 s; now 0.80 at worst, braking behind a car at the start).
    from drivestack.record.mcap_io import Recording

    ratios = [
        m.progress / m.expert_progress
        for r in Recording(tmp_path / "0001" / "run.mcap").messages(topics=["/sim/metrics"])
        if isinstance(m := r.decode(), ScenarioMetrics) and m.expert_progress > 20.0
    ]
    assert len(ratios) > 300 and min(ratios) > 0.75
    # Regression: with the corridor's cost at 0.3 at its edge and a cost weight of 2 the plans
    # cut the 90-degree corner by 2.0 m (sim/README.md); 0.9 and 5 keep them within 1 m.
    assert v["checks"]["max_lateral_error_m"]["value"] <= 1.0


def _kitti_sequence(data_root: Path, seq: str) -> list[str]:
    """``--set`` overrides that drive the closed loop on a KITTI tracking training sequence."""
    root = str(data_root / "kitti_tracking")
    sets = [f"{node}.{key}" for node in ("replay", "route", "ego") for key in ("root", "sequence")]
    values = [root, f'"{seq}"'] * 3
    return [a for k, v in zip(sets, values, strict=True) for a in ("--set", f"{k}={v}")]


@pytest.mark.data
@pytest.mark.slow
def test_closed_loop_kitti_0018_stays_in_lane_without_an_at_fault_collision(
    tmp_path: Path, data_root: Path
):
    # Regression: with the corridor's old weak centring (edge cost 0.3, cost weight 2) the
    # plans swerved 3.0 m off the route on 0018 and hit an agent (at fault). The
    # defaults were chosen on 19 KITTI sequences (not 0001, 0006): at-fault collisions in 5
    # of them -> 1 (sim/README.md).
    rc, v = _sim(tmp_path, "0018", *_kitti_sequence(data_root, "0018"))
    assert rc == 0 and v["passed"], v
    assert v["checks"]["at_fault_collisions"]["value"] == []
    assert v["checks"]["max_lateral_error_m"]["value"] <= 1.0


def _final(progress: float, expert: float) -> ScenarioMetrics:
    return ScenarioMetrics(
        stamp_ns=0, frame_id="world", collision_ids=np.zeros(0, np.int64),
        at_fault_ids=np.zeros(0, np.int64), clearance=9.0, min_clearance=9.0,
        progress=progress, expert_progress=expert, lateral_error=0.0, max_lateral_error=0.1,
        speed=0.0, max_abs_accel=1.0, max_abs_jerk=1.0,
    )  # fmt: skip


def test_progress_ratio_is_one_when_the_logged_ego_stood_still():
    # Regression: KITTI 0012, 0016 and 0017 log a car standing still; its GPS jitter adds up
    # to 0.06-0.33 m of "progress", the simulated ego (rightly) stayed put, and the ratio
    # 0.0 / 0.3 failed the drive.
    from drivestack.sim.cli import Criteria, judge

    c = Criteria()
    assert judge(_final(0.0, 0.33), c)["progress_ratio"] == {
        "value": 1.0, "bound": ">= 0.9", "passed": True
    }
    moved = judge(_final(0.0, 5.0), c)["progress_ratio"]
    assert moved["value"] == 0.0 and not moved["passed"]  # a logged drive still counts
    assert judge(_final(9.5, 10.0), c)["progress_ratio"]["passed"]
