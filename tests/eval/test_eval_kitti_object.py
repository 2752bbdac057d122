"""KITTI object AP: known answers, a plain-loop reference of the devkit, bad input, real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.kitti.label_file import (
    LabelFileError,
    ObjectLabels,
    format_object_line,
    parse_object_lines,
)
from drivestack.eval.kitti_object import (
    DIFFICULTIES,
    ObjectEvalConfig,
    evaluate_kitti_object,
    get_thresholds,
)
from drivestack.eval.kitti_object_data import load_object_data, read_rgb_detections, write_results
from drivestack.eval.kitti_object_reference import reference_precision


def _gt(rows: list[tuple]) -> ObjectLabels:
    """rows: (type, bbox, truncated, occluded[, dims, loc, ry, alpha])."""
    lines = []
    for r in rows:
        kind, box, trunc, occ = r[:4]
        dims, loc, ry = (
            (r[4], r[5], r[6]) if len(r) > 4 else ((1.5, 1.6, 4.0), (0.0, 1.6, 20.0), 0.0)
        )
        alpha = r[7] if len(r) > 7 else 0.0
        lines.append(
            format_object_line(
                kind,
                box,
                truncated=trunc,
                occluded=occ,
                alpha=alpha,
                dimensions=dims,
                location=loc,
                rotation_y=ry,
            )
        )
    return parse_object_lines(lines, "gt.txt", with_score=False)


def _det(rows: list[tuple]) -> ObjectLabels:
    """rows: (type, bbox, score[, dims, loc, ry, alpha])."""
    lines = []
    for r in rows:
        kind, box, score = r[:3]
        extra = {}
        if len(r) > 3:
            extra = dict(dimensions=r[3], location=r[4], rotation_y=r[5])
        alpha = r[6] if len(r) > 6 else 0.0
        lines.append(format_object_line(kind, box, score=score, alpha=alpha, **extra))
    return parse_object_lines(lines, "det.txt", with_score=True) if lines else _empty()


def _empty() -> ObjectLabels:
    e = parse_object_lines([], "det.txt")
    return e.__class__(**{**e.__dict__, "score": np.zeros(0)})


CAR = (100.0, 100.0, 200.0, 180.0)  # 80 px high: easy/moderate/hard


def test_perfect_detections_give_ap_100_for_all_difficulties_and_both_samplings() -> None:
    # 50 objects per class: enough for all 41 recall samples (see the next test).
    ped = (10.0, 50.0, 40.0, 140.0)
    gt = [_gt([("Car", CAR, 0.0, 0), ("Pedestrian", ped, 0.0, 0)]) for _ in range(50)]
    det = [_det([("Car", CAR, 0.9 - i / 100), ("Pedestrian", ped, 0.7)]) for i in range(50)]
    res = evaluate_kitti_object(gt, det, metrics=("bbox",))
    for cls in ("Car", "Pedestrian"):
        for diff in DIFFICULTIES:
            c = res.curve(cls, "bbox", diff)
            assert c.ap_r11 == pytest.approx(100.0) and c.ap_r40 == pytest.approx(100.0)
            assert c.aos_r40 == pytest.approx(100.0)  # alpha equal -> orientation similarity 1
    assert "Cyclist/bbox" in res.skipped  # the devkit evaluates only detected classes


def test_devkit_quirk_few_objects_cap_ap_below_100() -> None:
    # getThresholds samples one score per reached recall step, starting at recall 1/n_gt: with
    # one object the only sample sits at index 0, so a perfect detection scores R11 = 1/11.
    c = evaluate_kitti_object([_gt([("Car", CAR, 0.0, 0)])], [_det([("Car", CAR, 0.9)])]).curve(
        "Car", "bbox", "easy"
    )
    assert c.ap_r11 == pytest.approx(100 / 11) and c.ap_r40 == pytest.approx(0.0)
    # 40 objects give 40 samples: index 40 stays 0 -> R40 = 39/40.
    gt = [_gt([("Car", CAR, 0.0, 0)]) for _ in range(40)]
    det = [_det([("Car", CAR, 1 - i / 100)]) for i in range(40)]
    c = evaluate_kitti_object(gt, det, metrics=("bbox",)).curve("Car", "bbox", "easy")
    assert c.ap_r40 == pytest.approx(97.5) and c.ap_r11 == pytest.approx(100 * 10 / 11)


def test_one_false_positive_at_top_score_halves_precision_at_low_recall() -> None:
    gt = [_gt([("Car", CAR, 0.0, 0)])]
    det = [_det([("Car", CAR, 0.5), ("Car", (600, 100, 700, 180), 0.9)])]
    c = evaluate_kitti_object(gt, det, metrics=("bbox",)).curve("Car", "bbox", "moderate")
    # Only threshold = 0.5: TP 1, FP 1 -> precision 0.5 at recall 1, interpolated leftwards.
    assert c.thresholds.tolist() == [0.5]
    assert c.ap_r11 == pytest.approx(100 * 0.5 * 1 / 11)  # only the recall-0 sample is set
    assert c.ap_r40 == pytest.approx(0.0)
    # Without the false positive the same curve is perfect at recall 0.
    c2 = evaluate_kitti_object(gt, [_det([("Car", CAR, 0.5)])], metrics=("bbox",)).curve(
        "Car", "bbox", "moderate"
    )
    assert c2.precision[0] == 1.0 and c.precision[0] == 0.5


def test_dontcare_covered_false_positive_is_not_counted() -> None:
    dc = ("DontCare", (590, 90, 720, 200), -1.0, -1, (-1, -1, -1), (-1000, -1000, -1000), -10)
    fp = ("Car", (600, 100, 700, 180), 0.9)
    with_dc = evaluate_kitti_object(
        [_gt([("Car", CAR, 0.0, 0), dc])], [_det([("Car", CAR, 0.5), fp])], metrics=("bbox",)
    )
    no_dc = evaluate_kitti_object(
        [_gt([("Car", CAR, 0.0, 0)])], [_det([("Car", CAR, 0.5), fp])], metrics=("bbox",)
    )
    assert with_dc.curve("Car", "bbox", "easy").fp.tolist() == [0]
    assert no_dc.curve("Car", "bbox", "easy").fp.tolist() == [1]


def test_neighbour_class_and_small_or_occluded_gt_are_neither_tp_nor_fn() -> None:
    van = ("Van", (400, 100, 500, 180), 0.0, 0)
    occluded = ("Car", (600, 100, 700, 180), 0.0, 2)  # only counts for hard
    gt = [_gt([("Car", CAR, 0.0, 0), van, occluded])]
    det = [_det([("Car", CAR, 0.9), ("Car", (400, 100, 500, 180), 0.8)])]  # a car on the van
    res = evaluate_kitti_object(gt, det, metrics=("bbox",))
    easy, hard = res.curve("Car", "bbox", "easy"), res.curve("Car", "bbox", "hard")
    assert easy.n_gt == 1 and easy.fp.tolist() == [0] and easy.tp.tolist() == [1]
    assert hard.n_gt == 2 and hard.fn.tolist() == [1]  # the occluded car is missed


def test_get_thresholds_spreads_recall_like_the_devkit() -> None:
    scores = np.linspace(1, 0.01, 80)
    thr = get_thresholds(scores, n_gt=80)
    assert len(thr) == 41 and thr[0] == 1.0
    assert get_thresholds(scores[:40], n_gt=80).size == 21  # half the recall range


def _random_frames(rng: np.random.Generator, n_frames: int):  # noqa: ANN202
    types = ["Car", "Car", "Van", "Pedestrian", "Person_sitting", "Cyclist", "DontCare"]
    gts, dets = [], []
    for _ in range(n_frames):
        g_rows, d_rows = [], []
        for _ in range(rng.integers(0, 6)):
            x, y = rng.uniform(0, 300, 2)
            w, h = rng.uniform(10, 80), rng.uniform(15, 90)
            loc = (float(rng.uniform(-5, 5)), 1.6, float(rng.uniform(5, 30)))
            dims = (float(rng.uniform(1, 2)), float(rng.uniform(1, 2)), float(rng.uniform(1, 4.5)))
            ry = float(rng.uniform(-3, 3))
            kind = types[rng.integers(len(types))]
            g_rows.append(
                (
                    kind,
                    (x, y, x + w, y + h),
                    float(rng.choice([0, 0.2, 0.4, 0.6])),
                    int(rng.integers(0, 4)),
                    dims,
                    loc,
                    ry,
                )
            )
            for _ in range(rng.integers(0, 3)):  # jittered detections of this object
                j = rng.normal(0, 6, 4)
                box = (x + j[0], y + j[1], x + w + abs(j[2]), y + h + abs(j[3]))
                dl = (loc[0] + rng.normal(0, 0.3), loc[1], loc[2] + rng.normal(0, 0.3))
                det_kind = kind if kind != "DontCare" else "Car"
                d_rows.append(
                    (
                        det_kind if rng.random() > 0.2 else "Car",
                        box,
                        float(rng.integers(1, 30)) / 30,
                        dims,
                        dl,
                        ry + rng.normal(0, 0.2),
                    )
                )
        for _ in range(rng.integers(0, 3)):  # pure false positives
            x, y = rng.uniform(0, 300, 2)
            d_rows.append(
                (
                    "Car",
                    (x, y, x + 50, y + 40),
                    float(rng.integers(1, 30)) / 30,
                    (1.5, 1.6, 4.0),
                    (0.0, 1.6, 15.0),
                    0.0,
                )
            )
        gts.append(_gt(g_rows))
        dets.append(_det(d_rows))
    return gts, dets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_curves_equal_plain_loop_reference_on_random_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt, det = _random_frames(rng, 25)
    cfg = ObjectEvalConfig()
    res = evaluate_kitti_object(gt, det, cfg, overlaps=("strict",))
    checked = 0
    for c in res.curves:
        want = reference_precision(gt, det, c.cls, DIFFICULTIES.index(c.difficulty), c.metric, cfg)
        np.testing.assert_allclose(
            c.precision, want, atol=1e-12, err_msg=f"{c.cls}/{c.metric}/{c.difficulty}"
        )
        checked += c.n_gt > 0
    assert checked >= 9  # several non-trivial curves per seed


def test_bad_results_raise_with_file_and_line(tmp_path: Path) -> None:
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    (gt_dir / "000001.txt").write_text(
        format_object_line("Car", CAR, truncated=0, occluded=0) + "\n"
    )
    res = tmp_path / "res"
    res.mkdir()
    (res / "000001.txt").write_text("Car 0 0 0 1 2 3 4 1 1 1 0 0 0 0\n")  # 15 columns: no score
    with pytest.raises(LabelFileError, match=r"000001\.txt:1: 15 columns, expected 16"):
        load_object_data(gt_dir, res)
    (res / "000001.txt").write_text(format_object_line("Car", CAR, score=0.5) + "\n")
    (res / "000009.txt").write_text(format_object_line("Car", CAR, score=0.5) + "\n")
    with pytest.raises(
        LabelFileError, match=r"000009\.txt: frame 000009 is not in the ground truth"
    ):
        load_object_data(gt_dir, res)
    lst = tmp_path / "rgb.txt"
    lst.write_text("a/000001.png 2 0.9 1 2 3 4\na/000001.png 7 0.9 1 2 3 4\n")
    with pytest.raises(LabelFileError, match=r"rgb\.txt:2: unknown class id 7"):
        read_rgb_detections(lst)
    lst.write_text("a/000001.png 2 nan 1 2 3 4\n")
    with pytest.raises(LabelFileError, match=r"rgb\.txt:1: non-finite"):
        read_rgb_detections(lst)


def test_missing_result_file_means_no_detections_and_extra_split_frames_are_counted(
    tmp_path: Path,
) -> None:
    gt_dir, res = tmp_path / "gt", tmp_path / "res"
    gt_dir.mkdir()
    for f in ("000001", "000002"):
        (gt_dir / f"{f}.txt").write_text(
            format_object_line("Car", CAR, truncated=0, occluded=0) + "\n"
        )
    write_results(res, {"000001": _det([("Car", CAR, 0.9)]), "000002": _det([("Car", CAR, 0.9)])})
    split = tmp_path / "split.txt"
    split.write_text("1\n")
    data = load_object_data(gt_dir, res, split)
    assert data.frames == ["000001"] and len(data.skipped) == 1 and "000002" in data.skipped[0]
    (res / "000002.txt").unlink()
    data = load_object_data(gt_dir, res)
    assert len(data.det[1]) == 0
    c = evaluate_kitti_object(data.gt, data.det, metrics=("bbox",)).curve("Car", "bbox", "easy")
    assert c.n_gt == 2 and c.recall[0] == pytest.approx(0.5)


@pytest.mark.data
def test_frustum_pointnets_2d_detections_reproduce_published_car_ap(data_root: Path) -> None:
    obj = data_root / "kitti_object"
    data = load_object_data(
        obj / "label_2",
        obj / "detections/frustum_pointnets_rgb2d_val/rgb_detection_val.txt",
        obj / "splits/val.txt",
    )
    res = evaluate_kitti_object(data.gt, data.det, metrics=("bbox",), overlaps=("strict",))
    assert len(data.frames) == 3769
    car = [round(res.curve("Car", "bbox", d).ap_r11, 2) for d in DIFFICULTIES]
    assert car == [96.48, 90.31, 87.63]  # Frustum PointNets paper, 2D detector on val (R11)
    assert not math.isnan(res.curve("Cyclist", "bbox", "hard").ap_r40)


def _gt_as_results(data_root: Path, n: int | None) -> tuple[list, list]:
    from drivestack.datasets.kitti.label_file import read_object_labels
    from drivestack.eval.kitti_object_data import read_split

    obj = data_root / "kitti_object"
    frames = read_split(obj / "splits/val.txt")[:n]
    rng = np.random.default_rng(0)
    res = {}
    for f in frames:
        g = read_object_labels(obj / f"label_2/{f}.txt")
        d = g.where(np.flatnonzero(g.type != "DontCare"))
        res[f] = d.__class__(**{**d.__dict__, "score": rng.uniform(0.1, 1.0, len(d))})
    data = load_object_data(obj / "label_2", res, obj / "splits/val.txt")
    keep = [i for i, f in enumerate(data.frames) if f in res]
    return [data.gt[i] for i in keep], [data.det[i] for i in keep]


def _assert_perfect(gt: list, det: list) -> int:
    res = evaluate_kitti_object(gt, det)
    assert not res.skipped and res.compute_aos
    checked = 0
    for c in res.curves:
        if c.n_gt >= 41:  # fewer objects cannot reach 100 with the devkit sampler
            assert c.ap_r11 == pytest.approx(100.0) and c.ap_r40 == pytest.approx(100.0), c
            checked += 1
    return checked


@pytest.mark.data
def test_ground_truth_as_detections_is_perfect_in_2d_bev_3d_and_aos(data_root: Path) -> None:
    assert _assert_perfect(*_gt_as_results(data_root, 800)) >= 40


@pytest.mark.slow
@pytest.mark.data
def test_ground_truth_as_detections_is_perfect_on_full_val(data_root: Path) -> None:
    assert _assert_perfect(*_gt_as_results(data_root, None)) == 54
