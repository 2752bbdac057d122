"""``drive track``, ``drive train motion``, ``drive tune tracking``, ``drive bench tracking``: the parsers.

The handlers live in ``commands.py``, which imports torch: it is imported only when one of
these commands runs, so ``drive --help`` stays fast. The literal defaults below are checked
against the real constants by ``tests/tracking/test_tracking_cli_parsers.py``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from drivestack.datasets.cli import default_data_root
from drivestack.launch.commands import command_group

_HERE = Path(__file__).resolve()
DEFAULT_CHECKPOINT = _HERE.parent / "weights" / "motion_tcn.pt"  # = forecaster.DEFAULT_CHECKPOINT
TRACKER_NAMES = ("ab3dmot", "stack")  # = sorted(registry.TRACKERS)
TCN_MODES = ("off", "associate", "predict")  # = tracker.TCN_MODES


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return int(
            getattr(importlib.import_module("drivestack.tracking.commands"), name)(args) or 0
        )

    return run


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Adds ``drive track``, ``drive train motion``, ``drive tune tracking``, ``drive bench tracking``."""
    kitti = default_data_root() / "kitti_tracking"  # read when the parser is built: honours $DRIVESTACK_DATA
    p = commands.add_parser("track", help="3D multi-object tracking of KITTI detection files")
    p.add_argument(
        "--detections", type=Path, required=True, help="AB3DMOT-format folder (<Class>/<seq>.txt)"
    )
    p.add_argument(
        "--seqmap", type=Path, required=True, help="devkit seqmap of the sequences to track"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder for <seq>.txt results")
    _common(p)
    p.set_defaults(func=_handler("track"))

    what = command_group(commands, "train", "train learned components")
    m = what.add_parser("motion", help="train the motion TCN on KITTI tracking ground truth")
    m.add_argument(
        "--kitti-root", type=Path, default=kitti, help="folder with label_02/, calib/, oxts/"
    )
    m.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint to write")
    m.add_argument("--epochs", type=int, default=40)
    m.add_argument(
        "--holdout",
        default="0004,0011",
        help="training sequences held out for early stopping (comma separated)",
    )
    m.add_argument("--seed", type=int, default=0)
    m.add_argument(
        "--disp-weight", type=float, default=0.0, help="[1/m] displacement term of the loss"
    )
    m.add_argument(
        "--ema", type=float, default=0.0, help="decay of the weight average that ships (0: off)"
    )
    m.add_argument(
        "--pos-noise", type=float, default=0.05, help="[m] 1-sigma jitter of history positions"
    )
    m.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when available)")
    m.add_argument("--report", type=Path, default=None, help="JSON report (default: next to --out)")
    m.set_defaults(func=_handler("train_motion"))

    t = command_group(commands, "tune", "tune parameters on a data split").add_parser(
        "tracking", help="grid search of per-class tracker gates and process noise (KITTI)"
    )
    t.add_argument(
        "--split", choices=("train", "val"), default="train", help="sequences to tune on"
    )
    t.add_argument(
        "--kitti-root",
        type=Path,
        default=kitti,
        help="folder with label_02/, calib/, oxts/, splits/",
    )
    t.add_argument("--detections", type=Path, default=kitti / "detections" / "pointrcnn_val")
    t.add_argument(
        "--out",
        type=Path,
        default=Path("out/tune_tracking.json"),
        help="JSON report of every trial",
    )
    t.add_argument(
        "--classes", default="all", help="comma separated: car, pedestrian, cyclist (default: all)"
    )
    t.add_argument(
        "--stress",
        action="store_true",
        help="choose matcher, min_hits and re-identification on degraded copies of the "
        "detections too (fewest ID switches; see tune.py)",
    )
    t.set_defaults(func=_handler("tune_tracking"))

    b = bench.add_parser("tracking", help="tracker frames/s vs the AB3DMOT baseline (JSON)")
    b.add_argument("--detections", type=Path, default=kitti / "detections" / "pointrcnn_val")
    b.add_argument("--seqmap", type=Path, default=kitti / "splits" / "evaluate_tracking.seqmap.val")
    b.add_argument("--repeats", type=int, default=3, help="best of this many runs per tracker")
    _common(b)
    b.set_defaults(func=_handler("bench"))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kitti-root", type=Path, default=None, help="calib/ and oxts/ (default: detections/../..)"
    )
    p.add_argument("--tracker", choices=TRACKER_NAMES, default="stack")
    p.add_argument(
        "--tcn-mode", choices=TCN_MODES, default="off", help="how the stack tracker uses the TCN"
    )
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when available)")
    p.add_argument(
        "--reid",
        action="append",
        default=[],
        metavar="CLASS:GATE:AGE",
        help="second association stage of a class, e.g. pedestrian:2.0:10 (repeatable; default off)",
    )
