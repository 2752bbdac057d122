from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from drivestack.tracking import cli


def _defaults(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser("bench").add_subparsers(dest="bench_command")
    cli.register(commands, bench)
    return parser.parse_args(argv)


def test_tracking_command_defaults_follow_drivestack_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DRIVESTACK_DATA", str(tmp_path))
    kitti = tmp_path / "kitti_tracking"
    assert _defaults(["train", "motion"]).kitti_root == kitti
    bench = _defaults(["bench", "tracking"])
    assert bench.detections == kitti / "detections" / "pointrcnn_val"
    assert bench.seqmap == kitti / "splits" / "evaluate_tracking.seqmap.val"
