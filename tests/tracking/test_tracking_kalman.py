"""Properties of the batched Kalman filters (CV and CTRV)."""

from __future__ import annotations

import numpy as np
import pytest

from drivestack.tracking import kalman

NOISE = kalman.NoiseConfig()


def _random_states(rng: np.random.Generator, n: int, model: str) -> np.ndarray:
    mean = np.zeros((n, kalman.STATE_DIM))
    mean[:, :3] = rng.normal(0, 20, (n, 3))
    mean[:, 3] = rng.uniform(-np.pi, np.pi, n)
    mean[:, 4:7] = rng.uniform(0.5, 5, (n, 3))
    if model == "cv":
        mean[:, 7:10] = rng.normal(0, 5, (n, 3))
    else:
        mean[:, 7] = rng.normal(0, 8, n)
        mean[:, 8] = rng.normal(0, 0.5, n)
        mean[: n // 4, 8] = 0.0  # the straight-line branch
        mean[:, 9] = rng.normal(0, 0.3, n)
    return mean


def test_cv_predict_moves_by_velocity_times_dt_and_grows_covariance() -> None:
    rng = np.random.default_rng(0)
    mean = _random_states(rng, 8, "cv")
    cov = np.broadcast_to(np.eye(10), (8, 10, 10)).copy()
    new, new_cov = kalman.predict(mean, cov, 0.3, NOISE, "cv")
    np.testing.assert_allclose(new[:, :3], mean[:, :3] + 0.3 * mean[:, 7:10])
    np.testing.assert_allclose(new[:, 4:], mean[:, 4:])
    pos_var = np.diagonal(new_cov, 0, 1, 2)[:, :3]
    assert np.all(pos_var > 1.0 + 0.3**2)  # P_pos + dt^2 P_vel + Q_pos


def test_ctrv_jacobian_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    mean = _random_states(rng, 32, "ctrv")
    mean[:, 8] = np.where(mean[:, 8] == 0.0, 0.0, mean[:, 8] + np.sign(mean[:, 8]) * 0.01)
    turning = mean[:, 8] != 0.0
    t = np.full(32, 0.1)
    f0, jac = kalman._ctrv_transition(mean, t)
    # Straight branch: its Jacobian is the limit of the turning one.
    near = mean.copy()
    near[~turning, 8] = 1e-3
    _, jac_near = kalman._ctrv_transition(near, t)
    np.testing.assert_allclose(jac[~turning], jac_near[~turning], atol=2e-3)
    eps = 1e-6
    for j in range(kalman.STATE_DIM):
        d = np.zeros(kalman.STATE_DIM)
        d[j] = eps
        fp, _ = kalman._ctrv_transition(mean + d, t)
        fm, _ = kalman._ctrv_transition(mean - d, t)
        num = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(
            jac[turning, :, j], num[turning], atol=2e-4, err_msg=f"column {j}"
        )


def test_ctrv_constant_turn_closes_a_circle() -> None:
    mean = np.zeros((1, kalman.STATE_DIM))
    mean[0, 4:7] = (4.0, 2.0, 1.5)
    mean[0, 7], mean[0, 8] = 5.0, 2 * np.pi / 10.0  # one turn in 10 s
    cov = np.eye(10)[None]
    for _ in range(100):
        mean, cov = kalman.predict(mean, cov, 0.1, NOISE, "ctrv")
    np.testing.assert_allclose(mean[0, :2], [0.0, 0.0], atol=1e-9)


def test_update_equals_textbook_kalman_update() -> None:
    rng = np.random.default_rng(2)
    mean = _random_states(rng, 6, "cv")
    a = rng.normal(size=(6, 10, 10))
    cov = a @ a.transpose(0, 2, 1) + np.eye(10)
    boxes = kalman.meas_to_box(mean[:, :7] + rng.normal(0, 0.2, (6, 7)))
    new, new_cov = kalman.update(mean, cov, boxes, NOISE)
    r = kalman.measurement_noise(NOISE)
    h = kalman.H
    for i in range(6):
        s = h @ cov[i] @ h.T + r
        k = cov[i] @ h.T @ np.linalg.inv(s)
        z = kalman.box_to_meas(boxes[i : i + 1])[0]
        x = mean[i] + k @ (z - h @ mean[i])
        p = (np.eye(10) - k @ h) @ cov[i]
        np.testing.assert_allclose(new[i], x, atol=1e-9)
        np.testing.assert_allclose(new_cov[i], p, atol=1e-8)


def test_update_turns_a_flipped_heading_measurement_around() -> None:
    mean = np.zeros((1, 10))
    mean[0, 3] = 0.1
    mean[0, 4:7] = (4, 2, 1.5)
    cov = np.eye(10)[None]
    box = kalman.meas_to_box(mean[:, :7]).copy()
    box[0, 6] = 0.1 + np.pi  # same box seen "backwards"
    new, _ = kalman.update(mean, cov, box, NOISE)
    assert abs(new[0, 3] - 0.1) < 1e-9


@pytest.mark.parametrize("model", ["cv", "ctrv"])
def test_filter_recovers_speed_of_a_straight_track(model: str) -> None:
    rng = np.random.default_rng(3)
    speed, yaw = 8.0, 0.7
    boxes0 = np.array([[0.0, 0.0, 0.5, 4.0, 1.8, 1.5, yaw]])
    mean, cov = kalman.init_state(boxes0, NOISE, model)
    for k in range(1, 40):
        mean, cov = kalman.predict(mean, cov, 0.1, NOISE, model)
        box = boxes0.copy()
        box[0, :2] = speed * 0.1 * k * np.array([np.cos(yaw), np.sin(yaw)]) + rng.normal(0, 0.1, 2)
        mean, cov = kalman.update(mean, cov, box, NOISE)
    vel = kalman.velocity_xyz(mean, model)[0]
    np.testing.assert_allclose(vel[:2], speed * np.array([np.cos(yaw), np.sin(yaw)]), atol=0.6)


def test_stacked_noise_equals_per_class_noise() -> None:
    rng = np.random.default_rng(4)
    mean = _random_states(rng, 4, "cv")
    cov = np.broadcast_to(np.eye(10), (4, 10, 10)).copy()
    configs = [kalman.NoiseConfig(), kalman.NoiseConfig(accel=0.5, meas_pos=1.0)]
    slots = np.array([0, 1, 1, 0])
    mixed = kalman.predict(mean, cov, 0.1, kalman.stack_noise(configs, slots), "cv")
    for i, s in enumerate(slots):
        one = kalman.predict(mean[i : i + 1], cov[i : i + 1], 0.1, configs[s], "cv")
        np.testing.assert_allclose(mixed[1][i], one[1][0])
