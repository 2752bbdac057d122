"""The whole KITTI tracking evaluation of a tracker: CLEAR MOT, sAMOTA sweep and HOTA per class.

This is the API trackers in the stack are scored with::

    data = load_tracking_data(gt_dir, results_dir, seqmap)
    result = evaluate_kitti_tracking(data.gt, data.res, data.n_frames, TrackingEvalConfig())
    result.per_class["car"].sweep.samota, result.per_class["car"].hota.hota
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from drivestack.datasets.kitti.label_file import TrackingLabels
from drivestack.eval.hota import HotaResult, hota_class
from drivestack.eval.kitti_tracking import TrackingEvalConfig, prepare_class
from drivestack.eval.kitti_tracking_sweep import SweepResult, overall, sweep

TRACKING_CLASSES: tuple[str, ...] = ("car", "pedestrian", "cyclist")


@dataclass(frozen=True)
class ClassResult:
    """All metrics of one class."""

    cls: str
    sweep: SweepResult
    hota: HotaResult


@dataclass(frozen=True)
class TrackingResult:
    """Per-class results; ``skipped`` names classes without tracker output (AB3DMOT skips)."""

    config: TrackingEvalConfig
    per_class: dict[str, ClassResult]
    skipped: dict[str, str] = field(default_factory=dict)

    def overall(self) -> dict[str, float]:
        """AB3DMOT's "Overall" row plus class-averaged HOTA/DetA/AssA/LocA."""
        out = overall({c: r.sweep for c, r in self.per_class.items()})
        if self.per_class:
            for key in ("HOTA", "DetA", "AssA", "LocA"):
                out[key] = float(np.mean([r.hota.as_dict()[key] for r in self.per_class.values()]))
        return out

    def to_json(self) -> dict:
        """Every number (fractions in [0, 1], as the tools compute them)."""
        classes = {}
        for cls, r in self.per_class.items():
            s = r.sweep
            classes[cls] = {
                "sAMOTA": s.samota,
                "AMOTA": s.amota,
                "AMOTP": s.amotp,
                "best_threshold": s.best.as_dict(),
                "all_tracks": s.all_tracks.as_dict(),
                "curve": {
                    "recall": s.recalls,
                    "threshold": s.thresholds,
                    "sMOTA": s.smota,
                    "MOTA": s.mota,
                    "MOTP": s.motp,
                },
                "HOTA": {
                    **r.hota.as_dict(),
                    "HOTA_per_alpha": r.hota.hota_alpha.round(6).tolist(),
                },
            }
        cfg = self.config
        return {
            "config": dict(cfg.__dict__),
            "classes": classes,
            "overall": self.overall(),
            "skipped": self.skipped,
        }


def evaluate_kitti_tracking(
    gt: Sequence[TrackingLabels],
    res: Sequence[TrackingLabels],
    n_frames: Sequence[int],
    cfg: TrackingEvalConfig | None = None,
    classes: Sequence[str] = TRACKING_CLASSES,
) -> TrackingResult:
    """CLEAR MOT + sAMOTA/AMOTA/AMOTP (AB3DMOT) + HOTA (TrackEval) for each class.

    Args:
        gt: per sequence ground truth.
        res: per sequence tracker output (same order).
        n_frames: frames per sequence.
        cfg: evaluation parameters (2D IoU 0.5 by default; AB3DMOT 3D: metric "3d", 0.25).
        classes: lower-case class names.

    Returns:
        Per-class results. Classes whose tracker output has no track of the class (or of its
        neighbour class) are skipped, as AB3DMOT does.
    """
    cfg = cfg or TrackingEvalConfig()
    hota_metric = "bbox" if cfg.metric == "bbox" else "3d"
    hota_thr = 0.5 if cfg.metric == "bbox" else max(cfg.min_overlap, 0.0)
    per_class: dict[str, ClassResult] = {}
    skipped: dict[str, str] = {}
    for cls in classes:
        ct = prepare_class(gt, res, n_frames, cls, cfg)
        if not len(ct.trk_frame) or (ct.trk_id < 0).all():
            skipped[cls] = "no tracks of this class in the results"
            continue
        per_class[cls] = ClassResult(
            cls=cls,
            sweep=sweep(ct, cfg, cls),
            hota=hota_class(gt, res, n_frames, cls, hota_metric, hota_thr),
        )
    return TrackingResult(config=cfg, per_class=per_class, skipped=skipped)
