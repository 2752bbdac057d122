"""``drive record``, ``drive play``, ``drive diff``."""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from drivestack.bus.graph import NodeSpec
from drivestack.launch import Launch, LaunchError, load_launch
from drivestack.launch.run import run_launch
from drivestack.launch.run_cli import add_run_arguments, apply_cli, report
from drivestack.record.diff import diff_recordings
from drivestack.record.mcap_io import Recording, RecordingError, RecordingWarning
from drivestack.record.player import McapPlayer, PlayerConfig


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    rec = commands.add_parser(
        "record",
        help="run a launch file and record topics to MCAP",
        description="Run a launch file and record its topics (all, or --topics) to an MCAP file "
        "that Foxglove opens. Ctrl-C stops the run and closes the file properly; a crash leaves "
        "a file readable up to its last complete chunk.",
    )
    add_run_arguments(rec)
    rec.set_defaults(func=cmd_record)

    play = commands.add_parser(
        "play",
        help="play an MCAP recording back onto the bus",
        description="Play a recording at its recorded times. Alone, it prints per-topic "
        "statistics (and re-records with --record). With --launch, the recording feeds that "
        "launch file's nodes: nodes publishing a played topic are replaced by the recording.",
    )
    play.add_argument("recording", type=Path, help="the MCAP file")
    play.add_argument("--launch", type=Path, help="launch file whose nodes consume the playback")
    play.add_argument("--rate", type=float, default=None, metavar="X",
                      help="play in real time at X times the recorded speed (default: as fast "
                      "as possible, deterministic)")
    play.add_argument("--start", type=float, default=0.0, metavar="S", help="skip the first S seconds")
    play.add_argument("--end", type=float, default=None, metavar="S", help="stop S seconds after the start of the recording")
    play.add_argument("--loop", action="store_true", help="start over at the end (needs --duration to stop)")
    play.add_argument("--play-topics", nargs="+", metavar="TOPIC", help="play only these topics")
    play.add_argument("--record", "-o", type=Path, metavar="OUT.mcap", help="record the run")
    play.add_argument("--topics", nargs="+", metavar="TOPIC", help="record only these topics")
    play.add_argument("--duration", type=float, metavar="S", help="run this long [s]")
    play.add_argument("--seed", type=int, help="the run's seed")
    play.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE")
    play.add_argument("--summary", type=Path, metavar="OUT.json", help="write the run summary as JSON")
    play.add_argument("--quiet", "-q", action="store_true")
    play.set_defaults(func=cmd_play)

    diff = commands.add_parser(
        "diff",
        help="compare two recordings message by message",
        description="Compare two MCAP recordings message by message, per topic, and report the "
        "first diverging topic, stamp and field. Exit status 0 if identical, 1 if not.",
    )
    diff.add_argument("a", type=Path)
    diff.add_argument("b", type=Path)
    diff.add_argument("--topics", nargs="+", metavar="TOPIC", help="compare only these topics")
    diff.set_defaults(func=cmd_diff)


def cmd_record(args: argparse.Namespace) -> int:
    if args.record is None:
        try:
            launch = load_launch(args.launch, args.overrides)
        except LaunchError as exc:
            print(f"drive record: {exc}", file=sys.stderr)
            return 2
        if launch.record_path is None:
            print("drive record: give --record OUT.mcap (the launch file has no record.path)", file=sys.stderr)
            return 2
    from drivestack.launch.run_cli import cmd_run

    return cmd_run(args)


def _losses_as_notes(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Runs ``cmd`` with RecordingWarnings silenced: what a damaged recording lost is printed
    once by the command as a plain ``warning:`` line. The filter ends with the command (a
    process-wide filter would also silence later in-process callers)."""

    @functools.wraps(cmd)
    def run(args: argparse.Namespace) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecordingWarning)
            return cmd(args)

    return run


@_losses_as_notes
def cmd_play(args: argparse.Namespace) -> int:
    try:
        Recording(args.recording)  # names a missing or non-MCAP file before anything runs
        config = PlayerConfig(
            path=str(args.recording), topics=tuple(args.play_topics or ()), start_s=args.start,
            end_s=args.end, loop=args.loop,
        )
        player = McapPlayer(config, name="player")
        played = {McapPlayer.ports(config)[1][k].topic for k in McapPlayer.ports(config)[1]}
        if args.launch:
            launch = load_launch(args.launch, args.overrides)
            # The recording stands in for the nodes that published what it plays.
            kept = [s for s in launch.specs if not ({s.output_topic(k) for k in s.ports()[1]} & played)]
        else:
            launch, kept = Launch(path=args.recording, specs=[]), []
    except (LaunchError, ValueError, FileNotFoundError) as exc:
        print(f"drive play: {exc}", file=sys.stderr)
        return 2
    if args.loop and args.duration is None:
        print("drive play: --loop needs --duration", file=sys.stderr)
        return 2
    args.realtime = args.rate is not None
    args.speed = args.rate
    launch = apply_cli(launch, args)
    specs = [NodeSpec("player", player)] + kept
    first = next(iter(Recording(args.recording).messages()), None)
    start = 0 if first is None else first.log_time_ns + round(args.start * 1e9)
    summary = run_launch(launch, specs, quiet=args.quiet, start_ns=start)
    for note in player.notes:
        print(f"warning: {note}", file=sys.stderr)
    return report(summary, launch, args)


@_losses_as_notes
def cmd_diff(args: argparse.Namespace) -> int:
    try:
        result = diff_recordings(args.a, args.b, args.topics)
    except (FileNotFoundError, RecordingError) as exc:
        print(f"drive diff: {exc}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    if result.divergence is None:
        print(f"identical: {result.compared} messages compared")
        return 0
    print(result.divergence.describe())
    return 1
