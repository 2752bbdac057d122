"""``drive run``: run a launch file, print per-topic statistics, optionally record."""

from __future__ import annotations

import argparse

from drivestack.launch.run_cli import add_run_arguments, apply_cli, cmd_run, report

__all__ = ["add_run_arguments", "apply_cli", "cmd_run", "register", "report"]


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
