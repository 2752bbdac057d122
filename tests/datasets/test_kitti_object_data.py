"""KITTI object on the shared data: projection, LiDAR-in-box, image sizes (marker ``data``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.convention import (
    box_corners,
    points_in_boxes,
    project_to_image,
    transform_points,
)
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.object import (
    KittiObjectConfig,
    KittiObjectLog,
    read_frustum_detections,
)

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def object_log(data_root: Path) -> KittiObjectLog:
    return KittiObjectLog(data_root / "kitti_object")


def iou_2d(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_labelled_3d_boxes_projected_with_calib_land_on_their_2d_boxes(object_log):
    """Label -> ego box -> CameraCalibration -> pixels: the hull matches the 2D label box
    (pedestrians less tightly: their 2D boxes follow limbs, not the 3D cuboid)."""
    ious = []
    for frame in object_log:
        boxes, calib = frame.load("annotations"), frame.load("calib_2")
        labels = object_log.labels(frame.index)
        for corners, bbox in zip(box_corners(boxes.boxes), labels.bbox[labels.has_3d], strict=True):
            uv, depth = project_to_image(transform_points(calib.extrinsics, corners), calib.projection)
            assert (depth > 0).all()
            low = np.clip(uv.min(axis=0), 0, [calib.width - 1, calib.height - 1])
            high = np.clip(uv.max(axis=0), 0, [calib.width - 1, calib.height - 1])
            ious.append(iou_2d(np.r_[low, high], bbox))
    assert len(ious) == 10 and min(ious) > 0.75 and np.median(ious) > 0.95


def test_lidar_points_fall_inside_labelled_boxes_and_not_above_them(object_log):
    for frame in object_log:
        points, boxes = frame.load("lidar").points, frame.load("annotations").boxes
        inside = points_in_boxes(points, boxes).sum(axis=0)  # (N,)
        lifted = boxes.copy()
        lifted[:, 2] += 1.5 * lifted[:, 5]  # the same box, floating above the object
        above = points_in_boxes(points, lifted).sum(axis=0)
        assert (inside >= 9).all(), f"frame {frame.index}: {inside}"
        assert (above <= inside // 10).all()


def test_image_sizes_differ_and_calib_follows_each_image(object_log):
    sizes = []
    for frame in object_log:
        image, calib = frame.load("camera_2"), frame.load("calib_2")
        assert (calib.width, calib.height) == (image.data.shape[1], image.data.shape[0])
        sizes.append((calib.width, calib.height))
    assert sizes[0] == (1224, 370) and (1242, 375) in sizes


def test_val_split_without_calib_is_strict_error_or_lenient_count(data_root: Path):
    root = data_root / "kitti_object"
    with pytest.raises(DataError, match=r"no calib file for 3765 of 3769 split frames"):
        KittiObjectLog(root, KittiObjectConfig(split="val"))
    train = KittiObjectLog(root, KittiObjectConfig(split="train", on_missing="lenient"))
    assert train.frame_ids == ["000000", "000003"] and len(train.dropped) == 3710
    val = KittiObjectLog(root, KittiObjectConfig(split="val", on_missing="lenient"))
    assert val.frame_ids == ["000001", "000002", "000004", "000005"]


def test_frustum_2d_detections_cover_the_val_frames(data_root: Path):
    path = data_root / "kitti_object/detections/frustum_pointnets_rgb2d_val/rgb_detection_val.txt"
    dets = read_frustum_detections(path)
    assert len(dets.by_frame) > 3700
    boxes, scores, classes = dets.by_frame["000001"]
    np.testing.assert_allclose(boxes[0], [389, 181, 424, 202])
    assert set(classes) <= {1, 7, 9}
