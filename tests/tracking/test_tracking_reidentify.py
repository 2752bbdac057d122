"""Second association stage and re-identification of dormant tracks (synthetic, no data)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from drivestack.msgs import ObjectClass
from drivestack.tracking.tracker import TrackerConfig, empty_state, step
from drivestack.tracking.tune import with_class

PED = int(ObjectClass.PEDESTRIAN)
NONE = (np.empty((0, 7)), np.empty(0), np.empty(0, np.int32))


def _ped_config(reid_gate: float, reid_age: int) -> TrackerConfig:
    base = TrackerConfig()
    params = replace(dict(base.classes)[PED], max_age=2, reid_gate=reid_gate, reid_age=reid_age)
    return with_class(base, PED, params)


def _walker(t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pedestrian walking +x at 1.5 m/s (10 Hz), frame t."""
    box = np.array([[0.15 * t, 2.0, 0.9, 0.8, 0.6, 1.7, 0.0]])
    return box, np.array([5.0]), np.array([PED], np.int32)


def _run(cfg: TrackerConfig, gap: range) -> tuple[list[set[int]], list[int]]:
    """Ids reported per frame (empty while occluded) and the state size per frame."""
    state = empty_state(cfg)
    ids, sizes = [], []
    for t in range(30):
        state, out = step(state, *(NONE if t in gap else _walker(t)), cfg)
        ids.append({int(i) for i in out.ids})
        sizes.append(len(state))
    return ids, sizes


def test_dormant_track_is_reidentified_after_an_occlusion_longer_than_max_age() -> None:
    gap = range(10, 14)  # 4 frames missed, max_age 2
    without, _ = _run(_ped_config(0.0, 0), gap)
    with_reid, sizes = _run(_ped_config(3.0, 3), gap)
    before, after = without[9], without[20]
    assert before and after and before != after  # a new identity without re-identification
    assert with_reid[9] == with_reid[20] == with_reid[29]  # the same identity throughout
    # Dormant frames: kept in the state, never reported.
    assert all(with_reid[t] == set() for t in (12, 13)) and all(sizes[t] == 1 for t in gap)


def test_track_dies_after_max_age_plus_reid_age() -> None:
    cfg = _ped_config(3.0, 3)
    _, sizes = _run(cfg, range(10, 30))
    assert sizes[10 + 2 + 3 - 2] == 1 and sizes[10 + 2 + 3 - 1] == 0


def test_second_stage_respects_its_mahalanobis_gate() -> None:
    # The walker reappears 3 m off its predicted path: far outside 3 sigma -> a new identity.
    cfg = _ped_config(3.0, 3)
    state = empty_state(cfg)
    for t in range(10):
        state, out = step(state, *_walker(t), cfg)
    first = set(out.ids.tolist())
    for _ in range(3):
        state, _ = step(state, *NONE, cfg)
    box, score, cls = _walker(13)
    box[0, 1] += 3.0  # [m]
    state, out = step(state, box, score, cls, cfg)
    assert set(out.ids.tolist()) and not set(out.ids.tolist()) & first


def test_reid_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="reid"):
        _ped_config(0.0, 3)
    with pytest.raises(ValueError, match="reid"):
        _ped_config(-1.0, 0)


def test_reid_command_option_sets_only_that_class() -> None:
    from drivestack.tracking.commands import with_reid

    base = TrackerConfig()
    cfg = with_reid(base, ["pedestrian:2.0:10"])
    for (c, p0), (_, p1) in zip(base.classes, cfg.classes, strict=True):
        assert p1 == (replace(p0, reid_gate=2.0, reid_age=10) if c == PED else p0)
    with pytest.raises(ValueError, match="--reid"):
        with_reid(base, ["walker:2:3"])
