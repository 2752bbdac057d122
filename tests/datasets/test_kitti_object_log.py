"""KITTI object Log on synthetic frames: streams, conversion, bad input and lenient skips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivestack.datasets.convention import boxes_to_kitti_camera
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.object import KittiObjectConfig, KittiObjectLog
from drivestack.datasets.log import SkippedFrame
from drivestack.msgs import ObjectClass

CALIB = """P0: 700 0 600 0 0 700 180 0 0 0 1 0
P1: 700 0 600 -380 0 700 180 0 0 0 1 0
P2: 700 0 600 45 0 700 180 0.2 0 0 1 0.003
P3: 700 0 600 -330 0 700 180 2.2 0 0 1 0.003
R0_rect: 0.9999 0.0098 -0.0074 -0.0098 0.9999 -0.0043 0.0074 0.0043 0.9999
Tr_velo_to_cam: 0.0075 -0.99997 -0.0006 -0.004 0.0148 0.0007 -0.9999 -0.076 0.9999 0.0075 0.0148 -0.27
Tr_imu_to_velo: 1 0 0 -0.81 0 1 0 0.32 0 0 1 -0.80
"""
LABEL = """Car 0.00 0 -1.5 300 160 450 290 1.5 1.6 3.9 2.0 1.6 10.0 -1.57
DontCare -1 -1 -10 219 188 245 218 -1 -1 -1 -1000 -1000 -1000 -10
Cyclist 0.10 1 0.2 700 150 720 200 1.7 0.6 1.8 -3.0 1.6 20.0 0.1
"""


def make_training(root: Path, ids: list[str]) -> None:
    for sub in ("calib", "label_2", "velodyne", "image_2"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for k, frame_id in enumerate(ids):
        (root / "calib" / f"{frame_id}.txt").write_text(CALIB)
        (root / "label_2" / f"{frame_id}.txt").write_text(LABEL)
        np.zeros((5, 4), np.float32).tofile(root / "velodyne" / f"{frame_id}.bin")
        cv2.imwrite(str(root / "image_2" / f"{frame_id}.png"), np.zeros((370 + k, 1224 + k, 3), np.uint8))


def test_frames_streams_and_annotations_in_ego(tmp_path: Path):
    make_training(tmp_path, ["000007", "000003"])
    log = KittiObjectLog(tmp_path)
    assert log.frame_ids == ["000003", "000007"]
    assert set(log.streams()) == {"lidar", "camera_2", "calib_2", "annotations"}
    frame = log[1]
    boxes = frame.load("annotations")
    boxes.validate()
    np.testing.assert_array_equal(boxes.class_ids, [ObjectClass.CAR, ObjectClass.CYCLIST])
    location, hwl, ry = boxes_to_kitti_camera(boxes.boxes.astype(np.float64), _camrect(log))
    np.testing.assert_allclose(location[1], [-3.0, 1.6, 20.0], atol=1e-5)
    np.testing.assert_allclose(ry, [-1.57, 0.1], atol=1e-6)
    assert (frame.load("calib_2").width, frame.load("calib_2").height) == (1224, 370)
    assert (log[0].load("calib_2").width, log[0].load("calib_2").height) == (1225, 371)
    assert log.labels(1).type.tolist() == ["Car", "DontCare", "Cyclist"]


def _camrect(log: KittiObjectLog) -> np.ndarray:
    return read_calib(log.root / "calib" / "000003.txt").T_camrect_from_velo


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("Car 0 0 -1.5 300 160 450 290 1.5 1.6 3.9 2.0 1.6 10.0", r"000005\.txt:4: 14 columns"),
        ("Bus 0 0 -1.5 300 160 450 290 1.5 1.6 3.9 2.0 1.6 10.0 0.1", r"000005\.txt:4: unknown type 'Bus'"),
        ("Car 0 0 -1.5 300 160 450 290 1.5 x 3.9 2.0 1.6 10.0 0.1", r"000005\.txt:4: column 'w'"),
    ],
)
def test_bad_label_line_is_named_and_lenient_replay_skips_that_frame(tmp_path: Path, bad_line: str, message: str):
    make_training(tmp_path, ["000004", "000005", "000006"])
    (tmp_path / "label_2" / "000005.txt").write_text(LABEL + bad_line + "\n")
    log = KittiObjectLog(tmp_path)
    with pytest.raises(DataError, match=message):
        log[1].load("annotations")
    skipped: list[SkippedFrame] = []
    kept = [f.index for f, _ in log.iter_messages(on_error="lenient", skipped=skipped)]
    assert kept == [0, 2] and len(skipped) == 1 and "000005.txt:4" in skipped[0].error


def test_missing_calib_key_and_corrupt_image_are_named(tmp_path: Path):
    make_training(tmp_path, ["000001"])
    (tmp_path / "calib" / "000001.txt").write_text(CALIB.replace("R0_rect:", "R1_rect:"))
    with pytest.raises(DataError, match=r"000001\.txt: missing calibration key\(s\): R0_rect or R_rect"):
        KittiObjectLog(tmp_path)[0].load("annotations")
    (tmp_path / "image_2" / "000001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError, match=r"000001\.png: cannot decode image"):
        KittiObjectLog(tmp_path)[0].load("camera_2")


def test_split_ids_without_calib_raise_or_are_dropped(tmp_path: Path):
    make_training(tmp_path / "training", ["000001", "000002"])
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "val.txt").write_text("000002\n000009\n")
    with pytest.raises(DataError, match=r"no calib file for 1 of 2 split frames \(first: 000009\.txt\)"):
        KittiObjectLog(tmp_path / "training", KittiObjectConfig(split="val"))
    log = KittiObjectLog(tmp_path / "training", KittiObjectConfig(split="val", on_missing="lenient"))
    assert log.frame_ids == ["000002"] and log.dropped == ["000009"]
