"""``drive data info PATH`` and ``drive bench datasets`` (see :mod:`.info` and :mod:`.bench`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from drivestack.datasets.errors import DataError

# The readers (cv2, the nuScenes devkit: seconds to import) are imported in the handlers,
# so that `drive` starts fast for every other command.


def default_data_root() -> Path:
    """``$DRIVESTACK_DATA``, else ``shared/data`` beside the repository (as the tests use)."""
    env = os.environ.get("DRIVESTACK_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def register(commands: Any, bench: Any) -> None:
    """Adds ``drive data info`` and ``drive bench datasets`` (see ``drivestack.cli.main``)."""
    data = commands.add_parser("data", help="inspect datasets (KITTI tracking/object/raw, nuScenes)")
    data_commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(func=lambda args: _usage(data))
    info = data_commands.add_parser(
        "info",
        help="what a dataset folder holds: kind, sequences, frames, streams, problems",
        description="Recognises KITTI tracking/object/raw and nuScenes folders (or a folder "
        "holding several) and reports sequences, frames, streams and problems found.",
    )
    info.add_argument("path", type=Path, help="dataset folder")
    info.add_argument("--json", action="store_true", help="print the reports as JSON")
    info.add_argument(
        "--placeholders",
        action="store_true",
        help="nuScenes with missing tables: also open each scene through a temporary copy "
        "with placeholder tables (the folder is not touched) and list its streams",
    )
    info.set_defaults(func=run_info)
    check = data_commands.add_parser(
        "check",
        help="read every frame of every log; --lenient skips and counts bad frames",
        description="Reads every frame of every log under PATH. Strict (default) stops at the "
        "first bad frame with its error; --lenient skips bad frames and reports each one.",
    )
    check.add_argument("path", type=Path, help="dataset folder")
    mode = check.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="mode", action="store_const", const="strict", default="strict")
    mode.add_argument("--lenient", dest="mode", action="store_const", const="lenient")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument("--placeholders", action="store_true", help="allow the nuScenes missing-table work-around")
    check.set_defaults(func=run_check)
    parser = bench.add_parser(
        "datasets",
        help="frames/s through the dataset Logs vs a plain np.fromfile/cv2.imread loop",
        description="Reads KITTI object frames (scan + image + labels) and nuScenes key frames "
        "(lidar + CAM_FRONT + annotations) through the Logs and through a plain loop, in one run.",
    )
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: $DRIVESTACK_DATA or ../shared/data)")
    parser.add_argument("--passes", type=int, default=5, help="passes over the frames per workload")
    parser.add_argument("--frames", type=int, default=None, help="at most this many frames per workload")
    parser.add_argument("--scene", default="scene-0916", help="nuScenes scene")
    parser.add_argument("--placeholders", action="store_true", help="allow the nuScenes missing-table work-around")
    parser.add_argument("--plot", type=Path, default=None, help="also write a bar chart PNG here")
    parser.set_defaults(func=run_bench)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_info(args: argparse.Namespace) -> int:
    from drivestack.datasets.info import format_report, inspect

    try:
        reports = inspect(args.path)
    except (DataError, OSError) as err:
        print(f"drive data info: {err}", file=sys.stderr)
        return 1
    if args.placeholders:
        for report in reports:
            if report["kind"] == "nuscenes":
                _nuscenes_streams(report)
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        print("\n".join(format_report(r) for r in reports))
    return 0


def _nuscenes_streams(report: dict[str, Any]) -> None:
    from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
    from drivestack.datasets.nuscenes.tables import open_nuscenes

    root = Path(report["path"])
    for version in report["versions"]:
        try:
            nusc = open_nuscenes(root, version["version"], placeholders=True)
        except DataError as err:
            report["problems"].append(str(err))
            continue
        for scene in version["scenes"]:
            log = NuScenesLog(root, scene["name"], NuScenesConfig(version=version["version"]), nusc=nusc)
            scene["lidar_frames"] = len(log)
            scene["streams"] = sorted(log.streams())


def run_check(args: argparse.Namespace) -> int:
    """Exit status 0 when every frame was read, 1 when frames were skipped or a log failed."""
    from drivestack.datasets.check import check, format_check

    try:
        results = check(args.path, args.mode, args.placeholders)
    except (DataError, OSError) as err:
        print(f"drive data check: {err}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2) if args.json else format_check(results))
    return 0 if all(not r["skipped"] and r["error"] is None for r in results) else 1


def run_bench(args: argparse.Namespace) -> int:
    from drivestack.datasets.bench import bench_kitti_object, bench_nuscenes, plot_bench

    root = args.data or default_data_root()
    if not root.is_dir():
        print(f"drive bench datasets: data folder {root} not found (set --data or DRIVESTACK_DATA)", file=sys.stderr)
        return 1
    try:
        result = {
            "benchmark": "datasets",
            "kitti_object": bench_kitti_object(root / "kitti_object", args.passes, args.frames),
            "nuscenes": bench_nuscenes(
                root / "nuscenes", args.scene, args.placeholders, args.passes, args.frames
            ),
        }
    except (DataError, OSError) as err:
        print(f"drive bench datasets: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    if args.plot is not None:
        print(f"wrote {plot_bench(result, args.plot)}", file=sys.stderr)
    return 0
