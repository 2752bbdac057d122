"""``drive data check``: read every frame of every log under a folder, strictly or leniently.

Strict stops at the first bad frame with its error (file and line/key named); lenient reads
on, skipping bad frames, and reports each skipped frame and the count per log. Logs that
cannot even be opened (a malformed sequence-level file) are reported as such in both modes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from drivestack.datasets.errors import DataError
from drivestack.datasets.info import detect_kind
from drivestack.datasets.log import Log, SkippedFrame

Opener = Callable[[], Log]


def log_openers(path: Path, kind: str, placeholders: bool) -> Iterator[tuple[str, Opener]]:
    """(name, open) for each log of a dataset folder of the given kind."""
    if kind == "kitti_tracking":
        from drivestack.datasets.kitti.tracking_log import KittiTrackingLog

        for calib in sorted((path / "calib").glob("*.txt")):
            yield f"kitti_tracking/{calib.stem}", partial(KittiTrackingLog, path, calib.stem)
    elif kind == "kitti_object":
        from drivestack.datasets.kitti.object import KittiObjectLog

        yield f"kitti_object/{path.name}", partial(KittiObjectLog, path)
    elif kind == "kitti_raw":
        from drivestack.datasets.kitti.raw import KittiRawLog

        drives = [path] if "_drive_" in path.name else sorted(
            p for p in path.iterdir() if p.is_dir() and "_drive_" in p.name
        )
        for drive in drives:
            yield f"kitti_raw/{drive.name}", partial(KittiRawLog, drive)
    elif kind == "nuscenes":
        yield from _nuscenes_openers(path, placeholders)


def _nuscenes_openers(path: Path, placeholders: bool) -> Iterator[tuple[str, Opener]]:
    from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
    from drivestack.datasets.nuscenes.tables import find_versions, open_nuscenes

    for version in find_versions(path):
        try:
            nusc = open_nuscenes(path, version, placeholders)
        except DataError as err:
            yield f"nuscenes/{version}", _failing_opener(err)
            continue
        config = NuScenesConfig(version=version)
        for scene in nusc.scene:
            yield f"nuscenes/{scene['name']}", partial(NuScenesLog, path, scene["name"], config, nusc)


def _failing_opener(err: Exception) -> Opener:
    """An opener that raises ``err`` (a dataset whose metadata cannot be opened)."""

    def opener() -> Log:
        raise err

    return opener


def check(
    path: str | Path, mode: Literal["strict", "lenient"] = "strict", placeholders: bool = False
) -> list[dict[str, Any]]:
    """Reads every frame of every log under ``path``.

    Returns:
        One dict per log: ``name``, ``frames``, ``read``, ``skipped`` (list of
        ``{"index", "stamp_ns", "error"}``) and ``error`` (why it stopped or could not
        open; None when every frame was read or skipped).
    """
    path = Path(path)
    kinds = [(path, k)] if (k := detect_kind(path)) else [
        (p, kp) for p in sorted(path.iterdir()) if p.is_dir() and (kp := detect_kind(p))
    ]
    if not kinds:
        raise DataError(f"{path}: no KITTI tracking/object/raw or nuScenes layout found here or one level down")
    results = []
    for folder, kind in kinds:
        for name, opener in log_openers(folder, kind, placeholders):
            results.append(_check_log(name, opener, mode))
    return results


def _check_log(name: str, opener: Opener, mode: Literal["strict", "lenient"]) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "frames": 0, "read": 0, "skipped": [], "error": None}
    try:
        log = opener()
    except (DataError, OSError) as err:
        result["error"] = f"cannot open: {err}"
        return result
    result["frames"] = len(log)
    skipped: list[SkippedFrame] = []
    try:
        messages = log.iter_messages(on_error=mode, skipped=skipped)
        for _ in tqdm(messages, total=len(log), desc=name, file=sys.stderr, leave=False):
            result["read"] += 1
    except (DataError, OSError) as err:
        result["error"] = str(err)
    result["skipped"] = [{"index": s.index, "stamp_ns": s.stamp_ns, "error": s.error} for s in skipped]
    return result


def format_check(results: list[dict[str, Any]]) -> str:
    """One line per log, plus one per skipped frame or error."""
    lines = []
    for r in results:
        lines.append(f"{r['name']}: read {r['read']} of {r['frames']} frames, skipped {len(r['skipped'])}")
        lines += [f"  skipped frame {s['index']}: {s['error']}" for s in r["skipped"]]
        if r["error"]:
            lines.append(f"  error: {r['error']}")
    return "\n".join(lines)
