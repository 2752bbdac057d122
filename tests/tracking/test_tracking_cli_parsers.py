from __future__ import annotations

from drivestack.tracking import cli
from drivestack.tracking.forecaster import DEFAULT_CHECKPOINT
from drivestack.tracking.registry import TRACKERS
from drivestack.tracking.tracker import TCN_MODES


def test_parser_literals_equal_the_real_constants():
    # cli.py spells these out so that building the parser imports no torch.
    assert cli.DEFAULT_CHECKPOINT == DEFAULT_CHECKPOINT
    assert cli.TRACKER_NAMES == tuple(sorted(TRACKERS))
    assert cli.TCN_MODES == TCN_MODES
