"""Runs trackers over KITTI tracking sequences and writes KITTI tracking result files.

Reading goes through the datasets layer (``KittiTrackingLog``: calibration, oxts ego poses,
AB3DMOT-format detections converted into the stack's "ego" frame). Detections are moved to
the world frame with the ego pose of their frame, tracked there, and the reported boxes are
moved back to the rectified camera frame for the result file
(``frame track_id type -1 -1 alpha x1 y1 x2 y2 h w l x y z ry score``). The 2D box of a
result line is the 3D box projected with P2 and clipped to the image, which the devkit's
DontCare and minimum-height rules read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from drivestack.datasets.convention import (
    box_corners,
    boxes_to_kitti_camera,
    invert_transform,
    kitti_alpha,
    project_to_image,
)
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import KittiCalib
from drivestack.datasets.kitti.label_file import format_object_line
from drivestack.datasets.kitti.tracking import AB3DMOT_COLUMNS, read_seqmap
from drivestack.datasets.kitti.tracking_log import KittiTrackingConfig, KittiTrackingLog
from drivestack.datasets.text_table import parse_numeric_table
from drivestack.msgs import Detections3D, EgoState, ObjectClass
from drivestack.tracking.motion_data import to_world

# [px] KITTI tracking images are 1224..1242 x 370..376; the result 2D boxes are clipped to the
# largest so that no box is cut short (the 3D metrics do not read the 2D box otherwise).
IMAGE_SIZE = (1242, 375)
KITTI_NAMES = {
    ObjectClass.CAR: "Car",
    ObjectClass.PEDESTRIAN: "Pedestrian",
    ObjectClass.CYCLIST: "Cyclist",
}


@dataclass(frozen=True)
class SequenceData:
    """Everything a tracker needs from one sequence, preloaded (no I/O while tracking).

    Attributes:
        name: sequence name ("0001").
        calib: the sequence calibration.
        poses: (F, 4, 4) T_world_from_ego per frame.
        boxes: F arrays (M_f, 7) float64 world-frame detection boxes.
        scores: F arrays (M_f,) float64 raw detector scores.
        class_ids: F arrays (M_f,) int32.
    """

    name: str
    calib: KittiCalib
    poses: np.ndarray
    boxes: list[np.ndarray]
    scores: list[np.ndarray]
    class_ids: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def num_detections(self) -> int:
        return int(sum(len(b) for b in self.boxes))


def check_frame_order(detections: Path, sequence: str) -> None:
    """Raises ``DataError`` naming file and line where a detection file's frames decrease.

    The datasets reader sorts detections by frame; a tracker input whose frames go backwards
    is more likely a broken file than a valid one, so it is refused here instead.
    """
    for path in sorted(detections.glob(f"*/{sequence}.txt")):
        values, linenos = parse_numeric_table(
            path.read_text(), str(path), AB3DMOT_COLUMNS, sep=",", what="AB3DMOT detection fields"
        )
        back = np.flatnonzero(np.diff(values[:, 0]) < 0)
        if len(back):
            i = int(back[0]) + 1
            raise DataError(
                f"{path}:{linenos[i]}: frame {int(values[i, 0])} after frame "
                f"{int(values[i - 1, 0])}; frames must not decrease"
            )


def load_sequence(kitti_root: Path, sequence: str, detections: Path) -> SequenceData:
    """Reads calibration, ego poses and detections of one sequence.

    Args:
        kitti_root: folder with ``calib/``, ``oxts/`` (``kitti_tracking`` in the shared data).
        sequence: four-digit name.
        detections: AB3DMOT-format folder (``<Class>/<seq>.txt``).

    Returns:
        The preloaded sequence (boxes in the world frame).
    """
    check_frame_order(detections, sequence)
    log = KittiTrackingLog(
        kitti_root, sequence, KittiTrackingConfig(detections=str(detections.resolve()))
    )
    if "ego" not in log.streams():
        raise FileNotFoundError(
            f"{kitti_root}/oxts/{sequence}.txt: ego poses are needed for tracking"
        )
    poses, boxes, scores, classes = [], [], [], []
    for frame in log:
        ego = frame.load("ego")
        dets = frame.load("detections")
        assert isinstance(ego, EgoState) and isinstance(dets, Detections3D)
        poses.append(np.asarray(ego.pose, np.float64))
        boxes.append(to_world(np.asarray(dets.boxes, np.float64), poses[-1]))
        scores.append(np.asarray(dets.scores, np.float64))
        classes.append(np.asarray(dets.class_ids, np.int32))
    return SequenceData(sequence, log.calib, np.stack(poses), boxes, scores, classes)


def load_split(kitti_root: Path, seqmap: Path, detections: Path) -> list[SequenceData]:
    """All sequences of a devkit seqmap, with a progress bar on stderr."""
    entries = read_seqmap(seqmap)
    return [
        load_sequence(kitti_root, e.sequence, detections)
        for e in tqdm(entries, desc="load sequences", file=sys.stderr, unit="seq")
    ]


@dataclass(frozen=True)
class FrameResult:
    """Tracks reported in one frame, world frame."""

    ids: np.ndarray  # (K,) int64
    class_ids: np.ndarray  # (K,) int32
    boxes: np.ndarray  # (K, 7) float64
    scores: np.ndarray  # (K,) float64


# One frame (world boxes, scores, class ids, ego pose) -> reported tracks; the callable keeps
# the tracker's state between calls (a fresh one per sequence).
FrameTracker = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], FrameResult]


def run_sequence(seq: SequenceData, tracker: FrameTracker) -> list[FrameResult]:
    """Feeds every frame of ``seq`` to ``tracker`` in order; returns its reports per frame."""
    return [
        tracker(seq.boxes[f], seq.scores[f], seq.class_ids[f], seq.poses[f])
        for f in range(len(seq))
    ]


def result_lines(seq: SequenceData, results: list[FrameResult]) -> Iterator[str]:
    """KITTI tracking result lines (camera frame) of a tracked sequence."""
    t_cam_from_velo = seq.calib.T_camrect_from_velo
    p2 = seq.calib.P[2]
    for f, res in enumerate(results):
        if len(res.ids) == 0:
            continue
        ego_boxes = to_world(res.boxes, invert_transform(seq.poses[f]))  # (K, 7) in ego
        loc, hwl, ry = boxes_to_kitti_camera(ego_boxes, t_cam_from_velo)
        corners = box_corners(ego_boxes)  # (K, 8, 3)
        cam = corners.reshape(-1, 3) @ t_cam_from_velo[:3, :3].T + t_cam_from_velo[:3, 3]
        uv, depth = project_to_image(cam, p2)
        uv = uv.reshape(-1, 8, 2)
        in_front = depth.reshape(-1, 8) > 0.1  # [m]
        alpha = kitti_alpha(loc, ry)
        for k in range(len(res.ids)):
            if not in_front[k].any():
                continue  # behind the camera: not in the image, not scored by KITTI
            pts = uv[k][in_front[k]]
            x1, y1 = np.clip(pts.min(0), 0, None)
            x2 = min(float(pts[:, 0].max()), IMAGE_SIZE[0] - 1.0)
            y2 = min(float(pts[:, 1].max()), IMAGE_SIZE[1] - 1.0)
            if x2 <= x1 or y2 <= y1:
                continue  # projects outside the image
            yield format_object_line(
                KITTI_NAMES[ObjectClass(int(res.class_ids[k]))],
                (float(x1), float(y1), x2, y2),
                alpha=float(alpha[k]),
                dimensions=hwl[k].tolist(),
                location=loc[k].tolist(),
                rotation_y=float(ry[k]),
                score=float(res.scores[k]),
                frame=f,
                track_id=int(res.ids[k]),
            )


def write_results(out_dir: Path, seq: SequenceData, results: list[FrameResult]) -> Path:
    """Writes ``<out_dir>/<seq>.txt`` (all classes, KITTI tracking result format)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{seq.name}.txt"
    lines = list(result_lines(seq, results))
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    return path
