"""Opening a dataset log by name: the readers a replay (or a route) chooses from.

Below every area, so that planning (``log_route``) and the simulator (``log_replay``) read
logs the same way without planning importing the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import drivestack.datasets
from drivestack.datasets.kitti.object import KittiObjectConfig, KittiObjectLog
from drivestack.datasets.kitti.raw import KittiRawLog
from drivestack.datasets.kitti.tracking_log import KittiTrackingConfig, KittiTrackingLog
from drivestack.datasets.log import Log

SAMPLES = Path(drivestack.datasets.__file__).resolve().parent / "samples"
"""Data shipped with drivestack (see each folder's README for provenance and licence)."""


@dataclass(frozen=True)
class ReplayConfig:
    dataset: str = "kitti_tracking"  # reader: kitti_tracking, kitti_object, kitti_raw, nuscenes
    root: str = ""  # dataset root (kitti_raw: the drive folder); "" = the shipped KITTI sample
    sequence: str = "0006"  # kitti_tracking: sequence; nuscenes: scene name (scene-0916)
    detections: str = "pointrcnn_val"  # kitti_tracking: 3D detection folder under <root>/detections; "" = none
    detections_2d: str = ""  # kitti_tracking: RRC folder; kitti_object: Frustum PointNets file; "" = none
    split: str = ""  # kitti_object: split file or name (val); "" = every frame with a calib file
    version: str = ""  # nuscenes: table folder (v1.0-mini); "" = the only one in the root
    placeholders: bool = False  # nuscenes: allow the documented missing-table work-around
    key_frames_only: bool = False  # nuscenes: 2 Hz key frames instead of every lidar sweep
    streams: tuple[str, ...] = ()  # streams to publish; empty = every stream the log has
    read_ahead: int = 8  # frames loaded ahead on a background thread (0: none)
    lenient: bool = False  # skip (and count) unreadable frames instead of failing

    def __post_init__(self) -> None:
        if self.dataset not in LOG_READERS:
            raise ValueError(f"dataset {self.dataset!r} unknown (known: {sorted(LOG_READERS)})")


def _kitti_tracking(c: ReplayConfig) -> Log:
    root = Path(c.root) if c.root else SAMPLES / "kitti_tracking"
    return KittiTrackingLog(root, c.sequence, KittiTrackingConfig(
        detections=c.detections or None, detections_2d=c.detections_2d or None,
    ))


def _kitti_object(c: ReplayConfig) -> Log:
    return KittiObjectLog(_root(c), KittiObjectConfig(
        split=c.split or None, detections_2d=c.detections_2d or None,
    ))


def _kitti_raw(c: ReplayConfig) -> Log:
    return KittiRawLog(_root(c))


def _nuscenes(c: ReplayConfig) -> Log:
    from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog  # imports in seconds

    return NuScenesLog(_root(c), c.sequence, NuScenesConfig(
        version=c.version or None, placeholders=c.placeholders, key_frames_only=c.key_frames_only,
    ))


def _root(c: ReplayConfig) -> Path:
    if not c.root:
        raise ValueError(f"root: dataset {c.dataset!r} needs the path of its data")
    return Path(c.root)


LOG_READERS: dict[str, Callable[[ReplayConfig], Log]] = {
    "kitti_tracking": _kitti_tracking,
    "kitti_object": _kitti_object,
    "kitti_raw": _kitti_raw,
    "nuscenes": _nuscenes,
}
"""Dataset readers by name, each opening a :class:`Log` from a replay config."""


@cache
def open_log(config: ReplayConfig) -> Log:
    """The log ``config`` names (opened once per config: logs are read-only)."""
    return LOG_READERS[config.dataset](config)
