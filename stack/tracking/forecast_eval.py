"""Forecast accuracy: average / final displacement error (ADE / FDE) at 1 s and 2 s.

Three predictors see the same ground-truth histories:

* ``tcn``: the motion TCN;
* ``constant_velocity``: velocity from the last two history positions, extrapolated;
* ``kalman``: the tracker's constant-velocity Kalman filter (class noise from the tracker's
  default config) run over the history boxes, then predicted forward.

ADE@T averages the displacement over the steps up to T; FDE@T is the displacement at T.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from drivestack.msgs import ObjectClass
from drivestack.tracking import kalman
from drivestack.tracking.motion_data import Windows
from drivestack.tracking.motion_features import CYCLIST, PEDESTRIAN, VEHICLE
from drivestack.tracking.tracker import TrackerConfig

GROUP_NAMES = {VEHICLE: "vehicle", PEDESTRIAN: "pedestrian", CYCLIST: "cyclist"}
_GROUP_CLASS = {
    VEHICLE: ObjectClass.CAR,
    PEDESTRIAN: ObjectClass.PEDESTRIAN,
    CYCLIST: ObjectClass.CYCLIST,
}


def constant_velocity(w: Windows, horizon: int, step_s: float) -> np.ndarray:
    """(B, T, 2) [m] positions extrapolated with the last history displacement."""
    v = (w.xy[:, -1] - w.xy[:, -2]) / step_s  # (B, 2)
    v = np.where(w.valid[:, -2:-1], v, 0.0)  # one-step histories stand still
    k = step_s * np.arange(1, horizon + 1)
    return w.xy[:, -1][:, None] + v[:, None] * k[None, :, None]


def kalman_forecast(
    w: Windows, horizon: int, step_s: float, config: TrackerConfig | None = None
) -> np.ndarray:
    """(B, T, 2) [m] positions from the tracker's CV Kalman filter run over each history."""
    config = config or TrackerConfig()
    noise_by_class = dict(config.classes)
    noises = [noise_by_class[int(_GROUP_CLASS[g])].noise for g in range(3)]
    noise = kalman.stack_noise(noises, w.groups)
    boxes = np.zeros((len(w), w.xy.shape[1], 7))
    boxes[..., :2] = w.xy
    boxes[..., 3:6] = w.size[:, None]
    boxes[..., 6] = w.yaw
    first = np.argmax(w.valid, axis=1)  # first observed step per window
    b = np.arange(len(w))
    mean, cov = kalman.init_state(boxes[b, first], noise, "cv")
    for t in range(1, w.xy.shape[1]):
        started = t > first
        obs = started & w.valid[:, t]
        rows = np.flatnonzero(started)
        if len(rows):
            sub = kalman.stack_noise(noises, w.groups[rows])
            mean[rows], cov[rows] = kalman.predict(mean[rows], cov[rows], step_s, sub, "cv")
        rows = np.flatnonzero(obs)
        if len(rows):
            sub = kalman.stack_noise(noises, w.groups[rows])
            mean[rows], cov[rows] = kalman.update(mean[rows], cov[rows], boxes[rows, t], sub)
    out = np.empty((len(w), horizon, 2))
    for k in range(horizon):
        mean, cov = kalman.predict(mean, cov, step_s, noise, "cv")
        out[:, k] = mean[:, :2]
    return out


def displacement_errors(pred: np.ndarray, future: np.ndarray, step_s: float) -> dict[str, float]:
    """ADE/FDE at 1 s and 2 s [m] (keys ``ade_1s, fde_1s, ade_2s, fde_2s``), averaged over windows.

    Args:
        pred: (B, T, 2) [m] predicted positions.
        future: (B, T, 2) [m] true positions.
        step_s: [s] time between steps; T * step_s must reach 2 s.
    """
    err = np.linalg.norm(pred - future, axis=2)  # (B, T)
    out: dict[str, float] = {"count": float(len(err))}
    for sec in (1, 2):
        k = int(round(sec / step_s))
        if k > err.shape[1]:
            raise ValueError(f"forecast of {err.shape[1]} steps does not reach {sec} s")
        out[f"ade_{sec}s"] = float(err[:, :k].mean()) if len(err) else float("nan")
        out[f"fde_{sec}s"] = float(err[:, k - 1].mean()) if len(err) else float("nan")
    return out


def compare(
    w: Windows,
    tcn: Callable[[Windows], np.ndarray],
    horizon: int,
    step_s: float,
) -> dict[str, dict[str, dict[str, float]]]:
    """ADE/FDE of the TCN, constant velocity and Kalman, overall and per motion group.

    Args:
        w: evaluation windows.
        tcn: windows -> (B, T, 2) [m] TCN forecast positions.
        horizon: forecast steps.
        step_s: [s] between steps.

    Returns:
        ``{predictor: {"all" | group name: {metric: value}}}``.
    """
    preds = {
        "tcn": tcn(w),
        "constant_velocity": constant_velocity(w, horizon, step_s),
        "kalman": kalman_forecast(w, horizon, step_s),
    }
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, p in preds.items():
        res = {"all": displacement_errors(p, w.future, step_s)}
        for g, gname in GROUP_NAMES.items():
            sel = w.groups == g
            res[gname] = displacement_errors(p[sel], w.future[sel], step_s)
        out[name] = res
    return out
