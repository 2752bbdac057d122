"""Shared ``drive`` sub-command groups, below the areas so that an area's ``cli.py`` adds its
commands without importing :mod:`drivestack.cli` (which collects them)."""

from __future__ import annotations

import argparse
import sys


def command_group(commands: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """The sub-commands of ``drive NAME`` (``drive train motion``, ``drive train lidar-det``),
    created by the first area that asks and shared with the others."""
    parser = commands.choices.get(name)
    if parser is None:
        parser = commands.add_parser(name, help=help, description=help)
        group = parser.add_subparsers(dest=f"{name}_what", metavar="WHAT")
        parser.set_defaults(func=lambda args: _missing(parser), _group=group)
    return parser.get_default("_group")


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2
