"""KITTI tracking: CLEAR MOT known answers, reference equivalence, sAMOTA sweep, HOTA, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.kitti.label_file import (
    LabelFileError,
    TrackingLabels,
    format_object_line,
    parse_tracking_lines,
)
from drivestack.eval.hota import hota_class
from drivestack.eval.kitti_tracking import TrackingEvalConfig, clear_mot, prepare_class
from drivestack.eval.kitti_tracking_data import load_tracking_data
from drivestack.eval.kitti_tracking_reference import reference_clear
from drivestack.eval.kitti_tracking_result import evaluate_kitti_tracking
from drivestack.eval.kitti_tracking_sweep import get_recall_thresholds

BOX = (100.0, 100.0, 200.0, 180.0)
DIMS, LOC = (1.5, 1.6, 4.0), (0.0, 1.6, 20.0)


def _line(frame: int, tid: int, kind: str = "Car", box=BOX, score=None, occ=0, trunc=0.0, loc=LOC):  # noqa: ANN001, ANN202
    return format_object_line(
        kind, box, truncated=trunc, occluded=occ, alpha=0.0, dimensions=DIMS, location=loc,
        rotation_y=0.0, score=score, frame=frame, track_id=tid,
    )  # fmt: skip


def _labels(lines: list[str], name: str = "seq.txt") -> TrackingLabels:
    return parse_tracking_lines(lines, name)


def _run(gt_lines: list[str], trk_lines: list[str], n: int, cls: str = "car", **cfg_kw):  # noqa: ANN003, ANN202
    cfg = TrackingEvalConfig(**cfg_kw)
    gt, res = [_labels(gt_lines)], [_labels(trk_lines, "res.txt")]
    ct = prepare_class(gt, res, [n], cls, cfg)
    return clear_mot(ct, cfg)[0], reference_clear(gt, res, [n], cls, cfg)


def test_perfect_tracks_score_one() -> None:
    gt = [_line(f, 7) for f in range(10)]
    trk = [_line(f, 3, score=1.0) for f in range(10)]
    ours, ref = _run(gt, trk, 10)
    assert (ours.mota, ours.motp, ours.ids, ours.frag, ours.fp, ours.fn) == (1.0, 1.0, 0, 0, 0, 0)
    assert ours.mt == 1.0 and ref["mota"] == 1.0


def test_id_switch_is_counted_once_with_one_fragmentation() -> None:
    gt = [_line(f, 7) for f in range(10)]
    trk = [_line(f, 1 if f < 5 else 2, score=1.0) for f in range(10)]
    ours, ref = _run(gt, trk, 10)
    assert (ours.ids, ours.frag, ours.tp, ours.fp, ours.fn) == (1, 1, 10, 0, 0)
    assert ours.mota == pytest.approx(0.9)
    assert (ref["ids"], ref["frag"]) == (1, 1)


def test_gap_is_a_fragmentation_and_a_miss_but_no_id_switch() -> None:
    gt = [_line(f, 7) for f in range(5)]
    trk = [_line(f, 1, score=1.0) for f in range(5) if f != 2]
    ours, _ = _run(gt, trk, 5)
    assert (ours.ids, ours.frag, ours.fn) == (0, 1, 1)


def test_dontcare_neighbour_small_boxes_are_not_false_positives() -> None:
    dc = "0 -1 DontCare -1 -1 -10 400 100 520 200 -1000 -1000 -1000 -10 -1 -1 -1"
    gt = [_line(0, 7), dc, _line(0, 8, "Van", box=(600, 100, 700, 180))]
    trk = [
        _line(0, 1, score=1.0),
        _line(0, 2, box=(410, 110, 500, 190), score=1.0),  # inside DontCare
        _line(0, 3, "Van", box=(600, 100, 700, 180), score=1.0),  # a van, matched to the van
        _line(0, 4, box=(800, 100, 830, 120), score=1.0),  # 20 px high
        _line(0, 5, box=(900, 100, 990, 180), score=1.0),  # a real false positive
    ]
    ours, ref = _run(gt, trk, 1)
    assert ours.fp == 1 and ref["fp"] == 1
    assert ours.tp == 2 and ours.ignored_tp == 1  # the van ground truth is an ignored TP
    assert ours.n_gt == 1 and ours.mota == pytest.approx(0.0)


def test_occluded_or_truncated_ground_truth_missed_is_not_a_false_negative() -> None:
    gt = [
        _line(0, 7),
        _line(0, 8, box=(300, 100, 400, 180), occ=3),
        _line(0, 9, box=(500, 100, 600, 180), trunc=1),
    ]
    ours, ref = _run(gt, [_line(0, 1, score=1.0)], 1)
    assert (ours.fn, ours.ignored_fn, ours.n_gt) == (0, 2, 1)
    assert ref["fn"] == 0


def _random_sequence(rng: np.random.Generator, n_frames: int) -> tuple[list[str], list[str]]:
    gt, trk = [], []
    objects = [
        (rng.uniform(0, 900), rng.uniform(80, 250), rng.uniform(20, 120), rng.uniform(15, 90))
        for _ in range(6)
    ]
    kinds = ["Car", "Car", "Van", "Pedestrian", "Cyclist", "Car"]
    for f in range(n_frames):
        for k, (x, y, w, h) in enumerate(objects):
            if rng.random() < 0.2:
                continue
            x += 3 * f
            loc = (x / 50 - 9, 1.6, 10 + y / 10)
            occ, trunc = int(rng.integers(0, 4)), float(rng.choice([0.0, 0.0, 1.0]))
            gt.append(_line(f, k, kinds[k], (x, y, x + w, y + h), occ=occ, trunc=trunc, loc=loc))
            if rng.random() < 0.85:
                j = rng.normal(0, 4, 4)
                tid = k if rng.random() > 0.1 else 100 + int(rng.integers(0, 3))
                tl = (loc[0] + rng.normal(0, 0.3), 1.6, loc[2] + rng.normal(0, 0.3))
                trk.append(
                    _line(
                        f,
                        tid,
                        kinds[k],
                        (x + j[0], y + j[1], x + w + abs(j[2]), y + h + abs(j[3])),
                        score=float(rng.uniform(0, 1)),
                        loc=tl,
                    )
                )
        if rng.random() < 0.3:
            trk.append(_line(f, 50 + f, "Car", (0, 0, 40, 60), score=float(rng.uniform(0, 1))))
    # one track id per frame only: drop duplicates created by the random id switches
    seen, unique = set(), []
    for line in trk:
        key = tuple(line.split()[:2])
        if key not in seen:
            seen.add(key)
            unique.append(line)
    return gt, unique


@pytest.mark.parametrize(
    ("seed", "metric", "thr"),
    [(0, "bbox", 0.5), (1, "bbox", 0.5), (2, "3d", 0.25), (3, "giou3d", 0.1)],
)
def test_vectorised_clear_mot_equals_plain_loop_reference(
    seed: int, metric: str, thr: float
) -> None:
    rng = np.random.default_rng(seed)
    seqs = [_random_sequence(rng, 12) for _ in range(2)]
    gt = [_labels(g) for g, _ in seqs]
    res = [_labels(t, "res.txt") for _, t in seqs]
    cfg = TrackingEvalConfig(metric=metric, min_overlap=thr)
    for cls in ("car", "pedestrian", "cyclist"):
        ct = prepare_class(gt, res, [12, 12], cls, cfg)
        for threshold in (-10000.0, 0.3, 0.6):
            ours = clear_mot(ct, cfg, threshold)[0].as_dict()
            ref = reference_clear(gt, res, [12, 12], cls, cfg, threshold)
            for key, value in ref.items():
                if key != "scores":
                    assert ours[key] == pytest.approx(value), f"{cls} {threshold} {key}"


def test_recall_thresholds_follow_ab3dmot_sampling() -> None:
    thr, rec = get_recall_thresholds(np.linspace(1, 0.1, 80), 80)
    assert len(thr) == 40 and rec[0] == pytest.approx(1 / 40) and rec[-1] == pytest.approx(1.0)
    thr, rec = get_recall_thresholds(np.linspace(1, 0.1, 40), 80)  # half the recall range
    assert len(thr) == 20 and rec[-1] == pytest.approx(0.5)


def test_samota_of_perfect_long_track_is_one_and_hota_of_id_switch_is_sqrt_half() -> None:
    n = 60  # enough true positives for all 40 recall samples
    gt = [_labels([_line(f, 7) for f in range(n)])]
    perfect = [_labels([_line(f, 3, score=0.5 + f / 1000) for f in range(n)], "res.txt")]
    r = evaluate_kitti_tracking(gt, perfect, [n], classes=("car",)).per_class["car"]
    assert r.sweep.samota == pytest.approx(1.0) and r.sweep.amota == pytest.approx(1.0)
    assert r.hota.hota == pytest.approx(1.0)
    switched = [_labels([_line(f, 1 if f < n // 2 else 2, score=1.0) for f in range(n)], "res.txt")]
    h = hota_class(gt, switched, [n], "car")
    # DetA = 1; every TP's track pair has Jaccard 30 / (60 + 30 - 30) = 0.5.
    assert h.deta == pytest.approx(1.0) and h.assa == pytest.approx(0.5)
    assert h.hota == pytest.approx(np.sqrt(0.5))


def test_bad_tracking_input_raises_with_file_and_line(tmp_path: Path) -> None:
    gt_dir, res_dir = tmp_path / "gt", tmp_path / "res"
    gt_dir.mkdir()
    res_dir.mkdir()
    (gt_dir / "0000.txt").write_text("\n".join(_line(f, 1) for f in range(3)) + "\n")
    seqmap = tmp_path / "seqmap"
    seqmap.write_text("0000 empty 000000 000003\n")
    (res_dir / "0000.txt").write_text(_line(0, 1, score=1.0) + "\n" + _line(0, 1, score=0.5) + "\n")
    with pytest.raises(LabelFileError, match=r"0000\.txt:2: track id 1 appears twice in frame 0"):
        load_tracking_data(gt_dir, res_dir, seqmap)
    (res_dir / "0000.txt").write_text(_line(5, 1, score=1.0) + "\n")
    with pytest.raises(LabelFileError, match=r"0000\.txt:1: frame 5 is beyond the 3 frames"):
        load_tracking_data(gt_dir, res_dir, seqmap)
    (res_dir / "0000.txt").write_text("0 1 Car 0 0 0 1 2 3\n")
    with pytest.raises(LabelFileError, match=r"0000\.txt:1: 9 columns, expected 17 or 18"):
        load_tracking_data(gt_dir, res_dir, seqmap)
    (res_dir / "0000.txt").unlink()
    data = load_tracking_data(gt_dir, res_dir, seqmap)
    assert "missing" in data.notes[0] and len(data.res[0]) == 0


@pytest.mark.data
def test_ground_truth_as_results_is_perfect_on_val(data_root: Path) -> None:
    # Speed is measured by `drive bench kitti-tracking`, not asserted here (a timed test
    # failed under CI load).
    trk = data_root / "kitti_tracking"
    data = load_tracking_data(
        trk / "label_02", trk / "label_02", trk / "splits/evaluate_tracking.seqmap.val"
    )
    result = evaluate_kitti_tracking(
        data.gt, data.res, data.n_frames, TrackingEvalConfig(metric="3d", min_overlap=0.25)
    )
    assert len(data.seqs) == 11 and set(result.per_class) == {"car", "pedestrian", "cyclist"}
    for r in result.per_class.values():
        assert r.sweep.samota == pytest.approx(1.0) and r.sweep.best.mota == pytest.approx(1.0)
        assert (r.sweep.best.ids, r.sweep.best.fp, r.sweep.best.fn) == (0, 0, 0)
        assert r.hota.hota == pytest.approx(1.0)


def _detections_as_tracks(path: Path, kind: str) -> list[str]:
    """AB3DMOT detection rows, each its own track (a worst-case tracker)."""
    lines = []
    for i, row in enumerate(path.read_text().splitlines()):
        v = [float(x) for x in row.split(",")]
        lines.append(
            format_object_line(
                kind, v[2:6], alpha=v[14], dimensions=v[7:10], location=v[10:13], rotation_y=v[13],
                score=v[6], frame=int(v[0]), track_id=i,
            )
        )  # fmt: skip
    return lines


@pytest.mark.data
def test_real_detections_as_tracks_vectorised_equals_reference(data_root: Path) -> None:
    trk = data_root / "kitti_tracking"
    data = load_tracking_data(
        trk / "label_02", trk / "label_02", trk / "splits/evaluate_tracking.seqmap.val"
    )
    k = data.seqs.index("0012")
    res = [
        _labels(
            _detections_as_tracks(trk / "detections/pointrcnn_val/Car/0012.txt", "Car"), "0012.txt"
        )
    ]
    cfg = TrackingEvalConfig(metric="3d", min_overlap=0.25)
    ct = prepare_class([data.gt[k]], res, [data.n_frames[k]], "car", cfg)
    for threshold in (-10000.0, 0.0, 5.0):
        ours = clear_mot(ct, cfg, threshold)[0].as_dict()
        ref = reference_clear([data.gt[k]], res, [data.n_frames[k]], "car", cfg, threshold)
        for key, value in ref.items():
            if key != "scores":
                assert ours[key] == pytest.approx(value), f"{threshold} {key}"
    assert clear_mot(ct, cfg)[0].ids > 0  # every detection is a new track


def _reference_hota(gt_ids, trk_ids, sims):  # noqa: ANN001, ANN202
    """TrackEval's HOTA.eval_sequence loops, per alpha and per frame (ids already contiguous)."""
    from scipy.optimize import linear_sum_assignment

    from drivestack.eval.hota import ALPHAS

    n_g = max((int(g.max()) + 1 for g in gt_ids if len(g)), default=0)
    n_t = max((int(t.max()) + 1 for t in trk_ids if len(t)), default=0)
    pot, gc, tc = np.zeros((n_g, n_t)), np.zeros((n_g, 1)), np.zeros((1, n_t))
    for g, t, s in zip(gt_ids, trk_ids, sims, strict=True):
        den = s.sum(0)[None, :] + s.sum(1)[:, None] - s
        iou = np.where(den > 0, s / np.where(den > 0, den, 1), 0)
        pot[g[:, None], t[None, :]] += iou
        gc[g] += 1
        tc[0, t] += 1
    score = pot / (gc + tc - pot)
    out = {k: np.zeros(len(ALPHAS)) for k in ("TP", "FN", "FP", "AssA")}
    counts = [np.zeros((n_g, n_t)) for _ in ALPHAS]
    for g, t, s in zip(gt_ids, trk_ids, sims, strict=True):
        if len(g) == 0 or len(t) == 0:
            out["FP"] += len(t)
            out["FN"] += len(g)
            continue
        r, c = linear_sum_assignment(-(score[g[:, None], t[None, :]] * s))
        for a, alpha in enumerate(ALPHAS):
            ok = s[r, c] >= alpha - np.finfo(float).eps
            out["TP"][a] += ok.sum()
            out["FN"][a] += len(g) - ok.sum()
            out["FP"][a] += len(t) - ok.sum()
            for i, j in zip(g[r[ok]], t[c[ok]], strict=True):
                counts[a][i, j] += 1
    for a in range(len(ALPHAS)):
        m = counts[a]
        out["AssA"][a] = (m * m / np.maximum(1, gc + tc - m)).sum() / max(1, out["TP"][a])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_hota_equals_per_alpha_loops(seed: int) -> None:
    from drivestack.eval.hota import _sequence_hota

    rng = np.random.default_rng(seed)
    gt_ids, trk_ids, sims = [], [], []
    for _ in range(30):
        g = rng.choice(6, size=rng.integers(0, 5), replace=False)
        t = rng.choice(8, size=rng.integers(0, 6), replace=False)
        s = rng.uniform(0, 1, (len(g), len(t))) * (rng.random((len(g), len(t))) < 0.5)
        gt_ids.append(g)
        trk_ids.append(t)
        sims.append(s)
    # Relabel ids to be contiguous the way _sequence_hota does, for the reference.
    ug, ut = np.unique(np.concatenate(gt_ids)), np.unique(np.concatenate(trk_ids))
    ref = _reference_hota(
        [np.searchsorted(ug, g) for g in gt_ids], [np.searchsorted(ut, t) for t in trk_ids], sims
    )
    ours = _sequence_hota(gt_ids, trk_ids, sims)
    for key in ("TP", "FN", "FP", "AssA"):
        np.testing.assert_allclose(ours[key], ref[key], atol=1e-12, err_msg=key)
    assert ref["TP"].sum() > 0


