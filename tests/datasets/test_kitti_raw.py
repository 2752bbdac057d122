"""KITTI raw drives: absent streams tolerated, exact timestamps, day calibration."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.oxts import VF, YAW, read_oxts
from drivestack.datasets.kitti.raw import KittiRawLog, parse_timestamp_ns, read_raw_calib


def test_timestamp_parse_is_exact_to_the_nanosecond():
    a = parse_timestamp_ns("2011-09-26 13:02:25.951199337", "t")
    b = parse_timestamp_ns("2011-09-26 13:02:26.054281661", "t")
    assert b - a == 103_082_324
    assert a % 1_000_000_000 == 951_199_337
    with pytest.raises(DataError, match=r"ts\.txt:3: timestamp '2011-09-26 13:02:2x'"):
        parse_timestamp_ns("2011-09-26 13:02:2x", "ts.txt:3")


def make_drive(parent: Path) -> Path:
    drive = parent / "2011_09_26" / "2011_09_26_drive_0042_sync"
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    (drive / "image_02" / "data").mkdir(parents=True)
    stamps = [f"2011-09-26 13:02:{25 + i * 0.1:012.9f}" for i in range(4)]
    (drive / "velodyne_points" / "timestamps.txt").write_text("\n".join(stamps) + "\n")
    for i in (0, 1, 3):  # frame 2's scan is absent
        np.ones((3, 4), np.float32).tofile(drive / "velodyne_points" / "data" / f"{i:010d}.bin")
    cv2.imwrite(str(drive / "image_02" / "data" / "0000000000.png"), np.zeros((4, 6, 3), np.uint8))
    return drive


def test_drive_with_absent_streams_lists_what_it_has_and_why(tmp_path: Path):
    log = KittiRawLog(make_drive(tmp_path))
    assert len(log) == 4 and set(log.streams()) == {"lidar", "camera_2"}
    assert log[2].streams() == () and log[0].streams() == ("lidar", "camera_2")
    stamps = [f.stamp_ns for f in log]
    assert np.diff(stamps).tolist() == [100_000_000] * 3
    assert any("no day calibration" in p for p in log.problems)
    assert any("velodyne_points: data for 3 of 4 frames" in p for p in log.problems)
    assert log[3].load("lidar").stamp_ns == stamps[3]


def test_non_increasing_timestamps_are_named(tmp_path: Path):
    drive = make_drive(tmp_path)
    stamps = drive / "velodyne_points" / "timestamps.txt"
    lines = stamps.read_text().splitlines()
    stamps.write_text("\n".join([lines[0], lines[2], lines[1], lines[3]]))
    with pytest.raises(DataError, match=r"timestamps\.txt: stamps not increasing at frame 2"):
        KittiRawLog(drive)


@pytest.mark.data
def test_day_calibration_gives_the_same_transforms_as_tracking_calib_of_that_day(data_root: Path):
    raw = read_raw_calib(data_root / "kitti_raw" / "2011_09_26_calib")
    tracking = read_calib(data_root / "kitti_tracking" / "calib" / "0000.txt")  # recorded 2011_09_26
    for camera in range(4):
        np.testing.assert_array_equal(raw.T_cam_from_velo(camera), tracking.T_cam_from_velo(camera))
        np.testing.assert_array_equal(raw.P[camera], tracking.P[camera])
    np.testing.assert_array_equal(raw.T_velo_from_imu, tracking.T_velo_from_imu)


@pytest.mark.data
def test_shared_raw_drives_read_with_their_absent_streams(data_root: Path):
    text_only = KittiRawLog(data_root / "kitti_raw" / "2011_09_26_drive_0001_sync")
    assert len(text_only) == 108 and set(text_only.streams()) == {"ego"}
    ego = text_only[0].load("ego")
    assert ego.stamp_ns == parse_timestamp_ns("2011-09-26 13:02:25.964389445", "")
    packet = read_oxts(data_root / "kitti_raw/2011_09_26_drive_0001_sync/oxts/data/0000000000.txt")[0]
    assert abs(ego.yaw - packet[YAW]) < 0.01  # the Velodyne axes are within 0.01 rad of the IMU's
    assert abs(ego.speed - packet[VF]) < 0.05  # [m/s]
    sfnd = KittiRawLog(data_root / "kitti_raw" / "2011_09_26_drive_unknown_sfnd")
    assert len(sfnd) == 12 and set(sfnd.streams()) == {"lidar", "camera_2", "calib_2"}
    assert any("nominal 10 Hz" in p for p in sfnd.problems)
    frame = sfnd[0]
    points, calib, image = frame.load("lidar").points, frame.load("calib_2"), frame.load("camera_2")
    assert (calib.width, calib.height) == (image.data.shape[1], image.data.shape[0]) == (1242, 375)
    cam = points[:, :3] @ calib.extrinsics[:3, :3].T + calib.extrinsics[:3, 3]
    ahead = cam[:, 2] > 2.0
    uv = (cam[ahead] @ calib.projection[:, :3].T)[:, :2] / cam[ahead, 2:3]
    in_image = (uv[:, 0] >= 0) & (uv[:, 0] < 1242) & (uv[:, 1] >= 0) & (uv[:, 1] < 375)
    assert 0.1 < in_image.mean() < 0.6  # the camera sees a ~90 deg slice of the 360 deg scan
