"""The shared arguments and handler of the commands that run a launch file (``drive run``,
``drive record``, ``drive sim``): kept beside the launcher so that areas below the cli use them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drivestack.bus.executor import RunSummary
from drivestack.launch.loader import Launch, LaunchError, load_launch
from drivestack.launch.run import run_launch


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("launch", type=Path, help="launch file (YAML)")
    p.add_argument("--record", "-o", type=Path, metavar="OUT.mcap",
                   help="record to this MCAP file (overrides the launch file's record.path)")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="record only these topics")
    p.add_argument("--duration", type=float, metavar="S", help="run this long [s] (run clock)")
    p.add_argument("--realtime", action="store_true", help="use the real-time executor")
    p.add_argument("--speed", type=float, metavar="X", help="real-time speed factor (run-clock s per wall s)")
    p.add_argument("--seed", type=int, help="the run's seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a node parameter or top-level setting (repeatable)")
    p.add_argument("--summary", type=Path, metavar="OUT.json", help="write the run summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or table")


def apply_cli(launch: Launch, args: argparse.Namespace) -> Launch:
    """Command-line settings over the launch file's."""
    if args.duration is not None:
        launch.duration_s = args.duration
    if args.realtime:
        launch.executor = "realtime"
    if args.speed is not None:
        launch.speed = args.speed
    if args.seed is not None:
        launch.seed = args.seed
    if args.record is not None:
        launch.record_path = args.record
    if args.topics:
        launch.record_topics = args.topics
    return launch


def cmd_run(args: argparse.Namespace) -> int:
    try:
        launch = apply_cli(load_launch(args.launch, args.overrides), args)
    except LaunchError as exc:
        print(f"drive run: {exc}", file=sys.stderr)
        return 2
    summary = run_launch(launch, launch.specs, quiet=args.quiet)
    return report(summary, launch, args)


def report(summary: RunSummary, launch: Launch, args: argparse.Namespace) -> int:
    if not args.quiet:
        print(summary.format())
        if launch.record_path:
            print(f"recorded: {launch.record_path}")
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(summary.to_dict(), indent=2))
    return 1 if summary.failures or summary.stopped else 0
