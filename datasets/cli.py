"""``drive data info PATH`` and ``drive bench datasets`` (see :mod:`.info` and :mod:`.bench`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from drivestack.datasets.bench import bench_kitti_object, bench_nuscenes
from drivestack.datasets.errors import DataError
from drivestack.datasets.info import format_report, inspect
from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
from drivestack.datasets.nuscenes.tables import open_nuscenes


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
    parser = bench.add_parser(
        "datasets",
        help="frames/s through the dataset Logs vs a plain np.fromfile/cv2.imread loop",
        description="Reads KITTI object frames (scan + image + labels) and nuScenes key frames "
        "(lidar + CAM_FRONT + annotations) through the Logs and through a plain loop, in one run.",
    )
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: $DRIVESTACK_DATA or ../shared/data)")
    parser.add_argument("--passes", type=int, default=5, help="passes over the frames per workload")
    parser.add_argument("--scene", default="scene-0916", help="nuScenes scene")
    parser.add_argument("--placeholders", action="store_true", help="allow the nuScenes missing-table work-around")
    parser.set_defaults(func=run_bench)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_info(args: argparse.Namespace) -> int:
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


def run_bench(args: argparse.Namespace) -> int:
    root = args.data or default_data_root()
    if not root.is_dir():
        print(f"drive bench datasets: data folder {root} not found (set --data or DRIVESTACK_DATA)", file=sys.stderr)
        return 1
    try:
        result = {
            "benchmark": "datasets",
            "kitti_object": bench_kitti_object(root / "kitti_object", args.passes),
            "nuscenes": bench_nuscenes(root / "nuscenes", args.scene, args.placeholders, args.passes),
        }
    except (DataError, OSError) as err:
        print(f"drive bench datasets: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0
