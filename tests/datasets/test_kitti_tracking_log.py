"""KITTI tracking Log on a small synthetic sequence: streams, conversion, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.convention import boxes_to_kitti_camera
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.oxts import LAT, LON, VE, YAW
from drivestack.datasets.kitti.tracking_log import KittiTrackingConfig, KittiTrackingLog
from drivestack.datasets.log import SkippedFrame
from drivestack.msgs import ObjectClass

CALIB = """P0: 700 0 600 0 0 700 180 0 0 0 1 0
P1: 700 0 600 -380 0 700 180 0 0 0 1 0
P2: 700 0 600 45 0 700 180 0.2 0 0 1 0.003
P3: 700 0 600 -330 0 700 180 2.2 0 0 1 0.003
R_rect 0.9999 0.0098 -0.0074 -0.0098 0.9999 -0.0043 0.0074 0.0043 0.9999
Tr_velo_cam 0.0075 -0.99997 -0.0006 -0.004 0.0148 0.0007 -0.9999 -0.076 0.9999 0.0075 0.0148 -0.27
Tr_imu_velo 1 0 0 -0.81 0 1 0 0.32 0 0 1 -0.80
"""
LABELS = """0 -1 DontCare -1 -1 -10 219 188 245 218 -1000 -1000 -1000 -10 -1 -1 -1
0 0 Car 0 0 -1.5 300 160 450 290 1.5 1.6 3.9 2.0 1.6 10.0 -1.57
1 0 Car 0 0 -1.5 300 160 450 290 1.5 1.6 3.9 2.0 1.6 11.0 -1.57
1 1 Pedestrian 0 0 0.2 700 150 720 200 1.7 0.6 0.8 -3.0 1.6 20.0 0.1
2 0 Car 0 0 -1.5 300 160 450 290 1.5 1.6 3.9 2.0 1.6 12.0 -1.57
"""


def make_sequence(root: Path, frames: int = 3) -> None:
    for sub in ("calib", "oxts", "label_02", "velodyne/0000"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "calib" / "0000.txt").write_text(CALIB)
    oxts = np.zeros((frames, 30))
    oxts[:, LAT] = 49.0
    oxts[:, LON] = 8.4 + np.arange(frames) * np.rad2deg(
        1.0 / (6378137.0 * np.cos(np.deg2rad(49.0)))
    )
    oxts[:, YAW], oxts[:, VE] = 0.0, 10.0  # 1 m per frame east, facing east
    (root / "oxts" / "0000.txt").write_text("\n".join(" ".join(map(repr, row)) for row in oxts))
    (root / "label_02" / "0000.txt").write_text(LABELS)
    for i in range(frames):
        np.arange(40, dtype=np.float32).tofile(root / "velodyne" / "0000" / f"{i:06d}.bin")


def test_streams_stamps_and_annotation_round_trip(tmp_path: Path):
    make_sequence(tmp_path)
    log = KittiTrackingLog(tmp_path, "0000")
    assert set(log.streams()) == {"ego", "lidar", "annotations"}
    assert [f.stamp_ns for f in log] == [0, 100_000_000, 200_000_000]
    tracks = log[1].load("annotations")
    tracks.validate()
    np.testing.assert_array_equal(tracks.track_ids, [0, 1])
    np.testing.assert_array_equal(tracks.class_ids, [ObjectClass.CAR, ObjectClass.PEDESTRIAN])
    np.testing.assert_array_equal(tracks.ages, [1, 0])
    location, hwl, ry = boxes_to_kitti_camera(
        tracks.boxes.astype(np.float64), log.calib.T_camrect_from_velo
    )
    np.testing.assert_allclose(location[0], [2.0, 1.6, 11.0], atol=1e-5)
    np.testing.assert_allclose(hwl[1], [1.7, 0.6, 0.8], atol=1e-6)
    np.testing.assert_allclose(ry, [-1.57, 0.1], atol=1e-6)
    assert log[0].load("lidar").points.shape == (10, 4)


def test_annotation_velocity_adds_ego_motion_and_single_frame_tracks_are_nan(tmp_path: Path):
    make_sequence(tmp_path)
    log = KittiTrackingLog(tmp_path, "0000")
    tracks = log[1].load("annotations")
    # The car moves +1 m/frame along camera z (~ ego x) while the ego drives 1 m/frame east
    # facing east: absolute speed ~20 m/s along ego x.
    assert abs(tracks.velocities[0, 0] - 20.0) < 0.5 and abs(tracks.velocities[0, 1]) < 0.5
    assert np.isnan(tracks.velocities[1]).all()


def test_missing_calibration_and_malformed_label_are_named(tmp_path: Path):
    make_sequence(tmp_path)
    (tmp_path / "calib" / "0000.txt").write_text(CALIB.replace("Tr_velo_cam", "Tr_velo_cmo"))
    with pytest.raises(
        DataError, match=r"0000\.txt: missing calibration key\(s\): Tr_velo_to_cam or Tr_velo_cam"
    ):
        KittiTrackingLog(tmp_path, "0000")
    (tmp_path / "calib" / "0000.txt").write_text(CALIB)
    (tmp_path / "label_02" / "0000.txt").write_text(
        LABELS + "3 2 Bus 0 0 0 1 1 2 2 1 1 1 1 1 1 0\n"
    )
    with pytest.raises(DataError, match=r"label_02/0000\.txt:6: unknown type 'Bus'"):
        KittiTrackingLog(tmp_path, "0000")
    (tmp_path / "label_02" / "0000.txt").write_text(
        LABELS + "5 2 Car 0 0 0 1 1 2 2 1 1 1 1 1 1 0\n"
    )
    with pytest.raises(
        DataError, match=r"label_02/0000\.txt: frame 5 outside the sequence's 0\.\.2"
    ):
        KittiTrackingLog(tmp_path, "0000")
    (tmp_path / "label_02" / "0000.txt").write_text(
        LABELS + "2 0 Car 0 0 0 1 1 2 2 1 1 1 1 1 1 0\n"
    )
    with pytest.raises(DataError, match=r"label_02/0000\.txt:6: track 0 labelled twice in frame 2"):
        KittiTrackingLog(tmp_path, "0000")


def test_truncated_scan_is_named_and_lenient_replay_skips_it(tmp_path: Path):
    make_sequence(tmp_path)
    scan = tmp_path / "velodyne" / "0000" / "000001.bin"
    scan.write_bytes(scan.read_bytes()[:-6])
    log = KittiTrackingLog(tmp_path, "0000")
    with pytest.raises(DataError, match=r"000001\.bin: 154 bytes is not a whole number"):
        list(log.iter_messages(["lidar"]))
    skipped: list[SkippedFrame] = []
    got = [f.index for f, _ in log.iter_messages(["lidar"], on_error="lenient", skipped=skipped)]
    assert got == [0, 2] and [s.index for s in skipped] == [1]


def test_missing_detection_folder_is_named(tmp_path: Path):
    make_sequence(tmp_path)
    with pytest.raises(FileNotFoundError, match="detections/nope"):
        KittiTrackingLog(tmp_path, "0000", KittiTrackingConfig(detections="nope"))
