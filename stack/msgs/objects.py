"""Perception and tracking results: 2D/3D detections, tracked objects, forecasts.

Boxes follow the stack convention: ``(x, y, z, dx, dy, dz, yaw)`` with (x, y, z) the box
centre, (dx, dy, dz) the extent along the box's own x (length), y (width), z (height) axes,
yaw counter-clockwise from +x of ``frame_id``; all in [m] and [rad].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.msgs.base import Message, MessageError, array_field

BOX_DOC = "[m]/[rad] (x, y, z, dx, dy, dz, yaw) in frame_id, z at the box centre"


@dataclass(frozen=True, kw_only=True)
class Detections2D(Message):
    """Image-space detections; ``frame_id`` names the camera."""

    boxes: np.ndarray = array_field(("N", 4), "float32", "[px] x1, y1, x2, y2")
    scores: np.ndarray = array_field(("N",), "float32", "confidence, higher is better")
    class_ids: np.ndarray = array_field(("N",), "int32", "ObjectClass values")

    def _check(self) -> None:
        if len(self.boxes) and bool((self.boxes[:, 2:] < self.boxes[:, :2]).any()):
            raise MessageError("Detections2D.boxes: x2 < x1 or y2 < y1")


@dataclass(frozen=True, kw_only=True)
class Detections3D(Message):
    """3D detections of one sensor frame."""

    boxes: np.ndarray = array_field(("N", 7), "float32", BOX_DOC)
    scores: np.ndarray = array_field(("N",), "float32", "confidence, higher is better")
    class_ids: np.ndarray = array_field(("N",), "int32", "ObjectClass values")

    def _check(self) -> None:
        if len(self.boxes) and bool((self.boxes[:, 3:6] < 0).any()):
            raise MessageError("Detections3D.boxes: negative size")


@dataclass(frozen=True, kw_only=True)
class TrackedObjects(Message):
    """Confirmed tracks at ``stamp_ns``."""

    track_ids: np.ndarray = array_field(("N",), "int64", "unique per run, never reused")
    boxes: np.ndarray = array_field(("N", 7), "float32", BOX_DOC)
    velocities: np.ndarray = array_field(("N", 3), "float32", "[m/s] in frame_id")
    covariance: np.ndarray = array_field(
        ("N", 6, 6), "float32", "covariance of (x, y, z, vx, vy, vz), [m^2], [m^2/s], [m^2/s^2]"
    )
    scores: np.ndarray = array_field(("N",), "float32", "track confidence")
    class_ids: np.ndarray = array_field(("N",), "int32", "ObjectClass values")
    ages: np.ndarray = array_field(("N",), "int32", "frames since birth")


@dataclass(frozen=True, kw_only=True)
class ObjectForecasts(Message):
    """Predicted future positions of tracked objects."""

    track_ids: np.ndarray = array_field(("N",), "int64", "ids of TrackedObjects")
    horizons: np.ndarray = array_field(("T",), "float64", "[s] ahead of stamp_ns, increasing")
    positions: np.ndarray = array_field(("N", "T", 2), "float32", "[m] x, y in frame_id")
    position_std: np.ndarray = array_field(("N", "T", 2), "float32", "[m] 1-sigma of x, y")
    sizes: np.ndarray = array_field(("N", 3), "float32", "[m] dx, dy, dz")
    class_ids: np.ndarray = array_field(("N",), "int32", "ObjectClass values")
