"""Tuning grid: candidates, per-class replacement, split names (the full run, several minutes, is
`drive tune tracking --split train`, not part of the suite)."""

from __future__ import annotations

import pytest

from drivestack.msgs import ObjectClass
from drivestack.tracking.motion_data import KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES
from drivestack.tracking.tracker_config import TrackerConfig
from drivestack.tracking.tune import (
    ClassGrid,
    candidates,
    default_grids,
    reid_candidates,
    split_sequences,
    with_class,
)


def test_candidates_start_with_current_params_and_cover_the_grid_once() -> None:
    params = dict(TrackerConfig().classes)[int(ObjectClass.CAR)]
    grid = ClassGrid(gates=(1.5, params.gate), accels=(params.noise.accel, 9.0))
    cands = candidates(params, grid)
    assert cands[0] == params
    assert len(cands) == len(set(map(repr, cands))) == 4  # the current point is not repeated
    assert {(c.gate, c.noise.accel) for c in cands} == {
        (g, a) for g in grid.gates for a in grid.accels
    }
    assert all(c.metric == params.metric and c.max_age == params.max_age for c in cands)


def test_with_class_replaces_only_that_class() -> None:
    base = TrackerConfig()
    ped = int(ObjectClass.PEDESTRIAN)
    new_params = candidates(dict(base.classes)[ped], ClassGrid(gates=(0.9,), accels=(0.5,)))[1]
    cfg = with_class(base, ped, new_params)
    for (c0, p0), (c1, p1) in zip(base.classes, cfg.classes, strict=True):
        assert c0 == c1
        assert p1 == (new_params if c0 == ped else p0)


def test_split_names_are_the_kitti_splits_and_unknown_raises() -> None:
    assert (
        split_sequences("train", KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES)
        == KITTI_TRAIN_SEQUENCES
    )
    assert not set(split_sequences("train", KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES)) & set(
        KITTI_VAL_SEQUENCES
    )
    with pytest.raises(ValueError, match="split"):
        split_sequences("test", KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES)


def test_reid_candidates_start_with_current_params_and_skip_ages_without_a_second_stage() -> None:
    params = dict(TrackerConfig().classes)[int(ObjectClass.PEDESTRIAN)]
    grid = ClassGrid(
        gates=(params.gate,),
        accels=(params.noise.accel,),
        reid_gates=(0.0, 2.0, 3.0),
        reid_ages=(0, 5),
    )
    cands = reid_candidates(params, grid)
    assert cands[0] == params
    assert len(cands) == len(set(map(repr, cands)))
    assert {(c.reid_gate, c.reid_age) for c in cands} == {
        (0.0, 0),
        (2.0, 0),
        (2.0, 5),
        (3.0, 0),
        (3.0, 5),
    } | {(params.reid_gate, params.reid_age)}
    assert all(c.gate == params.gate and c.noise == params.noise for c in cands)


def test_default_tracker_params_lie_on_the_tuning_grid() -> None:
    grids = default_grids()
    for c, p in TrackerConfig().classes:
        g = grids[c]
        assert p.gate in g.gates and p.noise.accel in g.accels, ObjectClass(c).name
        assert p.reid_gate in g.reid_gates and (p.reid_age in g.reid_ages or p.reid_gate == 0), (
            ObjectClass(c).name
        )
