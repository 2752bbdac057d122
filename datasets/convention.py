"""The stack's one convention for frames, boxes, units and time, and the KITTI conversion.

Stated once, here; every reader converts into it at the dataset boundary and nothing
downstream knows which dataset a frame came from.

* Units: SI. Lengths [m], angles [rad], speeds [m/s], time integer nanoseconds [ns].
* Frames are right-handed. ``"ego"``: x forward, y left, z up. KITTI's ego origin is the
  Velodyne origin (scans need no transform); nuScenes' is ego_pose's rear-axle origin.
  ``"world"``: z up, fixed per log (the reader states its origin and axes).
* A 3D box is ``(x, y, z, dx, dy, dz, yaw)``: (x, y, z) the box centre (z at the centre, not
  the bottom), (dx, dy, dz) the extent along the box's own x (length), y (width), z (height),
  yaw counter-clockwise from +x of the frame about +z, wrapped to [-pi, pi).
* A rigid transform is a (4, 4) float64 matrix ``T_a_from_b``: ``p_a = T_a_from_b @ p_b``.

KITTI boxes live in the rectified camera frame (x right, y down, z forward): ``location`` is
the centre of the box's *bottom* face, dimensions are (h, w, l), ``rotation_y`` turns about
camera +y (down) and 0 points along camera +x. The box is upright along camera y. Conversion
here (:func:`kitti_camera_to_boxes` / :func:`boxes_to_kitti_camera`) is exact both ways:

* centre: move up by h/2 along camera -y, then the full rigid transform (tilt included);
* heading: the unit heading vector ``(cos ry, 0, -sin ry)`` in the camera frame is rotated into
  the target frame and its xy direction gives yaw. The inverse solves for the ``ry`` whose
  rotated heading points along ``yaw`` in closed form, so the round trip is exact to float
  precision (about 1e-12 in float64), not just for axis-aligned calibrations.
"""

from __future__ import annotations

import numpy as np

NS_PER_S = 1_000_000_000  # [ns/s]
KITTI_FRAME_PERIOD_NS = 100_000_000  # [ns] KITTI tracking/object sequences: 10 Hz, no stamps


