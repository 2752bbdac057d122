"""Training and evaluation windows for the motion TCN, cut from ground-truth tracks.

A :class:`Track` is one annotated object over consecutive frames in the world frame (ego
poses applied). A window is ``history`` steps up to a reference frame (missing early steps
are marked invalid) and ``horizon`` future steps, all observed: only windows whose future is
fully annotated are kept, so no target is interpolated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivestack.msgs import EgoState, TrackedObjects
from drivestack.tracking.motion_features import MOTION_GROUP, motion_group


@dataclass(frozen=True)
class Track:
    """One object's annotated states, world frame.

    Attributes:
        key: ``(log name, track id)``.
        class_id: ObjectClass id.
        frames: (T,) int64 frame indices, increasing (gaps where unannotated).
        xy: (T, 2) [m] box centres.
        yaw: (T,) [rad].
        size: (T, 3) [m] (dx, dy, dz).
        ego_xy: (T, 2) [m] ego position in the same frames.
    """

    key: tuple[str, int]
    class_id: int
    frames: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray
    size: np.ndarray
    ego_xy: np.ndarray


def to_world(boxes: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Transforms (N, 7) ego-frame boxes to the world with ``pose`` = T_world_from_ego (4, 4)."""
    out = np.array(boxes, dtype=np.float64, copy=True)
    out[:, :3] = boxes[:, :3] @ pose[:3, :3].T + pose[:3, 3]
    out[:, 6] = boxes[:, 6] + np.arctan2(pose[1, 0], pose[0, 0])
    return out


def tracks_from_annotations(
    name: str, frames: Iterable[tuple[int, TrackedObjects, EgoState]]
) -> list[Track]:
    """Groups per-frame annotations of one log into world-frame tracks.

    Args:
        name: log name (part of each track key).
        frames: ``(frame index, annotations in "ego", ego state)`` in increasing frame order.

    Returns:
        Tracks of the classes the motion model knows (``MOTION_GROUP``), ordered by id.
    """
    rows: dict[int, list[tuple[int, np.ndarray, int, np.ndarray]]] = {}
    last = -1
    for index, ann, ego in frames:
        if index <= last:
            raise ValueError(f"{name}: frame {index} after frame {last}; frames must increase")
        last = index
        world = to_world(np.asarray(ann.boxes, np.float64), np.asarray(ego.pose))
        ego_xy = np.asarray(ego.pose[:2, 3], np.float64)
        for tid, box, cls in zip(
            ann.track_ids.tolist(), world, ann.class_ids.tolist(), strict=True
        ):
            if cls in MOTION_GROUP:
                rows.setdefault(tid, []).append((index, box, cls, ego_xy))
    tracks = []
    for tid in sorted(rows):
        r = rows[tid]
        boxes = np.stack([b for _, b, _, _ in r])
        tracks.append(
            Track(
                key=(name, tid),
                class_id=r[0][2],
                frames=np.array([f for f, _, _, _ in r], np.int64),
                xy=boxes[:, :2],
                yaw=boxes[:, 6],
                size=boxes[:, 3:6],
                ego_xy=np.stack([e for _, _, _, e in r]),
            )
        )
    return tracks


