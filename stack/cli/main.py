"""The ``drive`` command line: one entry point, subcommands contributed by each area.

Each module in ``CLI_MODULES`` defines ``register(commands, bench)``: it adds top-level
subcommands to ``commands`` and benchmark subcommands (``drive bench NAME``) to ``bench``,
each with ``set_defaults(func=handler)`` where ``handler(args) -> int`` is the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from drivestack.launch.commands import command_group  # noqa: F401 (re-exported)

# One explicit list: adding an area means adding its module here.
CLI_MODULES: tuple[str, ...] = (
    "drivestack.cli.run",
    "drivestack.record.cli",
    "drivestack.bus.bench",
    "drivestack.eval.cli",
    "drivestack.datasets.cli",
    "drivestack.planning.cli",
    "drivestack.tracking.cli",
    "drivestack.perception.cli",
    "drivestack.sim.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drive",
        description="drivestack: replay driving logs, run closed-loop simulation, benchmark "
        "perception, tracking and planning.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench_parser = commands.add_parser(
        "bench",
        help="benchmarks that print JSON (bus, datasets, kitti-object, ...)",
        description="Benchmarks. Each prints one JSON object on stdout; ratios compare with a "
        "baseline measured in the same run.",
    )
    bench = bench_parser.add_subparsers(dest="bench", metavar="BENCH")
    bench_parser.set_defaults(func=lambda args: _missing(bench_parser))
    for name in CLI_MODULES:
        importlib.import_module(name).register(commands, bench)
    return parser


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
