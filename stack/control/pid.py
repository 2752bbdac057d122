"""PID controller with integral clamping (anti-windup) and output saturation; state in/out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PidConfig:
    """Gains and limits (units of output per unit of error)."""

    kp: float = 1.0  # [1/s] for speed error -> acceleration
    ki: float = 0.2  # [1/s^2]
    kd: float = 0.0  # [-]
    integral_limit: float = 5.0  # |integral of error| cap, [error unit * s]
    output_min: float = -6.0  # [m/s^2] lower output bound (the tracker: hardest braking forward)
    output_max: float = 2.0  # [m/s^2] upper output bound (the tracker: strongest drive forward)


@dataclass(frozen=True)
class PidState:
    """What a PID carries between steps."""

    integral: float = 0.0
    prev_error: float | None = None


def pid_step(
    state: PidState, error: float, dt: float, config: PidConfig, feedforward: float = 0.0
) -> tuple[float, PidState]:
    """One PID update.

    Args:
        state: Previous state.
        error: Setpoint minus measurement.
        dt: [s] since the previous step, > 0.
        config: Gains and limits.
        feedforward: Added to the PID output before saturation.

    Returns:
        (saturated output, new state). The integral is clamped to ``integral_limit`` and is
        not advanced while the output saturates in the error's direction (conditional
        integration), so it never winds up.
    """
    if not dt > 0:
        raise ValueError(f"pid_step: dt must be > 0, got {dt}")
    deriv = 0.0 if state.prev_error is None else (error - state.prev_error) / dt
    integral = max(-config.integral_limit, min(config.integral_limit, state.integral + error * dt))
    raw = feedforward + config.kp * error + config.ki * integral + config.kd * deriv
    out = max(config.output_min, min(config.output_max, raw))
    if out != raw and (raw - out) * error > 0:
        integral = state.integral  # saturated and the error pushes further: hold the integral
    return out, PidState(integral, error)
