"""KITTI camera-frame boxes -> stack-convention boxes for evaluation.

KITTI labels give ``location`` = bottom centre (x, y, z) in the rectified camera frame (x right,
y down, z forward), ``dimensions`` = (h, w, l) and ``rotation_y`` about camera +y (0 = facing
camera +x). Evaluation needs no calibration: overlaps are invariant under a rigid change of
frame, so the boxes are expressed in a right-handed frame aligned with the rectified camera,
X = z_cam (forward), Y = -x_cam (left), Z = -y_cam (up), the same axes as the stack's "ego"
frame up to the camera-LiDAR offset. There the box centre is lifted by h/2 and
``yaw = -(rotation_y + pi/2)`` (OpenPCDet's conversion), extents (dx, dy, dz) = (l, w, h).
"""

from __future__ import annotations

import numpy as np


def camera_to_stack_boxes(
    dimensions: np.ndarray, location: np.ndarray, rotation_y: np.ndarray
) -> np.ndarray:
    """Converts KITTI camera-frame boxes to ``(x, y, z, dx, dy, dz, yaw)``, z at the centre.

    Args:
        dimensions: (N, 3) [m] h, w, l.
        location: (N, 3) [m] bottom-centre x, y, z in the rectified camera frame.
        rotation_y: (N,) [rad] rotation about camera +y.

    Returns:
        (N, 7) float64 boxes in the camera-aligned frame X = z_cam, Y = -x_cam, Z = -y_cam.
    """
    dims = np.asarray(dimensions, np.float64).reshape(-1, 3)
    loc = np.asarray(location, np.float64).reshape(-1, 3)
    ry = np.asarray(rotation_y, np.float64).reshape(-1)
    h, w, length = dims[:, 0], dims[:, 1], dims[:, 2]
    out = np.stack(
        [
            loc[:, 2],  # forward
            -loc[:, 0],  # left
            -loc[:, 1] + h / 2,  # up, centre = bottom + h/2
            length,
            w,
            h,
            -(ry + np.pi / 2),
        ],
        axis=1,
    )  # (N, 7)
    return out


def stack_to_camera_boxes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`camera_to_stack_boxes` (boxes in the camera-aligned frame).

    Args:
        boxes: (N, 7) [x, y, z, dx, dy, dz, yaw] with X = z_cam, Y = -x_cam, Z = -y_cam.

    Returns:
        (N, 3) dimensions h, w, l [m], (N, 3) bottom-centre location [m] in the rectified
        camera frame, (N,) rotation_y [rad] wrapped to [-pi, pi).
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 7)
    dims = np.stack([b[:, 5], b[:, 4], b[:, 3]], axis=1)  # (N, 3) h, w, l
    loc = np.stack([-b[:, 1], -(b[:, 2] - b[:, 5] / 2), b[:, 0]], axis=1)  # (N, 3)
    ry = np.mod(-b[:, 6] - np.pi / 2 + np.pi, 2 * np.pi) - np.pi
    return dims, loc, ry
