"""KITTI oxts: Mercator-scaled poses, velocities in the ego frame, and line-exact errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.datasets.convention import make_transform
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.oxts import (
    EARTH_RADIUS,
    LAT,
    LON,
    VE,
    VN,
    YAW,
    mercator_xy,
    oxts_to_ego_states,
    oxts_to_imu_poses,
    parse_oxts_lines,
)


def straight_drive(lat0: float, heading: float, speed: float, steps: int, dt: float) -> np.ndarray:
    """Packets of a vehicle driving straight at ``speed`` [m/s] on a sphere of EARTH_RADIUS."""
    oxts = np.zeros((steps, 30))
    east, north = speed * np.cos(heading), speed * np.sin(heading)
    t = np.arange(steps) * dt
    oxts[:, LAT] = lat0 + np.rad2deg(north * t / EARTH_RADIUS)
    oxts[:, LON] = 8.4 + np.rad2deg(east * t / (EARTH_RADIUS * np.cos(np.deg2rad(lat0))))
    oxts[:, YAW] = heading
    oxts[:, VE], oxts[:, VN] = east, north
    return oxts


@pytest.mark.parametrize("lat0", [0.0, 49.0, 70.0])
def test_mercator_scaled_positions_advance_at_the_true_speed(lat0: float):
    oxts = straight_drive(lat0, heading=0.6, speed=12.0, steps=50, dt=0.1)
    poses = oxts_to_imu_poses(oxts)
    step = np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1)
    np.testing.assert_allclose(step / 0.1, 12.0, rtol=1e-3)
    np.testing.assert_allclose(poses[0, :3, 3], 0.0)
    heading = np.arctan2(*np.diff(poses[:, :3, 3], axis=0)[:, [1, 0]].T)
    np.testing.assert_allclose(heading, 0.6, atol=1e-4)


def test_devkit_mercator_formula_at_the_scale_latitude():
    # At the scale's own latitude, 1e-5 deg of longitude is R * cos(lat) * 1e-5 deg in metres.
    xy = mercator_xy(np.array([49.0, 49.0]), np.array([8.0, 8.00001]), np.cos(np.deg2rad(49.0)))
    expected = EARTH_RADIUS * np.cos(np.deg2rad(49.0)) * np.deg2rad(1e-5)
    assert abs((xy[1, 0] - xy[0, 0]) - expected) < 1e-9


def test_ego_velocity_is_forward_in_the_velodyne_frame_for_a_straight_drive():
    oxts = straight_drive(49.0, heading=-1.2, speed=8.0, steps=5, dt=0.1)
    T_velo_from_imu = make_transform(np.eye(3), [-0.8, 0.3, -0.8])
    states = oxts_to_ego_states(oxts, np.arange(5) * 100_000_000, T_velo_from_imu)
    for state in states:
        state.validate()
        np.testing.assert_allclose(state.velocity, [8.0, 0.0, 0.0], atol=1e-9)
        assert abs(state.yaw - (-1.2)) < 1e-9
    # The Velodyne origin is the IMU origin moved by inv(T_velo_from_imu).
    np.testing.assert_allclose(states[0].pose[:3, 3], _rot(-1.2) @ [0.8, -0.3, 0.8], atol=1e-9)


def _rot(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_wrong_column_count_names_line():
    good = " ".join(["1.0"] * 30)
    with pytest.raises(DataError, match=r"seq\.txt:3: expected 30 oxts values, got 29"):
        parse_oxts_lines(f"{good}\n{good}\n{' '.join(['1.0'] * 29)}\n", "seq.txt")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.-e \n\tnaif")), max_size=600))
def test_oxts_parser_fuzz_returns_30_columns_or_raises_data_error(text: str):
    try:
        values = parse_oxts_lines(text, "fuzz.txt")
    except DataError as err:
        assert str(err).startswith("fuzz.txt:")
    else:
        assert values.shape[1] == 30 and np.isfinite(values[:, :23]).all()
