"""The tracker's compiled GIoU path gives the same costs, matches and tracks as the numpy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivestack.eval import box_iou
from drivestack.tracking import tracker
from drivestack.tracking.kitti_run import FrameResult, load_sequence, run_sequence
from drivestack.tracking.registry import TRACKERS
from drivestack.tracking.tracker import TrackerConfig

pytestmark = pytest.mark.data


def _run(seq, monkeypatch: pytest.MonkeyPatch, giou) -> tuple[list[FrameResult], list]:
    calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def spy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = giou(a, b)
        calls.append((a.copy(), b.copy(), out))
        return out

    monkeypatch.setattr(tracker, "giou_3d_pairs", spy)
    return run_sequence(seq, TRACKERS["stack"](TrackerConfig(), None)), calls


def test_compiled_giou_association_equals_numpy_reference_on_real_pedestrians(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = data_root / "kitti_tracking"
    # 0015: a crowded pedestrian sequence (2,164 pedestrian detections in 376 frames).
    seq = load_sequence(root, "0015", root / "detections" / "pointrcnn_val")
    fast_giou = tracker.giou_3d_pairs
    fast, fast_calls = _run(seq, monkeypatch, fast_giou)
    ref, ref_calls = _run(seq, monkeypatch, box_iou.giou_3d_pairs)
    # Same GIoU queries frame by frame (so the same matches so far), same costs.
    assert len(fast_calls) == len(ref_calls) > 300
    assert sum(len(c[2]) for c in ref_calls) > 3000
    for (fa, fb, fo), (ra, rb, ro) in zip(fast_calls, ref_calls, strict=True):
        np.testing.assert_array_equal(fa, ra)
        np.testing.assert_array_equal(fb, rb)
        np.testing.assert_allclose(fo, ro, rtol=0, atol=1e-12)
    # Same tracks: identities and boxes of every frame.
    assert sum(len(r.ids) for r in ref) > 1000
    for f, r in zip(fast, ref, strict=True):
        np.testing.assert_array_equal(f.ids, r.ids)
        np.testing.assert_array_equal(f.class_ids, r.class_ids)
        np.testing.assert_allclose(f.boxes, r.boxes, rtol=0, atol=1e-9)
