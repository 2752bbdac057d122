"""``drive run``: run a launch file, print per-topic statistics, optionally record."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

from tqdm import tqdm

from drivestack.bus.bus import Bus, Subscription
from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.bus.executor import RunSummary
from drivestack.bus.graph import NodeSpec
from drivestack.bus.realtime import RealtimeExecutor
from drivestack.launch import Launch, LaunchError, load_launch
from drivestack.msgs import Message
from drivestack.record.mcap_io import Recorder


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "run",
        help="run a launch file",
        description="Run the nodes of a launch file (launch/*.yaml), print per-topic statistics "
        "(count, rate, latency p50/p99, drops) and node failures, optionally record to MCAP. "
        "Exit status 1 if a node failed.",
    )
    add_run_arguments(p)
    p.set_defaults(func=cmd_run)


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


def run_launch(launch: Launch, specs: Sequence[NodeSpec], *, quiet: bool = False,
               start_ns: int | None = None,
               taps: Mapping[str, Callable[[Message], None]] | None = None) -> RunSummary:
    """Runs ``specs`` with ``launch``'s settings, recording if asked. SIGINT and SIGTERM end the
    run cleanly: the recording is closed and complete.

    ``taps`` maps topic names to callbacks that receive every message published there (a
    command that judges the run, e.g. ``drive sim``, reads its topics this way).
    """
    kwargs = dict(on_error=launch.on_error, validate=launch.validate, seed=launch.seed)
    recorder = Recorder(launch.record_path) if launch.record_path else None
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        if launch.executor == "realtime":
            rt = RealtimeExecutor(specs, speed=launch.speed, **kwargs)
            if recorder:
                recorder.attach(rt.bus, launch.record_topics)
            _tap(rt.bus, taps)
            return rt.run(launch.duration_s, start_ns=start_ns)
        ex = DeterministicExecutor(specs, **kwargs)
        if recorder:
            recorder.attach(ex.bus, launch.record_topics)
        _tap(ex.bus, taps)
        with tqdm(total=launch.duration_s, unit="s", desc=launch.path.stem, disable=quiet or None,
                  file=sys.stderr, bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}]") as bar:
            origin: list[int] = []

            def progress(now_ns: int) -> None:
                if not origin:  # the run has reset its nodes: the sources' span is known now
                    span = ex.time_span()
                    origin.append(span[0] if span else now_ns)
                    if bar.total is None and span:
                        bar.total = (span[1] - span[0]) / 1e9
                elapsed = (now_ns - origin[0]) / 1e9
                if elapsed - bar.n >= 0.1:
                    bar.update(elapsed - bar.n)

            return ex.run(launch.duration_s, start_ns=start_ns, progress=progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if recorder:
            recorder.close()


def _tap(bus: Bus, taps: Mapping[str, Callable[[Message], None]] | None) -> None:
    for name, callback in (taps or {}).items():

        def on_message(sub: Subscription, callback: Callable[[Message], None] = callback) -> None:
            callback(sub.buf.pop())

        bus.subscribe(name, depth=1, notify=on_message)


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
