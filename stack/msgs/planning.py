"""Planning and control messages: cost grid, path, trajectory, behaviour and control commands."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from drivestack.msgs.base import Message, MessageError, array_field, check_finite


@dataclass(frozen=True, kw_only=True)
class CostGrid(Message):
    """A 2D occupancy/cost grid; row ``i`` is y, column ``j`` is x.

    Cell (i, j) covers ``origin + R(yaw) @ [(j, i) * resolution, (j + 1, i + 1) * resolution]``.
    Cost 0 is free, values >= ``lethal`` are obstacles.
    """

    cost: np.ndarray = array_field(("H", "W"), "float32", "cost per cell, 0 free")
    origin: np.ndarray = array_field((3,), "float64", "[m]/[rad] x, y, yaw of cell (0, 0)'s corner")
    resolution: float  # [m] cell edge
    lethal: float = 1.0  # cost at and above which a cell is an obstacle

    def _check(self) -> None:
        if not self.resolution > 0:
            raise MessageError(f"CostGrid.resolution: {self.resolution} is not positive")


@dataclass(frozen=True, kw_only=True)
class Path(Message):
    """A geometric path (or route) in ``frame_id``."""

    poses: np.ndarray = array_field(("N", 3), "float64", "[m]/[rad] x, y, yaw")

    def _check(self) -> None:
        check_finite(self, "poses")


class PlanStatus(IntEnum):
    OK = 0
    BUDGET_EXHAUSTED = 1  # best valid result found before the time budget ran out
    NO_PATH = 2  # start/goal blocked or unreachable; the trajectory holds a stop in place
    INVALID_INPUT = 3


@dataclass(frozen=True, kw_only=True)
class Trajectory(Message):
    """A timed trajectory in ``frame_id``, sample 0 at ``stamp_ns``."""

    times: np.ndarray = array_field(("N",), "float64", "[s] after stamp_ns, increasing")
    poses: np.ndarray = array_field(("N", 3), "float64", "[m]/[rad] x, y, yaw")
    speeds: np.ndarray = array_field(("N",), "float64", "[m/s] signed, negative in reverse")
    accelerations: np.ndarray = array_field(("N",), "float64", "[m/s^2]")
    curvatures: np.ndarray = array_field(("N",), "float64", "[1/m] left positive")
    status: PlanStatus = PlanStatus.OK
    detail: str = ""  # why, when status is not OK

    def _check(self) -> None:
        check_finite(self, "times", "poses", "speeds", "accelerations", "curvatures")
        if len(self.times) > 1 and bool((np.diff(self.times) <= 0).any()):
            raise MessageError("Trajectory.times: not strictly increasing")


class Manoeuvre(IntEnum):
    KEEP_LANE = 0
    FOLLOW = 1
    STOP = 2
    YIELD = 3
    CHANGE_LANE_LEFT = 4
    CHANGE_LANE_RIGHT = 5


@dataclass(frozen=True, kw_only=True)
class BehaviourCommand(Message):
    """What the behaviour layer asks the planner for."""

    manoeuvre: Manoeuvre
    target_speed: float  # [m/s]
    lateral_offset: float = 0.0  # [m] from the route, left positive

    def _check(self) -> None:
        check_finite(self, "target_speed", "lateral_offset")
        if self.target_speed < 0:
            raise MessageError(f"BehaviourCommand.target_speed: {self.target_speed} < 0")


@dataclass(frozen=True, kw_only=True)
class ControlCommand(Message):
    """Actuator command for the ego vehicle."""

    steering_angle: float  # [rad] front-wheel angle, left positive
    # [m/s^2] signed longitudinal acceleration along the body +x axis, i.e. the time
    # derivative of the signed speed (EgoState.speed, negative when reversing). Forward, a
    # negative value brakes; in reverse a negative value speeds the car up backwards and a
    # positive value brakes.
    acceleration: float

    def _check(self) -> None:
        check_finite(self, "steering_angle", "acceleration")
