"""Ego vehicle state."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivestack.msgs.base import Message, array_field, check_finite


@dataclass(frozen=True, kw_only=True)
class EgoState(Message):
    """Pose and motion of the ego vehicle; ``frame_id`` is the world frame of the pose.

    The ego frame ``"ego"``: x forward, y left, z up. Each dataset reader states its origin
    (KITTI: the Velodyne origin, so KITTI scans need no transform; nuScenes: ego_pose's
    rear-axle origin). Boxes and points arrive in ``"ego"`` unless a message says otherwise.
    """

    pose: np.ndarray = array_field((4, 4), "float64", "T_world_from_ego, [m]")
    velocity: np.ndarray = array_field((3,), "float64", "[m/s] in the ego frame")
    acceleration: np.ndarray = array_field((3,), "float64", "[m/s^2] in the ego frame")
    yaw_rate: float = 0.0  # [rad/s], counter-clockwise
    steering_angle: float = 0.0  # [rad] front-wheel angle, left positive

    @property
    def xy(self) -> tuple[float, float]:
        """[m] position in the world frame."""
        return float(self.pose[0, 3]), float(self.pose[1, 3])

    @property
    def yaw(self) -> float:
        """[rad] heading in the world frame, counter-clockwise from +x."""
        return math.atan2(float(self.pose[1, 0]), float(self.pose[0, 0]))

    @property
    def speed(self) -> float:
        """[m/s] forward speed."""
        return float(self.velocity[0])

    def _check(self) -> None:
        check_finite(self, "pose", "velocity", "acceleration", "yaw_rate", "steering_angle")
