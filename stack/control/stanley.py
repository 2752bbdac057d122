"""Stanley lateral control (Thrun et al. 2006, the DARPA Grand Challenge winner).

Steers the front wheels by the heading error plus a term that drives the front axle's
cross-track error ``e`` to zero: ``delta = psi_e + atan(k e / (k_soft + v))``. The soft gain
keeps the correction bounded at low speed. Forward driving only (reverse manoeuvres use pure
pursuit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StanleyConfig:
    """Gains and geometry."""

    wheelbase: float = 2.7  # [m] rear axle to front axle
    gain: float = 1.0  # [1/s] cross-track gain k
    soft_speed: float = 1.0  # [m/s] k_soft
    max_steer: float = 0.6  # [rad]


def stanley(
    pose: tuple[float, float, float],
    speed: float,
    path: np.ndarray,
    config: StanleyConfig = StanleyConfig(),
    start_index: int = 0,
) -> tuple[float, int]:
    """Front-wheel angle to follow ``path``.

    Args:
        pose: Rear-axle (x [m], y [m], yaw [rad]).
        speed: [m/s] forward speed.
        path: (N, 3) path poses x [m], y [m], yaw [rad] in the pose's frame.
        config: Gains.
        start_index: Search the nearest point from here.

    Returns:
        (steering angle [rad], left positive, clipped; index of the path point nearest the
        front axle).
    """
    x, y, yaw = pose
    poses = np.asarray(path, dtype=np.float64)
    fx, fy = x + config.wheelbase * math.cos(yaw), y + config.wheelbase * math.sin(yaw)
    d = np.hypot(poses[start_index:, 0] - fx, poses[start_index:, 1] - fy)
    i = start_index + int(np.argmin(d))
    px, py, pyaw = poses[i]
    heading_error = (pyaw - yaw + math.pi) % (2 * math.pi) - math.pi
    # Signed cross-track error: > 0 when the front axle is left of the path.
    e = (fx - px) * -math.sin(pyaw) + (fy - py) * math.cos(pyaw)
    steer = heading_error + math.atan2(-config.gain * e, config.soft_speed + abs(speed))
    return max(-config.max_steer, min(config.max_steer, steer)), i
