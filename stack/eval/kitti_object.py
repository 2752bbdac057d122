"""KITTI object-detection AP (2D / BEV / 3D, R11 and R40, AOS), as the official C++ devkit.

Rules reproduced from ``cpp/evaluate_object.cpp`` (KITTI object devkit):

- Difficulties: ground truth with box height <= MIN_HEIGHT, occlusion > MAX_OCCLUSION or
  truncation > MAX_TRUNCATION is *ignored* (neither TP nor FN, but may absorb a detection).
  Detections with box height < MIN_HEIGHT are ignored whatever their class.
- Neighbouring classes (Van for Car, Person_sitting for Pedestrian) are ignored ground truth;
  detections of other classes take no part.
- Matching, per frame and per ground truth in file order: to collect score thresholds, the
  highest-scoring unassigned detection with overlap > MIN_OVERLAP; for the PR curve at a score
  threshold, the unassigned non-ignored detection of largest overlap, else the first ignored one.
- 41 score thresholds sampled so that recall steps by 1/40 (``getThresholds``); precision is
  made monotone by a right-to-left running maximum. R11 averages points 0, 4, ..., 40; R40
  averages points 1..40 (Simonelli et al.; the devkit's default since 2019).
- DontCare: an unassigned detection whose intersection / own area with a DontCare box exceeds
  MIN_OVERLAP is not a false positive. Applied to the 2D metric only (see README: in BEV/3D
  the devkit's DontCare boxes sit at (-1000, -1000) and never overlap).
- AOS only for the 2D metric and only when no detection has alpha == -10.

Everything is vectorised over frames and score thresholds; frames are processed in descending
order of ground-truth count so that ground-truth slot k touches only frames that have it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from drivestack.datasets.kitti.label_file import ObjectLabels
from drivestack.eval.frame_overlaps import FrameOverlaps, frame_overlaps
from drivestack.eval.kitti_object_result import APCurve, ObjectEvalResult

METRICS: tuple[str, ...] = ("bbox", "bev", "3d")
DIFFICULTIES: tuple[str, ...] = ("easy", "moderate", "hard")
NEIGHBOUR: dict[str, str] = {"Car": "Van", "Pedestrian": "Person_sitting"}
_NO_DETECTION = -10000.0  # the devkit's sentinel; a score must exceed it to be a candidate


@dataclass(frozen=True)
class ObjectEvalConfig:
    """Parameters of the KITTI object benchmark (defaults: the official devkit)."""

    classes: tuple[str, ...] = ("Car", "Pedestrian", "Cyclist")
    min_height: tuple[float, float, float] = (40.0, 25.0, 25.0)  # [px] per difficulty
    max_occlusion: tuple[int, int, int] = (0, 1, 2)  # occlusion level per difficulty
    max_truncation: tuple[float, float, float] = (0.15, 0.3, 0.5)  # [0-1] per difficulty
    # Minimum overlap per metric (bbox, bev, 3d) and class: "strict" is the devkit's,
    # "loose" the second/OpenPCDet one (Car 0.5, others 0.25 in BEV/3D).
    overlaps: dict[str, dict[str, tuple[float, float, float]]] = field(
        default_factory=lambda: {
            "strict": {
                "Car": (0.7, 0.7, 0.7),
                "Pedestrian": (0.5, 0.5, 0.5),
                "Cyclist": (0.5, 0.5, 0.5),
            },
            "loose": {
                "Car": (0.7, 0.5, 0.5),
                "Pedestrian": (0.5, 0.25, 0.25),
                "Cyclist": (0.5, 0.25, 0.25),
            },
        }
    )
    n_sample_pts: int = 41  # recall samples (0, 1/40, ..., 1)


def get_thresholds(scores: np.ndarray, n_gt: int, n_sample_pts: int = 41) -> np.ndarray:
    """Score thresholds at (approximately) linearly spaced recall, as ``getThresholds``.

    Args:
        scores: (M,) scores of the true positives found when matching without thresholds.
        n_gt: number of non-ignored ground truth objects (recall denominator).
        n_sample_pts: recall samples.

    Returns:
        (K,) thresholds, descending, K <= n_sample_pts.
    """
    v = np.sort(np.asarray(scores, np.float64))[::-1]
    out: list[float] = []
    current = 0.0
    step = 1.0 / (n_sample_pts - 1.0)
    n = len(v)
    for i in range(n):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < n - 1 else left
        if (right - current) < (current - left) and i < n - 1:
            continue  # the next score approximates the current recall step better
        out.append(float(v[i]))
        current += step  # accumulated exactly like the devkit (float drift included)
    return np.asarray(out[:n_sample_pts], np.float64)


def _ignore_codes(
    fr: FrameOverlaps, cls: str, difficulty: int, cfg: ObjectEvalConfig
) -> tuple[np.ndarray, np.ndarray, int]:
    """The devkit's ``cleanData``: (N_gt,) and (N_det,) codes in {-1, 0, 1}, and n_gt."""
    box = fr.gt_col("bbox")
    height = box[:, 3] - box[:, 1]
    neighbour = NEIGHBOUR.get(cls, "").lower()
    same = fr.gt_type == cls.lower()
    near = (fr.gt_type == neighbour) if neighbour else np.zeros(len(same), bool)
    hard = (
        (fr.gt_col("occluded") > cfg.max_occlusion[difficulty])
        | (fr.gt_col("truncated") > cfg.max_truncation[difficulty])
        | (height <= cfg.min_height[difficulty])
    )
    ign_gt = np.full(len(same), -1, np.int8)
    ign_gt[near | (same & hard)] = 1
    ign_gt[same & ~hard] = 0
    dbox = fr.det_col("bbox")
    # The devkit truncates the detection height to int before "< MIN_HEIGHT"; for integer
    # minimum heights that is the same as comparing the float.
    small = np.abs(dbox[:, 1] - dbox[:, 3]) < cfg.min_height[difficulty]
    ign_det = np.where(small, 1, np.where(fr.det_type == cls.lower(), 0, -1)).astype(np.int8)
    return ign_gt, ign_det, int((ign_gt == 0).sum())


