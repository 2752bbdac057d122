"""Registry of frame trackers by short name (``drive track --tracker NAME``).

Each factory returns a fresh :data:`kitti_run.FrameTracker` (a closure holding one run's
state): ``"stack"`` is :mod:`tracker` (Kalman path, or with the TCN per ``tcn_mode``),
``"ab3dmot"`` the textbook baseline of :mod:`ab3dmot_baseline`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from drivestack.tracking.ab3dmot_baseline import MultiClassAB3DMOT
from drivestack.tracking.forecaster import MotionForecaster
from drivestack.tracking.kitti_run import FrameResult, FrameTracker
from drivestack.tracking.tracker import TrackerConfig, empty_state, step

KITTI_DT = 0.1  # [s] KITTI tracking frame period


def stack_tracker(
    config: TrackerConfig, forecaster: MotionForecaster | None = None
) -> FrameTracker:
    """The stack tracker as a per-frame callable (state kept in the closure)."""
    state = empty_state(config)

    def run(
        boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, pose: np.ndarray
    ) -> FrameResult:
        nonlocal state
        state, out = step(
            state, boxes, scores, class_ids, config, KITTI_DT, pose[:2, 3], forecaster
        )
        return FrameResult(out.ids, out.class_ids, out.boxes, out.scores)

    return run


def ab3dmot_tracker() -> FrameTracker:
    """The textbook AB3DMOT baseline as a per-frame callable."""
    trk = MultiClassAB3DMOT()

    def run(
        boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, pose: np.ndarray
    ) -> FrameResult:
        ids, cls, out_boxes, out_scores = trk.update(boxes, scores, class_ids)
        return FrameResult(ids, cls, out_boxes, out_scores)

    return run


TrackerFactory = Callable[[TrackerConfig, MotionForecaster | None], FrameTracker]


def _register(table: dict[str, TrackerFactory], name: str, factory: TrackerFactory) -> None:
    if name in table:
        raise ValueError(f"tracker {name!r} registered twice")
    table[name] = factory


TRACKERS: dict[str, TrackerFactory] = {}
_register(TRACKERS, "stack", stack_tracker)
_register(TRACKERS, "ab3dmot", lambda config, forecaster: ab3dmot_tracker())
