"""KITTI tracking I/O of the tracker on the shared data: world round trip, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.label_file import read_tracking_labels
from drivestack.datasets.kitti.tracking import read_ab3dmot_sequence
from drivestack.tracking.kitti_run import FrameResult, load_sequence, result_lines, run_sequence
from drivestack.tracking.registry import TRACKERS
from drivestack.tracking.tracker import TrackerConfig

pytestmark = pytest.mark.data


def _kitti(data_root: Path) -> Path:
    return data_root / "kitti_tracking"


def test_detections_survive_world_frame_and_back_to_kitti_camera(
    data_root: Path, tmp_path: Path
) -> None:
    root = _kitti(data_root)
    dets_dir = root / "detections" / "pointrcnn_val"
    seq = load_sequence(root, "0012", dets_dir)
    raw = read_ab3dmot_sequence(dets_dir, "0012")
    # Report every detection as its own "track": the result file must give the input back.
    results = [
        FrameResult(np.arange(len(b)), c, b, s)
        for b, s, c in zip(seq.boxes, seq.scores, seq.class_ids, strict=True)
    ]
    out = tmp_path / "0012.txt"
    out.write_text("\n".join(result_lines(seq, results)) + "\n")
    parsed = read_tracking_labels(out, with_score=True)
    assert len(parsed) >= 0.95 * len(raw.frame)  # a few project outside the image
    for f in (0, 40, 77):
        mine = parsed.where(parsed.frame == f)
        theirs = np.flatnonzero(raw.frame == f)
        for loc, dims, ry in zip(mine.location, mine.dimensions, mine.rotation_y, strict=True):
            j = theirs[np.argmin(np.linalg.norm(raw.location[theirs] - loc, axis=1))]
            np.testing.assert_allclose(loc, raw.location[j], atol=1e-4)
            np.testing.assert_allclose(dims, raw.dimensions[j], atol=1e-4)
            assert (
                abs(np.angle(np.exp(1j * (ry - raw.rotation_y[j])))) < 1e-3
            )  # float32 in Detections3D


def test_stack_tracker_tracks_a_real_sequence_with_stable_ids(data_root: Path) -> None:
    root = _kitti(data_root)
    seq = load_sequence(root, "0012", root / "detections" / "pointrcnn_val")
    results = run_sequence(seq, TRACKERS["stack"](TrackerConfig(), None))
    assert len(results) == len(seq) == 78
    ids = np.concatenate([r.ids for r in results])
    # Far fewer identities than detections: tracks persist across frames.
    assert 0 < len(np.unique(ids)) < 0.2 * seq.num_detections
    for r in results:
        assert len(np.unique(r.ids)) == len(r.ids)  # an id once per frame


def _broken_copy(root: Path, tmp_path: Path, line: str, where: int) -> Path:
    dets = tmp_path / "dets"
    for cls in ("Car", "Pedestrian", "Cyclist"):
        (dets / cls).mkdir(parents=True)
        shutil.copy(
            root / "detections" / "pointrcnn_val" / cls / "0012.txt", dets / cls / "0012.txt"
        )
    path = dets / "Car" / "0012.txt"
    lines = path.read_text().splitlines()
    lines.insert(where, line.replace("F,", lines[where - 1].split(",")[0] + ",", 1))
    path.write_text("\n".join(lines) + "\n")
    return dets


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("F,2,1,1,20,20,3.0,1.5,1.6", "expected 15"),  # wrong column count
        ("F,2,1,1,20,20,3.0,nan,1.6,4.0,1,1,10,0.1,0.1", "NaN"),
        ("F,2,1,1,20,20,3.0,-1.5,1.6,4.0,1,1,10,0.1,0.1", "negative box size"),
        ("0,2,1,1,20,20,3.0,1.5,1.6,4.0,1,1,10,0.1,0.1", "frames must not decrease"),
    ],
)
def test_bad_detection_files_are_refused_naming_file_and_line(
    data_root: Path, tmp_path: Path, line: str, message: str
) -> None:
    root = _kitti(data_root)
    dets = _broken_copy(root, tmp_path, line, where=100)
    with pytest.raises(DataError, match=rf"Car/0012.txt:101: .*{message}"):
        load_sequence(root, "0012", dets)


def test_empty_detection_files_give_empty_frames(data_root: Path, tmp_path: Path) -> None:
    root = _kitti(data_root)
    dets = tmp_path / "dets"
    for cls in ("Car", "Pedestrian", "Cyclist"):
        (dets / cls).mkdir(parents=True)
        (dets / cls / "0012.txt").write_text("")
    seq = load_sequence(root, "0012", dets)
    results = run_sequence(seq, TRACKERS["stack"](TrackerConfig(), None))
    assert len(results) == 78 and all(len(r.ids) == 0 for r in results)
