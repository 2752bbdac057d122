"""Tuning grid: candidates, per-class replacement, split names (the full run, several minutes, is
`drive tune tracking --split train`, not part of the suite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivestack.msgs import ObjectClass
from drivestack.tracking.kitti_run import load_sequence
from drivestack.tracking.motion_data import KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES
from drivestack.tracking.tracker_config import TrackerConfig
from drivestack.tracking.tune import (
    CLEAN_SLACK,
    ClassGrid,
    StressLevel,
    candidates,
    default_grids,
    matcher_candidates,
    parse_classes,
    perturb,
    pick_stressed,
    reid_candidates,
    split_sequences,
    with_class,
)

PED = int(ObjectClass.PEDESTRIAN)


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
        if g.matchers:
            assert p.matcher in g.matchers and p.min_hits in g.min_hits, ObjectClass(c).name


def test_matcher_candidates_start_with_current_params_and_cover_the_grid_once() -> None:
    params = dict(TrackerConfig().classes)[PED]
    grid = ClassGrid(gates=(), accels=(), matchers=("greedy", "hungarian"), min_hits=(1, 3))
    cands = matcher_candidates(params, grid)
    assert cands[0] == params
    assert len(cands) == len(set(map(repr, cands)))
    assert {(c.matcher, c.min_hits) for c in cands} == {
        ("greedy", 1),
        ("greedy", 3),
        ("hungarian", 1),
        ("hungarian", 3),
    } | {(params.matcher, params.min_hits)}
    assert all(c.gate == params.gate and c.reid_gate == params.reid_gate for c in cands)


def _trial(objective: float, accuracy: float, ids: float) -> dict[str, float]:
    return {"objective": objective, "stress_accuracy": accuracy, "stress_ids": ids}


def test_pick_stressed_wants_fewer_switches_without_losing_accuracy() -> None:
    incumbent = _trial(40.0, 50.0, 4.0)
    # Fewer switches but less accurate under stress, or too far below on clean data: refused.
    assert pick_stressed([incumbent, _trial(45.0, 49.9, 0.0)]) == 0
    assert pick_stressed([incumbent, _trial(40.0 - CLEAN_SLACK - 0.01, 55.0, 0.0)]) == 0
    # Within the clean slack and no less accurate: the fewest switches win, then accuracy.
    trials = [
        incumbent,
        _trial(40.0 - CLEAN_SLACK, 50.0, 2.0),
        _trial(41.0, 52.0, 1.0),
        _trial(39.8, 53.0, 1.0),
        _trial(42.0, 60.0, 3.0),
    ]
    assert pick_stressed(trials) == 3
    # Nothing better: the incumbent stays (also on ties, the earliest wins).
    assert pick_stressed([incumbent, _trial(40.0, 50.0, 4.0)]) == 0


@pytest.mark.data
def test_perturb_degrades_only_the_tuned_class_and_repeats_with_its_seed(data_root: Path) -> None:
    root = data_root / "kitti_tracking"
    seq = load_sequence(root, "0017", root / "detections" / "pointrcnn_val")  # a crowded crossing
    level = StressLevel(sigma=0.2, drop=0.25)
    (a,), (b,), (c,) = (perturb([seq], PED, level, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes, strict=True))
    assert not all(
        np.array_equal(x, y) for x, y in zip(a.boxes, c.boxes, strict=True) if len(x) and len(y)
    )
    assert np.array_equal(a.poses, seq.poses) and a.calib is seq.calib
    (same,) = perturb([seq], PED, StressLevel(0.0, 0.0), 0)
    assert all(np.array_equal(x, y) for x, y in zip(same.boxes, seq.boxes, strict=True))

    n_ped = kept = 0
    offsets = []
    for f in range(len(seq)):
        ped0 = seq.class_ids[f] == PED
        ped1 = a.class_ids[f] == PED
        # Other classes: every detection kept, bit for bit, in order.
        assert np.array_equal(a.boxes[f][~ped1], seq.boxes[f][~ped0])
        assert np.array_equal(a.scores[f][~ped1], seq.scores[f][~ped0])
        n_ped += int(ped0.sum())
        kept += int(ped1.sum())
        # Kept pedestrians: only x and y moved. Match each to its source by the untouched fields.
        for box in a.boxes[f][ped1]:
            src = seq.boxes[f][ped0]
            k = int(np.argmin(np.abs(src[:, 2:] - box[2:]).sum(axis=1)))
            assert np.array_equal(src[k, 2:], box[2:])
            offsets.append(box[:2] - src[k, :2])
    assert n_ped > 500
    assert kept / n_ped == pytest.approx(1.0 - level.drop, abs=0.03)
    assert np.std(offsets) == pytest.approx(level.sigma, rel=0.1)
    assert abs(np.mean(offsets)) < 0.02


@pytest.mark.slow
@pytest.mark.data
def test_default_pedestrian_association_swaps_fewer_identities_under_stress(
    data_root: Path, tmp_path: Path
) -> None:
    """The reason for the pedestrians' Hungarian matcher (``drive tune tracking --stress``): on
    the training sequences with 0.2 m of centre noise, AB3DMOT's greedy matching swaps
    identities several times more often, and is less accurate."""
    from dataclasses import replace

    from drivestack.datasets.kitti.tracking import read_seqmap
    from drivestack.tracking.tune import score_class

    root = data_root / "kitti_tracking"
    names = set(KITTI_TRAIN_SEQUENCES)
    entries = [
        e
        for e in read_seqmap(root / "splits" / "evaluate_tracking.seqmap.training")
        if e.sequence in names
    ]
    seqmap = tmp_path / "seqmap.train"
    seqmap.write_text(
        "".join(f"{e.sequence} empty {e.first_frame:06d} {e.num_frames:06d}\n" for e in entries)
    )
    dets = root / "detections" / "pointrcnn_val"
    seqs = perturb(
        [load_sequence(root, e.sequence, dets) for e in entries], PED, StressLevel(0.2, 0.0), 0
    )
    base = TrackerConfig()
    ped = dict(base.classes)[PED]
    assert ped.matcher == "hungarian"
    ab3dmot_like = with_class(base, PED, replace(ped, matcher="greedy"))
    ours = score_class(seqs, base, PED, root / "label_02", seqmap)
    theirs = score_class(seqs, ab3dmot_like, PED, root / "label_02", seqmap)
    assert ours["ids_0.25"] * 2 < theirs["ids_0.25"]
    assert ours["samota_0.25"] > theirs["samota_0.25"]
    assert ours["mota_0.25"] > theirs["mota_0.25"]


def test_tracker_config_to_dict_is_plain_json_without_derived_tables() -> None:
    """Regression: ``drive bench tracking`` printed ``asdict(config)``, whose derived
    ``tables`` (arrays, a cache) filled the JSON with stringified matrices."""
    import json

    config = TrackerConfig()
    d = config.to_dict()
    assert "tables" not in d
    back = json.loads(json.dumps(d))  # no default=str needed: plain values only
    assert set(back["classes"]) == {"car", "pedestrian", "cyclist"}
    assert back["classes"]["pedestrian"]["matcher"] == dict(config.classes)[PED].matcher
    assert back["tcn_mode"] == config.tcn_mode and back["history"] == config.history


@pytest.mark.data
def test_stressed_tune_reports_every_stage_and_picks_by_the_rule(
    data_root: Path, tmp_path: Path
) -> None:
    """`tune(stress=True)` end to end on one crowded training sequence with a small grid."""
    from drivestack.datasets.kitti.tracking import read_seqmap
    from drivestack.tracking.tune import tune

    root = data_root / "kitti_tracking"
    (entry,) = [
        e
        for e in read_seqmap(root / "splits" / "evaluate_tracking.seqmap.training")
        if e.sequence == "0017"
    ]
    seqmap = tmp_path / "seqmap"
    seqmap.write_text(f"0017 empty {entry.first_frame:06d} {entry.num_frames:06d}\n")
    seqs = [load_sequence(root, "0017", root / "detections" / "pointrcnn_val")]
    ped = dict(TrackerConfig().classes)[PED]
    grid = ClassGrid(
        gates=(ped.gate,), accels=(ped.noise.accel,), matchers=("greedy", "hungarian"),
        min_hits=(ped.min_hits,),
    )  # fmt: skip
    report = tune(seqs, root / "label_02", seqmap, grids={PED: grid}, classes=(PED,), stress=True)
    trials = report["classes"]["pedestrian"]["trials"]
    stages = [t["stage"] for t in trials]
    assert stages == [
        "gate x accel",
        "matcher x min_hits, stressed",
        "matcher x min_hits, stressed",
        "reid gate x age, stressed",
    ]
    assert all("stress_ids" in t for t in trials[1:]) and "stress_ids" not in trials[0]
    # The clean scores of the same parameters agree across stages (deterministic runs).
    assert trials[0]["objective"] == trials[1]["objective"]
    second = trials[1:3]
    pick = second[pick_stressed(second)]
    assert report["classes"]["pedestrian"]["best"]["matcher"] == pick["matcher"]
    assert report["classes"]["pedestrian"]["best_scores"] == trials[-1]


def test_classes_option_names_an_unknown_class_before_any_loading(capsys) -> None:
    """Regression: a misspelt ``--classes`` raised a bare KeyError after loading every
    sequence."""
    from drivestack.cli.main import main

    assert parse_classes("all") is None
    assert parse_classes("car, pedestrian") == (int(ObjectClass.CAR), PED)
    with pytest.raises(ValueError, match=r"--classes: unknown class 'pedestrain' \(known: "):
        parse_classes("car,pedestrain")
    assert (
        main(["tune", "tracking", "--classes", "pedestrain", "--kitti-root", "/nonexistent"]) == 2
    )
    assert "unknown class 'pedestrain'" in capsys.readouterr().err
