"""KITTI tracking on the shared data: geometry that must agree across files (marker ``data``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.convention import box_corners, project_to_image, transform_points
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.label_file import read_tracking_labels
from drivestack.datasets.kitti.tracking import read_seqmap
from drivestack.datasets.kitti.tracking_log import KittiTrackingConfig, KittiTrackingLog
from drivestack.msgs import ObjectClass

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def tracking_root(data_root: Path) -> Path:
    return data_root / "kitti_tracking"


def box_iou_2d(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("sequence", ["0000", "0018", "0020"])
def test_annotations_in_ego_project_with_calib_message_onto_label_2d_boxes(tracking_root, sequence):
    """Label -> ego box -> corners -> CameraCalibration -> pixels lands on the label's 2D box."""
    log = KittiTrackingLog(tracking_root, sequence, KittiTrackingConfig(image_size=(1242, 375)))
    labels = read_tracking_labels(tracking_root / "label_02" / f"{sequence}.txt")
    ious = []
    for index in range(0, len(log), 3):
        frame = log[index]
        tracks, calib = frame.load("annotations"), frame.load("calib_2")
        rows = np.flatnonzero((labels.frame == index) & labels.has_3d)
        rows = rows[np.argsort(labels.track_id[rows])]
        np.testing.assert_array_equal(labels.track_id[rows], tracks.track_ids)
        clean = (labels.truncated[rows] == 0) & (labels.occluded[rows] == 0)
        clean &= tracks.class_ids == ObjectClass.CAR
        for corners, bbox in zip(
            box_corners(tracks.boxes[clean]), labels.bbox[rows][clean], strict=True
        ):
            cam = transform_points(calib.extrinsics, corners)  # (8, 3)
            if (cam[:, 2] < 1.0).any():
                continue
            uv, _ = project_to_image(cam, calib.projection)
            ious.append(box_iou_2d(np.r_[uv.min(0), uv.max(0)], bbox))
    assert len(ious) > 20
    assert np.median(ious) > 0.95 and np.mean(np.array(ious) > 0.8) > 0.9


@pytest.mark.parametrize("sequence", ["0000", "0001", "0008", "0020"])
def test_oxts_poses_integrate_to_oxts_velocities(tracking_root, sequence):
    """Central differences of the ego pose match the ego velocity (rotated to world).

    KITTI tracking has no stamps; the true frame period is ~0.1036 s (raw drives' timestamps),
    so the period is fitted and must lie in [0.099, 0.106] s, then the residual must be small.
    A wrong Mercator scale (x1.5 at lat 49) or swapped axes fails both.
    """
    log = KittiTrackingLog(tracking_root, sequence)
    states = [frame.load("ego") for frame in log]
    position = np.stack([s.pose[:3, 3] for s in states])  # (T, 3)
    velocity = np.stack([s.pose[:3, :3] @ s.velocity for s in states])  # (T, 3) world
    step = position[2:] - position[:-2]  # (T-2, 3) over two periods
    v = velocity[1:-1]
    period = float((step * v).sum() / (v * v).sum() / 2.0)
    assert 0.099 < period < 0.106
    residual = np.linalg.norm(step / (2.0 * period) - v, axis=1)
    assert np.median(residual) < 0.35 and np.percentile(residual, 95) < 1.0


def test_pointrcnn_detections_sit_on_labelled_cars_in_ego(tracking_root):
    config = KittiTrackingConfig(detections="pointrcnn_val")
    log = KittiTrackingLog(tracking_root, "0008", config)
    distances = []
    for frame, msgs in log.iter_messages(["annotations", "detections"]):
        dets, tracks = msgs["detections"], msgs["annotations"]
        confident = (dets.class_ids == ObjectClass.CAR) & (dets.scores > 5.0)
        cars = np.isin(tracks.class_ids, [ObjectClass.CAR, ObjectClass.VAN])
        if confident.any() and cars.any():
            gap = dets.boxes[confident, None, :2] - tracks.boxes[None, cars, :2]
            distances.extend(np.linalg.norm(gap, axis=2).min(axis=1))
            assert frame.stamp_ns == frame.index * 100_000_000
    assert np.median(distances) < 0.3 and np.mean(np.array(distances) < 1.0) > 0.95


def test_every_seqmap_sequence_has_its_frame_count_and_streams(tracking_root):
    for entry in read_seqmap(tracking_root / "splits" / "evaluate_tracking.seqmap.training"):
        log = KittiTrackingLog(tracking_root, entry.sequence)
        assert len(log) == entry.num_frames
        assert set(log.streams()) == {"ego", "annotations"}


def test_object_and_tracking_calibs_of_one_recording_give_identical_transforms(
    data_root, tracking_root
):
    """Object calib (R0_rect:) and tracking calib (R_rect) of the same recording day agree."""
    tracking = {p.stem: read_calib(p) for p in sorted((tracking_root / "calib").glob("*.txt"))}
    matched = 0
    for path in sorted((data_root / "kitti_object" / "calib").glob("*.txt")):
        obj = read_calib(path)
        same_day = [t for t in tracking.values() if np.array_equal(t.P, obj.P)]
        assert same_day, f"{path.name}: no tracking sequence with the same camera matrices"
        for trk in same_day:
            np.testing.assert_array_equal(trk.T_camrect_from_velo, obj.T_camrect_from_velo)
            np.testing.assert_array_equal(trk.T_velo_from_imu, obj.T_velo_from_imu)
            a, b = trk.camera_calibration(2, 1242, 375), obj.camera_calibration(2, 1242, 375)
            np.testing.assert_array_equal(a.extrinsics, b.extrinsics)
            np.testing.assert_array_equal(a.projection, b.projection)
            matched += 1
    assert matched >= 6


def test_real_labels_round_trip_through_every_real_calibration_exactly(data_root, tracking_root):
    """All KITTI object labels, converted with each real calibration and back: 1e-6."""
    from drivestack.datasets.convention import (
        boxes_to_kitti_camera,
        kitti_camera_to_boxes,
        wrap_angle,
    )
    from drivestack.datasets.kitti.label_file import read_object_labels

    parts = [read_object_labels(p) for p in sorted((data_root / "kitti_object" / "label_2").glob("00[01]*.txt"))]
    location = np.concatenate([p.location[p.has_3d] for p in parts])
    hwl = np.concatenate([p.dimensions[p.has_3d] for p in parts])
    ry = np.concatenate([p.rotation_y[p.has_3d] for p in parts])
    assert len(ry) > 4_000
    calibs = [read_calib(p) for p in sorted((tracking_root / "calib").glob("*.txt"))]
    calibs += [read_calib(p) for p in sorted((data_root / "kitti_object" / "calib").glob("*.txt"))]
    for calib in calibs:
        boxes = kitti_camera_to_boxes(location, hwl, ry, calib.T_velo_from_camrect)
        loc2, hwl2, ry2 = boxes_to_kitti_camera(boxes, calib.T_camrect_from_velo)
        assert np.abs(loc2 - location).max() < 1e-6 and np.abs(hwl2 - hwl).max() < 1e-6
        assert np.abs(wrap_angle(ry2 - ry)).max() < 1e-6