@dataclass(frozen=True)
class _Padded:
    """One (class, difficulty, metric): per-frame arrays padded, frames sorted by G desc."""

    overlap: np.ndarray  # (F, D, G) float64, -1 where absent
    score: np.ndarray  # (F, D) float64, -inf where absent
    det_ignored: np.ndarray  # (F, D) bool: ignored_det == 1
    det_alpha: np.ndarray  # (F, D) [rad]
    det_in_dc: np.ndarray  # (F, D) bool: covered by a DontCare box (2D metric only)
    gt_present: np.ndarray  # (F, G) bool
    gt_ignored: np.ndarray  # (F, G) bool: ignored_gt == 1
    gt_alpha: np.ndarray  # (F, G) [rad]
    n_active: np.ndarray  # (G,) number of frames having more than k relevant ground truths


def _rank_in_frame(frame: np.ndarray) -> np.ndarray:
    """(N,) position of each row among the rows of its frame; ``frame`` is sorted."""
    if len(frame) == 0:
        return np.zeros(0, np.int64)
    start = np.r_[0, np.flatnonzero(np.diff(frame)) + 1]
    return np.arange(len(frame)) - np.repeat(start, np.diff(np.r_[start, len(frame)]))


def _padded(
    fr: FrameOverlaps,
    metric: str,
    ign_gt: np.ndarray,
    ign_det: np.ndarray,
    min_overlap: float,
    det_score: np.ndarray,
) -> _Padded:
    n = fr.n_frames
    g_rows, d_rows = np.flatnonzero(ign_gt >= 0), np.flatnonzero(ign_det >= 0)
    ng = np.bincount(fr.gt_frame[g_rows], minlength=n)
    nd = np.bincount(fr.det_frame[d_rows], minlength=n)
    order = np.argsort(-ng, kind="stable")
    slot = np.empty(n, np.int64)
    slot[order] = np.arange(n)  # padded row of each frame
    gmax, dmax = int(ng.max(initial=0)), int(nd.max(initial=0))
    gpos = np.full(len(ign_gt), -1)
    gpos[g_rows] = _rank_in_frame(fr.gt_frame[g_rows])
    dpos = np.full(len(ign_det), -1)
    dpos[d_rows] = _rank_in_frame(fr.det_frame[d_rows])
    ov = np.full((n, dmax, gmax), -1.0)
    keep = (gpos[fr.pair_gt] >= 0) & (dpos[fr.pair_det] >= 0)
    pg, pd = fr.pair_gt[keep], fr.pair_det[keep]
    ov[slot[fr.gt_frame[pg]], dpos[pd], gpos[pg]] = fr.overlaps[metric][keep]
    fd, pos = slot[fr.det_frame[d_rows]], dpos[d_rows]
    score = np.full((n, dmax), -np.inf)
    score[fd, pos] = det_score[d_rows]
    d_ign = np.zeros((n, dmax), bool)
    d_ign[fd, pos] = ign_det[d_rows] == 1
    d_alpha = np.zeros((n, dmax))
    d_alpha[fd, pos] = fr.det_col("alpha")[d_rows]
    d_dc = np.zeros((n, dmax), bool)
    if metric == "bbox":
        d_dc[fd, pos] = fr.dc_cover[d_rows] > min_overlap
    fg, gp = slot[fr.gt_frame[g_rows]], gpos[g_rows]
    g_present = np.zeros((n, gmax), bool)
    g_present[fg, gp] = True
    g_ign = np.zeros((n, gmax), bool)
    g_ign[fg, gp] = ign_gt[g_rows] == 1
    g_alpha = np.zeros((n, gmax))
    g_alpha[fg, gp] = fr.gt_col("alpha")[g_rows]
    n_active = (ng[order][:, None] > np.arange(gmax)[None, :]).sum(0)  # (G,)
    return _Padded(ov, score, d_ign, d_alpha, d_dc, g_present, g_ign, g_alpha, n_active)


