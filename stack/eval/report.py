"""Printed tables and PNG plots of the KITTI object and tracking evaluations.

The object table follows the layout people know from the devkit ports (second.pytorch,
OpenPCDet): ``Car AP@0.70, 0.70, 0.70:`` then one line per metric with Easy, Moderate, Hard.
The tracking table follows AB3DMOT's result tables (sAMOTA, MOTA, MOTP, IDS, FRAG, FP, FN) plus
HOTA, DetA, AssA, LocA. Plots use matplotlib's Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from drivestack.eval.kitti_object import DIFFICULTIES, METRICS  # noqa: E402
from drivestack.eval.kitti_object_result import ObjectEvalResult  # noqa: E402
from drivestack.eval.kitti_tracking_result import TrackingResult  # noqa: E402

_METRIC_LABEL = {"bbox": "bbox", "bev": "bev ", "3d": "3d  "}


def object_table(result: ObjectEvalResult) -> str:
    """The familiar per-class AP table (R11 as ``AP``, R40 as ``AP_R40``), strict then loose."""
    lines: list[str] = []
    classes = list(dict.fromkeys(c.cls for c in result.curves))
    overlaps = list(dict.fromkeys(c.overlap for c in result.curves))
    printed: set[tuple[str, str, float]] = set()
    for overlap in overlaps:
        keys = {(c.cls, c.metric, c.min_overlap) for c in result.curves if c.overlap == overlap}
        if keys <= printed:
            continue  # same thresholds as a set already printed (loose 2D = strict 2D)
        printed |= keys
        for cls in classes:
            curves = [c for c in result.curves if c.cls == cls and c.overlap == overlap]
            thr = {c.metric: c.min_overlap for c in curves}
            head = ", ".join(f"{thr[m]:.2f}" for m in METRICS if m in thr)
            for sampling in ("R11", "R40"):
                tag = "AP" if sampling == "R11" else "AP_R40"
                lines.append(f"{cls} {tag}@{head}:")
                for metric in METRICS:
                    row = [c for c in curves if c.metric == metric]
                    if not row:
                        continue
                    by_diff = {c.difficulty: c for c in row}
                    vals = [
                        by_diff[d].ap_r11 if sampling == "R11" else by_diff[d].ap_r40
                        for d in DIFFICULTIES
                    ]
                    lines.append(
                        f"{_METRIC_LABEL[metric]} AP:{vals[0]:.4f}, {vals[1]:.4f}, {vals[2]:.4f}"
                    )
                aos_row = [c for c in curves if c.metric == "bbox" and c.aos is not None]
                if aos_row:
                    by_diff = {c.difficulty: c for c in aos_row}
                    vals = [
                        (by_diff[d].aos_r11 if sampling == "R11" else by_diff[d].aos_r40) or 0.0
                        for d in DIFFICULTIES
                    ]
                    lines.append(f"aos  AP:{vals[0]:.2f}, {vals[1]:.2f}, {vals[2]:.2f}")
    for key, why in result.skipped.items():
        lines.append(f"(not evaluated: {key}: {why})")
    return "\n".join(lines)


def plot_object_curves(result: ObjectEvalResult, out_dir: str | Path) -> list[Path]:
    """One PNG per (overlap, class, metric): precision over recall for the three difficulties.

    Returns:
        The written files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    keys = dict.fromkeys((c.overlap, c.cls, c.metric, c.min_overlap) for c in result.curves)
    done: set[tuple[str, str, float]] = set()
    for overlap, cls, metric, thr in keys:
        if (cls, metric, thr) in done:
            continue  # the loose 2D curve is the strict one
        done.add((cls, metric, thr))
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5.0, 3.6))
        for diff in DIFFICULTIES:
            c = result.curve(cls, metric, diff, overlap)
            k = len(c.thresholds)
            ax.plot(c.recall[:k], c.precision[:k], label=f"{diff} R40 {c.ap_r40:.2f}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{cls} {metric} (IoU {c.min_overlap:.2f}, {overlap})")
        ax.legend(loc="lower left", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / f"pr_{cls.lower()}_{metric}_{overlap}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def tracking_table(result: TrackingResult) -> str:
    """AB3DMOT-style table in percent, one row per class and the overall row."""
    cfg = result.config
    head = (
        f"KITTI tracking ({cfg.metric}, min overlap {cfg.min_overlap:g})\n"
        f"{'class':<11}{'sAMOTA':>8}{'AMOTA':>8}{'AMOTP':>8}{'MOTA':>8}{'MOTP':>8}"
        f"{'IDS':>6}{'FRAG':>6}{'FP':>7}{'FN':>7}{'MT':>7}{'ML':>7}"
        f"{'HOTA':>8}{'DetA':>8}{'AssA':>8}{'LocA':>8}"
    )
    lines = [head]
    for cls, r in result.per_class.items():
        s, b, h = r.sweep, r.sweep.best, r.hota
        lines.append(
            f"{cls:<11}{100 * s.samota:8.2f}{100 * s.amota:8.2f}{100 * s.amotp:8.2f}"
            f"{100 * b.mota:8.2f}{100 * b.motp:8.2f}{b.ids:6d}{b.frag:6d}{b.fp:7d}{b.fn:7d}"
            f"{100 * b.mt:7.2f}{100 * b.ml:7.2f}"
            f"{100 * h.hota:8.2f}{100 * h.deta:8.2f}{100 * h.assa:8.2f}{100 * h.loca:8.2f}"
        )
    o = result.overall()
    if o:
        lines.append(
            f"{'overall':<11}{100 * o['sAMOTA']:8.2f}{100 * o['AMOTA']:8.2f}{100 * o['AMOTP']:8.2f}"
            f"{100 * o['MOTA']:8.2f}{100 * o['MOTP']:8.2f}{int(o['IDS']):6d}{int(o['FRAG']):6d}"
            f"{int(o['FP']):7d}{int(o['FN']):7d}{'':>7}{'':>7}"
            f"{100 * o['HOTA']:8.2f}{100 * o['DetA']:8.2f}{100 * o['AssA']:8.2f}{100 * o['LocA']:8.2f}"
        )
    lines.append("MOTA/MOTP/IDS/FRAG/FP/FN/MT/ML at the best-MOTA score threshold (AB3DMOT).")
    for cls, why in result.skipped.items():
        lines.append(f"(not evaluated: {cls}: {why})")
    return "\n".join(lines)


def plot_tracking_curves(result: TrackingResult, out_dir: str | Path) -> list[Path]:
    """One PNG per class: MOTA and sMOTA over the sampled recall (AB3DMOT's sAMOTA curves)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for cls, r in result.per_class.items():
        s = r.sweep
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5.0, 3.6))
        ax.plot(s.recalls, s.smota, label=f"sMOTA (sAMOTA {100 * s.samota:.2f})")
        ax.plot(s.recalls, s.mota, label=f"MOTA (AMOTA {100 * s.amota:.2f})")
        ax.plot(s.recalls, s.motp, label=f"MOTP (AMOTP {100 * s.amotp:.2f})", alpha=0.6)
        ax.set_xlim(0, 1)
        ax.set_ylim(min(0.0, min(s.mota, default=0.0)), 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("score")
        ax.set_title(f"{cls}: metrics over recall ({result.config.metric})")
        ax.legend(loc="lower left", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / f"mota_recall_{cls}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend, imported on first plot (it costs ~0.5 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