@dataclass(frozen=True)
class Windows:
    """A batch of history/future windows (B windows).

    Attributes:
        xy: (B, H, 2) [m] history centres, oldest first.
        yaw: (B, H) [rad].
        valid: (B, H) bool.
        size: (B, 3) [m] size at the reference (last history) step.
        groups: (B,) int64 motion groups.
        ego_xy: (B, 2) [m] ego position at the reference step.
        future: (B, T, 2) [m] centres 1..T steps after the reference step.
        track: (B,) int64 index of the source track.
    """

    xy: np.ndarray
    yaw: np.ndarray
    valid: np.ndarray
    size: np.ndarray
    groups: np.ndarray
    ego_xy: np.ndarray
    future: np.ndarray
    track: np.ndarray

    def __len__(self) -> int:
        return len(self.groups)

    def take(self, idx: np.ndarray) -> Windows:
        """The windows at ``idx``."""
        return Windows(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def make_windows(
    tracks: list[Track], history: int, horizon: int, min_history: int = 1, stride: int = 1
) -> Windows:
    """Cuts every track into windows whose future is fully annotated.

    Args:
        tracks: source tracks.
        history: steps of history (including the reference step).
        horizon: future steps.
        min_history: annotated history steps a window needs (``history`` for full histories).
        stride: [frames] between reference steps of one track.

    Returns:
        All windows, in track order.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in Windows.__dataclass_fields__}
    for ti, tr in enumerate(tracks):
        pos = {int(f): i for i, f in enumerate(tr.frames.tolist())}
        for ref in tr.frames[::stride].tolist():
            fut = [pos.get(ref + k) for k in range(1, horizon + 1)]
            if any(i is None for i in fut):
                continue
            past = [pos.get(ref - history + 1 + k) for k in range(history)]
            valid = np.array([i is not None for i in past])
            if valid.sum() < min_history:
                continue
            idx = np.array([i if i is not None else pos[ref] for i in past])
            r = pos[ref]
            parts["xy"].append(tr.xy[idx])
            parts["yaw"].append(tr.yaw[idx])
            parts["valid"].append(valid)
            parts["size"].append(tr.size[r])
            parts["groups"].append(motion_group(np.array([tr.class_id])))
            parts["ego_xy"].append(tr.ego_xy[r])
            parts["future"].append(tr.xy[np.array(fut)])
            parts["track"].append(np.array([ti], np.int64))
    if not parts["xy"]:
        return Windows(
            np.empty((0, history, 2)), np.empty((0, history)), np.empty((0, history), bool),
            np.empty((0, 3)), np.empty(0, np.int64), np.empty((0, 2)),
            np.empty((0, horizon, 2)), np.empty(0, np.int64),
        )  # fmt: skip
    stacked = {k: np.stack(v) for k, v in parts.items()}
    stacked["groups"] = stacked["groups"].reshape(-1)  # (B,) from (B, 1)
    stacked["track"] = stacked["track"].reshape(-1)
    return Windows(**stacked)


# AB3DMOT's split of the 21 KITTI tracking training sequences (shared data: splits/).
KITTI_TRAIN_SEQUENCES = (
    "0000",
    "0002",
    "0003",
    "0004",
    "0005",
    "0007",
    "0009",
    "0011",
    "0017",
    "0020",
)
KITTI_VAL_SEQUENCES = (
    "0001",
    "0006",
    "0008",
    "0010",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
    "0018",
    "0019",
)


def kitti_tracks(kitti_root: Path, sequences: tuple[str, ...]) -> list[Track]:
    """World-frame ground-truth tracks of KITTI tracking sequences (labels + oxts poses).

    Args:
        kitti_root: folder with ``label_02/``, ``calib/``, ``oxts/``.
        sequences: four-digit sequence names.

    Returns:
        Tracks of all sequences, in sequence order.
    """
    from drivestack.datasets.kitti.tracking_log import KittiTrackingLog

    tracks: list[Track] = []
    for seq in sequences:
        log = KittiTrackingLog(kitti_root, seq)
        missing = {"annotations", "ego"} - set(log.streams())
        if missing:
            raise FileNotFoundError(
                f"{kitti_root}: sequence {seq} lacks {sorted(missing)} (label_02/, oxts/)"
            )
        frames = []
        for f in log:
            annotations, ego = f.load("annotations"), f.load("ego")
            if not isinstance(annotations, TrackedObjects) or not isinstance(ego, EgoState):
                raise TypeError(f"{kitti_root}: sequence {seq} frame {f.index}: "
                                "annotations/ego are not TrackedObjects/EgoState")
            frames.append((f.index, annotations, ego))
        tracks.extend(tracks_from_annotations(log.name, frames))
    return tracks