def _threshold_scores(p: _Padded, min_overlap: float) -> np.ndarray:
    """``computeStatistics(compute_fp=false)``: scores of the true positives, all frames."""
    n, d = p.score.shape
    assigned = np.zeros((n, d), bool)
    base = p.score > _NO_DETECTION  # (F, D) a candidate must beat the sentinel score
    out: list[np.ndarray] = []
    for k, na in enumerate(p.n_active):
        cand = base[:na] & ~assigned[:na] & (p.overlap[:na, :, k] > min_overlap)  # (na, D)
        found = cand.any(1)
        j = np.argmax(np.where(cand, p.score[:na], -np.inf), 1)  # first highest score
        rows = np.flatnonzero(found)
        assigned[rows, j[rows]] = True
        tp = rows[~p.gt_ignored[rows, k] & ~p.det_ignored[rows, j[rows]]]
        out.append(p.score[tp, j[tp]])
    return np.concatenate(out) if out else np.zeros(0)


def _pr_counts(
    p: _Padded, thresholds: np.ndarray, min_overlap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``computeStatistics(compute_fp=true)`` for every threshold at once.

    Returns:
        (T,) tp, fp, fn counts and (T,) summed orientation similarity of the true positives.
    """
    t = len(thresholds)
    n, d = p.score.shape
    alive = (p.score[None] >= thresholds[:, None, None]) & np.isfinite(p.score)[None]  # (T, F, D)
    assigned = np.zeros((t, n, d), bool)
    tp = np.zeros(t, np.int64)
    fn = np.zeros(t, np.int64)
    sim = np.zeros(t)
    for k, na in enumerate(p.n_active):
        ov = p.overlap[None, :na, :, k]  # (1, na, D)
        cand = alive[:, :na] & ~assigned[:, :na] & (ov > min_overlap)  # (T, na, D)
        valid = cand & ~p.det_ignored[None, :na]
        has_valid = valid.any(-1)  # (T, na)
        j = np.where(
            has_valid,
            np.argmax(np.where(valid, ov, -np.inf), -1),  # first largest overlap
            np.argmax(cand & p.det_ignored[None, :na], -1),  # else first ignored candidate
        )
        found = cand.any(-1)  # (T, na)
        gt_ok = (p.gt_present[:na, k] & ~p.gt_ignored[:na, k])[None]  # (1, na)
        fn += (~found & gt_ok).sum(-1)
        ti, fi = np.nonzero(found)
        assigned[ti, fi, j[ti, fi]] = True
        hit = found & has_valid & gt_ok  # (T, na) true positives
        ti, fi = np.nonzero(hit)
        tp += np.bincount(ti, minlength=t)
        delta = p.gt_alpha[fi, k] - p.det_alpha[fi, j[ti, fi]]
        sim += np.bincount(ti, weights=(1.0 + np.cos(delta)) / 2.0, minlength=t)
    # Unassigned, non-ignored detections above the threshold are false positives unless a
    # DontCare region covers them.
    fp_mask = alive & ~assigned & ~p.det_ignored[None] & ~p.det_in_dc[None]  # (T, F, D)
    fp = fp_mask.sum((1, 2))
    return tp, fp, fn, sim


def evaluate_curve(
    fr: FrameOverlaps,
    cls: str,
    difficulty: int,
    metric: str,
    overlap: str,
    cfg: ObjectEvalConfig,
    compute_aos: bool,
    det_score: np.ndarray,
) -> APCurve:
    """One precision/recall curve (the devkit's ``eval_class``)."""
    ign_gt, ign_det, n_gt = _ignore_codes(fr, cls, difficulty, cfg)
    min_overlap = cfg.overlaps[overlap][cls][METRICS.index(metric)]
    p = _padded(fr, metric, ign_gt, ign_det, min_overlap, det_score)
    scores = _threshold_scores(p, min_overlap)
    thr = get_thresholds(scores, n_gt, cfg.n_sample_pts) if n_gt > 0 else np.zeros(0)
    tp, fp, fn, sim = _pr_counts(p, thr, min_overlap)
    k = len(thr)
    precision = np.zeros(cfg.n_sample_pts)
    recall = np.zeros(cfg.n_sample_pts)
    aos = np.zeros(cfg.n_sample_pts)
    precision[:k] = tp / np.maximum(tp + fp, 1)
    recall[:k] = tp / np.maximum(tp + fn, 1)
    aos[:k] = sim / np.maximum(tp + fp, 1)
    # Interpolated precision: the best precision at this or any higher recall.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    aos = np.maximum.accumulate(aos[::-1])[::-1]
    return APCurve(
        cls=cls,
        metric=metric,
        difficulty=DIFFICULTIES[difficulty],
        overlap=overlap,
        min_overlap=min_overlap,
        n_gt=n_gt,
        precision=precision,
        recall=recall,
        aos=aos if (compute_aos and metric == "bbox") else None,
        thresholds=thr,
        tp=tp,
        fp=fp,
        fn=fn,
    )


def _evaluated(fr: FrameOverlaps, cls: str, metric: str) -> bool:
    """The devkit evaluates a class/metric only if some detection of it provides the fields."""
    rows = fr.det_type == cls.lower()
    if metric == "bbox":
        return bool((fr.det_col("bbox")[rows, 0] >= 0).any())
    dims, loc = fr.det_col("dimensions")[rows], fr.det_col("location")[rows]
    ground = (loc[:, 0] != -1000) & (loc[:, 2] != -1000) & (dims[:, 1] > 0) & (dims[:, 2] > 0)
    if metric == "bev":
        return bool(ground.any())
    return bool((ground & (loc[:, 1] != -1000) & (dims[:, 0] > 0)).any())


def evaluate_kitti_object(
    gt: Sequence[ObjectLabels],
    det: Sequence[ObjectLabels],
    cfg: ObjectEvalConfig | None = None,
    metrics: Sequence[str] = METRICS,
    overlaps: Sequence[str] = ("strict", "loose"),
) -> ObjectEvalResult:
    """KITTI object AP for every class, difficulty, metric and overlap set.

    Args:
        gt: per frame ground truth (15 columns), DontCare rows included.
        det: per frame detections (16 columns, with score), same frame order as ``gt``.
        cfg: benchmark parameters; the official ones by default.
        metrics: subset of ("bbox", "bev", "3d").
        overlaps: subset of ("strict", "loose").

    Returns:
        The curves and APs; (class, metric) pairs without any suitable detection are listed in
        ``skipped`` as the devkit does not evaluate them.
    """
    cfg = cfg or ObjectEvalConfig()
    if len(gt) != len(det):
        raise ValueError(f"{len(gt)} ground-truth frames but {len(det)} detection frames")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; known: {METRICS}")
    for d in det:
        if len(d) and d.score is None:
            raise ValueError(f"{d.path}: detections need a score column (16 columns)")
    det_score = np.concatenate([np.zeros(0)] + [d.score for d in det if len(d)])
    fr = frame_overlaps(gt, det, [m for m in METRICS if m in metrics])
    skipped: dict[str, str] = {}
    todo: list[tuple[str, str]] = []
    for m in metrics:
        for cls in cfg.classes:
            if _evaluated(fr, cls, m):
                todo.append((cls, m))
            else:
                skipped[f"{cls}/{m}"] = "no detection of this class provides the fields"
    compute_aos = not any((d.alpha == -10).any() for d in det)
    # Curves with identical parameters (e.g. the strict and loose 2D thresholds) are shared.
    cache: dict[tuple[str, int, str, float], APCurve] = {}
    curves = []
    for ov in overlaps:
        for cls, m in todo:
            for diff in range(len(DIFFICULTIES)):
                key = (cls, diff, m, cfg.overlaps[ov][cls][METRICS.index(m)])
                if key not in cache:
                    cache[key] = evaluate_curve(fr, cls, diff, m, ov, cfg, compute_aos, det_score)
                curves.append(dataclasses.replace(cache[key], overlap=ov))
    return ObjectEvalResult(
        curves=curves, n_frames=len(gt), compute_aos=compute_aos, skipped=skipped
    )
