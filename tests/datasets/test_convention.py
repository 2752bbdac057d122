"""The stack convention: exact KITTI camera <-> stack box round trips and box geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.datasets.convention import (
    box_corners,
    boxes_to_kitti_camera,
    inverse_3x3,
    invert_transform,
    kitti_alpha,
    kitti_camera_to_boxes,
    make_transform,
    points_in_boxes,
    project_to_image,
    wrap_angle,
)

# KITTI's nominal rectified-camera -> Velodyne axes: x_velo = z_cam, y_velo = -x_cam, z_velo = -y_cam.
AXES_VELO_FROM_CAM = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def rotation_from_angles(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


small_angle = st.floats(-0.05, 0.05)
finite = st.floats(-50.0, 50.0)


@settings(max_examples=200, deadline=None)
@given(
    tilt=st.tuples(small_angle, small_angle, st.floats(-np.pi, np.pi)),
    offset=st.tuples(finite, finite, finite),
    seed=st.integers(0, 2**31 - 1),
)
def test_kitti_camera_box_round_trip_is_exact_for_tilted_calibrations(tilt, offset, seed):
    rng = np.random.default_rng(seed)
    T_velo_from_cam = make_transform(rotation_from_angles(*tilt) @ AXES_VELO_FROM_CAM, offset)
    location = rng.uniform([-30, -2, 1], [30, 3, 80], size=(16, 3))
    hwl = rng.uniform([0.5, 0.3, 0.3], [4.0, 3.0, 15.0], size=(16, 3))
    ry = rng.uniform(-np.pi, np.pi, size=16)
    boxes = kitti_camera_to_boxes(location, hwl, ry, T_velo_from_cam)
    loc2, hwl2, ry2 = boxes_to_kitti_camera(boxes, invert_transform(T_velo_from_cam))
    np.testing.assert_allclose(loc2, location, atol=1e-6)
    np.testing.assert_allclose(hwl2, hwl, atol=1e-6)
    assert np.abs(wrap_angle(ry2 - ry)).max() < 1e-6
    boxes2 = kitti_camera_to_boxes(loc2, hwl2, ry2, T_velo_from_cam)
    np.testing.assert_allclose(boxes2[:, :6], boxes[:, :6], atol=1e-6)
    assert np.abs(wrap_angle(boxes2[:, 6] - boxes[:, 6])).max() < 1e-6


def test_axis_aligned_kitti_yaw_is_minus_ry_minus_half_pi_and_centre_is_lifted():
    ry = np.array([0.0, 0.3, -2.0, np.pi / 2])
    location = np.array([[1.0, 1.5, 10.0]] * 4)
    hwl = np.array([[1.5, 1.6, 3.9]] * 4)
    boxes = kitti_camera_to_boxes(
        location, hwl, ry, make_transform(AXES_VELO_FROM_CAM, np.zeros(3))
    )
    np.testing.assert_allclose(wrap_angle(boxes[:, 6] - (-ry - np.pi / 2)), 0.0, atol=1e-12)
    # camera (1, 1.5, 10) bottom -> velo (10, -1, -1.5), centre 0.75 m higher.
    np.testing.assert_allclose(boxes[0, :3], [10.0, -1.0, -0.75], atol=1e-12)
    np.testing.assert_allclose(boxes[0, 3:6], [3.9, 1.6, 1.5])


def test_kitti_alpha_matches_a_real_label_line():
    # label_02/0000.txt frame 0, track 0 (Van): alpha -1.793451 for its location and ry.
    alpha = kitti_alpha(np.array([[-4.552284, 1.858523, 13.410495]]), np.array([-2.115488]))
    assert abs(alpha[0] - (-1.793451)) < 0.01


def test_box_corners_lie_on_the_box_surface_and_centre_is_inside():
    boxes = np.array([[1.0, 2.0, 0.5, 4.0, 2.0, 1.5, 0.7], [-3.0, 0.0, 1.0, 1.0, 1.0, 2.0, -2.5]])
    corners = box_corners(boxes)  # (2, 8, 3)
    np.testing.assert_allclose(corners.mean(axis=1), boxes[:, :3], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(corners[:, 0] - corners[:, 1], axis=1), boxes[:, 3])
    np.testing.assert_allclose(
        corners[:, 4:, 2] - corners[:, :4, 2], boxes[:, None, 5] * np.ones(4)
    )
    inside_grown = points_in_boxes(corners.reshape(-1, 3), boxes, margin=1e-9)
    inside_shrunk = points_in_boxes(corners.reshape(-1, 3), boxes, margin=-1e-9)
    assert inside_grown[:8, 0].all() and inside_grown[8:, 1].all()
    assert not inside_shrunk.any()
    assert points_in_boxes(boxes[:, :3], boxes).diagonal().all()


def test_points_in_boxes_respects_yaw():
    box = np.array([[0.0, 0.0, 0.0, 4.0, 1.0, 1.0, np.pi / 2]])  # long along world y
    points = np.array([[0.0, 1.8, 0.0], [1.8, 0.0, 0.0]])
    np.testing.assert_array_equal(points_in_boxes(points, box)[:, 0], [True, False])


def test_project_to_image_inverts_back_projection():
    projection = np.array([[700.0, 0, 600, 45], [0, 700, 180, 0.2], [0, 0, 1, 0.003]])
    rng = np.random.default_rng(0)
    points = rng.uniform([-10, -2, 2], [10, 2, 60], size=(50, 3))
    uv, depth = project_to_image(points, projection)
    ray = np.concatenate([uv * depth[:, None], depth[:, None]], axis=1) - projection[:, 3]
    back = ray @ np.linalg.inv(projection[:, :3]).T
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_inverse_3x3_matches_numpy_and_rejects_singular():
    rng = np.random.default_rng(3)
    for _ in range(20):
        m = rng.normal(size=(3, 3))
        np.testing.assert_allclose(inverse_3x3(m) @ m, np.eye(3), atol=1e-9)
    with pytest.raises(ValueError, match="singular"):
        inverse_3x3(np.array([[1.0, 2, 3], [2, 4, 6], [0, 0, 1]]))
