"""Tracker node through the bus harness, and the shipped motion checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from drivestack.bus.harness import run_node
from drivestack.msgs import Detections3D, EgoState, ObjectClass, ObjectForecasts, TrackedObjects
from drivestack.tracking.forecaster import DEFAULT_CHECKPOINT, MotionForecaster
from drivestack.tracking.node import TrackerNode, TrackerNodeConfig

CAR = int(ObjectClass.CAR)


def _feed(frames: int = 30):
    """Ego drives +x at 5 m/s; a car ahead drives +x at 12 m/s (world)."""
    feed = []
    for f in range(frames):
        t = 0.1 * f
        stamp = f * 100_000_000
        pose = np.eye(4)
        pose[0, 3] = 5.0 * t
        feed.append(
            (
                "ego",
                EgoState(
                    stamp_ns=stamp,
                    frame_id="world",
                    pose=pose,
                    velocity=np.array([5.0, 0, 0]),
                    acceleration=np.zeros(3),
                ),
            )
        )
        car_world_x = 10.0 + 12.0 * t
        box = np.array([[car_world_x - pose[0, 3], 0.0, 0.8, 4.5, 1.9, 1.6, 0.0]], np.float32)
        feed.append(
            (
                "detections",
                Detections3D(
                    stamp_ns=stamp,
                    frame_id="ego",
                    boxes=box,
                    scores=np.array([3.0], np.float32),
                    class_ids=np.array([CAR], np.int32),
                ),
            )
        )
    return feed


@pytest.mark.parametrize("mode", ["off", "associate"])
def test_tracker_node_publishes_world_tracks_and_forecasts(mode: str) -> None:
    node = TrackerNode(TrackerNodeConfig(tcn_mode=mode))
    res = run_node(node, _feed(), on_error="stop")
    tracks = res.of("tracks")
    forecasts = res.of("forecasts")
    assert len(tracks) == 30 and len(forecasts) == 30
    last = tracks[-1]
    assert isinstance(last, TrackedObjects) and last.frame_id == "world"
    assert len({int(m.track_ids[0]) for m in tracks if len(m.track_ids)}) == 1  # one identity
    np.testing.assert_allclose(last.boxes[0, 0], 10 + 12 * 2.9, atol=0.3)
    np.testing.assert_allclose(last.velocities[0, :2], [12, 0], atol=1.0)
    fc = forecasts[-1]
    assert isinstance(fc, ObjectForecasts)
    np.testing.assert_allclose(fc.horizons, 0.1 * np.arange(1, 21), atol=1e-9)
    # The TCN extrapolates a steady car: within 1.5 m of constant velocity after 2 s.
    np.testing.assert_allclose(fc.positions[0, -1], [last.boxes[0, 0] + 24.0, 0.0], atol=1.5)
    assert np.all(np.diff(fc.position_std[0, :, 0]) > -1e-3)  # uncertainty grows with horizon


def test_tracker_node_refuses_detections_before_any_ego_state() -> None:
    node = TrackerNode(TrackerNodeConfig(forecasts=False))
    feed = _feed(2)
    feed = [feed[1], feed[2]]  # detections at t=0, the first EgoState only at t=0.1 s
    res = run_node(node, feed, on_error="stop")
    assert res.summary.stopped is not None and "before any EgoState" in res.summary.stopped
    assert res.of("tracks") == []


def test_shipped_checkpoint_is_small_and_loads() -> None:
    assert DEFAULT_CHECKPOINT.stat().st_size < 1_000_000
    fc = MotionForecaster.from_checkpoint()
    assert fc.config.horizon * fc.config.step_s >= 2.0
