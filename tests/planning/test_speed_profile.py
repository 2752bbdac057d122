"""Speed profile never exceeds its limits; trajectories stop for forecasts on the path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.msgs import EgoState, ObjectForecasts
from drivestack.planning.speed_profile import (
    SpeedProfileConfig,
    arc_length,
    build_trajectory,
    profile,
    speed_limits,
)


def ego(speed: float) -> EgoState:
    return EgoState(stamp_ns=1_000, frame_id="world", pose=np.eye(4),
                    velocity=np.array([speed, 0.0, 0.0]), acceleration=np.zeros(3))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 80),
    seed=st.integers(0, 2**31),
    v0=st.floats(0.0, 30.0),
    stop=st.one_of(st.none(), st.floats(0.0, 60.0)),
    limit=st.floats(1.0, 30.0),
)
def test_speed_profile_never_exceeds_its_limits(n, seed, v0, stop, limit):
    rng = np.random.default_rng(seed)
    s = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 1.5, n - 1))])
    curv = rng.normal(0.0, 0.1, n) * (rng.random(n) < 0.5)
    cusps = np.flatnonzero(rng.random(n) < 0.05)
    cfg = SpeedProfileConfig(speed_limit=limit)
    vmax = speed_limits(s, curv, cfg, stop_at=stop, cusps=cusps)
    v = profile(s, vmax, v0, cfg)
    assert np.all(v >= 0.0) and np.all(v <= vmax + 1e-9)
    assert v[0] <= v0 + 1e-9
    assert np.all(v <= limit + 1e-9)
    assert np.all(v * v * np.abs(curv) <= cfg.max_lat_accel + 1e-6)
    acc = np.diff(v**2) / (2.0 * np.diff(s))
    assert np.all(acc <= cfg.max_accel + 1e-6) and np.all(acc >= -cfg.max_decel - 1e-6)
    if stop is not None:
        assert np.all(v[s >= stop] == 0.0)


def test_trajectory_is_valid_and_times_match_profile():
    x = np.linspace(0.0, 50.0, 101)
    poses = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)
    traj = build_trajectory(poses, np.zeros(101), ego(5.0))
    traj.validate()
    assert traj.speeds[0] == pytest.approx(5.0)
    assert traj.speeds.max() <= SpeedProfileConfig().speed_limit + 1e-9
    # Constant acceleration from 5 m/s at 1.5 m/s^2: t(s) = (sqrt(v0^2 + 2 a s) - v0) / a.
    s = arc_length(traj.poses[:, :2])
    expect = (np.sqrt(25.0 + 3.0 * s[:10]) - 5.0) / 1.5
    assert traj.times[:10] == pytest.approx(expect, rel=1e-6)


def test_trajectory_stops_before_a_forecast_on_the_path():
    x = np.linspace(0.0, 60.0, 121)
    poses = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)
    fc = ObjectForecasts(
        stamp_ns=1_000, frame_id="world", track_ids=np.array([3], np.int64),
        horizons=np.array([0.0, 1.0]), positions=np.array([[[30.0, 0.5], [30.0, 0.5]]], np.float32),
        position_std=np.zeros((1, 2, 2), np.float32), sizes=np.array([[1.0, 1.0, 1.7]], np.float32),
        class_ids=np.array([7], np.int32),
    )  # fmt: skip
    cfg = SpeedProfileConfig()
    traj = build_trajectory(poses, np.zeros(121), ego(8.0), cfg, forecasts=fc)
    traj.validate()
    assert traj.speeds[-1] == 0.0
    conflict_s = 30.0 - (cfg.conflict_half_width + 0.5)  # first path point within reach
    assert traj.poses[-1, 0] <= conflict_s - cfg.stop_margin + 0.5 + 1e-9
    assert "forecast" in traj.detail
    far = ObjectForecasts(
        **{**fc.__dict__, "positions": np.array([[[30.0, 9.0], [30.0, 9.0]]], np.float32)}
    )
    clear = build_trajectory(poses, np.zeros(121), ego(8.0), cfg, forecasts=far)
    assert "forecast" not in clear.detail
    assert clear.poses[-1, 0] == pytest.approx(60.0)  # drives the whole path, stops at its end


def test_trajectory_reverse_segment_has_negative_speeds_and_stops_at_cusp():
    x = np.concatenate([np.linspace(0, 10, 21), np.linspace(9.5, 0, 20)])
    poses = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)
    dirs = np.concatenate([np.ones(21), -np.ones(20)])
    traj = build_trajectory(poses, np.zeros(41), ego(0.0), directions=dirs)
    traj.validate()
    assert traj.speeds[20] == 0.0  # cusp
    assert np.all(traj.speeds[:20] >= 0) and np.all(traj.speeds[21:] <= 0)
    assert traj.speeds[25] < 0
