"""Results of the KITTI object evaluation: one precision/recall curve per class, metric,
difficulty and overlap set, its R11/R40 AP and AOS, and the JSON form of all of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class APCurve:
    """One precision/recall curve and its APs.

    Attributes:
        precision: (n_sample_pts,) monotone precision at the sampled score thresholds.
        recall: (n_sample_pts,) recall at those thresholds (0 beyond the last one).
        aos: (n_sample_pts,) monotone orientation similarity, or None.
        thresholds: (K,) score thresholds, K <= n_sample_pts.
        tp, fp, fn: (K,) counts at each threshold.
    """

    cls: str
    metric: str
    difficulty: str
    overlap: str
    min_overlap: float
    n_gt: int
    precision: np.ndarray
    recall: np.ndarray
    aos: np.ndarray | None
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @property
    def ap_r11(self) -> float:
        """11-point AP [%]: precision at recall 0, 0.1, ..., 1."""
        return float(self.precision[::4].sum() / 11 * 100)

    @property
    def ap_r40(self) -> float:
        """40-point AP [%]: precision at recall 1/40, ..., 1 (recall 0 left out)."""
        return float(self.precision[1:].sum() / 40 * 100)

    @property
    def aos_r11(self) -> float | None:
        return None if self.aos is None else float(self.aos[::4].sum() / 11 * 100)

    @property
    def aos_r40(self) -> float | None:
        return None if self.aos is None else float(self.aos[1:].sum() / 40 * 100)


@dataclass(frozen=True)
class ObjectEvalResult:
    """All curves of one evaluation; ``skipped`` says which (class, metric) were not run."""

    curves: list[APCurve]
    n_frames: int
    compute_aos: bool
    skipped: dict[str, str]

    def curve(self, cls: str, metric: str, difficulty: str, overlap: str = "strict") -> APCurve:
        for c in self.curves:
            if (c.cls, c.metric, c.difficulty, c.overlap) == (cls, metric, difficulty, overlap):
                return c
        raise KeyError(
            f"no curve for {cls}/{metric}/{difficulty}/{overlap}; skipped: {self.skipped}"
        )

    def to_json(self) -> dict:
        """Every number, nested as results[overlap][metric][class][difficulty]."""
        out: dict = {}
        for c in self.curves:
            entry = {
                "AP_R11": c.ap_r11,
                "AP_R40": c.ap_r40,
                "min_overlap": c.min_overlap,
                "n_gt": c.n_gt,
                "precision": c.precision.round(6).tolist(),
                "recall": c.recall.round(6).tolist(),
                "thresholds": c.thresholds.tolist(),
                "tp": c.tp.tolist(),
                "fp": c.fp.tolist(),
                "fn": c.fn.tolist(),
            }
            if c.aos is not None:
                entry.update(AOS_R11=c.aos_r11, AOS_R40=c.aos_r40, aos=c.aos.round(6).tolist())
            out.setdefault(c.overlap, {}).setdefault(c.metric, {}).setdefault(c.cls, {})[
                c.difficulty
            ] = entry
        return {
            "n_frames": self.n_frames,
            "compute_aos": self.compute_aos,
            "skipped": self.skipped,
            "results": out,
        }
