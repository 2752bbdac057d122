"""Camera-LiDAR fusion: frustum boxes, association, score rules, calibration errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from perception_scenes import box_surface, flat_ground, front_camera

from drivestack.msgs import Detections2D, Detections3D, ObjectClass
from drivestack.perception.fusion import (
    CalibrationError,
    CameraView,
    FusionConfig,
    fuse,
    project_boxes,
)
from drivestack.perception.lidar_geometric import LidarGeometricConfig


def _scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    parts = [
        flat_ground(rng, slope=0.0),
        box_surface((12.0, 2.0), (0.6, 0.6, 1.75), 0.0, -1.7, rng, 300),  # pedestrian
        box_surface((-15.0, 0.0), (4.0, 1.7, 1.5), 0.0, -1.7, rng),
    ]  # car behind
    pts = np.concatenate(parts)
    return np.c_[pts, np.zeros(len(pts))].astype(np.float32)


def _dets2d(boxes: list[list[float]], classes: list[int], scores: list[float]) -> Detections2D:
    return Detections2D(
        stamp_ns=0,
        frame_id="cam",
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        scores=np.asarray(scores, np.float32),
        class_ids=np.asarray(classes, np.int32),
    )


def _lidar(boxes: list[list[float]], classes: list[int], scores: list[float]) -> Detections3D:
    return Detections3D(
        stamp_ns=0,
        frame_id="ego",
        boxes=np.asarray(boxes, np.float32).reshape(-1, 7),
        scores=np.asarray(scores, np.float32),
        class_ids=np.asarray(classes, np.int32),
    )


def test_pedestrian_seen_only_by_camera_gets_a_3d_box_from_its_frustum() -> None:
    cam = front_camera()
    ped_truth = np.array([[12.0, 2.0, -1.7 + 0.875, 0.6, 0.6, 1.75, 0.0]])
    box2d, ok = project_boxes(ped_truth, cam)
    assert ok.all()
    fused, cam_idx, boxes_2d = fuse(
        _scene(),
        [CameraView(_dets2d(box2d.tolist(), [ObjectClass.PEDESTRIAN], [0.8]), cam)],
        _lidar([], [], []),
        FusionConfig(),
        LidarGeometricConfig(),
    )
    assert list(fused.class_ids) == [ObjectClass.PEDESTRIAN]
    assert np.hypot(*(fused.boxes[0, :2] - [12.0, 2.0])) < 0.4
    assert fused.scores[0] == pytest.approx(0.8 * FusionConfig().camera_only_weight)
    assert cam_idx.tolist() == [0]
    np.testing.assert_allclose(boxes_2d[0], box2d[0])


def test_matched_detection_combines_scores_and_unconfirmed_lidar_in_view_is_downweighted() -> None:
    cam = front_camera()
    ped = [12.0, 2.0, -0.8, 0.8, 0.6, 1.75, 0.0]
    ghost = [20.0, -3.0, -0.9, 3.9, 1.6, 1.5, 0.0]  # in view, no camera detection
    behind = [-15.0, 0.0, -0.9, 4.0, 1.7, 1.5, 0.0]  # outside the only camera's view
    box2d, _ = project_boxes(np.array([ped]), cam)
    lidar = _lidar(
        [ped, ghost, behind],
        [ObjectClass.PEDESTRIAN, ObjectClass.CAR, ObjectClass.CAR],
        [0.6, 0.5, 0.5],
    )
    fused, cam_idx, _ = fuse(
        _scene(),
        [CameraView(_dets2d(box2d.tolist(), [ObjectClass.PEDESTRIAN], [0.8]), cam)],
        lidar,
        FusionConfig(),
        LidarGeometricConfig(),
    )
    assert len(fused.boxes) == 3
    by_x = {
        round(float(b[0])): (float(s), int(c))
        for b, s, c in zip(fused.boxes, fused.scores, cam_idx, strict=True)
    }
    assert by_x[12] == (pytest.approx(1 - 0.2 * 0.4), 0)
    assert by_x[20] == (pytest.approx(0.5 * FusionConfig().unconfirmed_weight), -1)
    assert by_x[-15] == (pytest.approx(0.5), -1)


def test_frustum_of_scattered_points_gives_no_3d_box_and_no_error() -> None:
    """Frustum points spread over clusters too small to be an object: the camera detection
    gets no 3D box (it is not invented), the rest of the frame is still fused."""
    cam = front_camera()
    rng = np.random.default_rng(4)
    ground = flat_ground(rng, slope=0.0)
    specks = np.c_[rng.uniform(20, 21, 12), np.linspace(-3, 3, 12), np.full(12, -1.0)]
    pts = np.concatenate([ground, specks])
    pts = np.c_[pts, np.zeros(len(pts))].astype(np.float32)
    box2d, _ = project_boxes(np.array([[20.5, 0.0, -1.0, 1.0, 6.5, 1.0, 0.0]]), cam)
    fused, _, _ = fuse(
        pts,
        [CameraView(_dets2d(box2d.tolist(), [ObjectClass.CAR], [0.9]), cam)],
        _lidar([], [], []),
        FusionConfig(),
        LidarGeometricConfig(),
    )
    assert len(fused.boxes) == 0


def test_calibration_projecting_nothing_raises() -> None:
    cam = front_camera(yaw=np.pi)  # looks backwards at a scan with points only ... everywhere
    pts = _scene()
    pts = pts[pts[:, 0] > 1.0]  # keep only points in front of the ego: the camera sees none
    with pytest.raises(CalibrationError, match="project into the image"):
        fuse(
            pts,
            [CameraView(_dets2d([[0, 0, 10, 10]], [ObjectClass.CAR], [0.9]), cam)],
            _lidar([], [], []),
            FusionConfig(),
            LidarGeometricConfig(),
        )


@pytest.mark.data
def test_kitti_fusion_keeps_pedestrian_and_lifts_car_scores(data_root: Path) -> None:
    """On KITTI 000000 the camera-confirmed pedestrian outranks every unconfirmed LiDAR box."""
    from drivestack.datasets.kitti.object import KittiObjectLog
    from drivestack.eval.box_iou import bev_iou
    from drivestack.perception.lidar_geometric import detect_points

    frame = KittiObjectLog(data_root / "kitti_object")[0]
    cam = frame.load("calib_2")
    gt = frame.load("annotations")
    ped2d, _ = project_boxes(np.asarray(gt.boxes, np.float64), cam)
    pts = np.asarray(frame.load("lidar").points)
    boxes, scores, classes = detect_points(pts, LidarGeometricConfig())
    fused, _, _ = fuse(
        pts,
        [CameraView(_dets2d(ped2d.tolist(), [ObjectClass.PEDESTRIAN], [0.85]), cam)],
        _lidar(boxes.tolist(), classes.tolist(), scores.tolist()),
        FusionConfig(),
        LidarGeometricConfig(),
    )
    best = int(np.argmax(fused.scores))
    assert fused.class_ids[best] == ObjectClass.PEDESTRIAN
    assert (
        bev_iou(
            np.asarray(gt.boxes[:1], np.float64),
            np.asarray(fused.boxes[best : best + 1], np.float64),
        )[0, 0]
        > 0.4
    )
