"""Trajectory tracking: a lateral controller (registered by name) plus PID on speed.

``track(ego, trajectory, state, now_ns, config) -> (ControlCommand, state)`` is the pure
function the controller node ticks. Lateral controllers share one signature:
``(pose, speed, path, config, start_index) -> (steering [rad], nearest index)``.
Speeds and accelerations are signed (negative speed = reverse); the commanded acceleration is
the signed longitudinal acceleration along the body +x axis, the time derivative of the
signed speed (:class:`drivestack.msgs.ControlCommand`, :mod:`drivestack.control.bicycle`).
So braking is negative forward and positive in reverse: the PID output bounds, stated for
forward driving (``output_min`` = hardest braking, ``output_max`` = strongest drive), are
mirrored while the car rolls backwards (:func:`directional_limits`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from drivestack.control.pid import PidConfig, PidState, pid_step
from drivestack.control.pure_pursuit import PurePursuitConfig, pure_pursuit
from drivestack.control.stanley import StanleyConfig, stanley
from drivestack.msgs import ControlCommand, EgoState, PlanStatus, Trajectory

LateralController = Callable[..., tuple[float, int]]

# One registry per extension point: lateral controllers by short name.
LATERAL_CONTROLLERS: dict[str, LateralController] = {
    "pure_pursuit": pure_pursuit,
    "stanley": stanley,
}


@dataclass(frozen=True)
class TrackerConfig:
    """Which lateral controller, its parameters, and the speed loop."""

    lateral: str = "pure_pursuit"  # a key of LATERAL_CONTROLLERS
    pure_pursuit: PurePursuitConfig = field(default_factory=PurePursuitConfig)
    stanley: StanleyConfig = field(default_factory=StanleyConfig)
    pid: PidConfig = field(default_factory=PidConfig)
    preview_distance: float = 1.0  # [m] speed target taken this far ahead of the ego
    # [s] the feed-forward is the plan's mean acceleration over this long from the nearest
    # sample, not the sample's own: a profile replanned from the current speed every tick
    # begins with a short burst at one limit before the other (accelerate, then brake for a
    # bend), and feeding that burst forward made the command chatter between the limits.
    feedforward_horizon_s: float = 0.5
    default_dt: float = 0.1  # [s] PID step before a previous tick exists
    stop_speed: float = 0.3  # [m/s] below this, a zero target holds the car at rest
    # [m/s^2] how hard the last stop_speed is cancelled (cancelling it in one 50 ms tick
    # was a -6 m/s^2 jolt at every stop)
    stop_decel: float = 2.0

    def __post_init__(self) -> None:
        if not self.stop_decel > 0:
            raise ValueError(f"TrackerConfig.stop_decel must be > 0, got {self.stop_decel}")
        if self.lateral not in LATERAL_CONTROLLERS:
            raise ValueError(
                f"TrackerConfig.lateral: unknown {self.lateral!r} "
                f"(known: {sorted(LATERAL_CONTROLLERS)})"
            )


@dataclass(frozen=True)
class TrackerState:
    """What the tracker carries between ticks."""

    pid: PidState = field(default_factory=PidState)
    index: int = 0  # nearest trajectory sample found last tick
    trajectory_stamp_ns: int | None = None  # the trajectory ``index`` refers to
    last_ns: int | None = None  # stamp of the last tick


def track(
    ego: EgoState,
    trajectory: Trajectory,
    state: TrackerState,
    now_ns: int,
    config: TrackerConfig = TrackerConfig(),
) -> tuple[ControlCommand, TrackerState]:
    """One control step along a trajectory.

    Args:
        ego: Current ego state (``frame_id`` must equal the trajectory's).
        trajectory: The plan to follow; a NO_PATH / INVALID_INPUT plan or a single sample
            means stop where you are.
        state: Tracker state from the previous tick.
        now_ns: [ns] the run's clock.
        config: Controllers and gains.

    Returns:
        (command stamped ``now_ns`` in frame "ego", new state).

    Raises:
        ValueError: Trajectory and ego in different frames (names both).
    """
    if trajectory.frame_id != ego.frame_id:
        raise ValueError(
            f"track: trajectory frame {trajectory.frame_id!r} != ego frame {ego.frame_id!r}"
        )
    dt = config.default_dt if state.last_ns is None else max((now_ns - state.last_ns) / 1e9, 1e-3)
    start = state.index if state.trajectory_stamp_ns == trajectory.stamp_ns else 0
    pose = (*ego.xy, ego.yaw)
    moving = (
        trajectory.status in (PlanStatus.OK, PlanStatus.BUDGET_EXHAUSTED)
        and len(trajectory.times) > 1
    )
    limits = directional_limits(config.pid, ego.speed)
    if not moving:
        if abs(ego.speed) < config.stop_speed:
            # Nearly stopped: cancel the rest and clear the integral (see the hold below),
            # or the braking history would drive the car off the other way.
            accel = _settle(ego.speed, dt, config.stop_decel, limits)
            pid = PidState()
        else:
            accel, pid = pid_step(state.pid, -ego.speed, dt, limits)
        command = ControlCommand(
            stamp_ns=now_ns, frame_id="ego", steering_angle=ego.steering_angle, acceleration=accel
        )
        return command, TrackerState(pid, 0, trajectory.stamp_ns, now_ns)

    poses = trajectory.poses
    start = min(start, len(poses) - 1)
    d = np.hypot(poses[start:, 0] - pose[0], poses[start:, 1] - pose[1])
    nearest = start + int(np.argmin(d))
    target_speed_here = float(trajectory.speeds[nearest])
    reverse = target_speed_here < 0 or (
        target_speed_here == 0 and float(trajectory.speeds[min(nearest + 1, len(poses) - 1)]) < 0
    )
    # Stanley is a forward-driving law: reverse segments use pure pursuit.
    name = "pure_pursuit" if reverse else config.lateral
    lateral_cfg = config.pure_pursuit if name == "pure_pursuit" else config.stanley
    speed_for_lateral = -abs(ego.speed) if reverse else abs(ego.speed)
    segment = _current_segment(trajectory.speeds, nearest)
    steer, _ = LATERAL_CONTROLLERS[name](
        pose, speed_for_lateral, poses[segment], lateral_cfg, min(nearest, segment.stop - 1)
    )

    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(poses[:, :2], axis=0).T))])
    s_target = s[nearest] + config.preview_distance
    target = float(np.interp(s_target, s, trajectory.speeds))
    if abs(target) < 1e-3 and abs(ego.speed) < config.stop_speed:
        # At the stop: cancel the remaining speed and clear the integral, so braking
        # history cannot push the car backwards (a speed loop alone would overshoot zero).
        accel = _settle(ego.speed, dt, config.stop_decel, limits)
        pid = PidState()
    else:
        # Feed the plan's acceleration forward only while the plan itself moves.
        feedforward = (
            mean_acceleration(trajectory, nearest, config.feedforward_horizon_s)
            if abs(target) > 1e-3
            else 0.0
        )
        accel, pid = pid_step(state.pid, target - ego.speed, dt, limits, feedforward)
    command = ControlCommand(
        stamp_ns=now_ns, frame_id="ego", steering_angle=steer, acceleration=accel
    )
    if not math.isfinite(steer):
        raise ValueError("track: lateral controller returned a non-finite steering angle")
    return command, TrackerState(pid, nearest, trajectory.stamp_ns, now_ns)


def _settle(speed: float, dt: float, decel: float, limits: PidConfig) -> float:
    """[m/s^2] cancels a small ``speed`` in ``dt`` if ``decel`` (and the PID bounds) allow,
    else brakes at that."""
    accel = -math.copysign(min(abs(speed) / dt, decel), speed) if speed else 0.0
    return max(limits.output_min, min(limits.output_max, accel))


def mean_acceleration(trajectory: Trajectory, index: int, horizon_s: float) -> float:
    """[m/s^2] the plan's mean acceleration from sample ``index`` over ``horizon_s``.

    The speed change over the horizon divided by its length (the horizon is cut at the plan's
    end; ``horizon_s <= 0`` or a last sample gives the sample's own acceleration).
    """
    times, speeds = trajectory.times, trajectory.speeds
    t0 = float(times[index])
    t1 = min(t0 + horizon_s, float(times[-1]))
    if horizon_s <= 0 or t1 - t0 < 1e-6:
        return float(trajectory.accelerations[index])
    return (float(np.interp(t1, times, speeds)) - float(speeds[index])) / (t1 - t0)


def directional_limits(pid: PidConfig, speed: float, eps: float = 1e-3) -> PidConfig:
    """PID bounds on the signed acceleration for the car's direction of motion.

    Args:
        pid: Bounds stated for forward driving (``output_min`` < 0 brakes, ``output_max`` > 0
            drives).
        speed: [m/s] signed ego speed.
        eps: [m/s] below this |speed| the car is at rest: it may drive off either way, and
            there is nothing to brake.

    Returns:
        Forward: the bounds as given. Reverse: mirrored, ``(-output_max, -output_min)``, so
        braking (now positive) is as strong as forward braking and driving backwards as
        strong as driving forwards. At rest: ``(-output_max, output_max)``.
    """
    if speed > eps:
        return pid
    if speed < -eps:
        return replace(pid, output_min=-pid.output_max, output_max=-pid.output_min)
    return replace(pid, output_min=-pid.output_max, output_max=pid.output_max)


def _current_segment(speeds: np.ndarray, index: int) -> slice:
    """Samples of the same driving direction as ``index`` (a reverse leg ends at its cusp)."""
    sign = np.sign(speeds)
    here = sign[index] if sign[index] != 0 else (sign[min(index + 1, len(sign) - 1)] or 1.0)
    end = index
    while end + 1 < len(speeds) and sign[end + 1] in (here, 0.0):
        end += 1
        if sign[end] == 0.0:
            break  # the cusp (or final stop) closes the leg
    return slice(0, end + 1)
