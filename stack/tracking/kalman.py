"""Batched Kalman filters for 3D boxes: constant velocity (CV) and constant turn rate (CTRV).

Both models share the first seven state entries, the measured box
``(x, y, z, yaw, dx, dy, dz)``, so one linear update serves both:

* CV   state (10): ``x, y, z, yaw, dx, dy, dz, vx, vy, vz``       (linear KF)
* CTRV state (10): ``x, y, z, yaw, dx, dy, dz, v, yaw_rate, vz``  (extended KF; v along yaw)

Every function is pure over a batch of N tracks: ``(mean (N, 10), cov (N, 10, 10))`` in,
new arrays out. Units: [m], [rad], [s], [m/s], [rad/s].

Detected headings are ambiguous by pi (a box looks the same turned around). The update
turns a measured yaw that disagrees with the state by more than 90 degrees around before
forming the residual, so the state keeps the direction of motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATE_DIM = 10
MEAS_DIM = 7
YAW = 3  # index of yaw in state and measurement

# H selects the box from the state: z = H @ x.
H = np.eye(MEAS_DIM, STATE_DIM)


@dataclass(frozen=True)
class NoiseConfig:
    """Process and measurement noise of one object class (1-sigma values).

    Fields are floats; :func:`stack_noise` builds one with (N,) array fields for a batch of
    tracks of different classes.

    Attributes:
        accel: [m/s^2] white-noise acceleration driving the velocity (CV: per axis; CTRV: along
            the heading).
        yaw_accel: [rad/s^2] white-noise yaw acceleration (CTRV); CV treats yaw as a random walk
            with ``yaw_walk``.
        yaw_walk: [rad/sqrt(s)] heading random walk (CV model).
        vz_accel: [m/s^2] vertical acceleration.
        size_walk: [m/sqrt(s)] box size random walk.
        meas_pos: [m] detection centre noise.
        meas_yaw: [rad] detection heading noise.
        meas_size: [m] detection size noise.
        init_vel: [m/s] velocity uncertainty of a new track.
        init_yaw_rate: [rad/s] yaw-rate uncertainty of a new track (CTRV).
    """

    accel: float = 3.0  # [m/s^2]
    yaw_accel: float = 1.0  # [rad/s^2]
    yaw_walk: float = 0.5  # [rad/sqrt(s)]
    vz_accel: float = 0.5  # [m/s^2]
    size_walk: float = 0.05  # [m/sqrt(s)]
    meas_pos: float = 0.3  # [m]
    meas_yaw: float = 0.3  # [rad]
    meas_size: float = 0.2  # [m]
    init_vel: float = 10.0  # [m/s]
    init_yaw_rate: float = 1.0  # [rad/s]


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Wraps angles to [-pi, pi).

    Args:
        a: angles of any shape [rad].

    Returns:
        Same shape, wrapped [rad].
    """
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def measurement_noise(noise: NoiseConfig) -> np.ndarray:
    """The measurement covariance R of a box detection: (7, 7), or (N, 7, 7) for per-track noise."""
    pos, yaw, size = np.broadcast_arrays(
        np.asarray(noise.meas_pos, float),
        np.asarray(noise.meas_yaw, float),
        np.asarray(noise.meas_size, float),
    )
    sig = np.stack([pos, pos, pos, yaw, size, size, size], axis=-1)  # (..., 7)
    return sig[..., :, None] ** 2 * np.eye(MEAS_DIM)


def stack_noise(configs: list[NoiseConfig], index: np.ndarray) -> NoiseConfig:
    """Per-track noise: a NoiseConfig whose fields are (N,) arrays, ``configs[index[i]]`` for track i.

    Args:
        configs: one NoiseConfig per class slot.
        index: (N,) int slot of each track.

    Returns:
        NoiseConfig with array fields (accepted by every function here).
    """
    fields = NoiseConfig.__dataclass_fields__
    table = {f: np.array([getattr(c, f) for c in configs], float) for f in fields}
    return NoiseConfig(**{f: table[f][index] for f in fields})


