"""Plain-loop reference of the KITTI object devkit (``cleanData``, ``computeStatistics``,
``eval_class``), written literally, one box pair at a time.

It exists to check the vectorised :mod:`drivestack.eval.kitti_object` (tests compare the two on
random frames) and as the baseline of ``drive bench kitti-object``. Too slow for full splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drivestack.datasets.kitti.label_file import ObjectLabels
from drivestack.eval.box_iou import bev_iou, iou_2d, iou_3d
from drivestack.eval.kitti_boxes import camera_to_stack_boxes
from drivestack.eval.kitti_object import METRICS, NEIGHBOUR, ObjectEvalConfig, get_thresholds

_NO_DETECTION = -10000.0


def _overlap(metric: str, d: ObjectLabels, j: int, g: ObjectLabels, i: int) -> float:
    if metric == "bbox":
        return float(iou_2d(d.bbox[j : j + 1], g.bbox[i : i + 1])[0, 0])
    if not (d.has_3d[j] and g.has_3d[i]):
        return 0.0
    bd = camera_to_stack_boxes(
        d.dimensions[j : j + 1], d.location[j : j + 1], d.rotation_y[j : j + 1]
    )
    bg = camera_to_stack_boxes(
        g.dimensions[i : i + 1], g.location[i : i + 1], g.rotation_y[i : i + 1]
    )
    return float((bev_iou if metric == "bev" else iou_3d)(bd, bg)[0, 0])


def _clean(
    g: ObjectLabels, d: ObjectLabels, cls: str, diff: int, cfg: ObjectEvalConfig
) -> tuple[list[int], list[int], list[int], int]:
    ignored_gt, ignored_det, dontcare, n_gt = [], [], [], 0
    for i in range(len(g)):
        t = str(g.type[i])
        if t.lower() == cls.lower():
            valid = 1
        elif NEIGHBOUR.get(cls, "").lower() == t.lower():
            valid = 0
        else:
            valid = -1
        height = g.bbox[i, 3] - g.bbox[i, 1]
        ignore = (
            g.occluded[i] > cfg.max_occlusion[diff]
            or g.truncated[i] > cfg.max_truncation[diff]
            or height <= cfg.min_height[diff]
        )
        if valid == 1 and not ignore:
            ignored_gt.append(0)
            n_gt += 1
        elif valid == 0 or (ignore and valid == 1):
            ignored_gt.append(1)
        else:
            ignored_gt.append(-1)
        if t.lower() == "dontcare":
            dontcare.append(i)
    for j in range(len(d)):
        height = int(abs(d.bbox[j, 1] - d.bbox[j, 3]))
        if height < cfg.min_height[diff]:
            ignored_det.append(1)
        elif str(d.type[j]).lower() == cls.lower():
            ignored_det.append(0)
        else:
            ignored_det.append(-1)
    return ignored_gt, ignored_det, dontcare, n_gt


def _statistics(
    g: ObjectLabels,
    d: ObjectLabels,
    ig: list[int],
    idt: list[int],
    dc: list[int],
    metric: str,
    min_overlap: float,
    compute_fp: bool,
    thresh: float = 0.0,
) -> tuple[int, int, int, list[float]]:
    score = d.score if d.score is not None else np.zeros(len(d))
    assigned = [False] * len(d)
    below = [compute_fp and score[j] < thresh for j in range(len(d))]
    tp = fp = fn = 0
    v: list[float] = []
    for i in range(len(g)):
        if ig[i] == -1:
            continue
        det_idx, valid_det, max_ov, assigned_ignored = -1, _NO_DETECTION, 0.0, False
        for j in range(len(d)):
            if idt[j] == -1 or assigned[j] or below[j]:
                continue
            o = _overlap(metric, d, j, g, i)
            if not compute_fp and o > min_overlap and score[j] > valid_det:
                det_idx, valid_det = j, float(score[j])
            elif (
                compute_fp and o > min_overlap and (o > max_ov or assigned_ignored) and idt[j] == 0
            ):
                max_ov, det_idx, valid_det, assigned_ignored = o, j, 1.0, False
            elif compute_fp and o > min_overlap and valid_det == _NO_DETECTION and idt[j] == 1:
                det_idx, valid_det, assigned_ignored = j, 1.0, True
        if valid_det == _NO_DETECTION and ig[i] == 0:
            fn += 1
        elif valid_det != _NO_DETECTION and (ig[i] == 1 or idt[det_idx] == 1):
            assigned[det_idx] = True
        elif valid_det != _NO_DETECTION:
            tp += 1
            v.append(float(score[det_idx]))
            assigned[det_idx] = True
    if compute_fp:
        fp = sum(1 for j in range(len(d)) if not (assigned[j] or idt[j] != 0 or below[j]))
        for i in dc:
            for j in range(len(d)):
                if assigned[j] or idt[j] != 0 or below[j] or metric != "bbox":
                    continue
                if iou_2d(d.bbox[j : j + 1], g.bbox[i : i + 1], "a")[0, 0] > min_overlap:
                    assigned[j] = True
                    fp -= 1
    return tp, fp, fn, v


def reference_precision(
    gt: Sequence[ObjectLabels],
    det: Sequence[ObjectLabels],
    cls: str,
    difficulty: int,
    metric: str,
    cfg: ObjectEvalConfig | None = None,
    overlap: str = "strict",
) -> np.ndarray:
    """(41,) interpolated precision of one class/difficulty/metric, by plain loops."""
    cfg = cfg or ObjectEvalConfig()
    thr = cfg.overlaps[overlap][cls][METRICS.index(metric)]
    cleaned = [_clean(g, d, cls, difficulty, cfg) for g, d in zip(gt, det, strict=True)]
    n_gt = sum(c[3] for c in cleaned)
    v = [
        s
        for g, d, c in zip(gt, det, cleaned, strict=True)
        for s in _statistics(g, d, c[0], c[1], c[2], metric, thr, False)[3]
    ]
    thresholds = get_thresholds(np.array(v), n_gt, cfg.n_sample_pts) if n_gt else np.zeros(0)
    precision = np.zeros(cfg.n_sample_pts)
    for t, score_thr in enumerate(thresholds):
        tp = fp = 0
        for g, d, c in zip(gt, det, cleaned, strict=True):
            a, b, _, _ = _statistics(g, d, c[0], c[1], c[2], metric, thr, True, score_thr)
            tp, fp = tp + a, fp + b
        precision[t] = tp / max(tp + fp, 1)
    return np.array([precision[i:].max() for i in range(cfg.n_sample_pts)])
