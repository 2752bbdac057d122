"""Sensor messages: point clouds, images and camera calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.msgs.base import Message, MessageError, array_field

IMAGE_ENCODINGS = {"bgr8": 3, "rgb8": 3, "mono8": 1}


@dataclass(frozen=True, kw_only=True)
class PointCloud(Message):
    """A LiDAR scan (or any point set)."""

    points: np.ndarray = array_field(
        ("N", 4), "float32", "[m] x, y, z in frame_id, then intensity (sensor units, KITTI [0, 1])"
    )


@dataclass(frozen=True, kw_only=True)
class Image(Message):
    """A camera image; ``frame_id`` names the camera (``"camera_2"``, ``"CAM_FRONT"``)."""

    data: np.ndarray = array_field(("H", "W", "C"), "uint8", "pixels, row-major, C channels")
    encoding: str = "bgr8"

    def _check(self) -> None:
        channels = IMAGE_ENCODINGS.get(self.encoding)
        if channels is None:
            raise MessageError(
                f"Image.encoding: unknown {self.encoding!r} (known: {sorted(IMAGE_ENCODINGS)})"
            )
        if self.data.shape[2] != channels:
            raise MessageError(
                f"Image.data: encoding {self.encoding} needs {channels} channels, "
                f"got {self.data.shape[2]}"
            )


@dataclass(frozen=True, kw_only=True)
class CameraCalibration(Message):
    """Pinhole camera model of one (rectified) camera; ``frame_id`` is the camera frame.

    The camera frame is the optical one: x right, y down, z forward.
    """

    width: int  # [px]
    height: int  # [px]
    intrinsics: np.ndarray = array_field((3, 3), "float64", "K, [px]")
    projection: np.ndarray = array_field(
        (3, 4), "float64", "P: homogeneous camera-frame point -> pixel, [px]"
    )
    extrinsics: np.ndarray = array_field(
        (4, 4), "float64", "T_camera_from_ego: ego-frame point [m] -> camera frame [m]"
    )

    def _check(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise MessageError(f"CameraCalibration: size {self.width}x{self.height} is not positive")
