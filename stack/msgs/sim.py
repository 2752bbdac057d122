"""Closed-loop simulation messages: what a scenario monitor measures about the ego's drive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.msgs.base import Message, MessageError, array_field, check_finite


@dataclass(frozen=True, kw_only=True)
class ScenarioMetrics(Message):
    """The simulated ego's drive so far, at ``stamp_ns`` (values "so far" are cumulative).

    Positions are in ``frame_id`` (the world frame of the ego pose). A collision is an overlap
    of the ego footprint with an agent's box in bird's-eye view; it is *at fault* unless the
    agent hit the ego from behind (non-reactive replayed agents do not brake for a slower ego).
    """

    collision_ids: np.ndarray = array_field(("K",), "int64", "agents the ego has overlapped so far")
    at_fault_ids: np.ndarray = array_field(("F",), "int64", "of those, collisions not from behind")
    clearance: float  # [m] gap from the ego footprint to the nearest agent (0 touching; capped at the monitor range)
    min_clearance: float  # [m] smallest clearance so far
    progress: float  # [m] along the route, of the ego's projection onto it
    expert_progress: float  # [m] along the route, of the logged ego at this stamp
    lateral_error: float  # [m] distance from the route now
    max_lateral_error: float  # [m] so far
    speed: float  # [m/s] signed
    max_abs_accel: float  # [m/s^2] longitudinal, so far
    max_abs_jerk: float  # [m/s^3] longitudinal, so far

    def _check(self) -> None:
        check_finite(
            self, "clearance", "min_clearance", "progress", "expert_progress", "lateral_error",
            "max_lateral_error", "speed", "max_abs_accel", "max_abs_jerk",
        )  # fmt: skip
        if self.min_clearance < 0 or self.clearance < 0:
            raise MessageError(
                f"ScenarioMetrics.clearance: negative ({self.clearance}, {self.min_clearance})"
            )

    @property
    def collided(self) -> bool:
        """True once the ego has been at fault in a collision."""
        return len(self.at_fault_ids) > 0
