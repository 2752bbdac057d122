"""Log replay: a source node that publishes a dataset log's streams at their stamps.

Every stream the log has (or the chosen ones) becomes an output published on
``/log/<stream>`` unless a launch file wires it elsewhere. Frames are read ahead on a
background thread, so replay is bound by the nodes downstream, not by file reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import drivestack.datasets
from drivestack.bus.node import In, Inputs, Node, Out, TickOutput
from drivestack.bus.registry import NODES
from drivestack.datasets.kitti.object import KittiObjectConfig, KittiObjectLog
from drivestack.datasets.kitti.raw import KittiRawLog
from drivestack.datasets.kitti.tracking_log import KittiTrackingConfig, KittiTrackingLog
from drivestack.datasets.log import Frame, Log, SkippedFrame
from drivestack.msgs import Message

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


@NODES.register("log_replay")
class LogReplay(Node):
    """Publishes each frame's messages at the frame's stamp; outputs are the log's streams."""

    Config = ReplayConfig

    @classmethod
    def ports(cls, config: ReplayConfig) -> tuple[Mapping[str, In], Mapping[str, Out]]:
        present = open_log(config).streams()
        missing = [s for s in config.streams if s not in present]
        if missing:
            raise ValueError(f"log has no stream(s) {missing} (has: {sorted(present)})")
        chosen = config.streams or tuple(present)
        return {}, {s: Out(present[s], topic=f"/log/{s}") for s in chosen}

    def reset(self, seed: int) -> None:
        self.log = open_log(self.config)
        self.skipped: list[SkippedFrame] = []
        streams = list(self.ports(self.config)[1])
        self._frames: Iterator[tuple[Frame, dict[str, Message]]] = self.log.iter_messages(
            streams, self.config.read_ahead,
            on_error="lenient" if self.config.lenient else "strict", skipped=self.skipped,
        )
        self._next = next(self._frames, None)

    def time_span(self) -> tuple[int, int] | None:
        if len(self.log) == 0:
            return None
        return self.log[0].stamp_ns, self.log[-1].stamp_ns

    def first_wakeup(self, start_ns: int, period_ns: int | None) -> int | None:
        return None if self._next is None else self._next[0].stamp_ns

    def next_wakeup(self, now_ns: int, period_ns: int | None) -> int | None:
        return None if self._next is None else self._next[0].stamp_ns

    def tick(self, now_ns: int, inputs: Inputs) -> TickOutput:
        out: dict[str, list[Message]] = {}
        while self._next is not None and self._next[0].stamp_ns <= now_ns:
            for stream, msg in self._next[1].items():
                out.setdefault(stream, []).append(msg)
            self._next = next(self._frames, None)
        return out
