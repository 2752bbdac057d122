"""KITTI tracking ground truth -> per-frame :class:`TrackedObjects` in the ego frame.

The raw lines are parsed by :mod:`drivestack.datasets.kitti.label_file`; here they are
converted into the convention:

* ``DontCare`` regions (track id -1, no 3D box) are left out: they are 2D-only (the raw
  rows stay available through ``label_file``);
* boxes go from the camera frame to the Velodyne (ego) frame exactly
  (:func:`~drivestack.datasets.convention.kitti_camera_to_boxes`);
* velocities are finite differences of each track's box centre in the world frame (central
  where the track has a neighbour on both sides, one-sided at its ends, over the real frame
  gap), rotated into the ego axes of the frame: the object's absolute velocity, not the one
  relative to the ego vehicle. A track seen in one frame only, or a sequence without oxts
  poses, has NaN velocity: there is nothing to measure it from;
* ``ages`` count frames since the track's first label, ``scores`` are 1, ``covariance`` 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivestack.datasets.convention import KITTI_FRAME_PERIOD_NS, NS_PER_S, kitti_camera_to_boxes
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import KittiCalib
from drivestack.datasets.kitti.classes import kitti_class_id
from drivestack.datasets.kitti.label_file import LabelFileError, read_tracking_labels
from drivestack.datasets.kitti.tracking import frame_slices
from drivestack.msgs import TrackedObjects

FRAME_PERIOD_S = KITTI_FRAME_PERIOD_NS / NS_PER_S  # [s]


@dataclass(frozen=True)
class TrackingAnnotations:
    """A sequence's labelled tracks (DontCare removed), sorted by frame.

    Attributes:
        frame: (N,) int64; track_ids: (N,) int64; class_ids: (N,) int32;
        boxes: (N, 7) float64 in "ego"; velocities: (N, 3) float64 [m/s] in "ego";
        ages: (N,) int32; truncated: (N,) float64; occluded: (N,) int64;
        slices: rows of each frame 0..num_frames-1.
    """

    frame: np.ndarray
    track_ids: np.ndarray
    class_ids: np.ndarray
    boxes: np.ndarray
    velocities: np.ndarray
    ages: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    slices: list[slice]

    def message(self, index: int, stamp_ns: int) -> TrackedObjects:
        """Frame ``index``'s tracks as a :class:`TrackedObjects` in ``"ego"``."""
        rows = self.slices[index]
        count = rows.stop - rows.start
        return TrackedObjects(
            stamp_ns=stamp_ns,
            frame_id="ego",
            track_ids=self.track_ids[rows],
            boxes=self.boxes[rows].astype(np.float32),
            velocities=self.velocities[rows].astype(np.float32),
            covariance=np.zeros((count, 6, 6), dtype=np.float32),
            scores=np.ones(count, dtype=np.float32),
            class_ids=self.class_ids[rows],
            ages=self.ages[rows],
        )


def track_velocities(
    frame: np.ndarray, track_ids: np.ndarray, centres_world: np.ndarray
) -> np.ndarray:
    """Finite-difference velocities of track centres.

    Args:
        frame: (N,) int frame index of each row.
        track_ids: (N,) int track of each row (a track has one row per frame).
        centres_world: (N, 3) [m] box centres in the world frame.

    Returns:
        (N, 3) [m/s] world-frame velocities; NaN for tracks with one row.
    """
    velocity = np.full((len(frame), 3), np.nan)
    for track in np.unique(track_ids):
        rows = np.flatnonzero(track_ids == track)
        rows = rows[np.argsort(frame[rows], kind="stable")]
        if len(rows) < 2:
            continue
        t = frame[rows] * FRAME_PERIOD_S  # (K,) [s]
        p = centres_world[rows]  # (K, 3)
        prev = np.concatenate([[0], np.arange(len(rows) - 1)])  # one-sided at the start
        nxt = np.concatenate([np.arange(1, len(rows)), [len(rows) - 1]])  # and at the end
        velocity[rows] = (p[nxt] - p[prev]) / (t[nxt] - t[prev])[:, None]
    return velocity


def read_tracking_annotations(
    path: str | Path,
    calib: KittiCalib,
    num_frames: int,
    ego_poses: np.ndarray | None,
) -> TrackingAnnotations:
    """Reads ``label_02/<seq>.txt`` into :class:`TrackingAnnotations`.

    Args:
        path: The label file.
        calib: The sequence's calibration (camera -> Velodyne).
        num_frames: Frames in the sequence (labels beyond it are an error).
        ego_poses: (num_frames, 4, 4) ``T_world_from_ego`` per frame, or None (velocities NaN).

    Raises:
        DataError: naming file and line for a malformed line, an unknown class, a track id
            used twice in one frame, or a frame outside the sequence.
    """
    path = Path(path)
    try:
        labels = read_tracking_labels(path, with_score=False)
    except LabelFileError as err:
        raise DataError(str(err)) from err
    keep = labels.has_3d  # DontCare regions (and any row without 3D fields) are 2D-only
    lines = labels.line[keep]
    class_ids = np.array(
        [int(kitti_class_id(str(n), f"{path}:{ln}")) for n, ln in zip(labels.type[keep], lines, strict=True)],
        dtype=np.int32,
    ).reshape(-1)
    frame = labels.frame[keep].astype(np.int64)
    track_ids = labels.track_id[keep].astype(np.int64)
    order = np.lexsort((track_ids, frame))
    frame, track_ids, class_ids, lines = frame[order], track_ids[order], class_ids[order], lines[order]
    same = (np.diff(frame) == 0) & (np.diff(track_ids) == 0)
    if same.any():
        i = int(np.flatnonzero(same)[0]) + 1
        raise DataError(f"{path}:{lines[i]}: track {track_ids[i]} labelled twice in frame {frame[i]}")
    boxes = kitti_camera_to_boxes(
        labels.location[keep][order],
        labels.dimensions[keep][order],
        labels.rotation_y[keep][order],
        calib.T_velo_from_camrect,
    )  # (N, 7) in ego
    slices = frame_slices(frame, num_frames, str(path))
    if ego_poses is None:
        velocities = np.full((len(frame), 3), np.nan)
    else:
        rot = ego_poses[frame, :3, :3]  # (N, 3, 3) R_world_from_ego
        centres = np.einsum("nij,nj->ni", rot, boxes[:, :3]) + ego_poses[frame, :3, 3]  # (N, 3)
        world_velocity = track_velocities(frame, track_ids, centres)  # (N, 3)
        velocities = np.einsum("nji,nj->ni", rot, world_velocity)  # R^T v, (N, 3)
    first = {int(t): int(frame[track_ids == t].min()) for t in np.unique(track_ids)}
    ages = np.array([frame[i] - first[int(t)] for i, t in enumerate(track_ids)], dtype=np.int32)
    return TrackingAnnotations(
        frame=frame,
        track_ids=track_ids,
        class_ids=class_ids,
        boxes=boxes,
        velocities=velocities,
        ages=ages.reshape(-1),
        truncated=labels.truncated[keep][order].astype(np.float64),
        occluded=labels.occluded[keep][order].astype(np.int64),
        slices=slices,
    )


