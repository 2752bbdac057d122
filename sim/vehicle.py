"""Batched kinematic bicycle: the ego plant of the closed-loop simulator.

State per scenario ``(x, y, yaw, v)`` about the rear axle, control ``(steering, acceleration)``;

    x' = v cos(yaw),  y' = v sin(yaw),  yaw' = v tan(delta) / L,  v' = a

with the same midpoint sub-stepping as :mod:`drivestack.control.bicycle` (the plant the
controllers are tested on), so a scenario simulated here matches those tests exactly. Every
scenario of a batch steps at once in torch: thousands of scenarios on a GPU, the same code
on a CPU. Steering and acceleration are clipped to the vehicle's limits, as actuators are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class VehicleConfig:
    """Ego vehicle limits and geometry."""

    wheelbase: float = 2.7  # [m]
    max_steer: float = 0.6  # [rad] front-wheel angle
    max_accel: float = 3.0  # [m/s^2]
    max_decel: float = 8.0  # [m/s^2] full braking
    length: float = 4.5  # [m] footprint
    width: float = 1.9  # [m] footprint
    rear_overhang: float = 1.0  # [m] from the rear axle (the state's origin) to the rear bumper
    substeps: int = 10  # integration sub-steps per step

    def __post_init__(self) -> None:
        for name in ("wheelbase", "max_steer", "max_accel", "max_decel", "length", "width"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"VehicleConfig.{name}: must be positive, got {getattr(self, name)}"
                )
        if self.substeps < 1:
            raise ValueError(f"VehicleConfig.substeps: must be >= 1, got {self.substeps}")


def clip_controls(
    controls: torch.Tensor, speed: torch.Tensor, config: VehicleConfig, eps: float = 1e-3
) -> torch.Tensor:
    """Controls within the actuator limits for each car's direction of motion.

    Acceleration is the time derivative of the *signed* speed, so in reverse braking is
    positive: the limits mirror there (as :func:`drivestack.control.base.directional_limits`
    does for the controller), and a car at rest may drive off either way.

    Args:
        controls: (B, 2) steering [rad], acceleration [m/s^2].
        speed: (B,) signed speed [m/s].
        config: Vehicle limits.
        eps: [m/s] below this |speed| the car is at rest.

    Returns:
        (B, 2) the clipped controls.
    """
    steer = controls[:, 0].clamp(-config.max_steer, config.max_steer)  # (B,)
    forward, reverse = speed > eps, speed < -eps  # (B,) each
    lo = torch.where(forward, -config.max_decel, -config.max_accel)  # (B,)
    hi = torch.where(reverse, config.max_decel, config.max_accel)  # (B,)
    accel = torch.minimum(torch.maximum(controls[:, 1], lo), hi)  # (B,)
    return torch.stack((steer, accel), dim=1)


def bicycle_step(
    state: torch.Tensor, controls: torch.Tensor, dt: float, config: VehicleConfig
) -> torch.Tensor:
    """Advances every scenario by ``dt`` [s] under constant (clipped) controls.

    Args:
        state: (B, 4) x [m], y [m], yaw [rad], v [m/s] (signed, negative in reverse).
        controls: (B, 2) front-wheel angle [rad] (left positive), acceleration [m/s^2]
            (time derivative of the signed speed).
        dt: [s] step, >= 0.
        config: Vehicle limits.

    Returns:
        (B, 4) the next state, yaw wrapped to [-pi, pi).
    """
    if state.ndim != 2 or state.shape[1] != 4:
        raise ValueError(f"state: expected shape (B, 4), got {tuple(state.shape)}")
    if controls.shape != (state.shape[0], 2):
        raise ValueError(
            f"controls: expected shape ({state.shape[0]}, 2), got {tuple(controls.shape)}"
        )
    if dt < 0:
        raise ValueError(f"dt: must be >= 0, got {dt}")
    u = clip_controls(controls, state[:, 3], config)
    tan_delta = torch.tan(u[:, 0]) / config.wheelbase  # (B,) curvature per unit speed
    accel = u[:, 1]  # (B,)
    x, y, yaw, v = state.unbind(dim=1)  # each (B,)
    h = dt / config.substeps
    for _ in range(config.substeps):
        vm = v + 0.5 * accel * h  # midpoint speed
        yaw_m = yaw + 0.5 * h * vm * tan_delta
        x = x + h * vm * torch.cos(yaw_m)
        y = y + h * vm * torch.sin(yaw_m)
        yaw = yaw + h * vm * tan_delta
        v = v + accel * h
    yaw = torch.remainder(yaw + torch.pi, 2 * torch.pi) - torch.pi
    return torch.stack((x, y, yaw, v), dim=1)


def footprint_boxes(state: torch.Tensor, config: VehicleConfig) -> torch.Tensor:
    """(B, 4) states -> (B, 5) BEV boxes (x, y, length, width, yaw) of the vehicle body."""
    offset = config.length / 2 - config.rear_overhang  # [m] rear axle -> body centre
    x, y, yaw = state[:, 0], state[:, 1], state[:, 2]
    cx = x + offset * torch.cos(yaw)
    cy = y + offset * torch.sin(yaw)
    ones = torch.ones_like(x)
    return torch.stack((cx, cy, config.length * ones, config.width * ones, yaw), dim=1)