def init_state(boxes: np.ndarray, noise: NoiseConfig, model: str) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from detected boxes: position and size from the box, velocity zero.

    Args:
        boxes: (N, 7) boxes ``(x, y, z, dx, dy, dz, yaw)`` in the tracking frame.
        noise: noise of the boxes' class.
        model: ``"cv"`` or ``"ctrv"``.

    Returns:
        mean (N, 10) and cov (N, 10, 10).
    """
    _check_model(model)
    n = len(boxes)
    mean = np.zeros((n, STATE_DIM))
    mean[:, :MEAS_DIM] = box_to_meas(boxes)
    var = np.empty((n, STATE_DIM))
    var[:, :MEAS_DIM] = np.diagonal(np.broadcast_to(measurement_noise(noise), (n, 7, 7)), 0, 1, 2)
    init_vel = np.broadcast_to(np.asarray(noise.init_vel, float), (n,))
    if model == "cv":
        var[:, 7] = var[:, 8] = init_vel**2
    else:
        var[:, 7] = init_vel**2
        var[:, 8] = np.asarray(noise.init_yaw_rate, float) ** 2
    var[:, 9] = (0.2 * init_vel) ** 2
    cov = var[:, :, None] * np.eye(STATE_DIM)  # (N, 10, 10)
    return mean, cov


def box_to_meas(boxes: np.ndarray) -> np.ndarray:
    """(N, 7) boxes ``(x, y, z, dx, dy, dz, yaw)`` -> (N, 7) measurements ``(x, y, z, yaw, dx, dy, dz)``."""
    return np.concatenate([boxes[:, :3], boxes[:, 6:7], boxes[:, 3:6]], axis=1)


def meas_to_box(meas: np.ndarray) -> np.ndarray:
    """(N, >=7) state or measurement rows -> (N, 7) boxes ``(x, y, z, dx, dy, dz, yaw)``."""
    return np.concatenate([meas[:, :3], meas[:, 4:7], meas[:, 3:4]], axis=1)


def velocity_xyz(mean: np.ndarray, model: str) -> np.ndarray:
    """Velocity (N, 3) [m/s] in the tracking frame from states (N, 10)."""
    _check_model(model)
    if model == "cv":
        return mean[:, 7:10].copy()
    v = mean[:, 7]
    return np.stack([v * np.cos(mean[:, YAW]), v * np.sin(mean[:, YAW]), mean[:, 9]], axis=1)


def predict(
    mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray, noise: NoiseConfig, model: str
) -> tuple[np.ndarray, np.ndarray]:
    """Propagates N states by ``dt``.

    Args:
        mean: (N, 10) states.
        cov: (N, 10, 10) covariances.
        dt: [s] step, scalar or (N,).
        noise: process noise (scalar fields, or (N,) arrays from :func:`stack_noise`).
        model: ``"cv"`` or ``"ctrv"``.

    Returns:
        Predicted mean (N, 10) and cov (N, 10, 10).
    """
    _check_model(model)
    n = len(mean)
    t = np.broadcast_to(np.asarray(dt, dtype=float), (n,))
    if model == "cv":
        new, jac = _cv_transition(mean, t)
    else:
        new, jac = _ctrv_transition(mean, t)
    q = _process_noise(t, noise, model, mean)
    new_cov = jac @ cov @ np.swapaxes(jac, 1, 2) + q  # (N, 10, 10)
    new[:, YAW] = wrap_angle(new[:, YAW])
    return new, new_cov


def _cv_transition(mean: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    new = mean.copy()
    new[:, 0:3] += mean[:, 7:10] * t[:, None]
    jac = np.broadcast_to(np.eye(STATE_DIM), (len(mean), STATE_DIM, STATE_DIM)).copy()
    jac[:, 0, 7] = jac[:, 1, 8] = jac[:, 2, 9] = t
    return new, jac


def _ctrv_transition(mean: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact CTRV motion and its Jacobian; straight-line limit where the turn rate is ~0."""
    th, v, w = mean[:, YAW], mean[:, 7], mean[:, 8]
    th2 = th + w * t
    s1, c1, s2, c2 = np.sin(th), np.cos(th), np.sin(th2), np.cos(th2)
    turning = np.abs(w) > 1e-4
    ws = np.where(turning, w, 1.0)  # safe divisor
    dx = np.where(turning, v / ws * (s2 - s1), v * c1 * t)
    dy = np.where(turning, v / ws * (c1 - c2), v * s1 * t)
    new = mean.copy()
    new[:, 0] += dx
    new[:, 1] += dy
    new[:, 2] += mean[:, 9] * t
    new[:, YAW] = th2
    jac = np.broadcast_to(np.eye(STATE_DIM), (len(mean), STATE_DIM, STATE_DIM)).copy()
    jac[:, 0, YAW] = np.where(turning, v / ws * (c2 - c1), -v * s1 * t)
    jac[:, 0, 7] = np.where(turning, (s2 - s1) / ws, c1 * t)
    jac[:, 0, 8] = np.where(turning, v * t * c2 / ws - v * (s2 - s1) / ws**2, -0.5 * v * t**2 * s1)
    jac[:, 1, YAW] = np.where(turning, v / ws * (s2 - s1), v * c1 * t)
    jac[:, 1, 7] = np.where(turning, (c1 - c2) / ws, s1 * t)
    jac[:, 1, 8] = np.where(turning, v * t * s2 / ws - v * (c1 - c2) / ws**2, 0.5 * v * t**2 * c1)
    jac[:, 2, 9] = t
    jac[:, YAW, 8] = t
    return new, jac


