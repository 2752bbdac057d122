"""Tracker and association properties on synthetic scenes (no data)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from drivestack.eval.box_iou import giou_3d
from drivestack.msgs import ObjectClass
from drivestack.tracking import association
from drivestack.tracking.ab3dmot_baseline import MultiClassAB3DMOT
from drivestack.tracking.tracker import TrackerConfig, empty_state, step

CAR, PED = int(ObjectClass.CAR), int(ObjectClass.PEDESTRIAN)


def test_hungarian_match_is_the_minimum_cost_gated_assignment() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        cost = rng.uniform(0, 2, (n, m))
        gate = 1.2
        matches, free_r, free_c = association.match(cost, gate, "hungarian")
        assert np.all(cost[matches[:, 0], matches[:, 1]] <= gate)
        assert len(matches) + len(free_r) == n and len(matches) + len(free_c) == m
        # Brute force: most pairs under the gate first, then the least total cost.
        small = cost if n <= m else cost.T  # rows <= cols
        keys = []
        for perm in itertools.permutations(range(small.shape[1]), small.shape[0]):
            pairs = [(r, c) for r, c in enumerate(perm) if small[r, c] <= gate]
            keys.append((-len(pairs), sum(small[r, c] for r, c in pairs)))
        best = min(keys)
        got = (-len(matches), float(cost[matches[:, 0], matches[:, 1]].sum()))
        assert got[0] == best[0] and got[1] == pytest.approx(best[1])


def test_greedy_match_takes_the_cheapest_pair_first() -> None:
    cost = np.array([[0.1, 0.2], [0.15, 5.0]])
    matches, _, _ = association.match(cost, 1.0, "greedy")
    assert sorted(map(tuple, matches.tolist())) == [(0, 0)]  # (1, 1) is gated out
    matches, _, _ = association.match(cost, 10.0, "hungarian")
    assert sorted(map(tuple, matches.tolist())) == [(0, 1), (1, 0)]


def test_giou_prefilter_only_drops_pairs_that_fail_every_class_gate() -> None:
    # Pairs whose BEV circumcircles are more than giou_reach apart are treated as gated; check
    # with the exact GIoU that they would fail the most permissive default gate anyway.
    cfg = TrackerConfig()
    loosest = max(p.gate for _, p in cfg.classes if p.metric == "giou")
    rng = np.random.default_rng(1)
    sizes = {"car": (4.5, 1.9, 1.6), "ped": (0.9, 0.7, 1.8), "van": (6.0, 2.2, 2.5)}
    for dims in sizes.values():
        a = np.array([[0, 0, 0, *dims, 0.0]])
        r = np.hypot(dims[0], dims[1])  # 2 circumradii
        for _ in range(200):
            ang, yaw = rng.uniform(-np.pi, np.pi, 2)
            d = r + cfg.giou_reach + rng.uniform(0, 2)
            b = np.array([[d * np.cos(ang), d * np.sin(ang), rng.normal(0, 0.3), *dims, yaw]])
            assert 1 - giou_3d(a, b)[0, 0] > loosest


def _scene(frames: int, rng: np.random.Generator, noise: float = 0.1):
    """Two cars in parallel lanes 3.5 m apart driving at 10 m/s, one pedestrian walking."""
    out = []
    for f in range(frames):
        t = 0.1 * f
        boxes = np.array(
            [
                [10 * t, 0.0, 0.8, 4.5, 1.9, 1.6, 0.0],
                [30 - 10 * t, 3.5, 0.8, 4.5, 1.9, 1.6, np.pi],
                [5.0, -6 + 1.2 * t, 0.9, 0.8, 0.6, 1.8, np.pi / 2],
            ]
        )
        boxes[:, :2] += rng.normal(0, noise, (3, 2))
        out.append((boxes, np.array([5.0, 4.0, 3.0]), np.array([CAR, CAR, PED], np.int32)))
    return out


def test_tracker_keeps_identities_of_passing_cars() -> None:
    rng = np.random.default_rng(2)
    cfg = TrackerConfig()
    state = empty_state(cfg)
    seen: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    for boxes, scores, cls in _scene(40, rng):
        state, out = step(state, boxes, scores, cls, cfg)
        for tid, box in zip(out.ids, out.boxes, strict=True):
            truth = int(np.argmin(np.linalg.norm(boxes[:, :2] - box[:2], axis=1)))
            seen[truth].add(int(tid))
    assert all(len(ids) == 1 for ids in seen.values()), seen
    assert len(state) == 3
    # The filter learned the velocities.
    vel = {int(i): v for i, v in zip(out.ids, out.velocities, strict=True)}
    np.testing.assert_allclose(vel[next(iter(seen[0]))][:2], [10, 0], atol=1.0)
    np.testing.assert_allclose(vel[next(iter(seen[1]))][:2], [-10, 0], atol=1.0)


def test_tracks_die_after_max_age_and_ids_are_never_reused() -> None:
    cfg = TrackerConfig()
    state = empty_state(cfg)
    box = np.array([[0, 0, 0.8, 4.5, 1.9, 1.6, 0.0]])
    one = (box, np.array([1.0]), np.array([CAR], np.int32))
    none = (np.empty((0, 7)), np.empty(0), np.empty(0, np.int32))
    for _ in range(5):
        state, _ = step(state, *one, cfg)
    first_id = int(state.ids[0])
    max_age = dict(cfg.classes)[CAR].max_age
    for k in range(max_age):
        state, out = step(state, *none, cfg)
        assert len(state) == (1 if k + 1 < max_age else 0)
    state, _ = step(state, *one, cfg)
    assert int(state.ids[0]) > first_id


def test_new_tracks_are_reported_after_min_hits_only() -> None:
    cfg = TrackerConfig()
    state = empty_state(cfg)
    box = np.array([[0, 0, 0.8, 4.5, 1.9, 1.6, 0.0]])
    none = (np.empty((0, 7)), np.empty(0), np.empty(0, np.int32))
    min_hits = dict(cfg.classes)[CAR].min_hits
    for _ in range(min_hits + 1):  # past the first-frames grace period
        state, _ = step(state, *none, cfg)
    reported = []
    for _ in range(min_hits + 1):
        state, out = step(state, box, np.array([1.0]), np.array([CAR], np.int32), cfg)
        reported.append(len(out.ids))
    assert reported == [0] * (min_hits - 1) + [1, 1]


def test_untracked_classes_and_low_scores_start_no_track() -> None:
    cfg = replace(
        TrackerConfig(),
        classes=tuple((c, replace(p, birth_score=0.0)) for c, p in TrackerConfig().classes),
    )
    state = empty_state(cfg)
    boxes = np.array(
        [
            [0, 0, 0.8, 4.5, 1.9, 1.6, 0.0],
            [10, 0, 0.8, 4.5, 1.9, 1.6, 0.0],
            [20, 0, 1, 10, 2.5, 3, 0.0],
        ]
    )
    cls = np.array([CAR, CAR, int(ObjectClass.TRUCK)], np.int32)
    state, _ = step(state, boxes, np.array([1.0, -1.0, 5.0]), cls, cfg)
    assert len(state) == 1 and state.class_ids[0] == CAR


def test_step_does_not_modify_its_input_state() -> None:
    rng = np.random.default_rng(3)
    cfg = TrackerConfig()
    state = empty_state(cfg)
    frames = _scene(6, rng)
    for boxes, scores, cls in frames[:5]:
        state, _ = step(state, boxes, scores, cls, cfg)
    copies = {f: np.copy(getattr(state, f)) for f in ("mean", "cov", "hits", "hist_xy")}
    step(state, *frames[5], cfg)
    for f, v in copies.items():
        np.testing.assert_array_equal(getattr(state, f), v)


def test_stack_tracker_and_ab3dmot_baseline_agree_on_a_clean_scene() -> None:
    # Same association rules on well-separated objects: identical id partitions.
    rng = np.random.default_rng(4)
    cfg = TrackerConfig()
    state, base = empty_state(cfg), MultiClassAB3DMOT()
    pairs: set[tuple[int, int]] = set()
    for boxes, scores, cls in _scene(30, rng, noise=0.02):
        state, out = step(state, boxes, scores, cls, cfg)
        ids, _, b_boxes, _ = base.update(boxes, scores, cls)
        for tid, box in zip(out.ids, out.boxes, strict=True):
            j = int(np.argmin(np.linalg.norm(b_boxes[:, :2] - box[:2], axis=1)))
            pairs.add((int(tid), int(ids[j])))
    assert len(pairs) == 3


def test_tracker_cv_fast_path_equals_kalman_predict_and_update() -> None:
    from drivestack.tracking import kalman
    from drivestack.tracking.tracker import _predict

    rng = np.random.default_rng(5)
    cfg = TrackerConfig()
    state = empty_state(cfg)
    for boxes, scores, cls in _scene(8, rng):
        state, _ = step(state, boxes, scores, cls, cfg)
    mean, cov = _predict(state, cfg.tables, 0.1)
    for i, slot in enumerate(state.slots):
        p = cfg.classes[slot][1]
        m1, c1 = kalman.predict(state.mean[i : i + 1], state.cov[i : i + 1], 0.1, p.noise, p.model)
        np.testing.assert_allclose(mean[i], m1[0], atol=1e-12)
        np.testing.assert_allclose(cov[i], c1[0], atol=1e-12)
