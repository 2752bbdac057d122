"""``drive bench datasets``: frames/s through the Log readers vs a plain file-reading loop.

Workloads, each against its baseline in the same run (the machine is shared, so compare the
ratios, not the absolute rates):

* KITTI object frame = Velodyne scan + left colour image + label file (+ calib). Log: the
  frames' ``lidar``, ``camera_2``, ``calib_2`` and ``annotations`` messages through
  ``iter_messages`` (with read-ahead, and without). Plain: ``np.fromfile`` + ``cv2.imread``
  + splitting the label and calib lines, no conversion.
* nuScenes key frame = LIDAR_TOP sweep + CAM_FRONT image + annotations. Log: ``lidar``,
  ``camera_front``, ``calib_front``, ``annotations``. Plain: ``np.fromfile`` + ``cv2.imread``
  of the same files. Loading the tables with the devkit is timed separately (``setup_s``).

Then replay with a downstream consumer that takes as long per frame as reading does
(simulated by sleeping, which releases the GIL as numpy/torch work does): with read-ahead
the two overlap (at best 2x), without it they add up.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from drivestack.datasets.kitti.object import KittiObjectLog
from drivestack.datasets.log import Frame, Log
from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
from drivestack.msgs import Message

KITTI_STREAMS = ("lidar", "camera_2", "calib_2", "annotations")
NUSCENES_STREAMS = ("lidar", "camera_front", "calib_front", "annotations")


def _rate(label: str, passes: int, frames: int, body: Callable[[], int]) -> float:
    """Runs ``body`` (returns frames read) ``passes`` times; returns frames/s."""
    start = time.perf_counter()
    total = 0
    for _ in tqdm(range(passes), desc=label, file=sys.stderr, leave=False):
        total += body()
    elapsed = time.perf_counter() - start
    if total != passes * frames:
        raise RuntimeError(f"{label}: read {total} frames, expected {passes * frames}")
    return total / elapsed


def _log_pass(
    log: Log, streams: tuple[str, ...], read_ahead: int, consumer_s: float = 0.0
) -> Callable[[], int]:
    """One pass through ``log``; ``consumer_s`` [s] of simulated downstream work per frame."""

    def body() -> int:
        count = 0
        for frame, messages in log.iter_messages(streams, read_ahead=read_ahead):
            if len(messages) != len(streams):
                missing = set(streams) - set(messages)
                raise RuntimeError(f"{log.name} frame {frame.index}: missing {sorted(missing)}")
            if consumer_s:
                time.sleep(consumer_s)  # a node downstream, off the GIL like real numeric work
            count += 1
        return count

    return body


def _plain_pass(files: Iterable[tuple[Path, int, Path, list[Path]]]) -> Callable[[], int]:
    """Reads (points file, float columns, image, text files) per frame the plain way."""
    frames = list(files)

    def body() -> int:
        for points, columns, image, texts in frames:
            np.fromfile(points, dtype=np.float32).reshape(-1, columns)
            if cv2.imread(str(image), cv2.IMREAD_COLOR) is None:
                raise RuntimeError(f"{image}: cannot decode")
            for text in texts:
                [line.split() for line in text.read_text().splitlines()]
        return len(frames)

    return body


def _compare(name: str, log: Log, streams: tuple[str, ...], plain: Callable[[], int], frames: int, passes: int) -> dict[str, Any]:
    plain_fps = _rate(f"{name} plain", passes, frames, plain)
    ahead_fps = _rate(f"{name} log", passes, frames, _log_pass(log, streams, 8))
    sync_fps = _rate(f"{name} log (no read-ahead)", passes, frames, _log_pass(log, streams, 0))
    # Replay feeding a consumer that needs as long per frame as reading does: read-ahead
    # overlaps the two (ideal: consumer-bound), without it they add up.
    consumer_s = 1.0 / sync_fps
    busy_ahead = _rate(f"{name} replay+consumer", passes, frames, _log_pass(log, streams, 8, consumer_s))
    busy_sync = _rate(f"{name} replay+consumer (no read-ahead)", passes, frames, _log_pass(log, streams, 0, consumer_s))
    return {
        "frames_per_pass": frames,
        "passes": passes,
        "plain_fps": round(plain_fps, 2),
        "log_fps": round(ahead_fps, 2),
        "log_no_read_ahead_fps": round(sync_fps, 2),
        "log_over_plain": round(ahead_fps / plain_fps, 3),
        "read_ahead_speedup": round(ahead_fps / sync_fps, 3),
        "consumer_ms": round(consumer_s * 1e3, 2),
        "replay_with_consumer_fps": round(busy_ahead, 2),
        "replay_with_consumer_no_read_ahead_fps": round(busy_sync, 2),
        "replay_read_ahead_speedup": round(busy_ahead / busy_sync, 3),
    }


def bench_kitti_object(root: Path, passes: int, max_frames: int | None = None) -> dict[str, Any]:
    """KITTI object frames: the Log vs np.fromfile + cv2.imread + label/calib line splitting."""
    full = KittiObjectLog(root)
    log = _Subset(full, list(range(len(full)))[:max_frames])
    frames = [log[i] for i in range(len(log))]
    usable = [f for f in frames if set(KITTI_STREAMS) <= set(f.streams())]
    if len(usable) != len(frames):
        raise RuntimeError(f"{root}: {len(frames) - len(usable)} frames lack one of {KITTI_STREAMS}")
    plain = _plain_pass(
        (root / "velodyne" / f"{i}.bin", 4, root / "image_2" / f"{i}.png",
         [root / "label_2" / f"{i}.txt", root / "calib" / f"{i}.txt"])
        for i in full.frame_ids[: len(log)]
    )
    return _compare("kitti_object", log, KITTI_STREAMS, plain, len(log), passes)


def bench_nuscenes(
    root: Path, scene: str, placeholders: bool, passes: int, max_frames: int | None = None
) -> dict[str, Any]:
    """nuScenes key frames with lidar and CAM_FRONT files: the Log vs np.fromfile + cv2.imread."""
    start = time.perf_counter()
    full = NuScenesLog(root, scene, NuScenesConfig(placeholders=placeholders, key_frames_only=True))
    setup_s = time.perf_counter() - start
    with_files = [f.index for f in full if set(NUSCENES_STREAMS) <= set(f.streams())][:max_frames]
    log = _Subset(full, with_files)
    files: list[tuple[Path, int, Path, list[Path]]] = []
    for i in with_files:
        lidar_sd = full.lidar_sample_data(i)
        cam_token = full.nusc.get("sample", lidar_sd["sample_token"])["data"]["CAM_FRONT"]
        cam_sd = full.nusc.get("sample_data", cam_token)
        files.append((root / lidar_sd["filename"], 5, root / cam_sd["filename"], []))
    result = _compare("nuscenes", log, NUSCENES_STREAMS, _plain_pass(files), len(with_files), passes)
    return {"scene": scene, "setup_s": round(setup_s, 3), **result}


class _Subset(Log):
    """The frames of a log at the given indices (re-indexed 0..n-1)."""

    def __init__(self, log: Log, indices: list[int]):
        self.log, self.indices, self.name = log, indices, f"{log.name}[{len(indices)} frames]"

    def streams(self) -> Mapping[str, type[Message]]:
        """Inherited, see base class."""
        return self.log.streams()

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Frame:
        """Inherited, see base class."""
        return self.log[self.indices[index]]


def plot_bench(result: dict[str, Any], path: Path) -> Path:
    """Bar chart of the frames/s of each workload and reader, written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (
        ("plain_fps", "plain loop"),
        ("log_fps", "Log, read-ahead"),
        ("log_no_read_ahead_fps", "Log, no read-ahead"),
        ("replay_with_consumer_fps", "replay+consumer, read-ahead"),
        ("replay_with_consumer_no_read_ahead_fps", "replay+consumer, no read-ahead"),
    )
    workloads = [w for w in ("kitti_object", "nuscenes") if w in result]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    width = 0.8 / len(keys)
    for k, (key, label) in enumerate(keys):
        xs = [i + (k - (len(keys) - 1) / 2) * width for i in range(len(workloads))]
        ax.bar(xs, [result[w][key] for w in workloads], width, label=label)
    ax.set_xticks(range(len(workloads)), workloads)
    ax.set_ylabel("frames/s")
    ax.set_title("drive bench datasets (same run; compare ratios)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