def seconds_to_ns(seconds: float | np.ndarray) -> int | np.ndarray:
    """Converts [s] to integer [ns] (rounded to the nearest ns)."""
    if isinstance(seconds, np.ndarray):
        return np.rint(seconds * NS_PER_S).astype(np.int64)
    return int(round(float(seconds) * NS_PER_S))


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    """Wraps angles [rad] to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def make_transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Builds ``T`` (4, 4) float64 from a (3, 3) rotation and a (3,) translation [m]."""
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return transform


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverts a rigid (or rigid-with-rectification) (4, 4) transform.

    Uses the exact inverse of the 3x3 block (not its transpose) because KITTI's
    ``R0_rect @ Tr_velo_to_cam`` is only orthonormal to about 1e-7.
    """
    rot_inv = inverse_3x3(transform[:3, :3])  # (3, 3)
    return make_transform(rot_inv, -rot_inv @ transform[:3, 3])


def inverse_3x3(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (3, 3) matrix by the adjugate (rows' cross products over the determinant).

    ``np.linalg.inv`` goes through LAPACK, whose per-call overhead dominates at 3x3.
    """
    r0, r1, r2 = np.asarray(matrix, dtype=np.float64)
    adjugate_t = np.stack([np.cross(r1, r2), np.cross(r2, r0), np.cross(r0, r1)])  # (3, 3)
    det = float(r0 @ adjugate_t[0])
    if abs(det) < 1e-12:
        raise ValueError(f"singular 3x3 matrix (det {det:.3e})")
    return adjugate_t.T / det


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Applies ``transform`` (4, 4) to ``points`` (N, 3) [m]; returns (N, 3) float64."""
    points = np.asarray(points, dtype=np.float64)
    return points @ transform[:3, :3].T + transform[:3, 3]  # (N, 3)


def kitti_camera_to_boxes(
    location: np.ndarray,
    dimensions_hwl: np.ndarray,
    rotation_y: np.ndarray,
    T_target_from_camera: np.ndarray,
) -> np.ndarray:
    """KITTI camera-frame boxes -> stack boxes in the target frame (usually ``"ego"``).

    Args:
        location: (N, 3) [m] bottom-face centre in the rectified camera frame.
        dimensions_hwl: (N, 3) [m] height, width, length.
        rotation_y: (N,) [rad] KITTI rotation about camera +y.
        T_target_from_camera: (4, 4) camera-rect -> target, e.g. ``inv(R0_rect @ Tr_velo_to_cam)``.

    Returns:
        (N, 7) float64 ``(x, y, z, dx, dy, dz, yaw)`` in the target frame.
    """
    location = np.asarray(location, dtype=np.float64).reshape(-1, 3)
    hwl = np.asarray(dimensions_hwl, dtype=np.float64).reshape(-1, 3)
    ry = np.asarray(rotation_y, dtype=np.float64).reshape(-1)
    centre_cam = location.copy()
    centre_cam[:, 1] -= hwl[:, 0] / 2.0  # camera y points down: the centre is h/2 above
    centre = transform_points(T_target_from_camera, centre_cam)  # (N, 3)
    heading_cam = np.stack([np.cos(ry), np.zeros_like(ry), -np.sin(ry)], axis=1)  # (N, 3)
    heading = heading_cam @ T_target_from_camera[:3, :3].T  # (N, 3)
    yaw = wrap_angle(np.arctan2(heading[:, 1], heading[:, 0]))
    size = hwl[:, [2, 1, 0]]  # (N, 3) l, w, h -> dx, dy, dz
    return np.concatenate([centre, size, yaw[:, None]], axis=1)  # (N, 7)


def boxes_to_kitti_camera(
    boxes: np.ndarray, T_camera_from_source: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack boxes -> KITTI camera-frame (location, dimensions_hwl, rotation_y).

    Exact inverse of :func:`kitti_camera_to_boxes` when ``T_camera_from_source`` is the
    inverse of the transform used there.

    Args:
        boxes: (N, 7) ``(x, y, z, dx, dy, dz, yaw)`` in the source frame [m]/[rad].
        T_camera_from_source: (4, 4) source -> rectified camera.

    Returns:
        location (N, 3) [m] bottom-face centre, dimensions (N, 3) [m] h, w, l,
        rotation_y (N,) [rad] wrapped to [-pi, pi).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    centre_cam = transform_points(T_camera_from_source, boxes[:, :3])  # (N, 3)
    hwl = boxes[:, [5, 4, 3]]  # (N, 3)
    location = centre_cam.copy()
    location[:, 1] += hwl[:, 0] / 2.0
    # Find ry with R_src_from_cam @ (cos ry, 0, -sin ry) parallel (same xy direction) to
    # (cos yaw, sin yaw): with a = R[:, 0], c = R[:, 2] the cross product with the yaw
    # direction vanishes iff cos(ry) * A = sin(ry) * C, A/C below.
    rot = inverse_3x3(T_camera_from_source[:3, :3])  # (3, 3) R_src_from_cam
    yaw = boxes[:, 6]
    cos_yaw, sin_yaw = np.cos(yaw), np.sin(yaw)
    a_cross = rot[1, 0] * cos_yaw - rot[0, 0] * sin_yaw  # (N,)
    c_cross = rot[1, 2] * cos_yaw - rot[0, 2] * sin_yaw  # (N,)
    ry = np.arctan2(a_cross, c_cross)
    heading = np.stack([np.cos(ry), np.zeros_like(ry), -np.sin(ry)], axis=1) @ rot.T  # (N, 3)
    flip = heading[:, 0] * cos_yaw + heading[:, 1] * sin_yaw < 0  # the antiparallel solution
    ry = wrap_angle(np.where(flip, ry + np.pi, ry))
    return location, hwl, ry


def kitti_alpha(location: np.ndarray, rotation_y: np.ndarray) -> np.ndarray:
    """KITTI observation angle ``alpha = ry - atan2(x, z)`` [rad], wrapped to [-pi, pi).

    Args:
        location: (N, 3) [m] in the rectified camera frame.
        rotation_y: (N,) [rad].
    """
    location = np.asarray(location, dtype=np.float64).reshape(-1, 3)
    return wrap_angle(np.asarray(rotation_y) - np.arctan2(location[:, 0], location[:, 2]))


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """Corners of stack boxes.

    Args:
        boxes: (N, 7) ``(x, y, z, dx, dy, dz, yaw)`` [m]/[rad].

    Returns:
        (N, 8, 3) float64 corners; 0-3 the bottom face counter-clockwise from
        (+dx/2, +dy/2), 4-7 the top face above them.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    unit = np.array(
        [[1, 1, -1], [-1, 1, -1], [-1, -1, -1], [1, -1, -1],
         [1, 1, 1], [-1, 1, 1], [-1, -1, 1], [1, -1, 1]], dtype=np.float64
    ) / 2.0  # (8, 3)
    local = unit[None] * boxes[:, None, 3:6]  # (N, 8, 3)
    cos_yaw, sin_yaw = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    x = local[..., 0] * cos_yaw[:, None] - local[..., 1] * sin_yaw[:, None]  # (N, 8)
    y = local[..., 0] * sin_yaw[:, None] + local[..., 1] * cos_yaw[:, None]  # (N, 8)
    return np.stack([x, y, local[..., 2]], axis=-1) + boxes[:, None, :3]  # (N, 8, 3)


def points_in_boxes(points: np.ndarray, boxes: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Which points lie inside which boxes.

    Args:
        points: (P, 3+) [m] x, y, z (extra columns ignored), same frame as ``boxes``.
        boxes: (N, 7) stack boxes.
        margin: [m] grows every box by this much on each side (negative shrinks).

    Returns:
        (P, N) bool.
    """
    points = np.asarray(points, dtype=np.float64)[:, :3]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    rel = points[:, None, :] - boxes[None, :, :3]  # (P, N, 3)
    cos_yaw, sin_yaw = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])  # (N,)
    local_x = rel[..., 0] * cos_yaw + rel[..., 1] * sin_yaw  # (P, N)
    local_y = -rel[..., 0] * sin_yaw + rel[..., 1] * cos_yaw  # (P, N)
    half = boxes[:, 3:6] / 2.0 + margin  # (N, 3)
    return (
        (np.abs(local_x) <= half[:, 0])
        & (np.abs(local_y) <= half[:, 1])
        & (np.abs(rel[..., 2]) <= half[:, 2])
    )


def project_to_image(points: np.ndarray, projection: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole projection of points given in the camera frame (or any frame P expects).

    Args:
        points: (N, 3) [m].
        projection: (3, 4) ``P`` [px].

    Returns:
        uv (N, 2) [px] and depth (N,) [m] (the homogeneous scale; <= 0 is behind the camera,
        where uv is meaningless).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    homog = points @ projection[:, :3].T + projection[:, 3]  # (N, 3)
    depth = homog[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = homog[:, :2] / depth[:, None]  # (N, 2)
    return uv, depth
