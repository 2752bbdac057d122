"""Synthetic LiDAR scenes shared by the perception tests (not a test module)."""

from __future__ import annotations

import numpy as np

from drivestack.msgs import CameraCalibration


def flat_ground(rng: np.random.Generator, n: int = 20000, slope: float = 0.02) -> np.ndarray:
    xy = rng.uniform([-30, -30], [60, 30], (n, 2))
    z = -1.7 + slope * xy[:, 0] + rng.normal(0, 0.02, n)
    return np.c_[xy, z]


def box_surface(
    centre: tuple[float, float],
    size: tuple[float, float, float],
    yaw: float,
    ground_z: float,
    rng: np.random.Generator,
    n: int = 600,
) -> np.ndarray:
    """Points on the two box faces that face the sensor at the origin (what a LiDAR sees)."""
    length, width, height = size
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s], [s, c]])
    faces = []
    for axis, half, along in ((0, length / 2, width), (1, width / 2, length)):
        normal = rot[:, axis]
        sign = -np.sign(normal @ np.asarray(centre)) or 1.0  # face towards the sensor
        t = rng.uniform(-along / 2, along / 2, n // 2)
        local = np.zeros((n // 2, 2))
        local[:, axis] = sign * half
        local[:, 1 - axis] = t
        faces.append(local @ rot.T + np.asarray(centre))
    xy = np.concatenate(faces)
    z = ground_z + rng.uniform(0.25, height, len(xy))
    return np.c_[xy, z]


def front_camera(yaw: float = 0.0) -> CameraCalibration:
    """A 1242x375 pinhole camera at the ego origin looking along ego +x rotated by ``yaw``."""
    k = np.array([[720.0, 0, 621], [0, 720.0, 187.5], [0, 0, 1]])
    c, s = np.cos(yaw), np.sin(yaw)
    fwd, left = np.array([c, s, 0.0]), np.array([-s, c, 0.0])
    rot = np.stack([-left, [0, 0, -1.0], fwd])  # rows: camera x (right), y (down), z (forward)
    ext = np.eye(4)
    ext[:3, :3] = rot
    proj = np.c_[k, np.zeros(3)]
    return CameraCalibration(
        stamp_ns=0,
        frame_id="cam",
        width=1242,
        height=375,
        intrinsics=k,
        projection=proj,
        extrinsics=ext,
    )
