"""AB3DMOT's integral tracking metrics: sAMOTA, AMOTA, AMOTP over a track-score sweep.

As ``scripts/KITTI/evaluate.py`` of AB3DMOT (Weng et al., "AB3DMOT", IROS 2020):

1. Run CLEAR MOT with every track (threshold -10000); keep the mean track scores of the matched
   ground truth (``scores``) and ``num_gt`` = TP + FN of that run.
2. ``get_recall_thresholds``: walk the sorted scores and keep one score per recall step of 1/40
   (the devkit's threshold sampler, with its float-accumulated recall), dropping recall 0.
3. For each (threshold, recall r): run CLEAR MOT keeping tracks with mean score >= threshold;
   sMOTA_r = clip(1 - (FN + FP + IDS - (1 - r) n_gt) / (r n_gt), 0, 1).
4. sAMOTA = sum(sMOTA_r) / 40, AMOTA = sum(MOTA_r) / 40, AMOTP = sum(MOTP_r) / 40: recall steps
   that are never reached count as 0.
5. The threshold of the best MOTA (strictly above 0) gives the single-threshold CLEAR numbers.

The per-box "valid" flag of AB3DMOT persists across these runs (``sticky``), so a tracker box
matched in an earlier run is never ignored later; reproduced here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.eval.kitti_tracking import (
    ClassTracks,
    ClearMot,
    TrackingEvalConfig,
    clear_mot,
)


def get_recall_thresholds(
    scores: np.ndarray, num_gt: int, n_sample_pts: int = 41
) -> tuple[list[float], list[float]]:
    """Score thresholds and their recall values, as AB3DMOT's ``getThresholds``.

    Args:
        scores: (M,) mean track scores of the matched ground truth of the full run.
        num_gt: TP + FN of that run.
        n_sample_pts: recall samples including recall 0.

    Returns:
        thresholds (descending) and recalls (1/40, 2/40, ... as accumulated floats).
    """
    v = np.sort(np.asarray(scores, np.float64))[::-1].tolist()
    current, thresholds, recalls = 0.0, [], []
    n = len(v)
    for i, score in enumerate(v):
        left = (i + 1) / float(num_gt)
        right = (i + 2) / float(num_gt) if i < n - 1 else left
        if (right - current) < (current - left) and i < n - 1:
            continue
        thresholds.append(score)
        recalls.append(current)
        current += 1 / (n_sample_pts - 1.0)
    return thresholds[1:], recalls[1:]


@dataclass(frozen=True)
class SweepResult:
    """One class: the integral metrics, the curves over recall and two single runs.

    Attributes:
        samota, amota, amotp: integral metrics in [0, 1] (AMOTA may be negative).
        recalls, thresholds: the sampled recall values and score thresholds.
        smota, mota, motp: per sampled recall.
        best: CLEAR MOT at the best-MOTA threshold (what AB3DMOT's tables report).
        all_tracks: CLEAR MOT with every track (threshold -10000; the plain devkit run).
    """

    cls: str
    samota: float
    amota: float
    amotp: float
    recalls: list[float]
    thresholds: list[float]
    smota: list[float]
    mota: list[float]
    motp: list[float]
    best: ClearMot
    all_tracks: ClearMot


def sweep(ct: ClassTracks, cfg: TrackingEvalConfig, cls: str) -> SweepResult:
    """Runs the AB3DMOT sweep on one prepared class."""
    cache: dict = {}
    full, sticky, scores = clear_mot(ct, cfg, cache=cache)
    thresholds, recalls = get_recall_thresholds(scores, full.tp + full.fn, cfg.n_sample_pts)
    runs: list[ClearMot] = []
    best_mota, best_threshold = 0.0, -10000.0
    for thr, rec in zip(thresholds, recalls, strict=True):
        res, matched, _ = clear_mot(ct, cfg, thr, rec, sticky, cache)
        sticky = sticky | matched
        runs.append(res)
        if res.mota > best_mota:
            best_mota, best_threshold = res.mota, thr
    best, _, _ = clear_mot(ct, cfg, best_threshold, 1.0, sticky, cache)
    steps = cfg.n_sample_pts - 1.0
    return SweepResult(
        cls=cls,
        samota=sum(r.smota for r in runs) / steps,
        amota=sum(r.mota for r in runs) / steps,
        amotp=sum(r.motp for r in runs) / steps,
        recalls=list(recalls),
        thresholds=list(thresholds),
        smota=[r.smota for r in runs],
        mota=[r.mota for r in runs],
        motp=[r.motp for r in runs],
        best=best,
        all_tracks=full,
    )


def overall(results: dict[str, SweepResult]) -> dict[str, float]:
    """AB3DMOT's "Overall" row: sAMOTA/AMOTA/AMOTP/MOTA/MOTP averaged over classes, counts summed."""
    rs = list(results.values())
    if not rs:
        return {}
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    return {
        "sAMOTA": mean([r.samota for r in rs]),
        "AMOTA": mean([r.amota for r in rs]),
        "AMOTP": mean([r.amotp for r in rs]),
        "MOTA": mean([r.best.mota for r in rs]),
        "MOTP": mean([r.best.motp for r in rs]),
        "IDS": sum(r.best.ids for r in rs),
        "FRAG": sum(r.best.frag for r in rs),
        "FP": sum(r.best.fp for r in rs),
        "FN": sum(r.best.fn for r in rs),
    }
