"""Kinematic bicycle model about the rear axle: the plant the controllers are tested on.

    x' = v cos(yaw),  y' = v sin(yaw),  yaw' = v tan(delta) / L,  v' = a

``v`` is the signed speed (negative in reverse) and ``a`` the signed longitudinal acceleration
along the body +x axis, exactly :class:`drivestack.msgs.ControlCommand`'s ``acceleration``:
in reverse a positive ``a`` brakes.

Integrated exactly over a step for constant (delta, a) when the speed does not change sign
would need Fresnel integrals; a small fixed sub-step with midpoint speed is accurate to
well under a centimetre at the 10-100 Hz rates used here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BicycleState:
    """Rear-axle pose and speed."""

    x: float  # [m]
    y: float  # [m]
    yaw: float  # [rad]
    v: float  # [m/s] signed, negative in reverse


def step(
    state: BicycleState,
    steering: float,
    acceleration: float,
    dt: float,
    wheelbase: float = 2.7,
    max_steer: float = 0.6,
    substeps: int = 10,
) -> BicycleState:
    """Advances the model by ``dt`` [s] with front-wheel angle ``steering`` [rad] (clipped to
    ``max_steer``) and ``acceleration`` [m/s^2]; ``wheelbase`` [m]."""
    delta = max(-max_steer, min(max_steer, steering))
    x, y, yaw, v = state.x, state.y, state.yaw, state.v
    h = dt / substeps
    for _ in range(substeps):
        vm = v + 0.5 * acceleration * h  # midpoint speed
        yaw_m = yaw + 0.5 * h * vm * math.tan(delta) / wheelbase
        x += h * vm * math.cos(yaw_m)
        y += h * vm * math.sin(yaw_m)
        yaw += h * vm * math.tan(delta) / wheelbase
        v += acceleration * h
    return BicycleState(x, y, (yaw + math.pi) % (2 * math.pi) - math.pi, v)
