"""The controller node: follows the newest trajectory, emitting control commands.

Ticks at 20 Hz and calls :func:`drivestack.control.base.track`. A trajectory older than
``max_trajectory_age_s`` (the planner stalled or missed its budget repeatedly), a missing
one, or one in another frame makes the node brake to a stop rather than follow stale or
unusable geometry; it never raises for those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.control.base import TrackerConfig, TrackerState, track
from drivestack.control.pid import PidConfig
from drivestack.control.pure_pursuit import PurePursuitConfig
from drivestack.control.stanley import StanleyConfig
from drivestack.msgs import ControlCommand, EgoState, PlanStatus, Trajectory


@dataclass(frozen=True)
class ControllerNodeConfig:
    """Controller parameters a launch file may override."""

    lateral: str = "pure_pursuit"  # pure_pursuit | stanley
    wheelbase: float = 2.7  # [m]
    max_steer: float = 0.6  # [rad]
    lookahead_min: float = 3.0  # [m] pure pursuit
    lookahead_gain: float = 0.6  # [s] pure pursuit
    stanley_gain: float = 1.0  # [1/s]
    kp: float = 1.0  # [1/s] speed loop
    ki: float = 0.2  # [1/s^2]
    max_trajectory_age_s: float = 0.5  # [s] older plans are not followed: brake instead

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(
            lateral=self.lateral,
            pure_pursuit=PurePursuitConfig(
                wheelbase=self.wheelbase, lookahead_min=self.lookahead_min,
                lookahead_gain=self.lookahead_gain, max_steer=self.max_steer,
            ),
            stanley=StanleyConfig(
                wheelbase=self.wheelbase, gain=self.stanley_gain, max_steer=self.max_steer
            ),
            pid=PidConfig(kp=self.kp, ki=self.ki),
        )  # fmt: skip


@NODES.register("controller")
class ControllerNode(Node):
    """Tracks the newest trajectory; brakes when there is none usable."""

    Config = ControllerNodeConfig
    config: ControllerNodeConfig
    inputs = {"ego": In(EgoState), "trajectory": In(Trajectory)}
    outputs = {"command": Out(ControlCommand)}
    rate_hz = 20.0
    deadline_s = 0.02

    def __init__(self, config: ControllerNodeConfig | None = None, *, name: str | None = None):
        super().__init__(config, name=name)
        self._tracker_config = self.config.tracker_config()  # validates ``lateral`` early
        self._state = TrackerState()

    def reset(self, seed: int) -> None:
        self._state = TrackerState()

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        ego = inputs.last("ego")
        if not isinstance(ego, EgoState):
            return None
        traj = inputs.last("trajectory")
        if not (
            isinstance(traj, Trajectory)
            and traj.frame_id == ego.frame_id
            and (now_ns - traj.stamp_ns) / 1e9 <= self.config.max_trajectory_age_s
        ):
            traj = _hold(ego, now_ns)
        command, self._state = track(ego, traj, self._state, now_ns, self._tracker_config)
        return {"command": command}


def _hold(ego: EgoState, now_ns: int) -> Trajectory:
    """A stop-in-place plan: what the tracker follows when no usable trajectory exists."""
    return Trajectory(
        stamp_ns=now_ns,
        frame_id=ego.frame_id,
        times=np.zeros(1),
        poses=np.array([[*ego.xy, ego.yaw]]),
        speeds=np.zeros(1),
        accelerations=np.zeros(1),
        curvatures=np.zeros(1),
        status=PlanStatus.NO_PATH,
        detail="no usable trajectory (missing, stale or in another frame)",
    )