@pytest.mark.parametrize("seed", [4, 5])
def test_samota_sweep_equals_plain_loop_ab3dmot_driver(seed: int) -> None:
    from drivestack.eval.kitti_tracking_sweep import sweep

    rng = np.random.default_rng(seed)
    seqs = [_random_sequence(rng, 15) for _ in range(3)]
    gt = [_labels(g) for g, _ in seqs]
    res = [_labels(t, "res.txt") for _, t in seqs]
    cfg = TrackingEvalConfig()
    ours = sweep(prepare_class(gt, res, [15] * 3, "car", cfg), cfg, "car")
    # AB3DMOT's evaluate(): a full run, thresholds from its matched scores, one run per threshold
    # with the "valid" flags carried over, sums over 40.
    valid: set = set()
    full = reference_clear(gt, res, [15] * 3, "car", cfg, -10000.0, valid)
    thr, rec = get_recall_thresholds(np.array(full["scores"]), full["tp"] + full["fn"])
    smota, mota = [], []
    for t, r in zip(thr, rec, strict=True):
        run = reference_clear(gt, res, [15] * 3, "car", cfg, t, valid)
        n_gt, bad = run["n_gt"], run["fn"] + run["fp"] + run["ids"]
        smota.append(min(1.0, max(0.0, 1 - (bad - (1 - r) * n_gt) / (r * n_gt))))
        mota.append(run["mota"])
    assert len(thr) >= 10 and ours.thresholds == pytest.approx(thr)
    assert ours.smota == pytest.approx(smota) and ours.mota == pytest.approx(mota)
    assert ours.samota == pytest.approx(sum(smota) / 40)
