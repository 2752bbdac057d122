"""Pure pursuit (Coulter 1992): steer the rear axle onto the arc through a look-ahead point.

With the look-ahead point at distance ``Ld`` and angle ``alpha`` from the heading, the arc
through it has curvature ``2 sin(alpha) / Ld``, so the bicycle's front-wheel angle is
``atan(2 L sin(alpha) / Ld)``. ``Ld`` grows with speed (``lookahead_min + gain * |v|``):
short look-ahead tracks tightly at low speed, long look-ahead stays stable at high speed.
In reverse the same geometry applies to the car's rear-facing heading, with the sign flipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PurePursuitConfig:
    """Geometry and look-ahead."""

    wheelbase: float = 2.7  # [m]
    lookahead_min: float = 3.0  # [m]
    lookahead_gain: float = 0.6  # [s] look-ahead grows by this times |speed|
    max_steer: float = 0.6  # [rad]


def pure_pursuit(
    pose: tuple[float, float, float],
    speed: float,
    path: np.ndarray,
    config: PurePursuitConfig = PurePursuitConfig(),
    start_index: int = 0,
) -> tuple[float, int]:
    """Front-wheel angle to follow ``path``.

    Args:
        pose: Rear-axle (x [m], y [m], yaw [rad]).
        speed: [m/s] signed; negative drives in reverse.
        path: (N, 2) or (N, 3) path points [m] in the pose's frame, in driving order.
        config: Geometry.
        start_index: Search the nearest point from here (monotone progress along the path).

    Returns:
        (steering angle [rad], left positive, clipped to ``max_steer``; index of the
        nearest path point, to pass back as ``start_index``).
    """
    x, y, yaw = pose
    xy = np.asarray(path, dtype=np.float64)[:, :2]
    d = np.hypot(xy[start_index:, 0] - x, xy[start_index:, 1] - y)  # (N - start,)
    nearest = start_index + int(np.argmin(d))
    ld = config.lookahead_min + config.lookahead_gain * abs(speed)
    ahead = np.flatnonzero(d[nearest - start_index :] >= ld)
    target = xy[nearest + int(ahead[0])] if len(ahead) else xy[-1]
    heading = yaw if speed >= 0 else yaw + math.pi
    alpha = math.atan2(target[1] - y, target[0] - x) - heading
    dist = max(math.hypot(target[0] - x, target[1] - y), 1e-6)
    steer = math.atan2(2.0 * config.wheelbase * math.sin(alpha), dist)
    if speed < 0:
        steer = -steer
    return max(-config.max_steer, min(config.max_steer, steer)), nearest