def _process_noise(t: np.ndarray, noise: NoiseConfig, model: str, mean: np.ndarray) -> np.ndarray:
    """Discrete white-noise-acceleration covariance Q (N, 10, 10)."""
    n = len(t)
    q = np.zeros((n, STATE_DIM, STATE_DIM))
    t2, t3, t4 = t**2, t**3, t**4
    # z/vz block: piecewise white acceleration.
    _wna(q, 2, 9, t2, t3, t4, noise.vz_accel**2)
    for i in range(4, 7):
        q[:, i, i] = noise.size_walk**2 * t
    if model == "cv":
        for p, v in ((0, 7), (1, 8)):
            _wna(q, p, v, t2, t3, t4, noise.accel**2)
        q[:, YAW, YAW] = noise.yaw_walk**2 * t
    else:
        # Acceleration along the heading enters x, y through cos/sin of yaw.
        c, s = np.cos(mean[:, YAW]), np.sin(mean[:, YAW])
        a2 = noise.accel**2
        g_pos = 0.5 * t2  # (N,) position gain of an acceleration
        q[:, 0, 0] = a2 * (g_pos * c) ** 2
        q[:, 1, 1] = a2 * (g_pos * s) ** 2
        q[:, 0, 1] = q[:, 1, 0] = a2 * g_pos**2 * c * s
        q[:, 0, 7] = q[:, 7, 0] = a2 * g_pos * t * c
        q[:, 1, 7] = q[:, 7, 1] = a2 * g_pos * t * s
        q[:, 7, 7] = a2 * t2
        _wna(q, YAW, 8, t2, t3, t4, noise.yaw_accel**2)
    return q


def _wna(
    q: np.ndarray, p: int, v: int, t2: np.ndarray, t3: np.ndarray, t4: np.ndarray, var: float
) -> None:
    q[:, p, p] += 0.25 * t4 * var
    q[:, p, v] += 0.5 * t3 * var
    q[:, v, p] += 0.5 * t3 * var
    q[:, v, v] += t2 * var


def align_yaw(meas_yaw: np.ndarray, state_yaw: np.ndarray) -> np.ndarray:
    """Turns measured headings by pi where they disagree with the state by more than 90 degrees.

    Args:
        meas_yaw: (N,) measured yaw [rad].
        state_yaw: (N,) predicted yaw [rad].

    Returns:
        (N,) measured yaw within 90 degrees of the state, expressed as ``state + residual``.
    """
    res = wrap_angle(meas_yaw - state_yaw)
    res = np.where(np.abs(res) > np.pi / 2, wrap_angle(res + np.pi), res)
    return state_yaw + res


def cv_transition(dt: float) -> np.ndarray:
    """The constant-velocity transition matrix F (10, 10) for a step of ``dt`` [s]."""
    f = np.eye(STATE_DIM)
    f[0, 7] = f[1, 8] = f[2, 9] = dt
    return f


def process_noise(dt: float, noise: NoiseConfig, model: str, mean: np.ndarray) -> np.ndarray:
    """Process noise Q (N, 10, 10) of a step of ``dt`` [s] for states ``mean`` (N, 10)."""
    _check_model(model)
    return _process_noise(np.full(len(mean), float(dt)), noise, model, mean)


def update(
    mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray, noise: NoiseConfig | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Corrects N states with one box each (linear, both models).

    Args:
        mean: (N, 10) predicted states.
        cov: (N, 10, 10) predicted covariances.
        boxes: (N, 7) matched boxes ``(x, y, z, dx, dy, dz, yaw)``.
        noise: measurement noise (scalar fields, or (N,) arrays), or R itself, (7, 7) or
            (N, 7, 7).

    Returns:
        Posterior mean (N, 10) and cov (N, 10, 10).
    """
    z = box_to_meas(boxes)  # (N, 7)
    z[:, YAW] = align_yaw(z[:, YAW], mean[:, YAW])
    resid = z - mean[:, :MEAS_DIM]  # (N, 7)
    p_ht = cov[:, :, :MEAS_DIM]  # (N, 10, 7) = P H^T
    r = noise if isinstance(noise, np.ndarray) else measurement_noise(noise)
    s = cov[:, :MEAS_DIM, :MEAS_DIM] + r  # (N, 7, 7)
    gain = np.swapaxes(np.linalg.solve(s, np.swapaxes(p_ht, 1, 2)), 1, 2)  # (N, 10, 7)
    new_mean = mean + np.einsum("nij,nj->ni", gain, resid)
    new_mean[:, YAW] = wrap_angle(new_mean[:, YAW])
    new_cov = cov - gain @ np.swapaxes(p_ht, 1, 2)  # (I - K H) P
    new_cov = 0.5 * (new_cov + np.swapaxes(new_cov, 1, 2))
    return new_mean, new_cov


def innovation_cov(cov: np.ndarray, noise: NoiseConfig) -> np.ndarray:
    """Innovation covariance S = H P H^T + R, (N, 7, 7)."""
    return cov[:, :MEAS_DIM, :MEAS_DIM] + measurement_noise(noise)


def _check_model(model: str) -> None:
    if model not in ("cv", "ctrv"):
        raise ValueError(f"motion model must be 'cv' or 'ctrv', got {model!r}")
